/* blkraw.c - a negative test for the bounds the tender's seccomp filter puts
 * on block I/O: the command line names one pread64/pwrite64 that the guest
 * makes with a raw system call on the host fd of device "storage",
 * bypassing the library's own checks. A correct tender kills every call
 * that is not exactly one sector, at a sector-aligned offset inside the
 * device, with SIGSYS, before it prints "survived" (a guest that got
 * through could grow the file behind the device without limit). The
 * controls "last" and "read-last" make the one legal edge call, print
 * "blkraw: ok <name>" and exit 0. The buffer holds 'X' bytes, so a write
 * that got through shows in the file. */
#include "uk.h"

UK_MANIFEST(UK_MFT_BLOCK("storage"));

enum {
    NR_pread64 = 17,
    NR_pwrite64 = 18
};

#define MAX_SECTOR 32768

static unsigned char buf[2 * MAX_SECTOR];

struct attempt {
    const char *name;
    long nr;
    int64_t size, offset;
    int legal; /* 1: the control, allowed */
};

int uk_main(const char *cmdline)
{
    uk_handle_t h;
    struct uk_block_info info;
    if (uk_block_acquire("storage", &h, &info) != UK_OK || info.block_size > MAX_SECTOR) {
        uk_puts("blkraw: no usable block device \"storage\"\n");
        return 2;
    }
    const int64_t bs = (int64_t)info.block_size, cap = (int64_t)info.capacity;
    const struct attempt attempts[] = {
        {"last", NR_pwrite64, bs, cap - bs, 1},
        {"read-last", NR_pread64, bs, cap - bs, 1},
        {"past-end", NR_pwrite64, bs, cap, 0},
        {"far", NR_pwrite64, bs, cap + (1 << 20), 0},
        {"read-past-end", NR_pread64, bs, cap, 0},
        {"big", NR_pwrite64, 2 * bs, 0, 0},
        {"small", NR_pwrite64, bs / 2, 0, 0},
        {"unaligned", NR_pwrite64, bs, bs / 2, 0},
        {"negative", NR_pwrite64, bs, -bs, 0},
        /* The upper half of the offset set, the lower half inside the device. */
        {"high", NR_pwrite64, bs, (int64_t)1 << 32, 0},
        /* The upper half of the size set, the lower half one sector. */
        {"size-high", NR_pwrite64, ((int64_t)1 << 32) + bs, 0, 0},
    };
    memset(buf, 'X', sizeof buf);
    const char *want = cmdline;
    while (*want == ' ')
        want++;
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        const struct attempt *a = &attempts[i];
        if (strcmp(a->name, want) != 0)
            continue;
        uk_printf("blkraw: trying %s (size %lld at %lld)\n", a->name, (long long)a->size,
                  (long long)a->offset);
        long rc = uk_raw_syscall6(a->nr, uk_raw_hostfd(h), (long)buf, (long)a->size,
                                  (long)a->offset, 0, 0);
        if (a->legal) {
            uk_printf("blkraw: ok %s (rc %ld)\n", a->name, rc);
            return rc == bs ? 0 : 1;
        }
        uk_printf("survived %s (rc %ld)\n", a->name, rc);
        return 1;
    }
    uk_printf("blkraw: unknown test \"%s\"; known:", want);
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++)
        uk_printf(" %s", attempts[i].name);
    uk_puts("\n");
    return 2;
}
