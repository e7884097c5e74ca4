/* main.c - capsa's command line entry: global options (runc-compatible),
 * logging set-up and dispatch to one file per command. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

static void json_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
}

static const char *level_name(enum capsa_log_level l)
{
    switch (l) {
    case CAPSA_LOG_ERROR:
        return "error";
    case CAPSA_LOG_WARNING:
        return "warning";
    case CAPSA_LOG_INFO:
        return "info";
    case CAPSA_LOG_DEBUG:
        return "debug";
    }
    return "info";
}

void cli_log(struct cli *cli, enum capsa_log_level level, const char *msg)
{
    if (level > cli->ctx.log_level)
        return;
    if (cli->log_file) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        char t[64];
        if (strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm) == 0)
            t[0] = '\0';
        if (cli->log_json) {
            fprintf(cli->log_file, "{\"level\":\"%s\",\"msg\":\"", level_name(level));
            json_escape(cli->log_file, msg);
            fprintf(cli->log_file, "\",\"time\":\"%s.%09ldZ\"}\n", t, ts.tv_nsec);
        } else {
            fprintf(cli->log_file, "time=\"%s.%09ldZ\" level=%s msg=\"", t, ts.tv_nsec,
                    level_name(level));
            json_escape(cli->log_file, msg);
            fputs("\"\n", cli->log_file);
        }
        fflush(cli->log_file);
    }
    /* Errors always reach stderr as well: engines that do not read the log
     * file (conmon) show stderr to the user. */
    if (level == CAPSA_LOG_ERROR || !cli->log_file)
        fprintf(stderr, "%s%s\n", level == CAPSA_LOG_WARNING ? "warning: " : "", msg);
}

static void lib_log(void *opaque, enum capsa_log_level level, const char *msg)
{
    cli_log(opaque, level, msg);
}

int cli_fail(struct cli *cli, const char *cmd, const struct capsa_err *err)
{
    char buf[CAPSA_ERR_MSG_MAX + 64];
    snprintf(buf, sizeof buf, "%s: %s", cmd, err->msg[0] ? err->msg : "failed");
    cli_log(cli, CAPSA_LOG_ERROR, buf);
    return 1;
}

int cli_usage_error(struct cli *cli, const char *cmd, const char *fmt, ...)
{
    char msg[512], buf[700];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(buf, sizeof buf, "%s: %s (see '%s %s --help')", cmd, msg, "capsa", cmd);
    cli_log(cli, CAPSA_LOG_ERROR, buf);
    return 1;
}

static void usage(FILE *f)
{
    fputs("usage: capsa [global options] COMMAND [options] [arguments]\n"
          "\n"
          "An OCI container runtime (runc-compatible command line).\n"
          "\n"
          "Commands:\n"
          "  create    create a container (its process waits for start)\n"
          "  exec      run another process inside a created or running container\n"
          "  start     start the process of a created container\n"
          "  run       create and start a container, wait for it, delete it\n"
          "  state     print the state of a container as JSON\n"
          "  kill      send a signal to a container's init (or --all its processes)\n"
          "  delete    delete a container (--force kills it first)\n"
          "  list      list containers (--format table|json, --quiet)\n"
          "  ps        list the processes of a container\n"
          "  update    change the resource limits of a container\n"
          "  pause     freeze every process of a container\n"
          "  resume    thaw a paused container\n"
          "  events    resource statistics and OOM events (--stats: one snapshot)\n"
          "  checkpoint  save a running container's processes with CRIU\n"
          "  restore   a new container from a checkpoint (CRIU)\n"
          "  spec      write a default config.json\n"
          "  features  print the OCI features document\n"
          "\n"
          "Global options:\n"
          "  --root DIR          state directory (default /run/capsa)\n"
          "  --log FILE          write log lines to FILE\n"
          "  --log-format FMT    text or json\n"
          "  --debug             also log debug lines\n"
          "  --systemd-cgroup    let systemd make the cgroup: a transient scope unit;\n"
          "                      linux.cgroupsPath is then slice:prefix:name\n"
          "  --rootless VALUE    accepted for compatibility\n"
          "  --criu PATH         the CRIU binary for checkpoint and restore (default: criu)\n"
          "  --isolation LEVEL   the isolation level of containers whose config has no\n"
          "                      capsa.isolation annotation: native, interpose,\n"
          "                      unikernel or vm (default: from the binary's name\n"
          "                      capsa-LEVEL, else $CAPSA_CONFIG or /etc/capsa/capsa.conf,\n"
          "                      else native)\n"
          "  --allow-tcg         the vm level may run a VM without KVM, in software (TCG):\n"
          "                      no security boundary, for tests (also: allow_tcg = true\n"
          "                      in the configuration file)\n"
          "  -v, --version       print the version\n"
          "  -h, --help          print this help\n",
          f);
}

static const struct {
    const char *name;
    int (*fn)(struct cli *, int, char **);
    bool protect; /* starts processes that end up inside a container */
} commands[] = {
    {"create", cmd_create, true},    {"start", cmd_start, false},
    {"state", cmd_state, false},     {"kill", cmd_kill, false},
    {"delete", cmd_delete, false},   {"run", cmd_run, true},
    {"list", cmd_list, false},       {"ps", cmd_ps, false},
    {"spec", cmd_spec, false},       {"features", cmd_features, false},
    {"update", cmd_update, false},   {"pause", cmd_pause, false},
    {"resume", cmd_resume, false},   {"events", cmd_events, false},
    {"exec", cmd_exec, true},        {"checkpoint", cmd_checkpoint, false},
    {"restore", cmd_restore, false},
};

/* --preserve-fds N hands fds 3..3+N-1 to the container. Any of them that is
 * not open now is filled with /dev/null before we open anything, so that no
 * fd of the runtime's own (log file, state directory, sockets) can land in
 * that range and be passed into the container. */
static void reserve_preserved_fds(int argc, char **argv)
{
    long n = 0;
    for (int i = 1; i < argc && argv[i] != NULL; i++) {
        const char *v = NULL;
        if (strcmp(argv[i], "--preserve-fds") == 0 && i + 1 < argc)
            v = argv[i + 1];
        else if (strncmp(argv[i], "--preserve-fds=", 15) == 0)
            v = argv[i] + 15;
        if (v) {
            char *end = NULL;
            long x = strtol(v, &end, 10);
            if (end && *end == '\0' && x > 0 && x <= 65536)
                n = x;
        }
    }
    for (int fd = 3; fd < 3 + n; fd++) {
        if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int nf = open("/dev/null", O_RDONLY);
        if (nf >= 0 && nf != fd) {
            dup2(nf, fd);
            close(nf);
        }
    }
}

/* Run the command named at argv[optind]; returns the exit status. */
static int dispatch(struct cli *cli, int argc, char **argv)
{
    if (optind >= argc) {
        usage(stderr);
        return 1;
    }
    const char *name = argv[optind];
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) != 0 || commands[i].fn == NULL)
            continue;
        if (commands[i].protect) {
            struct capsa_err err = {0};
            if (capsa_self_protect(argv, &err) < 0)
                return cli_fail(cli, name, &err);
        }
        int argc2 = argc - optind;
        char **argv2 = argv + optind;
        optind = 0; /* full re-initialisation of getopt for the command */
        return commands[i].fn(cli, argc2, argv2);
    }
    char buf[256];
    snprintf(buf, sizeof buf, "capsa: unknown command \"%s\" (see 'capsa --help')", name);
    cli_log(cli, CAPSA_LOG_ERROR, buf);
    return 1;
}

int main(int argc, char **argv)
{
    reserve_preserved_fds(argc, argv);
    struct cli cli = {
        .ctx = {.root = "/run/capsa", .log_level = CAPSA_LOG_WARNING},
        .argv0 = argv[0],
    };
    cli.ctx.log = lib_log;
    cli.ctx.log_opaque = &cli;
    const char *log_format = "text";
    const char *isolation = NULL;
    enum {
        OPT_ROOT = 256,
        OPT_LOG,
        OPT_LOG_FORMAT,
        OPT_LOG_LEVEL,
        OPT_DEBUG,
        OPT_SYSTEMD,
        OPT_ROOTLESS,
        OPT_CRIU,
        OPT_ISOLATION,
        OPT_ALLOW_TCG,
    };
    static const struct option opts[] = {
        {"root", required_argument, NULL, OPT_ROOT},
        {"log", required_argument, NULL, OPT_LOG},
        {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
        {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
        {"debug", no_argument, NULL, OPT_DEBUG},
        {"systemd-cgroup", no_argument, NULL, OPT_SYSTEMD},
        {"rootless", required_argument, NULL, OPT_ROOTLESS},
        {"criu", required_argument, NULL, OPT_CRIU},
        {"isolation", required_argument, NULL, OPT_ISOLATION},
        {"allow-tcg", no_argument, NULL, OPT_ALLOW_TCG},
        {"version", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
        switch (c) {
        case OPT_ROOT:
            cli.ctx.root = optarg;
            break;
        case OPT_LOG:
            cli.log_path = optarg;
            break;
        case OPT_LOG_FORMAT:
            log_format = optarg;
            break;
        case OPT_LOG_LEVEL:
            if (strcmp(optarg, "debug") == 0)
                cli.ctx.log_level = CAPSA_LOG_DEBUG;
            else if (strcmp(optarg, "info") == 0)
                cli.ctx.log_level = CAPSA_LOG_INFO;
            else if (strcmp(optarg, "error") == 0)
                cli.ctx.log_level = CAPSA_LOG_ERROR;
            break;
        case OPT_DEBUG:
            cli.ctx.log_level = CAPSA_LOG_DEBUG;
            break;
        case OPT_SYSTEMD:
            cli.ctx.systemd_cgroup = true;
            break;
        case OPT_ROOTLESS:
            /* runc's values; "auto" means: decide from the euid. */
            if (strcmp(optarg, "true") == 0) {
                cli.ctx.rootless = true;
            } else if (strcmp(optarg, "false") == 0) {
                cli.ctx.rootless = false;
            } else if (strcmp(optarg, "auto") == 0) {
                cli.ctx.rootless = geteuid() != 0;
            } else {
                fprintf(stderr, "capsa: --rootless: invalid value \"%s\" (true, false or auto)\n",
                        optarg);
                return 1;
            }
            break;
        case OPT_CRIU:
            cli.ctx.criu = optarg;
            break;
        case OPT_ISOLATION:
            isolation = optarg;
            break;
        case OPT_ALLOW_TCG:
            cli.ctx.allow_tcg = true;
            break;
        case 'v':
            printf("capsa version %s\ncommit: %s\nspec: 1.2.0\n", capsa_version(), CAPSA_GITREV);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "capsa: unknown global option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 1;
        }
    }
    char level[64];
    if (cli_default_level(argv[0], isolation, level, sizeof level, &cli.ctx.allow_tcg) < 0)
        return 1;
    cli.ctx.default_level = level[0] ? level : NULL;
    /* Unprivileged and no --root: a directory of our own, like runc's
     * $XDG_RUNTIME_DIR/runc. */
    char rootbuf[4096];
    if (geteuid() != 0 && strcmp(cli.ctx.root, "/run/capsa") == 0) {
        const char *xdg = getenv("XDG_RUNTIME_DIR");
        if (xdg && xdg[0] == '/')
            snprintf(rootbuf, sizeof rootbuf, "%s/capsa", xdg);
        else
            snprintf(rootbuf, sizeof rootbuf, "/tmp/capsa-%u", (unsigned int)geteuid());
        cli.ctx.root = rootbuf;
    }
    if (strcmp(log_format, "json") == 0) {
        cli.log_json = true;
    } else if (strcmp(log_format, "text") != 0) {
        fprintf(stderr, "capsa: --log-format: unknown format \"%s\" (text or json)\n", log_format);
        return 1;
    }
    if (cli.log_path) {
        cli.log_file = fopen(cli.log_path, "ae");
        if (cli.log_file == NULL) {
            fprintf(stderr, "capsa: --log %s: %s\n", cli.log_path, strerror(errno));
            return 1;
        }
    }
    /* One exit path from here on, so the log file is always closed. */
    int rc = dispatch(&cli, argc, argv);
    if (cli.log_file)
        (void)fclose(cli.log_file);
    return rc;
}
