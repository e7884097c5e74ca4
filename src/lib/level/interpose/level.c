/* level.c - the interpose level's table entry: the hooks the core calls
 * (level/level.h), which start the supervisor (super.c) at create, connect
 * exec'd processes to it, and install the workload's filter (filter.c) in
 * the init and in every exec'd process, handing its listener over. */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "level/interpose/interpose.h"
#include "level/interpose/super.h"
#include "linux/scmp.h"
#include "sys/sys.h"
#include "util/util.h"

#define SOCK_NAME  "interpose.sock"
#define AUDIT_NAME "audit.jsonl"

struct ip_host {
    struct capsa_ip_policy policy;
};

/* seccomp user notification with SECCOMP_ADDFD_FLAG_SEND: Linux 5.14. */
static int ip_available(struct capsa_err *err)
{
    struct utsname u;
    unsigned ma = 0, mi = 0;
    if (uname(&u) < 0 || sscanf(u.release, "%u.%u", &ma, &mi) != 2)
        return capsa_err_set(err, errno, "uname");
    if (ma < 5 || (ma == 5 && mi < 14))
        return capsa_err_setx(err, ENOTSUP,
                              "it needs Linux 5.14 or later (seccomp user notification with "
                              "SECCOMP_ADDFD_FLAG_SEND); this kernel is %s",
                              u.release);
    struct seccomp_notif_sizes sz;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
        return capsa_err_set(err, errno, "seccomp user notification");
    return 0;
}

static int ip_validate(const struct capsa_spec *spec, struct capsa_err *err)
{
    struct capsa_ip_policy p;
    int r = capsa_ip_policy_parse(spec, &p, err);
    if (r < 0)
        return r;
    capsa_ip_policy_free(&p);
    const struct capsa_namespace *pidns = capsa_spec_namespace(spec, CAPSA_NS_PID);
    if (pidns == NULL || pidns->path != NULL)
        return capsa_err_setx(err, EINVAL,
                              "linux.namespaces: the interpose level needs a new pid namespace "
                              "(the supervisor's namespace is made around it)");
    const struct capsa_seccomp *sc = spec->linux_cfg.seccomp;
    if (sc != NULL && sc->listener_path != NULL)
        return capsa_err_setx(err, EINVAL,
                              "linux.seccomp.listenerPath: not at the interpose level, whose "
                              "supervisor holds the one listener a process may have");
    return 0;
}

/* Field 22 of /proc/<pid>/stat. */
static int start_time(pid_t pid, unsigned long long *out)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    /* After the name: state (3), then 4..21, then starttime (22). */
    unsigned long long v;
    if (p == NULL || sscanf(p + 1,
                            " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                            "%*d %*d %*d %llu",
                            &v) != 1)
        return -EIO;
    *out = v;
    return 0;
}

static int sock_path(int dirfd, struct sockaddr_un *sun, socklen_t *len)
{
    memset(sun, 0, sizeof *sun);
    sun->sun_family = AF_UNIX;
    int n = snprintf(sun->sun_path, sizeof sun->sun_path, "/proc/self/fd/%d/" SOCK_NAME, dirfd);
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + (size_t)n + 1);
    return 0;
}

/* exec: a connection to the container's supervisor. */
static int connect_super(struct capsa_level_host *h, struct capsa_err *err)
{
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return capsa_err_set(err, errno, "socket");
    struct sockaddr_un sun;
    socklen_t len;
    sock_path(h->state_dirfd, &sun, &len);
    if (connect(s, (struct sockaddr *)&sun, len) < 0) {
        int e = errno;
        close(s);
        return capsa_err_setx(err, e == ENOENT || e == ECONNREFUSED ? ESRCH : e,
                              "container %s: its interpose supervisor is gone (%s)", h->id,
                              strerror(e));
    }
    h->child_fd = s;
    return 0;
}

/* Put fd at target (close-on-exec cleared is irrelevant: we never exec). */
static int move_fd(int fd, int target)
{
    if (fd == target)
        return 0;
    return dup2(fd, target) < 0 ? -1 : 0;
}

/* The supervisor's first steps: its fds in place, nothing else of ours. */
__attribute__((noreturn)) static void super_main(struct capsa_ip_super_args *a)
{
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 0);
        dup2(devnull, 1);
        dup2(devnull, 2);
    }
    /* Above every fd we keep, then down to 3, 4, 5: everything else
     * (the state directory's lock above all) is closed. */
    int fds[3] = {a->ctl_fd, a->listen_fd, a->audit_fd};
    int tmp[3];
    for (int i = 0; i < 3; i++)
        tmp[i] = fds[i] < 0 ? -1 : fcntl(fds[i], F_DUPFD_CLOEXEC, 1000);
    for (int i = 0; i < 3; i++)
        if (tmp[i] >= 0 && move_fd(tmp[i], 3 + i) < 0)
            _exit(119);
    capsa_close_range(6, ~0U, 0);
    a->ctl_fd = 3;
    a->listen_fd = a->listen_fd >= 0 ? 4 : -1;
    a->audit_fd = a->audit_fd >= 0 ? 5 : -1;
    for (int i = 3; i < 6; i++)
        fcntl(i, F_SETFD, FD_CLOEXEC);
    capsa_ip_supervise(a);
}

static int start_super(struct capsa_level_host *h, struct ip_host *ih, struct capsa_err *err)
{
    int r;
    int ctl[2] = {-1, -1};
    cleanup_close int lsock = -1;
    cleanup_close int audit = -1;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0)
        return capsa_err_set(err, errno, "interpose: socketpair");
    cleanup_close int ctl0 = ctl[0];
    h->child_fd = ctl[1];
    lsock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (lsock < 0)
        return capsa_err_set(err, errno, "interpose: socket");
    struct sockaddr_un sun;
    socklen_t len;
    sock_path(h->state_dirfd, &sun, &len);
    if (bind(lsock, (struct sockaddr *)&sun, len) < 0 || listen(lsock, 16) < 0)
        return capsa_err_set(err, errno,
                             "interpose: the supervisor's socket in the state directory");
    if (ih->policy.audit != CAPSA_IP_AUDIT_NONE) {
        audit = openat(h->state_dirfd, AUDIT_NAME,
                       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (audit < 0)
            return capsa_err_set(err, errno, "interpose: open the audit log");
    }
    const struct capsa_process *p = h->spec->process;
    struct capsa_ip_super_args a = {
        .policy = &ih->policy,
        .id = h->id,
        .cgroup = h->cgroup,
        .ctl_fd = ctl0,
        .listen_fd = lsock,
        .audit_fd = audit,
        .record_fd = -1,
        .keep_caps = p && p->has_capabilities ? p->capabilities.bounding : 0,
    };
    /* PID 1 of a new pid namespace, which the container's is made in. */
    int pidfd = -1;
    struct clone_args ca = {
        .flags = CLONE_NEWPID | CLONE_PIDFD,
        .pidfd = (uint64_t)(uintptr_t)&pidfd,
        .exit_signal = SIGCHLD,
    };
    pid_t pid = capsa_clone3(&ca);
    if (pid < 0)
        return capsa_err_set(err, errno, "interpose: clone the supervisor");
    if (pid == 0)
        super_main(&a);
    h->pidns_fd = pidfd;
    h->helper_pid = pid;
    if ((r = start_time(pid, &h->helper_start)) < 0)
        return capsa_err_set(err, -r, "interpose: the supervisor's start time");
    return 0;
}

static int ip_host_prepare(struct capsa_level_host *h, struct capsa_err *err)
{
    struct ip_host *ih = calloc(1, sizeof *ih);
    if (ih == NULL)
        return capsa_err_set(err, ENOMEM, "interpose");
    h->priv = ih;
    int r = capsa_ip_policy_parse(h->spec, &ih->policy, err);
    if (r == 0)
        r = capsa_ip_filter_compile(&ih->policy, &h->child_prog, err);
    if (r < 0)
        return r;
    /* The policy's paths are also masked and made read-only in the mount
     * namespace, where the kernel enforces them for the calls that are not
     * brokered (execve, chdir, getdents of a parent) too. */
    h->masked = (const char *const *)ih->policy.hidden;
    h->n_masked = ih->policy.n_hidden;
    h->readonly = (const char *const *)ih->policy.readonly;
    h->n_readonly = ih->policy.n_readonly;
    if (h->exec)
        return connect_super(h, err);
    return start_super(h, ih, err);
}

static void ip_host_release(struct capsa_level_host *h)
{
    struct ip_host *ih = h->priv;
    if (ih != NULL) {
        capsa_ip_policy_free(&ih->policy);
        free(ih);
    }
    h->priv = NULL;
    capsa_seccomp_prog_free(h->child_prog);
    h->child_prog = NULL;
}

/* Kill the supervisor (its pid namespace goes with it). Not waited for:
 * as PID 1 of a namespace, its exit completes only once every process of
 * that namespace has been reaped by its parent, which may be an engine's
 * shim that has not yet looked. When it is our own child (a failed create),
 * it is reaped if it has gone already, else by whoever inherits it. */
static void ip_host_stop(pid_t pid, unsigned long long start)
{
    int pidfd = capsa_pidfd_open(pid, 0);
    if (pidfd < 0)
        return;
    unsigned long long now = 0;
    if (start_time(pid, &now) == 0 && now == start) {
        capsa_pidfd_send_signal(pidfd, SIGKILL, 0);
        siginfo_t si;
        waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG);
    }
    close(pidfd);
}

/* In the init and every exec'd process, at the seccomp filter's place: the
 * workload's filter, and its listener to the supervisor with our pid. */
static int ip_child_confine(struct capsa_level_child *c, struct capsa_err *err)
{
    int nfd = -1;
    int r = capsa_seccomp_load(c->prog, &nfd, err);
    if (r < 0)
        return capsa_err_wrap(err, "interpose filter");
    char byte = 'L';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &nfd, sizeof nfd);
    cm = CMSG_NXTHDR(&mh, cm);
    struct ucred cr = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_CREDENTIALS;
    cm->cmsg_len = CMSG_LEN(sizeof cr);
    memcpy(CMSG_DATA(cm), &cr, sizeof cr);
    ssize_t n = sendmsg(c->level_fd, &mh, MSG_NOSIGNAL);
    int e = errno;
    close(nfd);
    capsa_close(&c->level_fd);
    if (n < 0)
        return capsa_err_set(err, e, "interpose: hand the filter to the supervisor");
    return 0;
}

const struct capsa_level capsa_level_interpose = {
    .name = "interpose",
    .summary = "native, plus a strict system call allowlist whose calls on host resources a "
               "per-container supervisor serves",
    .rank = 1,
    .available = ip_available,
    .validate = ip_validate,
    .host_prepare = ip_host_prepare,
    .host_release = ip_host_release,
    .host_stop = ip_host_stop,
    .child_confine = ip_child_confine,
};
