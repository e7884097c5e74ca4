/* internal.h - what the files of src/lib/level/unikernel share with each other and with
 * their tests, and src/lib/core does not call (its interface is tender.h). */
#ifndef CAPSA_UK_INTERNAL_H
#define CAPSA_UK_INTERNAL_H

#include "util/err.h"

/* Open path inside our root ("/" after pivot_root): no symlink out, no magic
 * link, O_CLOEXEC. Returns the fd or a negative errno with err set. */
int capsa_uk_open_in_root(const char *path, int flags, struct capsa_err *err);

/* The tender's fault report (fault.c): an alternate signal stack and a
 * handler for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGTRAP that writes one
 * line to fd 1 and dies of the same signal. Last step before the filter. */
int capsa_uk_fault_install(struct capsa_err *err);

#endif
