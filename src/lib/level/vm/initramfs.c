/* initramfs.c - the vm guest's initramfs: a cpio "newc" writer (the format
 * the kernel unpacks, Documentation/driver-api/early-userspace/buffer-format.rst)
 * and a cache of the images, keyed by the SHA-256 of every input's content,
 * so that a second create reuses the image instead of rebuilding it.
 *
 * The image holds the guest agent as /init (PID 1), the kernel modules it
 * must load (decompressed here: Debian's 6.1 kernels lack
 * CONFIG_MODULE_DECOMPRESS, so finit_module cannot take a compressed file)
 * and /modules.order, the absolute paths of those modules in load order. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "level/vm/image.h"
#include "util/util.h"

#define CACHE_DEFAULT "/var/cache/capsa/vm"
#define INPUT_MAX     (256u << 20)
/* Bumped whenever the layout written below changes, so old images miss. */
#define FORMAT_TAG "capsa-vm-initramfs-1"

/* ---- cpio newc -------------------------------------------------------- */

void capsa_cpio_init(struct capsa_cpio *w, int fd)
{
    w->fd = fd;
    w->off = 0;
    w->ino = 0;
    capsa_sha256_init(&w->hash);
}

static int put(struct capsa_cpio *w, const void *p, size_t len, struct capsa_err *err)
{
    int r = capsa_write_all(w->fd, p, len);
    if (r < 0)
        return capsa_err_set(err, -r, "initramfs: write");
    capsa_sha256_update(&w->hash, p, len);
    w->off += len;
    return 0;
}

static int pad(struct capsa_cpio *w, unsigned align, struct capsa_err *err)
{
    static const char zero[512];
    size_t n = (size_t)((align - w->off % align) % align);
    return n ? put(w, zero, n, err) : 0;
}

static int check_name(const char *name, struct capsa_err *err)
{
    size_t len = strlen(name);
    if (len == 0 || len >= PATH_MAX || name[0] == '/')
        return capsa_err_setx(err, EINVAL, "initramfs: bad entry name \"%s\"", name);
    /* Components separated by single slashes, none empty, "." or "..". */
    for (const char *p = name;;) {
        size_t c = strcspn(p, "/");
        if (c == 0 || (c == 2 && p[0] == '.' && p[1] == '.') || (c == 1 && p[0] == '.'))
            return capsa_err_setx(err, EINVAL, "initramfs: bad entry name \"%s\"", name);
        p += c;
        if (*p == '\0')
            break;
        p++;
    }
    return 0;
}

static int header(struct capsa_cpio *w, const char *name, mode_t mode, size_t len, unsigned rmaj,
                  unsigned rmin, struct capsa_err *err)
{
    if (len > 0xffffffffu)
        return capsa_err_setx(err, EFBIG, "initramfs: %s: larger than 4 GiB", name);
    char h[111];
    unsigned nlink = S_ISDIR(mode) ? 2 : 1;
    int n = snprintf(h, sizeof(h), "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
                     ++w->ino, (unsigned)mode, 0u, 0u, nlink, 0u, (unsigned)len, 0u, 0u, rmaj, rmin,
                     (unsigned)strlen(name) + 1, 0u);
    if (n != 110)
        return capsa_err_setx(err, EINVAL, "initramfs: %s: header overflow", name);
    int r = put(w, h, 110, err);
    if (r == 0)
        r = put(w, name, strlen(name) + 1, err);
    if (r == 0)
        r = pad(w, 4, err);
    return r;
}

int capsa_cpio_add(struct capsa_cpio *w, const char *name, mode_t mode, const void *data,
                   size_t len, unsigned rmajor, unsigned rminor, struct capsa_err *err)
{
    int r = check_name(name, err);
    if (r < 0)
        return r;
    if (!S_ISREG(mode) && !S_ISLNK(mode))
        len = 0;
    r = header(w, name, mode, len, rmajor, rminor, err);
    if (r == 0 && len > 0) {
        r = put(w, data, len, err);
        if (r == 0)
            r = pad(w, 4, err);
    }
    return r;
}

int capsa_cpio_finish(struct capsa_cpio *w, struct capsa_err *err)
{
    int r = header(w, "TRAILER!!!", 0, 0, 0, 0, err);
    return r < 0 ? r : pad(w, 512, err);
}

/* ---- inputs ----------------------------------------------------------- */

struct blob {
    char *data;
    size_t len;
};

struct inputs {
    struct blob init;
    struct blob *mods; /* parallel to capsa_vm_modules.v */
    size_t n;
};

static void inputs_free(struct inputs *in)
{
    free(in->init.data);
    for (size_t i = 0; in->mods != NULL && i < in->n; i++)
        free(in->mods[i].data);
    free(in->mods);
    memset(in, 0, sizeof(*in));
}

static const char *decompressor(const char *path)
{
    size_t l = strlen(path);
    if (l > 3 && strcmp(path + l - 3, ".xz") == 0)
        return "/usr/bin/xz";
    if (l > 4 && strcmp(path + l - 4, ".zst") == 0)
        return "/usr/bin/zstd";
    if (l > 3 && strcmp(path + l - 3, ".gz") == 0)
        return "/bin/gzip";
    return NULL;
}

/* Run `tool -dc <path` into a memfd and read it back. */
static int decompress(const char *tool, const char *path, struct blob *out, struct capsa_err *err)
{
    cleanup_close int in = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (in < 0)
        return capsa_err_set(err, errno, "kernel module %s", path);
    cleanup_close int mem = memfd_create("capsa-module", MFD_CLOEXEC);
    if (mem < 0)
        return capsa_err_set(err, errno, "kernel module %s: memfd", path);
    posix_spawn_file_actions_t fa;
    if (posix_spawn_file_actions_init(&fa) != 0)
        return capsa_err_set(err, ENOMEM, "kernel module %s", path);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, mem, 1);
    char *const argv[] = {(char *)tool, (char *)"-dc", NULL};
    char *const envp[] = {NULL};
    pid_t pid;
    int r = posix_spawn(&pid, tool, &fa, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        return capsa_err_set(err, r, "kernel module %s: running %s to decompress it", path, tool);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return capsa_err_set(err, errno, "kernel module %s: waiting for %s", path, tool);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return capsa_err_setx(err, EIO, "kernel module %s: %s -dc failed (status %d)", path, tool,
                              st);
    off_t size = lseek(mem, 0, SEEK_END);
    if (size < 0 || (uint64_t)size > INPUT_MAX)
        return capsa_err_setx(err, EFBIG, "kernel module %s: decompressed size out of range", path);
    out->data = malloc((size_t)size + 1);
    if (out->data == NULL)
        return capsa_err_set(err, ENOMEM, "kernel module %s", path);
    ssize_t n = pread(mem, out->data, (size_t)size, 0);
    if (n != size) {
        free(out->data);
        out->data = NULL;
        return capsa_err_set(err, n < 0 ? errno : EIO, "kernel module %s: reading back", path);
    }
    out->len = (size_t)size;
    return 0;
}

static int load_inputs(const char *init_path, const struct capsa_vm_modules *mods,
                       struct inputs *in, struct capsa_err *err)
{
    memset(in, 0, sizeof(*in));
    int r = capsa_read_file_at(AT_FDCWD, init_path, INPUT_MAX, &in->init.data, &in->init.len, err);
    if (r < 0)
        return capsa_err_wrap(err, "guest agent");
    if (in->init.len == 0) {
        inputs_free(in);
        return capsa_err_setx(err, ENOEXEC, "guest agent %s: empty file", init_path);
    }
    if (mods->n > 0) {
        in->mods = calloc(mods->n, sizeof(*in->mods));
        if (in->mods == NULL) {
            inputs_free(in);
            return capsa_err_set(err, ENOMEM, "initramfs inputs");
        }
        in->n = mods->n;
    }
    for (size_t i = 0; i < in->n; i++) {
        const char *tool = decompressor(mods->v[i].src);
        r = tool ? decompress(tool, mods->v[i].src, &in->mods[i], err)
                 : capsa_read_file_at(AT_FDCWD, mods->v[i].src, INPUT_MAX, &in->mods[i].data,
                                      &in->mods[i].len, err);
        if (r < 0) {
            inputs_free(in);
            return tool ? r : capsa_err_wrap(err, "kernel module");
        }
    }
    return 0;
}

/* ---- the image -------------------------------------------------------- */

/* Emit each directory above name (relative) that was not emitted yet. */
static int parents(struct capsa_cpio *w, const char *name, char ***done, size_t *ndone,
                   struct capsa_err *err)
{
    char dir[PATH_MAX];
    for (const char *s = strchr(name, '/'); s; s = strchr(s + 1, '/')) {
        size_t l = (size_t)(s - name);
        if (l >= sizeof(dir))
            return capsa_err_setx(err, ENAMETOOLONG, "initramfs: %s", name);
        memcpy(dir, name, l);
        dir[l] = '\0';
        bool seen = false;
        for (size_t i = 0; i < *ndone && !seen; i++)
            seen = strcmp((*done)[i], dir) == 0;
        if (seen)
            continue;
        char **v = realloc(*done, (*ndone + 1) * sizeof(*v));
        if (v == NULL)
            return capsa_err_set(err, ENOMEM, "initramfs");
        *done = v;
        if ((v[*ndone] = strdup(dir)) == NULL)
            return capsa_err_set(err, ENOMEM, "initramfs");
        (*ndone)++;
        int r = capsa_cpio_add(w, dir, S_IFDIR | 0755, NULL, 0, 0, 0, err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int write_image(int fd, const struct capsa_vm_modules *mods, const struct inputs *in,
                       uint8_t digest[CAPSA_SHA256_LEN], struct capsa_err *err)
{
    static const struct {
        const char *name;
        mode_t mode;
    } dirs[] = {{"dev", 0755}, {"proc", 0555}, {"sys", 0555},
                {"run", 0755}, {"tmp", 01777}, {"mnt", 0755}};
    struct capsa_cpio w;
    capsa_cpio_init(&w, fd);
    char **done = NULL;
    size_t ndone = 0;
    cleanup_free char *order = NULL;
    size_t olen = 0;
    int r = 0;
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(dirs); i++)
        r = capsa_cpio_add(&w, dirs[i].name, S_IFDIR | dirs[i].mode, NULL, 0, 0, 0, err);
    /* The kernel opens /dev/console for PID 1 before any devtmpfs exists. */
    if (r == 0)
        r = capsa_cpio_add(&w, "dev/console", S_IFCHR | 0600, NULL, 0, 5, 1, err);
    if (r == 0)
        r = capsa_cpio_add(&w, "init", S_IFREG | 0755, in->init.data, in->init.len, 0, 0, err);
    for (size_t i = 0; r == 0 && i < mods->n; i++) {
        const char *name = mods->v[i].dest + 1;
        r = parents(&w, name, &done, &ndone, err);
        if (r == 0)
            r = capsa_cpio_add(&w, name, S_IFREG | 0644, in->mods[i].data, in->mods[i].len, 0, 0,
                               err);
        size_t dl = strlen(mods->v[i].dest);
        char *o = r == 0 ? realloc(order, olen + dl + 2) : NULL;
        if (r == 0 && o == NULL)
            r = capsa_err_set(err, ENOMEM, "initramfs");
        if (r == 0) {
            order = o;
            memcpy(order + olen, mods->v[i].dest, dl);
            order[olen + dl] = '\n';
            olen += dl + 1;
        }
    }
    if (r == 0)
        r = capsa_cpio_add(&w, "modules.order", S_IFREG | 0644, order ? order : "", olen, 0, 0,
                           err);
    if (r == 0)
        r = capsa_cpio_finish(&w, err);
    if (r == 0)
        capsa_sha256_final(&w.hash, digest);
    for (size_t i = 0; i < ndone; i++)
        free(done[i]);
    free(done);
    return r;
}

int capsa_vm_initramfs_write(int fd, const char *init_path, const struct capsa_vm_modules *mods,
                             struct capsa_err *err)
{
    struct inputs in;
    int r = load_inputs(init_path, mods, &in, err);
    if (r < 0)
        return r;
    uint8_t d[CAPSA_SHA256_LEN];
    r = write_image(fd, mods, &in, d, err);
    inputs_free(&in);
    return r;
}

/* ---- cache ------------------------------------------------------------ */

static void key_of(const struct capsa_vm_modules *mods, const struct inputs *in,
                   char hex[CAPSA_SHA256_HEX])
{
    struct capsa_sha256 s;
    uint8_t d[CAPSA_SHA256_LEN];
    capsa_sha256_init(&s);
    capsa_sha256_update(&s, FORMAT_TAG, sizeof(FORMAT_TAG));
    capsa_sha256_update(&s, in->init.data, in->init.len);
    /* Each part's hash, not its bytes, goes into the key: a boundary between
     * two inputs cannot move without changing it. */
    for (size_t i = 0; i < mods->n; i++) {
        struct capsa_sha256 m;
        capsa_sha256_init(&m);
        capsa_sha256_update(&m, in->mods[i].data, in->mods[i].len);
        capsa_sha256_final(&m, d);
        capsa_sha256_update(&s, mods->v[i].dest, strlen(mods->v[i].dest) + 1);
        capsa_sha256_update(&s, d, sizeof(d));
    }
    capsa_sha256_final(&s, d);
    capsa_sha256_hex(d, hex);
}

static int mkdir_p(const char *path, struct capsa_err *err)
{
    char buf[PATH_MAX];
    if (strlen(path) >= sizeof(buf) || path[0] != '/')
        return capsa_err_setx(err, EINVAL, "initramfs cache directory %s: not an absolute path",
                              path);
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0700) < 0 && errno != EEXIST)
                return capsa_err_set(err, errno, "initramfs cache directory %s", buf);
            *p = c;
            if (c == '\0')
                break;
        }
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return capsa_err_set(err, errno ? errno : ENOTDIR, "initramfs cache directory %s", path);
    return 0;
}

/* Does path hash to the digest recorded in sum_path? */
static bool cached_ok(const char *path, const char *sum_path)
{
    struct capsa_err ignored;
    cleanup_free char *want = NULL;
    if (capsa_read_file_at(AT_FDCWD, sum_path, 256, &want, NULL, &ignored) < 0)
        return false;
    want[strcspn(want, "\n")] = '\0';
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    struct capsa_sha256 s;
    capsa_sha256_init(&s);
    char buf[65536];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        capsa_sha256_update(&s, buf, (size_t)n);
    if (n < 0)
        return false;
    uint8_t d[CAPSA_SHA256_LEN];
    char hex[CAPSA_SHA256_HEX];
    capsa_sha256_final(&s, d);
    capsa_sha256_hex(d, hex);
    return strcmp(hex, want) == 0;
}

/* Write data (or, with inputs, the image) to a temporary file next to path
 * and rename it over path: readers see the old file or the whole new one. */
static int write_atomic(const char *path, const char *data, const struct capsa_vm_modules *mods,
                        const struct inputs *in, uint8_t digest[CAPSA_SHA256_LEN],
                        struct capsa_err *err)
{
    cleanup_free char *tmp = NULL;
    if (capsa_asprintf(&tmp, err, "%s.tmp.XXXXXX", path) < 0)
        return capsa_err_ret(err);
    cleanup_close int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "initramfs cache: create %s", tmp);
    int r = in ? write_image(fd, mods, in, digest, err)
            : capsa_write_all(fd, data, strlen(data)) < 0
                ? capsa_err_set(err, errno, "initramfs cache: write %s", tmp)
                : 0;
    if (r == 0 && fchmod(fd, 0644) < 0)
        r = capsa_err_set(err, errno, "initramfs cache: chmod %s", tmp);
    if (r == 0 && fsync(fd) < 0)
        r = capsa_err_set(err, errno, "initramfs cache: fsync %s", tmp);
    if (r == 0 && rename(tmp, path) < 0)
        r = capsa_err_set(err, errno, "initramfs cache: rename to %s", path);
    if (r < 0)
        unlink(tmp);
    return r;
}

/* Keep the CAPSA_VM_CACHE_KEEP most recently used images of dir (an image
 * is used when got: capsa_vm_initramfs_get touches it); remove the others
 * and their .sha256. Best effort: a failure only leaves a file behind. An
 * image a VM booted from can go: QEMU has read it into guest memory. */
static void evict(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct old {
        char name[CAPSA_SHA256_HEX + 8];
        struct timespec used;
    } v[64];
    memset(v, 0, sizeof v);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < ARRAY_SIZE(v)) {
        size_t len = strlen(de->d_name);
        struct stat st;
        if (len != CAPSA_SHA256_HEX - 1 + 5 || strcmp(de->d_name + len - 5, ".cpio") != 0 ||
            fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue;
        memcpy(v[n].name, de->d_name, len + 1); /* len + 1 <= sizeof name: checked above */
        v[n].used = st.st_mtim;
        n++;
    }
    /* Newest first (a few dozen entries at most: insertion sort). */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0; j--) {
            struct timespec a = v[j - 1].used, b = v[j].used;
            if (a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec >= b.tv_nsec))
                break;
            struct old t = v[j - 1];
            v[j - 1] = v[j];
            v[j] = t;
        }
    for (size_t i = CAPSA_VM_CACHE_KEEP; i < n; i++) {
        char sum[sizeof v[i].name + 8];
        (void)unlinkat(dirfd(d), v[i].name, 0);
        snprintf(sum, sizeof sum, "%.*s.sha256", CAPSA_SHA256_HEX - 1, v[i].name);
        (void)unlinkat(dirfd(d), sum, 0);
    }
    closedir(d);
}

int capsa_vm_initramfs_get(const char *cache_dir, const char *init_path,
                           const struct capsa_vm_modules *mods, char **out_path, int *rebuilt,
                           struct capsa_err *err)
{
    const char *dir = cache_dir ? cache_dir : CACHE_DEFAULT;
    *out_path = NULL;
    if (rebuilt)
        *rebuilt = 0;
    struct inputs in;
    int r = load_inputs(init_path, mods, &in, err);
    if (r < 0)
        return r;
    char key[CAPSA_SHA256_HEX];
    key_of(mods, &in, key);
    cleanup_free char *path = NULL, *sum = NULL;
    r = mkdir_p(dir, err);
    if (r == 0 && (capsa_asprintf(&path, err, "%s/%s.cpio", dir, key) < 0 ||
                   capsa_asprintf(&sum, err, "%s/%s.sha256", dir, key) < 0))
        r = capsa_err_ret(err);
    if (r == 0 && !cached_ok(path, sum)) {
        uint8_t d[CAPSA_SHA256_LEN];
        r = write_atomic(path, NULL, mods, &in, d, err);
        if (r == 0) {
            char hex[CAPSA_SHA256_HEX + 1];
            capsa_sha256_hex(d, hex);
            hex[CAPSA_SHA256_HEX - 1] = '\n';
            hex[CAPSA_SHA256_HEX] = '\0';
            r = write_atomic(sum, hex, NULL, NULL, NULL, err);
        }
        if (r == 0 && rebuilt)
            *rebuilt = 1;
    } else if (r == 0) {
        /* Used now: the eviction keeps the recently used. */
        (void)utimensat(AT_FDCWD, path, NULL, 0);
    }
    if (r == 0)
        evict(dir);
    inputs_free(&in);
    if (r == 0)
        *out_path = steal_ptr(path);
    return r;
}
