/* test_seccomp.c - linux.seccomp: compiling specs with libseccomp (linked in),
 * installing the exported program in forked children and checking its
 * effects (errno, kill, argument filters, user notification), and the
 * containerProcessState message sent to a seccomp agent. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux/scmp.h"

/* A spec built in place: fixed arrays, string literals (never freed). */
struct tspec {
    struct capsa_seccomp sc;
    struct capsa_seccomp_syscall sys[8];
    struct capsa_seccomp_arg args[8][6];
    char *names[8][8];
    char *arches[4];
    char *flags[4];
};

#define S(lit) ((char *)(lit))

static void ts_init(struct tspec *t, const char *def)
{
    memset(t, 0, sizeof *t);
    t->sc.default_action = S(def);
    t->sc.syscalls = t->sys;
    t->sc.architectures = t->arches;
    t->sc.flags = t->flags;
}

/* Add a rule; errno_ret < 0 means "no errnoRet". Names end with NULL. */
static size_t ts_rule(struct tspec *t, const char *action, long errno_ret, ...)
{
    size_t i = t->sc.n_syscalls++;
    assert_true(i < 8);
    struct capsa_seccomp_syscall *s = &t->sys[i];
    s->action = S(action);
    if (errno_ret >= 0) {
        s->has_errno_ret = true;
        s->errno_ret = (uint32_t)errno_ret;
    }
    s->names = t->names[i];
    s->args = t->args[i];
    va_list ap;
    va_start(ap, errno_ret);
    const char *n;
    while ((n = va_arg(ap, const char *)) != NULL) {
        assert_true(s->n_names < 7);
        s->names[s->n_names++] = S(n);
    }
    va_end(ap);
    return i;
}

static void ts_arg(struct tspec *t, size_t rule, uint32_t index, const char *op, uint64_t v,
                   uint64_t v2)
{
    struct capsa_seccomp_syscall *s = &t->sys[rule];
    assert_true(s->n_args < 6);
    s->args[s->n_args++] =
        (struct capsa_seccomp_arg){.index = index, .op = S(op), .value = v, .value_two = v2};
}

struct warns {
    int n;
    char last[512];
};

static void record_warn(void *opaque, const char *msg)
{
    struct warns *w = opaque;
    w->n++;
    snprintf(w->last, sizeof w->last, "%s", msg);
}

static struct capsa_seccomp_prog *compile_ok(const struct tspec *t, struct warns *w)
{
    struct capsa_err err = {0};
    struct capsa_seccomp_prog *p = NULL;
    int r = capsa_seccomp_compile(&t->sc, &p, w ? record_warn : NULL, w, &err);
    if (r < 0)
        fail_msg("compile: %s", err.msg);
    assert_non_null(p);
    assert_non_null(p->insns);
    assert_true(p->n_insns > 0);
    return p;
}

static void compile_fails(const struct tspec *t, const char *needle)
{
    struct capsa_err err = {0};
    struct capsa_seccomp_prog *p = (struct capsa_seccomp_prog *)&err; /* must be reset */
    int r = capsa_seccomp_compile(&t->sc, &p, NULL, NULL, &err);
    assert_true(r < 0);
    assert_null(p);
    if (strstr(err.msg, needle) == NULL)
        fail_msg("error \"%s\" lacks \"%s\"", err.msg, needle);
}

static void test_every_action(void **state)
{
    (void)state;
    static const char *const actions[] = {
        "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE",        "SCMP_ACT_LOG",         "SCMP_ACT_NOTIFY",
    };
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
        struct tspec t;
        ts_init(&t, "SCMP_ACT_ALLOW");
        t.sc.listener_path = S("/run/agent.sock");
        ts_rule(&t, actions[i], -1, "getppid", NULL);
        struct capsa_seccomp_prog *p = compile_ok(&t, NULL);
        assert_int_equal(p->uses_notify, strcmp(actions[i], "SCMP_ACT_NOTIFY") == 0);
        capsa_seccomp_prog_free(p);
    }
    /* An allowlist: default errno with a custom value, ALLOW rules. */
    struct tspec t;
    ts_init(&t, "SCMP_ACT_ERRNO");
    t.sc.has_default_errno_ret = true;
    t.sc.default_errno_ret = ENOSYS;
    ts_rule(&t, "SCMP_ACT_ALLOW", -1, "read", "write", "exit_group", NULL);
    ts_rule(&t, "SCMP_ACT_ERRNO", ENOSYS, "mkdir", NULL); /* same as default: skipped */
    capsa_seccomp_prog_free(compile_ok(&t, NULL));
}

static void test_every_op(void **state)
{
    (void)state;
    static const char *const ops[] = {"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",
                                      "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT"};
    unsigned short base;
    {
        struct tspec t;
        ts_init(&t, "SCMP_ACT_ALLOW");
        ts_rule(&t, "SCMP_ACT_ERRNO", -1, "personality", NULL);
        struct capsa_seccomp_prog *p = compile_ok(&t, NULL);
        base = p->n_insns;
        capsa_seccomp_prog_free(p);
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        struct tspec t;
        ts_init(&t, "SCMP_ACT_ALLOW");
        size_t r = ts_rule(&t, "SCMP_ACT_ERRNO", -1, "personality", NULL);
        ts_arg(&t, r, 0, ops[i], 42, 0);
        struct capsa_seccomp_prog *p = compile_ok(&t, NULL);
        /* The comparison is really in the program. */
        assert_true(p->n_insns > base);
        capsa_seccomp_prog_free(p);
    }
    struct tspec t;
    ts_init(&t, "SCMP_ACT_ALLOW");
    size_t r = ts_rule(&t, "SCMP_ACT_ERRNO", -1, "clone", NULL);
    ts_arg(&t, r, 0, "SCMP_CMP_MASKED_EQ", 0x7e020000, 0); /* namespace flags */
    r = ts_rule(&t, "SCMP_ACT_ERRNO", -1, "socket", "mmap", NULL);
    ts_arg(&t, r, 0, "SCMP_CMP_EQ", 16, 0);
    ts_arg(&t, r, 2, "SCMP_CMP_NE", 9, 0); /* two indexes: one rule, AND */
    r = ts_rule(&t, "SCMP_ACT_ERRNO", -1, "personality", NULL);
    ts_arg(&t, r, 0, "SCMP_CMP_EQ", 1, 0);
    ts_arg(&t, r, 0, "SCMP_CMP_EQ", 2, 0); /* same index: split, as runc */
    capsa_seccomp_prog_free(compile_ok(&t, NULL));

    ts_init(&t, "SCMP_ACT_ALLOW");
    r = ts_rule(&t, "SCMP_ACT_ERRNO", -1, "personality", NULL);
    ts_arg(&t, r, 0, "SCMP_CMP_BOGUS", 1, 0);
    compile_fails(&t, "SCMP_CMP_BOGUS");
}

static void test_unknown_syscall_warns(void **state)
{
    (void)state;
    struct tspec t;
    ts_init(&t, "SCMP_ACT_ALLOW");
    ts_rule(&t, "SCMP_ACT_ERRNO", -1, "getppid", "no_such_syscall_xyz", "mkdir", NULL);
    struct warns w = {0};
    struct capsa_seccomp_prog *p = compile_ok(&t, &w);
    assert_int_equal(w.n, 1);
    assert_non_null(strstr(w.last, "no_such_syscall_xyz"));
    assert_non_null(strstr(w.last, "linux.seccomp.syscalls[0].names[1]"));
    capsa_seccomp_prog_free(p);
}

static void test_flags(void **state)
{
    (void)state;
    struct tspec t;
    ts_init(&t, "SCMP_ACT_ALLOW");
    ts_rule(&t, "SCMP_ACT_ERRNO", -1, "getppid", NULL);
    t.flags[t.sc.n_flags++] = S("SECCOMP_FILTER_FLAG_TSYNC");
    t.flags[t.sc.n_flags++] = S("SECCOMP_FILTER_FLAG_LOG");
    t.flags[t.sc.n_flags++] = S("SECCOMP_FILTER_FLAG_SPEC_ALLOW");
    struct capsa_seccomp_prog *p = compile_ok(&t, NULL);
    assert_int_equal(p->flags, SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
                                   SECCOMP_FILTER_FLAG_SPEC_ALLOW);
    capsa_seccomp_prog_free(p);

    ts_init(&t, "SCMP_ACT_ALLOW");
    t.flags[t.sc.n_flags++] = S("SECCOMP_FILTER_FLAG_BOGUS");
    compile_fails(&t, "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_BOGUS\"");

    /* WAIT_KILLABLE_RECV only means something with a listener: refused
     * without a notify rule, naming it... */
    ts_init(&t, "SCMP_ACT_ALLOW");
    ts_rule(&t, "SCMP_ACT_ERRNO", -1, "getppid", NULL);
    t.flags[t.sc.n_flags++] = S("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
    compile_fails(&t, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");

    /* ...and passed to the kernel with one, even with libseccomp 2.5. */
    ts_init(&t, "SCMP_ACT_ALLOW");
    ts_rule(&t, "SCMP_ACT_NOTIFY", -1, "getppid", NULL);
    t.sc.listener_path = S("/run/agent.sock");
    t.flags[t.sc.n_flags++] = S("SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV");
    p = compile_ok(&t, NULL);
    assert_true(p->flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV);
    capsa_seccomp_prog_free(p);
}

static void test_architectures(void **state)
{
    (void)state;
    struct tspec t;
    ts_init(&t, "SCMP_ACT_ALLOW");
    ts_rule(&t, "SCMP_ACT_ERRNO", -1, "getppid", NULL);
    struct capsa_seccomp_prog *p = compile_ok(&t, NULL);
    unsigned short native = p->n_insns;
    capsa_seccomp_prog_free(p);

    t.arches[t.sc.n_architectures++] = S("SCMP_ARCH_X86_64");
    t.arches[t.sc.n_architectures++] = S("SCMP_ARCH_X86");
    t.arches[t.sc.n_architectures++] = S("SCMP_ARCH_X32");
    p = compile_ok(&t, NULL);
    /* A section per extra architecture. */
    assert_true(p->n_insns > native);
    capsa_seccomp_prog_free(p);

    ts_init(&t, "SCMP_ACT_ALLOW");
    t.arches[t.sc.n_architectures++] = S("SCMP_ARCH_X86_64");
    t.arches[t.sc.n_architectures++] = S("SCMP_ARCH_VAX");
    compile_fails(&t, "linux.seccomp.architectures[1]");
}

static void test_invalid_specs(void **state)
{
    (void)state;
    struct tspec t;
    ts_init(&t, "SCMP_ACT_ALLOW");
    ts_rule(&t, "SCMP_ACT_NOTIFY", -1, "getppid", NULL);
    compile_fails(&t, "linux.seccomp.listenerPath");

    ts_init(&t, "SCMP_ACT_NOTIFY");
    t.sc.listener_path = S("/run/agent.sock");
    compile_fails(&t, "linux.seccomp.defaultAction");

    ts_init(&t, "SCMP_ACT_ALLOW");
    ts_rule(&t, "SCMP_ACT_ERRNO", 70000, "getppid", NULL);
    compile_fails(&t, "linux.seccomp.syscalls[0]: errnoRet 70000");

    ts_init(&t, "SCMP_ACT_ALLOW");
    ts_rule(&t, "SCMP_ACT_ERRNO", -1, "getppid", NULL);
    ts_rule(&t, "SCMP_ACT_WHATEVER", -1, "getppid", NULL);
    compile_fails(&t, "linux.seccomp.syscalls[1]");
}

/* Fork a child that installs p (with no_new_privs, as an unprivileged
 * process must) and runs body; returns the raw wait status. */
static int run_filtered(const struct capsa_seccomp_prog *p, int (*body)(void *), void *arg)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core); /* SIGSYS dumps core by default */
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            _exit(100);
        struct capsa_err err = {0};
        if (capsa_seccomp_load(p, NULL, &err) < 0) {
            dprintf(2, "load: %s\n", err.msg);
            _exit(101);
        }
        _exit(body(arg));
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return st;
}

static int errno_body(void *arg)
{
    const char *dir = arg;
    char path[512];
    snprintf(path, sizeof path, "%s/blocked", dir);
    if (syscall(SYS_mkdir, path, 0700) != -1 || errno != EPERM)
        return 1;
    if (syscall(SYS_mkdirat, AT_FDCWD, path, 0700) != -1 || errno != EPERM)
        return 2;
    char buf[256];
    if (syscall(SYS_getcwd, buf, sizeof buf) != -1 || errno != ENOSYS)
        return 3;
    /* Everything else still works. */
    if (syscall(SYS_getpid) != getpid())
        return 4;
    snprintf(path, sizeof path, "%s/allowed", dir);
    int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        return 5;
    close(fd);
    return 0;
}

static void test_load_errno(void **state)
{
    (void)state;
    char dir[] = "/tmp/capsa-seccomp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    struct tspec t;
    ts_init(&t, "SCMP_ACT_ALLOW");
    ts_rule(&t, "SCMP_ACT_ERRNO", EPERM, "mkdir", "mkdirat", NULL);
    ts_rule(&t, "SCMP_ACT_ERRNO", ENOSYS, "getcwd", NULL);
    struct capsa_seccomp_prog *p = compile_ok(&t, NULL);
    int st = run_filtered(p, errno_body, dir);
    capsa_seccomp_prog_free(p);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    char path[512];
    struct stat sb;
    snprintf(path, sizeof path, "%s/blocked", dir);
    assert_int_equal(stat(path, &sb), -1); /* the host sees no directory */
    snprintf(path, sizeof path, "%s/allowed", dir);
    assert_int_equal(stat(path, &sb), 0);
    unlink(path);
    rmdir(dir);
}

static int getppid_body(void *arg)
{
    (void)arg;
    syscall(SYS_getppid);
    return 0; /* reached only when the filter failed to kill */
}

static void test_load_kill(void **state)
{
    (void)state;
    static const char *const kills[] = {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                        "SCMP_ACT_KILL_THREAD"};
    for (size_t i = 0; i < 3; i++) {
        struct tspec t;
        ts_init(&t, "SCMP_ACT_ALLOW");
        ts_rule(&t, kills[i], -1, "getppid", NULL);
        struct capsa_seccomp_prog *p = compile_ok(&t, NULL);
        int st = run_filtered(p, getppid_body, NULL);
        capsa_seccomp_prog_free(p);
        assert_true(WIFSIGNALED(st));
        assert_int_equal(WTERMSIG(st), SIGSYS);
    }
}

static int personality_body(void *arg)
{
    (void)arg;
    /* 0xffffffff only queries the persona: the rule denies exactly it. */
    if (syscall(SYS_personality, 0xffffffffUL) != -1 || errno != EPERM)
        return 1;
    /* Two conditions on one argument: either denies (runc's split). */
    if (syscall(SYS_personality, 0x1111UL) != -1 || errno != EACCES)
        return 2;
    if (syscall(SYS_personality, 0x2222UL) != -1 || errno != EACCES)
        return 3;
    /* Masked: (arg & 0xff0000) == 0x080000 denied with EBUSY. */
    if (syscall(SYS_personality, 0x0800ffUL) != -1 || errno != EBUSY)
        return 4;
    /* Anything else passes: PER_LINUX, the current persona. */
    if (syscall(SYS_personality, 0UL) < 0)
        return 5;
    return 0;
}

static void test_load_args(void **state)
{
    (void)state;
    struct tspec t;
    ts_init(&t, "SCMP_ACT_ALLOW");
    size_t r = ts_rule(&t, "SCMP_ACT_ERRNO", EPERM, "personality", NULL);
    ts_arg(&t, r, 0, "SCMP_CMP_EQ", 0xffffffff, 0);
    r = ts_rule(&t, "SCMP_ACT_ERRNO", EACCES, "personality", NULL);
    ts_arg(&t, r, 0, "SCMP_CMP_EQ", 0x1111, 0);
    ts_arg(&t, r, 0, "SCMP_CMP_EQ", 0x2222, 0);
    r = ts_rule(&t, "SCMP_ACT_ERRNO", EBUSY, "personality", NULL);
    ts_arg(&t, r, 0, "SCMP_CMP_MASKED_EQ", 0xff0000, 0x080000);
    struct capsa_seccomp_prog *p = compile_ok(&t, NULL);
    int st = run_filtered(p, personality_body, NULL);
    capsa_seccomp_prog_free(p);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static int send_fd(int sock, int fd)
{
    char byte = 'x';
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } c;
    memset(&c, 0, sizeof c);
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof c.buf};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    return sendmsg(sock, &mh, 0) == 1 ? 0 : -1;
}

/* Receive up to len bytes and one fd (or -1). Returns bytes read. */
static ssize_t recv_with_fd(int sock, void *buf, size_t len, int *fd)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } c;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.buf, .msg_controllen = sizeof c.buf};
    *fd = -1;
    ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    struct cmsghdr *cm = n >= 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
        memcpy(fd, CMSG_DATA(cm), sizeof *fd);
    return n;
}

static void test_load_notify(void **state)
{
    (void)state;
    struct tspec t;
    ts_init(&t, "SCMP_ACT_ALLOW");
    t.sc.listener_path = S("/unused");
    ts_rule(&t, "SCMP_ACT_NOTIFY", -1, "getppid", NULL);
    struct capsa_seccomp_prog *p = compile_ok(&t, NULL);
    assert_true(p->uses_notify);

    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
            _exit(100);
        struct capsa_err err = {0};
        int nfd = -1;
        if (capsa_seccomp_load(p, &nfd, &err) < 0 || nfd < 0) {
            dprintf(2, "load: %s\n", err.msg);
            _exit(101);
        }
        if (send_fd(sv[1], nfd) < 0)
            _exit(102);
        close(nfd);
        /* Blocks until the supervisor (our parent) answers. */
        long v = syscall(SYS_getppid);
        _exit(v == 4242 ? 0 : 103);
    }
    close(sv[1]);
    capsa_seccomp_prog_free(p);
    char b;
    int nfd = -1;
    assert_int_equal(recv_with_fd(sv[0], &b, 1, &nfd), 1);
    close(sv[0]);
    assert_true(nfd >= 0);

    struct seccomp_notif req;
    memset(&req, 0, sizeof req);
    assert_int_equal(ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req), 0);
    assert_int_equal(req.data.nr, SYS_getppid);
    assert_int_equal(req.pid, pid);
    struct seccomp_notif_resp resp = {.id = req.id, .val = 4242, .error = 0, .flags = 0};
    assert_int_equal(ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp), 0);
    close(nfd);

    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_load_errors(void **state)
{
    (void)state;
    struct capsa_err err = {0};
    int fd = 7;
    assert_true(capsa_seccomp_load(NULL, &fd, &err) < 0);
    assert_int_equal(fd, -1);
    struct capsa_seccomp_prog empty = {0};
    assert_true(capsa_seccomp_load(&empty, NULL, &err) < 0);
    capsa_seccomp_prog_free(NULL);
}

static int listen_in(const char *dir, char *path, size_t len)
{
    snprintf(path, len, "%s/agent.sock", dir);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    assert_true(strlen(path) < sizeof a.sun_path);
    memcpy(a.sun_path, path, strlen(path) + 1);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s, 4), 0);
    return s;
}

static void test_send_listener(void **state)
{
    (void)state;
    char dir[] = "/tmp/capsa-seccomp-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    int ls = listen_in(dir, path, sizeof path);
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    struct capsa_err err = {0};
    const char *st = "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"creating\","
                     "\"pid\":4321,\"bundle\":\"/b\",\"annotations\":{\"k\":\"v\"}}";
    /* The backlog accepts the connection before we call accept(). */
    int r = capsa_seccomp_send_listener(path, "MKNOD=/dev/null", st, pfd[0], &err);
    if (r < 0)
        fail_msg("send: %s", err.msg);
    int conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    assert_true(conn >= 0);
    char buf[4096];
    int got_fd = -1;
    ssize_t n = recv_with_fd(conn, buf, sizeof buf - 1, &got_fd);
    assert_true(n > 0);
    buf[n] = '\0';
    /* One message: the whole document came with the fd. */
    json_error_t jerr;
    json_t *doc = json_loads(buf, 0, &jerr);
    if (doc == NULL)
        fail_msg("bad JSON %s: %s", buf, jerr.text);
    assert_string_equal(json_string_value(json_object_get(doc, "ociVersion")), "1.2.0");
    json_t *fds = json_object_get(doc, "fds");
    assert_int_equal(json_array_size(fds), 1);
    assert_string_equal(json_string_value(json_array_get(fds, 0)), "seccompFd");
    assert_int_equal(json_integer_value(json_object_get(doc, "pid")), 4321);
    assert_string_equal(json_string_value(json_object_get(doc, "metadata")), "MKNOD=/dev/null");
    json_t *s = json_object_get(doc, "state");
    assert_string_equal(json_string_value(json_object_get(s, "id")), "c1");
    assert_string_equal(json_string_value(json_object_get(s, "bundle")), "/b");
    assert_string_equal(json_string_value(json_object_get(json_object_get(s, "annotations"), "k")),
                        "v");
    json_decref(doc);

    /* The fd received is the pipe's read end: what we write comes out. */
    assert_true(got_fd >= 0);
    assert_int_equal(write(pfd[1], "z", 1), 1);
    char c = 0;
    assert_int_equal(read(got_fd, &c, 1), 1);
    assert_int_equal(c, 'z');
    close(got_fd);
    close(conn);

    /* Without metadata the key is left out; the peer closed -> EOF after. */
    assert_int_equal(capsa_seccomp_send_listener(path, NULL, st, pfd[0], &err), 0);
    conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    assert_true(conn >= 0);
    n = recv_with_fd(conn, buf, sizeof buf - 1, &got_fd);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_null(strstr(buf, "metadata"));
    assert_true(got_fd >= 0);
    close(got_fd);
    assert_int_equal(read(conn, buf, sizeof buf), 0);
    close(conn);

    /* An exec'd process: "pid" is that process, "state.pid" stays the init's. */
    assert_int_equal(capsa_seccomp_send_listener_pid(path, NULL, st, 9876, pfd[0], &err), 0);
    conn = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    assert_true(conn >= 0);
    n = recv_with_fd(conn, buf, sizeof buf - 1, &got_fd);
    assert_true(n > 0);
    buf[n] = '\0';
    doc = json_loads(buf, 0, &jerr);
    if (doc == NULL)
        fail_msg("bad JSON %s: %s", buf, jerr.text);
    assert_int_equal(json_integer_value(json_object_get(doc, "pid")), 9876);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "state"), "pid")),
                     4321);
    json_decref(doc);
    close(got_fd);
    close(conn);

    /* Errors name the path; a state without pid is refused. */
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nobody.sock", dir);
    assert_true(capsa_seccomp_send_listener(missing, NULL, st, pfd[0], &err) < 0);
    assert_non_null(strstr(err.msg, "nobody.sock"));
    assert_true(capsa_seccomp_send_listener(path, NULL, "{\"id\":\"c1\"}", pfd[0], &err) < 0);
    assert_true(capsa_seccomp_send_listener(path, NULL, "not json", pfd[0], &err) < 0);

    close(pfd[0]);
    close(pfd[1]);
    close(ls);
    unlink(path);
    rmdir(dir);
}

/* Rule sets libseccomp 2.5 loops on (two rules of one syscall sharing a
 * SCMP_CMP_NE comparison, each comparing another argument) are compiled in a
 * child under a deadline: the looping one fails naming the cause, a
 * similar one that libseccomp finishes compiles as usual (the child writes
 * its warnings through the callback; this one's are not checked). */
static void test_risky_rules(void **state)
{
    (void)state;
    struct tspec t;
    ts_init(&t, "SCMP_ACT_ALLOW");
    size_t a = ts_rule(&t, "SCMP_ACT_ERRNO", 1, "kill", NULL);
    ts_arg(&t, a, 1, "SCMP_CMP_NE", 9, 0);
    ts_arg(&t, a, 3, "SCMP_CMP_GE", 3, 0);
    size_t b = ts_rule(&t, "SCMP_ACT_ERRNO", 1, "kill", NULL);
    ts_arg(&t, b, 1, "SCMP_CMP_NE", 9, 0);
    ts_arg(&t, b, 4, "SCMP_CMP_GE", 3, 0);
    compile_fails(&t, "SCMP_CMP_NE comparison");

    ts_init(&t, "SCMP_ACT_ALLOW");
    a = ts_rule(&t, "SCMP_ACT_ERRNO", 1, "kill", "no_such_call", NULL);
    ts_arg(&t, a, 1, "SCMP_CMP_NE", 9, 0);
    ts_arg(&t, a, 3, "SCMP_CMP_GE", 3, 0);
    b = ts_rule(&t, "SCMP_ACT_ERRNO", 1, "kill", NULL);
    ts_arg(&t, b, 1, "SCMP_CMP_NE", 9, 0);
    ts_arg(&t, b, 3, "SCMP_CMP_GE", 4, 0);
    struct warns w = {0};
    struct capsa_seccomp_prog *p = compile_ok(&t, &w);
    capsa_seccomp_prog_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_action),  cmocka_unit_test(test_risky_rules),
        cmocka_unit_test(test_every_op),      cmocka_unit_test(test_unknown_syscall_warns),
        cmocka_unit_test(test_flags),         cmocka_unit_test(test_architectures),
        cmocka_unit_test(test_invalid_specs), cmocka_unit_test(test_load_errno),
        cmocka_unit_test(test_load_kill),     cmocka_unit_test(test_load_args),
        cmocka_unit_test(test_load_notify),   cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_send_listener),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
