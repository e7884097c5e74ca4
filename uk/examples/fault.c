/* fault.c - a guest that faults on purpose, for the tender's fault report:
 * the command line names the fault ("segv" reads address 0x8, "text" writes
 * to its own code, "ill" executes ud2, "fpe" divides by zero, "bus" loads
 * through a non-canonical stack pointer, "trap" executes int3). The tender
 * must print what happened on the console and the process must die of the
 * matching signal; "none" prints "ok" and exits 0. */
#include "uk.h"

UK_MANIFEST();

int uk_main(const char *cmdline)
{
    const char *want = cmdline;
    while (*want == ' ')
        want++;
    uk_printf("fault: %s\n", want);
    if (strcmp(want, "none") == 0) {
        uk_puts("ok\n");
        return 0;
    }
    if (strcmp(want, "segv") == 0)
        __asm__ volatile("mov 0x8, %%rax" ::: "rax", "memory");
    else if (strcmp(want, "text") == 0)
        __asm__ volatile("lea uk_main(%%rip), %%rax\n\tmovb $0, (%%rax)" ::: "rax", "memory");
    else if (strcmp(want, "ill") == 0)
        __asm__ volatile("ud2" ::: "memory");
    else if (strcmp(want, "fpe") == 0)
        __asm__ volatile("xor %%ecx, %%ecx\n\txor %%edx, %%edx\n\tdiv %%ecx" ::
                             : "rax", "rcx", "rdx", "memory");
    else if (strcmp(want, "bus") == 0)
        __asm__ volatile("movabs $0x8000000000000000, %%rsp\n\tmov (%%rsp), %%rax" ::
                             : "rax", "memory");
    else if (strcmp(want, "trap") == 0)
        __asm__ volatile("int3" ::: "memory");
    else {
        uk_puts("fault: unknown; known: none segv text ill fpe bus trap\n");
        return 2;
    }
    uk_printf("survived %s\n", want);
    return 1;
}
