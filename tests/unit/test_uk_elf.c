/* test_uk_elf.c - the unikernel ELF loader and manifest validator
 * (src/lib/level/unikernel/elf.c) on images assembled in memory: a valid Solo5 spt image
 * parses into the expected segments and copies byte for byte; every prefix
 * of it fails cleanly; each malformed variant (header fields, segment
 * ranges, W^X, overlaps, entry, notes, manifest) is rejected with a message
 * naming the fault. Pure: no privileges, no files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "level/unikernel/elf.h"
#include "level/unikernel/spt_abi.h"

/* The layout of the test image (file offsets). */
#define PH_TEXT   0
#define PH_DATA   1
#define PH_ABI    2
#define PH_MFT    3
#define PH_INTERP 4
#define PH_STACK  5
#define N_PH      6

#define OFF_INTERP 0x190
#define OFF_TEXT   0x200
#define TEXT_SIZE  0x100
#define VA_TEXT    0x100200ULL
#define ENTRY      0x100210ULL
#define OFF_DATA   0x300
#define DATA_SIZE  0x40
#define VA_DATA    0x101300ULL
#define DATA_MEMSZ 0x2000ULL
#define OFF_ABI    0x400
#define ABI_NOTE   (CAPSA_NOTE_HDR_SIZE + 16)
#define OFF_MFT    0x428 /* OFF_ABI + ABI_NOTE, aligned to 8 */
#define MFT_PAD    4
#define MEM_SIZE   (4ULL << 20)

#define IMG_MAX 0x2000

struct img {
    uint8_t b[IMG_MAX];
    size_t len;
};

static const char interp[] = "/nonexistent/solo5/";

/* A manifest with n entries: the reserved one, then block "disk<i>" and
 * (every third) net "net<i>" devices. */
static size_t make_mft(uint8_t *out, uint32_t n)
{
    struct capsa_mft hdr = {.version = CAPSA_MFT_VERSION, .entries = n};
    memcpy(out, &hdr, sizeof(hdr));
    for (uint32_t i = 0; i < n; i++) {
        struct capsa_mft_entry e;
        memset(&e, 0, sizeof(e));
        if (i == 0) {
            e.type = CAPSA_MFT_RESERVED_FIRST;
        } else if (i % 3 == 2) {
            snprintf(e.name, sizeof(e.name), "net%u", i);
            e.type = CAPSA_MFT_DEV_NET_BASIC;
        } else {
            snprintf(e.name, sizeof(e.name), "disk%u", i);
            e.type = CAPSA_MFT_DEV_BLOCK_BASIC;
            e.u.block_basic.capacity = 1 << 20;
            e.u.block_basic.block_size = 512;
        }
        memcpy(out + sizeof(hdr) + i * sizeof(e), &e, sizeof(e));
    }
    return sizeof(hdr) + n * sizeof(struct capsa_mft_entry);
}

static void put_note_hdr(uint8_t *p, uint32_t descsz, uint32_t type)
{
    uint32_t h[3] = {6, descsz, type};
    memcpy(p, h, sizeof(h));
    memcpy(p + 12, "Solo5\0\0\0", 8);
}

static void set_ph(struct img *im, int i, const Elf64_Phdr *ph)
{
    memcpy(im->b + sizeof(Elf64_Ehdr) + (size_t)i * sizeof(*ph), ph, sizeof(*ph));
}

static Elf64_Phdr get_ph(const struct img *im, int i)
{
    Elf64_Phdr ph;
    memcpy(&ph, im->b + sizeof(Elf64_Ehdr) + (size_t)i * sizeof(ph), sizeof(ph));
    return ph;
}

static Elf64_Ehdr get_eh(const struct img *im)
{
    Elf64_Ehdr eh;
    memcpy(&eh, im->b, sizeof(eh));
    return eh;
}

static void set_eh(struct img *im, const Elf64_Ehdr *eh)
{
    memcpy(im->b, eh, sizeof(*eh));
}

/* Assemble the valid image with a manifest of mft[0..mft_size). */
static void build_with_mft(struct img *im, const uint8_t *mft, size_t mft_size)
{
    memset(im, 0, sizeof(*im));
    Elf64_Ehdr eh = {
        .e_ident = {ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB, EV_CURRENT},
        .e_type = ET_EXEC,
        .e_machine = EM_X86_64,
        .e_version = EV_CURRENT,
        .e_entry = ENTRY,
        .e_phoff = sizeof(Elf64_Ehdr),
        .e_ehsize = sizeof(Elf64_Ehdr),
        .e_phentsize = sizeof(Elf64_Phdr),
        .e_phnum = N_PH,
    };
    set_eh(im, &eh);
    Elf64_Phdr ph[N_PH] = {
        [PH_TEXT] = {PT_LOAD, PF_R | PF_X, OFF_TEXT, VA_TEXT, VA_TEXT, TEXT_SIZE, TEXT_SIZE,
                     0x1000},
        [PH_DATA] = {PT_LOAD, PF_R | PF_W, OFF_DATA, VA_DATA, VA_DATA, DATA_SIZE, DATA_MEMSZ,
                     0x1000},
        [PH_ABI] = {PT_NOTE, PF_R, OFF_ABI, 0, 0, ABI_NOTE, ABI_NOTE, 4},
        [PH_MFT] = {PT_NOTE, PF_R, OFF_MFT, 0, 0, CAPSA_NOTE_HDR_SIZE + MFT_PAD + mft_size,
                    CAPSA_NOTE_HDR_SIZE + MFT_PAD + mft_size, 8},
        [PH_INTERP] = {PT_INTERP, PF_R, OFF_INTERP, 0, 0, sizeof(interp), sizeof(interp), 1},
        [PH_STACK] = {PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 0, 16},
    };
    for (int i = 0; i < N_PH; i++)
        set_ph(im, i, &ph[i]);
    memcpy(im->b + OFF_INTERP, interp, sizeof(interp));
    for (int i = 0; i < TEXT_SIZE; i++)
        im->b[OFF_TEXT + i] = (uint8_t)(0x90 + i);
    for (int i = 0; i < DATA_SIZE; i++)
        im->b[OFF_DATA + i] = (uint8_t)(0xd0 ^ i);
    put_note_hdr(im->b + OFF_ABI, 16, CAPSA_NOTE_TYPE_ABI1);
    struct capsa_abi1_info abi = {CAPSA_ABI_TARGET_SPT, CAPSA_SPT_ABI_VERSION, 0, 0};
    memcpy(im->b + OFF_ABI + CAPSA_NOTE_HDR_SIZE, &abi, sizeof(abi));
    put_note_hdr(im->b + OFF_MFT, (uint32_t)(MFT_PAD + mft_size), CAPSA_NOTE_TYPE_MFT1);
    assert_true(OFF_MFT + CAPSA_NOTE_HDR_SIZE + MFT_PAD + mft_size <= IMG_MAX);
    memcpy(im->b + OFF_MFT + CAPSA_NOTE_HDR_SIZE + MFT_PAD, mft, mft_size);
    im->len = OFF_MFT + CAPSA_NOTE_HDR_SIZE + MFT_PAD + mft_size;
}

static size_t build(struct img *im)
{
    uint8_t mft[8 + 3 * sizeof(struct capsa_mft_entry)];
    size_t n = make_mft(mft, 3);
    build_with_mft(im, mft, n);
    return n;
}

/* Parse a heap copy of exactly len bytes, so that ASan sees any read past
 * the end of the file. */
static int parse(const uint8_t *b, size_t len, struct capsa_uk_image *img, struct capsa_err *err)
{
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    if (len > 0)
        memcpy(copy, b, len);
    memset(err, 0, sizeof(*err));
    int r = capsa_uk_elf_parse(copy, len, MEM_SIZE, img, err);
    free(copy);
    return r;
}

static void expect_fail(const struct img *im, const char *frag)
{
    struct capsa_uk_image img;
    struct capsa_err err;
    int r = parse(im->b, im->len, &img, &err);
    if (r != -ENOEXEC || strstr(err.msg, frag) == NULL)
        fail_msg("expected -ENOEXEC with \"%s\", got %d \"%s\"", frag, r, err.msg);
    assert_int_equal(img.n_segments, 0);
}

static void test_valid(void **state)
{
    (void)state;
    struct img im;
    size_t mft_size = build(&im);
    struct capsa_uk_image img;
    struct capsa_err err;
    int r = parse(im.b, im.len, &img, &err);
    if (r != 0)
        fail_msg("parse: %s", err.msg);
    assert_int_equal(img.entry, ENTRY);
    assert_int_equal(img.n_segments, 2);
    assert_int_equal(img.seg[0].vaddr, 0x100000);
    assert_int_equal(img.seg[0].memsz, 0x1000);
    assert_int_equal(img.seg[0].file_vaddr, VA_TEXT);
    assert_int_equal(img.seg[0].offset, OFF_TEXT);
    assert_int_equal(img.seg[0].filesz, TEXT_SIZE);
    assert_int_equal(img.seg[0].prot, PROT_READ | PROT_EXEC);
    assert_int_equal(img.seg[1].vaddr, 0x101000);
    assert_int_equal(img.seg[1].memsz, 0x3000); /* 0x101300 + 0x2000 rounded up */
    assert_int_equal(img.seg[1].file_vaddr, VA_DATA);
    assert_int_equal(img.seg[1].offset, OFF_DATA);
    assert_int_equal(img.seg[1].filesz, DATA_SIZE);
    assert_int_equal(img.seg[1].prot, PROT_READ | PROT_WRITE);
    assert_int_equal(img.kernel_end, 0x104000);
    assert_int_equal(img.mft_offset, OFF_MFT + CAPSA_NOTE_HDR_SIZE + MFT_PAD);
    assert_int_equal(img.mft_size, mft_size);
    assert_int_equal(capsa_uk_mft_validate(im.b + img.mft_offset, img.mft_size, &err), 0);

    uint8_t *mem = calloc(1, MEM_SIZE);
    assert_non_null(mem);
    capsa_uk_elf_copy(im.b, &img, mem, 0);
    assert_memory_equal(mem + VA_TEXT, im.b + OFF_TEXT, TEXT_SIZE);
    assert_memory_equal(mem + VA_DATA, im.b + OFF_DATA, DATA_SIZE);
    /* Nothing else was written: the bytes around and the .bss stay zero. */
    size_t nonzero = 0;
    for (size_t i = 0; i < MEM_SIZE; i++)
        nonzero += mem[i] != 0;
    size_t expected = 0;
    for (size_t i = 0; i < TEXT_SIZE; i++)
        expected += im.b[OFF_TEXT + i] != 0;
    for (size_t i = 0; i < DATA_SIZE; i++)
        expected += im.b[OFF_DATA + i] != 0;
    assert_int_equal(nonzero, expected);
    free(mem);
}

/* Every prefix of the valid image fails cleanly or parses to the same
 * description (here they all fail: the manifest note ends the file). */
static void test_truncated(void **state)
{
    (void)state;
    struct img im;
    build(&im);
    struct capsa_uk_image full, img;
    struct capsa_err err;
    assert_int_equal(parse(im.b, im.len, &full, &err), 0);
    for (size_t l = 0; l < im.len; l++) {
        int r = parse(im.b, l, &img, &err);
        if (r == 0) {
            assert_memory_equal(&img, &full, sizeof(img));
        } else {
            assert_int_equal(r, -ENOEXEC);
            assert_true(err.msg[0] != '\0');
        }
    }
    assert_int_not_equal(parse(im.b, 10, &img, &err), 0);
    assert_non_null(strstr(err.msg, "truncated"));
    assert_int_not_equal(parse(im.b, OFF_MFT + 30, &img, &err), 0);
    assert_non_null(strstr(err.msg, "outside the file"));
}

/* ---- malformed variants: each mutates the valid image ---- */

#define EH_MUT(name, stmt)                                                                         \
    static void name(struct img *im)                                                               \
    {                                                                                              \
        Elf64_Ehdr eh = get_eh(im);                                                                \
        stmt;                                                                                      \
        set_eh(im, &eh);                                                                           \
    }
#define PH_MUT(name, i, stmt)                                                                      \
    static void name(struct img *im)                                                               \
    {                                                                                              \
        Elf64_Phdr ph = get_ph(im, i);                                                             \
        stmt;                                                                                      \
        set_ph(im, i, &ph);                                                                        \
    }

EH_MUT(m_magic, eh.e_ident[EI_MAG1] = 'X')
EH_MUT(m_class, eh.e_ident[EI_CLASS] = ELFCLASS32)
EH_MUT(m_data, eh.e_ident[EI_DATA] = ELFDATA2MSB)
EH_MUT(m_version, eh.e_version = 2)
EH_MUT(m_ident_version, eh.e_ident[EI_VERSION] = 0)
EH_MUT(m_dyn, eh.e_type = ET_DYN)
EH_MUT(m_rel, eh.e_type = ET_REL)
EH_MUT(m_machine, eh.e_machine = EM_AARCH64)
EH_MUT(m_phentsize, eh.e_phentsize = 32)
EH_MUT(m_phnum0, eh.e_phnum = 0)
EH_MUT(m_phnum65, eh.e_phnum = 65)
EH_MUT(m_phnum_huge, eh.e_phnum = 0xffff)
EH_MUT(m_phoff_overflow, eh.e_phoff = UINT64_MAX - 100)
EH_MUT(m_phoff_past, eh.e_phoff = im->len - 8)
EH_MUT(m_entry_data, eh.e_entry = VA_DATA)
EH_MUT(m_entry_pad, eh.e_entry = VA_TEXT + TEXT_SIZE + 8) /* same page as .text, past it */
EH_MUT(m_entry_low, eh.e_entry = 0x1000)
PH_MUT(m_filesz_gt_memsz, PH_DATA, ph.p_filesz = ph.p_memsz + 1)
PH_MUT(m_offset_overflow, PH_TEXT, ph.p_offset = UINT64_MAX - 0x10)
PH_MUT(m_filesz_past, PH_TEXT, ph.p_filesz = ph.p_memsz = IMG_MAX * 4)
PH_MUT(m_align, PH_TEXT, ph.p_align = 0x1800)
PH_MUT(m_vaddr_low, PH_TEXT, ph.p_vaddr = 0xff000)
PH_MUT(m_vaddr_zero, PH_DATA, ph.p_vaddr = 0)
PH_MUT(m_end_past_mem, PH_DATA, ph.p_memsz = MEM_SIZE)
PH_MUT(m_vaddr_wrap, PH_DATA, ph.p_memsz = UINT64_MAX - 0x1000)
PH_MUT(m_end_align_wrap, PH_DATA, ph.p_vaddr = UINT64_MAX - 0x100; ph.p_memsz = 0x80)
PH_MUT(m_wx, PH_DATA, ph.p_flags = PF_R | PF_W | PF_X)
PH_MUT(m_overlap, PH_DATA, ph.p_vaddr = VA_TEXT + 0x80)
PH_MUT(m_overlap_page, PH_DATA, ph.p_vaddr = VA_TEXT + 0x400) /* same page once aligned */
PH_MUT(m_dynamic, PH_STACK, ph.p_type = PT_DYNAMIC)
PH_MUT(m_no_abi, PH_ABI, ph.p_type = PT_NULL)
PH_MUT(m_no_mft, PH_MFT, ph.p_type = PT_NULL)
PH_MUT(m_note_short, PH_MFT, ph.p_filesz = 30)
PH_MUT(m_note_past, PH_MFT, ph.p_filesz = IMG_MAX * 4)
PH_MUT(m_dup_abi, PH_MFT, ph.p_offset = OFF_ABI; ph.p_filesz = ABI_NOTE)
PH_MUT(m_dup_mft, PH_ABI, ph.p_offset = OFF_MFT; ph.p_filesz = get_ph(im, PH_MFT).p_filesz)

static void m_no_load(struct img *im)
{
    Elf64_Phdr ph = get_ph(im, PH_TEXT);
    ph.p_type = PT_NULL;
    set_ph(im, PH_TEXT, &ph);
    ph = get_ph(im, PH_DATA);
    ph.p_type = PT_NULL;
    set_ph(im, PH_DATA, &ph);
}

static void set_abi(struct img *im, uint32_t target, uint32_t version)
{
    struct capsa_abi1_info abi = {target, version, 0, 0};
    memcpy(im->b + OFF_ABI + CAPSA_NOTE_HDR_SIZE, &abi, sizeof(abi));
}
static void m_hvt(struct img *im)
{
    set_abi(im, CAPSA_ABI_TARGET_HVT, CAPSA_SPT_ABI_VERSION);
}
static void m_target9(struct img *im)
{
    set_abi(im, 9, CAPSA_SPT_ABI_VERSION);
}
static void m_abi_version(struct img *im)
{
    set_abi(im, CAPSA_ABI_TARGET_SPT, 1);
}
static void m_abi_size(struct img *im)
{
    put_note_hdr(im->b + OFF_ABI, 12, CAPSA_NOTE_TYPE_ABI1);
}
static void m_mft_version(struct img *im)
{
    uint32_t v = 2;
    memcpy(im->b + OFF_MFT + CAPSA_NOTE_HDR_SIZE + MFT_PAD, &v, sizeof(v));
}
static void m_mft_descsz(struct img *im)
{
    put_note_hdr(im->b + OFF_MFT, 2, CAPSA_NOTE_TYPE_MFT1); /* smaller than the padding */
}

struct variant {
    const char *what;
    void (*mut)(struct img *);
    const char *frag;
};

static const struct variant variants[] = {
    {"magic", m_magic, "bad magic"},
    {"class", m_class, "not a 64-bit"},
    {"data", m_data, "little-endian"},
    {"e_version", m_version, "ELF version"},
    {"ident version", m_ident_version, "ELF version"},
    {"ET_DYN", m_dyn, "ET_DYN"},
    {"ET_REL", m_rel, "not an executable"},
    {"machine", m_machine, "not x86-64"},
    {"phentsize", m_phentsize, "e_phentsize"},
    {"phnum 0", m_phnum0, "no program headers"},
    {"phnum 65", m_phnum65, "too many program headers"},
    {"phnum huge", m_phnum_huge, "too many program headers"},
    {"phoff overflow", m_phoff_overflow, "program headers (e_phoff"},
    {"phoff past end", m_phoff_past, "outside the file"},
    {"entry in data", m_entry_data, "entry point"},
    {"entry in padding", m_entry_pad, "entry point"},
    {"entry low", m_entry_low, "entry point"},
    {"filesz > memsz", m_filesz_gt_memsz, "p_filesz"},
    {"offset+filesz overflow", m_offset_overflow, "outside the file"},
    {"filesz past end", m_filesz_past, "outside the file"},
    {"align", m_align, "power of two"},
    {"vaddr low", m_vaddr_low, "below the guest minimum"},
    {"vaddr zero", m_vaddr_zero, "below the guest minimum"},
    {"end past mem", m_end_past_mem, "beyond guest memory"},
    {"vaddr+memsz wrap", m_vaddr_wrap, "beyond guest memory"},
    {"align-up wrap", m_end_align_wrap, "beyond guest memory"},
    {"W+X", m_wx, "writable and executable"},
    {"overlap", m_overlap, "overlaps"},
    {"overlap after alignment", m_overlap_page, "overlaps"},
    {"PT_DYNAMIC", m_dynamic, "not a static executable"},
    {"no PT_LOAD", m_no_load, "no loadable"},
    {"no ABI note", m_no_abi, "no Solo5 ABI1 note"},
    {"hvt", m_hvt, "built for solo5-hvt, not spt"},
    {"unknown target", m_target9, "unknown Solo5 target 9"},
    {"ABI version", m_abi_version, "spt ABI version 1"},
    {"ABI note size", m_abi_size, "ABI1 note: descriptor is 12 bytes"},
    {"no manifest", m_no_mft, "no Solo5 manifest"},
    {"note short", m_note_short, "runs past the end"},
    {"note past file", m_note_past, "outside the file"},
    {"two ABI notes", m_dup_abi, "more than one Solo5 ABI1"},
    {"two manifests", m_dup_mft, "more than one Solo5 manifest"},
    {"manifest version", m_mft_version, "manifest: version 2"},
    {"manifest descsz", m_mft_descsz, "descriptor too small"},
};

static void test_malformed(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
        struct img im;
        build(&im);
        variants[i].mut(&im);
        print_message("variant: %s\n", variants[i].what);
        expect_fail(&im, variants[i].frag);
    }
}

/* Variants that stay valid: the loader must not be stricter than the ABI. */
static void test_accepted_variants(void **state)
{
    (void)state;
    struct img im;
    struct capsa_uk_image img;
    struct capsa_err err;

    /* Both notes in one PT_NOTE with p_align 8 (walked, 8-byte aligned). */
    build(&im);
    Elf64_Phdr abi = get_ph(&im, PH_ABI), mft = get_ph(&im, PH_MFT);
    abi.p_filesz = abi.p_memsz = mft.p_offset + mft.p_filesz - abi.p_offset;
    abi.p_align = 8;
    set_ph(&im, PH_ABI, &abi);
    mft.p_type = PT_NULL;
    set_ph(&im, PH_MFT, &mft);
    if (parse(im.b, im.len, &img, &err) != 0)
        fail_msg("one PT_NOTE: %s", err.msg);
    assert_int_equal(img.mft_offset, OFF_MFT + CAPSA_NOTE_HDR_SIZE + MFT_PAD);

    /* Segments listed out of order come back sorted; a zero-size PT_LOAD,
     * p_align 0, and no PT_INTERP are fine. */
    build(&im);
    Elf64_Phdr t = get_ph(&im, PH_TEXT), d = get_ph(&im, PH_DATA);
    t.p_align = 0;
    set_ph(&im, PH_TEXT, &d);
    set_ph(&im, PH_DATA, &t);
    Elf64_Phdr z = {PT_LOAD, PF_R, 0, 0x300000, 0x300000, 0, 0, 0x1000};
    set_ph(&im, PH_INTERP, &z);
    if (parse(im.b, im.len, &img, &err) != 0)
        fail_msg("reordered: %s", err.msg);
    assert_int_equal(img.n_segments, 2);
    assert_int_equal(img.seg[0].file_vaddr, VA_TEXT);
    assert_int_equal(img.seg[1].file_vaddr, VA_DATA);
    assert_int_equal(img.kernel_end, 0x104000);

    /* A manifest of the maximum size. */
    static uint8_t big[8 + CAPSA_MFT_MAX_ENTRIES * sizeof(struct capsa_mft_entry)];
    size_t n = make_mft(big, CAPSA_MFT_MAX_ENTRIES);
    build_with_mft(&im, big, n);
    if (parse(im.b, im.len, &img, &err) != 0)
        fail_msg("64 entries: %s", err.msg);
    assert_int_equal(img.mft_size, n);

    /* A segment ending exactly at the end of guest memory. */
    build(&im);
    d = get_ph(&im, PH_DATA);
    d.p_vaddr = d.p_paddr = MEM_SIZE - DATA_MEMSZ;
    set_ph(&im, PH_DATA, &d);
    if (parse(im.b, im.len, &img, &err) != 0)
        fail_msg("at the end: %s", err.msg);
    assert_int_equal(img.kernel_end, MEM_SIZE);
}

static void test_too_many_segments(void **state)
{
    (void)state;
    struct img im;
    build(&im);
    Elf64_Ehdr eh = get_eh(&im);
    eh.e_phnum = CAPSA_UK_MAX_SEGMENTS + 1;
    eh.e_phoff = 0x600; /* past the notes, which this image does not need */
    set_eh(&im, &eh);
    for (int i = 0; i <= CAPSA_UK_MAX_SEGMENTS; i++) {
        Elf64_Phdr ph = {
            PT_LOAD, PF_R, 0,     0x200000 + (uint64_t)i * 0x1000, 0x200000 + (uint64_t)i * 0x1000,
            0,       0x10, 0x1000};
        memcpy(im.b + 0x600 + (size_t)i * sizeof(ph), &ph, sizeof(ph));
    }
    im.len = 0x600 + (CAPSA_UK_MAX_SEGMENTS + 1) * sizeof(Elf64_Phdr);
    expect_fail(&im, "too many PT_LOAD segments");
}

/* ---- the manifest on its own ---- */

static uint8_t mbuf[1 + 8 + 70 * sizeof(struct capsa_mft_entry)];

static void mft_set_entry(uint8_t *m, uint32_t i, const struct capsa_mft_entry *e)
{
    memcpy(m + 8 + i * sizeof(*e), e, sizeof(*e));
}

static struct capsa_mft_entry mft_get_entry(const uint8_t *m, uint32_t i)
{
    struct capsa_mft_entry e;
    memcpy(&e, m + 8 + i * sizeof(e), sizeof(e));
    return e;
}

static void expect_mft(const uint8_t *m, size_t size, const char *frag)
{
    struct capsa_err err = {0};
    int r = capsa_uk_mft_validate(m, size, &err);
    if (frag == NULL) {
        if (r != 0)
            fail_msg("manifest rejected: %s", err.msg);
        return;
    }
    if (r != -ENOEXEC || strstr(err.msg, frag) == NULL)
        fail_msg("expected -ENOEXEC with \"%s\", got %d \"%s\"", frag, r, err.msg);
}

static void test_mft(void **state)
{
    (void)state;
    uint8_t *m = mbuf + 1; /* deliberately misaligned */
    size_t n = make_mft(m, 4);
    struct capsa_mft_entry e;
    uint32_t u;

    expect_mft(m, n, NULL);
    expect_mft(m, 7, "smaller than its 8-byte header");
    expect_mft(m, 0, "smaller than its 8-byte header");
    expect_mft(m, n + 1, "need exactly");
    expect_mft(m, n - 1, "need exactly");
    expect_mft(m, n - sizeof(e), "need exactly");

    u = 0;
    memcpy(m, &u, 4);
    expect_mft(m, n, "manifest: version 0");
    make_mft(m, 4);
    u = 0;
    memcpy(m + 4, &u, 4);
    expect_mft(m, 8, "0 entries");
    u = CAPSA_MFT_MAX_ENTRIES + 1;
    memcpy(m + 4, &u, 4);
    expect_mft(m, 8 + u * sizeof(e), "65 entries");
    u = UINT32_MAX;
    memcpy(m + 4, &u, 4);
    expect_mft(m, n, "entries, must be between");
    n = make_mft(m, CAPSA_MFT_MAX_ENTRIES);
    expect_mft(m, n, NULL);

    n = make_mft(m, 4);
    e = mft_get_entry(m, 0);
    e.type = CAPSA_MFT_DEV_BLOCK_BASIC;
    mft_set_entry(m, 0, &e);
    expect_mft(m, n, "entry 0 must be the reserved first entry");

    n = make_mft(m, 4);
    e = mft_get_entry(m, 0);
    memcpy(e.name, "x\x1b[2J", 6);
    mft_set_entry(m, 0, &e);
    expect_mft(m, n, "name \"x?[2J\""); /* control characters are not echoed */

    n = make_mft(m, 4);
    e = mft_get_entry(m, 2);
    memset(e.name, 'a', sizeof(e.name));
    mft_set_entry(m, 2, &e);
    expect_mft(m, n, "entry 2: name not NUL-terminated");

    n = make_mft(m, 4);
    e = mft_get_entry(m, 3);
    memset(e.name, 'a', sizeof(e.name));
    e.name[CAPSA_MFT_NAME_MAX] = '\0'; /* the longest name is fine */
    mft_set_entry(m, 3, &e);
    expect_mft(m, n, NULL);

    n = make_mft(m, 4);
    e = mft_get_entry(m, 1);
    e.name[0] = '\0';
    mft_set_entry(m, 1, &e);
    expect_mft(m, n, "entry 1: empty device name");

    n = make_mft(m, 4);
    e = mft_get_entry(m, 1);
    mft_set_entry(m, 3, &e);
    expect_mft(m, n, "\"disk1\" appears twice (entries 1 and 3)");

    n = make_mft(m, 4);
    e = mft_get_entry(m, 2);
    e.type = CAPSA_MFT_RESERVED_FIRST;
    mft_set_entry(m, 2, &e);
    expect_mft(m, n, "unknown type");
    e.type = 0;
    mft_set_entry(m, 2, &e);
    expect_mft(m, n, "unknown type 0");

    n = make_mft(m, 4);
    e = mft_get_entry(m, 3);
    e.attached = 1;
    mft_set_entry(m, 3, &e);
    expect_mft(m, n, "entry 3 (\"disk3\"): attached is set");
    n = make_mft(m, 4);
    m[8 + offsetof(struct capsa_mft_entry, attached)] = 0x80; /* any non-zero byte */
    expect_mft(m, n, "entry 0 (\"\"): attached is set");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_accepted_variants),
        cmocka_unit_test(test_too_many_segments),
        cmocka_unit_test(test_mft),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
