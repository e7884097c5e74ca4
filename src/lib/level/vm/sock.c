/* sock.c - the unix sockets of a VM's state directory (the agent channel,
 * QMP, virtiofsd's, the exec socket): paths checked against the length a
 * socket address can hold. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "level/vm/vmm.h"
#include "util/util.h"

int capsa_vm_state_path(const char *dir, const char *name, char *out, size_t len,
                        struct capsa_err *err)
{
    int n = snprintf(out, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len)
        return capsa_err_setx(err, ENAMETOOLONG, "vm state directory %s: path too long", dir);
    return 0;
}

/* A unix socket address for path. A path longer than an address holds
 * (engines' state roots with 64-character ids get there) is reached through
 * its directory, opened O_PATH into *dirfd (the caller closes it after the
 * bind or connect): /proc/self/fd/N/NAME. */
static int sun_of(const char *path, struct sockaddr_un *sa, int *dirfd, struct capsa_err *err)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    *dirfd = -1;
    size_t len = strlen(path);
    if (len < sizeof(sa->sun_path)) {
        memcpy(sa->sun_path, path, len + 1);
        return 0;
    }
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    if (slash == NULL || slash == path || (size_t)(slash - path) >= sizeof dir)
        return capsa_err_setx(err, ENAMETOOLONG, "vm socket %s: path too long", path);
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    *dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (*dirfd < 0)
        return capsa_err_set(err, errno, "vm socket %s: its directory", path);
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", *dirfd, slash + 1);
    if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
        capsa_close(dirfd);
        return capsa_err_setx(err, ENAMETOOLONG, "vm socket %s: name too long", path);
    }
    return 0;
}

/* A new socket and the address of path for it (sun_of). */
static int sock_for(const char *path, struct sockaddr_un *sa, int *dirfd, int *fd,
                    struct capsa_err *err)
{
    int r = sun_of(path, sa, dirfd, err);
    if (r < 0)
        return r;
    *fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (*fd < 0)
        return capsa_err_set(err, errno, "vm socket %s", path);
    return 0;
}

int capsa_vm_listen(const char *path, int *out, struct capsa_err *err)
{
    struct sockaddr_un sa;
    cleanup_close int dirfd = -1;
    cleanup_close int fd = -1;
    int r = sock_for(path, &sa, &dirfd, &fd, err);
    if (r < 0)
        return r;
    /* The state directory is private to this VM: a socket left by an
     * earlier, crashed VM in it is stale. */
    if (unlink(path) < 0 && errno != ENOENT)
        return capsa_err_set(err, errno, "vm socket %s: removing a stale one", path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return capsa_err_set(err, errno, "vm socket %s: bind", path);
    if (chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        unlink(path);
        return capsa_err_set(err, e, "vm socket %s", path);
    }
    *out = steal_fd(fd);
    return 0;
}

int capsa_vm_connect(const char *path, int *out, struct capsa_err *err)
{
    struct sockaddr_un sa;
    cleanup_close int dirfd = -1;
    cleanup_close int fd = -1;
    int r = sock_for(path, &sa, &dirfd, &fd, err);
    if (r < 0)
        return r;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return capsa_err_set(err, errno, "vm socket %s: connect", path);
    *out = steal_fd(fd);
    return 0;
}
