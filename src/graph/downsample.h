/* downsample.h - reduces a CO series to what a chart of a given width can
 * show without losing peaks: per pixel column, the minimum and the maximum
 * (in the order they happened), plus averages of temperature and humidity.
 * Also finds gaps: where the device sent nothing for much longer than its
 * usual interval, so the chart breaks the line instead of interpolating. */
#ifndef CARBON_DOWNSAMPLE_H
#define CARBON_DOWNSAMPLE_H
#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* One pixel column (or one store bucket) of a chart. */
struct gcol {
    int64_t t_first, t_last; /* time span of the readings in it */
    int64_t t_min, t_max;    /* when the minimum / maximum happened */
    struct store_bucket agg; /* count, CO min/max/sum, temperature and humidity sums */
};

/* Column of instant t in a chart of cols columns over [from, to): 0..cols-1
 * (clamped). */
int ds_column(int64_t t, int64_t from, int64_t to, int cols);

/* Downsamples readings r[0..n) (ascending ts, all in [from, to)) into at
 * most cols columns: out[k] for each non-empty column, ascending. out must
 * hold cols entries (or n, if fewer). Returns the number written. Every
 * column keeps the exact minimum and maximum of its readings. */
size_t ds_minmax(const struct reading *r, size_t n, int64_t from, int64_t to, int cols,
                 struct gcol *out);

/* A store bucket as a column (the rollup path for long ranges): its span is
 * [start, start + step), min and max are placed at its middle. */
void ds_from_bucket(const struct store_bucket *b, int64_t step_ms, struct gcol *out);

/* The typical interval between readings: the median gap of r[0..n) in ms
 * (0 if fewer than two readings). */
int64_t ds_typical_interval(const struct reading *r, size_t n);

/* Gap factor: the line breaks where nothing came for more than this many
 * typical intervals. */
#define DS_GAP_FACTOR 5

/* True if the silence between columns a and b (a before b) is a gap for a
 * device whose typical interval is typical_ms (and at least min_gap_ms, the
 * span of one column, so adjacent columns never break). */
bool ds_is_gap(const struct gcol *a, const struct gcol *b, int64_t typical_ms, int64_t min_gap_ms);

#endif
