/* level.c - the table of isolation levels and the choice of one (level.h). */
#include "level/level.h"

#include <errno.h>
#include <string.h>

#include "level/interpose/interpose.h"
#include "level/native/native.h"
#include "level/unikernel/tender.h"
#include "level/vm/vm.h"

/* Rank order. A new level is one more line here. */
static const struct capsa_level *const levels[] = {
    &capsa_level_native,
    &capsa_level_interpose,
    &capsa_level_unikernel,
    &capsa_level_vm,
};

const struct capsa_level *const *capsa_levels(size_t *n)
{
    *n = sizeof levels / sizeof levels[0];
    return levels;
}

const struct capsa_level *capsa_level_by_name(const char *name)
{
    for (size_t i = 0; name != NULL && i < sizeof levels / sizeof levels[0]; i++)
        if (strcmp(levels[i]->name, name) == 0)
            return levels[i];
    return NULL;
}

const char *capsa_level_names(void)
{
    return "native, interpose, unikernel, vm";
}

static int unknown(const char *where, const char *name, struct capsa_err *err)
{
    return capsa_err_setx(err, EINVAL, "%s: unknown isolation level \"%s\" (known: %s)", where,
                          name, capsa_level_names());
}

int capsa_level_choose(const struct capsa_spec *spec, const char *default_level,
                       const char *pod_level, const struct capsa_level **out, struct capsa_err *err)
{
    const struct capsa_level *def = &capsa_level_native;
    if (default_level != NULL && default_level[0] != '\0') {
        def = capsa_level_by_name(default_level);
        if (def == NULL)
            return unknown("the runtime's default isolation level", default_level, err);
    }
    /* A pod's containers are at least at its sandbox's level. */
    const struct capsa_level *pod = pod_level ? capsa_level_by_name(pod_level) : NULL;
    bool from_pod = pod != NULL && pod->rank > def->rank;
    if (from_pod)
        def = pod;
    const struct capsa_level *l = def;
    const char *ann = capsa_spec_annotation(spec, CAPSA_LEVEL_ANNOTATION);
    if (ann != NULL) {
        if ((l = capsa_level_by_name(ann)) == NULL)
            return unknown("annotations." CAPSA_LEVEL_ANNOTATION, ann, err);
        if (l->rank < def->rank)
            return capsa_err_setx(err, EPERM,
                                  "annotations." CAPSA_LEVEL_ANNOTATION ": \"%s\" is weaker than "
                                  "%s isolation level \"%s\": an annotation may not lower it",
                                  ann, from_pod ? "the pod sandbox's" : "this runtime entry's",
                                  def->name);
    }
    if (l->available != NULL && l->available(err) < 0)
        return capsa_err_wrap(err, "isolation level %s is not available on this host", l->name);
    *out = l;
    return 0;
}

const struct capsa_level *capsa_level_of_state(const char *name)
{
    const struct capsa_level *l = capsa_level_by_name(name);
    return l ? l : &capsa_level_native;
}
