/* test_ratelimit.c - the keyed token-bucket limiter (src/core/ratelimit.c):
 * token arithmetic with injected times, Retry-After, the clock running back,
 * bounded memory and the eviction guarantees, truncated keys, 4 threads,
 * OpenSSL failing to allocate (the hash's fallback under the lock). The
 * thread tests catch a missing lock only when the threads really run in
 * parallel; the TSan build (-fsanitize=thread) reports it every time. */
#include "core/ratelimit.h"

#include <math.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */

/* OpenSSL's allocations fail while this is set (installed in main): the
 * limiter must then hash without allocating, under its lock. */
static atomic_bool ossl_fail;
static atomic_long ossl_refused;

static void *ossl_malloc(size_t n, const char *file, int line)
{
    if (atomic_load(&ossl_fail)) {
        atomic_fetch_add(&ossl_refused, 1);
        return NULL;
    }
    return malloc(n);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    if (atomic_load(&ossl_fail)) {
        atomic_fetch_add(&ossl_refused, 1);
        return NULL;
    }
    return realloc(p, n);
}

static void ossl_free(void *p, const char *file, int line)
{
    free(p);
}

/* Number of cost-1 takes allowed for key at now, stopping at the first refusal
 * (refusals take nothing) or at limit. */
static int drain(struct ratelimit *rl, const char *key, int64_t now, int limit)
{
    int n = 0;
    while (n < limit && ratelimit_take(rl, key, 1, now, NULL))
        n++;
    return n;
}

static void test_null_limiter(void **state)
{
    assert_null(ratelimit_new(0, 10, 100));
    assert_null(ratelimit_new(-1, 10, 100));
    assert_null(ratelimit_new(NAN, 10, 100));
    int retry = -5;
    for (int i = 0; i < 1000; i++) {
        assert_true(ratelimit_take(NULL, "192.0.2.7", 1, T0, &retry));
        assert_int_equal(retry, 0);
    }
    assert_true(ratelimit_take(NULL, "x", 1e9, T0, NULL));
    ratelimit_reset(NULL, "192.0.2.7");
    assert_int_equal(ratelimit_size(NULL), 0);
    ratelimit_free(NULL);
}

static void test_burst_then_refusal(void **state)
{
    struct ratelimit *rl = ratelimit_new(1, 3, 10);
    assert_non_null(rl);
    int retry = -5;
    for (int i = 0; i < 3; i++) {
        assert_true(ratelimit_take(rl, "192.0.2.7", 1, T0, &retry));
        assert_int_equal(retry, 0);
    }
    assert_false(ratelimit_take(rl, "192.0.2.7", 1, T0, &retry));
    assert_int_equal(retry, 1);
    /* a refusal takes nothing: still exactly one token one second later */
    assert_false(ratelimit_take(rl, "192.0.2.7", 1, T0 + 999, &retry));
    assert_int_equal(retry, 1);
    assert_true(ratelimit_take(rl, "192.0.2.7", 1, T0 + 1000, &retry));
    assert_int_equal(retry, 0);
    assert_false(ratelimit_take(rl, "192.0.2.7", 1, T0 + 1000, &retry));
    assert_int_equal(ratelimit_size(rl), 1);
    ratelimit_free(rl);
}

/* Retry-After is ceil(missing tokens / rate), at least 1, and exact: one
 * second earlier the take is still refused, at that time it is allowed. Some
 * rates and waits are chosen for rounding in binary floating point (1/49 of a
 * token a second for 49 s computes as 0.9999999999999999 tokens; 0.3 tokens
 * missing at 0.1 a second divide to 7.000000000000001). */
static void test_retry_after_exact(void **state)
{
    static const struct {
        double rate, cost;
        int64_t wait_ms; /* after draining, before the refused take */
        int expect;
    } cases[] = {
        {1, 1, 0, 1},         {0.5, 1, 0, 2},           {1.0 / 60, 1, 0, 60}, {0.1, 2.5, 0, 25},
        {3, 2, 0, 1},         {0.3, 1, 0, 4},           {0.25, 1, 0, 4},      {2, 5, 0, 3},
        {1000, 1, 0, 1},      {1.0 / 3600, 1, 0, 3600}, {1.0 / 3, 1, 0, 3},   {0.2, 4, 0, 20},
        {1.0 / 49, 1, 0, 49}, {0.1, 1, 3000, 7},        {2, 1, 250, 1},       {0.1, 1, 9999, 1},
        {1, 3, 1500, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        struct ratelimit *rl = ratelimit_new(cases[c].rate, 5, 10);
        assert_non_null(rl);
        assert_int_equal(drain(rl, "k", T0, 100), 5);
        int retry = -5;
        int64_t now = T0 + cases[c].wait_ms;
        assert_false(ratelimit_take(rl, "k", cases[c].cost, now, &retry));
        if (retry != cases[c].expect)
            fail_msg("rate %g cost %g: retry %d, expected %d", cases[c].rate, cases[c].cost, retry,
                     cases[c].expect);
        int64_t at = now + (int64_t)retry * 1000;
        if (retry > 1 && ratelimit_take(rl, "k", cases[c].cost, at - 1000, NULL))
            fail_msg("rate %g cost %g: allowed a second early", cases[c].rate, cases[c].cost);
        if (!ratelimit_take(rl, "k", cases[c].cost, at, &retry))
            fail_msg("rate %g cost %g: refused at Retry-After", cases[c].rate, cases[c].cost);
        assert_int_equal(retry, 0);
        ratelimit_free(rl);
    }
}

static void test_refill_exact(void **state)
{
    struct ratelimit *rl = ratelimit_new(10, 10, 10);
    assert_non_null(rl);
    assert_int_equal(drain(rl, "dev:kitchen-1", T0, 100), 10);
    assert_int_equal(drain(rl, "dev:kitchen-1", T0 + 99, 100), 0);
    assert_int_equal(drain(rl, "dev:kitchen-1", T0 + 100, 100), 1);
    /* 250 ms more: 2.5 tokens, 2 whole ones, half a token left over */
    assert_int_equal(drain(rl, "dev:kitchen-1", T0 + 350, 100), 2);
    int retry = -5;
    assert_false(ratelimit_take(rl, "dev:kitchen-1", 1, T0 + 350, &retry));
    assert_int_equal(retry, 1);
    assert_true(ratelimit_take(rl, "dev:kitchen-1", 0.5, T0 + 350, NULL));
    assert_false(ratelimit_take(rl, "dev:kitchen-1", 0.5, T0 + 350, NULL));
    assert_int_equal(drain(rl, "dev:kitchen-1", T0 + 400, 100), 0); /* 0.5 */
    assert_int_equal(drain(rl, "dev:kitchen-1", T0 + 450, 100), 1); /* 0.5 + 0.5 */
    /* the bucket never holds more than burst, however long the idle time */
    assert_int_equal(drain(rl, "dev:kitchen-1", T0 + 3600 * 1000, 100), 10);
    assert_int_equal(drain(rl, "dev:kitchen-1", INT64_MAX, 100), 10);
    ratelimit_free(rl);

    /* a slow rate, as for logins: 1 a minute */
    rl = ratelimit_new(1.0 / 60, 5, 10);
    assert_non_null(rl);
    assert_int_equal(drain(rl, "login:alice@example.com", T0, 100), 5);
    assert_int_equal(drain(rl, "login:alice@example.com", T0 + 59999, 100), 0);
    assert_int_equal(drain(rl, "login:alice@example.com", T0 + 60000, 100), 1);
    assert_int_equal(drain(rl, "login:alice@example.com", T0 + 10 * 60000, 100), 5);
    ratelimit_free(rl);
}

static void test_keys_independent(void **state)
{
    struct ratelimit *rl = ratelimit_new(1, 4, 100);
    assert_non_null(rl);
    assert_int_equal(drain(rl, "dev:kitchen-1", T0, 100), 4);
    assert_int_equal(drain(rl, "dev:kitchen-10", T0, 100), 4);
    assert_int_equal(drain(rl, "2001:db8::1", T0, 2), 2);
    assert_int_equal(drain(rl, "192.0.2.7", T0, 100), 4);
    assert_int_equal(drain(rl, "2001:db8::1", T0, 100), 2);
    assert_int_equal(drain(rl, "dev:kitchen-1", T0, 100), 0);
    /* a NULL key is "" */
    assert_int_equal(drain(rl, NULL, T0, 100), 4);
    assert_int_equal(drain(rl, "", T0, 100), 0);
    assert_int_equal(ratelimit_size(rl), 5);
    ratelimit_free(rl);
}

static void test_reset(void **state)
{
    struct ratelimit *rl = ratelimit_new(1.0 / 60, 5, 100);
    assert_non_null(rl);
    assert_int_equal(drain(rl, "login:alice@example.com", T0, 100), 5);
    assert_int_equal(drain(rl, "login:bob@example.com", T0, 100), 5);
    assert_int_equal(ratelimit_size(rl), 2);
    ratelimit_reset(rl, "login:alice@example.com");
    assert_int_equal(ratelimit_size(rl), 1); /* a full bucket is forgotten */
    ratelimit_reset(rl, "login:nobody@example.com");
    assert_int_equal(ratelimit_size(rl), 1);
    assert_int_equal(drain(rl, "login:alice@example.com", T0 + 1, 100), 5);
    assert_int_equal(drain(rl, "login:bob@example.com", T0 + 1, 100), 0);
    ratelimit_reset(rl, "login:alice@example.com");
    ratelimit_reset(rl, "login:alice@example.com");
    assert_int_equal(ratelimit_size(rl), 1);
    ratelimit_free(rl);

    /* reset in the middle of hash chains: many keys in a small table */
    rl = ratelimit_new(1, 2, 1000);
    assert_non_null(rl);
    char k[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "192.0.2.%d", i);
        assert_int_equal(drain(rl, k, T0, 100), 2);
    }
    for (int i = 0; i < 1000; i += 3) {
        snprintf(k, sizeof k, "192.0.2.%d", i);
        ratelimit_reset(rl, k);
    }
    assert_int_equal(ratelimit_size(rl), 1000 - 334);
    for (int i = 0; i < 1000; i++) {
        snprintf(k, sizeof k, "192.0.2.%d", i);
        int got = drain(rl, k, T0, 100);
        if (got != (i % 3 == 0 ? 2 : 0))
            fail_msg("%s: %d allowed", k, got);
    }
    assert_int_equal(ratelimit_size(rl), 1000);
    ratelimit_free(rl);
}

static void test_cost_over_burst(void **state)
{
    struct ratelimit *rl = ratelimit_new(1, 5, 10);
    assert_non_null(rl);
    int retry = -5;
    /* never allowed, even from a full bucket, and it takes nothing */
    assert_false(ratelimit_take(rl, "k", 6, T0, &retry));
    assert_int_equal(retry, 1);
    assert_false(ratelimit_take(rl, "k", INFINITY, T0, &retry));
    assert_int_equal(retry, 1);
    assert_true(ratelimit_take(rl, "k", 5, T0, NULL));
    /* from an empty bucket: Retry-After is the time to fill it */
    assert_false(ratelimit_take(rl, "k", 6, T0, &retry));
    assert_int_equal(retry, 5);
    assert_false(ratelimit_take(rl, "k", 6, T0 + 3600 * 1000, &retry));
    assert_int_equal(retry, 1);
    /* a cost of exactly burst is fine */
    assert_true(ratelimit_take(rl, "k", 5, T0 + 3600 * 1000, NULL));
    /* cost 0, negative or NaN: allowed, takes nothing */
    assert_true(ratelimit_take(rl, "k", 0, T0 + 3600 * 1000, &retry));
    assert_int_equal(retry, 0);
    assert_true(ratelimit_take(rl, "k", -3, T0 + 3600 * 1000, NULL));
    assert_true(ratelimit_take(rl, "k", NAN, T0 + 3600 * 1000, NULL));
    assert_int_equal(drain(rl, "k", T0 + 3600 * 1000 + 2000, 100), 2);
    ratelimit_free(rl);
}

static void test_parameter_clamps(void **state)
{
    double bursts[] = {0, 0.5, -1, NAN};
    for (size_t b = 0; b < sizeof bursts / sizeof *bursts; b++) {
        struct ratelimit *rl = ratelimit_new(1, bursts[b], 10);
        assert_non_null(rl);
        assert_int_equal(drain(rl, "k", T0, 100), 1);
        assert_int_equal(drain(rl, "k", T0 + 10000, 100), 1);
        ratelimit_free(rl);
    }
    struct ratelimit *rl = ratelimit_new(1, 1, 0); /* max_keys 0 holds one key */
    assert_non_null(rl);
    assert_int_equal(drain(rl, "a", T0, 100), 1);
    assert_int_equal(ratelimit_size(rl), 1);
    assert_int_equal(drain(rl, "b", T0, 100), 1);
    assert_int_equal(ratelimit_size(rl), 1);
    assert_int_equal(drain(rl, "b", T0, 100), 0);
    ratelimit_free(rl);
}

static void test_clock_backwards(void **state)
{
    struct ratelimit *rl = ratelimit_new(2, 2, 10);
    assert_non_null(rl);
    int retry = -5;
    assert_int_equal(drain(rl, "192.0.2.7", T0 + 10000, 100), 2);
    assert_false(ratelimit_take(rl, "192.0.2.7", 1, T0 + 5000, &retry));
    assert_int_equal(retry, 1);
    assert_false(ratelimit_take(rl, "192.0.2.7", 1, T0, &retry));
    assert_int_equal(drain(rl, "192.0.2.7", T0 + 10000, 100), 0);
    /* refill counts from the latest time seen (T0 + 10 s), not from T0 */
    assert_int_equal(drain(rl, "192.0.2.7", T0 + 10500, 100), 1);
    assert_int_equal(drain(rl, "192.0.2.7", T0 + 10999, 100), 0);
    assert_int_equal(drain(rl, "192.0.2.7", T0 + 11000, 100), 1);

    /* extreme clocks: no overflow, no crash, no tokens from running back */
    assert_int_equal(drain(rl, "x", INT64_MIN, 100), 2);
    assert_int_equal(drain(rl, "x", INT64_MAX, 100), 2);
    assert_int_equal(drain(rl, "x", INT64_MIN, 100), 0);
    assert_int_equal(drain(rl, "x", 0, 100), 0);
    assert_int_equal(drain(rl, "x", INT64_MAX, 100), 0);
    assert_false(ratelimit_take(rl, "x", 1, INT64_MIN, &retry));
    assert_int_equal(retry, 1);
    assert_int_equal(drain(rl, "y", INT64_MAX, 100), 2);
    assert_int_equal(drain(rl, "y", INT64_MAX - 1, 100), 0);
    ratelimit_free(rl);
}

static void test_long_keys_truncated(void **state)
{
    struct ratelimit *rl = ratelimit_new(1, 3, 10);
    assert_non_null(rl);
    char a[300], b[300];
    memset(a, 'a', sizeof a - 1);
    a[sizeof a - 1] = 0;
    memcpy(b, a, sizeof b);
    b[150] = 'b'; /* differs past the first 127 bytes only */
    assert_int_equal(drain(rl, a, T0, 100), 3);
    assert_int_equal(drain(rl, b, T0, 100), 0);
    b[RATELIMIT_KEY_MAX] = 0; /* exactly the first 127 bytes */
    assert_int_equal(drain(rl, b, T0, 100), 0);
    b[RATELIMIT_KEY_MAX + 1] = 0; /* 128 bytes */
    b[RATELIMIT_KEY_MAX] = 'z';
    assert_int_equal(drain(rl, b, T0, 100), 0);
    assert_int_equal(ratelimit_size(rl), 1);
    /* a difference inside the first 127 bytes is another key */
    b[RATELIMIT_KEY_MAX - 1] = 'z';
    assert_int_equal(drain(rl, b, T0, 100), 3);
    b[RATELIMIT_KEY_MAX - 1] = 0; /* 126 bytes: another key again */
    assert_int_equal(drain(rl, b, T0, 100), 3);
    assert_int_equal(ratelimit_size(rl), 3);
    memcpy(b, a, sizeof b);
    b[5] = 'r';
    ratelimit_reset(rl, b); /* 299 bytes, none of the held keys */
    assert_int_equal(ratelimit_size(rl), 3);
    ratelimit_reset(rl, a + 10); /* 289 bytes: truncated, it is a */
    assert_int_equal(ratelimit_size(rl), 2);
    assert_int_equal(drain(rl, a, T0, 100), 3);
    assert_int_equal(drain(rl, a, T0, 100), 0);
    memcpy(b, a, sizeof b);
    b[200] = 'q';
    ratelimit_reset(rl, b); /* resets the truncated key a */
    assert_int_equal(ratelimit_size(rl), 2);
    assert_int_equal(drain(rl, a, T0, 100), 3);
    ratelimit_free(rl);
}

static void test_eviction_bounded(void **state)
{
    struct ratelimit *rl = ratelimit_new(1, 5, 100);
    assert_non_null(rl);
    char k[48];
    size_t max_seen = 0;
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof k, "2001:db8::%x", i);
        /* every fresh key is allowed: nothing limits a new bucket */
        if (!ratelimit_take(rl, k, 1 + i % 5, T0 + i, NULL))
            fail_msg("fresh key %s refused", k);
        size_t n = ratelimit_size(rl);
        if (n > max_seen)
            max_seen = n;
        if (n != (size_t)(i < 100 ? i + 1 : 100))
            fail_msg("after %d keys, %zu held", i + 1, n);
    }
    assert_int_equal(max_seen, 100);
    /* the last 100 are held: their tokens are remembered */
    for (int i = 9999; i >= 9999 - 50; i--) {
        snprintf(k, sizeof k, "2001:db8::%x", i);
        int left = 5 - (1 + i % 5);
        int got = drain(rl, k, T0 + 9999, 100);
        if (got != left)
            fail_msg("%s: %d allowed, %d expected", k, got, left);
    }
    ratelimit_free(rl);
}

/* The guarantee for a limited key: a flood of fresh keys (one request each)
 * never pushes it out, however long; only buckets with tokens left are
 * evicted in its place. */
static void test_limited_key_survives_flood(void **state)
{
    struct ratelimit *rl = ratelimit_new(1.0 / 60, 5, 100);
    assert_non_null(rl);
    assert_int_equal(drain(rl, "login:alice@example.com", T0, 100), 5);
    char k[48];
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof k, "198.51.%d.%d", i / 256, i % 256);
        assert_true(ratelimit_take(rl, k, 1, T0 + i, NULL));
        assert_true(ratelimit_size(rl) <= 100);
    }
    assert_int_equal(ratelimit_size(rl), 100);
    int retry = -5;
    assert_false(ratelimit_take(rl, "login:alice@example.com", 1, T0 + 10000, &retry));
    assert_int_equal(retry, 50); /* 10 s of 60 already refilled */
    ratelimit_free(rl);

    /* Same flood against a key that is not limited (4 tokens, like every
     * flood key): it is the least recently used and goes first. */
    rl = ratelimit_new(1.0 / 60, 5, 100);
    assert_non_null(rl);
    assert_true(ratelimit_take(rl, "login:alice@example.com", 1, T0, NULL));
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof k, "198.51.%d.%d", i / 256, i % 256);
        assert_true(ratelimit_take(rl, k, 1, T0, NULL));
    }
    assert_int_equal(drain(rl, "login:alice@example.com", T0, 100), 5); /* fresh */
    ratelimit_free(rl);
}

/* k0..k99 drained (all 0 tokens: eviction is plain LRU), k0 used again, then
 * nfresh new keys. Returns how many takes k0 is then allowed. */
static int lru_scenario(int nfresh)
{
    struct ratelimit *rl = ratelimit_new(1, 1, 100);
    assert_non_null(rl);
    char k[32];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(drain(rl, k, T0, 100), 1);
    }
    assert_false(ratelimit_take(rl, "k0", 1, T0, NULL)); /* used: now most recent */
    for (int i = 0; i < nfresh; i++) {
        snprintf(k, sizeof k, "n%d", i);
        assert_true(ratelimit_take(rl, k, 1, T0, NULL));
    }
    assert_int_equal(ratelimit_size(rl), 100);
    int got = drain(rl, "k0", T0, 100);
    ratelimit_free(rl);
    return got;
}

static void test_lru_order(void **state)
{
    /* 99 other keys used since k0: still held (still limited) */
    assert_int_equal(lru_scenario(99), 0);
    assert_int_equal(lru_scenario(50), 0);
    /* the 100th evicts it (k1..k99 went before it, oldest first) */
    assert_int_equal(lru_scenario(100), 1);

    /* k1 was the oldest after k0's use: the first new key evicts exactly it */
    struct ratelimit *rl = ratelimit_new(1, 1, 100);
    assert_non_null(rl);
    char k[32];
    for (int i = 0; i < 100; i++) {
        snprintf(k, sizeof k, "k%d", i);
        assert_int_equal(drain(rl, k, T0, 100), 1);
    }
    assert_false(ratelimit_take(rl, "k0", 1, T0, NULL));
    assert_true(ratelimit_take(rl, "new", 1, T0, NULL));
    assert_int_equal(drain(rl, "k2", T0, 100), 0); /* held */
    assert_int_equal(drain(rl, "k1", T0, 100), 1); /* was evicted: fresh */
    ratelimit_free(rl);
}

/* The victim is the bucket with the most tokens among the
 * RATELIMIT_EVICT_SAMPLE least recently used, and only among them. */
static void test_eviction_sample(void **state)
{
    assert_int_equal(RATELIMIT_EVICT_SAMPLE, 8);
    struct ratelimit *rl = ratelimit_new(0.001, 10, 100);
    assert_non_null(rl);
    /* d0..d7, oldest first, hold these tokens; d4 is the fullest */
    static const int left[8] = {0, 1, 2, 3, 7, 4, 5, 6};
    char k[32];
    for (int i = 0; i < 8; i++) {
        snprintf(k, sizeof k, "d%d", i);
        assert_true(ratelimit_take(rl, k, 10 - left[i], T0, NULL));
    }
    /* next in age: a fuller one just outside the sample, then 91 with 1 token */
    assert_true(ratelimit_take(rl, "rich", 1, T0, NULL));
    for (int i = 0; i < 91; i++) {
        snprintf(k, sizeof k, "o%d", i);
        assert_true(ratelimit_take(rl, k, 9, T0, NULL));
    }
    assert_int_equal(ratelimit_size(rl), 100);
    assert_true(ratelimit_take(rl, "new", 9, T0, NULL)); /* evicts d4 */
    assert_int_equal(ratelimit_size(rl), 100);
    /* the sample now is d0-d3, d5-d7, rich (9 tokens): rich goes next */
    assert_true(ratelimit_take(rl, "d4", 10, T0, NULL)); /* fresh: 10 tokens */
    assert_false(ratelimit_take(rl, "d7", 7, T0, NULL)); /* held: 6 tokens */
    assert_true(ratelimit_take(rl, "d7", 6, T0, NULL));
    assert_true(ratelimit_take(rl, "rich", 10, T0, NULL)); /* was evicted: fresh */
    /* rich's return evicted d6 (5 tokens; d0-d3, d5 have fewer, o0 has 1) */
    assert_false(ratelimit_take(rl, "d5", 5, T0, NULL));
    assert_true(ratelimit_take(rl, "d6", 10, T0, NULL));
    ratelimit_free(rl);
}

/* Four threads on shared keys with the clock frozen: exactly burst allowed
 * per key, whatever the interleaving. */
#define NTHREADS 4
#define HOT_KEYS 4
#define FROZEN_ITERS 100000 /* per thread: 100,000 asks per key in all */
#define FROZEN_BURST 40000  /* so 40% are allowed */

struct frozen_arg {
    struct ratelimit *rl;
    pthread_barrier_t *start;
    int allowed[HOT_KEYS];
};

static void *frozen_worker(void *p)
{
    struct frozen_arg *a = p;
    char k[32];
    pthread_barrier_wait(a->start);
    for (int i = 0; i < FROZEN_ITERS; i++) {
        snprintf(k, sizeof k, "dev:hot-%d", i % HOT_KEYS);
        if (ratelimit_take(a->rl, k, 1, T0, NULL))
            a->allowed[i % HOT_KEYS]++;
    }
    return NULL;
}

static void run_frozen(bool alloc_fails)
{
    struct ratelimit *rl = ratelimit_new(1, FROZEN_BURST, HOT_KEYS);
    assert_non_null(rl);
    atomic_store(&ossl_refused, 0);
    atomic_store(&ossl_fail, alloc_fails);
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, NTHREADS), 0);
    struct frozen_arg args[NTHREADS];
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        memset(&args[t], 0, sizeof args[t]);
        args[t].rl = rl;
        args[t].start = &start;
        assert_int_equal(pthread_create(&th[t], NULL, frozen_worker, &args[t]), 0);
    }
    for (int t = 0; t < NTHREADS; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&start);
    atomic_store(&ossl_fail, false);
    for (int k = 0; k < HOT_KEYS; k++) {
        int sum = 0;
        for (int t = 0; t < NTHREADS; t++)
            sum += args[t].allowed[k];
        if (sum != FROZEN_BURST)
            fail_msg("key %d: %d allowed, burst is %d", k, sum, FROZEN_BURST);
    }
    assert_int_equal(ratelimit_size(rl), HOT_KEYS);
    if (alloc_fails)
        assert_true(atomic_load(&ossl_refused) >= NTHREADS * FROZEN_ITERS);
    ratelimit_free(rl);
}

static void test_concurrent_frozen_clock(void **state)
{
    run_frozen(false);
}

/* The same while OpenSSL cannot allocate: every hash takes the fallback. */
static void test_concurrent_frozen_clock_no_memory(void **state)
{
    run_frozen(true);
}

/* With OpenSSL out of memory the key hashes the same (same buckets), and
 * nothing is left on OpenSSL's error queue. */
static void test_hash_without_memory(void **state)
{
    struct ratelimit *rl = ratelimit_new(1, 3, 10);
    assert_non_null(rl);
    assert_int_equal(drain(rl, "192.0.2.7", T0, 2), 2);
    assert_int_equal(drain(rl, "2001:db8::1", T0, 100), 3);
    atomic_store(&ossl_refused, 0);
    atomic_store(&ossl_fail, true);
    int left = drain(rl, "192.0.2.7", T0, 100);
    int other = drain(rl, "2001:db8::1", T0, 100);
    int fresh = drain(rl, "dev:kitchen-1", T0, 100);
    ratelimit_reset(rl, "2001:db8::1");
    size_t n = ratelimit_size(rl);
    unsigned long err = ERR_peek_error();
    atomic_store(&ossl_fail, false);
    assert_true(atomic_load(&ossl_refused) > 0); /* the fallback did run */
    assert_int_equal(left, 1);
    assert_int_equal(other, 0);
    assert_int_equal(fresh, 3);
    assert_int_equal(n, 2);
    assert_int_equal(err, 0);
    assert_int_equal(drain(rl, "192.0.2.7", T0, 100), 0);
    assert_int_equal(drain(rl, "dev:kitchen-1", T0, 100), 0);
    assert_int_equal(drain(rl, "2001:db8::1", T0, 100), 3);
    ratelimit_free(rl);
}

/* Four threads, a shared clock advancing 1 ms a call, 8 hot keys used by all
 * and a stream of fresh keys churning the table: per hot key, allowed <=
 * burst + rate * elapsed, and >= that minus what the last refusals left. */
#define HOT 8
#define ITERS 40000

struct clock_arg {
    struct ratelimit *rl;
    _Atomic int64_t *clock;
    int id;
    int allowed[HOT];
    int64_t first, last;
};

static void *clock_worker(void *p)
{
    struct clock_arg *a = p;
    char k[48];
    a->first = INT64_MAX;
    for (int i = 0; i < ITERS; i++) {
        int64_t now = atomic_fetch_add(a->clock, 1);
        if (now < a->first)
            a->first = now;
        a->last = now;
        snprintf(k, sizeof k, "user:hot-%d", i % HOT);
        if (ratelimit_take(a->rl, k, 1, now, NULL))
            a->allowed[i % HOT]++;
        if (i % 2) {
            snprintf(k, sizeof k, "198.18.%d.%d", a->id, i);
            ratelimit_take(a->rl, k, 1, now, NULL);
        }
    }
    return NULL;
}

static void test_concurrent_clock(void **state)
{
    const double rate = 50, burst = 20;
    struct ratelimit *rl = ratelimit_new(rate, burst, 256);
    assert_non_null(rl);
    _Atomic int64_t clock = T0;
    struct clock_arg args[NTHREADS];
    pthread_t th[NTHREADS];
    for (int t = 0; t < NTHREADS; t++) {
        memset(&args[t], 0, sizeof args[t]);
        args[t].rl = rl;
        args[t].clock = &clock;
        args[t].id = t;
        assert_int_equal(pthread_create(&th[t], NULL, clock_worker, &args[t]), 0);
    }
    int64_t first = INT64_MAX, last = 0;
    for (int t = 0; t < NTHREADS; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        if (args[t].first < first)
            first = args[t].first;
        if (args[t].last > last)
            last = args[t].last;
    }
    assert_int_equal(last - first + 1, (int64_t)NTHREADS * ITERS * 1);
    /* every hot key is asked ITERS*4/8 = 20000 times over 160 s: 20 + 8000
     * tokens come, so it is refused most of the time */
    double max_allowed = burst + rate * (double)(last - first) / 1000.0;
    for (int k = 0; k < HOT; k++) {
        int sum = 0;
        for (int t = 0; t < NTHREADS; t++)
            sum += args[t].allowed[k];
        if (sum > max_allowed || sum < max_allowed - 2 * burst)
            fail_msg("hot key %d: %d allowed, at most %.0f expected", k, sum, max_allowed);
    }
    assert_true(ratelimit_size(rl) <= 256);
    ratelimit_free(rl);
}

int main(void)
{
    if (!CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free)) {
        fprintf(stderr, "CRYPTO_set_mem_functions: OpenSSL allocated already\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_limiter),
        cmocka_unit_test(test_burst_then_refusal),
        cmocka_unit_test(test_retry_after_exact),
        cmocka_unit_test(test_refill_exact),
        cmocka_unit_test(test_keys_independent),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_cost_over_burst),
        cmocka_unit_test(test_parameter_clamps),
        cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_long_keys_truncated),
        cmocka_unit_test(test_eviction_bounded),
        cmocka_unit_test(test_limited_key_survives_flood),
        cmocka_unit_test(test_lru_order),
        cmocka_unit_test(test_eviction_sample),
        cmocka_unit_test(test_hash_without_memory),
        cmocka_unit_test(test_concurrent_frozen_clock),
        cmocka_unit_test(test_concurrent_frozen_clock_no_memory),
        cmocka_unit_test(test_concurrent_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
