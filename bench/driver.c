/* driver.c - the benchmark's timer: runs one sample (a list of commands) with fork+execve, no
 * shell in the timed path, and appends "wall_ns cpu_ns maxrss_kib" to a result file.
 *
 *   driver -o FILE [-k COUNT] -- ARGV...      one command, COUNT times (default 1)
 *   driver -o FILE [-k COUNT] STEPFILE        the steps of STEPFILE, COUNT times
 *
 * STEPFILE holds one step per line, fields separated by TABs:
 *   run<TAB>ARGV0<TAB>ARG...                  run once; must exit 0
 *   until<TAB>TEXT<TAB>ARGV0<TAB>ARG...       run (stdout captured) until stdout contains TEXT
 * In every argument "{i}" is replaced by the repetition index (0..COUNT-1), so a sequence of
 * runs can use unique container IDs.
 *
 * wall_ns is the sum over commands of CLOCK_MONOTONIC from just before fork() to just after
 * wait4() returned (the driver's own work between commands is not counted); cpu_ns is the sum of
 * user+system time from wait4()'s rusage; maxrss_kib is the largest ru_maxrss seen (the largest
 * of each command and the descendants it waited for). A command that fails (exit status != 0,
 * signal, exec error) makes the driver exit 1 with a message naming it and writes no result.
 * Exit status: 0 ok, 1 a command failed, 2 usage, 3 the driver itself failed. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define UNTIL_MAX_TRIES 1000
#define CAPTURE_MAX     (1024 * 1024)

enum step_kind {
    STEP_RUN,
    STEP_UNTIL,
};

struct step {
    enum step_kind kind;
    char *text; /* STEP_UNTIL: what stdout must contain */
    char **argv;
};

struct totals {
    uint64_t wall_ns;
    uint64_t cpu_ns;
    long maxrss_kib;
};

static void fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void fail(int code, const char *fmt, ...)
{
    va_list ap;

    fputs("driver: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n, size);

    if (p == NULL)
        fail(3, "out of memory");
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = strdup(s);

    if (p == NULL)
        fail(3, "out of memory");
    return p;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0)
        fail(3, "clock_gettime: %s", strerror(errno));
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t tv_ns(const struct timeval *tv)
{
    return (uint64_t)tv->tv_sec * 1000000000u + (uint64_t)tv->tv_usec * 1000u;
}

/* "{i}" in arg replaced by index; the result is always a new string. */
static char *expand(const char *arg, unsigned long index)
{
    char num[32];
    size_t numlen, len = 0, cap;
    const char *p;
    char *out;

    if (snprintf(num, sizeof(num), "%lu", index) < 0)
        fail(3, "snprintf failed");
    numlen = strlen(num);
    cap = strlen(arg) + 1;
    for (p = arg; (p = strstr(p, "{i}")) != NULL; p += 3)
        cap += numlen;
    out = xcalloc(cap, 1);
    for (p = arg; *p != '\0';) {
        if (strncmp(p, "{i}", 3) == 0) {
            memcpy(out + len, num, numlen);
            len += numlen;
            p += 3;
        } else {
            out[len++] = *p++;
        }
    }
    out[len] = '\0';
    return out;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

static void describe(char **argv, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (size_t i = 0; argv[i] != NULL && len + 1 < size; i++) {
        int n = snprintf(buf + len, size - len, "%s%s", i ? " " : "", argv[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
}

/* Runs argv once, adds its time to *t. With capture != NULL, stdout goes into a NUL-terminated
 * buffer stored there (truncated at CAPTURE_MAX). Returns only on success. */
static void run_cmd(char **argv, struct totals *t, char **capture)
{
    int pfd[2] = {-1, -1};
    struct rusage ru;
    char what[512];
    uint64_t t0, t1;
    int status;
    pid_t pid, w;

    describe(argv, what, sizeof(what));
    if (capture != NULL && pipe2(pfd, O_CLOEXEC) < 0)
        fail(3, "pipe2: %s", strerror(errno));

    t0 = now_ns();
    pid = fork();
    if (pid < 0)
        fail(3, "fork: %s", strerror(errno));
    if (pid == 0) {
        if (capture != NULL && dup2(pfd[1], STDOUT_FILENO) < 0) {
            dprintf(STDERR_FILENO, "driver: dup2: %s\n", strerror(errno));
            _exit(127);
        }
        execv(argv[0], argv);
        dprintf(STDERR_FILENO, "driver: execv %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }

    if (capture != NULL) {
        size_t len = 0;
        char *buf = xcalloc(CAPTURE_MAX + 1, 1);

        if (close(pfd[1]) < 0)
            fail(3, "close: %s", strerror(errno));
        for (;;) {
            char tmp[4096];
            ssize_t n = read(pfd[0], tmp, sizeof(tmp));

            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0)
                fail(3, "read from %s: %s", what, strerror(errno));
            if (n == 0)
                break;
            /* keep draining past the cap so the child never blocks on a full pipe */
            size_t keep = (size_t)n;
            if (keep > CAPTURE_MAX - len)
                keep = CAPTURE_MAX - len;
            memcpy(buf + len, tmp, keep);
            len += keep;
        }
        buf[len] = '\0';
        if (close(pfd[0]) < 0)
            fail(3, "close: %s", strerror(errno));
        *capture = buf;
    }

    do {
        w = wait4(pid, &status, 0, &ru);
    } while (w < 0 && errno == EINTR);
    t1 = now_ns();
    if (w < 0)
        fail(3, "wait4 %s: %s", what, strerror(errno));

    if (WIFSIGNALED(status))
        fail(1, "%s: killed by signal %d", what, WTERMSIG(status));
    if (!WIFEXITED(status))
        fail(1, "%s: unexpected wait status 0x%x", what, (unsigned)status);
    if (WEXITSTATUS(status) != 0)
        fail(1, "%s: exit status %d", what, WEXITSTATUS(status));

    t->wall_ns += t1 - t0;
    t->cpu_ns += tv_ns(&ru.ru_utime) + tv_ns(&ru.ru_stime);
    if (ru.ru_maxrss > t->maxrss_kib)
        t->maxrss_kib = ru.ru_maxrss;
}

/* Splits a line at TABs into a NULL-terminated vector of copies. */
static char **split_tabs(char *line, size_t *count)
{
    size_t n = 1, i = 0;
    char **v;
    char *save = NULL, *tok;

    for (char *p = line; *p != '\0'; p++)
        if (*p == '\t')
            n++;
    v = xcalloc(n + 1, sizeof(*v));
    for (tok = strtok_r(line, "\t", &save); tok != NULL; tok = strtok_r(NULL, "\t", &save))
        v[i++] = xstrdup(tok);
    v[i] = NULL;
    *count = i;
    return v;
}

static struct step *load_steps(const char *path, size_t *nsteps)
{
    FILE *f = fopen(path, "re");
    struct step *steps = NULL;
    size_t n = 0, cap = 0, lineno = 0, len = 0;
    char *line = NULL;
    ssize_t got;

    if (f == NULL)
        fail(2, "open %s: %s", path, strerror(errno));
    errno = 0;
    while ((got = getline(&line, &len, f)) >= 0) {
        size_t nf = 0, skip;
        char **fields;

        lineno++;
        if (got > 0 && line[got - 1] == '\n')
            line[got - 1] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        fields = split_tabs(line, &nf);
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            steps = realloc(steps, cap * sizeof(*steps));
            if (steps == NULL)
                fail(3, "out of memory");
        }
        if (strcmp(fields[0], "run") == 0 && nf >= 2) {
            steps[n].kind = STEP_RUN;
            steps[n].text = NULL;
            skip = 1;
        } else if (strcmp(fields[0], "until") == 0 && nf >= 3) {
            steps[n].kind = STEP_UNTIL;
            steps[n].text = xstrdup(fields[1]);
            skip = 2;
        } else {
            fail(2, "%s:%zu: expected \"run<TAB>ARGV...\" or \"until<TAB>TEXT<TAB>ARGV...\"", path,
                 lineno);
        }
        steps[n].argv = xcalloc(nf - skip + 1, sizeof(char *));
        for (size_t i = skip; i < nf; i++)
            steps[n].argv[i - skip] = xstrdup(fields[i]);
        free_strv(fields);
        n++;
        errno = 0;
    }
    if (errno != 0)
        fail(3, "read %s: %s", path, strerror(errno));
    free(line);
    if (fclose(f) != 0)
        fail(3, "close %s: %s", path, strerror(errno));
    if (n == 0)
        fail(2, "%s: no steps", path);
    *nsteps = n;
    return steps;
}

static char **expand_argv(char **argv, unsigned long index)
{
    size_t n = 0;
    char **v;

    while (argv[n] != NULL)
        n++;
    v = xcalloc(n + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = expand(argv[i], index);
    return v;
}

static void run_step(const struct step *s, unsigned long index, struct totals *t)
{
    char **argv = expand_argv(s->argv, index);

    if (s->kind == STEP_RUN) {
        run_cmd(argv, t, NULL);
    } else {
        int tries;

        for (tries = 0; tries < UNTIL_MAX_TRIES; tries++) {
            char *out = NULL;
            int found;

            run_cmd(argv, t, &out);
            found = strstr(out, s->text) != NULL;
            free(out);
            if (found)
                break;
        }
        if (tries == UNTIL_MAX_TRIES)
            fail(1, "%s: stdout never contained \"%s\" in %d tries", argv[0], s->text,
                 UNTIL_MAX_TRIES);
    }
    free_strv(argv);
}

static void free_steps(struct step *steps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(steps[i].text);
        free_strv(steps[i].argv);
    }
    free(steps);
}

static void usage(void) __attribute__((noreturn));

static void usage(void)
{
    fail(2, "usage: driver -o FILE [-k COUNT] -- ARGV...\n"
            "       driver -o FILE [-k COUNT] STEPFILE");
}

int main(int argc, char **argv)
{
    const char *outpath = NULL;
    unsigned long count = 1;
    struct step single, *steps;
    struct totals t = {0, 0, 0};
    size_t nsteps;
    FILE *out;
    int opt;

    while ((opt = getopt(argc, argv, "+o:k:")) != -1) {
        switch (opt) {
        case 'o':
            outpath = optarg;
            break;
        case 'k': {
            char *end = NULL;

            errno = 0;
            count = strtoul(optarg, &end, 10);
            if (errno != 0 || end == optarg || *end != '\0' || count == 0 || count > 1000000)
                fail(2, "-k: bad count \"%s\"", optarg);
            break;
        }
        default:
            usage();
        }
    }
    if (outpath == NULL || optind >= argc)
        usage();

    if (strcmp(argv[optind - 1], "--") == 0) {
        /* getopt consumed "--": the rest is one command */
        single.kind = STEP_RUN;
        single.text = NULL;
        single.argv = &argv[optind];
        steps = &single;
        nsteps = 1;
    } else {
        if (optind + 1 != argc)
            usage();
        steps = load_steps(argv[optind], &nsteps);
    }

    for (unsigned long i = 0; i < count; i++)
        for (size_t s = 0; s < nsteps; s++)
            run_step(&steps[s], i, &t);

    if (steps != &single)
        free_steps(steps, nsteps);

    out = fopen(outpath, "ae");
    if (out == NULL)
        fail(3, "open %s: %s", outpath, strerror(errno));
    if (fprintf(out, "%" PRIu64 " %" PRIu64 " %ld\n", t.wall_ns, t.cpu_ns, t.maxrss_kib) < 0)
        fail(3, "write %s: %s", outpath, strerror(errno));
    if (fclose(out) != 0)
        fail(3, "close %s: %s", outpath, strerror(errno));
    return 0;
}
