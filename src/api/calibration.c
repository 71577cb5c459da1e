/* calibration.c - a device's stored calibration as struct mq7_calibration,
 * and co_raw -> ppm on the server (see calibration.h). */
#include "api/calibration.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void calibration_default(struct device_calibration *c)
{
    memset(c, 0, sizeof *c);
    mq7_calibration_default(&c->mq7);
}

static const char *const keys[] = {"r0_ohms",     "rl_ohms",  "divider_ratio", "adc_bits",
                                   "vref_volts",  "vc_volts", "adc_gain",      "adc_offset_volts",
                                   "rail_counts", "curve_a",  "curve_b",       "input",
                                   NULL};

/* A number key into *out when present. */
static bool num(const json_t *o, const char *key, double min, double max, double *out,
                struct jv_err *e)
{
    return jv_number(o, key, false, min, max, out, NULL, e);
}

bool calibration_parse(const json_t *obj, struct device_calibration *out, struct jv_err *e)
{
    struct device_calibration c;
    calibration_default(&c);
    if (!json_is_object(obj)) {
        jv_fail(e, "", "must be an object");
        return false;
    }
    if (!jv_only_keys(obj, keys, e))
        return false;
    /* Every key present must be non-null (jv_* treat null as absent). */
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (json_is_null(v)) {
            jv_fail(e, k, "is required");
            return false;
        }
    }
    double div = 0;
    int64_t ibits = 0, irail = 0;
    bool has_bits = false, has_rail = false;
    /* Each key's type here; its range below, by the core's own check (the
     * same plausibility ranges the device applies), so the limits live in
     * one place (firmware/core/mq7.c). divider_ratio keeps its own range:
     * both of its forms are read here. */
    const double any = 1e300;
    if (!num(obj, "r0_ohms", -any, any, &c.mq7.r0_ohm, e) ||
        !num(obj, "rl_ohms", -any, any, &c.mq7.rl_ohm, e) ||
        !num(obj, "divider_ratio", 1e-3, 1000, &div, e) ||
        !jv_int(obj, "adc_bits", false, 6, 24, &ibits, &has_bits, e) ||
        !num(obj, "vref_volts", 1e-3, 100, &c.mq7.vref_v, e) ||
        !num(obj, "vc_volts", 1e-3, 100, &c.mq7.vc_v, e) ||
        !num(obj, "adc_gain", 0.5, 2, &c.mq7.adc_gain, e) ||
        !num(obj, "adc_offset_volts", -25, 25, &c.mq7.adc_offset_v, e) ||
        !jv_int(obj, "rail_counts", false, 0, 1 << 20, &irail, &has_rail, e) ||
        !num(obj, "curve_a", -any, any, &c.mq7.curve_a, e) ||
        !num(obj, "curve_b", -any, any, &c.mq7.curve_b, e))
        return false;
    if (json_object_get(obj, "r0_ohms"))
        c.calibrated = true;
    if (div > 0)
        c.mq7.divider = div < 1 ? 1.0 / div : div;
    if (has_bits)
        c.mq7.adc_bits = (uint32_t)ibits;
    if (has_rail)
        c.mq7.rail_counts = (uint32_t)irail;
    const char *input = NULL;
    bool has_input = false;
    if (!jv_string(obj, "input", false, 1, 8, &input, &has_input, e))
        return false;
    if (has_input) {
        if (strcmp(input, "raw") == 0) {
            c.input_raw = true;
        } else if (strcmp(input, "ppm") != 0) {
            jv_fail(e, "input", "must be \"ppm\" or \"raw\"");
            return false;
        }
    }
    if (c.input_raw && !c.calibrated) {
        jv_fail(e, "input", "\"raw\" needs r0_ohms (the conversion cannot work without it)");
        return false;
    }
    /* The core's checks: each key's plausibility range, then the checks
     * across keys. Its field names are the struct's: name the JSON key. */
    const char *field = "";
    const char *why = mq7_calibration_check_field(&c.mq7, &field);
    if (why) {
        static const char *const names[][2] = {
            {"r0_ohm", "r0_ohms"},    {"rl_ohm", "rl_ohms"},    {"divider", "divider_ratio"},
            {"adc_bits", "adc_bits"}, {"vref_v", "vref_volts"}, {"vc_v", "vc_volts"},
            {"adc_gain", "adc_gain"}, {"curve_a", "curve_a"},   {"curve_b", "curve_b"},
        };
        const char *key = "";
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            if (strcmp(field, names[i][0]) == 0)
                key = names[i][1];
        if (strcmp(field, "adc_offset_v") == 0)
            jv_fail(e, "adc_offset_volts", "must be less than a quarter of vref_volts either way");
        else if (strcmp(field, "rail_counts") == 0)
            jv_fail(e, "rail_counts", "must be under an eighth of the ADC's range (adc_bits)");
        else if (field[0] == '\0')
            jv_fail(e, "",
                    "vc_volts through divider_ratio exceeds the ADC's full scale (vref_volts): "
                    "the sensor's output must map inside the ADC's range");
        else
            jv_fail(e, key, "%s", why); /* a field the JSON cannot set: "" */
        return false;
    }
    *out = c;
    return true;
}

bool calibration_load(const char *text, struct device_calibration *out)
{
    calibration_default(out);
    if (!text || !*text)
        return true;
    json_t *o = json_loads(text, 0, NULL);
    struct jv_err e;
    bool ok = o && calibration_parse(o, out, &e);
    json_decref(o);
    if (!ok)
        calibration_default(out);
    return ok;
}

const char *calibration_raw_to_ppm(const struct device_calibration *c, const char *device_id,
                                   int64_t raw, double *ppm, char *why, size_t cap)
{
    if (!c->calibrated) {
        snprintf(why, cap,
                 "device '%s' has no calibration: set calibration.r0_ohms with PATCH "
                 "/v1/devices/%s, or send co_ppm",
                 device_id, device_id);
        return why;
    }
    uint32_t max = mq7_adc_max(&c->mq7);
    if (raw < 0 || raw > (int64_t)max) {
        snprintf(why, cap, "must be an integer from 0 to %u (adc_bits %u)", max, c->mq7.adc_bits);
        return why;
    }
    double v;
    enum mq7_status st = mq7_raw_to_ppm(&c->mq7, (uint32_t)raw, &v);
    if (st != MQ7_OK) {
        snprintf(why, cap, "%lld is a sensor fault: %s; nothing was stored", (long long)raw,
                 mq7_strerror(st));
        return why;
    }
    *ppm = v > CALIBRATION_PPM_MAX ? CALIBRATION_PPM_MAX : v;
    return NULL;
}
