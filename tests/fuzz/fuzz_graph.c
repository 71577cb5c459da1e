/* fuzz_graph.c - fuzzes the graph request parsers and the XML escaping:
 * the input is read as a query string (k=v&k=v) for both the API's and the
 * seed's parameters, as one time for graph_time_parse, and as a device name
 * for the escaper and the chart. Accepted parameters are within their
 * documented bounds; escaped text is valid UTF-8 with no markup character
 * left raw; a chart always completes and never carries the name as markup. */
#include "core/buf.h"
#include "graph/chart.h"
#include "graph/params.h"
#include "graph/xml.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXP 16
struct query {
    char *k[MAXP], *v[MAXP];
    int n;
};

static const char *get(void *arg, const char *name)
{
    struct query *q = arg;
    for (int i = 0; i < q->n; i++)
        if (strcmp(q->k[i], name) == 0)
            return q->v[i];
    return NULL;
}

static void check_params(const struct graph_params *p, int64_t now)
{
    if (p->from >= p->to || p->to - p->from > GRAPH_MAX_RANGE_MS)
        abort();
    if (p->width < GRAPH_MIN_WIDTH || p->width > GRAPH_MAX_WIDTH || p->height < GRAPH_MIN_HEIGHT ||
        p->height > GRAPH_MAX_HEIGHT)
        abort();
    if (p->series & ~(CHART_TEMP | CHART_HUM))
        abort();
    (void)now;
}

/* Escaped text: valid UTF-8 (checked by re-escaping: a second pass must
 * change nothing but the '&' of entities), no raw < > " ' or controls. */
static void check_escaped(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '<' || c == '>' || c == '"' || c == '\'' ||
            (c < 0x20 && c != '\t' && c != '\n' && c != '\r'))
            abort();
        if (c == '&' && strncmp(s + i, "&amp;", 5) != 0 && strncmp(s + i, "&lt;", 4) != 0 &&
            strncmp(s + i, "&gt;", 4) != 0 && strncmp(s + i, "&quot;", 6) != 0 &&
            strncmp(s + i, "&apos;", 6) != 0)
            abort();
    }
    struct buf again;
    buf_init(&again, 0);
    if (!xml_escape(&again, s, len))
        abort();
    size_t amps = 0;
    for (size_t i = 0; i < len; i++)
        amps += s[i] == '&';
    /* Every '&' grows by 4 ("&amp;"); nothing else may change. */
    if (again.len != len + 4 * amps)
        abort();
    buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const int64_t now = 1764086400000LL;
    char *s = malloc(size + 1), *q = malloc(size + 1);
    if (!s || !q) {
        free(s);
        free(q);
        return 0;
    }
    memcpy(s, data, size);
    s[size] = '\0';
    memcpy(q, s, size + 1);

    /* As a query string. */
    struct query qs = {.n = 0};
    for (char *tok = q; tok && qs.n < MAXP;) {
        char *amp = strchr(tok, '&');
        if (amp)
            *amp = '\0';
        char *eq = strchr(tok, '=');
        if (eq) {
            *eq = '\0';
            qs.k[qs.n] = tok;
            qs.v[qs.n++] = eq + 1;
        }
        tok = amp ? amp + 1 : NULL;
    }
    struct graph_params p;
    char err[256];
    if (graph_params_parse(get, &qs, now, &p, err, sizeof err))
        check_params(&p, now);
    if (graph_seed_params_parse(get, &qs, now, &p, err, sizeof err))
        check_params(&p, now);

    /* As one time. */
    int64_t ms;
    (void)graph_time_parse(s, &ms);

    /* As text to escape (the whole input, NULs included) and as a name. */
    struct buf b;
    buf_init(&b, 0);
    if (!xml_escape(&b, (const char *)data, size))
        abort();
    if (b.data)
        check_escaped(b.data, b.len);
    buf_free(&b);
    struct gcol col = {.t_first = now - 1000,
                       .t_last = now - 1000,
                       .t_min = now - 1000,
                       .t_max = now - 1000,
                       .agg = {.co_min = 40, .co_max = 40, .co_sum = 40, .count = 1}};
    struct chart c = {.width = size % 2 ? 400 : 1200,
                      .height = 300,
                      .bar = size % 3 == 0,
                      .from = now - 3600000,
                      .to = now,
                      .name = s,
                      .warn_ppm = 30,
                      .alarm_ppm = 50,
                      .cols = &col,
                      .ncols = 1,
                      .nreadings = 1};
    buf_init(&b, 4u * 1024 * 1024);
    if (!chart_svg(&c, &b) || strstr(b.data, "<script") || strstr(b.data, "<!--"))
        abort();
    buf_free(&b);
    free(s);
    free(q);
    return 0;
}
