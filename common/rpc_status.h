/* rpc_status.h - gRPC status codes by name, for logs, tools and the nginx
 * module's JSON errors. */
#ifndef COMMON_RPC_STATUS_H
#define COMMON_RPC_STATUS_H

#include <grpc/status.h>

/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN" for a code gRPC does not have. */
const char *rpc_status_name(grpc_status_code code);

#endif
