/* init.c - the container init process (child side of create).
 *
 * Order of work, and why:
 *  1. PR_SET_PDEATHSIG so that a create killed half-way takes its init along.
 *  2. Wait for GO: the parent has written uid/gid maps (we may be in a new
 *     user namespace) and sends the hook state JSON. Then move ourselves into
 *     the v1 cgroups (cheaper for the kernel than the parent moving us).
 *  3. cgroup namespace (after the parent placed us), keyring, hostname.
 *  4. Mounts while host paths are still reachable; then PREPIVOT so that the
 *     parent runs prestart/createRuntime hooks in the runtime namespace.
 *  5. createContainer hooks (host paths, before pivot_root, as the spec
 *     says); pivot_root; sysctl and other /proc writes go through a private,
 *     detached procfs that the container cannot tamper with.
 *  6. Console, masked/readonly paths, read-only root.
 *  7. CREATED; wait for start (exec fifo, or SYNC_START for `run`).
 *  8. startContainer hooks, LSM labels, user/capabilities/no_new_privs,
 *     close every fd but stdio and preserved ones, seccomp, execve.
 *     A seccomp filter with a listener must go in before CREATED (its fd
 *     travels over the sync socket); with no_new_privs the work of step 8
 *     up to seccomp then moves before CREATED too, as in runc, so that the
 *     runtime's own calls never pass through the filter (see below).
 * Every fd the runtime opens is O_CLOEXEC, and before exec all fds above the
 * preserved range are marked close-on-exec, so no host fd reaches the
 * container (CVE-2024-21626 class).
 */
#include "core/init.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/sync.h"
#include "linux/cgroup.h"
#include "linux/hooks.h"
#include "linux/process.h"
#include "linux/rootfs.h"
#include "linux/scmp.h"
#include "linux/terminal.h"
#include "sys/sys.h"
#include "uk/tender.h"
#include "util/util.h"

#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

struct init_ctx {
    const struct capsa_init_args *a;
    int procfd;
    int start_fd; /* the opened exec fifo (write end) once start came */
    int cwd_fd;   /* process.cwd, resolved in root (O_PATH), until the user switch */
    char *hook_state;
};

/* Report err where somebody listens: the fifo after start (the `start`
 * command reads it), the sync socket before. */
__attribute__((noreturn)) static void fail(struct init_ctx *c, struct capsa_err *err)
{
    if (c->start_fd >= 0) {
        const char *m = err->msg[0] ? err->msg : "container init failed";
        capsa_write_all(c->start_fd, m, strlen(m));
    } else {
        capsa_sync_send_err(c->a->sync_fd, err);
    }
    _exit(127);
}

static int setup_hostname(const struct capsa_spec *spec, struct capsa_err *err)
{
    if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
        return capsa_err_set(err, errno, "hostname: sethostname %s", spec->hostname);
    if (spec->domainname && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
        return capsa_err_set(err, errno, "domainname: setdomainname %s", spec->domainname);
    return 0;
}

static int wait_for_start(struct init_ctx *c, struct capsa_err *err)
{
    const struct capsa_init_args *a = c->a;
    if (a->fifo_fd < 0) {
        struct capsa_sync_msg m;
        int r = capsa_sync_expect(a->sync_fd, CAPSA_SYNC_START, &m, err);
        capsa_sync_msg_clear(&m);
        return r;
    }
    /* Reopen the fifo we hold as O_PATH through our private procfs: this
     * blocks until `start` opens the read side. */
    char path[64];
    snprintf(path, sizeof path, "self/fd/%d", a->fifo_fd);
    int fd;
    do {
        fd = openat(c->procfd, path, O_WRONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return capsa_err_set(err, errno, "open exec fifo");
    c->start_fd = fd;
    /* One NUL byte says "started"; anything after it is an error message.
     * The write end closes on execve (O_CLOEXEC): EOF tells `start` the user
     * process is executing. */
    int r = capsa_write_all(fd, "", 1);
    if (r < 0)
        return capsa_err_set(err, -r, "write exec fifo");
    return 0;
}

/* fds, LSM label, then the user and capabilities of process, then its cwd
 * again as that user. A filter without a listener and without
 * no_new_privs goes in just before the switch (it needs CAP_SYS_ADMIN). */
static int become_user(struct init_ctx *c, struct capsa_err *err)
{
    const struct capsa_init_args *a = c->a;
    const struct capsa_process *p = a->spec->process;
    /* Before any filter goes in: close_range may not be in its allowlist. */
    int r = capsa_process_prepare_fds(a->preserve_fds, err);
    if (r < 0)
        return r;
    if ((r = capsa_lsm_apply(p, c->procfd, err)) < 0)
        return r;
    if (a->seccomp && !a->seccomp->uses_notify && !p->no_new_privileges &&
        (r = capsa_seccomp_load(a->seccomp, NULL, err)) < 0)
        return r;
    /* Switching before start (listener with no_new_privs): the exec fifo
     * is 0600 and owned by the container's root, and we reopen it after the
     * switch; hand it to the process user, who then may open it. Only we
     * can reach it (through our own fd table) until execve closes it. */
    if (c->start_fd < 0 && a->fifo_fd >= 0 && p->user.uid != 0) {
        char path[64];
        snprintf(path, sizeof path, "self/fd/%d", a->fifo_fd);
        if (fchownat(c->procfd, path, p->user.uid, (gid_t)-1, 0) < 0)
            return capsa_err_set(err, errno, "hand the exec fifo to uid %u", p->user.uid);
    }
    if ((r = capsa_process_switch_user(p, err)) < 0)
        return r;
    /* Again as the user, through the same fd (never the path again): a
     * directory only root could enter is refused now rather than leaving
     * the process somewhere it cannot be. */
    if (c->cwd_fd >= 0 && fchdir(c->cwd_fd) < 0 && errno != EACCES)
        return capsa_err_set(err, errno, "process.cwd: chdir %s", p->cwd);
    capsa_close(&c->cwd_fd);
    return 0;
}

__attribute__((noreturn)) void capsa_init_main(const struct capsa_init_args *a)
{
    struct init_ctx c = {.a = a, .procfd = -1, .start_fd = -1, .cwd_fd = -1};
    struct capsa_err err = {0};
    const struct capsa_spec *spec = a->spec;
    const struct capsa_process *p = spec->process;
    int r;

    for (size_t i = 0; i < ARRAY_SIZE(a->close_fds); i++) {
        if (a->close_fds[i] >= 0)
            close(a->close_fds[i]);
    }
    capsa_signals_reset(&a->sig_ignored);
    struct capsa_sync_msg go;
    if (capsa_sync_expect(a->sync_fd, CAPSA_SYNC_GO, &go, &err) < 0)
        fail(&c, &err);
    /* Into the v1 cgroups first: nothing of the container's runs before. */
    if (a->join) {
        if (capsa_cgroup_join_self(a->join, &err) < 0)
            fail(&c, &err);
        for (size_t i = 0; i < a->join->n; i++)
            close(a->join->fd[i]);
    }
    /* Until execve, this process runs the runtime's code and holds its
     * file descriptors: keep other processes (a container sharing our pid
     * namespace) from ptrace or /proc/<pid>/{exe,fd,mem}. execve resets it.
     * Only after GO: an unprivileged parent writes our uid_map, which it
     * could not open if we were non-dumpable (the file would be root's). */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    c.hook_state = steal_ptr(go.payload);
    int rootfs_fd = steal_fd(go.fd); /* set when we are in a new user namespace */
    capsa_sync_msg_clear(&go);

    if (a->new_userns) {
        /* Become root of the new user namespace when 0 is mapped. */
        if (setresgid(0, 0, 0) < 0 && errno != EINVAL) {
            capsa_err_set(&err, errno, "setresgid(0) in the user namespace");
            fail(&c, &err);
        }
        if (setresuid(0, 0, 0) < 0 && errno != EINVAL) {
            capsa_err_set(&err, errno, "setresuid(0) in the user namespace");
            fail(&c, &err);
        }
    }
    /* After the credential change above, which would reset it. Waiting on the
     * sync socket also notices a dead parent (EOF). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
        capsa_err_set(&err, errno, "prctl(PR_SET_PDEATHSIG)");
        fail(&c, &err);
    }
    if (a->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0) {
        capsa_err_set(&err, errno, "unshare the cgroup namespace");
        fail(&c, &err);
    }
    if (!a->no_new_keyring) {
        long k = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, a->id);
        if (k < 0 && errno != ENOSYS && errno != EPERM && errno != EACCES && errno != EDQUOT) {
            capsa_err_set(&err, errno, "join a new session keyring");
            fail(&c, &err);
        }
    }
    if (setup_hostname(spec, &err) < 0)
        fail(&c, &err);

    struct capsa_rootfs_ctx rc = {
        .spec = spec,
        .rootfs = a->rootfs,
        .bundle = a->bundle,
        .new_userns = a->new_userns,
        .new_netns = a->new_netns,
        .no_pivot = a->no_pivot,
        .devnull_fd = -1,
        .shared_mntns = a->shared_mntns,
        .rootfs_fd = rootfs_fd,
        .root_mnt_fd = -1,
        .cg = a->cg,
    };
    if (capsa_rootfs_prepare(&rc, &err) < 0)
        fail(&c, &err);

    /* prestart + createRuntime hooks run in the parent now. */
    if (capsa_sync_send(a->sync_fd, CAPSA_SYNC_PREPIVOT, 0, NULL, 0, -1, &err) < 0)
        fail(&c, &err);
    struct capsa_sync_msg ack;
    if (capsa_sync_expect(a->sync_fd, CAPSA_SYNC_PREPIVOT_ACK, &ack, &err) < 0)
        fail(&c, &err);
    capsa_sync_msg_clear(&ack);

    /* createContainer hooks: in the container's namespaces, before
     * pivot_root (the spec), so their path resolves in the runtime's view of
     * the filesystem (a hook such as a CDI or GPU one lives on the host),
     * and before the root is made read-only and paths are masked, so they
     * may still change the rootfs (runc's order). */
    if (capsa_hooks_run("createContainer", spec->hooks.create_container,
                        spec->hooks.n_create_container, c.hook_state, &err) < 0)
        fail(&c, &err);

    if (capsa_rootfs_pivot(&rc, &err) < 0)
        fail(&c, &err);
    /* A procfs instance of our own, attached nowhere, for every /proc write
     * (sysctl, oom_score_adj, LSM labels, the exec fifo reopen). Only made
     * when one of them is to be done, as exec does: creating it is a new
     * superblock, and closing it dissolves a detached mount, which waits for
     * an RCU grace period (docs/performance.md). Without it, -1 makes any
     * /proc write fail rather than go to the container's /proc. */
    bool need_proc = a->fifo_fd >= 0 || (spec->has_linux && spec->linux_cfg.n_sysctl > 0) ||
                     (p && (p->has_oom_score_adj ||
                            (p->apparmor_profile != NULL && p->apparmor_profile[0] != '\0') ||
                            (p->selinux_label != NULL && p->selinux_label[0] != '\0')));
    if (need_proc && (c.procfd = capsa_proc_open_private(&err)) < 0)
        fail(&c, &err);
    if (capsa_sysctl_apply(spec, c.procfd, &err) < 0)
        fail(&c, &err);

    if (p && p->terminal) {
        int master = capsa_terminal_setup_console(p->has_console_size ? p->console_height : 0,
                                                  p->has_console_size ? p->console_width : 0, &err);
        if (master < 0)
            fail(&c, &err);
        r = capsa_sync_send(a->sync_fd, CAPSA_SYNC_CONSOLE, 0, NULL, 0, master, &err);
        close(master);
        if (r < 0)
            fail(&c, &err);
    }

    if (capsa_rootfs_finalize(&rc, &err) < 0)
        fail(&c, &err);

    if (spec->linux_cfg.has_personality &&
        capsa_process_apply_personality(&spec->linux_cfg.personality, &err) < 0)
        fail(&c, &err);
    if (p) {
        if (capsa_process_apply_attrs(p, c.procfd, &err) < 0)
            fail(&c, &err);
        /* The cwd is created if missing (as runc does), resolved in our root. */
        if (p->cwd) {
            c.cwd_fd = capsa_process_enter_cwd(p->cwd, true, &err);
            if (c.cwd_fd < 0)
                fail(&c, &err);
        }
    }

    /* Resolve the executable now, so that a missing one fails `create`
     * (where engines look for errors) rather than `start`. A unikernel is
     * loaded by us, not executed: its devices are opened now, while we still
     * hold the capabilities a TAP device needs (uk/tender.h). */
    cleanup_free char *exe = NULL;
    bool unikernel = false;
    struct capsa_uk_setup uk;
    memset(&uk, 0, sizeof uk);
    if (capsa_uk_wanted(spec, &unikernel, &err) < 0)
        fail(&c, &err);
    if (p && unikernel &&
        (capsa_uk_open_devices(spec, &uk, &err) < 0 ||
         capsa_uk_validate(p->args[0], &uk, &err) < 0))
        fail(&c, &err);
    if (p && !unikernel && capsa_process_find_exec(p, &exe, &err) < 0)
        fail(&c, &err);

    /* Clear the death signal before telling the parent we are ready: the
     * parent exits right after, and we must outlive it. */
    if (prctl(PR_SET_PDEATHSIG, 0) < 0) {
        capsa_err_set(&err, errno, "prctl(PR_SET_PDEATHSIG)");
        fail(&c, &err);
    }
    /* When the filter goes in (the listener fd, if any, must reach the
     * parent over the sync socket, which nobody reads after CREATED when
     * create and start are separate commands):
     *  - no listener, no_new_privs: last, right before execve;
     *  - no listener, no no_new_privs: before the user switch, while
     *    CAP_SYS_ADMIN (needed then) is still held;
     *  - listener, no no_new_privs: here, before CREATED, for the same
     *    reason (the switch comes only after start);
     *  - listener, no_new_privs: as runc does, the user switch and the
     *    capability drop come forward to before CREATED and the filter
     *    follows them, so a notify rule on setresuid or capset never makes
     *    the runtime's own calls wait on an agent. */
    bool has_filter = a->seccomp != NULL;
    bool notify = has_filter && a->seccomp->uses_notify;
    bool nnp = p != NULL && p->no_new_privileges;
    bool user_done = false;
    if (notify && nnp) {
        if (become_user(&c, &err) < 0)
            fail(&c, &err);
        user_done = true;
    }
    if (notify) {
        int nfd = -1;
        if (capsa_seccomp_load(a->seccomp, &nfd, &err) < 0)
            fail(&c, &err);
        r = capsa_sync_send(a->sync_fd, CAPSA_SYNC_SECCOMP, 0, NULL, 0, nfd, &err);
        close(nfd);
        if (r < 0)
            fail(&c, &err);
    }
    if (capsa_sync_send(a->sync_fd, CAPSA_SYNC_CREATED, 0, NULL, 0, -1, &err) < 0)
        fail(&c, &err);

    if (wait_for_start(&c, &err) < 0)
        fail(&c, &err);

    if (capsa_hooks_run("startContainer", spec->hooks.start_container,
                        spec->hooks.n_start_container, c.hook_state, &err) < 0)
        fail(&c, &err);

    if (p == NULL) {
        capsa_err_setx(&err, EINVAL, "process: the config has none, nothing to start");
        fail(&c, &err);
    }
    if (!user_done) {
        /* Without no_new_privs, install while CAP_SYS_ADMIN is still held:
         * become_user loads it between the LSM label and the switch. */
        if (become_user(&c, &err) < 0)
            fail(&c, &err);
    }
    capsa_close(&c.procfd);
    /* no_new_privs is set: the filter can be the very last step. */
    if (has_filter && !notify && nnp && capsa_seccomp_load(a->seccomp, NULL, &err) < 0)
        fail(&c, &err);

    if (unikernel) {
        capsa_uk_exec(p->args[0], p->args, &uk, &err); /* returns only on error */
        fail(&c, &err);
    }
    execve(exe, p->args, p->env ? p->env : (char *[]){NULL});
    char eb[128];
    int e = errno;
    capsa_err_setx(&err, e, "exec: \"%s\": %s", p->args[0], capsa_strerror_lower(e, eb, sizeof eb));
    fail(&c, &err);
}
