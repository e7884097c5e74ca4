/* cgroup_res.c - writes linux.resources (except devices) into a container's
 * cgroup directories. Each resource goes to the directory of the hierarchy
 * that holds its controller, in that hierarchy's file names and units; the
 * v1 -> v2 conversions follow runc and crun so that the same config.json means
 * the same limits on every host layout.
 *
 * A value that cannot be applied is an error naming the field: silently
 * dropping a limit would run a container with less confinement than its
 * configuration asks for. The only exceptions (warnings) are the ones runc and
 * container engines rely on: deprecated kernel-memory limits, swap when the
 * kernel has no swap accounting, and v1-only memory knobs on v2. */
#include "linux/cgroup.h"
#include "linux/cgroup_internal.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/util.h"

/* ---------------- pure conversions ---------------- */

uint64_t capsa_cg_shares_to_weight(uint64_t shares)
{
    if (shares == 0)
        return 0;
    if (shares < 2)
        shares = 2;
    if (shares > 262144)
        shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t capsa_cg_blkio_to_io_weight(uint64_t weight)
{
    if (weight == 0)
        return 0;
    if (weight < 10)
        weight = 10;
    if (weight > 1000)
        weight = 1000;
    return 1 + ((weight - 10) * 9999) / 990;
}

int capsa_cg_v2_swap(bool has_limit, int64_t limit, bool has_swap, int64_t swap, char *buf,
                     size_t n, const char **why)
{
    int64_t mem = has_limit ? limit : 0;
    int64_t sw = has_swap ? swap : 0;
    buf[0] = '\0';
    /* An unlimited memory with swap left unset means unlimited swap too. */
    if (mem == -1 && sw == 0) {
        snprintf(buf, n, "max");
        return 0;
    }
    if (sw == -1) {
        snprintf(buf, n, "max");
        return 0;
    }
    if (sw == 0)
        return 0;
    if (sw < 0) {
        *why = "invalid swap value";
        return -EINVAL;
    }
    if (mem == 0 || mem == -1) {
        *why = "a swap limit needs a memory limit (cgroup v2 limits swap separately)";
        return -EINVAL;
    }
    if (mem < 0) {
        *why = "invalid memory limit";
        return -EINVAL;
    }
    if (sw < mem) {
        *why = "swap (memory+swap) must not be below the memory limit";
        return -EINVAL;
    }
    snprintf(buf, n, "%" PRId64, sw - mem);
    return 0;
}

void capsa_cg_cpu_max(bool has_quota, int64_t quota, bool has_period, uint64_t period, char *buf,
                      size_t n)
{
    buf[0] = '\0';
    if ((!has_quota || quota == 0) && (!has_period || period == 0))
        return;
    uint64_t p = has_period && period != 0 ? period : 100000;
    if (has_quota && quota > 0)
        snprintf(buf, n, "%" PRId64 " %" PRIu64, quota, p);
    else
        snprintf(buf, n, "max %" PRIu64, p);
}

void capsa_cg_pids_max(int64_t limit, char *buf, size_t n)
{
    if (limit <= 0)
        snprintf(buf, n, "max");
    else
        snprintf(buf, n, "%" PRId64, limit);
}

void capsa_cg_v2_mem(int64_t v, char *buf, size_t n)
{
    if (v < 0)
        snprintf(buf, n, "max");
    else
        snprintf(buf, n, "%" PRId64, v);
}

int capsa_cg_hugepage_size(const char *in, char *buf, size_t n)
{
    if (in == NULL || !isdigit((unsigned char)in[0]))
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(in, &end, 10);
    if (errno != 0 || v == 0)
        return -EINVAL;
    uint64_t mult;
    if (strcasecmp(end, "KB") == 0 || strcasecmp(end, "K") == 0 || strcasecmp(end, "KiB") == 0)
        mult = 1ULL << 10;
    else if (strcasecmp(end, "MB") == 0 || strcasecmp(end, "M") == 0 || strcasecmp(end, "MiB") == 0)
        mult = 1ULL << 20;
    else if (strcasecmp(end, "GB") == 0 || strcasecmp(end, "G") == 0 || strcasecmp(end, "GiB") == 0)
        mult = 1ULL << 30;
    else
        return -EINVAL;
    if (v > (UINT64_MAX >> 31))
        return -EINVAL;
    uint64_t bytes = v * mult;
    /* the kernel's naming (hugetlb_cgroup.c mem_fmt): largest unit >= 1 */
    if (bytes >= (1ULL << 30))
        snprintf(buf, n, "%" PRIu64 "GB", bytes >> 30);
    else if (bytes >= (1ULL << 20))
        snprintf(buf, n, "%" PRIu64 "MB", bytes >> 20);
    else
        snprintf(buf, n, "%" PRIu64 "KB", bytes >> 10);
    /* sizes that are not a whole number of the unit do not exist */
    if ((bytes >= (1ULL << 30) && bytes % (1ULL << 30)) ||
        (bytes >= (1ULL << 20) && bytes < (1ULL << 30) && bytes % (1ULL << 20)))
        return -EINVAL;
    return 0;
}

/* ---------------- writing ---------------- */

struct rctx {
    const struct capsa_cgroup *cg;
    capsa_warn_fn warn;
    void *opaque;
    struct capsa_err *err;
};

__attribute__((format(printf, 2, 3))) static void warnf(struct rctx *c, const char *fmt, ...)
{
    if (c->warn == NULL)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->warn(c->opaque, msg);
}

/* An open directory of the container. */
struct cdir {
    const struct capsa_cgroup_dir *d;
    int fd;
};

static void cdir_close(struct cdir *x)
{
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
}

static int open_for(struct rctx *c, const char *ctrl, const char *field, struct cdir *out)
{
    out->fd = -1;
    out->d = capsa_cg_dir_for(c->cg, ctrl);
    if (out->d == NULL)
        return capsa_err_setx(c->err, ENOENT, "%s: the %s controller is not mounted", field, ctrl);
    out->fd = capsa_cg_open_dir(out->d->path);
    if (out->fd < 0)
        return capsa_err_set(c->err, -out->fd, "%s: open %s", field, out->d->path);
    return 0;
}

/* Whether controller ctrl is enabled for the v2 cgroup at fd (listed in
 * its cgroup.controllers); used only to explain a missing file. */
static bool v2_enabled(int fd, const char *ctrl)
{
    cleanup_free char *text = NULL;
    if (capsa_cg_read(fd, "cgroup.controllers", &text) < 0)
        return false;
    size_t n = strlen(ctrl);
    for (const char *p = text; (p = strstr(p, ctrl)) != NULL; p += n)
        if ((p == text || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
            return true;
    return false;
}

static int put(struct rctx *c, const struct cdir *x, const char *file, const char *val,
               const char *field)
{
    int r = capsa_cg_write(x->fd, file, val);
    if (r == -ENOENT && x->d->v2)
        return capsa_err_setx(c->err, ENOENT,
                              "%s: %s does not exist in %s (not in this kernel, or the "
                              "controller is not enabled in the parent's cgroup.subtree_control)",
                              field, file, x->d->path);
    if (r == -ENOENT)
        return capsa_err_setx(c->err, ENOENT, "%s: this kernel has no %s (in %s)", field, file,
                              x->d->path);
    if (r < 0)
        return capsa_err_set(c->err, -r, "%s: write \"%s\" to %s/%s", field, val, x->d->path, file);
    return 0;
}

static int put_i64(struct rctx *c, const struct cdir *x, const char *file, int64_t v,
                   const char *field)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return put(c, x, file, buf, field);
}

static int read_u64(const struct cdir *x, const char *file, uint64_t *v)
{
    cleanup_free char *s = NULL;
    int r = capsa_cg_read(x->fd, file, &s);
    if (r < 0)
        return r;
    return capsa_cg_parse_u64(s, v);
}

/* ---------------- memory ---------------- */

static int check_usage(struct rctx *c, const struct cdir *x, const struct capsa_memory *m)
{
    if (!m->has_check_before_update || !m->check_before_update || !m->has_limit || m->limit <= 0)
        return 0;
    const char *file = x->d->v2 ? "memory.current" : "memory.usage_in_bytes";
    uint64_t usage = 0;
    int r = read_u64(x, file, &usage);
    if (r < 0)
        return capsa_err_set(c->err, -r, "linux.resources.memory.checkBeforeUpdate: read %s/%s",
                             x->d->path, file);
    if ((uint64_t)m->limit < usage)
        return capsa_err_setx(c->err, EBUSY,
                              "linux.resources.memory.limit: %" PRId64
                              " is below the current usage %" PRIu64 " (checkBeforeUpdate)",
                              m->limit, usage);
    return 0;
}

static int memory_v1(struct rctx *c, const struct cdir *x, const struct capsa_memory *m)
{
    int r;
    bool memsw = capsa_cg_exists(x->fd, "memory.memsw.limit_in_bytes");
    int64_t lim = m->has_limit ? m->limit : 0, sw = m->has_swap ? m->swap : 0;
    if (lim == -1 && !m->has_swap && memsw)
        sw = -1; /* unlimited memory: unlimited memory+swap too (runc) */
    if (sw != 0 && !memsw) {
        warnf(c, "linux.resources.memory.swap: the kernel has no swap accounting "
                 "(memory.memsw.limit_in_bytes); ignored");
        sw = 0;
    }
    const char *fl = "linux.resources.memory.limit", *fs = "linux.resources.memory.swap";
    if (lim != 0 && sw != 0) {
        /* memory.limit_in_bytes must stay <= memory.memsw.limit_in_bytes at
         * every moment: raise memsw first when growing, lower memory first
         * when shrinking. */
        uint64_t cur = 0;
        r = read_u64(x, "memory.limit_in_bytes", &cur);
        if (r < 0)
            return capsa_err_set(c->err, -r, "%s: read %s/memory.limit_in_bytes", fl, x->d->path);
        if (sw == -1 || cur < (uint64_t)sw) {
            if ((r = put_i64(c, x, "memory.memsw.limit_in_bytes", sw, fs)) < 0 ||
                (r = put_i64(c, x, "memory.limit_in_bytes", lim, fl)) < 0)
                return r;
        } else {
            if ((r = put_i64(c, x, "memory.limit_in_bytes", lim, fl)) < 0 ||
                (r = put_i64(c, x, "memory.memsw.limit_in_bytes", sw, fs)) < 0)
                return r;
        }
    } else {
        if (lim != 0 && (r = put_i64(c, x, "memory.limit_in_bytes", lim, fl)) < 0)
            return r;
        if (sw != 0 && (r = put_i64(c, x, "memory.memsw.limit_in_bytes", sw, fs)) < 0)
            return r;
    }
    if (m->has_reservation && m->reservation != 0 &&
        (r = put_i64(c, x, "memory.soft_limit_in_bytes", m->reservation,
                     "linux.resources.memory.reservation")) < 0)
        return r;
    static const struct {
        const char *file, *field;
    } kmem[] = {{"memory.kmem.limit_in_bytes", "linux.resources.memory.kernel"},
                {"memory.kmem.tcp.limit_in_bytes", "linux.resources.memory.kernelTCP"}};
    for (size_t i = 0; i < ARRAY_SIZE(kmem); i++) {
        bool has = i == 0 ? m->has_kernel : m->has_kernel_tcp;
        int64_t v = i == 0 ? m->kernel : m->kernel_tcp;
        if (!has || v == 0)
            continue;
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRId64, v);
        r = capsa_cg_write(x->fd, kmem[i].file, buf);
        /* Deprecated since Linux 5.4 and gone in 6.x: runc and the engines
         * still send it, so only warn. */
        // NOLINTNEXTLINE(misc-redundant-expression): ENOTSUP == EOPNOTSUPP on Linux only
        if (r == -ENOENT || r == -EOPNOTSUPP || r == -ENOTSUP || r == -EINVAL)
            warnf(c, "%s: kernel memory limits are not supported by this kernel (%s); ignored",
                  kmem[i].field, kmem[i].file);
        else if (r < 0)
            return capsa_err_set(c->err, -r, "%s: write %s/%s", kmem[i].field, x->d->path,
                                 kmem[i].file);
    }
    if (m->has_swappiness) {
        if (m->swappiness > 100)
            return capsa_err_setx(c->err, EINVAL,
                                  "linux.resources.memory.swappiness: %" PRIu64
                                  " is out of range 0..100",
                                  m->swappiness);
        if ((r = put_i64(c, x, "memory.swappiness", (int64_t)m->swappiness,
                         "linux.resources.memory.swappiness")) < 0)
            return r;
    }
    if (m->has_disable_oom_killer &&
        (r = put(c, x, "memory.oom_control", m->disable_oom_killer ? "1" : "0",
                 "linux.resources.memory.disableOOMKiller")) < 0)
        return r;
    if (m->has_use_hierarchy) {
        uint64_t cur = 2;
        /* Recent kernels are always hierarchical and refuse "0": only write
         * a change. */
        if (read_u64(x, "memory.use_hierarchy", &cur) < 0 || cur != (m->use_hierarchy ? 1 : 0)) {
            if ((r = put(c, x, "memory.use_hierarchy", m->use_hierarchy ? "1" : "0",
                         "linux.resources.memory.useHierarchy")) < 0)
                return r;
        }
    }
    return 0;
}

static int memory_v2(struct rctx *c, const struct cdir *x, const struct capsa_memory *m)
{
    int r;
    char buf[32];
    const char *why = NULL;
    if (capsa_cg_v2_swap(m->has_limit, m->limit, m->has_swap, m->swap, buf, sizeof(buf), &why) < 0)
        return capsa_err_setx(c->err, EINVAL, "linux.resources.memory.swap: %s", why);
    if (buf[0] != '\0') {
        if (!capsa_cg_exists(x->fd, "memory.swap.max")) {
            if (m->has_swap)
                warnf(c, "linux.resources.memory.swap: the kernel has no swap accounting "
                         "(memory.swap.max); ignored");
        } else if ((r = put(c, x, "memory.swap.max", buf, "linux.resources.memory.swap")) < 0) {
            return r;
        }
    }
    if (m->has_limit && m->limit != 0) {
        capsa_cg_v2_mem(m->limit, buf, sizeof(buf));
        if ((r = put(c, x, "memory.max", buf, "linux.resources.memory.limit")) < 0)
            return r;
    }
    if (m->has_reservation && m->reservation != 0) {
        capsa_cg_v2_mem(m->reservation, buf, sizeof(buf));
        if ((r = put(c, x, "memory.low", buf, "linux.resources.memory.reservation")) < 0)
            return r;
    }
    if (m->has_kernel && m->kernel != 0)
        warnf(c, "linux.resources.memory.kernel: cgroup v2 has no kernel memory limit; ignored");
    if (m->has_kernel_tcp && m->kernel_tcp != 0)
        warnf(c, "linux.resources.memory.kernelTCP: cgroup v2 has no kernel TCP memory limit; "
                 "ignored");
    if (m->has_swappiness)
        warnf(c, "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness; "
                 "ignored");
    if (m->has_disable_oom_killer && m->disable_oom_killer)
        warnf(c, "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM "
                 "killer; ignored");
    if (m->has_use_hierarchy && !m->use_hierarchy)
        warnf(c, "linux.resources.memory.useHierarchy: cgroup v2 is always hierarchical; "
                 "ignored");
    return 0;
}

static bool memory_any(const struct capsa_memory *m)
{
    return m->has_limit || m->has_reservation || m->has_swap || m->has_kernel ||
           m->has_kernel_tcp || m->has_swappiness || m->has_disable_oom_killer ||
           m->has_use_hierarchy;
}

static int apply_memory(struct rctx *c, const struct capsa_memory *m)
{
    if (!memory_any(m))
        return 0;
    struct cdir x;
    int r = open_for(c, "memory", "linux.resources.memory", &x);
    if (r == 0)
        r = check_usage(c, &x, m);
    if (r == 0)
        r = x.d->v2 ? memory_v2(c, &x, m) : memory_v1(c, &x, m);
    cdir_close(&x);
    return r;
}

/* ---------------- cpu, cpuset ---------------- */

static int cpu_v1(struct rctx *c, const struct cdir *x, const struct capsa_cpu *p)
{
    int r;
    if (p->has_shares && p->shares != 0 &&
        (r = put_i64(c, x, "cpu.shares", (int64_t)p->shares, "linux.resources.cpu.shares")) < 0)
        return r;
    bool period = p->has_period && p->period != 0;
    if (period) {
        char buf[32];
        snprintf(buf, sizeof(buf), "%" PRIu64, p->period);
        r = capsa_cg_write(x->fd, "cpu.cfs_period_us", buf);
        /* A shorter period can be refused while the old quota exceeds what
         * the new one allows: set the quota first, then retry (runc). */
        if (r == -EINVAL && p->has_quota) {
            if ((r = put_i64(c, x, "cpu.cfs_quota_us", p->quota, "linux.resources.cpu.quota")) < 0)
                return r;
            r = capsa_cg_write(x->fd, "cpu.cfs_period_us", buf);
        }
        if (r < 0 && (r = put(c, x, "cpu.cfs_period_us", buf, "linux.resources.cpu.period")) < 0)
            return r;
    }
    if (p->has_quota && p->quota != 0 &&
        (r = put_i64(c, x, "cpu.cfs_quota_us", p->quota, "linux.resources.cpu.quota")) < 0)
        return r;
    if (p->has_burst &&
        (r = put_i64(c, x, "cpu.cfs_burst_us", (int64_t)p->burst, "linux.resources.cpu.burst")) < 0)
        return r;
    /* The runtime must fit in the period: period first (runc). */
    if (p->has_realtime_period && p->realtime_period != 0 &&
        (r = put_i64(c, x, "cpu.rt_period_us", (int64_t)p->realtime_period,
                     "linux.resources.cpu.realtimePeriod")) < 0)
        return r;
    if (p->has_realtime_runtime && p->realtime_runtime != 0 &&
        (r = put_i64(c, x, "cpu.rt_runtime_us", p->realtime_runtime,
                     "linux.resources.cpu.realtimeRuntime")) < 0) {
        /* The kernel's EINVAL says nothing: the usual cause is a parent
         * cgroup with less realtime time (0 unless someone gave it some). */
        if (r == -EINVAL)
            capsa_err_wrap(c->err, "%s",
                           "a realtime runtime above the parent cgroup's cpu.rt_runtime_us "
                           "(often 0) or above the period");
        return r;
    }
    if (p->has_idle && (r = put_i64(c, x, "cpu.idle", p->idle, "linux.resources.cpu.idle")) < 0)
        return r;
    return 0;
}

static int cpu_v2(struct rctx *c, const struct cdir *x, const struct capsa_cpu *p)
{
    int r;
    if ((p->has_realtime_period && p->realtime_period != 0) ||
        (p->has_realtime_runtime && p->realtime_runtime != 0))
        return capsa_err_setx(
            c->err, ENOTSUP, "linux.resources.cpu.%s: cgroup v2 has no realtime CPU limits",
            p->has_realtime_runtime && p->realtime_runtime != 0 ? "realtimeRuntime"
                                                                : "realtimePeriod");
    if (p->has_shares && p->shares != 0 &&
        (r = put_i64(c, x, "cpu.weight", (int64_t)capsa_cg_shares_to_weight(p->shares),
                     "linux.resources.cpu.shares")) < 0)
        return r;
    char buf[64];
    capsa_cg_cpu_max(p->has_quota, p->quota, p->has_period, p->period, buf, sizeof(buf));
    if (buf[0] != '\0' && (r = put(c, x, "cpu.max", buf, "linux.resources.cpu.quota")) < 0)
        return r;
    if (p->has_burst &&
        (r = put_i64(c, x, "cpu.max.burst", (int64_t)p->burst, "linux.resources.cpu.burst")) < 0)
        return r;
    if (p->has_idle && (r = put_i64(c, x, "cpu.idle", p->idle, "linux.resources.cpu.idle")) < 0)
        return r;
    return 0;
}

static int apply_cpu(struct rctx *c, const struct capsa_cpu *p)
{
    int r = 0;
    bool cpu = (p->has_shares && p->shares != 0) || p->has_quota || p->has_period || p->has_burst ||
               p->has_realtime_period || p->has_realtime_runtime || p->has_idle;
    if (cpu) {
        struct cdir x;
        r = open_for(c, "cpu", "linux.resources.cpu", &x);
        if (r == 0)
            r = x.d->v2 ? cpu_v2(c, &x, p) : cpu_v1(c, &x, p);
        cdir_close(&x);
        if (r < 0)
            return r;
    }
    bool cpus = p->cpus != NULL && p->cpus[0] != '\0', mems = p->mems != NULL && p->mems[0] != '\0';
    if (cpus || mems) {
        struct cdir x;
        r = open_for(c, "cpuset", cpus ? "linux.resources.cpu.cpus" : "linux.resources.cpu.mems",
                     &x);
        if (r == 0 && cpus)
            r = put(c, &x, "cpuset.cpus", p->cpus, "linux.resources.cpu.cpus");
        if (r == 0 && mems)
            r = put(c, &x, "cpuset.mems", p->mems, "linux.resources.cpu.mems");
        cdir_close(&x);
    }
    return r;
}

/* ---------------- pids ---------------- */

static int apply_pids(struct rctx *c, int64_t limit)
{
    struct cdir x;
    char buf[32];
    int r = open_for(c, "pids", "linux.resources.pids", &x);
    capsa_cg_pids_max(limit, buf, sizeof(buf));
    if (r == 0)
        r = put(c, &x, "pids.max", buf, "linux.resources.pids.limit");
    cdir_close(&x);
    return r;
}

/* ---------------- block I/O ---------------- */

static const char *first_existing(int fd, const char *a, const char *b)
{
    if (capsa_cg_exists(fd, a))
        return a;
    if (b != NULL && capsa_cg_exists(fd, b))
        return b;
    return NULL;
}

static int put_each(struct rctx *c, const struct cdir *x, const char *file,
                    const struct capsa_throttle_device *t, size_t n, const char *v2key,
                    const char *field)
{
    for (size_t i = 0; i < n; i++) {
        char buf[96], fname[96];
        if (v2key && t[i].rate == 0)
            snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %s=max", t[i].major, t[i].minor,
                     v2key);
        else if (v2key)
            snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %s=%" PRIu64, t[i].major,
                     t[i].minor, v2key, t[i].rate);
        else
            snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64, t[i].major, t[i].minor,
                     t[i].rate);
        snprintf(fname, sizeof(fname), "%s[%zu]", field, i);
        int r = put(c, x, file, buf, fname);
        if (r < 0)
            return r;
    }
    return 0;
}

static int blkio_v1(struct rctx *c, const struct cdir *x, const struct capsa_blkio *b)
{
    int r;
    if (b->has_weight && b->weight != 0) {
        const char *f = first_existing(x->fd, "blkio.weight", "blkio.bfq.weight");
        if (f == NULL)
            return capsa_err_setx(c->err, ENOTSUP,
                                  "linux.resources.blockIO.weight: this kernel has no "
                                  "blkio.weight (no weight-based I/O scheduler)");
        if ((r = put_i64(c, x, f, b->weight, "linux.resources.blockIO.weight")) < 0)
            return r;
    }
    if (b->has_leaf_weight && b->leaf_weight != 0) {
        if (!capsa_cg_exists(x->fd, "blkio.leaf_weight"))
            return capsa_err_setx(c->err, ENOTSUP,
                                  "linux.resources.blockIO.leafWeight: this kernel has no "
                                  "blkio.leaf_weight (no weight-based I/O scheduler)");
        if ((r = put_i64(c, x, "blkio.leaf_weight", b->leaf_weight,
                         "linux.resources.blockIO.leafWeight")) < 0)
            return r;
    }
    for (size_t i = 0; i < b->n_weight_device; i++) {
        const struct capsa_weight_device *w = &b->weight_device[i];
        char buf[96], field[96];
        if (w->has_weight) {
            snprintf(field, sizeof(field), "linux.resources.blockIO.weightDevice[%zu].weight", i);
            const char *f = first_existing(x->fd, "blkio.weight_device", "blkio.bfq.weight_device");
            if (f == NULL)
                return capsa_err_setx(c->err, ENOTSUP,
                                      "%s: this kernel has no blkio.weight_device (no "
                                      "weight-based I/O scheduler)",
                                      field);
            snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %u", w->major, w->minor,
                     (unsigned)w->weight);
            if ((r = put(c, x, f, buf, field)) < 0)
                return r;
        }
        if (w->has_leaf_weight) {
            snprintf(field, sizeof(field), "linux.resources.blockIO.weightDevice[%zu].leafWeight",
                     i);
            snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %u", w->major, w->minor,
                     (unsigned)w->leaf_weight);
            if ((r = put(c, x, "blkio.leaf_weight_device", buf, field)) < 0)
                return r;
        }
    }
    if ((r = put_each(c, x, "blkio.throttle.read_bps_device", b->throttle_read_bps,
                      b->n_throttle_read_bps, NULL,
                      "linux.resources.blockIO.throttleReadBpsDevice")) < 0 ||
        (r = put_each(c, x, "blkio.throttle.write_bps_device", b->throttle_write_bps,
                      b->n_throttle_write_bps, NULL,
                      "linux.resources.blockIO.throttleWriteBpsDevice")) < 0 ||
        (r = put_each(c, x, "blkio.throttle.read_iops_device", b->throttle_read_iops,
                      b->n_throttle_read_iops, NULL,
                      "linux.resources.blockIO.throttleReadIOPSDevice")) < 0 ||
        (r = put_each(c, x, "blkio.throttle.write_iops_device", b->throttle_write_iops,
                      b->n_throttle_write_iops, NULL,
                      "linux.resources.blockIO.throttleWriteIOPSDevice")) < 0)
        return r;
    return 0;
}

static int blkio_v2(struct rctx *c, const struct cdir *x, const struct capsa_blkio *b)
{
    int r;
    /* BFQ takes the v1 scale (1..1000) as is; io.weight is 1..10000. */
    bool bfq = capsa_cg_exists(x->fd, "io.bfq.weight");
    if (b->has_weight && b->weight != 0) {
        if (bfq)
            r = put_i64(c, x, "io.bfq.weight", b->weight, "linux.resources.blockIO.weight");
        else if (capsa_cg_exists(x->fd, "io.weight"))
            r = put_i64(c, x, "io.weight", (int64_t)capsa_cg_blkio_to_io_weight(b->weight),
                        "linux.resources.blockIO.weight");
        else
            r = capsa_err_setx(c->err, ENOTSUP,
                               "linux.resources.blockIO.weight: this kernel has no io.weight "
                               "(no weight-based I/O scheduler)");
        if (r < 0)
            return r;
    }
    if (b->has_leaf_weight && b->leaf_weight != 0)
        warnf(c, "linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weight; ignored");
    for (size_t i = 0; i < b->n_weight_device; i++) {
        const struct capsa_weight_device *w = &b->weight_device[i];
        char buf[96], field[96];
        if (w->has_leaf_weight)
            warnf(c,
                  "linux.resources.blockIO.weightDevice[%zu].leafWeight: cgroup v2 has no leaf "
                  "weight; ignored",
                  i);
        if (!w->has_weight)
            continue;
        snprintf(field, sizeof(field), "linux.resources.blockIO.weightDevice[%zu].weight", i);
        snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64, w->major, w->minor,
                 bfq ? (uint64_t)w->weight : capsa_cg_blkio_to_io_weight(w->weight));
        if ((r = put(c, x, bfq ? "io.bfq.weight" : "io.weight", buf, field)) < 0)
            return r;
    }
    if ((r = put_each(c, x, "io.max", b->throttle_read_bps, b->n_throttle_read_bps, "rbps",
                      "linux.resources.blockIO.throttleReadBpsDevice")) < 0 ||
        (r = put_each(c, x, "io.max", b->throttle_write_bps, b->n_throttle_write_bps, "wbps",
                      "linux.resources.blockIO.throttleWriteBpsDevice")) < 0 ||
        (r = put_each(c, x, "io.max", b->throttle_read_iops, b->n_throttle_read_iops, "riops",
                      "linux.resources.blockIO.throttleReadIOPSDevice")) < 0 ||
        (r = put_each(c, x, "io.max", b->throttle_write_iops, b->n_throttle_write_iops, "wiops",
                      "linux.resources.blockIO.throttleWriteIOPSDevice")) < 0)
        return r;
    return 0;
}

static int apply_blkio(struct rctx *c, const struct capsa_blkio *b)
{
    bool any = (b->has_weight && b->weight != 0) || (b->has_leaf_weight && b->leaf_weight != 0) ||
               b->n_weight_device || b->n_throttle_read_bps || b->n_throttle_write_bps ||
               b->n_throttle_read_iops || b->n_throttle_write_iops;
    if (!any)
        return 0;
    struct cdir x = {.d = NULL, .fd = -1};
    int r;
    if (capsa_cg_dir_for(c->cg, "blkio") != NULL)
        r = open_for(c, "blkio", "linux.resources.blockIO", &x);
    else if (capsa_cg_dir_for(c->cg, "io") != NULL)
        r = open_for(c, "io", "linux.resources.blockIO", &x);
    else
        return capsa_err_setx(c->err, ENOENT,
                              "linux.resources.blockIO: neither the blkio (v1) nor the io (v2) "
                              "controller is mounted");
    if (r == 0)
        r = x.d->v2 ? blkio_v2(c, &x, b) : blkio_v1(c, &x, b);
    cdir_close(&x);
    return r;
}

/* ---------------- hugetlb ---------------- */

static int apply_hugetlb(struct rctx *c, const struct capsa_hugepage_limit *h, size_t n)
{
    if (n == 0)
        return 0;
    struct cdir x;
    int r = open_for(c, "hugetlb", "linux.resources.hugepageLimits", &x);
    for (size_t i = 0; r == 0 && i < n; i++) {
        char size[32], file[96], rsvd[96], field[96], val[32];
        snprintf(field, sizeof(field), "linux.resources.hugepageLimits[%zu]", i);
        if (capsa_cg_hugepage_size(h[i].page_size, size, sizeof(size)) < 0) {
            r = capsa_err_setx(c->err, EINVAL, "%s.pageSize: invalid size \"%s\"", field,
                               h[i].page_size ? h[i].page_size : "");
            break;
        }
        snprintf(file, sizeof(file), "hugetlb.%s.%s", size, x.d->v2 ? "max" : "limit_in_bytes");
        snprintf(rsvd, sizeof(rsvd), "hugetlb.%s.rsvd.%s", size,
                 x.d->v2 ? "max" : "limit_in_bytes");
        if (!capsa_cg_exists(x.fd, file)) {
            /* On v2 the file is also missing when the parent does not
             * delegate hugetlb (cgroup.subtree_control): say which. */
            if (x.d->v2 && !v2_enabled(x.fd, "hugetlb"))
                r = capsa_err_setx(c->err, ENOTSUP,
                                   "%s: the hugetlb controller is not enabled for %s (not in "
                                   "its parent's cgroup.subtree_control)",
                                   field, x.d->path);
            else
                r = capsa_err_setx(c->err, ENOTSUP,
                                   "%s.pageSize: this kernel has no %s huge pages (no %s in %s)",
                                   field, size, file, x.d->path);
            break;
        }
        snprintf(val, sizeof(val), "%" PRIu64, h[i].limit);
        r = put(c, &x, file, val, field);
        /* Also limit reservations (Linux 5.7+), as runc does, so that a
         * mapping cannot reserve more than the limit and fault later. */
        if (r == 0 && capsa_cg_exists(x.fd, rsvd))
            r = put(c, &x, rsvd, val, field);
    }
    cdir_close(&x);
    return r;
}

/* ---------------- network, rdma ---------------- */

static int apply_network(struct rctx *c, const struct capsa_resources *res)
{
    int r = 0;
    if (res->has_class_id) {
        struct cdir x;
        r = open_for(c, "net_cls", "linux.resources.network.classID", &x);
        if (r == 0)
            r = put_i64(c, &x, "net_cls.classid", res->class_id, "linux.resources.network.classID");
        cdir_close(&x);
        if (r < 0)
            return r;
    }
    if (res->n_net_priorities > 0) {
        struct cdir x;
        r = open_for(c, "net_prio", "linux.resources.network.priorities", &x);
        for (size_t i = 0; r == 0 && i < res->n_net_priorities; i++) {
            char buf[128], field[96];
            const struct capsa_net_priority *p = &res->net_priorities[i];
            snprintf(field, sizeof(field), "linux.resources.network.priorities[%zu]", i);
            if (p->name == NULL || p->name[0] == '\0' || strpbrk(p->name, " \n/") != NULL) {
                r = capsa_err_setx(c->err, EINVAL, "%s.name: invalid interface name", field);
                break;
            }
            snprintf(buf, sizeof(buf), "%s %" PRIu32, p->name, p->priority);
            r = put(c, &x, "net_prio.ifpriomap", buf, field);
        }
        cdir_close(&x);
    }
    return r;
}

static int apply_rdma(struct rctx *c, const struct capsa_rdma_limit *l, size_t n)
{
    if (n == 0)
        return 0;
    struct cdir x;
    int r = open_for(c, "rdma", "linux.resources.rdma", &x);
    for (size_t i = 0; r == 0 && i < n; i++) {
        char buf[256], field[96], hh[24] = "max", ho[24] = "max";
        snprintf(field, sizeof(field), "linux.resources.rdma[%zu]", i);
        if (l[i].device == NULL || l[i].device[0] == '\0' || strpbrk(l[i].device, " \n") != NULL) {
            r = capsa_err_setx(c->err, EINVAL, "%s: invalid device name", field);
            break;
        }
        if (l[i].has_hca_handles)
            snprintf(hh, sizeof(hh), "%" PRIu32, l[i].hca_handles);
        if (l[i].has_hca_objects)
            snprintf(ho, sizeof(ho), "%" PRIu32, l[i].hca_objects);
        snprintf(buf, sizeof(buf), "%s hca_handle=%s hca_object=%s", l[i].device, hh, ho);
        r = put(c, &x, "rdma.max", buf, field);
    }
    cdir_close(&x);
    return r;
}

/* ---------------- unified ---------------- */

static int apply_unified(struct rctx *c, const struct capsa_kv *kv, size_t n)
{
    if (n == 0)
        return 0;
    const struct capsa_cgroup_dir *d = capsa_cg_v2_dir(c->cg);
    if (d == NULL)
        return capsa_err_setx(c->err, ENOTSUP,
                              "linux.resources.unified.%s: there is no cgroup v2 hierarchy",
                              kv[0].key ? kv[0].key : "");
    struct cdir x = {.d = d, .fd = capsa_cg_open_dir(d->path)};
    if (x.fd < 0)
        return capsa_err_set(c->err, -x.fd, "linux.resources.unified: open %s", d->path);
    cleanup_free char *enabled = NULL;
    (void)capsa_cg_read(x.fd, "cgroup.controllers", &enabled);
    int r = 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        const char *k = kv[i].key ? kv[i].key : "";
        const char *dot = strchr(k, '.');
        /* The key names a file in the directory: a '/' or a dot-dot would
         * reach outside it. */
        if (dot == NULL || dot == k || strchr(k, '/') != NULL || strstr(k, "..") != NULL) {
            r = capsa_err_setx(c->err, EINVAL, "linux.resources.unified.%s: invalid key", k);
            break;
        }
        char ctrl[64];
        snprintf(ctrl, sizeof(ctrl), "%.*s", (int)(dot - k), k);
        if (strcmp(ctrl, "cgroup") != 0) {
            bool on = false;
            for (const char *p = enabled ? enabled : ""; *p;) {
                size_t sp = strspn(p, " \t\n");
                p += sp;
                size_t len = strcspn(p, " \t\n");
                if (len == strlen(ctrl) && strncmp(p, ctrl, len) == 0)
                    on = true;
                p += len;
            }
            if (!on) {
                r = capsa_err_setx(c->err, ENOTSUP,
                                   "linux.resources.unified.%s: the %s controller is not enabled "
                                   "in %s",
                                   k, ctrl, d->path);
                break;
            }
        }
        char field[160];
        snprintf(field, sizeof(field), "linux.resources.unified.%s", k);
        r = put(c, &x, k, kv[i].value ? kv[i].value : "", field);
    }
    cdir_close(&x);
    return r;
}

/* ---------------- entry point ---------------- */

int capsa_cgroup_apply(const struct capsa_cgroup *cg, const struct capsa_resources *res,
                       capsa_warn_fn warn, void *opaque, struct capsa_err *err)
{
    if (res == NULL)
        return 0;
    struct rctx c = {.cg = cg, .warn = warn, .opaque = opaque, .err = err};
    int r = 0;
    if (res->has_memory)
        r = apply_memory(&c, &res->memory);
    if (r == 0 && res->has_cpu)
        r = apply_cpu(&c, &res->cpu);
    if (r == 0 && res->has_pids)
        r = apply_pids(&c, res->pids_limit);
    if (r == 0 && res->has_blkio)
        r = apply_blkio(&c, &res->blkio);
    if (r == 0)
        r = apply_hugetlb(&c, res->hugepage_limits, res->n_hugepage_limits);
    if (r == 0 && res->has_network)
        r = apply_network(&c, res);
    if (r == 0)
        r = apply_rdma(&c, res->rdma, res->n_rdma);
    /* unified last: raw values override the converted ones (runc, crun) */
    if (r == 0)
        r = apply_unified(&c, res->unified, res->n_unified);
    return r;
}
