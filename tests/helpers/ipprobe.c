/* ipprobe - static helper run inside test containers: makes one harmless
 * form of each system call the interpose level refuses (or checks by its
 * arguments), each in a child process of its own, and prints one line per
 * call, so that integration tests can compare levels from the host side:
 *
 *   NAME ok                  the call succeeded
 *   NAME EPERM               it failed with that errno (the name, as in errno.h)
 *   NAME killed SIGSYS       the child died of that signal
 *
 *   ipprobe                  every probe, in the order below
 *   ipprobe NAME...          those probes only (exit 2 on an unknown name)
 *   ipprobe -l               the probe names
 *
 * Every probe is chosen to fail, or to change nothing, where the call is
 * allowed: bad pointers (NULL), bad fds (-1), an out-of-range flag or magic
 * number, a no-op (unshare(0), settimeofday(NULL, NULL)), or a pipe where
 * the call would act on a terminal. So a native container gets EFAULT,
 * EBADF, EINVAL or ok where the interpose level says EPERM or ENOSYS, and no
 * probe can reboot, remount, retime or rename anything. Raw syscall() only:
 * no library wrapper decides anything. */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <linux/personality.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <asm/prctl.h>

#ifndef AF_ALG
#define AF_ALG 38
#endif
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

static long sc(long nr, long a, long b, long c, long d, long e, long f)
{
    return syscall(nr, a, b, c, d, e, f);
}

#define SC0(nr) sc(nr, 0, 0, 0, 0, 0, 0)
#define SC(nr, a, b, c, d, e, f)                                                                   \
    sc(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), (long)(f))

/* A socket call: close what it made. */
static long sock(int family, int type, int protocol)
{
    long fd = SC(SYS_socket, family, type, protocol, 0, 0, 0);
    if (fd >= 0)
        close((int)fd);
    return fd;
}

/* clone with flags in a child that exits at once. */
static long clone_flags(unsigned long flags)
{
    long r = SC(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0, 0);
    if (r == 0)
        _exit(0);
    if (r > 0)
        waitpid((pid_t)r, NULL, 0);
    return r > 0 ? 0 : r;
}

static long p_clone3(void)
{
    return SC(SYS_clone3, 0, 0, 0, 0, 0, 0); /* NULL args: EINVAL where allowed */
}
static long p_clone_newuser(void)
{
    return clone_flags(CLONE_NEWUSER);
}
static long p_clone_newns(void)
{
    return clone_flags(CLONE_NEWNS);
}
static long p_clone_newnet(void)
{
    return clone_flags(CLONE_NEWNET);
}
static long p_unshare(void)
{
    return SC(SYS_unshare, 0, 0, 0, 0, 0, 0);
}
static long p_setns(void)
{
    return SC(SYS_setns, -1, 0, 0, 0, 0, 0);
}
static long p_io_uring_setup(void)
{
    return SC(SYS_io_uring_setup, 1, 0, 0, 0, 0, 0);
}
static long p_bpf(void)
{
    return SC(SYS_bpf, -1, 0, 0, 0, 0, 0);
}
static long p_perf_event_open(void)
{
    return SC(SYS_perf_event_open, 0, 0, -1, -1, 0, 0);
}
static long p_userfaultfd(void)
{
    return SC(SYS_userfaultfd, -1, 0, 0, 0, 0, 0);
}
static long p_ptrace(void)
{
    return SC(SYS_ptrace, -1, 0, 0, 0, 0, 0);
}
static long p_process_vm_readv(void)
{
    return SC(SYS_process_vm_readv, getpid(), 0, 0, 0, 0, 0);
}
static long p_kcmp(void)
{
    return SC(SYS_kcmp, getpid(), getpid(), -1, 0, 0, 0);
}
static long p_pidfd_getfd(void)
{
    return SC(SYS_pidfd_getfd, -1, 0, 0, 0, 0, 0);
}
static long p_keyctl(void)
{
    return SC(SYS_keyctl, -1, 0, 0, 0, 0, 0);
}
static long p_add_key(void)
{
    return SC(SYS_add_key, 0, 0, 0, 0, 0, 0);
}
static long p_request_key(void)
{
    return SC(SYS_request_key, 0, 0, 0, 0, 0, 0);
}
static long p_mount(void)
{
    return SC(SYS_mount, 0, 0, 0, 0, 0, 0);
}
static long p_umount2(void)
{
    return SC(SYS_umount2, 0, 0, 0, 0, 0, 0);
}
static long p_pivot_root(void)
{
    return SC(SYS_pivot_root, 0, 0, 0, 0, 0, 0);
}
static long p_chroot(void)
{
    return SC(SYS_chroot, 0, 0, 0, 0, 0, 0);
}
static long p_fsopen(void)
{
    return SC(SYS_fsopen, 0, 0, 0, 0, 0, 0);
}
static long p_fsmount(void)
{
    return SC(SYS_fsmount, -1, 0, 0, 0, 0, 0);
}
static long p_fsconfig(void)
{
    return SC(SYS_fsconfig, -1, 0, 0, 0, 0, 0);
}
static long p_fspick(void)
{
    return SC(SYS_fspick, -1, 0, 0, 0, 0, 0);
}
static long p_open_tree(void)
{
    return SC(SYS_open_tree, -1, 0, 0, 0, 0, 0);
}
static long p_move_mount(void)
{
    return SC(SYS_move_mount, -1, 0, -1, 0, 0, 0);
}
static long p_mount_setattr(void)
{
    return SC(SYS_mount_setattr, -1, 0, 0, 0, 0, 0);
}
/* Capability first, then the magic numbers: 0 never reboots. */
static long p_reboot(void)
{
    return SC(SYS_reboot, 0, 0, 0, 0, 0, 0);
}
static long p_kexec_load(void)
{
    return SC(SYS_kexec_load, 0, 0, 0, 0xffffffffL, 0, 0);
}
static long p_kexec_file_load(void)
{
    return SC(SYS_kexec_file_load, -1, -1, 0, 0, 0xffffffffL, 0);
}
static long p_init_module(void)
{
    return SC(SYS_init_module, 0, 0, 0, 0, 0, 0);
}
static long p_finit_module(void)
{
    return SC(SYS_finit_module, -1, 0, 0, 0, 0, 0);
}
static long p_delete_module(void)
{
    return SC(SYS_delete_module, 0, 0, 0, 0, 0, 0);
}
static long p_swapon(void)
{
    return SC(SYS_swapon, 0, 0, 0, 0, 0, 0);
}
static long p_swapoff(void)
{
    return SC(SYS_swapoff, 0, 0, 0, 0, 0, 0);
}
static long p_acct(void)
{
    return SC(SYS_acct, 1, 0, 0, 0, 0, 0); /* a bad pointer, never NULL ("off") */
}
static long p_quotactl(void)
{
    return SC(SYS_quotactl, 0, 0, 0, 0, 0, 0);
}
static long p_quotactl_fd(void)
{
    return SC(SYS_quotactl_fd, -1, 0, 0, 0, 0, 0);
}
static long p_syslog(void)
{
    return SC(SYS_syslog, 10 /* SYSLOG_ACTION_SIZE_BUFFER */, 0, 0, 0, 0, 0);
}
static long p_iopl(void)
{
    return SC(SYS_iopl, 0, 0, 0, 0, 0, 0);
}
static long p_ioperm(void)
{
    return SC(SYS_ioperm, 0, 0, 0, 0, 0, 0);
}
static long p_modify_ldt(void)
{
    return SC(SYS_modify_ldt, 0, 0, 0, 0, 0, 0);
}
static long p_open_by_handle_at(void)
{
    return SC(SYS_open_by_handle_at, -1, 0, 0, 0, 0, 0);
}
static long p_name_to_handle_at(void)
{
    return SC(SYS_name_to_handle_at, -1, 0, 0, 0, 0, 0);
}
static long p_lookup_dcookie(void)
{
    return SC(SYS_lookup_dcookie, 0, 0, 0, 0, 0, 0);
}
static long p_settimeofday(void)
{
    return SC(SYS_settimeofday, 0, 0, 0, 0, 0, 0); /* both NULL: changes nothing */
}
static long p_clock_settime(void)
{
    return SC(SYS_clock_settime, -1, 0, 0, 0, 0, 0);
}
static long p_clock_adjtime(void)
{
    return SC(SYS_clock_adjtime, -1, 0, 0, 0, 0, 0);
}
static long p_adjtimex(void)
{
    return SC(SYS_adjtimex, 0, 0, 0, 0, 0, 0);
}
/* Capability first, then the length: -1 renames nothing. */
static long p_sethostname(void)
{
    return SC(SYS_sethostname, 0, -1, 0, 0, 0, 0);
}
static long p_setdomainname(void)
{
    return SC(SYS_setdomainname, 0, -1, 0, 0, 0, 0);
}
static long p_nfsservctl(void)
{
    return SC0(SYS_nfsservctl);
}
static long p_uselib(void)
{
    return SC0(SYS_uselib);
}
static long p_sysctl(void)
{
    return SC0(SYS__sysctl);
}
static long p_fanotify_init(void)
{
    return SC(SYS_fanotify_init, 0xffffffffL, 0, 0, 0, 0, 0);
}
static long p_fanotify_mark(void)
{
    return SC(SYS_fanotify_mark, -1, 0, 0, -1, 0, 0);
}
/* Not in the interpose table at all. */
static long p_process_madvise(void)
{
    return SC(SYS_process_madvise, -1, 0, 0, 0, 0, 0);
}
static long p_socket_packet(void)
{
    return sock(AF_PACKET, SOCK_RAW, 0);
}
static long p_socket_raw(void)
{
    return sock(AF_INET, SOCK_RAW, IPPROTO_ICMP);
}
static long p_socket_sock_packet(void)
{
    return sock(AF_INET, SOCK_PACKET, 0);
}
static long p_socket_sctp(void)
{
    return sock(AF_INET, SOCK_STREAM, IPPROTO_SCTP);
}
static long p_socket_netlink_audit(void)
{
    return sock(AF_NETLINK, SOCK_RAW, NETLINK_AUDIT);
}
static long p_socket_alg(void)
{
    return sock(AF_ALG, SOCK_SEQPACKET, 0);
}
static long p_socket_vsock(void)
{
    return sock(AF_VSOCK, SOCK_STREAM, 0);
}
/* On a pipe: the kernel says ENOTTY, a refusal EPERM; never a terminal. */
static long p_ioctl_tiocsti(void)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    char c = 'x';
    return SC(SYS_ioctl, p[0], TIOCSTI, &c, 0, 0, 0);
}
/* A request the interpose level does not list, on a memfd of its own. */
static long p_ioctl_setflags(void)
{
    long fd = SC(SYS_memfd_create, "ipprobe", 0, 0, 0, 0, 0);
    if (fd < 0)
        return fd;
    unsigned flags = 0;
    return SC(SYS_ioctl, fd, FS_IOC_SETFLAGS, &flags, 0, 0, 0);
}
static long p_prctl_io_flusher(void)
{
    return SC(SYS_prctl, 57 /* PR_SET_IO_FLUSHER */, 0, 0, 0, 0, 0);
}
static long p_personality_exec(void)
{
    return SC(SYS_personality, READ_IMPLIES_EXEC, 0, 0, 0, 0, 0);
}
static long p_arch_prctl_guest(void)
{
    unsigned long perm = 0;
    return SC(SYS_arch_prctl, ARCH_GET_XCOMP_GUEST_PERM, &perm, 0, 0, 0, 0);
}
static long p_setsockopt_filter(void)
{
    long fd = SC(SYS_socket, AF_INET, SOCK_DGRAM, 0, 0, 0, 0);
    if (fd < 0)
        return fd;
    struct sock_filter ins = BPF_STMT(BPF_RET | BPF_K, 0xffff);
    struct sock_fprog prog = {.len = 1, .filter = &ins};
    return SC(SYS_setsockopt, fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog, 0);
}
static long p_seccomp_listener(void)
{
    struct sock_filter ins = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    struct sock_fprog prog = {.len = 1, .filter = &ins};
    if (SC(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) < 0)
        return -1;
    return SC(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog, 0, 0,
              0);
}
/* getpid through the i386 entry, and with the x32 bit. */
static long p_int80(void)
{
    long r = 20;
    __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}
static long p_x32(void)
{
    return SC0(0x40000000 | SYS_getpid);
}
/* Controls: allowed everywhere. */
static long p_getppid(void)
{
    return SC0(SYS_getppid);
}
static long p_clone_plain(void)
{
    return clone_flags(0);
}

static const struct probe {
    const char *name;
    long (*fn)(void);
} probes[] = {
    {"getppid", p_getppid},
    {"clone", p_clone_plain},
    {"clone3", p_clone3},
    {"clone_newuser", p_clone_newuser},
    {"clone_newns", p_clone_newns},
    {"clone_newnet", p_clone_newnet},
    {"unshare", p_unshare},
    {"setns", p_setns},
    {"io_uring_setup", p_io_uring_setup},
    {"bpf", p_bpf},
    {"perf_event_open", p_perf_event_open},
    {"userfaultfd", p_userfaultfd},
    {"ptrace", p_ptrace},
    {"process_vm_readv", p_process_vm_readv},
    {"kcmp", p_kcmp},
    {"pidfd_getfd", p_pidfd_getfd},
    {"keyctl", p_keyctl},
    {"add_key", p_add_key},
    {"request_key", p_request_key},
    {"mount", p_mount},
    {"umount2", p_umount2},
    {"pivot_root", p_pivot_root},
    {"chroot", p_chroot},
    {"fsopen", p_fsopen},
    {"fsmount", p_fsmount},
    {"fsconfig", p_fsconfig},
    {"fspick", p_fspick},
    {"open_tree", p_open_tree},
    {"move_mount", p_move_mount},
    {"mount_setattr", p_mount_setattr},
    {"reboot", p_reboot},
    {"kexec_load", p_kexec_load},
    {"kexec_file_load", p_kexec_file_load},
    {"init_module", p_init_module},
    {"finit_module", p_finit_module},
    {"delete_module", p_delete_module},
    {"swapon", p_swapon},
    {"swapoff", p_swapoff},
    {"acct", p_acct},
    {"quotactl", p_quotactl},
    {"quotactl_fd", p_quotactl_fd},
    {"syslog", p_syslog},
    {"iopl", p_iopl},
    {"ioperm", p_ioperm},
    {"modify_ldt", p_modify_ldt},
    {"open_by_handle_at", p_open_by_handle_at},
    {"name_to_handle_at", p_name_to_handle_at},
    {"lookup_dcookie", p_lookup_dcookie},
    {"settimeofday", p_settimeofday},
    {"clock_settime", p_clock_settime},
    {"clock_adjtime", p_clock_adjtime},
    {"adjtimex", p_adjtimex},
    {"sethostname", p_sethostname},
    {"setdomainname", p_setdomainname},
    {"nfsservctl", p_nfsservctl},
    {"uselib", p_uselib},
    {"_sysctl", p_sysctl},
    {"fanotify_init", p_fanotify_init},
    {"fanotify_mark", p_fanotify_mark},
    {"process_madvise", p_process_madvise},
    {"socket_packet", p_socket_packet},
    {"socket_raw", p_socket_raw},
    {"socket_sock_packet", p_socket_sock_packet},
    {"socket_sctp", p_socket_sctp},
    {"socket_netlink_audit", p_socket_netlink_audit},
    {"socket_alg", p_socket_alg},
    {"socket_vsock", p_socket_vsock},
    {"ioctl_tiocsti", p_ioctl_tiocsti},
    {"ioctl_setflags", p_ioctl_setflags},
    {"prctl_io_flusher", p_prctl_io_flusher},
    {"personality_exec", p_personality_exec},
    {"arch_prctl_guest", p_arch_prctl_guest},
    {"setsockopt_filter", p_setsockopt_filter},
    {"seccomp_listener", p_seccomp_listener},
    {"int80", p_int80},
    {"x32", p_x32},
};

static const char *errname(int e)
{
    const char *n = strerrorname_np(e);
    static char buf[16];
    if (n != NULL)
        return n;
    snprintf(buf, sizeof buf, "E%d", e);
    return buf;
}

/* One probe in a child of its own: whatever it changes or kills stays
 * there. Output goes straight to fd 1 (no stdio buffer to duplicate). */
static void run(const struct probe *p)
{
    pid_t c = fork();
    if (c < 0) {
        dprintf(1, "%s fork-failed %s\n", p->name, errname(errno));
        return;
    }
    if (c == 0) {
        errno = 0;
        long r = p->fn();
        if (r < 0)
            dprintf(1, "%s %s\n", p->name, errname(errno));
        else
            dprintf(1, "%s ok\n", p->name);
        _exit(0);
    }
    int st = 0;
    while (waitpid(c, &st, 0) < 0 && errno == EINTR)
        ;
    if (WIFSIGNALED(st)) {
        const char *s = sigabbrev_np(WTERMSIG(st));
        if (s != NULL)
            dprintf(1, "%s killed SIG%s\n", p->name, s);
        else
            dprintf(1, "%s killed %d\n", p->name, WTERMSIG(st));
    }
}

int main(int argc, char **argv)
{
    const size_t n = sizeof probes / sizeof probes[0];
    if (argc == 2 && strcmp(argv[1], "-l") == 0) {
        for (size_t i = 0; i < n; i++)
            dprintf(1, "%s\n", probes[i].name);
        return 0;
    }
    if (argc == 1) {
        for (size_t i = 0; i < n; i++)
            run(&probes[i]);
        return 0;
    }
    for (int a = 1; a < argc; a++) {
        size_t i = 0;
        while (i < n && strcmp(probes[i].name, argv[a]) != 0)
            i++;
        if (i == n) {
            dprintf(2, "ipprobe: unknown probe %s (ipprobe -l lists them)\n", argv[a]);
            return 2;
        }
        run(&probes[i]);
    }
    return 0;
}
