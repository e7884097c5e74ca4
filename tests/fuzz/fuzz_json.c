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
#include "util/json.h"

static bool same(const struct capsa_jv *a, const json_t *b)
{
    switch (a->type) {
    case CAPSA_J_NULL:
        return json_is_null(b);
    case CAPSA_J_TRUE:
        return json_is_true(b);
    case CAPSA_J_FALSE:
        return json_is_false(b);
    case CAPSA_J_INT:
        return json_is_integer(b) && json_integer_value(b) == a->u.i;
    case CAPSA_J_UINT:
        return false; /* only with CAPSA_JSON_UINT64, never asked for here */
    case CAPSA_J_REAL:
        return json_is_real(b) && json_real_value(b) == a->u.d;
    case CAPSA_J_STRING:
        return json_is_string(b) && json_string_length(b) == a->n &&
               memcmp(json_string_value(b), a->u.s, a->n) == 0 && a->u.s[a->n] == '\0';
    case CAPSA_J_ARRAY:
        if (!json_is_array(b) || json_array_size(b) != a->n)
            return false;
        for (uint32_t i = 0; i < a->n; i++)
            if (!same(&a->u.items[i], json_array_get(b, i)))
                return false;
        return true;
    case CAPSA_J_OBJECT:
        if (!json_is_object(b) || json_object_size(b) != a->n)
            return false;
        for (uint32_t i = 0; i < a->n; i++) {
            const struct capsa_jmember *m = &a->u.members[i];
            const json_t *v = json_object_getn(b, m->key, m->keylen);
            if (v == NULL || !same(&m->v, v) || strlen(m->key) != m->keylen)
                return false;
            /* capsa_jv_get finds every member by name. */
            if (capsa_jv_get(a, m->key) != &m->v)
                return false;
        }
        return true;
    }
    return false;
}

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
        FUZZ_CHECK(same(&doc.root, j));
        capsa_json_free(&doc);
    } else {
        FUZZ_CHECK(e.text[0] != '\0' && e.line >= 1 && e.column >= 1);
        FUZZ_CHECK(j == NULL || strstr(e.text, "nesting") != NULL || memchr(data, 0, size) != NULL);
    }
    json_decref(j);
    return 0;
}
