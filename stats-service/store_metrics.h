/* store_metrics.h - stats-service's own Prometheus metrics, kept by
 * stats_store.c around every backend operation (the gRPC server's and the
 * process's come from common/):
 *
 *   stats_records_applied_total{store}      requests counted (committed)
 *   stats_batches_duplicate_total{store}    RecordBatch seqs applied before
 *   stats_records_refused_total{store}      requests refused: --max-tracked
 *   stats_store_seconds{store,op}           one operation (apply, snapshot)
 *   stats_store_errors_total{store,op}      operations the store failed
 *
 * store is the kind: "memory", "sqlite" or "postgresql". */
#ifndef STORE_METRICS_H
#define STORE_METRICS_H

#include <stdint.h>

#include "metrics.h"
#include "stats_store.h"

typedef enum { STORE_OP_APPLY, STORE_OP_SNAPSHOT, STORE_NOPS } store_op;

typedef struct {
    metric *applied;
    metric *duplicates;
    metric *refused;
    metric *seconds[STORE_NOPS];
    metric *errors[STORE_NOPS];
} store_metrics;

/* The series of a store of this kind. */
void store_metrics_init(store_metrics *m, const char *kind);

/* An operation that began at monotonic `start_ns` ended with `res`;
 * `records` requests were at stake (apply). */
void store_metrics_done(store_metrics *m, store_op op, stats_result res,
                        uint64_t records, int64_t start_ns);

#endif
