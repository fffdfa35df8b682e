
/*
 * ngx_http_fib_health.c - the fib_health content handler: a health
 * endpoint for load balancers and probes in front of nginx.  It answers
 * 200 {"status":"SERVING"} when the worker's channel to every target of
 * fib_pass and fib_stats_pass in the configuration is READY, that is, when
 * some backend of each target answers SERVING to gRPC's client-side health
 * checking; 503 {"status":"NOT_SERVING",...} naming the first target that
 * is not, otherwise.  It asks gRPC for the channel's state, which never
 * waits.
 */


#include "ngx_http_fib_module.h"


static const char *ngx_http_fib_health_states[] = {
    "IDLE", "CONNECTING", "READY", "TRANSIENT_FAILURE", "SHUTDOWN"
};


ngx_int_t
ngx_http_fib_health_handler(ngx_http_request_t *r)
{
    u_char                    *p;
    size_t                     len;
    ngx_int_t                  rc;
    ngx_http_fib_loc_conf_t  **lcp;
    ngx_buf_t                 *b;
    ngx_uint_t                 i;
    const char                *state;
    ngx_http_fib_ctx_t        *ctx;
    ngx_http_fib_channel_t    *ch;
    ngx_http_fib_main_conf_t  *fmcf;
    grpc_connectivity_state    s;

    rc = ngx_http_fib_request_init(r, &ctx);
    if (ctx == NULL) {
        return rc;
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_fib_module);

    lcp = fmcf->targets.elts;
    state = NULL;

    for (i = 0; i < fmcf->targets.nelts; i++) {
        ch = ngx_http_fib_channel_get(&lcp[i]->target, &lcp[i]->ssl,
                                      r->connection->log);
        if (ch == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        s = ngx_http_fib_channel_state(ch);

        if (s != GRPC_CHANNEL_READY) {
            state = ((ngx_uint_t) s < sizeof(ngx_http_fib_health_states)
                                      / sizeof(char *))
                    ? ngx_http_fib_health_states[s] : "UNKNOWN";
            break;
        }
    }

    if (state == NULL) {
        len = sizeof("{\"status\":\"SERVING\"}") - 1;

    } else {
        len = sizeof("{\"status\":\"NOT_SERVING\",\"target\":\"\","
                     "\"state\":\"\"}") - 1
              + ngx_escape_json(NULL, lcp[i]->target.data,
                                lcp[i]->target.len)
              + lcp[i]->target.len + ngx_strlen(state);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (state == NULL) {
        b->last = ngx_cpymem(b->pos, "{\"status\":\"SERVING\"}", len);

        return ngx_http_fib_send_json(r, NGX_HTTP_OK, b);
    }

    p = ngx_cpymem(b->pos, "{\"status\":\"NOT_SERVING\",\"target\":\"",
                   sizeof("{\"status\":\"NOT_SERVING\",\"target\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, lcp[i]->target.data,
                                   lcp[i]->target.len);
    p = ngx_sprintf(p, "\",\"state\":\"%s\"}", state);
    b->last = p;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "fib_health: channel to \"%V\" is %s", &lcp[i]->target,
                  state);

    return ngx_http_fib_send_json(r, NGX_HTTP_SERVICE_UNAVAILABLE, b);
}
