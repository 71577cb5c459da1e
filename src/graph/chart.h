/* chart.h - draws a CO chart as SVG: line or bar, time axis, ppm axis,
 * warn/alarm threshold lines, shaded alarm periods, optional temperature and
 * humidity on a second axis, title with the device name. Pure: it draws
 * what it is given (graph.c fetches it). */
#ifndef CARBON_CHART_H
#define CARBON_CHART_H
#include "core/buf.h"
#include "graph/downsample.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHART_TEMP 1u /* draw temperature (C) on the second axis */
#define CHART_HUM 2u  /* draw humidity (%) on the second axis */

enum chart_shade { SHADE_WARNING, SHADE_CRITICAL, SHADE_OFFLINE };

/* A period to shade: an alarm of the device (clipped to the chart). */
struct chart_period {
    int64_t from, to;
    enum chart_shade kind;
};

struct chart {
    int width, height; /* pixels */
    bool bar;          /* bars (highest reading per column) instead of a line */
    unsigned series;   /* CHART_TEMP | CHART_HUM */
    int64_t from, to;  /* the range shown, epoch ms */
    const char *name;  /* device name or id: untrusted text, escaped and shortened here */
    double warn_ppm, alarm_ppm;
    const struct gcol *cols; /* ascending, non-empty columns */
    size_t ncols;
    int64_t typical_ms; /* usual interval between readings (0: unknown) */
    int64_t min_gap_ms; /* silences up to this never break the line (one column's span) */
    const struct chart_period *periods;
    size_t nperiods;
    uint64_t nreadings; /* readings behind the columns, for the subtitle */
};

/* The width in pixels of the plot area of a chart width pixels wide (with a
 * second axis when series is not 0): the number of columns worth drawing. */
int chart_plot_width(int width, unsigned series);

/* Renders c as a standalone SVG document appended to out. False if out
 * refused the bytes (its cap, or memory). */
bool chart_svg(const struct chart *c, struct buf *out);

#endif
