/* test_stats_proto.c - stats.proto conversion: int32 saturation next to the
 * exact 64-bit fields, cache mapping, and a StatsResponse that survives a
 * pack/unpack round trip sorted and exact. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "stats_proto.h"

START_TEST(test_sat_int32) {
    ck_assert_int_eq(stats_sat_int32(0), 0);
    ck_assert_int_eq(stats_sat_int32(INT32_MAX), INT32_MAX);
    ck_assert_int_eq(stats_sat_int32((uint64_t)INT32_MAX + 1), INT32_MAX);
    ck_assert_int_eq(stats_sat_int32(UINT64_MAX), INT32_MAX);
}
END_TEST

START_TEST(test_cache_mapping) {
    ck_assert_int_eq(stats_cache_from_proto(STATS__CACHE_RESULT__CACHE_HIT),
                     STATS_CACHE_HIT);
    ck_assert_int_eq(stats_cache_from_proto(STATS__CACHE_RESULT__CACHE_MISS),
                     STATS_CACHE_MISS);
    ck_assert_int_eq(stats_cache_from_proto(STATS__CACHE_RESULT__CACHE_BYPASS),
                     STATS_CACHE_NONE);
    ck_assert_int_eq(
        stats_cache_from_proto(STATS__CACHE_RESULT__CACHE_UNSPECIFIED),
        STATS_CACHE_NONE);
    ck_assert_int_eq(stats_cache_from_proto((Stats__CacheResult)77),
                     STATS_CACHE_NONE);
}
END_TEST

START_TEST(test_record_from_proto) {
    Stats__RecordRequest m = STATS__RECORD_REQUEST__INIT;
    stats_record r;

    m.n = 12;
    m.duration = 3456;
    m.cache = STATS__CACHE_RESULT__CACHE_MISS;
    stats_record_from_proto(&r, &m);
    ck_assert_int_eq(r.n, 12);
    ck_assert_int_eq(r.duration_ns, 3456);
    ck_assert_int_eq(r.cache, STATS_CACHE_MISS);
}
END_TEST

/* Pack a response from the store, unpack it as a client would. */
static Stats__StatsResponse *round_trip(stats_store *s) {
    Stats__StatsResponse resp = STATS__STATS_RESPONSE__INIT;
    Stats__StatsResponse *back;
    stats_snapshot snap;
    uint8_t *buf;
    size_t len;

    stats_store_snapshot(s, &snap);
    stats_response_fill(&resp, &snap);
    len = stats__stats_response__get_packed_size(&resp);
    buf = malloc(len ? len : 1);
    ck_assert_uint_eq(stats__stats_response__pack(&resp, buf), len);
    back = stats__stats_response__unpack(NULL, len, buf);
    ck_assert_ptr_nonnull(back);
    free(buf);
    stats_response_release(&resp);
    stats_snapshot_free(&snap);
    return back;
}

START_TEST(test_response_saturates_and_is_exact) {
    stats_store *s = stats_store_open("memory:", NULL, NULL, 0);
    stats_record big = {30, 2, STATS_CACHE_HIT};
    stats_record small = {4, 1500, STATS_CACHE_MISS};
    stats_record small2 = {4, 2500, STATS_CACHE_NONE};
    uint64_t many = (uint64_t)INT32_MAX + 5;
    Stats__StatsResponse *r;

    ck_assert_int_eq(stats_store_record_many(s, &big, many), STATS_OK);
    ck_assert_int_eq(stats_store_record(s, &small2), STATS_OK);
    ck_assert_int_eq(stats_store_record(s, &small), STATS_OK);
    r = round_trip(s);

    ck_assert_int_eq(r->total_requests, INT32_MAX);
    ck_assert_uint_eq(r->total_requests64, many + 2);
    ck_assert_uint_eq(r->n_fibonacci_stats, 2);

    ck_assert_int_eq(r->fibonacci_stats[0]->n, 4);
    ck_assert_int_eq(r->fibonacci_stats[0]->request_count, 2);
    ck_assert_uint_eq(r->fibonacci_stats[0]->request_count64, 2);
    ck_assert(r->fibonacci_stats[0]->average_time_ms == 0.002);
    ck_assert_int_eq(r->fibonacci_stats[0]->min_duration_ns, 1500);
    ck_assert_int_eq(r->fibonacci_stats[0]->max_duration_ns, 2500);
    ck_assert_uint_eq(r->fibonacci_stats[0]->total_duration_ns, 4000);
    ck_assert_uint_eq(r->fibonacci_stats[0]->cache_hits, 0);
    ck_assert_uint_eq(r->fibonacci_stats[0]->cache_misses, 1);

    ck_assert_int_eq(r->fibonacci_stats[1]->n, 30);
    ck_assert_int_eq(r->fibonacci_stats[1]->request_count, INT32_MAX);
    ck_assert_uint_eq(r->fibonacci_stats[1]->request_count64, many);
    ck_assert_uint_eq(r->fibonacci_stats[1]->cache_hits, many);
    ck_assert_uint_eq(r->fibonacci_stats[1]->total_duration_ns, many * 2);
    ck_assert(r->fibonacci_stats[1]->average_time_ms == 2e-6);

    stats__stats_response__free_unpacked(r, NULL);
    stats_store_free(s);
}
END_TEST

START_TEST(test_response_empty) {
    stats_store *s = stats_store_open("memory:", NULL, NULL, 0);
    Stats__StatsResponse *r = round_trip(s);

    ck_assert_int_eq(r->total_requests, 0);
    ck_assert_uint_eq(r->total_requests64, 0);
    ck_assert_uint_eq(r->n_fibonacci_stats, 0);
    stats__stats_response__free_unpacked(r, NULL);
    stats_store_free(s);
}
END_TEST

/* The sender's length on the wire: what protobuf-c's NUL-terminated string
 * hides when the name has a NUL byte in it. */
START_TEST(test_sender_wire_len) {
    static const uint8_t nul[] = {0x0a, 3, 'a', 0, 'b', 0x10, 1};
    static const uint8_t twice[] = {0x0a, 1, 'a', 0x0a, 2, 'b', 'c'};
    static const uint8_t none[] = {0x10, 0x81, 0x01, 0x1a, 0};
    static const uint8_t cut[] = {0x0a, 5, 'a'};
    static const uint8_t group[] = {0x0b, 0x0c};
    Stats__RecordBatchRequest *req;

    ck_assert_int_eq(stats_batch_sender_wire_len(nul, sizeof(nul)), 3);
    req = stats__record_batch_request__unpack(NULL, sizeof(nul), nul);
    ck_assert_ptr_nonnull(req);
    ck_assert_uint_eq(strlen(req->sender), 1);      /* what we must catch */
    stats__record_batch_request__free_unpacked(req, NULL);
    ck_assert_int_eq(stats_batch_sender_wire_len(twice, sizeof(twice)), 2);
    ck_assert_int_eq(stats_batch_sender_wire_len(none, sizeof(none)), 0);
    ck_assert_int_eq(stats_batch_sender_wire_len(cut, sizeof(cut)), -1);
    ck_assert_int_eq(stats_batch_sender_wire_len(group, sizeof(group)), -1);
}
END_TEST

/* RecordBatchRequest.streams in, StatsResponse.streams out. */
START_TEST(test_streams) {
    stats_store *s = stats_store_open("memory:", NULL, NULL, 0);
    Stats__StreamsRecord m = STATS__STREAMS_RECORD__INIT;
    Stats__StatsResponse *back;
    stats_streams st;
    size_t bad;

    ck_assert_ptr_null(stats_streams_from_proto(&st, NULL));
    ck_assert_uint_eq(st.count, 0);
    m.count = 3;
    m.items = 1003;
    m.duration_sum = 4500000;
    m.incomplete = 4;
    ck_assert_str_eq(stats_streams_from_proto(&st, &m),
                     "incomplete must be <= count");
    m.incomplete = 1;
    ck_assert_ptr_null(stats_streams_from_proto(&st, &m));
    ck_assert_uint_eq(st.items, 1003);
    ck_assert_uint_eq(st.sum_ns, 4500000);
    ck_assert_int_eq(stats_store_record_streams(s, "p", 1, NULL, 0, NULL, 0,
                                                &st, &bad), STATS_OK);
    back = round_trip(s);
    ck_assert_ptr_nonnull(back->streams);
    ck_assert_uint_eq(back->streams->count, 3);
    ck_assert_uint_eq(back->streams->items, 1003);
    ck_assert_uint_eq(back->streams->total_duration_ns, 4500000);
    ck_assert(back->streams->average_time_ms == 1.5);
    ck_assert_uint_eq(back->streams->incomplete, 1);
    ck_assert_uint_eq(back->total_requests64, 0);
    ck_assert_uint_eq(back->n_fibonacci_stats, 0);
    stats__stats_response__free_unpacked(back, NULL);
    stats_store_free(s);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_sat_int32,
                            test_cache_mapping,
                            test_record_from_proto,
                            test_response_saturates_and_is_exact,
                            test_response_empty,
                            test_sender_wire_len,
                            test_streams};
    return run_suite(one_case_suite("stats_proto", tests, 7));
}
