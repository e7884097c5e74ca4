/* config.c - the runtime entry's settings: whether the vm level may run a
 * VM without KVM (capsa_ctx.allow_tcg: --allow-tcg, or "allow_tcg = true"
 * in the configuration file below), and the default isolation level
 * (capsa_ctx.default_level), for the containers whose config does not
 * choose one:
 *   1. --isolation LEVEL;
 *   2. the name the binary was started under: capsa-LEVEL (a symlink or a
 *      copy, so that a containerd runtime entry, a Kubernetes RuntimeClass
 *      or `podman --runtime` can name one without annotations);
 *   3. the configuration file, $CAPSA_CONFIG or /etc/capsa/capsa.conf:
 *      lines "isolation = LEVEL" (and "allow_tcg = true|false"); '#' starts
 *      a comment; other keys are refused so that a typo does not go
 *      unnoticed. The file is read in every case, for allow_tcg.
 * The library checks the name against its table of levels. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CONFIG_DEFAULT "/etc/capsa/capsa.conf"

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* Read the configuration file; a missing default file is no error. */
static int read_config(char *level, size_t size, bool *allow_tcg)
{
    const char *env = getenv("CAPSA_CONFIG");
    bool given = env && env[0];
    const char *path = given ? env : CONFIG_DEFAULT;
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT && !given)
            return 0;
        fprintf(stderr, "capsa: configuration file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[512];
    int r = 0, n = 0;
    while (r == 0 && fgets(line, sizeof line, f) != NULL) {
        n++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (*s == '\0')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            fprintf(stderr, "capsa: %s:%d: expected \"key = value\"\n", path, n);
            r = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        if (strcmp(key, "allow_tcg") == 0) {
            if (strcmp(val, "true") == 0 || strcmp(val, "false") == 0) {
                *allow_tcg = *allow_tcg || strcmp(val, "true") == 0;
            } else {
                fprintf(stderr, "capsa: %s:%d: allow_tcg: true or false, not \"%s\"\n", path, n,
                        val);
                r = -1;
            }
        } else if (strcmp(key, "isolation") != 0) {
            fprintf(stderr, "capsa: %s:%d: unknown key \"%s\" (known: isolation, allow_tcg)\n",
                    path, n, key);
            r = -1;
        } else if (strlen(val) == 0 || strlen(val) >= size) {
            fprintf(stderr, "capsa: %s:%d: isolation: a level name is required\n", path, n);
            r = -1;
        } else {
            snprintf(level, size, "%s", val);
        }
    }
    (void)fclose(f);
    return r;
}

int cli_default_level(const char *argv0, const char *flag, char *level, size_t size,
                      bool *allow_tcg)
{
    level[0] = '\0';
    if (read_config(level, size, allow_tcg) < 0)
        return -1;
    const char *base = argv0 ? strrchr(argv0, '/') : NULL;
    base = base ? base + 1 : argv0;
    if (flag != NULL)
        snprintf(level, size, "%s", flag);
    else if (base && strncmp(base, "capsa-", 6) == 0 && base[6] != '\0')
        snprintf(level, size, "%s", base + 6);
    return 0;
}
