/* brokered.h - the system calls of the interpose level's filter (filter.c)
 * that may reach the supervisor (SECCOMP_RET_USER_NOTIF), with their x86-64
 * numbers: the calls capsa_ip_syscalls() classes CAPSA_IP_BROKERED, plus
 * sendmsg and sendmmsg, which go there when capsa.interpose.egress is set.
 * The broker switches on it:
 *
 *     #define X(name, nr) case nr:
 *         CAPSA_IP_BROKERED_LIST(X)
 *     #undef X
 *
 * Numbers, not SYS_ names: the C library's headers may predate a call
 * (fchmodat2). tests/unit/test_ip_filter.c checks the list against the table
 * and every number against libseccomp's name for it. A call added here needs
 * a handler in the broker: the filter sends it whatever its arguments. */
#ifndef CAPSA_LEVEL_INTERPOSE_BROKERED_H
#define CAPSA_LEVEL_INTERPOSE_BROKERED_H

/* clang-format off */
#define CAPSA_IP_BROKERED_LIST(X) \
    X(open, 2) \
    X(stat, 4) \
    X(lstat, 6) \
    X(access, 21) \
    X(connect, 42) \
    X(sendto, 44) \
    X(sendmsg, 46) \
    X(bind, 49) \
    X(truncate, 76) \
    X(rename, 82) \
    X(mkdir, 83) \
    X(rmdir, 84) \
    X(creat, 85) \
    X(link, 86) \
    X(unlink, 87) \
    X(symlink, 88) \
    X(readlink, 89) \
    X(chmod, 90) \
    X(chown, 92) \
    X(lchown, 94) \
    X(utime, 132) \
    X(mknod, 133) \
    X(statfs, 137) \
    X(setxattr, 188) \
    X(lsetxattr, 189) \
    X(getxattr, 191) \
    X(lgetxattr, 192) \
    X(listxattr, 194) \
    X(llistxattr, 195) \
    X(removexattr, 197) \
    X(lremovexattr, 198) \
    X(utimes, 235) \
    X(inotify_add_watch, 254) \
    X(openat, 257) \
    X(mkdirat, 258) \
    X(mknodat, 259) \
    X(fchownat, 260) \
    X(futimesat, 261) \
    X(newfstatat, 262) \
    X(unlinkat, 263) \
    X(renameat, 264) \
    X(linkat, 265) \
    X(symlinkat, 266) \
    X(readlinkat, 267) \
    X(fchmodat, 268) \
    X(faccessat, 269) \
    X(utimensat, 280) \
    X(sendmmsg, 307) \
    X(renameat2, 316) \
    X(statx, 332) \
    X(openat2, 437) \
    X(faccessat2, 439) \
    X(fchmodat2, 452)
/* clang-format on */

#endif
