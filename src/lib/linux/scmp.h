/* seccomp.h - linux.seccomp: compile the OCI seccomp section into a classic
 * BPF program with libseccomp (linked statically; its code only runs for a
 * container that has a seccomp section), install that
 * program with the raw seccomp(2) syscall, and hand a user-notification
 * listener fd to the agent at linux.seccomp.listenerPath.
 *
 * The split between compile and load is deliberate: compiling allocates,
 * walks libseccomp's tables and may warn, so it runs before the container is
 * locked down (before pivot_root, best in the runtime before clone); loading
 * is one syscall on a ready-made array, so it can be the very last step
 * before execve. */

/* Named scmp.h, not seccomp.h: src/lib is on the include path, and a
 * linux/seccomp.h here would shadow the kernel's <linux/seccomp.h>. */
#ifndef CAPSA_LINUX_SCMP_H
#define CAPSA_LINUX_SCMP_H

#include <linux/seccomp.h>

#include <stdbool.h>
#include <stddef.h>
#include <linux/filter.h>

#include "spec/spec.h"
#include "util/err.h"

#ifndef CAPSA_WARN_FN_DEFINED
#define CAPSA_WARN_FN_DEFINED
/* Same type as in linux/cgroup.h (repeating an identical typedef is valid C11). */
typedef void (*capsa_warn_fn)(void *opaque, const char *msg);
#endif

/* A compiled filter: plain memory, inherited as is by a cloned child. */
struct capsa_seccomp_prog {
    struct sock_filter *insns; /* heap array of n_insns instructions */
    unsigned short n_insns;
    unsigned int flags; /* SECCOMP_FILTER_FLAG_* from linux.seccomp.flags */
    bool uses_notify;   /* some rule (or the default) is SCMP_ACT_NOTIFY */
};

/* Build the filter for sc with libseccomp: default action,
 * architectures, flags, and every rule. Unknown syscall names are skipped
 * with a warning through warn (may be NULL), as runc does. On success *out is
 * a heap struct to release with capsa_seccomp_prog_free. Errors name the
 * linux.seccomp field at fault. */
int capsa_seccomp_compile(const struct capsa_seccomp *sc, struct capsa_seccomp_prog **out,
                          capsa_warn_fn warn, void *opaque, struct capsa_err *err);

/* Install p on the calling thread (or every thread with TSYNC) with
 * seccomp(SECCOMP_SET_MODE_FILTER). No allocation and no libseccomp call.
 * The caller must hold no_new_privs or CAP_SYS_ADMIN. When p->uses_notify,
 * the listener fd is stored in *notify_fd_out (O_CLOEXEC, caller closes);
 * otherwise *notify_fd_out is -1. notify_fd_out may be NULL only when the
 * filter does not use notify. */
int capsa_seccomp_load(const struct capsa_seccomp_prog *p, int *notify_fd_out,
                       struct capsa_err *err);

void capsa_seccomp_prog_free(struct capsa_seccomp_prog *p);

/* Send the OCI "container process state" to the seccomp agent listening on
 * listener_path (AF_UNIX, SOCK_STREAM): one message whose payload is
 * {"ociVersion","fds":["seccompFd"],"pid","metadata","state"} and whose
 * SCM_RIGHTS carries notify_fd. state_json is the container's OCI state
 * document (its "pid" is the init's, and becomes the message's "pid" too);
 * metadata may be NULL. */
int capsa_seccomp_send_listener(const char *listener_path, const char *metadata,
                                const char *state_json, int notify_fd, struct capsa_err *err);

/* The same for a process other than the init (exec): the message's
 * top-level "pid" is process_pid, the process the filter was installed in,
 * while "state.pid" stays the init's, as runc sends it (the runtime-spec:
 * "pid" is the container process the notifications come from). A
 * process_pid <= 0 takes the state's pid. */
int capsa_seccomp_send_listener_pid(const char *listener_path, const char *metadata,
                                    const char *state_json, int process_pid, int notify_fd,
                                    struct capsa_err *err);

#endif
