/* sha256.h - SHA-256 (FIPS 180-4), for content addressing (the vm level's
 * initramfs cache key and its check of a cached image). Pure, no syscalls. */
#ifndef CAPSA_UTIL_SHA256_H
#define CAPSA_UTIL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define CAPSA_SHA256_LEN 32
/* The hex form plus its NUL. */
#define CAPSA_SHA256_HEX (2 * CAPSA_SHA256_LEN + 1)

struct capsa_sha256 {
    uint32_t h[8];
    uint64_t len; /* bytes hashed so far */
    uint8_t buf[64];
    size_t n; /* bytes in buf */
};

void capsa_sha256_init(struct capsa_sha256 *s);
void capsa_sha256_update(struct capsa_sha256 *s, const void *data, size_t len);
void capsa_sha256_final(struct capsa_sha256 *s, uint8_t out[CAPSA_SHA256_LEN]);
/* Lower-case hex of a digest. */
void capsa_sha256_hex(const uint8_t d[CAPSA_SHA256_LEN], char out[CAPSA_SHA256_HEX]);

#endif
