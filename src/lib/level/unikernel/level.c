/* level.c - the unikernel level's table entry: the hooks the core calls,
 * on top of the tender (tender.h). */
#include <errno.h>
#include <stdlib.h>

#include "level/unikernel/tender.h"

static int uk_validate(const struct capsa_spec *spec, struct capsa_err *err)
{
    return capsa_uk_check(spec, err);
}

/* The devices are opened now, while the init still holds the capabilities
 * a TAP device needs, and the image is loaded once to fail `create` rather
 * than `start` on a bad one. */
static int uk_child_prepare(struct capsa_level_child *c, bool *execs, struct capsa_err *err)
{
    struct capsa_uk_setup *s = calloc(1, sizeof *s);
    if (s == NULL)
        return capsa_err_set(err, ENOMEM, "unikernel setup");
    s->inherited_fds = c->inherited_fds; /* a net device may be a handed-in TAP fd */
    c->priv = s;
    *execs = false;
    int r = capsa_uk_open_devices(c->spec, s, err);
    if (r == 0)
        r = capsa_uk_validate(c->p->args[0], s, err);
    return r;
}

static int uk_child_start(struct capsa_level_child *c, struct capsa_err *err)
{
    return capsa_uk_exec(c->p->args[0], c->p->args, c->priv, err);
}

static int uk_exec_allowed(const char *id, struct capsa_err *err)
{
    return capsa_err_setx(err, ENOTSUP,
                          "exec: container %s runs at the unikernel isolation level: its only "
                          "process is the unikernel, which cannot start others",
                          id);
}

const struct capsa_level capsa_level_unikernel = {
    .name = "unikernel",
    .summary = "a Solo5 spt unikernel behind a nine-call seccomp filter",
    .rank = 2,
    .validate = uk_validate,
    .child_prepare = uk_child_prepare,
    .child_start = uk_child_start,
    .exec_allowed = uk_exec_allowed,
    .death_reason = capsa_uk_death_reason,
};
