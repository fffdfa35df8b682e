/* stats_queue.h - a bounded in-memory queue of per-request stats records,
 * between the request handlers (producers) and the stats sender (consumer).
 *
 * Pushing never blocks on anything but a short mutex and is O(1): when the
 * queue is full the OLDEST record is overwritten and counted as dropped, so
 * the newest records survive a long stats-service outage. */
#ifndef STATS_QUEUE_H
#define STATS_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One request as this daemon reports it (the stats-service's stats_record
 * is the same fact as that daemon stores it). */
typedef struct {
    int32_t n;
    uint8_t cache;          /* stats.CacheResult value */
    int64_t duration_ns;
} stats_report;

typedef struct stats_queue stats_queue;

/* A queue holding at most `capacity` (>= 1) records. */
stats_queue *stats_queue_create(size_t capacity);
void stats_queue_destroy(stats_queue *q);

/* Append a record, dropping the oldest one when full. */
void stats_queue_push(stats_queue *q, int32_t n, int64_t duration_ns,
                      uint8_t cache);

/* Move up to `max` of the oldest records into out[]; returns how many.
 * With none queued, waits until one is pushed, the queue is woken, or the
 * monotonic time `deadline_ns` passes (0: don't wait). */
size_t stats_queue_pop(stats_queue *q, stats_report *out, size_t max,
                       int64_t deadline_ns);

/* Wake a consumer waiting in stats_queue_pop() (used on shutdown). */
void stats_queue_wake(stats_queue *q);

size_t stats_queue_len(stats_queue *q);

/* Records dropped because the queue was full, since the start. */
uint64_t stats_queue_dropped(stats_queue *q);

#endif
