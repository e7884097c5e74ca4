/* cgroup_stats.c - container statistics in the shape of runc's
 * `events --stats`, read from whichever hierarchy (v1 or v2) holds each
 * controller. v2 values are converted to runc's units (usec -> ns; swap usage
 * reported as memory+swap like v1's memsw). Missing files leave zeros: stats
 * are best effort, a missing controller is not an error. */
#include "linux/cgroup.h"
#include "linux/cgroup_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"

void capsa_cgroup_stats_clear(struct capsa_cgroup_stats *st)
{
    if (st == NULL)
        return;
    free(st->cpu_percpu);
    free(st->mem_raw);
    free(st->io_service_bytes);
    free(st->io_serviced);
    free(st->hugetlb);
    memset(st, 0, sizeof(*st));
}

/* Value of "key N" in a flat-keyed file text; 0 when absent. */
static uint64_t kv_get(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *l = text; l && *l;) {
        size_t len = strcspn(l, "\n");
        if (len > kl && strncmp(l, key, kl) == 0 && l[kl] == ' ') {
            char tmp[64];
            snprintf(tmp, sizeof(tmp), "%.*s", (int)(len - kl - 1), l + kl + 1);
            uint64_t v = 0;
            if (capsa_cg_parse_u64(tmp, &v) == 0)
                return v;
            return 0;
        }
        l += len + (l[len] == '\n');
    }
    return 0;
}

static uint64_t file_u64(int fd, const char *file)
{
    cleanup_free char *s = NULL;
    uint64_t v = 0;
    if (capsa_cg_read(fd, file, &s) < 0 || capsa_cg_parse_u64(s, &v) < 0)
        return 0;
    return v;
}

static char *file_text(int fd, const char *file)
{
    char *s = NULL;
    if (capsa_cg_read(fd, file, &s) < 0)
        return NULL;
    return s;
}

static int open_ctrl(const struct capsa_cgroup *cg, const char *ctrl, bool *v2)
{
    const struct capsa_cgroup_dir *d = capsa_cg_dir_for(cg, ctrl);
    if (d == NULL)
        return -ENOENT;
    *v2 = d->v2;
    return capsa_cg_open_dir(d->path);
}

static int cpu_stats(const struct capsa_cgroup *cg, struct capsa_cgroup_stats *st)
{
    bool v2 = false;
    cleanup_close int cfd = open_ctrl(cg, "cpu", &v2);
    if (cfd >= 0) {
        cleanup_free char *s = file_text(cfd, "cpu.stat");
        if (s != NULL) {
            st->throttle_periods = kv_get(s, "nr_periods");
            st->throttled_periods = kv_get(s, "nr_throttled");
            if (v2) {
                st->throttled_time = kv_get(s, "throttled_usec") * 1000;
                st->cpu_total = kv_get(s, "usage_usec") * 1000;
                st->cpu_user = kv_get(s, "user_usec") * 1000;
                st->cpu_kernel = kv_get(s, "system_usec") * 1000;
            } else {
                st->throttled_time = kv_get(s, "throttled_time");
            }
        }
        if (v2)
            return 0;
    }
    cleanup_close int afd = open_ctrl(cg, "cpuacct", &v2);
    if (afd < 0)
        return 0;
    st->cpu_total = file_u64(afd, "cpuacct.usage");
    cleanup_free char *stat = file_text(afd, "cpuacct.stat");
    if (stat != NULL) {
        /* cpuacct.stat counts USER_HZ ticks */
        long hz = sysconf(_SC_CLK_TCK);
        if (hz <= 0)
            hz = 100;
        st->cpu_user = kv_get(stat, "user") * (1000000000ULL / (uint64_t)hz);
        st->cpu_kernel = kv_get(stat, "system") * (1000000000ULL / (uint64_t)hz);
    }
    cleanup_free char *pc = file_text(afd, "cpuacct.usage_percpu");
    if (pc != NULL) {
        size_t n = 0;
        for (char *p = pc; *p;) {
            char *end = NULL;
            unsigned long long v = strtoull(p, &end, 10);
            if (end == p) {
                p++;
                continue;
            }
            uint64_t *nv = realloc(st->cpu_percpu, (n + 1) * sizeof(uint64_t));
            if (nv == NULL)
                return -ENOMEM;
            st->cpu_percpu = nv;
            st->cpu_percpu[n++] = v;
            st->n_percpu = n;
            p = end;
        }
    }
    return 0;
}

static void mem_entry(int fd, const char *prefix, struct capsa_cg_memory_entry *e)
{
    char f[96];
    snprintf(f, sizeof(f), "%s.usage_in_bytes", prefix);
    e->usage = file_u64(fd, f);
    snprintf(f, sizeof(f), "%s.max_usage_in_bytes", prefix);
    e->max_usage = file_u64(fd, f);
    snprintf(f, sizeof(f), "%s.failcnt", prefix);
    e->failcnt = file_u64(fd, f);
    snprintf(f, sizeof(f), "%s.limit_in_bytes", prefix);
    e->limit = file_u64(fd, f);
}

static int raw_stat(const char *text, struct capsa_cgroup_stats *st)
{
    for (const char *l = text; l && *l;) {
        size_t len = strcspn(l, "\n");
        const char *sp = memchr(l, ' ', len);
        if (sp != NULL && (size_t)(sp - l) < sizeof(st->mem_raw[0].key)) {
            char val[64];
            snprintf(val, sizeof(val), "%.*s", (int)(len - (size_t)(sp - l) - 1), sp + 1);
            uint64_t v = 0;
            if (capsa_cg_parse_u64(val, &v) == 0) {
                struct capsa_cg_kv *nk = realloc(st->mem_raw, (st->n_mem_raw + 1) * sizeof(*nk));
                if (nk == NULL)
                    return -ENOMEM;
                st->mem_raw = nk;
                struct capsa_cg_kv *k = &st->mem_raw[st->n_mem_raw++];
                snprintf(k->key, sizeof(k->key), "%.*s", (int)(sp - l), l);
                k->value = v;
            }
        }
        l += len + (l[len] == '\n');
    }
    return 0;
}

static int memory_stats(const struct capsa_cgroup *cg, struct capsa_cgroup_stats *st)
{
    bool v2 = false;
    cleanup_close int fd = open_ctrl(cg, "memory", &v2);
    if (fd < 0)
        return 0;
    cleanup_free char *stat = file_text(fd, "memory.stat");
    if (stat != NULL) {
        int r = raw_stat(stat, st);
        if (r < 0)
            return r;
        st->mem_cache = kv_get(stat, v2 ? "file" : "cache");
    }
    if (!v2) {
        mem_entry(fd, "memory", &st->mem_usage);
        mem_entry(fd, "memory.memsw", &st->mem_swap);
        mem_entry(fd, "memory.kmem", &st->mem_kernel);
        mem_entry(fd, "memory.kmem.tcp", &st->mem_kernel_tcp);
        cleanup_free char *oom = file_text(fd, "memory.oom_control");
        if (oom != NULL) {
            st->oom_kills = st->ooms = kv_get(oom, "oom_kill");
            st->under_oom = kv_get(oom, "under_oom") != 0;
        }
        return 0;
    }
    st->mem_usage.usage = file_u64(fd, "memory.current");
    st->mem_usage.max_usage = file_u64(fd, "memory.peak");
    st->mem_usage.limit = file_u64(fd, "memory.max");
    /* runc reports v2 swap as memory+swap, like v1's memsw */
    st->mem_swap.usage = file_u64(fd, "memory.swap.current") + st->mem_usage.usage;
    st->mem_swap.limit = file_u64(fd, "memory.swap.max");
    if (st->mem_swap.limit != UINT64_MAX) /* as runc: a memory+swap limit */
        st->mem_swap.limit = st->mem_usage.limit > UINT64_MAX - st->mem_swap.limit
                                 ? UINT64_MAX
                                 : st->mem_swap.limit + st->mem_usage.limit;
    cleanup_free char *ev = file_text(fd, "memory.events");
    if (ev != NULL) {
        st->mem_usage.failcnt = kv_get(ev, "max");
        st->oom_kills = kv_get(ev, "oom_kill");
        st->ooms = kv_get(ev, "oom");
    }
    cleanup_free char *sev = file_text(fd, "memory.swap.events");
    if (sev != NULL)
        st->mem_swap.failcnt = kv_get(sev, "fail");
    return 0;
}

static int pids_stats(const struct capsa_cgroup *cg, struct capsa_cgroup_stats *st)
{
    bool v2 = false;
    cleanup_close int fd = open_ctrl(cg, "pids", &v2);
    if (fd < 0)
        return 0;
    st->pids_current = file_u64(fd, "pids.current");
    uint64_t max = file_u64(fd, "pids.max");
    st->pids_limit = max == UINT64_MAX ? 0 : max;
    return 0;
}

static int push_blkio(struct capsa_cg_blkio_entry **v, size_t *n, uint64_t maj, uint64_t min,
                      const char *op, uint64_t value)
{
    struct capsa_cg_blkio_entry *nv = realloc(*v, (*n + 1) * sizeof(*nv));
    if (nv == NULL)
        return -ENOMEM;
    *v = nv;
    struct capsa_cg_blkio_entry *e = &nv[(*n)++];
    e->major = maj;
    e->minor = min;
    snprintf(e->op, sizeof(e->op), "%s", op);
    e->value = value;
    return 0;
}

/* v1 "MAJ:MIN Op N" lines ("Total N" summary lines are skipped). */
static int blkio_v1_file(const char *text, struct capsa_cg_blkio_entry **v, size_t *n)
{
    for (const char *l = text; l && *l;) {
        size_t len = strcspn(l, "\n");
        char line[256];
        snprintf(line, sizeof(line), "%.*s", (int)len, l);
        l += len + (l[len] == '\n');
        unsigned long long maj, min, val;
        char op[16];
        // NOLINTNEXTLINE(cert-err34-c): kernel-printed u64 values, they fit unsigned long long
        if (sscanf(line, "%llu:%llu %15s %llu", &maj, &min, op, &val) == 4) {
            int r = push_blkio(v, n, maj, min, op, val);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static int io_stats(const struct capsa_cgroup *cg, struct capsa_cgroup_stats *st)
{
    bool v2 = false;
    int r = 0;
    cleanup_close int fd = open_ctrl(cg, "blkio", &v2);
    if (fd >= 0) {
        static const char *const bytes[] = {"blkio.throttle.io_service_bytes_recursive",
                                            "blkio.throttle.io_service_bytes"};
        static const char *const ios[] = {"blkio.throttle.io_serviced_recursive",
                                          "blkio.throttle.io_serviced"};
        for (size_t i = 0; i < 2; i++) {
            cleanup_free char *t = file_text(fd, bytes[i]);
            if (t == NULL)
                continue;
            r = blkio_v1_file(t, &st->io_service_bytes, &st->n_io_service_bytes);
            break;
        }
        for (size_t i = 0; r == 0 && i < 2; i++) {
            cleanup_free char *t = file_text(fd, ios[i]);
            if (t == NULL)
                continue;
            r = blkio_v1_file(t, &st->io_serviced, &st->n_io_serviced);
            break;
        }
        return r;
    }
    fd = open_ctrl(cg, "io", &v2);
    if (fd < 0)
        return 0;
    cleanup_free char *t = file_text(fd, "io.stat");
    /* "MAJ:MIN rbytes=N wbytes=N rios=N wios=N dbytes=N dios=N" */
    for (const char *l = t; r == 0 && l && *l;) {
        size_t len = strcspn(l, "\n");
        char line[512];
        snprintf(line, sizeof(line), "%.*s", (int)len, l);
        l += len + (l[len] == '\n');
        unsigned long long maj, min;
        // NOLINTNEXTLINE(cert-err34-c): kernel-printed u64 values, they fit unsigned long long
        if (sscanf(line, "%llu:%llu", &maj, &min) != 2)
            continue;
        char *save = NULL;
        for (char *tok = strtok_r(line, " ", &save); r == 0 && tok;
             tok = strtok_r(NULL, " ", &save)) {
            char *eq = strchr(tok, '=');
            if (eq == NULL)
                continue;
            *eq = '\0';
            unsigned long long v = strtoull(eq + 1, NULL, 10);
            if (strcmp(tok, "rbytes") == 0)
                r = push_blkio(&st->io_service_bytes, &st->n_io_service_bytes, maj, min, "Read", v);
            else if (strcmp(tok, "wbytes") == 0)
                r = push_blkio(&st->io_service_bytes, &st->n_io_service_bytes, maj, min, "Write",
                               v);
            else if (strcmp(tok, "rios") == 0)
                r = push_blkio(&st->io_serviced, &st->n_io_serviced, maj, min, "Read", v);
            else if (strcmp(tok, "wios") == 0)
                r = push_blkio(&st->io_serviced, &st->n_io_serviced, maj, min, "Write", v);
        }
    }
    return r;
}

static int hugetlb_stats(const struct capsa_cgroup *cg, struct capsa_cgroup_stats *st)
{
    bool v2 = false;
    cleanup_close int fd = open_ctrl(cg, "hugetlb", &v2);
    if (fd < 0)
        return 0;
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup < 0)
        return 0;
    cleanup_dir DIR *dir = fdopendir(dup);
    if (dir == NULL) {
        close(dup);
        return 0;
    }
    const char *suffix = v2 ? ".max" : ".limit_in_bytes";
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        const char *n = de->d_name;
        size_t nl = strlen(n), sl = strlen(suffix);
        if (strncmp(n, "hugetlb.", 8) != 0 || nl <= 8 + sl || strcmp(n + nl - sl, suffix) != 0)
            continue;
        size_t szl = nl - 8 - sl;
        if (szl >= sizeof(st->hugetlb[0].page_size) || memchr(n + 8, '.', szl) != NULL)
            continue; /* skips hugetlb.<size>.rsvd.* */
        struct capsa_cg_hugetlb_entry *nh = realloc(st->hugetlb, (st->n_hugetlb + 1) * sizeof(*nh));
        if (nh == NULL)
            return -ENOMEM;
        st->hugetlb = nh;
        struct capsa_cg_hugetlb_entry *e = &st->hugetlb[st->n_hugetlb++];
        memset(e, 0, sizeof(*e));
        snprintf(e->page_size, sizeof(e->page_size), "%.*s", (int)szl, n + 8);
        char f[128];
        if (v2) {
            snprintf(f, sizeof(f), "hugetlb.%s.current", e->page_size);
            e->usage = file_u64(fd, f);
            snprintf(f, sizeof(f), "hugetlb.%s.events", e->page_size);
            cleanup_free char *ev = file_text(fd, f);
            if (ev != NULL)
                e->failcnt = kv_get(ev, "max");
        } else {
            snprintf(f, sizeof(f), "hugetlb.%s.usage_in_bytes", e->page_size);
            e->usage = file_u64(fd, f);
            snprintf(f, sizeof(f), "hugetlb.%s.max_usage_in_bytes", e->page_size);
            e->max_usage = file_u64(fd, f);
            snprintf(f, sizeof(f), "hugetlb.%s.failcnt", e->page_size);
            e->failcnt = file_u64(fd, f);
        }
    }
    return 0;
}

int capsa_cgroup_stats(const struct capsa_cgroup *cg, struct capsa_cgroup_stats *st,
                       struct capsa_err *err)
{
    memset(st, 0, sizeof(*st));
    int r = cpu_stats(cg, st);
    if (r == 0)
        r = memory_stats(cg, st);
    if (r == 0)
        r = pids_stats(cg, st);
    if (r == 0)
        r = io_stats(cg, st);
    if (r == 0)
        r = hugetlb_stats(cg, st);
    if (r < 0) {
        capsa_cgroup_stats_clear(st);
        return capsa_err_set(err, -r, "cgroup stats");
    }
    return 0;
}
