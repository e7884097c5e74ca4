/* util.h - pure helpers shared by the whole library: cleanup attributes,
 * checked allocation, full reads and writes, string vectors. No policy here. */
#ifndef CAPSA_UTIL_UTIL_H
#define CAPSA_UTIL_UTIL_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util/err.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

void capsa_freep(void *p);
void capsa_closep(const int *fd);
void capsa_fclosep(FILE **f);
void capsa_closedirp(DIR **d);
void capsa_strv_freep(char ***v);

/* Cleanup attributes: every variable carrying one is initialised at its
 * declaration (NULL or -1); the cleanup functions are idempotent and keep errno. */
#define cleanup_free   __attribute__((cleanup(capsa_freep)))
#define cleanup_close  __attribute__((cleanup(capsa_closep)))
#define cleanup_fclose __attribute__((cleanup(capsa_fclosep)))
#define cleanup_dir    __attribute__((cleanup(capsa_closedirp)))
#define cleanup_strv   __attribute__((cleanup(capsa_strv_freep)))

/* Hand ownership on: returns the value and leaves NULL / -1 behind. */
static inline void *capsa_steal_ptr(void *pp)
{
    void **p = (void **)pp;
    void *v = *p;
    *p = NULL;
    return v;
}
static inline int capsa_steal_fd(int *fd)
{
    int v = *fd;
    *fd = -1;
    return v;
}
#define steal_ptr(p) capsa_steal_ptr(&(p))
#define steal_fd(fd) capsa_steal_fd(&(fd))

/* Close fd if >= 0 and set it to -1; keeps errno. */
void capsa_close(int *fd);

/* Write all of buf, retrying on EINTR and short writes. 0 or -errno. */
int capsa_write_all(int fd, const void *buf, size_t len);
/* Read until EOF or len bytes; returns bytes read or -errno. */
ssize_t capsa_read_all(int fd, void *buf, size_t len);
/* Read a whole (small, < max bytes) file at dirfd/path into a NUL-terminated heap buffer. */
int capsa_read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len_out,
                       struct capsa_err *err);
/* Write a string to dirfd/path (O_WRONLY|O_CLOEXEC|O_NOFOLLOW, no create). */
int capsa_write_file_at(int dirfd, const char *path, const char *data, size_t len,
                        struct capsa_err *err);

/* Allocation that returns -ENOMEM through err instead of aborting. */
int capsa_strdup(const char *s, char **out, struct capsa_err *err);
/* asprintf into *out; -ENOMEM via err. */
int capsa_asprintf(char **out, struct capsa_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* NULL-terminated string vectors. */
size_t capsa_strv_len(char *const *v);
void capsa_strv_free(char **v);

/* Parse a decimal integer in [min,max]; the whole string must be consumed. */
int capsa_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* strerror in lower case ("no such file or directory"), as Go and so runc
 * print errno texts: engines match exec errors on those words (Docker maps
 * "no such file or directory" to exit status 127, "permission denied" to 126). */
const char *capsa_strerror_lower(int errnum, char *buf, size_t len);

/* Monotonic time in nanoseconds. */
uint64_t capsa_now_ns(void);

/* True when s is a syntactically valid container ID: 1..255 chars of
 * [A-Za-z0-9_+.-], not "." or "..", no '/'. */
bool capsa_id_valid(const char *id);

#endif
