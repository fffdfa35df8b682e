/* test_stats_store.c - the stats store, one suite run against each kind
 * (memory:, sqlite: on a temporary file, and the PostgreSQL database named
 * by $STATS_TEST_PG_URL, which tests/run starts): exact averages, 64-bit
 * counters, min/max, cache counts, sorting, batch dedup and validation,
 * --max-tracked, what survives reopening, the streams aggregate (counted
 * once with its batch, validated, kept, added to a version 1 schema), bad
 * URLs, concurrent recording. */
#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "stats_agg.h"
#include "stats_store.h"

static const char *url;         /* the store under test */
static const char *kind;        /* "memory", "sqlite" or "postgresql" */
static char sqlite_path[256];
static stats_store *store;

static int is(const char *k) {
    return strcmp(kind, k) == 0;
}

/* An empty store of the kind under test. */
static void wipe(void) {
    char path[300];

    if (is("sqlite")) {
        unlink(sqlite_path);
        snprintf(path, sizeof(path), "%s-wal", sqlite_path);
        unlink(path);
        snprintf(path, sizeof(path), "%s-shm", sqlite_path);
        unlink(path);
    } else if (is("postgresql")) {
        PGconn *c = PQconnectdb(url);
        PGresult *r = PQexec(c, "SET client_min_messages = warning;"
                             "DROP TABLE IF EXISTS fib_stats, fib_senders,"
                             " fib_schema, fib_streams");
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            fprintf(stderr, "%s: %s", url, PQerrorMessage(c));
            exit(1);
        }
        PQclear(r);
        PQfinish(c);
    }
}

static stats_store *open_store(uint64_t max_tracked, size_t max_senders) {
    stats_store_options o = { max_senders, max_tracked };
    char err[512];
    stats_store *s = stats_store_open(url, &o, err, sizeof(err));

    ck_assert_msg(s != NULL, "%s", err);
    return s;
}

static void setup(void) {
    wipe();
    store = open_store(0, 0);
}

static void teardown(void) {
    stats_store_free(store);
    store = NULL;
}

static stats_record rec(int32_t n, int64_t ns, stats_cache cache) {
    stats_record r = {n, ns, cache};
    return r;
}

static void record(int32_t n, int64_t ns) {
    stats_record r = rec(n, ns, STATS_CACHE_NONE);
    ck_assert_int_eq(stats_store_record(store, &r), STATS_OK);
}

/* The row for n in a snapshot, or NULL. */
static const stats_row *find_row(const stats_snapshot *snap, int32_t n) {
    for (size_t i = 0; i < snap->len; i++) {
        if (snap->rows[i].n == n) return &snap->rows[i];
    }
    return NULL;
}

START_TEST(test_empty) {
    stats_snapshot snap;

    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.total, 0);
    ck_assert_uint_eq(snap.len, 0);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_exact_average) {
    stats_snapshot snap;

    record(10, 1500);
    record(10, 2500);
    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.len, 1);
    ck_assert_uint_eq(snap.total, 2);
    ck_assert_int_eq(snap.rows[0].n, 10);
    ck_assert_uint_eq(snap.rows[0].count, 2);
    /* Exactly 0.002, not "about": sum ns / count / 1e6 in doubles. */
    ck_assert(snap.rows[0].average_ms == 0.002);
    ck_assert_uint_eq(snap.rows[0].total_ns, 4000);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_average_not_whole_ms) {
    stats_snapshot snap;

    record(3, 1);
    record(3, 2);
    record(3, 4);
    stats_store_snapshot(store, &snap);
    ck_assert(snap.rows[0].average_ms == 7.0 / 3.0 / 1e6);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_min_max) {
    stats_snapshot snap;

    record(5, 700);
    record(5, 300);
    record(5, 900);
    record(5, 500);
    record(6, 0);
    stats_store_snapshot(store, &snap);
    ck_assert_int_eq(find_row(&snap, 5)->min_ns, 300);
    ck_assert_int_eq(find_row(&snap, 5)->max_ns, 900);
    ck_assert_int_eq(find_row(&snap, 6)->min_ns, 0);
    ck_assert_int_eq(find_row(&snap, 6)->max_ns, 0);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_cache_counts) {
    stats_record hit = rec(7, 10, STATS_CACHE_HIT);
    stats_record miss = rec(7, 10, STATS_CACHE_MISS);
    stats_record none = rec(7, 10, STATS_CACHE_NONE);
    stats_snapshot snap;

    ck_assert_int_eq(stats_store_record(store, &hit), STATS_OK);
    ck_assert_int_eq(stats_store_record(store, &hit), STATS_OK);
    ck_assert_int_eq(stats_store_record(store, &miss), STATS_OK);
    ck_assert_int_eq(stats_store_record(store, &none), STATS_OK);
    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.rows[0].count, 4);
    ck_assert_uint_eq(snap.rows[0].cache_hits, 2);
    ck_assert_uint_eq(snap.rows[0].cache_misses, 1);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_sorted_by_n) {
    static const int32_t ns[] = {42, 7, 1000000, 0, 13, 7, INT32_MAX, 99};
    stats_snapshot snap;
    size_t i;

    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) record(ns[i], 1);
    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.len, 7);
    ck_assert_uint_eq(snap.total, 8);
    ck_assert_int_eq(snap.rows[0].n, 0);
    ck_assert_int_eq(snap.rows[6].n, INT32_MAX);
    for (i = 1; i < snap.len; i++) {
        ck_assert_int_lt(snap.rows[i - 1].n, snap.rows[i].n);
    }
    ck_assert_uint_eq(find_row(&snap, 7)->count, 2);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_many_distinct_sorted) {
    stats_snapshot snap;
    int32_t i;

    /* 10000 distinct n inserted in a scrambled order. */
    for (i = 0; i < 10000; i++) record((i * 7919) % 10000, i);
    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.len, 10000);
    for (i = 0; i < 10000; i++) ck_assert_int_eq(snap.rows[i].n, i);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_64bit_counts) {
    stats_record r = rec(20, 1000, STATS_CACHE_HIT);
    uint64_t big = (uint64_t)INT32_MAX + 10;
    stats_snapshot snap;

    ck_assert_int_eq(stats_store_record_many(store, &r, big), STATS_OK);
    record(20, 3000);
    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.total, big + 1);
    ck_assert_uint_eq(snap.rows[0].count, big + 1);
    ck_assert_uint_eq(snap.rows[0].cache_hits, big);
    ck_assert_uint_eq(snap.rows[0].total_ns, big * 1000 + 3000);
    ck_assert_int_eq(snap.rows[0].max_ns, 3000);
    ck_assert_int_eq(snap.rows[0].min_ns, 1000);
    ck_assert(snap.rows[0].average_ms
              == (double)(big * 1000 + 3000) / (double)(big + 1) / 1e6);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_total_duration_saturates) {
    stats_record r = rec(1, INT64_MAX, STATS_CACHE_NONE);
    stats_snapshot snap;

    /* 4 * (2^63-1) ns overflows 64 bits; the average must not. */
    ck_assert_int_eq(stats_store_record_many(store, &r, 4), STATS_OK);
    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.rows[0].total_ns, UINT64_MAX);
    ck_assert(snap.rows[0].average_ms == (double)INT64_MAX / 1e6);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_counts_saturate_at_uint64) {
    stats_record r = rec(2, 0, STATS_CACHE_MISS);
    stats_snapshot snap;

    ck_assert_int_eq(stats_store_record_many(store, &r, UINT64_MAX - 1),
                     STATS_OK);
    ck_assert_int_eq(stats_store_record_many(store, &r, 5), STATS_OK);
    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.total, UINT64_MAX);
    ck_assert_uint_eq(snap.rows[0].count, UINT64_MAX);
    ck_assert_uint_eq(snap.rows[0].cache_misses, UINT64_MAX);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_invalid_record) {
    stats_record neg_n = rec(-1, 10, STATS_CACHE_NONE);
    stats_record neg_d = rec(1, -10, STATS_CACHE_NONE);
    stats_record ok = rec(0, 0, STATS_CACHE_NONE);
    stats_snapshot snap;

    ck_assert_str_eq(stats_record_invalid(&neg_n), "n");
    ck_assert_str_eq(stats_record_invalid(&neg_d), "duration");
    ck_assert_ptr_null(stats_record_invalid(&ok));
    ck_assert_int_eq(stats_store_record(store, &neg_n), STATS_INVALID);
    ck_assert_int_eq(stats_store_record(store, &neg_d), STATS_INVALID);
    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.total, 0);
    ck_assert_uint_eq(snap.len, 0);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_batch_applies_all) {
    stats_record recs[] = {
        {1, 100, STATS_CACHE_HIT}, {2, 200, STATS_CACHE_MISS}, {1, 300, 0},
    };
    stats_snapshot snap;
    size_t bad;

    ck_assert_int_eq(stats_store_record_batch(store, "a", 1, recs, 3, NULL, 0, &bad),
                     STATS_OK);
    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.total, 3);
    ck_assert_uint_eq(find_row(&snap, 1)->count, 2);
    ck_assert_uint_eq(find_row(&snap, 1)->cache_hits, 1);
    ck_assert_uint_eq(find_row(&snap, 2)->cache_misses, 1);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_batch_dedup) {
    stats_record recs[] = {{1, 100, 0}, {2, 200, 0}};
    stats_snapshot snap;
    size_t bad;

    ck_assert_int_eq(stats_store_record_batch(store, "a", 5, recs, 2, NULL, 0, &bad),
                     STATS_OK);
    /* The retry of seq 5, and an older seq, are not counted again. */
    ck_assert_int_eq(stats_store_record_batch(store, "a", 5, recs, 2, NULL, 0, &bad),
                     STATS_DUPLICATE);
    ck_assert_int_eq(stats_store_record_batch(store, "a", 4, recs, 2, NULL, 0, &bad),
                     STATS_DUPLICATE);
    /* Another sender's seq 5 is its own. */
    ck_assert_int_eq(stats_store_record_batch(store, "b", 5, recs, 2, NULL, 0, &bad),
                     STATS_OK);
    ck_assert_int_eq(stats_store_record_batch(store, "a", 6, recs, 1, NULL, 0, &bad),
                     STATS_OK);
    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.total, 5);
    ck_assert_uint_eq(find_row(&snap, 1)->count, 3);
    ck_assert_uint_eq(find_row(&snap, 2)->count, 2);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_batch_seq_zero_and_empty) {
    stats_record one = {3, 1, 0};
    size_t bad;

    /* proto3's default seq 0 is a real first batch, once. */
    ck_assert_int_eq(stats_store_record_batch(store, "z", 0, &one, 1, NULL, 0, &bad),
                     STATS_OK);
    ck_assert_int_eq(stats_store_record_batch(store, "z", 0, &one, 1, NULL, 0, &bad),
                     STATS_DUPLICATE);
    ck_assert_int_eq(stats_store_record_batch(store, "z", 1, NULL, 0, NULL, 0, &bad),
                     STATS_OK);
    ck_assert_int_eq(stats_store_record_batch(store, "z", 1, &one, 1, NULL, 0, &bad),
                     STATS_DUPLICATE);
}
END_TEST

START_TEST(test_batch_invalid_counts_nothing) {
    stats_record recs[] = {{1, 100, 0}, {2, 200, 0}, {-3, 5, 0}, {4, -1, 0}};
    stats_record good = {1, 1, 0};
    stats_snapshot snap;
    size_t bad = 0;

    ck_assert_int_eq(stats_store_record_batch(store, "a", 1, recs, 4, NULL, 0, &bad),
                     STATS_INVALID);
    ck_assert_uint_eq(bad, 2);
    ck_assert_int_eq(stats_store_record_batch(store, "a", 1, recs + 3, 1, NULL, 0,
                                              &bad), STATS_INVALID);
    ck_assert_uint_eq(bad, 0);
    ck_assert_int_eq(stats_store_record_batch(store, "", 1, &good, 1, NULL, 0, &bad),
                     STATS_INVALID);
    ck_assert_uint_eq(bad, SIZE_MAX);
    stats_store_snapshot(store, &snap);
    ck_assert_uint_eq(snap.total, 0);
    ck_assert_uint_eq(snap.len, 0);
    stats_snapshot_free(&snap);
    /* A rejected batch does not use up its seq. */
    ck_assert_int_eq(stats_store_record_batch(store, "a", 1, &good, 1, NULL, 0, &bad),
                     STATS_OK);
}
END_TEST

START_TEST(test_batch_long_sender) {
    char name[STATS_SENDER_MAX + 2];
    stats_record good = {1, 1, 0};
    size_t bad = 0;

    memset(name, 'x', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    ck_assert_int_eq(stats_store_record_batch(store, name, 1, &good, 1, NULL, 0, &bad),
                     STATS_INVALID);
    ck_assert_uint_eq(bad, SIZE_MAX);
    name[STATS_SENDER_MAX] = '\0';
    ck_assert_int_eq(stats_store_record_batch(store, name, 1, &good, 1, NULL, 0, &bad),
                     STATS_OK);
}
END_TEST

/* A one-record batch from sender with seq. */
static stats_result batch1(stats_store *s, const char *sender, uint64_t seq) {
    stats_record r = {1, 1, 0};
    size_t bad;

    return stats_store_record_batch(s, sender, seq, &r, 1, NULL, 0, &bad);
}

START_TEST(test_senders_bounded) {
    stats_store *small;

    if (!is("memory")) return;      /* the databases remember every sender */
    small = open_store(0, 3);

    ck_assert_int_eq(batch1(small, "a", 1), STATS_OK);
    ck_assert_int_eq(batch1(small, "b", 1), STATS_OK);
    ck_assert_int_eq(batch1(small, "c", 1), STATS_OK);
    /* "a" seen again: now "b" is the least recently seen. */
    ck_assert_int_eq(batch1(small, "a", 1), STATS_DUPLICATE);
    ck_assert_int_eq(batch1(small, "d", 1), STATS_OK);
    /* "a", "c", "d" are remembered; "b" was forgotten and counts again. */
    ck_assert_int_eq(batch1(small, "a", 1), STATS_DUPLICATE);
    ck_assert_int_eq(batch1(small, "c", 1), STATS_DUPLICATE);
    ck_assert_int_eq(batch1(small, "d", 1), STATS_DUPLICATE);
    ck_assert_int_eq(batch1(small, "b", 1), STATS_OK);
    stats_store_free(small);
}
END_TEST

START_TEST(test_batch_aggregated) {
    stats_record recs[] = {{4, 100, STATS_CACHE_HIT}, {5, 7, 0}};
    stats_agg aggs[2] = {
        {.n = 4, .count = 3, .sum_ns = 30, .min_ns = 5, .max_ns = 15,
         .hits = 1, .misses = 2},
        {.n = 9, .count = 2, .sum_ns = 4, .min_ns = 2, .max_ns = 2},
    };
    stats_snapshot snap;
    size_t bad;

    ck_assert_int_eq(stats_store_record_batch(store, "g", 1, recs, 2, aggs,
                                              2, &bad), STATS_OK);
    ck_assert_int_eq(stats_store_record_batch(store, "g", 1, recs, 2, aggs,
                                              2, &bad), STATS_DUPLICATE);
    ck_assert_int_eq(stats_store_snapshot(store, &snap), STATS_OK);
    ck_assert_uint_eq(snap.total, 7);
    ck_assert_uint_eq(snap.len, 3);
    ck_assert_uint_eq(find_row(&snap, 4)->count, 4);
    ck_assert_uint_eq(find_row(&snap, 4)->total_ns, 130);
    ck_assert_int_eq(find_row(&snap, 4)->min_ns, 5);
    ck_assert_int_eq(find_row(&snap, 4)->max_ns, 100);
    ck_assert_uint_eq(find_row(&snap, 4)->cache_hits, 2);
    ck_assert_uint_eq(find_row(&snap, 4)->cache_misses, 2);
    ck_assert(find_row(&snap, 9)->average_ms == 2 / 1e6);
    stats_snapshot_free(&snap);
}
END_TEST

START_TEST(test_max_tracked) {
    stats_store *s;
    stats_snapshot snap;
    stats_record r = {1, 10, 0};
    stats_record batch[] = {{2, 5, 0}, {9, 5, 0}, {2, 7, 0}};
    size_t bad;
    int32_t n;

    stats_store_free(store);
    store = s = open_store(3, 0);
    for (n = 1; n <= 3; n++) {
        r.n = n;
        ck_assert_int_eq(stats_store_record(s, &r), STATS_OK);
    }
    r.n = 4;
    ck_assert_int_eq(stats_store_record(s, &r), STATS_FULL);
    /* A batch adding a new n is refused whole, n=2 included. */
    ck_assert_int_eq(stats_store_record_batch(s, "a", 1, batch, 3, NULL, 0, &bad),
                     STATS_FULL);
    ck_assert_uint_eq(stats_store_refused(s), 1 + 3);
    /* Known n still count, and the refused batch's seq was not used up. */
    r.n = 2;
    ck_assert_int_eq(stats_store_record(s, &r), STATS_OK);
    ck_assert_int_eq(stats_store_record_batch(s, "a", 1, batch, 1, NULL, 0, &bad),
                     STATS_OK);
    ck_assert_int_eq(stats_store_snapshot(s, &snap), STATS_OK);
    ck_assert_uint_eq(snap.len, 3);
    ck_assert_uint_eq(snap.total, 5);
    ck_assert_uint_eq(find_row(&snap, 2)->count, 3);
    ck_assert_ptr_null(find_row(&snap, 4));
    ck_assert_ptr_null(find_row(&snap, 9));
    stats_snapshot_free(&snap);
}
END_TEST

/* Closing and reopening keeps everything committed (and the dedup state)
 * in the database stores; memory: starts empty. */
START_TEST(test_reopen) {
    stats_record recs[] = {{5, 100, STATS_CACHE_HIT}, {6, 300, 0}};
    stats_record big = {7, INT64_MAX, STATS_CACHE_MISS};
    stats_snapshot snap;
    size_t bad;

    ck_assert_int_eq(stats_store_record_batch(store, "a", 9, recs, 2, NULL, 0, &bad),
                     STATS_OK);
    ck_assert_int_eq(stats_store_record_many(store, &big, UINT64_MAX - 1),
                     STATS_OK);
    stats_store_free(store);
    store = open_store(0, 0);
    ck_assert_int_eq(stats_store_snapshot(store, &snap), STATS_OK);
    if (is("memory")) {
        ck_assert_uint_eq(snap.len, 0);
        stats_snapshot_free(&snap);
        return;
    }
    ck_assert_uint_eq(snap.len, 3);
    ck_assert_uint_eq(snap.total, UINT64_MAX);
    ck_assert_uint_eq(find_row(&snap, 5)->cache_hits, 1);
    ck_assert_int_eq(find_row(&snap, 6)->min_ns, 300);
    ck_assert_uint_eq(find_row(&snap, 7)->count, UINT64_MAX - 1);
    ck_assert_uint_eq(find_row(&snap, 7)->total_ns, UINT64_MAX);
    ck_assert(find_row(&snap, 7)->average_ms == (double)INT64_MAX / 1e6);
    stats_snapshot_free(&snap);
    ck_assert_int_eq(stats_store_record_batch(store, "a", 9, recs, 2, NULL, 0, &bad),
                     STATS_DUPLICATE);
}
END_TEST

static stats_result batch_streams(const char *sender, uint64_t seq,
                                  const stats_record *r, size_t len,
                                  stats_streams st) {
    size_t bad;

    return stats_store_record_streams(store, sender, seq, r, len, NULL, 0,
                                      &st, &bad);
}

static void check_streams(uint64_t count, uint64_t items, uint64_t sum_ns,
                          uint64_t incomplete, uint64_t total) {
    stats_snapshot snap;

    ck_assert_int_eq(stats_store_snapshot(store, &snap), STATS_OK);
    ck_assert_uint_eq(snap.streams.count, count);
    ck_assert_uint_eq(snap.streams.items, items);
    ck_assert_uint_eq(snap.streams.sum_ns, sum_ns);
    ck_assert_uint_eq(snap.streams.incomplete, incomplete);
    ck_assert_uint_eq(snap.total, total);
    stats_snapshot_free(&snap);
}

/* Streams go with their batch: counted once, kept apart from the per-n
 * rows and the total, refused as a whole when invalid. */
START_TEST(test_streams) {
    stats_record r = rec(3, 50, STATS_CACHE_NONE);
    stats_streams one = {1, 21, 4000, 0}, two = {2, 7, 600, 1};
    stats_streams bad1 = {1, 5, 10, 2}, bad2 = {0, 5, 0, 0};
    stats_snapshot snap;
    size_t bad;

    check_streams(0, 0, 0, 0, 0);
    ck_assert_int_eq(batch_streams("s", 1, &r, 1, one), STATS_OK);
    ck_assert_int_eq(batch_streams("s", 1, &r, 1, one), STATS_DUPLICATE);
    check_streams(1, 21, 4000, 0, 1);
    ck_assert_int_eq(batch_streams("s", 2, NULL, 0, two), STATS_OK);
    ck_assert_int_eq(batch_streams("s", 2, NULL, 0, two), STATS_DUPLICATE);
    check_streams(3, 28, 4600, 1, 1);
    ck_assert_int_eq(stats_store_record_streams(store, "s", 3, &r, 1, NULL,
                                                0, &bad1, &bad),
                     STATS_INVALID);
    ck_assert_uint_eq(bad, 1);
    ck_assert_int_eq(batch_streams("s", 3, &r, 1, bad2), STATS_INVALID);
    check_streams(3, 28, 4600, 1, 1);
    ck_assert_ptr_null(stats_streams_invalid(&one));
    ck_assert_str_eq(stats_streams_invalid(&bad1),
                     "incomplete must be <= count");
    /* a streams-only batch leaves the per-n rows as they were */
    ck_assert_int_eq(stats_store_snapshot(store, &snap), STATS_OK);
    ck_assert_uint_eq(snap.len, 1);
    ck_assert_uint_eq(find_row(&snap, 3)->count, 1);
    stats_snapshot_free(&snap);
}
END_TEST

/* The database stores keep the streams across reopening, and a store
 * written by a stats-service without streams (schema version 1) gains
 * them, its rows kept. */
START_TEST(test_streams_reopen) {
    stats_record r = rec(4, 10, STATS_CACHE_NONE);
    stats_streams st = {2, 40, 900, 1};
    char err[256] = "";

    ck_assert_int_eq(batch_streams("t", 1, &r, 1, st), STATS_OK);
    stats_store_free(store);
    store = open_store(0, 0);
    if (is("memory")) {
        check_streams(0, 0, 0, 0, 0);
        return;
    }
    check_streams(2, 40, 900, 1, 1);
    ck_assert_int_eq(batch_streams("t", 1, &r, 1, st), STATS_DUPLICATE);
    stats_store_free(store);
    store = NULL;
    if (is("sqlite")) {
        sqlite3 *db;
        ck_assert_int_eq(sqlite3_open(sqlite_path, &db), SQLITE_OK);
        ck_assert_int_eq(sqlite3_exec(db, "DROP TABLE fib_streams;"
                                      "PRAGMA user_version = 1", NULL, NULL,
                                      NULL), SQLITE_OK);
        sqlite3_close(db);
    } else {
        PGconn *c = PQconnectdb(url);
        PGresult *res = PQexec(c, "DROP TABLE fib_streams;"
                               "UPDATE fib_schema SET version = 1");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            snprintf(err, sizeof(err), "%s", PQerrorMessage(c));
        PQclear(res);
        PQfinish(c);
        ck_assert_msg(err[0] == '\0', "%s", err);
    }
    store = open_store(0, 0);
    check_streams(0, 0, 0, 0, 1);
    ck_assert_int_eq(batch_streams("t", 2, NULL, 0, st), STATS_OK);
    check_streams(2, 40, 900, 1, 1);
}
END_TEST

/* URLs that name no store, or a store that cannot be opened: NULL and a
 * message naming it, without its password. */
START_TEST(test_bad_urls) {
    static const char *const bad[] = {
        "", "memory", "redis://localhost", "sqlite:",
        "sqlite:/nonexistent-dir/stats.db",
        "postgresql://fib:s3cret@127.0.0.1:1/stats?connect_timeout=2",
    };
    char err[512];
    size_t i;

    if (!is("memory")) return;      /* once is enough */
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        ck_assert_ptr_null(stats_store_open(bad[i], NULL, err, sizeof(err)));
        ck_assert_msg(strstr(err, "store \"") == err, "%s", err);
        ck_assert_ptr_null(strstr(err, "s3cret"));
    }
    stats_store_open(bad[5], NULL, err, sizeof(err));
    ck_assert_msg(strstr(err, "fib:***@127.0.0.1:1") != NULL, "%s", err);
    ck_assert_msg(strstr(err, "cannot connect") != NULL, "%s", err);
    stats_store_open(bad[2], NULL, err, sizeof(err));
    ck_assert_msg(strstr(err, "not a store URL") != NULL, "%s", err);
}
END_TEST

/* --- concurrency ---------------------------------------------------------- */

#define THREADS 4
/* A transaction per record in the databases: fewer there. */
#define PER_THREAD (is("memory") ? 20000 : 1000)

static void *recorder(void *arg) {
    int id = (int)(intptr_t)arg;
    char sender[16];
    size_t bad;
    int i;

    snprintf(sender, sizeof(sender), "t%d", id);
    for (i = 0; i < PER_THREAD; i++) {
        stats_record r = {i % 50, id + 1, i % 2 ? STATS_CACHE_HIT : 0};
        ck_assert_int_eq(stats_store_record(store, &r), STATS_OK);
    }
    /* Every thread also retries shared batches: each applies once. */
    for (i = 0; i < 100; i++) {
        stats_record b[2] = {{100, 1, 0}, {101, 1, 0}};
        stats_store_record_batch(store, "shared", (uint64_t)i, b, 2, NULL, 0, &bad);
        stats_store_record_batch(store, sender, (uint64_t)i, b, 1, NULL, 0, &bad);
    }
    return NULL;
}

static void *reader(void *arg) {
    int i;

    (void)arg;
    for (i = 0; i < 200; i++) {
        stats_snapshot snap;
        stats_store_snapshot(store, &snap);
        stats_snapshot_free(&snap);
    }
    return NULL;
}

START_TEST(test_concurrent_exact_totals) {
    pthread_t th[THREADS + 1];
    stats_snapshot snap;
    uint64_t sum = 0;
    int i;

    for (i = 0; i < THREADS; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, recorder,
                                        (void *)(intptr_t)i), 0);
    }
    ck_assert_int_eq(pthread_create(&th[THREADS], NULL, reader, NULL), 0);
    for (i = 0; i <= THREADS; i++) pthread_join(th[i], NULL);

    stats_store_snapshot(store, &snap);
    /* The "shared" sender's 100 batches of 2 count once; each thread's own
     * 100 batches of 1 count once each. */
    ck_assert_uint_eq(snap.total, THREADS * PER_THREAD + 200 + THREADS * 100);
    ck_assert_uint_eq(find_row(&snap, 0)->count, THREADS * PER_THREAD / 50);
    ck_assert_uint_eq(find_row(&snap, 1)->cache_hits,
                      THREADS * PER_THREAD / 50);
    ck_assert_uint_eq(find_row(&snap, 100)->count, 100 + THREADS * 100);
    ck_assert_uint_eq(find_row(&snap, 101)->count, 100);
    for (i = 0; i < 50; i++) {
        sum += snap.rows[i].total_ns;
        ck_assert_int_eq(snap.rows[i].min_ns, 1);
        ck_assert_int_eq(snap.rows[i].max_ns, THREADS);
    }
    /* Thread id records duration id+1, PER_THREAD times. */
    ck_assert_uint_eq(sum, (uint64_t)PER_THREAD * THREADS * (THREADS + 1) / 2);
    stats_snapshot_free(&snap);
}
END_TEST

static Suite *store_suite(void) {
    Suite *s = suite_create("stats_store");
    TCase *tc = tcase_create("store");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_exact_average);
    tcase_add_test(tc, test_average_not_whole_ms);
    tcase_add_test(tc, test_min_max);
    tcase_add_test(tc, test_cache_counts);
    tcase_add_test(tc, test_sorted_by_n);
    tcase_add_test(tc, test_many_distinct_sorted);
    tcase_add_test(tc, test_64bit_counts);
    tcase_add_test(tc, test_total_duration_saturates);
    tcase_add_test(tc, test_counts_saturate_at_uint64);
    tcase_add_test(tc, test_invalid_record);
    tcase_add_test(tc, test_batch_applies_all);
    tcase_add_test(tc, test_batch_dedup);
    tcase_add_test(tc, test_batch_seq_zero_and_empty);
    tcase_add_test(tc, test_batch_invalid_counts_nothing);
    tcase_add_test(tc, test_batch_long_sender);
    tcase_add_test(tc, test_senders_bounded);
    tcase_add_test(tc, test_batch_aggregated);
    tcase_add_test(tc, test_max_tracked);
    tcase_add_test(tc, test_reopen);
    tcase_add_test(tc, test_streams);
    tcase_add_test(tc, test_streams_reopen);
    tcase_add_test(tc, test_bad_urls);
    tcase_add_test(tc, test_concurrent_exact_totals);
    suite_add_tcase(s, tc);
    return s;
}

static int run_on(const char *k, const char *u) {
    kind = k;
    url = u;
    printf("stats_store on %s\n", u);
    return run_suite(store_suite());
}

int main(void) {
    const char *pg = getenv("STATS_TEST_PG_URL");
    char sqlite_url[300];
    int failed = 0;

    snprintf(sqlite_path, sizeof(sqlite_path), "%s/stats-unit-%d.db",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    snprintf(sqlite_url, sizeof(sqlite_url), "sqlite:%s", sqlite_path);
    failed |= run_on("memory", "memory:");
    failed |= run_on("sqlite", sqlite_url);
    wipe();
    if (pg == NULL || pg[0] == '\0') {
        printf("stats_store on postgresql: FAILED, STATS_TEST_PG_URL is not "
               "set (tests/run starts a cluster and sets it)\n");
        return 1;
    }
    failed |= run_on("postgresql", pg);
    wipe();
    return failed;
}
