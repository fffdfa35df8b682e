
/*
 * ngx_http_fib_json.c - JSON output: sending a JSON body, the error body
 * {"error":"...","code":"..."} (escaped by nginx's ngx_escape_json(), named
 * by common/rpc_status.c), HTTP statuses for gRPC ones, number formatting.
 */


#include "ngx_http_fib_module.h"

#include <math.h>


ngx_uint_t
ngx_http_fib_http_status(grpc_status_code code)
{
    switch (code) {

    case GRPC_STATUS_OK:
        return NGX_HTTP_OK;

    case GRPC_STATUS_INVALID_ARGUMENT:
    case GRPC_STATUS_OUT_OF_RANGE:
        return NGX_HTTP_BAD_REQUEST;

    case GRPC_STATUS_UNAVAILABLE:
        return NGX_HTTP_SERVICE_UNAVAILABLE;

    case GRPC_STATUS_DEADLINE_EXCEEDED:
        return NGX_HTTP_GATEWAY_TIME_OUT;

    default:
        return NGX_HTTP_BAD_GATEWAY;
    }
}


ngx_int_t
ngx_http_fib_send_json(ngx_http_request_t *r, ngx_uint_t status,
    ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = sizeof("application/json") - 1;
    r->headers_out.content_type_lowcase = NULL;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * After a call, $fib_grpc_status names the code the body names: a reply
 * that came with OK but cannot be used (502) is INTERNAL, not OK.
 */

ngx_int_t
ngx_http_fib_send_error(ngx_http_request_t *r, ngx_uint_t status,
    grpc_status_code code, ngx_str_t *message)
{
    size_t               len;
    ngx_buf_t           *b;
    const char          *name;
    ngx_http_fib_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    if (ctx && ctx->has_status) {
        ctx->status = code;
    }

    name = rpc_status_name(code);

    len = sizeof("{\"error\":\"\",\"code\":\"\"}") - 1
          + message->len
          + ngx_escape_json(NULL, message->data, message->len)
          + ngx_strlen(name);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, "{\"error\":\"", sizeof("{\"error\":\"") - 1);
    b->last = (u_char *) ngx_escape_json(b->last, message->data,
                                         message->len);
    b->last = ngx_sprintf(b->last, "\",\"code\":\"%s\"}", name);

    return ngx_http_fib_send_json(r, status, b);
}


/* the shortest of %.15g and %.17g that reads back as the same double */

u_char *
ngx_http_fib_json_double(u_char *p, double d)
{
    int   n;
    char  buf[NGX_HTTP_FIB_DOUBLE_LEN];

    if (!isfinite(d)) {
        *p++ = '0';
        return p;
    }

    n = snprintf(buf, sizeof(buf), "%.15g", d);

    if (strtod(buf, NULL) != d) {
        n = snprintf(buf, sizeof(buf), "%.17g", d);
    }

    return ngx_cpymem(p, buf, n);
}
