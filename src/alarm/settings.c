/* settings.c - the "thresholds" object of a device <-> struct alarm_config. */
#include "alarm/settings.h"

#include <stdlib.h>
#include <string.h>

static const char *const keys[] = {"warn_ppm",     "alarm_ppm", "hysteresis_ppm",
                                   "clear_hold_s", "rise_ppm",  "rise_window_s",
                                   "stuck_s",      "standard",  NULL};

/* Reads the keys present in o over *c; false with *e on a bad value. */
static bool read_keys(const json_t *o, struct alarm_config *c, struct jv_err *e)
{
    int64_t s;
    bool has;
    const char *std = NULL;
    if (!jv_only_keys(o, keys, e) ||
        !jv_number(o, "warn_ppm", false, 1, 10000, &c->warn_ppm, NULL, e) ||
        !jv_number(o, "alarm_ppm", false, 1, 10000, &c->alarm_ppm, NULL, e) ||
        !jv_number(o, "hysteresis_ppm", false, 0, 1000, &c->hysteresis_ppm, NULL, e) ||
        !jv_number(o, "rise_ppm", false, 1, 10000, &c->rise_ppm, NULL, e))
        return false;
    if (!jv_int(o, "clear_hold_s", false, 0, 86400, &s, &has, e))
        return false;
    if (has)
        c->clear_hold_ms = s * 1000;
    if (!jv_int(o, "rise_window_s", false, 60, 3600, &s, &has, e))
        return false;
    if (has)
        c->rise_window_ms = s * 1000;
    if (!jv_int(o, "stuck_s", false, 60, 30 * 86400, &s, &has, e))
        return false;
    if (has)
        c->stuck_ms = s * 1000;
    if (!jv_string(o, "standard", false, 1, 16, &std, &has, e))
        return false;
    if (has) {
        c->standard = alarm_standard_parse(std);
        if (c->standard == ALARM_NSTANDARDS) {
            jv_fail(e, "standard", "must be \"UL2034\" or \"EN50291\"");
            return false;
        }
    }
    return true;
}

void alarm_settings_config(const char *thresholds, int64_t offline_after_s,
                           struct alarm_config *out)
{
    alarm_config_default(out);
    if (offline_after_s > 0)
        out->offline_after_ms = offline_after_s * 1000;
    json_t *o = thresholds ? json_loads(thresholds, 0, NULL) : NULL;
    struct alarm_config c = *out;
    struct jv_err e;
    /* Stored text was validated when written; if it is unreadable anyway,
     * the defaults (which alarm) are the safe answer. */
    if (json_is_object(o) && read_keys(o, &c, &e) && !alarm_config_check(&c))
        *out = c;
    json_decref(o);
}

bool alarm_settings_merge(const char *stored, const json_t *patch, char **out, struct jv_err *e)
{
    *out = NULL;
    if (!json_is_object(patch)) {
        jv_fail(e, "thresholds", "must be an object like {\"warn_ppm\":30,\"alarm_ppm\":50}");
        return false;
    }
    /* Check the patch's own types first, so the error names the key sent. */
    struct alarm_config c;
    alarm_config_default(&c);
    if (!read_keys(patch, &c, e))
        return false;
    json_t *merged = jv_merge(stored, patch);
    if (!merged) {
        jv_fail(e, "thresholds", "out of memory");
        return false;
    }
    alarm_config_default(&c);
    const char *why = NULL;
    if (!read_keys(merged, &c, e)) {
        json_decref(merged);
        return false;
    }
    if ((why = alarm_config_check(&c)) != NULL) {
        jv_fail(e, "thresholds", "%s (warn_ppm %g, alarm_ppm %g)", why, c.warn_ppm, c.alarm_ppm);
        json_decref(merged);
        return false;
    }
    *out = json_dumps(merged, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(merged);
    if (!*out) {
        jv_fail(e, "thresholds", "out of memory");
        return false;
    }
    return true;
}

json_t *alarm_settings_json(const struct alarm_config *c)
{
    return json_pack(
        "{s:f,s:f,s:f,s:I,s:f,s:I,s:I,s:s}", "warn_ppm", c->warn_ppm, "alarm_ppm", c->alarm_ppm,
        "hysteresis_ppm", c->hysteresis_ppm, "clear_hold_s", (json_int_t)(c->clear_hold_ms / 1000),
        "rise_ppm", c->rise_ppm, "rise_window_s", (json_int_t)(c->rise_window_ms / 1000), "stuck_s",
        (json_int_t)(c->stuck_ms / 1000), "standard", alarm_standard_get(c->standard)->name);
}
