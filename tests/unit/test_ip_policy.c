/* test_ip_policy.c - the interpose level's policy (src/lib/level/interpose/policy.c):
 * each capsa.interpose.* annotation parsed, every kind of bad value refused
 * with a message naming the annotation, path normalisation, and the two
 * questions the supervisor asks (capsa_ip_policy_path, capsa_ip_policy_addr)
 * at the edges of what they must tell apart. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "level/interpose/interpose.h"

#define S(lit) ((char *)(lit))

/* Parse a spec holding the given key/value pairs (NULL-terminated). */
static int parse(struct capsa_ip_policy *p, struct capsa_err *err, ...)
{
    struct capsa_kv kv[8];
    size_t n = 0;
    va_list ap;
    va_start(ap, err);
    const char *k;
    while ((k = va_arg(ap, const char *)) != NULL) {
        assert_true(n < 8);
        kv[n].key = S(k);
        kv[n].value = va_arg(ap, char *);
        n++;
    }
    va_end(ap);
    struct capsa_spec spec = {.annotations = kv, .n_annotations = n};
    memset(err, 0, sizeof *err);
    return capsa_ip_policy_parse(&spec, p, err);
}

/* One annotation that must be refused with a message containing both
 * needles. */
static void refused(const char *key, const char *value, const char *needle, const char *needle2)
{
    struct capsa_ip_policy p;
    struct capsa_err err;
    int r = parse(&p, &err, key, value, NULL);
    if (r >= 0)
        fail_msg("%s=\"%s\" was accepted", key, value);
    assert_int_equal(r, -err.errnum);
    if (strstr(err.msg, needle) == NULL || (needle2 && strstr(err.msg, needle2) == NULL))
        fail_msg("%s=\"%s\": message \"%s\" lacks \"%s\" / \"%s\"", key, value, err.msg, needle,
                 needle2 ? needle2 : "");
    /* A refused parse leaves nothing to free, and freeing again is harmless. */
    assert_null(p.readonly);
    assert_null(p.egress);
    capsa_ip_policy_free(&p);
}

static void test_defaults(void **state)
{
    (void)state;
    struct capsa_ip_policy p;
    struct capsa_err err;
    /* Annotations of others are not ours to judge. */
    assert_int_equal(parse(&p, &err, "capsa.isolation", "interpose", "capsa.interposeX", "1",
                           "org.example.interpose.readonly", "rel", NULL),
                     0);
    assert_int_equal(p.n_readonly, 0);
    assert_int_equal(p.n_hidden, 0);
    assert_false(p.all_devices);
    assert_false(p.egress_set);
    assert_int_equal(p.audit, CAPSA_IP_AUDIT_REFUSED);
    assert_false(p.record);
    assert_int_equal(capsa_ip_policy_path(&p, "/etc/shadow", true), 0);
    capsa_ip_policy_free(&p);
    struct capsa_err e2;
    assert_int_equal(capsa_ip_policy_parse(NULL, &p, &e2), 0);
    capsa_ip_policy_free(&p);
}

static void test_values(void **state)
{
    (void)state;
    struct capsa_ip_policy p;
    struct capsa_err err;
    assert_int_equal(parse(&p, &err, "capsa.interpose.readonly", "//etc///ssl/:/usr", //
                           "capsa.interpose.hidden", "/root:/var/secret//",           //
                           "capsa.interpose.devices", "all",                          //
                           "capsa.interpose.audit", "all",                            //
                           "capsa.interpose.record", "true", NULL),
                     0);
    assert_int_equal(p.n_readonly, 2);
    assert_string_equal(p.readonly[0], "/etc/ssl");
    assert_string_equal(p.readonly[1], "/usr");
    assert_null(p.readonly[2]); /* a NULL-terminated vector */
    assert_int_equal(p.n_hidden, 2);
    assert_string_equal(p.hidden[0], "/root");
    assert_string_equal(p.hidden[1], "/var/secret");
    assert_true(p.all_devices);
    assert_int_equal(p.audit, CAPSA_IP_AUDIT_ALL);
    assert_true(p.record);
    capsa_ip_policy_free(&p);
    assert_int_equal(p.n_readonly, 0);
    capsa_ip_policy_free(&p);

    assert_int_equal(parse(&p, &err, "capsa.interpose.audit", "none", "capsa.interpose.record",
                           "false", "capsa.interpose.devices", "none", "capsa.interpose.readonly",
                           "/", "capsa.interpose.hidden", "", NULL),
                     0);
    assert_int_equal(p.audit, CAPSA_IP_AUDIT_NONE);
    assert_false(p.record);
    assert_false(p.all_devices);
    assert_int_equal(p.n_readonly, 1);
    assert_string_equal(p.readonly[0], "/");
    assert_int_equal(p.n_hidden, 0);
    capsa_ip_policy_free(&p);
}

static void test_parse_errors(void **state)
{
    (void)state;
    refused("capsa.interpose.readonlyy", "/a", "capsa.interpose.readonlyy", "unknown");
    refused("capsa.interpose.", "x", "capsa.interpose.", "unknown");
    refused("capsa.interpose.readonly", "etc", "capsa.interpose.readonly", "not an absolute");
    refused("capsa.interpose.readonly", "/a::/b", "capsa.interpose.readonly", "empty path");
    refused("capsa.interpose.readonly", "/a:", "capsa.interpose.readonly", "empty path");
    refused("capsa.interpose.hidden", "/a/../etc", "capsa.interpose.hidden", "\"..\"");
    refused("capsa.interpose.hidden", "/a/./b", "capsa.interpose.hidden", "\".\"");
    refused("capsa.interpose.hidden", "/..", "capsa.interpose.hidden", "\"..\"");
    refused("capsa.interpose.hidden", "//", "capsa.interpose.hidden", "whole root");
    refused("capsa.interpose.devices", "some", "capsa.interpose.devices", "none or all");
    refused("capsa.interpose.audit", "most", "capsa.interpose.audit", "refused, all or none");
    refused("capsa.interpose.record", "yes", "capsa.interpose.record", "true or false");
    refused("capsa.interpose.egress", "", "capsa.interpose.egress", "empty rule");
    refused("capsa.interpose.egress", "10.0.0.1,,10.0.0.2", "capsa.interpose.egress", "empty rule");
    refused("capsa.interpose.egress", "none,10.0.0.1", "capsa.interpose.egress", "\"none\"");
    refused("capsa.interpose.egress", "10.0.0.256", "capsa.interpose.egress", "not an IPv4");
    refused("capsa.interpose.egress", "example.com:443", "capsa.interpose.egress", "not an IPv4");
    refused("capsa.interpose.egress", "10.0.0.0/33", "capsa.interpose.egress", "prefix");
    refused("capsa.interpose.egress", "10.0.0.0/-1", "capsa.interpose.egress", "prefix");
    refused("capsa.interpose.egress", "10.0.0.0/", "capsa.interpose.egress", "prefix");
    refused("capsa.interpose.egress", "10.1.0.0/8", "capsa.interpose.egress", "beyond the /8");
    refused("capsa.interpose.egress", "10.0.0.1:0", "capsa.interpose.egress", "port");
    refused("capsa.interpose.egress", "10.0.0.1:65536", "capsa.interpose.egress", "port");
    refused("capsa.interpose.egress", "10.0.0.1:http", "capsa.interpose.egress", "port");
    refused("capsa.interpose.egress", "10.0.0.1:", "capsa.interpose.egress", "port");
    refused("capsa.interpose.egress", "2001:db8::1", "capsa.interpose.egress", "brackets");
    refused("capsa.interpose.egress", "[2001:db8::1", "capsa.interpose.egress", "']'");
    refused("capsa.interpose.egress", "[2001:db8::1]x", "capsa.interpose.egress", "/PREFIX");
    refused("capsa.interpose.egress", "[10.0.0.1]", "capsa.interpose.egress", "not an IPv6");
    refused("capsa.interpose.egress", "[2001:db8::]/129", "capsa.interpose.egress", "prefix");
    refused("capsa.interpose.egress", "[2001:db8::1]/64", "capsa.interpose.egress",
            "beyond the /64");
    /* One bad annotation among good ones: the whole parse fails, no leak. */
    struct capsa_ip_policy p;
    struct capsa_err err;
    assert_true(parse(&p, &err, "capsa.interpose.readonly", "/a:/b", "capsa.interpose.hidden", "/c",
                      "capsa.interpose.egress", "10.0.0.0/8", "capsa.interpose.bogus", "1",
                      NULL) < 0);
    assert_non_null(strstr(err.msg, "capsa.interpose.bogus"));
    assert_null(p.readonly);
    assert_null(p.hidden);
    assert_null(p.egress);
}

static void test_path(void **state)
{
    (void)state;
    struct capsa_ip_policy p;
    struct capsa_err err;
    assert_int_equal(parse(&p, &err, "capsa.interpose.readonly", "/etc:/usr/lib/x",
                           "capsa.interpose.hidden", "/etc/shadow:/proc/kcore", NULL),
                     0);
    /* Whole components: /etc covers /etc and /etc/..., not /etcx. */
    assert_int_equal(capsa_ip_policy_path(&p, "/etc", true), -EROFS);
    assert_int_equal(capsa_ip_policy_path(&p, "/etc/passwd", true), -EROFS);
    assert_int_equal(capsa_ip_policy_path(&p, "/etc/a/b/c", true), -EROFS);
    assert_int_equal(capsa_ip_policy_path(&p, "/etcx", true), 0);
    assert_int_equal(capsa_ip_policy_path(&p, "/etcx/passwd", true), 0);
    assert_int_equal(capsa_ip_policy_path(&p, "/et", true), 0);
    assert_int_equal(capsa_ip_policy_path(&p, "/", true), 0);
    assert_int_equal(capsa_ip_policy_path(&p, "/usr/lib", true), 0);
    assert_int_equal(capsa_ip_policy_path(&p, "/usr/lib/x", true), -EROFS);
    assert_int_equal(capsa_ip_policy_path(&p, "/usr/lib/xy", true), 0);
    /* Reading a read-only path is fine. */
    assert_int_equal(capsa_ip_policy_path(&p, "/etc/passwd", false), 0);
    /* Hidden wins over read-only, for reads and writes. */
    assert_int_equal(capsa_ip_policy_path(&p, "/etc/shadow", false), -ENOENT);
    assert_int_equal(capsa_ip_policy_path(&p, "/etc/shadow", true), -ENOENT);
    assert_int_equal(capsa_ip_policy_path(&p, "/etc/shadow/x", false), -ENOENT);
    assert_int_equal(capsa_ip_policy_path(&p, "/etc/shadow-", false), 0);
    assert_int_equal(capsa_ip_policy_path(&p, "/etc/shadow-", true), -EROFS);
    assert_int_equal(capsa_ip_policy_path(&p, "/proc/kcore", false), -ENOENT);
    assert_int_equal(capsa_ip_policy_path(&p, "/proc", false), 0);
    /* Only canonical paths are answered: anything else is refused. */
    static const char *const odd[] = {"/etc/../etc/shadow",
                                      "/etc/./shadow",
                                      "//etc/shadow",
                                      "/etc//shadow",
                                      "/etc/shadow/",
                                      "etc/shadow",
                                      "",
                                      "/..",
                                      "/tmp/."};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        if (capsa_ip_policy_path(&p, odd[i], false) != -EINVAL)
            fail_msg("\"%s\" was answered", odd[i]);
    }
    assert_int_equal(capsa_ip_policy_path(&p, NULL, false), -EINVAL);
    assert_int_equal(capsa_ip_policy_path(&p, "/a/..b/.c/...", true), 0);
    /* The directories above a policy path (which a rename must not move). */
    assert_int_equal(capsa_ip_policy_holds(&p, "/"), -EPERM);
    assert_int_equal(capsa_ip_policy_holds(&p, "/usr"), -EPERM);
    assert_int_equal(capsa_ip_policy_holds(&p, "/usr/lib"), -EPERM);
    assert_int_equal(capsa_ip_policy_holds(&p, "/proc"), -EPERM);
    assert_int_equal(capsa_ip_policy_holds(&p, "/etc"), -EPERM);  /* holds /etc/shadow */
    assert_int_equal(capsa_ip_policy_holds(&p, "/usr/lib/x"), 0); /* the path itself */
    assert_int_equal(capsa_ip_policy_holds(&p, "/etc/shadow"), 0);
    assert_int_equal(capsa_ip_policy_holds(&p, "/usr/li"), 0);
    assert_int_equal(capsa_ip_policy_holds(&p, "/usr/lib/xy"), 0);
    assert_int_equal(capsa_ip_policy_holds(&p, "/tmp"), 0);
    assert_int_equal(capsa_ip_policy_holds(&p, "/usr/../usr"), -EINVAL);
    assert_int_equal(capsa_ip_policy_holds(&p, NULL), -EINVAL);
    capsa_ip_policy_free(&p);

    /* "/" read-only: everything is. */
    assert_int_equal(parse(&p, &err, "capsa.interpose.readonly", "/", NULL), 0);
    assert_int_equal(capsa_ip_policy_path(&p, "/", true), -EROFS);
    assert_int_equal(capsa_ip_policy_path(&p, "/tmp/x", true), -EROFS);
    assert_int_equal(capsa_ip_policy_path(&p, "/tmp/x", false), 0);
    capsa_ip_policy_free(&p);
}

static struct sockaddr_in v4(const char *a, uint16_t port)
{
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET, a, &s.sin_addr), 1);
    return s;
}

static struct sockaddr_in6 v6(const char *a, uint16_t port)
{
    struct sockaddr_in6 s = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET6, a, &s.sin6_addr), 1);
    return s;
}

static int ask4(const struct capsa_ip_policy *p, const char *a, uint16_t port)
{
    struct sockaddr_in s = v4(a, port);
    return capsa_ip_policy_addr(p, (struct sockaddr *)&s, sizeof s);
}

static int ask6(const struct capsa_ip_policy *p, const char *a, uint16_t port)
{
    struct sockaddr_in6 s = v6(a, port);
    return capsa_ip_policy_addr(p, (struct sockaddr *)&s, sizeof s);
}

static void test_egress(void **state)
{
    (void)state;
    struct capsa_ip_policy p;
    struct capsa_err err;
    assert_int_equal(parse(&p, &err, "capsa.interpose.egress",
                           "10.0.0.0/8:443, 192.168.1.7 ,[2001:db8::]/32:53,[2001:db8:1::5],"
                           "172.16.0.0/12,0.0.0.0/0:8080",
                           NULL),
                     0);
    assert_true(p.egress_set);
    assert_int_equal(p.n_egress, 6);
    assert_int_equal(p.egress[0].family, AF_INET);
    assert_int_equal(p.egress[0].prefix, 8);
    assert_int_equal(p.egress[0].port, 443);
    assert_int_equal(p.egress[1].prefix, 32);
    assert_int_equal(p.egress[1].port, 0);
    assert_int_equal(p.egress[2].family, AF_INET6);
    assert_int_equal(p.egress[2].prefix, 32);
    assert_int_equal(p.egress[2].port, 53);
    assert_int_equal(p.egress[3].prefix, 128);

    assert_int_equal(ask4(&p, "10.1.2.3", 443), 0);
    assert_int_equal(ask4(&p, "10.255.255.255", 443), 0);
    assert_int_equal(ask4(&p, "10.1.2.3", 444), -ECONNREFUSED);
    assert_int_equal(ask4(&p, "11.0.0.1", 443), -ECONNREFUSED);
    assert_int_equal(ask4(&p, "9.255.255.255", 443), -ECONNREFUSED);
    assert_int_equal(ask4(&p, "192.168.1.7", 1), 0);
    assert_int_equal(ask4(&p, "192.168.1.8", 1), -ECONNREFUSED);
    /* /12: 172.16.0.0 - 172.31.255.255 */
    assert_int_equal(ask4(&p, "172.31.255.255", 22), 0);
    assert_int_equal(ask4(&p, "172.32.0.0", 22), -ECONNREFUSED);
    assert_int_equal(ask4(&p, "172.15.255.255", 22), -ECONNREFUSED);
    assert_int_equal(ask4(&p, "8.8.8.8", 8080), 0); /* /0 with a port */
    assert_int_equal(ask4(&p, "8.8.8.8", 80), -ECONNREFUSED);
    /* Loopback and the unspecified address are always allowed. */
    assert_int_equal(ask4(&p, "127.0.0.1", 9), 0);
    assert_int_equal(ask4(&p, "127.255.0.3", 9), 0);
    assert_int_equal(ask4(&p, "0.0.0.0", 9), 0);
    assert_int_equal(ask6(&p, "::1", 9), 0);
    assert_int_equal(ask6(&p, "::", 9), 0);
    assert_int_equal(ask6(&p, "::2", 9), -ECONNREFUSED);
    assert_int_equal(ask6(&p, "::ffff:127.0.0.1", 9), 0);
    /* IPv6 rules. */
    assert_int_equal(ask6(&p, "2001:db8:ffff::1", 53), 0);
    assert_int_equal(ask6(&p, "2001:db8:ffff::1", 54), -ECONNREFUSED);
    assert_int_equal(ask6(&p, "2001:db9::1", 53), -ECONNREFUSED);
    assert_int_equal(ask6(&p, "2001:db8:1::5", 1234), 0);
    assert_int_equal(ask6(&p, "2001:db8:1::6", 1234), -ECONNREFUSED);
    /* An IPv4-mapped destination is checked against the IPv4 rules. */
    assert_int_equal(ask6(&p, "::ffff:10.9.9.9", 443), 0);
    assert_int_equal(ask6(&p, "::ffff:10.9.9.9", 80), -ECONNREFUSED);
    assert_int_equal(ask6(&p, "::ffff:11.0.0.1", 443), -ECONNREFUSED);
    /* A short inet address is never a pass; other families are not ours. */
    struct sockaddr_in s4 = v4("8.8.8.8", 80);
    assert_int_equal(capsa_ip_policy_addr(&p, (struct sockaddr *)&s4, sizeof s4 - 1), -EINVAL);
    struct sockaddr_in6 s6 = v6("2001:db9::1", 80);
    assert_int_equal(capsa_ip_policy_addr(&p, (struct sockaddr *)&s6, sizeof s6 - 1), -EINVAL);
    struct sockaddr_un su = {.sun_family = AF_UNIX, .sun_path = "/run/x"};
    assert_int_equal(capsa_ip_policy_addr(&p, (struct sockaddr *)&su, sizeof su), 0);
    struct sockaddr sa = {.sa_family = AF_UNSPEC};
    assert_int_equal(capsa_ip_policy_addr(&p, &sa, sizeof sa), 0);
    capsa_ip_policy_free(&p);
    assert_false(p.egress_set);

    /* "none": only loopback. */
    assert_int_equal(parse(&p, &err, "capsa.interpose.egress", "none", NULL), 0);
    assert_true(p.egress_set);
    assert_int_equal(p.n_egress, 0);
    assert_int_equal(ask4(&p, "10.1.2.3", 443), -ECONNREFUSED);
    assert_int_equal(ask6(&p, "2001:db8::1", 443), -ECONNREFUSED);
    assert_int_equal(ask4(&p, "127.0.0.53", 53), 0);
    assert_int_equal(ask6(&p, "::1", 53), 0);
    capsa_ip_policy_free(&p);

    /* Absent: no restriction at all. */
    assert_int_equal(parse(&p, &err, NULL), 0);
    assert_int_equal(ask4(&p, "10.1.2.3", 443), 0);
    assert_int_equal(ask6(&p, "2001:db8::1", 443), 0);
    capsa_ip_policy_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),     cmocka_unit_test(test_values),
        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_path),
        cmocka_unit_test(test_egress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
