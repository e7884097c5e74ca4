/* pause.c - the entrypoint of the locally built CRI "pause" image: sleep until a signal.
 *
 * A pod sandbox container only has to hold the pod's namespaces open, so PID 1 waits in pause()
 * forever. As PID 1 it gets no default signal actions, so TERM/INT/HUP are handled explicitly and
 * end it with status 0; that lets StopPodSandbox finish without waiting for a SIGKILL. Built with
 * `gcc -static` because the image has no libc. */
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void on_signal(int sig)
{
    (void)sig;
    _exit(0);
}

int main(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    for (;;)
        pause();
}
