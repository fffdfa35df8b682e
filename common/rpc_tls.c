/* rpc_tls.c - reading and checking PEM files with OpenSSL, and turning them
 * into gRPC's SSL credentials (see rpc_tls.h). */
#include "rpc_tls.h"

#include <errno.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PEM_MAX (1 << 20)   /* a larger "PEM file" is a mistake */

static bool given(const char *path) {
    return path != NULL && path[0] != '\0';
}

bool rpc_tls_enabled(const rpc_tls_files *f) {
    return given(f->cert) || given(f->key) || given(f->ca);
}

/* The whole file, NUL-terminated; NULL with err set. */
static char *read_file(const char *path, char *err, size_t cap) {
    FILE *fp = fopen(path, "re");
    char *buf = NULL;
    size_t len;

    if (fp == NULL) {
        snprintf(err, cap, "cannot read \"%s\": %s", path, strerror(errno));
        return NULL;
    }
    /* plain malloc(): the nginx module compiles this file in too, and
     * does not use common/mem.h's abort-on-failure policy */
    buf = malloc(PEM_MAX + 1);
    if (buf == NULL) {
        snprintf(err, cap, "cannot read \"%s\": out of memory", path);
        fclose(fp);
        return NULL;
    }
    len = fread(buf, 1, PEM_MAX + 1, fp);
    if (ferror(fp) || len > PEM_MAX || len == 0) {
        snprintf(err, cap, "cannot read \"%s\": %s", path,
                 ferror(fp) ? strerror(errno)
                            : len == 0 ? "the file is empty" : "too large");
        OPENSSL_cleanse(buf, len > PEM_MAX ? PEM_MAX + 1 : len);
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    buf[len] = '\0';
    return buf;
}

/* The first certificate of a PEM text; NULL if there is none. */
static X509 *first_cert(const char *pem) {
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    return x;
}

static void describe(X509 *x, rpc_tls_cert_info *info) {
    const ASN1_TIME *end = X509_get0_notAfter(x);
    struct tm tm;

    X509_NAME_oneline(X509_get_subject_name(x), info->subject,
                      sizeof(info->subject));
    info->not_after = 0;
    if (end && ASN1_TIME_to_tm(end, &tm) == 1) info->not_after = timegm(&tm);
}

static EVP_PKEY *parse_key(const char *pem) {
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

    BIO_free(bio);
    return k;
}

char *rpc_tls_read(const char *path, rpc_tls_kind kind, char *err,
                   size_t cap) {
    char *pem = read_file(path, err, cap);
    X509 *x = NULL;
    EVP_PKEY *k = NULL;

    if (pem == NULL) return NULL;
    if (kind == RPC_TLS_CERT && (x = first_cert(pem)) == NULL) {
        snprintf(err, cap, "\"%s\" holds no PEM certificate", path);
    } else if (kind == RPC_TLS_KEY && (k = parse_key(pem)) == NULL) {
        snprintf(err, cap, "\"%s\" holds no PEM private key (or it is "
                 "encrypted)", path);
    }
    ERR_clear_error();
    if (x == NULL && k == NULL) {
        rpc_tls_wipe(pem);
        return NULL;
    }
    X509_free(x);
    EVP_PKEY_free(k);
    return pem;
}

bool rpc_tls_key_matches(const char *cert, const char *key) {
    X509 *x = first_cert(cert);
    EVP_PKEY *k = parse_key(key);
    bool ok = x && k && X509_check_private_key(x, k) == 1;

    ERR_clear_error();
    X509_free(x);
    EVP_PKEY_free(k);
    return ok;
}

void rpc_tls_wipe(char *p) {
    if (p == NULL) return;
    OPENSSL_cleanse(p, strlen(p));
    free(p);
}

int rpc_tls_load(const rpc_tls_files *f, rpc_tls_pem *out,
                 rpc_tls_cert_info *info, char *err, size_t cap) {
    X509 *x;

    memset(out, 0, sizeof(*out));
    if (info) memset(info, 0, sizeof(*info));
    if ((given(f->cert) &&
         !(out->cert = rpc_tls_read(f->cert, RPC_TLS_CERT, err, cap))) ||
        (given(f->key) &&
         !(out->key = rpc_tls_read(f->key, RPC_TLS_KEY, err, cap))) ||
        (given(f->ca) &&
         !(out->ca = rpc_tls_read(f->ca, RPC_TLS_CERT, err, cap))))
        goto fail;
    if ((out->cert == NULL) != (out->key == NULL)) {
        snprintf(err, cap, "a certificate needs its key and a key its "
                 "certificate: give both");
        goto fail;
    }
    if (out->cert && !rpc_tls_key_matches(out->cert, out->key)) {
        snprintf(err, cap, "the key in \"%s\" does not belong to the "
                 "certificate in \"%s\"", f->key, f->cert);
        goto fail;
    }
    if (out->cert && info && (x = first_cert(out->cert)) != NULL) {
        describe(x, info);
        X509_free(x);
    }
    return 0;
fail:
    rpc_tls_pem_free(out);
    return -1;
}

void rpc_tls_pem_free(rpc_tls_pem *p) {
    rpc_tls_wipe(p->key);
    free(p->cert);
    free(p->ca);
    memset(p, 0, sizeof(*p));
}

void rpc_tls_stamp_take(const rpc_tls_files *f, rpc_tls_stamp *out) {
    const char *paths[3] = {f->cert, f->key, f->ca};
    struct stat st;

    memset(out, 0, sizeof(*out));
    for (int i = 0; i < 3; i++) {
        if (!given(paths[i]) || stat(paths[i], &st) != 0) continue;
        out->v[i][0] = (uint64_t)st.st_dev;
        out->v[i][1] = (uint64_t)st.st_ino;
        out->v[i][2] = (uint64_t)st.st_size;
        out->v[i][3] = (uint64_t)st.st_mtim.tv_sec * 1000000000u
                       + (uint64_t)st.st_mtim.tv_nsec;
    }
}

bool rpc_tls_stamp_equal(const rpc_tls_stamp *a, const rpc_tls_stamp *b) {
    return memcmp(a, b, sizeof(*a)) == 0;
}

grpc_channel_credentials *rpc_tls_channel_credentials(const rpc_tls_pem *p,
                                                      char *err, size_t cap) {
    grpc_ssl_pem_key_cert_pair pair = {p->key, p->cert};
    grpc_channel_credentials *c;

    c = grpc_ssl_credentials_create(p->ca, p->cert ? &pair : NULL, NULL,
                                    NULL);
    if (c == NULL) snprintf(err, cap, "cannot create TLS credentials");
    return c;
}

grpc_ssl_server_certificate_config *rpc_tls_server_config(
    const rpc_tls_pem *p, char *err, size_t cap) {
    grpc_ssl_pem_key_cert_pair pair = {p->key, p->cert};
    grpc_ssl_server_certificate_config *c;

    if (p->cert == NULL || p->key == NULL) {
        snprintf(err, cap, "a TLS server needs a certificate and its key");
        return NULL;
    }
    /* gRPC 1.51 asserts that a fetched config has client roots, even when
     * no client certificate is requested: then our own certificate stands
     * in, and is never used to verify anything. */
    c = grpc_ssl_server_certificate_config_create(p->ca ? p->ca : p->cert,
                                                  &pair, 1);
    if (c == NULL) snprintf(err, cap, "cannot create the TLS configuration");
    return c;
}
