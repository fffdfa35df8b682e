/* stats_query.c - filter, order and page a snapshot (rows sorted by n).
 *
 * A page token is the position of the last entry handed out, in the
 * query's order: "order.desc.key.n", key being the count or the average's
 * bit pattern. The next page starts at the first entry after it, so
 * entries recorded or changed between pages move the others by nothing:
 * ordered by n, every entry present at both calls is seen exactly once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "stats_query.h"

const char *stats_query_check(const stats_query *q) {
    size_t i;

    if (q->n_ns > STATS_QUERY_MAX_NS) return "at most 1000 n may be listed";
    for (i = 0; i < q->n_ns; i++) {
        if (q->ns[i] < 0) return "n must be >= 0";
    }
    if (q->has_range && q->from < 0) return "range.from must be >= 0";
    if (q->has_range && q->to < q->from)
        return "range.to must be >= range.from";
    if (q->limit > STATS_QUERY_MAX_LIMIT) return "limit must be <= 10000";
    if (q->top > STATS_QUERY_MAX_LIMIT) return "top must be <= 10000";
    if (q->top > 0 && q->token != NULL && q->token[0] != '\0')
        return "top returns one page: no page_token";
    if (q->order > STATS_ORDER_AVERAGE) return "unknown order_by";
    return NULL;
}

/* The row's sort key in this order (n itself breaks ties). */
static uint64_t key_of(const stats_row *r, stats_order order) {
    uint64_t bits;

    switch (order) {
    case STATS_ORDER_COUNT:
        return r->count;
    case STATS_ORDER_AVERAGE:
        memcpy(&bits, &r->average_ms, sizeof(bits));  /* >= 0: ordered */
        return bits;
    default:
        return (uint64_t)(uint32_t)r->n;
    }
}

/* <0, 0, >0 as (key, n) comes before, at or after the row in the order. */
static int cmp_pos(uint64_t key, int32_t n, const stats_row *r,
                   stats_order order, bool desc) {
    uint64_t rk = key_of(r, order);
    int c = key < rk ? -1 : key > rk;

    if (desc) c = -c;
    if (c == 0) c = (n > r->n) - (n < r->n);
    return c;
}

static int by_order(const void *a, const void *b, void *arg) {
    const stats_row *x = *(const stats_row *const *)a;
    const stats_row *y = *(const stats_row *const *)b;
    const stats_query *q = arg;

    return cmp_pos(key_of(x, q->order), x->n, y, q->order, q->desc);
}

static int cmp_int32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* The first row with n >= want in rows[lo..hi). */
static size_t lower_bound(const stats_snapshot *snap, int32_t want) {
    size_t lo = 0, hi = snap->len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (snap->rows[mid].n < want) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static bool in_range(const stats_query *q, int32_t n) {
    return !q->has_range || (n >= q->from && n <= q->to);
}

/* Every row passing the filters, in n order; count in *len. */
static const stats_row **matching(const stats_snapshot *snap,
                                  const stats_query *q, size_t *len) {
    const stats_row **rows;
    int32_t *ns = NULL;
    size_t i, lo, hi, k = 0;

    rows = xmalloc((snap->len ? snap->len : 1) * sizeof(*rows));
    if (q->n_ns > 0) {
        ns = xmalloc(q->n_ns * sizeof(*ns));
        memcpy(ns, q->ns, q->n_ns * sizeof(*ns));
        qsort(ns, q->n_ns, sizeof(*ns), cmp_int32);
        for (i = 0; i < q->n_ns; i++) {
            if (i > 0 && ns[i] == ns[i - 1]) continue;
            lo = lower_bound(snap, ns[i]);
            if (lo < snap->len && snap->rows[lo].n == ns[i]
                && in_range(q, ns[i])) {
                rows[k++] = &snap->rows[lo];
            }
        }
        free(ns);
    } else {
        lo = q->has_range ? lower_bound(snap, q->from) : 0;
        hi = q->has_range && q->to < INT32_MAX ? lower_bound(snap, q->to + 1)
                                               : snap->len;
        for (i = lo; i < hi; i++) rows[k++] = &snap->rows[i];
    }
    *len = k;
    return rows;
}

/* Parse a token of this order; -1 if it is not one. */
static int token_parse(const char *t, const stats_query *q, uint64_t *key,
                       int32_t *n) {
    unsigned order, desc;
    unsigned long long k;
    long nn;
    int used = 0;

    if (sscanf(t, "%u.%u.%llx.%ld%n", &order, &desc, &k, &nn, &used) != 4
        || t[used] != '\0' || order != (unsigned)q->order
        || desc != (unsigned)q->desc || nn < 0 || nn > INT32_MAX) {
        return -1;
    }
    *key = k;
    *n = (int32_t)nn;
    return 0;
}

/* The token of the position after row `last`. */
static void next_token(stats_page *out, const stats_row *last,
                       const stats_query *q) {
    snprintf(out->next, sizeof(out->next), "%u.%u.%llx.%d",
             (unsigned)q->order, (unsigned)q->desc,
             (unsigned long long)key_of(last, q->order), (int)last->n);
}

/* In ascending n without a list of n, the matching rows are a slice of the
 * snapshot and a page is found by binary search: a walk through a table of
 * N entries in pages costs O(N), not O(N) a page. */
static int run_slice(const stats_snapshot *snap, const stats_query *q,
                     size_t limit, stats_page *out) {
    size_t lo, hi, start, i;
    uint64_t key;
    int32_t n;

    lo = q->has_range ? lower_bound(snap, q->from) : 0;
    hi = q->has_range && q->to < INT32_MAX ? lower_bound(snap, q->to + 1)
                                           : snap->len;
    start = lo;
    if (q->token != NULL && q->token[0] != '\0') {
        if (token_parse(q->token, q, &key, &n) != 0) return -1;
        i = n < INT32_MAX ? lower_bound(snap, n + 1) : snap->len;
        if (i > start) start = i;
        if (start > hi) start = hi;
    }
    out->matched = hi - lo;
    if (limit > hi - start) limit = hi - start;
    out->rows = xmalloc((limit ? limit : 1) * sizeof(*out->rows));
    for (i = 0; i < limit; i++) out->rows[i] = &snap->rows[start + i];
    out->len = limit;
    if (!q->top && start + limit < hi) next_token(out, out->rows[limit - 1], q);
    return 0;
}

int stats_query_run(const stats_snapshot *snap, const stats_query *q,
                    stats_page *out) {
    size_t start = 0, len, limit;
    const stats_row **rows;
    uint64_t key;
    int32_t n;

    memset(out, 0, sizeof(*out));
    limit = q->top ? q->top
                   : q->limit ? q->limit : STATS_QUERY_DEFAULT_LIMIT;
    if (q->order == STATS_ORDER_N && !q->desc && q->n_ns == 0)
        return run_slice(snap, q, limit, out);

    rows = matching(snap, q, &len);
    out->matched = len;
    if (q->order != STATS_ORDER_N || q->desc) {
        qsort_r(rows, len, sizeof(*rows), by_order, (void *)q);
    }
    if (q->token != NULL && q->token[0] != '\0') {
        if (token_parse(q->token, q, &key, &n) != 0) {
            free(rows);
            return -1;
        }
        while (start < len
               && cmp_pos(key, n, rows[start], q->order, q->desc) >= 0)
            start++;
    }
    if (limit > len - start) limit = len - start;
    memmove(rows, rows + start, limit * sizeof(*rows));
    out->rows = rows;
    out->len = limit;
    if (!q->top && start + limit < len) next_token(out, rows[limit - 1], q);
    return 0;
}

void stats_page_free(stats_page *p) {
    free(p->rows);
    memset(p, 0, sizeof(*p));
}
