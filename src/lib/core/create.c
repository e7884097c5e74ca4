/* create.c - the parent side of `create`: load and check the bundle, make the
 * state directory, clone the init into its namespaces (joining existing ones
 * through an intermediate process), write id maps, run the runtime-namespace
 * hooks, hand the console over, and record the state.
 *
 * A failed create leaves nothing behind: the init (and with it its mount
 * namespace) is killed and the state directory removed. */
#include "core/container.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/init.h"
#include "core/sync.h"
#include "linux/hooks.h"
#include "linux/ns.h"
#include "linux/process.h"
#include "linux/rootfs.h"
#include "linux/scmp.h"
#include "linux/terminal.h"
#include "sys/sys.h"
#include "util/util.h"

void capsa_log(const struct capsa_ctx *ctx, enum capsa_log_level level, const char *fmt, ...)
{
    if (ctx == NULL || ctx->log == NULL || level > ctx->log_level)
        return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_opaque, level, buf);
}

void capsa_log_warning_cb(void *opaque, const char *msg)
{
    capsa_log(opaque, CAPSA_LOG_WARNING, "%s", msg);
}

void capsa_created_release(struct capsa_created *c)
{
    capsa_spec_free(c->spec);
    c->spec = NULL;
    capsa_state_clear(&c->st);
    capsa_close(&c->pidfd);
    capsa_close(&c->sync_fd);
    capsa_close(&c->console_fd);
    capsa_close(&c->dirfd);
    capsa_close(&c->rootfd);
    capsa_cgroup_free(c->cg);
    c->cg = NULL;
}

void capsa_wait_gone(int pidfd, pid_t pid)
{
    (void)pid;
    if (pidfd < 0)
        return;
    /* A pidfd turns readable when its process has exited, child or not.
     * Bounded: a process stuck in the kernel must not hang us forever. */
    struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
    while (poll(&pfd, 1, 30000) < 0 && errno == EINTR)
        ;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG);
}

void capsa_create_rollback(struct capsa_created *c)
{
    if (c->pidfd >= 0) {
        capsa_pidfd_send_signal(c->pidfd, SIGKILL, 0);
        capsa_wait_gone(c->pidfd, c->pid);
    }
    if (c->cg) {
        capsa_cgroup_signal_all(c->cg, SIGKILL, NULL);
        capsa_cgroup_destroy(c->cg, NULL);
    }
    if (c->st.shared_mntns && c->st.rootfs)
        capsa_rootfs_unmount_all(c->st.rootfs, NULL);
    if (c->dirfd >= 0 && c->rootfd >= 0 && c->st.id)
        capsa_state_dir_remove(c->rootfd, c->dirfd, c->st.id, NULL);
}

/* Checks that need the whole spec and the host, before anything is made. */
static int check_spec(const struct capsa_ctx *ctx, const struct capsa_spec *spec,
                      const struct capsa_create_opts *opts, bool run_mode, struct capsa_err *err)
{
    if (ctx->systemd_cgroup)
        return capsa_err_setx(err, ENOTSUP,
                              "--systemd-cgroup: the systemd cgroup manager is not supported yet");
    /* The spec makes process optional at create and required at start
     * (runc and crun refuse it at create). `run` needs it now. */
    if (spec->process == NULL && run_mode)
        return capsa_err_setx(err, EINVAL, "process: required to run a container");
    if (spec->root_path == NULL)
        return capsa_err_setx(err, EINVAL, "root.path: required");
    if (!spec->has_linux)
        return capsa_err_setx(err, EINVAL, "linux: required on Linux");
    const struct capsa_linux *l = &spec->linux_cfg;
    const struct capsa_namespace *user = capsa_spec_namespace(spec, CAPSA_NS_USER);
    if ((l->n_uid_mappings || l->n_gid_mappings) && (user == NULL || user->path))
        return capsa_err_setx(err, EINVAL, "linux.uidMappings: mappings need a new user namespace");
    if (user && !user->path && (l->n_uid_mappings == 0 || l->n_gid_mappings == 0))
        return capsa_err_setx(err, EINVAL,
                              "linux.uidMappings, linux.gidMappings: a new user namespace needs "
                              "both mappings");
    const struct capsa_namespace *uts = capsa_spec_namespace(spec, CAPSA_NS_UTS);
    if ((spec->hostname || spec->domainname) && uts == NULL)
        return capsa_err_setx(err, EINVAL, "%s: setting it needs a UTS namespace",
                              spec->hostname ? "hostname" : "domainname");
    const struct capsa_namespace *tns = capsa_spec_namespace(spec, CAPSA_NS_TIME);
    if ((l->time_monotonic.set || l->time_boottime.set) && (tns == NULL || tns->path))
        return capsa_err_setx(err, EINVAL, "linux.timeOffsets: need a new time namespace");
    static const struct capsa_process none;
    const struct capsa_process *p = spec->process ? spec->process : &none;
    if (p->terminal && !opts->console_socket && !run_mode)
        return capsa_err_setx(err, EINVAL,
                              "process.terminal: --console-socket is required when the "
                              "container has a terminal");
    if (!p->terminal && opts->console_socket)
        return capsa_err_setx(err, EINVAL,
                              "--console-socket: the container has no terminal "
                              "(process.terminal is false)");
    if (p->apparmor_profile && !capsa_lsm_apparmor_enabled())
        return capsa_err_setx(err, ENOTSUP,
                              "process.apparmorProfile: AppArmor is not enabled on this host");
    if (p->selinux_label && !capsa_lsm_selinux_enabled())
        return capsa_err_setx(err, ENOTSUP,
                              "process.selinuxLabel: SELinux is not enabled on this host");
    return capsa_sysctl_validate(spec, err);
}

struct spawn {
    const struct capsa_spec *spec;
    struct capsa_init_args init;
    uint64_t clone_flags; /* new namespaces created at clone time */
    bool stage1;          /* join namespaces / time offsets in an intermediate process */
    int parent_sock;      /* closed in the children */
    int cgroup_fd;        /* v2 directory for CLONE_INTO_CGROUP, or -1 */
    bool into_cgroup;     /* out: clone3 placed the child in cgroup_fd */
};

__attribute__((noreturn)) static void stage1_main(struct spawn *s)
{
    struct capsa_err err = {0};
    for (size_t i = 0; i < ARRAY_SIZE(s->init.close_fds); i++) {
        if (s->init.close_fds[i] >= 0)
            close(s->init.close_fds[i]);
    }
    const struct capsa_linux *l = &s->spec->linux_cfg;
    /* The user namespace first: the others may belong to it. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < l->n_namespaces; i++) {
            const struct capsa_namespace *ns = &l->namespaces[i];
            if (!ns->path || (pass == 0) != (ns->type == CAPSA_NS_USER))
                continue;
            if (capsa_ns_join(ns, i, &err) < 0) {
                capsa_sync_send_err(s->init.sync_fd, &err);
                _exit(1);
            }
        }
    }
    const struct capsa_namespace *tns = capsa_spec_namespace(s->spec, CAPSA_NS_TIME);
    uint64_t flags = s->clone_flags;
    if (tns && !tns->path) {
        /* Offsets can only be written before any process lives in the new
         * time namespace: unshare here, write them, then clone into it. */
        if (unshare(CLONE_NEWTIME) < 0) {
            capsa_err_set(&err, errno, "unshare the time namespace");
            capsa_sync_send_err(s->init.sync_fd, &err);
            _exit(1);
        }
        if (capsa_timens_write_offsets(s->spec, &err) < 0) {
            capsa_sync_send_err(s->init.sync_fd, &err);
            _exit(1);
        }
        flags &= ~(uint64_t)CLONE_NEWTIME;
    }
    /* CLONE_PARENT: the init becomes our parent's child (so `run` can wait for
     * it); it inherits our exit signal (SIGCHLD), clone3 wants 0 here. */
    struct clone_args ca = {.flags = flags | CLONE_PARENT};
    pid_t pid = capsa_clone3(&ca);
    if (pid < 0) {
        capsa_err_set(&err, errno, "clone the container init");
        capsa_sync_send_err(s->init.sync_fd, &err);
        _exit(1);
    }
    if (pid == 0)
        capsa_init_main(&s->init);
    capsa_sync_send(s->init.sync_fd, CAPSA_SYNC_PID, pid, NULL, 0, -1, NULL);
    _exit(0);
}

static int spawn_init(struct spawn *s, pid_t *pid_out, int *pidfd_out, struct capsa_err *err)
{
    if (!s->stage1) {
        int pidfd = -1;
        struct clone_args ca = {.flags = s->clone_flags | CLONE_PIDFD,
                                .pidfd = (uint64_t)(uintptr_t)&pidfd,
                                .exit_signal = SIGCHLD};
        /* Born in its v2 cgroup: not a single instruction runs outside it. */
        if (s->cgroup_fd >= 0) {
            ca.flags |= CLONE_INTO_CGROUP;
            ca.cgroup = (uint64_t)s->cgroup_fd;
        }
        pid_t pid = capsa_clone3(&ca);
        if (pid < 0 && s->cgroup_fd >= 0 && (errno == EINVAL || errno == ENOSYS)) {
            /* Older kernel: the parent writes cgroup.procs before GO instead. */
            ca.flags &= ~CLONE_INTO_CGROUP;
            ca.cgroup = 0;
            pid = capsa_clone3(&ca);
        }
        if (pid < 0)
            return capsa_err_set(err, errno, "clone the container init");
        if (pid == 0) {
            close(s->parent_sock);
            capsa_init_main(&s->init);
        }
        s->into_cgroup = (ca.flags & CLONE_INTO_CGROUP) != 0;
        *pid_out = pid;
        *pidfd_out = pidfd;
        return 0;
    }
    struct clone_args ca = {.exit_signal = SIGCHLD};
    pid_t st1 = capsa_clone3(&ca);
    if (st1 < 0)
        return capsa_err_set(err, errno, "clone the namespace-joining process");
    if (st1 == 0) {
        close(s->parent_sock);
        stage1_main(s);
    }
    struct capsa_sync_msg m;
    int r = capsa_sync_expect(s->parent_sock, CAPSA_SYNC_PID, &m, err);
    int status = 0;
    while (waitpid(st1, &status, 0) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return r;
    pid_t pid = m.value;
    capsa_sync_msg_clear(&m);
    int pidfd = capsa_pidfd_open(pid, 0);
    if (pidfd < 0)
        return capsa_err_set(err, errno, "pidfd_open of the container init");
    *pid_out = pid;
    *pidfd_out = pidfd;
    return 0;
}

/* root.path, relative to the (already resolved, absolute) bundle. */
static int resolve_rootfs(const char *bundle, const struct capsa_spec *spec, char **rootfs_out,
                          struct capsa_err *err)
{
    cleanup_free char *joined = NULL;
    const char *rp = spec->root_path;
    if (rp[0] != '/') {
        int r = capsa_asprintf(&joined, err, "%s/%s", bundle, rp);
        if (r < 0)
            return r;
        rp = joined;
    }
    char *rootfs = realpath(rp, NULL);
    if (rootfs == NULL)
        return capsa_err_set(err, errno, "root.path %s", spec->root_path);
    struct stat sb;
    if (stat(rootfs, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        free(rootfs);
        return capsa_err_setx(err, ENOTDIR, "root.path %s: not a directory", spec->root_path);
    }
    *rootfs_out = rootfs;
    return 0;
}

static int dup_annotations(const struct capsa_spec *spec, struct capsa_state *st,
                           struct capsa_err *err)
{
    if (spec->n_annotations == 0)
        return 0;
    st->annotations = calloc(spec->n_annotations, sizeof *st->annotations);
    if (st->annotations == NULL)
        return capsa_err_set(err, ENOMEM, "annotations");
    for (size_t i = 0; i < spec->n_annotations; i++) {
        st->annotations[i].key = strdup(spec->annotations[i].key);
        st->annotations[i].value = strdup(spec->annotations[i].value);
        st->n_annotations++;
        if (!st->annotations[i].key || !st->annotations[i].value)
            return capsa_err_set(err, ENOMEM, "annotations");
    }
    return 0;
}

/* Make the container's cgroup and apply linux.resources. An unprivileged
 * runtime without delegation goes on without cgroups when no limits were
 * asked for (as runc does rootless), with a warning. */
static int setup_cgroup(const struct capsa_ctx *ctx, const struct capsa_spec *spec, const char *id,
                        struct capsa_cgroup **out, struct capsa_err *err)
{
    *out = NULL;
    const struct capsa_linux *l = &spec->linux_cfg;
    const struct capsa_resources *res = l->has_resources ? &l->resources : NULL;
    struct capsa_cgroup_host host = {0};
    int r = capsa_cgroup_host_load(&host, err);
    if (r == 0)
        r = capsa_cgroup_resolve(&host, l->cgroups_path, id, out, err);
    capsa_cgroup_host_free(&host);
    if (r < 0)
        return r;
    r = capsa_cgroup_create(*out, res, capsa_log_warning_cb, (void *)ctx, err);
    if (r < 0) {
        capsa_cgroup_free(*out);
        *out = NULL;
        bool denied = r == -EACCES || r == -EPERM || r == -EROFS;
        if (geteuid() != 0 && denied &&
            (res == NULL ||
             (!res->has_memory && !res->has_cpu && !res->has_pids && !res->has_blkio &&
              res->n_hugepage_limits == 0 && res->n_unified == 0))) {
            capsa_log(ctx, CAPSA_LOG_DEBUG, "no cgroup for %s (%s): running without one", id,
                      err->msg);
            capsa_err_clear(err);
            return 0;
        }
        return capsa_err_wrap(err, "cgroup");
    }
    return 0;
}

/* Open dir (O_PATH) as seen from the mount namespace of pid: enter it, open,
 * come back. The fd then belongs to that namespace's copy of the mount,
 * which the new mount API requires. We are single-threaded here. */
static int open_in_mntns(pid_t pid, const char *dir, int *out, struct capsa_err *err)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
    cleanup_close int self = open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC);
    cleanup_close int target = open(path, O_RDONLY | O_CLOEXEC);
    cleanup_close int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (self < 0 || target < 0 || cwd < 0)
        return capsa_err_set(err, errno, "open mount namespaces");
    if (setns(target, CLONE_NEWNS) < 0)
        return capsa_err_set(err, errno, "enter the container's mount namespace");
    int fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    int e = errno;
    if (setns(self, CLONE_NEWNS) < 0 || fchdir(cwd) < 0) {
        /* We cannot stay in the container's namespace: give up entirely. */
        if (fd >= 0)
            close(fd);
        return capsa_err_set(err, errno, "return to the runtime's mount namespace");
    }
    if (fd < 0)
        return capsa_err_set(err, e, "open rootfs %s", dir);
    *out = fd;
    return 0;
}

/* The host id that id 0 of the container maps to (0 when unmapped). */
static uint32_t host_id(const struct capsa_idmap *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (m[i].container_id == 0 && m[i].size > 0)
            return m[i].host_id;
    }
    return 0;
}

/* The init closed the sync socket without a word: it died. Say how, and
 * name the likely culprit when it was SIGKILLed with a memory limit set (the
 * OOM killer, a limit too small for even the setup). */
static void explain_init_death(const struct capsa_created *c, const struct capsa_spec *spec,
                               struct capsa_err *err)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    if (c->pidfd < 0 || waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOWAIT) < 0)
        return;
    const struct capsa_resources *res = &spec->linux_cfg.resources;
    if (si.si_code == CLD_KILLED && si.si_status == SIGKILL && spec->linux_cfg.has_resources &&
        res->has_memory && res->memory.has_limit)
        capsa_err_setx(err, EPIPE,
                       "container init was killed (SIGKILL) during setup: "
                       "linux.resources.memory.limit (%lld bytes) is probably too small "
                       "(the OOM killer)",
                       (long long)res->memory.limit);
    else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
        capsa_err_setx(err, EPIPE, "container init was killed by signal %d during setup",
                       si.si_status);
    else if (si.si_code == CLD_EXITED)
        capsa_err_setx(err, EPIPE, "container init exited with status %d during setup",
                       si.si_status);
}

static int message_loop(const struct capsa_ctx *ctx, const struct capsa_create_opts *opts,
                        bool run_mode, struct capsa_created *c, const char *hook_state,
                        struct capsa_err *err)
{
    const struct capsa_spec *spec = c->spec;
    (void)ctx;
    for (;;) {
        struct capsa_sync_msg m;
        int r = capsa_sync_recv(c->sync_fd, &m, err);
        if (r < 0)
            return r;
        switch ((enum capsa_sync_type)m.type) {
        case CAPSA_SYNC_PREPIVOT:
            capsa_sync_msg_clear(&m);
            r = capsa_hooks_run("prestart", spec->hooks.prestart, spec->hooks.n_prestart,
                                hook_state, err);
            if (r == 0)
                r = capsa_hooks_run("createRuntime", spec->hooks.create_runtime,
                                    spec->hooks.n_create_runtime, hook_state, err);
            if (r < 0)
                return r;
            r = capsa_sync_send(c->sync_fd, CAPSA_SYNC_PREPIVOT_ACK, 0, NULL, 0, -1, err);
            if (r < 0)
                return r;
            break;
        case CAPSA_SYNC_CONSOLE:
            if (m.fd < 0) {
                capsa_sync_msg_clear(&m);
                return capsa_err_setx(err, EPROTO, "console: no pty received from init");
            }
            if (opts->console_socket) {
                r = capsa_console_socket_send(opts->console_socket, m.fd, err);
                capsa_sync_msg_clear(&m);
                if (r < 0)
                    return capsa_err_wrap(err, "--console-socket %s", opts->console_socket);
            } else if (run_mode) {
                c->console_fd = steal_fd(m.fd);
                capsa_sync_msg_clear(&m);
            } else {
                capsa_sync_msg_clear(&m);
            }
            break;
        case CAPSA_SYNC_SECCOMP: {
            const struct capsa_seccomp *sc = spec->linux_cfg.seccomp;
            if (m.fd < 0 || sc == NULL) {
                capsa_sync_msg_clear(&m);
                return capsa_err_setx(err, EPROTO, "seccomp: no listener fd received from init");
            }
            r = capsa_seccomp_send_listener(sc->listener_path, sc->listener_metadata, hook_state,
                                            m.fd, err);
            capsa_sync_msg_clear(&m);
            if (r < 0)
                return r;
            break;
        }
        case CAPSA_SYNC_CREATED:
            capsa_sync_msg_clear(&m);
            return 0;
        case CAPSA_SYNC_ERROR:
            return capsa_sync_take_err(&m, "container init", err);
        case CAPSA_SYNC_GO:
        case CAPSA_SYNC_PID:
        case CAPSA_SYNC_PREPIVOT_ACK:
        case CAPSA_SYNC_START:
        default:
            capsa_sync_msg_clear(&m);
            return capsa_err_setx(err, EPROTO, "sync: unexpected message from init");
        }
    }
}

int capsa_create_internal(const struct capsa_ctx *ctx, const char *id,
                          const struct capsa_create_opts *opts, bool run_mode,
                          struct capsa_created *c, struct capsa_err *err)
{
    memset(c, 0, sizeof *c);
    c->rootfd = c->dirfd = c->pidfd = c->sync_fd = c->console_fd = -1;
    if (!capsa_id_valid(id))
        return capsa_err_setx(err, EINVAL,
                              "invalid container id \"%s\": use 1-255 characters from "
                              "[A-Za-z0-9_+.-], not \".\" or \"..\"",
                              id ? id : "");

    /* The bundle: read the config bytes once, parse them, keep a copy. */
    cleanup_free char *bundle = NULL;
    cleanup_free char *rootfs = NULL;
    {
        const char *b = opts->bundle ? opts->bundle : ".";
        bundle = realpath(b, NULL);
        if (bundle == NULL)
            return capsa_err_set(err, errno, "bundle %s", b);
    }
    cleanup_free char *cfgpath = NULL;
    int r;
    if (opts->config)
        r = capsa_strdup(opts->config, &cfgpath, err);
    else
        r = capsa_asprintf(&cfgpath, err, "%s/config.json", bundle);
    if (r < 0)
        return r;
    cleanup_free char *raw = NULL;
    size_t rawlen = 0;
    r = capsa_read_file_at(AT_FDCWD, cfgpath, 16 << 20, &raw, &rawlen, err);
    if (r < 0)
        return r;
    r = capsa_spec_parse(raw, rawlen, &c->spec, err);
    if (r < 0)
        return capsa_err_wrap(err, "%s", cfgpath);
    const struct capsa_spec *spec = c->spec;
    capsa_spec_warnings_report(spec, capsa_log_warning_cb, (void *)ctx);
    capsa_caps_warn_unavailable(spec->process, capsa_log_warning_cb, (void *)ctx);
    r = check_spec(ctx, spec, opts, run_mode, err);
    if (r < 0)
        return r;
    r = resolve_rootfs(bundle, spec, &rootfs, err);
    if (r < 0)
        return r;

    /* Everything with a cleanup attribute is declared before the first
     * goto: jumping past such a declaration would free garbage. */
    cleanup_close int fifo = -1;
    cleanup_close int child_sock = -1;
    cleanup_close int cgroup_fd = -1;
    cleanup_close int rootfs_fd = -1;
    cleanup_free char *hook_state = NULL;
    struct capsa_cgroup_join join = {.n = 0};
    r = capsa_state_root_open(ctx->root, &c->rootfd, err);
    if (r < 0)
        return r;
    r = capsa_state_dir_create(c->rootfd, id, &c->dirfd, err);
    if (r < 0)
        return r;
    /* From here on, failure must undo: capsa_create_rollback. */
    struct capsa_state *st = &c->st;
    if ((r = capsa_strdup(id, &st->id, err)) < 0 ||
        (r = capsa_strdup(spec->oci_version, &st->oci_version, err)) < 0 ||
        (r = capsa_strdup(bundle, &st->bundle, err)) < 0 ||
        (r = capsa_strdup(rootfs, &st->rootfs, err)) < 0 ||
        (r = capsa_timestamp_now(&st->created, err)) < 0 ||
        (r = dup_annotations(spec, st, err)) < 0)
        goto fail;
    st->saved = CAPSA_STATUS_CREATING;
    st->hooks_known = true;
    st->has_poststart = spec->hooks.n_poststart > 0;
    st->has_poststop = spec->hooks.n_poststop > 0;
    const struct capsa_namespace *pidns = capsa_spec_namespace(spec, CAPSA_NS_PID);
    st->new_pidns = pidns && !pidns->path;
    st->shared_mntns = capsa_spec_namespace(spec, CAPSA_NS_MNT) == NULL;
    /* A fresh directory that we hold locked: nobody can see a partial file,
     * so no temporary file and rename (a new inode each) is needed. */
    {
        cleanup_close int cfd = openat(c->dirfd, CAPSA_CONFIG_FILE,
                                       O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        r = cfd < 0 ? -errno : capsa_write_all(cfd, raw, rawlen);
        if (r < 0) {
            r = capsa_err_set(err, -r, "write %s", CAPSA_CONFIG_FILE);
            goto fail;
        }
    }
    r = setup_cgroup(ctx, spec, id, &c->cg, err);
    if (r < 0)
        goto fail;
    if (c->cg) {
        r = capsa_cgroup_encode(c->cg, &st->cgroup, err);
        if (r < 0)
            goto fail;
    }
    r = capsa_state_write(c->dirfd, st, err);
    if (r < 0)
        goto fail;

    if (!run_mode) {
        if (mkfifoat(c->dirfd, CAPSA_FIFO_FILE, 0600) < 0) {
            r = capsa_err_set(err, errno, "create exec fifo");
            goto fail;
        }
        fifo = openat(c->dirfd, CAPSA_FIFO_FILE, O_PATH | O_CLOEXEC);
        if (fifo < 0) {
            r = capsa_err_set(err, errno, "open exec fifo");
            goto fail;
        }
        /* In a new user namespace the init reopens the fifo as the
         * container's root: that host id must own it. */
        const struct capsa_namespace *uns = capsa_spec_namespace(spec, CAPSA_NS_USER);
        if (uns && !uns->path) {
            uid_t hu = host_id(spec->linux_cfg.uid_mappings, spec->linux_cfg.n_uid_mappings);
            gid_t hg = host_id(spec->linux_cfg.gid_mappings, spec->linux_cfg.n_gid_mappings);
            if (fchownat(c->dirfd, CAPSA_FIFO_FILE, hu, hg, AT_SYMLINK_NOFOLLOW) < 0) {
                r = capsa_err_set(err, errno, "chown exec fifo");
                goto fail;
            }
        }
    }
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
        r = capsa_err_set(err, errno, "socketpair");
        goto fail;
    }
    c->sync_fd = sp[0];
    child_sock = sp[1];
    /* The init clears close-on-exec on fds 3..3+preserve_fds-1: none of ours
     * may sit there, or it would reach the container. */
    {
        int ours[] = {c->rootfd, c->dirfd, fifo, sp[0], sp[1]};
        for (size_t i = 0; i < ARRAY_SIZE(ours); i++) {
            if (ours[i] >= 0 && ours[i] < 3 + opts->preserve_fds) {
                r = capsa_err_setx(err, EBADF,
                                   "--preserve-fds %d: fd %d is not open in the caller "
                                   "(the runtime's own fd took its place)",
                                   opts->preserve_fds, ours[i]);
                goto fail;
            }
        }
    }

    if (c->cg) {
        struct capsa_err e2 = {0};
        cgroup_fd = capsa_cgroup_v2_fd(c->cg, &e2);
        r = capsa_cgroup_join_open(c->cg, &join, err);
        if (r < 0) {
            capsa_err_wrap(err, "cgroup");
            goto fail;
        }
    }
    struct spawn s = {.spec = spec, .parent_sock = c->sync_fd, .cgroup_fd = cgroup_fd};
    const struct capsa_linux *l = &spec->linux_cfg;
    bool new_ns[CAPSA_NS_COUNT] = {0};
    /* A joined netns (podman, CNI: namespaces[].path) is as much the
     * container's own as a new one: sysfs must be mounted fresh there too,
     * or the container sees the host's /sys/class/net (runc mounts it fresh
     * and falls back to the host's only on EPERM, as mount.c does). */
    bool joined_netns = false;
    for (size_t i = 0; i < l->n_namespaces; i++) {
        const struct capsa_namespace *ns = &l->namespaces[i];
        if (ns->path) {
            s.stage1 = true;
            if (ns->type == CAPSA_NS_NET)
                joined_netns = true;
            continue;
        }
        new_ns[ns->type] = true;
        if (ns->type == CAPSA_NS_CGROUP)
            continue; /* unshared by the init once it is in its cgroup */
        if (ns->type == CAPSA_NS_TIME && (l->time_monotonic.set || l->time_boottime.set))
            s.stage1 = true;
        s.clone_flags |= (uint64_t)capsa_ns_clone_flag(ns->type);
    }
    s.init = (struct capsa_init_args){
        .spec = spec,
        .id = id,
        .rootfs = rootfs,
        .bundle = bundle,
        .sync_fd = child_sock,
        .fifo_fd = fifo,
        .rootfs_fd = -1,
        .no_pivot = opts->no_pivot,
        .no_new_keyring = opts->no_new_keyring,
        .preserve_fds = opts->preserve_fds,
        .new_userns = new_ns[CAPSA_NS_USER],
        .new_netns = new_ns[CAPSA_NS_NET] || joined_netns,
        .new_cgroupns = new_ns[CAPSA_NS_CGROUP],
        .shared_mntns = st->shared_mntns,
        .close_fds = {c->dirfd, c->rootfd, -1, -1},
        .cg = c->cg,
        .join = join.n > 0 ? &join : NULL,
    };
    capsa_signals_ignored(&s.init.sig_ignored);
    /* Compiled here, before clone: the init gets the program as plain
     * inherited memory and never allocates for it. */
    struct capsa_seccomp_prog *sc_prog = NULL;
    if (spec->linux_cfg.seccomp) {
        r = capsa_seccomp_compile(spec->linux_cfg.seccomp, &sc_prog, capsa_log_warning_cb,
                                  (void *)ctx, err);
        if (r < 0)
            goto fail;
        s.init.seccomp = sc_prog;
    }
    r = spawn_init(&s, &c->pid, &c->pidfd, err);
    capsa_seccomp_prog_free(sc_prog);
    capsa_cgroup_join_close(&join);
    if (r < 0)
        goto fail;
    capsa_close(&child_sock);
    capsa_close(&fifo);

    st->pid = c->pid;
    r = capsa_proc_start_time(c->pid, &st->start, NULL);
    if (r < 0) {
        r = capsa_err_set(err, -r, "read the start time of the container init");
        goto fail;
    }
    /* The pid reaches state.json with CREATED below: until then we hold the
     * lock (no other command looks), and the init dies with us
     * (PR_SET_PDEATHSIG) if we die first. */
    if (new_ns[CAPSA_NS_USER]) {
        r = capsa_idmap_write(c->pid, spec, err);
        if (r < 0)
            goto fail;
    }
    /* Into the cgroup before any user code runs (the init waits for GO): v2
     * already at clone time, v1 by the init itself right after GO; here only
     * what those could not do. */
    if (c->cg) {
        r = capsa_cgroup_enter(c->cg, c->pid, false, !s.into_cgroup, err);
        if (r == 0) {
            const struct capsa_resources *res = &spec->linux_cfg.resources;
            r = capsa_cgroup_devices_apply(c->cg, res->devices, res->n_devices, err);
        }
        if (r < 0) {
            capsa_err_wrap(err, "cgroup");
            goto fail;
        }
    }
    r = capsa_state_to_json(st, CAPSA_STATUS_CREATED, false, &hook_state, err);
    if (r < 0)
        goto fail;
    /* The root of a new user namespace may not be able to walk the host path
     * to the rootfs (a 0700 parent directory): hand it an fd opened by us,
     * inside its mount namespace. */
    if (new_ns[CAPSA_NS_USER] && !st->shared_mntns && geteuid() == 0) {
        r = open_in_mntns(c->pid, rootfs, &rootfs_fd, err);
        if (r < 0)
            goto fail;
    }
    r = capsa_sync_send(c->sync_fd, CAPSA_SYNC_GO, 0, hook_state, strlen(hook_state) + 1, rootfs_fd,
                        err);
    if (r < 0)
        goto fail;
    r = message_loop(ctx, opts, run_mode, c, hook_state, err);
    if (r == -EPIPE)
        explain_init_death(c, spec, err);
    if (r < 0)
        goto fail;
    st->saved = CAPSA_STATUS_CREATED;
    r = capsa_state_write(c->dirfd, st, err);
    if (r < 0)
        goto fail;
    if (opts->pid_file) {
        r = capsa_write_pid_file(opts->pid_file, c->pid, err);
        if (r < 0)
            goto fail;
    }
    return 0;

fail:
    capsa_cgroup_join_close(&join);
    capsa_create_rollback(c);
    capsa_created_release(c);
    return r;
}

int capsa_container_create(const struct capsa_ctx *ctx, const char *id,
                           const struct capsa_create_opts *opts, struct capsa_err *err)
{
    struct capsa_created c;
    int r = capsa_create_internal(ctx, id, opts, false, &c, err);
    if (r < 0)
        return r;
    capsa_created_release(&c);
    return 0;
}
