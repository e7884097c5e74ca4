/* test_state.c - unit tests for the state directory (core/state.c) and the
 * process of `exec` (spec/exec.c): a create whose open or lock of its fresh
 * directory fails leaves no directory behind (the next create of the id
 * would fail with EEXIST); the exec flags onto a process; --process files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "capsa/capsa.h"
#include "core/state.h"
#include "spec/spec.h"
#include "util/util.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/capsa-state-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/c1", tmpdir);
    rmdir(path);
    return rmdir(tmpdir);
}

/* In a child: make the syscall nr fail with EMFILE (only the calls whose
 * argument argn equals val when argn >= 0), then create the state
 * directory c1; exit 0 when the create failed as expected. */
static int create_with_failing(int nr, int argn, uint64_t val)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        scmp_filter_ctx f = seccomp_init(SCMP_ACT_ALLOW);
        if (f == NULL)
            _exit(2);
        int r = argn >= 0 ? seccomp_rule_add(f, SCMP_ACT_ERRNO(EMFILE), nr, 1,
                                             SCMP_CMP((unsigned)argn, SCMP_CMP_EQ, val))
                          : seccomp_rule_add(f, SCMP_ACT_ERRNO(EMFILE), nr, 0);
        if (r < 0 || seccomp_load(f) < 0)
            _exit(2);
        int rootfd = open(tmpdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
        int dirfd = -1;
        struct capsa_err err = {0};
        r = capsa_state_dir_create(rootfd, "c1", &dirfd, &err);
        _exit(r == -EMFILE && strstr(err.msg, "c1") != NULL ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
}

static void test_open_failure_leaves_no_dir(void **state)
{
    (void)state;
    assert_int_equal(
        create_with_failing(SCMP_SYS(openat), 2, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW),
        0);
    char path[128];
    snprintf(path, sizeof path, "%s/c1", tmpdir);
    struct stat sb;
    assert_int_equal(lstat(path, &sb), -1);
    assert_int_equal(errno, ENOENT);
}

static void test_lock_failure_leaves_no_dir(void **state)
{
    (void)state;
    assert_int_equal(create_with_failing(SCMP_SYS(flock), -1, 0), 0);
    char path[128];
    snprintf(path, sizeof path, "%s/c1", tmpdir);
    struct stat sb;
    assert_int_equal(lstat(path, &sb), -1);
    assert_int_equal(errno, ENOENT);
    /* And the id can be created again. */
    int rootfd = open(tmpdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(rootfd >= 0);
    int dirfd = -1;
    struct capsa_err err = {0};
    assert_int_equal(capsa_state_dir_create(rootfd, "c1", &dirfd, &err), 0);
    close(dirfd);
    close(rootfd);
}

static struct capsa_spec *stored(const char *json)
{
    struct capsa_spec *spec = NULL;
    struct capsa_err err = {0};
    assert_int_equal(capsa_spec_parse(json, strlen(json), &spec, &err), 0);
    return spec;
}

static void test_exec_flags(void **state)
{
    (void)state;
    struct capsa_spec *spec =
        stored("{\"ociVersion\":\"1.2.0\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\","
               "\"env\":[\"A=1\",\"B=2\"],\"user\":{\"uid\":5,\"gid\":7,"
               "\"additionalGids\":[9]}}}");
    char a0[] = "echo", a1[] = "hi", e0[] = "B=3", e1[] = "C=4", c0[] = "NET_ADMIN",
         c1[] = "CAP_NO_SUCH_THING";
    char *args[] = {a0, a1};
    char *env[] = {e0, e1};
    char *caps[] = {c0, c1};
    uint32_t gids[] = {11};
    struct capsa_exec_opts o = {.args = args,
                                .n_args = 2,
                                .env = env,
                                .n_env = 2,
                                .has_user = true,
                                .uid = 1000,
                                .additional_gids = gids,
                                .n_additional_gids = 1,
                                .caps = caps,
                                .n_caps = 2,
                                .cwd = "/tmp"};
    struct capsa_err err = {0};
    assert_int_equal(capsa_spec_exec_process(spec, NULL, 0, NULL, &o, &err), 0);
    const struct capsa_process *p = spec->process;
    assert_int_equal(p->n_args, 2);
    assert_string_equal(p->args[1], "hi");
    assert_string_equal(p->cwd, "/tmp");
    assert_int_equal(p->n_env, 3);
    assert_string_equal(p->env[0], "A=1");
    assert_string_equal(p->env[1], "B=3");
    assert_string_equal(p->env[2], "C=4");
    assert_null(p->env[3]);
    /* --user UID alone keeps the configured gid; gids are added. */
    assert_int_equal(p->user.uid, 1000);
    assert_int_equal(p->user.gid, 7);
    assert_int_equal(p->user.n_additional_gids, 2);
    assert_int_equal(p->user.additional_gids[1], 11);
    /* The known capability is added, the unknown one skipped with a warning. */
    assert_true(p->capabilities.bounding & (1ULL << 12)); /* CAP_NET_ADMIN */
    assert_int_equal(spec->warnings.n, 1);
    assert_non_null(strstr(spec->warnings.v[0], "CAP_NO_SUCH_THING"));
    capsa_spec_free(spec);
}

static void test_exec_process_file(void **state)
{
    (void)state;
    struct capsa_spec *spec =
        stored("{\"ociVersion\":\"1.2.0\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"}}");
    struct capsa_exec_opts o = {.process_file = "p.json", .tty = true};
    struct capsa_err err = {0};
    const char *good = "{\"args\":[\"ls\"],\"cwd\":\"/etc\"}";
    assert_int_equal(
        capsa_spec_exec_process(spec, good, strlen(good), "--process p.json", &o, &err), 0);
    assert_string_equal(spec->process->args[0], "ls");
    assert_true(spec->process->terminal);
    /* A field error names the file and the field. */
    const char *bad = "{\"args\":[],\"cwd\":\"/\"}";
    assert_true(capsa_spec_exec_process(spec, bad, strlen(bad), "--process p.json", &o, &err) < 0);
    assert_non_null(strstr(err.msg, "--process p.json"));
    assert_non_null(strstr(err.msg, "process.args"));
    /* A syntax error names the file with its line and column. */
    const char *broken = "{\"args\":[\"ls\"],\n\"cwd\":";
    assert_true(
        capsa_spec_exec_process(spec, broken, strlen(broken), "--process p.json", &o, &err) < 0);
    assert_non_null(strstr(err.msg, "--process p.json:2:"));
    /* An object that closes early cannot add fields of the document. */
    const char *inject = "{\"args\":[\"ls\"],\"cwd\":\"/\"},\"linux\":{}";
    assert_true(
        capsa_spec_exec_process(spec, inject, strlen(inject), "--process p.json", &o, &err) < 0);
    capsa_spec_free(spec);
}

static void test_exec_no_command(void **state)
{
    (void)state;
    /* No process in the config (optional at create) and no command given. */
    struct capsa_spec *spec = stored("{\"ociVersion\":\"1.2.0\"}");
    struct capsa_exec_opts o = {0};
    struct capsa_err err = {0};
    assert_true(capsa_spec_exec_process(spec, NULL, 0, NULL, &o, &err) < 0);
    assert_non_null(strstr(err.msg, "no command"));
    capsa_spec_free(spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_failure_leaves_no_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock_failure_leaves_no_dir, setup, teardown),
        cmocka_unit_test(test_exec_flags),
        cmocka_unit_test(test_exec_process_file),
        cmocka_unit_test(test_exec_no_command),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
