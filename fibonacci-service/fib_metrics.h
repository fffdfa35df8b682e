/* fib_metrics.h - fibonacci-service's own Prometheus metrics (the gRPC
 * server's and the process's come from common/): the cache's counters and
 * size, read from the cache when scraped, and the time GMP takes to compute
 * F(n) on a cache miss. */
#ifndef FIB_METRICS_H
#define FIB_METRICS_H

#include <stddef.h>

#include "fib_cache.h"

/* Register the cache's metrics; `cache` must outlive every scrape. */
void fib_metrics_register(fib_cache *cache);

/* fib_decimal(), timed into fib_compute_seconds: the cache's compute
 * function in production. */
char *fib_metrics_timed_decimal(unsigned long n, size_t *len);

#endif
