/* alarm_bench.c - the cost of the alarm engine (src/alarm/alarm.c) per
 * reading and per clock tick, with a reference measured in the same run.
 *
 *   cc -std=c17 -O2 -Isrc bench/alarm_bench.c src/alarm/alarm.c -lm -o bench/out/alarm_bench
 *   bench/out/alarm_bench [runs]          (or simply: bench/alarm.sh)
 *
 * Cases (every one with alarm_config_default(), UL 2034):
 *   fleet     10,000 device states in an array, fed round-robin: one reading
 *             per device every 15 s (each device at its own phase, +-0.5 s
 *             jitter), clean air: a per-device baseline of 0-3 ppm plus noise
 *             (sd ~1 ppm), rounded to 0.1 ppm. 20 rounds (5 min) of warm-up,
 *             then 100 rounds (1,000,000 readings) timed.
 *   scenario  one device, one reading every 15 s: 30 min clean air, a rise to
 *             150 ppm over 10 min, 40 min at 150 ppm (co_high, co_rising and
 *             co_exposure all raise), a fall to 0 in 2 min, 30 min clean (all
 *             clear). 449 readings from a fresh state, repeated 2,000 times
 *             (the state re-initialised each time, inside the timed loop).
 *   tick      alarm_tick over the 10,000 fleet states, 10 s after their last
 *             reading (nothing to do: the common case), 100 passes.
 *   tick-off  alarm_tick over the 10,000 states 11 min after their last
 *             reading: every device raises offline (states restored from a
 *             copy before each pass, outside the timing), 20 passes.
 *
 * Reference: the same loop over the same data, calling through a volatile
 * function pointer a function with the same arguments that only stores the
 * reading's ts into the state and zeroes the event count (so it touches the
 * same input and state cache lines, without the engine's work). The machine
 * is shared and noisy: compare the ratio engine / reference across runs,
 * not the absolute numbers (bench/README.md).
 *
 * Each run times every case and then its reference, back to back; the table
 * shows the median over runs (and the min-max), and the median of the
 * per-run ratios. Timing: clock_gettime(CLOCK_MONOTONIC). */
#define _POSIX_C_SOURCE 200809L
#include "alarm/alarm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FLEET 10000
#define WARM_ROUNDS 20
#define ROUNDS 100
#define STEP_MS 15000LL
#define MIN_MS 60000LL
#define T0 1767225600000LL /* 2026-01-01T00:00:00Z */
#define SCENARIO_REPS 2000
#define TICK_PASSES 100
#define TICKOFF_PASSES 20
#define MAX_RUNS 31

/* ---- data ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t xorshift64(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* Uniform in [0, 1). */
static double uniform01(void)
{
    return (double)(xorshift64() >> 11) * (1.0 / 9007199254740992.0);
}

/* Roughly normal (Irwin-Hall, 4 uniforms), sd ~1. */
static double noise1(void)
{
    double s = uniform01() + uniform01() + uniform01() + uniform01() - 2.0;
    return s * 1.7320508; /* sd of the sum is sqrt(4/12) */
}

static double quantize(double ppm)
{
    if (ppm < 0)
        ppm = 0;
    return (double)(long)(ppm * 10.0 + 0.5) / 10.0;
}

/* Fleet readings, round-major: in[r * FLEET + d]. */
static struct alarm_input *fleet_inputs(int rounds)
{
    struct alarm_input *in = malloc((size_t)rounds * FLEET * sizeof *in);
    double base[FLEET];
    int64_t phase[FLEET];
    if (!in)
        return NULL;
    for (int d = 0; d < FLEET; d++) {
        base[d] = 3.0 * uniform01();
        phase[d] = (int64_t)(uniform01() * STEP_MS);
    }
    for (int r = 0; r < rounds; r++)
        for (int d = 0; d < FLEET; d++) {
            int64_t jitter = (int64_t)(uniform01() * 1000.0) - 500;
            int64_t ts = T0 + r * STEP_MS + phase[d] + jitter;
            in[(size_t)r * FLEET + d] = (struct alarm_input){
                .ts_ms = ts,
                .recv_ms = ts + 50 + (int64_t)(uniform01() * 400.0),
                .ppm = quantize(base[d] + noise1()),
                .flags = 0,
            };
        }
    return in;
}

/* The alarm scenario of one device (see the top of the file). */
static size_t scenario_inputs(struct alarm_input *in, size_t cap)
{
    size_t n = 0;
    for (int64_t t = 0; t <= 112 * MIN_MS && n < cap; t += STEP_MS) {
        double ppm;
        if (t < 30 * MIN_MS)
            ppm = 1.5;
        else if (t < 40 * MIN_MS)
            ppm = 1.5 + 148.5 * (double)(t - 30 * MIN_MS) / (10.0 * MIN_MS);
        else if (t < 80 * MIN_MS)
            ppm = 150;
        else if (t < 82 * MIN_MS)
            ppm = 150 * (1.0 - (double)(t - 80 * MIN_MS) / (2.0 * MIN_MS));
        else
            ppm = 0.5;
        in[n] = (struct alarm_input){.ts_ms = T0 + t,
                                     .recv_ms = T0 + t + 200,
                                     .ppm = quantize(ppm + 0.8 * noise1()),
                                     .flags = 0};
        n++;
    }
    return n;
}

/* ---- the engine and its reference, through volatile pointers ---- */

typedef void (*reading_fn)(const struct alarm_config *, struct alarm_state *,
                           const struct alarm_input *, struct alarm_events *);
typedef void (*tick_fn)(const struct alarm_config *, struct alarm_state *, int64_t,
                        struct alarm_events *);

static void ref_reading(const struct alarm_config *c, struct alarm_state *st,
                        const struct alarm_input *in, struct alarm_events *out)
{
    (void)c;
    out->n = 0;
    st->last_ts_ms = in->ts_ms;
}

static void ref_tick(const struct alarm_config *c, struct alarm_state *st, int64_t now_ms,
                     struct alarm_events *out)
{
    (void)c;
    (void)now_ms;
    out->n = st->kind[ALARM_OFFLINE].active;
}

static reading_fn volatile engine_reading_p = alarm_reading;
static reading_fn volatile ref_reading_p = ref_reading;
static tick_fn volatile engine_tick_p = alarm_tick;
static tick_fn volatile ref_tick_p = ref_tick;

static volatile size_t sink; /* keeps the event counts alive */

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* ---- cases: each returns ns per operation ---- */

static struct alarm_config cfg;
static struct alarm_state fleet[FLEET], fleet_copy[FLEET];
static struct alarm_input *fleet_in;
static struct alarm_input scen_in[512];
static size_t scen_n;
static size_t scen_events[4]; /* by type, from the last engine pass */
static size_t tickoff_events;

static void fleet_reset(void)
{
    for (int d = 0; d < FLEET; d++)
        alarm_state_init(&fleet[d]);
    struct alarm_events ev;
    size_t n = 0;
    for (int r = 0; r < WARM_ROUNDS; r++)
        for (int d = 0; d < FLEET; d++) {
            alarm_reading(&cfg, &fleet[d], &fleet_in[(size_t)r * FLEET + d], &ev);
            n += ev.n;
        }
    sink += n;
}

static double case_fleet(reading_fn volatile *fn)
{
    fleet_reset();
    struct alarm_events ev;
    size_t n = 0;
    double t = now_ns();
    for (int r = WARM_ROUNDS; r < WARM_ROUNDS + ROUNDS; r++) {
        const struct alarm_input *row = &fleet_in[(size_t)r * FLEET];
        for (int d = 0; d < FLEET; d++) {
            (*fn)(&cfg, &fleet[d], &row[d], &ev);
            n += ev.n;
        }
    }
    t = now_ns() - t;
    sink += n;
    return t / ((double)ROUNDS * FLEET);
}

static double case_scenario(reading_fn volatile *fn)
{
    static struct alarm_state st;
    struct alarm_events ev;
    size_t n = 0, by_type[4] = {0};
    double t = now_ns();
    for (int rep = 0; rep < SCENARIO_REPS; rep++) {
        alarm_state_init(&st);
        for (size_t i = 0; i < scen_n; i++) {
            (*fn)(&cfg, &st, &scen_in[i], &ev);
            n += ev.n;
            for (size_t j = 0; j < ev.n; j++)
                by_type[ev.ev[j].type & 3]++;
        }
    }
    t = now_ns() - t;
    sink += n;
    if (fn == &engine_reading_p)
        for (int k = 0; k < 4; k++)
            scen_events[k] = by_type[k] / SCENARIO_REPS;
    return t / ((double)SCENARIO_REPS * (double)scen_n);
}

/* Fleet states as after the timed rounds (every device read within 15 s). */
static int64_t fleet_last_recv(void)
{
    int64_t last = 0;
    for (int d = 0; d < FLEET; d++)
        if (fleet[d].last_recv_ms > last)
            last = fleet[d].last_recv_ms;
    return last;
}

static double case_tick(tick_fn volatile *fn)
{
    memcpy(fleet, fleet_copy, sizeof fleet);
    int64_t now = fleet_last_recv() + 10000;
    struct alarm_events ev;
    size_t n = 0;
    double t = now_ns();
    for (int p = 0; p < TICK_PASSES; p++)
        for (int d = 0; d < FLEET; d++) {
            (*fn)(&cfg, &fleet[d], now + p * 1000, &ev);
            n += ev.n;
        }
    t = now_ns() - t;
    sink += n;
    return t / ((double)TICK_PASSES * FLEET);
}

static double case_tickoff(tick_fn volatile *fn)
{
    int64_t now = 0;
    struct alarm_events ev;
    double total = 0;
    size_t n = 0;
    for (int p = 0; p < TICKOFF_PASSES; p++) {
        memcpy(fleet, fleet_copy, sizeof fleet);
        if (!now)
            now = fleet_last_recv() + 11 * MIN_MS;
        double t = now_ns();
        for (int d = 0; d < FLEET; d++) {
            (*fn)(&cfg, &fleet[d], now, &ev);
            n += ev.n;
        }
        total += now_ns() - t;
    }
    sink += n;
    if (fn == &engine_tick_p)
        tickoff_events = n / TICKOFF_PASSES;
    return total / ((double)TICKOFF_PASSES * FLEET);
}

/* ---- statistics, output ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_RUNS];
    memcpy(s, v, (size_t)n * sizeof *s);
    qsort(s, (size_t)n, sizeof *s, cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double vmin(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

static double vmax(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] > m)
            m = v[i];
    return m;
}

struct result {
    const char *name;
    const char *unit;
    double count;
    double eng[MAX_RUNS], ref[MAX_RUNS], ratio[MAX_RUNS];
};

static void row(const struct result *r, int runs)
{
    char eng[48], ref[48], ratio[48];
    snprintf(eng, sizeof eng, "%.1f (%.1f-%.1f)", median(r->eng, runs), vmin(r->eng, runs),
             vmax(r->eng, runs));
    snprintf(ref, sizeof ref, "%.1f (%.1f-%.1f)", median(r->ref, runs), vmin(r->ref, runs),
             vmax(r->ref, runs));
    snprintf(ratio, sizeof ratio, "%.1f (%.1f-%.1f)", median(r->ratio, runs), vmin(r->ratio, runs),
             vmax(r->ratio, runs));
    printf("| %-8s | %-10s | %9.0f | %-19s | %-16s | %-16s |\n", r->name, r->unit, r->count, eng,
           ref, ratio);
}

int main(int argc, char **argv)
{
    int runs = argc > 1 ? atoi(argv[1]) : 11;
    if (runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: %s [runs: 1-%d, default 11]\n", argv[0], MAX_RUNS);
        return 2;
    }
    alarm_config_default(&cfg);
    fleet_in = fleet_inputs(WARM_ROUNDS + ROUNDS);
    if (!fleet_in) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    scen_n = scenario_inputs(scen_in, sizeof scen_in / sizeof *scen_in);

    /* The states the tick cases start from: the fleet after its timed rounds. */
    fleet_reset();
    {
        struct alarm_events ev;
        for (int r = WARM_ROUNDS; r < WARM_ROUNDS + ROUNDS; r++)
            for (int d = 0; d < FLEET; d++)
                alarm_reading(&cfg, &fleet[d], &fleet_in[(size_t)r * FLEET + d], &ev);
    }
    memcpy(fleet_copy, fleet, sizeof fleet);
    size_t fleet_active = 0;
    for (int d = 0; d < FLEET; d++)
        for (int k = 0; k < ALARM_NKINDS; k++)
            fleet_active += fleet_copy[d].kind[k].active;

    struct result res[4] = {
        {.name = "fleet", .unit = "ns/reading", .count = (double)ROUNDS * FLEET},
        {.name = "scenario", .unit = "ns/reading", .count = (double)SCENARIO_REPS * scen_n},
        {.name = "tick", .unit = "ns/device", .count = (double)TICK_PASSES * FLEET},
        {.name = "tick-off", .unit = "ns/device", .count = (double)TICKOFF_PASSES * FLEET},
    };
    double t_start = now_ns();
    for (int i = 0; i < runs; i++) {
        res[0].eng[i] = case_fleet(&engine_reading_p);
        res[0].ref[i] = case_fleet(&ref_reading_p);
        res[1].eng[i] = case_scenario(&engine_reading_p);
        res[1].ref[i] = case_scenario(&ref_reading_p);
        res[2].eng[i] = case_tick(&engine_tick_p);
        res[2].ref[i] = case_tick(&ref_tick_p);
        res[3].eng[i] = case_tickoff(&engine_tick_p);
        res[3].ref[i] = case_tickoff(&ref_tick_p);
        for (int k = 0; k < 4; k++)
            res[k].ratio[i] = res[k].eng[i] / res[k].ref[i];
    }
    double secs = (now_ns() - t_start) / 1e9;

    printf("alarm engine: %d runs, %.1f s; state %zu bytes; median (min-max) over runs\n\n", runs,
           secs, sizeof(struct alarm_state));
    printf("| case     | unit       |     count | engine ns           | reference ns     "
           "| engine / ref     |\n");
    printf("|----------|------------|-----------|---------------------|------------------"
           "|------------------|\n");
    for (int k = 0; k < 4; k++)
        row(&res[k], runs);
    printf("\nfleet: %zu alarms active after the timed rounds (clean air: expect 0)\n",
           fleet_active);
    printf("scenario: %zu readings per pass; events per pass: %zu raised, %zu updated, %zu "
           "cleared, %zu rearmed\n",
           scen_n, scen_events[ALARM_EV_RAISED], scen_events[ALARM_EV_UPDATED],
           scen_events[ALARM_EV_CLEARED], scen_events[ALARM_EV_REARMED]);
    printf("tick-off: %zu offline alarms raised per pass (expect %d)\n", tickoff_events, FLEET);
    free(fleet_in);
    return (int)(sink & 0); /* sink is only there to be written */
}
