/* icount.c - the benchmark's instruction counter: runs a command under ptrace and single-steps
 * every thread and process it creates, counting one per step, because this VM has no PMU
 * (perf's instructions:u is "not supported") and valgrind 3.19 cannot run capsa.
 *
 *   icount [-w WORKLOAD]... [-o FILE] [-P] -- CMD [ARG...]
 *
 * The count starts at CMD's execve (the dynamic loader included) and covers every descendant:
 * fork, vfork, clone and clone3 children are auto-attached (PTRACE_O_TRACE*) and stepped too,
 * across pid, mount and user namespaces, through PR_SET_DUMPABLE(0) (it does not detach an
 * attached tracer) and re-execs of the runtime itself. A tracee that execs a file that is a
 * WORKLOAD (same st_dev and st_ino as stat(WORKLOAD), so links resolve) is detached at that
 * execve: the container's workload runs natively and is not counted.
 *
 * icount pins itself (and so its tracees) to the CPU it starts on unless -P is given: every step
 * is a ping-pong between tracer and tracee, and on this VM it takes ~20 us on one CPU against
 * ~30 us when the two wake each other across CPUs. The count does not depend on it.
 *
 * What is counted: "user-space instructions retired as seen by single-stepping": one per
 * SIGTRAP step stop. A REP-prefixed string instruction traps after every iteration, so it
 * counts once per iteration (as perf's instructions:u would not); a syscall instruction counts
 * once, its kernel work not at all; entering a signal handler adds one step stop. A SIGTRAP
 * sent by someone else to a tracee while it is being stepped would be taken for a step (not
 * worth a PTRACE_GETSIGINFO per step: runtimes do not do that).
 *
 * Output (stderr, or FILE with -o): one line per thread,
 *   icount pid P tgid T comm C exe E steps N [workload]
 * then the machine-readable last line
 *   icount total N processes M threads K
 * where M counts distinct thread groups. Exit status: CMD's (128+N for signal N); 125 when
 * icount itself fails, 2 for a usage error. Must run with the right to ptrace CMD (root). */
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKLOADS 8

enum tracee_state {
    T_STEPPING, /* traced and being single-stepped */
    T_DETACHED, /* exec'd a workload: detached, runs natively */
    T_GONE,     /* exited */
};

struct tracee {
    pid_t pid;
    pid_t tgid;
    enum tracee_state state;
    bool attached; /* its initial SIGSTOP (auto-attach) has been seen */
    bool workload;
    uint64_t steps;
    char comm[32];
    char exe[160];
};

struct workload {
    dev_t dev;
    ino_t ino;
};

struct tracer {
    struct tracee *t;
    size_t n, cap;
    size_t last; /* index of the last tracee looked up: most stops are the same one's steps */
    struct workload wl[MAX_WORKLOADS];
    size_t nwl;
};

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Prints "icount: <what>: <strerror(errno)>" and exits 125; EXITKILL then kills the tracees. */
static void fail(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    fputs("icount: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(saved));
    exit(125);
}

/* Reads /proc/PID/FILE (up to len-1 bytes) into buf; empty on error: the task may be gone. */
static void read_proc(pid_t pid, const char *file, char *buf, size_t len)
{
    char path[64];
    ssize_t r;
    int fd;

    buf[0] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    r = read(fd, buf, len - 1);
    close(fd);
    buf[r > 0 ? r : 0] = '\0';
}

static pid_t read_tgid(pid_t pid)
{
    char buf[4096], *p;

    read_proc(pid, "status", buf, sizeof(buf));
    p = strstr(buf, "\nTgid:");
    return p ? (pid_t)strtol(p + 6, NULL, 10) : pid;
}

/* Records comm and exe of a live tracee (called at its birth, exec and exit). */
static void describe(struct tracee *t)
{
    char path[64];
    ssize_t r;

    read_proc(t->pid, "comm", t->comm, sizeof(t->comm));
    t->comm[strcspn(t->comm, "\n")] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)t->pid);
    /* a long path is truncated: the report is for people */
    r = readlink(path, t->exe, sizeof(t->exe) - 1);
    if (r > 0)
        t->exe[r] = '\0';
}

/* Is PID's executable one of the workloads? /proc/PID/exe is followed to the file itself, so
 * this compares inodes, whatever path or link the exec went through. */
static bool is_workload(const struct tracer *tr, pid_t pid)
{
    char path[64];
    struct stat st;
    size_t i;

    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    if (stat(path, &st) < 0)
        return false;
    for (i = 0; i < tr->nwl; i++) {
        if (tr->wl[i].dev == st.st_dev && tr->wl[i].ino == st.st_ino)
            return true;
    }
    return false;
}

/* The live (not exited) tracee PID, or NULL. Exited entries are skipped: pids get reused. */
static struct tracee *find(struct tracer *tr, pid_t pid)
{
    size_t i;

    if (tr->last < tr->n && tr->t[tr->last].pid == pid && tr->t[tr->last].state != T_GONE)
        return &tr->t[tr->last];
    for (i = tr->n; i-- > 0;) {
        if (tr->t[i].pid == pid && tr->t[i].state != T_GONE) {
            tr->last = i;
            return &tr->t[i];
        }
    }
    return NULL;
}

static struct tracee *add(struct tracer *tr, pid_t pid)
{
    struct tracee *t;

    if (tr->n == tr->cap) {
        size_t cap = tr->cap ? tr->cap * 2 : 64;
        struct tracee *nt = realloc(tr->t, cap * sizeof(*nt));

        if (nt == NULL)
            fail("realloc");
        tr->t = nt;
        tr->cap = cap;
    }
    t = &tr->t[tr->n];
    memset(t, 0, sizeof(*t));
    t->pid = pid;
    t->tgid = read_tgid(pid);
    t->state = T_STEPPING;
    describe(t);
    tr->last = tr->n++;
    return t;
}

static struct tracee *find_or_add(struct tracer *tr, pid_t pid)
{
    struct tracee *t = find(tr, pid);

    return t ? t : add(tr, pid);
}

/* Resumes PID by one instruction, delivering SIG (0: none). ESRCH means the tracee was killed
 * meanwhile (SIGKILL, or EXITKILL of a sub-tracer): its exit is reported by waitpid later. */
static void step(pid_t pid, int sig)
{
    if (ptrace(PTRACE_SINGLESTEP, pid, NULL, (void *)(uintptr_t)sig) < 0 && errno != ESRCH)
        fail("PTRACE_SINGLESTEP %d", (int)pid);
}

static bool is_stop_signal(int sig)
{
    return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* One ptrace event stop (status >> 16 != 0) of tracee T. */
static void on_event(struct tracer *tr, struct tracee *t, int event)
{
    unsigned long msg = 0;

    switch (event) {
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
    case PTRACE_EVENT_CLONE:
        /* The child starts with a SIGSTOP that may be reported before or after this event;
         * whichever comes first creates its entry. */
        if (ptrace(PTRACE_GETEVENTMSG, t->pid, NULL, &msg) == 0)
            find_or_add(tr, (pid_t)msg);
        break;
    case PTRACE_EVENT_EXEC:
        /* A non-leader thread that execs takes over the leader's pid; its old tid is in msg.
         * Its steps so far stay with the old entry, which is closed. */
        if (ptrace(PTRACE_GETEVENTMSG, t->pid, NULL, &msg) == 0 && (pid_t)msg != t->pid) {
            struct tracee *old = find(tr, (pid_t)msg);

            if (old != NULL)
                old->state = T_GONE;
            t = find(tr, t->pid); /* find() may have moved tr->last, not the array */
        }
        describe(t);
        if (is_workload(tr, t->pid)) {
            t->workload = true;
            t->state = T_DETACHED;
            if (ptrace(PTRACE_DETACH, t->pid, NULL, NULL) < 0 && errno != ESRCH)
                fail("PTRACE_DETACH %d", (int)t->pid);
            return;
        }
        break;
    case PTRACE_EVENT_EXIT:
        /* The last moment /proc/PID still has its final comm and exe. */
        describe(t);
        break;
    default:
        break;
    }
    step(t->pid, 0);
}

/* Runs the tracing loop until no tracee is left; returns CMD's wait status. */
static int trace(struct tracer *tr, pid_t root)
{
    int root_status = 0, status;
    pid_t pid;

    for (;;) {
        struct tracee *t;
        int sig;

        pid = waitpid(-1, &status, __WALL);
        if (pid < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ECHILD)
                break;
            fail("waitpid");
        }
        if (WIFEXITED(status) || WIFSIGNALED(status)) {
            t = find(tr, pid);
            if (t != NULL)
                t->state = T_GONE;
            if (pid == root)
                root_status = status;
            continue;
        }
        if (!WIFSTOPPED(status))
            continue;
        sig = WSTOPSIG(status);
        t = find(tr, pid);
        if (sig == SIGTRAP && (status >> 16) == 0 && t != NULL && t->attached) {
            t->steps++; /* the hot path: one instruction done */
            step(pid, 0);
            continue;
        }
        if (t == NULL)
            t = add(tr, pid);
        if (status >> 16) {
            t->attached = true;
            on_event(tr, t, status >> 16);
            continue;
        }
        if (!t->attached && sig == SIGSTOP) {
            /* the auto-attach stop of a new tracee: swallow it and start stepping */
            t->attached = true;
            step(pid, 0);
            continue;
        }
        t->attached = true;
        if (is_stop_signal(sig)) {
            siginfo_t si;

            /* Without PTRACE_SEIZE a group-stop looks like a signal-delivery-stop, except that
             * GETSIGINFO fails with EINVAL. Kept simple: a group-stop is resumed at once. */
            if (ptrace(PTRACE_GETSIGINFO, pid, NULL, &si) < 0 && errno == EINVAL) {
                step(pid, 0);
                continue;
            }
        }
        /* a signal-delivery-stop: deliver the signal with the next step */
        step(pid, sig);
    }
    return root_status;
}

static void report(const struct tracer *tr, FILE *out)
{
    uint64_t total = 0;
    size_t i, j, procs = 0;

    for (i = 0; i < tr->n; i++) {
        const struct tracee *t = &tr->t[i];
        bool seen = false;

        fprintf(out, "icount pid %d tgid %d comm %s exe %s steps %" PRIu64 "%s\n", (int)t->pid,
                (int)t->tgid, t->comm[0] ? t->comm : "?", t->exe[0] ? t->exe : "?", t->steps,
                t->workload ? " [workload]" : "");
        total += t->steps;
        for (j = 0; j < i && !seen; j++)
            seen = tr->t[j].tgid == t->tgid;
        procs += !seen;
    }
    fprintf(out, "icount total %" PRIu64 " processes %zu threads %zu\n", total, procs, tr->n);
}

static void usage(void)
{
    fputs("usage: icount [-w WORKLOAD]... [-o FILE] [-P] -- CMD [ARG...]\n", stderr);
    exit(2);
}

int main(int argc, char **argv)
{
    struct tracer tr;
    const char *outpath = NULL;
    struct tracee *t;
    FILE *out = stderr;
    int opt, status, cpu;
    bool pin = true;
    pid_t root, w;

    memset(&tr, 0, sizeof(tr));
    while ((opt = getopt(argc, argv, "+w:o:Ph")) != -1) {
        switch (opt) {
        case 'w': {
            struct stat st;

            if (tr.nwl == MAX_WORKLOADS) {
                fprintf(stderr, "icount: at most %d -w\n", MAX_WORKLOADS);
                usage();
            }
            if (stat(optarg, &st) < 0)
                fail("stat %s", optarg);
            tr.wl[tr.nwl].dev = st.st_dev;
            tr.wl[tr.nwl].ino = st.st_ino;
            tr.nwl++;
            break;
        }
        case 'o':
            outpath = optarg;
            break;
        case 'P':
            pin = false;
            break;
        default:
            usage();
        }
    }
    if (optind >= argc)
        usage();
    if (outpath != NULL) {
        out = fopen(outpath, "we");
        if (out == NULL)
            fail("open %s", outpath);
    }

    cpu = sched_getcpu();
    if (pin && cpu >= 0) {
        cpu_set_t set;

        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) < 0)
            fail("sched_setaffinity %d", cpu);
    }
    root = fork();
    if (root < 0)
        fail("fork");
    if (root == 0) {
        /* Stop before execve, so the tracer can set its options first; the steps of the
         * execve call itself are not counted, the new image's first instruction is. */
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
            fail("PTRACE_TRACEME");
        raise(SIGSTOP);
        execvp(argv[optind], &argv[optind]);
        fprintf(stderr, "icount: execvp %s: %s\n", argv[optind], strerror(errno));
        _exit(127); /* not exit(): the parent's stdio buffers are not ours to flush */
    }
    do {
        w = waitpid(root, &status, __WALL);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        fail("waitpid");
    if (!WIFSTOPPED(status)) {
        fprintf(stderr, "icount: child did not stop (status 0x%x)\n", (unsigned)status);
        return 125;
    }
    /* EXITKILL: if icount dies, no half-traced runtime is left behind. */
    if (ptrace(PTRACE_SETOPTIONS, root, NULL,
               (void *)(PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                        PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL)) < 0)
        fail("PTRACE_SETOPTIONS");
    t = add(&tr, root);
    t->attached = true;
    /* run (not step) up to the exec event; stepping starts there. A failed execvp shows up as
     * an exit event stop and then the exit. */
    for (;;) {
        if (ptrace(PTRACE_CONT, root, NULL, NULL) < 0)
            fail("PTRACE_CONT");
        do {
            w = waitpid(root, &status, __WALL);
        } while (w < 0 && errno == EINTR);
        if (w < 0)
            fail("waitpid");
        if (!WIFSTOPPED(status) || (status >> 16) == PTRACE_EVENT_EXEC)
            break;
    }
    if (WIFSTOPPED(status) && (status >> 16) == PTRACE_EVENT_EXEC) {
        on_event(&tr, t, PTRACE_EVENT_EXEC);
        status = trace(&tr, root);
    } else if (WIFEXITED(status) || WIFSIGNALED(status)) {
        t->state = T_GONE; /* execvp failed: the child already said why */
    } else {
        fprintf(stderr, "icount: unexpected first stop (status 0x%x)\n", (unsigned)status);
        return 125;
    }

    report(&tr, out);
    if (out != stderr && fclose(out) != 0)
        fail("write %s", outpath);
    free(tr.t);
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 125;
}
