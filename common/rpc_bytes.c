/* rpc_bytes.c - a received gRPC message as one contiguous slice. */
#include "rpc_bytes.h"

#include <grpc/byte_buffer_reader.h>

bool rpc_bytes_flatten(grpc_byte_buffer *bb, grpc_slice *out) {
    grpc_byte_buffer_reader r;

    if (bb->type == GRPC_BB_RAW &&
        bb->data.raw.compression == GRPC_COMPRESS_NONE &&
        bb->data.raw.slice_buffer.count == 1) {
        *out = grpc_slice_ref(bb->data.raw.slice_buffer.slices[0]);
        return true;
    }
    if (!grpc_byte_buffer_reader_init(&r, bb)) return false;
    *out = grpc_byte_buffer_reader_readall(&r);
    grpc_byte_buffer_reader_destroy(&r);
    return true;
}
