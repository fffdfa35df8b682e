/* stats_query.h - the Query method's work over a snapshot: filter by a list
 * of n and a range, order by n, count or average time, and cut one page
 * (or the top k), with a keyset page token that picks up after the last
 * entry handed out. No gRPC and no protobuf in here. */
#ifndef STATS_QUERY_H
#define STATS_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats_store.h"

#define STATS_QUERY_DEFAULT_LIMIT 100
#define STATS_QUERY_MAX_LIMIT     10000
#define STATS_QUERY_MAX_NS        1000

typedef enum {
    STATS_ORDER_N = 0,
    STATS_ORDER_COUNT,
    STATS_ORDER_AVERAGE
} stats_order;

typedef struct {
    const int32_t *ns;          /* only these n, when n_ns > 0 */
    size_t         n_ns;
    bool           has_range;
    int32_t        from, to;    /* inclusive */
    size_t         limit;       /* 0: STATS_QUERY_DEFAULT_LIMIT */
    stats_order    order;
    bool           desc;
    size_t         top;         /* > 0: the first `top`, no next page */
    const char    *token;       /* "" or NULL: the first page */
} stats_query;

/* One page: pointers into the snapshot (which must outlive it). */
typedef struct {
    const stats_row **rows;
    size_t            len;
    size_t            matched;  /* entries passing the filters */
    char              next[80]; /* "" on the last page */
} stats_page;

/* NULL, or what is wrong with the query (for INVALID_ARGUMENT). */
const char *stats_query_check(const stats_query *q);

/* Run a checked query. Returns 0, or -1 when the page token is not one
 * this order issued. Free with stats_page_free(). */
int stats_query_run(const stats_snapshot *snap, const stats_query *q,
                    stats_page *out);
void stats_page_free(stats_page *p);

#endif
