/* rpc_bytes.h - a received gRPC message as one contiguous slice.
 *
 * Shared by the daemons' server and client and by the nginx module, which
 * all unpack protobuf from a grpc_byte_buffer. */
#ifndef COMMON_RPC_BYTES_H
#define COMMON_RPC_BYTES_H

#include <grpc/grpc.h>
#include <stdbool.h>

/* The message in `bb` as one slice in *out: a new reference to its only
 * slice when it arrived uncompressed in one piece (the common case, no
 * copy), else a copy of the whole message. False when `bb` cannot be read.
 * The caller unrefs *out. */
bool rpc_bytes_flatten(grpc_byte_buffer *bb, grpc_slice *out);

#endif
