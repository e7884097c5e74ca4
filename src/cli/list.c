/* list.c - `capsa list [--format table|json] [--quiet]`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simple.h"

struct list_opts {
    const char *format;
    bool quiet;
};

static int on_opt(void *data, int c, const char *arg)
{
    struct list_opts *o = data;
    if (c == 'f')
        o->format = arg;
    else if (c == 'q')
        o->quiet = true;
    else
        return -1;
    return 0;
}

/* One container's entry of `list --format json`: its full state document, as
 * runc prints it (the rootfs as an absolute path, the annotations). A
 * container deleted since the directory was read is left out. */
static bool print_state(struct cli *cli, const char *id, bool first)
{
    char *json = NULL;
    struct capsa_err err = {0};
    if (capsa_container_state(&cli->ctx, id, &json, &err) < 0)
        return false;
    printf("%s%s", first ? "" : ",", json);
    free(json);
    return true;
}

int cmd_list(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct list_opts o = {.format = "table"};
    int i = cli_parse(cli, "list", "[--format table|json] [--quiet]", argc, argv, opts, ":f:qh",
                      on_opt, &o);
    if (i < 0)
        return 1;
    if (i != argc)
        return cli_usage_error(cli, "list", "takes no arguments");
    bool json = strcmp(o.format, "json") == 0;
    if (!json && strcmp(o.format, "table") != 0)
        return cli_usage_error(cli, "list", "--format: unknown format \"%s\"", o.format);
    struct capsa_list_entry *e = NULL;
    size_t n = 0;
    struct capsa_err err = {0};
    if (capsa_container_list(&cli->ctx, &e, &n, &err) < 0)
        return cli_fail(cli, "list", &err);
    if (o.quiet) {
        for (size_t k = 0; k < n; k++)
            puts(e[k].id);
    } else if (json) {
        if (n == 0) {
            puts("null");
        } else {
            putchar('[');
            bool first = true;
            for (size_t k = 0; k < n; k++)
                if (print_state(cli, e[k].id, first))
                    first = false;
            puts("]");
        }
    } else {
        printf("%-12s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED",
               "OWNER");
        for (size_t k = 0; k < n; k++)
            printf("%-12s %-8d %-10s %-40s %-30s %s\n", e[k].id, e[k].pid, e[k].status,
                   e[k].bundle ? e[k].bundle : "", e[k].created ? e[k].created : "",
                   e[k].owner ? e[k].owner : "");
    }
    capsa_list_free(e, n);
    return 0;
}
