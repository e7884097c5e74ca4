/* fuzz_seccomp.c - libFuzzer target: linux.seccomp. The config is parsed
 * with capsa_spec_parse and, when it has a seccomp section, compiled to BPF
 * with capsa_seccomp_compile (libseccomp does the work; its allocations are
 * freed by it). The program is never loaded: compiling is the part that reads
 * untrusted names, actions, operators and argument indexes. */
#include <stdint.h>

#include "fuzz.h"
#include "linux/scmp.h"
#include "spec/spec.h"

static void count_warning(void *opaque, const char *msg)
{
    (void)msg;
    (*(unsigned *)opaque)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    struct capsa_err err = {0};
    struct capsa_spec *spec = NULL;
    if (capsa_spec_parse((const char *)data, size, &spec, &err) < 0)
        return 0;
    if (spec->has_linux && spec->linux_cfg.seccomp != NULL) {
        struct capsa_seccomp_prog *prog = NULL;
        unsigned warnings = 0;
        if (capsa_seccomp_compile(spec->linux_cfg.seccomp, &prog, count_warning, &warnings, &err) ==
            0) {
            FUZZ_CHECK(prog != NULL && prog->insns != NULL && prog->n_insns > 0);
            capsa_seccomp_prog_free(prog);
        } else {
            FUZZ_CHECK(err.msg[0] != '\0');
        }
    }
    capsa_spec_free(spec);
    return 0;
}
