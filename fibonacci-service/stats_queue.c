/* stats_queue.c - bounded drop-oldest ring buffer of stats records, one
 * mutex, and a condition variable signalled only while the consumer waits. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "stats_queue.h"
#include "mem.h"

struct stats_queue {
    pthread_mutex_t lock;
    pthread_cond_t  nonempty;
    stats_report   *ring;
    size_t          capacity;
    size_t          head;       /* index of the oldest record */
    size_t          len;
    uint64_t        dropped;
    bool            waiting;    /* the consumer sleeps on `nonempty` */
    bool            woken;      /* stats_queue_wake() since the last pop */
};

stats_queue *stats_queue_create(size_t capacity) {
    if (capacity == 0) return NULL;
    stats_queue *q = xcalloc(1, sizeof(*q));
    q->ring = xcalloc(capacity, sizeof(*q->ring));
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
    pthread_cond_destroy(&q->nonempty);
    pthread_mutex_destroy(&q->lock);
    free(q->ring);
    free(q);
}

void stats_queue_push(stats_queue *q, int32_t n, int64_t duration_ns,
                      uint8_t cache) {
    pthread_mutex_lock(&q->lock);
    if (q->len == q->capacity) {            /* full: drop the oldest */
        q->head = (q->head + 1) % q->capacity;
        q->len--;
        q->dropped++;
    }
    stats_report *r = &q->ring[(q->head + q->len) % q->capacity];
    r->n = n;
    r->duration_ns = duration_ns;
    r->cache = cache;
    q->len++;
    bool wake = q->waiting;
    pthread_mutex_unlock(&q->lock);
    if (wake) pthread_cond_signal(&q->nonempty);
}

void stats_queue_wake(stats_queue *q) {
    pthread_mutex_lock(&q->lock);
    q->woken = true;
    pthread_mutex_unlock(&q->lock);
    pthread_cond_signal(&q->nonempty);
}

size_t stats_queue_pop(stats_queue *q, stats_report *out, size_t max,
                       int64_t deadline_ns) {
    struct timespec ts = {
        .tv_sec = deadline_ns / 1000000000,
        .tv_nsec = deadline_ns % 1000000000,
    };
    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !q->woken && deadline_ns > 0) {
        q->waiting = true;
        int rc = pthread_cond_timedwait(&q->nonempty, &q->lock, &ts);
        q->waiting = false;
        if (rc == ETIMEDOUT) break;
    }
    q->woken = false;
    size_t k = q->len < max ? q->len : max;
    for (size_t i = 0; i < k; i++) {
        out[i] = q->ring[q->head];
        q->head = (q->head + 1) % q->capacity;
    }
    q->len -= k;
    pthread_mutex_unlock(&q->lock);
    return k;
}

size_t stats_queue_len(stats_queue *q) {
    pthread_mutex_lock(&q->lock);
    size_t len = q->len;
    pthread_mutex_unlock(&q->lock);
    return len;
}

uint64_t stats_queue_dropped(stats_queue *q) {
    pthread_mutex_lock(&q->lock);
    uint64_t d = q->dropped;
    pthread_mutex_unlock(&q->lock);
    return d;
}
