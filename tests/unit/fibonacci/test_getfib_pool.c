/* test_getfib_pool.c - GetFib on a real gRPC server (common/rpc_server on a
 * socket, real GMP): heavy n go to the compute pool and the server threads
 * stay free.
 *
 * - While 64 concurrent requests for distinct cold n in 500000..1000000 are
 *   being computed, GetFib n=10 and Health/Check are answered, before the
 *   last of the heavy ones: they do not queue behind them. The latencies of
 *   n=10 are printed (p50, p99, with the 5 ms target beside them): a figure
 *   on a shared machine, not a pass/fail threshold.
 * - With the pool busy and its queue full, a cold n is answered at once with
 *   RESOURCE_EXHAUSTED and a message; a cache hit still is answered. */
#include <check.h>
#include <grpc/grpc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "fibonacci/fib.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "clock.h"
#include "compute_pool.h"
#include "fib.h"
#include "fib_cache.h"
#include "fib_rpc.h"
#include "flags.h"
#include "log.h"
#include "rpc_client.h"
#include "rpc_server.h"
#include "stats_queue.h"

#define HEAVY        64
#define LIGHT        500
#define CALL_TIMEOUT (120 * NS_PER_SEC)

static rpc_server *server;
static fib_cache *cache;
static compute_pool *pool;
static stats_queue *reports;
static fib_rpc rpc;
static char target[64];

static void start(int compute_threads, size_t compute_queue) {
    grpc_init();
    log_init("test", LOG_WARN);
    cache = fib_cache_create(256u << 20, fib_decimal);
    pool = compute_pool_start(compute_threads, compute_queue);
    ck_assert_ptr_nonnull(pool);
    /* reports on: every answer's record is taken from its call */
    reports = stats_queue_create(100000);
    rpc = (fib_rpc){ cache, reports, 1000000, pool, compute_queue, 100000,
                     1000, 64LL << 20 };
    server = rpc_server_create("127.0.0.1:0", flags_ncpu());
    rpc_server_add_method(server, FIB_METHOD, fib_rpc_getfib, &rpc);
    ck_assert_int_eq(rpc_server_start(server), 0);
    snprintf(target, sizeof(target), "127.0.0.1:%d", rpc_server_port(server));
}

static void stop(void) {
    rpc_server_shutdown(server, 5 * NS_PER_SEC);
    compute_pool_stop(pool);
    rpc_server_destroy(server);
    fib_cache_destroy(cache);
    stats_queue_destroy(reports);
    grpc_shutdown();
}

/* One GetFib with exact=true; the status, and the value's digit count. */
static grpc_status_code getfib(grpc_channel *ch, int n, size_t *digits,
                               char **details) {
    Fibonacci__FibonacciRequest req = FIBONACCI__FIBONACCI_REQUEST__INIT;
    req.n = n;
    req.exact = true;
    ProtobufCMessage *reply;
    rpc_result r = rpc_client_call(ch, FIB_METHOD, &req.base,
                                   &fibonacci__fibonacci_response__descriptor,
                                   &reply, CALL_TIMEOUT, NULL);
    if (r.status == GRPC_STATUS_OK) {
        Fibonacci__FibonacciResponse *res =
            (Fibonacci__FibonacciResponse *)reply;
        if (digits) *digits = strlen(res->value);
        protobuf_c_message_free_unpacked(reply, NULL);
    }
    if (details) *details = r.details;
    else free(r.details);
    return r.status;
}

static int health(grpc_channel *ch) {
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    req.service = "";
    ProtobufCMessage *reply;
    rpc_result r = rpc_client_call(ch, "/grpc.health.v1.Health/Check",
        &req.base, &grpc__health__v1__health_check_response__descriptor,
        &reply, CALL_TIMEOUT, NULL);
    free(r.details);
    if (r.status != GRPC_STATUS_OK) return -1;
    int st = ((Grpc__Health__V1__HealthCheckResponse *)reply)->status;
    protobuf_c_message_free_unpacked(reply, NULL);
    return st;
}

/* --- the heavy burst ------------------------------------------------------ */

static atomic_int heavy_done;
static atomic_int heavy_ok;
static pthread_barrier_t heavy_start;   /* the burst starts at once */

typedef struct {
    pthread_t thread;
    int       n;
} heavy_call;

static void *heavy_main(void *arg) {
    heavy_call *h = arg;
    grpc_channel *ch = rpc_client_channel(target);
    size_t digits = 0;
    pthread_barrier_wait(&heavy_start);
    /* F(n) has about n * log10(phi) = 0.20898 n digits */
    if (getfib(ch, h->n, &digits, NULL) == GRPC_STATUS_OK &&
        digits == (size_t)(h->n * 0.20898764024997873 - 0.349) + 1)
        atomic_fetch_add(&heavy_ok, 1);
    atomic_fetch_add(&heavy_done, 1);
    grpc_channel_destroy(ch);
    return NULL;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

START_TEST(small_n_and_health_answered_during_heavy_burst) {
    start(flags_ncpu(), 1024);
    grpc_channel *ch = rpc_client_channel(target);
    ck_assert_int_eq(getfib(ch, 10, NULL, NULL), GRPC_STATUS_OK); /* warm */

    heavy_call heavy[HEAVY];
    ck_assert_int_eq(pthread_barrier_init(&heavy_start, NULL, HEAVY + 1), 0);
    for (int i = 0; i < HEAVY; i++) {
        heavy[i].n = 500000 + i * (500000 / HEAVY);
        ck_assert_int_eq(pthread_create(&heavy[i].thread, NULL, heavy_main,
                                        &heavy[i]), 0);
    }
    /* the burst is on once the pool has a backlog (the first few may be
     * done by then: the pool works while the calls arrive) */
    pthread_barrier_wait(&heavy_start);
    int64_t until = clock_mono_ns() + 30 * NS_PER_SEC;
    while (compute_pool_waiting(pool) < HEAVY / 4) {
        ck_assert_msg(clock_mono_ns() < until, "no backlog in the pool");
        sched_yield();
    }

    static int64_t lat[LIGHT];
    for (int i = 0; i < LIGHT; i++) {
        int64_t t0 = clock_mono_ns();
        size_t digits;
        ck_assert_int_eq(getfib(ch, 10, &digits, NULL), GRPC_STATUS_OK);
        lat[i] = clock_mono_ns() - t0;
    }
    ck_assert_int_eq(health(ch),
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    int done_meanwhile = atomic_load(&heavy_done);
    size_t backlog = compute_pool_waiting(pool);

    for (int i = 0; i < HEAVY; i++) pthread_join(heavy[i].thread, NULL);
    pthread_barrier_destroy(&heavy_start);
    ck_assert_int_eq(atomic_load(&heavy_ok), HEAVY);

    qsort(lat, LIGHT, sizeof(lat[0]), cmp_i64);
    printf("getfib n=10 during %d cold n in 500000..1000000: p50 %.3f ms, "
           "p99 %.3f ms (target p99 < 5 ms); %d of %d heavy done meanwhile, "
           "%zu still queued\n", HEAVY, lat[LIGHT / 2] / 1e6,
           lat[LIGHT * 99 / 100] / 1e6, done_meanwhile, HEAVY, backlog);
    /* n=10 and health did not wait for the burst to drain */
    ck_assert_int_lt(done_meanwhile, HEAVY);
    grpc_channel_destroy(ch);
    stop();
}
END_TEST

/* --- a full queue ---------------------------------------------------------- */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open, gate_entered;

/* A job that holds the pool's only thread until the test opens the gate. */
static void gate_job(void *arg) {
    (void)arg;
    pthread_mutex_lock(&gate_lock);
    gate_entered = true;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

static void noop_job(void *arg) {
    (void)arg;
}

START_TEST(full_queue_is_resource_exhausted) {
    start(1, 1);
    grpc_channel *ch = rpc_client_channel(target);
    /* a cached value first, while the pool is free */
    ck_assert_int_eq(getfib(ch, 1000, NULL, NULL), GRPC_STATUS_OK);

    ck_assert(compute_pool_submit(pool, gate_job, NULL));
    pthread_mutex_lock(&gate_lock);
    while (!gate_entered) pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
    ck_assert(compute_pool_submit(pool, noop_job, NULL));   /* queue full */

    char *details = NULL;
    ck_assert_int_eq(getfib(ch, 2000, NULL, &details),
                     GRPC_STATUS_RESOURCE_EXHAUSTED);
    ck_assert_ptr_nonnull(details);
    ck_assert_ptr_nonnull(strstr(details, "compute queue is full"));
    free(details);
    /* small n and cache hits never need the pool */
    ck_assert_int_eq(getfib(ch, 10, NULL, NULL), GRPC_STATUS_OK);
    ck_assert_int_eq(getfib(ch, 1000, NULL, NULL), GRPC_STATUS_OK);

    pthread_mutex_lock(&gate_lock);
    gate_open = true;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
    /* the pool is free again: the cold n is computed */
    int64_t until = clock_mono_ns() + 30 * NS_PER_SEC;
    while (compute_pool_waiting(pool) > 0) {
        ck_assert_msg(clock_mono_ns() < until, "the queue did not drain");
        sched_yield();
    }
    ck_assert_int_eq(getfib(ch, 2000, NULL, NULL), GRPC_STATUS_OK);
    grpc_channel_destroy(ch);
    stop();
}
END_TEST

int main(void) {
    Suite *s = suite_create("getfib_pool");
    TCase *tc = tcase_create("getfib_pool");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, small_n_and_health_answered_during_heavy_burst);
    tcase_add_test(tc, full_queue_is_resource_exhausted);
    suite_add_tcase(s, tc);
    return run_suite(s);
}
