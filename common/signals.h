/* signals.h - signal handling for multi-threaded daemons.
 *
 * gRPC starts threads of its own; a signal can be delivered to any thread
 * that does not block it. So the main thread blocks the signals it cares
 * about before grpc_init() (every thread started afterwards inherits the
 * mask) and later collects them synchronously with sigwait(). */
#ifndef COMMON_SIGNALS_H
#define COMMON_SIGNALS_H

#include <stdint.h>

/* Block SIGTERM, SIGINT, SIGHUP and SIGQUIT in the calling thread and
 * ignore SIGPIPE. Call first thing in main(). */
void signals_block(void);

/* Wait for SIGTERM or SIGINT (SIGHUP is ignored); returns the signal. */
int signals_wait(void);

/* The same, calling on_hup(ud) for each SIGHUP meanwhile (reload). */
int signals_wait_hup(void (*on_hup)(void *ud), void *ud);

/* The same until `deadline` (monotonic ns, clock.h; INT64_MAX: none);
 * returns 0 when it passed first. on_hup may be NULL. */
int signals_wait_until(int64_t deadline, void (*on_hup)(void *ud), void *ud);

#endif
