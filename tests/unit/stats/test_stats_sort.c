/* test_stats_sort.c - the radix sort of snapshot rows: any order in, sorted
 * by n out, with every row's data kept with its n. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "../common/testutil.h"
#include "stats_sort.h"

/* len rows with scrambled distinct n drawn from [0, span), count = n + 1. */
static stats_row *make_rows(size_t len, uint64_t span, uint64_t seed) {
    stats_row *rows = calloc(len, sizeof(*rows));
    size_t i;

    ck_assert_ptr_nonnull(rows);
    for (i = 0; i < len; i++) {
        /* i * step mod span is a permutation when step and span are
         * coprime; spread over the whole range. */
        uint64_t n = (i * (span / len) + seed * 7919) % span;
        rows[i].n = (int32_t)n;
        rows[i].count = n + 1;
    }
    for (i = len; i > 1; i--) {             /* shuffle */
        size_t j = (size_t)((seed = seed * 6364136223846793005ULL + 1) >> 33)
                   % i;
        stats_row t = rows[i - 1];
        rows[i - 1] = rows[j];
        rows[j] = t;
    }
    return rows;
}

static void check_sorted(const stats_row *rows, size_t len) {
    size_t i;

    for (i = 0; i < len; i++) {
        ck_assert_uint_eq(rows[i].count, (uint64_t)rows[i].n + 1);
        if (i > 0) ck_assert_int_lt(rows[i - 1].n, rows[i].n);
    }
}

START_TEST(test_small_n) {
    stats_row *rows = make_rows(10000, 10000, 3);

    stats_sort_rows(&rows, 10000);
    check_sorted(rows, 10000);
    ck_assert_int_eq(rows[0].n, 0);
    ck_assert_int_eq(rows[9999].n, 9999);
    free(rows);
}
END_TEST

START_TEST(test_full_int32_range) {
    stats_row *rows = make_rows(5000, (uint64_t)INT32_MAX + 1, 11);

    rows[17].n = INT32_MAX;
    rows[17].count = (uint64_t)INT32_MAX + 1;
    stats_sort_rows(&rows, 5000);
    check_sorted(rows, 5000);
    ck_assert_int_eq(rows[4999].n, INT32_MAX);
    free(rows);
}
END_TEST

START_TEST(test_tiny) {
    stats_row one[1] = {{.n = 5, .count = 6}};
    stats_row *p = one;
    stats_row *two = make_rows(2, 1000, 1);

    stats_sort_rows(&p, 0);
    stats_sort_rows(&p, 1);
    ck_assert_ptr_eq(p, one);
    stats_sort_rows(&two, 2);
    check_sorted(two, 2);
    free(two);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_small_n,
                            test_full_int32_range,
                            test_tiny};
    return run_suite(one_case_suite("stats_sort", tests, 3));
}
