/* mq7.c - MQ-7 conversion between ADC counts and ppm (see mq7.h). Pure:
 * no I/O, no heap, only <math.h>. */
#include "mq7.h"

#include <math.h>
#include <stddef.h>

void mq7_calibration_default(struct mq7_calibration *cal)
{
    *cal = (struct mq7_calibration){
        .r0_ohm = 10000.0,
        .rl_ohm = 49000.0,            /* 27k + 22k */
        .divider = 49000.0 / 22000.0, /* tapped across the 22k */
        .adc_bits = 12,
        .vref_v = 2.45,
        .vc_v = 5.0,
        .adc_gain = 1.0,
        .adc_offset_v = 0.0,
        .rail_counts = 2,
        .curve_a = MQ7_CURVE_A,
        .curve_b = MQ7_CURVE_B,
    };
}

static int positive(double v, double max)
{
    return isfinite(v) && v > 0 && v <= max;
}

uint32_t mq7_adc_max(const struct mq7_calibration *cal)
{
    if (cal->adc_bits < 6 || cal->adc_bits > 24)
        return 0;
    return (UINT32_C(1) << cal->adc_bits) - 1;
}

/* Pin voltage at count raw, with the factory correction. */
static double pin_volts(const struct mq7_calibration *cal, double raw)
{
    return raw * cal->vref_v / (double)mq7_adc_max(cal) * cal->adc_gain + cal->adc_offset_v;
}

const char *mq7_calibration_check(const struct mq7_calibration *cal)
{
    if (!positive(cal->r0_ohm, 1e9))
        return "r0_ohm must be a number above 0 and at most 1e9";
    if (!positive(cal->rl_ohm, 1e9))
        return "rl_ohm must be a number above 0 and at most 1e9";
    if (!(isfinite(cal->divider) && cal->divider >= 1.0 && cal->divider <= 1000.0))
        return "divider must be from 1 (no divider) to 1000";
    if (mq7_adc_max(cal) == 0)
        return "adc_bits must be from 6 to 24";
    if (!positive(cal->vref_v, 100.0))
        return "vref_v must be a number above 0 and at most 100";
    if (!positive(cal->vc_v, 100.0))
        return "vc_v must be a number above 0 and at most 100";
    if (!(isfinite(cal->adc_gain) && cal->adc_gain >= 0.5 && cal->adc_gain <= 2.0))
        return "adc_gain must be from 0.5 to 2";
    if (!(isfinite(cal->adc_offset_v) && fabs(cal->adc_offset_v) < cal->vref_v / 4))
        return "adc_offset_v must be less than a quarter of vref_v either way";
    if (cal->rail_counts >= mq7_adc_max(cal) / 8)
        return "rail_counts must be under an eighth of the ADC's range";
    if (!positive(cal->curve_a, 1e9))
        return "curve_a must be a number above 0";
    if (!(isfinite(cal->curve_b) && cal->curve_b < 0 && cal->curve_b > -100))
        return "curve_b must be negative (ppm falls as Rs/R0 rises)";
    /* Full-scale sensor output (Vc) must land inside the ADC's range, so that
     * only a fault can reach the top rail. A tiny slack admits the exact
     * no-divider wiring of a 5 V ADC (Vc == full scale). */
    if (cal->vc_v / cal->divider > pin_volts(cal, (double)mq7_adc_max(cal)) * (1 + 1e-9))
        return "vc_v / divider exceeds the ADC's full-scale pin voltage: "
               "use a divider that maps vc_v below vref_v";
    return NULL;
}

const char *mq7_strerror(enum mq7_status st)
{
    static const char *const msg[MQ7_NSTATUS] = {
        [MQ7_OK] = "ok",
        [MQ7_E_CALIBRATION] = "invalid calibration",
        [MQ7_E_RANGE] = "value out of range",
        [MQ7_E_RAIL_LOW] = "ADC at its bottom rail (open circuit?)",
        [MQ7_E_RAIL_HIGH] = "ADC at its top rail (shorted sensor?)",
        [MQ7_E_OPEN] = "open circuit (no sensor output)",
        [MQ7_E_SHORT] = "short circuit (output at the circuit voltage)",
    };
    return (unsigned)st < MQ7_NSTATUS ? msg[st] : "unknown status";
}

enum mq7_status mq7_raw_to_rs(const struct mq7_calibration *cal, uint32_t raw, double *rs_ohm)
{
    if (mq7_calibration_check(cal))
        return MQ7_E_CALIBRATION;
    uint32_t max = mq7_adc_max(cal);
    if (raw > max)
        return MQ7_E_RANGE;
    if (raw <= cal->rail_counts)
        return MQ7_E_RAIL_LOW;
    if (raw >= max - cal->rail_counts)
        return MQ7_E_RAIL_HIGH;
    double vout = pin_volts(cal, (double)raw) * cal->divider;
    if (!(vout > 0))
        return MQ7_E_OPEN;
    if (vout >= cal->vc_v)
        return MQ7_E_SHORT;
    *rs_ohm = (cal->vc_v / vout - 1.0) * cal->rl_ohm;
    return MQ7_OK;
}

double mq7_ratio_to_ppm(const struct mq7_calibration *cal, double ratio)
{
    if (!(ratio > 0) || !isfinite(ratio) || !(cal->curve_a > 0) || !(cal->curve_b < 0))
        return -1.0;
    return cal->curve_a * pow(ratio, cal->curve_b);
}

enum mq7_status mq7_raw_to_ppm(const struct mq7_calibration *cal, uint32_t raw, double *ppm)
{
    double rs;
    enum mq7_status st = mq7_raw_to_rs(cal, raw, &rs);
    if (st != MQ7_OK)
        return st;
    double v = mq7_ratio_to_ppm(cal, rs / cal->r0_ohm);
    if (!(v > 0) || !isfinite(v))
        return MQ7_E_SHORT; /* Rs so small the curve overflows */
    *ppm = v;
    return MQ7_OK;
}

enum mq7_status mq7_ppm_to_raw(const struct mq7_calibration *cal, double ppm, uint32_t *raw)
{
    if (mq7_calibration_check(cal))
        return MQ7_E_CALIBRATION;
    if (!(ppm > 0) || !isfinite(ppm))
        return MQ7_E_RANGE;
    double ratio = pow(ppm / cal->curve_a, 1.0 / cal->curve_b);
    double rs = ratio * cal->r0_ohm;
    double vout = cal->vc_v * cal->rl_ohm / (rs + cal->rl_ohm);
    double vpin = vout / cal->divider;
    uint32_t max = mq7_adc_max(cal);
    double counts = (vpin - cal->adc_offset_v) / cal->adc_gain * (double)max / cal->vref_v;
    double r = floor(counts + 0.5);
    if (r < 0)
        r = 0;
    if (r > (double)max)
        r = (double)max;
    *raw = (uint32_t)r;
    if (*raw <= cal->rail_counts)
        return MQ7_E_RAIL_LOW;
    if (*raw >= max - cal->rail_counts)
        return MQ7_E_RAIL_HIGH;
    return MQ7_OK;
}

double mq7_r0_from_clean_air(double rs_air_ohm, double clean_air_ratio)
{
    if (!(rs_air_ohm > 0) || !isfinite(rs_air_ohm) || !(clean_air_ratio > 0) ||
        !isfinite(clean_air_ratio))
        return -1.0;
    return rs_air_ohm / clean_air_ratio;
}
