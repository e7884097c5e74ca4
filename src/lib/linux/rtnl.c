/* rtnl.c - the rtnetlink client of rtnl.h.
 *
 * Requests are built in place: every attribute is appended at the aligned
 * end of the message, a nested one is closed by patching its length. A
 * request that overflows its buffer is never sent. Replies are read into
 * one buffer large enough for any rtnetlink message the kernel sends
 * (it never splits a message; a truncated read is an error). */
#include "linux/rtnl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/util.h"

#define REPLY_MAX ((size_t)64 * 1024)

int capsa_nl_open(int *fd, struct capsa_err *err)
{
    *fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (*fd < 0)
        return capsa_err_set(err, errno, "netlink: socket");
    /* The kernel checks strictly what a dump asks (no silently ignored
     * filter); older kernels lack the option, which is harmless. */
    int one = 1;
    (void)setsockopt(*fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
    return 0;
}

static size_t tail(const struct capsa_nl_req *q)
{
    return NLMSG_ALIGN(q->u.h.nlmsg_len);
}

void capsa_nl_begin(struct capsa_nl_req *q, uint16_t type, uint16_t flags, const void *hdr,
                    size_t hdrlen)
{
    memset(q, 0, offsetof(struct capsa_nl_req, u) + sizeof(struct nlmsghdr));
    q->u.h.nlmsg_type = type;
    /* NLM_F_DUMP's bits are NLM_F_REPLACE|NLM_F_EXCL on a NEW request: a
     * dump is a GET (RTM_GET* are 2 mod 4) that asks for one. */
    q->dump = (type & 3) == 2 && (flags & NLM_F_DUMP) == NLM_F_DUMP;
    q->u.h.nlmsg_flags = (uint16_t)(NLM_F_REQUEST | flags | (q->dump ? 0 : NLM_F_ACK));
    q->u.h.nlmsg_seq = 1;
    q->u.h.nlmsg_len = (uint32_t)NLMSG_LENGTH(hdrlen);
    if (NLMSG_SPACE(hdrlen) > sizeof q->u.buf) {
        q->overflow = true;
        return;
    }
    memset(NLMSG_DATA(&q->u.h), 0, NLMSG_ALIGN(hdrlen));
    if (hdrlen > 0)
        memcpy(NLMSG_DATA(&q->u.h), hdr, hdrlen);
}

void capsa_nl_put(struct capsa_nl_req *q, uint16_t type, const void *data, size_t len)
{
    size_t off = tail(q);
    if (q->overflow || len > 0xffff - RTA_LENGTH(0) || off + RTA_SPACE(len) > sizeof q->u.buf) {
        q->overflow = true;
        return;
    }
    struct rtattr *a = (struct rtattr *)(void *)(q->u.buf + off);
    a->rta_type = type;
    a->rta_len = (unsigned short)RTA_LENGTH(len);
    if (len > 0)
        memcpy(RTA_DATA(a), data, len);
    memset((uint8_t *)RTA_DATA(a) + len, 0, RTA_SPACE(len) - RTA_LENGTH(len));
    q->u.h.nlmsg_len = (uint32_t)(off + RTA_SPACE(len));
}

void capsa_nl_put_u32(struct capsa_nl_req *q, uint16_t type, uint32_t v)
{
    capsa_nl_put(q, type, &v, sizeof v);
}

void capsa_nl_put_str(struct capsa_nl_req *q, uint16_t type, const char *s)
{
    capsa_nl_put(q, type, s, strlen(s) + 1);
}

void capsa_nl_nest_begin(struct capsa_nl_req *q, uint16_t type)
{
    if (q->depth >= CAPSA_NL_NEST_MAX) {
        q->overflow = true;
        return;
    }
    size_t off = tail(q);
    capsa_nl_put(q, (uint16_t)(type | NLA_F_NESTED), NULL, 0);
    q->nest[q->depth++] = off;
}

void capsa_nl_nest_end(struct capsa_nl_req *q)
{
    if (q->depth == 0) {
        q->overflow = true;
        return;
    }
    size_t off = q->nest[--q->depth];
    if (q->overflow)
        return;
    struct rtattr *a = (struct rtattr *)(void *)(q->u.buf + off);
    size_t len = q->u.h.nlmsg_len - off;
    if (len > 0xffff) {
        q->overflow = true;
        return;
    }
    a->rta_len = (unsigned short)len;
}

/* One reply message: 1 the exchange is over, 0 more to come, < 0 error. */
static int one_reply(const struct nlmsghdr *h, capsa_nl_cb cb, void *arg, const char *what,
                     struct capsa_err *err)
{
    if (h->nlmsg_type == NLMSG_DONE)
        return 1;
    if (h->nlmsg_type == NLMSG_ERROR) {
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct nlmsgerr)))
            return capsa_err_setx(err, EPROTO, "netlink: %s: a short error message", what);
        const struct nlmsgerr *e = NLMSG_DATA(h);
        if (e->error == 0)
            return 1;
        return capsa_err_set(err, -e->error, "netlink: %s", what);
    }
    int r = cb ? cb(h, arg, err) : 0;
    return r < 0 ? r : 0;
}

int capsa_nl_talk(int fd, struct capsa_nl_req *q, capsa_nl_cb cb, void *arg, const char *what,
                  struct capsa_err *err)
{
    if (q->overflow || q->depth != 0)
        return capsa_err_setx(err, EMSGSIZE, "netlink: %s: the request does not fit", what);
    struct sockaddr_nl to = {.nl_family = AF_NETLINK};
    ssize_t n;
    do
        n = sendto(fd, q->u.buf, q->u.h.nlmsg_len, 0, (struct sockaddr *)&to, sizeof to);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return capsa_err_set(err, errno, "netlink: %s: send", what);
    uint8_t *buf = malloc(REPLY_MAX);
    if (buf == NULL)
        return capsa_err_set(err, ENOMEM, "netlink: %s", what);
    int r = 0;
    while (r == 0) {
        do
            n = recv(fd, buf, REPLY_MAX, MSG_TRUNC);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
            r = capsa_err_set(err, errno, "netlink: %s: receive", what);
            break;
        }
        if ((size_t)n > REPLY_MAX) {
            r = capsa_err_setx(err, EMSGSIZE, "netlink: %s: a reply larger than %zu bytes", what,
                               REPLY_MAX);
            break;
        }
        if (n == 0) {
            r = capsa_err_setx(err, EPROTO, "netlink: %s: the kernel closed the socket", what);
            break;
        }
        size_t left = (size_t)n;
        for (const struct nlmsghdr *h = (const struct nlmsghdr *)(void *)buf;
             r == 0 && NLMSG_OK(h, left); h = NLMSG_NEXT(h, left))
            r = one_reply(h, cb, arg, what, err);
        /* Every request capsa_nl_begin makes ends in an acknowledgement
         * (NLM_F_ACK) or NLMSG_DONE (a dump): a GET's one reply is
         * followed by its acknowledgement. */
    }
    free(buf);
    return r < 0 ? r : 0;
}

static void clear(const struct rtattr **tb, size_t max)
{
    for (size_t i = 0; i < max; i++)
        tb[i] = NULL;
}

static void walk(const struct rtattr *a, size_t len, const struct rtattr **tb, size_t max)
{
    clear(tb, max);
    for (; RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        unsigned short type = a->rta_type & NLA_TYPE_MASK;
        if (type < max)
            tb[type] = a;
    }
}

void capsa_nl_attrs(const struct nlmsghdr *h, size_t hdrlen, const struct rtattr **tb, size_t max)
{
    if (h->nlmsg_len < NLMSG_LENGTH(NLMSG_ALIGN(hdrlen))) {
        clear(tb, max);
        return;
    }
    const struct rtattr *a =
        (const struct rtattr *)(const void *)((const uint8_t *)NLMSG_DATA(h) + NLMSG_ALIGN(hdrlen));
    walk(a, h->nlmsg_len - NLMSG_LENGTH(NLMSG_ALIGN(hdrlen)), tb, max);
}

void capsa_nl_attrs_nested(const struct rtattr *nest, const struct rtattr **tb, size_t max)
{
    walk((const struct rtattr *)RTA_DATA(nest), RTA_PAYLOAD(nest), tb, max);
}
