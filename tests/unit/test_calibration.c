/* test_calibration.c - the server side of co_raw (src/api/calibration.c and
 * api_reading_parse): a device's calibration JSON as the firmware core's
 * struct mq7_calibration, impossible calibrations refused with the key
 * named, and the server's conversion of a raw value giving exactly what the
 * device's own core (mq7_raw_to_ppm) gives for the same raw value and
 * calibration. */
#include "api/api.h"
#include "api/calibration.h"
#include "mq7.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static bool parse_text(const char *text, struct device_calibration *c, struct jv_err *e)
{
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    bool ok = calibration_parse(o, c, e);
    json_decref(o);
    return ok;
}

/* Field by field (the struct has padding). */
static void assert_same(const struct mq7_calibration *a, const struct mq7_calibration *b)
{
    assert_true(a->r0_ohm == b->r0_ohm && a->rl_ohm == b->rl_ohm && a->divider == b->divider);
    assert_true(a->adc_bits == b->adc_bits && a->vref_v == b->vref_v && a->vc_v == b->vc_v);
    assert_true(a->adc_gain == b->adc_gain && a->adc_offset_v == b->adc_offset_v);
    assert_true(a->rail_counts == b->rail_counts && a->curve_a == b->curve_a &&
                a->curve_b == b->curve_b && a->short_ratio == b->short_ratio);
}

static void test_defaults(void **state)
{
    struct device_calibration c;
    struct mq7_calibration d;
    mq7_calibration_default(&d);
    assert_true(calibration_load(NULL, &c));
    assert_false(c.calibrated);
    assert_false(c.input_raw);
    assert_same(&c.mq7, &d);
    assert_true(calibration_load("{}", &c));
    assert_false(c.calibrated);
    assert_same(&c.mq7, &d);
    /* Unreadable stored text: the defaults, not calibrated. */
    assert_false(calibration_load("{\"r0_ohms\":-1}", &c));
    assert_false(c.calibrated);
    assert_false(calibration_load("not json", &c));
}

static void test_mapping(void **state)
{
    struct device_calibration c;
    struct jv_err e;
    assert_true(parse_text("{\"r0_ohms\":12000,\"rl_ohms\":10000,\"divider_ratio\":2,"
                           "\"adc_bits\":10,\"vref_volts\":3.3,\"vc_volts\":5,\"adc_gain\":1.01,"
                           "\"adc_offset_volts\":-0.02,\"rail_counts\":3,\"curve_a\":98,"
                           "\"curve_b\":-1.5,\"input\":\"raw\"}",
                           &c, &e));
    assert_true(c.calibrated);
    assert_true(c.input_raw);
    assert_true(c.mq7.r0_ohm == 12000 && c.mq7.rl_ohm == 10000 && c.mq7.divider == 2);
    assert_int_equal(c.mq7.adc_bits, 10);
    assert_int_equal(c.mq7.rail_counts, 3);
    assert_true(c.mq7.vref_v == 3.3 && c.mq7.vc_v == 5 && c.mq7.adc_gain == 1.01);
    assert_true(c.mq7.adc_offset_v == -0.02 && c.mq7.curve_a == 98 && c.mq7.curve_b == -1.5);
    /* Only r0_ohms: the rest are the core's defaults. */
    struct mq7_calibration d;
    mq7_calibration_default(&d);
    d.r0_ohm = 8000;
    assert_true(parse_text("{\"r0_ohms\":8000}", &c, &e));
    assert_true(c.calibrated);
    assert_false(c.input_raw);
    assert_same(&c.mq7, &d);
    /* divider_ratio in either form: Vout/Vpin >= 1, or Vpin/Vout < 1. */
    struct device_calibration a, b;
    assert_true(parse_text("{\"r0_ohms\":8000,\"divider_ratio\":2.5}", &a, &e));
    assert_true(parse_text("{\"r0_ohms\":8000,\"divider_ratio\":0.4}", &b, &e));
    assert_true(fabs(a.mq7.divider - b.mq7.divider) < 1e-12);
    /* The 3.3 V wiring of the device tests (5 V * 0.66 = 3.3 V full scale). */
    assert_true(parse_text("{\"r0_ohms\":10000,\"rl_ohms\":10000,\"adc_bits\":12,"
                           "\"vref_volts\":3.3,\"vc_volts\":5,\"divider_ratio\":0.66}",
                           &c, &e));
    assert_true(parse_text("{\"input\":\"ppm\"}", &c, &e));
    assert_false(c.calibrated);
}

static void test_refused(void **state)
{
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"r0\":1}", "r0"},
        {"{\"r0_ohms\":\"ten\"}", "r0_ohms"},
        {"{\"r0_ohms\":-1}", "r0_ohms"},
        {"{\"r0_ohms\":0}", "r0_ohms"},
        {"{\"r0_ohms\":null}", "r0_ohms"},
        {"{\"adc_bits\":12.5}", "adc_bits"},
        {"{\"adc_bits\":30}", "adc_bits"},
        {"{\"adc_bits\":[12]}", "adc_bits"},
        {"{\"divider_ratio\":0}", "divider_ratio"},
        {"{\"adc_gain\":3}", "adc_gain"},
        {"{\"curve_b\":1.5}", "curve_b"},
        /* Plausibility ranges (the core's mq7_calibration_check), each
         * named by its JSON key: an Ohm/kOhm slip, a calibration in 50 ppm
         * air (R0 571), a curve that reads everything as ~99 ppm. */
        {"{\"r0_ohms\":0.001}", "r0_ohms"},
        {"{\"r0_ohms\":10}", "r0_ohms"},
        {"{\"r0_ohms\":571}", "r0_ohms"},
        {"{\"r0_ohms\":250000}", "r0_ohms"},
        {"{\"r0_ohms\":1e12}", "r0_ohms"},
        {"{\"rl_ohms\":10}", "rl_ohms"},
        {"{\"rl_ohms\":2e6}", "rl_ohms"},
        {"{\"curve_a\":0.5}", "curve_a"},
        {"{\"curve_a\":1e5}", "curve_a"},
        {"{\"curve_b\":-1e-6}", "curve_b"},
        {"{\"curve_b\":-100}", "curve_b"},
        {"{\"curve_b\":-1000}", "curve_b"},
        {"{\"rail_counts\":-1}", "rail_counts"},
        {"{\"input\":\"volts\"}", "input"},
        {"{\"input\":5}", "input"},
        /* raw input needs R0 */
        {"{\"input\":\"raw\"}", "input"},
        /* across keys */
        {"{\"adc_offset_volts\":1.0}", "adc_offset_volts"},
        {"{\"rail_counts\":600}", "rail_counts"},
        {"{\"vref_volts\":1.0}", ""},                 /* 5 V / 2.23 over 1 V full scale */
        {"{\"divider_ratio\":1,\"vc_volts\":5}", ""}, /* 5 V straight into 2.45 V */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct device_calibration c;
        struct jv_err e = {{0}, {0}};
        if (parse_text(bad[i].json, &c, &e))
            fail_msg("accepted %s", bad[i].json);
        if (strcmp(e.field, bad[i].field) != 0)
            fail_msg("%s: field '%s' (%s), expected '%s'", bad[i].json, e.field, e.reason,
                     bad[i].field);
        assert_true(e.reason[0] != '\0');
        /* The reason is the JSON's, not the C struct's field name. */
        assert_null(strstr(e.reason, "r0_ohm "));
        assert_null(strstr(e.reason, "vc_v "));
    }
    /* The reasons state the ranges. */
    static const struct {
        const char *json, *words;
    } why[] = {
        {"{\"r0_ohms\":10}", "from 1000 to 100000 ohms"},
        {"{\"rl_ohms\":10}", "from 1000 to 1000000 ohms"},
        {"{\"curve_a\":0.5}", "from 1 to 10000"},
        {"{\"curve_b\":-100}", "from -5 to -0.2"},
        {"{\"curve_b\":-1e-6}", "from -5 to -0.2"},
    };
    for (size_t i = 0; i < sizeof why / sizeof *why; i++) {
        struct device_calibration c;
        struct jv_err e = {{0}, {0}};
        assert_false(parse_text(why[i].json, &c, &e));
        if (!strstr(e.reason, why[i].words))
            fail_msg("%s: reason '%s' lacks '%s'", why[i].json, e.reason, why[i].words);
    }
    /* The ends of the ranges are accepted. */
    struct device_calibration ok;
    struct jv_err oe;
    assert_true(parse_text("{\"r0_ohms\":1000,\"rl_ohms\":1000000,\"curve_a\":10000,"
                           "\"curve_b\":-0.2}",
                           &ok, &oe));
    assert_true(parse_text("{\"r0_ohms\":100000,\"rl_ohms\":1000,\"curve_a\":1,"
                           "\"curve_b\":-5}",
                           &ok, &oe));
    struct device_calibration c;
    struct jv_err e;
    json_t *five = json_integer(5);
    assert_false(calibration_parse(five, &c, &e));
    json_decref(five);
}

/* The device's core and the server's path agree exactly, for every count. */
static void test_same_as_device(void **state)
{
    const char *text = "{\"adc_bits\":12,\"divider_ratio\":0.449,\"r0_ohms\":7321.5,"
                       "\"rl_ohms\":49000,\"vc_volts\":5,\"vref_volts\":2.45}";
    struct device_calibration srv;
    assert_true(calibration_load(text, &srv));
    struct mq7_calibration dev;
    mq7_calibration_default(&dev);
    dev.r0_ohm = 7321.5;
    dev.divider = 1 / 0.449;
    assert_null(mq7_calibration_check(&dev));
    int converted = 0, faults = 0;
    for (uint32_t raw = 0; raw <= 4095; raw++) {
        double want = -1, got = -1;
        char why[200];
        enum mq7_status st = mq7_raw_to_ppm(&dev, raw, &want);
        const char *err = calibration_raw_to_ppm(&srv, "d1", raw, &got, why, sizeof why);
        if (st != MQ7_OK) {
            assert_non_null(err);
            assert_non_null(strstr(err, mq7_strerror(st)));
            faults++;
            continue;
        }
        assert_null(err);
        assert_true(got == (want > 10000 ? 10000 : want));
        converted++;
    }
    assert_true(converted > 3000);
    assert_true(faults >= 6); /* both rails at least */
    /* A simulated sensor (mq7_ppm_to_raw) at 75 ppm reads back as ~75 ppm. */
    uint32_t raw;
    assert_int_equal(mq7_ppm_to_raw(&dev, 75.0, &raw), MQ7_OK);
    double ppm;
    char why[200];
    assert_null(calibration_raw_to_ppm(&srv, "d1", raw, &ppm, why, sizeof why));
    assert_true(fabs(ppm - 75.0) < 1.0);
}

static void test_raw_errors(void **state)
{
    struct device_calibration c;
    char why[200];
    double ppm = -1;
    assert_true(calibration_load(NULL, &c));
    const char *err = calibration_raw_to_ppm(&c, "kitchen-1", 2000, &ppm, why, sizeof why);
    assert_non_null(err);
    assert_non_null(strstr(err, "PATCH /v1/devices/kitchen-1"));
    assert_true(calibration_load("{\"r0_ohms\":10000}", &c));
    assert_non_null(strstr(calibration_raw_to_ppm(&c, "k", 0, &ppm, why, sizeof why), "rail"));
    assert_non_null(strstr(calibration_raw_to_ppm(&c, "k", 2, &ppm, why, sizeof why), "rail"));
    assert_non_null(strstr(calibration_raw_to_ppm(&c, "k", 4095, &ppm, why, sizeof why), "rail"));
    assert_non_null(strstr(calibration_raw_to_ppm(&c, "k", 4096, &ppm, why, sizeof why), "4095"));
    assert_non_null(strstr(calibration_raw_to_ppm(&c, "k", 3900, &ppm, why, sizeof why), "short"));
    /* Just under Vc (3752.2 counts): Rs of a few ohms is a short, not a
     * number (this count used to be stored as 10000 ppm, from 1.8e6). Every
     * count from the short floor (Rs/R0 = 0.02, count 3737 here) up. */
    for (int64_t raw = 3737; raw <= 4095; raw++) {
        const char *fault = calibration_raw_to_ppm(&c, "k", raw, &ppm, why, sizeof why);
        assert_non_null(fault);
        assert_non_null(strstr(fault, raw >= 4093 ? "rail" : "short"));
    }
    assert_true(ppm == -1); /* untouched by every failure */
    /* Above the floor but past the API's range (Rs/R0 0.03, ~20000 ppm):
     * a number, clamped. */
    assert_null(calibration_raw_to_ppm(&c, "k", 3730, &ppm, why, sizeof why));
    assert_true(ppm == 10000);
    assert_null(calibration_raw_to_ppm(&c, "k", 3736, &ppm, why, sizeof why));
    assert_true(ppm == 10000);
    assert_null(calibration_raw_to_ppm(&c, "k", 1000, &ppm, why, sizeof why));
    assert_true(ppm > 0 && ppm < 10000);
}

static bool parse_reading(const char *text, struct api_raw *raw, struct reading *r,
                          struct jv_err *e)
{
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    const char *id;
    bool ok = api_reading_parse(o, 1764086400000LL, r, &id, raw, e);
    json_decref(o);
    return ok;
}

static void test_reading_fields(void **state)
{
    struct api_raw raw;
    struct reading r;
    struct jv_err e;
    assert_true(parse_reading("{\"device_id\":\"a\",\"co_raw\":1840}", &raw, &r, &e));
    assert_true(raw.present && raw.convert && raw.value == 1840);
    assert_true(parse_reading("{\"device_id\":\"a\",\"co_raw\":1840,\"co_ppm\":3}", &raw, &r, &e));
    assert_true(raw.present && !raw.convert && r.co_ppm == 3);
    assert_true(parse_reading("{\"device_id\":\"a\",\"co_ppm\":3}", &raw, &r, &e));
    assert_false(raw.present);
    static const char *const bad[] = {
        "{\"device_id\":\"a\"}",
        "{\"device_id\":\"a\",\"co_raw\":1.5}",
        "{\"device_id\":\"a\",\"co_raw\":-1}",
        "{\"device_id\":\"a\",\"co_raw\":\"12\"}",
        "{\"device_id\":\"a\",\"co_raw\":16777216}",
        "{\"device_id\":\"a\",\"co_raw\":null}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (parse_reading(bad[i], &raw, &r, &e))
            fail_msg("accepted %s", bad[i]);
    /* A caller without a calibration refuses co_raw alone. */
    json_t *o = json_loads("{\"device_id\":\"a\",\"co_raw\":5}", 0, NULL);
    const char *id;
    assert_false(api_reading_parse(o, 1764086400000LL, &r, &id, NULL, &e));
    assert_string_equal(e.field, "co_raw");
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),   cmocka_unit_test(test_mapping),
        cmocka_unit_test(test_refused),    cmocka_unit_test(test_same_as_device),
        cmocka_unit_test(test_raw_errors), cmocka_unit_test(test_reading_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
