/* store_memory.c - the "memory:" store: per-n aggregates in a uthash and
 * the streams aggregate, under one mutex, gone with the process. For tests
 * and benchmarks.
 *
 * Applying a pre-aggregated batch is a hash lookup and a few additions per
 * distinct n, so the lock is held for well under a microsecond per n. A
 * snapshot copies the entries out under the lock and sorts them by n after
 * releasing it. Every change bumps the version. */
#include "mem.h"          /* first: uthash allocates through it */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "stats_backend.h"
#include "stats_peers.h"
#include "stats_sort.h"

typedef struct {
    stats_agg      a;           /* a.n is the key */
    UT_hash_handle hh;
} entry;

typedef struct {
    stats_backend   base;
    pthread_mutex_t lock;
    entry          *entries;    /* uthash keyed by n */
    uint64_t        total;
    stats_streams   streams;
    stats_peers    *senders;
} memory_store;

static entry *find(memory_store *m, int32_t n) {
    entry *e;

    HASH_FIND(hh, m->entries, &n, sizeof(n), e);
    return e;
}

/* Create the missing entries of aggs. */
static void add_missing(memory_store *m, const stats_agg *aggs, size_t len) {
    size_t i;

    for (i = 0; i < len; i++) {
        entry *e;
        if (find(m, aggs[i].n) != NULL) continue;
        e = xcalloc(1, sizeof(*e));
        e->a.n = aggs[i].n;
        HASH_ADD(hh, m->entries, a.n, sizeof(e->a.n), e);
    }
}

/* Lock held. */
static stats_result apply_locked(memory_store *m, const char *sender,
                                 uint64_t seq, const stats_agg *aggs,
                                 size_t len, const stats_streams *streams,
                                 uint64_t max_tracked) {
    stats_peer *who = NULL;
    size_t i, fresh = 0;

    if (sender != NULL) {
        who = stats_peers_touch(m->senders, sender);
        if (stats_peer_applied(who, seq)) return STATS_DUPLICATE;
    }
    for (i = 0; i < len; i++) fresh += find(m, aggs[i].n) == NULL;
    if (max_tracked && fresh
        && HASH_COUNT(m->entries) + fresh > max_tracked) {
        return STATS_FULL;
    }
    add_missing(m, aggs, len);
    for (i = 0; i < len; i++) {
        stats_agg_merge(&find(m, aggs[i].n)->a, &aggs[i]);
        m->total = stats_sat_add(m->total, aggs[i].count);
    }
    if (streams != NULL) stats_streams_merge(&m->streams, streams);
    if (who != NULL) stats_peer_mark(who, seq);
    atomic_fetch_add(&m->base.version, 1);
    return STATS_OK;
}

static stats_result memory_apply(stats_backend *b, const char *sender,
                                 uint64_t seq, const stats_agg *aggs,
                                 size_t len, const stats_streams *streams,
                                 uint64_t max_tracked) {
    memory_store *m = (memory_store *)b;
    stats_result res;

    pthread_mutex_lock(&m->lock);
    res = apply_locked(m, sender, seq, aggs, len, streams, max_tracked);
    pthread_mutex_unlock(&m->lock);
    return res;
}

static stats_result memory_snapshot(stats_backend *b, stats_snapshot *out) {
    memory_store *m = (memory_store *)b;
    const entry *e;
    size_t cap;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&m->lock);
    cap = HASH_COUNT(m->entries);
    if (cap > 0) {
        out->rows = xmalloc(cap * sizeof(*out->rows));
    }
    for (e = m->entries; e != NULL; e = e->hh.next) {
        if (e->a.count > 0) stats_agg_row(&out->rows[out->len++], &e->a);
    }
    out->total = m->total;
    out->streams = m->streams;
    out->version = atomic_load(&m->base.version);
    pthread_mutex_unlock(&m->lock);

    stats_sort_rows(&out->rows, out->len);
    return STATS_OK;
}

static void memory_free(stats_backend *b) {
    memory_store *m = (memory_store *)b;
    entry *e, *tmp;

    HASH_ITER(hh, m->entries, e, tmp) {
        HASH_DEL(m->entries, e);
        free(e);
    }
    stats_peers_free(m->senders);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static const stats_backend_ops memory_ops = {
    memory_apply, memory_snapshot, NULL, memory_free,
};

stats_backend *stats_memory_open(size_t max_senders, char *err, size_t cap) {
    memory_store *m = xcalloc(1, sizeof(*m));

    (void)err;
    (void)cap;
    m->senders = stats_peers_create(max_senders ? max_senders
                                                : STATS_MAX_SENDERS);
    m->base.ops = &memory_ops;
    pthread_mutex_init(&m->lock, NULL);
    return &m->base;
}
