/* relay.h - a foreground process (`run`, `exec` without --detach): the
 * runtime waits for it, forwards the signals it receives, relays the pty when
 * it has one, and returns its exit status. Signals are blocked before the
 * clone and read through a signalfd, so that none is lost between the clone
 * and the wait; the child resets its mask (capsa_signals_reset). */
#ifndef CAPSA_CORE_RELAY_H
#define CAPSA_CORE_RELAY_H

#include <signal.h>
#include <stdbool.h>

#include "util/err.h"

struct capsa_relay {
    int sfd;
    sigset_t fwd, old;
};

/* Block the forwarded signals (all of them but SIGCHLD, SIGWINCH and the
 * synchronous faults: job-control stops included, so that a `kill -TSTP`
 * meant for the container reaches it instead of stopping the runtime, which
 * would then neither relay nor reap) and open the signalfd. */
int capsa_relay_begin(struct capsa_relay *r, struct capsa_err *err);

/* Without a pty to resize, forward SIGWINCH too. */
void capsa_relay_add_winch(struct capsa_relay *r);

/* Wait until the process of pidfd (the runtime's child) exits, forwarding
 * signals to it and relaying *console_fd (when >= 0; closed when the pty
 * goes away). Reaps it; *exit_code is its status, 128+N when killed by
 * signal N; si (may be NULL) receives how it ended. */
int capsa_relay_wait(struct capsa_relay *r, int pidfd, int *console_fd, int *exit_code,
                     siginfo_t *si, struct capsa_err *err);

/* Close the signalfd and restore the signal mask. */
void capsa_relay_end(struct capsa_relay *r);

#endif
