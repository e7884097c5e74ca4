/* tender.h - the unikernel isolation level (annotation capsa.isolation =
 * unikernel): the container init, instead of executing process.args[0],
 * loads it as a Solo5 spt unikernel (spt_abi.h) into its own address space,
 * opens the devices the annotations grant (devices.c), installs a seccomp
 * filter of at most nine system calls pinned to its fds, clocks and block
 * geometry (filter.c; default: kill the process) and jumps to the guest. The
 * container around it (namespaces, cgroups, rlimits, no_new_privs, dropped
 * capabilities) stays: defence in depth. docs/unikernel.md has the whole
 * story, and what differs from Solo5's own spt tender.
 *
 * Annotations (NAME: a device the guest's manifest declares):
 *   capsa.isolation                      "unikernel" (or "native", the default)
 *   capsa.unikernel.mem                  guest memory in MiB (default 64, 2..4096)
 *   capsa.unikernel.block.NAME           a regular file or block device inside
 *                                        the container, the block device NAME
 *   capsa.unikernel.block-sector-size.NAME  its sector size (512, default, to 32768)
 *   capsa.unikernel.net.NAME             a TAP interface the init creates (or
 *                                        attaches to) in the container's network
 *                                        namespace for the net device NAME (needs
 *                                        /dev/net/tun in linux.devices and
 *                                        CAP_NET_ADMIN at setup time, which the
 *                                        init has before it drops capabilities);
 *                                        or "@FD", an open TAP fd handed in with
 *                                        --preserve-fds
 *   capsa.unikernel.net-mac.NAME         its MAC address (default: random,
 *                                        locally administered)
 */
#ifndef CAPSA_UK_TENDER_H
#define CAPSA_UK_TENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "level/level.h"
#include "spec/spec.h"
#include "util/err.h"

/* The level's table entry (level/level.h). */
extern const struct capsa_level capsa_level_unikernel;
/* What a Solo5 manifest can declare: 64 entries, the first reserved. */
#define CAPSA_UK_MAX_DEVICES 63

struct capsa_uk_device {
    const char *name; /* borrowed from the spec's annotations */
    int fd;
    bool net;
    uint64_t capacity; /* block: bytes, a whole number (>= 1) of sectors */
    uint32_t sector;   /* block: sector size, a power of two, 512..32768 */
    uint8_t mac[6];    /* net */
    uint16_t mtu;      /* net: the interface's MTU when it was opened */
};

struct capsa_uk_setup {
    uint64_t mem_size;
    /* Set by the caller before capsa_uk_open_devices (which keeps it): the
     * fds 3..3+inherited_fds-1 were handed in by the caller (create/run
     * --preserve-fds); a net device "@FD" must be one of them. 0: none. */
    int inherited_fds;
    struct capsa_uk_device dev[CAPSA_UK_MAX_DEVICES];
    size_t n_dev;
};

/* Check the unikernel annotations (syntax, sizes, names, that each setting
 * names a granted device, no unknown capsa.unikernel.* key) without touching
 * the host: for create's validation. */
int capsa_uk_check(const struct capsa_spec *spec, struct capsa_err *err);

/* In the container init, before capabilities are dropped: open the block
 * files and devices (inside our root; a size that is not a whole number of
 * sectors is refused), create or attach the TAP devices (or check the
 * handed-in TAP fds) and read their MTU. */
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

/* Why a unikernel that died of signal sig died, for `capsa run` to say
 * (SIGSYS: the filter; SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP: a fault,
 * which the tender has described on the console), and the signal's name in
 * *signame when not NULL; NULL for any other signal. */
const char *capsa_uk_death_reason(int sig, const char **signame);

#endif
