/* stats_backend.h - the storage interface behind stats_store: where the
 * per-n aggregates, the streams aggregate and the per-sender batch seqs
 * live.
 *
 * Three kinds implement it: memory (store_memory.c), SQLite
 * (store_sqlite.c) and PostgreSQL (store_pg.c). stats_store validates and
 * pre-aggregates; a backend only commits aggregates and reads them back.
 * Every operation is called from many gRPC threads at once: a backend does
 * its own locking. */
#ifndef STATS_BACKEND_H
#define STATS_BACKEND_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "stats_agg.h"
#include "stats_store.h"

typedef struct stats_backend stats_backend;

typedef struct {
    /* Apply aggs[0..len) (sorted by n, each n once) and the streams
     * aggregate (NULL: none) in one transaction.
     * With a sender, at most once per (sender, seq): STATS_DUPLICATE when
     * that sender had a batch with seq >= this one committed. STATS_FULL
     * (nothing kept) when the batch would make more than max_tracked
     * distinct n (0: no bound). STATS_UNAVAILABLE when the store failed:
     * nothing of the batch is kept. STATS_OK only once committed. */
    stats_result (*apply)(stats_backend *b, const char *sender, uint64_t seq,
                          const stats_agg *aggs, size_t len,
                          const stats_streams *streams,
                          uint64_t max_tracked);
    /* Every non-empty n, sorted by n, with the total and the streams. */
    stats_result (*snapshot)(stats_backend *b, stats_snapshot *out);
    /* Changes whenever a snapshot could differ (see stats_store.h); NULL:
     * the base's version, which the backend bumps on every commit. */
    uint64_t (*version)(stats_backend *b);
    void (*free)(stats_backend *b);
} stats_backend_ops;

struct stats_backend {
    const stats_backend_ops *ops;
    _Atomic uint64_t         version;
};

/* Constructors. `where` is what follows "memory:", "sqlite:" or the whole
 * "postgresql://..." URL. On failure they return NULL with a message in
 * err. */
stats_backend *stats_memory_open(size_t max_senders, char *err, size_t cap);
stats_backend *stats_sqlite_open(const char *path, char *err, size_t cap);
stats_backend *stats_pg_open(const char *conninfo, char *err, size_t cap);

/* Build a snapshot from rows appended in n order: helpers for the
 * database stores. */
void stats_snapshot_push(stats_snapshot *snap, size_t *cap,
                         const stats_agg *a);

#endif
