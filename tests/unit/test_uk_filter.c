/* test_uk_filter.c - the unikernel's seccomp filter (src/lib/level/unikernel/filter.c),
 * loaded for real: each probe forks a child that installs the filter built
 * for a given device setup and makes one raw system call; the child either
 * exits 0 (allowed) or dies of SIGSYS (killed). Block I/O is checked at the
 * edges of what the filter must pin: the fd, a size of exactly one sector,
 * an offset that is a sector multiple inside [0, capacity - sector], with
 * both 32-bit halves of each argument exercised. No privileges needed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "level/unikernel/filter.h"

#define EPOLLFD 100
#define TIMERFD 101
#define GIB4    (1LL << 32)

enum fate {
    ALLOWED,
    KILLED,
    OTHER
};

static char buf[65536];

/* Install f in a child and make syscall nr(a0, buf, a2, a3). */
static enum fate probe(const struct capsa_uk_filter *f, long nr, long a0, long a2, long a3)
{
    pid_t p = fork();
    if (p < 0)
        return OTHER;
    if (p == 0) {
        struct sock_fprog prog = {.len = (unsigned short)f->n,
                                  .filter = (struct sock_filter *)f->insn};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
            syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
            _exit(3);
        syscall(nr, a0, (long)buf, a2, a3);
        syscall(SYS_exit_group, 0);
    }
    int st;
    if (waitpid(p, &st, 0) != p)
        return OTHER;
    if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
        return KILLED;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? ALLOWED : OTHER;
}

struct fixture {
    int a, b; /* real files, so that allowed calls do real I/O */
    char dir[64];
    struct capsa_uk_setup s;
    struct capsa_uk_filter f;
};

static int open_tmp(struct fixture *x, const char *name)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s", x->dir, name);
    return open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
}

/* Device a: 64 KiB of 512-byte sectors. Device b: 4 GiB + 64 KiB of
 * 4096-byte sectors (its last offset, 0x1_0000_f000, has both halves set).
 * Plus a net device on fd 1's neighbour, to check read/write pinning. */
static int setup(void **state)
{
    struct fixture *x = calloc(1, sizeof *x);
    assert_non_null(x);
    snprintf(x->dir, sizeof x->dir, "/tmp/capsa-ukf-XXXXXX");
    assert_non_null(mkdtemp(x->dir));
    x->a = open_tmp(x, "a");
    x->b = open_tmp(x, "b");
    assert_true(x->a >= 0 && x->b >= 0);
    assert_int_equal(ftruncate(x->a, 65536), 0);
    x->s.mem_size = 64 << 20;
    x->s.dev[0] =
        (struct capsa_uk_device){.name = "a", .fd = x->a, .capacity = 65536, .sector = 512};
    x->s.dev[1] =
        (struct capsa_uk_device){.name = "b", .fd = x->b, .capacity = GIB4 + 65536, .sector = 4096};
    x->s.dev[2] = (struct capsa_uk_device){.name = "n", .fd = 2, .net = true, .mtu = 1500};
    x->s.n_dev = 3;
    assert_int_equal(capsa_uk_filter_build(&x->f, &x->s, EPOLLFD, TIMERFD), 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *x = *state;
    char path[128];
    close(x->a);
    close(x->b);
    snprintf(path, sizeof path, "%s/a", x->dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/b", x->dir);
    unlink(path);
    rmdir(x->dir);
    free(x);
    return 0;
}

static void test_block_bounds(void **state)
{
    struct fixture *x = *state;
    const struct capsa_uk_filter *f = &x->f;
    const long nrs[] = {SYS_pread64, SYS_pwrite64};
    for (size_t i = 0; i < 2; i++) {
        long nr = nrs[i];
        /* a: first and last sector */
        assert_int_equal(probe(f, nr, x->a, 512, 0), ALLOWED);
        assert_int_equal(probe(f, nr, x->a, 512, 65536 - 512), ALLOWED);
        /* a: past the end, far past it (what grew the file), negative */
        assert_int_equal(probe(f, nr, x->a, 512, 65536), KILLED);
        assert_int_equal(probe(f, nr, x->a, 512, 1 << 20), KILLED);
        assert_int_equal(probe(f, nr, x->a, 512, -512), KILLED);
        /* a: the offset's upper half set, lower half inside the device */
        assert_int_equal(probe(f, nr, x->a, 512, GIB4), KILLED);
        /* a: not one sector, or the size's upper half set */
        assert_int_equal(probe(f, nr, x->a, 1024, 0), KILLED);
        assert_int_equal(probe(f, nr, x->a, 256, 0), KILLED);
        assert_int_equal(probe(f, nr, x->a, 0, 0), KILLED);
        assert_int_equal(probe(f, nr, x->a, (long)(GIB4 + 512), 0), KILLED);
        /* a: not a sector multiple */
        assert_int_equal(probe(f, nr, x->a, 512, 1), KILLED);
        assert_int_equal(probe(f, nr, x->a, 512, 256), KILLED);
        /* b: its geometry, not a's */
        assert_int_equal(probe(f, nr, x->b, 4096, 0), ALLOWED);
        assert_int_equal(probe(f, nr, x->b, 512, 0), KILLED);
        assert_int_equal(probe(f, nr, x->b, 4096, 512), KILLED);
        /* b: upper half equal to the last offset's, lower half at and past it */
        assert_int_equal(probe(f, nr, x->b, 4096, GIB4), ALLOWED);
        assert_int_equal(probe(f, nr, x->b, 4096, GIB4 + 65536 - 4096), ALLOWED);
        assert_int_equal(probe(f, nr, x->b, 4096, GIB4 + 65536), KILLED);
        /* b: upper half above the last offset's, lower half small */
        assert_int_equal(probe(f, nr, x->b, 4096, 2 * GIB4), KILLED);
        /* neither device's fd, or a's fd with the upper half set */
        assert_int_equal(probe(f, nr, 99, 512, 0), KILLED);
        assert_int_equal(probe(f, nr, (long)(GIB4 + x->a), 512, 0), KILLED);
        /* the net device's fd is not a block device */
        assert_int_equal(probe(f, nr, 2, 512, 0), KILLED);
    }
    /* Nothing allowed grew a: the writes stayed inside it. */
    struct stat st;
    assert_int_equal(fstat(x->a, &st), 0);
    assert_int_equal(st.st_size, 65536);
}

static void test_other_calls(void **state)
{
    struct fixture *x = *state;
    const struct capsa_uk_filter *f = &x->f;
    assert_int_equal(probe(f, SYS_write, 1, 0, 0), ALLOWED);
    assert_int_equal(probe(f, SYS_write, 2, 0, 0), ALLOWED); /* the net device */
    assert_int_equal(probe(f, SYS_read, 2, 0, 0), ALLOWED);
    assert_int_equal(probe(f, SYS_read, 1, 0, 0), KILLED); /* the console is write-only */
    assert_int_equal(probe(f, SYS_write, x->a, 0, 0), KILLED);
    assert_int_equal(probe(f, SYS_read, x->a, 0, 0), KILLED);
    assert_int_equal(probe(f, SYS_clock_gettime, CLOCK_MONOTONIC, 0, 0), ALLOWED);
    assert_int_equal(probe(f, SYS_clock_gettime, CLOCK_PROCESS_CPUTIME_ID, 0, 0), KILLED);
    assert_int_equal(probe(f, SYS_getpid, 0, 0, 0), KILLED);
    assert_int_equal(probe(f, SYS_openat, AT_FDCWD, 0, 0), KILLED);
}

/* No block device: pread64/pwrite64 are not allowed at all. */
static void test_no_block(void **state)
{
    (void)state;
    struct capsa_uk_setup s = {.mem_size = 64 << 20};
    static struct capsa_uk_filter f;
    assert_int_equal(capsa_uk_filter_build(&f, &s, EPOLLFD, TIMERFD), 0);
    assert_int_equal(probe(&f, SYS_pread64, 1, 512, 0), KILLED);
    assert_int_equal(probe(&f, SYS_write, 1, 0, 0), ALLOWED);
}

/* 63 block devices (the most a manifest declares) fit, each with its own
 * bounds; 64 do not; a geometry the bounds cannot express is refused. */
static void test_limits(void **state)
{
    (void)state;
    static struct capsa_uk_setup s;
    static struct capsa_uk_filter f;
    memset(&s, 0, sizeof s);
    s.mem_size = 64 << 20;
    for (size_t i = 0; i < CAPSA_UK_MAX_DEVICES; i++)
        s.dev[i] = (struct capsa_uk_device){
            .name = "d", .fd = 10 + (int)i, .capacity = 512 * (i + 1), .sector = 512};
    s.n_dev = CAPSA_UK_MAX_DEVICES;
    assert_int_equal(capsa_uk_filter_build(&f, &s, EPOLLFD, TIMERFD), 0);
    /* The last device's last sector, and one past it (fd 72 has 63 sectors);
     * fd 72 is not open, so the allowed call fails with EBADF, harmlessly. */
    assert_int_equal(probe(&f, SYS_pread64, 72, 512, 62 * 512), ALLOWED);
    assert_int_equal(probe(&f, SYS_pread64, 72, 512, 63 * 512), KILLED);
    assert_int_equal(probe(&f, SYS_pread64, 10, 512, 512), KILLED);
    s.n_dev = CAPSA_UK_MAX_DEVICES + 1;
    assert_int_equal(capsa_uk_filter_build(&f, &s, EPOLLFD, TIMERFD), -E2BIG);
    s.n_dev = 1;
    s.dev[0].sector = 0;
    assert_int_equal(capsa_uk_filter_build(&f, &s, EPOLLFD, TIMERFD), -EINVAL);
    s.dev[0].sector = 768;
    s.dev[0].capacity = 768 * 4;
    assert_int_equal(capsa_uk_filter_build(&f, &s, EPOLLFD, TIMERFD), -EINVAL);
    s.dev[0].sector = 512;
    s.dev[0].capacity = 700;
    assert_int_equal(capsa_uk_filter_build(&f, &s, EPOLLFD, TIMERFD), -EINVAL);
    s.dev[0].capacity = 256;
    assert_int_equal(capsa_uk_filter_build(&f, &s, EPOLLFD, TIMERFD), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_block_bounds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_calls, setup, teardown),
        cmocka_unit_test(test_no_block),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
