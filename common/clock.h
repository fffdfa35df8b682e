/* clock.h - monotonic and wall-clock time in nanoseconds. */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>

#define NS_PER_SEC 1000000000LL

int64_t clock_mono_ns(void);     /* CLOCK_MONOTONIC */
int64_t clock_real_ns(void);     /* CLOCK_REALTIME */

#endif
