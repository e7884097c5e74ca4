/* test_mount_opts.c - table tests for capsa_mount_opts_parse: every runc
 * option, overriding order, recursive attributes, propagation, data
 * passthrough, idmap refusal, and the propagation-name parser. Pure: no
 * privileges needed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linux/devices.h"
#include "sys/sys.h"
#include "util/util.h"

struct flag_case {
    const char *opt;
    unsigned long ms_set; /* expected in ms_flags */
    uint64_t attr_set;
    uint64_t attr_clr;
    uint64_t rec_set;
    uint64_t rec_clr;
    enum capsa_atime atime;
    enum capsa_atime rec_atime;
};

static const struct flag_case single[] = {
    {"ro", MS_RDONLY, MOUNT_ATTR_RDONLY, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rw", 0, 0, MOUNT_ATTR_RDONLY, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"nosuid", MS_NOSUID, MOUNT_ATTR_NOSUID, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"suid", 0, 0, MOUNT_ATTR_NOSUID, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"nodev", MS_NODEV, MOUNT_ATTR_NODEV, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"dev", 0, 0, MOUNT_ATTR_NODEV, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"noexec", MS_NOEXEC, MOUNT_ATTR_NOEXEC, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"exec", 0, 0, MOUNT_ATTR_NOEXEC, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"sync", MS_SYNCHRONOUS, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"async", 0, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"dirsync", MS_DIRSYNC, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"mand", MS_MANDLOCK, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"nomand", 0, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"noatime", MS_NOATIME, 0, 0, 0, 0, CAPSA_ATIME_NOATIME, CAPSA_ATIME_UNSET},
    {"atime", 0, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"relatime", MS_RELATIME, 0, 0, 0, 0, CAPSA_ATIME_RELATIME, CAPSA_ATIME_UNSET},
    {"norelatime", 0, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"strictatime", MS_STRICTATIME, 0, 0, 0, 0, CAPSA_ATIME_STRICTATIME, CAPSA_ATIME_UNSET},
    {"nostrictatime", 0, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"nodiratime", MS_NODIRATIME, MOUNT_ATTR_NODIRATIME, 0, 0, 0, CAPSA_ATIME_UNSET,
     CAPSA_ATIME_UNSET},
    {"diratime", 0, 0, MOUNT_ATTR_NODIRATIME, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"bind", MS_BIND, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rbind", MS_BIND | MS_REC, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"remount", MS_REMOUNT, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rro", 0, 0, 0, MOUNT_ATTR_RDONLY, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rrw", 0, 0, 0, 0, MOUNT_ATTR_RDONLY, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rnosuid", 0, 0, 0, MOUNT_ATTR_NOSUID, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rsuid", 0, 0, 0, 0, MOUNT_ATTR_NOSUID, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rnodev", 0, 0, 0, MOUNT_ATTR_NODEV, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rdev", 0, 0, 0, 0, MOUNT_ATTR_NODEV, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rnoexec", 0, 0, 0, MOUNT_ATTR_NOEXEC, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rexec", 0, 0, 0, 0, MOUNT_ATTR_NOEXEC, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rnodiratime", 0, 0, 0, MOUNT_ATTR_NODIRATIME, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rdiratime", 0, 0, 0, 0, MOUNT_ATTR_NODIRATIME, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rnoatime", 0, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_NOATIME},
    {"ratime", 0, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rrelatime", 0, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_RELATIME},
    {"rnorelatime", 0, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
    {"rstrictatime", 0, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_STRICTATIME},
    {"rnostrictatime", 0, 0, 0, 0, 0, CAPSA_ATIME_UNSET, CAPSA_ATIME_UNSET},
};

static void parse_ok(const char *const *opts, size_t n, struct capsa_mount_opts *o)
{
    struct capsa_err err = {0};
    int r = capsa_mount_opts_parse((char *const *)opts, n, o, &err);
    if (r != 0)
        fail_msg("parse failed: %s", err.msg);
}

static void test_single_options(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(single); i++) {
        const struct flag_case *c = &single[i];
        const char *opts[] = {c->opt};
        struct capsa_mount_opts o;
        parse_ok(opts, 1, &o);
        if (o.ms_flags != c->ms_set || o.attr_set != c->attr_set || o.attr_clr != c->attr_clr ||
            o.rec_attr_set != c->rec_set || o.rec_attr_clr != c->rec_clr || o.atime != c->atime ||
            o.rec_atime != c->rec_atime)
            fail_msg("option %s: ms=%#lx set=%#llx clr=%#llx rset=%#llx rclr=%#llx at=%d rat=%d",
                     c->opt, o.ms_flags, (unsigned long long)o.attr_set,
                     (unsigned long long)o.attr_clr, (unsigned long long)o.rec_attr_set,
                     (unsigned long long)o.rec_attr_clr, o.atime, o.rec_atime);
        assert_int_equal(o.n_data, 0);
        assert_int_equal(o.propagation, 0);
        capsa_mount_opts_release(&o);
    }
}

static void test_bind_flags(void **state)
{
    (void)state;
    struct capsa_mount_opts o;
    const char *a[] = {"bind", "ro"};
    parse_ok(a, 2, &o);
    assert_true(o.bind);
    assert_false(o.rbind);
    assert_true(o.attr_set & MOUNT_ATTR_RDONLY);
    capsa_mount_opts_release(&o);

    const char *b[] = {"rbind", "rro", "nosuid"};
    parse_ok(b, 3, &o);
    assert_true(o.bind);
    assert_true(o.rbind);
    assert_int_equal(o.rec_attr_set, MOUNT_ATTR_RDONLY);
    assert_int_equal(o.attr_set, MOUNT_ATTR_NOSUID);
    capsa_mount_opts_release(&o);
}

static void test_last_wins(void **state)
{
    (void)state;
    struct capsa_mount_opts o;
    const char *a[] = {"ro", "rw"};
    parse_ok(a, 2, &o);
    assert_int_equal(o.attr_set, 0);
    assert_int_equal(o.attr_clr, MOUNT_ATTR_RDONLY);
    assert_int_equal(o.ms_flags & MS_RDONLY, 0);
    capsa_mount_opts_release(&o);

    const char *b[] = {"rw", "ro"};
    parse_ok(b, 2, &o);
    assert_int_equal(o.attr_set, MOUNT_ATTR_RDONLY);
    assert_int_equal(o.attr_clr, 0);
    assert_true(o.ms_flags & MS_RDONLY);
    capsa_mount_opts_release(&o);

    const char *c[] = {"noatime", "strictatime"};
    parse_ok(c, 2, &o);
    assert_int_equal(o.atime, CAPSA_ATIME_STRICTATIME);
    assert_int_equal(o.ms_flags & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME), MS_STRICTATIME);
    capsa_mount_opts_release(&o);

    /* "atime" cancels "noatime" but not "strictatime". */
    const char *d[] = {"noatime", "atime"};
    parse_ok(d, 2, &o);
    assert_int_equal(o.atime, CAPSA_ATIME_UNSET);
    assert_int_equal(o.ms_flags & MS_NOATIME, 0);
    capsa_mount_opts_release(&o);
    const char *e[] = {"strictatime", "atime"};
    parse_ok(e, 2, &o);
    assert_int_equal(o.atime, CAPSA_ATIME_STRICTATIME);
    capsa_mount_opts_release(&o);

    const char *f[] = {"rro", "rrw", "rnoexec"};
    parse_ok(f, 3, &o);
    assert_int_equal(o.rec_attr_set, MOUNT_ATTR_NOEXEC);
    assert_int_equal(o.rec_attr_clr, MOUNT_ATTR_RDONLY);
    capsa_mount_opts_release(&o);

    const char *g[] = {"rnoatime", "ratime"};
    parse_ok(g, 2, &o);
    assert_int_equal(o.rec_atime, CAPSA_ATIME_UNSET);
    capsa_mount_opts_release(&o);
}

static void test_propagation(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        unsigned long ms;
        bool rec;
    } cases[] = {
        {"private", MS_PRIVATE, false},       {"rprivate", MS_PRIVATE, true},
        {"shared", MS_SHARED, false},         {"rshared", MS_SHARED, true},
        {"slave", MS_SLAVE, false},           {"rslave", MS_SLAVE, true},
        {"unbindable", MS_UNBINDABLE, false}, {"runbindable", MS_UNBINDABLE, true},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct capsa_mount_opts o;
        const char *a[] = {"nosuid", cases[i].name};
        parse_ok(a, 2, &o);
        assert_int_equal(o.propagation, cases[i].ms);
        assert_int_equal(o.propagation_rec, cases[i].rec);
        assert_int_equal(o.n_data, 0);
        capsa_mount_opts_release(&o);
        uint64_t p = 0;
        bool rec = !cases[i].rec;
        assert_int_equal(capsa_mount_propagation_parse(cases[i].name, &p, &rec), 0);
        assert_int_equal(p, cases[i].ms);
        assert_int_equal(rec, cases[i].rec);
    }
    uint64_t p;
    bool rec;
    assert_int_equal(capsa_mount_propagation_parse("ro", &p, &rec), -EINVAL);
    assert_int_equal(capsa_mount_propagation_parse("bogus", &p, &rec), -EINVAL);
    assert_int_equal(capsa_mount_propagation_parse(NULL, &p, &rec), -EINVAL);
    /* last one wins */
    struct capsa_mount_opts o;
    const char *a[] = {"rshared", "slave"};
    parse_ok(a, 2, &o);
    assert_int_equal(o.propagation, MS_SLAVE);
    assert_false(o.propagation_rec);
    capsa_mount_opts_release(&o);
}

static void test_data_passthrough(void **state)
{
    (void)state;
    struct capsa_mount_opts o;
    const char *a[] = {"nosuid",      "mode=755",      "",     "strictatime", "size=65536k",
                       "newinstance", "ptmxmode=0666", "gid=5"};
    parse_ok(a, ARRAY_SIZE(a), &o);
    assert_int_equal(o.n_data, 5);
    assert_string_equal(o.data[0], "mode=755");
    assert_string_equal(o.data[1], "size=65536k");
    assert_string_equal(o.data[2], "newinstance");
    assert_string_equal(o.data[3], "ptmxmode=0666");
    assert_string_equal(o.data[4], "gid=5");
    assert_ptr_equal(o.data[0], a[1]); /* borrowed */
    assert_int_equal(o.attr_set, MOUNT_ATTR_NOSUID);
    assert_int_equal(o.atime, CAPSA_ATIME_STRICTATIME);
    struct capsa_err err = {0};
    char *s = NULL;
    assert_int_equal(capsa_mount_opts_data(&o, &s, &err), 0);
    assert_string_equal(s, "mode=755,size=65536k,newinstance,ptmxmode=0666,gid=5");
    free(s);
    capsa_mount_opts_release(&o);

    /* Unknown-looking flags are data too; names are case-sensitive. */
    const char *b[] = {"RO", "context=\"system_u:object_r:x\""};
    parse_ok(b, 2, &o);
    assert_int_equal(o.n_data, 2);
    assert_int_equal(o.attr_set, 0);
    capsa_mount_opts_release(&o);

    parse_ok(NULL, 0, &o);
    assert_int_equal(o.n_data, 0);
    assert_int_equal(capsa_mount_opts_data(&o, &s, &err), 0);
    assert_string_equal(s, "");
    free(s);
    capsa_mount_opts_release(&o);
}

static void test_idmap_refused(void **state)
{
    (void)state;
    const char *names[] = {"idmap", "ridmap"};
    for (size_t i = 0; i < 2; i++) {
        struct capsa_mount_opts o;
        struct capsa_err err = {0};
        const char *a[] = {"bind", names[i]};
        assert_int_equal(capsa_mount_opts_parse((char *const *)a, 2, &o, &err), -ENOTSUP);
        assert_non_null(strstr(err.msg, names[i]));
        assert_non_null(strstr(err.msg, "not supported yet"));
        assert_null(o.data);
    }
}

/* A realistic runc default-spec set. */
static void test_default_spec_mounts(void **state)
{
    (void)state;
    struct capsa_mount_opts o;
    const char *dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k"};
    parse_ok(dev, 4, &o);
    assert_int_equal(o.attr_set, MOUNT_ATTR_NOSUID);
    assert_int_equal(o.n_data, 2);
    capsa_mount_opts_release(&o);
    const char *sys[] = {"nosuid", "noexec", "nodev", "ro"};
    parse_ok(sys, 4, &o);
    assert_int_equal(o.attr_set,
                     MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC | MOUNT_ATTR_NODEV | MOUNT_ATTR_RDONLY);
    assert_int_equal(o.ms_flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY);
    assert_false(o.bind);
    capsa_mount_opts_release(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_options),      cmocka_unit_test(test_bind_flags),
        cmocka_unit_test(test_last_wins),           cmocka_unit_test(test_propagation),
        cmocka_unit_test(test_data_passthrough),    cmocka_unit_test(test_idmap_refused),
        cmocka_unit_test(test_default_spec_mounts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
