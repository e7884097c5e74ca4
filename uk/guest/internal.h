/* internal.h - state shared between the files of uk/guest: the boot info
 * and manifest the tender handed over, recorded once by _start before
 * uk_main runs and read-only afterwards. */
#ifndef CAPSA_UK_GUEST_INTERNAL_H
#define CAPSA_UK_GUEST_INTERNAL_H

#include "uk.h"

struct uk_boot_state {
    const struct capsa_spt_boot_info *bi;
    const struct capsa_mft *mft; /* the tender's copy, host fds filled in */
    unsigned net_count;          /* net devices: sizes the epoll event array */
};

/* Written only by _start, before any other guest code runs. */
extern struct uk_boot_state uk_boot;

/* The attached manifest entry at index handle of the given type, or NULL. */
const struct capsa_mft_entry *uk_mft_entry(uk_handle_t handle, uint32_t type);

#endif
