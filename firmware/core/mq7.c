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
        .short_ratio = MQ7_SHORT_RATIO,
    };
}

static int positive(double v, double max)
{
    return isfinite(v) && v > 0 && v <= max;
}

static int within(double v, double lo, double hi)
{
    return isfinite(v) && v >= lo && v <= hi;
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

/* One failed check: the field and the reason; the message is both. */
struct problem {
    const char *field, *reason, *message;
};
#define PROBLEM(field, reason)                                                                     \
    {                                                                                              \
        field, reason, field " " reason                                                            \
    }
enum {
    P_R0,
    P_RL,
    P_DIVIDER,
    P_BITS,
    P_VREF,
    P_VC,
    P_GAIN,
    P_OFFSET,
    P_RAIL,
    P_CURVE_A,
    P_CURVE_B,
    P_SHORT,
    P_FULL_SCALE,
    P_OK
};
static const struct problem problems[P_OK] = {
    [P_R0] = PROBLEM("r0_ohm", "must be from 1000 to 100000 ohms (the datasheet's Rs at 100 ppm "
                               "is 2-20 kOhm): a value outside is a unit slip or a calibration "
                               "in air that was not clean"),
    [P_RL] = PROBLEM("rl_ohm", "must be from 1000 to 1000000 ohms (1 kOhm to 1 MOhm)"),
    [P_DIVIDER] = PROBLEM("divider", "must be from 1 (no divider) to 1000"),
    [P_BITS] = PROBLEM("adc_bits", "must be from 6 to 24"),
    [P_VREF] = PROBLEM("vref_v", "must be a number above 0 and at most 100"),
    [P_VC] = PROBLEM("vc_v", "must be a number above 0 and at most 100"),
    [P_GAIN] = PROBLEM("adc_gain", "must be from 0.5 to 2"),
    [P_OFFSET] = PROBLEM("adc_offset_v", "must be less than a quarter of vref_v either way"),
    [P_RAIL] = PROBLEM("rail_counts", "must be under an eighth of the ADC's range"),
    [P_CURVE_A] = PROBLEM("curve_a", "must be from 1 to 10000 (the datasheet fit: 99.042)"),
    [P_CURVE_B] = PROBLEM("curve_b", "must be from -5 to -0.2 (the datasheet fit: -1.518; ppm "
                                     "falls as Rs/R0 rises)"),
    [P_SHORT] = PROBLEM("short_ratio", "must be above 0 and at most 0.09 (the datasheet's "
                                       "4000 ppm point)"),
    [P_FULL_SCALE] = {"",
                      "vc_v / divider exceeds the ADC's full-scale pin voltage: use a divider "
                      "that maps vc_v below vref_v",
                      "vc_v / divider exceeds the ADC's full-scale pin voltage: use a divider "
                      "that maps vc_v below vref_v"},
};
#undef PROBLEM

/* Which check fails, or P_OK. full_scale: also require that Vc maps inside
 * the ADC's range (not for a measured Vc, see mq7_raw_to_ppm_vc). */
static int check(const struct mq7_calibration *cal, int full_scale)
{
    if (!within(cal->r0_ohm, MQ7_R0_MIN_OHM, MQ7_R0_MAX_OHM))
        return P_R0;
    if (!within(cal->rl_ohm, MQ7_RL_MIN_OHM, MQ7_RL_MAX_OHM))
        return P_RL;
    if (!within(cal->divider, 1.0, 1000.0))
        return P_DIVIDER;
    if (mq7_adc_max(cal) == 0)
        return P_BITS;
    if (!positive(cal->vref_v, 100.0))
        return P_VREF;
    if (!positive(cal->vc_v, 100.0))
        return P_VC;
    if (!within(cal->adc_gain, 0.5, 2.0))
        return P_GAIN;
    if (!(isfinite(cal->adc_offset_v) && fabs(cal->adc_offset_v) < cal->vref_v / 4))
        return P_OFFSET;
    if (cal->rail_counts >= mq7_adc_max(cal) / 8)
        return P_RAIL;
    if (!within(cal->curve_a, MQ7_CURVE_A_MIN, MQ7_CURVE_A_MAX))
        return P_CURVE_A;
    if (!within(cal->curve_b, MQ7_CURVE_B_MIN, MQ7_CURVE_B_MAX))
        return P_CURVE_B;
    if (!positive(cal->short_ratio, MQ7_SHORT_RATIO_MAX))
        return P_SHORT;
    /* Full-scale sensor output (Vc) must land inside the ADC's range, so that
     * only a fault can reach the top rail. A tiny slack admits the exact
     * no-divider wiring of a 5 V ADC (Vc == full scale). */
    if (full_scale &&
        cal->vc_v / cal->divider > pin_volts(cal, (double)mq7_adc_max(cal)) * (1 + 1e-9))
        return P_FULL_SCALE;
    return P_OK;
}

const char *mq7_calibration_check(const struct mq7_calibration *cal)
{
    int p = check(cal, 1);
    return p == P_OK ? NULL : problems[p].message;
}

const char *mq7_calibration_check_field(const struct mq7_calibration *cal, const char **field)
{
    int p = check(cal, 1);
    if (p == P_OK)
        return NULL;
    *field = problems[p].field;
    return problems[p].reason;
}

const char *mq7_strerror(enum mq7_status st)
{
    static const char *const msg[MQ7_NSTATUS] = {
        [MQ7_OK] = "ok",
        [MQ7_E_CALIBRATION] = "invalid calibration",
        [MQ7_E_RANGE] = "value out of range",
        [MQ7_E_RAIL_LOW] = "ADC at its bottom rail (open circuit?)",
        [MQ7_E_RAIL_HIGH] = "ADC at its top rail (input over full scale: wiring fault?)",
        [MQ7_E_OPEN] = "open circuit (no sensor output)",
        [MQ7_E_SHORT] =
            "short circuit (output at or near the circuit voltage: Rs/R0 below the short floor)",
    };
    return (unsigned)st < MQ7_NSTATUS ? msg[st] : "unknown status";
}

/* Counts -> Rs with circuit voltage vc (the nominal or a measured one). */
static enum mq7_status raw_to_rs(const struct mq7_calibration *cal, uint32_t raw, double vc,
                                 double *rs_ohm)
{
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
    if (vout >= vc)
        return MQ7_E_SHORT;
    double rs = (vc / vout - 1.0) * cal->rl_ohm;
    /* Rs -> 0 puts Vout at Vc: the last counts below Vc's count are a short
     * too, not thousands of ppm (see MQ7_SHORT_RATIO). */
    if (!(rs >= cal->short_ratio * cal->r0_ohm))
        return MQ7_E_SHORT;
    *rs_ohm = rs;
    return MQ7_OK;
}

enum mq7_status mq7_raw_to_rs(const struct mq7_calibration *cal, uint32_t raw, double *rs_ohm)
{
    if (mq7_calibration_check(cal))
        return MQ7_E_CALIBRATION;
    return raw_to_rs(cal, raw, cal->vc_v, rs_ohm);
}

double mq7_ratio_to_ppm(const struct mq7_calibration *cal, double ratio)
{
    if (!(ratio > 0) || !isfinite(ratio) || !(cal->curve_a > 0) || !(cal->curve_b < 0))
        return -1.0;
    return cal->curve_a * pow(ratio, cal->curve_b);
}

static enum mq7_status raw_to_ppm(const struct mq7_calibration *cal, uint32_t raw, double vc,
                                  double *ppm)
{
    double rs;
    enum mq7_status st = raw_to_rs(cal, raw, vc, &rs);
    if (st != MQ7_OK)
        return st;
    double v = mq7_ratio_to_ppm(cal, rs / cal->r0_ohm);
    if (!(v > 0) || !isfinite(v))
        return MQ7_E_SHORT; /* cannot happen above the floor; kept as a guard */
    *ppm = v;
    return MQ7_OK;
}

enum mq7_status mq7_raw_to_ppm(const struct mq7_calibration *cal, uint32_t raw, double *ppm)
{
    if (mq7_calibration_check(cal))
        return MQ7_E_CALIBRATION;
    return raw_to_ppm(cal, raw, cal->vc_v, ppm);
}

enum mq7_status mq7_raw_to_rs_vc(const struct mq7_calibration *cal, uint32_t raw, double vc_v,
                                 double *rs_ohm)
{
    if (mq7_calibration_check(cal))
        return MQ7_E_CALIBRATION;
    if (!positive(vc_v, 100.0))
        return MQ7_E_RANGE;
    return raw_to_rs(cal, raw, vc_v, rs_ohm);
}

enum mq7_status mq7_raw_to_ppm_vc(const struct mq7_calibration *cal, uint32_t raw, double vc_v,
                                  double *ppm)
{
    if (mq7_calibration_check(cal))
        return MQ7_E_CALIBRATION;
    if (!positive(vc_v, 100.0))
        return MQ7_E_RANGE;
    return raw_to_ppm(cal, raw, vc_v, ppm);
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
    if (ratio < cal->short_ratio)
        return MQ7_E_SHORT;
    return MQ7_OK;
}

double mq7_r0_from_clean_air(double rs_air_ohm, double clean_air_ratio)
{
    if (!(rs_air_ohm > 0) || !isfinite(rs_air_ohm) || !(clean_air_ratio > 0) ||
        !isfinite(clean_air_ratio))
        return -1.0;
    return rs_air_ohm / clean_air_ratio;
}
