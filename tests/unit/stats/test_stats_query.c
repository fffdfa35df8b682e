/* test_stats_query.c - Query over a snapshot: filters (list, range, both),
 * orders (n, count, average; ascending and descending, ties by n), paging
 * with tokens (every entry exactly once, also with entries added between
 * pages), top k, and the checks on bad queries and tokens. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "stats_query.h"
#include "stats_store.h"

static stats_store *store;
static stats_snapshot snap;

/* n = 0..N-1, n recorded (n % 7) + 1 times, each taking n ns. */
#define N 1000

static void setup(void) {
    store = stats_store_open("memory:", NULL, NULL, 0);
    for (int32_t n = 0; n < N; n++) {
        stats_record r = {n, n, STATS_CACHE_NONE};
        ck_assert_int_eq(stats_store_record_many(store, &r, (uint64_t)(n % 7) + 1),
                         STATS_OK);
    }
    ck_assert_int_eq(stats_store_snapshot(store, &snap), STATS_OK);
}

static void teardown(void) {
    stats_snapshot_free(&snap);
    stats_store_free(store);
}

static stats_page run(const stats_query *q) {
    stats_page p;
    ck_assert_ptr_null(stats_query_check(q));
    ck_assert_int_eq(stats_query_run(&snap, q, &p), 0);
    return p;
}

START_TEST(test_filters) {
    int32_t ns[] = {5, 999, 5, 1000, 3};
    stats_query q = {.ns = ns, .n_ns = 5};
    stats_page p = run(&q);

    ck_assert_uint_eq(p.matched, 3);            /* 1000 absent, 5 twice */
    ck_assert_int_eq(p.rows[0]->n, 3);
    ck_assert_int_eq(p.rows[2]->n, 999);
    ck_assert_str_eq(p.next, "");
    stats_page_free(&p);

    q = (stats_query){.has_range = true, .from = 100, .to = 199, .limit = 50};
    p = run(&q);
    ck_assert_uint_eq(p.matched, 100);
    ck_assert_uint_eq(p.len, 50);
    ck_assert_int_eq(p.rows[0]->n, 100);
    ck_assert_str_ne(p.next, "");
    stats_page_free(&p);

    q = (stats_query){.ns = ns, .n_ns = 5, .has_range = true, .from = 4,
                      .to = 10};
    p = run(&q);
    ck_assert_uint_eq(p.matched, 1);
    ck_assert_int_eq(p.rows[0]->n, 5);
    stats_page_free(&p);

    q = (stats_query){0};
    p = run(&q);
    ck_assert_uint_eq(p.len, STATS_QUERY_DEFAULT_LIMIT);
    ck_assert_uint_eq(p.matched, N);
    stats_page_free(&p);
}
END_TEST

/* Page through with `q`, checking every n comes once and the order holds. */
static void page_all(stats_query q, size_t want) {
    char *seen = calloc(N, 1);
    char token[80] = "";
    size_t got = 0, pages = 0;
    const stats_row *prev = NULL;

    do {
        q.token = token;
        stats_page p = run(&q);
        for (size_t i = 0; i < p.len; i++) {
            const stats_row *r = p.rows[i];
            ck_assert_int_eq(seen[r->n], 0);
            seen[r->n] = 1;
            if (prev != NULL && q.order == STATS_ORDER_COUNT) {
                ck_assert(q.desc ? prev->count >= r->count
                                 : prev->count <= r->count);
            }
            prev = r;
            got++;
        }
        snprintf(token, sizeof(token), "%s", p.next);
        stats_page_free(&p);
        pages++;
    } while (token[0] != '\0');
    ck_assert_uint_eq(got, want);
    ck_assert_uint_eq(pages, (want + q.limit - 1) / q.limit);
    free(seen);
}

START_TEST(test_paging_each_once) {
    page_all((stats_query){.limit = 7}, N);
    page_all((stats_query){.limit = 33, .desc = true}, N);
    page_all((stats_query){.limit = 10, .order = STATS_ORDER_COUNT}, N);
    page_all((stats_query){.limit = 64, .order = STATS_ORDER_COUNT,
                           .desc = true}, N);
    page_all((stats_query){.limit = 100, .order = STATS_ORDER_AVERAGE}, N);
    page_all((stats_query){.limit = 9, .has_range = true, .from = 10,
                           .to = 99}, 90);
}
END_TEST

START_TEST(test_paging_while_recording) {
    /* Ordered by n, a page token is a position: entries added before it
     * are not seen, entries after it are, none twice. */
    stats_query q = {.limit = 100};
    stats_page p = run(&q);
    char token[80];
    snprintf(token, sizeof(token), "%s", p.next);
    ck_assert_int_eq(p.rows[99]->n, 99);
    stats_page_free(&p);

    stats_record early = {50, 1, 0}, late = {5000, 1, 0};
    stats_store_record(store, &early);
    stats_store_record(store, &late);
    stats_snapshot_free(&snap);
    ck_assert_int_eq(stats_store_snapshot(store, &snap), STATS_OK);
    q.token = token;
    q.limit = 10000;
    p = run(&q);
    ck_assert_uint_eq(p.len, N - 100 + 1);
    ck_assert_int_eq(p.rows[0]->n, 100);
    ck_assert_int_eq(p.rows[p.len - 1]->n, 5000);
    stats_page_free(&p);
}
END_TEST

START_TEST(test_top_k) {
    stats_query q = {.top = 5, .order = STATS_ORDER_COUNT, .desc = true};
    stats_page p = run(&q);

    ck_assert_uint_eq(p.len, 5);
    ck_assert_str_eq(p.next, "");
    /* count 7 for n % 7 == 6: n = 6, 13, 20, ... ; ties by n ascending */
    for (size_t i = 0; i < 5; i++) {
        ck_assert_uint_eq(p.rows[i]->count, 7);
        ck_assert_int_eq(p.rows[i]->n, 6 + 7 * (int)i);
    }
    stats_page_free(&p);

    q = (stats_query){.top = 2, .order = STATS_ORDER_AVERAGE, .desc = true};
    p = run(&q);
    ck_assert_int_eq(p.rows[0]->n, N - 1);
    ck_assert_int_eq(p.rows[1]->n, N - 2);
    stats_page_free(&p);
}
END_TEST

START_TEST(test_bad_queries) {
    int32_t neg[] = {-1};
    stats_query q;
    stats_page p;

    q = (stats_query){.ns = neg, .n_ns = 1};
    ck_assert_str_eq(stats_query_check(&q), "n must be >= 0");
    q = (stats_query){.n_ns = 1001};
    ck_assert_ptr_nonnull(stats_query_check(&q));
    q = (stats_query){.has_range = true, .from = 5, .to = 4};
    ck_assert_str_eq(stats_query_check(&q), "range.to must be >= range.from");
    q = (stats_query){.has_range = true, .from = -1, .to = 4};
    ck_assert_ptr_nonnull(stats_query_check(&q));
    q = (stats_query){.limit = 10001};
    ck_assert_str_eq(stats_query_check(&q), "limit must be <= 10000");
    q = (stats_query){.top = 10001};
    ck_assert_ptr_nonnull(stats_query_check(&q));
    q = (stats_query){.top = 3, .token = "0.0.1.1"};
    ck_assert_ptr_nonnull(stats_query_check(&q));
    q = (stats_query){.order = (stats_order)7};
    ck_assert_str_eq(stats_query_check(&q), "unknown order_by");

    static const char *const bad[] = {"x", "0.0.1", "0.0.1.1x", "1.0.1.1",
                                      "0.1.1.1", "0.0.zz.1", "0.0.1.-3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        q = (stats_query){.token = bad[i]};
        ck_assert_int_eq(stats_query_run(&snap, &q, &p), -1);
    }
}
END_TEST

int main(void) {
    Suite *s = suite_create("stats_query");
    TCase *tc = tcase_create("query");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_filters);
    tcase_add_test(tc, test_paging_each_once);
    tcase_add_test(tc, test_paging_while_recording);
    tcase_add_test(tc, test_top_k);
    tcase_add_test(tc, test_bad_queries);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
