/* events.c - `capsa events [--stats] [--interval DURATION] ID`: resource
 * statistics and OOM notifications as JSON lines, in runc's format. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simple.h"

struct ev_opts {
    bool stats;
    unsigned interval_ms;
    bool bad_interval;
};

/* "5s", "500ms", "1m", "2" (seconds). */
static unsigned parse_duration(const char *s, bool *bad)
{
    char *end = NULL;
    double v = strtod(s, &end);
    double mult = 1000;
    if (end == s || v < 0) {
        *bad = true;
        return 0;
    }
    if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        mult = 1000;
    else if (strcmp(end, "m") == 0)
        mult = 60000;
    else {
        *bad = true;
        return 0;
    }
    double ms = v * mult;
    if (ms < 1 || ms > 86400000.0) {
        *bad = true;
        return 0;
    }
    return (unsigned)ms;
}

static int on_opt(void *data, int c, const char *arg)
{
    struct ev_opts *o = data;
    if (c == 's')
        o->stats = true;
    else if (c == 'i')
        o->interval_ms = parse_duration(arg, &o->bad_interval);
    else
        return -1;
    return 0;
}

static int emit(void *opaque, const char *json)
{
    (void)opaque;
    if (puts(json) < 0 || fflush(stdout) != 0)
        return -1;
    return 0;
}

int cmd_events(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"stats", no_argument, NULL, 's'},
                                         {"interval", required_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct ev_opts o = {.interval_ms = 5000};
    int i = cli_parse(cli, "events", "[--stats] [--interval 5s] ID", argc, argv, opts, ":h", on_opt,
                      &o);
    if (i < 0)
        return 1;
    if (o.bad_interval)
        return cli_usage_error(cli, "events", "--interval: invalid duration");
    if (argc - i != 1)
        return cli_usage_error(cli, "events", "expects exactly one container ID");
    struct capsa_err err = {0};
    if (o.stats) {
        char *json = NULL;
        if (capsa_container_stats(&cli->ctx, argv[i], &json, &err) < 0)
            return cli_fail(cli, "events", &err);
        puts(json);
        free(json);
        return 0;
    }
    if (capsa_container_events(&cli->ctx, argv[i], o.interval_ms, emit, NULL, &err) < 0)
        return cli_fail(cli, "events", &err);
    return 0;
}
