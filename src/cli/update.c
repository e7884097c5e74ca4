/* update.c - `capsa update [--resources FILE|-] [runc's resource flags] ID`. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static char *read_all(const char *path, size_t *len)
{
    int fd = strcmp(path, "-") == 0 ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= (16u << 20)) {
                free(buf);
                buf = NULL;
                errno = EFBIG;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            free(buf);
            buf = NULL;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *len = n;
    return buf;
}

int cmd_update(struct cli *cli, int argc, char **argv)
{
    static const char *const flags[] = {
        "memory",        "memory-swap", "memory-reservation", "kernel-memory", "kernel-memory-tcp",
        "cpu-shares",    "cpu-quota",   "cpu-period",         "cpu-burst",     "cpu-rt-runtime",
        "cpu-rt-period", "cpu-idle",    "cpuset-cpus",        "cpuset-mems",   "pids-limit",
        "blkio-weight",
    };
    enum {
        N_FLAGS = sizeof flags / sizeof flags[0]
    };
    struct option opts[N_FLAGS + 3];
    for (int i = 0; i < N_FLAGS; i++)
        opts[i] = (struct option){flags[i], required_argument, NULL, 1000 + i};
    opts[N_FLAGS] = (struct option){"resources", required_argument, NULL, 'r'};
    opts[N_FLAGS + 1] = (struct option){"help", no_argument, NULL, 'h'};
    opts[N_FLAGS + 2] = (struct option){NULL, 0, NULL, 0};

    struct capsa_update_opt set[N_FLAGS];
    size_t n = 0;
    const char *resources = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":r:h", opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: capsa update [--resources FILE|-] [--memory N] [--memory-swap N]\n"
                   "       [--cpu-shares N] [--cpu-quota N] [--cpu-period N] [--cpuset-cpus L]\n"
                   "       [--pids-limit N] [--blkio-weight N] ... ID\n");
            return 0;
        }
        if (c == 'r') {
            resources = optarg;
        } else if (c >= 1000 && c < 1000 + N_FLAGS && n < N_FLAGS) {
            set[n].flag = flags[c - 1000];
            set[n].value = optarg;
            n++;
        } else if (c == ':') {
            return cli_usage_error(cli, "update", "option %s needs a value", argv[optind - 1]);
        } else {
            return cli_usage_error(cli, "update", "unknown option %s", argv[optind - 1]);
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(cli, "update", "expects exactly one container ID");
    char *json = NULL;
    size_t len = 0;
    struct capsa_err err = {0};
    if (resources) {
        json = read_all(resources, &len);
        if (json == NULL) {
            err.errnum = errno;
            snprintf(err.msg, sizeof err.msg, "--resources %s: %s", resources, strerror(errno));
            return cli_fail(cli, "update", &err);
        }
    }
    int r = capsa_container_update(&cli->ctx, argv[optind], json, len, set, n, &err);
    free(json);
    if (r < 0)
        return cli_fail(cli, "update", &err);
    return 0;
}
