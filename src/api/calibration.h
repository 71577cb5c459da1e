/* calibration.h - a device's stored MQ-7 calibration (the "calibration"
 * object of /v1/devices, SPEC 4 and 6) as the firmware core's struct
 * mq7_calibration, and the server side of the co_raw conversion.
 *
 * The JSON keys and the fields they set (every key optional; a key left
 * out takes mq7_calibration_default's value):
 *   r0_ohms          r0_ohm        Rs at 100 ppm, 1000..100000; its presence
 *                                  makes the device "calibrated" (co_raw
 *                                  accepted)
 *   rl_ohms          rl_ohm        load resistor, 1000..1000000
 *   divider_ratio    divider       either form of the same divider: >= 1 is
 *                                  Vout/Vpin (the core's form), < 1 is
 *                                  Vpin/Vout (R2/(R1+R2)); a passive divider
 *                                  cannot amplify, so the two never overlap
 *   adc_bits         adc_bits      integer 6..24
 *   vref_volts       vref_v        pin volts at the largest count
 *   vc_volts         vc_v          circuit voltage
 *   adc_gain         adc_gain      two-point factory correction ...
 *   adc_offset_volts adc_offset_v  ... Vpin * gain + offset
 *   rail_counts      rail_counts   integer: counts this close to 0 or the
 *                                  top are a rail (a fault)
 *   curve_a, curve_b curve_a/_b    ppm = a * (Rs/R0)^b, a 1..10000, b -5..-0.2
 *   input            -             "ppm" (default) or "raw": how the seed's
 *                                  POST /Dynamo/item reads its CO value;
 *                                  "raw" needs r0_ohms
 * The ranges are the firmware core's (mq7_calibration_check: plausibility
 * ranges from the datasheet, so an Ohm/kOhm slip or a calibration made in
 * dirty air is refused), and the whole is checked with it, so a calibration
 * the conversion cannot use is refused when it is written, not when a
 * reading arrives; the 422 names the JSON key. short_ratio (the short
 * floor) is not a key: always MQ7_SHORT_RATIO. */
#ifndef CARBON_API_CALIBRATION_H
#define CARBON_API_CALIBRATION_H
#include "core/jsonv.h"
#include "mq7.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CALIBRATION_RAW_MAX ((INT64_C(1) << 24) - 1) /* largest count of the widest ADC */
#define CALIBRATION_PPM_MAX 10000.0                  /* the API's co_ppm range */

struct device_calibration {
    struct mq7_calibration mq7;
    bool calibrated; /* r0_ohms is set: co_raw can be converted */
    bool input_raw;  /* the seed route's CO is ADC counts */
};

/* Defaults: mq7_calibration_default, not calibrated, input ppm. */
void calibration_default(struct device_calibration *c);

/* Validates a calibration object into *out. False with e's field naming
 * the key ("r0_ohms"; "" for a check across keys) and the reason. */
bool calibration_parse(const json_t *obj, struct device_calibration *out, struct jv_err *e);

/* The stored text (NULL or "{}": defaults). False (and *out the defaults)
 * when the text is not a valid calibration, e.g. stored before these
 * checks existed. */
bool calibration_load(const char *text, struct device_calibration *out);

/* One co_raw value of device_id into ppm (clamped to CALIBRATION_PPM_MAX).
 * NULL on success, else a reason for a 422 written to why (cap bytes):
 * not calibrated (names the PATCH that fixes it), out of the ADC's range,
 * or the sensor fault the value shows (rail, open, short). */
const char *calibration_raw_to_ppm(const struct device_calibration *c, const char *device_id,
                                   int64_t raw, double *ppm, char *why, size_t cap);

#endif
