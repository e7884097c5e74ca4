/* test_spec_encode.c - capsa_process_to_json (spec/encode.c): what it writes
 * parses back (capsa_spec_parse_process) to the same process, field by
 * field, including RLIM_INFINITY and the name tables; and it writes again
 * to the same bytes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "spec/spec.h"
#include "util/util.h"

static struct capsa_process *parse(const char *json)
{
    struct capsa_process *p = NULL;
    struct capsa_spec_warnings w = {0};
    struct capsa_err err = {0};
    int r = capsa_spec_parse_process(json, strlen(json), "test", &p, &w, &err);
    if (r < 0)
        print_error("parse: %s\n%s\n", err.msg, json);
    assert_int_equal(r, 0);
    capsa_spec_warnings_free(&w);
    return p;
}

static char *encode(const struct capsa_process *p)
{
    char *out = NULL;
    struct capsa_err err = {0};
    int r = capsa_process_to_json(p, &out, &err);
    if (r < 0)
        print_error("encode: %s\n", err.msg);
    assert_int_equal(r, 0);
    assert_non_null(out);
    return out;
}

static void assert_strv_equal(char **a, size_t na, char **b, size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++)
        assert_string_equal(a[i], b[i]);
}

static void assert_same(const struct capsa_process *a, const struct capsa_process *b)
{
    assert_int_equal(a->terminal, b->terminal);
    assert_int_equal(a->has_console_size, b->has_console_size);
    assert_int_equal(a->console_height, b->console_height);
    assert_int_equal(a->console_width, b->console_width);
    assert_int_equal(a->user.uid, b->user.uid);
    assert_int_equal(a->user.gid, b->user.gid);
    assert_int_equal(a->user.has_umask, b->user.has_umask);
    assert_int_equal(a->user.umask, b->user.umask);
    assert_int_equal(a->user.n_additional_gids, b->user.n_additional_gids);
    for (size_t i = 0; i < a->user.n_additional_gids; i++)
        assert_int_equal(a->user.additional_gids[i], b->user.additional_gids[i]);
    assert_strv_equal(a->args, a->n_args, b->args, b->n_args);
    assert_strv_equal(a->env, a->n_env, b->env, b->n_env);
    assert_string_equal(a->cwd, b->cwd);
    assert_int_equal(a->has_capabilities, b->has_capabilities);
    assert_memory_equal(&a->capabilities, &b->capabilities, sizeof a->capabilities);
    assert_int_equal(a->n_rlimits, b->n_rlimits);
    for (size_t i = 0; i < a->n_rlimits; i++) {
        assert_int_equal(a->rlimits[i].resource, b->rlimits[i].resource);
        assert_string_equal(a->rlimits[i].type, b->rlimits[i].type);
        assert_true(a->rlimits[i].soft == b->rlimits[i].soft);
        assert_true(a->rlimits[i].hard == b->rlimits[i].hard);
    }
    assert_int_equal(a->no_new_privileges, b->no_new_privileges);
    if (a->apparmor_profile || b->apparmor_profile)
        assert_string_equal(a->apparmor_profile, b->apparmor_profile);
    if (a->selinux_label || b->selinux_label)
        assert_string_equal(a->selinux_label, b->selinux_label);
    assert_int_equal(a->has_oom_score_adj, b->has_oom_score_adj);
    assert_int_equal(a->oom_score_adj, b->oom_score_adj);
    assert_int_equal(a->has_scheduler, b->has_scheduler);
    assert_memory_equal(&a->scheduler, &b->scheduler, sizeof a->scheduler);
    assert_int_equal(a->has_io_priority, b->has_io_priority);
    assert_memory_equal(&a->io_priority, &b->io_priority, sizeof a->io_priority);
}

/* Parse, encode, parse: the same values; encode again: the same bytes. */
static void round_trip(const char *json)
{
    struct capsa_process *p1 = parse(json);
    char *t1 = encode(p1);
    struct capsa_process *p2 = parse(t1);
    assert_same(p1, p2);
    char *t2 = encode(p2);
    assert_string_equal(t1, t2);
    free(t1);
    free(t2);
    capsa_process_free(p1);
    capsa_process_free(p2);
}

static void test_minimal(void **state)
{
    (void)state;
    round_trip("{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0}}");
}

static void test_everything(void **state)
{
    (void)state;
    round_trip("{\"terminal\":true,\"consoleSize\":{\"height\":25,\"width\":80},"
               "\"user\":{\"uid\":1000,\"gid\":100,\"umask\":18,\"additionalGids\":[5,6,7]},"
               "\"args\":[\"/bin/sh\",\"-c\",\"echo \\\"q\\\" \\\\ \\u00e9\\n\"],"
               "\"env\":[\"PATH=/bin\",\"A=b=c\"],\"cwd\":\"/tmp/x y\","
               "\"capabilities\":{\"bounding\":[\"CAP_KILL\",\"CAP_CHECKPOINT_RESTORE\"],"
               "\"effective\":[\"CAP_KILL\"],\"inheritable\":[],\"permitted\":[\"CAP_KILL\"],"
               "\"ambient\":[\"CAP_CHOWN\"]},"
               "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1024,\"hard\":4096},"
               "{\"type\":\"RLIMIT_CORE\",\"soft\":18446744073709551615,"
               "\"hard\":18446744073709551615}],"
               "\"noNewPrivileges\":true,\"apparmorProfile\":\"prof\",\"oomScoreAdj\":-17,"
               "\"selinuxLabel\":\"system_u:system_r:container_t:s0\","
               "\"scheduler\":{\"policy\":\"SCHED_DEADLINE\",\"nice\":-3,\"priority\":0,"
               "\"flags\":[\"SCHED_FLAG_RESET_ON_FORK\",\"SCHED_FLAG_UTIL_CLAMP_MAX\"],"
               "\"runtime\":1000,\"deadline\":2000,\"period\":3000},"
               "\"ioPriority\":{\"class\":\"IOPRIO_CLASS_IDLE\",\"priority\":7}}");
}

/* An infinite rlimit is written as the literal u64, not as -1. */
static void test_infinity_literal(void **state)
{
    (void)state;
    struct capsa_process *p =
        parse("{\"args\":[\"sh\"],\"cwd\":\"/\",\"user\":{\"uid\":0,\"gid\":0},"
              "\"rlimits\":[{\"type\":\"RLIMIT_AS\",\"soft\":18446744073709551615,\"hard\":"
              "18446744073709551615}]}");
    assert_true(p->rlimits[0].soft == RLIM_INFINITY);
    char *t = encode(p);
    assert_non_null(strstr(t, "\"soft\":18446744073709551615"));
    assert_null(strstr(t, "-1"));
    free(t);
    capsa_process_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_everything),
        cmocka_unit_test(test_infinity_literal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
