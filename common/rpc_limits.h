/* rpc_limits.h - the limits every gRPC server and channel of the project
 * runs with: message sizes in both directions, concurrent streams per
 * connection and the keepalive policy, as gRPC channel arguments.
 *
 * Defaults (RPC_LIMITS_SERVER / RPC_LIMITS_CLIENT) are documented in the
 * README's "Limits" table; the daemons take --max-request, --max-reply and
 * --max-streams over them. A message over a limit fails the call with
 * RESOURCE_EXHAUSTED. */
#ifndef COMMON_RPC_LIMITS_H
#define COMMON_RPC_LIMITS_H

#include <grpc/grpc.h>
#include <stddef.h>

typedef struct {
    long long max_recv;         /* bytes of one received message */
    long long max_send;         /* bytes of one sent message */
    long long max_streams;      /* concurrent calls per connection (server) */
    long long keepalive_ms;     /* ping after this long without traffic */
    long long keepalive_timeout_ms;   /* drop the connection when a ping
                                         goes unanswered this long */
    long long min_ping_ms;      /* server: refuse peers pinging more often */
} rpc_limits;

/* Requests are small (a RecordBatch of 1000 records is 15 kB); replies can
 * be large (F(10^6) is 209 kB, GetStats grows with the distinct n). */
#define RPC_LIMITS_SERVER {                                              \
    .max_recv = 4LL << 20, .max_send = 64LL << 20, .max_streams = 256,   \
    .keepalive_ms = 60000, .keepalive_timeout_ms = 20000,                \
    .min_ping_ms = 10000 }
#define RPC_LIMITS_CLIENT {                                              \
    .max_recv = 64LL << 20, .max_send = 4LL << 20, .max_streams = 0,     \
    .keepalive_ms = 30000, .keepalive_timeout_ms = 10000,                \
    .min_ping_ms = 0 }

#define RPC_LIMITS_NARGS 8

/* Fill args[] (at least RPC_LIMITS_NARGS) with the limits; returns how many
 * were written. Zero fields are left to gRPC's defaults. */
size_t rpc_limits_args(const rpc_limits *l, grpc_arg *args);

#endif
