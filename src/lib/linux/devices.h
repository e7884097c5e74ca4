/* devices.h - internal interface between the rootfs pieces (rootfs.c,
 * mount.c, devices.c): the parsed form of a mount's options, mounting one
 * spec mount through file descriptors, and creating device nodes.
 *
 * This is also where the mount-option parser lives, because a header named
 * "linux/mount.h" would shadow the kernel's <linux/mount.h> (the build puts
 * src/lib on the include path and sys/sys.h includes <linux/mount.h>).
 * Not part of the public library interface. */
#ifndef CAPSA_LINUX_DEVICES_H
#define CAPSA_LINUX_DEVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "linux/rootfs.h"
#include "spec/spec.h"
#include "util/err.h"

/* atime is an enum in the kernel (MOUNT_ATTR__ATIME), not a bit set. */
enum capsa_atime {
    CAPSA_ATIME_UNSET = 0, /* no option given: default (new fs) or inherited (bind) */
    CAPSA_ATIME_RELATIME,
    CAPSA_ATIME_NOATIME,
    CAPSA_ATIME_STRICTATIME,
};

/* The options array of one mount, split by meaning. Produced by
 * capsa_mount_opts_parse, which is pure (no syscalls) so that it can be
 * unit-tested and fuzzed. Later options override earlier ones, as in runc. */
struct capsa_mount_opts {
    /* MS_* flags as mount(2) would receive them (RDONLY, NOSUID, NODEV,
     * NOEXEC, SYNCHRONOUS, DIRSYNC, MANDLOCK, NOATIME, NODIRATIME, RELATIME,
     * STRICTATIME, BIND, REC, REMOUNT); used for the mount(2) fallback and
     * for the superblock flags (sync, dirsync, mand) given to fsconfig. */
    unsigned long ms_flags;
    /* MOUNT_ATTR_{RDONLY,NOSUID,NODEV,NOEXEC,NODIRATIME} for the top mount
     * only: set, and explicitly cleared (rw, suid, dev, exec, diratime). */
    uint64_t attr_set;
    uint64_t attr_clr;
    enum capsa_atime atime;
    /* The r* options (rro, rnosuid, ...): applied with AT_RECURSIVE. */
    uint64_t rec_attr_set;
    uint64_t rec_attr_clr;
    enum capsa_atime rec_atime;
    /* MS_SHARED, MS_SLAVE, MS_PRIVATE or MS_UNBINDABLE; 0 when none given. */
    uint64_t propagation;
    bool propagation_rec; /* the r- form (rshared, rslave, ...) */
    bool bind;            /* bind or rbind */
    bool rbind;           /* rbind: the whole subtree (AT_RECURSIVE) */
    bool remount;
    bool tmpcopyup; /* tmpfs: copy the covered directory's contents in (runc, crun) */
    /* Everything else, in order: filesystem data ("mode=755", "newinstance").
     * Borrowed pointers into the options array; the array itself is heap. */
    const char **data;
    size_t n_data;
};

/* Parse options[0..n) (NULL entries are skipped). "idmap"/"ridmap" fail
 * with ENOTSUP ("not supported yet"). On success release with
 * capsa_mount_opts_release. */
int capsa_mount_opts_parse(char *const *options, size_t n, struct capsa_mount_opts *out,
                           struct capsa_err *err);
void capsa_mount_opts_release(struct capsa_mount_opts *o);

/* Join the data options with ',' (for mount(2) fallbacks); "" when none. */
int capsa_mount_opts_data(const struct capsa_mount_opts *o, char **out, struct capsa_err *err);

/* Parse a propagation name ("private", "rslave", ...) into MS_* and whether
 * it is recursive. -EINVAL when unknown. */
int capsa_mount_propagation_parse(const char *name, uint64_t *prop, bool *rec);

/* Whether m is a bind mount (type "bind", or a bind/rbind option). */
bool capsa_mount_is_bind(const struct capsa_mount *m);

/* Perform spec->mounts[index] below rootfd (the rootfs bind mount). */
int capsa_mount_spec_one(int rootfd, const struct capsa_rootfs_ctx *ctx, size_t index,
                         struct capsa_err *err);

/* Apply a mount_setattr (set/clr/atime/propagation) to the mount whose root
 * is fd (an open_tree/fsmount fd or an O_PATH fd at a mount root). */
int capsa_mount_apply_attrs(int fd, uint64_t set, uint64_t clr, enum capsa_atime atime,
                            uint64_t propagation, bool recursive, struct capsa_err *err);

/* Bind a clone of the mount tree at srcfd (O_PATH) onto destfd, optionally
 * recursive, and make it read-only/nosuid/... with rec_set (AT_RECURSIVE).
 * Returns 0 or -errno with err set. */
int capsa_mount_bind_fd(int srcfd, int destfd, bool recursive, uint64_t rec_set,
                        struct capsa_err *err);

/* linux.devices, then the default devices and /dev links, below rootfd. */
int capsa_devices_setup(int rootfd, const struct capsa_rootfs_ctx *ctx, struct capsa_err *err);

#endif
