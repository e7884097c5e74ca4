/* exec.c - `exec`: start another process inside a created or running
 * container (runc-compatible).
 *
 * The runtime checks the container (its init verified through a pidfd and
 * the recorded start time), builds the process description (spec/exec.c),
 * and clones the process through core/spawn.c: an intermediate process joins
 * every namespace of the init that differs from ours with one setns(2) on the
 * init's pidfd (a chroot into the init's root when the container has no
 * mount namespace) and clones the final process with CLONE_PARENT, born in
 * the v2 cgroup, so that `exec` is its parent and returns its exit status.
 * The runtime moves it into the remaining cgroups before GO; the process then
 * takes the steps every container process takes (core/child.c: v1 cgroups,
 * private procfs, attributes, LSM, seccomp, user and capabilities,
 * close-on-exec), stays non-dumpable until execve, and its errors come back
 * over the sync socket as struct capsa_err; its end is close-on-exec, so EOF
 * on ours means "executed". */
#include "core/container.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/child.h"
#include "core/relay.h"
#include "core/spawn.h"
#include "core/sync.h"
#include "level/level.h"
#include "linux/cgroup.h"
#include "linux/ns.h"
#include "linux/process.h"
#include "linux/rootfs.h"
#include "linux/scmp.h"
#include "linux/terminal.h"
#include "sys/sys.h"
#include "util/util.h"

/* What the exec'd process gets, as memory of the runtime's. */
struct exec_child {
    const struct capsa_spec *spec; /* container config; spec->process is the exec process */
    int sock;                      /* child end of the sync socket */
    int preserve_fds;              /* fds 3..3+N-1 are handed to the process */
    const struct capsa_seccomp_prog *seccomp; /* compiled linux.seccomp, or NULL */
    const struct capsa_cgroup_join *join;     /* v1 "tasks" files to write, or NULL */
    sigset_t sig_ignored;                     /* the runtime's ignored signals */
    struct capsa_sync_log log;
    const struct capsa_level *level; /* the container's isolation level */
    struct capsa_level_child *lc;
};

/* --- the exec'd process --- */

__attribute__((noreturn)) static void child_fail(int sock, struct capsa_err *err)
{
    capsa_sync_send_err(sock, err);
    _exit(127);
}

__attribute__((noreturn)) static void exec_child_main(void *arg)
{
    const struct exec_child *c = arg;
    struct capsa_err err = {0};
    const struct capsa_spec *spec = c->spec;
    const struct capsa_process *p = spec->process;
    int sock = c->sock;

    /* A runtime killed before GO takes us along. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
        capsa_err_set(&err, errno, "prctl(PR_SET_PDEATHSIG)");
        child_fail(sock, &err);
    }
    struct capsa_sync_msg go;
    if (capsa_child_begin(sock, &c->sig_ignored, c->join, NULL, 0, &go, &err) < 0)
        child_fail(sock, &err);
    capsa_sync_msg_clear(&go);

    /* In the container's pid namespace now: a procfs for it, attached
     * nowhere, for every /proc write (the container's /proc may be fake).
     * Only made when something is to be written there (oom_score_adj, LSM
     * labels): a procfs instance is a superblock the common exec does not
     * need. Without it, -1 makes any /proc write fail rather than go to the
     * container's /proc. */
    bool need_proc = p->has_oom_score_adj ||
                     (p->apparmor_profile != NULL && p->apparmor_profile[0] != '\0') ||
                     (p->selinux_label != NULL && p->selinux_label[0] != '\0');
    int procfd = need_proc ? capsa_proc_open_private(&err) : -1;
    if (need_proc && procfd < 0)
        child_fail(sock, &err);
    if (p->terminal) {
        int master = capsa_terminal_open_exec_pty(p->has_console_size ? p->console_height : 0,
                                                  p->has_console_size ? p->console_width : 0,
                                                  p->user.uid, &err);
        if (master < 0)
            child_fail(sock, &err);
        int r = capsa_sync_send(sock, CAPSA_SYNC_CONSOLE, 0, NULL, 0, master, &err);
        close(master);
        if (r < 0)
            child_fail(sock, &err);
    }
    int cwd_fd = -1;
    cleanup_free char *exe = NULL;
    /* The level may start the process itself (vm: a stand-in that has the
     * guest agent run it); then there is no executable to resolve here. */
    bool execs = true;
    if (c->level->child_prepare && c->level->child_prepare(c->lc, &execs, &err) < 0)
        child_fail(sock, &err);
    if (capsa_child_prepare(spec, p, procfd, false, &cwd_fd, execs ? &exe : NULL, &err) < 0)
        child_fail(sock, &err);
    /* A detached process outlives the runtime (before the filter: prctl may
     * not be in its allowlist). */
    prctl(PR_SET_PDEATHSIG, 0);
    capsa_sync_log(&c->log, CAPSA_LOG_DEBUG, "exec process %d: %s %s", (int)getpid(),
                   execs ? "executing" : "starting", execs ? exe : p->args[0]);
    cleanup_strv char **env = NULL;
    if (capsa_child_env(p, 0, &env, &err) < 0)
        child_fail(sock, &err);
    struct capsa_child_confine cf = {
        .p = p,
        .seccomp = c->seccomp,
        .sock = sock,
        .procfd = &procfd,
        .cwd_fd = &cwd_fd,
        .preserve_fds = c->preserve_fds,
        .level = c->level,
        .lc = c->lc,
    };
    if (capsa_child_confine(&cf, &err) < 0)
        child_fail(sock, &err);
    if (!execs) {
        /* The sync socket's EOF tells the runtime that the process runs. */
        capsa_close(&sock);
        c->level->child_start(c->lc, &err); /* returns only on error */
        dprintf(2, "capsa exec: %s\n", err.msg);
        _exit(127);
    }
    capsa_child_execve(p, exe, env, &err);
    child_fail(sock, &err);
}

/* --- the runtime side --- */

struct exec_job {
    const struct capsa_ctx *ctx;
    const struct capsa_exec_opts *o;
    struct capsa_opened c;
    struct capsa_spec *spec; /* stored config, with the exec process */
    int init_pidfd;
    int ns_flags;
    int chroot_fd;
    int sock[2];
    int cgroup_fd;
    struct capsa_cgroup_join join;
    struct capsa_cgroup *sub_cg; /* --cgroup: the sub-cgroups, else NULL */
    struct capsa_seccomp_prog *seccomp;
    char *state_json; /* for a seccomp agent */
    struct exec_child child;
    const struct capsa_level *level;
    struct capsa_level_host lh;
    struct capsa_level_child lc;
    struct capsa_spawn spawn;
    pid_t pid; /* the exec'd process (our child), 0 before it exists */
    int pidfd;
    int console_fd;
};

static void job_release(struct exec_job *x)
{
    capsa_opened_release(&x->c);
    capsa_spec_free(x->spec);
    x->spec = NULL;
    capsa_close(&x->init_pidfd);
    capsa_close(&x->chroot_fd);
    capsa_close(&x->sock[0]);
    capsa_close(&x->sock[1]);
    capsa_close(&x->cgroup_fd);
    capsa_cgroup_join_close(&x->join);
    capsa_cgroup_free(x->sub_cg);
    x->sub_cg = NULL;
    capsa_seccomp_prog_free(x->seccomp);
    x->seccomp = NULL;
    free(x->state_json);
    x->state_json = NULL;
    capsa_close(&x->pidfd);
    capsa_close(&x->console_fd);
    if (x->level && x->level->host_release)
        x->level->host_release(&x->lh);
    capsa_close(&x->lh.pidns_fd);
    capsa_close(&x->lh.child_fd);
    capsa_close(&x->lh.child_aux_fd);
}

/* Kill and reap a process that failed before exec. */
static void job_rollback(struct exec_job *x)
{
    if (x->pidfd >= 0) {
        capsa_pidfd_send_signal(x->pidfd, SIGKILL, 0);
        siginfo_t si;
        memset(&si, 0, sizeof si);
        while (waitid(P_PIDFD, (id_t)x->pidfd, &si, WEXITED) < 0 && errno == EINTR)
            ;
    }
}

/* The container must be created or running; its init, pinned by a pidfd. */
static int open_container(struct exec_job *x, const char *id, struct capsa_err *err)
{
    int r = capsa_container_open(x->ctx, id, CAPSA_OPEN_CGROUP, &x->c, err);
    if (r < 0)
        return r;
    if (x->c.status == CAPSA_STATUS_PAUSED && !x->o->ignore_paused)
        return capsa_err_setx(err, EINVAL,
                              "container %s is paused: resume it, or exec with --ignore-paused "
                              "(the process then starts when it is resumed)",
                              id);
    if (x->c.status != CAPSA_STATUS_CREATED && x->c.status != CAPSA_STATUS_RUNNING &&
        x->c.status != CAPSA_STATUS_PAUSED)
        return capsa_err_setx(err, EINVAL, "container %s is %s", id,
                              capsa_status_name(x->c.status));
    x->init_pidfd = capsa_state_pidfd(&x->c.st);
    if (x->init_pidfd < 0)
        return capsa_err_setx(err, ESRCH, "container %s is stopped", id);
    return 0;
}

/* The process description: the stored config with --process or the flags. */
static int build_process(struct exec_job *x, struct capsa_err *err)
{
    const struct capsa_exec_opts *o = x->o;
    cleanup_free char *raw = NULL;
    size_t len = 0;
    int r = capsa_read_file_at(x->c.dirfd, CAPSA_CONFIG_FILE, 16 << 20, &raw, &len, err);
    if (r < 0)
        return capsa_err_wrap(err, "stored config");
    r = capsa_spec_parse(raw, len, &x->spec, err);
    if (r < 0)
        return capsa_err_wrap(err, "stored config");
    cleanup_free char *proc = NULL;
    cleanup_free char *name = NULL;
    size_t proc_len = 0;
    if (o->process_file) {
        r = capsa_read_file_at(AT_FDCWD, o->process_file, 4 << 20, &proc, &proc_len, err);
        if (r < 0)
            return capsa_err_wrap(err, "--process");
        if ((r = capsa_asprintf(&name, err, "--process %s", o->process_file)) < 0)
            return r;
    }
    r = capsa_spec_exec_process(x->spec, proc, proc_len, name, o, err);
    if (r < 0)
        return r;
    /* What exec was given and cannot honour (unknown or unavailable
     * capabilities), as runc: warned about, skipped. */
    capsa_spec_warnings_report(x->spec, capsa_log_warning_cb, (void *)x->ctx);
    capsa_caps_warn_unavailable(x->spec->process, capsa_log_warning_cb, (void *)x->ctx);
    const struct capsa_process *p = x->spec->process;
    if (p->apparmor_profile && !capsa_lsm_apparmor_enabled())
        return capsa_err_setx(err, ENOTSUP,
                              "apparmor profile: AppArmor is not enabled on this host");
    if (p->selinux_label && !capsa_lsm_selinux_enabled())
        return capsa_err_setx(err, ENOTSUP, "process label: SELinux is not enabled on this host");
    return 0;
}

/* The namespaces to join (every one of the init's that differs from ours),
 * proven to be the init's: they are opened by pid number, so the init must
 * still be that pid, alive, with its recorded start time. And the root to
 * chroot into when the container has no mount namespace of its own. */
static int plan_join(struct exec_job *x, struct capsa_err *err)
{
    const struct capsa_state *st = &x->c.st;
    struct capsa_err e2 = {0};
    int r = capsa_ns_differing(st->pid, &x->ns_flags, &e2);
    unsigned long long start = 0;
    bool dead = false;
    if (capsa_proc_start_time(st->pid, &start, &dead) < 0 || dead || start != st->start)
        return capsa_err_setx(err, ESRCH, "container %s is stopped", st->id);
    if (r < 0) {
        *err = e2;
        return r;
    }
    if (x->ns_flags & CLONE_NEWNS)
        return 0; /* joining its mount namespace sets our root */
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/root", (int)st->pid);
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "open %s", path);
    struct stat theirs, ours;
    if (fstat(fd, &theirs) == 0 && stat("/", &ours) == 0 && theirs.st_dev == ours.st_dev &&
        theirs.st_ino == ours.st_ino) {
        close(fd);
        return 0;
    }
    x->chroot_fd = fd;
    return 0;
}

/* The socket, the seccomp program, the cgroup fds, the spawn description. */
static int prepare(struct exec_job *x, int sfd, struct capsa_err *err)
{
    const struct capsa_exec_opts *o = x->o;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, x->sock) < 0)
        return capsa_err_set(err, errno, "socketpair");
    /* The process clears close-on-exec on 3..3+preserve_fds-1: none of our
     * own fds may sit there (main reserved the range before opening any). */
    int ours[] = {x->c.rootfd,   x->c.dirfd,   x->sock[0], x->sock[1],
                  x->init_pidfd, x->chroot_fd, sfd};
    int r = capsa_check_passed_fds(ours, ARRAY_SIZE(ours), o->preserve_fds, err);
    if (r < 0)
        return r;
    if (o->n_cgroups > 0) {
        if (x->c.cg == NULL)
            return capsa_err_setx(err, EINVAL, "--cgroup: container %s has no cgroup", x->c.st.id);
        if ((r = capsa_cgroup_sub(x->c.cg, o->cgroups, o->n_cgroups, &x->sub_cg, err)) < 0)
            return r;
    }
    const struct capsa_cgroup *cg = x->sub_cg ? x->sub_cg : x->c.cg;
    if (cg && (capsa_cgroup_v2_fd(cg, &x->cgroup_fd, err) < 0 ||
               capsa_cgroup_join_open(cg, &x->join, err) < 0))
        return capsa_err_wrap(err, "cgroup");
    const struct capsa_seccomp *sc = x->spec->linux_cfg.seccomp;
    /* Unknown syscall names are skipped with the same warning as at create:
     * a profile that silently lost a rule is worth a line. */
    if (sc &&
        (r = capsa_seccomp_compile(sc, &x->seccomp, capsa_log_warning_cb, (void *)x->ctx, err)) < 0)
        return r;
    if (sc && sc->listener_path &&
        (r = capsa_state_to_json(&x->c.st, CAPSA_STATUS_RUNNING, false, &x->state_json, err)) < 0)
        return r;
    /* The level's host side (interpose: a connection to the supervisor,
     * which the process hands its filter's listener to). */
    x->lh = (struct capsa_level_host){.level = x->level,
                                      .id = x->c.st.id,
                                      .spec = x->spec,
                                      .state_dirfd = x->c.dirfd,
                                      .cgroup = x->c.st.cgroup,
                                      .exec = true,
                                      .created = x->c.status == CAPSA_STATUS_CREATED,
                                      .pidns_fd = -1,
                                      .child_fd = -1,
                                      .child_aux_fd = -1};
    if (x->level->host_prepare && (r = x->level->host_prepare(&x->lh, err)) < 0)
        return r;
    int level_fds[] = {x->lh.child_fd, x->lh.child_aux_fd};
    if ((r = capsa_check_passed_fds(level_fds, ARRAY_SIZE(level_fds), o->preserve_fds, err)) < 0)
        return r;
    x->lc = (struct capsa_level_child){.id = x->c.st.id,
                                       .spec = x->spec,
                                       .p = x->spec->process,
                                       .exec = true,
                                       .inherited_fds = o->preserve_fds,
                                       .level_fd = x->lh.child_fd,
                                       .aux_fd = x->lh.child_aux_fd,
                                       .prog = x->lh.child_prog,
                                       .priv = x->lh.priv};
    x->child = (struct exec_child){
        .spec = x->spec,
        .sock = x->sock[1],
        .preserve_fds = o->preserve_fds,
        .seccomp = x->seccomp,
        .join = x->join.n > 0 ? &x->join : NULL,
        .log = {.sock = x->ctx->log ? x->sock[1] : -1, .max = x->ctx->log_level},
        .level = x->level,
        .lc = &x->lc,
    };
    capsa_signals_ignored(&x->child.sig_ignored);
    struct capsa_spawn *s = &x->spawn;
    capsa_spawn_init(s);
    /* Always through the intermediate: a pid namespace applies to children. */
    s->share_vm = true;
    s->join_pidfd = x->init_pidfd;
    s->join_flags = x->ns_flags;
    s->chroot_fd = x->chroot_fd;
    s->cgroup_fd = x->cgroup_fd;
    s->child_sock = x->sock[1];
    s->parent_sock = x->sock[0];
    s->close_fds[0] = x->c.dirfd;
    s->close_fds[1] = x->c.rootfd;
    s->close_fds[2] = sfd;
    s->child_main = exec_child_main;
    s->child_arg = &x->child;
    return 0;
}

/* Clone the process, put it in the cgroup, release it, and serve its
 * messages until it executes (EOF) or fails. */
static int spawn(struct exec_job *x, struct capsa_err *err)
{
    int r = capsa_spawn_child(&x->spawn, err);
    capsa_seccomp_prog_free(x->seccomp);
    x->seccomp = NULL;
    capsa_cgroup_join_close(&x->join);
    if (r < 0)
        return r;
    x->pid = x->spawn.pid;
    x->pidfd = x->spawn.pidfd;
    capsa_close(&x->sock[1]);
    capsa_log(x->ctx, CAPSA_LOG_DEBUG, "exec %s: process pid %d", x->c.st.id, (int)x->pid);
    const struct capsa_cgroup *cg = x->sub_cg ? x->sub_cg : x->c.cg;
    if (cg && capsa_cgroup_enter(cg, x->pid, false, !x->spawn.into_cgroup, err) < 0)
        return capsa_err_wrap(err, "cgroup");
    if ((r = capsa_sync_send(x->sock[0], CAPSA_SYNC_GO, 0, NULL, 0, -1, err)) < 0)
        return r;
    const struct capsa_seccomp *sc = x->spec->linux_cfg.seccomp;
    struct capsa_sync_peer peer = {
        .ctx = x->ctx,
        .sock = x->sock[0],
        .who = "exec process",
        .allowed = CAPSA_SYNC_BIT(CAPSA_SYNC_CONSOLE) | CAPSA_SYNC_BIT(CAPSA_SYNC_SECCOMP) |
                   CAPSA_SYNC_BIT(CAPSA_SYNC_LOG),
        .console_socket = x->o->console_socket,
        .console_fd = &x->console_fd,
        .listener_path = sc ? sc->listener_path : NULL,
        .listener_metadata = sc ? sc->listener_metadata : NULL,
        .state_json = x->state_json,
        /* The message's "pid" is this process, "state.pid" the init (runc
         * does the same): the agent must know whose syscalls they are. */
        .process_pid = (int)x->pid,
    };
    return capsa_sync_serve(&peer, 0, err);
}

static int exec_locked(struct exec_job *x, const char *id, int sfd, struct capsa_err *err)
{
    const struct capsa_exec_opts *o = x->o;
    int r = open_container(x, id, err);
    if (r == 0)
        r = build_process(x, err);
    if (r < 0)
        return r;
    x->level = capsa_level_of_state(x->c.st.level);
    if (x->level->exec_allowed && (r = x->level->exec_allowed(id, err)) < 0)
        return r;
    const struct capsa_process *p = x->spec->process;
    if (p->terminal && o->detach && !o->console_socket)
        return capsa_err_setx(err, EINVAL, "--tty with --detach needs --console-socket");
    if (!p->terminal && o->console_socket)
        return capsa_err_setx(err, EINVAL,
                              "--console-socket: the process has no terminal "
                              "(use --tty)");
    if ((r = plan_join(x, err)) < 0 || (r = prepare(x, sfd, err)) < 0)
        return r;
    /* A paused container (--ignore-paused): the process freezes as soon as
     * it is in the cgroup, before it executes. The lock goes first (the
     * child must not inherit it either), or resume could never take it;
     * like runc's exec, this one then holds none. */
    if (x->c.status == CAPSA_STATUS_PAUSED) {
        capsa_close(&x->c.dirfd);
        x->spawn.close_fds[0] = -1;
    }
    if ((r = spawn(x, err)) < 0)
        return r;
    if (o->pid_file)
        return capsa_write_pid_file(o->pid_file, x->pid, err);
    return 0;
}

int capsa_container_exec(const struct capsa_ctx *ctx, const char *id,
                         const struct capsa_exec_opts *opts, int *exit_code, struct capsa_err *err)
{
    *exit_code = 0;
    if (opts->preserve_fds < 0)
        return capsa_err_setx(err, EINVAL, "--preserve-fds: negative");
    struct exec_job x = {.ctx = ctx,
                         .o = opts,
                         .c = {.rootfd = -1, .dirfd = -1},
                         .init_pidfd = -1,
                         .chroot_fd = -1,
                         .sock = {-1, -1},
                         .cgroup_fd = -1,
                         .pidfd = -1,
                         .console_fd = -1,
                         .lh = {.pidns_fd = -1, .child_fd = -1, .child_aux_fd = -1}};
    /* Detached, nothing is forwarded. */
    struct capsa_relay relay = {.sfd = -1};
    if (!opts->detach && capsa_relay_begin(&relay, err) < 0)
        return capsa_err_ret(err);
    /* The runtime holds the container's state and fds: nobody in the
     * container may ptrace it or read its /proc entries while it works. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    int r = exec_locked(&x, id, relay.sfd, err);
    if (r < 0)
        job_rollback(&x);
    if (r == 0 && !opts->detach) {
        /* Do not hold the container's lock while the process runs: kill,
         * state, delete --force and other execs must work meanwhile. */
        capsa_close(&x.c.dirfd);
        capsa_close(&x.sock[0]);
        if (x.console_fd < 0)
            capsa_relay_add_winch(&relay);
        r = capsa_relay_wait(&relay, x.pidfd, &x.console_fd, exit_code, NULL, err);
    }
    job_release(&x);
    capsa_relay_end(&relay);
    return r;
}
