/* sys.h - thin wrappers for the Linux system calls glibc 2.36 does not wrap
 * (clone3, openat2, pidfd_*, the new mount API, pivot_root). No policy here. */
#ifndef CAPSA_SYS_SYS_H
#define CAPSA_SYS_SYS_H

#include <sys/mount.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sched.h>
#include <linux/sched.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef PIDFD_NONBLOCK
#define PIDFD_NONBLOCK O_NONBLOCK
#endif

/* clone3: returns 0 in the child, the child's pid in the parent, -1/errno on error.
 * The child runs on a copy of the parent's stack (like fork). */
pid_t capsa_clone3(struct clone_args *args);
long capsa_openat2(int dirfd, const char *path, int flags, uint64_t mode, uint64_t resolve);
/* path inside the tree of rootfd as if rootfd were "/": no symlink or ".."
 * out of it, no magic link (/proc/self/fd/N); flags | O_CLOEXEC. Retries
 * the EAGAIN a concurrent rename can cause. The fd, or -errno. */
int capsa_open_in_root(int rootfd, const char *path, int flags);
int capsa_pidfd_open(pid_t pid, unsigned int flags);
/* The pid of pidfd's process in our pid namespace (its fdinfo), -errno. */
pid_t capsa_pidfd_pid(int pidfd);
int capsa_pidfd_send_signal(int pidfd, int sig, unsigned int flags);
int capsa_pivot_root(const char *new_root, const char *put_old);
int capsa_close_range(unsigned int first, unsigned int last, unsigned int flags);
int capsa_open_tree(int dirfd, const char *path, unsigned int flags);
int capsa_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                     unsigned int flags);
int capsa_mount_setattr(int dirfd, const char *path, unsigned int flags, struct mount_attr *attr);
int capsa_fsopen(const char *fsname, unsigned int flags);
int capsa_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux);
int capsa_fsmount(int fd, unsigned int flags, unsigned int attr_flags);
int capsa_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags);

#endif
