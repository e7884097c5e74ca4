/* fault.c - what the tender says when its guest faults. Without a word a
 * unikernel that dereferences a bad pointer just dies of SIGSEGV (exit 139).
 * The tender installs, as its last step before the seccomp filter, one
 * handler for the synchronous fault signals (SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE, SIGTRAP) on an alternate stack of its own. The handler writes one
 * line to the console (fd 1: the only output the filter allows) naming the
 * signal, the faulting address and the instruction, then makes the same
 * fault again: the disposition is back to the default (SA_RESETHAND) and
 * the signal blocked (we are in its handler), so the kernel kills the
 * process with that very signal, as if there had been no handler (engines
 * and `capsa run` see the same status as before, 128 + the signal).
 *
 * Why this does not widen the filter: it needs no system call beyond the
 * write(1) the guest already has. The handler never returns, so there is no
 * rt_sigreturn (whose register and FPU state restore would be new kernel
 * surface); the guest cannot change the handler, the mask or the stack
 * (rt_sigaction, rt_sigprocmask and sigaltstack are not allowed). The
 * handler runs with the guest's registers: it reads no TLS (the guest owns
 * %fs), so it has no stack protector, no sanitizer instrumentation and no
 * errno (a raw syscall instruction), and it calls nothing. */
#include "level/unikernel/tender.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "level/unikernel/internal.h"

/* Well above any signal frame, AVX-512 state included. */
#define ALT_STACK_SIZE ((size_t)64 << 10)

/* No canary (it reads %fs:0x28), no sanitizer runtime (it reads TLS). */
#if defined(__clang__)
#define UNTOUCHED __attribute__((no_stack_protector, no_sanitize("address", "undefined")))
#else
#define UNTOUCHED __attribute__((no_stack_protector, no_sanitize_address, no_sanitize("undefined")))
#endif

static const struct {
    int sig;
    const char *name;
    const char *reason; /* for `capsa run`: why the unikernel died of it */
} deaths[] = {
    {SIGSYS, "SIGSYS", "a system call outside the tender's allowlist"},
    {SIGSEGV, "SIGSEGV", "the guest faulted (its console says where)"},
    {SIGBUS, "SIGBUS", "the guest faulted (its console says where)"},
    {SIGILL, "SIGILL", "the guest faulted (its console says where)"},
    {SIGFPE, "SIGFPE", "the guest faulted (its console says where)"},
    {SIGTRAP, "SIGTRAP", "the guest faulted (its console says where)"},
};

const char *capsa_uk_death_reason(int sig, const char **signame)
{
    for (size_t i = 0; i < sizeof deaths / sizeof deaths[0]; i++)
        if (deaths[i].sig == sig) {
            if (signame)
                *signame = deaths[i].name;
            return deaths[i].reason;
        }
    return NULL;
}

UNTOUCHED static size_t put_str(char *buf, size_t size, size_t at, const char *s)
{
    while (*s != '\0' && at + 1 < size)
        buf[at++] = *s++;
    return at;
}

UNTOUCHED static size_t put_hex(char *buf, size_t size, size_t at, uint64_t v)
{
    at = put_str(buf, size, at, "0x");
    int shift = 60;
    while (shift > 0 && ((v >> shift) & 0xf) == 0)
        shift -= 4;
    for (; shift >= 0 && at + 1 < size; shift -= 4)
        buf[at++] = "0123456789abcdef"[(v >> shift) & 0xf];
    return at;
}

/* Fault again with sig, never returning. Each way is architectural: a load
 * from a non-canonical address is #GP (SIGSEGV), through %rsp it is #SS
 * (SIGBUS); ud2 is #UD (SIGILL); dividing by zero is #DE (SIGFPE); int3 is
 * #BP (SIGTRAP). None needs a mapping of ours to exist or not. */
UNTOUCHED __attribute__((noreturn)) static void fault_again(int sig)
{
    switch (sig) {
    case SIGBUS:
        __asm__ volatile("movabs $0x8000000000000000, %%rsp\n\tmov (%%rsp), %%rax" ::
                             : "rax", "memory");
        break;
    case SIGILL:
        __asm__ volatile("ud2" ::: "memory");
        break;
    case SIGFPE:
        __asm__ volatile("xor %%ecx, %%ecx\n\txor %%edx, %%edx\n\tdiv %%ecx" ::
                             : "rax", "rcx", "rdx", "memory");
        break;
    case SIGTRAP:
        __asm__ volatile("int3" ::: "memory");
        break;
    default:
        break;
    }
    for (;;) /* SIGSEGV, and the fallback should any of the above return */
        __asm__ volatile("movabs $0x8000000000000000, %%rax\n\tmov (%%rax), %%rax" ::
                             : "rax", "memory");
}

UNTOUCHED static void on_fault(int sig, siginfo_t *si, void *ctx)
{
    const ucontext_t *uc = ctx;
    const char *name = "a fault signal";
    for (size_t i = 0; i < sizeof deaths / sizeof deaths[0]; i++)
        if (deaths[i].sig == sig)
            name = deaths[i].name;
    char msg[192];
    size_t n = put_str(msg, sizeof msg, 0, "unikernel fault: ");
    n = put_str(msg, sizeof msg, n, name);
    n = put_str(msg, sizeof msg, n, " at address ");
    n = put_hex(msg, sizeof msg, n, (uint64_t)(uintptr_t)si->si_addr);
    n = put_str(msg, sizeof msg, n, ", instruction ");
    n = put_hex(msg, sizeof msg, n, (uint64_t)uc->uc_mcontext.gregs[REG_RIP]);
    n = put_str(msg, sizeof msg, n, "; the unikernel is killed by that signal\n");
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"((long)SYS_write), "D"(1L), "S"(msg), "d"(n)
                     : "rcx", "r11", "memory");
    (void)ret; /* nothing to do about a console that does not take it */
    fault_again(sig);
}

int capsa_uk_fault_install(struct capsa_err *err)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP};
    /* Never unmapped: the process ends with the guest. */
    void *stack = mmap(NULL, ALT_STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED)
        return capsa_err_set(err, errno, "map the tender's signal stack");
    stack_t ss = {.ss_sp = stack, .ss_size = ALT_STACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) < 0)
        return capsa_err_set(err, errno, "sigaltstack");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaddset(&set, sigs[i]);
    /* A second fault inside the handler is then forced to its default. */
    sa.sa_mask = set;
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return capsa_err_set(err, errno, "sigaction");
    /* Blocked, a fault would kill without the handler. */
    if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
        return capsa_err_set(err, errno, "sigprocmask");
    return 0;
}
