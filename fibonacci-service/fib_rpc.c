/* fib_rpc.c - the GetFib handler.
 *
 * n <= 92 comes from the int64 table (x and value set, cache "bypass");
 * larger n needs exact=true and comes from the cache as a decimal string
 * (value only). Errors: unparseable request or n < 0 -> INVALID_ARGUMENT,
 * n > max -> OUT_OF_RANGE, n > 92 without exact -> INVALID_ARGUMENT.
 *
 * The server thread answers what is cheap at once: small n, refusals and
 * cache hits. Anything that needs GMP, or waits for another caller's GMP,
 * is deferred to the compute pool, which answers when the value is ready;
 * a full pool queue is RESOURCE_EXHAUSTED. So a burst of cold large n never
 * holds the server threads that health checks and small n need.
 *
 * Only OK answers are reported to the stats-service: its per-n averages
 * describe computing F(n), and a refused request computed nothing. Errors
 * are still in the debug log. */
#include <stdio.h>
#include <stdlib.h>

#include "fibonacci/fib.pb-c.h"
#include "stats/stats.pb-c.h"

#include "clock.h"
#include "fib.h"
#include "fib_rpc.h"
#include "log.h"
#include "mem.h"

/* What the handler did, for the log line and the stats record. */
typedef struct {
    int               n;
    int               cache;     /* Stats__CacheResult */
    grpc_status_code  status;
} getfib_outcome;

/* A GetFib call waiting for the compute pool. */
typedef struct {
    rpc_call      *call;     /* deferred */
    const fib_rpc *rpc;
    int            n;
} getfib_job;

static const char *cache_result_name(int cache) {
    switch (cache) {
    case STATS__CACHE_RESULT__CACHE_HIT:    return "hit";
    case STATS__CACHE_RESULT__CACHE_MISS:   return "miss";
    case STATS__CACHE_RESULT__CACHE_BYPASS: return "bypass";
    default:                                return "none";
    }
}

static void log_getfib(rpc_call *call, const getfib_outcome *o,
                       int64_t duration_ns) {
    log_line l;
    if (!log_begin(&l, LOG_DEBUG, "getfib")) return;
    log_int(&l, "n", o->n);
    log_int(&l, "duration_us", duration_ns / 1000);
    log_str(&l, "cache", cache_result_name(o->cache));
    log_str(&l, "peer", rpc_call_peer(call));
    rpc_call_log_ids(&l, call);
    log_str(&l, "status", rpc_status_name(o->status));
    log_end(&l);
}

/* The stats record and the debug line. After the answer on a server
 * thread; just before it for a deferred call, which may be freed as soon
 * as it is answered. */
static void finish(rpc_call *call, const fib_rpc *rpc,
                   const getfib_outcome *o) {
    bool report = rpc->stats != NULL && o->status == GRPC_STATUS_OK;
    bool debug = log_enabled(LOG_DEBUG);
    if (!report && !debug) return;
    int64_t duration = clock_mono_ns() - rpc_call_start_ns(call);
    if (report) stats_queue_push(rpc->stats, o->n, duration, (uint8_t)o->cache);
    if (debug) log_getfib(call, o, duration);
}

/* Answer from a cache reference, and drop it. */
static void reply_entry(rpc_call *call, int n, fib_entry *e) {
    Fibonacci__FibonacciResponse resp = FIBONACCI__FIBONACCI_RESPONSE__INIT;
    resp.value = (char *)fib_entry_value(e, NULL);
    resp.n = n;
    rpc_call_reply(call, &resp.base);
    fib_cache_release(e);
}

/* On a compute pool thread: F(n) from the cache, computed here on a miss
 * (or waited for, when another caller computes it). */
static void compute_job(void *arg) {
    getfib_job *job = arg;
    getfib_outcome o = { job->n, STATS__CACHE_RESULT__CACHE_MISS,
                         GRPC_STATUS_OK };
    fib_cache_result hit;
    fib_entry *e = fib_cache_get(job->rpc->cache, (unsigned long)job->n, &hit);
    if (e == NULL) {
        o.status = GRPC_STATUS_RESOURCE_EXHAUSTED;
        finish(job->call, job->rpc, &o);
        rpc_call_fail(job->call, o.status, "computing F(%d) failed", job->n);
    } else {
        if (hit == FIB_CACHE_HIT) o.cache = STATS__CACHE_RESULT__CACHE_HIT;
        finish(job->call, job->rpc, &o);
        reply_entry(job->call, job->n, e);
    }
    free(job);
}

/* Answer one request, or hand it to the compute pool (then *deferred is
 * set and the pool finishes it). Fills in what happened. */
static void answer(rpc_call *call, const fib_rpc *rpc, getfib_outcome *o,
                   bool *deferred) {
    size_t len;
    const uint8_t *data = rpc_call_payload(call, &len);
    Fibonacci__FibonacciRequest *req =
        fibonacci__fibonacci_request__unpack(NULL, len, data);
    if (req == NULL) {
        o->status = GRPC_STATUS_INVALID_ARGUMENT;
        rpc_call_fail(call, o->status,
                      "invalid request: not a fibonacci.FibonacciRequest");
        return;
    }
    int n = req->n;
    bool exact = req->exact;
    fibonacci__fibonacci_request__free_unpacked(req, NULL);
    o->n = n;

    if (n < 0 || n > rpc->max_n) {
        o->status = n < 0 ? GRPC_STATUS_INVALID_ARGUMENT
                          : GRPC_STATUS_OUT_OF_RANGE;
        rpc_call_fail(call, o->status, "n must be between 0 and %d (got %d)",
                      rpc->max_n, n);
        return;
    }

    if (n <= FIB_SMALL_MAX) {
        Fibonacci__FibonacciResponse resp = FIBONACCI__FIBONACCI_RESPONSE__INIT;
        char digits[FIB_SMALL_DIGITS];
        fib_small_decimal(n, digits);
        resp.x = fib_small(n);
        resp.value = digits;
        resp.n = n;
        o->cache = STATS__CACHE_RESULT__CACHE_BYPASS;
        o->status = GRPC_STATUS_OK;
        rpc_call_reply(call, &resp.base);
        return;
    }
    if (!exact) {
        o->status = GRPC_STATUS_INVALID_ARGUMENT;
        rpc_call_fail(call, o->status,
                      "n too large for int64 (max %d); set exact to read "
                      "the decimal value", FIB_SMALL_MAX);
        return;
    }

    fib_entry *e = fib_cache_peek(rpc->cache, (unsigned long)n);
    if (e != NULL) {
        o->cache = STATS__CACHE_RESULT__CACHE_HIT;
        o->status = GRPC_STATUS_OK;
        reply_entry(call, n, e);
        return;
    }

    getfib_job *job = xmalloc(sizeof(*job));
    *job = (getfib_job){ rpc_call_defer(call), rpc, n };
    if (compute_pool_submit(rpc->pool, compute_job, job)) {
        *deferred = true;
        return;
    }
    o->status = GRPC_STATUS_RESOURCE_EXHAUSTED;
    finish(job->call, rpc, o);
    rpc_call_fail(job->call, o->status,
                  "F(%d) is not cached and the compute queue is full "
                  "(%zu waiting): try again later", n, rpc->compute_queue);
    free(job);
    *deferred = true;           /* answered and finished already */
}

void fib_rpc_getfib(rpc_call *call, void *ud) {
    const fib_rpc *rpc = ud;
    getfib_outcome o = { -1, STATS__CACHE_RESULT__CACHE_UNSPECIFIED,
                         GRPC_STATUS_OK };
    bool deferred = false;
    answer(call, rpc, &o, &deferred);
    if (!deferred) finish(call, rpc, &o);
}
