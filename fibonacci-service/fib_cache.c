/* fib_cache.c - byte-bounded LRU cache of Fibonacci decimal strings with
 * singleflight computation (see fib_cache.h for what is cached and why).
 *
 * One mutex guards the hash (uthash, keyed by n), the LRU list (utlist,
 * most recently used first) and the counters. An entry being computed sits
 * in the hash but not in the LRU list; callers that find it wait on the
 * cache's condition variable until it is ready. Reference counts are atomic
 * so a caller can release without taking the lock. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include "mem.h"          /* first: uthash allocates through it */
#include <uthash.h>
#include <utlist.h>

#include "fib_cache.h"

struct fib_entry {
    unsigned long  n;
    atomic_long    refs;      /* the cache's own (while in the hash) plus
                                 one per caller */
    char          *value;     /* NULL until computed */
    size_t         len;
    bool           ready;     /* value set, or failed (value NULL) */
    bool           in_lru;    /* counted in the budget and on the list */
    fib_entry     *prev, *next;
    UT_hash_handle hh;
};

struct fib_cache {
    pthread_mutex_t lock;
    pthread_cond_t  computed;  /* broadcast whenever an entry gets ready */
    fib_entry      *table;     /* uthash head */
    fib_entry      *lru;       /* utlist head: most recently used */
    size_t          max_bytes;
    fib_compute_fn  compute;
    fib_cache_stats stats;
};

size_t fib_cache_cost(size_t len) {
    return sizeof(fib_entry) + len + 1;
}

fib_cache *fib_cache_create(size_t max_bytes, fib_compute_fn compute) {
    fib_cache *c = xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->computed, NULL);
    c->max_bytes = max_bytes;
    c->compute = compute;
    return c;
}

static void entry_unref(fib_entry *e) {
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        free(e->value);
        free(e);
    }
}

void fib_cache_release(fib_entry *e) {
    entry_unref(e);
}

const char *fib_entry_value(const fib_entry *e, size_t *len) {
    if (len != NULL) *len = e->len;
    return e->value;
}

/* Take an entry out of the hash (and the LRU list and the budget if it is
 * there) and drop the cache's reference. Called with the lock held. */
static void entry_detach(fib_cache *c, fib_entry *e) {
    HASH_DEL(c->table, e);
    if (e->in_lru) {
        DL_DELETE(c->lru, e);
        c->stats.bytes -= fib_cache_cost(e->len);
        c->stats.entries--;
        e->in_lru = false;
    }
    entry_unref(e);
}

/* Evict least recently used entries until `need` more bytes fit. */
static void evict_for(fib_cache *c, size_t need) {
    while (c->lru != NULL && c->stats.bytes + need > c->max_bytes) {
        entry_detach(c, c->lru->prev);     /* utlist: head->prev is tail */
        c->stats.evictions++;
    }
}

/* Compute e's value outside the lock, then publish it: cache it if it fits
 * the budget at all, otherwise hand it only to this caller and the ones
 * already waiting for it. */
static void compute_entry(fib_cache *c, fib_entry *e) {
    size_t len = 0;
    char *value = c->compute(e->n, &len);

    pthread_mutex_lock(&c->lock);
    c->stats.computations++;
    e->value = value;
    e->len = len;
    e->ready = true;
    size_t cost = fib_cache_cost(len);
    if (value == NULL) {
        entry_detach(c, e);                 /* let a later caller retry */
    } else if (cost > c->max_bytes) {
        c->stats.uncached++;
        entry_detach(c, e);
    } else {
        evict_for(c, cost);
        DL_PREPEND(c->lru, e);
        e->in_lru = true;
        c->stats.bytes += cost;
        c->stats.entries++;
    }
    pthread_cond_broadcast(&c->computed);
    pthread_mutex_unlock(&c->lock);
}

/* A ready entry was found: count the hit, move it to the front of the LRU
 * list and take a reference for the caller. Lock held. */
static void take_hit(fib_cache *c, fib_entry *e) {
    c->stats.hits++;
    DL_DELETE(c->lru, e);
    DL_PREPEND(c->lru, e);
    atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
}

fib_entry *fib_cache_get(fib_cache *c, unsigned long n,
                         fib_cache_result *result) {
    fib_entry *e;

    pthread_mutex_lock(&c->lock);
    HASH_FIND(hh, c->table, &n, sizeof(n), e);
    if (e != NULL && e->ready) {
        take_hit(c, e);
        pthread_mutex_unlock(&c->lock);
        if (result != NULL) *result = FIB_CACHE_HIT;
        return e;
    }
    c->stats.misses++;
    if (result != NULL) *result = FIB_CACHE_MISS;

    if (e != NULL) {                        /* someone is computing it */
        atomic_fetch_add_explicit(&e->refs, 1, memory_order_relaxed);
        while (!e->ready) pthread_cond_wait(&c->computed, &c->lock);
        pthread_mutex_unlock(&c->lock);
        if (e->value == NULL) {             /* that computation failed */
            entry_unref(e);
            return NULL;
        }
        return e;
    }

    e = xcalloc(1, sizeof(*e));
    e->n = n;
    atomic_init(&e->refs, 2);               /* the cache's and ours */
    HASH_ADD(hh, c->table, n, sizeof(e->n), e);
    pthread_mutex_unlock(&c->lock);

    compute_entry(c, e);
    if (e->value == NULL) {
        entry_unref(e);
        return NULL;
    }
    return e;
}

fib_entry *fib_cache_peek(fib_cache *c, unsigned long n) {
    fib_entry *e;

    pthread_mutex_lock(&c->lock);
    HASH_FIND(hh, c->table, &n, sizeof(n), e);
    if (e != NULL && e->ready) take_hit(c, e);
    else e = NULL;
    pthread_mutex_unlock(&c->lock);
    return e;
}

void fib_cache_get_stats(fib_cache *c, fib_cache_stats *out) {
    pthread_mutex_lock(&c->lock);
    *out = c->stats;
    pthread_mutex_unlock(&c->lock);
}

void fib_cache_destroy(fib_cache *c) {
    if (c == NULL) return;
    fib_entry *e, *tmp;
    HASH_ITER(hh, c->table, e, tmp) entry_detach(c, e);
    pthread_cond_destroy(&c->computed);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
