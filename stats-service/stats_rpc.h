/* stats_rpc.h - the stats.Stats gRPC methods: RecordNo, RecordBatch,
 * GetStats and Query, served from one stats_store. */
#ifndef STATS_RPC_H
#define STATS_RPC_H

#include "rpc_server.h"
#include "stats_store.h"

/* The service name the health check answers for. */
#define STATS_SERVICE_NAME "stats.Stats"

typedef struct stats_rpc stats_rpc;

/* Handlers serving `store` (which must outlive them). */
stats_rpc *stats_rpc_create(stats_store *store);

/* Only callers whose client certificate carries one of these names (a
 * comma-separated list, matched against its DNS names and common name) may
 * call RecordNo and RecordBatch: others get PERMISSION_DENIED, callers
 * without a certificate UNAUTHENTICATED. GetStats stays open. 0, or -1 when
 * the list has an empty name. */
int stats_rpc_set_record_allow(stats_rpc *r, const char *names);

/* Register the four methods and the health service name on a server that
 * has not been started yet. */
void stats_rpc_register(stats_rpc *r, rpc_server *srv);

/* After the server is destroyed. */
void stats_rpc_free(stats_rpc *r);

#endif
