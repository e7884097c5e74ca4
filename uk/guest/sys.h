/* sys.h - the guest's only way to the host: raw x86-64 Linux system calls
 * through inline asm, plus the few kernel ABI structs they take. Internal to
 * uk/guest; the tender's seccomp filter decides which of these succeed. */
#ifndef CAPSA_UK_GUEST_SYS_H
#define CAPSA_UK_GUEST_SYS_H

#include <stdint.h>

#define UK_NR_read            0
#define UK_NR_write           1
#define UK_NR_pread64         17
#define UK_NR_pwrite64        18
#define UK_NR_clock_gettime   228
#define UK_NR_exit_group      231
#define UK_NR_epoll_pwait     281
#define UK_NR_timerfd_settime 286

#define UK_CLOCK_REALTIME    0
#define UK_CLOCK_MONOTONIC   1
#define UK_TFD_TIMER_ABSTIME 1
#define UK_EINTR             4
#define UK_EAGAIN            11

struct uk_timespec {
    int64_t tv_sec;
    int64_t tv_nsec;
};

struct uk_itimerspec {
    struct uk_timespec it_interval;
    struct uk_timespec it_value;
};

/* The kernel's struct epoll_event is packed on x86-64 (12 bytes). */
struct uk_epoll_event {
    uint32_t events;
    uint64_t data;
} __attribute__((packed));

/* The syscall instruction takes the number in rax and arguments in rdi, rsi,
 * rdx, r10, r8, r9; it clobbers rcx and r11. "memory" because the kernel
 * reads and writes through the pointer arguments. */
static inline long uk_sys6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    long ret;
    register long r10 __asm__("r10") = a4;
    register long r8 __asm__("r8") = a5;
    register long r9 __asm__("r9") = a6;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

static inline long uk_sys3(long nr, long a1, long a2, long a3)
{
    return uk_sys6(nr, a1, a2, a3, 0, 0, 0);
}

#endif
