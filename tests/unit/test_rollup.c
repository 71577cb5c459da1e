/* test_rollup.c - per-bucket aggregation (src/store/rollup.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store/rollup.h"

#define MAXB 16
struct got {
    struct store_bucket b[MAXB];
    int n;
    int stop_after; /* 0: never */
};

static bool collect(void *arg, const struct store_bucket *b)
{
    struct got *g = arg;
    assert_true(g->n < MAXB);
    g->b[g->n++] = *b;
    return !(g->stop_after && g->n >= g->stop_after);
}

static struct reading rd(int64_t ts, double co, int temp, double t)
{
    struct reading r = {.dev = 1, .ts_ms = ts, .co_ppm = co};
    if (temp) {
        r.flags |= READING_HAS_TEMP;
        r.temp_c = t;
    }
    return r;
}

static void test_buckets_aligned_to_epoch(void **state)
{
    struct got g = {0};
    struct rollup r;
    rollup_init(&r, 60000, collect, &g);
    /* 00:00:59.999 and 00:01:00.000 fall in different minutes. */
    struct reading in[] = {rd(59999, 10, 1, 20), rd(60000, 30, 0, 0), rd(60001, 50, 1, 22),
                           rd(119999, 20, 0, 0), rd(300000, 5, 0, 0)};
    for (size_t i = 0; i < sizeof in / sizeof *in; i++)
        assert_true(rollup_add(&r, &in[i]));
    rollup_finish(&r);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.b[0].start, 0);
    assert_int_equal(g.b[0].count, 1);
    assert_int_equal(g.b[1].start, 60000);
    assert_int_equal(g.b[1].count, 3);
    assert_true(g.b[1].co_min == 20 && g.b[1].co_max == 50 && g.b[1].co_sum == 100);
    assert_int_equal(g.b[1].temp_n, 1);
    assert_true(g.b[1].temp_sum == 22);
    assert_int_equal(g.b[2].start, 300000); /* empty minutes are not emitted */
}

static void test_negative_times_floor(void **state)
{
    struct got g = {0};
    struct rollup r;
    rollup_init(&r, 1000, collect, &g);
    struct reading a = rd(-1, 1, 0, 0), b = rd(-1000, 2, 0, 0), c = rd(0, 3, 0, 0);
    rollup_add(&r, &b);
    rollup_add(&r, &a);
    rollup_add(&r, &c);
    rollup_finish(&r);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.b[0].start, -1000); /* -1 ms belongs to [-1000, 0) */
    assert_int_equal(g.b[0].count, 2);
    assert_int_equal(g.b[1].start, 0);
}

static void test_consumer_can_stop(void **state)
{
    struct got g = {.stop_after = 1};
    struct rollup r;
    rollup_init(&r, 10, collect, &g);
    struct reading a = rd(1, 1, 0, 0), b = rd(11, 1, 0, 0), c = rd(21, 1, 0, 0);
    assert_true(rollup_add(&r, &a));
    assert_false(rollup_add(&r, &b)); /* emitting bucket 0 asked to stop */
    rollup_add(&r, &c);
    rollup_finish(&r);
    assert_int_equal(g.n, 1);
}

static void test_empty(void **state)
{
    struct got g = {0};
    struct rollup r;
    rollup_init(&r, 10, collect, &g);
    rollup_finish(&r);
    assert_int_equal(g.n, 0);
}

static void test_parts_merge_with_readings(void **state)
{
    struct got g = {0};
    struct rollup r;
    rollup_init(&r, 120000, collect, &g);
    /* Two stored minutes and a reading share the first 2-minute bucket. */
    struct store_bucket m0 = {.start = 0,
                              .count = 2,
                              .co_min = 3,
                              .co_max = 9,
                              .co_sum = 12,
                              .temp_n = 1,
                              .temp_sum = 20},
                        m1 = {.start = 60000, .count = 1, .co_min = 1, .co_max = 1, .co_sum = 1},
                        m2 = {.start = 240000, .count = 3, .co_min = 2, .co_max = 4, .co_sum = 9},
                        empty = {.start = 250000};
    struct reading a = rd(70000, 40, 1, 22);
    assert_true(rollup_add_part(&r, &m0));
    assert_true(rollup_add_part(&r, &m1));
    assert_true(rollup_add(&r, &a));
    assert_true(rollup_add_part(&r, &m2));
    assert_true(rollup_add_part(&r, &empty)); /* nothing to add */
    rollup_finish(&r);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.b[0].start, 0);
    assert_int_equal(g.b[0].count, 4);
    assert_true(g.b[0].co_min == 1 && g.b[0].co_max == 40 && g.b[0].co_sum == 53);
    assert_true(g.b[0].temp_n == 2 && g.b[0].temp_sum == 42);
    assert_int_equal(g.b[1].start, 240000);
    assert_int_equal(g.b[1].count, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_buckets_aligned_to_epoch),
        cmocka_unit_test(test_negative_times_floor),
        cmocka_unit_test(test_consumer_can_stop),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_parts_merge_with_readings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
