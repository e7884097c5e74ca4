/* exec.c - `exec`: start another process inside a created or running
 * container (runc-compatible).
 *
 * Three processes, as in create's stage1:
 *   runtime (P)   checks the state, opens the init's namespaces (verified
 *                 through a pidfd and the recorded start time), forks S;
 *   stage1  (S)   setns() into every namespace of the init that differs
 *                 from ours (user first, mount last), then clone3s the final
 *                 process with CLONE_PARENT, so that it is P's own child and
 *                 P can wait for it; a pid namespace only applies to
 *                 children, hence the extra process;
 *   process (F)   born in the v2 cgroup (CLONE_INTO_CGROUP), waits for P's
 *                 GO, moves itself into the v1 cgroups (tasks "0": no
 *                 global lock, see cgroup.h), then applies the process
 *                 attributes and executes.
 * F's errors come back to P as a struct capsa_err over a SOCK_SEQPACKET
 * socketpair (core/sync.h); F's end is close-on-exec, so EOF on P's end
 * means "executed". Until execve F is non-dumpable (no ptrace, no
 * /proc/<pid>/{exe,fd,mem} for the container) and every fd above the
 * preserved range is close-on-exec, so no host fd reaches the container.
 */
#include "core/container.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "core/sync.h"
#include "linux/cgroup.h"
#include "linux/process.h"
#include "linux/rootfs.h"
#include "linux/scmp.h"
#include "linux/terminal.h"
#include "sys/sys.h"
#include "uk/tender.h"
#include "util/util.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* The namespace types an exec'd process joins. S enters all that differ
 * from ours in one setns(2) on the init's pidfd (Linux 5.8): the kernel
 * switches them together, in the right order (user namespace first), and the
 * pidfd pins the init, so no /proc/<pid>/ns path can meanwhile name another
 * process. */
static const struct {
    const char *name;
    int flag;
} ns_order[] = {
    {"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
    {"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP},
    {"time", CLONE_NEWTIME}, {"mnt", CLONE_NEWNS},
};
#define N_NS (sizeof ns_order / sizeof ns_order[0])

struct exec_child {
    const struct capsa_spec *spec; /* container config; spec->process is the exec process */
    int sock;                      /* child end of the sync socketpair */
    int ns_flags;                  /* CLONE_NEW* of the init's namespaces that differ from ours */
    int init_pidfd;                /* the init, for setns(2) */
    int root_fd;                   /* the init's root when it shares our mount namespace, else -1 */
    int preserve_fds;              /* fds 3..3+N-1 are handed to the process */
    int close_fds[6];              /* runtime fds S closes at once (lock, parent sock, ...) */
    const struct capsa_seccomp_prog *seccomp; /* compiled linux.seccomp, or NULL */
    int cgroup_fd;                            /* v2 directory for CLONE_INTO_CGROUP, or -1 */
    const struct capsa_cgroup_join *join;     /* v1 "tasks" files F writes, or NULL */
    sigset_t sig_ignored;                     /* the runtime's ignored signals, reset in F */
};

/* Seccomp for exec'd processes: linux.seccomp of the container applies to
 * them too (a process joining the container must not escape its filter).
 * The program was compiled by the runtime before the fork, outside the
 * container (the process only installs a ready array). Called twice:
 * late == false while still privileged, before the user switch, and
 * late == true right before execve. The filter goes in at one of them:
 *  - with no_new_privs, late (as runc does), notify or not: the runtime's
 *    own setgroups/setresuid/capset/fchdir never meet the filter, so a
 *    notify rule on them cannot leave us waiting on an agent, and a kill
 *    rule on them cannot kill us. The runtime (P) reads our socket until
 *    execve, so a listener fd sent this late still reaches the agent;
 *  - without no_new_privs, early: installing a filter then needs
 *    CAP_SYS_ADMIN, which a non-root user no longer has after the switch. */
static int apply_seccomp(const struct exec_child *c, bool late, struct capsa_err *err)
{
    const struct capsa_seccomp_prog *prog = c->seccomp;
    const struct capsa_process *p = c->spec->process;
    if (prog == NULL)
        return 0;
    if (late != p->no_new_privileges)
        return 0;
    int nfd = -1;
    int r = capsa_seccomp_load(prog, prog->uses_notify ? &nfd : NULL, err);
    if (r < 0 || nfd < 0)
        return r;
    r = capsa_sync_send(c->sock, CAPSA_SYNC_SECCOMP, 0, NULL, 0, nfd, err);
    close(nfd);
    return r;
}

/* --- the final process (F) --- */

__attribute__((noreturn)) static void child_fail(int sock, struct capsa_err *err)
{
    capsa_sync_send_err(sock, err);
    _exit(127);
}

/* A new pty from the container's devpts: runc does not touch /dev/console
 * for exec, so unlike capsa_terminal_setup_console nothing is mounted. The
 * master must be the ptmx character device (5:2), whatever the container
 * placed at /dev/ptmx; the slave is opened from the master (TIOCGPTPEER), so
 * no path in the container can redirect it. Returns the master. */
static int open_exec_pty(const struct capsa_process *p, struct capsa_err *err)
{
    static const char *const paths[] = {"/dev/pts/ptmx", "/dev/ptmx"};
    cleanup_close int master = -1;
    int e = 0;
    for (size_t i = 0; i < ARRAY_SIZE(paths) && master < 0; i++) {
        master = open(paths[i], O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0) {
            e = errno;
            continue;
        }
        struct stat sb;
        if (fstat(master, &sb) < 0 || !S_ISCHR(sb.st_mode) || major(sb.st_rdev) != 5 ||
            minor(sb.st_rdev) != 2) {
            capsa_close(&master);
            e = ENOTTY;
        }
    }
    if (master < 0)
        return capsa_err_set(err, e, "--tty: open the container's /dev/pts/ptmx");
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        return capsa_err_set(err, errno, "--tty: unlock the pty (TIOCSPTLCK)");
    cleanup_close int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (slave < 0)
        return capsa_err_set(err, errno, "--tty: open the pty slave (TIOCGPTPEER)");
    if (p->has_console_size && (p->console_height || p->console_width)) {
        struct winsize ws = {.ws_row = (unsigned short)p->console_height,
                             .ws_col = (unsigned short)p->console_width};
        if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
            return capsa_err_set(err, errno, "process.consoleSize: TIOCSWINSZ");
    }
    /* A new session, so that the slave can become the controlling tty. */
    if (setsid() < 0)
        return capsa_err_set(err, errno, "--tty: setsid");
    if (ioctl(slave, TIOCSCTTY, 0) < 0)
        return capsa_err_set(err, errno, "--tty: TIOCSCTTY");
    for (int fd = 0; fd < 3; fd++) {
        if (dup2(slave, fd) < 0)
            return capsa_err_set(err, errno, "--tty: dup2 the pty slave to fd %d", fd);
    }
    return steal_fd(master);
}

/* Clear close-on-exec on the preserved fds, set it on everything above. */

__attribute__((noreturn)) static void final_main(const struct exec_child *c)
{
    struct capsa_err err = {0};
    const struct capsa_spec *spec = c->spec;
    const struct capsa_process *p = spec->process;
    int sock = c->sock;

    capsa_signals_reset(&c->sig_ignored);
    /* Inherited from the runtime, but said here where it matters: until
     * execve this process runs the runtime's code inside the container. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    /* A runtime killed before GO takes us along. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
        capsa_err_set(&err, errno, "prctl(PR_SET_PDEATHSIG)");
        child_fail(sock, &err);
    }
    /* GO: the runtime is done with us (v2 cgroup, or cgroup.procs where we
     * could not move ourselves); then into the v1 cgroups ourselves. No user
     * code runs before that. */
    struct capsa_sync_msg go;
    if (capsa_sync_expect(sock, CAPSA_SYNC_GO, &go, &err) < 0)
        child_fail(sock, &err);
    capsa_sync_msg_clear(&go);
    if (c->join) {
        if (capsa_cgroup_join_self(c->join, &err) < 0)
            child_fail(sock, &err);
        for (size_t i = 0; i < c->join->n; i++)
            close(c->join->fd[i]);
    }

    /* In the container's pid namespace now: a procfs for it, attached
     * nowhere, for every /proc write (the container's /proc may be fake).
     * Only made when something is to be written there (oom_score_adj, LSM
     * labels): a procfs instance is a superblock the common exec does not
     * need. Without it, -1 makes any /proc write fail rather than go to the
     * container's /proc. */
    bool need_proc = p->has_oom_score_adj ||
                     (p->apparmor_profile != NULL && p->apparmor_profile[0] != '\0') ||
                     (p->selinux_label != NULL && p->selinux_label[0] != '\0');
    cleanup_close int procfd = need_proc ? capsa_proc_open_private(&err) : -1;
    if (need_proc && procfd < 0)
        child_fail(sock, &err);

    if (p->terminal) {
        int master = open_exec_pty(p, &err);
        if (master < 0)
            child_fail(sock, &err);
        int r = capsa_sync_send(sock, CAPSA_SYNC_CONSOLE, 0, NULL, 0, master, &err);
        close(master);
        if (r < 0)
            child_fail(sock, &err);
    }

    if (spec->linux_cfg.has_personality &&
        capsa_process_apply_personality(&spec->linux_cfg.personality, &err) < 0)
        child_fail(sock, &err);
    if (capsa_process_apply_attrs(p, procfd, &err) < 0)
        child_fail(sock, &err);
    const char *cwd = p->cwd ? p->cwd : "/";
    int cwd_fd = capsa_process_enter_cwd(cwd, false, &err);
    if (cwd_fd < 0)
        child_fail(sock, &err);
    cleanup_free char *exe = NULL;
    if (capsa_process_find_exec(p, &exe, &err) < 0)
        child_fail(sock, &err);
    /* Before any filter goes in: close_range may not be in its allowlist. */
    if (capsa_process_prepare_fds(c->preserve_fds, &err) < 0)
        child_fail(sock, &err);
    if (capsa_lsm_apply(p, procfd, &err) < 0)
        child_fail(sock, &err);
    if (apply_seccomp(c, false, &err) < 0)
        child_fail(sock, &err);
    if (capsa_process_switch_user(p, &err) < 0)
        child_fail(sock, &err);
    /* Again as the user: a directory only root could enter is refused now
     * rather than leaving the process somewhere it cannot be. */
    if (fchdir(cwd_fd) < 0 && errno != EACCES) {
        capsa_err_set(&err, errno, "cwd: chdir %s", cwd);
        child_fail(sock, &err);
    }
    close(cwd_fd);
    capsa_close(&procfd);
    /* A detached process outlives the runtime. */
    prctl(PR_SET_PDEATHSIG, 0);
    if (apply_seccomp(c, true, &err) < 0)
        child_fail(sock, &err);
    execve(exe, p->args, p->env ? p->env : (char *[]){NULL});
    char eb[128];
    int e = errno;
    capsa_err_setx(&err, e, "exec: \"%s\": %s", p->args[0], capsa_strerror_lower(e, eb, sizeof eb));
    child_fail(sock, &err);
}

/* --- stage1 (S) --- */

__attribute__((noreturn)) static void stage1_main(struct exec_child *c)
{
    struct capsa_err err = {0};
    for (size_t i = 0; i < ARRAY_SIZE(c->close_fds); i++) {
        if (c->close_fds[i] >= 0)
            close(c->close_fds[i]);
    }
    if (c->ns_flags != 0 && setns(c->init_pidfd, c->ns_flags) < 0) {
        capsa_err_set(&err, errno, "join the container's namespaces (setns on its pidfd)");
        child_fail(c->sock, &err);
    }
    capsa_close(&c->init_pidfd);
    /* Without a mount namespace of its own the container is a chroot. */
    if (c->root_fd >= 0) {
        if (fchdir(c->root_fd) < 0 || chroot(".") < 0) {
            capsa_err_set(&err, errno, "enter the container's root");
            child_fail(c->sock, &err);
        }
        capsa_close(&c->root_fd);
    }
    if (chdir("/") < 0) {
        capsa_err_set(&err, errno, "chdir /");
        child_fail(c->sock, &err);
    }
    /* CLONE_PARENT: the process becomes the runtime's child; it inherits our
     * exit signal (SIGCHLD), clone3 wants 0 here. */
    struct clone_args ca = {.flags = CLONE_PARENT};
    /* Born in the v2 cgroup, as the init was. */
    if (c->cgroup_fd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (uint64_t)c->cgroup_fd;
    }
    pid_t pid = capsa_clone3(&ca);
    if (pid < 0 && c->cgroup_fd >= 0 && (errno == EINVAL || errno == ENOSYS)) {
        ca.flags &= ~CLONE_INTO_CGROUP;
        ca.cgroup = 0;
        pid = capsa_clone3(&ca);
    }
    if (pid < 0) {
        capsa_err_set(&err, errno, "clone the exec process");
        child_fail(c->sock, &err);
    }
    if (pid == 0)
        final_main(c);
    /* The payload tells the runtime whether the v2 cgroup is done. */
    bool placed = (ca.flags & CLONE_INTO_CGROUP) != 0;
    capsa_sync_send(c->sock, CAPSA_SYNC_PID, pid, placed ? "v2" : "", 3, -1, NULL);
    _exit(0);
}

/* clone(2)'s entry for S when it shares our memory (CLONE_VM | CLONE_VFORK):
 * we are suspended until it exits, it calls nothing that allocates. */
static int stage1_entry(void *arg)
{
    stage1_main(arg);
}

/* --- the process description --- */

/* Replace *slot with a heap copy of s (NULL stays NULL). */
static int replace_str(char **slot, const char *s, struct capsa_err *err)
{
    char *copy = NULL;
    if (s && capsa_strdup(s, &copy, err) < 0)
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

static int set_args(struct capsa_process *p, char *const *args, size_t n, struct capsa_err *err)
{
    char **v = calloc(n + 1, sizeof *v);
    if (v == NULL)
        return capsa_err_set(err, ENOMEM, "args");
    for (size_t i = 0; i < n; i++) {
        v[i] = strdup(args[i]);
        if (v[i] == NULL) {
            capsa_strv_free(v);
            return capsa_err_set(err, ENOMEM, "args");
        }
    }
    capsa_strv_free(p->args);
    p->args = v;
    p->n_args = n;
    return 0;
}

/* Append env entries; one whose key (up to '=') is already set replaces it. */
static int add_env(struct capsa_process *p, char *const *env, size_t n, struct capsa_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(env[i], '=');
        if (eq == NULL || eq == env[i])
            return capsa_err_setx(err, EINVAL, "--env \"%s\": expected KEY=VALUE", env[i]);
    }
    /* Copies first, so that nothing below can fail half-way. */
    cleanup_strv char **copies = calloc(n + 1, sizeof *copies);
    if (copies == NULL)
        return capsa_err_set(err, ENOMEM, "--env");
    for (size_t i = 0; i < n; i++) {
        copies[i] = strdup(env[i]);
        if (copies[i] == NULL)
            return capsa_err_set(err, ENOMEM, "--env");
    }
    size_t have = p->env ? capsa_strv_len(p->env) : 0;
    char **v = calloc(have + n + 1, sizeof *v);
    if (v == NULL)
        return capsa_err_set(err, ENOMEM, "--env");
    for (size_t i = 0; i < have; i++)
        v[i] = p->env[i];
    size_t len = have;
    for (size_t i = 0; i < n; i++) {
        size_t klen = (size_t)(strchr(copies[i], '=') - copies[i]) + 1;
        size_t j = 0;
        while (j < len && strncmp(v[j], copies[i], klen) != 0)
            j++;
        if (j < len)
            free(v[j]);
        else
            len++;
        v[j] = copies[i];
        copies[i] = NULL;
    }
    /* The strings now belong to v: free only the old array. */
    free(p->env);
    p->env = v;
    p->n_env = len;
    return 0;
}

static int add_caps(struct capsa_process *p, char *const *caps, size_t n, struct capsa_err *err)
{
    if (n == 0)
        return 0;
    struct capsa_caps *c = &p->capabilities;
    if (!p->has_capabilities) {
        memset(c, 0, sizeof *c);
        p->has_capabilities = true;
    }
    for (size_t i = 0; i < n; i++) {
        char name[64];
        const char *s = caps[i];
        if (strncasecmp(s, "CAP_", 4) != 0) {
            snprintf(name, sizeof name, "CAP_%s", s);
            s = name;
        }
        int cap = capsa_cap_from_name(s);
        if (cap < 0)
            return capsa_err_setx(err, EINVAL, "--cap %s: unknown capability", caps[i]);
        uint64_t bit = 1ULL << cap;
        c->bounding |= bit;
        c->effective |= bit;
        c->permitted |= bit;
        /* Ambient needs the bit in inheritable too; as runc does, raise it
         * only when the process already has inheritable capabilities. */
        if (c->inheritable) {
            c->inheritable |= bit;
            c->ambient |= bit;
        }
    }
    return 0;
}

/* Overrides of runc's exec flags onto the container's process. */
static int apply_flags(struct capsa_process *p, const struct capsa_exec_opts *o,
                       struct capsa_err *err)
{
    int r = 0;
    if (o->n_args > 0 && (r = set_args(p, o->args, o->n_args, err)) < 0)
        return r;
    if (o->cwd && (r = replace_str(&p->cwd, o->cwd, err)) < 0)
        return r;
    if (o->n_env > 0 && (r = add_env(p, o->env, o->n_env, err)) < 0)
        return r;
    /* As runc: --user UID alone keeps the configured gid (not 0), and
     * --additional-gids adds to the configured groups rather than replacing
     * them (a group the config grants is never silently dropped). */
    if (o->has_user) {
        p->user.uid = o->uid;
        if (o->has_gid)
            p->user.gid = o->gid;
    }
    if (o->n_additional_gids > 0) {
        size_t have = p->user.n_additional_gids;
        if (o->n_additional_gids > SIZE_MAX / sizeof(uint32_t) - have)
            return capsa_err_setx(err, EINVAL, "--additional-gids: too many");
        uint32_t *g = calloc(have + o->n_additional_gids, sizeof *g);
        if (g == NULL)
            return capsa_err_set(err, ENOMEM, "--additional-gids");
        if (have > 0)
            memcpy(g, p->user.additional_gids, have * sizeof *g);
        memcpy(g + have, o->additional_gids, o->n_additional_gids * sizeof *g);
        free(p->user.additional_gids);
        p->user.additional_gids = g;
        p->user.n_additional_gids = have + o->n_additional_gids;
    }
    if ((r = add_caps(p, o->caps, o->n_caps, err)) < 0)
        return r;
    if (o->no_new_privs)
        p->no_new_privileges = true;
    if (o->apparmor && (r = replace_str(&p->apparmor_profile, o->apparmor, err)) < 0)
        return r;
    if (o->process_label && (r = replace_str(&p->selinux_label, o->process_label, err)) < 0)
        return r;
    p->terminal = o->tty;
    return 0;
}

/* --process FILE: the file holds a bare process object. It is parsed by the
 * spec parser as the process of a minimal document, so its errors name
 * process.<field> exactly as for config.json. */
static int load_process_file(const char *path, struct capsa_spec *spec, struct capsa_err *err)
{
    cleanup_free char *raw = NULL;
    size_t len = 0;
    int r = capsa_read_file_at(AT_FDCWD, path, 4 << 20, &raw, &len, err);
    if (r < 0)
        return capsa_err_wrap(err, "--process");
    static const char head[] = "{\"ociVersion\":\"1.2.0\",\"process\":";
    size_t total = sizeof head - 1 + len + 2;
    cleanup_free char *doc = malloc(total + 1);
    if (doc == NULL)
        return capsa_err_set(err, ENOMEM, "--process %s", path);
    memcpy(doc, head, sizeof head - 1);
    memcpy(doc + sizeof head - 1, raw, len);
    /* A newline first: a trailing line comment cannot eat the brace. */
    memcpy(doc + sizeof head - 1 + len, "\n}", 3);
    struct capsa_spec *ps = NULL;
    r = capsa_spec_parse(doc, total, &ps, err);
    if (r < 0) {
        /* Syntax errors say "config.json:LINE:COL: ...": name the file. */
        static const char cfg[] = "config.json:";
        if (strncmp(err->msg, cfg, sizeof cfg - 1) != 0)
            return capsa_err_wrap(err, "--process %s", path);
        char rest[CAPSA_ERR_MSG_MAX];
        snprintf(rest, sizeof rest, "%s", err->msg + sizeof cfg - 1);
        return capsa_err_setx(err, err->errnum, "--process %s:%s", path, rest);
    }
    if (ps->process == NULL) {
        capsa_spec_free(ps);
        return capsa_err_setx(err, EINVAL, "--process %s: not a process object", path);
    }
    /* Swap: the container's process is freed with ps. */
    struct capsa_process *tmp = spec->process;
    spec->process = ps->process;
    ps->process = tmp;
    capsa_spec_free(ps);
    return 0;
}

/* A process when the container's config has none (process is optional at
 * create): runc's defaults, cwd "/". */
static int empty_process(struct capsa_spec *spec, struct capsa_err *err)
{
    struct capsa_process *p = calloc(1, sizeof *p);
    if (p == NULL)
        return capsa_err_set(err, ENOMEM, "process");
    spec->process = p;
    return replace_str(&p->cwd, "/", err);
}

static int build_process(int dirfd, const struct capsa_exec_opts *o, struct capsa_spec **out,
                         struct capsa_err *err)
{
    cleanup_free char *raw = NULL;
    size_t len = 0;
    int r = capsa_read_file_at(dirfd, CAPSA_CONFIG_FILE, 16 << 20, &raw, &len, err);
    if (r < 0)
        return capsa_err_wrap(err, "stored config");
    struct capsa_spec *spec = NULL;
    r = capsa_spec_parse(raw, len, &spec, err);
    if (r < 0)
        return capsa_err_wrap(err, "stored config");
    if (o->process_file) {
        r = load_process_file(o->process_file, spec, err);
        if (r == 0 && o->tty)
            spec->process->terminal = true;
    } else {
        if (spec->process == NULL)
            r = empty_process(spec, err);
        if (r == 0)
            r = apply_flags(spec->process, o, err);
    }
    if (r == 0 && (spec->process->args == NULL || spec->process->n_args == 0))
        r = capsa_err_setx(err, EINVAL,
                           "no command: give one after the container ID, or use --process");
    const struct capsa_process *p = spec->process;
    if (r == 0 && p->apparmor_profile && !capsa_lsm_apparmor_enabled())
        r = capsa_err_setx(err, ENOTSUP, "apparmor profile: AppArmor is not enabled on this host");
    if (r == 0 && p->selinux_label && !capsa_lsm_selinux_enabled())
        r = capsa_err_setx(err, ENOTSUP, "process label: SELinux is not enabled on this host");
    if (r < 0) {
        capsa_spec_free(spec);
        return r;
    }
    *out = spec;
    return 0;
}

/* --- the runtime side (P) --- */

/* Open /proc/<pid>/ns/<name> for every namespace that differs from ours.
 * The files are opened by pid number: checking afterwards that this pid is
 * still the init, alive, with its recorded start time proves that they are
 * the init's own (a reused pid would have another start time). */
static int diff_namespaces(const struct capsa_state *st, int *flags, struct capsa_err *err)
{
    char path[64], self[64];
    *flags = 0;
    for (size_t i = 0; i < N_NS; i++) {
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)st->pid, ns_order[i].name);
        snprintf(self, sizeof self, "/proc/self/ns/%s", ns_order[i].name);
        struct stat theirs, ours;
        if (stat(self, &ours) < 0)
            continue; /* a namespace type this kernel does not have */
        if (stat(path, &theirs) < 0) {
            if (errno == ENOENT)
                return capsa_err_setx(err, ESRCH, "container %s is stopped", st->id);
            return capsa_err_set(err, errno, "%s", path);
        }
        if (ours.st_dev != theirs.st_dev || ours.st_ino != theirs.st_ino)
            *flags |= ns_order[i].flag;
    }
    unsigned long long start = 0;
    bool dead = false;
    if (capsa_proc_start_time(st->pid, &start, &dead) < 0 || dead || start != st->start)
        return capsa_err_setx(err, ESRCH, "container %s is stopped", st->id);
    return 0;
}

static void forwarded_set(sigset_t *set)
{
    sigfillset(set);
    /* Not forwarded: our own child's exit, terminal resizes (the relay
     * handles them), job control, synchronous faults. */
    static const int keep[] = {SIGCHLD, SIGWINCH, SIGSEGV, SIGBUS,  SIGFPE,
                               SIGILL,  SIGTRAP,  SIGTSTP, SIGTTIN, SIGTTOU};
    for (size_t i = 0; i < ARRAY_SIZE(keep); i++)
        sigdelset(set, keep[i]);
}

static bool exited(int pidfd)
{
    struct pollfd pp = {.fd = pidfd, .events = POLLIN};
    return poll(&pp, 1, 0) > 0;
}

static void forward_pending(int sfd, int pidfd)
{
    struct signalfd_siginfo si;
    while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
        capsa_pidfd_send_signal(pidfd, (int)si.ssi_signo, 0);
}

/* Wait for the process, forwarding signals and relaying the pty. */
static int wait_exit(int pidfd, int sfd, int *console_fd, struct capsa_err *err)
{
    cleanup_close int ep = -1;
    if (*console_fd >= 0) {
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0)
            return capsa_err_set(err, errno, "epoll_create1");
        struct epoll_event ev = {.events = EPOLLIN};
        ev.data.fd = sfd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
            return capsa_err_set(err, errno, "epoll_ctl");
        ev.data.fd = pidfd;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, pidfd, &ev) < 0)
            return capsa_err_set(err, errno, "epoll_ctl");
    }
    while (!exited(pidfd)) {
        if (*console_fd >= 0) {
            struct capsa_err terr = {0};
            /* Returns on a signal, the exit, or a closed pty; in the last
             * case go on without the terminal. */
            if (capsa_terminal_relay(*console_fd, ep, &terr) < 0 || !exited(pidfd)) {
                struct pollfd pp = {.fd = sfd, .events = POLLIN};
                if (poll(&pp, 1, 0) <= 0)
                    capsa_close(console_fd);
            }
        } else {
            struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
            if (poll(pf, 2, -1) < 0 && errno != EINTR)
                return capsa_err_set(err, errno, "poll");
        }
        forward_pending(sfd, pidfd);
    }
    return 0;
}

struct exec_run {
    int rootfd, dirfd;
    struct capsa_state st;
    struct capsa_spec *spec;
    struct capsa_cgroup *cg;
    int init_pidfd;
    int sock[2];
    int root_fd;
    int ns_flags;
    pid_t pid; /* the exec'd process (our child), 0 before it exists */
    int pidfd;
    int console_fd;
};

static void exec_run_release(struct exec_run *x)
{
    capsa_close(&x->dirfd);
    capsa_close(&x->rootfd);
    capsa_state_clear(&x->st);
    capsa_spec_free(x->spec);
    x->spec = NULL;
    capsa_cgroup_free(x->cg);
    x->cg = NULL;
    capsa_close(&x->init_pidfd);
    capsa_close(&x->sock[0]);
    capsa_close(&x->sock[1]);
    capsa_close(&x->root_fd);
    capsa_close(&x->pidfd);
    capsa_close(&x->console_fd);
}

/* Kill and reap a process that failed before exec. */
static void exec_rollback(struct exec_run *x)
{
    if (x->pidfd >= 0) {
        capsa_pidfd_send_signal(x->pidfd, SIGKILL, 0);
        siginfo_t si;
        memset(&si, 0, sizeof si);
        while (waitid(P_PIDFD, (id_t)x->pidfd, &si, WEXITED) < 0 && errno == EINTR)
            ;
    }
}

static int check_container(const struct capsa_ctx *ctx, const char *id, struct exec_run *x,
                           struct capsa_err *err)
{
    if (!capsa_id_valid(id))
        return capsa_err_setx(err, EINVAL, "invalid container id \"%s\"", id ? id : "");
    int r = capsa_state_root_open(ctx->root, &x->rootfd, err);
    if (r < 0)
        return r;
    r = capsa_state_dir_open(x->rootfd, id, &x->dirfd, err);
    if (r < 0)
        return r;
    r = capsa_state_read(x->dirfd, &x->st, err);
    if (r < 0)
        return capsa_err_wrap(err, "container %s", id);
    enum capsa_status status = capsa_state_status(x->dirfd, &x->st);
    r = capsa_state_cgroup(&x->st, &x->cg, err);
    if (r < 0)
        return r;
    /* The recorded status may lag behind a freeze done by someone else. */
    if (status == CAPSA_STATUS_RUNNING && x->cg && capsa_cgroup_is_frozen(x->cg) == 1)
        status = CAPSA_STATUS_PAUSED;
    if (status != CAPSA_STATUS_CREATED && status != CAPSA_STATUS_RUNNING)
        return capsa_err_setx(err, EINVAL, "container %s is %s", id, capsa_status_name(status));
    x->init_pidfd = capsa_state_pidfd(&x->st);
    if (x->init_pidfd < 0)
        return capsa_err_setx(err, ESRCH, "container %s is stopped", id);
    return 0;
}

/* Fork S, get the final process' pid, put it in the cgroup, release it, and
 * collect its messages until it executes (EOF) or fails. */
static int spawn(const struct capsa_ctx *ctx, const struct capsa_exec_opts *o, struct exec_run *x,
                 int sfd, struct capsa_err *err)
{
    struct exec_child c = {
        .spec = x->spec,
        .sock = x->sock[1],
        .root_fd = x->root_fd,
        .preserve_fds = o->preserve_fds,
        .close_fds = {x->dirfd, x->rootfd, x->sock[0], sfd, -1, -1},
    };
    c.ns_flags = x->ns_flags;
    c.init_pidfd = x->init_pidfd;
    cleanup_close int cgroup_fd = -1;
    struct capsa_cgroup_join join = {.n = 0};
    if (x->cg) {
        struct capsa_err e2 = {0};
        cgroup_fd = capsa_cgroup_v2_fd(x->cg, &e2);
        int jr = capsa_cgroup_join_open(x->cg, &join, err);
        if (jr < 0)
            return capsa_err_wrap(err, "cgroup");
        c.join = join.n > 0 ? &join : NULL;
    }
    c.cgroup_fd = cgroup_fd;
    capsa_signals_ignored(&c.sig_ignored);
    struct capsa_seccomp_prog *prog = NULL;
    if (x->spec->linux_cfg.seccomp) {
        /* Unknown syscall names are skipped with the same warning as at
         * create: a profile that silently lost a rule is worth a line. */
        int sr = capsa_seccomp_compile(x->spec->linux_cfg.seccomp, &prog, capsa_log_warning_cb,
                                       (void *)ctx, err);
        if (sr < 0) {
            capsa_cgroup_join_close(&join);
            return sr;
        }
        c.seccomp = prog;
    }
    pid_t st1;
    if (!(c.ns_flags & (CLONE_NEWUSER | CLONE_NEWTIME))) {
        /* S only joins namespaces and clones F: it shares our memory and
         * runs on its own stack while we wait (as posix_spawn does), which
         * spares copying our address space for it and tearing it down, and
         * the copy-on-write faults that follow in both: about 1 ms on a VM
         * with shadow paging (docs/performance.md). Joining a user or time
         * namespace needs an mm of its own (setns refuses a shared one with
         * EINVAL, EUSERS): fork then. */
        _Alignas(16) char stack[64 * 1024];
        st1 = clone(stage1_entry, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &c);
    } else {
        struct clone_args ca = {.exit_signal = SIGCHLD};
        st1 = capsa_clone3(&ca);
        if (st1 == 0)
            stage1_main(&c);
    }
    capsa_seccomp_prog_free(prog);
    capsa_cgroup_join_close(&join);
    if (st1 < 0)
        return capsa_err_set(err, errno, "clone the namespace-joining process");
    capsa_close(&x->sock[1]);
    struct capsa_sync_msg m;
    int r = capsa_sync_expect(x->sock[0], CAPSA_SYNC_PID, &m, err);
    int status = 0;
    while (waitpid(st1, &status, 0) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return r;
    x->pid = m.value;
    bool v2_placed = m.payload != NULL && strcmp(m.payload, "v2") == 0;
    capsa_sync_msg_clear(&m);
    /* Our child (CLONE_PARENT), not yet reaped: the pid cannot be reused. */
    x->pidfd = capsa_pidfd_open(x->pid, 0);
    if (x->pidfd < 0)
        return capsa_err_set(err, errno, "pidfd_open of the exec process");
    if (x->cg) {
        r = capsa_cgroup_enter(x->cg, x->pid, false, !v2_placed, err);
        if (r < 0)
            return capsa_err_wrap(err, "cgroup");
    }
    r = capsa_sync_send(x->sock[0], CAPSA_SYNC_GO, 0, NULL, 0, -1, err);
    if (r < 0)
        return r;
    for (;;) {
        struct capsa_err e2 = {0};
        r = capsa_sync_recv(x->sock[0], &m, &e2);
        if (r == -EPIPE)
            return 0; /* our end saw the close-on-exec of theirs: executed */
        if (r < 0)
            return capsa_err_setx(err, -r, "%s", e2.msg);
        switch ((enum capsa_sync_type)m.type) {
        case CAPSA_SYNC_CONSOLE:
            if (m.fd < 0) {
                capsa_sync_msg_clear(&m);
                return capsa_err_setx(err, EPROTO, "--tty: no pty received");
            }
            if (o->console_socket) {
                r = capsa_console_socket_send(o->console_socket, m.fd, err);
                capsa_sync_msg_clear(&m);
                if (r < 0)
                    return capsa_err_wrap(err, "--console-socket %s", o->console_socket);
            } else {
                capsa_close(&x->console_fd);
                x->console_fd = steal_fd(m.fd);
                capsa_sync_msg_clear(&m);
            }
            break;
        case CAPSA_SYNC_ERROR:
            return capsa_sync_take_err(&m, "the exec process", err);
        case CAPSA_SYNC_GO:
        case CAPSA_SYNC_PID:
        case CAPSA_SYNC_PREPIVOT:
        case CAPSA_SYNC_PREPIVOT_ACK:
        case CAPSA_SYNC_SECCOMP: {
            const struct capsa_seccomp *sc = x->spec->linux_cfg.seccomp;
            cleanup_free char *json = NULL;
            r = m.fd >= 0 && sc
                    ? capsa_state_to_json(&x->st, CAPSA_STATUS_RUNNING, false, &json, err)
                    : capsa_err_setx(err, EPROTO, "seccomp: no listener fd");
            /* The message's "pid" is this process, "state.pid" the init
             * (runc does the same): the agent must know whose syscalls the
             * notifications on this fd are. */
            if (r == 0)
                r = capsa_seccomp_send_listener_pid(sc->listener_path, sc->listener_metadata, json,
                                                    (int)x->pid, m.fd, err);
            capsa_sync_msg_clear(&m);
            if (r < 0)
                return r;
            break;
        }
        case CAPSA_SYNC_CREATED:
        case CAPSA_SYNC_START:
        default:
            capsa_sync_msg_clear(&m);
            return capsa_err_setx(err, EPROTO, "sync: unexpected message from the exec process");
        }
    }
}

/* Whether the init has a root of its own in our mount namespace (a
 * container without a mount namespace: a chroot). Then S chroots there. */
static int open_chroot(const struct exec_run *x, int *out, struct capsa_err *err)
{
    *out = -1;
    if (x->ns_flags & CLONE_NEWNS)
        return 0; /* joining its mount namespace sets our root */
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/root", (int)x->st.pid);
    int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "open %s", path);
    struct stat theirs, ours;
    if (fstat(fd, &theirs) == 0 && stat("/", &ours) == 0 && theirs.st_dev == ours.st_dev &&
        theirs.st_ino == ours.st_ino) {
        close(fd);
        return 0;
    }
    *out = fd;
    return 0;
}

static int exec_locked(const struct capsa_ctx *ctx, const char *id, const struct capsa_exec_opts *o,
                       struct exec_run *x, int sfd, struct capsa_err *err)
{
    int r = check_container(ctx, id, x, err);
    if (r < 0)
        return r;
    r = build_process(x->dirfd, o, &x->spec, err);
    if (r < 0)
        return r;
    bool unikernel = false;
    r = capsa_uk_wanted(x->spec, &unikernel, err);
    if (r < 0)
        return r;
    if (unikernel)
        return capsa_err_setx(err, ENOTSUP,
                              "exec: container %s runs at the unikernel isolation level: its only "
                              "process is the unikernel, which cannot start others",
                              id);
    const struct capsa_process *p = x->spec->process;
    if (p->terminal && o->detach && !o->console_socket)
        return capsa_err_setx(err, EINVAL, "--tty with --detach needs --console-socket");
    if (!p->terminal && o->console_socket)
        return capsa_err_setx(err, EINVAL,
                              "--console-socket: the process has no terminal "
                              "(use --tty)");
    r = diff_namespaces(&x->st, &x->ns_flags, err);
    if (r < 0)
        return r;
    r = open_chroot(x, &x->root_fd, err);
    if (r < 0)
        return r;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, x->sock) < 0)
        return capsa_err_set(err, errno, "socketpair");
    /* The process clears close-on-exec on 3..3+preserve_fds-1: none of our
     * own fds may sit there (main reserved the range before opening any). */
    int ours[] = {x->rootfd, x->dirfd, x->sock[0], x->sock[1], x->init_pidfd, x->root_fd, sfd};
    for (size_t i = 0; i < ARRAY_SIZE(ours); i++) {
        if (ours[i] >= 3 && ours[i] < 3 + o->preserve_fds)
            return capsa_err_setx(err, EBADF,
                                  "--preserve-fds %d: fd %d is not open in the caller (the "
                                  "runtime's own fd took its place)",
                                  o->preserve_fds, ours[i]);
    }
    r = spawn(ctx, o, x, sfd, err);
    if (r < 0)
        return r;
    if (o->pid_file) {
        r = capsa_write_pid_file(o->pid_file, x->pid, err);
        if (r < 0)
            return r;
    }
    return 0;
}

int capsa_container_exec(const struct capsa_ctx *ctx, const char *id,
                         const struct capsa_exec_opts *opts, int *exit_code, struct capsa_err *err)
{
    *exit_code = 0;
    struct exec_run x = {.rootfd = -1,
                         .dirfd = -1,
                         .init_pidfd = -1,
                         .sock = {-1, -1},
                         .root_fd = -1,
                         .pidfd = -1,
                         .console_fd = -1};
    if (opts->preserve_fds < 0)
        return capsa_err_setx(err, EINVAL, "--preserve-fds: negative");

    /* Block the forwarded signals before the clone and read them through a
     * signalfd, so that none is lost between the clone and the wait; the
     * process resets its mask. Detached, nothing is forwarded. */
    sigset_t fwd, old;
    int sfd = -1;
    if (!opts->detach) {
        forwarded_set(&fwd);
        sigprocmask(SIG_BLOCK, &fwd, &old);
        sfd = signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sfd < 0) {
            int e = errno;
            sigprocmask(SIG_SETMASK, &old, NULL);
            return capsa_err_set(err, e, "signalfd");
        }
    }
    /* The runtime holds the container's state and fds: nobody in the
     * container may ptrace it or read its /proc entries while it works. */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    int r = exec_locked(ctx, id, opts, &x, sfd, err);
    if (r < 0) {
        exec_rollback(&x);
        exec_run_release(&x);
        goto out;
    }
    if (opts->detach) {
        exec_run_release(&x);
        goto out;
    }
    /* Do not hold the container's lock while the process runs: kill, state,
     * delete --force and other execs must work meanwhile. */
    capsa_close(&x.dirfd);
    capsa_close(&x.sock[0]);
    r = wait_exit(x.pidfd, sfd, &x.console_fd, err);
    siginfo_t si;
    memset(&si, 0, sizeof si);
    while (waitid(P_PIDFD, (id_t)x.pidfd, &si, WEXITED) < 0 && errno == EINTR)
        ;
    if (si.si_code == CLD_EXITED)
        *exit_code = si.si_status;
    else if (si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED)
        *exit_code = 128 + si.si_status;
    else
        *exit_code = 255;
    exec_run_release(&x);
out:
    if (sfd >= 0) {
        close(sfd);
        sigprocmask(SIG_SETMASK, &old, NULL);
    }
    return r;
}
