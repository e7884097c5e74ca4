/* misc.c - small public entry points: version, signal names, the default
 * spec, and the self-protection of the runtime binary. */
#include "capsa/capsa.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "linux/selfexe.h"
#include "spec/spec.h"
#include "sys/sys.h"
#include "util/util.h"

const char *capsa_version(void)
{
    return CAPSA_VERSION;
}

static const struct {
    const char *name;
    int sig;
} signals[] = {
    {"HUP", SIGHUP},       {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP},     {"ABRT", SIGABRT},   {"IOT", SIGIOT},   {"BUS", SIGBUS},
    {"FPE", SIGFPE},       {"KILL", SIGKILL},   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},     {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CLD", SIGCHLD},  {"CONT", SIGCONT},
    {"STOP", SIGSTOP},     {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
    {"URG", SIGURG},       {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF},     {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"POLL", SIGPOLL},
    {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int capsa_signal_parse(const char *s, int *sig)
{
    if (s == NULL || *s == '\0')
        return -EINVAL;
    int64_t n;
    /* 0 too, as runc: no signal, only the checks (is the container
     * running, may we signal it). */
    if (capsa_parse_int64(s, 0, SIGRTMAX, &n) == 0) {
        *sig = (int)n;
        return 0;
    }
    if (strncasecmp(s, "SIG", 3) == 0)
        s += 3;
    for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
        if (strcasecmp(s, signals[i].name) == 0) {
            *sig = signals[i].sig;
            return 0;
        }
    }
    /* RTMIN, RTMIN+N, RTMAX, RTMAX-N */
    if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
        bool min = strncasecmp(s, "RTMIN", 5) == 0;
        int base = min ? SIGRTMIN : SIGRTMAX;
        const char *rest = s + 5;
        if (*rest == '\0') {
            *sig = base;
            return 0;
        }
        if ((min && *rest != '+') || (!min && *rest != '-'))
            return -EINVAL;
        if (capsa_parse_int64(rest + 1, 0, SIGRTMAX - SIGRTMIN, &n) < 0)
            return -EINVAL;
        *sig = min ? base + (int)n : base - (int)n;
        return 0;
    }
    return -EINVAL;
}

int capsa_default_spec(bool rootless, char **json_out, struct capsa_err *err)
{
    return capsa_spec_default_json(rootless, json_out, err);
}

/*
 * CVE-2019-5736: a container process that can reach the runtime's binary
 * through /proc/<pid>/exe (or by executing /proc/self/exe as its entry
 * point) could open it for writing and replace the host's runtime. runc and
 * crun copy the whole binary into a sealed memfd on every invocation. We
 * instead run from a detached, read-only bind mount of our own binary: the
 * executable then lives on a read-only mount that nobody can reach by path,
 * so opening it for writing fails with EROFS, and no byte is copied. The
 * running image is moved onto that mount in place (linux/selfexe.c: its
 * mappings and /proc/self/exe), which is much cheaper than the execve from it
 * that remains the fallback. A binary already on a read-only mount needs
 * nothing.
 */
/* The fallback for an unprivileged user whose binary they can write (so a
 * container of theirs could too): a sealed memfd copy, as runc and crun do
 * for everyone. Only here does the copy cost anything. */
static int reexec_sealed_copy(char *const argv[], struct capsa_err *err)
{
    cleanup_close int src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (src < 0)
        return capsa_err_set(err, errno, "self-protection: open /proc/self/exe");
    cleanup_close int mfd = memfd_create("capsa", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0)
        return capsa_err_set(err, errno, "self-protection: memfd_create");
    for (;;) {
        ssize_t n = sendfile(mfd, src, NULL, 1 << 20);
        if (n < 0)
            return capsa_err_set(err, errno, "self-protection: copy the runtime binary");
        if (n == 0)
            break;
    }
    if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        return capsa_err_set(err, errno, "self-protection: seal the copy");
    extern char **environ;
    capsa_execveat(mfd, "", argv, environ, AT_EMPTY_PATH);
    return capsa_err_set(err, errno, "self-protection: re-execute the sealed copy");
}

int capsa_self_protect(char *const argv[], struct capsa_err *err)
{
    cleanup_close int self = open("/proc/self/exe", O_PATH | O_CLOEXEC);
    if (self < 0)
        return capsa_err_set(err, errno, "open /proc/self/exe");
    struct statvfs sv;
    if (fstatvfs(self, &sv) == 0 && (sv.f_flag & ST_RDONLY))
        return 0;
    /* Already running from a sealed copy (the fallback below). */
    {
        cleanup_close int rd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        int seals = rd >= 0 ? fcntl(rd, F_GET_SEALS) : -1;
        if (seals >= 0 && (seals & F_SEAL_WRITE))
            return 0;
    }
    cleanup_close int tree =
        capsa_open_tree(self, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);
    if (tree < 0) {
        /* Unprivileged: the binary needs protecting only if we could write it. */
        if (errno != EPERM && errno != EACCES)
            return capsa_err_set(err, errno, "self-protection: open_tree of the runtime binary");
        if (faccessat(self, "", W_OK, AT_EMPTY_PATH | AT_EACCESS) < 0)
            return 0; /* nobody in our containers can write what we cannot */
        return reexec_sealed_copy(argv, err);
    }
    struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
    if (capsa_mount_setattr(tree, "", AT_EMPTY_PATH, &attr) < 0)
        return capsa_err_set(err, errno, "self-protection: make the binary mount read-only");
    /* The same end state without an execve: the running image moved onto the
     * read-only mount (linux/selfexe.c). Where the kernel refuses that, re-execute. */
    struct capsa_err ignored = {0};
    if (capsa_selfexe_rebind(tree, &ignored) == 0)
        return 0;
    extern char **environ;
    capsa_execveat(tree, "", argv, environ, AT_EMPTY_PATH);
    return capsa_err_set(err, errno, "self-protection: re-execute the runtime");
}
