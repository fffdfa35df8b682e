/* main.c - fibonacci-service: flags, start-up and graceful shutdown of the
 * gRPC Fibonacci daemon (the handlers are in fib_rpc.c, fib_range.c and
 * fib_batch.c). */
#include <grpc/grpc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "fib.h"
#include "fib_batch.h"
#include "fib_cache.h"
#include "fib_metrics.h"
#include "fib_range.h"
#include "fib_rpc.h"
#include "flags.h"
#include "lifecycle.h"
#include "log.h"
#include "metrics_http.h"
#include "rpc_flags.h"
#include "rpc_runtime.h"
#include "rpc_server.h"
#include "signals.h"
#include "stats_metrics.h"
#include "stats_queue.h"
#include "stats_sender.h"

#ifndef VERSION
#define VERSION "0.0.0"
#endif

/* Above this, a single F(n) takes seconds and a lot of memory: warn. */
#define MAX_N_WARN 10000000LL

typedef struct {
    const char *listen;
    const char *stats;
    bool        stats_disable;
    long long   threads;
    long long   compute_threads;
    long long   compute_queue;
    long long   max_n;
    long long   max_range;
    long long   max_batch;
    long long   cache_bytes;
    long long   stats_queue;
    long long   stats_batch;
    long long   drain_timeout;
    long long   drain_grace;
    log_level   log_level;
    rpc_server_opts server;
    rpc_tls_files   stats_tls;
} config;

static int parse_flags(int argc, char **argv, config *cfg) {
    const flag_def defs[] = {
        { "listen", FLAG_STRING, &cfg->listen, 0, 0, NULL,
          "address to serve gRPC on ($PORT=N means 0.0.0.0:N)" },
        { "stats", FLAG_STRING, &cfg->stats, 0, 0, "STATS_SERVICE_URL",
          "stats-service target; '' turns reporting off" },
        { "stats-disable", FLAG_BOOL, &cfg->stats_disable, 0, 0, NULL,
          "do not report per-request stats" },
        { "threads", FLAG_INT, &cfg->threads, 1, 1024, NULL,
          "server threads (default: one per core)" },
        { "compute-threads", FLAG_INT, &cfg->compute_threads, 1, 1024, NULL,
          "threads computing F(n) for n > 92 (default: one per core)" },
        { "compute-queue", FLAG_INT, &cfg->compute_queue, 1, 1000000, NULL,
          "computations waiting for a thread; past it, RESOURCE_EXHAUSTED" },
        { "max-n", FLAG_INT, &cfg->max_n, 0, INT32_MAX, NULL,
          "largest n answered (big values take long to compute)" },
        { "max-range", FLAG_INT, &cfg->max_range, 1, INT32_MAX, NULL,
          "most items of one GetFibRange stream" },
        { "max-batch", FLAG_INT, &cfg->max_batch, 1, 1000000, NULL,
          "most n of one GetFibBatch" },
        { "cache-bytes", FLAG_SIZE, &cfg->cache_bytes, 0, INT64_MAX, NULL,
          "memory for cached values of F(n), n > 92" },
        { "stats-queue", FLAG_INT, &cfg->stats_queue, 1, 100000000, NULL,
          "distinct n whose stats wait for delivery (aggregated per n); "
          "records of a new n past it are dropped" },
        { "stats-batch", FLAG_INT, &cfg->stats_batch, 1, 100000, NULL,
          "aggregated entries (distinct n) per RecordBatch call" },
        { "drain-timeout", FLAG_DURATION, &cfg->drain_timeout,
          0, 3600LL * 1000000000LL, NULL,
          "on SIGTERM, time for calls in flight, then for the stats flush" },
        { "drain-grace", FLAG_DURATION, &cfg->drain_grace,
          0, 3600LL * 1000000000LL, NULL,
          "on SIGTERM, time health shows NOT_SERVING while calls are still "
          "accepted, before draining" },
        { "log-level", FLAG_LOG_LEVEL, &cfg->log_level, 0, 0, NULL,
          "debug, info, warn or error" },
        RPC_SERVER_FLAGS(&cfg->server),
        { "stats-tls-ca", FLAG_STRING, &cfg->stats_tls.ca, 0, 0, NULL,
          "PEM CA certificates: call stats-service over TLS, verified" },
        { "stats-tls-cert", FLAG_STRING, &cfg->stats_tls.cert, 0, 0, NULL,
          "PEM client certificate presented to stats-service" },
        { "stats-tls-key", FLAG_STRING, &cfg->stats_tls.key, 0, 0, NULL,
          "PEM private key of --stats-tls-cert" },
        { NULL, 0, NULL, 0, 0, NULL, NULL }
    };
    static char env_listen[32];
    if (flags_listen_from_env("fibonacci-service", &cfg->listen, env_listen,
                              sizeof(env_listen)) != 0)
        return -1;
    int rc = flags_parse(argc, argv, defs, "fibonacci-service", VERSION,
                         "gRPC Fibonacci service: exact F(n) with a cache");
    if (rc != 0) return rc;
    if (rpc_tls_enabled(&cfg->stats_tls) &&
        (cfg->stats_tls.ca == NULL || cfg->stats_tls.ca[0] == '\0')) {
        fprintf(stderr, "fibonacci-service: --stats-tls-cert and "
                "--stats-tls-key need --stats-tls-ca (TLS to stats-service "
                "is on when the CA is given)\n");
        return -1;
    }

    log_init("fibonacci-service", cfg->log_level);
    return 0;
}

static void log_started(const config *cfg, int port) {
    log_line l;
    if (!log_begin(&l, LOG_INFO, "started")) return;
    log_str(&l, "listen", cfg->listen);
    log_int(&l, "port", port);
    log_int(&l, "threads", cfg->threads);
    log_int(&l, "compute_threads", cfg->compute_threads);
    log_int(&l, "compute_queue", cfg->compute_queue);
    log_int(&l, "max_n", cfg->max_n);
    log_int(&l, "max_range", cfg->max_range);
    log_int(&l, "max_batch", cfg->max_batch);
    log_int(&l, "cache_bytes", cfg->cache_bytes);
    log_str(&l, "stats", cfg->stats_disable ? NULL : cfg->stats);
    log_str(&l, "version", VERSION);
    log_end(&l);
}

/* The last line: what the cache did and what stats were not delivered. */
static void log_stopped(fib_cache *cache, stats_queue *queue, uint64_t left) {
    fib_cache_stats cs;
    fib_cache_get_stats(cache, &cs);
    log_line l;
    if (!log_begin(&l, LOG_INFO, "stopped")) return;
    log_uint(&l, "cache_hits", cs.hits);
    log_uint(&l, "cache_misses", cs.misses);
    log_uint(&l, "cache_computations", cs.computations);
    log_uint(&l, "cache_evictions", cs.evictions);
    log_uint(&l, "cache_entries", cs.entries);
    log_uint(&l, "cache_bytes", cs.bytes);
    log_uint(&l, "stats_dropped", queue ? stats_queue_dropped(queue) : 0);
    log_uint(&l, "stats_undelivered", left);
    log_end(&l);
}

typedef struct {
    rpc_server   *server;
    stats_sender *sender;
} reload_ctx;

/* SIGHUP: new TLS files for new connections, both ways. */
static void reload_tls(void *ud) {
    reload_ctx *r = ud;
    rpc_server_reload_tls(r->server);
    if (r->sender != NULL) stats_sender_reload_tls(r->sender);
}

int main(int argc, char **argv) {
    config cfg = {
        .listen = "127.0.0.1:5001",
        .stats = "127.0.0.1:5002",
        .threads = flags_ncpu(),
        .compute_threads = flags_ncpu(),
        .compute_queue = 1024,
        .max_n = 1000000,
        .max_range = 100000,
        .max_batch = 1000,
        .cache_bytes = 64LL << 20,
        .stats_queue = 100000,
        .stats_batch = 1000,
        .drain_timeout = 5LL * 1000000000LL,
        .drain_grace = 1LL * 1000000000LL,
        .log_level = LOG_INFO,
        .server = RPC_SERVER_OPTS_INIT,
    };
    signals_block();
    int rc = parse_flags(argc, argv, &cfg);
    if (rc != 0) return rc > 0 ? 0 : 2;
    if (cfg.stats[0] == '\0') cfg.stats_disable = true;
    if (cfg.max_n > MAX_N_WARN)
        log_msg(LOG_WARN, "config", "--max-n %lld: F(n) for n this large "
                "takes seconds or more and much memory to compute",
                cfg.max_n);

    fib_use_mem_policy();
    rpc_runtime_tune();
    grpc_init();
    fib_cache *cache = fib_cache_create((size_t)cfg.cache_bytes,
                                        fib_metrics_timed_decimal);
    fib_metrics_register(cache);
    stats_queue *queue = NULL;
    stats_sender *sender = NULL;
    if (!cfg.stats_disable) {
        queue = stats_queue_create((size_t)cfg.stats_queue);
        stats_metrics_register_queue(queue);
        sender = stats_sender_start_tls(cfg.stats, &cfg.stats_tls, queue,
                                        (size_t)cfg.stats_batch);
        if (sender == NULL) {
            log_msg(LOG_ERROR, "startup", "cannot start the stats sender");
            return 1;
        }
    }
    compute_pool *pool = compute_pool_start((int)cfg.compute_threads,
                                            (size_t)cfg.compute_queue);
    if (pool == NULL) return 1;
    fib_rpc rpc = { cache, queue, (int)cfg.max_n, pool,
                    (size_t)cfg.compute_queue, (int)cfg.max_range,
                    (int)cfg.max_batch, cfg.server.limits.max_send };

    rpc_server *server = rpc_server_create(cfg.listen, (int)cfg.threads);
    rpc_server_add_method(server, FIB_METHOD, fib_rpc_getfib, &rpc);
    rpc_server_add_stream_method(server, FIB_RANGE_METHOD, fib_range_handler,
                                 &rpc);
    rpc_server_add_method(server, FIB_BATCH_METHOD, fib_batch_handler, &rpc);
    rpc_server_add_service(server, FIB_SERVICE);
    metrics_http *metrics = NULL;
    if (rpc_server_configure(server, &cfg.server) != 0 ||
        metrics_http_serve(cfg.server.metrics_listen, &metrics) != 0 ||
        rpc_server_start(server) != 0)
        return 1;
    log_started(&cfg, rpc_server_port(server));

    /* Drain in bounded steps: the grace (NOT_SERVING, still answering),
     * calls in flight, then the stats queue (which holds the records of
     * those last calls too). SIGHUP meanwhile reloads TLS files. */
    reload_ctx reload = { server, sender };
    char status[96];
    snprintf(status, sizeof(status), "serving gRPC on %s (port %d)",
             cfg.listen, rpc_server_port(server));
    lifecycle_serve(server, status, cfg.drain_grace, cfg.drain_timeout,
                    reload_tls, &reload);
    compute_pool_stop(pool);    /* idle: the server waited for its calls */
    uint64_t left = 0;
    if (sender != NULL)
        left = stats_sender_stop(sender, clock_mono_ns() + cfg.drain_timeout);
    metrics_http_stop(metrics);
    log_stopped(cache, queue, left);
    rpc_server_destroy(server);
    stats_queue_destroy(queue);
    fib_cache_destroy(cache);
    grpc_shutdown();
    return 0;
}
