/* sensor.h - the simulated world of `carbon sim`: a CO concentration over
 * time per scenario, a network link that may go down, and a physical model
 * of one MQ-7 on its circuit, read through the ADC.
 *
 * The model, per read at simulated time t (ms since the start of the run):
 *  - concentration: the scenario's profile (sim_profile_ppm);
 *  - equilibrium resistance at the measuring temperature (heater low):
 *    Rs_eq = R0 * (ppm / a)^(1/b) * (1 + drift * days): the datasheet curve
 *    of mq7.h inverted, with this unit's own R0 (a manufacturing spread
 *    around the nominal, within the datasheet's 2-20 kOhm) and a slow drift;
 *  - heater timing: during the 5 V purge (heater high) the hot element reads
 *    low, Rs = purge_ratio * R0, i.e. a "high CO" garbage value; in the low
 *    phase Rs relaxes from its value at the switch towards Rs_eq with time
 *    constant tau (15 s), so only the end of the 90 s low phase, where the
 *    firmware samples, reads the concentration (within 0.3 %). A cold
 *    sensor (heater off) has 4 times its clean-air resistance whatever the
 *    CO: it reads as cleaner than clean air (under 0.1 ppm), blind to CO;
 *  - noise: Gaussian, relative on Rs (2 %), plus Gaussian ADC noise (1.5
 *    counts) and a rare spike of +-200 counts (1 %, like Wi-Fi transmit
 *    noise on an ESP32 ADC: the firmware's median of 5 removes it);
 *  - circuit: Vout = Vc * RL / (Rs + RL), Vpin = Vout / divider, counts =
 *    Vpin / vref * (2^bits - 1), rounded and clamped: mq7_ppm_to_raw's
 *    chain with noise;
 *  - faults (scenario sensor-fault), modelled physically from the fault
 *    time on: open circuit (a broken wire, Rs -> infinity) gives Vout = 0
 *    and the ADC reads exactly 0, its bottom rail (the ESP32's ADC reads 0
 *    below ~100 mV, so no noise shows there); a shorted sensor (Rs -> 0)
 *    gives Vout = Vc, i.e. Vc's count (3752 with the default wiring) with
 *    the usual ADC noise and spikes, NOT the top rail: the divider maps Vc
 *    below full scale, so this wiring cannot produce 4095. The firmware
 *    reads the first as MQ7_E_RAIL_LOW and the second as MQ7_E_SHORT (Rs/R0
 *    below the short floor).
 * The time constants and noise levels are plausible round numbers chosen
 * for the simulation, not datasheet values (the datasheet gives none).
 *
 * Deterministic: every random number comes from a seeded generator, one
 * stream per device and purpose. Pure C, no I/O: unit-tested on its own. */
#ifndef CARBON_SIM_SENSOR_H
#define CARBON_SIM_SENSOR_H
#include "fw_device.h"
#include "mq7.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- random numbers (splitmix64) ---- */

struct sim_rng {
    uint64_t s;
};

/* A stream from (seed, stream): different streams are independent. */
void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(struct sim_rng *r);
double sim_rng_uniform(struct sim_rng *r); /* [0, 1) */
double sim_rng_gauss(struct sim_rng *r);   /* mean 0, sigma 1 */

/* ---- scenarios ---- */

enum sim_scenario {
    SIM_STEADY,       /* clean background (0.5-3 ppm) with a slow wobble */
    SIM_SLOW_LEAK,    /* from the event on, +0.8-1.2 ppm per minute, up to 150 ppm */
    SIM_FAST_LEAK,    /* from the event on, towards 300-500 ppm with a 2 min time constant */
    SIM_SENSOR_FAULT, /* clean air, then the ADC stuck at a rail from the event on */
    SIM_OFFLINE,      /* clean air; the link is down from the event to event_end */
    SIM_NSCENARIOS
};

const char *sim_scenario_name(enum sim_scenario s);
/* SIM_NSCENARIOS when name is none of "steady", "slow-leak", "fast-leak",
 * "sensor-fault", "offline". */
enum sim_scenario sim_scenario_parse(const char *name);

struct sim_profile {
    enum sim_scenario scenario;
    double baseline_ppm;
    double wobble_ppm; /* amplitude of the slow variation */
    int64_t wobble_period_ms;
    double wobble_phase;
    int64_t event_ms;     /* leak start, fault start, or link down */
    int64_t event_end_ms; /* link back (offline) */
    double peak_ppm;      /* fast leak plateau / slow leak cap */
    double rate;          /* slow leak: ppm per minute; fast leak: time constant ms */
    bool fault_high;      /* sensor fault is a short (Rs -> 0, Vc's count) instead of an open
                           * circuit (Rs -> infinity, count 0) */
};

/* Draws a device's profile for a run of duration_ms (> 0) of simulated
 * time. Events scale with it: leaks start at min(5 min, duration / 6) plus
 * up to a minute, a fault at duration / 3, the link is down from duration /
 * 6 to duration / 2. */
void sim_profile_init(struct sim_profile *p, enum sim_scenario s, int64_t duration_ms,
                      struct sim_rng *rng);
/* The true concentration at t (>= 0.1 ppm: never exactly clean). */
double sim_profile_ppm(const struct sim_profile *p, int64_t t_ms);
bool sim_profile_link_up(const struct sim_profile *p, int64_t t_ms);
bool sim_profile_fault(const struct sim_profile *p, int64_t t_ms);

/* ---- the sensor ---- */

enum sim_heater { SIM_HEATER_OFF, SIM_HEATER_HIGH, SIM_HEATER_LOW };

struct sim_sensor {
    struct mq7_calibration wiring; /* the circuit, with this unit's true R0 */
    double drift_per_day;          /* relative change of Rs per day */
    double noise_rel;              /* sigma of the relative Rs noise */
    double adc_noise;              /* sigma of the ADC noise, counts */
    double spike_prob;             /* chance of a +-spike_counts spike per read */
    double spike_counts;
    double tau_ms;      /* relaxation in the low phase */
    double purge_ratio; /* Rs / R0 while the heater is high */
    enum sim_heater heater;
    int64_t heater_since_ms;
    struct sim_rng rng;
};

/* One unit: nominal is the circuit (and nominal R0); its R0 is drawn
 * around the nominal (log-normal, sigma 0.25, kept within 2-20 kOhm), its
 * drift per day from N(0, 1 %). */
void sim_sensor_init(struct sim_sensor *s, const struct mq7_calibration *nominal,
                     struct sim_rng *rng);
/* The heater switched to level at t. The element's temperature follows the
 * heater quickly: the purge value is reached at once, and each low phase
 * relaxes from it. */
void sim_sensor_heater(struct sim_sensor *s, enum sim_heater level, int64_t t_ms);
/* sim_sensor_heater for the firmware core's heater command (a port's
 * set_heater): FW_HEATER_HIGH, FW_HEATER_LOW, anything else off. */
void sim_sensor_fw_heater(struct sim_sensor *s, enum fw_heater_level level, int64_t t_ms);
/* Rs at t in a concentration of ppm, without noise. */
double sim_sensor_rs(const struct sim_sensor *s, double ppm, int64_t t_ms);
/* One ADC conversion at t: noise, spikes, and the fault when fault is set
 * (fault_high: a short, Rs = 0, so Vc's count with noise; else an open
 * circuit, exactly 0). */
uint32_t sim_sensor_adc(struct sim_sensor *s, double ppm, int64_t t_ms, bool fault,
                        bool fault_high);

#endif
