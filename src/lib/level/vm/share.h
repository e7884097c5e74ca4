/* share.h - the directory tree virtiofsd serves to the guest (share.c). */
#ifndef CAPSA_LEVEL_VM_SHARE_H
#define CAPSA_LEVEL_VM_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "level/vm/vm.h"
#include "spec/spec.h"
#include "util/err.h"

/* Where the guest agent mounts the share (its rootfs directory). */
#define CAPSA_VM_GUEST_SHARE CAPSA_VM_GUEST_BUNDLE "/rootfs"

/* Whether mount m's source is shared with the guest (a bind mount of a
 * host path). */
bool capsa_vm_share_has(const struct capsa_mount *m);

/* The guest's path of the i-th mount's shared source, or with i SIZE_MAX of
 * the rootfs, for the VM's own container (member NULL) or for the pod
 * member of that id; -ENAMETOOLONG when out is too small. */
int capsa_vm_share_guest_path(const char *member, size_t i, char *out, size_t len);

/* Make <state_dir>/share (its path in out) from the rootfs and the config's
 * bind mounts (relative sources are the bundle's); on failure nothing is
 * left. */
int capsa_vm_share_make(const struct capsa_spec *spec, const char *bundle, const char *rootfs,
                        const char *state_dir, char *out, size_t len, struct capsa_err *err);

/* Detach the host's view of the share (once the guest has mounted it,
 * virtiofsd keeps its own copy); its directories stay. */
void capsa_vm_share_drop(const char *state_dir);

/* delete: remove the share's directories (mount points are removed only
 * when empty: never the container's files) and the fsd record. */
void capsa_vm_share_remove(int state_dirfd);

/* ---- CRI pods: members of a sandbox's VM ---- */

/* Bind mounts a pod member may share, at most. */
#define CAPSA_VM_SHARE_MEMBER_MAX 64

/* <state>/CAPSA_VM_FSD_RECORD: the VM's virtiofsd (capsa_proc_record_write),
 * whose mount namespace a pod member's binds go into. */
#define CAPSA_VM_FSD_RECORD "fsd"

/* The member id's rootfs and shared bind sources into the running share of
 * the sandbox (whose state directory is sandbox_dirfd): share/c/<id>/ made
 * on the host, the binds made in virtiofsd's mount namespace; nothing is
 * left on failure. */
int capsa_vm_share_member(int sandbox_dirfd, const char *sandbox, const char *id,
                          const struct capsa_spec *spec, const char *bundle, const char *rootfs,
                          struct capsa_err *err);

/* Remove share/c/<id>/ of the sandbox (its binds are detached with it). */
void capsa_vm_share_member_remove(int sandbox_dirfd, const char *id);

#endif
