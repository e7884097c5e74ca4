/* filter.c - the unikernel's seccomp filter (filter.h). Classic BPF: the
 * accumulator A holds one 32-bit word of struct seccomp_data at a time, so a
 * 64-bit argument is checked as two halves (ARG_LO, ARG_HI; x86-64 is
 * little-endian); conditional jumps reach at most 255 instructions ahead,
 * so every long skip is an unconditional BPF_JA. */
#include "level/unikernel/filter.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>

#ifndef ARCH_SET_FS
#define ARCH_SET_FS 0x1002
#endif

#define ARG_LO(i) ((uint32_t)(offsetof(struct seccomp_data, args) + (i) * sizeof(uint64_t)))
#define ARG_HI(i) (ARG_LO(i) + (uint32_t)sizeof(uint32_t))
#define KILL      SECCOMP_RET_KILL_PROCESS
#define ALLOW     SECCOMP_RET_ALLOW

static void emit(struct capsa_uk_filter *b, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
    if (b->n == CAPSA_UK_FILTER_MAX) {
        b->overflow = true;
        return;
    }
    b->insn[b->n++] = (struct sock_filter){.code = code, .jt = jt, .jf = jf, .k = k};
}

static void load(struct capsa_uk_filter *b, uint32_t off)
{
    emit(b, BPF_LD | BPF_W | BPF_ABS, off, 0, 0);
}

static void ret(struct capsa_uk_filter *b, uint32_t action)
{
    emit(b, BPF_RET | BPF_K, action, 0, 0);
}

/* One syscall: allowed unconditionally (!pinned), or only when its first
 * argument is one of vals[] (upper half zero). A holds the syscall number on
 * entry and on fallthrough. nvals <= 64 keeps every jump short. */
static void allow(struct capsa_uk_filter *b, uint32_t nr, bool pinned, const uint32_t *vals,
                  unsigned nvals)
{
    if (!pinned) {
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1);
        ret(b, ALLOW);
        return;
    }
    unsigned len = nvals + 6;
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, nr, 0, (uint8_t)(len - 1));
    load(b, ARG_HI(0));
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, (uint8_t)(nvals + 1));
    load(b, ARG_LO(0));
    for (unsigned i = 0; i < nvals; i++)
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, vals[i], (uint8_t)(nvals - i), 0);
    ret(b, KILL);
    ret(b, ALLOW);
}

/* The instructions of one block device in the pread64/pwrite64 section. */
#define BLOCK_DEV_LEN 16

/* pread64(fd, buf, count, offset) / pwrite64, same arguments: a call on
 * this device's fd goes on only with count == sector and offset % sector ==
 * 0 and offset <= capacity - sector (64-bit unsigned, so a negative off_t is
 * far above it), else it is killed; a call on another fd falls through to
 * the next device. Index comments give each instruction's position, from
 * which the jump offsets (target - position - 1) follow. */
static void block_device(struct capsa_uk_filter *b, const struct capsa_uk_device *d)
{
    uint64_t max = d->capacity - d->sector; /* capacity >= sector (capsa_uk_filter_build) */
    uint32_t max_hi = (uint32_t)(max >> 32), max_lo = (uint32_t)max;
    enum {
        ALLOW_AT = 14,
        KILL_AT = 15,
        NEXT_AT = BLOCK_DEV_LEN
    };
#define TO(at, target) ((uint8_t)((target) - (at)-1))
    load(b, ARG_LO(0));                                                            /* 0 */
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)d->fd, 0, TO(1, NEXT_AT));        /* 1 */
    load(b, ARG_HI(2));                                                            /* 2 */
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, TO(3, KILL_AT));                      /* 3 */
    load(b, ARG_LO(2));                                                            /* 4 */
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, d->sector, 0, TO(5, KILL_AT));              /* 5 */
    load(b, ARG_LO(3));                                                            /* 6 */
    emit(b, BPF_ALU | BPF_AND | BPF_K, d->sector - 1, 0, 0);                       /* 7 */
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, TO(8, KILL_AT));                      /* 8 */
    load(b, ARG_HI(3));                                                            /* 9 */
    emit(b, BPF_JMP | BPF_JGT | BPF_K, max_hi, TO(10, KILL_AT), 0);                /* 10 */
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, max_hi, 0, TO(11, ALLOW_AT));               /* 11 */
    load(b, ARG_LO(3));                                                            /* 12 */
    emit(b, BPF_JMP | BPF_JGT | BPF_K, max_lo, TO(13, KILL_AT), TO(13, ALLOW_AT)); /* 13 */
    ret(b, ALLOW);                                                                 /* 14 */
    ret(b, KILL);                                                                  /* 15 */
#undef TO
}

/* pread64 and pwrite64, when there are block devices: both go to the same
 * per-device checks; the fd's upper half must be zero; a call on no device's
 * fd is killed. Anything else jumps over the section with A unchanged. */
static void block_section(struct capsa_uk_filter *b, const struct capsa_uk_setup *s, unsigned nb)
{
    unsigned len = 3 + nb * BLOCK_DEV_LEN + 1; /* fd hi check, devices, kill */
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, SYS_pread64, 2, 0);
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, SYS_pwrite64, 1, 0);
    emit(b, BPF_JMP | BPF_JA, len, 0, 0); /* neither: over the section */
    load(b, ARG_HI(0));
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
    ret(b, KILL);
    for (size_t i = 0; i < s->n_dev; i++)
        if (!s->dev[i].net)
            block_device(b, &s->dev[i]);
    ret(b, KILL);
}

int capsa_uk_filter_build(struct capsa_uk_filter *b, const struct capsa_uk_setup *s, int epollfd,
                          int timerfd)
{
    uint32_t nets[CAPSA_UK_MAX_DEVICES + 1];
    unsigned nb = 0, nn = 0;
    nets[nn++] = 1; /* the console, for write() only: added first */
    if (s->n_dev > CAPSA_UK_MAX_DEVICES)
        return -E2BIG;
    for (size_t i = 0; i < s->n_dev; i++) {
        const struct capsa_uk_device *d = &s->dev[i];
        if (d->net) {
            nets[nn++] = (uint32_t)d->fd;
            continue;
        }
        /* The geometry capsa_uk_open_devices guarantees, which the bounds
         * below rely on: a power-of-two sector, whole sectors, at least one. */
        if (d->sector == 0 || (d->sector & (d->sector - 1)) != 0 || d->capacity < d->sector ||
            d->capacity % d->sector != 0)
            return -EINVAL;
        nb++;
    }
    b->n = 0;
    b->overflow = false;
    load(b, offsetof(struct seccomp_data, arch));
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    ret(b, KILL);
    load(b, offsetof(struct seccomp_data, nr));
    /* x32 system calls (bit 30) are other numbers for the same calls. */
    emit(b, BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
    ret(b, KILL);
    static const uint32_t clocks[] = {CLOCK_MONOTONIC, CLOCK_REALTIME};
    const uint32_t ep = (uint32_t)epollfd, tf = (uint32_t)timerfd, fs = ARCH_SET_FS;
    allow(b, SYS_exit_group, false, NULL, 0);
    allow(b, SYS_write, true, nets, nn);
    allow(b, SYS_clock_gettime, true, clocks, 2);
    allow(b, SYS_epoll_pwait, true, &ep, 1);
    allow(b, SYS_timerfd_settime, true, &tf, 1);
    allow(b, SYS_arch_prctl, true, &fs, 1);
    if (nn > 1)
        allow(b, SYS_read, true, nets + 1, nn - 1);
    if (nb > 0)
        block_section(b, s, nb);
    ret(b, KILL);
    return b->overflow ? -E2BIG : 0;
}
