/* test_rpc.c - rpc_server and rpc_client over a real socket on port 0:
 * echo, errors, unknown methods, health, x-request-id, concurrent clients,
 * graceful and forced shutdown. The test messages reuse the health
 * proto's HealthCheckRequest {string service = 1} as a string carrier. */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "clock.h"
#include "grpc/health/v1/health.pb-c.h"
#include "log.h"
#include "rpc_client.h"
#include "rpc_server.h"

#define SEC 1000000000LL
typedef Grpc__Health__V1__HealthCheckRequest Text;
#define TEXT_INIT GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT
#define text_desc grpc__health__v1__health_check_request__descriptor
typedef Grpc__Health__V1__HealthCheckResponse Health;

static rpc_server *server;
static grpc_channel *channel;

static void reply_text(rpc_call *c, const char *s) {
    Text t = TEXT_INIT;
    t.service = (char *)s;
    rpc_call_reply(c, &t.base);
}

/* Echo: the request text; "RequestId": the x-request-id (or "-"). */
static void echo(rpc_call *c, void *ud) {
    size_t len;
    const uint8_t *p = rpc_call_payload(c, &len);
    Text *t = grpc__health__v1__health_check_request__unpack(NULL, len, p);
    if (t == NULL) {
        rpc_call_fail(c, GRPC_STATUS_INVALID_ARGUMENT, "cannot parse request");
        return;
    }
    char buf[512];
    snprintf(buf, sizeof(buf), "%s%s", (const char *)ud, t->service);
    reply_text(c, buf);
    grpc__health__v1__health_check_request__free_unpacked(t, NULL);
}

/* What the RequestId handler saw, checked by the test thread (a failed
 * check on a server thread would not fail the test cleanly). */
static struct {
    pthread_mutex_t lock;
    char            method[64];
    char            peer[64];
    bool            start_ok;
} seen = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void request_id(rpc_call *c, void *ud) {
    (void)ud;
    const char *id = rpc_call_request_id(c);
    pthread_mutex_lock(&seen.lock);
    snprintf(seen.method, sizeof(seen.method), "%s", rpc_call_method(c));
    snprintf(seen.peer, sizeof(seen.peer), "%s", rpc_call_peer(c));
    seen.start_ok = rpc_call_start_ns(c) <= clock_mono_ns();
    pthread_mutex_unlock(&seen.lock);
    reply_text(c, id ? id : "-");
}

static void fail_range(rpc_call *c, void *ud) {
    (void)ud;
    rpc_call_fail(c, GRPC_STATUS_OUT_OF_RANGE, "n must be between %d and %d", 0, 92);
}

static void no_reply(rpc_call *c, void *ud) {
    (void)c;
    (void)ud;
}

/* Slow handlers entered so far, for tests that wait for one to run. */
static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t slow_cond = PTHREAD_COND_INITIALIZER;
static int slow_entered;

static void slow(rpc_call *c, void *ud) {
    pthread_mutex_lock(&slow_lock);
    slow_entered++;
    pthread_cond_broadcast(&slow_cond);
    pthread_mutex_unlock(&slow_lock);
    usleep((useconds_t)(long)ud);
    reply_text(c, "slow");
}

static void start(void) {
    grpc_init();
    log_init("test", LOG_WARN);
    server = rpc_server_create("127.0.0.1:0", 2);
    rpc_server_add_method(server, "/test.Echo/Echo", echo, "echo:");
    rpc_server_add_method(server, "/test.Echo/RequestId", request_id, NULL);
    rpc_server_add_method(server, "/test.Echo/Fail", fail_range, NULL);
    rpc_server_add_method(server, "/test.Echo/NoReply", no_reply, NULL);
    rpc_server_add_method(server, "/test.Echo/Slow", slow, (void *)400000L);
    rpc_server_add_method(server, "/test.Echo/Slower", slow, (void *)1500000L);
    rpc_server_add_service(server, "test.Echo");
    ck_assert_int_eq(rpc_server_start(server), 0);
    ck_assert_int_gt(rpc_server_port(server), 0);
    char target[64];
    snprintf(target, sizeof(target), "127.0.0.1:%d", rpc_server_port(server));
    channel = rpc_client_channel(target);
}

static void stop(void) {
    grpc_channel_destroy(channel);
    rpc_server_shutdown(server, SEC);
    rpc_server_destroy(server);
    grpc_shutdown();
}

/* Call a Text -> Text method; returns the status, copies the text out. */
static grpc_status_code call_text(const char *method, const char *in, const char *id,
                                  char *out, size_t cap, char **details) {
    Text req = TEXT_INIT;
    req.service = (char *)in;
    ProtobufCMessage *reply;
    rpc_result r = rpc_client_call(channel, method, &req.base, &text_desc, &reply,
                                   5 * SEC, id);
    if (out) out[0] = '\0';
    if (r.status == GRPC_STATUS_OK) {
        if (out) snprintf(out, cap, "%s", ((Text *)reply)->service);
        protobuf_c_message_free_unpacked(reply, NULL);
    }
    if (details) *details = r.details;
    else free(r.details);
    return r.status;
}

static int health(const char *service, char **details) {
    Text req = TEXT_INIT;
    req.service = (char *)service;
    ProtobufCMessage *reply;
    rpc_result r = rpc_client_call(channel, "/grpc.health.v1.Health/Check", &req.base,
                                   &grpc__health__v1__health_check_response__descriptor,
                                   &reply, 5 * SEC, NULL);
    if (details) *details = r.details;
    else free(r.details);
    if (r.status != GRPC_STATUS_OK) return -(int)r.status;
    int st = ((Health *)reply)->status;
    protobuf_c_message_free_unpacked(reply, NULL);
    return st;
}

START_TEST(test_echo_and_request_id) {
    char out[256];
    start();
    ck_assert_int_eq(call_text("/test.Echo/Echo", "hello", NULL, out, sizeof(out), NULL), 0);
    ck_assert_str_eq(out, "echo:hello");
    ck_assert_int_eq(call_text("/test.Echo/Echo", "", NULL, out, sizeof(out), NULL), 0);
    ck_assert_str_eq(out, "echo:");
    ck_assert_int_eq(call_text("/test.Echo/RequestId", "", "req-42", out, sizeof(out), NULL), 0);
    ck_assert_str_eq(out, "req-42");
    pthread_mutex_lock(&seen.lock);
    ck_assert_str_eq(seen.method, "/test.Echo/RequestId");
    ck_assert_ptr_nonnull(strstr(seen.peer, "127.0.0.1"));
    ck_assert(seen.start_ok);
    pthread_mutex_unlock(&seen.lock);
    ck_assert_int_eq(call_text("/test.Echo/RequestId", "", NULL, out, sizeof(out), NULL), 0);
    ck_assert_str_eq(out, "-");
    /* a value gRPC cannot send is refused by the client, not sent broken */
    char *details;
    ck_assert_int_eq(call_text("/test.Echo/RequestId", "", "bad\nid", out, sizeof(out),
                               &details), GRPC_STATUS_INVALID_ARGUMENT);
    free(details);
    stop();
}
END_TEST

START_TEST(test_errors) {
    char *details;
    start();
    ck_assert_int_eq(call_text("/test.Echo/Fail", "", NULL, NULL, 0, &details),
                     GRPC_STATUS_OUT_OF_RANGE);
    ck_assert_str_eq(details, "n must be between 0 and 92");
    free(details);
    ck_assert_int_eq(call_text("/test.Echo/Nope", "", NULL, NULL, 0, &details),
                     GRPC_STATUS_UNIMPLEMENTED);
    ck_assert_ptr_nonnull(strstr(details, "/test.Echo/Nope"));
    free(details);
    ck_assert_int_eq(call_text("/test.Echo/NoReply", "", NULL, NULL, 0, &details),
                     GRPC_STATUS_INTERNAL);
    free(details);
    /* malformed request bytes reach the handler, which rejects them */
    uint8_t *out;
    size_t out_len;
    rpc_result r = rpc_client_call_raw(channel, "/test.Echo/Echo", (const uint8_t *)"\x0a\x05x",
                                       3, &out, &out_len, 5 * SEC, NULL);
    ck_assert_int_eq(r.status, GRPC_STATUS_INVALID_ARGUMENT);
    ck_assert_ptr_null(out);
    free(r.details);
    /* raw bytes round trip: field 1 = "ab" */
    r = rpc_client_call_raw(channel, "/test.Echo/Echo", (const uint8_t *)"\x0a\x02" "ab", 4,
                            &out, &out_len, 5 * SEC, NULL);
    ck_assert_int_eq(r.status, GRPC_STATUS_OK);
    ck_assert_uint_eq(out_len, 9);
    ck_assert_int_eq(memcmp(out, "\x0a\x07" "echo:ab", 9), 0);
    free(out);
    /* a reply that does not parse as the expected type is INTERNAL */
    Text req = TEXT_INIT;
    req.service = "x";
    ProtobufCMessage *reply;
    r = rpc_client_call(channel, "/test.Echo/Echo", &req.base,
                        &grpc__health__v1__health_check_response__descriptor, &reply,
                        5 * SEC, NULL);
    ck_assert_int_eq(r.status, GRPC_STATUS_INTERNAL);
    ck_assert_ptr_null(reply);
    ck_assert_ptr_nonnull(strstr(r.details, "grpc.health.v1.HealthCheckResponse"));
    free(r.details);
    /* a deadline shorter than the handler */
    r = rpc_client_call(channel, "/test.Echo/Slow", &req.base, &text_desc, &reply,
                        SEC / 20, NULL);
    ck_assert_int_eq(r.status, GRPC_STATUS_DEADLINE_EXCEEDED);
    free(r.details);
    /* a timeout of 0 is a deadline that has passed, not "no deadline" */
    r = rpc_client_call(channel, "/test.Echo/Echo", &req.base, &text_desc,
                        &reply, 0, NULL);
    ck_assert_int_eq(r.status, GRPC_STATUS_DEADLINE_EXCEEDED);
    free(r.details);
    ck_assert_str_eq(rpc_status_name(GRPC_STATUS_INVALID_ARGUMENT), "INVALID_ARGUMENT");
    ck_assert_str_eq(rpc_status_name(GRPC_STATUS_UNAUTHENTICATED), "UNAUTHENTICATED");
    ck_assert_str_eq(rpc_status_name((grpc_status_code)99), "UNKNOWN");
    stop();
}
END_TEST

START_TEST(test_health) {
    char *details;
    start();
    ck_assert_int_eq(health("", NULL), 1);
    ck_assert_int_eq(health("test.Echo", NULL), 1);
    ck_assert_int_eq(health("other.Service", &details), -GRPC_STATUS_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(details, "other.Service"));
    free(details);
    rpc_server_set_serving(server, false);
    ck_assert_int_eq(health("", NULL), 2);
    rpc_server_set_serving(server, true);
    ck_assert_int_eq(health("test.Echo", NULL), 1);
    stop();
}
END_TEST

/* Several threads share one channel. */
static void *hammer(void *arg) {
    long id = (long)arg;
    for (int i = 0; i < 200; i++) {
        char in[32], rid[32], out[64], want[64];
        snprintf(in, sizeof(in), "%ld-%d", id, i);
        snprintf(rid, sizeof(rid), "r%ld-%d", id, i);
        snprintf(want, sizeof(want), "echo:%s", in);
        if (call_text("/test.Echo/Echo", in, NULL, out, sizeof(out), NULL) != 0 ||
            strcmp(out, want) != 0)
            return (void *)1;
        if (call_text("/test.Echo/RequestId", "", rid, out, sizeof(out), NULL) != 0 ||
            strcmp(out, rid) != 0)
            return (void *)1;
    }
    return NULL;
}

START_TEST(test_concurrent_clients) {
    start();
    pthread_t t[4];
    for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, hammer, (void *)i);
    for (int i = 0; i < 4; i++) {
        void *rc;
        pthread_join(t[i], &rc);
        ck_assert_ptr_null(rc);
    }
    stop();
}
END_TEST

struct slow_call {
    const char *method;
    grpc_status_code status;
};

static void *call_slow(void *arg) {
    struct slow_call *sc = arg;
    char out[32];
    sc->status = call_text(sc->method, "", NULL, out, sizeof(out), NULL);
    return NULL;
}

/* Start a slow call in a thread; return once its handler is running. */
static pthread_t start_slow(struct slow_call *sc) {
    pthread_mutex_lock(&slow_lock);
    int before = slow_entered;
    pthread_mutex_unlock(&slow_lock);
    pthread_t t;
    pthread_create(&t, NULL, call_slow, sc);
    pthread_mutex_lock(&slow_lock);
    while (slow_entered == before) pthread_cond_wait(&slow_cond, &slow_lock);
    pthread_mutex_unlock(&slow_lock);
    return t;
}

/* A call in flight when shutdown begins still completes. */
START_TEST(test_graceful_shutdown) {
    start();
    struct slow_call sc = {"/test.Echo/Slow", GRPC_STATUS_UNKNOWN};
    pthread_t t = start_slow(&sc);
    int64_t t0 = clock_mono_ns();
    rpc_server_shutdown(server, 5 * SEC);
    int64_t took = clock_mono_ns() - t0;
    pthread_join(t, NULL);
    ck_assert_int_eq(sc.status, GRPC_STATUS_OK);
    ck_assert_int_lt(took, 2 * SEC);
    /* after shutdown: health is gone with the server */
    ck_assert_int_lt(health("", NULL), 0);
    stop();
}
END_TEST

/* A call still running at the timeout is cancelled; shutdown returns. */
START_TEST(test_forced_shutdown) {
    start();
    struct slow_call sc = {"/test.Echo/Slower", GRPC_STATUS_UNKNOWN};
    pthread_t t = start_slow(&sc);
    int64_t t0 = clock_mono_ns();
    rpc_server_shutdown(server, SEC / 10);
    pthread_join(t, NULL);
    /* cut off by the server's cancellation: UNAVAILABLE, not the handler's
     * late OK nor a failure of another kind */
    ck_assert_int_eq(sc.status, GRPC_STATUS_UNAVAILABLE);
    ck_assert_int_lt(clock_mono_ns() - t0, 3 * SEC);
    stop();
}
END_TEST

/* Listening on a port that is taken fails cleanly. */
START_TEST(test_port_in_use) {
    start();
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", rpc_server_port(server));
    rpc_server *second = rpc_server_create(addr, 1);
    ck_assert_int_eq(rpc_server_start(second), -1);
    rpc_server_destroy(second);
    stop();
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_echo_and_request_id, test_errors, test_health,
                            test_concurrent_clients, test_graceful_shutdown,
                            test_forced_shutdown, test_port_in_use};
    Suite *s = one_case_suite("rpc", tests, 7);
    return run_suite(s);
}
