/* spec.c - config.json (OCI runtime-spec 1.2, Linux schema) -> struct capsa_spec.
 *
 * The document is parsed strictly by util/json.c (duplicate keys, trailing
 * junk and invalid UTF-8 are syntax errors; integers up to UINT64_MAX for the
 * uint64 fields), then walked field by field. Unknown
 * fields are ignored, as the spec asks, but a known field with the wrong JSON
 * type or an out-of-range value is an error naming its JSON path. Everything
 * the runtime later trusts (absolute paths, known names, ranges) is checked
 * here, once, so the privileged code never sees an unchecked value.
 * No syscalls are made (except reading the file in capsa_spec_load), so the
 * parser can be fuzzed.
 */
#include "spec/spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>

#include "util/json.h"
#include "util/util.h"

/* Limits against absurd input: a real config.json is a few tens of KiB. */
#define MAX_DOC_SIZE ((size_t)16 << 20)
#define MAX_STRING   ((size_t)1 << 20)
#define MAX_ARRAY    ((size_t)65536)
#define MAX_MOUNTS   ((size_t)4096)
#define JP           320 /* room for a JSON path in messages */

/* Flags for the field helpers. */
#define REQ    1u /* the field must be present */
#define ABS    2u /* string (or each string) must be an absolute path */
#define NEMPTY 4u /* array must not be empty */
#define ENVSTR 8u /* each string must contain '=' */

static int fail(struct capsa_err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct capsa_err *err, const char *path, const char *fmt, ...)
{
    char msg[CAPSA_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return capsa_err_setx(err, EINVAL, "%s: %s", path, msg);
}

static int nomem(struct capsa_err *err, const char *path)
{
    return capsa_err_set(err, ENOMEM, "%s", path);
}

/* Paths in messages are cut with "..." rather than overflowing. */
static void jp_cut(char *buf, size_t n, int len)
{
    if ((len < 0 || (size_t)len >= n) && n > 4)
        memcpy(buf + n - 4, "...", 4);
}

/* Paths are built for every field walked, not only for errors: plain
 * copies here, because snprintf was a quarter of the parse (callgrind). */
static size_t jp_put(char *buf, size_t n, size_t at, const char *s, size_t len)
{
    if (at < n) {
        size_t room = n - at - 1;
        memcpy(buf + at, s, len < room ? len : room);
        buf[at + (len < room ? len : room)] = '\0';
    }
    return at + len;
}

static void jp_key(char *buf, size_t n, const char *path, const char *key)
{
    size_t plen = strlen(path);
    size_t klen = strnlen(key, 64);
    size_t at = jp_put(buf, n, 0, path, plen);
    if (plen > 0)
        at = jp_put(buf, n, at, ".", 1);
    at = jp_put(buf, n, at, key, klen);
    jp_cut(buf, n, at > INT32_MAX ? -1 : (int)at);
}

static void jp_idx(char *buf, size_t n, const char *path, size_t i)
{
    char num[24];
    size_t d = sizeof num;
    num[--d] = '\0';
    num[--d] = ']';
    do
        num[--d] = (char)('0' + i % 10);
    while ((i /= 10) != 0 && d > 1);
    num[--d] = '[';
    size_t at = jp_put(buf, n, 0, path, strlen(path));
    at = jp_put(buf, n, at, num + d, sizeof num - 1 - d);
    jp_cut(buf, n, at > INT32_MAX ? -1 : (int)at);
}

/* A JSON null is treated as an absent field, as Go's encoding/json (runc) does. */
static const struct capsa_jv *field(const struct capsa_jv *obj, const char *key)
{
    const struct capsa_jv *v = capsa_jv_get(obj, key);
    return capsa_jv_is(v, CAPSA_J_NULL) ? NULL : v;
}

/* --- value helpers: v is non-NULL --- */

static int get_str(const struct capsa_jv *v, const char *path, char **out, struct capsa_err *err)
{
    if (!capsa_jv_is(v, CAPSA_J_STRING))
        return fail(err, path, "must be a string");
    size_t len = (v)->n;
    const char *s = (v)->u.s;
    if (len > MAX_STRING)
        return fail(err, path, "string longer than %zu bytes", MAX_STRING);
    if (memchr(s, '\0', len) != NULL)
        return fail(err, path, "must not contain NUL bytes");
    free(*out); /* never leak a value set twice */
    *out = strndup(s, len);
    if (*out == NULL)
        return nomem(err, path);
    return 0;
}

static int check_abs(const char *s, const char *path, struct capsa_err *err)
{
    if (s[0] != '/')
        return fail(err, path, "must be an absolute path");
    return 0;
}

static int get_i64(const struct capsa_jv *v, const char *path, int64_t min, int64_t max,
                   int64_t *out, struct capsa_err *err)
{
    if (capsa_jv_is(v, CAPSA_J_UINT))
        return fail(err, path, "must be between %" PRId64 " and %" PRId64, min, max);
    if (!capsa_jv_is(v, CAPSA_J_INT))
        return fail(err, path, "must be an integer");
    int64_t x = (v)->u.i;
    if (x < min || x > max)
        return fail(err, path, "must be between %" PRId64 " and %" PRId64, min, max);
    *out = (int64_t)x;
    return 0;
}

static int get_u64(const struct capsa_jv *v, const char *path, uint64_t max, uint64_t *out,
                   struct capsa_err *err)
{
    uint64_t x;
    if (capsa_jv_is(v, CAPSA_J_UINT)) {
        x = v->u.u;
    } else if (capsa_jv_is(v, CAPSA_J_INT)) {
        if ((v)->u.i < 0)
            return fail(err, path, "must be a non-negative integer");
        x = (uint64_t)(v)->u.i;
    } else {
        return fail(err, path, "must be an integer");
    }
    if (x > max)
        return fail(err, path, "must be between 0 and %" PRIu64, max);
    *out = x;
    return 0;
}

static int get_u32(const struct capsa_jv *v, const char *path, uint32_t *out, struct capsa_err *err)
{
    uint64_t x = 0;
    int r = get_u64(v, path, UINT32_MAX, &x, err);
    if (r == 0)
        *out = (uint32_t)x;
    return r;
}

static int get_array(const struct capsa_jv *v, const char *path, size_t max, struct capsa_err *err)
{
    if (!capsa_jv_is(v, CAPSA_J_ARRAY))
        return fail(err, path, "must be an array");
    if ((size_t)(v)->n > max)
        return fail(err, path, "too many entries (at most %zu)", max);
    return 0;
}

static int get_object(const struct capsa_jv *v, const char *path, struct capsa_err *err)
{
    if (!capsa_jv_is(v, CAPSA_J_OBJECT))
        return fail(err, path, "must be an object");
    return 0;
}

/* Allocate a zeroed array of n elements (+ extra) and record n at once, so a
 * half-filled array is still freed correctly when a later element fails. */
static int alloc_array(void *outp, size_t *n_out, size_t n, size_t extra, size_t elem,
                       const char *path, struct capsa_err *err)
{
    void **out = outp;
    *out = NULL;
    *n_out = 0;
    if (n + extra == 0)
        return 0;
    *out = calloc(n + extra, elem);
    if (*out == NULL)
        return nomem(err, path);
    *n_out = n;
    return 0;
}

/* --- field helpers: obj is an object, path is its JSON path --- */

static int f_str(const struct capsa_jv *obj, const char *key, const char *path, unsigned flags,
                 char **out, struct capsa_err *err)
{
    char p[JP];
    jp_key(p, sizeof p, path, key);
    const struct capsa_jv *v = field(obj, key);
    if (v == NULL)
        return (flags & REQ) ? fail(err, p, "is required") : 0;
    int r = get_str(v, p, out, err);
    if (r == 0 && (flags & ABS))
        r = check_abs(*out, p, err);
    return r;
}

static int f_bool(const struct capsa_jv *obj, const char *key, const char *path, unsigned flags,
                  bool *out, bool *has, struct capsa_err *err)
{
    char p[JP];
    jp_key(p, sizeof p, path, key);
    const struct capsa_jv *v = field(obj, key);
    if (v == NULL)
        return (flags & REQ) ? fail(err, p, "is required") : 0;
    if (!capsa_jv_is_bool(v))
        return fail(err, p, "must be a boolean");
    *out = capsa_jv_is(v, CAPSA_J_TRUE);
    if (has)
        *has = true;
    return 0;
}

static int f_i64(const struct capsa_jv *obj, const char *key, const char *path, unsigned flags,
                 int64_t min, int64_t max, int64_t *out, bool *has, struct capsa_err *err)
{
    char p[JP];
    jp_key(p, sizeof p, path, key);
    const struct capsa_jv *v = field(obj, key);
    if (v == NULL)
        return (flags & REQ) ? fail(err, p, "is required") : 0;
    int r = get_i64(v, p, min, max, out, err);
    if (r == 0 && has)
        *has = true;
    return r;
}

static int f_int(const struct capsa_jv *obj, const char *key, const char *path, unsigned flags,
                 int min, int max, int *out, bool *has, struct capsa_err *err)
{
    int64_t x = 0;
    bool h = false;
    int r = f_i64(obj, key, path, flags, min, max, &x, &h, err);
    if (r == 0 && h) {
        *out = (int)x;
        if (has)
            *has = true;
    }
    return r;
}

static int f_u64(const struct capsa_jv *obj, const char *key, const char *path, unsigned flags,
                 uint64_t max, uint64_t *out, bool *has, struct capsa_err *err)
{
    char p[JP];
    jp_key(p, sizeof p, path, key);
    const struct capsa_jv *v = field(obj, key);
    if (v == NULL)
        return (flags & REQ) ? fail(err, p, "is required") : 0;
    int r = get_u64(v, p, max, out, err);
    if (r == 0 && has)
        *has = true;
    return r;
}

static int f_u32(const struct capsa_jv *obj, const char *key, const char *path, unsigned flags,
                 uint32_t *out, bool *has, struct capsa_err *err)
{
    uint64_t x = 0;
    bool h = false;
    int r = f_u64(obj, key, path, flags, UINT32_MAX, &x, &h, err);
    if (r == 0 && h) {
        *out = (uint32_t)x;
        if (has)
            *has = true;
    }
    return r;
}

static int f_u16(const struct capsa_jv *obj, const char *key, const char *path, uint16_t *out,
                 bool *has, struct capsa_err *err)
{
    uint64_t x = 0;
    bool h = false;
    int r = f_u64(obj, key, path, 0, UINT16_MAX, &x, &h, err);
    if (r == 0 && h) {
        *out = (uint16_t)x;
        *has = true;
    }
    return r;
}

/* Array of strings -> NULL-terminated vector. */
static int f_strv(const struct capsa_jv *obj, const char *key, const char *path, unsigned flags,
                  char ***out, size_t *n_out, struct capsa_err *err)
{
    char p[JP], pi[JP];
    jp_key(p, sizeof p, path, key);
    const struct capsa_jv *v = field(obj, key);
    if (v == NULL)
        return (flags & REQ) ? fail(err, p, "is required") : 0;
    int r = get_array(v, p, MAX_ARRAY, err);
    if (r < 0)
        return r;
    size_t n = (size_t)(v)->n;
    if (n == 0 && (flags & NEMPTY))
        return fail(err, p, "must not be empty");
    r = alloc_array(out, n_out, n, 1, sizeof(char *), p, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < n; i++) {
        jp_idx(pi, sizeof pi, p, i);
        r = get_str((&(v)->u.items[i]), pi, &(*out)[i], err);
        if (r < 0)
            return r;
        if ((flags & ABS) && (r = check_abs((*out)[i], pi, err)) < 0)
            return r;
        if ((flags & ENVSTR) && strchr((*out)[i], '=') == NULL)
            return fail(err, pi, "must have the form KEY=VALUE");
    }
    return 0;
}

/* Object of string values -> key/value array (document order). */
static int f_kvmap(const struct capsa_jv *obj, const char *key, const char *path,
                   struct capsa_kv **out, size_t *n_out, struct capsa_err *err)
{
    char p[JP], pk[JP];
    jp_key(p, sizeof p, path, key);
    const struct capsa_jv *v = field(obj, key);
    if (v == NULL)
        return 0;
    int r = get_object(v, p, err);
    if (r < 0)
        return r;
    size_t n = (size_t)(v)->n;
    if (n > MAX_ARRAY)
        return fail(err, p, "too many entries (at most %zu)", MAX_ARRAY);
    if ((r = alloc_array(out, n_out, n, 0, sizeof **out, p, err)) < 0)
        return r;
    size_t i = 0;
    for (uint32_t m = 0; m < v->n; m++) {
        const char *k = v->u.members[m].key;
        const struct capsa_jv *val = &v->u.members[m].v;
        jp_key(pk, sizeof pk, p, k);
        (*out)[i].key = strdup(k);
        if ((*out)[i].key == NULL)
            return nomem(err, pk);
        if ((r = get_str(val, pk, &(*out)[i].value, err)) < 0)
            return r;
        i++;
    }
    return 0;
}

/* Iterate over an optional array of objects at obj.key: allocates *arr (n
 * elements of size elem) and calls fn for each element with its path. */
typedef int (*elem_fn)(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                       struct capsa_err *err);

static int f_objarray(const struct capsa_jv *obj, const char *key, const char *path, size_t max,
                      void *arrp, size_t *n_out, size_t elem, elem_fn fn, void *ctx,
                      struct capsa_err *err)
{
    char p[JP], pi[JP];
    jp_key(p, sizeof p, path, key);
    const struct capsa_jv *v = field(obj, key);
    if (v == NULL)
        return 0;
    int r = get_array(v, p, max, err);
    if (r < 0)
        return r;
    size_t n = (size_t)(v)->n;
    if ((r = alloc_array(arrp, n_out, n, 0, elem, p, err)) < 0)
        return r;
    char *arr = *(char **)arrp;
    for (size_t i = 0; i < n; i++) {
        jp_idx(pi, sizeof pi, p, i);
        const struct capsa_jv *e = (&(v)->u.items[i]);
        if ((r = get_object(e, pi, err)) < 0)
            return r;
        if ((r = fn(e, pi, arr + i * elem, ctx, err)) < 0)
            return r;
    }
    return 0;
}

/* Optional sub-object: returns 1 and sets *sub when present, 0 when absent. */
static int f_sub(const struct capsa_jv *obj, const char *key, const char *path, char *p,
                 const struct capsa_jv **sub, struct capsa_err *err)
{
    jp_key(p, JP, path, key);
    *sub = field(obj, key);
    if (*sub == NULL)
        return 0;
    int r = get_object(*sub, p, err);
    return r < 0 ? r : 1;
}

static int name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] != NULL && strcmp(names[i], s) == 0)
            return (int)i;
    return -1;
}

/* --- pieces shared by several places --- */

static int parse_idmap(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                       struct capsa_err *err)
{
    (void)ctx;
    struct capsa_idmap *m = elem;
    int r;
    if ((r = f_u32(o, "containerID", path, REQ, &m->container_id, NULL, err)) < 0 ||
        (r = f_u32(o, "hostID", path, REQ, &m->host_id, NULL, err)) < 0 ||
        (r = f_u32(o, "size", path, REQ, &m->size, NULL, err)) < 0)
        return r;
    char p[JP];
    jp_key(p, sizeof p, path, "size");
    if (m->size == 0)
        return fail(err, p, "must be greater than 0");
    /* The kernel rejects ranges wrapping past 2^32; say so with the field name. */
    if ((uint64_t)m->container_id + m->size > (uint64_t)UINT32_MAX + 1 ||
        (uint64_t)m->host_id + m->size > (uint64_t)UINT32_MAX + 1)
        return fail(err, p, "range overflows the 32-bit id space");
    return 0;
}

static int f_idmaps(const struct capsa_jv *obj, const char *key, const char *path,
                    struct capsa_idmap **out, size_t *n, struct capsa_err *err)
{
    return f_objarray(obj, key, path, MAX_ARRAY, out, n, sizeof **out, parse_idmap, NULL, err);
}

/* --- root, mounts --- */

static int parse_mount(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                       struct capsa_err *err)
{
    (void)ctx;
    struct capsa_mount *m = elem;
    int r;
    /* runc accepts relative destinations for compatibility; we refuse them,
     * since "relative to what" is exactly the ambiguity path attacks exploit. */
    if ((r = f_str(o, "destination", path, REQ | ABS, &m->destination, err)) < 0 ||
        (r = f_str(o, "type", path, 0, &m->type, err)) < 0 ||
        (r = f_str(o, "source", path, 0, &m->source, err)) < 0 ||
        (r = f_strv(o, "options", path, 0, &m->options, &m->n_options, err)) < 0 ||
        (r = f_idmaps(o, "uidMappings", path, &m->uid_mappings, &m->n_uid_mappings, err)) < 0 ||
        (r = f_idmaps(o, "gidMappings", path, &m->gid_mappings, &m->n_gid_mappings, err)) < 0)
        return r;
    return 0;
}

/* --- hooks --- */

static int parse_hook(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                      struct capsa_err *err)
{
    (void)ctx;
    struct capsa_hook *h = elem;
    int r;
    if ((r = f_str(o, "path", path, REQ | ABS, &h->path, err)) < 0 ||
        (r = f_strv(o, "args", path, 0, &h->args, &h->n_args, err)) < 0 ||
        (r = f_strv(o, "env", path, ENVSTR, &h->env, &h->n_env, err)) < 0 ||
        (r = f_int(o, "timeout", path, 0, 1, INT32_MAX, &h->timeout, &h->has_timeout, err)) < 0)
        return r;
    return 0;
}

static int parse_hooks(const struct capsa_jv *root, struct capsa_hooks *h, struct capsa_err *err)
{
    const struct capsa_jv *o;
    char p[JP];
    int r = f_sub(root, "hooks", "", p, &o, err);
    if (r <= 0)
        return r;
    struct {
        const char *key;
        struct capsa_hook **arr;
        size_t *n;
    } kinds[] = {
        {"prestart", &h->prestart, &h->n_prestart},
        {"createRuntime", &h->create_runtime, &h->n_create_runtime},
        {"createContainer", &h->create_container, &h->n_create_container},
        {"startContainer", &h->start_container, &h->n_start_container},
        {"poststart", &h->poststart, &h->n_poststart},
        {"poststop", &h->poststop, &h->n_poststop},
    };
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        r = f_objarray(o, kinds[i].key, p, MAX_ARRAY, kinds[i].arr, kinds[i].n,
                       sizeof(struct capsa_hook), parse_hook, NULL, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* --- process --- */

/* An unknown name is skipped with a warning, as runc does ("ignoring
 * unknown or unavailable capabilities"): skipping can only withhold a
 * capability, never grant one. */
static int f_capset(const struct capsa_jv *obj, const char *key, const char *path, uint64_t *mask,
                    struct capsa_spec_warnings *w, struct capsa_err *err)
{
    char **names = NULL;
    size_t n = 0;
    char p[JP], pi[JP];
    int r = f_strv(obj, key, path, 0, &names, &n, err);
    jp_key(p, sizeof p, path, key);
    for (size_t i = 0; r == 0 && i < n; i++) {
        int c = capsa_cap_parse_name(names[i], false);
        if (c == CAPSA_CAP_UNKNOWN) {
            jp_idx(pi, sizeof pi, p, i);
            if (capsa_spec_warn(w, "%s: ignoring unknown capability \"%.64s\"", pi, names[i]) < 0)
                r = nomem(err, pi);
        } else {
            *mask |= UINT64_C(1) << c;
        }
    }
    capsa_strv_free(names);
    return r;
}

static int parse_rlimit(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                        struct capsa_err *err)
{
    struct capsa_rlimit *rl = elem;
    uint64_t *seen = ctx; /* bit per resource: the spec forbids duplicate types */
    char p[JP];
    int r;
    if ((r = f_str(o, "type", path, REQ, &rl->type, err)) < 0)
        return r;
    jp_key(p, sizeof p, path, "type");
    rl->resource = capsa_rlimit_from_name(rl->type);
    if (rl->resource < 0 || rl->resource >= 64)
        return fail(err, p, "unknown rlimit \"%.64s\"", rl->type);
    if (*seen & (UINT64_C(1) << rl->resource))
        return fail(err, p, "duplicate rlimit \"%.64s\"", rl->type);
    *seen |= UINT64_C(1) << rl->resource;
    if ((r = f_u64(o, "soft", path, REQ, UINT64_MAX, &rl->soft, NULL, err)) < 0 ||
        (r = f_u64(o, "hard", path, REQ, UINT64_MAX, &rl->hard, NULL, err)) < 0)
        return r;
    if (rl->soft > rl->hard) {
        jp_key(p, sizeof p, path, "soft");
        return fail(err, p, "soft limit %" PRIu64 " exceeds hard limit %" PRIu64, rl->soft,
                    rl->hard);
    }
    return 0;
}

static int parse_scheduler(const struct capsa_jv *o, const char *path, struct capsa_scheduler *s,
                           struct capsa_err *err)
{
    char p[JP], pi[JP];
    cleanup_free char *policy = NULL;
    int r = f_str(o, "policy", path, REQ, &policy, err);
    if (r < 0)
        return r;
    jp_key(p, sizeof p, path, "policy");
    s->policy = name_index(capsa_sched_policy_names, CAPSA_SCHED_POLICY_COUNT, policy);
    if (s->policy < 0)
        return fail(err, p, "unknown scheduler policy \"%.64s\"", policy);
    int64_t nice = 0, prio = 0;
    if ((r = f_i64(o, "nice", path, 0, -20, 19, &nice, NULL, err)) < 0 ||
        (r = f_i64(o, "priority", path, 0, 0, 99, &prio, NULL, err)) < 0 ||
        (r = f_u64(o, "runtime", path, 0, UINT64_MAX, &s->runtime, NULL, err)) < 0 ||
        (r = f_u64(o, "deadline", path, 0, UINT64_MAX, &s->deadline, NULL, err)) < 0 ||
        (r = f_u64(o, "period", path, 0, UINT64_MAX, &s->period, NULL, err)) < 0)
        return r;
    s->nice = (int32_t)nice;
    s->priority = (int32_t)prio;
    char **flags = NULL;
    size_t n = 0;
    r = f_strv(o, "flags", path, 0, &flags, &n, err);
    jp_key(p, sizeof p, path, "flags");
    for (size_t i = 0; r == 0 && i < n; i++) {
        int b = name_index(capsa_sched_flag_names, CAPSA_SCHED_FLAG_COUNT, flags[i]);
        if (b < 0) {
            jp_idx(pi, sizeof pi, p, i);
            r = fail(err, pi, "unknown scheduler flag \"%.64s\"", flags[i]);
        } else {
            s->flags |= UINT64_C(1) << b;
        }
    }
    capsa_strv_free(flags);
    return r;
}

static int parse_io_priority(const struct capsa_jv *o, const char *path,
                             struct capsa_io_priority *io, struct capsa_err *err)
{
    char p[JP];
    cleanup_free char *cls = NULL;
    int r = f_str(o, "class", path, REQ, &cls, err);
    if (r < 0)
        return r;
    jp_key(p, sizeof p, path, "class");
    io->class = name_index(capsa_ioprio_class_names, CAPSA_IOPRIO_CLASS_COUNT, cls);
    if (io->class < 0)
        return fail(err, p, "unknown I/O priority class \"%.64s\"", cls);
    return f_int(o, "priority", path, 0, 0, 7, &io->priority, NULL, err);
}

/* The process object o, at JSON path p, into a new *out (set before any
 * error, so that the caller frees what was parsed). */
static int parse_process_obj(const struct capsa_jv *o, const char *p, struct capsa_process **out,
                             struct capsa_spec_warnings *w, struct capsa_err *err)
{
    const struct capsa_jv *sub;
    char ps[JP];
    int r;
    struct capsa_process *pr = calloc(1, sizeof *pr);
    if (pr == NULL)
        return nomem(err, p);
    *out = pr;

    if ((r = f_bool(o, "terminal", p, 0, &pr->terminal, NULL, err)) < 0)
        return r;
    if ((r = f_sub(o, "consoleSize", p, ps, &sub, err)) < 0)
        return r;
    if (r > 0) {
        if ((r = f_u32(sub, "height", ps, REQ, &pr->console_height, NULL, err)) < 0 ||
            (r = f_u32(sub, "width", ps, REQ, &pr->console_width, NULL, err)) < 0)
            return r;
        pr->has_console_size = true;
    }
    if ((r = f_sub(o, "user", p, ps, &sub, err)) < 0)
        return r;
    if (r > 0) {
        struct capsa_user *u = &pr->user;
        if ((r = f_u32(sub, "uid", ps, 0, &u->uid, NULL, err)) < 0 ||
            (r = f_u32(sub, "gid", ps, 0, &u->gid, NULL, err)) < 0 ||
            (r = f_u32(sub, "umask", ps, 0, &u->umask, &u->has_umask, err)) < 0)
            return r;
        const struct capsa_jv *g = field(sub, "additionalGids");
        char pg[JP];
        jp_key(pg, sizeof pg, ps, "additionalGids");
        if (g != NULL) {
            if ((r = get_array(g, pg, MAX_ARRAY, err)) < 0)
                return r;
            size_t n = (size_t)(g)->n;
            if ((r = alloc_array(&u->additional_gids, &u->n_additional_gids, n, 0, sizeof(uint32_t),
                                 pg, err)) < 0)
                return r;
            for (size_t i = 0; i < n; i++) {
                char pgi[JP];
                jp_idx(pgi, sizeof pgi, pg, i);
                if ((r = get_u32((&(g)->u.items[i]), pgi, &u->additional_gids[i], err)) < 0)
                    return r;
            }
        }
    }

    char pa[JP];
    jp_key(pa, sizeof pa, p, "args");
    const struct capsa_jv *args = field(o, "args");
    if (!capsa_jv_is(args, CAPSA_J_ARRAY) || (size_t)(args)->n == 0)
        return fail(err, pa, "must be a non-empty array of strings");
    if ((r = f_strv(o, "args", p, REQ | NEMPTY, &pr->args, &pr->n_args, err)) < 0 ||
        (r = f_strv(o, "env", p, ENVSTR, &pr->env, &pr->n_env, err)) < 0 ||
        (r = f_str(o, "cwd", p, REQ | ABS, &pr->cwd, err)) < 0)
        return r;

    if ((r = f_sub(o, "capabilities", p, ps, &sub, err)) < 0)
        return r;
    if (r > 0) {
        struct capsa_caps *c = &pr->capabilities;
        pr->has_capabilities = true;
        if ((r = f_capset(sub, "bounding", ps, &c->bounding, w, err)) < 0 ||
            (r = f_capset(sub, "effective", ps, &c->effective, w, err)) < 0 ||
            (r = f_capset(sub, "inheritable", ps, &c->inheritable, w, err)) < 0 ||
            (r = f_capset(sub, "permitted", ps, &c->permitted, w, err)) < 0 ||
            (r = f_capset(sub, "ambient", ps, &c->ambient, w, err)) < 0)
            return r;
    }
    uint64_t seen = 0;
    if ((r = f_objarray(o, "rlimits", p, MAX_ARRAY, &pr->rlimits, &pr->n_rlimits,
                        sizeof *pr->rlimits, parse_rlimit, &seen, err)) < 0 ||
        (r = f_bool(o, "noNewPrivileges", p, 0, &pr->no_new_privileges, NULL, err)) < 0 ||
        (r = f_str(o, "apparmorProfile", p, 0, &pr->apparmor_profile, err)) < 0 ||
        (r = f_int(o, "oomScoreAdj", p, 0, -1000, 1000, &pr->oom_score_adj, &pr->has_oom_score_adj,
                   err)) < 0 ||
        (r = f_str(o, "selinuxLabel", p, 0, &pr->selinux_label, err)) < 0)
        return r;
    if ((r = f_sub(o, "scheduler", p, ps, &sub, err)) < 0)
        return r;
    if (r > 0) {
        if ((r = parse_scheduler(sub, ps, &pr->scheduler, err)) < 0)
            return r;
        pr->has_scheduler = true;
    }
    if ((r = f_sub(o, "ioPriority", p, ps, &sub, err)) < 0)
        return r;
    if (r > 0) {
        if ((r = parse_io_priority(sub, ps, &pr->io_priority, err)) < 0)
            return r;
        pr->has_io_priority = true;
    }
    return 0;
}

static int parse_process(const struct capsa_jv *root, struct capsa_spec *spec,
                         struct capsa_err *err)
{
    const struct capsa_jv *o;
    char p[JP];
    int r = f_sub(root, "process", "", p, &o, err);
    if (r <= 0)
        return r;
    return parse_process_obj(o, p, &spec->process, &spec->warnings, err);
}

/* --- linux --- */

static int parse_namespace(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                           struct capsa_err *err)
{
    struct capsa_namespace *ns = elem;
    unsigned *seen = ctx;
    char p[JP];
    cleanup_free char *type = NULL;
    int r = f_str(o, "type", path, REQ, &type, err);
    if (r < 0)
        return r;
    jp_key(p, sizeof p, path, "type");
    int t;
    for (t = 0; t < CAPSA_NS_COUNT; t++) {
        /* f_str with REQ returns < 0 or sets type (fail() is variadic, so not inlined). */
        // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
        if (strcmp(capsa_ns_type_name((enum capsa_ns_type)t), type) == 0)
            break;
    }
    if (t == CAPSA_NS_COUNT)
        return fail(err, p, "unknown namespace \"%.64s\"", type);
    if (*seen & (1u << t))
        return fail(err, p, "duplicate namespace \"%s\"", type);
    *seen |= 1u << t;
    ns->type = (enum capsa_ns_type)t;
    return f_str(o, "path", path, ABS, &ns->path, err);
}

static int parse_device(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                        struct capsa_err *err)
{
    (void)ctx;
    struct capsa_device *d = elem;
    char p[JP];
    cleanup_free char *type = NULL;
    int r = f_str(o, "type", path, REQ, &type, err);
    if (r < 0)
        return r;
    jp_key(p, sizeof p, path, "type");
    /* f_str with REQ returns < 0 or sets type (fail() is variadic, so not inlined). */
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
    if (strlen(type) != 1 || strchr("cbup", type[0]) == NULL)
        return fail(err, p, "unknown device type \"%.64s\" (want c, b, u or p)", type);
    d->type = type[0];
    /* Device numbers are required except for FIFOs: mknod needs them. */
    unsigned nflags = d->type == 'p' ? 0 : REQ;
    if ((r = f_str(o, "path", path, REQ | ABS, &d->path, err)) < 0 ||
        (r = f_i64(o, "major", path, nflags, 0, UINT32_MAX, &d->major, NULL, err)) < 0 ||
        (r = f_i64(o, "minor", path, nflags, 0, UINT32_MAX, &d->minor, NULL, err)) < 0 ||
        (r = f_u32(o, "fileMode", path, 0, &d->file_mode, &d->has_file_mode, err)) < 0 ||
        (r = f_u32(o, "uid", path, 0, &d->uid, &d->has_uid, err)) < 0 ||
        (r = f_u32(o, "gid", path, 0, &d->gid, &d->has_gid, err)) < 0)
        return r;
    if (d->has_file_mode && d->file_mode > 07777) {
        jp_key(p, sizeof p, path, "fileMode");
        return fail(err, p, "must be a permission mode (at most 07777)");
    }
    return 0;
}

static int parse_devrule(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                         struct capsa_err *err)
{
    (void)ctx;
    struct capsa_device_rule *d = elem;
    char p[JP];
    int r;
    if ((r = f_bool(o, "allow", path, REQ, &d->allow, NULL, err)) < 0 ||
        (r = f_str(o, "type", path, 0, &d->type, err)) < 0 ||
        (r = f_i64(o, "major", path, 0, -1, UINT32_MAX, &d->major, &d->has_major, err)) < 0 ||
        (r = f_i64(o, "minor", path, 0, -1, UINT32_MAX, &d->minor, &d->has_minor, err)) < 0 ||
        (r = f_str(o, "access", path, 0, &d->access, err)) < 0)
        return r;
    if (d->type != NULL && (strlen(d->type) != 1 || strchr("acb", d->type[0]) == NULL)) {
        jp_key(p, sizeof p, path, "type");
        return fail(err, p, "unknown device type \"%.64s\" (want a, c or b)", d->type);
    }
    /* As runc: any order, repeats, and letters other than r, w and m are
     * accepted (the others mean nothing and are ignored: "rwa" is "rw");
     * only an empty string is refused. */
    if (d->access != NULL && d->access[0] == '\0') {
        jp_key(p, sizeof p, path, "access");
        return fail(err, p, "must not be empty (a combination of r, w and m)");
    }
    return 0;
}

static int parse_weight_dev(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                            struct capsa_err *err)
{
    (void)ctx;
    struct capsa_weight_device *w = elem;
    int r;
    if ((r = f_i64(o, "major", path, REQ, 0, UINT32_MAX, &w->major, NULL, err)) < 0 ||
        (r = f_i64(o, "minor", path, REQ, 0, UINT32_MAX, &w->minor, NULL, err)) < 0 ||
        (r = f_u16(o, "weight", path, &w->weight, &w->has_weight, err)) < 0 ||
        (r = f_u16(o, "leafWeight", path, &w->leaf_weight, &w->has_leaf_weight, err)) < 0)
        return r;
    return 0;
}

static int parse_throttle_dev(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                              struct capsa_err *err)
{
    (void)ctx;
    struct capsa_throttle_device *t = elem;
    int r;
    if ((r = f_i64(o, "major", path, REQ, 0, UINT32_MAX, &t->major, NULL, err)) < 0 ||
        (r = f_i64(o, "minor", path, REQ, 0, UINT32_MAX, &t->minor, NULL, err)) < 0 ||
        (r = f_u64(o, "rate", path, REQ, UINT64_MAX, &t->rate, NULL, err)) < 0)
        return r;
    return 0;
}

static int parse_hugepage(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                          struct capsa_err *err)
{
    (void)ctx;
    struct capsa_hugepage_limit *h = elem;
    int r;
    if ((r = f_str(o, "pageSize", path, REQ, &h->page_size, err)) < 0 ||
        (r = f_u64(o, "limit", path, REQ, UINT64_MAX, &h->limit, NULL, err)) < 0)
        return r;
    return 0;
}

static int parse_netprio(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                         struct capsa_err *err)
{
    (void)ctx;
    struct capsa_net_priority *n = elem;
    int r;
    if ((r = f_str(o, "name", path, REQ, &n->name, err)) < 0 ||
        (r = f_u32(o, "priority", path, REQ, &n->priority, NULL, err)) < 0)
        return r;
    return 0;
}

static int parse_memory(const struct capsa_jv *o, const char *p, struct capsa_memory *m,
                        struct capsa_err *err)
{
    int r;
    if ((r = f_i64(o, "limit", p, 0, INT64_MIN, INT64_MAX, &m->limit, &m->has_limit, err)) < 0 ||
        (r = f_i64(o, "reservation", p, 0, INT64_MIN, INT64_MAX, &m->reservation,
                   &m->has_reservation, err)) < 0 ||
        (r = f_i64(o, "swap", p, 0, INT64_MIN, INT64_MAX, &m->swap, &m->has_swap, err)) < 0 ||
        (r = f_i64(o, "kernel", p, 0, INT64_MIN, INT64_MAX, &m->kernel, &m->has_kernel, err)) < 0 ||
        (r = f_i64(o, "kernelTCP", p, 0, INT64_MIN, INT64_MAX, &m->kernel_tcp, &m->has_kernel_tcp,
                   err)) < 0 ||
        (r = f_u64(o, "swappiness", p, 0, 100, &m->swappiness, &m->has_swappiness, err)) < 0 ||
        (r = f_bool(o, "disableOOMKiller", p, 0, &m->disable_oom_killer, &m->has_disable_oom_killer,
                    err)) < 0 ||
        (r = f_bool(o, "useHierarchy", p, 0, &m->use_hierarchy, &m->has_use_hierarchy, err)) < 0 ||
        (r = f_bool(o, "checkBeforeUpdate", p, 0, &m->check_before_update,
                    &m->has_check_before_update, err)) < 0)
        return r;
    return 0;
}

static int parse_cpu(const struct capsa_jv *o, const char *p, struct capsa_cpu *c,
                     struct capsa_err *err)
{
    int r;
    if ((r = f_u64(o, "shares", p, 0, UINT64_MAX, &c->shares, &c->has_shares, err)) < 0 ||
        (r = f_i64(o, "quota", p, 0, INT64_MIN, INT64_MAX, &c->quota, &c->has_quota, err)) < 0 ||
        (r = f_u64(o, "burst", p, 0, UINT64_MAX, &c->burst, &c->has_burst, err)) < 0 ||
        (r = f_u64(o, "period", p, 0, UINT64_MAX, &c->period, &c->has_period, err)) < 0 ||
        (r = f_i64(o, "realtimeRuntime", p, 0, INT64_MIN, INT64_MAX, &c->realtime_runtime,
                   &c->has_realtime_runtime, err)) < 0 ||
        (r = f_u64(o, "realtimePeriod", p, 0, UINT64_MAX, &c->realtime_period,
                   &c->has_realtime_period, err)) < 0 ||
        (r = f_str(o, "cpus", p, 0, &c->cpus, err)) < 0 ||
        (r = f_str(o, "mems", p, 0, &c->mems, err)) < 0 ||
        (r = f_i64(o, "idle", p, 0, INT64_MIN, INT64_MAX, &c->idle, &c->has_idle, err)) < 0)
        return r;
    return 0;
}

static int parse_blkio(const struct capsa_jv *o, const char *p, struct capsa_blkio *b,
                       struct capsa_err *err)
{
    int r;
    if ((r = f_u16(o, "weight", p, &b->weight, &b->has_weight, err)) < 0 ||
        (r = f_u16(o, "leafWeight", p, &b->leaf_weight, &b->has_leaf_weight, err)) < 0 ||
        (r = f_objarray(o, "weightDevice", p, MAX_ARRAY, &b->weight_device, &b->n_weight_device,
                        sizeof *b->weight_device, parse_weight_dev, NULL, err)) < 0)
        return r;
    struct {
        const char *key;
        struct capsa_throttle_device **arr;
        size_t *n;
    } th[] = {
        {"throttleReadBpsDevice", &b->throttle_read_bps, &b->n_throttle_read_bps},
        {"throttleWriteBpsDevice", &b->throttle_write_bps, &b->n_throttle_write_bps},
        {"throttleReadIOPSDevice", &b->throttle_read_iops, &b->n_throttle_read_iops},
        {"throttleWriteIOPSDevice", &b->throttle_write_iops, &b->n_throttle_write_iops},
    };
    for (size_t i = 0; i < ARRAY_SIZE(th); i++)
        if ((r = f_objarray(o, th[i].key, p, MAX_ARRAY, th[i].arr, th[i].n,
                            sizeof(struct capsa_throttle_device), parse_throttle_dev, NULL, err)) <
            0)
            return r;
    return 0;
}

static int parse_rdma(const struct capsa_jv *o, const char *p, struct capsa_resources *res,
                      struct capsa_err *err)
{
    size_t n = (size_t)(o)->n;
    if (n > MAX_ARRAY)
        return fail(err, p, "too many entries (at most %zu)", MAX_ARRAY);
    int r = alloc_array(&res->rdma, &res->n_rdma, n, 0, sizeof *res->rdma, p, err);
    if (r < 0 || n == 0) /* n == 0: nothing to read, and res->rdma stays NULL */
        return r;
    size_t i = 0;
    char pk[JP];
    for (uint32_t m = 0; m < o->n; m++) {
        const char *k = o->u.members[m].key;
        const struct capsa_jv *v = &o->u.members[m].v;
        struct capsa_rdma_limit *l = &res->rdma[i++];
        jp_key(pk, sizeof pk, p, k);
        if ((l->device = strdup(k)) == NULL)
            return nomem(err, pk);
        if ((r = get_object(v, pk, err)) < 0 ||
            (r = f_u32(v, "hcaHandles", pk, 0, &l->hca_handles, &l->has_hca_handles, err)) < 0 ||
            (r = f_u32(v, "hcaObjects", pk, 0, &l->hca_objects, &l->has_hca_objects, err)) < 0)
            return r;
    }
    return 0;
}

static int parse_resources(const struct capsa_jv *o, const char *p, struct capsa_resources *res,
                           struct capsa_err *err)
{
    const struct capsa_jv *sub;
    char ps[JP];
    int r;
    if ((r = f_objarray(o, "devices", p, MAX_ARRAY, &res->devices, &res->n_devices,
                        sizeof *res->devices, parse_devrule, NULL, err)) < 0)
        return r;
    if ((r = f_sub(o, "memory", p, ps, &sub, err)) < 0 ||
        (r > 0 && (r = parse_memory(sub, ps, &res->memory, err)) < 0))
        return r;
    res->has_memory = sub != NULL;
    if ((r = f_sub(o, "cpu", p, ps, &sub, err)) < 0 ||
        (r > 0 && (r = parse_cpu(sub, ps, &res->cpu, err)) < 0))
        return r;
    res->has_cpu = sub != NULL;
    if ((r = f_sub(o, "pids", p, ps, &sub, err)) < 0 ||
        /* -1 (and runc's 0 or less) mean unlimited; below -1 is a mistake. */
        (r > 0 && (r = f_i64(sub, "limit", ps, REQ, -1, INT64_MAX, &res->pids_limit, &res->has_pids,
                             err)) < 0))
        return r;
    if ((r = f_sub(o, "blockIO", p, ps, &sub, err)) < 0 ||
        (r > 0 && (r = parse_blkio(sub, ps, &res->blkio, err)) < 0))
        return r;
    res->has_blkio = sub != NULL;
    if ((r = f_objarray(o, "hugepageLimits", p, MAX_ARRAY, &res->hugepage_limits,
                        &res->n_hugepage_limits, sizeof *res->hugepage_limits, parse_hugepage, NULL,
                        err)) < 0)
        return r;
    if ((r = f_sub(o, "network", p, ps, &sub, err)) < 0)
        return r;
    if (r > 0) {
        res->has_network = true;
        if ((r = f_u32(sub, "classID", ps, 0, &res->class_id, &res->has_class_id, err)) < 0 ||
            (r = f_objarray(sub, "priorities", ps, MAX_ARRAY, &res->net_priorities,
                            &res->n_net_priorities, sizeof *res->net_priorities, parse_netprio,
                            NULL, err)) < 0)
            return r;
    }
    if ((r = f_sub(o, "rdma", p, ps, &sub, err)) < 0 ||
        (r > 0 && (r = parse_rdma(sub, ps, res, err)) < 0))
        return r;
    return f_kvmap(o, "unified", p, &res->unified, &res->n_unified, err);
}

static const char *const seccomp_ops[] = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
};

static const char *const seccomp_actions[] = {
    "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY",
};

static const char *const seccomp_flags[] = {
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

static int check_name(const char *const *names, size_t n, const char *s, const char *what,
                      const char *path, struct capsa_err *err)
{
    if (name_index(names, n, s) < 0)
        return fail(err, path, "unknown %s \"%.64s\"", what, s);
    return 0;
}

static int parse_scmp_arg(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                          struct capsa_err *err)
{
    (void)ctx;
    struct capsa_seccomp_arg *a = elem;
    char p[JP];
    int r;
    if ((r = f_u32(o, "index", path, REQ, &a->index, NULL, err)) < 0 ||
        (r = f_u64(o, "value", path, REQ, UINT64_MAX, &a->value, NULL, err)) < 0 ||
        (r = f_u64(o, "valueTwo", path, 0, UINT64_MAX, &a->value_two, NULL, err)) < 0 ||
        (r = f_str(o, "op", path, REQ, &a->op, err)) < 0)
        return r;
    if (a->index > 5) {
        jp_key(p, sizeof p, path, "index");
        return fail(err, p, "must be between 0 and 5");
    }
    jp_key(p, sizeof p, path, "op");
    return check_name(seccomp_ops, ARRAY_SIZE(seccomp_ops), a->op, "seccomp operator", p, err);
}

static int parse_scmp_syscall(const struct capsa_jv *o, const char *path, void *elem, void *ctx,
                              struct capsa_err *err)
{
    (void)ctx;
    struct capsa_seccomp_syscall *s = elem;
    char p[JP];
    int r;
    if ((r = f_strv(o, "names", path, REQ | NEMPTY, &s->names, &s->n_names, err)) < 0 ||
        (r = f_str(o, "action", path, REQ, &s->action, err)) < 0 ||
        (r = f_u32(o, "errnoRet", path, 0, &s->errno_ret, &s->has_errno_ret, err)) < 0 ||
        (r = f_objarray(o, "args", path, 6, &s->args, &s->n_args, sizeof *s->args, parse_scmp_arg,
                        NULL, err)) < 0)
        return r;
    jp_key(p, sizeof p, path, "action");
    return check_name(seccomp_actions, ARRAY_SIZE(seccomp_actions), s->action, "seccomp action", p,
                      err);
}

static int parse_seccomp(const struct capsa_jv *o, const char *p, struct capsa_seccomp *s,
                         struct capsa_err *err)
{
    char pk[JP], pi[JP];
    int r;
    if ((r = f_str(o, "defaultAction", p, REQ, &s->default_action, err)) < 0)
        return r;
    jp_key(pk, sizeof pk, p, "defaultAction");
    if ((r = check_name(seccomp_actions, ARRAY_SIZE(seccomp_actions), s->default_action,
                        "seccomp action", pk, err)) < 0)
        return r;
    if ((r = f_u32(o, "defaultErrnoRet", p, 0, &s->default_errno_ret, &s->has_default_errno_ret,
                   err)) < 0 ||
        (r = f_strv(o, "architectures", p, 0, &s->architectures, &s->n_architectures, err)) < 0 ||
        (r = f_strv(o, "flags", p, 0, &s->flags, &s->n_flags, err)) < 0 ||
        (r = f_str(o, "listenerPath", p, ABS, &s->listener_path, err)) < 0 ||
        (r = f_str(o, "listenerMetadata", p, 0, &s->listener_metadata, err)) < 0 ||
        (r = f_objarray(o, "syscalls", p, MAX_ARRAY, &s->syscalls, &s->n_syscalls,
                        sizeof *s->syscalls, parse_scmp_syscall, NULL, err)) < 0)
        return r;
    jp_key(pk, sizeof pk, p, "architectures");
    for (size_t i = 0; i < s->n_architectures; i++) {
        if (strncmp(s->architectures[i], "SCMP_ARCH_", 10) != 0) {
            jp_idx(pi, sizeof pi, pk, i);
            return fail(err, pi, "unknown seccomp architecture \"%.64s\"", s->architectures[i]);
        }
    }
    jp_key(pk, sizeof pk, p, "flags");
    for (size_t i = 0; i < s->n_flags; i++) {
        jp_idx(pi, sizeof pi, pk, i);
        if ((r = check_name(seccomp_flags, ARRAY_SIZE(seccomp_flags), s->flags[i], "seccomp flag",
                            pi, err)) < 0)
            return r;
    }
    return 0;
}

static int parse_time_offset(const struct capsa_jv *o, const char *key, const char *path,
                             struct capsa_time_offset *t, struct capsa_err *err)
{
    const struct capsa_jv *sub;
    char p[JP];
    int r = f_sub(o, key, path, p, &sub, err);
    if (r <= 0)
        return r;
    if ((r = f_i64(sub, "secs", p, 0, INT64_MIN, INT64_MAX, &t->secs, NULL, err)) < 0 ||
        (r = f_u32(sub, "nanosecs", p, 0, &t->nanosecs, NULL, err)) < 0)
        return r;
    if (t->nanosecs >= 1000000000u) {
        char pn[JP];
        jp_key(pn, sizeof pn, p, "nanosecs");
        return fail(err, pn, "must be below 1000000000");
    }
    t->set = true;
    return 0;
}

static const char *const propagations[] = {
    "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate", "runbindable",
};

static int parse_linux(const struct capsa_jv *root, struct capsa_spec *spec, struct capsa_err *err)
{
    const struct capsa_jv *o, *sub;
    char p[JP], ps[JP];
    int r = f_sub(root, "linux", "", p, &o, err);
    if (r <= 0)
        return r;
    struct capsa_linux *l = &spec->linux_cfg;
    spec->has_linux = true;
    unsigned seen_ns = 0;
    if ((r = f_objarray(o, "namespaces", p, (size_t)CAPSA_NS_COUNT * 2, &l->namespaces,
                        &l->n_namespaces, sizeof *l->namespaces, parse_namespace, &seen_ns, err)) <
            0 ||
        (r = f_idmaps(o, "uidMappings", p, &l->uid_mappings, &l->n_uid_mappings, err)) < 0 ||
        (r = f_idmaps(o, "gidMappings", p, &l->gid_mappings, &l->n_gid_mappings, err)) < 0)
        return r;
    if ((r = f_sub(o, "timeOffsets", p, ps, &sub, err)) < 0)
        return r;
    if (r > 0 && ((r = parse_time_offset(sub, "monotonic", ps, &l->time_monotonic, err)) < 0 ||
                  (r = parse_time_offset(sub, "boottime", ps, &l->time_boottime, err)) < 0))
        return r;
    if ((r = f_objarray(o, "devices", p, MAX_ARRAY, &l->devices, &l->n_devices, sizeof *l->devices,
                        parse_device, NULL, err)) < 0 ||
        (r = f_str(o, "cgroupsPath", p, 0, &l->cgroups_path, err)) < 0)
        return r;
    if ((r = f_sub(o, "resources", p, ps, &sub, err)) < 0)
        return r;
    if (r > 0) {
        l->has_resources = true;
        if ((r = parse_resources(sub, ps, &l->resources, err)) < 0)
            return r;
    }
    if ((r = f_str(o, "rootfsPropagation", p, 0, &l->rootfs_propagation, err)) < 0)
        return r;
    if (l->rootfs_propagation != NULL) {
        jp_key(ps, sizeof ps, p, "rootfsPropagation");
        if ((r = check_name(propagations, ARRAY_SIZE(propagations), l->rootfs_propagation,
                            "propagation", ps, err)) < 0)
            return r;
    }
    if ((r = f_strv(o, "maskedPaths", p, ABS, &l->masked_paths, &l->n_masked_paths, err)) < 0 ||
        (r = f_strv(o, "readonlyPaths", p, ABS, &l->readonly_paths, &l->n_readonly_paths, err)) <
            0 ||
        (r = f_str(o, "mountLabel", p, 0, &l->mount_label, err)) < 0 ||
        (r = f_kvmap(o, "sysctl", p, &l->sysctl, &l->n_sysctl, err)) < 0)
        return r;
    if ((r = f_sub(o, "seccomp", p, ps, &sub, err)) < 0)
        return r;
    if (r > 0) {
        if ((l->seccomp = calloc(1, sizeof *l->seccomp)) == NULL)
            return nomem(err, ps);
        if ((r = parse_seccomp(sub, ps, l->seccomp, err)) < 0)
            return r;
    }
    if ((r = f_sub(o, "personality", p, ps, &sub, err)) < 0)
        return r;
    if (r > 0) {
        struct capsa_personality *pe = &l->personality;
        l->has_personality = true;
        if ((r = f_str(sub, "domain", ps, REQ, &pe->domain, err)) < 0 ||
            (r = f_strv(sub, "flags", ps, 0, &pe->flags, &pe->n_flags, err)) < 0)
            return r;
        if (strcmp(pe->domain, "LINUX") != 0 && strcmp(pe->domain, "LINUX32") != 0) {
            char pd[JP];
            jp_key(pd, sizeof pd, ps, "domain");
            return fail(err, pd, "unknown personality domain \"%.64s\" (want LINUX or LINUX32)",
                        pe->domain);
        }
    }
    if ((r = f_sub(o, "intelRdt", p, ps, &sub, err)) < 0)
        return r;
    if (r > 0) {
        l->intel_rdt = calloc(1, sizeof *l->intel_rdt);
        if (l->intel_rdt == NULL)
            return nomem(err, ps);
        struct capsa_intel_rdt *rdt = l->intel_rdt;
        if ((r = f_str(sub, "closID", ps, 0, &rdt->clos_id, err)) < 0 ||
            (r = f_str(sub, "l3CacheSchema", ps, 0, &rdt->l3_cache_schema, err)) < 0 ||
            (r = f_str(sub, "memBwSchema", ps, 0, &rdt->mem_bw_schema, err)) < 0 ||
            (r = f_bool(sub, "enableCMT", ps, 0, &rdt->enable_cmt, &rdt->has_enable_cmt, err)) <
                0 ||
            (r = f_bool(sub, "enableMBM", ps, 0, &rdt->enable_mbm, &rdt->has_enable_mbm, err)) < 0)
            return r;
    }
    return 0;
}

/* --- top level --- */

static int parse_doc(const struct capsa_jv *root, struct capsa_spec *spec, struct capsa_err *err)
{
    const struct capsa_jv *sub;
    char p[JP];
    int r;
    if ((r = f_str(root, "ociVersion", "", REQ, &spec->oci_version, err)) < 0)
        return r;
    if ((r = f_sub(root, "root", "", p, &sub, err)) < 0)
        return r;
    if (r > 0 && ((r = f_str(sub, "path", p, REQ, &spec->root_path, err)) < 0 ||
                  (r = f_bool(sub, "readonly", p, 0, &spec->root_readonly, NULL, err)) < 0))
        return r;
    if ((r = f_str(root, "hostname", "", 0, &spec->hostname, err)) < 0 ||
        (r = f_str(root, "domainname", "", 0, &spec->domainname, err)) < 0 ||
        (r = f_objarray(root, "mounts", "", MAX_MOUNTS, &spec->mounts, &spec->n_mounts,
                        sizeof *spec->mounts, parse_mount, NULL, err)) < 0 ||
        (r = parse_process(root, spec, err)) < 0 ||
        (r = parse_hooks(root, &spec->hooks, err)) < 0 ||
        (r = f_kvmap(root, "annotations", "", &spec->annotations, &spec->n_annotations, err)) < 0 ||
        (r = parse_linux(root, spec, err)) < 0)
        return r;
    return 0;
}

static void free_resources(struct capsa_resources *r);

typedef int (*root_fn)(const struct capsa_jv *root, void *arg, struct capsa_err *err);

static int spec_root(const struct capsa_jv *root, void *arg, struct capsa_err *err)
{
    struct capsa_spec **out = arg;
    struct capsa_spec *spec = calloc(1, sizeof *spec);
    if (spec == NULL)
        return capsa_err_set(err, ENOMEM, "config.json");
    int r = parse_doc(root, spec, err);
    if (r < 0) {
        capsa_spec_free(spec);
        return r;
    }
    *out = spec;
    return 0;
}

/* Strict load (duplicate keys, uint64 numbers) of a JSON object, handed to fn. */
static int parse_json_doc(const char *json, size_t len, const char *name, root_fn fn, void *arg,
                          struct capsa_err *err)
{
    if (json == NULL)
        return capsa_err_setx(err, EINVAL, "%s: no document", name);
    if (len > MAX_DOC_SIZE)
        return capsa_err_setx(err, EFBIG, "%s: document larger than %zu bytes", name, MAX_DOC_SIZE);
    struct capsa_jdoc doc;
    struct capsa_jerror jerr;
    int r = capsa_json_parse(json, len, CAPSA_JSON_UINT64, &doc, &jerr);
    if (r == -ENOMEM)
        return capsa_err_set(err, ENOMEM, "%s", name);
    if (r < 0)
        return capsa_err_setx(err, EINVAL, "%s:%d:%d: %s", name, jerr.line, jerr.column, jerr.text);
    if (!capsa_jv_is(&doc.root, CAPSA_J_OBJECT))
        r = capsa_err_setx(err, EINVAL, "%s: the document must be a JSON object", name);
    else
        r = fn(&doc.root, arg, err);
    capsa_json_free(&doc);
    return r;
}

static int parse_named(const char *json, size_t len, const char *name, struct capsa_spec **out,
                       struct capsa_err *err)
{
    *out = NULL;
    return parse_json_doc(json, len, name, spec_root, out, err);
}

static int resources_root(const struct capsa_jv *root, void *arg, struct capsa_err *err)
{
    struct capsa_resources *res = arg;
    int r = parse_resources(root, "linux.resources", res, err);
    if (r < 0)
        free_resources(res);
    return r;
}

int capsa_spec_parse_resources(const char *json, size_t len, struct capsa_resources **out,
                               struct capsa_err *err)
{
    *out = NULL;
    struct capsa_resources *res = calloc(1, sizeof *res);
    if (res == NULL)
        return capsa_err_set(err, ENOMEM, "resources");
    int r = parse_json_doc(json, len, "resources", resources_root, res, err);
    if (r < 0) {
        free(res);
        return r;
    }
    *out = res;
    return 0;
}

void capsa_resources_free(struct capsa_resources *res)
{
    if (res == NULL)
        return;
    free_resources(res);
    free(res);
}

struct process_doc {
    const char *name;
    struct capsa_process **out;
    struct capsa_spec_warnings *warnings;
};

static int process_root(const struct capsa_jv *root, void *arg, struct capsa_err *err)
{
    const struct process_doc *d = arg;
    int r = parse_process_obj(root, "process", d->out, d->warnings, err);
    if (r < 0) {
        capsa_process_free(*d->out);
        *d->out = NULL;
        /* Syntax errors already say "NAME:LINE:COL"; these name the file too. */
        capsa_err_wrap(err, "%s", d->name);
    }
    return r;
}

int capsa_spec_parse_process(const char *json, size_t len, const char *name,
                             struct capsa_process **out, struct capsa_spec_warnings *warnings,
                             struct capsa_err *err)
{
    *out = NULL;
    struct process_doc d = {.name = name, .out = out, .warnings = warnings};
    return parse_json_doc(json, len, name, process_root, &d, err);
}

int capsa_spec_parse(const char *json, size_t len, struct capsa_spec **out, struct capsa_err *err)
{
    return parse_named(json, len, "config.json", out, err);
}

int capsa_spec_load(const char *path, struct capsa_spec **out, struct capsa_err *err)
{
    cleanup_free char *buf = NULL;
    size_t len = 0;
    *out = NULL;
    int r = capsa_read_file_at(AT_FDCWD, path, MAX_DOC_SIZE + 1, &buf, &len, err);
    if (r < 0)
        return r;
    r = parse_named(buf, len, path, out, err);
    /* Syntax errors already start with "path:LINE:COL"; prefix the others. */
    if (r < 0 && err != NULL && strncmp(err->msg, path, strlen(path)) != 0)
        return capsa_err_wrap(err, "%s", path);
    return r;
}

/* --- freeing --- */

static void free_kv(struct capsa_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(kv[i].key);
        free(kv[i].value);
    }
    free(kv);
}

static void free_hooks(struct capsa_hook *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(h[i].path);
        capsa_strv_free(h[i].args);
        capsa_strv_free(h[i].env);
    }
    free(h);
}

void capsa_process_free(struct capsa_process *p)
{
    if (p == NULL)
        return;
    free(p->user.additional_gids);
    capsa_strv_free(p->args);
    capsa_strv_free(p->env);
    free(p->cwd);
    for (size_t i = 0; i < p->n_rlimits; i++)
        free(p->rlimits[i].type);
    free(p->rlimits);
    free(p->apparmor_profile);
    free(p->selinux_label);
    free(p);
}

static void free_resources(struct capsa_resources *r)
{
    for (size_t i = 0; i < r->n_devices; i++) {
        free(r->devices[i].type);
        free(r->devices[i].access);
    }
    free(r->devices);
    free(r->cpu.cpus);
    free(r->cpu.mems);
    free(r->blkio.weight_device);
    free(r->blkio.throttle_read_bps);
    free(r->blkio.throttle_write_bps);
    free(r->blkio.throttle_read_iops);
    free(r->blkio.throttle_write_iops);
    for (size_t i = 0; i < r->n_hugepage_limits; i++)
        free(r->hugepage_limits[i].page_size);
    free(r->hugepage_limits);
    for (size_t i = 0; i < r->n_net_priorities; i++)
        free(r->net_priorities[i].name);
    free(r->net_priorities);
    for (size_t i = 0; i < r->n_rdma; i++)
        free(r->rdma[i].device);
    free(r->rdma);
    free_kv(r->unified, r->n_unified);
}

static void free_seccomp(struct capsa_seccomp *s)
{
    if (s == NULL)
        return;
    free(s->default_action);
    capsa_strv_free(s->architectures);
    capsa_strv_free(s->flags);
    free(s->listener_path);
    free(s->listener_metadata);
    for (size_t i = 0; i < s->n_syscalls; i++) {
        capsa_strv_free(s->syscalls[i].names);
        free(s->syscalls[i].action);
        for (size_t j = 0; j < s->syscalls[i].n_args; j++)
            free(s->syscalls[i].args[j].op);
        free(s->syscalls[i].args);
    }
    free(s->syscalls);
    free(s);
}

static void free_linux(struct capsa_linux *l)
{
    for (size_t i = 0; i < l->n_namespaces; i++)
        free(l->namespaces[i].path);
    free(l->namespaces);
    free(l->uid_mappings);
    free(l->gid_mappings);
    for (size_t i = 0; i < l->n_devices; i++)
        free(l->devices[i].path);
    free(l->devices);
    free(l->cgroups_path);
    free_resources(&l->resources);
    free(l->rootfs_propagation);
    capsa_strv_free(l->masked_paths);
    capsa_strv_free(l->readonly_paths);
    free(l->mount_label);
    free_kv(l->sysctl, l->n_sysctl);
    free_seccomp(l->seccomp);
    free(l->personality.domain);
    capsa_strv_free(l->personality.flags);
    if (l->intel_rdt != NULL) {
        free(l->intel_rdt->clos_id);
        free(l->intel_rdt->l3_cache_schema);
        free(l->intel_rdt->mem_bw_schema);
        free(l->intel_rdt);
    }
}

int capsa_spec_warn(struct capsa_spec_warnings *w, const char *fmt, ...)
{
    if (w->n >= CAPSA_SPEC_MAX_WARNINGS) {
        w->n_dropped++;
        return 0;
    }
    if (w->v == NULL && (w->v = calloc(CAPSA_SPEC_MAX_WARNINGS, sizeof *w->v)) == NULL)
        return -ENOMEM;
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -ENOMEM;
    w->v[w->n++] = line;
    return 0;
}

void capsa_spec_warnings_free(struct capsa_spec_warnings *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i]);
    free(w->v);
    memset(w, 0, sizeof *w);
}

void capsa_spec_warnings_report(const struct capsa_spec *spec, capsa_warn_fn warn, void *opaque)
{
    if (spec == NULL || warn == NULL)
        return;
    const struct capsa_spec_warnings *w = &spec->warnings;
    for (size_t i = 0; i < w->n; i++)
        warn(opaque, w->v[i]);
    if (w->n_dropped > 0) {
        char line[96];
        snprintf(line, sizeof line, "config: %zu more warnings not shown", w->n_dropped);
        warn(opaque, line);
    }
}

void capsa_spec_free(struct capsa_spec *spec)
{
    if (spec == NULL)
        return;
    capsa_spec_warnings_free(&spec->warnings);
    free(spec->oci_version);
    free(spec->root_path);
    free(spec->hostname);
    free(spec->domainname);
    for (size_t i = 0; i < spec->n_mounts; i++) {
        struct capsa_mount *m = &spec->mounts[i];
        free(m->destination);
        free(m->type);
        free(m->source);
        capsa_strv_free(m->options);
        free(m->uid_mappings);
        free(m->gid_mappings);
    }
    free(spec->mounts);
    capsa_process_free(spec->process);
    free_hooks(spec->hooks.prestart, spec->hooks.n_prestart);
    free_hooks(spec->hooks.create_runtime, spec->hooks.n_create_runtime);
    free_hooks(spec->hooks.create_container, spec->hooks.n_create_container);
    free_hooks(spec->hooks.start_container, spec->hooks.n_start_container);
    free_hooks(spec->hooks.poststart, spec->hooks.n_poststart);
    free_hooks(spec->hooks.poststop, spec->hooks.n_poststop);
    free_kv(spec->annotations, spec->n_annotations);
    free_linux(&spec->linux_cfg);
    free(spec);
}

void capsa_spec_freep(struct capsa_spec **spec)
{
    if (spec != NULL && *spec != NULL) {
        capsa_spec_free(*spec);
        *spec = NULL;
    }
}
