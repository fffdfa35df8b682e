/* stats_proto.h - conversion between the stats.proto messages and the
 * store's own types: records and streams in, snapshots out (with int32
 * saturation).
 * No gRPC here, so the unit tests check the wire shape directly. */
#ifndef STATS_PROTO_H
#define STATS_PROTO_H

#include <stdint.h>

#include "stats/stats.pb-c.h"
#include "stats_agg.h"
#include "stats_query.h"
#include "stats_store.h"

/* v, or INT32_MAX when v does not fit an int32 field. */
int32_t stats_sat_int32(uint64_t v);

/* CACHE_HIT / CACHE_MISS count; anything else (unspecified, bypass, values
 * from a newer proto) counts as neither. */
stats_cache stats_cache_from_proto(Stats__CacheResult c);

void stats_record_from_proto(stats_record *out, const Stats__RecordRequest *m);

/* The length on the wire of RecordBatchRequest.sender in a packed request
 * (its last occurrence, the one protobuf keeps), 0 when absent, -1 when the
 * bytes do not parse. protobuf-c hands strings over NUL-terminated, so a
 * sender with a NUL byte in it looks shorter than this. */
long long stats_batch_sender_wire_len(const uint8_t *data, size_t len);

/* An aggregated entry as a store aggregate. Returns NULL, or what is wrong
 * with it ("n must be >= 0", ...) with *out undefined. */
const char *stats_agg_from_proto(stats_agg *out,
                                 const Stats__AggregatedRecord *m);

/* A batch's streams aggregate (m may be NULL: none, all zero) into *out.
 * Returns NULL, or what is wrong with it. */
const char *stats_streams_from_proto(stats_streams *out,
                                     const Stats__StreamsRecord *m);

/* Fill *resp (already initialised with STATS__STATS_RESPONSE__INIT) from a
 * snapshot. The repeated field is allocated in one block; release it with
 * stats_response_release(). */
void stats_response_fill(Stats__StatsResponse *resp,
                         const stats_snapshot *snap);
void stats_response_release(Stats__StatsResponse *resp);

/* A Query request as a stats_query pointing into m (which must outlive
 * it). */
void stats_query_from_proto(stats_query *out, const Stats__StatsQuery *m);

/* Fill *resp (initialised with STATS__STATS_PAGE__INIT) from a page of the
 * snapshot snap (its total and streams); free with stats_page_release(). */
void stats_page_fill(Stats__StatsPage *resp, const stats_page *page,
                     const stats_snapshot *snap);
void stats_page_release(Stats__StatsPage *resp);

#endif
