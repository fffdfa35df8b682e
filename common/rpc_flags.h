/* rpc_flags.h - the command-line flags both daemons take for their gRPC
 * server (TLS files, limits, the metrics endpoint), as entries of a flags.h
 * table:
 *
 *   rpc_server_opts so = RPC_SERVER_OPTS_INIT;
 *   const flag_def defs[] = { ..., RPC_SERVER_FLAGS(&so), {NULL, ...} };
 *   ...
 *   if (rpc_server_configure(srv, &so) != 0) exit(1);
 */
#ifndef COMMON_RPC_FLAGS_H
#define COMMON_RPC_FLAGS_H

#include "flags.h"
#include "rpc_limits.h"
#include "rpc_server.h"
#include "rpc_tls.h"

typedef struct {
    rpc_tls_files tls;
    rpc_limits    limits;
    const char   *metrics_listen;   /* HTTP /metrics; NULL or "": none */
} rpc_server_opts;

#define RPC_SERVER_OPTS_INIT { .tls = {NULL, NULL, NULL},                  \
                               .limits = RPC_LIMITS_SERVER,                \
                               .metrics_listen = NULL }

#define RPC_SERVER_FLAGS(o)                                                 \
    {"tls-cert", FLAG_STRING, &(o)->tls.cert, 0, 0, NULL,                  \
     "PEM certificate (chain): serve TLS with it (needs --tls-key)"},      \
    {"tls-key", FLAG_STRING, &(o)->tls.key, 0, 0, NULL,                    \
     "PEM private key of --tls-cert"},                                     \
    {"tls-client-ca", FLAG_STRING, &(o)->tls.ca, 0, 0, NULL,               \
     "PEM CA certificates: require client certificates they verify"},      \
    {"max-request", FLAG_SIZE, &(o)->limits.max_recv, 1, 1LL << 30, NULL,  \
     "largest request message accepted"},                                  \
    {"max-reply", FLAG_SIZE, &(o)->limits.max_send, 1, 1LL << 30, NULL,    \
     "largest reply message sent (larger: RESOURCE_EXHAUSTED)"},           \
    {"max-streams", FLAG_INT, &(o)->limits.max_streams, 1, 1 << 20, NULL,  \
     "concurrent calls per client connection"},                            \
    {"metrics-listen", FLAG_STRING, &(o)->metrics_listen, 0, 0, NULL,      \
     "host:port to serve Prometheus metrics on (HTTP GET /metrics)"}

/* Apply the options to a server not started yet: 0, or -1 after logging
 * what is wrong (a client CA without a certificate, unreadable files...). */
int rpc_server_configure(rpc_server *s, const rpc_server_opts *o);

#endif
