/* stats_store.c - the front of the stats store: opens the backend named by
 * a URL, validates records, folds each call's records into one aggregate
 * per n, and hands those to the backend to commit.
 *
 * Pre-aggregating is what lets a database keep up: a batch of 1000 records
 * over 20 distinct n costs 20 row updates, not 1000. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "mem.h"
#include "stats_backend.h"
#include "stats_store.h"
#include "store_metrics.h"

struct stats_store {
    stats_backend   *b;
    uint64_t         max_tracked;
    char             url[512];      /* without a password */
    _Atomic uint64_t refused;
    store_metrics    metrics;
};

/* Copy url into out with the password of "scheme://user:password@" (if
 * any) replaced by "***". */
static void redact(const char *url, char *out, size_t cap) {
    const char *auth = strstr(url, "://"), *at, *colon;

    snprintf(out, cap, "%s", url);
    if (auth == NULL) return;
    auth += 3;
    at = strchr(auth, '@');
    colon = strchr(auth, ':');
    if (at == NULL || colon == NULL || colon > at) return;
    snprintf(out, cap, "%.*s***%s", (int)(colon + 1 - url), url, at);
}

static int has_prefix(const char *s, const char *prefix) {
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

stats_store *stats_store_open(const char *url, const stats_store_options *o,
                              char *err, size_t cap) {
    char why[512] = "";
    stats_store *s;

    s = xcalloc(1, sizeof(*s));
    redact(url, s->url, sizeof(s->url));
    s->max_tracked = o ? o->max_tracked : 0;

    const char *kind = NULL;
    if (strcmp(url, "memory:") == 0) {
        kind = "memory";
        s->b = stats_memory_open(o ? o->max_senders : 0, why, sizeof(why));
    } else if (has_prefix(url, "sqlite:") && url[7] != '\0') {
        kind = "sqlite";
        s->b = stats_sqlite_open(url + 7, why, sizeof(why));
    } else if (has_prefix(url, "postgresql://")
               || has_prefix(url, "postgres://")) {
        kind = "postgresql";
        s->b = stats_pg_open(url, why, sizeof(why));
    } else {
        snprintf(why, sizeof(why), "not a store URL (memory:, sqlite:PATH "
                 "or postgresql://...)");
    }
    if (s->b == NULL) {
        snprintf(err, cap, "store \"%s\": %s", s->url, why);
        free(s);
        return NULL;
    }
    store_metrics_init(&s->metrics, kind);
    return s;
}

void stats_store_free(stats_store *s) {
    if (s == NULL) return;
    s->b->ops->free(s->b);
    free(s);
}

const char *stats_store_url(const stats_store *s) {
    return s->url;
}

uint64_t stats_store_refused(stats_store *s) {
    return atomic_load(&s->refused);
}

const char *stats_record_invalid(const stats_record *r) {
    if (r->n < 0) return "n";
    if (r->duration_ns < 0) return "duration";
    return NULL;
}

const char *stats_streams_invalid(const stats_streams *st) {
    if (st->incomplete > st->count) return "incomplete must be <= count";
    if (st->count == 0 && (st->items || st->sum_ns))
        return "items and duration_sum must be 0 when count is 0";
    return NULL;
}

void stats_streams_merge(stats_streams *a, const stats_streams *b) {
    a->count = stats_sat_add(a->count, b->count);
    a->items = stats_sat_add(a->items, b->items);
    a->sum_ns = stats_sat_add(a->sum_ns, b->sum_ns);
    a->incomplete = stats_sat_add(a->incomplete, b->incomplete);
}

static stats_result apply(stats_store *s, const char *sender, uint64_t seq,
                          const stats_agg *aggs, size_t len,
                          const stats_streams *streams, uint64_t records) {
    stats_result res;
    int64_t start = clock_mono_ns();

    if (streams != NULL && streams->count == 0) streams = NULL;
    res = s->b->ops->apply(s->b, sender, seq, aggs, len, streams,
                           s->max_tracked);
    if (res == STATS_FULL) atomic_fetch_add(&s->refused, records);
    store_metrics_done(&s->metrics, STORE_OP_APPLY, res, records, start);
    return res;
}

stats_result stats_store_record_many(stats_store *s, const stats_record *r,
                                     uint64_t times) {
    stats_agg a;

    if (stats_record_invalid(r)) return STATS_INVALID;
    if (times == 0) return STATS_OK;
    memset(&a, 0, sizeof(a));
    a.n = r->n;
    stats_agg_add(&a, r, times);
    return apply(s, NULL, 0, &a, 1, NULL, times);
}

stats_result stats_store_record(stats_store *s, const stats_record *r) {
    return stats_store_record_many(s, r, 1);
}

stats_result stats_store_record_batch(stats_store *s, const char *sender,
                                      uint64_t seq, const stats_record *recs,
                                      size_t len, const stats_agg *more,
                                      size_t nmore, size_t *bad_index) {
    return stats_store_record_streams(s, sender, seq, recs, len, more, nmore,
                                      NULL, bad_index);
}

stats_result stats_store_record_streams(stats_store *s, const char *sender,
                                        uint64_t seq,
                                        const stats_record *recs, size_t len,
                                        const stats_agg *more, size_t nmore,
                                        const stats_streams *streams,
                                        size_t *bad_index) {
    uint64_t requests = len;
    stats_result res;
    stats_agg *aggs;
    size_t i, distinct;

    *bad_index = SIZE_MAX;
    if (sender == NULL || sender[0] == '\0'
        || strlen(sender) > STATS_SENDER_MAX) {
        return STATS_INVALID;
    }
    for (i = 0; i < len; i++) {
        if (stats_record_invalid(&recs[i])) {
            *bad_index = i;
            return STATS_INVALID;
        }
    }
    if (streams != NULL && stats_streams_invalid(streams)) {
        *bad_index = len;
        return STATS_INVALID;
    }
    for (i = 0; i < nmore; i++)
        requests = stats_sat_add(requests, more[i].count);
    aggs = xmalloc((len + nmore ? len + nmore : 1) * sizeof(*aggs));
    distinct = stats_agg_batch(aggs, recs, len, more, nmore);
    res = apply(s, sender, seq, aggs, distinct, streams, requests);
    free(aggs);
    return res;
}

stats_result stats_store_snapshot(stats_store *s, stats_snapshot *out) {
    int64_t start = clock_mono_ns();
    stats_result res = s->b->ops->snapshot(s->b, out);
    store_metrics_done(&s->metrics, STORE_OP_SNAPSHOT, res, 0, start);
    return res;
}

uint64_t stats_store_version(stats_store *s) {
    if (s->b->ops->version != NULL) return s->b->ops->version(s->b);
    return atomic_load(&s->b->version);
}

void stats_snapshot_free(stats_snapshot *snap) {
    free(snap->rows);
    memset(snap, 0, sizeof(*snap));
}

void stats_snapshot_push(stats_snapshot *snap, size_t *cap,
                         const stats_agg *a) {
    if (snap->len == *cap) {
        *cap = *cap ? *cap * 2 : 256;
        snap->rows = xrealloc(snap->rows, *cap * sizeof(*snap->rows));
    }
    stats_agg_row(&snap->rows[snap->len++], a);
    snap->total = stats_sat_add(snap->total, a->count);
}
