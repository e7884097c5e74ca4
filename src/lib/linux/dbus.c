/* dbus.c - D-Bus wire format and a blocking peer-to-peer client (dbus.h). */
#include "linux/dbus.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

/* Header field codes (specification, "Header Fields"). */
enum {
    F_PATH = 1,
    F_INTERFACE = 2,
    F_MEMBER = 3,
    F_ERROR_NAME = 4,
    F_REPLY_SERIAL = 5,
    F_DESTINATION = 6,
    F_SENDER = 7,
    F_SIGNATURE = 8,
    F_UNIX_FDS = 9,
};

/* ---------------- writing ---------------- */

void capsa_dbus_buf_free(struct capsa_dbus_buf *b)
{
    free(b->p);
    *b = (struct capsa_dbus_buf){0};
}

/* n more bytes at the end; NULL (and nothing to write) when n is 0 or an
 * error is remembered. */
static uint8_t *grow(struct capsa_dbus_buf *b, size_t n)
{
    if (b->err || n == 0)
        return NULL;
    if (n > CAPSA_DBUS_MAX_MSG || b->len > CAPSA_DBUS_MAX_MSG - n) {
        b->err = -EMSGSIZE;
        return NULL;
    }
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *np = realloc(b->p, cap);
        if (np == NULL) {
            b->err = -ENOMEM;
            return NULL;
        }
        b->p = np;
        b->cap = cap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

void capsa_dbus_align(struct capsa_dbus_buf *b, size_t a)
{
    size_t pad = (a - b->len % a) % a;
    uint8_t *at = grow(b, pad);
    if (at)
        memset(at, 0, pad);
}

void capsa_dbus_put_byte(struct capsa_dbus_buf *b, uint8_t v)
{
    uint8_t *at = grow(b, 1);
    if (at)
        *at = v;
}

/* Little-endian, as the messages say ('l'). */
static void put_le(struct capsa_dbus_buf *b, uint64_t v, size_t n)
{
    capsa_dbus_align(b, n);
    uint8_t *at = grow(b, n);
    for (size_t i = 0; at && i < n; i++)
        at[i] = (uint8_t)(v >> (8 * i));
}

void capsa_dbus_put_u32(struct capsa_dbus_buf *b, uint32_t v)
{
    put_le(b, v, 4);
}

void capsa_dbus_put_bool(struct capsa_dbus_buf *b, bool v)
{
    put_le(b, v ? 1 : 0, 4);
}

void capsa_dbus_put_u64(struct capsa_dbus_buf *b, uint64_t v)
{
    put_le(b, v, 8);
}

void capsa_dbus_put_str(struct capsa_dbus_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > UINT32_MAX - 1) {
        b->err = -EMSGSIZE;
        return;
    }
    capsa_dbus_put_u32(b, (uint32_t)n);
    uint8_t *at = grow(b, n + 1);
    if (at)
        memcpy(at, s, n + 1);
}

void capsa_dbus_put_sig(struct capsa_dbus_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > 255) {
        b->err = -EMSGSIZE;
        return;
    }
    capsa_dbus_put_byte(b, (uint8_t)n);
    uint8_t *at = grow(b, n + 1);
    if (at)
        memcpy(at, s, n + 1);
}

struct capsa_dbus_array capsa_dbus_array_open(struct capsa_dbus_buf *b, size_t elem_align)
{
    capsa_dbus_align(b, 4);
    struct capsa_dbus_array a = {.len_at = b->len};
    capsa_dbus_put_u32(b, 0);
    capsa_dbus_align(b, elem_align);
    a.start = b->len;
    return a;
}

void capsa_dbus_array_close(struct capsa_dbus_buf *b, struct capsa_dbus_array a)
{
    if (b->err)
        return;
    size_t n = b->len - a.start;
    if (n > (1u << 26)) { /* the specification's limit on an array */
        b->err = -EMSGSIZE;
        return;
    }
    for (size_t i = 0; i < 4; i++)
        b->p[a.len_at + i] = (uint8_t)(n >> (8 * i));
}

static void put_field(struct capsa_dbus_buf *b, uint8_t code, const char *sig, const char *val)
{
    capsa_dbus_align(b, 8);
    capsa_dbus_put_byte(b, code);
    capsa_dbus_put_sig(b, sig);
    if (sig[0] == 'g')
        capsa_dbus_put_sig(b, val);
    else
        capsa_dbus_put_str(b, val);
}

int capsa_dbus_encode_call(const struct capsa_dbus_call *c, uint32_t serial,
                           struct capsa_dbus_buf *out, struct capsa_err *err)
{
    out->len = 0;
    out->err = 0;
    size_t body_len = c->body ? c->body->len : 0;
    if (c->body && c->body->err)
        return capsa_err_set(err, -c->body->err, "D-Bus %s: build the arguments", c->member);
    capsa_dbus_put_byte(out, 'l');
    capsa_dbus_put_byte(out, CAPSA_DBUS_CALL);
    capsa_dbus_put_byte(out, 0);
    capsa_dbus_put_byte(out, 1); /* protocol version */
    capsa_dbus_put_u32(out, (uint32_t)body_len);
    capsa_dbus_put_u32(out, serial);
    struct capsa_dbus_array f = capsa_dbus_array_open(out, 8);
    put_field(out, F_PATH, "o", c->path);
    if (c->interface)
        put_field(out, F_INTERFACE, "s", c->interface);
    put_field(out, F_MEMBER, "s", c->member);
    if (c->destination)
        put_field(out, F_DESTINATION, "s", c->destination);
    if (c->sig && c->sig[0])
        put_field(out, F_SIGNATURE, "g", c->sig);
    capsa_dbus_array_close(out, f);
    capsa_dbus_align(out, 8);
    if (body_len) {
        uint8_t *at = grow(out, body_len);
        if (at)
            memcpy(at, c->body->p, body_len);
    }
    if (out->err)
        return capsa_err_set(err, -out->err, "D-Bus %s: build the message", c->member);
    return 0;
}

/* ---------------- reading ---------------- */

int capsa_dbus_rd_align(struct capsa_dbus_rd *r, size_t a)
{
    size_t pad = (a - r->off % a) % a;
    if (pad > r->len - r->off)
        return -EBADMSG;
    for (size_t i = 0; i < pad; i++) {
        if (r->p[r->off + i] != 0) /* padding must be zero */
            return -EBADMSG;
    }
    r->off += pad;
    return 0;
}

static int rd_le(struct capsa_dbus_rd *r, size_t n, uint64_t *v)
{
    *v = 0;
    int e = capsa_dbus_rd_align(r, n);
    if (e < 0)
        return e;
    if (n > r->len - r->off)
        return -EBADMSG;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = r->swap ? n - 1 - i : i;
        x |= (uint64_t)r->p[r->off + k] << (8 * i);
    }
    r->off += n;
    *v = x;
    return 0;
}

int capsa_dbus_rd_byte(struct capsa_dbus_rd *r, uint8_t *v)
{
    if (r->off >= r->len)
        return -EBADMSG;
    *v = r->p[r->off++];
    return 0;
}

int capsa_dbus_rd_u32(struct capsa_dbus_rd *r, uint32_t *v)
{
    uint64_t x;
    int e = rd_le(r, 4, &x);
    if (e == 0)
        *v = (uint32_t)x;
    return e;
}

int capsa_dbus_rd_u64(struct capsa_dbus_rd *r, uint64_t *v)
{
    return rd_le(r, 8, v);
}

/* n bytes of text and a NUL, no NUL inside. */
static int rd_text(struct capsa_dbus_rd *r, size_t n, const char **s)
{
    if (n >= r->len - r->off)
        return -EBADMSG;
    const char *t = (const char *)r->p + r->off;
    if (t[n] != '\0' || memchr(t, '\0', n) != NULL)
        return -EBADMSG;
    r->off += n + 1;
    *s = t;
    return 0;
}

int capsa_dbus_rd_str(struct capsa_dbus_rd *r, const char **s)
{
    uint32_t n = 0;
    int e = capsa_dbus_rd_u32(r, &n);
    return e < 0 ? e : rd_text(r, n, s);
}

int capsa_dbus_rd_sig(struct capsa_dbus_rd *r, const char **s)
{
    uint8_t n = 0;
    int e = capsa_dbus_rd_byte(r, &n);
    return e < 0 ? e : rd_text(r, n, s);
}

/* Skip a value of a basic type (the only kinds a header field holds; a
 * header field of any other type is refused as malformed). */
static int skip_basic(struct capsa_dbus_rd *r, char t)
{
    uint64_t x;
    const char *s;
    switch (t) {
    case 'y':
        return rd_le(r, 1, &x);
    case 'n':
    case 'q':
        return rd_le(r, 2, &x);
    case 'b':
    case 'i':
    case 'u':
    case 'h':
        return rd_le(r, 4, &x);
    case 'x':
    case 't':
    case 'd':
        return rd_le(r, 8, &x);
    case 's':
    case 'o':
        return capsa_dbus_rd_str(r, &s);
    case 'g':
        return capsa_dbus_rd_sig(r, &s);
    default:
        return -EBADMSG;
    }
}

int capsa_dbus_msg_size(const uint8_t *p, size_t n, size_t *total, struct capsa_err *err)
{
    if (n < 16)
        return capsa_err_setx(err, EBADMSG, "D-Bus: short message header");
    if ((p[0] != 'l' && p[0] != 'B') || p[3] != 1)
        return capsa_err_setx(err, EBADMSG,
                              "D-Bus: bad message header (endianness %#x, version %u)", p[0], p[3]);
    struct capsa_dbus_rd r = {.p = p, .len = 16, .off = 4, .swap = p[0] == 'B'};
    uint32_t body = 0, serial = 0, fields = 0;
    if (capsa_dbus_rd_u32(&r, &body) < 0 || capsa_dbus_rd_u32(&r, &serial) < 0 ||
        capsa_dbus_rd_u32(&r, &fields) < 0)
        return capsa_err_setx(err, EBADMSG, "D-Bus: short message header");
    uint64_t t = 16 + (uint64_t)fields;
    t = (t + 7) & ~(uint64_t)7;
    t += body;
    if (t > CAPSA_DBUS_MAX_MSG)
        return capsa_err_setx(err, EMSGSIZE, "D-Bus: a message of %llu bytes is too large",
                              (unsigned long long)t);
    *total = (size_t)t;
    return 0;
}

static int parse_field(struct capsa_dbus_rd *r, struct capsa_dbus_msg *m)
{
    uint8_t code = 0;
    const char *sig = "";
    int e = capsa_dbus_rd_align(r, 8);
    if (e == 0)
        e = capsa_dbus_rd_byte(r, &code);
    if (e == 0)
        e = capsa_dbus_rd_sig(r, &sig);
    if (e < 0)
        return e;
    if (strlen(sig) != 1)
        return -EBADMSG;
    const char **slot = NULL;
    char want = 's';
    switch (code) {
    case F_PATH:
        slot = &m->path;
        want = 'o';
        break;
    case F_INTERFACE:
        slot = &m->interface;
        break;
    case F_MEMBER:
        slot = &m->member;
        break;
    case F_ERROR_NAME:
        slot = &m->error_name;
        break;
    case F_SIGNATURE:
        slot = &m->signature;
        want = 'g';
        break;
    case F_REPLY_SERIAL:
        if (sig[0] != 'u')
            return -EBADMSG;
        m->has_reply_serial = true;
        return capsa_dbus_rd_u32(r, &m->reply_serial);
    default: /* DESTINATION, SENDER, UNIX_FDS and unknown codes: not needed */
        return skip_basic(r, sig[0]);
    }
    if (sig[0] != want)
        return -EBADMSG;
    return want == 'g' ? capsa_dbus_rd_sig(r, slot) : capsa_dbus_rd_str(r, slot);
}

int capsa_dbus_msg_parse(const uint8_t *p, size_t n, struct capsa_dbus_msg *m,
                         struct capsa_err *err)
{
    size_t total;
    int e = capsa_dbus_msg_size(p, n, &total, err);
    if (e < 0)
        return e;
    if (total != n)
        return capsa_err_setx(err, EBADMSG, "D-Bus: message of %zu bytes, header says %zu", n,
                              total);
    *m = (struct capsa_dbus_msg){.type = p[1], .flags = p[2]};
    struct capsa_dbus_rd r = {.p = p, .len = n, .off = 4, .swap = p[0] == 'B'};
    uint32_t body = 0, fields = 0;
    (void)capsa_dbus_rd_u32(&r, &body);
    (void)capsa_dbus_rd_u32(&r, &m->serial);
    (void)capsa_dbus_rd_u32(&r, &fields);
    if (m->type < CAPSA_DBUS_CALL || m->type > CAPSA_DBUS_SIGNAL || m->serial == 0)
        return capsa_err_setx(err, EBADMSG, "D-Bus: bad message type %u or serial", m->type);
    /* The fields, read within their own array's bounds. */
    struct capsa_dbus_rd fr = {.p = p, .len = 16 + (size_t)fields, .off = 16, .swap = r.swap};
    while (fr.off < fr.len) {
        if (parse_field(&fr, m) < 0)
            return capsa_err_setx(err, EBADMSG, "D-Bus: malformed header field");
    }
    r.off = fr.len;
    if (capsa_dbus_rd_align(&r, 8) < 0 || n - r.off != body)
        return capsa_err_setx(err, EBADMSG, "D-Bus: malformed message padding");
    if (body > 0 && m->signature == NULL)
        return capsa_err_setx(err, EBADMSG, "D-Bus: a body without a signature");
    /* What each type must carry. */
    bool ok = true;
    switch (m->type) {
    case CAPSA_DBUS_CALL:
        ok = m->path && m->member;
        break;
    case CAPSA_DBUS_SIGNAL:
        ok = m->path && m->member && m->interface;
        break;
    case CAPSA_DBUS_ERROR:
        ok = m->error_name && m->has_reply_serial;
        break;
    case CAPSA_DBUS_RETURN:
        ok = m->has_reply_serial;
        break;
    default:
        ok = false;
        break;
    }
    if (!ok)
        return capsa_err_setx(err, EBADMSG, "D-Bus: message type %u without its required fields",
                              m->type);
    if (m->signature == NULL)
        m->signature = "";
    m->body = (struct capsa_dbus_rd){.p = p + r.off, .len = body, .off = 0, .swap = r.swap};
    return 0;
}

void capsa_dbus_error_text(const struct capsa_dbus_msg *m, char *buf, size_t size)
{
    const char *text = NULL;
    struct capsa_dbus_rd r = m->body;
    if (m->signature && m->signature[0] == 's')
        (void)capsa_dbus_rd_str(&r, &text);
    const char *name = m->error_name ? m->error_name : "unknown error";
    if (text && text[0])
        snprintf(buf, size, "%s (%s)", text, name);
    else
        snprintf(buf, size, "%s", name);
}

/* ---------------- a connection ---------------- */

long long capsa_dbus_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events, or the deadline. */
static int wait_fd(int fd, short events, long long deadline_ms)
{
    for (;;) {
        long long left = deadline_ms - capsa_dbus_now_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
}

static int send_all(int fd, const void *p, size_t n, long long deadline_ms)
{
    const uint8_t *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            b += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN)
            return errno == ECONNRESET ? -EPIPE : -errno;
        int e = wait_fd(fd, POLLOUT, deadline_ms);
        if (e < 0)
            return e;
    }
    return 0;
}

/* Read more bytes into the input buffer (at least one, or an error; 0 bytes
 * read, or a reset, is the peer closing: EPIPE). */
static int fill(struct capsa_dbus *bus, long long deadline_ms)
{
    if (bus->in_cap - bus->in_len < 4096) {
        size_t cap = bus->in_cap ? bus->in_cap * 2 : 8192;
        if (cap > 2 * (size_t)CAPSA_DBUS_MAX_MSG + 8192)
            return -EMSGSIZE;
        uint8_t *np = realloc(bus->in, cap);
        if (np == NULL)
            return -ENOMEM;
        bus->in = np;
        bus->in_cap = cap;
    }
    for (;;) {
        ssize_t n = recv(bus->fd, bus->in + bus->in_len, bus->in_cap - bus->in_len, MSG_DONTWAIT);
        if (n > 0) {
            bus->in_len += (size_t)n;
            return 0;
        }
        if (n == 0)
            return -EPIPE;
        if (errno == EINTR)
            continue;
        /* A peer that closes with our bytes unread resets the connection:
         * gone all the same. */
        if (errno != EAGAIN)
            return errno == ECONNRESET ? -EPIPE : -errno;
        int e = wait_fd(bus->fd, POLLIN, deadline_ms);
        if (e < 0)
            return e;
    }
}

void capsa_dbus_close(struct capsa_dbus *bus)
{
    capsa_close(&bus->fd);
    free(bus->in);
    bus->in = NULL;
    bus->in_len = bus->in_cap = bus->consumed = 0;
}

/* SASL (specification, "Authentication Protocol"): a NUL byte, then
 * "AUTH EXTERNAL <uid in hex of its decimal digits>"; the server answers
 * "OK <guid>"; "BEGIN" switches to messages. */
static int authenticate(struct capsa_dbus *bus, long long deadline_ms, struct capsa_err *err)
{
    char uid[16], line[64];
    int n = snprintf(uid, sizeof uid, "%u", (unsigned)geteuid());
    size_t at = 0;
    line[at++] = '\0';
    at += (size_t)snprintf(line + at, sizeof line - at, "AUTH EXTERNAL ");
    for (int i = 0; i < n; i++)
        at += (size_t)snprintf(line + at, sizeof line - at, "%02x", (unsigned char)uid[i]);
    at += (size_t)snprintf(line + at, sizeof line - at, "\r\n");
    int e = send_all(bus->fd, line, at, deadline_ms);
    while (e == 0) {
        uint8_t *crlf = bus->in_len >= 2 ? memmem(bus->in, bus->in_len, "\r\n", 2) : NULL;
        if (crlf != NULL) {
            size_t len = (size_t)(crlf - bus->in);
            if (len < 3 || memcmp(bus->in, "OK ", 3) != 0)
                return capsa_err_setx(err, EACCES, "D-Bus authentication refused: %.*s",
                                      (int)(len > 200 ? 200 : len), (const char *)bus->in);
            memmove(bus->in, crlf + 2, bus->in_len - len - 2);
            bus->in_len -= len + 2;
            e = send_all(bus->fd, "BEGIN\r\n", 7, deadline_ms);
            return e < 0 ? capsa_err_set(err, -e, "D-Bus authentication") : 0;
        }
        if (bus->in_len > 1024)
            return capsa_err_setx(err, EPROTO, "D-Bus authentication: no answer line");
        e = fill(bus, deadline_ms);
    }
    return capsa_err_set(err, -e, "D-Bus authentication");
}

int capsa_dbus_connect_fd(int fd, long long deadline_ms, struct capsa_dbus *bus,
                          struct capsa_err *err)
{
    *bus = (struct capsa_dbus){.fd = fd};
    int e = authenticate(bus, deadline_ms, err);
    if (e < 0)
        capsa_dbus_close(bus);
    return e;
}

int capsa_dbus_connect(const char *path, long long deadline_ms, struct capsa_dbus *bus,
                       struct capsa_err *err)
{
    *bus = (struct capsa_dbus){.fd = -1};
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path)
        return capsa_err_setx(err, ENAMETOOLONG, "D-Bus socket path %s", path);
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return capsa_err_set(err, errno, "socket");
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        return capsa_err_set(err, e, "connect to %s", path);
    }
    return capsa_dbus_connect_fd(fd, deadline_ms, bus, err);
}

int capsa_dbus_send(struct capsa_dbus *bus, const struct capsa_dbus_call *c, uint32_t *serial,
                    struct capsa_err *err)
{
    struct capsa_dbus_buf msg = {0};
    uint32_t s = ++bus->serial;
    if (s == 0)
        s = ++bus->serial;
    int e = capsa_dbus_encode_call(c, s, &msg, err);
    if (e == 0) {
        e = send_all(bus->fd, msg.p, msg.len, capsa_dbus_now_ms() + 30000);
        if (e < 0)
            capsa_err_set(err, -e, "D-Bus: send %s", c->member);
    }
    capsa_dbus_buf_free(&msg);
    if (e == 0 && serial)
        *serial = s;
    return e;
}

int capsa_dbus_recv(struct capsa_dbus *bus, long long deadline_ms, struct capsa_dbus_msg *m,
                    struct capsa_err *err)
{
    if (bus->consumed) {
        memmove(bus->in, bus->in + bus->consumed, bus->in_len - bus->consumed);
        bus->in_len -= bus->consumed;
        bus->consumed = 0;
    }
    size_t total = 0;
    for (;;) {
        if (bus->in_len >= 16 && total == 0) {
            int e = capsa_dbus_msg_size(bus->in, bus->in_len, &total, err);
            if (e < 0)
                return e;
        }
        if (total && bus->in_len >= total)
            break;
        int e = fill(bus, deadline_ms);
        if (e == -ETIMEDOUT)
            return capsa_err_setx(err, ETIMEDOUT, "D-Bus: no answer in time");
        if (e == -EPIPE)
            return capsa_err_setx(err, EPIPE, "D-Bus: the peer closed the connection");
        if (e < 0)
            return capsa_err_set(err, -e, "D-Bus: receive");
    }
    int e = capsa_dbus_msg_parse(bus->in, total, m, err);
    if (e < 0)
        return e;
    bus->consumed = total;
    return 0;
}
