/* sdprop.c - org.systemd.property.* annotations (see sdprop.h). */
#include "linux/sdprop.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

void capsa_sdprop_free(struct capsa_sdprop *p)
{
    free(p->s);
    for (size_t i = 0; i < p->n; i++)
        free(p->strv[i]);
    free(p->strv);
    memset(p, 0, sizeof *p);
}

struct cur {
    const char *p;
};

static void skip_ws(struct cur *c)
{
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\n')
        c->p++;
}

static bool word(struct cur *c, const char *w)
{
    size_t n = strlen(w);
    if (strncmp(c->p, w, n) != 0 || isalnum((unsigned char)c->p[n]) || c->p[n] == '_')
        return false;
    c->p += n;
    return true;
}

/* A quoted string; *out malloc'ed. -EINVAL when unterminated or a bad
 * escape. */
static int parse_string(struct cur *c, char **out)
{
    char q = *c->p++;
    size_t cap = strlen(c->p) + 1, n = 0;
    char *s = malloc(cap);
    if (s == NULL)
        return -ENOMEM;
    for (;;) {
        char ch = *c->p++;
        if (ch == '\0') {
            free(s);
            return -EINVAL;
        }
        if (ch == q)
            break;
        if (ch == '\\') {
            ch = *c->p++;
            switch (ch) {
            case 'n':
                ch = '\n';
                break;
            case 't':
                ch = '\t';
                break;
            case '\\':
            case '\'':
            case '"':
                break;
            default:
                free(s);
                return -EINVAL;
            }
        }
        s[n++] = ch;
    }
    s[n] = '\0';
    *out = s;
    return 0;
}

/* A number: integer (decimal or 0x) into *i / *is_int, else a double. */
static int parse_number(struct cur *c, int64_t *i, double *d, bool *is_int)
{
    const char *start = c->p;
    size_t len = strspn(start, "+-0123456789abcdefABCDEFxX.");
    if (len == 0 || len > 40)
        return -EINVAL;
    char buf[48];
    memcpy(buf, start, len);
    buf[len] = '\0';
    char *end = NULL;
    bool hex = strstr(buf, "0x") || strstr(buf, "0X");
    errno = 0;
    if (hex || strpbrk(buf, ".eE") == NULL) {
        long long v = strtoll(buf, &end, 0);
        if (errno != 0 || end == buf || *end != '\0')
            return -EINVAL;
        *i = v;
        *is_int = true;
    } else {
        double v = strtod(buf, &end);
        if (errno != 0 || end == buf || *end != '\0' || !isfinite(v))
            return -EINVAL;
        *d = v;
        *is_int = false;
    }
    c->p += len;
    return 0;
}

static const struct {
    const char *kw;
    const char *sig;
} keywords[] = {
    {"boolean", "b"}, {"byte", "y"},   {"int32", "i"},  {"uint32", "u"},
    {"int64", "x"},   {"uint64", "t"}, {"double", "d"}, {"string", "s"},
};

static const char *const sigs[] = {"b", "y", "i", "u", "x", "t", "d", "s", "as"};

/* Give value v (an integer, or a double) the numeric type sig. */
static int set_number(struct capsa_sdprop *p, const char *sig, bool is_int, int64_t i, double d)
{
    snprintf(p->sig, sizeof p->sig, "%s", sig);
    if (strcmp(sig, "d") == 0) {
        p->d = is_int ? (double)i : d;
        return 0;
    }
    if (!is_int)
        return -EINVAL;
    if (strcmp(sig, "i") == 0 && (i < INT32_MIN || i > INT32_MAX))
        return -ERANGE;
    if (strcmp(sig, "y") == 0 && (i < 0 || i > 255))
        return -ERANGE;
    if (strcmp(sig, "u") == 0 && (i < 0 || i > (int64_t)UINT32_MAX))
        return -ERANGE;
    if (strcmp(sig, "t") == 0 && i < 0)
        return -ERANGE;
    if (strcmp(sig, "i") == 0 || strcmp(sig, "x") == 0)
        p->i = i;
    else if (strcmp(sig, "y") == 0 || strcmp(sig, "u") == 0 || strcmp(sig, "t") == 0)
        p->u = (uint64_t)i;
    else
        return -EINVAL; /* b, s, as take no number */
    return 0;
}

static int parse_value(struct cur *c, struct capsa_sdprop *p)
{
    const char *sig = NULL;
    skip_ws(c);
    if (*c->p == '@') {
        c->p++;
        for (size_t k = 0; k < sizeof sigs / sizeof sigs[0] && !sig; k++) {
            size_t n = strlen(sigs[k]);
            if (strncmp(c->p, sigs[k], n) == 0 && (c->p[n] == ' ' || c->p[n] == '\t')) {
                sig = sigs[k];
                c->p += n;
            }
        }
        if (sig == NULL)
            return -ENOTSUP;
    } else {
        for (size_t k = 0; k < sizeof keywords / sizeof keywords[0] && !sig; k++)
            if (word(c, keywords[k].kw))
                sig = keywords[k].sig;
    }
    skip_ws(c);
    int r;
    bool is_true = word(c, "true");
    if (is_true || word(c, "false")) {
        if (sig && strcmp(sig, "b") != 0)
            return -EINVAL;
        snprintf(p->sig, sizeof p->sig, "b");
        p->b = is_true;
        return 0;
    }
    if (*c->p == '\'' || *c->p == '"') {
        if (sig && strcmp(sig, "s") != 0)
            return -EINVAL;
        snprintf(p->sig, sizeof p->sig, "s");
        return parse_string(c, &p->s);
    }
    if (*c->p == '[') {
        if (sig && strcmp(sig, "as") != 0)
            return -EINVAL;
        c->p++;
        skip_ws(c);
        snprintf(p->sig, sizeof p->sig, "as");
        if (*c->p == ']') {
            c->p++;
            return sig ? 0 : -EINVAL; /* [] has no type without @as */
        }
        for (;;) {
            skip_ws(c);
            if (*c->p != '\'' && *c->p != '"')
                return -ENOTSUP; /* only arrays of strings */
            char **nv = realloc(p->strv, (p->n + 1) * sizeof *nv);
            if (nv == NULL)
                return -ENOMEM;
            p->strv = nv;
            if ((r = parse_string(c, &p->strv[p->n])) < 0)
                return r;
            p->n++;
            skip_ws(c);
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p == ']') {
                c->p++;
                return 0;
            }
            return -EINVAL;
        }
    }
    int64_t i = 0;
    double d = 0;
    bool is_int = false;
    if ((r = parse_number(c, &i, &d, &is_int)) < 0)
        return r;
    return set_number(p, sig ? sig : is_int ? "i" : "d", is_int, i, d);
}

/* "TimeoutStopSec" (a lowercase letter before Sec) -> "TimeoutStopUSec",
 * the value in microseconds. */
static int sec_to_usec(struct capsa_sdprop *p)
{
    size_t n = strlen(p->name);
    if (n < 4 || strcmp(p->name + n - 3, "Sec") != 0 || !islower((unsigned char)p->name[n - 4]))
        return 0;
    if (n + 1 >= sizeof p->name)
        return -EINVAL;
    memcpy(p->name + n - 3, "USec", 5);
    uint64_t us;
    if (strcmp(p->sig, "d") == 0) {
        if (!(p->d >= 0) || p->d > 1.8e13)
            return -ERANGE;
        us = (uint64_t)(p->d * 1e6);
    } else if (strcmp(p->sig, "i") == 0 || strcmp(p->sig, "x") == 0) {
        if (p->i < 0 || (uint64_t)p->i > UINT64_MAX / 1000000)
            return -ERANGE;
        us = (uint64_t)p->i * 1000000;
    } else if (strcmp(p->sig, "y") == 0 || strcmp(p->sig, "u") == 0 || strcmp(p->sig, "t") == 0) {
        if (p->u > UINT64_MAX / 1000000)
            return -ERANGE;
        us = p->u * 1000000;
    } else {
        return -EINVAL;
    }
    snprintf(p->sig, sizeof p->sig, "t");
    p->u = us;
    return 0;
}

int capsa_sdprop_parse(const char *key, const char *text, struct capsa_sdprop *out,
                       struct capsa_err *err)
{
    memset(out, 0, sizeof *out);
    const char *name = key + strlen(CAPSA_SDPROP_PREFIX);
    size_t len = strlen(name);
    bool ok = strncmp(key, CAPSA_SDPROP_PREFIX, strlen(CAPSA_SDPROP_PREFIX)) == 0 && len >= 3 &&
              len < sizeof out->name - 1 && name[0] >= 'A' && name[0] <= 'Z';
    for (size_t k = 1; ok && k < len; k++)
        ok = isalnum((unsigned char)name[k]) && !(name[k] & 0x80);
    if (!ok)
        return capsa_err_setx(err, EINVAL,
                              "annotation %s: not a systemd property name (a capital letter, then "
                              "letters and digits)",
                              key);
    memcpy(out->name, name, len + 1);
    struct cur c = {.p = text ? text : ""};
    int r = parse_value(&c, out);
    if (r == 0) {
        skip_ws(&c);
        if (*c.p != '\0')
            r = -EINVAL;
    }
    if (r == 0)
        r = sec_to_usec(out);
    if (r < 0) {
        capsa_sdprop_free(out);
        if (r == -ENOMEM)
            return capsa_err_set(err, ENOMEM, "annotation %s", key);
        return capsa_err_setx(err, r == -ENOTSUP ? ENOTSUP : EINVAL,
                              "annotation %s: value \"%s\" is not a GVariant text value capsa "
                              "takes (e.g. \"uint64 123\", \"'text'\", \"true\", \"@as ['a']\")%s",
                              key, text ? text : "", r == -ERANGE ? ": out of range" : "");
    }
    return 0;
}

static void put_prop(struct capsa_dbus_buf *b, const struct capsa_sdprop *p)
{
    capsa_dbus_align(b, 8);
    capsa_dbus_put_str(b, p->name);
    capsa_dbus_put_sig(b, p->sig);
    switch (p->sig[0]) {
    case 'b':
        capsa_dbus_put_bool(b, p->b);
        break;
    case 'y':
        capsa_dbus_put_byte(b, (uint8_t)p->u);
        break;
    case 'i':
        capsa_dbus_put_u32(b, (uint32_t)(int32_t)p->i);
        break;
    case 'u':
        capsa_dbus_put_u32(b, (uint32_t)p->u);
        break;
    case 'x':
        capsa_dbus_put_u64(b, (uint64_t)p->i);
        break;
    case 't':
        capsa_dbus_put_u64(b, p->u);
        break;
    case 'd': {
        uint64_t bits;
        memcpy(&bits, &p->d, sizeof bits);
        capsa_dbus_put_u64(b, bits);
        break;
    }
    case 's':
        capsa_dbus_put_str(b, p->s);
        break;
    case 'a': {
        struct capsa_dbus_array a = capsa_dbus_array_open(b, 4);
        for (size_t k = 0; k < p->n; k++)
            capsa_dbus_put_str(b, p->strv[k]);
        capsa_dbus_array_close(b, a);
        break;
    }
    default:
        break;
    }
}

int capsa_sdprop_append(const struct capsa_kv *ann, size_t n, struct capsa_dbus_buf *b,
                        struct capsa_err *err)
{
    size_t plen = strlen(CAPSA_SDPROP_PREFIX);
    for (size_t k = 0; k < n; k++) {
        if (strncmp(ann[k].key, CAPSA_SDPROP_PREFIX, plen) != 0)
            continue;
        struct capsa_sdprop p;
        int r = capsa_sdprop_parse(ann[k].key, ann[k].value, &p, err);
        if (r < 0)
            return r;
        if (strcmp(p.name, "PIDs") == 0) {
            capsa_sdprop_free(&p);
            return capsa_err_setx(err, EINVAL,
                                  "annotation %s: the unit's processes are the runtime's to give",
                                  ann[k].key);
        }
        if (b)
            put_prop(b, &p);
        capsa_sdprop_free(&p);
    }
    return 0;
}
