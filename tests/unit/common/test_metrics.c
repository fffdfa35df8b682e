/* test_metrics.c - the metrics registry: exact text for counters, gauges,
 * labelled series (escaped), histograms (cumulative buckets, sum, count),
 * scrape-time functions, and counting from many threads at once. */
#include <check.h>
#include <pthread.h>
#include <string.h>

#include "testutil.h"
#include "metrics.h"

static char *render(void) {
    size_t len;
    char *text = metrics_render(&len);
    ck_assert_uint_eq(strlen(text), len);
    return text;
}

static void assert_has(const char *text, const char *line) {
    ck_assert_msg(strstr(text, line) != NULL, "missing \"%s\" in:\n%s", line,
                  text);
}

static double answer(void *ud) {
    return *(double *)ud;
}

START_TEST(test_text) {
    metric *c = metrics_counter("t_calls_total", "Calls.\nTwo lines.");
    metric_inc(c);
    metric_add(c, 4);
    metric *g = metrics_gauge("t_depth", "Depth.");
    metric_set(g, 7);
    metric_dec(g);
    metric_family *f = metrics_family("t_by_code_total", METRIC_COUNTER,
                                      "By code.", "code,what", NULL, 0);
    const char *v1[] = {"OK", "a\"b\\c\nd"};
    metric_inc(metrics_series(f, v1));
    ck_assert_ptr_eq(metrics_series(f, v1), metrics_series(f, v1));
    double x = 2.5;
    metrics_func("t_func", METRIC_GAUGE, "Read at scrape.", answer, &x);
    static const double b[] = {0.001, 0.01};
    metric_family *hf = metrics_family("t_seconds", METRIC_HISTOGRAM,
                                       "Times.", "m", b, 2);
    const char *hv[] = {"Get"};
    metric *h = metrics_series(hf, hv);
    metric_observe_ns(h, 500000);       /* 0.5 ms */
    metric_observe_ns(h, 1000000);      /* 1 ms: on the bound, counts in */
    metric_observe_ns(h, 5000000);
    metric_observe_ns(h, 2000000000);   /* 2 s: only +Inf */

    char *t = render();
    assert_has(t, "# HELP t_calls_total Calls.\\nTwo lines.\n"
                  "# TYPE t_calls_total counter\nt_calls_total 5\n");
    assert_has(t, "# TYPE t_depth gauge\nt_depth 6\n");
    assert_has(t, "t_by_code_total{code=\"OK\",what=\"a\\\"b\\\\c\\nd\"} 1\n");
    assert_has(t, "# TYPE t_func gauge\nt_func 2.500000\n");
    assert_has(t, "# TYPE t_seconds histogram\n"
                  "t_seconds_bucket{m=\"Get\",le=\"0.001\"} 2\n"
                  "t_seconds_bucket{m=\"Get\",le=\"0.01\"} 3\n"
                  "t_seconds_bucket{m=\"Get\",le=\"+Inf\"} 4\n"
                  "t_seconds_sum{m=\"Get\"} 2.006500000\n"
                  "t_seconds_count{m=\"Get\"} 4\n");
    free(t);
    x = 3;
    t = render();
    assert_has(t, "t_func 3\n");
    free(t);
}
END_TEST

static metric *shared;

static void *bump(void *arg) {
    (void)arg;
    for (int i = 0; i < 100000; i++) metric_inc(shared);
    return NULL;
}

START_TEST(test_threads) {
    shared = metrics_counter("t_threads_total", "From 4 threads.");
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, bump, NULL);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    ck_assert_int_eq(metric_value(shared), 400000);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_text, test_threads};
    return run_suite(one_case_suite("metrics", tests, 2));
}
