/* rpc_stream.h - server-streaming calls on rpc_server: a handler turns its
 * call into a stream, then sends messages one at a time, from any thread,
 * and ends it with a status.
 *
 * At most one message is in flight: the next is sent only after the
 * callback said the previous one went out, so a client that reads slowly
 * (HTTP/2 flow control) holds back the producer instead of growing a queue.
 * The callback runs on a server thread; it must not block. A client that
 * cancels or goes away makes the message in flight fail (ok false) and
 * rpc_stream_cancelled() true at once, so a producer can stop. */
#ifndef COMMON_RPC_STREAM_H
#define COMMON_RPC_STREAM_H

#include <stdbool.h>

#include "rpc_server.h"

typedef struct rpc_stream rpc_stream;

/* The message given to rpc_stream_send() has gone out to the transport
 * (ok), or never will (!ok: the call is over). Either way the owner calls
 * rpc_stream_send() again or rpc_stream_finish(). */
typedef void (*rpc_stream_sent_fn)(rpc_stream *st, bool ok, void *ud);

/* Inside a handler: take the call as a stream. The handler returns without
 * answering; the stream must be ended with rpc_stream_finish() exactly
 * once. rpc_server_shutdown() waits for that, like for a deferred call. */
rpc_stream *rpc_stream_open(rpc_call *c, rpc_stream_sent_fn fn, void *ud);

/* The call, for its accessors (peer, request id, start time). */
rpc_call *rpc_stream_call(rpc_stream *st);

/* Send one message (packed now; the caller keeps `msg`). Only when no
 * other message is in flight. */
void rpc_stream_send(rpc_stream *st, const ProtobufCMessage *msg);

/* End the stream with a status and message (printf format), after the last
 * send's callback. The stream is freed when gRPC is done with it: do not
 * touch it after this. */
void rpc_stream_finish(rpc_stream *st, grpc_status_code code,
                       const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* True once the client cancelled, went away or the deadline passed. Any
 * thread. */
bool rpc_stream_cancelled(rpc_stream *st);

#endif
