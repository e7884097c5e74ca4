/* test_sdprop.c - org.systemd.property.* annotations (src/lib/linux/sdprop.c):
 * the GVariant text values runc's documentation shows and the rest of the
 * subset capsa takes, the Sec -> USec conversion, and the refusals, each
 * naming the annotation. The real systemd applies them in tests/sdvm. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linux/sdprop.h"

#define P "org.systemd.property."

static struct capsa_sdprop ok_parse(const char *key, const char *text, const char *name,
                                    const char *sig)
{
    struct capsa_sdprop p;
    struct capsa_err err = {0};
    int r = capsa_sdprop_parse(key, text, &p, &err);
    if (r != 0)
        fail_msg("%s = %s: %s", key, text, err.msg);
    assert_string_equal(p.name, name);
    assert_string_equal(p.sig, sig);
    return p;
}

static void test_values(void **state)
{
    (void)state;
    struct capsa_sdprop p =
        ok_parse(P "TimeoutStopUSec", "uint64 123456789", "TimeoutStopUSec", "t");
    assert_int_equal(p.u, 123456789);
    p = ok_parse(P "CollectMode", "'inactive-or-failed'", "CollectMode", "s");
    assert_string_equal(p.s, "inactive-or-failed");
    capsa_sdprop_free(&p);
    p = ok_parse(P "Description", " \"a \\\"q\\\" \\\\ b\" ", "Description", "s");
    assert_string_equal(p.s, "a \"q\" \\ b");
    capsa_sdprop_free(&p);
    p = ok_parse(P "SendSIGKILL", "false", "SendSIGKILL", "b");
    assert_false(p.b);
    p = ok_parse(P "SendSIGKILL", "boolean true", "SendSIGKILL", "b");
    assert_true(p.b);
    p = ok_parse(P "Wants", "@as ['a.service', \"b.service\"]", "Wants", "as");
    assert_int_equal(p.n, 2);
    assert_string_equal(p.strv[1], "b.service");
    capsa_sdprop_free(&p);
    p = ok_parse(P "Wants", "@as []", "Wants", "as");
    assert_int_equal(p.n, 0);
    p = ok_parse(P "Nice", "-5", "Nice", "i");
    assert_int_equal(p.i, -5);
    p = ok_parse(P "Xint", "int64 -9000000000", "Xint", "x");
    assert_int_equal(p.i, -9000000000LL);
    p = ok_parse(P "Xuu", "uint32 0x10", "Xuu", "u");
    assert_int_equal(p.u, 16);
    p = ok_parse(P "Xyy", "byte 255", "Xyy", "y");
    assert_int_equal(p.u, 255);
    p = ok_parse(P "Xdd", "@d 1.5e1", "Xdd", "d");
    assert_true(p.d > 14.9 && p.d < 15.1);
}

static void test_sec_to_usec(void **state)
{
    (void)state;
    struct capsa_sdprop p = ok_parse(P "TimeoutStopSec", "uint64 123", "TimeoutStopUSec", "t");
    assert_int_equal(p.u, 123000000);
    p = ok_parse(P "RuntimeMaxSec", "2.5", "RuntimeMaxUSec", "t");
    assert_int_equal(p.u, 2500000);
    p = ok_parse(P "RuntimeMaxSec", "7", "RuntimeMaxUSec", "t");
    assert_int_equal(p.u, 7000000);
    /* Only after a lowercase letter: "USec" names stay. */
    p = ok_parse(P "TimeoutUSec", "uint64 5", "TimeoutUSec", "t");
    assert_int_equal(p.u, 5);
}

static void expect_bad(const char *key, const char *text)
{
    struct capsa_sdprop p;
    struct capsa_err err = {0};
    int r = capsa_sdprop_parse(key, text, &p, &err);
    if (r == 0)
        fail_msg("%s = %s accepted", key, text);
    assert_non_null(strstr(err.msg, key));
    assert_null(p.s);
    assert_null(p.strv);
}

static void test_refusals(void **state)
{
    (void)state;
    expect_bad(P "lower", "true");
    expect_bad(P "A-B", "true");
    expect_bad(P "AB", "true");
    expect_bad(P "Name", "'unterminated");
    expect_bad(P "Name", "'bad \\q escape'");
    expect_bad(P "Name", "uint64 -1");
    expect_bad(P "Name", "byte 256");
    expect_bad(P "Name", "int32 3000000000");
    expect_bad(P "Name", "[]");
    expect_bad(P "Name", "[1, 2]");
    expect_bad(P "Name", "['a' 'b']");
    expect_bad(P "Name", "'a' junk");
    expect_bad(P "Name", "string 5");
    expect_bad(P "Name", "uint64 'x'");
    expect_bad(P "Name", "@q 1");
    expect_bad(P "Name", "");
    expect_bad(P "Name", "0x");
    expect_bad(P "TimeoutStopSec", "-1");
    expect_bad(P "TimeoutStopSec", "'ten'");
}

static void test_append(void **state)
{
    (void)state;
    struct capsa_kv ann[] = {
        {.key = (char *)"io.example.other", .value = (char *)"not GVariant"},
        {.key = (char *)P "TimeoutStopUSec", .value = (char *)"uint64 1"},
    };
    struct capsa_dbus_buf b = {0};
    struct capsa_err err = {0};
    assert_int_equal(capsa_sdprop_append(ann, 2, &b, &err), 0);
    assert_true(b.len > 0);
    assert_non_null(memmem(b.p, b.len, "TimeoutStopUSec", 15));
    assert_null(memmem(b.p, b.len, "other", 5));
    capsa_dbus_buf_free(&b);
    /* Checking only (b NULL) finds the same errors. */
    struct capsa_kv pids = {.key = (char *)P "PIDs", .value = (char *)"@as []"};
    assert_int_equal(capsa_sdprop_append(&pids, 1, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "PIDs"));
    struct capsa_kv bad = {.key = (char *)P "Name", .value = (char *)"nope"};
    assert_int_equal(capsa_sdprop_append(&bad, 1, NULL, &err), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_sec_to_usec),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_append),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
