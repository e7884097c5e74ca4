/* create.c - `capsa create ID`, and the option parser shared with `run`. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* systemd socket activation, as runc: LISTEN_FDS=N fds from 3 are ours to
 * pass on when LISTEN_PID names this process (a stale pair inherited from
 * an activated parent names another). Anything malformed means none. */
static int listen_fds(void)
{
    const char *n = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
    if (n == NULL || pid == NULL)
        return 0;
    char *end = NULL;
    long p = strtol(pid, &end, 10);
    if (*pid == '\0' || *end != '\0' || p != (long)getpid())
        return 0;
    long v = strtol(n, &end, 10);
    if (*n == '\0' || *end != '\0' || v < 1 || v > 1024)
        return 0;
    return (int)v;
}

int cli_parse_create_opts(struct cli *cli, const char *cmd, int argc, char **argv,
                          struct capsa_create_opts *o, bool *detach)
{
    static const struct option opts[] = {
        {"bundle", required_argument, NULL, 'b'},
        {"console-socket", required_argument, NULL, 'c'},
        {"pid-file", required_argument, NULL, 'p'},
        {"no-pivot", no_argument, NULL, 'P'},
        {"no-new-keyring", no_argument, NULL, 'K'},
        {"preserve-fds", required_argument, NULL, 'f'},
        {"detach", no_argument, NULL, 'd'},
        {"keep", no_argument, NULL, 'k'},
        {"no-subreaper", no_argument, NULL, 'S'},
        {"config", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, ":b:dh", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            o->bundle = optarg;
            break;
        case 'c':
            o->console_socket = optarg;
            break;
        case 'p':
            o->pid_file = optarg;
            break;
        case 'P':
            o->no_pivot = true;
            break;
        case 'K':
            o->no_new_keyring = true;
            break;
        case 'C':
            o->config = optarg;
            break;
        case 'f': {
            char *end = NULL;
            long v = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || v < 0 || v > 65536)
                return cli_usage_error(cli, cmd, "--preserve-fds: invalid number \"%s\"", optarg),
                       -1;
            o->preserve_fds = (int)v;
            break;
        }
        case 'd':
            if (detach == NULL)
                return cli_usage_error(cli, cmd, "unknown option --detach"), -1;
            *detach = true;
            break;
        case 'k':
            if (detach == NULL)
                return cli_usage_error(cli, cmd, "unknown option --keep"), -1;
            o->keep = true;
            break;
        case 'S':
            break;
        case 'h':
            printf("usage: capsa %s [--bundle DIR] [--console-socket PATH] [--pid-file PATH]\n"
                   "       [--no-pivot] [--no-new-keyring] [--preserve-fds N]%s ID\n",
                   cmd, detach ? " [--detach] [--keep]" : "");
            exit(0);
        case ':':
            return cli_usage_error(cli, cmd, "option %s needs a value", argv[optind - 1]), -1;
        default:
            return cli_usage_error(cli, cmd, "unknown option %s", argv[optind - 1]), -1;
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(cli, cmd, "expects exactly one container ID"), -1;
    o->listen_fds = listen_fds();
    return optind;
}

int cmd_create(struct cli *cli, int argc, char **argv)
{
    struct capsa_create_opts o = {0};
    int i = cli_parse_create_opts(cli, "create", argc, argv, &o, NULL);
    if (i < 0)
        return 1;
    struct capsa_err err = {0};
    if (capsa_container_create(&cli->ctx, argv[i], &o, &err) < 0)
        return cli_fail(cli, "create", &err);
    return 0;
}
