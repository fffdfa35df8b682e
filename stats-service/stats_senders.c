/* stats_senders.c - the bounded sender -> highest-applied-seq table behind
 * RecordBatch's at-most-once guarantee.
 *
 * A sender sends batch k+1 only after k was acknowledged and retries the
 * same (sender, seq) after a timeout, so the highest seq applied is all we
 * need per sender. The table is a uthash keyed by the sender string, kept in
 * least-recently-seen order (a touched sender is moved to the end of
 * uthash's insertion list). Memory is bounded: beyond `max` senders the least
 * recently seen one is forgotten. A forgotten sender that later retries an
 * old batch would have it counted again; with the default 10000 senders
 * that needs 10000 other senders to report between a send and its retry. */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "stats_senders.h"

struct stats_sender {
    char          *name;
    bool           has_seq;     /* false until a first batch is applied */
    uint64_t       seq;         /* highest seq applied */
    UT_hash_handle hh;
};

struct stats_senders {
    stats_sender *head;         /* uthash table, least recently seen first */
    size_t        max;
};

stats_senders *stats_senders_create(size_t max) {
    stats_senders *t = calloc(1, sizeof(*t));
    if (t == NULL) return NULL;
    t->max = max ? max : 1;
    return t;
}

static void sender_free(stats_sender *s) {
    free(s->name);
    free(s);
}

void stats_senders_free(stats_senders *t) {
    stats_sender *s, *tmp;

    if (t == NULL) return;
    HASH_ITER(hh, t->head, s, tmp) {
        HASH_DEL(t->head, s);
        sender_free(s);
    }
    free(t);
}

/* Forget the least recently seen senders until there is room for one. */
static void evict(stats_senders *t) {
    while (HASH_COUNT(t->head) >= t->max) {
        stats_sender *oldest = t->head;
        HASH_DEL(t->head, oldest);
        sender_free(oldest);
    }
}

stats_sender *stats_senders_touch(stats_senders *t, const char *name) {
    stats_sender *s;
    size_t len = strlen(name);

    HASH_FIND(hh, t->head, name, len, s);
    if (s != NULL) {
        /* Re-insert to move it to the end: the most recently seen. */
        HASH_DEL(t->head, s);
        HASH_ADD_KEYPTR(hh, t->head, s->name, len, s);
        return s;
    }

    s = calloc(1, sizeof(*s));
    if (s == NULL) return NULL;
    s->name = strdup(name);
    if (s->name == NULL) {
        free(s);
        return NULL;
    }
    evict(t);
    HASH_ADD_KEYPTR(hh, t->head, s->name, len, s);
    return s;
}

bool stats_sender_applied(const stats_sender *s, uint64_t seq) {
    return s->has_seq && seq <= s->seq;
}

void stats_sender_mark(stats_sender *s, uint64_t seq) {
    if (!s->has_seq || seq > s->seq) s->seq = seq;
    s->has_seq = true;
}

size_t stats_senders_count(const stats_senders *t) {
    return HASH_COUNT(t->head);
}
