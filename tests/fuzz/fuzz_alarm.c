/* fuzz_alarm.c - fuzzes a device's alarm settings (the "thresholds" JSON of
 * PATCH /v1/devices) and then the alarm engine with the accepted settings.
 * Input: thresholds JSON, a newline, then 6-byte reading records
 * (u16 seconds since the previous reading, u16 ppm*4 (0..16383.75), u8 flags,
 * u8 ticks). Properties: accepted settings give a config the engine accepts
 * and that round-trips; the engine never emits more than ALARM_MAX_EVENTS,
 * never raises a kind twice without a clear, and its dose stays finite. */
#include "alarm/alarm.h"
#include "alarm/settings.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool active[ALARM_NKINDS];

static void check_events(const struct alarm_events *ev, const struct alarm_state *st)
{
    if (ev->n > ALARM_MAX_EVENTS || !isfinite(st->dose) || st->dose < 0)
        abort();
    for (size_t i = 0; i < ev->n; i++) {
        unsigned k = ev->ev[i].kind;
        if (k >= ALARM_NKINDS)
            abort();
        if (ev->ev[i].type == ALARM_EV_RAISED) {
            if (active[k])
                abort(); /* raised twice: one active alarm per kind */
            active[k] = true;
        } else if (ev->ev[i].type == ALARM_EV_CLEARED) {
            if (!active[k])
                abort();
            active[k] = false;
        } else if (!active[k]) {
            abort(); /* updated or re-armed while not active */
        }
    }
    for (int k = 0; k < ALARM_NKINDS; k++)
        if (active[k] != (st->kind[k].active != 0))
            abort();
}

/* Field by field: the struct has padding, which copies need not keep. */
static bool config_equal(const struct alarm_config *a, const struct alarm_config *b)
{
    return a->warn_ppm == b->warn_ppm && a->alarm_ppm == b->alarm_ppm &&
           a->hysteresis_ppm == b->hysteresis_ppm && a->clear_hold_ms == b->clear_hold_ms &&
           a->rise_ppm == b->rise_ppm && a->rise_window_ms == b->rise_window_ms &&
           a->offline_after_ms == b->offline_after_ms && a->stuck_ms == b->stuck_ms &&
           a->rail_ppm == b->rail_ppm && a->jump_ppm == b->jump_ppm &&
           a->jump_window_ms == b->jump_window_ms && a->fresh_ms == b->fresh_ms &&
           a->mute_max_ppm == b->mute_max_ppm && a->mute_max_ms == b->mute_max_ms &&
           a->standard == b->standard;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t jlen = nl ? (size_t)(nl - data) : size;
    char err[200];
    struct alarm_config c;
    alarm_config_default(&c);
    json_t *patch = jv_parse((const char *)data, jlen, err, sizeof err);
    if (patch) {
        char *text = NULL;
        struct jv_err e;
        if (alarm_settings_merge(NULL, patch, &text, &e)) {
            alarm_settings_config(text, 600, &c);
            if (alarm_config_check(&c))
                abort(); /* accepted settings must give a usable config */
            /* Round trip: the effective settings merge back to the same config. */
            json_t *eff = alarm_settings_json(&c);
            char *text2 = NULL;
            struct alarm_config c2;
            if (!alarm_settings_merge(NULL, eff, &text2, &e))
                abort();
            alarm_settings_config(text2, 600, &c2);
            if (!config_equal(&c, &c2))
                abort();
            free(text2);
            json_decref(eff);
        }
        free(text);
        json_decref(patch);
    }
    if (!nl)
        return 0;
    struct alarm_state st;
    struct alarm_events ev;
    alarm_state_init(&st);
    memset(active, 0, sizeof active);
    int64_t t = 1764086400000LL;
    for (const uint8_t *p = nl + 1; p + 6 <= data + size; p += 6) {
        t += (int64_t)(p[0] | p[1] << 8) * 1000 - 30000; /* sometimes backwards */
        struct alarm_input in = {.ts_ms = t,
                                 .recv_ms = t + (p[5] & 0x0f) * 60000,
                                 .ppm = (p[2] | p[3] << 8) / 4.0,
                                 .flags = p[4] & 3u};
        alarm_reading(&c, &st, &in, &ev);
        check_events(&ev, &st);
        for (int i = 0; i < (p[5] >> 4); i++) {
            alarm_tick(&c, &st, in.recv_ms + i * 60000, &ev);
            check_events(&ev, &st);
        }
        if (p[4] & 4) {
            alarm_mute(&c, &st, (enum alarm_kind)(p[4] >> 5 & 7), in.recv_ms, 600000);
        }
    }
    return 0;
}
