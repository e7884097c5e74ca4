/* filter.c - the interpose level's seccomp filter (interpose.h): the table of
 * the system calls the workload may make and what becomes of each (allowed
 * in the kernel, sent to the supervisor, refused with an errno), and the
 * classic BPF program built from it.
 *
 * Built by hand rather than with libseccomp, because the argument checks
 * need an "otherwise" that libseccomp cannot express: a rule without
 * conditions on a call overrides every conditional rule on it, and two
 * conditions on one argument in a rule are refused, so "socket() of an
 * allowed family but another type is EPERM, of any other family
 * EAFNOSUPPORT" or "any other ioctl is ENOTTY" has no libseccomp form.
 *
 * Layout: the architecture (anything but x86-64, i386's int 0x80 included,
 * kills the process), the x32 bit (kills), then a binary search over the
 * table's numbers whose leaves return a call's action directly or jump to
 * its argument block, placed after the search. A number not in the table
 * gets ENOSYS. On the way to a call allowed without conditions the program
 * reads only the number and the architecture, so the kernel's per-call
 * action cache (5.11+) lets such calls skip the filter altogether.
 *
 * Argument checks are allowlists: a value not listed is refused. Where the
 * kernel takes an int, only the lower 32 bits are compared, which is all it
 * looks at; a pointer is compared whole. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/fiemap.h>
#include <linux/filter.h>
#include <linux/fs.h>
#include <linux/netlink.h>
#include <linux/personality.h>
#include <linux/seccomp.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sched.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <asm/prctl.h>

#include "level/interpose/interpose.h"
#include "linux/scmp.h"
#include "util/util.h"

/* Newer than the C library's headers (Debian 12: Linux 6.1 uapi). */
#ifndef PR_SET_MDWE
#define PR_SET_MDWE 65
#define PR_GET_MDWE 66
#endif
#ifndef ARCH_SHSTK_ENABLE
#define ARCH_SHSTK_ENABLE  0x5001
#define ARCH_SHSTK_DISABLE 0x5002
#define ARCH_SHSTK_LOCK    0x5003
#define ARCH_SHSTK_STATUS  0x5005
#endif
/* struct termios2's requests: <asm/termbits.h>, which defines them, cannot
 * be included beside the C library's <termios.h>. */
#define IP_TCGETS2  0x802c542au
#define IP_TCSETS2  0x402c542bu
#define IP_TCSETSW2 0x402c542cu
#define IP_TCSETSF2 0x402c542du
#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

/* ---- the table ---- */

/* clang-format off */
#define NAT(name, nr, why)      {#name, nr, CAPSA_IP_NATIVE, 0, why}
#define BRK(name, nr, why)      {#name, nr, CAPSA_IP_BROKERED, 0, why}
#define REF(name, nr, err, why) {#name, nr, CAPSA_IP_REFUSED, err, why}
/* clang-format on */

/* x86-64 numbers, written out (the C library's headers may predate a call);
 * tests/unit/test_ip_filter.c checks each against libseccomp's name table,
 * and docs/interpose.md prints this table. */
static const struct capsa_ip_sysent table[] = {
    NAT(read, 0, ""),
    NAT(write, 1, ""),
    NAT(pread64, 17, ""),
    NAT(pwrite64, 18, ""),
    NAT(readv, 19, ""),
    NAT(writev, 20, ""),
    NAT(preadv, 295, ""),
    NAT(pwritev, 296, ""),
    NAT(preadv2, 327, ""),
    NAT(pwritev2, 328, ""),
    NAT(close, 3, ""),
    NAT(close_range, 436, ""),
    NAT(dup, 32, ""),
    NAT(dup2, 33, ""),
    NAT(dup3, 292, ""),
    NAT(fcntl, 72, ""),
    NAT(lseek, 8, ""),
    NAT(fstat, 5, ""),
    NAT(fstatfs, 138, ""),
    NAT(fsync, 74, ""),
    NAT(fdatasync, 75, ""),
    NAT(sync_file_range, 277, ""),
    NAT(syncfs, 306, ""),
    NAT(sync, 162, "flushes every filesystem, as under Docker's default profile"),
    NAT(ftruncate, 77, ""),
    NAT(fallocate, 285, ""),
    NAT(fadvise64, 221, ""),
    NAT(readahead, 187, ""),
    NAT(flock, 73, ""),
    NAT(fchmod, 91, "on an fd it holds (see Limits)"),
    NAT(fchown, 93, "on an fd it holds (see Limits)"),
    NAT(fgetxattr, 193, "on an fd it holds (see Limits)"),
    NAT(flistxattr, 196, "on an fd it holds (see Limits)"),
    NAT(fsetxattr, 190, "on an fd it holds (see Limits)"),
    NAT(fremovexattr, 199, "on an fd it holds (see Limits)"),
    NAT(fchdir, 81, ""),
    NAT(getdents, 78, ""),
    NAT(getdents64, 217, ""),
    NAT(getcwd, 79, ""),
    NAT(umask, 95, ""),
    NAT(chdir, 80,
        "a path, but the supervisor cannot set another process's cwd and never continues a call "
        "with a pointer argument (Limits)"),
    NAT(execve, 59, "the kernel resolves the path in the container's mount namespace (Limits)"),
    NAT(execveat, 322, "the kernel resolves the path in the container's mount namespace (Limits)"),
    NAT(mmap, 9, ""),
    NAT(munmap, 11, ""),
    NAT(mprotect, 10, ""),
    NAT(mremap, 25, ""),
    NAT(madvise, 28, ""),
    NAT(msync, 26, ""),
    NAT(mincore, 27, ""),
    NAT(mlock, 149, ""),
    NAT(mlock2, 325, ""),
    NAT(munlock, 150, ""),
    NAT(mlockall, 151, ""),
    NAT(munlockall, 152, ""),
    NAT(brk, 12, ""),
    NAT(mbind, 237, "the caller's own NUMA policy (the JVM, libnuma)"),
    NAT(get_mempolicy, 239, "the caller's own NUMA policy (the JVM, libnuma)"),
    NAT(set_mempolicy, 238, "the caller's own NUMA policy (the JVM, libnuma)"),
    NAT(pkey_mprotect, 329, "protection keys on its own memory (V8, glibc)"),
    NAT(pkey_alloc, 330, "protection keys on its own memory (V8, glibc)"),
    NAT(pkey_free, 331, "protection keys on its own memory (V8, glibc)"),
    NAT(futex, 202, ""),
    NAT(futex_waitv, 449, ""),
    NAT(futex_wake, 454, ""),
    NAT(futex_wait, 455, ""),
    NAT(futex_requeue, 456, ""),
    NAT(set_robust_list, 273, ""),
    NAT(get_robust_list, 274, ""),
    NAT(set_tid_address, 218, ""),
    NAT(rseq, 334, ""),
    NAT(membarrier, 324, ""),
    NAT(map_shadow_stack, 453, "its own shadow stack (glibc 2.39+ with CET)"),
    NAT(epoll_create, 213, ""),
    NAT(epoll_create1, 291, ""),
    NAT(epoll_ctl, 233, ""),
    NAT(epoll_wait, 232, ""),
    NAT(epoll_pwait, 281, ""),
    NAT(epoll_pwait2, 441, ""),
    NAT(poll, 7, ""),
    NAT(ppoll, 271, ""),
    NAT(select, 23, ""),
    NAT(pselect6, 270, ""),
    NAT(eventfd, 284, ""),
    NAT(eventfd2, 290, ""),
    NAT(signalfd, 282, ""),
    NAT(signalfd4, 289, ""),
    NAT(timerfd_create, 283, ""),
    NAT(timerfd_settime, 286, ""),
    NAT(timerfd_gettime, 287, ""),
    NAT(pipe, 22, ""),
    NAT(pipe2, 293, ""),
    NAT(accept, 43, ""),
    NAT(accept4, 288, ""),
    NAT(listen, 50, ""),
    NAT(shutdown, 48, ""),
    NAT(getsockname, 51, ""),
    NAT(getpeername, 52, ""),
    NAT(getsockopt, 55, ""),
    NAT(recvfrom, 45, ""),
    NAT(recvmsg, 47, ""),
    NAT(recvmmsg, 299, ""),
    NAT(sendmsg, 46, "brokered when capsa.interpose.egress is set (the address is in memory)"),
    NAT(sendmmsg, 307, "brokered when capsa.interpose.egress is set (the address is in memory)"),
    NAT(copy_file_range, 326, ""),
    NAT(sendfile, 40, ""),
    NAT(splice, 275, ""),
    NAT(tee, 276, ""),
    NAT(vmsplice, 278, ""),
    NAT(io_setup, 206, "Linux AIO on fds it holds (databases, libaio)"),
    NAT(io_destroy, 207, "Linux AIO on fds it holds (databases, libaio)"),
    NAT(io_submit, 209, "Linux AIO on fds it holds (databases, libaio)"),
    NAT(io_cancel, 210, "Linux AIO on fds it holds (databases, libaio)"),
    NAT(io_getevents, 208, "Linux AIO on fds it holds (databases, libaio)"),
    NAT(io_pgetevents, 333, "Linux AIO on fds it holds (databases, libaio)"),
    NAT(inotify_init, 253, ""),
    NAT(inotify_init1, 294, ""),
    NAT(inotify_rm_watch, 255, ""),
    NAT(fork, 57, ""),
    NAT(vfork, 58, ""),
    NAT(exit, 60, ""),
    NAT(exit_group, 231, ""),
    NAT(wait4, 61, ""),
    NAT(waitid, 247, ""),
    NAT(kill, 62, ""),
    NAT(tkill, 200, ""),
    NAT(tgkill, 234, ""),
    NAT(rt_sigaction, 13, ""),
    NAT(rt_sigprocmask, 14, ""),
    NAT(rt_sigreturn, 15, ""),
    NAT(rt_sigpending, 127, ""),
    NAT(rt_sigtimedwait, 128, ""),
    NAT(rt_sigqueueinfo, 129, ""),
    NAT(rt_sigsuspend, 130, ""),
    NAT(rt_tgsigqueueinfo, 297, ""),
    NAT(sigaltstack, 131, ""),
    NAT(pause, 34, ""),
    NAT(pidfd_open, 434, ""),
    NAT(pidfd_send_signal, 424, ""),
    NAT(nanosleep, 35, ""),
    NAT(clock_nanosleep, 230, ""),
    NAT(clock_gettime, 228, ""),
    NAT(clock_getres, 229, ""),
    NAT(gettimeofday, 96, ""),
    NAT(time, 201, ""),
    NAT(alarm, 37, ""),
    NAT(getitimer, 36, ""),
    NAT(setitimer, 38, ""),
    NAT(timer_create, 222, ""),
    NAT(timer_settime, 223, ""),
    NAT(timer_gettime, 224, ""),
    NAT(timer_getoverrun, 225, ""),
    NAT(timer_delete, 226, ""),
    NAT(getpid, 39, ""),
    NAT(getppid, 110, ""),
    NAT(gettid, 186, ""),
    NAT(getuid, 102, ""),
    NAT(geteuid, 107, ""),
    NAT(getgid, 104, ""),
    NAT(getegid, 108, ""),
    NAT(getgroups, 115, ""),
    NAT(getresuid, 118, ""),
    NAT(getresgid, 120, ""),
    NAT(getpgid, 121, ""),
    NAT(getpgrp, 111, ""),
    NAT(getsid, 124, ""),
    NAT(setsid, 112, ""),
    NAT(setpgid, 109, ""),
    NAT(setuid, 105, "the kernel checks the caller's capabilities"),
    NAT(setgid, 106, "the kernel checks the caller's capabilities"),
    NAT(setreuid, 113, "the kernel checks the caller's capabilities"),
    NAT(setregid, 114, "the kernel checks the caller's capabilities"),
    NAT(setresuid, 117, "the kernel checks the caller's capabilities"),
    NAT(setresgid, 119, "the kernel checks the caller's capabilities"),
    NAT(setfsuid, 122, "the kernel checks the caller's capabilities"),
    NAT(setfsgid, 123, "the kernel checks the caller's capabilities"),
    NAT(setgroups, 116, "the kernel checks the caller's capabilities"),
    NAT(capget, 125, "the kernel checks the caller's capabilities"),
    NAT(capset, 126, "the kernel checks the caller's capabilities"),
    NAT(uname, 63, ""),
    NAT(sysinfo, 99, ""),
    NAT(getrlimit, 97, ""),
    NAT(setrlimit, 160, ""),
    NAT(getrusage, 98, ""),
    NAT(times, 100, ""),
    NAT(prlimit64, 302, "any pid: the kernel checks, the pid namespace limits it to the container"),
    NAT(sched_yield, 24, ""),
    NAT(sched_getaffinity, 204, ""),
    NAT(sched_setaffinity, 203, ""),
    NAT(sched_getparam, 143, ""),
    NAT(sched_setparam, 142, ""),
    NAT(sched_getscheduler, 145, ""),
    NAT(sched_setscheduler, 144, ""),
    NAT(sched_get_priority_max, 146, ""),
    NAT(sched_get_priority_min, 147, ""),
    NAT(sched_rr_get_interval, 148, ""),
    NAT(sched_getattr, 315, ""),
    NAT(sched_setattr, 314, ""),
    NAT(getpriority, 140, ""),
    NAT(setpriority, 141, ""),
    NAT(ioprio_get, 252, ""),
    NAT(ioprio_set, 251, ""),
    NAT(getcpu, 309, ""),
    NAT(getrandom, 318, ""),
    NAT(memfd_create, 319, ""),
    NAT(restart_syscall, 219, ""),
    NAT(shmget, 29, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(shmat, 30, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(shmctl, 31, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(shmdt, 67, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(semget, 64, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(semop, 65, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(semtimedop, 220, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(semctl, 66, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(msgget, 68, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(msgsnd, 69, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(msgrcv, 70, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(msgctl, 71, "SysV IPC: the container's IPC namespace holds the objects"),
    NAT(mq_open, 240, "POSIX queues live in the IPC namespace's mqueue fs, not at a host path"),
    NAT(mq_unlink, 241, "POSIX queues live in the IPC namespace's mqueue fs, not at a host path"),
    NAT(mq_timedsend, 242,
        "POSIX queues live in the IPC namespace's mqueue fs, not at a host path"),
    NAT(mq_timedreceive, 243,
        "POSIX queues live in the IPC namespace's mqueue fs, not at a host path"),
    NAT(mq_notify, 244, "POSIX queues live in the IPC namespace's mqueue fs, not at a host path"),
    NAT(mq_getsetattr, 245,
        "POSIX queues live in the IPC namespace's mqueue fs, not at a host path"),
    NAT(landlock_create_ruleset, 444, "a program may only restrict itself further"),
    NAT(landlock_add_rule, 445, "a program may only restrict itself further"),
    NAT(landlock_restrict_self, 446, "a program may only restrict itself further"),
    NAT(socket, 41,
        "AF_UNIX (stream, dgram, seqpacket), AF_INET/AF_INET6 (stream: tcp; dgram: udp, icmp "
        "ping), AF_NETLINK (NETLINK_ROUTE); other family EAFNOSUPPORT, type EPERM, protocol "
        "EPROTONOSUPPORT"),
    NAT(socketpair, 53, "AF_UNIX only, else EAFNOSUPPORT"),
    NAT(setsockopt, 54,
        "levels SOL_SOCKET (not SO_ATTACH_FILTER/BPF/REUSEPORT_*BPF: EPERM), IP, IPV6, TCP (not "
        "TCP_ULP: EPERM), UDP, ICMPV6, NETLINK; other level ENOPROTOOPT"),
    NAT(ioctl, 16,
        "terminals, fd flags, socket and interface queries, file information and reflink copies; "
        "TIOCSTI, TIOCLINUX, TIOCCONS, TIOCSETD EPERM; anything else ENOTTY"),
    NAT(clone, 56, "no CLONE_NEW* flag, else EPERM"),
    NAT(prctl, 157,
        "an allowlist of options (names, pdeathsig, dumpable, caps, no_new_privs, seccomp, "
        "subreaper, timerslack, vma names...); others EINVAL"),
    NAT(arch_prctl, 158, "FS/GS base, CPUID faulting, AMX permission, shadow stack; others EINVAL"),
    NAT(personality, 135,
        "PER_LINUX, PER_LINUX32, UNAME26 or the query 0xffffffff; others (READ_IMPLIES_EXEC, "
        "ADDR_NO_RANDOMIZE...) EPERM"),
    NAT(seccomp, 317,
        "strict, filter without NEW_LISTENER (EBUSY), action and notif-size queries: a filter it "
        "adds can only restrict it"),
    BRK(open, 2, ""),
    BRK(openat, 257, ""),
    BRK(openat2, 437, ""),
    BRK(creat, 85, ""),
    BRK(stat, 4, ""),
    BRK(lstat, 6, ""),
    BRK(newfstatat, 262, ""),
    BRK(statx, 332, ""),
    BRK(access, 21, ""),
    BRK(faccessat, 269, ""),
    BRK(faccessat2, 439, ""),
    BRK(readlink, 89, ""),
    BRK(readlinkat, 267, ""),
    BRK(mkdir, 83, ""),
    BRK(mkdirat, 258, ""),
    BRK(mknod, 133, ""),
    BRK(mknodat, 259, ""),
    BRK(unlink, 87, ""),
    BRK(unlinkat, 263, ""),
    BRK(rmdir, 84, ""),
    BRK(rename, 82, ""),
    BRK(renameat, 264, ""),
    BRK(renameat2, 316, ""),
    BRK(link, 86, ""),
    BRK(linkat, 265, ""),
    BRK(symlink, 88, ""),
    BRK(symlinkat, 266, ""),
    BRK(chmod, 90, ""),
    BRK(fchmodat, 268, ""),
    BRK(fchmodat2, 452, ""),
    BRK(chown, 92, ""),
    BRK(lchown, 94, ""),
    BRK(fchownat, 260, ""),
    BRK(truncate, 76, ""),
    BRK(utime, 132, ""),
    BRK(utimes, 235, ""),
    BRK(futimesat, 261, ""),
    BRK(utimensat, 280, "native when the path is NULL (acts on the fd)"),
    BRK(setxattr, 188, ""),
    BRK(lsetxattr, 189, ""),
    BRK(getxattr, 191, ""),
    BRK(lgetxattr, 192, ""),
    BRK(listxattr, 194, ""),
    BRK(llistxattr, 195, ""),
    BRK(removexattr, 197, ""),
    BRK(lremovexattr, 198, ""),
    BRK(statfs, 137, ""),
    BRK(inotify_add_watch, 254, ""),
    BRK(bind, 49, ""),
    BRK(connect, 42, ""),
    BRK(sendto, 44, "native when the address is NULL (a connected socket)"),
    REF(clone3, 435, ENOSYS,
        "flags in memory cannot be checked; glibc falls back to clone on ENOSYS"),
    REF(io_uring_setup, 425, ENOSYS,
        "would perform calls behind the filter; liburing and runtimes fall back on ENOSYS"),
    REF(io_uring_enter, 426, ENOSYS,
        "would perform calls behind the filter; liburing and runtimes fall back on ENOSYS"),
    REF(io_uring_register, 427, ENOSYS,
        "would perform calls behind the filter; liburing and runtimes fall back on ENOSYS"),
    REF(bpf, 321, EPERM, "kernel attack surface, not namespaced"),
    REF(perf_event_open, 298, EPERM, "kernel attack surface, not namespaced"),
    REF(userfaultfd, 323, EPERM, "kernel attack surface, not namespaced"),
    REF(add_key, 248, EPERM, "the kernel keyring is not namespaced"),
    REF(request_key, 249, EPERM, "the kernel keyring is not namespaced"),
    REF(keyctl, 250, EPERM, "the kernel keyring is not namespaced"),
    REF(ptrace, 101, EPERM, "other processes' memory and fds"),
    REF(process_vm_readv, 310, EPERM, "other processes' memory and fds"),
    REF(process_vm_writev, 311, EPERM, "other processes' memory and fds"),
    REF(kcmp, 312, EPERM, "other processes' memory and fds"),
    REF(pidfd_getfd, 438, EPERM, "other processes' memory and fds"),
    REF(kexec_load, 246, EPERM, "the host kernel"),
    REF(kexec_file_load, 320, EPERM, "the host kernel"),
    REF(init_module, 175, EPERM, "the host kernel"),
    REF(finit_module, 313, EPERM, "the host kernel"),
    REF(delete_module, 176, EPERM, "the host kernel"),
    REF(reboot, 169, EPERM, "the host kernel"),
    REF(mount, 165, EPERM, "the file view is the supervisor's"),
    REF(umount2, 166, EPERM, "the file view is the supervisor's"),
    REF(mount_setattr, 442, EPERM, "the file view is the supervisor's"),
    REF(move_mount, 429, EPERM, "the file view is the supervisor's"),
    REF(open_tree, 428, EPERM, "the file view is the supervisor's"),
    REF(fsopen, 430, EPERM, "the file view is the supervisor's"),
    REF(fsconfig, 431, EPERM, "the file view is the supervisor's"),
    REF(fsmount, 432, EPERM, "the file view is the supervisor's"),
    REF(fspick, 433, EPERM, "the file view is the supervisor's"),
    REF(pivot_root, 155, EPERM, "the file view is the supervisor's"),
    REF(chroot, 161, EPERM, "the file view is the supervisor's"),
    REF(unshare, 272, EPERM, "no new or other namespaces"),
    REF(setns, 308, EPERM, "no new or other namespaces"),
    REF(swapon, 167, EPERM, "host-wide state"),
    REF(swapoff, 168, EPERM, "host-wide state"),
    REF(acct, 163, EPERM, "host-wide state"),
    REF(quotactl, 179, EPERM, "host-wide state"),
    REF(quotactl_fd, 443, EPERM, "host-wide state"),
    REF(syslog, 103, EPERM, "host-wide state"),
    REF(vhangup, 153, EPERM, "host-wide state"),
    REF(iopl, 172, EPERM, "x86 I/O ports and LDT: only old 16-bit code needs them"),
    REF(ioperm, 173, EPERM, "x86 I/O ports and LDT: only old 16-bit code needs them"),
    REF(modify_ldt, 154, EPERM, "x86 I/O ports and LDT: only old 16-bit code needs them"),
    REF(open_by_handle_at, 304, EPERM, "file handles bypass path resolution"),
    REF(name_to_handle_at, 303, EPERM, "file handles bypass path resolution"),
    REF(settimeofday, 164, EPERM,
        "the host clock (adjtimex's read-only form is in memory, so it goes too)"),
    REF(clock_settime, 227, EPERM,
        "the host clock (adjtimex's read-only form is in memory, so it goes too)"),
    REF(clock_adjtime, 305, EPERM,
        "the host clock (adjtimex's read-only form is in memory, so it goes too)"),
    REF(adjtimex, 159, EPERM,
        "the host clock (adjtimex's read-only form is in memory, so it goes too)"),
    REF(sethostname, 170, EPERM,
        "the hostname comes from config.json; the UTS namespace may be the host's"),
    REF(setdomainname, 171, EPERM,
        "the hostname comes from config.json; the UTS namespace may be the host's"),
    REF(fanotify_init, 300, EPERM, "filesystem-wide watches"),
    REF(fanotify_mark, 301, EPERM, "filesystem-wide watches"),
    REF(lookup_dcookie, 212, ENOSYS, "obsolete; absent from current kernels"),
    REF(nfsservctl, 180, ENOSYS, "obsolete; absent from current kernels"),
    REF(uselib, 134, ENOSYS, "obsolete; absent from current kernels"),
    REF(_sysctl, 156, ENOSYS, "obsolete; absent from current kernels"),
};

#undef NAT
#undef BRK
#undef REF

const struct capsa_ip_sysent *capsa_ip_syscalls(size_t *n)
{
    *n = ARRAY_SIZE(table);
    return table;
}

/* ---- the program ---- */

#define ALLOW     SECCOMP_RET_ALLOW
#define NOTIFY    SECCOMP_RET_USER_NOTIF
#define KILL      SECCOMP_RET_KILL_PROCESS
#define ERR(e)    (SECCOMP_RET_ERRNO | ((uint32_t)(e)&SECCOMP_RET_DATA))
#define OFF_NR    ((uint32_t)offsetof(struct seccomp_data, nr))
#define OFF_ARCH  ((uint32_t)offsetof(struct seccomp_data, arch))
#define ARG_LO(i) ((uint32_t)(offsetof(struct seccomp_data, args) + (i) * sizeof(uint64_t)))
#define ARG_HI(i) (ARG_LO(i) + (uint32_t)sizeof(uint32_t)) /* little-endian */
/* The x32 ABI's numbers: the same calls with bit 30 set. */
#define X32_BIT 0x40000000u

/* An instruction's jump targets are labels, resolved once the whole program
 * is laid out; NEXT is the following instruction, RAW an offset given as is. */
#define MAX_LABELS 1024
#define NEXT       0xfffe
#define RAW        0xffff
#define UNBOUND    0xffff

struct bld {
    struct sock_filter insn[BPF_MAXINSNS];
    uint16_t lt[BPF_MAXINSNS], lf[BPF_MAXINSNS]; /* labels of jt/jf (JA: lt) */
    uint16_t label[MAX_LABELS];                  /* label -> instruction */
    unsigned n, n_labels;
    bool overflow;
};

static uint16_t lbl(struct bld *b)
{
    if (b->n_labels == MAX_LABELS) {
        b->overflow = true;
        return 0;
    }
    b->label[b->n_labels] = UNBOUND;
    return (uint16_t)b->n_labels++;
}

static void here(struct bld *b, uint16_t l)
{
    b->label[l] = (uint16_t)b->n;
}

static void emit(struct bld *b, uint16_t code, uint32_t k, uint16_t lt, uint16_t lf)
{
    if (b->n == BPF_MAXINSNS) {
        b->overflow = true;
        return;
    }
    b->insn[b->n] = (struct sock_filter){.code = code, .k = k};
    b->lt[b->n] = lt;
    b->lf[b->n] = lf;
    b->n++;
}

static void ld(struct bld *b, uint32_t off)
{
    emit(b, BPF_LD | BPF_W | BPF_ABS, off, RAW, RAW);
}

static void ret(struct bld *b, uint32_t action)
{
    emit(b, BPF_RET | BPF_K, action, RAW, RAW);
}

static void jeq(struct bld *b, uint32_t k, uint16_t lt, uint16_t lf)
{
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, k, lt, lf);
}

static void jge(struct bld *b, uint32_t k, uint16_t lt, uint16_t lf)
{
    emit(b, BPF_JMP | BPF_JGE | BPF_K, k, lt, lf);
}

static void jset(struct bld *b, uint32_t k, uint16_t lt, uint16_t lf)
{
    emit(b, BPF_JMP | BPF_JSET | BPF_K, k, lt, lf);
}

/* A conditional jump by fixed offsets, for the few places where they are
 * obvious (over the next instruction). */
static void jraw(struct bld *b, uint16_t op, uint32_t k, uint8_t jt, uint8_t jf)
{
    emit(b, BPF_JMP | op | BPF_K, k, RAW, RAW);
    if (!b->overflow) {
        b->insn[b->n - 1].jt = jt;
        b->insn[b->n - 1].jf = jf;
    }
}

static void ja(struct bld *b, uint16_t l)
{
    emit(b, BPF_JMP | BPF_JA, 0, l, RAW);
}

/* A <- the lower half of argument i; jump to yes when it is one of vals,
 * else fall through (A unchanged). */
static void one_of(struct bld *b, unsigned i, const uint32_t *vals, size_t n, uint16_t yes)
{
    ld(b, ARG_LO(i));
    for (size_t k = 0; k < n; k++)
        jeq(b, vals[k], yes, NEXT);
}

/* Argument i (a pointer) is NULL: allow; otherwise the supervisor. */
static void null_native(struct bld *b, unsigned i)
{
    uint16_t allow = lbl(b), notify = lbl(b);
    ld(b, ARG_HI(i));
    jeq(b, 0, NEXT, notify);
    ld(b, ARG_LO(i));
    jeq(b, 0, allow, notify);
    here(b, notify);
    ret(b, NOTIFY);
    here(b, allow);
    ret(b, ALLOW);
}

/* socket(family, type, protocol). The type without SOCK_NONBLOCK and
 * SOCK_CLOEXEC must be one listed exactly (any other bit: refused). */
static void blk_socket(struct bld *b)
{
    uint16_t unx = lbl(b), inet = lbl(b), inet6 = lbl(b), nl = lbl(b);
    uint16_t unx_proto = lbl(b), stream = lbl(b), dgram4 = lbl(b), dgram6 = lbl(b);
    uint16_t nl_proto = lbl(b), bad_type = lbl(b), bad_proto = lbl(b), allow = lbl(b);
    const uint32_t type_mask = ~(uint32_t)(SOCK_NONBLOCK | SOCK_CLOEXEC);
    ld(b, ARG_LO(0));
    jeq(b, AF_UNIX, unx, NEXT);
    jeq(b, AF_INET, inet, NEXT);
    jeq(b, AF_INET6, inet6, NEXT);
    jeq(b, AF_NETLINK, nl, NEXT);
    ret(b, ERR(EAFNOSUPPORT));

    here(b, unx);
    ld(b, ARG_LO(1));
    emit(b, BPF_ALU | BPF_AND | BPF_K, type_mask, RAW, RAW);
    jeq(b, SOCK_STREAM, unx_proto, NEXT);
    jeq(b, SOCK_DGRAM, unx_proto, NEXT);
    jeq(b, SOCK_SEQPACKET, unx_proto, bad_type);
    here(b, unx_proto);
    one_of(b, 2, (const uint32_t[]){0, PF_UNIX}, 2, allow);
    ja(b, bad_proto);

    here(b, inet);
    ld(b, ARG_LO(1));
    emit(b, BPF_ALU | BPF_AND | BPF_K, type_mask, RAW, RAW);
    jeq(b, SOCK_STREAM, stream, NEXT);
    jeq(b, SOCK_DGRAM, dgram4, bad_type);
    here(b, dgram4);
    one_of(b, 2, (const uint32_t[]){0, IPPROTO_UDP, IPPROTO_ICMP}, 3, allow);
    ja(b, bad_proto);

    here(b, inet6);
    ld(b, ARG_LO(1));
    emit(b, BPF_ALU | BPF_AND | BPF_K, type_mask, RAW, RAW);
    jeq(b, SOCK_STREAM, stream, NEXT);
    jeq(b, SOCK_DGRAM, dgram6, bad_type);
    here(b, dgram6);
    one_of(b, 2, (const uint32_t[]){0, IPPROTO_UDP, IPPROTO_ICMPV6}, 3, allow);
    ja(b, bad_proto);

    /* Both inet families' streams. */
    here(b, stream);
    one_of(b, 2, (const uint32_t[]){0, IPPROTO_TCP}, 2, allow);
    ja(b, bad_proto);

    here(b, nl);
    ld(b, ARG_LO(1));
    emit(b, BPF_ALU | BPF_AND | BPF_K, type_mask, RAW, RAW);
    jeq(b, SOCK_RAW, nl_proto, NEXT);
    jeq(b, SOCK_DGRAM, nl_proto, bad_type);
    here(b, nl_proto);
    one_of(b, 2, (const uint32_t[]){NETLINK_ROUTE}, 1, allow);
    ja(b, bad_proto);

    here(b, bad_type);
    ret(b, ERR(EPERM));
    here(b, bad_proto);
    ret(b, ERR(EPROTONOSUPPORT));
    here(b, allow);
    ret(b, ALLOW);
}

static void blk_socketpair(struct bld *b)
{
    uint16_t allow = lbl(b);
    one_of(b, 0, (const uint32_t[]){AF_UNIX}, 1, allow);
    ret(b, ERR(EAFNOSUPPORT));
    here(b, allow);
    ret(b, ALLOW);
}

/* setsockopt(fd, level, optname, ...): attaching BPF programs (classic ones
 * go through the kernel's converter and JIT), upper-layer protocols (kTLS)
 * and netfilter's table replacement (x_tables, reachable with CAP_NET_ADMIN
 * over the container's network namespace) are refused. */
static void blk_setsockopt(struct bld *b)
{
    uint16_t sol = lbl(b), tcp = lbl(b), ip = lbl(b), ip6 = lbl(b), deny = lbl(b);
    uint16_t allow = lbl(b);
    ld(b, ARG_LO(1));
    jeq(b, SOL_SOCKET, sol, NEXT);
    jeq(b, IPPROTO_TCP, tcp, NEXT);
    jeq(b, IPPROTO_IP, ip, NEXT);
    jeq(b, IPPROTO_IPV6, ip6, NEXT);
    jeq(b, IPPROTO_UDP, allow, NEXT);
    jeq(b, IPPROTO_ICMPV6, allow, NEXT);
    jeq(b, SOL_NETLINK, allow, NEXT);
    ret(b, ERR(ENOPROTOOPT));

    here(b, sol);
    ld(b, ARG_LO(2));
    jeq(b, SO_ATTACH_FILTER, deny, NEXT);
    jeq(b, SO_ATTACH_BPF, deny, NEXT);
    jeq(b, SO_ATTACH_REUSEPORT_CBPF, deny, NEXT);
    jeq(b, SO_ATTACH_REUSEPORT_EBPF, deny, allow);
    here(b, tcp);
    ld(b, ARG_LO(2));
    jeq(b, TCP_ULP, deny, allow);
    /* IPv4's own options are below 64; 64 and up are netfilter's (ip, arp
     * and eb tables, IPVS) and multicast routing (raw sockets only). */
    here(b, ip);
    ld(b, ARG_LO(2));
    jge(b, 64, deny, allow);
    /* IPv6: ip6tables' setsockopt options are 64 and 65 (IP6T_SO_SET_REPLACE,
     * _ADD_COUNTERS; 68 and 69 are getsockopt's only); IPv6's own options
     * come between and after them: IPV6_RECVTCLASS (66), IPV6_TCLASS (67),
     * IPV6_AUTOFLOWLABEL (70)... */
    here(b, ip6);
    ld(b, ARG_LO(2));
    jeq(b, 64, deny, NEXT);
    jeq(b, 65, deny, allow);

    here(b, deny);
    ret(b, ERR(EPERM));
    here(b, allow);
    ret(b, ALLOW);
}

/* ioctl(fd, request, ...): terminals and job control, fd flags, socket and
 * interface queries, file information. */
static const uint32_t ioctl_allowed[] = {
    TCGETS,          TCSETS,         TCSETSW,     TCSETSF,       IP_TCGETS2,   IP_TCSETS2,
    IP_TCSETSW2,     IP_TCSETSF2,    TIOCGWINSZ,  TIOCSWINSZ,    TIOCGPGRP,    TIOCSPGRP,
    TIOCGSID,        TIOCSCTTY,      TIOCNOTTY,   TIOCGPTN,      TIOCSPTLCK,   TIOCGPTPEER,
    TIOCOUTQ,        TIOCGETD,       TCFLSH,      TCXONC,        TCSBRK,       TCSBRKP,
    FIONREAD,        FIONBIO,        FIOCLEX,     FIONCLEX,      FIOASYNC,     SIOCATMARK,
    SIOCOUTQNSD,     SIOCGIFNAME,    SIOCGIFCONF, SIOCGIFFLAGS,  SIOCGIFADDR,  SIOCGIFDSTADDR,
    SIOCGIFBRDADDR,  SIOCGIFNETMASK, SIOCGIFMTU,  SIOCGIFHWADDR, SIOCGIFINDEX, FIGETBSZ,
    FS_IOC_GETFLAGS, FS_IOC_FIEMAP,  FICLONE,     FICLONERANGE,
};
/* Typing into the terminal's input (TIOCSTI), the virtual console's
 * services, redirecting the console, changing the line discipline. */
static const uint32_t ioctl_denied[] = {TIOCSTI, TIOCLINUX, TIOCCONS, TIOCSETD};

static void blk_ioctl(struct bld *b)
{
    uint16_t allow = lbl(b), deny = lbl(b);
    one_of(b, 1, ioctl_allowed, ARRAY_SIZE(ioctl_allowed), allow);
    for (size_t i = 0; i < ARRAY_SIZE(ioctl_denied); i++)
        jeq(b, ioctl_denied[i], deny, NEXT);
    /* What a program probing a request its device does not know expects. */
    ret(b, ERR(ENOTTY));
    here(b, deny);
    ret(b, ERR(EPERM));
    here(b, allow);
    ret(b, ALLOW);
}

/* clone(flags, ...): no new namespace. The kernel reads only the lower half
 * of flags; its low byte is the exit signal (CLONE_NEWTIME, 0x80, exists
 * only for clone3 and unshare). */
#define CLONE_NEW_ANY                                                                              \
    (CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |  \
     CLONE_NEWNET)

static void blk_clone(struct bld *b)
{
    uint16_t deny = lbl(b), allow = lbl(b);
    ld(b, ARG_LO(0));
    jset(b, CLONE_NEW_ANY, deny, allow);
    here(b, deny);
    ret(b, ERR(EPERM));
    here(b, allow);
    ret(b, ALLOW);
}

static const uint32_t prctl_allowed[] = {
    PR_SET_PDEATHSIG,
    PR_GET_PDEATHSIG,
    PR_GET_DUMPABLE,
    PR_SET_DUMPABLE,
    PR_GET_KEEPCAPS,
    PR_SET_KEEPCAPS,
    PR_SET_NAME,
    PR_GET_NAME,
    PR_GET_SECCOMP,
    PR_SET_SECCOMP,
    PR_CAPBSET_READ,
    PR_CAPBSET_DROP,
    PR_GET_SECUREBITS,
    PR_SET_SECUREBITS,
    PR_GET_TIMERSLACK,
    PR_SET_TIMERSLACK,
    PR_SET_CHILD_SUBREAPER,
    PR_GET_CHILD_SUBREAPER,
    PR_SET_NO_NEW_PRIVS,
    PR_GET_NO_NEW_PRIVS,
    PR_GET_TID_ADDRESS,
    PR_SET_THP_DISABLE,
    PR_GET_THP_DISABLE,
    PR_CAP_AMBIENT,
    PR_GET_SPECULATION_CTRL,
    PR_SET_SPECULATION_CTRL,
    PR_SET_PTRACER,
    PR_SET_VMA,
    PR_SET_MDWE,
    PR_GET_MDWE,
};

static void blk_prctl(struct bld *b)
{
    uint16_t allow = lbl(b);
    one_of(b, 0, prctl_allowed, ARRAY_SIZE(prctl_allowed), allow);
    ret(b, ERR(EINVAL)); /* what the kernel says of an option it does not know */
    here(b, allow);
    ret(b, ALLOW);
}

static const uint32_t arch_prctl_allowed[] = {
    ARCH_SET_GS,         ARCH_SET_FS,       ARCH_GET_FS,         ARCH_GET_GS,
    ARCH_GET_CPUID,      ARCH_SET_CPUID,    ARCH_GET_XCOMP_SUPP, ARCH_GET_XCOMP_PERM,
    ARCH_REQ_XCOMP_PERM, ARCH_SHSTK_ENABLE, ARCH_SHSTK_DISABLE,  ARCH_SHSTK_LOCK,
    ARCH_SHSTK_STATUS,
};

static void blk_arch_prctl(struct bld *b)
{
    uint16_t allow = lbl(b);
    one_of(b, 0, arch_prctl_allowed, ARRAY_SIZE(arch_prctl_allowed), allow);
    ret(b, ERR(EINVAL));
    here(b, allow);
    ret(b, ALLOW);
}

/* Docker's default set: not READ_IMPLIES_EXEC (every readable mapping
 * executable) nor ADDR_NO_RANDOMIZE. */
static const uint32_t personality_allowed[] = {
    PER_LINUX, PER_LINUX32, UNAME26, UNAME26 | PER_LINUX32, 0xffffffffu /* query */,
};

static void blk_personality(struct bld *b)
{
    uint16_t allow = lbl(b);
    one_of(b, 0, personality_allowed, ARRAY_SIZE(personality_allowed), allow);
    ret(b, ERR(EPERM));
    here(b, allow);
    ret(b, ALLOW);
}

/* seccomp(op, flags, args): a program may stack filters of its own (they
 * can only restrict it: ours is still run, and the more restrictive action
 * wins), but not with a listener of its own. The kernel already refuses a
 * second listener in a task's filter chain with EBUSY; say it here too. */
static void blk_seccomp(struct bld *b)
{
    uint16_t filter = lbl(b), busy = lbl(b), allow = lbl(b);
    ld(b, ARG_LO(0));
    jeq(b, SECCOMP_SET_MODE_FILTER, filter, NEXT);
    jeq(b, SECCOMP_SET_MODE_STRICT, allow, NEXT);
    jeq(b, SECCOMP_GET_ACTION_AVAIL, allow, NEXT);
    jeq(b, SECCOMP_GET_NOTIF_SIZES, allow, NEXT);
    ret(b, ERR(EINVAL));
    here(b, filter);
    ld(b, ARG_LO(1));
    jset(b, SECCOMP_FILTER_FLAG_NEW_LISTENER, busy, allow);
    here(b, busy);
    ret(b, ERR(EBUSY));
    here(b, allow);
    ret(b, ALLOW);
}

/* sendto(fd, buf, len, flags, dest_addr, addrlen): a connected socket's
 * (dest_addr NULL) goes on; one with an address is the supervisor's. */
static void blk_sendto(struct bld *b)
{
    null_native(b, 4);
}

/* utimensat(dirfd, path, times, flags): a NULL path acts on dirfd itself. */
static void blk_utimensat(struct bld *b)
{
    null_native(b, 1);
}

/* The calls with argument checks, by number. */
static const struct {
    int nr;
    void (*emit)(struct bld *b);
} checked[] = {
    {SYS_ioctl, blk_ioctl},
    {SYS_socket, blk_socket},
    {SYS_sendto, blk_sendto},
    {SYS_socketpair, blk_socketpair},
    {SYS_setsockopt, blk_setsockopt},
    {SYS_clone, blk_clone},
    {SYS_personality, blk_personality},
    {SYS_prctl, blk_prctl},
    {SYS_arch_prctl, blk_arch_prctl},
    {SYS_utimensat, blk_utimensat},
    {SYS_seccomp, blk_seccomp},
};

/* Native calls whose address argument is in memory: the supervisor's when
 * an egress allowlist must be enforced. */
static bool egress_brokered(int nr)
{
    return nr == SYS_sendmsg || nr == SYS_sendmmsg;
}

struct ent {
    uint32_t nr;
    uint32_t action; /* when block is NULL */
    void (*block)(struct bld *b);
    uint16_t label; /* the block's */
};

static int ent_cmp(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    return x->nr < y->nr ? -1 : x->nr > y->nr;
}

/* The search over e[0..n): leaves of a few calls are tried in turn, each
 * returning its action or jumping to its block; a number between them gets
 * ENOSYS. Inner nodes: "nr >= middle" jumps to the right half (a JA, which
 * reaches any distance), else falls into the left one, laid out next. A
 * stack of halves still to lay out (the left one on top) stands in for
 * recursion; it holds at most one right half per level of the tree. */
#define LEAF 4
static void search(struct bld *b, const struct ent *e, size_t n)
{
    struct half {
        const struct ent *e;
        size_t n;
        uint16_t label; /* where it starts, RAW for "right here" */
    } stack[64];
    size_t top = 0;
    stack[top++] = (struct half){e, n, RAW};
    while (top > 0) {
        struct half h = stack[--top];
        if (h.label != RAW)
            here(b, h.label);
        if (h.n <= LEAF) {
            for (size_t i = 0; i < h.n; i++) {
                jraw(b, BPF_JEQ, h.e[i].nr, 0, 1); /* no: over the next instruction */
                if (h.e[i].block != NULL)
                    ja(b, h.e[i].label);
                else
                    ret(b, h.e[i].action);
            }
            ret(b, ERR(ENOSYS));
            continue;
        }
        if (top + 2 > ARRAY_SIZE(stack)) {
            b->overflow = true;
            return;
        }
        size_t mid = h.n / 2;
        uint16_t right = lbl(b);
        jraw(b, BPF_JGE, h.e[mid].nr, 0, 1); /* no: over the JA, into the left half */
        ja(b, right);
        stack[top++] = (struct half){h.e + mid, h.n - mid, right};
        stack[top++] = (struct half){h.e, mid, RAW};
    }
}

/* Replace labels by offsets; every jump goes forward, a conditional one at
 * most 255 instructions. */
static int resolve(struct bld *b, struct capsa_err *err)
{
    for (unsigned i = 0; i < b->n; i++) {
        struct sock_filter *f = &b->insn[i];
        const uint16_t ls[2] = {b->lt[i], b->lf[i]};
        for (int w = 0; w < 2; w++) {
            if (ls[w] == RAW)
                continue;
            unsigned off = 0;
            if (ls[w] != NEXT) {
                unsigned to = b->label[ls[w]];
                if (to == UNBOUND || to <= i || to >= b->n)
                    return capsa_err_setx(err, EINVAL,
                                          "interpose filter: instruction %u jumps to an unbound "
                                          "or backward label",
                                          i);
                off = to - i - 1;
            }
            if (f->code == (BPF_JMP | BPF_JA)) {
                f->k = off;
            } else if (off > 255) {
                return capsa_err_setx(err, E2BIG,
                                      "interpose filter: instruction %u jumps %u ahead (at most "
                                      "255)",
                                      i, off);
            } else if (w == 0) {
                f->jt = (uint8_t)off;
            } else {
                f->jf = (uint8_t)off;
            }
        }
    }
    return 0;
}

static int build(struct bld *b, const struct capsa_ip_policy *p, struct capsa_err *err)
{
    struct ent e[ARRAY_SIZE(table)];
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        const struct capsa_ip_sysent *s = &table[i];
        e[i] = (struct ent){.nr = (uint32_t)s->nr};
        for (size_t k = 0; k < ARRAY_SIZE(checked); k++) {
            if (checked[k].nr == s->nr)
                e[i].block = checked[k].emit;
        }
        switch (s->cls) {
        case CAPSA_IP_NATIVE:
            e[i].action = p != NULL && p->egress_set && egress_brokered(s->nr) ? NOTIFY : ALLOW;
            break;
        case CAPSA_IP_BROKERED:
            e[i].action = NOTIFY;
            break;
        case CAPSA_IP_REFUSED:
            e[i].action = ERR(s->err);
            if (e[i].block != NULL)
                return capsa_err_setx(err, EINVAL, "interpose filter: %s is refused and checked",
                                      s->name);
            break;
        }
        if (e[i].block != NULL)
            e[i].label = lbl(b);
    }
    qsort(e, ARRAY_SIZE(e), sizeof e[0], ent_cmp);
    for (size_t i = 1; i < ARRAY_SIZE(e); i++) {
        if (e[i].nr == e[i - 1].nr)
            return capsa_err_setx(err, EINVAL, "interpose filter: number %u listed twice", e[i].nr);
    }

    ld(b, OFF_ARCH);
    jraw(b, BPF_JEQ, AUDIT_ARCH_X86_64, 1, 0);
    ret(b, KILL);
    ld(b, OFF_NR);
    jraw(b, BPF_JGE, X32_BIT, 0, 1);
    ret(b, KILL);
    search(b, e, ARRAY_SIZE(e));
    for (size_t i = 0; i < ARRAY_SIZE(e); i++) {
        if (e[i].block == NULL)
            continue;
        here(b, e[i].label);
        e[i].block(b);
    }
    if (b->overflow)
        return capsa_err_setx(err, E2BIG,
                              "interpose filter: more than %d instructions or %d labels",
                              BPF_MAXINSNS, MAX_LABELS);
    return resolve(b, err);
}

static int build_allowlist(struct bld *b, const struct capsa_ip_allowlist *a, struct capsa_err *err)
{
    uint16_t allow = lbl(b), kill = lbl(b), ioc = lbl(b), clone = lbl(b);
    ld(b, OFF_ARCH);
    jeq(b, AUDIT_ARCH_X86_64, NEXT, kill);
    ld(b, OFF_NR);
    jge(b, X32_BIT, kill, NEXT);
    for (size_t i = 0; i < a->n_calls; i++) {
        if (a->calls[i] < 0 || (a->calls[i] == SYS_ioctl && a->n_ioctls > 0) ||
            (a->threads && (a->calls[i] == SYS_clone || a->calls[i] == SYS_clone3)))
            return capsa_err_setx(err, EINVAL,
                                  "interpose: the supervisor's filter lists call %d outside its "
                                  "rule",
                                  a->calls[i]);
        jeq(b, (uint32_t)a->calls[i], allow, NEXT);
    }
    if (a->n_ioctls > 0)
        jeq(b, SYS_ioctl, ioc, NEXT);
    if (a->threads) {
        jeq(b, SYS_clone, clone, NEXT);
        jraw(b, BPF_JEQ, SYS_clone3, 0, 1);
        ret(b, ERR(ENOSYS));
    }
    here(b, kill);
    ret(b, KILL);
    /* Every jump goes forward: the argument checks, then "allow" last. */
    here(b, ioc);
    if (a->n_ioctls > 0) {
        /* The kernel takes the request as an unsigned int: the lower half. */
        ld(b, ARG_LO(1));
        for (size_t i = 0; i < a->n_ioctls; i++)
            jeq(b, (uint32_t)a->ioctls[i], allow, NEXT);
        ret(b, KILL);
    }
    here(b, clone);
    if (a->threads) {
        ld(b, ARG_LO(0));
        jset(b, CLONE_THREAD, allow, NEXT);
        ret(b, KILL);
    }
    here(b, allow);
    ret(b, ALLOW);
    if (b->overflow)
        return capsa_err_setx(err, E2BIG, "interpose: the supervisor's filter is too long");
    return resolve(b, err);
}

static int to_prog(const struct bld *b, unsigned flags, bool notify,
                   struct capsa_seccomp_prog **out, struct capsa_err *err)
{
    struct capsa_seccomp_prog *prog = calloc(1, sizeof *prog);
    if (prog == NULL)
        return capsa_err_set(err, ENOMEM, "interpose filter");
    prog->insns = malloc(b->n * sizeof *prog->insns);
    if (prog->insns == NULL) {
        free(prog);
        return capsa_err_set(err, ENOMEM, "interpose filter");
    }
    memcpy(prog->insns, b->insn, b->n * sizeof *prog->insns);
    prog->n_insns = (unsigned short)b->n;
    prog->flags = flags;
    prog->uses_notify = notify;
    *out = prog;
    return 0;
}

int capsa_ip_filter_compile(const struct capsa_ip_policy *p, struct capsa_seccomp_prog **out,
                            struct capsa_err *err)
{
    *out = NULL;
    cleanup_free struct bld *b = calloc(1, sizeof *b);
    if (b == NULL)
        return capsa_err_set(err, ENOMEM, "interpose filter");
    int r = build(b, p, err);
    if (r < 0)
        return r;
    /* Once the supervisor has taken a call, only a fatal signal interrupts
     * the caller's wait: otherwise a signal would restart a call the
     * supervisor has already performed (a second mkdir says EEXIST). */
    return to_prog(b, SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, true, out, err);
}

int capsa_ip_allowlist_compile(const struct capsa_ip_allowlist *a, struct capsa_seccomp_prog **out,
                               struct capsa_err *err)
{
    *out = NULL;
    cleanup_free struct bld *b = calloc(1, sizeof *b);
    if (b == NULL)
        return capsa_err_set(err, ENOMEM, "interpose: the supervisor's filter");
    int r = build_allowlist(b, a, err);
    if (r < 0)
        return r;
    return to_prog(b, 0, false, out, err);
}
