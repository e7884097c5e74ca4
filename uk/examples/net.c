/* net.c - network example: on device "service0" it answers ARP requests for
 * its IPv4 address and ICMP echo requests to it, so the host can ping it
 * through the container's TAP. The address comes from the command line
 * ("ip=10.77.0.2"), the MAC from the manifest entry the tender filled in.
 * With "count=N" it exits 0 after N echo replies, otherwise it runs forever.
 * Every field of an incoming frame is checked before it is used: the frames
 * come from outside the sandbox. */
#include "uk.h"

UK_MANIFEST(UK_MFT_NET("service0"));

#define ETH_HLEN      14
#define ETH_P_IP      0x0800
#define ETH_P_ARP     0x0806
#define ARP_LEN       28
#define IP_PROTO_ICMP 1
#define ICMP_ECHO     8
#define ICMP_REPLY    0

static uint8_t frame[9216 + ETH_HLEN];

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* The Internet checksum (RFC 1071): one's complement of the one's complement
 * sum of 16-bit big-endian words, an odd last byte padded with zero. */
static uint16_t inet_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (; len > 1; p += 2, len -= 2)
        sum += get16(p);
    if (len == 1)
        sum += (uint32_t)p[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* "a.b.c.d" into 4 bytes; 0 on success. */
static int parse_ip(const char *s, uint8_t ip[4])
{
    for (int i = 0; i < 4; i++) {
        unsigned v = 0, digits = 0;
        while (*s >= '0' && *s <= '9' && digits < 4) {
            v = v * 10 + (unsigned)(*s++ - '0');
            digits++;
        }
        if (digits == 0 || v > 255)
            return -1;
        ip[i] = (uint8_t)v;
        if (i < 3 && *s++ != '.')
            return -1;
    }
    return (*s == '\0' || *s == ' ') ? 0 : -1;
}

/* The value of "key=" in a space-separated cmdline, or NULL. */
static const char *arg_value(const char *cmdline, const char *key)
{
    size_t klen = strlen(key);
    for (const char *p = cmdline; *p != '\0';) {
        while (*p == ' ')
            p++;
        if (strncmp(p, key, klen) == 0 && p[klen] == '=')
            return p + klen + 1;
        while (*p != '\0' && *p != ' ')
            p++;
    }
    return NULL;
}

struct net_state {
    uk_handle_t h;
    uint8_t mac[6];
    uint8_t ip[4];
    uint64_t replies;
};

static void handle_arp(struct net_state *st, uint8_t *f, size_t len)
{
    uint8_t *a = f + ETH_HLEN;
    if (len < ETH_HLEN + ARP_LEN)
        return;
    /* Ethernet/IPv4 request for our address only. */
    if (get16(a) != 1 || get16(a + 2) != ETH_P_IP || a[4] != 6 || a[5] != 4 || get16(a + 6) != 1)
        return;
    if (memcmp(a + 24, st->ip, 4) != 0)
        return;
    uint8_t sha[6], spa[4];
    memcpy(sha, a + 8, 6);
    memcpy(spa, a + 14, 4);
    put16(a + 6, 2); /* reply */
    memcpy(a + 8, st->mac, 6);
    memcpy(a + 14, st->ip, 4);
    memcpy(a + 18, sha, 6);
    memcpy(a + 24, spa, 4);
    memcpy(f, sha, 6);
    memcpy(f + 6, st->mac, 6);
    if (uk_net_write(st->h, f, ETH_HLEN + ARP_LEN) != UK_OK)
        uk_puts("net: ARP reply not sent\n");
}

static void handle_ip(struct net_state *st, uint8_t *f, size_t len)
{
    uint8_t *ip = f + ETH_HLEN;
    if (len < ETH_HLEN + 20 || (ip[0] >> 4) != 4)
        return;
    size_t ihl = (size_t)(ip[0] & 0xf) * 4, tot = get16(ip + 2);
    if (ihl < 20 || tot < ihl + 8 || tot > len - ETH_HLEN)
        return;
    if (memcmp(ip + 16, st->ip, 4) != 0 || ip[9] != IP_PROTO_ICMP)
        return;
    /* Fragments are not reassembled: only whole datagrams are answered. */
    if ((get16(ip + 6) & 0x3fff) != 0)
        return;
    if (inet_csum(ip, ihl) != 0)
        return;
    uint8_t *icmp = ip + ihl;
    size_t icmp_len = tot - ihl;
    if (icmp[0] != ICMP_ECHO || icmp[1] != 0 || inet_csum(icmp, icmp_len) != 0)
        return;

    /* Turn the request around in place: same id, sequence and payload. */
    icmp[0] = ICMP_REPLY;
    put16(icmp + 2, 0);
    put16(icmp + 2, inet_csum(icmp, icmp_len));
    uint8_t tmp[6];
    memcpy(tmp, ip + 12, 4);
    memcpy(ip + 12, ip + 16, 4);
    memcpy(ip + 16, tmp, 4);
    ip[8] = 64; /* TTL */
    put16(ip + 10, 0);
    put16(ip + 10, inet_csum(ip, ihl));
    memcpy(f, f + 6, 6);
    memcpy(f + 6, st->mac, 6);
    if (uk_net_write(st->h, f, ETH_HLEN + tot) == UK_OK)
        st->replies++;
    else
        uk_puts("net: echo reply not sent\n");
}

int uk_main(const char *cmdline)
{
    struct net_state st = {0};
    struct uk_net_info info;
    const char *ipstr = arg_value(cmdline, "ip");
    if (ipstr == NULL || parse_ip(ipstr, st.ip) != 0) {
        uk_puts("net: usage: ip=A.B.C.D [count=N]\n");
        return 2;
    }
    uint64_t count = 0;
    const char *cnt = arg_value(cmdline, "count");
    for (; cnt != NULL && *cnt >= '0' && *cnt <= '9'; cnt++)
        count = count * 10 + (uint64_t)(*cnt - '0');
    if (uk_net_acquire("service0", &st.h, &info) != UK_OK) {
        uk_puts("net: no net device \"service0\"\n");
        return 1;
    }
    if (info.mtu + ETH_HLEN > sizeof(frame)) {
        uk_printf("net: mtu %lu too large\n", (unsigned long)info.mtu);
        return 1;
    }
    memcpy(st.mac, info.mac, 6);
    uk_printf("net: %u.%u.%u.%u at %02x:%02x:%02x:%02x:%02x:%02x mtu %lu\n", st.ip[0], st.ip[1],
              st.ip[2], st.ip[3], st.mac[0], st.mac[1], st.mac[2], st.mac[3], st.mac[4], st.mac[5],
              (unsigned long)info.mtu);

    static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    while (count == 0 || st.replies < count) {
        uk_handle_set_t ready = 0;
        uk_yield(uk_clock_monotonic() + 1000000000ULL, &ready);
        if ((ready & (1ULL << st.h)) == 0)
            continue;
        /* Drain everything queued: epoll reports the TAP level-triggered,
         * but one wake-up may cover many frames. */
        for (;;) {
            size_t len = 0;
            enum uk_result r = uk_net_read(st.h, frame, info.mtu + ETH_HLEN, &len);
            if (r != UK_OK)
                break;
            if (len < ETH_HLEN)
                continue;
            if (memcmp(frame, st.mac, 6) != 0 && memcmp(frame, bcast, 6) != 0)
                continue;
            uint16_t type = get16(frame + 12);
            if (type == ETH_P_ARP)
                handle_arp(&st, frame, len);
            else if (type == ETH_P_IP)
                handle_ip(&st, frame, len);
            if (count != 0 && st.replies >= count)
                break;
        }
    }
    uk_printf("net: %llu echo replies, exiting\n", (unsigned long long)st.replies);
    return 0;
}
