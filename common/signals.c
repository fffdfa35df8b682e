/* signals.c - block the daemon's signals early, collect them with sigwait(). */
#include "signals.h"

#include <signal.h>
#include <pthread.h>

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

int signals_wait_hup(void (*on_hup)(void *ud), void *ud) {
    sigset_t set;
    signals_set(&set);
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGTERM || sig == SIGINT) return sig;
        if (sig == SIGHUP && on_hup != NULL) on_hup(ud);
        /* SIGQUIT: nothing to do; keep waiting. */
    }
}

int signals_wait(void) {
    return signals_wait_hup(NULL, NULL);
}
