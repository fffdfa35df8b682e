/* test_flags.c - flag parsing: types, env fallback, errors, --help/--version. */
#include <check.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "flags.h"
#include "log.h"

static const char *listen_addr;
static long long max_n, cache, timeout;
static bool verbose;
static log_level level;

static const flag_def defs[] = {
    {"listen", FLAG_STRING, &listen_addr, 0, 0, "TEST_LISTEN", "address to serve on"},
    {"max-n", FLAG_INT, &max_n, 0, 2147483647, NULL, "largest n"},
    {"cache", FLAG_SIZE, &cache, 0, 0, NULL, "cache size"},
    {"timeout", FLAG_DURATION, &timeout, 1, 3600000000000LL, "TEST_TIMEOUT", "call timeout"},
    {"verbose", FLAG_BOOL, &verbose, 0, 0, NULL, "log more"},
    {"log-level", FLAG_LOG_LEVEL, &level, 0, 0, NULL, "lowest level logged"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static void reset(void) {
    listen_addr = "127.0.0.1:5001";
    max_n = 1000000;
    cache = 64 << 20;
    timeout = 2000000000LL;
    verbose = false;
    level = LOG_INFO;
    unsetenv("TEST_LISTEN");
    unsetenv("TEST_TIMEOUT");
}

static int vparse(char **err, va_list ap) {
    char *argv[32] = {"prog"};
    int argc = 1;
    for (char *a; (a = va_arg(ap, char *)) != NULL;) argv[argc++] = a;
    capture c;
    capture_start(&c, 2);
    int rc = flags_parse(argc, argv, defs, "fibonacci-service", "1.2.3", "Test.");
    *err = capture_end(&c);
    return rc;
}

/* Parse a NULL-terminated list of args; *err gets stderr (malloc'd). */
static int parse(char **err, ...) {
    va_list ap;
    va_start(ap, err);
    int rc = vparse(err, ap);
    va_end(ap);
    return rc;
}

START_TEST(test_defaults_and_values) {
    char *err;
    reset();
    ck_assert_int_eq(parse(&err, NULL), 0);
    ck_assert_str_eq(listen_addr, "127.0.0.1:5001");
    ck_assert_int_eq(max_n, 1000000);
    free(err);

    ck_assert_int_eq(parse(&err, "--listen", "[::]:0", "--max-n=92", "--cache", "16k",
                           "--timeout=1m30s", "--verbose", NULL), 0);
    ck_assert_str_eq(err, "");
    ck_assert_str_eq(listen_addr, "[::]:0");
    ck_assert_int_eq(max_n, 92);
    ck_assert_int_eq(cache, 16384);
    ck_assert_int_eq(timeout, 90000000000LL);
    ck_assert(verbose);
    free(err);

    ck_assert_int_eq(parse(&err, "--verbose=false", "--cache=2g", "--timeout", "1.5s", NULL), 0);
    ck_assert(!verbose);
    ck_assert_int_eq(cache, 2LL << 30);
    ck_assert_int_eq(timeout, 1500000000LL);
    free(err);

    ck_assert_int_eq(parse(&err, "--cache=3M", "--timeout", "250ms", NULL), 0);
    ck_assert_int_eq(cache, 3LL << 20);
    ck_assert_int_eq(timeout, 250000000LL);
    free(err);
    ck_assert_int_eq(parse(&err, "--log-level", "debug", NULL), 0);
    ck_assert_int_eq(level, LOG_DEBUG);
    free(err);
    ck_assert_int_eq(parse(&err, "--log-level=warning", NULL), 0);
    ck_assert_int_eq(level, LOG_WARN);
    free(err);
    ck_assert_int_eq(parse(&err, "--cache=100", "--timeout", "7us", NULL), 0);
    ck_assert_int_eq(cache, 100);
    ck_assert_int_eq(timeout, 7000);
    free(err);
}
END_TEST

START_TEST(test_env_fallback) {
    char *err;
    reset();
    setenv("TEST_LISTEN", "0.0.0.0:9000", 1);
    setenv("TEST_TIMEOUT", "5s", 1);
    ck_assert_int_eq(parse(&err, NULL), 0);
    ck_assert_str_eq(listen_addr, "0.0.0.0:9000");
    ck_assert_int_eq(timeout, 5000000000LL);
    free(err);
    /* an explicit flag wins */
    ck_assert_int_eq(parse(&err, "--listen=1.2.3.4:1", NULL), 0);
    ck_assert_str_eq(listen_addr, "1.2.3.4:1");
    free(err);
    /* a bad env value is reported by its name */
    setenv("TEST_TIMEOUT", "5", 1);
    ck_assert_int_eq(parse(&err, NULL), -1);
    ck_assert_str_eq(err, "fibonacci-service: $TEST_TIMEOUT: '5' is not a duration "
                     "(a number with a unit: ns, us, ms, s, m, h)\n");
    free(err);
    reset();
}
END_TEST

static void expect_error(const char *want, ...) {
    char *err;
    va_list ap;
    reset();
    va_start(ap, want);
    int rc = vparse(&err, ap);
    va_end(ap);
    ck_assert_int_eq(rc, -1);
    ck_assert_str_eq(err, want);
    free(err);
}

START_TEST(test_errors) {
    expect_error("fibonacci-service: --max-n: 'abc' is not an integer\n", "--max-n", "abc", NULL);
    expect_error("fibonacci-service: --max-n: '12x' is not an integer\n", "--max-n=12x", NULL);
    expect_error("fibonacci-service: --max-n: '' is not an integer\n", "--max-n=", NULL);
    expect_error("fibonacci-service: --max-n: '-1' is out of range (0..2147483647)\n",
                 "--max-n", "-1", NULL);
    expect_error("fibonacci-service: --max-n: '99999999999999999999' is out of range "
                 "(0..2147483647)\n", "--max-n", "99999999999999999999", NULL);
    expect_error("fibonacci-service: unknown flag '--bogus' (see --help)\n", "--bogus=1", NULL);
    expect_error("fibonacci-service: unexpected argument 'extra' (see --help)\n", "extra", NULL);
    expect_error("fibonacci-service: --listen: missing value\n", "--listen", NULL);
    expect_error("fibonacci-service: --cache: '12q' is not a size (bytes, or with k, m, g)\n",
                 "--cache", "12q", NULL);
    expect_error("fibonacci-service: --cache: '9999999999g' is out of range "
                 "(0..9223372036854775807)\n", "--cache", "9999999999g", NULL);
    expect_error("fibonacci-service: --timeout: '0' is out of range (1..3600000000000)\n",
                 "--timeout", "0", NULL);
    expect_error("fibonacci-service: --timeout: '2h' is out of range (1..3600000000000)\n",
                 "--timeout", "2h", NULL);
    expect_error("fibonacci-service: --timeout: '3 s' is not a duration (a number with a "
                 "unit: ns, us, ms, s, m, h)\n", "--timeout", "3 s", NULL);
    expect_error("fibonacci-service: --verbose: 'maybe' is not a boolean (true or false)\n",
                 "--verbose=maybe", NULL);
    expect_error("fibonacci-service: --log-level: 'loud' is not a level (debug, info, "
                 "warn, error)\n", "--log-level", "loud", NULL);
}
END_TEST

START_TEST(test_help_version) {
    char *argv[] = {"prog", "--help", NULL};
    reset();
    setenv("TEST_LISTEN", "ignored", 1);
    capture c;
    capture_start(&c, 1);
    int rc = flags_parse(2, argv, defs, "fibonacci-service", "1.2.3", "Serves Fibonacci numbers.");
    char *out = capture_end(&c);
    ck_assert_int_eq(rc, 1);
    ck_assert_ptr_nonnull(strstr(out, "Usage: fibonacci-service [flags]"));
    ck_assert_ptr_nonnull(strstr(out, "Serves Fibonacci numbers."));
    ck_assert_ptr_nonnull(strstr(out, "--listen STRING"));
    ck_assert_ptr_nonnull(strstr(out, "address to serve on (default \"127.0.0.1:5001\"; "
                                      "env $TEST_LISTEN)"));
    ck_assert_ptr_nonnull(strstr(out, "largest n (default 1000000)"));
    ck_assert_ptr_nonnull(strstr(out, "cache size (default 64m)"));
    ck_assert_ptr_nonnull(strstr(out, "call timeout (default 2s; env $TEST_TIMEOUT)"));
    ck_assert_ptr_nonnull(strstr(out, "--verbose "));
    ck_assert_ptr_nonnull(strstr(out, "--log-level LEVEL"));
    ck_assert_ptr_nonnull(strstr(out, "lowest level logged (default info)"));
    ck_assert_ptr_nonnull(strstr(out, "--version"));
    free(out);

    char *argv2[] = {"prog", "--max-n=5", "--version", NULL};
    capture_start(&c, 1);
    rc = flags_parse(3, argv2, defs, "fibonacci-service", "1.2.3", "x");
    out = capture_end(&c);
    ck_assert_int_eq(rc, 1);
    ck_assert_str_eq(out, "fibonacci-service 1.2.3\n");
    free(out);
    reset();
}
END_TEST

START_TEST(test_ncpu_and_duration) {
    long long ns;
    ck_assert_int_ge(flags_ncpu(), 1);
    ck_assert_int_eq(flags_parse_duration("2h1ms", &ns), 0);
    ck_assert_int_eq(ns, 7200001000000LL);
    ck_assert_int_eq(flags_parse_duration("0", &ns), 0);
    ck_assert_int_eq(ns, 0);
    ck_assert_int_eq(flags_parse_duration("10", &ns), -1);
    ck_assert_int_eq(flags_parse_duration("1x", &ns), -1);
    ck_assert_int_eq(flags_parse_duration("", &ns), -1);
    ck_assert_int_eq(flags_parse_duration("99999999999h", &ns), -1);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_defaults_and_values, test_env_fallback, test_errors, test_help_version,
                            test_ncpu_and_duration};
    return run_suite(one_case_suite("flags", tests, 5));
}
