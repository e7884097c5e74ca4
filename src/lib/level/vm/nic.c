/* nic.c - the vm level's network (nic.h): the text that crosses to the
 * guest, the host side that wires a TAP to the engine's interface, and the
 * guest side that gives the VM's NIC that interface's identity. */
#include "level/vm/nic.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_tun.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/tc_act/tc_mirred.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux/rtnl.h"
#include "util/util.h"

/* ---- the text ----------------------------------------------------------- */

static int ip_text(const struct capsa_vm_ip *ip, char *out, size_t len)
{
    char a[INET6_ADDRSTRLEN];
    if (inet_ntop(ip->family, ip->a, a, sizeof a) == NULL)
        return -1;
    int n = snprintf(out, len, "%s/%u", a, ip->prefix);
    return n < 0 || (size_t)n >= len ? -1 : 0;
}

int capsa_vm_net_encode(const struct capsa_vm_net *n, char *buf, size_t len, struct capsa_err *err)
{
    size_t off = 0;
    char a[64], g[64];
#define EMIT(...)                                                                                  \
    do {                                                                                           \
        int w_ = snprintf(buf + off, len - off, __VA_ARGS__);                                      \
        if (w_ < 0 || (size_t)w_ >= len - off)                                                     \
            return capsa_err_setx(err, ENOBUFS, "vm network: more than %zu bytes", len);           \
        off += (size_t)w_;                                                                         \
    } while (0)
    if (len == 0)
        return capsa_err_setx(err, ENOBUFS, "vm network: no room");
    buf[0] = '\0';
    for (size_t i = 0; i < n->n_nics; i++) {
        const struct capsa_vm_nic *c = &n->nics[i];
        const uint8_t *m = c->mac, *d = c->devmac;
        EMIT("nic %s %02x:%02x:%02x:%02x:%02x:%02x %u %02x:%02x:%02x:%02x:%02x:%02x\n", c->name,
             m[0], m[1], m[2], m[3], m[4], m[5], c->mtu, d[0], d[1], d[2], d[3], d[4], d[5]);
        for (size_t k = 0; k < c->n_addrs; k++) {
            if (ip_text(&c->addrs[k], a, sizeof a) < 0)
                return capsa_err_setx(err, EINVAL, "vm network: an address of %s", c->name);
            EMIT("addr %zu %s\n", i, a);
        }
    }
    for (size_t i = 0; i < n->n_routes; i++) {
        const struct capsa_vm_route *r = &n->routes[i];
        if (ip_text(&r->dst, a, sizeof a) < 0 || (r->has_gw && ip_text(&r->gw, g, sizeof g) < 0))
            return capsa_err_setx(err, EINVAL, "vm network: route %zu", i);
        if (r->has_gw)
            *strchr(g, '/') = '\0';
        EMIT("route %u %s %s %u\n", r->nic, a, r->has_gw ? g : "-", r->metric);
    }
#undef EMIT
    return 0;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] != '\0'))
        return false;
    unsigned long v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (max - (unsigned long)(*s - '0')) / 10)
            return false;
        v = v * 10 + (unsigned long)(*s - '0');
    }
    *out = v;
    return true;
}

/* "ADDR" (with_prefix false) or "ADDR/PREFIX". */
static bool parse_ip(char *s, bool with_prefix, struct capsa_vm_ip *ip)
{
    memset(ip, 0, sizeof *ip);
    char *slash = strchr(s, '/');
    if ((slash != NULL) != with_prefix)
        return false;
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, s, ip->a) == 1)
        ip->family = AF_INET;
    else if (inet_pton(AF_INET6, s, ip->a) == 1)
        ip->family = AF_INET6;
    else
        return false;
    unsigned long p = ip->family == AF_INET ? 32 : 128;
    if (slash && !parse_uint(slash + 1, p, &p))
        return false;
    ip->prefix = (uint8_t)p;
    return true;
}

static bool parse_mac(const char *s, uint8_t mac[6])
{
    for (int i = 0; i < 6; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = *s++;
            unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                         : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                                                : 16;
            if (d == 16)
                return false;
            v = v * 16 + d;
        }
        mac[i] = (uint8_t)v;
        if (*s++ != (i == 5 ? '\0' : ':'))
            return false;
    }
    return true;
}

/* What the kernel accepts as an interface name (dev_valid_name), less lo. */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= IF_NAMESIZE || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 ||
        strcmp(s, "lo") == 0)
        return false;
    for (; *s; s++)
        if (*s == '/' || *s == ':' || (unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

static int parse_line(char *line, struct capsa_vm_net *n)
{
    char *f[6];
    size_t nf = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (nf == ARRAY_SIZE(f))
            return -1;
        f[nf++] = t;
    }
    unsigned long v, w;
    if (nf == 5 && strcmp(f[0], "nic") == 0) {
        if (n->n_nics == CAPSA_VM_NIC_MAX || !name_ok(f[1]))
            return -1;
        struct capsa_vm_nic *c = &n->nics[n->n_nics];
        memset(c, 0, sizeof *c);
        if (!parse_mac(f[2], c->mac) || !parse_uint(f[3], 65535, &v) || v < 68 ||
            !parse_mac(f[4], c->devmac) || (c->mac[0] & 1))
            return -1;
        for (size_t i = 0; i < n->n_nics; i++)
            if (strcmp(n->nics[i].name, f[1]) == 0 || memcmp(n->nics[i].devmac, c->devmac, 6) == 0)
                return -1;
        memcpy(c->name, f[1], strlen(f[1]) + 1);
        c->mtu = (uint32_t)v;
        n->n_nics++;
        return 0;
    }
    if (nf == 3 && strcmp(f[0], "addr") == 0) {
        if (!parse_uint(f[1], CAPSA_VM_NIC_MAX, &v) || v >= n->n_nics)
            return -1;
        struct capsa_vm_nic *c = &n->nics[v];
        if (c->n_addrs == CAPSA_VM_ADDR_MAX || !parse_ip(f[2], true, &c->addrs[c->n_addrs]))
            return -1;
        c->n_addrs++;
        return 0;
    }
    if (nf == 5 && strcmp(f[0], "route") == 0) {
        if (n->n_routes == CAPSA_VM_ROUTE_MAX || !parse_uint(f[1], CAPSA_VM_NIC_MAX, &v) ||
            v >= n->n_nics)
            return -1;
        struct capsa_vm_route *r = &n->routes[n->n_routes];
        memset(r, 0, sizeof *r);
        r->nic = (uint8_t)v;
        if (!parse_ip(f[2], true, &r->dst) || !parse_uint(f[4], UINT32_MAX, &w))
            return -1;
        r->metric = (uint32_t)w;
        if (strcmp(f[3], "-") != 0) {
            if (!parse_ip(f[3], false, &r->gw) || r->gw.family != r->dst.family)
                return -1;
            r->has_gw = true;
        }
        n->n_routes++;
        return 0;
    }
    return -1;
}

int capsa_vm_net_parse(const char *text, size_t len, struct capsa_vm_net *n, struct capsa_err *err)
{
    memset(n, 0, sizeof *n);
    if (len > CAPSA_VM_NET_TEXT_MAX)
        return capsa_err_setx(err, EINVAL, "vm network: %zu bytes, more than %d", len,
                              CAPSA_VM_NET_TEXT_MAX);
    char buf[CAPSA_VM_NET_TEXT_MAX + 1];
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (strlen(buf) != len)
        return capsa_err_setx(err, EINVAL, "vm network: a NUL byte");
    size_t lineno = 0;
    char *p = buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl == NULL) {
            memset(n, 0, sizeof *n);
            return capsa_err_setx(err, EINVAL, "vm network: line %zu is not terminated",
                                  lineno + 1);
        }
        *nl = '\0';
        lineno++;
        if (parse_line(p, n) < 0) {
            memset(n, 0, sizeof *n);
            return capsa_err_setx(err, EINVAL, "vm network: line %zu is malformed", lineno);
        }
        p = nl + 1;
    }
    return 0;
}

/* ---- the host side ------------------------------------------------------- */

/* What a link dump saw of one interface. */
struct link {
    int index;
    unsigned flags;
    unsigned short type;
    char name[IF_NAMESIZE];
    uint8_t mac[6];
    bool has_mac;
    uint32_t mtu;
};

#define LINKS_MAX 64

struct links {
    size_t n;
    struct link l[LINKS_MAX];
};

static int link_cb(const struct nlmsghdr *h, void *arg, struct capsa_err *err)
{
    struct links *ls = arg;
    if (h->nlmsg_type != RTM_NEWLINK || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
        return 0;
    if (ls->n == LINKS_MAX)
        return capsa_err_setx(err, E2BIG, "more than %d interfaces", LINKS_MAX);
    const struct ifinfomsg *ifi = NLMSG_DATA(h);
    const struct rtattr *tb[IFLA_MAX + 1];
    capsa_nl_attrs(h, sizeof *ifi, tb, IFLA_MAX + 1);
    struct link *l = &ls->l[ls->n];
    memset(l, 0, sizeof *l);
    l->index = ifi->ifi_index;
    l->flags = ifi->ifi_flags;
    l->type = ifi->ifi_type;
    if (tb[IFLA_IFNAME]) {
        size_t n = strnlen(capsa_nl_data(tb[IFLA_IFNAME]), capsa_nl_len(tb[IFLA_IFNAME]));
        if (n >= IF_NAMESIZE)
            return 0;
        memcpy(l->name, capsa_nl_data(tb[IFLA_IFNAME]), n);
    }
    if (tb[IFLA_ADDRESS] && capsa_nl_len(tb[IFLA_ADDRESS]) == 6) {
        memcpy(l->mac, capsa_nl_data(tb[IFLA_ADDRESS]), 6);
        l->has_mac = true;
    }
    if (tb[IFLA_MTU] && capsa_nl_len(tb[IFLA_MTU]) == 4)
        memcpy(&l->mtu, capsa_nl_data(tb[IFLA_MTU]), 4);
    ls->n++;
    return 0;
}

static int dump_links(int nl, struct links *ls, struct capsa_err *err)
{
    struct capsa_nl_req q;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC};
    capsa_nl_begin(&q, RTM_GETLINK, NLM_F_DUMP, &ifi, sizeof ifi);
    ls->n = 0;
    return capsa_nl_talk(nl, &q, link_cb, ls, "list the interfaces", err);
}

/* Where a dump's addresses and routes go: the chosen links' indexes. */
struct collect {
    struct capsa_vm_net *n;
    int index[CAPSA_VM_NIC_MAX];
};

static int nic_of(const struct collect *c, int index)
{
    for (size_t i = 0; i < c->n->n_nics; i++)
        if (c->index[i] == index)
            return (int)i;
    return -1;
}

static bool ll6(const struct capsa_vm_ip *ip)
{
    return ip->family == AF_INET6 && ip->a[0] == 0xfe && (ip->a[1] & 0xc0) == 0x80;
}

static bool ip_from(const struct rtattr *a, uint8_t family, uint8_t prefix, struct capsa_vm_ip *ip)
{
    size_t want = family == AF_INET ? 4 : 16;
    if (a == NULL || capsa_nl_len(a) != want)
        return false;
    memset(ip, 0, sizeof *ip);
    ip->family = family;
    ip->prefix = prefix;
    memcpy(ip->a, capsa_nl_data(a), want);
    return true;
}

static int addr_cb(const struct nlmsghdr *h, void *arg, struct capsa_err *err)
{
    struct collect *c = arg;
    if (h->nlmsg_type != RTM_NEWADDR || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifaddrmsg)))
        return 0;
    const struct ifaddrmsg *ifa = NLMSG_DATA(h);
    int i = nic_of(c, (int)ifa->ifa_index);
    if (i < 0 || (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6) ||
        ifa->ifa_scope == RT_SCOPE_HOST)
        return 0;
    const struct rtattr *tb[IFA_MAX + 1];
    capsa_nl_attrs(h, sizeof *ifa, tb, IFA_MAX + 1);
    struct capsa_vm_ip ip;
    const struct rtattr *a =
        ifa->ifa_family == AF_INET && tb[IFA_LOCAL] ? tb[IFA_LOCAL] : tb[IFA_ADDRESS];
    /* The guest makes its own link-local address, from the same MAC. */
    if (!ip_from(a, ifa->ifa_family, ifa->ifa_prefixlen, &ip) || ll6(&ip))
        return 0;
    struct capsa_vm_nic *nic = &c->n->nics[i];
    if (nic->n_addrs == CAPSA_VM_ADDR_MAX)
        return capsa_err_setx(err, E2BIG, "interface %s has more than %d addresses", nic->name,
                              CAPSA_VM_ADDR_MAX);
    nic->addrs[nic->n_addrs++] = ip;
    return 0;
}

static int route_cb(const struct nlmsghdr *h, void *arg, struct capsa_err *err)
{
    struct collect *c = arg;
    if (h->nlmsg_type != RTM_NEWROUTE || h->nlmsg_len < NLMSG_LENGTH(sizeof(struct rtmsg)))
        return 0;
    const struct rtmsg *rt = NLMSG_DATA(h);
    const struct rtattr *tb[RTA_MAX + 1];
    capsa_nl_attrs(h, sizeof *rt, tb, RTA_MAX + 1);
    uint32_t table = rt->rtm_table;
    if (tb[RTA_TABLE] && capsa_nl_len(tb[RTA_TABLE]) == 4)
        memcpy(&table, capsa_nl_data(tb[RTA_TABLE]), 4);
    /* The main table's unicast routes through one of the interfaces; the
     * kernel's own (a prefix's, made with its address) the guest's kernel
     * makes too. */
    if (table != RT_TABLE_MAIN || rt->rtm_type != RTN_UNICAST ||
        rt->rtm_protocol == RTPROT_KERNEL || tb[RTA_MULTIPATH] || tb[RTA_OIF] == NULL ||
        capsa_nl_len(tb[RTA_OIF]) != 4 || (rt->rtm_family != AF_INET && rt->rtm_family != AF_INET6))
        return 0;
    int oif;
    memcpy(&oif, capsa_nl_data(tb[RTA_OIF]), 4);
    int i = nic_of(c, oif);
    if (i < 0)
        return 0;
    struct capsa_vm_route r = {.nic = (uint8_t)i};
    if (rt->rtm_dst_len == 0) {
        r.dst.family = rt->rtm_family;
    } else if (!ip_from(tb[RTA_DST], rt->rtm_family, rt->rtm_dst_len, &r.dst) || ll6(&r.dst)) {
        return 0;
    }
    r.has_gw = ip_from(tb[RTA_GATEWAY], rt->rtm_family, 0, &r.gw);
    if (tb[RTA_PRIORITY] && capsa_nl_len(tb[RTA_PRIORITY]) == 4)
        memcpy(&r.metric, capsa_nl_data(tb[RTA_PRIORITY]), 4);
    if (c->n->n_routes == CAPSA_VM_ROUTE_MAX)
        return capsa_err_setx(err, E2BIG, "more than %d routes", CAPSA_VM_ROUTE_MAX);
    c->n->routes[c->n->n_routes++] = r;
    return 0;
}

/* A netlink socket and n /dev/net/tun fds of the namespace netns_fd (-1: a
 * new one, which lives as long as one of them): made by a child that joins
 * it (a socket and a tun file belong to the namespace they were opened
 * in), passed back over a socket pair. */
static int ns_fds(int netns_fd, int *nl, int *tun, size_t n, struct capsa_err *err)
{
    int sp[2];
    /* SEQPACKET: a child that dies without a word ends the read (EOF). */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0)
        return capsa_err_set(err, errno, "socketpair");
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sp[0]);
        close(sp[1]);
        return capsa_err_set(err, e, "fork");
    }
    if (pid == 0) {
        int fds[1 + CAPSA_VM_NIC_MAX];
        int e = 0;
        if (netns_fd >= 0 ? setns(netns_fd, CLONE_NEWNET) : unshare(CLONE_NEWNET))
            e = errno;
        for (size_t i = 0; e == 0 && i <= n; i++) {
            if (i == 0) {
                struct capsa_err ne = {0};
                int rr = capsa_nl_open(&fds[0], &ne);
                e = rr < 0 ? -rr : 0;
            } else if ((fds[i] = open("/dev/net/tun", O_RDWR | O_CLOEXEC)) < 0)
                e = errno;
        }
        union {
            struct cmsghdr c;
            char b[CMSG_SPACE(sizeof fds)];
        } u;
        memset(&u, 0, sizeof u);
        struct iovec iov = {.iov_base = &e, .iov_len = sizeof e};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        if (e == 0) {
            mh.msg_control = u.b;
            mh.msg_controllen = CMSG_SPACE((n + 1) * sizeof(int));
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN((n + 1) * sizeof(int));
            memcpy(CMSG_DATA(cm), fds, (n + 1) * sizeof(int));
        }
        _exit(sendmsg(sp[1], &mh, 0) < 0 ? 1 : 0);
    }
    close(sp[1]);
    int e = 0;
    union {
        struct cmsghdr c;
        char b[CMSG_SPACE(sizeof(int) * (1 + CAPSA_VM_NIC_MAX))];
    } u;
    struct iovec iov = {.iov_base = &e, .iov_len = sizeof e};
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b};
    ssize_t got;
    do
        got = recvmsg(sp[0], &mh, MSG_CMSG_CLOEXEC);
    while (got < 0 && errno == EINTR);
    int re = errno;
    close(sp[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    struct cmsghdr *cm = got > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
    if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
        cm->cmsg_len == CMSG_LEN((n + 1) * sizeof(int))) {
        int fds[1 + CAPSA_VM_NIC_MAX];
        memcpy(fds, CMSG_DATA(cm), (n + 1) * sizeof(int));
        *nl = fds[0];
        for (size_t i = 0; i < n; i++)
            tun[i] = fds[i + 1];
        return 0;
    }
    if (got < 0)
        return capsa_err_set(err, re, "network namespace: receiving its fds");
    return capsa_err_set(err, e ? e : EIO, "network namespace: netlink socket and /dev/net/tun");
}

static int tc_ingress(int nl, int ifindex, bool create, const char *dev, struct capsa_err *err)
{
    struct capsa_nl_req q;
    struct tcmsg t = {.tcm_family = AF_UNSPEC,
                      .tcm_ifindex = ifindex,
                      .tcm_handle = TC_H_MAKE(TC_H_INGRESS, 0),
                      .tcm_parent = TC_H_INGRESS};
    capsa_nl_begin(&q, create ? RTM_NEWQDISC : RTM_DELQDISC,
                   create ? (NLM_F_CREATE | NLM_F_EXCL) : 0, &t, sizeof t);
    capsa_nl_put_str(&q, TCA_KIND, "ingress");
    char what[64];
    snprintf(what, sizeof what, "%s the ingress qdisc of %s", create ? "add" : "remove", dev);
    return capsa_nl_talk(nl, &q, NULL, NULL, what, err);
}

/* On from's ingress: every packet (u32, one key matching anything) is
 * redirected out of to (mirred egress redirect), stolen from from's stack. */
static int tc_redirect(int nl, int from, int to, const char *dev, struct capsa_err *err)
{
    struct capsa_nl_req q;
    struct tcmsg t = {.tcm_family = AF_UNSPEC,
                      .tcm_ifindex = from,
                      .tcm_parent = TC_H_MAKE(TC_H_INGRESS, 0),
                      .tcm_info = TC_H_MAKE(1u << 16, htons(ETH_P_ALL))};
    capsa_nl_begin(&q, RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL, &t, sizeof t);
    capsa_nl_put_str(&q, TCA_KIND, "u32");
    capsa_nl_nest_begin(&q, TCA_OPTIONS);
    /* The selector with its one key (mask 0: matches anything). */
    _Alignas(struct tc_u32_sel)
        uint8_t selbuf[sizeof(struct tc_u32_sel) + sizeof(struct tc_u32_key)];
    memset(selbuf, 0, sizeof selbuf);
    struct tc_u32_sel *sel = (struct tc_u32_sel *)(void *)selbuf;
    sel->flags = TC_U32_TERMINAL;
    sel->nkeys = 1;
    capsa_nl_put(&q, TCA_U32_SEL, selbuf, sizeof selbuf);
    capsa_nl_nest_begin(&q, TCA_U32_ACT);
    capsa_nl_nest_begin(&q, 1);
    capsa_nl_put_str(&q, TCA_ACT_KIND, "mirred");
    capsa_nl_nest_begin(&q, TCA_ACT_OPTIONS);
    struct tc_mirred m;
    memset(&m, 0, sizeof m);
    m.action = TC_ACT_STOLEN;
    m.eaction = TCA_EGRESS_REDIR;
    m.ifindex = (uint32_t)to;
    capsa_nl_put(&q, TCA_MIRRED_PARMS, &m, sizeof m);
    capsa_nl_nest_end(&q);
    capsa_nl_nest_end(&q);
    capsa_nl_nest_end(&q);
    capsa_nl_nest_end(&q);
    char what[64];
    snprintf(what, sizeof what, "redirect the ingress of %s (tc u32 + mirred)", dev);
    return capsa_nl_talk(nl, &q, NULL, NULL, what, err);
}

/* RTM_NEWLINK on an interface by index (or by name when index is 0): up,
 * with mtu when not 0, renamed to rename when not NULL. */
static int link_set(int nl, int index, const char *name, uint32_t mtu, const char *rename, bool up,
                    struct capsa_err *err)
{
    struct capsa_nl_req q;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC,
                            .ifi_index = index,
                            .ifi_flags = up ? IFF_UP : 0,
                            .ifi_change = up ? IFF_UP : 0};
    capsa_nl_begin(&q, RTM_NEWLINK, 0, &ifi, sizeof ifi);
    if (index == 0 || rename)
        capsa_nl_put_str(&q, IFLA_IFNAME, rename ? rename : name);
    if (mtu)
        capsa_nl_put_u32(&q, IFLA_MTU, mtu);
    char what[64];
    snprintf(what, sizeof what, "set up interface %s", name);
    return capsa_nl_talk(nl, &q, NULL, NULL, what, err);
}

/* The MAC of a (down) interface. */
static int link_mac(int nl, int index, const char *name, const uint8_t mac[6],
                    struct capsa_err *err)
{
    struct capsa_nl_req q;
    struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index};
    capsa_nl_begin(&q, RTM_NEWLINK, 0, &ifi, sizeof ifi);
    capsa_nl_put(&q, IFLA_ADDRESS, mac, 6);
    char what[64];
    snprintf(what, sizeof what, "set the MAC of %s", name);
    return capsa_nl_talk(nl, &q, NULL, NULL, what, err);
}

static const struct link *link_named(const struct links *ls, const char *name)
{
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->l[i].name, name) == 0)
            return &ls->l[i];
    return NULL;
}

/* TAP tap on tun (a /dev/net/tun fd): with the virtio-net header, which
 * QEMU's virtio-net uses for offloads. */
static int tap_make(int tun, const char *tap, struct capsa_err *err)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, tap, strlen(tap) + 1);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(tun, TUNSETIFF, &ifr) < 0)
        return capsa_err_set(err, errno, "TAP %s (TUNSETIFF)", tap);
    return 0;
}

static void tap_name(size_t i, char tap[IF_NAMESIZE])
{
    snprintf(tap, IF_NAMESIZE, CAPSA_VM_TAP_PREFIX "%u", (unsigned)i % 10);
}

/* Join the engine's interface l and the TAP tap (both in nl's namespace):
 * the TAP up with l's MTU, ingress both ways. *made: the ingress qdisc on
 * l was added. */
static int wire_one(int nl, const struct link *l, const char *tap, bool *made,
                    struct capsa_err *err)
{
    int r = link_set(nl, 0, tap, l->mtu, NULL, true, err);
    struct links ls;
    if (r == 0)
        r = dump_links(nl, &ls, err);
    if (r < 0)
        return r;
    const struct link *t = link_named(&ls, tap);
    if (t == NULL)
        return capsa_err_setx(err, ENODEV, "TAP %s vanished", tap);
    /* An ingress qdisc on the engine's interface is ours to replace only
     * when no TAP of ours remains (checked before): one left by a vm
     * container whose VM is gone redirects to nothing. */
    struct capsa_err e2 = {0};
    if ((r = tc_ingress(nl, l->index, true, l->name, err)) == -EEXIST &&
        tc_ingress(nl, l->index, false, l->name, &e2) == 0)
        r = tc_ingress(nl, l->index, true, l->name, err);
    if (r < 0)
        return r;
    *made = true;
    if ((r = tc_ingress(nl, t->index, true, tap, err)) < 0 ||
        (r = tc_redirect(nl, l->index, t->index, l->name, err)) < 0 ||
        (r = tc_redirect(nl, t->index, l->index, tap, err)) < 0)
        return r;
    return 0;
}

/* What nl's namespace has to give the VM: every interface but lo that is
 * up and Ethernet (at most max), in chosen[] and n with their addresses
 * and routes. A TAP of ours there is -EBUSY. */
static int survey(int nl, struct links *ls, const struct link **chosen, size_t max,
                  struct capsa_vm_net *n, struct capsa_err *err)
{
    struct collect c = {.n = n};
    int r = dump_links(nl, ls, err);
    for (size_t i = 0; r == 0 && i < ls->n; i++) {
        const struct link *l = &ls->l[i];
        if (strncmp(l->name, CAPSA_VM_TAP_PREFIX, strlen(CAPSA_VM_TAP_PREFIX)) == 0)
            r = capsa_err_setx(err, EBUSY,
                               "%s is already wired to a vm container's VM (a pod's containers "
                               "sharing one VM is not supported yet)",
                               l->name);
        else if (l->type == ARPHRD_ETHER && !(l->flags & IFF_LOOPBACK) && (l->flags & IFF_UP) &&
                 l->has_mac && l->name[0]) {
            if (n->n_nics == max)
                r = capsa_err_setx(err, E2BIG, "more than %zu interfaces to give the VM", max);
            else {
                struct capsa_vm_nic *nic = &n->nics[n->n_nics];
                memcpy(nic->name, l->name, sizeof nic->name);
                memcpy(nic->mac, l->mac, 6);
                memcpy(nic->devmac, l->mac, 6);
                nic->mtu = l->mtu ? l->mtu : 1500;
                c.index[n->n_nics] = l->index;
                chosen[n->n_nics++] = l;
            }
        }
    }
    if (r == 0 && n->n_nics > 0) {
        struct capsa_nl_req q;
        struct ifaddrmsg ifa = {.ifa_family = AF_UNSPEC};
        capsa_nl_begin(&q, RTM_GETADDR, NLM_F_DUMP, &ifa, sizeof ifa);
        r = capsa_nl_talk(nl, &q, addr_cb, &c, "list the addresses", err);
        struct rtmsg rt = {.rtm_family = AF_UNSPEC};
        if (r == 0) {
            capsa_nl_begin(&q, RTM_GETROUTE, NLM_F_DUMP, &rt, sizeof rt);
            r = capsa_nl_talk(nl, &q, route_cb, &c, "list the routes", err);
        }
    }
    return r;
}

/* After a failure: the ingress qdiscs added on the engine's interfaces go. */
static void unmade(int nl, const struct link *const *chosen, const bool *made, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (made[i] && chosen[i])
            (void)tc_ingress(nl, chosen[i]->index, false, chosen[i]->name, &(struct capsa_err){0});
}

int capsa_vm_net_wire(int netns_fd, const char *netns_path, struct capsa_vm_net *n, int *taps,
                      struct capsa_err *err)
{
    memset(n, 0, sizeof *n);
    for (size_t i = 0; i < CAPSA_VM_NIC_MAX; i++)
        taps[i] = -1;
    int tun[CAPSA_VM_NIC_MAX];
    cleanup_close int nl = -1;
    int r = ns_fds(netns_fd, &nl, tun, CAPSA_VM_NIC_MAX, err);
    if (r < 0)
        return capsa_err_wrap(err, "network namespace %s", netns_path);
    struct links *ls = calloc(1, sizeof *ls);
    const struct link *chosen[CAPSA_VM_NIC_MAX] = {NULL};
    bool made[CAPSA_VM_NIC_MAX] = {false};
    r = ls ? survey(nl, ls, chosen, CAPSA_VM_NIC_MAX, n, err) : capsa_err_set(err, ENOMEM, "links");
    for (size_t i = 0; r == 0 && i < n->n_nics; i++) {
        char tap[IF_NAMESIZE];
        tap_name(i, tap);
        if ((r = tap_make(tun[i], tap, err)) == 0)
            r = wire_one(nl, chosen[i], tap, &made[i], err);
    }
    /* The TAPs are not persistent: closing the fds of those not handed
     * out removes them, with their qdiscs and filters. */
    for (size_t i = 0; i < CAPSA_VM_NIC_MAX; i++) {
        if (r == 0 && i < n->n_nics)
            taps[i] = tun[i];
        else
            close(tun[i]);
    }
    if (r < 0) {
        unmade(nl, chosen, made, n->n_nics);
        memset(n, 0, sizeof *n);
        r = capsa_err_wrap(err, "network namespace %s", netns_path);
    }
    free(ls);
    return r;
}

int capsa_vm_net_spare(int *tap, int *nl, int *index, uint8_t mac[6], struct capsa_err *err)
{
    *tap = *nl = -1;
    *index = 0;
    int r = ns_fds(-1, nl, tap, 1, err);
    char name[IF_NAMESIZE];
    tap_name(0, name);
    struct links ls;
    if (r == 0 && (r = tap_make(*tap, name, err)) == 0 && (r = dump_links(*nl, &ls, err)) == 0) {
        const struct link *t = link_named(&ls, name);
        if (t == NULL)
            r = capsa_err_setx(err, ENODEV, "TAP %s vanished", name);
        else
            *index = t->index;
    }
    /* A locally administered unicast MAC: the agent gives the device the
     * engine's when it wires it. */
    if (r == 0 && getrandom(mac, 6, 0) != 6)
        r = capsa_err_set(err, errno, "getrandom");
    if (r < 0) {
        capsa_close(tap);
        capsa_close(nl);
        return capsa_err_wrap(err, "the VM's spare NIC");
    }
    mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
    return 0;
}

int capsa_vm_net_wire_spare(int netns_fd, const char *what, int spare_nl, int spare_index,
                            const uint8_t mac[6], struct capsa_vm_net *n, struct capsa_err *err)
{
    memset(n, 0, sizeof *n);
    cleanup_close int nl = -1;
    int r = ns_fds(netns_fd, &nl, NULL, 0, err);
    if (r < 0)
        return capsa_err_wrap(err, "%s", what);
    struct links *ls = calloc(1, sizeof *ls);
    const struct link *chosen[1] = {NULL};
    bool made = false;
    r = ls ? survey(nl, ls, chosen, 1, n, err) : capsa_err_set(err, ENOMEM, "links");
    if (r == 0 && n->n_nics == 1) {
        /* The spare TAP moves from its own namespace to this one. */
        struct capsa_nl_req q;
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = spare_index};
        capsa_nl_begin(&q, RTM_NEWLINK, 0, &ifi, sizeof ifi);
        capsa_nl_put_u32(&q, IFLA_NET_NS_FD, (uint32_t)netns_fd);
        r = capsa_nl_talk(spare_nl, &q, NULL, NULL, "move the spare TAP", err);
        char tap[IF_NAMESIZE];
        tap_name(0, tap);
        if (r == 0 && chosen[0])
            r = wire_one(nl, chosen[0], tap, &made, err);
        memcpy(n->nics[0].devmac, mac, 6);
    }
    if (r < 0) {
        unmade(nl, chosen, &made, n->n_nics > 0 ? 1 : 0);
        memset(n, 0, sizeof *n);
        r = capsa_err_wrap(err, "%s", what);
    }
    free(ls);
    return r;
}

void capsa_vm_net_unwire(int netns_fd, const struct capsa_vm_net *n)
{
    struct capsa_err e = {0};
    cleanup_close int nl = -1;
    struct links *ls = calloc(1, sizeof *ls);
    if (ls == NULL || ns_fds(netns_fd, &nl, NULL, 0, &e) < 0 || dump_links(nl, ls, &e) < 0) {
        free(ls);
        return;
    }
    for (size_t i = 0; i < n->n_nics; i++) {
        const struct link *l = link_named(ls, n->nics[i].name);
        if (l)
            (void)tc_ingress(nl, l->index, false, l->name, &e);
    }
    free(ls);
}

/* ---- the guest side ---------------------------------------------------- */

static int add_addr(int nl, int index, const char *dev, const struct capsa_vm_ip *ip,
                    struct capsa_err *err)
{
    struct capsa_nl_req q;
    struct ifaddrmsg ifa = {.ifa_family = ip->family,
                            .ifa_prefixlen = ip->prefix,
                            .ifa_scope = RT_SCOPE_UNIVERSE,
                            .ifa_index = (uint32_t)index};
    size_t alen = ip->family == AF_INET ? 4 : 16;
    capsa_nl_begin(&q, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof ifa);
    if (ip->family == AF_INET)
        capsa_nl_put(&q, IFA_LOCAL, ip->a, alen);
    capsa_nl_put(&q, IFA_ADDRESS, ip->a, alen);
    /* The address is the engine's, already checked on its network: no
     * duplicate address detection to wait for. */
    if (ip->family == AF_INET6)
        capsa_nl_put_u32(&q, IFA_FLAGS, IFA_F_NODAD);
    char a[64], what[96];
    if (ip_text(ip, a, sizeof a) < 0)
        snprintf(a, sizeof a, "?");
    snprintf(what, sizeof what, "add address %s to %s", a, dev);
    return capsa_nl_talk(nl, &q, NULL, NULL, what, err);
}

static int add_route(int nl, int index, const char *dev, const struct capsa_vm_route *r,
                     struct capsa_err *err)
{
    struct capsa_nl_req q;
    struct rtmsg rt = {.rtm_family = r->dst.family,
                       .rtm_dst_len = r->dst.prefix,
                       .rtm_table = RT_TABLE_MAIN,
                       .rtm_protocol = RTPROT_BOOT,
                       .rtm_scope = r->has_gw ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
                       .rtm_type = RTN_UNICAST};
    size_t alen = r->dst.family == AF_INET ? 4 : 16;
    capsa_nl_begin(&q, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rt, sizeof rt);
    if (r->dst.prefix > 0)
        capsa_nl_put(&q, RTA_DST, r->dst.a, alen);
    if (r->has_gw)
        capsa_nl_put(&q, RTA_GATEWAY, r->gw.a, alen);
    capsa_nl_put_u32(&q, RTA_OIF, (uint32_t)index);
    if (r->metric)
        capsa_nl_put_u32(&q, RTA_PRIORITY, r->metric);
    char d[64], what[112];
    if (ip_text(&r->dst, d, sizeof d) < 0)
        snprintf(d, sizeof d, "?");
    snprintf(what, sizeof what, "add route %s via %s", d, dev);
    int e = capsa_nl_talk(nl, &q, NULL, NULL, what, err);
    /* The same route made by the guest's kernel with an address. */
    if (e == -EEXIST) {
        capsa_err_clear(err);
        e = 0;
    }
    return e;
}

/* The NICs of n, found by MAC among ls: their indexes in index[]. */
static int find_nics(const struct capsa_vm_net *n, const struct links *ls, int *index,
                     struct capsa_err *err)
{
    for (size_t i = 0; i < n->n_nics; i++) {
        const struct capsa_vm_nic *c = &n->nics[i];
        index[i] = 0;
        for (size_t k = 0; k < ls->n; k++)
            if (ls->l[k].type == ARPHRD_ETHER && ls->l[k].has_mac &&
                memcmp(ls->l[k].mac, c->devmac, 6) == 0)
                index[i] = ls->l[k].index;
        const uint8_t *d = c->devmac;
        if (index[i] == 0)
            return capsa_err_setx(
                err, ENODEV, "the VM has no NIC with MAC %02x:%02x:%02x:%02x:%02x:%02x (for %s)",
                d[0], d[1], d[2], d[3], d[4], d[5], c->name);
    }
    return 0;
}

int capsa_vm_net_apply_in(const struct capsa_vm_net *n, pid_t pid, struct capsa_err *err)
{
    char p[64];
    snprintf(p, sizeof p, "/proc/%d/ns/net", (int)pid);
    cleanup_close int ns = open(p, O_RDONLY | O_CLOEXEC);
    if (ns < 0)
        return capsa_err_set(err, errno, "the container's network namespace (%s)", p);
    cleanup_close int nl = -1;
    int index[CAPSA_VM_NIC_MAX] = {0};
    struct links *ls = calloc(1, sizeof *ls);
    int r = ls ? capsa_nl_open(&nl, err) : capsa_err_set(err, ENOMEM, "links");
    if (r == 0)
        r = dump_links(nl, ls, err);
    if (r == 0)
        r = find_nics(n, ls, index, err);
    for (size_t i = 0; r == 0 && i < n->n_nics; i++) {
        struct capsa_nl_req q;
        struct ifinfomsg ifi = {.ifi_family = AF_UNSPEC, .ifi_index = index[i]};
        capsa_nl_begin(&q, RTM_NEWLINK, 0, &ifi, sizeof ifi);
        capsa_nl_put_u32(&q, IFLA_NET_NS_FD, (uint32_t)ns);
        r = capsa_nl_talk(nl, &q, NULL, NULL, "move a NIC into the container's namespace", err);
    }
    free(ls);
    if (r < 0)
        return capsa_err_wrap(err, "the guest's network");
    /* The rest inside the namespace: a child joins it and reports. */
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return capsa_err_set(err, errno, "pipe");
    pid_t c = fork();
    if (c < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        return capsa_err_set(err, e, "fork");
    }
    if (c == 0) {
        struct capsa_err ce = {0};
        close(pfd[0]);
        if (setns(ns, CLONE_NEWNET) < 0)
            capsa_err_set(&ce, errno, "join the container's network namespace");
        else
            (void)capsa_vm_net_apply(n, &ce);
        (void)capsa_write_all(pfd[1], &ce, sizeof ce);
        _exit(ce.errnum ? 1 : 0);
    }
    close(pfd[1]);
    struct capsa_err ce = {0};
    ssize_t got = read(pfd[0], &ce, sizeof ce);
    close(pfd[0]);
    int st = 0;
    while (waitpid(c, &st, 0) < 0 && errno == EINTR)
        ;
    if (got != (ssize_t)sizeof ce)
        return capsa_err_setx(err, EIO, "the guest's network: its helper died");
    if (ce.errnum != 0 || ce.msg[0] != '\0') {
        *err = ce;
        return capsa_err_ret(err);
    }
    return 0;
}

int capsa_vm_net_apply(const struct capsa_vm_net *n, struct capsa_err *err)
{
    cleanup_close int nl = -1;
    int r = capsa_nl_open(&nl, err);
    if (r == 0)
        r = link_set(nl, 0, "lo", 0, NULL, true, err);
    struct links *ls = r == 0 ? calloc(1, sizeof *ls) : NULL;
    if (r == 0 && ls == NULL)
        r = capsa_err_set(err, ENOMEM, "links");
    if (r == 0)
        r = dump_links(nl, ls, err);
    int index[CAPSA_VM_NIC_MAX] = {0};
    if (r == 0)
        r = find_nics(n, ls, index, err);
    /* Names first to ones no NIC has, then to the engine's: two NICs may
     * swap names. */
    char tmp[IF_NAMESIZE];
    for (size_t i = 0; r == 0 && i < n->n_nics; i++) {
        snprintf(tmp, sizeof tmp, "capsa-nic%u", (unsigned)i % 10);
        r = link_set(nl, index[i], n->nics[i].name, 0, tmp, false, err);
        /* A spare NIC booted with a MAC of its own takes the engine's. */
        if (r == 0 && memcmp(n->nics[i].mac, n->nics[i].devmac, 6) != 0)
            r = link_mac(nl, index[i], n->nics[i].name, n->nics[i].mac, err);
    }
    for (size_t i = 0; r == 0 && i < n->n_nics; i++)
        r = link_set(nl, index[i], n->nics[i].name, n->nics[i].mtu, n->nics[i].name, true, err);
    for (size_t i = 0; r == 0 && i < n->n_nics; i++)
        for (size_t k = 0; r == 0 && k < n->nics[i].n_addrs; k++)
            r = add_addr(nl, index[i], n->nics[i].name, &n->nics[i].addrs[k], err);
    /* Routes without a gateway first: a gateway is reached through one. */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; r == 0 && i < n->n_routes; i++)
            if (n->routes[i].has_gw == (pass == 1))
                r = add_route(nl, index[n->routes[i].nic], n->nics[n->routes[i].nic].name,
                              &n->routes[i], err);
    free(ls);
    return r < 0 ? capsa_err_wrap(err, "the guest's network") : 0;
}
