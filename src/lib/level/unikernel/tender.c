/* tender.c - the unikernel tender (see tender.h): once the init has opened
 * the devices (devices.c), image load, guest memory, boot info, fd cleanup,
 * the fault handler (fault.c), seccomp (filter.c) and the jump. After the
 * filter is loaded nothing allocates or makes a system call but the jump
 * itself. */
#include "level/unikernel/tender.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "level/unikernel/elf.h"
#include "level/unikernel/filter.h"
#include "level/unikernel/internal.h"
#include "level/unikernel/spt_abi.h"
#include "util/util.h"

#define MAX_IMAGE ((size_t)64 << 20)

/* Close every fd but the ones in keep[] (sorted ascending here). */
static int close_others(int *keep, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned int from = 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned int to = i < n ? (unsigned int)keep[i] : ~0U;
        if (to > from && close_range(from, to == ~0U ? ~0U : to - 1, 0) < 0)
            return -errno;
        if (i < n)
            from = (unsigned int)keep[i] + 1;
    }
    return 0;
}

/* Switch to the guest's stack and jump: entry(boot_info), as solo5-spt does. */
__attribute__((noreturn)) static void launch(uint64_t sp, uint64_t entry, uint64_t arg)
{
    __asm__ volatile("mov %%rdx, %%rsp\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "jmp *%%rsi\n\t"
                     :
                     : "d"(sp), "S"(entry), "D"(arg)
                     : "memory");
    __builtin_unreachable();
}

/* Map the image read-only and validate it (file and len set on success). */
static int map_image(const char *image_path, const struct capsa_uk_setup *s, const uint8_t **file,
                     size_t *len, struct capsa_uk_image *img, struct capsa_err *err)
{
    cleanup_close int ifd = capsa_uk_open_in_root(image_path, O_RDONLY, err);
    if (ifd < 0)
        return capsa_err_wrap(err, "unikernel image");
    struct stat st;
    if (fstat(ifd, &st) < 0)
        return capsa_err_set(err, errno, "unikernel image %s", image_path);
    if (!S_ISREG(st.st_mode) || st.st_size <= 0 || (size_t)st.st_size > MAX_IMAGE)
        return capsa_err_setx(err, EINVAL, "unikernel image %s: not a regular file of 1 B - 64 MiB",
                              image_path);
    *len = (size_t)st.st_size;
    *file = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, ifd, 0);
    if (*file == MAP_FAILED)
        return capsa_err_set(err, errno, "map %s", image_path);
    int r = capsa_uk_elf_parse(*file, *len, s->mem_size, img, err);
    if (r < 0) {
        munmap((void *)*file, *len);
        return capsa_err_wrap(err, "unikernel image %s", image_path);
    }
    return 0;
}

/* Every device the manifest declares must be granted, and every grant used. */
static int check_grants(const struct capsa_mft *mft, const struct capsa_uk_setup *s,
                        struct capsa_uk_device **match, struct capsa_err *err)
{
    bool used[CAPSA_UK_MAX_DEVICES] = {false};
    for (uint32_t i = 1; i < mft->entries; i++) {
        const struct capsa_mft_entry *e = &mft->e[i];
        bool want_net = e->type == CAPSA_MFT_DEV_NET_BASIC;
        size_t j = 0;
        while (j < s->n_dev && !(s->dev[j].net == want_net && strcmp(s->dev[j].name, e->name) == 0))
            j++;
        if (j == s->n_dev)
            return capsa_err_setx(err, ENODEV,
                                  "the unikernel declares %s device \"%s\", not granted: add "
                                  "the annotation capsa.unikernel.%s.%s",
                                  want_net ? "net" : "block", e->name, want_net ? "net" : "block",
                                  e->name);
        used[j] = true;
        if (match)
            match[i] = (struct capsa_uk_device *)&s->dev[j];
    }
    for (size_t j = 0; j < s->n_dev; j++)
        if (!used[j])
            return capsa_err_setx(err, EINVAL,
                                  "annotations: device \"%s\" is granted but the unikernel does "
                                  "not declare it",
                                  s->dev[j].name);
    return 0;
}

int capsa_uk_validate(const char *image_path, const struct capsa_uk_setup *s, struct capsa_err *err)
{
    const uint8_t *file;
    size_t len;
    struct capsa_uk_image img;
    int r = map_image(image_path, s, &file, &len, &img, err);
    if (r < 0)
        return r;
    /* The manifest may sit unaligned in the file: check an aligned copy. */
    union {
        struct capsa_mft m;
        unsigned char
            b[sizeof(struct capsa_mft) + CAPSA_MFT_MAX_ENTRIES * sizeof(struct capsa_mft_entry)];
    } copy;
    if (img.mft_size > sizeof copy.b) {
        munmap((void *)file, len);
        return capsa_err_setx(err, E2BIG, "unikernel manifest too large");
    }
    memcpy(copy.b, file + img.mft_offset, img.mft_size);
    munmap((void *)file, len);
    return check_grants(&copy.m, s, NULL, err);
}

int capsa_uk_exec(const char *image_path, char *const argv[], struct capsa_uk_setup *s,
                  struct capsa_err *err)
{
    const uint8_t *file;
    size_t len;
    struct capsa_uk_image img;
    int r = map_image(image_path, s, &file, &len, &img, err);
    if (r < 0)
        return r;

    /* Guest memory: [HOST_MEM_BASE, mem_size) at those very addresses (the
     * guest is linked for them); our own static PIE lives far above. */
    uint64_t base = CAPSA_SPT_HOST_MEM_BASE;
    void *mem = mmap((void *)(uintptr_t)base, s->mem_size - base, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED || (uintptr_t)mem != base) {
        int e = mem == MAP_FAILED ? errno : EEXIST;
        munmap((void *)file, len);
        return capsa_err_set(err, e, "map %llu MiB of guest memory",
                             (unsigned long long)(s->mem_size >> 20));
    }
    capsa_uk_elf_copy(file, &img, mem, base);

    /* Boot info, manifest (with our fds), command line. */
    uintptr_t pos = CAPSA_SPT_BOOT_INFO_BASE;
    struct capsa_spt_boot_info *bi = (struct capsa_spt_boot_info *)pos;
    pos += sizeof *bi;
    pos = (pos + 7) & ~(uintptr_t)7;
    if (pos + img.mft_size + CAPSA_SPT_CMDLINE_SIZE > CAPSA_SPT_GUEST_MIN_BASE) {
        munmap((void *)file, len);
        return capsa_err_setx(err, E2BIG, "unikernel manifest too large");
    }
    struct capsa_mft *mft = (struct capsa_mft *)pos;
    memcpy(mft, file + img.mft_offset, img.mft_size);
    munmap((void *)file, len);
    pos += img.mft_size;
    char *cmdline = (char *)pos;
    size_t used = 0;
    for (size_t i = 1; argv[i] != NULL; i++) {
        size_t l = strlen(argv[i]);
        if (used + l + 2 > CAPSA_SPT_CMDLINE_SIZE)
            return capsa_err_setx(err, E2BIG,
                                  "process.args: the unikernel command line is "
                                  "longer than %d bytes",
                                  CAPSA_SPT_CMDLINE_SIZE - 1);
        if (used > 0)
            cmdline[used++] = ' ';
        memcpy(cmdline + used, argv[i], l);
        used += l;
    }
    cmdline[used] = '\0';

    int epollfd = epoll_create1(0);
    int timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    if (epollfd < 0 || timerfd < 0)
        return capsa_err_set(err, errno, "epoll/timerfd for the unikernel");
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = CAPSA_SPT_INTERNAL_TIMERFD};
    if (epoll_ctl(epollfd, EPOLL_CTL_ADD, timerfd, &ev) < 0)
        return capsa_err_set(err, errno, "epoll_ctl");

    /* Attach every device the guest declares; all must be granted. */
    struct capsa_uk_device *match[CAPSA_MFT_MAX_ENTRIES] = {NULL};
    r = check_grants(mft, s, match, err);
    if (r < 0)
        return r;
    for (uint32_t i = 1; i < mft->entries; i++) {
        struct capsa_mft_entry *e = &mft->e[i];
        bool want_net = e->type == CAPSA_MFT_DEV_NET_BASIC;
        struct capsa_uk_device *d = match[i];
        if (d == NULL) /* check_grants matched every entry; keep the invariant checked */
            return capsa_err_setx(err, ENODEV, "unikernel device \"%s\" not granted", e->name);
        e->b.hostfd = d->fd;
        e->attached = 1;
        if (want_net) {
            memcpy(e->u.net_basic.mac, d->mac, sizeof d->mac);
            e->u.net_basic.mtu = d->mtu;
            struct epoll_event nev = {.events = EPOLLIN, .data.u64 = i};
            if (epoll_ctl(epollfd, EPOLL_CTL_ADD, d->fd, &nev) < 0)
                return capsa_err_set(err, errno, "epoll_ctl");
        } else {
            e->u.block_basic.capacity = d->capacity;
            e->u.block_basic.block_size = (uint16_t)d->sector;
        }
    }
    bi->mem_size = s->mem_size;
    bi->kernel_end = img.kernel_end;
    bi->cmdline = cmdline;
    bi->mft = mft;
    bi->epollfd = epollfd;
    bi->timerfd = timerfd;

    /* Image protections (W^X was checked by the loader); the rest stays RW. */
    for (size_t i = 0; i < img.n_segments; i++) {
        const struct capsa_uk_segment *g = &img.seg[i];
        if (mprotect((void *)(uintptr_t)g->vaddr, g->memsz, g->prot) < 0)
            return capsa_err_set(err, errno, "mprotect the unikernel image");
    }

    /* 16 KiB: on the stack, where it is gone with the tender's frames. */
    struct capsa_uk_filter b;
    r = capsa_uk_filter_build(&b, s, epollfd, timerfd);
    if (r < 0)
        return capsa_err_setx(err, -r, "build the unikernel seccomp filter");
    int keep[CAPSA_UK_MAX_DEVICES + 3];
    size_t nk = 0;
    keep[nk++] = 1;
    keep[nk++] = epollfd;
    keep[nk++] = timerfd;
    for (size_t j = 0; j < s->n_dev; j++)
        keep[nk++] = s->dev[j].fd;
    r = close_others(keep, nk);
    if (r < 0)
        return capsa_err_set(err, -r, "close_range");
    r = capsa_uk_fault_install(err);
    if (r < 0)
        return r;
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return capsa_err_set(err, errno, "no_new_privs");
    struct sock_fprog prog = {.len = (unsigned short)b.n, .filter = b.insn};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        return capsa_err_set(err, errno, "load the unikernel seccomp filter");
    /* From here on: no allocation, no system call but the guest's own. */
    launch(s->mem_size - 8, img.entry, (uint64_t)(uintptr_t)bi);
}
