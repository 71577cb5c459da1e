/* test_fw_heater.c - the MQ-7 heater cycle (firmware/core/fw_heater.c) over
 * simulated hours: exact 60 s / 90 s phases, one sample per cycle just
 * before each low phase ends and never elsewhere, coarse and late steps. */
#include "fw_heater.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define SEC 1000LL
#define HOUR 3600000LL

struct trace {
    int64_t high_at, low_at; /* start of the current phases */
    int highs, lows, samples;
};

/* Steps h from t0 to t1 by step ms and checks every event against the
 * datasheet timing. */
static void run(struct fw_heater *h, struct trace *t, int64_t t0, int64_t t1, int64_t step)
{
    for (int64_t now = t0; now <= t1; now += step) {
        enum fw_heater_event ev;
        while ((ev = fw_heater_poll(h, now)) != FW_HEATER_EV_NONE) {
            switch (ev) {
            case FW_HEATER_EV_HIGH:
                if (t->highs)
                    assert_int_equal(now - t->low_at, 90 * SEC); /* the low phase lasted 90 s */
                t->high_at = now;
                t->highs++;
                assert_int_equal(h->phase, FW_HEATER_PHASE_HIGH);
                break;
            case FW_HEATER_EV_LOW:
                assert_int_equal(now - t->high_at, 60 * SEC); /* the high phase lasted 60 s */
                t->low_at = now;
                t->lows++;
                assert_int_equal(h->phase, FW_HEATER_PHASE_LOW);
                break;
            case FW_HEATER_EV_SAMPLE:
                /* Only in a low phase, 0.5 s before it ends. */
                assert_int_equal(h->phase, FW_HEATER_PHASE_LOW);
                assert_int_equal(now - t->low_at, 89500);
                t->samples++;
                break;
            default:
                fail();
            }
        }
    }
}

static void test_exact_phases_over_hours(void **state)
{
    struct fw_heater_config c;
    fw_heater_config_default(&c);
    assert_null(fw_heater_config_check(&c));
    struct fw_heater h;
    struct trace t = {0};
    fw_heater_start(&h, &c, 0);
    run(&h, &t, 0, 6 * HOUR, 100);
    /* 6 h = 144 cycles of 150 s; the 145th high phase starts at 6 h. */
    assert_int_equal(t.highs, 145);
    assert_int_equal(t.lows, 144);
    assert_int_equal(t.samples, 144);
    assert_int_equal(h.cycles, 145);
}

static void test_coarse_steps(void **state)
{
    /* A simulator stepping by 500 ms or 1.5 s: events due together come out
     * in order, and nominal times are kept (within the 1 s tolerance). */
    struct fw_heater_config c;
    fw_heater_config_default(&c);
    struct fw_heater h;
    fw_heater_start(&h, &c, 1000);
    struct trace t = {0};
    run(&h, &t, 1000, 1000 + 2 * HOUR, 500);
    assert_int_equal(t.samples, 48);

    /* With 1.5 s steps the 0.5 s lead cannot be hit exactly: the sample and
     * the switch to high fall in one step, sample first. */
    fw_heater_start(&h, &c, 0);
    int samples = 0, order_ok = 1;
    enum fw_heater_event prev = FW_HEATER_EV_NONE;
    for (int64_t now = 0; now <= 2 * HOUR; now += 1500) {
        enum fw_heater_event ev;
        while ((ev = fw_heater_poll(&h, now)) != FW_HEATER_EV_NONE) {
            if (ev == FW_HEATER_EV_SAMPLE) {
                samples++;
                order_ok &= prev == FW_HEATER_EV_LOW;
            }
            if (ev == FW_HEATER_EV_HIGH && prev != FW_HEATER_EV_NONE)
                order_ok &= prev == FW_HEATER_EV_SAMPLE;
            prev = ev;
        }
    }
    assert_true(order_ok);
    assert_int_equal(samples, 48);
}

static void test_stall_restarts_phase(void **state)
{
    /* A stall of 20 s at the low switch: the low phase then starts late but
     * still lasts 90 s (sample 89.5 s after it began). */
    struct fw_heater_config c;
    fw_heater_config_default(&c);
    struct fw_heater h;
    fw_heater_start(&h, &c, 0);
    assert_int_equal(fw_heater_poll(&h, 0), FW_HEATER_EV_HIGH);
    assert_int_equal(fw_heater_poll(&h, 59 * SEC), FW_HEATER_EV_NONE);
    assert_int_equal(fw_heater_until_next(&h, 59 * SEC), 1000);
    assert_int_equal(fw_heater_poll(&h, 80 * SEC), FW_HEATER_EV_LOW);
    assert_int_equal(h.phase_start_ms, 80 * SEC);
    assert_int_equal(fw_heater_poll(&h, 169 * SEC), FW_HEATER_EV_NONE);
    assert_int_equal(fw_heater_poll(&h, 169500), FW_HEATER_EV_SAMPLE);
    assert_int_equal(fw_heater_poll(&h, 169500), FW_HEATER_EV_NONE);
    assert_int_equal(fw_heater_poll(&h, 170 * SEC), FW_HEATER_EV_HIGH);
    /* A switch 0.8 s late keeps the nominal schedule. */
    assert_int_equal(fw_heater_poll(&h, 230800), FW_HEATER_EV_LOW);
    assert_int_equal(h.phase_start_ms, 230 * SEC);
}

static void test_config_check(void **state)
{
    struct fw_heater_config c;
    fw_heater_config_default(&c);
    assert_int_equal(c.high_ms, 60000);
    assert_int_equal(c.low_ms, 90000);
    c.low_ms = 0;
    assert_non_null(fw_heater_config_check(&c));
    fw_heater_config_default(&c);
    c.sample_lead_ms = 90000;
    assert_non_null(fw_heater_config_check(&c));
    fw_heater_config_default(&c);
    c.late_ms = -1;
    assert_non_null(fw_heater_config_check(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_phases_over_hours),
        cmocka_unit_test(test_coarse_steps),
        cmocka_unit_test(test_stall_restarts_phase),
        cmocka_unit_test(test_config_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
