/* test_signals.c - blocked signals are collected by signals_wait(); SIGHUP is
 * skipped. Also the clock helpers. */
#include <check.h>
#include <signal.h>
#include <unistd.h>

#include "testutil.h"
#include "clock.h"
#include "signals.h"

START_TEST(test_wait_skips_hup) {
    signals_block();
    kill(getpid(), SIGHUP);         /* blocked: stays pending, then skipped */
    kill(getpid(), SIGPIPE);        /* ignored: must not kill us */
    kill(getpid(), SIGTERM);
    ck_assert_int_eq(signals_wait(), SIGTERM);
    kill(getpid(), SIGINT);
    ck_assert_int_eq(signals_wait(), SIGINT);
}
END_TEST

START_TEST(test_clock) {
    int64_t a = clock_mono_ns();
    usleep(2000);
    int64_t b = clock_mono_ns();
    ck_assert_int_ge(b - a, 2000000);
    ck_assert_int_gt(clock_real_ns(), 1700000000LL * 1000000000LL);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_wait_skips_hup, test_clock};
    return run_suite(one_case_suite("signals", tests, 2));
}
