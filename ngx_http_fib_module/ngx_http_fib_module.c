
/*
 * ngx_http_fib_module.c - the directive table, the configuration (create,
 * merge, directive handlers) and the module hooks of ngx_http_fib_module.
 * The work itself lives in the files beside this one.
 */


#include "ngx_http_fib_module.h"


static ngx_int_t ngx_http_fib_preconfiguration(ngx_conf_t *cf);
static void *ngx_http_fib_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_fib_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_fib_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_fib_pass(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fib_retry_backoff(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_fib_health(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_fib_init_process(ngx_cycle_t *cycle);
static void ngx_http_fib_exit_process(ngx_cycle_t *cycle);


static ngx_conf_num_bounds_t  ngx_http_fib_retries_bounds = {
    ngx_conf_check_num_bounds, 0, 100
};

static ngx_conf_num_bounds_t  ngx_http_fib_batch_max_bounds = {
    ngx_conf_check_num_bounds, 1, 1000000
};


static ngx_command_t  ngx_http_fib_commands[] = {

    { ngx_string("fib_pass"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fib_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fib_stats_pass"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fib_pass,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fib_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_fib_health,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fib_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_fib_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fib_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_ANY,
      ngx_http_fib_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fib_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_fib_main_conf_t, metrics_zone_name),
      NULL },

    { ngx_string("fib_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, timeout),
      NULL },

    { ngx_string("fib_retries"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, retries),
      &ngx_http_fib_retries_bounds },

    { ngx_string("fib_retry_backoff"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_fib_retry_backoff,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("fib_batch_max"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, batch_max),
      &ngx_http_fib_batch_max_bounds },

    { ngx_string("fib_stream_buffer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, stream_buffer),
      NULL },

    { ngx_string("fib_stream_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, stream_timeout),
      NULL },

    { ngx_string("fib_ssl_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fib_ssl_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, ssl.trusted),
      &ngx_http_fib_ssl_kind_cert },

    { ngx_string("fib_ssl_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fib_ssl_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, ssl.certificate),
      &ngx_http_fib_ssl_kind_cert },

    { ngx_string("fib_ssl_certificate_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_fib_ssl_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, ssl.certificate_key),
      &ngx_http_fib_ssl_kind_key },

    { ngx_string("fib_ssl_name"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_fib_loc_conf_t, ssl.name),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_fib_module_ctx = {
    ngx_http_fib_preconfiguration,         /* preconfiguration */
    ngx_http_fib_metrics_postconfiguration, /* postconfiguration */

    ngx_http_fib_create_main_conf,         /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_fib_create_loc_conf,          /* create location configuration */
    ngx_http_fib_merge_loc_conf            /* merge location configuration */
};


ngx_module_t  ngx_http_fib_module = {
    NGX_MODULE_V1,
    &ngx_http_fib_module_ctx,              /* module context */
    ngx_http_fib_commands,                 /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_fib_init_process,             /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_fib_exit_process,             /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_fib_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_fib_add_variables(cf);
}


static void *
ngx_http_fib_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_fib_main_conf_t  *fmcf;

    fmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fib_main_conf_t));
    if (fmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&fmcf->targets, cf->pool, 4,
                       sizeof(ngx_http_fib_loc_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return fmcf;
}


static void *
ngx_http_fib_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_fib_loc_conf_t  *flcf;

    flcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_fib_loc_conf_t));
    if (flcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     flcf->target = { 0, NULL };
     *     flcf->method = 0;
     *     flcf->channel = NULL;
     *     flcf->ssl = { 0, ... }: plaintext, no files, no name
     */

    flcf->timeout = NGX_CONF_UNSET_MSEC;
    flcf->retries = NGX_CONF_UNSET_UINT;
    flcf->backoff_base = NGX_CONF_UNSET_MSEC;
    flcf->backoff_max = NGX_CONF_UNSET_MSEC;
    flcf->batch_max = NGX_CONF_UNSET_UINT;
    flcf->stream_buffer = NGX_CONF_UNSET_SIZE;
    flcf->stream_timeout = NGX_CONF_UNSET_MSEC;

    return flcf;
}


static char *
ngx_http_fib_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_fib_loc_conf_t *prev = parent;
    ngx_http_fib_loc_conf_t *conf = child;

    ngx_conf_merge_msec_value(conf->timeout, prev->timeout, 5000);
    ngx_conf_merge_uint_value(conf->retries, prev->retries, 3);
    ngx_conf_merge_uint_value(conf->batch_max, prev->batch_max, 1000);
    ngx_conf_merge_size_value(conf->stream_buffer, prev->stream_buffer,
                              64 * 1024);
    ngx_conf_merge_msec_value(conf->stream_timeout, prev->stream_timeout,
                              600000);

    if (conf->backoff_base == NGX_CONF_UNSET_MSEC) {

        if (prev->backoff_base == NGX_CONF_UNSET_MSEC) {
            conf->backoff_base = 50;
            conf->backoff_max = 1000;

        } else {
            conf->backoff_base = prev->backoff_base;
            conf->backoff_max = prev->backoff_max;
        }
    }

    if (conf->timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fib_timeout\" must be greater than zero");
        return NGX_CONF_ERROR;
    }

    if (conf->stream_timeout == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fib_stream_timeout\" must be greater than zero");
        return NGX_CONF_ERROR;
    }

    return ngx_http_fib_ssl_merge(cf, &conf->ssl, &prev->ssl);
}


static char *
ngx_http_fib_pass(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fib_loc_conf_t *flcf = conf;

    char                      *err;
    ngx_str_t                 *value, target;
    ngx_uint_t                 method, ssl;
    ngx_http_fib_loc_conf_t  **lcp;
    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_fib_main_conf_t  *fmcf;

    method = (cmd->name.len == sizeof("fib_pass") - 1)
             ? NGX_HTTP_FIB_GET_FIB : NGX_HTTP_FIB_GET_STATS;

    if (flcf->target.data) {
        if (flcf->method == method) {
            return "is duplicate";
        }

        return "conflicts with another content handler in this location";
    }

    value = cf->args->elts;
    target = value[1];
    ssl = 0;

    /* grpcs:// as in grpc_pass: TLS; grpc:// plaintext, as without one */

    if (target.len > 8 && ngx_strncmp(target.data, "grpcs://", 8) == 0) {
        target.data += 8;
        target.len -= 8;
        ssl = 1;

    } else if (target.len > 7
               && ngx_strncmp(target.data, "grpc://", 7) == 0)
    {
        target.data += 7;
        target.len -= 7;
    }

    if (ngx_http_fib_target_valid(&target, &err) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid target \"%V\" in \"%V\": %s",
                           &value[1], &cmd->name, err);
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "conflicts with another content handler in this location";
    }

    flcf->target = target;
    flcf->method = method;
    flcf->ssl.enable = ssl;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fib_module);
    fmcf->enabled = 1;

    /*
     * every passing location: fib_health and the start-up connect use
     * their targets with their TLS settings (merged by then)
     */

    lcp = ngx_array_push(&fmcf->targets);
    if (lcp == NULL) {
        return NGX_CONF_ERROR;
    }

    *lcp = flcf;

    clcf->handler = (method == NGX_HTTP_FIB_GET_FIB)
                    ? ngx_http_fib_handler : ngx_http_fib_stats_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_fib_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fib_loc_conf_t *flcf = conf;

    ngx_http_core_loc_conf_t  *clcf;
    ngx_http_fib_main_conf_t  *fmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler || flcf->target.data) {
        return "conflicts with another content handler in this location";
    }

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_fib_module);
    fmcf->enabled = 1;

    clcf->handler = ngx_http_fib_health_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_fib_retry_backoff(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fib_loc_conf_t *flcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   base, max;

    if (flcf->backoff_base != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    base = ngx_parse_time(&value[1], 0);
    if (base == (ngx_msec_t) NGX_ERROR || base == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid base delay \"%V\" in \"%V\"",
                           &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    max = base > 1000 ? base : 1000;

    if (cf->args->nelts == 3) {
        max = ngx_parse_time(&value[2], 0);
        if (max == (ngx_msec_t) NGX_ERROR || max < base) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid maximum delay \"%V\" in \"%V\", "
                               "it must be a time not less than \"%V\"",
                               &value[2], &cmd->name, &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    flcf->backoff_base = base;
    flcf->backoff_max = max;

    return NGX_CONF_OK;
}


/*
 * gRPC in the processes that serve, and only if some location uses it.
 * The channels are made and start connecting at once, so that health
 * checking has its answer before the first request needs it.
 */

static ngx_int_t
ngx_http_fib_init_process(ngx_cycle_t *cycle)
{
    ngx_http_fib_loc_conf_t  **lcp;
    ngx_uint_t                 i;
    ngx_http_fib_channel_t    *ch;
    ngx_http_fib_main_conf_t  *fmcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    fmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_fib_module);

    if (fmcf == NULL || !fmcf->enabled) {
        return NGX_OK;
    }

    if (ngx_http_fib_grpc_init(cycle->log, ngx_http_fib_call_done) != NGX_OK) {
        return NGX_ERROR;
    }

    lcp = fmcf->targets.elts;

    for (i = 0; i < fmcf->targets.nelts; i++) {
        ch = ngx_http_fib_channel_get(&lcp[i]->target, &lcp[i]->ssl,
                                      cycle->log);
        if (ch == NULL) {
            return NGX_ERROR;
        }

        lcp[i]->channel = ch;
        (void) ngx_http_fib_channel_state(ch);
    }

    return NGX_OK;
}


static void
ngx_http_fib_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_fib_call_abort_all();
    ngx_http_fib_grpc_exit(cycle->log);
}
