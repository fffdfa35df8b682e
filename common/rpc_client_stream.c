/* rpc_client_stream.c - blocking server-streaming calls: one request, then
 * each message handed to a callback as it arrives, on a private pluck
 * queue. For tools and tests (fibctl range and watch), never nginx. */
#include <grpc/support/time.h>
#include <string.h>

#include "mem.h"
#include "rpc_bytes.h"
#include "rpc_client.h"

/* Wait for the batch tagged `tag`; true when it succeeded. */
static bool pluck(grpc_completion_queue *cq, void *tag) {
    grpc_event ev = grpc_completion_queue_pluck(cq, tag,
                        gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

rpc_result rpc_client_stream(grpc_channel *ch, const char *method,
                             const ProtobufCMessage *request,
                             rpc_client_msg_fn fn, void *ud,
                             int64_t timeout_ns, const char *request_id) {
    size_t rlen = protobuf_c_message_get_packed_size(request);
    grpc_slice sl = grpc_slice_malloc(rlen);
    protobuf_c_message_pack(request, GRPC_SLICE_START_PTR(sl));
    grpc_byte_buffer *out = grpc_raw_byte_buffer_create(&sl, 1), *in = NULL;
    grpc_slice_unref(sl);

    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    gpr_timespec deadline = gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
        gpr_time_from_nanos(timeout_ns > 0 ? timeout_ns : 0, GPR_TIMESPAN));
    grpc_slice m = grpc_slice_from_copied_string(method);
    grpc_call *call = grpc_channel_create_call(ch, NULL,
        GRPC_PROPAGATE_DEFAULTS, cq, m, NULL, deadline, NULL);
    grpc_slice_unref(m);
    grpc_metadata_array md_in, trailers;
    grpc_metadata_array_init(&md_in);
    grpc_metadata_array_init(&trailers);
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_metadata rid;
    memset(&rid, 0, sizeof(rid));
    rid.key = grpc_slice_from_static_string("x-request-id");
    rid.value = grpc_slice_from_copied_string(request_id ? request_id : "");

    grpc_op ops[4];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = request_id ? 1 : 0;
    ops[0].data.send_initial_metadata.metadata = &rid;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = out;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_in;
    grpc_call_start_batch(call, ops, 4, (void *)1, NULL);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &trailers;
    ops[0].data.recv_status_on_client.status = &status;
    ops[0].data.recv_status_on_client.status_details = &details;
    grpc_call_start_batch(call, ops, 1, (void *)2, NULL);
    pluck(cq, (void *)1);

    bool stopped = false;
    for (;;) {
        memset(ops, 0, sizeof(ops));
        ops[0].op = GRPC_OP_RECV_MESSAGE;
        ops[0].data.recv_message.recv_message = &in;
        grpc_call_start_batch(call, ops, 1, (void *)3, NULL);
        if (!pluck(cq, (void *)3) || in == NULL) break;
        grpc_slice flat;
        bool ok = rpc_bytes_flatten(in, &flat);
        grpc_byte_buffer_destroy(in);
        in = NULL;
        if (!ok) break;
        bool more = fn(GRPC_SLICE_START_PTR(flat), GRPC_SLICE_LENGTH(flat),
                       ud);
        grpc_slice_unref(flat);
        if (!more) {
            grpc_call_cancel(call, NULL);
            stopped = true;
            break;
        }
    }
    pluck(cq, (void *)2);

    rpc_result r = {stopped ? GRPC_STATUS_CANCELLED : status, NULL};
    size_t n = GRPC_SLICE_LENGTH(details);
    if (!stopped && n) r.details = xmemdupz(GRPC_SLICE_START_PTR(details), n);
    grpc_byte_buffer_destroy(out);
    grpc_slice_unref(rid.value);
    grpc_slice_unref(details);
    grpc_call_unref(call);
    rpc_client_cq_destroy(cq);
    grpc_metadata_array_destroy(&md_in);
    grpc_metadata_array_destroy(&trailers);
    return r;
}
