/* rpc_health.c - grpc.health.v1.Health for every rpc_server: Check, and the
 * server-streaming Watch that load balancers and gRPC's client-side health
 * checking keep open.
 *
 * A Watch call leaves its slot at once (the slot goes back to waiting for
 * the next call) and lives in an rpc_watch on the same worker's completion
 * queue. It sends the current status first, then again whenever it changes
 * (rpc_health_changed(), from any thread). When the server shuts down, every
 * stream is ended with UNAVAILABLE so that the shutdown does not wait for
 * clients that would otherwise watch forever. All rpc_watch state is guarded
 * by the server's watch_lock; at most one send batch per call is in flight. */
#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.pb-c.h"
#include "log.h"
#include "mem.h"
#include "rpc_internal.h"

#define CHECK_METHOD "/grpc.health.v1.Health/Check"
#define WATCH_METHOD "/grpc.health.v1.Health/Watch"
#define HEALTH_RESPONSE_INIT GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT
#define HEALTH_SERVICE_UNKNOWN \
    GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN

typedef Grpc__Health__V1__HealthCheckResponse__ServingStatus serving_status;

struct rpc_watch {
    rpc_watch_tag  send_tag;     /* completion of the batch in flight */
    rpc_watch_tag  close_tag;    /* RECV_CLOSE_ON_SERVER: the call is over */
    rpc_server    *server;
    grpc_call     *call;
    bool           known;        /* the service name is one of ours */
    int            sent;         /* last status sent; -1 before the first */
    bool           sending;      /* a send batch is in flight */
    bool           ending;       /* the server is stopping: send the status */
    bool           done;         /* nothing more is sent on this call */
    int            cancelled;
    int            refs;         /* the close batch + a send batch */
    grpc_byte_buffer *msg;
    grpc_slice     details;
    rpc_watch     *prev, *next;
    rpc_metrics   *metrics;      /* the Watch method's */
    int64_t        start_ns;
};

static bool service_known(const rpc_server *s, const char *name) {
    if (name[0] == '\0') return true;
    for (size_t i = 0; i < s->nservices; i++)
        if (strcmp(s->services[i], name) == 0) return true;
    return false;
}

static serving_status status_of(const rpc_server *s, bool known) {
    if (!known)
        return HEALTH_SERVICE_UNKNOWN;
    return atomic_load(&s->serving)
        ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING
        : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
}

/* The request of a Check or Watch, or NULL after failing the call. */
static Grpc__Health__V1__HealthCheckRequest *parse_request(rpc_call *c) {
    size_t len;
    const uint8_t *p = rpc_call_payload(c, &len);
    Grpc__Health__V1__HealthCheckRequest *req =
        grpc__health__v1__health_check_request__unpack(NULL, len, p);
    if (req == NULL)
        rpc_call_fail(c, GRPC_STATUS_INVALID_ARGUMENT,
                      "cannot parse HealthCheckRequest");
    return req;
}

static void health_check(rpc_call *c, void *ud) {
    rpc_server *s = ud;
    Grpc__Health__V1__HealthCheckRequest *req = parse_request(c);
    if (req == NULL) return;
    if (!service_known(s, req->service)) {
        rpc_call_fail(c, GRPC_STATUS_NOT_FOUND, "unknown service '%s'",
                      req->service);
    } else {
        Grpc__Health__V1__HealthCheckResponse res = HEALTH_RESPONSE_INIT;
        res.status = status_of(s, true);
        rpc_call_reply(c, &res.base);
    }
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);
}

/* --- Watch ---------------------------------------------------------------- */

static void watch_free(rpc_watch *w) {
    rpc_server *s = w->server;
    if (w->prev) w->prev->next = w->next;
    else s->watches = w->next;
    if (w->next) w->next->prev = w->prev;
    /* a stream ends when the server stops (UNAVAILABLE) or the client
     * leaves (CANCELLED) */
    rpc_metrics_handled(w->metrics, w->ending ? GRPC_STATUS_UNAVAILABLE
                                              : GRPC_STATUS_CANCELLED,
                        w->start_ns);
    grpc_call_unref(w->call);
    grpc_slice_unref(w->details);
    free(w);
}

static void watch_start(rpc_watch *w, grpc_op *ops, size_t n) {
    grpc_call_error err = grpc_call_start_batch(w->call, ops, n, &w->send_tag,
                                                NULL);
    if (err != GRPC_CALL_OK) {
        log_msg(LOG_ERROR, "rpc_batch_failed", "%s: grpc_call_start_batch: %d",
                WATCH_METHOD, (int)err);
        w->done = true;
        return;
    }
    w->sending = true;
    w->refs++;
}

/* Send what the watcher has not seen yet: the status that ends the call
 * when the server is stopping, else the current status if it changed.
 * watch_lock held. */
static void watch_pump(rpc_watch *w) {
    grpc_op ops[2];
    size_t n = 0;

    if (w->sending || w->done) return;
    memset(ops, 0, sizeof(ops));
    if (w->ending) {
        w->details = grpc_slice_from_static_string("server shutting down");
        if (w->sent < 0) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
        ops[n].data.send_status_from_server.status = GRPC_STATUS_UNAVAILABLE;
        ops[n].data.send_status_from_server.status_details = &w->details;
        n++;
        w->done = true;
        watch_start(w, ops, n);
        return;
    }
    serving_status now = status_of(w->server, w->known);
    if ((int)now == w->sent) return;

    Grpc__Health__V1__HealthCheckResponse res = HEALTH_RESPONSE_INIT;
    res.status = now;
    uint8_t buf[16];
    size_t len = protobuf_c_message_pack(&res.base, buf);
    grpc_slice sl = grpc_slice_from_copied_buffer((const char *)buf, len);
    w->msg = grpc_raw_byte_buffer_create(&sl, 1);
    grpc_slice_unref(sl);
    if (w->sent < 0) ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = w->msg;
    n++;
    w->sent = (int)now;
    watch_start(w, ops, n);
}

static void health_watch(rpc_call *c, void *ud) {
    rpc_server *s = ud;
    Grpc__Health__V1__HealthCheckRequest *req = parse_request(c);
    if (req == NULL) return;
    rpc_watch *w = xcalloc(1, sizeof(*w));
    w->send_tag = (rpc_watch_tag){TAG_WATCH, w};
    w->close_tag = (rpc_watch_tag){TAG_WATCH, w};
    w->server = s;
    w->known = service_known(s, req->service);
    w->sent = -1;
    w->details = grpc_empty_slice();
    w->metrics = c->metrics;
    w->start_ns = c->start_ns;
    grpc__health__v1__health_check_request__free_unpacked(req, NULL);

    /* The call is the watch's from now on; the slot serves the next one. */
    w->call = c->call;
    c->call = NULL;
    c->answered = true;

    grpc_op op;
    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &w->cancelled;
    pthread_mutex_lock(&s->watch_lock);
    w->next = s->watches;
    if (s->watches) s->watches->prev = w;
    s->watches = w;
    if (grpc_call_start_batch(w->call, &op, 1, &w->close_tag, NULL)
            != GRPC_CALL_OK) {
        log_msg(LOG_ERROR, "rpc_batch_failed", "%s: cannot wait for the close",
                WATCH_METHOD);
        watch_free(w);
    } else {
        w->refs = 1;
        w->ending = atomic_load(&s->stopping);
        watch_pump(w);
    }
    pthread_mutex_unlock(&s->watch_lock);
}

void rpc_health_event(rpc_watch_tag *tag, bool ok) {
    rpc_watch *w = tag->watch;
    rpc_server *s = w->server;

    pthread_mutex_lock(&s->watch_lock);
    if (tag == &w->close_tag) {
        w->done = true;              /* the client left, or the status went */
    } else {
        w->sending = false;
        if (w->msg && ok) rpc_metrics_msg_sent(w->metrics);
        if (w->msg) grpc_byte_buffer_destroy(w->msg);
        w->msg = NULL;
        if (!ok) w->done = true;
        watch_pump(w);
    }
    if (--w->refs == 0) watch_free(w);
    pthread_mutex_unlock(&s->watch_lock);
}

void rpc_health_changed(rpc_server *s) {
    pthread_mutex_lock(&s->watch_lock);
    for (rpc_watch *w = s->watches; w; w = w->next) watch_pump(w);
    pthread_mutex_unlock(&s->watch_lock);
}

void rpc_health_end(rpc_server *s) {
    pthread_mutex_lock(&s->watch_lock);
    for (rpc_watch *w = s->watches; w; w = w->next) {
        w->ending = true;
        watch_pump(w);
    }
    pthread_mutex_unlock(&s->watch_lock);
}

void rpc_health_register(rpc_server *s) {
    rpc_server_add_method(s, CHECK_METHOD, health_check, s);
    rpc_server_add_method(s, WATCH_METHOD, health_watch, s);
    rpc_server_method_streaming(s, WATCH_METHOD);
}
