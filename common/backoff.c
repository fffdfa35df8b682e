/* backoff.c - exponential backoff with xorshift64 jitter. */
#include "backoff.h"

#include <pthread.h>
#include <stdint.h>

#include "clock.h"

static uint64_t xorshift64(uint64_t *s) {
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ULL;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* base * multiplier^(retry-1), stopping as soon as it reaches max, so a large
 * retry count can neither overflow nor loop for long. */
int64_t backoff_nominal(const backoff_policy *p, unsigned retry) {
    if (p->base <= 0) return 0;
    if (p->max < p->base) return p->max > 0 ? p->max : 0;
    double d = (double)p->base;
    for (unsigned i = 1; i < retry && d < (double)p->max; i++) {
        if (p->multiplier <= 1.0) break;
        d *= p->multiplier;
    }
    if (d >= (double)p->max) return p->max;
    return (int64_t)d;
}

int64_t backoff_delay(const backoff_policy *p, unsigned retry, uint64_t *rng) {
    int64_t d = backoff_nominal(p, retry);
    double j = p->jitter;
    if (j <= 0.0 || d <= 0) return d;
    if (j > 1.0) j = 1.0;
    /* 53 random bits -> u in [0, 1); delay in [d*(1-j), d]. */
    double u = (double)(xorshift64(rng) >> 11) / 9007199254740992.0;
    double lo = (double)d * (1.0 - j);
    int64_t r = (int64_t)(lo + ((double)d - lo) * u);
    if (r > d) r = d;
    if (r < (int64_t)lo) r = (int64_t)lo;
    return r;
}

uint64_t backoff_seed(void) {
    uint64_t s = (uint64_t)clock_mono_ns() ^ ((uint64_t)clock_real_ns() << 17);
    s ^= (uint64_t)(uintptr_t)pthread_self() * 0x9E3779B97F4A7C15ULL;
    s ^= (uint64_t)(uintptr_t)&s;
    xorshift64(&s);
    return s ? s : 1;
}
