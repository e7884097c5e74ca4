/* sync.c - parent/init messages over a SOCK_SEQPACKET socketpair; see sync.h. */
#include "core/sync.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util/util.h"

struct hdr {
    uint32_t type;
    int32_t value;
};

int capsa_sync_send(int sock, uint32_t type, int32_t value, const void *payload, size_t len, int fd,
                    struct capsa_err *err)
{
    if (len > CAPSA_SYNC_MAX_PAYLOAD)
        return capsa_err_setx(err, E2BIG, "sync message too large (%zu bytes)", len);
    struct hdr h = {.type = type, .value = value};
    struct iovec iov[2] = {{.iov_base = &h, .iov_len = sizeof h},
                           {.iov_base = (void *)payload, .iov_len = len}};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
    if (fd >= 0) {
        memset(&u, 0, sizeof u);
        mh.msg_control = u.buf;
        mh.msg_controllen = sizeof u.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    for (;;) {
        ssize_t w = sendmsg(sock, &mh, MSG_NOSIGNAL);
        if (w >= 0)
            return 0;
        if (errno != EINTR)
            return capsa_err_set(err, errno, "sync: send message %u", type);
    }
}

int capsa_sync_recv(int sock, struct capsa_sync_msg *msg, struct capsa_err *err)
{
    memset(msg, 0, sizeof *msg);
    msg->fd = -1;
    /* Most messages are a bare header: peek at the length first (MSG_TRUNC
     * reports a packet's real size) instead of allocating the largest
     * possible message, which malloc would mmap and unmap every time. */
    char small[512];
    ssize_t want;
    do {
        want = recv(sock, small, 1, MSG_PEEK | MSG_TRUNC);
    } while (want < 0 && errno == EINTR);
    if (want < 0)
        return capsa_err_set(err, errno, "sync: receive");
    size_t cap = want > 0 ? (size_t)want : 1;
    if (cap > sizeof(struct hdr) + CAPSA_SYNC_MAX_PAYLOAD)
        cap = sizeof(struct hdr) + CAPSA_SYNC_MAX_PAYLOAD;
    cleanup_free char *heap = cap > sizeof small ? malloc(cap) : NULL;
    if (cap > sizeof small && heap == NULL)
        return capsa_err_set(err, ENOMEM, "sync: receive");
    char *buf = heap ? heap : small;
    struct iovec iov = {.iov_base = buf, .iov_len = cap};
    union {
        char b[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr mh = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b};
    ssize_t n;
    do {
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return capsa_err_set(err, errno, "sync: receive");
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len >= CMSG_LEN(sizeof(int)))
            memcpy(&msg->fd, CMSG_DATA(c), sizeof(int));
    }
    if (n == 0)
        return capsa_err_setx(err, EPIPE, "container init exited unexpectedly");
    if ((size_t)n < sizeof(struct hdr) || (mh.msg_flags & MSG_TRUNC)) {
        capsa_sync_msg_clear(msg);
        return capsa_err_setx(err, EPROTO, "sync: malformed message");
    }
    struct hdr h;
    memcpy(&h, buf, sizeof h);
    msg->type = h.type;
    msg->value = h.value;
    msg->len = (size_t)n - sizeof h;
    if (msg->len > 0) {
        msg->payload = malloc(msg->len + 1);
        if (msg->payload == NULL) {
            capsa_sync_msg_clear(msg);
            return capsa_err_set(err, ENOMEM, "sync: receive");
        }
        memcpy(msg->payload, buf + sizeof h, msg->len);
        msg->payload[msg->len] = '\0';
    }
    return 0;
}

void capsa_sync_msg_clear(struct capsa_sync_msg *msg)
{
    free(msg->payload);
    msg->payload = NULL;
    capsa_close(&msg->fd);
    msg->len = 0;
}

int capsa_sync_expect(int sock, uint32_t want, struct capsa_sync_msg *msg, struct capsa_err *err)
{
    int r = capsa_sync_recv(sock, msg, err);
    if (r < 0)
        return r;
    if (msg->type == CAPSA_SYNC_ERROR)
        return capsa_sync_take_err(msg, "container init", err);
    if (msg->type != want) {
        uint32_t got = msg->type;
        capsa_sync_msg_clear(msg);
        return capsa_err_setx(err, EPROTO, "sync: expected message %u, got %u", want, got);
    }
    return 0;
}

int capsa_sync_take_err(struct capsa_sync_msg *msg, const char *who, struct capsa_err *err)
{
    if (msg->len == sizeof(struct capsa_err)) {
        memcpy(err, msg->payload, sizeof *err);
        err->msg[sizeof err->msg - 1] = '\0';
    } else {
        capsa_err_setx(err, EPROTO, "%s failed (malformed error message)", who);
    }
    capsa_sync_msg_clear(msg);
    return capsa_err_ret(err);
}

void capsa_sync_send_err(int sock, const struct capsa_err *err)
{
    capsa_sync_send(sock, CAPSA_SYNC_ERROR, 0, err, sizeof *err, -1, NULL);
}
