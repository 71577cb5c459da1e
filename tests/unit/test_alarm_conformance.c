/* test_alarm_conformance.c - the co_exposure alarm of src/alarm/alarm.c
 * against the response points of UL 2034 and EN 50291-1 (REFERENCES.md
 * section 3, SPEC.md section 5), replayed reading by reading.
 *
 * Every profile is fed as one reading every 15 s (ts advancing, recv = ts)
 * into a fresh state with alarm_config_default() and the standard set. The
 * allowed windows are read from alarm_standard_get(s)->points, never written
 * here a second time. Each run prints one row of a table (standard, profile,
 * when co_exposure was raised, the allowed window, PASS/FAIL); a test fails
 * if any of its rows does.
 *
 * Times are minutes from the profile's first reading (or from the step, for
 * stepped profiles). The first reading has no interval before it, so dose
 * starts accruing there. */
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

#define T0 1767225600000LL /* 2026-01-01T00:00:00Z: any realistic epoch ms */
#define MIN_MS 60000LL
#define STEP_MS 15000LL      /* one reading every 15 s */
#define MQ7_STEP_MS 150000LL /* the MQ-7 heater cycle: one reading per 150 s */

/* ---- profiles ---- */

/* A profile gives the ppm of the reading at t ms after the profile start:
 * ppm1 before step_ms (or during the "on" part of an on/off cycle), ppm2
 * after it (or during "off"), plus uniform noise in [-noise, +noise]. */
struct profile {
    double ppm1;
    double ppm2;
    int64_t step_ms; /* > 0: ppm1 before, ppm2 from then on */
    int64_t on_ms;   /* > 0: ppm1 for on_ms, then ppm2 for off_ms, repeated */
    int64_t off_ms;
    double noise;
    uint64_t seed;
};

static double profile_ppm(const struct profile *p, int64_t t, uint64_t *rng)
{
    double ppm = p->ppm1;
    if (p->step_ms > 0 && t >= p->step_ms)
        ppm = p->ppm2;
    if (p->on_ms > 0 && t % (p->on_ms + p->off_ms) >= p->on_ms)
        ppm = p->ppm2;
    if (p->noise > 0) {
        ppm += p->noise * test_uniform_pm1(rng);
        if (ppm < 0)
            ppm = 0;
    }
    return ppm;
}

/* ---- replay ---- */

struct run {
    int64_t fired_ms; /* first co_exposure RAISED, ms from the profile start; -1: never */
    int raised;       /* co_exposure RAISED events */
    int cleared;      /* co_exposure CLEARED events */
    double min_ppm, max_ppm;
};

/* Replays p from t = 0 to dur_ms inclusive, one reading every step_ms.
 * Stops at the first co_exposure alarm unless run_on. */
static struct run replay(enum alarm_standard s, const struct profile *p, int64_t dur_ms,
                         int64_t step_ms, bool run_on)
{
    struct alarm_config c;
    alarm_config_default(&c);
    c.standard = s;
    assert_null(alarm_config_check(&c));
    struct alarm_state st;
    alarm_state_init(&st);
    struct alarm_events ev;
    struct run r = {.fired_ms = -1, .min_ppm = INFINITY, .max_ppm = -INFINITY};
    uint64_t rng = p->seed ? p->seed : 1;
    for (int64_t t = 0; t <= dur_ms; t += step_ms) {
        double ppm = profile_ppm(p, t, &rng);
        r.min_ppm = fmin(r.min_ppm, ppm);
        r.max_ppm = fmax(r.max_ppm, ppm);
        struct alarm_input in = {.ts_ms = T0 + t, .recv_ms = T0 + t, .ppm = ppm};
        alarm_reading(&c, &st, &in, &ev);
        for (size_t i = 0; i < ev.n; i++) {
            if (ev.ev[i].kind != ALARM_CO_EXPOSURE)
                continue;
            if (ev.ev[i].type == ALARM_EV_RAISED) {
                r.raised++;
                if (r.fired_ms < 0)
                    r.fired_ms = ev.ev[i].ts_ms - T0;
            } else if (ev.ev[i].type == ALARM_EV_CLEARED) {
                r.cleared++;
            }
        }
        if (r.fired_ms >= 0 && !run_on)
            break;
    }
    return r;
}

static const struct alarm_std_point *find_point(enum alarm_standard s, double ppm)
{
    const struct alarm_standard_def *sd = alarm_standard_get(s);
    assert_non_null(sd);
    for (size_t i = 0; i < sd->npoints; i++)
        if (sd->points[i].ppm == ppm)
            return &sd->points[i];
    fail_msg("%s has no response point at %g ppm", sd->name, ppm);
    return NULL;
}

/* The alarming point with the highest concentration (UL 400, EN 300). */
static const struct alarm_std_point *top_point(enum alarm_standard s)
{
    const struct alarm_standard_def *sd = alarm_standard_get(s);
    const struct alarm_std_point *top = NULL;
    for (size_t i = 0; i < sd->npoints; i++)
        if (sd->points[i].by_min > 0 && (!top || sd->points[i].ppm > top->ppm))
            top = &sd->points[i];
    assert_non_null(top);
    return top;
}

/* The point that must stay quiet (30 ppm in both standards). */
static const struct alarm_std_point *quiet_point(enum alarm_standard s)
{
    const struct alarm_standard_def *sd = alarm_standard_get(s);
    for (size_t i = 0; i < sd->npoints; i++)
        if (sd->points[i].by_min == 0)
            return &sd->points[i];
    fail_msg("%s has no no-alarm point", sd->name);
    return NULL;
}

static double minutes(int64_t ms)
{
    return (double)ms / (double)MIN_MS;
}

/* ---- the table ---- */

static void table_header(const char *title)
{
    printf("\n%s\n", title);
    printf("%-8s %-40s %10s  %-22s %s\n", "standard", "profile", "fired(min)", "allowed (min)",
           "result");
}

/* Prints one row: lo..hi is the allowed window for the alarm; hi < 0 means
 * "must not fire" within the run (quiet_min printed). Returns true on PASS. */
static bool row(enum alarm_standard s, const char *profile, const struct run *r, double lo,
                double hi, double quiet_min)
{
    char fired[32], window[48];
    if (r->fired_ms < 0)
        snprintf(fired, sizeof fired, "never");
    else
        snprintf(fired, sizeof fired, "%.2f", minutes(r->fired_ms));
    bool pass;
    if (hi < 0) {
        snprintf(window, sizeof window, "none in %g", quiet_min);
        pass = r->fired_ms < 0;
    } else {
        snprintf(window, sizeof window, "%g..%g", lo, hi);
        pass = r->fired_ms >= 0 && minutes(r->fired_ms) >= lo && minutes(r->fired_ms) <= hi;
    }
    printf("%-8s %-40s %10s  %-22s %s\n", alarm_standard_get(s)->name, profile, fired, window,
           pass ? "PASS" : "FAIL");
    return pass;
}

/* Runs one constant point of a standard at the given cadence and ppm offset
 * (the standards' test tolerances); the window is the point's own. */
static bool check_constant(enum alarm_standard s, const struct alarm_std_point *pt, double offset,
                           int64_t step_ms)
{
    double ppm = pt->ppm + offset;
    struct profile p = {.ppm1 = ppm};
    char name[128];
    snprintf(name, sizeof name, "%g ppm constant%s%s", ppm, offset != 0 ? " (tolerance)" : "",
             step_ms == MQ7_STEP_MS ? " @150s" : "");
    if (pt->by_min == 0) {
        struct run r = replay(s, &p, (int64_t)(pt->never_min * MIN_MS), step_ms, false);
        return row(s, name, &r, 0, -1, pt->never_min);
    }
    /* Run to twice the deadline so that a late alarm shows when it came. */
    struct run r = replay(s, &p, (int64_t)(2 * pt->by_min * MIN_MS), step_ms, false);
    bool pass = row(s, name, &r, pt->too_early_min, pt->by_min, 0);
    /* The replay agrees with the model's own constant-level prediction to
     * within one reading interval (the dose is checked at readings). */
    int64_t model = alarm_exposure_time_ms(s, ppm);
    if (r.fired_ms >= 0 && (r.fired_ms < model - 1000 || r.fired_ms > model + step_ms + 1000)) {
        printf("    ^ replay %.3f min, alarm_exposure_time_ms %.3f min: disagree\n",
               minutes(r.fired_ms), minutes(model));
        pass = false;
    }
    return pass;
}

/* ---- tests ---- */

/* Every response point of both standards, as listed in the engine's table:
 * UL 2034 30 ppm for 30 days (quiet), 70, 150, 400 ppm; EN 50291 30 ppm for
 * 120 min (quiet), 50, 100, 300 ppm. Also at the MQ-7's real cadence of
 * one reading per 150 s. */
static void test_constant_points(void **state)
{
    (void)state;
    int fails = 0;
    table_header("Constant concentrations: the standards' response points");
    for (int s = 0; s < ALARM_NSTANDARDS; s++) {
        const struct alarm_standard_def *sd = alarm_standard_get((enum alarm_standard)s);
        assert_non_null(sd);
        assert_true(sd->npoints >= 4);
        for (size_t i = 0; i < sd->npoints; i++)
            fails += !check_constant((enum alarm_standard)s, &sd->points[i], 0, STEP_MS);
    }
    for (int s = 0; s < ALARM_NSTANDARDS; s++) {
        const struct alarm_standard_def *sd = alarm_standard_get((enum alarm_standard)s);
        for (size_t i = 0; i < sd->npoints; i++)
            fails += !check_constant((enum alarm_standard)s, &sd->points[i], 0, MQ7_STEP_MS);
    }
    /* co_exposure never fires for a level that the model says never alarms. */
    assert_int_equal(alarm_exposure_time_ms(ALARM_STD_UL2034, 30), INT64_MAX);
    assert_int_equal(alarm_exposure_time_ms(ALARM_STD_EN50291, 30), INT64_MAX);
    if (fails)
        fail_msg("%d constant profile(s) outside the standard's window", fails);
}

/* UL 2034's test tolerances (REFERENCES.md section 3): 70 and 150 ppm +-5,
 * 400 ppm +-10. A chamber anywhere in that band must still alarm inside the
 * nominal point's window. */
static void test_ul_tolerances(void **state)
{
    (void)state;
    static const struct {
        double ppm, tol;
    } tol[] = {{70, 5}, {150, 5}, {400, 10}};
    int fails = 0;
    table_header("UL 2034 test tolerances: the nominal point's window must hold");
    for (size_t i = 0; i < sizeof tol / sizeof *tol; i++) {
        const struct alarm_std_point *pt = find_point(ALARM_STD_UL2034, tol[i].ppm);
        fails += !check_constant(ALARM_STD_UL2034, pt, -tol[i].tol, STEP_MS);
        fails += !check_constant(ALARM_STD_UL2034, pt, +tol[i].tol, STEP_MS);
    }
    if (fails)
        fail_msg("%d tolerance profile(s) outside the window", fails);
}

/* UL 150 ppm for 15 min, then 70 ppm.
 * - No alarm during the 150 ppm phase: the model needs
 *   alarm_exposure_time_ms(150) (25 min) of 150 ppm, more than 15 min.
 * - The dose is carried over, not reset: at the step the dose is higher than
 *   after 15 min of 70 ppm, and from then on both follow the same equation,
 *   so the stepped profile must fire strictly before constant 70 ppm would
 *   (a per-band timer that restarts at the step would fire at 15 + 120 min).
 * - Hence also by the 70 ppm point's deadline (by_min), from the start. */
static void test_stepped_150_then_70(void **state)
{
    (void)state;
    const struct alarm_std_point *p70 = find_point(ALARM_STD_UL2034, 70);
    const struct alarm_std_point *p150 = find_point(ALARM_STD_UL2034, 150);
    int64_t step = 15 * MIN_MS;
    assert_true(alarm_exposure_time_ms(ALARM_STD_UL2034, p150->ppm) > step);
    struct profile stepped = {.ppm1 = p150->ppm, .ppm2 = p70->ppm, .step_ms = step};
    struct profile flat = {.ppm1 = p70->ppm};
    int64_t dur = (int64_t)(2 * p70->by_min * MIN_MS);
    struct run rs = replay(ALARM_STD_UL2034, &stepped, dur, STEP_MS, false);
    struct run rf = replay(ALARM_STD_UL2034, &flat, dur, STEP_MS, false);
    table_header("Stepped: UL 150 ppm for 15 min, then 70 ppm");
    bool ok = row(ALARM_STD_UL2034, "150 ppm 15 min -> 70 ppm", &rs, minutes(step),
                  minutes(rf.fired_ms < 0 ? dur : rf.fired_ms), 0);
    row(ALARM_STD_UL2034, "(70 ppm constant, for comparison)", &rf, p70->too_early_min, p70->by_min,
        0);
    assert_true(ok);
    assert_true(rs.fired_ms > step);
    assert_true(rf.fired_ms > 0);
    assert_true(rs.fired_ms < rf.fired_ms);
    assert_true(minutes(rs.fired_ms) <= p70->by_min);
}

/* UL 400 ppm 2 min on / 2 min off (clean air, 0 ppm), from the start.
 * Let t400 = alarm_exposure_time_ms(400) (8 min of the model).
 * - Lower bound: an off period only decays the dose, and the update over an
 *   "on" interval is increasing in the starting dose, so the dose after any
 *   on/off mix is at most the dose after the same on-time spent in one go.
 *   The alarm needs at least t400 of on-time: with the first on-phase at
 *   t = 0 that is reached no earlier than 2 * t400 - off (14 min) elapsed,
 *   i.e. later than constant 400 ppm.
 * - Upper bound: the model's time constant is long (COHb half-life 320 min,
 *   tau about 462 min), so while the dose is below 1 an off phase of 2 min
 *   loses at most 1 - exp(-2/462), under 0.5% of the alarm dose, while the
 *   alarm needs about t400 of on-time: one extra on-phase (one period) more
 *   than the on-time needs covers the losses, so it alarms by
 *   2 * t400 + period (20 min), well inside 30 min.
 * - Off phases (2 min) are shorter than clear_hold (5 min), so the alarm
 *   does not clear and re-raise: exactly one RAISED over an hour. */
static void test_intermittent_400(void **state)
{
    (void)state;
    int64_t on = 2 * MIN_MS, off = 2 * MIN_MS;
    int64_t t400 = alarm_exposure_time_ms(ALARM_STD_UL2034, 400);
    struct profile p = {.ppm1 = 400, .ppm2 = 0, .on_ms = on, .off_ms = off};
    struct run r = replay(ALARM_STD_UL2034, &p, 60 * MIN_MS, STEP_MS, true);
    double lo = minutes(2 * t400 - off), hi = minutes(2 * t400 + on + off);
    table_header("Intermittent: UL 400 ppm, 2 min on / 2 min off");
    bool ok = row(ALARM_STD_UL2034, "400 ppm 2 on / 2 off (0 ppm)", &r, lo, hi, 0);
    assert_true(ok);
    assert_true(r.fired_ms > t400);
    assert_true(r.fired_ms <= 30 * MIN_MS);
    assert_int_equal(r.raised, 1);
    assert_int_equal(r.cleared, 0);
}

/* Uniform noise of +-10 ppm around a point (xorshift64, fixed seed). The
 * uptake per ppm is piecewise linear and the dose averages readings over
 * tens of minutes, so the noise averages out: the alarm must stay inside the
 * nominal point's window, neither early nor (more importantly) late. */
static void test_noisy_alarm_points(void **state)
{
    (void)state;
    static const struct {
        enum alarm_standard s;
        double ppm;
    } pts[] = {{ALARM_STD_UL2034, 70},
               {ALARM_STD_UL2034, 150},
               {ALARM_STD_EN50291, 50},
               {ALARM_STD_EN50291, 100}};
    int fails = 0;
    table_header("Noisy: uniform +-10 ppm (xorshift64, fixed seeds)");
    for (size_t i = 0; i < sizeof pts / sizeof *pts; i++) {
        const struct alarm_std_point *pt = find_point(pts[i].s, pts[i].ppm);
        for (uint64_t seed = 1; seed <= 3; seed++) {
            struct profile p = {.ppm1 = pt->ppm, .noise = 10, .seed = 0x9E3779B97F4A7C15ull * seed};
            struct run r = replay(pts[i].s, &p, (int64_t)(2 * pt->by_min * MIN_MS), STEP_MS, false);
            char name[128];
            snprintf(name, sizeof name, "%g+-10 ppm (seed %llu)", pt->ppm,
                     (unsigned long long)seed);
            fails += !row(pts[i].s, name, &r, pt->too_early_min, pt->by_min, 0);
            /* the noise is really there */
            assert_true(r.max_ppm - r.min_ppm > 15);
        }
    }
    if (fails)
        fail_msg("%d noisy profile(s) outside the window", fails);
}

/* Noisy 30 +-10 ppm: UL for its quiet time (30 days), EN for its (120 min).
 * The readings reach 40 ppm, above both models' floors (UL 35, EN 33), but
 * a quarter (UL) or a third (EN) of the time and only barely: the average
 * uptake stays far below what alarms (even 40 ppm constant needs 3.5 h in
 * EN and never alarms in UL), so co_exposure must stay quiet. */
static void test_noisy_quiet_points(void **state)
{
    (void)state;
    int fails = 0;
    table_header("Noisy quiet point: 30 +-10 ppm must not raise co_exposure");
    for (int s = 0; s < ALARM_NSTANDARDS; s++) {
        const struct alarm_std_point *pt = quiet_point((enum alarm_standard)s);
        struct profile p = {.ppm1 = pt->ppm, .noise = 10, .seed = 0xC0FFEE};
        struct run r =
            replay((enum alarm_standard)s, &p, (int64_t)(pt->never_min * MIN_MS), STEP_MS, true);
        char name[128];
        snprintf(name, sizeof name, "%g+-10 ppm", pt->ppm);
        fails += !row((enum alarm_standard)s, name, &r, 0, -1, pt->never_min);
        assert_true(r.max_ppm > alarm_standard_get((enum alarm_standard)s)->floor_ppm);
        assert_int_equal(r.raised, 0);
    }
    if (fails)
        fail_msg("%d noisy quiet profile(s) raised co_exposure", fails);
}

/* 30 ppm for the standard's whole quiet time (no alarm: it is below the
 * model's floor, so the dose stays 0), then a step to the standard's top
 * point (UL 400, EN 300). Nothing is carried over from the quiet phase, and
 * the alarm must come within the top point's window measured from the
 * step. */
static void test_stepped_quiet_then_top(void **state)
{
    (void)state;
    int fails = 0;
    table_header("Stepped: quiet point for its whole time, then the top point");
    for (int s = 0; s < ALARM_NSTANDARDS; s++) {
        const struct alarm_std_point *q = quiet_point((enum alarm_standard)s);
        const struct alarm_std_point *top = top_point((enum alarm_standard)s);
        int64_t step = (int64_t)(q->never_min * MIN_MS);
        struct profile p = {.ppm1 = q->ppm, .ppm2 = top->ppm, .step_ms = step};
        struct run r = replay((enum alarm_standard)s, &p,
                              step + (int64_t)(2 * top->by_min * MIN_MS), STEP_MS, false);
        /* Report the time from the step. */
        struct run from_step = r;
        if (r.fired_ms >= 0)
            from_step.fired_ms = r.fired_ms - step;
        char name[128];
        snprintf(name, sizeof name, "%g ppm %g min -> %g ppm (from step)", q->ppm, q->never_min,
                 top->ppm);
        fails += !row((enum alarm_standard)s, name, &from_step, top->too_early_min, top->by_min, 0);
        assert_true(r.fired_ms >= step);
    }
    if (fails)
        fail_msg("%d stepped profile(s) outside the window", fails);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constant_points),        cmocka_unit_test(test_ul_tolerances),
        cmocka_unit_test(test_stepped_150_then_70),    cmocka_unit_test(test_intermittent_400),
        cmocka_unit_test(test_noisy_alarm_points),     cmocka_unit_test(test_noisy_quiet_points),
        cmocka_unit_test(test_stepped_quiet_then_top),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
