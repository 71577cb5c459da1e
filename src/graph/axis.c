/* axis.c - nice value ticks and calendar time ticks. */
#include "graph/axis.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void axis_values(double lo, double hi, int target, struct value_axis *out)
{
    if (!isfinite(lo) || !isfinite(hi))
        lo = 0, hi = 1;
    if (hi < lo) {
        double t = lo;
        lo = hi, hi = t;
    }
    if (hi - lo < 1e-9)
        hi = lo + 1;
    if (target < 1)
        target = 1;
    double raw = (hi - lo) / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag, step;
    if (f <= 1)
        step = mag;
    else if (f <= 2)
        step = 2 * mag;
    else if (f <= 5)
        step = 5 * mag;
    else
        step = 10 * mag;
    out->step = step;
    out->lo = floor(lo / step + 1e-9) * step;
    out->hi = ceil(hi / step - 1e-9) * step;
    if (out->hi <= out->lo)
        out->hi = out->lo + step;
}

/* days since 1970-01-01 <-> civil date (H. Hinnant's algorithms). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void axis_civil(int64_t ms, struct civil *out)
{
    int64_t days = floor_div(ms, 86400000);
    int64_t rem = ms - days * 86400000;
    civil_from_days(days, &out->year, &out->month, &out->day);
    out->hour = (int)(rem / 3600000);
    out->min = (int)(rem / 60000 % 60);
    out->sec = (int)(rem / 1000 % 60);
}

int64_t axis_epoch_ms(int year, int month, int day)
{
    int64_t y = year + floor_div(month - 1, 12);
    int m = (int)(month - 1 - floor_div(month - 1, 12) * 12) + 1;
    return days_from_civil(y, m, day) * 86400000;
}

const char *axis_month_name(int month)
{
    static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    return month >= 1 && month <= 12 ? names[month - 1] : "?";
}

enum unit { U_MS, U_MONTH, U_YEAR };

struct step {
    enum unit unit;
    int64_t n; /* ms for U_MS, else months / years */
};

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static const struct step steps[] = {
    {U_MS, 1 * SEC},  {U_MS, 2 * SEC},   {U_MS, 5 * SEC},  {U_MS, 10 * SEC}, {U_MS, 15 * SEC},
    {U_MS, 30 * SEC}, {U_MS, 1 * MIN},   {U_MS, 2 * MIN},  {U_MS, 5 * MIN},  {U_MS, 10 * MIN},
    {U_MS, 15 * MIN}, {U_MS, 30 * MIN},  {U_MS, 1 * HOUR}, {U_MS, 2 * HOUR}, {U_MS, 3 * HOUR},
    {U_MS, 6 * HOUR}, {U_MS, 12 * HOUR}, {U_MS, 1 * DAY},  {U_MS, 2 * DAY},  {U_MS, 7 * DAY},
    {U_MONTH, 1},     {U_MONTH, 2},      {U_MONTH, 3},     {U_MONTH, 6},     {U_YEAR, 1},
    {U_YEAR, 2},      {U_YEAR, 5},       {U_YEAR, 10},     {U_YEAR, 20},     {U_YEAR, 50},
    {U_YEAR, 100},    {U_YEAR, 1000},
};

static double approx_ms(const struct step *s)
{
    switch (s->unit) {
    case U_MONTH:
        return (double)s->n * 30.44 * DAY;
    case U_YEAR:
        return (double)s->n * 365.25 * DAY;
    default:
        return (double)s->n;
    }
}

static void label(const struct step *s, const struct civil *c, const struct civil *prev,
                  struct time_tick *t)
{
    t->context[0] = '\0';
    if (s->unit == U_MS && s->n < MIN) {
        snprintf(t->label, sizeof t->label, "%02d:%02d:%02d", c->hour, c->min, c->sec);
    } else if (s->unit == U_MS && s->n < DAY) {
        snprintf(t->label, sizeof t->label, "%02d:%02d", c->hour, c->min);
    } else if (s->unit == U_MS) {
        snprintf(t->label, sizeof t->label, "%s %d", axis_month_name(c->month), c->day);
    } else if (s->unit == U_MONTH) {
        snprintf(t->label, sizeof t->label, "%s", axis_month_name(c->month));
    } else {
        snprintf(t->label, sizeof t->label, "%d", c->year);
        return;
    }
    /* The larger unit under the first tick and wherever it changes. */
    if (s->unit == U_MS && s->n < DAY) {
        if (!prev || prev->day != c->day || prev->month != c->month || prev->year != c->year)
            snprintf(t->context, sizeof t->context, "%s %d", axis_month_name(c->month), c->day);
    } else if (!prev || prev->year != c->year) {
        snprintf(t->context, sizeof t->context, "%d", c->year);
    }
}

/* Months since year 0 of the start of the month-step holding t's month. */
static int64_t month_index(const struct step *s, int64_t t)
{
    struct civil c;
    axis_civil(t, &c);
    int64_t months = s->unit == U_MONTH ? s->n : s->n * 12;
    /* Counted from year 0, so steps align to January (and decades). */
    return floor_div((int64_t)c.year * 12 + (c.month - 1), months) * months;
}

static int64_t month_start(int64_t idx)
{
    return axis_epoch_ms((int)floor_div(idx, 12), (int)(idx - floor_div(idx, 12) * 12) + 1, 1);
}

/* The tick after t. */
static int64_t tick_next(const struct step *s, int64_t t)
{
    if (s->unit == U_MS)
        return t + s->n;
    return month_start(month_index(s, t) + (s->unit == U_MONTH ? s->n : s->n * 12));
}

/* The first tick at or after from. */
static int64_t tick_first(const struct step *s, int64_t from)
{
    int64_t t;
    if (s->unit == U_MS) {
        int64_t origin = s->n == 7 * DAY ? 4 * DAY : 0; /* weeks start on Monday (1970-01-05) */
        t = origin + floor_div(from - origin, s->n) * s->n;
    } else {
        t = month_start(month_index(s, from));
    }
    return t < from ? tick_next(s, t) : t;
}

size_t axis_time(int64_t from, int64_t to, double width_px, double min_px,
                 struct time_tick out[AXIS_MAX_TICKS])
{
    if (to <= from || width_px <= 0)
        return 0;
    double span = (double)(to - from);
    double max_ticks = width_px / (min_px > 1 ? min_px : 1);
    if (max_ticks > AXIS_MAX_TICKS - 1)
        max_ticks = AXIS_MAX_TICKS - 1;
    size_t nsteps = sizeof steps / sizeof *steps, si = 0;
    while (si + 1 < nsteps && span / approx_ms(&steps[si]) > max_ticks)
        si++;
    const struct step *s = &steps[si];
    size_t n = 0;
    struct civil c, prev;
    for (int64_t t = tick_first(s, from); t <= to && n < AXIS_MAX_TICKS; t = tick_next(s, t)) {
        axis_civil(t, &c);
        out[n].t = t;
        label(s, &c, n ? &prev : NULL, &out[n]);
        n++;
        prev = c;
    }
    return n;
}

void axis_range_text(int64_t from, int64_t to, bool compact, char *out, size_t n)
{
    struct civil a, b;
    axis_civil(from, &a);
    axis_civil(to, &b);
    bool same_day = a.year == b.year && a.month == b.month && a.day == b.day;
    if (compact && same_day)
        snprintf(out, n, "%s %d %02d:%02d-%02d:%02d UTC", axis_month_name(a.month), a.day, a.hour,
                 a.min, b.hour, b.min);
    else if (compact)
        snprintf(out, n, "%s %d %02d:%02d - %s %d %02d:%02d UTC", axis_month_name(a.month), a.day,
                 a.hour, a.min, axis_month_name(b.month), b.day, b.hour, b.min);
    else if (same_day)
        snprintf(out, n, "%04d-%02d-%02d %02d:%02d - %02d:%02d UTC", a.year, a.month, a.day, a.hour,
                 a.min, b.hour, b.min);
    else
        snprintf(out, n, "%04d-%02d-%02d %02d:%02d - %04d-%02d-%02d %02d:%02d UTC", a.year, a.month,
                 a.day, a.hour, a.min, b.year, b.month, b.day, b.hour, b.min);
}
