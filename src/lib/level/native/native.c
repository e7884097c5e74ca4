/* native.c - the native level's table entry (native.h). */
#include "level/native/native.h"

const struct capsa_level capsa_level_native = {
    .name = "native",
    .summary = "namespaces, cgroups, seccomp, capabilities, pivot_root (as runc and crun)",
    .rank = 0,
};
