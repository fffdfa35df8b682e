/* stats_rpc.c - the four stats.Stats handlers: check the caller may
 * write, decode the request, check it, call the store, encode the answer,
 * log.
 *
 * Invalid input is answered INVALID_ARGUMENT with a message saying what is
 * wrong and logged at warn; refused writers are logged at warn with their
 * certificate names; every answered call is logged at debug.
 *
 * RecordBatch's dedup key is the caller's identity (its certificate's first
 * name, else its address) and the sender it names, so that a caller can
 * neither mark another's batches as applied nor push them out of the
 * table (stats_peers.c). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "google/protobuf/empty.pb-c.h"
#include "log.h"
#include "mem.h"
#include "stats_proto.h"
#include "stats_rpc.h"
#include "stats_peers.h"
#include "stats_view.h"

#define METHOD_RECORD "/stats.Stats/RecordNo"
#define METHOD_BATCH  "/stats.Stats/RecordBatch"
#define METHOD_STATS  "/stats.Stats/GetStats"
#define METHOD_QUERY  "/stats.Stats/Query"

/* The longest sender name and the owner part kept in a dedup key: together
 * they fit the store's STATS_SENDER_MAX. */
#define SENDER_NAME_MAX 128
#define OWNER_MAX (STATS_SENDER_MAX - SENDER_NAME_MAX - 1)
#define PEER_NAMES_MAX 16

struct stats_rpc {
    stats_store *store;
    stats_views  views;     /* GetStats answers, cached per store version */
    char       **allow;     /* --record-allow names; NULL: anyone writes */
    size_t       nallow;
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
        rpc_call_log_ids(&l, c);
        log_end(&l);
    }
    rpc_call_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "%s", msg);
}

/* The store kept nothing of this call: say why. UNAVAILABLE (the store
 * failed; the store logged why) makes senders retry. */
static void fail_store(rpc_call *c, stats_store *store, stats_result res) {
    switch (res) {
    case STATS_UNAVAILABLE:
        rpc_call_fail(c, GRPC_STATUS_UNAVAILABLE, "store %s failed; nothing "
                      "was recorded, retry later", stats_store_url(store));
        break;
    case STATS_FULL:
        log_msg(LOG_WARN, "refused", "%s: a new n past --max-tracked "
                "(%llu records refused so far)", rpc_call_method(c),
                (unsigned long long)stats_store_refused(store));
        rpc_call_fail(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "stats-service "
                      "tracks no more distinct n (--max-tracked); nothing "
                      "was recorded");
        break;
    default:
        log_msg(LOG_ERROR, "store_failed", "%s: store result %d",
                rpc_call_method(c), (int)res);
        rpc_call_fail(c, GRPC_STATUS_INTERNAL, "store %s: unexpected "
                      "result; nothing was recorded", stats_store_url(store));
        break;
    }
}

/* The fields every request line ends with, then write it. */
static void log_finish(log_line *l, rpc_call *c) {
    log_int(l, "elapsed_us", (clock_mono_ns() - rpc_call_start_ns(c)) / 1000);
    log_str(l, "peer", rpc_call_peer(c));
    rpc_call_log_ids(l, c);
    log_end(l);
}

static bool allowed(const stats_rpc *r, const char **names, size_t n) {
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < r->nallow; k++)
            if (strcmp(names[i], r->allow[k]) == 0) return true;
    return false;
}

/* The names as one string for messages: "a, b". */
static void join_names(char *buf, size_t cap, const char **names, size_t n) {
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "",
                         names[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* True when the caller may record; else the call has been answered. */
static bool check_writer(const stats_rpc *r, rpc_call *c) {
    const char *names[PEER_NAMES_MAX];
    grpc_status_code code;
    char who[512];
    size_t n;
    log_line l;

    if (r->allow == NULL) return true;
    n = rpc_call_peer_names(c, names, PEER_NAMES_MAX);
    if (n > 0 && allowed(r, names, n)) return true;
    join_names(who, sizeof(who), names, n);
    code = n == 0 ? GRPC_STATUS_UNAUTHENTICATED
                  : GRPC_STATUS_PERMISSION_DENIED;
    if (log_begin(&l, LOG_WARN, "record_refused")) {
        log_str(&l, "method", rpc_call_method(c));
        log_str(&l, "status", rpc_status_name(code));
        log_str(&l, "identity", n ? who : NULL);
        log_str(&l, "peer", rpc_call_peer(c));
        rpc_call_log_ids(&l, c);
        log_end(&l);
    }
    if (n == 0) {
        rpc_call_fail(c, code, "recording needs a client certificate "
                      "naming the caller");
    } else {
        rpc_call_fail(c, code, "certificate names (%s) are not allowed to "
                      "record", who);
    }
    return false;
}

/* The dedup owner of the caller: its certificate's first name, else its
 * address without the port. */
static void caller_owner(rpc_call *c, char *out, size_t cap) {
    const char *names[1];
    const char *peer, *colon;
    size_t len;

    if (rpc_call_peer_names(c, names, 1) == 1) {
        snprintf(out, cap, "%s", names[0]);
        return;
    }
    peer = rpc_call_peer(c);
    if (peer == NULL) peer = "";
    colon = strrchr(peer, ':');
    len = colon && strncmp(peer, "unix:", 5) != 0 ? (size_t)(colon - peer)
                                                  : strlen(peer);
    snprintf(out, cap, "%.*s", (int)len, peer);
}

/* True when the sender name is acceptable, else why not in `why`.
 * `wire_len` is its length in the request. */
static bool sender_valid(const char *sender, long long wire_len, char *why,
                         size_t cap) {
    size_t len = strlen(sender);

    if ((long long)len != wire_len) {
        snprintf(why, cap, "sender must not contain NUL bytes");
    } else if (len == 0) {
        snprintf(why, cap, "sender must not be empty");
    } else if (len > SENDER_NAME_MAX) {
        snprintf(why, cap, "sender is %zu bytes, at most %d allowed", len,
                 SENDER_NAME_MAX);
    } else {
        for (size_t i = 0; i < len; i++) {
            if (!isgraph((unsigned char)sender[i])) {
                snprintf(why, cap, "sender must be printable ASCII without "
                         "spaces; byte %zu is 0x%02x", i,
                         (unsigned char)sender[i]);
                return false;
            }
        }
        return true;
    }
    return false;
}

static const char *stats_cache_name(stats_cache c) {
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
    stats_result res;
    stats_record r;
    size_t len;
    log_line l;

    if (!check_writer(ud, c)) return;
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
    res = stats_store_record(store, &r);
    if (res != STATS_OK) {
        fail_store(c, store, res);
        return;
    }
    resp.success = 1;
    rpc_call_reply(c, &resp.base);

    if (log_begin(&l, LOG_DEBUG, "record")) {
        log_int(&l, "n", r.n);
        log_double(&l, "duration_us", (double)r.duration_ns / 1e3);
        log_str(&l, "cache", stats_cache_name(r.cache));
        log_finish(&l, c);
    }
}

/* The batch's records as store records. */
static stats_record *batch_records(const Stats__RecordBatchRequest *req) {
    stats_record *recs = xmalloc(req->n_records * sizeof(*recs));
    for (size_t i = 0; i < req->n_records; i++) {
        stats_record_from_proto(&recs[i], req->records[i]);
    }
    return recs;
}

/* The batch's aggregated entries as store aggregates, in *out. Returns 0,
 * or -1 after rejecting the call for a bad entry. *requests is the sum of
 * their counts. */
static int batch_aggs(rpc_call *c, const Stats__RecordBatchRequest *req,
                      stats_agg **out, uint64_t *requests) {
    const char *bad;
    size_t i;

    *requests = 0;
    *out = xmalloc((req->n_aggregated ? req->n_aggregated : 1)
                   * sizeof(**out));
    for (i = 0; i < req->n_aggregated; i++) {
        bad = stats_agg_from_proto(&(*out)[i], req->aggregated[i]);
        if (bad != NULL) {
            reject(c, "aggregated[%zu].%s", i, bad);
            free(*out);
            *out = NULL;
            return -1;
        }
        *requests = stats_sat_add(*requests, (*out)[i].count);
    }
    return 0;
}

/* Answer a batch the store turned down as invalid (a record: the sender
 * was checked before). */
static void reject_batch(rpc_call *c, const stats_record *recs, size_t bad) {
    char prefix[48];

    if (bad == SIZE_MAX) {
        reject(c, "sender is not valid");
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
    char owner[OWNER_MAX + 1], key[STATS_SENDER_MAX + 1];
    stats_record *recs;
    stats_agg *aggs = NULL;
    stats_streams streams;
    uint64_t requests;
    stats_result res;
    char why[128];
    size_t len, bad;
    log_line l;

    if (!check_writer(ud, c)) return;
    data = rpc_call_payload(c, &len);
    req = stats__record_batch_request__unpack(NULL, len, data);
    if (req == NULL) {
        reject(c, "request does not parse as stats.RecordBatchRequest");
        return;
    }
    if (!sender_valid(req->sender, stats_batch_sender_wire_len(data, len),
                      why, sizeof(why))) {
        reject(c, "%s", why);
        stats__record_batch_request__free_unpacked(req, NULL);
        return;
    }
    caller_owner(c, owner, sizeof(owner));
    snprintf(key, sizeof(key), "%s%c%s", owner, STATS_OWNER_SEP, req->sender);
    const char *bad_streams = stats_streams_from_proto(&streams, req->streams);
    if (bad_streams != NULL) {
        reject(c, "streams.%s", bad_streams);
        stats__record_batch_request__free_unpacked(req, NULL);
        return;
    }
    if (batch_aggs(c, req, &aggs, &requests) != 0) {
        stats__record_batch_request__free_unpacked(req, NULL);
        return;
    }
    recs = batch_records(req);
    res = stats_store_record_streams(store, key, req->seq, recs,
                                     req->n_records, aggs, req->n_aggregated,
                                     &streams, &bad);

    if (res == STATS_INVALID) {
        reject_batch(c, recs, bad);
    } else if (res != STATS_OK && res != STATS_DUPLICATE) {
        fail_store(c, store, res);
    } else {
        resp.success = 1;
        resp.duplicate = res == STATS_DUPLICATE;
        resp.recorded = res == STATS_OK ? (uint32_t)req->n_records : 0;
        resp.aggregated_recorded = res == STATS_OK ? requests : 0;
        resp.streams_recorded = res == STATS_OK ? streams.count : 0;
        rpc_call_reply(c, &resp.base);
        if (log_begin(&l, LOG_DEBUG, "record_batch")) {
            log_str(&l, "sender", req->sender);
            log_uint(&l, "seq", req->seq);
            log_uint(&l, "records", req->n_records);
            log_uint(&l, "aggregated", req->n_aggregated);
            log_uint(&l, "recorded", resp.recorded);
            log_uint(&l, "aggregated_recorded", resp.aggregated_recorded);
            log_uint(&l, "streams_recorded", resp.streams_recorded);
            log_bool(&l, "duplicate", resp.duplicate);
            log_finish(&l, c);
        }
    }
    free(recs);
    free(aggs);
    stats__record_batch_request__free_unpacked(req, NULL);
}

static void get_stats(rpc_call *c, void *ud) {
    stats_rpc *r = ud;
    Google__Protobuf__Empty *req;
    const stats_snapshot *snap;
    const uint8_t *data;
    stats_result res;
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

    view = stats_views_get(&r->views, r->store, &res);
    if (view == NULL) {
        rpc_call_fail(c, GRPC_STATUS_UNAVAILABLE, "store %s failed",
                      stats_store_url(r->store));
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

static void query(rpc_call *c, void *ud) {
    stats_rpc *r = ud;
    Stats__StatsQuery *req;
    Stats__StatsPage resp = STATS__STATS_PAGE__INIT;
    const uint8_t *data;
    const char *bad;
    stats_result res;
    stats_view *view;
    stats_query q;
    stats_page page;
    size_t len;
    log_line l;
    int rc;

    data = rpc_call_payload(c, &len);
    req = stats__stats_query__unpack(NULL, len, data);
    if (req == NULL) {
        reject(c, "request does not parse as stats.StatsQuery");
        return;
    }
    stats_query_from_proto(&q, req);
    bad = stats_query_check(&q);
    if (bad != NULL) {
        reject(c, "%s", bad);
        stats__stats_query__free_unpacked(req, NULL);
        return;
    }
    view = stats_views_get(&r->views, r->store, &res);
    if (view == NULL) {
        fail_store(c, r->store, res);
        stats__stats_query__free_unpacked(req, NULL);
        return;
    }
    rc = stats_query_run(stats_view_snapshot(view), &q, &page);
    if (rc != 0) {
        reject(c, "page_token \"%s\" is not one this query handed out",
               q.token);
    } else {
        stats_page_fill(&resp, &page, stats_view_snapshot(view));
        rpc_call_reply(c, &resp.base);
        if (log_begin(&l, LOG_DEBUG, "query")) {
            log_uint(&l, "entries", page.len);
            log_uint(&l, "matched", page.matched);
            log_finish(&l, c);
        }
    }
    stats_page_release(&resp);
    stats_page_free(&page);
    stats_view_release(&r->views, view);
    stats__stats_query__free_unpacked(req, NULL);
}

stats_rpc *stats_rpc_create(stats_store *store) {
    stats_rpc *r = xcalloc(1, sizeof(*r));
    r->store = store;
    stats_views_init(&r->views);
    return r;
}

void stats_rpc_register(stats_rpc *r, rpc_server *srv) {
    rpc_server_add_method(srv, METHOD_RECORD, record_no, r);
    rpc_server_add_method(srv, METHOD_BATCH, record_batch, r);
    rpc_server_add_method(srv, METHOD_STATS, get_stats, r);
    rpc_server_add_method(srv, METHOD_QUERY, query, r);
    rpc_server_add_service(srv, STATS_SERVICE_NAME);
}

int stats_rpc_set_record_allow(stats_rpc *r, const char *names) {
    char *copy = xstrdup(names), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        size_t n = strlen(tok);
        while (n > 0 && tok[n - 1] == ' ') tok[--n] = '\0';
        if (n == 0) continue;
        r->allow = xrealloc(r->allow, (r->nallow + 1) * sizeof(*r->allow));
        r->allow[r->nallow++] = xstrdup(tok);
    }
    free(copy);
    return r->nallow > 0 ? 0 : -1;
}

void stats_rpc_free(stats_rpc *r) {
    if (r == NULL) return;
    for (size_t i = 0; i < r->nallow; i++) free(r->allow[i]);
    free(r->allow);
    stats_views_destroy(&r->views);
    free(r);
}
