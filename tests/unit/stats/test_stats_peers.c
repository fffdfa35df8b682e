/* test_stats_peers.c - the RecordBatch dedup table on its own: seq
 * semantics, least-recently-seen eviction, the bound. */
#include <check.h>
#include <stdio.h>

#include "../common/testutil.h"
#include "stats_peers.h"

START_TEST(test_seq_semantics) {
    stats_peers *t = stats_peers_create(10);
    stats_peer *s = stats_peers_touch(t, "a");

    ck_assert_ptr_nonnull(s);
    ck_assert(!stats_peer_applied(s, 0));    /* nothing applied yet */
    stats_peer_mark(s, 3);
    ck_assert(stats_peer_applied(s, 0));
    ck_assert(stats_peer_applied(s, 3));
    ck_assert(!stats_peer_applied(s, 4));
    stats_peer_mark(s, 2);                   /* never goes back */
    ck_assert(stats_peer_applied(s, 3));
    stats_peer_mark(s, UINT64_MAX);
    ck_assert(stats_peer_applied(s, UINT64_MAX));
    ck_assert_ptr_eq(stats_peers_touch(t, "a"), s);
    ck_assert_uint_eq(stats_peers_count(t), 1);
    stats_peers_free(t);
}
END_TEST

START_TEST(test_evicts_least_recently_seen) {
    stats_peers *t = stats_peers_create(100);
    char name[16];
    int i;

    for (i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "s%d", i);
        stats_peer_mark(stats_peers_touch(t, name), 1);
    }
    stats_peers_touch(t, "s0");              /* s1 is now the oldest */
    stats_peer_mark(stats_peers_touch(t, "new"), 1);
    ck_assert_uint_eq(stats_peers_count(t), 100);
    ck_assert(stats_peer_applied(stats_peers_touch(t, "s0"), 1));
    ck_assert(stats_peer_applied(stats_peers_touch(t, "s2"), 1));
    /* s1 was forgotten: it comes back as a new sender. */
    ck_assert(!stats_peer_applied(stats_peers_touch(t, "s1"), 1));
    ck_assert_uint_eq(stats_peers_count(t), 100);
    stats_peers_free(t);
}
END_TEST

START_TEST(test_bound_of_one) {
    stats_peers *t = stats_peers_create(0);   /* at least one */

    stats_peer_mark(stats_peers_touch(t, "a"), 5);
    stats_peer_mark(stats_peers_touch(t, "b"), 5);
    ck_assert_uint_eq(stats_peers_count(t), 1);
    ck_assert(stats_peer_applied(stats_peers_touch(t, "b"), 5));
    ck_assert(!stats_peer_applied(stats_peers_touch(t, "a"), 5));
    stats_peers_free(t);
}
END_TEST

/* Owner A's senders survive any number of made-up senders from owner B:
 * a full table evicts the largest owner's oldest sender. */
START_TEST(test_flood_evicts_the_flooder) {
    stats_peers *t = stats_peers_create(100);
    char name[32];
    int i;

    for (i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "A\x1f" "s%d", i);
        stats_peer_mark(stats_peers_touch(t, name), 7);
    }
    for (i = 0; i < 100000; i++) {
        snprintf(name, sizeof(name), "B\x1f" "fake%d", i);
        stats_peer_mark(stats_peers_touch(t, name), 1);
    }
    ck_assert_uint_eq(stats_peers_count(t), 100);
    for (i = 0; i < 10; i++) {
        snprintf(name, sizeof(name), "A\x1f" "s%d", i);
        ck_assert(stats_peer_applied(stats_peers_touch(t, name), 7));
    }
    /* B keeps its 90 most recent */
    ck_assert(stats_peer_applied(stats_peers_touch(t, "B\x1f" "fake99999"), 1));
    ck_assert(!stats_peer_applied(stats_peers_touch(t, "B\x1f" "fake0"), 1));
    stats_peers_free(t);
}
END_TEST

/* The same sender name under two owners is two senders. */
START_TEST(test_owners_do_not_share_senders) {
    stats_peers *t = stats_peers_create(10);

    stats_peer_mark(stats_peers_touch(t, "A\x1f" "x"), 100);
    ck_assert(!stats_peer_applied(stats_peers_touch(t, "B\x1f" "x"), 1));
    ck_assert_uint_eq(stats_peers_count(t), 2);
    stats_peers_free(t);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_seq_semantics,
                            test_evicts_least_recently_seen,
                            test_bound_of_one,
                            test_flood_evicts_the_flooder,
                            test_owners_do_not_share_senders};
    return run_suite(one_case_suite("stats_peers", tests, 5));
}
