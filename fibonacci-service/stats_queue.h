/* stats_queue.h - per-request stats waiting for delivery, aggregated per n,
 * between the request handlers (producers) and the stats sender (consumer).
 *
 * A record for an n already waiting is folded into that n's entry (count,
 * duration sum, min, max, cache hits and misses), so what is held grows with
 * the number of distinct n, not with the number of requests: a long
 * stats-service outage at full load costs one entry per n. The bound is in
 * entries; a record of a new n past it is dropped and counted. Streams are
 * folded into one aggregate of their own. Pushing never blocks on anything
 * but a short mutex. */
#ifndef STATS_QUEUE_H
#define STATS_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every request for one n since its entry was taken. */
typedef struct {
    int32_t  n;
    uint64_t count;
    uint64_t sum_ns;        /* saturates at UINT64_MAX */
    int64_t  min_ns;
    int64_t  max_ns;
    uint64_t hits;          /* stats.CacheResult CACHE_HIT */
    uint64_t misses;        /* CACHE_MISS */
    int64_t  first_ns;      /* monotonic, the first of these requests */
} stats_entry;

/* Every stream (GetFibRange) that ended since the aggregate was taken:
 * one fixed entry, so streams are never dropped. */
typedef struct {
    uint64_t count;
    uint64_t items;         /* messages sent over them */
    uint64_t sum_ns;        /* saturates at UINT64_MAX */
    uint64_t incomplete;    /* ended before their last item */
    int64_t  first_ns;      /* monotonic, the first of these streams */
} stats_streams_entry;

typedef struct stats_queue stats_queue;

/* A queue holding at most `capacity` (>= 1) distinct n. */
stats_queue *stats_queue_create(size_t capacity);
void stats_queue_destroy(stats_queue *q);

/* Count one request, dropping it when its n is new and the queue full. */
void stats_queue_push(stats_queue *q, int32_t n, int64_t duration_ns,
                      uint8_t cache);

/* Count one stream that ended after sending `items` messages; `complete`
 * when it sent its last item. */
void stats_queue_push_stream(stats_queue *q, uint64_t items,
                             int64_t duration_ns, bool complete);

/* Move up to `max` of the oldest entries into out[], and the streams
 * aggregate into *streams (count 0: none); returns how many entries.
 * With neither queued, waits until one is pushed, the queue is woken, or
 * the monotonic time `deadline_ns` passes (0: don't wait). */
size_t stats_queue_pop(stats_queue *q, stats_entry *out, size_t max,
                       stats_streams_entry *streams, int64_t deadline_ns);

/* Wake a consumer waiting in stats_queue_pop() (used on shutdown). */
void stats_queue_wake(stats_queue *q);

/* Entries (distinct n) waiting. */
size_t stats_queue_len(stats_queue *q);

/* Requests waiting (the sum of the entries' counts). */
uint64_t stats_queue_records(stats_queue *q);

/* Records dropped because the queue was full, since the start. */
uint64_t stats_queue_dropped(stats_queue *q);

#endif
