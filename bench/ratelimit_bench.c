/* ratelimit_bench.c - the cost of ratelimit_take (src/core/ratelimit.c) per
 * call, alone and from 2 and 4 threads, with the keyed hash measured apart.
 *
 *   mkdir -p bench/out
 *   cc -std=c17 -O2 -D_GNU_SOURCE -Isrc bench/ratelimit_bench.c src/core/ratelimit.c \
 *      -lcrypto -lpthread -lm -o bench/out/ratelimit_bench
 *   bench/out/ratelimit_bench [runs]           (default 7; ~20 s)
 *
 * Limiter: 100 tokens/s, burst 200, max_keys 10,000; the clock is passed in
 * and advances 1 ms every 35 calls (35k requests/s). Back-to-back loops,
 * CALLS calls per thread:
 *   siphash   the hash alone: what ratelimit_take does before locking
 *             (EVP_MAC_CTX_dup of a keyed SIPHASH template, update, final,
 *             free), over the hot keys.
 *   hot       1,000 client addresses ("192.0.x.y", "2001:db8::x:y"), picked
 *             at random (precomputed), all held: lookup, refill, take.
 *   flood     a fresh key every call (an attacker rotating addresses), the
 *             table full: every call evicts (sampling 8 LRU buckets).
 *   hot-2t    the hot case from 2 threads at once (same limiter, same keys)
 *   hot-4t    and from 4: ns per call per thread, and calls/s in total. This
 *             is saturation (threads do nothing but call the limiter), the
 *             worst case for its one mutex.
 * Paced, the server's shape: 4 threads, each sleeping 100 us between calls
 * (with timer slack some 20-30k calls/s in total), each call timed on its
 * own (mean and 99th percentile, minus an empty clock_gettime pair). Waking
 * from a sleep, caches and branch predictors are cold, so each paced case has
 * its own references:
 *   p-take    ratelimit_take on the hot keys, 4 threads.
 *   p-hash    the siphash step alone, same pacing.
 *   p-floor   reading the key's 32 bytes, same pacing: the cost of being
 *             cold at all.
 * The table shows the median over runs (and the min-max). The machine is
 * shared and noisy, and has 2 cores: the 4-thread cases oversubscribe them
 * (a thread preempted inside the lock shows up there). */
#include "core/ratelimit.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CALLS 1000000
#define PACED_CALLS 3000
#define PACE_NS 100000
#define HOT_KEYS 1000
#define MAX_RUNS 51
#define T0 1767225600000LL

enum mode { M_HOT, M_FLOOD, M_PACED_TAKE, M_PACED_HASH, M_PACED_FLOOR };

static char hot_keys[HOT_KEYS][48];
static unsigned short *hot_pick; /* CALLS indices into hot_keys */
static char (*flood_keys)[48];   /* CALLS distinct keys */
static EVP_MAC *mac;
static EVP_MAC_CTX *tmpl; /* keyed like the limiter's */
static double timer_ns;   /* an empty now_ns() pair */
static volatile unsigned long sink;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t xorshift64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static unsigned siphash(const char *k)
{
    unsigned char out[8] = {0};
    size_t outl;
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(tmpl);
    EVP_MAC_update(c, (const unsigned char *)k, strlen(k));
    EVP_MAC_final(c, out, &outl, sizeof out);
    EVP_MAC_CTX_free(c);
    return out[0];
}

static double case_siphash(void)
{
    unsigned long acc = 0;
    double t = now_ns();
    for (int i = 0; i < CALLS; i++)
        acc += siphash(hot_keys[hot_pick[i]]);
    t = now_ns() - t;
    sink += acc;
    return t / CALLS;
}

struct worker {
    struct ratelimit *rl;
    pthread_barrier_t *start;
    enum mode mode;
    double ns;       /* loops: mean ns per call */
    double *call_ns; /* paced: PACED_CALLS per-call times */
    unsigned long acc;
};

static void run_paced(struct worker *w)
{
    struct timespec pause = {0, PACE_NS};
    for (int i = 0; i < PACED_CALLS; i++) {
        const char *k = hot_keys[hot_pick[i]];
        nanosleep(&pause, NULL);
        double t = now_ns();
        if (w->mode == M_PACED_TAKE) {
            w->acc += ratelimit_take(w->rl, k, 1, T0 + i / 35, NULL);
        } else if (w->mode == M_PACED_HASH) {
            w->acc += siphash(k);
        } else {
            for (int j = 0; j < 32; j++)
                w->acc += (unsigned char)((volatile char *)k)[j];
        }
        w->call_ns[i] = now_ns() - t;
    }
}

static void *run_worker(void *p)
{
    struct worker *w = p;
    if (w->start)
        pthread_barrier_wait(w->start);
    if (w->mode >= M_PACED_TAKE) {
        run_paced(w);
        return NULL;
    }
    double t = now_ns();
    for (int i = 0; i < CALLS; i++) {
        const char *k = w->mode == M_FLOOD ? flood_keys[i] : hot_keys[hot_pick[i]];
        w->acc += ratelimit_take(w->rl, k, 1, T0 + i / 35, NULL);
    }
    w->ns = (now_ns() - t) / CALLS;
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs mode on nthreads threads. Returns the mean ns per call; *per_s gets
 * the calls/s of all threads together, *p99 (paced) the 99th percentile. */
static double run_case(enum mode mode, int nthreads, double *per_s, double *p99)
{
    static double call_ns[4][PACED_CALLS];
    struct ratelimit *rl = ratelimit_new(100, 200, 10000);
    if (!rl) {
        fprintf(stderr, "ratelimit_new failed\n");
        exit(1);
    }
    if (mode == M_FLOOD) { /* fill the table first, so that every timed call evicts */
        char k[48];
        for (int i = 0; i < 10000; i++) {
            snprintf(k, sizeof k, "198.18.%d.%d", i / 256, i % 256);
            ratelimit_take(rl, k, 1, T0 - 1, NULL);
        }
    }
    struct worker w[4];
    pthread_t th[4];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)nthreads);
    double t = now_ns();
    for (int i = 0; i < nthreads; i++) {
        w[i] = (struct worker){rl, nthreads > 1 ? &start : NULL, mode, 0, call_ns[i], 0};
        if (nthreads == 1)
            run_worker(&w[i]);
        else
            pthread_create(&th[i], NULL, run_worker, &w[i]);
    }
    if (nthreads > 1)
        for (int i = 0; i < nthreads; i++)
            pthread_join(th[i], NULL);
    t = now_ns() - t;
    pthread_barrier_destroy(&start);
    if (ratelimit_size(rl) > 10000) {
        fprintf(stderr, "size %zu over max_keys\n", ratelimit_size(rl));
        exit(1);
    }
    ratelimit_free(rl);
    double ns = 0;
    for (int i = 0; i < nthreads; i++) {
        ns += w[i].ns;
        sink += w[i].acc;
    }
    ns /= nthreads;
    size_t calls = mode >= M_PACED_TAKE ? PACED_CALLS : CALLS;
    if (per_s)
        *per_s = (double)nthreads * (double)calls / (t / 1e9);
    if (mode >= M_PACED_TAKE) {
        double *all = &call_ns[0][0], sum = 0;
        size_t n = (size_t)nthreads * PACED_CALLS;
        for (size_t i = 0; i < n; i++)
            sum += all[i];
        qsort(all, n, sizeof *all, cmp_double);
        *p99 = all[n * 99 / 100] - timer_ns;
        ns = sum / (double)n - timer_ns;
    }
    return ns;
}

static const char *median_range(double *v, int runs, char *out, size_t size)
{
    qsort(v, (size_t)runs, sizeof *v, cmp_double);
    snprintf(out, size, "%.0f (%.0f-%.0f)", v[runs / 2], v[0], v[runs - 1]);
    return out;
}

static void row(const char *name, double *v, double *p99, double *per_s, int runs)
{
    char a[48], b[48] = "", c[32] = "";
    median_range(v, runs, a, sizeof a);
    if (p99)
        median_range(p99, runs, b, sizeof b);
    if (per_s) {
        qsort(per_s, (size_t)runs, sizeof *per_s, cmp_double);
        double x = per_s[runs / 2];
        snprintf(c, sizeof c, x >= 1e6 ? "%.2f M" : "%.1f k", x >= 1e6 ? x / 1e6 : x / 1e3);
    }
    printf("| %-8s | %-18s | %-18s | %-13s |\n", name, a, b, c);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 7;
    if (runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: %s [runs: 1-%d, default 7]\n", argv[0], MAX_RUNS);
        return 2;
    }
    hot_pick = malloc(CALLS * sizeof *hot_pick);
    flood_keys = malloc((size_t)CALLS * sizeof *flood_keys);
    unsigned char key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    size_t sz = 8;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &sz),
                           OSSL_PARAM_construct_end()};
    mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
    tmpl = mac ? EVP_MAC_CTX_new(mac) : NULL;
    if (!hot_pick || !flood_keys || !tmpl || !EVP_MAC_init(tmpl, key, sizeof key, params)) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    for (int i = 0; i < HOT_KEYS; i++)
        snprintf(hot_keys[i], sizeof hot_keys[i], i % 2 ? "192.0.%d.%d" : "2001:db8::%x:%x",
                 i / 256, i % 256);
    for (int i = 0; i < CALLS; i++) {
        hot_pick[i] = (unsigned short)(xorshift64() % HOT_KEYS);
        snprintf(flood_keys[i], sizeof flood_keys[i], "2001:db8:%x:%x::1", i >> 16, i & 0xffff);
    }
    timer_ns = 1e9;
    for (int i = 0; i < 100000; i++) {
        double a = now_ns(), b = now_ns();
        if (b - a < timer_ns)
            timer_ns = b - a;
    }

    static double v[9][MAX_RUNS], tp[9][MAX_RUNS], p99[3][MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        v[0][r] = case_siphash();
        v[1][r] = run_case(M_HOT, 1, &tp[1][r], NULL);
        v[2][r] = run_case(M_FLOOD, 1, &tp[2][r], NULL);
        v[3][r] = run_case(M_HOT, 2, &tp[3][r], NULL);
        v[4][r] = run_case(M_HOT, 4, &tp[4][r], NULL);
        v[5][r] = run_case(M_PACED_TAKE, 4, &tp[5][r], &p99[0][r]);
        v[6][r] = run_case(M_PACED_HASH, 4, &tp[6][r], &p99[1][r]);
        v[7][r] = run_case(M_PACED_FLOOR, 4, &tp[7][r], &p99[2][r]);
    }
    printf("%d runs; median (min-max); ns per call per thread\n\n", runs);
    printf("| case     | mean ns            | p99 ns             | calls/s total |\n");
    printf("|----------|--------------------|--------------------|---------------|\n");
    row("siphash", v[0], NULL, NULL, runs);
    row("hot", v[1], NULL, tp[1], runs);
    row("flood", v[2], NULL, tp[2], runs);
    row("hot-2t", v[3], NULL, tp[3], runs);
    row("hot-4t", v[4], NULL, tp[4], runs);
    row("p-take", v[5], p99[0], tp[5], runs);
    row("p-hash", v[6], p99[1], tp[6], runs);
    row("p-floor", v[7], p99[2], tp[7], runs);
    printf("\npaced: an empty clock_gettime pair (%.0f ns) subtracted\n", timer_ns);
    EVP_MAC_CTX_free(tmpl);
    EVP_MAC_free(mac);
    free(hot_pick);
    free(flood_keys);
    return 0;
}
