/* testutil.h - helpers for the common unit tests: capture what the code
 * under test writes to a descriptor (stderr, stdout), and run one suite. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct {
    int fd;       /* the descriptor being captured */
    int saved;    /* its original target */
    FILE *tmp;
} capture;

static inline void capture_start(capture *c, int fd) {
    fflush(NULL);
    c->fd = fd;
    c->tmp = tmpfile();
    c->saved = dup(fd);
    dup2(fileno(c->tmp), fd);
}

/* Stop capturing; returns the text (malloc'd, NUL-terminated). */
static inline char *capture_end(capture *c) {
    fflush(NULL);
    dup2(c->saved, c->fd);
    close(c->saved);
    long n = ftell(c->tmp);
    if (n < 0) n = lseek(fileno(c->tmp), 0, SEEK_CUR);
    char *buf = malloc((size_t)n + 1);
    rewind(c->tmp);
    size_t got = fread(buf, 1, (size_t)n, c->tmp);
    buf[got] = '\0';
    fclose(c->tmp);
    return buf;
}

/* Run every test case of the suite; check prints its summary line. */
static inline int run_suite(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}

/* A suite with a single test case holding `n` tests. */
static inline Suite *one_case_suite(const char *name, const TTest **tests, int n) {
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    for (int i = 0; i < n; i++) tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    return s;
}

#endif
