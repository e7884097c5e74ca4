/* prm_setuid - installed setuid-root in a test rootfs by promises.bats: prints "ruid=R euid=E"
 * and then tries setuid(0), printing "setuid0=ok" or the errno. With no_new_privs the kernel must
 * ignore the setuid bit at exec, so a non-root caller must see euid unchanged and setuid(0) fail.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    printf("ruid=%u euid=%u\n", (unsigned)getuid(), (unsigned)geteuid());
    if (setuid(0) == 0)
        printf("setuid0=ok\n");
    else
        printf("setuid0=%s\n", strerror(errno));
    return 0;
}
