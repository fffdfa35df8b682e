/* stats_store.c - per-n request counters behind RecordNo, RecordBatch and
 * GetStats.
 *
 * One uthash entry per distinct n, all under one mutex: recording is a hash
 * lookup and a few additions, so the lock is held for well under a
 * microsecond. A snapshot copies the entries out under the lock and sorts
 * them by n after releasing it. Every change bumps a version number, so a
 * reader can tell whether an earlier snapshot is still current. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "mem.h"          /* first: uthash allocates through it */
#include <uthash.h>

#include "stats_peers.h"
#include "stats_sort.h"
#include "stats_store.h"

/* Durations are summed in 128 bits: 2^64 requests of 2^63 ns each fit, so
 * the sum, and with it the average, never overflows. */
__extension__ typedef unsigned __int128 u128;

typedef struct {
    int32_t        n;
    uint64_t       count;
    int64_t        min_ns;
    int64_t        max_ns;
    u128           sum_ns;
    uint64_t       hits;
    uint64_t       misses;
    UT_hash_handle hh;
} entry;

struct stats_store {
    pthread_mutex_t lock;
    entry          *entries;    /* uthash keyed by n */
    uint64_t        total;
    uint64_t        version;    /* bumped by every change */
    stats_peers  *senders;
};

stats_store *stats_store_create(size_t max_senders) {
    stats_store *s = xcalloc(1, sizeof(*s));
    s->senders = stats_peers_create(max_senders ? max_senders
                                                  : STATS_MAX_SENDERS);
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

void stats_store_free(stats_store *s) {
    entry *e, *tmp;

    if (s == NULL) return;
    HASH_ITER(hh, s->entries, e, tmp) {
        HASH_DEL(s->entries, e);
        free(e);
    }
    stats_peers_free(s->senders);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

const char *stats_record_invalid(const stats_record *r) {
    if (r->n < 0) return "n";
    if (r->duration_ns < 0) return "duration";
    return NULL;
}

/* The entry for n, created empty (count 0) if missing. Lock held. */
static entry *entry_get(stats_store *s, int32_t n) {
    entry *e;

    HASH_FIND(hh, s->entries, &n, sizeof(n), e);
    if (e != NULL) return e;
    e = xcalloc(1, sizeof(*e));
    e->n = n;
    HASH_ADD(hh, s->entries, n, sizeof(e->n), e);
    return e;
}

/* a + b, stuck at UINT64_MAX instead of wrapping. */
static uint64_t sat_add(uint64_t a, uint64_t b) {
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Count record r `times` times into e. Lock held. */
static void entry_add(stats_store *s, entry *e, const stats_record *r,
                      uint64_t times) {
    if (e->count == 0 || r->duration_ns < e->min_ns) e->min_ns = r->duration_ns;
    if (e->count == 0 || r->duration_ns > e->max_ns) e->max_ns = r->duration_ns;
    e->count = sat_add(e->count, times);
    e->sum_ns += (u128)(uint64_t)r->duration_ns * times;
    if (r->cache == STATS_CACHE_HIT) e->hits = sat_add(e->hits, times);
    else if (r->cache == STATS_CACHE_MISS)
        e->misses = sat_add(e->misses, times);
    s->total = sat_add(s->total, times);
    s->version++;
}

stats_result stats_store_record_many(stats_store *s, const stats_record *r,
                                     uint64_t times) {
    if (stats_record_invalid(r)) return STATS_INVALID;
    if (times == 0) return STATS_OK;
    pthread_mutex_lock(&s->lock);
    entry_add(s, entry_get(s, r->n), r, times);
    pthread_mutex_unlock(&s->lock);
    return STATS_OK;
}

stats_result stats_store_record(stats_store *s, const stats_record *r) {
    return stats_store_record_many(s, r, 1);
}

/* Apply a validated batch for sender (found or added). Lock held. */
static stats_result batch_apply(stats_store *s, stats_peer *who,
                                uint64_t seq, const stats_record *recs,
                                size_t len) {
    if (stats_peer_applied(who, seq)) return STATS_DUPLICATE;
    for (size_t i = 0; i < len; i++)
        entry_add(s, entry_get(s, recs[i].n), &recs[i], 1);
    stats_peer_mark(who, seq);
    return STATS_OK;
}

stats_result stats_store_record_batch(stats_store *s, const char *sender,
                                      uint64_t seq, const stats_record *recs,
                                      size_t len, size_t *bad_index) {
    *bad_index = SIZE_MAX;
    if (sender == NULL || sender[0] == '\0'
        || strlen(sender) > STATS_SENDER_MAX) {
        return STATS_INVALID;
    }
    for (size_t i = 0; i < len; i++) {
        if (stats_record_invalid(&recs[i])) {
            *bad_index = i;
            return STATS_INVALID;
        }
    }

    pthread_mutex_lock(&s->lock);
    stats_peer *who = stats_peers_touch(s->senders, sender);
    stats_result res = batch_apply(s, who, seq, recs, len);
    pthread_mutex_unlock(&s->lock);
    return res;
}

size_t stats_store_senders(stats_store *s) {
    pthread_mutex_lock(&s->lock);
    size_t count = stats_peers_count(s->senders);
    pthread_mutex_unlock(&s->lock);
    return count;
}

/* Fill a snapshot row from an entry; cheap, done under the lock. */
static void row_from_entry(stats_row *row, const entry *e) {
    row->n = e->n;
    row->count = e->count;
    row->min_ns = e->min_ns;
    row->max_ns = e->max_ns;
    row->total_ns = e->sum_ns > UINT64_MAX ? UINT64_MAX : (uint64_t)e->sum_ns;
    row->average_ms = (double)e->sum_ns / (double)e->count / 1e6;
    row->cache_hits = e->hits;
    row->cache_misses = e->misses;
}

void stats_store_snapshot(stats_store *s, stats_snapshot *out) {
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->lock);
    size_t cap = HASH_COUNT(s->entries);
    if (cap > 0) out->rows = xmalloc(cap * sizeof(*out->rows));
    for (const entry *e = s->entries; e != NULL; e = e->hh.next) {
        if (e->count > 0) row_from_entry(&out->rows[out->len++], e);
    }
    out->total = s->total;
    out->version = s->version;
    pthread_mutex_unlock(&s->lock);

    stats_sort_rows(&out->rows, out->len);
}

uint64_t stats_store_version(stats_store *s) {
    pthread_mutex_lock(&s->lock);
    uint64_t v = s->version;
    pthread_mutex_unlock(&s->lock);
    return v;
}

void stats_snapshot_free(stats_snapshot *snap) {
    free(snap->rows);
    memset(snap, 0, sizeof(*snap));
}
