/* exec.c - `capsa exec [options] ID [COMMAND [ARGS...]]` (runc's flags):
 * run another process in a created or running container. Options come
 * before the ID; everything after the ID is the command. Exits with the
 * process' status (128+N when killed by signal N), or 0 with --detach. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

struct exec_args {
    struct capsa_exec_opts o;
    char **env;
    char **caps;
    char **cgroups;
    uint32_t *gids;
};

static void exec_args_free(struct exec_args *a)
{
    free(a->env);
    free(a->caps);
    free(a->cgroups);
    free(a->gids);
}

/* Append s to a heap vector of borrowed strings. */
static int push(char ***v, size_t *n, char *s)
{
    char **nv = realloc(*v, (*n + 2) * sizeof *nv);
    if (nv == NULL)
        return -1;
    nv[(*n)++] = s;
    nv[*n] = NULL;
    *v = nv;
    return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end = NULL;
    if (*s == '\0' || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v > UINT32_MAX)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

/* --user uid[:gid] (numeric, as runc). */
static int parse_user(const char *s, struct capsa_exec_opts *o)
{
    char buf[64];
    if (strlen(s) >= sizeof buf)
        return -1;
    snprintf(buf, sizeof buf, "%s", s);
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = '\0';
        if (parse_u32(colon + 1, &o->gid) < 0)
            return -1;
        o->has_gid = true;
    }
    if (parse_u32(buf, &o->uid) < 0)
        return -1;
    o->has_user = true;
    return 0;
}

static void usage(void)
{
    printf("usage: capsa exec [options] ID [COMMAND [ARGS...]]\n"
           "  -p, --process FILE       the whole process (OCI JSON) from FILE\n"
           "  -t, --tty                allocate a pseudo-terminal\n"
           "      --console-socket P   send the pty master to the unix socket P\n"
           "  -d, --detach             return once the process runs\n"
           "      --pid-file PATH      write the process' host pid to PATH\n"
           "      --cwd DIR            working directory\n"
           "  -e, --env K=V            set an environment variable (repeatable)\n"
           "  -u, --user UID[:GID]     user and group ids\n"
           "  -g, --additional-gids N  supplementary group (repeatable)\n"
           "  -c, --cap CAP            add a capability (repeatable)\n"
           "      --no-new-privs       set no_new_privs\n"
           "      --apparmor PROFILE   AppArmor profile\n"
           "      --process-label L    SELinux label\n"
           "      --preserve-fds N     pass fds 3..3+N-1\n"
           "      --cgroup [C,...:]P   run in the existing sub-cgroup P of the container's\n"
           "                           (for controllers C only; repeatable)\n"
           "      --ignore-paused      exec into a paused container too (the process\n"
           "                           starts when it is resumed)\n");
}

int cmd_exec(struct cli *cli, int argc, char **argv)
{
    enum {
        OPT_CONSOLE = 256,
        OPT_PIDFILE,
        OPT_CWD,
        OPT_NNP,
        OPT_APPARMOR,
        OPT_LABEL,
        OPT_PRESERVE,
        OPT_IGNORED,
        OPT_IGNORE_PAUSED,
        OPT_CGROUP,
    };
    static const struct option opts[] = {
        {"process", required_argument, NULL, 'p'},
        {"tty", no_argument, NULL, 't'},
        {"console-socket", required_argument, NULL, OPT_CONSOLE},
        {"detach", no_argument, NULL, 'd'},
        {"pid-file", required_argument, NULL, OPT_PIDFILE},
        {"cwd", required_argument, NULL, OPT_CWD},
        {"env", required_argument, NULL, 'e'},
        {"user", required_argument, NULL, 'u'},
        {"additional-gids", required_argument, NULL, 'g'},
        {"cap", required_argument, NULL, 'c'},
        {"no-new-privs", no_argument, NULL, OPT_NNP},
        {"apparmor", required_argument, NULL, OPT_APPARMOR},
        {"process-label", required_argument, NULL, OPT_LABEL},
        {"preserve-fds", required_argument, NULL, OPT_PRESERVE},
        /* runc's flag for a subreaper capsa never uses: nothing to change. */
        {"no-subreaper", no_argument, NULL, OPT_IGNORED},
        {"ignore-paused", no_argument, NULL, OPT_IGNORE_PAUSED},
        {"cgroup", required_argument, NULL, OPT_CGROUP},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct exec_args a = {0};
    size_t n_gids = 0;
    int c, rc = 1;
    /* '+': stop at the ID; the command's own options are not ours. */
    while ((c = getopt_long(argc, argv, "+:p:tde:u:g:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            a.o.process_file = optarg;
            break;
        case 't':
            a.o.tty = true;
            break;
        case OPT_CONSOLE:
            a.o.console_socket = optarg;
            break;
        case 'd':
            a.o.detach = true;
            break;
        case OPT_PIDFILE:
            a.o.pid_file = optarg;
            break;
        case OPT_CWD:
            a.o.cwd = optarg;
            break;
        case 'e':
            if (push(&a.env, &a.o.n_env, optarg) < 0)
                goto oom;
            break;
        case 'u':
            if (parse_user(optarg, &a.o) < 0) {
                cli_usage_error(cli, "exec", "--user: expected UID[:GID], got \"%s\"", optarg);
                goto out;
            }
            break;
        case 'g': {
            uint32_t g;
            if (parse_u32(optarg, &g) < 0) {
                cli_usage_error(cli, "exec", "--additional-gids: invalid gid \"%s\"", optarg);
                goto out;
            }
            uint32_t *ng = realloc(a.gids, (n_gids + 1) * sizeof *ng);
            if (ng == NULL)
                goto oom;
            a.gids = ng;
            a.gids[n_gids++] = g;
            break;
        }
        case 'c':
            if (push(&a.caps, &a.o.n_caps, optarg) < 0)
                goto oom;
            break;
        case OPT_NNP:
            a.o.no_new_privs = true;
            break;
        case OPT_APPARMOR:
            a.o.apparmor = optarg;
            break;
        case OPT_LABEL:
            a.o.process_label = optarg;
            break;
        case OPT_PRESERVE: {
            uint32_t v;
            if (parse_u32(optarg, &v) < 0 || v > 65536) {
                cli_usage_error(cli, "exec", "--preserve-fds: invalid number \"%s\"", optarg);
                goto out;
            }
            a.o.preserve_fds = (int)v;
            break;
        }
        case OPT_IGNORED:
            break;
        case OPT_IGNORE_PAUSED:
            a.o.ignore_paused = true;
            break;
        case OPT_CGROUP:
            if (push(&a.cgroups, &a.o.n_cgroups, optarg) < 0)
                goto oom;
            break;
        case 'h':
            usage();
            rc = 0;
            goto out;
        case ':':
            cli_usage_error(cli, "exec", "option %s needs a value", argv[optind - 1]);
            goto out;
        default:
            cli_usage_error(cli, "exec", "unknown option %s", argv[optind - 1]);
            goto out;
        }
    }
    if (optind >= argc) {
        cli_usage_error(cli, "exec", "expects a container ID");
        goto out;
    }
    const char *id = argv[optind];
    a.o.args = argv + optind + 1;
    a.o.n_args = (size_t)(argc - optind - 1);
    if (a.o.n_args == 0 && a.o.process_file == NULL) {
        cli_usage_error(cli, "exec", "expects a command after the container ID (or --process)");
        goto out;
    }
    a.o.env = a.env;
    a.o.caps = a.caps;
    a.o.cgroups = a.cgroups;
    a.o.additional_gids = a.gids;
    a.o.n_additional_gids = n_gids;
    struct capsa_err err = {0};
    int code = 0;
    if (capsa_container_exec(&cli->ctx, id, &a.o, &code, &err) < 0)
        rc = cli_fail(cli, "exec", &err);
    else
        rc = code;
    goto out;
oom:
    cli_usage_error(cli, "exec", "out of memory");
out:
    exec_args_free(&a);
    return rc;
}
