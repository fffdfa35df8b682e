/* test_stats_sender.c - the stats sender's retry schedule (50 ms doubling
 * to a 250 ms cap, jittered down by at most half: delivery resumes within
 * that once stats-service is back) and its sender ids. */
#include <check.h>
#include <ctype.h>
#include <string.h>

#include "../common/testutil.h"
#include "stats_sender.h"

#define MS 1000000LL

START_TEST(test_backoff_schedule) {
    const backoff_policy *p = &stats_sender_backoff;
    const int64_t want[] = {50, 100, 200, 250, 250, 250};
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        ck_assert_int_eq(backoff_nominal(p, i + 1), want[i] * MS);
    ck_assert_int_eq(backoff_nominal(p, 1000000), 250 * MS);

    uint64_t rng = backoff_seed();
    for (unsigned retry = 1; retry <= 12; retry++) {
        int64_t d = backoff_nominal(p, retry);
        for (int i = 0; i < 200; i++) {
            int64_t j = backoff_delay(p, retry, &rng);
            ck_assert_int_ge(j, d / 2);
            ck_assert_int_le(j, d);
        }
    }
}
END_TEST

START_TEST(test_sender_ids) {
    char a[37], b[37];
    stats_sender_make_id(a);
    stats_sender_make_id(b);
    ck_assert_str_ne(a, b);
    ck_assert_uint_eq(strlen(a), 36);
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            ck_assert_int_eq(a[i], '-');
        else
            ck_assert(isxdigit((unsigned char)a[i]));
    }
    ck_assert_int_eq(a[14], '4');           /* UUID version 4 */
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_backoff_schedule, test_sender_ids};
    return run_suite(one_case_suite("stats_sender", tests, 2));
}
