/* ipfile - static helper run inside test containers: file calls whose answers the interpose
 * level's broker gives (tests/integration/interpose_compat.bats compares them with the native
 * level's). One line per case:
 *
 *   NAME ok [DETAIL]         the calls succeeded (DETAIL: what they saw)
 *   NAME ERRNO               the first call that failed, by its errno's name
 *
 *   ipfile DIR               every case, on files it makes in DIR (which must exist)
 *
 * Cases:
 *   opath-dir         open(DIR, O_PATH), then fstat (a directory?), openat(fd, "f") and fchdir
 *   opath-file        open(DIR/f, O_PATH), then fstat (a regular file?)
 *   opath-symlink     open(DIR/l, O_PATH | O_NOFOLLOW) of a symlink
 *   chmod-nofollow    fchmodat(DIR/f, 0600, AT_SYMLINK_NOFOLLOW) (glibc opens it O_PATH)
 *   chmod-nofollow-l  the same on the symlink DIR/l (EOPNOTSUPP natively: glibc's answer)
 *   fstat-file        fstat of DIR/g, made with 5 bytes and open for writing: "file size 5 links 1"
 *   fstat-deleted     the same after unlinking it: "links 0"
 *   fstat-pipe        fstat of a pipe's read end ("fifo")
 *   fstat-socket      fstat of a unix socket ("socket")
 *   fstat-closed      fstat of an fd number that is not open (EBADF) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *errname(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

static void report(const char *name, int r, const char *detail)
{
    if (r < 0)
        printf("%s %s\n", name, errname(errno));
    else
        printf("%s ok%s%s\n", name, detail ? " " : "", detail ? detail : "");
}

static const char *kind(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return "fstat-failed";
    return S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : "other";
}

/* fstat(fd) (glibc: newfstatat(fd, "", AT_EMPTY_PATH)), its answer in words. */
static void fstat_case(const char *name, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0) {
        report(name, -1, NULL);
        return;
    }
    char d[128];
    snprintf(d, sizeof d, "%s size %lld links %lu",
             S_ISREG(st.st_mode)    ? "file"
             : S_ISFIFO(st.st_mode) ? "fifo"
             : S_ISSOCK(st.st_mode) ? "socket"
                                    : "other",
             S_ISREG(st.st_mode) ? (long long)st.st_size : 0LL, (unsigned long)st.st_nlink);
    report(name, 0, d);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ipfile DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    char f[4096], l[4096];
    snprintf(f, sizeof f, "%s/f", dir);
    snprintf(l, sizeof l, "%s/l", dir);
    int fd = open(f, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || close(fd) < 0 || (unlink(l) < 0 && errno != ENOENT) || symlink("f", l) < 0) {
        perror("ipfile: setup");
        return 1;
    }
    setvbuf(stdout, NULL, _IONBF, 0);

    fd = open(dir, O_PATH | O_CLOEXEC);
    if (fd >= 0) {
        const char *k = kind(fd);
        int in = openat(fd, "f", O_RDONLY | O_CLOEXEC);
        if (in < 0 || fchdir(fd) < 0) {
            report("opath-dir", -1, NULL);
        } else {
            close(in);
            report("opath-dir", 0, k);
        }
        close(fd);
    } else {
        report("opath-dir", -1, NULL);
    }

    fd = open(f, O_PATH | O_CLOEXEC);
    report("opath-file", fd, fd >= 0 ? kind(fd) : NULL);
    if (fd >= 0)
        close(fd);

    fd = open(l, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    report("opath-symlink", fd, NULL);
    if (fd >= 0)
        close(fd);

    report("chmod-nofollow", fchmodat(AT_FDCWD, f, 0600, AT_SYMLINK_NOFOLLOW), NULL);
    report("chmod-nofollow-l", fchmodat(AT_FDCWD, l, 0600, AT_SYMLINK_NOFOLLOW), NULL);

    char g[4096];
    snprintf(g, sizeof g, "%s/g", dir);
    fd = open(g, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, "hello", 5) != 5) {
        perror("ipfile: write");
        return 1;
    }
    fstat_case("fstat-file", fd);
    if (unlink(g) < 0) {
        perror("ipfile: unlink");
        return 1;
    }
    fstat_case("fstat-deleted", fd);
    close(fd);
    int p[2], sv[2];
    if (pipe2(p, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        perror("ipfile: pipe, socketpair");
        return 1;
    }
    fstat_case("fstat-pipe", p[0]);
    fstat_case("fstat-socket", sv[0]);
    close(999);
    fstat_case("fstat-closed", 999);
    return 0;
}
