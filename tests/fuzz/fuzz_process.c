/* fuzz_process.c - libFuzzer target: the file of `capsa exec --process
 * FILE`, a bare OCI process object from the caller, through the very
 * function exec uses (capsa_spec_exec_process, spec/exec.c), applied to an
 * empty container config; and what parses, capsa_process_to_json writes
 * back canonically (the vm level's EXEC). */
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
        /* What the vm level sends the guest (spec/encode.c): written, it
         * parses back, and writes again to the same bytes. */
        char *t1 = NULL, *t2 = NULL;
        struct capsa_process *back = NULL;
        struct capsa_spec_warnings w = {0};
        FUZZ_CHECK(capsa_process_to_json(spec->process, &t1, &err) == 0);
        FUZZ_CHECK(capsa_spec_parse_process(t1, strlen(t1), "encoded", &back, &w, &err) == 0);
        FUZZ_CHECK(capsa_process_to_json(back, &t2, &err) == 0);
        FUZZ_CHECK(strcmp(t1, t2) == 0);
        free(t1);
        free(t2);
        capsa_process_free(back);
        capsa_spec_warnings_free(&w);
    } else {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
    capsa_spec_free(spec);
    return 0;
}
