/* ns.c - namespace helpers; see ns.h. */
#include "linux/ns.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys/sys.h"
#include "util/util.h"

int capsa_ns_clone_flag(enum capsa_ns_type type)
{
    switch (type) {
    case CAPSA_NS_PID:
        return CLONE_NEWPID;
    case CAPSA_NS_NET:
        return CLONE_NEWNET;
    case CAPSA_NS_MNT:
        return CLONE_NEWNS;
    case CAPSA_NS_IPC:
        return CLONE_NEWIPC;
    case CAPSA_NS_UTS:
        return CLONE_NEWUTS;
    case CAPSA_NS_USER:
        return CLONE_NEWUSER;
    case CAPSA_NS_CGROUP:
        return CLONE_NEWCGROUP;
    case CAPSA_NS_TIME:
        return CLONE_NEWTIME;
    case CAPSA_NS_COUNT:
        break;
    }
    return 0;
}

int capsa_ns_join(const struct capsa_namespace *ns, size_t index, struct capsa_err *err)
{
    const char *name = capsa_ns_type_name(ns->type);
    cleanup_close int fd = open(ns->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "linux.namespaces[%zu].path: open %s", index, ns->path);
    int want = capsa_ns_clone_flag(ns->type);
    int got = ioctl(fd, NS_GET_NSTYPE);
    if (got < 0)
        return capsa_err_set(err, errno, "linux.namespaces[%zu].path: %s is not a namespace", index,
                             ns->path);
    if (got != want)
        return capsa_err_setx(err, EINVAL, "linux.namespaces[%zu].path: %s is not a %s namespace",
                              index, ns->path, name);
    if (setns(fd, want) < 0)
        return capsa_err_set(err, errno, "linux.namespaces[%zu]: join %s namespace %s", index, name,
                             ns->path);
    return 0;
}

static int write_map(pid_t pid, const char *file, const struct capsa_idmap *m, size_t n,
                     const char *field, struct capsa_err *err)
{
    if (n == 0)
        return 0;
    if (n > 340)
        return capsa_err_setx(err, EINVAL, "linux.%s: too many entries (%zu)", field, n);
    size_t cap = n * 40 + 1;
    cleanup_free char *buf = malloc(cap);
    if (buf == NULL)
        return capsa_err_set(err, ENOMEM, "linux.%s", field);
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + len, cap - len, "%" PRIu32 " %" PRIu32 " %" PRIu32 "\n",
                         m[i].container_id, m[i].host_id, m[i].size);
        if (w < 0 || (size_t)w >= cap - len)
            return capsa_err_setx(err, EOVERFLOW, "linux.%s: map too long", field);
        len += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "linux.%s: open %s", field, path);
    /* The kernel wants the whole map in one write. */
    ssize_t wr = write(fd, buf, len);
    if (wr < 0 || (size_t)wr != len)
        return capsa_err_set(err, wr < 0 ? errno : EIO, "linux.%s: write %s", field, path);
    return 0;
}

/* An unprivileged runtime may write by itself only one mapping of its own
 * id, of size 1 (and for gids only after denying setgroups). */
static bool own_single(const struct capsa_idmap *m, size_t n, uint32_t self)
{
    return n == 1 && m[0].size == 1 && m[0].host_id == self;
}

/* newuidmap / newgidmap (setuid helpers from Debian's uidmap package) write
 * ranges granted in /etc/subuid and /etc/subgid. */
static int run_helper(const char *tool, pid_t pid, const struct capsa_idmap *m, size_t n,
                      const char *field, struct capsa_err *err)
{
    if (n > 340)
        return capsa_err_setx(err, EINVAL, "linux.%s: too many entries (%zu)", field, n);
    size_t argc = 2 + 3 * n + 1;
    cleanup_free char **argv = calloc(argc, sizeof *argv);
    cleanup_free char *nums = calloc(3 * n + 1, 12);
    if (argv == NULL || nums == NULL)
        return capsa_err_set(err, ENOMEM, "linux.%s", field);
    char pidbuf[16];
    snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
    argv[0] = (char *)tool;
    argv[1] = pidbuf;
    for (size_t i = 0; i < n; i++) {
        uint32_t v[3] = {m[i].container_id, m[i].host_id, m[i].size};
        for (size_t k = 0; k < 3; k++) {
            char *slot = nums + (3 * i + k) * 12;
            snprintf(slot, 12, "%" PRIu32, v[k]);
            argv[2 + 3 * i + k] = slot;
        }
    }
    pid_t child = fork();
    if (child < 0)
        return capsa_err_set(err, errno, "linux.%s: fork %s", field, tool);
    if (child == 0) {
        static const char *const dirs[] = {"/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"};
        for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
            char path[64];
            snprintf(path, sizeof path, "%s%s", dirs[i], tool);
            execv(path, argv);
        }
        _exit(127);
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        return capsa_err_setx(err, ENOENT,
                              "linux.%s: %s not found: an unprivileged user needs it for id "
                              "ranges (install Debian's uidmap)",
                              field, tool);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return capsa_err_setx(err, EPERM,
                              "linux.%s: %s failed (are the ranges granted in /etc/sub%cid?)",
                              field, tool, tool[3] == 'u' ? 'u' : 'g');
    return 0;
}

int capsa_idmap_write(pid_t pid, const struct capsa_spec *spec, struct capsa_err *err)
{
    const struct capsa_linux *l = &spec->linux_cfg;
    if (geteuid() == 0) {
        int r = write_map(pid, "uid_map", l->uid_mappings, l->n_uid_mappings, "uidMappings", err);
        if (r < 0)
            return r;
        return write_map(pid, "gid_map", l->gid_mappings, l->n_gid_mappings, "gidMappings", err);
    }
    int r;
    if (own_single(l->uid_mappings, l->n_uid_mappings, geteuid()))
        r = write_map(pid, "uid_map", l->uid_mappings, l->n_uid_mappings, "uidMappings", err);
    else
        r = run_helper("newuidmap", pid, l->uid_mappings, l->n_uid_mappings, "uidMappings", err);
    if (r < 0)
        return r;
    if (own_single(l->gid_mappings, l->n_gid_mappings, getegid())) {
        /* The kernel allows an unprivileged gid_map only once setgroups is
         * denied: the container cannot drop supplementary groups then. */
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pid);
        cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "deny", 4) != 4)
            return capsa_err_set(err, errno, "linux.gidMappings: write %s", path);
        return write_map(pid, "gid_map", l->gid_mappings, l->n_gid_mappings, "gidMappings", err);
    }
    return run_helper("newgidmap", pid, l->gid_mappings, l->n_gid_mappings, "gidMappings", err);
}

int capsa_timens_write_offsets(const struct capsa_spec *spec, struct capsa_err *err)
{
    const struct capsa_linux *l = &spec->linux_cfg;
    char buf[128];
    size_t len = 0;
    if (l->time_monotonic.set) {
        int w = snprintf(buf + len, sizeof buf - len, "monotonic %" PRId64 " %" PRIu32 "\n",
                         l->time_monotonic.secs, l->time_monotonic.nanosecs);
        if (w > 0)
            len += (size_t)w;
    }
    if (l->time_boottime.set && len < sizeof buf) {
        int w = snprintf(buf + len, sizeof buf - len, "boottime %" PRId64 " %" PRIu32 "\n",
                         l->time_boottime.secs, l->time_boottime.nanosecs);
        if (w > 0)
            len += (size_t)w;
    }
    if (len == 0)
        return 0;
    cleanup_close int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "linux.timeOffsets: open /proc/self/timens_offsets");
    /* One line per write: the kernel parses each write separately but accepts
     * several lines at once too. */
    ssize_t wr = write(fd, buf, len);
    if (wr < 0 || (size_t)wr != len)
        return capsa_err_set(err, wr < 0 ? errno : EIO, "linux.timeOffsets: write offsets");
    return 0;
}

/* The order setns(2) applies them in: user first (the others may belong to
 * it), mount last. */
static const struct {
    const char *proc_name; /* /proc/<pid>/ns/<name> */
    enum capsa_ns_type type;
} ns_files[] = {
    {"user", CAPSA_NS_USER}, {"ipc", CAPSA_NS_IPC}, {"uts", CAPSA_NS_UTS},
    {"net", CAPSA_NS_NET},   {"pid", CAPSA_NS_PID}, {"cgroup", CAPSA_NS_CGROUP},
    {"time", CAPSA_NS_TIME}, {"mnt", CAPSA_NS_MNT},
};

/* 1 when the namespace files a and b are one namespace, 0 when not; -errno
 * (err names the file) otherwise. */
static int same_ns(const char *a, const char *b, struct capsa_err *err)
{
    struct stat sa, sb;
    if (stat(a, &sa) < 0)
        return capsa_err_set(err, errno, "%s", a);
    if (stat(b, &sb) < 0)
        return capsa_err_set(err, errno, "%s", b);
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

const char *capsa_ns_proc_name(enum capsa_ns_type type)
{
    for (size_t i = 0; i < ARRAY_SIZE(ns_files); i++) {
        if (ns_files[i].type == type)
            return ns_files[i].proc_name;
    }
    return "";
}

int capsa_ns_differing(pid_t pid, int *flags, struct capsa_err *err)
{
    char path[64], self[64];
    *flags = 0;
    for (size_t i = 0; i < ARRAY_SIZE(ns_files); i++) {
        snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid, ns_files[i].proc_name);
        snprintf(self, sizeof self, "/proc/self/ns/%s", ns_files[i].proc_name);
        if (access(self, F_OK) < 0)
            continue; /* a namespace type this kernel does not have */
        int r = same_ns(self, path, err);
        if (r < 0)
            return r;
        if (r == 0)
            *flags |= capsa_ns_clone_flag(ns_files[i].type);
    }
    return 0;
}

int capsa_ns_is_ours(const char *path, enum capsa_ns_type type, struct capsa_err *err)
{
    char self[64];
    snprintf(self, sizeof self, "/proc/self/ns/%s", capsa_ns_proc_name(type));
    return same_ns(self, path, err);
}
