/* main.c - stats-service: flags, logging, signals and the gRPC server
 * around the stats store.
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
#include "rpc_flags.h"
#include "rpc_server.h"
#include "signals.h"
#include "stats_rpc.h"
#include "stats_store.h"

#define PROG "stats-service"

#ifndef VERSION
#define VERSION "0.0.0"
#endif

typedef struct {
    const char *listen;
    long long   threads;
    log_level   log_level;
    long long   drain_timeout_ns;
    const char *record_allow;
    rpc_server_opts server;
    long long   drain_grace_ns;
} options;

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

static void log_started(const options *o, int port) {
    log_line l;

    if (log_begin(&l, LOG_INFO, "started")) {
        log_str(&l, "listen", o->listen);
        log_int(&l, "port", port);
        log_int(&l, "threads", o->threads);
        log_str(&l, "record_allow", o->record_allow);
        log_str(&l, "version", VERSION);
        log_end(&l);
    }
}

/* The counts are kept in memory only: say what goes with this process. */
static void log_stopped(stats_store *store) {
    stats_snapshot snap;
    log_line l;

    stats_store_snapshot(store, &snap);
    if (log_begin(&l, LOG_INFO, "stopped")) {
        log_uint(&l, "total_requests", snap.total);
        log_uint(&l, "distinct_n", snap.len);
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

    stats_store *store = stats_store_create(STATS_MAX_SENDERS);
    stats_rpc *handlers = stats_rpc_create(store);
    if (o.record_allow &&
        stats_rpc_set_record_allow(handlers, o.record_allow) != 0) {
        fprintf(stderr, "%s: --record-allow: '%s' names nobody\n", PROG,
                o.record_allow);
        stats_rpc_free(handlers);
        stats_store_free(store);
        return 2;
    }
    grpc_init();
    rpc_server *srv = rpc_server_create(o.listen, (int)o.threads);
    stats_rpc_register(handlers, srv);
    if (rpc_server_configure(srv, &o.server) != 0 ||
        rpc_server_start(srv) != 0) {
        rpc_server_destroy(srv);
        grpc_shutdown();
        stats_rpc_free(handlers);
        stats_store_free(store);
        return 1;
    }
    log_started(&o, rpc_server_port(srv));

    char status[96];
    snprintf(status, sizeof(status), "serving gRPC on %s (port %d)",
             o.listen, rpc_server_port(srv));
    lifecycle_serve(srv, status, o.drain_grace_ns, o.drain_timeout_ns,
                    reload_tls, srv);
    rpc_server_destroy(srv);
    grpc_shutdown();
    stats_rpc_free(handlers);
    log_stopped(store);
    stats_store_free(store);
    return 0;
}
