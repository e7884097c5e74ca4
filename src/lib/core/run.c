/* run.c - `run`: create + start + wait in the foreground. The runtime stays
 * the parent of the init, forwards the signals it receives to it and relays
 * the terminal when the container has one (core/relay.c), and deletes the
 * container at the end. */
#include "core/container.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/relay.h"
#include "core/sync.h"
#include "linux/hooks.h"
#include "level/level.h"
#include "util/util.h"

/* Release the init (SYNC_START) and serve it until it has executed the user
 * process: its end of the sync socket is close-on-exec, so EOF means exec. */
static int start_run_mode(const struct capsa_ctx *ctx, struct capsa_created *c,
                          struct capsa_err *err)
{
    int r = capsa_sync_send(c->sync_fd, CAPSA_SYNC_START, 0, NULL, 0, -1, err);
    if (r < 0)
        return r;
    struct capsa_sync_peer peer = {
        .ctx = ctx,
        .sock = c->sync_fd,
        .who = "container init",
        .allowed = CAPSA_SYNC_BIT(CAPSA_SYNC_LOG),
    };
    return capsa_sync_serve(&peer, 0, err);
}

static void run_poststart(const struct capsa_ctx *ctx, struct capsa_created *c)
{
    if (c->spec->hooks.n_poststart == 0)
        return;
    struct capsa_err werr = {0};
    cleanup_free char *json = NULL;
    if (capsa_state_to_json(&c->st, CAPSA_STATUS_RUNNING, false, &json, &werr) < 0)
        capsa_log(ctx, CAPSA_LOG_WARNING, "poststart hooks: %s", werr.msg);
    else
        capsa_hooks_run_all("poststart", c->spec->hooks.poststart, c->spec->hooks.n_poststart, json,
                            capsa_log_warning_cb, (void *)ctx);
}

int capsa_container_run(const struct capsa_ctx *ctx, const char *id,
                        const struct capsa_create_opts *opts, bool detach, int *exit_code,
                        struct capsa_err *err)
{
    *exit_code = 0;
    if (detach) {
        int r = capsa_container_create(ctx, id, opts, err);
        if (r < 0)
            return r;
        r = capsa_container_start(ctx, id, err);
        if (r < 0) {
            struct capsa_err e2 = {0};
            capsa_container_delete(ctx, id, true, &e2);
        }
        return r;
    }
    struct capsa_relay relay;
    int r = capsa_relay_begin(&relay, err);
    if (r < 0)
        return r;
    struct capsa_created c;
    r = capsa_create_internal(ctx, id, opts, true, &c, err);
    if (r < 0)
        goto out;
    /* No pty to resize: the container gets SIGWINCH like any other. */
    if (c.console_fd < 0)
        capsa_relay_add_winch(&relay);
    r = start_run_mode(ctx, &c, err);
    if (r < 0) {
        capsa_create_rollback(&c);
        capsa_created_release(&c);
        goto out;
    }
    /* No state write for "running": a created container without an exec
     * fifo (run mode has none) reads as running (capsa_state_status). */
    c.st.saved = CAPSA_STATUS_RUNNING;
    run_poststart(ctx, &c);
    /* Do not hold the lock while the container runs: kill, state and
     * delete --force from other processes must work meanwhile. */
    capsa_close(&c.dirfd);
    siginfo_t si;
    r = capsa_relay_wait(&relay, c.pidfd, &c.console_fd, exit_code, &si, err);
    /* Say what a death by signal means at this level (a unikernel dies of
     * SIGSYS exactly when it makes a system call its tender did not allow,
     * of SIGSEGV and the like when it faults). */
    const char *signame = NULL, *why = NULL;
    if ((si.si_code == CLD_KILLED || si.si_code == CLD_DUMPED) && c.level->death_reason &&
        (why = c.level->death_reason(si.si_status, &signame)) != NULL)
        capsa_log(ctx, CAPSA_LOG_WARNING, "%s %s killed by %s: %s", c.level->name, id, signame,
                  why);
    capsa_created_release(&c);
    /* --keep (runc): the stopped container stays, state says "stopped",
     * and delete removes it (running the poststop hooks then). */
    if (!opts->keep) {
        struct capsa_err derr = {0};
        int dr = capsa_container_delete(ctx, id, true, &derr);
        if (dr < 0 && dr != -ENOENT)
            capsa_log(ctx, CAPSA_LOG_WARNING, "delete %s: %s", id, derr.msg);
    }
out:
    capsa_relay_end(&relay);
    return r;
}
