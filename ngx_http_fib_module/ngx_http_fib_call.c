
/*
 * ngx_http_fib_call.c - the life of one gRPC call made for a request: one
 * batch per attempt, transient failures retried after a backoff timer, the
 * fib_timeout deadline timer, and cancellation when the request goes away.
 * A server stream (ctx->stream) reads one message per batch, when its
 * reader asks (ngx_http_fib_call_read()), then its status; a transient
 * failure resumes it with ctx->stream_req, which its reader keeps current.
 */


#include "ngx_http_fib_module.h"

#include "../common/backoff.h"
#include "../common/rpc_bytes.h"


static ngx_int_t ngx_http_fib_call_start(ngx_http_fib_ctx_t *ctx);
static ngx_int_t ngx_http_fib_call_status(ngx_http_fib_ctx_t *ctx);
static ngx_int_t ngx_http_fib_call_op(ngx_http_fib_ctx_t *ctx, grpc_op *op);
static void ngx_http_fib_call_deadline(ngx_http_fib_ctx_t *ctx);
static ngx_int_t ngx_http_fib_call_alloc(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, const ProtobufCMessage *msg);
static void ngx_http_fib_call_release(ngx_http_fib_call_t *call);
static void ngx_http_fib_call_free(ngx_http_fib_call_t *call);
static ngx_int_t ngx_http_fib_call_message(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_http_fib_call_t *call);
static ngx_int_t ngx_http_fib_call_reply(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, grpc_byte_buffer *bb);
static ngx_int_t ngx_http_fib_call_retry(ngx_http_fib_ctx_t *ctx,
    grpc_status_code status);
static ngx_int_t ngx_http_fib_call_failed(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, grpc_status_code status, ngx_str_t *details);
static void ngx_http_fib_call_finish(ngx_http_fib_ctx_t *ctx);
static void ngx_http_fib_retry_handler(ngx_event_t *ev);
static void ngx_http_fib_deadline_handler(ngx_event_t *ev);
static void ngx_http_fib_cleanup(void *data);
static void ngx_http_fib_reply_pool_cleanup(void *data);
static void *ngx_http_fib_pb_alloc(void *data, size_t size);
static void ngx_http_fib_pb_free(void *data, void *p);


/* every call allocated and not yet freed, for exit_process */
static ngx_queue_t  ngx_http_fib_calls = {
    &ngx_http_fib_calls, &ngx_http_fib_calls
};

static uint64_t  ngx_http_fib_rng;

static const char  *ngx_http_fib_method_names[NGX_HTTP_FIB_NMETHODS] = {
    "GetFib",
    "GetStats",
    "Query",
    "GetFibBatch",
    "GetFibRange"
};


ngx_int_t
ngx_http_fib_call_begin(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    const ProtobufCMessage *msg, const ProtobufCMessageDescriptor *reply_type,
    ngx_http_fib_reply_pt reply)
{
    ngx_http_cleanup_t       *cln;
    ngx_http_fib_loc_conf_t  *flcf;

    flcf = ctx->conf;

    if (flcf->channel == NULL) {

        /* the module appeared in a configuration re-read by a single process */

        if (ngx_http_fib_grpc_init(r->connection->log, ngx_http_fib_call_done)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        flcf->channel = ngx_http_fib_channel_get(&flcf->target, &flcf->ssl,
                                                 r->connection->log);
        if (flcf->channel == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_fib_call_alloc(r, ctx, msg) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_fib_cleanup;
    cln->data = ctx;

    ctx->reply = reply;
    ctx->reply_type = reply_type;
    ctx->start = ngx_current_msec;
    ctx->deadline = ctx->start + flcf->timeout;

    if (ctx->stream) {
        ctx->stream_deadline = ctx->start + flcf->stream_timeout;

        if ((ngx_msec_int_t) (ctx->stream_deadline - ctx->deadline) < 0) {
            ctx->deadline = ctx->stream_deadline;
        }
    }

    /* not cancelable: a graceful shutdown waits for the request */

    ctx->deadline_ev.handler = ngx_http_fib_deadline_handler;
    ctx->deadline_ev.data = ctx;
    ctx->deadline_ev.log = r->connection->log;

    ctx->retry_ev.handler = ngx_http_fib_retry_handler;
    ctx->retry_ev.data = ctx;
    ctx->retry_ev.log = r->connection->log;

    if (ngx_http_fib_call_start(ctx) != NGX_OK) {
        ngx_http_fib_call_finish(ctx);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_add_timer(&ctx->deadline_ev, ctx->deadline - ctx->start);

    r->main->count++;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


/*
 * The next call of a request that makes several (a paged answer), from a
 * reply or fallback callback (which then returns NGX_AGAIN) or after a
 * pause: attempts, retries and fib_timeout start again for it.
 */

ngx_int_t
ngx_http_fib_call_next(ngx_http_fib_ctx_t *ctx, ngx_uint_t method,
    const ProtobufCMessage *msg, const ProtobufCMessageDescriptor *reply_type,
    ngx_http_fib_reply_pt reply)
{
    ngx_http_request_t  *r;

    r = ctx->request;

    ngx_http_fib_call_finish(ctx);

    if (ngx_http_fib_call_alloc(r, ctx, msg) != NGX_OK) {
        return NGX_ERROR;
    }

    ctx->method = method;
    ctx->reply = reply;
    ctx->reply_type = reply_type;
    ctx->attempts = 0;
    ctx->timed_out = 0;
    ctx->start = ngx_current_msec;
    ctx->deadline = ctx->start + ctx->conf->timeout;

    if (ngx_http_fib_call_start(ctx) != NGX_OK) {
        ngx_http_fib_call_finish(ctx);
        return NGX_ERROR;
    }

    ngx_add_timer(&ctx->deadline_ev, ctx->conf->timeout);

    return NGX_OK;
}


/*
 * Between two calls, while the client takes what was sent: no call and no
 * fib_timeout (send_timeout is the client's).
 */

void
ngx_http_fib_call_pause(ngx_http_fib_ctx_t *ctx)
{
    ngx_http_fib_call_finish(ctx);
}


/*
 * A pool of its own for the replies of a request that makes many calls or
 * reads a stream: the handler resets it once a reply is formatted.
 */

ngx_int_t
ngx_http_fib_reply_pool(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    ngx_pool_cleanup_t  *cln;

    ctx->reply_pool = ngx_create_pool(NGX_DEFAULT_POOL_SIZE,
                                      r->connection->log);
    if (ctx->reply_pool == NULL) {
        return NGX_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_destroy_pool(ctx->reply_pool);
        ctx->reply_pool = NULL;
        return NGX_ERROR;
    }

    cln->handler = ngx_http_fib_reply_pool_cleanup;
    cln->data = ctx->reply_pool;

    return NGX_OK;
}


static void
ngx_http_fib_reply_pool_cleanup(void *data)
{
    ngx_destroy_pool(data);
}


/*
 * The client has not taken all that was sent: its write event calls
 * r->write_event_handler once it can take more, or after send_timeout.
 */

ngx_int_t
ngx_http_fib_client_wait(ngx_http_request_t *r)
{
    ngx_event_t               *wev;
    ngx_http_core_loc_conf_t  *clcf;

    wev = r->connection->write;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (!wev->delayed && !wev->timer_set) {
        ngx_add_timer(wev, clcf->send_timeout);
    }

    return ngx_handle_write_event(wev, clcf->send_lowat);
}


/*
 * In such a write event handler: the request ended if send_timeout passed
 * (NGX_OK), else the timer stopped (NGX_DECLINED).
 */

ngx_int_t
ngx_http_fib_client_timedout(ngx_http_fib_ctx_t *ctx, char *what)
{
    ngx_event_t       *wev;
    ngx_connection_t  *c;

    c = ctx->request->connection;
    wev = c->write;

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_INFO, c->log, NGX_ETIMEDOUT,
                      "fib: client timed out taking %s", what);
        c->timedout = 1;
        ngx_http_fib_call_end(ctx, NGX_ERROR);
        return NGX_OK;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_fib_call_alloc(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    const ProtobufCMessage *msg)
{
    u_char               *p;
    size_t                len;
    ngx_str_t             id;
    ngx_http_fib_call_t  *call;

    if (ngx_http_fib_trace_init(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    id = ctx->request_id;

    len = protobuf_c_message_get_packed_size(msg);

    call = ngx_alloc(sizeof(ngx_http_fib_call_t) + len + id.len
                     + ctx->tracestate.len, r->connection->log);
    if (call == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(call, sizeof(ngx_http_fib_call_t));

    call->msg_len = protobuf_c_message_pack(msg, call->data);

    call->id_len = id.len;

    p = ngx_cpymem(call->data + call->msg_len, id.data, id.len);
    ngx_memcpy(p, ctx->tracestate.data, ctx->tracestate.len);

    /* the traceparent buffer is written anew for each attempt */

    if (id.len) {
        call->md[call->nmd].key =
            grpc_slice_from_static_string("x-request-id");
        call->md[call->nmd++].value =
            grpc_slice_from_static_buffer(call->data + call->msg_len, id.len);
    }

    call->md[call->nmd].key = grpc_slice_from_static_string("traceparent");
    call->md[call->nmd++].value =
        grpc_slice_from_static_buffer(call->traceparent,
                                      NGX_HTTP_FIB_TRACEPARENT_LEN);

    if (ctx->tracestate.len) {
        call->md[call->nmd].key = grpc_slice_from_static_string("tracestate");
        call->md[call->nmd++].value =
            grpc_slice_from_static_buffer(p, ctx->tracestate.len);
    }
    call->details = grpc_empty_slice();

    call->ctx = ctx;
    ctx->call = call;

    ngx_queue_insert_tail(&ngx_http_fib_calls, &call->queue);

    return NGX_OK;
}


static ngx_int_t
ngx_http_fib_call_start(ngx_http_fib_ctx_t *ctx)
{
    grpc_op               ops[6], *op;
    grpc_slice            slice;
    ngx_msec_int_t        left;
    grpc_call_error       err;
    ngx_http_request_t   *r;
    ngx_http_fib_call_t  *call;

    r = ctx->request;
    call = ctx->call;

    left = (ngx_msec_int_t) (ctx->deadline - ngx_current_msec);

    if (ctx->stream) {
        /*
         * gRPC's deadline is the whole stream's, a second after ours:
         * fib_timeout and fib_stream_timeout are the module's timers
         */
        left = (ngx_msec_int_t) (ctx->stream_deadline - ngx_current_msec)
               + 1000;
    }

    if (left <= 0) {
        left = 1;
    }

    call->call = ngx_http_fib_channel_call(ctx->conf->channel, ctx->method,
                                           left);
    if (call->call == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "fib: grpc_channel_create_registered_call() failed");
        return NGX_ERROR;
    }

    slice = grpc_slice_from_static_buffer(call->data, call->msg_len);
    call->send = grpc_raw_byte_buffer_create(&slice, 1);

    ngx_memzero(ops, sizeof(ops));
    op = ops;

    ngx_http_fib_trace_attempt(ctx, call->traceparent);

    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    op->data.send_initial_metadata.count = call->nmd;
    op->data.send_initial_metadata.metadata = call->md;
    op++;

    op->op = GRPC_OP_SEND_MESSAGE;
    op->data.send_message.send_message = call->send;
    op++;

    op->op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    op++;

    op->op = GRPC_OP_RECV_INITIAL_METADATA;
    op->data.recv_initial_metadata.recv_initial_metadata = &call->initial_md;
    op++;

    op->op = GRPC_OP_RECV_MESSAGE;
    op->data.recv_message.recv_message = &call->recv;
    op++;

    if (ctx->stream) {
        /* the first message; the status once there are no more */
        call->reading = 1;

    } else {
        op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
        op->data.recv_status_on_client.trailing_metadata = &call->trailing_md;
        op->data.recv_status_on_client.status = &call->status;
        op->data.recv_status_on_client.status_details = &call->details;
        op++;
    }

    err = grpc_call_start_batch(call->call, ops, op - ops, &call->tag, NULL);

    if (err != GRPC_CALL_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "fib: grpc_call_start_batch() failed: %d", (int) err);
        ngx_http_fib_call_release(call);
        return NGX_ERROR;
    }

    call->pending = 1;
    ctx->attempts++;

    ngx_http_fib_metrics_attempt(ctx);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: call %p attempt %ui, %M ms left",
                   call, ctx->attempts, (ngx_msec_t) left);

    return NGX_OK;
}


/*
 * The next message of a stream, once its reader has room for it: within
 * fib_timeout (and what is left of fib_stream_timeout).  Nothing to do
 * while a message or the status is awaited, or a retry.
 */

ngx_int_t
ngx_http_fib_call_read(ngx_http_fib_ctx_t *ctx)
{
    grpc_op               op;
    ngx_http_fib_call_t  *call;

    call = ctx->call;

    if (call == NULL || call->call == NULL || !call->reading
        || call->pending)
    {
        return NGX_OK;
    }

    ngx_memzero(&op, sizeof(grpc_op));

    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &call->recv;

    if (ngx_http_fib_call_op(ctx, &op) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_fib_call_deadline(ctx);

    return NGX_OK;
}


/* a stream's messages ended, or it failed: how */

static ngx_int_t
ngx_http_fib_call_status(ngx_http_fib_ctx_t *ctx)
{
    grpc_op               op;
    ngx_http_fib_call_t  *call;

    call = ctx->call;
    call->reading = 0;

    ngx_memzero(&op, sizeof(grpc_op));

    op.op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op.data.recv_status_on_client.trailing_metadata = &call->trailing_md;
    op.data.recv_status_on_client.status = &call->status;
    op.data.recv_status_on_client.status_details = &call->details;

    return ngx_http_fib_call_op(ctx, &op);
}


/* one more operation on a stream's call, as a batch of its own */

static ngx_int_t
ngx_http_fib_call_op(ngx_http_fib_ctx_t *ctx, grpc_op *op)
{
    grpc_call_error       err;
    ngx_http_fib_call_t  *call;

    call = ctx->call;

    err = grpc_call_start_batch(call->call, op, 1, &call->tag, NULL);

    if (err != GRPC_CALL_OK) {
        ngx_log_error(NGX_LOG_ALERT, ctx->request->connection->log, 0,
                      "fib: grpc_call_start_batch() failed: %d", (int) err);
        return NGX_ERROR;
    }

    call->pending = 1;

    return NGX_OK;
}


/* fib_timeout for the next message, never past fib_stream_timeout */

static void
ngx_http_fib_call_deadline(ngx_http_fib_ctx_t *ctx)
{
    ngx_msec_int_t  left;

    ctx->deadline = ngx_current_msec + ctx->conf->timeout;

    if ((ngx_msec_int_t) (ctx->stream_deadline - ctx->deadline) < 0) {
        ctx->deadline = ctx->stream_deadline;
    }

    left = (ngx_msec_int_t) (ctx->deadline - ngx_current_msec);

    ngx_add_timer(&ctx->deadline_ev, left > 0 ? (ngx_msec_t) left : 1);
}


/*
 * The runtime's callback: a completion taken from the queue by the event
 * loop, or, at exit_process, one that completed while gRPC shut down.
 */

void
ngx_http_fib_call_done(ngx_http_fib_tag_t *tag)
{
    ngx_int_t             rc;
    ngx_str_t             details;
    grpc_status_code      status;
    ngx_http_request_t   *r;
    ngx_http_fib_ctx_t   *ctx;
    ngx_http_fib_call_t  *call;

    call = (ngx_http_fib_call_t *)
               ((u_char *) tag - offsetof(ngx_http_fib_call_t, tag));

    call->pending = 0;
    ctx = call->ctx;

    if (ctx == NULL) {
        /* the request went away, or the process exits, and cancelled it */
        ngx_http_fib_call_free(call);
        return;
    }

    r = ctx->request;

    ngx_http_set_log_request(r->connection->log, r);

    if (call->reading) {
        if (ngx_http_fib_call_message(r, ctx, call) == NGX_OK) {
            return;
        }

        status = GRPC_STATUS_INTERNAL;
        ngx_str_set(&details, "cannot read the stream's status");

        ngx_http_fib_call_end(ctx, ngx_http_fib_call_failed(r, ctx, status,
                                                            &details));
        return;
    }

    status = tag->success ? call->status : GRPC_STATUS_INTERNAL;

    ctx->status = status;
    ctx->has_status = 1;
    ctx->upstream_time = ngx_current_msec - ctx->start;

    ngx_http_fib_metrics_attempt_done(ctx, status);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "fib: call %p done, attempt %ui, status %s",
                   call, ctx->attempts, rpc_status_name(status));

    if (status == GRPC_STATUS_OK && ctx->stream) {
        /* the end of the stream */
        rc = ctx->reply(r, ctx, NULL);

    } else if (status == GRPC_STATUS_OK && call->recv) {
        rc = ngx_http_fib_call_reply(r, ctx, call->recv);

        if (rc == NGX_AGAIN) {
            /* the reply went on with another call, or waits for the client */
            return;
        }

    } else if (ngx_http_fib_call_retry(ctx, status) == NGX_OK) {
        return;

    } else if (status == GRPC_STATUS_UNIMPLEMENTED && ctx->fallback) {
        rc = ctx->fallback(r, ctx);
        ctx->fallback = NULL;

        if (rc == NGX_AGAIN) {
            return;
        }

    } else {
        details.len = GRPC_SLICE_LENGTH(call->details);
        details.data = GRPC_SLICE_START_PTR(call->details);

        if (status == GRPC_STATUS_OK) {
            status = GRPC_STATUS_INTERNAL;
            ngx_str_set(&details, "no reply message");
        }

        rc = ngx_http_fib_call_failed(r, ctx, status, &details);
    }

    ngx_http_fib_call_end(ctx, rc);
}


/*
 * A message of a stream to its reader, which asks for the next one itself
 * (NGX_AGAIN), or, when none came, the status; NGX_ERROR if that cannot be
 * asked for.
 */

static ngx_int_t
ngx_http_fib_call_message(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_http_fib_call_t *call)
{
    ngx_int_t          rc;
    grpc_byte_buffer  *bb;

    if (call->recv == NULL) {
        return ngx_http_fib_call_status(ctx);
    }

    bb = call->recv;
    call->recv = NULL;

    ctx->upstream_time = ngx_current_msec - ctx->start;

    /* progress: fib_retries counts the failures since the last message */
    ctx->attempts = 1;

    rc = ngx_http_fib_call_reply(r, ctx, bb);

    grpc_byte_buffer_destroy(bb);

    if (rc != NGX_AGAIN) {
        ngx_http_fib_call_end(ctx, rc);
        return NGX_OK;
    }

    if (ctx->call && !ctx->call->pending && ctx->deadline_ev.timer_set) {
        /* the reader waits for its client: no fib_timeout meanwhile */
        ngx_del_timer(&ctx->deadline_ev);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_fib_call_reply(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    grpc_byte_buffer *bb)
{
    ngx_str_t                err;
    grpc_slice               slice;
    ProtobufCMessage        *msg;
    ProtobufCAllocator       allocator;

    if (!rpc_bytes_flatten(bb, &slice)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fib: cannot read the reply message");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    allocator.alloc = ngx_http_fib_pb_alloc;
    allocator.free = ngx_http_fib_pb_free;
    allocator.allocator_data = ctx->reply_pool ? ctx->reply_pool : r->pool;

    msg = protobuf_c_message_unpack(ctx->reply_type, &allocator,
                                    GRPC_SLICE_LENGTH(slice),
                                    GRPC_SLICE_START_PTR(slice));

    if (msg == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fib: %s sent a reply that does not parse as %s "
                      "(%uz bytes)",
                      ngx_http_fib_method_names[ctx->method],
                      ctx->reply_type->short_name, GRPC_SLICE_LENGTH(slice));

        grpc_slice_unref(slice);

        if (r->header_sent) {
            /* the answer is cut short: the client sees it unfinished */
            return NGX_ERROR;
        }

        if (ctx->method != NGX_HTTP_FIB_GET_STATS
            && ctx->method != NGX_HTTP_FIB_QUERY_STATS)
        {
            ngx_str_set(&err, "unparseable reply from the Fibonacci service");

        } else {
            ngx_str_set(&err, "unparseable reply from the Stats service");
        }

        return ngx_http_fib_send_error(r, NGX_HTTP_BAD_GATEWAY,
                                       GRPC_STATUS_INTERNAL, &err);
    }

    grpc_slice_unref(slice);

    ngx_http_fib_metrics_message(ctx);

    return ctx->reply(r, ctx, msg);
}


/*
 * UNAVAILABLE, CANCELLED, and DEADLINE_EXCEEDED of one attempt while
 * fib_timeout has time left, are tried again after a backoff, if the
 * backoff ends in time.  A call the module cancels itself never comes here
 * (its request is gone), so CANCELLED is the backend's or the transport's:
 * a replica killed with calls in flight on its connection.
 */

static ngx_int_t
ngx_http_fib_call_retry(ngx_http_fib_ctx_t *ctx, grpc_status_code status)
{
    ngx_msec_t                delay;
    ngx_msec_int_t            left;
    backoff_policy            policy;
    ngx_http_request_t       *r;
    ngx_http_fib_loc_conf_t  *flcf;

    r = ctx->request;
    flcf = ctx->conf;
    left = (ngx_msec_int_t) (ctx->deadline - ngx_current_msec);

    if (status != GRPC_STATUS_UNAVAILABLE
        && status != GRPC_STATUS_CANCELLED
        && (status != GRPC_STATUS_DEADLINE_EXCEEDED || ctx->timed_out))
    {
        return NGX_DECLINED;
    }

    if (status == GRPC_STATUS_UNAVAILABLE
        && ngx_http_fib_channel_ssl(flcf->channel)
        && ngx_http_fib_ssl_failed(ctx->call->details))
    {
        ctx->ssl_failed = 1;
        return NGX_DECLINED;
    }

    if (ctx->attempts > flcf->retries || left <= 0) {
        return NGX_DECLINED;
    }

    if (ngx_http_fib_rng == 0) {
        ngx_http_fib_rng = backoff_seed();
    }

    policy.base = flcf->backoff_base;
    policy.max = flcf->backoff_max;
    policy.multiplier = 2.0;
    policy.jitter = 0.5;

    delay = (ngx_msec_t) backoff_delay(&policy, (unsigned) ctx->attempts,
                                       &ngx_http_fib_rng);

    if ((ngx_msec_int_t) delay >= left) {
        return NGX_DECLINED;
    }

    if (ctx->stream && r->header_sent) {
        ctx->stream_resumed++;

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "fib: attempt %ui of %ui failed with %s \"%*s\" "
                      "after %ui items, resuming at n=%D in %M ms",
                      ctx->attempts, flcf->retries + 1,
                      rpc_status_name(status),
                      GRPC_SLICE_LENGTH(ctx->call->details),
                      GRPC_SLICE_START_PTR(ctx->call->details),
                      ctx->stream_items, ctx->n, delay);

    } else {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "fib: attempt %ui of %ui failed with %s \"%*s\", "
                      "retrying in %M ms",
                      ctx->attempts, flcf->retries + 1,
                      rpc_status_name(status),
                      GRPC_SLICE_LENGTH(ctx->call->details),
                      GRPC_SLICE_START_PTR(ctx->call->details),
                      delay);
    }

    ngx_http_fib_call_release(ctx->call);

    ngx_add_timer(&ctx->retry_ev, delay);

    return NGX_OK;
}


static void
ngx_http_fib_retry_handler(ngx_event_t *ev)
{
    ngx_str_t            details;
    ngx_http_fib_ctx_t  *ctx;

    ctx = ev->data;

    ngx_http_set_log_request(ctx->request->connection->log, ctx->request);

    if (ctx->stream) {
        /* a new call from the next n not sent yet: ctx->stream_req */

        ngx_http_fib_call_free(ctx->call);
        ctx->call = NULL;

        if (ngx_http_fib_call_alloc(ctx->request, ctx, ctx->stream_req)
            == NGX_OK
            && ngx_http_fib_call_start(ctx) == NGX_OK)
        {
            return;
        }

    } else if (ngx_http_fib_call_start(ctx) == NGX_OK) {
        return;
    }

    ngx_str_set(&details, "cannot start a call");

    ngx_http_fib_call_end(ctx, ngx_http_fib_call_failed(ctx->request, ctx,
                                                        GRPC_STATUS_INTERNAL,
                                                        &details));
}


static void
ngx_http_fib_deadline_handler(ngx_event_t *ev)
{
    ngx_str_t             details;
    ngx_http_fib_ctx_t   *ctx;
    ngx_http_fib_call_t  *call;

    ctx = ev->data;
    call = ctx->call;

    ngx_http_set_log_request(ctx->request->connection->log, ctx->request);

    ctx->timed_out = 1;

    if (ctx->stream
        && (ngx_msec_int_t) (ngx_current_msec - ctx->stream_deadline) >= 0)
    {
        ctx->stream_timed_out = 1;
        ngx_str_set(&details, "fib_stream_timeout expired");

    } else {
        ngx_str_set(&details, "fib_timeout expired");
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0, "fib: %V", &details);

    if (call && call->pending) {
        /* the completion follows with DEADLINE_EXCEEDED */
        grpc_call_cancel_with_status(call->call,
                                     GRPC_STATUS_DEADLINE_EXCEEDED,
                                     (char *) details.data, NULL);
        return;
    }

    /* waiting to retry */

    ctx->status = GRPC_STATUS_DEADLINE_EXCEEDED;
    ctx->has_status = 1;
    ctx->upstream_time = ngx_current_msec - ctx->start;

    ngx_http_fib_call_end(ctx, ngx_http_fib_call_failed(ctx->request, ctx,
                                               GRPC_STATUS_DEADLINE_EXCEEDED,
                                               &details));
}


static ngx_int_t
ngx_http_fib_call_failed(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    grpc_status_code status, ngx_str_t *details)
{
    ngx_str_t   message;
    ngx_uint_t  code, level;

    /* a TLS handshake failure is the gateway's problem with the backend */

    code = ctx->ssl_failed ? NGX_HTTP_BAD_GATEWAY
                           : ngx_http_fib_http_status(status);
    level = (code == NGX_HTTP_BAD_REQUEST) ? NGX_LOG_INFO : NGX_LOG_ERR;

    if (ctx->stream && r->header_sent) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fib: %s failed with %s \"%V\" after %ui attempt%s "
                      "and %ui items, ending the stream with an error",
                      ngx_http_fib_method_names[ctx->method],
                      rpc_status_name(status), details,
                      ctx->attempts, ctx->attempts == 1 ? "" : "s",
                      ctx->stream_items);

        return ctx->error(r, ctx, status, details);
    }

    ngx_log_error(level, r->connection->log, 0,
                  "fib: %s failed with %s \"%V\" after %ui attempt%s%s",
                  ngx_http_fib_method_names[ctx->method],
                  rpc_status_name(status), details,
                  ctx->attempts, ctx->attempts == 1 ? "" : "s",
                  r->header_sent ? ", answer cut short" : "");

    if (r->header_sent) {
        /* a later call of a paged answer: the client sees it unfinished */
        return NGX_ERROR;
    }

    message = *details;

    if (message.len == 0) {
        message.data = (u_char *) rpc_status_name(status);
        message.len = ngx_strlen(message.data);
    }

    return ngx_http_fib_send_error(r, code, status, &message);
}


/* after the last attempt: no timers, no tag */

static void
ngx_http_fib_call_finish(ngx_http_fib_ctx_t *ctx)
{
    if (ctx->deadline_ev.timer_set) {
        ngx_del_timer(&ctx->deadline_ev);
    }

    if (ctx->retry_ev.timer_set) {
        ngx_del_timer(&ctx->retry_ev);
    }

    if (ctx->call == NULL) {
        return;
    }

    if (ctx->call->pending) {
        /* the tag is freed when the cancelled call completes */
        ctx->call->ctx = NULL;
        grpc_call_cancel(ctx->call->call, NULL);

    } else {
        ngx_http_fib_call_free(ctx->call);
    }

    ctx->call = NULL;
}


/* the last step of every request that made a call */

void
ngx_http_fib_call_end(ngx_http_fib_ctx_t *ctx, ngx_int_t rc)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = ctx->request;
    c = r->connection;

    if (ctx->call && ctx->call->call
        && (ctx->call->pending || ctx->call->reading))
    {
        /* a stream cut short: by its client (on a write), or HEAD */

        if (rc == NGX_ERROR) {
            ngx_log_error(NGX_LOG_INFO, c->log, 0,
                          "fib: request closed, cancelling its gRPC call");
        }

        ngx_http_fib_metrics_attempt_done(ctx, GRPC_STATUS_CANCELLED);
    }

    ngx_http_fib_call_finish(ctx);

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_fib_cleanup(void *data)
{
    ngx_http_fib_ctx_t *ctx = data;

    ngx_http_fib_call_t  *call;

    call = ctx->call;

    if (call && call->call) {
        ngx_log_error(NGX_LOG_INFO, ctx->request->connection->log, 0,
                      "fib: request closed, cancelling its gRPC call");

        ngx_http_fib_metrics_attempt_done(ctx, GRPC_STATUS_CANCELLED);

        /* a stream waiting for its client has no batch to cancel */

        if (!call->pending) {
            grpc_call_cancel(call->call, NULL);
        }
    }

    ngx_http_fib_call_finish(ctx);
}


static void
ngx_http_fib_call_release(ngx_http_fib_call_t *call)
{
    if (call->call) {
        grpc_call_unref(call->call);
        call->call = NULL;
    }

    if (call->send) {
        grpc_byte_buffer_destroy(call->send);
        call->send = NULL;
    }

    if (call->recv) {
        grpc_byte_buffer_destroy(call->recv);
        call->recv = NULL;
    }

    grpc_slice_unref(call->details);
    call->details = grpc_empty_slice();

    grpc_metadata_array_destroy(&call->initial_md);
    grpc_metadata_array_destroy(&call->trailing_md);
    grpc_metadata_array_init(&call->initial_md);
    grpc_metadata_array_init(&call->trailing_md);
}


static void
ngx_http_fib_call_free(ngx_http_fib_call_t *call)
{
    ngx_http_fib_call_release(call);
    ngx_queue_remove(&call->queue);
    ngx_free(call);
}


/*
 * exit_process, before the runtime shuts down: cancel what is in flight
 * (its completion, handed back by ngx_http_fib_grpc_exit(), frees it) and
 * free what is not.
 */

void
ngx_http_fib_call_abort_all(void)
{
    ngx_queue_t          *q, *next;
    ngx_http_fib_call_t  *call;

    for (q = ngx_queue_head(&ngx_http_fib_calls);
         q != ngx_queue_sentinel(&ngx_http_fib_calls);
         q = next)
    {
        next = ngx_queue_next(q);
        call = ngx_queue_data(q, ngx_http_fib_call_t, queue);

        if (call->ctx) {
            call->ctx->call = NULL;
            call->ctx = NULL;
        }

        if (call->pending) {
            grpc_call_cancel(call->call, NULL);

        } else {
            ngx_http_fib_call_free(call);
        }
    }
}


static void *
ngx_http_fib_pb_alloc(void *data, size_t size)
{
    return ngx_palloc(data, size);
}


static void
ngx_http_fib_pb_free(void *data, void *p)
{
    /* freed with the request pool */
}
