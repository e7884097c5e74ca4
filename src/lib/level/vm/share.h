/* share.h - the directory tree virtiofsd serves to the guest (share.c). */
#ifndef CAPSA_LEVEL_VM_SHARE_H
#define CAPSA_LEVEL_VM_SHARE_H

#include <stdbool.h>
#include <stddef.h>

#include "level/vm/vm.h"
#include "spec/spec.h"
#include "util/err.h"

/* Where the guest agent mounts the share (its rootfs directory). */
#define CAPSA_VM_GUEST_SHARE CAPSA_VM_GUEST_BUNDLE "/rootfs"

/* Whether mount m's source is shared with the guest (a bind mount of a
 * host path). */
bool capsa_vm_share_has(const struct capsa_mount *m);

/* The guest's path of the i-th mount's shared source, or with i SIZE_MAX of
 * the rootfs; -ENAMETOOLONG when out is too small. */
int capsa_vm_share_guest_path(size_t i, char *out, size_t len);

/* Make <state_dir>/share (its path in out) from the rootfs and the config's
 * bind mounts (relative sources are the bundle's); on failure nothing is
 * left. */
int capsa_vm_share_make(const struct capsa_spec *spec, const char *bundle, const char *rootfs,
                        const char *state_dir, char *out, size_t len, struct capsa_err *err);

/* Detach the host's view of the share and remove its directories (once the
 * guest has mounted it, virtiofsd keeps its own copy). */
void capsa_vm_share_drop(const struct capsa_spec *spec, const char *state_dir);

#endif
