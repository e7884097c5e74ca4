/* child.h - the steps shared by every process the runtime clones into a
 * container: the init of `create`/`run` (core/init.c) and the process of
 * `exec` (core/exec.c). Both run the runtime's code inside the container
 * until execve, report errors over the sync socket (core/sync.h) and end the
 * same way, so that a rule such as where the seccomp filter goes is written
 * once. */
#ifndef CAPSA_CORE_CHILD_H
#define CAPSA_CORE_CHILD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/sync.h"
#include "spec/spec.h"
#include "util/err.h"

struct capsa_cgroup_join;
struct capsa_seccomp_prog;
struct capsa_level;
struct capsa_level_child;

/* The first steps: a session of our own (no controlling terminal: the
 * caller's terminal cannot be pushed input with TIOCSTI, as in runc), the
 * runtime's ignored signals back to default, then wait for GO (collecting
 * MOUNT_FD fds into mount_fds[0..n_mount_fds), each -1 until sent), then
 * into the v1 cgroups through join (may be NULL; its fds are closed), then
 * non-dumpable until execve. *go receives the GO message. */
int capsa_child_begin(int sock, const sigset_t *ignored, const struct capsa_cgroup_join *join,
                      int *mount_fds, size_t n_mount_fds, struct capsa_sync_msg *go,
                      struct capsa_err *err);

/* While still privileged: linux.personality, the process attributes
 * (rlimits, oom score through procfd, scheduler, I/O priority), then into
 * process.cwd (created when missing if create_cwd; *cwd_fd keeps it for a
 * second chdir as the user), then the executable's path in *exe (skipped
 * when exe is NULL). */
int capsa_child_prepare(const struct capsa_spec *spec, const struct capsa_process *p, int procfd,
                        bool create_cwd, int *cwd_fd, char **exe, struct capsa_err *err);

struct capsa_child_confine {
    const struct capsa_process *p;
    const struct capsa_seccomp_prog *seccomp; /* NULL: no filter */
    int sock;                                 /* a listener fd goes there (SECCOMP) */
    int *procfd;                              /* private procfs, for the LSM label */
    bool keep_procfd;                         /* else closed before the last filter */
    int *cwd_fd;                              /* from capsa_child_prepare; closed here */
    int preserve_fds;                         /* fds 3..3+N-1 stay open across execve */
    /* The isolation level, whose child_confine runs right after the OCI
     * filter's place (or where it would be); lc its child side. */
    const struct capsa_level *level;
    struct capsa_level_child *lc;
};

/* The last steps before execve, in this order: every fd above the preserved
 * ones close-on-exec (before any filter: close_range may not be allowed);
 * the LSM label; then
 *  - without no_new_privs: the seccomp filter, while CAP_SYS_ADMIN (needed
 *    to install one then) is still held, then the user switch;
 *  - with no_new_privs: the user switch and capability drop first, then the
 *    filter, so that the runtime's own setgroups/setresuid/capset/fchdir
 *    never meet it (a kill rule cannot kill the runtime, a notify rule
 *    cannot leave it waiting on an agent) - runc's order;
 * the cwd again as the user. A filter with a listener sends its fd to the
 * runtime as SECCOMP. */
int capsa_child_confine(const struct capsa_child_confine *c, struct capsa_err *err);

/* The environment of the user program: p->env, with HOME from the image's
 * /etc/passwd (or "/") when it has none, as runc, and LISTEN_FDS=N and
 * LISTEN_PID=<our pid> when listen_fds > 0 (systemd socket activation).
 * Inside the container's root, before the user switch. A heap vector
 * (NULL-terminated). */
int capsa_child_env(const struct capsa_process *p, int listen_fds, char ***out,
                    struct capsa_err *err);

/* execve(exe) with p's args and env; returns only on error (err set). */
int capsa_child_execve(const struct capsa_process *p, const char *exe, char *const *env,
                       struct capsa_err *err);

#endif
