/* blk.c - block device example: reads every block of device "storage",
 * prints a 64-bit FNV-1a checksum of its bytes, then stamps the last block
 * with "capsa-blk-ok <blocks>\n" (the rest of that block is kept), so a test
 * can check both directions from the host. */
#include "uk.h"

UK_MANIFEST(UK_MFT_BLOCK("storage"));

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

/* The largest block_size the manifest can express is 65535 bytes. */
static unsigned char block[65536];

int uk_main(const char *cmdline)
{
    (void)cmdline;
    uk_handle_t h;
    struct uk_block_info info;
    if (uk_block_acquire("storage", &h, &info) != UK_OK) {
        uk_puts("blk: no block device \"storage\"\n");
        return 1;
    }
    if (info.block_size == 0 || info.block_size > sizeof(block) || info.capacity == 0) {
        uk_printf("blk: unusable geometry (block size %lu)\n", (unsigned long)info.block_size);
        return 1;
    }
    uint64_t blocks = info.capacity / info.block_size;
    uint64_t sum = FNV_OFFSET;
    for (uint64_t i = 0; i < blocks; i++) {
        if (uk_block_read(h, i * info.block_size, block, info.block_size) != UK_OK) {
            uk_printf("blk: read of block %lu failed\n", (unsigned long)i);
            return 1;
        }
        for (uint64_t j = 0; j < info.block_size; j++) {
            sum ^= block[j];
            sum *= FNV_PRIME;
        }
    }
    uk_printf("blk: %llu blocks of %llu bytes, sum 0x%016llx\n", (unsigned long long)blocks,
              (unsigned long long)info.block_size, (unsigned long long)sum);

    /* The last block still holds its bytes from the loop above. */
    char stamp[40];
    size_t n = uk_snprintf(stamp, sizeof(stamp), "capsa-blk-ok %llu\n", (unsigned long long)blocks);
    if (n >= sizeof(stamp) || n > info.block_size)
        return 1;
    memcpy(block, stamp, n);
    if (uk_block_write(h, (blocks - 1) * info.block_size, block, info.block_size) != UK_OK) {
        uk_puts("blk: write of the last block failed\n");
        return 1;
    }
    uk_puts("blk: wrote the last block\n");
    return 0;
}
