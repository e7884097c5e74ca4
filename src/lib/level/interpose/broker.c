/* broker.c - the brokered system calls: the supervisor performs each one
 * itself, from a copy of its arguments, with the calling thread's identity
 * (super.c: fs ids, groups, umask, capabilities in the container's user
 * namespace) and root (we are chrooted in the container's root, and the
 * caller's cwd or dirfd is reopened through our procfs), so that it
 * succeeds or fails as it would have for the caller. Never
 * SECCOMP_USER_NOTIF_FLAG_CONTINUE on a decision taken from the caller's
 * memory: the caller could change it after the check.
 *
 * Two shapes:
 *  - object calls (open of an existing file, stat, access, chmod, chown,
 *    truncate, utimes, xattrs, statfs, readlink, connect to a socket path):
 *    the object is opened O_PATH (following the last symlink or not, as the
 *    call does), its canonical path checked against the policy, and the call
 *    made on that fd (or through our procfs's self/fd/N, for calls that only
 *    take a path): what was checked is what is acted on;
 *  - entry calls (create, mkdir, mknod, unlink, rmdir, rename, link,
 *    symlink, bind of a socket path): the parent directory is opened and
 *    checked with the last component, and the call made relative to it. */
#include "level/interpose/super.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#include "level/interpose/vfile.h"
#include "sys/sys.h"
#include "util/util.h"

#define PATH_SIZE 4096

struct obj {
    int fd; /* O_PATH */
    char canon[PATH_SIZE];
    struct stat st;
};

struct entry {
    int dirfd;               /* the parent, O_PATH | O_DIRECTORY */
    char name[NAME_MAX + 2]; /* the last component, with the path's trailing "/" if it had one */
    char canon[PATH_SIZE];   /* parent + "/" + name (without the "/") */
};

static void obj_close(struct obj *o)
{
    capsa_close(&o->fd);
}

static void entry_close(struct entry *e)
{
    capsa_close(&e->dirfd);
}

static void fail(struct capsa_ip_req *q, int e)
{
    q->resp->val = 0;
    q->resp->error = e < 0 ? e : -e;
}

static void ok(struct capsa_ip_req *q, long long v)
{
    q->resp->val = v;
    q->resp->error = 0;
}

/* A refusal by the policy, for the audit log. */
static int refuse(struct capsa_ip_req *q, int e, const char *why)
{
    q->reason = why;
    return e;
}

static uint64_t arg(const struct capsa_ip_req *q, int i)
{
    return q->n->data.args[i];
}

/* The caller's path argument, with the names of the caller itself
 * (/proc/self, /dev/fd, ...) turned into its pid in the container's
 * namespace: "self" in the container's procfs means nothing to us. */
static int read_path(struct capsa_ip_req *q, uint64_t addr, char *buf, char *scratch)
{
    int r = capsa_ip_mem_string(q, addr, scratch, PATH_SIZE);
    if (r < 0)
        return r;
    if (scratch[0] == '\0') { /* nothing to translate: no need of the caller's identity */
        buf[0] = '\0';
        return 0;
    }
    if ((r = capsa_ip_cred_load(q)) < 0)
        return r;
    /* Each name, as a whole path or followed by "/": the procfs links to
     * "self" (/proc/mounts, /proc/net) are the caller's too. */
    static const struct {
        const char *name;
        const char *tail; /* after /proc/<pid> */
        bool thread;
    } self[] = {
        {"/proc/self", "", false},          {"/proc/thread-self", "", true},
        {"/proc/mounts", "/mounts", false}, {"/proc/net", "/net", false},
        {"/dev/fd", "/fd", false},          {"/dev/stdin", "/fd/0", false},
        {"/dev/stdout", "/fd/1", false},    {"/dev/stderr", "/fd/2", false},
    };
    const char *rest = scratch;
    char head[64] = "";
    for (size_t i = 0; i < ARRAY_SIZE(self); i++) {
        size_t n = strlen(self[i].name);
        if (strncmp(scratch, self[i].name, n) != 0 || (scratch[n] != '\0' && scratch[n] != '/'))
            continue;
        if (self[i].thread)
            snprintf(head, sizeof head, "/proc/%d/task/%d", (int)q->cred.nstgid,
                     (int)q->cred.nspid);
        else
            snprintf(head, sizeof head, "/proc/%d%s", (int)q->cred.nstgid, self[i].tail);
        rest = scratch + n;
        break;
    }
    if (snprintf(buf, PATH_SIZE, "%s%s", head, rest) >= PATH_SIZE)
        return -ENAMETOOLONG;
    if (q->path == NULL) {
        size_t n = strlen(buf);
        if (n >= sizeof q->audit_path)
            n = sizeof q->audit_path - 1;
        memcpy(q->audit_path, buf, n);
        q->audit_path[n] = '\0';
        q->path = q->audit_path;
    }
    return 0;
}

/* The directory a relative path starts from: the caller's cwd or its dirfd,
 * reopened through our procfs (O_PATH). */
static int base_dir(struct capsa_ip_req *q, int dirfd, const char *path)
{
    if (path[0] == '/')
        return dup(q->s->rootfd);
    char p[64];
    if (dirfd == AT_FDCWD)
        snprintf(p, sizeof p, "%u/cwd", q->n->pid);
    else
        snprintf(p, sizeof p, "%u/fd/%d", q->n->pid, dirfd);
    int fd = capsa_ip_proc_open(q, p, O_PATH);
    return fd == -ENOENT && dirfd != AT_FDCWD ? -EBADF : fd;
}

static int policy_path(struct capsa_ip_req *q, const char *canon, bool modify)
{
    int r = capsa_ip_policy_path(q->s->a->policy, canon, modify);
    if (r == -ENOENT)
        return refuse(q, r, "hidden path");
    if (r == -EROFS)
        return refuse(q, r, "read-only path");
    return r;
}

/* Open the object (dirfd, path) O_PATH as the caller, and check it. */
/* The kernel resolves a procfs "self" or "thread-self" symlink for the
 * process that walks the path: for us, who have no pid in the container's
 * pid namespace, it resolves to nothing. A path reaching one through other
 * symlinks (Debian's /etc/mtab -> ../proc/self/mounts, /dev/fd ->
 * /proc/self/fd) therefore fails for us (ENOENT) where it works for the
 * caller. This walks such a path component by component, as the kernel
 * does, with the caller's pid for those two names, into an absolute path
 * without symlinks (but a last one left as is when nofollow); 1 when it
 * replaced something, 0 when it did not (the ENOENT was genuine). */
static int self_walk(struct capsa_ip_req *q, int base, const char *path, bool nofollow, char *out,
                     size_t size)
{
    char done[PATH_SIZE], work[2 * PATH_SIZE], tmp[2 * PATH_SIZE];
    if (path[0] == '/') {
        snprintf(done, sizeof done, "/");
    } else if (capsa_ip_fd_path(q->s, base, done, sizeof done) < 0 || done[0] != '/') {
        return 0;
    }
    if (snprintf(work, sizeof work, "%s", path) >= (int)sizeof work)
        return -ENAMETOOLONG;
    bool replaced = false;
    int hops = 0;
    char *p = work;
    while (*p) {
        while (*p == '/')
            p++;
        if (*p == '\0')
            break;
        char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char comp[256];
        if (len >= sizeof comp)
            return -ENAMETOOLONG;
        memcpy(comp, p, len);
        comp[len] = '\0';
        p += len;
        bool last = strspn(p, "/") == strlen(p);
        if (strcmp(comp, ".") == 0)
            continue;
        if (strcmp(comp, "..") == 0) {
            char *sl = strrchr(done, '/');
            if (sl != NULL && sl != done)
                *sl = '\0';
            else
                snprintf(done, sizeof done, "/");
            continue;
        }
        char cand[PATH_SIZE];
        if (snprintf(cand, sizeof cand, "%s/%s", strcmp(done, "/") == 0 ? "" : done, comp) >=
            (int)sizeof cand)
            return -ENAMETOOLONG;
        int fd = openat(q->s->rootfd, cand, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
            return replaced ? (snprintf(out, size, "%s%s", cand, p) < (int)size ? 1 : 0) : 0;
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISLNK(st.st_mode) || (last && nofollow)) {
            close(fd);
            snprintf(done, sizeof done, "%s", cand);
            continue;
        }
        if (++hops > 40) {
            close(fd);
            return -ELOOP;
        }
        /* procfs's own: its "self" cannot even be read by us. */
        char target[PATH_SIZE];
        struct statfs sf;
        struct stat dst;
        bool procroot = statfs(done, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC &&
                        stat(done, &dst) == 0 && dst.st_ino == 1;
        if (procroot && strcmp(comp, "self") == 0) {
            snprintf(target, sizeof target, "%d", (int)q->cred.nstgid);
            replaced = true;
        } else if (procroot && strcmp(comp, "thread-self") == 0) {
            snprintf(target, sizeof target, "%d/task/%d", (int)q->cred.nstgid, (int)q->cred.nspid);
            replaced = true;
        } else {
            ssize_t n = readlinkat(fd, "", target, sizeof target - 1);
            if (n < 0) {
                close(fd);
                return 0;
            }
            target[n] = '\0';
        }
        close(fd);
        if (target[0] == '/')
            snprintf(done, sizeof done, "/");
        if (snprintf(tmp, sizeof tmp, "%s%s", target, p) >= (int)sizeof tmp)
            return -ENAMETOOLONG;
        memcpy(work, tmp, strlen(tmp) + 1);
        p = work;
    }
    if (!replaced)
        return 0;
    return snprintf(out, size, "%s", done) < (int)size ? 1 : -ENAMETOOLONG;
}

static int open_object(struct capsa_ip_req *q, int dirfd, const char *path, bool nofollow,
                       bool empty_ok, int extra, uint64_t resolve, struct obj *o)
{
    o->fd = -1;
    o->canon[0] = '\0';
    o->st.st_mode = 0;
    int r;
    if (path[0] == '\0') {
        if (!empty_ok)
            return -ENOENT;
        if (dirfd == AT_FDCWD) {
            path = ".";
        } else {
            if ((o->fd = capsa_ip_getfd(q, dirfd)) < 0)
                return o->fd;
            goto opened;
        }
    }
    {
        cleanup_close int base = base_dir(q, dirfd, path);
        if (base < 0)
            return base;
        if ((r = capsa_ip_become(q, false)) < 0)
            return r;
        int how = O_PATH | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0) | extra;
        long fd = capsa_openat2(base, path, how, 0, resolve);
        char alt[PATH_SIZE];
        if (fd < 0 && errno == ENOENT && resolve == 0 &&
            self_walk(q, base, path, nofollow, alt, sizeof alt) == 1)
            fd = capsa_openat2(q->s->rootfd, alt, how, 0, 0);
        if (fd < 0) {
            int e = errno;
            return e > 0 ? -e : -EIO;
        }
        o->fd = (int)fd;
    }
opened:
    if ((r = capsa_ip_fd_path(q->s, o->fd, o->canon, sizeof o->canon)) < 0 ||
        fstat(o->fd, &o->st) < 0) {
        obj_close(o);
        return r < 0 ? r : -errno;
    }
    /* Only paths (not pipes, sockets, anonymous inodes) are in the policy's
     * terms. */
    if (o->canon[0] == '/' && (r = policy_path(q, o->canon, false)) < 0) {
        obj_close(o);
        return r;
    }
    return capsa_ip_become(q, false);
}

/* Open the parent of (dirfd, path) and check parent/name. */
static int open_entry(struct capsa_ip_req *q, int dirfd, const char *path, bool modify,
                      uint64_t resolve, struct entry *e)
{
    e->dirfd = -1;
    e->canon[0] = '\0';
    if (path[0] == '\0')
        return -ENOENT;
    char dir[PATH_SIZE];
    snprintf(dir, sizeof dir, "%s", path);
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        dir[--len] = '\0';
    bool trailing = len < strlen(path);
    char *slash = strrchr(dir, '/');
    const char *name;
    if (slash == NULL) {
        name = dir;
    } else {
        name = slash + 1;
    }
    size_t nlen = strlen(name);
    if (nlen + 1 >= sizeof e->name) /* room for a trailing slash (below) */
        return -ENAMETOOLONG;
    memcpy(e->name, name, nlen + 1);
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == dir)
        dir[1] = '\0'; /* "/name" */
    else
        *slash = '\0';
    if (e->name[0] == '\0') /* the path was "/" */
        snprintf(e->name, sizeof e->name, ".");
    int r;
    {
        cleanup_close int base = base_dir(q, dirfd, path);
        if (base < 0)
            return base;
        if ((r = capsa_ip_become(q, false)) < 0)
            return r;
        long fd = capsa_openat2(base, dir, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, resolve);
        if (fd < 0)
            return -errno;
        e->dirfd = (int)fd;
    }
    char parent[PATH_SIZE];
    if ((r = capsa_ip_fd_path(q->s, e->dirfd, parent, sizeof parent)) < 0) {
        entry_close(e);
        return r;
    }
    /* A last component "." or ".." names no entry: the kernel refuses every entry call on it
     * (mkdir, link, symlink, mknod, bind: EEXIST; unlink: EISDIR; rmdir: EINVAL or ENOTEMPTY;
     * rename: EBUSY; open with O_CREAT: EISDIR) without changing anything, so the call is made
     * for it to answer; only the hidden check applies, to the directory the rest names (if
     * "X/.." is hidden, X is under it). "X/." is not a canonical path, which the policy refuses
     * with EINVAL: busybox tar's mkdir("./") got that instead of EEXIST. */
    bool dot = strcmp(e->name, ".") == 0 || strcmp(e->name, "..") == 0;
    int n = dot ? snprintf(e->canon, sizeof e->canon, "%s", parent)
                : snprintf(e->canon, sizeof e->canon, "%s/%s",
                           strcmp(parent, "/") == 0 ? "" : parent, e->name);
    if (n < 0 || n >= (int)sizeof e->canon) {
        entry_close(e);
        return -ENAMETOOLONG;
    }
    if (parent[0] == '/' && (r = policy_path(q, e->canon, modify && !dot)) < 0) {
        entry_close(e);
        return r;
    }
    /* "name/": the call is made with the slash, for the kernel to answer as it does to one
     * (mkdir and rmdir act; creating anything else is ENOENT, or EISDIR for open with O_CREAT;
     * unlink of a file ENOTDIR) rather than act on "name": shutil.copyfile to "missing/"
     * created a file "missing". */
    if (trailing && !dot) {
        size_t end = strlen(e->name);
        e->name[end] = '/';
        e->name[end + 1] = '\0';
    }
    return capsa_ip_become(q, false);
}

/* "self/fd/N": our fd N, for the calls that take only a path (relative to
 * our cwd, which is our procfs). */
static void self_fd(char *buf, size_t size, int fd)
{
    snprintf(buf, size, "self/fd/%d", fd);
}

/* --- device nodes --- */

static bool standard_device(dev_t rdev, bool chr)
{
    if (!chr)
        return false;
    unsigned ma = major(rdev), mi = minor(rdev);
    if (ma == 1 && (mi == 3 || mi == 5 || mi == 7 || mi == 8 || mi == 9))
        return true; /* null zero full random urandom */
    if (ma == 5 && (mi == 0 || mi == 2))
        return true;               /* tty ptmx */
    return ma >= 136 && ma <= 143; /* pts */
}

/* Calls that may wait on another process (a blocking connect: a TCP peer
 * that does not answer, a unix listener whose backlog is full; a FIFO
 * opened without O_NONBLOCK, until the other side opens it) are made by a
 * thread of ours, which answers the notification itself: the container's
 * other brokered calls go on meanwhile. A thread starts with a copy of the
 * creating thread's credentials (fs ids, groups, capabilities: the
 * caller's, taken just before), which the main thread's later changes do
 * not touch; it shares our cwd (our procfs, for self/fd/N paths) and
 * changes neither. */
enum async_kind {
    ASYNC_CONNECT,
    ASYNC_OPEN
};

struct async_job {
    enum async_kind kind;
    int nfd; /* a dup of the listener */
    uint64_t id;
    int fd;  /* connect: the socket; open: the FIFO (O_PATH) */
    int pin; /* connect: the unix socket's inode, named in sa; -1 */
    int procfd;
    int flags; /* open */
    unsigned addfd_flags;
    struct sockaddr_storage sa;
    socklen_t len;
};

static void *async_thread(void *arg)
{
    struct async_job *a = arg;
    struct seccomp_notif_resp resp = {.id = a->id};
    if (a->kind == ASYNC_CONNECT) {
        if (connect(a->fd, (struct sockaddr *)&a->sa, a->len) < 0)
            resp.error = -errno;
        (void)ioctl(a->nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
    } else {
        char p[32];
        self_fd(p, sizeof p, a->fd);
        int fd = openat(a->procfd, p, a->flags);
        if (fd < 0) {
            resp.error = -errno;
            (void)ioctl(a->nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
        } else {
            struct seccomp_notif_addfd af = {.id = a->id,
                                             .flags = SECCOMP_ADDFD_FLAG_SEND,
                                             .srcfd = (uint32_t)fd,
                                             .newfd_flags = a->addfd_flags};
            if (ioctl(a->nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &af) < 0 && errno != ENOENT) {
                resp.error = -EMFILE;
                (void)ioctl(a->nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
            }
            close(fd);
        }
    }
    close(a->fd);
    if (a->pin >= 0)
        close(a->pin);
    close(a->nfd);
    free(a);
    return NULL;
}

/* Hand a to a thread; it owns a's fds from then on (on error too). */
static int async_start(struct capsa_ip_req *q, struct async_job *a)
{
    a->id = q->n->id;
    a->nfd = fcntl(q->nfd, F_DUPFD_CLOEXEC, 0);
    int e = a->nfd < 0 ? errno : 0;
    if (e == 0) {
        pthread_attr_t at;
        pthread_t t;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, (size_t)64 * 1024);
        e = pthread_create(&t, &at, async_thread, a);
        pthread_attr_destroy(&at);
        if (e == 0) {
            q->async = true;
            return 0;
        }
    }
    close(a->fd);
    if (a->pin >= 0)
        close(a->pin);
    if (a->nfd >= 0)
        close(a->nfd);
    free(a);
    return -e;
}

/* --- open --- */

/* A blocking open of a FIFO, by a thread (above). 0: the thread answers. */
static int fifo_async(struct capsa_ip_req *q, struct obj *o, int flags)
{
    struct async_job *a = calloc(1, sizeof *a);
    if (a == NULL)
        return -ENOMEM;
    a->kind = ASYNC_OPEN;
    a->fd = steal_fd(o->fd);
    a->pin = -1;
    a->procfd = q->s->procfd;
    a->flags = (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC | O_NOCTTY;
    a->addfd_flags = q->addfd_flags;
    return async_start(q, a);
}

static int reopen(struct capsa_ip_req *q, struct obj *o, int flags)
{
    char p[32];
    self_fd(p, sizeof p, o->fd);
    /* A FIFO opened blocking went to a thread (fifo_async); truncate's
     * O_WRONLY of one must not wait here either. */
    bool fifo = S_ISFIFO(o->st.st_mode);
    int f = (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC | O_NOCTTY;
    if (fifo)
        f |= O_NONBLOCK;
    int fd = openat(q->s->procfd, p, f);
    if (fd < 0)
        return -errno;
    if (fifo && !(flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

/* A file we serve from the container's cgroup (vfile.h) instead of the
 * kernel's: 1 when q->addfd is set, 0 for the real file. */
static int serve_vfile(struct capsa_ip_req *q, struct obj *o)
{
    if (q->s->vsrc == NULL || !S_ISREG(o->st.st_mode) ||
        (strncmp(o->canon, "/proc/", 6) != 0 && strncmp(o->canon, "/sys/", 5) != 0))
        return 0;
    struct statfs sf;
    if (fstatfs(o->fd, &sf) < 0 || (sf.f_type != PROC_SUPER_MAGIC && sf.f_type != SYSFS_MAGIC))
        return 0;
    int f = capsa_ip_vfile_lookup(o->canon);
    if (f < 0)
        return 0;
    cleanup_free char *buf = NULL;
    size_t len = 0;
    struct capsa_err err = {0};
    if (capsa_ip_admin(q->s) < 0 ||
        capsa_ip_vfile_render(q->s->vsrc, (enum capsa_ip_vfile)f, &buf, &len, &err) < 0)
        return 0; /* the real file, rather than none */
    int fd = capsa_ip_vfile_memfd(q->s->procfd, o->canon, buf, len, &err);
    if (fd < 0)
        return 0;
    q->addfd = fd;
    return 1;
}

/* The path the symlink entry e points to, absolute (from e's directory's
 * canonical path when it is relative): 0, or -ELOOP when e is no symlink. */
static int link_target(const struct entry *e, char *out)
{
    char t[PATH_SIZE];
    ssize_t n = readlinkat(e->dirfd, e->name, t, sizeof t - 1);
    if (n <= 0 || e->canon[0] != '/')
        return -ELOOP;
    t[n] = '\0';
    /* e->canon is the directory, "/" and the name ("/name" in the root). */
    int dl = (int)(strlen(e->canon) - strlen(e->name) - 1);
    int w = t[0] == '/' ? snprintf(out, PATH_SIZE, "%s", t)
                        : snprintf(out, PATH_SIZE, "%.*s/%s", dl, e->canon, t);
    return w >= PATH_SIZE ? -ENAMETOOLONG : 0;
}

static int do_open(struct capsa_ip_req *q, int dirfd, uint64_t paddr, int flags, mode_t mode,
                   uint64_t resolve)
{
    char path[PATH_SIZE], scratch[PATH_SIZE];
    int r = read_path(q, paddr, path, scratch);
    if (r < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    int acc = flags & O_ACCMODE;
    bool modify = acc != O_RDONLY || (flags & O_TRUNC);
    bool tmpfile = (flags & O_TMPFILE) == O_TMPFILE;
    bool creat = (flags & O_CREAT) && !tmpfile;
    q->addfd_flags = (flags & O_CLOEXEC) ? O_CLOEXEC : 0;
    /* With O_CREAT, a trailing "/" is EISDIR whatever is there (the kernel's answer once the
     * parent is found): the entry's call gives it. */
    size_t plen = strlen(path);
    bool slash_end = plen > 0 && path[plen - 1] == '/';
    struct obj o = {.fd = -1};
    if (!(creat && ((flags & O_EXCL) || slash_end))) {
        r = open_object(q, dirfd, path, (flags & O_NOFOLLOW) != 0, false,
                        tmpfile ? O_DIRECTORY : (flags & O_DIRECTORY), resolve, &o);
        if (r == -ENOENT && creat && q->reason == NULL)
            goto create;
        if (r < 0)
            return r;
        if (S_ISLNK(o.st.st_mode) && !(flags & O_PATH)) {
            obj_close(&o);
            return -ELOOP;
        }
        if (creat && S_ISDIR(o.st.st_mode)) {
            obj_close(&o);
            return -EISDIR;
        }
        if ((modify || tmpfile) && o.canon[0] == '/' && (r = policy_path(q, o.canon, true)) < 0) {
            obj_close(&o);
            return r;
        }
        if ((S_ISCHR(o.st.st_mode) || S_ISBLK(o.st.st_mode)) && !(flags & O_PATH) &&
            !q->s->a->policy->all_devices &&
            !standard_device(o.st.st_rdev, S_ISCHR(o.st.st_mode))) {
            obj_close(&o);
            return refuse(q, -EPERM, "device node");
        }
        if (!modify && !(flags & O_PATH) && serve_vfile(q, &o) == 1) {
            obj_close(&o);
            return 0;
        }
        if (flags & O_PATH) {
            /* The kernel installs no O_PATH file in another process: SECCOMP_IOCTL_NOTIF_ADDFD
             * takes its file with fget(), which refuses them (EBADF). A directory or a regular
             * file is handed opened for reading instead, as the caller (EACCES where it may not
             * read it), which serves what O_PATH is used for (an *at anchor, fstat, fchdir,
             * /proc/self/fd/N) but shows O_RDONLY to fcntl(F_GETFL); anything else (a symlink
             * with O_NOFOLLOW, a device, a FIFO, a socket) is EOPNOTSUPP, which is what glibc's
             * fchmodat(AT_SYMLINK_NOFOLLOW), the common O_PATH user, answers for a symlink. */
            if (!S_ISDIR(o.st.st_mode) && !S_ISREG(o.st.st_mode)) {
                obj_close(&o);
                return -EOPNOTSUPP;
            }
            r = reopen(q, &o, O_RDONLY);
            obj_close(&o);
            if (r < 0)
                return r;
            q->addfd = r;
            return 0;
        }
        if (S_ISFIFO(o.st.st_mode) && !(flags & O_NONBLOCK))
            return fifo_async(q, &o, flags); /* 0: the thread answers */
        if (tmpfile) {
            char p[32];
            self_fd(p, sizeof p, o.fd);
            r = openat(q->s->procfd, p, flags | O_CLOEXEC, mode);
            r = r < 0 ? -errno : r;
        } else {
            r = reopen(q, &o, flags);
        }
        obj_close(&o);
        if (r < 0)
            return r;
        q->addfd = r;
        return 0;
    }
create:;
    /* O_CREAT on a symlink to nothing creates its target, as the kernel
     * does: the link is followed from its directory's canonical path, and
     * the entry it names is checked like any other. */
    const char *p = path;
    char hop[PATH_SIZE];
    for (int hops = 0;; hops++) {
        struct entry e;
        if ((r = open_entry(q, dirfd, p, true, resolve, &e)) < 0)
            return r;
        int fd = openat(e.dirfd, e.name, flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
        r = fd < 0 ? -errno : 0;
        if (r == -ELOOP && !(flags & (O_NOFOLLOW | O_EXCL)) && resolve == 0 && hops < 40 &&
            link_target(&e, hop) == 0) {
            entry_close(&e);
            p = hop;
            dirfd = AT_FDCWD;
            continue;
        }
        entry_close(&e);
        if (r < 0)
            return r;
        q->addfd = fd;
        return 0;
    }
}

/* --- stat, access, readlink, statfs --- */

/* fstat(2) as glibc 2.33+ makes it: newfstatat(fd, "", buf, AT_EMPTY_PATH)
 * (statx alike). The caller holds the fd, and the kernel asks no permission
 * to stat an open file: no identity, no policy, only the caller's fd
 * reopened O_PATH through our procfs (the same inode). Returns 1 when it was
 * that form (r in *res), 0 otherwise. */
static int own_fd(struct capsa_ip_req *q, int dirfd, uint64_t paddr, int flags, int *fd)
{
    if (!(flags & AT_EMPTY_PATH) || dirfd < 0)
        return 0;
    char c;
    if (capsa_ip_mem_read(q, paddr, &c, 1) < 0 || c != '\0')
        return 0;
    char p[48];
    snprintf(p, sizeof p, "%u/fd/%d", q->n->pid, dirfd);
    *fd = capsa_ip_proc_open(q, p, O_PATH);
    if (*fd == -ENOENT)
        *fd = -EBADF;
    return 1;
}

/* The stat of an fd: glibc 2.33 and later make every fstat(fd) a newfstatat(fd, "",
 * AT_EMPTY_PATH), the most frequent brokered call of most programs. No path is resolved and no
 * permission checked, so neither the caller's identity (its /proc status, two capsets) nor a
 * copy of its fd (pidfd_open, pidfd_getfd) is needed: the fd is reopened O_PATH through our
 * procfs (/proc/<tid>/fd/N, the calling thread's table), about half the supervisor's work of a
 * brokered call (docs/performance.md). */
static int fd_object(struct capsa_ip_req *q, int fd, struct obj *o)
{
    o->fd = -1;
    int r;
    char p[64];
    snprintf(p, sizeof p, "%u/fd/%d", q->n->pid, fd);
    o->fd = capsa_ip_proc_open(q, p, O_PATH);
    if (o->fd < 0) {
        r = o->fd;
        o->fd = -1;
        return r == -ENOENT ? -EBADF : r;
    }
    if ((r = capsa_ip_fd_path(q->s, o->fd, o->canon, sizeof o->canon)) < 0 ||
        fstat(o->fd, &o->st) < 0) {
        obj_close(o);
        return r < 0 ? r : -errno;
    }
    if (o->canon[0] == '/' && (r = policy_path(q, o->canon, false)) < 0) {
        obj_close(o);
        return r;
    }
    return 0;
}

/* The object of a stat call: an fd (fd_object) or a path resolved as the caller. */
static int stat_object(struct capsa_ip_req *q, int dirfd, const char *path, int flags,
                       struct obj *o)
{
    if (path[0] == '\0' && (flags & AT_EMPTY_PATH) && dirfd != AT_FDCWD)
        return fd_object(q, dirfd, o);
    return open_object(q, dirfd, path, flags & AT_SYMLINK_NOFOLLOW, flags & AT_EMPTY_PATH, 0, 0, o);
}

static int do_stat(struct capsa_ip_req *q, int dirfd, uint64_t paddr, int flags, uint64_t buf)
{
    int ofd;
    if (own_fd(q, dirfd, paddr, flags, &ofd)) {
        if (ofd < 0)
            return ofd;
        struct stat st;
        int r = fstat(ofd, &st) < 0 ? -errno : 0;
        close(ofd);
        if (r == 0 && (r = capsa_ip_still_valid(q)) == 0)
            r = capsa_ip_mem_write(q, buf, &st, sizeof st);
        return r;
    }
    char path[PATH_SIZE], scratch[PATH_SIZE];
    int r = read_path(q, paddr, path, scratch);
    if (r < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    struct obj o;
    if ((r = stat_object(q, dirfd, path, flags, &o)) < 0)
        return r;
    struct stat st = o.st;
    obj_close(&o);
    return capsa_ip_mem_write(q, buf, &st, sizeof st);
}

static int do_statx(struct capsa_ip_req *q)
{
    int dirfd = (int)arg(q, 0), flags = (int)arg(q, 2);
    unsigned mask = (unsigned)arg(q, 3);
    int ofd;
    if (own_fd(q, dirfd, arg(q, 1), flags, &ofd)) {
        if (ofd < 0)
            return ofd;
        struct statx stx;
        int r = statx(ofd, "", AT_EMPTY_PATH | (flags & AT_STATX_SYNC_TYPE), mask, &stx) < 0
                    ? -errno
                    : 0;
        close(ofd);
        if (r == 0 && (r = capsa_ip_still_valid(q)) == 0)
            r = capsa_ip_mem_write(q, arg(q, 4), &stx, sizeof stx);
        return r;
    }
    char path[PATH_SIZE], scratch[PATH_SIZE];
    int r = read_path(q, arg(q, 1), path, scratch);
    if (r < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    struct obj o;
    if ((r = stat_object(q, dirfd, path, flags, &o)) < 0)
        return r;
    struct statx stx;
    r = statx(o.fd, "", AT_EMPTY_PATH | (flags & AT_STATX_SYNC_TYPE), mask, &stx);
    r = r < 0 ? -errno : 0;
    obj_close(&o);
    if (r < 0)
        return r;
    return capsa_ip_mem_write(q, arg(q, 4), &stx, sizeof stx);
}

static int do_access(struct capsa_ip_req *q, int dirfd, uint64_t paddr, int mode, int flags)
{
    char path[PATH_SIZE], scratch[PATH_SIZE];
    int r = read_path(q, paddr, path, scratch);
    if (r < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    if (mode & ~(R_OK | W_OK | X_OK))
        return -EINVAL;
    struct obj o;
    if ((r = open_object(q, dirfd, path, flags & AT_SYMLINK_NOFOLLOW, flags & AT_EMPTY_PATH, 0, 0,
                         &o)) < 0)
        return r;
    if ((mode & W_OK) && o.canon[0] == '/' && (r = policy_path(q, o.canon, true)) < 0) {
        obj_close(&o);
        return r;
    }
    if ((r = capsa_ip_become(q, !(flags & AT_EACCESS))) == 0) {
        char p[32];
        self_fd(p, sizeof p, o.fd);
        if (syscall(SYS_faccessat2, q->s->procfd, p, mode, AT_EACCESS) < 0)
            r = -errno;
    }
    obj_close(&o);
    return r;
}

static int do_readlink(struct capsa_ip_req *q, int dirfd, uint64_t paddr, uint64_t buf, long size)
{
    char path[PATH_SIZE], scratch[PATH_SIZE];
    int r = read_path(q, paddr, path, scratch);
    if (r < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    if (size <= 0)
        return -EINVAL;
    struct obj o;
    if ((r = open_object(q, dirfd, path, true, false, 0, 0, &o)) < 0)
        return r;
    char target[PATH_SIZE];
    ssize_t n = S_ISLNK(o.st.st_mode) ? readlinkat(o.fd, "", target, sizeof target) : -2;
    int e = errno;
    obj_close(&o);
    if (n == -2)
        return -EINVAL;
    if (n < 0)
        return -e;
    if (n > size)
        n = size;
    if ((r = capsa_ip_mem_write(q, buf, target, (size_t)n)) < 0)
        return r;
    return (int)n;
}

static int do_statfs(struct capsa_ip_req *q)
{
    char path[PATH_SIZE], scratch[PATH_SIZE];
    int r = read_path(q, arg(q, 0), path, scratch);
    if (r < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    struct obj o;
    if ((r = open_object(q, AT_FDCWD, path, false, false, 0, 0, &o)) < 0)
        return r;
    struct statfs sf;
    r = fstatfs(o.fd, &sf) < 0 ? -errno : 0;
    obj_close(&o);
    if (r < 0)
        return r;
    return capsa_ip_mem_write(q, arg(q, 1), &sf, sizeof sf);
}

/* --- entries: mkdir, mknod, unlink, rename, link, symlink --- */

/* The caller's path at paddr (from dirfd), still waiting, its parent
 * opened and checked for a change: the common start of the entry calls. */
static int modify_entry(struct capsa_ip_req *q, int dirfd, uint64_t paddr, struct entry *e)
{
    char path[PATH_SIZE], scratch[PATH_SIZE];
    e->dirfd = -1;
    int r = read_path(q, paddr, path, scratch);
    if (r < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    return open_entry(q, dirfd, path, true, 0, e);
}

static int do_mkdir(struct capsa_ip_req *q, int dirfd, uint64_t paddr, mode_t mode)
{
    struct entry e;
    int r = modify_entry(q, dirfd, paddr, &e);
    if (r < 0)
        return r;
    r = mkdirat(e.dirfd, e.name, mode) < 0 ? -errno : 0;
    entry_close(&e);
    return r;
}

static int do_mknod(struct capsa_ip_req *q, int dirfd, uint64_t paddr, mode_t mode, dev_t dev)
{
    struct entry e;
    int r = modify_entry(q, dirfd, paddr, &e);
    if (r < 0)
        return r;
    if ((S_ISCHR(mode) || S_ISBLK(mode)) && !q->s->a->policy->all_devices) {
        entry_close(&e);
        return refuse(q, -EPERM, "device node");
    }
    r = mknodat(e.dirfd, e.name, mode, dev) < 0 ? -errno : 0;
    entry_close(&e);
    return r;
}

static int do_unlink(struct capsa_ip_req *q, int dirfd, uint64_t paddr, int flags)
{
    struct entry e;
    int r = modify_entry(q, dirfd, paddr, &e);
    if (r < 0)
        return r;
    r = unlinkat(e.dirfd, e.name, flags) < 0 ? -errno : 0;
    entry_close(&e);
    return r;
}

static int do_rename(struct capsa_ip_req *q, int odir, uint64_t oaddr, int ndir, uint64_t naddr,
                     unsigned flags)
{
    char op[PATH_SIZE], np[PATH_SIZE], scratch[PATH_SIZE];
    int r = read_path(q, oaddr, op, scratch);
    if (r < 0 || (r = read_path(q, naddr, np, scratch)) < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    struct entry a, b;
    if ((r = open_entry(q, odir, op, true, 0, &a)) < 0)
        return r;
    if ((r = open_entry(q, ndir, np, true, 0, &b)) < 0) {
        entry_close(&a);
        return r;
    }
    /* A directory above a policy path, moved away or replaced, would take
     * what the policy names to a path it does not name. */
    if ((a.canon[0] == '/' && capsa_ip_policy_holds(q->s->a->policy, a.canon) < 0) ||
        (b.canon[0] == '/' && capsa_ip_policy_holds(q->s->a->policy, b.canon) < 0)) {
        entry_close(&a);
        entry_close(&b);
        return refuse(q, -EPERM, "rename of a directory holding a hidden or read-only path");
    }
    r = renameat2(a.dirfd, a.name, b.dirfd, b.name, flags) < 0 ? -errno : 0;
    entry_close(&a);
    entry_close(&b);
    return r;
}

static int do_link(struct capsa_ip_req *q, int odir, uint64_t oaddr, int ndir, uint64_t naddr,
                   int flags)
{
    char op[PATH_SIZE], np[PATH_SIZE], scratch[PATH_SIZE];
    int r = read_path(q, oaddr, op, scratch);
    if (r < 0 || (r = read_path(q, naddr, np, scratch)) < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    /* The source is an object: a new name for a read-only (or hidden)
     * file elsewhere would let it be written through that name. */
    struct obj o;
    if ((r = open_object(q, odir, op, !(flags & AT_SYMLINK_FOLLOW), flags & AT_EMPTY_PATH, 0, 0,
                         &o)) < 0)
        return r;
    if (o.canon[0] == '/' && (r = policy_path(q, o.canon, true)) < 0) {
        obj_close(&o);
        return r == -EROFS ? refuse(q, -EPERM, "link to a read-only path") : r;
    }
    struct entry b;
    if ((r = open_entry(q, ndir, np, true, 0, &b)) < 0) {
        obj_close(&o);
        return r;
    }
    /* Linking an O_PATH fd by AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH,
     * which the caller may not have: go through our procfs instead, which
     * links the file itself (AT_SYMLINK_FOLLOW on self/fd/N). */
    char p[32];
    self_fd(p, sizeof p, o.fd);
    r = linkat(q->s->procfd, p, b.dirfd, b.name, AT_SYMLINK_FOLLOW) < 0 ? -errno : 0;
    obj_close(&o);
    entry_close(&b);
    return r;
}

static int do_symlink(struct capsa_ip_req *q, uint64_t taddr, int ndir, uint64_t naddr)
{
    char target[PATH_SIZE], np[PATH_SIZE], scratch[PATH_SIZE];
    int r = capsa_ip_mem_string(q, taddr, target, sizeof target);
    if (r < 0 || (r = read_path(q, naddr, np, scratch)) < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    struct entry e;
    if ((r = open_entry(q, ndir, np, true, 0, &e)) < 0)
        return r;
    r = symlinkat(target, e.dirfd, e.name) < 0 ? -errno : 0;
    entry_close(&e);
    return r;
}

/* --- changes to an object --- */

static int modify_object(struct capsa_ip_req *q, int dirfd, uint64_t paddr, bool nofollow,
                         bool empty_ok, struct obj *o)
{
    char path[PATH_SIZE], scratch[PATH_SIZE];
    int r = read_path(q, paddr, path, scratch);
    if (r < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    if ((r = open_object(q, dirfd, path, nofollow, empty_ok, 0, 0, o)) < 0)
        return r;
    if (o->canon[0] == '/' && (r = policy_path(q, o->canon, true)) < 0) {
        obj_close(o);
        return r;
    }
    return 0;
}

static int do_chmod(struct capsa_ip_req *q, int dirfd, uint64_t paddr, mode_t mode, int flags)
{
    struct obj o;
    int r = modify_object(q, dirfd, paddr, flags & AT_SYMLINK_NOFOLLOW, false, &o);
    if (r < 0)
        return r;
    if (S_ISLNK(o.st.st_mode)) {
        obj_close(&o);
        return -EOPNOTSUPP;
    }
    char p[32];
    self_fd(p, sizeof p, o.fd);
    r = fchmodat(q->s->procfd, p, mode, 0) < 0 ? -errno : 0;
    obj_close(&o);
    return r;
}

static int do_chown(struct capsa_ip_req *q, int dirfd, uint64_t paddr, uid_t uid, gid_t gid,
                    int flags)
{
    struct obj o;
    int r = modify_object(q, dirfd, paddr, flags & AT_SYMLINK_NOFOLLOW, flags & AT_EMPTY_PATH, &o);
    if (r < 0)
        return r;
    r = fchownat(o.fd, "", uid, gid, AT_EMPTY_PATH) < 0 ? -errno : 0;
    obj_close(&o);
    return r;
}

static int do_truncate(struct capsa_ip_req *q)
{
    struct obj o;
    int r = modify_object(q, AT_FDCWD, arg(q, 0), false, false, &o);
    if (r < 0)
        return r;
    if (S_ISDIR(o.st.st_mode)) {
        obj_close(&o);
        return -EISDIR;
    }
    int fd = reopen(q, &o, O_WRONLY);
    obj_close(&o);
    if (fd < 0)
        return fd;
    r = ftruncate(fd, (off_t)arg(q, 1)) < 0 ? -errno : 0;
    close(fd);
    return r;
}

static int do_utimens(struct capsa_ip_req *q, int dirfd, uint64_t paddr, const struct timespec *ts,
                      int flags)
{
    struct obj o;
    int r = modify_object(q, dirfd, paddr, flags & AT_SYMLINK_NOFOLLOW, flags & AT_EMPTY_PATH, &o);
    if (r < 0)
        return r;
    char p[32];
    self_fd(p, sizeof p, o.fd);
    r = utimensat(q->s->procfd, p, ts, 0) < 0 ? -errno : 0;
    obj_close(&o);
    return r;
}

static int utimes_args(struct capsa_ip_req *q, uint64_t addr, bool timeval, struct timespec ts[2],
                       const struct timespec **out)
{
    *out = NULL;
    if (addr == 0)
        return 0;
    if (timeval) {
        struct timeval tv[2];
        int r = capsa_ip_mem_read(q, addr, tv, sizeof tv);
        if (r < 0)
            return r;
        for (int i = 0; i < 2; i++) {
            if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
                return -EINVAL;
            ts[i].tv_sec = tv[i].tv_sec;
            ts[i].tv_nsec = tv[i].tv_usec * 1000;
        }
    } else {
        int r = capsa_ip_mem_read(q, addr, ts, 2 * sizeof *ts);
        if (r < 0)
            return r;
    }
    *out = ts;
    return 0;
}

static int do_utime(struct capsa_ip_req *q)
{
    struct timespec ts[2];
    const struct timespec *t = NULL;
    if (arg(q, 1) != 0) {
        struct utimbuf ub;
        int r = capsa_ip_mem_read(q, arg(q, 1), &ub, sizeof ub);
        if (r < 0)
            return r;
        ts[0] = (struct timespec){.tv_sec = ub.actime};
        ts[1] = (struct timespec){.tv_sec = ub.modtime};
        t = ts;
    }
    return do_utimens(q, AT_FDCWD, arg(q, 0), t, 0);
}

/* --- extended attributes --- */

static int do_xattr(struct capsa_ip_req *q, int nr)
{
    bool nofollow = nr == SYS_lgetxattr || nr == SYS_lsetxattr || nr == SYS_llistxattr ||
                    nr == SYS_lremovexattr;
    bool set = nr == SYS_setxattr || nr == SYS_lsetxattr;
    bool remove = nr == SYS_removexattr || nr == SYS_lremovexattr;
    bool list = nr == SYS_listxattr || nr == SYS_llistxattr;
    struct obj o;
    int r;
    if (set || remove) {
        r = modify_object(q, AT_FDCWD, arg(q, 0), nofollow, false, &o);
    } else {
        char path[PATH_SIZE], scratch[PATH_SIZE];
        r = read_path(q, arg(q, 0), path, scratch);
        if (r == 0)
            r = capsa_ip_still_valid(q);
        if (r == 0)
            r = open_object(q, AT_FDCWD, path, nofollow, false, 0, 0, &o);
    }
    if (r < 0)
        return r;
    char name[256] = "";
    cleanup_free char *value = NULL;
    size_t size = list ? (size_t)arg(q, 2) : remove ? 0 : (size_t)arg(q, 3);
    if (size > 65536)
        size = 65536;
    if (!list && (r = capsa_ip_mem_string(q, arg(q, 1), name, sizeof name)) < 0)
        goto out;
    if (size > 0 && (value = malloc(size)) == NULL) {
        r = -ENOMEM;
        goto out;
    }
    if (S_ISLNK(o.st.st_mode)) {
        /* No calls on a symlink's own attributes through an fd here: the
         * user.* ones, the only ones a container sets, are not allowed on
         * symlinks anyway. */
        r = set || remove ? -EPERM : list ? 0 : -ENODATA;
        goto out;
    }
    char p[32];
    self_fd(p, sizeof p, o.fd);
    /* Relative to our cwd, our procfs. */
    ssize_t n;
    if (set) {
        if ((r = capsa_ip_mem_read(q, arg(q, 2), value, size)) < 0)
            goto out;
        n = setxattr(p, name, value, size, (int)arg(q, 4));
    } else if (remove) {
        n = removexattr(p, name);
    } else if (list) {
        n = listxattr(p, value, size);
    } else {
        n = getxattr(p, name, value, size);
    }
    if (n < 0) {
        r = -errno;
        goto out;
    }
    if (!set && !remove && size > 0 &&
        (r = capsa_ip_mem_write(q, list ? arg(q, 1) : arg(q, 2), value, (size_t)n)) < 0)
        goto out;
    r = (int)n;
out:
    obj_close(&o);
    return r;
}

static int do_inotify(struct capsa_ip_req *q)
{
    uint32_t mask = (uint32_t)arg(q, 2);
    char path[PATH_SIZE], scratch[PATH_SIZE];
    int r = read_path(q, arg(q, 1), path, scratch);
    if (r < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    cleanup_close int ifd = capsa_ip_getfd(q, (int)arg(q, 0));
    if (ifd < 0)
        return ifd;
    struct obj o;
    if ((r = open_object(q, AT_FDCWD, path, mask & IN_DONT_FOLLOW, false,
                         (mask & IN_ONLYDIR) ? O_DIRECTORY : 0, 0, &o)) < 0)
        return r;
    char p[32];
    self_fd(p, sizeof p, o.fd);
    r = inotify_add_watch(ifd, p, mask & ~(uint32_t)IN_DONT_FOLLOW);
    r = r < 0 ? -errno : r;
    obj_close(&o);
    return r;
}

/* --- sockets --- */

/* A unix socket path, as a name for the object (connect, sendto) or the
 * entry (bind), rewritten to a path relative to our procfs. */
static int unix_path(struct capsa_ip_req *q, struct sockaddr_un *sun, socklen_t *len, bool bind_,
                     int *pin)
{
    *pin = -1;
    size_t plen = *len - offsetof(struct sockaddr_un, sun_path);
    char path[PATH_SIZE];
    if (plen >= sizeof sun->sun_path)
        plen = sizeof sun->sun_path;
    memcpy(path, sun->sun_path, plen);
    path[plen] = '\0';
    memcpy(q->audit_path, path, plen < sizeof q->audit_path ? plen + 1 : sizeof q->audit_path);
    q->audit_path[sizeof q->audit_path - 1] = '\0';
    q->path = q->audit_path;
    int r;
    char rel[sizeof sun->sun_path];
    if (bind_) {
        struct entry e;
        if ((r = open_entry(q, AT_FDCWD, path, true, 0, &e)) < 0)
            return r;
        if (snprintf(rel, sizeof rel, "self/fd/%d/%s", e.dirfd, e.name) >= (int)sizeof rel) {
            entry_close(&e);
            return -ENAMETOOLONG;
        }
        *pin = e.dirfd;
    } else {
        struct obj o;
        if ((r = open_object(q, AT_FDCWD, path, false, false, 0, 0, &o)) < 0)
            return r == -ENOENT ? -ENOENT : r;
        if (!S_ISSOCK(o.st.st_mode)) {
            obj_close(&o);
            return -ECONNREFUSED;
        }
        snprintf(rel, sizeof rel, "self/fd/%d", o.fd);
        *pin = o.fd;
    }
    memset(sun->sun_path, 0, sizeof sun->sun_path);
    memcpy(sun->sun_path, rel, strlen(rel));
    *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(rel) + 1);
    return 0;
}

static int connect_async(struct capsa_ip_req *q, int *sfd, int *pin, const struct sockaddr *sa,
                         socklen_t len)
{
    struct async_job *a = calloc(1, sizeof *a);
    if (a == NULL)
        return -ENOMEM;
    a->kind = ASYNC_CONNECT;
    a->fd = steal_fd(*sfd);
    a->pin = steal_fd(*pin);
    memcpy(&a->sa, sa, len);
    a->len = len;
    return async_start(q, a);
}

static int do_sock(struct capsa_ip_req *q, int nr)
{
    bool is_sendto = nr == SYS_sendto;
    int fd = (int)arg(q, 0);
    uint64_t aaddr = is_sendto ? arg(q, 4) : arg(q, 1);
    socklen_t alen = (socklen_t)(is_sendto ? arg(q, 5) : arg(q, 2));
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (alen > sizeof ss)
        return -EINVAL;
    int r = capsa_ip_mem_read(q, aaddr, &ss, alen);
    if (r < 0 || (r = capsa_ip_still_valid(q)) < 0)
        return r;
    cleanup_close int sfd = capsa_ip_getfd(q, fd);
    if (sfd < 0)
        return sfd == -EBADF ? -EBADF : sfd;
    int pin = -1;
    struct sockaddr *sa = (struct sockaddr *)&ss;
    if (alen >= sizeof(sa_family_t) && sa->sa_family == AF_UNIX &&
        alen > offsetof(struct sockaddr_un, sun_path) && ((struct sockaddr_un *)sa)->sun_path[0]) {
        if ((r = unix_path(q, (struct sockaddr_un *)sa, &alen, nr == SYS_bind, &pin)) < 0)
            return r;
    } else if (nr != SYS_bind && capsa_ip_policy_addr(q->s->a->policy, sa, alen) < 0) {
        return refuse(q, -EACCES, "egress policy");
    }
    if ((r = capsa_ip_become(q, false)) < 0) {
        capsa_close(&pin);
        return r;
    }
    cleanup_free char *data = NULL;
    size_t dlen = is_sendto ? (size_t)arg(q, 2) : 0;
    if (dlen > (1u << 20))
        dlen = 1u << 20;
    if (is_sendto && dlen > 0 &&
        ((data = malloc(dlen)) == NULL || (r = capsa_ip_mem_read(q, arg(q, 1), data, dlen)) < 0)) {
        capsa_close(&pin);
        return data == NULL ? -ENOMEM : r;
    }
    long v;
    if (nr == SYS_connect && !(fcntl(sfd, F_GETFL) & O_NONBLOCK)) {
        r = connect_async(q, &sfd, &pin, sa, alen);
        return r; /* 0: answered by the thread */
    }
    if (nr == SYS_bind)
        v = bind(sfd, sa, alen);
    else if (nr == SYS_connect)
        v = connect(sfd, sa, alen);
    else
        v = sendto(sfd, data, dlen, (int)arg(q, 3), sa, alen);
    r = v < 0 ? -errno : (int)v;
    capsa_close(&pin);
    return r;
}

/* sendmsg, brokered only with an egress policy. The kernel ignores
 * msg_name for a stream inet socket unless MSG_FASTOPEN is in the flags (a
 * register, not memory), and a unix or netlink socket cannot reach the
 * network (a unix path is held by the mount namespace, where hidden paths
 * are masked): for those the call goes on in the kernel, a decision taken
 * from the fd and the flags alone, which the caller cannot change after the
 * check. A datagram inet send is performed here from a copy: its address
 * checked, its data copied; control messages (fds and the like) with it
 * are refused. */
static int do_sendmsg(struct capsa_ip_req *q)
{
    int flags = (int)arg(q, 2);
    cleanup_close int sfd = capsa_ip_getfd(q, (int)arg(q, 0));
    if (sfd < 0)
        return sfd;
    int domain = 0, type = 0;
    socklen_t l1 = sizeof domain, l2 = sizeof type;
    if (getsockopt(sfd, SOL_SOCKET, SO_DOMAIN, &domain, &l1) < 0 ||
        getsockopt(sfd, SOL_SOCKET, SO_TYPE, &type, &l2) < 0)
        return -ENOTSOCK;
    bool inet = domain == AF_INET || domain == AF_INET6;
    if (!inet || (type == SOCK_STREAM && !(flags & MSG_FASTOPEN))) {
        q->resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        return 0;
    }
    struct msghdr mh;
    int r = capsa_ip_mem_read(q, arg(q, 1), &mh, sizeof mh);
    if (r < 0)
        return r;
    if (mh.msg_controllen != 0)
        return refuse(q, -EPERM, "control message on an inet datagram under an egress policy");
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (mh.msg_name != NULL) {
        if (mh.msg_namelen > sizeof ss)
            return -EINVAL;
        if ((r = capsa_ip_mem_read(q, (uint64_t)(uintptr_t)mh.msg_name, &ss, mh.msg_namelen)) < 0)
            return r;
        if (capsa_ip_policy_addr(q->s->a->policy, (struct sockaddr *)&ss, mh.msg_namelen) < 0)
            return refuse(q, -EACCES, "egress policy");
    }
    if (mh.msg_iovlen > 1024)
        return -EMSGSIZE;
    size_t total = 0;
    cleanup_free char *data = malloc(65536);
    if (data == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < mh.msg_iovlen; i++) {
        struct iovec iv;
        if ((r = capsa_ip_mem_read(q, (uint64_t)(uintptr_t)mh.msg_iov + i * sizeof iv, &iv,
                                   sizeof iv)) < 0)
            return r;
        if (iv.iov_len > 65536 - total)
            return -EMSGSIZE;
        if ((r = capsa_ip_mem_read(q, (uint64_t)(uintptr_t)iv.iov_base, data + total, iv.iov_len)) <
            0)
            return r;
        total += iv.iov_len;
    }
    if ((r = capsa_ip_still_valid(q)) < 0 || (r = capsa_ip_become(q, false)) < 0)
        return r;
    ssize_t n = sendto(sfd, data, total, flags, mh.msg_name ? (struct sockaddr *)&ss : NULL,
                       mh.msg_name ? mh.msg_namelen : 0);
    return n < 0 ? -errno : (int)n;
}

/* --- dispatch --- */

void capsa_ip_broker(struct capsa_ip_req *q)
{
    int nr = q->n->data.nr;
    long r;
    if (q->n->data.arch != AUDIT_ARCH_X86_64) {
        fail(q, ENOSYS);
        return;
    }
    switch (nr) {
    case SYS_open:
        r = do_open(q, AT_FDCWD, arg(q, 0), (int)arg(q, 1), (mode_t)arg(q, 2), 0);
        break;
    case SYS_creat:
        r = do_open(q, AT_FDCWD, arg(q, 0), O_CREAT | O_WRONLY | O_TRUNC, (mode_t)arg(q, 1), 0);
        break;
    case SYS_openat:
        r = do_open(q, (int)arg(q, 0), arg(q, 1), (int)arg(q, 2), (mode_t)arg(q, 3), 0);
        break;
    case SYS_openat2: {
        struct open_how how;
        memset(&how, 0, sizeof how);
        size_t sz = (size_t)arg(q, 3);
        if (sz < sizeof how || sz > 4096) {
            r = -EINVAL;
            break;
        }
        if ((r = capsa_ip_mem_read(q, arg(q, 2), &how, sizeof how)) < 0)
            break;
        r = do_open(q, (int)arg(q, 0), arg(q, 1), (int)how.flags, (mode_t)how.mode, how.resolve);
        break;
    }
    case SYS_stat:
        r = do_stat(q, AT_FDCWD, arg(q, 0), 0, arg(q, 1));
        break;
    case SYS_lstat:
        r = do_stat(q, AT_FDCWD, arg(q, 0), AT_SYMLINK_NOFOLLOW, arg(q, 1));
        break;
    case SYS_newfstatat:
        r = do_stat(q, (int)arg(q, 0), arg(q, 1), (int)arg(q, 3), arg(q, 2));
        break;
    case SYS_statx:
        r = do_statx(q);
        break;
    case SYS_access:
        r = do_access(q, AT_FDCWD, arg(q, 0), (int)arg(q, 1), 0);
        break;
    case SYS_faccessat:
        r = do_access(q, (int)arg(q, 0), arg(q, 1), (int)arg(q, 2), 0);
        break;
    case SYS_faccessat2:
        r = do_access(q, (int)arg(q, 0), arg(q, 1), (int)arg(q, 2), (int)arg(q, 3));
        break;
    case SYS_readlink:
        r = do_readlink(q, AT_FDCWD, arg(q, 0), arg(q, 1), (long)arg(q, 2));
        break;
    case SYS_readlinkat:
        r = do_readlink(q, (int)arg(q, 0), arg(q, 1), arg(q, 2), (long)arg(q, 3));
        break;
    case SYS_mkdir:
        r = do_mkdir(q, AT_FDCWD, arg(q, 0), (mode_t)arg(q, 1));
        break;
    case SYS_mkdirat:
        r = do_mkdir(q, (int)arg(q, 0), arg(q, 1), (mode_t)arg(q, 2));
        break;
    case SYS_mknod:
        r = do_mknod(q, AT_FDCWD, arg(q, 0), (mode_t)arg(q, 1), (dev_t)arg(q, 2));
        break;
    case SYS_mknodat:
        r = do_mknod(q, (int)arg(q, 0), arg(q, 1), (mode_t)arg(q, 2), (dev_t)arg(q, 3));
        break;
    case SYS_unlink:
        r = do_unlink(q, AT_FDCWD, arg(q, 0), 0);
        break;
    case SYS_rmdir:
        r = do_unlink(q, AT_FDCWD, arg(q, 0), AT_REMOVEDIR);
        break;
    case SYS_unlinkat:
        r = do_unlink(q, (int)arg(q, 0), arg(q, 1), (int)arg(q, 2));
        break;
    case SYS_rename:
        r = do_rename(q, AT_FDCWD, arg(q, 0), AT_FDCWD, arg(q, 1), 0);
        break;
    case SYS_renameat:
        r = do_rename(q, (int)arg(q, 0), arg(q, 1), (int)arg(q, 2), arg(q, 3), 0);
        break;
    case SYS_renameat2:
        r = do_rename(q, (int)arg(q, 0), arg(q, 1), (int)arg(q, 2), arg(q, 3), (unsigned)arg(q, 4));
        break;
    case SYS_link:
        r = do_link(q, AT_FDCWD, arg(q, 0), AT_FDCWD, arg(q, 1), 0);
        break;
    case SYS_linkat:
        r = do_link(q, (int)arg(q, 0), arg(q, 1), (int)arg(q, 2), arg(q, 3), (int)arg(q, 4));
        break;
    case SYS_symlink:
        r = do_symlink(q, arg(q, 0), AT_FDCWD, arg(q, 1));
        break;
    case SYS_symlinkat:
        r = do_symlink(q, arg(q, 0), (int)arg(q, 1), arg(q, 2));
        break;
    case SYS_chmod:
        r = do_chmod(q, AT_FDCWD, arg(q, 0), (mode_t)arg(q, 1), 0);
        break;
    case SYS_fchmodat:
        r = do_chmod(q, (int)arg(q, 0), arg(q, 1), (mode_t)arg(q, 2), 0);
        break;
#ifdef SYS_fchmodat2
    case SYS_fchmodat2:
        r = do_chmod(q, (int)arg(q, 0), arg(q, 1), (mode_t)arg(q, 2), (int)arg(q, 3));
        break;
#endif
    case SYS_chown:
        r = do_chown(q, AT_FDCWD, arg(q, 0), (uid_t)arg(q, 1), (gid_t)arg(q, 2), 0);
        break;
    case SYS_lchown:
        r = do_chown(q, AT_FDCWD, arg(q, 0), (uid_t)arg(q, 1), (gid_t)arg(q, 2),
                     AT_SYMLINK_NOFOLLOW);
        break;
    case SYS_fchownat:
        r = do_chown(q, (int)arg(q, 0), arg(q, 1), (uid_t)arg(q, 2), (gid_t)arg(q, 3),
                     (int)arg(q, 4));
        break;
    case SYS_truncate:
        r = do_truncate(q);
        break;
    case SYS_utime:
        r = do_utime(q);
        break;
    case SYS_utimes:
    case SYS_futimesat:
    case SYS_utimensat: {
        int dirfd = nr == SYS_utimes ? AT_FDCWD : (int)arg(q, 0);
        int pi = nr == SYS_utimes ? 0 : 1;
        struct timespec ts[2];
        const struct timespec *t;
        if ((r = utimes_args(q, arg(q, pi + 1), nr != SYS_utimensat, ts, &t)) < 0)
            break;
        r = do_utimens(q, dirfd, arg(q, pi), t, nr == SYS_utimensat ? (int)arg(q, 3) : 0);
        break;
    }
    case SYS_setxattr:
    case SYS_lsetxattr:
    case SYS_getxattr:
    case SYS_lgetxattr:
    case SYS_listxattr:
    case SYS_llistxattr:
    case SYS_removexattr:
    case SYS_lremovexattr:
        r = do_xattr(q, nr);
        break;
    case SYS_statfs:
        r = do_statfs(q);
        break;
    case SYS_inotify_add_watch:
        r = do_inotify(q);
        break;
    case SYS_bind:
    case SYS_connect:
    case SYS_sendto:
        r = do_sock(q, nr);
        break;
    case SYS_sendmsg:
        r = do_sendmsg(q);
        break;
    case SYS_sendmmsg:
        /* Several messages, each with its own address and data: not
         * brokered; programs fall back to sendmsg or send (glibc's resolver
         * does). */
        r = -ENOSYS;
        break;
    default:
        /* A call the filter sends here but no handler serves: refuse it the
         * way a kernel without it would. */
        r = refuse(q, -ENOSYS, "not served");
        break;
    }
    if (r < 0)
        fail(q, (int)r);
    else if (q->addfd < 0 && !(q->resp->flags & SECCOMP_USER_NOTIF_FLAG_CONTINUE))
        ok(q, r);
}
