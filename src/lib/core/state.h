/* state.h - the per-container state directory under the runtime root:
 * <root>/<id>/state.json (written atomically), config.json (copy taken at
 * create), exec.fifo (present between create and start). The directory fd is
 * flock()ed so that commands on one ID are serialized; mkdir() makes creating
 * an ID atomic, so exactly one of several concurrent creates wins. */
#ifndef CAPSA_CORE_STATE_H
#define CAPSA_CORE_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "linux/process.h"
#include "spec/spec.h"
#include "util/err.h"

#define CAPSA_STATE_FILE  "state.json"
#define CAPSA_CONFIG_FILE "config.json"
#define CAPSA_FIFO_FILE   "exec.fifo"

enum capsa_status {
    CAPSA_STATUS_CREATING,
    CAPSA_STATUS_CREATED,
    CAPSA_STATUS_RUNNING,
    CAPSA_STATUS_PAUSED,
    CAPSA_STATUS_STOPPED,
};

struct capsa_state {
    char *id;
    char *oci_version;
    pid_t pid;                /* 0 before the init exists */
    unsigned long long start; /* init start time (/proc/<pid>/stat field 22) */
    char *bundle;
    char *rootfs;
    char *created; /* RFC 3339, UTC, nanoseconds */
    char *owner;
    enum capsa_status saved; /* creating, created or running as last written */
    bool new_pidns;          /* the container has its own pid namespace */
    bool shared_mntns;       /* no mount namespace: mounts under rootfs are ours to remove */
    struct capsa_kv *annotations;
    size_t n_annotations;
    char *cgroup; /* capsa_cgroup_encode() text, NULL when the container has no cgroup */
    /* The transient unit of the systemd cgroup driver ("capsa-ID.scope"),
     * NULL with the cgroupfs driver: delete stops it, update sets its
     * properties. */
    char *systemd_unit;
    /* The isolation level (level/level.h; NULL in a state written before
     * levels were recorded: native) and the host-side helper its create
     * started (interpose: the supervisor), 0 when none. */
    char *level;
    pid_t helper_pid;
    unsigned long long helper_start;
    /* Whether config.json has poststart / poststop hooks, recorded at create
     * so that start and delete parse the config only when they must. Both
     * true when read from a state file that does not say (hooks_known). */
    bool hooks_known, has_poststart, has_poststop;
};

const char *capsa_status_name(enum capsa_status s);

/* Open (creating with mode 0700 if needed) the runtime root. */
int capsa_state_root_open(const char *root, int *fd_out, struct capsa_err *err);

/* Create <root>/<id> exclusively and lock it. -EEXIST when the id exists. */
int capsa_state_dir_create(int rootfd, const char *id, int *dirfd_out, struct capsa_err *err);
/* Open and lock an existing <root>/<id>. -ENOENT (with a message) when absent. */
int capsa_state_dir_open(int rootfd, const char *id, int *dirfd_out, struct capsa_err *err);
/* Remove <root>/<id> and its files (dirfd stays valid until closed). */
int capsa_state_dir_remove(int rootfd, int dirfd, const char *id, struct capsa_err *err);

int capsa_state_write(int dirfd, const struct capsa_state *st, struct capsa_err *err);
int capsa_state_read(int dirfd, struct capsa_state *st, struct capsa_err *err);
/* The parser behind capsa_state_read, on bytes (the file is runtime-written
 * but lives in a directory other root processes can write: treat as
 * untrusted; fuzzed in tests/fuzz). On failure *st is cleared. */
int capsa_state_parse(const char *buf, size_t len, struct capsa_state *st, struct capsa_err *err);
void capsa_state_clear(struct capsa_state *st);

/* The live status: stopped when the init is gone, a zombie or a different
 * process (pid reuse, detected through the start time). */
enum capsa_status capsa_state_status(int dirfd, const struct capsa_state *st);

/* Fill st->owner, when the state file has none, with the name of the user
 * owning the state directory (runc's "owner"), from the host's /etc/passwd
 * or as a number. Only `state` and `list` show it: create does not pay for
 * a user database lookup. */
void capsa_state_fill_owner(int dirfd, struct capsa_state *st);

/* The OCI state JSON for hooks and `state` (status given explicitly). */
int capsa_state_to_json(const struct capsa_state *st, enum capsa_status status, bool full,
                        char **out, struct capsa_err *err);

/* Write data to dirfd/name atomically (temp file + rename). */
int capsa_write_atomic(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                       struct capsa_err *err);

/* Write pid to path (create and exec --pid-file), atomically. */
int capsa_write_pid_file(const char *path, pid_t pid, struct capsa_err *err);

/* RFC 3339 UTC timestamp with nanoseconds, like Go's time.RFC3339Nano. */
int capsa_timestamp_now(char **out, struct capsa_err *err);

#endif
