/* json_same.h - whether a util/json.c tree and a jansson tree are the same
 * document: the oracle of tests/unit/test_json.c and tests/fuzz/fuzz_json.c.
 * Objects are compared member by member, and every member must also be
 * found by capsa_jv_get. */
#ifndef CAPSA_TEST_JSON_SAME_H
#define CAPSA_TEST_JSON_SAME_H

#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "util/json.h"

static inline bool json_same(const struct capsa_jv *a, const json_t *b)
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
            if (!json_same(&a->u.items[i], json_array_get(b, i)))
                return false;
        return true;
    case CAPSA_J_OBJECT:
        if (!json_is_object(b) || json_object_size(b) != a->n)
            return false;
        for (uint32_t i = 0; i < a->n; i++) {
            const struct capsa_jmember *m = &a->u.members[i];
            const json_t *v = json_object_getn(b, m->key, m->keylen);
            if (v == NULL || !json_same(&m->v, v) || strlen(m->key) != m->keylen)
                return false;
            /* capsa_jv_get finds every member by name. */
            if (capsa_jv_get(a, m->key) != &m->v)
                return false;
        }
        return true;
    }
    return false;
}

#endif
