/* store_metrics.c - the store's metrics (store_metrics.h): series looked up
 * once per store, then relaxed atomic additions per operation. */
#include "store_metrics.h"

#include <pthread.h>

#include "clock.h"

static const char *const op_names[STORE_NOPS] = {"apply", "snapshot"};

static metric_family *applied_f, *duplicate_f, *refused_f, *seconds_f,
                     *errors_f;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void register_families(void) {
    applied_f = metrics_family("stats_records_applied_total", METRIC_COUNTER,
        "Requests counted: records and aggregated entries the store "
        "committed.", "store", NULL, 0);
    duplicate_f = metrics_family("stats_batches_duplicate_total",
        METRIC_COUNTER, "RecordBatch calls refused as duplicates: the "
        "sender's seq was applied before (nothing counted again).",
        "store", NULL, 0);
    refused_f = metrics_family("stats_records_refused_total", METRIC_COUNTER,
        "Requests refused because a new n would pass --max-tracked.",
        "store", NULL, 0);
    seconds_f = metrics_family("stats_store_seconds", METRIC_HISTOGRAM,
        "Time of one store operation: apply (a record or batch, in one "
        "transaction) or snapshot (read every n).", "store,op", NULL, 0);
    errors_f = metrics_family("stats_store_errors_total", METRIC_COUNTER,
        "Store operations that failed (nothing of them was kept).",
        "store,op", NULL, 0);
}

void store_metrics_init(store_metrics *m, const char *kind) {
    pthread_once(&once, register_families);
    const char *k[] = {kind};
    m->applied = metrics_series(applied_f, k);
    m->duplicates = metrics_series(duplicate_f, k);
    m->refused = metrics_series(refused_f, k);
    for (int i = 0; i < STORE_NOPS; i++) {
        const char *v[] = {kind, op_names[i]};
        m->seconds[i] = metrics_series(seconds_f, v);
        m->errors[i] = metrics_series(errors_f, v);
    }
}

void store_metrics_done(store_metrics *m, store_op op, stats_result res,
                        uint64_t records, int64_t start_ns) {
    metric_observe_ns(m->seconds[op], clock_mono_ns() - start_ns);
    switch (res) {
    case STATS_OK:
        if (op == STORE_OP_APPLY) metric_add(m->applied, records);
        break;
    case STATS_DUPLICATE:   metric_inc(m->duplicates); break;
    case STATS_FULL:        metric_add(m->refused, records); break;
    case STATS_UNAVAILABLE: metric_inc(m->errors[op]); break;
    case STATS_INVALID:     break;      /* refused before the store */
    }
}
