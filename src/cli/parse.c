/* parse.c - shared getopt loop for the small commands. */
#include <stdio.h>
#include <stdlib.h>

#include "simple.h"

int cli_parse(struct cli *cli, const char *cmd, const char *usage_line, int argc, char **argv,
              const struct option *opts, const char *shortopts,
              int (*on_opt)(void *data, int c, const char *arg), void *data)
{
    int c;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        if (c == 'h') {
            printf("usage: capsa %s %s\n", cmd, usage_line);
            exit(0);
        }
        if (c == ':')
            return cli_usage_error(cli, cmd, "option %s needs a value", argv[optind - 1]), -1;
        if (c == '?' || on_opt == NULL || on_opt(data, c, optarg) < 0)
            return cli_usage_error(cli, cmd, "invalid option %s", argv[optind - 1]), -1;
    }
    return optind;
}
