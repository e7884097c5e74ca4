/* elf.h - the unikernel loader's pure half: validating a static x86-64 Solo5
 * spt unikernel ELF image (the file is untrusted: every field is checked with
 * overflow-checked arithmetic) and describing what the tender must map, plus
 * the validation of the guest's application manifest (MFT1 note). Nothing
 * here allocates or makes a system call, so it can be fuzzed directly
 * (tests/fuzz/fuzz_ukelf.c). */
#ifndef CAPSA_UK_ELF_H
#define CAPSA_UK_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CAPSA_UK_MAX_SEGMENTS 16

struct capsa_uk_segment {
    uint64_t vaddr, memsz;   /* page-aligned range in guest memory: [vaddr, vaddr+memsz) */
    uint64_t file_vaddr;     /* p_vaddr (not aligned) where the file bytes go */
    uint64_t offset, filesz; /* bytes of the file copied to file_vaddr */
    int prot;                /* PROT_READ | PROT_WRITE | PROT_EXEC from p_flags */
};

struct capsa_uk_image {
    uint64_t entry;      /* e_entry, inside an executable segment */
    uint64_t kernel_end; /* end of the highest segment, page-aligned */
    size_t n_segments;   /* seg[] is sorted by vaddr, ranges do not overlap */
    struct capsa_uk_segment seg[CAPSA_UK_MAX_SEGMENTS];
    size_t mft_offset, mft_size; /* the manifest (struct capsa_mft + entries) inside the file */
};

/* Validate a static x86-64 Solo5 spt unikernel in file[0..len) for a guest of
 * mem_size bytes and describe it in *img: ELF64, little-endian, EV_CURRENT,
 * ET_EXEC, EM_X86_64, sane program headers inside the file; each PT_LOAD
 * inside the file and inside [CAPSA_SPT_GUEST_MIN_BASE, mem_size), never
 * writable and executable, no two overlapping once page-aligned, at most
 * CAPSA_UK_MAX_SEGMENTS; the entry inside an executable segment; no
 * PT_DYNAMIC (PT_INTERP is accepted: Solo5 guests carry a fake one); a Solo5
 * ABI1 note for target spt and version CAPSA_SPT_ABI_VERSION, and an MFT1
 * manifest note that passes capsa_uk_mft_validate. Returns 0, or -ENOEXEC
 * with err naming what is wrong. No allocation. */
int capsa_uk_elf_parse(const uint8_t *file, size_t len, uint64_t mem_size,
                       struct capsa_uk_image *img, struct capsa_err *err);

/* Manifest checks (untrusted data): size >= header, version
 * CAPSA_MFT_VERSION, 1 <= entries <= CAPSA_MFT_MAX_ENTRIES, size == header +
 * entries * sizeof(entry) exactly, e[0] of type CAPSA_MFT_RESERVED_FIRST with
 * an empty name, every name NUL-terminated within CAPSA_MFT_NAME_SIZE and
 * (except e[0]) non-empty and unique, every other type BLOCK_BASIC or
 * NET_BASIC, attached false. The buffer need not be aligned. Returns 0 or
 * -ENOEXEC with err set. */
int capsa_uk_mft_validate(const void *mft, size_t size, struct capsa_err *err);

/* Copy the segments of an image that capsa_uk_elf_parse accepted into guest
 * memory (mem = where guest address mem_base is, mem_base <= every segment:
 * the tender passes its mapping at CAPSA_SPT_HOST_MEM_BASE, tests a buffer
 * standing for address 0; the memory is read-write and zeroed): the file bytes
 * of each segment go to its file_vaddr; the rest is left as it is (zero). No
 * allocation, no syscall. */
void capsa_uk_elf_copy(const uint8_t *file, const struct capsa_uk_image *img, uint8_t *mem,
                       uint64_t mem_base);

#endif
