/* sync.h - the message protocol between the runtime (parent) and the
 * container init over a SOCK_SEQPACKET socketpair. One message = header +
 * optional payload; errors from the child travel as a struct capsa_err. */
#ifndef CAPSA_CORE_SYNC_H
#define CAPSA_CORE_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum capsa_sync_type {
    CAPSA_SYNC_GO = 1,       /* parent -> init: maps written; payload: hook state JSON */
    CAPSA_SYNC_PID,          /* stage1 -> parent: value = init pid */
    CAPSA_SYNC_PREPIVOT,     /* init -> parent: mounts done, run prestart/createRuntime */
    CAPSA_SYNC_PREPIVOT_ACK, /* parent -> init */
    CAPSA_SYNC_CONSOLE,      /* init -> parent: pty master attached (SCM_RIGHTS) */
    CAPSA_SYNC_CREATED,      /* init -> parent: ready, waiting for start */
    CAPSA_SYNC_START,        /* parent -> init (run): go ahead and exec */
    CAPSA_SYNC_ERROR,        /* either way: payload = struct capsa_err */
    CAPSA_SYNC_SECCOMP,      /* init -> parent: seccomp listener fd (SCM_RIGHTS) */
};

#define CAPSA_SYNC_MAX_PAYLOAD ((size_t)192 * 1024)

struct capsa_sync_msg {
    uint32_t type;
    int32_t value;
    size_t len;
    char *payload; /* heap, NUL-terminated, may be NULL */
    int fd;        /* received fd or -1 */
};

int capsa_sync_send(int sock, uint32_t type, int32_t value, const void *payload, size_t len, int fd,
                    struct capsa_err *err);
/* Receive one message. -EPIPE with err set when the peer closed the socket. */
int capsa_sync_recv(int sock, struct capsa_sync_msg *msg, struct capsa_err *err);
/* Receive, and fail unless the type is want; an ERROR message becomes *err. */
int capsa_sync_expect(int sock, uint32_t want, struct capsa_sync_msg *msg, struct capsa_err *err);
void capsa_sync_msg_clear(struct capsa_sync_msg *msg);
/* Turn a received ERROR message into *err (who names the sender in the
 * fallback text for a malformed one), clear msg, return the negative errno. */
int capsa_sync_take_err(struct capsa_sync_msg *msg, const char *who, struct capsa_err *err);
/* Send err as an ERROR message (best effort). */
void capsa_sync_send_err(int sock, const struct capsa_err *err);

#endif
