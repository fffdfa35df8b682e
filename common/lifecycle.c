/* lifecycle.c - readiness, watchdog and the two-step drain (lifecycle.h). */
#include "lifecycle.h"

#include <signal.h>

#include "clock.h"
#include "log.h"
#include "sd_notify.h"
#include "signals.h"

static const char *signal_name(int sig) {
    return sig == SIGTERM ? "SIGTERM" : sig == SIGINT ? "SIGINT" : "signal";
}

typedef struct {
    int64_t watchdog_ns;            /* 0: no watchdog */
    void  (*on_hup)(void *ud);
    void   *ud;
} waiter;

/* Wait for SIGTERM/SIGINT until `deadline` (mono ns; INT64_MAX: forever),
 * feeding the watchdog and passing SIGHUPs on meanwhile. Returns the
 * signal, or 0 once the deadline passed. */
static int wait_signal(const waiter *w, int64_t deadline) {
    for (;;) {
        int64_t until = deadline;
        if (w->watchdog_ns > 0) {
            int64_t ping = clock_mono_ns() + w->watchdog_ns;
            if (ping < until) until = ping;
        }
        int sig = signals_wait_until(until, w->on_hup, w->ud);
        if (sig != 0) return sig;
        if (until == deadline) return 0;
        sd_notify_send("WATCHDOG=1");
    }
}

int lifecycle_serve(rpc_server *s, const char *status, int64_t grace_ns,
                    int64_t drain_ns, void (*on_hup)(void *ud), void *ud) {
    waiter w = {sd_notify_watchdog_interval(), on_hup, ud};
    int sig;

    sd_notify_send("READY=1\nSTATUS=%s", status);
    sig = wait_signal(&w, INT64_MAX);

    log_line l;
    if (log_begin(&l, LOG_INFO, "stopping")) {
        log_str(&l, "signal", signal_name(sig));
        log_int(&l, "drain_grace_ms", grace_ns / 1000000);
        log_int(&l, "drain_timeout_ms", drain_ns / 1000000);
        log_end(&l);
    }
    sd_notify_send("STOPPING=1\nSTATUS=%s: NOT_SERVING, draining",
                   signal_name(sig));
    rpc_server_set_serving(s, false);
    if (grace_ns > 0 &&
        wait_signal(&w, clock_mono_ns() + grace_ns) != 0)
        log_msg(LOG_INFO, "drain_grace_cut", "second signal: grace cut short");
    sd_notify_send("STATUS=draining calls in flight");
    rpc_server_shutdown(s, drain_ns);
    return sig;
}
