/* state.c - `capsa state ID`: the OCI state as JSON. */
#include <stdio.h>
#include <stdlib.h>

#include "simple.h"

int cmd_state(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int i = cli_parse(cli, "state", "ID", argc, argv, opts, ":h", NULL, NULL);
    if (i < 0)
        return 1;
    if (argc - i != 1)
        return cli_usage_error(cli, "state", "expects exactly one container ID");
    struct capsa_err err = {0};
    char *json = NULL;
    if (capsa_container_state(&cli->ctx, argv[i], &json, &err) < 0)
        return cli_fail(cli, "state", &err);
    puts(json);
    free(json);
    return 0;
}
