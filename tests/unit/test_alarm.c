/* test_alarm.c - the lifecycle of the CO alarm engine (src/alarm/alarm.c):
 * raise, escalate, hysteresis and clear of each kind, offline by clock,
 * sensor faults, warm-up, late and duplicate readings, mutes, manual alarms,
 * settings and names, deterministic replay and persisted state. The
 * standards' response times are in test_alarm_conformance.c. */
#include "alarm/alarm.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define STEP (15 * SEC) /* reading interval used by most tests */

/* ---- a rig: config, state and a log of every event ---- */

#define LOG_MAX 4096

struct rig {
    struct alarm_config c;
    struct alarm_state st;
    struct alarm_events ev; /* of the last call */
    struct alarm_event log[LOG_MAX];
    size_t nlog;
};

static void rig_init(struct rig *r)
{
    memset(r, 0, sizeof *r);
    alarm_config_default(&r->c);
    assert_null(alarm_config_check(&r->c));
    alarm_state_init(&r->st);
}

static void rig_log(struct rig *r)
{
    assert_true(r->ev.n <= ALARM_MAX_EVENTS);
    for (size_t i = 0; i < r->ev.n; i++) {
        assert_true(r->nlog < LOG_MAX);
        r->log[r->nlog++] = r->ev.ev[i];
    }
}

static void feed_full(struct rig *r, int64_t ts, int64_t recv, double ppm, unsigned flags)
{
    struct alarm_input in = {.ts_ms = ts, .recv_ms = recv, .ppm = ppm, .flags = flags};
    alarm_reading(&r->c, &r->st, &in, &r->ev);
    rig_log(r);
}

/* A reading received as it was taken. */
static void feed(struct rig *r, int64_t ts, double ppm)
{
    feed_full(r, ts, ts, ppm, 0);
}

static void tick(struct rig *r, int64_t now)
{
    alarm_tick(&r->c, &r->st, now, &r->ev);
    rig_log(r);
}

/* Events of kind k and type t in the last call. */
static size_t last_count(const struct rig *r, enum alarm_kind k, enum alarm_event_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < r->ev.n; i++)
        n += r->ev.ev[i].kind == k && r->ev.ev[i].type == t;
    return n;
}

/* Events of kind k and type t in the whole log. */
static size_t log_count(const struct rig *r, enum alarm_kind k, enum alarm_event_type t)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nlog; i++)
        n += r->log[i].kind == k && r->log[i].type == t;
    return n;
}

/* Events of kind k (any type) in the whole log. */
static size_t log_kind(const struct rig *r, enum alarm_kind k)
{
    size_t n = 0;
    for (size_t i = 0; i < r->nlog; i++)
        n += r->log[i].kind == k;
    return n;
}

/* The first logged event of kind k and type t, or NULL. */
static const struct alarm_event *log_find(const struct rig *r, enum alarm_kind k,
                                          enum alarm_event_type t)
{
    for (size_t i = 0; i < r->nlog; i++)
        if (r->log[i].kind == k && r->log[i].type == t)
            return &r->log[i];
    return NULL;
}

static const struct alarm_event *last_find(const struct rig *r, enum alarm_kind k,
                                           enum alarm_event_type t)
{
    for (size_t i = 0; i < r->ev.n; i++)
        if (r->ev.ev[i].kind == k && r->ev.ev[i].type == t)
            return &r->ev.ev[i];
    return NULL;
}

static bool active(const struct rig *r, enum alarm_kind k)
{
    return r->st.kind[k].active != 0;
}

/* ---- co_high ---- */

/* Warning at warn_ppm, critical at alarm_ppm as an UPDATED of the same
 * alarm, one RAISED however often it re-triggers, peak tracked and reported
 * when it rises markedly. */
static void test_co_high_warn_then_critical(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    int64_t t = T0;
    feed(&r, t, 29.9);
    assert_int_equal(r.ev.n, 0);
    assert_false(active(&r, ALARM_CO_HIGH));

    feed(&r, t += STEP, 30); /* exactly warn_ppm */
    const struct alarm_event *e = last_find(&r, ALARM_CO_HIGH, ALARM_EV_RAISED);
    assert_non_null(e);
    assert_int_equal(e->severity, ALARM_SEV_WARNING);
    assert_int_equal(e->ts_ms, t);
    assert_true(e->ppm == 30 && e->peak_ppm == 30);
    assert_true(active(&r, ALARM_CO_HIGH));
    assert_int_equal(r.st.kind[ALARM_CO_HIGH].since_ms, t);
    int64_t since = t;

    feed(&r, t += STEP, 32); /* re-trigger, small rise: nothing to tell */
    assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_RAISED), 0);
    assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_UPDATED), 0);
    assert_true(r.st.kind[ALARM_CO_HIGH].peak_ppm == 32);

    feed(&r, t += STEP, 49.9); /* still a warning, but the peak rose > 10% and > 5 ppm */
    e = last_find(&r, ALARM_CO_HIGH, ALARM_EV_UPDATED);
    assert_non_null(e);
    assert_int_equal(e->severity, ALARM_SEV_WARNING);
    assert_true(e->peak_ppm == 49.9);

    feed(&r, t += STEP, 50); /* alarm_ppm: escalates, same alarm */
    assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_RAISED), 0);
    e = last_find(&r, ALARM_CO_HIGH, ALARM_EV_UPDATED);
    assert_non_null(e);
    assert_int_equal(e->severity, ALARM_SEV_CRITICAL);
    assert_true(e->ppm == 50 && e->peak_ppm == 50);
    assert_int_equal(r.st.kind[ALARM_CO_HIGH].severity, ALARM_SEV_CRITICAL);

    feed(&r, t += STEP, 54); /* < 10% above the told peak: no event */
    assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_UPDATED), 0);
    feed(&r, t += STEP, 40); /* lower again: still active, still critical */
    assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_UPDATED), 0);
    assert_int_equal(r.st.kind[ALARM_CO_HIGH].severity, ALARM_SEV_CRITICAL);
    feed(&r, t += STEP, 120); /* a new peak */
    e = last_find(&r, ALARM_CO_HIGH, ALARM_EV_UPDATED);
    assert_non_null(e);
    assert_true(e->peak_ppm == 120);
    feed(&r, t += STEP, 131); /* 9% above the told peak: a new peak, not told */
    assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_UPDATED), 0);
    assert_true(r.st.kind[ALARM_CO_HIGH].peak_ppm == 131);
    feed(&r, t += STEP, 133); /* more than 10% above the told 120 */
    e = last_find(&r, ALARM_CO_HIGH, ALARM_EV_UPDATED);
    assert_non_null(e);
    assert_true(e->peak_ppm == 133 && e->severity == ALARM_SEV_CRITICAL);
    feed(&r, t += STEP, 60);
    assert_true(r.st.kind[ALARM_CO_HIGH].peak_ppm == 133);
    assert_int_equal(r.st.kind[ALARM_CO_HIGH].since_ms, since);

    for (int i = 0; i < 100; i++)
        feed(&r, t += STEP, 50 + i % 7);
    assert_int_equal(log_count(&r, ALARM_CO_HIGH, ALARM_EV_RAISED), 1);
    assert_int_equal(log_count(&r, ALARM_CO_HIGH, ALARM_EV_CLEARED), 0);
    assert_true(r.st.kind[ALARM_CO_HIGH].peak_ppm == 133);
}

/* A level hovering around warn_ppm (28..33, and exactly warn - hysteresis)
 * for 6 hours does not flap: one RAISED, no CLEARED. Then clean air clears
 * it once, clear_hold after the first clean reading. */
static void test_co_high_hysteresis_no_flap(void **state)
{
    (void)state;
    static const double pattern[] = {28, 33, 29, 32, 30, 31, 25, 33, 28, 30, 29.9, 25.0};
    struct rig r;
    rig_init(&r);
    int64_t t = T0;
    size_t n = 0;
    for (; t < T0 + 6 * HOUR; t += STEP, n++)
        feed(&r, t, pattern[n % (sizeof pattern / sizeof *pattern)]);
    assert_int_equal(log_count(&r, ALARM_CO_HIGH, ALARM_EV_RAISED), 1);
    assert_int_equal(log_count(&r, ALARM_CO_HIGH, ALARM_EV_CLEARED), 0);
    assert_true(active(&r, ALARM_CO_HIGH));

    int64_t clean = t;
    for (; t <= clean + 10 * MIN; t += STEP)
        feed(&r, t, 24.9); /* just below warn - hysteresis */
    assert_int_equal(log_count(&r, ALARM_CO_HIGH, ALARM_EV_CLEARED), 1);
    const struct alarm_event *e = log_find(&r, ALARM_CO_HIGH, ALARM_EV_CLEARED);
    assert_int_equal(e->ts_ms, clean + r.c.clear_hold_ms);
    assert_false(active(&r, ALARM_CO_HIGH));
}

/* Clearing needs readings below warn - hysteresis for clear_hold, in the
 * readings' own time; any reading at or above that level restarts the hold. */
static void test_co_high_clear_hold(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    int64_t t = T0;
    feed(&r, t, 60);
    assert_true(active(&r, ALARM_CO_HIGH));

    /* Clean from t1: not cleared one reading before the hold, cleared at it. */
    int64_t t1 = t += STEP;
    for (; t < t1 + r.c.clear_hold_ms; t += STEP) {
        feed(&r, t, 10);
        assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_CLEARED), 0);
    }
    feed(&r, t, 10);
    const struct alarm_event *e = last_find(&r, ALARM_CO_HIGH, ALARM_EV_CLEARED);
    assert_non_null(e);
    assert_int_equal(e->ts_ms, t1 + r.c.clear_hold_ms);
    assert_int_equal(e->severity, ALARM_SEV_CRITICAL);
    assert_true(e->peak_ppm == 60);
    assert_false(active(&r, ALARM_CO_HIGH));

    /* Again, with one reading of 27 ppm (below warn, not below the clear
     * level) 4 min into the hold: the hold restarts after it. */
    feed(&r, t += STEP, 45);
    assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_RAISED), 1);
    int64_t t2 = t += STEP;
    for (; t < t2 + 4 * MIN; t += STEP)
        feed(&r, t, 10);
    feed(&r, t, 27);
    int64_t t3 = t += STEP; /* the new hold starts here */
    for (; t < t3 + r.c.clear_hold_ms; t += STEP) {
        feed(&r, t, 10);
        assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_CLEARED), 0);
    }
    feed(&r, t, 10);
    e = last_find(&r, ALARM_CO_HIGH, ALARM_EV_CLEARED);
    assert_non_null(e);
    assert_int_equal(e->ts_ms, t3 + r.c.clear_hold_ms);

    /* Same with a re-trigger (35 ppm) during the hold: no second RAISED, and
     * the hold restarts too. */
    feed(&r, t += STEP, 45);
    int64_t t4 = t += STEP;
    for (; t < t4 + 2 * MIN; t += STEP)
        feed(&r, t, 10);
    feed(&r, t, 35);
    assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_RAISED), 0);
    int64_t t5 = t += STEP;
    for (; t < t5 + r.c.clear_hold_ms; t += STEP) {
        feed(&r, t, 10);
        assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_CLEARED), 0);
    }
    feed(&r, t, 10);
    assert_non_null(last_find(&r, ALARM_CO_HIGH, ALARM_EV_CLEARED));
    assert_int_equal(log_count(&r, ALARM_CO_HIGH, ALARM_EV_RAISED), 3);
    assert_int_equal(log_count(&r, ALARM_CO_HIGH, ALARM_EV_CLEARED), 3);

    /* Reading time, not receipt time: a batch uploaded at once (recv all
     * equal, well after) clears at the reading whose ts completes the hold;
     * clock ticks never clear co_high. */
    struct rig b;
    rig_init(&b);
    feed(&b, T0, 60);
    tick(&b, T0 + 9 * MIN);
    assert_true(active(&b, ALARM_CO_HIGH));
    int64_t up = T0 + 9 * MIN;
    for (int64_t ts = T0 + STEP; ts <= T0 + 8 * MIN; ts += STEP) {
        feed_full(&b, ts, up, 5, 0);
        bool cleared = last_count(&b, ALARM_CO_HIGH, ALARM_EV_CLEARED) == 1;
        assert_true(cleared == (ts == T0 + STEP + b.c.clear_hold_ms));
    }
    assert_false(active(&b, ALARM_CO_HIGH));

    /* clear_hold 0: the first clean reading clears. */
    struct rig z;
    rig_init(&z);
    z.c.clear_hold_ms = 0;
    assert_null(alarm_config_check(&z.c));
    feed(&z, T0, 40);
    feed(&z, T0 + STEP, 24);
    assert_non_null(last_find(&z, ALARM_CO_HIGH, ALARM_EV_CLEARED));
}

/* ---- co_exposure ---- */

/* Feeds ppm every STEP from t until co_exposure is raised (at most limit);
 * returns the ts of the alarm, or -1. */
static int64_t expose_until_alarm(struct rig *r, int64_t *t, double ppm, int64_t limit)
{
    int64_t start = *t;
    for (; *t <= start + limit; *t += STEP) {
        feed(r, *t, ppm);
        if (last_count(r, ALARM_CO_EXPOSURE, ALARM_EV_RAISED)) {
            int64_t at = *t;
            *t += STEP;
            return at;
        }
    }
    return -1;
}

/* After an exposure alarm, clean air (at or below the standard's floor) for
 * clear_hold clears it, and the dose is capped rather than zeroed: exposure
 * again alarms sooner than from a fresh start, but not at once. */
static void test_co_exposure_clear_and_residual(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    int64_t t = T0;
    int64_t a1 = expose_until_alarm(&r, &t, 400, 30 * MIN);
    assert_true(a1 > 0);
    int64_t fresh = a1 - T0;
    assert_true(r.st.dose >= 1.0);
    const struct alarm_event *e = log_find(&r, ALARM_CO_EXPOSURE, ALARM_EV_RAISED);
    assert_int_equal(e->severity, ALARM_SEV_CRITICAL);

    /* Above the floor (UL: 35 ppm) does not count as clean: 36 ppm for an
     * hour keeps the alarm; at the floor it clears after clear_hold. */
    double floor_ppm = alarm_standard_get(r.c.standard)->floor_ppm;
    for (int64_t end = t + HOUR; t < end; t += STEP)
        feed(&r, t, floor_ppm + 1);
    assert_true(active(&r, ALARM_CO_EXPOSURE));
    assert_int_equal(log_count(&r, ALARM_CO_EXPOSURE, ALARM_EV_CLEARED), 0);
    int64_t c0 = t;
    for (; t <= c0 + r.c.clear_hold_ms; t += STEP) {
        feed(&r, t, floor_ppm);
        bool cleared = last_count(&r, ALARM_CO_EXPOSURE, ALARM_EV_CLEARED) == 1;
        assert_true(cleared == (t == c0 + r.c.clear_hold_ms));
    }
    assert_false(active(&r, ALARM_CO_EXPOSURE));
    double residual = r.st.dose;
    assert_true(residual > 0.1 && residual <= 0.9);

    /* The residual dose is below 1, and a level whose equilibrium is below
     * it (UL 40 ppm: 0.67) only lets it decay: 12 hours, no re-raise. */
    struct rig lo = r;
    int64_t tl = t;
    for (int64_t end = tl + 12 * HOUR; tl < end; tl += STEP)
        feed(&lo, tl, 40);
    assert_int_equal(log_count(&lo, ALARM_CO_EXPOSURE, ALARM_EV_RAISED), 1);
    assert_true(lo.st.dose < residual);

    /* Re-exposure to 400 ppm: sooner than the first time, not immediately. */
    int64_t s2 = t;
    int64_t a2 = expose_until_alarm(&r, &t, 400, 30 * MIN);
    assert_true(a2 > 0);
    assert_true(a2 - s2 > STEP);
    assert_true(a2 - s2 < fresh - MIN);
    assert_int_equal(log_count(&r, ALARM_CO_EXPOSURE, ALARM_EV_RAISED), 2);

    /* A fresh state at 400 ppm takes the full time again. */
    struct rig f;
    rig_init(&f);
    int64_t tf = T0 + DAY;
    int64_t af = expose_until_alarm(&f, &tf, 400, 30 * MIN);
    assert_int_equal(af - (T0 + DAY), fresh);

    /* Ventilated right after a long exposure (dose far above 1): clean air
     * clears it after clear_hold, without waiting hours for the dose to
     * decay. */
    struct rig v;
    rig_init(&v);
    int64_t tv = T0;
    for (; tv < T0 + 2 * HOUR; tv += STEP)
        feed(&v, tv, 150);
    assert_true(active(&v, ALARM_CO_EXPOSURE));
    assert_true(v.st.dose > 2);
    int64_t vc = tv;
    for (; tv <= vc + v.c.clear_hold_ms; tv += STEP)
        feed(&v, tv, 0);
    assert_int_equal(log_count(&v, ALARM_CO_EXPOSURE, ALARM_EV_CLEARED), 1);
    assert_int_equal(log_find(&v, ALARM_CO_EXPOSURE, ALARM_EV_CLEARED)->ts_ms,
                     vc + v.c.clear_hold_ms);
    assert_true(v.st.dose <= 0.9);
}

/* ---- co_rising ---- */

/* A config where co_high stays out of the way (warn 100, alarm 200). */
static void rig_init_rising(struct rig *r)
{
    rig_init(r);
    r->c.warn_ppm = 100;
    r->c.alarm_ppm = 200;
    assert_null(alarm_config_check(&r->c));
}

/* SPEC 5's example, "+20 ppm within 5 min", at the edge: a step of exactly
 * rise_ppm, and a steady ramp of rise_ppm per window (4 ppm/min), each raise
 * co_rising, at a 15 s cadence and at the MQ-7's 150 s cadence. A ramp of
 * half that never does. */
static void test_co_rising_spec_example(void **state)
{
    (void)state;
    for (int64_t step_ms = STEP; step_ms <= 150000; step_ms += 150000 - STEP) {
        struct rig r;
        rig_init_rising(&r);
        int64_t t = T0;
        for (; t < T0 + 10 * MIN; t += step_ms)
            feed(&r, t, 5);
        for (int64_t end = t + 10 * MIN; t < end; t += step_ms)
            feed(&r, t, 25);
        assert_int_equal(log_count(&r, ALARM_CO_RISING, ALARM_EV_RAISED), 1);

        struct rig ramp, slow;
        rig_init_rising(&ramp);
        rig_init_rising(&slow);
        t = T0;
        for (int64_t end = t + 60 * MIN; t < end; t += step_ms) {
            double m = (double)(t - T0) / MIN;
            feed(&ramp, t, 5 + 4.0 * m);
            feed(&slow, t, 5 + 2.0 * m);
        }
        assert_int_equal(log_count(&ramp, ALARM_CO_RISING, ALARM_EV_RAISED), 1);
        assert_int_equal(log_count(&slow, ALARM_CO_RISING, ALARM_EV_RAISED), 0);
    }
}

/* A step from 0 to 40 ppm raises co_rising within a minute (the level is
 * smoothed over ~30 s); staying at 40 clears it once the window has moved
 * past the step. A step of 15 ppm (< rise_ppm) does not raise it. */
static void test_co_rising_step(void **state)
{
    (void)state;
    struct rig r;
    rig_init_rising(&r);
    int64_t t = T0;
    for (; t < T0 + 10 * MIN; t += STEP)
        feed(&r, t, 0);
    int64_t step = t;
    for (; t < step + 30 * MIN; t += STEP)
        feed(&r, t, 40);
    const struct alarm_event *e = log_find(&r, ALARM_CO_RISING, ALARM_EV_RAISED);
    assert_non_null(e);
    assert_true(e->ts_ms > step && e->ts_ms <= step + MIN);
    assert_int_equal(e->severity, ALARM_SEV_WARNING);
    assert_int_equal(log_count(&r, ALARM_CO_RISING, ALARM_EV_RAISED), 1);
    e = log_find(&r, ALARM_CO_RISING, ALARM_EV_CLEARED);
    assert_non_null(e);
    assert_true(e->ts_ms >= step + r.c.rise_window_ms + r.c.clear_hold_ms - MIN);
    assert_true(e->ts_ms <= step + r.c.rise_window_ms + r.c.clear_hold_ms + 2 * MIN);
    assert_int_equal(log_kind(&r, ALARM_CO_HIGH), 0);
    assert_int_equal(log_kind(&r, ALARM_CO_EXPOSURE), 0);

    struct rig s;
    rig_init_rising(&s);
    t = T0;
    for (; t < T0 + 10 * MIN; t += STEP)
        feed(&s, t, 0);
    for (int64_t end = t + 30 * MIN; t < end; t += STEP)
        feed(&s, t, 15);
    assert_int_equal(log_kind(&s, ALARM_CO_RISING), 0);

    /* Hysteresis: after the step, a continuing rise of 3 ppm/min (15 ppm per
     * window: below rise_ppm, above half of it) keeps the alarm; it clears
     * once the level is flat. */
    struct rig h;
    rig_init_rising(&h);
    t = T0;
    for (; t < T0 + 10 * MIN; t += STEP)
        feed(&h, t, 0);
    step = t;
    for (; t < step + 30 * MIN; t += STEP)
        feed(&h, t, 40 + 3.0 * (double)(t - step) / MIN);
    assert_int_equal(log_count(&h, ALARM_CO_RISING, ALARM_EV_RAISED), 1);
    assert_int_equal(log_count(&h, ALARM_CO_RISING, ALARM_EV_CLEARED), 0);
    for (int64_t end = t + 15 * MIN; t < end; t += STEP)
        feed(&h, t, 130);
    assert_int_equal(log_count(&h, ALARM_CO_RISING, ALARM_EV_CLEARED), 1);
}

/* A slow drift (+1 ppm per 5 min, 0 to 200 ppm over 1000 min) never rises
 * rise_ppm within rise_window: no co_rising. A fast ramp (+5 ppm per min,
 * 25 ppm per window) does. */
static void test_co_rising_drift(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r); /* defaults: co_high fires along the way; only co_rising is checked */
    for (int64_t t = T0; t <= T0 + 1000 * MIN; t += STEP)
        feed(&r, t, (double)(t - T0) / (5.0 * MIN));
    assert_true(r.st.last_ppm >= 199.9);
    assert_int_equal(log_kind(&r, ALARM_CO_RISING), 0);

    /* The same at the MQ-7's cadence, one reading per 150 s with a few
     * seconds of jitter (so the rise slots are refilled irregularly and some
     * keep values from earlier windows): +2 ppm per 5 min for 10 h (40 ppm
     * per 100 min) is still not a rise. */
    struct rig m;
    rig_init(&m);
    uint64_t rng = 42;
    for (int64_t t = T0; t <= T0 + 10 * HOUR;
         t += 150 * SEC + (int64_t)(test_xorshift64(&rng) % 6000))
        feed(&m, t, 2.0 * (double)(t - T0) / (5.0 * MIN));
    assert_true(m.st.last_ppm >= 230);
    assert_int_equal(log_kind(&m, ALARM_CO_RISING), 0);

    struct rig f;
    rig_init_rising(&f);
    int64_t t = T0;
    for (; t < T0 + 10 * MIN; t += STEP)
        feed(&f, t, 0);
    int64_t start = t;
    for (; t <= start + 20 * MIN; t += STEP)
        feed(&f, t, 5.0 * (double)(t - start) / MIN);
    const struct alarm_event *e = log_find(&f, ALARM_CO_RISING, ALARM_EV_RAISED);
    assert_non_null(e);
    assert_true(e->ts_ms <= start + f.c.rise_window_ms);
}

/* Uniform +-10 ppm noise around constant levels for 24 h each (fixed seed):
 * the smoothed level never rises 20 ppm within the window. */
static void test_co_rising_noise(void **state)
{
    (void)state;
    static const double levels[] = {15, 50, 300};
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
        struct rig r;
        rig_init(&r);
        uint64_t rng = 0x2545F4914F6CDD1Dull + i;
        double lo = INFINITY, hi = -INFINITY;
        for (int64_t t = T0; t < T0 + DAY; t += STEP) {
            double ppm = levels[i] + 10 * test_uniform_pm1(&rng);
            lo = fmin(lo, ppm);
            hi = fmax(hi, ppm);
            feed(&r, t, ppm);
        }
        assert_true(hi - lo > 19); /* the noise is really there */
        if (log_kind(&r, ALARM_CO_RISING))
            fail_msg("co_rising raised by +-10 ppm noise around %g ppm", levels[i]);
    }
}

/* ---- offline ---- */

/* Returns the now of the first tick (every step from start) that raised
 * offline, or -1 within limit. */
static int64_t tick_until_offline(struct rig *r, int64_t start, int64_t step, int64_t limit)
{
    for (int64_t now = start; now <= start + limit; now += step) {
        tick(r, now);
        if (last_count(r, ALARM_OFFLINE, ALARM_EV_RAISED))
            return now;
    }
    return -1;
}

static void test_offline(void **state)
{
    (void)state;
    static const int64_t ticks[] = {1 * SEC, 5 * SEC};
    for (size_t i = 0; i < sizeof ticks / sizeof *ticks; i++) {
        struct rig r;
        rig_init(&r);
        int64_t recv = T0 + 2345; /* not on a tick boundary */
        feed_full(&r, T0, recv, 3, 0);
        int64_t at = tick_until_offline(&r, T0 + ticks[i], ticks[i], HOUR);
        assert_true(at >= recv + r.c.offline_after_ms);
        assert_true(at <= recv + r.c.offline_after_ms + ticks[i]);
        const struct alarm_event *e = log_find(&r, ALARM_OFFLINE, ALARM_EV_RAISED);
        assert_int_equal(e->ts_ms, at);
        assert_int_equal(e->severity, ALARM_SEV_WARNING);
        assert_true(active(&r, ALARM_OFFLINE));

        /* Ticks go on for hours: still one alarm. */
        for (int64_t now = at; now < at + 3 * HOUR; now += ticks[i])
            tick(&r, now);
        assert_int_equal(log_count(&r, ALARM_OFFLINE, ALARM_EV_RAISED), 1);

        /* The next reading clears it, whatever it is. */
        int64_t back = at + 3 * HOUR;
        feed(&r, back, 3);
        e = last_find(&r, ALARM_OFFLINE, ALARM_EV_CLEARED);
        assert_non_null(e);
        assert_false(active(&r, ALARM_OFFLINE));
        tick(&r, back + r.c.offline_after_ms - 1);
        assert_int_equal(r.ev.n, 0);
        tick(&r, back + r.c.offline_after_ms);
        assert_int_equal(last_count(&r, ALARM_OFFLINE, ALARM_EV_RAISED), 1);
    }

    /* A device that never sent anything is never offline. */
    struct rig n;
    rig_init(&n);
    for (int64_t now = T0; now < T0 + 2 * DAY; now += 10 * SEC)
        tick(&n, now);
    assert_int_equal(n.nlog, 0);

    /* Silent while the server was down: the first tick after the restart
     * raises it, at once. */
    struct rig d;
    rig_init(&d);
    feed(&d, T0, 2);
    tick(&d, T0 + 3 * DAY);
    assert_int_equal(last_count(&d, ALARM_OFFLINE, ALARM_EV_RAISED), 1);

    /* Late readings and duplicates still show the device is alive. */
    struct rig l;
    rig_init(&l);
    feed(&l, T0, 2);
    feed(&l, T0 + MIN, 2);
    feed_full(&l, T0 + MIN, T0 + 9 * MIN, 2, 0); /* duplicate, received later */
    tick(&l, T0 + 15 * MIN);
    assert_int_equal(l.ev.n, 0);
    tick(&l, T0 + 19 * MIN);
    assert_int_equal(last_count(&l, ALARM_OFFLINE, ALARM_EV_RAISED), 1);
}

/* ---- sensor_fault ---- */

static void test_sensor_fault_rail(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    int64_t t = T0;
    double rail = r.c.rail_ppm;
    feed(&r, t, rail - 10);
    feed(&r, t += STEP, rail);
    feed(&r, t += STEP, rail);
    feed(&r, t += STEP, rail - 1); /* breaks the run */
    feed(&r, t += STEP, rail);
    feed(&r, t += STEP, rail);
    assert_int_equal(log_kind(&r, ALARM_SENSOR_FAULT), 0);
    feed(&r, t += STEP, rail); /* third in a row */
    const struct alarm_event *e = last_find(&r, ALARM_SENSOR_FAULT, ALARM_EV_RAISED);
    assert_non_null(e);
    assert_int_equal(e->ts_ms, t);
    assert_int_equal(e->severity, ALARM_SEV_WARNING);
    feed(&r, t += STEP, rail);
    assert_int_equal(log_count(&r, ALARM_SENSOR_FAULT, ALARM_EV_RAISED), 1);

    /* Good readings for clear_hold clear it. */
    feed(&r, t += 2 * MIN, 3); /* > jump_window after the last: not a jump */
    int64_t g = t;
    for (t += STEP; t <= g + r.c.clear_hold_ms; t += STEP) {
        feed(&r, t, 3 + (double)((t / STEP) % 3));
        bool cleared = last_count(&r, ALARM_SENSOR_FAULT, ALARM_EV_CLEARED) == 1;
        assert_true(cleared == (t == g + r.c.clear_hold_ms));
    }
    assert_false(active(&r, ALARM_SENSOR_FAULT));
}

static void test_sensor_fault_jump(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    double j = r.c.jump_ppm;
    /* one less than jump_ppm within the window: fine */
    feed(&r, T0, 100);
    feed(&r, T0 + STEP, 100 + j - 1);
    assert_int_equal(log_kind(&r, ALARM_SENSOR_FAULT), 0);
    /* jump_ppm, but after more than jump_window: fine */
    rig_init(&r);
    feed(&r, T0, 100);
    feed(&r, T0 + r.c.jump_window_ms + 1, 100 + j);
    assert_int_equal(log_kind(&r, ALARM_SENSOR_FAULT), 0);
    /* jump_ppm up at the edge of the window: fault */
    rig_init(&r);
    feed(&r, T0, 100);
    feed(&r, T0 + r.c.jump_window_ms, 100 + j);
    assert_int_equal(last_count(&r, ALARM_SENSOR_FAULT, ALARM_EV_RAISED), 1);
    /* and down: fault */
    rig_init(&r);
    feed(&r, T0, 100 + j);
    feed(&r, T0 + STEP, 100);
    assert_int_equal(last_count(&r, ALARM_SENSOR_FAULT, ALARM_EV_RAISED), 1);
}

static void test_sensor_fault_stuck(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    int64_t t = T0;
    for (; t < T0 + r.c.stuck_ms; t += STEP)
        feed(&r, t, 12.5);
    assert_int_equal(log_kind(&r, ALARM_SENSOR_FAULT), 0);
    feed(&r, t, 12.5); /* stuck_ms after the first */
    assert_int_equal(last_count(&r, ALARM_SENSOR_FAULT, ALARM_EV_RAISED), 1);

    /* A value that changes a little every hour is not stuck. */
    struct rig v;
    rig_init(&v);
    for (t = T0; t < T0 + 2 * DAY; t += STEP)
        feed(&v, t, 12 + (double)(((t - T0) / HOUR) % 2));
    assert_int_equal(log_kind(&v, ALARM_SENSOR_FAULT), 0);

    /* 0 ppm (clean air) for days is not a fault. */
    struct rig z;
    rig_init(&z);
    for (t = T0; t < T0 + 3 * DAY; t += STEP)
        feed(&z, t, 0);
    assert_int_equal(z.nlog, 0);
}

static void test_sensor_fault_flag(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    int64_t t = T0;
    feed(&r, t, 3);
    t += STEP;
    feed_full(&r, t, t, 3, ALARM_IN_FAULT);
    assert_int_equal(last_count(&r, ALARM_SENSOR_FAULT, ALARM_EV_RAISED), 1);
    t += STEP;
    feed_full(&r, t, t, 3, ALARM_IN_FAULT);
    int64_t g = t += STEP;
    for (; t < g + r.c.clear_hold_ms; t += STEP) {
        feed(&r, t, 3 + (double)((t / STEP) % 2));
        assert_true(active(&r, ALARM_SENSOR_FAULT));
    }
    /* a fault flag during the hold restarts it */
    feed_full(&r, t, t, 3, ALARM_IN_FAULT);
    g = t += STEP;
    for (; t < g + r.c.clear_hold_ms; t += STEP)
        feed(&r, t, 4);
    assert_true(active(&r, ALARM_SENSOR_FAULT));
    feed(&r, t, 4);
    assert_int_equal(last_count(&r, ALARM_SENSOR_FAULT, ALARM_EV_CLEARED), 1);
    assert_int_equal(log_count(&r, ALARM_SENSOR_FAULT, ALARM_EV_RAISED), 1);
}

/* ---- warm-up ---- */

/* Warm-up readings are not acted on (even at 500 ppm), but they show the
 * device is alive. */
static void test_warmup_ignored(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    int64_t t = T0;
    for (; t <= T0 + 10 * MIN; t += STEP) {
        feed_full(&r, t, t + 10, 500, ALARM_IN_WARMUP);
        assert_int_equal(r.ev.n, 0);
        assert_int_equal(r.st.last_recv_ms, t + 10);
    }
    assert_int_equal(r.st.last_ts_ms, 0);
    assert_true(r.st.dose == 0);
    for (int k = 0; k < ALARM_NKINDS; k++)
        assert_false(active(&r, (enum alarm_kind)k));
    /* alive: no offline 9 min after the last warm-up reading (19 min after
     * the first) */
    int64_t last = t - STEP + 10;
    tick(&r, last + 9 * MIN);
    assert_int_equal(r.ev.n, 0);
    tick(&r, last + r.c.offline_after_ms);
    assert_int_equal(last_count(&r, ALARM_OFFLINE, ALARM_EV_RAISED), 1);
    /* A warm-up reading (even a fault-flagged one) clears offline but raises nothing. */
    feed_full(&r, t, t, 500, ALARM_IN_WARMUP | ALARM_IN_FAULT);
    assert_int_equal(r.ev.n, 1);
    assert_int_equal(last_count(&r, ALARM_OFFLINE, ALARM_EV_CLEARED), 1);
    /* Warmed up: the same level raises co_high at once. */
    feed(&r, t += STEP, 500);
    assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_RAISED), 1);
}

/* ---- late and duplicate readings ---- */

static void test_duplicates_and_late(void **state)
{
    (void)state;
    /* The same reading twice: no second event, state unchanged. */
    struct rig r;
    rig_init(&r);
    feed(&r, T0, 10);
    feed(&r, T0 + STEP, 60);
    assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_RAISED), 1);
    struct alarm_state before = r.st;
    feed(&r, T0 + STEP, 60);
    assert_int_equal(r.ev.n, 0);
    assert_memory_equal(&before, &r.st, sizeof before);
    feed(&r, T0 + STEP, 300); /* same ts, another value: still the same reading */
    assert_int_equal(r.ev.n, 0);
    assert_memory_equal(&before, &r.st, sizeof before);

    /* A late reading does not move the dose: 100 ppm for 20 min with and
     * without a late 400 ppm reading in the middle. */
    struct rig a, b;
    rig_init(&a);
    rig_init(&b);
    for (int64_t t = T0; t <= T0 + 20 * MIN; t += STEP) {
        feed(&a, t, 100);
        feed(&b, t, 100);
        if (t == T0 + 10 * MIN)
            feed_full(&b, T0 + 5 * MIN + 7 * SEC, t, 400, 0);
    }
    assert_true(a.st.dose > 0);
    assert_true(a.st.dose == b.st.dose);
    assert_true(a.st.ema_ppm == b.st.ema_ppm);
    assert_int_equal(a.st.last_ts_ms, b.st.last_ts_ms);
    assert_true(b.st.last_ppm == 100);
    /* ... but it did raise co_high's peak */
    assert_true(b.st.kind[ALARM_CO_HIGH].peak_ppm == 400);
    assert_true(a.st.kind[ALARM_CO_HIGH].peak_ppm == 100);

    /* A late but fresh high reading raises co_high; a stale one does not. */
    struct rig f, s;
    rig_init(&f);
    rig_init(&s);
    for (int64_t t = T0; t <= T0 + 10 * MIN; t += STEP) {
        feed(&f, t, 10);
        feed(&s, t, 10);
    }
    int64_t late_ts = T0 + 5 * MIN;
    feed_full(&f, late_ts, late_ts + f.c.fresh_ms, 80, 0); /* exactly fresh_ms old */
    const struct alarm_event *e = last_find(&f, ALARM_CO_HIGH, ALARM_EV_RAISED);
    assert_non_null(e);
    assert_int_equal(e->ts_ms, late_ts);
    assert_int_equal(e->severity, ALARM_SEV_CRITICAL);
    assert_int_equal(f.st.last_ts_ms, T0 + 10 * MIN);
    feed_full(&s, late_ts, late_ts + s.c.fresh_ms + 1, 80, 0);
    assert_int_equal(s.ev.n, 0);
    assert_false(active(&s, ALARM_CO_HIGH));

    /* A late low reading does not start co_high's clear hold. */
    struct rig h;
    rig_init(&h);
    feed(&h, T0, 60);
    feed(&h, T0 + MIN, 40);
    feed_full(&h, T0 + 30 * SEC, T0 + MIN + SEC, 0, 0);
    assert_int_equal(h.st.kind[ALARM_CO_HIGH].below_since_ms, 0);
}

/* ---- replay determinism and persisted state ---- */

/* One step of a recorded history: a reading, a tick, a mute or a manual
 * action. */
enum op_kind { OP_READING, OP_TICK, OP_MUTE, OP_MANUAL };
struct op {
    enum op_kind op;
    int64_t ts, recv;
    double ppm;
    unsigned flags;
    int kind; /* OP_MUTE: the kind; OP_MANUAL: 1 raise, 0 clear */
};

#define HIST_MAX 12000

/* A recorded stretch of one device (deterministic, about 11 h): clean air,
 * a fast leak to 202 ppm (co_rising, co_high warning then critical,
 * co_exposure), a mute of co_high ended by CO reaching mute_max_ppm, a
 * manual alarm, clean air again (everything clears), a silence long enough
 * to be offline (with ticks through it), a mute of the manual alarm ended by
 * the clock, a fault flag; late (fresh) and duplicate readings and ticks
 * throughout. */
static size_t make_history(struct op *h)
{
    size_t n = 0;
    uint64_t rng = 0xDEADBEEFCAFEull;
    int64_t t = T0;
    for (int i = 0; i < 2400; i++, t += STEP) {
        double base = i < 400 ? 2 : i < 500 ? 2 + (i - 400) * 2.0 : i < 1000 ? 202 : 5;
        double ppm = fmax(0, base + 3 * test_uniform_pm1(&rng));
        if (i == 1500) { /* 20 min of silence, the server ticking on */
            for (int64_t k = t; k < t + 20 * MIN; k += 30 * SEC)
                h[n++] = (struct op){OP_TICK, k, 0, 0, 0, 0};
            t += 20 * MIN;
        }
        h[n++] = (struct op){OP_READING, t, t, ppm, i == 1700 ? ALARM_IN_FAULT : 0u, 0};
        if (i % 37 == 3 && i > 10) /* late, fresh, a bit higher */
            h[n++] = (struct op){OP_READING, t - 3 * STEP, t + SEC, ppm + 20, 0, 0};
        if (i % 11 == 0) /* a retried duplicate */
            h[n++] = (struct op){OP_READING, t, t + 2 * SEC, ppm, 0, 0};
        if (i % 4 == 0)
            h[n++] = (struct op){OP_TICK, t + 5 * SEC, 0, 0, 0, 0};
        if (i == 450)
            h[n++] = (struct op){OP_MUTE, t + SEC, 0, 0, 0, ALARM_CO_HIGH};
        if (i == 1600)
            h[n++] = (struct op){OP_MUTE, t + SEC, 0, 0, 0, ALARM_MANUAL};
        if (i == 720)
            h[n++] = (struct op){OP_MANUAL, t + 2 * SEC, 0, 0, 0, 1};
        if (i == 1900)
            h[n++] = (struct op){OP_MANUAL, t + 2 * SEC, 0, 0, 0, 0};
        assert_true(n < HIST_MAX - 100);
    }
    return n;
}

static void apply(struct rig *r, const struct op *o)
{
    switch (o->op) {
    case OP_READING:
        feed_full(r, o->ts, o->recv, o->ppm, o->flags);
        break;
    case OP_TICK:
        tick(r, o->ts);
        break;
    case OP_MUTE:
        (void)alarm_mute(&r->c, &r->st, (enum alarm_kind)o->kind, o->ts, 30 * MIN);
        break;
    case OP_MANUAL:
        alarm_manual(&r->st, o->kind != 0, o->ts, ALARM_SEV_CRITICAL, &r->ev);
        rig_log(r);
        break;
    }
}

static void assert_same_events(const struct alarm_event *a, size_t na, const struct alarm_event *b,
                               size_t nb)
{
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        if (a[i].type != b[i].type || a[i].kind != b[i].kind || a[i].severity != b[i].severity ||
            a[i].ts_ms != b[i].ts_ms || a[i].ppm != b[i].ppm || a[i].peak_ppm != b[i].peak_ppm)
            fail_msg("event %zu differs: %s %s at %lld vs %s %s at %lld", i,
                     alarm_kind_name(a[i].kind), alarm_event_name(a[i].type), (long long)a[i].ts_ms,
                     alarm_kind_name(b[i].kind), alarm_event_name(b[i].type),
                     (long long)b[i].ts_ms);
    }
}

static struct op history[HIST_MAX];
static struct rig rig_a, rig_b, rig_c;

static void test_replay_deterministic(void **state)
{
    (void)state;
    size_t n = make_history(history);
    rig_init(&rig_a);
    rig_init(&rig_b);
    for (size_t i = 0; i < n; i++)
        apply(&rig_a, &history[i]);
    for (size_t i = 0; i < n; i++)
        apply(&rig_b, &history[i]);
    /* the history really exercises the engine */
    assert_true(log_count(&rig_a, ALARM_CO_HIGH, ALARM_EV_RAISED) >= 1);
    assert_true(log_count(&rig_a, ALARM_CO_HIGH, ALARM_EV_CLEARED) >= 1);
    assert_true(log_count(&rig_a, ALARM_CO_EXPOSURE, ALARM_EV_RAISED) >= 1);
    assert_true(log_count(&rig_a, ALARM_CO_RISING, ALARM_EV_RAISED) >= 1);
    assert_true(log_count(&rig_a, ALARM_OFFLINE, ALARM_EV_RAISED) >= 1);
    assert_true(log_count(&rig_a, ALARM_SENSOR_FAULT, ALARM_EV_RAISED) >= 1);
    assert_true(log_count(&rig_a, ALARM_MANUAL, ALARM_EV_CLEARED) >= 1);
    assert_true(log_count(&rig_a, ALARM_CO_HIGH, ALARM_EV_REARMED) >= 1);
    assert_true(log_count(&rig_a, ALARM_MANUAL, ALARM_EV_REARMED) >= 1);
    assert_same_events(rig_a.log, rig_a.nlog, rig_b.log, rig_b.nlog);
    assert_memory_equal(&rig_a.st, &rig_b.st, sizeof rig_a.st);
}

/* The server persists the state as bytes and loads it after a restart: a
 * state copied with memcpy mid-history (alarms active, a mute and clear
 * holds running) carries on exactly as the original. */
static void test_state_persisted_as_bytes(void **state)
{
    (void)state;
    size_t n = make_history(history);
    rig_init(&rig_a);
    for (size_t i = 0; i < n; i++)
        apply(&rig_a, &history[i]);

    for (size_t split = n / 4; split < n; split += n / 4) {
        rig_init(&rig_b);
        for (size_t i = 0; i < split; i++)
            apply(&rig_b, &history[i]);
        size_t before = rig_b.nlog;
        unsigned char saved[sizeof(struct alarm_state)];
        memcpy(saved, &rig_b.st, sizeof saved);

        rig_init(&rig_c);
        memset(&rig_c.st, 0xA5, sizeof rig_c.st); /* garbage first: all must come from the bytes */
        memcpy(&rig_c.st, saved, sizeof saved);
        for (size_t i = split; i < n; i++)
            apply(&rig_c, &history[i]);
        assert_same_events(rig_a.log + before, rig_a.nlog - before, rig_c.log, rig_c.nlog);
        assert_memory_equal(&rig_a.st, &rig_c.st, sizeof rig_a.st);
    }

    /* Mid-alarm: co_high active and muted, clear hold running. */
    struct rig x, y;
    rig_init(&x);
    feed(&x, T0, 80);
    assert_int_equal(alarm_mute(&x.c, &x.st, ALARM_CO_HIGH, T0 + SEC, 5 * MIN), ALARM_MUTE_OK);
    feed(&x, T0 + STEP, 10);
    feed(&x, T0 + 2 * STEP, 10);
    assert_true(x.st.kind[ALARM_CO_HIGH].below_since_ms != 0);
    size_t xbefore = x.nlog;
    rig_init(&y);
    memcpy(&y.st, &x.st, sizeof x.st);
    for (int64_t t = T0 + 3 * STEP; t < T0 + 10 * MIN; t += STEP) {
        feed(&x, t, 10);
        feed(&y, t, 10);
        tick(&x, t + SEC);
        tick(&y, t + SEC);
    }
    assert_same_events(x.log + xbefore, x.nlog - xbefore, y.log, y.nlog);
    assert_int_equal(log_count(&y, ALARM_CO_HIGH, ALARM_EV_REARMED), 1);
    assert_int_equal(log_count(&y, ALARM_CO_HIGH, ALARM_EV_CLEARED), 1);
    assert_int_equal(log_find(&y, ALARM_CO_HIGH, ALARM_EV_CLEARED)->ts_ms,
                     T0 + STEP + x.c.clear_hold_ms);
    assert_memory_equal(&x.st, &y.st, sizeof x.st);
}

/* ---- mute ---- */

static void test_mute(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    int64_t t = T0;
    feed(&r, t, 10);
    assert_int_equal(alarm_mute(&r.c, &r.st, ALARM_CO_HIGH, t, MIN), ALARM_MUTE_NOT_ACTIVE);
    assert_int_equal(alarm_mute(&r.c, &r.st, ALARM_NKINDS, t, MIN), ALARM_MUTE_NOT_ACTIVE);
    assert_false(alarm_muted(&r.st, ALARM_CO_HIGH, t));

    /* At mute_max_ppm: refused; just below: allowed. */
    feed(&r, t += STEP, r.c.mute_max_ppm);
    assert_true(active(&r, ALARM_CO_HIGH));
    assert_int_equal(alarm_mute(&r.c, &r.st, ALARM_CO_HIGH, t, MIN), ALARM_MUTE_TOO_HIGH);
    assert_false(alarm_muted(&r.st, ALARM_CO_HIGH, t));
    feed(&r, t += STEP, r.c.mute_max_ppm - 0.1);

    /* Asked for an hour, capped at mute_max_ms. */
    int64_t m = t + SEC;
    assert_int_equal(alarm_mute(&r.c, &r.st, ALARM_CO_HIGH, m, HOUR), ALARM_MUTE_OK);
    assert_true(alarm_muted(&r.st, ALARM_CO_HIGH, m));
    assert_true(alarm_muted(&r.st, ALARM_CO_HIGH, m + r.c.mute_max_ms - 1));
    assert_false(alarm_muted(&r.st, ALARM_CO_HIGH, m + r.c.mute_max_ms));
    assert_false(alarm_muted(&r.st, ALARM_CO_EXPOSURE, m)); /* only that kind */

    /* Readings below mute_max_ppm do not end it; the tick at the end does,
     * with REARMED since the alarm is still active; only once. */
    for (t += STEP; t < m + r.c.mute_max_ms - STEP; t += STEP) {
        feed(&r, t, 100);
        assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_REARMED), 0);
        tick(&r, t + 1);
        assert_int_equal(r.ev.n, 0);
    }
    tick(&r, m + r.c.mute_max_ms - 1);
    assert_int_equal(r.ev.n, 0);
    tick(&r, m + r.c.mute_max_ms);
    const struct alarm_event *e = last_find(&r, ALARM_CO_HIGH, ALARM_EV_REARMED);
    assert_non_null(e);
    assert_int_equal(e->ts_ms, m + r.c.mute_max_ms);
    assert_int_equal(e->severity, ALARM_SEV_CRITICAL);
    assert_false(alarm_muted(&r.st, ALARM_CO_HIGH, m + r.c.mute_max_ms));
    tick(&r, m + r.c.mute_max_ms + SEC);
    assert_int_equal(r.ev.n, 0);

    /* A reading at mute_max_ppm during a mute rearms at once. */
    t = m + r.c.mute_max_ms + STEP;
    feed(&r, t, 60);
    assert_int_equal(alarm_mute(&r.c, &r.st, ALARM_CO_HIGH, t, 5 * MIN), ALARM_MUTE_OK);
    assert_int_equal(r.st.kind[ALARM_CO_HIGH].muted_until_ms, t + 5 * MIN);
    feed(&r, t += STEP, 90);
    assert_int_equal(r.ev.n, 0);
    feed(&r, t += STEP, r.c.mute_max_ppm);
    e = last_find(&r, ALARM_CO_HIGH, ALARM_EV_REARMED);
    assert_non_null(e);
    assert_int_equal(e->ts_ms, t);
    assert_true(e->ppm == r.c.mute_max_ppm);
    assert_false(alarm_muted(&r.st, ALARM_CO_HIGH, t));

    /* A late but fresh reading at mute_max_ppm rearms too; a stale one not. */
    assert_int_equal(alarm_mute(&r.c, &r.st, ALARM_CO_HIGH, t, 5 * MIN), ALARM_MUTE_TOO_HIGH);
    feed(&r, t += STEP, 100);
    assert_int_equal(alarm_mute(&r.c, &r.st, ALARM_CO_HIGH, t, 5 * MIN), ALARM_MUTE_OK);
    feed_full(&r, t - 2 * MIN, t + SEC, 400, 0);
    assert_int_equal(last_count(&r, ALARM_CO_HIGH, ALARM_EV_REARMED), 1);
    assert_false(alarm_muted(&r.st, ALARM_CO_HIGH, t + SEC));
    assert_int_equal(alarm_mute(&r.c, &r.st, ALARM_CO_HIGH, t + SEC, 5 * MIN), ALARM_MUTE_OK);
    feed_full(&r, t - 2 * MIN, t + SEC + r.c.fresh_ms, 400, 0);
    assert_int_equal(r.ev.n, 0);
    assert_true(alarm_muted(&r.st, ALARM_CO_HIGH, t + 2 * SEC));

    /* A mute whose alarm cleared meanwhile ends silently. */
    struct rig c;
    rig_init(&c);
    feed(&c, T0, 40);
    assert_int_equal(alarm_mute(&c.c, &c.st, ALARM_CO_HIGH, T0, 10 * MIN), ALARM_MUTE_OK);
    for (t = T0 + STEP; t <= T0 + 6 * MIN; t += STEP)
        feed(&c, t, 5);
    assert_false(active(&c, ALARM_CO_HIGH));
    assert_false(alarm_muted(&c.st, ALARM_CO_HIGH, t));
    tick(&c, T0 + 11 * MIN);
    assert_int_equal(log_count(&c, ALARM_CO_HIGH, ALARM_EV_REARMED), 0);

    /* Another kind can be muted: offline, at a clock time. */
    struct rig o;
    rig_init(&o);
    feed(&o, T0, 5);
    tick(&o, T0 + o.c.offline_after_ms);
    assert_true(active(&o, ALARM_OFFLINE));
    int64_t om = T0 + o.c.offline_after_ms + SEC;
    assert_int_equal(alarm_mute(&o.c, &o.st, ALARM_OFFLINE, om, MIN), ALARM_MUTE_OK);
    tick(&o, om + MIN);
    assert_int_equal(last_count(&o, ALARM_OFFLINE, ALARM_EV_REARMED), 1);
}

/* ---- manual ---- */

static void test_manual(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    feed(&r, T0, 12);
    assert_true(alarm_manual(&r.st, true, T0 + MIN, ALARM_SEV_CRITICAL, &r.ev));
    assert_int_equal(r.ev.n, 1);
    assert_int_equal(r.ev.ev[0].type, ALARM_EV_RAISED);
    assert_int_equal(r.ev.ev[0].kind, ALARM_MANUAL);
    assert_int_equal(r.ev.ev[0].severity, ALARM_SEV_CRITICAL);
    assert_int_equal(r.ev.ev[0].ts_ms, T0 + MIN);
    assert_true(r.ev.ev[0].ppm == 12);
    assert_true(active(&r, ALARM_MANUAL));
    assert_false(alarm_manual(&r.st, true, T0 + 2 * MIN, ALARM_SEV_WARNING, &r.ev));
    assert_int_equal(r.ev.n, 0);
    assert_int_equal(r.st.kind[ALARM_MANUAL].severity, ALARM_SEV_CRITICAL);
    /* readings do not clear a manual alarm */
    for (int64_t t = T0 + STEP; t < T0 + HOUR; t += STEP)
        feed(&r, t, 0);
    assert_true(active(&r, ALARM_MANUAL));
    assert_true(alarm_manual(&r.st, false, T0 + 2 * HOUR, ALARM_SEV_NONE, &r.ev));
    assert_int_equal(r.ev.n, 1);
    assert_int_equal(r.ev.ev[0].type, ALARM_EV_CLEARED);
    assert_int_equal(r.ev.ev[0].kind, ALARM_MANUAL);
    assert_false(active(&r, ALARM_MANUAL));
    assert_false(alarm_manual(&r.st, false, T0 + 3 * HOUR, ALARM_SEV_NONE, &r.ev));
    assert_int_equal(r.ev.n, 0);
    /* and raised again as a new alarm */
    assert_true(alarm_manual(&r.st, true, T0 + 4 * HOUR, ALARM_SEV_WARNING, &r.ev));
    assert_int_equal(r.ev.ev[0].type, ALARM_EV_RAISED);
    assert_int_equal(r.ev.ev[0].severity, ALARM_SEV_WARNING);
}

/* ---- settings and names ---- */

static void test_config_check(void **state)
{
    (void)state;
    struct alarm_config d;
    alarm_config_default(&d);
    assert_null(alarm_config_check(&d));
    /* SPEC 5 defaults */
    assert_true(d.warn_ppm == 30 && d.alarm_ppm == 50);
    assert_true(d.rise_ppm == 20 && d.rise_window_ms == 5 * MIN);
    assert_int_equal(d.offline_after_ms, 600 * SEC);
    assert_int_equal(d.standard, ALARM_STD_UL2034);
    d.standard = ALARM_STD_EN50291;
    assert_null(alarm_config_check(&d));

    struct alarm_config c;
#define REJECT(field, value)                                                                       \
    do {                                                                                           \
        alarm_config_default(&c);                                                                  \
        c.field = value;                                                                           \
        if (alarm_config_check(&c) == NULL)                                                        \
            fail_msg("accepted " #field " = " #value);                                             \
    } while (0)
    REJECT(warn_ppm, 50); /* == alarm_ppm */
    REJECT(warn_ppm, 60); /* > alarm_ppm */
    REJECT(warn_ppm, 0);
    REJECT(warn_ppm, -5);
    REJECT(warn_ppm, NAN);
    REJECT(alarm_ppm, NAN);
    REJECT(alarm_ppm, 20000);
    REJECT(hysteresis_ppm, -1);
    REJECT(hysteresis_ppm, 30); /* would clear below 0 */
    REJECT(hysteresis_ppm, NAN);
    REJECT(clear_hold_ms, -1);
    REJECT(clear_hold_ms, 25 * HOUR);
    REJECT(rise_ppm, 0);
    REJECT(rise_ppm, NAN);
    REJECT(rise_window_ms, 59 * SEC);
    REJECT(rise_window_ms, 2 * HOUR);
    REJECT(offline_after_ms, 999);
    REJECT(stuck_ms, 59 * SEC);
    REJECT(rail_ppm, 49); /* below alarm_ppm (equal is allowed: alarm at the rail) */
    REJECT(rail_ppm, NAN);
    REJECT(jump_ppm, 0);
    REJECT(jump_window_ms, 0);
    REJECT(fresh_ms, -1);
    REJECT(mute_max_ppm, 0);
    REJECT(mute_max_ms, 0);
    REJECT(standard, ALARM_NSTANDARDS);
    REJECT(standard, (enum alarm_standard) - 1);
    REJECT(standard, (enum alarm_standard)7);
#undef REJECT

    /* the edges that are allowed */
    alarm_config_default(&c);
    c.hysteresis_ppm = 0;
    c.clear_hold_ms = 0;
    c.rise_window_ms = 60 * SEC;
    c.offline_after_ms = 1000;
    c.stuck_ms = 60 * SEC;
    c.fresh_ms = 0;
    assert_null(alarm_config_check(&c));
}

static void test_names(void **state)
{
    (void)state;
    for (int s = 0; s < ALARM_NSTANDARDS; s++) {
        const struct alarm_standard_def *sd = alarm_standard_get((enum alarm_standard)s);
        assert_non_null(sd);
        assert_int_equal(alarm_standard_parse(sd->name), s);
    }
    assert_string_equal(alarm_standard_get(ALARM_STD_UL2034)->name, "UL2034");
    assert_string_equal(alarm_standard_get(ALARM_STD_EN50291)->name, "EN50291");
    assert_null(alarm_standard_get(ALARM_NSTANDARDS));
    static const char *const bad_std[] = {"", "UL", "UL 2034", "UL2034 ", "EN50291-1", "co_high"};
    for (size_t i = 0; i < sizeof bad_std / sizeof *bad_std; i++)
        assert_int_equal(alarm_standard_parse(bad_std[i]), ALARM_NSTANDARDS);

    static const char *const kinds[ALARM_NKINDS] = {
        "co_high", "co_exposure", "co_rising", "offline", "sensor_fault", "manual",
    };
    for (int k = 0; k < ALARM_NKINDS; k++) {
        assert_string_equal(alarm_kind_name((enum alarm_kind)k), kinds[k]);
        assert_int_equal(alarm_kind_parse(kinds[k]), k);
    }
    assert_string_equal(alarm_kind_name(ALARM_NKINDS), "unknown");
    static const char *const bad_kind[] = {"", "co", "co_high ", "unknown", "UL2034", "offline2"};
    for (size_t i = 0; i < sizeof bad_kind / sizeof *bad_kind; i++)
        assert_int_equal(alarm_kind_parse(bad_kind[i]), ALARM_NKINDS);

    assert_string_equal(alarm_severity_name(ALARM_SEV_NONE), "none");
    assert_string_equal(alarm_severity_name(ALARM_SEV_WARNING), "warning");
    assert_string_equal(alarm_severity_name(ALARM_SEV_CRITICAL), "critical");
    assert_string_equal(alarm_event_name(ALARM_EV_RAISED), "raised");
    assert_string_equal(alarm_event_name(ALARM_EV_UPDATED), "updated");
    assert_string_equal(alarm_event_name(ALARM_EV_CLEARED), "cleared");
    assert_string_equal(alarm_event_name(ALARM_EV_REARMED), "rearmed");
    assert_string_equal(alarm_event_name((enum alarm_event_type)9), "unknown");
}

/* Readings the API would never accept (NaN, negative) change nothing but
 * the receipt time. */
static void test_bad_values_ignored(void **state)
{
    (void)state;
    struct rig r;
    rig_init(&r);
    feed(&r, T0, 40);
    struct alarm_state before = r.st;
    feed_full(&r, T0 + STEP, T0 + STEP, NAN, 0);
    assert_int_equal(r.ev.n, 0);
    feed_full(&r, T0 + 2 * STEP, T0 + 2 * STEP, -1, 0);
    assert_int_equal(r.ev.n, 0);
    before.last_recv_ms = r.st.last_recv_ms;
    assert_memory_equal(&before, &r.st, sizeof before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_co_high_warn_then_critical),
        cmocka_unit_test(test_co_high_hysteresis_no_flap),
        cmocka_unit_test(test_co_high_clear_hold),
        cmocka_unit_test(test_co_exposure_clear_and_residual),
        cmocka_unit_test(test_co_rising_spec_example),
        cmocka_unit_test(test_co_rising_step),
        cmocka_unit_test(test_co_rising_drift),
        cmocka_unit_test(test_co_rising_noise),
        cmocka_unit_test(test_offline),
        cmocka_unit_test(test_sensor_fault_rail),
        cmocka_unit_test(test_sensor_fault_jump),
        cmocka_unit_test(test_sensor_fault_stuck),
        cmocka_unit_test(test_sensor_fault_flag),
        cmocka_unit_test(test_warmup_ignored),
        cmocka_unit_test(test_duplicates_and_late),
        cmocka_unit_test(test_replay_deterministic),
        cmocka_unit_test(test_state_persisted_as_bytes),
        cmocka_unit_test(test_mute),
        cmocka_unit_test(test_manual),
        cmocka_unit_test(test_config_check),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_bad_values_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
