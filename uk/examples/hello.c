/* hello.c - the smallest capsa unikernel: greets on the console, echoes its
 * command line and exits 0. Tests check its output from the host. */
#include "uk.h"

UK_MANIFEST();

int uk_main(const char *cmdline)
{
    uk_puts("Hello from a capsa unikernel\n");
    uk_printf("cmdline: %s\n", cmdline);
    return 0;
}
