/* scenario.c - `carbon sim --scenario`: which scenario each simulated
 * device runs (scenario.h). */
#include "sim/scenario.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ITEM_MAX 64 /* the longest "name:count" item */

/* One comma-separated item of a list: [p, p + len). */
struct item {
    const char *p;
    size_t len;
};

/* The item of s starting at *pos; moves *pos past it and its comma. False
 * at the end of s. An empty item ("a,,b", ",", a trailing comma) is
 * returned as one of length 0. */
static bool next_item(const char *s, size_t *pos, struct item *it)
{
    size_t n = strlen(s);
    if (*pos > n)
        return false;
    const char *start = s + *pos;
    const char *comma = strchr(start, ',');
    it->p = start;
    it->len = comma ? (size_t)(comma - start) : strlen(start);
    *pos += it->len + 1; /* past the comma, or one past the end */
    return true;
}

/* Decimal digits only, 1 to max. */
static bool parse_count(const char *s, size_t len, size_t max, size_t *out)
{
    size_t v = 0;
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (size_t)(s[i] - '0');
        if (v > max)
            return false;
    }
    if (v == 0)
        return false;
    *out = v;
    return true;
}

/* Splits a "name:count" item; false (with the reason in err) if it is not
 * one. */
static bool parse_item(const struct item *it, size_t max, enum sim_scenario *scen, size_t *count,
                       char *err, size_t cap)
{
    char buf[ITEM_MAX + 1];
    if (it->len == 0) {
        snprintf(err, cap, "--scenario has an empty item: write name:count,name:count");
        return false;
    }
    if (it->len > ITEM_MAX) {
        snprintf(err, cap, "--scenario: an item is too long");
        return false;
    }
    memcpy(buf, it->p, it->len);
    buf[it->len] = '\0';
    char *colon = strchr(buf, ':');
    if (!colon && sim_scenario_parse(buf) != SIM_NSCENARIOS) {
        snprintf(err, cap, "--scenario: '%s' needs a count in a list (%s:N)", buf, buf);
        return false;
    }
    if (!colon) {
        snprintf(err, cap,
                 "unknown scenario '%s': steady, slow-leak, fast-leak, sensor-fault, offline, "
                 "mix, or name:count,...",
                 buf);
        return false;
    }
    *colon = '\0';
    *scen = sim_scenario_parse(buf);
    if (*scen == SIM_NSCENARIOS) {
        snprintf(err, cap, "unknown scenario '%s'", buf);
        return false;
    }
    if (!parse_count(colon + 1, strlen(colon + 1), max, count)) {
        snprintf(err, cap, "--scenario: '%s' needs a count from 1 to %zu", colon + 1, max);
        return false;
    }
    return true;
}

static void assign_mix(enum sim_scenario *v, size_t n, uint64_t seed)
{
    struct sim_rng r;
    sim_rng_seed(&r, seed, 0x6d6978);
    for (size_t i = 0; i < n; i++) {
        double u = sim_rng_uniform(&r);
        v[i] = u < 0.6   ? SIM_STEADY
               : u < 0.7 ? SIM_SLOW_LEAK
               : u < 0.8 ? SIM_FAST_LEAK
               : u < 0.9 ? SIM_SENSOR_FAULT
                         : SIM_OFFLINE;
    }
}

int sim_scenarios_assign(const char *spec, uint64_t seed, size_t max, size_t *ndev,
                         enum sim_scenario **out, char *err, size_t cap)
{
    *out = NULL;
    enum sim_scenario one = sim_scenario_parse(spec);
    bool mix = strcmp(spec, "mix") == 0;
    bool counts = one == SIM_NSCENARIOS && !mix;
    if (!*spec) {
        snprintf(err, cap, "--scenario is empty");
        return 2;
    }
    if (counts) {
        /* First pass: check every item and add the counts up. */
        size_t total = 0, pos = 0, cnt;
        struct item it;
        enum sim_scenario s;
        while (next_item(spec, &pos, &it)) {
            if (!parse_item(&it, max, &s, &cnt, err, cap))
                return 2;
            total += cnt;
            if (total > max) {
                snprintf(err, cap, "--scenario: at most %zu devices", max);
                return 2;
            }
        }
        if (*ndev && *ndev != total) {
            snprintf(err, cap, "--devices does not match the scenario counts (%s)", spec);
            return 2;
        }
        *ndev = total;
    }
    if (!*ndev)
        *ndev = 1;
    enum sim_scenario *v = calloc(*ndev, sizeof *v);
    if (!v)
        return 1;
    if (mix) {
        assign_mix(v, *ndev, seed);
    } else if (!counts) {
        for (size_t i = 0; i < *ndev; i++)
            v[i] = one;
    } else {
        /* Second pass: the items are known to be good. */
        size_t k = 0, pos = 0, cnt;
        struct item it;
        enum sim_scenario s;
        while (next_item(spec, &pos, &it) && parse_item(&it, max, &s, &cnt, err, cap))
            for (size_t j = 0; j < cnt && k < *ndev; j++)
                v[k++] = s;
    }
    *out = v;
    return 0;
}
