/* vfile.c - the /proc and /sys files served from the container's cgroup
 * (vfile.h). The pure half first: parsers that accept anything (every number
 * overflow-checked, any malformed part falls back to the host's text), then
 * one function per file. Then the sources: the fds opened at the
 * supervisor's start, the reads through them, the task counts, the memfd. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "level/interpose/vfile.h"
#include "linux/cgroup.h"
#include "sys/sys.h"
#include "util/util.h"

static const char *const vfile_paths[CAPSA_IP_VF_COUNT] = {
    [CAPSA_IP_VF_MEMINFO] = "/proc/meminfo",
    [CAPSA_IP_VF_CPUINFO] = "/proc/cpuinfo",
    [CAPSA_IP_VF_STAT] = "/proc/stat",
    [CAPSA_IP_VF_UPTIME] = "/proc/uptime",
    [CAPSA_IP_VF_LOADAVG] = "/proc/loadavg",
    [CAPSA_IP_VF_SWAPS] = "/proc/swaps",
    [CAPSA_IP_VF_CPU_ONLINE] = "/sys/devices/system/cpu/online",
};

int capsa_ip_vfile_lookup(const char *path)
{
    if (path == NULL)
        return -1;
    for (int i = 0; i < CAPSA_IP_VF_COUNT; i++)
        if (strcmp(path, vfile_paths[i]) == 0)
            return i;
    return -1;
}

/* ---------------- output buffer ---------------- */

struct sb {
    char *p;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (n >= b->cap - b->len) { /* room for n bytes and the NUL */
        size_t cap = b->cap ? b->cap : 512;
        while (n >= cap - b->len) {
            if (cap > SIZE_MAX / 2) {
                b->oom = true;
                return;
            }
            cap *= 2;
        }
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* Only for short formats (numbers): a longer result is a bug, reported as
 * out of memory rather than written truncated. */
__attribute__((format(printf, 2, 3))) static void sb_printf(struct sb *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        b->oom = true;
        return;
    }
    sb_add(b, tmp, (size_t)n);
}

/* A line and its newline (added when the text's last line has none). */
static void sb_line(struct sb *b, const char *l, size_t n)
{
    sb_add(b, l, n);
    sb_add(b, "\n", 1);
}

/* ---------------- parsing ---------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && is_space(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*s)[*n - 1]))
        (*n)--;
}

static bool span_is(const char *p, size_t n, const char *s)
{
    return strlen(s) == n && memcmp(p, s, n) == 0;
}

/* The next line of a NUL-terminated text (without its '\n'). */
static bool line_next(const char **cur, const char **l, size_t *n)
{
    const char *s = *cur;
    if (s == NULL || *s == '\0')
        return false;
    const char *e = strchr(s, '\n');
    *l = s;
    *n = e ? (size_t)(e - s) : strlen(s);
    *cur = e ? e + 1 : s + *n;
    return true;
}

/* The next blank-separated token in [*p, end). */
static bool tok_next(const char **p, const char *end, const char **t, size_t *n)
{
    const char *s = *p;
    while (s < end && is_space(*s))
        s++;
    const char *b = s;
    while (s < end && !is_space(*s))
        s++;
    *p = s;
    *t = b;
    *n = (size_t)(s - b);
    return *n > 0;
}

/* A decimal number, all of it, no sign; false on anything else or overflow. */
static bool u64_of(const char *s, size_t n, uint64_t *out)
{
    if (n == 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return false;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t sat_sub(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

/* kB to bytes, saturating. */
static uint64_t kb_to_b(uint64_t kb)
{
    return kb > UINT64_MAX / 1024 ? UINT64_MAX : kb * 1024;
}

/* A one-value cgroup file: a number, or "max" (v2) / "-1" (v1) for no limit. */
enum one {
    ONE_BAD,
    ONE_NUM,
    ONE_MAX
};
static enum one one_value(const char *text, uint64_t *v)
{
    if (text == NULL)
        return ONE_BAD;
    const char *s = text;
    size_t n = strlen(text);
    trim(&s, &n);
    if (span_is(s, n, "max") || span_is(s, n, "-1"))
        return ONE_MAX;
    return u64_of(s, n, v) ? ONE_NUM : ONE_BAD;
}

/* The lowest limit along a chain of one-value files (the container's cgroup
 * and its ancestors): UINT64_MAX for "no limit". False when no level could be
 * read; a level with garbage is skipped. */
static bool chain_min(const char *const *texts, uint64_t *out)
{
    bool any = false;
    uint64_t m = UINT64_MAX;
    for (size_t i = 0; i < CAPSA_IP_VDEPTH; i++) {
        uint64_t v = 0;
        switch (one_value(texts[i], &v)) {
        case ONE_NUM:
            m = min_u64(m, v);
            any = true;
            break;
        case ONE_MAX:
            any = true;
            break;
        case ONE_BAD:
            break;
        }
    }
    *out = m;
    return any;
}

/* "key value" files (memory.stat). */
static bool kv_get(const char *text, const char *key, uint64_t *out)
{
    size_t kl = strlen(key);
    const char *cur = text, *l = NULL;
    size_t n = 0;
    while (line_next(&cur, &l, &n)) {
        if (n > kl && memcmp(l, key, kl) == 0 && l[kl] == ' ') {
            const char *v = l + kl;
            size_t vn = n - kl;
            trim(&v, &vn);
            return u64_of(v, vn, out);
        }
    }
    return false;
}

/* "Key:   value[ kB]" (meminfo, cpuinfo): the key (trimmed) and the span of
 * the value's first token. */
static bool colon_split(const char *l, size_t n, const char **key, size_t *kn, const char **val,
                        size_t *vn)
{
    const char *c = memchr(l, ':', n);
    if (c == NULL)
        return false;
    *key = l;
    *kn = (size_t)(c - l);
    trim(key, kn);
    const char *p = c + 1;
    if (!tok_next(&p, l + n, val, vn))
        *vn = 0; /* "power management:" */
    return true;
}

static bool mi_get(const char *text, const char *key, uint64_t *kb)
{
    const char *cur = text, *l = NULL, *k = NULL, *v = NULL;
    size_t n = 0, kn = 0, vn = 0;
    while (line_next(&cur, &l, &n))
        if (colon_split(l, n, &k, &kn, &v, &vn) && span_is(k, kn, key))
            return u64_of(v, vn, kb);
    return false;
}

/* ---------------- memory ---------------- */

/* What replaces the host's memory and swap lines. */
struct memview {
    bool mem; /* memory limited below the host's total */
    uint64_t total_kb, free_kb, avail_kb;
    bool swap; /* swap limited below the host's */
    uint64_t swap_total_kb, swap_free_kb;
};

/* A memory.stat value: v1 prefers the hierarchical total_<key> (the
 * container's sub-cgroups included, as v2's values are). */
static bool stat_get(const struct capsa_ip_vinput *in, const char *v1, const char *v2,
                     uint64_t *out)
{
    if (in->mem_stat == NULL)
        return false;
    if (in->mem_v2)
        return v2 != NULL && kv_get(in->mem_stat, v2, out);
    if (v1 == NULL)
        return false;
    char total[64];
    int n = snprintf(total, sizeof(total), "total_%s", v1);
    if (n > 0 && (size_t)n < sizeof(total) && kv_get(in->mem_stat, total, out))
        return true;
    return kv_get(in->mem_stat, v1, out);
}

static void memview_get(const struct capsa_ip_vinput *in, struct memview *mv)
{
    memset(mv, 0, sizeof(*mv));
    uint64_t host_kb = 0, host_swap_kb = 0;
    if (in->meminfo == NULL || !mi_get(in->meminfo, "MemTotal", &host_kb))
        return;
    if (!mi_get(in->meminfo, "SwapTotal", &host_swap_kb))
        host_swap_kb = 0;

    /* Memory: the lowest limit of the chain (v1 also states it as
     * hierarchical_memory_limit, ancestors included). A limit at or above
     * the host's memory is no limit: the host's lines stay. */
    uint64_t lim = UINT64_MAX, usage = 0, h = 0;
    bool have_lim = chain_min(in->mem_limit, &lim);
    if (!in->mem_v2 && stat_get(in, "hierarchical_memory_limit", NULL, &h)) {
        lim = min_u64(lim, h);
        have_lim = true;
    }
    bool have_usage = one_value(in->mem_usage, &usage) == ONE_NUM;
    uint64_t mem_ceiling = have_lim ? min_u64(lim, kb_to_b(host_kb)) : kb_to_b(host_kb);
    if (have_lim && lim / 1024 < host_kb && have_usage) {
        mv->mem = true;
        mv->total_kb = lim / 1024;
        mv->free_kb = sat_sub(lim, usage) / 1024;
        /* As the kernel's MemAvailable: free memory plus the page cache it
         * can reclaim (the file LRUs; v1's usage counts the cache as used). */
        uint64_t af = 0, inf = 0;
        if (!stat_get(in, "active_file", "active_file", &af))
            af = 0;
        if (!stat_get(in, "inactive_file", "inactive_file", &inf))
            inf = 0;
        mv->avail_kb = min_u64(mv->total_kb, sat_add(mv->free_kb, sat_add(af, inf) / 1024));
    }

    /* Swap: v2 limits swap alone; v1 limits memory + swap, so the swap
     * allowance is that limit minus the memory the container may use. */
    uint64_t allow = UINT64_MAX, used = 0;
    bool have_allow = false, have_used = false;
    if (in->mem_v2) {
        have_allow = chain_min(in->swap_limit, &allow);
        have_used = one_value(in->swap_usage, &used) == ONE_NUM;
    } else {
        uint64_t msw = UINT64_MAX, msu = 0;
        have_allow = chain_min(in->swap_limit, &msw);
        if (stat_get(in, "hierarchical_memsw_limit", NULL, &h)) {
            msw = min_u64(msw, h);
            have_allow = true;
        }
        allow = sat_sub(msw, mem_ceiling);
        if (have_usage && one_value(in->swap_usage, &msu) == ONE_NUM) {
            used = sat_sub(msu, usage);
            have_used = true;
        }
    }
    if (have_allow && allow / 1024 < host_swap_kb && (have_used || allow == 0)) {
        mv->swap = true;
        mv->swap_total_kb = allow / 1024;
        mv->swap_free_kb = sat_sub(allow, used) / 1024;
    }
}

/* meminfo lines taken from memory.stat (bytes there, kB here): the v1 key
 * (looked up as total_<key> first), the v2 key; a second key is added. */
struct mi_map {
    const char *mi, *v1, *v1b, *v2, *v2b;
};
static const struct mi_map mi_map[] = {
    {"Cached", "cache", NULL, "file", NULL},
    {"SwapCached", "swapcached", NULL, "swapcached", NULL},
    {"Active", "active_anon", "active_file", "active_anon", "active_file"},
    {"Inactive", "inactive_anon", "inactive_file", "inactive_anon", "inactive_file"},
    {"Active(anon)", "active_anon", NULL, "active_anon", NULL},
    {"Inactive(anon)", "inactive_anon", NULL, "inactive_anon", NULL},
    {"Active(file)", "active_file", NULL, "active_file", NULL},
    {"Inactive(file)", "inactive_file", NULL, "inactive_file", NULL},
    {"Unevictable", "unevictable", NULL, "unevictable", NULL},
    {"Dirty", "dirty", NULL, "file_dirty", NULL},
    {"Writeback", "writeback", NULL, "file_writeback", NULL},
    {"AnonPages", "rss", NULL, "anon", NULL},
    {"Mapped", "mapped_file", NULL, "file_mapped", NULL},
    {"Shmem", "shmem", NULL, "shmem", NULL},
    {"AnonHugePages", "rss_huge", NULL, "anon_thp", NULL},
    {"ShmemHugePages", NULL, NULL, "shmem_thp", NULL},
    {"FileHugePages", NULL, NULL, "file_thp", NULL},
    {"KernelStack", NULL, NULL, "kernel_stack", NULL},
    {"PageTables", NULL, NULL, "pagetables", NULL},
    {"SecPageTables", NULL, NULL, "sec_pagetables", NULL},
    {"Percpu", NULL, NULL, "percpu", NULL},
    {"Slab", NULL, NULL, "slab", NULL},
    {"SReclaimable", NULL, NULL, "slab_reclaimable", NULL},
    {"SUnreclaim", NULL, NULL, "slab_unreclaimable", NULL},
    {"Zswap", NULL, NULL, "zswap", NULL},
    {"Zswapped", NULL, NULL, "zswapped", NULL},
};

/* The container's value of meminfo line key, when it replaces the host's. */
static bool mem_value(const struct capsa_ip_vinput *in, const struct memview *mv, const char *k,
                      size_t kn, uint64_t *v)
{
    if (mv->swap) {
        if (span_is(k, kn, "SwapTotal")) {
            *v = mv->swap_total_kb;
            return true;
        }
        if (span_is(k, kn, "SwapFree")) {
            *v = mv->swap_free_kb;
            return true;
        }
    }
    if (!mv->mem)
        return false;
    if (span_is(k, kn, "MemTotal")) {
        *v = mv->total_kb;
        return true;
    }
    if (span_is(k, kn, "MemFree")) {
        *v = mv->free_kb;
        return true;
    }
    if (span_is(k, kn, "MemAvailable")) {
        *v = mv->avail_kb;
        return true;
    }
    /* Block-device buffers are in the cgroup's page cache (Cached): counting
     * the host's here would count them twice. */
    if (span_is(k, kn, "Buffers") && in->mem_stat != NULL) {
        *v = 0;
        return true;
    }
    for (size_t i = 0; i < sizeof(mi_map) / sizeof(mi_map[0]); i++) {
        const struct mi_map *m = &mi_map[i];
        if (!span_is(k, kn, m->mi))
            continue;
        uint64_t a = 0, b = 0;
        if (!stat_get(in, m->v1, m->v2, &a))
            return false;
        if ((in->mem_v2 ? m->v2b : m->v1b) != NULL && !stat_get(in, m->v1b, m->v2b, &b))
            return false;
        *v = sat_add(a, b) / 1024;
        return true;
    }
    return false;
}

/* The kernel's layout: the key and its colon padded to 16, the value to 8. */
static void emit_kb(struct sb *b, const char *k, size_t kn, uint64_t kb)
{
    sb_add(b, k, kn);
    sb_add(b, ":", 1);
    for (size_t i = kn + 1; i < 16; i++)
        sb_add(b, " ", 1);
    sb_printf(b, "%8" PRIu64 " kB\n", kb);
}

static int fmt_meminfo(const struct capsa_ip_vinput *in, struct sb *b)
{
    if (in->meminfo == NULL)
        return -ENOENT;
    struct memview mv;
    memview_get(in, &mv);
    if (!mv.mem && !mv.swap) {
        sb_str(b, in->meminfo);
        return 0;
    }
    const char *cur = in->meminfo, *l = NULL, *k = NULL, *v = NULL;
    size_t n = 0, kn = 0, vn = 0;
    while (line_next(&cur, &l, &n)) {
        uint64_t val = 0;
        if (colon_split(l, n, &k, &kn, &v, &vn) && mem_value(in, &mv, k, kn, &val))
            emit_kb(b, k, kn, val);
        else
            sb_line(b, l, n);
    }
    return 0;
}

/* swaps: the header alone when the container may not swap at all. The lines
 * of the host's swap areas otherwise (their sizes are the host's: a device
 * has no per-container size). */
static const char swaps_header[] = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n";

static int fmt_swaps(const struct capsa_ip_vinput *in, struct sb *b)
{
    struct memview mv;
    memview_get(in, &mv);
    if (mv.swap && mv.swap_total_kb == 0) {
        const char *cur = in->swaps, *l = NULL;
        size_t n = 0;
        if (line_next(&cur, &l, &n) && n > 0)
            sb_line(b, l, n);
        else
            sb_str(b, swaps_header);
        return 0;
    }
    if (in->swaps == NULL)
        return -ENOENT;
    sb_str(b, in->swaps);
    return 0;
}

/* ---------------- CPUs ---------------- */

/* CPU numbers are below the kernel's largest NR_CPUS (x86-64: 8192). */
#define MAX_CPUS 8192
struct cpumask {
    uint64_t w[MAX_CPUS / 64];
};

static void mask_set(struct cpumask *m, uint64_t c)
{
    m->w[c / 64] |= UINT64_C(1) << (c % 64);
}

static bool mask_has(const struct cpumask *m, uint64_t c)
{
    return c < MAX_CPUS && (m->w[c / 64] >> (c % 64)) & 1;
}

static size_t mask_count(const struct cpumask *m)
{
    size_t n = 0;
    for (size_t i = 0; i < MAX_CPUS / 64; i++)
        n += (size_t)__builtin_popcountll(m->w[i]);
    return n;
}

/* A kernel CPU list: "0-3,8,10-11" (what cpuset.cpus.effective prints); an
 * empty list, a reversed range or a CPU out of range is malformed. */
static bool cpulist_parse(const char *text, struct cpumask *m)
{
    memset(m, 0, sizeof(*m));
    if (text == NULL)
        return false;
    const char *s = text;
    size_t n = strlen(text), i = 0;
    trim(&s, &n);
    if (n == 0)
        return false;
    while (i < n) {
        size_t j = i;
        while (j < n && is_digit(s[j]))
            j++;
        uint64_t a = 0, z = 0;
        if (!u64_of(s + i, j - i, &a) || a >= MAX_CPUS)
            return false;
        z = a;
        i = j;
        if (i < n && s[i] == '-') {
            j = ++i;
            while (j < n && is_digit(s[j]))
                j++;
            if (!u64_of(s + i, j - i, &z) || z >= MAX_CPUS || z < a)
                return false;
            i = j;
        }
        for (uint64_t c = a; c <= z; c++)
            mask_set(m, c);
        if (i < n && (s[i] != ',' || ++i == n))
            return false;
    }
    return true;
}

/* A /proc/stat line's key: 1 for "cpu" (the sum), 2 for "cpuN" (*cpu = N),
 * 0 for another line, -1 for a "cpuN" whose N is out of range. */
static int stat_cpu_key(const char *l, size_t n, uint64_t *cpu)
{
    const char *p = l, *t = NULL;
    size_t tn = 0;
    if (!tok_next(&p, l + n, &t, &tn) || tn < 3 || memcmp(t, "cpu", 3) != 0)
        return 0;
    if (tn == 3)
        return 1;
    for (size_t i = 3; i < tn; i++)
        if (!is_digit(t[i]))
            return 0;
    if (!u64_of(t + 3, tn - 3, cpu) || *cpu >= MAX_CPUS)
        return -1;
    return 2;
}

/* The host's online CPUs: the cpuN lines of /proc/stat (the kernel prints
 * one per online CPU). The count, or -1 for a malformed file. */
static int host_cpus_stat(const char *stat, struct cpumask *m)
{
    memset(m, 0, sizeof(*m));
    const char *cur = stat, *l = NULL;
    size_t n = 0;
    while (line_next(&cur, &l, &n)) {
        uint64_t c = 0;
        int k = stat_cpu_key(l, n, &c);
        if (k < 0)
            return -1;
        if (k == 2)
            mask_set(m, c);
    }
    return (int)mask_count(m);
}

/* A cpuinfo "processor : N" line (x86, arm64, ppc64, riscv); *vp, *vn: the
 * number's span. s390x's "processor 0: ..." lines are not this. */
static bool cpuinfo_processor(const char *l, size_t n, uint64_t *cpu, const char **vp, size_t *vn)
{
    const char *k = NULL;
    size_t kn = 0;
    return colon_split(l, n, &k, &kn, vp, vn) && span_is(k, kn, "processor") &&
           u64_of(*vp, *vn, cpu) && *cpu < MAX_CPUS;
}

static int host_cpus_cpuinfo(const char *cpuinfo, struct cpumask *m)
{
    memset(m, 0, sizeof(*m));
    const char *cur = cpuinfo, *l = NULL, *v = NULL;
    size_t n = 0, vn = 0;
    while (line_next(&cur, &l, &n)) {
        uint64_t c = 0;
        if (cpuinfo_processor(l, n, &c, &v, &vn))
            mask_set(m, c);
    }
    return (int)mask_count(m);
}

/* CPUs the quota pays for: the lowest ceil(quota / period) along the chain,
 * 0 for no quota. */
static uint64_t quota_cpus(const struct capsa_ip_vinput *in)
{
    uint64_t best = 0;
    for (size_t i = 0; i < CAPSA_IP_VDEPTH; i++) {
        uint64_t q = 0, p = 0;
        if (in->cpu_v2) {
            /* cpu.max: "QUOTA PERIOD", QUOTA "max" for none. */
            const char *s = in->cpu_quota[i], *t = NULL;
            if (s == NULL)
                continue;
            const char *end = s + strlen(s);
            size_t tn = 0;
            if (!tok_next(&s, end, &t, &tn) || !u64_of(t, tn, &q) || !tok_next(&s, end, &t, &tn) ||
                !u64_of(t, tn, &p) || tok_next(&s, end, &t, &tn))
                continue;
        } else if (one_value(in->cpu_quota[i], &q) != ONE_NUM ||
                   one_value(in->cpu_period[i], &p) != ONE_NUM) {
            continue;
        }
        if (q == 0 || p == 0)
            continue;
        uint64_t c = q / p + (q % p != 0);
        if (best == 0 || c < best)
            best = c;
    }
    return best;
}

/* The container's CPUs, in the host's numbering, ascending: the host's
 * online ones in the cpuset (all of them when the cpuset is unreadable or
 * shares none), then only as many as the quota pays for (the first ones).
 * The container sees them as 0..n-1. */
struct vcpus {
    uint64_t *ids;
    size_t n;
};

static int vcpus_get(const struct capsa_ip_vinput *in, const struct cpumask *host, struct vcpus *v)
{
    struct cpumask set = *host, cs;
    if (cpulist_parse(in->cpus, &cs)) {
        struct cpumask x;
        for (size_t i = 0; i < MAX_CPUS / 64; i++)
            x.w[i] = host->w[i] & cs.w[i];
        if (mask_count(&x) > 0)
            set = x;
    }
    size_t n = mask_count(&set);
    uint64_t q = quota_cpus(in);
    if (q > 0 && q < n)
        n = (size_t)q;
    v->n = 0;
    v->ids = calloc(n ? n : 1, sizeof(*v->ids));
    if (v->ids == NULL)
        return -ENOMEM;
    for (uint64_t c = 0; c < MAX_CPUS && v->n < n; c++)
        if (mask_has(&set, c))
            v->ids[v->n++] = c;
    return 0;
}

/* The container's number of host CPU c, or -1. */
static long vcpu_index(const struct vcpus *v, uint64_t c)
{
    size_t lo = 0, hi = v->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (v->ids[mid] == c)
            return (long)mid;
        if (v->ids[mid] < c)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int fmt_online(const struct capsa_ip_vinput *in, struct sb *b)
{
    struct cpumask host;
    if (in->stat == NULL || host_cpus_stat(in->stat, &host) <= 0)
        return -ENOENT;
    struct vcpus v = {0};
    if (vcpus_get(in, &host, &v) < 0)
        return -ENOMEM;
    if (v.n <= 1)
        sb_str(b, "0\n");
    else
        sb_printf(b, "0-%zu\n", v.n - 1);
    free(v.ids);
    return 0;
}

/* cpuinfo: the blocks (separated by blank lines) of the container's CPUs,
 * each keeping all its lines but "processor", renumbered. Blocks without a
 * processor line (arm's trailer, s390x's header) stay; a file without any
 * stays whole. */
static int fmt_cpuinfo(const struct capsa_ip_vinput *in, struct sb *b)
{
    if (in->cpuinfo == NULL)
        return -ENOENT;
    struct cpumask host;
    if (host_cpus_cpuinfo(in->cpuinfo, &host) <= 0) {
        sb_str(b, in->cpuinfo);
        return 0;
    }
    struct vcpus v = {0};
    if (vcpus_get(in, &host, &v) < 0)
        return -ENOMEM;
    const char *cur = in->cpuinfo;
    while (*cur != '\0') {
        /* One block: lines up to and including a blank one. */
        const char *start = cur, *l = NULL, *pv = NULL, *vp = NULL;
        size_t n = 0, pvn = 0, vn = 0;
        bool found = false;
        uint64_t cpu = 0, c = 0;
        while (line_next(&cur, &l, &n)) {
            if (!found && cpuinfo_processor(l, n, &c, &vp, &vn)) {
                found = true;
                cpu = c;
                pv = vp;
                pvn = vn;
            }
            const char *t = l;
            size_t tn = n;
            trim(&t, &tn);
            if (tn == 0)
                break;
        }
        if (!found) {
            sb_add(b, start, (size_t)(cur - start));
            continue;
        }
        long idx = vcpu_index(&v, cpu);
        if (idx < 0)
            continue;
        sb_add(b, start, (size_t)(pv - start));
        sb_printf(b, "%ld", idx);
        sb_add(b, pv + pvn, (size_t)(cur - (pv + pvn)));
    }
    free(v.ids);
    return 0;
}

/* stat: "cpu" and "cpuN" for the container's CPUs only, renumbered. The
 * values are the host's lines of those CPUs, and "cpu" is their sum: the
 * time those CPUs spent (by everyone) is what top's percentages need, and
 * v1's cpuacct.usage_percpu (LXCFS's source) has only the container's
 * busy time, no idle or iowait, and does not exist on v2. btime is the
 * container's start; procs_running and procs_blocked count the cgroup's
 * threads. processes (forks since boot), intr, ctxt and softirq have no
 * per-cgroup counter and stay the host's. */
#define STAT_COLS 32

/* The values of a cpu line; false when malformed. */
static bool stat_values(const char *l, size_t n, uint64_t *vals, size_t *nv)
{
    const char *p = l, *t = NULL;
    size_t tn = 0;
    *nv = 0;
    if (!tok_next(&p, l + n, &t, &tn)) /* the key */
        return false;
    while (tok_next(&p, l + n, &t, &tn)) {
        if (*nv == STAT_COLS || !u64_of(t, tn, &vals[*nv]))
            return false;
        (*nv)++;
    }
    return *nv > 0;
}

static void emit_values(struct sb *b, const uint64_t *vals, size_t nv)
{
    for (size_t i = 0; i < nv; i++)
        sb_printf(b, " %" PRIu64, vals[i]);
    sb_add(b, "\n", 1);
}

/* The container's cpu lines, or false when the host's must stay. */
static bool stat_cpu_block(const struct capsa_ip_vinput *in, struct sb *cpus, int *err)
{
    struct cpumask host;
    if (host_cpus_stat(in->stat, &host) <= 0)
        return false;
    struct vcpus v = {0};
    if (vcpus_get(in, &host, &v) < 0) {
        *err = -ENOMEM;
        return false;
    }
    uint64_t sum[STAT_COLS] = {0}, vals[STAT_COLS];
    size_t cols = 0, nv = 0, seen = 0;
    struct sb per = {0};
    bool ok = true;
    const char *cur = in->stat, *l = NULL;
    size_t n = 0;
    while (ok && line_next(&cur, &l, &n)) {
        uint64_t c = 0;
        long idx = -1;
        if (stat_cpu_key(l, n, &c) != 2 || (idx = vcpu_index(&v, c)) < 0)
            continue;
        if (!stat_values(l, n, vals, &nv)) {
            ok = false;
            break;
        }
        for (size_t i = 0; i < nv && ok; i++) {
            ok = sum[i] <= UINT64_MAX - vals[i];
            sum[i] += ok ? vals[i] : 0;
        }
        cols = nv > cols ? nv : cols;
        seen++;
        sb_printf(&per, "cpu%ld", idx);
        emit_values(&per, vals, nv);
    }
    free(v.ids);
    if (ok && seen > 0) {
        sb_str(cpus, "cpu ");
        emit_values(cpus, sum, cols);
        if (per.p != NULL)
            sb_add(cpus, per.p, per.len);
        cpus->oom |= per.oom;
    }
    free(per.p);
    return ok && seen > 0;
}

static int fmt_stat(const struct capsa_ip_vinput *in, struct sb *b)
{
    if (in->stat == NULL)
        return -ENOENT;
    struct sb cpus = {0};
    int r = 0;
    bool own_cpus = stat_cpu_block(in, &cpus, &r);
    if (r < 0)
        return r;
    bool cpus_done = false;
    const char *cur = in->stat, *l = NULL;
    size_t n = 0;
    while (line_next(&cur, &l, &n)) {
        uint64_t c = 0, v = 0;
        const char *p = l, *t = NULL;
        size_t tn = 0;
        if (own_cpus && stat_cpu_key(l, n, &c) != 0) {
            if (!cpus_done && cpus.p != NULL)
                sb_add(b, cpus.p, cpus.len);
            cpus_done = true;
            continue;
        }
        if (!tok_next(&p, l + n, &t, &tn)) {
            sb_line(b, l, n);
            continue;
        }
        const char *vt = NULL;
        size_t vtn = 0;
        bool one_num = tok_next(&p, l + n, &vt, &vtn) && u64_of(vt, vtn, &v);
        if (one_num && span_is(t, tn, "btime") && in->have_start && in->clk_tck > 0) {
            sb_printf(b, "btime %" PRIu64 "\n",
                      sat_add(v, in->start_ticks / (uint64_t)in->clk_tck));
        } else if (one_num && span_is(t, tn, "procs_running") && in->tasks.valid) {
            /* The thread reading this file runs, though it waits in the
             * supervisor meanwhile and so counted as sleeping. */
            sb_printf(b, "procs_running %" PRIu64 "\n",
                      in->tasks.running > 0 ? in->tasks.running : 1);
        } else if (one_num && span_is(t, tn, "procs_blocked") && in->tasks.valid) {
            sb_printf(b, "procs_blocked %" PRIu64 "\n", in->tasks.blocked);
        } else {
            sb_line(b, l, n);
        }
    }
    b->oom |= cpus.oom;
    free(cpus.p);
    return 0;
}

/* ---------------- time and load ---------------- */

/* "12345.67" (as /proc/uptime prints) in hundredths of a second. */
static bool centi_of(const char *s, size_t n, uint64_t *cs)
{
    const char *dot = memchr(s, '.', n);
    size_t in = dot ? (size_t)(dot - s) : n;
    uint64_t whole = 0, frac = 0;
    if (!u64_of(s, in, &whole) || whole > UINT64_MAX / 100)
        return false;
    if (dot != NULL) {
        size_t fn = n - in - 1;
        if (fn == 0 || fn > 2 || !u64_of(dot + 1, fn, &frac))
            return false;
        if (fn == 1)
            frac *= 10;
    }
    *cs = sat_add(whole * 100, frac);
    return true;
}

/* uptime: the time since the container's init started; idle: the host's
 * idle share (idle CPU time over CPU time since boot) applied to the
 * container's CPUs over the container's lifetime, as the host's idle time
 * is summed over all its CPUs and no counter holds the container's own. */
static int fmt_uptime(const struct capsa_ip_vinput *in, struct sb *b)
{
    if (in->uptime == NULL)
        return -ENOENT;
    const char *cur = in->uptime, *l = NULL;
    size_t n = 0;
    uint64_t up = 0, idle = 0;
    bool ok = in->have_start && in->clk_tck > 0 && line_next(&cur, &l, &n);
    if (ok) {
        const char *p = l, *t = NULL;
        size_t tn = 0;
        ok = tok_next(&p, l + n, &t, &tn) && centi_of(t, tn, &up) && tok_next(&p, l + n, &t, &tn) &&
             centi_of(t, tn, &idle);
    }
    if (!ok) {
        sb_str(b, in->uptime);
        return 0;
    }
    uint64_t tck = (uint64_t)in->clk_tck;
    uint64_t secs = in->start_ticks / tck, rem = in->start_ticks % tck;
    uint64_t start =
        secs > UINT64_MAX / 100
            ? UINT64_MAX
            : sat_add(secs * 100, rem > UINT64_MAX / 100 ? rem / (tck / 100) : rem * 100 / tck);
    uint64_t cup = sat_sub(up, start);

    uint64_t hcpus = 1, ccpus = 1;
    struct cpumask host;
    if (in->stat != NULL && host_cpus_stat(in->stat, &host) > 0) {
        struct vcpus v = {0};
        if (vcpus_get(in, &host, &v) < 0)
            return -ENOMEM;
        hcpus = mask_count(&host);
        ccpus = v.n ? v.n : 1;
        free(v.ids);
    }
    unsigned __int128 cidle = 0;
    if (up > 0) {
        cidle = (unsigned __int128)idle * ccpus * cup / ((unsigned __int128)hcpus * up);
        unsigned __int128 cap = (unsigned __int128)cup * ccpus;
        if (cidle > cap)
            cidle = cap;
        if (cidle > UINT64_MAX)
            cidle = UINT64_MAX;
    }
    uint64_t ci = (uint64_t)cidle;
    sb_printf(b, "%" PRIu64 ".%02" PRIu64 " %" PRIu64 ".%02" PRIu64 "\n", cup / 100, cup % 100,
              ci / 100, ci % 100);
    return 0;
}

/* loadavg: the kernel's three numbers are decaying averages of the number of
 * runnable plus uninterruptible tasks, sampled every 5 s; LXCFS keeps a
 * sampling thread to compute them per cgroup. The supervisor has no such
 * thread, and the host's averages (even scaled by the CPU ratio) would show
 * other tenants' load and tell the container about them. So the three
 * fields are the container's instantaneous count of such threads, the same
 * for all three: honest, if not smoothed (tools such as make -l and GNU
 * parallel --load read it to decide whether to start more work, for which
 * the current count of the container is the right input). Then
 * running/total threads, and the highest pid of the container's processes
 * in its own pid namespace (the kernel's last field is the last pid given
 * out in the reader's namespace; the largest one in use comes closest). */
static int fmt_loadavg(const struct capsa_ip_vinput *in, struct sb *b)
{
    const struct capsa_ip_vtasks *t = &in->tasks;
    if (!t->valid) {
        if (in->loadavg == NULL)
            return -ENOENT;
        sb_str(b, in->loadavg);
        return 0;
    }
    uint64_t load = sat_add(t->running, t->blocked);
    uint64_t running = t->running > 0 ? t->running : 1; /* the reader, as in stat */
    uint64_t total = t->total > running ? t->total : running;
    sb_printf(b,
              "%" PRIu64 ".00 %" PRIu64 ".00 %" PRIu64 ".00 %" PRIu64 "/%" PRIu64 " %" PRIu64 "\n",
              load, load, load, running, total, t->last_pid);
    return 0;
}

int capsa_ip_vfile_format(const struct capsa_ip_vinput *in, enum capsa_ip_vfile f, char **out,
                          size_t *len, struct capsa_err *err)
{
    struct sb b = {0};
    int r = -EINVAL;
    switch (f) {
    case CAPSA_IP_VF_MEMINFO:
        r = fmt_meminfo(in, &b);
        break;
    case CAPSA_IP_VF_CPUINFO:
        r = fmt_cpuinfo(in, &b);
        break;
    case CAPSA_IP_VF_STAT:
        r = fmt_stat(in, &b);
        break;
    case CAPSA_IP_VF_UPTIME:
        r = fmt_uptime(in, &b);
        break;
    case CAPSA_IP_VF_LOADAVG:
        r = fmt_loadavg(in, &b);
        break;
    case CAPSA_IP_VF_SWAPS:
        r = fmt_swaps(in, &b);
        break;
    case CAPSA_IP_VF_CPU_ONLINE:
        r = fmt_online(in, &b);
        break;
    case CAPSA_IP_VF_COUNT:
    default:
        return capsa_err_setx(err, EINVAL, "served file: unknown file number %d", (int)f);
    }
    if (r == 0 && b.oom)
        r = -ENOMEM;
    if (r == 0 && b.p == NULL) /* an empty file */
        b.p = calloc(1, 1);
    if (r == 0 && b.p == NULL)
        r = -ENOMEM;
    if (r < 0) {
        free(b.p);
        if (r == -ENOENT)
            return capsa_err_setx(err, ENOENT, "%s: the host's file to serve it from is missing",
                                  vfile_paths[f]);
        return capsa_err_set(err, -r, "%s", vfile_paths[f]);
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ---------------- the sources ---------------- */

/* Read limits: /proc/cpuinfo of a machine with thousands of CPUs is a few
 * MiB; cgroup value files are short. */
#define TEXT_MAX  ((size_t)32 << 20)
#define VALUE_MAX ((size_t)1 << 20)

/* Bounds of the walk over the container's cgroup tree (the workload may
 * make sub-cgroups when its cgroupfs is writable) and of the task count. */
#define WALK_DEPTH 32
#define WALK_DIRS  4096
#define WALK_PROCS 65536
#define WALK_TASKS 262144

static void vdir_init(struct capsa_ip_vdir *d)
{
    for (size_t i = 0; i < CAPSA_IP_VDEPTH; i++)
        d->fd[i] = -1;
    d->n = 0;
    d->v2 = false;
}

static void vdir_close(struct capsa_ip_vdir *d)
{
    for (size_t i = 0; i < CAPSA_IP_VDEPTH; i++)
        capsa_close(&d->fd[i]);
    d->n = 0;
}

static bool is_cgroupfs(int fd)
{
    struct statfs sf;
    return fstatfs(fd, &sf) == 0 &&
           (sf.f_type == CGROUP_SUPER_MAGIC || sf.f_type == CGROUP2_SUPER_MAGIC);
}

/* Open a container's cgroup directory and up to depth - 1 ancestors: ".."
 * while it is still a cgroupfs directory and not the same one (the
 * hierarchy's root is its own parent only at a filesystem root; at a mount
 * point ".." leaves the cgroupfs). */
static int vdir_open(struct capsa_ip_vdir *d, const struct capsa_cgroup_dir *cd, size_t depth,
                     struct capsa_err *err)
{
    d->v2 = cd->v2;
    d->fd[0] = open(cd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->fd[0] < 0)
        return capsa_err_set(err, errno, "open the cgroup directory %s", cd->path);
    d->n = 1;
    struct stat prev;
    if (fstat(d->fd[0], &prev) < 0)
        return capsa_err_set(err, errno, "stat %s", cd->path);
    while (d->n < depth) {
        int up = openat(d->fd[d->n - 1], "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        if (up < 0)
            break;
        if (!is_cgroupfs(up) || fstat(up, &st) < 0 ||
            (st.st_dev == prev.st_dev && st.st_ino == prev.st_ino)) {
            close(up);
            break;
        }
        d->fd[d->n++] = up;
        prev = st;
    }
    return 0;
}

static bool has_ctl(char *const *ctls, const char *name)
{
    for (size_t i = 0; ctls != NULL && ctls[i] != NULL; i++)
        if (strcmp(ctls[i], name) == 0)
            return true;
    return false;
}

/* The directory to list the container's processes from: the v2 one (capsa
 * puts every container there, with or without controllers), else a v1
 * hierarchy that holds every process of the container. */
static const struct capsa_cgroup_dir *procs_dir(const struct capsa_cgroup *cg)
{
    static const char *const pref[] = {"pids",   "cpu",     "cpuacct", "memory",
                                       "cpuset", "freezer", "devices", "blkio"};
    for (size_t i = 0; i < cg->n; i++)
        if (cg->d[i].v2)
            return &cg->d[i];
    for (size_t p = 0; p < ARRAY_SIZE(pref); p++)
        for (size_t i = 0; i < cg->n; i++)
            if (has_ctl(cg->d[i].controllers, pref[p]))
                return &cg->d[i];
    return NULL;
}

/* Field 22 of /proc/<pid>/stat: the start, in clock ticks after boot. The
 * command name (field 2) may hold spaces and ')': fields are counted from
 * the last ')'. */
static bool stat_field_after_comm(const char *stat, size_t field, const char **t, size_t *tn)
{
    const char *rp = strrchr(stat, ')');
    if (rp == NULL)
        return false;
    const char *p = rp + 1, *end = p + strlen(p);
    for (size_t i = 3; i <= field; i++)
        if (!tok_next(&p, end, t, tn))
            return false;
    return true;
}

void capsa_ip_vsrc_close(struct capsa_ip_vsrc *s)
{
    capsa_close(&s->proc_fd);
    capsa_close(&s->procs_fd);
    vdir_close(&s->mem);
    vdir_close(&s->cpu);
    vdir_close(&s->cpuset);
}

static int vsrc_open_cgroups(struct capsa_ip_vsrc *s, const char *cgroup_text,
                             struct capsa_err *err)
{
    struct capsa_cgroup *cg = NULL;
    int r = capsa_cgroup_decode(cgroup_text, &cg, err);
    if (r < 0)
        return capsa_err_wrap(err, "served files: the container's cgroup");
    for (size_t i = 0; i < cg->n && r == 0; i++) {
        const struct capsa_cgroup_dir *d = &cg->d[i];
        if (s->mem.n == 0 && has_ctl(d->controllers, "memory"))
            r = vdir_open(&s->mem, d, CAPSA_IP_VDEPTH, err);
        if (r == 0 && s->cpu.n == 0 && has_ctl(d->controllers, "cpu"))
            r = vdir_open(&s->cpu, d, CAPSA_IP_VDEPTH, err);
        /* cpuset.*effective* already accounts for the ancestors. */
        if (r == 0 && s->cpuset.n == 0 && has_ctl(d->controllers, "cpuset"))
            r = vdir_open(&s->cpuset, d, 1, err);
    }
    const struct capsa_cgroup_dir *pd = r == 0 ? procs_dir(cg) : NULL;
    if (pd != NULL) {
        s->procs_fd = open(pd->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->procs_fd < 0)
            r = capsa_err_set(err, errno, "open the cgroup directory %s", pd->path);
    }
    capsa_cgroup_free(cg);
    return r;
}

int capsa_ip_vsrc_open(int host_proc_fd, const char *cgroup_text, pid_t init_pid,
                       struct capsa_ip_vsrc *out, struct capsa_err *err)
{
    memset(out, 0, sizeof(*out));
    out->proc_fd = -1;
    out->procs_fd = -1;
    vdir_init(&out->mem);
    vdir_init(&out->cpu);
    vdir_init(&out->cpuset);
    long tck = sysconf(_SC_CLK_TCK);
    out->clk_tck = tck > 0 ? tck : 100;

    struct statfs sf;
    if (fstatfs(host_proc_fd, &sf) < 0 || sf.f_type != PROC_SUPER_MAGIC)
        return capsa_err_setx(err, EINVAL, "served files: fd %d is not a procfs", host_proc_fd);
    out->proc_fd = fcntl(host_proc_fd, F_DUPFD_CLOEXEC, 3);
    if (out->proc_fd < 0)
        return capsa_err_set(err, errno, "served files: dup the procfs fd");
    /* The memfd's reopen and the pid translation go through our own entry
     * there: a procfs of a pid namespace that does not see us is no use. */
    char self[32];
    if (readlinkat(out->proc_fd, "thread-self", self, sizeof(self)) < 0) {
        int e = errno;
        capsa_ip_vsrc_close(out);
        return capsa_err_set(err, e, "served files: the caller is not visible in the procfs");
    }

    int r = 0;
    if (cgroup_text != NULL && *cgroup_text != '\0')
        r = vsrc_open_cgroups(out, cgroup_text, err);
    if (r == 0 && init_pid > 0) {
        char path[32];
        snprintf(path, sizeof(path), "%d/stat", (int)init_pid);
        cleanup_free char *st = NULL;
        const char *t = NULL;
        size_t tn = 0;
        r = capsa_read_file_at(out->proc_fd, path, VALUE_MAX, &st, NULL, err);
        if (r < 0)
            r = capsa_err_wrap(err, "served files: the init's start time");
        else if (!stat_field_after_comm(st, 22, &t, &tn) || !u64_of(t, tn, &out->start_ticks))
            r = capsa_err_setx(err, EINVAL, "served files: /proc/%d/stat: no start time",
                               (int)init_pid);
        else
            out->have_start = true;
    }
    if (r < 0)
        capsa_ip_vsrc_close(out);
    return r;
}

/* A file's text, or NULL whatever the reason (missing on this kernel or
 * cgroup version, unreadable): the pure half falls back to the host's. */
static char *rd(int dirfd, const char *name, size_t max)
{
    if (dirfd < 0)
        return NULL;
    struct capsa_err e;
    char *t = NULL;
    if (capsa_read_file_at(dirfd, name, max, &t, NULL, &e) < 0)
        return NULL;
    return t;
}

/* The texts read for one rendering, freed together. */
struct owned {
    char *t[64];
    size_t n;
};

static const char *own(struct owned *o, char *t)
{
    if (t != NULL && o->n == ARRAY_SIZE(o->t)) {
        free(t);
        return NULL;
    }
    if (t != NULL)
        o->t[o->n++] = t;
    return t;
}

static void owned_free(struct owned *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->t[i]);
    o->n = 0;
}

static void rd_chain(const struct capsa_ip_vdir *d, const char *name, const char **dst,
                     struct owned *o)
{
    for (size_t i = 0; i < d->n && i < CAPSA_IP_VDEPTH; i++)
        dst[i] = own(o, rd(d->fd[i], name, VALUE_MAX));
}

/* ---- task counts ---- */

struct walk {
    int proc_fd;
    pid_t self;
    size_t dirs, procs, tasks;
    bool broken; /* a pid could not be translated: the counts are unknown */
    struct capsa_ip_vtasks *t;
};

/* From a pidfd's fdinfo read through the host's procfs: the pid there
 * ("Pid:"; -1 once the process is gone, 0 when that procfs's pid namespace
 * does not see it) and in the innermost namespace (the last "NSpid:" field:
 * the container's). */
static bool fdinfo_pids(const char *fi, int64_t *pid, uint64_t *inner)
{
    const char *cur = fi, *l = NULL, *t = NULL;
    size_t n = 0, tn = 0;
    bool have_pid = false;
    uint64_t v = 0;
    *inner = 0;
    while (line_next(&cur, &l, &n)) {
        const char *p = l;
        if (!tok_next(&p, l + n, &t, &tn))
            continue;
        if (span_is(t, tn, "Pid:") && tok_next(&p, l + n, &t, &tn)) {
            if (span_is(t, tn, "-1"))
                *pid = -1;
            else if (u64_of(t, tn, &v) && v <= INT_MAX)
                *pid = (int64_t)v;
            else
                return false;
            have_pid = true;
        } else if (span_is(t, tn, "NSpid:")) {
            while (tok_next(&p, l + n, &t, &tn))
                if (!u64_of(t, tn, inner))
                    *inner = 0;
        }
    }
    return have_pid;
}

enum hostpid {
    HP_OK,
    HP_GONE,
    HP_BROKEN
};

static enum hostpid pidfd_host_pid(int proc_fd, int pidfd, int64_t *pid, uint64_t *inner)
{
    char path[64];
    snprintf(path, sizeof(path), "thread-self/fdinfo/%d", pidfd);
    cleanup_free char *fi = rd(proc_fd, path, VALUE_MAX);
    if (fi == NULL || !fdinfo_pids(fi, pid, inner) || *pid == 0)
        return HP_BROKEN;
    return *pid > 0 ? HP_OK : HP_GONE;
}

/* The threads of one process of the cgroup (pid in the caller's pid
 * namespace, as cgroup.procs lists it). A pidfd names the process whatever
 * the namespaces; its fdinfo, read through the host's procfs, gives the pid
 * under which the host's /proc/<pid>/task shows its threads. The counts are
 * kept only if the process is still the same one afterwards (its pidfd
 * still gives that pid), so that a pid reused meanwhile counts nothing. A
 * pid that cannot be translated (fdinfo unreadable or without "Pid:", a
 * process the procfs does not see) makes all the counts unknown: better the
 * host's lines than a wrong count. */
static void count_proc(struct walk *w, pid_t pid)
{
    if (pid == w->self || w->procs >= WALK_PROCS)
        return;
    w->procs++;
    cleanup_close int pfd = capsa_pidfd_open(pid, 0);
    int64_t hp = 0, hp2 = 0;
    uint64_t inner = 0, inner2 = 0;
    if (pfd < 0) {
        w->broken |= errno != ESRCH; /* ESRCH: gone already */
        return;
    }
    enum hostpid h = pidfd_host_pid(w->proc_fd, pfd, &hp, &inner);
    if (h == HP_BROKEN)
        w->broken = true;
    if (h != HP_OK)
        return;
    char path[64];
    snprintf(path, sizeof(path), "%" PRId64 "/task", hp);
    int tfd = openat(w->proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (tfd < 0)
        return;
    cleanup_dir DIR *d = fdopendir(tfd);
    if (d == NULL) {
        close(tfd);
        return;
    }
    uint64_t run = 0, blk = 0, tot = 0;
    for (const struct dirent *de; (de = readdir(d)) != NULL && w->tasks < WALK_TASKS;) {
        if (de->d_name[0] == '.')
            continue;
        char sp[NAME_MAX + 8];
        snprintf(sp, sizeof(sp), "%s/stat", de->d_name);
        cleanup_free char *st = rd(dirfd(d), sp, VALUE_MAX);
        const char *t = NULL;
        size_t tn = 0;
        if (st == NULL || !stat_field_after_comm(st, 3, &t, &tn))
            continue; /* exited meanwhile */
        w->tasks++;
        tot++;
        run += t[0] == 'R';
        blk += t[0] == 'D';
    }
    if (pidfd_host_pid(w->proc_fd, pfd, &hp2, &inner2) != HP_OK || hp2 != hp)
        return;
    w->t->running += run;
    w->t->blocked += blk;
    w->t->total += tot;
    if (inner > w->t->last_pid)
        w->t->last_pid = inner;
}

static bool count_procs_file(struct walk *w, int dirfd)
{
    cleanup_free char *procs = rd(dirfd, "cgroup.procs", TEXT_MAX);
    if (procs == NULL)
        return false;
    const char *cur = procs, *l = NULL;
    size_t n = 0;
    while (line_next(&cur, &l, &n)) {
        uint64_t pid = 0;
        trim(&l, &n);
        /* 0: a process outside the caller's pid namespace. */
        if (u64_of(l, n, &pid) && pid > 0 && pid <= INT_MAX)
            count_proc(w, (pid_t)pid);
    }
    return true;
}

/* The cgroup at dirfd and its sub-cgroups, depth first, bounded. */
// NOLINTNEXTLINE(misc-no-recursion): depth <= WALK_DEPTH
static bool walk_cgroup(struct walk *w, int dirfd, unsigned depth)
{
    if (!count_procs_file(w, dirfd))
        return false;
    if (depth >= WALK_DEPTH)
        return true;
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return true;
    cleanup_dir DIR *d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return true;
    }
    for (const struct dirent *de; (de = readdir(d)) != NULL && w->dirs < WALK_DIRS;) {
        if ((de->d_type != DT_DIR && de->d_type != DT_UNKNOWN) || strcmp(de->d_name, ".") == 0 ||
            strcmp(de->d_name, "..") == 0)
            continue;
        cleanup_close int sub =
            openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            continue;
        w->dirs++;
        (void)walk_cgroup(w, sub, depth + 1);
    }
    return true;
}

static void count_tasks(const struct capsa_ip_vsrc *s, struct capsa_ip_vtasks *t)
{
    memset(t, 0, sizeof(*t));
    if (s->procs_fd < 0)
        return;
    struct walk w = {.proc_fd = s->proc_fd, .self = getpid(), .t = t};
    bool ok = walk_cgroup(&w, s->procs_fd, 0);
    if (!ok || w.broken)
        memset(t, 0, sizeof(*t));
    else
        t->valid = true;
}

/* ---- rendering ---- */

enum {
    N_MEMINFO = 1 << 0,
    N_CPUINFO = 1 << 1,
    N_STAT = 1 << 2,
    N_UPTIME = 1 << 3,
    N_LOADAVG = 1 << 4,
    N_SWAPS = 1 << 5,
    N_MEM = 1 << 6,
    N_CPU = 1 << 7,
    N_TASKS = 1 << 8,
};

static const unsigned vfile_needs[CAPSA_IP_VF_COUNT] = {
    [CAPSA_IP_VF_MEMINFO] = N_MEMINFO | N_MEM,
    [CAPSA_IP_VF_CPUINFO] = N_CPUINFO | N_CPU,
    [CAPSA_IP_VF_STAT] = N_STAT | N_CPU | N_TASKS,
    [CAPSA_IP_VF_UPTIME] = N_UPTIME | N_STAT | N_CPU,
    [CAPSA_IP_VF_LOADAVG] = N_LOADAVG | N_TASKS,
    [CAPSA_IP_VF_SWAPS] = N_SWAPS | N_MEMINFO | N_MEM,
    [CAPSA_IP_VF_CPU_ONLINE] = N_STAT | N_CPU,
};

static bool blank(const char *t)
{
    for (; t != NULL && *t != '\0'; t++)
        if (!is_space(*t))
            return false;
    return true;
}

static void read_mem(const struct capsa_ip_vsrc *s, struct capsa_ip_vinput *in, struct owned *o)
{
    const struct capsa_ip_vdir *d = &s->mem;
    if (d->n == 0)
        return;
    in->mem_v2 = d->v2;
    rd_chain(d, d->v2 ? "memory.max" : "memory.limit_in_bytes", in->mem_limit, o);
    rd_chain(d, d->v2 ? "memory.swap.max" : "memory.memsw.limit_in_bytes", in->swap_limit, o);
    in->mem_usage =
        own(o, rd(d->fd[0], d->v2 ? "memory.current" : "memory.usage_in_bytes", VALUE_MAX));
    in->swap_usage = own(
        o, rd(d->fd[0], d->v2 ? "memory.swap.current" : "memory.memsw.usage_in_bytes", VALUE_MAX));
    in->mem_stat = own(o, rd(d->fd[0], "memory.stat", VALUE_MAX));
}

static void read_cpu(const struct capsa_ip_vsrc *s, struct capsa_ip_vinput *in, struct owned *o)
{
    const struct capsa_ip_vdir *d = &s->cpuset;
    if (d->n > 0) {
        in->cpus = own(
            o, rd(d->fd[0], d->v2 ? "cpuset.cpus.effective" : "cpuset.effective_cpus", VALUE_MAX));
        /* Older v1 kernels have no effective_cpus; an empty cpuset.cpus
         * (v2: inherit) is left to the host's set. */
        if (blank(in->cpus))
            in->cpus = own(o, rd(d->fd[0], "cpuset.cpus", VALUE_MAX));
    }
    d = &s->cpu;
    if (d->n > 0) {
        in->cpu_v2 = d->v2;
        rd_chain(d, d->v2 ? "cpu.max" : "cpu.cfs_quota_us", in->cpu_quota, o);
        if (!d->v2)
            rd_chain(d, "cpu.cfs_period_us", in->cpu_period, o);
    }
}

int capsa_ip_vfile_render(const struct capsa_ip_vsrc *s, enum capsa_ip_vfile f, char **out,
                          size_t *len, struct capsa_err *err)
{
    if ((unsigned)f >= CAPSA_IP_VF_COUNT)
        return capsa_err_setx(err, EINVAL, "served file: unknown file number %d", (int)f);
    unsigned need = vfile_needs[f];
    struct capsa_ip_vinput in;
    memset(&in, 0, sizeof(in));
    struct owned o = {.n = 0};
    if (need & N_MEMINFO)
        in.meminfo = own(&o, rd(s->proc_fd, "meminfo", TEXT_MAX));
    if (need & N_CPUINFO)
        in.cpuinfo = own(&o, rd(s->proc_fd, "cpuinfo", TEXT_MAX));
    if (need & N_STAT)
        in.stat = own(&o, rd(s->proc_fd, "stat", TEXT_MAX));
    if (need & N_UPTIME)
        in.uptime = own(&o, rd(s->proc_fd, "uptime", VALUE_MAX));
    if (need & N_LOADAVG)
        in.loadavg = own(&o, rd(s->proc_fd, "loadavg", VALUE_MAX));
    if (need & N_SWAPS)
        in.swaps = own(&o, rd(s->proc_fd, "swaps", TEXT_MAX));
    if (need & N_MEM)
        read_mem(s, &in, &o);
    if (need & N_CPU)
        read_cpu(s, &in, &o);
    if (need & N_TASKS)
        count_tasks(s, &in.tasks);
    in.have_start = s->have_start;
    in.start_ticks = s->start_ticks;
    in.clk_tck = s->clk_tck;
    int r = capsa_ip_vfile_format(&in, f, out, len, err);
    owned_free(&o);
    return r;
}

int capsa_ip_vfile_memfd(int proc_fd, const char *name, const char *buf, size_t len,
                         struct capsa_err *err)
{
    cleanup_close int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return capsa_err_set(err, errno, "served file %s: memfd_create", name);
    int r = capsa_write_all(fd, buf, len);
    if (r < 0)
        return capsa_err_set(err, -r, "served file %s: write", name);
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        return capsa_err_set(err, errno, "served file %s: seal", name);
    /* A new open file description: read-only, at offset 0. */
    char path[64];
    snprintf(path, sizeof(path), "thread-self/fd/%d", fd);
    cleanup_close int ro = openat(proc_fd, path, O_RDONLY | O_CLOEXEC);
    if (ro < 0)
        return capsa_err_set(err, errno, "served file %s: reopen read-only", name);
    struct stat a, b;
    if (fstat(fd, &a) < 0 || fstat(ro, &b) < 0)
        return capsa_err_set(err, errno, "served file %s: stat", name);
    if (a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return capsa_err_setx(err, EIO, "served file %s: the reopened fd is another file", name);
    return steal_fd(ro);
}
