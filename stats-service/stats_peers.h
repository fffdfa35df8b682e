/* stats_peers.h - RecordBatch dedup state: per sender, the highest batch
 * seq applied, in a bounded table. A stats_peer is one remote sender as
 * this table knows it (not stats_sender: that name is the
 * fibonacci-service's delivery thread).
 *
 * A sender key may name its owner, "owner" STATS_OWNER_SEP "sender" (the
 * stats-service puts the caller's certificate identity, or its address,
 * there), so that one caller's senders are never another's. When the table
 * is full, the least recently seen sender of the owner holding the most
 * senders is forgotten: a caller flooding the table with made-up senders
 * only pushes out its own.
 *
 * Not locked: the store calls it under its own mutex, so that checking a
 * seq, applying the batch and marking the seq are one atomic step. */
#ifndef STATS_PEERS_H
#define STATS_PEERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Separates the owner from the sender name in a key. */
#define STATS_OWNER_SEP '\x1f'

typedef struct stats_peers stats_peers;
typedef struct stats_peer stats_peer;

/* A table remembering at most `max` senders (at least 1). */
stats_peers *stats_peers_create(size_t max);
void stats_peers_free(stats_peers *t);

/* Find or add `name` and make it the most recently seen sender of its
 * owner. Adding may forget a sender (see above). */
stats_peer *stats_peers_touch(stats_peers *t, const char *name);

/* True when a batch with this seq (or a later one) was applied. */
bool stats_peer_applied(const stats_peer *s, uint64_t seq);

/* Remember that the batch `seq` has been applied. */
void stats_peer_mark(stats_peer *s, uint64_t seq);

size_t stats_peers_count(const stats_peers *t);

#endif
