/* fibctl.c - command-line gRPC client for the fibonacci and stats services.
 *
 * Makes one call and prints one JSON line on stdout; the integration tests
 * drive the daemons through it. Exit 0 on OK; 1 on a gRPC error, printed as
 * {"code":"INVALID_ARGUMENT","message":"..."}; 2 on a usage error. */
#include <errno.h>
#include <grpc/grpc.h>
#include <grpc/support/time.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fibonacci/fib.pb-c.h"
#include "flags.h"
#include "google/protobuf/empty.pb-c.h"
#include "grpc/health/v1/health.pb-c.h"
#include "log.h"
#include "mem.h"
#include "rpc_bytes.h"
#include "rpc_client.h"
#include "rpc_runtime.h"
#include "rpc_server.h"
#include "stats/stats.pb-c.h"

#define FIB_TARGET   "127.0.0.1:5001"
#define STATS_TARGET "127.0.0.1:5002"

static const char *target = "";
static long long timeout_ns = 5000000000LL;
static const char *request_id = NULL;
static rpc_tls_files tls;
static const char *tls_name = NULL;

static const flag_def defs[] = {
    {"target", FLAG_STRING, &target, 0, 0, NULL,
     "HOST:PORT to call; empty: " FIB_TARGET ", or " STATS_TARGET
     " for stats, record, batch"},
    {"timeout", FLAG_DURATION, &timeout_ns, 1, 3600000000000LL, NULL,
     "deadline of the call"},
    {"request-id", FLAG_STRING, &request_id, 0, 0, NULL,
     "x-request-id metadata to send"},
    {"tls-ca", FLAG_STRING, &tls.ca, 0, 0, NULL,
     "PEM CA: call over TLS, verifying the server with it"},
    {"tls-cert", FLAG_STRING, &tls.cert, 0, 0, NULL,
     "PEM client certificate to present (with --tls-ca)"},
    {"tls-key", FLAG_STRING, &tls.key, 0, 0, NULL,
     "PEM private key of --tls-cert"},
    {"tls-name", FLAG_STRING, &tls_name, 0, 0, NULL,
     "the name the server's certificate must carry (default: the target's "
     "host)"},
    {NULL, 0, NULL, 0, 0, NULL, NULL},
};

static const char *summary =
    "Calls the fibonacci or stats service once and prints one JSON line.\n\n"
    "Commands:\n"
    "  getfib N [--exact] [--walk K]      fibonacci.Fibonacci/GetFib; --walk:\n"
    "                                     K calls, for N .. N+K-1, one at a\n"
    "                                     time on one channel, and one line\n"
    "                                     {\"calls\":K,\"digits\":..} (a\n"
    "                                     cold load, for benchmarks)\n"
    "  range FROM TO [--exact] [--cancel-after K] [--read-delay MS]\n"
    "                                     fibonacci.Fibonacci/GetFibRange: a\n"
    "                                     line per item; cancel after K\n"
    "                                     items; wait MS after each (a slow\n"
    "                                     reader)\n"
    "  getbatch N,N,... [--exact]         fibonacci.Fibonacci/GetFibBatch:\n"
    "                                     {\"results\":[...]}\n"
    "  stats                              stats.Stats/GetStats\n"
    "  record N DURATION_NS               stats.Stats/RecordNo\n"
    "  batch SENDER SEQ N:DUR[:CACHE],... [--streams C:ITEMS:NS:INCOMPLETE]\n"
    "                                     stats.Stats/RecordBatch (CACHE:\n"
    "                                     hit, miss, bypass; N:DUR list may\n"
    "                                     be empty: \"\"); --streams: C\n"
    "                                     streams in the batch\n"
    "  query [n=N,..] [from=N] [to=N] [limit=N] [by=n|count|avg] [desc]\n"
    "        [top=K] [token=T]            stats.Stats/Query\n"
    "  health [SERVICE]                   grpc.health.v1.Health/Check\n"
    "  watch [SERVICE]                    grpc.health.v1.Health/Watch: a\n"
    "                                     line per status, until the stream\n"
    "                                     ends\n"
    "  raw METHOD HEXBYTES|none           any method, raw request and reply\n"
    "                                     bytes; none: half-close without a\n"
    "                                     message\n\n"
    "Exit status: 0 OK, 1 gRPC error ({\"code\":..,\"message\":..}),\n"
    "2 usage error.";

static grpc_channel *channel;

static void usage_error(const char *fmt, const char *arg) {
    fprintf(stderr, "fibctl: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see --help)\n");
    exit(2);
}

/* A decimal integer in [lo, hi], or a usage error naming `what`. */
static long long parse_int(const char *s, long long lo, long long hi,
                           const char *what) {
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno == ERANGE || v < lo || v > hi) {
        fprintf(stderr, "fibctl: %s: '%s' is not an integer in %lld..%lld\n",
                what, s, lo, hi);
        exit(2);
    }
    return v;
}

static uint64_t parse_u64(const char *s, const char *what) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || errno == ERANGE) {
        fprintf(stderr, "fibctl: %s: '%s' is not an unsigned integer\n", what,
                s);
        exit(2);
    }
    return v;
}

/* Print a gRPC error as JSON and exit 1. */
static void fail(rpc_result r) {
        const char *msg = r.details ? r.details : "";
        printf("{\"code\":\"%s\",\"message\":", rpc_status_name(r.status));
        log_json_fwrite(stdout, msg, strlen(msg));
        printf("}\n");
        free(r.details);
        exit(1);
}

/* Make the call; on a gRPC error print it and exit 1. */
static ProtobufCMessage *call(const char *method, const ProtobufCMessage *req,
                              const ProtobufCMessageDescriptor *desc) {
    ProtobufCMessage *reply = NULL;
    rpc_result r = rpc_client_call(channel, method, req, desc, &reply,
                                   timeout_ns, request_id);
    if (r.status != GRPC_STATUS_OK) {
        fail(r);
    }
    free(r.details);
    return reply;
}

/* The shortest %g form that reads back as the same double (as JSON
 * encoders print numbers), so 0.0375 is not shown as 0.037499999999999999. */
static void print_double(double v) {
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, stdout);
}

/* A FibonacciResponse as one JSON object: n when set or `with_n` (GetFib
 * of an original server does not send it), x when not zero, value when
 * set. */
static void print_fib_object(const Fibonacci__FibonacciResponse *res,
                             bool with_n) {
    const char *sep = "";
    printf("{");
    if (res->n != 0 || with_n) {
        printf("\"n\":%d", res->n);
        sep = ",";
    }
    if (res->x != 0) {
        printf("%s\"x\":%" PRId64, sep, res->x);
        sep = ",";
    }
    if (res->value && res->value[0]) {
        printf("%s\"value\":", sep);
        log_json_fwrite(stdout, res->value, strlen(res->value));
    }
    printf("}");
}

static void print_fib(const Fibonacci__FibonacciResponse *res) {
    print_fib_object(res, true);
    printf("\n");
}

/* --- commands: each prints its JSON line ---------------------------------- */

static Fibonacci__FibonacciResponse *getfib(
        const Fibonacci__FibonacciRequest *req) {
    return (Fibonacci__FibonacciResponse *)call(
        "/fibonacci.Fibonacci/GetFib", &req->base,
        &fibonacci__fibonacci_response__descriptor);
}

static void cmd_getfib(int argc, char **argv) {
    Fibonacci__FibonacciRequest req = FIBONACCI__FIBONACCI_REQUEST__INIT;
    const char *n = NULL;
    long long walk = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--exact") == 0) req.exact = 1;
        else if (strcmp(argv[i], "--walk") == 0 && i + 1 < argc)
            walk = parse_int(argv[++i], 1, INT32_MAX, "--walk");
        else if (n == NULL) n = argv[i];
        else usage_error("getfib: unexpected argument '%s'", argv[i]);
    }
    if (n == NULL) usage_error("getfib needs N%s", "");
    req.n = (int32_t)parse_int(n, INT32_MIN, INT32_MAX, "N");
    if (walk > 0) {
        if ((long long)req.n + walk - 1 > INT32_MAX)
            usage_error("getfib: N + K - 1 is past %s", "2147483647");
        size_t digits = 0;
        for (long long i = 0; i < walk; i++, req.n++) {
            Fibonacci__FibonacciResponse *res = getfib(&req);
            if (res->value != NULL) digits += strlen(res->value);
            protobuf_c_message_free_unpacked(&res->base, NULL);
        }
        printf("{\"calls\":%lld,\"digits\":%zu}\n", walk, digits);
        return;
    }
    Fibonacci__FibonacciResponse *res = getfib(&req);
    print_fib_object(res, false);
    printf("\n");
    protobuf_c_message_free_unpacked(&res->base, NULL);
}

static void print_stats(Stats__FibonacciStat **stats, size_t len);

/* "streams":{...}, when the server sent them (not the original). */
static void print_streams(const Stats__StreamStats *st) {
    if (st == NULL) return;
    printf("\"streams\":{\"count\":%" PRIu64 ",\"items\":%" PRIu64
           ",\"total_duration_ns\":%" PRIu64 ",\"average_time_ms\":%.15g"
           ",\"incomplete\":%" PRIu64 "},", st->count, st->items,
           st->total_duration_ns, st->average_time_ms, st->incomplete);
}

static void cmd_stats(int argc, char **argv) {
    (void)argv;
    if (argc != 0) usage_error("stats takes no arguments%s", "");
    Google__Protobuf__Empty req = GOOGLE__PROTOBUF__EMPTY__INIT;
    Stats__StatsResponse *res = (Stats__StatsResponse *)call(
        "/stats.Stats/GetStats", &req.base, &stats__stats_response__descriptor);
    printf("{\"total_requests\":%" PRId32 ",\"total_requests64\":%" PRIu64
           ",", res->total_requests, res->total_requests64);
    print_streams(res->streams);
    print_stats(res->fibonacci_stats, res->n_fibonacci_stats);
    printf("}\n");
    protobuf_c_message_free_unpacked(&res->base, NULL);
}

/* query's n=N,...: at most 1000 n, into ns */
static void query_ns(Stats__StatsQuery *req, int32_t *ns, char *list) {
    char *save = NULL;

    for (char *t = strtok_r(list, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        if (req->n_n == 1000) usage_error("query: more than 1000 n%s", "");
        ns[req->n_n++] = (int32_t)parse_int(t, INT32_MIN, INT32_MAX, "n");
    }
    req->n = ns;
}

/* query's by=n|count|avg */
static Stats__StatsOrder query_order(const char *by) {
    if (strcmp(by, "n") == 0) return STATS__STATS_ORDER__ORDER_N;
    if (strcmp(by, "count") == 0) return STATS__STATS_ORDER__ORDER_COUNT;
    if (strcmp(by, "avg") == 0) return STATS__STATS_ORDER__ORDER_AVERAGE_TIME;
    usage_error("query: by=n, count or avg, not '%s'", by);
    return STATS__STATS_ORDER__ORDER_N;
}

/* query [n=N,...] [from=N] [to=N] [limit=N] [by=n|count|avg] [desc]
 *       [top=K] [token=T] */
static void cmd_query(int argc, char **argv) {
    Stats__StatsQuery req = STATS__STATS_QUERY__INIT;
    Stats__NRange range = STATS__NRANGE__INIT;
    int32_t ns[1000];

    range.to = INT32_MAX;           /* from=A alone: A and above */
    for (int i = 0; i < argc; i++) {
        char *key = argv[i], *v = strchr(key, '=');

        if (strcmp(key, "desc") == 0) {
            req.descending = 1;
            continue;
        }
        if (v == NULL) usage_error("query: unknown argument '%s'", key);
        *v++ = '\0';
        if (strcmp(key, "n") == 0) {
            query_ns(&req, ns, v);
        } else if (strcmp(key, "from") == 0) {
            range.from = (int32_t)parse_int(v, INT32_MIN, INT32_MAX, "from");
            req.range = &range;
        } else if (strcmp(key, "to") == 0) {
            range.to = (int32_t)parse_int(v, INT32_MIN, INT32_MAX, "to");
            req.range = &range;
        } else if (strcmp(key, "limit") == 0) {
            req.limit = (uint32_t)parse_int(v, 0, UINT32_MAX, "limit");
        } else if (strcmp(key, "top") == 0) {
            req.top = (uint32_t)parse_int(v, 0, UINT32_MAX, "top");
        } else if (strcmp(key, "token") == 0) {
            req.page_token = v;
        } else if (strcmp(key, "by") == 0) {
            req.order_by = query_order(v);
        } else {
            usage_error("query: unknown argument '%s'", key);
        }
    }
    Stats__StatsPage *res = (Stats__StatsPage *)call(
        "/stats.Stats/Query", &req.base, &stats__stats_page__descriptor);
    printf("{\"matched\":%" PRIu64 ",\"total_requests64\":%" PRIu64
           ",\"next_page_token\":", res->matched, res->total_requests64);
    log_json_fwrite(stdout, res->next_page_token,
                    strlen(res->next_page_token));
    printf(",");
    print_stats(res->fibonacci_stats, res->n_fibonacci_stats);
    printf("}\n");
    protobuf_c_message_free_unpacked(&res->base, NULL);
}

/* "fibonacci_stats":[...] */
static void print_stats(Stats__FibonacciStat **stats, size_t len) {
    printf("\"fibonacci_stats\":[");
    for (size_t i = 0; i < len; i++) {
        const Stats__FibonacciStat *f = stats[i];
        printf("%s{\"n\":%" PRId32 ",\"request_count\":%" PRId32
               ",\"average_time_ms\":", i ? "," : "", f->n, f->request_count);
        print_double(f->average_time_ms);
        printf(",\"request_count64\":%" PRIu64 ",\"min_duration_ns\":%" PRId64
               ",\"max_duration_ns\":%" PRId64 ",\"total_duration_ns\":%" PRIu64
               ",\"cache_hits\":%" PRIu64 ",\"cache_misses\":%" PRIu64 "}",
               f->request_count64, f->min_duration_ns, f->max_duration_ns,
               f->total_duration_ns, f->cache_hits, f->cache_misses);
    }
    printf("]");
}

static void cmd_record(int argc, char **argv) {
    if (argc != 2) usage_error("record needs N DURATION_NS%s", "");
    Stats__RecordRequest req = STATS__RECORD_REQUEST__INIT;
    req.n = (int32_t)parse_int(argv[0], INT32_MIN, INT32_MAX, "N");
    req.duration = parse_int(argv[1], INT64_MIN, INT64_MAX, "DURATION_NS");
    Stats__RecordResponse *res =
        (Stats__RecordResponse *)call("/stats.Stats/RecordNo", &req.base,
                                      &stats__record_response__descriptor);
    printf("{\"success\":%s}\n", res->success ? "true" : "false");
    protobuf_c_message_free_unpacked(&res->base, NULL);
}

static Stats__CacheResult parse_cache(const char *s) {
    if (strcmp(s, "hit") == 0) return STATS__CACHE_RESULT__CACHE_HIT;
    if (strcmp(s, "miss") == 0) return STATS__CACHE_RESULT__CACHE_MISS;
    if (strcmp(s, "bypass") == 0) return STATS__CACHE_RESULT__CACHE_BYPASS;
    usage_error("batch: cache '%s' is not hit, miss or bypass", s);
    return STATS__CACHE_RESULT__CACHE_UNSPECIFIED;
}

/* batch's --streams COUNT:ITEMS:NS:INCOMPLETE */
static void batch_streams(Stats__StreamsRecord *m, char *arg) {
    uint64_t v[4];
    char *save = NULL, *t = strtok_r(arg, ":", &save);

    for (int i = 0; i < 4; i++, t = strtok_r(NULL, ":", &save)) {
        if (t == NULL)
            usage_error("batch: --streams needs C:ITEMS:NS:INCOMPLETE%s", "");
        v[i] = parse_u64(t, "--streams");
    }
    if (t != NULL)
        usage_error("batch: --streams needs C:ITEMS:NS:INCOMPLETE%s", "");
    m->count = v[0];
    m->items = v[1];
    m->duration_sum = v[2];
    m->incomplete = v[3];
}

static void cmd_batch(int argc, char **argv) {
    Stats__StreamsRecord streams = STATS__STREAMS_RECORD__INIT;
    Stats__RecordBatchRequest req = STATS__RECORD_BATCH_REQUEST__INIT;
    if (argc == 5 && strcmp(argv[3], "--streams") == 0) {
        batch_streams(&streams, argv[4]);
        req.streams = &streams;
        argc = 3;
    }
    if (argc != 3) usage_error("batch needs SENDER SEQ N:DUR[,N:DUR...]%s", "");
    req.sender = argv[0];
    req.seq = parse_u64(argv[1], "SEQ");
    char *list = xstrdup(argv[2]);
    size_t cap = 1;
    for (const char *p = list; *p; p++) cap += *p == ',';
    Stats__RecordRequest *recs = xcalloc(cap, sizeof(*recs));
    req.records = xcalloc(cap, sizeof(*req.records));
    char *save = NULL;
    for (char *item = strtok_r(list, ",", &save); item;
         item = strtok_r(NULL, ",", &save)) {
        Stats__RecordRequest *r = &recs[req.n_records];
        *r = (Stats__RecordRequest)STATS__RECORD_REQUEST__INIT;
        char *dur = strchr(item, ':');
        if (dur == NULL) usage_error("batch: record '%s' is not N:DUR", item);
        *dur++ = '\0';
        char *cache = strchr(dur, ':');
        if (cache) {
            *cache++ = '\0';
            r->cache = parse_cache(cache);
        }
        r->n = (int32_t)parse_int(item, INT32_MIN, INT32_MAX, "N");
        r->duration = parse_int(dur, INT64_MIN, INT64_MAX, "DUR");
        req.records[req.n_records++] = r;
    }
    Stats__RecordBatchResponse *res = (Stats__RecordBatchResponse *)call(
        "/stats.Stats/RecordBatch", &req.base,
        &stats__record_batch_response__descriptor);
    printf("{\"success\":%s,\"duplicate\":%s,\"recorded\":%" PRIu32
           ",\"streams_recorded\":%" PRIu64 "}\n",
           res->success ? "true" : "false", res->duplicate ? "true" : "false",
           res->recorded, res->streams_recorded);
    protobuf_c_message_free_unpacked(&res->base, NULL);
    free(req.records);
    free(recs);
    free(list);
}

static void print_status(int status) {
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
        &grpc__health__v1__health_check_response__serving_status__descriptor,
        status);
    printf("{\"status\":\"%s\"}\n", v ? v->name : "UNKNOWN");
    fflush(stdout);
}

static void cmd_health(int argc, char **argv) {
    if (argc > 1) usage_error("health takes at most one SERVICE%s", "");
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    if (argc == 1) req.service = argv[0];
    Grpc__Health__V1__HealthCheckResponse *res =
        (Grpc__Health__V1__HealthCheckResponse *)call(
            "/grpc.health.v1.Health/Check", &req.base,
            &grpc__health__v1__health_check_response__descriptor);
    print_status(res->status);
    protobuf_c_message_free_unpacked(&res->base, NULL);
}

/* A server-streaming call of `method` with `req`: each message is handed to
 * `fn` (and stdout flushed) as it arrives; the stream's end is printed as
 * an error unless it is OK or `fn` stopped it. */
typedef struct {
    rpc_client_msg_fn fn;
    void             *ud;
} stream_ctx;

static bool stream_message(const uint8_t *msg, size_t len, void *ud) {
    stream_ctx *c = ud;
    bool more = c->fn(msg, len, c->ud);
    fflush(stdout);
    return more;
}

static void stream_call(const char *method, const ProtobufCMessage *req,
                        rpc_client_msg_fn fn, void *ud) {
    stream_ctx c = {fn, ud};
    rpc_result r = rpc_client_stream(channel, method, req, stream_message, &c,
                                     timeout_ns, request_id);
    if (r.status != GRPC_STATUS_OK && r.status != GRPC_STATUS_CANCELLED)
        fail(r);
    free(r.details);
}

static bool watch_message(const uint8_t *bytes, size_t len, void *ud) {
    (void)ud;
    Grpc__Health__V1__HealthCheckResponse *res =
        grpc__health__v1__health_check_response__unpack(NULL, len, bytes);
    if (res == NULL)
        fail((rpc_result){GRPC_STATUS_INTERNAL,
                          xstrdup("cannot parse HealthCheckResponse")});
    print_status(res->status);
    grpc__health__v1__health_check_response__free_unpacked(res, NULL);
    return true;
}

/* Health/Watch: a line per status, until the stream ends. */
static void cmd_watch(int argc, char **argv) {
    if (argc > 1) usage_error("watch takes at most one SERVICE%s", "");
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    if (argc == 1) req.service = argv[0];
    stream_call("/grpc.health.v1.Health/Watch", &req.base, watch_message,
                NULL);
}

/* GetFibRange: a line per item, the unary answer plus its n. */
typedef struct {
    long long left;             /* messages before cancelling; -1: all */
    long long delay_ms;         /* sleep after each message (slow reader) */
} range_opts;

static bool range_message(const uint8_t *bytes, size_t len, void *ud) {
    range_opts *o = ud;
    Fibonacci__FibonacciResponse *res =
        fibonacci__fibonacci_response__unpack(NULL, len, bytes);
    if (res == NULL)
        fail((rpc_result){GRPC_STATUS_INTERNAL,
                          xstrdup("cannot parse FibonacciResponse")});
    print_fib(res);
    fibonacci__fibonacci_response__free_unpacked(res, NULL);
    if (o->delay_ms > 0) {
        fflush(stdout);
        struct timespec ts = {o->delay_ms / 1000,
                              (o->delay_ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
    }
    return o->left < 0 || --o->left > 0;
}

static void cmd_range(int argc, char **argv) {
    Fibonacci__FibRangeRequest req = FIBONACCI__FIB_RANGE_REQUEST__INIT;
    const char *bounds[2] = {NULL, NULL};
    int nb = 0;
    range_opts o = {-1, 0};
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--exact") == 0) {
            req.exact = 1;
        } else if (strcmp(argv[i], "--cancel-after") == 0 && i + 1 < argc) {
            o.left = parse_int(argv[++i], 1, INT32_MAX, "--cancel-after");
        } else if (strcmp(argv[i], "--read-delay") == 0 && i + 1 < argc) {
            o.delay_ms = parse_int(argv[++i], 0, 3600000, "--read-delay");
        } else if (nb < 2) {
            bounds[nb++] = argv[i];
        } else {
            usage_error("range: unexpected argument '%s'", argv[i]);
        }
    }
    if (nb < 2) usage_error("range needs FROM TO%s", "");
    req.from = (int32_t)parse_int(bounds[0], INT32_MIN, INT32_MAX, "FROM");
    req.to = (int32_t)parse_int(bounds[1], INT32_MIN, INT32_MAX, "TO");
    stream_call("/fibonacci.Fibonacci/GetFibRange", &req.base, range_message,
                &o);
}

/* GetFibBatch: one line, {"results":[...]} in request order. */
static void cmd_getbatch(int argc, char **argv) {
    Fibonacci__FibBatchRequest req = FIBONACCI__FIB_BATCH_REQUEST__INIT;
    const char *list = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--exact") == 0) req.exact = 1;
        else if (list == NULL) list = argv[i];
        else usage_error("getbatch: unexpected argument '%s'", argv[i]);
    }
    if (list == NULL) usage_error("getbatch needs N,N,...%s", "");
    char *copy = xstrdup(list), *save = NULL;
    size_t cap = 16;
    req.n = xmalloc(cap * sizeof(*req.n));
    for (char *t = strtok_r(copy, ",", &save); t;
         t = strtok_r(NULL, ",", &save)) {
        if (req.n_n == cap)
            req.n = xrealloc(req.n, (cap *= 2) * sizeof(*req.n));
        req.n[req.n_n++] = (int32_t)parse_int(t, INT32_MIN, INT32_MAX, "N");
    }
    Fibonacci__FibBatchResponse *res = (Fibonacci__FibBatchResponse *)call(
        "/fibonacci.Fibonacci/GetFibBatch", &req.base,
        &fibonacci__fib_batch_response__descriptor);
    printf("{\"results\":[");
    for (size_t i = 0; i < res->n_results; i++) {
        if (i) printf(",");
        print_fib_object(res->results[i], true);
    }
    printf("]}\n");
    protobuf_c_message_free_unpacked(&res->base, NULL);
    free(req.n);
    free(copy);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void cmd_raw(int argc, char **argv) {
    if (argc != 2) usage_error("raw needs METHOD HEXBYTES%s", "");
    bool none = strcmp(argv[1], "none") == 0;
    size_t hlen = none ? 0 : strlen(argv[1]);
    if (hlen % 2) usage_error("raw: HEXBYTES '%s' has an odd length", argv[1]);
    uint8_t *in = xmalloc(hlen / 2 + 1);
    for (size_t i = 0; i < hlen / 2; i++) {
        int hi = hexval(argv[1][2 * i]), lo = hexval(argv[1][2 * i + 1]);
        if (hi < 0 || lo < 0)
            usage_error("raw: HEXBYTES '%s' is not hex", argv[1]);
        in[i] = (uint8_t)(hi << 4 | lo);
    }
    uint8_t *out;
    size_t out_len;
    rpc_result r = rpc_client_call_raw(channel, argv[0], none ? NULL : in,
                                       hlen / 2, &out, &out_len, timeout_ns,
                                       request_id);
    free(in);
    if (r.status != GRPC_STATUS_OK) {
        fail(r);
    }
    printf("{\"reply\":\"");
    for (size_t i = 0; i < out_len; i++) printf("%02x", out[i]);
    printf("\"}\n");
    free(out);
    free(r.details);
}

static const struct {
    const char *name;
    void (*fn)(int argc, char **argv);
    const char *default_target;
} commands[] = {
    {"getfib", cmd_getfib, FIB_TARGET},
    {"range", cmd_range, FIB_TARGET},
    {"getbatch", cmd_getbatch, FIB_TARGET},
    {"stats", cmd_stats, STATS_TARGET},
    {"record", cmd_record, STATS_TARGET},
    {"batch", cmd_batch, STATS_TARGET},
    {"query", cmd_query, STATS_TARGET},
    {"health", cmd_health, FIB_TARGET},
    {"watch", cmd_watch, FIB_TARGET},
    {"raw", cmd_raw, FIB_TARGET},
};

int main(int argc, char **argv) {
    /* Global flags come before the command; all but --help/--version take
     * a value, given as "--flag value" or "--flag=value". */
    int cmd = 1;
    while (cmd < argc && strncmp(argv[cmd], "--", 2) == 0) {
        bool inline_value = strchr(argv[cmd], '=') != NULL ||
                            strcmp(argv[cmd], "--help") == 0 ||
                            strcmp(argv[cmd], "--version") == 0;
        cmd += inline_value ? 1 : 2;
    }
    if (cmd > argc) cmd = argc;
    int rc = flags_parse(cmd, argv, defs, "fibctl", VERSION, summary);
    if (rc != 0) return rc > 0 ? 0 : 2;
    if (cmd >= argc) usage_error("missing command%s", "");

    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[cmd], commands[i].name) != 0) continue;
        rpc_tls_pem pem;
        char err[512];
        bool secure = tls.ca && *tls.ca;
        if (rpc_tls_enabled(&tls) && !secure)
            usage_error("--tls-cert and --tls-key need --tls-ca%s", "");
        if (secure && rpc_tls_load(&tls, &pem, NULL, err, sizeof(err)) != 0)
            usage_error("%s", err);
        rpc_runtime_tune();
        grpc_init();
        channel = rpc_client_channel_tls(
            target[0] ? target : commands[i].default_target,
            secure ? &pem : NULL, tls_name);
        if (secure) rpc_tls_pem_free(&pem);
        commands[i].fn(argc - cmd - 1, argv + cmd + 1);
        grpc_channel_destroy(channel);
        grpc_shutdown();
        return 0;
    }
    usage_error("unknown command '%s'", argv[cmd]);
    return 2;
}
