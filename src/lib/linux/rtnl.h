/* rtnl.h - a small rtnetlink client: one request built in a fixed
 * buffer (a header, attributes, nested attributes), sent, and its replies
 * read until the kernel's acknowledgement or the end of a dump.
 *
 * The vm level uses it on both sides: on the host to read an engine's
 * network namespace and wire a TAP to its interface (level/vm/nic.c), in
 * the guest to give the VM's NIC that interface's addresses and routes. */
#ifndef CAPSA_LINUX_RTNL_H
#define CAPSA_LINUX_RTNL_H

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CAPSA_NL_REQ_MAX  2048
#define CAPSA_NL_NEST_MAX 6
#define CAPSA_NL_ATTR_MAX 64

struct capsa_nl_req {
    size_t nest[CAPSA_NL_NEST_MAX]; /* offsets of the open nested attributes */
    unsigned depth;
    bool overflow; /* an attribute did not fit: capsa_nl_talk refuses the request */
    bool dump;     /* a GET with NLM_F_DUMP: replies end with NLMSG_DONE */
    union {
        struct nlmsghdr h;
        uint8_t buf[CAPSA_NL_REQ_MAX];
    } u;
};

/* A NETLINK_ROUTE socket (CLOEXEC) of the caller's network namespace. */
int capsa_nl_open(int *fd, struct capsa_err *err);

/* Start request q: message type, flags (NLM_F_REQUEST is added; NLM_F_ACK
 * too unless it is a dump: an RTM_GET* type with NLM_F_DUMP), then the
 * type's fixed header. */
void capsa_nl_begin(struct capsa_nl_req *q, uint16_t type, uint16_t flags, const void *hdr,
                    size_t hdrlen);
void capsa_nl_put(struct capsa_nl_req *q, uint16_t type, const void *data, size_t len);
void capsa_nl_put_u32(struct capsa_nl_req *q, uint16_t type, uint32_t v);
void capsa_nl_put_str(struct capsa_nl_req *q, uint16_t type, const char *s);
void capsa_nl_nest_begin(struct capsa_nl_req *q, uint16_t type);
void capsa_nl_nest_end(struct capsa_nl_req *q);

/* Called for each reply message that is neither an error nor the end of a
 * dump; a negative return stops the walk (err filled) and is returned. */
typedef int (*capsa_nl_cb)(const struct nlmsghdr *h, void *arg, struct capsa_err *err);

/* Send q and read until its acknowledgement (a request) or the end of the
 * dump (NLM_F_DUMP), calling cb (may be NULL) for each message. The
 * kernel's error is returned as -errno with err naming what. */
int capsa_nl_talk(int fd, struct capsa_nl_req *q, capsa_nl_cb cb, void *arg, const char *what,
                  struct capsa_err *err);

/* The attributes after a message's fixed header of hdrlen bytes: tb[type]
 * for each type < max (the last one of a type wins; tb is cleared first).
 * Malformed lengths end the walk. */
void capsa_nl_attrs(const struct nlmsghdr *h, size_t hdrlen, const struct rtattr **tb, size_t max);
/* The same for a nested attribute's payload. */
void capsa_nl_attrs_nested(const struct rtattr *nest, const struct rtattr **tb, size_t max);

static inline const void *capsa_nl_data(const struct rtattr *a)
{
    return RTA_DATA(a);
}
static inline size_t capsa_nl_len(const struct rtattr *a)
{
    return RTA_PAYLOAD(a);
}

#endif
