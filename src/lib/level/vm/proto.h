/* proto.h - the vm level's host <-> guest agent protocol (docs/vm-protocol.md).
 *
 * One byte stream (a virtio-serial port, a vsock or, in tests, a socketpair)
 * carries frames:
 *
 *     u32 len (little-endian: the bytes that follow, 5 .. CAPSA_VM_FRAME_MAX)
 *     u8  type
 *     u32 id  (little-endian: request id, or process id for stream frames)
 *     payload (len - 5 bytes): the type's fields, in order
 *
 * Payload fields are u32 (little-endian), strings (u32 length that counts a
 * final NUL, then the bytes: exactly one NUL, the last) and byte blocks (u32
 * length, then the bytes). Every length is checked against what remains of
 * the frame; a payload with bytes left over is malformed too. A decoded
 * message points into the frame (its strings are NUL-terminated there), so
 * decoding allocates nothing.
 *
 * Both sides send HELLO first (the agent when it is ready); the major version
 * must match. Requests (host -> agent) carry a request id and are answered by
 * OK or ERROR with that id; stream frames (STDIN, RESIZE from the host,
 * STDOUT, STDERR, EXIT from the agent) carry the process id the host chose in
 * CREATE or EXEC and are not answered. */
#ifndef CAPSA_LEVEL_VM_PROTO_H
#define CAPSA_LEVEL_VM_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsa/capsa.h"

#define CAPSA_VM_MAGIC     0x41535043u /* "CPSA" as little-endian bytes */
#define CAPSA_VM_VERSION   1u
#define CAPSA_VM_HDR_LEN   9u         /* len + type + id */
#define CAPSA_VM_FRAME_MAX (1u << 20) /* the largest len: type + id + payload */
#define CAPSA_VM_DATA_MAX  (CAPSA_VM_FRAME_MAX - 5u - 4u)

/* The virtio-serial port's name, and the rootfs share's tag. */
#define CAPSA_VM_PORT_NAME  "capsa.agent"
#define CAPSA_VM_ROOTFS_TAG "capsa-rootfs"

enum capsa_vm_type {
    CAPSA_VM_HELLO = 1,     /* both: u32 magic, u32 version, str info (agent: kernel release) */
    CAPSA_VM_OK = 2,        /* agent: u32 pid, bytes data (STATS: the stats JSON) */
    CAPSA_VM_ERROR = 3,     /* agent: u32 errnum, str message */
    CAPSA_VM_CREATE = 4,    /* host: str cid, u32 proc, bytes config.json, str bundle */
    CAPSA_VM_START = 5,     /* host: str cid */
    CAPSA_VM_EXEC = 6,      /* host: str cid, u32 proc, u32 flags (TTY), bytes process JSON */
    CAPSA_VM_STDIN = 7,     /* host, id = proc: bytes data (empty: EOF) */
    CAPSA_VM_STDOUT = 8,    /* agent, id = proc: bytes data (empty: EOF) */
    CAPSA_VM_STDERR = 9,    /* agent, id = proc: bytes data (empty: EOF) */
    CAPSA_VM_SIGNAL = 10,   /* host: str cid, u32 proc (CAPSA_VM_PROC_ALL: every one), u32 signo */
    CAPSA_VM_EXIT = 11,     /* agent, id = proc: u32 how (EXITED/SIGNALED), u32 code or signo */
    CAPSA_VM_RESIZE = 12,   /* host, id = proc: u32 rows, u32 cols */
    CAPSA_VM_STATS = 13,    /* host: str cid */
    CAPSA_VM_UPDATE = 14,   /* host: str cid, bytes resources JSON */
    CAPSA_VM_PAUSE = 15,    /* host: str cid */
    CAPSA_VM_RESUME = 16,   /* host: str cid */
    CAPSA_VM_DELETE = 17,   /* host: str cid, u32 flags (FORCE) */
    CAPSA_VM_SHUTDOWN = 18, /* host: nothing (the agent answers OK, then powers off) */
    CAPSA_VM_NET = 19,      /* host: str cid, bytes network (nic.h's text), after CREATE */
    CAPSA_VM_OOMS = 20,     /* host: str cid; OK's data: the count of OOM kills, in decimal */
    CAPSA_VM_PS = 21,       /* host: str cid; OK's data: "PID CMD", then "PID CMDLINE" lines */
};
#define CAPSA_VM_TYPE_MAX 21

/* In a CREATE's config: the container is a CRI pod's member, and joins the
 * namespaces of the container this names (the pod's sandbox, created in the
 * same guest): the agent points each namespace with a path at that
 * container's init's. The host removes it from every config it is given. */
#define CAPSA_VM_POD_ANNOTATION "capsa.vm.sandbox"

#define CAPSA_VM_PROC_ALL  0xffffffffu /* SIGNAL: every process of the container */
#define CAPSA_VM_EXEC_TTY  1u          /* EXEC: a pty (STDOUT carries both streams) */
#define CAPSA_VM_DEL_FORCE 1u          /* DELETE: kill it first */
#define CAPSA_VM_EXITED    0u          /* EXIT: code is the exit status */
#define CAPSA_VM_SIGNALED  1u          /* EXIT: code is the signal */

/* One message. Only the fields of its type are meaningful; pointers point
 * into the frame it was decoded from (or the caller's memory, to encode). */
struct capsa_vm_msg {
    uint8_t type;
    uint32_t id;
    uint32_t magic, version; /* HELLO */
    const char *info;        /* HELLO */
    const char *cid;         /* CREATE START EXEC SIGNAL STATS UPDATE PAUSE RESUME DELETE NET */
    const char *bundle;      /* CREATE */
    const char *message;     /* ERROR */
    uint32_t proc;           /* CREATE EXEC SIGNAL */
    uint32_t flags;          /* EXEC DELETE */
    uint32_t pid;            /* OK */
    uint32_t errnum;         /* ERROR */
    uint32_t signo;          /* SIGNAL */
    uint32_t how, code;      /* EXIT */
    uint32_t rows, cols;     /* RESIZE */
    const uint8_t *data;     /* OK CREATE(config) EXEC(process) STDIN STDOUT STDERR UPDATE NET */
    uint32_t len;
};

/* Text from the guest, made safe to print on the host: every control byte
 * but newline and tab (a terminal's escape sequences) becomes '?'. */
void capsa_vm_clean_text(char *s, size_t len);

/* "CREATE", or "unknown" for a number outside the table. */
const char *capsa_vm_type_name(unsigned type);

/* A growable byte buffer: the reader's input, the writer's queue. Bytes
 * data[off, len) are pending. */
struct capsa_vm_buf {
    uint8_t *data;
    size_t len, cap, off;
};
void capsa_vm_buf_free(struct capsa_vm_buf *b);
/* Append n raw bytes (a queue of stream data). -ENOMEM. */
int capsa_vm_buf_append(struct capsa_vm_buf *b, const void *data, size_t n, struct capsa_err *err);
/* The pending bytes after n more were consumed (written out). */
void capsa_vm_buf_consume(struct capsa_vm_buf *b, size_t n);
static inline size_t capsa_vm_buf_pending(const struct capsa_vm_buf *b)
{
    return b->len - b->off;
}

/* Append m as one frame to out. -EMSGSIZE when it would exceed
 * CAPSA_VM_FRAME_MAX, -EINVAL for an unknown type or a string field that is
 * NULL where required, -ENOMEM. out is unchanged on failure. */
int capsa_vm_encode(const struct capsa_vm_msg *m, struct capsa_vm_buf *out, struct capsa_err *err);

/* Decode the complete frame frame[0, n) (header included) into *m.
 * -EMSGSIZE: len above the maximum; -EPROTO: anything else malformed
 * (n not matching len, unknown type, a field cut short or overlong, a string
 * without its NUL or with an inner one, bytes left over). The message names
 * the type and the field. */
int capsa_vm_decode(const uint8_t *frame, size_t n, struct capsa_vm_msg *m, struct capsa_err *err);

/* A reader over the byte stream: feed it what read(2) returned, then take
 * the frames out one by one. A header announcing a frame too large or too
 * small is an error as soon as its 4 bytes are in, before anything is
 * buffered for it. After an error the stream is out of step: close it. */
struct capsa_vm_reader {
    struct capsa_vm_buf in;
    bool failed;
};
void capsa_vm_reader_free(struct capsa_vm_reader *r);
int capsa_vm_reader_feed(struct capsa_vm_reader *r, const void *data, size_t n,
                         struct capsa_err *err);
/* 1: *m holds the next frame (valid until the next feed or next call);
 * 0: no complete frame yet; < 0: a malformed frame (err says why; *id_out,
 * when not NULL, the frame's id if its header was readable, else 0). */
int capsa_vm_reader_next(struct capsa_vm_reader *r, struct capsa_vm_msg *m, uint32_t *id_out,
                         struct capsa_err *err);

#endif
