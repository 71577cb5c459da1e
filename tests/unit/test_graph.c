/* test_graph.c - downsampling (property: every column keeps its maximum and
 * minimum), gap detection, axis ticks, graph parameters and ISO 8601 dates,
 * and graph_render over a fake store (raw vs rollup path, alarm shading,
 * store failures). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph/axis.h"
#include "graph/chart.h"
#include "graph/downsample.h"
#include "graph/graph.h"
#include "graph/params.h"
#include "store/rollup.h"

#define T0 1764000000000LL /* 2025-11-24T16:00:00Z */

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ---- downsampling ---- */

static void check_columns(const struct reading *r, size_t n, int64_t from, int64_t to, int cols)
{
    struct gcol *out = malloc((size_t)cols * sizeof *out + 1);
    double *mx = malloc((size_t)cols * sizeof *mx), *mn = malloc((size_t)cols * sizeof *mn);
    uint64_t *cnt = calloc((size_t)cols, sizeof *cnt);
    assert_non_null(out);
    assert_non_null(cnt);
    for (size_t i = 0; i < n; i++) {
        int c = ds_column(r[i].ts_ms, from, to, cols);
        assert_true(c >= 0 && c < cols);
        if (!cnt[c]++ || r[i].co_ppm > mx[c])
            mx[c] = r[i].co_ppm;
        if (cnt[c] == 1 || r[i].co_ppm < mn[c])
            mn[c] = r[i].co_ppm;
    }
    size_t k = ds_minmax(r, n, from, to, cols, out);
    assert_true(k <= (size_t)cols);
    size_t nonempty = 0;
    uint64_t total = 0;
    for (int c = 0; c < cols; c++)
        nonempty += cnt[c] > 0;
    assert_int_equal(k, nonempty);
    for (size_t j = 0; j < k; j++) {
        int c = ds_column(out[j].t_first, from, to, cols);
        assert_int_equal(ds_column(out[j].t_last, from, to, cols), c);
        assert_true(j == 0 || out[j].t_first > out[j - 1].t_last); /* ascending */
        assert_true(out[j].agg.co_max == mx[c]);                   /* the peak survives */
        assert_true(out[j].agg.co_min == mn[c]);
        assert_int_equal(out[j].agg.count, cnt[c]);
        assert_int_equal(ds_column(out[j].t_max, from, to, cols), c);
        total += out[j].agg.count;
    }
    assert_int_equal(total, n);
    free(out);
    free(mx);
    free(mn);
    free(cnt);
}

static void test_downsample_keeps_every_column_peak(void **state)
{
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + next() % 5000;
        int cols = 1 + (int)(next() % 1500);
        int64_t from = T0 + (int64_t)(next() % 1000000);
        int64_t to = from + 1 + (int64_t)(next() % (round % 2 ? 31536000000LL : 7200000));
        struct reading *r = malloc(n * sizeof *r);
        assert_non_null(r);
        /* Sorted random instants in [from, to) (duplicates of ts allowed). */
        for (size_t i = 0; i < n; i++)
            r[i] = (struct reading){.ts_ms = from + (int64_t)(next() % (uint64_t)(to - from))};
        for (size_t i = 1; i < n; i++) /* insertion sort: n is small */
            for (size_t j = i; j > 0 && r[j].ts_ms < r[j - 1].ts_ms; j--) {
                struct reading t = r[j];
                r[j] = r[j - 1];
                r[j - 1] = t;
            }
        for (size_t i = 0; i < n; i++) {
            r[i].co_ppm = (double)(next() % 100000) / 100.0;
            if (next() % 50 == 0)
                r[i].co_ppm = 5000 + (double)(next() % 5000); /* spikes */
        }
        check_columns(r, n, from, to, cols);
        free(r);
    }
}

static void test_downsample_year_keeps_single_spike(void **state)
{
    /* A year at one reading per minute (525,600 readings) into 1,100 columns:
     * one 1-minute spike of 400 ppm in a flat 3 ppm year must be drawn. */
    size_t n = 525600;
    struct reading *r = malloc(n * sizeof *r);
    assert_non_null(r);
    for (size_t i = 0; i < n; i++)
        r[i] = (struct reading){.ts_ms = T0 + (int64_t)i * 60000, .co_ppm = 3};
    r[312345].co_ppm = 400;
    struct gcol *out = malloc(1100 * sizeof *out);
    size_t k = ds_minmax(r, n, T0, T0 + (int64_t)n * 60000, 1100, out);
    assert_true(k == 1100);
    int spikes = 0;
    for (size_t j = 0; j < k; j++)
        spikes += out[j].agg.co_max == 400;
    assert_int_equal(spikes, 1);
    free(out);
    free(r);
}

static void test_gaps(void **state)
{
    struct reading r[] = {
        {.ts_ms = 0}, {.ts_ms = 10000}, {.ts_ms = 20000}, {.ts_ms = 31000}, {.ts_ms = 40000}};
    assert_int_equal(ds_typical_interval(r, 5), 10000);
    assert_int_equal(ds_typical_interval(r, 1), 0);
    struct gcol a = {.t_first = 0, .t_last = 40000}, b = {.t_first = 90000, .t_last = 90000};
    assert_false(ds_is_gap(&a, &b, 10000, 0)); /* 50 s of silence = 5 intervals: not yet */
    b.t_first = 90001;
    assert_true(ds_is_gap(&a, &b, 10000, 0));
    assert_false(ds_is_gap(&a, &b, 0, 0));        /* one reading: no interval known */
    assert_false(ds_is_gap(&a, &b, 1000, 60000)); /* within one column's span */
}

/* ---- axes ---- */

static void test_value_axis(void **state)
{
    struct value_axis a;
    axis_values(0, 54, 5, &a);
    assert_true(a.lo == 0 && a.step == 20 && a.hi == 60);
    axis_values(0, 540, 8, &a);
    assert_true(a.step == 100 && a.hi == 600);
    axis_values(0, 0.3, 3, &a);
    assert_true(a.step > 0.09 && a.step < 0.11);
    axis_values(15.2, 24.9, 5, &a);
    assert_true(a.lo == 14 && a.hi == 26 && a.step == 2);
    axis_values(5, 5, 5, &a); /* flat data still gets an axis */
    assert_true(a.hi > a.lo);
}

static void test_time_ticks(void **state)
{
    struct time_tick t[AXIS_MAX_TICKS];
    /* 2 hours on 1100 px, labels >= 90 px apart: every 10 minutes, HH:MM. */
    size_t n = axis_time(T0, T0 + 2 * 3600000, 1100, 90, t);
    assert_true(n >= 8 && n <= 13);
    assert_int_equal(t[1].t - t[0].t, 600000);
    assert_string_equal(t[0].label, "16:00");
    assert_string_equal(t[0].context, "Nov 24"); /* the date under the first tick */
    assert_string_equal(t[1].context, "");
    /* 90 seconds: seconds in the labels. */
    n = axis_time(T0 + 5000, T0 + 95000, 1100, 90, t);
    assert_string_equal(t[0].label, "16:00:10");
    /* A week: days. */
    n = axis_time(T0, T0 + 7 * 86400000LL, 1100, 90, t);
    assert_string_equal(t[0].label, "Nov 25");
    assert_string_equal(t[0].context, "2025");
    /* Two days across midnight on a phone: 6-hourly, the new date at 00:00. */
    n = axis_time(T0, T0 + 2 * 86400000LL, 350, 70, t);
    int midnights = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].label, "00:00") == 0)
            assert_string_equal(t[i].context, midnights++ ? "Nov 26" : "Nov 25");
        else if (i > 0)
            assert_string_equal(t[i].context, "");
    assert_int_equal(midnights, 2);
    /* A year: months from the 1st, the year where it changes. */
    n = axis_time(T0, T0 + 365 * 86400000LL, 1100, 90, t);
    assert_string_equal(t[0].label, "Dec");
    assert_int_equal(t[0].t, axis_epoch_ms(2025, 12, 1));
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].label, "Jan") == 0)
            assert_string_equal(t[i].context, "2026");
    /* Ten years: years. */
    n = axis_time(T0, T0 + 3650 * 86400000LL, 1100, 90, t);
    assert_string_equal(t[0].label, "2026");
    /* Calendar: leap day, and days before 1970 floor correctly. */
    struct civil c;
    axis_civil(axis_epoch_ms(2028, 2, 29) + 3723000, &c);
    assert_true(c.year == 2028 && c.month == 2 && c.day == 29 && c.hour == 1 && c.min == 2 &&
                c.sec == 3);
    axis_civil(-1, &c);
    assert_true(c.year == 1969 && c.month == 12 && c.day == 31 && c.hour == 23);
    assert_int_equal(axis_epoch_ms(2025, 13, 1), axis_epoch_ms(2026, 1, 1));
    char range[80];
    axis_range_text(T0, T0 + 3600000, false, range, sizeof range);
    assert_string_equal(range, "2025-11-24 16:00 - 17:00 UTC");
    axis_range_text(T0, T0 + 86400000, true, range, sizeof range);
    assert_string_equal(range, "Nov 24 16:00 - Nov 25 16:00 UTC");
}

/* ---- parameters ---- */

struct kv {
    const char *k[8], *v[8];
};

static const char *kv_get(void *arg, const char *name)
{
    struct kv *q = arg;
    for (int i = 0; i < 8 && q->k[i]; i++)
        if (strcmp(q->k[i], name) == 0)
            return q->v[i];
    return NULL;
}

static void test_time_parse(void **state)
{
    int64_t ms;
    assert_true(graph_time_parse("2025-11-24T16:00:00Z", &ms) && ms == T0);
    assert_true(graph_time_parse("1764000000", &ms) && ms == T0);
    assert_true(graph_time_parse("2025-11-24T16:00:00", &ms) && ms == T0); /* no zone: UTC */
    assert_true(graph_time_parse("2025-11-24 16:00", &ms) && ms == T0);
    assert_true(graph_time_parse("2025-11-24+16:00", &ms) && ms == T0); /* form-encoded space */
    assert_true(graph_time_parse("2025-11-24T17:00:00+01:00", &ms) && ms == T0);
    assert_true(graph_time_parse("2025-11-24T17:00+0100", &ms) && ms == T0);
    assert_true(graph_time_parse("2025-11-24T15:00-01", &ms) && ms == T0);
    assert_true(graph_time_parse("2025-11-24T16:00:00.250", &ms) && ms == T0 + 250);
    assert_true(graph_time_parse("2025-11-24T16:00:00,5Z", &ms) && ms == T0 + 500);
    assert_true(graph_time_parse("2025-11-24", &ms) && ms == T0 - 16 * 3600000LL);
    static const char *const bad[] = {"",
                                      "yesterday",
                                      "2025-11-24T",
                                      "2025-11-24T16",
                                      "2025-13-01",
                                      "2025-11-24T25:00",
                                      "2025-11-24T16:00:00+1",
                                      "2025-11-24T16:00:00Zjunk",
                                      "2025-11-24x16:00",
                                      "2025-11-24T16:00:00.12345678901234567890123",
                                      "2025-11-24T16:00:00+01:00:00"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(graph_time_parse(bad[i], &ms));
    assert_false(graph_time_parse(NULL, &ms));
}

static void test_params(void **state)
{
    struct graph_params p;
    char err[256];
    int64_t now = T0 + 7 * 86400000LL;
    struct kv none = {{NULL}, {NULL}};
    assert_true(graph_params_parse(kv_get, &none, now, &p, err, sizeof err));
    assert_true(p.to == now && p.from == now - 86400000 && !p.bar && p.width == 1200 &&
                p.height == 500 && p.series == 0);
    struct kv q = {{"from", "type", "width", "height", "series"},
                   {"2025-11-24", "bar", "400", "300", "co,temperature,hum"}};
    assert_true(graph_params_parse(kv_get, &q, now, &p, err, sizeof err));
    assert_true(p.bar && p.width == 400 && p.height == 300 && p.series == (CHART_TEMP | CHART_HUM));
    assert_int_equal(p.to - p.from, 86400000); /* from alone: a day from it */
    struct {
        const char *k, *v, *msg;
    } bad[] = {
        {"type", "pie", "type must be line or bar"},
        {"width", "199", "width must be an integer from 200 to 4000"},
        {"height", "12x", "height must be an integer"},
        {"series", "co,pressure", "series is a comma-separated list"},
        {"from", "soon", "from must be an ISO 8601"},
        {"from", "2030-01-01", "from must be before to"}, /* to defaults to now */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct kv b = {{bad[i].k}, {bad[i].v}};
        assert_false(graph_params_parse(kv_get, &b, now, &p, err, sizeof err));
        assert_non_null(strstr(err, bad[i].msg));
    }
    struct kv equal = {{"from", "to"}, {"2025-11-24", "2025-11-24"}};
    assert_false(graph_params_parse(kv_get, &equal, now, &p, err, sizeof err));
    struct kv huge = {{"from", "to"}, {"1990-01-01", "2025-01-01"}};
    assert_false(graph_params_parse(kv_get, &huge, now, &p, err, sizeof err));
    assert_non_null(strstr(err, "20 years"));
    /* The seed's names; graph_type in any case, Line by default. */
    struct kv s = {{"start_date", "end_date", "graph_type"},
                   {"2025-11-24T16:00:00", "2025-11-24T18:00:00", "BAR"}};
    assert_true(graph_seed_params_parse(kv_get, &s, now, &p, err, sizeof err));
    assert_true(p.bar && p.from == T0 && p.to == T0 + 7200000 && p.width == 1200);
    s.v[2] = "Line";
    assert_true(graph_seed_params_parse(kv_get, &s, now, &p, err, sizeof err) && !p.bar);
    s.k[2] = NULL;
    assert_true(graph_seed_params_parse(kv_get, &s, now, &p, err, sizeof err) && !p.bar);
    s.k[2] = "graph_type", s.v[2] = "Pie";
    assert_false(graph_seed_params_parse(kv_get, &s, now, &p, err, sizeof err));
    assert_non_null(strstr(err, "graph_type must be Line or Bar"));
    s.v[0] = "2025-11-25", s.v[2] = "Line";
    assert_false(graph_seed_params_parse(kv_get, &s, now, &p, err, sizeof err));
    assert_non_null(strstr(err, "start_date must be before end_date"));
}

/* ---- graph_render over a fake store ---- */

struct fake {
    struct store base;
    struct reading *r;
    size_t n;
    struct alert alerts[4];
    size_t nalerts;
    cb_err fail_series, fail_query, fail_alerts;
    int series_calls;
    int64_t last_step;
};

static cb_err fake_query(struct store *st, uint32_t dev, int64_t from, int64_t to, bool desc,
                         size_t limit, struct reading **out, size_t *n)
{
    struct fake *f = (struct fake *)st;
    if (f->fail_query)
        return f->fail_query;
    *out = malloc((f->n ? f->n : 1) * sizeof **out);
    *n = 0;
    for (size_t i = 0; i < f->n && *n < limit; i++)
        if (f->r[i].ts_ms >= from && f->r[i].ts_ms < to)
            (*out)[(*n)++] = f->r[i];
    return CB_OK;
}

static cb_err fake_series(struct store *st, uint32_t dev, int64_t from, int64_t to, int64_t step,
                          store_bucket_fn fn, void *arg)
{
    struct fake *f = (struct fake *)st;
    f->series_calls++;
    f->last_step = step;
    if (f->fail_series)
        return f->fail_series;
    struct rollup r;
    rollup_init(&r, step, fn, arg);
    for (size_t i = 0; i < f->n; i++)
        if (f->r[i].ts_ms >= from && f->r[i].ts_ms < to)
            rollup_add(&r, &f->r[i]);
    rollup_finish(&r);
    return CB_OK;
}

static cb_err fake_alerts(struct store *st, const struct alert_filter *flt, struct alert **out,
                          size_t *n)
{
    struct fake *f = (struct fake *)st;
    if (f->fail_alerts)
        return f->fail_alerts;
    *out = malloc(sizeof f->alerts);
    memcpy(*out, f->alerts, sizeof f->alerts);
    *n = f->nalerts;
    return CB_OK;
}

static const struct store_ops fake_ops = {.name = "fake",
                                          .query_readings = fake_query,
                                          .series = fake_series,
                                          .alerts_query = fake_alerts};

static void fake_fill(struct fake *f, size_t n, int64_t every_ms)
{
    *f = (struct fake){.base = {&fake_ops}, .n = n};
    f->r = malloc(n * sizeof *f->r);
    for (size_t i = 0; i < n; i++)
        f->r[i] = (struct reading){.dev = 1, .ts_ms = T0 + (int64_t)i * every_ms, .co_ppm = 4};
}

static char *draw(struct fake *f, int64_t from, int64_t to, cb_err want, struct graph_info *gi)
{
    struct device d = {.seq = 1, .id = "kitchen-1", .name = "Kitchen"};
    struct graph_params p = {.from = from, .to = to, .width = 1200, .height = 500};
    struct buf b;
    buf_init(&b, GRAPH_MAX_SVG);
    assert_int_equal(graph_render(&f->base, &d, &p, to, &b, gi), want);
    if (want != CB_OK) {
        buf_free(&b);
        return NULL;
    }
    return buf_steal(&b);
}

static void test_render_raw_and_rollup(void **state)
{
    struct fake f;
    struct graph_info gi;
    /* An hour at 10 s: raw readings, no store aggregation. */
    fake_fill(&f, 360, 10000);
    f.r[100].co_ppm = 77;
    char *svg = draw(&f, T0, T0 + 3600000, CB_OK, &gi);
    assert_false(gi.rollup);
    assert_int_equal(gi.readings, 360);
    assert_int_equal(f.series_calls, 0);
    assert_non_null(strstr(svg, "peak 77 ppm"));
    free(svg);
    free(f.r);
    /* A month at 1 minute (43,200 readings): the store's buckets, one per
     * column, the spike still there. */
    fake_fill(&f, 43200, 60000);
    f.r[30000].co_ppm = 412;
    svg = draw(&f, T0, T0 + 43200 * 60000LL, CB_OK, &gi);
    assert_true(gi.rollup);
    assert_int_equal(f.series_calls, 1);
    assert_int_equal(gi.readings, 43200);
    assert_true(gi.columns <= 1200 && gi.columns > 1000);
    assert_int_equal(f.last_step % 1000, 0);
    assert_non_null(strstr(svg, "peak 412 ppm"));
    free(svg);
    free(f.r);
}

static void test_render_periods_and_failures(void **state)
{
    struct fake f;
    fake_fill(&f, 100, 60000);
    f.alerts[0] = (struct alert){.kind = 0 /* co_high */,
                                 .severity = 2,
                                 .raised_ms = T0 + 600000,
                                 .cleared_ms = T0 + 900000};
    f.alerts[1] =
        (struct alert){.kind = 3 /* offline */, .active = true, .raised_ms = T0 + 3000000};
    f.alerts[2] = (struct alert){.kind = 0,
                                 .severity = 1,
                                 .raised_ms = T0 - 7200000,
                                 .cleared_ms = T0 - 3600000}; /* before the range */
    f.nalerts = 3;
    char *svg = draw(&f, T0, T0 + 6000000, CB_OK, NULL);
    assert_non_null(strstr(svg, "alarm period"));
    assert_non_null(strstr(svg, "offline"));
    assert_null(strstr(svg, "warning period")); /* the old warning is outside */
    free(svg);
    /* Nothing in range: a valid chart saying so. */
    svg = draw(&f, T0 - 86400000, T0 - 3600000, CB_OK, NULL);
    assert_non_null(strstr(svg, "No readings in this range"));
    free(svg);
    /* Store failures reach the caller. */
    f.fail_alerts = CB_ERR_IO;
    draw(&f, T0, T0 + 6000000, CB_ERR_IO, NULL);
    f.fail_alerts = CB_OK;
    f.fail_query = CB_ERR_UNAVAILABLE;
    draw(&f, T0, T0 + 6000000, CB_ERR_UNAVAILABLE, NULL);
    free(f.r);
    fake_fill(&f, 20000, 60000);
    f.fail_series = CB_ERR_IO;
    draw(&f, T0, T0 + 20000 * 60000LL, CB_ERR_IO, NULL);
    free(f.r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_downsample_keeps_every_column_peak),
        cmocka_unit_test(test_downsample_year_keeps_single_spike),
        cmocka_unit_test(test_gaps),
        cmocka_unit_test(test_value_axis),
        cmocka_unit_test(test_time_ticks),
        cmocka_unit_test(test_time_parse),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_render_raw_and_rollup),
        cmocka_unit_test(test_render_periods_and_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
