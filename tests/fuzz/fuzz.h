/* fuzz.h - helpers shared by the libFuzzer targets in tests/fuzz: turning the
 * fuzzer's byte buffer into the NUL-terminated strings the parsers take, and
 * a check that aborts (a finding) when a property the code promises fails.
 * Targets keep no state between inputs, so every finding replays from its
 * input file alone. */
#ifndef CAPSA_FUZZ_H
#define CAPSA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs above this are skipped: the parsers have their own (larger) limits,
 * and huge inputs only slow the search down. */
#define FUZZ_MAX_INPUT ((size_t)256 << 10)

/* A heap copy of data[0..size) with a NUL appended (embedded NULs stay, so a
 * C-string parser sees the prefix up to the first one). NULL on ENOMEM. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return NULL;
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Split a copy of the input at NUL bytes into at most max parts (the last
 * part keeps any further NULs, i.e. ends at the first of them). parts[i]
 * points into *buf_out (free that); missing parts are "". Returns the number
 * of parts found, or -1 on ENOMEM. */
static inline int fuzz_split_nul(const uint8_t *data, size_t size, char **buf_out,
                                 const char **parts, int max)
{
    char *buf = fuzz_strndup(data, size);
    if (buf == NULL)
        return -1;
    int n = 0;
    size_t off = 0;
    for (int i = 0; i < max; i++)
        parts[i] = "";
    while (n < max && off <= size) {
        parts[n++] = buf + off;
        size_t len = strlen(buf + off);
        off += len + 1;
    }
    *buf_out = buf;
    return n;
}

/* Whether a controller name can go through the state file's cgroup line
 * format ("v1 a,b /path") unchanged: not empty, not "-" (the "none" marker),
 * no separator. Names the kernel gives never fail this; the checks that
 * depend on it skip the rest. */
static inline int fuzz_ctrl_name_ok(const char *c)
{
    return c[0] != '\0' && strcmp(c, "-") != 0 && strpbrk(c, " ,\n") == NULL;
}

static inline int fuzz_ctrl_names_ok(char *const *v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        if (!fuzz_ctrl_name_ok(v[i]))
            return 0;
    return 1;
}

/* A broken invariant is a bug even when no sanitizer notices: abort so that
 * libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
