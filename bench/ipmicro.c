/* ipmicro.c - system call microbenchmark for the interpose level (bench/interpose.sh).
 *
 * Runs inside a container (static, so it needs nothing of the rootfs) and times, in-process with
 * CLOCK_MONOTONIC, loops of one operation each:
 *
 *   getppid    syscall(SYS_getppid)                          native at the interpose level
 *   read4k     pread of 4 KiB at offset 0 of a cached file   native
 *   fstat      fstat of an open fd (glibc 2.33+: newfstatat(fd, "", AT_EMPTY_PATH), brokered)
 *   openclose  open(FILE, O_RDONLY) + close                  open brokered, close native
 *   stat       stat(FILE)                                    brokered
 *   connect    socket + connect to an in-process TCP listener on 127.0.0.1 + accept + close
 *              both (connect brokered, the rest native)
 *   tar        mkdir DIR, then fork + exec of `tar -xf TARFILE -C DIR`, to its exit
 *   rmtree     fork + exec of `rm -rf DIR` (the tree that `tar` made), to its exit
 *
 * usage: ipmicro [-t MS] [-f FILE] [-a TARFILE] [-d DIR] OP...
 *   -t MS     time budget per loop op (default 300): it runs batches, doubling, until MS have
 *             passed, so that a 100 ns call and a 200 us call both get a stable figure
 *   -f FILE   the file of read4k, fstat, openclose and stat (default /etc/ipmicro.dat, >= 4 KiB)
 *   -a, -d    tar's archive (default /ipmicro.tar) and target (default /tmp/ipmicro.x)
 * One line per op:  ipmicro OP ns_per_op=X iters=N
 * tar and rmtree run once (iters=1): their figure is the whole command's wall time.
 * Exit status 1 (and a message naming the op and the call) when any call fails. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct ctx {
    const char *file;
    const char *tarfile;
    const char *dir;
    int fd;       /* FILE, open */
    int listener; /* 127.0.0.1, for connect */
    struct sockaddr_in addr;
    char buf[4096];
};

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int fail(const char *op, const char *call)
{
    fprintf(stderr, "ipmicro: %s: %s: %s\n", op, call, strerror(errno));
    return -1;
}

static int op_getppid(struct ctx *c, long n)
{
    (void)c;
    for (long i = 0; i < n; i++)
        if (syscall(SYS_getppid) < 0)
            return fail("getppid", "getppid");
    return 0;
}

static int op_read4k(struct ctx *c, long n)
{
    for (long i = 0; i < n; i++)
        if (pread(c->fd, c->buf, sizeof c->buf, 0) != (ssize_t)sizeof c->buf)
            return fail("read4k", "pread (is the file 4 KiB or more?)");
    return 0;
}

static int op_fstat(struct ctx *c, long n)
{
    struct stat st;
    for (long i = 0; i < n; i++)
        if (fstat(c->fd, &st) < 0)
            return fail("fstat", "fstat");
    return 0;
}

static int op_openclose(struct ctx *c, long n)
{
    for (long i = 0; i < n; i++) {
        int fd = open(c->file, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fail("openclose", c->file);
        close(fd);
    }
    return 0;
}

static int op_stat(struct ctx *c, long n)
{
    struct stat st;
    for (long i = 0; i < n; i++)
        if (stat(c->file, &st) < 0)
            return fail("stat", c->file);
    return 0;
}

static int listener_open(struct ctx *c)
{
    if (c->listener >= 0)
        return 0;
    c->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->listener < 0)
        return fail("connect", "socket (listener)");
    memset(&c->addr, 0, sizeof c->addr);
    c->addr.sin_family = AF_INET;
    c->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof c->addr;
    if (bind(c->listener, (struct sockaddr *)&c->addr, sizeof c->addr) < 0 ||
        listen(c->listener, 128) < 0 ||
        getsockname(c->listener, (struct sockaddr *)&c->addr, &len) < 0)
        return fail("connect", "bind/listen on 127.0.0.1 (is lo up?)");
    return 0;
}

static int op_connect(struct ctx *c, long n)
{
    if (listener_open(c) < 0)
        return -1;
    /* The client closes first with a reset (linger 0): no TIME_WAIT entries pile up. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    for (long i = 0; i < n; i++) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0)
            return fail("connect", "socket");
        if (connect(s, (struct sockaddr *)&c->addr, sizeof c->addr) < 0) {
            close(s);
            return fail("connect", "connect");
        }
        int a = accept4(c->listener, NULL, NULL, SOCK_CLOEXEC);
        if (a < 0) {
            close(s);
            return fail("connect", "accept");
        }
        setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        close(s);
        close(a);
    }
    return 0;
}

static int spawn(const char *op, char *const argv[])
{
    pid_t pid = fork();
    if (pid < 0)
        return fail(op, "fork");
    if (pid == 0) {
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0)
        return fail(op, "waitpid");
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "ipmicro: %s: %s exited with status 0x%x\n", op, argv[0], st);
        return -1;
    }
    return 0;
}

static int op_tar(struct ctx *c, long n)
{
    (void)n;
    if (mkdir(c->dir, 0755) < 0)
        return fail("tar", c->dir);
    char *argv[] = {"/bin/tar", "-xf", (char *)c->tarfile, "-C", (char *)c->dir, NULL};
    return spawn("tar", argv);
}

static int op_rmtree(struct ctx *c, long n)
{
    (void)n;
    char *argv[] = {"/bin/rm", "-rf", (char *)c->dir, NULL};
    return spawn("rmtree", argv);
}

static const struct {
    const char *name;
    int (*fn)(struct ctx *, long);
    int once; /* a whole command: run once, no warm-up */
} OPS[] = {
    {"getppid", op_getppid, 0}, {"read4k", op_read4k, 0},
    {"fstat", op_fstat, 0},     {"openclose", op_openclose, 0},
    {"stat", op_stat, 0},       {"connect", op_connect, 0},
    {"tar", op_tar, 1},         {"rmtree", op_rmtree, 1},
};

static int run_op(struct ctx *c, int k, long long budget_ns)
{
    const char *name = OPS[k].name;
    if (OPS[k].once) {
        long long t0 = now_ns();
        if (OPS[k].fn(c, 1) < 0)
            return -1;
        printf("ipmicro %s ns_per_op=%lld iters=1\n", name, now_ns() - t0);
        return 0;
    }
    /* Warm-up: caches, the listener, the first calls' faults. */
    if (OPS[k].fn(c, 8) < 0)
        return -1;
    long total = 0, batch = 8;
    long long t0 = now_ns(), t = t0;
    while (t - t0 < budget_ns) {
        if (OPS[k].fn(c, batch) < 0)
            return -1;
        total += batch;
        t = now_ns();
        if (t - t0 < budget_ns / 8)
            batch *= 2;
    }
    printf("ipmicro %s ns_per_op=%.1f iters=%ld\n", name, (double)(t - t0) / (double)total, total);
    return 0;
}

static void usage(void)
{
    fprintf(stderr, "usage: ipmicro [-t MS] [-f FILE] [-a TARFILE] [-d DIR] OP...\n  ops:");
    for (size_t k = 0; k < sizeof OPS / sizeof OPS[0]; k++)
        fprintf(stderr, " %s", OPS[k].name);
    fprintf(stderr, "\n");
    exit(2);
}

int main(int argc, char **argv)
{
    struct ctx c = {.file = "/etc/ipmicro.dat",
                    .tarfile = "/ipmicro.tar",
                    .dir = "/tmp/ipmicro.x",
                    .fd = -1,
                    .listener = -1};
    long ms = 300;
    int o;
    while ((o = getopt(argc, argv, "t:f:a:d:")) != -1) {
        switch (o) {
        case 't':
            ms = strtol(optarg, NULL, 10);
            if (ms <= 0)
                usage();
            break;
        case 'f':
            c.file = optarg;
            break;
        case 'a':
            c.tarfile = optarg;
            break;
        case 'd':
            c.dir = optarg;
            break;
        default:
            usage();
        }
    }
    if (optind >= argc)
        usage();
    int ks[32], nk = 0;
    for (int i = optind; i < argc && nk < 32; i++) {
        size_t k = 0;
        while (k < sizeof OPS / sizeof OPS[0] && strcmp(OPS[k].name, argv[i]) != 0)
            k++;
        if (k == sizeof OPS / sizeof OPS[0]) {
            fprintf(stderr, "ipmicro: unknown op %s\n", argv[i]);
            usage();
        }
        ks[nk++] = (int)k;
    }
    c.fd = open(c.file, O_RDONLY | O_CLOEXEC);
    if (c.fd < 0) {
        fprintf(stderr, "ipmicro: %s: %s\n", c.file, strerror(errno));
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < nk; i++)
        if (run_op(&c, ks[i], ms * 1000000LL) < 0)
            return 1;
    return 0;
}
