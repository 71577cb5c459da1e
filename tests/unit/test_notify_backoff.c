/* test_notify_backoff.c - the retry schedule (src/notify/backoff.c). */
#include "notify/backoff.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>

#include <cmocka.h>

static void test_exponential(void **state)
{
    static const int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (unsigned a = 0; a < 8; a++)
        assert_int_equal(backoff_delay_ms(a, 1000, 60000, BACKOFF_JITTER_NONE, 0, -1), want[a]);
    /* no overflow however many attempts */
    assert_int_equal(backoff_delay_ms(UINT_MAX, 1000, 60000, BACKOFF_JITTER_NONE, 0, -1), 60000);
    assert_int_equal(backoff_delay_ms(200, INT64_MAX / 2, INT64_MAX, BACKOFF_JITTER_NONE, 0, 0),
                     INT64_MAX);
    assert_int_equal(backoff_delay_ms(UINT_MAX, 0, 60000, BACKOFF_JITTER_NONE, 0, -1), 0);
    /* cap below base: base */
    assert_int_equal(backoff_delay_ms(3, 5000, 100, BACKOFF_JITTER_NONE, 0, -1), 5000);
}

static void test_jitter(void **state)
{
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < 10000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        unsigned a = (unsigned)(x % 12);
        int64_t d = backoff_delay_ms(a, 1000, 60000, BACKOFF_JITTER_NONE, 0, -1);
        int64_t f = backoff_delay_ms(a, 1000, 60000, BACKOFF_JITTER_FULL, x, -1);
        int64_t e = backoff_delay_ms(a, 1000, 60000, BACKOFF_JITTER_EQUAL, x, -1);
        assert_true(f >= 0 && f <= d);
        assert_true(e >= d / 2 && e <= d);
        assert_int_equal(f, backoff_delay_ms(a, 1000, 60000, BACKOFF_JITTER_FULL, x, -1));
    }
    assert_int_equal(backoff_delay_ms(2, 1000, 60000, BACKOFF_JITTER_FULL, 0, -1), 0);
    assert_int_equal(backoff_delay_ms(2, 1000, 60000, BACKOFF_JITTER_FULL, 4000, -1), 4000);
    assert_int_equal(backoff_delay_ms(2, 1000, 60000, BACKOFF_JITTER_EQUAL, 0, -1), 2000);
    assert_int_equal(backoff_delay_ms(2, 1000, 60000, BACKOFF_JITTER_EQUAL, 2000, -1), 4000);
}

static void test_retry_after(void **state)
{
    /* a floor over the jittered delay */
    assert_int_equal(backoff_delay_ms(0, 1000, 60000, BACKOFF_JITTER_FULL, 0, 7000), 7000);
    assert_int_equal(backoff_delay_ms(5, 1000, 60000, BACKOFF_JITTER_NONE, 0, 7000), 32000);
    /* itself capped */
    assert_int_equal(backoff_delay_ms(0, 1000, 60000, BACKOFF_JITTER_NONE, 0, 86400000), 60000);
    assert_int_equal(backoff_delay_ms(0, 1000, 60000, BACKOFF_JITTER_NONE, 0, 0), 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exponential),
        cmocka_unit_test(test_jitter),
        cmocka_unit_test(test_retry_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
