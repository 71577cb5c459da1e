/* timeutil.h - RFC 3339 parsing/formatting and epoch-millisecond helpers. */
#ifndef CARBON_TIMEUTIL_H
#define CARBON_TIMEUTIL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Strict RFC 3339 date-time (e.g. "2026-11-25T16:00:00.123+01:00", 't'/'z'
 * accepted, fractions of any length rounded to milliseconds, leap second
 * 23:59:60 UTC folded into the last millisecond of 23:59:59). Stores UTC epoch
 * milliseconds in *ms. Returns false on any deviation (no partial parse). */
bool rfc3339_parse(const char *s, size_t len, int64_t *ms);

/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (at least 25 bytes).
 * Returns the length written. Instants outside years 0000..9999 are clamped to those bounds. */
size_t rfc3339_format(int64_t ms, char *out);

/* Seconds since the epoch (fractions allowed) to milliseconds, rounded to
 * nearest. False if x is not finite or outside +-1e13 seconds. */
bool epoch_seconds_to_ms(double x, int64_t *ms);

/* Parses a time given as RFC 3339 or as decimal epoch seconds (as used in
 * query parameters such as from= and to=). */
bool time_param_parse(const char *s, int64_t *ms);

/* Wall clock in epoch milliseconds / monotonic clock in nanoseconds. */
int64_t time_now_ms(void);
int64_t time_mono_ns(void);

#endif
