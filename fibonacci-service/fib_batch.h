/* fib_batch.h - the /fibonacci.Fibonacci/GetFibBatch handler: F(n) for
 * every n of the request, in its order, in one reply. */
#ifndef FIB_BATCH_H
#define FIB_BATCH_H

#include "fib_rpc.h"

/* rpc_handler for FIB_BATCH_METHOD; `ud` is a fib_rpc. */
void fib_batch_handler(rpc_call *call, void *ud);

#endif
