/* util.c - pure helpers: cleanup, full I/O, small allocations, parsing. */
#include "util/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void capsa_freep(void *p)
{
    void **pp = (void **)p;
    int saved = errno;
    free(*pp);
    *pp = NULL;
    errno = saved;
}

void capsa_close(int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        *fd = -1;
        errno = saved;
    }
}

void capsa_closep(const int *fd)
{
    if (*fd >= 0) {
        int saved = errno;
        close(*fd);
        errno = saved;
    }
}

void capsa_fclosep(FILE **f)
{
    if (*f != NULL) {
        int saved = errno;
        (void)fclose(*f);
        *f = NULL;
        errno = saved;
    }
}

void capsa_closedirp(DIR **d)
{
    if (*d != NULL) {
        int saved = errno;
        closedir(*d);
        *d = NULL;
        errno = saved;
    }
}

void capsa_strv_free(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p != NULL; p++)
        free(*p);
    free(v);
}

void capsa_strv_freep(char ***v)
{
    int saved = errno;
    capsa_strv_free(*v);
    *v = NULL;
    errno = saved;
}

size_t capsa_strv_len(char *const *v)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    return n;
}

int capsa_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (w == 0)
            return -EIO;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

ssize_t capsa_read_all(int fd, void *buf, size_t len)
{
    char *p = buf;
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, p + got, len - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

int capsa_read_file_at(int dirfd, const char *path, size_t max, char **out, size_t *len_out,
                       struct capsa_err *err)
{
    cleanup_close int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return capsa_err_set(err, errno, "open %s", path);
    size_t cap = 4096, len = 0;
    cleanup_free char *buf = malloc(cap);
    if (buf == NULL)
        return capsa_err_set(err, ENOMEM, "read %s", path);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap >= max)
                return capsa_err_setx(err, EFBIG, "read %s: file larger than %zu bytes", path, max);
            size_t ncap = cap * 2 > max ? max : cap * 2;
            char *nb = realloc(buf, ncap);
            if (nb == NULL)
                return capsa_err_set(err, ENOMEM, "read %s", path);
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return capsa_err_set(err, errno, "read %s", path);
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    *out = steal_ptr(buf);
    if (len_out)
        *len_out = len;
    return 0;
}

int capsa_write_file_at(int dirfd, const char *path, const char *data, size_t len,
                        struct capsa_err *err)
{
    cleanup_close int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
    if (fd < 0)
        return capsa_err_set(err, errno, "open %s", path);
    int r = capsa_write_all(fd, data, len);
    if (r < 0)
        return capsa_err_set(err, -r, "write %s", path);
    return 0;
}

int capsa_strdup(const char *s, char **out, struct capsa_err *err)
{
    *out = strdup(s);
    if (*out == NULL)
        return capsa_err_set(err, ENOMEM, "strdup");
    return 0;
}

int capsa_asprintf(char **out, struct capsa_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(out, fmt, ap);
    va_end(ap);
    if (n < 0) {
        *out = NULL;
        return capsa_err_set(err, ENOMEM, "asprintf");
    }
    return 0;
}

int capsa_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    if (s == NULL || *s == '\0')
        return -EINVAL;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -EINVAL;
    if (v < min || v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

uint64_t capsa_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

bool capsa_id_valid(const char *id)
{
    if (id == NULL)
        return false;
    size_t n = strlen(id);
    if (n == 0 || n > 255)
        return false;
    if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
        return false;
    for (const char *p = id; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

const char *capsa_strerror_lower(int errnum, char *buf, size_t len)
{
    if (len == 0)
        return "";
    const char *s = strerror_r(errnum, buf, len);
    if (s != buf) {
        snprintf(buf, len, "%s", s);
    }
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}
