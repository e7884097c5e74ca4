/* tapfd - hand an open TAP fd to a command, as an engine's network set-up
 * would hand one to the runtime (for the unikernel level's "@FD" net device).
 *
 *   tapfd NETNS|- IFNAME FD [tun|vnet] -- CMD [ARGS...]
 *
 * Joins the network namespace at path NETNS ("-": stay in ours), opens
 * /dev/net/tun, attaches it to (creating if needed) the TAP interface IFNAME
 * with IFF_NO_PI (with "tun": a TUN interface instead; with "vnet": with
 * IFF_VNET_HDR too; both of which the tender must refuse), moves it to fd FD
 * without close-on-exec and executes CMD there. Runs on the host, never in library code, so dying
 * on error is fine here. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "tapfd: %s: %s\n", what, strerror(errno));
    exit(1);
}

int main(int argc, char **argv)
{
    int i = 4;
    int flags = IFF_TAP | IFF_NO_PI;
    if (argc > i && strcmp(argv[i], "tun") == 0) {
        flags = IFF_TUN | IFF_NO_PI;
        i++;
    } else if (argc > i && strcmp(argv[i], "vnet") == 0) {
        flags |= IFF_VNET_HDR;
        i++;
    }
    if (argc < i + 2 || strcmp(argv[i], "--") != 0) {
        fprintf(stderr, "usage: tapfd NETNS|- IFNAME FD [tun|vnet] -- CMD [ARGS...]\n");
        return 2;
    }
    if (strcmp(argv[1], "-") != 0) {
        int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
        if (ns < 0 || setns(ns, CLONE_NEWNET) < 0)
            die(argv[1]);
        close(ns);
    }
    int want = atoi(argv[3]);
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        die("/dev/net/tun");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = (short)flags;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", argv[2]);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        die("TUNSETIFF");
    if (fd != want && dup2(fd, want) < 0) /* dup2 clears close-on-exec */
        die("dup2");
    if (fd == want && fcntl(fd, F_SETFD, 0) < 0)
        die("F_SETFD");
    execvp(argv[i + 1], argv + i + 1);
    die(argv[i + 1]);
}
