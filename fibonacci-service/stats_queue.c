/* stats_queue.c - per-n aggregation of waiting stats records: a uthash
 * keyed by n whose insertion order is the delivery order (oldest first),
 * one mutex, and a condition variable signalled only while the consumer
 * waits. Entries come from a free list filled at creation, so pushing never
 * allocates. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <uthash.h>

#include "clock.h"
#include "stats_queue.h"

/* stats.CacheResult values counted apart. */
#define CACHE_HIT  1
#define CACHE_MISS 2

typedef struct slot {
    stats_entry    e;
    struct slot   *next_free;
    UT_hash_handle hh;
} slot;

struct stats_queue {
    pthread_mutex_t lock;
    pthread_cond_t  nonempty;
    slot           *slots;      /* capacity of them, one block */
    slot           *free;
    slot           *waiting;    /* uthash by n, oldest first */
    stats_streams_entry streams;
    size_t          capacity;
    uint64_t        records;
    uint64_t        dropped;
    bool            consumer_waits;
    bool            woken;      /* stats_queue_wake() since the last pop */
};

stats_queue *stats_queue_create(size_t capacity) {
    if (capacity == 0) return NULL;
    stats_queue *q = calloc(1, sizeof(*q));
    if (q == NULL) return NULL;
    q->slots = calloc(capacity, sizeof(*q->slots));
    if (q->slots == NULL) {
        free(q);
        return NULL;
    }
    for (size_t i = 0; i < capacity; i++) {
        q->slots[i].next_free = i + 1 < capacity ? &q->slots[i + 1] : NULL;
    }
    q->free = q->slots;
    q->capacity = capacity;
    pthread_mutex_init(&q->lock, NULL);
    /* Deadlines are monotonic, so is the condition variable's clock. */
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->nonempty, &attr);
    pthread_condattr_destroy(&attr);
    return q;
}

void stats_queue_destroy(stats_queue *q) {
    if (q == NULL) return;
    HASH_CLEAR(hh, q->waiting);
    pthread_cond_destroy(&q->nonempty);
    pthread_mutex_destroy(&q->lock);
    free(q->slots);
    free(q);
}

static uint64_t sat_add(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void stats_queue_push(stats_queue *q, int32_t n, int64_t duration_ns,
                      uint8_t cache) {
    slot *s;

    pthread_mutex_lock(&q->lock);
    HASH_FIND(hh, q->waiting, &n, sizeof(n), s);
    if (s == NULL) {
        if (q->free == NULL) {              /* full: drop this record */
            q->dropped++;
            pthread_mutex_unlock(&q->lock);
            return;
        }
        s = q->free;
        q->free = s->next_free;
        s->e = (stats_entry){ .n = n, .min_ns = duration_ns,
                              .max_ns = duration_ns,
                              .first_ns = clock_mono_ns() };
        HASH_ADD(hh, q->waiting, e.n, sizeof(s->e.n), s);
    }
    stats_entry *e = &s->e;
    e->count++;
    e->sum_ns = sat_add(e->sum_ns, (uint64_t)duration_ns);
    if (duration_ns < e->min_ns) e->min_ns = duration_ns;
    if (duration_ns > e->max_ns) e->max_ns = duration_ns;
    if (cache == CACHE_HIT) e->hits++;
    else if (cache == CACHE_MISS) e->misses++;
    q->records++;
    bool wake = q->consumer_waits;
    pthread_mutex_unlock(&q->lock);
    if (wake) pthread_cond_signal(&q->nonempty);
}

void stats_queue_push_stream(stats_queue *q, uint64_t items,
                             int64_t duration_ns, bool complete) {
    pthread_mutex_lock(&q->lock);
    stats_streams_entry *st = &q->streams;
    if (st->count == 0) st->first_ns = clock_mono_ns();
    st->count++;
    st->items = sat_add(st->items, items);
    st->sum_ns = sat_add(st->sum_ns, (uint64_t)duration_ns);
    if (!complete) st->incomplete++;
    bool wake = q->consumer_waits;
    pthread_mutex_unlock(&q->lock);
    if (wake) pthread_cond_signal(&q->nonempty);
}

void stats_queue_wake(stats_queue *q) {
    pthread_mutex_lock(&q->lock);
    q->woken = true;
    pthread_mutex_unlock(&q->lock);
    pthread_cond_signal(&q->nonempty);
}

size_t stats_queue_pop(stats_queue *q, stats_entry *out, size_t max,
                       stats_streams_entry *streams, int64_t deadline_ns) {
    struct timespec ts = {
        .tv_sec = deadline_ns / 1000000000,
        .tv_nsec = deadline_ns % 1000000000,
    };
    pthread_mutex_lock(&q->lock);
    while (q->waiting == NULL && q->streams.count == 0 && !q->woken
           && deadline_ns > 0) {
        q->consumer_waits = true;
        int rc = pthread_cond_timedwait(&q->nonempty, &q->lock, &ts);
        q->consumer_waits = false;
        if (rc == ETIMEDOUT) break;
    }
    q->woken = false;
    size_t k = 0;
    while (k < max && q->waiting != NULL) {
        slot *s = q->waiting;               /* the oldest */
        HASH_DEL(q->waiting, s);
        out[k++] = s->e;
        q->records -= s->e.count;
        s->next_free = q->free;
        q->free = s;
    }
    *streams = q->streams;
    q->streams = (stats_streams_entry){ 0 };
    pthread_mutex_unlock(&q->lock);
    return k;
}

size_t stats_queue_len(stats_queue *q) {
    pthread_mutex_lock(&q->lock);
    size_t len = HASH_COUNT(q->waiting);
    pthread_mutex_unlock(&q->lock);
    return len;
}

uint64_t stats_queue_records(stats_queue *q) {
    pthread_mutex_lock(&q->lock);
    uint64_t r = q->records;
    pthread_mutex_unlock(&q->lock);
    return r;
}

uint64_t stats_queue_dropped(stats_queue *q) {
    pthread_mutex_lock(&q->lock);
    uint64_t d = q->dropped;
    pthread_mutex_unlock(&q->lock);
    return d;
}
