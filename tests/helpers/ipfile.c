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
 *   chmod-nofollow-l  the same on the symlink DIR/l (EOPNOTSUPP natively: glibc's answer) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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
    return 0;
}
