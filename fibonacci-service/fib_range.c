/* fib_range.c - GetFibRange: a server stream of F(from) .. F(to).
 *
 * Computed incrementally: F(from) and F(from+1) once (mpz_fib2_ui), then
 * one addition per item. The items are computed in chunks: one compute pool
 * job (niced, FIFO) turns the next items into decimal, one after another in
 * one buffer, until it holds RANGE_CHUNK bytes (at least one item), so a
 * long range yields to every other job between chunks and never computes
 * on a server thread. The chunk's items are then sent one message each;
 * each send's callback (a server thread) sends the next item of the chunk
 * at once, and queues the next chunk's job only when the chunk is used up.
 * A job per item cost two thread hand-offs per item, which was most of the
 * daemon's time (bench case 8, bench/README.md).
 *
 * Backpressure: the next message is sent only when the previous one has
 * gone out (rpc_stream's callback); gRPC completes a send only when HTTP/2
 * flow control let it into the transport. So a client that reads slowly
 * pauses the computation, and one stream holds at most: the two GMP
 * integers (about 0.09 * n bytes each for F(n)), the chunk's buffer (it
 * stops filling at RANGE_CHUNK bytes, so it holds less than RANGE_CHUNK
 * plus one decimal string of about 0.21 * n bytes, and is allocated at
 * most twice that) and one packed message in flight (about 0.21 * n
 * bytes): under 2 * RANGE_CHUNK + 0.9 * to bytes, plus gRPC's per-stream
 * window.
 *
 * Cancellation: a client that cancels or leaves fails the send in flight
 * and marks the stream; the next job sees it and stops before computing.
 *
 * Stats: a range is not reported per n but as one stream in the stats
 * streams aggregate, with the items that went out and its duration, once it
 * ends: incomplete when it ended before its last item (cancelled, failed).
 * A call refused before it began (bad range, full compute queue) is not
 * counted. The stream is logged at debug. */
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fibonacci/fib.pb-c.h"

#include "clock.h"
#include "fib.h"
#include "fib_range.h"
#include "log.h"
#include "mem.h"
#include "rpc_stream.h"
#include "stats_queue.h"

/* A chunk's decimals fill up to this many bytes (or one item). */
#define RANGE_CHUNK (64 * 1024)

typedef struct {
    rpc_stream    *stream;
    const fib_rpc *rpc;
    int            from;
    int            next;        /* the n of the next message */
    int            to;
    int            computed;    /* the n after the chunk's last item */
    int            sent;        /* messages that went out */
    bool           started;     /* a and b hold F(computed), F(computed+1) */
    bool           counted;     /* reported to stats when it ends */
    mpz_t          a, b;
    char          *digits;      /* the chunk: NUL-terminated decimals of */
    size_t         cap;         /*   F(next) .. F(computed - 1), reused */
    size_t         pos;         /* where F(next)'s decimal starts */
    size_t         len;
    grpc_status_code status;    /* the end, for the log */
} fib_range;

static void range_log(fib_range *r) {
    log_line l;
    if (!log_begin(&l, LOG_DEBUG, "getfibrange")) return;
    rpc_call *call = rpc_stream_call(r->stream);
    log_int(&l, "from", r->from);
    log_int(&l, "to", r->to);
    log_int(&l, "sent", r->sent);
    log_int(&l, "duration_us",
            (clock_mono_ns() - rpc_call_start_ns(call)) / 1000);
    log_str(&l, "peer", rpc_call_peer(call));
    rpc_call_log_ids(&l, call);
    log_str(&l, "status", rpc_status_name(r->status));
    log_end(&l);
}

/* End the stream and free the range. */
static void range_end(fib_range *r, grpc_status_code code, const char *msg) {
    r->status = code;
    if (r->counted && r->rpc->stats != NULL) {
        int64_t took = clock_mono_ns()
                       - rpc_call_start_ns(rpc_stream_call(r->stream));
        stats_queue_push_stream(r->rpc->stats, (uint64_t)r->sent, took,
                                code == GRPC_STATUS_OK);
    }
    if (log_enabled(LOG_DEBUG)) range_log(r);
    if (code == GRPC_STATUS_CANCELLED && msg == NULL)
        log_msg(LOG_INFO, "getfibrange_cancelled",
                "the client cancelled GetFibRange at n=%d of %d",
                r->next, r->to);
    rpc_stream_finish(r->stream, code, "%s", msg ? msg : "");
    mpz_clear(r->a);
    mpz_clear(r->b);
    free(r->digits);
    free(r);
}

/* Send item `next`, the next of the chunk. The callback may run before
 * rpc_stream_send() returns: nothing touches r after it. */
static void range_send_next(fib_range *r) {
    Fibonacci__FibonacciResponse resp = FIBONACCI__FIBONACCI_RESPONSE__INIT;
    resp.n = r->next;
    resp.value = r->digits + r->pos;
    if (r->next <= FIB_SMALL_MAX) resp.x = fib_small(r->next);
    r->pos += strlen(resp.value) + 1;
    r->next++;
    rpc_stream_send(r->stream, &resp.base);
}

/* On a pool thread: compute the next chunk and send its first item. */
static void range_step(void *arg) {
    fib_range *r = arg;
    if (rpc_stream_cancelled(r->stream)) {
        range_end(r, GRPC_STATUS_CANCELLED, NULL);
        return;
    }
    if (!r->started) {
        mpz_fib2_ui(r->b, r->a, (unsigned long)r->next + 1);
        r->computed = r->next;
        r->started = true;
    }
    r->pos = r->len = 0;
    while (r->computed <= r->to && (r->len == 0 || r->len < RANGE_CHUNK)) {
        size_t need = r->len + mpz_sizeinbase(r->a, 10) + 2;
        if (need > r->cap) {
            r->cap = 2 * need;
            r->digits = xrealloc(r->digits, r->cap);
        }
        mpz_get_str(r->digits + r->len, 10, r->a);
        r->len += strlen(r->digits + r->len) + 1;
        mpz_add(r->a, r->a, r->b);
        mpz_swap(r->a, r->b);
        r->computed++;
    }
    range_send_next(r);
}

/* On a server thread: the last message went out, or the call is over. */
static void range_sent(rpc_stream *st, bool ok, void *ud) {
    (void)st;
    fib_range *r = ud;
    if (ok) r->sent++;
    if (!ok) {
        range_end(r, GRPC_STATUS_CANCELLED, NULL);
    } else if (r->next > r->to) {
        range_end(r, GRPC_STATUS_OK, NULL);
    } else if (r->pos < r->len && !rpc_stream_cancelled(r->stream)) {
        range_send_next(r);
    } else if (!compute_pool_continue(r->rpc->pool, range_step, r)) {
        range_end(r, GRPC_STATUS_UNAVAILABLE, "the server is stopping");
    }
}

/* Check the request; 0, or the status to refuse it with (message in msg). */
static grpc_status_code range_check(const fib_rpc *rpc, int from, int to,
                                    bool exact, char *msg, size_t len) {
    if (from < 0 || to < 0 || from > to) {
        snprintf(msg, len, "from and to must be non-negative with from <= to "
                 "(got from=%d to=%d)", from, to);
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    if (to > rpc->max_n) {
        snprintf(msg, len, "to must be at most %d (got %d)", rpc->max_n, to);
        return GRPC_STATUS_OUT_OF_RANGE;
    }
    long long items = (long long)to - from + 1;
    if (items > rpc->max_range) {
        snprintf(msg, len, "a range has at most %d items (got %lld: "
                 "from=%d to=%d)", rpc->max_range, items, from, to);
        return GRPC_STATUS_OUT_OF_RANGE;
    }
    if (to > FIB_SMALL_MAX && !exact) {
        snprintf(msg, len, "to too large for int64 (max %d); set exact to "
                 "read the decimal values", FIB_SMALL_MAX);
        return GRPC_STATUS_INVALID_ARGUMENT;
    }
    return GRPC_STATUS_OK;
}

void fib_range_handler(rpc_call *call, void *ud) {
    const fib_rpc *rpc = ud;
    size_t len;
    const uint8_t *data = rpc_call_payload(call, &len);
    Fibonacci__FibRangeRequest *req =
        fibonacci__fib_range_request__unpack(NULL, len, data);
    if (req == NULL) {
        rpc_call_fail(call, GRPC_STATUS_INVALID_ARGUMENT,
                      "invalid request: not a fibonacci.FibRangeRequest");
        return;
    }
    int from = req->from, to = req->to;
    bool exact = req->exact;
    fibonacci__fib_range_request__free_unpacked(req, NULL);

    char msg[256];
    grpc_status_code code = range_check(rpc, from, to, exact, msg,
                                        sizeof(msg));
    if (code != GRPC_STATUS_OK) {
        rpc_call_fail(call, code, "%s", msg);
        return;
    }
    fib_range *r = xcalloc(1, sizeof(*r));
    r->rpc = rpc;
    r->from = from;
    r->next = from;
    r->to = to;
    mpz_init(r->a);
    mpz_init(r->b);
    r->stream = rpc_stream_open(call, range_sent, r);
    r->counted = true;      /* before the first job can end it */
    if (!compute_pool_submit(rpc->pool, range_step, r)) {
        r->counted = false;
        range_end(r, GRPC_STATUS_RESOURCE_EXHAUSTED,
                  "the compute queue is full: try again later");
    }
}
