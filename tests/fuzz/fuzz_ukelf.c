/* fuzz_ukelf.c - libFuzzer target: the unikernel ELF loader
 * (capsa_uk_elf_parse and, on success, capsa_uk_elf_copy). The image comes
 * from the container's rootfs, so any bytes may arrive here. On success the
 * description must keep the promises the tender relies on without checking
 * again: segments page-aligned, inside [CAPSA_SPT_GUEST_MIN_BASE, mem_size),
 * sorted and disjoint, file ranges inside the input and inside their
 * segment, no W+X, the entry inside an executable segment's file bytes, and
 * a manifest inside the input that validates again; the copy must then stay
 * within guest memory (ASan watches the calloc'd buffer). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "fuzz.h"
#include "level/unikernel/elf.h"
#include "level/unikernel/spt_abi.h"

#define MEM_SIZE ((uint64_t)64 << 20)

static void check_image(const struct capsa_uk_image *img, size_t size)
{
    int entry_ok = 0;
    FUZZ_CHECK(img->n_segments >= 1 && img->n_segments <= CAPSA_UK_MAX_SEGMENTS);
    for (size_t i = 0; i < img->n_segments; i++) {
        const struct capsa_uk_segment *s = &img->seg[i];
        FUZZ_CHECK(s->vaddr % 0x1000 == 0 && s->memsz % 0x1000 == 0 && s->memsz > 0);
        FUZZ_CHECK(s->vaddr >= CAPSA_SPT_GUEST_MIN_BASE);
        FUZZ_CHECK(s->memsz <= MEM_SIZE && s->vaddr <= MEM_SIZE - s->memsz);
        FUZZ_CHECK(s->file_vaddr >= s->vaddr);
        FUZZ_CHECK(s->filesz <= s->vaddr + s->memsz - s->file_vaddr);
        FUZZ_CHECK(s->offset <= size && s->filesz <= size - s->offset);
        FUZZ_CHECK((s->prot & ~(PROT_READ | PROT_WRITE | PROT_EXEC)) == 0);
        FUZZ_CHECK((s->prot & (PROT_WRITE | PROT_EXEC)) != (PROT_WRITE | PROT_EXEC));
        FUZZ_CHECK(s->vaddr + s->memsz <= img->kernel_end);
        if (i > 0)
            FUZZ_CHECK(img->seg[i - 1].vaddr + img->seg[i - 1].memsz <= s->vaddr);
        if ((s->prot & PROT_EXEC) && img->entry >= s->file_vaddr &&
            img->entry - s->file_vaddr < s->filesz)
            entry_ok = 1;
    }
    FUZZ_CHECK(entry_ok);
    const struct capsa_uk_segment *last = &img->seg[img->n_segments - 1];
    FUZZ_CHECK(img->kernel_end == last->vaddr + last->memsz);
    FUZZ_CHECK(img->mft_offset <= size && img->mft_size <= size - img->mft_offset);
    FUZZ_CHECK(img->mft_size >= sizeof(struct capsa_mft));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    /* An exact-size heap copy: ASan flags any read past the file. */
    uint8_t *file = malloc(size ? size : 1);
    if (file == NULL)
        return 0;
    if (size > 0)
        memcpy(file, data, size);
    struct capsa_uk_image img;
    struct capsa_err err = {0};
    int r = capsa_uk_elf_parse(file, size, MEM_SIZE, &img, &err);
    if (r == 0) {
        check_image(&img, size);
        struct capsa_err err2 = {0};
        FUZZ_CHECK(capsa_uk_mft_validate(file + img.mft_offset, img.mft_size, &err2) == 0);
        /* Guest memory as the tender has it: [0, MEM_SIZE), zeroed. */
        uint8_t *mem = calloc(1, MEM_SIZE);
        if (mem != NULL) {
            capsa_uk_elf_copy(file, &img, mem, 0);
            for (size_t i = 0; i < img.n_segments; i++) {
                const struct capsa_uk_segment *s = &img.seg[i];
                FUZZ_CHECK(memcmp(mem + s->file_vaddr, file + s->offset, s->filesz) == 0);
            }
            free(mem);
        }
    } else {
        FUZZ_CHECK(r == -ENOEXEC && err.msg[0] != '\0');
    }
    free(file);
    return 0;
}
