/* stats_agg.c - per-n aggregate arithmetic shared by the stores. */
#include <stdlib.h>
#include <string.h>

#include "stats_agg.h"

uint64_t stats_sat_add(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void stats_agg_add(stats_agg *a, const stats_record *r, uint64_t times) {
    if (times == 0) return;
    if (a->count == 0 || r->duration_ns < a->min_ns) a->min_ns = r->duration_ns;
    if (a->count == 0 || r->duration_ns > a->max_ns) a->max_ns = r->duration_ns;
    a->count = stats_sat_add(a->count, times);
    a->sum_ns += (stats_u128)(uint64_t)r->duration_ns * times;
    if (r->cache == STATS_CACHE_HIT) a->hits = stats_sat_add(a->hits, times);
    else if (r->cache == STATS_CACHE_MISS)
        a->misses = stats_sat_add(a->misses, times);
}

void stats_agg_merge(stats_agg *a, const stats_agg *b) {
    if (b->count == 0) return;
    if (a->count == 0 || b->min_ns < a->min_ns) a->min_ns = b->min_ns;
    if (a->count == 0 || b->max_ns > a->max_ns) a->max_ns = b->max_ns;
    a->count = stats_sat_add(a->count, b->count);
    /* 2^64 requests of 2^63 ns each fit in 128 bits: no overflow check. */
    a->sum_ns += b->sum_ns;
    a->hits = stats_sat_add(a->hits, b->hits);
    a->misses = stats_sat_add(a->misses, b->misses);
}

void stats_agg_row(stats_row *row, const stats_agg *a) {
    row->n = a->n;
    row->count = a->count;
    row->min_ns = a->min_ns;
    row->max_ns = a->max_ns;
    row->total_ns = a->sum_ns > UINT64_MAX ? UINT64_MAX : (uint64_t)a->sum_ns;
    row->average_ms = (double)a->sum_ns / (double)a->count / 1e6;
    row->cache_hits = a->hits;
    row->cache_misses = a->misses;
}

static int by_n(const void *x, const void *y) {
    int32_t a = ((const stats_agg *)x)->n, b = ((const stats_agg *)y)->n;
    return (a > b) - (a < b);
}

size_t stats_agg_batch(stats_agg *out, const stats_record *recs, size_t len,
                       const stats_agg *more, size_t nmore) {
    size_t i, j = 0, k;

    for (i = 0; i < len; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        out[i].n = recs[i].n;
        stats_agg_add(&out[i], &recs[i], 1);
    }
    if (nmore > 0) memcpy(out + len, more, nmore * sizeof(*more));
    len += nmore;
    if (len == 0) return 0;
    /* Sorted by n: equal n become neighbours, and database stores lock
     * rows in one order, so concurrent batches cannot deadlock. */
    qsort(out, len, sizeof(*out), by_n);
    for (k = 1; k < len; k++) {
        if (out[k].n == out[j].n) stats_agg_merge(&out[j], &out[k]);
        else out[++j] = out[k];
    }
    return j + 1;
}

char *stats_u128_format(stats_u128 v, char *buf) {
    char tmp[40];
    size_t i = 0, j;

    do {
        tmp[i++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    for (j = 0; j < i; j++) buf[j] = tmp[i - 1 - j];
    buf[i] = '\0';
    return buf;
}

int stats_u128_parse(const char *s, stats_u128 *out) {
    const stats_u128 max = ~(stats_u128)0;
    stats_u128 v = 0;

    if (*s < '0' || *s > '9') return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        unsigned d = (unsigned)(*s - '0');
        v = v > (max - d) / 10 ? max : v * 10 + d;
    }
    if (*s != '\0') return -1;
    *out = v;
    return 0;
}

int stats_u64_parse(const char *s, uint64_t *out) {
    stats_u128 v;

    if (stats_u128_parse(s, &v) != 0) return -1;
    *out = v > UINT64_MAX ? UINT64_MAX : (uint64_t)v;
    return 0;
}
