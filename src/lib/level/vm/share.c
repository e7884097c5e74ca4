/* share.c - the directory tree virtiofsd serves to the guest.
 *
 * <state>/share holds rootfs/ (a bind of the container's rootfs), vol/<i> (a
 * bind of the source of the config's i-th mount, when that mount is a bind
 * mount of a host path: the volumes, and the files engines bind in, such as
 * /etc/hosts), and c/, where the containers of a CRI pod that join this VM
 * get theirs (c/<id>/rootfs, c/<id>/vol/<i>: capsa_vm_share_member). The
 * guest's config names them there (capsa_vm_share_guest_path), so the
 * guest's own capsa code mounts them as the native level mounts the host's.
 * A read-only bind is read-only here too: the guest kernel cannot write
 * through it, whatever it is told. The share's own directories are on a
 * read-only mount: the guest cannot plant a symbolic link or a file where
 * the host later makes a directory.
 *
 * The binds are made on a private mount (no propagation to or from the
 * host's mounts), before virtiofsd starts: its sandbox copies them into its
 * own mount namespace. Once the guest has mounted the share, the host's
 * copy is detached (capsa_vm_share_drop): no mount of the container is left
 * in the host's mount namespace. The directories stay while the VM runs
 * (removing one would detach virtiofsd's mount on it too) and go at delete
 * (capsa_vm_share_remove). A pod member's binds are made later, straight
 * into virtiofsd's mount namespace (capsa_vm_share_member). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "level/vm/share.h"
#include "linux/devices.h"
#include "linux/process.h"
#include "sys/sys.h"
#include "util/util.h"

#define SHARE   "share"
#define MEMBERS "c"
#define FSD     CAPSA_VM_FSD_RECORD

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

int capsa_vm_share_guest_path(const char *member, size_t i, char *out, size_t len)
{
    char pre[300] = "";
    if (member)
        snprintf(pre, sizeof pre, "/%s/%s", MEMBERS, member);
    int n = i == SIZE_MAX ? snprintf(out, len, "%s%s/rootfs", CAPSA_VM_GUEST_SHARE, pre)
                          : snprintf(out, len, "%s%s/vol/%zu", CAPSA_VM_GUEST_SHARE, pre, i);
    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The host path of mount i's source (relative sources are the bundle's). */
static int source_of(const struct capsa_spec *spec, size_t i, const char *bundle, char *out,
                     size_t len, struct capsa_err *err)
{
    const char *s = spec->mounts[i].source;
    int n = s[0] == '/' ? snprintf(out, len, "%s", s) : snprintf(out, len, "%s/%s", bundle, s);
    if (n < 0 || (size_t)n >= len)
        return capsa_err_setx(err, ENAMETOOLONG, "mounts[%zu].source: too long", i);
    return 0;
}

/* The new entry name in dirfd for a bind of src: a directory or an empty
 * file, as src is. */
static int make_point(const char *src, int dirfd, const char *name, const char *what,
                      struct capsa_err *err)
{
    struct stat st;
    if (stat(src, &st) < 0)
        return capsa_err_set(err, errno, "vm share: %s %s", what, src);
    if (S_ISDIR(st.st_mode)) {
        if (mkdirat(dirfd, name, 0700) < 0)
            return capsa_err_set(err, errno, "vm share: mkdir %s", name);
        return 0;
    }
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return capsa_err_set(err, errno, "vm share: create %s", name);
    close(fd);
    return 0;
}

/* Bind src onto the new entry dst, read-only when ro. */
static int bind_one(const char *src, const char *dst, bool ro, const char *what,
                    struct capsa_err *err)
{
    int r = make_point(src, AT_FDCWD, dst, what, err);
    if (r < 0)
        return r;
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
    snprintf(dst, sizeof dst, "%s/%s", out, MEMBERS);
    if (r == 0 && mkdir(dst, 0700) < 0)
        r = capsa_err_set(err, errno, "vm share: mkdir %s", dst);
    for (size_t i = 0; r == 0 && i < spec->n_mounts; i++) {
        const struct capsa_mount *m = &spec->mounts[i];
        if (!capsa_vm_share_has(m))
            continue;
        if ((r = source_of(spec, i, bundle, src, sizeof src, err)) < 0)
            break;
        snprintf(dst, sizeof dst, "%s/%zu", vol, i);
        char what[48];
        snprintf(what, sizeof what, "mounts[%zu].source", i);
        r = bind_one(src, dst, has_option(m, "ro"), what, err);
    }
    /* The share's own directories: read-only to the guest. */
    if (r == 0 && mount(NULL, out, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
        r = capsa_err_set(err, errno, "vm share: %s read-only", out);
    if (r < 0) {
        capsa_vm_share_drop(state_dir);
        cleanup_close int sd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (sd >= 0)
            capsa_vm_share_remove(sd);
    }
    return r;
}

void capsa_vm_share_drop(const char *state_dir)
{
    char top[PATH_MAX + 16];
    snprintf(top, sizeof top, "%s/%s", state_dir, SHARE);
    /* Everything below goes with the private mount on top. */
    (void)umount2(top, MNT_DETACH);
}

/* A mount point of the share (rootfs, vol/<i>): removed only when it is an
 * empty directory or a file; never recursed into (a bind still mounted
 * would be the container's own files). */
static void remove_point(int dirfd, const char *name)
{
    if (unlinkat(dirfd, name, 0) < 0 && errno == EISDIR)
        (void)unlinkat(dirfd, name, AT_REMOVEDIR);
}

static int open_dir(int dirfd, const char *name)
{
    return openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* The mount points in dir vol of dirfd, then vol. */
static void remove_vol(int dirfd)
{
    int fd = open_dir(dirfd, "vol");
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        capsa_close(&fd);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            remove_point(fd, de->d_name);
    closedir(d);
    (void)unlinkat(dirfd, "vol", AT_REMOVEDIR);
}

/* The mount points (rootfs, vol/) of a layout directory (the share's top,
 * or a member's). */
static void remove_points(int fd)
{
    remove_point(fd, "rootfs");
    remove_vol(fd);
}

/* c/<id>: a member's layout. */
static void remove_member(int c, const char *id)
{
    cleanup_close int fd = open_dir(c, id);
    if (fd < 0)
        return;
    remove_points(fd);
    (void)unlinkat(c, id, AT_REMOVEDIR);
}

void capsa_vm_share_remove(int state_dirfd)
{
    (void)unlinkat(state_dirfd, FSD, 0);
    cleanup_close int fd = open_dir(state_dirfd, SHARE);
    if (fd < 0)
        return;
    remove_points(fd);
    int c = open_dir(fd, MEMBERS);
    DIR *d = c < 0 ? NULL : fdopendir(c);
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            remove_member(c, de->d_name);
    if (d)
        closedir(d);
    else
        capsa_close(&c);
    (void)unlinkat(fd, MEMBERS, AT_REMOVEDIR);
    (void)unlinkat(state_dirfd, SHARE, AT_REMOVEDIR);
}

/* ---- pod members ---------------------------------------------------------- */

/* virtiofsd's mount namespace (its sandbox's), from <sandbox>/fsd. */
static int fsd_mntns(int sandbox_dirfd, const char *sandbox, int *out, struct capsa_err *err)
{
    pid_t pid = 0;
    unsigned long long start = 0;
    int r = capsa_proc_record_read(sandbox_dirfd, FSD, &pid, &start);
    if (r == -ENOENT)
        return capsa_err_setx(err, ENOENT,
                              "vm: the pod's sandbox %s has no file server record: it is no "
                              "vm-level container created by this capsa",
                              sandbox);
    if (r < 0)
        return capsa_err_setx(err, EINVAL, "vm: the pod's sandbox %s: its %s record", sandbox, FSD);
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/ns/mnt", (int)pid);
    cleanup_close int ns = open(p, O_RDONLY | O_CLOEXEC);
    unsigned long long now = 0;
    /* Opened, then checked: the namespace is the process's that started
     * then, not a later one's with a reused pid. */
    if (ns < 0 || capsa_proc_start_time(pid, &now, NULL) < 0 || now != start)
        return capsa_err_setx(err, ESRCH, "vm: the pod's sandbox %s: its file server is gone",
                              sandbox);
    *out = steal_fd(ns);
    return 0;
}

/* A bind for a member: the detached copy of src moved onto dst (relative
 * to the namespace's root, the share) in virtiofsd's mount namespace. */
struct pod_bind {
    char src[PATH_MAX];
    char dst[PATH_MAX];
    bool ro;
};

/* In a child: every source cloned here, then moved into the namespace.
 * What failed comes back through errfd. */
__attribute__((noreturn)) static void bind_child(int ns, const struct pod_bind *b, size_t n,
                                                 int errfd)
{
    struct capsa_err e = {0};
    int trees[1 + CAPSA_VM_SHARE_MEMBER_MAX];
    size_t made = 0;
    for (; made < n; made++) {
        trees[made] = capsa_open_tree(AT_FDCWD, b[made].src,
                                      OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (trees[made] < 0) {
            capsa_err_set(&e, errno, "vm share: clone %s", b[made].src);
            goto out;
        }
    }
    if (setns(ns, CLONE_NEWNS) < 0) {
        capsa_err_set(&e, errno, "vm share: join the file server's mount namespace");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (capsa_move_mount(trees[i], "", AT_FDCWD, b[i].dst, MOVE_MOUNT_F_EMPTY_PATH) < 0) {
            capsa_err_set(&e, errno, "vm share: mount %s on %s", b[i].src, b[i].dst);
            goto out;
        }
        /* As the sandbox's own binds are there: slaves of the host's. */
        if (mount(NULL, b[i].dst, NULL, MS_SLAVE | MS_REC, NULL) < 0) {
            capsa_err_set(&e, errno, "vm share: %s a slave mount", b[i].dst);
            goto out;
        }
        if (b[i].ro && mount(NULL, b[i].dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
            capsa_err_set(&e, errno, "vm share: %s read-only", b[i].dst);
            goto out;
        }
    }
out:
    if (e.errnum != 0)
        (void)capsa_write_all(errfd, &e, sizeof e);
    _exit(e.errnum != 0);
}

static int bind_in(int ns, const struct pod_bind *b, size_t n, struct capsa_err *err)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return capsa_err_set(err, errno, "pipe");
    pid_t c = fork();
    if (c < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        return capsa_err_set(err, e, "fork");
    }
    if (c == 0) {
        close(p[0]);
        bind_child(ns, b, n, p[1]);
    }
    close(p[1]);
    struct capsa_err child = {0};
    ssize_t got = capsa_read_all(p[0], &child, sizeof child);
    close(p[0]);
    int st = 0;
    while (waitpid(c, &st, 0) < 0 && errno == EINTR)
        ;
    if (got == (ssize_t)sizeof child) {
        child.msg[sizeof child.msg - 1] = '\0';
        *err = child;
        return capsa_err_ret(err);
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return capsa_err_setx(err, EIO, "vm share: the child that binds failed");
    return 0;
}

int capsa_vm_share_member(int sandbox_dirfd, const char *sandbox, const char *id,
                          const struct capsa_spec *spec, const char *bundle, const char *rootfs,
                          struct capsa_err *err)
{
    cleanup_close int ns = -1;
    int r = fsd_mntns(sandbox_dirfd, sandbox, &ns, err);
    if (r < 0)
        return r;
    size_t n = 0;
    for (size_t i = 0; i < spec->n_mounts; i++)
        n += capsa_vm_share_has(&spec->mounts[i]);
    if (n > CAPSA_VM_SHARE_MEMBER_MAX)
        return capsa_err_setx(err, E2BIG, "mounts: %zu bind mounts, at most %d in a pod member", n,
                              CAPSA_VM_SHARE_MEMBER_MAX);
    struct pod_bind *b = calloc(n + 1, sizeof *b);
    if (b == NULL)
        return capsa_err_set(err, ENOMEM, "vm share");
    cleanup_close int sfd = open_dir(sandbox_dirfd, SHARE), cfd = -1, dfd = -1, vfd = -1;
    /* The host's side of the share (directories only the host writes). */
    if (sfd < 0 || (cfd = open_dir(sfd, MEMBERS)) < 0)
        r = capsa_err_set(err, errno, "vm: the pod's sandbox %s: its share", sandbox);
    else if (mkdirat(cfd, id, 0700) < 0)
        r = capsa_err_set(err, errno, "vm share: mkdir %s/%s/%s in the sandbox's state", SHARE,
                          MEMBERS, id);
    else if ((dfd = open_dir(cfd, id)) < 0 || mkdirat(dfd, "vol", 0700) < 0 ||
             (vfd = open_dir(dfd, "vol")) < 0)
        r = capsa_err_set(err, errno, "vm share: %s/%s/%s", SHARE, MEMBERS, id);
    size_t k = 0;
    if (r == 0) {
        snprintf(b[0].src, sizeof b[0].src, "%s", rootfs);
        snprintf(b[0].dst, sizeof b[0].dst, "/%s/%s/rootfs", MEMBERS, id);
        r = make_point(rootfs, dfd, "rootfs", "rootfs", err);
        k = 1;
    }
    for (size_t i = 0; r == 0 && i < spec->n_mounts; i++) {
        const struct capsa_mount *m = &spec->mounts[i];
        if (!capsa_vm_share_has(m))
            continue;
        if ((r = source_of(spec, i, bundle, b[k].src, sizeof b[k].src, err)) < 0)
            break;
        char name[32], what[48];
        snprintf(name, sizeof name, "%zu", i);
        snprintf(what, sizeof what, "mounts[%zu].source", i);
        snprintf(b[k].dst, sizeof b[k].dst, "/%s/%s/vol/%zu", MEMBERS, id, i);
        b[k].ro = has_option(m, "ro");
        r = make_point(b[k].src, vfd, name, what, err);
        k++;
    }
    if (r == 0)
        r = bind_in(ns, b, k, err);
    free(b);
    if (r < 0)
        capsa_vm_share_member_remove(sandbox_dirfd, id);
    return r;
}

void capsa_vm_share_member_remove(int sandbox_dirfd, const char *id)
{
    cleanup_close int sfd = open_dir(sandbox_dirfd, SHARE);
    cleanup_close int c = sfd < 0 ? -1 : open_dir(sfd, MEMBERS);
    /* Removing a directory that is a mount point in virtiofsd's namespace
     * (not ours) detaches that mount. */
    if (c >= 0 && capsa_id_valid(id))
        remove_member(c, id);
}
