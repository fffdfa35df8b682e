/* stats_rpc.h - the stats.Stats gRPC methods: RecordNo, RecordBatch and
 * GetStats, served from one stats_store. */
#ifndef STATS_RPC_H
#define STATS_RPC_H

#include "rpc_server.h"
#include "stats_store.h"

/* The service name the health check answers for. */
#define STATS_SERVICE_NAME "stats.Stats"

/* Register the three methods and the health service name on a server that
 * has not been started yet. The store must outlive the server. */
void stats_rpc_register(rpc_server *srv, stats_store *store);

#endif
