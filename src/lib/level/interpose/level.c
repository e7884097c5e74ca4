/* level.c - the interpose level's table entry: the hooks the core calls
 * (level/level.h), which start the supervisor (super.c) at create, connect
 * exec'd processes to it, and install the workload's filter (filter.c) in
 * the init and in every exec'd process, handing its listener over. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
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
#include "linux/process.h"
#include "linux/scmp.h"
#include "sys/sys.h"
#include "util/util.h"

#define SOCK_NAME  "interpose.sock"
#define AUDIT_NAME "audit.jsonl"
/* Record mode's output, in the bundle (docs/interpose.md). */
#define RECORD_NAME "interpose-record.json"

struct ip_host {
    struct capsa_ip_policy policy;
    struct capsa_seccomp_prog *super_prog, *fetch_prog; /* the supervisor's own filters */
};

/* seccomp user notification with SECCOMP_ADDFD_FLAG_SEND (5.14) and
 * SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (5.19). */
static int ip_available(struct capsa_err *err)
{
    struct utsname u;
    if (uname(&u) < 0)
        return capsa_err_set(err, errno, "uname");
    char *end;
    unsigned long ma = strtoul(u.release, &end, 10), mi = 0;
    if (*end == '.')
        mi = strtoul(end + 1, NULL, 10);
    if (ma < 5 || (ma == 5 && mi < 19))
        return capsa_err_setx(err, ENOTSUP,
                              "it needs Linux 5.19 or later (seccomp user notification with "
                              "SECCOMP_ADDFD_FLAG_SEND and WAIT_KILLABLE_RECV); this kernel is %s",
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
    /* The kernel then adds the sender's pid to what the process writes. */
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
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
    int fds[4] = {a->ctl_fd, a->listen_fd, a->audit_fd, a->record_fd};
    int tmp[4];
    for (int i = 0; i < 4; i++)
        tmp[i] = fds[i] < 0 ? -1 : fcntl(fds[i], F_DUPFD_CLOEXEC, 1000);
    for (int i = 0; i < 4; i++) {
        if (tmp[i] < 0)
            close(3 + i); /* unused: not the runtime's fd of that number */
        else if (move_fd(tmp[i], 3 + i) < 0)
            _exit(119);
    }
    capsa_close_range(7, ~0U, 0);
    a->ctl_fd = 3;
    a->listen_fd = a->listen_fd >= 0 ? 4 : -1;
    a->audit_fd = a->audit_fd >= 0 ? 5 : -1;
    a->record_fd = a->record_fd >= 0 ? 6 : -1;
    for (int i = 3; i < 7; i++)
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
    cleanup_close int record = -1;
    if (ih->policy.record) {
        cleanup_close int bdir = open(h->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
        record = bdir < 0 ? -1
                          : openat(bdir, RECORD_NAME,
                                   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (record < 0)
            return capsa_err_set(err, errno, "interpose: record mode: open %s/%s", h->bundle,
                                 RECORD_NAME);
    }
    /* The fetcher (super.c) only for a container in a user namespace of its
     * own: the supervisor gives up its capabilities over ours when it joins. */
    bool userns = capsa_spec_namespace(h->spec, CAPSA_NS_USER) != NULL;
    if ((r = capsa_ip_super_filters(&ih->super_prog, userns ? &ih->fetch_prog : NULL, err)) < 0)
        return r;
    const struct capsa_process *p = h->spec->process;
    struct capsa_ip_super_args a = {
        .policy = &ih->policy,
        .id = h->id,
        .cgroup = h->cgroup,
        .ctl_fd = ctl0,
        .listen_fd = lsock,
        .audit_fd = audit,
        .record_fd = record,
        .keep_caps = p && p->has_capabilities ? p->capabilities.bounding : 0,
        .super_prog = ih->super_prog,
        .fetch_prog = ih->fetch_prog,
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
    if ((r = capsa_proc_start_time(pid, &h->helper_start, NULL)) < 0)
        return capsa_err_set(err, -r, "interpose: the supervisor's start time");
    return 0;
}

/* Record mode: every "allow" of the program becomes "notify", except read
 * and write, which the listener handover itself needs (and every program
 * makes): a prefix lets them through before the program proper. */
static int record_patch(struct capsa_seccomp_prog *pr, struct capsa_err *err)
{
    for (unsigned i = 0; i < pr->n_insns; i++)
        if (pr->insns[i].code == (BPF_RET | BPF_K) && pr->insns[i].k == SECCOMP_RET_ALLOW)
            pr->insns[i].k = SECCOMP_RET_USER_NOTIF;
    const struct sock_filter pre[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 4),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_read, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_write, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    size_t n = pr->n_insns + ARRAY_SIZE(pre);
    if (n > BPF_MAXINSNS)
        return capsa_err_setx(err, E2BIG, "interpose: record mode: the filter is too long");
    struct sock_filter *in = malloc(n * sizeof *in);
    if (in == NULL)
        return capsa_err_set(err, ENOMEM, "interpose: record mode");
    memcpy(in, pre, sizeof pre);
    memcpy(in + ARRAY_SIZE(pre), pr->insns, pr->n_insns * sizeof *in);
    free(pr->insns);
    pr->insns = in;
    pr->n_insns = (unsigned short)n;
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
    /* Record mode: what the kernel would allow goes to the supervisor too,
     * which notes the call and lets it go on (it was allowed anyway). */
    if (ih->policy.record && (r = record_patch(h->child_prog, err)) < 0)
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
        capsa_seccomp_prog_free(ih->super_prog);
        capsa_seccomp_prog_free(ih->fetch_prog);
        free(ih);
    }
    h->priv = NULL;
    capsa_seccomp_prog_free(h->child_prog);
    h->child_prog = NULL;
}

/* In the init and every exec'd process, at the seccomp filter's place: the
 * workload's filter, and its listener to the supervisor with our pid. */
static int ip_child_confine(struct capsa_level_child *c, struct capsa_err *err)
{
    int nfd = -1;
    int r = capsa_seccomp_load(c->prog, &nfd, err);
    if (r < 0)
        return capsa_err_wrap(err, "interpose filter");
    /* The listener's number, by write(2): the supervisor's fetcher takes
     * the fd out of us (super.c says why not sendmsg), then we close ours. */
    int32_t num = nfd;
    char ack = 0;
    ssize_t n = write(c->level_fd, &num, sizeof num);
    int e = errno;
    if (n == (ssize_t)sizeof num) {
        n = read(c->level_fd, &ack, 1);
        e = n == 0 ? EPIPE : errno;
    }
    close(nfd);
    capsa_close(&c->level_fd);
    if (n != 1 && n != (ssize_t)sizeof num)
        return capsa_err_set(err, e, "interpose: hand the filter to the supervisor");
    if (ack != 'A')
        return capsa_err_setx(err, EPROTO,
                              "interpose: the supervisor could not take the filter's listener");
    return 0;
}

static void interpose_host_stop(int state_dirfd, pid_t pid, unsigned long long start)
{
    (void)state_dirfd;
    if (pid > 0)
        capsa_proc_kill_if_same(pid, start);
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
    .host_stop = interpose_host_stop,
    .child_confine = ip_child_confine,
};
