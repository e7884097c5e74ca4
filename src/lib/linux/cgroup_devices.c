/* cgroup_devices.c - linux.resources.devices: which device nodes the
 * container may open or create.
 *
 * The rules are evaluated like runc's: deny everything, then the spec's rules
 * in order (the last matching rule wins), then runc's default devices (null,
 * zero, full, random, urandom, tty, console, ptmx, pts/N, and mknod of any
 * node). Two enforcement paths:
 *   - v1 devices controller: the rules are written one by one to
 *     devices.deny / devices.allow; the kernel keeps the exception list.
 *   - cgroup v2: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE), generated
 *     here with a tiny emitter (no libbpf), loaded with bpf(2) and attached to
 *     the container's v2 directory, replacing the program attached before.
 * The device node permission check is a security boundary: a container that
 * can open /dev/sda or /dev/mem owns the host, so every ambiguity fails
 * closed (malformed rules, rules v1 would ignore). Letters other than r, w
 * and m in an access string mean nothing and are ignored, as runc does
 * ("rwa" is "rw"): that can never grant more than the letters r, w, m say.
 */
#include "linux/cgroup.h"
#include "linux/bpf_devices.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/util.h"

/* ---- rule validation and the effective list ---- */

/* runc's default allowed devices (libcontainer/specconv AllowedDevices). */
static const struct capsa_devrule default_rules[] = {
    {true, 'c', CAPSA_DEV_WILDCARD, CAPSA_DEV_WILDCARD, CAPSA_DEV_ACC_MKNOD, -1},
    {true, 'b', CAPSA_DEV_WILDCARD, CAPSA_DEV_WILDCARD, CAPSA_DEV_ACC_MKNOD, -1},
    {true, 'c', 1, 3, CAPSA_DEV_ACC_ALL, -1},                    /* /dev/null */
    {true, 'c', 1, 8, CAPSA_DEV_ACC_ALL, -1},                    /* /dev/random */
    {true, 'c', 1, 7, CAPSA_DEV_ACC_ALL, -1},                    /* /dev/full */
    {true, 'c', 5, 0, CAPSA_DEV_ACC_ALL, -1},                    /* /dev/tty */
    {true, 'c', 1, 5, CAPSA_DEV_ACC_ALL, -1},                    /* /dev/zero */
    {true, 'c', 1, 9, CAPSA_DEV_ACC_ALL, -1},                    /* /dev/urandom */
    {true, 'c', 5, 1, CAPSA_DEV_ACC_ALL, -1},                    /* /dev/console */
    {true, 'c', 136, CAPSA_DEV_WILDCARD, CAPSA_DEV_ACC_ALL, -1}, /* /dev/pts/N */
    {true, 'c', 5, 2, CAPSA_DEV_ACC_ALL, -1},                    /* /dev/ptmx */
};

/* runc's reading of an access string: the set of r, w and m it holds, in
 * any order, repeats allowed, other letters ignored ("rwa" is "rw"). Absent
 * means "rwm"; an empty string (the parser refuses it in a config) grants
 * or revokes nothing. */
static unsigned parse_access(const char *s)
{
    unsigned a = 0;
    if (s == NULL)
        return CAPSA_DEV_ACC_ALL;
    for (; *s != '\0'; s++) {
        if (*s == 'r')
            a |= CAPSA_DEV_ACC_READ;
        else if (*s == 'w')
            a |= CAPSA_DEV_ACC_WRITE;
        else if (*s == 'm')
            a |= CAPSA_DEV_ACC_MKNOD;
    }
    return a;
}

/* Major/minor: absent or -1 (runc's wildcard) is "*"; the kernel keeps
 * 32 bits (the BPF context has u32 fields). */
static int parse_num(bool has, int64_t v, int64_t *out)
{
    if (!has || v == -1) {
        *out = CAPSA_DEV_WILDCARD;
        return 0;
    }
    if (v < 0 || v > (int64_t)UINT32_MAX)
        return -ERANGE;
    *out = v;
    return 0;
}

int capsa_devices_normalize(const struct capsa_device_rule *rules, size_t n,
                            struct capsa_devrule **out, size_t *n_out, struct capsa_err *err)
{
    size_t cap = 1 + n + ARRAY_SIZE(default_rules);
    cleanup_free struct capsa_devrule *v = calloc(cap, sizeof *v);
    size_t k = 0;

    if (v == NULL)
        return capsa_err_set(err, ENOMEM, "linux.resources.devices");
    /* Default deny, as runc starts every container. */
    v[k++] = (struct capsa_devrule){
        false, 'a', CAPSA_DEV_WILDCARD, CAPSA_DEV_WILDCARD, CAPSA_DEV_ACC_ALL, -1};
    for (size_t i = 0; i < n; i++) {
        const struct capsa_device_rule *s = &rules[i];
        struct capsa_devrule d = {.allow = s->allow, .src = (long)i};
        const char *t = s->type;

        if (t == NULL || strcmp(t, "a") == 0)
            d.type = 'a';
        else if (strcmp(t, "c") == 0)
            d.type = 'c';
        else if (strcmp(t, "b") == 0)
            d.type = 'b';
        else
            return capsa_err_setx(
                err, EINVAL, "linux.resources.devices[%zu].type: \"%s\" is not a, b or c", i, t);
        if (parse_num(s->has_major, s->major, &d.major) < 0)
            return capsa_err_setx(err, ERANGE,
                                  "linux.resources.devices[%zu].major: %" PRId64 " out of range", i,
                                  s->major);
        if (parse_num(s->has_minor, s->minor, &d.minor) < 0)
            return capsa_err_setx(err, ERANGE,
                                  "linux.resources.devices[%zu].minor: %" PRId64 " out of range", i,
                                  s->minor);
        d.access = parse_access(s->access);
        if (d.access == 0)
            continue; /* grants or revokes nothing */
        v[k++] = d;
    }
    for (size_t i = 0; i < ARRAY_SIZE(default_rules); i++)
        v[k++] = default_rules[i];
    *out = steal_ptr(v);
    *n_out = k;
    return 0;
}

static bool dev_matches(const struct capsa_devrule *r, char type, uint32_t major, uint32_t minor)
{
    if (r->type != 'a' && r->type != type)
        return false;
    if (r->major != CAPSA_DEV_WILDCARD && (uint32_t)r->major != major)
        return false;
    if (r->minor != CAPSA_DEV_WILDCARD && (uint32_t)r->minor != minor)
        return false;
    return true;
}

bool capsa_devices_allowed(const struct capsa_devrule *r, size_t n, char type, uint32_t major,
                           uint32_t minor, unsigned access)
{
    if (access == 0) {
        for (size_t i = n; i-- > 0;)
            if (dev_matches(&r[i], type, major, minor))
                return r[i].allow;
        return false;
    }
    for (unsigned bit = 0; bit < 32; bit++) {
        unsigned b = 1u << bit;
        bool decided = false;
        if (!(access & b))
            continue;
        for (size_t i = n; i-- > 0;) {
            if (!dev_matches(&r[i], type, major, minor) || !(r[i].access & b))
                continue;
            if (!r[i].allow)
                return false;
            decided = true;
            break;
        }
        if (!decided)
            return false;
    }
    return true;
}

/* ---- eBPF program generator ---- */

/* Our own instruction constructors (struct bpf_insn is the kernel's UAPI). */
#define INSN(c, d, s, o, i)                                                                        \
    ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(dst, src, off)  INSN(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define ALU32_K(op, dst, imm) INSN(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV32_X(dst, src)     INSN(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define JMP32_K(op, dst, imm) INSN(BPF_JMP32 | (op) | BPF_K, dst, 0, 0, imm)
#define EXIT_INSN()           INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Registers: R1 the context (then scratch), R2 device type, R3 the requested
 * access bits not yet allowed by a later rule, R4 major, R5 minor. */
enum {
    R0,
    R1,
    R2,
    R3,
    R4,
    R5
};

struct emitter {
    struct bpf_insn *v;
    size_t n, cap;
    size_t fix[8]; /* jumps of the current block that go to the next block */
    size_t nfix;
    int oom;
};

static size_t emit(struct emitter *e, struct bpf_insn insn)
{
    if (e->n == e->cap) {
        size_t ncap = e->cap ? e->cap * 2 : 64;
        struct bpf_insn *nv = realloc(e->v, ncap * sizeof *nv);
        if (nv == NULL) {
            e->oom = 1;
            return e->n;
        }
        e->v = nv;
        e->cap = ncap;
    }
    e->v[e->n] = insn;
    return e->n++;
}

/* A conditional jump to the next block; its offset is patched in close_block. */
static void emit_next(struct emitter *e, struct bpf_insn insn)
{
    size_t at = emit(e, insn);
    if (!e->oom)
        e->fix[e->nfix++] = at;
}

static void close_block(struct emitter *e)
{
    for (size_t i = 0; i < e->nfix && !e->oom; i++)
        e->v[e->fix[i]].off = (int16_t)(e->n - e->fix[i] - 1);
    e->nfix = 0;
}

/* One rule; returns true when the block always returns (nothing after it is
 * reachable, and the verifier rejects unreachable instructions). */
static bool emit_rule(struct emitter *e, const struct capsa_devrule *r)
{
    if (r->type != 'a')
        emit_next(e,
                  JMP32_K(BPF_JNE, R2, r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK));
    if (r->major != CAPSA_DEV_WILDCARD)
        emit_next(e, JMP32_K(BPF_JNE, R4, (int32_t)(uint32_t)r->major));
    if (r->minor != CAPSA_DEV_WILDCARD)
        emit_next(e, JMP32_K(BPF_JNE, R5, (int32_t)(uint32_t)r->minor));
    if (r->allow) {
        /* Mark the bits this rule names as allowed; allow once none is left.
         * R3 == 0 on entry (an access-less check) also ends here: allowed. */
        emit(e, ALU32_K(BPF_AND, R3, (int32_t)~r->access));
        emit_next(e, JMP32_K(BPF_JNE, R3, 0));
        emit(e, ALU32_K(BPF_MOV, R0, 1));
        emit(e, EXIT_INSN());
    } else if (r->access != CAPSA_DEV_ACC_ALL) {
        /* Deny when a still-undecided requested bit is named here, or when
         * the check carries no access bits at all. */
        emit(e, INSN(BPF_JMP32 | BPF_JEQ | BPF_K, R3, 0, 3, 0)); /* to the deny below */
        emit(e, MOV32_X(R1, R3));
        emit(e, ALU32_K(BPF_AND, R1, (int32_t)r->access));
        emit_next(e, JMP32_K(BPF_JEQ, R1, 0));
        emit(e, ALU32_K(BPF_MOV, R0, 0));
        emit(e, EXIT_INSN());
    } else {
        emit(e, ALU32_K(BPF_MOV, R0, 0));
        emit(e, EXIT_INSN());
    }
    bool terminal = e->nfix == 0;
    close_block(e);
    return terminal;
}

int capsa_devices_bpf_build(const struct capsa_devrule *r, size_t n, struct bpf_insn **insns,
                            size_t *n_insns, struct capsa_err *err)
{
    struct emitter e = {0};
    bool terminal = false;

    /* struct bpf_cgroup_dev_ctx { u32 access_type; u32 major; u32 minor; },
     * access_type = (access << 16) | type. */
    emit(&e, LDX_W(R2, R1, 0));
    emit(&e, ALU32_K(BPF_AND, R2, 0xffff));
    emit(&e, LDX_W(R3, R1, 0));
    emit(&e, ALU32_K(BPF_RSH, R3, 16));
    emit(&e, LDX_W(R4, R1, 4));
    emit(&e, LDX_W(R5, R1, 8));
    /* Last match wins: the first block tested is the last rule. */
    for (size_t i = n; i-- > 0 && !terminal && !e.oom;)
        terminal = emit_rule(&e, &r[i]);
    if (!terminal) {
        /* Nothing decided every requested bit: default deny. */
        emit(&e, ALU32_K(BPF_MOV, R0, 0));
        emit(&e, EXIT_INSN());
    }
    if (e.oom) {
        free(e.v);
        return capsa_err_set(err, ENOMEM, "linux.resources.devices: building the BPF program");
    }
    *insns = e.v;
    *n_insns = e.n;
    return 0;
}

/* ---- bpf(2) ---- */

static int sys_bpf(int cmd, union bpf_attr *attr)
{
    long r = syscall(__NR_bpf, cmd, attr, sizeof *attr);
    return r < 0 ? -errno : (int)r;
}

static uint64_t ptr_u64(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

static int prog_load(const struct bpf_insn *insns, size_t n, struct capsa_err *err)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = ptr_u64(insns);
    attr.insn_cnt = (uint32_t)n;
    attr.license = ptr_u64("Apache");
    int fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0)
        return fd;
    if (fd != -EACCES && fd != -EINVAL)
        return capsa_err_set(err, -fd, "linux.resources.devices: loading the device BPF program");
    /* A verifier rejection: load again with a log for the message. */
    cleanup_free char *log = calloc(1, 65536);
    if (log != NULL) {
        attr.log_buf = ptr_u64(log);
        attr.log_size = 65536;
        attr.log_level = 1;
        int fd2 = sys_bpf(BPF_PROG_LOAD, &attr);
        if (fd2 >= 0)
            return fd2;
        size_t len = strlen(log);
        while (len > 0 && log[len - 1] == '\n')
            log[--len] = '\0';
        const char *tail = len > 300 ? log + len - 300 : log;
        return capsa_err_setx(err, -fd2,
                              "linux.resources.devices: the kernel rejected the device BPF "
                              "program: %s: ...%s",
                              strerror(-fd2), tail);
    }
    return capsa_err_set(err, -fd, "linux.resources.devices: loading the device BPF program");
}

/* Programs attached directly to the directory (not inherited ones). */
static int prog_query(int dirfd, uint32_t **ids, uint32_t *cnt, uint32_t *flags,
                      struct capsa_err *err)
{
    uint32_t cap = 16;
    for (;;) {
        cleanup_free uint32_t *v = calloc(cap, sizeof *v);
        union bpf_attr attr;
        if (v == NULL)
            return capsa_err_set(err, ENOMEM, "BPF_PROG_QUERY");
        memset(&attr, 0, sizeof attr);
        attr.query.target_fd = (uint32_t)dirfd;
        attr.query.attach_type = BPF_CGROUP_DEVICE;
        attr.query.prog_ids = ptr_u64(v);
        attr.query.prog_cnt = cap;
        int r = sys_bpf(BPF_PROG_QUERY, &attr);
        if (r == -ENOSPC && attr.query.prog_cnt > cap && cap < 65536) {
            cap = attr.query.prog_cnt;
            continue;
        }
        if (r < 0)
            return capsa_err_set(err, -r, "BPF_PROG_QUERY");
        *cnt = attr.query.prog_cnt;
        *flags = attr.query.attach_flags;
        *ids = steal_ptr(v);
        return 0;
    }
}

static int open_v2_dir(const char *path, struct capsa_err *err)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "open %s", path);
    return fd;
}

int capsa_devices_bpf_count(const char *path, struct capsa_err *err)
{
    cleanup_close int dfd = open_v2_dir(path, err);
    cleanup_free uint32_t *ids = NULL;
    uint32_t cnt = 0, flags = 0;
    if (dfd < 0)
        return dfd;
    int r = prog_query(dfd, &ids, &cnt, &flags, err);
    if (r < 0)
        return capsa_err_wrap(err, "%s", path);
    return (int)cnt;
}

int capsa_devices_bpf_attach(const char *path, const struct bpf_insn *insns, size_t n_insns,
                             struct capsa_err *err)
{
    cleanup_close int dfd = open_v2_dir(path, err);
    cleanup_close int pfd = -1;
    cleanup_free uint32_t *old = NULL;
    uint32_t n_old = 0, old_flags = 0;
    union bpf_attr attr;
    int r;

    if (dfd < 0)
        return dfd;
    r = prog_query(dfd, &old, &n_old, &old_flags, err);
    if (r < 0)
        return capsa_err_wrap(err, "linux.resources.devices: %s", path);
    pfd = prog_load(insns, n_insns, err);
    if (pfd < 0)
        return pfd;

    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)dfd;
    attr.attach_bpf_fd = (uint32_t)pfd;
    attr.attach_type = BPF_CGROUP_DEVICE;
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (n_old > 0 && !(old_flags & BPF_F_ALLOW_MULTI)) {
        /* Someone else (systemd) attached a single program without
         * ALLOW_MULTI: the kernel requires the same flags, and attaching
         * then replaces that program atomically. */
        attr.attach_flags = old_flags;
        n_old = 0;
    }
    r = sys_bpf(BPF_PROG_ATTACH, &attr);
    if (r < 0)
        return capsa_err_set(err, -r, "linux.resources.devices: attaching the device program to %s",
                             path);

    /* The new program is in force; now drop the ones attached before (ours
     * from an earlier apply). Programs run in sequence and every one must
     * allow, so a leftover would only restrict, never widen, access. */
    for (uint32_t i = 0; i < n_old; i++) {
        cleanup_close int ofd = -1;
        memset(&attr, 0, sizeof attr);
        attr.prog_id = old[i];
        ofd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
        if (ofd == -ENOENT)
            continue; /* already gone */
        if (ofd < 0)
            return capsa_err_set(err, -ofd,
                                 "linux.resources.devices: %s: the old device program %" PRIu32,
                                 path, old[i]);
        memset(&attr, 0, sizeof attr);
        attr.target_fd = (uint32_t)dfd;
        attr.attach_bpf_fd = (uint32_t)ofd;
        attr.attach_type = BPF_CGROUP_DEVICE;
        r = sys_bpf(BPF_PROG_DETACH, &attr);
        if (r < 0 && r != -ENOENT)
            return capsa_err_set(err, -r,
                                 "linux.resources.devices: %s: detaching the old device program "
                                 "%" PRIu32,
                                 path, old[i]);
    }
    return 0;
}

/* ---- v1 devices controller ---- */

/* The v1 kernel state, simulated to find rules the kernel would ignore. */
struct v1_exc {
    char type;
    int64_t major, minor;
    unsigned access;
};

struct v1_sim {
    bool default_allow;
    struct v1_exc *v;
    size_t n, cap;
};

static bool blanket(const struct capsa_devrule *r)
{
    return r->type == 'a' && r->major == CAPSA_DEV_WILDCARD && r->minor == CAPSA_DEV_WILDCARD &&
           r->access == CAPSA_DEV_ACC_ALL;
}

static void fmt_num(char *buf, size_t len, int64_t v)
{
    if (v == CAPSA_DEV_WILDCARD)
        snprintf(buf, len, "*");
    else
        snprintf(buf, len, "%" PRId64, v);
}

static void fmt_access(char *buf, unsigned a)
{
    size_t k = 0;
    if (a & CAPSA_DEV_ACC_READ)
        buf[k++] = 'r';
    if (a & CAPSA_DEV_ACC_WRITE)
        buf[k++] = 'w';
    if (a & CAPSA_DEV_ACC_MKNOD)
        buf[k++] = 'm';
    buf[k] = '\0';
}

static void fmt_rule(char *buf, size_t len, char type, int64_t major, int64_t minor, unsigned a)
{
    char ma[24], mi[24], acc[4];
    fmt_num(ma, sizeof ma, major);
    fmt_num(mi, sizeof mi, minor);
    fmt_access(acc, a);
    snprintf(buf, len, "%c %s:%s %s", type, ma, mi, acc);
}

static int rule_err(struct capsa_err *err, const struct capsa_devrule *r, const char *what,
                    const struct v1_exc *wild)
{
    char mine[64], theirs[64];
    fmt_rule(mine, sizeof mine, r->type, r->major, r->minor, r->access);
    fmt_rule(theirs, sizeof theirs, wild->type, wild->major, wild->minor, wild->access);
    if (r->src >= 0)
        return capsa_err_setx(err, EINVAL,
                              "linux.resources.devices[%ld]: cannot %s %s inside the wildcard "
                              "rule %s: the v1 devices controller would ignore it",
                              r->src, what, mine, theirs);
    return capsa_err_setx(err, EINVAL,
                          "linux.resources.devices: the default rule %s cannot be applied inside "
                          "the wildcard rule %s on the v1 devices controller",
                          mine, theirs);
}

/* One c/b entry against the simulated kernel list: adds an exception, or
 * removes access bits from the exception with exactly the same key. The
 * kernel never splits a wildcard exception, so removing bits that a wider
 * wildcard exception still holds would silently do nothing: refuse. */
static int v1_sim_apply(struct v1_sim *s, const struct capsa_devrule *r, char type,
                        struct capsa_err *err)
{
    bool add = r->allow != s->default_allow;
    struct v1_exc *same = NULL;

    for (size_t i = 0; i < s->n; i++) {
        struct v1_exc *x = &s->v[i];
        if (x->type != type || x->access == 0)
            continue;
        if (x->major == r->major && x->minor == r->minor) {
            same = x;
            continue;
        }
        if (add)
            continue;
        bool wider = (x->major == CAPSA_DEV_WILDCARD || x->major == r->major) &&
                     (x->minor == CAPSA_DEV_WILDCARD || x->minor == r->minor);
        if (wider && (x->access & r->access))
            return rule_err(err, r, r->allow ? "allow" : "deny", x);
    }
    if (same != NULL) {
        if (add)
            same->access |= r->access;
        else
            same->access &= ~r->access;
        return 0;
    }
    if (!add)
        return 0;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 16;
        struct v1_exc *nv = realloc(s->v, ncap * sizeof *nv);
        if (nv == NULL)
            return capsa_err_set(err, ENOMEM, "linux.resources.devices");
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n++] = (struct v1_exc){type, r->major, r->minor, r->access};
    return 0;
}

static int push_line(struct capsa_devices_v1_line **v, size_t *n, size_t *cap, bool allow,
                     const char *text, struct capsa_err *err)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 32;
        struct capsa_devices_v1_line *nv = realloc(*v, ncap * sizeof *nv);
        if (nv == NULL)
            return capsa_err_set(err, ENOMEM, "linux.resources.devices");
        *v = nv;
        *cap = ncap;
    }
    (*v)[*n].allow = allow;
    snprintf((*v)[*n].text, sizeof(*v)[*n].text, "%s", text);
    (*n)++;
    return 0;
}

int capsa_devices_v1_lines(const struct capsa_devrule *r, size_t n,
                           struct capsa_devices_v1_line **out, size_t *n_out, struct capsa_err *err)
{
    cleanup_free struct capsa_devices_v1_line *v = NULL;
    struct v1_sim sim = {.default_allow = false};
    size_t nv = 0, cap = 0;
    int ret = 0;

    for (size_t i = 0; i < n && ret == 0; i++) {
        char text[64];
        if (blanket(&r[i])) {
            /* Any line starting with 'a' switches the whole default (the
             * kernel ignores the rest of it), so only the blanket rule is
             * ever written with type 'a'. The very first write is the plain
             * "a" of runc's deny-all. */
            sim.default_allow = r[i].allow;
            sim.n = 0;
            ret = push_line(&v, &nv, &cap, r[i].allow, i == 0 ? "a" : "a *:* rwm", err);
            continue;
        }
        /* A narrower rule of type 'a' is written once per device type. */
        for (int t = 0; t < 2 && ret == 0; t++) {
            char type = t == 0 ? 'c' : 'b';
            if (r[i].type != 'a' && r[i].type != type)
                continue;
            ret = v1_sim_apply(&sim, &r[i], type, err);
            if (ret < 0)
                break;
            fmt_rule(text, sizeof text, type, r[i].major, r[i].minor, r[i].access);
            ret = push_line(&v, &nv, &cap, r[i].allow, text, err);
        }
    }
    free(sim.v);
    if (ret < 0)
        return ret;
    *out = steal_ptr(v);
    *n_out = nv;
    return 0;
}

static int v1_apply(const char *path, const struct capsa_devrule *r, size_t n,
                    struct capsa_err *err)
{
    cleanup_free struct capsa_devices_v1_line *lines = NULL;
    cleanup_close int dfd = -1, allow_fd = -1, deny_fd = -1;
    size_t nl = 0;
    int ret = capsa_devices_v1_lines(r, n, &lines, &nl, err);
    if (ret < 0)
        return ret;
    dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return capsa_err_set(err, errno, "linux.resources.devices: open %s", path);
    allow_fd = openat(dfd, "devices.allow", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (allow_fd < 0)
        return capsa_err_set(err, errno, "linux.resources.devices: open %s/devices.allow", path);
    deny_fd = openat(dfd, "devices.deny", O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
    if (deny_fd < 0)
        return capsa_err_set(err, errno, "linux.resources.devices: open %s/devices.deny", path);
    /* One rule per write(2): the kernel parses each write as one rule (and
     * strips the trailing newline). */
    for (size_t i = 0; i < nl; i++) {
        char buf[72];
        int len = snprintf(buf, sizeof buf, "%s\n", lines[i].text);
        ssize_t w = write(lines[i].allow ? allow_fd : deny_fd, buf, (size_t)len);
        if (w != len)
            return capsa_err_set(err, w < 0 ? errno : EIO,
                                 "linux.resources.devices: writing \"%s\" to %s/%s", lines[i].text,
                                 path, lines[i].allow ? "devices.allow" : "devices.deny");
    }
    return 0;
}

/* ---- entry point ---- */

static bool has_controller(const struct capsa_cgroup_dir *d, const char *name)
{
    for (char **c = d->controllers; c != NULL && *c != NULL; c++)
        if (strcmp(*c, name) == 0)
            return true;
    return false;
}

int capsa_cgroup_devices_apply(const struct capsa_cgroup *cg, const struct capsa_device_rule *rules,
                               size_t n, struct capsa_err *err)
{
    cleanup_free struct capsa_devrule *eff = NULL;
    size_t n_eff = 0;
    bool v1 = false, v2 = false;
    int ret;

    ret = capsa_devices_normalize(rules, n, &eff, &n_eff, err);
    if (ret < 0)
        return ret;

    for (size_t i = 0; i < cg->n; i++) {
        if (cg->d[i].v2) {
            v2 = true;
        } else if (has_controller(&cg->d[i], "devices")) {
            ret = v1_apply(cg->d[i].path, eff, n_eff, err);
            if (ret < 0)
                return ret;
            v1 = true;
        }
    }
    /* On a hybrid host the v1 devices controller enforces, as with runc. The
     * kernel would run a v2 program as well, but it would only duplicate the
     * policy, with subtly different semantics (v1 never splits a wildcard
     * exception), making a denial harder to explain; so only a host without
     * a v1 devices hierarchy gets a program. */
    if (v1)
        return 0;
    if (!v2)
        return capsa_err_setx(err, ENOTSUP,
                              "linux.resources.devices: neither a v1 devices controller nor a "
                              "cgroup v2 hierarchy is available to restrict device access");

    cleanup_free struct bpf_insn *insns = NULL;
    size_t n_insns = 0;
    ret = capsa_devices_bpf_build(eff, n_eff, &insns, &n_insns, err);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < cg->n; i++) {
        if (!cg->d[i].v2)
            continue;
        ret = capsa_devices_bpf_attach(cg->d[i].path, insns, n_insns, err);
        if (ret < 0)
            return ret;
    }
    return 0;
}
