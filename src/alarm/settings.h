/* settings.h - a device's alarm settings: the "thresholds" object of the API
 * (SPEC 5) <-> the engine's struct alarm_config. Server side (jansson).
 *
 * Keys, all optional (absent = default): warn_ppm, alarm_ppm,
 * hysteresis_ppm, clear_hold_s, rise_ppm, rise_window_s, stuck_s, standard
 * ("UL2034" or "EN50291"). offline_after_s is a device field of its own. */
#ifndef CARBON_ALARM_SETTINGS_H
#define CARBON_ALARM_SETTINGS_H
#include "alarm/alarm.h"
#include "core/jsonv.h"

#include <jansson.h>

/* The engine config of a device from its stored thresholds text (NULL or
 * unreadable: defaults) and offline_after_s. */
void alarm_settings_config(const char *thresholds, int64_t offline_after_s,
                           struct alarm_config *out);

/* Applies patch (an object; a null value resets that key to its default)
 * onto the stored text, validates the result as a whole and returns it as
 * normalized JSON text in *out (malloc'd). False with *e filled otherwise. */
bool alarm_settings_merge(const char *stored, const json_t *patch, char **out, struct jv_err *e);

/* The effective settings, defaults included, as a "thresholds" object. */
json_t *alarm_settings_json(const struct alarm_config *c);

#endif
