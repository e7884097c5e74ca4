/* hooks.h - running OCI hooks (prestart, createRuntime, createContainer,
 * startContainer, poststart, poststop): fork, state JSON on stdin, path/args/env
 * from the spec, `timeout` honoured (SIGKILL on expiry). */
#ifndef CAPSA_LINUX_HOOKS_H
#define CAPSA_LINUX_HOOKS_H

#include <stddef.h>

#include "spec/spec.h"
#include "util/err.h"

/* Run hooks[0..n) in order, each with state_json on its stdin; stop at the
 * first failure (non-zero exit, signal, timeout, exec error) and fill err
 * naming the hook kind ("prestart"), index and path, e.g.
 * `prestart hook #1 (/usr/bin/foo) exited with status 3`. The hook's stdout
 * and stderr are the caller's stderr (never the container's stdio). */
int capsa_hooks_run(const char *kind, const struct capsa_hook *hooks, size_t n,
                    const char *state_json, struct capsa_err *err);

/* For poststart and poststop, whose failures the spec makes warnings: run
 * every hook, reporting each failure through warn (may be NULL). */
void capsa_hooks_run_all(const char *kind, const struct capsa_hook *hooks, size_t n,
                         const char *state_json, void (*warn)(void *opaque, const char *msg),
                         void *opaque);

#endif
