/* probe - static multi-call checker run inside test containers, for what busybox cannot show.
 *
 *   probe fds          one line per open fd: "N -> target" (readlink of /proc/self/fd/N)
 *   probe caps         the Cap* lines of /proc/self/status
 *   probe write PATH   open PATH O_WRONLY and print "ok" or the errno name (EROFS, EACCES...)
 *   probe read PATH    open PATH O_RDONLY and print "ok" or the errno name
 *   probe nnp          prints NoNewPrivs from prctl(PR_GET_NO_NEW_PRIVS)
 *   probe tiocsti TEXT push TEXT into the input of the terminal on fd 0 (TIOCSTI) and print
 *                      "ok" or the errno name of the first refused byte
 * Exit status: 0 when the operation ran (whatever errno it reported), 2 on usage errors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char *errname(int e)
{
    switch (e) {
    case EROFS:
        return "EROFS";
    case EACCES:
        return "EACCES";
    case EPERM:
        return "EPERM";
    case EIO:
        return "EIO";
    case ENOENT:
        return "ENOENT";
    case ETXTBSY:
        return "ETXTBSY";
    case EISDIR:
        return "EISDIR";
    case ENOTDIR:
        return "ENOTDIR";
    case ELOOP:
        return "ELOOP";
    case ENXIO:
        return "ENXIO";
    default:
        return strerror(e);
    }
}

static int do_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL) {
        perror("probe: /proc/self/fd");
        return 1;
    }
    int self = dirfd(d);
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        if (atoi(de->d_name) == self)
            continue;
        char link[PATH_MAX] = "";
        /* readlinkat relative to the fd dir avoids building a path. */
        ssize_t n = readlinkat(self, de->d_name, link, sizeof(link) - 1);
        if (n >= 0)
            link[n] = '\0';
        printf("%s -> %s\n", de->d_name, link);
    }
    closedir(d);
    return 0;
}

static int do_caps(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f == NULL) {
        perror("probe: /proc/self/status");
        return 1;
    }
    char line[512];
    while (fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "Cap", 3) == 0)
            fputs(line, stdout);
    fclose(f);
    return 0;
}

static int do_open(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0) {
        printf("%s\n", errname(errno));
        return 0;
    }
    close(fd);
    printf("ok\n");
    return 0;
}

static int do_tiocsti(const char *text)
{
    for (const char *c = text; *c; c++) {
        if (ioctl(0, TIOCSTI, c) < 0) {
            printf("%s\n", errname(errno));
            return 0;
        }
    }
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "fds") == 0)
        return do_fds();
    if (argc == 2 && strcmp(argv[1], "caps") == 0)
        return do_caps();
    if (argc == 2 && strcmp(argv[1], "nnp") == 0) {
        printf("NoNewPrivs: %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "write") == 0)
        return do_open(argv[2], O_WRONLY);
    if (argc == 3 && strcmp(argv[1], "read") == 0)
        return do_open(argv[2], O_RDONLY);
    if (argc == 3 && strcmp(argv[1], "tiocsti") == 0)
        return do_tiocsti(argv[2]);
    fprintf(stderr, "usage: probe fds|caps|nnp|write PATH|read PATH|tiocsti TEXT\n");
    return 2;
}
