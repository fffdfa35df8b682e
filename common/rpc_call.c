/* rpc_call.c - what a handler sees of a call: the request, its metadata,
 * and the one batch that answers it. */
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "rpc_bytes.h"
#include "rpc_internal.h"

const uint8_t *rpc_call_payload(rpc_call *c, size_t *len) {
    if (!c->have_slice) {
        if (c->payload == NULL ||
            !rpc_bytes_flatten(c->payload, &c->payload_slice))
            c->payload_slice = grpc_empty_slice();
        c->have_slice = true;
    }
    *len = GRPC_SLICE_LENGTH(c->payload_slice);
    return GRPC_SLICE_START_PTR(c->payload_slice);
}

const char *rpc_call_method(const rpc_call *c) {
    return c->method_name;
}

const char *rpc_call_peer(rpc_call *c) {
    if (c->peer == NULL) c->peer = grpc_call_get_peer(c->call);
    return c->peer;
}

const char *rpc_call_request_id(const rpc_call *c) {
    return c->has_request_id ? c->request_id : NULL;
}

const char *rpc_call_trace_id(const rpc_call *c) {
    return c->has_trace ? c->trace_id : NULL;
}

const char *rpc_call_span_id(const rpc_call *c) {
    return c->has_trace ? c->span_id : NULL;
}

void rpc_call_log_ids(log_line *l, const rpc_call *c) {
    log_str(l, "request_id", rpc_call_request_id(c));
    log_str(l, "trace_id", rpc_call_trace_id(c));
    log_str(l, "span_id", rpc_call_span_id(c));
}

static bool has_name(const rpc_call *c, const char *v, size_t n) {
    for (size_t i = 0; i < c->npeer_names; i++)
        if (strlen(c->peer_names[i]) == n &&
            memcmp(c->peer_names[i], v, n) == 0)
            return true;
    return false;
}

/* Copy the auth context's values of property `name` into the call. */
static void add_names(rpc_call *c, grpc_auth_context *ctx, const char *name,
                      size_t *used) {
    grpc_auth_property_iterator it =
        grpc_auth_context_find_properties_by_name(ctx, name);
    const grpc_auth_property *p;

    while ((p = grpc_auth_property_iterator_next(&it)) != NULL) {
        size_t n = p->value_length;
        if (c->npeer_names == RPC_PEER_NAMES_MAX ||
            *used + n + 1 > sizeof(c->peer_names_buf))
            return;
        if (n == 0 || memchr(p->value, '\0', n) || has_name(c, p->value, n))
            continue;
        memcpy(c->peer_names_buf + *used, p->value, n);
        c->peer_names_buf[*used + n] = '\0';
        c->peer_names[c->npeer_names++] = c->peer_names_buf + *used;
        *used += n + 1;
    }
}

size_t rpc_call_peer_names(rpc_call *c, const char **names, size_t max) {
    if (!c->have_names) {
        grpc_auth_context *ctx = grpc_call_auth_context(c->call);
        size_t used = 0;

        c->have_names = true;
        c->npeer_names = 0;
        if (ctx && grpc_auth_context_peer_is_authenticated(ctx)) {
            add_names(c, ctx, GRPC_PEER_DNS_PROPERTY_NAME, &used);
            add_names(c, ctx, GRPC_X509_CN_PROPERTY_NAME, &used);
        }
        if (ctx) grpc_auth_context_release(ctx);
    }
    if (max > c->npeer_names) max = c->npeer_names;
    memcpy(names, c->peer_names, max * sizeof(*names));
    return max;
}

int64_t rpc_call_start_ns(const rpc_call *c) {
    return c->start_ns;
}

/* Send initial metadata, the message (if any) and the status in one batch,
 * and learn with RECV_CLOSE_ON_SERVER when the call is over. The slot is
 * recycled when the batch completes (rpc_server.c). */
void rpc_call_send(rpc_call *c, grpc_status_code code, const char *details,
                   grpc_byte_buffer *msg) {
    if (c->answered) {
        log_msg(LOG_ERROR, "rpc_double_reply", "%s answered twice",
                c->method_name);
        if (msg) grpc_byte_buffer_destroy(msg);
        return;
    }
    c->answered = true;
    rpc_metrics_handled(c->metrics, code, c->start_ns);
    if (msg) rpc_metrics_msg_sent(c->metrics);
    c->status_details = details && *details
                            ? grpc_slice_from_copied_string(details)
                            : grpc_empty_slice();
    grpc_op ops[4];
    grpc_op *op = ops;
    memset(ops, 0, sizeof(ops));
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    op++;
    if (msg) {
        op->op = GRPC_OP_SEND_MESSAGE;
        op->data.send_message.send_message = msg;
        op++;
    }
    op->op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    op->data.send_status_from_server.status = code;
    op->data.send_status_from_server.status_details = &c->status_details;
    op++;
    op->op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op->data.recv_close_on_server.cancelled = &c->cancelled;
    op++;
    /* before the batch starts: a detached call's completion may reach its
     * worker thread before grpc_call_start_batch() returns here */
    c->state = CALL_FINISHING;
    grpc_call_error err =
        grpc_call_start_batch(c->call, ops, (size_t)(op - ops), c, NULL);
    if (msg) grpc_byte_buffer_destroy(msg);   /* the batch holds its own ref */
    if (err == GRPC_CALL_OK) return;          /* c may be freed already */
    c->state = CALL_WAITING;
    /* no completion will come: the worker recycles the slot, and a
     * detached call is over now */
    log_msg(LOG_ERROR, "rpc_batch_failed", "%s: grpc_call_start_batch: %d",
            c->method_name, (int)err);
    if (c->detached) {
        rpc_call_release(c);
        rpc_call_detached_done(c);
    }
}

rpc_call *rpc_call_defer(rpc_call *c) {
    rpc_call *d = xmalloc(sizeof(*d));
    *d = *c;                /* the call, its metadata, payload and peer */
    d->detached = true;
    d->deferred = false;
    if (c->method == NULL) d->method_name = d->generic_name;
    for (size_t i = 0; i < c->npeer_names; i++)     /* into d's own buffer */
        d->peer_names[i] = d->peer_names_buf +
                           (c->peer_names[i] - c->peer_names_buf);

    /* the slot keeps nothing of it */
    c->deferred = true;
    c->call = NULL;
    grpc_metadata_array_init(&c->md);
    grpc_call_details_init(&c->details);
    c->payload = NULL;
    c->have_slice = false;
    c->status_details = grpc_empty_slice();
    c->peer = NULL;
    c->have_names = false;
    c->npeer_names = 0;

    rpc_server *s = c->worker->server;
    pthread_mutex_lock(&s->lock);
    s->ndeferred++;
    pthread_mutex_unlock(&s->lock);
    return d;
}

void rpc_call_reply(rpc_call *c, const ProtobufCMessage *reply) {
    size_t n = protobuf_c_message_get_packed_size(reply);
    grpc_slice s = grpc_slice_malloc(n);     /* inline (no malloc) when small */
    protobuf_c_message_pack(reply, GRPC_SLICE_START_PTR(s));
    rpc_call_reply_packed(c, s);
    grpc_slice_unref(s);
}

void rpc_call_reply_packed(rpc_call *c, grpc_slice packed) {
    /* the byte buffer takes its own reference to the slice */
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&packed, 1);
    rpc_call_send(c, GRPC_STATUS_OK, NULL, bb);
}

void rpc_call_fail(rpc_call *c, grpc_status_code code, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (code == GRPC_STATUS_OK) code = GRPC_STATUS_UNKNOWN;
    rpc_call_send(c, code, msg, NULL);
}
