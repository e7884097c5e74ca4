/* fuzz_resources.c - libFuzzer target: the LinuxResources JSON that
 * `capsa update --resources` reads (a file or stdin, from the caller), parsed
 * with capsa_spec_parse_resources and then run through the pure conversions
 * the update applies before writing cgroup files. */
#include <stdint.h>

#include "fuzz.h"
#include "fuzz_res.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    struct capsa_err err = {0};
    struct capsa_resources *res = NULL;
    if (capsa_spec_parse_resources((const char *)data, size, &res, &err) < 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
        return 0;
    }
    FUZZ_CHECK(res != NULL);
    fuzz_exercise_resources(res);
    capsa_resources_free(res);
    return 0;
}
