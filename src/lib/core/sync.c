/* sync.c - runtime/child messages over a SOCK_SEQPACKET socketpair, and the
 * runtime's one loop that serves them; see sync.h. */
#include "core/sync.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/container.h"
#include "linux/scmp.h"
#include "linux/terminal.h"
#include "util/util.h"

const char *capsa_sync_name(uint32_t type)
{
    static const char *const names[] = {
        [CAPSA_SYNC_GO] = "GO",
        [CAPSA_SYNC_PID] = "PID",
        [CAPSA_SYNC_PREPIVOT] = "PREPIVOT",
        [CAPSA_SYNC_PREPIVOT_ACK] = "PREPIVOT_ACK",
        [CAPSA_SYNC_CONSOLE] = "CONSOLE",
        [CAPSA_SYNC_CREATED] = "CREATED",
        [CAPSA_SYNC_START] = "START",
        [CAPSA_SYNC_ERROR] = "ERROR",
        [CAPSA_SYNC_SECCOMP] = "SECCOMP",
        [CAPSA_SYNC_LOG] = "LOG",
        [CAPSA_SYNC_MOUNT_FD] = "MOUNT_FD",
    };
    if (type < ARRAY_SIZE(names) && names[type])
        return names[type];
    return "unknown";
}

struct hdr {
    uint32_t type;
    int32_t value;
};

static int send_flags(int sock, uint32_t type, int32_t value, const void *payload, size_t len,
                      int fd, int flags, struct capsa_err *err)
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
        ssize_t w = sendmsg(sock, &mh, MSG_NOSIGNAL | flags);
        if (w >= 0)
            return 0;
        if (errno != EINTR)
            return capsa_err_set(err, errno, "sync: send %s", capsa_sync_name(type));
    }
}

int capsa_sync_send(int sock, uint32_t type, int32_t value, const void *payload, size_t len, int fd,
                    struct capsa_err *err)
{
    return send_flags(sock, type, value, payload, len, fd, 0, err);
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

int capsa_sync_expect(int sock, uint32_t want, const char *who, struct capsa_sync_msg *msg,
                      struct capsa_err *err)
{
    int r = capsa_sync_recv(sock, msg, err);
    if (r < 0)
        return r;
    if (msg->type == CAPSA_SYNC_ERROR)
        return capsa_sync_take_err(msg, who, err);
    if (msg->type != want) {
        uint32_t got = msg->type;
        capsa_sync_msg_clear(msg);
        return capsa_err_setx(err, EPROTO, "sync: expected %s from the %s, got %s",
                              capsa_sync_name(want), who, capsa_sync_name(got));
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

void capsa_sync_log(const struct capsa_sync_log *l, enum capsa_log_level level, const char *fmt,
                    ...)
{
    if (l == NULL || l->sock < 0 || level > l->max)
        return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1;
    /* MSG_DONTWAIT: after `create` nobody reads; a full socket drops the line. */
    send_flags(l->sock, CAPSA_SYNC_LOG, (int32_t)level, buf, len, -1, MSG_DONTWAIT, NULL);
}

void capsa_sync_log_debug_cb(void *opaque, const char *msg)
{
    capsa_sync_log(opaque, CAPSA_LOG_DEBUG, "%s", msg);
}

/* CONSOLE: forward the master, keep it, or drop it. */
static int on_console(const struct capsa_sync_peer *p, struct capsa_sync_msg *m,
                      struct capsa_err *err)
{
    if (m->fd < 0)
        return capsa_err_setx(err, EPROTO, "console: no pty received from the %s", p->who);
    if (p->console_socket) {
        int r = capsa_console_socket_send(p->console_socket, m->fd, err);
        if (r < 0)
            return capsa_err_wrap(err, "--console-socket %s", p->console_socket);
    } else if (p->console_fd) {
        capsa_close(p->console_fd);
        *p->console_fd = steal_fd(m->fd);
    }
    return 0;
}

static int on_seccomp(const struct capsa_sync_peer *p, struct capsa_sync_msg *m,
                      struct capsa_err *err)
{
    if (m->fd < 0 || p->listener_path == NULL || p->state_json == NULL)
        return capsa_err_setx(err, EPROTO,
                              "seccomp: no listener fd expected or received from the %s", p->who);
    return capsa_seccomp_send_listener_pid(p->listener_path, p->listener_metadata, p->state_json,
                                           p->process_pid, m->fd, err);
}

static void on_log(const struct capsa_sync_peer *p, const struct capsa_sync_msg *m)
{
    int level = m->value;
    if (level < CAPSA_LOG_ERROR || level > CAPSA_LOG_DEBUG)
        level = CAPSA_LOG_DEBUG;
    /* The child's text is the container's business until execve, but it
     * is still text from inside: it is logged as data, never as a format. */
    capsa_log(p->ctx, (enum capsa_log_level)level, "%s: %s", p->who, m->payload ? m->payload : "");
}

int capsa_sync_serve(const struct capsa_sync_peer *p, uint32_t until, struct capsa_err *err)
{
    for (;;) {
        struct capsa_sync_msg m;
        struct capsa_err rerr = {0};
        int r = capsa_sync_recv(p->sock, &m, &rerr);
        if (r == -EPIPE && until == 0)
            return 0; /* the child's end closed at execve */
        if (r < 0) {
            *err = rerr;
            return r;
        }
        uint32_t type = m.type;
        if (type == CAPSA_SYNC_ERROR)
            return capsa_sync_take_err(&m, p->who, err);
        if (until != 0 && type == until) {
            capsa_sync_msg_clear(&m);
            return 0;
        }
        if (type >= 32 || !(p->allowed & CAPSA_SYNC_BIT(type))) {
            capsa_sync_msg_clear(&m);
            return capsa_err_setx(err, EPROTO, "sync: unexpected %s from the %s",
                                  capsa_sync_name(type), p->who);
        }
        switch ((enum capsa_sync_type)type) {
        case CAPSA_SYNC_CONSOLE:
            r = on_console(p, &m, err);
            break;
        case CAPSA_SYNC_SECCOMP:
            r = on_seccomp(p, &m, err);
            break;
        case CAPSA_SYNC_LOG:
            on_log(p, &m);
            r = 0;
            break;
        case CAPSA_SYNC_PREPIVOT:
            r = p->prepivot ? p->prepivot(p->opaque, err) : 0;
            if (r == 0)
                r = capsa_sync_send(p->sock, CAPSA_SYNC_PREPIVOT_ACK, 0, NULL, 0, -1, err);
            break;
        case CAPSA_SYNC_GO:
        case CAPSA_SYNC_PID:
        case CAPSA_SYNC_PREPIVOT_ACK:
        case CAPSA_SYNC_CREATED:
        case CAPSA_SYNC_START:
        case CAPSA_SYNC_ERROR:
        case CAPSA_SYNC_MOUNT_FD:
        default:
            r = capsa_err_setx(err, EPROTO, "sync: %s cannot come from the %s",
                               capsa_sync_name(type), p->who);
            break;
        }
        capsa_sync_msg_clear(&m);
        if (r < 0)
            return r;
    }
}
