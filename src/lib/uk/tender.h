/* tender.h - the unikernel isolation level (annotation capsa.isolation =
 * unikernel): the container init, instead of executing process.args[0],
 * loads it as a Solo5 spt unikernel (spt_abi.h) into its own address space,
 * opens the devices the annotations grant, installs a seccomp filter of at
 * most nine fd- and clock-pinned system calls (default: kill the process)
 * and jumps to the guest. The container around it (namespaces, cgroups,
 * rlimits, no_new_privs, dropped capabilities) stays: defence in depth.
 *
 * Annotations:
 *   capsa.isolation            "unikernel" (or "native", the default)
 *   capsa.unikernel.mem        guest memory in MiB (default 64, 2..4096)
 *   capsa.unikernel.block.NAME a file inside the container, the block device NAME
 *   capsa.unikernel.net.NAME   a TAP interface the init creates in the container's
 *                              network namespace for the net device NAME (needs
 *                              /dev/net/tun in linux.devices and CAP_NET_ADMIN at
 *                              setup time, which the init has before it drops
 *                              capabilities)
 */
#ifndef CAPSA_UK_TENDER_H
#define CAPSA_UK_TENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "spec/spec.h"
#include "util/err.h"

#define CAPSA_UK_ANNOTATION  "capsa.isolation"
#define CAPSA_UK_MAX_DEVICES 16

struct capsa_uk_device {
    const char *name; /* borrowed from the spec's annotations */
    int fd;
    bool net;
    uint64_t capacity; /* block */
    uint8_t mac[6];    /* net */
};

struct capsa_uk_setup {
    uint64_t mem_size;
    struct capsa_uk_device dev[CAPSA_UK_MAX_DEVICES];
    size_t n_dev;
};

/* Whether the spec asks for the unikernel level; -EINVAL (naming the
 * annotation) for an unknown level. */
int capsa_uk_wanted(const struct capsa_spec *spec, bool *yes, struct capsa_err *err);

/* Check the unikernel annotations (sizes, names) without touching the host:
 * for create's validation. */
int capsa_uk_check(const struct capsa_spec *spec, struct capsa_err *err);

/* In the container init, before capabilities are dropped: open the block
 * files (inside our root) and create the TAP devices. */
int capsa_uk_open_devices(const struct capsa_spec *spec, struct capsa_uk_setup *s,
                          struct capsa_err *err);

/* Load and validate the image without running it (create's early check). */
int capsa_uk_validate(const char *image_path, const struct capsa_uk_setup *s,
                      struct capsa_err *err);

/* The last step of the init, in place of execve: load the image at
 * image_path (inside our root), set up the guest, lock the process down and
 * jump. Returns only on error (before the filter is in place). */
int capsa_uk_exec(const char *image_path, char *const argv[], struct capsa_uk_setup *s,
                  struct capsa_err *err);

#endif
