/* tender.c - the unikernel tender (see tender.h): device setup in the
 * container init, then image load, guest memory, boot info, fd cleanup,
 * seccomp and the jump. After the filter is loaded nothing allocates or makes
 * a system call but the jump itself. */
#include "uk/tender.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "sys/sys.h"
#include "uk/elf.h"
#include "uk/spt_abi.h"
#include "util/util.h"

#define ANN_MEM       "capsa.unikernel.mem"
#define ANN_BLOCK     "capsa.unikernel.block."
#define ANN_NET       "capsa.unikernel.net."
#define MAX_IMAGE     ((size_t)64 << 20)
#define UK_BLOCK_SIZE 512

#ifndef ARCH_SET_FS
#define ARCH_SET_FS 0x1002
#endif

static const char *annotation(const struct capsa_spec *spec, const char *key)
{
    for (size_t i = 0; i < spec->n_annotations; i++)
        if (strcmp(spec->annotations[i].key, key) == 0)
            return spec->annotations[i].value;
    return NULL;
}

int capsa_uk_wanted(const struct capsa_spec *spec, bool *yes, struct capsa_err *err)
{
    const char *v = annotation(spec, CAPSA_UK_ANNOTATION);
    *yes = false;
    if (v == NULL || strcmp(v, "native") == 0)
        return 0;
    if (strcmp(v, "unikernel") == 0) {
        *yes = true;
        return 0;
    }
    return capsa_err_setx(err, EINVAL,
                          "annotations." CAPSA_UK_ANNOTATION ": unknown isolation level \"%s\" "
                          "(native or unikernel)",
                          v);
}

static int mem_size(const struct capsa_spec *spec, uint64_t *out, struct capsa_err *err)
{
    const char *v = annotation(spec, ANN_MEM);
    int64_t mib = 64;
    if (v != NULL && (capsa_parse_int64(v, 2, 4096, &mib) < 0))
        return capsa_err_setx(err, EINVAL,
                              "annotations." ANN_MEM ": \"%s\" is not a size in MiB (2..4096)", v);
    *out = (uint64_t)mib << 20;
    return 0;
}

static bool valid_name(const char *n)
{
    size_t len = strlen(n);
    if (len == 0 || len > CAPSA_MFT_NAME_MAX)
        return false;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

int capsa_uk_check(const struct capsa_spec *spec, struct capsa_err *err)
{
    uint64_t m;
    int r = mem_size(spec, &m, err);
    if (r < 0)
        return r;
    size_t n = 0;
    for (size_t i = 0; i < spec->n_annotations; i++) {
        const char *k = spec->annotations[i].key;
        const char *name = NULL;
        if (strncmp(k, ANN_BLOCK, strlen(ANN_BLOCK)) == 0)
            name = k + strlen(ANN_BLOCK);
        else if (strncmp(k, ANN_NET, strlen(ANN_NET)) == 0)
            name = k + strlen(ANN_NET);
        else
            continue;
        if (!valid_name(name))
            return capsa_err_setx(err, EINVAL,
                                  "annotations.%s: a device name is 1-%d characters of "
                                  "[A-Za-z0-9_-]",
                                  k, CAPSA_MFT_NAME_MAX);
        const char *v = spec->annotations[i].value;
        bool net = k[strlen("capsa.unikernel.")] == 'n';
        if (net ? (strlen(v) == 0 || strlen(v) >= IFNAMSIZ || strchr(v, '/') != NULL) : v[0] != '/')
            return capsa_err_setx(err, EINVAL, "annotations.%s: \"%s\" is not %s", k, v,
                                  net ? "an interface name" : "an absolute path");
        if (++n > CAPSA_UK_MAX_DEVICES)
            return capsa_err_setx(err, EINVAL, "annotations: more than %d unikernel devices",
                                  CAPSA_UK_MAX_DEVICES);
    }
    if (spec->process == NULL || spec->process->args == NULL || spec->process->args[0] == NULL)
        return capsa_err_setx(err, EINVAL, "process.args: the unikernel image is required");
    return 0;
}

/* path inside our root ("/" after pivot_root), no symlink out, no magic link. */
static int open_in_root(const char *path, int flags, struct capsa_err *err)
{
    cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (root < 0)
        return capsa_err_set(err, errno, "open /");
    int fd = capsa_open_in_root(root, path, flags | O_NOCTTY);
    if (fd < 0)
        return capsa_err_set(err, -fd, "open %s", path);
    return fd;
}

static int open_tap(const char *ifname, struct capsa_err *err)
{
    int fd = open_in_root("/dev/net/tun", O_RDWR | O_NONBLOCK, err);
    if (fd < 0)
        return capsa_err_wrap(err, "a net device needs /dev/net/tun in linux.devices");
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode)) {
        close(fd);
        return capsa_err_setx(err, ENODEV, "/dev/net/tun is not the tun device");
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", ifname);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        close(fd);
        return capsa_err_set(err, e, "create TAP device %s", ifname);
    }
    return fd;
}

int capsa_uk_open_devices(const struct capsa_spec *spec, struct capsa_uk_setup *s,
                          struct capsa_err *err)
{
    memset(s, 0, sizeof *s);
    int r = capsa_uk_check(spec, err);
    if (r == 0)
        r = mem_size(spec, &s->mem_size, err);
    if (r < 0)
        return r;
    for (size_t i = 0; i < spec->n_annotations; i++) {
        const char *k = spec->annotations[i].key;
        const char *v = spec->annotations[i].value;
        bool block = strncmp(k, ANN_BLOCK, strlen(ANN_BLOCK)) == 0;
        bool net = strncmp(k, ANN_NET, strlen(ANN_NET)) == 0;
        if (!block && !net)
            continue;
        struct capsa_uk_device *d = &s->dev[s->n_dev];
        d->name = k + strlen(block ? ANN_BLOCK : ANN_NET);
        d->net = net;
        if (block) {
            d->fd = open_in_root(v, O_RDWR, err);
            struct stat st;
            if (d->fd >= 0 && (fstat(d->fd, &st) < 0 || !S_ISREG(st.st_mode))) {
                close(d->fd);
                d->fd = capsa_err_setx(err, EINVAL, "%s is not a regular file", v);
            }
            if (d->fd >= 0) {
                /* Whole blocks only, as Solo5 exposes them. */
                d->capacity = (uint64_t)st.st_size / UK_BLOCK_SIZE * UK_BLOCK_SIZE;
            }
        } else {
            d->fd = open_tap(v, err);
            if (d->fd >= 0 && getrandom(d->mac, sizeof d->mac, 0) != (ssize_t)sizeof d->mac) {
                close(d->fd);
                d->fd = capsa_err_set(err, errno, "getrandom");
            }
            d->mac[0] = (uint8_t)((d->mac[0] & 0xfe) | 0x02); /* unicast, locally administered */
        }
        if (d->fd < 0) {
            r = capsa_err_wrap(err, "annotations.%s", k);
            for (size_t j = 0; j < s->n_dev; j++)
                close(s->dev[j].fd);
            s->n_dev = 0;
            return r;
        }
        s->n_dev++;
    }
    return 0;
}

/* ---- the seccomp filter, built on the stack (no allocation) ---- */

#define MAX_INSNS 192

struct bpf {
    struct sock_filter f[MAX_INSNS];
    unsigned n;
    bool overflow;
};

static void emit(struct bpf *b, uint16_t code, uint32_t k, uint8_t jt, uint8_t jf)
{
    if (b->n == MAX_INSNS) {
        b->overflow = true;
        return;
    }
    b->f[b->n++] = (struct sock_filter){.code = code, .jt = jt, .jf = jf, .k = k};
}

#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(uint64_t))
#define ARG_HI(i) (ARG_LO(i) + sizeof(uint32_t))

/* One syscall: allowed unconditionally (nvals == 0 and !pinned), or only
 * when its first argument is one of vals[] (upper half zero). The
 * accumulator holds the syscall number on entry and on fallthrough. */
static void allow(struct bpf *b, uint32_t nr, bool pinned, const uint32_t *vals, unsigned nvals)
{
    if (!pinned) {
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1);
        emit(b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
        return;
    }
    unsigned len = nvals + 6;
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, nr, 0, (uint8_t)(len - 1));
    emit(b, BPF_LD | BPF_W | BPF_ABS, ARG_HI(0), 0, 0);
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, (uint8_t)(nvals + 1));
    emit(b, BPF_LD | BPF_W | BPF_ABS, ARG_LO(0), 0, 0);
    for (unsigned i = 0; i < nvals; i++)
        emit(b, BPF_JMP | BPF_JEQ | BPF_K, vals[i], (uint8_t)(nvals - i), 0);
    emit(b, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
    emit(b, BPF_RET | BPF_K, SECCOMP_RET_ALLOW, 0, 0);
}

static int build_filter(struct bpf *b, const struct capsa_uk_setup *s, int epollfd, int timerfd)
{
    uint32_t blocks[CAPSA_UK_MAX_DEVICES], nets[CAPSA_UK_MAX_DEVICES + 1];
    unsigned nb = 0, nn = 0;
    nets[nn++] = 1; /* the console, for write() only: added first */
    for (size_t i = 0; i < s->n_dev; i++) {
        if (s->dev[i].net)
            nets[nn++] = (uint32_t)s->dev[i].fd;
        else
            blocks[nb++] = (uint32_t)s->dev[i].fd;
    }
    b->n = 0;
    b->overflow = false;
    emit(b, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch), 0, 0);
    emit(b, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    emit(b, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
    emit(b, BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr), 0, 0);
    /* x32 system calls (bit 30) are other numbers for the same calls. */
    emit(b, BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);
    emit(b, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
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
    if (nb > 0) {
        allow(b, SYS_pread64, true, blocks, nb);
        allow(b, SYS_pwrite64, true, blocks, nb);
    }
    emit(b, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS, 0, 0);
    return b->overflow ? -E2BIG : 0;
}

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
    cleanup_close int ifd = open_in_root(image_path, O_RDONLY, err);
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
            e->u.net_basic.mtu = 1500;
            struct epoll_event nev = {.events = EPOLLIN, .data.u64 = i};
            if (epoll_ctl(epollfd, EPOLL_CTL_ADD, d->fd, &nev) < 0)
                return capsa_err_set(err, errno, "epoll_ctl");
        } else {
            e->u.block_basic.capacity = d->capacity;
            e->u.block_basic.block_size = UK_BLOCK_SIZE;
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

    struct bpf b;
    if (build_filter(&b, s, epollfd, timerfd) < 0)
        return capsa_err_setx(err, E2BIG, "unikernel seccomp filter too large");
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
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return capsa_err_set(err, errno, "no_new_privs");
    struct sock_fprog prog = {.len = (unsigned short)b.n, .filter = b.f};
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        return capsa_err_set(err, errno, "load the unikernel seccomp filter");
    /* From here on: no allocation, no system call but the guest's own. */
    launch(s->mem_size - 8, img.entry, (uint64_t)(uintptr_t)bi);
}
