/* level.c - the interpose level's table entry (interpose.h). */
#include <errno.h>

#include "level/interpose/interpose.h"

static int ip_available(struct capsa_err *err)
{
    return capsa_err_setx(err, ENOTSUP, "the supervisor is not built yet");
}

const struct capsa_level capsa_level_interpose = {
    .name = "interpose",
    .summary = "native, plus a strict system call allowlist whose calls on host resources a "
               "per-container supervisor serves",
    .rank = 1,
    .available = ip_available,
};
