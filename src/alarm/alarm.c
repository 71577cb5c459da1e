/* alarm.c - the CO alarm engine (see alarm.h and docs/ALARMS.md). Pure: no
 * I/O, no heap, no clock; only <math.h> beyond the freestanding headers. */
#include "alarm/alarm.h"

#include <math.h>
#include <string.h>

/* COHb elimination half-life breathing clean air at rest: about 320 min
 * (Peterson & Stewart 1970, the usual figure for the Coburn-Forster-Kane
 * equation). The exposure integrator forgets with the same time constant. */
#define EXPOSURE_HALF_LIFE_MIN 320.0
#define EXPOSURE_TAU_MS (EXPOSURE_HALF_LIFE_MIN / 0.69314718055994531 * 60000.0)
/* After an exposure alarm clears the dose is capped here, not zeroed: the
 * body still holds CO, so a return of dangerous CO re-alarms quickly (UL:
 * 70 ppm in about 13 min, 150 ppm in about 2.5 min, 400 ppm within a
 * minute). Levels whose equilibrium is below 1 never alarm either way; a
 * source that cycles (e.g. 20 min on, 10 min off) raises a new alert each
 * time it returns, as it should. */
#define EXPOSURE_RESIDUAL 0.9
/* A reading stands for at most this long before it (MQ-7 heater cycles are
 * 150 s; devices that save power report every few minutes). Of a longer gap
 * only this last part counts as exposure; the earlier part only decays (and
 * the offline alarm covers the silence). */
#define HOLD_MAX_MS (15 * 60000LL)
/* Below this, a repeated value is normal (clean air read at integer
 * resolution); a sensor stuck above it is a fault. */
#define STUCK_MIN_PPM 5.0
/* Smoothing time constant of the level co_rising compares, and the part of
 * rise_ppm the smoothed rise must reach: the smoothed level approaches a
 * step only asymptotically (95% after 3 time constants) and lags a ramp by
 * one time constant, so it is held to 90% of the setting. With readings
 * every 15 s, +-10 ppm noise moves it by at most ~11 ppm. */
#define RISE_SMOOTH_MS 30000.0
#define RISE_FRACTION 0.9
/* Consecutive readings at the rail that make a fault. */
#define RAIL_COUNT 3
/* A peak update is reported when the peak rose by this fraction (and 5 ppm). */
#define PEAK_REPORT_STEP 0.10

/* The standards' response points (REFERENCES.md section 3, with sources).
 * knot_min: the time this model takes to alarm at that constant level, chosen
 * inside each window with room for the standards' +-5 ppm tolerances;
 * interpolated linearly in "equilibrium dose level" between knots, extended
 * in proportion to ppm (Haber's rule) above the last, zero at the floor. */
static const struct alarm_standard_def standards[ALARM_NSTANDARDS] = {
    [ALARM_STD_UL2034] =
        {
            .name = "UL2034",
            .floor_ppm = 35,
            .nknots = 4,
            .knot_ppm = {50, 70, 150, 400},
            .knot_min = {300, 120, 25, 8},
            .npoints = 4,
            .points =
                {{30, 0, 0, 30 * 24 * 60}, {70, 60, 240, 0}, {150, 10, 50, 0}, {400, 4, 15, 0}},
        },
    [ALARM_STD_EN50291] =
        {
            .name = "EN50291",
            .floor_ppm = 33,
            .nknots = 3,
            .knot_ppm = {50, 100, 300},
            .knot_min = {75, 20, 2},
            .npoints = 4,
            .points = {{30, 0, 0, 120}, {50, 60, 90, 0}, {100, 10, 40, 0}, {300, 0, 3, 0}},
        },
};

static const char *const kind_names[ALARM_NKINDS] = {
    "co_high", "co_exposure", "co_rising", "offline", "sensor_fault", "manual",
};

const struct alarm_standard_def *alarm_standard_get(enum alarm_standard s)
{
    return (unsigned)s < ALARM_NSTANDARDS ? &standards[s] : NULL;
}

enum alarm_standard alarm_standard_parse(const char *name)
{
    for (int i = 0; i < ALARM_NSTANDARDS; i++)
        if (strcmp(name, standards[i].name) == 0)
            return (enum alarm_standard)i;
    return ALARM_NSTANDARDS;
}

const char *alarm_kind_name(enum alarm_kind k)
{
    return (unsigned)k < ALARM_NKINDS ? kind_names[k] : "unknown";
}

enum alarm_kind alarm_kind_parse(const char *name)
{
    for (int i = 0; i < ALARM_NKINDS; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return (enum alarm_kind)i;
    return ALARM_NKINDS;
}

const char *alarm_severity_name(enum alarm_severity s)
{
    return s == ALARM_SEV_CRITICAL ? "critical" : s == ALARM_SEV_WARNING ? "warning" : "none";
}

const char *alarm_event_name(enum alarm_event_type t)
{
    static const char *const names[] = {"raised", "updated", "cleared", "rearmed"};
    return (unsigned)t < sizeof names / sizeof *names ? names[t] : "unknown";
}

void alarm_config_default(struct alarm_config *c)
{
    *c = (struct alarm_config){
        .warn_ppm = 30,
        .alarm_ppm = 50,
        .hysteresis_ppm = 5,
        .clear_hold_ms = 5 * 60000,
        .rise_ppm = 20,
        .rise_window_ms = 5 * 60000,
        .offline_after_ms = 600000,
        .stuck_ms = 6 * 3600000LL,
        .rail_ppm = 10000,
        .jump_ppm = 2000,
        .jump_window_ms = 60000,
        .fresh_ms = 10 * 60000,
        .mute_max_ppm = 150,
        .mute_max_ms = 10 * 60000,
        .standard = ALARM_STD_UL2034,
    };
}

const char *alarm_config_check(const struct alarm_config *c)
{
    if (!(c->warn_ppm > 0 && c->warn_ppm < c->alarm_ppm && c->alarm_ppm <= 10000))
        return "need 0 < warn_ppm < alarm_ppm <= 10000";
    if (!(c->hysteresis_ppm >= 0 && c->hysteresis_ppm < c->warn_ppm))
        return "hysteresis_ppm must be at least 0 and below warn_ppm";
    if (c->clear_hold_ms < 0 || c->clear_hold_ms > 24 * 3600000LL)
        return "clear_hold_s must be 0 to 86400";
    if (!(c->rise_ppm > 0 && c->rise_ppm <= 10000))
        return "rise_ppm must be above 0 and at most 10000";
    if (c->rise_window_ms < 60000 || c->rise_window_ms > 3600000)
        return "rise_window_s must be 60 to 3600";
    if (c->offline_after_ms < 1000)
        return "offline_after_s must be at least 1";
    if (c->stuck_ms < 60000)
        return "stuck_s must be at least 60";
    if (!(c->rail_ppm >= c->alarm_ppm) || !(c->jump_ppm > 0) || c->jump_window_ms <= 0 ||
        c->fresh_ms < 0)
        return "sensor fault limits are inconsistent";
    if (!(c->mute_max_ppm > 0) || c->mute_max_ms <= 0)
        return "mute limits must be positive";
    if ((unsigned)c->standard >= ALARM_NSTANDARDS)
        return "standard must be UL2034 or EN50291";
    return NULL;
}

void alarm_state_init(struct alarm_state *st)
{
    memset(st, 0, sizeof *st);
    st->version = ALARM_STATE_VERSION;
}

/* ---- exposure model ---- */

/* Equilibrium dose level (dose reached after a long constant exposure) of a
 * knot whose constant-level alarm time is t_min: the integrator reaches 1 at
 * t when level * (1 - exp(-t/tau)) = 1. */
static double knot_level(double t_min)
{
    return 1.0 / (1.0 - exp(-t_min * 60000.0 / EXPOSURE_TAU_MS));
}

static double exposure_level(const struct alarm_standard_def *sd, double ppm)
{
    if (ppm <= sd->floor_ppm)
        return 0;
    double lo_ppm = sd->floor_ppm, lo_level = 0;
    for (size_t i = 0; i < sd->nknots; i++) {
        double level = knot_level(sd->knot_min[i]);
        if (ppm <= sd->knot_ppm[i])
            return lo_level + (level - lo_level) * (ppm - lo_ppm) / (sd->knot_ppm[i] - lo_ppm);
        lo_ppm = sd->knot_ppm[i];
        lo_level = level;
    }
    return lo_level * ppm / lo_ppm;
}

int64_t alarm_exposure_time_ms(enum alarm_standard s, double ppm)
{
    const struct alarm_standard_def *sd = alarm_standard_get(s);
    double level = sd ? exposure_level(sd, ppm) : 0;
    if (level <= 1.0)
        return INT64_MAX;
    return (int64_t)(-EXPOSURE_TAU_MS * log(1.0 - 1.0 / level));
}

/* Advances the dose over a gap of dt_ms whose last hold_ms were at level
 * (the reading stands for the time just before it) and whose earlier part
 * is unknown air, which only decays. Exact solution of
 * d(dose)/dt = (level - dose)/tau, so the step size does not matter. */
static double dose_advance(double dose, double level, double hold_ms, double dt_ms)
{
    if (dt_ms > hold_ms)
        dose *= exp(-(dt_ms - hold_ms) / EXPOSURE_TAU_MS);
    return level + (dose - level) * exp(-hold_ms / EXPOSURE_TAU_MS);
}

/* ---- events ---- */

static void emit(struct alarm_events *out, enum alarm_event_type type, enum alarm_kind k,
                 const struct alarm_kind_state *ks, int64_t ts, double ppm)
{
    if (out->n >= ALARM_MAX_EVENTS)
        return; /* cannot happen: at most two events per kind per call */
    out->ev[out->n++] = (struct alarm_event){
        .type = type,
        .kind = k,
        .severity = (enum alarm_severity)ks->severity,
        .ts_ms = ts,
        .ppm = ppm,
        .peak_ppm = ks->peak_ppm,
    };
}

static void raise_kind(struct alarm_state *st, enum alarm_kind k, enum alarm_severity sev,
                       int64_t ts, double ppm, struct alarm_events *out)
{
    struct alarm_kind_state *ks = &st->kind[k];
    if (!ks->active) {
        *ks = (struct alarm_kind_state){.active = 1,
                                        .severity = (uint8_t)sev,
                                        .since_ms = ts,
                                        .peak_ppm = ppm,
                                        .told_peak_ppm = ppm};
        emit(out, ALARM_EV_RAISED, k, ks, ts, ppm);
        return;
    }
    ks->below_since_ms = 0; /* the condition holds again: restart the clear hold */
    bool up = sev > ks->severity;
    if (up)
        ks->severity = (uint8_t)sev;
    if (ppm > ks->peak_ppm)
        ks->peak_ppm = ppm;
    double told = ks->told_peak_ppm;
    if (up || (ks->peak_ppm >= told * (1 + PEAK_REPORT_STEP) && ks->peak_ppm >= told + 5)) {
        ks->told_peak_ppm = ks->peak_ppm;
        emit(out, ALARM_EV_UPDATED, k, ks, ts, ppm);
    }
    /* A warning silenced by a person does not stay silent once it is critical. */
    if (up && ks->muted_until_ms) {
        ks->muted_until_ms = 0;
        emit(out, ALARM_EV_REARMED, k, ks, ts, ppm);
    }
}

/* A reading while kind k is active but its raise condition is false: clear
 * once clear_ok has held for hold_ms of reading time. */
static bool settle_kind(struct alarm_state *st, enum alarm_kind k, bool clear_ok, int64_t ts,
                        double ppm, int64_t hold_ms, struct alarm_events *out)
{
    struct alarm_kind_state *ks = &st->kind[k];
    if (!ks->active)
        return false;
    if (ppm > ks->peak_ppm)
        ks->peak_ppm = ppm;
    if (!clear_ok) {
        ks->below_since_ms = 0;
        return false;
    }
    if (!ks->below_since_ms)
        ks->below_since_ms = ts;
    if (ts - ks->below_since_ms < hold_ms)
        return false;
    ks->active = 0;
    ks->muted_until_ms = 0;
    emit(out, ALARM_EV_CLEARED, k, ks, ts, ppm);
    return true;
}

/* ---- readings ---- */

static void check_co_high(const struct alarm_config *c, struct alarm_state *st, int64_t ts,
                          double ppm, bool may_clear, struct alarm_events *out)
{
    if (ppm >= c->warn_ppm)
        raise_kind(st, ALARM_CO_HIGH, ppm >= c->alarm_ppm ? ALARM_SEV_CRITICAL : ALARM_SEV_WARNING,
                   ts, ppm, out);
    else if (may_clear)
        settle_kind(st, ALARM_CO_HIGH, ppm < c->warn_ppm - c->hysteresis_ppm, ts, ppm,
                    c->clear_hold_ms, out);
}

static void check_exposure(const struct alarm_config *c, struct alarm_state *st, int64_t ts,
                           int64_t dt, double ppm, struct alarm_events *out)
{
    const struct alarm_standard_def *sd = &standards[c->standard];
    if (dt > 0) {
        double hold = (double)(dt < HOLD_MAX_MS ? dt : HOLD_MAX_MS);
        st->dose = dose_advance(st->dose, exposure_level(sd, ppm), hold, (double)dt);
    }
    /* Raised while dosed and CO is present; cleared once the air has stayed
     * at or below the standard's floor for the hold time (a ventilated room
     * clears without waiting hours for the dose to decay). */
    bool clean = ppm <= sd->floor_ppm;
    if (!clean && st->dose >= 1.0)
        raise_kind(st, ALARM_CO_EXPOSURE, ALARM_SEV_CRITICAL, ts, ppm, out);
    else if (settle_kind(st, ALARM_CO_EXPOSURE, clean, ts, ppm, c->clear_hold_ms, out) &&
             st->dose > EXPOSURE_RESIDUAL)
        st->dose = EXPOSURE_RESIDUAL;
}

static void check_rising(const struct alarm_config *c, struct alarm_state *st, int64_t ts,
                         int64_t dt, double ppm, struct alarm_events *out)
{
    if (dt <= 0 || dt >= c->rise_window_ms)
        st->ema_ppm = ppm; /* first reading or a long gap: start afresh */
    else
        st->ema_ppm += (ppm - st->ema_ppm) * (1.0 - exp(-(double)dt / RISE_SMOOTH_MS));
    /* SLOTS - 1 slots span the window; the extra one keeps the slot that
     * holds the reading one window ago from being reused by the current one. */
    int64_t slot_w = c->rise_window_ms / (ALARM_RISE_SLOTS - 1);
    int64_t start = ts - ts % slot_w;
    size_t i = (size_t)((ts / slot_w) % ALARM_RISE_SLOTS);
    if (st->rise[i].start_ms != start) {
        st->rise[i].start_ms = start;
        st->rise[i].min_ppm = st->ema_ppm;
    } else if (st->ema_ppm < st->rise[i].min_ppm) {
        st->rise[i].min_ppm = st->ema_ppm;
    }
    /* Baseline: the lowest smoothed level in the slots that overlap the
     * window (so a device reporting every window still compares with its
     * previous reading). */
    double base = st->ema_ppm;
    for (size_t j = 0; j < ALARM_RISE_SLOTS; j++)
        if (st->rise[j].start_ms + slot_w > ts - c->rise_window_ms && st->rise[j].start_ms <= ts &&
            st->rise[j].min_ppm < base)
            base = st->rise[j].min_ppm;
    double rise = st->ema_ppm - base;
    if (rise >= c->rise_ppm * RISE_FRACTION)
        raise_kind(st, ALARM_CO_RISING, ALARM_SEV_WARNING, ts, ppm, out);
    else
        settle_kind(st, ALARM_CO_RISING, rise < c->rise_ppm / 2, ts, ppm, c->clear_hold_ms, out);
}

static void check_fault(const struct alarm_config *c, struct alarm_state *st,
                        const struct alarm_input *in, int64_t dt, struct alarm_events *out)
{
    double ppm = in->ppm;
    bool fault = (in->flags & ALARM_IN_FAULT) != 0;
    if (ppm >= c->rail_ppm) {
        if (++st->rail_count >= RAIL_COUNT)
            fault = true;
    } else {
        st->rail_count = 0;
    }
    if (st->last_ts_ms && dt > 0 && dt <= c->jump_window_ms &&
        fabs(ppm - st->last_ppm) >= c->jump_ppm)
        fault = true;
    if (ppm > STUCK_MIN_PPM && ppm == st->stuck_ppm && st->stuck_since_ms) {
        if (in->ts_ms - st->stuck_since_ms >= c->stuck_ms)
            fault = true;
    } else {
        st->stuck_ppm = ppm;
        st->stuck_since_ms = in->ts_ms;
    }
    if (fault)
        raise_kind(st, ALARM_SENSOR_FAULT, ALARM_SEV_WARNING, in->ts_ms, ppm, out);
    else
        settle_kind(st, ALARM_SENSOR_FAULT, true, in->ts_ms, ppm, c->clear_hold_ms, out);
}

/* CO reached a level at which no alarm may stay silenced. */
static void unmute_high(const struct alarm_config *c, struct alarm_state *st, int64_t ts,
                        double ppm, struct alarm_events *out)
{
    if (ppm < c->mute_max_ppm)
        return;
    for (int k = 0; k < ALARM_NKINDS; k++) {
        struct alarm_kind_state *ks = &st->kind[k];
        if (ks->muted_until_ms) {
            ks->muted_until_ms = 0;
            if (ks->active)
                emit(out, ALARM_EV_REARMED, (enum alarm_kind)k, ks, ts, ppm);
        }
    }
}

void alarm_reading(const struct alarm_config *c, struct alarm_state *st,
                   const struct alarm_input *in, struct alarm_events *out)
{
    out->n = 0;
    if (in->recv_ms > st->last_recv_ms)
        st->last_recv_ms = in->recv_ms;
    struct alarm_kind_state *off = &st->kind[ALARM_OFFLINE];
    if (off->active) {
        off->active = 0;
        off->muted_until_ms = 0;
        emit(out, ALARM_EV_CLEARED, ALARM_OFFLINE, off, in->recv_ms, in->ppm);
    }
    if (in->flags & ALARM_IN_WARMUP)
        return;
    if (!(in->ppm >= 0))
        return; /* NaN or negative: nothing the API accepts, ignore */
    if (st->last_ts_ms && in->ts_ms <= st->last_ts_ms) {
        /* Late or duplicate: its interval is accounted for. A fresh late
         * reading still shows a real danger, so it may raise co_high. */
        if (in->ts_ms < st->last_ts_ms && in->recv_ms - in->ts_ms <= c->fresh_ms) {
            if (in->ppm >= c->warn_ppm)
                check_co_high(c, st, in->ts_ms, in->ppm, false, out);
            unmute_high(c, st, in->ts_ms, in->ppm, out);
        }
        return;
    }
    int64_t dt = st->last_ts_ms ? in->ts_ms - st->last_ts_ms : 0;
    check_fault(c, st, in, dt, out);
    if (in->flags & ALARM_IN_FAULT) {
        /* The device says its sensor is broken: its ppm is not evidence of
         * CO either way. Only sensor_fault moves; the CO clocks wait. */
        st->last_ts_ms = in->ts_ms;
        return;
    }
    check_co_high(c, st, in->ts_ms, in->ppm, true, out);
    check_exposure(c, st, in->ts_ms, dt, in->ppm, out);
    check_rising(c, st, in->ts_ms, dt, in->ppm, out);
    unmute_high(c, st, in->ts_ms, in->ppm, out);
    st->last_ts_ms = in->ts_ms;
    st->last_ppm = in->ppm;
}

void alarm_tick(const struct alarm_config *c, struct alarm_state *st, int64_t now_ms,
                struct alarm_events *out)
{
    out->n = 0;
    struct alarm_kind_state *off = &st->kind[ALARM_OFFLINE];
    if (!off->active && st->last_recv_ms && now_ms - st->last_recv_ms >= c->offline_after_ms)
        raise_kind(st, ALARM_OFFLINE, ALARM_SEV_WARNING, now_ms, 0, out);
    for (int k = 0; k < ALARM_NKINDS; k++) {
        struct alarm_kind_state *ks = &st->kind[k];
        if (ks->muted_until_ms && now_ms >= ks->muted_until_ms) {
            ks->muted_until_ms = 0;
            if (ks->active)
                emit(out, ALARM_EV_REARMED, (enum alarm_kind)k, ks, now_ms, st->last_ppm);
        }
    }
}

enum alarm_mute_result alarm_mute(const struct alarm_config *c, struct alarm_state *st,
                                  enum alarm_kind k, int64_t now_ms, int64_t ms)
{
    if ((unsigned)k >= ALARM_NKINDS || !st->kind[k].active)
        return ALARM_MUTE_NOT_ACTIVE;
    if (st->last_ts_ms && st->last_ppm >= c->mute_max_ppm)
        return ALARM_MUTE_TOO_HIGH;
    if (ms > c->mute_max_ms)
        ms = c->mute_max_ms;
    st->kind[k].muted_until_ms = now_ms + (ms > 0 ? ms : 1);
    return ALARM_MUTE_OK;
}

bool alarm_muted(const struct alarm_state *st, enum alarm_kind k, int64_t now_ms)
{
    return (unsigned)k < ALARM_NKINDS && st->kind[k].muted_until_ms > now_ms;
}

bool alarm_manual(struct alarm_state *st, bool raise, int64_t now_ms, enum alarm_severity sev,
                  struct alarm_events *out)
{
    out->n = 0;
    struct alarm_kind_state *ks = &st->kind[ALARM_MANUAL];
    if (raise == (ks->active != 0))
        return false;
    if (raise) {
        raise_kind(st, ALARM_MANUAL, sev, now_ms, st->last_ppm, out);
    } else {
        ks->active = 0;
        ks->muted_until_ms = 0;
        emit(out, ALARM_EV_CLEARED, ALARM_MANUAL, ks, now_ms, st->last_ppm);
    }
    return true;
}
