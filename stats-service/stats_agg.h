/* stats_agg.h - one n's aggregate (count, duration sum, min, max, cache
 * hits and misses) and the arithmetic every store shares: adding a record,
 * merging two aggregates, and turning one into a snapshot row.
 *
 * Counters saturate at UINT64_MAX instead of wrapping; the duration sum is
 * kept in 128 bits so averages stay exact long after the reported
 * total_duration_ns has saturated. */
#ifndef STATS_AGG_H
#define STATS_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "stats_store.h"

__extension__ typedef unsigned __int128 stats_u128;

typedef struct stats_agg {
    int32_t    n;
    uint64_t   count;       /* 0: empty, min/max meaningless */
    int64_t    min_ns;
    int64_t    max_ns;
    stats_u128 sum_ns;
    uint64_t   hits;
    uint64_t   misses;
} stats_agg;

/* a + b, stuck at UINT64_MAX instead of wrapping. */
uint64_t stats_sat_add(uint64_t a, uint64_t b);

/* Count record r `times` times into a (a->n is left alone). */
void stats_agg_add(stats_agg *a, const stats_record *r, uint64_t times);

/* Fold b into a (same n). */
void stats_agg_merge(stats_agg *a, const stats_agg *b);

/* The snapshot row for a non-empty aggregate. */
void stats_agg_row(stats_row *row, const stats_agg *a);

/* Aggregate recs[0..len) and the aggregates more[0..nmore) per n into out
 * (room for len + nmore entries), sorted by n. Returns how many distinct n
 * were written. */
size_t stats_agg_batch(stats_agg *out, const stats_record *recs, size_t len,
                       const stats_agg *more, size_t nmore);

/* Decimal text of v into buf (at least 40 bytes). Returns buf. */
char *stats_u128_format(stats_u128 v, char *buf);

/* Parse decimal digits (a NUMERIC as PostgreSQL prints it). Values too big
 * saturate at the type's maximum. Returns 0, or -1 when s is not a
 * non-negative integer. */
int stats_u128_parse(const char *s, stats_u128 *out);
int stats_u64_parse(const char *s, uint64_t *out);

#endif
