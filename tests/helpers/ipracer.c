/* ipracer - static helper run inside an interpose container: tries to win a
 * check-then-use race against the supervisor.
 *
 *   ipracer N ALLOWED HIDDEN MARKER
 *
 * One thread flips a path buffer between ALLOWED and HIDDEN in a tight loop
 * while the main thread calls open() on that buffer N times and reads what
 * it got. Were the supervisor to check the path it read from our memory and
 * then let the kernel read it again (or read it twice itself), some open
 * would check ALLOWED and open HIDDEN. A read whose content holds MARKER
 * (the hidden file's) is such a win.
 *
 * It goes on past N opens until both outcomes have been seen at least once
 * (an open of ALLOWED that read its content, and one refused), so that the
 * race is known to have been run with both paths, up to 100 * N opens.
 *
 * Prints "opens O allowed A refused R other T leaked L" and exits 0 when
 * nothing leaked and both outcomes were seen, 1 when MARKER was read, 3 when
 * the race was not exercised (one outcome never seen), 2 on usage errors. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char buf[256] __attribute__((aligned(64)));
static const char *path_a, *path_b;
static atomic_int stop;

static void *flipper(void *arg)
{
    (void)arg;
    size_t la = strlen(path_a) + 1, lb = strlen(path_b) + 1;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        memcpy(buf, path_a, la);
        __asm__ volatile("" ::: "memory");
        memcpy(buf, path_b, lb);
        __asm__ volatile("" ::: "memory");
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: ipracer N ALLOWED HIDDEN MARKER\n");
        return 2;
    }
    long n = strtol(argv[1], NULL, 10);
    path_a = argv[2];
    path_b = argv[3];
    const char *marker = argv[4];
    if (n <= 0 || strlen(path_a) >= sizeof buf || strlen(path_b) >= sizeof buf || !marker[0]) {
        fprintf(stderr, "ipracer: bad arguments\n");
        return 2;
    }
    /* What ALLOWED holds, to recognise an open that got it. */
    char want[256];
    int fd = open(path_a, O_RDONLY | O_CLOEXEC);
    ssize_t wl = fd < 0 ? -1 : read(fd, want, sizeof want - 1);
    if (fd >= 0)
        close(fd);
    if (wl <= 0) {
        fprintf(stderr, "ipracer: cannot read %s: %s\n", path_a, strerror(errno));
        return 2;
    }
    want[wl] = '\0';
    memcpy(buf, path_a, strlen(path_a) + 1);
    pthread_t t;
    int e = pthread_create(&t, NULL, flipper, NULL);
    if (e != 0) {
        fprintf(stderr, "ipracer: pthread_create: %s\n", strerror(e));
        return 2;
    }
    long opens = 0, allowed = 0, refused = 0, other = 0, leaked = 0;
    for (; opens < n || ((allowed == 0 || refused == 0) && opens < 100 * n); opens++) {
        fd = open(buf, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            refused++;
            continue;
        }
        char got[256];
        ssize_t gl = read(fd, got, sizeof got - 1);
        close(fd);
        got[gl > 0 ? gl : 0] = '\0';
        if (strstr(got, marker) != NULL)
            leaked++;
        else if (gl == wl && memcmp(got, want, (size_t)wl) == 0)
            allowed++;
        else
            other++;
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("opens %ld allowed %ld refused %ld other %ld leaked %ld\n", opens, allowed, refused,
           other, leaked);
    if (leaked > 0)
        return 1;
    return allowed > 0 && refused > 0 ? 0 : 3;
}
