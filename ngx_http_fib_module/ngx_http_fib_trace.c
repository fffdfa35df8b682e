
/*
 * ngx_http_fib_trace.c - W3C Trace Context (traceparent, tracestate) for
 * the gRPC calls of a request.  A valid traceparent from the client gives
 * the trace id and flags, and its tracestate is passed on; without one (or
 * with one that does not parse) the request starts a trace of its own and
 * any tracestate is dropped, as the specification asks.  Every attempt is
 * a span of its own: it gets a new span id, sent as the parent id in the
 * traceparent metadata of that attempt.
 *
 * The request id sent as x-request-id is the client's X-Request-ID, or
 * else the trace id: one id that every log line of the request carries,
 * and no second random number per request (nginx's $request_id costs an
 * OpenSSL RAND_bytes() call, some 9% of the worker's instructions per
 * /fib request).
 */


#include "ngx_http_fib_module.h"

#include "../common/backoff.h"


#define NGX_HTTP_FIB_TRACESTATE_MAX  512


static ngx_int_t ngx_http_fib_trace_parse(ngx_http_fib_ctx_t *ctx,
    ngx_str_t *tp);
static void ngx_http_fib_trace_random(u_char *hex, size_t bytes);
static void ngx_http_fib_trace_request_id(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);


static uint64_t  ngx_http_fib_trace_state;


/* lower-case hex digits only, and (if asked) not all of them zero */

static ngx_int_t
ngx_http_fib_trace_hex(u_char *p, size_t len, ngx_uint_t zero_ok)
{
    ngx_uint_t  nonzero;

    nonzero = 0;

    while (len--) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return NGX_DECLINED;
        }

        nonzero |= (*p++ != '0');
    }

    return (nonzero || zero_ok) ? NGX_OK : NGX_DECLINED;
}


/*
 * version "-" trace-id "-" parent-id "-" trace-flags: 00-<32>-<16>-<2>;
 * a later version may carry more after a further "-"
 */

static ngx_int_t
ngx_http_fib_trace_parse(ngx_http_fib_ctx_t *ctx, ngx_str_t *tp)
{
    u_char  *p;

    p = tp->data;

    if (tp->len < 55
        || ngx_http_fib_trace_hex(p, 2, 1) != NGX_OK
        || ngx_strncmp(p, "ff", 2) == 0
        || p[2] != '-' || p[35] != '-' || p[52] != '-'
        || (tp->len > 55 && (ngx_strncmp(p, "00", 2) == 0 || p[55] != '-')))
    {
        return NGX_DECLINED;
    }

    if (ngx_http_fib_trace_hex(p + 3, 32, 0) != NGX_OK
        || ngx_http_fib_trace_hex(p + 36, 16, 0) != NGX_OK
        || ngx_http_fib_trace_hex(p + 53, 2, 1) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(ctx->trace_id, p + 3, 32);
    ctx->trace_flags[0] = p[53];
    ctx->trace_flags[1] = p[54];

    return NGX_OK;
}


/* tracestate: every header's value, joined with ",", if it stays short */

static ngx_int_t
ngx_http_fib_trace_state_join(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_str_t *v)
{
    u_char  *p, *q;
    size_t   len;

    len = ctx->tracestate.len + (ctx->tracestate.len ? 1 : 0) + v->len;

    if (v->len == 0 || len > NGX_HTTP_FIB_TRACESTATE_MAX) {
        return NGX_DECLINED;
    }

    for (q = v->data; q < v->data + v->len; q++) {
        if (*q < 0x20 || *q > 0x7e) {
            return NGX_DECLINED;
        }
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    q = ngx_cpymem(p, ctx->tracestate.data, ctx->tracestate.len);

    if (ctx->tracestate.len) {
        *q++ = ',';
    }

    ngx_memcpy(q, v->data, v->len);

    ctx->tracestate.data = p;
    ctx->tracestate.len = len;

    return NGX_OK;
}


/* the request's trace, from its headers or new; once per request */

ngx_int_t
ngx_http_fib_trace_init(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    ngx_int_t                   rc;
    ngx_uint_t                  valid, bad_state;
    ngx_str_t                   tp;
    ngx_table_elt_t            *h;
    ngx_http_fib_header_iter_t  it;

    if (ctx->traced) {
        return NGX_OK;
    }

    ngx_str_null(&tp);
    valid = 0;
    bad_state = 0;

    ngx_memzero(&it, sizeof(ngx_http_fib_header_iter_t));

    while ((h = ngx_http_fib_header_in(r, "traceparent", &it)) != NULL) {

        /* two traceparent headers: neither is believed */

        valid = (tp.data == NULL);
        tp = h->value;
    }

    ngx_memzero(&it, sizeof(ngx_http_fib_header_iter_t));

    while ((h = ngx_http_fib_header_in(r, "tracestate", &it)) != NULL) {

        rc = ngx_http_fib_trace_state_join(r, ctx, &h->value);

        if (rc == NGX_ERROR) {
            return NGX_ERROR;
        }

        bad_state |= (rc == NGX_DECLINED);
    }

    if (!valid || ngx_http_fib_trace_parse(ctx, &tp) != NGX_OK) {
        ngx_http_fib_trace_random(ctx->trace_id, 16);
        ctx->trace_flags[0] = '0';
        ctx->trace_flags[1] = '1';
        ngx_str_null(&ctx->tracestate);

        if (tp.data) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "fib: invalid traceparent \"%V\", a new trace "
                          "is started", &tp);
        }

    } else if (bad_state) {
        ngx_str_null(&ctx->tracestate);
    }

    ngx_http_fib_trace_request_id(r, ctx);

    ctx->traced = 1;

    return NGX_OK;
}


/* the client's X-Request-ID if it is a usable metadata value, or the trace */

static void
ngx_http_fib_trace_request_id(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    u_char                      *p, *last;
    ngx_table_elt_t             *h;
    ngx_http_fib_header_iter_t   it;

    ngx_memzero(&it, sizeof(ngx_http_fib_header_iter_t));

    while ((h = ngx_http_fib_header_in(r, "X-Request-ID", &it)) != NULL) {

        if (h->value.len == 0
            || h->value.len > NGX_HTTP_FIB_REQUEST_ID_MAX)
        {
            continue;
        }

        last = h->value.data + h->value.len;

        for (p = h->value.data; p < last; p++) {
            if (*p < 0x20 || *p > 0x7e) {
                break;
            }
        }

        if (p == last) {
            ctx->request_id = h->value;
            return;
        }
    }

    ctx->request_id.data = ctx->trace_id;
    ctx->request_id.len = sizeof(ctx->trace_id);
}


/*
 * The traceparent of a new attempt: a new span id.  buf holds
 * NGX_HTTP_FIB_TRACEPARENT_LEN bytes.
 */

void
ngx_http_fib_trace_attempt(ngx_http_fib_ctx_t *ctx, u_char *buf)
{
    u_char  *p;

    ngx_http_fib_trace_random(ctx->span_id, 8);

    p = ngx_cpymem(buf, "00-", 3);
    p = ngx_cpymem(p, ctx->trace_id, 32);
    *p++ = '-';
    p = ngx_cpymem(p, ctx->span_id, 16);
    *p++ = '-';
    *p++ = ctx->trace_flags[0];
    *p = ctx->trace_flags[1];

    ctx->has_span = 1;
}


/*
 * $fib_trace_id (data 0): the trace of a fib_pass or fib_stats_pass request,
 * also of one refused before any call; $fib_span_id (1): the last attempt's
 * span, not found before an attempt; $fib_request_id (2): the x-request-id
 * its calls carry (or would carry)
 */

ngx_int_t
ngx_http_fib_trace_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_fib_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    if (ctx == NULL || ctx->conf->target.len == 0
        || (data == 1 && !ctx->has_span))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    if (ngx_http_fib_trace_init(r, ctx) != NGX_OK) {
        return NGX_ERROR;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    switch (data) {

    case 0:
        v->data = ctx->trace_id;
        v->len = sizeof(ctx->trace_id);
        break;

    case 1:
        v->data = ctx->span_id;
        v->len = sizeof(ctx->span_id);
        break;

    default: /* 2 */
        v->data = ctx->request_id.data;
        v->len = ctx->request_id.len;
    }

    return NGX_OK;
}


/*
 * random ids: splitmix64 over a per-process state seeded once from the
 * clock, the thread and the pid; never an all-zero id
 */

static void
ngx_http_fib_trace_random(u_char *hex, size_t bytes)
{
    size_t     i;
    uint64_t   z;
    ngx_uint_t nonzero;

    if (ngx_http_fib_trace_state == 0) {
        ngx_http_fib_trace_state = backoff_seed() ^ ((uint64_t) ngx_pid << 32);
    }

    do {
        nonzero = 0;

        for (i = 0; i < bytes; i += 8) {
            ngx_http_fib_trace_state += 0x9e3779b97f4a7c15ULL;
            z = ngx_http_fib_trace_state;
            z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
            z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
            z ^= z >> 31;
            nonzero |= (z != 0);

            ngx_hex_dump(hex + 2 * i, (u_char *) &z,
                         ngx_min(8, bytes - i));
        }

    } while (!nonzero);
}
