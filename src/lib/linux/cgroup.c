/* cgroup.c - control groups on any layout (pure v1, pure v2, hybrid): host
 * detection from mountinfo and /proc/self/cgroup, resolution of
 * linux.cgroupsPath to one directory per hierarchy, the state-file encoding,
 * creation (mkdir -p, v1 cpuset inheritance, v2 subtree_control), entering,
 * listing, signalling, freezing and destroying. Resource values are written by
 * cgroup_res.c, statistics read by cgroup_stats.c.
 *
 * Security: every file is opened relative to a directory fd with O_NOFOLLOW
 * and O_CLOEXEC, and directories are walked component by component with
 * O_NOFOLLOW, so a symlink planted inside a (possibly delegated) cgroup tree
 * cannot redirect our writes elsewhere. */
#include "linux/cgroup.h"
#include "linux/cgroup_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sys/sys.h"
#include "util/util.h"

/* ---------------- small shared helpers ---------------- */

bool capsa_cg_has(char *const *ctrls, const char *ctrl)
{
    for (size_t i = 0; ctrls != NULL && ctrls[i] != NULL; i++)
        if (strcmp(ctrls[i], ctrl) == 0)
            return true;
    return false;
}

const struct capsa_cgroup_dir *capsa_cg_dir_for(const struct capsa_cgroup *cg, const char *ctrl)
{
    for (size_t i = 0; cg != NULL && i < cg->n; i++)
        if (capsa_cg_has(cg->d[i].controllers, ctrl))
            return &cg->d[i];
    return NULL;
}

const struct capsa_cgroup_dir *capsa_cg_v2_dir(const struct capsa_cgroup *cg)
{
    for (size_t i = 0; cg != NULL && i < cg->n; i++)
        if (cg->d[i].v2)
            return &cg->d[i];
    return NULL;
}

int capsa_cg_open_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int capsa_cg_read(int dirfd, const char *file, char **out)
{
    cleanup_close int fd = openat(dirfd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    char *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= (16u << 20)) {
                free(buf);
                return -EFBIG;
            }
            size_t ncap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, ncap);
            if (nb == NULL) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int saved = errno;
            free(buf);
            return -saved;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    *out = buf;
    return 0;
}

int capsa_cg_write(int dirfd, const char *file, const char *val)
{
    /* O_TRUNC as runc does: harmless on cgroupfs, right on a plain file */
    cleanup_close int fd =
        openat(dirfd, file, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    /* cgroup files take one value per write(2): never split it. */
    size_t len = strlen(val);
    ssize_t w;
    do
        w = write(fd, val, len);
    while (w < 0 && errno == EINTR);
    if (w < 0)
        return -errno;
    if ((size_t)w != len)
        return -EIO;
    return 0;
}

bool capsa_cg_exists(int dirfd, const char *file)
{
    struct stat st;
    return fstatat(dirfd, file, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

int capsa_cg_parse_u64(const char *s, uint64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    if (strncmp(s, "max", 3) == 0) {
        *out = UINT64_MAX;
        s += 3;
    } else {
        if (!isdigit((unsigned char)*s))
            return -EINVAL;
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0)
            return -ERANGE;
        *out = v;
        s = end;
    }
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0' ? 0 : -EINVAL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---------------- host ---------------- */

void capsa_cgroup_host_free(struct capsa_cgroup_host *host)
{
    if (host == NULL)
        return;
    for (size_t i = 0; i < host->n; i++) {
        free(host->h[i].mount);
        capsa_strv_free(host->h[i].controllers);
        free(host->h[i].self);
    }
    free(host->h);
    host->h = NULL;
    host->n = 0;
}

static int strv_push(char ***v, size_t *n, const char *s, size_t len)
{
    char **nv = realloc(*v, (*n + 2) * sizeof(char *));
    if (nv == NULL)
        return -ENOMEM;
    *v = nv;
    nv[*n] = strndup(s, len);
    if (nv[*n] == NULL)
        return -ENOMEM;
    (*n)++;
    nv[*n] = NULL;
    return 0;
}

/* Split on any of seps; empty tokens are dropped. */
static int split(const char *s, const char *seps, char ***out)
{
    char **v = calloc(1, sizeof(char *));
    size_t n = 0;
    if (v == NULL)
        return -ENOMEM;
    while (*s) {
        size_t skip = strspn(s, seps);
        s += skip;
        size_t len = strcspn(s, seps);
        if (len == 0)
            break;
        if (strv_push(&v, &n, s, len) < 0) {
            capsa_strv_free(v);
            return -ENOMEM;
        }
        s += len;
    }
    *out = v;
    return 0;
}

/* mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo. */
static char *unescape_octal(const char *s, size_t len)
{
    char *o = malloc(len + 1);
    if (o == NULL)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\' && i + 3 < len && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
            s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
            o[j++] = (char)(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
            i += 3;
        } else {
            o[j++] = s[i];
        }
    }
    o[j] = '\0';
    return o;
}

/* v1 super options that are not controllers. */
static bool v1_option(const char *o)
{
    static const char *const opts[] = {
        "rw",           "ro",   "noprefix", "clone_children", "xattr", "cpuset_v2_mode",
        "favordynmods", "none", "all"};
    for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
        if (strcmp(o, opts[i]) == 0)
            return true;
    return strchr(o, '=') != NULL && strncmp(o, "name=", 5) != 0;
}

static bool same_set(char *const *a, char *const *b)
{
    if (capsa_strv_len(a) != capsa_strv_len(b))
        return false;
    for (size_t i = 0; a[i] != NULL; i++)
        if (!capsa_cg_has(b, a[i]))
            return false;
    return true;
}

/* Whether the comma-separated list s[0..len) names exactly the set ctrls
 * (no allocation: this runs for every hierarchy and every line). */
static bool list_matches(const char *s, size_t len, char *const *ctrls)
{
    size_t items = 0;
    for (size_t i = 0; i < len;) {
        const char *c = memchr(s + i, ',', len - i);
        size_t l = c ? (size_t)(c - (s + i)) : len - i;
        if (l > 0) {
            bool found = false;
            for (size_t k = 0; ctrls[k] != NULL && !found; k++)
                found = strlen(ctrls[k]) == l && memcmp(ctrls[k], s + i, l) == 0;
            if (!found)
                return false;
            items++;
        }
        i += l + 1;
    }
    return items == capsa_strv_len(ctrls);
}

/* The caller's cgroup for hierarchy h in the text of /proc/self/cgroup. */
static const char *self_line_match(const char *line, size_t len, const struct capsa_cgroup_hier *h,
                                   size_t *plen)
{
    const char *c1 = memchr(line, ':', len);
    if (c1 == NULL)
        return NULL;
    const char *c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line));
    if (c2 == NULL)
        return NULL;
    size_t clen = (size_t)(c2 - c1 - 1);
    bool match = false;
    if (h->v2)
        match = clen == 0 && strncmp(line, "0:", 2) == 0;
    else if (clen > 0)
        match = list_matches(c1 + 1, clen, h->controllers);
    if (!match)
        return NULL;
    *plen = len - (size_t)(c2 + 1 - line);
    return c2 + 1;
}

static bool under_sys_fs_cgroup(const char *m)
{
    return strncmp(m, "/sys/fs/cgroup", 14) == 0 && (m[14] == '\0' || m[14] == '/');
}

/* A cgroup mount the state file could not describe: skipped like a line of
 * another file system. */
static int unusable(struct capsa_cgroup_hier *h, char **root_out)
{
    free(h->mount);
    h->mount = NULL;
    free(*root_out);
    *root_out = NULL;
    return 0;
}

static int parse_mount_line(const char *line, size_t len, struct capsa_cgroup_hier *h,
                            char **root_out)
{
    /* Fields: id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
    /* Most lines are other file systems: leave them at one memmem. */
    if (memmem(line, len, " - cgroup", 9) == NULL)
        return 0;
    const char *sep = NULL;
    for (size_t i = 0; i + 3 <= len; i++)
        if (line[i] == ' ' && line[i + 1] == '-' && line[i + 2] == ' ') {
            sep = line + i;
            break;
        }
    if (sep == NULL)
        return 0;
    const char *f[5];
    size_t fl[5];
    const char *p = line;
    for (int i = 0; i < 5; i++) {
        while (p < sep && *p == ' ')
            p++;
        const char *e = p;
        while (e < sep && *e != ' ')
            e++;
        if (e == p)
            return 0;
        f[i] = p;
        fl[i] = (size_t)(e - p);
        p = e;
    }
    const char *t = sep + 3, *end = line + len;
    const char *te = memchr(t, ' ', (size_t)(end - t));
    if (te == NULL)
        return 0;
    bool v2;
    if ((size_t)(te - t) == 7 && strncmp(t, "cgroup2", 7) == 0)
        v2 = true;
    else if ((size_t)(te - t) == 6 && strncmp(t, "cgroup", 6) == 0)
        v2 = false;
    else
        return 0;
    const char *src = te + 1;
    const char *se = memchr(src, ' ', (size_t)(end - src));
    if (se == NULL)
        return 0;
    cleanup_free char *sopts = strndup(se + 1, (size_t)(end - se - 1));
    if (sopts == NULL)
        return -ENOMEM;
    h->v2 = v2;
    h->mount = unescape_octal(f[4], fl[4]);
    *root_out = unescape_octal(f[3], fl[3]);
    if (h->mount == NULL || *root_out == NULL)
        return -ENOMEM;
    /* The kernel prints absolute paths; anything else is not a mount we
     * could use (and would not survive the state file's encoding). */
    if (h->mount[0] != '/' || (*root_out)[0] != '/')
        return unusable(h, root_out);
    if (v2) {
        h->controllers = calloc(1, sizeof(char *));
        return h->controllers ? 1 : -ENOMEM;
    }
    cleanup_strv char **opts = NULL;
    if (split(sopts, ",", &opts) < 0)
        return -ENOMEM;
    char **c = calloc(1, sizeof(char *));
    size_t n = 0;
    if (c == NULL)
        return -ENOMEM;
    for (size_t i = 0; opts[i] != NULL; i++) {
        if (v1_option(opts[i]))
            continue;
        /* A controller name is one word ("-" means "none" in the state). */
        if (strpbrk(opts[i], " \t\n") != NULL || strcmp(opts[i], "-") == 0) {
            capsa_strv_free(c);
            return unusable(h, root_out);
        }
        if (strv_push(&c, &n, opts[i], strlen(opts[i])) < 0) {
            capsa_strv_free(c);
            return -ENOMEM;
        }
    }
    h->controllers = c;
    return 1;
}

static void hier_clear(struct capsa_cgroup_hier *h)
{
    free(h->mount);
    capsa_strv_free(h->controllers);
    free(h->self);
    memset(h, 0, sizeof(*h));
}

int capsa_cgroup_host_parse(const char *mountinfo, const char *self_cgroup,
                            const char *v2_controllers, struct capsa_cgroup_host *out,
                            struct capsa_err *err)
{
    struct capsa_cgroup_host host = {0};
    char **roots = NULL; /* mount root of each hierarchy, parallel to host.h */
    int r;               /* assigned before every goto fail */
    for (const char *l = mountinfo; l && *l;) {
        size_t len = strcspn(l, "\n");
        struct capsa_cgroup_hier h = {0};
        char *root = NULL;
        r = parse_mount_line(l, len, &h, &root);
        l += len + (l[len] == '\n');
        if (r < 0) {
            hier_clear(&h);
            free(root);
            goto fail;
        }
        if (r == 0)
            continue;
        /* A hierarchy mounted twice (bind mounts, a container's view) counts
         * once: the first mount wins, except that one under /sys/fs/cgroup
         * replaces an earlier one elsewhere. */
        size_t dup = host.n;
        for (size_t i = 0; i < host.n; i++)
            if (host.h[i].v2 == h.v2 && (h.v2 || same_set(host.h[i].controllers, h.controllers)))
                dup = i;
        if (dup < host.n) {
            if (!under_sys_fs_cgroup(host.h[dup].mount) && under_sys_fs_cgroup(h.mount)) {
                hier_clear(&host.h[dup]);
                host.h[dup] = h;
                free(roots[dup]);
                roots[dup] = root;
            } else {
                hier_clear(&h);
                free(root);
            }
            continue;
        }
        struct capsa_cgroup_hier *nh = realloc(host.h, (host.n + 1) * sizeof(*nh));
        char **nr = nh ? realloc(roots, (host.n + 1) * sizeof(char *)) : NULL;
        if (nh)
            host.h = nh;
        if (nr)
            roots = nr;
        if (nh == NULL || nr == NULL) {
            hier_clear(&h);
            free(root);
            r = -ENOMEM;
            goto fail;
        }
        host.h[host.n] = h;
        roots[host.n] = root;
        host.n++;
    }
    for (size_t i = 0; i < host.n; i++) {
        struct capsa_cgroup_hier *h = &host.h[i];
        if (h->v2) {
            capsa_strv_free(h->controllers);
            h->controllers = NULL;
            if (split(v2_controllers ? v2_controllers : "", " \t\n", &h->controllers) < 0) {
                r = -ENOMEM;
                goto fail;
            }
            /* Only names the state file can carry (the kernel never prints
             * others): no ',' (the list separator), not "-" (its "none"). */
            size_t k = 0;
            for (size_t j = 0; h->controllers[j] != NULL; j++) {
                char *c = h->controllers[j];
                if (strchr(c, ',') != NULL || strcmp(c, "-") == 0)
                    free(c);
                else
                    h->controllers[k++] = c;
            }
            h->controllers[k] = NULL;
        }
        const char *self = NULL;
        size_t slen = 0;
        for (const char *l = self_cgroup; l && *l && self == NULL;) {
            size_t len = strcspn(l, "\n");
            self = self_line_match(l, len, h, &slen);
            l += len + (l[len] == '\n');
        }
        if (self == NULL || slen == 0 || self[0] != '/') {
            self = "/";
            slen = 1;
        }
        /* The mount may show a subtree (root field != "/"): make self
         * relative to it. A self outside the mounted subtree cannot be
         * reached through this mount: use the mount's root. */
        size_t rl = strlen(roots[i]);
        if (strcmp(roots[i], "/") != 0) {
            if (slen >= rl && strncmp(self, roots[i], rl) == 0 && (slen == rl || self[rl] == '/')) {
                self += rl;
                slen -= rl;
                if (slen == 0) {
                    self = "/";
                    slen = 1;
                }
            } else {
                self = "/";
                slen = 1;
            }
        }
        h->self = strndup(self, slen);
        if (h->self == NULL) {
            r = -ENOMEM;
            goto fail;
        }
    }
    for (size_t i = 0; i < host.n; i++)
        free(roots[i]);
    free(roots);
    *out = host;
    return 0;
fail:
    for (size_t i = 0; i < host.n; i++)
        free(roots[i]);
    free(roots);
    capsa_cgroup_host_free(&host);
    return capsa_err_set(err, -r, "parse cgroup mounts");
}

int capsa_cgroup_host_load(struct capsa_cgroup_host *out, struct capsa_err *err)
{
    cleanup_free char *mi = NULL, *self = NULL, *ctrls = NULL;
    int r = capsa_cg_read(AT_FDCWD, "/proc/self/mountinfo", &mi);
    if (r < 0)
        return capsa_err_set(err, -r, "read /proc/self/mountinfo");
    r = capsa_cg_read(AT_FDCWD, "/proc/self/cgroup", &self);
    if (r < 0)
        return capsa_err_set(err, -r, "read /proc/self/cgroup");
    /* Find the v2 mount first (parse without controllers), then read them. */
    struct capsa_cgroup_host tmp = {0};
    r = capsa_cgroup_host_parse(mi, self, "", &tmp, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < tmp.n; i++) {
        if (!tmp.h[i].v2)
            continue;
        cleanup_close int fd = capsa_cg_open_dir(tmp.h[i].mount);
        if (fd >= 0 && capsa_cg_read(fd, "cgroup.controllers", &ctrls) < 0)
            ctrls = NULL;
        break;
    }
    capsa_cgroup_host_free(&tmp);
    return capsa_cgroup_host_parse(mi, self, ctrls ? ctrls : "", out, err);
}

/* ---------------- resolve / encode / decode ---------------- */

void capsa_cgroup_free(struct capsa_cgroup *cg)
{
    if (cg == NULL)
        return;
    for (size_t i = 0; i < cg->n; i++) {
        free(cg->d[i].path);
        capsa_strv_free(cg->d[i].controllers);
    }
    free(cg->d);
    free(cg);
}

/* Append the components of p to buf (which holds a normalised absolute path
 * without trailing '/'), dropping empty and "." components. ".." is refused:
 * it could climb out of the hierarchy or above the caller's cgroup. */
static int append_components(char **buf, const char *p)
{
    while (*p) {
        size_t len = strcspn(p, "/");
        if (len == 0 || (len == 1 && p[0] == '.')) {
            p += len + (p[len] == '/');
            continue;
        }
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return -EINVAL;
        size_t bl = strlen(*buf);
        char *nb = realloc(*buf, bl + len + 2);
        if (nb == NULL)
            return -ENOMEM;
        nb[bl] = '/';
        memcpy(nb + bl + 1, p, len);
        nb[bl + 1 + len] = '\0';
        *buf = nb;
        p += len + (p[len] == '/');
    }
    return 0;
}

/* Whether the controller list of spec (before its ':', len bytes) names
 * one of d's controllers (a v2 directory: also "unified"). */
static bool spec_names(const char *spec, size_t len, const struct capsa_cgroup_dir *d)
{
    while (len > 0) {
        size_t n = strcspn(spec, ",");
        if (n > len)
            n = len;
        if (d->v2 && n == 7 && strncmp(spec, "unified", 7) == 0)
            return true;
        for (size_t i = 0; d->controllers != NULL && d->controllers[i] != NULL; i++)
            if (strlen(d->controllers[i]) == n && strncmp(d->controllers[i], spec, n) == 0)
                return true;
        spec += n;
        len -= n;
        if (len > 0) {
            spec++;
            len--;
        }
    }
    return false;
}

static int strv_dup(char *const *v, char ***out)
{
    size_t n = capsa_strv_len(v);
    char **c = calloc(n + 1, sizeof *c);
    if (c == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if ((c[i] = strdup(v[i])) == NULL) {
            capsa_strv_free(c);
            return -ENOMEM;
        }
    }
    *out = c;
    return 0;
}

/* The sub-cgroup path for d: the last spec naming one of its controllers,
 * else the last without controllers, else NULL (the spec in *spec). */
static const char *sub_path(char *const *specs, size_t n, const struct capsa_cgroup_dir *d,
                            const char **spec)
{
    const char *plain = NULL, *named = NULL;
    for (size_t k = 0; k < n; k++) {
        const char *colon = strchr(specs[k], ':');
        if (colon == NULL)
            plain = specs[k];
        else if (spec_names(specs[k], (size_t)(colon - specs[k]), d))
            named = specs[k];
    }
    *spec = named ? named : plain;
    return named ? strchr(named, ':') + 1 : plain;
}

int capsa_cgroup_sub(const struct capsa_cgroup *cg, char *const *specs, size_t n,
                     struct capsa_cgroup **out, struct capsa_err *err)
{
    *out = NULL;
    /* Each spec must apply somewhere: a controller list naming none of
     * the container's hierarchies is an error, not a no-op. */
    for (size_t k = 0; k < n; k++) {
        const char *colon = strchr(specs[k], ':');
        const char *path = colon ? colon + 1 : specs[k];
        if (*path == '\0' || *path == '/' || colon == specs[k])
            return capsa_err_setx(err, EINVAL,
                                  "--cgroup %s: want [CONTROLLER[,CONTROLLER...]:]PATH, PATH "
                                  "relative to the container's cgroup",
                                  specs[k]);
        bool used = colon == NULL;
        for (size_t i = 0; !used && i < cg->n; i++)
            used = spec_names(specs[k], (size_t)(colon - specs[k]), &cg->d[i]);
        if (!used)
            return capsa_err_setx(err, EINVAL,
                                  "--cgroup %s: no cgroup of the container has these controllers",
                                  specs[k]);
    }
    struct capsa_cgroup *sub = calloc(1, sizeof *sub);
    if (sub == NULL || (cg->n > 0 && (sub->d = calloc(cg->n, sizeof *sub->d)) == NULL)) {
        free(sub);
        return capsa_err_set(err, ENOMEM, "cgroup");
    }
    int r = 0;
    for (size_t i = 0; r == 0 && i < cg->n; i++) {
        const struct capsa_cgroup_dir *d = &cg->d[i];
        sub->d[i].v2 = d->v2;
        sub->n = i + 1;
        if ((sub->d[i].path = strdup(d->path)) == NULL ||
            strv_dup(d->controllers, &sub->d[i].controllers) < 0) {
            r = capsa_err_set(err, ENOMEM, "cgroup");
            break;
        }
        const char *spec = NULL, *path = sub_path(specs, n, d, &spec);
        if (path == NULL)
            continue;
        int e = append_components(&sub->d[i].path, path);
        struct stat st;
        if (e == -EINVAL)
            r = capsa_err_setx(err, EINVAL,
                               "--cgroup %s: no \"..\": the process stays below the "
                               "container's cgroup",
                               spec);
        else if (e < 0)
            r = capsa_err_set(err, -e, "--cgroup %s", spec);
        else if (stat(sub->d[i].path, &st) < 0 || !S_ISDIR(st.st_mode))
            r = capsa_err_setx(err, ENOENT, "--cgroup %s: sub-cgroup %s does not exist", spec,
                               sub->d[i].path);
    }
    if (r < 0) {
        capsa_cgroup_free(sub);
        return r;
    }
    *out = sub;
    return 0;
}

static bool only_named(char *const *ctrls)
{
    for (size_t i = 0; ctrls != NULL && ctrls[i] != NULL; i++)
        if (strncmp(ctrls[i], "name=", 5) != 0)
            return false;
    return true;
}

int capsa_cgroup_resolve(const struct capsa_cgroup_host *host, const char *cgroups_path,
                         const char *id, struct capsa_cgroup **out, struct capsa_err *err)
{
    const char *p = cgroups_path;
    if (p == NULL || *p == '\0') {
        if (id == NULL || *id == '\0' || strchr(id, '/') != NULL)
            return capsa_err_setx(err, EINVAL,
                                  "cgroup: invalid container id for the default "
                                  "cgroups path");
        p = id;
    }
    if (strchr(p, '\n') != NULL)
        return capsa_err_setx(err, EINVAL, "linux.cgroupsPath: contains a newline");
    bool absolute = p[0] == '/';
    struct capsa_cgroup *cg = calloc(1, sizeof(*cg));
    if (cg == NULL)
        return capsa_err_set(err, ENOMEM, "cgroup");
    cg->d = calloc(host->n ? host->n : 1, sizeof(*cg->d));
    if (cg->d == NULL) {
        capsa_cgroup_free(cg);
        return capsa_err_set(err, ENOMEM, "cgroup");
    }
    for (size_t i = 0; i < host->n; i++) {
        const struct capsa_cgroup_hier *h = &host->h[i];
        /* Named hierarchies hold no controller: skipped, except systemd's,
         * which runc's fs driver joins too on a hybrid or v1 host (systemd
         * and tools like systemd-cgls read processes' units there). */
        if (!h->v2 && only_named(h->controllers) && !capsa_cg_has(h->controllers, "name=systemd"))
            continue;
        char *rel = strdup("");
        int r = rel ? 0 : -ENOMEM;
        if (r == 0 && !absolute) {
            r = append_components(&rel, h->self ? h->self : "/");
            /* A v2 cgroup that holds processes cannot enable controllers
             * for a child (the no-internal-process rule), and the caller's
             * own cgroup holds at least the caller: like runc, a relative
             * path goes under its parent instead. */
            char *slash = h->v2 ? strrchr(rel, '/') : NULL;
            if (slash != NULL)
                *slash = '\0';
        }
        if (r == 0)
            r = append_components(&rel, p);
        if (r == 0 && rel[0] == '\0')
            r = -EEXIST;
        char *full = NULL;
        if (r == 0) {
            full = strdup(h->mount);
            r = full ? 0 : -ENOMEM;
            if (r == 0) {
                /* normalise the mount point too ("/" + components) */
                char *norm = strdup("");
                r = norm ? append_components(&norm, full) : -ENOMEM;
                if (r == 0)
                    r = append_components(&norm, rel);
                free(full);
                full = norm;
            }
        }
        free(rel);
        if (r < 0) {
            free(full);
            capsa_cgroup_free(cg);
            if (r == -EINVAL)
                return capsa_err_setx(err, EINVAL, "linux.cgroupsPath %s: \"..\" is not allowed",
                                      p);
            if (r == -EEXIST)
                return capsa_err_setx(err, EINVAL,
                                      "linux.cgroupsPath %s: resolves to the root cgroup of %s", p,
                                      h->mount);
            return capsa_err_set(err, -r, "cgroup");
        }
        struct capsa_cgroup_dir *d = &cg->d[cg->n];
        d->path = full;
        d->v2 = h->v2;
        cg->n++;
        size_t nc = capsa_strv_len(h->controllers), k = 0;
        d->controllers = calloc(nc + 1, sizeof(char *));
        if (d->controllers == NULL) {
            capsa_cgroup_free(cg);
            return capsa_err_set(err, ENOMEM, "cgroup");
        }
        for (size_t j = 0; j < nc; j++) {
            d->controllers[k] = strdup(h->controllers[j]);
            if (d->controllers[k++] == NULL) {
                capsa_cgroup_free(cg);
                return capsa_err_set(err, ENOMEM, "cgroup");
            }
        }
    }
    if (cg->n == 0) {
        capsa_cgroup_free(cg);
        return capsa_err_setx(err, ENOENT, "cgroup: no cgroup hierarchy is mounted");
    }
    *out = cg;
    return 0;
}

int capsa_cgroup_encode(const struct capsa_cgroup *cg, char **out, struct capsa_err *err)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return capsa_err_set(err, errno, "cgroup encode");
    for (size_t i = 0; i < cg->n; i++) {
        const struct capsa_cgroup_dir *d = &cg->d[i];
        if (strchr(d->path, '\n') != NULL || d->path[0] != '/') {
            (void)fclose(f);
            free(buf);
            return capsa_err_setx(err, EINVAL, "cgroup encode: bad path %s", d->path);
        }
        fputs(d->v2 ? "v2 " : "v1 ", f);
        if (d->controllers == NULL || d->controllers[0] == NULL)
            fputc('-', f);
        for (size_t j = 0; d->controllers && d->controllers[j]; j++)
            fprintf(f, "%s%s", j ? "," : "", d->controllers[j]);
        fprintf(f, " %s\n", d->path);
    }
    if (fclose(f) != 0) {
        free(buf);
        return capsa_err_set(err, ENOMEM, "cgroup encode");
    }
    *out = buf;
    return 0;
}

int capsa_cgroup_decode(const char *text, struct capsa_cgroup **out, struct capsa_err *err)
{
    struct capsa_cgroup *cg = calloc(1, sizeof(*cg));
    if (cg == NULL)
        return capsa_err_set(err, ENOMEM, "cgroup decode");
    for (const char *l = text; l && *l;) {
        size_t len = strcspn(l, "\n");
        const char *line = l;
        l += len + (l[len] == '\n');
        if (len == 0)
            continue;
        const char *s1 = memchr(line, ' ', len);
        const char *s2 = s1 ? memchr(s1 + 1, ' ', len - (size_t)(s1 + 1 - line)) : NULL;
        if (s1 == NULL || s2 == NULL || (size_t)(s1 - line) != 2 || line[0] != 'v' ||
            (line[1] != '1' && line[1] != '2') || s2[1] != '/') {
            capsa_cgroup_free(cg);
            return capsa_err_setx(err, EINVAL, "cgroup decode: bad line \"%.*s\"", (int)len, line);
        }
        struct capsa_cgroup_dir *nd = realloc(cg->d, (cg->n + 1) * sizeof(*nd));
        if (nd == NULL) {
            capsa_cgroup_free(cg);
            return capsa_err_set(err, ENOMEM, "cgroup decode");
        }
        cg->d = nd;
        struct capsa_cgroup_dir *d = &cg->d[cg->n++];
        memset(d, 0, sizeof(*d));
        d->v2 = line[1] == '2';
        d->path = strndup(s2 + 1, len - (size_t)(s2 + 1 - line));
        char *ctl = strndup(s1 + 1, (size_t)(s2 - s1 - 1));
        int r = (d->path && ctl) ? 0 : -ENOMEM;
        if (r == 0)
            r = split(strcmp(ctl, "-") == 0 ? "" : ctl, ",", &d->controllers);
        free(ctl);
        if (r < 0) {
            capsa_cgroup_free(cg);
            return capsa_err_set(err, ENOMEM, "cgroup decode");
        }
        /* "-" stands for "no controllers" only as the whole field. */
        if (capsa_cg_has(d->controllers, "-")) {
            capsa_cgroup_free(cg);
            return capsa_err_setx(err, EINVAL, "cgroup decode: bad line \"%.*s\"", (int)len, line);
        }
    }
    *out = cg;
    return 0;
}

/* ---------------- create ---------------- */

struct created {
    char **paths; /* directories this call made, in creation order */
    size_t n;
};

static void created_rollback(struct created *c)
{
    for (size_t i = c->n; i-- > 0;)
        (void)rmdir(c->paths[i]);
}

static void created_free(struct created *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->paths[i]);
    free(c->paths);
    c->paths = NULL;
    c->n = 0;
}

static int record_created(struct created *c, const char *path, size_t len, struct capsa_err *err)
{
    char **np = realloc(c->paths, (c->n + 1) * sizeof(char *));
    if (np == NULL)
        return capsa_err_set(err, ENOMEM, "mkdir %s", path);
    c->paths = np;
    c->paths[c->n] = strndup(path, len);
    if (c->paths[c->n] == NULL)
        return capsa_err_set(err, ENOMEM, "mkdir %s", path);
    c->n++;
    return 0;
}

/* A directory that existed before us and holds processes belongs to somebody
 * else (two containers with one id under different --root, a path given
 * twice): sharing it would let one's delete kill the other. runc refuses too. */
static int refuse_busy(const char *path, struct capsa_err *err)
{
    cleanup_close int dfd = capsa_cg_open_dir(path);
    cleanup_close int pfd =
        dfd < 0 ? -1 : openat(dfd, "cgroup.procs", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    char b;
    if (pfd >= 0 && read(pfd, &b, 1) == 1)
        return capsa_err_setx(
            err, EBUSY, "linux.cgroupsPath: cgroup %s is already in use by other processes", path);
    return 0;
}

/* mkdir -p walking component by component with O_NOFOLLOW; the usual case,
 * a new leaf under existing parents, is one mkdir. */
static int mkdir_p(const char *path, bool adopt, struct created *c, struct capsa_err *err)
{
    if (mkdir(path, 0755) == 0)
        return record_created(c, path, strlen(path), err);
    if (errno == EEXIST)
        return adopt ? 0 : refuse_busy(path, err);
    if (errno != ENOENT)
        return capsa_err_set(err, errno, "mkdir %s", path);
    cleanup_close int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "open /");
    const char *p = path;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (len == 0) {
            p++;
            continue;
        }
        cleanup_free char *comp = strndup(p, len);
        if (comp == NULL)
            return capsa_err_set(err, ENOMEM, "mkdir %s", path);
        bool made = false;
        if (mkdirat(fd, comp, 0755) == 0)
            made = true;
        else if (errno != EEXIST)
            return capsa_err_set(err, errno, "mkdir %.*s", (int)(p + len - path), path);
        int nfd = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (nfd < 0)
            return capsa_err_set(err, errno, "open %.*s", (int)(p + len - path), path);
        capsa_close(&fd);
        fd = nfd;
        if (made) {
            int r = record_created(c, path, (size_t)(p + len - path), err);
            if (r < 0)
                return r;
        }
        p += len;
        if (!made && *p == '\0' && !adopt)
            return refuse_busy(path, err);
    }
    return 0;
}

static bool blank(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* v1 cpuset: a new cpuset has empty cpuset.cpus/mems and refuses tasks
 * (ENOSPC) until they are set; copy them down from the nearest ancestor,
 * fixing empty ancestors on the way (the kernel requires each level to be a
 * subset of its parent's). */
// NOLINTNEXTLINE(misc-no-recursion): one level per ancestor, depth <= 64
static int cpuset_fill(const char *path, int depth, struct capsa_err *err)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    cleanup_close int fd = capsa_cg_open_dir(path);
    if (fd < 0)
        return capsa_err_set(err, -fd, "open %s", path);
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        cleanup_free char *cur = NULL, *parent = NULL, *pv = NULL;
        int r = capsa_cg_read(fd, files[i], &cur);
        if (r < 0)
            return capsa_err_set(err, -r, "read %s/%s", path, files[i]);
        if (!blank(cur))
            continue;
        const char *slash = strrchr(path, '/');
        if (slash == NULL || slash == path || depth > 64)
            return capsa_err_setx(err, ENOSPC, "%s/%s is empty up to the root", path, files[i]);
        parent = strndup(path, (size_t)(slash - path));
        if (parent == NULL)
            return capsa_err_set(err, ENOMEM, "cpuset");
        cleanup_close int pfd = capsa_cg_open_dir(parent);
        if (pfd < 0)
            return capsa_err_set(err, -pfd, "open %s", parent);
        r = capsa_cg_read(pfd, files[i], &pv);
        if (r < 0)
            return capsa_err_set(err, -r, "read %s/%s", parent, files[i]);
        if (blank(pv)) {
            free(pv);
            pv = NULL;
            r = cpuset_fill(parent, depth + 1, err);
            if (r < 0)
                return r;
            r = capsa_cg_read(pfd, files[i], &pv);
            if (r < 0)
                return capsa_err_set(err, -r, "read %s/%s", parent, files[i]);
        }
        r = capsa_cg_write(fd, files[i], pv);
        if (r < 0)
            return capsa_err_set(err, -r, "write %s/%s", path, files[i]);
    }
    return 0;
}

/* Whether ancestor directory `path` belongs to the same v2 hierarchy as the
 * container's directory (same device and it has cgroup.controllers); the
 * mount root's parent fails this test, which is how we find the root without
 * recording it. */
static bool in_hierarchy(const char *path, dev_t dev)
{
    cleanup_close int fd = capsa_cg_open_dir(path);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != dev)
        return false;
    return capsa_cg_exists(fd, "cgroup.controllers");
}

/* v2: enable in cgroup.subtree_control of every ancestor of path below and
 * including the mount root all controllers available there (runc does the
 * same), so the container's directory gets each controller's files.
 * Controllers are written one per write: EBUSY (the no-internal-process rule:
 * the ancestor holds processes, typically our own cgroup on a pure v2 host),
 * ENOTSUP/EOPNOTSUPP (a controller that cannot be enabled, e.g. a threaded
 * subtree) and ENOENT are skipped, because a resource that really needs the
 * controller then fails in capsa_cgroup_apply with an error naming the field;
 * an unused controller must not make creation fail. */
static int v2_enable(const char *path, struct capsa_err *err)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return capsa_err_set(err, errno, "stat %s", path);
    /* collect ancestors bottom-up, then walk top-down */
    cleanup_free char *work = strdup(path);
    if (work == NULL)
        return capsa_err_set(err, ENOMEM, "cgroup");
    char *anc[128];
    size_t na = 0;
    for (;;) {
        char *slash = strrchr(work, '/');
        if (slash == NULL || slash == work || na == ARRAY_SIZE(anc))
            break;
        *slash = '\0';
        if (!in_hierarchy(work, st.st_dev))
            break;
        anc[na] = strdup(work);
        if (anc[na] == NULL)
            break;
        na++;
    }
    int ret = 0;
    for (size_t i = na; i-- > 0 && ret == 0;) {
        cleanup_close int fd = capsa_cg_open_dir(anc[i]);
        cleanup_free char *ctl = NULL;
        cleanup_strv char **v = NULL;
        if (fd < 0 || capsa_cg_read(fd, "cgroup.controllers", &ctl) < 0 ||
            split(ctl, " \t\n", &v) < 0)
            continue;
        for (size_t j = 0; v[j] != NULL; j++) {
            char line[128];
            snprintf(line, sizeof(line), "+%s", v[j]);
            int r = capsa_cg_write(fd, "cgroup.subtree_control", line);
            // NOLINTNEXTLINE(misc-redundant-expression): ENOTSUP == EOPNOTSUPP on Linux only
            if (r < 0 && r != -EBUSY && r != -ENOTSUP && r != -EOPNOTSUPP && r != -ENOENT) {
                ret =
                    capsa_err_set(err, -r, "enable %s in %s/cgroup.subtree_control", v[j], anc[i]);
                break;
            }
        }
    }
    for (size_t i = 0; i < na; i++)
        free(anc[i]);
    return ret;
}

static int create_dirs(const struct capsa_cgroup *cg, const struct capsa_resources *res, bool adopt,
                       capsa_warn_fn warn, void *opaque, struct capsa_err *err)
{
    struct created c = {0};
    int r = 0;
    for (size_t i = 0; i < cg->n && r == 0; i++) {
        const struct capsa_cgroup_dir *d = &cg->d[i];
        if (d->v2) {
            /* enabling a controller in a parent adds its files to the
             * existing children too, so the order does not matter; an
             * adopted (systemd, Delegate=yes) directory has its
             * controllers from its manager, whose ancestors are not ours */
            r = mkdir_p(d->path, adopt, &c, err);
            if (r == 0 && !adopt)
                r = v2_enable(d->path, err);
        } else {
            r = mkdir_p(d->path, adopt, &c, err);
            if (r == 0 && capsa_cg_has(d->controllers, "cpuset"))
                r = cpuset_fill(d->path, 0, err);
        }
        if (r < 0)
            capsa_err_wrap(err, "cgroup %s", d->path);
    }
    if (r == 0 && res != NULL)
        r = capsa_cgroup_apply(cg, res, warn, opaque, err);
    if (r < 0)
        created_rollback(&c);
    created_free(&c);
    return r;
}

int capsa_cgroup_create(const struct capsa_cgroup *cg, const struct capsa_resources *res,
                        capsa_warn_fn warn, void *opaque, struct capsa_err *err)
{
    return create_dirs(cg, res, false, warn, opaque, err);
}

int capsa_cgroup_adopt(const struct capsa_cgroup *cg, const struct capsa_resources *res,
                       capsa_warn_fn warn, void *opaque, struct capsa_err *err)
{
    return create_dirs(cg, res, true, warn, opaque, err);
}

/* ---------------- enter, v2 fd, pids ---------------- */

int capsa_cgroup_enter(const struct capsa_cgroup *cg, pid_t pid, bool v1, bool v2,
                       struct capsa_err *err)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%d", (int)pid);
    for (size_t i = 0; i < cg->n; i++) {
        if (cg->d[i].v2 ? !v2 : !v1)
            continue;
        cleanup_close int fd = capsa_cg_open_dir(cg->d[i].path);
        if (fd < 0)
            return capsa_err_set(err, -fd, "open cgroup %s", cg->d[i].path);
        int r = capsa_cg_write(fd, "cgroup.procs", buf);
        /* The kernel also wants write access to the cgroup.procs of the
         * common ancestor: an unprivileged runtime must itself run in a
         * tree it owns. */
        if ((r == -EACCES || r == -EPERM) && geteuid() != 0)
            return capsa_err_set(err, -r,
                                 "move pid %d into %s (an unprivileged runtime moves processes "
                                 "only within a cgroup tree it owns: run it there, e.g. under "
                                 "systemd-run --user --scope, as podman runs it)",
                                 (int)pid, cg->d[i].path);
        if (r < 0)
            return capsa_err_set(err, -r, "move pid %d into %s", (int)pid, cg->d[i].path);
    }
    return 0;
}

int capsa_cgroup_join_open(const struct capsa_cgroup *cg, struct capsa_cgroup_join *j,
                           struct capsa_err *err)
{
    j->n = 0;
    for (size_t i = 0; i < cg->n; i++) {
        if (cg->d[i].v2)
            continue;
        if (j->n == CAPSA_CG_MAX_JOIN) {
            capsa_cgroup_join_close(j);
            return capsa_err_setx(err, E2BIG, "more than %d cgroup v1 hierarchies",
                                  CAPSA_CG_MAX_JOIN);
        }
        char path[4096];
        int n = snprintf(path, sizeof path, "%s/tasks", cg->d[i].path);
        int fd = n > 0 && (size_t)n < sizeof path
                     ? open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY)
                     : -1;
        if (fd < 0) {
            int e = n > 0 && (size_t)n < sizeof path ? errno : ENAMETOOLONG;
            capsa_cgroup_join_close(j);
            return capsa_err_set(err, e, "open %s/tasks", cg->d[i].path);
        }
        j->fd[j->n] = fd;
        j->path[j->n] = cg->d[i].path;
        j->n++;
    }
    return 0;
}

int capsa_cgroup_join_self(const struct capsa_cgroup_join *j, struct capsa_err *err)
{
    for (size_t i = 0; i < j->n; i++) {
        ssize_t w;
        do
            w = write(j->fd[i], "0", 1);
        while (w < 0 && errno == EINTR);
        if (w != 1)
            return capsa_err_set(err, w < 0 ? errno : EIO, "cgroup: move into %s (tasks)",
                                 j->path[i]);
    }
    return 0;
}

void capsa_cgroup_join_close(struct capsa_cgroup_join *j)
{
    for (size_t i = 0; i < j->n; i++)
        close(j->fd[i]);
    j->n = 0;
}

int capsa_cgroup_v2_fd(const struct capsa_cgroup *cg, int *fd_out, struct capsa_err *err)
{
    *fd_out = -1;
    const struct capsa_cgroup_dir *d = capsa_cg_v2_dir(cg);
    if (d == NULL)
        return 0;
    int fd = open(d->path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "open %s", d->path);
    *fd_out = fd;
    return 0;
}

/* The directory whose cgroup.procs lists the container's processes. */
static const struct capsa_cgroup_dir *procs_dir(const struct capsa_cgroup *cg)
{
    static const char *const order[] = {"pids", "freezer", "memory", "cpu"};
    const struct capsa_cgroup_dir *d = capsa_cg_v2_dir(cg);
    for (size_t i = 0; d == NULL && i < ARRAY_SIZE(order); i++)
        d = capsa_cg_dir_for(cg, order[i]);
    if (d == NULL && cg->n > 0)
        d = &cg->d[0];
    return d;
}

struct pidvec {
    pid_t *v;
    size_t n, cap;
};

// NOLINTNEXTLINE(misc-no-recursion): depth <= 64
static int collect_pids(int dfd, int depth, struct pidvec *pv)
{
    if (depth > 64)
        return -ELOOP;
    cleanup_free char *procs = NULL;
    int r = capsa_cg_read(dfd, "cgroup.procs", &procs);
    if (r < 0)
        return r;
    /* r >= 0 implies capsa_cg_read set procs (the analyzer loses -errno < 0). */
    // NOLINTNEXTLINE(clang-analyzer-core.NullDereference)
    for (char *p = procs; *p;) {
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        p = end;
        if (v <= 0)
            continue;
        if (pv->n == pv->cap) {
            size_t nc = pv->cap ? pv->cap * 2 : 16;
            pid_t *nv = realloc(pv->v, nc * sizeof(pid_t));
            if (nv == NULL)
                return -ENOMEM;
            pv->v = nv;
            pv->cap = nc;
        }
        pv->v[pv->n++] = (pid_t)v;
    }
    int dup = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0)
        return -errno;
    cleanup_dir DIR *dir = fdopendir(dup);
    if (dir == NULL) {
        close(dup);
        return -errno;
    }
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_close int sub =
            openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            continue; /* removed meanwhile */
        r = collect_pids(sub, depth + 1, pv);
        if (r < 0 && r != -ENOENT && r != -ENODEV)
            return r;
    }
    return 0;
}

int capsa_cgroup_pids(const struct capsa_cgroup *cg, pid_t **pids, size_t *n, struct capsa_err *err)
{
    const struct capsa_cgroup_dir *d = procs_dir(cg);
    *pids = NULL;
    *n = 0;
    if (d == NULL)
        return capsa_err_setx(err, ENOENT, "cgroup: no directory");
    cleanup_close int fd = capsa_cg_open_dir(d->path);
    if (fd < 0)
        return capsa_err_set(err, -fd, "open %s", d->path);
    struct pidvec pv = {0};
    int r = collect_pids(fd, 0, &pv);
    if (r < 0) {
        free(pv.v);
        return capsa_err_set(err, -r, "list processes of %s", d->path);
    }
    *pids = pv.v;
    *n = pv.n;
    return 0;
}

/* ---------------- freeze ---------------- */

/* The v2 directory if it has cgroup.freeze (also true for the empty v2
 * hierarchy of a hybrid host), else -1. */
static int v2_freeze_fd(const struct capsa_cgroup *cg)
{
    const struct capsa_cgroup_dir *d = capsa_cg_v2_dir(cg);
    if (d == NULL)
        return -1;
    int fd = capsa_cg_open_dir(d->path);
    if (fd >= 0 && !capsa_cg_exists(fd, "cgroup.freeze"))
        capsa_close(&fd);
    return fd;
}

static int v2_events_frozen(int dfd)
{
    cleanup_free char *ev = NULL;
    int r = capsa_cg_read(dfd, "cgroup.events", &ev);
    if (r < 0)
        return r;
    /* r >= 0 implies capsa_cg_read set ev (the analyzer loses -errno < 0). */
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
    const char *f = strstr(ev, "frozen ");
    if (f == NULL)
        return -ENOTSUP;
    return f[7] == '1';
}

static int v2_freeze(int dfd, const char *path, bool frozen, struct capsa_err *err)
{
    int r = capsa_cg_write(dfd, "cgroup.freeze", frozen ? "1" : "0");
    if (r < 0)
        return capsa_err_set(err, -r, "write %s/cgroup.freeze", path);
    /* cgroup.events changes are signalled to poll(2) as POLLPRI; poll with a
     * short timeout anyway, bounded to ~10 s in total. */
    cleanup_close int efd = openat(dfd, "cgroup.events", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    for (int i = 0; i < 1000; i++) {
        r = v2_events_frozen(dfd);
        if (r < 0)
            return capsa_err_set(err, -r, "read %s/cgroup.events", path);
        if ((r == 1) == frozen)
            return 0;
        if (efd >= 0) {
            char tmp[256];
            if (pread(efd, tmp, sizeof(tmp), 0) < 0)
                sleep_ms(1);
            struct pollfd pfd = {.fd = efd, .events = POLLPRI};
            (void)poll(&pfd, 1, 10);
        } else {
            sleep_ms(10);
        }
    }
    if (frozen)
        (void)capsa_cg_write(dfd, "cgroup.freeze", "0");
    return capsa_err_setx(err, EBUSY, "%s: cgroup did not %s in time", path,
                          frozen ? "freeze" : "thaw");
}

static int v1_freeze(int dfd, const char *path, bool frozen, struct capsa_err *err)
{
    const char *want = frozen ? "FROZEN" : "THAWED";
    for (int i = 0; i < 2000; i++) {
        /* Rewriting FROZEN makes the kernel retry tasks that were busy
         * (FREEZING); runc does the same. */
        int r = capsa_cg_write(dfd, "freezer.state", want);
        if (r < 0)
            return capsa_err_set(err, -r, "write %s/freezer.state", path);
        cleanup_free char *st = NULL;
        r = capsa_cg_read(dfd, "freezer.state", &st);
        if (r < 0)
            return capsa_err_set(err, -r, "read %s/freezer.state", path);
        /* r >= 0 implies capsa_cg_read set st (the analyzer loses -errno < 0). */
        // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
        if (strncmp(st, want, strlen(want)) == 0)
            return 0;
        sleep_ms(i < 100 ? 1 : 5);
    }
    if (frozen)
        (void)capsa_cg_write(dfd, "freezer.state", "THAWED");
    return capsa_err_setx(err, EBUSY, "%s: cgroup did not %s in time", path,
                          frozen ? "freeze" : "thaw");
}

/* On a hybrid host both freezers exist: the v1 freezer is used, as runc
 * does, so that tools reading freezer.state agree with `capsa state`; the
 * v2 cgroup.freeze serves pure v2 hosts (and v2 without a v1 freezer). */
int capsa_cgroup_freeze(const struct capsa_cgroup *cg, bool frozen, struct capsa_err *err)
{
    const struct capsa_cgroup_dir *d = capsa_cg_dir_for(cg, "freezer");
    if (d != NULL && !d->v2) {
        cleanup_close int fd = capsa_cg_open_dir(d->path);
        if (fd < 0)
            return capsa_err_set(err, -fd, "open %s", d->path);
        return v1_freeze(fd, d->path, frozen, err);
    }
    cleanup_close int fd = v2_freeze_fd(cg);
    d = capsa_cg_v2_dir(cg);
    if (fd >= 0 && d != NULL)
        return v2_freeze(fd, d->path, frozen, err);
    return capsa_err_setx(err, ENOTSUP,
                          "cgroup: no freezer (neither the v1 freezer controller nor a v2 "
                          "cgroup.freeze)");
}

int capsa_cgroup_is_frozen(const struct capsa_cgroup *cg)
{
    const struct capsa_cgroup_dir *d = capsa_cg_dir_for(cg, "freezer");
    if (d != NULL && !d->v2) {
        cleanup_close int fd = capsa_cg_open_dir(d->path);
        if (fd < 0)
            return fd;
        cleanup_free char *st = NULL;
        int r = capsa_cg_read(fd, "freezer.state", &st);
        if (r < 0)
            return r;
        /* r >= 0 implies capsa_cg_read set st (the analyzer loses -errno < 0). */
        // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
        return strncmp(st, "FROZEN", 6) == 0;
    }
    cleanup_close int fd = v2_freeze_fd(cg);
    if (fd < 0)
        return -ENOTSUP;
    cleanup_free char *v = NULL;
    int r = capsa_cg_read(fd, "cgroup.freeze", &v);
    // NOLINTNEXTLINE(clang-analyzer-core.NonNullParamChecker)
    return r < 0 ? r : v[0] == '1';
}

/* ---------------- signal ---------------- */

int capsa_cgroup_signal_all(const struct capsa_cgroup *cg, int sig, struct capsa_err *err)
{
    if (sig == SIGKILL) {
        const struct capsa_cgroup_dir *d = capsa_cg_v2_dir(cg);
        cleanup_close int fd = d ? capsa_cg_open_dir(d->path) : -1;
        if (fd >= 0 && capsa_cg_exists(fd, "cgroup.kill")) {
            /* The kernel kills the whole subtree atomically: no race with forks. */
            int r = capsa_cg_write(fd, "cgroup.kill", "1");
            if (r == 0)
                return 0;
            if (r != -EINVAL && r != -ENOENT)
                return capsa_err_set(err, -r, "write %s/cgroup.kill", d->path);
        }
    }
    /* Freeze first so that no process can fork a child we would miss;
     * signal 0 (a liveness check) reaches nobody, so no freeze for it. */
    struct capsa_err ferr;
    bool frozen = sig != 0 && capsa_cgroup_freeze(cg, true, &ferr) == 0;
    pid_t *pids = NULL;
    size_t n = 0;
    int r = capsa_cgroup_pids(cg, &pids, &n, err);
    const struct capsa_cgroup_dir *pd = procs_dir(cg);
    if (r == -ENOENT && pd != NULL && access(pd->path, F_OK) < 0 && errno == ENOENT) {
        /* No directory, no process: systemd removes a scope's cgroup once
         * its last process is gone (containerd's shim still sends kill
         * --all to a stopped container). */
        if (err != NULL)
            capsa_err_clear(err);
        r = 0;
    }
    if (r == 0) {
        for (size_t i = 0; i < n; i++) {
            /* A pidfd pins the process: no pid-reuse race between listing and signalling. */
            int pfd = capsa_pidfd_open(pids[i], 0);
            if (pfd < 0)
                continue; /* exited meanwhile */
            if (capsa_pidfd_send_signal(pfd, sig, 0) < 0 && errno != ESRCH) {
                r = capsa_err_set(err, errno, "signal %d to pid %d", sig, (int)pids[i]);
                close(pfd);
                break;
            }
            close(pfd);
        }
    }
    free(pids);
    if (frozen && capsa_cgroup_freeze(cg, false, &ferr) < 0 && r == 0) {
        if (err != NULL)
            *err = ferr;
        r = capsa_err_ret(&ferr);
    }
    return r;
}

/* ---------------- destroy ---------------- */

// NOLINTNEXTLINE(misc-no-recursion): depth <= 64
static int rmdir_tree(int parent, const char *name, int depth)
{
    if (depth > 64)
        return -ELOOP;
    cleanup_close int fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -errno;
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0)
        return -errno;
    DIR *dir = fdopendir(dup);
    if (dir == NULL) {
        close(dup);
        return -errno;
    }
    struct dirent *de;
    int r = 0;
    while ((de = readdir(dir)) != NULL && r == 0) {
        if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        r = rmdir_tree(fd, de->d_name, depth + 1);
    }
    closedir(dir);
    if (r < 0)
        return r;
    /* Processes that were just killed leave the cgroup asynchronously. */
    for (int i = 0; i < 200; i++) {
        if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY)
            return -errno;
        sleep_ms(10);
    }
    return -EBUSY;
}

int capsa_cgroup_destroy(const struct capsa_cgroup *cg, struct capsa_err *err)
{
    int ret = 0;
    for (size_t i = 0; i < cg->n; i++) {
        const char *path = cg->d[i].path;
        const char *slash = strrchr(path, '/');
        if (slash == NULL || slash[1] == '\0')
            continue;
        /* The common case, an empty leaf: one rmdir, no directory walk. */
        if (rmdir(path) == 0 || errno == ENOENT)
            continue;
        cleanup_free char *parent = strndup(path, slash == path ? 1 : (size_t)(slash - path));
        if (parent == NULL)
            return capsa_err_set(err, ENOMEM, "cgroup destroy");
        cleanup_close int pfd = capsa_cg_open_dir(parent);
        if (pfd < 0) {
            if (pfd == -ENOENT)
                continue;
            if (ret == 0)
                ret = capsa_err_set(err, -pfd, "open %s", parent);
            continue;
        }
        int r = rmdir_tree(pfd, slash + 1, 0);
        if (r < 0 && ret == 0)
            ret = capsa_err_set(err, -r, "remove cgroup %s", path);
    }
    return ret;
}
