/* fuzz_vm_proto.c - libFuzzer target: the vm agent protocol (level/vm/proto.c),
 * which the guest agent reads from the host and the host reads from a guest
 * it does not trust. The input is used twice: decoded as one whole frame,
 * and fed to the stream reader in chunks whose size the first byte picks, as
 * a byte stream arrives. Every message either side accepts must encode
 * again to the very same bytes (the decoder accepts only canonical frames),
 * and a reader error must stick. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "level/vm/proto.h"

/* A decoded message encodes back to the frame it came from. */
static void check_reencode(const struct capsa_vm_msg *m, const uint8_t *frame, size_t n)
{
    struct capsa_vm_buf out = {0};
    struct capsa_err err = {0};
    int r = capsa_vm_encode(m, &out, &err);
    FUZZ_CHECK(r == 0);
    if (r == 0) {
        FUZZ_CHECK(out.len == n);
        FUZZ_CHECK(memcmp(out.data, frame, n) == 0);
    }
    capsa_vm_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    struct capsa_err err = {0};
    struct capsa_vm_msg m;
    int r = capsa_vm_decode(data, size, &m, &err);
    FUZZ_CHECK(r == 0 || r == -EPROTO || r == -EMSGSIZE);
    if (r == 0)
        check_reencode(&m, data, size);
    else
        FUZZ_CHECK(err.msg[0] != '\0');

    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] + 1;
    struct capsa_vm_reader rd = {0};
    bool failed = false;
    for (size_t off = 1; off < size && !failed; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (capsa_vm_reader_feed(&rd, data + off, n, &err) < 0)
            break;
        for (;;) {
            uint32_t id = 0;
            int got = capsa_vm_reader_next(&rd, &m, &id, &err);
            if (got == 0)
                break;
            if (got < 0) {
                FUZZ_CHECK(got == -EPROTO || got == -EMSGSIZE);
                if (rd.failed) {
                    failed = true;
                    break;
                }
                continue; /* a bad payload in a whole frame: the next one is in step */
            }
            FUZZ_CHECK(id == m.id);
            struct capsa_vm_buf out = {0};
            FUZZ_CHECK(capsa_vm_encode(&m, &out, &err) == 0);
            struct capsa_vm_msg back;
            FUZZ_CHECK(capsa_vm_decode(out.data, out.len, &back, &err) == 0);
            FUZZ_CHECK(back.type == m.type && back.id == m.id && back.len == m.len);
            capsa_vm_buf_free(&out);
        }
    }
    if (failed) {
        struct capsa_vm_msg m2;
        FUZZ_CHECK(capsa_vm_reader_next(&rd, &m2, NULL, &err) < 0);
    }
    capsa_vm_reader_free(&rd);
    return 0;
}
