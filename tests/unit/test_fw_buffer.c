/* test_fw_buffer.c - the firmware's data path without a device: aggregation
 * of samples with the peak kept (fw_reading.c), the offline ring's order and
 * overflow policy (fw_ring.c), the JSON payload and its bounds
 * (fw_payload.c), and the backoff with jitter (fw_backoff.c). */
#include "fw_backoff.h"
#include "fw_payload.h"
#include "fw_reading.h"
#include "fw_ring.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define TS0 1795622400000LL /* 2026-11-25T16:00:00Z */

static struct fw_sample good(int64_t t, double ppm, uint32_t raw)
{
    return (struct fw_sample){.mono_ms = t, .raw = raw, .status = MQ7_OK, .ppm = ppm};
}

static void test_agg_peak(void **state)
{
    struct fw_agg a;
    fw_agg_reset(&a);
    struct fw_reading r;
    assert_false(fw_agg_take(&a, true, &r));
    struct fw_sample s[3] = {good(1000, 10, 900), good(2000, 80, 2500), good(3000, 30, 1500)};
    s[2].flags = FW_RD_TEMP | FW_RD_HUM;
    s[2].temp_c = 21.5;
    s[2].hum_pct = 40;
    for (int i = 0; i < 3; i++)
        assert_int_equal(fw_agg_add(&a, &s[i]), i + 1);
    assert_true(fw_agg_take(&a, true, &r));
    assert_true(r.ppm == 80 && r.peak_ppm == 80);
    assert_true(fabs(r.mean_ppm - 40) < 1e-9);
    assert_int_equal(r.raw, 2500); /* the peak sample's count */
    assert_int_equal(r.mono_ms, 3000);
    assert_int_equal(r.nsamples, 3);
    assert_int_equal(r.ngood, 3);
    assert_int_equal(r.flags, FW_RD_TEMP | FW_RD_HUM);
    assert_true(r.temp_c == 21.5 && r.hum_pct == 40);
    assert_true(fw_reading_has_ppm(&r));
    assert_int_equal(a.n, 0); /* reset */

    /* Mean mode; a fault among good samples is noted but the ppm stands. */
    fw_agg_add(&a, &s[0]);
    struct fw_sample f = {.mono_ms = 4000, .raw = 0, .status = MQ7_E_RAIL_LOW};
    fw_agg_add(&a, &f);
    fw_agg_add(&a, &s[1]);
    assert_true(fw_agg_take(&a, false, &r));
    assert_true(fabs(r.ppm - 45) < 1e-9);
    assert_true(r.peak_ppm == 80);
    assert_true(r.flags & FW_RD_FAULT);
    assert_int_equal(r.status, MQ7_E_RAIL_LOW);
    assert_int_equal(r.ngood, 2);

    /* Only faults: no ppm, the last count. */
    f.raw = 4095;
    f.status = MQ7_E_RAIL_HIGH;
    fw_agg_add(&a, &f);
    assert_true(fw_agg_take(&a, true, &r));
    assert_false(fw_reading_has_ppm(&r));
    assert_int_equal(r.raw, 4095);
    assert_true(r.ppm == 0);
}

static struct fw_reading rd(uint32_t seq, double ppm)
{
    return (struct fw_reading){.seq = seq,
                               .ts_ms = TS0 + seq * 150000LL,
                               .ppm = ppm,
                               .peak_ppm = ppm,
                               .ngood = 1,
                               .nsamples = 1};
}

static void test_ring_order_and_overflow(void **state)
{
    static struct fw_ring ring;
    fw_ring_init(&ring, 5);
    assert_int_equal(fw_ring_count(&ring), 0);
    assert_null(fw_ring_at(&ring, 0));
    for (uint32_t i = 1; i <= 5; i++) {
        struct fw_reading r = rd(i, 1);
        assert_int_equal(fw_ring_push(&ring, &r, 30), 0);
    }
    /* Full: the oldest (1) goes; order kept, wrapping around. */
    struct fw_reading r = rd(6, 1);
    assert_int_equal(fw_ring_push(&ring, &r, 30), 1);
    assert_int_equal(ring.dropped, 1);
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(fw_ring_at(&ring, i)->seq, i + 2);
    fw_ring_pop(&ring, 2);
    assert_int_equal(fw_ring_at(&ring, 0)->seq, 4);
    assert_int_equal(fw_ring_count(&ring), 3);

    /* Dangerous readings outlive clean ones: 7 (90 ppm) stays while older
     * clean readings are dropped around it. */
    r = rd(7, 90);
    fw_ring_push(&ring, &r, 30);
    r = rd(8, 1);
    fw_ring_push(&ring, &r, 30);
    for (uint32_t s = 9; s <= 14; s++) {
        r = rd(s, 1);
        assert_int_equal(fw_ring_push(&ring, &r, 30), 1);
    }
    uint32_t want[5] = {7, 11, 12, 13, 14};
    for (uint32_t i = 0; i < 5; i++)
        assert_int_equal(fw_ring_at(&ring, i)->seq, want[i]);
    assert_int_equal(ring.dropped, 7);

    /* All dangerous: the oldest goes. */
    fw_ring_init(&ring, 3);
    for (uint32_t s = 1; s <= 4; s++) {
        r = rd(s, 200);
        fw_ring_push(&ring, &r, 30);
    }
    assert_int_equal(fw_ring_at(&ring, 0)->seq, 2);
    assert_int_equal(fw_ring_at(&ring, 2)->seq, 4);
    /* Fault readings (no ppm) are not kept over dangerous ones either. */
    fw_ring_init(&ring, 2);
    r = rd(1, 200);
    fw_ring_push(&ring, &r, 30);
    r = rd(2, 0);
    r.ngood = 0;
    fw_ring_push(&ring, &r, 30);
    r = rd(3, 200);
    fw_ring_push(&ring, &r, 30);
    assert_int_equal(fw_ring_at(&ring, 0)->seq, 1);
    assert_int_equal(fw_ring_at(&ring, 1)->seq, 3);
    /* Capacity is clamped. */
    fw_ring_init(&ring, 0);
    assert_int_equal(ring.cap, 1);
    fw_ring_init(&ring, FW_RING_CAP + 5);
    assert_int_equal(ring.cap, FW_RING_CAP);
    fw_ring_pop(&ring, 10); /* popping an empty ring is harmless */
    assert_int_equal(fw_ring_count(&ring), 0);
}

static void test_fmt(void **state)
{
    char b[32];
    static const struct {
        double v;
        unsigned d;
        const char *want;
    } cases[] = {
        {0, 2, "0.00"},
        {21.4, 2, "21.40"},
        {-40, 2, "-40.00"},
        {10000, 2, "10000.00"},
        {0.125, 2, "0.13"},
        {-0.004, 2, "0.00"},
        {99.999, 2, "100.00"},
        {3, 0, "3"},
        {1795622460.125, 3, "1795622460.125"},
        {-1.5, 1, "-1.5"},
        {123456.789, 6, "123456.789000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        assert_int_equal(fw_fmt_fixed(b, sizeof b, cases[i].v, cases[i].d), strlen(cases[i].want));
        assert_string_equal(b, cases[i].want);
    }
    strcpy(b, "x");
    assert_int_equal(fw_fmt_fixed(b, sizeof b, NAN, 2), 0);
    assert_int_equal(fw_fmt_fixed(b, sizeof b, INFINITY, 2), 0);
    assert_int_equal(fw_fmt_fixed(b, sizeof b, 1e15, 2), 0);
    assert_int_equal(fw_fmt_fixed(b, sizeof b, 1, 7), 0);
    assert_int_equal(fw_fmt_fixed(b, 5, 12.5, 2), 0); /* "12.50" needs 6 bytes */
    assert_string_equal(b, "x");
    assert_int_equal(fw_fmt_fixed(b, 6, 12.5, 2), 5);
    assert_int_equal(fw_fmt_int(b, sizeof b, INT64_MIN), 20);
    assert_string_equal(b, "-9223372036854775808");
    assert_int_equal(fw_fmt_int(b, sizeof b, 0), 1);
    assert_string_equal(b, "0");
    assert_int_equal(fw_fmt_int(b, 3, 123), 0);
}

static void test_payload(void **state)
{
    char b[512];
    struct fw_reading r = rd(1, 12.345678);
    r.ts_ms = TS0 + 60125;
    r.raw = 1840;
    r.flags = FW_RD_TEMP | FW_RD_HUM;
    r.temp_c = 21.4;
    r.hum_pct = 45;
    const char *want = "{\"device_id\":\"kitchen-1\",\"ts\":1795622460.125,\"co_ppm\":12.35,"
                       "\"temperature_c\":21.40,\"humidity_pct\":45.00}";
    assert_int_equal(fw_payload_reading(b, sizeof b, "kitchen-1", &r, FW_PAYLOAD_PPM),
                     strlen(want));
    assert_string_equal(b, want);
    r.flags = 0;
    fw_payload_reading(b, sizeof b, "k", &r, FW_PAYLOAD_BOTH);
    assert_string_equal(b, "{\"device_id\":\"k\",\"ts\":1795622460.125,\"co_ppm\":12.35,"
                           "\"co_raw\":1840}");
    fw_payload_reading(b, sizeof b, "k", &r, FW_PAYLOAD_RAW);
    assert_string_equal(b, "{\"device_id\":\"k\",\"ts\":1795622460.125,\"co_raw\":1840}");
    /* A fault reading carries its count only, whatever the mode. */
    r.ngood = 0;
    r.raw = 0;
    fw_payload_reading(b, sizeof b, "k", &r, FW_PAYLOAD_PPM);
    assert_string_equal(b, "{\"device_id\":\"k\",\"ts\":1795622460.125,\"co_raw\":0}");
    /* Clamp to the API's ranges; out-of-range climate values left out. */
    r = rd(1, 25000);
    r.ts_ms = TS0;
    r.flags = FW_RD_TEMP | FW_RD_HUM;
    r.temp_c = 130;
    r.hum_pct = NAN;
    fw_payload_reading(b, sizeof b, "k", &r, FW_PAYLOAD_PPM);
    assert_string_equal(b, "{\"device_id\":\"k\",\"ts\":1795622400.000,\"co_ppm\":10000.00}");
    /* No ts yet: not sendable. */
    r.ts_ms = 0;
    assert_int_equal(fw_payload_reading(b, sizeof b, "k", &r, FW_PAYLOAD_PPM), 0);

    /* Bounds: every size from 0 up to the full length; never a byte past
     * cap, and either the whole object or nothing. */
    r = rd(1, 7);
    size_t full = fw_payload_reading(b, sizeof b, "kitchen-1", &r, FW_PAYLOAD_PPM);
    for (size_t cap = 0; cap <= full + 1; cap++) {
        char c[600];
        memset(c, '#', sizeof c);
        size_t n = fw_payload_reading(c, cap, "kitchen-1", &r, FW_PAYLOAD_PPM);
        assert_int_equal(n, cap > full ? full : 0);
        for (size_t i = cap; i < sizeof c; i++)
            assert_int_equal(c[i], '#');
    }

    assert_true(fw_device_id_valid("kitchen-1"));
    assert_true(fw_device_id_valid("a.b_c:d-E9"));
    assert_false(fw_device_id_valid(""));
    assert_false(fw_device_id_valid("with space"));
    assert_false(fw_device_id_valid("quote\""));
    char id[66];
    memset(id, 'a', 65);
    id[65] = '\0';
    assert_false(fw_device_id_valid(id));
    id[64] = '\0';
    assert_true(fw_device_id_valid(id));
}

static void test_batch(void **state)
{
    static struct fw_ring ring;
    static char b[4096];
    fw_ring_init(&ring, 64);
    for (uint32_t i = 1; i <= 40; i++) {
        struct fw_reading r = rd(i, i);
        fw_ring_push(&ring, &r, 30);
    }
    uint32_t n;
    size_t len = fw_payload_batch(b, sizeof b, "k", &ring, 3, FW_PAYLOAD_PPM, &n);
    assert_int_equal(n, 3);
    assert_int_equal(len, strlen(b));
    assert_string_equal(b, "[{\"device_id\":\"k\",\"ts\":1795622550.000,\"co_ppm\":1.00},"
                           "{\"device_id\":\"k\",\"ts\":1795622700.000,\"co_ppm\":2.00},"
                           "{\"device_id\":\"k\",\"ts\":1795622850.000,\"co_ppm\":3.00}]");
    /* Limited by the buffer: as many whole readings as fit, still valid. */
    for (size_t cap = 0; cap < 400; cap++) {
        memset(b, '#', sizeof b);
        len = fw_payload_batch(b, cap, "k", &ring, 40, FW_PAYLOAD_PPM, &n);
        if (n == 0) {
            assert_int_equal(len, 0);
        } else {
            assert_true(len < cap);
            assert_int_equal(b[0], '[');
            assert_int_equal(b[len - 1], ']');
            assert_int_equal(b[len], '\0');
        }
        for (size_t i = cap; i < sizeof b; i++)
            assert_int_equal(b[i], '#');
    }
    /* Stops before the first reading without a ts. */
    fw_ring_at(&ring, 2)->ts_ms = 0;
    fw_payload_batch(b, sizeof b, "k", &ring, 40, FW_PAYLOAD_PPM, &n);
    assert_int_equal(n, 2);
    fw_ring_at(&ring, 0)->ts_ms = 0;
    assert_int_equal(fw_payload_batch(b, sizeof b, "k", &ring, 40, FW_PAYLOAD_PPM, &n), 0);
    assert_int_equal(n, 0);
}

static void test_backoff(void **state)
{
    struct fw_backoff b;
    fw_backoff_init(&b, 5000, 600000);
    int64_t step = 5000;
    for (int i = 0; i < 12; i++) {
        /* Equal jitter: within [step/2, step]. */
        int64_t lo = fw_backoff_fail(&b, 0);
        assert_int_equal(lo, step - step / 2);
        assert_int_equal(b.step_ms, step);
        step = step * 2 > 600000 ? 600000 : step * 2;
    }
    assert_int_equal(b.step_ms, 600000);
    assert_int_equal(fw_backoff_fail(&b, UINT32_MAX) <= 600000, 1);
    assert_true(fw_backoff_fail(&b, 123456) >= 300000);
    fw_backoff_reset(&b);
    assert_int_equal(fw_backoff_fail(&b, 2500), 5000); /* 2500 + 2500 % 2501 */
    assert_int_equal(b.failures, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_agg_peak), cmocka_unit_test(test_ring_order_and_overflow),
        cmocka_unit_test(test_fmt),      cmocka_unit_test(test_payload),
        cmocka_unit_test(test_batch),    cmocka_unit_test(test_backoff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
