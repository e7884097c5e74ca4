/* resources.c - the commands that work on a live container's cgroup: update,
 * pause, resume, ps (pids), events (stats in runc's format, OOM events). */
#include "core/container.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "level/level.h"
#include "linux/cgroup.h"
#include "linux/systemd.h"
#include "util/util.h"

/* A container with its state and cgroup, locked, running unless
 * stopped_ok: what names the command in errors. */
static int open_state(const struct capsa_ctx *ctx, const char *id, const char *what,
                      bool stopped_ok, struct capsa_opened *l, struct capsa_err *err)
{
    int r = capsa_container_open(ctx, id, CAPSA_OPEN_CGROUP, l, err);
    if (r < 0)
        return r;
    if (l->status == CAPSA_STATUS_STOPPED && !stopped_ok)
        r = capsa_err_setx(err, ESRCH, "%s: container %s is not running", what, id);
    else if (l->cg == NULL)
        r = capsa_err_setx(err, ENOTSUP, "%s: container %s has no cgroup", what, id);
    if (r < 0)
        capsa_opened_release(l);
    return r;
}

static int open_live(const struct capsa_ctx *ctx, const char *id, const char *what,
                     struct capsa_opened *l, struct capsa_err *err)
{
    return open_state(ctx, id, what, false, l, err);
}

/* --- update --- */

/* runc's `update` flags and where they land in LinuxResources. */
static const struct {
    const char *flag;
    const char *obj; /* sub-object of resources, NULL for top level */
    const char *key;
    char kind; /* 'b' bytes (k/m/g suffixes), 'i' integer, 's' string */
} update_flags[] = {
    {"memory", "memory", "limit", 'b'},
    {"memory-swap", "memory", "swap", 'b'},
    {"memory-reservation", "memory", "reservation", 'b'},
    {"kernel-memory", "memory", "kernel", 'b'},
    {"kernel-memory-tcp", "memory", "kernelTCP", 'b'},
    {"cpu-shares", "cpu", "shares", 'i'},
    {"cpu-quota", "cpu", "quota", 'i'},
    {"cpu-period", "cpu", "period", 'i'},
    {"cpu-burst", "cpu", "burst", 'i'},
    {"cpu-rt-runtime", "cpu", "realtimeRuntime", 'i'},
    {"cpu-rt-period", "cpu", "realtimePeriod", 'i'},
    {"cpu-idle", "cpu", "idle", 'i'},
    {"cpuset-cpus", "cpu", "cpus", 's'},
    {"cpuset-mems", "cpu", "mems", 's'},
    {"pids-limit", "pids", "limit", 'i'},
    {"blkio-weight", "blockIO", "weight", 'i'},
};

/* "512m", "1G", "1024", "-1" -> bytes. */
static int parse_bytes(const char *s, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s)
        return -EINVAL;
    int64_t mult = 1;
    if (*end) {
        switch (*end) {
        case 'k':
        case 'K':
            mult = 1024;
            break;
        case 'm':
        case 'M':
            mult = 1024LL * 1024;
            break;
        case 'g':
        case 'G':
            mult = 1024LL * 1024 * 1024;
            break;
        case 't':
        case 'T':
            mult = 1024LL * 1024 * 1024 * 1024;
            break;
        default:
            return -EINVAL;
        }
        end++;
        if (*end == 'b' || *end == 'B')
            end++;
        if (*end)
            return -EINVAL;
    }
    if (v < -1 || (v > 0 && v > INT64_MAX / mult))
        return -ERANGE;
    *out = v * mult;
    return 0;
}

static int merge_flags(json_t *res, const struct capsa_update_opt *opts, size_t n,
                       struct capsa_err *err)
{
    for (size_t i = 0; i < n; i++) {
        size_t k;
        for (k = 0; k < ARRAY_SIZE(update_flags); k++)
            if (strcmp(update_flags[k].flag, opts[i].flag) == 0)
                break;
        if (k == ARRAY_SIZE(update_flags))
            return capsa_err_setx(err, EINVAL, "update: unknown flag --%s", opts[i].flag);
        json_t *v = NULL;
        int64_t num;
        if (update_flags[k].kind == 's') {
            v = json_string(opts[i].value);
        } else if (update_flags[k].kind == 'b') {
            if (parse_bytes(opts[i].value, &num) < 0)
                return capsa_err_setx(err, EINVAL, "update: --%s: invalid size \"%s\"",
                                      opts[i].flag, opts[i].value);
            v = json_integer(num);
        } else {
            if (capsa_parse_int64(opts[i].value, INT64_MIN, INT64_MAX, &num) < 0)
                return capsa_err_setx(err, EINVAL, "update: --%s: invalid number \"%s\"",
                                      opts[i].flag, opts[i].value);
            v = json_integer(num);
        }
        json_t *obj = json_object_get(res, update_flags[k].obj);
        if (!json_is_object(obj)) {
            obj = json_object();
            json_object_set_new(res, update_flags[k].obj, obj);
        }
        json_object_set_new(obj, update_flags[k].key, v);
    }
    return 0;
}

/* The stored config.json (as a JSON tree) and its linux.resources object,
 * created empty when absent. */
static int load_stored(int dirfd, json_t **cfg, json_t **res, struct capsa_err *err)
{
    cleanup_free char *raw = NULL;
    size_t len = 0;
    int r = capsa_read_file_at(dirfd, CAPSA_CONFIG_FILE, 16 << 20, &raw, &len, err);
    if (r < 0)
        return r;
    json_error_t jerr;
    *cfg = json_loadb(raw, len, 0, &jerr);
    if (*cfg == NULL)
        return capsa_err_setx(err, EINVAL, "stored config: %s", jerr.text);
    json_t *lx = json_object_get(*cfg, "linux");
    if (!json_is_object(lx)) {
        lx = json_object();
        json_object_set_new(*cfg, "linux", lx);
    }
    *res = json_object_get(lx, "resources");
    if (!json_is_object(*res)) {
        *res = json_object();
        json_object_set_new(lx, "resources", *res);
    }
    return 0;
}

/* Some values only make sense as a pair (cpu quota with its period, the
 * memory limit with memory+swap): on v2 both go into one file (cpu.max) or
 * one is derived from the other (memory.swap.max = swap - limit). As runc
 * does, an update giving one of a pair takes the other from the stored
 * config, so `update --cpu-period` keeps the quota. */
static void fill_pair(json_t *upd, const json_t *stored, const char *obj, const char *a,
                      const char *b)
{
    json_t *u = json_object_get(upd, obj);
    const json_t *s = json_object_get(stored, obj);
    if (!json_is_object(u) || !json_is_object(s))
        return;
    bool ha = json_object_get(u, a) != NULL, hb = json_object_get(u, b) != NULL;
    if (ha && !hb && json_object_get(s, b) != NULL)
        json_object_set(u, b, json_object_get(s, b));
    else if (hb && !ha && json_object_get(s, a) != NULL)
        json_object_set(u, a, json_object_get(s, a));
}

/* The stored values of the keys upd sets, one level into each group
 * (memory.limit, cpu.quota, ...; deeper values such as device lists are
 * taken whole): what to put back when an update fails half-way. Keys the
 * stored config never set cannot be restored. */
static json_t *stored_subset(const json_t *upd, const json_t *stored)
{
    json_t *out = json_object();
    const char *k, *k2;
    json_t *v, *v2;
    if (out == NULL)
        return NULL;
    json_object_foreach ((json_t *)upd, k, v) {
        json_t *sv = json_object_get(stored, k);
        if (sv == NULL)
            continue;
        if (!json_is_object(v) || !json_is_object(sv)) {
            json_object_set(out, k, sv);
            continue;
        }
        json_t *sub = json_object();
        json_object_foreach (v, k2, v2) {
            json_t *s2 = json_object_get(sv, k2);
            if (s2 != NULL)
                json_object_set(sub, k2, s2);
        }
        if (sub != NULL && json_object_size(sub) > 0)
            json_object_set_new(out, k, sub);
        else
            json_decref(sub);
    }
    return out;
}

/* obj's values on the host: as unit properties first when the systemd
 * driver made the cgroup (so that systemd keeps them), then in the files. */
static int apply_json(const struct capsa_ctx *ctx, const struct capsa_cgroup *cg, const char *unit,
                      const json_t *obj, struct capsa_err *err)
{
    char *text = json_dumps(obj, JSON_COMPACT);
    if (text == NULL)
        return capsa_err_set(err, ENOMEM, "update");
    struct capsa_resources *res = NULL;
    int r = capsa_spec_parse_resources(text, strlen(text), &res, err);
    free(text);
    if (r == 0 && unit != NULL)
        r = capsa_systemd_set(unit, res, err);
    if (r == 0)
        r = capsa_cgroup_apply(cg, res, capsa_log_warning_cb, (void *)ctx, err);
    if (r == 0 && res->n_devices > 0)
        r = capsa_cgroup_devices_apply(cg, res->devices, res->n_devices, err);
    capsa_resources_free(res);
    return r;
}

int capsa_container_update(const struct capsa_ctx *ctx, const char *id, const char *resources_json,
                           size_t len, const struct capsa_update_opt *opts, size_t n_opts,
                           struct capsa_err *err)
{
    json_t *upd = NULL;
    if (resources_json) {
        json_error_t jerr;
        upd = json_loadb(resources_json, len, JSON_REJECT_DUPLICATES, &jerr);
        if (upd == NULL)
            return capsa_err_setx(err, EINVAL, "update: resources:%d:%d: %s", jerr.line,
                                  jerr.column, jerr.text);
        if (!json_is_object(upd)) {
            json_decref(upd);
            return capsa_err_setx(err, EINVAL, "update: resources must be a JSON object");
        }
    } else {
        upd = json_object();
    }
    int r = merge_flags(upd, opts, n_opts, err);
    /* Validate the request alone first, so that its errors name the user's
     * own fields before the container is even looked at. */
    char *text = r == 0 ? json_dumps(upd, JSON_COMPACT) : NULL;
    if (r == 0 && text == NULL)
        r = capsa_err_set(err, ENOMEM, "update");
    struct capsa_resources *check = NULL;
    if (r == 0)
        r = capsa_spec_parse_resources(text, strlen(text), &check, err);
    free(text);
    capsa_resources_free(check);
    struct capsa_opened l;
    if (r == 0)
        r = open_live(ctx, id, "update", &l, err);
    if (r != 0) { /* l is set only when open_live ran and returned 0 */
        json_decref(upd);
        return r;
    }
    json_t *cfg = NULL, *stored = NULL;
    r = load_stored(l.dirfd, &cfg, &stored, err);
    if (r == 0) {
        fill_pair(upd, stored, "cpu", "quota", "period");
        fill_pair(upd, stored, "memory", "limit", "swap");
        json_t *old = stored_subset(upd, stored);
        const struct capsa_level *level = capsa_level_of_state(l.st.level);
        r = 1;
        if (l.status == CAPSA_STATUS_RUNNING && level->update) {
            char *merged = json_dumps(upd, JSON_COMPACT);
            r = merged ? level->update(l.dirfd, id, merged, err)
                       : capsa_err_set(err, ENOMEM, "update");
            free(merged);
        }
        /* The host cgroup's, unless the level took the update (vm: the
         * guest's cgroups; the host's holds the VM's own fence, which the
         * container's values must not overwrite, not even to restore). */
        bool host = r > 0;
        if (host)
            r = apply_json(ctx, l.cg, l.st.systemd_unit, upd, err);
        if (host && r < 0 && old != NULL && json_object_size(old) > 0) {
            /* Put back what this update may already have changed. */
            struct capsa_err ignored;
            bool restored = apply_json(ctx, l.cg, l.st.systemd_unit, old, &ignored) == 0;
            char msg[sizeof(err->msg)];
            memcpy(msg, err->msg, sizeof(msg));
            r = capsa_err_setx(err, err->errnum, "%.*s (%s)", (int)sizeof(msg) - 48, msg,
                               restored ? "the previous values are restored"
                                        : "the previous values could not all be restored");
        }
        json_decref(old);
    }
    if (r == 0) {
        json_object_update_recursive(stored, upd);
        char *out = json_dumps(cfg, JSON_COMPACT);
        r = out ? capsa_write_atomic(l.dirfd, CAPSA_CONFIG_FILE, out, strlen(out), 0600, err)
                : capsa_err_set(err, ENOMEM, "stored config");
        free(out);
    }
    if (r < 0)
        capsa_err_wrap(err, "update %s", id);
    json_decref(cfg);
    json_decref(upd);
    capsa_opened_release(&l);
    return r;
}

/* --- pause / resume --- */

static int set_frozen(const struct capsa_ctx *ctx, const char *id, bool frozen,
                      struct capsa_err *err)
{
    struct capsa_opened l;
    int r = open_live(ctx, id, frozen ? "pause" : "resume", &l, err);
    if (r < 0)
        return r;
    if (frozen && l.status != CAPSA_STATUS_RUNNING && l.status != CAPSA_STATUS_CREATED)
        r = capsa_err_setx(err, EINVAL, "pause: container %s is %s, not running", id,
                           capsa_status_name(l.status));
    else if (!frozen && l.status != CAPSA_STATUS_PAUSED)
        r = capsa_err_setx(err, EINVAL, "resume: container %s is %s, not paused", id,
                           capsa_status_name(l.status));
    /* The level's part first (a vm pod member: its container in the
     * guest), then the host cgroup. */
    const struct capsa_level *level = capsa_level_of_state(l.st.level);
    if (r == 0 && level->freeze)
        r = level->freeze(l.dirfd, id, frozen, err);
    if (r == 0)
        r = capsa_cgroup_freeze(l.cg, frozen, err);
    if (r == 0) {
        /* Paused is recorded; resume goes back to running (or created:
         * the exec fifo still tells). */
        l.st.saved = frozen ? CAPSA_STATUS_PAUSED : CAPSA_STATUS_RUNNING;
        r = capsa_state_write(l.dirfd, &l.st, err);
    }
    capsa_opened_release(&l);
    return r;
}

int capsa_container_pause(const struct capsa_ctx *ctx, const char *id, struct capsa_err *err)
{
    return set_frozen(ctx, id, true, err);
}

int capsa_container_resume(const struct capsa_ctx *ctx, const char *id, struct capsa_err *err)
{
    return set_frozen(ctx, id, false, err);
}

/* --- ps --- */

int capsa_container_pids(const struct capsa_ctx *ctx, const char *id, int **pids, size_t *n,
                         struct capsa_err *err)
{
    struct capsa_opened l;
    *pids = NULL;
    *n = 0;
    /* A stopped container too, as runc: whatever is left in its cgroup
     * (nothing once the cgroup is gone). */
    int r = open_state(ctx, id, "ps", true, &l, err);
    if (r < 0)
        return r;
    pid_t *p = NULL;
    r = capsa_cgroup_pids(l.cg, &p, n, err);
    if (r == -ENOENT && l.status == CAPSA_STATUS_STOPPED) {
        capsa_err_clear(err);
        r = 0;
    }
    capsa_opened_release(&l);
    if (r < 0)
        return r;
    *pids = (int *)p;
    return 0;
}

/* The pids of a level's listing: the first word of each line after the
 * header. */
static int table_pids(const char *table, int **pids, size_t *n, struct capsa_err *err)
{
    size_t cap = 0;
    const char *p = strchr(table, '\n');
    while (p && p[1]) {
        p++;
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (end == p || v <= 0 || v > INT32_MAX || (*end != ' ' && *end != '\n'))
            return capsa_err_setx(err, EPROTO, "ps: the level's listing has a line without a pid");
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            int *np = realloc(*pids, cap * sizeof *np);
            if (np == NULL)
                return capsa_err_set(err, ENOMEM, "ps");
            *pids = np;
        }
        (*pids)[(*n)++] = (int)v;
        p = strchr(p, '\n');
    }
    return 0;
}

int capsa_container_ps(const struct capsa_ctx *ctx, const char *id, int **pids, size_t *n,
                       char **table, struct capsa_err *err)
{
    *table = NULL;
    *pids = NULL;
    *n = 0;
    struct capsa_opened l;
    int r = open_state(ctx, id, "ps", true, &l, err);
    if (r < 0)
        return r;
    const struct capsa_level *level = capsa_level_of_state(l.st.level);
    r = 1;
    if (l.status == CAPSA_STATUS_RUNNING && level->ps)
        r = level->ps(l.dirfd, id, table, err);
    capsa_opened_release(&l);
    if (r == 0 && (r = table_pids(*table, pids, n, err)) < 0) {
        free(*table);
        free(*pids);
        *table = NULL;
        *pids = NULL;
        *n = 0;
    }
    if (r > 0) {
        free(*table);
        *table = NULL;
        r = capsa_container_pids(ctx, id, pids, n, err);
    }
    return r;
}

/* --- events --- */

/* jansson integers are signed 64-bit, but cgroup values are unsigned and
 * "max" (unlimited) reads as UINT64_MAX, which runc prints as
 * 18446744073709551615 and Go consumers decode into uint64. A value above
 * INT64_MAX (in practice only "max") is stored as INT64_MIN, which no
 * counter can be, and rewritten in the text by u64_fixup. */
#define U64_SENTINEL "-9223372036854775808"
#define U64_MAX_TEXT "18446744073709551615"

static json_t *u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MIN : (json_int_t)v);
}

/* Replace each U64_SENTINEL in a dumped document by U64_MAX_TEXT (one
 * character shorter, so in place). */
static void u64_fixup(char *text)
{
    size_t sl = strlen(U64_SENTINEL), ml = strlen(U64_MAX_TEXT);
    for (char *p = text; (p = strstr(p, U64_SENTINEL)) != NULL;) {
        /* Overwrites part of the text; the terminator is moved below. */
        memcpy(p, U64_MAX_TEXT, ml); // NOLINT(bugprone-not-null-terminated-result)
        memmove(p + ml, p + sl, strlen(p + sl) + 1);
        p += ml;
    }
}

static json_t *mem_entry(const struct capsa_cg_memory_entry *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "limit", u64(e->limit));
    json_object_set_new(o, "usage", u64(e->usage));
    json_object_set_new(o, "max", u64(e->max_usage));
    json_object_set_new(o, "failcnt", u64(e->failcnt));
    return o;
}

static json_t *blkio_list(const struct capsa_cg_blkio_entry *e, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "major", u64(e[i].major));
        json_object_set_new(o, "minor", u64(e[i].minor));
        json_object_set_new(o, "op", json_string(e[i].op));
        json_object_set_new(o, "value", u64(e[i].value));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *stats_json(const struct capsa_cgroup_stats *s)
{
    json_t *d = json_object();
    json_t *cpu = json_object();
    json_t *usage = json_object();
    json_object_set_new(usage, "total", u64(s->cpu_total));
    json_t *percpu = json_array();
    for (size_t i = 0; i < s->n_percpu; i++)
        json_array_append_new(percpu, u64(s->cpu_percpu[i]));
    json_object_set_new(usage, "percpu", percpu);
    json_object_set_new(usage, "kernel", u64(s->cpu_kernel));
    json_object_set_new(usage, "user", u64(s->cpu_user));
    json_object_set_new(cpu, "usage", usage);
    json_t *thr = json_object();
    json_object_set_new(thr, "periods", u64(s->throttle_periods));
    json_object_set_new(thr, "throttledPeriods", u64(s->throttled_periods));
    json_object_set_new(thr, "throttledTime", u64(s->throttled_time));
    json_object_set_new(cpu, "throttling", thr);
    json_object_set_new(d, "cpu", cpu);

    json_t *mem = json_object();
    json_object_set_new(mem, "cache", u64(s->mem_cache));
    json_object_set_new(mem, "usage", mem_entry(&s->mem_usage));
    json_object_set_new(mem, "swap", mem_entry(&s->mem_swap));
    json_object_set_new(mem, "kernel", mem_entry(&s->mem_kernel));
    json_object_set_new(mem, "kernelTCP", mem_entry(&s->mem_kernel_tcp));
    json_t *raw = json_object();
    for (size_t i = 0; i < s->n_mem_raw; i++)
        json_object_set_new(raw, s->mem_raw[i].key, u64(s->mem_raw[i].value));
    json_object_set_new(mem, "raw", raw);
    json_object_set_new(d, "memory", mem);

    json_t *pids = json_object();
    json_object_set_new(pids, "current", u64(s->pids_current));
    json_object_set_new(pids, "limit", u64(s->pids_limit));
    json_object_set_new(d, "pids", pids);

    json_t *blkio = json_object();
    json_object_set_new(blkio, "ioServiceBytesRecursive",
                        blkio_list(s->io_service_bytes, s->n_io_service_bytes));
    json_object_set_new(blkio, "ioServicedRecursive", blkio_list(s->io_serviced, s->n_io_serviced));
    json_object_set_new(d, "blkio", blkio);

    json_t *huge = json_object();
    for (size_t i = 0; i < s->n_hugetlb; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "usage", u64(s->hugetlb[i].usage));
        json_object_set_new(o, "max", u64(s->hugetlb[i].max_usage));
        json_object_set_new(o, "failcnt", u64(s->hugetlb[i].failcnt));
        json_object_set_new(huge, s->hugetlb[i].page_size, o);
    }
    json_object_set_new(d, "hugetlb", huge);
    return d;
}

static int event_json(const char *type, const char *id, json_t *data, char **out,
                      struct capsa_err *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string(type));
    json_object_set_new(o, "id", json_string(id));
    if (data)
        json_object_set_new(o, "data", data);
    *out = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (*out == NULL)
        return capsa_err_set(err, ENOMEM, "events");
    u64_fixup(*out);
    return 0;
}

/* Where the events stream stands with OOM: a new OOM event is a higher
 * count (OOMs and OOM kills together), or (v1, OOM killer disabled) a
 * cgroup that starts waiting. */
struct oom_mark {
    uint64_t ooms;
    bool under_oom;
};

static int take_stats(const struct capsa_cgroup *cg, const char *id, char **out,
                      struct oom_mark *oom, struct capsa_err *err)
{
    struct capsa_cgroup_stats s;
    memset(&s, 0, sizeof s);
    int r = capsa_cgroup_stats(cg, &s, err);
    if (r < 0)
        return r;
    if (oom) {
        /* The limit's OOMs and the kills together (v2 counts a kill by the
         * global OOM killer only as oom_kill; runc's events watch both). */
        oom->ooms = s.ooms + s.oom_kills;
        oom->under_oom = s.under_oom;
    }
    r = out ? event_json("stats", id, stats_json(&s), out, err) : 0;
    capsa_cgroup_stats_clear(&s);
    return r;
}

int capsa_container_stats(const struct capsa_ctx *ctx, const char *id, char **json_out,
                          struct capsa_err *err)
{
    struct capsa_opened l;
    int r = open_live(ctx, id, "events", &l, err);
    if (r < 0)
        return r;
    const struct capsa_level *level = capsa_level_of_state(l.st.level);
    r = 1;
    if (l.status == CAPSA_STATUS_RUNNING && level->stats)
        r = level->stats(l.dirfd, id, json_out, err);
    if (r > 0)
        r = take_stats(l.cg, id, json_out, NULL, err);
    capsa_opened_release(&l);
    return r;
}

/* Where OOM stands: the level's count (vm: the guest's) where it serves
 * one, else the host cgroup's. */
static int oom_now(const struct capsa_level *level, int levelfd, const struct capsa_cgroup *cg,
                   const char *id, struct oom_mark *m, struct capsa_err *err)
{
    if (levelfd >= 0 && level->ooms) {
        uint64_t n = 0;
        int r = level->ooms(levelfd, id, &n, err);
        if (r <= 0) {
            if (r == 0) {
                m->ooms = n;
                m->under_oom = false;
            }
            return r;
        }
    }
    return take_stats(cg, id, NULL, m, err);
}

int capsa_container_ooms(const struct capsa_ctx *ctx, const char *id, uint64_t *ooms,
                         struct capsa_err *err)
{
    struct capsa_opened l;
    int r = open_live(ctx, id, "events", &l, err);
    if (r < 0)
        return r;
    const struct capsa_level *level = capsa_level_of_state(l.st.level);
    struct oom_mark m = {0, false};
    r = oom_now(level, l.status == CAPSA_STATUS_RUNNING ? l.dirfd : -1, l.cg, id, &m, err);
    *ooms = m.ooms;
    capsa_opened_release(&l);
    return r;
}

int capsa_container_events(const struct capsa_ctx *ctx, const char *id, unsigned interval_ms,
                           int (*emit)(void *opaque, const char *json), void *opaque,
                           struct capsa_err *err)
{
    struct capsa_opened l;
    int r = open_live(ctx, id, "events", &l, err);
    if (r < 0)
        return r;
    /* Do not hold the container's lock while streaming; a level that takes
     * the stats itself finds the state directory through a second fd (an
     * open file of its own, which holds no lock). */
    const struct capsa_level *level = capsa_level_of_state(l.st.level);
    cleanup_close int levelfd =
        level->stats || level->ooms ? openat(l.dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
    capsa_close(&l.dirfd);
    cleanup_close int pidfd = capsa_state_pidfd(&l.st);
    if (pidfd < 0) {
        capsa_opened_release(&l);
        return capsa_err_setx(err, ESRCH, "events: container %s is not running", id);
    }
    struct oom_mark last = {0, false};
    oom_now(level, levelfd, l.cg, id, &last, err);
    if (interval_ms == 0)
        interval_ms = 5000;
    for (;;) {
        struct pollfd pf = {.fd = pidfd, .events = POLLIN};
        /* OOM kills are noticed within 100 ms; stats every interval. */
        unsigned waited = 0;
        bool gone = false;
        while (waited < interval_ms && !gone) {
            unsigned step = interval_ms - waited < 100 ? interval_ms - waited : 100;
            if (poll(&pf, 1, (int)step) > 0)
                gone = true;
            waited += step;
            struct oom_mark now = last;
            if (oom_now(level, levelfd, l.cg, id, &now, err) < 0)
                continue;
            bool fire = now.ooms > last.ooms || (now.under_oom && !last.under_oom);
            last = now;
            cleanup_free char *ev = NULL;
            if (fire && event_json("oom", id, NULL, &ev, err) == 0 && emit(opaque, ev) < 0)
                gone = true;
        }
        if (gone)
            break;
        cleanup_free char *ev = NULL;
        r = levelfd >= 0 && level->stats ? level->stats(levelfd, id, &ev, err) : 1;
        if (r > 0)
            r = take_stats(l.cg, id, &ev, NULL, err);
        if (r < 0)
            break;
        if (emit(opaque, ev) < 0)
            break;
    }
    capsa_opened_release(&l);
    return r;
}
