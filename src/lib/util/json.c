/* json.c - the read-only JSON parser of json.h: one pass, no recursion (an
 * explicit stack bounded by CAPSA_JSON_MAX_DEPTH, so hostile nesting cannot
 * exhaust the C stack), the tree in an arena of a few large blocks. */
#include "util/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct capsa_jblock {
    struct capsa_jblock *next;
    size_t used, cap;
    _Alignas(max_align_t) unsigned char data[];
};

#define BLOCK_SIZE 16384

static void *arena_alloc(struct capsa_jdoc *d, size_t size)
{
    size = (size + 15) & ~(size_t)15;
    struct capsa_jblock *b = d->blocks;
    if (b == NULL || b->cap - b->used < size) {
        size_t cap = size > BLOCK_SIZE ? size : BLOCK_SIZE;
        if (cap > SIZE_MAX - sizeof *b)
            return NULL;
        b = malloc(sizeof *b + cap);
        if (b == NULL)
            return NULL;
        b->next = d->blocks;
        b->used = 0;
        b->cap = cap;
        d->blocks = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    return p;
}

void capsa_json_free(struct capsa_jdoc *doc)
{
    struct capsa_jblock *b = doc->blocks;
    while (b) {
        struct capsa_jblock *n = b->next;
        free(b);
        b = n;
    }
    doc->blocks = NULL;
    memset(&doc->root, 0, sizeof doc->root);
}

struct keypos {
    int line, column;
};

struct frame {
    bool object;
    size_t base; /* first scratch entry of this container */
};

struct parser {
    const char *p, *end, *line_start;
    int line;
    struct capsa_jdoc *doc;
    struct capsa_jerror *e;
    struct capsa_jmember *scratch; /* members (objects) or values (arrays) being collected */
    struct keypos *pos;            /* where each scratch entry's key starts (objects) */
    size_t n_scratch, cap_scratch;
    int key_line, key_column; /* position of the key object_key last read */
    struct frame stack[CAPSA_JSON_MAX_DEPTH];
    int depth;
    int oom;
    unsigned flags;
};

__attribute__((format(printf, 2, 3))) static int syntax(struct parser *ps, const char *fmt, ...)
{
    ps->e->line = ps->line;
    ps->e->column = (int)(ps->p - ps->line_start) + 1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->e->text, sizeof ps->e->text, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

static int nomem(struct parser *ps)
{
    ps->oom = 1;
    snprintf(ps->e->text, sizeof ps->e->text, "out of memory");
    return -ENOMEM;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end) {
        char c = *ps->p;
        if (c == '\n') {
            ps->line++;
            ps->line_start = ps->p + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            return;
        }
        ps->p++;
    }
}

/* Length of the valid UTF-8 sequence at s (lead byte >= 0x80), 0 if invalid:
 * overlong forms, UTF-16 surrogates and code points above U+10FFFF are
 * refused, as RFC 3629 requires. */
static size_t utf8_len(const unsigned char *s, const unsigned char *end)
{
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0; /* overlong */
        else if (c == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90; /* overlong */
        else if (c == 0xf4)
            hi = 0x8f; /* above U+10FFFF */
    } else {
        return 0;
    }
    if ((size_t)(end - s) < n)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    }
    return n;
}

static int hex4(const char *s, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ps->p at the opening quote. The decoded string is never longer than its
 * source, so it goes straight into an arena copy of that size. */
static int parse_string(struct parser *ps, const char **out, uint32_t *len_out)
{
    const char *s = ++ps->p;
    const char *q = s;
    while (q < ps->end && *q != '"') {
        if (*q == '\\') {
            if (ps->end - q < 2)
                break;
            q += 2;
        } else {
            q++;
        }
    }
    if (q >= ps->end || *q != '"')
        return syntax(ps, "premature end of input in a string");
    size_t raw = (size_t)(q - s);
    if (raw > UINT32_MAX)
        return syntax(ps, "string too long");
    char *o = arena_alloc(ps->doc, raw + 1);
    if (o == NULL)
        return nomem(ps);
    size_t n = 0;
    while (ps->p < q) {
        unsigned char c = (unsigned char)*ps->p;
        if (c == '\\') {
            char esc = ps->p[1];
            switch (esc) {
            case '"':
            case '\\':
            case '/':
                o[n++] = esc;
                break;
            case 'b':
                o[n++] = '\b';
                break;
            case 'f':
                o[n++] = '\f';
                break;
            case 'n':
                o[n++] = '\n';
                break;
            case 'r':
                o[n++] = '\r';
                break;
            case 't':
                o[n++] = '\t';
                break;
            case 'u': {
                unsigned cp;
                if (q - ps->p < 6 || hex4(ps->p + 2, &cp) < 0)
                    return syntax(ps, "invalid \\u escape");
                if (cp >= 0xdc00 && cp <= 0xdfff)
                    return syntax(ps, "invalid Unicode \\u%04X (a lone low surrogate)", cp);
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned lo;
                    if (q - ps->p < 12 || ps->p[6] != '\\' || ps->p[7] != 'u' ||
                        hex4(ps->p + 8, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
                        return syntax(ps, "invalid Unicode \\u%04X (an unpaired high surrogate)",
                                      cp);
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    ps->p += 6;
                }
                n += put_utf8(o + n, cp);
                ps->p += 4;
                break;
            }
            default:
                return syntax(ps, "invalid escape '\\%c'", esc >= 0x20 && esc < 0x7f ? esc : '?');
            }
            ps->p += 2;
        } else if (c < 0x20) {
            return syntax(ps, "control character 0x%x in a string", c);
        } else if (c < 0x80) {
            o[n++] = (char)c;
            ps->p++;
        } else {
            size_t l = utf8_len((const unsigned char *)ps->p, (const unsigned char *)q);
            if (l == 0)
                return syntax(ps, "invalid UTF-8 in a string");
            memcpy(o + n, ps->p, l);
            n += l;
            ps->p += l;
        }
    }
    o[n] = '\0';
    ps->p = q + 1;
    *out = o;
    *len_out = (uint32_t)n;
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int parse_number(struct parser *ps, struct capsa_jv *v)
{
    const char *s = ps->p, *p = s;
    bool neg = false, real = false;
    if (p < ps->end && *p == '-') {
        neg = true;
        p++;
    }
    if (p >= ps->end || !is_digit(*p))
        return syntax(ps, "invalid number");
    if (*p == '0') {
        p++;
        if (p < ps->end && is_digit(*p))
            return syntax(ps, "invalid number (leading zero)");
    } else {
        while (p < ps->end && is_digit(*p))
            p++;
    }
    if (p < ps->end && *p == '.') {
        real = true;
        p++;
        if (p >= ps->end || !is_digit(*p))
            return syntax(ps, "invalid number (no digit after '.')");
        while (p < ps->end && is_digit(*p))
            p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        real = true;
        p++;
        if (p < ps->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= ps->end || !is_digit(*p))
            return syntax(ps, "invalid number (no digit in the exponent)");
        while (p < ps->end && is_digit(*p))
            p++;
    }
    if (!real) {
        /* Accumulate negatively: INT64_MIN has no positive counterpart. */
        int64_t acc = 0;
        bool ovf = false;
        for (const char *d = s + (neg ? 1 : 0); d < p; d++) {
            int digit = *d - '0';
            if (acc < (INT64_MIN + digit) / 10) {
                ovf = true;
                break;
            }
            acc = acc * 10 - digit;
        }
        if (!neg && !ovf && acc == INT64_MIN)
            ovf = true;
        if (ovf && !neg && (ps->flags & CAPSA_JSON_UINT64)) {
            uint64_t u = 0;
            for (const char *d = s; d < p; d++) {
                uint64_t digit = (uint64_t)(*d - '0');
                if (u > (UINT64_MAX - digit) / 10)
                    return syntax(ps, "too big integer");
                u = u * 10 + digit;
            }
            v->type = CAPSA_J_UINT;
            v->u.u = u;
            ps->p = p;
            return 0;
        }
        if (ovf)
            return syntax(ps, "too big %sinteger", neg ? "negative " : "");
        v->type = CAPSA_J_INT;
        v->u.i = neg ? acc : -acc;
    } else {
        /* strtod needs a terminated copy; long digit strings are valid JSON. */
        char small[128];
        size_t len = (size_t)(p - s);
        char *buf = len < sizeof small ? small : malloc(len + 1);
        if (buf == NULL)
            return nomem(ps);
        memcpy(buf, s, len);
        buf[len] = '\0';
        double d = strtod(buf, NULL);
        if (buf != small)
            free(buf);
        if (isinf(d))
            return syntax(ps, "real number overflow");
        v->type = CAPSA_J_REAL;
        v->u.d = d;
    }
    ps->p = p;
    return 0;
}

static int literal(struct parser *ps, const char *word, enum capsa_jtype t, struct capsa_jv *v)
{
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return syntax(ps, "invalid token");
    ps->p += n;
    v->type = t;
    return 0;
}

static int scratch_push(struct parser *ps, const char *key, uint32_t keylen,
                        const struct capsa_jv *v)
{
    if (ps->n_scratch == ps->cap_scratch) {
        size_t ncap = ps->cap_scratch ? ps->cap_scratch * 2 : 64;
        struct capsa_jmember *n = realloc(ps->scratch, ncap * sizeof *n);
        if (n == NULL)
            return nomem(ps);
        ps->scratch = n;
        struct keypos *np = realloc(ps->pos, ncap * sizeof *np);
        if (np == NULL)
            return nomem(ps);
        ps->pos = np;
        ps->cap_scratch = ncap;
    }
    ps->pos[ps->n_scratch] = (struct keypos){.line = ps->key_line, .column = ps->key_column};
    ps->scratch[ps->n_scratch++] = (struct capsa_jmember){.key = key, .keylen = keylen, .v = *v};
    return 0;
}

static int cmp_member(const void *a, const void *b)
{
    const struct capsa_jmember *x = *(const struct capsa_jmember *const *)a;
    const struct capsa_jmember *y = *(const struct capsa_jmember *const *)b;
    if (x->keylen != y->keylen)
        return x->keylen < y->keylen ? -1 : 1;
    int c = memcmp(x->key, y->key, x->keylen);
    if (c != 0)
        return c;
    /* Equal keys in document order (all point into one scratch array), so
     * that the second occurrence follows the first. */
    return x < y ? -1 : x > y;
}

static bool same_key(const struct capsa_jmember *x, const struct capsa_jmember *y)
{
    return x->keylen == y->keylen && memcmp(x->key, y->key, x->keylen) == 0;
}

/* Append s[0..n) to buf at *len, truncating (with "...") when it is full. */
static void path_put(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
    if (*len >= size - 1)
        return;
    size_t room = size - 1 - *len;
    if (n > room) {
        n = room;
        if (room >= 3) {
            memcpy(buf + *len, s, room - 3);
            memcpy(buf + *len + room - 3, "...", 3);
            *len += room;
            buf[*len] = '\0';
            return;
        }
    }
    memcpy(buf + *len, s, n);
    *len += n;
    buf[*len] = '\0';
}

/* The JSON path (process.args[2].x) of member key of the object that is
 * frame `depth - 1`: the keys and indices of the enclosing containers sit in
 * their parents' scratch entries (the placeholders of parse()). */
static void member_path(const struct parser *ps, int depth, const struct capsa_jmember *key,
                        char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 1; i < depth; i++) {
        size_t slot = ps->stack[i].base - 1;
        const struct frame *parent = &ps->stack[i - 1];
        if (parent->object) {
            if (len > 0)
                path_put(buf, size, &len, ".", 1);
            path_put(buf, size, &len, ps->scratch[slot].key, ps->scratch[slot].keylen);
        } else {
            char ix[32];
            int n = snprintf(ix, sizeof ix, "[%zu]", slot - parent->base);
            path_put(buf, size, &len, ix, (size_t)n);
        }
    }
    if (len > 0)
        path_put(buf, size, &len, ".", 1);
    path_put(buf, size, &len, key->key, key->keylen);
}

/* A duplicate key: reported where its second occurrence starts, with its
 * path, which is what a person editing config.json needs to find it. */
static int duplicate(struct parser *ps, int depth, const struct capsa_jmember *m,
                     const struct keypos *at)
{
    char path[160];
    member_path(ps, depth, m, path, sizeof path);
    ps->e->line = at->line;
    ps->e->column = at->column;
    snprintf(ps->e->text, sizeof ps->e->text, "%s: duplicate key", path);
    return -EINVAL;
}

/* Objects up to this many members are checked as each key is read (a short
 * linear scan), so that the error comes at the duplicate itself, before the
 * rest of the document; larger ones once complete, sorted (no quadratic
 * blow-up on hostile input). */
#define DUP_SCAN_MAX 16

/* A key just read by object_key against the earlier members of the same
 * object (the top frame: all of them are in scratch by then). */
static int check_new_key(struct parser *ps, const char *key, uint32_t keylen)
{
    const struct frame *f = &ps->stack[ps->depth - 1];
    if (ps->n_scratch - f->base > DUP_SCAN_MAX)
        return 0; /* left to check_duplicates, at the end of the object */
    const struct capsa_jmember k = {.key = key, .keylen = keylen};
    for (size_t j = f->base; j < ps->n_scratch; j++)
        if (same_key(&ps->scratch[j], &k)) {
            const struct keypos at = {.line = ps->key_line, .column = ps->key_column};
            return duplicate(ps, ps->depth, &k, &at);
        }
    return 0;
}

/* The whole object of the top frame, when it is too large for check_new_key. */
static int check_duplicates(struct parser *ps, const struct capsa_jmember *m, size_t n)
{
    if (n <= DUP_SCAN_MAX)
        return 0;
    /* ix is an array of pointers, so sizeof *ix (a pointer) is meant. */
    // NOLINTNEXTLINE(bugprone-sizeof-expression)
    const struct capsa_jmember **ix = malloc(n * sizeof *ix);
    if (ix == NULL)
        return nomem(ps);
    for (size_t i = 0; i < n; i++)
        ix[i] = &m[i];
    qsort(ix, n, sizeof *ix, cmp_member); // NOLINT(bugprone-sizeof-expression): as above
    /* The earliest second occurrence in the document, as a reader going
     * top to bottom meets it. */
    const struct capsa_jmember *second = NULL;
    for (size_t i = 0; i + 1 < n;) {
        /* A run of equal keys: its second member is that key's second
         * occurrence (cmp_member orders equal keys by position). */
        size_t j = i + 1;
        if (same_key(ix[i], ix[j]) && (second == NULL || ix[j] < second))
            second = ix[j];
        while (j < n && same_key(ix[i], ix[j]))
            j++;
        i = j;
    }
    free(ix);
    if (second == NULL)
        return 0;
    return duplicate(ps, ps->depth, second, &ps->pos[second - ps->scratch]);
}

/* Move the collected children of the top frame into the arena. */
static int close_container(struct parser *ps, struct capsa_jv *v)
{
    struct frame *f = &ps->stack[ps->depth - 1];
    size_t n = ps->n_scratch - f->base;
    if (n > UINT32_MAX)
        return syntax(ps, "too many elements");
    /* scratch is still NULL when no child was ever collected ("{}"). */
    const struct capsa_jmember *src = n > 0 ? ps->scratch + f->base : NULL;
    v->n = (uint32_t)n;
    if (f->object) {
        int r = check_duplicates(ps, src, n);
        if (r < 0)
            return r;
        struct capsa_jmember *m = NULL;
        if (n > 0 && (m = arena_alloc(ps->doc, n * sizeof *m)) == NULL)
            return nomem(ps);
        if (n > 0)
            memcpy(m, src, n * sizeof *m);
        v->type = CAPSA_J_OBJECT;
        v->u.members = m;
    } else {
        struct capsa_jv *items = NULL;
        if (n > 0 && (items = arena_alloc(ps->doc, n * sizeof *items)) == NULL)
            return nomem(ps);
        for (size_t i = 0; i < n; i++)
            items[i] = src[i].v;
        v->type = CAPSA_J_ARRAY;
        v->u.items = items;
    }
    ps->n_scratch = f->base;
    ps->depth--;
    return 0;
}

/* After '{' or ',' in an object: a key, a colon, and the value comes next. */
static int object_key(struct parser *ps, const char **key, uint32_t *keylen)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return syntax(ps, "premature end of input, expected a string");
    if (*ps->p != '"')
        return syntax(ps, "string or '}' expected");
    ps->key_line = ps->line;
    ps->key_column = (int)(ps->p - ps->line_start) + 1;
    int r = parse_string(ps, key, keylen);
    if (r < 0)
        return r;
    /* r >= 0 implies parse_string set *key (syntax() is variadic, so not inlined). */
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
    if (strlen(*key) != *keylen)
        return syntax(ps, "NUL byte in an object key");
    if ((r = check_new_key(ps, *key, *keylen)) < 0)
        return r;
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':')
        return syntax(ps, "':' expected");
    ps->p++;
    return 0;
}

static int parse(struct parser *ps)
{
    const char *key = NULL; /* pending key of the value being parsed, if in an object */
    uint32_t keylen = 0;
    struct capsa_jv v;
    int r;
    for (;;) {
        /* A value. */
        skip_ws(ps);
        if (ps->p >= ps->end)
            return syntax(ps, "premature end of input");
        memset(&v, 0, sizeof v);
        char c = *ps->p;
        if (c == '{' || c == '[') {
            if (ps->depth == CAPSA_JSON_MAX_DEPTH)
                return syntax(ps, "maximum nesting depth (%d) exceeded", CAPSA_JSON_MAX_DEPTH);
            /* The key of this container waits in the parent's scratch as a
             * placeholder member, filled when the container closes. */
            struct capsa_jv hole = {.type = CAPSA_J_NULL};
            if (ps->depth > 0 && (r = scratch_push(ps, key, keylen, &hole)) < 0)
                return r;
            ps->stack[ps->depth++] = (struct frame){.object = c == '{', .base = ps->n_scratch};
            ps->p++;
            skip_ws(ps);
            char close = c == '{' ? '}' : ']';
            if (ps->p < ps->end && *ps->p == close) {
                ps->p++;
                if ((r = close_container(ps, &v)) < 0)
                    return r;
                goto have_container;
            }
            if (c == '{' && (r = object_key(ps, &key, &keylen)) < 0)
                return r;
            if (c == '[')
                key = NULL;
            continue;
        } else if (c == '"') {
            v.type = CAPSA_J_STRING;
            r = parse_string(ps, &v.u.s, &v.n);
        } else if (c == '-' || is_digit(c)) {
            r = parse_number(ps, &v);
        } else if (c == 't') {
            r = literal(ps, "true", CAPSA_J_TRUE, &v);
        } else if (c == 'f') {
            r = literal(ps, "false", CAPSA_J_FALSE, &v);
        } else if (c == 'n') {
            r = literal(ps, "null", CAPSA_J_NULL, &v);
        } else {
            r = syntax(ps, "invalid token");
        }
        if (r < 0)
            return r;
        if (ps->depth == 0) {
            ps->doc->root = v;
            return 0;
        }
        if ((r = scratch_push(ps, key, keylen, &v)) < 0)
            return r;
        /* After a value inside a container: ',' or the closing bracket. */
        for (;;) {
            struct frame *f = &ps->stack[ps->depth - 1];
            skip_ws(ps);
            if (ps->p >= ps->end)
                return syntax(ps, "premature end of input");
            char d = *ps->p;
            if (d == ',') {
                ps->p++;
                if (f->object && (r = object_key(ps, &key, &keylen)) < 0)
                    return r;
                if (!f->object)
                    key = NULL;
                break; /* next value */
            }
            if (d != (f->object ? '}' : ']'))
                return syntax(ps, f->object ? "',' or '}' expected" : "',' or ']' expected");
            ps->p++;
            if ((r = close_container(ps, &v)) < 0)
                return r;
        have_container:
            if (ps->depth == 0) {
                ps->doc->root = v;
                return 0;
            }
            /* Fill the placeholder the parent holds for this container. */
            ps->scratch[ps->n_scratch - 1].v = v;
        }
    }
}

int capsa_json_parse(const char *buf, size_t len, unsigned flags, struct capsa_jdoc *doc,
                     struct capsa_jerror *e)
{
    memset(doc, 0, sizeof *doc);
    memset(e, 0, sizeof *e);
    /* The frame stack is a few KiB: on the heap, with the parser. */
    struct parser *ps = calloc(1, sizeof *ps);
    if (ps == NULL)
        return -ENOMEM;
    ps->p = buf;
    ps->end = buf + len;
    ps->line_start = buf;
    ps->line = 1;
    ps->doc = doc;
    ps->e = e;
    ps->flags = flags;
    int r = parse(ps);
    if (r == 0) {
        skip_ws(ps);
        if (ps->p != ps->end)
            r = syntax(ps, "end of input expected");
    }
    free(ps->scratch);
    free(ps->pos);
    int oom = ps->oom;
    free(ps);
    if (r < 0) {
        capsa_json_free(doc);
        return oom ? -ENOMEM : r;
    }
    return 0;
}

const struct capsa_jv *capsa_jv_get(const struct capsa_jv *obj, const char *key)
{
    if (obj == NULL || obj->type != CAPSA_J_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    for (uint32_t i = 0; i < obj->n; i++) {
        const struct capsa_jmember *m = &obj->u.members[i];
        if (m->keylen == kl && memcmp(m->key, key, kl) == 0)
            return &m->v;
    }
    return NULL;
}
