/* err.c - filling and wrapping struct capsa_err without allocating. */
#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* err.h wraps these three for the clang analyzer only; the definitions below
 * must keep their names. */
#undef capsa_err_set
#undef capsa_err_setx
#undef capsa_err_wrap

static int ret_of(int errnum)
{
    return errnum > 0 ? -errnum : -EINVAL;
}

__attribute__((format(printf, 4, 0))) static int
vset(struct capsa_err *err, int errnum, int with_strerror, const char *fmt, va_list ap)
{
    if (err == NULL)
        return ret_of(errnum);
    err->errnum = errnum;
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    if (n < 0) {
        err->msg[0] = '\0';
        n = 0;
    }
    if (with_strerror && errnum > 0 && (size_t)n < sizeof err->msg - 1) {
        char buf[128];
        const char *s = strerror_r(errnum, buf, sizeof buf);
        snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", s);
    }
    return ret_of(errnum);
}

int capsa_err_set(struct capsa_err *err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vset(err, errnum, 1, fmt, ap);
    va_end(ap);
    return r;
}

int capsa_err_setx(struct capsa_err *err, int errnum, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vset(err, errnum, 0, fmt, ap);
    va_end(ap);
    return r;
}

int capsa_err_wrap(struct capsa_err *err, const char *fmt, ...)
{
    if (err == NULL)
        return -EINVAL;
    char prefix[CAPSA_ERR_MSG_MAX];
    char old[CAPSA_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    old[sizeof old - 1] = '\0';
    size_t pl = strnlen(prefix, sizeof prefix - 1);
    size_t cap = sizeof err->msg - 1;
    size_t n = pl < cap ? pl : cap;
    memcpy(err->msg, prefix, n);
    if (n + 2 <= cap) {
        memcpy(err->msg + n, ": ", 2);
        n += 2;
    }
    size_t ol = strnlen(old, sizeof old - 1);
    if (ol > cap - n)
        ol = cap - n;
    memcpy(err->msg + n, old, ol);
    err->msg[n + ol] = '\0';
    return ret_of(err->errnum);
}

void capsa_err_clear(struct capsa_err *err)
{
    if (err == NULL)
        return;
    err->errnum = 0;
    err->msg[0] = '\0';
}

int capsa_err_ret(const struct capsa_err *err)
{
    return ret_of(err ? err->errnum : 0);
}
