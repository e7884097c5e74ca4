/* test_cgroup_devices.c - unit tests for linux.resources.devices: the
 * generated eBPF device program, run through a small interpreter written
 * here, against the reference decision over a matrix of requests; explicit
 * expectations for the reference; the exact v1 writes (list and real files
 * in a temp directory); and, as root on a host with a cgroup2 mount at
 * /sys/fs/cgroup/unified, the real kernel path (attach, open in a child,
 * reattach, query). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux/bpf_devices.h"
#include "linux/cgroup.h"
#include "util/util.h"

#define NONE (-2) /* "field absent" in the rule tables below */

struct rspec {
    bool allow;
    const char *type;
    int64_t major, minor;
    const char *access;
};

/* Turn a table into spec rules (pointers into the table's strings). */
static struct capsa_device_rule *mk_rules(const struct rspec *s, size_t n)
{
    struct capsa_device_rule *r = calloc(n ? n : 1, sizeof *r);
    assert_non_null(r);
    for (size_t i = 0; i < n; i++) {
        r[i].allow = s[i].allow;
        r[i].type = (char *)s[i].type;
        r[i].has_major = s[i].major != NONE;
        r[i].major = s[i].major;
        r[i].has_minor = s[i].minor != NONE;
        r[i].minor = s[i].minor;
        r[i].access = (char *)s[i].access;
    }
    return r;
}

static struct capsa_devrule *effective(const struct rspec *s, size_t n, size_t *n_eff)
{
    struct capsa_device_rule *r = mk_rules(s, n);
    struct capsa_devrule *eff = NULL;
    struct capsa_err err;
    int ret = capsa_devices_normalize(r, n, &eff, n_eff, &err);
    if (ret < 0)
        fail_msg("normalize: %s", err.msg);
    free(r);
    return eff;
}

/* ---- a tiny interpreter for the instructions the generator emits ---- */

static int run_prog(const struct bpf_insn *p, size_t n, uint32_t access_type, uint32_t major,
                    uint32_t minor)
{
    const uint32_t ctx[3] = {access_type, major, minor};
    uint64_t r[11] = {0};
    bool init[11] = {[1] = true, [10] = true}; /* as the verifier sees them */
    bool r1_is_ctx = true;
    size_t pc = 0;

    while (pc < n) {
        const struct bpf_insn *i = &p[pc];
        uint32_t a = (uint32_t)r[i->dst_reg];
        uint32_t k = (uint32_t)i->imm;
        uint8_t cls = i->code & 0x07;
        assert_true(i->dst_reg <= 10 && i->src_reg <= 10);
        /* Reads of never-written registers would be rejected by the verifier. */
        if (i->code == (BPF_JMP | BPF_EXIT))
            assert_true(init[0]);
        else if (cls == BPF_JMP32 || (cls == BPF_ALU && (i->code & 0xf0) != BPF_MOV))
            assert_true(init[i->dst_reg]);
        if ((cls == BPF_ALU && (i->code & BPF_X)) || cls == BPF_LDX)
            assert_true(init[i->src_reg]);
        switch (i->code) {
        case BPF_LDX | BPF_MEM | BPF_W:
            assert_int_equal(i->src_reg, 1);
            assert_true(r1_is_ctx);
            assert_true(i->off >= 0 && i->off <= 8 && i->off % 4 == 0);
            r[i->dst_reg] = ctx[i->off / 4];
            break;
        case BPF_ALU | BPF_AND | BPF_K:
            r[i->dst_reg] = a & k;
            break;
        case BPF_ALU | BPF_RSH | BPF_K:
            assert_true(k < 32);
            r[i->dst_reg] = a >> k;
            break;
        case BPF_ALU | BPF_MOV | BPF_K:
            r[i->dst_reg] = k;
            break;
        case BPF_ALU | BPF_MOV | BPF_X:
            r[i->dst_reg] = (uint32_t)r[i->src_reg];
            break;
        case BPF_JMP32 | BPF_JEQ | BPF_K:
            assert_true(i->off >= 0); /* forward only: the program terminates */
            if (a == k)
                pc += (size_t)i->off;
            break;
        case BPF_JMP32 | BPF_JNE | BPF_K:
            assert_true(i->off >= 0);
            if (a != k)
                pc += (size_t)i->off;
            break;
        case BPF_JMP | BPF_EXIT:
            assert_true(r[0] == 0 || r[0] == 1);
            return (int)r[0];
        default:
            fail_msg("unexpected opcode 0x%x at %zu", i->code, pc);
        }
        if (cls == BPF_ALU || cls == BPF_LDX) {
            init[i->dst_reg] = true;
            if (i->dst_reg == 1)
                r1_is_ctx = false;
        }
        pc++;
    }
    fail_msg("program fell off its end");
    return -1;
}

static const uint32_t majors[] = {0, 1, 4, 5, 7, 8, 10, 136, 254, 0xffffffffu};
static const uint32_t minors[] = {0, 1, 2, 3, 5, 7, 8, 9, 11, 200, 0xffffffffu};

/* Compare program and reference over the whole matrix. */
static void check_matrix(const struct rspec *s, size_t n)
{
    size_t n_eff = 0, n_insns = 0;
    struct capsa_devrule *eff = effective(s, n, &n_eff);
    struct bpf_insn *insns = NULL;
    struct capsa_err err;
    assert_int_equal(capsa_devices_bpf_build(eff, n_eff, &insns, &n_insns, &err), 0);
    for (int t = 0; t < 2; t++) {
        char type = t ? 'b' : 'c';
        uint32_t bt = t ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
        for (size_t ma = 0; ma < ARRAY_SIZE(majors); ma++)
            for (size_t mi = 0; mi < ARRAY_SIZE(minors); mi++)
                for (unsigned acc = 0; acc <= 15; acc++) {
                    bool ref = capsa_devices_allowed(eff, n_eff, type, majors[ma], minors[mi], acc);
                    int got = run_prog(insns, n_insns, (acc << 16) | bt, majors[ma], minors[mi]);
                    if (got != (int)ref)
                        fail_msg("%c %u:%u access %u: program %d, reference %d", type, majors[ma],
                                 minors[mi], acc, got, ref);
                }
    }
    free(insns);
    free(eff);
}

/* Raw lists, without the default devices (which allow mknod everywhere and
 * would hide mistakes in the handling of the m bit). */
#define A CAPSA_DEV_WILDCARD
static const struct capsa_devrule raw1[] = {
    {true, 'c', 10, 1, CAPSA_DEV_ACC_READ, 0},
    {true, 'a', 10, A, CAPSA_DEV_ACC_MKNOD, 1},
    {false, 'b', A, 3, CAPSA_DEV_ACC_READ | CAPSA_DEV_ACC_MKNOD, 2},
    {true, 'b', 8, A, CAPSA_DEV_ACC_ALL, 3},
    {false, 'c', 10, 1, CAPSA_DEV_ACC_WRITE, 4},
};
static const struct capsa_devrule raw2[] = {
    {true, 'a', A, A, CAPSA_DEV_ACC_ALL, 0},
    {false, 'c', 1, A, CAPSA_DEV_ACC_MKNOD, 1},
    {true, 'c', 1, 5, CAPSA_DEV_ACC_WRITE | CAPSA_DEV_ACC_MKNOD, 2},
    {false, 'a', 7, 0, CAPSA_DEV_ACC_ALL, 3},
};
static const struct capsa_devrule raw3[] = {
    {false, 'a', A, A, CAPSA_DEV_ACC_ALL, -1},
    {true, 'c', 1, 3, CAPSA_DEV_ACC_ALL, -1},
};
static const struct capsa_devrule raw4[] = {
    {false, 'a', A, A, CAPSA_DEV_ACC_ALL, -1},
    {true, 'c', 1, 3, CAPSA_DEV_ACC_READ, 0},
    {true, 'b', 8, A, CAPSA_DEV_ACC_WRITE, 1},
};

static void check_matrix_raw(const struct capsa_devrule *eff, size_t n_eff)
{
    size_t n_insns = 0;
    struct bpf_insn *insns = NULL;
    struct capsa_err err;
    assert_int_equal(capsa_devices_bpf_build(eff, n_eff, &insns, &n_insns, &err), 0);
    for (int t = 0; t < 2; t++) {
        char type = t ? 'b' : 'c';
        uint32_t bt = t ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR;
        for (size_t ma = 0; ma < ARRAY_SIZE(majors); ma++)
            for (size_t mi = 0; mi < ARRAY_SIZE(minors); mi++)
                for (unsigned acc = 0; acc <= 15; acc++) {
                    bool want =
                        capsa_devices_allowed(eff, n_eff, type, majors[ma], minors[mi], acc);
                    int got = run_prog(insns, n_insns, (acc << 16) | bt, majors[ma], minors[mi]);
                    if (got != (int)want)
                        fail_msg("raw %c %u:%u access %u: program %d, reference %d", type,
                                 majors[ma], minors[mi], acc, got, want);
                }
    }
    free(insns);
}

static void test_matrix_raw(void **state)
{
    (void)state;
    check_matrix_raw(raw1, ARRAY_SIZE(raw1));
    check_matrix_raw(raw2, ARRAY_SIZE(raw2));
    check_matrix_raw(raw3, ARRAY_SIZE(raw3));
    check_matrix_raw(raw4, ARRAY_SIZE(raw4));
    check_matrix_raw(raw3, 0); /* no rule at all: deny */
    /* By hand. */
    const unsigned M = CAPSA_DEV_ACC_MKNOD, RD = CAPSA_DEV_ACC_READ, W = CAPSA_DEV_ACC_WRITE;
    assert_true(capsa_devices_allowed(raw1, 5, 'c', 10, 1, RD | M));
    assert_false(capsa_devices_allowed(raw1, 5, 'c', 10, 1, RD | W));
    assert_false(capsa_devices_allowed(raw1, 5, 'b', 10, 3, M)); /* the later deny b *:3 wins */
    assert_false(capsa_devices_allowed(raw1, 5, 'b', 9, 3, M));
    assert_false(capsa_devices_allowed(raw1, 5, 'b', 8, 2, 8)); /* unknown access bit */
    assert_true(capsa_devices_allowed(raw1, 5, 'b', 8, 3, RD | W | M));
    assert_false(capsa_devices_allowed(raw2, 4, 'c', 1, 3, M));
    assert_true(capsa_devices_allowed(raw2, 4, 'c', 1, 5, M | RD));
    assert_false(capsa_devices_allowed(raw2, 4, 'b', 7, 0, 0)); /* access-less check */
    assert_true(capsa_devices_allowed(raw2, 4, 'b', 7, 1, 0));
    assert_false(capsa_devices_allowed(raw3, 0, 'c', 1, 3, RD));
    assert_true(capsa_devices_allowed(raw4, 3, 'c', 1, 3, RD));
    assert_false(capsa_devices_allowed(raw4, 3, 'c', 1, 3, RD | M));
}
#undef A

static bool ref(const struct rspec *s, size_t n, char type, uint32_t ma, uint32_t mi,
                const char *acc)
{
    size_t n_eff = 0;
    unsigned a = 0;
    struct capsa_devrule *eff = effective(s, n, &n_eff);
    for (const char *c = acc; *c; c++)
        a |= *c == 'r' ? CAPSA_DEV_ACC_READ : *c == 'w' ? CAPSA_DEV_ACC_WRITE : CAPSA_DEV_ACC_MKNOD;
    bool r = capsa_devices_allowed(eff, n_eff, type, ma, mi, a);
    free(eff);
    return r;
}

#define R ARRAY_SIZE

static const struct rspec l_allow_all[] = {{true, NULL, NONE, NONE, NULL}};
static const struct rspec l_deny_some[] = {
    {false, "a", NONE, NONE, "rwm"},
    {true, "c", 10, 200, "rw"},
    {true, "b", 8, NONE, "r"},
};
static const struct rspec l_wild[] = {
    {true, "c", NONE, 1, "rw"},
    {false, "c", -1, 3, "w"}, /* -1 is runc's wildcard too */
    {true, "b", 254, -1, "rwm"},
};
static const struct rspec l_type_a[] = {
    {true, "a", 4, NONE, "rwm"},
    {false, "a", 4, 2, "r"},
};
static const struct rspec l_partial[] = {
    {true, "c", 10, 1, "r"},   {true, "c", 10, 1, "w"},
    {false, "c", 10, 1, "m"},  {true, "c", 10, 2, "wm"},
    {false, "c", 10, 2, "rm"}, {true, "c", 10, 3, ""}, /* grants nothing */
};
static const struct rspec l_overlap[] = {
    {true, "c", 10, NONE, "rwm"},
    {false, "c", 10, 5, "rw"},
    {true, "c", 10, 5, "r"},
};
static const struct rspec l_overlap_rev[] = {
    {true, "c", 10, 5, "r"},
    {false, "c", 10, 5, "rw"},
    {true, "c", 10, NONE, "rwm"},
};
static const struct rspec l_allow_then_deny[] = {
    {true, "a", NONE, NONE, "rwm"},
    {false, "c", 1, NONE, "w"},
    {false, "b", NONE, NONE, "rwm"},
    {false, "c", 7, 0, "rwm"},
};

static void test_matrix(void **state)
{
    (void)state;
    check_matrix(NULL, 0);
    check_matrix(l_allow_all, R(l_allow_all));
    check_matrix(l_deny_some, R(l_deny_some));
    check_matrix(l_wild, R(l_wild));
    check_matrix(l_type_a, R(l_type_a));
    check_matrix(l_partial, R(l_partial));
    check_matrix(l_overlap, R(l_overlap));
    check_matrix(l_overlap_rev, R(l_overlap_rev));
    check_matrix(l_allow_then_deny, R(l_allow_then_deny));
}

/* The reference itself, checked by hand. */
static void test_reference(void **state)
{
    (void)state;
    /* Defaults only. */
    assert_true(ref(NULL, 0, 'c', 1, 3, "rw"));
    assert_true(ref(NULL, 0, 'c', 1, 5, "r"));
    assert_true(ref(NULL, 0, 'c', 136, 7, "rw"));
    assert_true(ref(NULL, 0, 'c', 5, 2, "rwm"));
    assert_false(ref(NULL, 0, 'c', 1, 1, "r")); /* /dev/mem */
    assert_false(ref(NULL, 0, 'b', 8, 0, "r"));
    assert_true(ref(NULL, 0, 'b', 8, 0, "m"));
    assert_false(ref(NULL, 0, 'b', 8, 0, "rm"));
    assert_false(ref(NULL, 0, 'c', 10, 200, "rw"));
    /* Allow all. */
    assert_true(ref(l_allow_all, 1, 'b', 8, 0, "rwm"));
    /* deny all, then some. */
    assert_true(ref(l_deny_some, 3, 'c', 10, 200, "rw"));
    assert_true(ref(l_deny_some, 3, 'c', 10, 200, "rwm")); /* m from "c *:* m" */
    assert_true(ref(l_deny_some, 3, 'b', 8, 17, "r"));
    assert_false(ref(l_deny_some, 3, 'b', 8, 17, "w"));
    /* Wildcard major. */
    assert_true(ref(l_wild, 3, 'c', 77, 1, "rw"));
    assert_false(ref(l_wild, 3, 'c', 77, 3, "w"));
    assert_true(ref(l_wild, 3, 'c', 1, 3, "w")); /* the default null rule comes later */
    assert_true(ref(l_wild, 3, 'b', 254, 9, "rw"));
    /* Type a. */
    assert_true(ref(l_type_a, 2, 'b', 4, 1, "rw"));
    assert_true(ref(l_type_a, 2, 'c', 4, 2, "w"));
    assert_false(ref(l_type_a, 2, 'c', 4, 2, "r"));
    assert_false(ref(l_type_a, 2, 'b', 4, 2, "rw"));
    /* Partial access strings. */
    assert_true(ref(l_partial, R(l_partial), 'c', 10, 1, "rw"));
    assert_true(ref(l_partial, R(l_partial), 'c', 10, 1, "m")); /* default c *:* m is last */
    assert_true(ref(l_partial, R(l_partial), 'c', 10, 2, "w"));
    assert_false(ref(l_partial, R(l_partial), 'c', 10, 2, "rw"));
    assert_false(ref(l_partial, R(l_partial), 'c', 10, 3, "r"));
    /* Order matters. */
    assert_true(ref(l_overlap, 3, 'c', 10, 5, "r"));
    assert_false(ref(l_overlap, 3, 'c', 10, 5, "w"));
    assert_false(ref(l_overlap, 3, 'c', 10, 5, "rw"));
    assert_true(ref(l_overlap, 3, 'c', 10, 6, "rw"));
    assert_true(ref(l_overlap_rev, 3, 'c', 10, 5, "rw"));
    /* Allow all, then deny. */
    assert_false(ref(l_allow_then_deny, 4, 'c', 1, 1, "w"));
    assert_true(ref(l_allow_then_deny, 4, 'c', 1, 1, "r"));
    assert_true(ref(l_allow_then_deny, 4, 'c', 1, 3, "w")); /* default null */
    assert_false(ref(l_allow_then_deny, 4, 'b', 8, 0, "r"));
    assert_true(ref(l_allow_then_deny, 4, 'b', 8, 0, "m"));
    assert_false(ref(l_allow_then_deny, 4, 'c', 7, 0, "r"));
}

/* runc's access strings: any order, repeats, other letters ignored. */
static void test_access_strings(void **state)
{
    (void)state;
    static const struct {
        const char *access;
        unsigned want;
    } cases[] = {
        {"rwm", CAPSA_DEV_ACC_ALL},    {"mwr", CAPSA_DEV_ACC_ALL},
        {"rrwwmm", CAPSA_DEV_ACC_ALL}, {"rwa", CAPSA_DEV_ACC_READ | CAPSA_DEV_ACC_WRITE},
        {"xr", CAPSA_DEV_ACC_READ},    {"m", CAPSA_DEV_ACC_MKNOD},
        {NULL, CAPSA_DEV_ACC_ALL},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct rspec one[] = {{false, "c", 1, 3, cases[i].access}};
        size_t n = 0;
        struct capsa_devrule *eff = effective(one, 1, &n);
        /* [0] is the default deny-all, [1] ours */
        assert_true(n >= 2);
        assert_int_equal(eff[1].access, cases[i].want);
        free(eff);
    }
    /* Only letters other than r, w, m: grants or revokes nothing, dropped. */
    struct rspec none[] = {{true, "c", 1, 3, "a"}};
    size_t n1 = 0, n2 = 0;
    struct capsa_devrule *e1 = effective(none, 1, &n1);
    struct capsa_devrule *e2 = effective(NULL, 0, &n2);
    assert_int_equal(n1, n2);
    free(e1);
    free(e2);
}

static void test_invalid(void **state)
{
    (void)state;
    static const struct rspec bad_type[] = {{true, "c", 1, 3, "r"}, {true, "p", 1, 3, "r"}};
    static const struct rspec bad_major[] = {{true, "c", 1, 3, "r"},
                                             {true, "c", 1, 3, "r"},
                                             {true, "c", 1, 3, "r"},
                                             {true, "c", -5, 3, "r"}};
    struct {
        const struct rspec *s;
        size_t n;
        const char *msg;
    } cases[] = {
        {bad_type, 2, "linux.resources.devices[1].type"},
        {bad_major, 4, "linux.resources.devices[3].major"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct capsa_device_rule *r = mk_rules(cases[i].s, cases[i].n);
        struct capsa_devrule *eff = NULL;
        size_t n_eff = 0;
        struct capsa_err err;
        assert_true(capsa_devices_normalize(r, cases[i].n, &eff, &n_eff, &err) < 0);
        assert_non_null(strstr(err.msg, cases[i].msg));
        assert_null(eff);
        free(r);
    }
}

/* ---- v1 ---- */

static char *join_lines(const struct capsa_devices_v1_line *l, size_t n)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    assert_non_null(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s %s\n", l[i].allow ? "allow" : "deny", l[i].text);
    fclose(f);
    return out;
}

#define DEFAULT_LINES                                                                              \
    "allow c *:* m\nallow b *:* m\nallow c 1:3 rwm\nallow c 1:8 rwm\nallow c 1:7 rwm\n"            \
    "allow c 5:0 rwm\nallow c 1:5 rwm\nallow c 1:9 rwm\nallow c 5:1 rwm\nallow c 136:* rwm\n"      \
    "allow c 5:2 rwm\n"

static char *v1_text(const struct rspec *s, size_t n, struct capsa_err *err, int *ret)
{
    size_t n_eff = 0, nl = 0;
    struct capsa_devrule *eff = effective(s, n, &n_eff);
    struct capsa_devices_v1_line *l = NULL;
    char *t = NULL;
    *ret = capsa_devices_v1_lines(eff, n_eff, &l, &nl, err);
    if (*ret == 0)
        t = join_lines(l, nl);
    free(l);
    free(eff);
    return t;
}

static const struct rspec l_v1[] = {
    {true, "c", 10, 200, "rw"},
    {false, "c", 10, 200, "w"},
    {true, "a", 4, 2, "r"},
    {true, NULL, 9, NONE, "mr"},
};

static void test_v1_lines(void **state)
{
    (void)state;
    struct capsa_err err;
    int ret;
    char *t = v1_text(l_v1, R(l_v1), &err, &ret);
    assert_int_equal(ret, 0);
    assert_string_equal(t, "deny a\n"
                           "allow c 10:200 rw\n"
                           "deny c 10:200 w\n"
                           "allow c 4:2 r\n"
                           "allow b 4:2 r\n"
                           "allow c 9:* rm\n"
                           "allow b 9:* rm\n" DEFAULT_LINES);
    free(t);

    t = v1_text(l_allow_all, 1, &err, &ret);
    assert_int_equal(ret, 0);
    assert_string_equal(t, "deny a\nallow a *:* rwm\n" DEFAULT_LINES);
    free(t);

    t = v1_text(NULL, 0, &err, &ret);
    assert_int_equal(ret, 0);
    assert_string_equal(t, "deny a\n" DEFAULT_LINES);
    free(t);

    /* A partial-access deny after an allow-all is an added exception: fine. */
    static const struct rspec ok_hole[] = {{true, "a", NONE, NONE, NULL},
                                           {false, "c", 10, NONE, "w"}};
    t = v1_text(ok_hole, 2, &err, &ret);
    assert_int_equal(ret, 0);
    assert_string_equal(t, "deny a\nallow a *:* rwm\ndeny c 10:* w\n" DEFAULT_LINES);
    free(t);
}

/* Removing part of a wider wildcard exception would be ignored by the v1
 * kernel: refused, naming the rule. */
static void test_v1_hole(void **state)
{
    (void)state;
    struct capsa_err err;
    int ret;
    char *t = v1_text(l_overlap, R(l_overlap), &err, &ret);
    assert_int_equal(ret, -EINVAL);
    assert_null(t);
    assert_non_null(strstr(err.msg, "linux.resources.devices[1]"));
    assert_non_null(strstr(err.msg, "c 10:* rwm"));

    /* The defaults (allow c 1:3 ...) after "deny c *:* rwm" in allow-all mode. */
    t = v1_text(l_allow_then_deny, R(l_allow_then_deny), &err, &ret);
    assert_int_equal(ret, -EINVAL);
    assert_null(t);
    assert_non_null(strstr(err.msg, "default rule"));
}

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static char *slurp(const char *dir, const char *name)
{
    char *p = NULL, *buf = NULL;
    struct capsa_err err;
    assert_int_equal(capsa_asprintf(&p, NULL, "%s/%s", dir, name), 0);
    int r = capsa_read_file_at(AT_FDCWD, p, 1 << 20, &buf, NULL, &err);
    free(p);
    assert_int_equal(r, 0);
    return buf;
}

static void touch(const char *dir, const char *name)
{
    char *p = NULL;
    assert_int_equal(capsa_asprintf(&p, NULL, "%s/%s", dir, name), 0);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    free(p);
}

/* Real files: the writes arrive one rule per line in each file; a v2
 * directory next to the v1 devices one is left alone (hybrid host). */
static void test_v1_files(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/capsa-devices-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    touch(tmpdir, "devices.allow");
    touch(tmpdir, "devices.deny");

    /* A plain struct built by hand (writable copies of the strings). */
    char devices[] = "devices", memory[] = "memory";
    char mem_path[] = "/nonexistent/capsa-memory", v2_path[] = "/nonexistent/capsa-unified";
    char *ctl_dev[] = {devices, NULL};
    char *ctl_none[] = {NULL};
    char *ctl_mem[] = {memory, NULL};
    struct capsa_cgroup_dir dirs[] = {
        {mem_path, false, ctl_mem},
        {tmpdir, false, ctl_dev},
        {v2_path, true, ctl_none},
    };
    struct capsa_cgroup cg = {dirs, ARRAY_SIZE(dirs)};
    struct capsa_device_rule *r = mk_rules(l_v1, R(l_v1));
    struct capsa_err err;
    int ret = capsa_cgroup_devices_apply(&cg, r, R(l_v1), &err);
    if (ret < 0)
        fail_msg("apply: %s", err.msg);
    free(r);

    char *allow = slurp(tmpdir, "devices.allow");
    char *deny = slurp(tmpdir, "devices.deny");
    assert_string_equal(deny, "a\nc 10:200 w\n");
    assert_string_equal(allow, "c 10:200 rw\nc 4:2 r\nb 4:2 r\nc 9:* rm\nb 9:* rm\n"
                               "c *:* m\nb *:* m\nc 1:3 rwm\nc 1:8 rwm\nc 1:7 rwm\nc 5:0 rwm\n"
                               "c 1:5 rwm\nc 1:9 rwm\nc 5:1 rwm\nc 136:* rwm\nc 5:2 rwm\n");
    free(allow);
    free(deny);

    /* A rule v1 cannot express writes nothing at all. */
    touch(tmpdir, "devices.allow");
    touch(tmpdir, "devices.deny");
    r = mk_rules(l_overlap, R(l_overlap));
    assert_int_equal(capsa_cgroup_devices_apply(&cg, r, R(l_overlap), &err), -EINVAL);
    free(r);
    allow = slurp(tmpdir, "devices.allow");
    assert_string_equal(allow, "");
    free(allow);

    /* A missing devices.allow is an error naming the path. */
    char *p = NULL;
    assert_int_equal(capsa_asprintf(&p, NULL, "%s/devices.allow", tmpdir), 0);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(capsa_cgroup_devices_apply(&cg, NULL, 0, &err), -ENOENT);
    assert_non_null(strstr(err.msg, p));
    free(p);

    /* No v1 devices controller and no v2 directory: refused. */
    struct capsa_cgroup only_mem = {dirs, 1};
    assert_int_equal(capsa_cgroup_devices_apply(&only_mem, NULL, 0, &err), -ENOTSUP);

    assert_int_equal(nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* ---- real cgroup v2 ---- */

#define UNIFIED "/sys/fs/cgroup/unified"

static char v2dir[128];

/* Runs even when an assertion failed: the probe children have exited, so the
 * directory is empty and can go. */
static int v2_teardown(void **state)
{
    (void)state;
    if (v2dir[0] != '\0' && rmdir(v2dir) < 0 && errno != ENOENT)
        return -1;
    v2dir[0] = '\0';
    return 0;
}

struct probe {
    const char *path;
    int flags;
    int expect; /* 0 or an errno */
};

/* Fork a child that joins the cgroup (writes "0" to cgroup.procs) and opens
 * each path; check the results. */
static void probe_in(const char *dir, const struct probe *p, size_t n)
{
    int pfd[2];
    assert_int_equal(pipe2(pfd, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int res[16] = {0};
        char procs[256];
        snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
        int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1)
            _exit(2);
        close(fd);
        for (size_t i = 0; i < n && i < 16; i++) {
            fd = open(p[i].path, p[i].flags | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
            res[i] = fd < 0 ? errno : 0;
            if (fd >= 0)
                close(fd);
        }
        if (write(pfd[1], res, sizeof res) != (ssize_t)sizeof res)
            _exit(3);
        _exit(0);
    }
    close(pfd[1]);
    int res[16];
    ssize_t got = read(pfd[0], res, sizeof res);
    close(pfd[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(got, (ssize_t)sizeof res);
    for (size_t i = 0; i < n; i++)
        if (res[i] != p[i].expect)
            fail_msg("open %s flags 0x%x: got %s, want %s", p[i].path, p[i].flags, strerror(res[i]),
                     strerror(p[i].expect));
}

static void test_v2_real(void **state)
{
    (void)state;
    struct statfs sfs;
    if (geteuid() != 0 || statfs(UNIFIED, &sfs) < 0 || sfs.f_type != CGROUP2_SUPER_MAGIC) {
        skip();
        return;
    }
    const char *dir = v2dir;
    snprintf(v2dir, sizeof v2dir, UNIFIED "/capsa-devtest-%d", (int)getpid());
    if (mkdir(dir, 0755) < 0) {
        int e = errno;
        v2dir[0] = '\0';
        fail_msg("mkdir %s: %s", dir, strerror(e));
    }

    struct capsa_err err;
    /* Low level: deny everything but /dev/null (no default devices). */
    const struct capsa_devrule rules[] = {
        {false, 'a', CAPSA_DEV_WILDCARD, CAPSA_DEV_WILDCARD, CAPSA_DEV_ACC_ALL, -1},
        {true, 'c', 1, 3, CAPSA_DEV_ACC_ALL, -1},
    };
    struct bpf_insn *insns = NULL;
    size_t n_insns = 0;
    assert_int_equal(capsa_devices_bpf_build(rules, 2, &insns, &n_insns, &err), 0);
    int ret = capsa_devices_bpf_attach(dir, insns, n_insns, &err);
    if (ret < 0)
        fail_msg("attach: %s", err.msg);
    assert_int_equal(capsa_devices_bpf_count(dir, &err), 1);
    const struct probe p1[] = {
        {"/dev/null", O_RDWR, 0},
        {"/dev/zero", O_RDONLY, EPERM},
    };
    probe_in(dir, p1, ARRAY_SIZE(p1));

    /* Reattaching replaces: still exactly one program. */
    assert_int_equal(capsa_devices_bpf_attach(dir, insns, n_insns, &err), 0);
    assert_int_equal(capsa_devices_bpf_count(dir, &err), 1);
    free(insns);

    /* Through the public entry point: defaults plus read-only /dev/kmsg. */
    char *ctl_none[] = {NULL};
    struct capsa_cgroup_dir d = {v2dir, true, ctl_none};
    struct capsa_cgroup cg = {&d, 1};
    static const struct rspec kmsg[] = {{true, "c", 1, 11, "r"}};
    struct capsa_device_rule *r = mk_rules(kmsg, 1);
    ret = capsa_cgroup_devices_apply(&cg, r, 1, &err);
    free(r);
    if (ret < 0)
        fail_msg("apply: %s", err.msg);
    assert_int_equal(capsa_devices_bpf_count(dir, &err), 1);
    struct probe p2[] = {
        {"/dev/null", O_RDWR, 0},
        {"/dev/zero", O_RDONLY, 0},
        {"/dev/kmsg", O_RDONLY, 0},
        {"/dev/kmsg", O_WRONLY, EPERM},
        {"/dev/loop-control", O_RDWR, EPERM},
    };
    size_t np = ARRAY_SIZE(p2);
    if (access("/dev/loop-control", F_OK) < 0)
        np--;
    probe_in(dir, p2, np);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix),
        cmocka_unit_test(test_matrix_raw),
        cmocka_unit_test(test_reference),
        cmocka_unit_test(test_access_strings),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_v1_lines),
        cmocka_unit_test(test_v1_hole),
        cmocka_unit_test(test_v1_files),
        cmocka_unit_test_teardown(test_v2_real, v2_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
