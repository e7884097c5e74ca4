/* capsa.h - the public library API of capsa, an OCI container runtime.
 *
 * The command line (src/cli) is a thin layer over these functions; nothing in
 * the library knows about argv. Every function returns 0 on success or a
 * negative errno value and fills *err (see struct capsa_err) on failure.
 */
#ifndef CAPSA_CAPSA_H
#define CAPSA_CAPSA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPSA_ERR_MSG_MAX 1024

/* The single error type: fixed size, owned by the caller, no allocation. */
struct capsa_err {
    int errnum;                  /* positive errno, or 0 when no OS error applies */
    char msg[CAPSA_ERR_MSG_MAX]; /* human readable; names the field or path at fault */
};

enum capsa_log_level {
    CAPSA_LOG_ERROR = 0,
    CAPSA_LOG_WARNING = 1,
    CAPSA_LOG_INFO = 2,
    CAPSA_LOG_DEBUG = 3,
};

/* Where the library sends warnings and debug lines (errors are returned). */
typedef void (*capsa_log_fn)(void *opaque, enum capsa_log_level level, const char *msg);

/* Global options, the equivalent of runc's global flags. */
struct capsa_ctx {
    const char *root;    /* state directory root, e.g. /run/capsa */
    bool systemd_cgroup; /* --systemd-cgroup (not supported yet: create fails clearly) */
    bool rootless;       /* --rootless (accepted) */
    /* The isolation level of a container whose config does not choose one
     * (annotation capsa.isolation): this runtime entry's default, from
     * --isolation, the binary's name (capsa-LEVEL) or the configuration
     * file. NULL: native. */
    const char *default_level;
    /* --allow-tcg / allow_tcg = true: the vm level may run a VM without KVM,
     * in software (TCG), which is no security boundary (tests, development). */
    bool allow_tcg;
    /* --criu: the CRIU binary checkpoint and restore run (NULL: "criu",
     * looked up in $PATH). */
    const char *criu;
    enum capsa_log_level log_level;
    capsa_log_fn log;
    void *log_opaque;
};

struct capsa_create_opts {
    const char *bundle;         /* default: current directory */
    const char *config;         /* default: <bundle>/config.json */
    const char *console_socket; /* unix socket receiving the pty master */
    const char *pid_file;       /* written with the init pid */
    bool no_pivot;              /* MS_MOVE + chroot instead of pivot_root */
    bool no_new_keyring;        /* keep the caller's session keyring */
    int preserve_fds;           /* fds 3..3+N-1 passed to the container */
    bool keep;                  /* run: do not delete the container once it exits */
    /* systemd socket activation (the caller's LISTEN_FDS, for this pid): fds
     * 3..3+N-1 are passed first, then the preserved ones, and the process
     * gets LISTEN_FDS=N and LISTEN_PID=<its pid>, as runc does. */
    int listen_fds;
};

/* create: set the container up; its init waits for `start`. */
int capsa_container_create(const struct capsa_ctx *ctx, const char *id,
                           const struct capsa_create_opts *opts, struct capsa_err *err);

/* start: release the init of a created container; returns once the user
 * process has been executed (and the poststart hooks have run). */
int capsa_container_start(const struct capsa_ctx *ctx, const char *id, struct capsa_err *err);

/* checkpoint and restore (runc's flags; CRIU does the work, see
 * docs/checkpoint.md). Unset strings are NULL, status_fd is -1 when unset. */
struct capsa_checkpoint_opts {
    const char *image_path;  /* required: where the images go / come from */
    const char *work_path;   /* CRIU's work files and log (default: image_path) */
    const char *parent_path; /* checkpoint: the pre-dump to build on, relative to image_path */
    bool leave_running;      /* checkpoint: the container keeps running */
    bool pre_dump;           /* checkpoint: memory only, the container keeps running */
    bool tcp_established, tcp_skip_in_flight, link_remap, ext_unix_sk, shell_job, file_locks,
        auto_dedup, lazy_pages;
    int status_fd;                   /* checkpoint --lazy-pages: written once the server is up */
    const char *page_server;         /* checkpoint: ADDRESS:PORT */
    const char *manage_cgroups_mode; /* soft, full, strict, ignore (NULL: CRIU's default) */
    const char *const *empty_ns;     /* namespaces CRIU makes empty ("network") */
    size_t n_empty_ns;
    const char *const *external; /* CRIU --external values, passed as they are */
    size_t n_external;
    const char *lsm_profile, *lsm_mount_context; /* restore */
};

/* checkpoint: save a running (or paused) container's processes to
 * opts->image_path with CRIU; the container is removed afterwards unless
 * leave_running or pre_dump. */
int capsa_container_checkpoint(const struct capsa_ctx *ctx, const char *id,
                               const struct capsa_checkpoint_opts *opts, struct capsa_err *err);

/* restore: a new container id from the bundle in create (as create does:
 * state, cgroup) whose processes CRIU restores from opts->image_path. With
 * detach, returns once it runs (its pid is the runtime's former child);
 * otherwise waits for it like run, *exit_code as there, and deletes it. */
int capsa_container_restore(const struct capsa_ctx *ctx, const char *id,
                            const struct capsa_create_opts *create,
                            const struct capsa_checkpoint_opts *opts, bool detach, int *exit_code,
                            struct capsa_err *err);

/* run: create + start + wait in the foreground, forwarding signals (and
 * relaying the terminal when process.terminal is set), then delete.
 * *exit_code receives the process exit status, or 128+N when killed by
 * signal N. With detach, returns after start and leaves the container running.
 * With opts->keep, the stopped container is left for `state` and `delete`. */
int capsa_container_run(const struct capsa_ctx *ctx, const char *id,
                        const struct capsa_create_opts *opts, bool detach, int *exit_code,
                        struct capsa_err *err);

/* Options of `exec` (runc's flags). Without process_file the process starts
 * as the container's own (its stored config) and the fields below override
 * it; with process_file the whole OCI process object comes from that file. */
struct capsa_exec_opts {
    const char *process_file; /* --process: a JSON OCI process object */
    char *const *args;        /* the command (NULL or empty: keep the configured one) */
    size_t n_args;
    const char *cwd;  /* --cwd */
    char *const *env; /* --env K=V, appended; a key already set is replaced */
    size_t n_env;
    bool has_user; /* --user uid[:gid] */
    uint32_t uid;
    bool has_gid;
    uint32_t gid;
    const uint32_t *additional_gids; /* --additional-gids (added to the configured ones, as runc) */
    size_t n_additional_gids;
    char *const *caps; /* --cap NAME: added to bounding, effective, permitted (and ambient
                        * when the process has inheritable capabilities) */
    size_t n_caps;
    bool no_new_privs;          /* --no-new-privs */
    const char *apparmor;       /* --apparmor profile */
    const char *process_label;  /* --process-label (SELinux) */
    bool tty;                   /* --tty: a new pty for the process */
    const char *console_socket; /* receives the pty master (with tty) */
    bool detach;                /* return once the process has been executed */
    const char *pid_file;       /* written with the host pid of the process */
    int preserve_fds;           /* fds 3..3+N-1 passed to the process */
    /* --cgroup [CONTROLLER[,CONTROLLER...]:]PATH (runc's): existing
     * sub-cgroups of the container's to put the process in. */
    char *const *cgroups;
    size_t n_cgroups;
    bool ignore_paused; /* --ignore-paused: a paused container too (the
                         * process starts when it is resumed) */
};

/* exec: run another process inside a created or running container: it joins
 * every namespace and the cgroup of the container's init and gets the
 * process attributes (user, capabilities, rlimits, LSM labels, ...). Refused
 * for stopped containers, and for paused ones unless ignore_paused. Without detach, waits for the
 * process (forwarding signals, relaying the pty when tty and no console socket) and stores its exit
 * status in *exit_code (128+N when killed by signal N). */
int capsa_container_exec(const struct capsa_ctx *ctx, const char *id,
                         const struct capsa_exec_opts *opts, int *exit_code, struct capsa_err *err);

/* kill: send sig to the init (all == false) or every process of the container. */
int capsa_container_kill(const struct capsa_ctx *ctx, const char *id, int sig, bool all,
                         struct capsa_err *err);

/* delete: remove a stopped (or, with force, any) container: kill, poststop
 * hooks, state. */
int capsa_container_delete(const struct capsa_ctx *ctx, const char *id, bool force,
                           struct capsa_err *err);

/* state: the OCI state of one container as a JSON document (heap string). */
int capsa_container_state(const struct capsa_ctx *ctx, const char *id, char **json_out,
                          struct capsa_err *err);

struct capsa_list_entry {
    char *id;
    int pid;
    char *status;
    char *bundle;
    char *created; /* RFC 3339 */
    char *owner;
};

/* list: every container under ctx->root, sorted by id. */
int capsa_container_list(const struct capsa_ctx *ctx, struct capsa_list_entry **out, size_t *n,
                         struct capsa_err *err);
void capsa_list_free(struct capsa_list_entry *entries, size_t n);

/* One runc `update` flag, e.g. {"memory", "512m"}, {"cpu-quota", "50000"}. */
struct capsa_update_opt {
    const char *flag; /* runc's flag name without "--" */
    const char *value;
};

/* update: change linux.resources of a created, running or paused container.
 * resources_json (may be NULL) is an OCI LinuxResources object; the flags
 * override its fields. The new values are applied to the cgroup and kept in
 * the container's stored config. */
int capsa_container_update(const struct capsa_ctx *ctx, const char *id, const char *resources_json,
                           size_t len, const struct capsa_update_opt *opts, size_t n_opts,
                           struct capsa_err *err);

/* pause / resume: freeze / thaw every process of the container (cgroup freezer). */
int capsa_container_pause(const struct capsa_ctx *ctx, const char *id, struct capsa_err *err);
int capsa_container_resume(const struct capsa_ctx *ctx, const char *id, struct capsa_err *err);

/* The pids (host view) of every process in the container's cgroup. */
int capsa_container_pids(const struct capsa_ctx *ctx, const char *id, int **pids, size_t *n,
                         struct capsa_err *err);

/* ps: the container's processes as its level sees them. *table is NULL
 * when the pids are the host's (the caller lists them, as runc runs the
 * host's ps), else the level's own listing, a "PID CMD" header and one
 * line per process (vm: the guest's processes, with the guest's pids). */
int capsa_container_ps(const struct capsa_ctx *ctx, const char *id, int **pids, size_t *n,
                       char **table, struct capsa_err *err);

/* events: a stats event {"type":"stats","id":...,"data":{...}} in runc's
 * format, as one JSON line (heap string). */
int capsa_container_stats(const struct capsa_ctx *ctx, const char *id, char **json_out,
                          struct capsa_err *err);

/* A count that rises with every OOM event of the container: its cgroup's
 * OOMs (the limit reached) and OOM kills (by any OOM killer) together; at
 * the vm level, the guest's. */
int capsa_container_ooms(const struct capsa_ctx *ctx, const char *id, uint64_t *ooms,
                         struct capsa_err *err);

/* events stream: every interval_ms a stats event, and an {"type":"oom"} event
 * when the kernel OOM-killed a process of the container, through emit (one
 * JSON document per call), until the container stops or emit returns < 0. */
int capsa_container_events(const struct capsa_ctx *ctx, const char *id, unsigned interval_ms,
                           int (*emit)(void *opaque, const char *json), void *opaque,
                           struct capsa_err *err);

/* The default config.json (like `runc spec`), pretty-printed. */
int capsa_default_spec(bool rootless, char **json_out, struct capsa_err *err);

/* The OCI features document (what this build really implements). */
int capsa_features(char **json_out, struct capsa_err *err);

/* Parse a signal: "TERM", "SIGTERM", "15", "SIGRTMIN+3", or "0" (no signal:
 * `kill ID 0` only checks that the container runs, as with runc). -EINVAL
 * when unknown. */
int capsa_signal_parse(const char *s, int *sig);

/* Protect the running binary against being overwritten from a container
 * (CVE-2019-5736 class): unless it already runs from a read-only mount,
 * re-execute it from a private read-only bind of itself (no copy). Returns
 * only on error or when nothing needed doing. */
int capsa_self_protect(char *const argv[], struct capsa_err *err);

const char *capsa_version(void);

#endif
