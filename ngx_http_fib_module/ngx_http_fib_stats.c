
/*
 * ngx_http_fib_stats.c - the fib_stats_pass content handler.
 *
 * GET /stats answers the original gateway's keys, entries sorted by n,
 * plus the fields the original contract lacks.  It is built and sent page
 * by page: stats.Stats/Query for NGX_HTTP_FIB_STATS_PAGE entries, the page
 * formatted and sent, and the next page asked for once the client took
 * it, so no event-loop step formats more than one page and the memory of
 * a request stays that of two pages, whatever the size of the table.  A
 * stats server of the original contract (no Query) gets one GetStats.
 *
 * Query parameters (n, from, to, by, order, limit, top, page) select,
 * order and cut what is shown; the answer then says how many entries
 * matched and, when there are more, the token and link of the next page.
 */


#include "ngx_http_fib_module.h"

#include "stats/stats.pb-c.h"


/* entries asked for per Query: one event-loop step formats at most this */
#define NGX_HTTP_FIB_STATS_PAGE      512

/* as stats-service's: n listed, entries per answer */
#define NGX_HTTP_FIB_STATS_MAX_NS    1000
#define NGX_HTTP_FIB_STATS_MAX_LIMIT 10000
#define NGX_HTTP_FIB_STATS_LIMIT     100


typedef struct {
    Stats__StatsQuery          query;        /* the next page's */
    Stats__NRange              range;
    u_char                     token[128];   /* the next page's token */

    ngx_uint_t                 filtered;     /* query parameters given */
    ngx_uint_t                 top;          /* top=: no next page */
    uint64_t                   left;         /* entries still to show */
    uint64_t                   total;        /* from the first page */
    ngx_uint_t                 shown;        /* entries shown so far */
    ngx_uint_t                 begun;        /* the first page sent */
    ngx_uint_t                 has_streams;  /* the first page had them */
    Stats__StreamStats         streams;      /* the first page's */

    size_t                     buf_size;
    ngx_chain_t               *free;
    ngx_chain_t               *busy;
} ngx_http_fib_stats_ctx_t;


static ngx_int_t ngx_http_fib_stats_args(ngx_http_request_t *r,
    ngx_http_fib_stats_ctx_t *sctx, ngx_str_t *err);
static ngx_int_t ngx_http_fib_stats_uint(ngx_http_request_t *r,
    char *name, uint64_t min, uint64_t max, uint64_t *v, ngx_str_t *err);
static ngx_int_t ngx_http_fib_stats_ns(ngx_http_request_t *r,
    ngx_http_fib_stats_ctx_t *sctx, ngx_str_t *value, ngx_str_t *err);
static ngx_int_t ngx_http_fib_stats_page(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ProtobufCMessage *msg);
static u_char *ngx_http_fib_stats_tail(ngx_http_request_t *r,
    ngx_http_fib_stats_ctx_t *sctx, u_char *p, Stats__StatsPage *page,
    ngx_uint_t more);
static ngx_int_t ngx_http_fib_stats_next(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);
static void ngx_http_fib_stats_write(ngx_http_request_t *r);
static ngx_int_t ngx_http_fib_stats_fallback(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx);
static ngx_int_t ngx_http_fib_stats_reply(ngx_http_request_t *r,
    ngx_http_fib_ctx_t *ctx, ProtobufCMessage *msg);
static u_char *ngx_http_fib_stats_entry(u_char *p, Stats__FibonacciStat *st);
static u_char *ngx_http_fib_stats_streams(u_char *p, Stats__StreamStats *st);
static int ngx_libc_cdecl ngx_http_fib_stats_cmp(const void *one,
    const void *two);


#define NGX_HTTP_FIB_STAT_LEN                                                 \
    (sizeof("{\"n\":,\"request_count\":,\"average_time_ms\":,"                \
            "\"request_count64\":,\"min_duration_ns\":,"                      \
            "\"max_duration_ns\":,\"total_duration_ns\":,"                    \
            "\"cache_hits\":,\"cache_misses\":},")                            \
     + 2 * NGX_INT32_LEN + NGX_HTTP_FIB_DOUBLE_LEN + 6 * NGX_INT64_LEN)

#define NGX_HTTP_FIB_STATS_STREAMS_LEN                                        \
    (sizeof(",\"streams\":{\"count\":,\"items\":,\"total_duration_ns\":,"     \
            "\"average_time_ms\":,\"incomplete\":}")                           \
     + 4 * NGX_INT64_LEN + NGX_HTTP_FIB_DOUBLE_LEN)

/* what surrounds the entries, but the next link */
#define NGX_HTTP_FIB_STATS_FRAME_LEN                                          \
    (sizeof("{\"total_requests\":,\"total_requests64\":,\"matched\":,"        \
            "\"fibonacci_stats\":[],\"next_page_token\":\"\",\"next\":\"\"}") \
     + NGX_INT32_LEN + 2 * NGX_INT64_LEN + NGX_HTTP_FIB_STATS_STREAMS_LEN)


ngx_int_t
ngx_http_fib_stats_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  err;
    ngx_http_fib_ctx_t        *ctx;
    ngx_http_fib_stats_ctx_t  *sctx;

    rc = ngx_http_fib_request_init(r, &ctx);
    if (ctx == NULL) {
        return rc;
    }

    sctx = ngx_pcalloc(r->pool, sizeof(ngx_http_fib_stats_ctx_t));
    if (sctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    stats__stats_query__init(&sctx->query);
    stats__nrange__init(&sctx->range);

    rc = ngx_http_fib_stats_args(r, sctx, &err);

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_fib_bad_request(r, &err);
    }

    /* each page is unpacked here and let go once it is formatted */

    if (ngx_http_fib_reply_pool(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    sctx->buf_size = NGX_HTTP_FIB_STATS_FRAME_LEN
                     + NGX_HTTP_FIB_STATS_PAGE * NGX_HTTP_FIB_STAT_LEN
                     + 6 * (r->uri.len + r->args.len)
                     + 3 * sizeof(sctx->token);

    sctx->query.limit = (uint32_t) ngx_min(sctx->left,
                                           NGX_HTTP_FIB_STATS_PAGE);

    ctx->data = sctx;
    ctx->method = NGX_HTTP_FIB_QUERY_STATS;

    if (!sctx->filtered) {
        ctx->fallback = ngx_http_fib_stats_fallback;
    }

    return ngx_http_fib_call_begin(r, ctx, &sctx->query.base,
                                   &stats__stats_page__descriptor,
                                   ngx_http_fib_stats_page);
}


/*
 * The query parameters into sctx->query; NGX_DECLINED and *err when one is
 * bad.  Without any, every entry ordered by n, in the original's shape.
 */

static ngx_int_t
ngx_http_fib_stats_args(ngx_http_request_t *r,
    ngx_http_fib_stats_ctx_t *sctx, ngx_str_t *err)
{
    uint64_t   v;
    ngx_int_t  rc;
    ngx_str_t  name, value;

    sctx->left = (uint64_t) -1;

    /* n=1,5,10 */

    ngx_str_set(&name, "n");
    rc = ngx_http_fib_query_arg(r, &name, &value);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        sctx->filtered = 1;

        rc = ngx_http_fib_stats_ns(r, sctx, &value, err);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    /* from=A&to=B, either left out: 0 and 2147483647 */

    sctx->range.to = NGX_MAX_INT32_VALUE;

    rc = ngx_http_fib_stats_uint(r, "from", 0, NGX_MAX_INT32_VALUE, &v,
                                 err);
    if (rc == NGX_OK) {
        sctx->range.from = (int32_t) v;
        sctx->query.range = &sctx->range;

    } else if (rc != NGX_DONE) {
        return rc;
    }

    rc = ngx_http_fib_stats_uint(r, "to", 0, NGX_MAX_INT32_VALUE, &v, err);
    if (rc == NGX_OK) {
        sctx->range.to = (int32_t) v;
        sctx->query.range = &sctx->range;

    } else if (rc != NGX_DONE) {
        return rc;
    }

    if (sctx->range.from > sctx->range.to) {
        ngx_str_set(err, "from must not be greater than to");
        return NGX_DECLINED;
    }

    /* by=n|count|avg&order=asc|desc: count and avg go down by default */

    ngx_str_set(&name, "by");
    rc = ngx_http_fib_query_arg(r, &name, &value);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        if (value.len == 1 && value.data[0] == 'n') {
            sctx->query.order_by = STATS__STATS_ORDER__ORDER_N;

        } else if (value.len == 5
                   && ngx_strncmp(value.data, "count", 5) == 0)
        {
            sctx->query.order_by = STATS__STATS_ORDER__ORDER_COUNT;
            sctx->query.descending = 1;

        } else if (value.len == 3 && ngx_strncmp(value.data, "avg", 3) == 0) {
            sctx->query.order_by = STATS__STATS_ORDER__ORDER_AVERAGE_TIME;
            sctx->query.descending = 1;

        } else {
            ngx_str_set(err, "by must be n, count or avg");
            return NGX_DECLINED;
        }
    }

    ngx_str_set(&name, "order");
    rc = ngx_http_fib_query_arg(r, &name, &value);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        if (value.len == 3 && ngx_strncmp(value.data, "asc", 3) == 0) {
            sctx->query.descending = 0;

        } else if (value.len == 4
                   && ngx_strncmp(value.data, "desc", 4) == 0)
        {
            sctx->query.descending = 1;

        } else {
            ngx_str_set(err, "order must be asc or desc");
            return NGX_DECLINED;
        }
    }

    /* limit=L, top=K, page=TOKEN */

    rc = ngx_http_fib_stats_uint(r, "limit", 1,
                                 NGX_HTTP_FIB_STATS_MAX_LIMIT, &v, err);
    if (rc == NGX_OK) {
        sctx->left = v;

    } else if (rc != NGX_DONE) {
        return rc;
    }

    rc = ngx_http_fib_stats_uint(r, "top", 1,
                                 NGX_HTTP_FIB_STATS_MAX_LIMIT, &v, err);
    if (rc == NGX_OK) {
        if (sctx->left != (uint64_t) -1) {
            ngx_str_set(err, "top and limit do not go together");
            return NGX_DECLINED;
        }

        sctx->left = v;
        sctx->top = 1;

    } else if (rc != NGX_DONE) {
        return rc;
    }

    ngx_str_set(&name, "page");
    rc = ngx_http_fib_query_arg(r, &name, &value);

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    if (rc == NGX_OK) {
        if (sctx->top) {
            ngx_str_set(err, "top answers one page: no page");
            return NGX_DECLINED;
        }

        if (value.len == 0 || value.len >= sizeof(sctx->token)) {
            ngx_str_set(err, "page is not a page token");
            return NGX_DECLINED;
        }

        ngx_memcpy(sctx->token, value.data, value.len);
        sctx->token[value.len] = '\0';
        sctx->query.page_token = (char *) sctx->token;
        sctx->filtered = 1;
    }

    if (sctx->query.range || sctx->query.order_by || sctx->query.descending
        || sctx->left != (uint64_t) -1)
    {
        sctx->filtered = 1;
    }

    if (sctx->filtered && sctx->left == (uint64_t) -1) {
        sctx->left = NGX_HTTP_FIB_STATS_LIMIT;
    }

    return NGX_OK;
}


/* a decimal argument from min to max; NGX_DONE when it is absent */

static ngx_int_t
ngx_http_fib_stats_uint(ngx_http_request_t *r, char *name, uint64_t min,
    uint64_t max, uint64_t *v, ngx_str_t *err)
{
    u_char     *p;
    ngx_int_t   rc;
    ngx_str_t   arg, value;

    arg.data = (u_char *) name;
    arg.len = ngx_strlen(name);

    rc = ngx_http_fib_query_arg(r, &arg, &value);

    if (rc == NGX_DECLINED) {
        return NGX_DONE;
    }

    if (rc != NGX_OK) {
        return rc;
    }

    *v = 0;

    for (p = value.data; p < value.data + value.len; p++) {
        if (*p < '0' || *p > '9' || *v > max) {
            break;
        }

        *v = *v * 10 + (*p - '0');
    }

    if (value.len == 0 || p < value.data + value.len || *v > max || *v < min) {
        err->data = ngx_pnalloc(r->pool, NGX_INT64_LEN * 2 + 64);
        if (err->data == NULL) {
            return NGX_ERROR;
        }

        err->len = ngx_sprintf(err->data, "%s must be an integer from %uL "
                               "to %uL", name, min, max) - err->data;
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* n=1,5,10: up to NGX_HTTP_FIB_STATS_MAX_NS n */

static ngx_int_t
ngx_http_fib_stats_ns(ngx_http_request_t *r, ngx_http_fib_stats_ctx_t *sctx,
    ngx_str_t *value, ngx_str_t *err)
{
    u_char   *p, *last, *start;
    size_t    count;
    int64_t   n;

    count = 1;
    last = value->data + value->len;

    for (p = value->data; p < last; p++) {
        count += (*p == ',');
    }

    if (count > NGX_HTTP_FIB_STATS_MAX_NS) {
        ngx_str_set(err, "n lists at most 1000 numbers");
        return NGX_DECLINED;
    }

    sctx->query.n = ngx_palloc(r->pool, count * sizeof(int32_t));
    if (sctx->query.n == NULL) {
        return NGX_ERROR;
    }

    p = value->data;

    for ( ;; ) {
        start = p;
        n = 0;

        while (p < last && *p >= '0' && *p <= '9' && n <= NGX_MAX_INT32_VALUE)
        {
            n = n * 10 + (*p++ - '0');
        }

        if (p == start || n > NGX_MAX_INT32_VALUE || (p < last && *p != ','))
        {
            ngx_str_set(err, "n must be a comma-separated list of integers "
                             "from 0 to 2147483647");
            return NGX_DECLINED;
        }

        sctx->query.n[sctx->query.n_n++] = (int32_t) n;

        if (p == last) {
            return NGX_OK;
        }

        p++;
    }
}


/*
 * A page of Query: formatted, sent, and the next one asked for at once or
 * once the client took this one.
 */

static ngx_int_t
ngx_http_fib_stats_page(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ProtobufCMessage *msg)
{
    size_t                     i, len;
    u_char                    *p;
    ngx_int_t                  rc;
    ngx_buf_t                 *b;
    ngx_uint_t                 more, last;
    ngx_chain_t               *cl;
    Stats__StatsPage          *page;
    ngx_http_fib_stats_ctx_t  *sctx;

    page = (Stats__StatsPage *) msg;
    sctx = ctx->data;

    len = ngx_min(page->n_fibonacci_stats, sctx->left);

    if (len > NGX_HTTP_FIB_STATS_PAGE) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "fib: Query sent %uz entries for a page of %uD",
                      page->n_fibonacci_stats, sctx->query.limit);
        len = NGX_HTTP_FIB_STATS_PAGE;
    }

    sctx->left -= len;

    more = page->next_page_token[0] != '\0'
           && ngx_strlen(page->next_page_token) < sizeof(sctx->token);
    last = !more || sctx->left == 0;

    if (!r->header_sent) {
        sctx->total = page->total_requests64;

        if (page->streams) {
            sctx->has_streams = 1;
            stats__stream_stats__init(&sctx->streams);
            sctx->streams.count = page->streams->count;
            sctx->streams.items = page->streams->items;
            sctx->streams.total_duration_ns =
                                         page->streams->total_duration_ns;
            sctx->streams.average_time_ms = page->streams->average_time_ms;
            sctx->streams.incomplete = page->streams->incomplete;
        }

        r->headers_out.status = NGX_HTTP_OK;
        r->headers_out.content_length_n = -1;

        ngx_str_set(&r->headers_out.content_type, "application/json");
        r->headers_out.content_type_len = sizeof("application/json") - 1;
        r->headers_out.content_type_lowcase = NULL;

        rc = ngx_http_send_header(r);

        if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
            ngx_reset_pool(ctx->reply_pool);
            return rc;
        }
    }

    cl = ngx_chain_get_free_buf(r->pool, &sctx->free);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = cl->buf;

    if (b->start == NULL) {
        b->start = ngx_palloc(r->pool, sctx->buf_size);
        if (b->start == NULL) {
            return NGX_ERROR;
        }

        b->end = b->start + sctx->buf_size;
        b->temporary = 1;
        b->tag = (ngx_buf_tag_t) &ngx_http_fib_module;
    }

    b->pos = b->start;
    p = b->start;

    if (!sctx->begun) {
        sctx->begun = 1;

        p = ngx_sprintf(p, "{\"total_requests\":%D,",
                        (int32_t) ngx_min(sctx->total, NGX_MAX_INT32_VALUE));

        if (sctx->filtered) {
            p = ngx_sprintf(p, "\"total_requests64\":%uL,\"matched\":%uL,",
                            sctx->total, page->matched);
        }

        p = ngx_cpymem(p, "\"fibonacci_stats\":[",
                       sizeof("\"fibonacci_stats\":[") - 1);
    }

    for (i = 0; i < len; i++) {
        if (sctx->shown++) {
            *p++ = ',';
        }

        p = ngx_http_fib_stats_entry(p, page->fibonacci_stats[i]);
    }

    if (last) {
        p = ngx_http_fib_stats_tail(r, sctx, p, page, more);
    }

    if (more && !last) {
        len = ngx_strlen(page->next_page_token);
        ngx_memcpy(sctx->token, page->next_page_token, len + 1);
        sctx->query.page_token = (char *) sctx->token;
    }

    ngx_reset_pool(ctx->reply_pool);

    b->last = p;
    b->flush = 1;
    b->last_buf = (last && r == r->main) ? 1 : 0;
    b->last_in_chain = last;

    rc = ngx_http_output_filter(r, cl);

    ngx_chain_update_chains(r->pool, &sctx->free, &sctx->busy, &cl,
                            (ngx_buf_tag_t) &ngx_http_fib_module);

    if (last || rc == NGX_ERROR) {
        return rc;
    }

    sctx->query.limit = (uint32_t) ngx_min(sctx->left,
                                           NGX_HTTP_FIB_STATS_PAGE);

    if (sctx->busy) {
        /* the client has not taken this page yet */

        ngx_http_fib_call_pause(ctx);

        r->write_event_handler = ngx_http_fib_stats_write;

        ngx_http_fib_stats_write(r);

        return NGX_AGAIN;
    }

    return ngx_http_fib_stats_next(r, ctx);
}


/* after the entries: the original's last key, or where the next page is */

static u_char *
ngx_http_fib_stats_tail(ngx_http_request_t *r,
    ngx_http_fib_stats_ctx_t *sctx, u_char *p, Stats__StatsPage *page,
    ngx_uint_t more)
{
    u_char  *a, *last, *end;
    size_t   len;

    if (!sctx->filtered) {
        p = ngx_sprintf(p, "],\"total_requests64\":%uL", sctx->total);

        if (sctx->has_streams) {
            p = ngx_http_fib_stats_streams(p, &sctx->streams);
        }

        *p++ = '}';
        return p;
    }

    if (!more || sctx->top) {
        return ngx_cpymem(p, "],\"next_page_token\":\"\"}",
                          sizeof("],\"next_page_token\":\"\"}") - 1);
    }

    len = ngx_strlen(page->next_page_token);

    p = ngx_cpymem(p, "],\"next_page_token\":\"",
                   sizeof("],\"next_page_token\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, (u_char *) page->next_page_token, len);
    p = ngx_cpymem(p, "\",\"next\":\"", sizeof("\",\"next\":\"") - 1);

    /* the same URI and arguments, but page */

    p = (u_char *) ngx_escape_json(p, r->uri.data, r->uri.len);
    *p++ = '?';

    last = r->args.data + r->args.len;

    for (a = r->args.data; a < last; a = end + 1) {
        end = ngx_strlchr(a, last, '&');
        if (end == NULL) {
            end = last;
        }

        if (end == a
            || (end - a >= 4 && ngx_strncmp(a, "page", 4) == 0
                && (end - a == 4 || a[4] == '=')))
        {
            continue;
        }

        p = (u_char *) ngx_escape_json(p, a, end - a);
        *p++ = '&';
    }

    p = ngx_cpymem(p, "page=", sizeof("page=") - 1);
    p = (u_char *) ngx_escape_uri(p, (u_char *) page->next_page_token, len,
                                  NGX_ESCAPE_ARGS);

    return ngx_cpymem(p, "\"}", 2);
}


static ngx_int_t
ngx_http_fib_stats_next(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    ngx_http_fib_stats_ctx_t  *sctx;

    sctx = ctx->data;

    if (ngx_http_fib_call_next(ctx, NGX_HTTP_FIB_QUERY_STATS,
                               &sctx->query.base,
                               &stats__stats_page__descriptor,
                               ngx_http_fib_stats_page)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_AGAIN;
}


/* between pages: the client's socket writable again, or send_timeout */

static void
ngx_http_fib_stats_write(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_http_fib_ctx_t        *ctx;
    ngx_http_fib_stats_ctx_t  *sctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);
    sctx = ctx->data;

    if (ngx_http_fib_client_timedout(ctx, "/stats") == NGX_OK) {
        return;
    }

    rc = ngx_http_output_filter(r, NULL);

    ngx_chain_update_chains(r->pool, &sctx->free, &sctx->busy, NULL,
                            (ngx_buf_tag_t) &ngx_http_fib_module);

    if (rc == NGX_ERROR) {
        ngx_http_fib_call_end(ctx, NGX_ERROR);
        return;
    }

    if (sctx->busy) {
        if (ngx_http_fib_client_wait(r) != NGX_OK) {
            ngx_http_fib_call_end(ctx, NGX_ERROR);
        }

        return;
    }

    r->write_event_handler = ngx_http_request_empty_handler;

    if (ngx_http_fib_stats_next(r, ctx) == NGX_ERROR) {
        ngx_http_fib_call_end(ctx, NGX_ERROR);
    }
}


/* a stats server of the original contract: the whole table at once */

static ngx_int_t
ngx_http_fib_stats_fallback(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx)
{
    static Google__Protobuf__Empty  req = GOOGLE__PROTOBUF__EMPTY__INIT;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "fib: the stats service has no Query, asking GetStats");

    if (ngx_http_fib_call_next(ctx, NGX_HTTP_FIB_GET_STATS, &req.base,
                               &stats__stats_response__descriptor,
                               ngx_http_fib_stats_reply)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_AGAIN;
}


/*
 * A server of the original contract sends none of the added fields: the
 * *64 counts are taken from the int32 ones then, so they are never less
 * than those, and the fields it has no value for are left out.
 */

static ngx_int_t
ngx_http_fib_stats_reply(ngx_http_request_t *r, ngx_http_fib_ctx_t *ctx,
    ProtobufCMessage *msg)
{
    size_t                 i, size;
    uint64_t               total;
    ngx_buf_t             *b;
    Stats__FibonacciStat **sorted;
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

    size = NGX_HTTP_FIB_STATS_FRAME_LEN
           + resp->n_fibonacci_stats * NGX_HTTP_FIB_STAT_LEN;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_sprintf(b->last, "{\"total_requests\":%D,"
                          "\"fibonacci_stats\":[", resp->total_requests);

    for (i = 0; i < resp->n_fibonacci_stats; i++) {
        if (i) {
            *b->last++ = ',';
        }

        b->last = ngx_http_fib_stats_entry(b->last, sorted[i]);
    }

    total = resp->total_requests64;
    if (total == 0 && resp->total_requests > 0) {
        total = (uint64_t) resp->total_requests;
    }

    b->last = ngx_sprintf(b->last, "],\"total_requests64\":%uL", total);

    if (resp->streams) {
        b->last = ngx_http_fib_stats_streams(b->last, resp->streams);
    }

    *b->last++ = '}';

    return ngx_http_fib_send_json(r, NGX_HTTP_OK, b);
}


/* the streams aggregate (GetFibRange calls), sent by our stats-service */

static u_char *
ngx_http_fib_stats_streams(u_char *p, Stats__StreamStats *st)
{
    p = ngx_sprintf(p, ",\"streams\":{\"count\":%uL,\"items\":%uL,"
                    "\"total_duration_ns\":%uL,\"average_time_ms\":",
                    st->count, st->items, st->total_duration_ns);

    p = ngx_http_fib_json_double(p, st->average_time_ms);

    return ngx_sprintf(p, ",\"incomplete\":%uL}", st->incomplete);
}


/*
 * One entry.  An entry of the original contract is known by a
 * request_count with no request_count64: ours always sends both.
 */

static u_char *
ngx_http_fib_stats_entry(u_char *p, Stats__FibonacciStat *st)
{
    uint64_t  count;

    count = st->request_count64;

    p = ngx_sprintf(p, "{\"n\":%D,\"request_count\":%D,\"average_time_ms\":",
                    st->n, st->request_count);

    p = ngx_http_fib_json_double(p, st->average_time_ms);

    if (count == 0 && st->request_count > 0) {
        return ngx_sprintf(p, ",\"request_count64\":%uL}",
                           (uint64_t) st->request_count);
    }

    return ngx_sprintf(p, ",\"request_count64\":%uL,\"min_duration_ns\":%L,"
                       "\"max_duration_ns\":%L,\"total_duration_ns\":%uL,"
                       "\"cache_hits\":%uL,\"cache_misses\":%uL}",
                       count, st->min_duration_ns, st->max_duration_ns,
                       st->total_duration_ns, st->cache_hits,
                       st->cache_misses);
}


static int ngx_libc_cdecl
ngx_http_fib_stats_cmp(const void *one, const void *two)
{
    const Stats__FibonacciStat  *a, *b;

    a = *(Stats__FibonacciStat * const *) one;
    b = *(Stats__FibonacciStat * const *) two;

    return (a->n > b->n) - (a->n < b->n);
}

