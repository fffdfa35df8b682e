/* rpc_server.c - the multi-threaded unary gRPC server: setup, the worker
 * threads' completion-queue loops and graceful shutdown. The per-call API
 * for handlers is in rpc_call.c, the health service in rpc_health.c.
 *
 * Every worker owns a completion queue and a fixed array of call slots:
 * REQUESTS_PER_METHOD posted requests for each registered method plus one
 * generic request that answers unknown methods. A slot cycles
 * WAITING -> (handler runs, reply batch posted) -> FINISHING -> WAITING, and
 * is only touched by its own worker, so the hot path takes no locks and
 * allocates nothing of its own beyond the reply buffer. */
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "mem.h"
#include "rpc_internal.h"

/* Posted requests per method per worker. Measured with h2load (16 conns x
 * 16 streams, 2 threads, server CPU per 200k calls): 1 -> ~3.3 s, 4 -> ~3.1 s,
 * 8..16 -> ~2.6 s, 64 -> worse. A call that finds no request posted on its
 * own queue is handed to another thread's, which costs a wake-up. */
#define REQUESTS_PER_METHOD 16

rpc_server *rpc_server_create(const char *listen, int threads) {
    rpc_server *s = xcalloc(1, sizeof(*s));
    s->listen = xstrdup(listen);
    s->nthreads = threads < 1 ? 1 : threads;
    s->shutdown_tag = TAG_SHUTDOWN;
    s->limits = (rpc_limits)RPC_LIMITS_SERVER;
    atomic_init(&s->serving, false);
    atomic_init(&s->stopping, false);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->watch_lock, NULL);
    rpc_health_register(s);
    return s;
}

void rpc_server_add_method(rpc_server *s, const char *method, rpc_handler fn,
                           void *ud) {
    s->methods = xrealloc(s->methods, (s->nmethods + 1) * sizeof(*s->methods));
    s->methods[s->nmethods++] =
        (rpc_method){xstrdup(method), NULL, fn, ud, false, NULL};
}

void rpc_server_add_stream_method(rpc_server *s, const char *method,
                                  rpc_handler fn, void *ud) {
    rpc_server_add_method(s, method, fn, ud);
    s->methods[s->nmethods - 1].streaming = true;
}

void rpc_server_method_streaming(rpc_server *s, const char *method) {
    for (size_t i = 0; i < s->nmethods; i++)
        if (strcmp(s->methods[i].name, method) == 0)
            s->methods[i].streaming = true;
}

void rpc_server_add_service(rpc_server *s, const char *service) {
    s->services =
        xrealloc(s->services, (s->nservices + 1) * sizeof(*s->services));
    s->services[s->nservices++] = xstrdup(service);
}

void rpc_server_set_serving(rpc_server *s, bool serving) {
    atomic_store(&s->serving, serving);
    rpc_health_changed(s);
}

void rpc_server_set_limits(rpc_server *s, const rpc_limits *limits) {
    s->limits = *limits;
}

int rpc_server_port(const rpc_server *s) {
    return s->port;
}

/* --- call slots ----------------------------------------------------------- */

/* Post a request for the slot's next call (unless shutting down). */
static void call_request(rpc_call *c) {
    rpc_server *s = c->worker->server;
    grpc_completion_queue *cq = c->worker->cq;
    grpc_call_error err;

    c->state = CALL_IDLE;
    if (atomic_load(&s->stopping)) return;
    grpc_metadata_array_init(&c->md);
    c->call = NULL;
    c->payload = NULL;
    if (c->method) {
        err = grpc_server_request_registered_call(s->server, c->method->handle,
                &c->call, &c->deadline, &c->md, &c->payload, cq, cq, c);
    } else {
        grpc_call_details_init(&c->details);
        err = grpc_server_request_call(s->server, &c->call, &c->details, &c->md,
                                       cq, cq, c);
    }
    if (err == GRPC_CALL_OK) c->state = CALL_WAITING;
    else log_msg(LOG_ERROR, "rpc_request_failed", "grpc request call: %d",
                 (int)err);
}

/* Release everything the last call held. */
void rpc_call_release(rpc_call *c) {
    if (c->call) grpc_call_unref(c->call);
    c->call = NULL;
    grpc_metadata_array_destroy(&c->md);
    grpc_metadata_array_init(&c->md);
    if (c->method == NULL) {
        grpc_call_details_destroy(&c->details);
        grpc_call_details_init(&c->details);
    }
    if (c->payload) grpc_byte_buffer_destroy(c->payload);
    c->payload = NULL;
    if (c->have_slice) grpc_slice_unref(c->payload_slice);
    c->have_slice = false;
    grpc_slice_unref(c->status_details);
    c->status_details = grpc_empty_slice();
    if (c->peer) gpr_free(c->peer);
    c->peer = NULL;
    c->answered = false;
    c->has_request_id = false;
    c->has_trace = false;
    c->have_names = false;
    c->npeer_names = 0;
}

static void copy_slice(char *dst, size_t cap, grpc_slice s) {
    size_t n = GRPC_SLICE_LENGTH(s);
    if (n >= cap) n = cap - 1;
    memcpy(dst, GRPC_SLICE_START_PTR(s), n);
    dst[n] = '\0';
}

static bool lower_hex(const uint8_t *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f')))
            return false;
    return true;
}

/* W3C traceparent "vv-<32 hex trace id>-<16 hex span id>-ff": keep the
 * trace and span ids for the call's log lines; anything else is ignored. */
static void read_traceparent(rpc_call *c, grpc_slice v) {
    const uint8_t *p = GRPC_SLICE_START_PTR(v);
    size_t n = GRPC_SLICE_LENGTH(v);
    if (n < 55 || p[2] != '-' || p[35] != '-' || p[52] != '-' ||
        !lower_hex(p + 3, 32) || !lower_hex(p + 36, 16))
        return;
    memcpy(c->trace_id, p + 3, 32);
    c->trace_id[32] = '\0';
    memcpy(c->span_id, p + 36, 16);
    c->span_id[16] = '\0';
    c->has_trace = true;
}

/* A call has arrived on the slot: run its handler. */
static void call_serve(rpc_call *c) {
    c->start_ns = clock_mono_ns();
    rpc_metrics_started(c->metrics);
    for (size_t i = 0; i < c->md.count; i++) {
        const grpc_metadata *m = &c->md.metadata[i];
        if (grpc_slice_str_cmp(m->key, "x-request-id") == 0) {
            copy_slice(c->request_id, sizeof(c->request_id), m->value);
            c->has_request_id = true;
        } else if (grpc_slice_str_cmp(m->key, "traceparent") == 0) {
            read_traceparent(c, m->value);
        }
    }
    if (c->method && c->payload == NULL) {
        /* the client half-closed without sending its request */
        c->method_name = c->method->name;
        rpc_call_fail(c, GRPC_STATUS_INVALID_ARGUMENT,
                      "the call ended without a request message");
    } else if (c->method) {
        c->method_name = c->method->name;
        c->method->fn(c, c->method->ud);
    } else {
        copy_slice(c->generic_name, sizeof(c->generic_name), c->details.method);
        c->method_name = c->generic_name;
        rpc_call_fail(c, GRPC_STATUS_UNIMPLEMENTED, "unknown method %s",
                      c->generic_name);
    }
    if (!c->answered && !c->deferred) {
        log_msg(LOG_ERROR, "rpc_no_reply", "handler for %s did not answer",
                c->method_name);
        rpc_call_fail(c, GRPC_STATUS_INTERNAL, "handler did not answer");
    }
    if (c->deferred) {          /* the call lives on, detached: reuse */
        c->deferred = false;
        c->answered = false;
        c->has_request_id = false;
        c->has_trace = false;
        call_request(c);
    } else if (c->state != CALL_FINISHING) {  /* the reply could not start */
        rpc_call_release(c);
        call_request(c);
    }
}

void rpc_call_detached_done(rpc_call *c) {
    rpc_server *s = c->worker->server;
    free(c);
    pthread_mutex_lock(&s->lock);
    if (--s->ndeferred == 0) pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void call_event(rpc_call *c, bool ok) {
    switch (c->state) {
    case CALL_WAITING:
        if (ok) {
            call_serve(c);
        } else {                 /* request cancelled: the server is stopping */
            rpc_call_release(c);
            c->state = CALL_IDLE;
        }
        break;
    case CALL_FINISHING:
        rpc_call_release(c);
        if (c->detached) rpc_call_detached_done(c);
        else call_request(c);
        break;
    case CALL_IDLE:
        break;
    }
}

static void *worker_main(void *arg) {
    rpc_worker *w = arg;
    for (;;) {
        grpc_event ev = grpc_completion_queue_next(w->cq,
                            gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        if (ev.type == GRPC_QUEUE_SHUTDOWN) break;
        if (ev.type != GRPC_OP_COMPLETE) continue;
        rpc_tag_kind kind = *(rpc_tag_kind *)ev.tag;
        if (kind == TAG_WATCH) {
            rpc_health_event(ev.tag, ev.success != 0);
            continue;
        }
        if (kind == TAG_STREAM) {
            rpc_stream_event(ev.tag, ev.success != 0);
            continue;
        }
        if (kind == TAG_SHUTDOWN) {
            rpc_server *s = w->server;
            pthread_mutex_lock(&s->lock);
            s->shutdown_done = true;
            pthread_cond_broadcast(&s->cond);
            pthread_mutex_unlock(&s->lock);
            continue;
        }
        call_event(ev.tag, ev.success != 0);
    }
    return NULL;
}

/* --- start / stop --------------------------------------------------------- */

static void init_slot(rpc_call *c, rpc_worker *w, const rpc_method *m) {
    memset(c, 0, sizeof(*c));
    c->kind = TAG_CALL;
    c->worker = w;
    c->method = m;
    c->method_name = m ? m->name : c->generic_name;
    c->metrics = m ? m->metrics : w->server->unknown_metrics;
    c->status_details = grpc_empty_slice();
    grpc_metadata_array_init(&c->md);
    grpc_call_details_init(&c->details);
}

/* Drain and destroy the workers' queues (threads already joined). */
static void destroy_queues(rpc_server *s) {
    for (int i = 0; i < s->nthreads; i++) {
        rpc_worker *w = &s->workers[i];
        if (w->cq == NULL) continue;
        if (!w->started) {
            grpc_completion_queue_shutdown(w->cq);
            while (grpc_completion_queue_next(w->cq,
                       gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type
                   != GRPC_QUEUE_SHUTDOWN) {}
        }
        grpc_completion_queue_destroy(w->cq);
        w->cq = NULL;
    }
}

int rpc_server_start(rpc_server *s) {
    grpc_arg arg[RPC_LIMITS_NARGS + 1] = {
        {.type = GRPC_ARG_INTEGER, .key = GRPC_ARG_ALLOW_REUSEPORT,
         .value.integer = 0},
    };
    grpc_channel_args args = {1 + rpc_limits_args(&s->limits, arg + 1), arg};
    s->server = grpc_server_create(&args, NULL);
    if (s->unknown_metrics == NULL)
        s->unknown_metrics = rpc_metrics_create(NULL, false);
    for (size_t i = 0; i < s->nmethods; i++) {
        if (s->methods[i].metrics == NULL)
            s->methods[i].metrics = rpc_metrics_create(s->methods[i].name,
                                                       s->methods[i].streaming);
        s->methods[i].handle = grpc_server_register_method(
            s->server, s->methods[i].name, NULL,
            GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
        if (s->methods[i].handle == NULL) {
            log_msg(LOG_ERROR, "rpc_server_failed", "cannot register method %s",
                    s->methods[i].name);
            grpc_server_destroy(s->server);
            s->server = NULL;
            return -1;
        }
    }
    s->workers = xcalloc((size_t)s->nthreads, sizeof(*s->workers));
    for (int i = 0; i < s->nthreads; i++) {
        s->workers[i].server = s;
        s->workers[i].cq = grpc_completion_queue_create_for_next(NULL);
        grpc_server_register_completion_queue(s->server, s->workers[i].cq,
                                              NULL);
    }
    grpc_server_credentials *creds = rpc_server_credentials(s);
    s->port = grpc_server_add_http2_port(s->server, s->listen, creds);
    grpc_server_credentials_release(creds);
    if (s->port == 0) {
        log_msg(LOG_ERROR, "rpc_server_failed", "cannot listen on %s",
                s->listen);
        grpc_server_destroy(s->server);
        s->server = NULL;
        destroy_queues(s);
        return -1;
    }
    grpc_server_start(s->server);
    s->started = true;
    atomic_store(&s->serving, true);

    for (int i = 0; i < s->nthreads; i++) {
        rpc_worker *w = &s->workers[i];
        w->ncalls = s->nmethods * REQUESTS_PER_METHOD + 1;
        w->calls = xcalloc(w->ncalls, sizeof(*w->calls));
        for (size_t k = 0; k < w->ncalls; k++) {
            const rpc_method *m =
                k + 1 < w->ncalls ? &s->methods[k / REQUESTS_PER_METHOD] : NULL;
            init_slot(&w->calls[k], w, m);
            call_request(&w->calls[k]);
        }
        w->started = pthread_create(&w->thread, NULL, worker_main, w) == 0;
    }
    log_line l;
    if (log_begin(&l, LOG_INFO, "rpc_server_listening")) {
        log_str(&l, "listen", s->listen);
        log_int(&l, "port", s->port);
        log_int(&l, "threads", s->nthreads);
        log_bool(&l, "tls", s->tls != NULL);
        log_bool(&l, "client_cert_required", s->tls && s->tls->files.ca);
        log_int(&l, "max_request_bytes", s->limits.max_recv);
        log_int(&l, "max_reply_bytes", s->limits.max_send);
        log_int(&l, "max_streams", s->limits.max_streams);
        log_end(&l);
    }
    return 0;
}

/* Wait until the shutdown tag has arrived or `deadline` (mono ns) passed. */
static bool wait_shutdown(rpc_server *s, int64_t deadline) {
    struct timespec ts = {deadline / 1000000000, deadline % 1000000000};
    pthread_mutex_lock(&s->lock);
    while (!s->shutdown_done) {
        if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) != 0 &&
            clock_mono_ns() >= deadline)
            break;
    }
    bool done = s->shutdown_done;
    pthread_mutex_unlock(&s->lock);
    return done;
}

void rpc_server_shutdown(rpc_server *s, int64_t timeout_ns) {
    if (!s->started || s->shut_down) return;
    s->shut_down = true;
    atomic_store(&s->stopping, true);
    rpc_server_set_serving(s, false);
    rpc_health_end(s);
    log_msg(LOG_INFO, "rpc_server_draining", "draining calls for up to %lld ms",
            (long long)(timeout_ns / 1000000));
    grpc_server_shutdown_and_notify(s->server, s->workers[0].cq,
                                    &s->shutdown_tag);
    if (!wait_shutdown(s,
                       clock_mono_ns() + (timeout_ns > 0 ? timeout_ns : 0))) {
        log_msg(LOG_WARN, "rpc_server_cancelling",
                "calls still running: cancelled");
        grpc_server_cancel_all_calls(s->server);
        wait_shutdown(s, INT64_MAX);
    }
    /* deferred calls answer on the workers' queues: keep them until then */
    pthread_mutex_lock(&s->lock);
    while (s->ndeferred > 0) pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    grpc_server_destroy(s->server);
    s->server = NULL;
    for (int i = 0; i < s->nthreads; i++)
        grpc_completion_queue_shutdown(s->workers[i].cq);
    for (int i = 0; i < s->nthreads; i++) {
        if (s->workers[i].started) pthread_join(s->workers[i].thread, NULL);
    }
    destroy_queues(s);
    log_msg(LOG_INFO, "rpc_server_stopped", "all calls finished");
}

void rpc_server_destroy(rpc_server *s) {
    if (s == NULL) return;
    rpc_server_shutdown(s, 0);
    for (int i = 0; s->workers && i < s->nthreads; i++) {
        rpc_worker *w = &s->workers[i];
        for (size_t k = 0; k < w->ncalls; k++) rpc_call_release(&w->calls[k]);
        free(w->calls);
    }
    free(s->workers);
    for (size_t i = 0; i < s->nmethods; i++) {
        free(s->methods[i].name);
        rpc_metrics_free(s->methods[i].metrics);
    }
    rpc_metrics_free(s->unknown_metrics);
    free(s->methods);
    for (size_t i = 0; i < s->nservices; i++) free(s->services[i]);
    free(s->services);
    free(s->listen);
    rpc_server_tls_free(s->tls);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    pthread_mutex_destroy(&s->watch_lock);
    free(s);
}
