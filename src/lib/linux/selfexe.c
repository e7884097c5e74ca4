/* selfexe.c - see selfexe.h.
 *
 * Why: the runtime protects its binary (CVE-2019-5736) by running from a
 * detached read-only bind mount of it. Re-executing from that mount costs a
 * whole execve, a second start of the C library and a second round of page
 * faults for the new image: about 15 % of a `run` on a VM with shadow paging
 * (docs/performance.md). Rebinding the running image to the same file on the
 * read-only mount gives the same end state - /proc/<pid>/exe, every
 * file-backed mapping, and hence whatever the container could reach through
 * /proc/<pid>/exe, /proc/<pid>/map_files or an execve of /proc/self/exe, is
 * the file on the read-only mount - for a few system calls. */
#include "linux/selfexe.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/util.h"

#define MAX_SEGS 8

struct seg {
    uintptr_t start, end; /* page-aligned range of the file-backed mapping */
    off_t off;            /* page-aligned file offset */
    int prot;
    bool writable;
};

struct image {
    struct seg segs[MAX_SEGS];
    size_t n;
    uintptr_t relro_start, relro_end; /* page-aligned as the loader protects it; 0 if none */
    bool bad;                         /* too many segments, overlapping pages */
};

/* dl_iterate_phdr reports the main program first; stop there. */
static int collect(struct dl_phdr_info *info, size_t size, void *data)
{
    struct image *im = data;
    uintptr_t pg = (uintptr_t)getauxval(AT_PAGESZ);
    (void)size;
    if (pg == 0)
        pg = 4096;
    for (size_t i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_GNU_RELRO) {
            uintptr_t a = info->dlpi_addr + ph->p_vaddr;
            im->relro_start = a & ~(pg - 1);
            im->relro_end = (a + ph->p_memsz) & ~(pg - 1); /* rounded down, as the loader does */
            continue;
        }
        if (ph->p_type != PT_LOAD || ph->p_filesz == 0)
            continue;
        if (im->n == MAX_SEGS) {
            im->bad = true;
            return 1;
        }
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        struct seg *s = &im->segs[im->n++];
        s->start = a & ~(pg - 1);
        s->end = (a + ph->p_filesz + pg - 1) & ~(pg - 1);
        s->off = (off_t)(ph->p_offset & ~(pg - 1));
        s->prot = ((ph->p_flags & PF_R) ? PROT_READ : 0) | ((ph->p_flags & PF_W) ? PROT_WRITE : 0) |
                  ((ph->p_flags & PF_X) ? PROT_EXEC : 0);
        s->writable = (ph->p_flags & PF_W) != 0;
        /* Two segments sharing a page cannot be moved one by one. */
        if (im->n > 1 && s->start < im->segs[im->n - 2].end)
            im->bad = true;
    }
    return 1;
}

/* Replace the writable mapping [s->start, s->end) by anonymous memory holding
 * the same bytes. Nothing in that range may be written between the copy and
 * the mremap: only the stack and registers are used in between, and signals
 * are blocked so that no handler can write a global meanwhile. */
static int move_to_anon(const struct seg *s)
{
    size_t len = s->end - s->start;
    void *tmp =
        mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (tmp == MAP_FAILED)
        return -errno;
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    memcpy(tmp, (const void *)s->start, len);
    void *r = mremap(tmp, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)s->start);
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (r == MAP_FAILED) {
        munmap(tmp, len);
        return -e;
    }
    return 0;
}

/* PR_SET_MM_MAP sets every field of the memory descriptor it carries: fill
 * it with the current ones (/proc/self/stat fields 26-28 and 45-51; brk is
 * read again just before the call), so that only exe_fd changes. */
static int read_mm_map(struct prctl_mm_map *map)
{
    cleanup_close int sfd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (sfd < 0)
        return -errno;
    char buf[1024];
    ssize_t n = read(sfd, buf, sizeof buf - 1);
    if (n <= 0)
        return n < 0 ? -errno : -EIO;
    buf[n] = '\0';
    /* comm (field 2) may hold anything: count the fields after its last ')'. */
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return -EIO;
    unsigned long long v[52] = {0};
    int field = 3;
    for (p++; *p != '\0' && field <= 51;) {
        while (*p == ' ')
            p++;
        if (*p == '\0')
            break;
        char *end;
        v[field] = strtoull(p, &end, 10);
        if (end == p) /* the state letter (field 3) */
            end = p + 1;
        p = end;
        field++;
    }
    if (field <= 51)
        return -EIO;
    *map = (struct prctl_mm_map){
        .start_code = v[26],
        .end_code = v[27],
        .start_stack = v[28],
        .start_data = v[45],
        .end_data = v[46],
        .start_brk = v[47],
        .arg_start = v[48],
        .arg_end = v[49],
        .env_start = v[50],
        .env_end = v[51],
    };
    return 0;
}

/* PR_SET_MM_EXE_FILE needs CAP_SYS_RESOURCE; PR_SET_MM_MAP (kernels with
 * CONFIG_CHECKPOINT_RESTORE, as Debian's) CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE. Both refuse with EBUSY while a mapping still
 * refers to the old file, after the permission checks: that is the probe. */
static int set_exe(int fd, struct prctl_mm_map *map)
{
    if (map == NULL)
        return prctl(PR_SET_MM, PR_SET_MM_EXE_FILE, (unsigned long)fd, 0UL, 0UL) < 0 ? -errno : 0;
    map->brk = (uint64_t)syscall(SYS_brk, 0UL);
    map->exe_fd = (uint32_t)fd;
    return prctl(PR_SET_MM, PR_SET_MM_MAP, (unsigned long)map, sizeof *map, 0UL) < 0 ? -errno : 0;
}

int capsa_selfexe_rebind(int tree_fd, struct capsa_err *err)
{
#if defined(__SANITIZE_ADDRESS__)
    /* The copy of the writable segment reads across the redzones ASan puts
     * between globals: the sanitizer builds keep the re-execution. */
    (void)tree_fd;
    return capsa_err_setx(err, ENOTSUP, "self-protection: not rebound in a sanitizer build");
#endif
    struct image im = {0};
    dl_iterate_phdr(collect, &im);
    if (im.bad || im.n == 0)
        return capsa_err_setx(err, ENOTSUP, "self-protection: unexpected program headers");

    /* The tree fd is O_PATH: mmap and the prctls need an open file, on the
     * same (read-only, detached) mount. */
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", tree_fd);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return capsa_err_set(err, errno, "self-protection: reopen the read-only binary");

    /* Which prctl we may use, before touching any mapping. */
    struct prctl_mm_map map_buf;
    struct prctl_mm_map *map = NULL;
    int r = set_exe(fd, NULL);
    if (r == -EPERM) {
        if ((r = read_mm_map(&map_buf)) < 0)
            return capsa_err_set(err, -r, "self-protection: read /proc/self/stat");
        map = &map_buf;
        r = set_exe(fd, map);
    }
    if (r != -EBUSY && r != 0)
        return capsa_err_set(err, -r, "self-protection: set the executable file");

    for (size_t i = 0; i < im.n; i++) {
        const struct seg *s = &im.segs[i];
        if (s->writable) {
            r = move_to_anon(s);
            if (r < 0)
                return capsa_err_set(err, -r, "self-protection: move the writable segment");
            continue;
        }
        void *a =
            mmap((void *)s->start, s->end - s->start, s->prot, MAP_PRIVATE | MAP_FIXED, fd, s->off);
        if (a == MAP_FAILED)
            return capsa_err_set(err, errno, "self-protection: map a segment again");
    }
    if (im.relro_end > im.relro_start &&
        mprotect((void *)im.relro_start, im.relro_end - im.relro_start, PROT_READ) < 0)
        return capsa_err_set(err, errno, "self-protection: make RELRO read-only again");
    if ((r = set_exe(fd, map)) < 0)
        return capsa_err_set(err, -r, "self-protection: set the executable file");
    return 0;
}
