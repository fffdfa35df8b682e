/* test_log.c - log line format, JSON escaping, truncation and levels. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "log.h"

/* Skip the time field: returns the line from ,"level": on, checking the
 * time's shape on the way. */
static const char *after_time(const char *line) {
    static const char pre[] = "{\"time\":\"";
    ck_assert_msg(strncmp(line, pre, strlen(pre)) == 0, "line: %s", line);
    const char *t = line + strlen(pre);
    /* 2026-11-25T12:00:00.123456Z */
    ck_assert_int_eq(strlen(t) > 27, 1);
    for (int i = 0; i < 27; i++) {
        char c = t[i];
        switch (i) {
        case 4: case 7: ck_assert_int_eq(c, '-'); break;
        case 10: ck_assert_int_eq(c, 'T'); break;
        case 13: case 16: ck_assert_int_eq(c, ':'); break;
        case 19: ck_assert_int_eq(c, '.'); break;
        case 26: ck_assert_int_eq(c, 'Z'); break;
        default: ck_assert_msg(c >= '0' && c <= '9', "time: %s", t);
        }
    }
    ck_assert_int_eq(t[27], '"');
    return t + 28;
}

START_TEST(test_format) {
    capture c;
    log_init("svc", LOG_INFO);
    capture_start(&c, 2);
    log_line l;
    ck_assert(log_begin(&l, LOG_INFO, "getfib"));
    log_int(&l, "n", -10);
    log_uint(&l, "u", 18446744073709551615ULL);
    log_double(&l, "ms", 1.5);
    log_double(&l, "nan", NAN);
    log_bool(&l, "ok", true);
    log_str(&l, "peer", NULL);
    log_strn(&l, "cut", "abcdef", 3);
    log_end(&l);
    char *out = capture_end(&c);
    ck_assert_str_eq(after_time(out),
        ",\"level\":\"info\",\"service\":\"svc\",\"event\":\"getfib\",\"n\":-10,"
        "\"u\":18446744073709551615,\"ms\":1.5,\"nan\":null,\"ok\":true,"
        "\"peer\":null,\"cut\":\"abc\"}\n");
    free(out);
}
END_TEST

START_TEST(test_escaping) {
    capture c;
    log_init("s\"v", LOG_DEBUG);
    capture_start(&c, 2);
    log_line l;
    ck_assert(log_begin(&l, LOG_WARN, "e"));
    log_str(&l, "k\n", "q\" b\\ \n\r\t \x01\x1f \x7f é \xff end");
    log_end(&l);
    char *out = capture_end(&c);
    ck_assert_str_eq(after_time(out),
        ",\"level\":\"warn\",\"service\":\"s\\\"v\",\"event\":\"e\","
        "\"k\\n\":\"q\\\" b\\\\ \\n\\r\\t \\u0001\\u001f \x7f é \\ufffd end\"}\n");
    free(out);
}
END_TEST

START_TEST(test_levels) {
    log_level lv;
    ck_assert_int_eq(log_parse_level("debug", &lv), 0);
    ck_assert_int_eq(lv, LOG_DEBUG);
    ck_assert_int_eq(log_parse_level("WARNING", &lv), 0);
    ck_assert_int_eq(lv, LOG_WARN);
    ck_assert_int_eq(log_parse_level("loud", &lv), -1);
    ck_assert_str_eq(log_level_name(LOG_ERROR), "error");

    log_init("svc", LOG_WARN);
    ck_assert(!log_enabled(LOG_INFO));
    ck_assert(log_enabled(LOG_ERROR));
    capture c;
    capture_start(&c, 2);
    log_msg(LOG_INFO, "hidden", "not %s", "written");
    log_msg(LOG_ERROR, "shown", "n=%d", 7);
    char *out = capture_end(&c);
    ck_assert_str_eq(after_time(out),
        ",\"level\":\"error\",\"service\":\"svc\",\"event\":\"shown\",\"msg\":\"n=7\"}\n");
    free(out);
}
END_TEST

/* A line longer than LOG_LINE_MAX is cut, stays one JSON object, and says so. */
START_TEST(test_truncation) {
    char big[3 * LOG_LINE_MAX];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[100] = '\n';                         /* escapes count towards the cut */
    log_init("svc", LOG_INFO);
    capture c;
    capture_start(&c, 2);
    log_line l;
    ck_assert(log_begin(&l, LOG_INFO, "big"));
    log_str(&l, "a", big);
    log_int(&l, "dropped", 1);
    log_end(&l);
    char *out = capture_end(&c);
    size_t n = strlen(out);
    ck_assert_uint_le(n, LOG_LINE_MAX);
    ck_assert_uint_ge(n, LOG_LINE_MAX - 30);
    const char *tail = "x\",\"truncated\":true}\n";
    ck_assert_str_eq(out + n - strlen(tail), tail);
    ck_assert_ptr_null(strstr(out, "dropped"));
    ck_assert_int_eq((int)(strchr(out, '\n') - out), (int)n - 1); /* one line */
    free(out);
}
END_TEST

/* The FILE writer escapes the same way and never truncates. */
START_TEST(test_json_fwrite) {
    static char big[3 * LOG_LINE_MAX + 1];
    memset(big, '7', sizeof(big) - 1);
    capture c;
    capture_start(&c, 1);
    log_json_fwrite(stdout, "a\"b\\\n\x02\xc3", 7);
    log_json_fwrite(stdout, big, strlen(big));
    char *out = capture_end(&c);
    ck_assert_int_eq(strncmp(out, "\"a\\\"b\\\\\\n\\u0002\\ufffd\"\"777", 26), 0);
    ck_assert_uint_eq(strlen(out), 24 + 3 * LOG_LINE_MAX);
    free(out);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_format, test_escaping, test_levels, test_truncation, test_json_fwrite};
    return run_suite(one_case_suite("log", tests, 5));
}
