/* sysprobe - static helper run inside test containers: makes one raw syscall
 * and prints what the kernel (or a seccomp filter) answered, so bats tests
 * can check filters without depending on how busybox reports errors.
 *
 *   sysprobe getpid | getppid | getcwd   "ok N" (N the result) or the errno name
 *   sysprobe mkdir PATH                 mkdirat(AT_FDCWD, PATH, 0755)
 *   sysprobe personality VALUE          personality(VALUE), VALUE in C notation (0xffffffff)
 *   sysprobe int80-getpid               getpid through the 32-bit entry (int $0x80,
 *                                       x86_64 only): the i386 syscall ABI
 *   sysprobe catch CALL [ARG]           CALL with a SIGSYS handler installed: a
 *                                       SCMP_ACT_TRAP prints "SIGSYS nr=N" and exits 0
 *   sysprobe thread CALL [ARG]          CALL in a second thread, then "main alive"
 *                                       from the first (SCMP_ACT_KILL_THREAD kills
 *                                       only the calling thread)
 * Prints "ok N" or the errno name (EPERM, ENOSYS...). Exit status: 0 when the
 * call ran, whatever it returned; 2 on usage errors. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
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

static int do_call(int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "getpid") == 0)
        return report(syscall(SYS_getpid));
    if (argc == 1 && strcmp(argv[0], "getppid") == 0)
        return report(syscall(SYS_getppid));
    if (argc == 1 && strcmp(argv[0], "getcwd") == 0) {
        char buf[4096];
        return report(syscall(SYS_getcwd, buf, sizeof buf));
    }
    if (argc == 2 && strcmp(argv[0], "mkdir") == 0)
        return report(syscall(SYS_mkdirat, AT_FDCWD, argv[1], 0755));
    if (argc == 2 && strcmp(argv[0], "personality") == 0) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(argv[1], &end, 0);
        if (errno != 0 || *end != '\0' || end == argv[1]) {
            fprintf(stderr, "sysprobe: bad value %s\n", argv[1]);
            return 2;
        }
        return report(syscall(SYS_personality, v));
    }
    if (argc == 1 && strcmp(argv[0], "int80-getpid") == 0) {
#if defined(__x86_64__)
        long r = 20; /* __NR_getpid in the i386 table */
        __asm__ volatile("int $0x80" : "+a"(r) : : "memory", "r8", "r9", "r10", "r11");
        int ret = (int)r; /* the 32-bit ABI returns in eax */
        if (ret < 0 && ret > -4096) {
            errno = -ret;
            return report(-1);
        }
        return report(ret);
#else
        printf("unsupported\n");
        return 0;
#endif
    }
    fprintf(stderr, "usage: sysprobe [catch|thread] getpid|getppid|getcwd|mkdir PATH|"
                    "personality VALUE|int80-getpid\n");
    return 2;
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    char buf[64];
    int n = snprintf(buf, sizeof buf, "SIGSYS nr=%d\n", si->si_syscall);
    if (n > 0)
        (void)!write(1, buf, (size_t)n);
    _exit(0);
}

struct thread_call {
    int argc;
    char **argv;
};

static void *thread_main(void *arg)
{
    struct thread_call *t = arg;
    do_call(t->argc, t->argv);
    fflush(stdout);
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 3 && strcmp(argv[1], "catch") == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_sigsys;
        sa.sa_flags = SA_SIGINFO;
        sigaction(SIGSYS, &sa, NULL);
        return do_call(argc - 2, argv + 2);
    }
    if (argc >= 3 && strcmp(argv[1], "thread") == 0) {
        struct thread_call t = {.argc = argc - 2, .argv = argv + 2};
        pthread_t th;
        if (pthread_create(&th, NULL, thread_main, &t) != 0) {
            fprintf(stderr, "sysprobe: pthread_create failed\n");
            return 2;
        }
        pthread_join(th, NULL);
        printf("main alive\n");
        return 0;
    }
    return do_call(argc - 1, argv + 1);
}
