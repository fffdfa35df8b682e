/* clock.c - monotonic and wall-clock time in nanoseconds. */
#include "clock.h"

#include <time.h>

static int64_t clock_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int64_t clock_mono_ns(void) { return clock_ns(CLOCK_MONOTONIC); }
int64_t clock_real_ns(void) { return clock_ns(CLOCK_REALTIME); }
