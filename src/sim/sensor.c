/* sensor.c - scenarios, link and the MQ-7 model of `carbon sim` (see
 * sensor.h). */
#include "sim/sensor.h"

#include <math.h>
#include <string.h>

#define MIN_MS 60000LL
#define DAY_MS 86400000.0

/* ---- random numbers ---- */

void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream)
{
    r->s = seed * 0x9e3779b97f4a7c15ULL ^ (stream + 1) * 0xbf58476d1ce4e5b9ULL;
    sim_rng_next(r);
}

uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

double sim_rng_uniform(struct sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

double sim_rng_gauss(struct sim_rng *r)
{
    /* Box-Muller; u1 in (0, 1] so the log is finite. */
    double u1 = 1.0 - sim_rng_uniform(r), u2 = sim_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ---- scenarios ---- */

static const char *const names[SIM_NSCENARIOS] = {
    [SIM_STEADY] = "steady",       [SIM_SLOW_LEAK] = "slow-leak",
    [SIM_FAST_LEAK] = "fast-leak", [SIM_SENSOR_FAULT] = "sensor-fault",
    [SIM_OFFLINE] = "offline",
};

const char *sim_scenario_name(enum sim_scenario s)
{
    return (unsigned)s < SIM_NSCENARIOS ? names[s] : "unknown";
}

enum sim_scenario sim_scenario_parse(const char *name)
{
    for (int i = 0; i < SIM_NSCENARIOS; i++)
        if (strcmp(name, names[i]) == 0)
            return (enum sim_scenario)i;
    return SIM_NSCENARIOS;
}

void sim_profile_init(struct sim_profile *p, enum sim_scenario s, int64_t duration_ms,
                      struct sim_rng *rng)
{
    memset(p, 0, sizeof *p);
    p->scenario = s;
    p->baseline_ppm = 0.5 + 2.5 * sim_rng_uniform(rng);
    p->wobble_ppm = 0.5 * sim_rng_uniform(rng);
    p->wobble_period_ms = (int64_t)((20 + 40 * sim_rng_uniform(rng)) * MIN_MS);
    p->wobble_phase = 2 * M_PI * sim_rng_uniform(rng);
    int64_t lead = duration_ms / 6 < 5 * MIN_MS ? duration_ms / 6 : 5 * MIN_MS;
    switch (s) {
    case SIM_SLOW_LEAK:
        p->event_ms = lead + (int64_t)(sim_rng_uniform(rng) * MIN_MS);
        p->rate = 0.8 + 0.4 * sim_rng_uniform(rng);
        p->peak_ppm = 150;
        break;
    case SIM_FAST_LEAK:
        p->event_ms = lead + (int64_t)(sim_rng_uniform(rng) * MIN_MS);
        p->peak_ppm = 300 + 200 * sim_rng_uniform(rng);
        p->rate = 2 * MIN_MS;
        break;
    case SIM_SENSOR_FAULT:
        p->event_ms = duration_ms / 3;
        p->fault_high = sim_rng_uniform(rng) < 0.5;
        break;
    case SIM_OFFLINE:
        p->event_ms = duration_ms / 6;
        p->event_end_ms = duration_ms / 2;
        break;
    default:
        break;
    }
}

double sim_profile_ppm(const struct sim_profile *p, int64_t t_ms)
{
    double c = p->baseline_ppm;
    if (p->wobble_period_ms > 0)
        c += p->wobble_ppm *
             sin(2 * M_PI * (double)t_ms / (double)p->wobble_period_ms + p->wobble_phase);
    double dt = (double)(t_ms - p->event_ms);
    if (p->scenario == SIM_SLOW_LEAK && dt > 0) {
        c += p->rate * dt / (double)MIN_MS;
        if (c > p->peak_ppm)
            c = p->peak_ppm;
    } else if (p->scenario == SIM_FAST_LEAK && dt > 0) {
        c += p->peak_ppm * (1 - exp(-dt / p->rate));
    }
    return c < 0.1 ? 0.1 : c;
}

bool sim_profile_link_up(const struct sim_profile *p, int64_t t_ms)
{
    return p->scenario != SIM_OFFLINE || t_ms < p->event_ms || t_ms >= p->event_end_ms;
}

bool sim_profile_fault(const struct sim_profile *p, int64_t t_ms)
{
    return p->scenario == SIM_SENSOR_FAULT && t_ms >= p->event_ms;
}

/* ---- the sensor ---- */

void sim_sensor_init(struct sim_sensor *s, const struct mq7_calibration *nominal,
                     struct sim_rng *rng)
{
    memset(s, 0, sizeof *s);
    s->wiring = *nominal;
    double r0 = nominal->r0_ohm * exp(0.25 * sim_rng_gauss(rng));
    s->wiring.r0_ohm = r0 < 2000 ? 2000 : r0 > 20000 ? 20000 : r0;
    s->drift_per_day = 0.01 * sim_rng_gauss(rng);
    s->noise_rel = 0.02;
    s->adc_noise = 1.5;
    s->spike_prob = 0.01;
    s->spike_counts = 200;
    s->tau_ms = 15000;
    s->purge_ratio = 0.3;
    s->heater = SIM_HEATER_OFF;
    sim_rng_seed(&s->rng, sim_rng_next(rng), 0);
}

void sim_sensor_heater(struct sim_sensor *s, enum sim_heater level, int64_t t_ms)
{
    if (level != s->heater) {
        s->heater = level;
        s->heater_since_ms = t_ms;
    }
}

void sim_sensor_fw_heater(struct sim_sensor *s, enum fw_heater_level level, int64_t t_ms)
{
    sim_sensor_heater(s,
                      level == FW_HEATER_HIGH  ? SIM_HEATER_HIGH
                      : level == FW_HEATER_LOW ? SIM_HEATER_LOW
                                               : SIM_HEATER_OFF,
                      t_ms);
}

double sim_sensor_rs(const struct sim_sensor *s, double ppm, int64_t t_ms)
{
    const struct mq7_calibration *w = &s->wiring;
    double drift = 1 + s->drift_per_day * (double)t_ms / DAY_MS;
    if (drift < 0.5)
        drift = 0.5;
    double eq = w->r0_ohm * pow(ppm / w->curve_a, 1.0 / w->curve_b) * drift;
    double purge = w->r0_ohm * s->purge_ratio;
    switch (s->heater) {
    case SIM_HEATER_OFF:
        return 4 * w->r0_ohm * MQ7_CLEAN_AIR_RATIO;
    case SIM_HEATER_HIGH:
        return purge;
    case SIM_HEATER_LOW:
        break;
    }
    double dt = (double)(t_ms - s->heater_since_ms);
    return eq + (purge - eq) * exp(-dt / s->tau_ms);
}

uint32_t sim_sensor_adc(struct sim_sensor *s, double ppm, int64_t t_ms, bool fault, bool fault_high)
{
    const struct mq7_calibration *w = &s->wiring;
    uint32_t max = mq7_adc_max(w);
    /* Draw the same numbers either way, so a fault does not shift the
     * stream of the other reads. */
    double n1 = sim_rng_gauss(&s->rng), n2 = sim_rng_gauss(&s->rng);
    double u = sim_rng_uniform(&s->rng), sign = sim_rng_uniform(&s->rng) < 0.5 ? -1 : 1;
    if (fault && !fault_high)
        return 0; /* open: Rs -> infinity, Vout = 0, under the ADC's bottom */
    double rs;
    if (fault) {
        rs = 0; /* short: Rs -> 0, Vout = Vc */
    } else {
        rs = sim_sensor_rs(s, ppm, t_ms) * (1 + s->noise_rel * n1);
        if (rs < 1)
            rs = 1;
    }
    double vout = w->vc_v * w->rl_ohm / (rs + w->rl_ohm);
    double vpin = vout / w->divider;
    double counts = (vpin - w->adc_offset_v) / w->adc_gain * (double)max / w->vref_v;
    counts += s->adc_noise * n2;
    if (u < s->spike_prob)
        counts += sign * s->spike_counts;
    double r = floor(counts + 0.5);
    if (r < 0)
        r = 0;
    if (r > (double)max)
        r = (double)max;
    return (uint32_t)r;
}
