/* compute_pool.h - a fixed set of threads that run heavy jobs (computing
 * F(n) with GMP) off the gRPC server threads, fed by a bounded FIFO queue.
 *
 * A full queue refuses a job at once instead of letting callers pile up:
 * the caller answers RESOURCE_EXHAUSTED, and the server threads stay free
 * for cheap calls (small n, cache hits, health checks). */
#ifndef COMPUTE_POOL_H
#define COMPUTE_POOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct compute_pool compute_pool;

typedef void (*compute_job_fn)(void *arg);

/* `threads` threads (at least 1) and room for `queue_max` waiting jobs (at
 * least 1). NULL, after logging why, if a thread cannot start. */
compute_pool *compute_pool_start(int threads, size_t queue_max);

/* Queue fn(arg) to run on a pool thread. False, and fn is not run, when
 * queue_max jobs are waiting already or the pool is stopping. */
bool compute_pool_submit(compute_pool *p, compute_job_fn fn, void *arg);

/* Queue the next step of work already admitted (the next item of a
 * stream), even when queue_max jobs are waiting: it goes behind them, so
 * long work yields to other callers between steps. Each admitted piece of
 * work has at most one step queued, so the queue stays bounded by
 * queue_max plus the streams in progress. False only when stopping. */
bool compute_pool_continue(compute_pool *p, compute_job_fn fn, void *arg);

/* Jobs waiting, not yet started. */
size_t compute_pool_waiting(compute_pool *p);

/* Run what is queued, then stop the threads and free the pool. */
void compute_pool_stop(compute_pool *p);

#endif
