/* store_pg.c - the "postgresql://" store (libpq): for when users outgrow one
 * machine. Several stats-service instances on one database are one view.
 *
 * Each call is one transaction on the instance's connection (one, under a
 * mutex): claim (sender, seq) in fib_senders, then upsert every n's
 * aggregate with one INSERT ... ON CONFLICT DO UPDATE, in n order so that
 * concurrent instances lock rows in one order. A claim that finds a seq at
 * least as new affects no row: the batch is a duplicate, rolled back. The
 * row lock taken by the claim makes a second instance applying the same
 * batch wait for the first to commit, then see it: exactly once across
 * instances, restarts and retries. Counters are NUMERIC (exact; saturated
 * to 64 bits when read). A connection found broken is reset on the next
 * call; until that works, calls answer UNAVAILABLE. The streams aggregate
 * is the one row of fib_streams, updated in the batch's transaction. */
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "stats_backend.h"

/* 2 added fib_streams; a version 1 database gains it when opened. */
#define SCHEMA_VERSION 2

/* Created under an advisory lock, so instances starting together don't
 * race on CREATE TABLE. */
static const char schema[] =
    "BEGIN;"
    "SELECT pg_advisory_xact_lock(7023514563);"
    "CREATE TABLE IF NOT EXISTS fib_schema (version integer NOT NULL);"
    "CREATE TABLE IF NOT EXISTS fib_stats ("
    " n integer PRIMARY KEY, count numeric NOT NULL, sum_ns numeric NOT NULL,"
    " min_ns bigint NOT NULL, max_ns bigint NOT NULL,"
    " hits numeric NOT NULL, misses numeric NOT NULL);"
    "CREATE TABLE IF NOT EXISTS fib_senders ("
    " name text PRIMARY KEY, seq numeric NOT NULL);"
    "CREATE TABLE IF NOT EXISTS fib_streams ("
    " id integer PRIMARY KEY CHECK (id = 1), count numeric NOT NULL,"
    " items numeric NOT NULL, sum_ns numeric NOT NULL,"
    " incomplete numeric NOT NULL);"
    "INSERT INTO fib_streams VALUES (1, 0, 0, 0, 0) ON CONFLICT DO NOTHING;"
    "INSERT INTO fib_schema SELECT 2 WHERE NOT EXISTS"
    " (SELECT 1 FROM fib_schema);"
    "UPDATE fib_schema SET version = 2 WHERE version < 2;"
    "COMMIT;";

static const char claim_sql[] =
    "INSERT INTO fib_senders AS s (name, seq) VALUES ($1, $2)"
    " ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq"
    " WHERE s.seq < EXCLUDED.seq";

static const char upsert_sql[] =
    "INSERT INTO fib_stats AS s"
    " (n, count, sum_ns, min_ns, max_ns, hits, misses)"
    " SELECT * FROM unnest($1::integer[], $2::numeric[], $3::numeric[],"
    " $4::bigint[], $5::bigint[], $6::numeric[], $7::numeric[])"
    " ON CONFLICT (n) DO UPDATE SET count = s.count + EXCLUDED.count,"
    " sum_ns = s.sum_ns + EXCLUDED.sum_ns,"
    " min_ns = LEAST(s.min_ns, EXCLUDED.min_ns),"
    " max_ns = GREATEST(s.max_ns, EXCLUDED.max_ns),"
    " hits = s.hits + EXCLUDED.hits, misses = s.misses + EXCLUDED.misses"
    " RETURNING xmax = 0";

static const char streams_add_sql[] =
    "UPDATE fib_streams SET count = count + $1, items = items + $2,"
    " sum_ns = sum_ns + $3, incomplete = incomplete + $4 WHERE id = 1";

static const char streams_sql[] =
    "SELECT count::text, items::text, sum_ns::text, incomplete::text"
    " FROM fib_streams WHERE id = 1";

static const char all_sql[] =
    "SELECT n, count::text, sum_ns::text, min_ns, max_ns, hits::text,"
    " misses::text FROM fib_stats WHERE count > 0 ORDER BY n";

typedef struct {
    stats_backend   base;
    pthread_mutex_t lock;
    PGconn         *conn;
} pg_store;

static void log_failure(pg_store *s, const char *what, const PGresult *r) {
    const char *msg = r ? PQresultErrorMessage(r) : "";
    log_line l;

    if (msg[0] == '\0') msg = PQerrorMessage(s->conn);
    if (log_begin(&l, LOG_ERROR, "store_failed")) {
        log_str(&l, "store", "postgresql");
        log_str(&l, "op", what);
        log_str(&l, "error", msg);
        log_end(&l);
    }
}

/* Run a statement without parameters; 0 when it succeeded. */
static int exec_ok(pg_store *s, const char *sql, const char *what) {
    PGresult *r = PQexec(s->conn, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

    if (!ok) log_failure(s, what, r);
    PQclear(r);
    return ok ? 0 : -1;
}

/* A growing text buffer for one array literal, "{1,2,3}". */
typedef struct {
    char  *p;
    size_t len, cap;
} text;

/* Append an element; room is kept for the closing "}" and NUL. */
static void text_add(text *t, const char *s) {
    size_t n = strlen(s);

    if (t->len + n + 3 > t->cap) {
        size_t cap = (t->len + n + 3) * 2;
        t->p = xrealloc(t->p, cap);
        t->cap = cap;
    }
    t->p[t->len] = t->len == 0 ? '{' : ',';
    memcpy(t->p + t->len + 1, s, n + 1);
    t->len += n + 1;
}

#define COLS 7

/* The seven array parameters of upsert_sql from len >= 1 aggregates. */
static void arrays(text *t, const stats_agg *aggs, size_t len) {
    char buf[COLS][48];
    size_t i;
    int c;

    for (i = 0; i < len; i++) {
        const stats_agg *a = &aggs[i];
        snprintf(buf[0], sizeof(buf[0]), "%d", (int)a->n);
        snprintf(buf[1], sizeof(buf[1]), "%llu", (unsigned long long)a->count);
        stats_u128_format(a->sum_ns, buf[2]);
        snprintf(buf[3], sizeof(buf[3]), "%lld", (long long)a->min_ns);
        snprintf(buf[4], sizeof(buf[4]), "%lld", (long long)a->max_ns);
        snprintf(buf[5], sizeof(buf[5]), "%llu", (unsigned long long)a->hits);
        snprintf(buf[6], sizeof(buf[6]), "%llu",
                 (unsigned long long)a->misses);
        for (c = 0; c < COLS; c++) {
            text_add(&t[c], buf[c]);
        }
    }
    for (c = 0; c < COLS; c++) {
        t[c].p[t[c].len++] = '}';
        t[c].p[t[c].len] = '\0';
    }
}

/* 1 when (sender, seq) is new and now claimed, 0 for a duplicate, -1 on
 * failure. */
static int claim(pg_store *s, const char *sender, uint64_t seq) {
    const char *params[2];
    char seqbuf[24];
    PGresult *r;
    int rc;

    snprintf(seqbuf, sizeof(seqbuf), "%llu", (unsigned long long)seq);
    params[0] = sender;
    params[1] = seqbuf;
    r = PQexecParams(s->conn, claim_sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        log_failure(s, "claim", r);
        rc = -1;
    } else {
        rc = strcmp(PQcmdTuples(r), "0") != 0;
    }
    PQclear(r);
    return rc;
}

/* Upsert; the number of rows inserted (new n), or -1 on failure. */
static long upsert(pg_store *s, const stats_agg *aggs, size_t len) {
    text t[COLS];
    const char *params[COLS];
    PGresult *r;
    long fresh = -1;
    int c, i;

    memset(t, 0, sizeof(t));
    arrays(t, aggs, len);
    for (c = 0; c < COLS; c++) params[c] = t[c].p;
    r = PQexecParams(s->conn, upsert_sql, COLS, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        log_failure(s, "upsert", r);
    } else {
        fresh = 0;
        for (i = 0; i < PQntuples(r); i++)
            fresh += strcmp(PQgetvalue(r, i, 0), "t") == 0;
    }
    PQclear(r);
    for (c = 0; c < COLS; c++) free(t[c].p);
    return fresh;
}

/* Add to the streams aggregate; 0 or -1. */
static int streams_add(pg_store *s, const stats_streams *st) {
    char buf[4][24];
    const char *params[4] = {buf[0], buf[1], buf[2], buf[3]};
    PGresult *r;
    int rc = 0;

    snprintf(buf[0], sizeof(buf[0]), "%llu", (unsigned long long)st->count);
    snprintf(buf[1], sizeof(buf[1]), "%llu", (unsigned long long)st->items);
    snprintf(buf[2], sizeof(buf[2]), "%llu", (unsigned long long)st->sum_ns);
    snprintf(buf[3], sizeof(buf[3]), "%llu",
             (unsigned long long)st->incomplete);
    r = PQexecParams(s->conn, streams_add_sql, 4, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK
        || strcmp(PQcmdTuples(r), "1") != 0) {
        log_failure(s, "streams", r);
        rc = -1;
    }
    PQclear(r);
    return rc;
}

/* Distinct n in the table, or -1. */
static long long tracked(pg_store *s) {
    PGresult *r = PQexec(s->conn, "SELECT count(*) FROM fib_stats");
    long long count = -1;

    if (PQresultStatus(r) == PGRES_TUPLES_OK)
        count = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    else log_failure(s, "count", r);
    PQclear(r);
    return count;
}

/* Inside the transaction. */
static stats_result apply_txn(pg_store *s, const char *sender, uint64_t seq,
                              const stats_agg *aggs, size_t len,
                              const stats_streams *streams,
                              uint64_t max_tracked) {
    long fresh = 0;
    long long count;
    int rc;

    if (sender != NULL) {
        rc = claim(s, sender, seq);
        if (rc <= 0) return rc == 0 ? STATS_DUPLICATE : STATS_UNAVAILABLE;
    }
    if (len > 0) fresh = upsert(s, aggs, len);
    if (fresh < 0) return STATS_UNAVAILABLE;
    if (streams != NULL && streams_add(s, streams) != 0)
        return STATS_UNAVAILABLE;
    if (fresh > 0 && max_tracked) {
        count = tracked(s);
        if (count < 0) return STATS_UNAVAILABLE;
        if ((uint64_t)count > max_tracked) return STATS_FULL;
    }
    return STATS_OK;
}

/* Connected, or reconnected now; -1 when the database is unreachable. */
static int connected(pg_store *s) {
    if (PQstatus(s->conn) == CONNECTION_OK) return 0;
    PQreset(s->conn);
    if (PQstatus(s->conn) == CONNECTION_OK) return 0;
    log_failure(s, "connect", NULL);
    return -1;
}

/* Run the first statement of a call. A connection that broke while idle
 * (the server restarted) is only found out by using it: then reconnect and
 * try once more, which is safe since nothing of this call was done. */
static PGresult *first(pg_store *s, const char *what, const char *sql,
                       ExecStatusType want) {
    PGresult *r;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        if (connected(s) != 0) return NULL;
        r = PQexec(s->conn, sql);
        if (PQresultStatus(r) == want) return r;
        log_failure(s, what, r);
        PQclear(r);
        if (PQstatus(s->conn) == CONNECTION_OK) break;
    }
    return NULL;
}

static stats_result pg_apply(stats_backend *b, const char *sender,
                             uint64_t seq, const stats_agg *aggs, size_t len,
                             const stats_streams *streams,
                             uint64_t max_tracked) {
    pg_store *s = (pg_store *)b;
    stats_result res = STATS_UNAVAILABLE;
    PGresult *r;

    pthread_mutex_lock(&s->lock);
    r = first(s, "begin", "BEGIN", PGRES_COMMAND_OK);
    if (r != NULL) {
        PQclear(r);
        res = apply_txn(s, sender, seq, aggs, len, streams, max_tracked);
        /* A COMMIT whose answer is lost may have committed: UNAVAILABLE
         * makes the sender retry, and the claim then finds the seq. */
        if (res == STATS_OK && exec_ok(s, "COMMIT", "commit") != 0)
            res = STATS_UNAVAILABLE;
        else if (res != STATS_OK && PQstatus(s->conn) == CONNECTION_OK)
            (void)exec_ok(s, "ROLLBACK", "rollback");
    }
    pthread_mutex_unlock(&s->lock);
    return res;
}

static int agg_from_result(const PGresult *r, int i, stats_agg *a) {
    a->n = (int32_t)strtol(PQgetvalue(r, i, 0), NULL, 10);
    a->min_ns = strtoll(PQgetvalue(r, i, 3), NULL, 10);
    a->max_ns = strtoll(PQgetvalue(r, i, 4), NULL, 10);
    return stats_u64_parse(PQgetvalue(r, i, 1), &a->count) != 0
        || stats_u128_parse(PQgetvalue(r, i, 2), &a->sum_ns) != 0
        || stats_u64_parse(PQgetvalue(r, i, 5), &a->hits) != 0
        || stats_u64_parse(PQgetvalue(r, i, 6), &a->misses) != 0 ? -1 : 0;
}

/* The one row of fib_streams; 0 or -1. It is read in a statement of its
 * own before the per-n rows: a commit landing in between shows in the rows
 * only, until the next snapshot. */
static int streams_from_result(const PGresult *r, stats_streams *st) {
    if (PQntuples(r) != 1) return -1;
    return stats_u64_parse(PQgetvalue(r, 0, 0), &st->count) != 0
        || stats_u64_parse(PQgetvalue(r, 0, 1), &st->items) != 0
        || stats_u64_parse(PQgetvalue(r, 0, 2), &st->sum_ns) != 0
        || stats_u64_parse(PQgetvalue(r, 0, 3), &st->incomplete) != 0
        ? -1 : 0;
}

static stats_result pg_snapshot(stats_backend *b, stats_snapshot *out) {
    pg_store *s = (pg_store *)b;
    stats_result res = STATS_OK;
    PGresult *r = NULL;
    size_t cap = 0;
    stats_agg a;
    int i;

    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&s->lock);
    out->version = atomic_fetch_add(&s->base.version, 1) + 1;
    r = first(s, "snapshot", streams_sql, PGRES_TUPLES_OK);
    if (r != NULL) {
        if (streams_from_result(r, &out->streams) != 0) res = STATS_UNAVAILABLE;
        PQclear(r);
        r = first(s, "snapshot", all_sql, PGRES_TUPLES_OK);
    }
    pthread_mutex_unlock(&s->lock);
    if (r == NULL) return STATS_UNAVAILABLE;
    for (i = 0; i < PQntuples(r) && res == STATS_OK; i++) {
        if (agg_from_result(r, i, &a) != 0) res = STATS_UNAVAILABLE;
        else stats_snapshot_push(out, &cap, &a);
    }
    PQclear(r);
    if (res != STATS_OK) stats_snapshot_free(out);
    return res;
}

/* Other instances write too: no snapshot is ever known to be current. */
static uint64_t pg_version(stats_backend *b) {
    return atomic_fetch_add(&b->version, 1) + 1;
}

static void pg_free(stats_backend *b) {
    pg_store *s = (pg_store *)b;

    PQfinish(s->conn);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

/* "relation already exists, skipping" and the like are not worth a line. */
static void ignore_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

static const stats_backend_ops pg_ops = {
    pg_apply, pg_snapshot, pg_version, pg_free,
};

/* Create the schema, or check the one there. */
static int migrate(pg_store *s, char *err, size_t cap) {
    PGresult *r = PQexec(s->conn, schema);
    int version;

    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, cap, "creating the schema: %s",
                 PQresultErrorMessage(r));
        PQclear(r);
        PQexec(s->conn, "ROLLBACK");
        return -1;
    }
    PQclear(r);
    r = PQexec(s->conn, "SELECT max(version) FROM fib_schema");
    version = PQresultStatus(r) == PGRES_TUPLES_OK
              ? atoi(PQgetvalue(r, 0, 0)) : -1;
    PQclear(r);
    if (version != SCHEMA_VERSION) {
        snprintf(err, cap, "schema version %d, this stats-service knows %d",
                 version, SCHEMA_VERSION);
        return -1;
    }
    return 0;
}

stats_backend *stats_pg_open(const char *conninfo, char *err, size_t cap) {
    pg_store *s = xcalloc(1, sizeof(*s));
    size_t len;

    s->base.ops = &pg_ops;
    pthread_mutex_init(&s->lock, NULL);
    s->conn = PQconnectdb(conninfo);
    if (PQstatus(s->conn) != CONNECTION_OK) {
        snprintf(err, cap, "cannot connect: %s", PQerrorMessage(s->conn));
        len = strlen(err);
        while (len > 0 && (err[len - 1] == '\n' || err[len - 1] == ' '))
            err[--len] = '\0';
        pg_free(&s->base);
        return NULL;
    }
    PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
    if (migrate(s, err, cap) != 0) {
        pg_free(&s->base);
        return NULL;
    }
    return &s->base;
}
