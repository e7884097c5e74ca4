/* delete.c - `capsa delete [--force] ID`. */
#include <stdbool.h>

#include "simple.h"

static int on_opt(void *data, int c, const char *arg)
{
    (void)arg;
    if (c != 'f')
        return -1;
    *(bool *)data = true;
    return 0;
}

int cmd_delete(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"force", no_argument, NULL, 'f'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool force = false;
    int i = cli_parse(cli, "delete", "[--force] ID", argc, argv, opts, ":fh", on_opt, &force);
    if (i < 0)
        return 1;
    if (argc - i != 1)
        return cli_usage_error(cli, "delete", "expects exactly one container ID");
    struct capsa_err err = {0};
    if (capsa_container_delete(&cli->ctx, argv[i], force, &err) < 0)
        return cli_fail(cli, "delete", &err);
    return 0;
}
