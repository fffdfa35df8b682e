/* stats_view.c - reference-counted GetStats answers keyed by store version.
 *
 * A view is immutable once built, its response packed once into a
 * reference-counted gRPC slice that every call sending it shares.
 * The cache holds one reference to the latest view; each caller holds one
 * while it sends. A newer view replaces the cached one, and the old one is
 * freed when its last caller lets go. */
#include <stdlib.h>

#include "mem.h"
#include "stats_proto.h"
#include "stats_view.h"

struct stats_view {
    int                  refs;      /* guarded by stats_views.lock */
    stats_snapshot       snap;
    Stats__StatsResponse resp;
    grpc_slice           packed;    /* resp, packed */
};

void stats_views_init(stats_views *vs) {
    pthread_mutex_init(&vs->lock, NULL);
    vs->latest = NULL;
}

static void view_free(stats_view *v) {
    grpc_slice_unref(v->packed);
    stats_response_release(&v->resp);
    stats_snapshot_free(&v->snap);
    free(v);
}

void stats_views_destroy(stats_views *vs) {
    if (vs->latest != NULL) view_free(vs->latest);
    vs->latest = NULL;
    pthread_mutex_destroy(&vs->lock);
}

/* Build a view of the store now; NULL with *why when it can't. */
static stats_view *view_build(stats_store *store, stats_result *why) {
    stats_view *v = xcalloc(1, sizeof(*v));

    v->packed = grpc_empty_slice();
    stats__stats_response__init(&v->resp);
    *why = stats_store_snapshot(store, &v->snap);
    if (*why != STATS_OK) {
        free(v);
        return NULL;
    }
    stats_response_fill(&v->resp, &v->snap);
    v->packed = grpc_slice_malloc(
        protobuf_c_message_get_packed_size(&v->resp.base));
    protobuf_c_message_pack(&v->resp.base, GRPC_SLICE_START_PTR(v->packed));
    v->refs = 1;    /* the caller's */
    *why = STATS_OK;
    return v;
}

stats_view *stats_views_get(stats_views *vs, stats_store *store,
                            stats_result *why) {
    uint64_t version = stats_store_version(store);
    stats_view *v, *old = NULL;

    pthread_mutex_lock(&vs->lock);
    v = vs->latest;
    if (v != NULL && v->snap.version == version) v->refs++;
    else v = NULL;
    pthread_mutex_unlock(&vs->lock);
    if (v != NULL) return v;

    /* Built outside the lock: concurrent builders each get their own, and
     * the newest is kept. */
    v = view_build(store, why);
    if (v == NULL) return NULL;
    pthread_mutex_lock(&vs->lock);
    if (vs->latest == NULL || vs->latest->snap.version < v->snap.version) {
        old = vs->latest;
        vs->latest = v;
        v->refs++;                  /* the cache's */
        if (old != NULL && --old->refs > 0) old = NULL;
    }
    pthread_mutex_unlock(&vs->lock);
    if (old != NULL) view_free(old);
    return v;
}

void stats_view_release(stats_views *vs, stats_view *v) {
    int left;

    pthread_mutex_lock(&vs->lock);
    left = --v->refs;
    pthread_mutex_unlock(&vs->lock);
    if (left == 0) view_free(v);
}

const Stats__StatsResponse *stats_view_response(const stats_view *v) {
    return &v->resp;
}

const stats_snapshot *stats_view_snapshot(const stats_view *v) {
    return &v->snap;
}

grpc_slice stats_view_packed(const stats_view *v) {
    return v->packed;
}
