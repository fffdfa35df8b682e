/* stats_store.h - the stats-service's records: request counts and
 * durations per n, plus the per-sender dedup state of RecordBatch, kept in
 * a store chosen by URL (memory:, sqlite:PATH, postgresql://...).
 *
 * Validation and per-n pre-aggregation happen here; the backend
 * (stats_backend.h) commits what it is given. No gRPC and no protobuf in
 * here, so the unit tests drive it directly. Nothing is reported recorded
 * before the store has committed it. */
#ifndef STATS_STORE_H
#define STATS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How many senders RecordBatch remembers by default (least recently seen
 * ones are forgotten beyond this). */
#define STATS_MAX_SENDERS 10000

/* The longest sender name accepted, in bytes. */
#define STATS_SENDER_MAX 256

typedef enum {
    STATS_CACHE_NONE = 0,   /* not reported, bypassed or unknown */
    STATS_CACHE_HIT,
    STATS_CACHE_MISS
} stats_cache;

/* One request as reported by the fibonacci-service. */
typedef struct {
    int32_t     n;
    int64_t     duration_ns;
    stats_cache cache;
} stats_record;

/* One row of a snapshot: everything known about one n. */
typedef struct {
    int32_t  n;
    uint64_t count;
    int64_t  min_ns;
    int64_t  max_ns;
    uint64_t total_ns;          /* saturates at UINT64_MAX */
    double   average_ms;        /* exact sum / count / 1e6 */
    uint64_t cache_hits;
    uint64_t cache_misses;
} stats_row;

/* The streams aggregate: GetFibRange calls, each one request with the
 * items it sent, kept apart from the per-n rows. Counters saturate. */
typedef struct {
    uint64_t count;
    uint64_t items;
    uint64_t sum_ns;
    uint64_t incomplete;        /* of count: cancelled or failed midway */
} stats_streams;

/* A copy of the store, rows sorted by n. */
typedef struct {
    uint64_t   total;           /* requests over all n */
    stats_streams streams;
    uint64_t   version;         /* the store's version it was taken at */
    stats_row *rows;
    size_t     len;
} stats_snapshot;

typedef enum {
    STATS_OK = 0,
    STATS_DUPLICATE,            /* batch (sender, seq) was applied before */
    STATS_INVALID,              /* a record or the sender is not valid */
    STATS_UNAVAILABLE,          /* the store failed: nothing was kept */
    STATS_FULL                  /* a new n past max_tracked: nothing kept */
} stats_result;

typedef struct stats_store stats_store;

typedef struct {
    size_t   max_senders;   /* memory: senders remembered (0: default) */
    uint64_t max_tracked;   /* distinct n kept at most (0: no bound) */
} stats_store_options;

/* Open the store named by url: "memory:", "sqlite:PATH" or
 * "postgresql://..." (also "postgres://"). A database store creates or
 * migrates its schema. NULL with a message in err (naming the store, never
 * a password) when the URL is bad or the store cannot be opened. */
stats_store *stats_store_open(const char *url, const stats_store_options *o,
                              char *err, size_t cap);
void stats_store_free(stats_store *s);

/* The url without a password, for logs and errors (static buffer). */
const char *stats_store_url(const stats_store *s);

/* How many records (RecordNo) and batches were refused with STATS_FULL. */
uint64_t stats_store_refused(stats_store *s);

/* NULL when the record may be stored, else the name of the bad field
 * ("n" or "duration"). */
const char *stats_record_invalid(const stats_record *r);

/* Count one request. STATS_INVALID (nothing stored) for a bad record. */
stats_result stats_store_record(stats_store *s, const stats_record *r);

/* Count the same request `times` times at once, as if recorded that often.
 * Lets tests and imports reach 64-bit counts without looping. */
stats_result stats_store_record_many(stats_store *s, const stats_record *r,
                                     uint64_t times);

/* Apply `len` records and `nagg` aggregates (stats_agg.h, each checked by
 * the caller) as one batch, at most once per (sender, seq): if this sender
 * already had a batch with seq >= this one applied, nothing is counted and
 * STATS_DUPLICATE is returned. All records are validated first; on
 * STATS_INVALID, *bad_index is the first bad record (SIZE_MAX when the
 * sender itself is bad) and nothing is counted. */
struct stats_agg;
stats_result stats_store_record_batch(stats_store *s, const char *sender,
                                      uint64_t seq, const stats_record *recs,
                                      size_t len, const struct stats_agg *aggs,
                                      size_t nagg, size_t *bad_index);

/* The same with the batch's streams aggregate (NULL or a zero count: none),
 * committed in the same transaction, so it too counts at most once. A bad
 * streams aggregate is STATS_INVALID with *bad_index == len. */
stats_result stats_store_record_streams(stats_store *s, const char *sender,
                                        uint64_t seq,
                                        const stats_record *recs, size_t len,
                                        const struct stats_agg *aggs,
                                        size_t nagg,
                                        const stats_streams *streams,
                                        size_t *bad_index);

/* NULL when a streams aggregate may be stored, else what is wrong. */
const char *stats_streams_invalid(const stats_streams *st);

/* Fold b into a, saturating. */
void stats_streams_merge(stats_streams *a, const stats_streams *b);

/* Copy the store out, rows sorted by n. Free with stats_snapshot_free().
 * STATS_UNAVAILABLE leaves *out empty. */
stats_result stats_store_snapshot(stats_store *s, stats_snapshot *out);
void stats_snapshot_free(stats_snapshot *snap);

/* A number that changes whenever anything is recorded: a snapshot with this
 * version is still current. (A PostgreSQL store may be written by other
 * instances, so there every call answers a new number.) */
uint64_t stats_store_version(stats_store *s);

#endif
