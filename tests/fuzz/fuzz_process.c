/* fuzz_process.c - libFuzzer target: the file of `capsa exec --process
 * FILE`, a bare OCI process object from the caller, through the very
 * function exec uses (capsa_spec_exec_process, spec/exec.c), applied to an
 * empty container config. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capsa/capsa.h"
#include "fuzz.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    struct capsa_spec *spec = calloc(1, sizeof *spec);
    if (spec == NULL)
        return 0;
    struct capsa_exec_opts o = {.process_file = "fuzz"};
    struct capsa_err err = {0};
    const char *json = size > 0 ? (const char *)data : "";
    if (capsa_spec_exec_process(spec, json, size, "--process fuzz", &o, &err) == 0) {
        /* A process to execute: at least one argument. */
        FUZZ_CHECK(spec->process != NULL && spec->process->n_args > 0 &&
                   spec->process->args[0] != NULL);
    } else {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
    capsa_spec_free(spec);
    return 0;
}
