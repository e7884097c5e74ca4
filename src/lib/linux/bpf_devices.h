/* bpf_devices.h - internal pieces of cgroup_devices.c exposed for unit tests:
 * the normalised device rule list (deny all, the spec's rules, runc's default
 * devices), the pure reference decision, the eBPF program generator for
 * BPF_PROG_TYPE_CGROUP_DEVICE and the v1 devices.allow/deny line list.
 * Not part of the public library interface; everything else goes through
 * capsa_cgroup_devices_apply in cgroup.h. */
#ifndef CAPSA_LINUX_BPF_DEVICES_H
#define CAPSA_LINUX_BPF_DEVICES_H

#include <linux/bpf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/err.h"

/* Access bits, the kernel's BPF_DEVCG_ACC_* values (also used for v1). */
#define CAPSA_DEV_ACC_MKNOD 1u
#define CAPSA_DEV_ACC_READ  2u
#define CAPSA_DEV_ACC_WRITE 4u
#define CAPSA_DEV_ACC_ALL   7u

#define CAPSA_DEV_WILDCARD (-1) /* major / minor "*" */

/* One rule after validation. */
struct capsa_devrule {
    bool allow;
    char type;       /* 'a', 'c' or 'b' */
    int64_t major;   /* CAPSA_DEV_WILDCARD or 0..UINT32_MAX */
    int64_t minor;   /* likewise */
    unsigned access; /* CAPSA_DEV_ACC_* bits, never 0 */
    long src;        /* index in linux.resources.devices, -1 for built-in rules */
};

/* Validate the spec's rules and build the effective list: "deny a *:* rwm",
 * the rules in order (rules with an empty access string grant nothing and are
 * dropped), then runc's default allowed devices. Heap array in *out. */
int capsa_devices_normalize(const struct capsa_device_rule *rules, size_t n,
                            struct capsa_devrule **out, size_t *n_out, struct capsa_err *err);

/* Reference decision, the semantics the BPF program implements: every
 * requested access bit is decided by the last rule that matches the device
 * and names that bit; the request is allowed when every bit is allowed
 * (unknown bits are never allowed). A request without access bits (the
 * kernel sends one for exec-only permission checks) is decided by the last
 * rule matching the device. type is 'c' or 'b'. */
bool capsa_devices_allowed(const struct capsa_devrule *r, size_t n, char type, uint32_t major,
                           uint32_t minor, unsigned access);

/* Generate the BPF_PROG_TYPE_CGROUP_DEVICE program for the list (heap array). */
int capsa_devices_bpf_build(const struct capsa_devrule *r, size_t n, struct bpf_insn **insns,
                            size_t *n_insns, struct capsa_err *err);

/* Load insns and attach them to the v2 directory at path with
 * BPF_F_ALLOW_MULTI, then detach every program attached there before. */
int capsa_devices_bpf_attach(const char *path, const struct bpf_insn *insns, size_t n_insns,
                             struct capsa_err *err);

/* Number of BPF_CGROUP_DEVICE programs attached directly to the v2 directory. */
int capsa_devices_bpf_count(const char *path, struct capsa_err *err);

/* One write for the v1 devices controller. */
struct capsa_devices_v1_line {
    bool allow; /* devices.allow, else devices.deny */
    char text[64];
};

/* The v1 writes for the list, in order. Fails (naming the rule) where the v1
 * kernel would silently ignore a rule: removing part of a wildcard exception
 * ("punching a hole"), as runc's emulator does. Heap array in *out. */
int capsa_devices_v1_lines(const struct capsa_devrule *r, size_t n,
                           struct capsa_devices_v1_line **out, size_t *n_out,
                           struct capsa_err *err);

#endif
