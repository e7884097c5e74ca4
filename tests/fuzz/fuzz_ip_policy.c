/* fuzz_ip_policy.c - libFuzzer target: the interpose level's policy
 * annotations (capsa.interpose.*), which come from whoever writes the
 * container's config (a Kubernetes pod's annotations pass through). Input:
 * lines "KEY=VALUE"; each key gets the capsa.interpose. prefix. A parsed
 * policy is then asked about a few paths and an address made of the input's
 * bytes, and freed. */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "level/interpose/interpose.h"

#define MAX_KV 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_MAX_INPUT)
        return -1;
    char *buf = malloc(size + 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    struct capsa_kv kv[MAX_KV];
    char *keys[MAX_KV] = {0};
    size_t n = 0;
    for (char *line = buf, *next; line != NULL && n < MAX_KV; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        char *eq = strchr(line, '=');
        if (eq == NULL)
            continue;
        *eq = '\0';
        size_t kl = strlen(line);
        keys[n] = malloc(kl + sizeof "capsa.interpose.");
        if (keys[n] == NULL)
            break;
        memcpy(keys[n], "capsa.interpose.", sizeof "capsa.interpose." - 1);
        memcpy(keys[n] + sizeof "capsa.interpose." - 1, line, kl + 1);
        kv[n].key = keys[n];
        kv[n].value = eq + 1;
        n++;
    }
    struct capsa_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.annotations = kv;
    spec.n_annotations = n;
    struct capsa_ip_policy p;
    struct capsa_err err = {0};
    if (capsa_ip_policy_parse(&spec, &p, &err) == 0) {
        static const char *const paths[] = {"/", "/etc", "/etc/shadow", "/proc/self/mem",
                                            "/data/ro/f"};
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
            int r = capsa_ip_policy_path(&p, paths[i], i % 2 == 0);
            FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EROFS || r == -EINVAL);
        }
        struct sockaddr_in6 a6;
        memset(&a6, 0, sizeof a6);
        a6.sin6_family = AF_INET6;
        memcpy(&a6.sin6_addr, data, size < 16 ? size : 16);
        (void)capsa_ip_policy_addr(&p, (struct sockaddr *)&a6, sizeof a6);
        struct sockaddr_in a4;
        memset(&a4, 0, sizeof a4);
        a4.sin_family = AF_INET;
        memcpy(&a4.sin_addr, data, size < 4 ? size : 4);
        (void)capsa_ip_policy_addr(&p, (struct sockaddr *)&a4, sizeof a4);
        capsa_ip_policy_free(&p);
    } else {
        FUZZ_CHECK(err.msg[0] != '\0');
    }
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
    free(buf);
    return 0;
}
