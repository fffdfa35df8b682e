/* statsbench.c - how many records per second a stats-service (and the
 * store behind it) absorbs through RecordBatch.
 *
 *   statsbench --target HOST:PORT [--seconds N] [--threads N]
 *              [--records N] [--distinct N]
 *
 * Each thread is one sender (its own id, seq 1, 2, ...) sending batches of
 * --records records over --distinct n, one call at a time, for --seconds.
 * Prints one JSON line: records, batches, seconds, records_per_s. Exit 1
 * if any call failed. */
#include <grpc/grpc.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "flags.h"
#include "rpc_client.h"
#include "rpc_runtime.h"
#include "stats/stats.pb-c.h"

static const char *target = "127.0.0.1:5002";
static long long seconds = 5, threads = 2, records = 1000, distinct = 50;

typedef struct {
    int      id;
    int64_t  end_ns;
    uint64_t batches;
    int      failed;
} worker;

static grpc_channel *channel;

static void *run(void *arg) {
    worker *w = arg;
    Stats__RecordRequest *recs = calloc((size_t)records, sizeof(*recs));
    Stats__RecordRequest **ptrs = calloc((size_t)records, sizeof(*ptrs));
    Stats__RecordBatchRequest req = STATS__RECORD_BATCH_REQUEST__INIT;
    char sender[48];

    snprintf(sender, sizeof(sender), "statsbench-%d-%d", (int)getpid(), w->id);
    for (long long i = 0; i < records; i++) {
        stats__record_request__init(&recs[i]);
        recs[i].n = (int32_t)(i % distinct);
        recs[i].duration = 1000 + i;
        recs[i].cache = STATS__CACHE_RESULT__CACHE_HIT;
        ptrs[i] = &recs[i];
    }
    req.sender = sender;
    req.records = ptrs;
    req.n_records = (size_t)records;
    while (clock_mono_ns() < w->end_ns) {
        ProtobufCMessage *reply = NULL;
        req.seq = w->batches + 1;
        rpc_result r = rpc_client_call(
            channel, "/stats.Stats/RecordBatch", &req.base,
            &stats__record_batch_response__descriptor, &reply,
            10 * NS_PER_SEC, NULL);
        if (reply) protobuf_c_message_free_unpacked(reply, NULL);
        free(r.details);
        if (r.status != GRPC_STATUS_OK) {
            w->failed = 1;
            break;
        }
        w->batches++;
    }
    free(recs);
    free(ptrs);
    return NULL;
}

int main(int argc, char **argv) {
    const flag_def defs[] = {
        {"target", FLAG_STRING, &target, 0, 0, NULL, "stats-service to call"},
        {"seconds", FLAG_INT, &seconds, 1, 3600, NULL, "how long to send"},
        {"threads", FLAG_INT, &threads, 1, 64, NULL, "senders at once"},
        {"records", FLAG_INT, &records, 1, 100000, NULL, "records per batch"},
        {"distinct", FLAG_INT, &distinct, 1, 1000000, NULL,
         "distinct n in a batch"},
        {NULL, 0, NULL, 0, 0, NULL, NULL},
    };
    int rc = flags_parse(argc, argv, defs, "statsbench", VERSION,
                         "Measures RecordBatch records per second.");
    if (rc != 0) return rc > 0 ? 0 : 2;

    rpc_runtime_tune();
    grpc_init();
    channel = rpc_client_channel(target);
    worker *w = calloc((size_t)threads, sizeof(*w));
    pthread_t *th = calloc((size_t)threads, sizeof(*th));
    int64_t t0 = clock_mono_ns();
    for (int i = 0; i < threads; i++) {
        w[i].id = i;
        w[i].end_ns = t0 + seconds * 1000000000LL;
        pthread_create(&th[i], NULL, run, &w[i]);
    }
    uint64_t batches = 0;
    int failed = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        batches += w[i].batches;
        failed |= w[i].failed;
    }
    double secs = (double)(clock_mono_ns() - t0) / 1e9;
    uint64_t total = batches * (uint64_t)records;
    printf("{\"records\":%" PRIu64 ",\"batches\":%" PRIu64 ",\"seconds\":%.3f,"
           "\"records_per_s\":%.0f,\"failed\":%s}\n", total, batches, secs,
           (double)total / secs, failed ? "true" : "false");
    free(w);
    free(th);
    grpc_channel_destroy(channel);
    grpc_shutdown();
    return failed;
}
