
/*
 * ngx_http_fib_status.c - the fib_status content handler: one
 * self-contained HTML page (ngx_http_fib_status.html, compiled in; no
 * external scripts, fonts or styles) that refreshes itself every two
 * seconds from the module's metrics (fib_metrics), /stats and, when given,
 * fibonacci-service's own metrics.  The page is made once, at
 * configuration time, with the locations it reads; serving it copies
 * nothing.
 */


#include "ngx_http_fib_module.h"


static ngx_int_t ngx_http_fib_status_handler(ngx_http_request_t *r);
static char *ngx_http_fib_status_uri(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *uri);


static const u_char  ngx_http_fib_status_page[] =
#include "ngx_http_fib_status_page.h"
    ;


/* fib_status [metrics=uri] [stats=uri] [service_metrics=uri] */

char *
ngx_http_fib_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_fib_loc_conf_t *flcf = conf;

    u_char                    *p, *last, *s;
    size_t                     len;
    ngx_str_t                 *value, uri[3], *v;
    ngx_uint_t                 i, k;
    ngx_http_core_loc_conf_t  *clcf;

    static ngx_str_t  names[3] = {
        ngx_string("metrics="),
        ngx_string("stats="),
        ngx_string("service_metrics=")
    };

    static ngx_str_t  marks[3] = {
        ngx_string("@METRICS@"),
        ngx_string("@STATS@"),
        ngx_string("@SERVICE@")
    };

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "conflicts with another content handler in this location";
    }

    ngx_str_set(&uri[0], "/metrics");
    ngx_str_set(&uri[1], "/stats");
    ngx_str_null(&uri[2]);

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        v = &value[i];

        for (k = 0; k < 3; k++) {
            if (v->len > names[k].len
                && ngx_strncmp(v->data, names[k].data, names[k].len) == 0)
            {
                break;
            }
        }

        if (k == 3) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", v);
            return NGX_CONF_ERROR;
        }

        uri[k].data = v->data + names[k].len;
        uri[k].len = v->len - names[k].len;

        if (ngx_http_fib_status_uri(cf, v, &uri[k]) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }
    }

    /* the page with the marks replaced: they are each found once */

    len = sizeof(ngx_http_fib_status_page) - 1;

    for (k = 0; k < 3; k++) {
        len += uri[k].len - marks[k].len;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    flcf->status_page.data = p;
    flcf->status_page.len = len;

    s = (u_char *) ngx_http_fib_status_page;
    last = s + sizeof(ngx_http_fib_status_page) - 1;

    while (s < last) {
        for (k = 0; k < 3; k++) {
            if ((size_t) (last - s) >= marks[k].len
                && ngx_strncmp(s, marks[k].data, marks[k].len) == 0)
            {
                break;
            }
        }

        if (k < 3) {
            p = ngx_cpymem(p, uri[k].data, uri[k].len);
            s += marks[k].len;

        } else {
            *p++ = *s++;
        }
    }

    if ((size_t) (p - flcf->status_page.data) != len) {
        return "page template lost a mark";
    }

    clcf->handler = ngx_http_fib_status_handler;

    return NGX_CONF_OK;
}


/* a location on this server: "/" and letters, digits, "-._~/" only */

static char *
ngx_http_fib_status_uri(ngx_conf_t *cf, ngx_str_t *value, ngx_str_t *uri)
{
    u_char      c;
    ngx_uint_t  i;

    if (uri->data[0] != '/') {
        goto invalid;
    }

    for (i = 0; i < uri->len; i++) {
        c = uri->data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9')
              || c == '/' || c == '-' || c == '.' || c == '_' || c == '~'))
        {
            goto invalid;
        }
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\": a path on this server "
                       "(\"/\", letters, digits, \"-._~\") is expected",
                       value);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_fib_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_buf_t                *b;
    ngx_http_fib_loc_conf_t  *flcf;

    rc = ngx_http_fib_get_only(r);
    if (rc != NGX_OK) {
        return rc;
    }

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_fib_module);

    /* nothing from elsewhere: scripts and styles are inline, data is ours */

    if (ngx_http_fib_header(r, "Content-Security-Policy",
                            "default-src 'none'; script-src 'unsafe-inline'; "
                            "style-src 'unsafe-inline'; img-src data:; "
                            "connect-src 'self'")
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = flcf->status_page.data;
    b->last = b->pos + flcf->status_page.len;
    b->memory = 1;

    return ngx_http_fib_send(r, NGX_HTTP_OK, "text/html; charset=utf-8", b);
}
