
/*
 * ngx_http_fib_stats.c - the fib_stats_pass content handler: GET /stats
 * asks stats.Stats/GetStats and answers the original gateway's keys,
 * entries sorted by n, plus the fields the original contract lacks.
 */


#include "ngx_http_fib_module.h"

#include "stats/stats.pb-c.h"


static ngx_int_t ngx_http_fib_stats_reply(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ProtobufCMessage *msg);
static int ngx_libc_cdecl ngx_http_fib_stats_cmp(const void *one,
    const void *two);


#define NGX_HTTP_FIB_STAT_LEN                                                 \
    (sizeof("{\"n\":,\"request_count\":,\"average_time_ms\":,"                \
            "\"request_count64\":,\"min_duration_ns\":,"                      \
            "\"max_duration_ns\":,\"total_duration_ns\":,"                    \
            "\"cache_hits\":,\"cache_misses\":},")                            \
     + 2 * NGX_INT32_LEN + NGX_HTTP_FIB_DOUBLE_LEN + 6 * NGX_INT64_LEN)


ngx_int_t
ngx_http_fib_stats_handler(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_http_fib_ctx_t      *ctx;
    Google__Protobuf__Empty  req = GOOGLE__PROTOBUF__EMPTY__INIT;

    rc = ngx_http_fib_request_init(r, &ctx);
    if (ctx == NULL) {
        return rc;
    }

    return ngx_http_fib_call_begin(r, ctx, &req.base,
                                   &stats__stats_response__descriptor,
                                   ngx_http_fib_stats_reply);
}


/*
 * A server of the original contract sends none of the added fields: the
 * *64 counts are taken from the int32 ones then, so they are never less
 * than those, and the fields it has no value for are left out.  Such an
 * entry is known by a request_count with no request_count64: ours always
 * sends both.
 */

static ngx_int_t
ngx_http_fib_stats_reply(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ProtobufCMessage *msg)
{
    size_t                 i, size;
    uint64_t               total, count;
    ngx_uint_t             original;
    ngx_buf_t             *b;
    Stats__FibonacciStat  *st, **sorted;
    Stats__StatsResponse  *resp;

    resp = (Stats__StatsResponse *) msg;

    sorted = resp->fibonacci_stats;

    if (resp->n_fibonacci_stats > 1) {
        sorted = ngx_palloc(r->pool, resp->n_fibonacci_stats * sizeof(void *));
        if (sorted == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memcpy(sorted, resp->fibonacci_stats,
                   resp->n_fibonacci_stats * sizeof(void *));

        ngx_qsort(sorted, resp->n_fibonacci_stats, sizeof(void *),
                  ngx_http_fib_stats_cmp);
    }

    size = sizeof("{\"total_requests\":,\"fibonacci_stats\":[],"
                  "\"total_requests64\":}")
           + NGX_INT32_LEN + NGX_INT64_LEN
           + resp->n_fibonacci_stats * NGX_HTTP_FIB_STAT_LEN;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "{\"total_requests\":%D,"
                          "\"fibonacci_stats\":[", resp->total_requests);

    for (i = 0; i < resp->n_fibonacci_stats; i++) {
        st = sorted[i];

        count = st->request_count64;
        original = (count == 0 && st->request_count > 0);

        if (original) {
            count = (uint64_t) st->request_count;
        }

        b->last = ngx_sprintf(b->last, "%s{\"n\":%D,\"request_count\":%D,"
                              "\"average_time_ms\":",
                              i ? "," : "", st->n, st->request_count);

        b->last = ngx_http_fib_json_double(b->last, st->average_time_ms);

        b->last = ngx_sprintf(b->last, ",\"request_count64\":%uL", count);

        if (original) {
            *b->last++ = '}';
            continue;
        }

        b->last = ngx_sprintf(b->last, ",\"min_duration_ns\":%L,"
                              "\"max_duration_ns\":%L,"
                              "\"total_duration_ns\":%uL,"
                              "\"cache_hits\":%uL,\"cache_misses\":%uL}",
                              st->min_duration_ns,
                              st->max_duration_ns, st->total_duration_ns,
                              st->cache_hits, st->cache_misses);
    }

    total = resp->total_requests64;
    if (total == 0 && resp->total_requests > 0) {
        total = (uint64_t) resp->total_requests;
    }

    b->last = ngx_sprintf(b->last, "],\"total_requests64\":%uL}", total);

    return ngx_http_fib_send_json(r, NGX_HTTP_OK, b);
}


static int ngx_libc_cdecl
ngx_http_fib_stats_cmp(const void *one, const void *two)
{
    const Stats__FibonacciStat  *a, *b;

    a = *(Stats__FibonacciStat * const *) one;
    b = *(Stats__FibonacciStat * const *) two;

    return (a->n > b->n) - (a->n < b->n);
}
