/* encode.c - a parsed process back to an OCI process object. The vm level
 * sends the process of `exec` to the guest agent this way: the agent parses
 * it as `exec --process` does, so what is written here is exactly what
 * spec.c reads (tests/unit/test_spec_encode.c parses it back). Pure: no
 * system calls. */
#include "spec/spec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

/* json_object_set_new that remembers a failure (NULL value or no memory). */
struct enc {
    bool failed;
};

static void put(struct enc *e, json_t *obj, const char *key, json_t *v)
{
    if (v == NULL || obj == NULL || json_object_set_new(obj, key, v) < 0)
        e->failed = true;
}

static void append(struct enc *e, json_t *arr, json_t *v)
{
    if (v == NULL || arr == NULL || json_array_append_new(arr, v) < 0)
        e->failed = true;
}

static json_t *strv(struct enc *e, char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        append(e, a, json_string(v[i]));
    return a;
}

static json_t *cap_set(struct enc *e, uint64_t set)
{
    json_t *a = json_array();
    for (int c = 0; c <= CAPSA_CAP_LAST_KNOWN; c++)
        if (set & (UINT64_C(1) << c))
            append(e, a, json_string(capsa_cap_name(c)));
    return a;
}

static json_t *user_obj(struct enc *e, const struct capsa_user *u)
{
    json_t *o = json_object();
    put(e, o, "uid", json_integer(u->uid));
    put(e, o, "gid", json_integer(u->gid));
    if (u->has_umask)
        put(e, o, "umask", json_integer(u->umask));
    if (u->n_additional_gids > 0) {
        json_t *g = json_array();
        for (size_t i = 0; i < u->n_additional_gids; i++)
            append(e, g, json_integer(u->additional_gids[i]));
        put(e, o, "additionalGids", g);
    }
    return o;
}

static json_t *caps_obj(struct enc *e, const struct capsa_caps *c)
{
    json_t *o = json_object();
    put(e, o, "bounding", cap_set(e, c->bounding));
    put(e, o, "effective", cap_set(e, c->effective));
    put(e, o, "inheritable", cap_set(e, c->inheritable));
    put(e, o, "permitted", cap_set(e, c->permitted));
    put(e, o, "ambient", cap_set(e, c->ambient));
    return o;
}

static json_t *scheduler_obj(struct enc *e, const struct capsa_scheduler *s)
{
    if (s->policy < 0 || s->policy >= CAPSA_SCHED_POLICY_COUNT) {
        e->failed = true;
        return NULL;
    }
    json_t *o = json_object();
    put(e, o, "policy", json_string(capsa_sched_policy_names[s->policy]));
    put(e, o, "nice", json_integer(s->nice));
    put(e, o, "priority", json_integer(s->priority));
    put(e, o, "runtime", json_integer((json_int_t)s->runtime));
    put(e, o, "deadline", json_integer((json_int_t)s->deadline));
    put(e, o, "period", json_integer((json_int_t)s->period));
    if (s->flags != 0) {
        json_t *f = json_array();
        for (int b = 0; b < CAPSA_SCHED_FLAG_COUNT; b++)
            if (s->flags & (UINT64_C(1) << b))
                append(e, f, json_string(capsa_sched_flag_names[b]));
        put(e, o, "flags", f);
    }
    return o;
}

/* rlimits, written by hand: jansson has no integer above INT64_MAX, and
 * RLIM_INFINITY is 18446744073709551615. Each type is a known RLIMIT_*
 * name (the parser refuses others), so it needs no escaping. text is the
 * rest of the object, "{...}". */
static int splice_rlimits(const struct capsa_process *p, const char *text, char **out,
                          struct capsa_err *err)
{
    size_t len = strlen(text);
    size_t cap = len + 16 + p->n_rlimits * 128;
    char *buf = malloc(cap);
    if (buf == NULL)
        return capsa_err_set(err, ENOMEM, "process: rlimits");
    memcpy(buf, text, len - 1); /* without the final '}' */
    size_t at = len - 1;
    for (size_t i = 0; i < p->n_rlimits; i++) {
        const struct capsa_rlimit *rl = &p->rlimits[i];
        if (capsa_rlimit_from_name(rl->type) < 0) {
            free(buf);
            return capsa_err_setx(err, EINVAL, "process.rlimits[%zu].type: unknown", i);
        }
        at += (size_t)snprintf(buf + at, cap - at,
                               "%s{\"type\":\"%s\",\"soft\":%" PRIu64 ",\"hard\":%" PRIu64 "}",
                               i == 0 ? (len > 2 ? ",\"rlimits\":[" : "\"rlimits\":[") : ",",
                               rl->type, rl->soft, rl->hard);
    }
    snprintf(buf + at, cap - at, "%s}", p->n_rlimits > 0 ? "]" : "");
    *out = buf;
    return 0;
}

int capsa_process_to_json(const struct capsa_process *p, char **out, struct capsa_err *err)
{
    *out = NULL;
    struct enc e = {0};
    json_t *o = json_object();
    put(&e, o, "terminal", json_boolean(p->terminal));
    if (p->has_console_size) {
        json_t *cs = json_object();
        put(&e, cs, "height", json_integer(p->console_height));
        put(&e, cs, "width", json_integer(p->console_width));
        put(&e, o, "consoleSize", cs);
    }
    put(&e, o, "user", user_obj(&e, &p->user));
    put(&e, o, "args", strv(&e, p->args, p->n_args));
    put(&e, o, "env", strv(&e, p->env, p->n_env));
    put(&e, o, "cwd", json_string(p->cwd ? p->cwd : "/"));
    if (p->has_capabilities)
        put(&e, o, "capabilities", caps_obj(&e, &p->capabilities));
    put(&e, o, "noNewPrivileges", json_boolean(p->no_new_privileges));
    if (p->apparmor_profile)
        put(&e, o, "apparmorProfile", json_string(p->apparmor_profile));
    if (p->has_oom_score_adj)
        put(&e, o, "oomScoreAdj", json_integer(p->oom_score_adj));
    if (p->selinux_label)
        put(&e, o, "selinuxLabel", json_string(p->selinux_label));
    if (p->has_scheduler)
        put(&e, o, "scheduler", scheduler_obj(&e, &p->scheduler));
    if (p->has_io_priority) {
        int c = p->io_priority.class;
        json_t *io = json_object();
        put(&e, io, "class",
            c > 0 && c < CAPSA_IOPRIO_CLASS_COUNT ? json_string(capsa_ioprio_class_names[c])
                                                  : NULL);
        put(&e, io, "priority", json_integer(p->io_priority.priority));
        put(&e, o, "ioPriority", io);
    }
    char *text = e.failed ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (text == NULL)
        return capsa_err_setx(err, e.failed ? EINVAL : ENOMEM,
                              "process: cannot be written as JSON (a value out of range or no "
                              "memory)");
    int r = splice_rlimits(p, text, out, err);
    free(text);
    return r;
}
