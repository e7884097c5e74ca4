/* test_cgroup.c - unit tests of the cgroup module: host parsing for hybrid,
 * pure v2, pure v1 and bind-mounted layouts; path resolution; the state-file
 * encoding; the v1 <-> v2 conversions; capsa_cgroup_apply against fake v1 and
 * v2 trees in a temporary directory; and, as root on a real host, the whole
 * lifecycle (create, enter, pids, freeze, kill, destroy). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "linux/cgroup.h"
#include "linux/cgroup_internal.h"
#include "util/util.h"

/* gcc's -Wnull-dereference does not know that cmocka's assertions end the
 * test: check and abort so the compiler sees the pointer is non-NULL. */
__attribute__((returns_nonnull)) static void *nn_check(const void *p, const char *what)
{
    if (p == NULL) {
        fail_msg("%s is NULL", what);
        abort();
    }
    return (void *)(uintptr_t)p;
}
#define NN(x) ((__typeof__(x))nn_check((x), #x))

/* ---------------- host parsing ---------------- */

static const char hybrid_mi[] =
    "24 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
static const char hybrid_self[] = "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n"
                                  "5:devices:/\n4:memory:/process_api/2b6ad73f86e2c0b0\n"
                                  "3:cpuset:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";

static const struct capsa_cgroup_hier *find_hier(const struct capsa_cgroup_host *h,
                                                 const char *mount)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->h[i].mount, mount) == 0)
            return &h->h[i];
    return NULL;
}

static void test_parse_hybrid(void **state)
{
    (void)state;
    struct capsa_cgroup_host h = {0};
    struct capsa_err err;
    assert_int_equal(capsa_cgroup_host_parse(hybrid_mi, hybrid_self, "hugetlb\n", &h, &err), 0);
    assert_int_equal(h.n, 10);
    const struct capsa_cgroup_hier *m = NN(find_hier(&h, "/sys/fs/cgroup/memory"));
    assert_non_null(m);
    assert_false(m->v2);
    assert_string_equal(m->controllers[0], "memory");
    assert_null(m->controllers[1]);
    assert_string_equal(m->self, "/process_api/2b6ad73f86e2c0b0");
    const struct capsa_cgroup_hier *u = NN(find_hier(&h, "/sys/fs/cgroup/unified"));
    assert_non_null(u);
    assert_true(u->v2);
    assert_string_equal(u->controllers[0], "hugetlb");
    assert_null(u->controllers[1]);
    assert_string_equal(u->self, "/");
    const struct capsa_cgroup_hier *s = NN(find_hier(&h, "/sys/fs/cgroup/systemd"));
    assert_non_null(s);
    assert_string_equal(s->controllers[0], "name=systemd");
    assert_null(find_hier(&h, "/sys/fs/cgroup"));
    capsa_cgroup_host_free(&h);
}

static void test_parse_v2(void **state)
{
    (void)state;
    const char *mi = "24 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
                     "30 24 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 "
                     "rw,nsdelegate,memory_recursiveprot\n";
    const char *self = "0::/user.slice/user-1000.slice/session-2.scope\n";
    struct capsa_cgroup_host h = {0};
    struct capsa_err err;
    assert_int_equal(capsa_cgroup_host_parse(
                         mi, self, "cpuset cpu io memory hugetlb pids rdma misc\n", &h, &err),
                     0);
    assert_int_equal(h.n, 1);
    assert_true(h.h[0].v2);
    assert_string_equal(h.h[0].mount, "/sys/fs/cgroup");
    assert_int_equal(capsa_strv_len(h.h[0].controllers), 8);
    assert_true(capsa_cg_has(h.h[0].controllers, "io"));
    assert_string_equal(h.h[0].self, "/user.slice/user-1000.slice/session-2.scope");

    struct capsa_cgroup *cg = NULL;
    assert_int_equal(capsa_cgroup_resolve(&h, NULL, "ctr1", &cg, &err), 0);
    assert_int_equal(cg->n, 1);
    assert_string_equal(cg->d[0].path, "/sys/fs/cgroup/user.slice/user-1000.slice/ctr1");
    assert_non_null(capsa_cg_dir_for(cg, "memory"));
    capsa_cgroup_free(cg);
    capsa_cgroup_host_free(&h);
}

static void test_parse_v1_comount_and_dup(void **state)
{
    (void)state;
    /* cpu,cpuacct co-mounted, a bind mount of the memory hierarchy
     * elsewhere before the real one, and a second mount of cpu,cpuacct. */
    const char *mi =
        "20 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
        "21 20 0:40 /sub /mnt/memcg rw - cgroup cgroup rw,memory\n"
        "22 20 0:41 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "23 20 0:40 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "24 20 0:41 / /sys/fs/cgroup/cpu\\040copy rw - cgroup cgroup rw,cpuacct,cpu\n"
        "25 20 0:42 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids,clone_children\n";
    const char *self = "3:pids:/a\n2:memory:/sub/x\n1:cpu,cpuacct:/b/c\n";
    struct capsa_cgroup_host h = {0};
    struct capsa_err err;
    assert_int_equal(capsa_cgroup_host_parse(mi, self, NULL, &h, &err), 0);
    assert_int_equal(h.n, 3);
    const struct capsa_cgroup_hier *c = NN(find_hier(&h, "/sys/fs/cgroup/cpu,cpuacct"));
    assert_non_null(c);
    assert_int_equal(capsa_strv_len(c->controllers), 2);
    assert_true(capsa_cg_has(c->controllers, "cpu"));
    assert_true(capsa_cg_has(c->controllers, "cpuacct"));
    assert_string_equal(c->self, "/b/c");
    assert_null(find_hier(&h, "/sys/fs/cgroup/cpu copy"));
    /* the /sys/fs/cgroup mount replaced the earlier bind mount */
    assert_null(find_hier(&h, "/mnt/memcg"));
    const struct capsa_cgroup_hier *m = NN(find_hier(&h, "/sys/fs/cgroup/memory"));
    assert_non_null(m);
    assert_string_equal(m->self, "/sub/x");
    const struct capsa_cgroup_hier *p = NN(find_hier(&h, "/sys/fs/cgroup/pids"));
    assert_non_null(p);
    assert_int_equal(capsa_strv_len(p->controllers), 1); /* clone_children is an option */
    capsa_cgroup_host_free(&h);

    /* a mount of a subtree: self is made relative to its root */
    const char *mi2 = "21 20 0:40 /sub /mnt/memcg rw - cgroup cgroup rw,memory\n";
    assert_int_equal(capsa_cgroup_host_parse(mi2, self, NULL, &h, &err), 0);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.h[0].self, "/x");
    capsa_cgroup_host_free(&h);
}

/* ---------------- resolve, encode ---------------- */

static void test_resolve(void **state)
{
    (void)state;
    struct capsa_cgroup_host h = {0};
    struct capsa_err err;
    assert_int_equal(capsa_cgroup_host_parse(hybrid_mi, hybrid_self, "hugetlb", &h, &err), 0);
    struct capsa_cgroup *cg = NULL;

    assert_int_equal(capsa_cgroup_resolve(&h, "/capsa//x/./y/", "id", &cg, &err), 0);
    assert_int_equal(cg->n, 10); /* name=systemd and unified kept */
    const struct capsa_cgroup_dir *m = NN(capsa_cg_dir_for(cg, "memory"));
    assert_string_equal(m->path, "/sys/fs/cgroup/memory/capsa/x/y");
    const struct capsa_cgroup_dir *v2 = NN(capsa_cg_v2_dir(cg));
    assert_non_null(v2);
    assert_string_equal(v2->path, "/sys/fs/cgroup/unified/capsa/x/y");
    assert_string_equal(NN(capsa_cg_dir_for(cg, "name=systemd"))->path,
                        "/sys/fs/cgroup/systemd/capsa/x/y");
    capsa_cgroup_free(cg);

    /* relative: below our own cgroup in each hierarchy */
    assert_int_equal(capsa_cgroup_resolve(&h, "sub/c1", "id", &cg, &err), 0);
    assert_string_equal(NN(capsa_cg_dir_for(cg, "memory"))->path,
                        "/sys/fs/cgroup/memory/process_api/2b6ad73f86e2c0b0/sub/c1");
    assert_string_equal(NN(capsa_cg_dir_for(cg, "pids"))->path, "/sys/fs/cgroup/pids/sub/c1");
    capsa_cgroup_free(cg);

    /* default: "<id>" relative */
    assert_int_equal(capsa_cgroup_resolve(&h, "", "myid", &cg, &err), 0);
    assert_string_equal(NN(capsa_cg_dir_for(cg, "cpu"))->path, "/sys/fs/cgroup/cpu/myid");
    assert_string_equal(NN(capsa_cg_dir_for(cg, "memory"))->path,
                        "/sys/fs/cgroup/memory/process_api/2b6ad73f86e2c0b0/myid");
    capsa_cgroup_free(cg);

    cg = NULL;
    assert_int_equal(capsa_cgroup_resolve(&h, "/a/../b", "id", &cg, &err), -EINVAL);
    assert_null(cg);
    assert_non_null(strstr(err.msg, "\"..\""));
    assert_int_equal(capsa_cgroup_resolve(&h, "..", "id", &cg, &err), -EINVAL);
    assert_int_equal(capsa_cgroup_resolve(&h, "//", "id", &cg, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "root cgroup"));
    capsa_cgroup_host_free(&h);
}

static void test_encode_decode(void **state)
{
    (void)state;
    struct capsa_cgroup_host h = {0};
    struct capsa_err err;
    assert_int_equal(capsa_cgroup_host_parse(hybrid_mi, hybrid_self, "hugetlb", &h, &err), 0);
    struct capsa_cgroup *cg = NULL, *back = NULL;
    assert_int_equal(capsa_cgroup_resolve(&h, "/a b/c", "id", &cg, &err), 0);
    char *text = NULL;
    assert_int_equal(capsa_cgroup_encode(cg, &text, &err), 0);
    assert_non_null(strstr(text, "v1 memory /sys/fs/cgroup/memory/a b/c\n"));
    assert_non_null(strstr(text, "v2 hugetlb /sys/fs/cgroup/unified/a b/c\n"));
    assert_int_equal(capsa_cgroup_decode(text, &back, &err), 0);
    assert_int_equal(back->n, cg->n);
    for (size_t i = 0; i < cg->n; i++) {
        assert_string_equal(back->d[i].path, cg->d[i].path);
        assert_int_equal(back->d[i].v2, cg->d[i].v2);
        assert_int_equal(capsa_strv_len(back->d[i].controllers),
                         capsa_strv_len(cg->d[i].controllers));
        for (size_t j = 0; cg->d[i].controllers[j]; j++)
            assert_string_equal(back->d[i].controllers[j], cg->d[i].controllers[j]);
    }
    char *text2 = NULL;
    assert_int_equal(capsa_cgroup_encode(back, &text2, &err), 0);
    assert_string_equal(text, text2);
    free(text);
    free(text2);
    capsa_cgroup_free(back);
    capsa_cgroup_free(cg);
    back = NULL;
    assert_int_equal(capsa_cgroup_decode("v3 x /a\n", &back, &err), -EINVAL);
    assert_int_equal(capsa_cgroup_decode("v2 - relative\n", &back, &err), -EINVAL);
    assert_int_equal(capsa_cgroup_decode("v2 - /empty/ctrls\n", &back, &err), 0);
    assert_null(back->d[0].controllers[0]);
    capsa_cgroup_free(back);
    capsa_cgroup_host_free(&h);
}

/* ---------------- conversions ---------------- */

static void test_conversions(void **state)
{
    (void)state;
    assert_int_equal(capsa_cg_shares_to_weight(2), 1);
    assert_int_equal(capsa_cg_shares_to_weight(1024), 39);
    assert_int_equal(capsa_cg_shares_to_weight(262144), 10000);
    assert_int_equal(capsa_cg_shares_to_weight(999999), 10000);
    assert_int_equal(capsa_cg_shares_to_weight(0), 0);
    assert_int_equal(capsa_cg_blkio_to_io_weight(10), 1);
    assert_int_equal(capsa_cg_blkio_to_io_weight(500), 4950);
    assert_int_equal(capsa_cg_blkio_to_io_weight(1000), 10000);

    char b[64];
    const char *why = NULL;
    assert_int_equal(capsa_cg_v2_swap(true, 100, true, 300, b, sizeof(b), &why), 0);
    assert_string_equal(b, "200");
    assert_int_equal(capsa_cg_v2_swap(true, 100, true, 100, b, sizeof(b), &why), 0);
    assert_string_equal(b, "0");
    assert_int_equal(capsa_cg_v2_swap(true, 100, true, -1, b, sizeof(b), &why), 0);
    assert_string_equal(b, "max");
    assert_int_equal(capsa_cg_v2_swap(true, -1, false, 0, b, sizeof(b), &why), 0);
    assert_string_equal(b, "max");
    assert_int_equal(capsa_cg_v2_swap(true, 100, false, 0, b, sizeof(b), &why), 0);
    assert_string_equal(b, "");
    assert_int_equal(capsa_cg_v2_swap(true, 100, true, 50, b, sizeof(b), &why), -EINVAL);
    assert_int_equal(capsa_cg_v2_swap(false, 0, true, 50, b, sizeof(b), &why), -EINVAL);

    capsa_cg_cpu_max(true, 50000, true, 100000, b, sizeof(b));
    assert_string_equal(b, "50000 100000");
    capsa_cg_cpu_max(true, -1, false, 0, b, sizeof(b));
    assert_string_equal(b, "max 100000");
    capsa_cg_cpu_max(false, 0, true, 20000, b, sizeof(b));
    assert_string_equal(b, "max 20000");
    capsa_cg_cpu_max(true, 30000, false, 0, b, sizeof(b));
    assert_string_equal(b, "30000 100000");
    capsa_cg_cpu_max(false, 0, false, 0, b, sizeof(b));
    assert_string_equal(b, "");

    capsa_cg_pids_max(0, b, sizeof(b));
    assert_string_equal(b, "max");
    capsa_cg_pids_max(-1, b, sizeof(b));
    assert_string_equal(b, "max");
    capsa_cg_pids_max(20, b, sizeof(b));
    assert_string_equal(b, "20");

    assert_int_equal(capsa_cg_hugepage_size("2MB", b, sizeof(b)), 0);
    assert_string_equal(b, "2MB");
    assert_int_equal(capsa_cg_hugepage_size("2048KB", b, sizeof(b)), 0);
    assert_string_equal(b, "2MB");
    assert_int_equal(capsa_cg_hugepage_size("1GB", b, sizeof(b)), 0);
    assert_string_equal(b, "1GB");
    assert_int_equal(capsa_cg_hugepage_size("64KB", b, sizeof(b)), 0);
    assert_string_equal(b, "64KB");
    assert_int_equal(capsa_cg_hugepage_size("2m", b, sizeof(b)), 0);
    assert_string_equal(b, "2MB");
    assert_int_equal(capsa_cg_hugepage_size("2XB", b, sizeof(b)), -EINVAL);
    assert_int_equal(capsa_cg_hugepage_size("MB", b, sizeof(b)), -EINVAL);
    assert_int_equal(capsa_cg_hugepage_size("3000KB", b, sizeof(b)), -EINVAL);
}

/* ---------------- fake trees ---------------- */

static void mkfile(const char *dir, const char *name, const char *content)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
    close(fd);
}

static char *slurp(const char *dir, const char *name)
{
    cleanup_close int fd = capsa_cg_open_dir(dir);
    assert_true(fd >= 0);
    char *s = NULL;
    assert_int_equal(capsa_cg_read(fd, name, &s), 0);
    return s;
}

static void expect_file(const char *dir, const char *name, const char *want)
{
    char *s = slurp(dir, name);
    if (strcmp(s, want) != 0)
        fail_msg("%s/%s: got \"%s\", want \"%s\"", dir, name, s, want);
    free(s);
}

static void rm_rf(const char *dir)
{
    /* test cleanup only: the tree is under a fresh mkdtemp directory */
    if (strncmp(dir, "/tmp/capsa-cg-", 14) == 0) {
        pid_t p = fork();
        if (p == 0) {
            execl("/bin/rm", "rm", "-rf", "--", dir, (char *)NULL);
            _exit(127);
        }
        int st;
        waitpid(p, &st, 0);
    }
}

struct warns {
    char buf[4096];
};

static void collect_warn(void *opaque, const char *msg)
{
    struct warns *w = opaque;
    size_t l = strlen(w->buf);
    snprintf(w->buf + l, sizeof(w->buf) - l, "%s\n", msg);
}

static char **strv(const char *space_sep)
{
    char **v = calloc(16, sizeof(char *));
    size_t n = 0;
    char *dup = strdup(space_sep), *save = NULL;
    for (char *t = strtok_r(dup, " ", &save); t; t = strtok_r(NULL, " ", &save))
        v[n++] = strdup(t);
    free(dup);
    return v;
}

static void fake_dir(struct capsa_cgroup_dir *d, const char *path, bool v2, const char *ctrls)
{
    d->path = strdup(path);
    d->v2 = v2;
    d->controllers = strv(ctrls);
}

static void test_apply_fake_v2(void **state)
{
    (void)state;
    char root[] = "/tmp/capsa-cg-XXXXXX";
    assert_non_null(mkdtemp(root));
    static const char *const files[] = {"memory.max",
                                        "memory.low",
                                        "memory.swap.max",
                                        "memory.high",
                                        "cpu.weight",
                                        "cpu.max",
                                        "cpu.idle",
                                        "cpu.max.burst",
                                        "cpuset.cpus",
                                        "cpuset.mems",
                                        "pids.max",
                                        "io.weight",
                                        "io.max",
                                        "hugetlb.2MB.max",
                                        "hugetlb.2MB.rsvd.max",
                                        "cgroup.subtree_control"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        mkfile(root, files[i], "");
    mkfile(root, "memory.current", "1000\n");
    mkfile(root, "cgroup.controllers", "cpuset cpu io memory hugetlb pids\n");

    struct capsa_cgroup cg = {.n = 1, .d = calloc(1, sizeof(struct capsa_cgroup_dir))};
    fake_dir(&cg.d[0], root, true, "cpuset cpu io memory hugetlb pids");

    struct capsa_throttle_device rbps = {.major = 8, .minor = 0, .rate = 1048576};
    struct capsa_hugepage_limit hp = {.page_size = (char *)"2MB", .limit = 4194304};
    struct capsa_kv uni = {.key = (char *)"memory.high", .value = (char *)"50000000"};
    struct capsa_resources res = {0};
    res.has_memory = true;
    res.memory = (struct capsa_memory){.has_limit = true,
                                       .limit = 67108864,
                                       .has_swap = true,
                                       .swap = 134217728,
                                       .has_reservation = true,
                                       .reservation = 33554432,
                                       .has_swappiness = true,
                                       .swappiness = 60,
                                       .has_check_before_update = true,
                                       .check_before_update = true};
    res.has_cpu = true;
    res.cpu = (struct capsa_cpu){.has_shares = true,
                                 .shares = 1024,
                                 .has_quota = true,
                                 .quota = 50000,
                                 .has_period = true,
                                 .period = 100000,
                                 .has_burst = true,
                                 .burst = 1000,
                                 .has_idle = true,
                                 .idle = 1,
                                 .cpus = (char *)"0-1",
                                 .mems = (char *)"0"};
    res.has_pids = true;
    res.pids_limit = -1;
    res.has_blkio = true;
    res.blkio.has_weight = true;
    res.blkio.weight = 500;
    res.blkio.throttle_read_bps = &rbps;
    res.blkio.n_throttle_read_bps = 1;
    res.hugepage_limits = &hp;
    res.n_hugepage_limits = 1;
    res.unified = &uni;
    res.n_unified = 1;

    struct warns w = {.buf = ""};
    struct capsa_err err;
    int r = capsa_cgroup_apply(&cg, &res, collect_warn, &w, &err);
    if (r != 0)
        fail_msg("apply: %s", err.msg);
    expect_file(root, "memory.max", "67108864");
    expect_file(root, "memory.swap.max", "67108864");
    expect_file(root, "memory.low", "33554432");
    expect_file(root, "memory.high", "50000000");
    expect_file(root, "cpu.weight", "39");
    expect_file(root, "cpu.max", "50000 100000");
    expect_file(root, "cpu.max.burst", "1000");
    expect_file(root, "cpu.idle", "1");
    expect_file(root, "cpuset.cpus", "0-1");
    expect_file(root, "cpuset.mems", "0");
    expect_file(root, "pids.max", "max");
    expect_file(root, "io.weight", "4950");
    expect_file(root, "io.max", "8:0 rbps=1048576");
    expect_file(root, "hugetlb.2MB.max", "4194304");
    expect_file(root, "hugetlb.2MB.rsvd.max", "4194304");
    assert_non_null(strstr(w.buf, "linux.resources.memory.swappiness"));

    /* checkBeforeUpdate: a limit below memory.current (1000) is refused */
    struct capsa_resources low = {0};
    low.has_memory = true;
    low.memory = (struct capsa_memory){.has_limit = true,
                                       .limit = 500,
                                       .has_check_before_update = true,
                                       .check_before_update = true};
    assert_int_equal(capsa_cgroup_apply(&cg, &low, NULL, NULL, &err), -EBUSY);
    assert_non_null(strstr(err.msg, "linux.resources.memory.limit"));

    /* a page size the kernel does not have */
    struct capsa_hugepage_limit hp1g = {.page_size = (char *)"1GB", .limit = 1};
    struct capsa_resources hres = {.hugepage_limits = &hp1g, .n_hugepage_limits = 1};
    assert_true(capsa_cgroup_apply(&cg, &hres, NULL, NULL, &err) < 0);
    assert_non_null(strstr(err.msg, "linux.resources.hugepageLimits[0].pageSize"));
    assert_non_null(strstr(err.msg, "1GB"));

    /* unified: a controller not enabled here, a key with '/' */
    struct capsa_kv bad[] = {{.key = (char *)"rdma.max", .value = (char *)"x"},
                             {.key = (char *)"memory.max/../x", .value = (char *)"1"}};
    struct capsa_resources ures = {.unified = &bad[0], .n_unified = 1};
    assert_true(capsa_cgroup_apply(&cg, &ures, NULL, NULL, &err) < 0);
    assert_non_null(strstr(err.msg, "linux.resources.unified.rdma.max"));
    assert_non_null(strstr(err.msg, "rdma controller is not enabled"));
    ures.unified = &bad[1];
    assert_int_equal(capsa_cgroup_apply(&cg, &ures, NULL, NULL, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "invalid key"));

    /* realtime on v2 is an error; network has no controller */
    struct capsa_resources rt = {.has_cpu = true};
    rt.cpu.has_realtime_runtime = true;
    rt.cpu.realtime_runtime = 1000;
    assert_true(capsa_cgroup_apply(&cg, &rt, NULL, NULL, &err) < 0);
    assert_non_null(strstr(err.msg, "linux.resources.cpu.realtimeRuntime"));
    struct capsa_resources net = {.has_network = true, .has_class_id = true, .class_id = 1};
    assert_true(capsa_cgroup_apply(&cg, &net, NULL, NULL, &err) < 0);
    assert_non_null(strstr(err.msg, "the net_cls controller is not mounted"));

    /* a field whose file is missing */
    char p[512];
    snprintf(p, sizeof(p), "%s/cpu.max.burst", root);
    assert_int_equal(unlink(p), 0);
    struct capsa_resources burst = {.has_cpu = true};
    burst.cpu.has_burst = true;
    burst.cpu.burst = 5;
    assert_int_equal(capsa_cgroup_apply(&cg, &burst, NULL, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "linux.resources.cpu.burst"));

    free(cg.d[0].path);
    capsa_strv_free(cg.d[0].controllers);
    free(cg.d);
    rm_rf(root);
}

static void test_apply_fake_v1(void **state)
{
    (void)state;
    char root[] = "/tmp/capsa-cg-XXXXXX";
    assert_non_null(mkdtemp(root));
    static const char *const dirs[] = {"memory",  "cpu",     "cpuset",   "pids",   "blkio",
                                       "hugetlb", "net_cls", "net_prio", "unified"};
    char path[9][256];
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        snprintf(path[i], sizeof(path[i]), "%s/%s", root, dirs[i]);
        assert_int_equal(mkdir(path[i], 0755), 0);
    }
    static const char *const memf[] = {"memory.memsw.limit_in_bytes", "memory.soft_limit_in_bytes",
                                       "memory.swappiness", "memory.oom_control"};
    for (size_t i = 0; i < ARRAY_SIZE(memf); i++)
        mkfile(path[0], memf[i], "");
    mkfile(path[0], "memory.limit_in_bytes", "9223372036854771712\n");
    mkfile(path[0], "memory.use_hierarchy", "1\n");
    static const char *const cpuf[] = {"cpu.shares",       "cpu.cfs_quota_us", "cpu.cfs_period_us",
                                       "cpu.cfs_burst_us", "cpu.rt_period_us", "cpu.rt_runtime_us",
                                       "cpu.idle"};
    for (size_t i = 0; i < ARRAY_SIZE(cpuf); i++)
        mkfile(path[1], cpuf[i], "");
    mkfile(path[2], "cpuset.cpus", "");
    mkfile(path[2], "cpuset.mems", "");
    mkfile(path[3], "pids.max", "");
    mkfile(path[4], "blkio.weight", "");
    mkfile(path[4], "blkio.throttle.write_iops_device", "");
    mkfile(path[5], "hugetlb.2MB.limit_in_bytes", "");
    mkfile(path[6], "net_cls.classid", "");
    mkfile(path[7], "net_prio.ifpriomap", "");
    mkfile(path[8], "cgroup.controllers", "");

    struct capsa_cgroup cg = {.n = 9, .d = calloc(9, sizeof(struct capsa_cgroup_dir))};
    fake_dir(&cg.d[0], path[0], false, "memory");
    fake_dir(&cg.d[1], path[1], false, "cpu cpuacct");
    fake_dir(&cg.d[2], path[2], false, "cpuset");
    fake_dir(&cg.d[3], path[3], false, "pids");
    fake_dir(&cg.d[4], path[4], false, "blkio");
    fake_dir(&cg.d[5], path[5], false, "hugetlb");
    fake_dir(&cg.d[6], path[6], false, "net_cls");
    fake_dir(&cg.d[7], path[7], false, "net_prio");
    fake_dir(&cg.d[8], path[8], true, "");

    struct capsa_throttle_device wiops = {.major = 259, .minor = 1, .rate = 300};
    struct capsa_hugepage_limit hp = {.page_size = (char *)"2048KB", .limit = 2097152};
    struct capsa_net_priority prio = {.name = (char *)"eth0", .priority = 5};
    struct capsa_resources res = {0};
    res.has_memory = true;
    res.memory = (struct capsa_memory){.has_limit = true,
                                       .limit = 67108864,
                                       .has_swap = true,
                                       .swap = 134217728,
                                       .has_reservation = true,
                                       .reservation = 33554432,
                                       .has_kernel = true,
                                       .kernel = 1048576,
                                       .has_swappiness = true,
                                       .swappiness = 10,
                                       .has_disable_oom_killer = true,
                                       .disable_oom_killer = true,
                                       .has_use_hierarchy = true,
                                       .use_hierarchy = true};
    res.has_cpu = true;
    res.cpu = (struct capsa_cpu){.has_shares = true,
                                 .shares = 512,
                                 .has_quota = true,
                                 .quota = 20000,
                                 .has_period = true,
                                 .period = 50000,
                                 .has_burst = true,
                                 .burst = 100,
                                 .has_realtime_period = true,
                                 .realtime_period = 1000000,
                                 .has_realtime_runtime = true,
                                 .realtime_runtime = 950000,
                                 .has_idle = true,
                                 .idle = 0,
                                 .cpus = (char *)"1",
                                 .mems = (char *)"0"};
    res.has_pids = true;
    res.pids_limit = 20;
    res.has_blkio = true;
    res.blkio.has_weight = true;
    res.blkio.weight = 300;
    res.blkio.throttle_write_iops = &wiops;
    res.blkio.n_throttle_write_iops = 1;
    res.hugepage_limits = &hp;
    res.n_hugepage_limits = 1;
    res.has_network = true;
    res.has_class_id = true;
    res.class_id = 0x100001;
    res.net_priorities = &prio;
    res.n_net_priorities = 1;

    struct warns w = {.buf = ""};
    struct capsa_err err;
    int r = capsa_cgroup_apply(&cg, &res, collect_warn, &w, &err);
    if (r != 0)
        fail_msg("apply: %s", err.msg);
    expect_file(path[0], "memory.limit_in_bytes", "67108864");
    expect_file(path[0], "memory.memsw.limit_in_bytes", "134217728");
    expect_file(path[0], "memory.soft_limit_in_bytes", "33554432");
    expect_file(path[0], "memory.swappiness", "10");
    expect_file(path[0], "memory.oom_control", "1");
    expect_file(path[0], "memory.use_hierarchy", "1\n"); /* unchanged: no write */
    assert_non_null(strstr(w.buf, "linux.resources.memory.kernel:"));
    expect_file(path[1], "cpu.shares", "512");
    expect_file(path[1], "cpu.cfs_quota_us", "20000");
    expect_file(path[1], "cpu.cfs_period_us", "50000");
    expect_file(path[1], "cpu.cfs_burst_us", "100");
    expect_file(path[1], "cpu.rt_period_us", "1000000");
    expect_file(path[1], "cpu.rt_runtime_us", "950000");
    expect_file(path[1], "cpu.idle", "0");
    expect_file(path[2], "cpuset.cpus", "1");
    expect_file(path[2], "cpuset.mems", "0");
    expect_file(path[3], "pids.max", "20");
    expect_file(path[4], "blkio.weight", "300");
    expect_file(path[4], "blkio.throttle.write_iops_device", "259:1 300");
    expect_file(path[5], "hugetlb.2MB.limit_in_bytes", "2097152");
    expect_file(path[6], "net_cls.classid", "1048577");
    expect_file(path[7], "net_prio.ifpriomap", "eth0 5");

    /* missing blkio.weight: error naming the field */
    char p[512];
    snprintf(p, sizeof(p), "%s/blkio.weight", path[4]);
    assert_int_equal(unlink(p), 0);
    struct capsa_resources bw = {.has_blkio = true};
    bw.blkio.has_weight = true;
    bw.blkio.weight = 100;
    assert_int_equal(capsa_cgroup_apply(&cg, &bw, NULL, NULL, &err), -ENOTSUP);
    assert_string_equal(err.msg, "linux.resources.blockIO.weight: this kernel has no "
                                 "blkio.weight (no weight-based I/O scheduler)");
    /* memory.max on the (v1) hybrid: memory is not enabled in the v2 dir */
    struct capsa_kv uni = {.key = (char *)"memory.max", .value = (char *)"1"};
    struct capsa_resources ures = {.unified = &uni, .n_unified = 1};
    assert_true(capsa_cgroup_apply(&cg, &ures, NULL, NULL, &err) < 0);
    assert_non_null(strstr(err.msg, "linux.resources.unified.memory.max"));
    /* rdma is mounted nowhere */
    struct capsa_rdma_limit rl = {.device = (char *)"mlx5_0"};
    struct capsa_resources rres = {.rdma = &rl, .n_rdma = 1};
    assert_int_equal(capsa_cgroup_apply(&cg, &rres, NULL, NULL, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "linux.resources.rdma: the rdma controller is not mounted"));

    for (size_t i = 0; i < cg.n; i++) {
        free(cg.d[i].path);
        capsa_strv_free(cg.d[i].controllers);
    }
    free(cg.d);
    rm_rf(root);
}

static void test_stats_fake(void **state)
{
    (void)state;
    char root[] = "/tmp/capsa-cg-XXXXXX";
    assert_non_null(mkdtemp(root));
    char v2[300], acct[300], mem[300];
    snprintf(v2, sizeof(v2), "%s/v2", root);
    snprintf(acct, sizeof(acct), "%s/cpuacct", root);
    snprintf(mem, sizeof(mem), "%s/memory", root);
    assert_int_equal(mkdir(v2, 0755), 0);
    assert_int_equal(mkdir(acct, 0755), 0);
    assert_int_equal(mkdir(mem, 0755), 0);
    mkfile(v2, "cpu.stat",
           "usage_usec 300\nuser_usec 200\nsystem_usec 100\nnr_periods 7\nnr_throttled 2\n"
           "throttled_usec 5\n");
    mkfile(v2, "pids.current", "3\n");
    mkfile(v2, "pids.max", "max\n");
    mkfile(v2, "io.stat", "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n");
    mkfile(v2, "hugetlb.2MB.max", "max\n");
    mkfile(v2, "hugetlb.2MB.rsvd.max", "max\n");
    mkfile(v2, "hugetlb.2MB.current", "2097152\n");
    mkfile(v2, "hugetlb.2MB.events", "max 4\n");
    mkfile(mem, "memory.usage_in_bytes", "1000\n");
    mkfile(mem, "memory.limit_in_bytes", "5000\n");
    mkfile(mem, "memory.stat", "cache 77\nrss 12\n");
    mkfile(mem, "memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n");
    mkfile(acct, "cpuacct.usage", "123456\n");
    mkfile(acct, "cpuacct.usage_percpu", "100 200 \n");
    mkfile(acct, "cpuacct.stat", "user 2\nsystem 1\n");

    /* v2 first: cpu, pids, io, hugetlb there */
    struct capsa_cgroup cg = {.n = 2, .d = calloc(2, sizeof(struct capsa_cgroup_dir))};
    fake_dir(&cg.d[0], v2, true, "cpu io pids hugetlb");
    fake_dir(&cg.d[1], mem, false, "memory");
    struct capsa_cgroup_stats st;
    struct capsa_err err;
    assert_int_equal(capsa_cgroup_stats(&cg, &st, &err), 0);
    assert_int_equal(st.cpu_total, 300000);
    assert_int_equal(st.cpu_user, 200000);
    assert_int_equal(st.cpu_kernel, 100000);
    assert_int_equal(st.throttled_periods, 2);
    assert_int_equal(st.throttled_time, 5000);
    assert_int_equal(st.pids_current, 3);
    assert_int_equal(st.pids_limit, 0);
    assert_int_equal(st.n_io_service_bytes, 2);
    assert_string_equal(st.io_service_bytes[1].op, "Write");
    assert_int_equal(st.io_service_bytes[1].value, 8192);
    assert_int_equal(st.n_io_serviced, 2);
    assert_int_equal(st.n_hugetlb, 1);
    assert_string_equal(st.hugetlb[0].page_size, "2MB");
    assert_int_equal(st.hugetlb[0].usage, 2097152);
    assert_int_equal(st.hugetlb[0].failcnt, 4);
    assert_int_equal(st.mem_usage.usage, 1000);
    assert_int_equal(st.mem_usage.limit, 5000);
    assert_int_equal(st.mem_cache, 77);
    assert_int_equal(st.n_mem_raw, 2);
    assert_string_equal(st.mem_raw[1].key, "rss");
    assert_int_equal(st.oom_kills, 3);
    capsa_cgroup_stats_clear(&st);

    /* v1 cpuacct: USER_HZ ticks -> ns */
    free(cg.d[0].path);
    capsa_strv_free(cg.d[0].controllers);
    fake_dir(&cg.d[0], acct, false, "cpuacct");
    assert_int_equal(capsa_cgroup_stats(&cg, &st, &err), 0);
    long hz = sysconf(_SC_CLK_TCK);
    assert_int_equal(st.cpu_total, 123456);
    assert_int_equal(st.cpu_user, 2 * (1000000000 / hz));
    assert_int_equal(st.cpu_kernel, 1 * (1000000000 / hz));
    assert_int_equal(st.n_percpu, 2);
    assert_int_equal(st.cpu_percpu[1], 200);
    capsa_cgroup_stats_clear(&st);

    for (size_t i = 0; i < cg.n; i++) {
        free(cg.d[i].path);
        capsa_strv_free(cg.d[i].controllers);
    }
    free(cg.d);
    rm_rf(root);
}

/* ---------------- real host (root) ---------------- */

struct real {
    struct capsa_cgroup *cg;
    pid_t child;
    volatile uint64_t *counter;
};

static int real_setup(void **state)
{
    struct real *r = calloc(1, sizeof(*r));
    r->child = -1;
    *state = r;
    return 0;
}

static int real_teardown(void **state)
{
    struct real *r = *state;
    struct capsa_err err;
    if (r->child > 0) {
        kill(r->child, SIGKILL);
        waitpid(r->child, NULL, 0);
    }
    if (r->cg != NULL) {
        (void)capsa_cgroup_freeze(r->cg, false, &err);
        (void)capsa_cgroup_destroy(r->cg, &err);
        capsa_cgroup_free(r->cg);
    }
    if (r->counter != NULL)
        munmap((void *)r->counter, 4096);
    free(r);
    return 0;
}

static uint64_t counter_delta(volatile uint64_t *c, long ms)
{
    uint64_t a = *c;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&ts, NULL);
    return *c - a;
}

/* v1_only: drop the v2 directory so that the v1 freezer and the
 * freeze + pidfd signalling path are exercised even on a hybrid host. */
static void real_lifecycle(struct real *rs, bool v1_only)
{
    struct capsa_err err;
    if (geteuid() != 0 || access("/sys/fs/cgroup", W_OK) != 0)
        skip();
    struct capsa_cgroup_host h = {0};
    assert_int_equal(capsa_cgroup_host_load(&h, &err), 0);
    char path[64];
    snprintf(path, sizeof(path), "/capsa-unit-%d", (int)getpid());
    int r = capsa_cgroup_resolve(&h, path, "x", &rs->cg, &err);
    capsa_cgroup_host_free(&h);
    if (r != 0)
        fail_msg("resolve: %s", err.msg);
    struct capsa_cgroup *cg = rs->cg;
    if (v1_only) {
        size_t k = 0;
        for (size_t i = 0; i < cg->n; i++) {
            if (cg->d[i].v2) {
                free(cg->d[i].path);
                capsa_strv_free(cg->d[i].controllers);
            } else {
                cg->d[k++] = cg->d[i];
            }
        }
        cg->n = k;
        if (k == 0 || capsa_cg_dir_for(cg, "freezer") == NULL)
            skip();
    }

    struct capsa_hugepage_limit hp = {.page_size = (char *)"2MB", .limit = 4194304};
    struct capsa_resources res = {0};
    res.has_memory = true;
    res.memory.has_limit = true;
    res.memory.limit = 64 << 20;
    res.has_cpu = true;
    res.cpu.has_shares = true;
    res.cpu.shares = 512;
    res.cpu.cpus = (char *)"0";
    res.cpu.mems = (char *)"0";
    res.has_pids = true;
    res.pids_limit = 20;
    bool hugetlb = capsa_cg_dir_for(cg, "hugetlb") != NULL &&
                   access("/sys/kernel/mm/hugepages/hugepages-2048kB", F_OK) == 0;
    if (hugetlb) {
        res.hugepage_limits = &hp;
        res.n_hugepage_limits = 1;
    }
    struct warns w = {.buf = ""};
    r = capsa_cgroup_create(cg, &res, collect_warn, &w, &err);
    if (r != 0)
        fail_msg("create: %s", err.msg);

    const struct capsa_cgroup_dir *d;
    if ((d = capsa_cg_dir_for(cg, "memory")) != NULL)
        expect_file(d->path, d->v2 ? "memory.max" : "memory.limit_in_bytes", "67108864\n");
    if ((d = capsa_cg_dir_for(cg, "cpu")) != NULL)
        expect_file(d->path, d->v2 ? "cpu.weight" : "cpu.shares", d->v2 ? "20\n" : "512\n");
    if ((d = capsa_cg_dir_for(cg, "pids")) != NULL)
        expect_file(d->path, "pids.max", "20\n");
    if ((d = capsa_cg_dir_for(cg, "cpuset")) != NULL) {
        expect_file(d->path, "cpuset.cpus", "0\n");
        expect_file(d->path, "cpuset.mems", "0\n");
    }
    if (hugetlb) {
        d = NN(capsa_cg_dir_for(cg, "hugetlb"));
        expect_file(d->path, d->v2 ? "hugetlb.2MB.max" : "hugetlb.2MB.limit_in_bytes", "4194304\n");
    }

    rs->counter = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(rs->counter != MAP_FAILED);
    int pfd[2], ready[2];
    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(pipe(ready), 0);
    /* v1: the child moves itself (tasks "0", as the container init does);
     * otherwise the parent writes cgroup.procs. */
    struct capsa_cgroup_join join = {.n = 0};
    if (v1_only) {
        r = capsa_cgroup_join_open(cg, &join, &err);
        if (r != 0)
            fail_msg("join_open: %s", err.msg);
        assert_true(join.n == cg->n);
    }
    rs->child = fork();
    assert_true(rs->child >= 0);
    if (rs->child == 0) {
        char c;
        struct capsa_err cerr = {0};
        close(pfd[1]);
        if (v1_only && capsa_cgroup_join_self(&join, &cerr) < 0)
            _exit(2);
        if (write(ready[1], "r", 1) != 1 || read(pfd[0], &c, 1) != 1)
            _exit(1);
        for (;;)
            (*rs->counter)++;
    }
    close(pfd[0]);
    close(ready[1]);
    capsa_cgroup_join_close(&join);
    if (!v1_only) {
        r = capsa_cgroup_enter(cg, rs->child, true, true, &err);
        if (r != 0)
            fail_msg("enter: %s", err.msg);
    }
    char rc;
    assert_int_equal(read(ready[0], &rc, 1), 1);
    close(ready[0]);
    assert_int_equal(write(pfd[1], "x", 1), 1);
    close(pfd[1]);

    pid_t *pids = NULL;
    size_t n = 0;
    assert_int_equal(capsa_cgroup_pids(cg, &pids, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(pids[0], rs->child);
    free(pids);

    assert_true(counter_delta(rs->counter, 50) > 0);
    r = capsa_cgroup_freeze(cg, true, &err);
    if (r != 0)
        fail_msg("freeze: %s", err.msg);
    assert_int_equal(capsa_cgroup_is_frozen(cg), 1);
    assert_int_equal(counter_delta(rs->counter, 100), 0);
    assert_int_equal(capsa_cgroup_freeze(cg, false, &err), 0);
    assert_int_equal(capsa_cgroup_is_frozen(cg), 0);
    assert_true(counter_delta(rs->counter, 50) > 0);

    struct capsa_cgroup_stats st;
    assert_int_equal(capsa_cgroup_stats(cg, &st, &err), 0);
    assert_int_equal(st.pids_current, 1);
    assert_int_equal(st.pids_limit, 20);
    assert_true(st.cpu_total > 0);
    assert_int_equal(st.mem_usage.limit, 64 << 20);
    capsa_cgroup_stats_clear(&st);

    /* v1 only: a catchable signal through the freeze + pidfd path */
    r = capsa_cgroup_signal_all(cg, v1_only ? SIGTERM : SIGKILL, &err);
    if (r != 0)
        fail_msg("signal_all: %s", err.msg);
    int status = 0;
    assert_int_equal(waitpid(rs->child, &status, 0), rs->child);
    rs->child = -1;
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), v1_only ? SIGTERM : SIGKILL);

    r = capsa_cgroup_destroy(cg, &err);
    if (r != 0)
        fail_msg("destroy: %s", err.msg);
    for (size_t i = 0; i < cg->n; i++)
        if (access(cg->d[i].path, F_OK) == 0)
            fail_msg("%s still exists", cg->d[i].path);
    /* a second destroy is fine */
    assert_int_equal(capsa_cgroup_destroy(cg, &err), 0);
}

static void test_real_lifecycle(void **state)
{
    real_lifecycle(*state, false);
}

static void test_real_lifecycle_v1(void **state)
{
    real_lifecycle(*state, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_hybrid),
        cmocka_unit_test(test_parse_v2),
        cmocka_unit_test(test_parse_v1_comount_and_dup),
        cmocka_unit_test(test_resolve),
        cmocka_unit_test(test_encode_decode),
        cmocka_unit_test(test_conversions),
        cmocka_unit_test(test_apply_fake_v2),
        cmocka_unit_test(test_apply_fake_v1),
        cmocka_unit_test(test_stats_fake),
        cmocka_unit_test_setup_teardown(test_real_lifecycle, real_setup, real_teardown),
        cmocka_unit_test_setup_teardown(test_real_lifecycle_v1, real_setup, real_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
