/* rpc_server_tls.c - TLS for rpc_server: the files given with
 * rpc_server_set_tls(), read again for new connections once they change.
 *
 * gRPC asks the certificate config fetcher for news before each new
 * connection's handshake. The fetcher compares the files' stamp (device,
 * inode, size, mtime) with the one last loaded and re-reads them only when
 * it differs or a reload was asked for (SIGHUP), so the usual cost is three
 * stat() calls per connection. A rotation that leaves files which do not
 * load (half-written, key and certificate not matching yet) is logged once
 * and the previous certificates stay in use. */
#include <grpc/grpc_security.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "rpc_flags.h"
#include "rpc_internal.h"

static char *dup_or_null(const char *s) {
    return s && *s ? xstrdup(s) : NULL;
}

static void log_loaded(const rpc_server_tls *t, const rpc_tls_cert_info *ci,
                       const char *event) {
    char expires[32] = "";
    struct tm tm;
    log_line l;

    if (ci->not_after && gmtime_r(&ci->not_after, &tm))
        strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
    if (log_begin(&l, LOG_INFO, event)) {
        log_str(&l, "cert", t->files.cert);
        log_str(&l, "subject", ci->subject);
        log_str(&l, "not_after", expires);
        log_str(&l, "client_ca", t->files.ca);
        log_bool(&l, "client_cert_required", t->files.ca != NULL);
        log_end(&l);
    }
}

/* Read the files into a config; NULL after logging why. */
static grpc_ssl_server_certificate_config *load(rpc_server_tls *t,
                                                const char *event) {
    grpc_ssl_server_certificate_config *cfg = NULL;
    rpc_tls_cert_info ci;
    rpc_tls_pem pem;
    char err[512];

    if (rpc_tls_load(&t->files, &pem, &ci, err, sizeof(err)) == 0) {
        cfg = rpc_tls_server_config(&pem, err, sizeof(err));
        rpc_tls_pem_free(&pem);
    }
    if (cfg == NULL) {
        log_msg(LOG_ERROR, "tls_load_failed", "%s", err);
        return NULL;
    }
    log_loaded(t, &ci, event);
    return cfg;
}

static grpc_ssl_certificate_config_reload_status fetch(
    void *ud, grpc_ssl_server_certificate_config **config) {
    rpc_server_tls *t = ud;
    grpc_ssl_certificate_config_reload_status rc =
        GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
    rpc_tls_stamp now;

    pthread_mutex_lock(&t->lock);
    if (t->pending == NULL) {
        rpc_tls_stamp_take(&t->files, &now);
        if (t->force || (!rpc_tls_stamp_equal(&now, &t->loaded) &&
                         !rpc_tls_stamp_equal(&now, &t->failed))) {
            t->force = false;
            t->pending = load(t, "tls_reloaded");
            if (t->pending) t->loaded = now;
            else t->failed = now;
        }
    }
    if (t->pending) {
        *config = t->pending;       /* gRPC takes ownership */
        t->pending = NULL;
        rc = GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int rpc_server_set_tls(rpc_server *s, const rpc_tls_files *files) {
    rpc_server_tls *t;

    if (!rpc_tls_enabled(files)) return 0;
    t = xcalloc(1, sizeof(*t));
    t->files.cert = dup_or_null(files->cert);
    t->files.key = dup_or_null(files->key);
    t->files.ca = dup_or_null(files->ca);
    pthread_mutex_init(&t->lock, NULL);
    rpc_tls_stamp_take(&t->files, &t->loaded);
    t->pending = load(t, "tls_loaded");
    if (t->pending == NULL) {
        rpc_server_tls_free(t);
        return -1;
    }
    rpc_server_tls_free(s->tls);
    s->tls = t;
    return 0;
}

void rpc_server_reload_tls(rpc_server *s) {
    if (s->tls == NULL) return;
    pthread_mutex_lock(&s->tls->lock);
    s->tls->force = true;
    pthread_mutex_unlock(&s->tls->lock);
    log_msg(LOG_INFO, "tls_reload_requested",
            "TLS files are read again for the next connection");
}

grpc_server_credentials *rpc_server_credentials(rpc_server *s) {
    grpc_ssl_server_credentials_options *o;
    grpc_server_credentials *c;

    if (s->tls == NULL) return grpc_insecure_server_credentials_create();
    o = grpc_ssl_server_credentials_create_options_using_config_fetcher(
        s->tls->files.ca
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
        fetch, s->tls);
    c = grpc_ssl_server_credentials_create_with_options(o);
    return c;
}

void rpc_server_tls_free(rpc_server_tls *t) {
    if (t == NULL) return;
    if (t->pending) grpc_ssl_server_certificate_config_destroy(t->pending);
    free((char *)t->files.cert);
    free((char *)t->files.key);
    free((char *)t->files.ca);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

int rpc_server_configure(rpc_server *s, const rpc_server_opts *o) {
    bool cert = o->tls.cert && *o->tls.cert, key = o->tls.key && *o->tls.key;

    if (rpc_tls_enabled(&o->tls) && !(cert && key)) {
        log_msg(LOG_ERROR, "config", "TLS needs both --tls-cert and "
                "--tls-key (--tls-client-ca alone serves nothing)");
        return -1;
    }
    rpc_server_set_limits(s, &o->limits);
    return rpc_server_set_tls(s, &o->tls);
}
