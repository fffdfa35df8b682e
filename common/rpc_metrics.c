/* rpc_metrics.c - grpc_server_* metrics per method and status code
 * (rpc_metrics.h). The series of a method are looked up once per status
 * code and kept in atomic pointers, so counting a call is a few relaxed
 * atomic additions. */
#include "rpc_metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "mem.h"
#include "metrics.h"
#include "rpc_status.h"

#define NCODES 17                   /* OK .. UNAUTHENTICATED */

struct rpc_metrics {
    char            *service, *method;
    const char      *type;
    metric          *started;
    metric          *seconds;
    metric          *sent;
    _Atomic(metric *) handled[NCODES];
};

static metric_family *started_f, *handled_f, *seconds_f, *sent_f;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void register_families(void) {
    started_f = metrics_family("grpc_server_started_total", METRIC_COUNTER,
        "Total number of RPCs started on the server.",
        "grpc_type,grpc_service,grpc_method", NULL, 0);
    handled_f = metrics_family("grpc_server_handled_total", METRIC_COUNTER,
        "Total number of RPCs completed on the server, regardless of "
        "success or failure.",
        "grpc_type,grpc_service,grpc_method,grpc_code", NULL, 0);
    seconds_f = metrics_family("grpc_server_handling_seconds",
        METRIC_HISTOGRAM,
        "Histogram of response latency (seconds) of gRPC that had been "
        "application-level handled by the server.",
        "grpc_type,grpc_service,grpc_method", NULL, 0);
    sent_f = metrics_family("grpc_server_msg_sent_total", METRIC_COUNTER,
        "Total number of gRPC stream messages sent by the server.",
        "grpc_type,grpc_service,grpc_method", NULL, 0);
}

rpc_metrics *rpc_metrics_create(const char *full_method, bool streaming) {
    pthread_once(&once, register_families);
    rpc_metrics *m = xcalloc(1, sizeof(*m));
    const char *slash = full_method ? strrchr(full_method, '/') : NULL;
    if (slash != NULL && full_method[0] == '/' && slash > full_method + 1) {
        m->service = xmemdupz(full_method + 1,
                              (size_t)(slash - full_method - 1));
        m->method = xstrdup(slash + 1);
    } else {
        m->service = xstrdup("unknown");
        m->method = xstrdup("unknown");
    }
    m->type = streaming ? "server_stream" : "unary";
    const char *v[] = {m->type, m->service, m->method};
    m->started = metrics_series(started_f, v);
    m->seconds = metrics_series(seconds_f, v);
    m->sent = metrics_series(sent_f, v);
    for (int i = 0; i < NCODES; i++) atomic_init(&m->handled[i], NULL);
    return m;
}

void rpc_metrics_free(rpc_metrics *m) {
    if (m == NULL) return;
    free(m->service);
    free(m->method);
    free(m);
}

void rpc_metrics_started(rpc_metrics *m) {
    metric_inc(m->started);
}

void rpc_metrics_handled(rpc_metrics *m, grpc_status_code code,
                         int64_t start_ns) {
    unsigned i = (unsigned)code < NCODES ? (unsigned)code
                                         : GRPC_STATUS_UNKNOWN;
    metric *h = atomic_load_explicit(&m->handled[i], memory_order_acquire);
    if (h == NULL) {                /* first call with this code: look up */
        const char *v[] = {m->type, m->service, m->method,
                           rpc_status_name((grpc_status_code)i)};
        h = metrics_series(handled_f, v);
        atomic_store_explicit(&m->handled[i], h, memory_order_release);
    }
    metric_inc(h);
    metric_observe_ns(m->seconds, clock_mono_ns() - start_ns);
}

void rpc_metrics_msg_sent(rpc_metrics *m) {
    metric_inc(m->sent);
}
