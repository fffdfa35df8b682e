/* fib_cache.h - a thread-safe, byte-bounded LRU cache of exact Fibonacci
 * values, with one computation per key however many callers miss at once.
 *
 * What is cached: the decimal strings of F(n) for n > FIB_SMALL_MAX only.
 * Small n is answered from a static int64 table in nanoseconds, far cheaper
 * than a lock and a hash lookup, so it never comes here. Above 92 the values
 * cost a GMP computation and grow fast (F(1000000) has 208988 digits), so
 * they are kept, bounded by the bytes they take.
 *
 * Entries are reference counted: a caller gets a reference that stays valid
 * (even if the entry is evicted meanwhile) until fib_cache_release(). The
 * reply is packed straight from the cached string. Measured here for
 * F(1000000): a hit with get + release takes ~11 ns, while copying its
 * 208988 digits takes 9-45 us, which under the lock would serialise every
 * hit; the refcount is one atomic counter and a free on the last release. */
#ifndef FIB_CACHE_H
#define FIB_CACHE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fib_cache fib_cache;
typedef struct fib_entry fib_entry;

/* Computes the decimal value of F(n): a malloc'd string and its length, or
 * NULL when it fails. fib_decimal() in production (which never fails: it
 * aborts when out of memory, see common/mem.h), a stub in tests. */
typedef char *(*fib_compute_fn)(unsigned long n, size_t *len);

typedef enum {
    FIB_CACHE_HIT,    /* the value was in the cache */
    FIB_CACHE_MISS    /* computed by this caller, or by another one that
                         this caller waited for */
} fib_cache_result;

typedef struct {
    uint64_t hits;          /* lookups answered from the cache */
    uint64_t misses;        /* lookups that found no ready value */
    uint64_t computations;  /* calls to the compute function */
    uint64_t evictions;     /* entries dropped to stay within the budget */
    uint64_t uncached;      /* values bigger than the whole budget */
    size_t   bytes;         /* bytes the cached entries account for */
    size_t   entries;       /* cached entries */
} fib_cache_stats;

/* A cache holding at most max_bytes (as counted by fib_cache_cost()). */
fib_cache *fib_cache_create(size_t max_bytes, fib_compute_fn compute);

/* Frees the cache. No lookup may be running; references still held by
 * callers stay valid until released. */
void fib_cache_destroy(fib_cache *c);

/* F(n) from the cache, computing it on a miss. Returns a reference to
 * release with fib_cache_release(), or NULL when computing failed. *result
 * (may be NULL) says whether it was a hit. */
fib_entry *fib_cache_get(fib_cache *c, unsigned long n,
                         fib_cache_result *result);

/* F(n) if it is cached and ready, counted as a hit; NULL otherwise, without
 * computing, waiting or counting anything. Cheap enough for a server
 * thread; a NULL answer sends the caller to fib_cache_get() elsewhere. */
fib_entry *fib_cache_peek(fib_cache *c, unsigned long n);

/* The decimal value held by a reference, and its length. */
const char *fib_entry_value(const fib_entry *e, size_t *len);

/* Drop a reference from fib_cache_get(). */
void fib_cache_release(fib_entry *e);

/* What an entry with a value of `len` digits counts against the budget:
 * the string, its NUL and the entry's own bookkeeping. */
size_t fib_cache_cost(size_t len);

void fib_cache_get_stats(fib_cache *c, fib_cache_stats *out);

#endif
