/* test_fib_cache.c - the Fibonacci value cache: byte budget and LRU
 * eviction, references surviving eviction, values too big to cache, one
 * computation for concurrent misses, hit/miss counters. The compute
 * function is a stub whose value has n digits, so sizes are exact. */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/testutil.h"
#include "fib.h"
#include "fib_cache.h"

static atomic_int computed;
static atomic_int compute_sleep_us;
static atomic_int getters_started;     /* threads about to look up */
static int getters_expected;
static atomic_bool compute_fails;

/* "nnnn..." n times the last digit of n: n bytes long. */
static char *stub_compute(unsigned long n, size_t *len) {
    atomic_fetch_add(&computed, 1);
    int us = atomic_load(&compute_sleep_us);
    if (us > 0) {
        /* Let every concurrent getter reach the cache before finishing. */
        for (int i = 0; i < 500; i++) {
            if (atomic_load(&getters_started) >= getters_expected) break;
            usleep(10000);
        }
        usleep((useconds_t)us);
    }
    if (atomic_load(&compute_fails)) return NULL;
    char *s = malloc(n + 1);
    memset(s, (int)('0' + n % 10), n);
    s[n] = '\0';
    *len = n;
    return s;
}

static void reset_stub(void) {
    atomic_store(&computed, 0);
    atomic_store(&compute_sleep_us, 0);
    atomic_store(&compute_fails, false);
}

/* Look n up, check the value's length and say whether it was a hit. */
static fib_cache_result get_once(fib_cache *c, unsigned long n) {
    fib_cache_result r;
    fib_entry *e = fib_cache_get(c, n, &r);
    ck_assert_ptr_nonnull(e);
    size_t len;
    const char *v = fib_entry_value(e, &len);
    ck_assert_uint_eq(len, n);
    ck_assert_uint_eq(strlen(v), n);
    fib_cache_release(e);
    return r;
}

START_TEST(test_hit_miss_counters) {
    reset_stub();
    fib_cache *c = fib_cache_create(1 << 20, stub_compute);
    ck_assert_int_eq(get_once(c, 100), FIB_CACHE_MISS);
    ck_assert_int_eq(get_once(c, 100), FIB_CACHE_HIT);
    ck_assert_int_eq(get_once(c, 100), FIB_CACHE_HIT);
    ck_assert_int_eq(get_once(c, 200), FIB_CACHE_MISS);
    fib_cache_stats st;
    fib_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.hits, 2);
    ck_assert_uint_eq(st.misses, 2);
    ck_assert_uint_eq(st.computations, 2);
    ck_assert_uint_eq(st.entries, 2);
    ck_assert_uint_eq(st.bytes, fib_cache_cost(100) + fib_cache_cost(200));
    ck_assert_int_eq(computed, 2);
    fib_cache_destroy(c);
}
END_TEST

START_TEST(test_eviction_by_bytes_in_lru_order) {
    reset_stub();
    /* Room for exactly the values of 100, 101 and 102 (n digits each). */
    fib_cache *c = fib_cache_create(fib_cache_cost(100) + fib_cache_cost(101) +
                         fib_cache_cost(102), stub_compute);
    get_once(c, 100);
    get_once(c, 101);
    get_once(c, 102);
    fib_cache_stats st;
    fib_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.entries, 3);
    ck_assert_uint_eq(st.evictions, 0);

    /* Touch 100: now 101 is the least recently used. */
    ck_assert_int_eq(get_once(c, 100), FIB_CACHE_HIT);
    ck_assert_int_eq(get_once(c, 99), FIB_CACHE_MISS);   /* evicts 101 */
    fib_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.evictions, 1);
    ck_assert_uint_eq(st.entries, 3);
    ck_assert_uint_le(st.bytes, fib_cache_cost(100) + fib_cache_cost(101) +
                                fib_cache_cost(102));
    ck_assert_int_eq(get_once(c, 100), FIB_CACHE_HIT);
    ck_assert_int_eq(get_once(c, 102), FIB_CACHE_HIT);
    ck_assert_int_eq(get_once(c, 99), FIB_CACHE_HIT);

    /* 101 was evicted: a miss, which in turn evicts the LRU one, 100. */
    ck_assert_int_eq(get_once(c, 101), FIB_CACHE_MISS);
    ck_assert_int_eq(get_once(c, 102), FIB_CACHE_HIT);
    ck_assert_int_eq(get_once(c, 99), FIB_CACHE_HIT);
    ck_assert_int_eq(get_once(c, 100), FIB_CACHE_MISS);

    /* A value taking the whole budget evicts everything else. */
    size_t whole = fib_cache_cost(100) + fib_cache_cost(101) +
                   fib_cache_cost(102) - fib_cache_cost(0);
    fib_cache_get_stats(c, &st);
    uint64_t ev = st.evictions;
    ck_assert_int_eq(get_once(c, whole), FIB_CACHE_MISS);
    fib_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(st.evictions, ev + 3);
    ck_assert_uint_eq(st.bytes, fib_cache_cost(whole));
    ck_assert_int_eq(get_once(c, whole), FIB_CACHE_HIT);
    fib_cache_destroy(c);
}
END_TEST

START_TEST(test_reference_outlives_eviction) {
    reset_stub();
    fib_cache *c = fib_cache_create(fib_cache_cost(150), stub_compute);
    fib_entry *held = fib_cache_get(c, 150, NULL);
    ck_assert_ptr_nonnull(held);
    get_once(c, 140);                       /* evicts 150 */
    fib_cache_stats st;
    fib_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.evictions, 1);
    size_t len;
    const char *v = fib_entry_value(held, &len);   /* still readable */
    ck_assert_uint_eq(len, 150);
    ck_assert_int_eq(v[0], '0');
    ck_assert_int_eq(v[149], '0');
    fib_cache_release(held);
    fib_cache_destroy(c);
}
END_TEST

START_TEST(test_too_big_is_returned_not_cached) {
    reset_stub();
    fib_cache *c = fib_cache_create(fib_cache_cost(100), stub_compute);
    get_once(c, 100);
    ck_assert_int_eq(get_once(c, 500), FIB_CACHE_MISS);
    ck_assert_int_eq(get_once(c, 500), FIB_CACHE_MISS);
    ck_assert_int_eq(get_once(c, 100), FIB_CACHE_HIT);   /* not evicted */
    fib_cache_stats st;
    fib_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.uncached, 2);
    ck_assert_uint_eq(st.entries, 1);
    ck_assert_uint_eq(st.evictions, 0);
    fib_cache_destroy(c);

    /* A zero budget caches nothing and still answers. */
    c = fib_cache_create(0, stub_compute);
    ck_assert_int_eq(get_once(c, 100), FIB_CACHE_MISS);
    ck_assert_int_eq(get_once(c, 100), FIB_CACHE_MISS);
    fib_cache_destroy(c);
}
END_TEST

START_TEST(test_failed_computation_is_retried) {
    reset_stub();
    fib_cache *c = fib_cache_create(1 << 20, stub_compute);
    atomic_store(&compute_fails, true);
    ck_assert_ptr_null(fib_cache_get(c, 120, NULL));
    atomic_store(&compute_fails, false);
    ck_assert_int_eq(get_once(c, 120), FIB_CACHE_MISS);
    ck_assert_int_eq(computed, 2);
    fib_cache_destroy(c);
}
END_TEST

#define THREADS 8

typedef struct {
    fib_cache       *cache;
    unsigned long    n;
    fib_entry       *got;
    fib_cache_result result;
} getter;

static void *getter_main(void *arg) {
    getter *g = arg;
    atomic_fetch_add(&getters_started, 1);
    g->got = fib_cache_get(g->cache, g->n, &g->result);
    return NULL;
}

/* Run THREADS concurrent lookups of n; returns how many computations. */
static int concurrent_gets(fib_cache *c, unsigned long n, getter *g) {
    pthread_t t[THREADS];
    atomic_store(&computed, 0);
    atomic_store(&getters_started, 0);
    getters_expected = THREADS;
    for (int i = 0; i < THREADS; i++) {
        g[i] = (getter){ c, n, NULL, FIB_CACHE_HIT };
        pthread_create(&t[i], NULL, getter_main, &g[i]);
    }
    for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    return atomic_load(&computed);
}

START_TEST(test_concurrent_misses_compute_once) {
    reset_stub();
    atomic_store(&compute_sleep_us, 100000);   /* all threads arrive first */
    fib_cache *c = fib_cache_create(1 << 20, stub_compute);
    getter g[THREADS];
    ck_assert_int_eq(concurrent_gets(c, 1000, g), 1);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_ptr_eq(g[i].got, g[0].got);    /* the same value */
        ck_assert_int_eq(g[i].result, FIB_CACHE_MISS);
        size_t len;
        fib_entry_value(g[i].got, &len);
        ck_assert_uint_eq(len, 1000);
        fib_cache_release(g[i].got);
    }
    fib_cache_stats st;
    fib_cache_get_stats(c, &st);
    ck_assert_uint_eq(st.computations, 1);
    ck_assert_uint_eq(st.misses, THREADS);
    ck_assert_uint_eq(st.hits, 0);

    /* Now cached: every thread hits, nothing is computed. */
    atomic_store(&compute_sleep_us, 0);
    ck_assert_int_eq(concurrent_gets(c, 1000, g), 0);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_int_eq(g[i].result, FIB_CACHE_HIT);
        fib_cache_release(g[i].got);
    }
    fib_cache_destroy(c);

    /* Also for a value too big to cache: waiters get the one result. */
    c = fib_cache_create(10, stub_compute);
    atomic_store(&compute_sleep_us, 100000);
    ck_assert_int_eq(concurrent_gets(c, 2000, g), 1);
    for (int i = 0; i < THREADS; i++) {
        ck_assert_ptr_eq(g[i].got, g[0].got);
        fib_cache_release(g[i].got);
    }
    fib_cache_destroy(c);
}
END_TEST

START_TEST(test_real_values) {
    fib_cache *c = fib_cache_create(1 << 20, fib_decimal);
    fib_entry *e = fib_cache_get(c, 93, NULL);
    ck_assert_str_eq(fib_entry_value(e, NULL), "12200160415121876738");
    fib_cache_release(e);
    fib_cache_destroy(c);
}
END_TEST

int main(void) {
    const TTest *tests[] = {test_hit_miss_counters,
                            test_eviction_by_bytes_in_lru_order,
                            test_reference_outlives_eviction,
                            test_too_big_is_returned_not_cached,
                            test_failed_computation_is_retried,
                            test_concurrent_misses_compute_once,
                            test_real_values};
    return run_suite(one_case_suite("fib_cache", tests, 7));
}
