/* stats_rpc.c - the three stats.Stats handlers: decode the request, check
 * it, call the store, encode the answer, log.
 *
 * Invalid input is answered INVALID_ARGUMENT with a message saying what is
 * wrong and logged at warn; every answered call is logged at debug. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "google/protobuf/empty.pb-c.h"
#include "log.h"
#include "stats_proto.h"
#include "stats_rpc.h"
#include "stats_view.h"

#define METHOD_RECORD "/stats.Stats/RecordNo"
#define METHOD_BATCH  "/stats.Stats/RecordBatch"
#define METHOD_STATS  "/stats.Stats/GetStats"

struct stats_rpc {
    stats_store *store;
    stats_views  views;     /* GetStats answers, cached per store version */
};

/* Answer INVALID_ARGUMENT with a formatted message and log it at warn. */
static void reject(rpc_call *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void reject(rpc_call *c, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    log_line l;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (log_begin(&l, LOG_WARN, "invalid_argument")) {
        log_str(&l, "method", rpc_call_method(c));
        log_str(&l, "error", msg);
        log_str(&l, "peer", rpc_call_peer(c));
        log_str(&l, "request_id", rpc_call_request_id(c));
        log_end(&l);
    }
    rpc_call_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "%s", msg);
}

/* The store ran out of memory: nothing was recorded. */
static void fail_nomem(rpc_call *c) {
    log_msg(LOG_ERROR, "out_of_memory", "%s: nothing recorded",
            rpc_call_method(c));
    rpc_call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
                  "stats-service is out of memory; nothing was recorded");
}

/* The fields every request line ends with, then write it. */
static void log_finish(log_line *l, rpc_call *c) {
    log_int(l, "elapsed_us", (clock_mono_ns() - rpc_call_start_ns(c)) / 1000);
    log_str(l, "peer", rpc_call_peer(c));
    log_str(l, "request_id", rpc_call_request_id(c));
    log_end(l);
}

static const char *cache_name(stats_cache c) {
    switch (c) {
    case STATS_CACHE_HIT:  return "hit";
    case STATS_CACHE_MISS: return "miss";
    default:               return "none";
    }
}

/* Why a record is rejected. `prefix` names it inside a batch ("records[3]."),
 * or is "" for RecordNo. */
static void reject_record(rpc_call *c, const char *prefix,
                          const stats_record *r) {
    const char *bad = stats_record_invalid(r);

    if (strcmp(bad, "n") == 0) {
        reject(c, "%sn must be >= 0, got %d", prefix, (int)r->n);
    } else {
        reject(c, "%sduration must be >= 0 (nanoseconds), got %lld", prefix,
               (long long)r->duration_ns);
    }
}

static void record_no(rpc_call *c, void *ud) {
    stats_store *store = ((stats_rpc *)ud)->store;
    Stats__RecordRequest *req;
    Stats__RecordResponse resp = STATS__RECORD_RESPONSE__INIT;
    const uint8_t *data;
    stats_record r;
    size_t len;
    log_line l;

    data = rpc_call_payload(c, &len);
    req = stats__record_request__unpack(NULL, len, data);
    if (req == NULL) {
        reject(c, "request does not parse as stats.RecordRequest");
        return;
    }
    stats_record_from_proto(&r, req);
    stats__record_request__free_unpacked(req, NULL);

    if (stats_record_invalid(&r)) {
        reject_record(c, "", &r);
        return;
    }
    if (stats_store_record(store, &r) != STATS_OK) {
        fail_nomem(c);
        return;
    }
    resp.success = 1;
    rpc_call_reply(c, &resp.base);

    if (log_begin(&l, LOG_DEBUG, "record")) {
        log_int(&l, "n", r.n);
        log_double(&l, "duration_us", (double)r.duration_ns / 1e3);
        log_str(&l, "cache", cache_name(r.cache));
        log_finish(&l, c);
    }
}

/* The batch's records as store records; NULL when out of memory. */
static stats_record *batch_records(const Stats__RecordBatchRequest *req) {
    stats_record *recs;
    size_t i;

    recs = malloc((req->n_records ? req->n_records : 1) * sizeof(*recs));
    if (recs == NULL) return NULL;
    for (i = 0; i < req->n_records; i++) {
        stats_record_from_proto(&recs[i], req->records[i]);
    }
    return recs;
}

/* Answer a batch the store turned down as invalid. */
static void reject_batch(rpc_call *c, const Stats__RecordBatchRequest *req,
                         const stats_record *recs, size_t bad) {
    char prefix[48];

    if (bad == SIZE_MAX) {
        if (req->sender[0] == '\0') {
            reject(c, "sender must not be empty");
        } else {
            reject(c, "sender is %zu bytes, at most %d allowed",
                   strlen(req->sender), STATS_SENDER_MAX);
        }
        return;
    }
    snprintf(prefix, sizeof(prefix), "records[%zu].", bad);
    reject_record(c, prefix, &recs[bad]);
}

static void record_batch(rpc_call *c, void *ud) {
    stats_store *store = ((stats_rpc *)ud)->store;
    Stats__RecordBatchRequest *req;
    Stats__RecordBatchResponse resp = STATS__RECORD_BATCH_RESPONSE__INIT;
    const uint8_t *data;
    stats_record *recs;
    stats_result res;
    size_t len, bad;
    log_line l;

    data = rpc_call_payload(c, &len);
    req = stats__record_batch_request__unpack(NULL, len, data);
    if (req == NULL) {
        reject(c, "request does not parse as stats.RecordBatchRequest");
        return;
    }
    recs = batch_records(req);
    res = recs ? stats_store_record_batch(store, req->sender, req->seq, recs,
                                          req->n_records, &bad)
               : STATS_NOMEM;

    if (res == STATS_INVALID) {
        reject_batch(c, req, recs, bad);
    } else if (res == STATS_NOMEM) {
        fail_nomem(c);
    } else {
        resp.success = 1;
        resp.duplicate = res == STATS_DUPLICATE;
        resp.recorded = res == STATS_OK ? (uint32_t)req->n_records : 0;
        rpc_call_reply(c, &resp.base);
        if (log_begin(&l, LOG_DEBUG, "record_batch")) {
            log_str(&l, "sender", req->sender);
            log_uint(&l, "seq", req->seq);
            log_uint(&l, "records", req->n_records);
            log_uint(&l, "recorded", resp.recorded);
            log_bool(&l, "duplicate", resp.duplicate);
            log_finish(&l, c);
        }
    }
    free(recs);
    stats__record_batch_request__free_unpacked(req, NULL);
}

static void get_stats(rpc_call *c, void *ud) {
    stats_rpc *r = ud;
    Google__Protobuf__Empty *req;
    const stats_snapshot *snap;
    const uint8_t *data;
    stats_view *view;
    size_t len;
    log_line l;

    data = rpc_call_payload(c, &len);
    req = google__protobuf__empty__unpack(NULL, len, data);
    if (req == NULL) {
        reject(c, "request does not parse as google.protobuf.Empty");
        return;
    }
    google__protobuf__empty__free_unpacked(req, NULL);

    view = stats_views_get(&r->views, r->store);
    if (view == NULL) {
        log_msg(LOG_ERROR, "out_of_memory", "GetStats: no snapshot");
        rpc_call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
                      "stats-service is out of memory");
        return;
    }
    rpc_call_reply_packed(c, stats_view_packed(view));

    snap = stats_view_snapshot(view);
    if (log_begin(&l, LOG_DEBUG, "get_stats")) {
        log_uint(&l, "entries", snap->len);
        log_uint(&l, "total_requests", snap->total);
        log_finish(&l, c);
    }
    stats_view_release(&r->views, view);
}

stats_rpc *stats_rpc_create(stats_store *store) {
    stats_rpc *r = calloc(1, sizeof(*r));

    if (r == NULL) return NULL;
    r->store = store;
    stats_views_init(&r->views);
    return r;
}

void stats_rpc_register(stats_rpc *r, rpc_server *srv) {
    rpc_server_add_method(srv, METHOD_RECORD, record_no, r);
    rpc_server_add_method(srv, METHOD_BATCH, record_batch, r);
    rpc_server_add_method(srv, METHOD_STATS, get_stats, r);
    rpc_server_add_service(srv, STATS_SERVICE_NAME);
}

void stats_rpc_free(stats_rpc *r) {
    if (r == NULL) return;
    stats_views_destroy(&r->views);
    free(r);
}
