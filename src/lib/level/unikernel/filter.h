/* filter.h - the unikernel's seccomp filter (the whole security boundary of
 * the unikernel level, docs/unikernel.md), built by hand as classic BPF into
 * a caller-owned buffer: no allocation, so the tender can build it at the
 * last moment, and no libseccomp, so every instruction is ours to review.
 * Separate from the tender so that tests can load it in a child process and
 * probe it with raw system calls (tests/unit/test_uk_filter.c). */
#ifndef CAPSA_UK_FILTER_H
#define CAPSA_UK_FILTER_H

#include <linux/filter.h>
#include <stdbool.h>

#include "level/unikernel/tender.h"

/* Enough for the largest setup: 63 block devices at 16 instructions each,
 * 64 write fds, 63 read fds and the fixed part come to about 1,160. */
#define CAPSA_UK_FILTER_MAX 2048

struct capsa_uk_filter {
    struct sock_filter insn[CAPSA_UK_FILTER_MAX];
    unsigned n;
    bool overflow;
};

/* Build the allow-list for setup s (its devices' fds, sector sizes and
 * capacities) and the tender's epoll and timer fds; default action: kill
 * the process (SIGSYS). x86-64 only. Allowed, and nothing else:
 *   exit_group;
 *   write on fd 1 or a net device's fd; read on a net device's fd;
 *   clock_gettime on CLOCK_MONOTONIC or CLOCK_REALTIME;
 *   epoll_pwait on epollfd; timerfd_settime on timerfd; arch_prctl(ARCH_SET_FS);
 *   pread64/pwrite64 on a block device's fd, of exactly one sector, at an
 *   offset that is a multiple of the sector inside [0, capacity - sector]
 *   (so the guest can neither read nor write outside the device nor grow
 *   the file behind it).
 * Every checked argument is compared in both 32-bit halves. Returns 0;
 * -E2BIG if there are more than CAPSA_UK_MAX_DEVICES devices or the program
 * does not fit; -EINVAL for a block device whose sector is not a power of two
 * or whose capacity is not a whole number (>= 1) of sectors. */
int capsa_uk_filter_build(struct capsa_uk_filter *b, const struct capsa_uk_setup *s, int epollfd,
                          int timerfd);

#endif
