/* stats_metrics.h - the Prometheus metrics of fibonacci-service's stats
 * delivery (stats_queue.h, stats_sender.h):
 *
 *   fib_stats_queue_entries          gauge    distinct n waiting
 *   fib_stats_queue_records          gauge    requests waiting in them
 *   fib_stats_queue_dropped_total    counter  requests dropped, queue full
 *   fib_stats_batches_sent_total     counter  batches stats-service took
 *   fib_stats_records_sent_total     counter  requests in them
 *   fib_stats_retries_total          counter  deliveries tried again after
 *                                             a transient failure
 *   fib_stats_rejected_total         counter  requests of batches that
 *                                             stats-service refused
 *   fib_stats_delivery_lag_seconds   histogram  from a batch's oldest
 *                                             request to its acknowledgement
 */
#ifndef STATS_METRICS_H
#define STATS_METRICS_H

#include <stdint.h>

#include "stats_queue.h"

/* The queue's gauges and drops, read from `q` when scraped; `q` must
 * outlive every scrape. */
void stats_metrics_register_queue(stats_queue *q);

/* The sender's events. */
void stats_metrics_sent(uint64_t records, int64_t oldest_ns);
void stats_metrics_retry(void);
void stats_metrics_rejected(uint64_t records);

#endif
