/* spawn.c - clone a process into a container, through a namespace-joining
 * intermediate when needed; see spawn.h. */
#include "core/spawn.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/sync.h"
#include "linux/ns.h"
#include "sys/sys.h"
#include "util/util.h"

void capsa_spawn_init(struct capsa_spawn *s)
{
    memset(s, 0, sizeof *s);
    s->join_pidfd = -1;
    s->chroot_fd = -1;
    s->cgroup_fd = -1;
    s->child_sock = -1;
    s->parent_sock = -1;
    for (size_t i = 0; i < ARRAY_SIZE(s->close_fds); i++)
        s->close_fds[i] = -1;
    s->pidfd = -1;
}

static bool needs_stage1(const struct capsa_spawn *s)
{
    if (s->stage1)
        return true;
    return s->join_paths != NULL || s->timens_offsets != NULL || s->join_pidfd >= 0 ||
           s->chroot_fd >= 0;
}

static void close_runtime_fds(const struct capsa_spawn *s)
{
    if (s->parent_sock >= 0)
        close(s->parent_sock);
    for (size_t i = 0; i < ARRAY_SIZE(s->close_fds); i++) {
        if (s->close_fds[i] >= 0)
            close(s->close_fds[i]);
    }
}

/* clone3 of the child, born in cgroup_fd's cgroup when the kernel can. Our
 * caller writes cgroup.procs before GO otherwise (an older kernel, or a
 * joined user namespace whose credentials may not move it). */
static pid_t clone_child(uint64_t flags, int cgroup_fd, int exit_signal, int *pidfd,
                         bool *into_cgroup)
{
    struct clone_args ca = {.flags = flags, .exit_signal = (uint64_t)exit_signal};
    if (pidfd) {
        ca.flags |= CLONE_PIDFD;
        ca.pidfd = (uint64_t)(uintptr_t)pidfd;
    }
    if (cgroup_fd >= 0) {
        ca.flags |= CLONE_INTO_CGROUP;
        ca.cgroup = (uint64_t)cgroup_fd;
    }
    pid_t pid = capsa_clone3(&ca);
    /* ENOENT: a cgroup2 mounted with nsdelegate (systemd's default) lets a
     * process in a cgroup namespace move another only between cgroups
     * inside that namespace, and exec's stage1 has joined the container's
     * while it still sits in the runtime's cgroup, outside. The runtime,
     * in its own cgroup namespace, then moves the child (spawn.h: placed). */
    if (pid < 0 && cgroup_fd >= 0 &&
        (errno == EINVAL || errno == ENOSYS || errno == EACCES || errno == EPERM ||
         errno == ENOENT)) {
        ca.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
        ca.cgroup = 0;
        pid = capsa_clone3(&ca);
    }
    *into_cgroup = (ca.flags & CLONE_INTO_CGROUP) != 0;
    return pid;
}

__attribute__((noreturn)) static void stage1_fail(const struct capsa_spawn *s,
                                                  struct capsa_err *err)
{
    capsa_sync_send_err(s->child_sock, err);
    _exit(1);
}

/* Join by path, user namespace first: the others may belong to it. */
static int join_paths(const struct capsa_spec *spec, struct capsa_err *err)
{
    const struct capsa_linux *l = &spec->linux_cfg;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < l->n_namespaces; i++) {
            const struct capsa_namespace *ns = &l->namespaces[i];
            if (!ns->path || (pass == 0) != (ns->type == CAPSA_NS_USER))
                continue;
            int r = capsa_ns_join(ns, i, err);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

/* stage1. With share_vm it runs in the runtime's memory while the runtime
 * is suspended: it writes nothing but its own stack (s is read only; the fds
 * it closes are its own table's), and allocates nothing. */
__attribute__((noreturn)) static void stage1_main(const struct capsa_spawn *s)
{
    struct capsa_err err = {0};
    close_runtime_fds(s);
    uint64_t flags = s->clone_flags;
    if (s->join_paths && join_paths(s->join_paths, &err) < 0)
        stage1_fail(s, &err);
    /* One setns(2) on a pidfd (Linux 5.8) switches every namespace in the
     * kernel's order (user first) and the pidfd pins the process, so no
     * /proc/<pid>/ns path can meanwhile name another one. */
    if (s->join_pidfd >= 0) {
        if (s->join_flags != 0 && setns(s->join_pidfd, s->join_flags) < 0) {
            capsa_err_set(&err, errno, "join the container's namespaces (setns on its pidfd)");
            stage1_fail(s, &err);
        }
        close(s->join_pidfd);
    }
    if (s->chroot_fd >= 0) {
        if (fchdir(s->chroot_fd) < 0 || chroot(".") < 0) {
            capsa_err_set(&err, errno, "enter the container's root");
            stage1_fail(s, &err);
        }
        close(s->chroot_fd);
    }
    if (chdir("/") < 0) {
        capsa_err_set(&err, errno, "chdir /");
        stage1_fail(s, &err);
    }
    if (s->timens_offsets) {
        /* Offsets can only be written before any process lives in the new
         * time namespace: unshare here, write them, then clone into it. */
        if (unshare(CLONE_NEWTIME) < 0) {
            capsa_err_set(&err, errno, "unshare the time namespace");
            stage1_fail(s, &err);
        }
        if (capsa_timens_write_offsets(s->timens_offsets, &err) < 0)
            stage1_fail(s, &err);
        flags &= ~(uint64_t)CLONE_NEWTIME;
    }
    /* CLONE_PARENT: the child becomes the runtime's child; it inherits our
     * exit signal (SIGCHLD), and clone3 wants 0 here. */
    bool placed = false;
    int pidfd = -1;
    pid_t pid =
        clone_child(flags | CLONE_PARENT, s->cgroup_fd, 0, s->stage1 ? &pidfd : NULL, &placed);
    if (pid < 0) {
        capsa_err_set(&err, errno, "clone the container process");
        stage1_fail(s, &err);
    }
    if (pid == 0)
        s->child_main(s->child_arg);
    /* Our pid number for it is the runtime's too, unless we live in a pid
     * namespace of a level's (s->stage1): then the pidfd tells. */
    capsa_sync_send(s->child_sock, CAPSA_SYNC_PID, pid, placed ? "v2" : "", 3, pidfd, NULL);
    _exit(0);
}

static bool can_share_vm(const struct capsa_spawn *s)
{
    return s->share_vm && s->join_paths == NULL && s->timens_offsets == NULL &&
           !(s->join_flags & (CLONE_NEWUSER | CLONE_NEWTIME)) &&
           !(s->clone_flags & (CLONE_NEWUSER | CLONE_NEWTIME));
}

/* clone(2)'s entry for a stage1 that shares our memory. */
static int stage1_entry(void *arg)
{
    stage1_main(arg);
}

int capsa_spawn_child(struct capsa_spawn *s, struct capsa_err *err)
{
    if (!needs_stage1(s)) {
        int pidfd = -1;
        pid_t pid = clone_child(s->clone_flags, s->cgroup_fd, SIGCHLD, &pidfd, &s->into_cgroup);
        if (pid < 0)
            return capsa_err_set(err, errno, "clone the container process");
        if (pid == 0) {
            close_runtime_fds(s);
            s->child_main(s->child_arg);
        }
        s->pid = pid;
        s->pidfd = pidfd;
        return 0;
    }
    pid_t st1;
    if (can_share_vm(s)) {
        _Alignas(16) char stack[64 * 1024];
        st1 = clone(stage1_entry, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, s);
    } else {
        struct clone_args ca = {.exit_signal = SIGCHLD};
        st1 = capsa_clone3(&ca);
        if (st1 == 0)
            stage1_main(s);
    }
    if (st1 < 0)
        return capsa_err_set(err, errno, "clone the namespace-joining process");
    struct capsa_sync_msg m;
    int r = capsa_sync_expect(s->parent_sock, CAPSA_SYNC_PID, "namespace-joining process", &m, err);
    while (waitpid(st1, NULL, 0) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return r;
    s->pid = m.value;
    s->into_cgroup = m.payload != NULL && strcmp(m.payload, "v2") == 0;
    if (m.fd >= 0) {
        s->pidfd = steal_fd(m.fd);
        capsa_sync_msg_clear(&m);
        s->pid = capsa_pidfd_pid(s->pidfd);
        if (s->pid <= 0)
            return capsa_err_set(err, s->pid < 0 ? -s->pid : ESRCH,
                                 "the container process's pid (its pidfd)");
        return 0;
    }
    capsa_sync_msg_clear(&m);
    /* Our child (CLONE_PARENT), not yet reaped: the pid cannot be reused. */
    s->pidfd = capsa_pidfd_open(s->pid, 0);
    if (s->pidfd < 0)
        return capsa_err_set(err, errno, "pidfd_open of the container process");
    return 0;
}
