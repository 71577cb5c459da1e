/* fuzz_calibration.c - fuzzes a device's calibration settings and the
 * co_raw conversion: the first 4 bytes are a raw ADC count, the rest a
 * JSON "calibration" object. Never crashes; an accepted calibration
 * survives a store/load round trip unchanged, passes the firmware core's
 * own check, and converts every count to either a finite ppm within the
 * API's range or a reason (never both, never neither); the conversion is
 * monotonic non-decreasing in the count where both neighbours convert. */
#include "api/calibration.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Field by field: the struct has padding, which memcmp would compare. */
static bool same(const struct mq7_calibration *a, const struct mq7_calibration *b)
{
    return a->r0_ohm == b->r0_ohm && a->rl_ohm == b->rl_ohm && a->divider == b->divider &&
           a->adc_bits == b->adc_bits && a->vref_v == b->vref_v && a->vc_v == b->vc_v &&
           a->adc_gain == b->adc_gain && a->adc_offset_v == b->adc_offset_v &&
           a->rail_counts == b->rail_counts && a->curve_a == b->curve_a &&
           a->curve_b == b->curve_b && a->short_ratio == b->short_ratio;
}

static bool convert(const struct device_calibration *c, int64_t raw, double *ppm)
{
    char why[160] = "";
    *ppm = -1;
    const char *r = calibration_raw_to_ppm(c, "fuzz", raw, ppm, why, sizeof why);
    if (r) {
        if (!r[0])
            abort(); /* a reason says something */
        return false;
    }
    if (!isfinite(*ppm) || *ppm < 0 || *ppm > CALIBRATION_PPM_MAX)
        abort();
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size > 4096)
        return 0;
    int64_t raw = (int64_t)((uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
                            (uint32_t)(data[3] & 0x7f) << 24);
    json_error_t jerr;
    json_t *obj = json_loadb((const char *)data + 4, size - 4, JSON_REJECT_DUPLICATES, &jerr);
    if (!obj)
        return 0;
    struct device_calibration c;
    struct jv_err e;
    if (!calibration_parse(obj, &c, &e)) {
        if (!e.reason[0])
            abort();
        json_decref(obj);
        return 0;
    }
    /* Stored as text and read back: the same settings. */
    char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
    struct device_calibration back;
    if (!text || !calibration_load(text, &back) || back.calibrated != c.calibrated ||
        back.input_raw != c.input_raw || !same(&back.mq7, &c.mq7))
        abort();
    free(text);
    if (mq7_calibration_check(&c.mq7))
        abort(); /* accepted by the server, refused by the device: they must agree */
    if (c.calibrated) {
        double a, b;
        bool ok = convert(&c, raw, &a);
        /* More counts = higher Vout = lower Rs = more CO (or a fault). */
        if (ok && convert(&c, raw + 1, &b) && b + 1e-9 < a)
            abort();
    }
    json_decref(obj);
    return 0;
}
