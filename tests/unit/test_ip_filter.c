/* test_ip_filter.c - the interpose level's filter (src/lib/level/interpose/filter.c).
 *
 * Three ways in:
 *  - the table: every name is the x86-64 call libseccomp knows by that number,
 *    the brokered list (brokered.h) is exactly the table's brokered calls
 *    plus those the egress policy sends there, and docs/interpose.md prints
 *    the table as it is;
 *  - the program run by a small classic-BPF interpreter over every table
 *    entry, every number up to 1023, other architectures, x32, and the
 *    argument checks value by value (calls that must never run for real,
 *    reboot or kexec_load, are only checked this way);
 *  - the program loaded for real in a child, which makes harmless forms of
 *    native, refused, unknown and brokered calls while this process acts as
 *    the supervisor: it takes the listener with pidfd_getfd, receives each
 *    notification, checks its number (and openat's path, read from the
 *    child's memory) and answers EXDEV, which the child must then see.
 *
 * CAPSA_IP_PRINT_TABLE=1 prints the docs table instead of testing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <linux/personality.h>
#include <linux/seccomp.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <asm/prctl.h>

#include "level/interpose/brokered.h"
#include "level/interpose/interpose.h"
#include "level/interpose/super.h"
#include "linux/scmp.h"

#define ERRNO(e) (SECCOMP_RET_ERRNO | ((uint32_t)(e)&SECCOMP_RET_DATA))

/* The calls whose action depends on their arguments (filter.c's blocks). */
static bool checked(int nr)
{
    static const int nrs[] = {SYS_ioctl,      SYS_socket,    SYS_sendto,      SYS_socketpair,
                              SYS_setsockopt, SYS_clone,     SYS_personality, SYS_prctl,
                              SYS_arch_prctl, SYS_utimensat, SYS_seccomp};
    for (size_t i = 0; i < sizeof nrs / sizeof nrs[0]; i++) {
        if (nrs[i] == nr)
            return true;
    }
    return false;
}

/* Native calls the egress policy sends to the supervisor. */
static bool egress_brokered(const char *name)
{
    return strcmp(name, "sendmsg") == 0 || strcmp(name, "sendmmsg") == 0;
}

static const struct capsa_ip_sysent *find(const char *name)
{
    size_t n = 0;
    const struct capsa_ip_sysent *t = capsa_ip_syscalls(&n);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    }
    return NULL;
}

/* The entry for name, which must be listed. */
static const struct capsa_ip_sysent *entry(const char *name)
{
    static const struct capsa_ip_sysent none = {.name = "", .nr = -1};
    const struct capsa_ip_sysent *e = find(name);
    if (e == NULL) {
        fail_msg("%s is not in the table", name);
        return &none;
    }
    return e;
}

static struct capsa_seccomp_prog *compile(bool egress)
{
    struct capsa_ip_policy p = {.egress_set = egress, .audit = CAPSA_IP_AUDIT_REFUSED};
    struct capsa_seccomp_prog *prog = NULL;
    struct capsa_err err = {0};
    if (capsa_ip_filter_compile(&p, &prog, &err) < 0)
        fail_msg("compile: %s", err.msg);
    assert_non_null(prog);
    assert_true(prog->uses_notify);
    assert_true(prog->n_insns > 0 && prog->n_insns <= BPF_MAXINSNS);
    return prog;
}

/* ---- the table ---- */

static void test_table(void **state)
{
    (void)state;
    size_t n = 0;
    const struct capsa_ip_sysent *t = capsa_ip_syscalls(&n);
    assert_true(n > 300);
    for (size_t i = 0; i < n; i++) {
        int nr = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, t[i].name);
        if (nr != t[i].nr)
            fail_msg("%s: the table says %d, libseccomp %d", t[i].name, t[i].nr, nr);
        for (size_t k = 0; k < i; k++) {
            if (t[k].nr == t[i].nr || strcmp(t[k].name, t[i].name) == 0)
                fail_msg("%s listed twice", t[i].name);
        }
        if (t[i].cls == CAPSA_IP_REFUSED) {
            if (t[i].err != EPERM && t[i].err != ENOSYS)
                fail_msg("%s: refused with %d, not EPERM or ENOSYS", t[i].name, t[i].err);
            if (t[i].check == NULL || t[i].check[0] == '\0')
                fail_msg("%s: refused without a reason", t[i].name);
        } else {
            assert_int_equal(t[i].err, 0);
        }
        assert_non_null(t[i].check);
        if (checked(t[i].nr) && t[i].check[0] == '\0')
            fail_msg("%s: argument checks not described", t[i].name);
    }
    /* Calls the design names, in their class. */
    assert_int_equal(entry("openat")->cls, CAPSA_IP_BROKERED);
    assert_int_equal(entry("newfstatat")->cls, CAPSA_IP_BROKERED);
    assert_int_equal(entry("connect")->cls, CAPSA_IP_BROKERED);
    assert_int_equal(entry("read")->cls, CAPSA_IP_NATIVE);
    assert_int_equal(entry("execve")->cls, CAPSA_IP_NATIVE);
    assert_int_equal(entry("clone3")->cls, CAPSA_IP_REFUSED);
    assert_int_equal(entry("clone3")->err, ENOSYS);
    assert_int_equal(entry("io_uring_setup")->err, ENOSYS);
    assert_int_equal(entry("bpf")->err, EPERM);
    assert_null(find("process_madvise")); /* not listed: ENOSYS */
}

struct listed {
    const char *name;
    int nr;
};

static void test_brokered_list(void **state)
{
    (void)state;
#define X(name, nr) {#name, nr},
    static const struct listed list[] = {CAPSA_IP_BROKERED_LIST(X)};
#undef X
    size_t nl = sizeof list / sizeof list[0];
    for (size_t i = 0; i < nl; i++) {
        const struct capsa_ip_sysent *e = entry(list[i].name);
        if (e->nr != list[i].nr)
            fail_msg("%s: brokered.h says %d, the table %d", list[i].name, list[i].nr, e->nr);
        if (e->cls != CAPSA_IP_BROKERED &&
            !(e->cls == CAPSA_IP_NATIVE && egress_brokered(list[i].name)))
            fail_msg("brokered.h lists %s, which the filter never sends", list[i].name);
    }
    size_t n = 0, want = 0;
    const struct capsa_ip_sysent *t = capsa_ip_syscalls(&n);
    for (size_t i = 0; i < n; i++) {
        if (t[i].cls != CAPSA_IP_BROKERED && !egress_brokered(t[i].name))
            continue;
        want++;
        bool found = false;
        for (size_t k = 0; k < nl; k++)
            found |= strcmp(list[k].name, t[i].name) == 0;
        if (!found)
            fail_msg("%s may reach the supervisor but brokered.h lacks it", t[i].name);
    }
    assert_int_equal(nl, want);
}

static const char *cls_name(enum capsa_ip_class c)
{
    switch (c) {
    case CAPSA_IP_NATIVE:
        return "native";
    case CAPSA_IP_BROKERED:
        return "brokered";
    case CAPSA_IP_REFUSED:
        return "refused";
    }
    return "?";
}

/* One docs row per entry, in table order. */
static void table_rows(char *buf, size_t size)
{
    size_t n = 0, off = 0;
    const struct capsa_ip_sysent *t = capsa_ip_syscalls(&n);
    off += (size_t)snprintf(buf + off, size - off,
                            "| call | nr | class | errno | notes |\n|---|---:|---|---|---|\n");
    for (size_t i = 0; i < n && off < size; i++) {
        const char *e = t[i].cls == CAPSA_IP_REFUSED ? strerrorname_np(t[i].err) : "";
        if (e == NULL)
            e = "?";
        off += (size_t)snprintf(buf + off, size - off, "| %s | %d | %s | %s | %s |\n", t[i].name,
                                t[i].nr, cls_name(t[i].cls), e, t[i].check);
    }
    assert_true(off < size);
}

#define DOCS        "docs/interpose.md"
#define TABLE_BEGIN "<!-- syscall table: tests/unit/test_ip_filter.c checks it -->\n"
#define TABLE_END   "<!-- end of syscall table -->\n"

static void test_docs_table(void **state)
{
    (void)state;
    static char want[1 << 16], doc[1 << 18];
    table_rows(want, sizeof want);
    /* From the repository's root (make unit, scripts/test.sh), else from
     * the binary's: build/tests/ or build/asan/tests/. */
    FILE *f = fopen(DOCS, "r");
    char exe[4096];
    ssize_t el = readlink("/proc/self/exe", exe, sizeof exe - 64);
    for (int up = 0; f == NULL && el > 0 && up < 4; up++) {
        exe[el] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash == NULL)
            break;
        *slash = '\0';
        el = slash - exe;
        char path[4160];
        snprintf(path, sizeof path, "%s/%s", exe, DOCS);
        f = fopen(path, "r");
    }
    if (f == NULL) {
        fail_msg("%s: %s (run from the repository's root)", DOCS, strerror(errno));
        return;
    }
    size_t len = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[len] = '\0';
    char *b = strstr(doc, TABLE_BEGIN), *e = b ? strstr(b, TABLE_END) : NULL;
    if (b == NULL || e == NULL) {
        fail_msg("%s: no table between the markers", DOCS);
        return;
    }
    b += strlen(TABLE_BEGIN);
    *e = '\0';
    if (strcmp(b, want) != 0)
        fail_msg("%s's table differs from capsa_ip_syscalls(): regenerate it with "
                 "CAPSA_IP_PRINT_TABLE=1 %s",
                 DOCS, "build/tests/test_ip_filter");
}

/* ---- the program, interpreted ---- */

/* Classic BPF as the kernel runs it for seccomp, for the instructions the
 * filter uses; anything else fails the test. *args: whether an argument
 * (or the instruction pointer) was read on the way. */
static uint32_t run(const struct capsa_seccomp_prog *p, const struct seccomp_data *d, bool *args)
{
    uint32_t a = 0;
    unsigned pc = 0;
    const uint8_t *mem = (const uint8_t *)d;
    if (args != NULL)
        *args = false;
    for (;;) {
        if (pc >= p->n_insns)
            fail_msg("pc %u runs off the program", pc);
        const struct sock_filter *f = &p->insns[pc++];
        switch (f->code) {
        case BPF_LD | BPF_W | BPF_ABS:
            if (f->k % 4 != 0 || f->k + 4 > sizeof *d)
                fail_msg("load at %u", f->k);
            memcpy(&a, mem + f->k, 4);
            if (args != NULL && f->k >= offsetof(struct seccomp_data, instruction_pointer))
                *args = true;
            break;
        case BPF_ALU | BPF_AND | BPF_K:
            a &= f->k;
            break;
        case BPF_JMP | BPF_JA:
            pc += f->k;
            break;
        case BPF_JMP | BPF_JEQ | BPF_K:
            pc += a == f->k ? f->jt : f->jf;
            break;
        case BPF_JMP | BPF_JGE | BPF_K:
            pc += a >= f->k ? f->jt : f->jf;
            break;
        case BPF_JMP | BPF_JGT | BPF_K:
            pc += a > f->k ? f->jt : f->jf;
            break;
        case BPF_JMP | BPF_JSET | BPF_K:
            pc += (a & f->k) ? f->jt : f->jf;
            break;
        case BPF_RET | BPF_K:
            return f->k;
        default:
            fail_msg("instruction %u: code %#x", pc - 1, f->code);
        }
    }
}

static uint32_t call(const struct capsa_seccomp_prog *p, int nr, uint64_t a0, uint64_t a1,
                     uint64_t a2, uint64_t a3, uint64_t a4)
{
    struct seccomp_data d = {.nr = nr,
                             .arch = AUDIT_ARCH_X86_64,
                             .instruction_pointer = 0x401000,
                             .args = {a0, a1, a2, a3, a4, 0}};
    return run(p, &d, NULL);
}

static void test_emulated_table(void **state)
{
    (void)state;
    size_t n = 0;
    const struct capsa_ip_sysent *t = capsa_ip_syscalls(&n);
    for (int egress = 0; egress < 2; egress++) {
        struct capsa_seccomp_prog *p = compile(egress);
        for (size_t i = 0; i < n; i++) {
            if (checked(t[i].nr))
                continue;
            uint32_t want = t[i].cls == CAPSA_IP_NATIVE     ? SECCOMP_RET_ALLOW
                            : t[i].cls == CAPSA_IP_BROKERED ? SECCOMP_RET_USER_NOTIF
                                                            : ERRNO(t[i].err);
            if (egress && egress_brokered(t[i].name))
                want = SECCOMP_RET_USER_NOTIF;
            /* With arguments that would fail any check, and all ones. */
            struct seccomp_data d = {.nr = t[i].nr, .arch = AUDIT_ARCH_X86_64};
            memset(d.args, 0xff, sizeof d.args);
            bool args = true;
            uint32_t got = run(p, &d, &args);
            if (got != want)
                fail_msg("%s (%d): %#x, want %#x", t[i].name, t[i].nr, got, want);
            /* The kernel caches "always allowed" only for a path that
             * reads no argument: none of these may read one. */
            if (args)
                fail_msg("%s: an argument is read", t[i].name);
        }
        /* Numbers not in the table: ENOSYS. */
        for (int nr = 0; nr < 1024; nr++) {
            bool listed = false;
            for (size_t i = 0; i < n; i++)
                listed |= t[i].nr == nr;
            if (!listed && call(p, nr, 0, 0, 0, 0, 0) != ERRNO(ENOSYS))
                fail_msg("unlisted %d: %#x", nr, call(p, nr, 0, 0, 0, 0, 0));
        }
        /* Another architecture, the x32 ABI, a negative number: killed. */
        static const uint32_t arches[] = {AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64, 0};
        for (size_t k = 0; k < 3; k++) {
            struct seccomp_data d = {.nr = SYS_getpid, .arch = arches[k]};
            assert_int_equal(run(p, &d, NULL), SECCOMP_RET_KILL_PROCESS);
        }
        assert_int_equal(call(p, 0x40000000 | SYS_getpid, 0, 0, 0, 0, 0), SECCOMP_RET_KILL_PROCESS);
        assert_int_equal(call(p, 0x40000000 | 512, 0, 0, 0, 0, 0), SECCOMP_RET_KILL_PROCESS);
        assert_int_equal(call(p, -1, 0, 0, 0, 0, 0), SECCOMP_RET_KILL_PROCESS);
        capsa_seccomp_prog_free(p);
    }
}

#define ALLOW  SECCOMP_RET_ALLOW
#define NOTIFY SECCOMP_RET_USER_NOTIF
#define HI     0xdead000000000000ull /* an upper half the kernel ignores for an int */

static uint32_t sock(const struct capsa_seccomp_prog *p, uint64_t f, uint64_t t, uint64_t pr)
{
    return call(p, SYS_socket, f, t, pr, 0, 0);
}

static void test_emulated_args(void **state)
{
    (void)state;
    struct capsa_seccomp_prog *p = compile(false);
    const uint64_t fl = SOCK_NONBLOCK | SOCK_CLOEXEC;

    /* socket: family, then type (flags aside), then protocol. */
    assert_int_equal(sock(p, AF_UNIX, SOCK_STREAM, 0), ALLOW);
    assert_int_equal(sock(p, AF_UNIX, SOCK_DGRAM | fl, 0), ALLOW);
    assert_int_equal(sock(p, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, PF_UNIX), ALLOW);
    assert_int_equal(sock(p, AF_UNIX | HI, SOCK_STREAM | HI, HI), ALLOW);
    assert_int_equal(sock(p, AF_UNIX, SOCK_RAW, 0), ERRNO(EPERM));
    assert_int_equal(sock(p, AF_UNIX, SOCK_STREAM, 2), ERRNO(EPROTONOSUPPORT));
    for (int af = AF_INET; af <= AF_INET6; af += AF_INET6 - AF_INET) {
        assert_int_equal(sock(p, af, SOCK_STREAM | fl, 0), ALLOW);
        assert_int_equal(sock(p, af, SOCK_STREAM, IPPROTO_TCP), ALLOW);
        assert_int_equal(sock(p, af, SOCK_DGRAM, IPPROTO_UDP), ALLOW);
        assert_int_equal(sock(p, af, SOCK_DGRAM, 0), ALLOW);
        assert_int_equal(sock(p, af, SOCK_STREAM, IPPROTO_UDP), ERRNO(EPROTONOSUPPORT));
        assert_int_equal(sock(p, af, SOCK_STREAM, IPPROTO_SCTP), ERRNO(EPROTONOSUPPORT));
        assert_int_equal(sock(p, af, SOCK_STREAM, IPPROTO_MPTCP), ERRNO(EPROTONOSUPPORT));
        assert_int_equal(sock(p, af, SOCK_DGRAM, IPPROTO_UDPLITE), ERRNO(EPROTONOSUPPORT));
        assert_int_equal(sock(p, af, SOCK_RAW, IPPROTO_ICMP), ERRNO(EPERM));
        assert_int_equal(sock(p, af, SOCK_RAW | fl, IPPROTO_RAW), ERRNO(EPERM));
        assert_int_equal(sock(p, af, SOCK_PACKET, 0), ERRNO(EPERM));
        assert_int_equal(sock(p, af, SOCK_SEQPACKET, IPPROTO_SCTP), ERRNO(EPERM));
        assert_int_equal(sock(p, af, SOCK_STREAM | 0x100, 0), ERRNO(EPERM)); /* stray bit */
    }
    assert_int_equal(sock(p, AF_INET, SOCK_DGRAM, IPPROTO_ICMP), ALLOW);
    assert_int_equal(sock(p, AF_INET, SOCK_DGRAM, IPPROTO_ICMPV6), ERRNO(EPROTONOSUPPORT));
    assert_int_equal(sock(p, AF_INET6, SOCK_DGRAM, IPPROTO_ICMPV6), ALLOW);
    assert_int_equal(sock(p, AF_INET6, SOCK_DGRAM, IPPROTO_ICMP), ERRNO(EPROTONOSUPPORT));
    assert_int_equal(sock(p, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE), ALLOW);
    assert_int_equal(sock(p, AF_NETLINK, SOCK_DGRAM, NETLINK_ROUTE), ALLOW);
    assert_int_equal(sock(p, AF_NETLINK, SOCK_RAW, NETLINK_AUDIT), ERRNO(EPROTONOSUPPORT));
    assert_int_equal(sock(p, AF_NETLINK, SOCK_RAW, NETLINK_NETFILTER), ERRNO(EPROTONOSUPPORT));
    assert_int_equal(sock(p, AF_NETLINK, SOCK_RAW, NETLINK_KOBJECT_UEVENT), ERRNO(EPROTONOSUPPORT));
    assert_int_equal(sock(p, AF_NETLINK, SOCK_STREAM, NETLINK_ROUTE), ERRNO(EPERM));
    for (uint64_t af = 0; af < 64; af++) {
        if (af == AF_UNIX || af == AF_INET || af == AF_INET6 || af == AF_NETLINK)
            continue;
        assert_int_equal(sock(p, af, SOCK_DGRAM, 0), ERRNO(EAFNOSUPPORT));
    }
    assert_int_equal(sock(p, 1ull << 32, SOCK_STREAM, 0), ERRNO(EAFNOSUPPORT)); /* AF_UNSPEC */

    assert_int_equal(call(p, SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_socketpair, AF_INET, SOCK_STREAM, 0, 0, 0), ERRNO(EAFNOSUPPORT));

    /* ioctl: by request, the lower half only. */
    static const unsigned long ok[] = {TCGETS,    TCSETSW,  TIOCGWINSZ, TIOCSWINSZ,   TIOCSPGRP,
                                       TIOCSCTTY, TIOCGPTN, TIOCSPTLCK, TIOCGPTPEER,  FIONREAD,
                                       FIONBIO,   FIOCLEX,  TCSBRK,     SIOCGIFINDEX, FICLONE,
                                       0x802c542a /* TCGETS2 */};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        assert_int_equal(call(p, SYS_ioctl, 0, ok[i], 0, 0, 0), ALLOW);
        assert_int_equal(call(p, SYS_ioctl, 0, ok[i] | HI, 0, 0, 0), ALLOW);
    }
    static const unsigned long deny[] = {TIOCSTI, TIOCLINUX, TIOCCONS, TIOCSETD};
    for (size_t i = 0; i < sizeof deny / sizeof deny[0]; i++) {
        assert_int_equal(call(p, SYS_ioctl, 0, deny[i], 0, 0, 0), ERRNO(EPERM));
        /* The kernel truncates the request to 32 bits: so must the check. */
        assert_int_equal(call(p, SYS_ioctl, 0, deny[i] | HI, 0, 0, 0), ERRNO(EPERM));
    }
    static const unsigned long unknown[] = {FS_IOC_SETFLAGS,        SIOCSIFADDR,      SIOCSIFFLAGS,
                                            0x4B3A /* KDSETMODE */, 0x5401 + 0x10000, 0};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_int_equal(call(p, SYS_ioctl, 0, unknown[i], 0, 0, 0), ERRNO(ENOTTY));

    /* clone: each namespace flag alone, and with a thread's flags. */
    const uint64_t thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
                            CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID |
                            CLONE_CHILD_CLEARTID;
    assert_int_equal(call(p, SYS_clone, thread, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_clone, SIGCHLD, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_clone, CLONE_VM | CLONE_VFORK | SIGCHLD, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_clone, SIGCHLD | HI, 0, 0, 0, 0), ALLOW);
    static const uint64_t ns[] = {CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
                                  CLONE_NEWUSER, CLONE_NEWPID,    CLONE_NEWNET};
    for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++) {
        assert_int_equal(call(p, SYS_clone, ns[i] | SIGCHLD, 0, 0, 0, 0), ERRNO(EPERM));
        assert_int_equal(call(p, SYS_clone, ns[i] | thread, 0, 0, 0, 0), ERRNO(EPERM));
    }

    /* prctl, arch_prctl, personality. */
    assert_int_equal(call(p, SYS_prctl, PR_SET_NAME, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_prctl, PR_SET_SECCOMP, 2, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_prctl, PR_CAP_AMBIENT, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_prctl, PR_SET_VMA, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_prctl, PR_SET_MM, 0, 0, 0, 0), ERRNO(EINVAL));
    assert_int_equal(call(p, SYS_prctl, 57 /* PR_SET_IO_FLUSHER */, 0, 0, 0, 0), ERRNO(EINVAL));
    assert_int_equal(call(p, SYS_prctl, 59 /* SYSCALL_USER_DISPATCH */, 0, 0, 0, 0), ERRNO(EINVAL));
    assert_int_equal(call(p, SYS_arch_prctl, ARCH_SET_FS, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, 18, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_arch_prctl, 0x5001 /* SHSTK_ENABLE */, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_arch_prctl, 0x2001 /* MAP_VDSO_X32 */, 0, 0, 0, 0), ERRNO(EINVAL));
    assert_int_equal(call(p, SYS_arch_prctl, ARCH_REQ_XCOMP_GUEST_PERM, 0, 0, 0, 0), ERRNO(EINVAL));
    assert_int_equal(call(p, SYS_personality, 0xffffffff, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_personality, ~0ull, 0, 0, 0, 0), ALLOW); /* (long)-1 */
    assert_int_equal(call(p, SYS_personality, PER_LINUX, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_personality, PER_LINUX32, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_personality, READ_IMPLIES_EXEC, 0, 0, 0, 0), ERRNO(EPERM));
    assert_int_equal(call(p, SYS_personality, ADDR_NO_RANDOMIZE, 0, 0, 0, 0), ERRNO(EPERM));

    /* setsockopt: by level, then option. */
    assert_int_equal(call(p, SYS_setsockopt, 3, SOL_SOCKET, SO_REUSEADDR, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, SOL_SOCKET, SO_DETACH_FILTER, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, SOL_SOCKET, SO_ATTACH_FILTER, 0, 0), ERRNO(EPERM));
    assert_int_equal(call(p, SYS_setsockopt, 3, SOL_SOCKET, SO_ATTACH_BPF, 0, 0), ERRNO(EPERM));
    assert_int_equal(call(p, SYS_setsockopt, 3, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, 0, 0),
                     ERRNO(EPERM));
    assert_int_equal(call(p, SYS_setsockopt, 3, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, 0, 0),
                     ERRNO(EPERM));
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_TCP, TCP_NODELAY, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_TCP, TCP_ULP, 0, 0), ERRNO(EPERM));
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IP, IP_TOS, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IP, 63, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IP, 64, 0, 0), ERRNO(EPERM));
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IP, 96, 0, 0), ERRNO(EPERM));
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IP, 128, 0, 0), ERRNO(EPERM));
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IP, 1152, 0, 0), ERRNO(EPERM));
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IPV6, IPV6_V6ONLY, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IPV6, 63, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IPV6, 64, 0, 0), ERRNO(EPERM));
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IPV6, 65, 0, 0), ERRNO(EPERM));
    /* IPV6_RECVTCLASS and IPV6_TCLASS (CPython's test_socket sets them). */
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IPV6, 66, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IPV6, 67, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IPV6, 69, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_IPV6, 75, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, IPPROTO_UDP, 1, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, 270 /* SOL_NETLINK */, 1, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_setsockopt, 3, 263 /* SOL_PACKET */, 1, 0, 0), ERRNO(ENOPROTOOPT));
    assert_int_equal(call(p, SYS_setsockopt, 3, 282 /* SOL_TLS */, 1, 0, 0), ERRNO(ENOPROTOOPT));

    /* seccomp: no listener of its own. */
    assert_int_equal(call(p, SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, 0, 0, 0), ALLOW);
    assert_int_equal(
        call(p, SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, 0, 0, 0), ALLOW);
    assert_int_equal(
        call(p, SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, 0, 0, 0),
        ERRNO(EBUSY));
    assert_int_equal(call(p, SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_seccomp, 9, 0, 0, 0, 0), ERRNO(EINVAL));

    /* A NULL pointer keeps sendto and utimensat native; any other value,
     * in either half, goes to the supervisor. */
    assert_int_equal(call(p, SYS_sendto, 3, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_sendto, 3, 0, 0, 0, 0x7ffc0000), NOTIFY);
    assert_int_equal(call(p, SYS_sendto, 3, 0, 0, 0, 1ull << 32), NOTIFY);
    assert_int_equal(call(p, SYS_utimensat, 3, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_utimensat, AT_FDCWD, 0x7ffc0000, 0, 0, 0), NOTIFY);
    assert_int_equal(call(p, SYS_utimensat, AT_FDCWD, 1ull << 32, 0, 0, 0), NOTIFY);
    capsa_seccomp_prog_free(p);

    /* egress set: sendmsg and sendmmsg too. */
    p = compile(true);
    assert_int_equal(call(p, SYS_sendmsg, 3, 0, 0, 0, 0), NOTIFY);
    assert_int_equal(call(p, SYS_sendmmsg, 3, 0, 0, 0, 0), NOTIFY);
    assert_int_equal(call(p, SYS_sendto, 3, 0, 0, 0, 0), ALLOW);
    assert_int_equal(call(p, SYS_recvmsg, 3, 0, 0, 0, 0), ALLOW);
    capsa_seccomp_prog_free(p);
    p = compile(false);
    assert_int_equal(call(p, SYS_sendmsg, 3, 0, 0, 0, 0), ALLOW);
    capsa_seccomp_prog_free(p);
}

/* ---- the program, loaded ---- */

/* The child's report: one line per failed check, then "END". */
/* The supervisor's and its fetcher's own filters (hand-built allowlists). */
static void test_super_filters(void **state)
{
    (void)state;
    struct capsa_seccomp_prog *sup = NULL, *fetch = NULL;
    struct capsa_err err = {0};
    assert_int_equal(capsa_ip_super_filters(&sup, &fetch, &err), 0);
    const uint32_t KILLP = SECCOMP_RET_KILL_PROCESS;
    /* The supervisor: its calls, the listener's ioctls, threads only. */
    assert_int_equal(call(sup, SYS_read, 0, 0, 0, 0, 0), SECCOMP_RET_ALLOW);
    assert_int_equal(call(sup, SYS_process_vm_readv, 0, 0, 0, 0, 0), SECCOMP_RET_ALLOW);
    assert_int_equal(call(sup, SYS_getdents64, 0, 0, 0, 0, 0), SECCOMP_RET_ALLOW);
    assert_int_equal(call(sup, SYS_ioctl, 5, SECCOMP_IOCTL_NOTIF_RECV, 0, 0, 0), SECCOMP_RET_ALLOW);
    assert_int_equal(call(sup, SYS_ioctl, 5, SECCOMP_IOCTL_NOTIF_ADDFD, 0, 0, 0),
                     SECCOMP_RET_ALLOW);
    assert_int_equal(call(sup, SYS_ioctl, 5, TIOCSTI, 0, 0, 0), KILLP);
    assert_int_equal(call(sup, SYS_clone, CLONE_VM | CLONE_THREAD | CLONE_SIGHAND, 0, 0, 0, 0),
                     SECCOMP_RET_ALLOW);
    assert_int_equal(call(sup, SYS_clone, SIGCHLD, 0, 0, 0, 0), KILLP);
    assert_int_equal(call(sup, SYS_clone3, 0, 0, 0, 0, 0), ERRNO(ENOSYS));
    assert_int_equal(call(sup, SYS_execve, 0, 0, 0, 0, 0), KILLP);
    assert_int_equal(call(sup, SYS_ptrace, 0, 0, 0, 0, 0), KILLP);
    assert_int_equal(call(sup, SYS_mount, 0, 0, 0, 0, 0), KILLP);
    assert_int_equal(call(sup, SYS_read | 0x40000000, 0, 0, 0, 0, 0), KILLP);
    struct seccomp_data d = {.nr = 3, .arch = AUDIT_ARCH_I386};
    assert_int_equal(run(sup, &d, NULL), KILLP);
    /* The fetcher: taking an fd and passing it on, nothing more. */
    assert_int_equal(call(fetch, SYS_pidfd_getfd, 0, 0, 0, 0, 0), SECCOMP_RET_ALLOW);
    assert_int_equal(call(fetch, SYS_sendmsg, 0, 0, 0, 0, 0), SECCOMP_RET_ALLOW);
    assert_int_equal(call(fetch, SYS_openat, 0, 0, 0, 0, 0), KILLP);
    assert_int_equal(call(fetch, SYS_ioctl, 5, SECCOMP_IOCTL_NOTIF_RECV, 0, 0, 0), KILLP);
    assert_int_equal(call(fetch, SYS_clone, CLONE_THREAD, 0, 0, 0, 0), KILLP);
    assert_int_equal(call(fetch, SYS_clone3, 0, 0, 0, 0, 0), KILLP);
    assert_false(sup->uses_notify);
    capsa_seccomp_prog_free(sup);
    capsa_seccomp_prog_free(fetch);
    /* A call listed where its rule should decide is a programming error. */
    const int bad[] = {SYS_read, SYS_ioctl};
    const unsigned long ioc[] = {FIONREAD};
    struct capsa_ip_allowlist a = {.calls = bad, .n_calls = 2, .ioctls = ioc, .n_ioctls = 1};
    struct capsa_seccomp_prog *p = NULL;
    assert_int_equal(capsa_ip_allowlist_compile(&a, &p, &err), -EINVAL);
    assert_null(p);
}

static int report_fd = -1;
static int fails;

static void fail_line(int line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_line(int line, const char *fmt, ...)
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "line %d: ", line);
    va_list ap;
    va_start(ap, fmt);
    n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = (int)sizeof buf - 2;
    buf[n++] = '\n';
    if (write(report_fd, buf, (size_t)n) < 0)
        _exit(90);
    fails++;
}

/* r is a call's result, e the errno after it: want r >= 0 (want_errno 0)
 * or r == -1 with errno want_errno. */
static void expect(int line, const char *what, long r, int e, int want_errno)
{
    if (want_errno == 0 && r >= 0)
        return;
    if (want_errno != 0 && r == -1 && e == want_errno)
        return;
    const char *got = r < 0 ? strerrorname_np(e) : "-";
    const char *want = want_errno != 0 ? strerrorname_np(want_errno) : "success";
    fail_line(line, "%s = %ld (%s), want %s", what, r, got ? got : "?", want ? want : "?");
}

#define EXPECT(r, want_errno)                                                                      \
    do {                                                                                           \
        long r_ = (r);                                                                             \
        expect(__LINE__, #r, r_, errno, want_errno);                                               \
    } while (0)

#define TEST_PATH "/capsa-ip-test/no/such/file"

static void *thread_fn(void *arg)
{
    return arg;
}

/* Whether int 0x80 reaches the kernel here (IA32 emulation): getpid's
 * i386 number is 20. */
static long int80_getpid(void)
{
    long r = 20;
    __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
    return r;
}

/* cmocka catches these signals to report a crashed test; a forked child
 * that expects to die of one must not run the test runner's handler. */
static void default_signals(void)
{
    static const int sigs[] = {SIGSEGV, SIGSYS, SIGILL, SIGBUS, SIGFPE};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        signal(sigs[i], SIG_DFL);
}

/* Run fn in a grandchild under the filter; its wait status. */
static int in_child(void (*fn)(void))
{
    pid_t c = fork();
    if (c == 0) {
        fn();
        _exit(0);
    }
    int st = 0;
    if (c < 0 || waitpid(c, &st, 0) != c)
        return -1;
    return st;
}

static void do_int80(void)
{
    int80_getpid();
}

static void do_x32(void)
{
    syscall(0x40000000 | SYS_getpid);
}

static void child_probes(bool egress, bool ia32)
{
    /* Native. */
    EXPECT(getppid(), 0);
    int pfd[2];
    EXPECT(pipe2(pfd, O_CLOEXEC), 0);
    EXPECT(write(pfd[1], "x", 1), 0);
    char c = 0;
    EXPECT(read(pfd[0], &c, 1), 0);
    void *m = mmap(NULL, 65536, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        fail_line(__LINE__, "mmap: %s", strerrorname_np(errno));
    else
        EXPECT(munmap(m, 65536), 0);
    int n = 0;
    EXPECT(ioctl(pfd[0], FIONREAD, &n), 0);
    struct stat st;
    EXPECT(syscall(SYS_fstat, pfd[0], &st), 0);
    EXPECT(prctl(PR_SET_NAME, "ipf-child"), 0);
    EXPECT(syscall(SYS_personality, 0xffffffffUL), 0);
    unsigned long fsbase = 0;
    EXPECT(syscall(SYS_arch_prctl, ARCH_GET_FS, &fsbase), 0);
    int sv[2];
    EXPECT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    EXPECT(send(sv[0], "y", 1, 0), 0); /* sendto, no address */
    int one = 1;
    EXPECT(setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one), 0);
    int us = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT(us, 0);
    int nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    EXPECT(nl, 0);
    int udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    EXPECT(udp, 0);
    int mfd = memfd_create("ipf", MFD_CLOEXEC);
    EXPECT(mfd, 0);
    EXPECT(syscall(SYS_utimensat, mfd, NULL, NULL, 0), 0);

    /* Threads, fork and posix_spawn: glibc's clone3 gets ENOSYS and must
     * fall back to clone. The spawned path does not exist, so success is
     * ENOENT from the native execve (a failed clone would say ENOSYS). */
    EXPECT(syscall(SYS_clone3, NULL, 0), ENOSYS);
    pthread_t th;
    int pr = pthread_create(&th, NULL, thread_fn, NULL);
    if (pr != 0)
        fail_line(__LINE__, "pthread_create: %s", strerrorname_np(pr));
    else
        pthread_join(th, NULL);
    pid_t f = fork();
    if (f == 0)
        _exit(7);
    int ws = 0;
    if (f < 0 || waitpid(f, &ws, 0) != f || !WIFEXITED(ws) || WEXITSTATUS(ws) != 7)
        fail_line(__LINE__, "fork: %d, status %#x", (int)f, ws);
    pid_t sp = 0;
    char *argv[] = {(char *)"x", NULL};
    pr = posix_spawn(&sp, "/capsa-ip-test/nonexistent", NULL, NULL, argv, NULL);
    if (pr != ENOENT)
        fail_line(__LINE__, "posix_spawn: %s, want ENOENT", strerrorname_np(pr));
    if (pr == 0)
        waitpid(sp, NULL, 0);

    /* Refused, each in a form that would fail harmlessly if it ran. */
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (r == 0)
        _exit(0); /* a new user namespace's child: the filter failed */
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    EXPECT(r, EPERM);
    EXPECT(syscall(SYS_unshare, 0), EPERM);
    EXPECT(syscall(SYS_io_uring_setup, 1, NULL), ENOSYS);
    EXPECT(syscall(SYS_bpf, -1, NULL, 0), EPERM);
    EXPECT(syscall(SYS_ptrace, -1L, 0, 0, 0), EPERM);
    EXPECT(syscall(SYS_process_vm_readv, getpid(), NULL, 0, NULL, 0, 0), EPERM);
    EXPECT(syscall(SYS_keyctl, -1, 0, 0, 0, 0), EPERM);
    EXPECT(syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0), EPERM);
    EXPECT(syscall(SYS_userfaultfd, -1), EPERM);
    EXPECT(syscall(SYS_mount, NULL, NULL, NULL, 0, NULL), EPERM);
    EXPECT(syscall(SYS_setns, -1, 0), EPERM);
    EXPECT(syscall(SYS_chroot, "/"), EPERM);
    EXPECT(syscall(SYS_settimeofday, NULL, NULL), EPERM);
    EXPECT(syscall(SYS_clock_settime, -1, NULL), EPERM);
    EXPECT(syscall(SYS_syslog, 10, NULL, 0), EPERM);
    EXPECT(syscall(SYS_iopl, 0), EPERM);
    EXPECT(syscall(SYS_fsopen, "capsa-none", 0), EPERM);
    EXPECT(syscall(SYS_open_by_handle_at, -1, NULL, 0), EPERM);
    EXPECT(syscall(SYS_pidfd_getfd, -1, 0, 0), EPERM);
    EXPECT(syscall(SYS_modify_ldt, 0, NULL, 0), EPERM);
    /* Not in the table (the kernel has them): ENOSYS. */
    EXPECT(syscall(SYS_process_madvise, -1, NULL, 0, 0, 0), ENOSYS);
    EXPECT(syscall(SYS_move_pages, 0, 0, NULL, NULL, NULL, 0), ENOSYS);
    /* Argument checks the kernel itself would have let through. */
    EXPECT(socket(AF_PACKET, SOCK_RAW, 0), EAFNOSUPPORT);
    EXPECT(socket(AF_INET, SOCK_RAW, IPPROTO_ICMP), EPERM);
    EXPECT(socket(AF_INET, SOCK_PACKET, 0), EPERM);
    EXPECT(socket(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT), EPROTONOSUPPORT);
    EXPECT(ioctl(pfd[0], TIOCSTI, "x"), EPERM); /* the kernel: ENOTTY on a pipe */
    unsigned flags = 0;
    EXPECT(ioctl(mfd, FS_IOC_SETFLAGS, &flags), ENOTTY); /* tmpfs has it */
    EXPECT(prctl(57 /* PR_SET_IO_FLUSHER */, 0, 0, 0, 0), EINVAL);
    EXPECT(syscall(SYS_personality, READ_IMPLIES_EXEC), EPERM);
    unsigned long perm = 0;
    EXPECT(syscall(SYS_arch_prctl, ARCH_GET_XCOMP_GUEST_PERM, &perm), EINVAL);
    struct sock_filter insn = BPF_STMT(BPF_RET | BPF_K, 0xffff);
    struct sock_fprog sf = {.len = 1, .filter = &insn};
    EXPECT(setsockopt(udp, SOL_SOCKET, SO_ATTACH_FILTER, &sf, sizeof sf), EPERM);
    EXPECT(setsockopt(udp, IPPROTO_IP, 64 /* IPT_SO_SET_REPLACE */, NULL, 0), EPERM);
    /* A listener of its own: the kernel (and the filter) say EBUSY. */
    struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog own = {.len = 1, .filter = &allow};
    EXPECT(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &own),
           EBUSY);

    /* Killed: i386 and x32 entries. */
    if (ia32) {
        int s = in_child(do_int80);
        if (!WIFSIGNALED(s) || WTERMSIG(s) != SIGSYS)
            fail_line(__LINE__, "int 0x80: status %#x, want SIGSYS", s);
    }
    int s = in_child(do_x32);
    if (!WIFSIGNALED(s) || WTERMSIG(s) != SIGSYS)
        fail_line(__LINE__, "x32 call: status %#x, want SIGSYS", s);

    /* Brokered: the supervisor answers EXDEV. */
    EXPECT(syscall(SYS_openat, AT_FDCWD, TEST_PATH, O_RDONLY), EXDEV);
    struct sockaddr_un to = {.sun_family = AF_UNIX, .sun_path = "/capsa-ip-test/sock"};
    EXPECT(sendto(us, "z", 1, 0, (struct sockaddr *)&to, sizeof to), EXDEV);
    EXPECT(syscall(SYS_utimensat, AT_FDCWD, TEST_PATH, NULL, 0), EXDEV);
    struct iovec iov = {.iov_base = (void *)"m", .iov_len = 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    EXPECT(sendmsg(sv[0], &mh, 0), egress ? EXDEV : 0);
    /* A filter stacked by the workload does not take ours away. */
    EXPECT(syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &own), 0);
    EXPECT(syscall(SYS_openat, AT_FDCWD, TEST_PATH, O_RDONLY), EXDEV);
}

static void note(char *buf, size_t size, size_t *off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void note(char *buf, size_t size, size_t *off, const char *fmt, ...)
{
    if (*off >= size - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *off, size - *off, fmt, ap);
    va_end(ap);
    if (n > 0)
        *off = *off + (size_t)n < size ? *off + (size_t)n : size - 1;
}

/* The calls the child sends to the supervisor, in order. */
static const int want_default[] = {SYS_openat, SYS_sendto, SYS_utimensat, SYS_openat};
static const int want_egress[] = {SYS_openat, SYS_sendto, SYS_utimensat, SYS_sendmsg, SYS_openat};

static void live(bool egress)
{
    bool ia32 = false;
    pid_t t = fork();
    if (t == 0) {
        default_signals();
        _exit(int80_getpid() == getpid() ? 0 : 1);
    }
    int ts = 0;
    assert_int_equal(waitpid(t, &ts, 0), t);
    ia32 = WIFEXITED(ts) && WEXITSTATUS(ts) == 0;
    if (!ia32)
        print_message("int 0x80 does not reach this kernel: its check is skipped\n");

    struct capsa_seccomp_prog *prog = compile(egress);
    int sp[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        default_signals();
        close(sp[0]);
        report_fd = sp[1];
        struct capsa_err err;
        int nfd = -1;
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || capsa_seccomp_load(prog, &nfd, &err) < 0)
            _exit(80);
        /* The listener's number, for pidfd_getfd; then wait until taken. */
        char ack;
        if (write(sp[1], &nfd, sizeof nfd) != sizeof nfd || read(sp[1], &ack, 1) != 1)
            _exit(81);
        /* Only the supervisor holds it now: should it fail and go, the
         * filter's brokered calls say ENOSYS rather than wait forever. */
        close(nfd);
        child_probes(egress, ia32);
        if (write(sp[1], "END\n", 4) != 4)
            _exit(82);
        _exit(fails ? 1 : 0);
    }
    close(sp[1]);
    int remote = -1;
    assert_int_equal(read(sp[0], &remote, sizeof remote), sizeof remote);
    int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
    assert_true(pidfd >= 0);
    int nfd = (int)syscall(SYS_pidfd_getfd, pidfd, remote, 0);
    if (nfd < 0)
        fail_msg("pidfd_getfd: %s", strerror(errno));
    close(pidfd);
    assert_int_equal(write(sp[0], "g", 1), 1);

    /* Supervise until the child's report ends: it closes its end when it
     * exits, after its last call. (The listener only hangs up once the
     * child is reaped.) */
    const int *want = egress ? want_egress : want_default;
    size_t n_want = egress ? sizeof want_egress / sizeof want_egress[0]
                           : sizeof want_default / sizeof want_default[0];
    size_t got = 0;
    static char report[8192], bad[1024];
    size_t nbad = 0;
    size_t rlen = 0;
    for (;;) {
        struct pollfd pf[2] = {{.fd = nfd, .events = POLLIN}, {.fd = sp[0], .events = POLLIN}};
        assert_true(poll(pf, 2, -1) > 0);
        if (pf[0].revents & POLLIN) {
            struct seccomp_notif req;
            memset(&req, 0, sizeof req);
            if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
                continue; /* the caller went away (ENOENT) */
            /* A mismatch is noted, not failed at once: the child must
             * still get its answers, or it would wait forever. */
            if (req.data.arch != AUDIT_ARCH_X86_64 || got >= n_want || req.data.nr != want[got])
                note(bad, sizeof bad, &nbad, "notification %zu: call %d, want %d\n", got,
                     req.data.nr, got < n_want ? want[got] : -1);
            if (req.data.nr == SYS_openat) {
                char path[64] = {0};
                struct iovec l = {.iov_base = path, .iov_len = sizeof TEST_PATH};
                struct iovec rm = {.iov_base = (void *)(uintptr_t)req.data.args[1],
                                   .iov_len = sizeof TEST_PATH};
                if (process_vm_readv(req.pid, &l, 1, &rm, 1, 0) != sizeof TEST_PATH ||
                    strcmp(path, TEST_PATH) != 0)
                    note(bad, sizeof bad, &nbad, "openat's path: \"%.40s\"\n", path);
            }
            got++;
            struct seccomp_notif_resp resp = {.id = req.id, .error = -EXDEV};
            assert_int_equal(ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp), 0);
            continue;
        }
        if (pf[1].revents & (POLLIN | POLLHUP)) {
            ssize_t k = read(sp[0], report + rlen, sizeof report - 1 - rlen);
            if (k <= 0)
                break;
            rlen += (size_t)k;
        }
    }
    report[rlen] = '\0';
    int st = 0;
    assert_int_equal(waitpid(child, &st, 0), child);
    close(nfd);
    close(sp[0]);
    capsa_seccomp_prog_free(prog);
    if (nbad > 0)
        fail_msg("%s", bad);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || strstr(report, "END\n") == NULL)
        fail_msg("child status %#x, report:\n%s", st, report);
    assert_int_equal(got, n_want);
}

static void test_live_default(void **state)
{
    (void)state;
    live(false);
}

static void test_live_egress(void **state)
{
    (void)state;
    live(true);
}

int main(void)
{
    if (getenv("CAPSA_IP_PRINT_TABLE") != NULL) {
        static char rows[1 << 16];
        table_rows(rows, sizeof rows);
        fputs(rows, stdout);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),         cmocka_unit_test(test_brokered_list),
        cmocka_unit_test(test_docs_table),    cmocka_unit_test(test_emulated_table),
        cmocka_unit_test(test_emulated_args), cmocka_unit_test(test_live_default),
        cmocka_unit_test(test_live_egress),   cmocka_unit_test(test_super_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
