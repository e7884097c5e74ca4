/* mount.c - mount options and mounting one config.json mount.
 *
 * capsa_mount_opts_parse turns the options array into flags (runc's whole
 * vocabulary) without touching the system. capsa_mount_spec_one then mounts
 * through file descriptors with the new mount API: the destination is
 * resolved once inside the rootfs (openat2 RESOLVE_IN_ROOT, see rootfs.c) and
 * that fd is the target of move_mount, so a symlink planted in the rootfs
 * cannot redirect the mount to the host (CVE-2019-19921, CVE-2021-30465).
 *
 * mount(2) is used only when fsopen() itself is unavailable (ENOSYS, or a
 * filesystem type the kernel refuses to open through fsopen), and then with a
 * "/proc/self/fd/N" target naming the already-resolved destination fd. */
#include "linux/devices.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "sys/sys.h"
#include "util/util.h"

#ifndef PROC_SUPER_MAGIC
#define PROC_SUPER_MAGIC 0x9fa0
#endif

enum opt_kind {
    OPT_SET,        /* MS flag + MOUNT_ATTR set */
    OPT_CLR,        /* MS flag + MOUNT_ATTR cleared */
    OPT_SB_SET,     /* superblock flag (sync, dirsync, mand): no mount attr */
    OPT_SB_CLR,     /* async, nomand */
    OPT_ATIME,      /* atime mode */
    OPT_ATIME_CLR,  /* cancels the given atime mode */
    OPT_RSET,       /* recursive attr set */
    OPT_RCLR,       /* recursive attr clear */
    OPT_RATIME,     /* recursive atime mode */
    OPT_RATIME_CLR, /* cancels the given recursive atime mode */
    OPT_PROP,       /* propagation */
    OPT_RPROP,      /* recursive propagation */
    OPT_BIND,
    OPT_RBIND,
    OPT_REMOUNT,
    OPT_IDMAP,
    OPT_TMPCOPYUP,
    OPT_NOOP, /* "defaults": nothing to set (mount(8) vocabulary) */
};

struct opt_def {
    const char *name;
    enum opt_kind kind;
    unsigned long ms; /* MS_* flag (or propagation) */
    uint64_t attr;    /* MOUNT_ATTR_* */
    enum capsa_atime atime;
};

static const struct opt_def opt_defs[] = {
    {"ro", OPT_SET, MS_RDONLY, MOUNT_ATTR_RDONLY, CAPSA_ATIME_UNSET},
    {"rw", OPT_CLR, MS_RDONLY, MOUNT_ATTR_RDONLY, CAPSA_ATIME_UNSET},
    {"nosuid", OPT_SET, MS_NOSUID, MOUNT_ATTR_NOSUID, CAPSA_ATIME_UNSET},
    {"suid", OPT_CLR, MS_NOSUID, MOUNT_ATTR_NOSUID, CAPSA_ATIME_UNSET},
    {"nodev", OPT_SET, MS_NODEV, MOUNT_ATTR_NODEV, CAPSA_ATIME_UNSET},
    {"dev", OPT_CLR, MS_NODEV, MOUNT_ATTR_NODEV, CAPSA_ATIME_UNSET},
    {"noexec", OPT_SET, MS_NOEXEC, MOUNT_ATTR_NOEXEC, CAPSA_ATIME_UNSET},
    {"exec", OPT_CLR, MS_NOEXEC, MOUNT_ATTR_NOEXEC, CAPSA_ATIME_UNSET},
    {"nodiratime", OPT_SET, MS_NODIRATIME, MOUNT_ATTR_NODIRATIME, CAPSA_ATIME_UNSET},
    {"diratime", OPT_CLR, MS_NODIRATIME, MOUNT_ATTR_NODIRATIME, CAPSA_ATIME_UNSET},
    /* Per-mount since Linux 5.10: no symlink is followed in path lookups
     * through this mount (readlink still works). */
    {"nosymfollow", OPT_SET, MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW, CAPSA_ATIME_UNSET},
    {"symfollow", OPT_CLR, MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW, CAPSA_ATIME_UNSET},
    {"defaults", OPT_NOOP, 0, 0, CAPSA_ATIME_UNSET},
    {"sync", OPT_SB_SET, MS_SYNCHRONOUS, 0, CAPSA_ATIME_UNSET},
    {"async", OPT_SB_CLR, MS_SYNCHRONOUS, 0, CAPSA_ATIME_UNSET},
    {"dirsync", OPT_SB_SET, MS_DIRSYNC, 0, CAPSA_ATIME_UNSET},
    {"mand", OPT_SB_SET, MS_MANDLOCK, 0, CAPSA_ATIME_UNSET},
    {"nomand", OPT_SB_CLR, MS_MANDLOCK, 0, CAPSA_ATIME_UNSET},
    {"noatime", OPT_ATIME, MS_NOATIME, 0, CAPSA_ATIME_NOATIME},
    {"atime", OPT_ATIME_CLR, MS_NOATIME, 0, CAPSA_ATIME_NOATIME},
    {"relatime", OPT_ATIME, MS_RELATIME, 0, CAPSA_ATIME_RELATIME},
    {"norelatime", OPT_ATIME_CLR, MS_RELATIME, 0, CAPSA_ATIME_RELATIME},
    {"strictatime", OPT_ATIME, MS_STRICTATIME, 0, CAPSA_ATIME_STRICTATIME},
    {"nostrictatime", OPT_ATIME_CLR, MS_STRICTATIME, 0, CAPSA_ATIME_STRICTATIME},
    {"bind", OPT_BIND, MS_BIND, 0, CAPSA_ATIME_UNSET},
    {"rbind", OPT_RBIND, MS_BIND | MS_REC, 0, CAPSA_ATIME_UNSET},
    {"remount", OPT_REMOUNT, MS_REMOUNT, 0, CAPSA_ATIME_UNSET},
    {"private", OPT_PROP, MS_PRIVATE, 0, CAPSA_ATIME_UNSET},
    {"rprivate", OPT_RPROP, MS_PRIVATE, 0, CAPSA_ATIME_UNSET},
    {"shared", OPT_PROP, MS_SHARED, 0, CAPSA_ATIME_UNSET},
    {"rshared", OPT_RPROP, MS_SHARED, 0, CAPSA_ATIME_UNSET},
    {"slave", OPT_PROP, MS_SLAVE, 0, CAPSA_ATIME_UNSET},
    {"rslave", OPT_RPROP, MS_SLAVE, 0, CAPSA_ATIME_UNSET},
    {"unbindable", OPT_PROP, MS_UNBINDABLE, 0, CAPSA_ATIME_UNSET},
    {"runbindable", OPT_RPROP, MS_UNBINDABLE, 0, CAPSA_ATIME_UNSET},
    {"rro", OPT_RSET, 0, MOUNT_ATTR_RDONLY, CAPSA_ATIME_UNSET},
    {"rrw", OPT_RCLR, 0, MOUNT_ATTR_RDONLY, CAPSA_ATIME_UNSET},
    {"rnosuid", OPT_RSET, 0, MOUNT_ATTR_NOSUID, CAPSA_ATIME_UNSET},
    {"rsuid", OPT_RCLR, 0, MOUNT_ATTR_NOSUID, CAPSA_ATIME_UNSET},
    {"rnodev", OPT_RSET, 0, MOUNT_ATTR_NODEV, CAPSA_ATIME_UNSET},
    {"rdev", OPT_RCLR, 0, MOUNT_ATTR_NODEV, CAPSA_ATIME_UNSET},
    {"rnoexec", OPT_RSET, 0, MOUNT_ATTR_NOEXEC, CAPSA_ATIME_UNSET},
    {"rexec", OPT_RCLR, 0, MOUNT_ATTR_NOEXEC, CAPSA_ATIME_UNSET},
    {"rnodiratime", OPT_RSET, 0, MOUNT_ATTR_NODIRATIME, CAPSA_ATIME_UNSET},
    {"rdiratime", OPT_RCLR, 0, MOUNT_ATTR_NODIRATIME, CAPSA_ATIME_UNSET},
    {"rnosymfollow", OPT_RSET, 0, MOUNT_ATTR_NOSYMFOLLOW, CAPSA_ATIME_UNSET},
    {"rsymfollow", OPT_RCLR, 0, MOUNT_ATTR_NOSYMFOLLOW, CAPSA_ATIME_UNSET},
    {"rnoatime", OPT_RATIME, 0, 0, CAPSA_ATIME_NOATIME},
    {"ratime", OPT_RATIME_CLR, 0, 0, CAPSA_ATIME_NOATIME},
    {"rrelatime", OPT_RATIME, 0, 0, CAPSA_ATIME_RELATIME},
    {"rnorelatime", OPT_RATIME_CLR, 0, 0, CAPSA_ATIME_RELATIME},
    {"rstrictatime", OPT_RATIME, 0, 0, CAPSA_ATIME_STRICTATIME},
    {"rnostrictatime", OPT_RATIME_CLR, 0, 0, CAPSA_ATIME_STRICTATIME},
    {"idmap", OPT_IDMAP, 0, 0, CAPSA_ATIME_UNSET},
    {"ridmap", OPT_IDMAP, 0, 0, CAPSA_ATIME_UNSET},
    {"tmpcopyup", OPT_TMPCOPYUP, 0, 0, CAPSA_ATIME_UNSET},
};

static const unsigned long ms_atime_bits = MS_NOATIME | MS_RELATIME | MS_STRICTATIME;

static uint64_t atime_attr(enum capsa_atime a)
{
    switch (a) {
    case CAPSA_ATIME_NOATIME:
        return MOUNT_ATTR_NOATIME;
    case CAPSA_ATIME_STRICTATIME:
        return MOUNT_ATTR_STRICTATIME;
    case CAPSA_ATIME_RELATIME:
    case CAPSA_ATIME_UNSET:
        break;
    }
    return MOUNT_ATTR_RELATIME;
}

static const struct opt_def *find_opt(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(opt_defs); i++)
        if (strcmp(opt_defs[i].name, name) == 0)
            return &opt_defs[i];
    return NULL;
}

void capsa_mount_opts_release(struct capsa_mount_opts *o)
{
    if (o == NULL)
        return;
    free(o->data);
    o->data = NULL;
    o->n_data = 0;
}

int capsa_mount_opts_parse(char *const *options, size_t n, struct capsa_mount_opts *out,
                           struct capsa_err *err)
{
    memset(out, 0, sizeof *out);
    if (n == 0 || options == NULL)
        return 0;
    out->data = calloc(n + 1, sizeof *out->data);
    if (out->data == NULL)
        return capsa_err_set(err, ENOMEM, "mount options");
    for (size_t i = 0; i < n; i++) {
        const char *name = options[i];
        if (name == NULL)
            continue;
        const struct opt_def *d = find_opt(name);
        if (d == NULL) {
            /* Not a mount flag: filesystem data, passed on in order. */
            if (name[0] != '\0')
                out->data[out->n_data++] = name;
            continue;
        }
        switch (d->kind) {
        case OPT_SET:
            out->ms_flags |= d->ms;
            out->attr_set |= d->attr;
            out->attr_clr &= ~d->attr;
            break;
        case OPT_CLR:
            out->ms_flags &= ~d->ms;
            out->attr_set &= ~d->attr;
            out->attr_clr |= d->attr;
            break;
        case OPT_SB_SET:
            out->ms_flags |= d->ms;
            break;
        case OPT_SB_CLR:
            out->ms_flags &= ~d->ms;
            break;
        case OPT_ATIME:
            out->atime = d->atime;
            out->ms_flags = (out->ms_flags & ~ms_atime_bits) | d->ms;
            break;
        case OPT_ATIME_CLR:
            /* "atime" cancels an earlier "noatime" (runc clears the flag);
             * with no earlier one it leaves the default / inherited mode. */
            if (out->atime == d->atime) {
                out->atime = CAPSA_ATIME_UNSET;
                out->ms_flags &= ~d->ms;
            }
            break;
        case OPT_RSET:
            out->rec_attr_set |= d->attr;
            out->rec_attr_clr &= ~d->attr;
            break;
        case OPT_RCLR:
            out->rec_attr_set &= ~d->attr;
            out->rec_attr_clr |= d->attr;
            break;
        case OPT_RATIME:
            out->rec_atime = d->atime;
            break;
        case OPT_RATIME_CLR:
            if (out->rec_atime == d->atime)
                out->rec_atime = CAPSA_ATIME_UNSET;
            break;
        case OPT_PROP:
        case OPT_RPROP:
            out->propagation = d->ms;
            out->propagation_rec = d->kind == OPT_RPROP;
            break;
        case OPT_BIND:
            out->bind = true;
            out->ms_flags |= MS_BIND;
            break;
        case OPT_RBIND:
            out->bind = true;
            out->rbind = true;
            out->ms_flags |= MS_BIND | MS_REC;
            break;
        case OPT_REMOUNT:
            out->remount = true;
            out->ms_flags |= MS_REMOUNT;
            break;
        case OPT_TMPCOPYUP:
            out->tmpcopyup = true;
            break;
        case OPT_NOOP:
            break;
        case OPT_IDMAP:
            capsa_mount_opts_release(out);
            return capsa_err_setx(err, ENOTSUP, "mount option \"%s\" is not supported yet", name);
        }
    }
    return 0;
}

int capsa_mount_opts_data(const struct capsa_mount_opts *o, char **out, struct capsa_err *err)
{
    size_t len = 1;
    for (size_t i = 0; i < o->n_data; i++)
        len += strlen(o->data[i]) + 1;
    char *s = malloc(len);
    if (s == NULL)
        return capsa_err_set(err, ENOMEM, "mount data");
    size_t pos = 0;
    for (size_t i = 0; i < o->n_data; i++) {
        size_t l = strlen(o->data[i]);
        if (i > 0)
            s[pos++] = ',';
        memcpy(s + pos, o->data[i], l);
        pos += l;
    }
    s[pos] = '\0';
    *out = s;
    return 0;
}

int capsa_mount_propagation_parse(const char *name, uint64_t *prop, bool *rec)
{
    const struct opt_def *d = name != NULL ? find_opt(name) : NULL;
    if (d == NULL || (d->kind != OPT_PROP && d->kind != OPT_RPROP))
        return -EINVAL;
    *prop = d->ms;
    *rec = d->kind == OPT_RPROP;
    return 0;
}

int capsa_mount_apply_attrs(int fd, uint64_t set, uint64_t clr, enum capsa_atime atime,
                            uint64_t propagation, bool recursive, struct capsa_err *err)
{
    struct mount_attr a = {.attr_set = set, .attr_clr = clr, .propagation = propagation};
    if (atime != CAPSA_ATIME_UNSET) {
        /* The atime modes are an enum: clear the whole field, set the mode. */
        a.attr_clr |= MOUNT_ATTR__ATIME;
        a.attr_set = (a.attr_set & ~(uint64_t)MOUNT_ATTR__ATIME) | atime_attr(atime);
    }
    if (a.attr_set == 0 && a.attr_clr == 0 && a.propagation == 0)
        return 0;
    unsigned int flags = AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0);
    if (capsa_mount_setattr(fd, "", flags, &a) < 0)
        return capsa_err_set(err, errno, "mount_setattr");
    return 0;
}

int capsa_mount_bind_fd(int srcfd, int destfd, bool recursive, uint64_t rec_set,
                        struct capsa_err *err)
{
    unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
    if (recursive)
        flags |= AT_RECURSIVE;
    cleanup_close int tree = capsa_open_tree(srcfd, "", flags);
    if (tree < 0)
        return capsa_err_set(err, errno, "open_tree");
    if (rec_set != 0) {
        int r = capsa_mount_apply_attrs(tree, rec_set, 0, CAPSA_ATIME_UNSET, 0, true, err);
        if (r < 0)
            return r;
    }
    if (capsa_move_mount(tree, "", destfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
        0)
        return capsa_err_set(err, errno, "move_mount");
    return 0;
}

/* Append the kernel's fs_context log (e.g. "e tmpfs: Bad value for 'mode'")
 * to the error, so a bad data option is named. */
static int fs_error(struct capsa_err *err, int errnum, int fsfd, const char *what)
{
    char log[256];
    ssize_t n = fsfd >= 0 ? read(fsfd, log, sizeof log - 1) : -1;
    if (n > 0) {
        log[n] = '\0';
        if (log[n - 1] == '\n')
            log[n - 1] = '\0';
        return capsa_err_set(err, errnum, "%s (%s)", what, log);
    }
    return capsa_err_set(err, errnum, "%s", what);
}

/* Stage the data options and superblock flags into an fsopen() context. */
static int fs_configure(int fsfd, const struct capsa_mount *m, const struct capsa_mount_opts *o,
                        struct capsa_err *err)
{
    if (m->source != NULL && capsa_fsconfig(fsfd, FSCONFIG_SET_STRING, "source", m->source, 0) < 0)
        return fs_error(err, errno, fsfd, "fsconfig source");
    static const struct {
        unsigned long ms;
        const char *name;
    } sb[] = {{MS_SYNCHRONOUS, "sync"}, {MS_DIRSYNC, "dirsync"}, {MS_MANDLOCK, "mand"}};
    for (size_t i = 0; i < ARRAY_SIZE(sb); i++)
        if ((o->ms_flags & sb[i].ms) &&
            capsa_fsconfig(fsfd, FSCONFIG_SET_FLAG, sb[i].name, NULL, 0) < 0)
            return fs_error(err, errno, fsfd, sb[i].name);
    for (size_t i = 0; i < o->n_data; i++) {
        cleanup_free char *key = strdup(o->data[i]);
        if (key == NULL)
            return capsa_err_set(err, ENOMEM, "mount data");
        char *eq = strchr(key, '=');
        int r;
        if (eq != NULL) {
            *eq = '\0';
            r = capsa_fsconfig(fsfd, FSCONFIG_SET_STRING, key, eq + 1, 0);
        } else {
            r = capsa_fsconfig(fsfd, FSCONFIG_SET_FLAG, key, NULL, 0);
        }
        if (r < 0) {
            char what[300];
            snprintf(what, sizeof what, "option \"%s\"", o->data[i]);
            return fs_error(err, errno, fsfd, what);
        }
    }
    return 0;
}

/* Mount attributes of a brand-new mount (fsmount's attr_flags). */
static unsigned int fresh_attrs(const struct capsa_mount_opts *o)
{
    uint64_t a = o->attr_set | o->rec_attr_set;
    enum capsa_atime at = o->rec_atime != CAPSA_ATIME_UNSET ? o->rec_atime : o->atime;
    a = (a & ~(uint64_t)MOUNT_ATTR__ATIME) | atime_attr(at);
    return (unsigned int)a;
}

/* New filesystem instance with fsopen/fsconfig/fsmount; returns the detached
 * mount fd, or -errno (err set). -ENOSYS from fsopen (no new mount API) is
 * returned without err so the caller can fall back to mount(2). */
static int fs_create(const char *type, const struct capsa_mount *m,
                     const struct capsa_mount_opts *o, struct capsa_err *err)
{
    cleanup_close int fsfd = capsa_fsopen(type, FSOPEN_CLOEXEC);
    if (fsfd < 0 && errno == ENOSYS)
        return -ENOSYS;
    if (fsfd < 0)
        return capsa_err_set(err, errno, "fsopen %s", type);
    int r = fs_configure(fsfd, m, o, err);
    if (r < 0)
        return r;
    if (capsa_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return fs_error(err, errno, fsfd, "create superblock");
    int mfd = capsa_fsmount(fsfd, FSMOUNT_CLOEXEC, fresh_attrs(o));
    if (mfd < 0)
        return fs_error(err, errno, fsfd, "fsmount");
    return mfd;
}

/* The legacy path, only when fsopen() cannot be used for this type: the
 * target is the already-resolved fd through /proc/self/fd (the kernel
 * follows that magic link to exactly the object we hold, not a path). */
static int legacy_mount(const char *type, const struct capsa_mount *m,
                        const struct capsa_mount_opts *o, int destfd, struct capsa_err *err)
{
    cleanup_free char *data = NULL;
    int r = capsa_mount_opts_data(o, &data, err);
    if (r < 0)
        return r;
    char target[64];
    snprintf(target, sizeof target, "/proc/self/fd/%d", destfd);
    unsigned long flags = o->ms_flags & ~(MS_BIND | MS_REC | MS_REMOUNT);
    if (mount(m->source != NULL ? m->source : type, target, type, flags, data) < 0)
        return capsa_err_set(err, errno, "mount %s", type);
    if (o->propagation != 0 &&
        mount(NULL, target, NULL, o->propagation | (o->propagation_rec ? MS_REC : 0), NULL) < 0)
        return capsa_err_set(err, errno, "set propagation");
    return 0;
}

/* runc's checkProcMount: over procfs only a few harmless files may be
 * covered (lxcfs-style); anything else could hide or fake kernel interfaces
 * the runtime relies on (CVE-2019-19921 class). */
static int check_proc_dest(int destfd, const char *dest, struct capsa_err *err)
{
    static const char *const allowed[] = {
        "/proc/cpuinfo", "/proc/diskstats",
        "/proc/meminfo", "/proc/stat",
        "/proc/swaps",   "/proc/uptime",
        "/proc/loadavg", "/proc/slabinfo",
        "/proc/net/dev", "/proc/sys/kernel/ns_last_pid",
    };
    struct statfs sfs;
    if (fstatfs(destfd, &sfs) < 0)
        return capsa_err_set(err, errno, "statfs");
    if (sfs.f_type != PROC_SUPER_MAGIC)
        return 0;
    for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
        if (strcmp(dest, allowed[i]) == 0)
            return 0;
    return capsa_err_setx(err, EPERM, "destination is on procfs and not in the allowed list");
}

/* Go's filepath.Clean of an absolute path, into out (size n): repeated and
 * trailing slashes, "." and ".." resolved lexically (".." never above "/").
 * -ENAMETOOLONG when it does not fit. */
static int clean_abs_path(const char *path, char *out, size_t n)
{
    size_t len = 0;
    if (n < 2)
        return -ENAMETOOLONG;
    out[len++] = '/';
    for (const char *p = path; *p != '\0';) {
        while (*p == '/')
            p++;
        const char *end = strchrnul(p, '/');
        size_t cl = (size_t)(end - p);
        if (cl == 0 || (cl == 1 && p[0] == '.')) {
            /* nothing */
        } else if (cl == 2 && p[0] == '.' && p[1] == '.') {
            while (len > 1 && out[len - 1] != '/')
                len--;
            if (len > 1)
                len--; /* the slash before the dropped component */
        } else {
            if (len + (len > 1) + cl + 1 > n)
                return -ENAMETOOLONG;
            if (len > 1)
                out[len++] = '/';
            memcpy(out + len, p, cl);
            len += cl;
        }
        p = end;
    }
    out[len] = '\0';
    return 0;
}

/* runc's rule for procfs and sysfs: an existing destination must be an
 * ordinary directory, not a symlink (nor a file). Following a link planted
 * in the image would put the filesystem somewhere else than the path that
 * masked and read-only paths, LSM profiles and the runtime's own checks name
 * (CVE-2019-16884, CVE-2023-27561, CVE-2023-28642). The last component is
 * looked at without following it, inside its parent resolved in the root; a
 * missing one is created by the mount as usual. */
static int check_ordinary_dir(int rootfd, const char *type, const char *dest, struct capsa_err *err)
{
    char clean[PATH_MAX];
    if (clean_abs_path(dest, clean, sizeof clean) < 0)
        return capsa_err_setx(err, ENAMETOOLONG, "destination too long");
    if (strcmp(clean, "/") == 0)
        return capsa_err_setx(err, EINVAL, "filesystem \"%s\" cannot be mounted on /", type);
    char *slash = strrchr(clean, '/');
    const char *base = slash + 1;
    *slash = '\0';
    cleanup_close int parent =
        capsa_open_in_root(rootfd, clean[0] ? clean : "/", O_PATH | O_DIRECTORY);
    if (parent == -ENOENT)
        return 0;
    if (parent < 0)
        return capsa_err_set(err, -parent, "resolve %s in rootfs", clean[0] ? clean : "/");
    struct stat st;
    if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return capsa_err_set(err, errno, "stat %s in rootfs", dest);
    }
    if (!S_ISDIR(st.st_mode))
        return capsa_err_setx(err, ENOTDIR,
                              "filesystem \"%s\" must be mounted on ordinary directory (%s is %s)",
                              type, dest, S_ISLNK(st.st_mode) ? "a symlink" : "not a directory");
    return 0;
}

static int open_bind_source(const struct capsa_rootfs_ctx *ctx, const char *src,
                            struct capsa_err *err)
{
    if (src == NULL)
        return capsa_err_setx(err, EINVAL, "bind mount without a source");
    /* Bind sources are host paths chosen by the (trusted) config author;
     * relative ones are relative to the bundle. */
    int dirfd = AT_FDCWD;
    /* Declared here, not in the if block: dirfd borrows it until the openat below. */
    // cppcheck-suppress [variableScope, unreadVariable] ; cleanup_close reads it
    cleanup_close int bfd = -1;
    if (src[0] != '/') {
        if (ctx->bundle == NULL)
            return capsa_err_setx(err, EINVAL, "relative source \"%s\" without a bundle", src);
        bfd = open(ctx->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (bfd < 0)
            return capsa_err_set(err, errno, "open bundle %s", ctx->bundle);
        dirfd = bfd;
    }
    int fd = openat(dirfd, src, O_PATH | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "open source %s", src);
    return fd;
}

/* Bind (or rbind) srcfd onto dest inside the rootfs with runc's
 * bind+remount semantics: the non-recursive flags apply to the top mount,
 * the r* flags to the whole tree, all before the tree becomes visible. */
static int do_bind(int rootfd, int srcfd, const char *dest, const struct capsa_mount_opts *o,
                   bool recursive, struct capsa_err *err)
{
    struct stat st;
    if (fstat(srcfd, &st) < 0)
        return capsa_err_set(err, errno, "stat source");
    cleanup_close int destfd = capsa_resolve_mkdir_in_root(rootfd, dest, !S_ISDIR(st.st_mode), err);
    if (destfd < 0)
        return destfd;
    int r = check_proc_dest(destfd, dest, err);
    if (r < 0)
        return r;
    unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH;
    if (recursive)
        flags |= AT_RECURSIVE;
    cleanup_close int tree = capsa_open_tree(srcfd, "", flags);
    if (tree < 0)
        return capsa_err_set(err, errno, "open_tree");
    r = capsa_mount_apply_attrs(tree, o->attr_set, o->attr_clr, o->atime, 0, false, err);
    if (r < 0)
        return r;
    r = capsa_mount_apply_attrs(tree, o->rec_attr_set, o->rec_attr_clr, o->rec_atime, 0, true, err);
    if (r < 0)
        return r;
    if (capsa_move_mount(tree, "", destfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
        0)
        return capsa_err_set(err, errno, "move_mount");
    /* Propagation is set once attached: it is a property of the mount's
     * place in the namespace's peer groups. */
    return capsa_mount_apply_attrs(tree, 0, 0, CAPSA_ATIME_UNSET, o->propagation,
                                   o->propagation_rec, err);
}

/* Host /sys or /sys/fs/cgroup instead of a new instance, read-only (the
 * whole tree), as runc does for sysfs without a network namespace. */
static int bind_host(int rootfd, const char *hostpath, const char *dest,
                     const struct capsa_mount_opts *o, struct capsa_err *err)
{
    cleanup_close int srcfd = open(hostpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (srcfd < 0)
        return capsa_err_set(err, errno, "open %s", hostpath);
    struct capsa_mount_opts ro = *o;
    ro.rec_attr_set |= o->attr_set | MOUNT_ATTR_RDONLY;
    ro.rec_attr_clr &= ~(ro.rec_attr_set);
    ro.attr_clr &= ~(uint64_t)MOUNT_ATTR_RDONLY;
    int r = do_bind(rootfd, srcfd, dest, &ro, true, err);
    if (r < 0)
        return capsa_err_wrap(err, "bind %s", hostpath);
    return 0;
}

/* The "cgroup" mount (/sys/fs/cgroup), as runc makes it:
 * - pure v2: a fresh cgroup2 mount (in the container's cgroup namespace it
 *   shows the container's cgroup as its root);
 * - v1 / hybrid: a tmpfs holding one read-only bind of the container's own
 *   directory per hierarchy (named like the host's: "memory", "cpu,cpuacct"
 *   with a symlink per co-mounted controller, "unified" for the v2 one), so
 *   that memory.limit_in_bytes inside is the container's limit and nothing of
 *   the host's tree shows;
 * - no cgroup (rootless without delegation): the host's tree, read-only. */
static int do_fresh(int rootfd, const char *type, const struct capsa_mount *m,
                    const struct capsa_mount_opts *o, struct capsa_ro_later *later,
                    struct capsa_err *err);

int capsa_cgroup_mount_name(const struct capsa_cgroup_dir *d, char *name, size_t size)
{
    name[0] = '\0';
    if (d->v2) {
        snprintf(name, size, "unified");
        return 0;
    }
    size_t len = 0;
    for (char **c = d->controllers; c && *c; c++) {
        /* "name=systemd" is mounted as "systemd", as on the host */
        const char *cn = strncmp(*c, "name=", 5) == 0 ? *c + 5 : *c;
        int w = snprintf(name + len, size - len, "%s%s", len ? "," : "", cn);
        if (w < 0 || (size_t)w >= size - len)
            return -ENAMETOOLONG;
        len += (size_t)w;
    }
    if (strchr(name, '/') != NULL)
        name[0] = '\0';
    return 0;
}

static int cgroup_bind_one(int tmpfd, const struct capsa_cgroup_dir *d, struct capsa_err *err)
{
    char name[256];
    if (capsa_cgroup_mount_name(d, name, sizeof name) < 0)
        return capsa_err_setx(err, ENAMETOOLONG, "cgroup mount: controller list too long");
    if (name[0] == '\0')
        return 0;
    if (mkdirat(tmpfd, name, 0755) < 0 && errno != EEXIST)
        return capsa_err_set(err, errno, "cgroup mount: mkdir %s", name);
    /* The host path is the runtime's own (mountinfo), not the container's. */
    cleanup_close int tree = capsa_open_tree(
        AT_FDCWD, d->path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);
    if (tree < 0)
        return capsa_err_set(err, errno, "cgroup mount: bind %s", d->path);
    /* Into the detached tmpfs by name: nothing else can see it yet. The
     * read-only flags come for the whole tree at once (mount_cgroup_tree). */
    if (capsa_move_mount(tree, "", tmpfd, name, MOVE_MOUNT_F_EMPTY_PATH) < 0)
        return capsa_err_set(err, errno, "cgroup mount: attach %s", name);
    /* "cpu" and "cpuacct" next to "cpu,cpuacct", as on the host. */
    if (!d->v2 && d->controllers && d->controllers[0] && d->controllers[1]) {
        for (char **c = d->controllers; *c; c++)
            if (symlinkat(name, tmpfd, *c) < 0 && errno != EEXIST)
                return capsa_err_set(err, errno, "cgroup mount: symlink %s", *c);
    }
    return 0;
}

static int mount_cgroup_tree(int rootfd, const struct capsa_rootfs_ctx *ctx,
                             const struct capsa_mount *m, const struct capsa_mount_opts *o,
                             struct capsa_err *err)
{
    const struct capsa_cgroup *cg = ctx->cg;
    if (cg == NULL || cg->n == 0)
        return bind_host(rootfd, "/sys/fs/cgroup", m->destination, o, err);
    if (cg->n == 1 && cg->d[0].v2) {
        int r = do_fresh(rootfd, "cgroup2", m, o, NULL, err);
        if (r == -EPERM || r == -EBUSY) {
            if (err != NULL)
                capsa_err_clear(err);
            r = bind_host(rootfd, "/sys/fs/cgroup", m->destination, o, err);
        }
        return r;
    }
    cleanup_close int destfd = capsa_resolve_mkdir_in_root(rootfd, m->destination, false, err);
    if (destfd < 0)
        return destfd;
    cleanup_close int fs = capsa_fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fs < 0)
        return capsa_err_set(err, errno, "cgroup mount: tmpfs");
    if (capsa_fsconfig(fs, FSCONFIG_SET_STRING, "mode", "755", 0) < 0 ||
        capsa_fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return capsa_err_set(err, errno, "cgroup mount: tmpfs");
    cleanup_close int tmp = capsa_fsmount(fs, FSMOUNT_CLOEXEC,
                                          MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (tmp < 0)
        return capsa_err_set(err, errno, "cgroup mount: tmpfs");
    /* Filled while detached: nobody sees it half made. */
    for (size_t i = 0; i < cg->n; i++) {
        int r = cgroup_bind_one(tmp, &cg->d[i], err);
        if (r < 0)
            return r;
    }
    /* Every hierarchy read-only (and the tmpfs until the spec's flags are
     * applied to it below), in one call for the tree. */
    struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                                        MOUNT_ATTR_NOEXEC};
    if (capsa_mount_setattr(tmp, "", AT_EMPTY_PATH | AT_RECURSIVE, &ro) < 0)
        return capsa_err_set(err, errno, "cgroup mount: read-only");
    if (capsa_move_mount(tmp, "", destfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
        0)
        return capsa_err_set(err, errno, "cgroup mount: attach on %s", m->destination);
    /* The tmpfs itself as the spec says (ro, usually); the binds stay ro.
     * Resolved again: destfd is the directory under the new mount. */
    cleanup_close int again = capsa_resolve_mkdir_in_root(rootfd, m->destination, false, err);
    if (again < 0)
        return again;
    uint64_t set = o->attr_set | o->rec_attr_set;
    uint64_t clr = o->attr_clr | o->rec_attr_clr;
    if (!(set & MOUNT_ATTR_RDONLY))
        clr |= MOUNT_ATTR_RDONLY; /* the spec wants the tmpfs writable */
    return capsa_mount_apply_attrs(again, set, clr, o->atime, 0, false, err);
}

static int do_remount(int rootfd, const char *dest, const struct capsa_mount_opts *o,
                      struct capsa_err *err)
{
    cleanup_close int destfd = capsa_resolve_mkdir_in_root(rootfd, dest, false, err);
    if (destfd < 0)
        return destfd;
    int r = capsa_mount_apply_attrs(destfd, o->attr_set, o->attr_clr, o->atime, 0, false, err);
    if (r < 0)
        return r;
    r = capsa_mount_apply_attrs(destfd, o->rec_attr_set, o->rec_attr_clr, o->rec_atime, 0, true,
                                err);
    if (r < 0)
        return r;
    return capsa_mount_apply_attrs(destfd, 0, 0, CAPSA_ATIME_UNSET, o->propagation,
                                   o->propagation_rec, err);
}

/* tmpcopyup (runc and crun's extension, which podman sets on the tmpfs it
 * puts over /tmp, /var/tmp and /run with --read-only): the directory the new
 * tmpfs covers keeps its contents. The source is the container's rootfs, so
 * untrusted: every step is relative to a directory fd with O_NOFOLLOW, no
 * symlink is ever followed (a symlink is copied as a symlink), only regular
 * files, directories, symlinks and fifos are copied (no device nodes: a
 * rootfs must not mint devices through this), and depth is bounded. */
#define COPYUP_MAX_DEPTH 32

static int copy_file_fd(int src, int dst, struct capsa_err *err)
{
    char buf[16384];
    for (;;) {
        ssize_t n = read(src, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return capsa_err_set(err, errno, "read");
        if (n == 0)
            return 0;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(dst, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return capsa_err_set(err, errno, "write");
            off += w;
        }
    }
}

// NOLINTNEXTLINE(misc-no-recursion): depth <= COPYUP_MAX_DEPTH
static int copy_tree(int srcdir, int dstdir, int depth, struct capsa_err *err)
{
    if (depth > COPYUP_MAX_DEPTH)
        return capsa_err_setx(err, ELOOP, "tmpcopyup: deeper than %d levels", COPYUP_MAX_DEPTH);
    int dfd = openat(srcdir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return capsa_err_set(err, errno, "tmpcopyup: open directory");
    cleanup_dir DIR *d = fdopendir(dfd);
    if (d == NULL) {
        int e = errno;
        close(dfd);
        return capsa_err_set(err, e, "tmpcopyup: fdopendir");
    }
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
            continue;
        struct stat st;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return capsa_err_set(err, errno, "tmpcopyup: stat %s", name);
        mode_t perm = st.st_mode & 07777;
        int r = 0;
        if (S_ISDIR(st.st_mode)) {
            if (mkdirat(dstdir, name, 0700) < 0)
                return capsa_err_set(err, errno, "tmpcopyup: mkdir %s", name);
            cleanup_close int s2 = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            cleanup_close int d2 =
                openat(dstdir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s2 < 0 || d2 < 0)
                return capsa_err_set(err, errno, "tmpcopyup: open %s", name);
            r = copy_tree(s2, d2, depth + 1, err);
        } else if (S_ISREG(st.st_mode)) {
            cleanup_close int in = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
            if (in < 0)
                return capsa_err_set(err, errno, "tmpcopyup: open %s", name);
            cleanup_close int out =
                openat(dstdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
            if (out < 0)
                return capsa_err_set(err, errno, "tmpcopyup: create %s", name);
            r = copy_file_fd(in, out, err);
        } else if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlinkat(dfd, name, target, sizeof target - 1);
            if (n < 0)
                return capsa_err_set(err, errno, "tmpcopyup: readlink %s", name);
            target[n] = '\0';
            if (symlinkat(target, dstdir, name) < 0)
                return capsa_err_set(err, errno, "tmpcopyup: symlink %s", name);
        } else if (S_ISFIFO(st.st_mode)) {
            if (mknodat(dstdir, name, S_IFIFO | 0600, 0) < 0)
                return capsa_err_set(err, errno, "tmpcopyup: mkfifo %s", name);
        } else {
            continue; /* sockets, device nodes: not copied */
        }
        if (r < 0)
            return capsa_err_wrap(err, "%s", name);
        if (fchownat(dstdir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
            return capsa_err_set(err, errno, "tmpcopyup: chown %s", name);
        /* After chown, which clears setuid/setgid; symlinks have no mode. */
        if (!S_ISLNK(st.st_mode) && fchmodat(dstdir, name, perm, 0) < 0)
            return capsa_err_set(err, errno, "tmpcopyup: chmod %s", name);
    }
    if (errno != 0)
        return capsa_err_set(err, errno, "tmpcopyup: readdir");
    return 0;
}

/* Whether a fresh mount waits for capsa_rootfs_finalize to become read-only:
 * "ro" (not "rro", which runc applies at once) on a tmpfs or on /dev, as
 * runc's mountPropagate and finalizeRootfs do. */
static bool ro_deferred(const char *type, const char *dest, const struct capsa_mount_opts *o)
{
    if (!(o->attr_set & MOUNT_ATTR_RDONLY) || (o->rec_attr_set & MOUNT_ATTR_RDONLY))
        return false;
    if (strcmp(type, "tmpfs") == 0)
        return true;
    char clean[PATH_MAX];
    return clean_abs_path(dest, clean, sizeof clean) == 0 && strcmp(clean, "/dev") == 0;
}

/* A new filesystem instance on m->destination. With later (NULL: never
 * deferred), a read-only mount that ro_deferred picks is made writable and
 * recorded there instead. */
static int do_fresh(int rootfd, const char *type, const struct capsa_mount *m,
                    const struct capsa_mount_opts *o, struct capsa_ro_later *later,
                    struct capsa_err *err)
{
    cleanup_close int destfd = capsa_resolve_mkdir_in_root(rootfd, m->destination, false, err);
    if (destfd < 0)
        return destfd;
    int r;
    if (strcmp(type, "proc") != 0) {
        r = check_proc_dest(destfd, m->destination, err);
        if (r < 0)
            return r;
    }
    struct capsa_mount_opts rw = *o;
    bool defer = later != NULL && later->v != NULL && ro_deferred(type, m->destination, o);
    if (defer) {
        rw.attr_set &= ~(uint64_t)MOUNT_ATTR_RDONLY;
        rw.ms_flags &= ~(unsigned long)MS_RDONLY;
    }
    cleanup_close int mfd = fs_create(type, m, &rw, err);
    if (mfd == -ENOSYS) {
        /* No new mount API in this kernel: mount(2) through the fd, with
         * every flag at once (nothing to defer without a mount fd). */
        return legacy_mount(type, m, o, destfd, err);
    }
    if (mfd < 0)
        return mfd;
    if (o->tmpcopyup && strcmp(type, "tmpfs") == 0) {
        /* Copied while the tmpfs is still detached: the destination's
         * contents are in view and nothing in the container sees a half
         * copy. */
        r = copy_tree(destfd, mfd, 0, err);
        if (r < 0)
            return r;
    }
    if (capsa_move_mount(mfd, "", destfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
        0)
        return capsa_err_set(err, errno, "move_mount");
    if (o->rec_attr_clr != 0) {
        r = capsa_mount_apply_attrs(mfd, 0, o->rec_attr_clr, CAPSA_ATIME_UNSET, 0, true, err);
        if (r < 0)
            return r;
    }
    r = capsa_mount_apply_attrs(mfd, 0, 0, CAPSA_ATIME_UNSET, o->propagation, o->propagation_rec,
                                err);
    if (r == 0 && defer) {
        int keep = fcntl(mfd, F_DUPFD_CLOEXEC, 3);
        if (keep < 0)
            return capsa_err_set(err, errno, "dup the mount fd");
        later->v[later->n].fd = keep;
        later->v[later->n].dest = m->destination;
        later->n++;
    }
    return r;
}

bool capsa_mount_is_bind(const struct capsa_mount *m)
{
    if (m->type != NULL && strcmp(m->type, "bind") == 0)
        return true;
    for (size_t i = 0; i < m->n_options; i++) {
        if (strcmp(m->options[i], "bind") == 0 || strcmp(m->options[i], "rbind") == 0)
            return true;
    }
    return false;
}

int capsa_mount_spec_one(int rootfd, const struct capsa_rootfs_ctx *ctx, size_t index,
                         struct capsa_err *err)
{
    const struct capsa_mount *m = &ctx->spec->mounts[index];
    struct capsa_mount_opts o;
    const char *dest = m->destination;
    if (dest == NULL || dest[0] == '\0')
        return capsa_err_setx(err, EINVAL, "mounts[%zu].destination: missing", index);
    if (m->n_uid_mappings > 0 || m->n_gid_mappings > 0)
        return capsa_err_setx(
            err, ENOTSUP, "mounts[%zu] (%s): idmapped mounts are not supported yet", index, dest);
    int r = capsa_mount_opts_parse(m->options, m->n_options, &o, err);
    if (r < 0)
        return capsa_err_wrap(err, "mounts[%zu].options", index);
    const char *type = m->type;
    bool bind = o.bind || (type != NULL && strcmp(type, "bind") == 0);

    if (bind && ctx->mount_fds && ctx->mount_fds[index] >= 0) {
        /* Opened by the runtime, outside our user namespace. */
        r = do_bind(rootfd, ctx->mount_fds[index], dest, &o, o.rbind, err);
    } else if (bind) {
        cleanup_close int srcfd = open_bind_source(ctx, m->source, err);
        if (srcfd < 0)
            r = srcfd;
        else
            r = do_bind(rootfd, srcfd, dest, &o, o.rbind, err);
    } else if (o.remount) {
        r = do_remount(rootfd, dest, &o, err);
    } else if (type == NULL || type[0] == '\0') {
        r = capsa_err_setx(err, EINVAL, "no type and not a bind mount");
    } else if (strcmp(type, "proc") == 0) {
        r = check_ordinary_dir(rootfd, type, dest, err);
        if (r == 0)
            r = do_fresh(rootfd, type, m, &o, NULL, err);
    } else if (strcmp(type, "sysfs") == 0) {
        /* A new sysfs instance shows the network devices of the mounter's
         * netns, which is the container's even when it shares the
         * runtime's (ctr --net-host in an engine's private netns): the
         * host's /sys would show another netns's devices. Only where the
         * kernel refuses a new instance (EPERM in a userns not owning the
         * netns) reuse the host's, read-only (as runc). */
        r = check_ordinary_dir(rootfd, type, dest, err);
        if (r == 0)
            r = do_fresh(rootfd, type, m, &o, NULL, err);
        if (r == -EPERM) {
            if (err != NULL)
                capsa_err_clear(err);
            r = bind_host(rootfd, "/sys", dest, &o, err);
        }
    } else if (strcmp(type, "cgroup") == 0) {
        r = mount_cgroup_tree(rootfd, ctx, m, &o, err);
    } else if (strcmp(type, "cgroup2") == 0) {
        r = do_fresh(rootfd, type, m, &o, NULL, err);
        if (r == -EPERM || r == -EBUSY) {
            if (err != NULL)
                capsa_err_clear(err);
            r = bind_host(rootfd, "/sys/fs/cgroup", dest, &o, err);
        }
    } else {
        r = do_fresh(rootfd, type, m, &o, ctx->ro_later, err);
    }
    capsa_mount_opts_release(&o);
    if (r < 0)
        return capsa_err_wrap(err, "mounts[%zu] (%s on %s)", index, type != NULL ? type : "bind",
                              dest);
    if (ctx->log) {
        char line[512];
        snprintf(line, sizeof line, "mounts[%zu]: %s %s on %s", index, type != NULL ? type : "bind",
                 m->source ? m->source : "-", dest);
        ctx->log(ctx->log_opaque, line);
    }
    return 0;
}
