/* simple.h - argument parsing for commands taking only an ID and a few flags. */
#ifndef CAPSA_CLI_SIMPLE_H
#define CAPSA_CLI_SIMPLE_H

#include <getopt.h>

#include "cli.h"

/* Parse argv with opts/shortopts; each recognised option calls on_opt.
 * Returns the index of the first positional argument or -1 (error printed). */
int cli_parse(struct cli *cli, const char *cmd, const char *usage_line, int argc, char **argv,
              const struct option *opts, const char *shortopts,
              int (*on_opt)(void *data, int c, const char *arg), void *data);

#endif
