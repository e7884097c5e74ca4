/* many.c - the most devices a Solo5 manifest declares: 63 block devices
 * (64 entries, the first reserved), "d0" to "d62". The guest stamps the
 * first sector of each with "capsa-many dN\n" and prints how many it
 * stamped, so a test can check every file from the host. */
#include "uk.h"

#define B(i) UK_MFT_BLOCK("d" #i)
UK_MANIFEST(B(0), B(1), B(2), B(3), B(4), B(5), B(6), B(7), B(8), B(9), B(10), B(11), B(12), B(13),
            B(14), B(15), B(16), B(17), B(18), B(19), B(20), B(21), B(22), B(23), B(24), B(25),
            B(26), B(27), B(28), B(29), B(30), B(31), B(32), B(33), B(34), B(35), B(36), B(37),
            B(38), B(39), B(40), B(41), B(42), B(43), B(44), B(45), B(46), B(47), B(48), B(49),
            B(50), B(51), B(52), B(53), B(54), B(55), B(56), B(57), B(58), B(59), B(60), B(61),
            B(62));

#define N_DEV 63

static unsigned char sector[32768];

int uk_main(const char *cmdline)
{
    (void)cmdline;
    unsigned stamped = 0;
    for (unsigned i = 0; i < N_DEV; i++) {
        char name[8];
        uk_snprintf(name, sizeof(name), "d%u", i);
        uk_handle_t h;
        struct uk_block_info info;
        if (uk_block_acquire(name, &h, &info) != UK_OK || info.block_size > sizeof(sector)) {
            uk_printf("many: no usable block device \"%s\"\n", name);
            return 1;
        }
        memset(sector, 0, sizeof(sector));
        uk_snprintf((char *)sector, sizeof(sector), "capsa-many %s\n", name);
        if (uk_block_write(h, 0, sector, info.block_size) != UK_OK) {
            uk_printf("many: write to %s failed\n", name);
            return 1;
        }
        stamped++;
    }
    uk_printf("many: stamped %u devices\n", stamped);
    return 0;
}
