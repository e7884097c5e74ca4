/* kill.c - `capsa kill [--all] ID [SIGNAL]` (default SIGTERM). */
#include <signal.h>
#include <stdbool.h>

#include "simple.h"

static int on_opt(void *data, int c, const char *arg)
{
    (void)arg;
    if (c != 'a')
        return -1;
    *(bool *)data = true;
    return 0;
}

int cmd_kill(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {
        {"all", no_argument, NULL, 'a'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool all = false;
    int i = cli_parse(cli, "kill", "[--all] ID [SIGNAL]", argc, argv, opts, ":ah", on_opt, &all);
    if (i < 0)
        return 1;
    if (argc - i < 1 || argc - i > 2)
        return cli_usage_error(cli, "kill", "expects a container ID and an optional signal");
    int sig = SIGTERM;
    if (argc - i == 2 && capsa_signal_parse(argv[i + 1], &sig) < 0)
        return cli_usage_error(cli, "kill", "unknown signal \"%s\"", argv[i + 1]);
    struct capsa_err err = {0};
    if (capsa_container_kill(&cli->ctx, argv[i], sig, all, &err) < 0)
        return cli_fail(cli, "kill", &err);
    return 0;
}
