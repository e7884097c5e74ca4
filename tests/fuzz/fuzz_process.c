/* fuzz_process.c - libFuzzer target: the file of `capsa exec --process
 * FILE`, a bare OCI process object from the caller. exec.c parses it by
 * wrapping it in a minimal document and handing that to capsa_spec_parse;
 * that wrapping is a static function there (load_process_file), so it is
 * repeated here exactly, byte for byte, to fuzz what the runtime really
 * parses (including inputs that try to close the process object early and
 * add top-level fields of their own). Keep the two in step. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    static const char head[] = "{\"ociVersion\":\"1.2.0\",\"process\":";
    size_t total = sizeof head - 1 + size + 2;
    char *doc = malloc(total + 1);
    if (doc == NULL)
        return 0;
    memcpy(doc, head, sizeof head - 1);
    if (size > 0)
        memcpy(doc + sizeof head - 1, data, size);
    memcpy(doc + sizeof head - 1 + size, "\n}", 3);
    struct capsa_err err = {0};
    struct capsa_spec *ps = NULL;
    if (capsa_spec_parse(doc, total, &ps, &err) == 0) {
        /* exec only takes ps->process; a NULL one is refused. */
        if (ps->process != NULL)
            FUZZ_CHECK(ps->process->n_args == 0 || ps->process->args[0] != NULL);
        capsa_spec_free(ps);
    } else {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
    free(doc);
    return 0;
}
