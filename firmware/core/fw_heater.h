/* fw_heater.h - the MQ-7 heater cycle as a pure state machine.
 *
 * The datasheet cycle (REFERENCES.md section 4): 5.0 V for 60 s (purges the
 * sensor), then 1.4 V for 90 s (measures); CO is read just before the low
 * phase ends. The machine knows no hardware and no clock: the caller polls it
 * with the time and performs each event it returns (set the heater high or
 * low, take a sample). Several events may be due at once after a long step;
 * they come out one per call, in order (a sample always before the switch to
 * high that follows it). */
#ifndef CARBON_FW_HEATER_H
#define CARBON_FW_HEATER_H
#include <stdint.h>

struct fw_heater_config {
    int64_t high_ms;        /* 5.0 V phase (60000) */
    int64_t low_ms;         /* 1.4 V phase (90000) */
    int64_t sample_lead_ms; /* sample this long before the low phase ends (500) */
    int64_t late_ms;        /* a switch at most this late keeps the nominal schedule (1000) */
};

enum fw_heater_event {
    FW_HEATER_EV_NONE,
    FW_HEATER_EV_HIGH,   /* set the heater to 5.0 V */
    FW_HEATER_EV_LOW,    /* set the heater to 1.4 V */
    FW_HEATER_EV_SAMPLE, /* read the sensor now (end of the low phase) */
};

enum fw_heater_phase { FW_HEATER_PHASE_HIGH, FW_HEATER_PHASE_LOW };

struct fw_heater {
    struct fw_heater_config cfg;
    enum fw_heater_phase phase;
    enum fw_heater_event pending; /* the next event, due at due_ms */
    int64_t due_ms;
    int64_t phase_start_ms;
    uint32_t cycles; /* high phases begun */
};

/* 60 s / 90 s / 0.5 s / 1 s. */
void fw_heater_config_default(struct fw_heater_config *c);
/* NULL when usable, else why not (phases > 0, lead < low phase, late >= 0). */
const char *fw_heater_config_check(const struct fw_heater_config *c);

/* Starts the cycle at now_ms: the first event (HIGH) is due at once. */
void fw_heater_start(struct fw_heater *h, const struct fw_heater_config *c, int64_t now_ms);

/* The next event due at or before now_ms, or FW_HEATER_EV_NONE. A phase
 * begins at its nominal time when the call is at most late_ms late, else at
 * now_ms (after a stall, each phase still gets its full length). */
enum fw_heater_event fw_heater_poll(struct fw_heater *h, int64_t now_ms);

/* Milliseconds from now_ms until the next event (0 if one is due). */
int64_t fw_heater_until_next(const struct fw_heater *h, int64_t now_ms);

#endif
