/* rootfs.c - the container's filesystem view: the safe in-root path
 * resolver, rootfs preparation (propagation, self bind, spec mounts,
 * devices), pivot_root, and the after-pivot steps (masked and read-only
 * paths, read-only root, rootfs propagation).
 *
 * Security model: the rootfs is hostile. Any path inside it is resolved by
 * the kernel with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) relative
 * to an fd of the rootfs, so ".." and absolute symlinks are clamped to the
 * rootfs; missing components are created with mkdirat() relative to an
 * already-resolved parent fd, one component at a time; every mount goes to
 * the resolved fd. The path string is never handed to mount(2), so a symlink
 * swapped in between check and use (CVE-2021-30465) changes nothing. */
#include "linux/rootfs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "linux/devices.h"
#include "sys/sys.h"
#include "util/util.h"

#define MAX_SYMLINKS 40

/* O_PATH open of path inside root; -errno on failure. EAGAIN is what
 * RESOLVE_IN_ROOT returns when a concurrent rename could have let ".." escape:
 * retry a few times. */
static int open_in_root(int rootfd, const char *path, int flags)
{
    return capsa_open_in_root(rootfd, path, flags | O_PATH);
}

/* Create one missing component "name" below the resolved directory parent
 * (O_EXCL semantics: -EEXIST when something is there). */
static int create_component(int parent, const char *name, bool file)
{
    if (file) {
        int fd = openat(parent, name,
                        O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644);
        if (fd < 0)
            return -errno;
        close(fd);
        return 0;
    }
    if (mkdirat(parent, name, 0755) < 0)
        return -errno;
    return 0;
}

/* Open what create_component just made, without following a link: swapped
 * for a symlink meanwhile (a volume shared with a running container)?
 * O_NOFOLLOW with O_DIRECTORY, or the type check, refuses it. */
static int open_made(int parent, const char *name, bool file)
{
    int fd = openat(parent, name, O_PATH | O_NOFOLLOW | O_CLOEXEC | (file ? 0 : O_DIRECTORY));
    struct stat st;
    if (fd >= 0 && file && (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode))) {
        close(fd);
        errno = ELOOP;
        return -1;
    }
    return fd;
}

/* The usual case: only the last component is missing. Resolve the parent in
 * root, create the component there with O_EXCL semantics, and open what we
 * made without following a link. Returns the fd, -EAGAIN when the walk must
 * decide (the parent is missing too, or the name is a dangling symlink:
 * EEXIST), or another -errno with err set. */
static int mkdir_last(int rootfd, const char *path, bool want_file, struct capsa_err *err)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t dlen = slash ? (size_t)(slash - path) : 0;
    if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 || dlen >= 4096)
        return -EAGAIN;
    char dir[4096];
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
    cleanup_close int parent = open_in_root(rootfd, dlen ? dir : "/", O_DIRECTORY);
    if (parent < 0)
        return -EAGAIN;
    int r = create_component(parent, base, want_file);
    if (r == 0) {
        int fd = open_made(parent, base, want_file);
        return fd >= 0 ? fd : capsa_err_set(err, errno, "resolve %s in rootfs", path);
    }
    if (r != -EEXIST)
        return capsa_err_set(err, -r, "create %s in rootfs", path);
    return -EAGAIN;
}

/* The state of a component-by-component walk: done is the prefix known to
 * exist, always re-resolved by the kernel in root (a component that is a
 * symlink is followed, clamped, rather than trusted); todo holds what is
 * left, from rest. */
struct walk {
    int rootfd;
    const char *path;
    char *done;
    char *todo;
    char *rest;
    int links;
};

/* Take the next component off w->rest; NULL at the end. *last says whether
 * nothing follows it. */
static char *next_component(struct walk *w, bool *last)
{
    for (;;) {
        while (*w->rest == '/')
            w->rest++;
        if (*w->rest == '\0')
            return NULL;
        char *comp = w->rest;
        char *slash = strchr(w->rest, '/');
        if (slash != NULL) {
            *slash = '\0';
            w->rest = slash + 1;
        } else {
            w->rest = comp + strlen(comp);
        }
        const char *after = w->rest;
        while (*after == '/')
            after++;
        *last = *after == '\0';
        if (strcmp(comp, ".") != 0)
            return comp;
    }
}

/* A dangling symlink comp (target read below done): go on with its target,
 * still inside root; an absolute target starts from the root again. */
static int follow_dangling(struct walk *w, const char *target, struct capsa_err *err)
{
    if (++w->links > MAX_SYMLINKS)
        return capsa_err_set(err, ELOOP, "resolve %s in rootfs", w->path);
    char *ntodo = NULL;
    if (capsa_asprintf(&ntodo, err, "%s/%s", target, w->rest) < 0)
        return -ENOMEM;
    free(w->todo);
    w->todo = ntodo;
    w->rest = ntodo;
    if (target[0] == '/')
        w->done[0] = '\0';
    return 0;
}

/* One component: existing (descend), a dangling symlink (follow it), or
 * missing (create it: a file when it is the last and want_file). */
static int walk_component(struct walk *w, const char *comp, bool last, bool want_file,
                          struct capsa_err *err)
{
    cleanup_free char *cand = NULL;
    if (capsa_asprintf(&cand, err, "%s/%s", w->done, comp) < 0)
        return -ENOMEM;
    int fd = open_in_root(w->rootfd, cand, 0);
    if (fd < 0 && fd != -ENOENT)
        return capsa_err_set(err, -fd, "resolve %s in rootfs", cand);
    if (fd < 0) {
        const char *dir = w->done[0] ? w->done : "/";
        cleanup_close int parent = open_in_root(w->rootfd, dir, O_DIRECTORY);
        if (parent < 0)
            return capsa_err_set(err, -parent, "resolve %s in rootfs", dir);
        char target[PATH_MAX];
        ssize_t n = readlinkat(parent, comp, target, sizeof target - 1);
        if (n >= 0) {
            target[n] = '\0';
            return follow_dangling(w, target, err);
        }
        if (errno != EINVAL && errno != ENOENT)
            return capsa_err_set(err, errno, "readlink %s in rootfs", cand);
        int r = create_component(parent, comp, last && want_file);
        if (r < 0 && r != -EEXIST)
            return capsa_err_set(err, -r, "create %s in rootfs", cand);
        fd = open_in_root(w->rootfd, cand, 0);
        if (fd < 0)
            return capsa_err_set(err, -fd, "resolve %s in rootfs", cand);
    }
    close(fd);
    free(w->done);
    w->done = steal_ptr(cand);
    return 0;
}

int capsa_resolve_mkdir_in_root(int rootfd, const char *path, bool want_file, struct capsa_err *err)
{
    if (path == NULL || path[0] == '\0')
        return capsa_err_setx(err, EINVAL, "empty path");
    int fd = open_in_root(rootfd, path, 0);
    if (fd >= 0)
        return fd;
    if (fd != -ENOENT)
        return capsa_err_set(err, -fd, "resolve %s in rootfs", path);
    fd = mkdir_last(rootfd, path, want_file, err);
    if (fd != -EAGAIN)
        return fd;

    struct walk w = {.rootfd = rootfd, .path = path, .done = strdup(""), .todo = strdup(path)};
    int r = w.done && w.todo ? 0 : capsa_err_set(err, ENOMEM, "resolve %s", path);
    w.rest = w.todo;
    bool last = false;
    char *comp;
    while (r == 0 && (comp = next_component(&w, &last)) != NULL)
        r = walk_component(&w, comp, last, want_file, err);
    if (r == 0) {
        r = open_in_root(rootfd, w.done[0] ? w.done : "/", 0);
        if (r < 0)
            capsa_err_set(err, -r, "resolve %s in rootfs", path);
    }
    free(w.done);
    free(w.todo);
    return r;
}

/* Propagation applied to the host's "/" before anything else, always
 * recursively so that no submount of the host stays shared with our mounts
 * (a non-recursive "private" would leave e.g. a shared /tmp leaking the
 * container's mounts to the host). pivot_root refuses shared mounts (the old
 * root, new root's parent) and an unbindable tree cannot be cloned for the
 * rootfs bind, so those become rprivate here; the exact value is applied to
 * the container's "/" in capsa_rootfs_finalize. */
static int root_propagation(const struct capsa_rootfs_ctx *ctx, uint64_t *prop, bool *rec,
                            struct capsa_err *err)
{
    const char *p = ctx->spec->has_linux ? ctx->spec->linux_cfg.rootfs_propagation : NULL;
    *prop = MS_PRIVATE;
    *rec = true;
    if (p == NULL || p[0] == '\0')
        return 0;
    if (capsa_mount_propagation_parse(p, prop, rec) < 0)
        return capsa_err_setx(err, EINVAL, "linux.rootfsPropagation: unknown value \"%s\"", p);
    return 0;
}

/* The host's /dev/null, verified, as a detached mount (open_tree clone, an
 * O_PATH fd): the container's /dev/null could be anything, including a
 * symlink to a sensitive file, so masking never uses it (CVE-2025-31133). A
 * detached clone also stays usable after the old root is unmounted. */
static int open_host_devnull(struct capsa_err *err)
{
    cleanup_close int fd =
        capsa_open_tree(AT_FDCWD, "/dev/null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "open_tree host /dev/null");
    struct stat st;
    if (fstat(fd, &st) < 0)
        return capsa_err_set(err, errno, "stat host /dev/null");
    if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3)
        return capsa_err_setx(err, EPERM, "host /dev/null is not the character device 1:3");
    return steal_fd(fd);
}

/* Unescape the octal escapes (\040 etc.) of a mountinfo field in place. */
static void unescape_mountinfo(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
            r[3] >= '0' && r[3] <= '7') {
            *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
            r += 3;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
}

/* The next mount point of a /proc/self/mountinfo stream (field 5,
 * unescaped, inside *line's buffer), or NULL at its end. */
static const char *next_mount_point(FILE *f, char **line, size_t *cap)
{
    while (getline(line, cap, f) > 0) {
        char *save = NULL;
        char *tok = strtok_r(*line, " ", &save);
        for (int i = 0; tok && i < 4; i++)
            tok = strtok_r(NULL, " ", &save);
        if (tok != NULL) {
            unescape_mountinfo(tok);
            return tok;
        }
    }
    return NULL;
}

/* Make the mount that holds path (the longest mount point above it in
 * /proc/self/mountinfo) private, not recursively: runc's
 * rootfsParentMountPrivate. */
static int parent_mount_private(const char *path, struct capsa_err *err)
{
    cleanup_free char *rp = realpath(path, NULL);
    if (rp == NULL)
        return capsa_err_set(err, errno, "realpath %s", path);
    cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL)
        return capsa_err_set(err, errno, "open /proc/self/mountinfo");
    cleanup_free char *line = NULL, *best = NULL;
    size_t cap = 0, best_len = 0;
    for (const char *tok; (tok = next_mount_point(f, &line, &cap)) != NULL;) {
        size_t tl = strlen(tok);
        bool above = strcmp(tok, "/") == 0 ||
                     (strncmp(rp, tok, tl) == 0 && (rp[tl] == '\0' || rp[tl] == '/'));
        if (above && (best == NULL || tl >= best_len)) {
            free(best);
            best = strdup(tok);
            if (best == NULL)
                return capsa_err_set(err, ENOMEM, "mountinfo");
            best_len = tl;
        }
    }
    if (best == NULL)
        return capsa_err_setx(err, ENOENT, "no mount holds %s", rp);
    struct mount_attr a = {.propagation = MS_PRIVATE};
    if (capsa_mount_setattr(AT_FDCWD, best, 0, &a) < 0)
        return capsa_err_set(err, errno, "make %s (the mount holding the rootfs) private", best);
    return 0;
}

static void ro_later_release(struct capsa_rootfs_ctx *ctx)
{
    struct capsa_ro_later *l = ctx->ro_later;
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++)
        close(l->v[i].fd);
    free(l->v);
    free(l);
    ctx->ro_later = NULL;
}

/* The mounts prepare left writable for later: read-only now, that one
 * mount (not its submounts), other flags kept. */
static int ro_later_apply(struct capsa_rootfs_ctx *ctx, struct capsa_err *err)
{
    struct capsa_ro_later *l = ctx->ro_later;
    for (size_t i = 0; l != NULL && i < l->n; i++) {
        struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
        if (capsa_mount_setattr(l->v[i].fd, "", AT_EMPTY_PATH, &a) < 0)
            return capsa_err_set(err, errno, "make %s read-only", l->v[i].dest);
    }
    return 0;
}

int capsa_rootfs_prepare(struct capsa_rootfs_ctx *ctx, struct capsa_err *err)
{
    ctx->devnull_fd = -1;
    ctx->root_mnt_fd = -1;
    ctx->ro_later = NULL;
    if (ctx->spec == NULL || ctx->rootfs == NULL)
        return capsa_err_setx(err, EINVAL, "rootfs: no spec or rootfs path");
    ctx->ro_later = calloc(1, sizeof *ctx->ro_later);
    if (ctx->ro_later == NULL ||
        (ctx->ro_later->v = calloc(ctx->spec->n_mounts + 1, sizeof *ctx->ro_later->v)) == NULL)
        return capsa_err_set(err, ENOMEM, "rootfs");
    uint64_t prop;
    bool rec;
    int r = root_propagation(ctx, &prop, &rec, err);
    if (r < 0)
        return r;
    bool shared = prop == MS_SHARED;
    if (prop == MS_UNBINDABLE)
        prop = MS_PRIVATE;
    /* Nothing we mount may leak to the host's mount namespace. Without a
     * mount namespace of our own, the host's propagation is not ours to change.
     * A shared root is what the user asked for (mounts under a shared bind
     * then reach the host and back: Kubernetes' Bidirectional); the mount
     * holding the rootfs becomes private instead, so that the rootfs bind and
     * everything mounted into it stay ours (and pivot_root accepts it). */
    struct mount_attr pa = {.propagation = prop};
    if (!ctx->shared_mntns) {
        if (capsa_mount_setattr(AT_FDCWD, "/", shared && !rec ? 0 : AT_RECURSIVE, &pa) < 0)
            return capsa_err_set(err, errno, "make / %s%s", rec ? "recursively " : "",
                                 shared             ? "shared"
                                 : prop == MS_SLAVE ? "slave"
                                                    : "private");
        if (shared && (r = parent_mount_private(ctx->rootfs, err)) < 0)
            return r;
    }

    cleanup_close int hostroot = ctx->rootfs_fd >= 0
                                     ? fcntl(ctx->rootfs_fd, F_DUPFD_CLOEXEC, 3)
                                     : open(ctx->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (hostroot < 0)
        return capsa_err_set(err, errno, "open rootfs %s", ctx->rootfs);
    /* Bind the rootfs onto itself so that it is a mount (pivot_root needs
     * one). The tree fd then is the rootfd for everything below: it is the
     * mount root, independent of what the host path resolves to later. */
    cleanup_close int rootfd = capsa_open_tree(
        hostroot, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
    if (rootfd < 0)
        return capsa_err_set(err, errno, "bind rootfs %s", ctx->rootfs);
    if (capsa_move_mount(rootfd, "", hostroot, "",
                         MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return capsa_err_set(err, errno, "bind rootfs %s onto itself", ctx->rootfs);
    /* After move_mount the tree fd is the root of the attached bind mount. */
    ctx->root_mnt_fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
    if (ctx->root_mnt_fd < 0)
        return capsa_err_set(err, errno, "dup rootfs fd");

    for (size_t i = 0; i < ctx->spec->n_mounts; i++) {
        r = capsa_mount_spec_one(rootfd, ctx, i, err);
        if (r < 0)
            return r;
    }
    r = capsa_devices_setup(rootfd, ctx, err);
    if (r < 0)
        return r;
    int dn = open_host_devnull(err);
    if (dn < 0)
        return dn;
    ctx->devnull_fd = dn;
    return 0;
}

/* Fields 4 (root), 5 (mount point, unescaped) and the filesystem type of
 * one /proc/self/mountinfo line, in place. False for a malformed line. */
static bool mountinfo_fields(char *line, char **root, char **point, char **fstype)
{
    char *save = NULL;
    char *tok = strtok_r(line, " ", &save);
    for (int i = 1; tok != NULL && i < 4; i++)
        tok = strtok_r(NULL, " ", &save);
    *root = tok;
    *point = tok != NULL ? strtok_r(NULL, " ", &save) : NULL;
    /* Optional fields up to the "-" separator, then the type. */
    while ((tok = strtok_r(NULL, " ", &save)) != NULL && strcmp(tok, "-") != 0)
        ;
    *fstype = tok != NULL ? strtok_r(NULL, " ", &save) : NULL;
    if (*root == NULL || *point == NULL || *fstype == NULL)
        return false;
    unescape_mountinfo(*root);
    unescape_mountinfo(*point);
    return true;
}

/* --no-pivot leaves the old root in the mount namespace, under the rootfs
 * moved onto "/". The kernel lets a user namespace mount a new procfs or
 * sysfs only where one is already fully visible in the mount namespace,
 * and the host's /proc is, there: a container could mount an unmasked
 * procfs from a user namespace of its own. As runc's msMoveRoot: every
 * full (root "/") procfs and sysfs mount outside the rootfs is made rslave
 * (the detach must not reach the host) and detached, or covered with an
 * empty tmpfs where it cannot be. */
static int hide_host_procfs(const char *rootfs, struct capsa_err *err)
{
    cleanup_free char *rp = realpath(rootfs, NULL);
    const char *rfs = rp != NULL ? rp : rootfs;
    size_t rl = strlen(rfs);
    cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
    if (f == NULL)
        return capsa_err_set(err, errno, "open /proc/self/mountinfo");
    cleanup_free char *line = NULL;
    size_t cap = 0;
    cleanup_strv char **todo = NULL;
    size_t n = 0;
    while (getline(&line, &cap, f) > 0) {
        char *root, *point, *fstype;
        if (!mountinfo_fields(line, &root, &point, &fstype) || strcmp(root, "/") != 0 ||
            (strcmp(fstype, "proc") != 0 && strcmp(fstype, "sysfs") != 0))
            continue;
        if (strncmp(point, rfs, rl) == 0 && (point[rl] == '\0' || point[rl] == '/'))
            continue; /* the container's own */
        char **v = realloc(todo, (n + 2) * sizeof *v);
        if (v == NULL)
            return capsa_err_set(err, ENOMEM, "mountinfo");
        todo = v;
        if ((todo[n] = strdup(point)) == NULL)
            return capsa_err_set(err, ENOMEM, "mountinfo");
        todo[++n] = NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *p = todo[i];
        struct mount_attr slave = {.propagation = MS_SLAVE};
        if (capsa_mount_setattr(AT_FDCWD, p, AT_RECURSIVE | AT_SYMLINK_NOFOLLOW, &slave) < 0) {
            if (errno == ENOENT)
                continue; /* under one detached before */
            return capsa_err_set(err, errno, "--no-pivot: make %s rslave", p);
        }
        if (umount2(p, MNT_DETACH | UMOUNT_NOFOLLOW) == 0)
            continue;
        if (errno != EINVAL && errno != EPERM)
            return capsa_err_set(err, errno, "--no-pivot: detach %s", p);
        if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL) < 0)
            return capsa_err_set(err, errno, "--no-pivot: cover %s", p);
    }
    return 0;
}

void capsa_rootfs_reopen_devnull(void)
{
    int null_fd = -1;
    struct stat nb;
    for (int fd = 0; fd < 3; fd++) {
        struct stat sb;
        if (fstat(fd, &sb) < 0 || !S_ISCHR(sb.st_mode) || sb.st_rdev != makedev(1, 3))
            continue;
        if (null_fd < 0) {
            /* Ours only if it is the real node: the rootfs is the
             * container's, and /dev/null in it could be anything. */
            null_fd = open("/dev/null", O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
            if (null_fd < 0)
                return;
            if (fstat(null_fd, &nb) < 0 || !S_ISCHR(nb.st_mode) || nb.st_rdev != makedev(1, 3)) {
                close(null_fd);
                return;
            }
        }
        if (sb.st_dev != nb.st_dev || sb.st_ino != nb.st_ino)
            (void)dup3(null_fd, fd, 0);
    }
    if (null_fd >= 0)
        close(null_fd);
}

int capsa_rootfs_pivot(struct capsa_rootfs_ctx *ctx, struct capsa_err *err)
{
    /* The rootfs bind mount made by prepare (by fd: the host path may not be
     * traversable from a user namespace). */
    cleanup_close int rootfd = ctx->root_mnt_fd >= 0
                                   ? steal_fd(ctx->root_mnt_fd)
                                   : open(ctx->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return capsa_err_set(err, errno, "open rootfs %s", ctx->rootfs);
    if (fchdir(rootfd) < 0)
        return capsa_err_set(err, errno, "chdir rootfs %s", ctx->rootfs);
    if (ctx->shared_mntns) {
        /* pivot_root would change the root of every process of the host's
         * mount namespace: only chroot is acceptable here. */
        if (chroot(".") < 0)
            return capsa_err_set(err, errno, "chroot rootfs");
        if (chdir("/") < 0)
            return capsa_err_set(err, errno, "chdir /");
        return 0;
    }
    if (ctx->no_pivot) {
        int r = hide_host_procfs(ctx->rootfs, err);
        if (r < 0)
            return r;
        if (capsa_move_mount(rootfd, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0)
            return capsa_err_set(err, errno, "move rootfs onto /");
        if (chroot(".") < 0)
            return capsa_err_set(err, errno, "chroot rootfs");
    } else {
        /* pivot_root(".", "."): the old root ends up stacked on "/" and is
         * detached right away, no put_old directory is needed in the rootfs. */
        cleanup_close int oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (oldroot < 0)
            return capsa_err_set(err, errno, "open /");
        if (capsa_pivot_root(".", ".") < 0)
            return capsa_err_set(err, errno, "pivot_root %s", ctx->rootfs);
        /* Old root rslave so the detach cannot propagate to host peers. The
         * cwd is still the new root's mount ("." does not cross the old root
         * stacked on it), so step onto the old root first: an rslave of "."
         * here would also turn the container's own shared mounts into slaves. */
        if (fchdir(oldroot) < 0)
            return capsa_err_set(err, errno, "chdir to the old root");
        if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
            return capsa_err_set(err, errno, "make old root rslave");
        if (umount2(".", MNT_DETACH) < 0)
            return capsa_err_set(err, errno, "detach old root");
    }
    if (chdir("/") < 0)
        return capsa_err_set(err, errno, "chdir /");
    return 0;
}

/* Masked directory: an empty read-only tmpfs over it. One tmpfs serves every
 * masked directory: after the first is attached, *shared (its mount fd) is
 * cloned for the others, which saves a superblock per path. */
static int mask_dir(int destfd, int *shared, struct capsa_err *err)
{
    if (*shared >= 0) {
        cleanup_close int cfd =
            capsa_open_tree(*shared, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
        if (cfd < 0)
            return capsa_err_set(err, errno, "clone the masking tmpfs");
        if (capsa_move_mount(cfd, "", destfd, "",
                             MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            return capsa_err_set(err, errno, "move_mount tmpfs");
        return 0;
    }
    cleanup_close int fsfd = capsa_fsopen("tmpfs", FSOPEN_CLOEXEC);
    if (fsfd < 0)
        return capsa_err_set(err, errno, "fsopen tmpfs");
    if (capsa_fsconfig(fsfd, FSCONFIG_SET_STRING, "size", "4k", 0) < 0 ||
        capsa_fsconfig(fsfd, FSCONFIG_SET_STRING, "nr_inodes", "1", 0) < 0 ||
        capsa_fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return capsa_err_set(err, errno, "create tmpfs");
    cleanup_close int mfd =
        capsa_fsmount(fsfd, FSMOUNT_CLOEXEC,
                      MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
    if (mfd < 0)
        return capsa_err_set(err, errno, "fsmount tmpfs");
    if (capsa_move_mount(mfd, "", destfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
        0)
        return capsa_err_set(err, errno, "move_mount tmpfs");
    *shared = steal_fd(mfd);
    return 0;
}

/* Masked file: the host /dev/null (ctx->devnull_fd, a detached clone). The
 * clone itself is attached on the first masked file and later ones are
 * clones of it, now that it is in our namespace. Cloning the detached mount
 * for every file instead (kernels 6.15+) would leave it attached nowhere, and
 * closing a detached mount unmounts it, which waits for an RCU grace period:
 * 0.05-4 ms on a 2-vCPU VM (docs/performance.md). Older kernels cannot clone a
 * detached mount at all. */
static int mask_file(struct capsa_rootfs_ctx *ctx, int destfd, bool *attached,
                     struct capsa_err *err)
{
    if (ctx->devnull_fd < 0)
        return capsa_err_setx(err, EBADF, "no verified /dev/null (capsa_rootfs_prepare not run)");
    if (*attached)
        return capsa_mount_bind_fd(ctx->devnull_fd, destfd, false, 0, err);
    if (capsa_move_mount(ctx->devnull_fd, "", destfd, "",
                         MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        return capsa_err_set(err, errno, "move_mount /dev/null");
    *attached = true;
    return 0;
}

static int open_root_path(int rootfd, const char *path, int *out, struct capsa_err *err)
{
    int fd = open_in_root(rootfd, path, 0);
    if (fd == -ENOENT) {
        *out = -1;
        return 0; /* runc: a missing masked/readonly path is not an error */
    }
    if (fd < 0)
        return capsa_err_set(err, -fd, "resolve %s", path);
    *out = fd;
    return 0;
}

static int mask_paths(struct capsa_rootfs_ctx *ctx, int rootfd, const char *const *paths, size_t n,
                      const char *what, int *mask_tmpfs, bool *devnull_attached,
                      struct capsa_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = paths[i];
        cleanup_close int fd = -1;
        int r = open_root_path(rootfd, p, &fd, err);
        if (r < 0)
            return capsa_err_wrap(err, "%s[%zu]", what, i);
        if (fd < 0)
            continue;
        struct stat st;
        if (fstat(fd, &st) < 0)
            return capsa_err_set(err, errno, "%s[%zu]: stat %s", what, i, p);
        r = S_ISDIR(st.st_mode) ? mask_dir(fd, mask_tmpfs, err)
                                : mask_file(ctx, fd, devnull_attached, err);
        if (r < 0)
            return capsa_err_wrap(err, "%s[%zu] (%s)", what, i, p);
    }
    return 0;
}

static int readonly_paths(int rootfd, const char *const *paths, size_t n, const char *what,
                          struct capsa_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = paths[i];
        cleanup_close int fd = -1;
        int r = open_root_path(rootfd, p, &fd, err);
        if (r < 0)
            return capsa_err_wrap(err, "%s[%zu]", what, i);
        if (fd < 0)
            continue;
        /* Bind onto itself (rec), then read-only on the whole subtree. Only
         * read-only: the other flags stay as they were (runc keeps them too),
         * so programs under the path still run and a masked /dev/null under
         * it still opens. Recursive, unlike runc's remount of the top mount
         * only, so that no writable mount hides below a read-only path. */
        r = capsa_mount_bind_fd(fd, fd, true, MOUNT_ATTR_RDONLY, err);
        if (r < 0)
            return capsa_err_wrap(err, "%s[%zu] (%s)", what, i, p);
    }
    return 0;
}

int capsa_rootfs_finalize(struct capsa_rootfs_ctx *ctx, struct capsa_err *err)
{
    int r = 0;
    bool devnull_attached = false;
    cleanup_close int mask_tmpfs = -1;
    const struct capsa_linux *l = ctx->spec->has_linux ? &ctx->spec->linux_cfg : NULL;
    cleanup_close int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        r = capsa_err_set(err, errno, "open /");
        goto out;
    }
    /* A missing process.cwd is made now, before anything becomes read-only
     * (runc makes it right after pivot_root too): with root.readonly it could
     * not be made later. The init enters it after the attributes. */
    const struct capsa_process *proc = ctx->spec->process;
    if (proc != NULL && proc->cwd != NULL && proc->cwd[0] == '/') {
        int cfd = capsa_resolve_mkdir_in_root(rootfd, proc->cwd, false, err);
        if (cfd < 0) {
            r = capsa_err_wrap(err, "process.cwd");
            goto out;
        }
        close(cfd);
    }
    r = ro_later_apply(ctx, err);
    if (r < 0)
        goto out;
    r = mask_paths(ctx, rootfd, l ? (const char *const *)l->masked_paths : NULL,
                   l ? l->n_masked_paths : 0, "linux.maskedPaths", &mask_tmpfs, &devnull_attached,
                   err);
    if (r == 0)
        r = mask_paths(ctx, rootfd, ctx->more_masked, ctx->n_more_masked,
                       "the isolation level's hidden paths", &mask_tmpfs, &devnull_attached, err);
    if (r == 0)
        r = readonly_paths(rootfd, l ? (const char *const *)l->readonly_paths : NULL,
                           l ? l->n_readonly_paths : 0, "linux.readonlyPaths", err);
    if (r == 0)
        r = readonly_paths(rootfd, ctx->more_readonly, ctx->n_more_readonly,
                           "the isolation level's read-only paths", err);
    if (r < 0)
        goto out;
    if (ctx->spec->root_readonly) {
        /* Only the root mount, other flags kept: mount_setattr changes just
         * the bits named, unlike a MS_REMOUNT that must restate them all. */
        struct mount_attr a = {.attr_set = MOUNT_ATTR_RDONLY};
        if (capsa_mount_setattr(AT_FDCWD, "/", 0, &a) < 0) {
            r = capsa_err_set(err, errno, "root.readonly: make / read-only");
            goto out;
        }
    }
    if (l != NULL && l->rootfs_propagation != NULL && l->rootfs_propagation[0] != '\0') {
        uint64_t prop;
        bool rec;
        if (capsa_mount_propagation_parse(l->rootfs_propagation, &prop, &rec) < 0) {
            r = capsa_err_setx(err, EINVAL, "linux.rootfsPropagation: unknown value \"%s\"",
                               l->rootfs_propagation);
            goto out;
        }
        struct mount_attr a = {.propagation = prop};
        if (capsa_mount_setattr(AT_FDCWD, "/", rec ? AT_RECURSIVE : 0, &a) < 0) {
            r = capsa_err_set(err, errno, "linux.rootfsPropagation: %s", l->rootfs_propagation);
            goto out;
        }
    }
out:
    capsa_close(&ctx->devnull_fd);
    ro_later_release(ctx);
    return r;
}

int capsa_rootfs_unmount_all(const char *rootfs, struct capsa_err *err)
{
    size_t rl = strlen(rootfs);
    /* A lazy unmount detaches a whole subtree, including mounts hidden under
     * later ones, so take the shallowest first; repeat until none is left
     * (stacked mounts at the same place come off one at a time). */
    for (int round = 0; round < 8192; round++) {
        cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
        if (f == NULL)
            return capsa_err_set(err, errno, "open /proc/self/mountinfo");
        char *line = NULL;
        size_t cap = 0;
        char *best = NULL;
        size_t best_len = 0;
        for (const char *tok; (tok = next_mount_point(f, &line, &cap)) != NULL;) {
            size_t tl = strlen(tok);
            if (strncmp(tok, rootfs, rl) != 0 || (tok[rl] != '\0' && tok[rl] != '/'))
                continue;
            if (best == NULL || tl < best_len) {
                free(best);
                best = strdup(tok);
                best_len = tl;
            }
        }
        free(line);
        if (best == NULL)
            return 0;
        int r = umount2(best, MNT_DETACH | UMOUNT_NOFOLLOW);
        int e = errno;
        if (r < 0) {
            capsa_err_set(err, e, "unmount %s", best);
            free(best);
            return -e;
        }
        free(best);
    }
    return capsa_err_setx(err, EBUSY, "unmount below %s: too many mounts", rootfs);
}
