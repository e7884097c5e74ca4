/* vm.h - the vm level's table entry (level.c): the container's workload
 * runs in a virtual machine (vmm.h, image.h) whose guest agent
 * (docs/vm-protocol.md) builds the container inside it. */
#ifndef CAPSA_LEVEL_VM_VM_H
#define CAPSA_LEVEL_VM_VM_H

#include "level/level.h"

/* The guest agent binary: capsa-agent next to the running capsa binary,
 * else this one. */
#define CAPSA_VM_AGENT_DEFAULT "/usr/libexec/capsa/capsa-agent"

/* The bundle directory the agent mounts the rootfs share under (its
 * rootfs/ subdirectory), as the guest sees it. */
#define CAPSA_VM_GUEST_BUNDLE "/run/capsa/bundle"

extern const struct capsa_level capsa_level_vm;

#endif
