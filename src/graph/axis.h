/* axis.h - axis ticks: nice round value steps (1, 2, 5 x 10^k) and calendar
 * time ticks (seconds to years, UTC) with readable labels. Pure functions. */
#ifndef CARBON_AXIS_H
#define CARBON_AXIS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Value axis over [lo, hi] with about `target` intervals: the step is 1, 2
 * or 5 x 10^k; *lo_out and *hi_out are lo and hi widened to multiples of it. */
struct value_axis {
    double lo, hi, step;
};
void axis_values(double lo, double hi, int target, struct value_axis *out);

#define AXIS_MAX_TICKS 64

struct time_tick {
    int64_t t;
    char label[16];   /* "14:30", "14:30:15", "Nov 25", "Nov", "2026" */
    char context[16]; /* second line where the larger unit changes ("Nov 25", "2026"), or "" */
};

/* Time ticks in [from, to] spaced at least about min_px apart on a plot of
 * width_px (at most AXIS_MAX_TICKS): the step is the first of 1, 2, 5, 10,
 * 15, 30 s; 1, 2, 5, 10, 15, 30 min; 1, 2, 3, 6, 12 h; 1, 2, 7 days; 1, 2,
 * 3, 6 months; 1, 2, 5, 10... years that fits. Returns the number written. */
size_t axis_time(int64_t from, int64_t to, double width_px, double min_px,
                 struct time_tick out[AXIS_MAX_TICKS]);

/* UTC calendar fields of an epoch-ms instant. */
struct civil {
    int year, month, day, hour, min, sec; /* month 1..12 */
};
void axis_civil(int64_t ms, struct civil *out);
/* Epoch ms of a UTC date (month may run past 12: it carries into years). */
int64_t axis_epoch_ms(int year, int month, int day);
/* "Jan".."Dec" for month 1..12. */
const char *axis_month_name(int month);

/* A short human form of a range: "2026-11-25 14:00 - 16:00 UTC",
 * "2026-11-25 14:00 - 2026-11-27 09:30 UTC"; compact (for phones):
 * "Nov 25 14:00-16:00 UTC", "Nov 25 14:00 - Nov 27 09:30 UTC". out: at
 * least 64 bytes. */
void axis_range_text(int64_t from, int64_t to, bool compact, char *out, size_t n);

#endif
