/* exec.c - the process of `capsa exec`: the --process file, or the
 * container's process with runc's exec flags applied; see spec.h
 * (capsa_spec_exec_process). Pure: no system calls, so that it is fuzzed
 * (tests/fuzz/fuzz_process.c) exactly as the runtime runs it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsa/capsa.h"
#include "spec/spec.h"
#include "util/util.h"

/* Replace *slot with a heap copy of s (NULL stays NULL). */
static int replace_str(char **slot, const char *s, struct capsa_err *err)
{
    char *copy = NULL;
    if (s && capsa_strdup(s, &copy, err) < 0)
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

static int set_args(struct capsa_process *p, char *const *args, size_t n, struct capsa_err *err)
{
    char **v = calloc(n + 1, sizeof *v);
    if (v == NULL)
        return capsa_err_set(err, ENOMEM, "args");
    for (size_t i = 0; i < n; i++) {
        v[i] = strdup(args[i]);
        if (v[i] == NULL) {
            capsa_strv_free(v);
            return capsa_err_set(err, ENOMEM, "args");
        }
    }
    capsa_strv_free(p->args);
    p->args = v;
    p->n_args = n;
    return 0;
}

/* Append env entries; one whose key (up to '=') is already set replaces it. */
static int add_env(struct capsa_process *p, char *const *env, size_t n, struct capsa_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *eq = strchr(env[i], '=');
        if (eq == NULL || eq == env[i])
            return capsa_err_setx(err, EINVAL, "--env \"%s\": expected KEY=VALUE", env[i]);
    }
    /* Copies first, so that nothing below can fail half-way. */
    cleanup_strv char **copies = calloc(n + 1, sizeof *copies);
    if (copies == NULL)
        return capsa_err_set(err, ENOMEM, "--env");
    for (size_t i = 0; i < n; i++) {
        copies[i] = strdup(env[i]);
        if (copies[i] == NULL)
            return capsa_err_set(err, ENOMEM, "--env");
    }
    size_t have = p->env ? capsa_strv_len(p->env) : 0;
    char **v = calloc(have + n + 1, sizeof *v);
    if (v == NULL)
        return capsa_err_set(err, ENOMEM, "--env");
    for (size_t i = 0; i < have; i++)
        v[i] = p->env[i];
    size_t len = have;
    for (size_t i = 0; i < n; i++) {
        size_t klen = (size_t)(strchr(copies[i], '=') - copies[i]) + 1;
        size_t j = 0;
        while (j < len && strncmp(v[j], copies[i], klen) != 0)
            j++;
        if (j < len)
            free(v[j]);
        else
            len++;
        v[j] = copies[i];
        copies[i] = NULL;
    }
    /* The strings now belong to v: free only the old array. */
    free(p->env);
    p->env = v;
    p->n_env = len;
    return 0;
}

static int add_caps(struct capsa_spec *spec, char *const *caps, size_t n, struct capsa_err *err)
{
    if (n == 0)
        return 0;
    struct capsa_process *p = spec->process;
    struct capsa_caps *c = &p->capabilities;
    if (!p->has_capabilities) {
        memset(c, 0, sizeof *c);
        p->has_capabilities = true;
    }
    for (size_t i = 0; i < n; i++) {
        int cap = capsa_cap_parse_name(caps[i], true);
        if (cap == CAPSA_CAP_UNKNOWN) {
            /* runc: an engine may ask for a capability this runtime does
             * not know; it is skipped with a warning, not refused. */
            if (capsa_spec_warn(&spec->warnings, "--cap: ignoring unknown capability \"%.64s\"",
                                caps[i]) < 0)
                return capsa_err_set(err, ENOMEM, "--cap");
            continue;
        }
        uint64_t bit = 1ULL << cap;
        c->bounding |= bit;
        c->effective |= bit;
        c->permitted |= bit;
        /* Ambient needs the bit in inheritable too; as runc does, raise it
         * only when the process already has inheritable capabilities. */
        if (c->inheritable) {
            c->inheritable |= bit;
            c->ambient |= bit;
        }
    }
    return 0;
}

static int add_gids(struct capsa_process *p, const uint32_t *gids, size_t n, struct capsa_err *err)
{
    if (n == 0)
        return 0;
    size_t have = p->user.n_additional_gids;
    if (n > SIZE_MAX / sizeof(uint32_t) - have)
        return capsa_err_setx(err, EINVAL, "--additional-gids: too many");
    uint32_t *g = calloc(have + n, sizeof *g);
    if (g == NULL)
        return capsa_err_set(err, ENOMEM, "--additional-gids");
    if (have > 0)
        memcpy(g, p->user.additional_gids, have * sizeof *g);
    memcpy(g + have, gids, n * sizeof *g);
    free(p->user.additional_gids);
    p->user.additional_gids = g;
    p->user.n_additional_gids = have + n;
    return 0;
}

/* runc's exec flags onto the container's process. */
static int apply_flags(struct capsa_spec *spec, const struct capsa_exec_opts *o,
                       struct capsa_err *err)
{
    struct capsa_process *p = spec->process;
    int r = 0;
    if (o->n_args > 0 && (r = set_args(p, o->args, o->n_args, err)) < 0)
        return r;
    if (o->cwd && (r = replace_str(&p->cwd, o->cwd, err)) < 0)
        return r;
    if (o->n_env > 0 && (r = add_env(p, o->env, o->n_env, err)) < 0)
        return r;
    /* As runc: --user UID alone keeps the configured gid (not 0), and
     * --additional-gids adds to the configured groups rather than replacing
     * them (a group the config grants is never silently dropped). */
    if (o->has_user) {
        p->user.uid = o->uid;
        if (o->has_gid)
            p->user.gid = o->gid;
    }
    if ((r = add_gids(p, o->additional_gids, o->n_additional_gids, err)) < 0)
        return r;
    if ((r = add_caps(spec, o->caps, o->n_caps, err)) < 0)
        return r;
    if (o->no_new_privs)
        p->no_new_privileges = true;
    if (o->apparmor && (r = replace_str(&p->apparmor_profile, o->apparmor, err)) < 0)
        return r;
    if (o->process_label && (r = replace_str(&p->selinux_label, o->process_label, err)) < 0)
        return r;
    p->terminal = o->tty;
    return 0;
}

int capsa_spec_exec_process(struct capsa_spec *spec, const char *proc_json, size_t proc_len,
                            const char *proc_name, const struct capsa_exec_opts *o,
                            struct capsa_err *err)
{
    int r;
    /* The stored config's warnings were reported at create. */
    capsa_spec_warnings_free(&spec->warnings);
    if (proc_json) {
        struct capsa_process *p = NULL;
        r = capsa_spec_parse_process(proc_json, proc_len, proc_name, &p, &spec->warnings, err);
        if (r < 0)
            return r;
        capsa_process_free(spec->process);
        spec->process = p;
        if (o->tty)
            p->terminal = true;
    } else {
        if (spec->process == NULL) {
            /* process is optional at create: runc's defaults. */
            struct capsa_process *p = calloc(1, sizeof *p);
            if (p == NULL)
                return capsa_err_set(err, ENOMEM, "process");
            spec->process = p;
            if ((r = replace_str(&p->cwd, "/", err)) < 0)
                return r;
        }
        if ((r = apply_flags(spec, o, err)) < 0)
            return r;
    }
    if (spec->process->args == NULL || spec->process->n_args == 0)
        return capsa_err_setx(err, EINVAL,
                              "no command: give one after the container ID, or use --process");
    return 0;
}
