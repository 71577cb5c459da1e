/* params.c - graph request parameters and the seed's ISO 8601 dates. */
#include "graph/params.h"

#include "core/timeutil.h"
#include "graph/chart.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool digits(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool graph_time_parse(const char *s, int64_t *ms)
{
    if (!s || strlen(s) > 64)
        return false;
    if (time_param_parse(s, ms))
        return true;
    /* Normalize the ISO 8601 forms to RFC 3339, which then checks ranges. */
    char n[96];
    size_t o = 0;
    const char *p = s;
    if (!(digits(p, 4) && p[4] == '-' && digits(p + 5, 2) && p[7] == '-' && digits(p + 8, 2)))
        return false;
    memcpy(n, p, 10);
    o = 10;
    p += 10;
    if (!*p) {
        memcpy(n + o, "T00:00:00Z", 11);
        return rfc3339_parse(n, strlen(n), ms);
    }
    if (*p != 'T' && *p != 't' && *p != ' ' && *p != '+')
        return false;
    p++;
    if (!(digits(p, 2) && p[2] == ':' && digits(p + 3, 2)))
        return false;
    n[o++] = 'T';
    memcpy(n + o, p, 5);
    o += 5;
    p += 5;
    if (*p == ':' && digits(p + 1, 2)) {
        memcpy(n + o, p, 3);
        o += 3;
        p += 3;
        if ((*p == '.' || *p == ',') && digits(p + 1, 1)) {
            n[o++] = '.';
            p++;
            while (digits(p, 1) && o < 40)
                n[o++] = *p++;
            if (digits(p, 1))
                return false; /* more than ~20 fraction digits */
        }
    } else {
        memcpy(n + o, ":00", 3);
        o += 3;
    }
    if (!*p) {
        n[o++] = 'Z';
    } else if ((*p == 'Z' || *p == 'z') && !p[1]) {
        n[o++] = 'Z';
    } else if (*p == '+' || *p == '-') {
        n[o++] = *p++;
        if (!digits(p, 2))
            return false;
        memcpy(n + o, p, 2);
        o += 2;
        p += 2;
        if (*p == ':')
            p++;
        if (!*p) {
            memcpy(n + o, ":00", 3);
            o += 3;
        } else if (digits(p, 2) && !p[2]) {
            n[o++] = ':';
            memcpy(n + o, p, 2);
            o += 2;
        } else {
            return false;
        }
    } else {
        return false;
    }
    n[o] = '\0';
    return rfc3339_parse(n, o, ms);
}

static bool int_param(graph_get_fn get, void *arg, const char *name, int min, int max, int *out,
                      char *err, size_t errlen)
{
    const char *v = get(arg, name);
    if (!v)
        return true;
    char *end;
    long x = strtol(v, &end, 10);
    if (!*v || *end || x < min || x > max) {
        snprintf(err, errlen, "%s must be an integer from %d to %d (pixels)", name, min, max);
        return false;
    }
    *out = (int)x;
    return true;
}

static bool time_arg(graph_get_fn get, void *arg, const char *name, int64_t *ms, bool *given,
                     char *err, size_t errlen)
{
    const char *v = get(arg, name);
    *given = v != NULL;
    if (v && !graph_time_parse(v, ms)) {
        snprintf(err, errlen,
                 "%s must be an ISO 8601 / RFC 3339 time (2026-11-25T16:00:00Z, "
                 "2026-11-25 16:00, 2026-11-25) or epoch seconds",
                 name);
        return false;
    }
    return true;
}

/* Defaults and checks of the range, shared by both dialects. */
static bool range(graph_get_fn get, void *arg, const char *from_name, const char *to_name,
                  int64_t now_ms, struct graph_params *out, char *err, size_t errlen)
{
    bool has_from, has_to;
    if (!time_arg(get, arg, from_name, &out->from, &has_from, err, errlen) ||
        !time_arg(get, arg, to_name, &out->to, &has_to, err, errlen))
        return false;
    if (!has_to)
        out->to = has_from && out->from < now_ms - GRAPH_DEFAULT_RANGE_MS
                      ? out->from + GRAPH_DEFAULT_RANGE_MS
                      : now_ms;
    if (!has_from)
        out->from = out->to - GRAPH_DEFAULT_RANGE_MS;
    if (out->from >= out->to) {
        snprintf(err, errlen, "%s must be before %s", from_name, to_name);
        return false;
    }
    if (out->to - out->from > GRAPH_MAX_RANGE_MS) {
        snprintf(err, errlen, "a graph may span at most 20 years; narrow %s..%s", from_name,
                 to_name);
        return false;
    }
    return true;
}

static void defaults(struct graph_params *out)
{
    *out = (struct graph_params){.width = GRAPH_DEFAULT_WIDTH, .height = GRAPH_DEFAULT_HEIGHT};
}

static bool parse_series(const char *v, unsigned *out, char *err, size_t errlen)
{
    *out = 0;
    const char *p = v;
    while (true) {
        size_t len = strcspn(p, ",");
        if (len == 2 && strncmp(p, "co", 2) == 0) {
            /* always drawn */
        } else if ((len == 11 && strncmp(p, "temperature", 11) == 0) ||
                   (len == 4 && strncmp(p, "temp", 4) == 0)) {
            *out |= CHART_TEMP;
        } else if ((len == 8 && strncmp(p, "humidity", 8) == 0) ||
                   (len == 3 && strncmp(p, "hum", 3) == 0)) {
            *out |= CHART_HUM;
        } else {
            snprintf(err, errlen,
                     "series is a comma-separated list of co, temperature and humidity");
            return false;
        }
        if (!p[len])
            return true;
        p += len + 1;
    }
}

bool graph_params_parse(graph_get_fn get, void *arg, int64_t now_ms, struct graph_params *out,
                        char *err, size_t errlen)
{
    defaults(out);
    if (!range(get, arg, "from", "to", now_ms, out, err, errlen) ||
        !int_param(get, arg, "width", GRAPH_MIN_WIDTH, GRAPH_MAX_WIDTH, &out->width, err, errlen) ||
        !int_param(get, arg, "height", GRAPH_MIN_HEIGHT, GRAPH_MAX_HEIGHT, &out->height, err,
                   errlen))
        return false;
    const char *type = get(arg, "type");
    if (type && strcmp(type, "line") != 0 && strcmp(type, "bar") != 0) {
        snprintf(err, errlen, "type must be line or bar");
        return false;
    }
    out->bar = type && strcmp(type, "bar") == 0;
    const char *series = get(arg, "series");
    return !series || parse_series(series, &out->series, err, errlen);
}

bool graph_seed_params_parse(graph_get_fn get, void *arg, int64_t now_ms, struct graph_params *out,
                             char *err, size_t errlen)
{
    defaults(out);
    if (!range(get, arg, "start_date", "end_date", now_ms, out, err, errlen))
        return false;
    const char *type = get(arg, "graph_type");
    if (type && *type && strcasecmp(type, "line") != 0 && strcasecmp(type, "bar") != 0) {
        snprintf(err, errlen, "graph_type must be Line or Bar");
        return false;
    }
    out->bar = type && strcasecmp(type, "bar") == 0;
    return true;
}
