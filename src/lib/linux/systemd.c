/* systemd.c - the systemd cgroup driver (systemd.h). */
#include "linux/systemd.h"

#include "linux/sdprop.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sys/sys.h"
#include "util/util.h"

#define SD_DEST       "org.freedesktop.systemd1"
#define SD_PATH       "/org/freedesktop/systemd1"
#define SD_MANAGER    "org.freedesktop.systemd1.Manager"
#define SD_TIMEOUT_MS 30000 /* runc waits as long for a job */
#define CGROUP2_MAGIC 0x63677270

/* ---------------- names ---------------- */

static bool unit_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':' ||
           c == '_' || c == '.' || c == '-' || c == '\\';
}

static bool unit_chars_ok(const char *s)
{
    for (; *s; s++) {
        if (!unit_char_ok(*s))
            return false;
    }
    return true;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

bool capsa_systemd_scope_name_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > strlen(".scope") && n < 256 && unit_chars_ok(s) && has_suffix(s, ".scope");
}

int capsa_systemd_slice_path(const char *slice, char **out, struct capsa_err *err)
{
    *out = NULL;
    size_t n = strlen(slice);
    if (!has_suffix(slice, ".slice") || n >= 256 || !unit_chars_ok(slice))
        return capsa_err_setx(err, EINVAL, "slice \"%s\": not a valid slice unit name", slice);
    if (strcmp(slice, "-.slice") == 0)
        return capsa_strdup("", out, err);
    size_t base = n - strlen(".slice");
    if (base == 0 || slice[0] == '-' || slice[base - 1] == '-' || strstr(slice, "--") != NULL)
        return capsa_err_setx(err, EINVAL,
                              "slice \"%s\": a slice name has no empty part between dashes", slice);
    /* Each dash closes one level: "a-b-c" -> "/a.slice/a-b.slice/a-b-c.slice". */
    size_t levels = 1;
    for (size_t i = 0; i < base; i++)
        levels += slice[i] == '-';
    size_t cap = levels * (n + 2) + 1;
    char *p = malloc(cap);
    if (p == NULL)
        return capsa_err_set(err, ENOMEM, "slice");
    size_t at = 0;
    for (size_t i = 0; i <= base; i++) {
        if (i == base || slice[i] == '-')
            at += (size_t)snprintf(p + at, cap - at, "/%.*s.slice", (int)i, slice);
    }
    *out = p;
    return 0;
}

void capsa_systemd_unit_free(struct capsa_systemd_unit *u)
{
    free(u->slice);
    free(u->name);
    u->slice = u->name = NULL;
}

int capsa_systemd_unit_parse(const char *cgroups_path, const char *id,
                             struct capsa_systemd_unit *out, struct capsa_err *err)
{
    *out = (struct capsa_systemd_unit){0};
    const char *def_slice = geteuid() == 0 ? "system.slice" : "user.slice";
    const char *shown = cgroups_path ? cgroups_path : "";
    /* The three parts, as (pointer, length) into the input. */
    const char *slice = def_slice, *prefix = "capsa", *name = id;
    size_t slice_len = strlen(def_slice), prefix_len = strlen("capsa"), name_len = strlen(id);
    if (shown[0] != '\0') {
        const char *c1 = strchr(shown, ':');
        const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (c1 == NULL || c2 == NULL || strchr(c2 + 1, ':') != NULL)
            return capsa_err_setx(err, EINVAL,
                                  "linux.cgroupsPath \"%s\": the systemd cgroup driver takes "
                                  "\"slice:prefix:name\"",
                                  shown);
        if (c1 != shown) {
            slice = shown;
            slice_len = (size_t)(c1 - shown);
        }
        prefix = c1 + 1;
        prefix_len = (size_t)(c2 - prefix);
        name = c2 + 1;
        name_len = strlen(name);
    }
    if (name_len == 0)
        return capsa_err_setx(err, EINVAL, "linux.cgroupsPath \"%s\": the name part is empty",
                              shown);
    if (has_suffix(name, ".slice"))
        return capsa_err_setx(err, ENOTSUP,
                              "linux.cgroupsPath \"%s\": a container in a slice of its own (a "
                              "name ending in .slice) is not supported: use slice:prefix:name",
                              shown);
    char slice_name[300], unit[300];
    if (slice_len >= sizeof slice_name)
        return capsa_err_setx(err, EINVAL, "linux.cgroupsPath \"%s\": the slice is too long",
                              shown);
    snprintf(slice_name, sizeof slice_name, "%.*s", (int)slice_len, slice);
    cleanup_free char *sp = NULL;
    if (capsa_systemd_slice_path(slice_name, &sp, err) < 0)
        return capsa_err_wrap(err, "linux.cgroupsPath \"%s\"", shown);
    int n = prefix_len ? snprintf(unit, sizeof unit, "%.*s-%s.scope", (int)prefix_len, prefix, name)
                       : snprintf(unit, sizeof unit, "%s.scope", name);
    if (n < 0 || (size_t)n >= sizeof unit || !capsa_systemd_scope_name_ok(unit))
        return capsa_err_setx(err, EINVAL,
                              "linux.cgroupsPath \"%s\": \"%s\" is not a valid systemd unit name "
                              "(letters, digits and \":_.-\\\", at most 255 characters)",
                              shown, n > 0 && (size_t)n < sizeof unit ? unit : "(too long)");
    out->slice = strdup(slice_name);
    out->name = strdup(unit);
    if (out->slice == NULL || out->name == NULL) {
        capsa_systemd_unit_free(out);
        return capsa_err_set(err, ENOMEM, "linux.cgroupsPath");
    }
    return 0;
}

int capsa_systemd_cgroup_of(const char *text, char **out, struct capsa_err *err)
{
    *out = NULL;
    const char *v2 = NULL, *named = NULL;
    size_t v2_len = 0, named_len = 0;
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        const char *c1 = memchr(line, ':', len);
        const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
        if (c2 != NULL) {
            size_t clen = (size_t)(c2 - c1 - 1);
            const char *path = c2 + 1;
            size_t plen = len - (size_t)(path - line);
            if (clen == 0 && c1 - line == 1 && line[0] == '0') {
                v2 = path;
                v2_len = plen;
            } else if (clen == strlen("name=systemd") &&
                       memcmp(c1 + 1, "name=systemd", clen) == 0) {
                named = path;
                named_len = plen;
            }
        }
        line += len;
        if (*line == '\n')
            line++;
    }
    if (v2 && !(v2_len == 1 && v2[0] == '/')) {
        named = v2;
        named_len = v2_len;
    }
    if (named == NULL || named_len == 0 || named[0] != '/')
        return capsa_err_setx(err, ENOENT, "no systemd cgroup in /proc/PID/cgroup");
    *out = strndup(named, named_len);
    return *out ? 0 : capsa_err_set(err, ENOMEM, "cgroup path");
}

/* ---------------- properties ---------------- */

static void prop_open(struct capsa_dbus_buf *b, const char *name, const char *sig)
{
    capsa_dbus_align(b, 8);
    capsa_dbus_put_str(b, name);
    capsa_dbus_put_sig(b, sig);
}

static void prop_t(struct capsa_dbus_buf *b, const char *name, uint64_t v)
{
    prop_open(b, name, "t");
    capsa_dbus_put_u64(b, v);
}

static void prop_b(struct capsa_dbus_buf *b, const char *name, bool v)
{
    prop_open(b, name, "b");
    capsa_dbus_put_bool(b, v);
}

static void prop_s(struct capsa_dbus_buf *b, const char *name, const char *v)
{
    prop_open(b, name, "s");
    capsa_dbus_put_str(b, v);
}

/* A cpu or node list ("0-3,7") as systemd's bitmask bytes: bit i%8 of
 * byte i/8 is cpu i. */
static int prop_mask(struct capsa_dbus_buf *b, const char *name, const char *list,
                     const char *field, struct capsa_err *err)
{
    uint8_t mask[1024] = {0}; /* 8192 cpus */
    size_t used = 0;
    const char *p = list;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long lo = strtoul(p, &end, 10), hi = lo;
        if (end == p || errno)
            goto bad;
        p = end;
        if (*p == '-') {
            const char *q = p + 1;
            hi = strtoul(q, &end, 10);
            if (end == q || errno)
                goto bad;
            p = end;
        }
        if (hi < lo || hi >= sizeof mask * 8)
            goto bad;
        for (unsigned long i = lo; i <= hi; i++)
            mask[i / 8] |= (uint8_t)(1u << (i % 8));
        if (hi / 8 + 1 > used)
            used = hi / 8 + 1;
        if (*p == ',')
            p++;
        else if (*p != '\0' && *p != '\n')
            goto bad;
        else
            break;
    }
    prop_open(b, name, "ay");
    struct capsa_dbus_array a = capsa_dbus_array_open(b, 1);
    for (size_t i = 0; i < used; i++)
        capsa_dbus_put_byte(b, mask[i]);
    capsa_dbus_array_close(b, a);
    return 0;
bad:
    return capsa_err_setx(err, EINVAL, "%s \"%s\": not a list of numbers and ranges below %zu",
                          field, list, sizeof mask * 8);
}

/* runc's shares -> weight: [2, 262144] onto [1, 10000]. */
static uint64_t shares_to_weight(uint64_t shares)
{
    if (shares < 2)
        shares = 2;
    if (shares > 262144)
        shares = 262144;
    return 1 + ((shares - 2) * 9999) / 262142;
}

int capsa_systemd_res_props(const struct capsa_resources *res, bool unified,
                            struct capsa_dbus_buf *b, struct capsa_err *err)
{
    if (res == NULL)
        return 0;
    if (res->has_memory) {
        const struct capsa_memory *m = &res->memory;
        if (m->has_limit && m->limit != 0)
            prop_t(b, unified ? "MemoryMax" : "MemoryLimit",
                   m->limit < 0 ? UINT64_MAX : (uint64_t)m->limit);
        if (unified && m->has_reservation && m->reservation > 0)
            prop_t(b, "MemoryLow", (uint64_t)m->reservation);
        /* OCI's swap is memory+swap; v2's is swap alone. */
        if (unified && m->has_swap && m->swap == -1)
            prop_t(b, "MemorySwapMax", UINT64_MAX);
        else if (unified && m->has_swap && m->swap > 0 && m->has_limit && m->limit > 0 &&
                 m->swap >= m->limit)
            prop_t(b, "MemorySwapMax", (uint64_t)(m->swap - m->limit));
    }
    if (res->has_pids && res->pids_limit != 0)
        prop_t(b, "TasksMax", res->pids_limit < 0 ? UINT64_MAX : (uint64_t)res->pids_limit);
    if (res->has_cpu) {
        const struct capsa_cpu *c = &res->cpu;
        if (c->has_shares && c->shares != 0) {
            if (unified)
                prop_t(b, "CPUWeight", shares_to_weight(c->shares));
            else
                prop_t(b, "CPUShares", c->shares);
        }
        uint64_t period = c->has_period && c->period ? c->period : 100000;
        if (c->has_period && c->period)
            prop_t(b, "CPUQuotaPeriodUSec", c->period);
        if (c->has_quota && c->quota < 0) {
            prop_t(b, "CPUQuotaPerSecUSec", UINT64_MAX);
        } else if (c->has_quota && c->quota > 0) {
            /* systemd keeps the quota per second in units of 10 ms: round
             * up, as runc does, so the limit is never below the one asked. */
            uint64_t q = (uint64_t)c->quota * 1000000 / period;
            if (q % 10000)
                q = (q / 10000 + 1) * 10000;
            prop_t(b, "CPUQuotaPerSecUSec", q);
        }
        int r = 0;
        if (unified && c->cpus && c->cpus[0])
            r = prop_mask(b, "AllowedCPUs", c->cpus, "linux.resources.cpu.cpus", err);
        if (r == 0 && unified && c->mems && c->mems[0])
            r = prop_mask(b, "AllowedMemoryNodes", c->mems, "linux.resources.cpu.mems", err);
        if (r < 0)
            return r;
    }
    if (b->err)
        return capsa_err_set(err, -b->err, "systemd unit properties");
    return 0;
}

/* ---------------- calls and jobs ---------------- */

static bool is_unified(void)
{
    struct statfs sf;
    return statfs("/sys/fs/cgroup", &sf) == 0 && (unsigned long)sf.f_type == CGROUP2_MAGIC;
}

int capsa_systemd_socket_path(char *buf, size_t size, struct capsa_err *err)
{
    if (geteuid() == 0) {
        snprintf(buf, size, "/run/systemd/private");
        return 0;
    }
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    if (xdg == NULL || xdg[0] != '/')
        return capsa_err_setx(err, ENOENT,
                              "--systemd-cgroup: XDG_RUNTIME_DIR is not set, so the user's "
                              "systemd manager cannot be reached");
    if ((size_t)snprintf(buf, size, "%s/systemd/private", xdg) >= size)
        return capsa_err_setx(err, ENAMETOOLONG, "XDG_RUNTIME_DIR is too long");
    return 0;
}

static int connect_manager(struct capsa_dbus *bus, long long deadline, struct capsa_err *err)
{
    char path[256];
    int r = capsa_systemd_socket_path(path, sizeof path, err);
    if (r < 0)
        return r;
    r = capsa_dbus_connect(path, deadline, bus, err);
    if (r == -ENOENT || r == -ECONNREFUSED)
        return capsa_err_setx(err, -r,
                              "--systemd-cgroup: systemd is not running here (no manager listens "
                              "on %s); use the cgroupfs driver",
                              path);
    return r < 0 ? capsa_err_wrap(err, "--systemd-cgroup") : 0;
}

/* The JobRemoved signals seen before the job's own path was known. */
struct removed {
    char *job[16];
    char *result[16];
    size_t n;
};

static void removed_free(struct removed *rm)
{
    for (size_t i = 0; i < rm->n; i++) {
        free(rm->job[i]);
        free(rm->result[i]);
    }
    rm->n = 0;
}

static void removed_add(struct removed *rm, const char *job, const char *result)
{
    if (rm->n == ARRAY_SIZE(rm->job)) {
        free(rm->job[0]);
        free(rm->result[0]);
        memmove(rm->job, rm->job + 1, (rm->n - 1) * sizeof rm->job[0]);
        memmove(rm->result, rm->result + 1, (rm->n - 1) * sizeof rm->result[0]);
        rm->n--;
    }
    rm->job[rm->n] = strdup(job);
    rm->result[rm->n] = strdup(result);
    if (rm->job[rm->n] && rm->result[rm->n]) {
        rm->n++;
    } else {
        free(rm->job[rm->n]);
        free(rm->result[rm->n]);
    }
}

static const char *removed_find(const struct removed *rm, const char *job)
{
    for (size_t i = 0; i < rm->n; i++) {
        if (strcmp(rm->job[i], job) == 0)
            return rm->result[i];
    }
    return NULL;
}

/* An ERROR reply as an error: ENOENT for a unit that does not exist,
 * EEXIST for one that does, EIO for the rest. */
static int reply_error(const struct capsa_dbus_msg *m, const struct capsa_dbus_call *call,
                       const char *unit, struct capsa_err *err)
{
    char text[400];
    capsa_dbus_error_text(m, text, sizeof text);
    int e = EIO;
    if (strcmp(m->error_name, "org.freedesktop.systemd1.NoSuchUnit") == 0)
        e = ENOENT;
    else if (strcmp(m->error_name, "org.freedesktop.systemd1.UnitExists") == 0)
        e = EEXIST;
    return capsa_err_setx(err, e, "systemd %s %s: %s", call->member, unit, text);
}

/* Call a manager method whose reply is a job path ('o') and wait for the
 * job's JobRemoved signal (sent on the private socket to every client,
 * possibly before the reply). 0 when the job's result is "done"; -ENOENT,
 * with the error's text in err, when systemd answers NoSuchUnit. */
static int call_job(struct capsa_dbus *bus, const struct capsa_dbus_call *call, const char *unit,
                    long long deadline, struct capsa_err *err)
{
    uint32_t serial;
    int r = capsa_dbus_send(bus, call, &serial, err);
    if (r < 0)
        return r;
    struct removed rm = {0};
    cleanup_free char *job = NULL;
    const char *result = NULL;
    while (result == NULL) {
        struct capsa_dbus_msg m;
        if ((r = capsa_dbus_recv(bus, deadline, &m, err)) < 0)
            break;
        /* The first answer to our call counts; a peer repeating one is ignored. */
        if ((m.type == CAPSA_DBUS_RETURN || m.type == CAPSA_DBUS_ERROR) &&
            m.reply_serial == serial && job == NULL) {
            if (m.type == CAPSA_DBUS_ERROR) {
                r = reply_error(&m, call, unit, err);
                break;
            }
            const char *path = NULL;
            struct capsa_dbus_rd b = m.body;
            if (strcmp(m.signature, "o") != 0 || capsa_dbus_rd_str(&b, &path) < 0 ||
                (job = strdup(path)) == NULL) {
                r = capsa_err_setx(err, EPROTO, "systemd %s %s: unexpected reply", call->member,
                                   unit);
                break;
            }
            result = removed_find(&rm, job);
            if (result)
                result = strdup(result);
            continue;
        }
        if (m.type != CAPSA_DBUS_SIGNAL || strcmp(m.member, "JobRemoved") != 0 ||
            strcmp(m.interface, SD_MANAGER) != 0 || strcmp(m.signature, "uoss") != 0)
            continue;
        uint32_t id;
        const char *jpath, *junit, *jres;
        struct capsa_dbus_rd b = m.body;
        if (capsa_dbus_rd_u32(&b, &id) < 0 || capsa_dbus_rd_str(&b, &jpath) < 0 ||
            capsa_dbus_rd_str(&b, &junit) < 0 || capsa_dbus_rd_str(&b, &jres) < 0)
            continue;
        if (job == NULL)
            removed_add(&rm, jpath, jres);
        else if (strcmp(job, jpath) == 0)
            result = strdup(jres);
    }
    removed_free(&rm);
    if (r < 0) {
        free((char *)result);
        return r;
    }
    if (result == NULL)
        return capsa_err_set(err, ENOMEM, "systemd job");
    if (strcmp(result, "done") != 0)
        r = capsa_err_setx(err, EIO, "systemd %s %s: the job ended \"%s\" (see journalctl -u %s)",
                           call->member, unit, result, unit);
    free((char *)result);
    return r;
}

/* A call whose reply carries nothing we need. */
static int call_plain(struct capsa_dbus *bus, const struct capsa_dbus_call *call, const char *unit,
                      long long deadline, struct capsa_err *err)
{
    uint32_t serial;
    int r = capsa_dbus_send(bus, call, &serial, err);
    while (r == 0) {
        struct capsa_dbus_msg m;
        if ((r = capsa_dbus_recv(bus, deadline, &m, err)) < 0)
            break;
        if (!m.has_reply_serial || m.reply_serial != serial ||
            (m.type != CAPSA_DBUS_RETURN && m.type != CAPSA_DBUS_ERROR))
            continue;
        if (m.type == CAPSA_DBUS_RETURN)
            return 0;
        return reply_error(&m, call, unit, err);
    }
    return r;
}

/* ResetFailedUnit, whose errors (NoSuchUnit for a unit that is gone) do
 * not matter. */
static void reset_failed(struct capsa_dbus *bus, const char *unit, long long deadline)
{
    struct capsa_dbus_buf b = {0};
    capsa_dbus_put_str(&b, unit);
    struct capsa_dbus_call call = {.destination = SD_DEST,
                                   .path = SD_PATH,
                                   .interface = SD_MANAGER,
                                   .member = "ResetFailedUnit",
                                   .sig = "s",
                                   .body = &b};
    struct capsa_err ignored = {0};
    (void)call_plain(bus, &call, unit, deadline, &ignored);
    capsa_dbus_buf_free(&b);
}

int capsa_systemd_start_on(struct capsa_dbus *bus, const struct capsa_systemd_unit *u,
                           const char *description, pid_t pid, const struct capsa_resources *res,
                           bool unified, long long deadline_ms, struct capsa_err *err)
{
    struct capsa_dbus_buf b = {0};
    capsa_dbus_put_str(&b, u->name);
    capsa_dbus_put_str(&b, "fail"); /* a unit of that name already there is an error */
    struct capsa_dbus_array props = capsa_dbus_array_open(&b, 8);
    prop_s(&b, "Description", description);
    prop_s(&b, "Slice", u->slice);
    prop_b(&b, "Delegate", true);
    prop_b(&b, "DefaultDependencies", false);
    prop_open(&b, "PIDs", "au");
    struct capsa_dbus_array pids = capsa_dbus_array_open(&b, 4);
    capsa_dbus_put_u32(&b, (uint32_t)pid);
    capsa_dbus_array_close(&b, pids);
    prop_b(&b, "MemoryAccounting", true);
    prop_b(&b, "CPUAccounting", true);
    prop_b(&b, unified ? "IOAccounting" : "BlockIOAccounting", true);
    prop_b(&b, "TasksAccounting", true);
    int r = capsa_systemd_res_props(res, unified, &b, err);
    /* The config's own properties last: they may set what capsa set. */
    if (r == 0)
        r = capsa_sdprop_append(u->annotations, u->n_annotations, &b, err);
    capsa_dbus_array_close(&b, props);
    struct capsa_dbus_array aux = capsa_dbus_array_open(&b, 8); /* a(sa(sv)): none */
    capsa_dbus_array_close(&b, aux);
    if (r == 0) {
        struct capsa_dbus_call call = {.destination = SD_DEST,
                                       .path = SD_PATH,
                                       .interface = SD_MANAGER,
                                       .member = "StartTransientUnit",
                                       .sig = "ssa(sv)a(sa(sv))",
                                       .body = &b};
        r = call_job(bus, &call, u->name, deadline_ms, err);
    }
    capsa_dbus_buf_free(&b);
    return r;
}

int capsa_systemd_stop_on(struct capsa_dbus *bus, const char *unit, long long deadline_ms,
                          struct capsa_err *err)
{
    if (!capsa_systemd_scope_name_ok(unit))
        return capsa_err_setx(err, EINVAL, "systemd unit \"%s\": not a scope capsa made", unit);
    struct capsa_dbus_buf b = {0};
    capsa_dbus_put_str(&b, unit);
    capsa_dbus_put_str(&b, "replace");
    struct capsa_dbus_call call = {.destination = SD_DEST,
                                   .path = SD_PATH,
                                   .interface = SD_MANAGER,
                                   .member = "StopUnit",
                                   .sig = "ss",
                                   .body = &b};
    int r = call_job(bus, &call, unit, deadline_ms, err);
    capsa_dbus_buf_free(&b);
    if (r == -ENOENT) { /* gone already: the scope ended with its last process */
        capsa_err_clear(err);
        r = 0;
    }
    if (r < 0)
        return r;
    /* A scope whose processes were killed may stay "failed" (and its name
     * taken) until reset. */
    reset_failed(bus, unit, deadline_ms);
    return 0;
}

int capsa_systemd_set_on(struct capsa_dbus *bus, const char *unit,
                         const struct capsa_resources *res, bool unified, long long deadline_ms,
                         struct capsa_err *err)
{
    if (!capsa_systemd_scope_name_ok(unit))
        return capsa_err_setx(err, EINVAL, "systemd unit \"%s\": not a scope capsa made", unit);
    struct capsa_dbus_buf b = {0};
    capsa_dbus_put_str(&b, unit);
    capsa_dbus_put_bool(&b, true); /* runtime: gone with the unit */
    struct capsa_dbus_array props = capsa_dbus_array_open(&b, 8);
    int r = capsa_systemd_res_props(res, unified, &b, err);
    capsa_dbus_array_close(&b, props);
    bool empty = b.len == props.start;
    if (r == 0 && !empty) {
        struct capsa_dbus_call call = {.destination = SD_DEST,
                                       .path = SD_PATH,
                                       .interface = SD_MANAGER,
                                       .member = "SetUnitProperties",
                                       .sig = "sba(sv)",
                                       .body = &b};
        r = call_plain(bus, &call, unit, deadline_ms, err);
    }
    capsa_dbus_buf_free(&b);
    return r;
}

/* ---------------- with a connection of their own ---------------- */

int capsa_systemd_stop(const char *unit, struct capsa_err *err)
{
    long long deadline = capsa_dbus_now_ms() + SD_TIMEOUT_MS;
    struct capsa_dbus bus;
    int r = connect_manager(&bus, deadline, err);
    if (r < 0)
        return r;
    r = capsa_systemd_stop_on(&bus, unit, deadline, err);
    capsa_dbus_close(&bus);
    return r;
}

int capsa_systemd_set(const char *unit, const struct capsa_resources *res, struct capsa_err *err)
{
    long long deadline = capsa_dbus_now_ms() + SD_TIMEOUT_MS;
    struct capsa_dbus bus;
    int r = connect_manager(&bus, deadline, err);
    if (r < 0)
        return r;
    r = capsa_systemd_set_on(&bus, unit, res, is_unified(), deadline, err);
    capsa_dbus_close(&bus);
    return r;
}

void capsa_systemd_scope_release(struct capsa_systemd_scope *s)
{
    if (s->holder > 0) {
        if (s->holder_fd >= 0)
            (void)capsa_pidfd_send_signal(s->holder_fd, SIGKILL, 0);
        else
            (void)kill(s->holder, SIGKILL);
        while (waitpid(s->holder, NULL, 0) < 0 && errno == EINTR)
            ;
        s->holder = 0;
    }
    if (s->holder_fd >= 0)
        capsa_close(&s->holder_fd);
    free(s->cgroup);
    s->cgroup = NULL;
}

/* The placeholder: a child that only waits to be killed (and dies with us). */
static int holder_spawn(struct capsa_systemd_scope *s, struct capsa_err *err)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        return capsa_err_set(err, errno, "fork the systemd scope's placeholder");
    if (pid == 0) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
            _exit(1);
        for (;;)
            pause();
    }
    s->holder = pid;
    s->holder_fd = capsa_pidfd_open(pid, 0);
    if (s->holder_fd < 0)
        return capsa_err_set(err, -s->holder_fd, "pidfd of the placeholder");
    return 0;
}

int capsa_systemd_scope_start(const struct capsa_systemd_unit *u, const char *description,
                              const struct capsa_resources *res, struct capsa_systemd_scope *out,
                              struct capsa_err *err)
{
    *out = (struct capsa_systemd_scope){.holder_fd = -1};
    long long deadline = capsa_dbus_now_ms() + SD_TIMEOUT_MS;
    struct capsa_dbus bus;
    int r = connect_manager(&bus, deadline, err);
    if (r < 0)
        return r;
    bool unified = is_unified();
    if ((r = holder_spawn(out, err)) == 0)
        r = capsa_systemd_start_on(&bus, u, description, out->holder, res, unified, deadline, err);
    if (r == -EEXIST) {
        /* A failed unit of that name (a container of this id that was
         * killed) keeps its name until reset: reset it and try once more.
         * An active one stays, and so does the error. */
        reset_failed(&bus, u->name, deadline);
        capsa_err_clear(err);
        r = capsa_systemd_start_on(&bus, u, description, out->holder, res, unified, deadline, err);
    }
    bool started = r == 0;
    if (r == 0) {
        char path[64];
        cleanup_free char *text = NULL;
        snprintf(path, sizeof path, "/proc/%d/cgroup", (int)out->holder);
        r = capsa_read_file_at(AT_FDCWD, path, 1 << 16, &text, NULL, err);
        if (r == 0)
            r = capsa_systemd_cgroup_of(text, &out->cgroup, err);
        if (r < 0)
            capsa_err_wrap(err, "systemd unit %s", u->name);
    }
    if (r < 0) {
        if (started) {
            struct capsa_err ignored = {0};
            (void)capsa_systemd_stop_on(&bus, u->name, deadline, &ignored);
        }
        capsa_systemd_scope_release(out);
    }
    capsa_dbus_close(&bus);
    return r;
}
