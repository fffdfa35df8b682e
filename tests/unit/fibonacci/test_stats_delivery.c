/* test_stats_delivery.c - the stats sender against a scripted stats server
 * (common/rpc_server on a real socket): a batch of aggregated entries is
 * retried with the same (sender, seq, entries) until acknowledged; an
 * UNIMPLEMENTED RecordBatch, or one that ignores aggregated entries, falls
 * back to RecordNo per request; a refused batch is dropped, not retried;
 * stop flushes the queue, or gives up at its deadline. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "stats/stats.pb-c.h"
#include "clock.h"
#include "log.h"
#include "rpc_server.h"
#include "stats_queue.h"
#include "stats_sender.h"

#define MS 1000000LL
#define MAX_CALLS 64

/* What the fake server saw, and how it answers. */
typedef struct {
    char     sender[64];
    uint64_t seq;
    size_t   n_records;
    int32_t  first_n;
} seen_batch;

static struct {
    pthread_mutex_t  lock;
    int              fail_first;     /* answer these many calls ... */
    grpc_status_code fail_code;      /* ... with this status */
    int              calls;
    seen_batch       batch[MAX_CALLS];
    int              applied;        /* requests acknowledged */
    int32_t          record_no[MAX_CALLS];
    int64_t          record_no_ns[MAX_CALLS];
    bool             ignore_aggregated;  /* act as an older stats-service */
} srv = { .lock = PTHREAD_MUTEX_INITIALIZER };

static rpc_server *server;

/* Count the call; true if it is to be failed. */
static bool scripted_failure(void) {
    return srv.calls++ < srv.fail_first;
}

static void record_batch(rpc_call *c, void *ud) {
    (void)ud;
    size_t len;
    const uint8_t *p = rpc_call_payload(c, &len);
    Stats__RecordBatchRequest *req =
        stats__record_batch_request__unpack(NULL, len, p);
    ck_assert_ptr_nonnull(req);
    pthread_mutex_lock(&srv.lock);
    if (srv.calls < MAX_CALLS) {
        seen_batch *b = &srv.batch[srv.calls];
        snprintf(b->sender, sizeof(b->sender), "%s", req->sender);
        b->seq = req->seq;
        b->n_records = req->n_aggregated;
        b->first_n = req->n_aggregated ? req->aggregated[0]->n : -1;
    }
    bool fail = scripted_failure();
    uint64_t requests = 0;
    for (size_t i = 0; i < req->n_aggregated; i++)
        requests += req->aggregated[i]->count;
    if (!fail && !srv.ignore_aggregated) srv.applied += (int)requests;
    pthread_mutex_unlock(&srv.lock);
    if (fail) {
        rpc_call_fail(c, srv.fail_code, "scripted failure");
    } else {
        Stats__RecordBatchResponse r = STATS__RECORD_BATCH_RESPONSE__INIT;
        r.success = true;
        r.recorded = (uint32_t)req->n_records;
        if (!srv.ignore_aggregated) r.aggregated_recorded = requests;
        rpc_call_reply(c, &r.base);
    }
    stats__record_batch_request__free_unpacked(req, NULL);
}

static void record_no(rpc_call *c, void *ud) {
    (void)ud;
    size_t len;
    const uint8_t *p = rpc_call_payload(c, &len);
    Stats__RecordRequest *req = stats__record_request__unpack(NULL, len, p);
    ck_assert_ptr_nonnull(req);
    pthread_mutex_lock(&srv.lock);
    bool fail = scripted_failure();
    if (!fail && srv.applied < MAX_CALLS) {
        srv.record_no_ns[srv.applied] = req->duration;
        srv.record_no[srv.applied++] = req->n;
    }
    pthread_mutex_unlock(&srv.lock);
    if (fail) {
        rpc_call_fail(c, srv.fail_code, "scripted failure");
    } else {
        Stats__RecordResponse r = STATS__RECORD_RESPONSE__INIT;
        r.success = true;
        rpc_call_reply(c, &r.base);
    }
    stats__record_request__free_unpacked(req, NULL);
}

/* A server on `listen` with RecordBatch (batch = true) or only RecordNo,
 * failing its first `fail_first` calls with `code`. Returns its target. */
static const char *start_server_on(const char *listen, bool batch,
                                   int fail_first, grpc_status_code code) {
    static char target[64];
    grpc_init();
    log_init("test", LOG_ERROR);
    srv.fail_first = fail_first;
    srv.fail_code = code;
    server = rpc_server_create(listen, 1);
    if (batch)
        rpc_server_add_method(server, "/stats.Stats/RecordBatch",
                              record_batch, NULL);
    rpc_server_add_method(server, "/stats.Stats/RecordNo", record_no, NULL);
    ck_assert_int_eq(rpc_server_start(server), 0);
    snprintf(target, sizeof(target), "127.0.0.1:%d", rpc_server_port(server));
    return target;
}

static const char *start_server(bool batch, int fail_first,
                                grpc_status_code code) {
    return start_server_on("127.0.0.1:0", batch, fail_first, code);
}

static void stop_server(void) {
    rpc_server_shutdown(server, 0);
    rpc_server_destroy(server);
}

/* Wait (up to 3 s) until the server has acknowledged `want` records. */
static int wait_applied(int want) {
    int64_t end = clock_mono_ns() + 3000 * MS;
    int got;
    do {
        pthread_mutex_lock(&srv.lock);
        got = srv.applied;
        pthread_mutex_unlock(&srv.lock);
        if (got >= want) break;
        usleep(10000);
    } while (clock_mono_ns() < end);
    return got;
}

static int calls_seen(void) {
    pthread_mutex_lock(&srv.lock);
    int n = srv.calls;
    pthread_mutex_unlock(&srv.lock);
    return n;
}

static void push_n(stats_queue *q, int first, int count) {
    for (int i = 0; i < count; i++) stats_queue_push(q, first + i, 1000, 2);
}

/* A queue holding `count` records (n = first...) and a sender taking up to
 * `batch_max` at a time to the scripted server. */
typedef struct {
    stats_queue  *q;
    stats_sender *s;
} rig;

static rig rig_start(const char *target, int first, int count,
                     size_t batch_max) {
    rig r;
    r.q = stats_queue_create(1000);
    push_n(r.q, first, count);
    r.s = stats_sender_start(target, r.q, batch_max);
    ck_assert_ptr_nonnull(r.s);
    return r;
}

/* Stop the sender (nothing may be left undelivered) and the server. */
static void rig_stop(rig *r) {
    ck_assert_uint_eq(stats_sender_stop(r->s, clock_mono_ns() + 2000 * MS), 0);
    stats_queue_destroy(r->q);
    stop_server();
}

START_TEST(test_retries_same_batch_until_acknowledged) {
    rig r = rig_start(start_server(true, 3, GRPC_STATUS_UNAVAILABLE),
                      10, 5, 100);
    ck_assert_int_eq(wait_applied(5), 5);
    push_n(r.q, 20, 2);
    ck_assert_int_eq(wait_applied(7), 7);
    rig_stop(&r);

    for (int i = 0; i < 4; i++) {     /* 3 failed + 1 ok: the same batch */
        ck_assert_str_eq(srv.batch[i].sender, srv.batch[0].sender);
        ck_assert_uint_eq(srv.batch[i].seq, srv.batch[0].seq);
        ck_assert_uint_eq(srv.batch[i].n_records, 5);
        ck_assert_int_eq(srv.batch[i].first_n, 10);
    }
    /* The later records in one or two new batches (the sender may wake
     * between the two pushes), each with the next seq. */
    ck_assert_int_ge(srv.calls, 5);
    ck_assert_int_le(srv.calls, 6);
    ck_assert_int_eq(srv.batch[4].first_n, 20);
    for (int i = 4; i < srv.calls; i++) {
        ck_assert_str_eq(srv.batch[i].sender, srv.batch[0].sender);
        ck_assert_uint_eq(srv.batch[i].seq, srv.batch[0].seq + (uint64_t)i - 3);
    }
}
END_TEST

START_TEST(test_batches_are_bounded) {
    rig r = rig_start(start_server(true, 0, GRPC_STATUS_OK), 0, 25, 10);
    ck_assert_int_eq(wait_applied(25), 25);
    rig_stop(&r);
    ck_assert_int_eq(srv.calls, 3);
    ck_assert_uint_eq(srv.batch[0].n_records, 10);
    ck_assert_uint_eq(srv.batch[1].n_records, 10);
    ck_assert_uint_eq(srv.batch[2].n_records, 5);
    ck_assert_int_eq(srv.batch[2].first_n, 20);
}
END_TEST

START_TEST(test_record_no_fallback) {
    /* No RecordBatch (UNIMPLEMENTED); RecordNo fails once on the way. */
    rig r = rig_start(start_server(false, 1, GRPC_STATUS_UNAVAILABLE),
                      30, 3, 100);
    ck_assert_int_eq(wait_applied(3), 3);
    push_n(r.q, 40, 1);
    ck_assert_int_eq(wait_applied(4), 4);
    rig_stop(&r);
    ck_assert_int_eq(srv.record_no[0], 30);
    ck_assert_int_eq(srv.record_no[1], 31);
    ck_assert_int_eq(srv.record_no[2], 32);
    ck_assert_int_eq(srv.record_no[3], 40);
    ck_assert_int_eq(srv.calls, 5);           /* 1 failed, 4 recorded */
}
END_TEST

START_TEST(test_record_batch_again_after_reconnect) {
    /* An original server (RecordNo only) is replaced by a newer one on the
     * same port: after the outage the sender uses RecordBatch again. */
    char target[64];
    snprintf(target, sizeof(target), "%s", start_server(false, 0, 0));
    rig r = rig_start(target, 70, 2, 100);
    ck_assert_int_eq(wait_applied(2), 2);
    stop_server();
    push_n(r.q, 80, 3);
    usleep(200000);                     /* deliveries fail: UNAVAILABLE */
    start_server_on(target, true, 0, 0);
    ck_assert_int_eq(wait_applied(5), 5);
    rig_stop(&r);
    ck_assert_int_eq(srv.record_no[0], 70);
    ck_assert_int_eq(srv.record_no[1], 71);
    /* The three later records went out in RecordBatch calls (one or more:
     * the sender may wake between the pushes). */
    size_t batched = 0;
    int32_t first = -1;
    for (int i = 0; i < srv.calls && i < MAX_CALLS; i++) {
        if (first < 0 && srv.batch[i].n_records > 0) first = srv.batch[i].first_n;
        batched += srv.batch[i].n_records;
    }
    ck_assert_uint_eq(batched, 3);
    ck_assert_int_eq(first, 80);
}
END_TEST

START_TEST(test_refused_batch_is_dropped) {
    rig r = rig_start(start_server(true, 1, GRPC_STATUS_INVALID_ARGUMENT),
                      50, 3, 100);
    int64_t end = clock_mono_ns() + 3000 * MS;
    while (calls_seen() < 1 && clock_mono_ns() < end) usleep(10000);
    push_n(r.q, 60, 2);
    ck_assert_int_eq(wait_applied(2), 2);
    rig_stop(&r);
    /* The refused batch is not sent again: the next call carries the next
     * records (in one or two batches) under the next seq. */
    ck_assert_int_ge(srv.calls, 2);
    ck_assert_int_le(srv.calls, 3);
    ck_assert_int_eq(srv.batch[1].first_n, 60);
    ck_assert_uint_eq(srv.batch[1].seq, srv.batch[0].seq + 1);
    ck_assert_int_eq(srv.applied, 2);
}
END_TEST

START_TEST(test_aggregated_entries) {
    /* 5 requests for n=3 (1..5 us), 2 for n=4: two entries, one call. */
    rig r = rig_start(start_server(true, 0, GRPC_STATUS_OK), 0, 0, 100);
    for (int i = 1; i <= 5; i++) stats_queue_push(r.q, 3, i * 1000, 2);
    stats_queue_push(r.q, 4, 10, 1);
    stats_queue_push(r.q, 4, 20, 1);
    ck_assert_int_eq(wait_applied(7), 7);
    rig_stop(&r);
    ck_assert_int_le(srv.calls, 3);     /* the sender may wake mid-way */
    ck_assert_int_eq(srv.batch[0].first_n, 3);
}
END_TEST

START_TEST(test_record_no_when_aggregates_ignored) {
    /* An older stats-service acknowledges aggregated entries without
     * counting them: the batch is delivered again as RecordNo per request,
     * the durations adding up to the entry's sum. */
    srv.ignore_aggregated = true;
    const char *target = start_server(true, 0, GRPC_STATUS_OK);
    stats_queue *q = stats_queue_create(10);
    stats_queue_push(q, 6, 100, 1);
    stats_queue_push(q, 6, 101, 1);
    stats_queue_push(q, 6, 105, 1);
    rig r = { q, stats_sender_start(target, q, 100) };
    ck_assert_int_eq(wait_applied(3), 3);
    rig_stop(&r);
    ck_assert_int_eq(srv.record_no[0], 6);
    ck_assert_int_eq(srv.record_no[2], 6);
    ck_assert_int_eq(srv.record_no_ns[0] + srv.record_no_ns[1]
                     + srv.record_no_ns[2], 306);
    ck_assert_int_eq(srv.calls, 4);     /* one RecordBatch, three RecordNo */
}
END_TEST

START_TEST(test_stop_flushes_queue) {
    rig r = rig_start(start_server(true, 0, GRPC_STATUS_OK), 0, 0, 7);
    push_n(r.q, 0, 500);
    rig_stop(&r);                       /* returns with nothing left */
    ck_assert_int_eq(srv.applied, 500);
}
END_TEST

START_TEST(test_stop_gives_up_at_deadline) {
    grpc_init();
    log_init("test", LOG_ERROR);
    stats_queue *q = stats_queue_create(100);
    /* Nothing listens on port 1. */
    stats_sender *s = stats_sender_start("127.0.0.1:1", q, 100);
    push_n(q, 0, 4);
    usleep(100000);
    int64_t t0 = clock_mono_ns();
    ck_assert_uint_eq(stats_sender_stop(s, t0 + 300 * MS), 4);
    int64_t took = clock_mono_ns() - t0;
    ck_assert_int_ge(took, 250 * MS);
    ck_assert_int_lt(took, 1500 * MS);
    stats_queue_destroy(q);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_retries_same_batch_until_acknowledged,
                            test_batches_are_bounded,
                            test_record_no_fallback,
                            test_record_batch_again_after_reconnect,
                            test_refused_batch_is_dropped,
                            test_aggregated_entries,
                            test_record_no_when_aggregates_ignored,
                            test_stop_flushes_queue,
                            test_stop_gives_up_at_deadline};
    return run_suite(one_case_suite("stats_delivery", tests, 9));
}
