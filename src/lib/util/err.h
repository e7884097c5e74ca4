/* err.h - helpers for capsa's single error type, struct capsa_err (defined in
 * the public header capsa/capsa.h).
 *
 * Every fallible library function returns 0 on success or a negative errno
 * value on failure and, on failure, fills the caller-owned struct capsa_err.
 * The struct is fixed-size so that it can be filled in the post-clone child
 * without allocating and sent over the sync socket as plain bytes.
 * Only the CLI prints errors; library code never logs and then fails.
 */
#ifndef CAPSA_UTIL_ERR_H
#define CAPSA_UTIL_ERR_H

#include <stddef.h>

#include "capsa/capsa.h"

/* Fill err with a message (printf style) and errnum; returns -errnum, or -EINVAL
 * when errnum is 0, so a failing function can `return capsa_err_set(...)`.
 * When errnum != 0 ": strerror(errnum)" is appended. */
int capsa_err_set(struct capsa_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like capsa_err_set but without appending strerror. */
int capsa_err_setx(struct capsa_err *err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix err->msg with "context: "; returns -err->errnum (or -EINVAL). */
int capsa_err_wrap(struct capsa_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#ifdef __clang_analyzer__
#include <errno.h>
/* The analyzer sees err.c only through these prototypes and so assumes the
 * three functions above may return 0, which invents paths where a failed
 * allocation or lookup "succeeds" (r == 0 with a NULL result). err.c's
 * ret_of() guarantees a negative value; state that to the analyzer only. The
 * compiled code is unchanged. */
static inline int capsa_err_neg_(int r)
{
    return r < 0 ? r : -EINVAL;
}
#define capsa_err_set(...)  capsa_err_neg_(capsa_err_set(__VA_ARGS__))
#define capsa_err_setx(...) capsa_err_neg_(capsa_err_setx(__VA_ARGS__))
#define capsa_err_wrap(...) capsa_err_neg_(capsa_err_wrap(__VA_ARGS__))
#endif

/* Reset to "no error". */
void capsa_err_clear(struct capsa_err *err);

/* The negative return value matching err (-errnum or -EINVAL). */
int capsa_err_ret(const struct capsa_err *err);

#endif
