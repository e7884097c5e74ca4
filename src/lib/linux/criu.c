/* criu.c - the CRIU RPC client (see criu.h). */
#include "linux/criu.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys/sys.h"
#include "util/util.h"

int capsa_criu_cg_mode_parse(const char *s, enum capsa_criu_cg_mode *out)
{
    static const struct {
        const char *name;
        enum capsa_criu_cg_mode mode;
    } modes[] = {{"", CAPSA_CRIU_CG_DEFAULT},
                 {"soft", CAPSA_CRIU_CG_SOFT},
                 {"full", CAPSA_CRIU_CG_FULL},
                 {"strict", CAPSA_CRIU_CG_STRICT},
                 {"ignore", CAPSA_CRIU_CG_IGNORE}};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (strcmp(s ? s : "", modes[i].name) == 0) {
            *out = modes[i].mode;
            return 0;
        }
    return -EINVAL;
}

/* ---------------- building a request ---------------- */

void capsa_criu_req_init(struct capsa_criu_req *r, enum capsa_criu_type type)
{
    memset(r, 0, sizeof *r);
    r->type = type;
    r->images_dir_fd = -1;
    r->work_dir_fd = -1;
    r->status_fd = -1;
    r->cg_mode = CAPSA_CRIU_CG_UNSET;
}

static void pairs_free(struct capsa_criu_pair *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(p[i].a);
        free(p[i].b);
    }
    free(p);
}

void capsa_criu_req_free(struct capsa_criu_req *r)
{
    free(r->log_file);
    free(r->root);
    free(r->parent_img);
    free(r->freeze_cgroup);
    free(r->config_file);
    free(r->lsm_profile);
    free(r->lsm_mount_context);
    free(r->ps_address);
    pairs_free(r->ext_mnt, r->n_ext_mnt);
    pairs_free(r->join_ns, r->n_join_ns);
    pairs_free(r->cg_root, r->n_cg_root);
    for (size_t i = 0; i < r->n_external; i++)
        free(r->external[i]);
    free(r->external);
    for (size_t i = 0; i < r->n_inherit_fd; i++)
        free(r->inherit_fd[i].key);
    free(r->inherit_fd);
    capsa_criu_req_init(r, CAPSA_CRIU_EMPTY);
}

int capsa_criu_set_str(char **field, const char *s, struct capsa_err *err)
{
    char *d = strdup(s);
    if (d == NULL)
        return capsa_err_set(err, ENOMEM, "criu request");
    free(*field);
    *field = d;
    return 0;
}

static int add_pair(struct capsa_criu_pair **v, size_t *n, const char *a, const char *b,
                    struct capsa_err *err)
{
    struct capsa_criu_pair *nv = realloc(*v, (*n + 1) * sizeof **v);
    if (nv == NULL)
        return capsa_err_set(err, ENOMEM, "criu request");
    *v = nv;
    char *da = a ? strdup(a) : NULL, *db = strdup(b);
    if ((a && !da) || !db) {
        free(da);
        free(db);
        return capsa_err_set(err, ENOMEM, "criu request");
    }
    nv[*n].a = da;
    nv[*n].b = db;
    (*n)++;
    return 0;
}

int capsa_criu_add_ext_mnt(struct capsa_criu_req *r, const char *key, const char *val,
                           struct capsa_err *err)
{
    return add_pair(&r->ext_mnt, &r->n_ext_mnt, key, val, err);
}

int capsa_criu_add_join_ns(struct capsa_criu_req *r, const char *ns, const char *file,
                           struct capsa_err *err)
{
    return add_pair(&r->join_ns, &r->n_join_ns, ns, file, err);
}

int capsa_criu_add_cg_root(struct capsa_criu_req *r, const char *ctrl, const char *path,
                           struct capsa_err *err)
{
    return add_pair(&r->cg_root, &r->n_cg_root, ctrl, path, err);
}

int capsa_criu_add_external(struct capsa_criu_req *r, const char *ext, struct capsa_err *err)
{
    char **nv = realloc(r->external, (r->n_external + 1) * sizeof *nv);
    if (nv == NULL)
        return capsa_err_set(err, ENOMEM, "criu request");
    r->external = nv;
    if ((nv[r->n_external] = strdup(ext)) == NULL)
        return capsa_err_set(err, ENOMEM, "criu request");
    r->n_external++;
    return 0;
}

int capsa_criu_add_inherit_fd(struct capsa_criu_req *r, const char *key, int fd,
                              struct capsa_err *err)
{
    struct capsa_criu_fdkey *nv = realloc(r->inherit_fd, (r->n_inherit_fd + 1) * sizeof *nv);
    if (nv == NULL)
        return capsa_err_set(err, ENOMEM, "criu request");
    r->inherit_fd = nv;
    if ((nv[r->n_inherit_fd].key = strdup(key)) == NULL)
        return capsa_err_set(err, ENOMEM, "criu request");
    nv[r->n_inherit_fd].fd = fd;
    r->n_inherit_fd++;
    return 0;
}

/* ---------------- protobuf writing ---------------- */

/* A growing buffer; an allocation failure is remembered and checked once. */
struct pb {
    uint8_t *p;
    size_t len, cap;
    bool failed;
};

static void pb_bytes(struct pb *b, const void *src, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (np == NULL) {
            b->failed = true;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void pb_varint(struct pb *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n] = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            tmp[n] |= 0x80;
        n++;
    } while (v);
    pb_bytes(b, tmp, n);
}

static void pb_key(struct pb *b, unsigned field, unsigned wire)
{
    pb_varint(b, (uint64_t)field << 3 | wire);
}

/* int32 and enums: a negative value is sign-extended to 64 bits (10 bytes). */
static void pb_int(struct pb *b, unsigned field, int64_t v)
{
    pb_key(b, field, 0);
    pb_varint(b, (uint64_t)v);
}

static void pb_bool(struct pb *b, unsigned field, bool v)
{
    if (v)
        pb_int(b, field, 1);
}

static void pb_blob(struct pb *b, unsigned field, const void *p, size_t n)
{
    pb_key(b, field, 2);
    pb_varint(b, n);
    pb_bytes(b, p, n);
}

static void pb_str(struct pb *b, unsigned field, const char *s)
{
    if (s)
        pb_blob(b, field, s, strlen(s));
}

/* A nested message built in its own buffer, then appended. */
static void pb_sub(struct pb *b, unsigned field, struct pb *sub)
{
    if (sub->failed)
        b->failed = true;
    else
        pb_blob(b, field, sub->p, sub->len);
    free(sub->p);
    memset(sub, 0, sizeof *sub);
}

static void pb_pairs(struct pb *b, unsigned field, const struct capsa_criu_pair *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct pb s = {0};
        pb_str(&s, 1, v[i].a);
        pb_str(&s, 2, v[i].b);
        pb_sub(b, field, &s);
    }
}

static void encode_opts(struct pb *o, const struct capsa_criu_req *r)
{
    pb_int(o, 1, r->images_dir_fd); /* required */
    if (r->pid > 0)
        pb_int(o, 2, r->pid);
    pb_bool(o, 3, r->leave_running);
    pb_bool(o, 4, r->ext_unix_sk);
    pb_bool(o, 5, r->tcp_established);
    pb_bool(o, 6, r->evasive_devices);
    pb_bool(o, 7, r->shell_job);
    pb_bool(o, 8, r->file_locks);
    if (r->log_level > 0)
        pb_int(o, 9, r->log_level);
    pb_str(o, 10, r->log_file);
    if (r->ps_address) {
        struct pb s = {0};
        pb_str(&s, 1, r->ps_address);
        pb_int(&s, 2, r->ps_port);
        pb_sub(o, 11, &s);
    }
    pb_bool(o, 12, r->notify_scripts);
    pb_str(o, 13, r->root);
    pb_str(o, 14, r->parent_img);
    pb_bool(o, 15, r->track_mem);
    pb_bool(o, 16, r->auto_dedup);
    if (r->work_dir_fd >= 0)
        pb_int(o, 17, r->work_dir_fd);
    pb_bool(o, 18, r->link_remap);
    pb_pairs(o, 23, r->ext_mnt, r->n_ext_mnt);
    pb_bool(o, 24, r->manage_cgroups);
    /* cg_root: ctrl is optional (absent: every controller). */
    pb_pairs(o, 25, r->cg_root, r->n_cg_root);
    pb_bool(o, 26, r->rst_sibling);
    for (size_t i = 0; i < r->n_inherit_fd; i++) {
        struct pb s = {0};
        pb_str(&s, 1, r->inherit_fd[i].key);
        pb_int(&s, 2, r->inherit_fd[i].fd);
        pb_sub(o, 27, &s);
    }
    if (r->cg_mode != CAPSA_CRIU_CG_UNSET)
        pb_int(o, 34, r->cg_mode);
    for (size_t i = 0; i < r->n_external; i++)
        pb_str(o, 37, r->external[i]);
    if (r->empty_ns)
        pb_int(o, 38, r->empty_ns);
    pb_pairs(o, 39, r->join_ns, r->n_join_ns);
    pb_str(o, 44, r->freeze_cgroup);
    pb_bool(o, 46, r->tcp_skip_in_flight);
    pb_bool(o, 48, r->lazy_pages);
    if (r->status_fd >= 0)
        pb_int(o, 49, r->status_fd);
    pb_bool(o, 50, r->orphan_pts_master);
    pb_str(o, 51, r->config_file);
    pb_str(o, 53, r->lsm_profile);
    pb_str(o, 63, r->lsm_mount_context);
}

int capsa_criu_encode(const struct capsa_criu_req *r, uint8_t **out, size_t *len,
                      struct capsa_err *err)
{
    struct pb b = {0};
    pb_int(&b, 1, r->type);
    if (r->has_opts) {
        struct pb o = {0};
        encode_opts(&o, r);
        pb_sub(&b, 2, &o);
    }
    pb_bool(&b, 3, r->notify_success);
    if (r->type == CAPSA_CRIU_FEATURE_CHECK) {
        struct pb f = {0};
        pb_bool(&f, 1, r->feat_mem_track);
        pb_bool(&f, 2, r->feat_lazy_pages);
        pb_sub(&b, 5, &f);
    }
    if (b.failed) {
        free(b.p);
        return capsa_err_set(err, ENOMEM, "criu request");
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ---------------- protobuf reading ---------------- */

struct rd {
    const uint8_t *p;
    size_t n, off;
};

static int rd_varint(struct rd *r, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (r->off >= r->n)
            return -EBADMSG;
        uint8_t c = r->p[r->off++];
        x |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80)) {
            *v = x;
            return 0;
        }
    }
    return -EBADMSG; /* more than 10 bytes */
}

/* One field: its number, wire type, and value (varint in *v; type 2 in
 * *sub). Fixed-size fields are skipped (*v = 0). */
static int rd_field(struct rd *r, unsigned *field, unsigned *wire, uint64_t *v, struct rd *sub)
{
    uint64_t key;
    if (rd_varint(r, &key) < 0)
        return -EBADMSG;
    if ((key >> 3) == 0 || (key >> 3) > 0x1fffffff)
        return -EBADMSG;
    *field = (unsigned)(key >> 3);
    *wire = (unsigned)(key & 7);
    *v = 0;
    switch (*wire) {
    case 0:
        return rd_varint(r, v);
    case 1:
    case 5: {
        size_t w = *wire == 1 ? 8 : 4;
        if (r->n - r->off < w)
            return -EBADMSG;
        r->off += w;
        return 0;
    }
    case 2: {
        uint64_t len;
        if (rd_varint(r, &len) < 0 || len > r->n - r->off)
            return -EBADMSG;
        sub->p = r->p + r->off;
        sub->n = (size_t)len;
        sub->off = 0;
        r->off += (size_t)len;
        return 0;
    }
    default:
        return -EBADMSG; /* groups (3, 4) are not used by rpc.proto */
    }
}

/* A string into a fixed buffer, truncated; NULs and control bytes become '?'
 * (it ends up in an error message). */
static void copy_text(char *dst, size_t len, const struct rd *s)
{
    size_t n = s->n < len - 1 ? s->n : len - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s->p[i];
        dst[i] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
    }
    dst[n] = '\0';
}

/* Parse a nested message of varint fields and strings with a callback. */
typedef int (*field_fn)(void *o, unsigned field, unsigned wire, uint64_t v, const struct rd *sub);

static int rd_msg(const struct rd *m, field_fn fn, void *o)
{
    struct rd r = *m;
    r.off = 0;
    while (r.off < r.n) {
        unsigned field, wire;
        uint64_t v;
        struct rd sub = {0};
        if (rd_field(&r, &field, &wire, &v, &sub) < 0)
            return -EBADMSG;
        if (fn(o, field, wire, v, &sub) < 0)
            return -EBADMSG;
    }
    return 0;
}

/* A field of an expected wire type (others are ignored, as protobuf does
 * for unknown fields; a known field with the wrong type is malformed). */
#define WANT(w)                                                                                    \
    do {                                                                                           \
        if (wire != (w))                                                                           \
            return -EBADMSG;                                                                       \
    } while (0)

static int f_dump(void *o, unsigned field, unsigned wire, uint64_t v, const struct rd *sub)
{
    (void)sub;
    struct capsa_criu_resp *out = o;
    if (field == 1) {
        WANT(0);
        out->dump_restored = v != 0;
    }
    return 0;
}

static int f_restore(void *o, unsigned field, unsigned wire, uint64_t v, const struct rd *sub)
{
    (void)sub;
    struct capsa_criu_resp *out = o;
    if (field == 1) {
        WANT(0);
        out->restore_pid = (int32_t)v;
        out->has_restore_pid = true;
    }
    return 0;
}

static int f_notify(void *o, unsigned field, unsigned wire, uint64_t v, const struct rd *sub)
{
    struct capsa_criu_resp *out = o;
    if (field == 1) {
        WANT(2);
        copy_text(out->script, sizeof out->script, sub);
    } else if (field == 2) {
        WANT(0);
        out->notify_pid = (int32_t)v;
    }
    return 0;
}

static int f_features(void *o, unsigned field, unsigned wire, uint64_t v, const struct rd *sub)
{
    (void)sub;
    struct capsa_criu_resp *out = o;
    if (field == 1 || field == 2) {
        WANT(0);
        if (field == 1)
            out->feat_mem_track = v != 0;
        else
            out->feat_lazy_pages = v != 0;
    }
    return 0;
}

struct ver_seen {
    struct capsa_criu_resp *out;
    bool major, minor;
};

static int f_version(void *o, unsigned field, unsigned wire, uint64_t v, const struct rd *sub)
{
    (void)sub;
    struct ver_seen *s = o;
    switch (field) {
    case 1:
        WANT(0);
        s->out->ver_major = (int32_t)v;
        s->major = true;
        break;
    case 2:
        WANT(0);
        s->out->ver_minor = (int32_t)v;
        s->minor = true;
        break;
    case 4:
        WANT(0);
        s->out->ver_sublevel = (int32_t)v;
        break;
    default:
        break;
    }
    return 0;
}

struct resp_seen {
    struct capsa_criu_resp *out;
    bool type, success;
};

static int f_resp(void *o, unsigned field, unsigned wire, uint64_t v, const struct rd *sub)
{
    struct resp_seen *s = o;
    struct capsa_criu_resp *out = s->out;
    switch (field) {
    case 1:
        WANT(0);
        out->type = (int)(int32_t)v;
        s->type = true;
        return 0;
    case 2:
        WANT(0);
        out->success = v != 0;
        s->success = true;
        return 0;
    case 3:
        WANT(2);
        return rd_msg(sub, f_dump, out);
    case 4:
        WANT(2);
        return rd_msg(sub, f_restore, out);
    case 5:
        WANT(2);
        return rd_msg(sub, f_notify, out);
    case 7:
        WANT(0);
        out->cr_errno = (int32_t)v;
        return 0;
    case 8:
        WANT(2);
        return rd_msg(sub, f_features, out);
    case 9:
        WANT(2);
        copy_text(out->errmsg, sizeof out->errmsg, sub);
        return 0;
    case 10: {
        WANT(2);
        struct ver_seen vs = {.out = out};
        if (rd_msg(sub, f_version, &vs) < 0 || !vs.major || !vs.minor)
            return -EBADMSG;
        out->has_version = true;
        return 0;
    }
    default:
        return 0;
    }
}

int capsa_criu_parse(const uint8_t *p, size_t n, struct capsa_criu_resp *out, struct capsa_err *err)
{
    memset(out, 0, sizeof *out);
    struct rd m = {.p = p, .n = n};
    struct resp_seen s = {.out = out};
    if (rd_msg(&m, f_resp, &s) < 0) {
        memset(out, 0, sizeof *out);
        return capsa_err_setx(err, EBADMSG, "criu reply: malformed message (%zu bytes)", n);
    }
    if (!s.type || !s.success) {
        memset(out, 0, sizeof *out);
        return capsa_err_setx(err, EBADMSG, "criu reply: no %s field",
                              !s.type ? "type" : "success");
    }
    return 0;
}

/* ---------------- the criu process ---------------- */

/* The child: fds in place, everything else closed, default signals, exec. */
static void __attribute__((noreturn))
swrk_child(const char *path, int sock, const int *fds, size_t n_fds, int errpipe)
{
    sigset_t all;
    sigemptyset(&all);
    for (int s = 1; s < NSIG; s++)
        (void)signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &all, NULL);
    /* Move every source above the slots first, so that no dup2 below
     * overwrites one not yet placed. */
    int top = 5 + (int)n_fds;
    int moved[64];
    int s3 = fcntl(sock, F_DUPFD_CLOEXEC, top);
    int ep = fcntl(errpipe, F_DUPFD_CLOEXEC, top);
    if (s3 < 0 || ep < 0)
        _exit(127);
    for (size_t i = 0; i < n_fds; i++)
        if ((moved[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, top)) < 0)
            _exit(127);
    /* dup2 leaves the new fd without FD_CLOEXEC: these stay across exec. */
    if (dup2(s3, 3) < 0)
        goto fail;
    for (size_t i = 0; i < n_fds; i++)
        if (dup2(moved[i], 4 + (int)i) < 0)
            goto fail;
    /* The error pipe sits at 4+n (close-on-exec), the rest goes. */
    if (dup3(ep, 4 + (int)n_fds, O_CLOEXEC) < 0)
        goto fail;
    ep = 4 + (int)n_fds;
    if (capsa_close_range((unsigned)ep + 1, ~0U, 0) < 0)
        for (int fd = ep + 1; fd < 1024; fd++)
            close(fd);
    char *argv[] = {(char *)path, (char *)"swrk", (char *)"3", NULL};
    if (strchr(path, '/'))
        execv(path, argv);
    else
        execvp(path, argv);
fail:;
    int e = errno;
    (void)!write(ep, &e, sizeof e);
    _exit(127);
}

int capsa_criu_spawn(const char *path, const int *fds, size_t n_fds, struct capsa_criu *out,
                     struct capsa_err *err)
{
    out->pid = -1;
    out->sock = -1;
    out->path = path ? path : "criu";
    path = out->path;
    if (n_fds > 64)
        return capsa_err_setx(err, E2BIG, "criu: too many file descriptors to pass");
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return capsa_err_set(err, errno, "criu: socketpair");
    int ep[2];
    if (pipe2(ep, O_CLOEXEC) < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        return capsa_err_set(err, e, "criu: pipe");
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sv[0]);
        close(sv[1]);
        close(ep[0]);
        close(ep[1]);
        return capsa_err_set(err, e, "criu: fork");
    }
    if (pid == 0)
        swrk_child(path, sv[1], fds, n_fds, ep[1]);
    close(sv[1]);
    close(ep[1]);
    int e = 0;
    ssize_t got;
    do
        got = read(ep[0], &e, sizeof e);
    while (got < 0 && errno == EINTR);
    close(ep[0]);
    if (got == (ssize_t)sizeof e) {
        close(sv[0]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        if (e == ENOENT)
            return capsa_err_setx(err, ENOENT,
                                  "criu not found (%s): checkpoint and restore need CRIU "
                                  "(Debian's criu package), or its path in --criu",
                                  path);
        return capsa_err_set(err, e, "criu: execute %s", path);
    }
    out->pid = pid;
    out->sock = sv[0];
    return 0;
}

static int send_req(int sock, const struct capsa_criu_req *req, struct capsa_err *err)
{
    cleanup_free uint8_t *buf = NULL;
    size_t len = 0;
    int r = capsa_criu_encode(req, &buf, &len, err);
    if (r < 0)
        return r;
    ssize_t n;
    do
        n = send(sock, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return capsa_err_set(err, errno == ECONNRESET ? EPIPE : errno,
                             "criu: send the request (did criu exit?)");
    return 0;
}

/* One reply, with at most one passed fd (*fd, -1 if none). */
static int recv_resp(int sock, uint8_t *buf, size_t cap, size_t *len, int *fd,
                     struct capsa_err *err)
{
    *fd = -1;
    union {
        char buf[CMSG_SPACE(sizeof(int) * 4)];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof ctl.buf};
    ssize_t n;
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return capsa_err_set(err, errno == ECONNRESET ? EPIPE : errno, "criu: read a reply");
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int f;
            memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
            if (*fd < 0)
                *fd = f;
            else
                close(f);
        }
    }
    if (n == 0) {
        capsa_close(fd);
        return capsa_err_setx(err, EPIPE, "criu exited without a reply");
    }
    if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
        capsa_close(fd);
        return capsa_err_setx(err, EPROTO, "criu: reply larger than %zu bytes", cap);
    }
    *len = (size_t)n;
    return 0;
}

int capsa_criu_call(struct capsa_criu *c, const struct capsa_criu_req *req, capsa_criu_notify_fn fn,
                    void *opaque, struct capsa_criu_resp *resp, struct capsa_err *err)
{
    int r = send_req(c->sock, req, err);
    if (r < 0)
        return r;
    cleanup_free uint8_t *buf = malloc(CAPSA_CRIU_MAX_MSG);
    if (buf == NULL)
        return capsa_err_set(err, ENOMEM, "criu reply");
    for (;;) {
        size_t len = 0;
        int fd = -1;
        if ((r = recv_resp(c->sock, buf, CAPSA_CRIU_MAX_MSG, &len, &fd, err)) < 0)
            return r;
        if ((r = capsa_criu_parse(buf, len, resp, err)) < 0) {
            capsa_close(&fd);
            return r;
        }
        if (resp->type != CAPSA_CRIU_NOTIFY) {
            capsa_close(&fd);
            if (resp->type != (int)req->type)
                return capsa_err_setx(err, EPROTO, "criu answered a request of type %d with %d",
                                      (int)req->type, resp->type);
            return 0;
        }
        if (!resp->success) {
            capsa_close(&fd);
            return 0; /* the caller reports it */
        }
        if (fn)
            r = fn(opaque, resp->script, resp->notify_pid, fd, err);
        else
            capsa_close(&fd);
        if (r < 0)
            return r;
        struct capsa_criu_req ack;
        capsa_criu_req_init(&ack, CAPSA_CRIU_NOTIFY);
        ack.notify_success = true;
        if ((r = send_req(c->sock, &ack, err)) < 0)
            return r;
    }
}

void capsa_criu_end(struct capsa_criu *c, int *status)
{
    capsa_close(&c->sock);
    int st = 0;
    if (c->pid > 0) {
        while (waitpid(c->pid, &st, 0) < 0 && errno == EINTR)
            ;
        c->pid = -1;
    }
    if (status)
        *status = st;
}

int capsa_criu_version(const char *path, int *version, struct capsa_err *err)
{
    struct capsa_criu c;
    int r = capsa_criu_spawn(path, NULL, 0, &c, err);
    if (r < 0)
        return r;
    struct capsa_criu_req req;
    capsa_criu_req_init(&req, CAPSA_CRIU_VERSION);
    struct capsa_criu_resp resp;
    r = capsa_criu_call(&c, &req, NULL, NULL, &resp, err);
    capsa_criu_end(&c, NULL);
    if (r < 0)
        return capsa_err_wrap(err, "criu version (%s)", c.path);
    if (!resp.success || !resp.has_version)
        return capsa_err_setx(err, ENOTSUP, "%s does not answer a version request (CRIU < 3.0)",
                              c.path);
    *version = resp.ver_major * 10000 + resp.ver_minor * 100 + resp.ver_sublevel;
    return 0;
}

/* "(00.012345) Error (criu/mount.c:123): text" -> "text" */
static void error_text(const char **line, size_t *len)
{
    const char *t = memmem(*line, *len, "): ", 3);
    if (t) {
        *len -= (size_t)(t + 3 - *line);
        *line = t + 3;
    }
}

void capsa_criu_log_error(int dirfd, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    cleanup_free char *text = NULL;
    size_t n;
    struct capsa_err ignored = {0};
    if (capsa_read_file_at(dirfd, name, 64u << 20, &text, &n, &ignored) < 0)
        return;
    /* The last three "Error" lines: the cause and its consequences
     * ("Dump files failed", "Dumping FAILED."); earlier ones are mostly
     * CRIU's probes of the kernel. */
    const char *line_at[3] = {NULL};
    size_t line_len[3] = {0};
    size_t k = 0;
    for (const char *line = text; line < text + n;) {
        const char *end = memchr(line, '\n', (size_t)(text + n - line));
        size_t l = end ? (size_t)(end - line) : (size_t)(text + n - line);
        if (memmem(line, l, "Error", 5)) {
            line_at[k % 3] = line;
            line_len[k % 3] = l;
            k++;
        }
        line += l + 1;
    }
    size_t first = k > 3 ? k - 3 : 0, used = 0;
    for (size_t i = first; i < k && used + 1 < len; i++) {
        const char *l = line_at[i % 3];
        size_t ll = line_len[i % 3];
        error_text(&l, &ll);
        if (used > 0 && used + 3 < len) {
            memcpy(buf + used, "; ", 2);
            used += 2;
        }
        struct rd s = {.p = (const uint8_t *)l, .n = ll};
        copy_text(buf + used, len - used, &s);
        used += strlen(buf + used);
    }
}
