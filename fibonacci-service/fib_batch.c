/* fib_batch.c - GetFibBatch: F(n) for each n of a request, in request
 * order, duplicates allowed.
 *
 * The whole request is checked first: more than --max-batch n, or any n out
 * of bounds, refuses the batch naming the first bad one (its index and
 * value), so a caller never gets half an answer. A batch of small n only
 * (<= 92) is answered on the server thread from the int64 table; one with
 * any larger n goes to the compute pool as one job, which reads the cache
 * (computing on a miss). A reply that would exceed --max-reply is refused
 * with RESOURCE_EXHAUSTED rather than sent.
 *
 * Stats: every n counts as one request, with its own duration (the time
 * its value took) and cache result, as if asked alone. */
#include <stdio.h>
#include <stdlib.h>

#include "fibonacci/fib.pb-c.h"
#include "stats/stats.pb-c.h"

#include "clock.h"
#include "fib.h"
#include "fib_batch.h"
#include "log.h"
#include "mem.h"

typedef struct {
    rpc_call      *call;
    const fib_rpc *rpc;
    size_t         count;
    int           *n;
} fib_batch;

/* Check every n; GRPC_STATUS_OK, or the refusal with its message. */
static grpc_status_code batch_check(const fib_rpc *rpc, const int *n,
                                    size_t count, bool exact, bool *small,
                                    char *msg, size_t len) {
    if (count > (size_t)rpc->max_batch) {
        snprintf(msg, len, "a batch has at most %d n (got %zu)",
                 rpc->max_batch, count);
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    double bytes = 0;
    *small = true;
    for (size_t i = 0; i < count; i++) {
        if (n[i] < 0 || n[i] > rpc->max_n) {
            snprintf(msg, len, "n[%zu] = %d: n must be between 0 and %d",
                     i, n[i], rpc->max_n);
            return n[i] < 0 ? GRPC_STATUS_INVALID_ARGUMENT
                            : GRPC_STATUS_OUT_OF_RANGE;
        }
        if (n[i] > FIB_SMALL_MAX && !exact) {
            snprintf(msg, len, "n[%zu] = %d: too large for int64 (max %d); "
                     "set exact to read the decimal value", i, n[i],
                     FIB_SMALL_MAX);
            return GRPC_STATUS_INVALID_ARGUMENT;
        }
        if (n[i] > FIB_SMALL_MAX) *small = false;
        /* F(n) has about n * log10(phi) = 0.20899 n digits: refuse a reply
         * surely too big before computing it */
        bytes += n[i] * 0.2089;
    }
    if (bytes > (double)rpc->max_reply) {
        snprintf(msg, len, "the reply would be over %.0f bytes, more than "
                 "the limit of %lld (--max-reply): ask for fewer or smaller "
                 "n", bytes, rpc->max_reply);
        return GRPC_STATUS_RESOURCE_EXHAUSTED;
    }
    return GRPC_STATUS_OK;
}

static void report(const fib_rpc *rpc, int n, int64_t duration, int cache) {
    if (rpc->stats != NULL)
        stats_queue_push(rpc->stats, n, duration, (uint8_t)cache);
}

/* Look up every value, report each, and answer. Any thread. */
static void batch_answer(fib_batch *b) {
    const fib_rpc *rpc = b->rpc;
    Fibonacci__FibonacciResponse *items =
        xcalloc(b->count ? b->count : 1, sizeof(*items));
    Fibonacci__FibonacciResponse **ptrs =
        xcalloc(b->count ? b->count : 1, sizeof(*ptrs));
    fib_entry **entries = xcalloc(b->count ? b->count : 1, sizeof(*entries));
    char (*small)[FIB_SMALL_DIGITS] =
        xcalloc(b->count ? b->count : 1, sizeof(*small));
    bool failed = false;

    for (size_t i = 0; i < b->count && !failed; i++) {
        int n = b->n[i];
        int64_t t0 = clock_mono_ns();
        int cache = STATS__CACHE_RESULT__CACHE_BYPASS;
        fibonacci__fibonacci_response__init(&items[i]);
        items[i].n = n;
        if (n <= FIB_SMALL_MAX) {
            fib_small_decimal(n, small[i]);
            items[i].x = fib_small(n);
            items[i].value = small[i];
        } else {
            fib_cache_result hit;
            entries[i] = fib_cache_get(rpc->cache, (unsigned long)n, &hit);
            if (entries[i] == NULL) {
                failed = true;
                break;
            }
            items[i].value = (char *)fib_entry_value(entries[i], NULL);
            cache = hit == FIB_CACHE_HIT ? STATS__CACHE_RESULT__CACHE_HIT
                                         : STATS__CACHE_RESULT__CACHE_MISS;
        }
        ptrs[i] = &items[i];
        report(rpc, n, clock_mono_ns() - t0, cache);
    }

    Fibonacci__FibBatchResponse resp = FIBONACCI__FIB_BATCH_RESPONSE__INIT;
    resp.n_results = b->count;
    resp.results = ptrs;
    size_t size = failed ? 0 : protobuf_c_message_get_packed_size(&resp.base);
    if (failed) {
        rpc_call_fail(b->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                      "computing a value of the batch failed");
    } else if ((long long)size > rpc->max_reply) {
        rpc_call_fail(b->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                      "the reply would be %zu bytes, more than the limit of "
                      "%lld (--max-reply): ask for fewer or smaller n",
                      size, rpc->max_reply);
    } else {
        rpc_call_reply(b->call, &resp.base);
    }
    for (size_t i = 0; i < b->count; i++)
        if (entries[i] != NULL) fib_cache_release(entries[i]);
    free(small);
    free(entries);
    free(ptrs);
    free(items);
}

static void batch_job(void *arg) {
    fib_batch *b = arg;
    batch_answer(b);
    free(b->n);
    free(b);
}

void fib_batch_handler(rpc_call *call, void *ud) {
    const fib_rpc *rpc = ud;
    size_t len;
    const uint8_t *data = rpc_call_payload(call, &len);
    Fibonacci__FibBatchRequest *req =
        fibonacci__fib_batch_request__unpack(NULL, len, data);
    if (req == NULL) {
        rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                      "invalid request: not a fibonacci.FibBatchRequest");
        return;
    }
    char msg[256];
    bool small;
    grpc_status_code code = batch_check(rpc, req->n, req->n_n, req->exact,
                                        &small, msg, sizeof(msg));
    if (code != GRPC_STATUS_OK) {
        fibonacci__fib_batch_request__free_unpacked(req, NULL);
        rpc_call_fail(call, code, "%s", msg);
        return;
    }
    fib_batch *b = xcalloc(1, sizeof(*b));
    b->rpc = rpc;
    b->count = req->n_n;
    b->n = xcalloc(b->count ? b->count : 1, sizeof(*b->n));
    for (size_t i = 0; i < b->count; i++) b->n[i] = req->n[i];
    fibonacci__fib_batch_request__free_unpacked(req, NULL);

    if (small) {                /* the table: nanoseconds per n */
        b->call = call;
        batch_job(b);
        return;
    }
    b->call = rpc_call_defer(call);
    if (!compute_pool_submit(rpc->pool, batch_job, b)) {
        rpc_call_fail(b->call, GRPC_STATUS_RESOURCE_EXHAUSTED,
                      "the compute queue is full (%zu waiting): try again "
                      "later", rpc->compute_queue);
        free(b->n);
        free(b);
    }
}
