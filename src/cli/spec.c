/* spec.c - `capsa spec [--bundle DIR] [--rootless]`: write a default
 * config.json, refusing to overwrite an existing one (as runc does). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "simple.h"

struct spec_opts {
    const char *bundle;
    bool rootless;
};

static int on_opt(void *data, int c, const char *arg)
{
    struct spec_opts *o = data;
    if (c == 'b')
        o->bundle = arg;
    else if (c == 'r')
        o->rootless = true;
    else
        return -1;
    return 0;
}

int cmd_spec(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
                                         {"rootless", no_argument, NULL, 'r'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct spec_opts o = {.bundle = "."};
    int i =
        cli_parse(cli, "spec", "[--bundle DIR] [--rootless]", argc, argv, opts, ":b:h", on_opt, &o);
    if (i < 0)
        return 1;
    if (i != argc)
        return cli_usage_error(cli, "spec", "takes no arguments");
    struct capsa_err err = {0};
    char *json = NULL;
    if (capsa_default_spec(o.rootless, &json, &err) < 0)
        return cli_fail(cli, "spec", &err);
    char path[900];
    int pn = snprintf(path, sizeof path, "%s/config.json", o.bundle);
    if (pn < 0 || (size_t)pn >= sizeof path) {
        free(json);
        return cli_usage_error(cli, "spec", "--bundle: path too long");
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        err.errnum = errno;
        snprintf(err.msg, sizeof err.msg, "%.900s: %s", path,
                 errno == EEXIST ? "File exists (remove it first)" : strerror(errno));
        free(json);
        return cli_fail(cli, "spec", &err);
    }
    size_t len = strlen(json);
    ssize_t w = write(fd, json, len);
    int ok = w == (ssize_t)len && write(fd, "\n", 1) == 1;
    close(fd);
    free(json);
    if (!ok) {
        snprintf(err.msg, sizeof err.msg, "write %.900s failed", path);
        return cli_fail(cli, "spec", &err);
    }
    return 0;
}
