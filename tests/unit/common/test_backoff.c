/* test_backoff.c - backoff schedule: growth, cap, overflow guard, jitter. */
#include <check.h>

#include "testutil.h"
#include "backoff.h"

START_TEST(test_nominal_growth_and_cap) {
    backoff_policy p = {.base = 100, .max = 5000, .multiplier = 2.0, .jitter = 0};
    ck_assert_int_eq(backoff_nominal(&p, 1), 100);
    ck_assert_int_eq(backoff_nominal(&p, 2), 200);
    ck_assert_int_eq(backoff_nominal(&p, 3), 400);
    ck_assert_int_eq(backoff_nominal(&p, 6), 3200);
    ck_assert_int_eq(backoff_nominal(&p, 7), 5000);
    ck_assert_int_eq(backoff_nominal(&p, 100000), 5000);
    ck_assert_int_eq(backoff_nominal(&p, 4000000000u), 5000);
    /* huge values never overflow */
    backoff_policy big = {.base = INT64_MAX / 2, .max = INT64_MAX, .multiplier = 10.0};
    ck_assert_int_eq(backoff_nominal(&big, 2), INT64_MAX);
    ck_assert_int_eq(backoff_nominal(&big, 300), INT64_MAX);
    /* multiplier 1.5 */
    backoff_policy q = {.base = 1000, .max = 100000, .multiplier = 1.5};
    ck_assert_int_eq(backoff_nominal(&q, 3), 2250);
    /* without jitter the delay is the nominal one */
    uint64_t rng = 1;
    ck_assert_int_eq(backoff_delay(&p, 3, &rng), 400);
}
END_TEST

START_TEST(test_jitter_bounds) {
    backoff_policy p = {.base = 1000, .max = 64000, .multiplier = 2.0, .jitter = 0.5};
    uint64_t rng = backoff_seed();
    ck_assert_uint_ne(rng, 0);
    for (unsigned retry = 1; retry <= 10; retry++) {
        int64_t d = backoff_nominal(&p, retry);
        int64_t lo = d, hi = 0;
        double sum = 0;
        for (int i = 0; i < 2000; i++) {
            int64_t j = backoff_delay(&p, retry, &rng);
            ck_assert_int_ge(j, d / 2);
            ck_assert_int_le(j, d);
            lo = j < lo ? j : lo;
            hi = j > hi ? j : hi;
            sum += (double)j;
        }
        /* spread over the whole interval, mean near its middle */
        ck_assert_int_lt(lo, d / 2 + d / 20);
        ck_assert_int_gt(hi, d - d / 20);
        double mean = sum / 2000;
        ck_assert_msg(mean > 0.7 * (double)d && mean < 0.8 * (double)d, "mean %f d %ld",
                      mean, (long)d);
    }
    /* a zero seed still yields jitter, and the state advances */
    uint64_t zero = 0;
    backoff_delay(&p, 1, &zero);
    ck_assert_uint_ne(zero, 0);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_nominal_growth_and_cap, test_jitter_bounds};
    return run_suite(one_case_suite("backoff", tests, 2));
}
