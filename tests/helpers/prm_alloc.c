/* prm_alloc MIB - used by promises.bats: allocates MIB mebibytes one at a time and touches every
 * page, so the memory is really charged to the cgroup (an untouched malloc costs nothing).
 * Prints "survived" when all of it was obtained; under a smaller memory limit the kernel's OOM
 * killer must stop it first (SIGKILL, exit 137 through the runtime). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: prm_alloc MIB\n");
        return 2;
    }
    long mib = strtol(argv[1], NULL, 10);
    for (long i = 0; i < mib; i++) {
        char *p = malloc(1 << 20);
        if (p == NULL) {
            printf("malloc failed at %ld MiB\n", i);
            return 1;
        }
        /* Non-zero bytes so that no page can stay shared with the zero page. */
        memset(p, 0x5a, 1 << 20);
    }
    printf("survived\n");
    fflush(stdout);
    return 0;
}
