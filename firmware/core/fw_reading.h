/* fw_reading.h - samples, readings, and the aggregation of samples into one
 * reading per report interval (keeping the peak).
 *
 * A sample is one heater cycle's measurement (the median of a burst of ADC
 * reads taken just before the low phase ends). A reading is what the device
 * reports: the samples of one report interval folded into their peak (by
 * default; or their mean), with the ADC count of the peak sample, the
 * newest temperature and humidity, and flags. Samples whose conversion
 * failed (open, short, rails, ADC error) count as faults: an interval with
 * at least one good sample reports the good ones (and keeps FW_RD_FAULT as
 * a note); an interval of faults only is a fault reading with no ppm. */
#ifndef CARBON_FW_READING_H
#define CARBON_FW_READING_H
#include <stdbool.h>
#include <stdint.h>

#include "mq7.h"

/* Reading and sample flags. */
#define FW_RD_FAULT 0x01u   /* a sample failed (status says why); no ppm if all did */
#define FW_RD_WARMUP 0x02u  /* taken while the sensor was warming up */
#define FW_RD_TEMP 0x04u    /* temp_c is set */
#define FW_RD_HUM 0x08u     /* hum_pct is set */
#define FW_RD_UNCAL 0x10u   /* R0 is the default, not a clean-air calibration */
#define FW_RD_ADC_ERR 0x20u /* the ADC read itself failed */
#define FW_RD_SUPPLY 0x40u  /* the measured Vc was implausible: converted with the nominal vc_v */
#define FW_RD_VC_MEAS 0x80u /* converted with the measured Vc (port.read_supply_v) */

struct fw_sample {
    int64_t mono_ms; /* device clock */
    uint32_t raw;    /* median ADC count */
    uint8_t status;  /* enum mq7_status of the conversion */
    uint8_t pad[3];
    unsigned flags; /* FW_RD_* */
    double ppm;     /* when status is MQ7_OK */
    double temp_c;
    double hum_pct;
};

struct fw_reading {
    uint32_t seq;    /* device-local sequence number, from 1 */
    uint32_t raw;    /* ADC count of the peak sample (of the last one when all failed) */
    int64_t mono_ms; /* device clock at the interval's last sample */
    int64_t ts_ms;   /* epoch ms of the same moment; 0 until the wall clock is known */
    double ppm;      /* peak (or mean) ppm of the good samples; 0 for a fault reading */
    double peak_ppm; /* highest sample */
    double mean_ppm; /* mean of the good samples */
    double temp_c;   /* FW_RD_TEMP */
    double hum_pct;  /* FW_RD_HUM */
    uint16_t nsamples;
    uint16_t ngood;
    uint8_t status; /* enum mq7_status of the last failed sample (MQ7_OK if none) */
    uint8_t pad[3];
    unsigned flags; /* FW_RD_*: the OR over the samples */
};

struct fw_agg {
    uint32_t n, ngood;
    struct fw_sample peak; /* highest good sample */
    struct fw_sample last;
    double sum_ppm;
    unsigned flags;
    uint8_t status;
};

void fw_agg_reset(struct fw_agg *a);
/* Adds one sample; returns the number of samples now held. */
uint32_t fw_agg_add(struct fw_agg *a, const struct fw_sample *s);
/* Folds the held samples into *out (seq and ts_ms left 0) and resets a.
 * report_peak: ppm is the peak, else the mean. False if a holds nothing. */
bool fw_agg_take(struct fw_agg *a, bool report_peak, struct fw_reading *out);

/* True when a reading carries a ppm value (some sample converted). */
bool fw_reading_has_ppm(const struct fw_reading *r);

#endif
