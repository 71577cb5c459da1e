/* test_fw_mq7.c - the MQ-7 conversion (firmware/core/mq7.c): the curve at the
 * datasheet's points, monotonicity, faults at the rails and for open and
 * shorted sensors (statuses, never numbers; a short is every count whose
 * Rs/R0 is below the floor, not only counts above Vc's), a measured supply
 * voltage, the inverse used by simulators, clean-air R0, and the
 * calibration checks with their plausibility ranges. */
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
    double rs = untouched;
    assert_int_equal(mq7_raw_to_rs(&c, (uint32_t)ceil(vc_counts) + 1, &rs), MQ7_E_SHORT);
    assert_true(rs == untouched);

    /* Open: a factory offset that puts the pin at or below 0 V. */
    c.adc_offset_v = -0.1;
    assert_null(mq7_calibration_check(&c));
    assert_int_equal(mq7_raw_to_ppm(&c, 50, &ppm), MQ7_E_OPEN);
    assert_true(ppm == untouched);
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

/* A shorted sensor (Rs -> 0) puts Vout at Vc: count 3752.2 with the default
 * wiring. Every count from a few below it to the top is a fault, whatever
 * R0; and no count anywhere converts to more than the floor's ppm (the old
 * code read 3752 as 3.0e7 ppm and 3751 as 1.8e6, both "OK"). */
static void test_short_floor(void **state)
{
    static const double r0s[] = {1000, 2000, 10000, 20000, 100000};
    for (size_t k = 0; k < sizeof r0s / sizeof *r0s; k++) {
        struct mq7_calibration c = defaults();
        c.r0_ohm = r0s[k];
        assert_null(mq7_calibration_check(&c));
        uint32_t max = mq7_adc_max(&c);
        double vc_counts = c.vc_v / c.divider / c.vref_v * max;
        assert_true(vc_counts > 3752 && vc_counts < 3753);
        double floor_ppm = mq7_ratio_to_ppm(&c, c.short_ratio);
        assert_true(floor_ppm > 37000 && floor_ppm < 38000); /* 19x the 2000 ppm range */
        /* The floor's count: Rs = 0.02 R0 in the divider. With R0 = 10 kOhm
         * it is 3737, 15 below Vc's; with 1 kOhm only 1.5 below. */
        double floor_counts =
            c.vc_v * c.rl_ohm / (c.short_ratio * c.r0_ohm + c.rl_ohm) / c.divider / c.vref_v * max;
        assert_true(floor_counts < vc_counts);
        if (c.r0_ohm == 10000)
            assert_true(floor_counts < vc_counts - 14);
        uint32_t first = (uint32_t)ceil(floor_counts);
        if (first > (uint32_t)vc_counts - 1)
            first = (uint32_t)vc_counts - 1;
        for (uint32_t raw = first; raw <= max; raw++) {
            const double untouched = -7;
            double ppm = untouched;
            enum mq7_status st = mq7_raw_to_ppm(&c, raw, &ppm);
            if (raw >= max - c.rail_counts)
                assert_int_equal(st, MQ7_E_RAIL_HIGH);
            else
                assert_int_equal(st, MQ7_E_SHORT);
            assert_true(ppm == untouched);
        }
        int good = 0;
        for (uint32_t raw = 0; raw <= max; raw++) {
            double ppm = -1, rs = -1;
            enum mq7_status st = mq7_raw_to_ppm(&c, raw, &ppm);
            assert_int_equal(mq7_raw_to_rs(&c, raw, &rs), st); /* the same verdict */
            if (st != MQ7_OK)
                continue;
            good++;
            assert_true(ppm <= floor_ppm);
            assert_true(rs >= c.short_ratio * c.r0_ohm);
        }
        assert_true(good > 3400);
    }
    /* The floor is data: a higher one calls more counts a short. */
    struct mq7_calibration c = defaults();
    double ppm;
    uint32_t raw;
    assert_int_equal(mq7_ppm_to_raw(&c, 4000, &raw), MQ7_OK);
    assert_int_equal(mq7_raw_to_ppm(&c, raw, &ppm), MQ7_OK);
    c.short_ratio = MQ7_SHORT_RATIO_MAX; /* 4000 ppm's 0.090 */
    assert_null(mq7_calibration_check(&c));
    assert_int_equal(mq7_raw_to_ppm(&c, raw + 2, &ppm), MQ7_E_SHORT);
    /* The inverse says so too. */
    c = defaults();
    assert_int_equal(mq7_ppm_to_raw(&c, 50000, &raw), MQ7_E_SHORT);
    assert_true(raw > 3737 && raw <= 3752);
}

/* Vc measured for one sample: a rail 3 % low reads a true 50 ppm as ~42
 * with the nominal 5.0 V; with the measurement it reads 50. */
static void test_measured_supply(void **state)
{
    struct mq7_calibration sensor = defaults(), dev = defaults();
    sensor.vc_v = 4.85; /* what the circuit really gets */
    static const double rows[][2] = {{4.75, 37.1}, {4.85, 41.7}, {5.15, 60.8}, {5.25, 69.6}};
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        sensor.vc_v = rows[i][0];
        uint32_t raw;
        assert_int_equal(mq7_ppm_to_raw(&sensor, 50, &raw), MQ7_OK);
        double nominal, measured;
        assert_int_equal(mq7_raw_to_ppm(&dev, raw, &nominal), MQ7_OK);
        assert_int_equal(mq7_raw_to_ppm_vc(&dev, raw, rows[i][0], &measured), MQ7_OK);
        /* The table of firmware/README.md ("Supply voltage"). */
        assert_true(fabs(nominal - rows[i][1]) < 0.15);
        assert_true(fabs(measured - 50) < 0.6);
    }
    /* Same count, same Vc: the same number as mq7_raw_to_ppm. */
    double a, b;
    assert_int_equal(mq7_raw_to_ppm(&dev, 2500, &a), MQ7_OK);
    assert_int_equal(mq7_raw_to_ppm_vc(&dev, 2500, 5.0, &b), MQ7_OK);
    assert_true(a == b);
    /* A Vc above what the divider was sized for still converts; the short
     * floor still applies at it. */
    assert_int_equal(mq7_raw_to_ppm_vc(&dev, 2500, 5.5, &b), MQ7_OK);
    assert_int_equal(mq7_raw_to_ppm_vc(&dev, 4090, 5.5, &b), MQ7_OK);      /* Rs 458 Ohm */
    assert_int_equal(mq7_raw_to_ppm_vc(&dev, 3975, 5.3, &b), MQ7_E_SHORT); /* Rs 30 Ohm */
    assert_int_equal(mq7_raw_to_ppm_vc(&dev, 3975, 5.0, &b), MQ7_E_SHORT); /* above Vc */
    assert_int_equal(mq7_raw_to_ppm_vc(&dev, 3900, 5.3, &b), MQ7_OK);
    b = -3;
    assert_int_equal(mq7_raw_to_ppm_vc(&dev, 2500, 0, &b), MQ7_E_RANGE);
    assert_int_equal(mq7_raw_to_ppm_vc(&dev, 2500, NAN, &b), MQ7_E_RANGE);
    assert_int_equal(mq7_raw_to_ppm_vc(&dev, 2500, -5, &b), MQ7_E_RANGE);
    assert_true(b == -3);
    dev.r0_ohm = 10;
    assert_int_equal(mq7_raw_to_ppm_vc(&dev, 2500, 5.0, &b), MQ7_E_CALIBRATION);
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
    /* Absurd concentrations land on a rail or beyond the short floor. */
    c.r0_ohm = 100000; /* far below clean air Rs is far above RL: near 0 V */
    assert_int_equal(mq7_ppm_to_raw(&c, 0.001, &raw), MQ7_E_RAIL_LOW);
    assert_int_equal(mq7_ppm_to_raw(&c, 1e6, &raw), MQ7_E_SHORT);
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
    /* Plausibility: the datasheet's 2-20 kOhm at 100 ppm, with margin. */
    BAD(r0_ohm, 571, "1000 to 100000"); /* calibrated in 50 ppm air */
    BAD(r0_ohm, 999, "r0_ohm");
    BAD(r0_ohm, 100001, "r0_ohm");
    BAD(r0_ohm, 10, "r0_ohm");    /* entered in kOhm */
    BAD(r0_ohm, 0.001, "r0_ohm"); /* in MOhm */
    BAD(r0_ohm, 1e7, "r0_ohm");   /* in mOhm */
    BAD(rl_ohm, -1, "rl_ohm");
    BAD(rl_ohm, 999, "1000 to 1000000");
    BAD(rl_ohm, 1.1e6, "rl_ohm");
    BAD(curve_a, 0.5, "1 to 10000");
    BAD(curve_a, 20000, "curve_a");
    BAD(curve_b, -1e-6, "-5 to -0.2"); /* every reading ~99 ppm */
    BAD(curve_b, -100, "-5 to -0.2");  /* the message matches the range */
    BAD(curve_b, -5.01, "curve_b");
    BAD(curve_b, -0.19, "curve_b");
    BAD(short_ratio, 0, "short_ratio");
    BAD(short_ratio, 0.1, "short_ratio");
    BAD(short_ratio, NAN, "short_ratio");
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
    /* The ends of each range are fine. */
    static const struct {
        double r0, rl, a, b;
    } ok[] = {{1000, 1000, 1, -5}, {100000, 1e6, 10000, -0.2}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        c = defaults();
        c.r0_ohm = ok[i].r0;
        c.rl_ohm = ok[i].rl;
        c.curve_a = ok[i].a;
        c.curve_b = ok[i].b;
        assert_null(mq7_calibration_check(&c));
    }
    /* The split form: the field, and the reason without it. */
    const char *field = "x";
    c = defaults();
    assert_null(mq7_calibration_check_field(&c, &field));
    assert_string_equal(field, "x");
    c.r0_ohm = 10;
    const char *why = mq7_calibration_check_field(&c, &field);
    assert_string_equal(field, "r0_ohm");
    assert_non_null(strstr(why, "1000 to 100000 ohms"));
    assert_null(strstr(why, "r0_ohm"));
    assert_non_null(strstr(mq7_calibration_check(&c), "r0_ohm must be"));
    c = defaults();
    c.divider = 1.0;
    assert_non_null(mq7_calibration_check_field(&c, &field));
    assert_string_equal(field, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve_points),       cmocka_unit_test(test_monotonic),
        cmocka_unit_test(test_rails_are_faults),   cmocka_unit_test(test_short_floor),
        cmocka_unit_test(test_measured_supply),    cmocka_unit_test(test_rs_formula),
        cmocka_unit_test(test_inverse_round_trip), cmocka_unit_test(test_clean_air_r0),
        cmocka_unit_test(test_calibration_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
