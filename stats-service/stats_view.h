/* stats_view.h - the GetStats answer, built once per store version and
 * shared by every call that asks before the store changes again.
 *
 * Building an answer for 10000 distinct n (copy, sort, convert) costs about
 * as much as sending it; a dashboard polling an idle store, or many callers
 * at once, then pay for one build. */
#ifndef STATS_VIEW_H
#define STATS_VIEW_H

#include <grpc/slice.h>
#include <pthread.h>

#include "stats/stats.pb-c.h"
#include "stats_store.h"

typedef struct stats_view stats_view;

/* The newest view, guarded by its own lock (never the store's). */
typedef struct {
    pthread_mutex_t lock;
    stats_view     *latest;
} stats_views;

void stats_views_init(stats_views *vs);
void stats_views_destroy(stats_views *vs);

/* A view of the store as it is now: the cached one when the store has not
 * changed since it was built, else a new one. NULL, with the reason in
 * *why (STATS_UNAVAILABLE), when none could be built.
 * Hand it back with stats_view_release(). */
stats_view *stats_views_get(stats_views *vs, stats_store *store,
                            stats_result *why);
void stats_view_release(stats_views *vs, stats_view *v);

const Stats__StatsResponse *stats_view_response(const stats_view *v);
const stats_snapshot *stats_view_snapshot(const stats_view *v);

/* The response packed once, shared (by reference) by every call that sends
 * this view: packing 10000 entries costs far more than the rest of a call. */
grpc_slice stats_view_packed(const stats_view *v);

#endif
