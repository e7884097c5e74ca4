/* container.h - internal glue shared by the lifecycle files (create.c,
 * lifecycle.c, run.c). */
#ifndef CAPSA_CORE_CONTAINER_H
#define CAPSA_CORE_CONTAINER_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

#include "capsa/capsa.h"
#include "core/state.h"
#include "linux/cgroup.h"
#include "spec/spec.h"

/* What a successful internal create hands back. */
struct capsa_created {
    struct capsa_spec *spec;
    struct capsa_state st;
    int rootfd;
    int dirfd; /* locked state directory */
    pid_t pid; /* init pid (our child) */
    int pidfd;
    int sync_fd;             /* parent end; the init holds its end until exec */
    int console_fd;          /* pty master when process.terminal and no console socket, else -1 */
    struct capsa_cgroup *cg; /* NULL when the container has no cgroup (rootless) */
    const struct capsa_level *level; /* its isolation level (level/level.h) */
};

void capsa_created_release(struct capsa_created *c);

/* create for `create` (fifo mode) or `run` (run_mode: the init waits for SYNC_START). */
int capsa_create_internal(const struct capsa_ctx *ctx, const char *id,
                          const struct capsa_create_opts *opts, bool run_mode,
                          struct capsa_created *out, struct capsa_err *err);

/* restore: the bundle, state directory and cgroup as create makes them,
 * then fn brings the process back (setting c->pid and c->pidfd; the
 * systemd scope, if any, is held until it returns); the state is written as
 * running. On failure everything is rolled back. */
typedef int (*capsa_restore_fn)(void *opaque, struct capsa_created *c, struct capsa_err *err);
int capsa_create_restore(const struct capsa_ctx *ctx, const char *id,
                         const struct capsa_create_opts *opts, capsa_restore_fn fn, void *opaque,
                         struct capsa_created *c, struct capsa_err *err);

/* Kill (SIGKILL) a created-but-failed container and remove its state. */
void capsa_create_rollback(struct capsa_created *c);

/* An existing container, its state directory locked. */
struct capsa_opened {
    int rootfd;
    int dirfd; /* locked */
    struct capsa_state st;
    enum capsa_status status; /* live; paused when its cgroup is frozen (CAPSA_OPEN_CGROUP) */
    struct capsa_cgroup *cg;  /* with CAPSA_OPEN_CGROUP: NULL when it has none */
};
#define CAPSA_OPEN_CGROUP 1u

/* Open and lock the container id under ctx->root, read its state and live
 * status (and its cgroup with CAPSA_OPEN_CGROUP). Errors name the id. */
int capsa_container_open(const struct capsa_ctx *ctx, const char *id, unsigned flags,
                         struct capsa_opened *o, struct capsa_err *err);
void capsa_opened_release(struct capsa_opened *o);

/* The fds 3..3+passed-1 are the caller's, handed to the container process
 * (--preserve-fds, LISTEN_FDS): none of ours[0..n) may sit there, or a
 * runtime fd would reach the container. */
int capsa_check_passed_fds(const int *ours, size_t n, int passed, struct capsa_err *err);

/* Log through ctx->log. */
void capsa_log(const struct capsa_ctx *ctx, enum capsa_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A warning callback for the linux/ and spec/ code: opaque is the struct
 * capsa_ctx. */
void capsa_log_warning_cb(void *opaque, const char *msg);

/* pidfd for st->pid, verified against the recorded start time (so a reused
 * pid is never signalled). -ESRCH when the container's init is gone. */
int capsa_state_pidfd(const struct capsa_state *st);

/* Run the poststop hooks of the container whose state dir is dirfd (config
 * copy taken at create); failures are logged as warnings. */
void capsa_run_poststop(const struct capsa_ctx *ctx, int dirfd, const struct capsa_state *st);

/* The container's cgroup from its state (NULL and 0 when it has none). */
int capsa_state_cgroup(const struct capsa_state *st, struct capsa_cgroup **out,
                       struct capsa_err *err);

/* Wait until pidfd's process is gone (bounded), reaping it when it is our child. */
void capsa_wait_gone(int pidfd);

#endif
