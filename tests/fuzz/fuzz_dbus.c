/* fuzz_dbus.c - libFuzzer target: the D-Bus reader of the systemd cgroup
 * driver (linux/dbus.c, linux/systemd.c), which reads what comes back on
 * systemd's socket. The input is used twice: parsed as one whole message
 * (every field and string handed out must lie inside the input, every body
 * value read must stay in bounds), and played as the manager's side of a
 * whole StopUnit call: the input follows the authentication answer on a
 * socketpair whose far end then stops sending, so the client must end with
 * success or an error, never hang or read out of bounds. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz.h"
#include "linux/dbus.h"
#include "linux/systemd.h"

static bool inside(const uint8_t *data, size_t size, const char *s)
{
    return s == NULL ||
           ((const uint8_t *)s >= data && (const uint8_t *)s + strlen(s) < data + size);
}

static void parse_one(const uint8_t *data, size_t size)
{
    struct capsa_err err = {0};
    struct capsa_dbus_msg m;
    int r = capsa_dbus_msg_parse(data, size, &m, &err);
    FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -EMSGSIZE);
    FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
    if (r < 0)
        return;
    FUZZ_CHECK(inside(data, size, m.path) && inside(data, size, m.interface) &&
               inside(data, size, m.member) && inside(data, size, m.error_name));
    /* Read the body as the driver reads its signals and replies. */
    struct capsa_dbus_rd b = m.body;
    uint32_t u;
    const char *s;
    for (int i = 0; i < 8 && b.off < b.len; i++) {
        int e = (i & 1) ? capsa_dbus_rd_u32(&b, &u) : capsa_dbus_rd_str(&b, &s);
        if (e < 0)
            break;
        if (!(i & 1))
            FUZZ_CHECK(inside(m.body.p, m.body.len, s));
        FUZZ_CHECK(b.off <= b.len);
    }
    char text[128];
    capsa_dbus_error_text(&m, text, sizeof text);
    FUZZ_CHECK(memchr(text, '\0', sizeof text) != NULL);
}

static void play_manager(const uint8_t *data, size_t size)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
        return;
    int big = 1 << 20;
    (void)setsockopt(sp[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    (void)setsockopt(sp[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    const char ok[] = "OK 0123456789abcdef0123456789abcdef\r\n";
    bool sent = write(sp[1], ok, strlen(ok)) == (ssize_t)strlen(ok);
    (void)fcntl(sp[1], F_SETFL, O_NONBLOCK);
    size_t at = 0;
    while (sent && at < size) {
        ssize_t w = write(sp[1], data + at, size - at);
        if (w <= 0)
            break; /* the rest does not fit: the client sees a cut stream */
        at += (size_t)w;
    }
    /* EOF after the input, while the client can still write its calls. */
    (void)shutdown(sp[1], SHUT_WR);
    struct capsa_dbus bus;
    struct capsa_err err = {0};
    long long deadline = capsa_dbus_now_ms() + 5000;
    int r = capsa_dbus_connect_fd(sp[0], deadline, &bus, &err);
    if (r == 0) {
        r = capsa_systemd_stop_on(&bus, "capsa-fuzz.scope", deadline, &err);
        capsa_dbus_close(&bus);
    }
    close(sp[1]);
    FUZZ_CHECK(r <= 0);
    FUZZ_CHECK(memchr(err.msg, '\0', sizeof err.msg) != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    parse_one(data, size);
    play_manager(data, size);
    return 0;
}
