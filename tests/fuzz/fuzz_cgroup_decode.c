/* fuzz_cgroup_decode.c - libFuzzer target: the "cgroup" field of state.json
 * ("v1|v2 ctrl1,ctrl2 /abs/path" per line), which kill, pause, update and
 * delete use to find the directories they write to. Whatever decodes must
 * encode and decode again to the same thing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "linux/cgroup.h"

static size_t strv_len(char **v)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    char *text = fuzz_strndup(data, size);
    if (text == NULL)
        return 0;
    struct capsa_err err = {0};
    struct capsa_cgroup *cg = NULL;
    if (capsa_cgroup_decode(text, &cg, &err) == 0) {
        char *enc = NULL;
        FUZZ_CHECK(capsa_cgroup_encode(cg, &enc, &err) == 0);
        struct capsa_cgroup *back = NULL;
        FUZZ_CHECK(capsa_cgroup_decode(enc, &back, &err) == 0);
        FUZZ_CHECK(back->n == cg->n);
        for (size_t i = 0; i < cg->n; i++) {
            FUZZ_CHECK(cg->d[i].path != NULL && cg->d[i].path[0] == '/');
            FUZZ_CHECK(strcmp(back->d[i].path, cg->d[i].path) == 0);
            FUZZ_CHECK(back->d[i].v2 == cg->d[i].v2);
            /* "-" alone means none; as an item it is refused
             * (corpus/cgroup_decode/regress-dash-controller). */
            FUZZ_CHECK(strv_len(back->d[i].controllers) == strv_len(cg->d[i].controllers));
        }
        capsa_cgroup_free(back);
        free(enc);
        capsa_cgroup_free(cg);
    } else {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
    free(text);
    return 0;
}
