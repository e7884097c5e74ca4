/* test_terminal.c - unit tests for terminal.c: SCM_RIGHTS roundtrips, the
 * console socket (including paths longer than sun_path), the foreground
 * relay over an openpty pair, and console setup in a private mount
 * namespace with its own devpts (needs root; skipped otherwise). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "linux/terminal.h"
#include "util/util.h"

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/capsa-term-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void same_file(int a, int b)
{
    struct stat sa, sb;
    assert_int_equal(fstat(a, &sa), 0);
    assert_int_equal(fstat(b, &sb), 0);
    assert_true(sa.st_dev == sb.st_dev);
    assert_true(sa.st_ino == sb.st_ino);
    assert_true(sa.st_rdev == sb.st_rdev);
}

static void test_fd_roundtrip(void **state)
{
    (void)state;
    int sp[2], p[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    struct capsa_err err = {0};
    assert_int_equal(capsa_fd_send(sp[0], p[1], &err), 0);
    int got = -1;
    assert_int_equal(capsa_fd_recv(sp[1], &got, &err), 0);
    assert_true(got >= 0);
    assert_true(got != p[1]);
    same_file(got, p[1]);
    assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
    /* It really is the pipe: data written through it comes out of p[0]. */
    assert_int_equal(write(got, "hi", 2), 2);
    char buf[4] = {0};
    assert_int_equal(read(p[0], buf, sizeof buf), 2);
    assert_string_equal(buf, "hi");

    /* A peer that closes without sending is an error, not a bogus fd. */
    close(sp[0]);
    got = -1;
    assert_true(capsa_fd_recv(sp[1], &got, &err) < 0);
    assert_int_equal(got, -1);
    close(sp[1]);
    close(p[0]);
    close(p[1]);
}

/* Listen on dir/name (reached through a dirfd when too long for sun_path). */
static int listen_at(const char *dir, const char *name)
{
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(s >= 0);
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s", dfd, name);
    assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(s, 4), 0);
    close(dfd);
    return s;
}

/* Accept one connection; return the fd it carried and its payload. */
static int accept_fd(int ls, char *name, size_t namelen)
{
    int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
    assert_true(c >= 0);
    struct iovec iov = {.iov_base = name, .iov_len = namelen - 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    ssize_t r = recvmsg(c, &msg, MSG_CMSG_CLOEXEC);
    assert_true(r > 0);
    name[r] = '\0';
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    if (cm == NULL) {
        fail_msg("no control message");
        return -1;
    }
    assert_int_equal(cm->cmsg_type, SCM_RIGHTS);
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    close(c);
    return fd;
}

static void console_socket_case(const char *dir)
{
    int ls = listen_at(dir, "console.sock");
    cleanup_free char *path = NULL;
    assert_int_equal(capsa_asprintf(&path, NULL, "%s/console.sock", dir), 0);
    int m, s;
    assert_int_equal(openpty(&m, &s, NULL, NULL, NULL), 0);
    struct capsa_err err = {0};
    assert_int_equal(capsa_console_socket_send(path, m, &err), 0);
    char name[128];
    int got = accept_fd(ls, name, sizeof name);
    same_file(got, m);
    /* The payload names the slave. */
    char expect[64];
    assert_int_equal(ptsname_r(m, expect, sizeof expect), 0);
    assert_string_equal(name, expect);
    close(got);
    close(m);
    close(s);
    close(ls);
    unlink(path);
}

static void test_console_socket(void **state)
{
    (void)state;
    console_socket_case(tmpdir);

    /* A directory deep enough that dir/console.sock exceeds sun_path. */
    char deep[512];
    size_t n = (size_t)snprintf(deep, sizeof deep, "%s", tmpdir);
    while (n < 150) {
        n += (size_t)snprintf(deep + n, sizeof deep - n, "/%s", "a-rather-long-directory-name");
        assert_int_equal(mkdir(deep, 0700), 0);
    }
    assert_true(strlen(deep) + strlen("/console.sock") >=
                sizeof(((struct sockaddr_un *)0)->sun_path));
    console_socket_case(deep);

    struct capsa_err err = {0};
    cleanup_free char *missing = NULL;
    assert_int_equal(capsa_asprintf(&missing, NULL, "%s/nope.sock", tmpdir), 0);
    assert_true(capsa_console_socket_send(missing, 0, &err) < 0);
    assert_non_null(strstr(err.msg, "nope.sock"));
}

static void read_exact(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        assert_int_equal(poll(&p, 1, 5000), 1);
        ssize_t r = read(fd, buf + got, len - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
}

/* Run the relay in a child whose stdin/stdout are pipes. */
static pid_t start_relay(int m, int s, int stop_r, int *in_w, int *out_r)
{
    int in[2], out[2];
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Only the test holds the slave, so closing it means hangup. */
        close(s);
        dup2(in[0], 0);
        dup2(out[1], 1);
        struct capsa_err err = {0};
        int r = capsa_terminal_relay(m, stop_r, &err);
        if (r < 0)
            fprintf(stderr, "relay: %s\n", err.msg);
        _exit(r == 0 ? 0 : 1);
    }
    close(in[0]);
    close(out[1]);
    *in_w = in[1];
    *out_r = out[0];
    return pid;
}

static void raw_pty(int *m, int *s)
{
    struct termios t;
    assert_int_equal(openpty(m, s, NULL, NULL, NULL), 0);
    assert_int_equal(tcgetattr(*s, &t), 0);
    cfmakeraw(&t);
    assert_int_equal(tcsetattr(*s, TCSANOW, &t), 0);
    fcntl(*m, F_SETFD, FD_CLOEXEC);
    fcntl(*s, F_SETFD, FD_CLOEXEC);
}

static int wait_status(pid_t pid)
{
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static void test_relay_stop_fd(void **state)
{
    (void)state;
    int m, s, stop[2], in_w, out_r;
    raw_pty(&m, &s);
    assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
    pid_t pid = start_relay(m, s, stop[0], &in_w, &out_r);

    /* stdin -> master -> slave */
    assert_int_equal(write(in_w, "hello\n", 6), 6);
    char buf[32] = {0};
    read_exact(s, buf, 6);
    assert_string_equal(buf, "hello\n");
    /* slave -> master -> stdout */
    assert_int_equal(write(s, "output", 6), 6);
    memset(buf, 0, sizeof buf);
    read_exact(out_r, buf, 6);
    assert_string_equal(buf, "output");
    /* stdin EOF does not end the relay: output still flows. */
    close(in_w);
    assert_int_equal(write(s, "more", 4), 4);
    memset(buf, 0, sizeof buf);
    read_exact(out_r, buf, 4);
    assert_string_equal(buf, "more");

    /* Output pending when stop_fd fires is drained first. */
    assert_int_equal(write(s, "final", 5), 5);
    usleep(100000);
    assert_int_equal(write(stop[1], "x", 1), 1);
    assert_int_equal(wait_status(pid), 0);
    memset(buf, 0, sizeof buf);
    ssize_t r = capsa_read_all(out_r, buf, sizeof buf - 1);
    assert_int_equal(r, 5);
    assert_string_equal(buf, "final");
    close(out_r);
    close(stop[0]);
    close(stop[1]);
    close(m);
    close(s);
}

/* More input than the pty can buffer: the relay must neither block nor drop
 * data while the reader on the slave is slower than the writer. */
static void test_relay_backpressure(void **state)
{
    (void)state;
    int m, s, stop[2], in_w, out_r;
    raw_pty(&m, &s);
    assert_int_equal(pipe2(stop, O_CLOEXEC), 0);
    pid_t pid = start_relay(m, s, stop[0], &in_w, &out_r);
    size_t total = 256 * 1024, sent = 0, got = 0;
    cleanup_free char *data = malloc(total);
    cleanup_free char *back = malloc(total);
    assert_non_null(data);
    assert_non_null(back);
    for (size_t i = 0; i < total; i++)
        data[i] = (char)('A' + (i * 7) % 26);
    assert_int_equal(fcntl(in_w, F_SETFL, O_NONBLOCK), 0);
    while (got < total) {
        struct pollfd p[2] = {{.fd = sent < total ? in_w : -1, .events = POLLOUT},
                              {.fd = s, .events = POLLIN}};
        assert_true(poll(p, 2, 5000) > 0);
        if (p[0].revents & POLLOUT) {
            ssize_t w = write(in_w, data + sent, total - sent);
            if (w > 0)
                sent += (size_t)w;
        }
        if (p[1].revents & POLLIN) {
            ssize_t r = read(s, back + got, total - got > 512 ? 512 : total - got);
            assert_true(r > 0);
            got += (size_t)r;
        }
    }
    assert_memory_equal(back, data, total);
    assert_int_equal(write(stop[1], "x", 1), 1);
    assert_int_equal(wait_status(pid), 0);
    close(in_w);
    close(out_r);
    close(stop[0]);
    close(stop[1]);
    close(m);
    close(s);
}

static void test_relay_hangup(void **state)
{
    (void)state;
    int m, s, in_w, out_r;
    raw_pty(&m, &s);
    pid_t pid = start_relay(m, s, -1, &in_w, &out_r);
    assert_int_equal(write(s, "bye", 3), 3);
    char buf[8] = {0};
    read_exact(out_r, buf, 3);
    assert_string_equal(buf, "bye");
    /* Last slave closed: the master reports EIO and the relay returns 0. */
    close(s);
    assert_int_equal(wait_status(pid), 0);
    close(in_w);
    close(out_r);
    close(m);
}

/* In a child: a private mount namespace and a chroot holding a fresh devpts
 * instance, like the container's /dev. Exit codes identify the failed step. */
static int console_child(const char *root)
{
    char p[256];
    if (unshare(CLONE_NEWNS) < 0)
        return 10;
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return 11;
    if (mount("tmpfs", root, "tmpfs", 0, "mode=0755") < 0)
        return 12;
    snprintf(p, sizeof p, "%s/dev", root);
    if (mkdir(p, 0755) < 0)
        return 13;
    snprintf(p, sizeof p, "%s/dev/pts", root);
    if (mkdir(p, 0755) < 0)
        return 14;
    if (mount("devpts", p, "devpts", 0, "newinstance,ptmxmode=0666,mode=0620") < 0)
        return 15;
    snprintf(p, sizeof p, "%s/dev/ptmx", root);
    if (symlink("pts/ptmx", p) < 0)
        return 16;
    if (chroot(root) < 0 || chdir("/") < 0)
        return 17;
    struct capsa_err err = {0};
    int master = capsa_terminal_setup_console(24, 80, 0, &err);
    if (master < 0) {
        dprintf(3, "%s\n", err.msg);
        return 20;
    }
    struct stat cons, in;
    if (stat("/dev/console", &cons) < 0 || !S_ISCHR(cons.st_mode))
        return 21;
    if (fstat(0, &in) < 0 || in.st_rdev != cons.st_rdev)
        return 22;
    unsigned int ptn = 99;
    if (ioctl(master, TIOCGPTN, &ptn) < 0 || minor(cons.st_rdev) != ptn)
        return 23;
    if (!isatty(0) || !isatty(1) || !isatty(2))
        return 24;
    pid_t sid = 0;
    if (ioctl(0, TIOCGSID, &sid) < 0 || sid != getpid())
        return 25;
    struct winsize ws;
    if (ioctl(0, TIOCGWINSZ, &ws) < 0 || ws.ws_row != 24 || ws.ws_col != 80)
        return 26;
    if (!(fcntl(master, F_GETFD) & FD_CLOEXEC))
        return 27;
    return 0;
}

static void test_setup_console(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    cleanup_free char *root = NULL;
    assert_int_equal(capsa_asprintf(&root, NULL, "%s/root", tmpdir), 0);
    assert_int_equal(mkdir(root, 0755), 0);
    /* fd 3: the child's error channel, its stdio becomes the pty. */
    int ep[2];
    assert_int_equal(pipe(ep), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ep[0]);
        if (ep[1] != 3) {
            dup2(ep[1], 3);
            close(ep[1]);
        }
        _exit(console_child(root));
    }
    close(ep[1]);
    int st = wait_status(pid);
    char msg[512] = {0};
    capsa_read_all(ep[0], msg, sizeof msg - 1);
    close(ep[0]);
    if (st != 0)
        print_error("console child failed at step %d: %s\n", st, msg);
    assert_int_equal(st, 0);
    rmdir(root);
}

/* The pty slave changes owner (not group); a non-terminal is left alone. */
static void test_set_owner(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    int master = -1, slave = -1;
    assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
    struct stat before, after;
    assert_int_equal(fstat(slave, &before), 0);
    struct capsa_err err = {0};
    assert_int_equal(capsa_terminal_set_owner(slave, 4321, &err), 0);
    assert_int_equal(fstat(slave, &after), 0);
    assert_int_equal(after.st_uid, 4321);
    assert_int_equal(after.st_gid, before.st_gid);
    /* already the owner: nothing to do, still fine */
    assert_int_equal(capsa_terminal_set_owner(slave, 4321, &err), 0);
    close(slave);
    close(master);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(fstat(p[0], &before), 0);
    assert_int_equal(capsa_terminal_set_owner(p[0], 4321, &err), 0);
    assert_int_equal(fstat(p[0], &after), 0);
    assert_int_equal(after.st_uid, before.st_uid);
    close(p[0]);
    close(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fd_roundtrip),       cmocka_unit_test(test_console_socket),
        cmocka_unit_test(test_relay_stop_fd),      cmocka_unit_test(test_relay_hangup),
        cmocka_unit_test(test_relay_backpressure), cmocka_unit_test(test_setup_console),
        cmocka_unit_test(test_set_owner),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
