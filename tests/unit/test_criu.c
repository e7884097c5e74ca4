/* test_criu.c - the CRIU RPC client (src/lib/linux/criu.c): the protobuf
 * bytes of requests (checked byte for byte against the wire format of
 * CRIU's rpc.proto), the reader's answers and refusals, whole calls against
 * a fake `criu swrk` at the other end of a socketpair (a forked child that
 * checks the request, sends a notification with a file descriptor, checks
 * the acknowledgement and answers), the errors of a missing or silent
 * binary, and the cause picked from a CRIU log. CRIU itself is tested in a
 * guest: tests/sdvm/criu.sh. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux/criu.h"

static void expect_bytes(const struct capsa_criu_req *req, const uint8_t *want, size_t n)
{
    uint8_t *out = NULL;
    size_t len = 0;
    struct capsa_err err = {0};
    assert_int_equal(capsa_criu_encode(req, &out, &len, &err), 0);
    assert_int_equal(len, n);
    assert_memory_equal(out, want, n);
    free(out);
}

static void test_encode(void **state)
{
    (void)state;
    struct capsa_criu_req r;
    capsa_criu_req_init(&r, CAPSA_CRIU_VERSION);
    static const uint8_t version[] = {0x08, 0x0a};
    expect_bytes(&r, version, sizeof version);

    capsa_criu_req_init(&r, CAPSA_CRIU_NOTIFY);
    r.notify_success = true;
    static const uint8_t ack[] = {0x08, 0x06, 0x18, 0x01};
    expect_bytes(&r, ack, sizeof ack);

    struct capsa_err err = {0};
    capsa_criu_req_init(&r, CAPSA_CRIU_DUMP);
    r.has_opts = true;
    r.images_dir_fd = 5;
    r.pid = 42;
    r.leave_running = true;
    r.cg_mode = CAPSA_CRIU_CG_SOFT;
    assert_int_equal(capsa_criu_set_str(&r.log_file, "d.log", &err), 0);
    assert_int_equal(capsa_criu_add_ext_mnt(&r, "/a", "/b", &err), 0);
    assert_int_equal(capsa_criu_add_cg_root(&r, NULL, "/x", &err), 0);
    assert_int_equal(capsa_criu_add_inherit_fd(&r, "pipe:[1]", 0, &err), 0);
    static const uint8_t dump[] = {
        0x08, 0x01,                                     /* type DUMP */
        0x12, 0x31,                                     /* opts, 49 bytes */
        0x08, 0x05,                                     /* images_dir_fd 5 */
        0x10, 0x2a,                                     /* pid 42 */
        0x18, 0x01,                                     /* leave_running */
        0x52, 0x05, 'd',  '.',  'l',  'o',  'g',        /* log_file (10) */
        0xba, 0x01, 0x08, 0x0a, 0x02, '/',  'a',  0x12, /* ext_mnt (23) {key, */
        0x02, '/',  'b',                                /*  val} */
        0xca, 0x01, 0x04, 0x12, 0x02, '/',  'x',        /* cg_root (25) {path} */
        0xda, 0x01, 0x0c, 0x0a, 0x08, 'p',  'i',  'p',  /* inherit_fd (27) {key, */
        'e',  ':',  '[',  '1',  ']',  0x10, 0x00,       /*  fd 0} */
        0x90, 0x02, 0x03,                               /* manage_cgroups_mode (34) SOFT */
    };
    expect_bytes(&r, dump, sizeof dump);
    capsa_criu_req_free(&r);

    /* A negative int32 is ten bytes, as protobuf sign-extends it. */
    capsa_criu_req_init(&r, CAPSA_CRIU_RESTORE);
    r.has_opts = true;
    r.images_dir_fd = -1;
    static const uint8_t neg[] = {0x08, 0x02, 0x12, 0x0b, 0x08, 0xff, 0xff, 0xff,
                                  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    expect_bytes(&r, neg, sizeof neg);
}

static int parse(const uint8_t *p, size_t n, struct capsa_criu_resp *out)
{
    struct capsa_err err = {0};
    int r = capsa_criu_parse(p, n, out, &err);
    if (r < 0)
        assert_non_null(strstr(err.msg, "criu reply"));
    return r;
}

static void test_parse(void **state)
{
    (void)state;
    struct capsa_criu_resp resp;
    static const uint8_t restored[] = {0x08, 0x02, 0x10, 0x01, 0x22, 0x02, 0x08, 0x7b};
    assert_int_equal(parse(restored, sizeof restored, &resp), 0);
    assert_int_equal(resp.type, CAPSA_CRIU_RESTORE);
    assert_true(resp.success);
    assert_true(resp.has_restore_pid);
    assert_int_equal(resp.restore_pid, 123);

    static const uint8_t notify[] = {0x08, 0x06, 0x10, 0x01, 0x2a, 0x10, 0x0a, 0x0c,
                                     'p',  'o',  's',  't',  '-',  'r',  'e',  's',
                                     't',  'o',  'r',  'e',  0x10, 0x07};
    assert_int_equal(parse(notify, sizeof notify, &resp), 0);
    assert_int_equal(resp.type, CAPSA_CRIU_NOTIFY);
    assert_string_equal(resp.script, "post-restore");
    assert_int_equal(resp.notify_pid, 7);

    static const uint8_t version[] = {0x08, 0x0a, 0x10, 0x01, 0x52, 0x06,
                                      0x08, 0x03, 0x10, 0x11, 0x20, 0x01};
    assert_int_equal(parse(version, sizeof version, &resp), 0);
    assert_true(resp.has_version);
    assert_int_equal(resp.ver_major * 10000 + resp.ver_minor * 100 + resp.ver_sublevel, 31701);

    /* A failure with errno and message; control bytes are made harmless;
     * unknown fields (varint 127, fixed64 12, fixed32 13) are skipped. */
    static const uint8_t failed[] = {0x08, 0x01, 0x10, 0x00, 0x38, 0x02, 0x4a, 0x04, 'b', '\n',
                                     'a',  'd',  0xf8, 0x07, 0x01, 0x61, 1,    2,    3,   4,
                                     5,    6,    7,    8,    0x6d, 1,    2,    3,    4};
    assert_int_equal(parse(failed, sizeof failed, &resp), 0);
    assert_false(resp.success);
    assert_int_equal(resp.cr_errno, 2);
    assert_string_equal(resp.errmsg, "b?ad");

    /* Refusals. */
    static const uint8_t trunc_varint[] = {0x08};
    static const uint8_t no_success[] = {0x08, 0x01};
    static const uint8_t no_type[] = {0x10, 0x01};
    static const uint8_t wrong_wire[] = {0x0d, 0, 0, 0, 0, 0x10, 0x01};
    static const uint8_t past_end[] = {0x08, 0x01, 0x10, 0x01, 0x4a, 0x05, 'a', 'b'};
    static const uint8_t long_varint[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                          0xff, 0xff, 0xff, 0xff, 0x01, 0x10, 0x01};
    static const uint8_t field_zero[] = {0x00, 0x01, 0x08, 0x01, 0x10, 0x01};
    static const uint8_t group[] = {0x08, 0x01, 0x10, 0x01, 0x0b};
    static const uint8_t version_partial[] = {0x08, 0x0a, 0x10, 0x01, 0x52, 0x02, 0x08, 0x03};
    static const uint8_t notify_wire[] = {0x08, 0x06, 0x10, 0x01, 0x2a, 0x02, 0x08, 0x01};
    const struct {
        const uint8_t *p;
        size_t n;
    } bad[] = {
        {trunc_varint, sizeof trunc_varint},
        {no_success, sizeof no_success},
        {no_type, sizeof no_type},
        {wrong_wire, sizeof wrong_wire},
        {past_end, sizeof past_end},
        {long_varint, sizeof long_varint},
        {field_zero, sizeof field_zero},
        {group, sizeof group},
        {version_partial, sizeof version_partial},
        {notify_wire, sizeof notify_wire},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&resp, 0x5a, sizeof resp);
        assert_int_equal(parse(bad[i].p, bad[i].n, &resp), -EBADMSG);
        assert_false(resp.success); /* cleared */
    }
    assert_int_equal(parse(NULL, 0, &resp), -EBADMSG);
}

static void test_cg_mode(void **state)
{
    (void)state;
    enum capsa_criu_cg_mode m;
    assert_int_equal(capsa_criu_cg_mode_parse(NULL, &m), 0);
    assert_int_equal(m, CAPSA_CRIU_CG_DEFAULT);
    assert_int_equal(capsa_criu_cg_mode_parse("strict", &m), 0);
    assert_int_equal(m, CAPSA_CRIU_CG_STRICT);
    assert_int_equal(capsa_criu_cg_mode_parse("ignore", &m), 0);
    assert_int_equal(m, CAPSA_CRIU_CG_IGNORE);
    assert_int_equal(capsa_criu_cg_mode_parse("Soft", &m), -EINVAL);
}

/* ---------------- a whole call against a fake criu ---------------- */

static void send_packet(int sock, const uint8_t *p, size_t n, int fd)
{
    union {
        struct cmsghdr h;
        char space[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&ctl, 0, sizeof ctl);
        mh.msg_control = &ctl;
        mh.msg_controllen = sizeof ctl;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    if (sendmsg(sock, &mh, 0) != (ssize_t)n)
        _exit(10);
}

/* The fake: expects a VERSION request, sends a notification carrying a
 * pipe, expects the acknowledgement, then answers with a version. Exit
 * status 0 only if everything it received was right. */
static void fake_criu(int sock)
{
    uint8_t buf[256];
    ssize_t n = recv(sock, buf, sizeof buf, 0);
    if (n != 2 || buf[0] != 0x08 || buf[1] != 0x0a)
        _exit(1);
    int p[2];
    if (pipe(p) < 0)
        _exit(2);
    static const uint8_t notify[] = {0x08, 0x06, 0x10, 0x01, 0x2a, 0x0a, 0x0a, 0x06,
                                     's',  'c',  'r',  'i',  'p',  't',  0x10, 0x09};
    send_packet(sock, notify, sizeof notify, p[1]);
    close(p[1]);
    n = recv(sock, buf, sizeof buf, 0);
    if (n != 4 || memcmp(buf, "\x08\x06\x18\x01", 4) != 0)
        _exit(3);
    /* The client holds the pipe's write end: it wrote "x" into it. */
    char x = 0;
    if (read(p[0], &x, 1) != 1 || x != 'x')
        _exit(4);
    static const uint8_t version[] = {0x08, 0x0a, 0x10, 0x01, 0x52, 0x04, 0x08, 0x03, 0x10, 0x11};
    send_packet(sock, version, sizeof version, -1);
    _exit(0);
}

struct seen {
    char script[64];
    int pid;
    int calls;
};

static int on_notify(void *opaque, const char *script, int pid, int fd, struct capsa_err *err)
{
    (void)err;
    struct seen *s = opaque;
    snprintf(s->script, sizeof s->script, "%s", script);
    s->pid = pid;
    s->calls++;
    if (fd >= 0) {
        assert_int_equal(write(fd, "x", 1), 1);
        assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
        close(fd);
    }
    return 0;
}

static void test_call(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sv[0]);
        fake_criu(sv[1]);
    }
    close(sv[1]);
    struct capsa_criu c = {.pid = pid, .sock = sv[0], .path = "fake"};
    struct capsa_criu_req req;
    capsa_criu_req_init(&req, CAPSA_CRIU_VERSION);
    struct capsa_criu_resp resp;
    struct seen seen = {0};
    struct capsa_err err = {0};
    assert_int_equal(capsa_criu_call(&c, &req, on_notify, &seen, &resp, &err), 0);
    assert_int_equal(seen.calls, 1);
    assert_string_equal(seen.script, "script");
    assert_int_equal(seen.pid, 9);
    assert_true(resp.success);
    assert_int_equal(resp.ver_minor, 17);
    int status = -1;
    capsa_criu_end(&c, &status);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(c.sock, -1);
    capsa_criu_end(&c, NULL); /* twice is harmless */
}

static void test_spawn_errors(void **state)
{
    (void)state;
    struct capsa_criu c;
    struct capsa_err err = {0};
    assert_int_equal(capsa_criu_spawn("/nonexistent/criu", NULL, 0, &c, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "criu not found"));
    assert_non_null(strstr(err.msg, "/nonexistent/criu"));
    assert_int_equal(c.pid, -1);

    /* A criu that exits without answering. */
    char dir[] = "/tmp/test_criu.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/criu", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("#!/bin/sh\nexit 0\n", f);
    fclose(f);
    assert_int_equal(chmod(path, 0755), 0);
    int v = 0;
    memset(&err, 0, sizeof err);
    int r = capsa_criu_version(path, &v, &err);
    assert_true(r == -EPIPE);
    assert_non_null(strstr(err.msg, "criu"));
    unlink(path);
    rmdir(dir);
}

static void test_log_error(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_criu.XXXXXX";
    assert_non_null(mkdtemp(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert_true(dfd >= 0);
    char buf[256];
    capsa_criu_log_error(dfd, "missing.log", buf, sizeof buf);
    assert_string_equal(buf, "");
    const char *log = "(00.1) probe\n"
                      "(00.2) Error (criu/tun.c:85): tun: probe\n"
                      "(00.3) fine\n"
                      "(00.4) Error (criu/files-reg.c:1710): Can't lookup mount=27\n"
                      "(00.5) Error (criu/cr-dump.c:1635): Dump files failed\n"
                      "(00.6) Error (criu/cr-dump.c:2053): Dumping FAILED.\n";
    int fd = openat(dfd, "dump.log", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, log, strlen(log)), (ssize_t)strlen(log));
    close(fd);
    capsa_criu_log_error(dfd, "dump.log", buf, sizeof buf);
    assert_string_equal(buf, "Can't lookup mount=27; Dump files failed; Dumping FAILED.");
    /* Truncated to the buffer, still terminated. */
    char small[12];
    capsa_criu_log_error(dfd, "dump.log", small, sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    unlinkat(dfd, "dump.log", 0);
    close(dfd);
    rmdir(dir);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encode),       cmocka_unit_test(test_parse),
        cmocka_unit_test(test_cg_mode),      cmocka_unit_test(test_call),
        cmocka_unit_test(test_spawn_errors), cmocka_unit_test(test_log_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
