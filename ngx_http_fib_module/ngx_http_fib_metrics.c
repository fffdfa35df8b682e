
/*
 * ngx_http_fib_metrics.c - the gateway's Prometheus metrics: counters and
 * histograms in a shared memory zone, so that every worker's requests are
 * in one set of numbers and the numbers survive "nginx -s reload" (the
 * zone is reused while its name and size stay the same), and the
 * fib_metrics content handler that writes them in the text format.
 *
 * The zone exists only when some location has fib_metrics; without one
 * nothing is counted and nothing costs anything.  Every label takes its
 * values from small fixed sets (the gRPC methods the module calls,
 * seventeen gRPC codes, two handlers, HTTP statuses), so the zone has a
 * fixed layout and counting is one atomic addition, with no lock.
 */


#include "ngx_http_fib_module.h"

#include "../common/clock.h"


#define NGX_HTTP_FIB_METRICS_NCODES    17       /* OK .. UNAUTHENTICATED */
#define NGX_HTTP_FIB_METRICS_NSTATUS   600
#define NGX_HTTP_FIB_METRICS_NBUCKETS  14
#define NGX_HTTP_FIB_METRICS_ZONE_SIZE (64 * 1024)


typedef struct {
    ngx_atomic_t               count;
    ngx_atomic_t               sum_us;
    ngx_atomic_t               bucket[NGX_HTTP_FIB_METRICS_NBUCKETS];
} ngx_http_fib_histogram_t;


/* per gRPC method: GetFib, GetStats, Query, GetFibBatch, GetFibRange */

typedef struct {
    ngx_atomic_t               started;
    ngx_atomic_t               msg_received;
    ngx_atomic_t               handled[NGX_HTTP_FIB_METRICS_NCODES];
    ngx_http_fib_histogram_t   handling;
} ngx_http_fib_grpc_counters_t;


/* per handler: fib_pass, fib_stats_pass */

typedef struct {
    ngx_atomic_t               retries;
    ngx_atomic_t               in_flight;
    ngx_atomic_t               responses[NGX_HTTP_FIB_METRICS_NSTATUS];
    ngx_http_fib_histogram_t   duration;
} ngx_http_fib_counters_t;


struct ngx_http_fib_metrics_s {
    ngx_http_fib_grpc_counters_t  g[NGX_HTTP_FIB_NMETHODS];
    ngx_http_fib_counters_t       c[NGX_HTTP_FIB_NHANDLERS];
};


static ngx_int_t ngx_http_fib_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_fib_metrics_log(ngx_http_request_t *r);
static ngx_int_t ngx_http_fib_metrics_handler(ngx_http_request_t *r);
static void ngx_http_fib_metrics_observe(ngx_http_fib_histogram_t *h,
    int64_t ns);
static u_char *ngx_http_fib_metrics_histogram(u_char *p, u_char *last,
    const char *name, const char *labels, ngx_http_fib_histogram_t *h);


/* upper bounds, seconds (as printed) and microseconds */

static const char  *ngx_http_fib_metrics_le[NGX_HTTP_FIB_METRICS_NBUCKETS] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "0.5", "1", "2.5", "5", "10"
};

static const uint64_t  ngx_http_fib_metrics_bound_us[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,
    1000000, 2500000, 5000000, 10000000
};

/* in the order of NGX_HTTP_FIB_GET_FIB ... NGX_HTTP_FIB_GET_FIB_RANGE */

static const char  *ngx_http_fib_metrics_grpc_labels[NGX_HTTP_FIB_NMETHODS] = {
    "grpc_type=\"unary\",grpc_service=\"fibonacci.Fibonacci\","
    "grpc_method=\"GetFib\"",
    "grpc_type=\"unary\",grpc_service=\"stats.Stats\","
    "grpc_method=\"GetStats\"",
    "grpc_type=\"unary\",grpc_service=\"stats.Stats\","
    "grpc_method=\"Query\"",
    "grpc_type=\"unary\",grpc_service=\"fibonacci.Fibonacci\","
    "grpc_method=\"GetFibBatch\"",
    "grpc_type=\"server_stream\",grpc_service=\"fibonacci.Fibonacci\","
    "grpc_method=\"GetFibRange\""
};

/* by the location's method: NGX_HTTP_FIB_GET_FIB, NGX_HTTP_FIB_GET_STATS */

static const char  *ngx_http_fib_metrics_handlers[NGX_HTTP_FIB_NHANDLERS] = {
    "handler=\"fib_pass\"",
    "handler=\"fib_stats_pass\""
};


char *
ngx_http_fib_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_fib_main_conf_t  *fmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "conflicts with another content handler in this location";
    }

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fib_module);
    fmcf->metrics = 1;

    clcf->handler = ngx_http_fib_metrics_handler;

    return NGX_CONF_OK;
}


/*
 * postconfiguration: the zone, named by fib_metrics_zone, and the log
 * phase handler that counts responses, when some location has fib_metrics
 */

ngx_int_t
ngx_http_fib_metrics_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;
    ngx_http_fib_main_conf_t   *fmcf;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fib_module);

    if (!fmcf->metrics) {
        return NGX_OK;
    }

    if (fmcf->metrics_zone_name.len == 0) {
        ngx_str_set(&fmcf->metrics_zone_name, "fib_metrics");
    }

    fmcf->metrics_zone = ngx_shared_memory_add(cf, &fmcf->metrics_zone_name,
                                               NGX_HTTP_FIB_METRICS_ZONE_SIZE,
                                               &ngx_http_fib_module);
    if (fmcf->metrics_zone == NULL) {
        return NGX_ERROR;
    }

    if (fmcf->metrics_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "fib_metrics_zone \"%V\" is already used",
                           &fmcf->metrics_zone_name);
        return NGX_ERROR;
    }

    fmcf->metrics_zone->init = ngx_http_fib_metrics_init_zone;
    fmcf->metrics_zone->data = fmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_fib_metrics_log;

    return NGX_OK;
}


/* a zone of the previous cycle is taken over with its counters */

static ngx_int_t
ngx_http_fib_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t           *shpool;
    ngx_http_fib_metrics_t    *m;
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = shm_zone->data;

    if (data) {
        fmcf->metrics_shm = ((ngx_http_fib_main_conf_t *) data)->metrics_shm;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        fmcf->metrics_shm = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_http_fib_metrics_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    shpool->data = m;
    fmcf->metrics_shm = m;

    return NGX_OK;
}


static ngx_http_fib_metrics_t *
ngx_http_fib_metrics_shm(ngx_http_request_t *r)
{
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    return fmcf->metrics_shm;
}


/* the handler's counters, by the location's method */

static ngx_http_fib_counters_t *
ngx_http_fib_metrics_counters(ngx_http_request_t *r, ngx_uint_t method)
{
    ngx_http_fib_metrics_t  *m;

    m = ngx_http_fib_metrics_shm(r);

    if (m == NULL || method >= NGX_HTTP_FIB_NHANDLERS) {
        return NULL;
    }

    return &m->c[method];
}


/* a request of a fib_pass or fib_stats_pass location begins */

void
ngx_http_fib_metrics_request(ngx_http_fib_ctx_t *ctx)
{
    ngx_http_fib_counters_t  *c;

    if (ctx->conf->target.len == 0) {
        return;                         /* fib_health */
    }

    c = ngx_http_fib_metrics_counters(ctx->request, ctx->conf->method);
    if (c == NULL) {
        return;
    }

    ngx_atomic_fetch_add(&c->in_flight, 1);

    ctx->metered = 1;
    ctx->metrics_start = clock_mono_ns();
}


/* an attempt of ctx->method is sent */

void
ngx_http_fib_metrics_attempt(ngx_http_fib_ctx_t *ctx)
{
    ngx_http_fib_metrics_t   *m;
    ngx_http_fib_counters_t  *c;

    m = ngx_http_fib_metrics_shm(ctx->request);
    if (m == NULL) {
        return;
    }

    ngx_atomic_fetch_add(&m->g[ctx->method].started, 1);

    c = ngx_http_fib_metrics_counters(ctx->request, ctx->conf->method);

    if (c && ctx->attempts > 1) {
        ngx_atomic_fetch_add(&c->retries, 1);
    }

    ctx->attempt_method = ctx->method;
    ctx->attempt_start = clock_mono_ns();
}


/* a reply message of ctx->method arrived: a unary call's, or a stream's */

void
ngx_http_fib_metrics_message(ngx_http_fib_ctx_t *ctx)
{
    ngx_http_fib_metrics_t  *m;

    m = ngx_http_fib_metrics_shm(ctx->request);
    if (m == NULL) {
        return;
    }

    ngx_atomic_fetch_add(&m->g[ctx->method].msg_received, 1);
}


/* an attempt ended with this status */

void
ngx_http_fib_metrics_attempt_done(ngx_http_fib_ctx_t *ctx,
    grpc_status_code status)
{
    ngx_uint_t                     code;
    ngx_http_fib_metrics_t        *m;
    ngx_http_fib_grpc_counters_t  *g;

    m = ngx_http_fib_metrics_shm(ctx->request);
    if (m == NULL || ctx->attempt_start == 0) {
        return;
    }

    g = &m->g[ctx->attempt_method];

    code = ((ngx_uint_t) status < NGX_HTTP_FIB_METRICS_NCODES)
           ? (ngx_uint_t) status : (ngx_uint_t) GRPC_STATUS_UNKNOWN;

    ngx_atomic_fetch_add(&g->handled[code], 1);
    ngx_http_fib_metrics_observe(&g->handling,
                                 clock_mono_ns() - ctx->attempt_start);

    ctx->attempt_start = 0;
}


static void
ngx_http_fib_metrics_observe(ngx_http_fib_histogram_t *h, int64_t ns)
{
    uint64_t    us;
    ngx_uint_t  i;

    us = ns > 0 ? (uint64_t) ns / 1000 : 0;

    for (i = 0; i < NGX_HTTP_FIB_METRICS_NBUCKETS; i++) {
        if (us <= ngx_http_fib_metrics_bound_us[i]) {
            ngx_atomic_fetch_add(&h->bucket[i], 1);
            break;
        }
    }

    ngx_atomic_fetch_add(&h->sum_us, (ngx_atomic_int_t) us);
    ngx_atomic_fetch_add(&h->count, 1);
}


/* the log phase: the response of every fib_pass, fib_stats_pass request */

static ngx_int_t
ngx_http_fib_metrics_log(ngx_http_request_t *r)
{
    ngx_uint_t                status;
    ngx_http_fib_ctx_t       *ctx;
    ngx_http_fib_counters_t  *c;
    ngx_http_fib_loc_conf_t  *flcf;

    if (r != r->main) {
        return NGX_OK;
    }

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fib_module);

    if (flcf->target.len == 0) {
        return NGX_OK;
    }

    c = ngx_http_fib_metrics_counters(r, flcf->method);
    if (c == NULL) {
        return NGX_OK;
    }

    status = r->err_status ? r->err_status : r->headers_out.status;

    if (r->connection->error && status == 0) {
        status = NGX_HTTP_CLIENT_CLOSED_REQUEST;
    }

    if (status >= NGX_HTTP_FIB_METRICS_NSTATUS) {
        status = 0;
    }

    ngx_atomic_fetch_add(&c->responses[status], 1);

    ctx = ngx_http_get_module_ctx(r, ngx_http_fib_module);

    if (ctx && ctx->metered) {
        ctx->metered = 0;
        ngx_atomic_fetch_add(&c->in_flight, (ngx_atomic_int_t) -1);
        ngx_http_fib_metrics_observe(&c->duration,
                                     clock_mono_ns() - ctx->metrics_start);
    }

    return NGX_OK;
}


/* --- the text format ----------------------------------------------------- */


static u_char *
ngx_http_fib_metrics_histogram(u_char *p, u_char *last, const char *name,
    const char *labels, ngx_http_fib_histogram_t *h)
{
    uint64_t    cum, count;
    ngx_uint_t  i;

    /* the count first: a racing observation never puts a bucket above it */

    count = h->count;
    cum = 0;

    for (i = 0; i < NGX_HTTP_FIB_METRICS_NBUCKETS; i++) {
        cum += h->bucket[i];
        if (cum > count) {
            cum = count;
        }

        p = ngx_slprintf(p, last, "%s_bucket{%s,le=\"%s\"} %uL\n",
                         name, labels, ngx_http_fib_metrics_le[i], cum);
    }

    p = ngx_slprintf(p, last, "%s_bucket{%s,le=\"+Inf\"} %uL\n"
                     "%s_sum{%s} %uL.%06uL\n"
                     "%s_count{%s} %uL\n",
                     name, labels, count,
                     name, labels, (uint64_t) h->sum_us / 1000000,
                     (uint64_t) h->sum_us % 1000000,
                     name, labels, count);

    return p;
}


#define ngx_http_fib_metrics_head(p, last, name, type, help)                 \
    ngx_slprintf(p, last, "# HELP " name " " help "\n# TYPE " name " "       \
                 type "\n")


static ngx_int_t
ngx_http_fib_metrics_handler(ngx_http_request_t *r)
{
    u_char                        *p, *last;
    size_t                         size;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_uint_t                     i, k, n;
    ngx_http_fib_metrics_t        *m;
    ngx_http_fib_main_conf_t      *fmcf;
    ngx_http_fib_grpc_counters_t  *g;

    rc = ngx_http_fib_get_only(r);
    if (rc != NGX_OK) {
        return rc;
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);
    m = fmcf->metrics_shm;

    if (m == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a line per status seen, and at most 128 bytes a line */

    n = 0;

    for (k = 0; k < NGX_HTTP_FIB_NHANDLERS; k++) {
        for (i = 0; i < NGX_HTTP_FIB_METRICS_NSTATUS; i++) {
            n += (m->c[k].responses[i] != 0);
        }
    }

    for (k = 0; k < NGX_HTTP_FIB_NMETHODS; k++) {
        for (i = 0; i < NGX_HTTP_FIB_METRICS_NCODES; i++) {
            n += (m->g[k].handled[i] != 0);
        }
    }

    size = 32768 + n * 192;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = b->pos;
    last = b->end;

    p = ngx_http_fib_metrics_head(p, last, "grpc_client_started_total",
            "counter", "Total number of RPCs started on the client.");

    for (k = 0; k < NGX_HTTP_FIB_NMETHODS; k++) {
        p = ngx_slprintf(p, last, "grpc_client_started_total{%s} %uA\n",
                         ngx_http_fib_metrics_grpc_labels[k],
                         m->g[k].started);
    }

    p = ngx_http_fib_metrics_head(p, last, "grpc_client_msg_received_total",
            "counter", "Total number of RPC stream messages received by "
            "the client.");

    for (k = 0; k < NGX_HTTP_FIB_NMETHODS; k++) {
        p = ngx_slprintf(p, last,
                         "grpc_client_msg_received_total{%s} %uA\n",
                         ngx_http_fib_metrics_grpc_labels[k],
                         m->g[k].msg_received);
    }

    p = ngx_http_fib_metrics_head(p, last, "grpc_client_handled_total",
            "counter", "Total number of RPCs completed by the client, "
            "regardless of success or failure.");

    for (k = 0; k < NGX_HTTP_FIB_NMETHODS; k++) {
        g = &m->g[k];

        for (i = 0; i < NGX_HTTP_FIB_METRICS_NCODES; i++) {
            if (g->handled[i] == 0 && i != GRPC_STATUS_OK) {
                continue;
            }

            p = ngx_slprintf(p, last,
                             "grpc_client_handled_total{%s,grpc_code=\"%s\"}"
                             " %uA\n",
                             ngx_http_fib_metrics_grpc_labels[k],
                             rpc_status_name((grpc_status_code) i),
                             g->handled[i]);
        }
    }

    p = ngx_http_fib_metrics_head(p, last, "grpc_client_handling_seconds",
            "histogram", "Histogram of response latency (seconds) of the "
            "gRPC until it is finished by the application.");

    for (k = 0; k < NGX_HTTP_FIB_NMETHODS; k++) {
        p = ngx_http_fib_metrics_histogram(p, last,
                                           "grpc_client_handling_seconds",
                                           ngx_http_fib_metrics_grpc_labels[k],
                                           &m->g[k].handling);
    }

    p = ngx_http_fib_metrics_head(p, last, "fib_http_responses_total",
            "counter", "HTTP responses of fib_pass and fib_stats_pass "
            "locations, by status.");

    for (k = 0; k < NGX_HTTP_FIB_NHANDLERS; k++) {
        for (i = 0; i < NGX_HTTP_FIB_METRICS_NSTATUS; i++) {
            if (m->c[k].responses[i] == 0) {
                continue;
            }

            p = ngx_slprintf(p, last,
                             "fib_http_responses_total{%s,code=\"%03ui\"}"
                             " %uA\n",
                             ngx_http_fib_metrics_handlers[k], i,
                             m->c[k].responses[i]);
        }
    }

    p = ngx_http_fib_metrics_head(p, last,
            "fib_http_request_duration_seconds", "histogram",
            "Time from the handler to the log phase of fib_pass and "
            "fib_stats_pass requests, retries included.");

    for (k = 0; k < NGX_HTTP_FIB_NHANDLERS; k++) {
        p = ngx_http_fib_metrics_histogram(p, last,
                                       "fib_http_request_duration_seconds",
                                       ngx_http_fib_metrics_handlers[k],
                                       &m->c[k].duration);
    }

    p = ngx_http_fib_metrics_head(p, last, "fib_retries_total", "counter",
            "gRPC attempts made after a failed one (also counted in "
            "grpc_client_started_total).");

    for (k = 0; k < NGX_HTTP_FIB_NHANDLERS; k++) {
        p = ngx_slprintf(p, last, "fib_retries_total{%s} %uA\n",
                         ngx_http_fib_metrics_handlers[k], m->c[k].retries);
    }

    p = ngx_http_fib_metrics_head(p, last, "fib_requests_in_flight", "gauge",
            "fib_pass and fib_stats_pass requests begun and not yet "
            "logged, in every worker.");

    for (k = 0; k < NGX_HTTP_FIB_NHANDLERS; k++) {
        p = ngx_slprintf(p, last, "fib_requests_in_flight{%s} %A\n",
                         ngx_http_fib_metrics_handlers[k],
                         (ngx_atomic_int_t) m->c[k].in_flight);
    }

    b->last = p;

    if (p == last) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "fib_metrics: the page did not fit in %uz bytes", size);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_fib_send(r, NGX_HTTP_OK,
                             "text/plain; version=0.0.4; charset=utf-8", b);
}
