/* start.c - the guest's entry point and core services: _start (called by
 * the spt tender on a stack at the top of guest memory with the boot info
 * in rdi), the checks on what the tender handed over, the ABI1 note, the
 * console, the clocks, yield and exit. */
#include "internal.h"
#include "sys.h"

struct uk_boot_state uk_boot;

/* The ABI1 note: tells the tender this image is for the spt target, ABI
 * version 2, so that it refuses images built for anything else. */
struct uk_abi1_note_ {
    uint32_t n_namesz, n_descsz, n_type;
    char n_name[8];
    struct capsa_abi1_info i;
};
_Static_assert(__builtin_offsetof(struct uk_abi1_note_, i) == CAPSA_NOTE_HDR_SIZE,
               "ABI1 note layout");

__attribute__((section(".note.solo5.abi"), used, aligned(4)))
const struct uk_abi1_note_ uk_abi1_note = {
    .n_namesz = sizeof(CAPSA_SOLO5_NOTE_NAME),
    .n_descsz = sizeof(struct capsa_abi1_info),
    .n_type = CAPSA_NOTE_TYPE_ABI1,
    .n_name = CAPSA_SOLO5_NOTE_NAME,
    .i = {.abi_target = CAPSA_ABI_TARGET_SPT, .abi_version = CAPSA_SPT_ABI_VERSION},
};

/* The tender jumps here (it does not call), so the stack alignment is only
 * what it chose: realign to 16 bytes as the SysV ABI requires at a call,
 * clear the frame pointer so debuggers see the outermost frame, and call
 * the C entry with the boot info still in rdi. It never returns. */
__asm__(".text\n"
        ".globl _start\n"
        ".type _start, @function\n"
        "_start:\n"
        "    xorl %ebp, %ebp\n"
        "    andq $-16, %rsp\n"
        "    call uk_start_c\n"
        "    ud2\n"
        ".size _start, . - _start\n");

void uk_start_c(const struct capsa_spt_boot_info *bi) __attribute__((noreturn, used));

static void uk_fatal(const char *msg) __attribute__((noreturn));
static void uk_fatal(const char *msg)
{
    uk_puts("uk: fatal: ");
    uk_puts(msg);
    uk_puts("\n");
    uk_exit(255);
}

void uk_start_c(const struct capsa_spt_boot_info *bi)
{
    /* The tender is trusted, but a mismatched tender (another ABI, another
     * manifest version) must fail loudly here, not corrupt memory later. */
    if (bi == NULL || bi->mft == NULL)
        uk_fatal("no boot info or manifest from the tender");
    const struct capsa_mft *mft = bi->mft;
    if (mft->version != CAPSA_MFT_VERSION)
        uk_fatal("manifest version mismatch");
    if (mft->entries < 1 || mft->entries > CAPSA_MFT_MAX_ENTRIES ||
        mft->e[0].type != CAPSA_MFT_RESERVED_FIRST)
        uk_fatal("malformed manifest");
    uk_boot.bi = bi;
    uk_boot.mft = mft;
    for (uint32_t i = 0; i < mft->entries; i++)
        if (mft->e[i].type == CAPSA_MFT_DEV_NET_BASIC && mft->e[i].attached)
            uk_boot.net_count++;
    const char *cmdline = bi->cmdline != NULL ? bi->cmdline : "";
    uk_exit(uk_main(cmdline));
}

const struct capsa_mft_entry *uk_mft_entry(uk_handle_t handle, uint32_t type)
{
    if (uk_boot.mft == NULL || handle >= uk_boot.mft->entries)
        return NULL;
    const struct capsa_mft_entry *e = &uk_boot.mft->e[handle];
    if (e->type != type || !e->attached)
        return NULL;
    return e;
}

long uk_raw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
    return uk_sys6(nr, a1, a2, a3, a4, a5, a6);
}

void uk_exit(int status)
{
    for (;;)
        uk_sys3(UK_NR_exit_group, status, 0, 0);
}

void uk_console_write(const char *buf, size_t len)
{
    /* fd 1 is the only console the tender allows; retry short writes, give
     * up on errors (there is nowhere else to report them). */
    while (len > 0) {
        long n = uk_sys3(UK_NR_write, 1, (long)buf, (long)len);
        if (n == -UK_EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

void uk_puts(const char *s)
{
    uk_console_write(s, strlen(s));
}

static uint64_t uk_clock(long clock_id)
{
    struct uk_timespec ts = {0, 0};
    if (uk_sys3(UK_NR_clock_gettime, clock_id, (long)&ts, 0) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t uk_clock_monotonic(void)
{
    return uk_clock(UK_CLOCK_MONOTONIC);
}

uint64_t uk_clock_wall(void)
{
    return uk_clock(UK_CLOCK_REALTIME);
}

void uk_yield(uint64_t deadline_ns, uk_handle_set_t *ready_set)
{
    const struct capsa_spt_boot_info *bi = uk_boot.bi;
    /* The deadline is absolute CLOCK_MONOTONIC time, which is what the
     * tender's timerfd counts, so it is armed with TFD_TIMER_ABSTIME and no
     * clock read is needed. A zero it_value would disarm the timer and leave
     * epoll waiting forever, hence the low bit. Re-arming also clears any
     * expiry left from the last call, so the timerfd never needs a read. */
    struct uk_itimerspec it = {
        .it_interval = {0, 0},
        .it_value = {(int64_t)(deadline_ns / 1000000000ULL),
                     (int64_t)(deadline_ns % 1000000000ULL) | 1},
    };
    uk_handle_set_t ready = 0;
    if (uk_sys6(UK_NR_timerfd_settime, bi->timerfd, UK_TFD_TIMER_ABSTIME, (long)&it, 0, 0, 0) != 0)
        uk_fatal("timerfd_settime failed");

    struct uk_epoll_event ev[CAPSA_MFT_MAX_ENTRIES + 1];
    int max = (int)uk_boot.net_count + 1;
    long n;
    do {
        n = uk_sys6(UK_NR_epoll_pwait, bi->epollfd, (long)ev, max, -1, 0, 0);
    } while (n == -UK_EINTR);
    if (n < 0)
        uk_fatal("epoll_pwait failed");
    for (long i = 0; i < n; i++) {
        uint64_t data = ev[i].data;
        /* The timer's event only ends the wait; net devices carry their
         * manifest index, which is their handle. */
        if (data == (uint64_t)CAPSA_SPT_INTERNAL_TIMERFD || data >= CAPSA_MFT_MAX_ENTRIES)
            continue;
        ready |= 1ULL << data;
    }
    if (ready_set != NULL)
        *ready_set = ready;
}
