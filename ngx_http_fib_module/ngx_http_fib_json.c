
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
    return ngx_http_fib_send(r, status, "application/json", b);
}


/* a whole response in one buffer, b's bytes as they are, of this type */

ngx_int_t
ngx_http_fib_send(ngx_http_request_t *r, ngx_uint_t status, char *type,
    ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;

    r->headers_out.content_type.data = (u_char *) type;
    r->headers_out.content_type.len = ngx_strlen(type);
    r->headers_out.content_type_len = r->headers_out.content_type.len;
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


/* a request refused before any call: logged at info, 400 with why */

ngx_int_t
ngx_http_fib_bad_request(ngx_http_request_t *r, ngx_str_t *err)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "fib: bad request: %V", err);

    return ngx_http_fib_send_error(r, NGX_HTTP_BAD_REQUEST,
                                   GRPC_STATUS_INVALID_ARGUMENT, err);
}


/*
 * A double as JSON, in as few digits as read back as the same double.
 * First as an integer x over 10^k for the smallest k that does: x / 10^k,
 * both exact doubles, is correctly rounded like strtod() of the decimal,
 * so the comparison proves the digits.  That covers an average time of
 * whole nanoseconds (or near) at a small fraction of what snprintf()
 * costs, the whole of a large /stats; else the shortest of %.15g and
 * %.17g that reads back.
 */

u_char *
ngx_http_fib_json_double(u_char *p, double d)
{
    int         n, k, i;
    char        buf[NGX_HTTP_FIB_DOUBLE_LEN];
    double      scaled;
    uint64_t    x, unit;

    static const double  pow10[] = {
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15
    };

    if (!isfinite(d)) {
        *p++ = '0';
        return p;
    }

    if (d >= 0 && d < 1e15) {

        for (k = 0; k < (int) (sizeof(pow10) / sizeof(pow10[0])); k++) {
            scaled = d * pow10[k];

            if (scaled >= 9007199254740992.0) {       /* 2^53 */
                break;
            }

            x = (uint64_t) (scaled + 0.5);

            if ((double) x / pow10[k] != d) {
                continue;
            }

            unit = (uint64_t) pow10[k];
            p = ngx_sprintf(p, "%uL", x / unit);

            if (k == 0) {
                return p;
            }

            *p++ = '.';
            x %= unit;

            for (i = k - 1; i >= 0; i--) {
                p[i] = (u_char) ('0' + x % 10);
                x /= 10;
            }

            return p + k;
        }
    }

    n = snprintf(buf, sizeof(buf), "%.15g", d);

    if (strtod(buf, NULL) != d) {
        n = snprintf(buf, sizeof(buf), "%.17g", d);
    }

    return ngx_cpymem(p, buf, n);
}
