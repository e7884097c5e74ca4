/* devices.c - device nodes in the container: linux.devices, the OCI default
 * devices (null, zero, full, random, urandom, tty) and the /dev links.
 *
 * Nodes are created with mknodat() relative to a parent directory resolved
 * inside the rootfs (never a path string through the rootfs), so a symlinked
 * /dev cannot make us create a node on the host. In a new user namespace
 * mknod is not permitted, so the host's node is bind-mounted over an empty
 * file instead (as runc and crun do). */
#include "linux/devices.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sys/sys.h"
#include "util/util.h"

struct default_dev {
    const char *path;
    unsigned int major, minor;
};

/* OCI runtime-spec "Default Devices": c, 0666, uid/gid 0. */
static const struct default_dev default_devs[] = {
    {"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
    {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0},
};

static const struct {
    const char *name;
    const char *target;
} dev_links[] = {
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
};

/* Split an absolute path into its resolved parent (created if missing) and
 * the last component. */
static int open_parent(int rootfd, const char *path, char **base, struct capsa_err *err)
{
    const char *slash = strrchr(path, '/');
    const char *b = slash != NULL ? slash + 1 : path;
    if (b[0] == '\0' || strcmp(b, ".") == 0 || strcmp(b, "..") == 0)
        return capsa_err_setx(err, EINVAL, "invalid device path \"%s\"", path);
    cleanup_free char *dir = NULL;
    if (slash == NULL || slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    *base = strdup(b);
    if (dir == NULL || *base == NULL) {
        free(*base);
        *base = NULL;
        return capsa_err_set(err, ENOMEM, "device %s", path);
    }
    int fd = capsa_resolve_mkdir_in_root(rootfd, dir, false, err);
    if (fd < 0) {
        free(*base);
        *base = NULL;
    }
    return fd;
}

/* Remove whatever non-directory sits at parent/name (a stale node, or a
 * symlink planted to redirect us: unlinkat never follows it). */
static int remove_existing(int parent, const char *name, struct capsa_err *err)
{
    struct stat st;
    if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return errno == ENOENT ? 0 : capsa_err_set(err, errno, "stat %s", name);
    if (S_ISDIR(st.st_mode))
        return capsa_err_setx(err, EEXIST, "%s exists and is a directory", name);
    if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
        return capsa_err_set(err, errno, "remove %s", name);
    return 0;
}

/* Called with umask 0 (capsa_devices_setup), which would otherwise strip the
 * requested fileMode. Usually nothing is in the way: mknod first, and only
 * on EEXIST look at what is there. The chown is skipped when the node
 * already has the wanted owner (ours, in a parent without set-group-ID). */
static int make_node(int parent, const char *name, mode_t mode, dev_t dev, uid_t uid, gid_t gid,
                     bool owner_is_ours, struct capsa_err *err)
{
    if (mknodat(parent, name, mode, dev) < 0) {
        if (errno != EEXIST)
            return capsa_err_set(err, errno, "mknod");
        int r = remove_existing(parent, name, err);
        if (r < 0)
            return r;
        if (mknodat(parent, name, mode, dev) < 0)
            return capsa_err_set(err, errno, "mknod");
    }
    if (!owner_is_ours && fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
        return capsa_err_set(err, errno, "chown");
    return 0;
}

/* Whether a node made in parent gets uid/gid by itself: our fs ids, unless
 * the directory's set-group-ID bit hands down its group. */
static bool owner_is_ours(int parent, uid_t uid, gid_t gid)
{
    struct stat st;
    if (uid != geteuid() || gid != getegid() || fstat(parent, &st) < 0)
        return false;
    return !(st.st_mode & S_ISGID);
}

/* new_userns: bind the host node at the same path over an empty file. */
static int bind_node(int parent, const char *name, const char *hostpath, struct capsa_err *err)
{
    cleanup_close int src = open(hostpath, O_PATH | O_CLOEXEC);
    if (src < 0)
        return capsa_err_set(err, errno, "open host %s", hostpath);
    struct stat st;
    if (fstat(src, &st) < 0)
        return capsa_err_set(err, errno, "stat host %s", hostpath);
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode) && !S_ISFIFO(st.st_mode))
        return capsa_err_setx(err, EINVAL, "host %s is not a device", hostpath);
    struct stat cur;
    if (fstatat(parent, name, &cur, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(cur.st_mode)) {
        int r = remove_existing(parent, name, err);
        if (r < 0)
            return r;
    }
    int fd = openat(parent, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
    if (fd < 0)
        return capsa_err_set(err, errno, "create mount point");
    close(fd);
    cleanup_close int dest = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (dest < 0)
        return capsa_err_set(err, errno, "open mount point");
    return capsa_mount_bind_fd(src, dest, false, 0, err);
}

static int device_mode(char type, mode_t *out)
{
    switch (type) {
    case 'c':
    case 'u':
        *out = S_IFCHR;
        return 0;
    case 'b':
        *out = S_IFBLK;
        return 0;
    case 'p':
        *out = S_IFIFO;
        return 0;
    default:
        return -EINVAL;
    }
}

static int spec_device(int rootfd, const struct capsa_rootfs_ctx *ctx, const struct capsa_device *d,
                       struct capsa_err *err)
{
    if (d->path == NULL || d->path[0] != '/')
        return capsa_err_setx(err, EINVAL, "path must be absolute");
    mode_t type;
    if (device_mode(d->type, &type) < 0)
        return capsa_err_setx(err, EINVAL, "unknown type '%c'", d->type);
    if (d->major < 0 || d->minor < 0 || d->major > 0xfffff || d->minor > 0xfffff)
        return capsa_err_setx(err, EINVAL, "major/minor out of range");
    cleanup_free char *base = NULL;
    cleanup_close int parent = open_parent(rootfd, d->path, &base, err);
    if (parent < 0)
        return parent;
    if (ctx->new_userns)
        return bind_node(parent, base, d->path, err);
    mode_t perm = d->has_file_mode ? (mode_t)(d->file_mode & 07777) : 0666;
    dev_t dev = type == S_IFIFO ? 0 : makedev((unsigned int)d->major, (unsigned int)d->minor);
    uid_t uid = d->has_uid ? d->uid : 0;
    gid_t gid = d->has_gid ? d->gid : 0;
    return make_node(parent, base, type | perm, dev, uid, gid, owner_is_ours(parent, uid, gid),
                     err);
}

static bool spec_has_device(const struct capsa_spec *spec, const char *path)
{
    if (!spec->has_linux)
        return false;
    for (size_t i = 0; i < spec->linux_cfg.n_devices; i++)
        if (spec->linux_cfg.devices[i].path != NULL &&
            strcmp(spec->linux_cfg.devices[i].path, path) == 0)
            return true;
    return false;
}

static int make_link(int devfd, const char *name, const char *target, bool replace,
                     struct capsa_err *err)
{
    if (replace) {
        int r = remove_existing(devfd, name, err);
        if (r < 0)
            return r;
    }
    if (symlinkat(target, devfd, name) < 0 && errno != EEXIST)
        return capsa_err_set(err, errno, "symlink /dev/%s -> %s", name, target);
    return 0;
}

static int devices_setup(int rootfd, const struct capsa_rootfs_ctx *ctx, struct capsa_err *err)
{
    const struct capsa_spec *spec = ctx->spec;
    int r;
    for (size_t i = 0; spec->has_linux && i < spec->linux_cfg.n_devices; i++) {
        const struct capsa_device *d = &spec->linux_cfg.devices[i];
        r = spec_device(rootfd, ctx, d, err);
        if (r < 0)
            return capsa_err_wrap(err, "linux.devices[%zu] (%s)", i, d->path ? d->path : "?");
    }
    /* The default devices all live in /dev: resolve it once. */
    cleanup_close int devfd = capsa_resolve_mkdir_in_root(rootfd, "/dev", false, err);
    if (devfd < 0)
        return capsa_err_wrap(err, "/dev");
    bool ours = owner_is_ours(devfd, 0, 0);
    for (size_t i = 0; i < ARRAY_SIZE(default_devs); i++) {
        const struct default_dev *d = &default_devs[i];
        if (spec_has_device(spec, d->path))
            continue; /* the spec's entry wins */
        const char *base = d->path + strlen("/dev/");
        if (ctx->new_userns)
            r = bind_node(devfd, base, d->path, err);
        else
            r = make_node(devfd, base, S_IFCHR | 0666, makedev(d->major, d->minor), 0, 0, ours,
                          err);
        if (r < 0)
            return capsa_err_wrap(err, "default device %s", d->path);
    }
    for (size_t i = 0; i < ARRAY_SIZE(dev_links); i++) {
        r = make_link(devfd, dev_links[i].name, dev_links[i].target, false, err);
        if (r < 0)
            return r;
    }
    /* /dev/ptmx must be the devpts instance's ptmx (newinstance), so any
     * existing node is replaced by the link, as runc does. */
    if (!spec_has_device(spec, "/dev/ptmx")) {
        r = make_link(devfd, "ptmx", "pts/ptmx", true, err);
        if (r < 0)
            return r;
    }
    return 0;
}

int capsa_devices_setup(int rootfd, const struct capsa_rootfs_ctx *ctx, struct capsa_err *err)
{
    /* The container init is single-threaded here: one umask for all nodes. */
    mode_t old = umask(0);
    int r = devices_setup(rootfd, ctx, err);
    umask(old);
    return r;
}
