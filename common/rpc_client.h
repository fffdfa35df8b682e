/* rpc_client.h - blocking unary gRPC calls on gRPC C core.
 *
 * For background threads and command-line tools that may wait (the
 * fibonacci-service's stats sender, fibctl, tests). Each call uses a
 * private completion queue, so any number of threads may call at once.
 * Never use this inside nginx: the module has its own non-blocking path. */
#ifndef COMMON_RPC_CLIENT_H
#define COMMON_RPC_CLIENT_H

#include <grpc/grpc.h>
#include <grpc/status.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpc_tls.h"

/* An insecure channel to a gRPC target ("host:port", "unix:/p", URIs). */
grpc_channel *rpc_client_channel(const char *target);

/* A TLS channel when `tls` is not NULL (files read with rpc_tls_load():
 * the CA verifies the server, cert/key are presented when given), the
 * server's certificate checked for `name` when not NULL, else for the
 * target's host. Plaintext when `tls` is NULL. Both kinds run with
 * RPC_LIMITS_CLIENT. NULL when the credentials cannot be made. */
grpc_channel *rpc_client_channel_tls(const char *target,
                                     const rpc_tls_pem *tls,
                                     const char *name);

typedef struct {
    grpc_status_code status;
    char            *details;    /* malloc'd status message, or NULL */
} rpc_result;

/* Call `method` with `request`; on OK, *reply holds the unpacked answer
 * (free with protobuf_c_message_free_unpacked) unless reply_desc is NULL.
 * `request_id` (may be NULL) goes out as x-request-id metadata. A reply
 * that does not unpack gives INTERNAL. Free r.details with free().
 *
 * Every call has a deadline: it fails with DEADLINE_EXCEEDED unless it
 * has finished `timeout_ns` after it starts. There is no "no deadline"
 * value: a timeout of 0 or less has passed already, and such a call fails
 * at once. */
rpc_result rpc_client_call(grpc_channel *ch, const char *method,
                           const ProtobufCMessage *request,
                           const ProtobufCMessageDescriptor *reply_desc,
                           ProtobufCMessage **reply, int64_t timeout_ns,
                           const char *request_id);

/* The same with raw bytes in and out, for tools and tests that send
 * malformed messages; `in` NULL sends no message at all (the call is
 * half-closed without a request). *out is malloc'd (free()); *out_len its
 * length. */
rpc_result rpc_client_call_raw(grpc_channel *ch, const char *method,
                               const uint8_t *in, size_t in_len,
                               uint8_t **out, size_t *out_len,
                               int64_t timeout_ns, const char *request_id);

/* Shut down, drain and destroy a call's private pluck queue. */
void rpc_client_cq_destroy(grpc_completion_queue *cq);

/* Called with each message of a server stream, contiguous; returning false
 * cancels the call. */
typedef bool (*rpc_client_msg_fn)(const uint8_t *msg, size_t len, void *ud);

/* A server-streaming call (rpc_client_stream.c): `fn` gets each message as
 * it arrives, on the calling thread; the next is read only when it
 * returns, so a slow `fn` is a slow reader (gRPC flow control holds the
 * server back). Returns the stream's status; CANCELLED when `fn` said stop. */
rpc_result rpc_client_stream(grpc_channel *ch, const char *method,
                             const ProtobufCMessage *request,
                             rpc_client_msg_fn fn, void *ud,
                             int64_t timeout_ns, const char *request_id);

#endif
