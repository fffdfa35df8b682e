/* stats_sender.h - the background thread that delivers queued per-request
 * stats records to the stats-service.
 *
 * The queue's per-n aggregates go out as RecordBatch aggregated entries,
 * with the streams aggregate in the same batch (streams), tagged with this
 * process's random sender id and an increasing seq; a
 * batch is resent unchanged until acknowledged, so the stats-service
 * applies it once however often it is retried. A stats-service without
 * RecordBatch (the original, UNIMPLEMENTED), or one that acknowledges
 * without counting aggregated entries (older), gets one RecordNo per
 * request instead (streams are then not counted: RecordNo has no field for
 * them); RecordNo has no dedup, so a RecordNo retried after a
 * lost answer may count twice. UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED,
 * ABORTED, UNKNOWN and INTERNAL (a stats-service going away) are retried
 * without limit, with exponential backoff and jitter; any other error is
 * logged and that batch dropped. The handlers never wait for any of this. */
#ifndef STATS_SENDER_H
#define STATS_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include "backoff.h"
#include "rpc_tls.h"
#include "stats_queue.h"

typedef struct stats_sender stats_sender;

/* Retry schedule for failed deliveries, in nanoseconds: 50 ms doubling up
 * to 250 ms, each delay jittered down by up to half. */
extern const backoff_policy stats_sender_backoff;

/* Start the thread: it takes up to `batch_max` records at a time from `q`
 * and delivers them to the gRPC `target`. NULL if it cannot start. */
stats_sender *stats_sender_start(const char *target, stats_queue *q,
                                 size_t batch_max);

/* The same over TLS when `tls` gives a CA (it verifies stats-service; a
 * certificate and key, if given, are presented to it). The files are read
 * now (NULL after logging what is wrong) and again before a delivery once
 * they have been replaced or stats_sender_reload_tls() was called: the new
 * ones are used for a new connection, and the change is logged. */
stats_sender *stats_sender_start_tls(const char *target,
                                     const rpc_tls_files *tls,
                                     stats_queue *q, size_t batch_max);

/* Read the TLS files again before the next delivery (SIGHUP). */
void stats_sender_reload_tls(stats_sender *s);

/* Deliver what is queued until the queue is empty or the monotonic time
 * `deadline_ns` passes, then stop the thread and free the sender. Returns
 * the number of requests left undelivered. */
uint64_t stats_sender_stop(stats_sender *s, int64_t deadline_ns);

/* A fresh random UUID (version 4) in `out` (37 bytes). */
void stats_sender_make_id(char out[37]);

#endif
