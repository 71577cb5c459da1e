/* graph.c - a device's chart from the store (raw or rollups) to SVG. */
#include "graph/graph.h"

#include "alarm/settings.h"
#include "graph/chart.h"
#include "graph/downsample.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GRAPH_MAX_ALERTS 500 /* newest alerts looked at for shading */

struct bucket_sink {
    struct gcol *cols;
    size_t n, cap;
    int64_t step_ms;
    uint64_t readings;
};

static bool take_bucket(void *arg, const struct store_bucket *b)
{
    struct bucket_sink *s = arg;
    if (s->n == s->cap)
        return false; /* cannot happen: cap covers the range */
    ds_from_bucket(b, s->step_ms, &s->cols[s->n++]);
    s->readings += b->count;
    return true;
}

/* Alarm periods of the device that overlap [from, to). */
static cb_err periods(struct store *st, uint32_t dev, int64_t from, int64_t to, int64_t now_ms,
                      struct chart_period **out, size_t *n)
{
    struct alert *a = NULL;
    size_t na = 0;
    *out = NULL;
    *n = 0;
    struct alert_filter f = {.dev = dev,
                             .kind = -1,
                             .active = -1,
                             .acked = -1,
                             .from = INT64_MIN / 2,
                             .to = to,
                             .limit = GRAPH_MAX_ALERTS};
    cb_err rc = st->ops->alerts_query(st, &f, &a, &na);
    if (rc != CB_OK)
        return rc;
    struct chart_period *p = malloc((na ? na : 1) * sizeof *p);
    if (!p) {
        free(a);
        return CB_ERR_NOMEM;
    }
    for (size_t i = 0; i < na; i++) {
        int64_t end = a[i].cleared_ms ? a[i].cleared_ms : a[i].active ? now_ms : a[i].updated_ms;
        if (end <= from || a[i].raised_ms >= to)
            continue;
        enum chart_shade kind;
        switch ((enum alarm_kind)a[i].kind) {
        case ALARM_CO_HIGH:
        case ALARM_CO_EXPOSURE:
        case ALARM_CO_RISING:
        case ALARM_MANUAL:
            kind = a[i].severity == ALARM_SEV_CRITICAL ? SHADE_CRITICAL : SHADE_WARNING;
            break;
        case ALARM_OFFLINE:
            kind = SHADE_OFFLINE;
            break;
        default:
            continue; /* sensor faults say nothing about the air */
        }
        p[(*n)++] = (struct chart_period){a[i].raised_ms, end, kind};
    }
    free(a);
    *out = p;
    return CB_OK;
}

cb_err graph_render(struct store *st, const struct device *d, const struct graph_params *p,
                    int64_t now_ms, struct buf *svg, struct graph_info *info)
{
    struct reading *raw = NULL;
    size_t nraw = 0;
    struct gcol *cols = NULL;
    struct chart_period *shade = NULL;
    struct chart c = {.width = p->width,
                      .height = p->height,
                      .bar = p->bar,
                      .series = p->series,
                      .from = p->from,
                      .to = p->to,
                      .name = d->name && *d->name ? d->name : d->id};
    struct graph_info gi = {0};
    /* Line: a column per pixel (two points each). Bars: one per 4 pixels. */
    int ncols = chart_plot_width(p->width, p->series);
    if (p->bar)
        ncols = ncols / 4 > 1 ? ncols / 4 : 1;
    size_t raw_max = (size_t)ncols * GRAPH_RAW_PER_COLUMN;

    cb_err rc =
        st->ops->query_readings(st, d->seq, p->from, p->to, false, raw_max + 1, &raw, &nraw);
    if (rc != CB_OK)
        goto out;
    c.typical_ms = ds_typical_interval(raw, nraw);
    if (nraw <= raw_max) {
        if (!(cols = malloc((nraw ? nraw : 1) * sizeof *cols))) {
            rc = CB_ERR_NOMEM;
            goto out;
        }
        c.ncols = ds_minmax(raw, nraw, p->from, p->to, ncols, cols);
        gi.readings = nraw;
    } else {
        /* Long range: the store aggregates, one bucket per column. Whole
         * minutes when a column spans a minute or more: the store keeps
         * per-minute rollups and then reads those instead of raw rows. */
        int64_t span = p->to - p->from;
        int64_t step = (span + ncols - 1) / ncols;
        int64_t unit = step >= 60000 ? 60000 : 1000;
        step = (step + unit - 1) / unit * unit;
        struct bucket_sink s = {.cap = (size_t)(span / step) + 2, .step_ms = step};
        if (!(s.cols = malloc(s.cap * sizeof *s.cols))) {
            rc = CB_ERR_NOMEM;
            goto out;
        }
        rc = st->ops->series(st, d->seq, p->from, p->to, step, take_bucket, &s);
        cols = s.cols;
        c.ncols = s.n;
        c.min_gap_ms = step;
        gi.readings = s.readings;
        gi.rollup = true;
        gi.step_ms = step;
        if (rc != CB_OK)
            goto out;
    }
    c.cols = cols;
    c.nreadings = gi.readings;
    gi.columns = c.ncols;
    free(raw); /* the columns hold what is drawn */
    raw = NULL;

    rc = periods(st, d->seq, p->from, p->to, now_ms, &shade, &c.nperiods);
    if (rc != CB_OK)
        goto out;
    c.periods = shade;
    struct alarm_config cfg;
    alarm_settings_config(d->thresholds, d->offline_after_s, &cfg);
    c.warn_ppm = cfg.warn_ppm;
    c.alarm_ppm = cfg.alarm_ppm;
    if (!chart_svg(&c, svg))
        rc = CB_ERR_NOMEM;
out:
    if (info)
        *info = gi;
    free(raw);
    free(cols);
    free(shade);
    return rc;
}

void graph_etag(const char *body, size_t len, char out[40])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    static const char hex[] = "0123456789abcdef";
    if (!EVP_Digest(body, len, md, &mdlen, EVP_sha256(), NULL) || mdlen < 16)
        memset(md, 0, 16);
    out[0] = '"';
    for (int i = 0; i < 16; i++) {
        out[1 + 2 * i] = hex[md[i] >> 4];
        out[2 + 2 * i] = hex[md[i] & 15];
    }
    out[33] = '"';
    out[34] = '\0';
}
