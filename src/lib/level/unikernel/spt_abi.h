/* spt_abi.h - the binary interface between the unikernel tender (src/lib/level/unikernel)
 * and a guest: the layout of Solo5's "spt" target (ABI version 2, manifest
 * version 1), written from Solo5's documentation and public headers so that
 * unikernels built for solo5-spt run unchanged. Shared by the tender and by
 * our freestanding guest library (uk/guest): only fixed-size types, no libc.
 *
 * Memory: the guest's "physical" memory is the tender's virtual range
 * [0, mem_size), of which [CAPSA_SPT_HOST_MEM_BASE, mem_size) is mapped (the
 * kernel refuses low mappings). The boot info block sits at
 * CAPSA_SPT_BOOT_INFO_BASE, followed by the manifest (with host fds filled
 * in) and the command line; the guest image starts at or above
 * CAPSA_SPT_GUEST_MIN_BASE; the stack starts at mem_size - 8 and grows down.
 * The entry point is called as entry(struct capsa_spt_boot_info *).
 *
 * Host system calls a spt guest makes (the tender's seccomp filter allows
 * only these, pinned to its fds and clocks): write(1), exit_group,
 * clock_gettime(MONOTONIC|REALTIME), epoll_pwait(epollfd),
 * timerfd_settime(timerfd), arch_prctl(ARCH_SET_FS), pread64/pwrite64(block
 * fds), read/write(net fds). */
#ifndef CAPSA_UK_SPT_ABI_H
#define CAPSA_UK_SPT_ABI_H

#include <stddef.h>
#include <stdint.h>

#define CAPSA_SPT_ABI_VERSION    2
#define CAPSA_SPT_GUEST_MIN_BASE 0x100000ULL
#define CAPSA_SPT_HOST_MEM_BASE  0x10000ULL
#define CAPSA_SPT_BOOT_INFO_BASE (CAPSA_SPT_HOST_MEM_BASE + 0x1000ULL)
#define CAPSA_SPT_CMDLINE_SIZE   8192
/* epoll data of the tender's internal timerfd (a net device's is its index). */
#define CAPSA_SPT_INTERNAL_TIMERFD (~1U)

struct capsa_spt_boot_info {
    uint64_t mem_size;   /* bytes */
    uint64_t kernel_end; /* end of the loaded image */
    const char *cmdline;
    const void *mft;
    int epollfd;
    int timerfd;
};

/* ---- the application manifest (the guest declares its devices) ---- */

#define CAPSA_MFT_VERSION     1
#define CAPSA_MFT_NAME_SIZE   68 /* with the terminating NUL */
#define CAPSA_MFT_NAME_MAX    67
#define CAPSA_MFT_MAX_ENTRIES 64

enum capsa_mft_type {
    CAPSA_MFT_DEV_BLOCK_BASIC = 1,
    CAPSA_MFT_DEV_NET_BASIC = 2,
    CAPSA_MFT_RESERVED_FIRST = 1U << 30, /* entry 0, empty name */
};

struct capsa_mft_block_basic {
    uint64_t capacity;
    uint16_t block_size;
};

struct capsa_mft_net_basic {
    uint8_t mac[6];
    uint16_t mtu;
};

struct capsa_mft_entry {
    char name[CAPSA_MFT_NAME_SIZE];
    uint32_t type; /* enum capsa_mft_type (an int-sized enum in Solo5's C) */
    union {
        struct capsa_mft_block_basic block_basic;
        struct capsa_mft_net_basic net_basic;
    } u;
    union {
        int hostfd; /* filled by the tender */
        void *data;
    } b;
    _Bool attached; /* filled by the tender */
};

struct capsa_mft {
    uint32_t version;
    uint32_t entries;
    struct capsa_mft_entry e[]; /* entries of them */
};

_Static_assert(sizeof(struct capsa_mft_entry) == 104, "mft_entry layout");
_Static_assert(offsetof(struct capsa_mft_entry, type) == 68, "mft_entry.type");
_Static_assert(offsetof(struct capsa_mft_entry, u) == 72, "mft_entry.u");
_Static_assert(offsetof(struct capsa_mft_entry, b) == 88, "mft_entry.b");
_Static_assert(offsetof(struct capsa_mft_entry, attached) == 96, "mft_entry.attached");
_Static_assert(sizeof(struct capsa_mft) == 8, "mft header");
_Static_assert(sizeof(struct capsa_spt_boot_info) == 40, "boot info layout");

/* ---- ELF notes (PT_NOTE segments of the guest) ---- */

#define CAPSA_SOLO5_NOTE_NAME "Solo5"     /* n_namesz 6, padded to 8 */
#define CAPSA_NOTE_TYPE_MFT1  0x3154464dU /* "MFT1" */
#define CAPSA_NOTE_TYPE_ABI1  0x31494241U /* "ABI1" */
/* Each descriptor starts at its struct's natural alignment after the 20-byte
 * header: the manifest at offset 24 (4 bytes of padding, counted in
 * n_descsz), the ABI info at offset 20. */
#define CAPSA_NOTE_HDR_SIZE  20
#define CAPSA_NOTE_MFT_ALIGN 8
#define CAPSA_NOTE_ABI_ALIGN 4

enum capsa_abi_target {
    CAPSA_ABI_TARGET_HVT = 1,
    CAPSA_ABI_TARGET_SPT = 2,
};

struct capsa_abi1_info {
    uint32_t abi_target;
    uint32_t abi_version;
    uint32_t reserved0, reserved1;
};

#endif
