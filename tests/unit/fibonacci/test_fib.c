/* test_fib.c - Fibonacci values: the int64 table against a loop, the table's
 * decimal form, and exact GMP values (F(93), F(1000), F(1000000)). */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/testutil.h"
#include "fib.h"

static const char F1000[] =
    "4346655768693745643568852767504062580256466051737178040248172908953655"
    "5417949051890403879840079255169295922593080322634775209689623239873322"
    "471161642996440906533187938298969649928516003704476137795166849228875";

START_TEST(test_table_matches_loop) {
    uint64_t a = 0, b = 1;
    for (int n = 0; n <= FIB_SMALL_MAX; n++) {
        ck_assert_msg((uint64_t)fib_small(n) == a, "F(%d)", n);
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    ck_assert_int_eq(fib_small(92), INT64_C(7540113804746346429));
    ck_assert_int_eq(fib_small(10), 55);
}
END_TEST

START_TEST(test_small_decimal_matches_gmp) {
    for (int n = 0; n <= FIB_SMALL_MAX; n++) {
        char buf[FIB_SMALL_DIGITS], want[32];
        size_t len = fib_small_decimal(n, buf);
        snprintf(want, sizeof(want), "%" PRId64, fib_small(n));
        ck_assert_str_eq(buf, want);
        ck_assert_uint_eq(len, strlen(want));

        size_t glen = 0;
        char *g = fib_decimal((unsigned long)n, &glen);
        ck_assert_str_eq(g, want);
        ck_assert_uint_eq(glen, len);
        free(g);
    }
}
END_TEST

START_TEST(test_exact_values) {
    size_t len = 0;
    char *s = fib_decimal(93, &len);
    ck_assert_str_eq(s, "12200160415121876738");   /* first beyond int64 */
    ck_assert_uint_eq(len, 20);
    free(s);

    s = fib_decimal(1000, &len);
    ck_assert_str_eq(s, F1000);
    ck_assert_uint_eq(len, 209);
    free(s);
}
END_TEST

START_TEST(test_large_digit_counts) {
    size_t len = 0;
    char *s = fib_decimal(10000, &len);
    ck_assert_uint_eq(len, 2090);
    ck_assert_uint_eq(strlen(s), len);
    free(s);

    s = fib_decimal(1000000, &len);
    ck_assert_uint_eq(len, 208988);
    ck_assert_uint_eq(strlen(s), len);
    ck_assert_int_eq(strncmp(s, "19532821287077577316", 20), 0);
    ck_assert_str_eq(s + len - 20, "68996526838242546875");
    free(s);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_table_matches_loop,
                            test_small_decimal_matches_gmp,
                            test_exact_values, test_large_digit_counts};
    return run_suite(one_case_suite("fib", tests, 4));
}
