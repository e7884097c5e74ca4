/* proto.c - encoding and decoding of the vm agent protocol (proto.h).
 *
 * Each type's payload is described once, in the table below, as a list of
 * fields (u32, string or byte block) and the struct capsa_vm_msg member each
 * one maps to; the encoder and the decoder both walk that list, so the two
 * cannot disagree. The decoder reads through a cursor that checks every
 * length against what remains of the frame before it looks at the bytes. */
#include "level/vm/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"

enum field_kind {
    F_U32,
    F_STR,
    F_BYTES
};

struct field {
    enum field_kind kind;
    const char *name;
    size_t off; /* of the member in struct capsa_vm_msg (F_BYTES: data, with len) */
};

#define U32(n, m)                                                                                  \
    {                                                                                              \
        F_U32, n, offsetof(struct capsa_vm_msg, m)                                                 \
    }
#define STR(n, m)                                                                                  \
    {                                                                                              \
        F_STR, n, offsetof(struct capsa_vm_msg, m)                                                 \
    }
#define BYTES(n)                                                                                   \
    {                                                                                              \
        F_BYTES, n, offsetof(struct capsa_vm_msg, data)                                            \
    }
#define MAX_FIELDS 4

struct schema {
    const char *name;
    size_t n;
    struct field f[MAX_FIELDS];
};

static const struct schema schemas[CAPSA_VM_TYPE_MAX + 1] = {
    [CAPSA_VM_HELLO] = {"HELLO",
                        3,
                        {U32("magic", magic), U32("version", version), STR("info", info)}},
    [CAPSA_VM_OK] = {"OK", 2, {U32("pid", pid), BYTES("data")}},
    [CAPSA_VM_ERROR] = {"ERROR", 2, {U32("errno", errnum), STR("message", message)}},
    [CAPSA_VM_CREATE] = {"CREATE",
                         4,
                         {STR("container id", cid), U32("process id", proc), BYTES("config"),
                          STR("bundle", bundle)}},
    [CAPSA_VM_START] = {"START", 1, {STR("container id", cid)}},
    [CAPSA_VM_EXEC] = {"EXEC",
                       4,
                       {STR("container id", cid), U32("process id", proc), U32("flags", flags),
                        BYTES("process")}},
    [CAPSA_VM_STDIN] = {"STDIN", 1, {BYTES("data")}},
    [CAPSA_VM_STDOUT] = {"STDOUT", 1, {BYTES("data")}},
    [CAPSA_VM_STDERR] = {"STDERR", 1, {BYTES("data")}},
    [CAPSA_VM_SIGNAL] = {"SIGNAL",
                         3,
                         {STR("container id", cid), U32("process id", proc), U32("signal", signo)}},
    [CAPSA_VM_EXIT] = {"EXIT", 2, {U32("how", how), U32("code", code)}},
    [CAPSA_VM_RESIZE] = {"RESIZE", 2, {U32("rows", rows), U32("cols", cols)}},
    [CAPSA_VM_STATS] = {"STATS", 1, {STR("container id", cid)}},
    [CAPSA_VM_UPDATE] = {"UPDATE", 2, {STR("container id", cid), BYTES("resources")}},
    [CAPSA_VM_PAUSE] = {"PAUSE", 1, {STR("container id", cid)}},
    [CAPSA_VM_RESUME] = {"RESUME", 1, {STR("container id", cid)}},
    [CAPSA_VM_DELETE] = {"DELETE", 2, {STR("container id", cid), U32("flags", flags)}},
    [CAPSA_VM_SHUTDOWN] = {"SHUTDOWN", 0, {{F_U32, NULL, 0}}},
    [CAPSA_VM_NET] = {"NET", 2, {STR("container id", cid), BYTES("network")}},
    [CAPSA_VM_OOMS] = {"OOMS", 1, {STR("container id", cid)}},
    [CAPSA_VM_PS] = {"PS", 1, {STR("container id", cid)}},
};

static const struct schema *schema_of(unsigned type)
{
    if (type == 0 || type > CAPSA_VM_TYPE_MAX || schemas[type].name == NULL)
        return NULL;
    return &schemas[type];
}

void capsa_vm_clean_text(char *s, size_t len)
{
    for (size_t i = 0; i < len && s[i]; i++)
        if (((unsigned char)s[i] < ' ' && s[i] != '\n' && s[i] != '\t') || s[i] == 0x7f)
            s[i] = '?';
}

const char *capsa_vm_type_name(unsigned type)
{
    const struct schema *s = schema_of(type);
    return s ? s->name : "unknown";
}

/* --- buffers --- */

void capsa_vm_buf_free(struct capsa_vm_buf *b)
{
    free(b->data);
    *b = (struct capsa_vm_buf){0};
}

void capsa_vm_buf_consume(struct capsa_vm_buf *b, size_t n)
{
    size_t pending = capsa_vm_buf_pending(b);
    b->off += n < pending ? n : pending;
    if (b->off == b->len)
        b->off = b->len = 0;
}

/* Room for n more bytes at data[len]; moves the pending bytes to the front
 * first when that is enough. */
static int buf_reserve(struct capsa_vm_buf *b, size_t n, struct capsa_err *err)
{
    if (b->off > 0 && b->cap - b->len < n) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->cap - b->len >= n)
        return 0;
    if (n > SIZE_MAX / 2 - b->len)
        return capsa_err_setx(err, ENOMEM, "vm protocol: buffer too large");
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (d == NULL)
        return capsa_err_set(err, ENOMEM, "vm protocol: buffer");
    b->data = d;
    b->cap = cap;
    return 0;
}

int capsa_vm_buf_append(struct capsa_vm_buf *b, const void *data, size_t n, struct capsa_err *err)
{
    if (n == 0)
        return 0;
    int r = buf_reserve(b, n, err);
    if (r < 0)
        return r;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* --- encoding --- */

static const char *msg_str(const struct capsa_vm_msg *m, size_t off)
{
    const char *s;
    memcpy(&s, (const char *)m + off, sizeof s);
    return s;
}

static uint32_t msg_u32(const struct capsa_vm_msg *m, size_t off)
{
    uint32_t v;
    memcpy(&v, (const char *)m + off, sizeof v);
    return v;
}

int capsa_vm_encode(const struct capsa_vm_msg *m, struct capsa_vm_buf *out, struct capsa_err *err)
{
    const struct schema *s = schema_of(m->type);
    if (s == NULL)
        return capsa_err_setx(err, EINVAL, "vm protocol: unknown message type %u", m->type);
    /* Sizes first: nothing is appended unless all of it fits. */
    size_t total = 5;
    for (size_t i = 0; i < s->n; i++) {
        const struct field *f = &s->f[i];
        size_t add = 4;
        if (f->kind == F_STR) {
            const char *str = msg_str(m, f->off);
            if (str == NULL)
                return capsa_err_setx(err, EINVAL, "vm protocol: %s: %s missing", s->name, f->name);
            add += strnlen(str, CAPSA_VM_FRAME_MAX) + 1;
        } else if (f->kind == F_BYTES) {
            if (m->len > 0 && m->data == NULL)
                return capsa_err_setx(err, EINVAL, "vm protocol: %s: %s missing", s->name, f->name);
            add += m->len;
        }
        if (add > CAPSA_VM_FRAME_MAX || total > CAPSA_VM_FRAME_MAX - add)
            return capsa_err_setx(err, EMSGSIZE,
                                  "vm protocol: %s: %s makes the frame larger than %u bytes",
                                  s->name, f->name, CAPSA_VM_FRAME_MAX);
        total += add;
    }
    int r = buf_reserve(out, 4 + total, err);
    if (r < 0)
        return r;
    uint8_t *p = out->data + out->len;
    put_u32(p, (uint32_t)total);
    p[4] = m->type;
    put_u32(p + 5, m->id);
    p += CAPSA_VM_HDR_LEN;
    for (size_t i = 0; i < s->n; i++) {
        const struct field *f = &s->f[i];
        if (f->kind == F_U32) {
            put_u32(p, msg_u32(m, f->off));
            p += 4;
        } else if (f->kind == F_STR) {
            const char *str = msg_str(m, f->off);
            size_t n = strlen(str) + 1;
            put_u32(p, (uint32_t)n);
            memcpy(p + 4, str, n);
            p += 4 + n;
        } else {
            put_u32(p, m->len);
            if (m->len > 0)
                memcpy(p + 4, m->data, m->len);
            p += 4 + m->len;
        }
    }
    out->len += 4 + total;
    return 0;
}

/* --- decoding --- */

struct cursor {
    const uint8_t *p;
    size_t left;
};

static int take_u32(struct cursor *c, uint32_t *v)
{
    if (c->left < 4)
        return -1;
    *v = get_u32(c->p);
    c->p += 4;
    c->left -= 4;
    return 0;
}

/* A length and that many bytes. */
static int take_block(struct cursor *c, const uint8_t **data, uint32_t *len)
{
    uint32_t n;
    if (take_u32(c, &n) < 0 || n > c->left)
        return -1;
    *data = c->p;
    *len = n;
    c->p += n;
    c->left -= n;
    return 0;
}

static void msg_set_u32(struct capsa_vm_msg *m, size_t off, uint32_t v)
{
    memcpy((char *)m + off, &v, sizeof v);
}

static void msg_set_str(struct capsa_vm_msg *m, size_t off, const char *s)
{
    memcpy((char *)m + off, &s, sizeof s);
}

int capsa_vm_decode(const uint8_t *frame, size_t n, struct capsa_vm_msg *m, struct capsa_err *err)
{
    *m = (struct capsa_vm_msg){0};
    if (n < CAPSA_VM_HDR_LEN)
        return capsa_err_setx(err, EPROTO,
                              "vm protocol: frame of %zu bytes is shorter than its header", n);
    uint32_t len = get_u32(frame);
    if (len > CAPSA_VM_FRAME_MAX)
        return capsa_err_setx(err, EMSGSIZE, "vm protocol: frame length %u exceeds %u", len,
                              CAPSA_VM_FRAME_MAX);
    if (len < 5 || (size_t)len != n - 4)
        return capsa_err_setx(err, EPROTO, "vm protocol: frame length %u, but %zu bytes follow",
                              len, n - 4);
    m->type = frame[4];
    m->id = get_u32(frame + 5);
    const struct schema *s = schema_of(m->type);
    if (s == NULL)
        return capsa_err_setx(err, EPROTO, "vm protocol: unknown message type %u", m->type);
    struct cursor c = {frame + CAPSA_VM_HDR_LEN, n - CAPSA_VM_HDR_LEN};
    for (size_t i = 0; i < s->n; i++) {
        const struct field *f = &s->f[i];
        if (f->kind == F_U32) {
            uint32_t v;
            if (take_u32(&c, &v) < 0)
                return capsa_err_setx(err, EPROTO, "vm protocol: %s: %s cut short", s->name,
                                      f->name);
            msg_set_u32(m, f->off, v);
            continue;
        }
        const uint8_t *d = NULL;
        uint32_t dlen = 0;
        if (take_block(&c, &d, &dlen) < 0)
            return capsa_err_setx(err, EPROTO, "vm protocol: %s: %s cut short", s->name, f->name);
        if (f->kind == F_BYTES) {
            m->data = d;
            m->len = dlen;
            continue;
        }
        /* A string: its NUL is its last byte, and its only one. */
        if (dlen == 0 || d[dlen - 1] != '\0' || memchr(d, '\0', dlen - 1) != NULL)
            return capsa_err_setx(err, EPROTO,
                                  "vm protocol: %s: %s is not one NUL-terminated string", s->name,
                                  f->name);
        msg_set_str(m, f->off, (const char *)d);
    }
    if (c.left != 0)
        return capsa_err_setx(err, EPROTO, "vm protocol: %s: %zu bytes after the last field",
                              s->name, c.left);
    return 0;
}

/* --- the stream reader --- */

void capsa_vm_reader_free(struct capsa_vm_reader *r)
{
    capsa_vm_buf_free(&r->in);
    r->failed = false;
}

int capsa_vm_reader_feed(struct capsa_vm_reader *r, const void *data, size_t n,
                         struct capsa_err *err)
{
    if (r->failed)
        return capsa_err_setx(err, EPROTO, "vm protocol: stream out of step after an error");
    return capsa_vm_buf_append(&r->in, data, n, err);
}

int capsa_vm_reader_next(struct capsa_vm_reader *r, struct capsa_vm_msg *m, uint32_t *id_out,
                         struct capsa_err *err)
{
    if (id_out)
        *id_out = 0;
    if (r->failed)
        return capsa_err_setx(err, EPROTO, "vm protocol: stream out of step after an error");
    size_t have = capsa_vm_buf_pending(&r->in);
    const uint8_t *p = r->in.data + r->in.off;
    if (have < 4)
        return 0;
    uint32_t len = get_u32(p);
    if (len > CAPSA_VM_FRAME_MAX || len < 5) {
        r->failed = true;
        if (id_out && have >= CAPSA_VM_HDR_LEN)
            *id_out = get_u32(p + 5);
        if (len < 5)
            return capsa_err_setx(err, EPROTO,
                                  "vm protocol: frame length %u is shorter than a header", len);
        return capsa_err_setx(err, EMSGSIZE, "vm protocol: frame length %u exceeds %u", len,
                              CAPSA_VM_FRAME_MAX);
    }
    if (have - 4 < len)
        return 0;
    if (id_out)
        *id_out = get_u32(p + 5);
    int e = capsa_vm_decode(p, 4 + (size_t)len, m, err);
    /* The frame is consumed either way: a malformed payload inside a
     * well-formed frame leaves the stream in step. */
    r->in.off += 4 + (size_t)len;
    if (r->in.off == r->in.len)
        r->in.off = r->in.len = 0;
    return e < 0 ? e : 1;
}
