/* sys.c - raw syscall wrappers; see sys.h. */
#include "sys/sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/syscall.h>
#include <unistd.h>

pid_t capsa_clone3(struct clone_args *args)
{
    return (pid_t)syscall(SYS_clone3, args, sizeof(*args));
}

long capsa_openat2(int dirfd, const char *path, int flags, uint64_t mode, uint64_t resolve)
{
    struct open_how how = {
        .flags = (uint64_t)(unsigned int)flags, .mode = mode, .resolve = resolve};
    return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

int capsa_open_in_root(int rootfd, const char *path, int flags)
{
    for (int tries = 0;; tries++) {
        long fd = capsa_openat2(rootfd, path, flags | O_CLOEXEC, 0,
                                RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN || tries > 32)
            return -errno;
    }
}

pid_t capsa_pidfd_pid(int pidfd)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/fdinfo/%d", pidfd);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -EIO;
    buf[n] = '\0';
    const char *p = strstr(buf, "\nPid:");
    if (p == NULL)
        return -EIO;
    long v = strtol(p + 5, NULL, 10);
    return v > 0 ? (pid_t)v : -ESRCH;
}

int capsa_pidfd_open(pid_t pid, unsigned int flags)
{
    return (int)syscall(SYS_pidfd_open, pid, flags);
}

int capsa_pidfd_send_signal(int pidfd, int sig, unsigned int flags)
{
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, flags);
}

int capsa_pivot_root(const char *new_root, const char *put_old)
{
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}

int capsa_close_range(unsigned int first, unsigned int last, unsigned int flags)
{
    return (int)syscall(SYS_close_range, first, last, flags);
}

int capsa_open_tree(int dirfd, const char *path, unsigned int flags)
{
    return (int)syscall(SYS_open_tree, dirfd, path, flags);
}

int capsa_move_mount(int from_dirfd, const char *from_path, int to_dirfd, const char *to_path,
                     unsigned int flags)
{
    return (int)syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags);
}

int capsa_mount_setattr(int dirfd, const char *path, unsigned int flags, struct mount_attr *attr)
{
    return (int)syscall(SYS_mount_setattr, dirfd, path, flags, attr, sizeof(*attr));
}

int capsa_fsopen(const char *fsname, unsigned int flags)
{
    return (int)syscall(SYS_fsopen, fsname, flags);
}

int capsa_fsconfig(int fd, unsigned int cmd, const char *key, const void *value, int aux)
{
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, aux);
}

int capsa_fsmount(int fd, unsigned int flags, unsigned int attr_flags)
{
    return (int)syscall(SYS_fsmount, fd, flags, attr_flags);
}

int capsa_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    return (int)syscall(SYS_execveat, dirfd, path, argv, envp, flags);
}
