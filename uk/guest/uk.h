/* uk.h - the API of capsa's freestanding guest library for unikernels that
 * run under the spt tender (src/lib/level/unikernel). A guest is one static ELF: the
 * library's _start receives the tender's boot info, checks the manifest and
 * calls the application's uk_main(cmdline); uk_main's return value becomes
 * the exit status. The only host interaction is through the handful of
 * system calls the tender's seccomp filter allows (see src/lib/level/unikernel/spt_abi.h), so
 * everything here is deliberately tiny: no heap, no threads, no libc.
 *
 * Devices are declared at build time with UK_MANIFEST(...) (one per image)
 * and looked up at run time by name with uk_block_acquire/uk_net_acquire. */
#ifndef CAPSA_UK_GUEST_H
#define CAPSA_UK_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "level/unikernel/spt_abi.h"

/* Results of the device and yield calls. */
enum uk_result {
    UK_OK = 0,
    UK_AGAIN = 1,   /* net read: nothing queued right now */
    UK_EINVAL = 2,  /* bad handle, name, offset, size or alignment */
    UK_EUNSPEC = 3, /* the host call failed */
};

/* A device handle is its index in the manifest (< CAPSA_MFT_MAX_ENTRIES), so
 * a set of ready handles fits one uint64_t bit mask. */
typedef uint64_t uk_handle_t;
typedef uint64_t uk_handle_set_t;

struct uk_block_info {
    uint64_t capacity;   /* bytes */
    uint64_t block_size; /* bytes; offsets and sizes must be multiples */
};

struct uk_net_info {
    uint8_t mac[6];
    uint64_t mtu; /* bytes of payload after the 14-byte Ethernet header */
};

/* The application's entry point, provided by each unikernel. */
int uk_main(const char *cmdline);

/* ---- console, clock, time ---- */
void uk_console_write(const char *buf, size_t len);
void uk_puts(const char *s); /* no newline appended */
/* A small printf: %s %c %d %i %u %x %X %p %%, length modifiers l and ll (and
 * z), a field width, and the '0' and '-' flags. No floating point. */
void uk_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void uk_vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Format into buf (always NUL-terminated when size > 0); returns the length
 * the full output would have had, like snprintf. */
size_t uk_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

uint64_t uk_clock_monotonic(void); /* nanoseconds, CLOCK_MONOTONIC */
uint64_t uk_clock_wall(void);      /* nanoseconds since the epoch */

/* Block until the monotonic clock reaches deadline_ns or a net device has
 * input. *ready_set (if not NULL) gets one bit per readable net handle. */
void uk_yield(uint64_t deadline_ns, uk_handle_set_t *ready_set);

void uk_exit(int status) __attribute__((noreturn));

/* ---- block devices ---- */
enum uk_result uk_block_acquire(const char *name, uk_handle_t *handle, struct uk_block_info *info);
/* offset and size must be multiples of block_size and lie within capacity;
 * the host sees one call per block. */
enum uk_result uk_block_read(uk_handle_t handle, uint64_t offset, void *buf, size_t size);
enum uk_result uk_block_write(uk_handle_t handle, uint64_t offset, const void *buf, size_t size);

/* ---- network devices (raw Ethernet frames) ---- */
enum uk_result uk_net_acquire(const char *name, uk_handle_t *handle, struct uk_net_info *info);
/* Non-blocking: UK_AGAIN when no frame is queued. size must hold mtu + 14. */
enum uk_result uk_net_read(uk_handle_t handle, void *buf, size_t size, size_t *read_size);
enum uk_result uk_net_write(uk_handle_t handle, const void *buf, size_t size);

/* ---- the few string functions (the compiler may emit calls to mem*) ---- */
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* The raw syscall entry, exported for tests of the tender's seccomp filter
 * (uk/examples/forbidden.c): the real guest API never needs it. */
long uk_raw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
/* The host fd behind an attached device handle (-1 for none), for the same
 * tests: raw block I/O the library itself would refuse (uk/examples/blkraw.c). */
int uk_raw_hostfd(uk_handle_t handle);

/* ---- the manifest ----
 *
 * UK_MANIFEST(UK_MFT_BLOCK("storage"), UK_MFT_NET("service0")) declares the
 * devices this image needs, as the Solo5 "MFT1" ELF note in section
 * .note.solo5.manifest. Entry 0 is always the reserved one the ABI demands.
 * The tender reads the note from the file, opens the granted devices, and
 * gives the guest a filled-in copy through the boot info (the note itself is
 * never written). Use it exactly once per image, at file scope; UK_MANIFEST()
 * with no arguments declares an image without devices. */
#define UK_MFT_BLOCK(devname)                                                                      \
    {                                                                                              \
        .name = devname, .type = CAPSA_MFT_DEV_BLOCK_BASIC                                         \
    }
#define UK_MFT_NET(devname)                                                                        \
    {                                                                                              \
        .name = devname, .type = CAPSA_MFT_DEV_NET_BASIC                                           \
    }
#define UK_MFT_RESERVED_ENTRY                                                                      \
    {                                                                                              \
        .name = "", .type = CAPSA_MFT_RESERVED_FIRST                                               \
    }
#define UK_MFT_COUNT_(...)                                                                         \
    (sizeof((const struct capsa_mft_entry[]){__VA_ARGS__}) / sizeof(struct capsa_mft_entry))

/* The note: 12-byte header, "Solo5\0" padded to 8, then the descriptor. The
 * manifest has 8-byte alignment (it holds a pointer union), so it starts 24
 * bytes into the note and the 4 bytes of padding are counted in n_descsz, as
 * Solo5's loader expects (CAPSA_NOTE_MFT_ALIGN). The note itself is packed
 * and 4-aligned: ELF notes use 4-byte alignment, and gcc would otherwise
 * align this large object to 32, which readelf rejects as a corrupt note. */
#define UK_MANIFEST(...)                                                                           \
    struct uk_mft1_note_ {                                                                         \
        uint32_t n_namesz, n_descsz, n_type;                                                       \
        char n_name[8];                                                                            \
        uint32_t n_pad;                                                                            \
        struct {                                                                                   \
            uint32_t version, entries;                                                             \
            struct capsa_mft_entry e[UK_MFT_COUNT_(UK_MFT_RESERVED_ENTRY, ##__VA_ARGS__)];         \
        } m;                                                                                       \
    } __attribute__((packed, aligned(4)));                                                         \
    _Static_assert(UK_MFT_COUNT_(UK_MFT_RESERVED_ENTRY, ##__VA_ARGS__) <= CAPSA_MFT_MAX_ENTRIES,   \
                   "too many manifest entries");                                                   \
    _Static_assert(__builtin_offsetof(struct uk_mft1_note_, m) == 24, "MFT1 note layout");         \
    __attribute__((section(".note.solo5.manifest"), used, aligned(4)))                             \
    const struct uk_mft1_note_ uk_mft1_note = {                                                    \
        .n_namesz = sizeof(CAPSA_SOLO5_NOTE_NAME),                                                 \
        .n_descsz = sizeof(struct uk_mft1_note_) - CAPSA_NOTE_HDR_SIZE,                            \
        .n_type = CAPSA_NOTE_TYPE_MFT1,                                                            \
        .n_name = CAPSA_SOLO5_NOTE_NAME,                                                           \
        .m = {.version = CAPSA_MFT_VERSION,                                                        \
              .entries = UK_MFT_COUNT_(UK_MFT_RESERVED_ENTRY, ##__VA_ARGS__),                      \
              .e = {UK_MFT_RESERVED_ENTRY, ##__VA_ARGS__}},                                        \
    }

#endif
