/* start.c - `capsa start ID`. */
#include "simple.h"

int cmd_start(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int i = cli_parse(cli, "start", "ID", argc, argv, opts, ":h", NULL, NULL);
    if (i < 0)
        return 1;
    if (argc - i != 1)
        return cli_usage_error(cli, "start", "expects exactly one container ID");
    struct capsa_err err = {0};
    if (capsa_container_start(&cli->ctx, argv[i], &err) < 0)
        return cli_fail(cli, "start", &err);
    return 0;
}
