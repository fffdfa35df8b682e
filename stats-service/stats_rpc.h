/* stats_rpc.h - the stats.Stats gRPC methods: RecordNo, RecordBatch and
 * GetStats, served from one stats_store. */
#ifndef STATS_RPC_H
#define STATS_RPC_H

#include "rpc_server.h"
#include "stats_store.h"

/* The service name the health check answers for. */
#define STATS_SERVICE_NAME "stats.Stats"

typedef struct stats_rpc stats_rpc;

/* Handlers serving `store` (which must outlive them); NULL when out of
 * memory. */
stats_rpc *stats_rpc_create(stats_store *store);

/* Register the three methods and the health service name on a server that
 * has not been started yet. */
void stats_rpc_register(stats_rpc *r, rpc_server *srv);

/* After the server is destroyed. */
void stats_rpc_free(stats_rpc *r);

#endif
