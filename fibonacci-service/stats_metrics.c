/* stats_metrics.c - the stats delivery's metrics (stats_metrics.h): the
 * queue's figures are read from it at scrape time; the sender's events are
 * counted as they happen, on its thread. */
#include "stats_metrics.h"

#include <pthread.h>

#include "clock.h"
#include "metrics.h"

static metric *batches_sent, *records_sent, *retries, *rejected, *lag;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void register_sender(void) {
    batches_sent = metrics_counter("fib_stats_batches_sent_total",
        "Stats batches stats-service acknowledged.");
    records_sent = metrics_counter("fib_stats_records_sent_total",
        "Requests counted in the acknowledged stats batches.");
    retries = metrics_counter("fib_stats_retries_total",
        "Stats deliveries tried again after a transient failure.");
    rejected = metrics_counter("fib_stats_rejected_total",
        "Requests of stats batches that stats-service refused (dropped).");
    lag = metrics_histogram("fib_stats_delivery_lag_seconds",
        "From the oldest request of a stats batch to its acknowledgement.");
}

static double queue_entries(void *q) {
    return (double)stats_queue_len(q);
}

static double queue_records(void *q) {
    return (double)stats_queue_records(q);
}

static double queue_dropped(void *q) {
    return (double)stats_queue_dropped(q);
}

void stats_metrics_register_queue(stats_queue *q) {
    pthread_once(&once, register_sender);   /* listed at 0 from the start */
    metrics_func("fib_stats_queue_entries", METRIC_GAUGE,
                 "Distinct n waiting for delivery to stats-service.",
                 queue_entries, q);
    metrics_func("fib_stats_queue_records", METRIC_GAUGE,
                 "Requests waiting for delivery to stats-service.",
                 queue_records, q);
    metrics_func("fib_stats_queue_dropped_total", METRIC_COUNTER,
                 "Requests dropped because the stats queue was full "
                 "(--stats-queue distinct n).", queue_dropped, q);
}

void stats_metrics_sent(uint64_t records, int64_t oldest_ns) {
    pthread_once(&once, register_sender);
    metric_inc(batches_sent);
    metric_add(records_sent, records);
    metric_observe_ns(lag, clock_mono_ns() - oldest_ns);
}

void stats_metrics_retry(void) {
    pthread_once(&once, register_sender);
    metric_inc(retries);
}

void stats_metrics_rejected(uint64_t records) {
    pthread_once(&once, register_sender);
    metric_add(rejected, records);
}
