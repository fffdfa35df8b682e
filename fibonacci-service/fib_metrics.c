/* fib_metrics.c - the cache and compute metrics of fibonacci-service
 * (fib_metrics.h). Values the cache counts already are read from
 * fib_cache_get_stats() at scrape time, so the hot path pays nothing. */
#include "fib_metrics.h"

#include "clock.h"
#include "fib.h"
#include "metrics.h"

static metric *compute_seconds;

typedef enum {
    CACHE_HITS, CACHE_MISSES, CACHE_COMPUTATIONS, CACHE_EVICTIONS,
    CACHE_ENTRIES, CACHE_BYTES, CACHE_NFIELDS
} cache_field;

typedef struct {
    fib_cache  *cache;
    cache_field field;
} cache_reader;

static cache_reader readers[CACHE_NFIELDS];

static double read_cache(void *ud) {
    const cache_reader *r = ud;
    fib_cache_stats st;
    fib_cache_get_stats(r->cache, &st);
    switch (r->field) {
    case CACHE_HITS:         return (double)st.hits;
    case CACHE_MISSES:       return (double)st.misses;
    case CACHE_COMPUTATIONS: return (double)st.computations;
    case CACHE_EVICTIONS:    return (double)st.evictions;
    case CACHE_ENTRIES:      return (double)st.entries;
    case CACHE_BYTES:        return (double)st.bytes;
    default:                 return 0;
    }
}

void fib_metrics_register(fib_cache *cache) {
    static const struct {
        const char *name;
        metric_type type;
        const char *help;
    } defs[CACHE_NFIELDS] = {
        {"fib_cache_hits_total", METRIC_COUNTER,
         "Lookups of F(n), n > 92, answered from the cache."},
        {"fib_cache_misses_total", METRIC_COUNTER,
         "Lookups of F(n), n > 92, that found no value ready."},
        {"fib_cache_computations_total", METRIC_COUNTER,
         "Values of F(n) computed with GMP."},
        {"fib_cache_evictions_total", METRIC_COUNTER,
         "Cache entries dropped to stay within --cache-bytes."},
        {"fib_cache_entries", METRIC_GAUGE, "Values of F(n) in the cache."},
        {"fib_cache_bytes", METRIC_GAUGE,
         "Bytes the cached values take, counted against --cache-bytes."},
    };
    for (int i = 0; i < CACHE_NFIELDS; i++) {
        readers[i] = (cache_reader){cache, (cache_field)i};
        metrics_func(defs[i].name, defs[i].type, defs[i].help, read_cache,
                     &readers[i]);
    }
    compute_seconds = metrics_histogram("fib_compute_seconds",
        "Time to compute one F(n) with GMP (cache misses, n > 92).");
}

char *fib_metrics_timed_decimal(unsigned long n, size_t *len) {
    int64_t start = clock_mono_ns();
    char *v = fib_decimal(n, len);
    if (compute_seconds != NULL)
        metric_observe_ns(compute_seconds, clock_mono_ns() - start);
    return v;
}
