/* main.c - capsa-agent's entry: settings, PID 1's set-up, the channel, the
 * loop, and the end (containers killed and deleted; as PID 1, power off).
 *
 *   capsa-agent [--config FILE] [--no-init] [--channel-fd N | --channel PATH]
 *               [--port-name NAME] [--root DIR] [--work DIR] [--rootfs-tag TAG]
 *               [--rootfs-dir DIR] [--modules FILE] [--debug]
 *
 * Settings come from /capsa-agent.conf (or --config FILE), lines
 * "name = value" with the long option names (init = false for --no-init),
 * then from the command line. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "util/err.h"
#include "util/util.h"

void agent_log(const struct agent *a, const char *fmt, ...)
{
    char buf[CAPSA_ERR_MSG_MAX + 128];
    int n = snprintf(buf, sizeof buf, "capsa-agent: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    if (a->log_fd >= 0)
        (void)capsa_write_all(a->log_fd, buf, len);
}

static void lib_log(void *opaque, enum capsa_log_level level, const char *msg)
{
    const struct agent *a = opaque;
    agent_log(a, "%s%s", level == CAPSA_LOG_WARNING ? "warning: " : "", msg);
}

static int set_str(char *dst, size_t len, const char *name, const char *v, struct capsa_err *err)
{
    if (strlen(v) >= len)
        return capsa_err_setx(err, ENAMETOOLONG, "%s: \"%s\" is too long", name, v);
    memcpy(dst, v, strlen(v) + 1);
    return 0;
}

static int set_bool(bool *dst, const char *name, const char *v, struct capsa_err *err)
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *dst = true;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *dst = false;
    else
        return capsa_err_setx(err, EINVAL, "%s: \"%s\" is not true or false", name, v);
    return 0;
}

/* One setting by its long option name. */
static int set_opt(struct agent_conf *c, const char *name, const char *v, struct capsa_err *err)
{
    if (strcmp(name, "channel-fd") == 0) {
        int64_t fd = 0;
        if (capsa_parse_int64(v, 0, INT32_MAX, &fd) < 0)
            return capsa_err_setx(err, EINVAL, "channel-fd: \"%s\" is not an fd", v);
        c->channel_fd = (int)fd;
        return 0;
    }
    if (strcmp(name, "init") == 0)
        return set_bool(&c->init, name, v, err);
    if (strcmp(name, "debug") == 0)
        return set_bool(&c->debug, name, v, err);
    static const struct {
        const char *name;
        size_t off, len;
    } strs[] = {
#define S(n, m) {n, offsetof(struct agent_conf, m), sizeof((struct agent_conf *)0)->m}
        S("channel", channel), S("port-name", port_name),   S("root", root),
        S("work", work),       S("rootfs-tag", rootfs_tag), S("rootfs-dir", rootfs_dir),
        S("modules", modules),
#undef S
    };
    for (size_t i = 0; i < ARRAY_SIZE(strs); i++)
        if (strcmp(name, strs[i].name) == 0)
            return set_str((char *)c + strs[i].off, strs[i].len, name, v, err);
    return capsa_err_setx(err, EINVAL, "unknown setting \"%s\"", name);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* The configuration file; a missing default file is no error. */
static int read_conf(struct agent_conf *c, const char *path, bool must, struct capsa_err *err)
{
    cleanup_fclose FILE *f = fopen(path, "re");
    if (f == NULL)
        return (!must && errno == ENOENT) ? 0 : capsa_err_set(err, errno, "open %s", path);
    char line[512];
    for (int no = 1; fgets(line, sizeof line, f); no++) {
        char *l = trim(line);
        if (l[0] == '\0' || l[0] == '#')
            continue;
        char *eq = strchr(l, '=');
        if (eq == NULL)
            return capsa_err_setx(err, EINVAL, "%s:%d: not \"name = value\"", path, no);
        *eq = '\0';
        int r = set_opt(c, trim(l), trim(eq + 1), err);
        if (r < 0)
            return capsa_err_wrap(err, "%s:%d", path, no);
    }
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: capsa-agent [--config FILE] [--no-init] [--channel-fd N | --channel PATH]\n"
          "                   [--port-name NAME] [--root DIR] [--work DIR] [--rootfs-tag TAG]\n"
          "                   [--rootfs-dir DIR] [--modules FILE] [--debug]\n"
          "The vm level's guest agent (docs/vm-protocol.md).\n",
          f);
}

static int parse_args(struct agent_conf *c, int argc, char **argv, struct capsa_err *err)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"no-init", no_argument, NULL, 'n'},
        {"init", no_argument, NULL, 'i'},           {"channel-fd", required_argument, NULL, 0},
        {"channel", required_argument, NULL, 0},    {"port-name", required_argument, NULL, 0},
        {"root", required_argument, NULL, 0},       {"work", required_argument, NULL, 0},
        {"rootfs-tag", required_argument, NULL, 0}, {"rootfs-dir", required_argument, NULL, 0},
        {"modules", required_argument, NULL, 0},    {"debug", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    /* The file first, so that the command line overrides it. */
    const char *conf = NULL;
    for (int i = 1; i < argc - 1; i++)
        if (strcmp(argv[i], "--config") == 0)
            conf = argv[i + 1];
    int r = read_conf(c, conf ? conf : "/capsa-agent.conf", conf != NULL, err);
    if (r < 0)
        return r;
    int ch, idx = 0;
    opterr = 0;
    while ((ch = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
        switch (ch) {
        case 0:
            if ((r = set_opt(c, opts[idx].name, optarg, err)) < 0)
                return r;
            break;
        case 'c':
            break;
        case 'n':
            c->init = false;
            break;
        case 'i':
            c->init = true;
            break;
        case 'd':
            c->debug = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            return capsa_err_setx(err, EINVAL, "unknown or incomplete option \"%s\"",
                                  argv[optind - 1]);
        }
    }
    if (optind < argc)
        return capsa_err_setx(err, EINVAL, "unexpected argument \"%s\"", argv[optind]);
    return 0;
}

static int mkdirs(const struct agent_conf *c, struct capsa_err *err)
{
    const char *dirs[] = {c->root, c->work};
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
        if (mkdir(dirs[i], 0700) < 0 && errno != EEXIST)
            return capsa_err_set(err, errno, "mkdir %s", dirs[i]);
    return 0;
}

static int open_channel(struct agent *a, struct capsa_err *err)
{
    const struct agent_conf *c = &a->conf;
    int fd = c->channel_fd;
    if (fd >= 0) {
        if (fcntl(fd, F_GETFD) < 0)
            return capsa_err_set(err, errno, "--channel-fd %d", fd);
        /* Off 0, 1, 2: those carry the stdio of new container processes. */
        fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            return capsa_err_set(err, errno, "dup --channel-fd");
        if (c->channel_fd > 2)
            close(c->channel_fd);
    } else {
        char path[300];
        if (c->channel[0]) {
            snprintf(path, sizeof path, "%s", c->channel);
        } else {
            int r = guest_find_port(c->port_name, path, sizeof path, err);
            if (r < 0)
                return r;
        }
        fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
            return capsa_err_set(err, errno, "open channel %s", path);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        close(fd);
        return capsa_err_set(err, errno, "channel: O_NONBLOCK");
    }
    a->chan = fd;
    return 0;
}

/* SIGCHLD, and the signals that ask for an orderly end, through a
 * signalfd; SIGPIPE ignored (a process may close its stdin early). The
 * library's children restore all of it before they execute anything. */
static int signals(struct agent *a, struct capsa_err *err)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGPWR);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
        return capsa_err_set(err, errno, "sigprocmask");
    a->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (a->sfd < 0)
        return capsa_err_set(err, errno, "signalfd");
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
        return capsa_err_set(err, errno, "signal(SIGPIPE)");
    return 0;
}

/* The agent's own stdio: /dev/null (the log has its own fd). */
static void null_stdio(void)
{
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return;
    for (int i = 0; i < 3; i++)
        dup2(fd, i);
    close(fd);
}

static int setup(struct agent *a, char **argv, struct capsa_err *err)
{
    int r = capsa_self_protect(argv, err);
    if (r < 0) {
        if (!a->conf.init)
            return r;
        /* In the guest the VM is the boundary; run on, but say so. */
        agent_log(a, "warning: %s", err->msg);
    }
    if (a->conf.init && (r = guest_setup(&a->conf, a, err)) < 0)
        return r;
    if (!a->conf.init && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return capsa_err_set(err, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
    if ((r = mkdirs(&a->conf, err)) < 0 || (r = open_channel(a, err)) < 0 ||
        (r = signals(a, err)) < 0)
        return r;
    null_stdio();
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (a->epfd < 0)
        return capsa_err_set(err, errno, "epoll_create1");
    return 0;
}

int main(int argc, char **argv)
{
    struct agent a = {
        .conf = {.init = getpid() == 1,
                 .channel_fd = -1,
                 .port_name = CAPSA_VM_PORT_NAME,
                 .root = "/run/capsa",
                 .work = "/run/capsa-agent",
                 .rootfs_tag = CAPSA_VM_ROOTFS_TAG,
                 .rootfs_dir = "/run/capsa/bundle/rootfs",
                 .modules = "/modules.order"},
        .log_fd = -1,
        .epfd = -1,
        .sfd = -1,
        .chan = -1,
    };
    /* The log: stderr (the console, as PID 1), on an fd of its own. */
    a.log_fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
    struct capsa_err err = {0};
    int r = parse_args(&a.conf, argc, argv, &err);
    if (r < 0) {
        agent_log(&a, "%s", err.msg);
        if (!a.conf.init)
            return 2;
        guest_power_off(&a);
    }
    a.ctx = (struct capsa_ctx){.root = a.conf.root,
                               .log_level = a.conf.debug ? CAPSA_LOG_DEBUG : CAPSA_LOG_WARNING,
                               .log = lib_log,
                               .log_opaque = &a};
    r = setup(&a, argv, &err);
    if (r == 0)
        r = agent_serve(&a, &err);
    if (r < 0)
        agent_log(&a, "%s", err.msg);
    agent_cleanup(&a);
    capsa_vm_reader_free(&a.rd);
    capsa_vm_buf_free(&a.out);
    if (a.conf.init)
        guest_power_off(&a);
    capsa_close(&a.chan);
    capsa_close(&a.epfd);
    capsa_close(&a.sfd);
    return r < 0 ? 1 : 0;
}
