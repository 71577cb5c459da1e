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
 * ADC's rails are reported as statuses, never as numbers.
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

enum mq7_status {
    MQ7_OK = 0,
    MQ7_E_CALIBRATION, /* the calibration is unusable (see mq7_calibration_check) */
    MQ7_E_RANGE,       /* raw above the ADC's largest count, or ppm not a positive number */
    MQ7_E_RAIL_LOW,    /* ADC at its bottom rail: open circuit, no sensor output */
    MQ7_E_RAIL_HIGH,   /* ADC at its top rail: shorted sensor or input over full scale */
    MQ7_E_OPEN,        /* Vout at or below 0 V after correction: Rs infinite */
    MQ7_E_SHORT,       /* Vout at or above Vc: Rs zero or negative */
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
};

/* Fills the defaults: the wiring of firmware/esp32/README.md (RL = 27k + 22k
 * used as the divider, 12-bit ADC at 11 dB reading 0..2.45 V, Vc 5.0 V), the
 * MQSensorsLib curve, no factory correction, rails within 2 counts, and an
 * uncalibrated R0 of 10 kOhm (the datasheet's 2-20 kOhm range at 100 ppm). */
void mq7_calibration_default(struct mq7_calibration *cal);

/* NULL when cal is usable, else a static string naming the bad field and
 * why. Besides ranges it requires that Vc maps inside the ADC's range
 * (vc_v / divider <= full-scale pin voltage), so only a fault reaches the top
 * rail. */
const char *mq7_calibration_check(const struct mq7_calibration *cal);

/* A short static description of a status ("open circuit", ...). */
const char *mq7_strerror(enum mq7_status st);

/* Largest ADC count for cal (2^adc_bits - 1); 0 when adc_bits is out of range. */
uint32_t mq7_adc_max(const struct mq7_calibration *cal);

/* ADC counts -> sensor resistance Rs in ohms. MQ7_OK and *rs_ohm set, or a
 * fault status and *rs_ohm untouched. Does not use r0_ohm. */
enum mq7_status mq7_raw_to_rs(const struct mq7_calibration *cal, uint32_t raw, double *rs_ohm);

/* Rs/R0 -> ppm by the curve. Returns a negative number when ratio <= 0 or
 * the curve is invalid. */
double mq7_ratio_to_ppm(const struct mq7_calibration *cal, double ratio);

/* ADC counts -> ppm: MQ7_OK and *ppm set (> 0; very low ratios can exceed
 * the 10000 ppm the API accepts, callers clamp), or a fault status with
 * *ppm untouched. */
enum mq7_status mq7_raw_to_ppm(const struct mq7_calibration *cal, uint32_t raw, double *ppm);

/* The inverse, for simulators and tests: ppm -> the ADC count the sensor
 * would give (rounded). MQ7_OK, or MQ7_E_RANGE for ppm not > 0, or the rail
 * status the count falls on (with *raw still set to it). */
enum mq7_status mq7_ppm_to_raw(const struct mq7_calibration *cal, double ppm, uint32_t *raw);

/* R0 from the sensor's resistance in clean air: rs_air / clean_air_ratio
 * (MQ7_CLEAN_AIR_RATIO or MQ7_CLEAN_AIR_RATIO_DATASHEET). Negative when
 * either argument is not a positive number. */
double mq7_r0_from_clean_air(double rs_air_ohm, double clean_air_ratio);

#endif
