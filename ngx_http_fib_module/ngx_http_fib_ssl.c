
/*
 * ngx_http_fib_ssl.c - TLS to the backends: the fib_ssl_* directives, the
 * certificate files read and checked at configuration time (so that
 * "nginx -t" names a missing or bad file and its line, and workers never
 * read files), and the channel credentials made from them in each worker,
 * after fork, when its channel is created.
 */


#include "ngx_http_fib_module.h"

#include "../common/rpc_tls.h"


static void ngx_http_fib_ssl_cleanup(void *data);


/* the post of the file directives: what the file must hold */

ngx_uint_t  ngx_http_fib_ssl_kind_cert = RPC_TLS_CERT;
ngx_uint_t  ngx_http_fib_ssl_kind_key = RPC_TLS_KEY;


/*
 * fib_ssl_trusted_certificate, fib_ssl_certificate, fib_ssl_certificate_key:
 * cmd->offset is an ngx_http_fib_ssl_file_t, cmd->post the kind of file
 */

char *
ngx_http_fib_ssl_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    char                      *pem, err[512];
    size_t                     len;
    ngx_str_t                 *value;
    rpc_tls_kind               kind;
    ngx_pool_cleanup_t        *cln;
    ngx_http_fib_ssl_file_t   *file;

    file = (ngx_http_fib_ssl_file_t *) (p + cmd->offset);

    if (file->name.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    file->name = value[1];

    if (ngx_conf_full_name(cf->cycle, &file->name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    kind = (rpc_tls_kind) *(ngx_uint_t *) cmd->post;

    pem = rpc_tls_read((char *) file->name.data, kind, err, sizeof(err));
    if (pem == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s",
                           &cmd->name, err);
        return NGX_CONF_ERROR;
    }

    len = ngx_strlen(pem);

    file->pem.data = ngx_pnalloc(cf->pool, len + 1);
    if (file->pem.data == NULL) {
        rpc_tls_wipe(pem);
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(file->pem.data, pem, len + 1);
    file->pem.len = len;
    rpc_tls_wipe(pem);

    if (kind == RPC_TLS_KEY) {
        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NGX_CONF_ERROR;
        }

        cln->handler = ngx_http_fib_ssl_cleanup;
        cln->data = &file->pem;
    }

    return NGX_CONF_OK;
}


/* a key is wiped when its configuration goes */

static void
ngx_http_fib_ssl_cleanup(void *data)
{
    ngx_str_t  *pem = data;

    ngx_explicit_memzero(pem->data, pem->len);
}


static void
ngx_http_fib_ssl_merge_file(ngx_http_fib_ssl_file_t *conf,
    ngx_http_fib_ssl_file_t *prev)
{
    if (conf->name.data == NULL) {
        *conf = *prev;
    }
}


char *
ngx_http_fib_ssl_merge(ngx_conf_t *cf, ngx_http_fib_ssl_t *conf,
    ngx_http_fib_ssl_t *prev)
{
    uint32_t  crc;

    ngx_http_fib_ssl_merge_file(&conf->trusted, &prev->trusted);
    ngx_http_fib_ssl_merge_file(&conf->certificate, &prev->certificate);
    ngx_http_fib_ssl_merge_file(&conf->certificate_key,
                                &prev->certificate_key);
    ngx_conf_merge_str_value(conf->name, prev->name, "");

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if ((conf->certificate.name.data == NULL)
        != (conf->certificate_key.name.data == NULL))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"fib_ssl_certificate\" and "
                           "\"fib_ssl_certificate_key\" go together: "
                           "give both or neither");
        return NGX_CONF_ERROR;
    }

    if (conf->certificate.name.data
        && !rpc_tls_key_matches((char *) conf->certificate.pem.data,
                                (char *) conf->certificate_key.pem.data))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "the key in \"%V\" does not belong to the "
                           "certificate in \"%V\"",
                           &conf->certificate_key.name,
                           &conf->certificate.name);
        return NGX_CONF_ERROR;
    }

    /* channels are shared only by locations with the same TLS settings */

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, conf->trusted.pem.data, conf->trusted.pem.len);
    ngx_crc32_update(&crc, (u_char *) "|", 1);
    ngx_crc32_update(&crc, conf->certificate.pem.data,
                     conf->certificate.pem.len);
    ngx_crc32_update(&crc, (u_char *) "|", 1);
    ngx_crc32_update(&crc, conf->certificate_key.pem.data,
                     conf->certificate_key.pem.len);
    ngx_crc32_update(&crc, (u_char *) "|", 1);
    ngx_crc32_update(&crc, conf->name.data, conf->name.len);
    ngx_crc32_final(crc);

    conf->crc = crc;

    return NGX_CONF_OK;
}


/* in a worker, when the channel is created */

grpc_channel_credentials *
ngx_http_fib_ssl_credentials(ngx_http_fib_ssl_t *ssl, ngx_log_t *log)
{
    char                       err[256];
    rpc_tls_pem                pem;
    grpc_channel_credentials  *creds;

    if (!ssl->enable) {
        return grpc_insecure_credentials_create();
    }

    /* NULL roots: gRPC's default (GRPC_DEFAULT_SSL_ROOTS_FILE_PATH) */

    pem.ca = (char *) ssl->trusted.pem.data;
    pem.cert = (char *) ssl->certificate.pem.data;
    pem.key = (char *) ssl->certificate_key.pem.data;

    creds = rpc_tls_channel_credentials(&pem, err, sizeof(err));
    if (creds == NULL) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "fib: %s", err);
    }

    return creds;
}


/*
 * gRPC reports a failed TLS handshake as UNAVAILABLE, like a refused
 * connection, but retrying will not fix a certificate: such calls are
 * answered 502 at once
 */

ngx_uint_t
ngx_http_fib_ssl_failed(grpc_slice details)
{
    ngx_str_t  d;

    d.data = GRPC_SLICE_START_PTR(details);
    d.len = GRPC_SLICE_LENGTH(details);

    return ngx_strlcasestrn(d.data, d.data + d.len,
                            (u_char *) "handshake failed", 16 - 1) != NULL
           || ngx_strlcasestrn(d.data, d.data + d.len,
                               (u_char *) "peer name", 9 - 1) != NULL;
}
