/* stats_senders.h - RecordBatch dedup state: per sender, the highest batch
 * seq applied, in a bounded table.
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
#ifndef STATS_SENDERS_H
#define STATS_SENDERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Separates the owner from the sender name in a key. */
#define STATS_OWNER_SEP '\x1f'

typedef struct stats_senders stats_senders;
typedef struct stats_sender stats_sender;

/* A table remembering at most `max` senders (at least 1). */
stats_senders *stats_senders_create(size_t max);
void stats_senders_free(stats_senders *t);

/* Find or add `name` and make it the most recently seen sender of its
 * owner. Adding may forget a sender (see above). */
stats_sender *stats_senders_touch(stats_senders *t, const char *name);

/* True when a batch with this seq (or a later one) was applied. */
bool stats_sender_applied(const stats_sender *s, uint64_t seq);

/* Remember that the batch `seq` has been applied. */
void stats_sender_mark(stats_sender *s, uint64_t seq);

size_t stats_senders_count(const stats_senders *t);

#endif
