/* stats_proto.c - stats.proto messages <-> store types.
 *
 * The original clients read the int32 fields; those saturate at INT32_MAX
 * while the *64 fields added later carry the exact counts. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "stats_proto.h"
#include "mem.h"

int32_t stats_sat_int32(uint64_t v) {
    return v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

stats_cache stats_cache_from_proto(Stats__CacheResult c) {
    switch (c) {
    case STATS__CACHE_RESULT__CACHE_HIT:  return STATS_CACHE_HIT;
    case STATS__CACHE_RESULT__CACHE_MISS: return STATS_CACHE_MISS;
    default:                              return STATS_CACHE_NONE;
    }
}

void stats_record_from_proto(stats_record *out, const Stats__RecordRequest *m) {
    out->n = m->n;
    out->duration_ns = m->duration;
    out->cache = stats_cache_from_proto(m->cache);
}

/* A varint at *p (advanced); false when it runs past end or is too long. */
static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if ((b & 0x80) == 0) return true;
    }
    return false;
}

long long stats_batch_sender_wire_len(const uint8_t *data, size_t len) {
    const uint8_t *p = data, *end = data + len;
    long long sender = 0;
    uint64_t tag, v;

    while (p < end) {
        if (!read_varint(&p, end, &tag)) return -1;
        switch (tag & 7) {
        case 0:
            if (!read_varint(&p, end, &v)) return -1;
            break;
        case 1:
        case 5:
            v = (tag & 7) == 1 ? 8 : 4;
            if ((uint64_t)(end - p) < v) return -1;
            p += v;
            break;
        case 2:
            if (!read_varint(&p, end, &v) || (uint64_t)(end - p) < v)
                return -1;
            if (tag >> 3 == 1) sender = (long long)v;
            p += v;
            break;
        default:
            return -1;      /* groups are not part of this message */
        }
    }
    return sender;
}

const char *stats_agg_from_proto(stats_agg *out,
                                 const Stats__AggregatedRecord *m) {
    if (m->n < 0) return "n must be >= 0";
    if (m->count == 0) return "count must be >= 1";
    if (m->min_duration < 0) return "min_duration must be >= 0";
    if (m->max_duration < m->min_duration)
        return "max_duration must be >= min_duration";
    if (m->cache_hits > m->count || m->cache_misses > m->count - m->cache_hits)
        return "cache_hits + cache_misses must be <= count";
    if ((stats_u128)m->duration_sum < (stats_u128)m->count
                                      * (uint64_t)m->min_duration
        || (stats_u128)m->duration_sum > (stats_u128)m->count
                                         * (uint64_t)m->max_duration)
        return "duration_sum must be between count * min_duration and "
               "count * max_duration";
    out->n = m->n;
    out->count = m->count;
    out->sum_ns = m->duration_sum;
    out->min_ns = m->min_duration;
    out->max_ns = m->max_duration;
    out->hits = m->cache_hits;
    out->misses = m->cache_misses;
    return NULL;
}

const char *stats_streams_from_proto(stats_streams *out,
                                     const Stats__StreamsRecord *m) {
    memset(out, 0, sizeof(*out));
    if (m == NULL) return NULL;
    out->count = m->count;
    out->items = m->items;
    out->sum_ns = m->duration_sum;
    out->incomplete = m->incomplete;
    return stats_streams_invalid(out);
}

/* The streams sub-message of a snapshot, freed with free(). */
static Stats__StreamStats *streams_msg(const stats_streams *st) {
    Stats__StreamStats *m = xmalloc(sizeof(*m));

    stats__stream_stats__init(m);
    m->count = st->count;
    m->items = st->items;
    m->total_duration_ns = st->sum_ns;
    m->average_time_ms = st->count
                         ? (double)st->sum_ns / (double)st->count / 1e6 : 0;
    m->incomplete = st->incomplete;
    return m;
}

static void stat_from_row(Stats__FibonacciStat *st, const stats_row *row) {
    stats__fibonacci_stat__init(st);
    st->n = row->n;
    st->request_count = stats_sat_int32(row->count);
    st->average_time_ms = row->average_ms;
    st->request_count64 = row->count;
    st->min_duration_ns = row->min_ns;
    st->max_duration_ns = row->max_ns;
    st->total_duration_ns = row->total_ns;
    st->cache_hits = row->cache_hits;
    st->cache_misses = row->cache_misses;
}

/* The entries for rows[0..len) (or for *prows[0..len) when rows is NULL)
 * in one block: the pointer array first, the messages after it. Freed with
 * free(). */
static Stats__FibonacciStat **stats_block(const stats_row *rows,
                                          const stats_row *const *prows,
                                          size_t len) {
    Stats__FibonacciStat **ptrs =
        xmalloc(len * (sizeof(*ptrs) + sizeof(Stats__FibonacciStat)));
    Stats__FibonacciStat *stats = (Stats__FibonacciStat *)(ptrs + len);
    for (size_t i = 0; i < len; i++) {
        stat_from_row(&stats[i], rows ? &rows[i] : prows[i]);
        ptrs[i] = &stats[i];
    }
    return ptrs;
}

void stats_response_fill(Stats__StatsResponse *resp,
                         const stats_snapshot *snap) {
    resp->total_requests = stats_sat_int32(snap->total);
    resp->total_requests64 = snap->total;
    resp->streams = streams_msg(&snap->streams);
    resp->n_fibonacci_stats = 0;
    resp->fibonacci_stats = NULL;
    if (snap->len == 0) return;
    resp->fibonacci_stats = stats_block(snap->rows, NULL, snap->len);
    resp->n_fibonacci_stats = snap->len;
}

void stats_response_release(Stats__StatsResponse *resp) {
    free(resp->streams);
    resp->streams = NULL;
    free(resp->fibonacci_stats);
    resp->fibonacci_stats = NULL;
    resp->n_fibonacci_stats = 0;
}

void stats_query_from_proto(stats_query *out, const Stats__StatsQuery *m) {
    memset(out, 0, sizeof(*out));
    out->ns = m->n;
    out->n_ns = m->n_n;
    out->has_range = m->range != NULL;
    if (m->range != NULL) {
        out->from = m->range->from;
        out->to = m->range->to;
    }
    out->limit = m->limit;
    out->order = (unsigned)m->order_by > STATS_ORDER_AVERAGE
                 ? (stats_order)99 : (stats_order)m->order_by;
    out->desc = m->descending;
    out->top = m->top;
    out->token = m->page_token;
}

void stats_page_fill(Stats__StatsPage *resp, const stats_page *page,
                     const stats_snapshot *snap) {
    resp->matched = page->matched;
    resp->total_requests64 = snap->total;
    resp->streams = streams_msg(&snap->streams);
    resp->next_page_token = (char *)page->next;
    if (page->len == 0) return;
    resp->fibonacci_stats = stats_block(NULL, page->rows, page->len);
    resp->n_fibonacci_stats = page->len;
}

void stats_page_release(Stats__StatsPage *resp) {
    free(resp->streams);
    resp->streams = NULL;
    free(resp->fibonacci_stats);
    resp->fibonacci_stats = NULL;
    resp->n_fibonacci_stats = 0;
}
