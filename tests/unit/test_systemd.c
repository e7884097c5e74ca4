/* test_systemd.c - the systemd cgroup driver's pure parts and its D-Bus
 * client (src/lib/linux/systemd.c, dbus.c): cgroupsPath and slice names as
 * systemd lays them out, the unit properties from linux.resources, the
 * reader's refusals of malformed messages, and whole calls against a fake
 * manager at the other end of a socketpair (a forked child that
 * authenticates the client, checks the call it receives and answers with
 * signals, replies and errors in the orders systemd may use). The real
 * systemd is tested in a guest: tests/sdvm. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux/dbus.h"
#include "linux/systemd.h"
#include "spec/spec.h"

/* ---------------- names and paths ---------------- */

static void expect_slice(const char *slice, const char *want)
{
    char *out = NULL;
    struct capsa_err err = {0};
    int r = capsa_systemd_slice_path(slice, &out, &err);
    if (want == NULL) {
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(err.msg, slice));
        assert_null(out);
        return;
    }
    assert_int_equal(r, 0);
    assert_string_equal(out, want);
    free(out);
}

static void test_slice_path(void **state)
{
    (void)state;
    expect_slice("system.slice", "/system.slice");
    expect_slice("a-b-c.slice", "/a.slice/a-b.slice/a-b-c.slice");
    expect_slice("kubepods-besteffort-pod12.slice",
                 "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice");
    expect_slice("-.slice", "");
    expect_slice("a--b.slice", NULL);
    expect_slice("-a.slice", NULL);
    expect_slice("a-.slice", NULL);
    expect_slice("a.scope", NULL);
    expect_slice(".slice", NULL);
    expect_slice("a/b.slice", NULL);
}

static void test_unit_parse(void **state)
{
    (void)state;
    struct capsa_systemd_unit u;
    struct capsa_err err = {0};
    const char *def = geteuid() == 0 ? "system.slice" : "user.slice";
    assert_int_equal(capsa_systemd_unit_parse(NULL, "c1", &u, &err), 0);
    assert_string_equal(u.slice, def);
    assert_string_equal(u.name, "capsa-c1.scope");
    capsa_systemd_unit_free(&u);
    assert_int_equal(capsa_systemd_unit_parse("machine.slice:libpod:abc", "x", &u, &err), 0);
    assert_string_equal(u.slice, "machine.slice");
    assert_string_equal(u.name, "libpod-abc.scope");
    capsa_systemd_unit_free(&u);
    assert_int_equal(capsa_systemd_unit_parse(":cri-containerd:f00", "x", &u, &err), 0);
    assert_string_equal(u.slice, def);
    assert_string_equal(u.name, "cri-containerd-f00.scope");
    capsa_systemd_unit_free(&u);
    assert_int_equal(capsa_systemd_unit_parse("a-b.slice::n", "x", &u, &err), 0);
    assert_string_equal(u.name, "n.scope");
    capsa_systemd_unit_free(&u);

    static const char *const bad[] = {
        "nocolons", "a:b",           "a:b:c:d",       "s.slice:p:",  "x.slice:p:n.slice",
        "bad:p:n",  "s.slice:p:a/b", "s.slice:p:a b", "s.slice:p@:n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        assert_true(capsa_systemd_unit_parse(bad[i], "x", &u, &err) < 0);
        assert_non_null(strstr(err.msg, "linux.cgroupsPath"));
        assert_null(u.name);
        assert_null(u.slice);
    }
}

static void test_scope_name_ok(void **state)
{
    (void)state;
    assert_true(capsa_systemd_scope_name_ok("capsa-x.scope"));
    assert_false(capsa_systemd_scope_name_ok("sshd.service"));
    assert_false(capsa_systemd_scope_name_ok(".scope"));
    assert_false(capsa_systemd_scope_name_ok("a b.scope"));
    assert_false(capsa_systemd_scope_name_ok(NULL));
}

static void test_cgroup_of(void **state)
{
    (void)state;
    char *p = NULL;
    struct capsa_err err = {0};
    assert_int_equal(capsa_systemd_cgroup_of("0::/system.slice/capsa-a.scope\n", &p, &err), 0);
    assert_string_equal(p, "/system.slice/capsa-a.scope");
    free(p);
    /* hybrid: the unified path wins when systemd tracks there */
    assert_int_equal(capsa_systemd_cgroup_of("12:name=systemd:/s.slice/u.scope\n"
                                             "4:memory:/\n0::/s.slice/u.scope\n",
                                             &p, &err),
                     0);
    assert_string_equal(p, "/s.slice/u.scope");
    free(p);
    /* legacy: only name=systemd says it */
    assert_int_equal(
        capsa_systemd_cgroup_of("12:name=systemd:/s.slice/u.scope\n4:memory:/\n0::/\n", &p, &err),
        0);
    assert_string_equal(p, "/s.slice/u.scope");
    free(p);
    assert_int_equal(capsa_systemd_cgroup_of("4:memory:/x\n", &p, &err), -ENOENT);
    assert_null(p);
}

/* ---------------- a little reader for a(sv) ---------------- */

struct prop {
    char name[64];
    char sig[8];
    uint64_t u;  /* t, u, b */
    char s[128]; /* s */
    uint8_t ay[8];
    size_t n_ay;
    uint32_t au[4];
    size_t n_au;
};

/* Read one array of (sv) from r into props. Types: t b s ay au. */
static int read_props(struct capsa_dbus_rd *r, struct prop *props, size_t max, size_t *n)
{
    uint32_t len;
    *n = 0;
    if (capsa_dbus_rd_u32(r, &len) < 0 || capsa_dbus_rd_align(r, 8) < 0)
        return -1;
    size_t end = r->off + len;
    while (r->off < end) {
        if (*n == max)
            return -1;
        struct prop *p = &props[(*n)++];
        memset(p, 0, sizeof *p);
        const char *name, *sig;
        if (capsa_dbus_rd_align(r, 8) < 0 || capsa_dbus_rd_str(r, &name) < 0 ||
            capsa_dbus_rd_sig(r, &sig) < 0)
            return -1;
        snprintf(p->name, sizeof p->name, "%s", name);
        snprintf(p->sig, sizeof p->sig, "%s", sig);
        uint32_t u32;
        const char *s;
        if (strcmp(sig, "t") == 0) {
            if (capsa_dbus_rd_u64(r, &p->u) < 0)
                return -1;
        } else if (strcmp(sig, "b") == 0 || strcmp(sig, "u") == 0) {
            if (capsa_dbus_rd_u32(r, &u32) < 0)
                return -1;
            p->u = u32;
        } else if (strcmp(sig, "s") == 0) {
            if (capsa_dbus_rd_str(r, &s) < 0)
                return -1;
            snprintf(p->s, sizeof p->s, "%s", s);
        } else if (strcmp(sig, "ay") == 0) {
            if (capsa_dbus_rd_u32(r, &u32) < 0 || u32 > sizeof p->ay)
                return -1;
            for (uint32_t i = 0; i < u32; i++) {
                if (capsa_dbus_rd_byte(r, &p->ay[i]) < 0)
                    return -1;
            }
            p->n_ay = u32;
        } else if (strcmp(sig, "au") == 0) {
            if (capsa_dbus_rd_u32(r, &u32) < 0 || u32 > 4 * sizeof p->au[0] || u32 % 4)
                return -1;
            for (uint32_t i = 0; i < u32 / 4; i++) {
                if (capsa_dbus_rd_u32(r, &p->au[i]) < 0)
                    return -1;
            }
            p->n_au = u32 / 4;
        } else {
            return -1;
        }
    }
    return r->off == end ? 0 : -1;
}

static const struct prop *find(const struct prop *props, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(props[i].name, name) == 0)
            return &props[i];
    }
    return NULL;
}

/* The property of that name, which must be there. */
static const struct prop *must(const struct prop *props, size_t n, const char *name)
{
    const struct prop *x = find(props, n, name);
    if (x == NULL) {
        print_error("property %s missing\n", name);
        abort();
    }
    return x;
}

static size_t res_to_props(const struct capsa_resources *res, bool unified, struct prop *props,
                           size_t max)
{
    struct capsa_dbus_buf b = {0};
    struct capsa_err err = {0};
    struct capsa_dbus_array a = capsa_dbus_array_open(&b, 8);
    assert_int_equal(capsa_systemd_res_props(res, unified, &b, &err), 0);
    capsa_dbus_array_close(&b, a);
    struct capsa_dbus_rd r = {.p = b.p, .len = b.len};
    size_t n = 0;
    assert_int_equal(read_props(&r, props, max, &n), 0);
    capsa_dbus_buf_free(&b);
    return n;
}

static void test_res_props(void **state)
{
    (void)state;
    struct capsa_resources res;
    memset(&res, 0, sizeof res);
    res.has_memory = true;
    res.memory.has_limit = true;
    res.memory.limit = 64 << 20;
    res.memory.has_swap = true;
    res.memory.swap = 96 << 20;
    res.has_pids = true;
    res.pids_limit = 42;
    res.has_cpu = true;
    res.cpu.has_shares = true;
    res.cpu.shares = 1024;
    res.cpu.has_quota = true;
    res.cpu.quota = 33333;
    res.cpu.has_period = true;
    res.cpu.period = 100000;
    res.cpu.cpus = (char *)"0-2,9";
    struct prop p[32];
    size_t n = res_to_props(&res, true, p, 32);
    assert_int_equal(must(p, n, "MemoryMax")->u, 64 << 20);
    assert_int_equal(must(p, n, "MemorySwapMax")->u, 32 << 20);
    assert_int_equal(must(p, n, "TasksMax")->u, 42);
    assert_int_equal(must(p, n, "CPUWeight")->u, 39); /* runc's conversion of 1024 */
    assert_int_equal(must(p, n, "CPUQuotaPeriodUSec")->u, 100000);
    /* 333330 us per second, rounded up to systemd's 10 ms steps */
    assert_int_equal(must(p, n, "CPUQuotaPerSecUSec")->u, 340000);
    const struct prop *cpus = must(p, n, "AllowedCPUs");
    assert_int_equal(cpus->n_ay, 2);
    assert_int_equal(cpus->ay[0], 0x07);
    assert_int_equal(cpus->ay[1], 0x02);
    assert_null(find(p, n, "MemoryLimit"));

    /* v1 names on a host without the unified hierarchy; "no limit" */
    res.memory.limit = -1;
    res.pids_limit = -1;
    res.cpu.quota = -1;
    res.cpu.cpus = NULL;
    n = res_to_props(&res, false, p, 32);
    assert_true(must(p, n, "MemoryLimit")->u == UINT64_MAX);
    assert_null(find(p, n, "MemoryMax"));
    assert_null(find(p, n, "MemorySwapMax"));
    assert_true(must(p, n, "TasksMax")->u == UINT64_MAX);
    assert_int_equal(must(p, n, "CPUShares")->u, 1024);
    assert_true(must(p, n, "CPUQuotaPerSecUSec")->u == UINT64_MAX);

    /* a bad cpuset names the field */
    res.cpu.cpus = (char *)"0-x";
    struct capsa_dbus_buf b = {0};
    struct capsa_err err = {0};
    assert_int_equal(capsa_systemd_res_props(&res, true, &b, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "linux.resources.cpu.cpus"));
    capsa_dbus_buf_free(&b);
}

/* ---------------- messages ---------------- */

/* A message of any type, as a peer would send it. */
static void enc_msg(struct capsa_dbus_buf *out, uint8_t type, uint32_t serial, uint32_t reply_to,
                    const char *path, const char *iface, const char *member, const char *error,
                    const char *sig, const struct capsa_dbus_buf *body)
{
    out->len = 0;
    capsa_dbus_put_byte(out, 'l');
    capsa_dbus_put_byte(out, type);
    capsa_dbus_put_byte(out, 0);
    capsa_dbus_put_byte(out, 1);
    capsa_dbus_put_u32(out, body ? (uint32_t)body->len : 0);
    capsa_dbus_put_u32(out, serial);
    struct capsa_dbus_array f = capsa_dbus_array_open(out, 8);
    const struct {
        uint8_t code;
        const char *sig, *val;
    } fields[] = {
        {1, "o", path}, {2, "s", iface}, {3, "s", member}, {4, "s", error}, {8, "g", sig}};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i].val == NULL)
            continue;
        capsa_dbus_align(out, 8);
        capsa_dbus_put_byte(out, fields[i].code);
        capsa_dbus_put_sig(out, fields[i].sig);
        if (fields[i].sig[0] == 'g')
            capsa_dbus_put_sig(out, fields[i].val);
        else
            capsa_dbus_put_str(out, fields[i].val);
    }
    if (reply_to) {
        capsa_dbus_align(out, 8);
        capsa_dbus_put_byte(out, 5);
        capsa_dbus_put_sig(out, "u");
        capsa_dbus_put_u32(out, reply_to);
    }
    capsa_dbus_array_close(out, f);
    capsa_dbus_align(out, 8);
    for (size_t i = 0; body && i < body->len; i++)
        capsa_dbus_put_byte(out, body->p[i]);
    assert_int_equal(out->err, 0);
}

static void test_call_roundtrip(void **state)
{
    (void)state;
    struct capsa_dbus_buf body = {0}, msg = {0};
    capsa_dbus_put_str(&body, "capsa-x.scope");
    capsa_dbus_put_str(&body, "replace");
    struct capsa_dbus_call c = {.destination = "org.freedesktop.systemd1",
                                .path = "/org/freedesktop/systemd1",
                                .interface = "org.freedesktop.systemd1.Manager",
                                .member = "StopUnit",
                                .sig = "ss",
                                .body = &body};
    struct capsa_err err = {0};
    assert_int_equal(capsa_dbus_encode_call(&c, 7, &msg, &err), 0);
    assert_int_equal(msg.len % 8, 0);
    size_t total = 0;
    assert_int_equal(capsa_dbus_msg_size(msg.p, msg.len, &total, &err), 0);
    assert_int_equal(total, msg.len);
    struct capsa_dbus_msg m;
    assert_int_equal(capsa_dbus_msg_parse(msg.p, msg.len, &m, &err), 0);
    assert_int_equal(m.type, CAPSA_DBUS_CALL);
    assert_int_equal(m.serial, 7);
    assert_string_equal(m.member, "StopUnit");
    assert_string_equal(m.path, "/org/freedesktop/systemd1");
    assert_string_equal(m.signature, "ss");
    const char *a, *b;
    assert_int_equal(capsa_dbus_rd_str(&m.body, &a), 0);
    assert_int_equal(capsa_dbus_rd_str(&m.body, &b), 0);
    assert_string_equal(a, "capsa-x.scope");
    assert_string_equal(b, "replace");
    assert_int_equal(m.body.off, m.body.len);

    /* Each corruption is refused, never read past. */
    uint8_t bad[512];
    assert_true(msg.len <= sizeof bad);
    memcpy(bad, msg.p, msg.len);
    bad[0] = 'x';
    assert_int_equal(capsa_dbus_msg_parse(bad, msg.len, &m, &err), -EBADMSG);
    for (size_t cut = 0; cut < msg.len; cut++)
        assert_true(capsa_dbus_msg_parse(msg.p, cut, &m, &err) < 0);
    memcpy(bad, msg.p, msg.len);
    bad[12] = 0xff; /* the fields' length past the end */
    bad[13] = 0xff;
    assert_true(capsa_dbus_msg_parse(bad, msg.len, &m, &err) < 0);
    memcpy(bad, msg.p, msg.len);
    bad[4] = 0xff; /* body length */
    bad[5] = 0xff;
    bad[6] = 0xff;
    bad[7] = 0x7f;
    assert_int_equal(capsa_dbus_msg_size(bad, msg.len, &total, &err), -EMSGSIZE);
    capsa_dbus_buf_free(&body);
    capsa_dbus_buf_free(&msg);
}

static void test_parse_refusals(void **state)
{
    (void)state;
    struct capsa_dbus_buf body = {0}, msg = {0};
    struct capsa_dbus_msg m;
    struct capsa_err err = {0};
    capsa_dbus_put_str(&body, "x");
    /* a body without a signature */
    enc_msg(&msg, CAPSA_DBUS_RETURN, 3, 1, NULL, NULL, NULL, NULL, NULL, &body);
    assert_int_equal(capsa_dbus_msg_parse(msg.p, msg.len, &m, &err), -EBADMSG);
    /* an error without its name, a signal without an interface */
    enc_msg(&msg, CAPSA_DBUS_ERROR, 3, 1, NULL, NULL, NULL, NULL, "s", &body);
    assert_int_equal(capsa_dbus_msg_parse(msg.p, msg.len, &m, &err), -EBADMSG);
    enc_msg(&msg, CAPSA_DBUS_SIGNAL, 3, 0, "/a", NULL, "Sig", NULL, "s", &body);
    assert_int_equal(capsa_dbus_msg_parse(msg.p, msg.len, &m, &err), -EBADMSG);
    /* serial 0 */
    enc_msg(&msg, CAPSA_DBUS_RETURN, 0, 1, NULL, NULL, NULL, NULL, "s", &body);
    assert_int_equal(capsa_dbus_msg_parse(msg.p, msg.len, &m, &err), -EBADMSG);
    /* good, then with non-zero padding after the fields */
    enc_msg(&msg, CAPSA_DBUS_RETURN, 3, 1, NULL, NULL, NULL, NULL, "s", &body);
    assert_int_equal(capsa_dbus_msg_parse(msg.p, msg.len, &m, &err), 0);
    uint32_t flen = (uint32_t)msg.p[12] | (uint32_t)msg.p[13] << 8;
    size_t pad_at = 16 + flen;
    if (pad_at % 8) {
        msg.p[pad_at] = 1;
        assert_int_equal(capsa_dbus_msg_parse(msg.p, msg.len, &m, &err), -EBADMSG);
    }
    /* a string without its NUL */
    enc_msg(&msg, CAPSA_DBUS_RETURN, 3, 1, NULL, NULL, NULL, NULL, "s", &body);
    assert_int_equal(capsa_dbus_msg_parse(msg.p, msg.len, &m, &err), 0);
    const char *s;
    struct capsa_dbus_rd r = m.body;
    r.len -= 1;
    assert_int_equal(capsa_dbus_rd_str(&r, &s), -EBADMSG);
    capsa_dbus_buf_free(&body);
    capsa_dbus_buf_free(&msg);
}

/* ---------------- a fake manager ---------------- */

enum script {
    START_SIGNAL_FIRST, /* JobRemoved before the reply */
    START_REPLY_FIRST,
    START_JOB_FAILED,
    START_ERROR,
    STOP_GONE, /* StopUnit -> NoSuchUnit, then ResetFailedUnit */
    SET_PROPS,
    HANG_UP, /* closes after authentication */
};

#define FAIL(code) _exit(code)

struct srv {
    int fd;
    uint8_t buf[65536];
    size_t len;
};

static void srv_fill(struct srv *s)
{
    ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
    if (n <= 0)
        FAIL(90);
    s->len += (size_t)n;
}

static void srv_auth(struct srv *s)
{
    for (;;) {
        uint8_t *e = memmem(s->buf, s->len, "\r\n", 2);
        if (e) {
            char want[64];
            snprintf(want, sizeof want, "AUTH EXTERNAL ");
            if (s->buf[0] != 0 || memcmp(s->buf + 1, want, strlen(want)) != 0)
                FAIL(91);
            size_t l = (size_t)(e + 2 - s->buf);
            memmove(s->buf, s->buf + l, s->len - l);
            s->len -= l;
            break;
        }
        srv_fill(s);
    }
    const char ok[] = "OK 0123456789abcdef0123456789abcdef\r\n";
    if (write(s->fd, ok, strlen(ok)) < 0)
        FAIL(92);
    while (s->len < 7)
        srv_fill(s);
    if (memcmp(s->buf, "BEGIN\r\n", 7) != 0)
        FAIL(93);
    memmove(s->buf, s->buf + 7, s->len - 7);
    s->len -= 7;
}

static void srv_recv(struct srv *s, struct capsa_dbus_msg *m, uint8_t *copy)
{
    size_t total = 0;
    struct capsa_err err = {0};
    while (s->len < 16)
        srv_fill(s);
    if (capsa_dbus_msg_size(s->buf, s->len, &total, &err) < 0)
        FAIL(94);
    while (s->len < total)
        srv_fill(s);
    memcpy(copy, s->buf, total);
    memmove(s->buf, s->buf + total, s->len - total);
    s->len -= total;
    if (capsa_dbus_msg_parse(copy, total, m, &err) < 0 || m->type != CAPSA_DBUS_CALL)
        FAIL(95);
}

static void srv_send(struct srv *s, const struct capsa_dbus_buf *b)
{
    if (write(s->fd, b->p, b->len) != (ssize_t)b->len)
        FAIL(96);
}

static void send_job_removed(struct srv *s, uint32_t serial, const char *job, const char *result)
{
    struct capsa_dbus_buf body = {0}, msg = {0};
    capsa_dbus_put_u32(&body, 7);
    capsa_dbus_put_str(&body, job);
    capsa_dbus_put_str(&body, "capsa-t.scope");
    capsa_dbus_put_str(&body, result);
    enc_msg(&msg, CAPSA_DBUS_SIGNAL, serial, 0, "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager", "JobRemoved", NULL, "uoss", &body);
    srv_send(s, &msg);
    capsa_dbus_buf_free(&body);
    capsa_dbus_buf_free(&msg);
}

static void send_reply_o(struct srv *s, uint32_t to, const char *path)
{
    struct capsa_dbus_buf body = {0}, msg = {0};
    capsa_dbus_put_str(&body, path);
    enc_msg(&msg, CAPSA_DBUS_RETURN, 100 + to, to, NULL, NULL, NULL, NULL, "o", &body);
    srv_send(s, &msg);
    capsa_dbus_buf_free(&body);
    capsa_dbus_buf_free(&msg);
}

static void send_error(struct srv *s, uint32_t to, const char *name, const char *text)
{
    struct capsa_dbus_buf body = {0}, msg = {0};
    capsa_dbus_put_str(&body, text);
    enc_msg(&msg, CAPSA_DBUS_ERROR, 100 + to, to, NULL, NULL, NULL, name, "s", &body);
    srv_send(s, &msg);
    capsa_dbus_buf_free(&body);
    capsa_dbus_buf_free(&msg);
}

/* Check the StartTransientUnit call the client made. */
static void check_start(struct capsa_dbus_msg *m, pid_t want_pid)
{
    const char *name, *mode;
    if (strcmp(m->member, "StartTransientUnit") != 0 ||
        strcmp(m->signature, "ssa(sv)a(sa(sv))") != 0 ||
        strcmp(m->interface, "org.freedesktop.systemd1.Manager") != 0)
        FAIL(70);
    if (capsa_dbus_rd_str(&m->body, &name) < 0 || capsa_dbus_rd_str(&m->body, &mode) < 0 ||
        strcmp(name, "capsa-t.scope") != 0 || strcmp(mode, "fail") != 0)
        FAIL(71);
    struct prop p[32];
    size_t n;
    if (read_props(&m->body, p, 32, &n) < 0)
        FAIL(72);
    const struct prop *slice = find(p, n, "Slice"), *del = find(p, n, "Delegate"),
                      *pids = find(p, n, "PIDs"), *mem = find(p, n, "MemoryMax");
    if (!slice || strcmp(slice->s, "system.slice") != 0 || !del || del->u != 1)
        FAIL(73);
    if (!pids || pids->n_au != 1 || pids->au[0] != (uint32_t)want_pid)
        FAIL(74);
    if (!mem || mem->u != 1 << 20)
        FAIL(75);
    uint32_t aux;
    /* the empty aux array: its length, then the padding to its elements'
     * alignment, present even when there are none */
    if (capsa_dbus_rd_u32(&m->body, &aux) < 0 || aux != 0 || capsa_dbus_rd_align(&m->body, 8) < 0 ||
        m->body.off != m->body.len)
        FAIL(76);
}

static void serve(int fd, enum script sc, pid_t want_pid)
{
    struct srv *s = calloc(1, sizeof *s);
    static uint8_t copy[65536];
    struct capsa_dbus_msg m;
    if (s == NULL)
        FAIL(80);
    s->fd = fd;
    srv_auth(s);
    const char *job = "/org/freedesktop/systemd1/job/7";
    switch (sc) {
    case START_SIGNAL_FIRST:
        srv_recv(s, &m, copy);
        check_start(&m, want_pid);
        /* noise first: another job's end, an unrelated signal */
        send_job_removed(s, 1, "/org/freedesktop/systemd1/job/6", "failed");
        send_job_removed(s, 2, job, "done");
        send_reply_o(s, m.serial, job);
        break;
    case START_REPLY_FIRST:
    case START_JOB_FAILED:
        srv_recv(s, &m, copy);
        check_start(&m, want_pid);
        send_reply_o(s, m.serial, job);
        send_job_removed(s, 1, "/org/freedesktop/systemd1/job/6", "done");
        send_job_removed(s, 2, job, sc == START_JOB_FAILED ? "failed" : "done");
        break;
    case START_ERROR:
        srv_recv(s, &m, copy);
        send_error(s, m.serial, "org.freedesktop.DBus.Error.InvalidArgs",
                   "Cannot set property AllowedCPUs");
        break;
    case STOP_GONE: {
        srv_recv(s, &m, copy);
        const char *u, *mode;
        if (strcmp(m.member, "StopUnit") != 0 || capsa_dbus_rd_str(&m.body, &u) < 0 ||
            capsa_dbus_rd_str(&m.body, &mode) < 0 || strcmp(u, "capsa-t.scope") != 0 ||
            strcmp(mode, "replace") != 0)
            FAIL(77);
        send_error(s, m.serial, "org.freedesktop.systemd1.NoSuchUnit",
                   "Unit capsa-t.scope not loaded.");
        srv_recv(s, &m, copy);
        if (strcmp(m.member, "ResetFailedUnit") != 0)
            FAIL(78);
        send_error(s, m.serial, "org.freedesktop.systemd1.NoSuchUnit",
                   "Unit capsa-t.scope not loaded.");
        break;
    }
    case SET_PROPS: {
        srv_recv(s, &m, copy);
        const char *u;
        uint32_t runtime;
        struct prop p[8];
        size_t n;
        if (strcmp(m.member, "SetUnitProperties") != 0 || strcmp(m.signature, "sba(sv)") != 0 ||
            capsa_dbus_rd_str(&m.body, &u) < 0 || capsa_dbus_rd_u32(&m.body, &runtime) < 0 ||
            runtime != 1 || read_props(&m.body, p, 8, &n) < 0 || n != 1 ||
            strcmp(p[0].name, "TasksMax") != 0 || p[0].u != 9)
            FAIL(79);
        struct capsa_dbus_buf msg = {0};
        enc_msg(&msg, CAPSA_DBUS_RETURN, 200, m.serial, NULL, NULL, NULL, NULL, NULL, NULL);
        srv_send(s, &msg);
        capsa_dbus_buf_free(&msg);
        break;
    }
    case HANG_UP:
        break;
    default:
        FAIL(81);
    }
    free(s);
    _exit(0);
}

/* Run the client side f against a fake manager playing sc. */
static int with_manager(enum script sc, int (*f)(struct capsa_dbus *, struct capsa_err *),
                        struct capsa_err *err)
{
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    pid_t want = getpid();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(sp[0]);
        serve(sp[1], sc, want);
    }
    close(sp[1]);
    struct capsa_dbus bus;
    long long deadline = capsa_dbus_now_ms() + 20000;
    int r = capsa_dbus_connect_fd(sp[0], deadline, &bus, err);
    if (r == 0) {
        r = f(&bus, err);
        capsa_dbus_close(&bus);
    }
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0); /* the manager saw what it expected */
    return r;
}

static int do_start(struct capsa_dbus *bus, struct capsa_err *err)
{
    struct capsa_systemd_unit u = {.slice = (char *)"system.slice",
                                   .name = (char *)"capsa-t.scope"};
    struct capsa_resources res;
    memset(&res, 0, sizeof res);
    res.has_memory = true;
    res.memory.has_limit = true;
    res.memory.limit = 1 << 20;
    return capsa_systemd_start_on(bus, &u, "capsa container t", getpid(), &res, true,
                                  capsa_dbus_now_ms() + 20000, err);
}

static int do_stop(struct capsa_dbus *bus, struct capsa_err *err)
{
    return capsa_systemd_stop_on(bus, "capsa-t.scope", capsa_dbus_now_ms() + 20000, err);
}

static int do_set(struct capsa_dbus *bus, struct capsa_err *err)
{
    struct capsa_resources res;
    memset(&res, 0, sizeof res);
    res.has_pids = true;
    res.pids_limit = 9;
    return capsa_systemd_set_on(bus, "capsa-t.scope", &res, true, capsa_dbus_now_ms() + 20000, err);
}

static void test_manager_calls(void **state)
{
    (void)state;
    struct capsa_err err = {0};
    assert_int_equal(with_manager(START_SIGNAL_FIRST, do_start, &err), 0);
    assert_int_equal(with_manager(START_REPLY_FIRST, do_start, &err), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(with_manager(START_JOB_FAILED, do_start, &err), -EIO);
    assert_non_null(strstr(err.msg, "\"failed\""));
    memset(&err, 0, sizeof err);
    assert_int_equal(with_manager(START_ERROR, do_start, &err), -EIO);
    assert_non_null(strstr(err.msg, "Cannot set property AllowedCPUs"));
    assert_non_null(strstr(err.msg, "capsa-t.scope"));
    memset(&err, 0, sizeof err);
    assert_int_equal(with_manager(STOP_GONE, do_stop, &err), 0);
    assert_int_equal(with_manager(SET_PROPS, do_set, &err), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(with_manager(HANG_UP, do_start, &err), -EPIPE);
}

static void test_refuses_foreign_units(void **state)
{
    (void)state;
    struct capsa_dbus bus = {.fd = -1};
    struct capsa_err err = {0};
    /* a state file naming another unit never reaches systemd */
    assert_int_equal(capsa_systemd_stop_on(&bus, "sshd.service", 0, &err), -EINVAL);
    assert_int_equal(capsa_systemd_set_on(&bus, "../x", NULL, true, 0, &err), -EINVAL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slice_path),
        cmocka_unit_test(test_unit_parse),
        cmocka_unit_test(test_scope_name_ok),
        cmocka_unit_test(test_cgroup_of),
        cmocka_unit_test(test_res_props),
        cmocka_unit_test(test_call_roundtrip),
        cmocka_unit_test(test_parse_refusals),
        cmocka_unit_test(test_manager_calls),
        cmocka_unit_test(test_refuses_foreign_units),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
