
/*
 * ngx_http_fib_handler.c - the fib_pass content handler: GET /fib?n=N is
 * checked here, asked of fibonacci.Fibonacci/GetFib with exact=true, and
 * answered {"n":N,"x":F,"value":"F"}, x only when F(n) fits int64; a list
 * of n, or a POST, goes to ngx_http_fib_batch.c, from= and to= to
 * ngx_http_fib_stream.c.  Also the prologue of
 * both content handlers (this one and fib_stats_pass's), and the JSON of
 * one answer, which batches and streams write too.
 */


#include "ngx_http_fib_module.h"


static ngx_int_t ngx_http_fib_parse_n(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ngx_str_t *value, ngx_str_t *err);
static ngx_int_t ngx_http_fib_unescape(u_char *dst, u_char *src, size_t len,
    size_t *n);
static ngx_int_t ngx_http_fib_reply(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ProtobufCMessage *msg);
static ngx_int_t ngx_http_fib_decimal(u_char *p, size_t len, int64_t *x);


/*
 * What both content handlers do first: GET or HEAD only, no body, and a
 * context.  *ctxp is NULL when the request is answered already: the
 * handler returns what this returns then.
 */

ngx_int_t
ngx_http_fib_request_init(ngx_http_request_t *r, ngx_http_fib_ctx_t **ctxp)
{
    ngx_int_t                  rc;
    ngx_str_t                  message = ngx_string("method not allowed");
    ngx_http_fib_ctx_t        *ctx;
    ngx_http_core_loc_conf_t  *clcf;

    *ctxp = NULL;
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        /* fib_pass also takes POSTed batches */

        if (ngx_http_fib_header(r, "Allow",
                                (clcf->handler == ngx_http_fib_handler)
                                ? "GET, HEAD, POST" : "GET, HEAD")
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_fib_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                       GRPC_STATUS_UNIMPLEMENTED, &message);
    }

    ctx = ngx_http_fib_ctx_create(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *ctxp = ctx;

    return NGX_OK;
}



/* a response header, from static strings */

ngx_int_t
ngx_http_fib_header(ngx_http_request_t *r, char *key, char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}


/*
 * The next request header called name (any case), of the main request:
 * the first with a zeroed iterator, then each following one; NULL after
 * the last.
 */

ngx_table_elt_t *
ngx_http_fib_header_in(ngx_http_request_t *r, char *name,
    ngx_http_fib_header_iter_t *it)
{
    size_t            len;
    ngx_table_elt_t  *h;

    len = ngx_strlen(name);

    if (it->part == NULL) {
        it->part = &r->main->headers_in.headers.part;
        it->i = 0;
    }

    for ( ;; ) {

        if (it->i >= it->part->nelts) {
            if (it->part->next == NULL) {
                return NULL;
            }

            it->part = it->part->next;
            it->i = 0;
            continue;
        }

        h = &((ngx_table_elt_t *) it->part->elts)[it->i++];

        if (h->key.len == len
            && ngx_strncasecmp(h->key.data, (u_char *) name, len) == 0)
        {
            return h;
        }
    }
}


/*
 * pages that are only read (fib_metrics, fib_status): NGX_OK for GET and
 * HEAD, with any body discarded; else what to finalize with (405)
 */

ngx_int_t
ngx_http_fib_get_only(ngx_http_request_t *r)
{
    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return (ngx_http_fib_header(r, "Allow", "GET, HEAD") == NGX_OK)
               ? NGX_HTTP_NOT_ALLOWED : NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_discard_request_body(r);
}

ngx_http_fib_ctx_t *
ngx_http_fib_ctx_create(ngx_http_request_t *r)
{
    ngx_http_fib_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_fib_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->request = r;
    ctx->conf = ngx_http_get_module_loc_conf(r, ngx_http_fib_module);
    ctx->method = ctx->conf->method;

    ngx_http_set_ctx(r, ctx, ngx_http_fib_module);

    ngx_http_fib_metrics_request(ctx);

    return ctx;
}


ngx_int_t
ngx_http_fib_handler(ngx_http_request_t *r)
{
    ngx_int_t                     rc;
    ngx_str_t                     err, value;
    ngx_http_fib_ctx_t           *ctx;
    Fibonacci__FibonacciRequest   req = FIBONACCI__FIBONACCI_REQUEST__INIT;

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_fib_batch_post(r);
    }

    rc = ngx_http_fib_request_init(r, &ctx);
    if (ctx == NULL) {
        return rc;
    }

    rc = ngx_http_fib_stream(r, ctx);
    if (rc != NGX_DECLINED) {
        return rc;
    }

    rc = ngx_http_fib_parse_n(r, ctx, &value, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_AGAIN) {
        return ngx_http_fib_batch_get(r, ctx, &value);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_fib_bad_request(r, &err);
    }

    req.n = ctx->n;
    req.exact = 1;

    return ngx_http_fib_call_begin(r, ctx, &req.base,
                                   &fibonacci__fibonacci_response__descriptor,
                                   ngx_http_fib_reply);
}


/*
 * n: a decimal integer from 0 to 2147483647, checked before any call;
 * NGX_DECLINED and *err when it is not.  NGX_AGAIN and *value when it is a
 * list ("1,5,10"): a batch.
 */

static ngx_int_t
ngx_http_fib_parse_n(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_str_t *value, ngx_str_t *err)
{
    u_char     *p;
    int32_t     n;
    ngx_int_t   rc;
    ngx_str_t   why;

    static ngx_str_t  name = ngx_string("n");

    rc = ngx_http_fib_query_arg(r, &name, value);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_str_set(err, "missing query parameter n");
        return NGX_DECLINED;
    }

    if (value->len == 0) {
        ngx_str_set(err, "n is empty");
        return NGX_DECLINED;
    }

    if (ngx_strlchr(value->data, value->data + value->len, ',') != NULL) {
        return NGX_AGAIN;
    }

    if (ngx_http_fib_parse_int(value->data, value->len, &n, &why)
        != NGX_OK)
    {
        p = ngx_pnalloc(r->pool, sizeof("n ") - 1 + why.len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        err->data = p;
        p = ngx_cpymem(p, "n ", sizeof("n ") - 1);
        err->len = ngx_cpymem(p, why.data, why.len) - err->data;

        return NGX_DECLINED;
    }

    ctx->n = n;
    ctx->has_n = 1;

    return NGX_OK;
}


/*
 * A decimal integer from 0 to 2147483647 ("-0" is 0); NGX_DECLINED and why
 * not ("must be a decimal integer", ...) in *err.
 */

ngx_int_t
ngx_http_fib_parse_int(u_char *p, size_t len, int32_t *n, ngx_str_t *err)
{
    u_char     *last;
    int64_t     v;
    ngx_uint_t  negative;

    last = p + len;
    negative = 0;

    if (p < last && *p == '-') {
        negative = 1;
        p++;
    }

    if (p == last) {
        ngx_str_set(err, "must be a decimal integer");
        return NGX_DECLINED;
    }

    v = 0;

    for ( /* void */ ; p < last; p++) {
        if (*p < '0' || *p > '9') {
            ngx_str_set(err, "must be a decimal integer");
            return NGX_DECLINED;
        }

        if (v <= NGX_MAX_INT32_VALUE) {
            v = v * 10 + (*p - '0');
        }
    }

    if (negative && v != 0) {
        ngx_str_set(err, "must be non-negative");
        return NGX_DECLINED;
    }

    if (v > NGX_MAX_INT32_VALUE) {
        ngx_str_set(err, "is too large (max 2147483647)");
        return NGX_DECLINED;
    }

    *n = (int32_t) v;

    return NGX_OK;
}


/*
 * The first value of the query parameter called exactly *name, read as
 * Go's url.ParseQuery reads it, as the original gateway did: pairs split
 * at "&", a pair with ";" or a bad escape skipped, name and value
 * percent-decoded with "+" as a space.  NGX_DECLINED if there is none.
 */

ngx_int_t
ngx_http_fib_query_arg(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char  *p, *last, *pair, *end, *eq, *buf;
    size_t   len;

    if (r->args.len == 0) {
        return NGX_DECLINED;
    }

    buf = ngx_pnalloc(r->pool, r->args.len);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    last = r->args.data + r->args.len;

    for (pair = r->args.data; pair < last; pair = end + 1) {

        end = ngx_strlchr(pair, last, '&');
        if (end == NULL) {
            end = last;
        }

        if (pair == end || ngx_strlchr(pair, end, ';') != NULL) {
            continue;
        }

        eq = ngx_strlchr(pair, end, '=');
        if (eq == NULL) {
            eq = end;
        }

        if (ngx_http_fib_unescape(buf, pair, eq - pair, &len) != NGX_OK
            || len != name->len
            || ngx_strncmp(buf, name->data, len) != 0)
        {
            continue;
        }

        p = (eq < end) ? eq + 1 : end;

        if (ngx_http_fib_unescape(buf, p, end - p, &len) != NGX_OK) {
            continue;
        }

        value->data = buf;
        value->len = len;

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* "%XX" and "+" decoded into dst; NGX_ERROR on a "%" without two hex digits */

static ngx_int_t
ngx_http_fib_unescape(u_char *dst, u_char *src, size_t len, size_t *n)
{
    u_char     *p, *last, *d;
    ngx_int_t   hi, lo;

    d = dst;
    last = src + len;

    for (p = src; p < last; p++) {

        if (*p == '+') {
            *d++ = ' ';
            continue;
        }

        if (*p != '%') {
            *d++ = *p;
            continue;
        }

        if (last - p < 3) {
            return NGX_ERROR;
        }

        hi = ngx_hextoi(p + 1, 1);
        lo = ngx_hextoi(p + 2, 1);

        if (hi == NGX_ERROR || lo == NGX_ERROR) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (hi * 16 + lo);
        p += 2;
    }

    *n = d - dst;

    return NGX_OK;
}


static ngx_int_t
ngx_http_fib_reply(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ProtobufCMessage *msg)
{
    ngx_buf_t                     *b;
    Fibonacci__FibonacciResponse  *resp;

    resp = (Fibonacci__FibonacciResponse *) msg;

    b = ngx_create_temp_buf(r->pool, ngx_http_fib_item_size(resp));
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_fib_item_write(r, b->last, ctx->n, resp);

    if (b->last == NULL) {
        return ngx_http_fib_bad_value(r);
    }

    return ngx_http_fib_send_json(r, NGX_HTTP_OK, b);
}


/* room for the JSON of one answer */

size_t
ngx_http_fib_item_size(Fibonacci__FibonacciResponse *resp)
{
    size_t  vlen;

    vlen = (resp->value && resp->value[0]) ? ngx_strlen(resp->value)
                                           : NGX_INT64_LEN;

    return sizeof("{\"n\":,\"x\":,\"value\":\"\"}") + NGX_INT32_LEN
           + NGX_INT64_LEN + vlen;
}


/*
 * {"n":N,"x":F,"value":"F"} at p; returns its end, or NULL (logged) when
 * the value is not a decimal number.  Any server of the original contract
 * will do: one that sends only x (proto3 leaves it out when zero) gets its
 * value derived from x.
 */

u_char *
ngx_http_fib_item_write(ngx_http_request_t *r, u_char *p, int32_t n,
    Fibonacci__FibonacciResponse *resp)
{
    size_t      vlen;
    u_char     *value, xbuf[NGX_INT64_LEN];
    int64_t     x;
    ngx_int_t   fits;

    if (resp->value && resp->value[0]) {
        value = (u_char *) resp->value;
        vlen = ngx_strlen(value);

        fits = ngx_http_fib_decimal(value, vlen, &x);

        if (fits == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "fib: the Fibonacci service sent a value that is "
                          "not a decimal number: \"%*s\"",
                          ngx_min(vlen, 64), value);
            return NULL;
        }

    } else {
        x = resp->x;
        value = xbuf;
        vlen = ngx_sprintf(xbuf, "%L", x) - xbuf;
        fits = NGX_OK;
    }

    p = ngx_sprintf(p, "{\"n\":%D", n);

    if (fits == NGX_OK) {
        p = ngx_sprintf(p, ",\"x\":%L", x);
    }

    p = ngx_cpymem(p, ",\"value\":\"", sizeof(",\"value\":\"") - 1);
    p = ngx_cpymem(p, value, vlen);
    *p++ = '"';
    *p++ = '}';

    return p;
}


ngx_int_t
ngx_http_fib_bad_value(ngx_http_request_t *r)
{
    ngx_str_t  err = ngx_string("invalid value from the Fibonacci service");

    return ngx_http_fib_send_error(r, NGX_HTTP_BAD_GATEWAY,
                                   GRPC_STATUS_INTERNAL, &err);
}


/*
 * NGX_OK and *x set if p is a decimal that fits int64, NGX_DECLINED if
 * it is a larger decimal, NGX_ERROR if it is not a decimal at all.
 */

static ngx_int_t
ngx_http_fib_decimal(u_char *p, size_t len, int64_t *x)
{
    size_t     i;
    uint64_t   v;
    ngx_int_t  rc;

    rc = NGX_OK;
    v = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return NGX_ERROR;
        }

        if (rc == NGX_OK) {
            if (v > (uint64_t) (INT64_MAX - (p[i] - '0')) / 10) {
                rc = NGX_DECLINED;

            } else {
                v = v * 10 + (p[i] - '0');
            }
        }
    }

    *x = (int64_t) v;

    return rc;
}
