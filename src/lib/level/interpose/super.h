/* super.h - the interpose supervisor's insides, shared by super.c (the
 * process, its confinement and its event loop) and broker.c (the brokered
 * calls). Nothing here is seen by the core. */
#ifndef CAPSA_LEVEL_INTERPOSE_SUPER_H
#define CAPSA_LEVEL_INTERPOSE_SUPER_H

#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "level/interpose/interpose.h"

/* What the runtime hands the supervisor when it clones it (its memory is
 * the supervisor's copy). */
struct capsa_ip_super_args {
    const struct capsa_ip_policy *policy;
    const char *id;
    const char *cgroup; /* capsa_cgroup_encode text, or NULL */
    int ctl_fd;         /* the init's listener arrives here */
    int listen_fd;      /* exec'd processes connect here (their listeners) */
    int audit_fd;       /* audit.jsonl in the state directory, or -1 */
    int record_fd;      /* record mode: the profile is written here at the end, or -1 */
    uint64_t keep_caps; /* the container's bounding set: the most a brokered call may use */
    const struct capsa_seccomp_prog *super_prog; /* capsa_ip_super_filters */
    const struct capsa_seccomp_prog *fetch_prog; /* NULL: no fetcher, fds are taken directly */
};

/* The supervisor's and its fetcher's own filters, built by the runtime
 * before it clones the supervisor. */
struct capsa_seccomp_prog;
struct capsa_err;
int capsa_ip_super_filters(struct capsa_seccomp_prog **super, struct capsa_seccomp_prog **fetch,
                           struct capsa_err *err);

/* The supervisor process; never returns. */
__attribute__((noreturn)) void capsa_ip_supervise(const struct capsa_ip_super_args *a);

/* The identity of the calling thread, from /proc/<tid>/status. */
struct capsa_ip_cred {
    uid_t ruid, euid, fsuid;
    gid_t rgid, egid, fsgid;
    gid_t groups[64];
    int n_groups; /* -1: more than fit (then the call is refused) */
    uint64_t cap_eff, cap_prm;
    mode_t umask;
    pid_t tgid;   /* in the supervisor's pid namespace */
    pid_t nspid;  /* the thread, in the container's pid namespace */
    pid_t nstgid; /* its process there */
};

struct capsa_ip_sup;

/* One notification being served. */
struct capsa_ip_req {
    struct capsa_ip_sup *s;
    int nfd; /* the listener it came from */
    struct seccomp_notif *n;
    struct seccomp_notif_resp *resp;
    struct capsa_ip_cred cred;
    bool have_cred;
    int addfd;                /* >= 0: install this fd in the caller as the result */
    unsigned int addfd_flags; /* O_CLOEXEC for the new fd */
    const char *path;         /* for the audit log: audit_path or NULL */
    const char *reason;
    bool async; /* a thread of ours answers it (a blocking inet connect) */
    char audit_path[512];
};

/* The supervisor's state (super.c). */
struct capsa_ip_sup {
    const struct capsa_ip_super_args *a;
    int procfd;          /* a procfs of our own pid namespace (which holds the container's) */
    int rootfd;          /* the container's root (we are chrooted there too) */
    uint64_t admin_caps; /* what the supervisor itself needs between calls */
    /* The identity applied now (setfsuid and friends), to skip what does
     * not change from one call to the next. */
    bool applied;
    struct capsa_ip_cred cur;
    uint64_t cur_caps;
    /* /proc/<tid>/status of recent callers, kept open and read with pread
     * (open and close cost more than the read here): a thread id reused
     * after its thread died reads ESRCH on the old fd, never the new
     * thread's identity. Indexed by tid modulo the size. */
    struct {
        pid_t tid;
        int fd;
    } status[64];
    /* vfile sources (vfile.h) */
    void *vsrc;
    /* record mode: the system calls seen (bit per number, 0..511) */
    uint64_t seen[8];
};

/* super.c: */
/* Open rel below our procfs (<tid>/cwd, <tid>/fd/N of the caller): with the
 * identity held now when the kernel allows it, else with our own
 * CAP_SYS_PTRACE (no capset when the same caller calls again). -errno. */
int capsa_ip_proc_open(struct capsa_ip_req *q, const char *rel, int flags);
int capsa_ip_cred_load(struct capsa_ip_req *q);
/* Take the caller's identity for the operation (fs ids, groups, umask,
 * effective capabilities = theirs); access_mode: the real ids and the
 * capabilities access(2) uses. */
int capsa_ip_become(struct capsa_ip_req *q, bool access_mode);
/* Back to the supervisor's own capabilities (reading memory, /proc). */
int capsa_ip_admin(struct capsa_ip_sup *s);
/* Copy n bytes at addr out of the caller / into it. */
int capsa_ip_mem_read(struct capsa_ip_req *q, uint64_t addr, void *buf, size_t n);
int capsa_ip_mem_write(struct capsa_ip_req *q, uint64_t addr, const void *buf, size_t n);
/* A NUL-terminated string of at most size-1 bytes (ENAMETOOLONG past it). */
int capsa_ip_mem_string(struct capsa_ip_req *q, uint64_t addr, char *buf, size_t size);
/* Whether the notification is still pending (the caller has not died or
 * been interrupted): checked after reading its memory. */
int capsa_ip_still_valid(struct capsa_ip_req *q);
/* The caller's fd fd, duplicated into ours. */
int capsa_ip_getfd(struct capsa_ip_req *q, int fd);

/* broker.c: serve one notification: fill q->resp (val/error) or q->addfd. */
void capsa_ip_broker(struct capsa_ip_req *q);
/* The canonical path of our fd (as seen from the container's root). */
int capsa_ip_fd_path(struct capsa_ip_sup *s, int fd, char *buf, size_t size);

#endif
