/* alarm.h - the CO alarm engine: pure and portable.
 *
 * No I/O, no heap, no OS headers, no clock: the caller passes each reading
 * (with its own timestamp) or a clock tick, and gets back the events it
 * caused. The server runs it for every stored reading; the firmware runs the
 * same code to drive its buzzer with no network. State is a plain struct
 * (no pointers) that the server persists as bytes.
 *
 * The model and its sources are documented in docs/ALARMS.md. In short:
 *  - co_high: a reading >= warn_ppm raises a warning, >= alarm_ppm makes it
 *    critical; it clears after readings stay below warn_ppm - hysteresis for
 *    clear_hold.
 *  - co_exposure: a leaky integrator of CO dose, the structure of the
 *    Coburn-Forster-Kane COHb equation, with uptake per ppm taken from a
 *    standard's response points (UL 2034 or EN 50291-1) so that a constant
 *    concentration alarms at the standard's time, and fluctuating or stepped
 *    exposure adds up instead of resetting.
 *  - co_rising: the smoothed level rose by rise_ppm (90% of it, for the
 *    smoothing's lag) within rise_window.
 *  - sensor_fault: readings pinned at the top rail, impossible jumps, the
 *    same value (above 5 ppm) for stuck time, or a fault flag from the device.
 *  - offline: no reading received for offline_after (clock-driven).
 *  - manual: raised and cleared by a person. */
#ifndef CARBON_ALARM_H
#define CARBON_ALARM_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum alarm_kind {
    ALARM_CO_HIGH,
    ALARM_CO_EXPOSURE,
    ALARM_CO_RISING,
    ALARM_OFFLINE,
    ALARM_SENSOR_FAULT,
    ALARM_MANUAL,
    ALARM_NKINDS
};

enum alarm_severity { ALARM_SEV_NONE, ALARM_SEV_WARNING, ALARM_SEV_CRITICAL };

enum alarm_standard { ALARM_STD_UL2034, ALARM_STD_EN50291, ALARM_NSTANDARDS };

/* One response point of a standard: a constant concentration and the time
 * by which it must alarm (too_early_min: must not alarm before; 0 = no lower
 * bound; never_min: must not alarm within this time at all, for no-alarm
 * points). Used by the conformance tests and shown in the docs. */
struct alarm_std_point {
    double ppm;
    double too_early_min; /* must not alarm before */
    double by_min;        /* must alarm by (0: must not alarm) */
    double never_min;     /* for no-alarm points: the time it must stay quiet */
};

/* A standard: the calibration of the exposure model plus its test points. */
struct alarm_standard_def {
    const char *name; /* "UL2034", "EN50291" */
    double floor_ppm; /* no uptake at or below this concentration */
    size_t nknots;    /* uptake curve knots (ppm ascending) */
    double knot_ppm[6];
    double knot_min[6]; /* time to alarm at that constant concentration */
    size_t npoints;
    struct alarm_std_point points[6];
};

/* Per-device settings. Times in milliseconds. */
struct alarm_config {
    double warn_ppm;          /* heads-up warning (30) */
    double alarm_ppm;         /* critical (50) */
    double hysteresis_ppm;    /* clear below threshold minus this (5) */
    int64_t clear_hold_ms;    /* ... for this long (5 min) */
    double rise_ppm;          /* co_rising: this much (20) ... */
    int64_t rise_window_ms;   /* ... within this window (5 min) */
    int64_t offline_after_ms; /* offline: no reading received for this long (10 min) */
    int64_t stuck_ms;         /* sensor_fault: same value (> 5 ppm) this long (6 h) */
    double rail_ppm;          /* sensor_fault: readings at/above this are at the rail */
    double jump_ppm;          /* sensor_fault: a jump this big within jump_window... */
    int64_t jump_window_ms;   /* ... between consecutive readings (60 s) */
    int64_t fresh_ms;         /* a late reading older than this is not acted on (10 min) */
    double mute_max_ppm;      /* no muting at or above this (150) */
    int64_t mute_max_ms;      /* longest mute (10 min) */
    enum alarm_standard standard;
};

/* Flags of an input reading (set by the firmware; the server sends 0). */
#define ALARM_IN_FAULT 1u  /* the device detected an open or shorted sensor */
#define ALARM_IN_WARMUP 2u /* the sensor is still warming up: not acted on */

struct alarm_input {
    int64_t ts_ms;   /* the reading's own time */
    int64_t recv_ms; /* when it was received (now, on a device) */
    double ppm;
    unsigned flags;
};

#define ALARM_RISE_SLOTS 16

/* The state of one kind of alarm on one device. */
struct alarm_kind_state {
    uint8_t active;
    uint8_t severity;
    uint8_t pad[6];
    double told_peak_ppm;   /* peak last reported in an event */
    int64_t since_ms;       /* when it was raised (reading ts, or clock for offline) */
    int64_t below_since_ms; /* start of the current run of "clear" readings; 0 = none */
    int64_t muted_until_ms; /* 0 = not muted */
    double peak_ppm;
};

/* Everything the engine remembers about one device. Plain data. */
struct alarm_state {
    uint32_t version; /* ALARM_STATE_VERSION */
    uint32_t rail_count;
    int64_t last_ts_ms;   /* newest reading acted on; 0 = none yet */
    int64_t last_recv_ms; /* receipt time of the newest reading; 0 = none */
    double last_ppm;
    double dose;    /* exposure: 1.0 is the alarm point */
    double ema_ppm; /* smoothed level for co_rising */
    int64_t stuck_since_ms;
    double stuck_ppm;
    int64_t fault_clear_since_ms;
    struct {
        int64_t start_ms; /* slot covers [start, start + window/SLOTS); 0 = empty */
        double min_ppm;
    } rise[ALARM_RISE_SLOTS];
    struct alarm_kind_state kind[ALARM_NKINDS];
};

#define ALARM_STATE_VERSION 1u

enum alarm_event_type {
    ALARM_EV_RAISED,  /* a new alarm: notify */
    ALARM_EV_UPDATED, /* severity went up, or the peak rose markedly */
    ALARM_EV_CLEARED, /* the condition has gone (with hysteresis) */
    ALARM_EV_REARMED, /* a mute ended (or CO reached mute_max_ppm) while still active */
};

struct alarm_event {
    enum alarm_event_type type;
    enum alarm_kind kind;
    enum alarm_severity severity;
    int64_t ts_ms; /* reading ts (clock time for offline and mutes) */
    double ppm;    /* the reading that caused it (clock events: the last reading; offline: 0) */
    double peak_ppm;
};

#define ALARM_MAX_EVENTS (2 * ALARM_NKINDS)

struct alarm_events {
    size_t n;
    struct alarm_event ev[ALARM_MAX_EVENTS];
};

/* Defaults of SPEC 5: warn 30, alarm 50, rise +20 in 5 min, offline 10 min,
 * UL 2034. */
void alarm_config_default(struct alarm_config *c);
/* NULL if c is usable, else a reason naming the bad setting. */
const char *alarm_config_check(const struct alarm_config *c);

const struct alarm_standard_def *alarm_standard_get(enum alarm_standard s);
/* ALARM_NSTANDARDS if name is not a known standard. */
enum alarm_standard alarm_standard_parse(const char *name);
const char *alarm_kind_name(enum alarm_kind k);
/* ALARM_NKINDS if unknown. */
enum alarm_kind alarm_kind_parse(const char *name);
const char *alarm_severity_name(enum alarm_severity s);
const char *alarm_event_name(enum alarm_event_type t);

/* A fresh state: no readings, nothing active. */
void alarm_state_init(struct alarm_state *st);

/* Feeds one reading. Readings must come in the order they were taken; one
 * at or before the last one acted on is "late": it moves no clock or dose
 * (its interval is already accounted for) and may only raise or raise the
 * peak of co_high if it is fresh (recv - ts <= fresh_ms). A reading with the
 * same ts as the last is a duplicate and ignored. */
void alarm_reading(const struct alarm_config *c, struct alarm_state *st,
                   const struct alarm_input *in, struct alarm_events *out);

/* Clock tick at now_ms: offline detection and the end of mutes. */
void alarm_tick(const struct alarm_config *c, struct alarm_state *st, int64_t now_ms,
                struct alarm_events *out);

enum alarm_mute_result { ALARM_MUTE_OK, ALARM_MUTE_NOT_ACTIVE, ALARM_MUTE_TOO_HIGH };
/* Silences an active alarm of kind k until now + min(ms, mute_max_ms).
 * Refused while the last reading is >= mute_max_ppm. */
enum alarm_mute_result alarm_mute(const struct alarm_config *c, struct alarm_state *st,
                                  enum alarm_kind k, int64_t now_ms, int64_t ms);
bool alarm_muted(const struct alarm_state *st, enum alarm_kind k, int64_t now_ms);

/* A manual alarm raised / cleared by a person. False if already in that state. */
bool alarm_manual(struct alarm_state *st, bool raise, int64_t now_ms, enum alarm_severity sev,
                  struct alarm_events *out);

/* The constant-concentration time to alarm of the exposure model for a
 * standard, in ms (INT64_MAX when that level never alarms). For docs/tests. */
int64_t alarm_exposure_time_ms(enum alarm_standard s, double ppm);

#endif
