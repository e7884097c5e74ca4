/* devices.c - the unikernel annotations (tender.h) and the host side of the
 * guest's devices: block storage (a regular file or a block device inside
 * the container) with its sector size, and network devices (a TAP interface
 * the init creates by name, or an open TAP fd the caller hands in) with
 * their MAC address and MTU. Runs in the container init, inside its root and
 * network namespace, while it still holds the capabilities a TAP needs; the
 * tender (tender.c) later hands the fds to the guest behind the seccomp
 * filter (filter.c), which bounds block I/O with the geometry found here. */
#include "level/unikernel/tender.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spec/spec.h"
#include "sys/sys.h"
#include "level/unikernel/internal.h"
#include "level/unikernel/spt_abi.h"
#include "util/util.h"

#define ANN_PREFIX  "capsa.unikernel."
#define ANN_MEM     ANN_PREFIX "mem"
#define ANN_BLOCK   ANN_PREFIX "block."
#define ANN_SECTOR  ANN_PREFIX "block-sector-size."
#define ANN_NET     ANN_PREFIX "net."
#define ANN_MAC     ANN_PREFIX "net-mac."
#define ANN_KNOWN   "mem, block.NAME, block-sector-size.NAME, net.NAME, net-mac.NAME"
#define SECTOR_DEF  512
#define SECTOR_MAX  32768 /* the manifest's block_size is 16 bits; a power of two */
#define FD_FIRST    3     /* --preserve-fds hands in fds 3..3+N-1 */
#define MAX_FD_TEXT 7     /* "@" and up to 6 digits: --preserve-fds is at most 65536 */

#ifndef TUNGETDEVNETNS
#define TUNGETDEVNETNS _IO('T', 227)
#endif

enum ann_kind {
    ANN_OTHER,
    ANN_K_MEM,
    ANN_K_BLOCK,
    ANN_K_SECTOR,
    ANN_K_NET,
    ANN_K_MAC,
    ANN_K_BAD
};

static const char *annotation(const struct capsa_spec *spec, const char *key)
{
    for (size_t i = 0; i < spec->n_annotations; i++)
        if (strcmp(spec->annotations[i].key, key) == 0)
            return spec->annotations[i].value;
    return NULL;
}

/* Which unikernel annotation key is, and the device name it carries. */
static enum ann_kind classify(const char *key, const char **name)
{
    static const struct {
        const char *prefix;
        enum ann_kind kind;
    } kinds[] = {{ANN_BLOCK, ANN_K_BLOCK},
                 {ANN_SECTOR, ANN_K_SECTOR},
                 {ANN_NET, ANN_K_NET},
                 {ANN_MAC, ANN_K_MAC}};
    *name = NULL;
    if (strncmp(key, ANN_PREFIX, strlen(ANN_PREFIX)) != 0)
        return ANN_OTHER;
    if (strcmp(key, ANN_MEM) == 0)
        return ANN_K_MEM;
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
        if (strncmp(key, kinds[i].prefix, strlen(kinds[i].prefix)) == 0) {
            *name = key + strlen(kinds[i].prefix);
            return kinds[i].kind;
        }
    return ANN_K_BAD;
}

/* The annotation PREFIX + name (a device's other setting), or NULL. */
static const char *device_annotation(const struct capsa_spec *spec, const char *prefix,
                                     const char *name)
{
    char key[128];
    int n = snprintf(key, sizeof key, "%s%s", prefix, name);
    if (n < 0 || (size_t)n >= sizeof key)
        return NULL;
    return annotation(spec, key);
}

static int mem_size(const struct capsa_spec *spec, uint64_t *out, struct capsa_err *err)
{
    const char *v = annotation(spec, ANN_MEM);
    int64_t mib = 64;
    if (v != NULL && (capsa_parse_int64(v, 2, 4096, &mib) < 0))
        return capsa_err_setx(err, EINVAL,
                              "annotations." ANN_MEM ": \"%s\" is not a size in MiB (2..4096)", v);
    *out = (uint64_t)mib << 20;
    return 0;
}

static bool valid_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > CAPSA_MFT_NAME_MAX)
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

/* An interface name the kernel takes as is: 1-15 bytes, none of '/', ':' or
 * white space (dev_valid_name), no '%' (TUNSETIFF would expand "%d" into a
 * name of its choosing), not "." or ".."; a leading '@' means an fd. */
static bool valid_ifname(const char *v)
{
    size_t len = strlen(v);
    if (len == 0 || len >= IFNAMSIZ || strcmp(v, ".") == 0 || strcmp(v, "..") == 0 || v[0] == '@')
        return false;
    return strpbrk(v, "/:% \t\n\r\v\f") == NULL;
}

/* "@N": an fd handed in by the caller. */
static int parse_fd(const char *v, int *fd)
{
    int64_t n;
    if (v[0] != '@' || strlen(v) > MAX_FD_TEXT || capsa_parse_int64(v + 1, 0, 1 << 20, &n) < 0)
        return -EINVAL;
    *fd = (int)n;
    return 0;
}

/* A power of two in [512, SECTOR_MAX]. */
static int parse_sector(const char *v, uint32_t *out)
{
    int64_t n;
    if (capsa_parse_int64(v, SECTOR_DEF, SECTOR_MAX, &n) < 0 || (n & (n - 1)) != 0)
        return -EINVAL;
    *out = (uint32_t)n;
    return 0;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "xx:xx:xx:xx:xx:xx", hex, a unicast address (a NIC cannot own a group
 * address), not all zero. */
static int parse_mac(const char *v, uint8_t mac[6])
{
    if (strlen(v) != 17)
        return -EINVAL;
    unsigned any = 0;
    for (size_t i = 0; i < 6; i++) {
        const char *p = v + 3 * i;
        int hi = hex_digit(p[0]), lo = hex_digit(p[1]);
        if (hi < 0 || lo < 0 || (i < 5 && p[2] != ':'))
            return -EINVAL;
        mac[i] = (uint8_t)(hi << 4 | lo);
        any |= mac[i];
    }
    return (mac[0] & 1) == 0 && any != 0 ? 0 : -EINVAL;
}

/* One unikernel annotation, without touching the host. */
static int check_one(const struct capsa_spec *spec, const char *k, const char *v, size_t *n_dev,
                     struct capsa_err *err)
{
    const char *name;
    enum ann_kind kind = classify(k, &name);
    if (kind == ANN_OTHER || kind == ANN_K_MEM)
        return 0;
    if (kind == ANN_K_BAD)
        return capsa_err_setx(
            err, EINVAL,
            "annotations.%s: not a unikernel annotation (" ANN_PREFIX "{" ANN_KNOWN "})", k);
    if (!valid_name(name))
        return capsa_err_setx(err, EINVAL,
                              "annotations.%s: a device name is 1-%d characters of "
                              "[A-Za-z0-9_-]",
                              k, CAPSA_MFT_NAME_MAX);
    int fd;
    uint32_t sector;
    uint8_t mac[6];
    switch (kind) {
    case ANN_K_BLOCK:
        if (v[0] != '/')
            return capsa_err_setx(err, EINVAL, "annotations.%s: \"%s\" is not an absolute path", k,
                                  v);
        break;
    case ANN_K_NET:
        if (!valid_ifname(v) && parse_fd(v, &fd) < 0)
            return capsa_err_setx(err, EINVAL,
                                  "annotations.%s: \"%s\" is neither an interface name nor "
                                  "@FD (an fd handed in with --preserve-fds)",
                                  k, v);
        break;
    case ANN_K_SECTOR:
        if (parse_sector(v, &sector) < 0)
            return capsa_err_setx(err, EINVAL,
                                  "annotations.%s: \"%s\" is not a sector size (a power of two, "
                                  "%d-%d bytes)",
                                  k, v, SECTOR_DEF, SECTOR_MAX);
        if (device_annotation(spec, ANN_BLOCK, name) == NULL)
            return capsa_err_setx(err, EINVAL,
                                  "annotations.%s: there is no block device \"%s\" (" ANN_BLOCK
                                  "%s) to apply it to",
                                  k, name, name);
        return 0;
    case ANN_K_MAC:
        if (parse_mac(v, mac) < 0)
            return capsa_err_setx(err, EINVAL,
                                  "annotations.%s: \"%s\" is not a unicast MAC address "
                                  "(xx:xx:xx:xx:xx:xx, the first byte even, not all zero)",
                                  k, v);
        if (device_annotation(spec, ANN_NET, name) == NULL)
            return capsa_err_setx(err, EINVAL,
                                  "annotations.%s: there is no net device \"%s\" (" ANN_NET
                                  "%s) to apply it to",
                                  k, name, name);
        return 0;
    case ANN_OTHER:
    case ANN_K_MEM:
    case ANN_K_BAD:
        return 0;
    }
    if (++*n_dev > CAPSA_UK_MAX_DEVICES)
        return capsa_err_setx(err, EINVAL,
                              "annotations: more than %d unikernel devices (what a Solo5 "
                              "manifest can declare)",
                              CAPSA_UK_MAX_DEVICES);
    return 0;
}

int capsa_uk_check(const struct capsa_spec *spec, struct capsa_err *err)
{
    uint64_t m;
    int r = mem_size(spec, &m, err);
    if (r < 0)
        return r;
    size_t n = 0;
    for (size_t i = 0; i < spec->n_annotations; i++) {
        r = check_one(spec, spec->annotations[i].key, spec->annotations[i].value, &n, err);
        if (r < 0)
            return r;
    }
    if (spec->process == NULL || spec->process->args == NULL || spec->process->args[0] == NULL)
        return capsa_err_setx(err, EINVAL, "process.args: the unikernel image is required");
    return 0;
}

int capsa_uk_open_in_root(const char *path, int flags, struct capsa_err *err)
{
    cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return capsa_err_set(err, errno, "open /");
    int fd = capsa_open_in_root(root, path, flags | O_NOCTTY);
    if (fd < 0)
        return capsa_err_set(err, -fd, "open %s", path);
    return fd;
}

/* A block device: a regular file or a block special file, of a whole
 * number (at least one) of sectors. Solo5 refuses other sizes too: rounding
 * down would hide the tail of the file from the guest without a word. */
static int open_block(const struct capsa_spec *spec, struct capsa_uk_device *d, const char *path,
                      struct capsa_err *err)
{
    d->sector = SECTOR_DEF;
    const char *sv = device_annotation(spec, ANN_SECTOR, d->name);
    if (sv != NULL && parse_sector(sv, &d->sector) < 0) /* capsa_uk_check said it is fine */
        return capsa_err_setx(err, EINVAL, "%s: bad sector size \"%s\"", path, sv);
    cleanup_close int fd = capsa_uk_open_in_root(path, O_RDWR, err);
    if (fd < 0)
        return fd;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return capsa_err_set(err, errno, "%s", path);
    if (S_ISREG(st.st_mode)) {
        d->capacity = (uint64_t)st.st_size;
    } else if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &d->capacity) < 0)
            return capsa_err_set(err, errno, "%s: the size of the block device", path);
    } else {
        return capsa_err_setx(err, EINVAL, "%s is neither a regular file nor a block device", path);
    }
    if (d->capacity < d->sector || d->capacity % d->sector != 0)
        return capsa_err_setx(err, EINVAL,
                              "%s: its size, %llu bytes, is not a whole number of %u-byte "
                              "sectors (at least one)%s",
                              path, (unsigned long long)d->capacity, d->sector,
                              sv ? "" : "; " ANN_SECTOR "NAME sets another sector size");
    return steal_fd(fd);
}

/* The MTU of interface ifname in our network namespace. */
static int interface_mtu(const char *ifname, uint16_t *mtu, struct capsa_err *err)
{
    cleanup_close int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return capsa_err_set(err, errno, "socket for the MTU of %s", ifname);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    if (ioctl(sock, SIOCGIFMTU, &ifr) < 0)
        return capsa_err_set(err, errno, "the MTU of %s", ifname);
    if (ifr.ifr_mtu <= 0 || ifr.ifr_mtu > UINT16_MAX)
        return capsa_err_setx(err, ERANGE, "%s: MTU %d out of range", ifname, ifr.ifr_mtu);
    *mtu = (uint16_t)ifr.ifr_mtu;
    return 0;
}

/* Create (or attach to) the TAP interface ifname in our network namespace. */
static int open_tap(const char *ifname, struct capsa_err *err)
{
    cleanup_close int fd = capsa_uk_open_in_root("/dev/net/tun", O_RDWR | O_NONBLOCK, err);
    if (fd < 0)
        return capsa_err_wrap(err, "a net device needs /dev/net/tun in linux.devices");
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode))
        return capsa_err_setx(err, ENODEV, "/dev/net/tun is not the tun device");
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0)
        return capsa_err_set(err, errno, "create TAP device %s", ifname);
    if (strncmp(ifr.ifr_name, ifname, IFNAMSIZ) != 0) /* not expected: valid_ifname */
        return capsa_err_setx(err, EINVAL, "TAP device %s came back as %.*s", ifname, IFNAMSIZ,
                              ifr.ifr_name);
    return steal_fd(fd);
}

/* The dev/ino of a namespace fd (closed here); errno kept on failure. */
static int ns_id(int nsfd, struct stat *st)
{
    int r = fstat(nsfd, st) < 0 ? -errno : 0;
    close(nsfd);
    errno = -r;
    return r;
}

/* An fd the caller handed in ("@N", --preserve-fds) for a net device: it
 * must be one of the handed-in fds, a TAP (not TUN) without virtio headers
 * (the guest reads bare Ethernet frames), in the container's network
 * namespace (where its MTU is read, and where the engine's network set-up
 * put it). Whether it was opened with IFF_NO_PI cannot be read back:
 * TUNGETIFF reports IFF_NOFILTER ("no socket filter") in the same bit, so
 * that is the caller's part, as with Solo5's "@FD". It is made
 * non-blocking, as the guest's reads expect (this changes the open file
 * description the caller shares, as Solo5 does). Its interface name goes to
 * ifname. */
static int tap_fd(int fd, const struct capsa_uk_setup *s, char ifname[IFNAMSIZ],
                  struct capsa_err *err)
{
    if (s->inherited_fds <= 0)
        return capsa_err_setx(err, EBADF,
                              "fd %d: no fd is handed in (create/run --preserve-fds N hands in "
                              "fds 3..3+N-1)",
                              fd);
    if (fd < FD_FIRST || fd >= FD_FIRST + s->inherited_fds)
        return capsa_err_setx(err, EBADF,
                              "fd %d is not one of the fds handed in with --preserve-fds %d "
                              "(3..%d)",
                              fd, s->inherited_fds, FD_FIRST + s->inherited_fds - 1);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(fd, TUNGETIFF, &ifr) < 0)
        return capsa_err_set(err, errno, "fd %d is not a TAP device attached to an interface", fd);
    if ((ifr.ifr_flags & (IFF_TUN | IFF_TAP)) != IFF_TAP || (ifr.ifr_flags & IFF_VNET_HDR))
        return capsa_err_setx(err, EINVAL,
                              "fd %d (interface %.*s) is not a TAP without IFF_VNET_HDR", fd,
                              IFNAMSIZ, ifr.ifr_name);
    snprintf(ifname, IFNAMSIZ, "%.*s", IFNAMSIZ - 1, ifr.ifr_name);
    cleanup_close int sock = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return capsa_err_set(err, errno, "socket");
    struct stat dev_ns, our_ns;
    int dnsfd = ioctl(fd, TUNGETDEVNETNS);
    if (dnsfd < 0 || ns_id(dnsfd, &dev_ns) < 0)
        return capsa_err_set(err, errno, "fd %d: the network namespace of %s", fd, ifname);
    int onsfd = ioctl(sock, SIOCGSKNS);
    if (onsfd < 0 || ns_id(onsfd, &our_ns) < 0)
        return capsa_err_set(err, errno, "the container's network namespace");
    if (dev_ns.st_dev != our_ns.st_dev || dev_ns.st_ino != our_ns.st_ino)
        return capsa_err_setx(err, EXDEV,
                              "fd %d: interface %s is not in the container's network namespace", fd,
                              ifname);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return capsa_err_set(err, errno, "fd %d: make it non-blocking", fd);
    return fd;
}

static int open_net(const struct capsa_spec *spec, struct capsa_uk_setup *s,
                    struct capsa_uk_device *d, const char *v, struct capsa_err *err)
{
    char ifname[IFNAMSIZ];
    int fd;
    if (parse_fd(v, &fd) == 0) {
        for (size_t j = 0; j < s->n_dev; j++)
            if (s->dev[j].net && s->dev[j].fd == fd)
                return capsa_err_setx(err, EBUSY, "fd %d is already net device \"%s\"", fd,
                                      s->dev[j].name);
        fd = tap_fd(fd, s, ifname, err);
    } else {
        snprintf(ifname, sizeof ifname, "%s", v);
        fd = open_tap(v, err);
    }
    if (fd < 0)
        return fd;
    d->fd = fd; /* from here on the caller closes it on failure */
    int r = interface_mtu(ifname, &d->mtu, err);
    if (r < 0)
        return r;
    const char *mac = device_annotation(spec, ANN_MAC, d->name);
    if (mac != NULL) {
        if (parse_mac(mac, d->mac) < 0) /* capsa_uk_check said it is fine */
            return capsa_err_setx(err, EINVAL, "bad MAC address \"%s\"", mac);
        return fd;
    }
    if (getrandom(d->mac, sizeof d->mac, 0) != (ssize_t)sizeof d->mac)
        return capsa_err_set(err, errno, "getrandom");
    d->mac[0] = (uint8_t)((d->mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
    return fd;
}

static void close_devices(struct capsa_uk_setup *s)
{
    for (size_t j = 0; j < s->n_dev; j++)
        if (s->dev[j].fd >= 0)
            close(s->dev[j].fd);
    s->n_dev = 0;
}

int capsa_uk_open_devices(const struct capsa_spec *spec, struct capsa_uk_setup *s,
                          struct capsa_err *err)
{
    int inherited = s->inherited_fds;
    memset(s, 0, sizeof *s);
    s->inherited_fds = inherited;
    int r = capsa_uk_check(spec, err);
    if (r == 0)
        r = mem_size(spec, &s->mem_size, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < spec->n_annotations; i++) {
        const char *k = spec->annotations[i].key;
        const char *v = spec->annotations[i].value;
        const char *name;
        enum ann_kind kind = classify(k, &name);
        if (kind != ANN_K_BLOCK && kind != ANN_K_NET)
            continue;
        struct capsa_uk_device *d = &s->dev[s->n_dev];
        memset(d, 0, sizeof *d);
        d->name = name;
        d->net = kind == ANN_K_NET;
        d->fd = -1;
        r = d->net ? open_net(spec, s, d, v, err) : open_block(spec, d, v, err);
        if (r >= 0) {
            d->fd = r;
            s->n_dev++;
            continue;
        }
        r = capsa_err_wrap(err, "annotations.%s", k);
        s->n_dev++; /* d->fd, if set, is closed with the others */
        close_devices(s);
        return r;
    }
    return 0;
}
