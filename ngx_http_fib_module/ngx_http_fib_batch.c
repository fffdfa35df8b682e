
/*
 * ngx_http_fib_batch.c - batches: GET /fib?n=1,5,10 and POST /fib with a
 * JSON body {"n":[1,5,10]} (parsed with jansson), asked of
 * fibonacci.Fibonacci/GetFibBatch in one call and answered as a JSON array
 * of the unary answers, in request order.
 *
 * Every n is checked before the call: the first bad one is named in a 400;
 * more than fib_batch_max n is a 400.  The body is read with nginx's own
 * ngx_http_read_client_request_body(), never waiting: nginx calls back when
 * it is all there.  It must fit client_body_buffer_size (it is parsed in
 * memory, never read back from a temporary file); client_max_body_size is
 * enforced by nginx before the handler runs.
 */


#include "ngx_http_fib_module.h"

#include <jansson.h>


#define NGX_HTTP_FIB_BATCH_ERR_LEN  (JSON_ERROR_TEXT_LENGTH + 128)


static ngx_int_t ngx_http_fib_batch_refuse(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *err);
static void ngx_http_fib_batch_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_fib_batch_json(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, u_char *data, size_t len, ngx_str_t *err);
static ngx_int_t ngx_http_fib_batch_call(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);
static ngx_int_t ngx_http_fib_batch_reply(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ProtobufCMessage *msg);


/* "1,5,10": every item as the unary n */

ngx_int_t
ngx_http_fib_batch_get(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ngx_str_t *list)
{
    u_char      *p, *last, *end;
    int32_t      n;
    ngx_str_t    why, err;
    ngx_uint_t   i, count;
    u_char       buf[128];

    last = list->data + list->len;
    count = 1;

    for (p = list->data; p < last; p++) {
        if (*p == ',') {
            count++;
        }
    }

    if (count > ctx->conf->batch_max) {
        err.data = buf;
        err.len = ngx_snprintf(buf, sizeof(buf),
                               "too many n: %ui, at most %ui (fib_batch_max)",
                               count, ctx->conf->batch_max)
                  - buf;

        return ngx_http_fib_batch_refuse(r, NGX_HTTP_BAD_REQUEST, &err);
    }

    ctx->batch = ngx_palloc(r->pool, count * sizeof(int32_t));
    if (ctx->batch == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    for (p = list->data, i = 0; p <= last; p = end + 1, i++) {

        end = ngx_strlchr(p, last, ',');
        if (end == NULL) {
            end = last;
        }

        if (ngx_http_fib_parse_int(p, end - p, &n, &why) != NGX_OK) {
            err.data = ngx_pnalloc(r->pool, 64 + why.len + 32);
            if (err.data == NULL) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            err.len = ngx_snprintf(err.data, 64 + why.len + 32,
                                   "n[%ui] \"%*s\" %V", i,
                                   (size_t) ngx_min(end - p, 32), p, &why)
                      - err.data;

            return ngx_http_fib_batch_refuse(r, NGX_HTTP_BAD_REQUEST, &err);
        }

        ctx->batch[ctx->nbatch++] = n;
    }

    return ngx_http_fib_batch_call(r, ctx);
}


static ngx_int_t
ngx_http_fib_batch_refuse(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *err)
{
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "fib: bad batch: %V", err);

    return ngx_http_fib_send_error(r, status, GRPC_STATUS_INVALID_ARGUMENT,
                                   err);
}


/* POST /fib: Content-Type application/json, the body read without waiting */

ngx_int_t
ngx_http_fib_batch_post(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  err;
    ngx_http_core_loc_conf_t  *clcf;

    static ngx_str_t  json = ngx_string("application/json");

    if (r->headers_in.content_type == NULL
        || r->headers_in.content_type->value.len < json.len
        || ngx_strncasecmp(r->headers_in.content_type->value.data,
                           json.data, json.len) != 0
        || (r->headers_in.content_type->value.len > json.len
            && r->headers_in.content_type->value.data[json.len] != ';'
            && r->headers_in.content_type->value.data[json.len] != ' '))
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_str_set(&err, "a POST body must be application/json: "
                          "{\"n\":[...]}");

        return ngx_http_fib_batch_refuse(r, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                                         &err);
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->headers_in.content_length_n > (off_t) clcf->client_body_buffer_size)
    {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_str_set(&err, "request body larger than client_body_buffer_size");

        return ngx_http_fib_batch_refuse(r,
                                         NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                         &err);
    }

    if (ngx_http_fib_ctx_create(r) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_fib_batch_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/* the body is all there */

static void
ngx_http_fib_batch_body(ngx_http_request_t *r)
{
    u_char              *data, *p;
    size_t               len;
    ngx_int_t            rc;
    ngx_str_t            err;
    ngx_chain_t         *cl;
    ngx_http_fib_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    len = 0;

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl;
         cl = cl->next)
    {
        if (!ngx_buf_in_memory(cl->buf)) {
            ngx_str_set(&err, "request body larger than "
                              "client_body_buffer_size");

            ngx_http_finalize_request(r, ngx_http_fib_batch_refuse(r,
                                      NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                      &err));
            return;
        }

        len += cl->buf->last - cl->buf->pos;
    }

    data = ngx_pnalloc(r->pool, len + 1);
    if (data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = data;

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl;
         cl = cl->next)
    {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    rc = ngx_http_fib_batch_json(r, ctx, data, len, &err);

    if (rc == NGX_OK) {
        rc = ngx_http_fib_batch_call(r, ctx);

    } else if (rc == NGX_DECLINED) {
        rc = ngx_http_fib_batch_refuse(r, NGX_HTTP_BAD_REQUEST, &err);

    } else {
        rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_finalize_request(r, rc);
}


/*
 * {"n":[1,5,10]}: NGX_OK and ctx->batch; NGX_DECLINED and why not in *err
 * (from the request pool); NGX_ERROR.
 */

static ngx_int_t
ngx_http_fib_batch_json(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    u_char *data, size_t len, ngx_str_t *err)
{
    size_t        i, count;
    u_char       *buf;
    json_t       *root, *list, *item;
    json_int_t    v;
    ngx_int_t     rc;
    json_error_t  jerr;

    buf = ngx_pnalloc(r->pool, NGX_HTTP_FIB_BATCH_ERR_LEN);
    if (buf == NULL) {
        return NGX_ERROR;
    }

    err->data = buf;

    root = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES,
                      &jerr);

    if (root == NULL) {
        err->len = ngx_snprintf(buf, NGX_HTTP_FIB_BATCH_ERR_LEN,
                                "invalid JSON body: %s at line %d column %d",
                                jerr.text, jerr.line, jerr.column)
                   - buf;

        return NGX_DECLINED;
    }

    list = json_is_object(root) ? json_object_get(root, "n") : NULL;

    if (list == NULL || !json_is_array(list)) {
        json_decref(root);

        ngx_str_set(err, "the body must be an object with an array "
                         "\"n\": {\"n\":[1,5,10]}");

        return NGX_DECLINED;
    }

    count = json_array_size(list);

    if (count > ctx->conf->batch_max) {
        json_decref(root);

        err->len = ngx_snprintf(buf, NGX_HTTP_FIB_BATCH_ERR_LEN,
                                "too many n: %uz, at most %ui (fib_batch_max)",
                                count, ctx->conf->batch_max)
                   - buf;

        return NGX_DECLINED;
    }

    ctx->batch = ngx_palloc(r->pool, (count ? count : 1) * sizeof(int32_t));
    if (ctx->batch == NULL) {
        json_decref(root);
        return NGX_ERROR;
    }

    rc = NGX_OK;

    json_array_foreach(list, i, item) {

        if (!json_is_integer(item)) {
            err->len = ngx_snprintf(buf, NGX_HTTP_FIB_BATCH_ERR_LEN,
                                    "n[%uz] must be an integer, not %s", i,
                                    json_is_string(item) ? "a string"
                                    : json_is_real(item) ? "a fraction"
                                    : json_is_null(item) ? "null"
                                    : json_is_boolean(item) ? "a boolean"
                                    : "an array or object")
                       - buf;
            rc = NGX_DECLINED;
            break;
        }

        v = json_integer_value(item);

        if (v < 0 || v > NGX_MAX_INT32_VALUE) {
            err->len = ngx_snprintf(buf, NGX_HTTP_FIB_BATCH_ERR_LEN,
                                    "n[%uz] = %L must be between 0 and "
                                    "2147483647", i, (int64_t) v)
                       - buf;
            rc = NGX_DECLINED;
            break;
        }

        ctx->batch[ctx->nbatch++] = (int32_t) v;
    }

    json_decref(root);

    return rc;
}


static ngx_int_t
ngx_http_fib_batch_call(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    Fibonacci__FibBatchRequest  req = FIBONACCI__FIB_BATCH_REQUEST__INIT;

    req.n_n = ctx->nbatch;
    req.n = ctx->batch;
    req.exact = 1;

    ctx->method = NGX_HTTP_FIB_GET_FIB_BATCH;

    return ngx_http_fib_call_begin(r, ctx, &req.base,
                                   &fibonacci__fib_batch_response__descriptor,
                                   ngx_http_fib_batch_reply);
}


/* [{"n":1,...},...], in request order */

static ngx_int_t
ngx_http_fib_batch_reply(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ProtobufCMessage *msg)
{
    size_t                       size;
    ngx_buf_t                   *b;
    ngx_uint_t                   i;
    Fibonacci__FibBatchResponse *resp;

    resp = (Fibonacci__FibBatchResponse *) msg;

    if (resp->n_results != ctx->nbatch) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fib: GetFibBatch answered %uz values for %ui n",
                      resp->n_results, ctx->nbatch);

        return ngx_http_fib_bad_value(r);
    }

    size = sizeof("[]");

    for (i = 0; i < ctx->nbatch; i++) {
        size += ngx_http_fib_item_size(resp->results[i]) + 1;
    }

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    *b->last++ = '[';

    for (i = 0; i < ctx->nbatch; i++) {
        if (i > 0) {
            *b->last++ = ',';
        }

        b->last = ngx_http_fib_item_write(r, b->last, ctx->batch[i],
                                          resp->results[i]);
        if (b->last == NULL) {
            return ngx_http_fib_bad_value(r);
        }
    }

    *b->last++ = ']';

    return ngx_http_fib_send_json(r, NGX_HTTP_OK, b);
}
