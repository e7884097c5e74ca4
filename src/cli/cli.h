/* cli.h - shared state of the command line: global options and the one place
 * that prints errors (to stderr and, with --log, to the log file in text or
 * JSON, which containerd and podman parse). */
#ifndef CAPSA_CLI_CLI_H
#define CAPSA_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "capsa/capsa.h"

struct cli {
    struct capsa_ctx ctx;
    const char *log_path;
    bool log_json;
    FILE *log_file;
    const char *argv0;
};

void cli_log(struct cli *cli, enum capsa_log_level level, const char *msg);
/* Print err (prefixed with the command) and return the exit status 1. */
int cli_fail(struct cli *cli, const char *cmd, const struct capsa_err *err);
/* Usage error: message + hint, exit status 1. */
int cli_usage_error(struct cli *cli, const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The default isolation level (config.c): --isolation (flag, or NULL),
 * the binary's name capsa-LEVEL, the configuration file; "" for none.
 * *allow_tcg (--allow-tcg, already set, or the file's allow_tcg = true).
 * -1 after printing why the configuration file cannot be used. */
int cli_default_level(const char *argv0, const char *flag, char *level, size_t size,
                      bool *allow_tcg);

int cmd_create(struct cli *cli, int argc, char **argv);
int cmd_start(struct cli *cli, int argc, char **argv);
int cmd_state(struct cli *cli, int argc, char **argv);
int cmd_kill(struct cli *cli, int argc, char **argv);
int cmd_delete(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_list(struct cli *cli, int argc, char **argv);
int cmd_spec(struct cli *cli, int argc, char **argv);
int cmd_features(struct cli *cli, int argc, char **argv);
int cmd_update(struct cli *cli, int argc, char **argv);
int cmd_pause(struct cli *cli, int argc, char **argv);
int cmd_resume(struct cli *cli, int argc, char **argv);
int cmd_ps(struct cli *cli, int argc, char **argv);
int cmd_events(struct cli *cli, int argc, char **argv);
int cmd_update(struct cli *cli, int argc, char **argv);
int cmd_pause(struct cli *cli, int argc, char **argv);
int cmd_resume(struct cli *cli, int argc, char **argv);
int cmd_ps(struct cli *cli, int argc, char **argv);
int cmd_events(struct cli *cli, int argc, char **argv);
int cmd_exec(struct cli *cli, int argc, char **argv);
int cmd_checkpoint(struct cli *cli, int argc, char **argv);
int cmd_restore(struct cli *cli, int argc, char **argv);

/* Parse the create/run options shared by both commands. Returns the index
 * of the first positional argument, or -1 after printing a usage error. */
int cli_parse_create_opts(struct cli *cli, const char *cmd, int argc, char **argv,
                          struct capsa_create_opts *o, bool *detach);

#endif
