/* run.c - `capsa run ID`: create, start, wait, delete; exits with the
 * container's status (128+N when it was killed by signal N). */
#include "cli.h"

int cmd_run(struct cli *cli, int argc, char **argv)
{
    struct capsa_create_opts o = {0};
    bool detach = false;
    int i = cli_parse_create_opts(cli, "run", argc, argv, &o, &detach);
    if (i < 0)
        return 1;
    struct capsa_err err = {0};
    int code = 0;
    if (capsa_container_run(&cli->ctx, argv[i], &o, detach, &code, &err) < 0)
        return cli_fail(cli, "run", &err);
    return code;
}
