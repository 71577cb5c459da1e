/* chart.c - the SVG CO chart, drawn through the escaping XML writer. */
#include "graph/chart.h"

#include "graph/axis.h"
#include "graph/xml.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Colours (Tableau-like, distinguishable for the common colour blindness). */
#define COL_CO "#1f5fbf"
#define COL_WARN "#d98200"
#define COL_ALARM "#d62728"
#define COL_TEMP "#2ca02c"
#define COL_HUM "#9467bd"
#define COL_OFFLINE "#7f7f7f"
#define COL_GRID "#e3e3e3"
#define COL_AXIS "#8c8c8c"
#define COL_TEXT "#222222"
#define COL_MUTED "#666666"

/* The geometry of one drawing. */
struct layout {
    double font, title_font;
    double left, right, top, bottom; /* margins */
    double px, py, pw, ph;           /* plot area */
    struct value_axis y, y2;
    bool second; /* a second axis (temperature / humidity) */
};

static double char_w(double font)
{
    return font * 0.6; /* DejaVu Sans average advance; good enough to fit text */
}

static double x_of(const struct chart *c, const struct layout *l, int64_t t)
{
    if (t <= c->from)
        return l->px;
    if (t >= c->to)
        return l->px + l->pw;
    return l->px + (double)(t - c->from) / (double)(c->to - c->from) * l->pw;
}

static double y_of(const struct value_axis *a, const struct layout *l, double v)
{
    double f = (v - a->lo) / (a->hi - a->lo);
    if (f < 0)
        f = 0;
    if (f > 1)
        f = 1;
    return l->py + l->ph - f * l->ph;
}

/* Copies at most max_cp code points of s into out (cap bytes), adding an
 * ellipsis when it had to cut; cuts only between UTF-8 sequences. */
static void shorten(const char *s, size_t max_cp, char *out, size_t cap)
{
    size_t cp = 0, i = 0;
    for (; s[i]; i++) {
        bool starts = ((unsigned char)s[i] & 0xC0) != 0x80;
        if (starts && (cp == max_cp || i + 8 > cap))
            break; /* room for a whole sequence plus the ellipsis */
        cp += starts;
    }
    memcpy(out, s, i);
    if (s[i])
        memcpy(out + i, "\xE2\x80\xA6", 4); /* U+2026 and the NUL */
    else
        out[i] = '\0';
}

/* Opens a <text> element; the caller adds attributes, then text_end. */
static void text_begin(struct xml *w, double x, double y, const char *anchor, double size,
                       const char *fill)
{
    xml_open(w, "text");
    xml_attr_num(w, "x", x);
    xml_attr_num(w, "y", y);
    if (anchor)
        xml_attr(w, "text-anchor", anchor);
    xml_attr_num(w, "font-size", size);
    if (fill)
        xml_attr(w, "fill", fill);
}

static void text(struct xml *w, double x, double y, const char *anchor, double size,
                 const char *fill, const char *s)
{
    text_begin(w, x, y, anchor, size, fill);
    xml_text(w, s);
    xml_close(w);
}

/* Text over the data: a white outline keeps it readable on any line. */
static void text_halo(struct xml *w, double x, double y, const char *anchor, double size,
                      const char *fill, const char *s)
{
    text_begin(w, x, y, anchor, size, fill);
    xml_attr(w, "stroke", "#ffffff");
    xml_attr(w, "stroke-width", "3");
    xml_attr(w, "stroke-linejoin", "round");
    xml_attr(w, "paint-order", "stroke");
    xml_text(w, s);
    xml_close(w);
}

static void line(struct xml *w, double x1, double y1, double x2, double y2, const char *stroke,
                 double width, const char *dash)
{
    xml_open(w, "line");
    xml_attr_num(w, "x1", x1);
    xml_attr_num(w, "y1", y1);
    xml_attr_num(w, "x2", x2);
    xml_attr_num(w, "y2", y2);
    xml_attr(w, "stroke", stroke);
    xml_attr_num(w, "stroke-width", width);
    if (dash)
        xml_attr(w, "stroke-dasharray", dash);
    xml_close(w);
}

static void rect(struct xml *w, double x, double y, double wd, double ht, const char *fill,
                 double opacity)
{
    xml_open(w, "rect");
    xml_attr_num(w, "x", x);
    xml_attr_num(w, "y", y);
    xml_attr_num(w, "width", wd);
    xml_attr_num(w, "height", ht);
    xml_attr(w, "fill", fill);
    if (opacity < 1)
        xml_attr_num(w, "fill-opacity", opacity);
    xml_close(w);
}

/* ---- path data: numbers and commands only, built in a scratch buffer ---- */

struct path {
    struct buf b;
    bool oom;      /* an append failed: the chart fails */
    bool pen_down; /* a subpath is open */
    size_t points; /* points in the current subpath */
};

static void path_num(struct path *p, double v)
{
    char num[32];
    /* One decimal is a tenth of a pixel: plenty, and keeps the SVG small. */
    double r = round(v * 10) / 10;
    int n = snprintf(num, sizeof num, "%.1f", r == 0 ? 0 : r);
    if (n > 2 && num[n - 1] == '0' && num[n - 2] == '.')
        n -= 2;
    p->oom |= !buf_append(&p->b, num, (size_t)n);
}

static void path_point(struct path *p, double x, double y)
{
    p->oom |= !buf_puts(&p->b, p->pen_down ? "L" : "M");
    path_num(p, x);
    p->oom |= !buf_puts(&p->b, " ");
    path_num(p, y);
    p->pen_down = true;
    p->points++;
}

/* Ends the subpath; a lone point (one reading between gaps) becomes a small
 * ring so that it stays visible. */
static void path_break(struct path *p)
{
    if (p->pen_down && p->points == 1)
        p->oom |= !buf_puts(&p->b, "m-2.5 0a2.5 2.5 0 1 0 5 0a2.5 2.5 0 1 0-5 0m2.5 0");
    p->pen_down = false;
    p->points = 0;
}

static void draw_path(struct xml *w, struct path *p, const char *stroke, double width)
{
    path_break(p);
    if (p->oom)
        w->failed = true;
    if (p->b.len && !p->oom) {
        xml_open(w, "path");
        xml_attr(w, "d", p->b.data);
        xml_attr(w, "fill", "none");
        xml_attr(w, "stroke", stroke);
        xml_attr_num(w, "stroke-width", width);
        xml_attr(w, "stroke-linejoin", "round");
        xml_attr(w, "stroke-linecap", "round");
        xml_close(w);
    }
    buf_free(&p->b);
}

/* ---- parts ---- */

static double col_avg(const struct gcol *g)
{
    return g->agg.count ? g->agg.co_sum / (double)g->agg.count : 0;
}

static void margins(int width, bool second, double *left, double *right)
{
    bool narrow = width < 700;
    *left = narrow ? 40 : 56;
    *right = second ? (narrow ? 40 : 56) : (narrow ? 12 : 24);
}

int chart_plot_width(int width, unsigned series)
{
    double left, right;
    margins(width, series != 0, &left, &right);
    return width - (int)(left + right) < 10 ? 10 : width - (int)(left + right);
}

static void layout_init(const struct chart *c, struct layout *l, double ymax, double s2lo,
                        double s2hi, int legend_lines)
{
    bool narrow = c->width < 700;
    l->font = narrow ? 11 : 12;
    l->title_font = narrow ? 13 : 16;
    l->second = c->series != 0 && s2lo <= s2hi;
    margins(c->width, l->second, &l->left, &l->right);
    l->top = l->title_font + 2 * l->font + 28; /* title, subtitle, axis units */
    l->bottom = 2 * l->font + 18 + legend_lines * (l->font + 8);
    l->px = l->left;
    l->py = l->top;
    l->pw = c->width - l->left - l->right;
    l->ph = c->height - l->top - l->bottom;
    if (l->pw < 10)
        l->pw = 10;
    if (l->ph < 10)
        l->ph = 10;
    axis_values(0, ymax, (int)(l->ph / 45) + 1, &l->y);
    if (l->second) {
        double pad = (s2hi - s2lo) * 0.1 + 0.5;
        axis_values(s2lo - pad, s2hi + pad, (int)(l->ph / 45) + 1, &l->y2);
    }
}

static void draw_title(struct xml *w, const struct chart *c, const struct layout *l,
                       const struct gcol *peak)
{
    char name[256], title[300], sub[200], range[80];
    double avail = c->width - 2 * 12;
    size_t max_cp = (size_t)(avail / char_w(l->title_font)) - 12;
    shorten(c->name, max_cp > 8 ? max_cp : 8, name, sizeof name);
    snprintf(title, sizeof title, "%s \xE2\x80\x94 CO (ppm)", name);
    text(w, 12, 8 + l->title_font, NULL, l->title_font, COL_TEXT, title);
    axis_range_text(c->from, c->to, c->width < 700, range, sizeof range);
    if (peak) {
        struct civil pc;
        char num[32];
        axis_civil(peak->t_max, &pc);
        xml_fmt_num(num, peak->agg.co_max);
        if (c->width < 700) /* a phone gets the range and the peak only */
            snprintf(sub, sizeof sub, "%s \xC2\xB7 peak %s ppm", range, num);
        else
            snprintf(sub, sizeof sub,
                     "%s \xC2\xB7 %llu readings \xC2\xB7 peak %s ppm (%s %d %02d:%02d)", range,
                     (unsigned long long)c->nreadings, num, axis_month_name(pc.month), pc.day,
                     pc.hour, pc.min);
    } else {
        snprintf(sub, sizeof sub, "%s", range);
    }
    char shown[200];
    shorten(sub, (size_t)(avail / char_w(l->font)), shown, sizeof shown);
    text(w, 12, 8 + l->title_font + l->font + 8, NULL, l->font, COL_MUTED, shown);
}

static void draw_periods(struct xml *w, const struct chart *c, const struct layout *l)
{
    static const char *const fill[] = {COL_WARN, COL_ALARM, COL_OFFLINE};
    for (size_t i = 0; i < c->nperiods; i++) {
        const struct chart_period *p = &c->periods[i];
        if (p->to <= c->from || p->from >= c->to)
            continue;
        double x1 = x_of(c, l, p->from), x2 = x_of(c, l, p->to);
        if (x2 - x1 < 1.5) /* a short alarm still shows */
            x1 -= 0.75, x2 += 0.75;
        rect(w, x1, l->py, x2 - x1, l->ph, fill[p->kind], p->kind == SHADE_CRITICAL ? 0.16 : 0.12);
    }
}

static void draw_grid(struct xml *w, const struct chart *c, const struct layout *l,
                      const struct time_tick *ticks, size_t nticks)
{
    char num[32];
    /* ppm axis */
    for (double v = l->y.lo; v <= l->y.hi + l->y.step / 2; v += l->y.step) {
        double y = y_of(&l->y, l, v);
        line(w, l->px, y, l->px + l->pw, y, COL_GRID, 1, NULL);
        xml_fmt_num(num, v);
        text(w, l->px - 6, y + l->font * 0.35, "end", l->font, COL_TEXT, num);
    }
    text(w, 12, l->py - 8, NULL, l->font, COL_MUTED, "ppm");
    /* second axis */
    if (l->second) {
        for (double v = l->y2.lo; v <= l->y2.hi + l->y2.step / 2; v += l->y2.step) {
            double y = y_of(&l->y2, l, v);
            xml_fmt_num(num, v);
            text(w, l->px + l->pw + 6, y + l->font * 0.35, NULL, l->font, COL_TEXT, num);
        }
        const char *unit = c->series == (CHART_TEMP | CHART_HUM) ? "\xC2\xB0"
                                                                   "C / %"
                           : c->series == CHART_TEMP             ? "\xC2\xB0"
                                                                   "C"
                                                                 : "%RH";
        text(w, c->width - 6, l->py - 8, "end", l->font, COL_MUTED, unit);
    }
    /* time axis */
    for (size_t i = 0; i < nticks; i++) {
        double x = x_of(c, l, ticks[i].t);
        line(w, x, l->py, x, l->py + l->ph, COL_GRID, 1, NULL);
        line(w, x, l->py + l->ph, x, l->py + l->ph + 4, COL_AXIS, 1, NULL);
        double ty = l->py + l->ph + 6 + l->font;
        text(w, x, ty, "middle", l->font, COL_TEXT, ticks[i].label);
        if (ticks[i].context[0])
            text(w, x, ty + l->font + 3, "middle", l->font, COL_MUTED, ticks[i].context);
    }
    /* frame */
    xml_open(w, "rect");
    xml_attr_num(w, "x", l->px);
    xml_attr_num(w, "y", l->py);
    xml_attr_num(w, "width", l->pw);
    xml_attr_num(w, "height", l->ph);
    xml_attr(w, "fill", "none");
    xml_attr(w, "stroke", COL_AXIS);
    xml_close(w);
}

static void draw_threshold(struct xml *w, const struct layout *l, double ppm, const char *what,
                           const char *colour)
{
    if (ppm > l->y.hi)
        return;
    double y = y_of(&l->y, l, ppm);
    char num[32], lbl[64];
    line(w, l->px, y, l->px + l->pw, y, colour, 1.5, "6 4");
    xml_fmt_num(num, ppm);
    snprintf(lbl, sizeof lbl, "%s %s ppm", what, num);
    text_halo(w, l->px + l->pw - 4, y - 4, "end", l->font, colour, lbl);
}

/* Columns of a line: per column its minimum and maximum in the order they
 * happened (for store buckets, in the direction the line goes next). */
static void draw_co_line(struct xml *w, const struct chart *c, const struct layout *l)
{
    struct path p = {0};
    buf_init(&p.b, 0);
    for (size_t i = 0; i < c->ncols; i++) {
        const struct gcol *g = &c->cols[i];
        if (i > 0 && ds_is_gap(&c->cols[i - 1], g, c->typical_ms, c->min_gap_ms))
            path_break(&p);
        double ymin = y_of(&l->y, l, g->agg.co_min), ymax = y_of(&l->y, l, g->agg.co_max);
        double xmin = x_of(c, l, g->t_min), xmax = x_of(c, l, g->t_max);
        if (g->agg.co_min == g->agg.co_max) {
            path_point(&p, xmax, ymax);
            continue;
        }
        bool min_first = g->t_min < g->t_max;
        if (g->t_min == g->t_max) /* a bucket: head for the next column */
            min_first = i + 1 < c->ncols && col_avg(&c->cols[i + 1]) > col_avg(g);
        if (min_first) {
            path_point(&p, xmin, ymin);
            path_point(&p, xmax, ymax);
        } else {
            path_point(&p, xmax, ymax);
            path_point(&p, xmin, ymin);
        }
    }
    draw_path(w, &p, COL_CO, 1.6);
}

static void draw_co_bars(struct xml *w, const struct chart *c, const struct layout *l)
{
    /* Bar width: 80% of the closest spacing between columns, 1 to 40 px. */
    double spacing = l->pw;
    for (size_t i = 1; i < c->ncols; i++) {
        double d = x_of(c, l, c->cols[i].t_first) - x_of(c, l, c->cols[i - 1].t_first);
        if (d > 0 && d < spacing)
            spacing = d;
    }
    double bw = spacing * 0.8;
    if (bw > 40)
        bw = 40;
    if (bw < 1)
        bw = 1;
    double base = y_of(&l->y, l, 0);
    for (size_t i = 0; i < c->ncols; i++) {
        const struct gcol *g = &c->cols[i];
        double x = (x_of(c, l, g->t_first) + x_of(c, l, g->t_last)) / 2;
        double y = y_of(&l->y, l, g->agg.co_max);
        const char *fill = g->agg.co_max >= c->alarm_ppm  ? COL_ALARM
                           : g->agg.co_max >= c->warn_ppm ? COL_WARN
                                                          : COL_CO;
        double h = base - y < 1 ? 1 : base - y;
        rect(w, x - bw / 2, base - h, bw, h, fill, 1);
    }
}

static void draw_aux(struct xml *w, const struct chart *c, const struct layout *l, bool temp)
{
    struct path p = {0};
    buf_init(&p.b, 0);
    for (size_t i = 0; i < c->ncols; i++) {
        const struct gcol *g = &c->cols[i];
        uint64_t n = temp ? g->agg.temp_n : g->agg.hum_n;
        if (i > 0 && ds_is_gap(&c->cols[i - 1], g, c->typical_ms, c->min_gap_ms))
            path_break(&p);
        if (!n) {
            path_break(&p);
            continue;
        }
        double v = (temp ? g->agg.temp_sum : g->agg.hum_sum) / (double)n;
        path_point(&p, x_of(c, l, (g->t_first + g->t_last) / 2), y_of(&l->y2, l, v));
    }
    draw_path(w, &p, temp ? COL_TEMP : COL_HUM, 1.2);
}

/* ---- legend ---- */

enum swatch { SW_LINE, SW_DASH, SW_BOX };

struct legend_item {
    enum swatch sw;
    const char *colour;
    char label[48];
    double opacity;
};

static double item_w(const struct layout *l, const struct legend_item *it)
{
    return 22 + (double)strlen(it->label) * char_w(l->font) + 14;
}

static size_t legend_items(const struct chart *c, struct legend_item *it, bool has_data)
{
    size_t n = 0;
    char num[32];
    it[n++] = (struct legend_item){c->bar ? SW_BOX : SW_LINE, COL_CO, "", 1};
    snprintf(it[n - 1].label, sizeof it[n - 1].label, "%s",
             c->bar ? "CO: highest per bar" : "CO ppm (min-max)");
    xml_fmt_num(num, c->warn_ppm);
    it[n++] = (struct legend_item){SW_DASH, COL_WARN, "", 1};
    snprintf(it[n - 1].label, sizeof it[n - 1].label, "warning %s ppm", num);
    xml_fmt_num(num, c->alarm_ppm);
    it[n++] = (struct legend_item){SW_DASH, COL_ALARM, "", 1};
    snprintf(it[n - 1].label, sizeof it[n - 1].label, "alarm %s ppm", num);
    bool kinds[3] = {false, false, false};
    for (size_t i = 0; i < c->nperiods; i++)
        if (c->periods[i].to > c->from && c->periods[i].from < c->to)
            kinds[c->periods[i].kind] = true;
    static const char *const names[] = {"warning period", "alarm period", "offline"};
    static const char *const cols[] = {COL_WARN, COL_ALARM, COL_OFFLINE};
    for (int k = 0; k < 3; k++)
        if (kinds[k]) {
            it[n] = (struct legend_item){SW_BOX, cols[k], "", k == SHADE_CRITICAL ? 0.3 : 0.25};
            snprintf(it[n].label, sizeof it[n].label, "%s", names[k]);
            n++;
        }
    if (has_data && (c->series & CHART_TEMP)) {
        it[n] = (struct legend_item){SW_LINE, COL_TEMP,
                                     "temperature \xC2\xB0"
                                     "C",
                                     1};
        n++;
    }
    if (has_data && (c->series & CHART_HUM)) {
        it[n] = (struct legend_item){SW_LINE, COL_HUM, "humidity %", 1};
        n++;
    }
    return n;
}

static int legend_lines(const struct chart *c, const struct layout *l, const struct legend_item *it,
                        size_t n)
{
    int lines = 1;
    double x = 12;
    for (size_t i = 0; i < n; i++) {
        double wd = item_w(l, &it[i]);
        if (x + wd > c->width - 6 && x > 12) {
            lines++;
            x = 12;
        }
        x += wd;
    }
    return lines;
}

static void draw_legend(struct xml *w, const struct chart *c, const struct layout *l,
                        const struct legend_item *it, size_t n, int lines)
{
    double x = 12, y = c->height - lines * (l->font + 8) + l->font / 2;
    for (size_t i = 0; i < n; i++) {
        double wd = item_w(l, &it[i]);
        if (x + wd > c->width - 6 && x > 12) {
            x = 12;
            y += l->font + 8;
        }
        if (it[i].sw == SW_BOX)
            rect(w, x, y - 5, 16, 10, it[i].colour, it[i].opacity);
        else
            line(w, x, y, x + 16, y, it[i].colour, 2, it[i].sw == SW_DASH ? "6 4" : NULL);
        text(w, x + 22, y + l->font * 0.35, NULL, l->font, COL_TEXT, it[i].label);
        x += wd;
    }
}

bool chart_svg(const struct chart *c, struct buf *out)
{
    const struct gcol *peak = NULL;
    double ymax = c->alarm_ppm > c->warn_ppm ? c->alarm_ppm : c->warn_ppm;
    double s2lo = INFINITY, s2hi = -INFINITY;
    for (size_t i = 0; i < c->ncols; i++) {
        const struct gcol *g = &c->cols[i];
        if (!peak || g->agg.co_max > peak->agg.co_max)
            peak = g;
        if ((c->series & CHART_TEMP) && g->agg.temp_n) {
            double v = g->agg.temp_sum / (double)g->agg.temp_n;
            s2lo = fmin(s2lo, v), s2hi = fmax(s2hi, v);
        }
        if ((c->series & CHART_HUM) && g->agg.hum_n) {
            double v = g->agg.hum_sum / (double)g->agg.hum_n;
            s2lo = fmin(s2lo, v), s2hi = fmax(s2hi, v);
        }
    }
    if (peak && peak->agg.co_max > ymax)
        ymax = peak->agg.co_max;
    ymax *= 1.08; /* head room above the highest line */

    struct legend_item items[8];
    struct layout l;
    layout_init(c, &l, ymax, s2lo, s2hi, 1);
    size_t nitems = legend_items(c, items, c->ncols > 0);
    int nlines = legend_lines(c, &l, items, nitems);
    layout_init(c, &l, ymax, s2lo, s2hi, nlines);

    struct time_tick ticks[AXIS_MAX_TICKS];
    size_t nticks = axis_time(c->from, c->to, l.pw, c->width < 700 ? 70 : 90, ticks);

    struct xml w;
    xml_init(&w, out);
    xml_open(&w, "svg");
    xml_attr(&w, "xmlns", "http://www.w3.org/2000/svg");
    xml_attr_num(&w, "width", c->width);
    xml_attr_num(&w, "height", c->height);
    xml_attr_fmt(&w, "viewBox", "0 0 %d %d", c->width, c->height);
    xml_attr(&w, "font-family", "DejaVu Sans, Verdana, Arial, sans-serif");
    xml_attr(&w, "role", "img");
    xml_open(&w, "title");
    {
        char range[80], name[256], t[400];
        axis_range_text(c->from, c->to, false, range, sizeof range);
        shorten(c->name, 200, name, sizeof name);
        snprintf(t, sizeof t, "CO of %s, %s", name, range);
        xml_text(&w, t);
    }
    xml_close(&w);
    rect(&w, 0, 0, c->width, c->height, "#ffffff", 1);
    draw_title(&w, c, &l, peak);
    draw_periods(&w, c, &l);
    draw_grid(&w, c, &l, ticks, nticks);
    if (c->ncols > 0) {
        xml_open(&w, "g");
        xml_attr(&w, "class", "data");
        if (c->bar)
            draw_co_bars(&w, c, &l);
        else
            draw_co_line(&w, c, &l);
        if (l.second && (c->series & CHART_TEMP))
            draw_aux(&w, c, &l, true);
        if (l.second && (c->series & CHART_HUM))
            draw_aux(&w, c, &l, false);
        xml_close(&w);
    }
    draw_threshold(&w, &l, c->warn_ppm, "warning", COL_WARN);
    draw_threshold(&w, &l, c->alarm_ppm, "alarm", COL_ALARM);
    if (c->ncols == 0)
        text_halo(&w, l.px + l.pw / 2, l.py + l.ph * 0.8, "middle", l.title_font, COL_MUTED,
                  "No readings in this range");
    draw_legend(&w, c, &l, items, nitems, nlines);
    return xml_finish(&w);
}
