/* test_sd_notify.c - sd_notify_send() reaches a datagram socket named by
 * $NOTIFY_SOCKET (a path or an abstract "@name"), does nothing without it,
 * and reports a bad name; the watchdog interval follows $WATCHDOG_USEC and
 * $WATCHDOG_PID. Also signals_wait_until()'s deadline and SIGHUP callback. */
#include <check.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "testutil.h"
#include "clock.h"
#include "log.h"
#include "sd_notify.h"
#include "signals.h"

/* A datagram socket bound to `name` (leading '@': abstract). */
static int listen_on(const char *name) {
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    ck_assert_int_ge(fd, 0);
    memcpy(sa.sun_path, name, len);
    if (name[0] == '@') sa.sun_path[0] = '\0';
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa,
                          (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)), 0);
    return fd;
}

static void expect(int fd, const char *want) {
    char buf[600];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    ck_assert_int_gt(n, 0);
    buf[n] = '\0';
    ck_assert_str_eq(buf, want);
}

START_TEST(test_path_socket) {
    char path[64];
    snprintf(path, sizeof(path), "/tmp/test_sd_notify.%d", (int)getpid());
    unlink(path);
    int fd = listen_on(path);
    setenv("NOTIFY_SOCKET", path, 1);
    ck_assert_int_eq(sd_notify_send("READY=1\nSTATUS=%s %d", "port", 5001), 1);
    ck_assert_int_eq(sd_notify_send("STOPPING=1"), 1);
    expect(fd, "READY=1\nSTATUS=port 5001");
    expect(fd, "STOPPING=1");
    close(fd);
    unlink(path);
}
END_TEST

START_TEST(test_abstract_socket) {
    char name[64];
    snprintf(name, sizeof(name), "@test_sd_notify.%d", (int)getpid());
    int fd = listen_on(name);
    setenv("NOTIFY_SOCKET", name, 1);
    ck_assert_int_eq(sd_notify_send("WATCHDOG=1"), 1);
    expect(fd, "WATCHDOG=1");
    close(fd);
}
END_TEST

START_TEST(test_unset_and_bad) {
    unsetenv("NOTIFY_SOCKET");
    ck_assert_int_eq(sd_notify_send("READY=1"), 0);
    setenv("NOTIFY_SOCKET", "relative/name", 1);
    capture c;
    capture_start(&c, 2);
    ck_assert_int_eq(sd_notify_send("READY=1"), -1);
    char *out = capture_end(&c);
    ck_assert_ptr_nonnull(strstr(out, "\"event\":\"sd_notify_failed\""));
    free(out);
    /* Nobody listening: an error, not a crash or a hang. */
    setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1);
    ck_assert_int_eq(sd_notify_send("READY=1"), -1);
    unsetenv("NOTIFY_SOCKET");
}
END_TEST

START_TEST(test_watchdog_interval) {
    char pid[32];
    unsetenv("WATCHDOG_PID");
    unsetenv("WATCHDOG_USEC");
    ck_assert_int_eq(sd_notify_watchdog_interval(), 0);
    setenv("WATCHDOG_USEC", "2000000", 1);
    ck_assert_int_eq(sd_notify_watchdog_interval(), 1000000000LL);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(sd_notify_watchdog_interval(), 1000000000LL);
    snprintf(pid, sizeof(pid), "%d", (int)getpid() + 1);
    setenv("WATCHDOG_PID", pid, 1);
    ck_assert_int_eq(sd_notify_watchdog_interval(), 0);  /* not for us */
    unsetenv("WATCHDOG_PID");
    setenv("WATCHDOG_USEC", "soon", 1);
    ck_assert_int_eq(sd_notify_watchdog_interval(), 0);
    unsetenv("WATCHDOG_USEC");
}
END_TEST

static void count_hup(void *ud) {
    (*(int *)ud)++;
}

START_TEST(test_wait_until) {
    int hups = 0;
    signals_block();
    int64_t t0 = clock_mono_ns();
    ck_assert_int_eq(signals_wait_until(t0 + 50000000, NULL, NULL), 0);
    ck_assert_int_ge(clock_mono_ns() - t0, 50000000);
    kill(getpid(), SIGHUP);         /* passed on, keeps waiting */
    kill(getpid(), SIGTERM);
    ck_assert_int_eq(signals_wait_until(clock_mono_ns() + 5000000000LL,
                                        count_hup, &hups), SIGTERM);
    ck_assert_int_eq(hups, 1);
}
END_TEST

int main(void) {
    log_init("test", LOG_INFO);
    const TTest *tests[] = {test_path_socket, test_abstract_socket,
                            test_unset_and_bad, test_watchdog_interval,
                            test_wait_until};
    return run_suite(one_case_suite("sd_notify", tests, 5));
}
