/* fuzz_cgroup_stats.c - libFuzzer target: the cgroup file parsers behind
 * `capsa events --stats` (cpuacct.usage_percpu, cpu.stat, memory.stat,
 * blkio.*, io.stat, hugetlb.*, ...). They are static in cgroup_stats.c, so
 * they are reached through capsa_cgroup_stats on a fake cgroup (with
 * capsa_cgroup_pids for cgroup.procs and capsa_cgroup_is_frozen for
 * cgroup.freeze / freezer.state): a fresh
 * directory per input, filled with the files the input describes. A
 * delegated cgroup's contents are kernel text, but the parsers must hold up
 * against any content anyway.
 *
 * Input: one flag byte (bit 0: v2 layout, else v1), then pairs of
 * "file name\0content\0". Names with '/' or starting with '.' are skipped. */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "linux/cgroup.h"

#define MAX_FILES 32

static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d != NULL) {
        int dfd = dirfd(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] != '.')
                (void)unlinkat(dfd, e->d_name, 0);
        }
        closedir(d);
    }
    (void)rmdir(path);
}

static void write_files(int dfd, const uint8_t *data, size_t size)
{
    size_t off = 0;
    for (int n = 0; n < MAX_FILES && off < size; n++) {
        const uint8_t *name = data + off;
        const uint8_t *nend = memchr(name, '\0', size - off);
        if (nend == NULL)
            return;
        off = (size_t)(nend - data) + 1;
        const uint8_t *body = data + off;
        const uint8_t *bend = memchr(body, '\0', size - off);
        size_t blen = bend != NULL ? (size_t)(bend - body) : size - off;
        off += blen + 1;
        if (name[0] == '\0' || name[0] == '.' || memchr(name, '/', (size_t)(nend - name)))
            continue;
        int fd = openat(dfd, (const char *)name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0)
            continue;
        if (blen > 0 && write(fd, body, blen) < 0) {
            /* A short or failed write only means less content. */
        }
        close(fd);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return -1;
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    char dir[64];
    snprintf(dir, sizeof dir, "%s/capsa-fuzz-XXXXXX", base);
    if (mkdtemp(dir) == NULL)
        return 0;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        write_files(dfd, data + 1, size - 1);
        close(dfd);
    }
    bool v2 = (data[0] & 1) != 0;
    static const char *const v1_ctrls[] = {"cpu",   "cpuacct", "memory", "pids",
                                           "blkio", "hugetlb", "freezer"};
    static const char *const v2_ctrls[] = {"cpu", "memory", "pids", "io", "hugetlb"};
    char *ctrls[8] = {0};
    size_t nc = v2 ? sizeof v2_ctrls / sizeof v2_ctrls[0] : sizeof v1_ctrls / sizeof v1_ctrls[0];
    for (size_t i = 0; i < nc; i++)
        ctrls[i] = (char *)(v2 ? v2_ctrls[i] : v1_ctrls[i]);
    struct capsa_cgroup_dir d = {.path = dir, .v2 = v2, .controllers = ctrls};
    struct capsa_cgroup cg = {.d = &d, .n = 1};
    struct capsa_cgroup_stats st;
    struct capsa_err err = {0};
    if (capsa_cgroup_stats(&cg, &st, &err) == 0)
        capsa_cgroup_stats_clear(&st);
    pid_t *pids = NULL;
    size_t n_pids = 0;
    if (capsa_cgroup_pids(&cg, &pids, &n_pids, &err) == 0)
        free(pids);
    (void)capsa_cgroup_is_frozen(&cg);
    remove_dir(dir);
    return 0;
}
