/* rpc_metrics.h - the gRPC server's Prometheus metrics, kept for every
 * call by rpc_server.c and rpc_call.c (no handler does anything):
 *
 *   grpc_server_started_total{grpc_type,grpc_service,grpc_method}
 *   grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
 *   grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method}
 *   grpc_server_msg_sent_total{grpc_type,grpc_service,grpc_method}
 *
 * grpc_type is "unary" or "server_stream" (health Watch, GetFibRange), and
 * a stream is handled when its status goes out; grpc_code is the
 * status name as gRPC spells it ("OK", "INVALID_ARGUMENT"). Calls to
 * methods the server does not have count as service and method "unknown",
 * so a client cannot make up label values. */
#ifndef COMMON_RPC_METRICS_H
#define COMMON_RPC_METRICS_H

#include <grpc/status.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct rpc_metrics rpc_metrics;

/* The series of one method ("/pkg.Service/Method"; NULL: unknown). */
rpc_metrics *rpc_metrics_create(const char *full_method, bool streaming);
void rpc_metrics_free(rpc_metrics *m);

void rpc_metrics_started(rpc_metrics *m);
/* The call ended with `code`; it started at monotonic `start_ns`. */
void rpc_metrics_handled(rpc_metrics *m, grpc_status_code code,
                         int64_t start_ns);
/* A response message went out. */
void rpc_metrics_msg_sent(rpc_metrics *m);

#endif
