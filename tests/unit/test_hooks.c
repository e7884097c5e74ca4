/* test_hooks.c - unit tests for capsa_hooks_run: state on stdin, exit
 * status, timeouts, exec failures, args/env, ordering. Uses /bin/sh. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "linux/hooks.h"
#include "util/util.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/capsa-hooks-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *path_in_tmp(const char *name)
{
    char *p = NULL;
    assert_int_equal(capsa_asprintf(&p, NULL, "%s/%s", tmpdir, name), 0);
    return p;
}

static char *slurp(const char *path)
{
    char *buf = NULL;
    struct capsa_err err;
    if (capsa_read_file_at(AT_FDCWD, path, 1 << 22, &buf, NULL, &err) < 0)
        return NULL;
    return buf;
}

/* A hook running `/bin/sh -c script`. */
static struct capsa_hook sh_hook(char **argv, const char *script)
{
    argv[0] = (char *)"sh";
    argv[1] = (char *)"-c";
    argv[2] = (char *)script;
    argv[3] = NULL;
    struct capsa_hook h = {.path = (char *)"/bin/sh", .args = argv, .n_args = 3};
    return h;
}

static void test_state_on_stdin(void **state)
{
    (void)state;
    cleanup_free char *out = path_in_tmp("state.json");
    cleanup_free char *script = NULL;
    assert_int_equal(capsa_asprintf(&script, NULL, "cat > '%s'", out), 0);
    char *argv[4];
    struct capsa_hook h = sh_hook(argv, script);
    const char *json =
        "{\"ociVersion\":\"1.2.0\",\"id\":\"abc\",\"status\":\"creating\",\"pid\":1}";
    struct capsa_err err = {0};
    assert_int_equal(capsa_hooks_run("prestart", &h, 1, json, &err), 0);
    cleanup_free char *got = slurp(out);
    assert_non_null(got);
    assert_string_equal(got, json);
}

static void test_large_state(void **state)
{
    (void)state;
    /* Bigger than any pipe we can get, so the post-fork write path runs. */
    size_t n = 3 * 1024 * 1024;
    cleanup_free char *json = malloc(n + 1);
    assert_non_null(json);
    for (size_t i = 0; i < n; i++)
        json[i] = (char)('a' + i % 26);
    json[n] = '\0';
    cleanup_free char *out = path_in_tmp("big.json");
    cleanup_free char *script = NULL;
    assert_int_equal(capsa_asprintf(&script, NULL, "cat > '%s'", out), 0);
    char *argv[4];
    struct capsa_hook h = sh_hook(argv, script);
    struct capsa_err err = {0};
    assert_int_equal(capsa_hooks_run("prestart", &h, 1, json, &err), 0);
    cleanup_free char *got = slurp(out);
    assert_non_null(got);
    assert_int_equal(strlen(got), n);
    assert_memory_equal(got, json, n);

    /* A hook that does not read a big state must not kill us with SIGPIPE. */
    struct capsa_hook h2 = sh_hook(argv, "exec 0<&-; exit 0");
    assert_int_equal(capsa_hooks_run("prestart", &h2, 1, json, &err), 0);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
}

static void test_exit_status(void **state)
{
    (void)state;
    char *argv[4];
    struct capsa_hook h = sh_hook(argv, "exit 3");
    struct capsa_err err = {0};
    assert_true(capsa_hooks_run("poststart", &h, 1, "{}", &err) < 0);
    assert_non_null(strstr(err.msg, "poststart hook #0 (/bin/sh)"));
    assert_non_null(strstr(err.msg, "status 3"));
}

static void test_signal(void **state)
{
    (void)state;
    char *argv[4];
    struct capsa_hook h = sh_hook(argv, "kill -TERM $$");
    struct capsa_err err = {0};
    assert_true(capsa_hooks_run("poststop", &h, 1, "{}", &err) < 0);
    assert_non_null(strstr(err.msg, "SIGTERM"));
}

static void test_timeout(void **state)
{
    (void)state;
    cleanup_free char *pidfile = path_in_tmp("sleep.pid");
    cleanup_free char *script = NULL;
    assert_int_equal(capsa_asprintf(&script, NULL, "echo $$ > '%s'; exec sleep 5", pidfile), 0);
    char *argv[4];
    struct capsa_hook h = sh_hook(argv, script);
    h.has_timeout = true;
    h.timeout = 1;
    struct capsa_err err = {0};
    uint64_t t0 = capsa_now_ns();
    assert_int_equal(capsa_hooks_run("prestart", &h, 1, "{}", &err), -ETIMEDOUT);
    uint64_t dt = capsa_now_ns() - t0;
    assert_true(dt < 3000000000ULL);
    assert_non_null(strstr(err.msg, "timed out after 1s"));
    cleanup_free char *pid = slurp(pidfile);
    assert_non_null(pid);
    /* The hook was killed and reaped: its pid no longer exists. */
    assert_int_equal(kill((pid_t)atoi(pid), 0), -1);
    assert_int_equal(errno, ESRCH);
}

static void test_missing_path(void **state)
{
    (void)state;
    struct capsa_hook h = {.path = (char *)"/nonexistent/hook"};
    struct capsa_err err = {0};
    assert_int_equal(capsa_hooks_run("createRuntime", &h, 1, "{}", &err), -ENOENT);
    assert_string_equal(
        err.msg, "createRuntime hook #0 (/nonexistent/hook): exec: No such file or directory");
}

static void test_args_env(void **state)
{
    (void)state;
    cleanup_free char *out = path_in_tmp("argsenv");
    cleanup_free char *script = NULL;
    /* $0 is args[3] with sh -c; env shows only what we passed. */
    assert_int_equal(
        capsa_asprintf(&script, NULL, "echo \"$0 $1\" > '%s'; /usr/bin/env >> '%s'", out, out), 0);
    char *argv[] = {(char *)"sh", (char *)"-c", script, (char *)"zero", (char *)"one", NULL};
    char *env[] = {(char *)"FOO=bar", (char *)"HELLO=world", NULL};
    struct capsa_hook h = {
        .path = (char *)"/bin/sh", .args = argv, .n_args = 5, .env = env, .n_env = 2};
    struct capsa_err err = {0};
    assert_int_equal(capsa_hooks_run("createContainer", &h, 1, "{}", &err), 0);
    cleanup_free char *got = slurp(out);
    assert_non_null(got);
    assert_non_null(strstr(got, "zero one\n"));
    assert_non_null(strstr(got, "FOO=bar\n"));
    assert_non_null(strstr(got, "HELLO=world\n"));
    assert_null(strstr(got, "HOME="));
}

/* A hook without "env" runs with the runtime's environment (runc, crun);
 * an empty "env" array is an empty environment. */
static void test_env_inherited(void **state)
{
    (void)state;
    cleanup_free char *out = path_in_tmp("envinh");
    cleanup_free char *script = NULL;
    assert_int_equal(capsa_asprintf(&script, NULL, "/usr/bin/env > '%s'", out), 0);
    char *argv[] = {(char *)"sh", (char *)"-c", script, NULL};
    assert_int_equal(setenv("CAPSA_HOOK_INHERIT", "from-runtime", 1), 0);
    struct capsa_hook h = {.path = (char *)"/bin/sh", .args = argv, .n_args = 3};
    struct capsa_err err = {0};
    assert_int_equal(capsa_hooks_run("prestart", &h, 1, "{}", &err), 0);
    cleanup_free char *got = slurp(out);
    assert_non_null(got);
    assert_non_null(strstr(got, "CAPSA_HOOK_INHERIT=from-runtime\n"));
    char *none[] = {NULL};
    h.env = none;
    assert_int_equal(capsa_hooks_run("prestart", &h, 1, "{}", &err), 0);
    cleanup_free char *got2 = slurp(out);
    assert_non_null(got2);
    assert_null(strstr(got2, "CAPSA_HOOK_INHERIT"));
    unsetenv("CAPSA_HOOK_INHERIT");
}

static void test_no_leaked_fds(void **state)
{
    (void)state;
    int keep = open("/dev/null", O_RDONLY); /* without O_CLOEXEC on purpose */
    assert_true(keep >= 3);
    cleanup_free char *out = path_in_tmp("fds");
    cleanup_free char *script = NULL;
    assert_int_equal(capsa_asprintf(&script, NULL, "ls /proc/self/fd > '%s'", out), 0);
    char *argv[4];
    struct capsa_hook h = sh_hook(argv, script);
    struct capsa_err err = {0};
    assert_int_equal(capsa_hooks_run("prestart", &h, 1, "{}", &err), 0);
    close(keep);
    cleanup_free char *got = slurp(out);
    assert_non_null(got);
    /* 0, 1, 2 and the one ls opened to list the directory. */
    int lines = 0;
    for (char *p = got; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 4);
}

static void test_order_and_stop(void **state)
{
    (void)state;
    cleanup_free char *out = path_in_tmp("order");
    cleanup_free char *s1 = NULL, *s3 = NULL;
    assert_int_equal(capsa_asprintf(&s1, NULL, "echo one >> '%s'", out), 0);
    assert_int_equal(capsa_asprintf(&s3, NULL, "echo three >> '%s'", out), 0);
    char *a1[4], *a2[4], *a3[4];
    struct capsa_hook hooks[3] = {sh_hook(a1, s1), sh_hook(a2, "exit 7"), sh_hook(a3, s3)};
    struct capsa_err err = {0};
    assert_true(capsa_hooks_run("startContainer", hooks, 3, "{}", &err) < 0);
    assert_non_null(strstr(err.msg, "startContainer hook #1"));
    assert_non_null(strstr(err.msg, "status 7"));
    cleanup_free char *got = slurp(out);
    assert_non_null(got);
    assert_string_equal(got, "one\n");

    /* All succeed: all run, in order. */
    unlink(out);
    hooks[1] = sh_hook(a2, "true");
    assert_int_equal(capsa_hooks_run("startContainer", hooks, 3, "{}", &err), 0);
    cleanup_free char *got2 = slurp(out);
    assert_non_null(got2);
    assert_string_equal(got2, "one\nthree\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_on_stdin), cmocka_unit_test(test_large_state),
        cmocka_unit_test(test_exit_status),    cmocka_unit_test(test_signal),
        cmocka_unit_test(test_timeout),        cmocka_unit_test(test_missing_path),
        cmocka_unit_test(test_args_env),       cmocka_unit_test(test_env_inherited),
        cmocka_unit_test(test_no_leaked_fds),  cmocka_unit_test(test_order_and_stop),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
