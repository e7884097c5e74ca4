/* process.h - applying the process section of the spec to the container
 * init just before it executes the user program: rlimits, oom_score_adj,
 * personality, I/O priority, scheduler, LSM labels, user and groups,
 * capabilities (all five sets), no_new_privs, umask, cwd. */
#ifndef CAPSA_LINUX_PROCESS_H
#define CAPSA_LINUX_PROCESS_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "spec/spec.h"
#include "util/err.h"

/* The signals this process ignores (SIG_IGN survives execve, so the
 * container would inherit our caller's): read from our own
 * /proc/self/status by the runtime before it forks, so that the child resets
 * only those instead of probing all 64. Every signal when the file cannot
 * be read. */
void capsa_signals_ignored(sigset_t *out);
/* In the child: back to SIG_DFL for each signal in ignored, nothing blocked. */
void capsa_signals_reset(const sigset_t *ignored);

/* process.cwd: resolved inside our root ("/", after pivot_root or setns)
 * with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, so that neither a symlink out
 * of the rootfs nor a magic link such as /proc/self/fd/N (an fd the runtime
 * still holds: CVE-2024-21626) can put the process in a host directory;
 * created when missing if create is set (runc does, for create). Changes
 * into it and returns the O_PATH fd, for a second fchdir once the user is
 * switched (its permission check). */
int capsa_process_enter_cwd(const char *cwd, bool create, struct capsa_err *err);

/* Rlimits, personality, ioprio, scheduler, oom_score_adj (through procfd, a
 * private procfs from capsa_proc_open_private). Done while still privileged. */
int capsa_process_apply_attrs(const struct capsa_process *p, int procfd, struct capsa_err *err);

/* linux.personality: execution domain LINUX or LINUX32 (flags are refused). */
int capsa_process_apply_personality(const struct capsa_personality *pers, struct capsa_err *err);

/* LSM: AppArmor profile ("exec <profile>" to attr/apparmor/exec) and SELinux
 * label (attr/exec), written through procfd for the calling thread. An error
 * names the LSM when the profile is set but the LSM is not enabled. */
int capsa_lsm_apply(const struct capsa_process *p, int procfd, struct capsa_err *err);
/* True when AppArmor / SELinux are enabled on this host. */
int capsa_lsm_apparmor_enabled(void);
int capsa_lsm_selinux_enabled(void);

/* Switch to the spec user (setgroups(additionalGids) unless setgroups is
 * denied, setresgid, setresuid) keeping capabilities across the switch, then
 * set the five capability sets exactly as the spec says (bounding dropped
 * first, ambient raised last; caps unknown to the running kernel skipped),
 * then no_new_privs when asked, then umask (default 0022).
 * When p->has_capabilities is false all sets are emptied. */
int capsa_process_switch_user(const struct capsa_process *p, struct capsa_err *err);

/* Find the executable for args[0] using PATH from the process env (like
 * execvp but with the container's PATH, default
 * /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin). Returns a
 * heap path or -errno with err naming args[0]. */
int capsa_process_find_exec(const struct capsa_process *p, char **out, struct capsa_err *err);

/* Leave fds 0..2 and the preserved fds 3..3+preserve_fds-1 open across
 * execve (their close-on-exec flag cleared) and mark every other fd
 * close-on-exec: no runtime fd reaches the user process. close_range, or an
 * fcntl loop where a seccomp profile or an old kernel refuses it. */
int capsa_process_prepare_fds(int preserve_fds, struct capsa_err *err);

/* process.env with HOME added when it has none (or an empty one): the home
 * directory of process.user.uid in /etc/passwd of our root, or "/", as runc
 * and crun do. Call inside the container's root (after pivot_root, or setns
 * for exec) and before the user switch. *out is a new NULL-terminated heap
 * vector (capsa_strv_free), or NULL when process.env already has a HOME. */
int capsa_process_env_home(const struct capsa_process *p, char ***out, struct capsa_err *err);

/* Pure: the home directory (sixth field) of the first entry of the passwd
 * text buf[0..len) whose uid (third field, decimal) is uid, into out.
 * 1 when found and it fits, else 0. */
int capsa_passwd_home(const char *buf, size_t len, uid_t uid, char *out, size_t outlen);

/* The highest capability number the running kernel knows. */
int capsa_caps_last_cap(void);

/* One warning through warn naming the capabilities of p (any set) that the
 * running kernel does not have: capsa_process_switch_user skips them, as
 * runc does ("ignoring unknown or unavailable capabilities"). Called by the
 * runtime at create and exec, where a warning can be logged; nothing when
 * all are available or p is NULL. */
void capsa_caps_warn_unavailable(const struct capsa_process *p, capsa_warn_fn warn, void *opaque);

/* Fields of /proc/<pid>/stat: state (3), ppid (4), start time (22).
 * -ESRCH when the process does not exist. */
struct capsa_proc_stat {
    char state;
    pid_t ppid;
    unsigned long long start;
};
int capsa_proc_stat(pid_t pid, struct capsa_proc_stat *out);

/* Start time of pid (field 22 of /proc/<pid>/stat) and whether it is a
 * zombie/dead. -ESRCH when the process does not exist. */
int capsa_proc_start_time(pid_t pid, unsigned long long *start, bool *dead);

/* A record of a process in a (runtime-owned) directory: the file name in
 * dirfd holds "PID START\n" (start: capsa_proc_start_time), so that a later
 * runtime command can tell the process from a reuse of its number. write
 * creates it exclusively; read returns -ENOENT when there is none, -EINVAL
 * when it is malformed. */
int capsa_proc_record_write(int dirfd, const char *name, pid_t pid, struct capsa_err *err);
int capsa_proc_record_read(int dirfd, const char *name, pid_t *pid, unsigned long long *start);

/* SIGKILL to pid if it is still the process that started at start (not a
 * reuse of its number); reaped when it has gone already and is our child,
 * not waited for otherwise. The levels' host_stop: a supervisor that is
 * PID 1 of a pid namespace completes its exit only once every process there
 * has been reaped, by a parent (an engine's shim) that may not yet have
 * looked; a VMM's cgroup kill takes its helpers with it. */
void capsa_proc_kill_if_same(pid_t pid, unsigned long long start);

#endif
