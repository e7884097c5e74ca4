/* test_rootfs.c - the in-root resolver against hostile symlinks, sysctl
 * validation, the private procfs, and a real container filesystem: a forked
 * child in new mount/pid/uts/ipc namespaces runs capsa_rootfs_prepare,
 * _pivot and _finalize on a temporary busybox rootfs built from a hand-made
 * struct capsa_spec, checks the result from inside and reports by exit
 * status (and an error text over a pipe). Mount tests skip when not root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux/rootfs.h"
#include "spec/spec.h"
#include "util/util.h"

/* ---- helpers ---------------------------------------------------------- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        rmdir(p);
    else
        unlink(p);
    return 0;
}

static void rm_rf(const char *p)
{
    nftw(p, rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

static void mkdirs(const char *base, const char *rel)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    for (char *s = p + strlen(base) + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(p, 0755);
            *s = '/';
        }
    }
    mkdir(p, 0755);
}

static void write_file(const char *base, const char *rel, const char *data)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

static void symlink_at(const char *base, const char *rel, const char *target)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", base, rel);
    assert_int_equal(symlink(target, p), 0);
}

static bool exists_at(const char *base, const char *rel)
{
    char p[2 * PATH_MAX];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", base, rel);
    return lstat(p, &st) == 0;
}

/* Where does fd point? (host view, via the real /proc) */
static void fd_path(int fd, char *buf, size_t len)
{
    char l[64];
    snprintf(l, sizeof l, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(l, buf, len - 1);
    assert_true(n > 0);
    buf[n] = '\0';
}

/* Short fixed buffers keep every derived path well below PATH_MAX. */
#define TMPLEN 128

struct tmp {
    char base[64]; /* holds root/ and outside/ */
    char root[TMPLEN];
    char outside[TMPLEN];
};

static void tmp_setup(struct tmp *t)
{
    snprintf(t->base, 64, "/tmp/capsa-rootfs-test-XXXXXX");
    assert_non_null(mkdtemp(t->base));
    snprintf(t->root, sizeof t->root, "%s/root", t->base);
    snprintf(t->outside, sizeof t->outside, "%s/outside", t->base);
    assert_int_equal(mkdir(t->root, 0755), 0);
    assert_int_equal(mkdir(t->outside, 0755), 0);
    write_file(t->outside, "sentinel", "host");
}

/* ---- resolver --------------------------------------------------------- */

static void expect_inside(const struct tmp *t, int fd, const char *expect_rel)
{
    char p[PATH_MAX], want[PATH_MAX];
    assert_true(fd >= 0);
    fd_path(fd, p, sizeof p);
    snprintf(want, sizeof want, "%s%s", t->root, expect_rel);
    if (strcmp(p, want) != 0)
        fail_msg("resolved to %s, expected %s", p, want);
}

static void test_resolve_hostile(void **state)
{
    (void)state;
    struct tmp t;
    tmp_setup(&t);
    char name[64], abs_out[PATH_MAX];
    /* A unique name that must never appear at the host's / or /etc. */
    snprintf(name, sizeof name, "capsa-escape-%d", (int)getpid());
    snprintf(abs_out, sizeof abs_out, "/%s", name);

    symlink_at(t.root, "abs", "/");
    symlink_at(t.root, "up", "../../../../../..");
    char rel_out[PATH_MAX];
    snprintf(rel_out, sizeof rel_out, "../../../../../..%s", t.outside);
    symlink_at(t.root, "relout", rel_out);
    symlink_at(t.root, "absout", t.outside);
    symlink_at(t.root, "mnt", "/etc");
    symlink_at(t.root, "loop1", "loop2");
    symlink_at(t.root, "loop2", "loop1");
    symlink_at(t.root, "dangling", abs_out);
    symlink_at(t.root, "self", "/proc/self/root");
    write_file(t.root, "file", "x");

    int rootfd = open(t.root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(rootfd >= 0);
    struct capsa_err err = {0};
    int fd;
    char want[PATH_MAX];

    /* absolute symlink to "/" is the rootfs root */
    snprintf(want, sizeof want, "/abs/%s-n/sub", name);
    fd = capsa_resolve_mkdir_in_root(rootfd, want, false, &err);
    snprintf(want, sizeof want, "/%s-n/sub", name);
    expect_inside(&t, fd, want);
    close(fd);
    snprintf(want, sizeof want, "%s-n", name);
    assert_false(exists_at("/", want));

    /* ".." through a symlink is clamped */
    fd = capsa_resolve_mkdir_in_root(rootfd, "/up/upd", false, &err);
    expect_inside(&t, fd, "/upd");
    close(fd);

    /* "../../.." + the host path of outside/ lands inside the root */
    fd = capsa_resolve_mkdir_in_root(rootfd, "/relout/a", false, &err);
    snprintf(want, sizeof want, "%s/a", t.outside);
    expect_inside(&t, fd, want);
    close(fd);
    assert_false(exists_at(t.outside, "a"));

    fd = capsa_resolve_mkdir_in_root(rootfd, "/absout/b", true, &err);
    snprintf(want, sizeof want, "%s/b", t.outside);
    expect_inside(&t, fd, want);
    close(fd);
    assert_false(exists_at(t.outside, "b"));
    struct stat st;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s%s/b", t.root, t.outside);
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));

    /* mnt -> /etc: /etc of the rootfs (created), never the host's /etc */
    snprintf(want, sizeof want, "/mnt/%s", name);
    fd = capsa_resolve_mkdir_in_root(rootfd, want, true, &err);
    snprintf(want, sizeof want, "/etc/%s", name);
    expect_inside(&t, fd, want);
    close(fd);
    assert_false(exists_at("/etc", name));

    /* dangling absolute symlink: its target is created inside the root */
    fd = capsa_resolve_mkdir_in_root(rootfd, "/dangling/x", false, &err);
    snprintf(want, sizeof want, "/%s/x", name);
    expect_inside(&t, fd, want);
    close(fd);
    assert_false(exists_at("/", name));

    /* loops fail, nothing created */
    fd = capsa_resolve_mkdir_in_root(rootfd, "/loop1/x", false, &err);
    assert_true(fd < 0);
    assert_false(exists_at(t.root, "loop1/x"));

    /* self -> /proc/self/root: in this rootfs there is no procfs, so it is
     * a dangling symlink whose target is created inside the root */
    fd = capsa_resolve_mkdir_in_root(rootfd, "/self/etc/x", false, &err);
    expect_inside(&t, fd, "/proc/self/root/etc/x");
    close(fd);
    /* real magic links are refused: /proc/self/root from a /proc/self root */
    int selffd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
    assert_true(selffd >= 0);
    fd = capsa_resolve_mkdir_in_root(selffd, "/root/tmp", false, &err);
    assert_true(fd < 0);
    fd = capsa_resolve_mkdir_in_root(selffd, "/cwd/capsa-x", false, &err);
    assert_true(fd < 0);
    close(selffd);

    /* a file in the middle */
    fd = capsa_resolve_mkdir_in_root(rootfd, "/file/x", false, &err);
    assert_int_equal(fd, -ENOTDIR);

    /* plain "..": clamped */
    fd = capsa_resolve_mkdir_in_root(rootfd, "/../../../dd/./ee/", false, &err);
    expect_inside(&t, fd, "/dd/ee");
    close(fd);
    fd = capsa_resolve_mkdir_in_root(rootfd, "/", false, &err);
    expect_inside(&t, fd, "");
    close(fd);
    fd = capsa_resolve_mkdir_in_root(rootfd, "", false, &err);
    assert_int_equal(fd, -EINVAL);

    /* existing file is returned as is */
    fd = capsa_resolve_mkdir_in_root(rootfd, "/file", true, &err);
    expect_inside(&t, fd, "/file");
    close(fd);

    /* the host side is unchanged */
    assert_false(exists_at("/", name));
    assert_false(exists_at("/", "upd"));
    assert_false(exists_at("/", "dd"));
    DIR *d = opendir(t.outside);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n++;
    closedir(d);
    assert_int_equal(n, 3); /* ., .., sentinel */

    close(rootfd);
    rm_rf(t.base);
}

/* ---- sysctl ----------------------------------------------------------- */

static void test_sysctl_validate(void **state)
{
    (void)state;
    struct capsa_namespace ns[] = {
        {CAPSA_NS_IPC, NULL}, {CAPSA_NS_NET, NULL}, {CAPSA_NS_UTS, NULL}};
    struct capsa_kv kv[1];
    struct capsa_spec spec = {0};
    spec.has_linux = true;
    spec.linux_cfg.namespaces = ns;
    spec.linux_cfg.n_namespaces = 3;
    spec.linux_cfg.sysctl = kv;
    spec.linux_cfg.n_sysctl = 1;
    struct capsa_err err = {0};
    static const char *const ok[] = {"kernel.msgmax",       "kernel.shm_rmid_forced",
                                     "kernel.sem",          "fs.mqueue.msg_max",
                                     "net.ipv4.ip_forward", "kernel.domainname"};
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        kv[0] = (struct capsa_kv){(char *)ok[i], (char *)"1"};
        if (capsa_sysctl_validate(&spec, &err) != 0)
            fail_msg("%s: %s", ok[i], err.msg);
    }
    static const char *const bad[] = {
        "kernel.printk", "vm.swappiness", "fs.file-max", "kernel.msgmax.",
        ".net.x",        "net..x",        "net.a/b.c",   ""};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        kv[0] = (struct capsa_kv){(char *)bad[i], (char *)"1"};
        if (capsa_sysctl_validate(&spec, &err) == 0)
            fail_msg("%s accepted", bad[i]);
    }
    kv[0] = (struct capsa_kv){(char *)"kernel.printk", (char *)"1"};
    capsa_sysctl_validate(&spec, &err);
    assert_string_equal(err.msg, "linux.sysctl: \"kernel.printk\" is not namespaced");
    /* kernel.hostname: never, even with a uts namespace (runc) */
    kv[0] = (struct capsa_kv){(char *)"kernel.hostname", (char *)"x"};
    assert_int_not_equal(capsa_sysctl_validate(&spec, &err), 0);
    assert_string_equal(err.msg, "linux.sysctl: \"kernel.hostname\" is not allowed: it conflicts "
                                 "with the \"hostname\" field");
    /* user.* only with a user namespace */
    kv[0] = (struct capsa_kv){(char *)"user.max_user_namespaces", (char *)"0"};
    assert_int_not_equal(capsa_sysctl_validate(&spec, &err), 0);
    assert_non_null(strstr(err.msg, "needs a user namespace"));
    struct capsa_namespace ns4[] = {{CAPSA_NS_USER, NULL}};
    spec.linux_cfg.namespaces = ns4;
    spec.linux_cfg.n_namespaces = 1;
    assert_int_equal(capsa_sysctl_validate(&spec, &err), 0);
    spec.linux_cfg.namespaces = ns;
    spec.linux_cfg.n_namespaces = 3;

    /* net.* needs a network namespace of the container's: a joined one
     * (podman and CNI pass a path) counts, unless it is the runtime's own
     * (runc); none (the host's) is refused */
    kv[0] = (struct capsa_kv){(char *)"net.ipv4.ip_forward", (char *)"1"};
    ns[1].path = (char *)"/proc/self/ns/net";
    assert_int_not_equal(capsa_sysctl_validate(&spec, &err), 0);
    assert_non_null(strstr(err.msg, "is the runtime's own"));
    ns[1].path = (char *)"/nonexistent/netns";
    assert_int_not_equal(capsa_sysctl_validate(&spec, &err), 0);
    if (geteuid() == 0) {
        /* another network namespace, held by a child */
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            close(pfd[1]);
            char c;
            _exit(unshare(CLONE_NEWNET) < 0 || read(pfd[0], &c, 1) < 0);
        }
        close(pfd[0]);
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/ns/net", (int)child);
        struct stat a, b;
        int tries = 0;
        while (stat(path, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_ino == b.st_ino &&
               tries++ < 1000)
            usleep(1000);
        ns[1].path = path;
        int r = capsa_sysctl_validate(&spec, &err);
        close(pfd[1]);
        waitpid(child, NULL, 0);
        assert_int_equal(r, 0);
    }
    ns[1].path = NULL;
    spec.linux_cfg.n_namespaces = 1; /* ipc only */
    assert_int_not_equal(capsa_sysctl_validate(&spec, &err), 0);
    assert_non_null(strstr(err.msg, "net.ipv4.ip_forward"));
    kv[0] = (struct capsa_kv){(char *)"kernel.hostname", (char *)"x"};
    assert_int_not_equal(capsa_sysctl_validate(&spec, &err), 0);
    kv[0] = (struct capsa_kv){(char *)"kernel.shmmax", (char *)"1"};
    assert_int_equal(capsa_sysctl_validate(&spec, &err), 0);
    spec.linux_cfg.n_namespaces = 0;
    assert_int_not_equal(capsa_sysctl_validate(&spec, &err), 0);
}

/* ---- private procfs --------------------------------------------------- */

static void test_proc_private(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    struct capsa_err err = {0};
    int procfd = capsa_proc_open_private(&err);
    if (procfd < 0)
        fail_msg("%s", err.msg);
    int fd = capsa_proc_openat(procfd, "sys/kernel/ostype", O_RDONLY, &err);
    if (fd < 0)
        fail_msg("%s", err.msg);
    char buf[32] = {0};
    assert_true(read(fd, buf, sizeof buf - 1) > 0);
    assert_int_equal(strncmp(buf, "Linux", 5), 0);
    close(fd);
    /* a magic link and an escape are refused */
    assert_true(capsa_proc_openat(procfd, "self/root/etc/passwd", O_RDONLY, &err) < 0);
    assert_true(capsa_proc_openat(procfd, "self/fd/0", O_RDONLY, &err) < 0);
    assert_true(capsa_proc_openat(procfd, "../etc/passwd", O_RDONLY, &err) < 0);
    assert_true(capsa_proc_openat(procfd, "/etc/passwd", O_RDONLY, &err) < 0);
    /* the non-magic "self" symlink works */
    fd = capsa_proc_openat(procfd, "self/status", O_RDONLY, &err);
    assert_true(fd >= 0);
    close(fd);
    close(procfd);
}

/* Write kernel.domainname through the private procfs in a new UTS namespace
 * (child process) and read it back with getdomainname. */
static void test_sysctl_apply(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (unshare(CLONE_NEWUTS | CLONE_NEWIPC) < 0)
            _exit(1);
        struct capsa_namespace ns[] = {{CAPSA_NS_UTS, NULL}, {CAPSA_NS_IPC, NULL}};
        struct capsa_kv kv[] = {{(char *)"kernel.domainname", (char *)"capsa-sysctl"},
                                {(char *)"kernel.shmmni", (char *)"1234"}};
        struct capsa_spec spec = {0};
        spec.has_linux = true;
        spec.linux_cfg.namespaces = ns;
        spec.linux_cfg.n_namespaces = 2;
        spec.linux_cfg.sysctl = kv;
        spec.linux_cfg.n_sysctl = 2;
        struct capsa_err err = {0};
        if (capsa_sysctl_validate(&spec, &err) < 0)
            _exit(2);
        int procfd = capsa_proc_open_private(&err);
        if (procfd < 0 || capsa_sysctl_apply(&spec, procfd, &err) < 0)
            _exit(3);
        char host[64] = {0};
        if (getdomainname(host, sizeof host - 1) < 0 || strcmp(host, "capsa-sysctl") != 0)
            _exit(4);
        char *v = NULL;
        if (capsa_read_file_at(procfd, "sys/kernel/shmmni", 64, &v, NULL, &err) < 0 ||
            strcmp(v, "1234\n") != 0)
            _exit(5);
        free(v);
        /* a segment with '/' is refused even by apply */
        kv[0].key = (char *)"kernel.a/b";
        spec.linux_cfg.n_sysctl = 1;
        if (capsa_sysctl_apply(&spec, procfd, &err) != -EINVAL)
            _exit(6);
        _exit(0);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

/* ---- a real container filesystem -------------------------------------- */

#define MAX_MOUNTS 16

struct spec_builder {
    struct capsa_spec spec;
    struct capsa_mount mounts[MAX_MOUNTS];
    char *opts[MAX_MOUNTS][8];
    struct capsa_device devices[2];
    char *masked[8];
    char *readonly[5];
};

static void add_mount(struct spec_builder *b, const char *type, const char *src, const char *dst,
                      const char *const *opts)
{
    size_t i = b->spec.n_mounts++;
    assert_true(i < MAX_MOUNTS);
    size_t n = 0;
    while (opts != NULL && opts[n] != NULL) {
        b->opts[i][n] = (char *)opts[n];
        n++;
    }
    b->opts[i][n] = NULL;
    b->mounts[i] = (struct capsa_mount){.destination = (char *)dst,
                                        .type = (char *)type,
                                        .source = (char *)src,
                                        .options = b->opts[i],
                                        .n_options = n};
}

#define OPTS(...) ((const char *const[]){__VA_ARGS__, NULL})

struct scenario {
    bool dev_tmpfs; /* /dev is a separate tmpfs */
    bool no_pivot;
    bool new_userns;         /* devices bound from the host instead of mknod */
    const char *propagation; /* linux.rootfsPropagation */
};

struct world {
    struct tmp t;
    char hostdata[TMPLEN];
    char escape_name[64];
    int status_pipe[2];
};

static void build_rootfs(struct world *w)
{
    struct tmp *t = &w->t;
    mkdirs(t->root, "bin");
    mkdirs(t->root, "proc");
    mkdirs(t->root, "masked-dir");
    write_file(t->root, "masked-dir/secret", "secret");
    write_file(t->root, "masked-file", "secret");
    mkdirs(t->root, "sys");
    char cmd[PATH_MAX];
    snprintf(cmd, sizeof cmd, "%s/bin/busybox", t->root);
    int in = open("/bin/busybox", O_RDONLY | O_CLOEXEC);
    assert_true(in >= 0);
    int out = open(cmd, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    assert_true(out >= 0);
    char buf[65536];
    ssize_t r;
    while ((r = read(in, buf, sizeof buf)) > 0)
        assert_int_equal(write(out, buf, (size_t)r), r);
    close(in);
    close(out);
    /* hostile: evil -> ../../../.. + host path of outside/ ; mnt -> /etc */
    char target[PATH_MAX];
    snprintf(target, sizeof target, "../../../../../..%s", t->outside);
    symlink_at(t->root, "evil", target);
    symlink_at(t->root, "mnt", "/etc");
    /* host data for the ro bind */
    snprintf(w->hostdata, sizeof w->hostdata, "%s/hostdata", t->base);
    mkdir(w->hostdata, 0755);
    write_file(w->hostdata, "file", "hello");
    snprintf(w->escape_name, sizeof w->escape_name, "capsa-escape-%d", (int)getpid());
}

static void build_spec(struct spec_builder *b, struct world *w, const struct scenario *sc,
                       char *etcdest)
{
    memset(b, 0, sizeof *b);
    b->spec.oci_version = (char *)"1.2.0";
    b->spec.root_readonly = true;
    b->spec.mounts = b->mounts;
    b->spec.has_linux = true;
    add_mount(b, "proc", "proc", "/proc", NULL);
    if (sc->dev_tmpfs)
        add_mount(b, "tmpfs", "tmpfs", "/dev",
                  OPTS("nosuid", "strictatime", "mode=755", "size=65536k"));
    /* gid=5 may be unmapped in a user namespace (runc's rootless spec drops it) */
    if (sc->new_userns)
        add_mount(b, "devpts", "devpts", "/dev/pts",
                  OPTS("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"));
    else
        add_mount(b, "devpts", "devpts", "/dev/pts",
                  OPTS("nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"));
    add_mount(b, "tmpfs", "shm", "/dev/shm",
              OPTS("nosuid", "noexec", "nodev", "mode=1777", "size=65536k"));
    add_mount(b, "sysfs", "sysfs", "/sys", OPTS("nosuid", "noexec", "nodev", "ro"));
    add_mount(b, "cgroup", "cgroup", "/sys/fs/cgroup",
              OPTS("nosuid", "noexec", "nodev", "relatime", "ro"));
    add_mount(b, "bind", w->hostdata, "/ro", OPTS("rbind", "ro", "nosuid"));
    add_mount(b, "tmpfs", "tmpfs", "/evil/sub", OPTS("size=1m"));
    add_mount(b, "tmpfs", "tmpfs", etcdest, OPTS("size=1m"));
    add_mount(b, "tmpfs", "tmpfs", "/rw", OPTS("size=1m", "mode=700"));

    /* With new_userns the host node at the same path is bound: use one
     * that exists on the host. */
    b->devices[0] =
        (struct capsa_device){.type = 'c',
                              .path = (char *)(sc->new_userns ? "/dev/zero" : "/dev/mynull"),
                              .major = 1,
                              .minor = 3,
                              .has_file_mode = true,
                              .file_mode = 0600,
                              .has_uid = true,
                              .uid = 1000,
                              .has_gid = true,
                              .gid = 1001};
    b->spec.linux_cfg.devices = b->devices;
    b->spec.linux_cfg.n_devices = 1;
    size_t m = 0;
    b->masked[m++] = (char *)"/proc/kcore"; /* may not exist: skipped */
    b->masked[m++] = (char *)"/proc/version";
    b->masked[m++] = (char *)"/masked-dir";
    b->masked[m++] = (char *)"/masked-file";
    b->masked[m++] = (char *)"/does/not/exist";
    b->spec.linux_cfg.masked_paths = b->masked;
    b->spec.linux_cfg.n_masked_paths = m;
    b->readonly[0] = (char *)"/proc/sys";
    b->readonly[1] = (char *)"/proc/sysrq-trigger";
    b->readonly[2] = (char *)"/nope";
    b->readonly[3] = (char *)"/proc/loadavg";
    b->spec.linux_cfg.readonly_paths = b->readonly;
    b->spec.linux_cfg.n_readonly_paths = 4;
    b->spec.linux_cfg.rootfs_propagation = (char *)sc->propagation;
}

static int report(int fd, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int report(int fd, int code, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (n > 0)
        (void)!write(fd, msg, strlen(msg));
    return code;
}

static bool is_mountpoint(const char *p)
{
    struct stat a, b;
    char parent[PATH_MAX];
    snprintf(parent, sizeof parent, "%s/..", p);
    return stat(p, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

static int expect_erofs_create(const char *p)
{
    int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
        close(fd);
        return 0;
    }
    return errno == EROFS;
}

/* Runs as pid 1 of the new pid namespace. Returns an exit code. */
static int container_main(struct world *w, const struct scenario *sc)
{
    int out = w->status_pipe[1];
    struct spec_builder b;
    char etcdest[128];
    snprintf(etcdest, sizeof etcdest, "/mnt/%s", w->escape_name);
    build_spec(&b, w, sc, etcdest);
    struct capsa_rootfs_ctx ctx = {.spec = &b.spec,
                                   .rootfs = w->t.root,
                                   .bundle = w->t.base,
                                   .new_userns = sc->new_userns,
                                   .new_netns = false,
                                   .no_pivot = sc->no_pivot,
                                   .devnull_fd = -1,
                                   .rootfs_fd = -1,
                                   .root_mnt_fd = -1};
    struct capsa_err err = {0};
    if (getpid() != 1)
        return report(out, 2, "not pid 1");
    if (capsa_rootfs_prepare(&ctx, &err) < 0)
        return report(out, 3, "prepare: %s", err.msg);
    if (ctx.devnull_fd < 0)
        return report(out, 3, "no devnull_fd");
    if (capsa_rootfs_pivot(&ctx, &err) < 0)
        return report(out, 4, "pivot: %s", err.msg);
    if (capsa_rootfs_finalize(&ctx, &err) < 0)
        return report(out, 5, "finalize: %s", err.msg);
    if (ctx.devnull_fd != -1)
        return report(out, 5, "devnull_fd not closed");

    struct stat st;
    char buf[256];
    if (access("/bin/busybox", X_OK) != 0)
        return report(out, 10, "/bin/busybox missing: %s", strerror(errno));
    /* old root gone: the host's outside/sentinel must not be reachable */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/sentinel", w->t.outside);
    if (access(p, F_OK) == 0)
        return report(out, 11, "host path %s visible after pivot", p);
    /* proc is ours */
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof buf) <= 0 || strncmp(buf, "1 ", 2) != 0)
        return report(out, 12, "/proc is not the container's");
    close(fd);
    /* ro bind */
    fd = open("/ro/file", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return report(out, 13, "/ro/file: %s", strerror(errno));
    close(fd);
    if (!expect_erofs_create("/ro/new"))
        return report(out, 14, "/ro is writable (%s)", strerror(errno));
    /* root.readonly, but tmpfs mounts stay writable */
    if (!expect_erofs_create("/newfile"))
        return report(out, 15, "/ is writable (%s)", strerror(errno));
    fd = open("/rw/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return report(out, 16, "/rw not writable: %s", strerror(errno));
    close(fd);
    if (stat("/rw", &st) != 0 || (st.st_mode & 07777) != 0700)
        return report(out, 16, "/rw mode=700 not applied");
    /* symlinked destinations stayed inside */
    snprintf(p, sizeof p, "%s/sub", w->t.outside);
    if (!is_mountpoint(p))
        return report(out, 17, "%s (via /evil) not a mount point inside", p);
    snprintf(p, sizeof p, "/etc/%s", w->escape_name);
    if (!is_mountpoint(p))
        return report(out, 18, "%s (via /mnt -> /etc) not a mount point inside", p);
    /* devices */
    if (stat("/dev/null", &st) != 0 || !S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
        return report(out, 19, "/dev/null wrong");
    const char *devs[] = {"/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"};
    for (size_t i = 0; i < ARRAY_SIZE(devs); i++)
        if (stat(devs[i], &st) != 0 || !S_ISCHR(st.st_mode))
            return report(out, 19, "%s missing", devs[i]);
    fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "x", 1) != 1)
        return report(out, 19, "/dev/null not writable: %s", strerror(errno));
    close(fd);
    if (!sc->new_userns && (stat("/dev/mynull", &st) != 0 || st.st_rdev != makedev(1, 3)))
        return report(out, 20, "/dev/mynull missing");
    if (!sc->new_userns && ((st.st_mode & 07777) != 0600 || st.st_uid != 1000 || st.st_gid != 1001))
        return report(out, 20, "/dev/mynull mode %o uid %d gid %d", st.st_mode & 07777,
                      (int)st.st_uid, (int)st.st_gid);
    ssize_t n = readlink("/dev/ptmx", buf, sizeof buf - 1);
    if (n != 8 || memcmp(buf, "pts/ptmx", 8) != 0)
        return report(out, 21, "/dev/ptmx is not -> pts/ptmx");
    n = readlink("/dev/fd", buf, sizeof buf - 1);
    if (n != 13 || memcmp(buf, "/proc/self/fd", 13) != 0)
        return report(out, 21, "/dev/fd wrong");
    if (access("/dev/stderr", F_OK) != 0 || stat("/dev/pts/ptmx", &st) != 0)
        return report(out, 21, "/dev/stderr or /dev/pts/ptmx missing");
    if (!is_mountpoint("/dev/shm"))
        return report(out, 21, "/dev/shm not mounted");
    /* masked */
    fd = open("/proc/version", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof buf) != 0)
        return report(out, 22, "/proc/version not masked");
    close(fd);
    fd = open("/masked-file", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof buf) != 0)
        return report(out, 22, "/masked-file not masked");
    close(fd);
    if (access("/masked-dir/secret", F_OK) == 0)
        return report(out, 23, "/masked-dir not masked");
    if (!expect_erofs_create("/masked-dir/x"))
        return report(out, 23, "/masked-dir writable");
    /* readonly paths */
    fd = open("/proc/sys/kernel/domainname", O_WRONLY | O_CLOEXEC);
    if (fd >= 0 || errno != EROFS)
        return report(out, 24, "/proc/sys not read-only (%s)", strerror(errno));
    /* a file (sysrq-trigger is absent on some kernels: skipped there) */
    fd = open("/proc/loadavg", O_WRONLY | O_CLOEXEC);
    if (fd >= 0 || errno != EROFS)
        return report(out, 24, "/proc/loadavg not read-only (%s)", strerror(errno));
    fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
    if (fd >= 0 || (errno != EROFS && errno != ENOENT))
        return report(out, 24, "/proc/sysrq-trigger not read-only");
    /* sysfs without a netns: the host's, read-only */
    if (access("/sys/kernel", F_OK) != 0)
        return report(out, 25, "/sys not mounted");
    if (!expect_erofs_create("/sys/kernel/capsa-x"))
        return report(out, 25, "/sys not read-only (%s)", strerror(errno));
    if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", F_OK) != 0)
        return report(out, 25, "/sys/fs/cgroup/memory missing");
    if (!expect_erofs_create("/sys/fs/cgroup/capsa-x"))
        return report(out, 25, "/sys/fs/cgroup not read-only (%s)", strerror(errno));
    /* mountinfo: "/" is the only root, propagation slave applied */
    FILE *mi = fopen("/proc/self/mountinfo", "re");
    if (mi == NULL)
        return report(out, 26, "mountinfo");
    char line[1024];
    bool root_seen = false;
    while (fgets(line, sizeof line, mi) != NULL) {
        char mp[512];
        if (sscanf(line, "%*d %*d %*s %*s %511s", mp) != 1)
            continue;
        if (strcmp(mp, "/") == 0) {
            root_seen = true;
            bool shared = strstr(line, " shared:") != NULL;
            bool want = sc->propagation != NULL && strstr(sc->propagation, "shared") != NULL;
            if (shared != want) {
                fclose(mi);
                return report(out, 26, "rootfsPropagation %s not applied: %s",
                              sc->propagation ? sc->propagation : "(none)", line);
            }
        }
        if (strstr(mp, w->t.root) != NULL) {
            fclose(mi);
            return report(out, 26, "host path in mountinfo: %s", line);
        }
    }
    fclose(mi);
    if (!root_seen)
        return report(out, 26, "no / in mountinfo");
    return 0;
}

/* Root in a user namespace (e.g. under `unshare -r`)? Then mknod is
 * refused and devices must be bind-mounted, as the runtime does. */
static bool in_userns(void)
{
    FILE *f = fopen("/proc/self/uid_map", "re");
    if (f == NULL)
        return false;
    unsigned long a = 0, b = 0, c = 0;
    int n = fscanf(f, "%lu %lu %lu", &a, &b, &c);
    fclose(f);
    return !(n == 3 && a == 0 && b == 0 && c == 4294967295UL);
}

static void run_scenario(const struct scenario *in)
{
    if (geteuid() != 0)
        skip();
    struct scenario scv = *in;
    const struct scenario *sc = &scv;
    if (in_userns())
        scv.new_userns = true;
    struct world w;
    tmp_setup(&w.t);
    build_rootfs(&w);
    assert_int_equal(pipe2(w.status_pipe, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(w.status_pipe[0]);
        if (unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC) < 0)
            _exit(report(w.status_pipe[1], 1, "unshare: %s", strerror(errno)));
        pid_t c = fork();
        if (c < 0)
            _exit(1);
        if (c == 0)
            _exit(container_main(&w, sc));
        int st;
        if (waitpid(c, &st, 0) < 0)
            _exit(1);
        _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st));
    }
    close(w.status_pipe[1]);
    char msg[1300] = {0};
    ssize_t n = read(w.status_pipe[0], msg, sizeof msg - 1);
    (void)n;
    close(w.status_pipe[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    /* host side unchanged: nothing mounted or created outside the rootfs */
    bool escaped = exists_at(w.t.outside, "sub") || exists_at("/etc", w.escape_name);
    FILE *mi = fopen("/proc/self/mountinfo", "re");
    assert_non_null(mi);
    char line[1024];
    bool leaked = false;
    while (fgets(line, sizeof line, mi) != NULL)
        if (strstr(line, w.t.base) != NULL)
            leaked = true;
    fclose(mi);
    rm_rf(w.t.base);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("container check failed (status %d): %s", WIFEXITED(st) ? WEXITSTATUS(st) : -1,
                 msg);
    assert_false(escaped);
    assert_false(leaked);
}

static void test_container_pivot(void **state)
{
    (void)state;
    struct scenario sc = {.dev_tmpfs = true, .propagation = "rslave"};
    run_scenario(&sc);
}

static void test_container_nopivot_rootfs_dev(void **state)
{
    (void)state;
    /* /dev not a separate mount: nodes go into the rootfs directory;
     * devices bound from the host (the new_userns path). */
    struct scenario sc = {
        .dev_tmpfs = false, .no_pivot = true, .new_userns = true, .propagation = "rshared"};
    run_scenario(&sc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resolve_hostile), cmocka_unit_test(test_sysctl_validate),
        cmocka_unit_test(test_proc_private),    cmocka_unit_test(test_sysctl_apply),
        cmocka_unit_test(test_container_pivot), cmocka_unit_test(test_container_nopivot_rootfs_dev),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
