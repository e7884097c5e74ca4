/* ipops - static helper run inside test containers: file system calls made
 * one by one, with their result printed by errno name, so that integration
 * tests check what a path policy did without depending on a C library's
 * wording (busybox prints strerror's text).
 *
 *   ipops OP ARG... [OP ARG...]...
 *
 * runs each operation in turn and prints one line for each: "ok", "ok TEXT"
 * (read: the file's first line, at most 200 bytes) or the errno's name
 * (ENOENT, EACCES, EROFS...). Operations and their arguments:
 *
 *   read PATH          open O_RDONLY, read
 *   write PATH         open O_WRONLY (no O_TRUNC), write "ipops\n"
 *   append PATH        open O_WRONLY|O_APPEND, write "ipops\n"
 *   create PATH        open O_WRONLY|O_CREAT|O_EXCL, mode 0666 (the umask applies)
 *   put PATH           open O_WRONLY|O_CREAT|O_TRUNC, mode 0666, write "ipops\n" (a shell's >)
 *   trunc PATH         truncate(PATH, 0)
 *   otrunc PATH        open O_WRONLY|O_TRUNC
 *   rename FROM TO     rename
 *   link FROM TO       link
 *   symlink TARGET P   symlink
 *   unlink PATH        unlink
 *   mkdir PATH         mkdir 0777
 *   rmdir PATH         rmdir
 *   chmod PATH MODE    chmod, MODE in octal
 *   chown PATH UID GID chown
 *   utime PATH         utimes(PATH, NULL) (now)
 *   stat PATH          stat
 *   lstat PATH         lstat
 *   access PATH        access(PATH, R_OK)
 *   connect PATH       connect a unix stream socket to PATH
 *   peer PATH          bind a unix stream socket at PATH (mode 0777), accept one connection
 *                      and print "ok uid=U gid=G" from its SO_PEERCRED
 *
 * Exit status 0 when every operation ran (whatever its result), 2 on usage
 * errors. */
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static void result(int r)
{
    if (r == 0) {
        puts("ok");
        return;
    }
    const char *n = strerrorname_np(errno);
    if (n != NULL)
        puts(n);
    else
        printf("errno%d\n", errno);
}

static int op_read(const char *p)
{
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    char buf[201];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    printf("ok %s\n", buf);
    return 1;
}

static int op_write(const char *p, int flags)
{
    int fd = open(p, flags | O_CLOEXEC, 0666);
    if (fd < 0)
        return -1;
    int r = 0;
    if ((!(flags & O_TRUNC) || (flags & O_CREAT)) && write(fd, "ipops\n", 6) != 6)
        r = -1;
    int e = errno;
    close(fd);
    errno = e;
    return r;
}

static int op_sock(const char *p, bool serve)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(p) >= sizeof a.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(a.sun_path, p, strlen(p) + 1);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    if (!serve) {
        int r = connect(s, (struct sockaddr *)&a, sizeof a);
        int e = errno;
        close(s);
        errno = e;
        return r;
    }
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || chmod(p, 0777) < 0 || listen(s, 1) < 0)
        return -1;
    int c = accept(s, NULL, NULL);
    if (c < 0)
        return -1;
    struct ucred cr;
    socklen_t n = sizeof cr;
    if (getsockopt(c, SOL_SOCKET, SO_PEERCRED, &cr, &n) < 0)
        return -1;
    printf("ok uid=%u gid=%u\n", (unsigned)cr.uid, (unsigned)cr.gid);
    close(c);
    close(s);
    return 1;
}

struct op {
    const char *name;
    int nargs;
};

static const struct op ops[] = {
    {"read", 1},   {"write", 1},   {"append", 1}, {"create", 1},  {"put", 1},    {"trunc", 1},
    {"otrunc", 1}, {"rename", 2},  {"link", 2},   {"symlink", 2}, {"unlink", 1}, {"mkdir", 1},
    {"rmdir", 1},  {"chmod", 2},   {"chown", 3},  {"utime", 1},   {"stat", 1},   {"lstat", 1},
    {"access", 1}, {"connect", 1}, {"peer", 1},   {"setid", 1},
};

static int run(const char *op, char **a)
{
    struct stat st;
    /* Change this (only) thread's ids, groups and capabilities with them. */
    if (strcmp(op, "setid") == 0) {
        id_t id = (id_t)strtoul(a[0], NULL, 10);
        return setgroups(0, NULL) < 0 || setresgid(id, id, id) < 0 || setresuid(id, id, id) < 0 ? -1
                                                                                                : 0;
    }
    if (strcmp(op, "read") == 0)
        return op_read(a[0]);
    if (strcmp(op, "write") == 0)
        return op_write(a[0], O_WRONLY);
    if (strcmp(op, "append") == 0)
        return op_write(a[0], O_WRONLY | O_APPEND);
    if (strcmp(op, "create") == 0)
        return op_write(a[0], O_WRONLY | O_CREAT | O_EXCL);
    if (strcmp(op, "put") == 0)
        return op_write(a[0], O_WRONLY | O_CREAT | O_TRUNC);
    if (strcmp(op, "otrunc") == 0)
        return op_write(a[0], O_WRONLY | O_TRUNC);
    if (strcmp(op, "trunc") == 0)
        return truncate(a[0], 0);
    if (strcmp(op, "rename") == 0)
        return rename(a[0], a[1]);
    if (strcmp(op, "link") == 0)
        return link(a[0], a[1]);
    if (strcmp(op, "symlink") == 0)
        return symlink(a[0], a[1]);
    if (strcmp(op, "unlink") == 0)
        return unlink(a[0]);
    if (strcmp(op, "mkdir") == 0)
        return mkdir(a[0], 0777);
    if (strcmp(op, "rmdir") == 0)
        return rmdir(a[0]);
    if (strcmp(op, "chmod") == 0)
        return chmod(a[0], (mode_t)strtoul(a[1], NULL, 8));
    if (strcmp(op, "chown") == 0)
        return chown(a[0], (uid_t)strtoul(a[1], NULL, 10), (gid_t)strtoul(a[2], NULL, 10));
    if (strcmp(op, "utime") == 0)
        return utimes(a[0], NULL);
    if (strcmp(op, "connect") == 0)
        return op_sock(a[0], false);
    if (strcmp(op, "peer") == 0)
        return op_sock(a[0], true);
    if (strcmp(op, "stat") == 0)
        return stat(a[0], &st);
    if (strcmp(op, "lstat") == 0)
        return lstat(a[0], &st);
    return access(a[0], R_OK);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i < argc;) {
        const struct op *o = NULL;
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
            if (strcmp(argv[i], ops[k].name) == 0)
                o = &ops[k];
        if (o == NULL || i + o->nargs > argc - 1) {
            fprintf(stderr, "ipops: bad operation or missing argument at \"%s\"\n", argv[i]);
            return 2;
        }
        int r = run(o->name, argv + i + 1);
        if (r <= 0)
            result(r);
        i += 1 + o->nargs;
    }
    return 0;
}
