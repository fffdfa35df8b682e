/* store_sqlite.c - the "sqlite:PATH" store: the embedded default, so that a
 * plain start keeps its counts across restarts.
 *
 * WAL journal with synchronous=NORMAL: a commit is in the file (the WAL)
 * before the call is acknowledged, so a killed process loses nothing it
 * acknowledged; a power loss or OS crash can lose the commits since the
 * last WAL checkpoint was synced, never corrupt the file. One connection
 * under one mutex; each call is one BEGIN IMMEDIATE transaction. Counters
 * are 64-bit unsigned, stored as their int64 bit pattern; the 128-bit
 * duration sum as two int64 halves. The arithmetic is stats_agg's, in C.
 * The streams aggregate is the one row of fib_streams, written in the same
 * transaction as the batch it came with. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "stats_backend.h"

/* 2 added fib_streams; a version 1 file gains it when opened. */
#define SCHEMA_VERSION 2

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS fib_stats ("
    " n INTEGER PRIMARY KEY, count INTEGER NOT NULL,"
    " sum_hi INTEGER NOT NULL, sum_lo INTEGER NOT NULL,"
    " min_ns INTEGER NOT NULL, max_ns INTEGER NOT NULL,"
    " hits INTEGER NOT NULL, misses INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS fib_senders ("
    " name TEXT PRIMARY KEY, seq INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS fib_streams ("
    " id INTEGER PRIMARY KEY CHECK (id = 1), count INTEGER NOT NULL,"
    " items INTEGER NOT NULL, sum_ns INTEGER NOT NULL,"
    " incomplete INTEGER NOT NULL);";

enum { Q_SENDER_GET, Q_SENDER_PUT, Q_ROW_GET, Q_ROW_PUT, Q_COUNT, Q_ALL,
       Q_STREAMS_GET, Q_STREAMS_PUT, Q_BEGIN, Q_COMMIT, Q_ROLLBACK, Q_MAX };

static const char *const queries[Q_MAX] = {
    "SELECT seq FROM fib_senders WHERE name = ?1",
    "INSERT OR REPLACE INTO fib_senders (name, seq) VALUES (?1, ?2)",
    "SELECT count, sum_hi, sum_lo, min_ns, max_ns, hits, misses"
    " FROM fib_stats WHERE n = ?1",
    "INSERT OR REPLACE INTO fib_stats"
    " (n, count, sum_hi, sum_lo, min_ns, max_ns, hits, misses)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    "SELECT count(*) FROM fib_stats",
    "SELECT n, count, sum_hi, sum_lo, min_ns, max_ns, hits, misses"
    " FROM fib_stats WHERE count != 0 ORDER BY n",
    "SELECT count, items, sum_ns, incomplete FROM fib_streams WHERE id = 1",
    "INSERT OR REPLACE INTO fib_streams (id, count, items, sum_ns, incomplete)"
    " VALUES (1, ?1, ?2, ?3, ?4)",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
};

typedef struct {
    stats_backend   base;
    pthread_mutex_t lock;
    sqlite3        *db;
    sqlite3_stmt   *q[Q_MAX];
} sqlite_store;

/* Log the connection's last error; the caller answers UNAVAILABLE. */
static void log_failure(sqlite_store *s, const char *what) {
    log_line l;

    if (log_begin(&l, LOG_ERROR, "store_failed")) {
        log_str(&l, "store", "sqlite");
        log_str(&l, "op", what);
        log_str(&l, "error", sqlite3_errmsg(s->db));
        log_end(&l);
    }
}

static int step_done(sqlite3_stmt *st) {
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

static void row_read(sqlite3_stmt *st, int col, stats_agg *a) {
    a->count = (uint64_t)sqlite3_column_int64(st, col);
    a->sum_ns = (stats_u128)(uint64_t)sqlite3_column_int64(st, col + 1) << 64
                | (uint64_t)sqlite3_column_int64(st, col + 2);
    a->min_ns = sqlite3_column_int64(st, col + 3);
    a->max_ns = sqlite3_column_int64(st, col + 4);
    a->hits = (uint64_t)sqlite3_column_int64(st, col + 5);
    a->misses = (uint64_t)sqlite3_column_int64(st, col + 6);
}

/* Is (sender, seq) new? Marks it. 1 new, 0 duplicate, -1 error. */
static int sender_claim(sqlite_store *s, const char *sender, uint64_t seq) {
    sqlite3_stmt *get = s->q[Q_SENDER_GET], *put = s->q[Q_SENDER_PUT];
    int rc;

    sqlite3_bind_text(get, 1, sender, -1, SQLITE_STATIC);
    rc = sqlite3_step(get);
    if (rc == SQLITE_ROW && (uint64_t)sqlite3_column_int64(get, 0) >= seq) {
        sqlite3_reset(get);
        return 0;
    }
    sqlite3_reset(get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return -1;
    sqlite3_bind_text(put, 1, sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64(put, 2, (int64_t)seq);
    return step_done(put) == 0 ? 1 : -1;
}

/* Merge one aggregate into its row. 1 if the row is new, 0 if not, -1 on
 * error. */
static int row_merge(sqlite_store *s, const stats_agg *in) {
    sqlite3_stmt *get = s->q[Q_ROW_GET], *put = s->q[Q_ROW_PUT];
    stats_agg a;
    int rc, fresh;

    memset(&a, 0, sizeof(a));
    a.n = in->n;
    sqlite3_bind_int(get, 1, in->n);
    rc = sqlite3_step(get);
    if (rc == SQLITE_ROW) row_read(get, 0, &a);
    sqlite3_reset(get);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return -1;
    fresh = rc == SQLITE_DONE;
    stats_agg_merge(&a, in);
    sqlite3_bind_int(put, 1, a.n);
    sqlite3_bind_int64(put, 2, (int64_t)a.count);
    sqlite3_bind_int64(put, 3, (int64_t)(uint64_t)(a.sum_ns >> 64));
    sqlite3_bind_int64(put, 4, (int64_t)(uint64_t)a.sum_ns);
    sqlite3_bind_int64(put, 5, a.min_ns);
    sqlite3_bind_int64(put, 6, a.max_ns);
    sqlite3_bind_int64(put, 7, (int64_t)a.hits);
    sqlite3_bind_int64(put, 8, (int64_t)a.misses);
    return step_done(put) == 0 ? fresh : -1;
}

/* The streams aggregate into *st (zero when there is none yet); 0 or -1. */
static int streams_read(sqlite_store *s, stats_streams *st) {
    sqlite3_stmt *get = s->q[Q_STREAMS_GET];
    int rc = sqlite3_step(get);

    memset(st, 0, sizeof(*st));
    if (rc == SQLITE_ROW) {
        st->count = (uint64_t)sqlite3_column_int64(get, 0);
        st->items = (uint64_t)sqlite3_column_int64(get, 1);
        st->sum_ns = (uint64_t)sqlite3_column_int64(get, 2);
        st->incomplete = (uint64_t)sqlite3_column_int64(get, 3);
    }
    sqlite3_reset(get);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Add `in` to the streams aggregate; 0 or -1. */
static int streams_merge(sqlite_store *s, const stats_streams *in) {
    sqlite3_stmt *put = s->q[Q_STREAMS_PUT];
    stats_streams st;

    if (streams_read(s, &st) != 0) return -1;
    stats_streams_merge(&st, in);
    sqlite3_bind_int64(put, 1, (int64_t)st.count);
    sqlite3_bind_int64(put, 2, (int64_t)st.items);
    sqlite3_bind_int64(put, 3, (int64_t)st.sum_ns);
    sqlite3_bind_int64(put, 4, (int64_t)st.incomplete);
    return step_done(put);
}

static int64_t row_count(sqlite_store *s) {
    sqlite3_stmt *st = s->q[Q_COUNT];
    int64_t count = -1;

    if (sqlite3_step(st) == SQLITE_ROW) count = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return count;
}

/* Inside the transaction. */
static stats_result apply_txn(sqlite_store *s, const char *sender,
                              uint64_t seq, const stats_agg *aggs, size_t len,
                              const stats_streams *streams,
                              uint64_t max_tracked) {
    size_t i, fresh = 0;
    int rc;

    if (sender != NULL) {
        rc = sender_claim(s, sender, seq);
        if (rc <= 0) return rc == 0 ? STATS_DUPLICATE : STATS_UNAVAILABLE;
    }
    for (i = 0; i < len; i++) {
        rc = row_merge(s, &aggs[i]);
        if (rc < 0) return STATS_UNAVAILABLE;
        fresh += (size_t)rc;
    }
    if (streams != NULL && streams_merge(s, streams) != 0)
        return STATS_UNAVAILABLE;
    if (fresh && max_tracked) {
        int64_t count = row_count(s);
        if (count < 0) return STATS_UNAVAILABLE;
        if ((uint64_t)count > max_tracked) return STATS_FULL;
    }
    return STATS_OK;
}

static stats_result sqlite_apply(stats_backend *b, const char *sender,
                                 uint64_t seq, const stats_agg *aggs,
                                 size_t len, const stats_streams *streams,
                                 uint64_t max_tracked) {
    sqlite_store *s = (sqlite_store *)b;
    stats_result res;

    pthread_mutex_lock(&s->lock);
    if (step_done(s->q[Q_BEGIN]) != 0) {
        log_failure(s, "begin");
        pthread_mutex_unlock(&s->lock);
        return STATS_UNAVAILABLE;
    }
    res = apply_txn(s, sender, seq, aggs, len, streams, max_tracked);
    if (res == STATS_OK && step_done(s->q[Q_COMMIT]) != 0) {
        log_failure(s, "commit");
        res = STATS_UNAVAILABLE;
    } else if (res == STATS_UNAVAILABLE) {
        log_failure(s, "apply");
    }
    if (res != STATS_OK) (void)step_done(s->q[Q_ROLLBACK]);
    else atomic_fetch_add(&s->base.version, 1);
    pthread_mutex_unlock(&s->lock);
    return res;
}

static stats_result sqlite_snapshot(stats_backend *b, stats_snapshot *out) {
    sqlite_store *s = (sqlite_store *)b;
    sqlite3_stmt *st = s->q[Q_ALL];
    stats_result res = STATS_OK;
    size_t cap = 0;
    stats_agg a;
    int rc;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->lock);
    out->version = atomic_load(&s->base.version);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        a.n = sqlite3_column_int(st, 0);
        row_read(st, 1, &a);
        stats_snapshot_push(out, &cap, &a);
    }
    if (res == STATS_OK && rc != SQLITE_DONE) {
        log_failure(s, "snapshot");
        res = STATS_UNAVAILABLE;
    }
    sqlite3_reset(st);
    if (res == STATS_OK && streams_read(s, &out->streams) != 0) {
        log_failure(s, "snapshot");
        res = STATS_UNAVAILABLE;
    }
    pthread_mutex_unlock(&s->lock);
    if (res != STATS_OK) stats_snapshot_free(out);
    return res;
}

static void sqlite_free(stats_backend *b) {
    sqlite_store *s = (sqlite_store *)b;
    int i;

    for (i = 0; i < Q_MAX; i++) sqlite3_finalize(s->q[i]);
    sqlite3_close(s->db);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static const stats_backend_ops sqlite_ops = {
    sqlite_apply, sqlite_snapshot, NULL, sqlite_free,
};

/* Check and set PRAGMA user_version; -1 with err for a newer schema. */
static int migrate(sqlite_store *s, char *err, size_t cap) {
    sqlite3_stmt *st;
    int version = -1;
    char sql[64];

    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL)
        != SQLITE_OK) {
        goto failed;
    }
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > SCHEMA_VERSION) {
        snprintf(err, cap, "schema version %d is newer than this "
                 "stats-service knows (%d)", version, SCHEMA_VERSION);
        return -1;
    }
    snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", SCHEMA_VERSION);
    if (sqlite3_exec(s->db, schema, NULL, NULL, NULL) != SQLITE_OK
        || sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        goto failed;
    }
    return 0;
failed:
    snprintf(err, cap, "%s", sqlite3_errmsg(s->db));
    return -1;
}

stats_backend *stats_sqlite_open(const char *path, char *err, size_t cap) {
    sqlite_store *s = xcalloc(1, sizeof(*s));
    int i;

    s->base.ops = &sqlite_ops;
    pthread_mutex_init(&s->lock, NULL);
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE
                        | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL)
        != SQLITE_OK) {
        goto failed;
    }
    sqlite3_busy_timeout(s->db, 5000);
    if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL;"
                     "PRAGMA synchronous = NORMAL;", NULL, NULL, NULL)
        != SQLITE_OK) {
        goto failed;
    }
    if (migrate(s, err, cap) != 0) {
        sqlite_free(&s->base);
        return NULL;
    }
    for (i = 0; i < Q_MAX; i++) {
        if (sqlite3_prepare_v3(s->db, queries[i], -1,
                               SQLITE_PREPARE_PERSISTENT, &s->q[i], NULL)
            != SQLITE_OK) {
            goto failed;
        }
    }
    return &s->base;
failed:
    snprintf(err, cap, "%s", s->db ? sqlite3_errmsg(s->db) : "out of memory");
    sqlite_free(&s->base);
    return NULL;
}
