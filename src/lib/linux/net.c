/* net.c - bringing the loopback interface of a new network namespace up.
 *
 * A new network namespace starts with "lo" down: 127.0.0.1 and ::1 are not
 * even routable until it is up. The init does it itself, with the ioctl on a
 * plain datagram socket (any family's socket reaches the device ioctls of
 * its own namespace), before anything of the container runs. It holds
 * CAP_NET_ADMIN over the namespace then: as root, or as root of the user
 * namespace that owns the new network namespace. */
#include "linux/net.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/util.h"

/* A datagram socket for the ioctl: AF_INET, or AF_INET6 on a kernel built
 * without IPv4, or AF_UNIX (always there) as the last resort. */
static int ioctl_socket(void)
{
    static const int families[] = {AF_INET, AF_INET6, AF_UNIX};
    int fd = -1;
    for (size_t i = 0; i < ARRAY_SIZE(families) && fd < 0; i++)
        fd = socket(families[i], SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return fd;
}

int capsa_net_setup(const struct capsa_spec *spec, struct capsa_err *err)
{
    const struct capsa_namespace *ns = capsa_spec_namespace(spec, CAPSA_NS_NET);
    if (ns == NULL || ns->path != NULL)
        return 0;
    cleanup_close int fd = ioctl_socket();
    if (fd < 0)
        return capsa_err_set(err, errno, "loopback: socket");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", sizeof "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        return capsa_err_set(err, errno, "loopback: read the flags of lo (SIOCGIFFLAGS)");
    if (ifr.ifr_flags & IFF_UP)
        return 0;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        return capsa_err_set(err, errno, "loopback: bring lo up (SIOCSIFFLAGS)");
    return 0;
}
