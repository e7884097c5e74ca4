/* super.c - the interpose supervisor: one process per container.
 *
 * Born at create as PID 1 of a PID namespace of its own (level.c), inside
 * which the container's PID namespace is then made: nothing in the
 * container can name it (no pid of it exists there), and when it dies the
 * kernel kills every process of its namespace, the container's included:
 * the workload cannot outlive its supervisor (fail closed).
 *
 * Its life:
 *  1. a procfs of its own namespace (it sees the container's processes
 *     there under the same numbers as the seccomp notifications give);
 *  2. wait for the first listener (the init's at start, or an exec'd
 *     process's): the sender's pid comes with it (SCM_CREDENTIALS), whose
 *     user namespace we join (a brokered call then runs with exactly the
 *     caller's ids and capabilities in that namespace, never the host's),
 *     and whose root we chroot into, so that the kernel resolves every
 *     path for us as it would for the caller, ".." and absolute symlinks
 *     included;
 *  3. confine ourselves: capabilities down to what a brokered call may use
 *     (the container's bounding set) plus the few we need to read the
 *     callers (SYS_PTRACE, SETUID, SETGID); our own seccomp filter. Not
 *     Landlock: a Landlock domain may not ptrace-access processes outside
 *     it, and reading a caller's memory (process_vm_readv) is such an
 *     access;
 *  4. serve notifications until every listener has hung up (all the
 *     container's processes are gone) and the init has sent its listener or
 *     died.
 *
 * It is single-threaded: the identity it takes for a call (setfsuid,
 * setfsgid, setgroups, umask, capset) is per-thread or per-process state
 * that no other thread may see half-changed. */
#include "level/interpose/super.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "level/interpose/vfile.h"
#include "linux/rootfs.h"
#include "linux/scmp.h"
#include "sys/sys.h"
#include "util/util.h"

/* cur_caps until drop_caps: everything the runtime had. */
#define ALL_CAPS (~0ULL)
/* cur_caps when an id change may have changed them (setfsuid). */
#define CAPS_UNKNOWN (~0ULL >> 1)

#ifndef SECCOMP_ADDFD_FLAG_SEND
#define SECCOMP_ADDFD_FLAG_SEND (1UL << 1)
#endif

#define MAX_LISTENERS 1024

static int capset_eff(uint64_t eff, uint64_t prm)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2] = {
        {.effective = (uint32_t)eff, .permitted = (uint32_t)prm, .inheritable = 0},
        {.effective = (uint32_t)(eff >> 32), .permitted = (uint32_t)(prm >> 32), .inheritable = 0},
    };
    return (int)syscall(SYS_capset, &h, d);
}

/* --- the caller's identity --- */

static int parse_ids(const char *v, unsigned long *out, int n)
{
    for (int i = 0; i < n; i++) {
        char *end;
        errno = 0;
        unsigned long x = strtoul(v, &end, 10);
        if (errno || end == v)
            return -1;
        out[i] = x;
        v = end;
    }
    return 0;
}

/* /proc/<tid>/status of a caller, through the supervisor's cache of open
 * status files (super.h); <= 0 when the thread is gone. */
static ssize_t read_status(struct capsa_ip_sup *s, pid_t tid, char *buf, size_t size)
{
    __typeof__(s->status[0]) *e = &s->status[(unsigned)tid % ARRAY_SIZE(s->status)];
    if (e->fd >= 0 && e->tid == tid) {
        ssize_t n = pread(e->fd, buf, size, 0);
        if (n > 0)
            return n;
        /* That thread is gone; this one, if any, has its id now. */
    }
    capsa_close(&e->fd);
    char path[32];
    snprintf(path, sizeof path, "%d/status", (int)tid);
    e->fd = openat(s->procfd, path, O_RDONLY | O_CLOEXEC);
    e->tid = tid;
    if (e->fd < 0)
        return -1;
    return pread(e->fd, buf, size, 0);
}

int capsa_ip_cred_load(struct capsa_ip_req *q)
{
    if (q->have_cred)
        return 0;
    char buf[4096];
    ssize_t n = read_status(q->s, (pid_t)q->n->pid, buf, sizeof buf - 1);
    if (n <= 0)
        return -ESRCH;
    buf[n] = '\0';
    struct capsa_ip_cred *c = &q->cred;
    memset(c, 0, sizeof *c);
    int seen = 0;
    for (char *line = buf, *nl; line && *line; line = nl) {
        nl = strchr(line, '\n');
        if (nl)
            *nl++ = '\0';
        char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        const char *k = line, *v = colon + 1;
        unsigned long ids[4];
        if (strcmp(k, "Tgid") == 0 && parse_ids(v, ids, 1) == 0) {
            c->tgid = (pid_t)ids[0];
            seen |= 1;
        } else if (strcmp(k, "Uid") == 0 && parse_ids(v, ids, 4) == 0) {
            c->ruid = (uid_t)ids[0];
            c->euid = (uid_t)ids[1];
            c->fsuid = (uid_t)ids[3];
            seen |= 2;
        } else if (strcmp(k, "Gid") == 0 && parse_ids(v, ids, 4) == 0) {
            c->rgid = (gid_t)ids[0];
            c->egid = (gid_t)ids[1];
            c->fsgid = (gid_t)ids[3];
            seen |= 4;
        } else if (strcmp(k, "Groups") == 0) {
            const char *p = v;
            c->n_groups = 0;
            for (;;) {
                while (*p == ' ' || *p == '\t')
                    p++;
                if (*p == '\0')
                    break;
                char *end;
                unsigned long g = strtoul(p, &end, 10);
                if (end == p)
                    break;
                if (c->n_groups >= (int)ARRAY_SIZE(c->groups)) {
                    c->n_groups = -1;
                    break;
                }
                c->groups[c->n_groups++] = (gid_t)g;
                p = end;
            }
            seen |= 8;
        } else if (strcmp(k, "CapEff") == 0) {
            c->cap_eff = strtoull(v, NULL, 16);
            seen |= 16;
        } else if (strcmp(k, "CapPrm") == 0) {
            c->cap_prm = strtoull(v, NULL, 16);
            seen |= 32;
        } else if (strcmp(k, "Umask") == 0) {
            c->umask = (mode_t)strtoul(v, NULL, 8) & 0777;
            seen |= 64;
        } else if (strcmp(k, "NStgid") == 0) {
            const char *last = v;
            for (const char *p = v; *p; p++)
                if (*p == '\t' || *p == ' ')
                    last = p + 1;
            c->nstgid = (pid_t)strtol(last, NULL, 10);
        } else if (strcmp(k, "NSpid") == 0) {
            /* The last number: the pid in the innermost namespace. */
            const char *last = v;
            for (const char *p = v; *p; p++)
                if (*p == '\t' || *p == ' ')
                    last = p + 1;
            c->nspid = (pid_t)strtol(last, NULL, 10);
            seen |= 128;
        }
    }
    if (seen != 255 || c->n_groups < 0)
        return -EPERM; /* refuse rather than guess an identity */
    q->have_cred = true;
    return 0;
}

int capsa_ip_admin(struct capsa_ip_sup *s)
{
    if (s->cur_caps == s->admin_caps)
        return 0;
    if (capset_eff(s->admin_caps, s->admin_caps | s->a->keep_caps) < 0)
        return -errno;
    s->cur_caps = s->admin_caps;
    return 0;
}

int capsa_ip_become(struct capsa_ip_req *q, bool access_mode)
{
    struct capsa_ip_sup *s = q->s;
    int r = capsa_ip_cred_load(q);
    if (r < 0)
        return r;
    const struct capsa_ip_cred *c = &q->cred;
    uid_t uid = access_mode ? c->ruid : c->fsuid;
    gid_t gid = access_mode ? c->rgid : c->fsgid;
    /* access(2) uses the real ids, and the permitted set for a real root
     * (none otherwise): the kernel's own rule. */
    uint64_t caps = access_mode ? (c->ruid == 0 ? c->cap_prm : 0) : c->cap_eff;
    caps &= s->a->keep_caps;
    bool was = s->applied;
    bool same_groups = was && s->cur.n_groups == c->n_groups &&
                       memcmp(s->cur.groups, c->groups, sizeof(gid_t) * (size_t)c->n_groups) == 0;
    /* The same caller again (the usual case): no id to change, and the
     * capabilities only if they differ. */
    bool ids_change = !was || !same_groups || s->cur.rgid != c->rgid || s->cur.egid != c->egid ||
                      s->cur.ruid != c->ruid || s->cur.euid != c->euid || s->cur.fsgid != gid ||
                      s->cur.fsuid != uid;
    if (ids_change) {
        /* The ids first, with our admin capabilities (CAP_SETUID/SETGID). */
        if ((r = capsa_ip_admin(s)) < 0)
            return r;
        /* Until every id is set, what was applied is unknown: a failure half
         * way must not let the next call skip a change. */
        s->applied = false;
        if (!same_groups && syscall(SYS_setgroups, (size_t)c->n_groups, c->groups) < 0)
            return -errno;
        /* The real and effective ids are the caller's too (the saved ones
         * stay 0, to come back): the kernel tells a socket's peer who
         * connected or sent (SO_PEERCRED, SCM_CREDENTIALS) by them, not by
         * the fs ids, and checks some permissions (sysctl files) by the
         * effective uid. Each resets the fs id; a non-zero euid clears the
         * effective capabilities, ours are taken back for setfsuid. */
        bool fs_reset = false;
        if (!was || s->cur.rgid != c->rgid || s->cur.egid != c->egid) {
            if (syscall(SYS_setresgid, c->rgid, c->egid, (gid_t)0) < 0)
                return -errno;
            fs_reset = true;
        }
        if (!was || s->cur.ruid != c->ruid || s->cur.euid != c->euid) {
            if (syscall(SYS_setresuid, c->ruid, c->euid, (uid_t)0) < 0)
                return -errno;
            if (capset_eff(s->admin_caps, s->admin_caps | s->a->keep_caps) < 0)
                return -errno;
            s->cur_caps = s->admin_caps;
            fs_reset = true;
        }
        if (!was || fs_reset || s->cur.fsgid != gid) {
            setfsgid(gid);
            if ((gid_t)setfsgid((gid_t)-1) != gid)
                return -EPERM;
        }
        if (!was || fs_reset || s->cur.fsuid != uid) {
            setfsuid(uid);
            if ((uid_t)setfsuid((uid_t)-1) != uid)
                return -EPERM;
        }
        /* setfsuid may have changed our capabilities: set them below
         * whatever they were. */
        s->cur_caps = CAPS_UNKNOWN;
    }
    if (!was || s->cur.umask != c->umask)
        umask(c->umask);
    s->cur = *c;
    s->cur.fsuid = uid;
    s->cur.fsgid = gid;
    s->applied = true;
    /* Then exactly the caller's capabilities. */
    if (s->cur_caps != caps && capset_eff(caps, s->admin_caps | s->a->keep_caps) < 0)
        return -errno;
    s->cur_caps = caps;
    return 0;
}

/* --- the caller's memory and fds --- */

/* Copy from or to the caller's memory. First with the identity we hold (the
 * last caller's, usually this one's: the kernel lets a process with the
 * caller's ids and at least its capabilities read a dumpable caller), so
 * that no capset is needed between two calls of the same caller; with our
 * own CAP_SYS_PTRACE where that is refused (a caller that is not dumpable,
 * or another's identity). */
static int mem_rw(struct capsa_ip_req *q, bool write, uint64_t addr, void *buf, size_t n)
{
    if (n == 0)
        return 0;
    struct iovec local = {.iov_base = buf, .iov_len = n};
    struct iovec remote = {.iov_base = (void *)(uintptr_t)addr, .iov_len = n};
    for (int tries = 0;; tries++) {
        ssize_t got = write ? process_vm_writev((pid_t)q->n->pid, &local, 1, &remote, 1, 0)
                            : process_vm_readv((pid_t)q->n->pid, &local, 1, &remote, 1, 0);
        if (got >= 0)
            return (size_t)got == n ? 0 : -EFAULT;
        if (errno == ESRCH)
            return -ESRCH;
        if (errno != EPERM || tries > 0 || q->s->cur_caps == q->s->admin_caps)
            return -EFAULT;
        int r = capsa_ip_admin(q->s);
        if (r < 0)
            return r;
    }
}

int capsa_ip_proc_open(struct capsa_ip_req *q, const char *rel, int flags)
{
    /* As for memory (mem_rw): with the identity we hold first. */
    int fd = openat(q->s->procfd, rel, flags | O_CLOEXEC);
    if (fd < 0 && (errno == EACCES || errno == EPERM) && q->s->cur_caps != q->s->admin_caps) {
        int r = capsa_ip_admin(q->s);
        if (r < 0)
            return r;
        fd = openat(q->s->procfd, rel, flags | O_CLOEXEC);
    }
    return fd < 0 ? -errno : fd;
}

int capsa_ip_mem_read(struct capsa_ip_req *q, uint64_t addr, void *buf, size_t n)
{
    return mem_rw(q, false, addr, buf, n);
}

int capsa_ip_mem_write(struct capsa_ip_req *q, uint64_t addr, const void *buf, size_t n)
{
    return mem_rw(q, true, addr, (void *)buf, n);
}

int capsa_ip_mem_string(struct capsa_ip_req *q, uint64_t addr, char *buf, size_t size)
{
    if (addr == 0)
        return -EFAULT;
    size_t have = 0;
    /* Page by page: the string may end right before an unmapped page. */
    while (have < size) {
        uint64_t a = addr + have;
        size_t chunk = 4096 - (size_t)(a & 4095);
        if (chunk > size - have)
            chunk = size - have;
        int r = capsa_ip_mem_read(q, a, buf + have, chunk);
        if (r < 0)
            return r;
        void *nul = memchr(buf + have, '\0', chunk);
        if (nul != NULL)
            return 0;
        have += chunk;
    }
    return -ENAMETOOLONG;
}

int capsa_ip_still_valid(struct capsa_ip_req *q)
{
    uint64_t id = q->n->id;
    if (ioctl(q->nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
        return -ESRCH;
    return 0;
}

int capsa_ip_getfd(struct capsa_ip_req *q, int fd)
{
    int r = capsa_ip_cred_load(q);
    if (r < 0)
        return r;
    if ((r = capsa_ip_admin(q->s)) < 0)
        return r;
    int pfd = capsa_pidfd_open(q->cred.tgid, 0);
    if (pfd < 0)
        return -ESRCH;
    int dup = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
    int e = errno;
    close(pfd);
    if (dup < 0)
        return e == EBADF ? -EBADF : -e;
    return dup;
}

int capsa_ip_fd_path(struct capsa_ip_sup *s, int fd, char *buf, size_t size)
{
    char link[32];
    snprintf(link, sizeof link, "self/fd/%d", fd);
    ssize_t n = readlinkat(s->procfd, link, buf, size - 1);
    if (n < 0)
        return -errno;
    if ((size_t)n >= size - 1)
        return -ENAMETOOLONG;
    buf[n] = '\0';
    return 0;
}

/* --- the audit log --- */

static void json_str(char *out, size_t size, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 8 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            out[o++] = '\\';
            out[o++] = (char)ch;
        } else if (ch < 0x20 || ch >= 0x7f) {
            o += (size_t)snprintf(out + o, size - o, "\\u%04x", ch);
        } else {
            out[o++] = (char)ch;
        }
    }
    out[o] = '\0';
}

static void audit(struct capsa_ip_req *q)
{
    const struct capsa_ip_super_args *a = q->s->a;
    if (a->audit_fd < 0 || a->policy->audit == CAPSA_IP_AUDIT_NONE)
        return;
    bool refused = q->reason != NULL;
    if (!refused && a->policy->audit != CAPSA_IP_AUDIT_ALL)
        return;
    if (!q->have_cred) /* a call served without it (the stat of an fd): the pid for the log */
        (void)capsa_ip_cred_load(q);
    char path[1024] = "";
    json_str(path, sizeof path, q->path);
    char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, q->n->data.nr);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char line[1600];
    int len = snprintf(
        line, sizeof line,
        "{\"time\":%lld.%03ld,\"container\":\"%s\",\"pid\":%d,\"syscall\":\"%s\",%s%s%s"
        "\"result\":%s%lld,\"decision\":\"%s\"%s%s%s}\n",
        (long long)ts.tv_sec, ts.tv_nsec / 1000000, a->id, q->have_cred ? q->cred.nspid : 0,
        name ? name : "?", q->path ? "\"path\":\"" : "", q->path ? path : "", q->path ? "\"," : "",
        "", q->resp->error ? (long long)q->resp->error : (long long)q->resp->val,
        refused ? "refused" : "brokered", refused ? ",\"reason\":\"" : "", refused ? q->reason : "",
        refused ? "\"" : "");
    free(name);
    if (len > 0 && (size_t)len < sizeof line)
        (void)!write(a->audit_fd, line, (size_t)len);
}

/* --- the event loop --- */

/* The supervisor's own filter: the calls it makes, nothing else (the
 * broker's operations, its event loop, the listener ioctls, threads for
 * blocking connects, and what a sanitizer's runtime calls in the ASan test
 * build). The fetcher's: taking an fd out of a process and passing it on. */
static const int super_calls[] = {
    SYS_read,
    SYS_write,
    SYS_close,
    SYS_openat,
    SYS_openat2,
    SYS_newfstatat,
    SYS_fstat,
    SYS_statx,
    SYS_lseek,
    SYS_mmap,
    SYS_munmap,
    SYS_mremap,
    SYS_brk,
    SYS_madvise,
    SYS_mprotect,
    SYS_epoll_wait,
    SYS_epoll_pwait,
    SYS_epoll_ctl,
    SYS_recvmsg,
    SYS_sendmsg,
    SYS_sendto,
    SYS_accept4,
    SYS_setsockopt,
    SYS_getsockopt,
    SYS_process_vm_readv,
    SYS_process_vm_writev,
    SYS_pidfd_open,
    SYS_pidfd_getfd,
    SYS_setfsuid,
    SYS_setfsgid,
    SYS_setgroups,
    SYS_setresuid,
    SYS_setresgid,
    SYS_capset,
    SYS_capget,
    SYS_umask,
    SYS_fchdir,
    SYS_readlinkat,
    SYS_mkdirat,
    SYS_mknodat,
    SYS_unlinkat,
    SYS_renameat2,
    SYS_renameat,
    SYS_linkat,
    SYS_symlinkat,
    SYS_fchmodat,
    SYS_fchownat,
    SYS_utimensat,
    SYS_ftruncate,
    SYS_pwrite64,
    SYS_sigaltstack,
    SYS_sched_getaffinity,
    SYS_prlimit64,
    SYS_sched_yield,
    SYS_rt_sigaction,
    SYS_truncate,
    SYS_getxattr,
    SYS_setxattr,
    SYS_listxattr,
    SYS_removexattr,
    SYS_statfs,
    SYS_fstatfs,
    SYS_inotify_add_watch,
    SYS_bind,
    SYS_connect,
    SYS_fcntl,
    SYS_dup,
    SYS_memfd_create,
    SYS_faccessat2,
    SYS_exit_group,
    SYS_exit,
    SYS_getpid,
    SYS_gettid,
    SYS_clock_gettime,
    SYS_rt_sigprocmask,
    SYS_rt_sigreturn,
    SYS_futex,
    SYS_getrandom,
    SYS_ppoll,
    SYS_poll,
    SYS_pread64,
    SYS_sysinfo,
    SYS_getuid,
    SYS_geteuid,
    SYS_getgid,
    SYS_getegid,
    SYS_uname,
    SYS_fgetxattr,
    SYS_getdents64,
    SYS_set_robust_list,
    SYS_rseq,
    SYS_set_tid_address,
};
static const unsigned long super_ioctls[] = {SECCOMP_IOCTL_NOTIF_RECV, SECCOMP_IOCTL_NOTIF_SEND,
                                             SECCOMP_IOCTL_NOTIF_ID_VALID,
                                             SECCOMP_IOCTL_NOTIF_ADDFD};
static const int fetch_calls[] = {
    SYS_read,
    SYS_recvmsg,
    SYS_sendmsg,
    SYS_pidfd_open,
    SYS_pidfd_getfd,
    SYS_close,
    SYS_exit_group,
    SYS_exit,
    SYS_write,
    /* what a sanitizer's runtime calls on its own (the ASan test build) */
    SYS_mmap,
    SYS_munmap,
    SYS_madvise,
    SYS_mprotect,
    SYS_sigaltstack,
    SYS_sched_getaffinity,
    SYS_sched_yield,
    SYS_prlimit64,
    SYS_getpid,
    SYS_gettid,
    SYS_rt_sigprocmask,
    SYS_rt_sigaction,
    SYS_futex,
};

int capsa_ip_super_filters(struct capsa_seccomp_prog **super, struct capsa_seccomp_prog **fetch,
                           struct capsa_err *err)
{
    /* fetch NULL: no fetcher (the container shares our user namespace). */
    const struct capsa_ip_allowlist s = {
        .calls = super_calls,
        .n_calls = ARRAY_SIZE(super_calls),
        .ioctls = super_ioctls,
        .n_ioctls = ARRAY_SIZE(super_ioctls),
        .threads = true,
    };
    const struct capsa_ip_allowlist f = {.calls = fetch_calls, .n_calls = ARRAY_SIZE(fetch_calls)};
    if (fetch != NULL)
        *fetch = NULL;
    int r = capsa_ip_allowlist_compile(&s, super, err);
    if (r == 0 && fetch != NULL && (r = capsa_ip_allowlist_compile(&f, fetch, err)) < 0) {
        capsa_seccomp_prog_free(*super);
        *super = NULL;
    }
    return r;
}

/* --- the listener handover ---
 *
 * A container process hands its filter's listener over with write(2) and
 * waits with read(2): calls its own filter lets through in every mode,
 * where sendmsg (SCM_RIGHTS) may itself be brokered (an egress policy) and
 * would wait for a supervisor that does not yet hold the listener. The
 * message is the listener's fd number; the kernel adds the sender's pid
 * (SO_PASSCRED), and the fd is taken out of the sender with
 * pidfd_getfd(2), which needs CAP_SYS_PTRACE over a process that is not
 * dumpable until execve and whose memory belongs to the host's user
 * namespace. The supervisor gives that up when it joins a container's own
 * user namespace: then a fetcher process, forked before, keeps it (and
 * nothing else) and takes the fds for it. */

struct fetch_req {
    pid_t pid;
    int fd;
};

__attribute__((noreturn)) static void fetcher_main(int sock, const struct capsa_seccomp_prog *fprog)
{
    prctl(PR_SET_NAME, "capsa-ip-fetch", 0, 0, 0);
    for (int c = 0; c < 64; c++)
        if (c != CAP_SYS_PTRACE && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno == EINVAL)
            break;
    if (capset_eff(1ULL << CAP_SYS_PTRACE, 1ULL << CAP_SYS_PTRACE) < 0)
        _exit(1);
    struct capsa_err err = {0};
    if (capsa_seccomp_load(fprog, NULL, &err) < 0)
        _exit(1);
    for (;;) {
        struct fetch_req rq;
        ssize_t n = read(sock, &rq, sizeof rq);
        if (n != (ssize_t)sizeof rq)
            _exit(0);
        int fd = -1, e = 0;
        int pfd = capsa_pidfd_open(rq.pid, 0);
        if (pfd >= 0) {
            fd = (int)syscall(SYS_pidfd_getfd, pfd, rq.fd, 0);
            if (fd < 0)
                e = errno;
            close(pfd);
        } else {
            e = errno;
        }
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } u;
        struct iovec iov = {.iov_base = &e, .iov_len = sizeof e};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (fd >= 0) {
            memset(&u, 0, sizeof u);
            mh.msg_control = u.buf;
            mh.msg_controllen = sizeof u.buf;
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(sizeof(int));
            memcpy(CMSG_DATA(cm), &fd, sizeof fd);
        }
        if (sendmsg(sock, &mh, MSG_NOSIGNAL) < 0)
            _exit(0);
        if (fd >= 0)
            close(fd);
    }
}

/* Take fd out of pid: ourselves, or through the fetcher (fsock) when we
 * have given up our capabilities over the host's user namespace. */
static int fetch(struct capsa_ip_sup *s, int fsock, pid_t pid, int fd)
{
    if (fsock < 0) {
        /* CAP_SYS_PTRACE: the last call served may have left us the
         * caller's capabilities (before the first, we still hold all). */
        int r = s->cur_caps == ALL_CAPS ? 0 : capsa_ip_admin(s);
        if (r < 0)
            return r;
        int pfd = capsa_pidfd_open(pid, 0);
        if (pfd < 0)
            return -errno;
        int got = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
        int e = errno;
        close(pfd);
        return got < 0 ? -e : got;
    }
    struct fetch_req rq = {.pid = pid, .fd = fd};
    if (write(fsock, &rq, sizeof rq) != (ssize_t)sizeof rq)
        return -EPIPE;
    struct {
        int err; /* the fetcher's errno, 0 with an fd */
    } rep = {0};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = &rep, .iov_len = sizeof rep};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(fsock, &mh, MSG_CMSG_CLOEXEC);
    if (n != (ssize_t)sizeof rep)
        return -EPIPE;
    if (rep.err != 0)
        return -rep.err;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    if (cm == NULL || cm->cmsg_type != SCM_RIGHTS)
        return -EPROTO;
    int got;
    memcpy(&got, CMSG_DATA(cm), sizeof got);
    return got;
}

/* One handover message: the listener's number and the sender's pid. */
static int recv_listener(int sock, int *nr, pid_t *pid)
{
    int32_t num = -1;
    union {
        char buf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = &num, .iov_len = sizeof num};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -EPIPE;
    *pid = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
            struct ucred cr;
            memcpy(&cr, CMSG_DATA(c), sizeof cr);
            *pid = cr.pid;
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                close(fd);
            }
        }
    }
    if (n != (ssize_t)sizeof num || num < 0 || *pid <= 0)
        return -EPROTO;
    *nr = num;
    return 0;
}

/* Enter the container as the first sender of a listener sees it. */
static int enter_container(struct capsa_ip_sup *s, pid_t pid)
{
    char path[64];
    struct stat ours, theirs;
    /* The sources of the files we serve under /proc and /sys (vfile.h),
     * while we still see the host's cgroup directories. Without them the
     * real files are served. */
    struct capsa_ip_vsrc *vs = calloc(1, sizeof *vs);
    struct capsa_err verr = {0};
    if (vs != NULL && capsa_ip_vsrc_open(s->procfd, s->a->cgroup, pid, vs, &verr) == 0)
        s->vsrc = vs;
    else
        free(vs);
    /* Its root first: until its execve the sender is not dumpable and its
     * memory belongs to the host's user namespace, so /proc/<pid>/root
     * needs our capabilities there, which joining its own user namespace
     * gives up. */
    snprintf(path, sizeof path, "%d/root", (int)pid);
    s->rootfd = openat(s->procfd, path, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (s->rootfd < 0)
        return -errno;
    snprintf(path, sizeof path, "%d/ns/user", (int)pid);
    cleanup_close int uns = openat(s->procfd, path, O_RDONLY | O_CLOEXEC);
    if (uns < 0 || fstat(uns, &theirs) < 0 || fstatat(s->procfd, "self/ns/user", &ours, 0) < 0)
        return -errno;
    if ((ours.st_ino != theirs.st_ino || ours.st_dev != theirs.st_dev) &&
        setns(uns, CLONE_NEWUSER) < 0)
        return -errno;
    if (fchdir(s->rootfd) < 0 || chroot(".") < 0)
        return -errno;
    /* Our cwd is our procfs: "self/fd/N" then names an fd of ours for the
     * calls that take only a path. The container's relative paths are
     * always resolved from an explicit directory fd. */
    if (fchdir(s->procfd) < 0)
        return -errno;
    return 0;
}

/* Capabilities: the bounding set and permitted set down to what a brokered
 * call may use plus what we need ourselves. */
static int drop_caps(struct capsa_ip_sup *s)
{
    uint64_t keep = s->admin_caps | s->a->keep_caps;
    for (int c = 0; c < 64; c++) {
        if (keep & (1ULL << c))
            continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
            if (errno == EINVAL)
                break; /* past the kernel's last capability */
            return -errno;
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (capset_eff(s->admin_caps, keep) < 0)
        return -errno;
    s->cur_caps = s->admin_caps;
    return 0;
}

static void respond(struct capsa_ip_req *q)
{
    if (q->addfd >= 0) {
        struct seccomp_notif_addfd af = {
            .id = q->n->id,
            .flags = SECCOMP_ADDFD_FLAG_SEND,
            .srcfd = (uint32_t)q->addfd,
            .newfd = 0,
            .newfd_flags = q->addfd_flags,
        };
        if (ioctl(q->nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &af) < 0 && errno != ENOENT) {
            q->resp->val = 0;
            q->resp->error = -EMFILE;
            q->resp->flags = 0;
            (void)ioctl(q->nfd, SECCOMP_IOCTL_NOTIF_SEND, q->resp);
        }
        capsa_close(&q->addfd);
        return;
    }
    /* ENOENT: the caller was interrupted or died meanwhile. */
    (void)ioctl(q->nfd, SECCOMP_IOCTL_NOTIF_SEND, q->resp);
}

/* Record mode: the class of a call, from the filter's table. */
static enum capsa_ip_class class_of(int nr)
{
    size_t n;
    const struct capsa_ip_sysent *t = capsa_ip_syscalls(&n);
    for (size_t i = 0; i < n; i++)
        if (t[i].nr == nr)
            return t[i].cls;
    return CAPSA_IP_REFUSED;
}

/* Record mode: (re)write the profile of every call seen so far, an OCI
 * linux.seccomp section that allows them, ready for config.json. */
static void record_write(struct capsa_ip_sup *s)
{
    int fd = s->a->record_fd;
    char *buf = malloc(65536);
    if (buf == NULL)
        return;
    size_t o =
        (size_t)snprintf(buf, 65536,
                         "{\n  \"linux\": {\n    \"seccomp\": {\n"
                         "      \"defaultAction\": \"SCMP_ACT_ERRNO\",\n"
                         "      \"defaultErrnoRet\": 38,\n"
                         "      \"architectures\": [\"SCMP_ARCH_X86_64\"],\n"
                         "      \"syscalls\": [{\"action\": \"SCMP_ACT_ALLOW\", \"names\": [");
    bool first = true;
    for (int nr = 0; nr < 512 && o < 65000; nr++) {
        if (!(s->seen[nr / 64] & (1ULL << (nr % 64))))
            continue;
        char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_X86_64, nr);
        if (name != NULL)
            o += (size_t)snprintf(buf + o, 65536 - o, "%s\n        \"%s\"", first ? "" : ",", name);
        first = name == NULL && first;
        free(name);
    }
    o += (size_t)snprintf(buf + o, 65536 - o, "\n      ]}]\n    }\n  }\n}\n");
    if (pwrite(fd, buf, o, 0) == (ssize_t)o)
        (void)!ftruncate(fd, (off_t)o);
    free(buf);
}

static void serve_one(struct capsa_ip_sup *s, int nfd, struct seccomp_notif *n,
                      struct seccomp_notif_resp *resp, size_t nsize, size_t rsize)
{
    memset(n, 0, nsize);
    if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, n) < 0)
        return; /* ENOENT: gone before we looked */
    memset(resp, 0, rsize);
    resp->id = n->id;
    struct capsa_ip_req q = {.s = s, .nfd = nfd, .n = n, .resp = resp, .addfd = -1};
    int nr = n->data.nr;
    if (s->a->record_fd >= 0 && nr >= 0 && nr < 512) {
        bool fresh = !(s->seen[nr / 64] & (1ULL << (nr % 64)));
        s->seen[nr / 64] |= 1ULL << (nr % 64);
        if (fresh)
            record_write(s);
        /* Allowed by the filter proper: let it go on (the filter's argument
         * checks already ran; nothing is decided here). */
        bool egress_call = nr == SYS_sendmsg || nr == SYS_sendmmsg;
        if (class_of(nr) == CAPSA_IP_NATIVE && !(egress_call && s->a->policy->egress_set)) {
            resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
            (void)ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, resp);
            return;
        }
    }
    capsa_ip_broker(&q);
    audit(&q);
    if (!q.async)
        respond(&q);
}

__attribute__((noreturn)) void capsa_ip_supervise(const struct capsa_ip_super_args *a)
{
    struct capsa_ip_sup s = {.a = a, .procfd = -1, .rootfd = -1, .cur_caps = ALL_CAPS};
    for (size_t i = 0; i < ARRAY_SIZE(s.status); i++)
        s.status[i].fd = -1;
    /* Record mode: read and write go through without a notification (the
     * listener handover needs them), and every program needs them. */
    s.seen[0] = (1ULL << SYS_read) | (1ULL << SYS_write);
    s.admin_caps = (1ULL << CAP_SYS_PTRACE) | (1ULL << CAP_SETUID) | (1ULL << CAP_SETGID);
    struct capsa_err err = {0};
    prctl(PR_SET_NAME, "capsa-interpose", 0, 0, 0);
    /* We never execute anything: no_new_privs costs nothing and lets us
     * install Landlock and our filter without CAP_SYS_ADMIN. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        _exit(118);
    (void)signal(SIGPIPE, SIG_IGN);
    (void)signal(SIGCHLD, SIG_IGN); /* PID 1 of our namespace: reap whatever comes */
    s.procfd = capsa_proc_open_private(&err);
    if (s.procfd < 0)
        _exit(120);
    /* Only a container with a user namespace of its own needs the fetcher:
     * otherwise entering it leaves us our capabilities over the host's. */
    int fsock = -1;
    if (a->fetch_prog != NULL) {
        int fp[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fp) < 0)
            _exit(120);
        pid_t fpid = fork();
        if (fpid < 0)
            _exit(120);
        if (fpid == 0) {
            close(fp[0]);
            close(a->ctl_fd);
            if (a->listen_fd >= 0)
                close(a->listen_fd);
            fetcher_main(fp[1], a->fetch_prog);
        }
        close(fp[1]);
        fsock = fp[0];
    }
    struct seccomp_notif_sizes sz;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
        _exit(121);
    struct seccomp_notif *n =
        calloc(1, sz.seccomp_notif > sizeof *n ? sz.seccomp_notif : sizeof *n);
    size_t rsize = sz.seccomp_notif_resp > sizeof(struct seccomp_notif_resp)
                       ? sz.seccomp_notif_resp
                       : sizeof(struct seccomp_notif_resp);
    struct seccomp_notif_resp *resp = calloc(1, rsize);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (n == NULL || resp == NULL || ep < 0)
        _exit(122);
    int one = 1;
    setsockopt(a->ctl_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = a->ctl_fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, a->ctl_fd, &ev);
    ev.data.fd = a->listen_fd;
    if (a->listen_fd >= 0) {
        setsockopt(a->listen_fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
        epoll_ctl(ep, EPOLL_CTL_ADD, a->listen_fd, &ev);
    }
    bool ctl_open = true, entered = false;
    int live = 0;
    /* fd -> kind: 1 a listener, 2 an exec connection */
    enum {
        MAX_FD = 4096
    };
    unsigned char *kind = calloc(MAX_FD, 1);
    if (kind == NULL)
        _exit(122);
    for (;;) {
        /* The init has sent its listener (or died), and every process of
         * every filter is gone. */
        if (!ctl_open && live == 0)
            break;
        struct epoll_event evs[16];
        int k = epoll_wait(ep, evs, ARRAY_SIZE(evs), -1);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            _exit(123);
        }
        for (int i = 0; i < k; i++) {
            int fd = evs[i].data.fd;
            if (fd == a->listen_fd) {
                int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
                if (c >= 0 && c < MAX_FD) {
                    setsockopt(c, SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
                    kind[c] = 2;
                    struct epoll_event e2 = {.events = EPOLLIN, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &e2);
                } else if (c >= 0) {
                    close(c);
                }
                continue;
            }
            if (fd == a->ctl_fd || (fd < MAX_FD && kind[fd] == 2)) {
                int lfd = -1, num = -1;
                pid_t pid = 0;
                int r = recv_listener(fd, &num, &pid);
                if (r == -EAGAIN)
                    continue;
                if (r == 0 && (lfd = fetch(&s, fsock, pid, num)) < 0)
                    r = lfd;
                /* The sender waits for this byte before it goes on. */
                char ack = r == 0 ? 'A' : 'E';
                if (r != -EPIPE)
                    (void)!write(fd, &ack, 1);
                if (r == 0 && !entered) {
                    /* Before any notification is served: the sender is in
                     * the container, still running the runtime's code. */
                    if (enter_container(&s, pid) < 0 || drop_caps(&s) < 0 ||
                        capsa_seccomp_load(a->super_prog, NULL, &err) < 0)
                        _exit(124);
                    entered = true;
                }
                if (r == 0 && lfd < MAX_FD && live < MAX_LISTENERS) {
                    kind[lfd] = 1;
                    struct epoll_event e2 = {.events = EPOLLIN, .data.fd = lfd};
                    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e2);
                    live++;
                } else if (r == 0) {
                    close(lfd); /* the process's brokered calls fail (ENOSYS) */
                }
                /* One listener per connection: done with it. */
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                if (fd == a->ctl_fd)
                    ctl_open = false;
                else
                    kind[fd] = 0;
                close(fd);
                continue;
            }
            if (fd < MAX_FD && kind[fd] == 1) {
                if (evs[i].events & EPOLLIN)
                    serve_one(&s, fd, n, resp, sz.seccomp_notif, rsize);
                else if (evs[i].events & (EPOLLHUP | EPOLLERR)) {
                    /* Every process of this filter is gone. */
                    epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
                    kind[fd] = 0;
                    close(fd);
                    live--;
                }
            }
        }
    }
    _exit(0);
}
