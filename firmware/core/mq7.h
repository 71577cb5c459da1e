/* mq7.h - MQ-7 carbon-monoxide sensor: ADC counts to ppm (and back), as data.
 *
 * Self-contained (only <stdint.h> here, <math.h> in mq7.c): the firmware core
 * runs it on the device and the server links the same mq7.c to convert the
 * co_raw of a reading with the device's stored calibration.
 *
 * The chain, with its sources (REFERENCES.md section 4):
 *   raw counts -> pin volts:   Vpin = raw * vref_v / (2^adc_bits - 1), then the
 *                              two-point factory correction Vpin*adc_gain +
 *                              adc_offset_v (ESP-IDF v4.4 ADC: Vout = Dout *
 *                              Vmax / Dmax; the ESP32 app fits gain and offset
 *                              to the chip's eFuse calibration);
 *   pin -> sensor output:      Vout = Vpin * divider (a resistive divider keeps
 *                              the 0..Vc swing inside the ADC's range);
 *   output -> resistance:      Rs = (Vc / Vout - 1) * RL (Hanwei datasheet);
 *   resistance -> ppm:         ppm = a * (Rs/R0)^b, a = 99.042, b = -1.518
 *                              (MQSensorsLib's fit of the datasheet curve:
 *                              99 ppm at Rs/R0 = 1, 428 ppm at 0.381).
 * R0 is the sensor's resistance at 100 ppm; mq7_r0_from_clean_air derives it
 * from a clean-air reading. Open and shorted sensors and readings at the
 * ADC's rails are reported as statuses, never as numbers. A short is any
 * Rs/R0 below a physical floor (short_ratio, MQ7_SHORT_RATIO = 0.02: about
 * 37,600 ppm on the curve, 19 times the top of the sensor's 20-2000 ppm
 * range), not only an output at or above Vc: with Rs -> 0 the output tends
 * to Vc, and the last few counts below Vc's count would otherwise convert to
 * absurd concentrations (count 3751 of the default wiring: 1.8e6 ppm).
 *
 * Temperature and humidity compensation is not done: the datasheet shows
 * that dependence only as a figure, and no source we have gives its values
 * (see firmware/README.md). */
#ifndef CARBON_MQ7_H
#define CARBON_MQ7_H
#include <stdint.h>

/* The datasheet curve fit of MQSensorsLib (examples/MQ-7/MQ-7.ino). */
#define MQ7_CURVE_A 99.042
#define MQ7_CURVE_B (-1.518)
/* Rs/R0 in clean air: MQSensorsLib's calibration uses 27.5; the datasheet's
 * curve read at clean air gives about 25.8 (REFERENCES.md section 4). */
#define MQ7_CLEAN_AIR_RATIO 27.5
#define MQ7_CLEAN_AIR_RATIO_DATASHEET 25.8
/* The short-circuit floor: Rs/R0 below this is a shorted sensor (or wiring),
 * never a concentration. The datasheet's curve ends at 4000 ppm (Rs/R0 =
 * 0.090) and its rated range at 2000 ppm; 0.02 is 4.5 times further down
 * the ratio axis, where the fit gives about 37,600 ppm: beyond the sensor's
 * range, beyond the API's 10000 ppm and beyond any survivable atmosphere,
 * so no reading of a working sensor is lost to it, while every count
 * between it and Vc (Rs of a few ohms to a few hundred) is. */
#define MQ7_SHORT_RATIO 0.02
/* The largest short_ratio mq7_calibration_check accepts: the datasheet's
 * 4000 ppm point, so a floor can never swallow a concentration the
 * datasheet draws. */
#define MQ7_SHORT_RATIO_MAX 0.09
/* Plausibility ranges of mq7_calibration_check (see there). */
#define MQ7_R0_MIN_OHM 1000.0
#define MQ7_R0_MAX_OHM 100000.0
#define MQ7_RL_MIN_OHM 1000.0
#define MQ7_RL_MAX_OHM 1000000.0
#define MQ7_CURVE_A_MIN 1.0
#define MQ7_CURVE_A_MAX 10000.0
#define MQ7_CURVE_B_MIN (-5.0)
#define MQ7_CURVE_B_MAX (-0.2)

enum mq7_status {
    MQ7_OK = 0,
    MQ7_E_CALIBRATION, /* the calibration is unusable (see mq7_calibration_check) */
    MQ7_E_RANGE,       /* raw above the ADC's largest count, or ppm not a positive number */
    MQ7_E_RAIL_LOW,    /* ADC at its bottom rail: open circuit, no sensor output */
    MQ7_E_RAIL_HIGH,   /* ADC at its top rail: shorted sensor or input over full scale */
    MQ7_E_OPEN,        /* Vout at or below 0 V after correction: Rs infinite */
    MQ7_E_SHORT,       /* Rs/R0 below short_ratio (or Vout at or above Vc): shorted sensor */
    MQ7_NSTATUS
};

/* How one sensor is wired and what it reads in clean air. Plain data: the
 * server stores it per device (JSON keys r0_ohms, rl_ohms, divider_ratio,
 * adc_bits, vref_volts, vc_volts map to the first six fields). */
struct mq7_calibration {
    double r0_ohm;        /* Rs at 100 ppm CO, from clean-air calibration */
    double rl_ohm;        /* load resistor (the whole divider when it is the load) */
    double divider;       /* Vout_sensor = Vpin * divider; >= 1 */
    uint32_t adc_bits;    /* ADC resolution: counts run 0 .. 2^adc_bits - 1 */
    double vref_v;        /* pin voltage at the largest count (ESP32, 11 dB: 2.45) */
    double vc_v;          /* circuit voltage across sensor + RL (5.0) */
    double adc_gain;      /* factory correction: Vpin = nominal * gain + offset */
    double adc_offset_v;  /* (gain 1, offset 0: no correction) */
    uint32_t rail_counts; /* counts within this many of 0 or the top are a rail */
    double curve_a;       /* ppm = curve_a * (Rs/R0)^curve_b */
    double curve_b;
    double short_ratio; /* Rs/R0 below this is a short (MQ7_SHORT_RATIO) */
};

/* Fills the defaults: the wiring of firmware/esp32/README.md (RL = 27k + 22k
 * used as the divider, 12-bit ADC at 11 dB reading 0..2.45 V, Vc 5.0 V), the
 * MQSensorsLib curve, no factory correction, rails within 2 counts, the
 * short floor MQ7_SHORT_RATIO, and an uncalibrated R0 of 10 kOhm (the
 * datasheet's 2-20 kOhm range at 100 ppm). */
void mq7_calibration_default(struct mq7_calibration *cal);

/* NULL when cal is usable, else a static string naming the bad field and
 * why ("r0_ohm must be from 1000 to 100000 ohms ..."). Plausibility ranges,
 * so that a unit slip or a calibration in dirty air is refused rather than
 * silently scaling every reading:
 *   r0_ohm   1 kOhm .. 100 kOhm (datasheet: Rs at 100 ppm is 2-20 kOhm; a
 *            factor of 2 below and 5 above for spread and ageing. Calibrated
 *            in 50 ppm air instead of clean air, R0 comes out ~570 Ohm; an
 *            Ohm/kOhm slip gives 10 or 1e7);
 *   rl_ohm   1 kOhm .. 1 MOhm;
 *   curve_a  1 .. 10000 (the fit: 99.042);
 *   curve_b  -5 .. -0.2 (the fit: -1.518; flatter than -0.2 makes every
 *            reading ~curve_a, steeper than -5 turns noise into alarms);
 *   short_ratio above 0, at most MQ7_SHORT_RATIO_MAX;
 * and the electrical ones: divider 1..1000, adc_bits 6..24, vref_v and vc_v
 * in (0, 100], adc_gain 0.5..2, |adc_offset_v| < vref_v / 4, rail_counts
 * under an eighth of the range, and Vc mapping inside the ADC's range
 * (vc_v / divider <= full-scale pin voltage), so only a fault reaches the
 * top rail. */
const char *mq7_calibration_check(const struct mq7_calibration *cal);

/* The same check, split for callers that name fields their own way (the
 * server's JSON keys): NULL when usable, else the reason without the field
 * name ("must be from 1000 to 100000 ohms ..."), and *field set to the
 * struct field's name ("r0_ohm"), or to "" for a check across fields. */
const char *mq7_calibration_check_field(const struct mq7_calibration *cal, const char **field);

/* A short static description of a status ("open circuit", ...). */
const char *mq7_strerror(enum mq7_status st);

/* Largest ADC count for cal (2^adc_bits - 1); 0 when adc_bits is out of range. */
uint32_t mq7_adc_max(const struct mq7_calibration *cal);

/* ADC counts -> sensor resistance Rs in ohms. MQ7_OK and *rs_ohm set, or a
 * fault status and *rs_ohm untouched. r0_ohm is used only for the short
 * floor (Rs below short_ratio * r0_ohm is MQ7_E_SHORT). */
enum mq7_status mq7_raw_to_rs(const struct mq7_calibration *cal, uint32_t raw, double *rs_ohm);

/* Rs/R0 -> ppm by the curve. Returns a negative number when ratio <= 0 or
 * the curve is invalid. */
double mq7_ratio_to_ppm(const struct mq7_calibration *cal, double ratio);

/* ADC counts -> ppm: MQ7_OK and *ppm set (> 0 and at most the curve's
 * value at short_ratio, ~37,600 ppm by default: above the 10000 ppm the API
 * accepts, callers clamp), or a fault status with *ppm untouched. */
enum mq7_status mq7_raw_to_ppm(const struct mq7_calibration *cal, uint32_t raw, double *ppm);

/* The same with a measured circuit voltage vc_v (volts) in place of
 * cal->vc_v, for one sample: the sensor's output is a fraction of Vc, so a
 * supply 3 % low reads a true 50 ppm as ~40. vc_v must be a number above 0
 * (MQ7_E_RANGE otherwise; the caller decides what is plausible). The check
 * that Vc maps inside the ADC's range applies to cal's nominal vc_v only:
 * a measured Vc a little above it still converts, and a short at it reads
 * as the top rail, a fault either way. */
enum mq7_status mq7_raw_to_ppm_vc(const struct mq7_calibration *cal, uint32_t raw, double vc_v,
                                  double *ppm);
/* And Rs at a measured vc_v (a clean-air calibration uses the same Vc as the
 * readings it will serve). */
enum mq7_status mq7_raw_to_rs_vc(const struct mq7_calibration *cal, uint32_t raw, double vc_v,
                                 double *rs_ohm);

/* The inverse, for simulators and tests: ppm -> the ADC count the sensor
 * would give (rounded). MQ7_OK, or MQ7_E_RANGE for ppm not > 0, or the rail
 * status the count falls on, or MQ7_E_SHORT when the ppm is beyond the
 * short floor (with *raw still set to the count in each of these). */
enum mq7_status mq7_ppm_to_raw(const struct mq7_calibration *cal, double ppm, uint32_t *raw);

/* R0 from the sensor's resistance in clean air: rs_air / clean_air_ratio
 * (MQ7_CLEAN_AIR_RATIO or MQ7_CLEAN_AIR_RATIO_DATASHEET). Negative when
 * either argument is not a positive number. */
double mq7_r0_from_clean_air(double rs_air_ohm, double clean_air_ratio);

#endif
