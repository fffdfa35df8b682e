/* rpc_server.h - a multi-threaded unary gRPC server on gRPC C core.
 *
 * Each of `threads` threads owns a completion queue and keeps a request
 * posted for every registered method on it, so calls are served on all
 * cores without locks in the server itself. Methods are registered with
 * GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER: the request message arrives
 * with the call, and one batch sends metadata, message and status. A call to
 * an unregistered method is answered UNIMPLEMENTED.
 *
 * Every server also answers grpc.health.v1.Health: Check and the streaming
 * Watch, SERVING while running, NOT_SERVING after rpc_server_set_serving(s,
 * false) or once shutdown has begun; the service name "" or one passed to
 * rpc_server_add_service() is known. Check answers NOT_FOUND for any other,
 * Watch streams SERVICE_UNKNOWN. Watch streams learn every change at once
 * and are ended with UNAVAILABLE when the server stops accepting calls.
 *
 * Handlers run synchronously on a server thread and must either finish the
 * call with exactly one rpc_call_reply() or rpc_call_fail() before
 * returning, or hand it off with rpc_call_defer() and finish it later,
 * from any thread, so that slow work never holds a server thread. */
#ifndef COMMON_RPC_SERVER_H
#define COMMON_RPC_SERVER_H

#include <grpc/grpc.h>
#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "rpc_limits.h"
#include "rpc_status.h"
#include "rpc_tls.h"

typedef struct rpc_server rpc_server;
typedef struct rpc_call rpc_call;

typedef void (*rpc_handler)(rpc_call *call, void *ud);

/* grpc_init() must have been called. `listen` is a gRPC address such as
 * "127.0.0.1:5001", "[::]:0" or "unix:/path". */
rpc_server *rpc_server_create(const char *listen, int threads);

/* Full method name, e.g. "/fibonacci.Fibonacci/GetFib". Before start. */
void rpc_server_add_method(rpc_server *s, const char *method,
                           rpc_handler fn, void *ud);

/* The same for a server-streaming method (its handler takes the call with
 * rpc_stream_open()); its metrics say grpc_type="server_stream". */
void rpc_server_add_stream_method(rpc_server *s, const char *method,
                                  rpc_handler fn, void *ud);

/* A service name the health check knows, e.g. "fibonacci.Fibonacci". */
void rpc_server_add_service(rpc_server *s, const char *service);

/* Serve TLS with the files' certificate and key; with a CA, every client
 * must present a certificate that CA verifies. The files are read and
 * checked now (-1 after logging what is wrong). Later, each new connection
 * first looks whether the files were replaced (or rpc_server_reload_tls()
 * was called) and if so reads them again: new connections get the new
 * certificates, connections already open keep theirs. Each reload is
 * logged; files that do not load are logged and the old ones kept. Before
 * start. */
int rpc_server_set_tls(rpc_server *s, const rpc_tls_files *files);

/* Read the TLS files again for the next connection, even if they look
 * unchanged (SIGHUP). Any time; a no-op without TLS. */
void rpc_server_reload_tls(rpc_server *s);

/* Message sizes, concurrent streams and keepalive (rpc_limits.h); the
 * default is RPC_LIMITS_SERVER. Before start. */
void rpc_server_set_limits(rpc_server *s, const rpc_limits *limits);

/* Bind and start the threads. Returns 0, or -1 after logging why. */
int rpc_server_start(rpc_server *s);

/* Health only: report NOT_SERVING (false) or SERVING (true) while still
 * accepting calls, e.g. to let load balancers move away before
 * rpc_server_shutdown(). Any time after create. */
void rpc_server_set_serving(rpc_server *s, bool serving);

/* The port actually bound (useful with port 0). */
int rpc_server_port(const rpc_server *s);

/* Graceful stop: health turns NOT_SERVING, no new calls are accepted, calls
 * in flight may finish until `timeout_ns` has passed, then the rest are
 * cancelled; returns when every thread has exited. */
void rpc_server_shutdown(rpc_server *s, int64_t timeout_ns);

void rpc_server_destroy(rpc_server *s);

/* --- inside a handler --- */

/* The request message, contiguous (empty for a zero-length message). */
const uint8_t *rpc_call_payload(rpc_call *c, size_t *len);
const char *rpc_call_method(const rpc_call *c);
/* The caller's address as gRPC reports it, e.g. "ipv4:127.0.0.1:40000". */
const char *rpc_call_peer(rpc_call *c);
/* The x-request-id metadata the caller sent, or NULL. */
const char *rpc_call_request_id(const rpc_call *c);
/* From the W3C traceparent metadata the caller sent: the trace id (32 hex
 * digits) and the caller's span id of this call (16), or NULL when it sent
 * none that parses. */
const char *rpc_call_trace_id(const rpc_call *c);
const char *rpc_call_span_id(const rpc_call *c);
/* Add request_id, trace_id and span_id to a log line about the call. */
void rpc_call_log_ids(log_line *l, const rpc_call *c);
/* The names the caller's verified client certificate carries: its DNS
 * subject alternative names, then its common name. Returns how many (up to
 * `max`) were put in names[]; they live as long as the call. 0 when the
 * caller is not authenticated (plaintext, or no client certificate). */
size_t rpc_call_peer_names(rpc_call *c, const char **names, size_t max);

/* Monotonic time (ns) at which the call arrived. */
int64_t rpc_call_start_ns(const rpc_call *c);

/* Answer OK with `reply` (packed here; the caller still owns it). */
void rpc_call_reply(rpc_call *c, const ProtobufCMessage *reply);

/* Answer OK with a message packed already, e.g. one answer cached and sent
 * to many callers: the call takes its own reference to `packed`, the caller
 * keeps (and eventually unrefs) its own. */
void rpc_call_reply_packed(rpc_call *c, grpc_slice packed);

/* Answer with a non-OK status and a message (printf format). */
void rpc_call_fail(rpc_call *c, grpc_status_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Inside a handler: take the call out of the server thread's hands. The
 * handler returns without answering, and the call returned here (the
 * accessors above work on it) must be answered exactly once later, from
 * any thread, with rpc_call_reply*() or rpc_call_fail(); it is freed when
 * that answer has gone out. The server thread at once takes new calls.
 * rpc_server_shutdown() waits for every deferred call to be answered. */
rpc_call *rpc_call_defer(rpc_call *c);

#endif
