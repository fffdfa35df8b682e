/* rpc_limits.c - the project's limits as gRPC channel arguments. */
#include "rpc_limits.h"

#include <limits.h>

static size_t put(grpc_arg *args, size_t n, const char *key, long long v) {
    if (v <= 0) return n;
    args[n].type = GRPC_ARG_INTEGER;
    args[n].key = (char *)key;
    args[n].value.integer = v > INT_MAX ? INT_MAX : (int)v;
    return n + 1;
}

size_t rpc_limits_args(const rpc_limits *l, grpc_arg *args) {
    size_t n = 0;

    n = put(args, n, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, l->max_recv);
    n = put(args, n, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, l->max_send);
    n = put(args, n, GRPC_ARG_MAX_CONCURRENT_STREAMS, l->max_streams);
    n = put(args, n, GRPC_ARG_KEEPALIVE_TIME_MS, l->keepalive_ms);
    n = put(args, n, GRPC_ARG_KEEPALIVE_TIMEOUT_MS, l->keepalive_timeout_ms);
    if (l->min_ping_ms > 0) {
        /* idle clients may ping, but not more often than this */
        n = put(args, n, GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
        n = put(args, n, GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                l->min_ping_ms);
    }
    return n;
}
