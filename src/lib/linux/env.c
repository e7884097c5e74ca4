/* env.c - the environment the user process starts with: HOME, when the
 * config leaves it out, is the home directory of the process's uid in the
 * container's /etc/passwd, or "/" (runc's and crun's behaviour for run and
 * exec; shells and many programs misbehave without it).
 *
 * The passwd file belongs to the (hostile) image: it is opened in our root
 * with RESOLVE_IN_ROOT (no symlink or ".." out of it, no magic link), must be
 * a regular file (a FIFO could block us, a device could be anything), and
 * only its first CAPSA_PASSWD_MAX bytes are read. */
#include "linux/process.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sys/sys.h"
#include "util/util.h"

#define CAPSA_PASSWD_MAX ((size_t)4 << 20)

/* The n-th ':'-separated field of line [s, end) (0-based) as [*f, *fend). */
static bool field(const char *s, const char *end, int n, const char **f, const char **fend)
{
    for (int i = 0; i < n; i++) {
        const char *c = memchr(s, ':', (size_t)(end - s));
        if (c == NULL)
            return false;
        s = c + 1;
    }
    const char *c = memchr(s, ':', (size_t)(end - s));
    *f = s;
    *fend = c != NULL ? c : end;
    return true;
}

int capsa_passwd_home(const char *buf, size_t len, uid_t uid, char *out, size_t outlen)
{
    const char *end = buf + len;
    for (const char *line = buf; line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        const char *lend = nl != NULL ? nl : end;
        const char *next = nl != NULL ? nl + 1 : end;
        /* Surrounding white space is ignored, as runc's parser does. */
        while (line < lend && (*line == ' ' || *line == '\t' || *line == '\r'))
            line++;
        while (lend > line && (lend[-1] == ' ' || lend[-1] == '\t' || lend[-1] == '\r'))
            lend--;
        const char *f, *fend, *h, *hend;
        if (field(line, lend, 2, &f, &fend) && field(line, lend, 5, &h, &hend) && fend > f &&
            (size_t)(fend - f) < 16) {
            char num[16];
            memcpy(num, f, (size_t)(fend - f));
            num[fend - f] = '\0';
            int64_t v;
            if (capsa_parse_int64(num, 0, UINT32_MAX, &v) == 0 && (uid_t)v == uid) {
                size_t hl = (size_t)(hend - h);
                if (hl >= outlen || memchr(h, '\0', hl) != NULL)
                    return 0; /* unusable: take the default */
                memcpy(out, h, hl);
                out[hl] = '\0';
                return 1;
            }
        }
        line = next;
    }
    return 0;
}

/* The home of uid from /etc/passwd in our root, or "/" when there is no
 * such file, no such entry, or the file is not a regular file. */
static void lookup_home(uid_t uid, char *out, size_t outlen)
{
    snprintf(out, outlen, "/");
    cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return;
    cleanup_close int fd =
        capsa_open_in_root(root, "/etc/passwd", O_RDONLY | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
        return;
    size_t want = st.st_size > 0 && (size_t)st.st_size < CAPSA_PASSWD_MAX ? (size_t)st.st_size
                                                                          : CAPSA_PASSWD_MAX;
    cleanup_free char *buf = malloc(want + 1);
    if (buf == NULL)
        return;
    ssize_t n = capsa_read_all(fd, buf, want);
    if (n <= 0)
        return;
    char home[PATH_MAX];
    if (capsa_passwd_home(buf, (size_t)n, uid, home, sizeof home) == 1)
        snprintf(out, outlen, "%s", home);
}

int capsa_process_env_home(const struct capsa_process *p, char ***out, struct capsa_err *err)
{
    *out = NULL;
    size_t n = p->env != NULL ? capsa_strv_len(p->env) : 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(p->env[i], "HOME=", 5) == 0 && p->env[i][5] != '\0')
            return 0; /* the config's own HOME stays */
    char home[PATH_MAX];
    lookup_home(p->user.uid, home, sizeof home);
    cleanup_strv char **v = calloc(n + 2, sizeof *v);
    if (v == NULL)
        return capsa_err_set(err, ENOMEM, "process.env");
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(p->env[i], "HOME=") == 0)
            continue; /* an empty HOME counts as none (runc) */
        if ((v[k] = strdup(p->env[i])) == NULL)
            return capsa_err_set(err, ENOMEM, "process.env");
        k++;
    }
    if (capsa_asprintf(&v[k], err, "HOME=%s", home) < 0)
        return -ENOMEM;
    *out = steal_ptr(v);
    return 0;
}
