/* test_json.c - util/json.c against jansson (the reference for what valid
 * JSON is, with JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL):
 * both must accept and reject the same documents, and accepted ones must
 * decode to the same tree. Plus the limits jansson does not share (depth). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/json_same.h"
#include "util/json.h"

/* Both parsers on the same bytes; returns whether ours accepted. */
static bool agree(const char *buf, size_t len)
{
    struct capsa_jdoc doc;
    struct capsa_jerror e;
    int r = capsa_json_parse(buf, len, 0, &doc, &e);
    json_error_t je;
    json_t *j =
        json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if ((r == 0) != (j != NULL))
        fail_msg("disagreement on <%.*s>: ours %s (%s), jansson %s (%s)", (int)len, buf,
                 r == 0 ? "accepts" : "rejects", r == 0 ? "" : e.text, j ? "accepts" : "rejects",
                 j ? "" : je.text);
    if (r == 0 && !json_same(&doc.root, j))
        fail_msg("different trees for <%.*s>", (int)len, buf);
    if (r == 0)
        capsa_json_free(&doc);
    json_decref(j);
    return r == 0;
}

static bool agree_s(const char *s)
{
    return agree(s, strlen(s));
}

static void test_valid(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "{}",
        "[]",
        " \n\t\r{ } ",
        "0",
        "-0",
        "123",
        "-9223372036854775808",
        "9223372036854775807",
        "1.5",
        "-1.5e10",
        "1E-400",
        "2.5e+3",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"",
        "\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"",
        "\"\\u0000x\"",
        "\"h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80\"",
        "{\"a\":1,\"b\":[1,2,{\"c\":null}],\"d\":{\"e\":\"f\"}}",
        "[[[[[[[[[[]]]]]]]]]]",
        "{\"\":0}",
        "{\"a\":{},\"b\":[]}",
        "[1,\"two\",3.0,true,false,null,{},[]]",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        assert_true(agree_s(ok[i]));
}

static void test_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        " ",
        "{",
        "}",
        "[1,]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{a:1}",
        "[1 2]",
        "01",
        "-",
        "1.",
        ".5",
        "1e",
        "+1",
        "0x10",
        "9223372036854775808",
        "-9223372036854775809",
        "1e400",
        "tru",
        "nul",
        "True",
        "\"abc",
        "\"a\\x\"",
        "\"\\u12\"",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"a\nb\"",
        "\"\x01\"",
        "\"\xc0\xaf\"",
        "\"\xe0\x80\xaf\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\"\xff\"",
        "\"\xc3\"",
        "{\"a\":1,\"a\":2}",
        "[] []",
        "{} x",
        "[1]]",
        "NaN",
        "Infinity",
        "{\"a\\u0000b\":1}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(agree_s(bad[i]));
    /* A raw NUL byte anywhere. */
    assert_false(agree("[\"a\0\"]", 6));
    assert_false(agree("[1]\0", 4));
}

static void test_duplicates_large_object(void **state)
{
    (void)state;
    /* Sorting path (> 16 members): distinct keys pass, one repeat fails. */
    char buf[8192];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    snprintf(buf + n, sizeof buf - n, "}");
    assert_true(agree_s(buf));
    n -= 0;
    snprintf(buf + n, sizeof buf - n, ",\"k57\":1}");
    assert_false(agree_s(buf));
}

/* Parse s, which must fail on a duplicate key; check where and what it says. */
static void expect_dup(const char *s, int line, int column, const char *text)
{
    struct capsa_jdoc doc;
    struct capsa_jerror e;
    assert_int_equal(capsa_json_parse(s, strlen(s), 0, &doc, &e), -EINVAL);
    if (e.line != line || e.column != column || strcmp(e.text, text) != 0)
        fail_msg("<%s>: got %d:%d \"%s\", want %d:%d \"%s\"", s, e.line, e.column, e.text, line,
                 column, text);
}

static void test_duplicate_position_and_path(void **state)
{
    (void)state;
    /* The second occurrence's position, not the end of the enclosing object. */
    expect_dup("{\n  \"ociVersion\": \"1\",\n  \"ociVersion\": \"2\",\n  \"x\": 1\n}", 3, 3,
               "ociVersion: duplicate key");
    expect_dup("{\"process\": {\"cwd\": \"/\",\n \"args\": [\"a\"],\n  \"cwd\": \"/x\"}, \"z\": 0}",
               3, 3, "process.cwd: duplicate key");
    /* Array indices in the path; a duplicate after a nested container. */
    expect_dup(
        "{\"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"ipc\", \"path\": {},"
        " \"type\": \"uts\"}]}}",
        1, 72, "linux.namespaces[1].type: duplicate key");
    expect_dup("[[1, {\"a\": [], \"a\": 2}]]", 1, 16, "[0][1].a: duplicate key");
    /* Found before a later syntax error: the duplicate comes first. */
    expect_dup("{\"a\": 1, \"a\": 2, ]", 1, 10, "a: duplicate key");
    /* Large objects (checked when complete): the earliest second occurrence,
     * at its own line and column, whatever the sort order. */
    char buf[8192];
    size_t n = 0;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "{\"o\": {");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s\"k%02d\": %d", i ? "," : "", i, i);
    n += (size_t)snprintf(buf + n, sizeof buf - n, ",\n\"k90\": 1,\n  \"k05\": 1, \"k90\": 2}}");
    expect_dup(buf, 2, 1, "o.k90: duplicate key");
    assert_false(agree_s(buf));
}

static void test_depth_and_errors(void **state)
{
    (void)state;
    size_t deep = 100000;
    char *b = malloc(deep * 2);
    assert_non_null(b);
    memset(b, '[', deep);
    memset(b + deep, ']', deep);
    struct capsa_jdoc doc;
    struct capsa_jerror e;
    assert_int_equal(capsa_json_parse(b, deep * 2, 0, &doc, &e), -EINVAL);
    assert_non_null(strstr(e.text, "nesting"));
    /* Just under the limit is fine. */
    size_t ok = CAPSA_JSON_MAX_DEPTH;
    memset(b, '[', ok);
    memset(b + ok, ']', ok);
    assert_int_equal(capsa_json_parse(b, ok * 2, 0, &doc, &e), 0);
    capsa_json_free(&doc);
    free(b);
    /* Position of an error: line 3, column 5. */
    const char *s = "{\n \"a\": 1,\n    x}";
    assert_int_equal(capsa_json_parse(s, strlen(s), 0, &doc, &e), -EINVAL);
    assert_int_equal(e.line, 3);
    assert_int_equal(e.column, 5);
}

static void test_uint64(void **state)
{
    (void)state;
    struct capsa_jdoc doc;
    struct capsa_jerror e;
    const char *max = "[18446744073709551615, 9223372036854775808, 9223372036854775807]";
    assert_int_equal(capsa_json_parse(max, strlen(max), CAPSA_JSON_UINT64, &doc, &e), 0);
    assert_int_equal(doc.root.u.items[0].type, CAPSA_J_UINT);
    assert_true(doc.root.u.items[0].u.u == UINT64_MAX);
    assert_int_equal(doc.root.u.items[1].type, CAPSA_J_UINT);
    assert_true(doc.root.u.items[1].u.u == (uint64_t)INT64_MAX + 1);
    assert_int_equal(doc.root.u.items[2].type, CAPSA_J_INT);
    capsa_json_free(&doc);
    static const char *const bad[] = {"18446744073709551616", "-9223372036854775809",
                                      "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(capsa_json_parse(bad[i], strlen(bad[i]), CAPSA_JSON_UINT64, &doc, &e),
                         -EINVAL);
        assert_non_null(strstr(e.text, "too big"));
    }
    /* Without the flag, as jansson. */
    assert_int_equal(capsa_json_parse(max, strlen(max), 0, &doc, &e), -EINVAL);
}

static void test_get(void **state)
{
    (void)state;
    const char *s = "{\"process\":{\"args\":[\"sh\",\"-c\"],\"cwd\":\"/\"},\"n\":7}";
    struct capsa_jdoc doc;
    struct capsa_jerror e;
    assert_int_equal(capsa_json_parse(s, strlen(s), 0, &doc, &e), 0);
    const struct capsa_jv *p = capsa_jv_get(&doc.root, "process");
    assert_true(capsa_jv_is(p, CAPSA_J_OBJECT));
    const struct capsa_jv *args = capsa_jv_get(p, "args");
    assert_true(capsa_jv_is(args, CAPSA_J_ARRAY));
    assert_int_equal(args->n, 2);
    assert_string_equal(args->u.items[1].u.s, "-c");
    assert_int_equal(capsa_jv_get(&doc.root, "n")->u.i, 7);
    assert_null(capsa_jv_get(&doc.root, "missing"));
    assert_null(capsa_jv_get(args, "x"));
    assert_null(capsa_jv_get(NULL, "x"));
    capsa_json_free(&doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_duplicates_large_object),
        cmocka_unit_test(test_duplicate_position_and_path),
        cmocka_unit_test(test_depth_and_errors),
        cmocka_unit_test(test_uint64),
        cmocka_unit_test(test_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
