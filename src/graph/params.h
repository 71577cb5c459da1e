/* params.h - the parameters of a graph request: time range, chart type,
 * size, extra series. Parsed from name -> value lookups so that the API
 * (query strings), the seed's route and the CLI share one parser. */
#ifndef CARBON_GRAPH_PARAMS_H
#define CARBON_GRAPH_PARAMS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GRAPH_DEFAULT_WIDTH 1200 /* the seed's chart width */
#define GRAPH_DEFAULT_HEIGHT 500
#define GRAPH_MIN_WIDTH 200
#define GRAPH_MAX_WIDTH 4000
#define GRAPH_MIN_HEIGHT 150
#define GRAPH_MAX_HEIGHT 2000
#define GRAPH_DEFAULT_RANGE_MS (24LL * 3600 * 1000)
#define GRAPH_MAX_RANGE_MS (20LL * 366 * 24 * 3600 * 1000) /* 20 years */

struct graph_params {
    int64_t from, to; /* [from, to), epoch ms */
    bool bar;
    int width, height;
    unsigned series; /* CHART_TEMP | CHART_HUM */
};

/* Looks up a parameter by name; NULL when absent. */
typedef const char *(*graph_get_fn)(void *arg, const char *name);

/* The API's parameters: from, to (default: the 24 hours before now), type
 * (line | bar), width, height, series (comma list of co, temperature,
 * humidity). False with a message for the client in err otherwise. */
bool graph_params_parse(graph_get_fn get, void *arg, int64_t now_ms, struct graph_params *out,
                        char *err, size_t errlen);

/* The seed's parameters: start_date, end_date, graph_type (Line | Bar, any
 * case; default Line). Size is the seed's 1200 x 500. */
bool graph_seed_params_parse(graph_get_fn get, void *arg, int64_t now_ms, struct graph_params *out,
                             char *err, size_t errlen);

/* A time as the seed accepted (ISO 8601) and as the rest of the API does:
 * RFC 3339; epoch seconds; "YYYY-MM-DD"; "YYYY-MM-DD[T| ]HH:MM[:SS[.frac]]"
 * with an optional zone (Z, +HH:MM, +HHMM, +HH; none means UTC). A '+'
 * between date and time is read as a space (form encoding). */
bool graph_time_parse(const char *s, int64_t *ms);

#endif
