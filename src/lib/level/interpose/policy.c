/* policy.c - the interpose level's per-container policy (interpose.h): the
 * capsa.interpose.* annotations parsed and checked once at create, and the
 * two questions the supervisor asks of it for every brokered call: may this
 * path be seen (and changed), may this address be reached.
 *
 * Paths are compared as strings of whole components, so the policy must hold
 * them in one canonical form: absolute, no empty, "." or ".." component, no
 * trailing slash. A ".." is refused rather than resolved: "/a/../b" names
 * "/b" only if "/a" is a directory and not a symlink, which only the
 * container's tree can say, and a policy must not depend on it. The paths the
 * supervisor asks about are canonical too (it resolves them in the
 * container's root, symlinks included, before asking). */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "level/interpose/interpose.h"
#include "util/util.h"

#define PREFIX "capsa.interpose."

/* "/a//b/" -> "/a/b"; "." and ".." components are errors. On success *out
 * is a heap string. key names the annotation in errors. */
static int normalise(const char *key, const char *in, size_t len, char **out, struct capsa_err *err)
{
    if (len == 0)
        return capsa_err_setx(err, EINVAL, "annotation %s: an empty path (two colons in a row?)",
                              key);
    if (in[0] != '/')
        return capsa_err_setx(err, EINVAL, "annotation %s: \"%.*s\": not an absolute path", key,
                              (int)(len > 256 ? 256 : len), in);
    if (len >= PATH_MAX)
        return capsa_err_setx(err, ENAMETOOLONG, "annotation %s: a path longer than %d bytes", key,
                              PATH_MAX - 1);
    cleanup_free char *s = malloc(len + 2);
    if (s == NULL)
        return capsa_err_set(err, ENOMEM, "annotation %s", key);
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        while (i < len && in[i] == '/')
            i++;
        size_t start = i;
        while (i < len && in[i] != '/')
            i++;
        size_t clen = i - start;
        if (clen == 0)
            break;
        if ((clen == 1 && in[start] == '.') ||
            (clen == 2 && in[start] == '.' && in[start + 1] == '.'))
            return capsa_err_setx(err, EINVAL,
                                  "annotation %s: \"%.*s\": \".\" and \"..\" components are not "
                                  "allowed (write the path they stand for)",
                                  key, (int)(len > 256 ? 256 : len), in);
        s[n++] = '/';
        memcpy(s + n, in + start, clen);
        n += clen;
    }
    if (n == 0)
        s[n++] = '/';
    s[n] = '\0';
    *out = steal_ptr(s);
    return 0;
}

/* A colon-separated list of paths into a heap vector. An empty value is an
 * empty list. */
static int parse_paths(const char *key, const char *value, char ***out, size_t *n_out,
                       struct capsa_err *err)
{
    size_t cap = 1;
    for (const char *c = value; *c; c++)
        cap += *c == ':';
    if (value[0] == '\0')
        cap = 0;
    char **v = calloc(cap + 1, sizeof *v);
    if (v == NULL)
        return capsa_err_set(err, ENOMEM, "annotation %s", key);
    size_t n = 0;
    const char *p = value;
    while (cap > 0) {
        const char *end = strchr(p, ':');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        int r = normalise(key, p, len, &v[n], err);
        if (r < 0) {
            capsa_strv_free(v);
            return r;
        }
        n++;
        if (end == NULL)
            break;
        p = end + 1;
    }
    /* The same annotation twice (a config with a repeated key): the last
     * one counts, as for every other key. */
    capsa_strv_free(*out);
    *out = v;
    *n_out = n;
    return 0;
}

static int parse_port(const char *key, const char *rule, const char *s, uint16_t *out,
                      struct capsa_err *err)
{
    int64_t v = 0;
    if (capsa_parse_int64(s, 1, 65535, &v) < 0)
        return capsa_err_setx(err, EINVAL, "annotation %s: \"%s\": port \"%s\" is not 1..65535",
                              key, rule, s);
    *out = (uint16_t)v;
    return 0;
}

/* ADDR[/PREFIX][:PORT], or [ADDR6][/PREFIX][:PORT]; rule is one
 * NUL-terminated element, trimmed, which this modifies. */
static int parse_rule(const char *key, char *rule, struct capsa_ip_net_rule *out,
                      struct capsa_err *err)
{
    /* A copy for messages: parsing cuts rule in pieces. */
    char shown[128];
    snprintf(shown, sizeof shown, "%s", rule);
    char *addr = rule, *rest = NULL;
    if (rule[0] == '[') {
        char *close = strchr(rule, ']');
        if (close == NULL)
            return capsa_err_setx(err, EINVAL, "annotation %s: \"%s\": no closing ']'", key, shown);
        *close = '\0';
        addr = rule + 1;
        rest = close + 1;
        out->family = AF_INET6;
    } else {
        char *colon = strchr(rule, ':');
        if (colon != NULL && strchr(colon + 1, ':') != NULL)
            return capsa_err_setx(err, EINVAL,
                                  "annotation %s: \"%s\": an IPv6 address goes in brackets "
                                  "([2001:db8::1]:443)",
                                  key, shown);
        rest = rule + strcspn(rule, "/:");
        out->family = AF_INET;
    }
    /* rest: "", "/PREFIX", ":PORT" or "/PREFIX:PORT"; cut off addr there. */
    char *slash = NULL, *port = NULL;
    if (*rest == '/') {
        *rest = '\0';
        slash = rest + 1;
        port = strchr(slash, ':');
        if (port != NULL)
            *port++ = '\0';
    } else if (*rest == ':') {
        *rest = '\0';
        port = rest + 1;
    } else if (*rest != '\0') {
        return capsa_err_setx(err, EINVAL,
                              "annotation %s: \"%s\": expected /PREFIX or :PORT after the address",
                              key, shown);
    }
    if (inet_pton(out->family, addr, out->addr) != 1)
        return capsa_err_setx(err, EINVAL, "annotation %s: \"%s\": \"%s\" is not an %s address",
                              key, shown, addr, out->family == AF_INET ? "IPv4" : "IPv6");
    unsigned max = out->family == AF_INET ? 32 : 128;
    out->prefix = max;
    if (slash != NULL) {
        int64_t v = 0;
        if (capsa_parse_int64(slash, 0, max, &v) < 0)
            return capsa_err_setx(err, EINVAL, "annotation %s: \"%s\": prefix \"%s\" is not 0..%u",
                                  key, shown, slash, max);
        out->prefix = (unsigned)v;
    }
    /* Host bits set under the prefix are most likely a typo for another
     * network: say so rather than guess which one was meant. */
    unsigned bytes = max / 8;
    for (unsigned i = 0; i < bytes; i++) {
        unsigned keep = out->prefix > i * 8 ? out->prefix - i * 8 : 0;
        uint8_t mask = keep >= 8 ? 0xff : (uint8_t)(0xff00 >> keep);
        if (out->addr[i] & (uint8_t)~mask)
            return capsa_err_setx(err, EINVAL,
                                  "annotation %s: \"%s\": address bits set beyond the /%u prefix",
                                  key, shown, out->prefix);
    }
    out->port = 0;
    if (port != NULL)
        return parse_port(key, shown, port, &out->port, err);
    return 0;
}

static int parse_egress(const char *key, const char *value, struct capsa_ip_policy *p,
                        struct capsa_err *err)
{
    p->egress_set = true;
    /* A repeated key: the last one counts. */
    free(p->egress);
    p->egress = NULL;
    p->n_egress = 0;
    if (strcmp(value, "none") == 0)
        return 0;
    size_t cap = 1;
    for (const char *c = value; *c; c++)
        cap += *c == ',';
    p->egress = calloc(cap, sizeof *p->egress);
    if (p->egress == NULL)
        return capsa_err_set(err, ENOMEM, "annotation %s", key);
    cleanup_free char *copy = NULL;
    int r = capsa_strdup(value, &copy, err);
    if (r < 0)
        return r;
    char *tok = copy;
    /* strtok_r would silently skip empty elements ("a,,b"): split by hand. */
    for (;;) {
        char *comma = strchr(tok, ',');
        if (comma != NULL)
            *comma = '\0';
        while (*tok == ' ' || *tok == '\t')
            tok++;
        size_t len = strlen(tok);
        while (len > 0 && (tok[len - 1] == ' ' || tok[len - 1] == '\t'))
            tok[--len] = '\0';
        if (len == 0)
            return capsa_err_setx(
                err, EINVAL, "annotation %s: an empty rule (write \"none\" for no egress)", key);
        if (strcmp(tok, "none") == 0)
            return capsa_err_setx(err, EINVAL,
                                  "annotation %s: \"none\" cannot be combined with rules", key);
        if ((r = parse_rule(key, tok, &p->egress[p->n_egress], err)) < 0)
            return r;
        p->n_egress++;
        if (comma == NULL)
            break;
        tok = comma + 1;
    }
    return 0;
}

static int parse_one(const char *key, const char *value, struct capsa_ip_policy *p,
                     struct capsa_err *err)
{
    const char *name = key + strlen(PREFIX);
    if (strcmp(name, "readonly") == 0)
        return parse_paths(key, value, &p->readonly, &p->n_readonly, err);
    if (strcmp(name, "hidden") == 0) {
        int r = parse_paths(key, value, &p->hidden, &p->n_hidden, err);
        for (size_t i = 0; r == 0 && i < p->n_hidden; i++) {
            if (strcmp(p->hidden[i], "/") == 0)
                return capsa_err_setx(err, EINVAL, "annotation %s: \"/\" would hide the whole root",
                                      key);
        }
        return r;
    }
    if (strcmp(name, "devices") == 0) {
        if (strcmp(value, "none") == 0 || strcmp(value, "all") == 0) {
            p->all_devices = strcmp(value, "all") == 0;
            return 0;
        }
        return capsa_err_setx(err, EINVAL, "annotation %s: \"%.64s\": expected none or all", key,
                              value);
    }
    if (strcmp(name, "egress") == 0)
        return parse_egress(key, value, p, err);
    if (strcmp(name, "audit") == 0) {
        if (strcmp(value, "none") == 0)
            p->audit = CAPSA_IP_AUDIT_NONE;
        else if (strcmp(value, "refused") == 0)
            p->audit = CAPSA_IP_AUDIT_REFUSED;
        else if (strcmp(value, "all") == 0)
            p->audit = CAPSA_IP_AUDIT_ALL;
        else
            return capsa_err_setx(
                err, EINVAL, "annotation %s: \"%.64s\": expected refused, all or none", key, value);
        return 0;
    }
    if (strcmp(name, "record") == 0) {
        if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
            p->record = strcmp(value, "true") == 0;
            return 0;
        }
        return capsa_err_setx(err, EINVAL, "annotation %s: \"%.64s\": expected true or false", key,
                              value);
    }
    return capsa_err_setx(err, EINVAL,
                          "annotation %.128s: unknown (known: " PREFIX "readonly, hidden, devices, "
                          "egress, audit, record)",
                          key);
}

int capsa_ip_policy_parse(const struct capsa_spec *spec, struct capsa_ip_policy *out,
                          struct capsa_err *err)
{
    memset(out, 0, sizeof *out);
    out->audit = CAPSA_IP_AUDIT_REFUSED;
    for (size_t i = 0; spec != NULL && i < spec->n_annotations; i++) {
        const struct capsa_kv *kv = &spec->annotations[i];
        if (kv->key == NULL || strncmp(kv->key, PREFIX, strlen(PREFIX)) != 0)
            continue;
        int r = parse_one(kv->key, kv->value ? kv->value : "", out, err);
        if (r < 0) {
            capsa_ip_policy_free(out);
            return r;
        }
    }
    return 0;
}

void capsa_ip_policy_free(struct capsa_ip_policy *p)
{
    if (p == NULL)
        return;
    capsa_strv_free(p->readonly);
    capsa_strv_free(p->hidden);
    free(p->egress);
    memset(p, 0, sizeof *p);
    p->audit = CAPSA_IP_AUDIT_REFUSED;
}

/* Whether path is base or below it, by whole components. */
static bool at_or_under(const char *path, const char *base)
{
    if (base[0] == '/' && base[1] == '\0')
        return path[0] == '/';
    size_t n = strlen(base);
    return strncmp(path, base, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Whether path is in the canonical form the policy compares: absolute, no
 * empty, "." or ".." component, no trailing slash (but "/"). */
static bool canonical(const char *path)
{
    if (path[0] != '/')
        return false;
    if (path[1] == '\0')
        return true;
    for (const char *c = path; *c != '\0';) {
        const char *start = ++c; /* past the '/' */
        while (*c != '\0' && *c != '/')
            c++;
        size_t len = (size_t)(c - start);
        if (len == 0 || (len == 1 && start[0] == '.') ||
            (len == 2 && start[0] == '.' && start[1] == '.'))
            return false;
    }
    return true;
}

int capsa_ip_policy_path(const struct capsa_ip_policy *p, const char *path, bool modify)
{
    /* A string compare of "/etc/../etc/shadow" would miss "/etc/shadow":
     * a path not in canonical form is a caller's bug, refused, never a pass. */
    if (path == NULL || !canonical(path))
        return -EINVAL;
    for (size_t i = 0; i < p->n_hidden; i++) {
        if (at_or_under(path, p->hidden[i]))
            return -ENOENT;
    }
    for (size_t i = 0; modify && i < p->n_readonly; i++) {
        if (at_or_under(path, p->readonly[i]))
            return -EROFS;
    }
    return 0;
}

int capsa_ip_policy_holds(const struct capsa_ip_policy *p, const char *path)
{
    if (path == NULL || !canonical(path))
        return -EINVAL;
    for (size_t i = 0; i < p->n_hidden; i++) {
        if (strcmp(p->hidden[i], path) != 0 && at_or_under(p->hidden[i], path))
            return -EPERM;
    }
    for (size_t i = 0; i < p->n_readonly; i++) {
        if (strcmp(p->readonly[i], path) != 0 && at_or_under(p->readonly[i], path))
            return -EPERM;
    }
    return 0;
}

static bool in_prefix(const uint8_t *a, const uint8_t *net, unsigned prefix)
{
    unsigned full = prefix / 8, bits = prefix % 8;
    if (memcmp(a, net, full) != 0)
        return false;
    if (bits == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff00 >> bits);
    return (a[full] & mask) == (net[full] & mask);
}

int capsa_ip_policy_addr(const struct capsa_ip_policy *p, const struct sockaddr *sa, socklen_t len)
{
    if (!p->egress_set || sa == NULL || len < (socklen_t)sizeof(sa_family_t))
        return 0;
    int family;
    uint8_t addr[16];
    uint16_t port;
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in in;
        if (len < (socklen_t)sizeof in)
            return -EINVAL; /* what connect(2) says; never a pass */
        memcpy(&in, sa, sizeof in);
        family = AF_INET;
        memcpy(addr, &in.sin_addr, 4);
        port = ntohs(in.sin_port);
    } else if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 in6;
        if (len < (socklen_t)sizeof in6)
            return -EINVAL;
        memcpy(&in6, sa, sizeof in6);
        port = ntohs(in6.sin6_port);
        /* An IPv4-mapped address (::ffff:a.b.c.d) on an IPv6 socket reaches
         * the IPv4 host a.b.c.d: it is checked as that. */
        if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
            family = AF_INET;
            memcpy(addr, &in6.sin6_addr.s6_addr[12], 4);
        } else {
            family = AF_INET6;
            memcpy(addr, &in6.sin6_addr, 16);
        }
    } else {
        return 0;
    }
    /* Loopback, and the unspecified address (which Linux connects to the
     * local host), never leave the container's network namespace. */
    static const uint8_t zero[16];
    if (family == AF_INET && (addr[0] == 127 || memcmp(addr, zero, 4) == 0))
        return 0;
    if (family == AF_INET6 &&
        (memcmp(addr, zero, 16) == 0 || (memcmp(addr, zero, 15) == 0 && addr[15] == 1)))
        return 0;
    for (size_t i = 0; i < p->n_egress; i++) {
        const struct capsa_ip_net_rule *r = &p->egress[i];
        if (r->family != family || !in_prefix(addr, r->addr, r->prefix))
            continue;
        if (r->port == 0 || r->port == port)
            return 0;
    }
    return -ECONNREFUSED;
}
