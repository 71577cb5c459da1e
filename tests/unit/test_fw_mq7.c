/* test_fw_mq7.c - the MQ-7 conversion (firmware/core/mq7.c): the curve at the
 * datasheet's points, monotonicity, faults at the rails and for open and
 * shorted sensors (statuses, never numbers), the inverse used by
 * simulators, clean-air R0, and the calibration checks. */
#include "mq7.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static struct mq7_calibration defaults(void)
{
    struct mq7_calibration c;
    mq7_calibration_default(&c);
    assert_null(mq7_calibration_check(&c));
    return c;
}

static void test_curve_points(void **state)
{
    struct mq7_calibration c = defaults();
    /* REFERENCES.md section 4: 99 ppm at Rs/R0 = 1, 428 at 0.381. */
    assert_true(fabs(mq7_ratio_to_ppm(&c, 1.0) - 99.0) <= 1.0);
    assert_true(fabs(mq7_ratio_to_ppm(&c, 0.381) - 428.0) <= 2.0);
    /* The digitised datasheet points, within 10% (it is a fit). */
    static const double pts[][2] = {{50, 1.605}, {100, 1.0}, {400, 0.381}, {1000, 0.217}};
    for (size_t i = 0; i < sizeof pts / sizeof *pts; i++) {
        double ppm = mq7_ratio_to_ppm(&c, pts[i][1]);
        assert_true(fabs(ppm - pts[i][0]) <= 0.1 * pts[i][0]);
    }
    /* Clean air (27.5) is well under 1 ppm. */
    assert_true(mq7_ratio_to_ppm(&c, MQ7_CLEAN_AIR_RATIO) < 1.0);
    assert_true(mq7_ratio_to_ppm(&c, 0) < 0);
    assert_true(mq7_ratio_to_ppm(&c, -1) < 0);
    assert_true(mq7_ratio_to_ppm(&c, NAN) < 0);
}

static void test_monotonic(void **state)
{
    struct mq7_calibration c = defaults();
    double prev = INFINITY;
    for (double r = 0.05; r < 40; r *= 1.01) {
        double ppm = mq7_ratio_to_ppm(&c, r);
        assert_true(ppm > 0 && ppm < prev);
        prev = ppm;
    }
    /* In counts: more counts = higher Vout = lower Rs = more CO. */
    prev = 0;
    uint32_t max = mq7_adc_max(&c);
    assert_int_equal(max, 4095);
    int good = 0;
    for (uint32_t raw = 0; raw <= max; raw++) {
        double ppm = -1;
        if (mq7_raw_to_ppm(&c, raw, &ppm) != MQ7_OK)
            continue;
        assert_true(ppm > prev);
        prev = ppm;
        good++;
    }
    assert_true(good > 3500);
}

static void test_rails_are_faults(void **state)
{
    struct mq7_calibration c = defaults();
    uint32_t max = mq7_adc_max(&c);
    const double untouched = 12345.0;
    double ppm = untouched;
    for (uint32_t raw = 0; raw <= c.rail_counts; raw++) {
        assert_int_equal(mq7_raw_to_ppm(&c, raw, &ppm), MQ7_E_RAIL_LOW);
        assert_int_equal(mq7_raw_to_ppm(&c, max - raw, &ppm), MQ7_E_RAIL_HIGH);
    }
    assert_int_equal(mq7_raw_to_ppm(&c, max + 1, &ppm), MQ7_E_RANGE);
    assert_int_equal(mq7_raw_to_ppm(&c, UINT32_MAX, &ppm), MQ7_E_RANGE);
    assert_true(ppm == untouched);
    assert_int_equal(mq7_raw_to_ppm(&c, c.rail_counts + 1, &ppm), MQ7_OK);
    assert_true(ppm > 0 && ppm < 0.1); /* nearly open: Rs huge, no CO */

    /* Short: Vout at or above Vc. With the default divider Vc maps to about
     * 3752 counts; anything above is impossible for a working sensor. */
    ppm = untouched;
    double vc_counts = c.vc_v / c.divider / c.vref_v * max;
    assert_int_equal(mq7_raw_to_ppm(&c, (uint32_t)ceil(vc_counts) + 1, &ppm), MQ7_E_SHORT);
    assert_int_equal(mq7_raw_to_ppm(&c, max - c.rail_counts - 1, &ppm), MQ7_E_SHORT);
    assert_true(ppm == untouched);

    /* Open: a factory offset that puts the pin at or below 0 V. */
    c.adc_offset_v = -0.1;
    assert_null(mq7_calibration_check(&c));
    assert_int_equal(mq7_raw_to_ppm(&c, 50, &ppm), MQ7_E_OPEN);
    assert_true(ppm == untouched);
    double rs = untouched;
    assert_int_equal(mq7_raw_to_rs(&c, 50, &rs), MQ7_E_OPEN);
    assert_true(rs == untouched);

    /* A bad calibration is a status too. */
    c = defaults();
    c.r0_ohm = 0;
    assert_int_equal(mq7_raw_to_ppm(&c, 2000, &ppm), MQ7_E_CALIBRATION);
    assert_true(ppm == untouched);
    for (int s = 0; s < MQ7_NSTATUS; s++)
        assert_non_null(mq7_strerror((enum mq7_status)s));
    assert_string_equal(mq7_strerror(MQ7_NSTATUS), "unknown status");
}

/* Rs = (Vc/Vout - 1) * RL, by hand, for one count. */
static void test_rs_formula(void **state)
{
    struct mq7_calibration c = defaults();
    uint32_t raw = 2000;
    double vpin = raw * 2.45 / 4095;
    double vout = vpin * c.divider;
    double want = (5.0 / vout - 1) * c.rl_ohm;
    double rs;
    assert_int_equal(mq7_raw_to_rs(&c, raw, &rs), MQ7_OK);
    assert_true(fabs(rs - want) < 1e-6 * want);
    double ppm;
    assert_int_equal(mq7_raw_to_ppm(&c, raw, &ppm), MQ7_OK);
    assert_true(fabs(ppm - 99.042 * pow(want / c.r0_ohm, -1.518)) < 1e-9 * ppm);

    /* The factory correction is applied to the pin voltage. */
    c.adc_gain = 1.02;
    c.adc_offset_v = 0.01;
    c.divider = 2.5; /* keeps Vc inside the corrected full scale */
    assert_null(mq7_calibration_check(&c));
    vout = (vpin * 1.02 + 0.01) * 2.5;
    want = (5.0 / vout - 1) * c.rl_ohm;
    assert_int_equal(mq7_raw_to_rs(&c, raw, &rs), MQ7_OK);
    assert_true(fabs(rs - want) < 1e-6 * want);

    /* 10-bit ADC on a 5 V reference, no divider (an Arduino-style wiring). */
    c = defaults();
    c.adc_bits = 10;
    c.vref_v = 5.0;
    c.divider = 1.0;
    c.rl_ohm = 10000;
    assert_null(mq7_calibration_check(&c));
    assert_int_equal(mq7_adc_max(&c), 1023);
    assert_int_equal(mq7_raw_to_rs(&c, 512, &rs), MQ7_OK);
    want = (5.0 / (512 * 5.0 / 1023) - 1) * 10000;
    assert_true(fabs(rs - want) < 1e-6 * want);
}

static void test_inverse_round_trip(void **state)
{
    struct mq7_calibration c = defaults();
    for (double ppm = 1; ppm <= 4000; ppm *= 1.3) {
        uint32_t raw;
        assert_int_equal(mq7_ppm_to_raw(&c, ppm, &raw), MQ7_OK);
        double back;
        assert_int_equal(mq7_raw_to_ppm(&c, raw, &back), MQ7_OK);
        /* One count of quantisation: tight at low ppm, looser at the top
         * where the curve is flat in counts. */
        double tol = ppm < 500 ? 0.03 : 0.15;
        assert_true(fabs(back - ppm) <= tol * ppm + 0.05);
    }
    uint32_t raw = 7;
    assert_int_equal(mq7_ppm_to_raw(&c, 0, &raw), MQ7_E_RANGE);
    assert_int_equal(mq7_ppm_to_raw(&c, -5, &raw), MQ7_E_RANGE);
    assert_int_equal(mq7_ppm_to_raw(&c, NAN, &raw), MQ7_E_RANGE);
    assert_int_equal(raw, 7);
    /* Absurd concentrations land on a rail or beyond Vc: not a number. */
    c.r0_ohm = 1e8; /* clean air would give Rs far above RL: near 0 V */
    assert_int_equal(mq7_ppm_to_raw(&c, 0.01, &raw), MQ7_E_RAIL_LOW);
}

static void test_clean_air_r0(void **state)
{
    assert_true(fabs(mq7_r0_from_clean_air(275000, MQ7_CLEAN_AIR_RATIO) - 10000) < 1e-6);
    assert_true(fabs(mq7_r0_from_clean_air(258000, MQ7_CLEAN_AIR_RATIO_DATASHEET) - 10000) < 1e-6);
    assert_true(mq7_r0_from_clean_air(0, 27.5) < 0);
    assert_true(mq7_r0_from_clean_air(INFINITY, 27.5) < 0);
    assert_true(mq7_r0_from_clean_air(1000, 0) < 0);
}

static void test_calibration_check(void **state)
{
    struct mq7_calibration c;
#define BAD(field, value, word)                                                                    \
    do {                                                                                           \
        c = defaults();                                                                            \
        c.field = value;                                                                           \
        const char *why = mq7_calibration_check(&c);                                               \
        assert_non_null(why);                                                                      \
        assert_non_null(strstr(why, word));                                                        \
    } while (0)
    BAD(r0_ohm, 0, "r0_ohm");
    BAD(r0_ohm, NAN, "r0_ohm");
    BAD(r0_ohm, 2e9, "r0_ohm");
    BAD(rl_ohm, -1, "rl_ohm");
    BAD(divider, 0.5, "divider");
    BAD(divider, INFINITY, "divider");
    BAD(adc_bits, 5, "adc_bits");
    BAD(adc_bits, 25, "adc_bits");
    BAD(vref_v, 0, "vref_v");
    BAD(vc_v, NAN, "vc_v");
    BAD(adc_gain, 0, "adc_gain");
    BAD(adc_offset_v, 1.0, "adc_offset_v");
    BAD(rail_counts, 600, "rail_counts");
    BAD(curve_a, 0, "curve_a");
    BAD(curve_b, 0.5, "curve_b");
    BAD(curve_b, 0, "curve_b");
    /* 5 V straight into a 2.45 V ADC would rail at high CO: refused. */
    BAD(divider, 1.0, "full-scale");
#undef BAD
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve_points),       cmocka_unit_test(test_monotonic),
        cmocka_unit_test(test_rails_are_faults),   cmocka_unit_test(test_rs_formula),
        cmocka_unit_test(test_inverse_round_trip), cmocka_unit_test(test_clean_air_r0),
        cmocka_unit_test(test_calibration_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
