/* elf.c - validating a Solo5 spt unikernel ELF image and its manifest.
 *
 * The image comes from the container's rootfs, so it is as untrusted as
 * anything the container holds: a crafted header must not make the tender
 * read outside the file, write outside guest memory, map a page both
 * writable and executable, or wrap an address around. Every field is copied
 * out of the file with memcpy (the file need not be aligned) and every sum
 * or product of file fields goes through __builtin_*_overflow. The result is
 * a plain description (struct capsa_uk_image) that the tender maps and
 * copies without further checks. */
#include <elf.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "level/unikernel/elf.h"
#include "level/unikernel/spt_abi.h"
#include "util/err.h"

/* Fields are read in host byte order, and only little-endian images are
 * accepted: the tender runs x86-64 guests on an x86-64 host. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the unikernel loader assumes a little-endian host");

#define UK_PAGE_SIZE    0x1000ULL
#define UK_MAX_PHNUM    64
#define UK_NHDR_SIZE    12 /* n_namesz, n_descsz, n_type */
#define UK_SOLO5_NAME   "Solo5"
#define UK_SOLO5_NAMESZ 6

/* Every rejection is ENOEXEC ("Exec format error"), without strerror
 * appended: the message says what is wrong. */
#define fail(err, ...) capsa_err_setx((err), ENOEXEC, __VA_ARGS__)

/* x rounded up to a multiple of the power of two a; false on overflow. */
static int align_up(uint64_t x, uint64_t a, uint64_t *out)
{
    uint64_t t;
    if (__builtin_add_overflow(x, a - 1, &t))
        return 0;
    *out = t & ~(a - 1);
    return 1;
}

static uint32_t rd32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* ---- manifest ---- */

/* A copy of a (NUL-terminated, short) guest-chosen name fit for an error
 * message: the CLI prints it to a terminal, so no control characters. */
static void printable(char out[CAPSA_MFT_NAME_SIZE], const char *name)
{
    size_t i = 0;
    for (; i < CAPSA_MFT_NAME_SIZE - 1 && name[i] != '\0'; i++) {
        unsigned char c = (unsigned char)name[i];
        out[i] = name[i];
        if (c < 0x20 || c >= 0x7f)
            out[i] = '?';
    }
    out[i] = '\0';
}

int capsa_uk_mft_validate(const void *mft, size_t size, struct capsa_err *err)
{
    const uint8_t *p = mft;
    struct capsa_mft hdr;
    if (size < sizeof(hdr))
        return fail(err, "manifest: %zu bytes, smaller than its %zu-byte header", size,
                    sizeof(hdr));
    memcpy(&hdr, p, sizeof(hdr));
    if (hdr.version != CAPSA_MFT_VERSION)
        return fail(err, "manifest: version %u, this tender implements version %d", hdr.version,
                    CAPSA_MFT_VERSION);
    if (hdr.entries < 1 || hdr.entries > CAPSA_MFT_MAX_ENTRIES)
        return fail(err, "manifest: %u entries, must be between 1 and %d", hdr.entries,
                    CAPSA_MFT_MAX_ENTRIES);
    /* entries <= 64, so this cannot overflow; the size must match exactly so
     * that the tender's copy into boot memory covers exactly what the guest
     * will read. */
    size_t want = sizeof(hdr) + (size_t)hdr.entries * sizeof(struct capsa_mft_entry);
    if (size != want)
        return fail(err, "manifest: %zu bytes, but %u entries need exactly %zu", size, hdr.entries,
                    want);

    const uint8_t *ents = p + sizeof(hdr);
    for (uint32_t i = 0; i < hdr.entries; i++) {
        const uint8_t *e = ents + (size_t)i * sizeof(struct capsa_mft_entry);
        const char *name = (const char *)e + offsetof(struct capsa_mft_entry, name);
        size_t nlen = strnlen(name, CAPSA_MFT_NAME_SIZE);
        if (nlen == CAPSA_MFT_NAME_SIZE)
            return fail(err, "manifest: entry %u: name not NUL-terminated within %d bytes", i,
                        CAPSA_MFT_NAME_SIZE);
        char shown[CAPSA_MFT_NAME_SIZE];
        printable(shown, name);
        uint32_t type = rd32(e + offsetof(struct capsa_mft_entry, type));
        uint8_t attached = e[offsetof(struct capsa_mft_entry, attached)];
        if (i == 0) {
            if (type != CAPSA_MFT_RESERVED_FIRST || nlen != 0)
                return fail(err,
                            "manifest: entry 0 must be the reserved first entry (type 0x%x, "
                            "empty name), found type 0x%x name \"%s\"",
                            (unsigned)CAPSA_MFT_RESERVED_FIRST, type, shown);
        } else {
            if (nlen == 0)
                return fail(err, "manifest: entry %u: empty device name", i);
            if (type != CAPSA_MFT_DEV_BLOCK_BASIC && type != CAPSA_MFT_DEV_NET_BASIC)
                return fail(err, "manifest: device \"%s\" (entry %u): unknown type %u", shown, i,
                            type);
            for (uint32_t j = 1; j < i; j++) {
                const char *other = (const char *)ents + (size_t)j * sizeof(struct capsa_mft_entry);
                if (strcmp(other, name) == 0)
                    return fail(err,
                                "manifest: device name \"%s\" appears twice (entries %u and %u)",
                                shown, j, i);
            }
        }
        /* attached is the tender's answer; a guest that claims a device is
         * already attached is malformed (or trying to confuse the tender). */
        if (attached != 0)
            return fail(err, "manifest: entry %u (\"%s\"): attached is set in the image", i, shown);
    }
    return 0;
}

/* ---- notes ---- */

struct note_state {
    int have_abi, have_mft;
    size_t mft_offset, mft_size;
};

static int check_abi1(const uint8_t *desc, uint64_t size, struct capsa_err *err)
{
    struct capsa_abi1_info abi;
    if (size != sizeof(abi))
        return fail(err, "Solo5 ABI1 note: descriptor is %llu bytes, expected %zu",
                    (unsigned long long)size, sizeof(abi));
    memcpy(&abi, desc, sizeof(abi));
    switch (abi.abi_target) {
    case CAPSA_ABI_TARGET_SPT:
        break;
    case CAPSA_ABI_TARGET_HVT:
        return fail(err, "unikernel was built for solo5-hvt, not spt (rebuild it with the spt "
                         "target)");
    default:
        return fail(err, "unikernel was built for unknown Solo5 target %u, not spt",
                    abi.abi_target);
    }
    if (abi.abi_version != CAPSA_SPT_ABI_VERSION)
        return fail(err,
                    "unikernel was built for Solo5 spt ABI version %u, this tender implements "
                    "version %d",
                    abi.abi_version, CAPSA_SPT_ABI_VERSION);
    return 0;
}

/* One note at file[off..off+size): Solo5 notes have a descriptor that starts
 * at its natural alignment after the 20-byte header, the padding counted in
 * n_descsz. Other notes (GNU build-id ...) are skipped. */
static int solo5_note(const uint8_t *file, uint64_t off, uint32_t type, uint64_t descsz,
                      struct note_state *st, struct capsa_err *err)
{
    uint64_t pad;
    if (type == CAPSA_NOTE_TYPE_ABI1)
        pad = 0; /* CAPSA_NOTE_HDR_SIZE is already 4-aligned */
    else if (type == CAPSA_NOTE_TYPE_MFT1)
        pad = CAPSA_NOTE_MFT_ALIGN - CAPSA_NOTE_HDR_SIZE % CAPSA_NOTE_MFT_ALIGN;
    else
        return 0; /* a Solo5 note this tender does not know: not ours to judge */
    if (descsz < pad)
        return fail(err, "Solo5 %s note: descriptor too small (%llu bytes)",
                    type == CAPSA_NOTE_TYPE_MFT1 ? "manifest" : "ABI1", (unsigned long long)descsz);
    /* The caller checked that the descriptor lies within the file. */
    uint64_t doff = off + CAPSA_NOTE_HDR_SIZE + pad;
    uint64_t dsize = descsz - pad;
    if (type == CAPSA_NOTE_TYPE_ABI1) {
        if (st->have_abi)
            return fail(err, "more than one Solo5 ABI1 note");
        st->have_abi = 1;
        return check_abi1(file + doff, dsize, err);
    }
    if (st->have_mft)
        return fail(err, "more than one Solo5 manifest (MFT1) note");
    st->have_mft = 1;
    int r = capsa_uk_mft_validate(file + doff, (size_t)dsize, err);
    if (r < 0)
        return r;
    st->mft_offset = (size_t)doff;
    st->mft_size = (size_t)dsize;
    return 0;
}

/* Walk the notes of a PT_NOTE segment at file[off..off+size) (inside the
 * file, checked by the caller). A name is padded to 4 bytes; the next note
 * starts 4-byte aligned, or 8-byte aligned in a segment with p_align 8 (as
 * readelf reads them). Solo5 pads its 8-aligned manifest inside n_descsz
 * rather than padding the name to 8, so with 4-byte name padding both its
 * notes and ordinary GNU notes walk correctly. */
static int walk_notes(const uint8_t *file, uint64_t off, uint64_t size, uint64_t align,
                      unsigned idx, struct note_state *st, struct capsa_err *err)
{
    uint64_t pos = 0;
    while (pos < size) {
        uint64_t left = size - pos;
        if (left < UK_NHDR_SIZE)
            return fail(err, "program header %u: PT_NOTE: truncated note header at offset %llu",
                        idx, (unsigned long long)pos);
        const uint8_t *n = file + off + pos;
        uint32_t namesz = rd32(n), descsz = rd32(n + 4), type = rd32(n + 8);
        uint64_t name_end, desc_start, desc_end, next;
        /* namesz and descsz are 32-bit and pos < size <= file length, so only
         * the alignment could overflow; check everything anyway. */
        if (__builtin_add_overflow(pos, (uint64_t)UK_NHDR_SIZE + namesz, &name_end) ||
            !align_up(name_end, 4, &desc_start) ||
            __builtin_add_overflow(desc_start, (uint64_t)descsz, &desc_end) || desc_end > size)
            return fail(err,
                        "program header %u: PT_NOTE: note at offset %llu (namesz %u, descsz %u) "
                        "runs past the end of the segment",
                        idx, (unsigned long long)pos, namesz, descsz);
        if (namesz == UK_SOLO5_NAMESZ && memcmp(n + UK_NHDR_SIZE, UK_SOLO5_NAME, 6) == 0) {
            int r = solo5_note(file, off + pos, type, descsz, st, err);
            if (r < 0)
                return r;
        }
        if (!align_up(desc_end, align, &next))
            return fail(err, "program header %u: PT_NOTE: note size overflows", idx);
        pos = next;
    }
    return 0;
}

/* ---- the image ---- */

static int check_ehdr(const Elf64_Ehdr *eh, size_t len, struct capsa_err *err)
{
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
        return fail(err, "not an ELF file (bad magic)");
    if (eh->e_ident[EI_CLASS] != ELFCLASS64)
        return fail(err, "not a 64-bit ELF file (class %u)", eh->e_ident[EI_CLASS]);
    if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
        return fail(err, "not a little-endian ELF file (data encoding %u)", eh->e_ident[EI_DATA]);
    if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
        return fail(err, "unsupported ELF version %u", (unsigned)eh->e_version);
    if (eh->e_type == ET_DYN)
        return fail(err, "ELF type ET_DYN (position-independent or shared): a unikernel must be "
                         "a static ET_EXEC executable");
    if (eh->e_type != ET_EXEC)
        return fail(err, "ELF type %u is not an executable (ET_EXEC)", eh->e_type);
    if (eh->e_machine != EM_X86_64)
        return fail(err, "ELF machine %u is not x86-64 (EM_X86_64)", eh->e_machine);
    if (eh->e_phentsize != sizeof(Elf64_Phdr))
        return fail(err, "program header size e_phentsize %u, expected %zu", eh->e_phentsize,
                    sizeof(Elf64_Phdr));
    if (eh->e_phnum == 0)
        return fail(err, "no program headers (e_phnum 0)");
    if (eh->e_phnum > UK_MAX_PHNUM)
        return fail(err, "too many program headers (e_phnum %u, at most %d)", eh->e_phnum,
                    UK_MAX_PHNUM);
    uint64_t tab, end;
    if (__builtin_mul_overflow((uint64_t)eh->e_phnum, (uint64_t)eh->e_phentsize, &tab) ||
        __builtin_add_overflow(eh->e_phoff, tab, &end) || end > len)
        return fail(err,
                    "program headers (e_phoff %llu, %u entries) lie outside the file (%zu bytes)",
                    (unsigned long long)eh->e_phoff, eh->e_phnum, len);
    return 0;
}

static int load_segment(const Elf64_Phdr *ph, unsigned idx, size_t len, uint64_t mem_size,
                        struct capsa_uk_image *img, struct capsa_err *err)
{
    uint64_t fend, vend, astart, aend;
    if (ph->p_filesz > ph->p_memsz)
        return fail(err, "program header %u: PT_LOAD p_filesz %llu > p_memsz %llu", idx,
                    (unsigned long long)ph->p_filesz, (unsigned long long)ph->p_memsz);
    if (__builtin_add_overflow(ph->p_offset, ph->p_filesz, &fend) || fend > len)
        return fail(err,
                    "program header %u: PT_LOAD file range (p_offset %llu, p_filesz %llu) lies "
                    "outside the file (%zu bytes)",
                    idx, (unsigned long long)ph->p_offset, (unsigned long long)ph->p_filesz, len);
    if (ph->p_align > 1 && (ph->p_align & (ph->p_align - 1)) != 0)
        return fail(err, "program header %u: PT_LOAD p_align %llu is not a power of two", idx,
                    (unsigned long long)ph->p_align);
    if (ph->p_memsz == 0)
        return 0; /* nothing to load */
    if (ph->p_vaddr < CAPSA_SPT_GUEST_MIN_BASE)
        return fail(
            err, "program header %u: PT_LOAD p_vaddr 0x%llx is below the guest minimum 0x%llx", idx,
            (unsigned long long)ph->p_vaddr, (unsigned long long)CAPSA_SPT_GUEST_MIN_BASE);
    if (__builtin_add_overflow(ph->p_vaddr, ph->p_memsz, &vend) ||
        !align_up(vend, UK_PAGE_SIZE, &aend) || aend > mem_size)
        return fail(err,
                    "program header %u: PT_LOAD [0x%llx, +0x%llx) ends beyond guest memory "
                    "(0x%llx bytes)",
                    idx, (unsigned long long)ph->p_vaddr, (unsigned long long)ph->p_memsz,
                    (unsigned long long)mem_size);
    /* W^X: the tender maps each segment with exactly these permissions, and a
     * writable executable page would let a guest bug become code injection. */
    if ((ph->p_flags & PF_W) && (ph->p_flags & PF_X))
        return fail(err, "program header %u: PT_LOAD at 0x%llx is both writable and executable",
                    idx, (unsigned long long)ph->p_vaddr);
    astart = ph->p_vaddr & ~(UK_PAGE_SIZE - 1);
    /* Page-aligned ranges must not overlap: each page gets one protection,
     * and a later copy must not overwrite an earlier segment. */
    for (size_t i = 0; i < img->n_segments; i++) {
        const struct capsa_uk_segment *s = &img->seg[i];
        if (astart < s->vaddr + s->memsz && s->vaddr < aend)
            return fail(err,
                        "program header %u: PT_LOAD [0x%llx, 0x%llx) overlaps another segment "
                        "[0x%llx, 0x%llx) (page-aligned)",
                        idx, (unsigned long long)astart, (unsigned long long)aend,
                        (unsigned long long)s->vaddr, (unsigned long long)(s->vaddr + s->memsz));
    }
    if (img->n_segments == CAPSA_UK_MAX_SEGMENTS)
        return fail(err, "too many PT_LOAD segments (at most %d)", CAPSA_UK_MAX_SEGMENTS);

    struct capsa_uk_segment seg = {
        .vaddr = astart,
        .memsz = aend - astart,
        .file_vaddr = ph->p_vaddr,
        .offset = ph->p_offset,
        .filesz = ph->p_filesz,
        .prot = ((ph->p_flags & PF_R) ? PROT_READ : 0) | ((ph->p_flags & PF_W) ? PROT_WRITE : 0) |
                ((ph->p_flags & PF_X) ? PROT_EXEC : 0),
    };
    /* Keep seg[] sorted by address (insertion; at most 16 entries). */
    size_t at = img->n_segments;
    while (at > 0 && img->seg[at - 1].vaddr > seg.vaddr) {
        img->seg[at] = img->seg[at - 1];
        at--;
    }
    img->seg[at] = seg;
    img->n_segments++;
    if (aend > img->kernel_end)
        img->kernel_end = aend;
    return 0;
}

int capsa_uk_elf_parse(const uint8_t *file, size_t len, uint64_t mem_size,
                       struct capsa_uk_image *img, struct capsa_err *err)
{
    Elf64_Ehdr eh;
    struct note_state st = {0};
    int r;

    memset(img, 0, sizeof(*img));
    if (len < sizeof(eh))
        return fail(err, "truncated: %zu bytes, smaller than an ELF header", len);
    memcpy(&eh, file, sizeof(eh));
    r = check_ehdr(&eh, len, err);
    if (r < 0)
        goto out;

    for (unsigned i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, file + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
        switch (ph.p_type) {
        case PT_LOAD:
            r = load_segment(&ph, i, len, mem_size, img, err);
            break;
        case PT_DYNAMIC:
            r = fail(err, "program header %u: PT_DYNAMIC: not a static executable", i);
            break;
        case PT_NOTE: {
            uint64_t end;
            if (__builtin_add_overflow(ph.p_offset, ph.p_filesz, &end) || end > len) {
                r = fail(err,
                         "program header %u: PT_NOTE (p_offset %llu, p_filesz %llu) lies outside "
                         "the file (%zu bytes)",
                         i, (unsigned long long)ph.p_offset, (unsigned long long)ph.p_filesz, len);
                break;
            }
            r = walk_notes(file, ph.p_offset, ph.p_filesz, ph.p_align == 8 ? 8 : 4, i, &st, err);
            break;
        }
        default:
            /* PT_INTERP (Solo5's fake "/nonexistent/solo5/"), PT_GNU_STACK,
             * PT_TLS ...: nothing the tender acts on. */
            r = 0;
            break;
        }
        if (r < 0)
            goto out;
    }

    if (img->n_segments == 0) {
        r = fail(err, "no loadable (PT_LOAD) segment");
        goto out;
    }
    r = -ENOEXEC;
    for (size_t i = 0; i < img->n_segments; i++) {
        const struct capsa_uk_segment *s = &img->seg[i];
        /* Within the bytes the file defines, not just the page-aligned
         * range: an entry in the padding or in .bss would execute zeros. */
        if ((s->prot & PROT_EXEC) && eh.e_entry >= s->file_vaddr &&
            eh.e_entry - s->file_vaddr < s->filesz) {
            r = 0;
            break;
        }
    }
    if (r < 0) {
        r = fail(err, "entry point 0x%llx is not inside an executable segment's file contents",
                 (unsigned long long)eh.e_entry);
        goto out;
    }
    if (!st.have_abi) {
        r = fail(err, "no Solo5 ABI1 note: not a Solo5 unikernel (or built for an older Solo5)");
        goto out;
    }
    if (!st.have_mft) {
        r = fail(err, "no Solo5 manifest (MFT1) note");
        goto out;
    }
    img->entry = eh.e_entry;
    img->mft_offset = st.mft_offset;
    img->mft_size = st.mft_size;
    return 0;
out:
    memset(img, 0, sizeof(*img));
    return r;
}

void capsa_uk_elf_copy(const uint8_t *file, const struct capsa_uk_image *img, uint8_t *mem,
                       uint64_t mem_base)
{
    for (size_t i = 0; i < img->n_segments; i++) {
        const struct capsa_uk_segment *s = &img->seg[i];
        if (s->filesz > 0)
            memcpy(mem + (s->file_vaddr - mem_base), file + s->offset, s->filesz);
    }
}
