/* main.c - stats-service: flags, logging, signals, the store named by
 * --store and the gRPC server around it.
 *
 * Runs until SIGTERM or SIGINT, then drains: health turns NOT_SERVING at
 * once, calls are still accepted for --drain-grace, then no new calls are
 * accepted, calls in flight get up to --drain-timeout to finish, and the
 * process exits 0 (lifecycle.c). */
#include <grpc/grpc.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "flags.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics_http.h"
#include "rpc_flags.h"
#include "rpc_runtime.h"
#include "rpc_server.h"
#include "signals.h"
#include "stats_rpc.h"
#include "stats_store.h"

#define PROG "stats-service"

#ifndef VERSION
#define VERSION "0.0.0"
#endif

/* fibonacci-service's default --max-n is 1000000: track all of those. */
#define DEFAULT_MAX_TRACKED 1000001

typedef struct {
    const char *listen;
    long long   threads;
    log_level   log_level;
    long long   drain_timeout_ns;
    const char *record_allow;
    rpc_server_opts server;
    long long   drain_grace_ns;
    const char *store;
    const char *state_dir;
    long long   max_tracked;
    char        store_buf[4200];    /* the default sqlite: URL */
} options;

/* No --store: sqlite:stats.db in --state-dir, else the first directory of
 * $STATE_DIRECTORY (systemd's StateDirectory=), else the current one. */
static int default_store(options *o) {
    const char *dir = o->state_dir;
    size_t len;
    int n;

    if (dir == NULL || dir[0] == '\0') dir = getenv("STATE_DIRECTORY");
    if (dir == NULL || dir[0] == '\0') dir = ".";
    len = strcspn(dir, ":");
    n = snprintf(o->store_buf, sizeof(o->store_buf), "sqlite:%.*s/stats.db",
                 (int)len, dir);
    if (n < 0 || (size_t)n >= sizeof(o->store_buf)) {
        fprintf(stderr, PROG ": state directory too long: %s\n", dir);
        return -1;
    }
    o->store = o->store_buf;
    return 0;
}

/* Parse flags into o. Returns -1 to go on, else the exit code. */
static int parse_options(int argc, char **argv, options *o) {
    static char env_listen[32];
    const flag_def defs[] = {
        {"listen", FLAG_STRING, &o->listen, 0, 0, NULL,
         "gRPC address to serve on ($PORT=N means 0.0.0.0:N)"},
        {"threads", FLAG_INT, &o->threads, 1, 1024, NULL,
         "server threads (the default is the number of cores)"},
        {"log-level", FLAG_LOG_LEVEL, &o->log_level, 0, 0, NULL,
         "lowest level logged: debug, info, warn, error"},
        {"drain-timeout", FLAG_DURATION, &o->drain_timeout_ns,
         0, 3600 * NS_PER_SEC, NULL,
         "on SIGTERM/SIGINT, how long calls in flight may finish"},
        {"drain-grace", FLAG_DURATION, &o->drain_grace_ns,
         0, 3600 * NS_PER_SEC, NULL,
         "on SIGTERM/SIGINT, time health shows NOT_SERVING while calls are "
         "still accepted, before draining"},
        RPC_SERVER_FLAGS(&o->server),
        {"record-allow", FLAG_STRING, &o->record_allow, 0, 0, NULL,
         "NAME,...: only clients whose certificate carries one of these "
         "names (DNS name or CN) may record (needs --tls-client-ca)"},
        {"store", FLAG_STRING, &o->store, 0, 0, NULL,
         "where counts are kept: sqlite:PATH, postgresql://..., memory: "
         "(default sqlite:stats.db in the state directory)"},
        {"state-dir", FLAG_STRING, &o->state_dir, 0, 0, NULL,
         "directory of the default store (default $STATE_DIRECTORY, else .)"},
        {"max-tracked", FLAG_INT, &o->max_tracked, 1, INT32_MAX + 1LL, NULL,
         "distinct n tracked at most; records of new n past it are refused"},
        {NULL, 0, NULL, 0, 0, NULL, NULL},
    };
    int rc;

    o->listen = "127.0.0.1:5002";
    o->threads = flags_ncpu();
    o->log_level = LOG_INFO;
    o->drain_timeout_ns = 5 * NS_PER_SEC;
    o->record_allow = NULL;
    o->server = (rpc_server_opts)RPC_SERVER_OPTS_INIT;
    o->drain_grace_ns = 1 * NS_PER_SEC;
    o->store = NULL;
    o->state_dir = NULL;
    o->max_tracked = DEFAULT_MAX_TRACKED;
    if (flags_listen_from_env(PROG, &o->listen, env_listen,
                              sizeof(env_listen)) != 0)
        return 2;

    rc = flags_parse(argc, argv, defs, PROG, VERSION,
                     "Counts Fibonacci requests per n and serves the "
                     "stats.Stats gRPC service.");
    if (rc != 0) return rc > 0 ? 0 : 2;
    if (o->record_allow && (o->server.tls.ca == NULL ||
                            o->server.tls.ca[0] == '\0')) {
        fprintf(stderr, "%s: --record-allow needs --tls-client-ca (and "
                "--tls-cert, --tls-key): writers are known by their client "
                "certificates\n", PROG);
        return 2;
    }
    if (o->store == NULL && default_store(o) != 0) return 2;
    return -1;
}

/* GetStats with 10000 distinct n allocates a few blocks of about a megabyte
 * per build. glibc serves blocks that large with fresh mmap()s by default and
 * returns them on free, so every build paid ~500 page faults (half its time).
 * Keep such blocks in the heap and the freed heap mapped instead. */
static void tune_malloc(void) {
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 64 << 20);
}

static void log_started(const options *o, int port, stats_store *store) {
    log_line l;

    if (log_begin(&l, LOG_INFO, "started")) {
        log_str(&l, "listen", o->listen);
        log_int(&l, "port", port);
        log_str(&l, "store", stats_store_url(store));
        log_int(&l, "max_tracked", o->max_tracked);
        log_int(&l, "threads", o->threads);
        log_str(&l, "record_allow", o->record_allow);
        log_str(&l, "version", VERSION);
        log_end(&l);
    }
}

/* What the store holds as this process goes (all of it, with memory:). */
static void log_stopped(stats_store *store) {
    stats_snapshot snap;
    log_line l;

    stats_store_snapshot(store, &snap);
    if (log_begin(&l, LOG_INFO, "stopped")) {
        log_uint(&l, "total_requests", snap.total);
        log_uint(&l, "distinct_n", snap.len);
        log_uint(&l, "refused", stats_store_refused(store));
        log_end(&l);
    }
    stats_snapshot_free(&snap);
}

/* SIGHUP: new TLS files for new connections. */
static void reload_tls(void *srv) {
    rpc_server_reload_tls(srv);
}

int main(int argc, char **argv) {
    options o;
    signals_block();
    int rc = parse_options(argc, argv, &o);
    if (rc >= 0) return rc;
    log_init(PROG, o.log_level);
    tune_malloc();

    stats_store_options so = { STATS_MAX_SENDERS, (uint64_t)o.max_tracked };
    char err[1024];
    stats_store *store = stats_store_open(o.store, &so, err, sizeof(err));
    if (store == NULL) {
        log_msg(LOG_ERROR, "fatal", "%s", err);
        return 1;
    }
    stats_rpc *handlers = stats_rpc_create(store);
    if (o.record_allow &&
        stats_rpc_set_record_allow(handlers, o.record_allow) != 0) {
        fprintf(stderr, "%s: --record-allow: '%s' names nobody\n", PROG,
                o.record_allow);
        stats_rpc_free(handlers);
        stats_store_free(store);
        return 2;
    }
    rpc_runtime_tune();
    grpc_init();
    rpc_server *srv = rpc_server_create(o.listen, (int)o.threads);
    stats_rpc_register(handlers, srv);
    metrics_http *metrics = NULL;
    if (rpc_server_configure(srv, &o.server) != 0 ||
        metrics_http_serve(o.server.metrics_listen, &metrics) != 0 ||
        rpc_server_start(srv) != 0) {
        metrics_http_stop(metrics);
        rpc_server_destroy(srv);
        grpc_shutdown();
        stats_rpc_free(handlers);
        stats_store_free(store);
        return 1;
    }
    log_started(&o, rpc_server_port(srv), store);

    char status[96];
    snprintf(status, sizeof(status), "serving gRPC on %s (port %d)",
             o.listen, rpc_server_port(srv));
    lifecycle_serve(srv, status, o.drain_grace_ns, o.drain_timeout_ns,
                    reload_tls, srv);
    metrics_http_stop(metrics);
    rpc_server_destroy(srv);
    grpc_shutdown();
    stats_rpc_free(handlers);
    log_stopped(store);
    stats_store_free(store);
    return 0;
}
