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

int capsa_idmap_write(pid_t pid, const struct capsa_spec *spec, struct capsa_err *err)
{
    const struct capsa_linux *l = &spec->linux_cfg;
    int r = write_map(pid, "uid_map", l->uid_mappings, l->n_uid_mappings, "uidMappings", err);
    if (r < 0)
        return r;
    return write_map(pid, "gid_map", l->gid_mappings, l->n_gid_mappings, "gidMappings", err);
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
