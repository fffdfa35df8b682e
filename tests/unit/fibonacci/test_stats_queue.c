/* test_stats_queue.c - the stats queue: records folded per n (count, sum,
 * min, max, cache hits and misses), entries handed out oldest first in
 * batches, the bound in distinct n with its drop counter, the streams
 * aggregate (never dropped, handed out with the entries), waiting and
 * waking. */
#include <check.h>
#include <pthread.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "clock.h"
#include "stats_queue.h"

static stats_streams_entry st;      /* the streams each pop hands out */

START_TEST(test_fifo_and_batches) {
    stats_queue *q = stats_queue_create(10);
    for (int i = 0; i < 5; i++) stats_queue_push(q, i, 100 + i, 3);
    ck_assert_uint_eq(stats_queue_len(q), 5);
    ck_assert_uint_eq(stats_queue_records(q), 5);
    stats_entry out[10];
    ck_assert_uint_eq(stats_queue_pop(q, out, 3, &st, 0), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(out[i].n, i);
        ck_assert_uint_eq(out[i].count, 1);
        ck_assert_uint_eq(out[i].sum_ns, 100 + i);
        ck_assert_int_eq(out[i].min_ns, 100 + i);
        ck_assert_int_eq(out[i].max_ns, 100 + i);
        ck_assert_uint_eq(out[i].hits + out[i].misses, 0);   /* bypass */
    }
    ck_assert_uint_eq(stats_queue_pop(q, out, 10, &st, 0), 2);
    ck_assert_int_eq(out[0].n, 3);
    ck_assert_int_eq(out[1].n, 4);
    ck_assert_uint_eq(stats_queue_pop(q, out, 10, &st, 0), 0);
    ck_assert_uint_eq(stats_queue_dropped(q), 0);
    stats_queue_destroy(q);
}
END_TEST

START_TEST(test_folds_per_n) {
    stats_queue *q = stats_queue_create(2);
    stats_entry out[2];

    /* A million requests over two n: two entries, nothing dropped. */
    for (int i = 0; i < 1000000; i++)
        stats_queue_push(q, i % 2 ? 7 : 9, 10 + i % 5, 1 + i % 3);
    ck_assert_uint_eq(stats_queue_len(q), 2);
    ck_assert_uint_eq(stats_queue_records(q), 1000000);
    ck_assert_uint_eq(stats_queue_dropped(q), 0);
    ck_assert_uint_eq(stats_queue_pop(q, out, 2, &st, 0), 2);
    ck_assert_int_eq(out[0].n, 9);              /* pushed first */
    ck_assert_int_eq(out[1].n, 7);
    for (int k = 0; k < 2; k++) {
        ck_assert_uint_eq(out[k].count, 500000);
        ck_assert_int_eq(out[k].min_ns, 10);
        ck_assert_int_eq(out[k].max_ns, 14);
        ck_assert_uint_eq(out[k].sum_ns, 500000 * 12);
    }
    /* cache 1 (hit), 2 (miss), 3 (bypass) in turn: 1000000 = 3 * 333333 + 1 */
    ck_assert_uint_eq(out[0].hits + out[1].hits, 333334);
    ck_assert_uint_eq(out[0].misses + out[1].misses, 333333);
    ck_assert_uint_eq(stats_queue_records(q), 0);
    stats_queue_destroy(q);
}
END_TEST

START_TEST(test_bounded_drops_new_n) {
    stats_queue *q = stats_queue_create(4);
    for (int i = 0; i < 10; i++) stats_queue_push(q, i, i, 1);
    ck_assert_uint_eq(stats_queue_len(q), 4);
    ck_assert_uint_eq(stats_queue_dropped(q), 6);
    /* A full queue still takes records of the n it holds. */
    stats_queue_push(q, 2, 50, 2);
    ck_assert_uint_eq(stats_queue_dropped(q), 6);
    ck_assert_uint_eq(stats_queue_records(q), 5);
    stats_entry out[10];
    ck_assert_uint_eq(stats_queue_pop(q, out, 10, &st, 0), 4);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(out[i].n, i);
    ck_assert_uint_eq(out[2].count, 2);
    ck_assert_uint_eq(out[2].hits, 1);
    ck_assert_uint_eq(out[2].misses, 1);
    ck_assert_int_eq(out[2].max_ns, 50);

    /* Entries handed out make room again, order kept. */
    for (int i = 0; i < 3; i++) stats_queue_push(q, 20 + i, 0, 0);
    ck_assert_uint_eq(stats_queue_pop(q, out, 2, &st, 0), 2);
    for (int i = 0; i < 4; i++) stats_queue_push(q, 30 + i, 0, 0);
    ck_assert_uint_eq(stats_queue_dropped(q), 7);
    ck_assert_uint_eq(stats_queue_pop(q, out, 10, &st, 0), 4);
    ck_assert_int_eq(out[0].n, 22);
    ck_assert_int_eq(out[3].n, 32);
    stats_queue_destroy(q);

    ck_assert_ptr_null(stats_queue_create(0));
}
END_TEST

static void *push_later(void *arg) {
    usleep(50000);
    stats_queue_push(arg, 7, 1, 2);
    return NULL;
}

START_TEST(test_streams) {
    stats_queue *q = stats_queue_create(1);
    stats_entry out[2];

    stats_queue_push(q, 5, 10, 0);
    stats_queue_push(q, 6, 10, 0);                  /* dropped: full */
    int64_t t0 = clock_mono_ns();
    stats_queue_push_stream(q, 21, 4000, true);
    stats_queue_push_stream(q, 3, 500, false);       /* cancelled */
    stats_queue_push_stream(q, 0, 100, false);
    ck_assert_uint_eq(stats_queue_pop(q, out, 2, &st, 0), 1);
    ck_assert_int_eq(out[0].n, 5);
    ck_assert_uint_eq(st.count, 3);
    ck_assert_uint_eq(st.items, 24);
    ck_assert_uint_eq(st.sum_ns, 4600);
    ck_assert_uint_eq(st.incomplete, 2);
    ck_assert_int_ge(st.first_ns, t0);
    /* handed out once; streams alone are something to pop at once */
    ck_assert_uint_eq(stats_queue_pop(q, out, 2, &st, 0), 0);
    ck_assert_uint_eq(st.count, 0);
    stats_queue_push_stream(q, 1, 7, true);
    ck_assert_uint_eq(stats_queue_pop(q, out, 2, &st,
                                      clock_mono_ns() + 5000000000LL), 0);
    ck_assert_uint_eq(st.count, 1);
    ck_assert_uint_eq(st.items, 1);
    ck_assert_uint_eq(stats_queue_records(q), 0);
    stats_queue_destroy(q);
}
END_TEST

static void *wake_later(void *arg) {
    usleep(50000);
    stats_queue_wake(arg);
    return NULL;
}

START_TEST(test_wait_push_wake_timeout) {
    stats_queue *q = stats_queue_create(4);
    stats_entry out[4];
    pthread_t t;

    /* A push wakes a waiting consumer. */
    pthread_create(&t, NULL, push_later, q);
    int64_t t0 = clock_mono_ns();
    ck_assert_uint_eq(stats_queue_pop(q, out, 4, &st, t0 + 5000000000LL), 1);
    ck_assert_int_lt(clock_mono_ns() - t0, 2000000000LL);
    ck_assert_int_eq(out[0].n, 7);
    pthread_join(t, NULL);

    /* So does stats_queue_wake(), with nothing to return. */
    pthread_create(&t, NULL, wake_later, q);
    t0 = clock_mono_ns();
    ck_assert_uint_eq(stats_queue_pop(q, out, 4, &st, t0 + 5000000000LL), 0);
    ck_assert_int_lt(clock_mono_ns() - t0, 2000000000LL);
    pthread_join(t, NULL);

    /* Without either, the deadline ends the wait. */
    t0 = clock_mono_ns();
    ck_assert_uint_eq(stats_queue_pop(q, out, 4, &st, t0 + 100000000LL), 0);
    ck_assert_int_ge(clock_mono_ns() - t0, 90000000LL);
    stats_queue_destroy(q);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_fifo_and_batches, test_folds_per_n,
                            test_bounded_drops_new_n,
                            test_wait_push_wake_timeout, test_streams};
    return run_suite(one_case_suite("stats_queue", tests, 5));
}
