/* test_stats_queue.c - the stats record queue: FIFO order, batches, the
 * capacity bound with drop-oldest and its counter, waiting and waking. */
#include <check.h>
#include <pthread.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "clock.h"
#include "stats_queue.h"

START_TEST(test_fifo_and_batches) {
    stats_queue *q = stats_queue_create(10);
    for (int i = 0; i < 5; i++) stats_queue_push(q, i, 100 + i, 3);
    ck_assert_uint_eq(stats_queue_len(q), 5);
    stats_report out[10];
    ck_assert_uint_eq(stats_queue_pop(q, out, 3, 0), 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(out[i].n, i);
        ck_assert_int_eq(out[i].duration_ns, 100 + i);
        ck_assert_int_eq(out[i].cache, 3);
    }
    ck_assert_uint_eq(stats_queue_pop(q, out, 10, 0), 2);
    ck_assert_int_eq(out[0].n, 3);
    ck_assert_int_eq(out[1].n, 4);
    ck_assert_uint_eq(stats_queue_pop(q, out, 10, 0), 0);
    ck_assert_uint_eq(stats_queue_dropped(q), 0);
    stats_queue_destroy(q);
}
END_TEST

START_TEST(test_bounded_drops_oldest) {
    stats_queue *q = stats_queue_create(4);
    for (int i = 0; i < 10; i++) stats_queue_push(q, i, i, 1);
    ck_assert_uint_eq(stats_queue_len(q), 4);
    ck_assert_uint_eq(stats_queue_dropped(q), 6);
    stats_report out[10];
    ck_assert_uint_eq(stats_queue_pop(q, out, 10, 0), 4);
    for (int i = 0; i < 4; i++) ck_assert_int_eq(out[i].n, 6 + i);

    /* Wrapping around the ring keeps the order. */
    for (int i = 0; i < 3; i++) stats_queue_push(q, 20 + i, 0, 0);
    ck_assert_uint_eq(stats_queue_pop(q, out, 2, 0), 2);
    for (int i = 0; i < 4; i++) stats_queue_push(q, 30 + i, 0, 0);
    ck_assert_uint_eq(stats_queue_dropped(q), 7);
    ck_assert_uint_eq(stats_queue_pop(q, out, 10, 0), 4);
    ck_assert_int_eq(out[0].n, 30);
    ck_assert_int_eq(out[3].n, 33);
    stats_queue_destroy(q);

    ck_assert_ptr_null(stats_queue_create(0));
}
END_TEST

static void *push_later(void *arg) {
    usleep(50000);
    stats_queue_push(arg, 7, 1, 2);
    return NULL;
}

static void *wake_later(void *arg) {
    usleep(50000);
    stats_queue_wake(arg);
    return NULL;
}

START_TEST(test_wait_push_wake_timeout) {
    stats_queue *q = stats_queue_create(4);
    stats_report out[4];
    pthread_t t;

    /* A push wakes a waiting consumer. */
    pthread_create(&t, NULL, push_later, q);
    int64_t t0 = clock_mono_ns();
    ck_assert_uint_eq(stats_queue_pop(q, out, 4, t0 + 5000000000LL), 1);
    ck_assert_int_lt(clock_mono_ns() - t0, 2000000000LL);
    ck_assert_int_eq(out[0].n, 7);
    pthread_join(t, NULL);

    /* So does stats_queue_wake(), with nothing to return. */
    pthread_create(&t, NULL, wake_later, q);
    t0 = clock_mono_ns();
    ck_assert_uint_eq(stats_queue_pop(q, out, 4, t0 + 5000000000LL), 0);
    ck_assert_int_lt(clock_mono_ns() - t0, 2000000000LL);
    pthread_join(t, NULL);

    /* Without either, the deadline ends the wait. */
    t0 = clock_mono_ns();
    ck_assert_uint_eq(stats_queue_pop(q, out, 4, t0 + 100000000LL), 0);
    ck_assert_int_ge(clock_mono_ns() - t0, 90000000LL);
    stats_queue_destroy(q);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_fifo_and_batches, test_bounded_drops_oldest,
                            test_wait_push_wake_timeout};
    return run_suite(one_case_suite("stats_queue", tests, 3));
}
