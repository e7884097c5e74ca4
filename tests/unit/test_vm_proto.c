/* test_vm_proto.c - unit tests for level/vm/proto.c: every message type
 * round-trips through encode and decode (and through the stream reader fed
 * one byte at a time), and truncated, oversized, undersized, unknown and
 * otherwise malformed frames are refused with EPROTO or EMSGSIZE. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "level/vm/proto.h"

static const uint8_t blob[] = {'{', '}', 0, 0xff, '\n'};

/* One sample of each type, every field set to something recognisable. */
static struct capsa_vm_msg sample(uint8_t type)
{
    struct capsa_vm_msg m = {.type = type, .id = 0x01020304u + type};
    switch (type) {
    case CAPSA_VM_HELLO:
        m.magic = CAPSA_VM_MAGIC;
        m.version = CAPSA_VM_VERSION;
        m.info = "6.1.0-cloud-amd64";
        break;
    case CAPSA_VM_OK:
        m.pid = 4242;
        m.data = blob;
        m.len = sizeof blob;
        break;
    case CAPSA_VM_ERROR:
        m.errnum = ENOENT;
        m.message = "container c1: not found";
        break;
    case CAPSA_VM_CREATE:
        m.cid = "c1";
        m.proc = 7;
        m.data = blob;
        m.len = sizeof blob;
        m.bundle = "/run/capsa/bundle";
        break;
    case CAPSA_VM_EXEC:
        m.cid = "c1";
        m.proc = 8;
        m.flags = CAPSA_VM_EXEC_TTY;
        m.data = blob;
        m.len = sizeof blob;
        break;
    case CAPSA_VM_STDIN:
    case CAPSA_VM_STDOUT:
    case CAPSA_VM_STDERR:
        m.data = blob;
        m.len = sizeof blob;
        break;
    case CAPSA_VM_SIGNAL:
        m.cid = "c1";
        m.proc = CAPSA_VM_PROC_ALL;
        m.signo = 15;
        break;
    case CAPSA_VM_EXIT:
        m.how = CAPSA_VM_SIGNALED;
        m.code = 9;
        break;
    case CAPSA_VM_RESIZE:
        m.rows = 24;
        m.cols = 80;
        break;
    case CAPSA_VM_UPDATE:
    case CAPSA_VM_NET:
        m.cid = "c1";
        m.data = blob;
        m.len = sizeof blob;
        break;
    case CAPSA_VM_DELETE:
        m.cid = "c1";
        m.flags = CAPSA_VM_DEL_FORCE;
        break;
    case CAPSA_VM_START:
    case CAPSA_VM_STATS:
    case CAPSA_VM_OOMS:
    case CAPSA_VM_PS:
    case CAPSA_VM_PAUSE:
    case CAPSA_VM_RESUME:
        m.cid = "c1";
        break;
    default:
        break;
    }
    return m;
}

static void assert_str_eq_or_null(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_msg_equal(const struct capsa_vm_msg *a, const struct capsa_vm_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->magic, b->magic);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->proc, b->proc);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->pid, b->pid);
    assert_int_equal(a->errnum, b->errnum);
    assert_int_equal(a->signo, b->signo);
    assert_int_equal(a->how, b->how);
    assert_int_equal(a->code, b->code);
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->cols, b->cols);
    assert_str_eq_or_null(a->info, b->info);
    assert_str_eq_or_null(a->cid, b->cid);
    assert_str_eq_or_null(a->bundle, b->bundle);
    assert_str_eq_or_null(a->message, b->message);
    assert_int_equal(a->len, b->len);
    if (a->len > 0)
        assert_memory_equal(a->data, b->data, a->len);
}

static void test_roundtrip_every_type(void **state)
{
    (void)state;
    for (unsigned t = 1; t <= CAPSA_VM_TYPE_MAX; t++) {
        struct capsa_vm_msg in = sample((uint8_t)t);
        struct capsa_vm_buf buf = {0};
        struct capsa_err err = {0};
        assert_int_equal(capsa_vm_encode(&in, &buf, &err), 0);
        assert_true(buf.len >= CAPSA_VM_HDR_LEN);
        /* The header: length of the rest, type, id, little-endian. */
        assert_int_equal(buf.data[0] | buf.data[1] << 8 | buf.data[2] << 16, buf.len - 4);
        assert_int_equal(buf.data[4], t);
        assert_int_equal(buf.data[5], (in.id & 0xff));
        struct capsa_vm_msg out;
        assert_int_equal(capsa_vm_decode(buf.data, buf.len, &out, &err), 0);
        assert_msg_equal(&in, &out);
        assert_string_not_equal(capsa_vm_type_name(t), "unknown");
        capsa_vm_buf_free(&buf);
    }
}

/* Every type, concatenated, fed to the reader one byte at a time. */
static void test_reader_byte_by_byte(void **state)
{
    (void)state;
    struct capsa_vm_buf all = {0};
    struct capsa_err err = {0};
    for (unsigned t = 1; t <= CAPSA_VM_TYPE_MAX; t++) {
        struct capsa_vm_msg in = sample((uint8_t)t);
        assert_int_equal(capsa_vm_encode(&in, &all, &err), 0);
    }
    struct capsa_vm_reader r = {0};
    unsigned next = 1;
    for (size_t i = 0; i < all.len; i++) {
        assert_int_equal(capsa_vm_reader_feed(&r, all.data + i, 1, &err), 0);
        struct capsa_vm_msg out;
        uint32_t id = 0;
        int got = capsa_vm_reader_next(&r, &out, &id, &err);
        assert_true(got == 0 || got == 1);
        if (got == 1) {
            struct capsa_vm_msg in = sample((uint8_t)next);
            assert_msg_equal(&in, &out);
            assert_int_equal(id, in.id);
            next++;
        }
    }
    assert_int_equal(next, CAPSA_VM_TYPE_MAX + 1);
    capsa_vm_reader_free(&r);
    capsa_vm_buf_free(&all);
}

/* Several frames in one feed come out one per call. */
static void test_reader_many_in_one_feed(void **state)
{
    (void)state;
    struct capsa_vm_buf all = {0};
    struct capsa_err err = {0};
    struct capsa_vm_msg a = sample(CAPSA_VM_STDOUT), b = sample(CAPSA_VM_EXIT);
    assert_int_equal(capsa_vm_encode(&a, &all, &err), 0);
    assert_int_equal(capsa_vm_encode(&b, &all, &err), 0);
    struct capsa_vm_reader r = {0};
    assert_int_equal(capsa_vm_reader_feed(&r, all.data, all.len, &err), 0);
    struct capsa_vm_msg out;
    assert_int_equal(capsa_vm_reader_next(&r, &out, NULL, &err), 1);
    assert_msg_equal(&a, &out);
    assert_int_equal(capsa_vm_reader_next(&r, &out, NULL, &err), 1);
    assert_msg_equal(&b, &out);
    assert_int_equal(capsa_vm_reader_next(&r, &out, NULL, &err), 0);
    capsa_vm_reader_free(&r);
    capsa_vm_buf_free(&all);
}

static void test_truncated(void **state)
{
    (void)state;
    for (unsigned t = 1; t <= CAPSA_VM_TYPE_MAX; t++) {
        struct capsa_vm_msg in = sample((uint8_t)t);
        struct capsa_vm_buf buf = {0};
        struct capsa_err err = {0};
        assert_int_equal(capsa_vm_encode(&in, &buf, &err), 0);
        /* Cut short, with the header's length left as it was: the whole
         * frame is not there. */
        struct capsa_vm_msg out;
        for (size_t n = 0; n < buf.len; n++)
            assert_int_equal(capsa_vm_decode(buf.data, n, &out, &err), -EPROTO);
        /* Cut short with the length patched to match: a field is missing. */
        if (buf.len > CAPSA_VM_HDR_LEN) {
            uint8_t *cut = malloc(buf.len);
            assert_non_null(cut);
            for (size_t n = CAPSA_VM_HDR_LEN; n < buf.len; n++) {
                memcpy(cut, buf.data, n);
                uint32_t len = (uint32_t)(n - 4);
                cut[0] = (uint8_t)len;
                cut[1] = (uint8_t)(len >> 8);
                cut[2] = (uint8_t)(len >> 16);
                cut[3] = (uint8_t)(len >> 24);
                err.msg[0] = '\0';
                assert_int_equal(capsa_vm_decode(cut, n, &out, &err), -EPROTO);
                assert_non_null(strstr(err.msg, capsa_vm_type_name(t)));
            }
            free(cut);
        }
        capsa_vm_buf_free(&buf);
    }
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    struct capsa_vm_msg in = sample(CAPSA_VM_START);
    struct capsa_vm_buf buf = {0};
    struct capsa_err err = {0};
    assert_int_equal(capsa_vm_encode(&in, &buf, &err), 0);
    uint8_t frame[64];
    assert_true(buf.len + 1 <= sizeof frame);
    memcpy(frame, buf.data, buf.len);
    frame[buf.len] = 'x';
    frame[0]++;
    struct capsa_vm_msg out;
    assert_int_equal(capsa_vm_decode(frame, buf.len + 1, &out, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "after the last field"));
    capsa_vm_buf_free(&buf);
}

/* A string field must be exactly one NUL-terminated string. */
static void test_bad_strings(void **state)
{
    (void)state;
    struct capsa_err err = {0};
    struct capsa_vm_msg out;
    /* START, id 1, cid: length 3 "c1" without NUL / with an inner NUL / empty. */
    static const uint8_t no_nul[] = {12, 0,   0,   0,  CAPSA_VM_START, 1, 0, 0, 0, 3, 0, 0,
                                     0,  'c', '1', 'x'};
    static const uint8_t inner[] = {12, 0, 0, 0, CAPSA_VM_START, 1, 0, 0, 0, 3, 0, 0, 0, 'c', 0, 0};
    static const uint8_t empty[] = {9, 0, 0, 0, CAPSA_VM_START, 1, 0, 0, 0, 0, 0, 0, 0};
    /* The string's length runs past the frame. */
    static const uint8_t past[] = {12, 0,    0,    0,    CAPSA_VM_START, 1,   0,   0,
                                   0,  0xff, 0xff, 0xff, 0xff,           'c', '1', 0};
    assert_int_equal(capsa_vm_decode(no_nul, sizeof no_nul, &out, &err), -EPROTO);
    assert_int_equal(capsa_vm_decode(inner, sizeof inner, &out, &err), -EPROTO);
    assert_int_equal(capsa_vm_decode(empty, sizeof empty, &out, &err), -EPROTO);
    assert_int_equal(capsa_vm_decode(past, sizeof past, &out, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "container id"));
    static const uint8_t good[] = {12, 0,   0,   0, CAPSA_VM_START, 1, 0, 0, 0, 3, 0, 0,
                                   0,  'c', '1', 0};
    assert_int_equal(capsa_vm_decode(good, sizeof good, &out, &err), 0);
    assert_string_equal(out.cid, "c1");
}

static void test_unknown_type(void **state)
{
    (void)state;
    struct capsa_err err = {0};
    struct capsa_vm_msg out;
    static const uint8_t zero[] = {5, 0, 0, 0, 0, 1, 0, 0, 0};
    static const uint8_t high[] = {5, 0, 0, 0, CAPSA_VM_TYPE_MAX + 1, 1, 0, 0, 0};
    static const uint8_t ff[] = {5, 0, 0, 0, 0xff, 1, 0, 0, 0};
    assert_int_equal(capsa_vm_decode(zero, sizeof zero, &out, &err), -EPROTO);
    assert_int_equal(capsa_vm_decode(high, sizeof high, &out, &err), -EPROTO);
    assert_int_equal(capsa_vm_decode(ff, sizeof ff, &out, &err), -EPROTO);
    assert_non_null(strstr(err.msg, "unknown message type 255"));
    struct capsa_vm_msg m = {.type = 0};
    struct capsa_vm_buf buf = {0};
    assert_int_equal(capsa_vm_encode(&m, &buf, &err), -EINVAL);
    assert_int_equal(buf.len, 0);
    assert_string_equal(capsa_vm_type_name(0), "unknown");
    assert_string_equal(capsa_vm_type_name(200), "unknown");
}

/* An oversized length is refused by the reader from its 4 bytes alone,
 * before any payload arrives (so nothing is allocated for it), and the
 * stream stays failed. */
static void test_oversized(void **state)
{
    (void)state;
    struct capsa_err err = {0};
    struct capsa_vm_reader r = {0};
    uint32_t big = CAPSA_VM_FRAME_MAX + 1;
    uint8_t hdr[9] = {(uint8_t)big,
                      (uint8_t)(big >> 8),
                      (uint8_t)(big >> 16),
                      (uint8_t)(big >> 24),
                      CAPSA_VM_STDIN,
                      9,
                      0,
                      0,
                      0};
    assert_int_equal(capsa_vm_reader_feed(&r, hdr, 4, &err), 0);
    struct capsa_vm_msg out;
    assert_int_equal(capsa_vm_reader_next(&r, &out, NULL, &err), -EMSGSIZE);
    assert_true(r.in.cap <= 4096);
    assert_int_equal(capsa_vm_reader_next(&r, &out, NULL, &err), -EPROTO);
    assert_int_equal(capsa_vm_reader_feed(&r, hdr, sizeof hdr, &err), -EPROTO);
    capsa_vm_reader_free(&r);
    /* With the whole header in, the id is reported for the ERROR reply. */
    assert_int_equal(capsa_vm_reader_feed(&r, hdr, sizeof hdr, &err), 0);
    uint32_t id = 0;
    assert_int_equal(capsa_vm_reader_next(&r, &out, &id, &err), -EMSGSIZE);
    assert_int_equal(id, 9);
    capsa_vm_reader_free(&r);
    /* decode alike; and a length below the header's 5 bytes. */
    assert_int_equal(capsa_vm_decode(hdr, sizeof hdr, &out, &err), -EMSGSIZE);
    uint8_t small[9] = {4, 0, 0, 0, CAPSA_VM_STDIN, 0, 0, 0, 0};
    assert_int_equal(capsa_vm_reader_feed(&r, small, sizeof small, &err), 0);
    assert_int_equal(capsa_vm_reader_next(&r, &out, NULL, &err), -EPROTO);
    capsa_vm_reader_free(&r);
    /* The largest data block that fits is encoded; one byte more is not. */
    uint8_t *data = calloc(1, CAPSA_VM_DATA_MAX + 1);
    assert_non_null(data);
    struct capsa_vm_msg m = {
        .type = CAPSA_VM_STDOUT, .id = 1, .data = data, .len = CAPSA_VM_DATA_MAX};
    struct capsa_vm_buf buf = {0};
    assert_int_equal(capsa_vm_encode(&m, &buf, &err), 0);
    assert_int_equal(buf.len, 4 + CAPSA_VM_FRAME_MAX);
    assert_int_equal(capsa_vm_decode(buf.data, buf.len, &out, &err), 0);
    assert_int_equal(out.len, CAPSA_VM_DATA_MAX);
    size_t before = buf.len;
    m.len = CAPSA_VM_DATA_MAX + 1;
    assert_int_equal(capsa_vm_encode(&m, &buf, &err), -EMSGSIZE);
    assert_int_equal(buf.len, before);
    capsa_vm_buf_free(&buf);
    free(data);
}

/* A malformed payload in a well-formed frame is an error, but the frame is
 * consumed and the next one still decodes. */
static void test_reader_bad_payload_keeps_step(void **state)
{
    (void)state;
    struct capsa_err err = {0};
    struct capsa_vm_reader r = {0};
    static const uint8_t bad[] = {9, 0, 0, 0, CAPSA_VM_START, 5, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(capsa_vm_reader_feed(&r, bad, sizeof bad, &err), 0);
    struct capsa_vm_buf buf = {0};
    struct capsa_vm_msg in = sample(CAPSA_VM_PAUSE);
    assert_int_equal(capsa_vm_encode(&in, &buf, &err), 0);
    assert_int_equal(capsa_vm_reader_feed(&r, buf.data, buf.len, &err), 0);
    struct capsa_vm_msg out;
    uint32_t id = 0;
    assert_int_equal(capsa_vm_reader_next(&r, &out, &id, &err), -EPROTO);
    assert_int_equal(id, 5);
    assert_int_equal(capsa_vm_reader_next(&r, &out, &id, &err), 1);
    assert_msg_equal(&in, &out);
    capsa_vm_reader_free(&r);
    capsa_vm_buf_free(&buf);
}

static void test_encode_missing_string(void **state)
{
    (void)state;
    struct capsa_err err = {0};
    struct capsa_vm_buf buf = {0};
    struct capsa_vm_msg m = {.type = CAPSA_VM_CREATE, .cid = "c1"}; /* no bundle */
    assert_int_equal(capsa_vm_encode(&m, &buf, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "bundle"));
    assert_int_equal(buf.len, 0);
    capsa_vm_buf_free(&buf);
}

/* The write queue: consume moves past what was written. */
static void test_buf_consume(void **state)
{
    (void)state;
    struct capsa_err err = {0};
    struct capsa_vm_buf buf = {0};
    struct capsa_vm_msg m = sample(CAPSA_VM_SHUTDOWN);
    assert_int_equal(capsa_vm_encode(&m, &buf, &err), 0);
    assert_int_equal(capsa_vm_buf_pending(&buf), CAPSA_VM_HDR_LEN);
    capsa_vm_buf_consume(&buf, 4);
    assert_int_equal(capsa_vm_buf_pending(&buf), CAPSA_VM_HDR_LEN - 4);
    capsa_vm_buf_consume(&buf, 100);
    assert_int_equal(capsa_vm_buf_pending(&buf), 0);
    capsa_vm_buf_free(&buf);
}

/* The guest's text is printed on the host: escape sequences and other
 * control bytes become '?', newlines and tabs stay. */
static void test_clean_text(void **state)
{
    (void)state;
    char s[] = "ok\x1b[2Jx\n\ty\x7f\x01z";
    capsa_vm_clean_text(s, sizeof s);
    assert_string_equal(s, "ok?[2Jx\n\ty??z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_type),
        cmocka_unit_test(test_reader_byte_by_byte),
        cmocka_unit_test(test_reader_many_in_one_feed),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_bad_strings),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_oversized),
        cmocka_unit_test(test_reader_bad_payload_keeps_step),
        cmocka_unit_test(test_encode_missing_string),
        cmocka_unit_test(test_buf_consume),
        cmocka_unit_test(test_clean_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
