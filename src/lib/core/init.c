/* init.c - the container init process (child side of create).
 *
 * Its steps, in order, and why:
 *  1. begin (core/child.c): a session of its own, signals reset, wait for GO
 *     (the parent has written uid/gid maps, entered the v2 cgroup and sent
 *     the bind sources it opened), into the v1 cgroups, non-dumpable; root
 *     of a new user namespace; PR_SET_PDEATHSIG so that a create killed
 *     half-way takes its init along.
 *  2. namespaces: cgroup namespace (after the parent placed us), keyring,
 *     hostname.
 *  3. mounts while host paths are still reachable; PREPIVOT so that the
 *     parent runs prestart/createRuntime hooks in the runtime namespace;
 *     createContainer hooks (host paths, before pivot_root, as the spec
 *     says); pivot_root; sysctl and other /proc writes through a private,
 *     detached procfs the container cannot tamper with; console; masked and
 *     read-only paths, read-only root.
 *  4. process: attributes, cwd, the executable (or the unikernel's devices).
 *  5. CREATED; wait for start (exec fifo, or SYNC_START for `run`);
 *     startContainer hooks.
 *  6. confine (core/child.c: fds, LSM, seccomp, user, capabilities,
 *     no_new_privs) and execve. A seccomp filter with a listener must go in
 *     before CREATED (its fd travels over the sync socket, which nobody
 *     reads after CREATED when create and start are separate commands), so
 *     with a listener step 6 up to the filter moves before CREATED, as runc
 *     does always.
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

#include "core/child.h"
#include "linux/cgroup.h"
#include "linux/hooks.h"
#include "linux/net.h"
#include "linux/process.h"
#include "linux/rootfs.h"
#include "linux/scmp.h"
#include "linux/terminal.h"
#include "sys/sys.h"
#include "level/level.h"
#include "util/util.h"

#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

struct init_ctx {
    const struct capsa_init_args *a;
    const struct capsa_spec *spec;
    const struct capsa_process *p; /* NULL: the config has none (fails at start) */
    int procfd;
    int start_fd;  /* the opened exec fifo (write end) once start came */
    int cwd_fd;    /* process.cwd, resolved in root (O_PATH), until the user switch */
    int rootfs_fd; /* from GO: the rootfs opened by the runtime (new user namespace) */
    char *hook_state;
    char *exe;
    char **env;    /* the user program's environment */
    bool execs;    /* the level executes process.args[0] (else its child_start starts it) */
    bool confined; /* capsa_child_confine done (before CREATED, with a listener) */
};

/* Debug lines; their arguments are not even computed without --debug. */
#define LOG(c, ...)                                                                                \
    do {                                                                                           \
        if ((c)->a->log.sock >= 0 && (c)->a->log.max >= CAPSA_LOG_DEBUG)                           \
            capsa_sync_log(&(c)->a->log, CAPSA_LOG_DEBUG, __VA_ARGS__);                            \
    } while (0)

/* Run one kind of hook here, in the container's namespaces, saying which. */
static int run_hooks(struct init_ctx *c, const char *kind, const struct capsa_hook *h, size_t n,
                     struct capsa_err *err)
{
    for (size_t i = 0; i < n; i++)
        LOG(c, "init: %s hook #%zu: %s", kind, i, h[i].path);
    return capsa_hooks_run(kind, h, n, c->hook_state, err);
}

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

/* Step 1. */
static int step_begin(struct init_ctx *c, struct capsa_err *err)
{
    const struct capsa_init_args *a = c->a;
    struct capsa_sync_msg go;
    int r = capsa_child_begin(a->sync_fd, &a->sig_ignored, a->join, a->mount_fds,
                              a->mount_fds ? c->spec->n_mounts : 0, &go, err);
    if (r < 0)
        return r;
    c->hook_state = steal_ptr(go.payload);
    c->rootfs_fd = steal_fd(go.fd); /* set when we are in a new user namespace */
    capsa_sync_msg_clear(&go);
    if (a->new_userns) {
        /* Become root of the new user namespace when 0 is mapped. */
        if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
            return capsa_err_set(err, errno, "setresgid(0) in the user namespace");
        if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
            return capsa_err_set(err, errno, "setresuid(0) in the user namespace");
    }
    /* After the credential change above, which would reset it. Waiting on the
     * sync socket also notices a dead parent (EOF). */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return capsa_err_set(err, errno, "prctl(PR_SET_PDEATHSIG)");
    LOG(c, "init: in its cgroups and namespaces, pid %d", (int)getpid());
    return 0;
}

/* Step 2. */
static int step_namespaces(struct init_ctx *c, struct capsa_err *err)
{
    const struct capsa_init_args *a = c->a;
    const struct capsa_spec *spec = c->spec;
    if (a->new_cgroupns && unshare(CLONE_NEWCGROUP) < 0)
        return capsa_err_set(err, errno, "unshare the cgroup namespace");
    if (!a->no_new_keyring) {
        long k = syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, a->id);
        if (k < 0 && errno != ENOSYS && errno != EPERM && errno != EACCES && errno != EDQUOT)
            return capsa_err_set(err, errno, "join a new session keyring");
    }
    if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
        return capsa_err_set(err, errno, "hostname: sethostname %s", spec->hostname);
    if (spec->domainname && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
        return capsa_err_set(err, errno, "domainname: setdomainname %s", spec->domainname);
    /* lo up in a new network namespace (runc). */
    return capsa_net_setup(spec, err);
}

/* Step 3. */
static int step_mounts(struct init_ctx *c, struct capsa_err *err)
{
    const struct capsa_init_args *a = c->a;
    const struct capsa_spec *spec = c->spec;
    struct capsa_rootfs_ctx rc = {
        .spec = spec,
        .rootfs = a->rootfs,
        .bundle = a->bundle,
        .new_userns = a->new_userns,
        .new_netns = a->new_netns,
        .no_pivot = a->no_pivot,
        .devnull_fd = -1,
        .shared_mntns = a->shared_mntns,
        .rootfs_fd = c->rootfs_fd,
        .root_mnt_fd = -1,
        .cg = a->cg,
        .mount_fds = a->mount_fds,
        .log = a->log.sock >= 0 && a->log.max >= CAPSA_LOG_DEBUG ? capsa_sync_log_debug_cb : NULL,
        .log_opaque = (void *)&a->log,
        .more_masked = a->more_masked,
        .n_more_masked = a->n_more_masked,
        .more_readonly = a->more_readonly,
        .n_more_readonly = a->n_more_readonly,
    };
    int r = capsa_rootfs_prepare(&rc, err);
    if (r < 0)
        return r;
    /* prestart + createRuntime hooks run in the parent now. */
    struct capsa_sync_msg ack;
    if ((r = capsa_sync_send(a->sync_fd, CAPSA_SYNC_PREPIVOT, 0, NULL, 0, -1, err)) < 0 ||
        (r = capsa_sync_expect(a->sync_fd, CAPSA_SYNC_PREPIVOT_ACK, "runtime", &ack, err)) < 0)
        return r;
    capsa_sync_msg_clear(&ack);
    /* createContainer hooks: in the container's namespaces, before
     * pivot_root (the spec), so their path resolves in the runtime's view of
     * the filesystem (a hook such as a CDI or GPU one lives on the host),
     * and before the root is made read-only and paths are masked, so they
     * may still change the rootfs (runc's order). */
    if ((r = run_hooks(c, "createContainer", spec->hooks.create_container,
                       spec->hooks.n_create_container, err)) < 0 ||
        (r = capsa_rootfs_pivot(&rc, err)) < 0)
        return r;
    LOG(c, "init: root changed to %s", a->rootfs);
    if (!rc.shared_mntns)
        capsa_rootfs_reopen_devnull();
    /* A procfs instance of our own, attached nowhere, for every /proc write
     * (sysctl, oom_score_adj, LSM labels, the exec fifo reopen). Only made
     * when one of them is to be done, as exec does: creating it is a new
     * superblock, and closing it dissolves a detached mount, which waits for
     * an RCU grace period (docs/performance.md). Without it, -1 makes any
     * /proc write fail rather than go to the container's /proc. */
    const struct capsa_process *pp = c->p;
    bool need_proc = a->fifo_fd >= 0 || spec->linux_cfg.n_sysctl > 0 ||
                     (pp && (pp->has_oom_score_adj ||
                             (pp->apparmor_profile != NULL && pp->apparmor_profile[0] != '\0') ||
                             (pp->selinux_label != NULL && pp->selinux_label[0] != '\0')));
    if (need_proc && (c->procfd = capsa_proc_open_private(err)) < 0)
        return c->procfd;
    if ((r = capsa_sysctl_apply(spec, c->procfd, err)) < 0)
        return r;
    const struct capsa_process *p = c->p;
    if (p && p->terminal) {
        int master = capsa_terminal_setup_console(p->has_console_size ? p->console_height : 0,
                                                  p->has_console_size ? p->console_width : 0,
                                                  p->user.uid, err);
        if (master < 0)
            return master;
        r = capsa_sync_send(a->sync_fd, CAPSA_SYNC_CONSOLE, 0, NULL, 0, master, err);
        close(master);
        if (r < 0)
            return r;
    }
    r = capsa_rootfs_finalize(&rc, err);
    if (r == 0)
        LOG(c, "init: masked and read-only paths done");
    return r;
}

/* Step 4. Resolve the executable now, so that a missing one fails `create`
 * (where engines look for errors) rather than `start`. The level prepares
 * its part first, while we are still privileged (the unikernel level opens
 * its devices, which a TAP device needs capabilities for, and loads the
 * image: it starts the program itself instead of executing it). */
static int step_process(struct init_ctx *c, struct capsa_err *err)
{
    const struct capsa_process *p = c->p;
    if (p == NULL)
        return 0;
    const struct capsa_level *l = c->a->level;
    int r;
    c->a->lc->p = p;
    if (l->child_prepare && (r = l->child_prepare(c->a->lc, &c->execs, err)) < 0)
        return r;
    r = capsa_child_prepare(c->spec, p, c->procfd, true, &c->cwd_fd, c->execs ? &c->exe : NULL,
                            err);
    if (r < 0)
        return r;
    if (c->execs && (r = capsa_child_env(p, c->a->listen_fds, &c->env, err)) < 0)
        return r;
    LOG(c, "init: process %s ready", c->execs ? c->exe : p->args[0]);
    return 0;
}

static int confine(struct init_ctx *c, struct capsa_err *err)
{
    const struct capsa_init_args *a = c->a;
    /* Switching before start (a listener with no_new_privs): the exec fifo
     * is 0600 and owned by the container's root, and we reopen it after the
     * switch; hand it to the process user, who then may open it. Only we
     * can reach it (through our own fd table) until execve closes it. */
    if (c->start_fd < 0 && a->fifo_fd >= 0 && c->p->user.uid != 0) {
        char path[64];
        snprintf(path, sizeof path, "self/fd/%d", a->fifo_fd);
        if (fchownat(c->procfd, path, c->p->user.uid, (gid_t)-1, 0) < 0)
            return capsa_err_set(err, errno, "hand the exec fifo to uid %u", c->p->user.uid);
    }
    struct capsa_child_confine cf = {
        .p = c->p,
        .seccomp = a->seccomp,
        .sock = a->sync_fd,
        .procfd = &c->procfd,
        .keep_procfd = c->start_fd < 0 && a->fifo_fd >= 0, /* the fifo is reopened through it */
        .cwd_fd = &c->cwd_fd,
        .preserve_fds = a->preserve_fds,
        .level = a->level,
        .lc = a->lc,
    };
    int r = capsa_child_confine(&cf, err);
    if (r == 0)
        c->confined = true;
    return r;
}

static int wait_for_start(struct init_ctx *c, struct capsa_err *err)
{
    const struct capsa_init_args *a = c->a;
    if (a->fifo_fd < 0) {
        struct capsa_sync_msg m;
        int r = capsa_sync_expect(a->sync_fd, CAPSA_SYNC_START, "runtime", &m, err);
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

/* Step 5. */
static int step_created(struct init_ctx *c, struct capsa_err *err)
{
    const struct capsa_init_args *a = c->a;
    /* Clear the death signal before telling the parent we are ready: the
     * parent exits right after, and we must outlive it. */
    if (prctl(PR_SET_PDEATHSIG, 0) < 0)
        return capsa_err_set(err, errno, "prctl(PR_SET_PDEATHSIG)");
    int r;
    if (c->p && a->seccomp && a->seccomp->uses_notify && (r = confine(c, err)) < 0)
        return r;
    if ((r = capsa_sync_send(a->sync_fd, CAPSA_SYNC_CREATED, 0, NULL, 0, -1, err)) < 0 ||
        (r = wait_for_start(c, err)) < 0)
        return r;
    LOG(c, "init: started");
    return run_hooks(c, "startContainer", c->spec->hooks.start_container,
                     c->spec->hooks.n_start_container, err);
}

/* Step 6. */
__attribute__((noreturn)) static void step_exec(struct init_ctx *c)
{
    struct capsa_err err = {0};
    const struct capsa_process *p = c->p;
    if (p == NULL) {
        capsa_err_setx(&err, EINVAL, "process: the config has none, nothing to start");
        fail(c, &err);
    }
    if (!c->confined && confine(c, &err) < 0)
        fail(c, &err);
    capsa_close(&c->procfd);
    if (!c->execs) {
        /* No execve will close the exec fifo for `start`, which waits for
         * its EOF: the level starts its program now. */
        capsa_close(&c->start_fd);
        c->a->level->child_start(c->a->lc, &err); /* returns only on error */
        fail(c, &err);
    }
    capsa_child_execve(p, c->exe, c->env, &err);
    fail(c, &err);
}

__attribute__((noreturn)) void capsa_init_main(void *init_args)
{
    const struct capsa_init_args *a = init_args;
    struct init_ctx c = {.a = a,
                         .spec = a->spec,
                         .p = a->spec->process,
                         .procfd = -1,
                         .start_fd = -1,
                         .cwd_fd = -1,
                         .rootfs_fd = -1,
                         .execs = true};
    struct capsa_err err = {0};
    if (step_begin(&c, &err) < 0 || step_namespaces(&c, &err) < 0 || step_mounts(&c, &err) < 0 ||
        step_process(&c, &err) < 0 || step_created(&c, &err) < 0)
        fail(&c, &err);
    step_exec(&c);
}
