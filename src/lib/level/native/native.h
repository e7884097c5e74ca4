/* native.h - the native isolation level: the container as runc and crun
 * make it (namespaces, cgroups, seccomp, capabilities, pivot_root), which
 * the core builds for every level. Its table entry has no hooks. */
#ifndef CAPSA_LEVEL_NATIVE_H
#define CAPSA_LEVEL_NATIVE_H

#include "level/level.h"

extern const struct capsa_level capsa_level_native;

#endif
