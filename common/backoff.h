/* backoff.h - exponential backoff with jitter, for every retry loop.
 *
 * Shared by the daemons (stats delivery) and the nginx module (gRPC call
 * retries), so the schedule is the same everywhere. Pure computation: no
 * clocks, no sleeping, no allocation. */
#ifndef COMMON_BACKOFF_H
#define COMMON_BACKOFF_H

#include <stdint.h>

typedef struct {
    int64_t base;        /* delay before the first retry (any time unit) */
    int64_t max;         /* cap on any single delay, same unit */
    double  multiplier;  /* growth per attempt, e.g. 2.0 */
    double  jitter;      /* 0..1: the delay is drawn uniformly from
                            [d * (1 - jitter), d] */
} backoff_policy;

/* The delay before retry number `retry` (1 for the first retry):
 * d = min(max, base * multiplier^(retry-1)), then jittered. `rng` is the
 * caller's xorshift64 state (any non-zero seed); it is advanced. */
int64_t backoff_delay(const backoff_policy *p, unsigned retry, uint64_t *rng);

/* The un-jittered delay d for a retry, for tests and logs. */
int64_t backoff_nominal(const backoff_policy *p, unsigned retry);

/* A seed from the clock and the thread, never zero. */
uint64_t backoff_seed(void);

#endif
