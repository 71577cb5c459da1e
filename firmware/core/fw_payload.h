/* fw_payload.h - the JSON body of POST /v1/readings (SPEC section 3), built
 * into a caller's buffer with bounds checks and no printf.
 *
 * A batch is a JSON array of reading objects, oldest first:
 *   {"device_id":"kitchen-1","ts":1795622460.125,"co_ppm":12.35,
 *    "co_raw":1840,"temperature_c":21.40,"humidity_pct":45.00}
 * ts is epoch seconds with milliseconds (the API takes fractions; a reading
 * is identified by device_id and ts to the millisecond, so a resent reading
 * is a no-op). Which CO fields go out is the mode; a reading whose samples
 * all failed has no ppm and carries co_raw alone (the server's conversion
 * sees the rail). co_ppm is clamped to the API's 0..10000; temperature and
 * humidity outside -40..125 C / 0..100 % are left out. */
#ifndef CARBON_FW_PAYLOAD_H
#define CARBON_FW_PAYLOAD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fw_reading.h"
#include "fw_ring.h"

enum fw_payload_mode {
    FW_PAYLOAD_PPM,  /* co_ppm (co_raw only for fault readings) */
    FW_PAYLOAD_RAW,  /* co_raw only: the server converts */
    FW_PAYLOAD_BOTH, /* co_ppm and co_raw */
};

#define FW_TS_MIN_MS 946684800000LL /* 2000-01-01T00:00:00Z, the API's earliest ts */

/* True if id is 1-64 characters of [A-Za-z0-9._:-] (the API's device ids). */
bool fw_device_id_valid(const char *id);

/* Writes v with exactly `decimals` (0..6) digits after the point, rounded
 * half away from zero, NUL-terminated. Returns the length, or 0 (out
 * untouched) when v is not finite, |v| >= 1e15, or it does not fit in cap. */
size_t fw_fmt_fixed(char *out, size_t cap, double v, unsigned decimals);
/* Writes an integer in decimal. Returns the length or 0 if it does not fit. */
size_t fw_fmt_int(char *out, size_t cap, int64_t v);

/* One reading object. Returns its length (NUL-terminated in buf), or 0 when
 * it does not fit or the reading has no ts yet (ts_ms < FW_TS_MIN_MS). */
size_t fw_payload_reading(char *buf, size_t cap, const char *device_id, const struct fw_reading *r,
                          enum fw_payload_mode mode);

/* A JSON array of the oldest readings of ring: as many as fit in cap, at most
 * max, stopping before the first one without a ts. *count gets how many went
 * in. Returns the body's length (NUL-terminated), or 0 with *count 0 when not
 * even one fits. */
size_t fw_payload_batch(char *buf, size_t cap, const char *device_id, struct fw_ring *ring,
                        uint32_t max, enum fw_payload_mode mode, uint32_t *count);

#endif
