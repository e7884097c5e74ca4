/* rootfs.h - building the container's filesystem view inside its new mount
 * namespace: rootfs bind, config mounts, devices, /dev defaults, pivot_root,
 * masked and read-only paths. Every destination is resolved inside the rootfs
 * with openat2(RESOLVE_IN_ROOT) and mounted through file descriptors, so a
 * symlink in the (hostile) rootfs can never redirect a mount to the host.
 *
 * Called from the container init, in this order:
 *   capsa_rootfs_prepare   (before pivot_root; host paths still reachable)
 *   capsa_rootfs_pivot
 *   capsa_rootfs_finalize  (after pivot_root; inside the container's root)
 */
#ifndef CAPSA_LINUX_ROOTFS_H
#define CAPSA_LINUX_ROOTFS_H

#include <stdbool.h>

#include "linux/cgroup.h"
#include "spec/spec.h"
#include "util/err.h"

/* Mounts made writable now and read-only at the end (see ro_later below). */
struct capsa_ro_later {
    size_t n;
    struct {
        int fd;           /* the mount (fsmount fd, attached) */
        const char *dest; /* its destination, for messages (the spec's string) */
    } * v;                /* room for one per spec mount */
};

struct capsa_rootfs_ctx {
    const struct capsa_spec *spec;
    const char *rootfs; /* absolute host path of the rootfs (bundle + root.path resolved) */
    const char *bundle; /* absolute bundle path: relative bind sources are relative to it */
    bool new_userns;    /* in a new user namespace: devices are bind-mounted, not mknod'ed */
    bool new_netns;     /* own netns (new or joined): sysfs mounted fresh (else rbind) */
    bool no_pivot;      /* --no-pivot: MS_MOVE + chroot instead of pivot_root */
    /* Set by capsa_rootfs_prepare (which first sets it to -1): an O_PATH fd
     * of the host's /dev/null, verified to be the character device 1:3,
     * taken before pivot_root as a detached mount (open_tree clone, so it
     * stays usable after the old root is detached); the bind source for
     * masked files. Closed by capsa_rootfs_finalize (also on error). */
    int devnull_fd;
    /* No mount namespace of its own: the container shares the runtime's. The
     * host's propagation is left alone, chroot replaces pivot_root, and the
     * mounts made under the rootfs are removed by capsa_rootfs_unmount_all at
     * delete. */
    bool shared_mntns;
    /* O_PATH fd of the rootfs directory opened by the runtime before it
     * entered a user namespace (whose root may not traverse the host path to
     * it), or -1 to open ctx->rootfs by path. Not closed here. */
    int rootfs_fd;
    /* Internal: the rootfs bind mount made by prepare, used by pivot. */
    int root_mnt_fd;
    /* The container's cgroup (NULL without one): a "cgroup" mount shows the
     * container's own directories, as runc does, not the host's tree. */
    const struct capsa_cgroup *cg;
    /* One per spec->mounts entry (or NULL): an O_PATH fd of the bind source
     * opened by the runtime before the user namespace (>= 0), used instead
     * of opening the source path here. Not closed here. */
    const int *mount_fds;
    /* Debug lines (one per mount made), or NULL. */
    void (*log)(void *opaque, const char *msg);
    void *log_opaque;
    /* Internal (set by capsa_rootfs_prepare, released by
     * capsa_rootfs_finalize): fresh tmpfs mounts and the mount on /dev that
     * the spec wants read-only ("ro") are mounted writable, so that the
     * mount points of later mounts (devpts, mqueue under a read-only /dev),
     * device nodes, the console and tmpcopyup's files can still be made in
     * them; finalize makes them read-only (runc's order). */
    struct capsa_ro_later *ro_later;
    /* More paths to mask and make read-only after linux.maskedPaths and
     * linux.readonlyPaths (an isolation level's, e.g. interpose's policy). */
    const char *const *more_masked;
    size_t n_more_masked;
    const char *const *more_readonly;
    size_t n_more_readonly;
};

/* Before pivot_root. Makes the mount tree rprivate (rslave when
 * rootfsPropagation is slave/rslave; the exact value, including "shared" and
 * "unbindable" which pivot_root and the rootfs clone cannot live with, is
 * applied to "/" by capsa_rootfs_finalize), bind-mounts the rootfs onto itself
 * (recursive), performs spec->mounts in order (bind/rbind, all runc
 * options, propagation, filesystem data, r* options via mount_setattr
 * AT_RECURSIVE; sysfs without new_netns and "cgroup" are read-only rbinds of
 * the host's /sys and /sys/fs/cgroup; idmapped mounts fail with ENOTSUP),
 * creates linux.devices and the default devices (/dev/null, zero, full,
 * random, urandom, tty; bind-mounted from the host when new_userns) and the
 * /dev links (fd, stdin, stdout, stderr, ptmx -> pts/ptmx; no /dev/core).
 * Missing destination directories/files are created inside the rootfs. */
int capsa_rootfs_prepare(struct capsa_rootfs_ctx *ctx, struct capsa_err *err);

/* pivot_root(rootfs) and detach the old root, or MS_MOVE + chroot when no_pivot.
 * On return the cwd is "/" of the container. */
int capsa_rootfs_pivot(struct capsa_rootfs_ctx *ctx, struct capsa_err *err);

/* After the pivot: stdin, stdout or stderr that is the host's /dev/null
 * (an engine's "no input") becomes the container's own /dev/null, as runc
 * does, when that is the real character device 1:3. A host file in the
 * container's fd table belongs to no mount of the container: CRIU cannot
 * checkpoint it. Best effort: nothing changes on any doubt. */
void capsa_rootfs_reopen_devnull(void);

/* After pivot_root: a missing process.cwd is created first (while nothing
 * is read-only yet), the deferred read-only mounts (ro_later) made
 * read-only, then linux.maskedPaths (file -> bind of /dev/null, dir
 * -> read-only tmpfs), linux.readonlyPaths (recursive read-only bind), then
 * root.readonly, then rootfsPropagation of "/". */
int capsa_rootfs_finalize(struct capsa_rootfs_ctx *ctx, struct capsa_err *err);

/* Detach every mount at or below rootfs in the caller's mount namespace
 * (shallowest first: each lazy unmount takes its subtree along). For containers without a mount
 * namespace of their own. */
int capsa_rootfs_unmount_all(const char *rootfs, struct capsa_err *err);

/* The name a cgroup directory's hierarchy gets under the container's
 * /sys/fs/cgroup on v1 and hybrid hosts ("memory", "cpu,cpuacct",
 * "systemd", "unified"); "" when it gets none. -ENAMETOOLONG. */
int capsa_cgroup_mount_name(const struct capsa_cgroup_dir *d, char *name, size_t size);

/* Open a detached, private procfs mount (fsopen("proc") + fsmount) for the
 * caller's pid namespace; the container cannot tamper with it because it is
 * attached nowhere. Used for every write to /proc (sysctl, oom_score_adj,
 * LSM attributes) so that a fake or redirected /proc cannot be abused
 * (CVE-2019-16884, CVE-2025-52881 class). Returns the fd or -errno. */
int capsa_proc_open_private(struct capsa_err *err);

/* Open path below a procfs fd (from capsa_proc_open_private) without
 * following magic links or leaving procfs; flags as open(2). */
int capsa_proc_openat(int procfd, const char *path, int flags, struct capsa_err *err);

/* Open <procfd>/self/<rel> with flags (O_WRONLY for attribute writes): the
 * same checks as capsa_proc_openat, "self" being the only symlink followed. */
int capsa_proc_open_self(int procfd, const char *rel, int flags, struct capsa_err *err);

/* Validate linux.sysctl against the namespaces the container has, as runc
 * does: only namespaced keys, each with its namespace among the container's
 * (new or joined): kernel.{msg*,sem,shm*} and fs.mqueue.* with ipc, net.*
 * with network (a joined one that is the runtime's own refused),
 * kernel.domainname with uts, user.* with user; kernel.hostname never (the
 * "hostname" field sets it). */
int capsa_sysctl_validate(const struct capsa_spec *spec, struct capsa_err *err);
/* Write linux.sysctl through procfd (after capsa_sysctl_validate). */
int capsa_sysctl_apply(const struct capsa_spec *spec, int procfd, struct capsa_err *err);

/* Resolve "path" (absolute, inside the root "rootfd") creating missing
 * directories (mode 0755 & ~umask) and, when want_file is true, an empty
 * final file (mode 0644) if it does not exist; never follows a symlink out of
 * rootfd (openat2 RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS at every step,
 * mkdirat relative to the resolved parent). A dangling symlink is followed
 * within the root and its target created there. An existing final object is
 * returned whatever its type. Returns an O_PATH|O_CLOEXEC fd or -errno with
 * err set. */
int capsa_resolve_mkdir_in_root(int rootfd, const char *path, bool want_file,
                                struct capsa_err *err);

#endif
