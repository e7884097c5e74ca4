/* pause.c - `capsa pause ID` and `capsa resume ID`. */
#include "simple.h"

static int one_id(struct cli *cli, const char *cmd, int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int i = cli_parse(cli, cmd, "ID", argc, argv, opts, ":h", NULL, NULL);
    if (i < 0)
        return -1;
    if (argc - i != 1) {
        cli_usage_error(cli, cmd, "expects exactly one container ID");
        return -1;
    }
    return i;
}

int cmd_pause(struct cli *cli, int argc, char **argv)
{
    int i = one_id(cli, "pause", argc, argv);
    if (i < 0)
        return 1;
    struct capsa_err err = {0};
    if (capsa_container_pause(&cli->ctx, argv[i], &err) < 0)
        return cli_fail(cli, "pause", &err);
    return 0;
}

int cmd_resume(struct cli *cli, int argc, char **argv)
{
    int i = one_id(cli, "resume", argc, argv);
    if (i < 0)
        return 1;
    struct capsa_err err = {0};
    if (capsa_container_resume(&cli->ctx, argv[i], &err) < 0)
        return cli_fail(cli, "resume", &err);
    return 0;
}
