/* test_stats_view.c - cached GetStats answers: reused while the store is
 * unchanged, rebuilt after any change, safe to share across threads. */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "../common/testutil.h"
#include "stats_view.h"

static stats_store *store;
static stats_views views;
static stats_result why;

static void setup(void) {
    store = stats_store_open("memory:", NULL, NULL, 0);
    stats_views_init(&views);
}

static void teardown(void) {
    stats_views_destroy(&views);
    stats_store_free(store);
}

static void record(int32_t n, int64_t ns) {
    stats_record r = {n, ns, STATS_CACHE_NONE};
    ck_assert_int_eq(stats_store_record(store, &r), STATS_OK);
}

START_TEST(test_reused_until_changed) {
    stats_view *a, *b, *c;

    record(1, 1500);
    record(1, 2500);
    a = stats_views_get(&views, store, &why);
    b = stats_views_get(&views, store, &why);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(stats_view_response(a)->total_requests, 2);
    ck_assert(stats_view_response(a)->fibonacci_stats[0]->average_time_ms
              == 0.002);

    record(0, 7);
    c = stats_views_get(&views, store, &why);
    ck_assert_ptr_ne(a, c);
    /* The old view is still whole for those holding it. */
    ck_assert_int_eq(stats_view_response(a)->total_requests, 2);
    ck_assert_int_eq(stats_view_response(c)->total_requests, 3);
    ck_assert_uint_eq(stats_view_response(c)->n_fibonacci_stats, 2);
    ck_assert_int_eq(stats_view_response(c)->fibonacci_stats[0]->n, 0);

    /* the packed answer every call sends is the same message */
    grpc_slice packed = stats_view_packed(c);
    Stats__StatsResponse *wire = stats__stats_response__unpack(NULL,
        GRPC_SLICE_LENGTH(packed), GRPC_SLICE_START_PTR(packed));
    ck_assert_ptr_nonnull(wire);
    ck_assert_uint_eq(wire->total_requests64, 3);
    ck_assert_uint_eq(wire->n_fibonacci_stats, 2);
    ck_assert_int_eq(wire->fibonacci_stats[1]->n, 1);
    ck_assert_uint_eq(wire->fibonacci_stats[1]->request_count64, 2);
    stats__stats_response__free_unpacked(wire, NULL);
    ck_assert_uint_eq(stats_view_snapshot(c)->len, 2);
    stats_view_release(&views, a);
    stats_view_release(&views, b);
    stats_view_release(&views, c);
}
END_TEST

START_TEST(test_duplicate_batch_keeps_view) {
    stats_record r = {4, 10, STATS_CACHE_NONE};
    stats_view *a, *b;
    size_t bad;

    ck_assert_int_eq(stats_store_record_batch(store, "s", 1, &r, 1, NULL, 0, &bad),
                     STATS_OK);
    a = stats_views_get(&views, store, &why);
    ck_assert_int_eq(stats_store_record_batch(store, "s", 1, &r, 1, NULL, 0, &bad),
                     STATS_DUPLICATE);
    b = stats_views_get(&views, store, &why);
    ck_assert_ptr_eq(a, b);
    ck_assert_int_eq(stats_view_response(b)->total_requests, 1);
    stats_view_release(&views, a);
    stats_view_release(&views, b);
}
END_TEST

static void *churn(void *arg) {
    int i;

    for (i = 0; i < 2000; i++) {
        stats_result res;
        stats_view *v;
        if ((intptr_t)arg) record(i % 100, i);
        v = stats_views_get(&views, store, &res);
        ck_assert_ptr_nonnull(v);
        /* Each view is consistent: its rows add up to its total. */
        uint64_t sum = 0;
        const Stats__StatsResponse *resp = stats_view_response(v);
        for (size_t k = 0; k < resp->n_fibonacci_stats; k++) {
            sum += resp->fibonacci_stats[k]->request_count64;
        }
        ck_assert_uint_eq(sum, resp->total_requests64);
        stats_view_release(&views, v);
    }
    return NULL;
}

START_TEST(test_concurrent_readers_and_writers) {
    pthread_t th[4];
    stats_view *v;
    int i;

    for (i = 0; i < 4; i++) {
        pthread_create(&th[i], NULL, churn, (void *)(intptr_t)(i % 2));
    }
    for (i = 0; i < 4; i++) pthread_join(th[i], NULL);
    v = stats_views_get(&views, store, &why);
    ck_assert_uint_eq(stats_view_response(v)->total_requests64, 4000);
    stats_view_release(&views, v);
}
END_TEST

int main(void) {
    Suite *s = suite_create("stats_view");
    TCase *tc = tcase_create("view");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_reused_until_changed);
    tcase_add_test(tc, test_duplicate_batch_keeps_view);
    tcase_add_test(tc, test_concurrent_readers_and_writers);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
