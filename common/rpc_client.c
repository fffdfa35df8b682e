/* rpc_client.c - blocking unary gRPC calls, each on its own pluck queue so
 * any number of threads can call through one channel at once. */
#include "rpc_client.h"

#include "mem.h"
#include "rpc_bytes.h"
#include "rpc_limits.h"

#include <grpc/grpc_security.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Replies may be large (exact F(n) for big n): RPC_LIMITS_CLIENT takes
 * 64 MiB. A server that comes back is found within a second or so: gRPC's
 * default reconnect backoff grows to two minutes, which would hold back
 * stats delivery long after a stats-service restart. */
grpc_channel *rpc_client_channel_tls(const char *target,
                                     const rpc_tls_pem *tls,
                                     const char *name) {
    static const rpc_limits limits = RPC_LIMITS_CLIENT;
    grpc_arg arg[3 + RPC_LIMITS_NARGS] = {
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS,
         .value.integer = 100},
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_MAX_RECONNECT_BACKOFF_MS,
         .value.integer = 1000},
    };
    size_t n = 2;
    char err[256];

    if (tls && name && *name) {
        arg[n].type = GRPC_ARG_STRING;
        arg[n].key = GRPC_SSL_TARGET_NAME_OVERRIDE_ARG;
        arg[n++].value.string = (char *)name;
    }
    n += rpc_limits_args(&limits, arg + n);
    grpc_channel_args args = {n, arg};
    grpc_channel_credentials *creds = tls
        ? rpc_tls_channel_credentials(tls, err, sizeof(err))
        : grpc_insecure_credentials_create();
    if (creds == NULL) return NULL;
    grpc_channel *ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    return ch;
}

grpc_channel *rpc_client_channel(const char *target) {
    return rpc_client_channel_tls(target, NULL, NULL);
}

static rpc_result result(grpc_status_code code, const char *details) {
    rpc_result r = {code, details && *details ? xstrdup(details) : NULL};
    return r;
}

static char *slice_strdup(grpc_slice s) {
    size_t n = GRPC_SLICE_LENGTH(s);
    return n ? xmemdupz(GRPC_SLICE_START_PTR(s), n) : NULL;
}

/* The whole message in one malloc'd buffer. */
static uint8_t *byte_buffer_copy(grpc_byte_buffer *bb, size_t *len) {
    grpc_slice s;
    if (!rpc_bytes_flatten(bb, &s)) return NULL;
    *len = GRPC_SLICE_LENGTH(s);
    uint8_t *out = xmalloc(*len ? *len : 1);
    memcpy(out, GRPC_SLICE_START_PTR(s), *len);
    grpc_slice_unref(s);
    return out;
}

void rpc_client_cq_destroy(grpc_completion_queue *cq) {
    grpc_completion_queue_shutdown(cq);
    while (grpc_completion_queue_pluck(cq, NULL,
               gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type
           != GRPC_QUEUE_SHUTDOWN) {}
    grpc_completion_queue_destroy(cq);
}

rpc_result rpc_client_call_raw(grpc_channel *ch, const char *method,
                               const uint8_t *in, size_t in_len,
                               uint8_t **out, size_t *out_len,
                               int64_t timeout_ns, const char *request_id) {
    *out = NULL;
    *out_len = 0;
    gpr_timespec deadline =
        gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                     gpr_time_from_nanos(timeout_ns > 0 ? timeout_ns : 0,
                                         GPR_TIMESPAN));
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice method_slice = grpc_slice_from_copied_string(method);
    grpc_call *call =
        grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                 method_slice, NULL, deadline, NULL);
    grpc_slice_unref(method_slice);

    grpc_metadata md = {0};
    md.key = grpc_slice_from_static_string("x-request-id");
    md.value = grpc_slice_from_copied_string(request_id ? request_id : "");
    grpc_byte_buffer *req = NULL;
    if (in != NULL) {
        grpc_slice req_slice = grpc_slice_from_copied_buffer((const char *)in,
                                                             in_len);
        req = grpc_raw_byte_buffer_create(&req_slice, 1);
        grpc_slice_unref(req_slice);
    }

    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_byte_buffer *reply = NULL;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();

    grpc_op ops[6], *op = ops;
    memset(ops, 0, sizeof(ops));
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    op->data.send_initial_metadata.count = request_id ? 1 : 0;
    op->data.send_initial_metadata.metadata = &md;
    op++;
    if (req != NULL) {
        op->op = GRPC_OP_SEND_MESSAGE;
        op->data.send_message.send_message = req;
        op++;
    }
    op->op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    op++;
    op->op = GRPC_OP_RECV_INITIAL_METADATA;
    op->data.recv_initial_metadata.recv_initial_metadata = &initial;
    op++;
    op->op = GRPC_OP_RECV_MESSAGE;
    op->data.recv_message.recv_message = &reply;
    op++;
    op->op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    op->data.recv_status_on_client.trailing_metadata = &trailing;
    op->data.recv_status_on_client.status = &status;
    op->data.recv_status_on_client.status_details = &details;
    op++;

    rpc_result r;
    grpc_call_error err = grpc_call_start_batch(call, ops, (size_t)(op - ops),
                                                call, NULL);
    if (err == GRPC_CALL_ERROR_INVALID_METADATA) {
        r = result(GRPC_STATUS_INVALID_ARGUMENT,
                   "invalid x-request-id metadata value");
    } else if (err != GRPC_CALL_OK) {
        char msg[64];
        snprintf(msg, sizeof(msg), "grpc_call_start_batch failed: %d",
                 (int)err);
        r = result(GRPC_STATUS_INTERNAL, msg);
    } else {
        grpc_completion_queue_pluck(cq, call,
                                    gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        r.status = status;
        r.details = slice_strdup(details);
        if (status == GRPC_STATUS_OK) {
            if (reply == NULL) {
                free(r.details);
                r = result(GRPC_STATUS_INTERNAL,
                           "OK status without a reply message");
            } else if ((*out = byte_buffer_copy(reply, out_len)) == NULL) {
                free(r.details);
                r = result(GRPC_STATUS_INTERNAL,
                           "cannot read the reply message");
            }
        }
    }

    if (reply) grpc_byte_buffer_destroy(reply);
    if (req) grpc_byte_buffer_destroy(req);
    grpc_slice_unref(details);
    grpc_slice_unref(md.value);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    rpc_client_cq_destroy(cq);
    return r;
}

rpc_result rpc_client_call(grpc_channel *ch, const char *method,
                           const ProtobufCMessage *request,
                           const ProtobufCMessageDescriptor *reply_desc,
                           ProtobufCMessage **reply, int64_t timeout_ns,
                           const char *request_id) {
    uint8_t stackbuf[512];
    size_t n = protobuf_c_message_get_packed_size(request);
    uint8_t *buf = n <= sizeof(stackbuf) ? stackbuf : xmalloc(n);
    protobuf_c_message_pack(request, buf);
    uint8_t *out;
    size_t out_len;
    rpc_result r = rpc_client_call_raw(ch, method, buf, n, &out, &out_len,
                                       timeout_ns, request_id);
    if (buf != stackbuf) free(buf);
    if (reply) *reply = NULL;
    if (r.status == GRPC_STATUS_OK && reply_desc && reply) {
        *reply = protobuf_c_message_unpack(reply_desc, NULL, out_len, out);
        if (*reply == NULL) {
            char msg[256];
            snprintf(msg, sizeof(msg), "cannot parse the reply as %s",
                     reply_desc->name);
            free(r.details);
            r = result(GRPC_STATUS_INTERNAL, msg);
        }
    }
    free(out);
    return r;
}
