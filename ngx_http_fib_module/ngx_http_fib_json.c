
/*
 * ngx_http_fib_json.c - JSON output: sending a JSON body, the error body
 * {"error":"...","code":"..."}, gRPC status names and their HTTP statuses,
 * string escaping and number formatting.
 */


#include "ngx_http_fib_module.h"

#include <math.h>


static const char  *ngx_http_fib_status_names[] = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED"
};


const char *
ngx_http_fib_status_name(grpc_status_code code)
{
    if ((ngx_uint_t) code
        < sizeof(ngx_http_fib_status_names) / sizeof(char *))
    {
        return ngx_http_fib_status_names[code];
    }

    return "UNKNOWN";
}


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


ngx_int_t
ngx_http_fib_send_error(ngx_http_request_t *r, ngx_uint_t status,
    grpc_status_code code, ngx_str_t *message)
{
    size_t       len;
    ngx_buf_t   *b;
    const char  *name;

    name = ngx_http_fib_status_name(code);

    len = sizeof("{\"error\":\"\",\"code\":\"\"}") - 1
          + ngx_http_fib_json_escape_len(message->data, message->len)
          + ngx_strlen(name);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, "{\"error\":\"", sizeof("{\"error\":\"") - 1);
    b->last = ngx_http_fib_json_escape(b->last, message->data, message->len);
    b->last = ngx_sprintf(b->last, "\",\"code\":\"%s\"}", name);

    return ngx_http_fib_send_json(r, status, b);
}


size_t
ngx_http_fib_json_escape_len(u_char *src, size_t len)
{
    size_t   n;
    u_char  *last;

    n = len;

    for (last = src + len; src < last; src++) {
        if (*src == '"' || *src == '\\') {
            n++;

        } else if (*src < 0x20) {
            n += sizeof("\\u001f") - 2;
        }
    }

    return n;
}


u_char *
ngx_http_fib_json_escape(u_char *dst, u_char *src, size_t len)
{
    u_char  *last;

    for (last = src + len; src < last; src++) {

        if (*src == '"' || *src == '\\') {
            *dst++ = '\\';
            *dst++ = *src;

        } else if (*src < 0x20) {
            dst = ngx_sprintf(dst, "\\u%04xd", (ngx_uint_t) *src);

        } else {
            *dst++ = *src;
        }
    }

    return dst;
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
