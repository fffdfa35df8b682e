/* test_mem.c - the out-of-memory policy: the wrappers return usable memory,
 * and an allocation the C library refuses is logged and aborts. */
#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>

#include "log.h"
#include "mem.h"
#include "testutil.h"

/* Under AddressSanitizer a refused allocation must come back as NULL (as
 * from glibc), not stop the process in ASan's own way. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "allocator_may_return_null=1";
}

START_TEST(wrappers_allocate) {
    char *s = xstrdup("fib");
    ck_assert_str_eq(s, "fib");
    s = xrealloc(s, 100);
    ck_assert_str_eq(s, "fib");
    free(s);
    char *z = xmemdupz("a\0b", 3);
    ck_assert_int_eq(memcmp(z, "a\0b", 4), 0);
    free(z);
    int *v = xcalloc(4, sizeof(int));
    ck_assert_int_eq(v[0] | v[1] | v[2] | v[3], 0);
    free(v);
    free(xmalloc(0));
}
END_TEST

/* In a child: the refused allocation writes one log line to a pipe, then
 * the child dies of SIGABRT. */
START_TEST(refused_allocation_logs_and_aborts) {
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        log_init("test", LOG_INFO);
        volatile void *p = xmalloc(SIZE_MAX / 2);
        (void)p;
        _exit(0);                       /* not reached */
    }
    close(fds[1]);
    char buf[1024];
    ssize_t n, got = 0;
    while ((n = read(fds[0], buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
        got += n;
    buf[got] = '\0';
    close(fds[0]);
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status));
    ck_assert_int_eq(WTERMSIG(status), SIGABRT);
    ck_assert_ptr_nonnull(strstr(buf, "\"event\":\"out_of_memory\""));
    ck_assert_ptr_nonnull(strstr(buf, "cannot allocate"));
}
END_TEST

int main(void) {
    const TTest *tests[] = {wrappers_allocate,
                            refused_allocation_logs_and_aborts};
    return run_suite(one_case_suite("mem", tests, 2));
}
