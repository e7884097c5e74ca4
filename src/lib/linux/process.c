/* process.c - per-process attributes of the container init applied just
 * before execve (rlimits, I/O priority, scheduler, oom_score_adj) and the
 * lookup of the executable through the container's PATH.
 *
 * Runs in the container init after pivot_root, so every path here is inside
 * the container; /proc is reached only through the procfd handed in by the
 * caller, never through the container's (possibly attacker-shaped) /proc.
 */
#include "linux/process.h"

#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <linux/ioprio.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/personality.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linux/rootfs.h"
#include "sys/sys.h"
#include "util/util.h"

/* struct sched_attr (SCHED_ATTR_SIZE_VER1) spelled out here: the kernel
 * header <linux/sched/types.h> redefines struct sched_param and so cannot be
 * included next to glibc's <sched.h>. */
struct sched_attr_v1 {
    uint32_t size;
    uint32_t sched_policy;
    uint64_t sched_flags;
    int32_t sched_nice;
    uint32_t sched_priority;
    uint64_t sched_runtime;
    uint64_t sched_deadline;
    uint64_t sched_period;
    /* Unused, but part of the kernel's struct sched_attr: size must say VER1 (56 bytes). */
    // cppcheck-suppress unusedStructMember ; kernel ABI field, sets sizeof
    uint32_t sched_util_min;
    // cppcheck-suppress unusedStructMember ; kernel ABI field, sets sizeof
    uint32_t sched_util_max;
};

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static int write_proc_self(int procfd, const char *rel, const char *data, struct capsa_err *err)
{
    cleanup_close int fd = capsa_proc_open_self(procfd, rel, O_WRONLY, err);
    if (fd < 0)
        return fd;
    int r = capsa_write_all(fd, data, strlen(data));
    if (r < 0)
        return capsa_err_set(err, -r, "write /proc/self/%s", rel);
    return 0;
}

static int apply_rlimits(const struct capsa_process *p, struct capsa_err *err)
{
    for (size_t i = 0; i < p->n_rlimits; i++) {
        const struct capsa_rlimit *rl = &p->rlimits[i];
        struct rlimit lim = {.rlim_cur = (rlim_t)rl->soft, .rlim_max = (rlim_t)rl->hard};
        /* prlimit on ourselves, like setrlimit, but takes the 64-bit type
         * directly on every architecture. */
        if (prlimit(0, (__rlimit_resource_t)rl->resource, &lim, NULL) < 0) {
            int e = errno;
            struct rlimit cur;
            /* EPERM: the hard limit would rise, which needs CAP_SYS_RESOURCE
             * (missing from the bounding set on some hosts); say so, with
             * the hard limit that holds now, so that an engine's user can
             * fix the request (e.g. default_ulimits). */
            if (e == EPERM && prlimit(0, (__rlimit_resource_t)rl->resource, NULL, &cur) == 0 &&
                (rlim_t)rl->hard > cur.rlim_max)
                return capsa_err_set(err, e,
                                     "process.rlimits[%zu]: setrlimit %s: hard limit %" PRIu64
                                     " is above the current hard limit %" PRIu64
                                     ", and raising it needs CAP_SYS_RESOURCE",
                                     i, rl->type ? rl->type : "?", rl->hard,
                                     (uint64_t)cur.rlim_max);
            return capsa_err_set(err, e, "process.rlimits[%zu]: setrlimit %s", i,
                                 rl->type ? rl->type : "?");
        }
    }
    return 0;
}

static int apply_ioprio(const struct capsa_process *p, struct capsa_err *err)
{
    if (!p->has_io_priority)
        return 0;
    int cls = p->io_priority.class;
    int prio = p->io_priority.priority;
    if (cls < IOPRIO_CLASS_RT || cls > IOPRIO_CLASS_IDLE || prio < 0 || prio > 7)
        return capsa_err_setx(err, EINVAL, "process.ioPriority: invalid class %d / priority %d",
                              cls, prio);
    int value = (cls << IOPRIO_CLASS_SHIFT) | prio;
    if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) < 0)
        return capsa_err_set(err, errno, "process.ioPriority: ioprio_set");
    return 0;
}

static int apply_scheduler(const struct capsa_process *p, struct capsa_err *err)
{
    if (!p->has_scheduler)
        return 0;
    const struct capsa_scheduler *s = &p->scheduler;
    /* glibc 2.36 has no sched_setattr wrapper; the raw syscall is the only
     * way to set SCHED_DEADLINE parameters and the utilisation clamps. */
    struct sched_attr_v1 attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.sched_policy = (uint32_t)s->policy;
    attr.sched_flags = s->flags;
    attr.sched_nice = s->nice;
    attr.sched_priority = (uint32_t)s->priority;
    attr.sched_runtime = s->runtime;
    attr.sched_deadline = s->deadline;
    attr.sched_period = s->period;
    if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0)
        return capsa_err_set(err, errno, "process.scheduler: sched_setattr (policy %d)", s->policy);
    return 0;
}

/* linux.personality is not part of struct capsa_process, so it has its own
 * entry point. TODO: move this prototype to process.h (not ours to edit). */

int capsa_process_apply_personality(const struct capsa_personality *pers, struct capsa_err *err)
{
    if (pers == NULL || pers->domain == NULL)
        return 0;
    unsigned long persona;
    if (strcmp(pers->domain, "LINUX") == 0)
        persona = PER_LINUX;
    else if (strcmp(pers->domain, "LINUX32") == 0)
        persona = PER_LINUX32;
    else
        return capsa_err_setx(err, EINVAL, "linux.personality.domain: unknown domain \"%s\"",
                              pers->domain);
    /* No flag is defined by the runtime spec yet; refusing them beats
     * silently running with a different personality than asked. */
    if (pers->n_flags > 0)
        return capsa_err_setx(err, EINVAL, "linux.personality.flags: \"%s\" is not supported",
                              pers->flags[0]);
    if (personality(persona) < 0)
        return capsa_err_set(err, errno, "linux.personality: personality(%s)", pers->domain);
    return 0;
}

int capsa_process_apply_attrs(const struct capsa_process *p, int procfd, struct capsa_err *err)
{
    int r = apply_rlimits(p, err);
    if (r < 0)
        return r;
    /* Personality lives in linux.personality: see
     * capsa_process_apply_personality. */
    r = apply_ioprio(p, err);
    if (r < 0)
        return r;
    r = apply_scheduler(p, err);
    if (r < 0)
        return r;
    if (p->has_oom_score_adj) {
        char buf[16];
        snprintf(buf, sizeof buf, "%d", p->oom_score_adj);
        r = write_proc_self(procfd, "oom_score_adj", buf, err);
        if (r == -EACCES || r == -EPERM)
            return capsa_err_wrap(err,
                                  "process.oomScoreAdj %d: lowering oom_score_adj below the "
                                  "runtime's own needs CAP_SYS_RESOURCE",
                                  p->oom_score_adj);
        if (r < 0)
            return capsa_err_wrap(err, "process.oomScoreAdj");
    }
    return 0;
}

/* A regular file with some execute bit set: directories and devices on PATH
 * are skipped like execvp does. */
static bool is_executable_file(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return false;
    if (!S_ISREG(st.st_mode))
        return false;
    return (st.st_mode & 0111) != 0;
}

static const char *env_path(const struct capsa_process *p)
{
    const char *path = NULL;
    /* The last PATH= wins, as with getenv on a duplicated environment. */
    for (size_t i = 0; p->env != NULL && p->env[i] != NULL; i++)
        if (strncmp(p->env[i], "PATH=", 5) == 0)
            path = p->env[i] + 5;
    return path ? path : DEFAULT_PATH;
}

int capsa_process_find_exec(const struct capsa_process *p, char **out, struct capsa_err *err)
{
    *out = NULL;
    if (p->args == NULL || p->args[0] == NULL || p->args[0][0] == '\0')
        return capsa_err_setx(err, EINVAL, "process.args: must not be empty");
    const char *name = p->args[0];
    if (strchr(name, '/') != NULL) {
        /* Used as is. A directory or a file without any execute bit fails
         * here, at create, as with runc (an engine then fails its create
         * step, not its start); finer permission and format errors are
         * left to execve, which knows better. */
        struct stat st;
        char eb[128];
        if (stat(name, &st) < 0) {
            int e = errno;
            return capsa_err_setx(err, e, "exec: \"%s\": stat %s: %s", name, name,
                                  capsa_strerror_lower(e, eb, sizeof eb));
        }
        if (S_ISDIR(st.st_mode) || (st.st_mode & 0111) == 0)
            return capsa_err_setx(err, EACCES, "exec: \"%s\": %s", name,
                                  capsa_strerror_lower(EACCES, eb, sizeof eb));
        return capsa_strdup(name, out, err);
    }
    const char *path = env_path(p);
    size_t nlen = strlen(name);
    const char *seg = path;
    for (;;) {
        const char *end = strchrnul(seg, ':');
        size_t dlen = (size_t)(end - seg);
        /* An empty PATH element means the current directory (POSIX). */
        const char *dir = dlen ? seg : ".";
        size_t dl = dlen ? dlen : 1;
        cleanup_free char *cand = malloc(dl + 1 + nlen + 1);
        if (cand == NULL)
            return capsa_err_set(err, ENOMEM, "exec: \"%s\"", name);
        memcpy(cand, dir, dl);
        cand[dl] = '/';
        memcpy(cand + dl + 1, name, nlen + 1);
        if (is_executable_file(cand)) {
            *out = steal_ptr(cand);
            return 0;
        }
        if (*end == '\0')
            break;
        seg = end + 1;
    }
    return capsa_err_setx(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

int capsa_process_prepare_fds(int preserve_fds, struct capsa_err *err)
{
    unsigned int first = 3 + (unsigned int)(preserve_fds > 0 ? preserve_fds : 0);
    for (int fd = 3; fd < (int)first; fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl >= 0 && fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
            return capsa_err_set(err, errno, "--preserve-fds: fd %d", fd);
    }
    if (capsa_close_range(first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
        return 0;
    if (errno != ENOSYS && errno != EPERM && errno != EINVAL)
        return capsa_err_set(err, errno, "mark fds close-on-exec");
    struct rlimit rl;
    rlim_t max = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 1024;
    if (max > (1 << 20))
        max = 1 << 20;
    for (rlim_t fd = first; fd < max; fd++) {
        int fl = fcntl((int)fd, F_GETFD);
        if (fl >= 0 && !(fl & FD_CLOEXEC) && fcntl((int)fd, F_SETFD, fl | FD_CLOEXEC) < 0)
            return capsa_err_set(err, errno, "mark fd %d close-on-exec", (int)fd);
    }
    return 0;
}

void capsa_signals_ignored(sigset_t *out)
{
    sigfillset(out);
    char buf[4096];
    cleanup_close int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : capsa_read_all(fd, buf, sizeof buf - 1);
    if (n <= 0)
        return;
    buf[n] = '\0';
    const char *p = strstr(buf, "\nSigIgn:");
    if (p == NULL)
        return;
    char *end = NULL;
    errno = 0;
    unsigned long long mask = strtoull(p + 8, &end, 16);
    if (errno != 0 || end == p + 8)
        return;
    sigemptyset(out);
    for (int s = 1; s < NSIG && s <= 64; s++) {
        if (mask & (1ULL << (s - 1)))
            sigaddset(out, s);
    }
}

void capsa_signals_reset(const sigset_t *ignored)
{
    for (int s = 1; s < NSIG; s++) {
        if (s != SIGKILL && s != SIGSTOP && sigismember(ignored, s) == 1)
            (void)signal(s, SIG_DFL);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

int capsa_process_enter_cwd(const char *cwd, bool create, struct capsa_err *err)
{
    if (cwd == NULL || cwd[0] != '/')
        return capsa_err_setx(err, EINVAL, "process.cwd \"%s\": must be an absolute path",
                              cwd ? cwd : "");
    cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return capsa_err_set(err, errno, "process.cwd: open /");
    int fd = capsa_open_in_root(root, cwd, O_PATH | O_DIRECTORY);
    if (fd == -ENOENT && create)
        fd = capsa_resolve_mkdir_in_root(root, cwd, false, err);
    else if (fd < 0)
        return capsa_err_set(err, -fd, "process.cwd %s", cwd);
    if (fd < 0)
        return capsa_err_wrap(err, "process.cwd");
    if (fchdir(fd) < 0) {
        int e = errno;
        close(fd);
        return capsa_err_set(err, e, "process.cwd: chdir %s", cwd);
    }
    return fd;
}

int capsa_proc_stat(pid_t pid, struct capsa_proc_stat *out)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -ESRCH;
    char buf[1024];
    ssize_t n = capsa_read_all(fd, buf, sizeof buf - 1);
    if (n <= 0)
        return -ESRCH;
    buf[n] = '\0';
    /* comm may contain anything, including ") "; fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL || p[1] != ' ')
        return -EINVAL;
    p += 2;
    out->state = *p;
    /* p at field 3 (state); ppid is field 4, the start time field 22. */
    int field = 3;
    while (*p && field < 22) {
        if (*p == ' ') {
            field++;
            if (field == 4)
                out->ppid = (pid_t)strtol(p + 1, NULL, 10);
        }
        p++;
    }
    if (field != 22)
        return -EINVAL;
    out->start = strtoull(p, NULL, 10);
    return 0;
}

int capsa_proc_start_time(pid_t pid, unsigned long long *start, bool *dead)
{
    struct capsa_proc_stat ps;
    int r = capsa_proc_stat(pid, &ps);
    if (r < 0)
        return r;
    *start = ps.start;
    if (dead)
        *dead = ps.state == 'Z' || ps.state == 'X' || ps.state == 'x';
    return 0;
}

int capsa_proc_record_write(int dirfd, const char *name, pid_t pid, struct capsa_err *err)
{
    unsigned long long start = 0;
    int r = capsa_proc_start_time(pid, &start, NULL);
    if (r < 0)
        return capsa_err_set(err, -r, "record of process %d", (int)pid);
    char buf[64];
    int n = snprintf(buf, sizeof buf, "%d %llu\n", (int)pid, start);
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return capsa_err_set(err, errno, "create the record %s", name);
    r = capsa_write_all(fd, buf, (size_t)n);
    close(fd);
    return r < 0 ? capsa_err_set(err, -r, "write the record %s", name) : 0;
}

int capsa_proc_record_read(int dirfd, const char *name, pid_t *pid, unsigned long long *start)
{
    char buf[64];
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ENOENT : -EINVAL;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return -EINVAL;
    buf[n] = '\0';
    int64_t p = 0;
    char *sp = strchr(buf, ' '), *nl = strchr(buf, '\n');
    if (sp == NULL || nl == NULL || nl < sp)
        return -EINVAL;
    *sp = *nl = '\0';
    int64_t s = 0;
    if (capsa_parse_int64(buf, 1, INT32_MAX, &p) < 0 ||
        capsa_parse_int64(sp + 1, 1, INT64_MAX, &s) < 0)
        return -EINVAL;
    *pid = (pid_t)p;
    *start = (unsigned long long)s;
    return 0;
}

void capsa_proc_kill_if_same(pid_t pid, unsigned long long start)
{
    int pidfd = capsa_pidfd_open(pid, 0);
    if (pidfd < 0)
        return;
    unsigned long long now = 0;
    if (capsa_proc_start_time(pid, &now, NULL) == 0 && now == start) {
        capsa_pidfd_send_signal(pidfd, SIGKILL, 0);
        siginfo_t si;
        waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | WNOHANG);
    }
    close(pidfd);
}
