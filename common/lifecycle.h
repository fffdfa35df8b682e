/* lifecycle.h - a daemon's life after start-up: tell systemd it is ready,
 * keep its watchdog fed, and on SIGTERM/SIGINT drain in the order that lets
 * clients move away without a failed call:
 *
 *   1. STOPPING=1 to systemd; health turns NOT_SERVING at once (Check and
 *      every Watch stream see it), yet calls are still accepted;
 *   2. after `grace_ns` (cut short by a second SIGTERM/SIGINT) the server
 *      stops accepting, and calls in flight get up to `drain_ns`. */
#ifndef COMMON_LIFECYCLE_H
#define COMMON_LIFECYCLE_H

#include <stdint.h>

#include "rpc_server.h"

/* Serve `s` (started already) until a signal, then drain it as above.
 * `status` is the one-line STATUS= summary sent with READY=1; on_hup(ud)
 * (may be NULL) runs for each SIGHUP meanwhile. Returns the signal that
 * started the drain. */
int lifecycle_serve(rpc_server *s, const char *status, int64_t grace_ns,
                    int64_t drain_ns, void (*on_hup)(void *ud), void *ud);

#endif
