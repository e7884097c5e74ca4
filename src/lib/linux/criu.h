/* criu.h - checkpoint/restore through CRIU's RPC service (`criu swrk`).
 *
 * runc and crun drive CRIU through its RPC interface rather than its command
 * line, because several things they need exist only there: the restored
 * tree's root as a sibling of the caller (so the runtime, or the engine's
 * shim, is its parent), inheriting the caller's file descriptors by key, the
 * notifications at each stage (post-restore with the new pid, setup-namespaces
 * for the hooks), and the pty master of a restored terminal
 * (orphan-pts-master). capsa does the same with its own small client: Debian
 * packages no libcriu, and the protocol is plain protobuf (proto2) over a
 * SOCK_SEQPACKET socket, one message per packet (CRIU's images/rpc.proto).
 *
 * Wire format: each field is a varint key (field number << 3 | wire type)
 * then a varint (type 0: ints, bools, enums), or a varint length and that
 * many bytes (type 2: strings and nested messages). Types 1 and 5 (fixed
 * 64/32 bits) are skipped when read.
 */
#ifndef CAPSA_LINUX_CRIU_H
#define CAPSA_LINUX_CRIU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

/* The largest reply accepted (CRIU's answers are a few hundred bytes). */
#define CAPSA_CRIU_MAX_MSG ((size_t)65536)

/* criu_req_type */
enum capsa_criu_type {
    CAPSA_CRIU_EMPTY = 0,
    CAPSA_CRIU_DUMP = 1,
    CAPSA_CRIU_RESTORE = 2,
    CAPSA_CRIU_CHECK = 3,
    CAPSA_CRIU_PRE_DUMP = 4,
    CAPSA_CRIU_NOTIFY = 6,
    CAPSA_CRIU_FEATURE_CHECK = 9,
    CAPSA_CRIU_VERSION = 10,
};

/* criu_cg_mode */
enum capsa_criu_cg_mode {
    CAPSA_CRIU_CG_UNSET = -1,
    CAPSA_CRIU_CG_IGNORE = 0,
    CAPSA_CRIU_CG_SOFT = 3,
    CAPSA_CRIU_CG_FULL = 4,
    CAPSA_CRIU_CG_STRICT = 5,
    CAPSA_CRIU_CG_DEFAULT = 6,
};

/* "" (default), soft, full, strict, ignore -> the mode; -EINVAL otherwise. */
int capsa_criu_cg_mode_parse(const char *s, enum capsa_criu_cg_mode *out);

struct capsa_criu_pair {
    char *a, *b; /* ext_mnt key/val, join_ns ns/file, cg_root ctrl (may be NULL)/path */
};
struct capsa_criu_fdkey {
    char *key;
    int fd; /* criu's fd number */
};

/* A request: the criu_req with its criu_opts. Strings and lists are owned
 * (capsa_criu_req_free); zero/false/NULL fields are not sent, except where
 * noted. Build with capsa_criu_req_init. */
struct capsa_criu_req {
    enum capsa_criu_type type;
    bool notify_success; /* the answer to a NOTIFY */
    bool has_opts;       /* send criu_opts (dump, pre-dump, restore) */
    /* criu_opts */
    int images_dir_fd; /* required in opts */
    int work_dir_fd;   /* -1: not sent */
    int pid;
    int log_level;
    int status_fd; /* -1: not sent */
    char *log_file, *root, *parent_img, *freeze_cgroup, *config_file, *lsm_profile,
        *lsm_mount_context, *ps_address;
    int ps_port;
    bool leave_running, ext_unix_sk, tcp_established, tcp_skip_in_flight, evasive_devices,
        shell_job, file_locks, notify_scripts, track_mem, auto_dedup, link_remap, rst_sibling,
        orphan_pts_master, lazy_pages, manage_cgroups;
    enum capsa_criu_cg_mode cg_mode;
    uint32_t empty_ns; /* CLONE_NEW* bits */
    struct capsa_criu_pair *ext_mnt, *join_ns, *cg_root;
    size_t n_ext_mnt, n_join_ns, n_cg_root;
    char **external;
    size_t n_external;
    struct capsa_criu_fdkey *inherit_fd;
    size_t n_inherit_fd;
    /* criu_features (FEATURE_CHECK) */
    bool feat_mem_track, feat_lazy_pages;
};

void capsa_criu_req_init(struct capsa_criu_req *r, enum capsa_criu_type type);
void capsa_criu_req_free(struct capsa_criu_req *r);
int capsa_criu_set_str(char **field, const char *s, struct capsa_err *err);
int capsa_criu_add_ext_mnt(struct capsa_criu_req *r, const char *key, const char *val,
                           struct capsa_err *err);
int capsa_criu_add_join_ns(struct capsa_criu_req *r, const char *ns, const char *file,
                           struct capsa_err *err);
int capsa_criu_add_cg_root(struct capsa_criu_req *r, const char *ctrl, const char *path,
                           struct capsa_err *err);
int capsa_criu_add_external(struct capsa_criu_req *r, const char *ext, struct capsa_err *err);
int capsa_criu_add_inherit_fd(struct capsa_criu_req *r, const char *key, int fd,
                              struct capsa_err *err);

/* Pure: the request's bytes (malloc'ed). */
int capsa_criu_encode(const struct capsa_criu_req *r, uint8_t **out, size_t *len,
                      struct capsa_err *err);

/* A reply (criu_resp), the strings copied (truncated) into it. */
struct capsa_criu_resp {
    int type;
    bool success;
    bool has_restore_pid;
    int32_t restore_pid;
    bool dump_restored;
    char script[64]; /* notify.script */
    int32_t notify_pid;
    int32_t cr_errno;
    char errmsg[512];
    bool has_version;
    int32_t ver_major, ver_minor, ver_sublevel;
    bool feat_mem_track, feat_lazy_pages;
};

/* Pure and bounds-checked (the peer is a separate program; fuzzed in
 * tests/fuzz/fuzz_criu.c): -EBADMSG with a message on malformed input or a
 * missing required field (type, success). */
int capsa_criu_parse(const uint8_t *p, size_t n, struct capsa_criu_resp *out,
                     struct capsa_err *err);

/* A running `criu swrk 3`. */
struct capsa_criu {
    pid_t pid;
    int sock;
    const char *path;
};

/* Start PATH (a name is looked up in $PATH; NULL: "criu") as `criu swrk 3`
 * with its end of a SOCK_SEQPACKET pair on fd 3, fds[i] on fd 4+i, our
 * stdin/stdout/stderr, and nothing else. A missing or unexecutable binary is
 * a clear error (ENOENT: "criu not found ..."). */
int capsa_criu_spawn(const char *path, const int *fds, size_t n_fds, struct capsa_criu *out,
                     struct capsa_err *err);

/* For each NOTIFY: the script name, its pid and the fd that came with it
 * (-1 if none; the callee owns it). A negative return aborts the call. */
typedef int (*capsa_criu_notify_fn)(void *opaque, const char *script, int pid, int fd,
                                    struct capsa_err *err);

/* Send req, answer notifications (through fn, which may be NULL) until the
 * final reply, which is returned in *resp; -EPROTO/-EPIPE with a message when
 * criu breaks the exchange. The caller checks resp->success. */
int capsa_criu_call(struct capsa_criu *c, const struct capsa_criu_req *req, capsa_criu_notify_fn fn,
                    void *opaque, struct capsa_criu_resp *resp, struct capsa_err *err);

/* Close the socket and reap criu: its wait status in *status (may be NULL).
 * Safe to call twice. */
void capsa_criu_end(struct capsa_criu *c, int *status);

/* One VERSION request in its own criu: 10000*major + 100*minor + sublevel. */
int capsa_criu_version(const char *path, int *version, struct capsa_err *err);

/* The cause of a failure in a CRIU log (dirfd/name): its last three lines
 * that say "Error", without their "(time) Error (file:line): " prefix,
 * joined with "; " into buf; "" when there is none or the log cannot be
 * read. */
void capsa_criu_log_error(int dirfd, const char *name, char *buf, size_t len);

#endif
