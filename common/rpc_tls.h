/* rpc_tls.h - TLS material for gRPC servers and channels, read from PEM
 * files: the server's and the client's credentials, checks that name the
 * file that is wrong, and a stamp telling when files were replaced.
 *
 * No logging and no global state in here: errors come back as text, so the
 * daemons, fibctl and the nginx module (which compiles this file in) report
 * them their own way. Key material is never put into an error message, and
 * buffers that held a key are wiped before they are freed. */
#ifndef COMMON_RPC_TLS_H
#define COMMON_RPC_TLS_H

#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* File names; NULL or "" means not given. */
typedef struct {
    const char *cert;   /* PEM certificate (chain), ours */
    const char *key;    /* PEM private key of `cert` */
    const char *ca;     /* PEM CA certificates that verify the peer */
} rpc_tls_files;

/* The files' contents, NUL-terminated, malloc'd; NULL where not given. */
typedef struct {
    char *cert;
    char *key;
    char *ca;
} rpc_tls_pem;

/* What a certificate says about itself, for log lines. */
typedef struct {
    char   subject[256];
    time_t not_after;
} rpc_tls_cert_info;

/* True when any file is given. */
bool rpc_tls_enabled(const rpc_tls_files *f);

/* Read every given file and check it: certificates and key parse, the key
 * belongs to the certificate, a key comes with a certificate and the other
 * way round. 0, or -1 with `err` naming the file and what is wrong. `info`
 * (may be NULL) describes the certificate, if one was given. */
int rpc_tls_load(const rpc_tls_files *f, rpc_tls_pem *out,
                 rpc_tls_cert_info *info, char *err, size_t cap);

typedef enum {
    RPC_TLS_CERT,       /* one or more certificates (a chain, or CAs) */
    RPC_TLS_KEY         /* an unencrypted private key */
} rpc_tls_kind;

/* Read one file and check that it holds what `kind` says. Returns its
 * malloc'd NUL-terminated contents (free a key with rpc_tls_wipe()), or
 * NULL with `err` naming the file and what is wrong. */
char *rpc_tls_read(const char *path, rpc_tls_kind kind, char *err,
                   size_t cap);

/* True when the key (PEM) belongs to the certificate (PEM). */
bool rpc_tls_key_matches(const char *cert, const char *key);

/* Wipe and free a buffer that held a key. */
void rpc_tls_wipe(char *p);

/* Free the contents; the key is wiped first. */
void rpc_tls_pem_free(rpc_tls_pem *p);

/* Changes whenever one of the files is replaced or rewritten. */
typedef struct {
    uint64_t v[3][4];   /* per file: device, inode, size, mtime (ns) */
} rpc_tls_stamp;

void rpc_tls_stamp_take(const rpc_tls_files *f, rpc_tls_stamp *out);
bool rpc_tls_stamp_equal(const rpc_tls_stamp *a, const rpc_tls_stamp *b);

/* Channel credentials: verify the server with `ca` (the system's roots when
 * NULL) and present cert/key when given. NULL, with `err`, on failure. */
grpc_channel_credentials *rpc_tls_channel_credentials(const rpc_tls_pem *p,
                                                      char *err, size_t cap);

/* A server certificate config: cert/key to present, ca (may be NULL) to
 * verify clients with. NULL, with `err`, when there is no cert or key. */
grpc_ssl_server_certificate_config *rpc_tls_server_config(
    const rpc_tls_pem *p, char *err, size_t cap);

#endif
