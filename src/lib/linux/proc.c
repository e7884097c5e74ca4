/* proc.c - a private procfs for the runtime's own writes to /proc, and
 * linux.sysctl (validation against the container's namespaces, and writing).
 *
 * The container's /proc may be fake (a tmpfs, a bind over /proc/self/attr),
 * and writes through it could land on files the container chose
 * (CVE-2019-16884, CVE-2025-52881). So writes go through a procfs instance
 * created with fsopen/fsmount that is attached nowhere, and every open below
 * it refuses magic links, mount crossings and non-procfs results. */
#include "linux/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "linux/ns.h"
#include "sys/sys.h"
#include "util/util.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

static int check_procfs(int fd, const char *what, struct capsa_err *err)
{
    struct statfs sfs;
    if (fstatfs(fd, &sfs) < 0)
        return capsa_err_set(err, errno, "statfs %s", what);
    if (sfs.f_type != PROC_SUPER_MAGIC)
        return capsa_err_setx(err, EXDEV, "%s is not on procfs", what);
    return 0;
}

int capsa_proc_open_private(struct capsa_err *err)
{
    cleanup_close int fsfd = capsa_fsopen("proc", FSOPEN_CLOEXEC);
    if (fsfd >= 0) {
        if (capsa_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
            return capsa_err_set(err, errno, "create private procfs");
        int mfd = capsa_fsmount(fsfd, FSMOUNT_CLOEXEC,
                                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (mfd < 0)
            return capsa_err_set(err, errno, "fsmount private procfs");
        return mfd;
    }
    /* Fallback: fsopen is refused (ENOSYS without the new mount API, EPERM
     * without CAP_SYS_ADMIN over our user namespace or when the kernel deems
     * a new procfs "too revealing"). Use the current /proc, verified to be
     * procfs; capsa_proc_openat still refuses to leave it. */
    if (errno != ENOSYS && errno != EPERM)
        return capsa_err_set(err, errno, "fsopen proc");
    cleanup_close int fd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "open /proc");
    int r = check_procfs(fd, "/proc", err);
    if (r < 0)
        return r;
    return steal_fd(fd);
}

int capsa_proc_openat(int procfd, const char *path, int flags, struct capsa_err *err)
{
    /* BENEATH: no "..", no absolute symlinks out of procfd. NO_MAGICLINKS:
     * /proc/<pid>/fd/N and friends are not followed. NO_XDEV: a bind mount
     * planted over a procfs file (when we fell back to /proc) is refused. */
    long fd;
    do {
        fd = capsa_openat2(procfd, path, flags | O_CLOEXEC | O_NOCTTY, 0,
                           RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);
    } while (fd < 0 && errno == EAGAIN);
    if (fd < 0)
        return capsa_err_set(err, errno, "open /proc/%s", path);
    cleanup_close int ofd = (int)fd;
    char what[300];
    snprintf(what, sizeof what, "/proc/%s", path);
    int r = check_procfs(ofd, what, err);
    if (r < 0)
        return r;
    return steal_fd(ofd);
}

int capsa_proc_open_self(int procfd, const char *rel, int flags, struct capsa_err *err)
{
    char path[256];
    int n = snprintf(path, sizeof path, "self/%s", rel);
    if (n < 0 || (size_t)n >= sizeof path)
        return capsa_err_setx(err, ENAMETOOLONG, "/proc/self/%s: path too long", rel);
    return capsa_proc_openat(procfd, path, flags, err);
}

/* Is there a namespace entry of this type (new_only: one to be created)? */
static bool has_ns(const struct capsa_spec *spec, enum capsa_ns_type type, bool new_only)
{
    if (!spec->has_linux)
        return false;
    for (size_t i = 0; i < spec->linux_cfg.n_namespaces; i++) {
        const struct capsa_namespace *ns = &spec->linux_cfg.namespaces[i];
        if (ns->type == type)
            return !new_only || ns->path == NULL;
    }
    return false;
}

/* Keys are dot-separated; each segment is a single path component. */
static bool sysctl_key_valid(const char *key)
{
    if (key == NULL || key[0] == '\0')
        return false;
    const char *p = key;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t len = dot != NULL ? (size_t)(dot - p) : strlen(p);
        if (len == 0 || memchr(p, '/', len) != NULL)
            return false;
        if (dot == NULL)
            return true;
        p = dot + 1;
    }
}

int capsa_sysctl_validate(const struct capsa_spec *spec, struct capsa_err *err)
{
    static const char *const ipc_keys[] = {
        "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
        "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
    };
    if (!spec->has_linux)
        return 0;
    for (size_t i = 0; i < spec->linux_cfg.n_sysctl; i++) {
        const char *key = spec->linux_cfg.sysctl[i].key;
        if (!sysctl_key_valid(key))
            return capsa_err_setx(err, EINVAL, "linux.sysctl: invalid key \"%s\"",
                                  key != NULL ? key : "");
        if (spec->linux_cfg.sysctl[i].value == NULL)
            return capsa_err_setx(err, EINVAL, "linux.sysctl: \"%s\" has no value", key);
        bool ipc = strncmp(key, "fs.mqueue.", 10) == 0;
        for (size_t k = 0; !ipc && k < ARRAY_SIZE(ipc_keys); k++)
            ipc = strcmp(key, ipc_keys[k]) == 0;
        if (ipc) {
            /* Without an IPC namespace the write would change the host. */
            if (!has_ns(spec, CAPSA_NS_IPC, false))
                return capsa_err_setx(err, EPERM, "linux.sysctl: \"%s\" needs an ipc namespace",
                                      key);
            continue;
        }
        if (strncmp(key, "net.", 4) == 0) {
            /* A joined one (podman, CNI) is the container's own too; only
             * the runtime's own network namespace is off limits (runc). */
            if (!has_ns(spec, CAPSA_NS_NET, false))
                return capsa_err_setx(err, EPERM, "linux.sysctl: \"%s\" needs a network namespace",
                                      key);
            const struct capsa_namespace *ns = capsa_spec_namespace(spec, CAPSA_NS_NET);
            int r = ns->path != NULL ? capsa_ns_is_ours(ns->path, CAPSA_NS_NET, err) : 0;
            if (r < 0)
                return capsa_err_wrap(err, "linux.sysctl: \"%s\"", key);
            if (r > 0)
                return capsa_err_setx(err, EPERM,
                                      "linux.sysctl: \"%s\": the network namespace %s is the "
                                      "runtime's own (the host's)",
                                      key, ns->path);
            continue;
        }
        /* Always refused, as runc does: the "hostname" field says it, and
         * the two would fight (without a uts namespace it is the host's). */
        if (strcmp(key, "kernel.hostname") == 0)
            return capsa_err_setx(err, EPERM,
                                  "linux.sysctl: \"%s\" is not allowed: it conflicts with the "
                                  "\"hostname\" field",
                                  key);
        if (strcmp(key, "kernel.domainname") == 0) {
            if (!has_ns(spec, CAPSA_NS_UTS, false))
                return capsa_err_setx(err, EPERM, "linux.sysctl: \"%s\" needs a uts namespace",
                                      key);
            continue;
        }
        /* user.* (ucounts: max_user_namespaces...) is per user namespace:
         * only with one of the container's (runc). */
        if (strncmp(key, "user.", 5) == 0) {
            if (!has_ns(spec, CAPSA_NS_USER, false))
                return capsa_err_setx(err, EPERM, "linux.sysctl: \"%s\" needs a user namespace",
                                      key);
            continue;
        }
        return capsa_err_setx(err, EPERM, "linux.sysctl: \"%s\" is not namespaced", key);
    }
    return 0;
}

int capsa_sysctl_apply(const struct capsa_spec *spec, int procfd, struct capsa_err *err)
{
    if (!spec->has_linux)
        return 0;
    for (size_t i = 0; i < spec->linux_cfg.n_sysctl; i++) {
        const struct capsa_kv *kv = &spec->linux_cfg.sysctl[i];
        if (!sysctl_key_valid(kv->key) || kv->value == NULL)
            return capsa_err_setx(err, EINVAL, "linux.sysctl: invalid key \"%s\"",
                                  kv->key != NULL ? kv->key : "");
        cleanup_free char *path = NULL;
        if (capsa_asprintf(&path, err, "sys/%s", kv->key) < 0)
            return -ENOMEM;
        for (char *p = path; *p != '\0'; p++)
            if (*p == '.')
                *p = '/';
        cleanup_close int fd = capsa_proc_openat(procfd, path, O_WRONLY, err);
        if (fd < 0)
            return capsa_err_wrap(err, "linux.sysctl: \"%s\"", kv->key);
        int r = capsa_write_all(fd, kv->value, strlen(kv->value));
        if (r < 0)
            return capsa_err_set(err, -r, "linux.sysctl: write \"%s\" = \"%s\"", kv->key,
                                 kv->value);
    }
    return 0;
}
