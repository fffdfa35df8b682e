/* rpc_stream.c - server-streaming calls: a deferred call whose batches
 * complete on its worker's queue under TAG_STREAM tags.
 *
 * Three kinds of batch hold a reference on the stream: RECV_CLOSE_ON_SERVER
 * (posted at open, completes when the call is over: cancelled, or after the
 * status went out), the one message in flight, and the final status. The
 * stream and its call are freed when the last of them completes. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "rpc_internal.h"
#include "rpc_stream.h"

struct rpc_stream {
    rpc_stream_tag     send_tag;
    rpc_stream_tag     close_tag;
    rpc_stream_tag     finish_tag;
    rpc_call          *call;        /* detached by rpc_call_defer() */
    rpc_stream_sent_fn fn;
    void              *ud;
    atomic_bool        closed;      /* the call is over for the client */
    pthread_mutex_t    lock;        /* guards refs */
    int                refs;
    bool               metadata_sent;
    int                cancelled;   /* RECV_CLOSE_ON_SERVER's answer */
    grpc_byte_buffer  *msg;         /* the message in flight */
    grpc_slice         details;
};

static void stream_unref(rpc_stream *st) {
    pthread_mutex_lock(&st->lock);
    int left = --st->refs;
    pthread_mutex_unlock(&st->lock);
    if (left > 0) return;
    rpc_call *c = st->call;
    grpc_slice_unref(st->details);
    pthread_mutex_destroy(&st->lock);
    free(st);
    rpc_call_release(c);
    rpc_call_detached_done(c);
}

/* Start a batch holding a reference; false (and no reference) if gRPC
 * refused it. */
static bool stream_start(rpc_stream *st, grpc_op *ops, size_t n,
                         rpc_stream_tag *tag) {
    pthread_mutex_lock(&st->lock);
    st->refs++;
    pthread_mutex_unlock(&st->lock);
    grpc_call_error err = grpc_call_start_batch(st->call->call, ops, n, tag,
                                                NULL);
    if (err == GRPC_CALL_OK) return true;
    log_msg(LOG_ERROR, "rpc_batch_failed", "%s: grpc_call_start_batch: %d",
            st->call->method_name, (int)err);
    return false;
}

rpc_stream *rpc_stream_open(rpc_call *c, rpc_stream_sent_fn fn, void *ud) {
    rpc_stream *st = xcalloc(1, sizeof(*st));
    st->send_tag = (rpc_stream_tag){TAG_STREAM, st};
    st->close_tag = (rpc_stream_tag){TAG_STREAM, st};
    st->finish_tag = (rpc_stream_tag){TAG_STREAM, st};
    st->call = rpc_call_defer(c);
    st->call->answered = true;      /* only rpc_stream_finish() answers */
    st->fn = fn;
    st->ud = ud;
    st->details = grpc_empty_slice();
    atomic_init(&st->closed, false);
    pthread_mutex_init(&st->lock, NULL);
    st->refs = 1;                   /* the owner's, until finish */

    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &st->cancelled;
    if (!stream_start(st, &op, 1, &st->close_tag)) {
        atomic_store(&st->closed, true);
        stream_unref(st);           /* the close's, never to come */
    }
    return st;
}

rpc_call *rpc_stream_call(rpc_stream *st) {
    return st->call;
}

bool rpc_stream_cancelled(rpc_stream *st) {
    return atomic_load(&st->closed);
}

void rpc_stream_send(rpc_stream *st, const ProtobufCMessage *msg) {
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    st->msg = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);

    grpc_op ops[2];
    size_t k = 0;
    memset(ops, 0, sizeof(ops));
    if (!st->metadata_sent) ops[k++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[k].op = GRPC_OP_SEND_MESSAGE;
    ops[k++].data.send_message.send_message = st->msg;
    st->metadata_sent = true;
    if (!stream_start(st, ops, k, &st->send_tag)) {
        stream_unref(st);
        /* as if it had failed on the wire: the owner finishes */
        grpc_byte_buffer_destroy(st->msg);
        st->msg = NULL;
        atomic_store(&st->closed, true);
        st->fn(st, false, st->ud);
    }
}

void rpc_stream_finish(rpc_stream *st, grpc_status_code code,
                       const char *fmt, ...) {
    char text[512] = "";
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(text, sizeof(text), fmt, ap);
        va_end(ap);
    }
    st->details = text[0] ? grpc_slice_from_copied_string(text)
                          : grpc_empty_slice();
    grpc_op ops[2];
    size_t k = 0;
    memset(ops, 0, sizeof(ops));
    if (!st->metadata_sent) ops[k++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[k].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[k].data.send_status_from_server.status = code;
    ops[k++].data.send_status_from_server.status_details = &st->details;
    st->metadata_sent = true;
    rpc_metrics_handled(st->call->metrics, code, st->call->start_ns);
    if (!stream_start(st, ops, k, &st->finish_tag)) stream_unref(st);
    stream_unref(st);               /* the owner's */
}

void rpc_stream_event(rpc_stream_tag *tag, bool ok) {
    rpc_stream *st = tag->stream;
    if (tag == &st->close_tag) {
        atomic_store(&st->closed, true);
    } else if (tag == &st->send_tag) {
        grpc_byte_buffer_destroy(st->msg);
        st->msg = NULL;
        if (ok) rpc_metrics_msg_sent(st->call->metrics);
        else atomic_store(&st->closed, true);
        st->fn(st, ok, st->ud);
    }
    stream_unref(st);
}
