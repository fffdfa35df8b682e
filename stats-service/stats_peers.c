/* stats_peers.c - the bounded sender -> highest-applied-seq table behind
 * RecordBatch's at-most-once guarantee.
 *
 * A sender sends batch k+1 only after k was acknowledged and retries the
 * same (sender, seq) after a timeout, so the highest seq applied is all we
 * need per sender. Senders are a uthash keyed by the whole key; each owner
 * (the part of the key before STATS_OWNER_SEP, "" if none) keeps its
 * senders in a list, least recently seen first, and a count. Memory is
 * bounded: beyond `max` senders, the oldest sender of the largest owner is
 * forgotten, so a flood of made-up senders evicts the flooder's own. A
 * forgotten sender that later retries an old batch would have it counted
 * again. Owners are few (certificate identities, client addresses): finding
 * the largest one is a scan of them. */
#include <stdlib.h>
#include <string.h>
#include "mem.h"          /* first: uthash allocates through it */
#include <uthash.h>
#include <utlist.h>

#include "stats_peers.h"

typedef struct stats_owner stats_owner;

struct stats_peer {
    char          *name;        /* the whole key */
    bool           has_seq;     /* false until a first batch is applied */
    uint64_t       seq;         /* highest seq applied */
    stats_owner   *owner;
    stats_peer  *prev, *next; /* the owner's list */
    UT_hash_handle hh;
};

struct stats_owner {
    char          *name;
    size_t         count;
    stats_peer  *list;        /* least recently seen first */
    UT_hash_handle hh;
};

struct stats_peers {
    stats_peer *senders;      /* uthash by key */
    stats_owner  *owners;       /* uthash by owner name */
    size_t        max;
};

stats_peers *stats_peers_create(size_t max) {
    stats_peers *t = xcalloc(1, sizeof(*t));
    t->max = max ? max : 1;
    return t;
}

/* Forget one sender, and its owner once it has none left. */
static void forget(stats_peers *t, stats_peer *s) {
    stats_owner *o = s->owner;

    HASH_DEL(t->senders, s);
    DL_DELETE(o->list, s);
    free(s->name);
    free(s);
    if (--o->count == 0) {
        HASH_DEL(t->owners, o);
        free(o->name);
        free(o);
    }
}

void stats_peers_free(stats_peers *t) {
    stats_peer *s, *tmp;

    if (t == NULL) return;
    HASH_ITER(hh, t->senders, s, tmp) forget(t, s);
    free(t);
}

/* Forget the largest owner's oldest senders until there is room for one. */
static void evict(stats_peers *t) {
    while (HASH_COUNT(t->senders) >= t->max) {
        stats_owner *o, *tmp, *largest = NULL;
        HASH_ITER(hh, t->owners, o, tmp) {
            if (largest == NULL || o->count > largest->count) largest = o;
        }
        forget(t, largest->list);
    }
}

/* The owner of `name` (its part before the separator), added if new. */
static stats_owner *owner_of(stats_peers *t, const char *name) {
    const char *sep = strchr(name, STATS_OWNER_SEP);
    size_t len = sep ? (size_t)(sep - name) : 0;
    stats_owner *o;

    HASH_FIND(hh, t->owners, name, len, o);
    if (o != NULL) return o;
    o = xcalloc(1, sizeof(*o));
    o->name = xmemdupz(name, len);
    HASH_ADD_KEYPTR(hh, t->owners, o->name, len, o);
    return o;
}

stats_peer *stats_peers_touch(stats_peers *t, const char *name) {
    stats_peer *s;
    stats_owner *o;
    size_t len = strlen(name);

    HASH_FIND(hh, t->senders, name, len, s);
    if (s != NULL) {
        DL_DELETE(s->owner->list, s);     /* now the most recently seen */
        DL_APPEND(s->owner->list, s);
        return s;
    }

    s = xcalloc(1, sizeof(*s));
    s->name = xstrdup(name);
    evict(t);
    o = owner_of(t, name);
    s->owner = o;
    o->count++;
    DL_APPEND(o->list, s);
    HASH_ADD_KEYPTR(hh, t->senders, s->name, len, s);
    return s;
}

bool stats_peer_applied(const stats_peer *s, uint64_t seq) {
    return s->has_seq && seq <= s->seq;
}

void stats_peer_mark(stats_peer *s, uint64_t seq) {
    if (!s->has_seq || seq > s->seq) s->seq = seq;
    s->has_seq = true;
}

size_t stats_peers_count(const stats_peers *t) {
    return HASH_COUNT(t->senders);
}
