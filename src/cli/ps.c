/* ps.c - `capsa ps [--format table|json] ID [ps options]`: the container's
 * processes; table mode runs the host's ps (default options -ef) and keeps
 * the header and the lines of the container's pids, like runc. A level
 * that lists them itself (vm: the guest's) is printed as it lists them. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "simple.h"

static int on_opt(void *data, int c, const char *arg)
{
    if (c != 'f')
        return -1;
    *(const char **)data = arg;
    return 0;
}

static bool has_pid(const int *pids, size_t n, long pid)
{
    for (size_t i = 0; i < n; i++)
        if (pids[i] == pid)
            return true;
    return false;
}

int cmd_ps(struct cli *cli, int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *format = "table";
    /* "+": ps options after the ID belong to ps. */
    int i = cli_parse(cli, "ps", "[--format table|json] ID [ps options]", argc, argv, opts, "+:f:h",
                      on_opt, &format);
    if (i < 0)
        return 1;
    if (argc - i < 1)
        return cli_usage_error(cli, "ps", "expects a container ID");
    bool json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "table") != 0)
        return cli_usage_error(cli, "ps", "--format: unknown format \"%s\"", format);
    if (json && argc - i > 1)
        return cli_usage_error(cli, "ps", "ps options cannot be used with --format json");
    int *pids = NULL;
    size_t n = 0;
    char *table = NULL;
    struct capsa_err err = {0};
    if (capsa_container_ps(&cli->ctx, argv[i], &pids, &n, &table, &err) < 0)
        return cli_fail(cli, "ps", &err);
    /* The level's own listing (vm: the guest's processes, which the host's
     * ps cannot see): printed as is; ps options have no ps to go to. */
    if (table && !json) {
        free(pids);
        if (argc - i > 1) {
            free(table);
            snprintf(err.msg, sizeof err.msg,
                     "ps options are not supported for this container (its processes are in "
                     "a VM): use --format json or no options");
            return cli_fail(cli, "ps", &err);
        }
        fputs(table, stdout);
        free(table);
        return 0;
    }
    free(table);
    if (json) {
        putchar('[');
        for (size_t k = 0; k < n; k++)
            printf("%s%d", k ? "," : "", pids[k]);
        puts("]");
        free(pids);
        return 0;
    }
    /* Table: ps [options], keep the header and our pids' lines. */
    int nargs = argc - i - 1;
    char **args = calloc((size_t)nargs + 3, sizeof *args);
    if (args == NULL) {
        free(pids);
        return 1;
    }
    args[0] = (char *)"ps";
    if (nargs == 0)
        args[1] = (char *)"-ef";
    for (int k = 0; k < nargs; k++)
        args[1 + k] = argv[i + 1 + k];
    int fds[2];
    if (pipe(fds) < 0) {
        free(args);
        free(pids);
        return 1;
    }
    pid_t child = fork();
    if (child == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execvp("ps", args);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char *line = NULL;
    size_t cap = 0;
    int pid_col = -1, lineno = 0, rc = 0;
    while (f && getline(&line, &cap, f) > 0) {
        if (lineno++ == 0) {
            /* Find the PID column in the header. */
            char *copy = strdup(line), *save = NULL;
            int col = 0;
            for (char *t = strtok_r(copy, " \t\n", &save); t;
                 t = strtok_r(NULL, " \t\n", &save), col++)
                if (strcmp(t, "PID") == 0)
                    pid_col = col;
            free(copy);
            fputs(line, stdout);
            if (pid_col < 0) {
                snprintf(err.msg, sizeof err.msg, "ps: no PID column in ps output");
                rc = cli_fail(cli, "ps", &err);
                break;
            }
            continue;
        }
        char *copy = strdup(line), *save = NULL;
        char *t = strtok_r(copy, " \t\n", &save);
        for (int col = 0; t && col < pid_col; col++)
            t = strtok_r(NULL, " \t\n", &save);
        if (t && has_pid(pids, n, strtol(t, NULL, 10)))
            fputs(line, stdout);
        free(copy);
    }
    free(line);
    if (f)
        (void)fclose(f); /* read-only stream: nothing to flush */
    int status = 0;
    waitpid(child, &status, 0);
    free(args);
    free(pids);
    if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
        snprintf(err.msg, sizeof err.msg, "ps exited with an error");
        return cli_fail(cli, "ps", &err);
    }
    return rc;
}
