/* sysprobe - static helper run inside test containers: makes one raw syscall
 * and prints what the kernel (or a seccomp filter) answered, so bats tests
 * can check filters without depending on how busybox reports errors.
 *
 *   sysprobe getpid | getppid | getcwd   "ok N" (N the result) or the errno name
 *   sysprobe mkdir PATH                 mkdirat(AT_FDCWD, PATH, 0755)
 *   sysprobe personality VALUE          personality(VALUE), VALUE in C notation (0xffffffff)
 * Prints "ok N" or the errno name (EPERM, ENOSYS...). Exit status: 0 when the
 * call ran, whatever it returned; 2 on usage errors. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *errname(int e)
{
    static const struct {
        int e;
        const char *name;
    } names[] = {
        {EPERM, "EPERM"},   {ENOENT, "ENOENT"}, {EACCES, "EACCES"},
        {EEXIST, "EEXIST"}, {EINVAL, "EINVAL"}, {ENOSYS, "ENOSYS"},
        {EBUSY, "EBUSY"},   {EROFS, "EROFS"},   {ENOTDIR, "ENOTDIR"},
    };
    static char buf[32];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].e == e)
            return names[i].name;
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

static int report(long r)
{
    if (r < 0)
        printf("%s\n", errname(errno));
    else
        printf("ok %ld\n", r);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "getpid") == 0)
        return report(syscall(SYS_getpid));
    if (argc == 2 && strcmp(argv[1], "getppid") == 0)
        return report(syscall(SYS_getppid));
    if (argc == 2 && strcmp(argv[1], "getcwd") == 0) {
        char buf[4096];
        return report(syscall(SYS_getcwd, buf, sizeof buf));
    }
    if (argc == 3 && strcmp(argv[1], "mkdir") == 0)
        return report(syscall(SYS_mkdirat, AT_FDCWD, argv[2], 0755));
    if (argc == 3 && strcmp(argv[1], "personality") == 0) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(argv[2], &end, 0);
        if (errno != 0 || *end != '\0' || end == argv[2]) {
            fprintf(stderr, "sysprobe: bad value %s\n", argv[2]);
            return 2;
        }
        return report(syscall(SYS_personality, v));
    }
    fprintf(stderr, "usage: sysprobe getpid|getppid|getcwd|mkdir PATH|personality VALUE\n");
    return 2;
}
