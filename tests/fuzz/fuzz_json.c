/* fuzz_json.c - libFuzzer target: util/json.c, the parser of every config.json
 * and state.json, differentially against jansson (JSON_REJECT_DUPLICATES |
 * JSON_DECODE_ANY | JSON_ALLOW_NUL), the reference for what valid JSON is.
 * Both must accept and reject the same inputs, and decode accepted ones to
 * the same tree. Two known, deliberate differences: our nesting limit is
 * lower (CAPSA_JSON_MAX_DEPTH against jansson's 2048), and jansson accepts a
 * scalar followed by a NUL byte ("5\0"), which we refuse. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "json_same.h"
#include "util/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    struct capsa_jdoc doc;
    struct capsa_jerror e;
    int r = capsa_json_parse((const char *)data, size, 0, &doc, &e);
    json_error_t je;
    json_t *j = json_loadb((const char *)data, size,
                           JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (r == 0) {
        FUZZ_CHECK(j != NULL);
        FUZZ_CHECK(json_same(&doc.root, j));
        capsa_json_free(&doc);
    } else {
        FUZZ_CHECK(e.text[0] != '\0' && e.line >= 1 && e.column >= 1);
        FUZZ_CHECK(j == NULL || strstr(e.text, "nesting") != NULL || memchr(data, 0, size) != NULL);
    }
    json_decref(j);
    return 0;
}
