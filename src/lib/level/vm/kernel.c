/* kernel.c - the guest kernel of the vm level: which image to boot, its
 * release, and the modules (with their dependencies) the initramfs must
 * carry from its module tree. Reads files only; runs nothing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "level/vm/image.h"
#include "util/util.h"

#define DEFAULT_BOOT    "/boot"
#define DEFAULT_MODULES "/lib/modules"
#define CLOUD_PREFIX    "vmlinuz-"
#define CLOUD_SUFFIX    "-cloud-amd64"
/* modules.dep of a distribution kernel is ~1 MiB. */
#define MODDEP_MAX (32u << 20)

/* The bzImage setup header (Documentation/arch/x86/boot.rst). */
#define HDR_MAGIC_OFF   0x202
#define HDR_VERSION_OFF 0x206
#define HDR_KVER_OFF    0x20e
#define HDR_BASE        0x200

static bool release_ok(const char *r)
{
    if (r[0] == '\0' || strcmp(r, ".") == 0 || strcmp(r, "..") == 0)
        return false;
    for (const char *p = r; *p; p++)
        if (*p == '/' || *p <= ' ' || *p > '~')
            return false;
    return true;
}

int capsa_vm_kernel_release(int fd, const char *path, char *out, size_t outlen,
                            struct capsa_err *err)
{
    unsigned char h[0x210];
    ssize_t n = pread(fd, h, sizeof(h), 0);
    if (n < 0)
        return capsa_err_set(err, errno, "guest kernel %s: read", path);
    if ((size_t)n < sizeof(h) || memcmp(h + HDR_MAGIC_OFF, "HdrS", 4) != 0)
        return capsa_err_setx(err, ENOEXEC, "guest kernel %s: not a bzImage (no HdrS header)",
                              path);
    unsigned version = h[HDR_VERSION_OFF] | (unsigned)h[HDR_VERSION_OFF + 1] << 8;
    unsigned ptr = h[HDR_KVER_OFF] | (unsigned)h[HDR_KVER_OFF + 1] << 8;
    if (version < 0x200 || ptr == 0)
        return capsa_err_setx(err, ENOEXEC, "guest kernel %s: its header has no version string",
                              path);
    char s[256];
    n = pread(fd, s, sizeof(s) - 1, HDR_BASE + (off_t)ptr);
    if (n <= 0)
        return capsa_err_set(err, n < 0 ? errno : ENOEXEC,
                             "guest kernel %s: reading its version string", path);
    s[n] = '\0';
    s[strcspn(s, " \n")] = '\0';
    if (!release_ok(s) || strlen(s) >= outlen)
        return capsa_err_setx(err, ENOEXEC, "guest kernel %s: unusable version string", path);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

/* The newest <boot>/vmlinuz-*-cloud-amd64 by version order, into name. */
static int newest_cloud(const char *boot, char *name, size_t len, struct capsa_err *err)
{
    cleanup_dir DIR *d = opendir(boot);
    if (d == NULL)
        return capsa_err_set(err, errno,
                             "no guest kernel: cannot read %s (install linux-image-cloud-amd64 "
                             "or give a kernel path)",
                             boot);
    name[0] = '\0';
    const struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= strlen(CLOUD_PREFIX) + strlen(CLOUD_SUFFIX) ||
            strncmp(e->d_name, CLOUD_PREFIX, strlen(CLOUD_PREFIX)) != 0 ||
            strcmp(e->d_name + l - strlen(CLOUD_SUFFIX), CLOUD_SUFFIX) != 0 || l >= len)
            continue;
        if (name[0] == '\0' || strverscmp(e->d_name, name) > 0)
            memcpy(name, e->d_name, l + 1);
    }
    if (name[0] == '\0')
        return capsa_err_setx(err, ENOENT,
                              "no guest kernel: no %s/" CLOUD_PREFIX "*" CLOUD_SUFFIX
                              " (install linux-image-cloud-amd64, or give a kernel path)",
                              boot);
    return 0;
}

int capsa_vm_kernel_find(const char *explicit_path, const char *boot_dir, const char *modules_root,
                         struct capsa_vm_kernel *k, struct capsa_err *err)
{
    const char *boot = boot_dir ? boot_dir : DEFAULT_BOOT;
    const char *mods = modules_root ? modules_root : DEFAULT_MODULES;
    memset(k, 0, sizeof(*k));

    int n;
    if (explicit_path != NULL && explicit_path[0] != '\0') {
        if (explicit_path[0] != '/')
            return capsa_err_setx(err, EINVAL, "guest kernel %s: not an absolute path",
                                  explicit_path);
        n = snprintf(k->path, sizeof(k->path), "%s", explicit_path);
    } else {
        char name[256];
        int r = newest_cloud(boot, name, sizeof(name), err);
        if (r < 0)
            return r;
        n = snprintf(k->path, sizeof(k->path), "%s/%s", boot, name);
    }
    if (n < 0 || (size_t)n >= sizeof(k->path))
        return capsa_err_setx(err, ENAMETOOLONG, "guest kernel path too long");

    cleanup_close int fd = open(k->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return capsa_err_set(err, errno, "guest kernel %s", k->path);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return capsa_err_set(err, errno, "guest kernel %s", k->path);
    if (!S_ISREG(st.st_mode))
        return capsa_err_setx(err, EINVAL, "guest kernel %s: not a regular file", k->path);

    /* vmlinuz-<release> names its release; any other name: ask the image. */
    const char *base = strrchr(k->path, '/') + 1;
    if (strncmp(base, CLOUD_PREFIX, strlen(CLOUD_PREFIX)) == 0 &&
        release_ok(base + strlen(CLOUD_PREFIX)) &&
        strlen(base + strlen(CLOUD_PREFIX)) < sizeof(k->release)) {
        snprintf(k->release, sizeof(k->release), "%s", base + strlen(CLOUD_PREFIX));
    } else {
        int r = capsa_vm_kernel_release(fd, k->path, k->release, sizeof(k->release), err);
        if (r < 0)
            return r;
    }
    n = snprintf(k->moddir, sizeof(k->moddir), "%s/%s", mods, k->release);
    if (n < 0 || (size_t)n >= sizeof(k->moddir))
        return capsa_err_setx(err, ENAMETOOLONG, "guest kernel %s: module path too long", k->path);
    return 0;
}

/* ---- modules ------------------------------------------------------------ */

struct dep_entry {
    char *rel;  /* path relative to moddir (inside the modules.dep buffer) */
    char *deps; /* space separated, inside the buffer */
    int mark;   /* 0 unseen, 1 in progress, 2 emitted */
};

struct dep_table {
    struct dep_entry *v;
    size_t n;
};

static void dep_table_free(struct dep_table *t)
{
    free(t->v);
    t->v = NULL;
}

static const char *const COMPRESS_SUFFIX[] = {".xz", ".zst", ".gz"};

/* Does rel (kernel/fs/fuse/virtiofs.ko[.xz]) name module name (virtiofs)? */
static bool rel_is(const char *rel, const char *name)
{
    const char *b = strrchr(rel, '/');
    b = b ? b + 1 : rel;
    size_t nl = strlen(name);
    for (size_t i = 0; i < nl; i++) {
        int a = b[i] == '-' ? '_' : b[i], c = name[i] == '-' ? '_' : name[i];
        if (a == '\0' || a != c)
            return false;
    }
    const char *rest = b + nl;
    if (strncmp(rest, ".ko", 3) != 0)
        return false;
    rest += 3;
    if (*rest == '\0')
        return true;
    for (size_t i = 0; i < ARRAY_SIZE(COMPRESS_SUFFIX); i++)
        if (strcmp(rest, COMPRESS_SUFFIX[i]) == 0)
            return true;
    return false;
}

static struct dep_entry *dep_find_rel(struct dep_table *t, const char *rel, size_t len)
{
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->v[i].rel) == len && memcmp(t->v[i].rel, rel, len) == 0)
            return &t->v[i];
    return NULL;
}

static int parse_moddep(char *buf, const char *path, struct dep_table *t, struct capsa_err *err)
{
    size_t cap = 0;
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        char *colon = strchr(line, ':');
        if (colon == NULL)
            return capsa_err_setx(err, EINVAL, "%s: line without ':': %.80s", path, line);
        *colon = '\0';
        if (t->n == cap) {
            cap = cap ? 2 * cap : 1024;
            struct dep_entry *v = realloc(t->v, cap * sizeof(*v));
            if (v == NULL)
                return capsa_err_set(err, ENOMEM, "%s", path);
            t->v = v;
        }
        char *deps = colon + 1;
        while (*deps == ' ')
            deps++;
        t->v[t->n++] = (struct dep_entry){.rel = line, .deps = deps, .mark = 0};
    }
    return 0;
}

static int add_module(const struct capsa_vm_kernel *k, const char *rel,
                      struct capsa_vm_modules *out, struct capsa_err *err)
{
    struct capsa_vm_module *v = realloc(out->v, (out->n + 1) * sizeof(*v));
    if (v == NULL)
        return capsa_err_set(err, ENOMEM, "module list");
    out->v = v;
    struct capsa_vm_module *m = &out->v[out->n];
    m->src = m->dest = NULL;
    size_t l = strlen(rel);
    for (size_t i = 0; i < ARRAY_SIZE(COMPRESS_SUFFIX); i++) {
        size_t sl = strlen(COMPRESS_SUFFIX[i]);
        if (l > sl && strcmp(rel + l - sl, COMPRESS_SUFFIX[i]) == 0) {
            l -= sl;
            break;
        }
    }
    if (capsa_asprintf(&m->src, err, "%s/%s", k->moddir, rel) < 0 ||
        capsa_asprintf(&m->dest, err, "/lib/modules/%s/%.*s", k->release, (int)l, rel) < 0) {
        free(m->src);
        return capsa_err_ret(err);
    }
    out->n++;
    return 0;
}

/* How deep dependencies may nest (a real tree is under 10 deep). */
#define DEP_DEPTH 64

/* Emit e after everything it depends on. modules.dep lists each module's
 * whole dependency closure, but not in load order, so each dependency is
 * itself expanded first. */
// NOLINTNEXTLINE(misc-no-recursion): depth <= DEP_DEPTH
static int emit(const struct capsa_vm_kernel *k, struct dep_table *t, struct dep_entry *e,
                const char *dep_path, int depth, struct capsa_vm_modules *out,
                struct capsa_err *err)
{
    if (e->mark == 2)
        return 0;
    if (depth > DEP_DEPTH)
        return capsa_err_setx(err, ELOOP, "%s: dependencies of %s nest too deep", dep_path, e->rel);
    if (e->mark == 1)
        return capsa_err_setx(err, ELOOP, "%s: dependency cycle through %s", dep_path, e->rel);
    e->mark = 1;
    for (const char *p = e->deps; *p;) {
        size_t len = strcspn(p, " \t");
        if (len > 0) {
            struct dep_entry *d = dep_find_rel(t, p, len);
            if (d == NULL)
                return capsa_err_setx(err, ENOENT, "%s: %s depends on %.*s, which has no entry",
                                      dep_path, e->rel, (int)len, p);
            int r = emit(k, t, d, dep_path, depth + 1, out, err);
            if (r < 0)
                return r;
        }
        p += len;
        p += strspn(p, " \t");
    }
    e->mark = 2;
    return add_module(k, e->rel, out, err);
}

static bool builtin(const char *list, const char *name)
{
    if (list == NULL)
        return false;
    char rel[PATH_MAX];
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, "\n");
        if (len < sizeof(rel)) {
            memcpy(rel, p, len);
            rel[len] = '\0';
            if (rel_is(rel, name))
                return true;
        }
        p += len;
        p += *p == '\n';
    }
    return false;
}

int capsa_vm_modules_resolve(const struct capsa_vm_kernel *k, const char *const *wanted,
                             struct capsa_vm_modules *out, struct capsa_err *err)
{
    out->v = NULL;
    out->n = 0;
    cleanup_free char *dep_path = NULL, *builtin_path = NULL, *buf = NULL, *blt = NULL;
    if (capsa_asprintf(&dep_path, err, "%s/modules.dep", k->moddir) < 0 ||
        capsa_asprintf(&builtin_path, err, "%s/modules.builtin", k->moddir) < 0)
        return capsa_err_ret(err);
    int r = capsa_read_file_at(AT_FDCWD, dep_path, MODDEP_MAX, &buf, NULL, err);
    if (r < 0)
        return capsa_err_wrap(err, "modules of guest kernel %s (release %s)", k->path, k->release);
    struct capsa_err ignored;
    if (capsa_read_file_at(AT_FDCWD, builtin_path, MODDEP_MAX, &blt, NULL, &ignored) < 0)
        blt = NULL; /* optional: without it nothing counts as built in */

    struct dep_table t = {0};
    r = parse_moddep(buf, dep_path, &t, err);
    for (size_t w = 0; r == 0 && wanted[w] != NULL; w++) {
        struct dep_entry *e = NULL;
        for (size_t i = 0; i < t.n && e == NULL; i++)
            if (rel_is(t.v[i].rel, wanted[w]))
                e = &t.v[i];
        if (e == NULL) {
            if (builtin(blt, wanted[w]))
                continue;
            r = capsa_err_setx(err, ENOENT,
                               "guest kernel %s: module %s is neither in %s nor built in", k->path,
                               wanted[w], dep_path);
            break;
        }
        r = emit(k, &t, e, dep_path, 0, out, err);
    }
    dep_table_free(&t);
    if (r < 0)
        capsa_vm_modules_free(out);
    return r;
}

void capsa_vm_modules_free(struct capsa_vm_modules *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].src);
        free(m->v[i].dest);
    }
    free(m->v);
    m->v = NULL;
    m->n = 0;
}
