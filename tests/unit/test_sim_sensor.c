/* test_sim_sensor.c - the simulated world of `carbon sim` (src/sim/sensor.c):
 * seeded determinism, scenario profiles reaching their intended levels, the
 * MQ-7 model read at the end of the low phase giving back the concentration
 * through the firmware's own conversion, garbage during the purge, faults
 * modelled physically (open: the bottom rail; short: Rs -> 0, Vc's count,
 * which the firmware reads as a short), and the real firmware core on the
 * model alarming for a fast leak, staying quiet for a steady room, showing a
 * fault for an open sensor and its critical alarm for a shorted one. */
#include "fw_device.h"
#include "mq7.h"
#include "sim/sensor.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MIN 60000LL

static void test_rng(void **state)
{
    struct sim_rng a, b, c;
    sim_rng_seed(&a, 42, 1);
    sim_rng_seed(&b, 42, 1);
    sim_rng_seed(&c, 42, 2);
    int same_c = 0;
    for (int i = 0; i < 100; i++) {
        uint64_t x = sim_rng_next(&a), z = sim_rng_next(&c);
        assert_true(x == sim_rng_next(&b));
        same_c += x == z;
    }
    assert_int_equal(same_c, 0);
    double sum = 0, sq = 0;
    for (int i = 0; i < 20000; i++) {
        double u = sim_rng_uniform(&a);
        assert_true(u >= 0 && u < 1);
        double g = sim_rng_gauss(&a);
        assert_true(isfinite(g));
        sum += g;
        sq += g * g;
    }
    assert_true(fabs(sum / 20000) < 0.05);
    assert_true(fabs(sqrt(sq / 20000) - 1) < 0.05);
}

static void test_names(void **state)
{
    for (int i = 0; i < SIM_NSCENARIOS; i++)
        assert_int_equal(sim_scenario_parse(sim_scenario_name((enum sim_scenario)i)), i);
    assert_int_equal(sim_scenario_parse("leak"), SIM_NSCENARIOS);
    assert_int_equal(sim_scenario_parse("mix"), SIM_NSCENARIOS);
    assert_string_equal(sim_scenario_name(SIM_FAST_LEAK), "fast-leak");
}

static void test_profiles(void **state)
{
    const int64_t dur = 120 * MIN;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct sim_rng r;
        struct sim_profile p;
        sim_rng_seed(&r, seed, 7);
        sim_profile_init(&p, SIM_STEADY, dur, &r);
        for (int64_t t = 0; t <= dur; t += MIN) {
            double c = sim_profile_ppm(&p, t);
            assert_true(c >= 0.1 && c < 5);
            assert_true(sim_profile_link_up(&p, t) && !sim_profile_fault(&p, t));
        }
        sim_profile_init(&p, SIM_SLOW_LEAK, dur, &r);
        assert_true(p.event_ms >= 5 * MIN && p.event_ms <= 6 * MIN);
        assert_true(sim_profile_ppm(&p, p.event_ms - 1) < 5);
        double c30 = sim_profile_ppm(&p, p.event_ms + 30 * MIN);
        assert_true(c30 > 20 && c30 < 45); /* ~1 ppm per minute */
        assert_true(sim_profile_ppm(&p, p.event_ms + 70 * MIN) >= 50);
        assert_true(sim_profile_ppm(&p, p.event_ms + 600 * MIN) <= 150);
        sim_profile_init(&p, SIM_FAST_LEAK, dur, &r);
        assert_true(sim_profile_ppm(&p, p.event_ms - 1) < 5);
        assert_true(sim_profile_ppm(&p, p.event_ms + 2 * MIN) > 150);
        assert_true(sim_profile_ppm(&p, p.event_ms + 10 * MIN) > 290);
        assert_true(sim_profile_ppm(&p, p.event_ms + 60 * MIN) < 510);
        sim_profile_init(&p, SIM_SENSOR_FAULT, dur, &r);
        assert_false(sim_profile_fault(&p, dur / 3 - 1));
        assert_true(sim_profile_fault(&p, dur / 3));
        assert_true(sim_profile_fault(&p, dur));
        sim_profile_init(&p, SIM_OFFLINE, dur, &r);
        assert_true(sim_profile_link_up(&p, dur / 6 - 1));
        assert_false(sim_profile_link_up(&p, dur / 6));
        assert_false(sim_profile_link_up(&p, dur / 2 - 1));
        assert_true(sim_profile_link_up(&p, dur / 2));
        assert_true(sim_profile_ppm(&p, dur / 3) < 5);
    }
    /* Short runs: the leak starts at a sixth of the run. */
    struct sim_rng r;
    struct sim_profile p;
    sim_rng_seed(&r, 3, 3);
    sim_profile_init(&p, SIM_FAST_LEAK, 12 * MIN, &r);
    assert_true(p.event_ms >= 2 * MIN && p.event_ms <= 3 * MIN);
}

static uint32_t median5f(struct sim_sensor *s, double ppm, int64_t t, bool fault, bool fault_high)
{
    uint32_t v[5];
    for (int i = 0; i < 5; i++) {
        uint32_t x = sim_sensor_adc(s, ppm, t, fault, fault_high), j = (uint32_t)i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    return v[2];
}

static uint32_t median5(struct sim_sensor *s, double ppm, int64_t t)
{
    return median5f(s, ppm, t, false, false);
}

static void test_sensor_reads_back(void **state)
{
    struct mq7_calibration nominal;
    mq7_calibration_default(&nominal);
    for (uint64_t seed = 1; seed <= 10; seed++) {
        struct sim_rng r;
        struct sim_sensor s;
        sim_rng_seed(&r, seed, 1);
        sim_sensor_init(&s, &nominal, &r);
        assert_true(s.wiring.r0_ohm >= 2000 && s.wiring.r0_ohm <= 20000);
        assert_null(mq7_calibration_check(&s.wiring));
        static const double levels[] = {2, 10, 35, 50, 100, 400};
        int64_t t = 0;
        for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
            double ppm, truth = levels[i];
            sim_sensor_heater(&s, SIM_HEATER_HIGH, t);
            /* During the purge the hot element reads as lots of CO. */
            assert_int_equal(mq7_raw_to_ppm(&s.wiring, median5(&s, truth, t + 30000), &ppm),
                             MQ7_OK);
            assert_true(ppm > 300);
            sim_sensor_heater(&s, SIM_HEATER_LOW, t + 60000);
            /* Early in the low phase: still far off. */
            assert_int_equal(mq7_raw_to_ppm(&s.wiring, median5(&s, truth, t + 65000), &ppm),
                             MQ7_OK);
            assert_true(truth > 100 || ppm > 1.5 * truth);
            /* At the firmware's sample point, 0.5 s before the end: the truth,
             * within noise and quantisation. */
            assert_int_equal(mq7_raw_to_ppm(&s.wiring, median5(&s, truth, t + 149500), &ppm),
                             MQ7_OK);
            assert_true(fabs(ppm - truth) <= 0.12 * truth + 0.5);
            t += 150000;
        }
        /* Faults, physically. Open (Rs -> infinity): Vout = 0, exactly the
         * bottom rail. Short (Rs -> 0): Vout = Vc, i.e. Vc's count (3752.2)
         * with ADC noise, never the top rail this wiring cannot reach; the
         * firmware's conversion calls it a short, not a number. */
        double ppm;
        assert_int_equal(sim_sensor_adc(&s, 10, t, true, false), 0);
        assert_int_equal(mq7_raw_to_ppm(&s.wiring, 0, &ppm), MQ7_E_RAIL_LOW);
        double vc_counts = s.wiring.vc_v / s.wiring.divider / s.wiring.vref_v * 4095;
        for (int i = 0; i < 50; i++) {
            uint32_t raw = median5f(&s, 10, t, true, true);
            assert_true(fabs((double)raw - vc_counts) < 8);
            assert_int_equal(mq7_raw_to_ppm(&s.wiring, raw, &ppm), MQ7_E_SHORT);
        }
        /* A cold sensor has 4 times its clean-air Rs whatever the CO: it
         * reads cleaner than clean air. */
        sim_sensor_heater(&s, SIM_HEATER_OFF, t);
        assert_int_equal(mq7_raw_to_ppm(&s.wiring, median5(&s, 100, t), &ppm), MQ7_OK);
        assert_true(ppm < 1);
    }
}

static void test_sensor_deterministic(void **state)
{
    struct mq7_calibration nominal;
    mq7_calibration_default(&nominal);
    struct sim_sensor a, b;
    struct sim_rng ra, rb;
    sim_rng_seed(&ra, 9, 4);
    sim_rng_seed(&rb, 9, 4);
    sim_sensor_init(&a, &nominal, &ra);
    sim_sensor_init(&b, &nominal, &rb);
    assert_true(a.wiring.r0_ohm == b.wiring.r0_ohm && a.drift_per_day == b.drift_per_day);
    sim_sensor_heater(&a, SIM_HEATER_LOW, 0);
    sim_sensor_heater(&b, SIM_HEATER_LOW, 0);
    int spikes = 0;
    uint32_t expect;
    assert_int_equal(mq7_ppm_to_raw(&a.wiring, 20, &expect), MQ7_OK);
    for (int i = 0; i < 5000; i++) {
        uint32_t x = sim_sensor_adc(&a, 20, 89500, false, false);
        assert_int_equal(x, sim_sensor_adc(&b, 20, 89500, false, false));
        /* A fault draws the same numbers: the streams stay in step. */
        if (i % 7 == 0) {
            sim_sensor_adc(&a, 20, 89500, true, false);
            sim_sensor_adc(&b, 20, 89500, true, true);
        }
        if (abs((int)x - (int)expect) > 100)
            spikes++;
    }
    /* ~1 % of single reads are spikes; the median of 5 removes them. */
    assert_true(spikes > 10 && spikes < 150);
}

/* ---- the real core on the model ---- */

struct rig {
    struct sim_sensor s;
    struct sim_profile p;
    int64_t t;
    enum fw_output max;
};

static void rig_heater(void *ctx, enum fw_heater_level l)
{
    struct rig *g = ctx;
    sim_sensor_fw_heater(&g->s, l, g->t);
}

static bool rig_adc(void *ctx, uint32_t *raw)
{
    struct rig *g = ctx;
    *raw = sim_sensor_adc(&g->s, sim_profile_ppm(&g->p, g->t), g->t, sim_profile_fault(&g->p, g->t),
                          g->p.fault_high);
    return true;
}

static void rig_out(void *ctx, enum fw_output l)
{
    struct rig *g = ctx;
    if (l > g->max)
        g->max = l;
}

static enum fw_output run_core(enum sim_scenario sc, uint64_t seed, double *last_ppm,
                               bool *fault_high)
{
    struct rig g = {0};
    struct sim_rng r;
    struct mq7_calibration nominal;
    mq7_calibration_default(&nominal);
    sim_rng_seed(&r, seed, 1);
    sim_profile_init(&g.p, sc, 60 * MIN, &r);
    sim_sensor_init(&g.s, &nominal, &r);
    struct fw_config cfg;
    fw_config_default(&cfg);
    strcpy(cfg.device_id, "sim-1");
    strcpy(cfg.api_key, "k");
    cfg.mq7 = g.s.wiring;
    cfg.warmup_first_ms = 0;
    cfg.warmup_ms = 0;
    struct fw_port port = {
        .ctx = &g, .set_heater = rig_heater, .read_adc = rig_adc, .set_alarm_output = rig_out};
    struct fw_device *d = calloc(1, sizeof *d);
    assert_non_null(d);
    assert_null(fw_device_init(d, &cfg, &port, 1000));
    for (g.t = 1000; g.t <= 60 * MIN; g.t += 1000)
        fw_step(d, g.t);
    assert_int_equal(fw_get_stats(d)->samples, 23); /* one per 150 s */
    const struct fw_reading *rd = fw_last_reading(d);
    assert_non_null(rd);
    *last_ppm = rd->ppm;
    *fault_high = g.p.fault_high;
    if (sc == SIM_SENSOR_FAULT)
        assert_int_equal(rd->status, g.p.fault_high ? MQ7_E_SHORT : MQ7_E_RAIL_LOW);
    free(d);
    return g.max;
}

static void test_core_on_model(void **state)
{
    int shorts = 0;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        double ppm;
        bool high;
        assert_int_equal(run_core(SIM_STEADY, seed, &ppm, &high), FW_OUT_OFF);
        assert_true(ppm < 5);
        assert_int_equal(run_core(SIM_FAST_LEAK, seed, &ppm, &high), FW_OUT_CRITICAL);
        assert_true(ppm > 250);
        /* Open: a fault. Short: critical (it cannot be told from lethal CO). */
        enum fw_output out = run_core(SIM_SENSOR_FAULT, seed, &ppm, &high);
        assert_int_equal(out, high ? FW_OUT_CRITICAL : FW_OUT_FAULT);
        shorts += high;
        assert_int_equal(run_core(SIM_OFFLINE, seed, &ppm, &high), FW_OUT_OFF);
    }
    assert_true(shorts >= 1 && shorts <= 4); /* both kinds were run */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_sensor_reads_back),
        cmocka_unit_test(test_sensor_deterministic),
        cmocka_unit_test(test_core_on_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
