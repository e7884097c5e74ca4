/* json.h - a small read-only JSON parser for the documents the runtime reads
 * on every start (config.json, state.json).
 *
 * Why not jansson here: measured with callgrind, jansson spent ~560 k
 * instructions to load and free a 3 KB config.json (byte-wise stream reads,
 * a hash table per object, one allocation per value), a third of everything
 * `capsa run` executes in user space. This parser makes one pass over the
 * bytes and keeps the whole tree in an arena that is freed at once. jansson
 * still builds and prints the JSON the runtime writes.
 *
 * What it accepts is RFC 8259 JSON, as strict as jansson with
 * JSON_REJECT_DUPLICATES: UTF-8 validated (no overlong forms, no encoded
 * surrogates), escapes checked (paired \u surrogates only), control
 * characters refused in strings, integers that do not fit int64 refused,
 * duplicate object keys refused, nesting limited (CAPSA_JSON_MAX_DEPTH) and
 * the input must be one value followed only by whitespace. \u0000 is kept
 * in string values (they carry their length: callers decide whether to
 * refuse it) and refused in object keys. */
#ifndef CAPSA_UTIL_JSON_H
#define CAPSA_UTIL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPSA_JSON_MAX_DEPTH 512

enum capsa_jtype {
    CAPSA_J_NULL,
    CAPSA_J_FALSE,
    CAPSA_J_TRUE,
    CAPSA_J_INT,
    CAPSA_J_UINT, /* above INT64_MAX, only with CAPSA_JSON_UINT64 */
    CAPSA_J_REAL,
    CAPSA_J_STRING,
    CAPSA_J_ARRAY,
    CAPSA_J_OBJECT,
};

struct capsa_jmember;

/* One value. Strings are NUL-terminated (n is their length in bytes, which
 * differs from strlen when they contain \u0000); arrays have n items,
 * objects n members in document order. */
struct capsa_jv {
    enum capsa_jtype type;
    uint32_t n;
    union {
        int64_t i;
        uint64_t u;
        double d;
        const char *s;
        const struct capsa_jv *items;
        const struct capsa_jmember *members;
    } u;
};

struct capsa_jmember {
    const char *key; /* NUL-terminated, no NUL inside */
    uint32_t keylen;
    struct capsa_jv v;
};

struct capsa_jblock;

struct capsa_jdoc {
    struct capsa_jv root;
    struct capsa_jblock *blocks; /* arena: everything the tree points into */
};

/* Where and why parsing failed; line and column are 1-based (column counts
 * bytes). */
struct capsa_jerror {
    int line, column;
    char text[256];
};

/* Flags. CAPSA_JSON_UINT64: integers up to UINT64_MAX are values (CAPSA_J_UINT
 * above INT64_MAX), as OCI's uint64 fields need (RLIM_INFINITY is
 * 18446744073709551615 in real configs); without it they are refused, as
 * jansson does. */
#define CAPSA_JSON_UINT64 1u

/* Parse buf[0..len). 0 and a tree in *doc, or -EINVAL (syntax: *e says
 * where) / -ENOMEM. On failure *doc holds nothing to free. */
int capsa_json_parse(const char *buf, size_t len, unsigned flags, struct capsa_jdoc *doc,
                     struct capsa_jerror *e);
void capsa_json_free(struct capsa_jdoc *doc);

/* The member named key (NUL-free), or NULL; obj may be NULL or a non-object. */
const struct capsa_jv *capsa_jv_get(const struct capsa_jv *obj, const char *key);

static inline bool capsa_jv_is(const struct capsa_jv *v, enum capsa_jtype t)
{
    return v != NULL && v->type == t;
}

static inline bool capsa_jv_is_bool(const struct capsa_jv *v)
{
    return v != NULL && (v->type == CAPSA_J_TRUE || v->type == CAPSA_J_FALSE);
}

#endif
