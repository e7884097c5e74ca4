/* seccomp.c - linux.seccomp: OCI spec -> libseccomp -> exported classic BPF
 * (compile, in the runtime), raw seccomp(2) install (load, in the init just
 * before execve), and the containerProcessState message to the seccomp agent.
 *
 * libseccomp is linked statically (no shared library is loaded on any
 * start path; a container without a seccomp section never touches it). We use
 * libseccomp for what it is good at (syscall name tables for every
 * architecture, argument comparisons, multiplexed syscalls, the BPF
 * generator), then export the program and never call it again: the install
 * is ours, so it needs no library inside the container's root and can run
 * after the runtime has closed or dropped everything else. */
#include "linux/scmp.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/util.h"

/* The OCI runtime-spec version the containerProcessState message follows. */
#define SC_OCI_VERSION "1.2.0"

/* The functions we take from libseccomp (linked statically: the binary
 * loads no shared library at all; the code's pages are only touched by a
 * container that has a filter). One table, so that what we depend on is
 * listed in one place. */
struct scmp_lib {
    scmp_filter_ctx (*init)(uint32_t def_action);
    void (*release)(scmp_filter_ctx ctx);
    int (*arch_add)(scmp_filter_ctx ctx, uint32_t arch_token);
    uint32_t (*arch_resolve_name)(const char *arch_name);
    int (*attr_set)(scmp_filter_ctx ctx, enum scmp_filter_attr attr, uint32_t value);
    int (*syscall_resolve_name)(const char *name);
    int (*rule_add_array)(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt,
                          const struct scmp_arg_cmp *arg_array);
    int (*export_bpf)(scmp_filter_ctx ctx, int fd);
    const struct scmp_version *(*version)(void);
};

struct compile_ctx {
    struct scmp_lib lib;
    scmp_filter_ctx filter;
    const struct capsa_seccomp *sc;
    capsa_warn_fn warn;
    void *opaque;
    uint32_t default_action;
    bool uses_notify;
};

static int lib_open(struct scmp_lib *lib, struct capsa_err *err)
{
    (void)err;
    lib->init = seccomp_init;
    lib->release = seccomp_release;
    lib->arch_add = seccomp_arch_add;
    lib->arch_resolve_name = seccomp_arch_resolve_name;
    lib->attr_set = seccomp_attr_set;
    lib->syscall_resolve_name = seccomp_syscall_resolve_name;
    lib->rule_add_array = seccomp_rule_add_array;
    lib->export_bpf = seccomp_export_bpf;
    lib->version = seccomp_version;
    return 0;
}

static void compile_ctx_release(struct compile_ctx *c)
{
    if (c->filter != NULL && c->lib.release != NULL)
        c->lib.release(c->filter);
    c->filter = NULL;
    memset(&c->lib, 0, sizeof c->lib);
}

static void warnf(struct compile_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void warnf(struct compile_ctx *c, const char *fmt, ...)
{
    if (c->warn == NULL)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->warn(c->opaque, msg);
}

/* OCI action name (+ errnoRet) -> libseccomp action value. The ERRNO and
 * TRACE data default to EPERM, as runc does. */
static int action_of(const char *name, bool has_ret, uint32_t ret, const char *path, uint32_t *out,
                     struct capsa_err *err)
{
    uint32_t data = has_ret ? ret : EPERM;
    if (strcmp(name, "SCMP_ACT_KILL") == 0 || strcmp(name, "SCMP_ACT_KILL_THREAD") == 0)
        *out = SCMP_ACT_KILL_THREAD;
    else if (strcmp(name, "SCMP_ACT_KILL_PROCESS") == 0)
        *out = SCMP_ACT_KILL_PROCESS;
    else if (strcmp(name, "SCMP_ACT_TRAP") == 0)
        *out = SCMP_ACT_TRAP;
    else if (strcmp(name, "SCMP_ACT_ERRNO") == 0)
        *out = SCMP_ACT_ERRNO(data);
    else if (strcmp(name, "SCMP_ACT_TRACE") == 0)
        *out = SCMP_ACT_TRACE(data);
    else if (strcmp(name, "SCMP_ACT_ALLOW") == 0)
        *out = SCMP_ACT_ALLOW;
    else if (strcmp(name, "SCMP_ACT_LOG") == 0)
        *out = SCMP_ACT_LOG;
    else if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
        *out = SCMP_ACT_NOTIFY;
    else
        return capsa_err_setx(err, EINVAL, "%s: unknown seccomp action \"%.64s\"", path, name);
    /* The kernel keeps only 16 bits of return data: a larger errnoRet would
     * silently become another errno. */
    bool has_data = strcmp(name, "SCMP_ACT_ERRNO") == 0 || strcmp(name, "SCMP_ACT_TRACE") == 0;
    if (has_ret && ret > 0xffff && has_data)
        return capsa_err_setx(err, EINVAL, "%s: errnoRet %u out of range (0..65535)", path, ret);
    return 0;
}

static int op_of(const char *name, const char *path, enum scmp_compare *out, struct capsa_err *err)
{
    static const struct {
        const char *name;
        enum scmp_compare op;
    } ops[] = {
        {"SCMP_CMP_NE", SCMP_CMP_NE},
        {"SCMP_CMP_LT", SCMP_CMP_LT},
        {"SCMP_CMP_LE", SCMP_CMP_LE},
        {"SCMP_CMP_EQ", SCMP_CMP_EQ},
        {"SCMP_CMP_GE", SCMP_CMP_GE},
        {"SCMP_CMP_GT", SCMP_CMP_GT},
        {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    };
    for (size_t i = 0; i < ARRAY_SIZE(ops); i++) {
        if (strcmp(ops[i].name, name) == 0) {
            *out = ops[i].op;
            return 0;
        }
    }
    return capsa_err_setx(err, EINVAL, "%s: unknown seccomp operator \"%.64s\"", path, name);
}

/* "SCMP_ARCH_X86_64" -> libseccomp's "x86_64": libseccomp's own names are
 * the OCI ones lowercased without the prefix, so asking the library keeps
 * us in step with whatever architectures the installed version knows. */
static int add_arch(struct compile_ctx *c, const char *name, size_t i, struct capsa_err *err)
{
    char low[32];
    size_t n = strlen(name);
    if (n <= 10 || n - 10 >= sizeof low || strncmp(name, "SCMP_ARCH_", 10) != 0)
        return capsa_err_setx(err, EINVAL,
                              "linux.seccomp.architectures[%zu]: unknown architecture \"%.64s\"", i,
                              name);
    for (size_t k = 10; k <= n; k++) {
        char ch = name[k];
        if (ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        low[k - 10] = ch;
    }
    uint32_t token = c->lib.arch_resolve_name(low);
    if (token == 0)
        return capsa_err_setx(err, EINVAL,
                              "linux.seccomp.architectures[%zu]: architecture \"%.64s\" unknown to "
                              "the installed libseccomp",
                              i, name);
    int r = c->lib.arch_add(c->filter, token);
    /* -EEXIST: the native architecture is in every new filter already. */
    if (r < 0 && r != -EEXIST)
        return capsa_err_set(err, -r, "linux.seccomp.architectures[%zu]: add %s", i, name);
    return 0;
}

static int set_flag(struct compile_ctx *c, const char *name, size_t i, unsigned int *kflags,
                    struct capsa_err *err)
{
    int attr = -1;
    unsigned int kflag = 0;
    if (strcmp(name, "SECCOMP_FILTER_FLAG_TSYNC") == 0) {
        attr = SCMP_FLTATR_CTL_TSYNC;
        kflag = SECCOMP_FILTER_FLAG_TSYNC;
    } else if (strcmp(name, "SECCOMP_FILTER_FLAG_LOG") == 0) {
        attr = SCMP_FLTATR_CTL_LOG;
        kflag = SECCOMP_FILTER_FLAG_LOG;
    } else if (strcmp(name, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0) {
        attr = SCMP_FLTATR_CTL_SSB;
        kflag = SECCOMP_FILTER_FLAG_SPEC_ALLOW;
    } else if (strcmp(name, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 0) {
#ifdef SCMP_FLTATR_CTL_WAITKILL
        attr = SCMP_FLTATR_CTL_WAITKILL;
        kflag = SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
#else
        /* libseccomp < 2.6 (Debian 12 has 2.5.4) has no attribute for it,
         * but the flag only matters to the kernel at load time, and we
         * load the filter ourselves: pass it there (the kernel checks it). */
        kflag = SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
#endif
    } else {
        return capsa_err_setx(err, EINVAL, "linux.seccomp.flags[%zu]: unknown flag \"%.64s\"", i,
                              name);
    }
    /* The attribute does not change the exported program (we install it
     * ourselves with kflag), but setting it makes libseccomp check that
     * both it and the running kernel support the flag. */
    int r = attr < 0 ? 0 : c->lib.attr_set(c->filter, (enum scmp_filter_attr)attr, 1);
    if (r < 0)
        return capsa_err_set(err, -r, "linux.seccomp.flags[%zu]: %s", i, name);
    *kflags |= kflag;
    return 0;
}

static int add_one(struct compile_ctx *c, uint32_t action, int nr, unsigned int n,
                   const struct scmp_arg_cmp *cmp, const char *path, const char *name,
                   struct capsa_err *err)
{
    int r = c->lib.rule_add_array(c->filter, action, nr, n, cmp);
    if (r < 0)
        return capsa_err_set(err, -r, "%s: add the rule for \"%.64s\"", path, name);
    return 0;
}

static int add_syscall_rule(struct compile_ctx *c, const struct capsa_seccomp_syscall *s,
                            size_t idx, struct capsa_err *err)
{
    char path[64];
    snprintf(path, sizeof path, "linux.seccomp.syscalls[%zu]", idx);
    uint32_t action = 0;
    int r = action_of(s->action, s->has_errno_ret, s->errno_ret, path, &action, err);
    if (r < 0)
        return r;
    /* libseccomp refuses a rule whose action is the default one; such a
     * rule changes nothing, so skip it as runc does. */
    if (action == c->default_action)
        return 0;
    if (action == SCMP_ACT_NOTIFY)
        c->uses_notify = true;

    struct scmp_arg_cmp cmp[6];
    if (s->n_args > ARRAY_SIZE(cmp))
        return capsa_err_setx(err, EINVAL, "%s.args: at most %zu", path, ARRAY_SIZE(cmp));
    bool shared_index = false;
    for (size_t i = 0; i < s->n_args; i++) {
        const struct capsa_seccomp_arg *a = &s->args[i];
        char apath[96];
        snprintf(apath, sizeof apath, "%s.args[%zu]", path, i);
        if (a->index > 5)
            return capsa_err_setx(err, EINVAL, "%s.index: must be between 0 and 5", apath);
        enum scmp_compare op = SCMP_CMP_EQ;
        if ((r = op_of(a->op, apath, &op, err)) < 0)
            return r;
        /* For SCMP_CMP_MASKED_EQ, value is the mask and valueTwo the datum
         * (the runtime-spec's and libseccomp's order). */
        cmp[i] = (struct scmp_arg_cmp){
            .arg = a->index, .op = op, .datum_a = a->value, .datum_b = a->value_two};
        for (size_t k = 0; k < i; k++) {
            if (s->args[k].index == a->index)
                shared_index = true;
        }
    }

    for (size_t n = 0; n < s->n_names; n++) {
        const char *name = s->names[n];
        int nr = c->lib.syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) {
            /* As runc: a profile written for a newer kernel or another
             * architecture still applies where it can. */
            warnf(c, "%s.names[%zu]: unknown syscall \"%.64s\", skipped", path, n, name);
            continue;
        }
        if (!shared_index) {
            /* All conditions in one rule: they must all hold (AND). */
            if ((r = add_one(c, action, nr, (unsigned int)s->n_args, cmp, path, name, err)) < 0)
                return r;
        } else {
            /* libseccomp refuses two conditions on one argument in a rule;
             * runc then adds one rule per condition (any may match, OR), and
             * profiles written for runc rely on that. */
            for (size_t i = 0; i < s->n_args; i++) {
                if ((r = add_one(c, action, nr, 1, &cmp[i], path, name, err)) < 0)
                    return r;
            }
        }
    }
    return 0;
}

/* Export the program through a memfd (libseccomp 2.5 only writes to an fd)
 * and copy it into a heap array. */
static int export_prog(struct compile_ctx *c, struct capsa_seccomp_prog *p, struct capsa_err *err)
{
    cleanup_close int fd = memfd_create("capsa-seccomp", MFD_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "linux.seccomp: memfd_create");
    int r = c->lib.export_bpf(c->filter, fd);
    if (r < 0)
        return capsa_err_set(err, -r, "linux.seccomp: export the BPF program");
    struct stat st;
    if (fstat(fd, &st) < 0)
        return capsa_err_set(err, errno, "linux.seccomp: fstat the exported program");
    size_t size = (size_t)st.st_size;
    if (size == 0 || size % sizeof(struct sock_filter) != 0)
        return capsa_err_setx(err, EINVAL, "linux.seccomp: exported program has a bad size (%zu)",
                              size);
    size_t n = size / sizeof(struct sock_filter);
    /* The kernel's limit per filter (BPF_MAXINSNS): say so here rather than
     * let seccomp(2) fail with a bare EINVAL at the last moment. */
    if (n > BPF_MAXINSNS)
        return capsa_err_setx(err, E2BIG,
                              "linux.seccomp: the filter needs %zu instructions, the kernel "
                              "accepts at most %d",
                              n, BPF_MAXINSNS);
    cleanup_free struct sock_filter *insns = malloc(size);
    if (insns == NULL)
        return capsa_err_set(err, ENOMEM, "linux.seccomp: program of %zu bytes", size);
    ssize_t got = pread(fd, insns, size, 0);
    if (got < 0)
        return capsa_err_set(err, errno, "linux.seccomp: read the exported program");
    if ((size_t)got != size)
        return capsa_err_setx(err, EIO, "linux.seccomp: short read of the exported program");
    p->insns = steal_ptr(insns);
    p->n_insns = (unsigned short)n;
    return 0;
}

static int compile_filter(struct compile_ctx *c, struct capsa_seccomp_prog *p,
                          struct capsa_err *err)
{
    const struct capsa_seccomp *sc = c->sc;
    int r;
    if ((r = action_of(sc->default_action, sc->has_default_errno_ret, sc->default_errno_ret,
                       "linux.seccomp.defaultAction", &c->default_action, err)) < 0)
        return r;
    /* The runtime-spec forbids it, and it could not work anyway: the init
     * itself would block on its own syscalls before anyone listens. */
    if (c->default_action == SCMP_ACT_NOTIFY)
        return capsa_err_setx(err, EINVAL,
                              "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY is not allowed");
    if ((r = lib_open(&c->lib, err)) < 0)
        return r;
    c->filter = c->lib.init(c->default_action);
    if (c->filter == NULL)
        return capsa_err_setx(err, EINVAL, "linux.seccomp: seccomp_init(%s) failed",
                              sc->default_action);
    /* A syscall made under an architecture missing from the filter (say
     * int 0x80 on x86_64 without SCMP_ARCH_X86) keeps libseccomp's default
     * bad-architecture action, kill: the profile never considered it. */
    for (size_t i = 0; i < sc->n_architectures; i++) {
        if ((r = add_arch(c, sc->architectures[i], i, err)) < 0)
            return r;
    }
    for (size_t i = 0; i < sc->n_flags; i++) {
        if ((r = set_flag(c, sc->flags[i], i, &p->flags, err)) < 0)
            return r;
    }
    for (size_t i = 0; i < sc->n_syscalls; i++) {
        if ((r = add_syscall_rule(c, &sc->syscalls[i], i, err)) < 0)
            return r;
    }
    if (c->uses_notify && (sc->listener_path == NULL || sc->listener_path[0] == '\0'))
        return capsa_err_setx(err, EINVAL,
                              "linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used");
    if ((p->flags & SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV) && !c->uses_notify)
        return capsa_err_setx(err, EINVAL,
                              "linux.seccomp.flags: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs a "
                              "SCMP_ACT_NOTIFY rule");
    p->uses_notify = c->uses_notify;
    return export_prog(c, p, err);
}

/* libseccomp 2.5 never returns from seccomp_rule_add for some rule sets:
 * two rules of one syscall that share an identical SCMP_CMP_NE comparison
 * and each compare another argument as well (found by fuzz_seccomp; runc and
 * crun, on the same library, hang the same way). Such a profile is compiled
 * in a child under a deadline, so that create fails instead of hanging. */
#define RISKY_DEADLINE_MS 5000

static bool same_arg(const struct capsa_seccomp_arg *a, const struct capsa_seccomp_arg *b)
{
    return a->index == b->index && a->value == b->value && a->value_two == b->value_two &&
           strcmp(a->op, b->op) == 0;
}

static bool shares_ne(const struct capsa_seccomp_syscall *x, const struct capsa_seccomp_syscall *y)
{
    if (x->n_args < 2 || y->n_args < 2)
        return false;
    for (size_t i = 0; i < x->n_args; i++)
        for (size_t j = 0; j < y->n_args; j++)
            if (strcmp(x->args[i].op, "SCMP_CMP_NE") == 0 && same_arg(&x->args[i], &y->args[j]))
                return true;
    return false;
}

static bool names_overlap(const struct capsa_seccomp_syscall *x,
                          const struct capsa_seccomp_syscall *y)
{
    for (size_t i = 0; i < x->n_names; i++)
        for (size_t j = 0; j < y->n_names; j++)
            if (strcmp(x->names[i], y->names[j]) == 0)
                return true;
    return false;
}

static bool risky(const struct capsa_seccomp *sc)
{
    for (size_t i = 0; i < sc->n_syscalls; i++)
        for (size_t j = i + 1; j < sc->n_syscalls; j++)
            if (shares_ne(&sc->syscalls[i], &sc->syscalls[j]) &&
                names_overlap(&sc->syscalls[i], &sc->syscalls[j]))
                return true;
    return false;
}

static int compile_here(const struct capsa_seccomp *sc, struct capsa_seccomp_prog **out,
                        capsa_warn_fn warn, void *opaque, struct capsa_err *err);

/* The child's answer: a header, then the instructions or an error. */
struct risky_hdr {
    int r;
    unsigned short n_insns;
    unsigned int flags;
    bool uses_notify;
};

static int compile_in_child(const struct capsa_seccomp *sc, struct capsa_seccomp_prog **out,
                            capsa_warn_fn warn, void *opaque, struct capsa_err *err)
{
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return capsa_err_set(err, errno, "pipe");
    pid_t c = fork();
    if (c < 0) {
        int e = errno;
        close(pfd[0]);
        close(pfd[1]);
        return capsa_err_set(err, e, "fork");
    }
    if (c == 0) {
        close(pfd[0]);
        struct capsa_seccomp_prog *p = NULL;
        struct capsa_err e = {0};
        struct risky_hdr h = {.r = compile_here(sc, &p, warn, opaque, &e)};
        if (h.r == 0) {
            h.n_insns = p->n_insns;
            h.flags = p->flags;
            h.uses_notify = p->uses_notify;
        }
        bool ok = capsa_write_all(pfd[1], &h, sizeof h) == 0 &&
                  (h.r == 0 ? capsa_write_all(pfd[1], p->insns, sizeof *p->insns * p->n_insns)
                            : capsa_write_all(pfd[1], &e, sizeof e)) == 0;
        _exit(ok ? 0 : 1);
    }
    close(pfd[1]);
    struct pollfd pl = {.fd = pfd[0], .events = POLLIN};
    int pr;
    do
        pr = poll(&pl, 1, RISKY_DEADLINE_MS);
    while (pr < 0 && errno == EINTR);
    struct risky_hdr h = {0};
    struct capsa_seccomp_prog *p = NULL;
    int r;
    if (pr == 0) {
        kill(c, SIGKILL);
        r = capsa_err_setx(err, ETIMEDOUT,
                           "linux.seccomp.syscalls: libseccomp did not finish compiling the "
                           "profile in %d s (two rules of one syscall share a SCMP_CMP_NE "
                           "comparison and compare other arguments too, which libseccomp 2.5 "
                           "loops on): merge those rules",
                           RISKY_DEADLINE_MS / 1000);
    } else if (capsa_read_all(pfd[0], &h, sizeof h) != (ssize_t)sizeof h) {
        r = capsa_err_setx(err, EIO, "linux.seccomp: the compiling child died");
    } else if (h.r < 0) {
        struct capsa_err ce = {0};
        if (capsa_read_all(pfd[0], &ce, sizeof ce) == (ssize_t)sizeof ce) {
            ce.msg[sizeof ce.msg - 1] = '\0';
            *err = ce;
            r = capsa_err_ret(err);
        } else {
            r = capsa_err_setx(err, EIO, "linux.seccomp: the compiling child failed");
        }
    } else if ((p = calloc(1, sizeof *p)) == NULL ||
               (p->insns = calloc(h.n_insns ? h.n_insns : 1, sizeof *p->insns)) == NULL) {
        r = capsa_err_set(err, ENOMEM, "linux.seccomp");
    } else if (capsa_read_all(pfd[0], p->insns, sizeof *p->insns * h.n_insns) !=
               (ssize_t)(sizeof *p->insns * h.n_insns)) {
        r = capsa_err_setx(err, EIO, "linux.seccomp: the compiling child's filter is short");
    } else {
        p->n_insns = h.n_insns;
        p->flags = h.flags;
        p->uses_notify = h.uses_notify;
        *out = p;
        p = NULL;
        r = 0;
    }
    close(pfd[0]);
    while (waitpid(c, NULL, 0) < 0 && errno == EINTR)
        ;
    capsa_seccomp_prog_free(p);
    return r;
}

int capsa_seccomp_compile(const struct capsa_seccomp *sc, struct capsa_seccomp_prog **out,
                          capsa_warn_fn warn, void *opaque, struct capsa_err *err)
{
    *out = NULL;
    if (sc == NULL || sc->default_action == NULL)
        return capsa_err_setx(err, EINVAL, "linux.seccomp.defaultAction: required");
    if (risky(sc))
        return compile_in_child(sc, out, warn, opaque, err);
    return compile_here(sc, out, warn, opaque, err);
}

static int compile_here(const struct capsa_seccomp *sc, struct capsa_seccomp_prog **out,
                        capsa_warn_fn warn, void *opaque, struct capsa_err *err)
{
    struct capsa_seccomp_prog *p = calloc(1, sizeof *p);
    if (p == NULL)
        return capsa_err_set(err, ENOMEM, "linux.seccomp");
    struct compile_ctx c = {.sc = sc, .warn = warn, .opaque = opaque};
    int r = compile_filter(&c, p, err);
    compile_ctx_release(&c);
    if (r < 0) {
        capsa_seccomp_prog_free(p);
        return r;
    }
    *out = p;
    return 0;
}

void capsa_seccomp_prog_free(struct capsa_seccomp_prog *p)
{
    if (p == NULL)
        return;
    free(p->insns);
    free(p);
}

int capsa_seccomp_load(const struct capsa_seccomp_prog *p, int *notify_fd_out,
                       struct capsa_err *err)
{
    if (notify_fd_out != NULL)
        *notify_fd_out = -1;
    if (p == NULL || p->insns == NULL || p->n_insns == 0)
        return capsa_err_setx(err, EINVAL, "linux.seccomp: no compiled filter");
    if (p->uses_notify && notify_fd_out == NULL)
        return capsa_err_setx(err, EINVAL, "linux.seccomp: the listener fd has nowhere to go");
    struct sock_fprog prog = {.len = p->n_insns, .filter = p->insns};
    unsigned long flags = p->flags;
    if (p->uses_notify) {
        flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        /* TSYNC reports a thread it could not sync by returning its tid,
         * which would be ambiguous with the listener fd; the kernel insists
         * on TSYNC_ESRCH (an error instead) when both are asked for. */
        if (flags & SECCOMP_FILTER_FLAG_TSYNC)
            flags |= SECCOMP_FILTER_FLAG_TSYNC_ESRCH;
    }
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
    if (r < 0) {
        int e = errno;
        if (e == EACCES)
            return capsa_err_set(err, e,
                                 "linux.seccomp: install the filter (needs no_new_privs or "
                                 "CAP_SYS_ADMIN)");
        return capsa_err_set(err, e, "linux.seccomp: install the filter");
    }
    if (p->uses_notify) {
        *notify_fd_out = (int)r;
        return 0;
    }
    if (r > 0)
        return capsa_err_setx(err, ESRCH,
                              "linux.seccomp: SECCOMP_FILTER_FLAG_TSYNC: thread %ld could not be "
                              "synchronized",
                              r);
    return 0;
}

/* {"ociVersion","fds":["seccompFd"],"pid","metadata","state"}: the
 * runtime-spec's containerProcessState. "pid" is the container process the
 * filter belongs to: process_pid when > 0 (an exec'd process), else the
 * init's pid from the state. */
static int build_process_state(const char *metadata, const char *state_json, int process_pid,
                               char **out, struct capsa_err *err)
{
    json_error_t jerr;
    json_t *state = json_loads(state_json, JSON_REJECT_DUPLICATES, &jerr);
    if (state == NULL || !json_is_object(state)) {
        json_decref(state);
        return capsa_err_setx(err, EINVAL, "seccomp listener: bad container state JSON: %s",
                              state ? "not an object" : jerr.text);
    }
    json_t *pid = json_object_get(state, "pid");
    if (!json_is_integer(pid)) {
        json_decref(state);
        return capsa_err_setx(err, EINVAL, "seccomp listener: container state has no pid");
    }
    json_int_t msg_pid = process_pid > 0 ? (json_int_t)process_pid : json_integer_value(pid);
    json_t *msg = json_pack("{s:s, s:[s], s:I}", "ociVersion", SC_OCI_VERSION, "fds", "seccompFd",
                            "pid", msg_pid);
    if (msg == NULL) {
        json_decref(state);
        return capsa_err_set(err, ENOMEM, "seccomp listener: build the message");
    }
    int bad = 0;
    /* metadata is opaque to us; absent means absent (omitempty upstream). */
    if (metadata != NULL && metadata[0] != '\0')
        bad |= json_object_set_new(msg, "metadata", json_string(metadata));
    bad |= json_object_set_new(msg, "state", state); /* steals state */
    char *text = bad ? NULL : json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    if (text == NULL)
        return capsa_err_set(err, ENOMEM, "seccomp listener: encode the message");
    *out = text;
    return 0;
}

int capsa_seccomp_send_listener(const char *listener_path, const char *metadata,
                                const char *state_json, int notify_fd, struct capsa_err *err)
{
    return capsa_seccomp_send_listener_pid(listener_path, metadata, state_json, 0, notify_fd, err);
}

int capsa_seccomp_send_listener_pid(const char *listener_path, const char *metadata,
                                    const char *state_json, int process_pid, int notify_fd,
                                    struct capsa_err *err)
{
    if (listener_path == NULL || listener_path[0] == '\0')
        return capsa_err_setx(err, EINVAL, "linux.seccomp.listenerPath: not set");
    if (notify_fd < 0)
        return capsa_err_setx(err, EBADF, "seccomp listener: no notify fd to send");
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    size_t plen = strlen(listener_path);
    if (plen >= sizeof addr.sun_path)
        return capsa_err_setx(err, ENAMETOOLONG,
                              "linux.seccomp.listenerPath: %s: longer than %zu bytes",
                              listener_path, sizeof addr.sun_path - 1);
    memcpy(addr.sun_path, listener_path, plen + 1);

    cleanup_free char *payload = NULL;
    int r = build_process_state(metadata, state_json, process_pid, &payload, err);
    if (r < 0)
        return r;
    size_t len = strlen(payload);

    cleanup_close int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0)
        return capsa_err_set(err, errno, "seccomp listener: socket");
    if (connect(sock, (struct sockaddr *)&addr, sizeof addr) < 0)
        return capsa_err_set(err, errno, "linux.seccomp.listenerPath: connect %s", listener_path);

    /* The whole document and the fd in one sendmsg: agents read the state
     * with a single recvmsg, as runc sends it. */
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctrl;
    memset(&ctrl, 0, sizeof ctrl);
    struct iovec iov = {.iov_base = payload, .iov_len = len};
    struct msghdr mh = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = ctrl.buf,
        .msg_controllen = sizeof ctrl.buf,
    };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &notify_fd, sizeof(int));
    ssize_t w;
    do {
        w = sendmsg(sock, &mh, MSG_NOSIGNAL);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        return capsa_err_set(err, errno, "seccomp listener: send to %s", listener_path);
    /* A stream socket may take less; the fd went with the first byte. */
    if ((size_t)w < len && (r = capsa_write_all(sock, payload + w, len - (size_t)w)) < 0)
        return capsa_err_set(err, -r, "seccomp listener: send to %s", listener_path);
    return 0;
}
