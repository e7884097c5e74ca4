/* forbidden.c - a negative test for the tender's seccomp filter: the command
 * line names one system call outside the allow-list (or an allowed one on a
 * fd or clock it was not granted), which the guest then makes with a raw
 * syscall. A correct tender kills it with SIGSYS before it prints
 * "survived"; "none" makes no such call, prints "ok" and exits 0. The
 * arguments are chosen to be harmless if the filter were missing. */
#include "uk.h"

UK_MANIFEST();

/* x86-64 syscall numbers and constants (the guest has no libc headers). */
enum {
    NR_read = 0,
    NR_write = 1,
    NR_open = 2,
    NR_mmap = 9,
    NR_mprotect = 10,
    NR_ioctl = 16,
    NR_pread64 = 17,
    NR_pwrite64 = 18,
    NR_getpid = 39,
    NR_socket = 41,
    NR_clone = 56,
    NR_execve = 59,
    NR_ptrace = 101,
    NR_arch_prctl = 158,
    NR_clock_gettime = 228,
    NR_exit_group = 231,
    NR_openat = 257,
    NR_timerfd_settime = 286,
    NR_epoll_pwait = 281,
};

#define AT_FDCWD          (-100)
#define PROT_READ_WRITE   3
#define MAP_PRIVATE_ANON  0x22
#define AF_INET           2
#define SOCK_STREAM       1
#define SIGCHLD           17
#define CLOCK_PROCESS_CPU 2
#define ARCH_GET_FS       0x1003
#define TIOCGWINSZ        0x5413

struct attempt {
    const char *name;
    long nr, a1, a2, a3, a4, a5, a6;
};

static char scratch[4096];
static const char path[] = "/etc/passwd";
static const char shell[] = "/bin/sh";

int uk_main(const char *cmdline)
{
    const struct attempt attempts[] = {
        {"open", NR_open, (long)path, 0, 0, 0, 0, 0},
        {"openat", NR_openat, AT_FDCWD, (long)path, 0, 0, 0, 0},
        {"socket", NR_socket, AF_INET, SOCK_STREAM, 0, 0, 0, 0},
        {"execve", NR_execve, (long)shell, 0, 0, 0, 0, 0},
        {"mmap", NR_mmap, 0, 4096, PROT_READ_WRITE, MAP_PRIVATE_ANON, -1, 0},
        {"mprotect", NR_mprotect, (long)scratch & ~4095L, 4096, 7, 0, 0, 0},
        /* fork-like clone: a child that got through exits at once below. */
        {"clone", NR_clone, SIGCHLD, 0, 0, 0, 0, 0},
        {"getpid", NR_getpid, 0, 0, 0, 0, 0, 0},
        {"ptrace", NR_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0, 0, 0},
        {"ioctl", NR_ioctl, 1, TIOCGWINSZ, (long)scratch, 0, 0, 0},
        {"arch_prctl-getfs", NR_arch_prctl, ARCH_GET_FS, (long)scratch, 0, 0, 0, 0},
        /* Allowed calls on something not granted: */
        {"write2", NR_write, 2, (long)"x\n", 2, 0, 0, 0},
        {"read0", NR_read, 0, (long)scratch, 1, 0, 0, 0},
        {"blkwrite-wrongfd", NR_pwrite64, 5, (long)scratch, 512, 0, 0, 0},
        {"blkread-wrongfd", NR_pread64, 5, (long)scratch, 512, 0, 0, 0},
        {"clock-cputime", NR_clock_gettime, CLOCK_PROCESS_CPU, (long)scratch, 0, 0, 0, 0},
        {"epoll-wrongfd", NR_epoll_pwait, 7, (long)scratch, 1, 0, 0, 0},
        {"timerfd-wrongfd", NR_timerfd_settime, 7, 0, (long)scratch, 0, 0, 0},
    };
    const char *want = cmdline;
    while (*want == ' ')
        want++;
    size_t wlen = 0;
    while (want[wlen] != '\0' && want[wlen] != ' ')
        wlen++;

    if (wlen == 4 && strncmp(want, "none", 4) == 0) {
        uk_puts("ok\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        const struct attempt *a = &attempts[i];
        if (strlen(a->name) != wlen || strncmp(a->name, want, wlen) != 0)
            continue;
        uk_printf("forbidden: trying %s\n", a->name);
        long rc = uk_raw_syscall6(a->nr, a->a1, a->a2, a->a3, a->a4, a->a5, a->a6);
        if (a->nr == NR_clone && rc == 0)
            uk_raw_syscall6(NR_exit_group, 0, 0, 0, 0, 0, 0); /* the child */
        uk_printf("survived %s (rc %ld)\n", a->name, rc);
        return 1;
    }
    uk_printf("forbidden: unknown test \"%s\"; known: none", want);
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++)
        uk_printf(" %s", attempts[i].name);
    uk_puts("\n");
    return 2;
}
