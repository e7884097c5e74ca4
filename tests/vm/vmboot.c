/* vmboot.c - a test driver for the vm level's host side (no CLI): chooses
 * the guest kernel, builds (or reuses) the initramfs around INIT, boots it
 * through the QEMU backend with SHARE as the virtio-fs share and STATE as
 * the state directory, relays one line from the agent channel, and tears
 * everything down. Used by tests/integration/vm_boot.bats.
 *
 * usage: vmboot [--allow-tcg] [--kernel PATH] [--cache DIR] [--hold FIFO] INIT SHARE STATE
 *
 * stdout, one fact per line: "kernel PATH RELEASE", "initramfs PATH rebuilt=0|1",
 * "vmm-pid N", "fsd-pid N", "guest: LINE", "vmm-status N". With --hold it
 * waits, after the guest's line, until FIFO can be opened and read before
 * telling the guest to finish (so a test can look at the running VMM). On
 * failure: the error and the console log on stderr, exit status 1. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "level/vm/image.h"
#include "level/vm/vmm.h"
#include "util/util.h"

static void dump_console(const char *state)
{
    char p[PATH_MAX], buf[4096];
    snprintf(p, sizeof(p), "%s/%s", state, CAPSA_VM_CONSOLE);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    fprintf(stderr, "--- console log ---\n");
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        fwrite(buf, 1, (size_t)n, stderr);
    close(fd);
}

static int fail(const struct capsa_err *err, struct capsa_vm *vm, const char *state)
{
    fprintf(stderr, "vmboot: %s\n", err->msg);
    if (vm && vm->vmm_pid > 0) {
        dump_console(state);
        vm->ops->cleanup(vm);
    }
    return 1;
}

int main(int argc, char **argv)
{
    bool allow_tcg = false;
    const char *kernel = NULL, *cache = NULL, *hold = NULL;
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--allow-tcg") == 0)
            allow_tcg = true;
        else if (strcmp(argv[i], "--kernel") == 0 && i + 1 < argc)
            kernel = argv[++i];
        else if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc)
            cache = argv[++i];
        else if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc)
            hold = argv[++i];
        else
            break;
    }
    if (argc - i != 3) {
        fprintf(stderr, "usage: vmboot [--allow-tcg] [--kernel PATH] [--cache DIR] [--hold FIFO] "
                        "INIT SHARE STATE\n");
        return 2;
    }
    const char *init = argv[i], *share = argv[i + 1], *state = argv[i + 2];
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct capsa_err err = {0};
    struct capsa_vm_kernel k;
    if (capsa_vm_kernel_find(kernel, NULL, NULL, &k, &err) < 0)
        return fail(&err, NULL, state);
    printf("kernel %s %s\n", k.path, k.release);
    static const char *const wanted[] = CAPSA_VM_MODULES;
    struct capsa_vm_modules mods;
    if (capsa_vm_modules_resolve(&k, wanted, &mods, &err) < 0)
        return fail(&err, NULL, state);
    char *initrd = NULL;
    int rebuilt = 0;
    int r = capsa_vm_initramfs_get(cache, init, &mods, &initrd, &rebuilt, &err);
    capsa_vm_modules_free(&mods);
    if (r < 0)
        return fail(&err, NULL, state);
    printf("initramfs %s rebuilt=%d\n", initrd, rebuilt);

    struct capsa_vmm_config cfg = {
        .kernel = k.path,
        .initramfs = initrd,
        .mem_mib = 256,
        .vcpus = 1,
        .share_dir = share,
        .state_dir = state,
        .allow_tcg = allow_tcg,
        .kvm = -1,
    };
    struct capsa_vm vm;
    r = capsa_vmm_qemu.boot(&cfg, &vm, &err);
    free(initrd);
    if (r < 0)
        return fail(&err, NULL, state);
    printf("vmm-pid %d\nfsd-pid %d\n", (int)vm.vmm_pid, (int)vm.fsd_pid);

    int ch = -1;
    if (capsa_vm_channel_connect(&vm, &ch, &err) < 0)
        return fail(&err, &vm, state);
    char line[4096];
    size_t n = 0;
    for (;;) {
        char c;
        ssize_t got = read(ch, &c, 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0 || c == '\n')
            break;
        if (n + 1 < sizeof(line))
            line[n++] = c;
    }
    line[n] = '\0';
    printf("guest: %s\n", line);
    if (hold) {
        int h = open(hold, O_RDONLY | O_CLOEXEC);
        char b;
        if (h >= 0) {
            if (read(h, &b, 1) < 0)
                perror("vmboot: read the hold fifo");
            close(h);
        }
    }
    if (capsa_write_all(ch, "go\n", 3) < 0) {
        capsa_err_set(&err, errno, "write to the agent channel");
        return fail(&err, &vm, state);
    }
    int status = 0;
    if (vm.ops->wait(&vm, &status, &err) < 0)
        return fail(&err, &vm, state);
    close(ch);
    printf("vmm-status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    if (n == 0)
        dump_console(state);
    vm.ops->cleanup(&vm);
    return n > 0 ? 0 : 1;
}
