/* image.h - what the vm level boots: the guest kernel (kernel.c: which one,
 * its release, the modules the guest needs from its module tree) and the
 * initramfs capsa builds around the guest agent (initramfs.c: a cpio "newc"
 * writer and a content-addressed cache of the images it writes).
 *
 * The default guest kernel is Debian's cloud kernel (linux-image-cloud-amd64,
 * /boot/vmlinuz-*-cloud-amd64). It has no 9p, and virtio_mmio,
 * virtio_console, fuse and virtiofs are modules, so the initramfs carries them
 * (with their dependencies from modules.dep) and a /modules.order file that
 * the agent (PID 1) loads in order. docs/vm.md says how to use another one. */
#ifndef CAPSA_LEVEL_VM_IMAGE_H
#define CAPSA_LEVEL_VM_IMAGE_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"
#include "util/sha256.h"

/* The modules the guest agent needs, in the order it needs them (their
 * dependencies are added in front of each). */
#define CAPSA_VM_MODULES                                                                           \
    {                                                                                              \
        "virtio_mmio", "virtio_console", "virtiofs", "virtio_net", NULL                            \
    }

/* ---- kernel.c ---------------------------------------------------------- */

struct capsa_vm_kernel {
    char path[PATH_MAX];   /* the bzImage QEMU loads */
    char release[128];     /* its `uname -r`, e.g. 6.1.0-57-cloud-amd64 */
    char moddir[PATH_MAX]; /* <modules_root>/<release> */
};

/* Choose the guest kernel: explicit (from capsa's configuration or an
 * annotation; may be NULL) when given, else the newest (version order)
 * <boot_dir>/vmlinuz-*-cloud-amd64. The release comes from the file name
 * vmlinuz-<release> or, failing that, from the bzImage header's version
 * string. boot_dir / modules_root NULL: /boot, /lib/modules. The module
 * directory is not required to exist here (a kernel with everything built
 * in needs none); capsa_vm_modules_resolve says when it is missing. */
int capsa_vm_kernel_find(const char *explicit_path, const char *boot_dir, const char *modules_root,
                         struct capsa_vm_kernel *k, struct capsa_err *err);

/* The release string of a bzImage (its setup header's kernel_version), the
 * first word of it, into out. -ENOEXEC via err when fd is no bzImage. */
int capsa_vm_kernel_release(int fd, const char *path, char *out, size_t outlen,
                            struct capsa_err *err);

struct capsa_vm_module {
    char *src;  /* host path: <moddir>/<rel> (may end in .xz, .zst, .gz) */
    char *dest; /* path in the initramfs: /lib/modules/<release>/<rel without compression suffix> */
};

struct capsa_vm_modules {
    struct capsa_vm_module *v;
    size_t n;
};

/* The modules named in wanted (NULL-terminated, '-' and '_' alike) and all
 * their dependencies from <moddir>/modules.dep, in load order (each module
 * after everything it depends on, each once). A module listed in
 * modules.builtin is skipped. Errors name modules.dep or the missing module. */
int capsa_vm_modules_resolve(const struct capsa_vm_kernel *k, const char *const *wanted,
                             struct capsa_vm_modules *out, struct capsa_err *err);
void capsa_vm_modules_free(struct capsa_vm_modules *m);

/* ---- initramfs.c ------------------------------------------------------- */

/* A cpio "newc" (SVR4, no CRC) writer into an fd. Entries carry uid/gid 0,
 * mtime 0 and inode numbers counting from 1, so the same input gives the
 * same bytes. The running SHA-256 of what was written is kept in hash. */
struct capsa_cpio {
    int fd;
    uint64_t off;
    uint32_t ino;
    struct capsa_sha256 hash;
};

void capsa_cpio_init(struct capsa_cpio *w, int fd);
/* One entry: mode carries the type (S_IFREG, S_IFDIR, S_IFCHR, S_IFLNK);
 * data/len are a regular file's content or a symlink's target; rmajor and
 * rminor a device's number. name is relative ("init", "dev/console"): a
 * leading '/', an empty name, a ".." component or a name over PATH_MAX is
 * refused (-EINVAL naming it). */
int capsa_cpio_add(struct capsa_cpio *w, const char *name, mode_t mode, const void *data,
                   size_t len, unsigned rmajor, unsigned rminor, struct capsa_err *err);
/* The TRAILER!!! entry, then zero padding to a 512-byte multiple. */
int capsa_cpio_finish(struct capsa_cpio *w, struct capsa_err *err);

/* Write the guest's initramfs to fd: the directories the agent needs
 * (dev, proc, sys, run, tmp, mnt), dev/console (5,1), init_path's content as
 * /init (0755), each module (decompressed) at its dest, and /modules.order
 * (one absolute dest per line, in load order). */
int capsa_vm_initramfs_write(int fd, const char *init_path, const struct capsa_vm_modules *mods,
                             struct capsa_err *err);

/* The initramfs for (init_path, mods) from cache_dir (NULL:
 * /var/cache/capsa/vm, made 0700 when missing), building it on a miss. The
 * cache file is <cache_dir>/<sha256 of the inputs' contents>.cpio (0644),
 * written to a temporary name and renamed, with a <same>.sha256 file holding
 * the image's own hash; a cached image whose content no longer matches it
 * is rebuilt. *out_path (heap) is the image; *rebuilt tells whether this
 * call wrote it (may be NULL). The cache keeps the CAPSA_VM_CACHE_KEEP most
 * recently used images (each get marks its image used) and removes the
 * rest. */
#define CAPSA_VM_CACHE_KEEP 4
int capsa_vm_initramfs_get(const char *cache_dir, const char *init_path,
                           const struct capsa_vm_modules *mods, char **out_path, int *rebuilt,
                           struct capsa_err *err);

#endif
