/* signals.c - block the daemon's signals early, collect them with sigwait()
 * or, when there is a deadline, sigtimedwait(). */
#include "signals.h"

#include <errno.h>
#include <signal.h>
#include <pthread.h>
#include <time.h>

#include "clock.h"

static void signals_set(sigset_t *set) {
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGQUIT);
}

void signals_block(void) {
    sigset_t set;
    signals_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int signals_wait_until(int64_t deadline, void (*on_hup)(void *ud), void *ud) {
    sigset_t set;
    signals_set(&set);
    for (;;) {
        int sig;
        if (deadline == INT64_MAX) {
            if (sigwait(&set, &sig) != 0) continue;
        } else {
            int64_t left = deadline - clock_mono_ns();
            if (left <= 0) return 0;
            struct timespec ts = {left / 1000000000, left % 1000000000};
            sig = sigtimedwait(&set, NULL, &ts);
            if (sig < 0) {
                if (errno == EAGAIN) return 0;
                continue;                           /* EINTR */
            }
        }
        if (sig == SIGTERM || sig == SIGINT) return sig;
        if (sig == SIGHUP && on_hup != NULL) on_hup(ud);
        /* SIGQUIT: nothing to do; keep waiting. */
    }
}

int signals_wait_hup(void (*on_hup)(void *ud), void *ud) {
    return signals_wait_until(INT64_MAX, on_hup, ud);
}

int signals_wait(void) {
    return signals_wait_hup(NULL, NULL);
}
