/* share.c - the directory tree virtiofsd serves to the guest.
 *
 * <state>/share holds rootfs/ (a bind of the container's rootfs) and
 * vol/<i> (a bind of the source of the config's i-th mount, when that mount
 * is a bind mount of a host path: the volumes, and the files engines bind
 * in, such as /etc/hosts). The guest's config names them there
 * (capsa_vm_share_guest_path), so the guest's own capsa code mounts them as
 * the native level mounts the host's. A read-only bind is read-only here
 * too: the guest kernel cannot write through it, whatever it is told.
 *
 * The binds are made on a private mount (no propagation to or from the
 * host's mounts), before virtiofsd starts: its sandbox copies them into its
 * own mount namespace. Once the guest has mounted the share, the host's
 * copies are detached and the directories removed (capsa_vm_share_drop):
 * no mount of the container is left in the host's mount namespace, and
 * nothing in the state directory that its removal would have to cross. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "level/vm/share.h"
#include "linux/devices.h"
#include "util/util.h"

#define SHARE "share"

static bool has_option(const struct capsa_mount *m, const char *opt)
{
    for (size_t i = 0; i < m->n_options; i++)
        if (strcmp(m->options[i], opt) == 0)
            return true;
    return false;
}

bool capsa_vm_share_has(const struct capsa_mount *m)
{
    return capsa_mount_is_bind(m) && m->source != NULL && m->source[0] != '\0';
}

int capsa_vm_share_guest_path(size_t i, char *out, size_t len)
{
    int n = i == SIZE_MAX ? snprintf(out, len, "%s/rootfs", CAPSA_VM_GUEST_SHARE)
                          : snprintf(out, len, "%s/vol/%zu", CAPSA_VM_GUEST_SHARE, i);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Bind src onto the new entry dst (a directory or an empty file, as src
 * is), read-only when ro. */
static int bind_one(const char *src, const char *dst, bool ro, const char *what,
                    struct capsa_err *err)
{
    struct stat st;
    if (stat(src, &st) < 0)
        return capsa_err_set(err, errno, "vm share: %s %s", what, src);
    if (S_ISDIR(st.st_mode)) {
        if (mkdir(dst, 0700) < 0)
            return capsa_err_set(err, errno, "vm share: mkdir %s", dst);
    } else {
        int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
            return capsa_err_set(err, errno, "vm share: create %s", dst);
        close(fd);
    }
    if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
        return capsa_err_set(err, errno, "vm share: bind %s %s", what, src);
    if (ro && mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        return capsa_err_set(err, errno, "vm share: %s %s read-only", what, src);
    return 0;
}

int capsa_vm_share_make(const struct capsa_spec *spec, const char *bundle, const char *rootfs,
                        const char *state_dir, char *out, size_t len, struct capsa_err *err)
{
    char vol[PATH_MAX + 32], dst[PATH_MAX + 64], src[PATH_MAX];
    int n = snprintf(out, len, "%s/%s", state_dir, SHARE);
    if (n < 0 || (size_t)n >= len)
        return capsa_err_setx(err, ENAMETOOLONG, "vm share in %s", state_dir);
    if (mkdir(out, 0700) < 0)
        return capsa_err_set(err, errno, "vm share: mkdir %s", out);
    int r = 0;
    /* A private mount of its own: nothing bound below propagates. */
    if (mount(out, out, NULL, MS_BIND, NULL) < 0 ||
        mount(NULL, out, NULL, MS_PRIVATE | MS_REC, NULL) < 0)
        r = capsa_err_set(err, errno, "vm share: make %s a private mount", out);
    snprintf(dst, sizeof dst, "%s/rootfs", out);
    if (r == 0)
        r = bind_one(rootfs, dst, false, "rootfs", err); /* root.readonly is the guest's to apply */
    snprintf(vol, sizeof vol, "%s/vol", out);
    if (r == 0 && mkdir(vol, 0700) < 0)
        r = capsa_err_set(err, errno, "vm share: mkdir %s", vol);
    for (size_t i = 0; r == 0 && i < spec->n_mounts; i++) {
        const struct capsa_mount *m = &spec->mounts[i];
        if (!capsa_vm_share_has(m))
            continue;
        n = m->source[0] == '/' ? snprintf(src, sizeof src, "%s", m->source)
                                : snprintf(src, sizeof src, "%s/%s", bundle, m->source);
        if (n < 0 || (size_t)n >= sizeof src) {
            r = capsa_err_setx(err, ENAMETOOLONG, "mounts[%zu].source: too long", i);
            break;
        }
        snprintf(dst, sizeof dst, "%s/%zu", vol, i);
        char what[48];
        snprintf(what, sizeof what, "mounts[%zu].source", i);
        r = bind_one(src, dst, has_option(m, "ro"), what, err);
    }
    if (r < 0)
        capsa_vm_share_drop(spec, state_dir);
    return r;
}

void capsa_vm_share_drop(const struct capsa_spec *spec, const char *state_dir)
{
    char top[PATH_MAX + 16], p[PATH_MAX + 64];
    snprintf(top, sizeof top, "%s/%s", state_dir, SHARE);
    /* Everything below goes with the private mount on top. */
    (void)umount2(top, MNT_DETACH);
    for (size_t i = 0; i < spec->n_mounts; i++) {
        snprintf(p, sizeof p, "%s/vol/%zu", top, i);
        if (rmdir(p) < 0 && errno == ENOTDIR)
            (void)unlink(p);
    }
    snprintf(p, sizeof p, "%s/vol", top);
    (void)rmdir(p);
    snprintf(p, sizeof p, "%s/rootfs", top);
    if (rmdir(p) < 0 && errno == ENOTDIR)
        (void)unlink(p);
    (void)rmdir(top);
}
