
/*
 * ngx_http_fib_variables.c - $fib_n, $fib_grpc_status, $fib_attempts,
 * $fib_upstream_time, $fib_trace_id, $fib_span_id and $fib_request_id
 * (their handler is in ngx_http_fib_trace.c), for access logs; not found
 * where nothing was asked.
 * $fib_stream_items, $fib_stream_bytes and $fib_stream_resumed describe a
 * streamed range; not found for other requests.
 */


#include "ngx_http_fib_module.h"


static ngx_int_t ngx_http_fib_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


#define NGX_HTTP_FIB_VAR_N              0
#define NGX_HTTP_FIB_VAR_STATUS         1
#define NGX_HTTP_FIB_VAR_ATTEMPTS       2
#define NGX_HTTP_FIB_VAR_UPSTREAM_TIME  3
#define NGX_HTTP_FIB_VAR_STREAM_ITEMS   4
#define NGX_HTTP_FIB_VAR_STREAM_BYTES   5
#define NGX_HTTP_FIB_VAR_STREAM_RESUMED 6


static ngx_http_variable_t  ngx_http_fib_vars[] = {

    { ngx_string("fib_n"), NULL, ngx_http_fib_variable,
      NGX_HTTP_FIB_VAR_N, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_grpc_status"), NULL, ngx_http_fib_variable,
      NGX_HTTP_FIB_VAR_STATUS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_attempts"), NULL, ngx_http_fib_variable,
      NGX_HTTP_FIB_VAR_ATTEMPTS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_upstream_time"), NULL, ngx_http_fib_variable,
      NGX_HTTP_FIB_VAR_UPSTREAM_TIME, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_trace_id"), NULL, ngx_http_fib_trace_variable,
      0, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_span_id"), NULL, ngx_http_fib_trace_variable,
      1, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_request_id"), NULL, ngx_http_fib_trace_variable,
      2, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_stream_items"), NULL, ngx_http_fib_variable,
      NGX_HTTP_FIB_VAR_STREAM_ITEMS, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_stream_bytes"), NULL, ngx_http_fib_variable,
      NGX_HTTP_FIB_VAR_STREAM_BYTES, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("fib_stream_resumed"), NULL, ngx_http_fib_variable,
      NGX_HTTP_FIB_VAR_STREAM_RESUMED, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_fib_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_fib_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_fib_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char              *p;
    const char          *name;
    ngx_http_fib_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    if (ctx == NULL
        || (data == NGX_HTTP_FIB_VAR_N && !ctx->has_n)
        || (data != NGX_HTTP_FIB_VAR_N && ctx->attempts == 0)
        || (data >= NGX_HTTP_FIB_VAR_STREAM_ITEMS && !ctx->stream))
    {
        v->not_found = 1;
        return NGX_OK;
    }

    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;

    if (data == NGX_HTTP_FIB_VAR_STATUS) {

        if (!ctx->has_status) {
            v->not_found = 1;
            return NGX_OK;
        }

        name = rpc_status_name(ctx->status);
        v->data = (u_char *) name;
        v->len = ngx_strlen(name);

        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->data = p;

    switch (data) {

    case NGX_HTTP_FIB_VAR_N:
        p = ngx_sprintf(p, "%D", ctx->n);
        break;

    case NGX_HTTP_FIB_VAR_ATTEMPTS:
        p = ngx_sprintf(p, "%ui", ctx->attempts);
        break;

    case NGX_HTTP_FIB_VAR_STREAM_ITEMS:
        p = ngx_sprintf(p, "%ui", ctx->stream_items);
        break;

    case NGX_HTTP_FIB_VAR_STREAM_BYTES:
        p = ngx_sprintf(p, "%O", ctx->stream_bytes);
        break;

    case NGX_HTTP_FIB_VAR_STREAM_RESUMED:
        p = ngx_sprintf(p, "%ui", ctx->stream_resumed);
        break;

    default: /* NGX_HTTP_FIB_VAR_UPSTREAM_TIME */
        p = ngx_sprintf(p, "%T.%03M",
                        (time_t) ctx->upstream_time / 1000,
                        ctx->upstream_time % 1000);
        break;
    }

    v->len = p - v->data;

    return NGX_OK;
}
