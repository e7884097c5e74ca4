/* test_process.c - unit tests for process.c, caps.c and lsm.c: executable
 * lookup through PATH, and (as root, in forked children so the test runner
 * keeps its credentials) rlimits, oom_score_adj through a procfd, ioprio,
 * scheduler, user switch with capability sets, no_new_privs and umask.
 * Children report the first failed check through their exit status. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux/process.h"
#include "util/util.h"

/* Defined in process.c; its prototype is not in process.h yet. */

#define CAP_NET_BIND_SERVICE_BIT (1ULL << 10)
#define CAP_KILL_BIT             (1ULL << 5)

static char tmpdir[64];

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/capsa-proc-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void make_file(const char *name, mode_t mode)
{
    cleanup_free char *p = NULL;
    assert_int_equal(capsa_asprintf(&p, NULL, "%s/%s", tmpdir, name), 0);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "#!/bin/sh\n", 10), 10);
    close(fd);
    assert_int_equal(chmod(p, mode), 0);
}

static void test_find_exec(void **state)
{
    (void)state;
    make_file("myprog", 0755);
    make_file("noexec", 0644);
    cleanup_free char *dir = NULL;
    assert_int_equal(capsa_asprintf(&dir, NULL, "%s/adir", tmpdir), 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    cleanup_free char *pathenv = NULL;
    assert_int_equal(capsa_asprintf(&pathenv, NULL, "PATH=/nonexistent:%s", tmpdir), 0);

    char *env[] = {(char *)"HOME=/", pathenv, NULL};
    char *args[] = {(char *)"myprog", NULL};
    struct capsa_process p = {.args = args, .n_args = 1, .env = env, .n_env = 2};
    struct capsa_err err = {0};
    char *out = NULL;

    assert_int_equal(capsa_process_find_exec(&p, &out, &err), 0);
    cleanup_free char *expect = NULL;
    assert_int_equal(capsa_asprintf(&expect, NULL, "%s/myprog", tmpdir), 0);
    assert_string_equal(out, expect);
    free(out);

    /* Not executable, or a directory: skipped, so not found. */
    args[0] = (char *)"noexec";
    assert_int_equal(capsa_process_find_exec(&p, &out, &err), -ENOENT);
    assert_null(out);
    assert_string_equal(err.msg, "exec: \"noexec\": executable file not found in $PATH");
    args[0] = (char *)"adir";
    assert_int_equal(capsa_process_find_exec(&p, &out, &err), -ENOENT);

    /* Our PATH does not contain the system dirs: sh is not found... */
    args[0] = (char *)"sh";
    assert_int_equal(capsa_process_find_exec(&p, &out, &err), -ENOENT);
    /* ...but with no PATH in the env, the default path finds it. */
    p.env = NULL;
    p.n_env = 0;
    assert_int_equal(capsa_process_find_exec(&p, &out, &err), 0);
    assert_true(strcmp(out, "/usr/bin/sh") == 0 || strcmp(out, "/bin/sh") == 0);
    free(out);

    /* Names with a slash are used as they are. */
    args[0] = (char *)"/bin/true";
    assert_int_equal(capsa_process_find_exec(&p, &out, &err), 0);
    assert_string_equal(out, "/bin/true");
    free(out);
    args[0] = (char *)"/nonexistent/prog";
    assert_int_equal(capsa_process_find_exec(&p, &out, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "/nonexistent/prog"));

    /* An empty PATH element is the current directory. */
    char *env2[] = {(char *)"PATH=/nonexistent:", NULL};
    p.env = env2;
    p.n_env = 1;
    args[0] = (char *)"myprog";
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(tmpdir), 0);
    int r = capsa_process_find_exec(&p, &out, &err);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(r, 0);
    assert_string_equal(out, "./myprog");
    free(out);
}

/* Run fn in a child; return its exit status (0 = all checks passed). */
static int in_child(int (*fn)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(fn(arg));
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static int child_rlimits(void *arg)
{
    (void)arg;
    struct capsa_rlimit rl[] = {
        {.resource = RLIMIT_NOFILE, .type = (char *)"RLIMIT_NOFILE", .soft = 100, .hard = 200},
        {.resource = RLIMIT_CORE, .type = (char *)"RLIMIT_CORE", .soft = 0, .hard = 0},
    };
    struct capsa_process p = {.rlimits = rl, .n_rlimits = 2};
    struct capsa_err err = {0};
    if (capsa_process_apply_attrs(&p, -1, &err) < 0)
        return 1;
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) < 0 || lim.rlim_cur != 100 || lim.rlim_max != 200)
        return 2;
    if (getrlimit(RLIMIT_CORE, &lim) < 0 || lim.rlim_cur != 0 || lim.rlim_max != 0)
        return 3;
    /* soft > hard is refused by the kernel; the error names the type. */
    struct capsa_rlimit bad = {
        .resource = RLIMIT_NOFILE, .type = (char *)"RLIMIT_NOFILE", .soft = 300, .hard = 200};
    p.rlimits = &bad;
    p.n_rlimits = 1;
    if (capsa_process_apply_attrs(&p, -1, &err) >= 0)
        return 4;
    if (strstr(err.msg, "RLIMIT_NOFILE") == NULL)
        return 5;
    return 0;
}

static void test_rlimits(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    assert_int_equal(in_child(child_rlimits, NULL), 0);
}

static int child_attrs(void *arg)
{
    (void)arg;
    int procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (procfd < 0)
        return 1;
    struct capsa_process p = {
        .has_oom_score_adj = true,
        .oom_score_adj = 500,
        .has_io_priority = true,
        .io_priority = {.class = IOPRIO_CLASS_BE, .priority = 5},
        .has_scheduler = true,
        .scheduler = {.policy = SCHED_BATCH, .nice = 7},
    };
    struct capsa_err err = {0};
    if (capsa_process_apply_attrs(&p, procfd, &err) < 0) {
        fprintf(stderr, "apply_attrs: %s\n", err.msg);
        return 2;
    }
    char *buf = NULL;
    if (capsa_read_file_at(AT_FDCWD, "/proc/self/oom_score_adj", 64, &buf, NULL, &err) < 0)
        return 3;
    int ok = strcmp(buf, "500\n") == 0;
    free(buf);
    if (!ok)
        return 4;
    long prio = syscall(SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0);
    if (prio != ((IOPRIO_CLASS_BE << IOPRIO_CLASS_SHIFT) | 5))
        return 5;
    if (sched_getscheduler(0) != SCHED_BATCH)
        return 6;
    errno = 0;
    if (getpriority(PRIO_PROCESS, 0) != 7 || errno != 0)
        return 7;
    return 0;
}

static void test_attrs(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    assert_int_equal(in_child(child_attrs, NULL), 0);
}

/* A procfd that is not procfs must be refused, and nothing written. */
static void test_fake_procfd(void **state)
{
    (void)state;
    char p[256];
    snprintf(p, sizeof p, "%s/fakeproc", tmpdir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/fakeproc/self", tmpdir);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/fakeproc/self/oom_score_adj", tmpdir);
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    close(fd);
    snprintf(p, sizeof p, "%s/fakeproc", tmpdir);
    int procfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(procfd >= 0);
    struct capsa_process proc = {.has_oom_score_adj = true, .oom_score_adj = 100};
    struct capsa_err err = {0};
    assert_int_equal(capsa_process_apply_attrs(&proc, procfd, &err), -EXDEV);
    assert_non_null(strstr(err.msg, "oomScoreAdj"));
    assert_non_null(strstr(err.msg, "not on procfs"));
    struct stat st;
    snprintf(p, sizeof p, "%s/fakeproc/self/oom_score_adj", tmpdir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, 0);

    /* A symlink below self is not followed either. */
    snprintf(p, sizeof p, "%s/fakeproc/self/oom_score_adj", tmpdir);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(symlink("/proc/self/oom_score_adj", p), 0);
    assert_true(capsa_process_apply_attrs(&proc, procfd, &err) < 0);
    close(procfd);
}

/* Parse a hex "Cap...:" line of /proc/self/status. */
static int status_field(const char *status, const char *key, char *out, size_t outlen)
{
    const char *p = strstr(status, key);
    if (p == NULL)
        return -1;
    p += strlen(key);
    while (*p == '\t' || *p == ' ')
        p++;
    size_t n = strcspn(p, "\n");
    if (n >= outlen)
        return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

static int check_cap(const char *status, const char *key, uint64_t want)
{
    char v[64];
    if (status_field(status, key, v, sizeof v) < 0)
        return -1;
    return strtoull(v, NULL, 16) == want ? 0 : -1;
}

struct user_case {
    bool has_caps;
    uint64_t ambient;
};

static int child_switch_user(void *arg)
{
    const struct user_case *uc = arg;
    uint32_t gids[] = {1001, 1002};
    struct capsa_process p = {
        .user = {.uid = 1000,
                 .gid = 1000,
                 .has_umask = true,
                 .umask = 027,
                 .additional_gids = gids,
                 .n_additional_gids = 2},
        .has_capabilities = uc->has_caps,
        .capabilities = {.bounding = CAP_NET_BIND_SERVICE_BIT,
                         .effective = CAP_NET_BIND_SERVICE_BIT,
                         .permitted = CAP_NET_BIND_SERVICE_BIT,
                         .inheritable = CAP_NET_BIND_SERVICE_BIT,
                         .ambient = uc->ambient},
        .no_new_privileges = true,
    };
    struct capsa_err err = {0};
    if (capsa_process_switch_user(&p, &err) < 0) {
        fprintf(stderr, "switch_user: %s\n", err.msg);
        return 1;
    }
    char *status = NULL;
    if (capsa_read_file_at(AT_FDCWD, "/proc/self/status", 1 << 16, &status, NULL, &err) < 0)
        return 2;
    uint64_t c = uc->has_caps ? CAP_NET_BIND_SERVICE_BIT : 0;
    int rc = 0;
    char v[128];
    if (check_cap(status, "CapEff:", c) < 0)
        rc = 3;
    else if (check_cap(status, "CapPrm:", c) < 0)
        rc = 4;
    else if (check_cap(status, "CapInh:", c) < 0)
        rc = 5;
    else if (check_cap(status, "CapBnd:", c) < 0)
        rc = 6;
    else if (check_cap(status, "CapAmb:", uc->has_caps ? CAP_NET_BIND_SERVICE_BIT : 0) < 0)
        rc = 7;
    else if (status_field(status, "Uid:", v, sizeof v) < 0 || strcmp(v, "1000\t1000\t1000\t1000"))
        rc = 8;
    else if (status_field(status, "Gid:", v, sizeof v) < 0 || strcmp(v, "1000\t1000\t1000\t1000"))
        rc = 9;
    else if (status_field(status, "Groups:", v, sizeof v) < 0 || strncmp(v, "1001 1002", 9))
        rc = 10;
    else if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
        rc = 11;
    else if (umask(0) != 027)
        rc = 12;
    free(status);
    return rc;
}

/* True in the initial user namespace (uid 1000 and every cap exist). */
static bool initial_userns(void)
{
    char *map = NULL;
    struct capsa_err err;
    if (capsa_read_file_at(AT_FDCWD, "/proc/self/uid_map", 4096, &map, NULL, &err) < 0)
        return false;
    unsigned long a = 1, b = 1, c = 0;
    bool full =
        sscanf(map, "%lu %lu %lu", &a, &b, &c) == 3 && a == 0 && b == 0 && c == 4294967295UL;
    free(map);
    return full;
}

static void test_switch_user_caps(void **state)
{
    (void)state;
    if (geteuid() != 0 || !initial_userns())
        skip();
    /* CAP_KILL in ambient but not permitted/inheritable: skipped silently. */
    struct user_case uc = {.has_caps = true, .ambient = CAP_NET_BIND_SERVICE_BIT | CAP_KILL_BIT};
    assert_int_equal(in_child(child_switch_user, &uc), 0);
}

static void test_switch_user_no_caps(void **state)
{
    (void)state;
    if (geteuid() != 0 || !initial_userns())
        skip();
    struct user_case uc = {.has_caps = false};
    assert_int_equal(in_child(child_switch_user, &uc), 0);
}

static int child_root_default_umask(void *arg)
{
    (void)arg;
    /* uid 0 keeping every cap it holds (this VM lacks some, e.g.
     * CAP_SYS_RESOURCE) but CAP_SYS_ADMIN dropped from the bounding set. */
    struct capsa_err err = {0};
    char *status = NULL;
    char v[64];
    if (capsa_read_file_at(AT_FDCWD, "/proc/self/status", 1 << 16, &status, NULL, &err) < 0)
        return 7;
    int f = status_field(status, "CapPrm:", v, sizeof v);
    free(status);
    if (f < 0)
        return 8;
    uint64_t all = strtoull(v, NULL, 16);
    uint64_t bnd = all & ~(1ULL << 21);
    struct capsa_process p = {
        .has_capabilities = true,
        .capabilities = {.bounding = bnd, .effective = all, .permitted = all},
    };
    umask(0);
    if (capsa_process_switch_user(&p, &err) < 0) {
        fprintf(stderr, "switch_user: %s\n", err.msg);
        return 1;
    }
    if (umask(0) != 0022)
        return 2;
    if (prctl(PR_CAPBSET_READ, 21, 0, 0, 0) != 0)
        return 3;
    if (prctl(PR_CAPBSET_READ, 0, 0, 0, 0) != 1)
        return 4;
    if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 0)
        return 5;
    /* Groups were reset to none. */
    if (getgroups(0, NULL) != 0)
        return 6;
    return 0;
}

static void test_switch_user_root(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    assert_int_equal(in_child(child_root_default_umask, NULL), 0);
}

static void test_last_cap(void **state)
{
    (void)state;
    int last = capsa_caps_last_cap();
    assert_true(last >= 36 && last < 64);
    assert_true(prctl(PR_CAPBSET_READ, last, 0, 0, 0) >= 0);
    assert_true(prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) < 0);
}

static int child_personality(void *arg)
{
    (void)arg;
    struct capsa_personality pers = {.domain = (char *)"LINUX32"};
    struct capsa_err err = {0};
    if (capsa_process_apply_personality(&pers, &err) < 0)
        return 1;
    if ((personality(0xffffffff) & PER_MASK) != PER_LINUX32)
        return 2;
    pers.domain = (char *)"LINUX";
    if (capsa_process_apply_personality(&pers, &err) < 0)
        return 3;
    if ((personality(0xffffffff) & PER_MASK) != PER_LINUX)
        return 4;
    pers.domain = (char *)"SOLARIS";
    if (capsa_process_apply_personality(&pers, &err) != -EINVAL)
        return 5;
    if (strstr(err.msg, "linux.personality.domain") == NULL)
        return 6;
    return 0;
}

static void test_personality(void **state)
{
    (void)state;
    assert_int_equal(in_child(child_personality, NULL), 0);
}

static void test_lsm_not_enabled(void **state)
{
    (void)state;
    struct capsa_err err = {0};
    struct capsa_process p = {.apparmor_profile = (char *)"my-profile"};
    if (!capsa_lsm_apparmor_enabled()) {
        assert_true(capsa_lsm_apply(&p, -1, &err) < 0);
        assert_string_equal(err.msg,
                            "process.apparmorProfile: AppArmor is not enabled on this host");
    }
    struct capsa_process q = {.selinux_label = (char *)"system_u:system_r:container_t:s0"};
    if (!capsa_lsm_selinux_enabled()) {
        assert_true(capsa_lsm_apply(&q, -1, &err) < 0);
        assert_string_equal(err.msg, "process.selinuxLabel: SELinux is not enabled on this host");
    }
    /* Nothing asked: nothing done, even with no procfd. */
    struct capsa_process none = {0};
    assert_int_equal(capsa_lsm_apply(&none, -1, &err), 0);
}

static void test_passwd_home(void **state)
{
    (void)state;
    static const char pw[] = "root:x:0:0:root:/root:/bin/sh\n"
                             "# a comment line\n"
                             "\n"
                             "  user:x:1000:1000:User,,,:/home/user:/bin/sh  \r\n"
                             "bad:x:12x:1:bad:/bad:/bin/false\n"
                             "short:x:7:7\n"
                             "nohome:x:8:8:nohome::/bin/false\n"
                             "dup:x:1000:1000:dup:/second:/bin/sh\n"
                             "last:x:4294967295:1:last:/last:/bin/sh";
    char home[64];
    assert_int_equal(capsa_passwd_home(pw, sizeof pw - 1, 0, home, sizeof home), 1);
    assert_string_equal(home, "/root");
    /* white space and a CR around the line are not part of it; first match wins */
    assert_int_equal(capsa_passwd_home(pw, sizeof pw - 1, 1000, home, sizeof home), 1);
    assert_string_equal(home, "/home/user");
    /* a field that is not a number, or a line too short, matches nothing */
    assert_int_equal(capsa_passwd_home(pw, sizeof pw - 1, 12, home, sizeof home), 0);
    assert_int_equal(capsa_passwd_home(pw, sizeof pw - 1, 7, home, sizeof home), 0);
    assert_int_equal(capsa_passwd_home(pw, sizeof pw - 1, 8, home, sizeof home), 1);
    assert_string_equal(home, "");
    /* the last line needs no newline */
    assert_int_equal(capsa_passwd_home(pw, sizeof pw - 1, 4294967295u, home, sizeof home), 1);
    assert_string_equal(home, "/last");
    assert_int_equal(capsa_passwd_home(pw, sizeof pw - 1, 4242, home, sizeof home), 0);
    /* too long for the buffer: not used */
    assert_int_equal(capsa_passwd_home(pw, sizeof pw - 1, 1000, home, 5), 0);
    /* a NUL inside the text is not a home directory */
    static const char nul[] = "n:x:5:5:n:/a\0b:/bin/sh\n";
    assert_int_equal(capsa_passwd_home(nul, sizeof nul - 1, 5, home, sizeof home), 0);
    assert_int_equal(capsa_passwd_home("", 0, 0, home, sizeof home), 0);
}

/* In a child chrooted into a directory with its own etc/passwd (as root):
 * HOME comes from that file, an empty HOME counts as none, a set one stays,
 * a uid without an entry gets "/", and a passwd that is a symlink out of
 * the root or a FIFO is not followed or waited on. */
static int env_home_child(void)
{
    struct capsa_err err = {0};
    char **out = NULL;
    char *env1[] = {(char *)"PATH=/bin", (char *)"HOME=", NULL};
    struct capsa_process p = {.env = env1, .n_env = 2};
    p.user.uid = 1000;
    if (capsa_process_env_home(&p, &out, &err) < 0 || out == NULL || !out[0] || !out[1] || out[2] ||
        strcmp(out[0], "PATH=/bin") != 0 || strcmp(out[1], "HOME=/home/u") != 0)
        return 1;
    capsa_strv_free(out);
    p.user.uid = 4000;
    if (capsa_process_env_home(&p, &out, &err) < 0 || strcmp(out[1], "HOME=/") != 0)
        return 2;
    capsa_strv_free(out);
    struct capsa_process q = {0};
    if (capsa_process_env_home(&q, &out, &err) < 0 || strcmp(out[0], "HOME=/r00t") != 0 || out[1])
        return 3;
    capsa_strv_free(out);
    char *env2[] = {(char *)"HOME=/custom", NULL};
    struct capsa_process r = {.env = env2, .n_env = 1};
    if (capsa_process_env_home(&r, &out, &err) < 0 || out != NULL)
        return 4;
    /* /etc/passwd -> /../../../etc/passwd stays in the root: missing, "/" */
    if (unlink("/etc/passwd") < 0 || symlink("/../../../etc/passwd", "/etc/passwd") < 0)
        return 5;
    if (capsa_process_env_home(&q, &out, &err) < 0 || strcmp(out[0], "HOME=/") != 0)
        return 6;
    capsa_strv_free(out);
    /* a FIFO: not opened for reading (it would block), "/" */
    if (unlink("/etc/passwd") < 0 || mkfifo("/etc/passwd", 0644) < 0)
        return 7;
    if (capsa_process_env_home(&q, &out, &err) < 0 || strcmp(out[0], "HOME=/") != 0)
        return 8;
    capsa_strv_free(out);
    return 0;
}

static void test_env_home(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    char *etc = NULL, *pw = NULL;
    assert_int_equal(capsa_asprintf(&etc, NULL, "%s/root/etc", tmpdir), 0);
    assert_int_equal(capsa_asprintf(&pw, NULL, "%s/passwd", etc), 0);
    char *root = strndup(etc, strlen(etc) - 4);
    assert_int_equal(mkdir(root, 0755), 0);
    assert_int_equal(mkdir(etc, 0755), 0);
    FILE *f = fopen(pw, "w");
    assert_non_null(f);
    fputs("root:x:0:0:root:/r00t:/bin/sh\nu:x:1000:1000::/home/u:/bin/sh\n", f);
    assert_int_equal(fclose(f), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(chroot(root) < 0 || chdir("/") < 0 ? 100 : env_home_child());
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    free(root);
    free(pw);
    free(etc);
}

/* A process record: written once, read back as the process's pid and
 * start time; a missing or malformed one is told apart. */
static void test_proc_record(void **state)
{
    (void)state;
    int dfd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    struct capsa_err err = {0};
    pid_t pid = 0;
    unsigned long long start = 0, want = 0;
    assert_int_equal(capsa_proc_record_read(dfd, "rec", &pid, &start), -ENOENT);
    assert_int_equal(capsa_proc_record_write(dfd, "rec", getpid(), &err), 0);
    assert_int_equal(capsa_proc_record_write(dfd, "rec", getpid(), &err), -EEXIST);
    assert_int_equal(capsa_proc_record_read(dfd, "rec", &pid, &start), 0);
    assert_int_equal(capsa_proc_start_time(getpid(), &want, NULL), 0);
    assert_int_equal(pid, getpid());
    assert_true(start == want && start > 0);
    static const char *const bad[] = {"12\n", "12 \n", "x 5\n", "0 5\n", "12 5", "12 -5\n", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int fd = openat(dfd, "bad", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, bad[i], strlen(bad[i])), (ssize_t)strlen(bad[i]));
        close(fd);
        assert_int_equal(capsa_proc_record_read(dfd, "bad", &pid, &start), -EINVAL);
    }
    /* Not a process: no record. */
    assert_true(capsa_proc_record_write(dfd, "gone", 0x3fffffff, &err) < 0);
    close(dfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_exec),
        cmocka_unit_test(test_proc_record),
        cmocka_unit_test(test_rlimits),
        cmocka_unit_test(test_attrs),
        cmocka_unit_test(test_fake_procfd),
        cmocka_unit_test(test_switch_user_caps),
        cmocka_unit_test(test_switch_user_no_caps),
        cmocka_unit_test(test_switch_user_root),
        cmocka_unit_test(test_last_cap),
        cmocka_unit_test(test_personality),
        cmocka_unit_test(test_lsm_not_enabled),
        cmocka_unit_test(test_passwd_home),
        cmocka_unit_test(test_env_home),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
