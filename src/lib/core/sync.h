/* sync.h - the message protocol between the runtime and a process it sets up
 * inside a container (the init of `create`/`run`, the process of `exec`),
 * over a SOCK_SEQPACKET socketpair. One message = header + optional payload +
 * optional fd; errors travel as a struct capsa_err.
 *
 * Who may send what, when (enforced by capsa_sync_serve and the children):
 *
 *   message       from -> to          when
 *   MOUNT_FD      runtime -> init     before GO; value: index in spec->mounts,
 *                                     fd: the bind source opened by the runtime
 *   GO            runtime -> child    once, first: the runtime is done with the
 *                                     child (ids mapped, cgroups entered);
 *                                     init: payload hook state, fd the rootfs
 *   PID           stage1 -> runtime   once, before GO: value the child's pid,
 *                                     payload "v2" when it was born in its v2 cgroup
 *   PREPIVOT      init -> runtime     setup: mounts done, run prestart and
 *                                     createRuntime hooks, then PREPIVOT_ACK
 *   PREPIVOT_ACK  runtime -> init
 *   CONSOLE       child -> runtime    setup: fd the pty master
 *   SECCOMP       child -> runtime    setup: fd the seccomp listener
 *   LOG           child -> runtime    any time after GO: value the level,
 *                                     payload the text; never blocks the child
 *   CREATED       init -> runtime     ends the setup of `create` and `run`
 *   START         runtime -> init     `run` only: execute now
 *   ERROR         either way          any time; payload struct capsa_err; ends
 *
 * The setup of an exec'd process (and of the init after START) ends when the
 * child's end of the socket closes: it is close-on-exec, so EOF means the
 * user program is executing. */
#ifndef CAPSA_CORE_SYNC_H
#define CAPSA_CORE_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsa/capsa.h"
#include "util/err.h"

enum capsa_sync_type {
    CAPSA_SYNC_GO = 1,
    CAPSA_SYNC_PID,
    CAPSA_SYNC_PREPIVOT,
    CAPSA_SYNC_PREPIVOT_ACK,
    CAPSA_SYNC_CONSOLE,
    CAPSA_SYNC_CREATED,
    CAPSA_SYNC_START,
    CAPSA_SYNC_ERROR,
    CAPSA_SYNC_SECCOMP,
    CAPSA_SYNC_LOG,
    CAPSA_SYNC_MOUNT_FD,
};

#define CAPSA_SYNC_BIT(t) (1u << (t))

#define CAPSA_SYNC_MAX_PAYLOAD ((size_t)192 * 1024)

struct capsa_sync_msg {
    uint32_t type;
    int32_t value;
    size_t len;
    char *payload; /* heap, NUL-terminated, may be NULL */
    int fd;        /* received fd or -1 */
};

/* The name of a message type, for errors ("CONSOLE"). */
const char *capsa_sync_name(uint32_t type);

int capsa_sync_send(int sock, uint32_t type, int32_t value, const void *payload, size_t len, int fd,
                    struct capsa_err *err);
/* Receive one message. -EPIPE with err set when the peer closed the socket. */
int capsa_sync_recv(int sock, struct capsa_sync_msg *msg, struct capsa_err *err);
/* Receive, and fail unless the type is want; an ERROR message becomes *err
 * (who names the sender). */
int capsa_sync_expect(int sock, uint32_t want, const char *who, struct capsa_sync_msg *msg,
                      struct capsa_err *err);
void capsa_sync_msg_clear(struct capsa_sync_msg *msg);
/* Turn a received ERROR message into *err (who names the sender in the
 * fallback text for a malformed one), clear msg, return the negative errno. */
int capsa_sync_take_err(struct capsa_sync_msg *msg, const char *who, struct capsa_err *err);
/* Send err as an ERROR message (best effort). */
void capsa_sync_send_err(int sock, const struct capsa_err *err);

/* The child's side of LOG: sock < 0 or a level above max sends nothing; the
 * message is dropped rather than wait when nobody reads (after `create`). */
struct capsa_sync_log {
    int sock;
    enum capsa_log_level max;
};
void capsa_sync_log(const struct capsa_sync_log *l, enum capsa_log_level level, const char *fmt,
                    ...) __attribute__((format(printf, 3, 4)));
/* The same as a plain callback (opaque is a struct capsa_sync_log) for the
 * linux/ code that reports what it does (mounts, hooks). */
void capsa_sync_log_debug_cb(void *opaque, const char *msg);

/* The runtime's side of a child being set up: what it does with each message
 * the child may send now. ERROR is always accepted (and ends the loop). */
struct capsa_sync_peer {
    const struct capsa_ctx *ctx; /* LOG lines go to its logger */
    int sock;
    const char *who;  /* "container init", "exec process": names the sender in errors */
    unsigned allowed; /* CAPSA_SYNC_BIT() of the types the child may send */
    /* CONSOLE: the master goes to console_socket if set, else into
     * *console_fd when that is not NULL (foreground relay), else is closed. */
    const char *console_socket;
    int *console_fd;
    /* SECCOMP: handed to the agent at the listener path with the OCI state
     * state_json and process_pid as the message's pid (0: the state's). */
    const char *listener_path;
    const char *listener_metadata;
    const char *state_json;
    int process_pid;
    /* PREPIVOT: run, then answer PREPIVOT_ACK. */
    int (*prepivot)(void *opaque, struct capsa_err *err);
    void *opaque;
};

/* Serve the child's messages until one of type `until` arrives (0 on
 * success), or, with until == 0, until its end of the socket closes (it
 * executed the user program). A message the child may not send now is a
 * protocol error. -EPIPE when the child closed the socket early (it died). */
int capsa_sync_serve(const struct capsa_sync_peer *p, uint32_t until, struct capsa_err *err);

#endif
