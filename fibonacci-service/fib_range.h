/* fib_range.h - the /fibonacci.Fibonacci/GetFibRange handler: F(from) ..
 * F(to) streamed one message per n, computed incrementally on the compute
 * pool, one item per pool job, the next only after the previous message
 * went out. */
#ifndef FIB_RANGE_H
#define FIB_RANGE_H

#include "fib_rpc.h"

/* rpc_handler for FIB_RANGE_METHOD; `ud` is a fib_rpc. */
void fib_range_handler(rpc_call *call, void *ud);

#endif
