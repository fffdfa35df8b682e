
/*
 * ngx_http_fib_stream.c - GET /fib?from=A&to=B: fibonacci.Fibonacci/
 * GetFibRange streamed to the client as it arrives, one line of JSON per
 * n (NDJSON), or one Server-Sent Event per n when the client accepts
 * text/event-stream (Last-Event-ID resumes after that n).
 *
 * The next message is asked of gRPC only while the client's pending output
 * is below fib_stream_buffer; otherwise the client's write event asks for
 * it.  Items that arrive while the client is behind are gathered into
 * larger buffers.  A failure after the header went out ends the answer
 * with an error line (or an "error" event); a transient one resumes the
 * call at the next n not sent (ngx_http_fib_call.c).
 */


#include "ngx_http_fib_module.h"


/* items gathered while the client is behind go out in buffers this big */
#define NGX_HTTP_FIB_STREAM_BUF  8192


typedef struct {
    Fibonacci__FibRangeRequest   req;        /* from: the next n to ask */
    ngx_chain_t                 *cur;        /* filling, not yet passed */
    ngx_chain_t                 *free;
    ngx_chain_t                 *busy;
    unsigned                     sse:1;
} ngx_http_fib_stream_ctx_t;


static ngx_int_t ngx_http_fib_stream_parse(ngx_http_request_t *r,
    char *name, ngx_str_t *value, int32_t *n, ngx_str_t *err);
static ngx_int_t ngx_http_fib_stream_last_id(ngx_http_request_t *r,
    ngx_http_fib_stream_ctx_t *sctx, ngx_str_t *err);
static ngx_int_t ngx_http_fib_stream_reply(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ProtobufCMessage *msg);
static ngx_int_t ngx_http_fib_stream_header(ngx_http_request_t *r,
    ngx_http_fib_stream_ctx_t *sctx);
static ngx_int_t ngx_http_fib_stream_error(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, grpc_status_code status, ngx_str_t *details);
static u_char *ngx_http_fib_stream_room(ngx_http_request_t *r,
    ngx_http_fib_stream_ctx_t *sctx, size_t len);
static ngx_int_t ngx_http_fib_stream_flush(ngx_http_request_t *r,
    ngx_http_fib_stream_ctx_t *sctx, ngx_uint_t last);
static ngx_int_t ngx_http_fib_stream_next(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);
static void ngx_http_fib_stream_write(ngx_http_request_t *r);


/*
 * NGX_DECLINED when the request names neither from nor to (not a range);
 * else what the handler returns.
 */

ngx_int_t
ngx_http_fib_stream(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    ngx_int_t                   rc, has_from, has_to;
    ngx_str_t                   from, to, n, err;
    ngx_table_elt_t            *accept;
    ngx_http_fib_header_iter_t  it;
    ngx_http_fib_stream_ctx_t  *sctx;

    static ngx_str_t  from_name = ngx_string("from");
    static ngx_str_t  to_name = ngx_string("to");
    static ngx_str_t  n_name = ngx_string("n");

    has_from = ngx_http_fib_query_arg(r, &from_name, &from);
    has_to = ngx_http_fib_query_arg(r, &to_name, &to);

    if (has_from == NGX_ERROR || has_to == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (has_from == NGX_DECLINED && has_to == NGX_DECLINED) {
        return NGX_DECLINED;
    }

    if (has_from == NGX_DECLINED || has_to == NGX_DECLINED) {
        ngx_str_set(&err, "a range needs both from and to");
        return ngx_http_fib_bad_request(r, &err);
    }

    rc = ngx_http_fib_query_arg(r, &n_name, &n);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_OK) {
        ngx_str_set(&err, "n cannot be given with from and to");
        return ngx_http_fib_bad_request(r, &err);
    }

    sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_fib_stream_ctx_t));
    if (sctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    fibonacci__fib_range_request__init(&sctx->req);
    sctx->req.exact = 1;

    rc = ngx_http_fib_stream_parse(r, "from", &from, &sctx->req.from, &err);
    if (rc == NGX_OK) {
        rc = ngx_http_fib_stream_parse(r, "to", &to, &sctx->req.to, &err);
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_fib_bad_request(r, &err);
    }

    if (sctx->req.from > sctx->req.to) {
        ngx_str_set(&err, "from must not be greater than to");
        return ngx_http_fib_bad_request(r, &err);
    }

    ngx_memzero(&it, sizeof(ngx_http_fib_header_iter_t));

    accept = ngx_http_fib_header_in(r, "Accept", &it);

    sctx->sse = accept != NULL
                && ngx_strlcasestrn(accept->value.data,
                                    accept->value.data + accept->value.len,
                                    (u_char *) "text/event-stream",
                                    sizeof("text/event-stream") - 2)
                   != NULL;

    rc = ngx_http_fib_stream_last_id(r, sctx, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_fib_bad_request(r, &err);
    }

    if (rc == NGX_DONE) {
        /* the client has it all: 204 tells an EventSource to stop */
        r->header_only = 1;
        r->headers_out.status = NGX_HTTP_NO_CONTENT;
        r->headers_out.content_length_n = 0;

        return ngx_http_send_header(r);
    }

    /* each message is unpacked here and let go once it is formatted */

    if (ngx_http_fib_reply_pool(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->data = sctx;
    ctx->stream = 1;
    ctx->stream_req = &sctx->req.base;
    ctx->error = ngx_http_fib_stream_error;
    ctx->method = NGX_HTTP_FIB_GET_FIB_RANGE;
    ctx->n = sctx->req.from;

    return ngx_http_fib_call_begin(r, ctx, &sctx->req.base,
                                   &fibonacci__fibonacci_response__descriptor,
                                   ngx_http_fib_stream_reply);
}


static ngx_int_t
ngx_http_fib_stream_parse(ngx_http_request_t *r, char *name,
    ngx_str_t *value, int32_t *n, ngx_str_t *err)
{
    ngx_str_t  why;

    if (ngx_http_fib_parse_int(value->data, value->len, n, &why) == NGX_OK) {
        return NGX_OK;
    }

    err->len = ngx_strlen(name) + 1 + why.len;
    err->data = ngx_pnalloc(r->pool, err->len);
    if (err->data == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(err->data, "%s %V", name, &why);

    return NGX_DECLINED;
}


/*
 * Last-Event-ID: n of the last event the client has; the stream goes on
 * after it.  NGX_DONE if nothing is left to send.
 */

static ngx_int_t
ngx_http_fib_stream_last_id(ngx_http_request_t *r,
    ngx_http_fib_stream_ctx_t *sctx, ngx_str_t *err)
{
    int32_t                     id;
    ngx_str_t                   why;
    ngx_table_elt_t            *h;
    ngx_http_fib_header_iter_t  it;

    ngx_memzero(&it, sizeof(ngx_http_fib_header_iter_t));

    h = ngx_http_fib_header_in(r, "Last-Event-ID", &it);

    if (h == NULL) {
        return NGX_OK;
    }

    if (ngx_http_fib_parse_int(h->value.data, h->value.len, &id, &why)
        != NGX_OK)
    {
        err->len = sizeof("Last-Event-ID ") - 1 + why.len;
        err->data = ngx_pnalloc(r->pool, err->len);
        if (err->data == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf(err->data, "Last-Event-ID %V", &why);

        return NGX_DECLINED;
    }

    if (id >= sctx->req.to) {
        return NGX_DONE;
    }

    if (id >= sctx->req.from) {
        sctx->req.from = id + 1;
    }

    return NGX_OK;
}


/* one message of the range, or (msg == NULL) its successful end */

static ngx_int_t
ngx_http_fib_stream_reply(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ProtobufCMessage *msg)
{
    u_char                        *p, *start;
    size_t                         len;
    ngx_int_t                      rc;
    ngx_str_t                      err;
    ngx_http_fib_stream_ctx_t     *sctx;
    Fibonacci__FibonacciResponse  *resp;

    sctx = ctx->data;

    if (msg == NULL) {
        if (ctx->n <= sctx->req.to) {
            ngx_str_set(&err, "the stream ended early");
            goto failed;
        }

        return ngx_http_fib_stream_flush(r, sctx, 1);
    }

    resp = (Fibonacci__FibonacciResponse *) msg;

    /* a server that leaves n out (0) is taken at its word on the order */

    if (ctx->n > sctx->req.to || (resp->n != ctx->n && resp->n != 0)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fib: GetFibRange sent n=%D where n=%D was due",
                      resp->n, ctx->n);
        ngx_str_set(&err, "the stream is out of order");
        goto failed;
    }

    len = ngx_http_fib_item_size(resp);
    len += sctx->sse ? sizeof("id: \ndata: \n\n") - 1 + NGX_INT32_LEN : 1;

    start = ngx_http_fib_stream_room(r, sctx, len);
    if (start == NULL) {
        return NGX_ERROR;
    }

    p = start;

    if (sctx->sse) {
        p = ngx_sprintf(p, "id: %D\ndata: ", ctx->n);
    }

    p = ngx_http_fib_item_write(r, p, ctx->n, resp);

    ngx_reset_pool(ctx->reply_pool);

    if (p == NULL) {
        ngx_str_set(&err, "invalid value from the Fibonacci service");
        goto failed;
    }

    if (!r->header_sent) {
        rc = ngx_http_fib_stream_header(r, sctx);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            return rc;
        }
    }

    *p++ = '\n';

    if (sctx->sse) {
        *p++ = '\n';
    }

    sctx->cur->buf->last = p;

    ctx->stream_items++;
    ctx->stream_bytes += p - start;
    ctx->n++;
    sctx->req.from = ctx->n;

    if (sctx->busy == NULL) {
        /* the client keeps up: this goes out at once */

        if (ngx_http_fib_stream_flush(r, sctx, 0) == NGX_ERROR) {
            return NGX_ERROR;
        }
    }

    return ngx_http_fib_stream_next(r, ctx);

failed:

    ngx_reset_pool(ctx->reply_pool);

    if (!r->header_sent) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fib: GetFibRange failed: %V", &err);

        return ngx_http_fib_send_error(r, NGX_HTTP_BAD_GATEWAY,
                                       GRPC_STATUS_INTERNAL, &err);
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "fib: GetFibRange failed after %ui items: %V, "
                  "ending the stream with an error",
                  ctx->stream_items, &err);

    return ngx_http_fib_stream_error(r, ctx, GRPC_STATUS_INTERNAL, &err);
}


static ngx_int_t
ngx_http_fib_stream_header(ngx_http_request_t *r,
    ngx_http_fib_stream_ctx_t *sctx)
{
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = -1;

    if (sctx->sse) {
        ngx_str_set(&r->headers_out.content_type, "text/event-stream");

        if (ngx_http_fib_header(r, "Cache-Control", "no-cache") != NGX_OK) {
            return NGX_ERROR;
        }

    } else {
        ngx_str_set(&r->headers_out.content_type, "application/x-ndjson");
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    return ngx_http_send_header(r);
}


/* after the header: a last line (or event) that says what went wrong */

static ngx_int_t
ngx_http_fib_stream_error(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    grpc_status_code status, ngx_str_t *details)
{
    u_char                     *p, *start;
    size_t                      len;
    ngx_str_t                   message;
    const char                 *name;
    ngx_http_fib_stream_ctx_t  *sctx;

    sctx = ctx->data;
    name = rpc_status_name(status);

    message = *details;

    if (message.len == 0) {
        message.data = (u_char *) name;
        message.len = ngx_strlen(name);
    }

    len = sizeof("event: error\ndata: {\"error\":\"\",\"code\":\"\"}\n\n") - 1
          + message.len + ngx_escape_json(NULL, message.data, message.len)
          + ngx_strlen(name);

    start = ngx_http_fib_stream_room(r, sctx, len);
    if (start == NULL) {
        return NGX_ERROR;
    }

    p = start;

    if (sctx->sse) {
        p = ngx_cpymem(p, "event: error\ndata: ",
                       sizeof("event: error\ndata: ") - 1);
    }

    p = ngx_cpymem(p, "{\"error\":\"", sizeof("{\"error\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, message.data, message.len);
    p = ngx_sprintf(p, "\",\"code\":\"%s\"}\n", name);

    if (sctx->sse) {
        *p++ = '\n';
    }

    sctx->cur->buf->last = p;
    ctx->stream_bytes += p - start;

    return ngx_http_fib_stream_flush(r, sctx, 1);
}


/* len bytes at the end of the buffer being filled, a new one if need be */

static u_char *
ngx_http_fib_stream_room(ngx_http_request_t *r,
    ngx_http_fib_stream_ctx_t *sctx, size_t len)
{
    size_t        size;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (sctx->cur) {
        b = sctx->cur->buf;

        if ((size_t) (b->end - b->last) >= len) {
            return b->last;
        }

        /* full: it goes after what the client has not taken yet */

        if (ngx_http_fib_stream_flush(r, sctx, 0) == NGX_ERROR) {
            return NULL;
        }
    }

    cl = ngx_chain_get_free_buf(r->pool, &sctx->free);
    if (cl == NULL) {
        return NULL;
    }

    b = cl->buf;

    if (b->start && (size_t) (b->end - b->start) < len) {
        /* always a large allocation: freed at once */
        ngx_pfree(r->pool, b->start);
        b->start = NULL;
    }

    if (b->start == NULL) {
        size = ngx_max(len, NGX_HTTP_FIB_STREAM_BUF);

        b->start = ngx_palloc(r->pool, size);
        if (b->start == NULL) {
            return NULL;
        }

        b->end = b->start + size;
        b->tag = (ngx_buf_tag_t) &ngx_http_fib_module;
    }

    b->temporary = 1;

    b->pos = b->start;
    b->last = b->start;

    sctx->cur = cl;

    return b->last;
}


/*
 * What was filled goes to the output filters, flushed; with last, the end
 * of the answer.  Returns what the filters return.
 */

static ngx_int_t
ngx_http_fib_stream_flush(ngx_http_request_t *r,
    ngx_http_fib_stream_ctx_t *sctx, ngx_uint_t last)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    cl = sctx->cur;
    sctx->cur = NULL;

    if (cl == NULL && last) {
        cl = ngx_chain_get_free_buf(r->pool, &sctx->free);
        if (cl == NULL) {
            return NGX_ERROR;
        }

        cl->buf->tag = (ngx_buf_tag_t) &ngx_http_fib_module;
        cl->buf->last = cl->buf->pos;
    }

    if (cl) {
        b = cl->buf;

        /* an empty buffer goes as a special one, not as zero bytes */
        b->temporary = (b->last > b->pos) ? 1 : 0;

        b->flush = 1;
        b->last_buf = (last && r == r->main) ? 1 : 0;
        b->last_in_chain = last ? 1 : 0;
    }

    rc = ngx_http_output_filter(r, cl);

    ngx_chain_update_chains(r->pool, &sctx->free, &sctx->busy, &cl,
                            (ngx_buf_tag_t) &ngx_http_fib_module);

    return rc;
}


/*
 * After an item: the next one is asked for while the client's pending
 * output is below fib_stream_buffer; the client's write event sends what
 * it has not taken and asks for more.
 */

static ngx_int_t
ngx_http_fib_stream_next(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    off_t                       pending;
    ngx_chain_t                *cl;
    ngx_http_fib_stream_ctx_t  *sctx;

    sctx = ctx->data;
    pending = sctx->cur ? ngx_buf_size(sctx->cur->buf) : 0;

    for (cl = sctx->busy; cl; cl = cl->next) {
        pending += ngx_buf_size(cl->buf);
    }

    if (pending < (off_t) ctx->conf->stream_buffer || pending == 0) {
        if (ngx_http_fib_call_read(ctx) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (sctx->busy == NULL && sctx->cur == NULL) {
        r->write_event_handler = ngx_http_request_empty_handler;
        return NGX_AGAIN;
    }

    r->write_event_handler = ngx_http_fib_stream_write;

    if (ngx_http_fib_client_wait(r) != NGX_OK) {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


/* the client's socket writable again, or send_timeout */

static void
ngx_http_fib_stream_write(ngx_http_request_t *r)
{
    ngx_http_fib_ctx_t         *ctx;
    ngx_http_fib_stream_ctx_t  *sctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);
    sctx = ctx->data;

    if (ngx_http_fib_client_timedout(ctx, "the stream") == NGX_OK) {
        return;
    }

    if (ngx_http_fib_stream_flush(r, sctx, 0) == NGX_ERROR
        || ngx_http_fib_stream_next(r, ctx) == NGX_ERROR)
    {
        ngx_http_fib_call_end(ctx, NGX_ERROR);
    }
}

