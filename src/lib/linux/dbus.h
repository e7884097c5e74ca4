/* dbus.h - the little of D-Bus that capsa needs to drive systemd.
 *
 * The release binary is a static PIE, and Debian ships libsystemd (sd-bus)
 * only as a shared library, so capsa speaks the wire protocol itself: a
 * marshaller for the method calls it makes, a bounds-checked reader for the
 * replies and signals it gets back, and a blocking client for one
 * peer-to-peer connection (systemd's private socket: no bus daemon, no
 * Hello, no names). See docs/architecture.md "The systemd cgroup driver".
 *
 * Wire format (D-Bus specification, "Message Format"): a 16-byte fixed
 * header, an array of (code, variant) header fields padded to 8, then the
 * body. Every value is aligned to its size (strings and arrays to 4, structs
 * and dict entries to 8) counting from the start of the message; the body
 * starts 8-aligned, so the body can be built and read on its own.
 */
#ifndef CAPSA_LINUX_DBUS_H
#define CAPSA_LINUX_DBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

/* The largest message accepted from the peer (systemd's own limit is far
 * larger; nothing capsa waits for comes near this). */
#define CAPSA_DBUS_MAX_MSG (1u << 20)

enum capsa_dbus_type {
    CAPSA_DBUS_CALL = 1,
    CAPSA_DBUS_RETURN = 2,
    CAPSA_DBUS_ERROR = 3,
    CAPSA_DBUS_SIGNAL = 4,
};

/* ---------------- writing ---------------- */

/* A growing buffer. An allocation failure or an over-long value is
 * remembered in `err` (a negative errno) and later writes do nothing, so a
 * caller builds a whole message and checks once. */
struct capsa_dbus_buf {
    uint8_t *p;
    size_t len, cap;
    int err;
};

void capsa_dbus_buf_free(struct capsa_dbus_buf *b);
void capsa_dbus_put_byte(struct capsa_dbus_buf *b, uint8_t v);
void capsa_dbus_put_bool(struct capsa_dbus_buf *b, bool v);
void capsa_dbus_put_u32(struct capsa_dbus_buf *b, uint32_t v);
void capsa_dbus_put_u64(struct capsa_dbus_buf *b, uint64_t v);
void capsa_dbus_put_str(struct capsa_dbus_buf *b, const char *s); /* also 'o' */
void capsa_dbus_put_sig(struct capsa_dbus_buf *b, const char *s); /* 'g', and a variant's type */
/* Pad with zeros to a multiple of a (1, 2, 4 or 8); structs open with 8. */
void capsa_dbus_align(struct capsa_dbus_buf *b, size_t a);

/* An array: open writes the length placeholder and the padding to the
 * elements' alignment; close fills in the length (the padding excluded). */
struct capsa_dbus_array {
    size_t len_at, start;
};
struct capsa_dbus_array capsa_dbus_array_open(struct capsa_dbus_buf *b, size_t elem_align);
void capsa_dbus_array_close(struct capsa_dbus_buf *b, struct capsa_dbus_array a);

/* A method call. body may be NULL (no arguments); sig is the body's
 * signature. */
struct capsa_dbus_call {
    const char *destination; /* may be NULL on a peer-to-peer connection */
    const char *path;
    const char *interface;
    const char *member;
    const char *sig;
    const struct capsa_dbus_buf *body;
};

/* The whole message, little-endian, into out (which is reset first). */
int capsa_dbus_encode_call(const struct capsa_dbus_call *c, uint32_t serial,
                           struct capsa_dbus_buf *out, struct capsa_err *err);

/* ---------------- reading ---------------- */

/* A cursor over a message's bytes, offsets counted from a base that is
 * 8-aligned in the message (its start, or its body). */
struct capsa_dbus_rd {
    const uint8_t *p;
    size_t len, off;
    bool swap; /* big-endian peer */
};

int capsa_dbus_rd_align(struct capsa_dbus_rd *r, size_t a);
int capsa_dbus_rd_byte(struct capsa_dbus_rd *r, uint8_t *v);
int capsa_dbus_rd_u32(struct capsa_dbus_rd *r, uint32_t *v);
int capsa_dbus_rd_u64(struct capsa_dbus_rd *r, uint64_t *v);
/* 's' and 'o': *s points into the message (NUL-terminated, no inner NUL). */
int capsa_dbus_rd_str(struct capsa_dbus_rd *r, const char **s);
int capsa_dbus_rd_sig(struct capsa_dbus_rd *r, const char **s);

/* A parsed message; every pointer points into the bytes it was parsed from. */
struct capsa_dbus_msg {
    uint8_t type;
    uint8_t flags;
    uint32_t serial;
    bool has_reply_serial;
    uint32_t reply_serial;
    const char *path, *interface, *member, *error_name, *signature; /* NULL when absent */
    struct capsa_dbus_rd body; /* a reader positioned at the body's start */
};

/* The total size of the message whose first 16 bytes are p (n >= 16), or an
 * error for a malformed or too-large header. */
int capsa_dbus_msg_size(const uint8_t *p, size_t n, size_t *total, struct capsa_err *err);
/* Parse exactly one whole message of n bytes. */
int capsa_dbus_msg_parse(const uint8_t *p, size_t n, struct capsa_dbus_msg *m,
                         struct capsa_err *err);
/* For an ERROR message: "Name: text" (or just the name) into buf. */
void capsa_dbus_error_text(const struct capsa_dbus_msg *m, char *buf, size_t size);

/* ---------------- a connection ---------------- */

struct capsa_dbus {
    int fd;
    uint32_t serial;
    uint8_t *in; /* received bytes not yet handed out */
    size_t in_len, in_cap;
    size_t consumed; /* bytes of the last message handed out, dropped on the next recv */
};

/* Connect to the AF_UNIX stream socket at path and authenticate (EXTERNAL,
 * as our effective uid). deadline_ms: CLOCK_MONOTONIC milliseconds. */
int capsa_dbus_connect(const char *path, long long deadline_ms, struct capsa_dbus *bus,
                       struct capsa_err *err);
/* The same over an already connected fd (taken over; tests use a socketpair). */
int capsa_dbus_connect_fd(int fd, long long deadline_ms, struct capsa_dbus *bus,
                          struct capsa_err *err);
void capsa_dbus_close(struct capsa_dbus *bus);

int capsa_dbus_send(struct capsa_dbus *bus, const struct capsa_dbus_call *c, uint32_t *serial,
                    struct capsa_err *err);
/* The next whole message; *m stays valid until the next recv or close. */
int capsa_dbus_recv(struct capsa_dbus *bus, long long deadline_ms, struct capsa_dbus_msg *m,
                    struct capsa_err *err);

/* CLOCK_MONOTONIC now, in milliseconds. */
long long capsa_dbus_now_ms(void);

#endif
