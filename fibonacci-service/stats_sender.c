/* stats_sender.c - delivers the queued per-n aggregates and the streams
 * aggregate to the stats-service from one background thread: RecordBatch
 * with aggregated entries, streams and (sender, seq) for exactly-once
 * counting, one RecordNo per
 * request for an original stats-service, retries with backoff while it is
 * away, and a bounded flush on shutdown. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "stats/stats.pb-c.h"

#include "clock.h"
#include "log.h"
#include "mem.h"
#include "rpc_client.h"
#include "rpc_server.h"
#include "stats_metrics.h"
#include "stats_sender.h"

#define NS_PER_MS        1000000LL
#define CALL_TIMEOUT_NS  (2 * NS_PER_SEC)   /* one RecordBatch / RecordNo */
#define IDLE_WAIT_NS     (1 * NS_PER_SEC)   /* longest sleep, queue empty */
#define WARN_EVERY_NS    (10 * NS_PER_SEC)  /* rate limit, repeated warnings */

/* After delivering a batch that was not full, wait this long before taking
 * the next one, so that batches fill up under load: taking records as soon
 * as they arrive sent a few records per call at 20k req/s, and one RPC per
 * couple of requests cost as much CPU as the requests themselves. It bounds
 * the calls to 1/LINGER per second and delays stats by as much, no more.
 * Entries are aggregated per n, so waiting longer costs no memory; at 10 ms
 * the ~85 calls a second still cost stats-service ~36 ms of CPU a second
 * (each call ~400 us with its wake-ups on a 2-core VM). */
#define LINGER_NS        (100 * NS_PER_MS)

#define METHOD_BATCH  "/stats.Stats/RecordBatch"
#define METHOD_RECORD "/stats.Stats/RecordNo"

/* Capped at 250 ms: once stats-service answers again, delivery resumes
 * within that (the queue is aggregated, so waiting costs little memory). */
const backoff_policy stats_sender_backoff = {
    .base = 50 * NS_PER_MS,
    .max = 250 * NS_PER_MS,
    .multiplier = 2.0,
    .jitter = 0.5,
};

struct stats_sender {
    pthread_t       thread;
    grpc_channel   *channel;
    char           *target;
    stats_queue    *queue;
    char            id[37];          /* sender id sent with every batch */

    /* TLS to stats-service: the files, their stamp when last read, and a
     * reload request from SIGHUP. */
    bool            tls;
    rpc_tls_files   tls_files;       /* strdup'd names */
    rpc_tls_pem     tls_pem;
    rpc_tls_stamp   tls_stamp;
    atomic_bool     tls_reload;

    /* The batch being delivered: entries[0..pending), of which the first
     * `done`, and `done_in` requests of the next, went out already one by
     * one (RecordNo mode). */
    size_t                     batch_max;
    stats_entry               *batch;
    stats_streams_entry        streams;   /* sent with the batch */
    Stats__StreamsRecord       streams_msg;
    Stats__AggregatedRecord   *msgs;
    Stats__AggregatedRecord  **msg_ptrs;
    size_t                     pending;
    size_t                     done;
    uint64_t                   done_in;
    uint64_t                   seq;
    bool                       no_batch;  /* RecordNo only, see deliver() */

    /* Set by stats_sender_stop(), read by the thread; under `lock`. */
    pthread_mutex_t lock;
    pthread_cond_t  wake;
    bool            stopping;
    int64_t         deadline_ns;

    uint64_t rng;                    /* backoff jitter */
    unsigned failures;               /* consecutive failed attempts */
    int64_t  failing_since_ns;
    int64_t  last_retry_warn_ns;
    uint64_t drops_logged;
    int64_t  last_drop_warn_ns;
    uint64_t left;                   /* undelivered when the thread ended */
};

void stats_sender_make_id(char out[37]) {
    unsigned char b[16];
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        uint64_t r = backoff_seed();
        for (size_t i = 0; i < sizeof(b); i++) {
            r ^= r << 13; r ^= r >> 7; r ^= r << 17;
            b[i] = (unsigned char)r;
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    snprintf(out, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
             b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void read_stop(stats_sender *s, bool *stopping, int64_t *deadline) {
    pthread_mutex_lock(&s->lock);
    *stopping = s->stopping;
    *deadline = s->deadline_ns;
    pthread_mutex_unlock(&s->lock);
}

/* Sleep until `until_ns`, or less if a stop request arrives meanwhile. */
static void sleep_until(stats_sender *s, int64_t until_ns) {
    struct timespec ts = {
        .tv_sec = until_ns / NS_PER_SEC,
        .tv_nsec = until_ns % NS_PER_SEC,
    };
    pthread_mutex_lock(&s->lock);
    bool was_stopping = s->stopping;
    while (s->stopping == was_stopping && clock_mono_ns() < until_ns) {
        if (pthread_cond_timedwait(&s->wake, &s->lock, &ts) != 0) break;
    }
    pthread_mutex_unlock(&s->lock);
}

/* Log queue overflow drops, at most once per WARN_EVERY_NS unless forced. */
static void note_drops(stats_sender *s, bool force) {
    uint64_t dropped = stats_queue_dropped(s->queue);
    if (dropped == s->drops_logged) return;
    int64_t now = clock_mono_ns();
    if (!force && s->last_drop_warn_ns != 0 &&
        now - s->last_drop_warn_ns < WARN_EVERY_NS) return;
    log_line l;
    if (log_begin(&l, LOG_WARN, "stats_dropped")) {
        log_uint(&l, "dropped", dropped - s->drops_logged);
        log_uint(&l, "dropped_total", dropped);
        log_str(&l, "msg", "stats queue full (--stats-queue distinct n); "
                "records of new n dropped");
        log_end(&l);
    }
    s->drops_logged = dropped;
    s->last_drop_warn_ns = now;
}

/* Take the next batch from the queue; false if there was none. */
static bool next_batch(stats_sender *s, int64_t wait_until_ns) {
    s->pending = stats_queue_pop(s->queue, s->batch, s->batch_max,
                                 &s->streams, wait_until_ns);
    note_drops(s, false);
    if (s->pending == 0 && s->streams.count == 0) return false;
    stats__streams_record__init(&s->streams_msg);
    s->streams_msg.count = s->streams.count;
    s->streams_msg.items = s->streams.items;
    s->streams_msg.duration_sum = s->streams.sum_ns;
    s->streams_msg.incomplete = s->streams.incomplete;
    for (size_t i = 0; i < s->pending; i++) {
        const stats_entry *e = &s->batch[i];
        Stats__AggregatedRecord *m = &s->msgs[i];
        stats__aggregated_record__init(m);
        m->n = e->n;
        m->count = e->count;
        m->duration_sum = e->sum_ns;
        m->min_duration = e->min_ns;
        m->max_duration = e->max_ns;
        m->cache_hits = e->hits;
        m->cache_misses = e->misses;
        s->msg_ptrs[i] = m;
    }
    s->done = 0;
    s->done_in = 0;
    s->seq++;
    return true;
}

static int64_t call_timeout(bool stopping, int64_t deadline) {
    if (!stopping) return CALL_TIMEOUT_NS;
    int64_t left = deadline - clock_mono_ns();
    return left < CALL_TIMEOUT_NS ? left : CALL_TIMEOUT_NS;
}

/* One RecordBatch attempt for the whole batch. *ignored is set when the
 * server acknowledged it without counting the aggregated entries: a
 * stats-service older than them (proto3 skips fields it does not know). */
static rpc_result send_batch(stats_sender *s, int64_t timeout, bool *ignored) {
    Stats__RecordBatchRequest req = STATS__RECORD_BATCH_REQUEST__INIT;
    req.sender = s->id;
    req.seq = s->seq;
    req.n_aggregated = s->pending;
    req.aggregated = s->msg_ptrs;
    req.streams = s->streams.count ? &s->streams_msg : NULL;
    ProtobufCMessage *reply = NULL;
    rpc_result r = rpc_client_call(s->channel, METHOD_BATCH, &req.base,
                                   &stats__record_batch_response__descriptor,
                                   &reply, timeout, NULL);
    *ignored = false;
    if (reply != NULL) {
        Stats__RecordBatchResponse *resp = (Stats__RecordBatchResponse *)reply;
        *ignored = r.status == GRPC_STATUS_OK && !resp->duplicate
                   && resp->aggregated_recorded == 0 && s->pending > 0;
        protobuf_c_message_free_unpacked(reply, NULL);
    }
    return r;
}

/* Request k (0-based) of entry e as a RecordNo: the count's durations add
 * up to the sum (the last one takes the remainder), the first `hits` are
 * cache hits, the next `misses` cache misses. */
static void nth_request(const stats_entry *e, uint64_t k,
                        Stats__RecordRequest *m) {
    uint64_t each = e->sum_ns / e->count;
    stats__record_request__init(m);
    m->n = e->n;
    m->duration = (int64_t)(k + 1 < e->count
                            ? each : e->sum_ns - each * (e->count - 1));
    m->cache = k < e->hits ? STATS__CACHE_RESULT__CACHE_HIT
             : k < e->hits + e->misses ? STATS__CACHE_RESULT__CACHE_MISS
             : STATS__CACHE_RESULT__CACHE_UNSPECIFIED;
}

/* RecordNo for each request not yet sent; stops at the first failure so a
 * retry goes on from there. RecordNo cannot carry the streams aggregate:
 * that is dropped, and logged. */
static rpc_result send_each(stats_sender *s, int64_t timeout) {
    rpc_result r = { GRPC_STATUS_OK, NULL };
    if (s->streams.count > 0) {
        log_msg(LOG_INFO, "stats_streams_unsent", "stats-service takes "
                "RecordNo only: %llu streams not counted",
                (unsigned long long)s->streams.count);
        s->streams.count = 0;
    }
    while (s->done < s->pending) {
        const stats_entry *e = &s->batch[s->done];
        Stats__RecordRequest m;
        ProtobufCMessage *reply = NULL;
        nth_request(e, s->done_in, &m);
        r = rpc_client_call(s->channel, METHOD_RECORD, &m.base,
                            &stats__record_response__descriptor,
                            &reply, timeout, NULL);
        if (reply != NULL) protobuf_c_message_free_unpacked(reply, NULL);
        if (r.status != GRPC_STATUS_OK) break;
        free(r.details);        /* an OK may carry a message: not kept */
        r.details = NULL;
        if (++s->done_in == e->count) {
            s->done++;
            s->done_in = 0;
        }
    }
    return r;
}

/* RecordBatch, or RecordNo per request for a stats-service that has no
 * RecordBatch (the original contract: UNIMPLEMENTED) or ignores the
 * aggregated entries. */
static rpc_result deliver(stats_sender *s, int64_t timeout) {
    if (!s->no_batch) {
        bool ignored;
        rpc_result r = send_batch(s, timeout, &ignored);
        if (r.status != GRPC_STATUS_UNIMPLEMENTED && !ignored) return r;
        free(r.details);
        s->no_batch = true;
        log_msg(LOG_INFO, "stats_record_no", ignored
                ? "stats-service ignores aggregated entries; sending "
                  "RecordNo per request"
                : "stats-service has no RecordBatch; sending RecordNo "
                  "per request");
    }
    return send_each(s, timeout);
}

/* Worth retrying: the batch may not have been applied, and RecordBatch
 * makes a retry of one that was count once. A stats-service going down
 * mid-call answers CANCELLED, UNKNOWN or INTERNAL as often as UNAVAILABLE;
 * dropping the batch then lost records. What the service refused on purpose
 * (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, PERMISSION_DENIED, ...) would be
 * refused again: that batch is dropped, logged and counted. */
static bool transient(grpc_status_code code) {
    return code == GRPC_STATUS_UNAVAILABLE ||
           code == GRPC_STATUS_DEADLINE_EXCEEDED ||
           code == GRPC_STATUS_CANCELLED ||
           code == GRPC_STATUS_ABORTED ||
           code == GRPC_STATUS_UNKNOWN ||
           code == GRPC_STATUS_INTERNAL;
}

/* The batch is done with: nothing of it is pending any more. */
static void batch_clear(stats_sender *s) {
    s->failures = 0;
    s->pending = 0;
    s->done = 0;
    s->done_in = 0;
    s->streams.count = 0;
}

static void on_delivered(stats_sender *s) {
    uint64_t records = 0;
    int64_t oldest = s->streams.count ? s->streams.first_ns : INT64_MAX;
    for (size_t i = 0; i < s->pending; i++) {
        records += s->batch[i].count;
        if (s->batch[i].first_ns < oldest) oldest = s->batch[i].first_ns;
    }
    if (oldest != INT64_MAX) stats_metrics_sent(records, oldest);
    if (s->failures > 0) {
        log_line l;
        if (log_begin(&l, LOG_INFO, "stats_resumed")) {
            log_uint(&l, "failed_attempts", s->failures);
            log_int(&l, "outage_ms",
                    (clock_mono_ns() - s->failing_since_ns) / NS_PER_MS);
            log_str(&l, "msg", "stats delivery resumed");
            log_end(&l);
        }
    }
    batch_clear(s);
}

/* Requests of the batch not delivered yet. */
static uint64_t batch_left(const stats_sender *s) {
    uint64_t left = 0;
    for (size_t i = s->done; i < s->pending; i++) left += s->batch[i].count;
    return left - s->done_in;
}

/* A transient failure: warn (rate-limited) and return the backoff delay. */
static int64_t on_transient(stats_sender *s, const rpc_result *r) {
    int64_t now = clock_mono_ns();
    if (s->failures++ == 0) s->failing_since_ns = now;
    int64_t delay = backoff_delay(&stats_sender_backoff, s->failures, &s->rng);
    if (s->failures == 1 || now - s->last_retry_warn_ns >= WARN_EVERY_NS) {
        log_line l;
        if (log_begin(&l, LOG_WARN, "stats_retry")) {
            log_str(&l, "status", rpc_status_name(r->status));
            log_str(&l, "details", r->details);
            log_uint(&l, "attempts", s->failures);
            log_uint(&l, "batch", batch_left(s));
            log_uint(&l, "queued", stats_queue_records(s->queue));
            log_int(&l, "retry_in_ms", delay / NS_PER_MS);
            log_end(&l);
        }
        s->last_retry_warn_ns = now;
    }
    return delay;
}

static void on_rejected(stats_sender *s, const rpc_result *r) {
    stats_metrics_rejected(batch_left(s));
    log_line l;
    if (log_begin(&l, LOG_ERROR, "stats_rejected")) {
        log_str(&l, "status", rpc_status_name(r->status));
        log_str(&l, "details", r->details);
        log_uint(&l, "seq", s->seq);
        log_uint(&l, "dropped", batch_left(s));
        log_uint(&l, "streams", s->streams.count);
        log_str(&l, "msg", "stats-service refused a batch; dropped it");
        log_end(&l);
    }
    batch_clear(s);
}

/* A fresh channel after UNAVAILABLE, so that each retry connects at once
 * and our backoff alone sets the pace (rpc_client_channel() already caps
 * gRPC's own reconnect backoff at a second; with gRPC's default, which grows
 * to two minutes, delivery lagged 40 s behind a long outage). The server
 * that comes back may be a newer one, so RecordBatch is tried again (unless
 * part of this batch went out as RecordNo already: resending that would
 * count it twice). */
static void reconnect(stats_sender *s) {
    grpc_channel *ch = rpc_client_channel_tls(s->target,
                                              s->tls ? &s->tls_pem : NULL,
                                              NULL);
    if (ch == NULL) return;
    grpc_channel_destroy(s->channel);
    s->channel = ch;
    if (s->done == 0 && s->done_in == 0) s->no_batch = false;
}

/* Read the TLS files; false (logged) if they do not load. */
static bool load_tls(stats_sender *s, const char *event) {
    rpc_tls_cert_info ci;
    rpc_tls_pem pem;
    char err[512];
    log_line l;

    rpc_tls_stamp_take(&s->tls_files, &s->tls_stamp);
    if (rpc_tls_load(&s->tls_files, &pem, &ci, err, sizeof(err)) != 0) {
        log_msg(LOG_ERROR, "stats_tls_failed", "stats TLS: %s", err);
        return false;
    }
    rpc_tls_pem_free(&s->tls_pem);
    s->tls_pem = pem;
    if (log_begin(&l, LOG_INFO, event)) {
        log_str(&l, "ca", s->tls_files.ca);
        log_str(&l, "cert", s->tls_files.cert);
        log_str(&l, "subject", ci.subject[0] ? ci.subject : NULL);
        log_end(&l);
    }
    return true;
}

/* New TLS files (or SIGHUP): a new channel with them for what follows.
 * Calls on the old channel have finished (this thread made them). */
static void check_tls(stats_sender *s) {
    rpc_tls_stamp now;

    if (!s->tls) return;
    rpc_tls_stamp_take(&s->tls_files, &now);
    if (!atomic_exchange(&s->tls_reload, false) &&
        rpc_tls_stamp_equal(&now, &s->tls_stamp))
        return;
    if (load_tls(s, "stats_tls_reloaded")) reconnect(s);
}

static void *sender_main(void *arg) {
    stats_sender *s = arg;
    for (;;) {
        bool stopping;
        int64_t deadline;
        read_stop(s, &stopping, &deadline);
        if (s->pending == 0 && s->streams.count == 0) {
            int64_t wait = stopping ? 0 : clock_mono_ns() + IDLE_WAIT_NS;
            if (!next_batch(s, wait)) {
                if (stopping) break;
                continue;
            }
        }
        if (stopping && clock_mono_ns() >= deadline) break;

        check_tls(s);
        if (s->failures > 0) stats_metrics_retry();
        bool full = s->pending == s->batch_max;
        rpc_result r = deliver(s, call_timeout(stopping, deadline));
        if (r.status == GRPC_STATUS_OK) {
            on_delivered(s);
            if (!full && !stopping) sleep_until(s, clock_mono_ns() + LINGER_NS);
        } else if (transient(r.status)) {
            note_drops(s, false);       /* the queue overflows meanwhile */
            if (r.status == GRPC_STATUS_UNAVAILABLE) reconnect(s);
            int64_t until = clock_mono_ns() + on_transient(s, &r);
            if (stopping && until > deadline) until = deadline;
            sleep_until(s, until);
        } else {
            on_rejected(s, &r);
        }
        free(r.details);
    }
    note_drops(s, true);
    s->left = batch_left(s) + stats_queue_records(s->queue);
    return NULL;
}

static void sender_free(stats_sender *s) {
    if (s->channel != NULL) grpc_channel_destroy(s->channel);
    free(s->target);
    free((char *)s->tls_files.ca);
    free((char *)s->tls_files.cert);
    free((char *)s->tls_files.key);
    rpc_tls_pem_free(&s->tls_pem);
    pthread_cond_destroy(&s->wake);
    pthread_mutex_destroy(&s->lock);
    free(s->batch);
    free(s->msgs);
    free(s->msg_ptrs);
    free(s);
}

stats_sender *stats_sender_start(const char *target, stats_queue *q,
                                 size_t batch_max) {
    return stats_sender_start_tls(target, NULL, q, batch_max);
}

static char *dup_given(const char *s) {
    return s && *s ? xstrdup(s) : NULL;
}

stats_sender *stats_sender_start_tls(const char *target,
                                     const rpc_tls_files *tls,
                                     stats_queue *q, size_t batch_max) {
    stats_sender *s = xcalloc(1, sizeof(*s));
    atomic_init(&s->tls_reload, false);
    if (tls && tls->ca && *tls->ca) {
        s->tls = true;
        s->tls_files.ca = dup_given(tls->ca);
        s->tls_files.cert = dup_given(tls->cert);
        s->tls_files.key = dup_given(tls->key);
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->wake, &attr);
    pthread_condattr_destroy(&attr);

    s->queue = q;
    s->batch_max = batch_max;
    s->batch = xcalloc(batch_max, sizeof(*s->batch));
    s->msgs = xcalloc(batch_max, sizeof(*s->msgs));
    s->msg_ptrs = xcalloc(batch_max, sizeof(*s->msg_ptrs));
    s->target = xstrdup(target);
    s->channel = NULL;
    if (!s->tls || load_tls(s, "stats_tls_loaded"))
        s->channel = rpc_client_channel_tls(target,
                                            s->tls ? &s->tls_pem : NULL, NULL);
    s->rng = backoff_seed();
    stats_sender_make_id(s->id);
    if (s->channel == NULL ||
        pthread_create(&s->thread, NULL, sender_main, s) != 0) {
        sender_free(s);
        return NULL;
    }
    log_line l;
    if (log_begin(&l, LOG_INFO, "stats_sender")) {
        log_str(&l, "target", target);
        log_str(&l, "sender", s->id);
        log_uint(&l, "batch", batch_max);
        log_bool(&l, "tls", s->tls);
        log_end(&l);
    }
    return s;
}

void stats_sender_reload_tls(stats_sender *s) {
    atomic_store(&s->tls_reload, true);
}

uint64_t stats_sender_stop(stats_sender *s, int64_t deadline_ns) {
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    s->deadline_ns = deadline_ns;
    pthread_cond_signal(&s->wake);
    pthread_mutex_unlock(&s->lock);
    stats_queue_wake(s->queue);
    pthread_join(s->thread, NULL);
    uint64_t left = s->left;
    sender_free(s);
    return left;
}
