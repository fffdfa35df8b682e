/* fib_rpc.h - the /fibonacci.Fibonacci/GetFib handler: parses the request,
 * answers from the int64 table or the cache at once, or from the compute
 * pool when F(n) must be computed; logs at debug and queues a stats record
 * for every OK answer. The fib_rpc settings are shared by GetFibRange
 * (fib_range.h) and GetFibBatch (fib_batch.h). */
#ifndef FIB_RPC_H
#define FIB_RPC_H

#include "compute_pool.h"
#include "fib_cache.h"
#include "rpc_server.h"
#include "stats_queue.h"

#define FIB_METHOD  "/fibonacci.Fibonacci/GetFib"
#define FIB_SERVICE "fibonacci.Fibonacci"
#define FIB_RANGE_METHOD "/fibonacci.Fibonacci/GetFibRange"
#define FIB_BATCH_METHOD "/fibonacci.Fibonacci/GetFibBatch"

typedef struct {
    fib_cache    *cache;
    stats_queue  *stats;         /* NULL: stats reporting is off */
    int           max_n;         /* largest n answered */
    compute_pool *pool;          /* computes F(n) off the server threads */
    size_t        compute_queue; /* the pool's queue size, for messages */
    int           max_range;     /* items of one GetFibRange */
    int           max_batch;     /* n of one GetFibBatch */
    long long     max_reply;     /* bytes of one reply message */
} fib_rpc;

/* rpc_handler for FIB_METHOD; `ud` is a fib_rpc. */
void fib_rpc_getfib(rpc_call *call, void *ud);

#endif
