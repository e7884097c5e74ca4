/* floor.c - the least work any OCI runtime must do to run a command in a container, as one
 * static program: the benchmark's lower bound ("floor").
 *
 *   floor ROOTFS CMD [ARG...]
 *
 * clone(NEWNS|NEWPID|NEWUTS|NEWIPC|NEWNET) -> make / rprivate -> bind ROOTFS onto itself ->
 * chdir, pivot_root(".", ".") + umount2(".", MNT_DETACH) -> mount proc -> sethostname ->
 * execve CMD; the parent waits and exits with the child's status (128+N for signal N, 125 when
 * setting up failed). No config parsing, cgroups, /dev, capabilities, seccomp or state files:
 * whatever a runtime spends beyond this is its own overhead. Must run as real root. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define STACK_SIZE (256 * 1024)
#define HOSTNAME   "floor"

struct child_args {
    const char *rootfs;
    char **cmd;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Prints "floor: <what>: <strerror(errno)>" and exits 125, the runtimes' set-up failure code. */
static void die(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    fputs("floor: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, ": %s\n", strerror(saved));
    _exit(125);
}

static int child_main(void *arg)
{
    const struct child_args *a = arg;
    static char *const envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};

    /* Our mounts must not propagate back to the host's namespace. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        die("make / rprivate");
    /* pivot_root needs the new root to be a mount point. */
    if (mount(a->rootfs, a->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
        die("bind %s onto itself", a->rootfs);
    if (chdir(a->rootfs) < 0)
        die("chdir %s", a->rootfs);
    /* pivot_root(".", ".") stacks the old root on top of the new one; detaching "." then drops
     * the old root, with no need for a put_old directory inside the rootfs. */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        die("pivot_root");
    if (umount2(".", MNT_DETACH) < 0)
        die("umount old root");
    if (chdir("/") < 0)
        die("chdir /");
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        die("mount proc on /proc");
    if (sethostname(HOSTNAME, strlen(HOSTNAME)) < 0)
        die("sethostname");
    execve(a->cmd[0], a->cmd, envp);
    die("execve %s", a->cmd[0]);
}

int main(int argc, char **argv)
{
    struct child_args a;
    int status;
    void *stack;
    pid_t pid, w;

    if (argc < 3) {
        fputs("usage: floor ROOTFS CMD [ARG...]\n", stderr);
        return 2;
    }
    a.rootfs = argv[1];
    a.cmd = &argv[2];

    stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                 -1, 0);
    if (stack == MAP_FAILED)
        die("mmap child stack");
    pid = clone(child_main, (char *)stack + STACK_SIZE,
                CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | SIGCHLD,
                &a);
    if (pid < 0)
        die("clone");
    do {
        w = waitpid(pid, &status, 0);
    } while (w < 0 && errno == EINTR);
    if (w < 0)
        die("waitpid");
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    fprintf(stderr, "floor: unexpected wait status 0x%x\n", (unsigned)status);
    return 125;
}
