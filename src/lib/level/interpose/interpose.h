/* interpose.h - the interpose isolation level (docs/interpose.md).
 *
 * The workload's system calls pass a strict, argument-checked allowlist
 * (filter.c) with three classes: native (allowed in the kernel), brokered
 * (SECCOMP_RET_USER_NOTIF: a supervisor process serves them) and refused
 * (an errno). The supervisor (super.c) is one small process per container,
 * started at create: it is PID 1 of a PID namespace of its own, inside
 * which the container's PID namespace is made, so that the container cannot
 * see it and its death kills the container (fail closed). It receives the
 * listener fd of the init's filter and of every exec'd process's over a
 * socket, copies each brokered call's arguments out of the caller, applies
 * the policy (policy.c), performs the call itself with the calling thread's
 * identity (broker.c) and answers with the result or an fd it installs in
 * the caller (SECCOMP_IOCTL_NOTIF_ADDFD). Some files under /proc and /sys
 * are served from the container's cgroup limits (vfile.c). */
#ifndef CAPSA_LEVEL_INTERPOSE_H
#define CAPSA_LEVEL_INTERPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "level/level.h"
#include "spec/spec.h"
#include "util/err.h"

extern const struct capsa_level capsa_level_interpose;

/* ---- policy.c: the per-container policy, from annotations ----
 *   capsa.interpose.readonly   paths (colon-separated, absolute) nothing may modify
 *   capsa.interpose.hidden     paths that do not exist for the workload (ENOENT)
 *   capsa.interpose.devices    "none" (default: only the standard nodes of /dev and
 *                              /dev/pts may be opened) or "all" (every node the
 *                              native container has)
 *   capsa.interpose.egress     allowlist for connect/sendto to inet addresses:
 *                              comma-separated ADDR[/PREFIX][:PORT] (IPv6 in [..]);
 *                              absent: no restriction; "none": no inet egress at all
 *                              (loopback always allowed)
 *   capsa.interpose.audit      "refused" (default), "all" or "none": which calls the
 *                              audit log (JSON lines, audit.jsonl in the state dir) gets
 *   capsa.interpose.record     "true": record mode (docs/interpose.md)
 */
enum capsa_ip_audit {
    CAPSA_IP_AUDIT_NONE,
    CAPSA_IP_AUDIT_REFUSED,
    CAPSA_IP_AUDIT_ALL
};

struct capsa_ip_net_rule {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* network byte order */
    unsigned prefix;  /* 0..32 / 0..128 */
    uint16_t port;    /* host byte order; 0: any */
};

struct capsa_ip_policy {
    char **readonly; /* absolute, normalised ("/a/b", no trailing slash, no . or ..) */
    size_t n_readonly;
    char **hidden;
    size_t n_hidden;
    bool all_devices;
    bool egress_set; /* false: no egress restriction */
    struct capsa_ip_net_rule *egress;
    size_t n_egress;
    enum capsa_ip_audit audit;
    bool record;
};

/* Parse and check every capsa.interpose.* annotation (an unknown key is an
 * error naming it). */
int capsa_ip_policy_parse(const struct capsa_spec *spec, struct capsa_ip_policy *out,
                          struct capsa_err *err);
void capsa_ip_policy_free(struct capsa_ip_policy *p);

/* What may be done to the object at canonical path (absolute, as seen from
 * the container's root): 0, -ENOENT (hidden: at or under a hidden path),
 * -EROFS (modify is true and the path is at or under a read-only one). */
int capsa_ip_policy_path(const struct capsa_ip_policy *p, const char *path, bool modify);

/* Whether a hidden or read-only path lies strictly below path (canonical):
 * -EPERM, else 0. A directory holding one may not be renamed (nor replaced
 * by a rename): the files under it would move to paths the policy does not
 * name, and be seen or changed there. */
int capsa_ip_policy_holds(const struct capsa_ip_policy *p, const char *path);

/* Whether an inet destination is allowed: 0 or -ECONNREFUSED. Anything that
 * is not AF_INET/AF_INET6 is 0 (unix sockets are checked as paths). */
int capsa_ip_policy_addr(const struct capsa_ip_policy *p, const struct sockaddr *sa, socklen_t len);

/* ---- filter.c: the workload's filter ---- */
enum capsa_ip_class {
    CAPSA_IP_NATIVE,   /* allowed in the kernel (argument checks where possible) */
    CAPSA_IP_BROKERED, /* SECCOMP_RET_USER_NOTIF */
    CAPSA_IP_REFUSED,  /* SECCOMP_RET_ERRNO(errno) */
};

struct capsa_ip_sysent {
    const char *name;
    int nr; /* x86-64 */
    enum capsa_ip_class cls;
    int err;           /* refused: the errno (EPERM or ENOSYS) */
    const char *check; /* native: the argument checks, in words (docs table) */
};

/* The table (docs/interpose.md prints it). Calls not listed: ENOSYS. */
const struct capsa_ip_sysent *capsa_ip_syscalls(size_t *n);

/* The filter program for policy p. */
struct capsa_seccomp_prog;
int capsa_ip_filter_compile(const struct capsa_ip_policy *p, struct capsa_seccomp_prog **out,
                            struct capsa_err *err);

/* A filter for the supervisor's own processes: the listed calls allowed;
 * ioctl only with one of the listed requests; with threads, clone only
 * with CLONE_THREAD and clone3 ENOSYS (its flags are in memory, so glibc
 * falls back to clone); anything else, and any other architecture, kills
 * the process. Built by hand like the workload's, in the runtime before
 * the supervisor is forked: no libseccomp work (its heap, its page faults)
 * in the supervisor on the way to serving the first call. */
struct capsa_ip_allowlist {
    const int *calls;
    size_t n_calls;
    const unsigned long *ioctls;
    size_t n_ioctls;
    bool threads;
};
int capsa_ip_allowlist_compile(const struct capsa_ip_allowlist *a, struct capsa_seccomp_prog **out,
                               struct capsa_err *err);

#endif
