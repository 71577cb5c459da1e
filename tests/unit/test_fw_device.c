/* test_fw_device.c - the whole firmware core (firmware/core/fw_device.c) on a
 * fake port with simulated time: warm-up (its own output level, danger still
 * acted on, the 48 h preheat resumed after a reboot), clean-air calibration,
 * its persistence and its refusals (dirty or unsteady air), readings with
 * the peak, the local alarm with no network under a fast leak, a shorted
 * sensor (critical, not mutable), a measured supply voltage, the offline
 * buffer across an hour without link (everything delivered exactly once,
 * oldest first), batch caps, refused readings, backoff and Retry-After, the
 * heater budget around uploads, asynchronous uploads, a late wall clock, and
 * many devices in one process. */
#include "fw_device.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define CYCLE (150 * SEC)
#define WALL0 1795622400000LL /* 2026-11-25T16:00:00Z at step time 0 */
#define MAXRX 4096

/* The world around one device: a sensor with its own true R0, a clock, a
 * server that can be down, and a log of everything the device did. */
struct fake {
    struct fw_device *dev;
    int64_t now;
    double (*ppm_at)(struct fake *f, int64_t t);
    double ppm; /* for ppm_const */
    struct mq7_calibration sensor;
    int adc_mode; /* 0 normal, 1 fails, 2 pinned low, 3 shorted (Vc's count) */
    int adc_reads;
    enum fw_heater_level heater;
    int heater_sets;
    enum fw_output out;
    int out_sets;
    int64_t first_critical, first_warning;
    bool have_wall;
    bool link_up;
    int status_up; /* answer when up (201) */
    uint32_t retry_after;
    int64_t poison_ts; /* a batch holding this ts gets 422 */
    int posts, fails;
    int64_t post_at[1024];
    uint32_t max_batch;
    int64_t rx_ts[MAXRX];
    double rx_ppm[MAXRX];
    int nrx;
    struct fw_persist nvs;
    bool nvs_has;
    int saves;
    uint32_t rng;
    bool budget_ok;
    int logs;
    double supply_v; /* what read_supply_v answers */
    bool async;      /* http_post answers FW_HTTP_PENDING */
    const char *held_body;
    const struct fw_http_header *held_h;
    size_t held_len;
    char held_copy[FW_BODY_CAP];
    int warmup_outs; /* set_alarm_output(FW_OUT_WARMUP) calls */
};

static double ppm_const(struct fake *f, int64_t t)
{
    return f->ppm;
}

static void set_heater(void *ctx, enum fw_heater_level level)
{
    struct fake *f = ctx;
    f->heater = level;
    f->heater_sets++;
}

static bool read_adc(void *ctx, uint32_t *raw)
{
    struct fake *f = ctx;
    f->adc_reads++;
    if (f->adc_mode == 1)
        return false;
    if (f->adc_mode == 2) {
        *raw = 0;
        return true;
    }
    if (f->adc_mode == 3) {
        /* Rs -> 0: Vout = Vc, 3752.2 counts; a count of noise either way. */
        double vc = f->sensor.vc_v / f->sensor.divider / f->sensor.vref_v * 4095;
        *raw = (uint32_t)llround(vc) - (uint32_t)(f->adc_reads % 3);
        return true;
    }
    double ppm = f->ppm_at(f, f->now);
    mq7_ppm_to_raw(&f->sensor, ppm > 0.05 ? ppm : 0.05, raw);
    return true;
}

static void set_output(void *ctx, enum fw_output level)
{
    struct fake *f = ctx;
    f->out = level;
    f->out_sets++;
    if (level == FW_OUT_WARMUP)
        f->warmup_outs++;
    if (level == FW_OUT_CRITICAL && f->first_critical < 0)
        f->first_critical = f->now;
    if (level >= FW_OUT_WARNING && f->first_warning < 0)
        f->first_warning = f->now;
}

static bool wall_ms(void *ctx, int64_t *ms)
{
    struct fake *f = ctx;
    if (!f->have_wall)
        return false;
    *ms = WALL0 + f->now;
    return true;
}

static unsigned read_env(void *ctx, double *t, double *h)
{
    *t = 21.5;
    *h = 40;
    return FW_RD_TEMP | FW_RD_HUM;
}

static bool nvs_load(void *ctx, struct fw_persist *p)
{
    struct fake *f = ctx;
    if (f->nvs_has)
        *p = f->nvs;
    return f->nvs_has;
}

static bool nvs_save(void *ctx, const struct fw_persist *p)
{
    struct fake *f = ctx;
    f->nvs = *p;
    f->nvs_has = true;
    f->saves++;
    return true;
}

static uint32_t rnd(void *ctx)
{
    struct fake *f = ctx;
    f->rng = f->rng * 1103515245u + 12345u;
    return f->rng >> 8;
}

/* Reads the readings of a body: each "ts" and "co_ppm". */
static int parse_body(const char *body, int64_t *ts, double *ppm, int max)
{
    int n = 0;
    for (const char *p = body; (p = strstr(p, "\"ts\":")) != NULL && n < max; n++) {
        p += 5;
        char *end;
        double sec = strtod(p, &end);
        ts[n] = llround(sec * 1000);
        const char *q = strstr(end, "\"co_ppm\":");
        const char *next = strstr(end, "\"ts\":");
        ppm[n] = q && (!next || q < next) ? strtod(q + 9, NULL) : -1;
    }
    return n;
}

static double read_supply(void *ctx)
{
    struct fake *f = ctx;
    return f->supply_v;
}

/* The server's side of one POST: its status. */
static int serve(struct fake *f, const char *body, size_t len, uint32_t *retry_after_s);

static int http_post(void *ctx, const char *path, const struct fw_http_header *h, size_t nh,
                     const char *body, size_t len, uint32_t *retry_after_s)
{
    struct fake *f = ctx;
    assert_string_equal(path, "/v1/readings");
    assert_int_equal(nh, 2);
    assert_string_equal(h[0].name, "Authorization");
    assert_string_equal(h[0].value, "Bearer cbk_test-key");
    assert_string_equal(h[1].name, "Content-Type");
    assert_string_equal(h[1].value, "application/json");
    assert_int_equal(strlen(body), len);
    assert_true(body[0] == '[' && body[len - 1] == ']');
    /* Never a POST that could hold up the heater's next switch or sample. */
    if (fw_heater_until_next(&f->dev->heater, f->now) < f->dev->cfg.http_budget_ms)
        f->budget_ok = false;
    if (f->posts < 1024)
        f->post_at[f->posts] = f->now;
    f->posts++;
    if (f->async) {
        /* Another task would do it: only one at a time, and the body must
         * stay put until the answer. */
        assert_null(f->held_body);
        f->held_body = body;
        f->held_h = h;
        f->held_len = len;
        memcpy(f->held_copy, body, len);
        return FW_HTTP_PENDING;
    }
    return serve(f, body, len, retry_after_s);
}

/* The held asynchronous POST gets its answer. */
static void answer(struct fake *f)
{
    assert_non_null(f->held_body);
    assert_memory_equal(f->held_body, f->held_copy, f->held_len);
    assert_string_equal(f->held_h[0].value, "Bearer cbk_test-key");
    assert_string_equal(f->held_h[1].value, "application/json");
    uint32_t ra = 0;
    int status = serve(f, f->held_body, f->held_len, &ra);
    f->held_body = NULL;
    assert_true(fw_http_result(f->dev, f->now, status, ra));
}

static int serve(struct fake *f, const char *body, size_t len, uint32_t *retry_after_s)
{
    if (!f->link_up) {
        f->fails++;
        return -1;
    }
    int64_t ts[1000];
    double ppm[1000];
    int n = parse_body(body, ts, ppm, 1000);
    assert_true(n >= 1);
    if ((uint32_t)n > f->max_batch)
        f->max_batch = (uint32_t)n;
    if (f->status_up != 201) {
        *retry_after_s = f->retry_after;
        return f->status_up;
    }
    for (int i = 0; i < n; i++)
        if (ts[i] == f->poison_ts)
            return 422;
    for (int i = 0; i < n && f->nrx < MAXRX; i++) {
        f->rx_ts[f->nrx] = ts[i];
        f->rx_ppm[f->nrx++] = ppm[i];
    }
    return 201;
}

static void log_line(void *ctx, enum fw_log_level level, const char *msg, const char *detail,
                     int64_t value)
{
    struct fake *f = ctx;
    assert_non_null(msg);
    assert_true(level >= FW_LOG_DEBUG && level <= FW_LOG_ERROR);
    f->logs++;
}

static struct fw_port port_of(struct fake *f)
{
    return (struct fw_port){.ctx = f,
                            .set_heater = set_heater,
                            .read_adc = read_adc,
                            .set_alarm_output = set_output,
                            .wall_ms = wall_ms,
                            .read_env = read_env,
                            .nvs_load = nvs_load,
                            .nvs_save = nvs_save,
                            .http_post = http_post,
                            .random = rnd,
                            .log = log_line};
}

static void fake_init(struct fake *f, struct fw_device *dev)
{
    memset(f, 0, sizeof *f);
    f->dev = dev;
    f->ppm_at = ppm_const;
    f->ppm = 0.5;
    mq7_calibration_default(&f->sensor);
    f->have_wall = true;
    f->link_up = true;
    f->status_up = 201;
    f->first_critical = f->first_warning = -1;
    f->rng = 42;
    f->budget_ok = true;
}

static void config(struct fw_config *c)
{
    fw_config_default(c);
    strcpy(c->device_id, "kitchen-1");
    strcpy(c->api_key, "cbk_test-key");
    c->warmup_first_ms = 10 * MIN; /* most tests: a short first preheat */
}

static void start(struct fake *f, struct fw_device *dev, const struct fw_config *c)
{
    struct fw_port p = port_of(f);
    assert_null(fw_device_init(dev, c, &p, f->now));
}

static void run_until(struct fake *f, int64_t t1, int64_t step)
{
    for (; f->now <= t1; f->now += step)
        fw_step(f->dev, f->now);
    f->now -= step;
}

static struct fw_device *new_dev(void)
{
    struct fw_device *d = calloc(1, sizeof *d);
    assert_non_null(d);
    return d;
}

/* config() without the first-use preheat: the device protects after the
 * ordinary warm-up. */
static void warm_config(struct fw_config *c)
{
    config(c);
    c->warmup_first_ms = 0;
}

/* A fresh fake world around d (a new device when d is NULL), the device
 * started in it at time 0 with c; the fake's settings can be changed
 * afterwards (the start only loads the NVS and sets the output). */
static struct fw_device *start_fresh(struct fake *f, struct fw_device *d, const struct fw_config *c)
{
    if (!d)
        d = new_dev();
    fake_init(f, d);
    start(f, d, c);
    return d;
}

/* start_fresh with warm_config()'s configuration, left in *c. */
static struct fw_device *start_warm(struct fake *f, struct fw_device *d, struct fw_config *c)
{
    warm_config(c);
    return start_fresh(f, d, c);
}

/* Every received ts is distinct, in increasing order. */
static void assert_rx_once_in_order(const struct fake *f)
{
    for (int i = 1; i < f->nrx; i++)
        assert_true(f->rx_ts[i] > f->rx_ts[i - 1]);
}

static void test_config(void **state)
{
    struct fw_config c;
    config(&c);
    assert_null(fw_config_check(&c));
    struct fw_config b = c;
    b.batch_max = FW_BATCH_MAX + 1;
    assert_non_null(strstr(fw_config_check(&b), "1000"));
    b = c;
    b.batch_max = 0;
    assert_non_null(fw_config_check(&b));
    b = c;
    strcpy(b.device_id, "bad id");
    assert_non_null(strstr(fw_config_check(&b), "device_id"));
    b = c;
    strcpy(b.api_key, "key\r\nX-Evil: 1");
    assert_non_null(strstr(fw_config_check(&b), "api_key"));
    b = c;
    b.adc_burst = 4;
    assert_non_null(fw_config_check(&b));
    b = c;
    b.mq7.r0_ohm = -1;
    assert_non_null(strstr(fw_config_check(&b), "r0_ohm"));
    b = c;
    b.alarm.warn_ppm = 60;
    assert_non_null(fw_config_check(&b));
    b = c;
    b.ring_cap = FW_RING_CAP + 1;
    assert_non_null(fw_config_check(&b));

    struct fake f;
    struct fw_device *d = new_dev();
    fake_init(&f, d);
    struct fw_port p = port_of(&f);
    p.read_adc = NULL;
    assert_non_null(fw_device_init(d, &c, &p, 0));
    b = c;
    b.batch_max = 0;
    p = port_of(&f);
    assert_non_null(fw_device_init(d, &b, &p, 0));
    free(d);
}

static void test_warmup_and_preheat(void **state)
{
    struct fake f;
    struct fw_config c;
    config(&c);
    c.warmup_first_ms = 48 * HOUR; /* the datasheet's preheat */
    struct fw_device *d = start_fresh(&f, NULL, &c);
    f.ppm = 200; /* a leak during preheat: readings are not trusted, but this is dangerous */
    assert_true(fw_warming_up(d, 0));
    assert_int_equal(f.out, FW_OUT_WARMUP); /* "not yet protecting" from the start */
    run_until(&f, 48 * HOUR - SEC, SEC);
    const struct fw_reading *r = fw_last_reading(d);
    assert_non_null(r);
    assert_true(r->flags & FW_RD_WARMUP);
    assert_true(r->flags & FW_RD_UNCAL);
    /* At or above warmup_alarm_ppm (150) the device sounds its critical
     * alarm locally from the first sample on (it used to stay silent for
     * 48 h), though the alarm engine and the server still ignore warm-up
     * readings. */
    assert_int_equal(f.out, FW_OUT_CRITICAL);
    assert_true(f.first_critical >= 0 && f.first_critical <= CYCLE);
    assert_false(d->alarm.kind[ALARM_CO_HIGH].active);
    assert_int_equal(fw_mute(d, f.now, 5 * MIN), ALARM_MUTE_TOO_HIGH); /* 200 >= 150 */
    assert_int_equal(fw_pending(d), 0); /* warm-up readings are not sent */
    assert_int_equal(f.posts, 0);
    assert_int_equal(fw_get_stats(d)->readings, 48 * 24 - 1); /* the 1152nd is at 48 h */
    /* The progress is saved every hour, not only at the end. */
    assert_true(f.nvs_has);
    assert_false(f.nvs.flags & FW_PERSIST_PREHEATED);
    assert_int_equal(f.nvs.preheat_min, 47 * 60);
    assert_int_equal(f.saves, 47);
    /* 48 h: warm, the preheat is remembered, readings count. */
    run_until(&f, 48 * HOUR + 10 * MIN, SEC);
    assert_false(fw_warming_up(d, f.now));
    assert_true(f.nvs.flags & FW_PERSIST_PREHEATED);
    r = fw_last_reading(d);
    assert_false(r->flags & FW_RD_WARMUP);
    assert_true(fabs(r->ppm - 200) < 8);
    assert_int_equal(f.out, FW_OUT_CRITICAL); /* now the engine's own co_high */
    assert_true(d->alarm.kind[ALARM_CO_HIGH].active);
    assert_true(f.nrx >= 3);

    /* Reboot: only the short warm-up (two cycles), shown as warm-up. */
    f.now = 0;
    f.ppm = 0.5;
    f.warmup_outs = 0;
    start(&f, d, &c);
    assert_int_equal(f.out, FW_OUT_WARMUP);
    assert_true(fw_warming_up(d, 5 * MIN - 1));
    assert_false(fw_warming_up(d, 5 * MIN));
    run_until(&f, 5 * MIN + 10 * SEC, SEC);
    assert_int_equal(f.out, FW_OUT_OFF); /* protecting: nothing to report */
    assert_int_equal(f.warmup_outs, 1);
    /* With send_warmup the flagged readings go out too. */
    c.send_warmup = true;
    f.nvs_has = false;
    f.now = 0;
    start(&f, d, &c);
    run_until(&f, 3 * MIN, SEC);
    assert_int_equal(fw_get_stats(d)->queued, 1);
    free(d);
}

/* A reboot at hour 47 of the first-use preheat resumes it: one hour (and at
 * least the ordinary warm-up) to go, not 48 again. */
static void test_preheat_resumes(void **state)
{
    struct fake f;
    struct fw_config c;
    config(&c);
    c.warmup_first_ms = 48 * HOUR;
    struct fw_device *d = start_fresh(&f, NULL, &c);
    run_until(&f, 47 * HOUR + 30 * MIN, 5 * SEC);
    assert_true(fw_warming_up(d, f.now));
    assert_int_equal(f.nvs.preheat_min, 47 * 60);
    assert_true(fw_preheat_done_ms(d, f.now) == 47 * HOUR + 30 * MIN);
    /* Power cut: the last half hour since the save is lost, no more. */
    f.now = 0;
    start(&f, d, &c);
    assert_int_equal(f.out, FW_OUT_WARMUP);
    assert_true(fw_warming_up(d, HOUR - 1));
    assert_false(fw_warming_up(d, HOUR));
    assert_true(fw_preheat_done_ms(d, 0) == 47 * HOUR);
    run_until(&f, HOUR + MIN, 5 * SEC);
    assert_true(f.nvs.flags & FW_PERSIST_PREHEATED);
    assert_int_equal(f.nvs.preheat_min, 48 * 60);
    assert_int_equal(f.out, FW_OUT_OFF);
    /* Preheat all but done: the sensor is cold again, so the ordinary
     * warm-up still applies. */
    f.nvs.flags &= ~FW_PERSIST_PREHEATED;
    f.nvs.preheat_min = 48 * 60 - 1;
    f.now = 0;
    start(&f, d, &c);
    assert_true(fw_warming_up(d, 5 * MIN - 1));
    assert_false(fw_warming_up(d, 5 * MIN));
    /* A record from before the counter (its padding was 0): from scratch. */
    f.nvs.preheat_min = 0;
    start(&f, d, &c);
    assert_true(fw_warming_up(d, 48 * HOUR - 1));
    free(d);
}

static double warmup_leak(struct fake *f, int64_t t)
{
    /* 3 ppm, 160 ppm from 10 to 20 min, 147 (within the hysteresis) to
     * 25 min, then 100. */
    return t < 10 * MIN ? 3 : t < 20 * MIN ? 160 : t < 25 * MIN ? 147 : 100;
}

/* During warm-up: its own output, danger still acted on with hysteresis, a
 * configurable threshold, faults shown. */
static void test_warmup_output(void **state)
{
    struct fake f;
    struct fw_config c;
    config(&c);
    c.warmup_first_ms = 2 * HOUR;
    struct fw_device *d = start_fresh(&f, NULL, &c);
    f.ppm_at = warmup_leak;
    run_until(&f, 9 * MIN, SEC);
    assert_int_equal(f.out, FW_OUT_WARMUP);
    run_until(&f, 13 * MIN, SEC); /* the sample at 12:29.5 sees 160 */
    assert_int_equal(f.out, FW_OUT_CRITICAL);
    run_until(&f, 24 * MIN, SEC);
    assert_int_equal(f.out, FW_OUT_CRITICAL); /* 147: held (150 - 5) */
    run_until(&f, 28 * MIN, SEC);
    assert_int_equal(f.out, FW_OUT_WARMUP); /* 100: below, and warm-up ignores it */
    assert_int_equal(f.nrx, 0);
    /* A lower threshold: 100 ppm is critical too; below mute_max_ppm it can
     * be muted, for at most mute_max_ms. */
    c.warmup_alarm_ppm = 80;
    f.now = 0;
    f.first_critical = -1;
    start(&f, d, &c);
    run_until(&f, 28 * MIN, SEC);
    assert_int_equal(f.out, FW_OUT_CRITICAL);
    assert_int_equal(fw_mute(d, f.now, HOUR), ALARM_MUTE_OK);
    assert_int_equal(f.out, FW_OUT_WARMUP);
    run_until(&f, f.now + c.alarm.mute_max_ms + 2 * CYCLE, SEC);
    assert_int_equal(f.out, FW_OUT_CRITICAL);
    /* A fault during warm-up shows as a fault (the engine ignores warm-up). */
    config(&c);
    c.warmup_first_ms = 2 * HOUR;
    start_fresh(&f, d, &c);
    f.adc_mode = 2;
    run_until(&f, 3 * CYCLE, SEC);
    assert_int_equal(f.out, FW_OUT_FAULT);
    f.adc_mode = 0;
    run_until(&f, f.now + CYCLE, SEC);
    assert_int_equal(f.out, FW_OUT_WARMUP);
    assert_string_equal(fw_output_name(FW_OUT_WARMUP), "warmup");
    free(d);
}

/* A shorted sensor (Rs -> 0, Vout at Vc) is a fault reading with no ppm,
 * and the local output is critical (it may be lethal CO), not mutable. */
static void test_short_is_critical(void **state)
{
    struct fake f;
    struct fw_config c;
    warm_config(&c);
    c.payload = FW_PAYLOAD_PPM;
    struct fw_device *d = start_fresh(&f, NULL, &c);
    run_until(&f, 2 * CYCLE, SEC);
    assert_int_equal(f.out, FW_OUT_OFF);
    f.adc_mode = 3;
    run_until(&f, 3 * CYCLE, SEC);
    const struct fw_reading *r = fw_last_reading(d);
    assert_int_equal(r->status, MQ7_E_SHORT);
    assert_true(r->flags & FW_RD_FAULT);
    assert_false(fw_reading_has_ppm(r));
    assert_int_equal(f.out, FW_OUT_CRITICAL);
    assert_true(d->alarm.kind[ALARM_SENSOR_FAULT].active); /* the engine: a fault */
    assert_int_equal(fw_mute(d, f.now, 5 * MIN), ALARM_MUTE_TOO_HIGH);
    assert_int_equal(f.out, FW_OUT_CRITICAL);
    assert_true(f.nrx >= 3 && f.rx_ppm[f.nrx - 1] < 0); /* sent as co_raw, no ppm */
    /* Repaired: the short's alarm goes; the engine's fault clears later. */
    f.adc_mode = 0;
    run_until(&f, 4 * CYCLE, SEC);
    assert_int_equal(f.out, FW_OUT_FAULT);
    run_until(&f, 10 * CYCLE, SEC);
    assert_int_equal(f.out, FW_OUT_OFF);
    /* During warm-up as well. */
    config(&c);
    c.warmup_first_ms = HOUR;
    start_fresh(&f, d, &c);
    f.adc_mode = 3;
    run_until(&f, CYCLE, SEC);
    assert_int_equal(f.out, FW_OUT_CRITICAL);
    free(d);
}

/* Vc measured per sample: on a rail 3 % low (4.85 V) a true 50 ppm reads 50
 * and alarms; with the fixed 5.0 V it read 41.7 and did not. */
static void test_measured_supply(void **state)
{
    struct fake f;
    struct fw_device *d = new_dev();
    struct fw_config c;
    warm_config(&c);
    for (int measured = 0; measured <= 1; measured++) {
        fake_init(&f, d);
        f.ppm = 50;
        f.sensor.vc_v = 4.85;
        f.supply_v = 4.85;
        struct fw_port p = port_of(&f);
        if (measured)
            p.read_supply_v = read_supply;
        assert_null(fw_device_init(d, &c, &p, 0));
        run_until(&f, 4 * CYCLE, SEC);
        const struct fw_reading *r = fw_last_reading(d);
        if (measured) {
            assert_true(fabs(r->ppm - 50) < 1);
            assert_true(r->flags & FW_RD_VC_MEAS);
            assert_int_equal(f.out, FW_OUT_CRITICAL);
            assert_true(fw_get_stats(d)->supply_v == 4.85);
            /* A clean-air calibration on that rail finds the true R0 (Rs at
             * the same measured Vc as the readings). */
            f.ppm = mq7_ratio_to_ppm(&f.sensor, MQ7_CLEAN_AIR_RATIO);
            assert_true(fw_calibrate_start(d, f.now));
            run_until(&f, f.now + 10 * CYCLE + SEC, SEC);
            assert_int_equal(fw_calibration_state(d), FW_CAL_DONE);
            assert_true(fabs(d->cal.r0_ohm - f.sensor.r0_ohm) < 0.01 * f.sensor.r0_ohm);
        } else {
            assert_true(fabs(r->ppm - 41.7) < 1);
            assert_false(r->flags & FW_RD_VC_MEAS);
            assert_int_equal(f.out, FW_OUT_WARNING); /* 41.7: no alarm */
        }
    }
    /* No measurement this time (negative or NaN): the nominal Vc, quietly. */
    fake_init(&f, d);
    f.ppm = 3;
    f.supply_v = NAN;
    struct fw_port p = port_of(&f);
    p.read_supply_v = read_supply;
    assert_null(fw_device_init(d, &c, &p, 0));
    run_until(&f, 2 * CYCLE, SEC);
    assert_false(fw_last_reading(d)->flags & (FW_RD_VC_MEAS | FW_RD_SUPPLY));
    assert_int_equal(f.out, FW_OUT_OFF);
    /* Implausible (a broken sense divider, or a rail far out of spec): the
     * nominal Vc, flagged, counted, and shown as a fault; alarms still work. */
    f.supply_v = 3.9;
    run_until(&f, 4 * CYCLE, SEC);
    assert_true(fw_last_reading(d)->flags & FW_RD_SUPPLY);
    assert_true(fabs(fw_last_reading(d)->ppm - 3) < 0.5);
    assert_int_equal(fw_get_stats(d)->supply_bad, 2);
    assert_int_equal(f.out, FW_OUT_FAULT);
    f.ppm = 60;
    run_until(&f, 6 * CYCLE, SEC);
    assert_int_equal(f.out, FW_OUT_CRITICAL);
    f.ppm = 3;
    f.supply_v = 5.02;
    run_until(&f, 12 * CYCLE, SEC);
    assert_int_equal(f.out, FW_OUT_OFF);
    free(d);
}

static void test_calibration(void **state)
{
    struct fake f;
    struct fw_config c;
    config(&c);
    struct fw_device *d = start_fresh(&f, NULL, &c);
    f.sensor.r0_ohm = 5000; /* this sensor; the device assumes 10 kOhm */
    /* Clean air: Rs = 27.5 * R0. */
    f.ppm = mq7_ratio_to_ppm(&f.sensor, MQ7_CLEAN_AIR_RATIO);
    assert_false(fw_calibrate_start(d, f.now)); /* refused while warming up */
    run_until(&f, 11 * MIN, SEC);
    assert_true(fw_calibrate_start(d, f.now));
    assert_false(fw_calibrate_start(d, f.now)); /* one at a time */
    assert_int_equal(fw_calibration_state(d), FW_CAL_RUNNING);
    run_until(&f, f.now + 10 * CYCLE, SEC);
    assert_int_equal(fw_calibration_state(d), FW_CAL_DONE);
    assert_true(fabs(d->cal.r0_ohm - 5000) < 50);
    assert_true(f.nvs_has && (f.nvs.flags & FW_PERSIST_CALIBRATED));
    assert_true(f.nvs.r0_ohm == d->cal.r0_ohm);
    /* Now 100 ppm reads as 100 ppm. */
    f.ppm = 100;
    run_until(&f, f.now + 2 * CYCLE, SEC);
    assert_true(fabs(fw_last_reading(d)->ppm - 100) < 3);
    assert_false(fw_last_reading(d)->flags & FW_RD_UNCAL);

    /* After a reboot the saved R0 is used. */
    f.now = 0;
    start(&f, d, &c);
    assert_true(fabs(d->cal.r0_ohm - 5000) < 50);
    /* A corrupt record is ignored. */
    f.nvs.r0_ohm = -3;
    start(&f, d, &c);
    assert_true(d->cal.r0_ohm == c.mq7.r0_ohm);

    /* A fault during calibration fails it and keeps R0. */
    f.nvs_has = false;
    start(&f, d, &c);
    run_until(&f, 11 * MIN, SEC);
    assert_true(fw_calibrate_start(d, f.now));
    f.adc_mode = 2;
    run_until(&f, f.now + 2 * CYCLE, SEC);
    assert_int_equal(fw_calibration_state(d), FW_CAL_FAILED);
    assert_true(d->cal.r0_ohm == c.mq7.r0_ohm);
    assert_int_equal(fw_get_stats(d)->calib_failures, 1);
    assert_int_equal(fw_get_stats(d)->calib_error, FW_CAL_E_FAULT);
    free(d);
}

static double unsteady(struct fake *f, int64_t t)
{
    /* Clean air, and every other cycle a whiff (someone cooking). */
    return (t / CYCLE) % 2 ? f->ppm : 2.0;
}

/* Calibrating in air that is not clean is refused, R0 kept, the failure
 * counted: in 50 ppm air R0 would come out 571 Ohm and a true 400 ppm would
 * then read 5 ppm. Unsteady air is refused too. */
static void test_calibration_refused(void **state)
{
    struct fake f;
    struct fw_config c;
    warm_config(&c);
    c.warmup_ms = 0;
    struct fw_device *d = start_fresh(&f, NULL, &c);
    f.ppm = 50;
    assert_true(fw_calibrate_start(d, f.now));
    run_until(&f, f.now + 10 * CYCLE + SEC, SEC);
    assert_int_equal(fw_calibration_state(d), FW_CAL_FAILED);
    const struct fw_stats *st = fw_get_stats(d);
    assert_int_equal(st->calib_failures, 1);
    assert_int_equal(st->calib_error, FW_CAL_E_RANGE);
    assert_true(st->calib_r0_refused > 500 && st->calib_r0_refused < 650);
    assert_true(d->cal.r0_ohm == c.mq7.r0_ohm);
    assert_false(f.nvs_has && (f.nvs.flags & FW_PERSIST_CALIBRATED));
    /* R0 kept: a true 400 ppm still reads 400. */
    f.ppm = 400;
    run_until(&f, f.now + 2 * CYCLE, SEC);
    assert_true(fabs(fw_last_reading(d)->ppm - 400) < 20);

    /* Unsteady: Rs varies by far more than 10 %. */
    f.ppm_at = unsteady;
    f.ppm = 0.5;
    assert_true(fw_calibrate_start(d, f.now));
    run_until(&f, f.now + 10 * CYCLE + SEC, SEC);
    assert_int_equal(fw_calibration_state(d), FW_CAL_FAILED);
    assert_int_equal(st->calib_failures, 2);
    assert_int_equal(st->calib_error, FW_CAL_E_UNSTABLE);
    assert_true(st->calib_cv > c.calib_max_cv);
    assert_true(d->cal.r0_ohm == c.mq7.r0_ohm);
    /* Steady clean air: accepted, with a small variation. */
    f.ppm_at = ppm_const;
    f.ppm = mq7_ratio_to_ppm(&f.sensor, MQ7_CLEAN_AIR_RATIO);
    assert_true(fw_calibrate_start(d, f.now));
    run_until(&f, f.now + 10 * CYCLE + SEC, SEC);
    assert_int_equal(fw_calibration_state(d), FW_CAL_DONE);
    assert_true(st->calib_cv < 0.01);
    assert_true(fabs(d->cal.r0_ohm - 10000) < 100);
    assert_int_equal(st->calib_failures, 2);
    free(d);
}

static double spike(struct fake *f, int64_t t)
{
    /* 80 ppm during one heater cycle out of three, else 5 ppm. */
    return (t / CYCLE) % 3 == 1 ? 80 : 5;
}

static void test_aggregation_keeps_peak(void **state)
{
    struct fake f;
    struct fw_config c;
    warm_config(&c);
    c.report_interval_ms = 3 * CYCLE;
    struct fw_device *d = start_fresh(&f, NULL, &c);
    f.ppm_at = spike;
    run_until(&f, 2 * HOUR, SEC);
    const struct fw_stats *s = fw_get_stats(d);
    assert_int_equal(s->samples, 48);
    assert_int_equal(s->readings, 16);
    assert_int_equal(f.nrx, 16);
    for (int i = 0; i < f.nrx; i++)
        assert_true(fabs(f.rx_ppm[i] - 80) < 3); /* the peak, not the mean */
    const struct fw_reading *r = fw_last_reading(d);
    assert_int_equal(r->nsamples, 3);
    assert_true(fabs(r->mean_ppm - 30) < 2);
    assert_true(r->flags & FW_RD_TEMP);
    /* Readings are stamped at their last sample, 450 s apart. */
    for (int i = 1; i < f.nrx; i++)
        assert_int_equal(f.rx_ts[i] - f.rx_ts[i - 1], 3 * CYCLE);
    assert_int_equal(f.rx_ts[0], WALL0 + 3 * CYCLE);
    free(d);
}

static double leak(struct fake *f, int64_t t)
{
    /* Clean until 20 min, then +40 ppm a minute. */
    return t < 20 * MIN ? 1 : 1 + (double)(t - 20 * MIN) / MIN * 40;
}

static void test_local_alarm_without_network(void **state)
{
    struct fake f;
    struct fw_device *d = new_dev();
    fake_init(&f, d);
    f.ppm_at = leak;
    struct fw_config c;
    config(&c);
    struct fw_port p = port_of(&f);
    p.http_post = NULL; /* no network at all */
    p.wall_ms = NULL;
    assert_null(fw_device_init(d, &c, &p, 0));
    run_until(&f, 40 * MIN, 250);
    /* 50 ppm is reached at 21:13; the next sample (cycles end at 150 s
     * multiples minus 0.5 s) is at 22:29.5 and must raise the alarm. */
    assert_int_equal(f.out, FW_OUT_CRITICAL);
    assert_true(f.first_critical >= 21 * MIN && f.first_critical <= 22 * MIN + 30 * SEC);
    assert_true(f.first_warning <= f.first_critical);
    assert_int_equal(fw_output_level(d), FW_OUT_CRITICAL);
    /* At these levels the alarm cannot be muted. */
    assert_int_equal(fw_mute(d, f.now, 5 * MIN), ALARM_MUTE_TOO_HIGH);
    assert_int_equal(f.out, FW_OUT_CRITICAL);
    free(d);
}

static void test_mute_and_fault_output(void **state)
{
    struct fake f;
    struct fw_config c;
    struct fw_device *d = start_warm(&f, NULL, &c);
    f.ppm = 60;
    run_until(&f, 3 * CYCLE, SEC);
    assert_int_equal(f.out, FW_OUT_CRITICAL);
    assert_int_equal(fw_mute(d, f.now, 5 * MIN), ALARM_MUTE_OK);
    assert_int_equal(f.out, FW_OUT_OFF);
    run_until(&f, f.now + 6 * MIN, SEC); /* the mute ends: re-armed */
    assert_int_equal(f.out, FW_OUT_CRITICAL);

    /* A sensor pinned at the bottom rail: a fault, shown, and sent as a raw
     * count without ppm. */
    start_warm(&f, d, &c);
    f.adc_mode = 2;
    run_until(&f, 2 * CYCLE, SEC);
    assert_int_equal(f.out, FW_OUT_FAULT);
    assert_true(fw_last_reading(d)->flags & FW_RD_FAULT);
    assert_int_equal(fw_last_reading(d)->status, MQ7_E_RAIL_LOW);
    assert_true(f.nrx >= 1 && f.rx_ppm[0] < 0);
    /* An ADC that fails to read is a fault too. */
    f.adc_mode = 1;
    run_until(&f, f.now + CYCLE, SEC);
    assert_true(fw_last_reading(d)->flags & FW_RD_ADC_ERR);
    assert_true(fw_get_stats(d)->faults >= 3);
    free(d);
}

static void test_link_down_one_hour(void **state)
{
    struct fake f;
    struct fw_config c;
    struct fw_device *d = start_warm(&f, NULL, &c);
    f.ppm = 3;
    f.link_up = false;
    run_until(&f, HOUR, SEC);
    assert_int_equal(f.nrx, 0);
    assert_int_equal(fw_pending(d), 24);
    assert_true(f.fails >= 5);
    /* The retries back off: gaps grow, and never beyond 10 min. */
    for (int i = 2; i < f.posts && i < 1024; i++)
        assert_true(f.post_at[i] - f.post_at[i - 1] <= 10 * MIN + 20 * SEC);
    assert_true(f.post_at[f.posts - 1] - f.post_at[f.posts - 2] > f.post_at[2] - f.post_at[1]);
    f.link_up = true;
    run_until(&f, 2 * HOUR, SEC);
    /* Everything made in two hours arrived exactly once, oldest first. */
    const struct fw_stats *s = fw_get_stats(d);
    assert_int_equal(s->queued, 48);
    assert_int_equal(f.nrx, 48);
    assert_int_equal(s->sent, 48);
    assert_int_equal(fw_pending(d), 0);
    assert_int_equal(fw_dropped(d), 0);
    assert_rx_once_in_order(&f);
    for (int i = 0; i < f.nrx; i++)
        assert_int_equal(f.rx_ts[i], WALL0 + (i + 1) * CYCLE);
    assert_true(f.budget_ok);
    assert_true(f.logs > f.fails); /* each failure is logged */
    free(d);
}

static void test_batch_caps_and_overflow(void **state)
{
    struct fake f;
    struct fw_config c;
    warm_config(&c);
    c.batch_max = 7;
    c.ring_cap = 20;
    struct fw_device *d = start_fresh(&f, NULL, &c);
    f.link_up = false;
    run_until(&f, HOUR, SEC); /* 24 readings into 20 slots */
    assert_int_equal(fw_pending(d), 20);
    assert_int_equal(fw_dropped(d), 4);
    f.link_up = true;
    f.posts = 0;
    run_until(&f, HOUR + 15 * MIN, SEC);
    assert_true(f.max_batch <= 7);
    assert_int_equal(fw_pending(d), 0);
    /* The oldest were dropped (4, and more while the retry waited); the
     * rest came once, in order, with nothing missing after the first. */
    assert_true(fw_dropped(d) >= 4);
    assert_int_equal(f.rx_ts[0], WALL0 + (1 + fw_dropped(d)) * CYCLE);
    assert_int_equal(f.nrx, fw_get_stats(d)->queued - fw_dropped(d));
    for (int i = 0; i < f.nrx; i++)
        assert_int_equal(f.rx_ts[i], f.rx_ts[0] + i * CYCLE);
    assert_rx_once_in_order(&f);

    /* The server's cap: with batch_max 1000 a batch still never exceeds
     * 1000, and here the 16 KiB body is the tighter limit. */
    warm_config(&c);
    c.batch_max = FW_BATCH_MAX;
    c.report_interval_ms = 1; /* one reading per cycle */
    start_fresh(&f, d, &c);
    f.link_up = false;
    run_until(&f, 12 * HOUR, 5 * SEC);
    assert_int_equal(fw_pending(d), 288);
    f.link_up = true;
    run_until(&f, 13 * HOUR, 5 * SEC);
    assert_int_equal(fw_pending(d), 0);
    assert_int_equal(f.nrx, 312);
    assert_true(f.max_batch > 1 && f.max_batch <= FW_BATCH_MAX);
    assert_true(f.max_batch * 60 < FW_BODY_CAP);
    assert_rx_once_in_order(&f);
    free(d);
}

static void test_refused_reading_isolated(void **state)
{
    struct fake f;
    struct fw_config c;
    struct fw_device *d = start_warm(&f, NULL, &c);
    f.link_up = false;
    run_until(&f, HOUR, SEC);
    f.poison_ts = WALL0 + 10 * CYCLE; /* the 10th reading */
    f.link_up = true;
    run_until(&f, HOUR + 10 * MIN, SEC);
    const struct fw_stats *s = fw_get_stats(d);
    assert_int_equal(s->rejected, 1);
    assert_int_equal(fw_pending(d), 0);
    assert_int_equal(f.nrx, 23 + 4); /* all but the refused one, then 4 more */
    for (int i = 0; i < f.nrx; i++)
        assert_true(f.rx_ts[i] != f.poison_ts);
    assert_rx_once_in_order(&f);
    free(d);
}

static void test_retry_after_and_auth(void **state)
{
    struct fake f;
    struct fw_config c;
    struct fw_device *d = start_warm(&f, NULL, &c);
    f.status_up = 429;
    f.retry_after = 1200; /* 20 min */
    run_until(&f, 3 * CYCLE, SEC);
    assert_int_equal(f.posts, 1);
    run_until(&f, f.post_at[0] + 20 * MIN - SEC, SEC);
    assert_int_equal(f.posts, 1);
    f.status_up = 201;
    run_until(&f, f.post_at[0] + 22 * MIN, SEC);
    assert_int_equal(f.posts, 2);
    assert_int_equal(fw_pending(d), 0);

    /* A wrong key (401) keeps the readings for later. */
    f.status_up = 401;
    f.retry_after = 0;
    run_until(&f, f.now + HOUR, SEC);
    assert_true(fw_pending(d) >= 20);
    assert_int_equal(fw_get_stats(d)->rejected, 0);
    assert_int_equal(fw_get_stats(d)->last_status, 401);
    f.status_up = 201;
    run_until(&f, f.now + 15 * MIN, SEC);
    assert_int_equal(fw_pending(d), 0);
    assert_rx_once_in_order(&f);
    free(d);
}

/* An asynchronous port (the ESP32 app's upload task): the POST returns at
 * once, the answer comes later through fw_http_result. One at a time, the
 * body untouched meanwhile, and every reading delivered exactly once even
 * when the ring overflows while a batch is out. */
static void test_async_upload(void **state)
{
    struct fake f;
    struct fw_config c;
    warm_config(&c);
    c.http_budget_ms = 0; /* the heater no longer waits for the network */
    c.batch_max = 5;
    c.ring_cap = 8;
    struct fw_device *d = start_fresh(&f, NULL, &c);
    f.async = true;
    assert_false(fw_http_result(d, 0, 201, 0)); /* nothing pending */
    run_until(&f, CYCLE + 10 * SEC, SEC);
    assert_int_equal(f.posts, 1);
    assert_int_equal(fw_pending(d), 1);
    answer(&f);
    assert_int_equal(fw_pending(d), 0);
    assert_int_equal(f.nrx, 1);
    /* A slow answer: readings pile up meanwhile, no second POST, and the
     * ring overflows (8 slots) while 1 reading is out. */
    run_until(&f, 2 * CYCLE + 10 * SEC, SEC);
    assert_int_equal(f.posts, 2);
    run_until(&f, 11 * CYCLE + 10 * SEC, SEC);
    assert_int_equal(f.posts, 2);
    assert_int_equal(fw_pending(d), 8);
    assert_true(fw_dropped(d) >= 1);
    answer(&f);
    /* The reading out (seq 2) was dropped from the ring by the overflow
     * meanwhile (the oldest below the warning level), and delivered anyway;
     * the answer removed nothing else. */
    assert_int_equal(fw_dropped(d), 2);
    assert_int_equal(fw_pending(d), 8);
    assert_int_equal(f.nrx, 2);
    /* No answer: backoff, then everything left goes, oldest first. */
    f.link_up = false;
    run_until(&f, f.now + SEC, SEC);
    answer(&f);
    assert_int_equal(fw_get_stats(d)->post_failures, 1);
    f.link_up = true;
    for (int i = 0; i < 200 && (fw_pending(d) > 0 || f.held_body); i++) {
        run_until(&f, f.now + 10 * SEC, SEC);
        if (f.held_body)
            answer(&f);
    }
    assert_int_equal(fw_pending(d), 0);
    /* All but seq 3, lost to the overflow, exactly once and in order. */
    assert_int_equal(f.nrx, fw_get_stats(d)->queued - 1);
    assert_int_equal(f.rx_ts[2] - f.rx_ts[1], 2 * CYCLE);
    for (int i = 3; i < f.nrx; i++)
        assert_int_equal(f.rx_ts[i] - f.rx_ts[i - 1], CYCLE);
    assert_rx_once_in_order(&f);
    free(d);
}

static void test_late_wall_clock(void **state)
{
    struct fake f;
    struct fw_config c;
    struct fw_device *d = start_warm(&f, NULL, &c);
    f.have_wall = false; /* no SNTP yet */
    run_until(&f, 30 * MIN, SEC);
    assert_int_equal(f.posts, 0);
    assert_int_equal(fw_pending(d), 12);
    f.have_wall = true;
    run_until(&f, 40 * MIN, SEC);
    assert_int_equal(fw_pending(d), 0);
    assert_int_equal(f.nrx, 16);
    /* Stamped back from the step clock: each at its own time. */
    for (int i = 0; i < f.nrx; i++)
        assert_int_equal(f.rx_ts[i], WALL0 + (i + 1) * CYCLE);
    free(d);
}

static void test_many_devices(void **state)
{
    /* A simulator's view: 20 devices in one process, each with its own
     * leak, stepped together; nothing shared between them. */
    enum { N = 20 };
    struct fake *f = calloc(N, sizeof *f);
    struct fw_device *d = calloc(N, sizeof *d);
    assert_non_null(f);
    assert_non_null(d);
    for (int i = 0; i < N; i++) {
        struct fw_config c;
        warm_config(&c);
        c.device_id[8] = (char)('a' + i); /* kitchen-a, kitchen-b, ... */
        start_fresh(&f[i], &d[i], &c);
        f[i].ppm = i < N / 2 ? 2 : 100;
    }
    for (int64_t t = 0; t <= HOUR; t += SEC)
        for (int i = 0; i < N; i++) {
            f[i].now = t;
            fw_step(&d[i], t);
        }
    for (int i = 0; i < N; i++) {
        assert_int_equal(f[i].nrx, 24);
        assert_int_equal(f[i].out, i < N / 2 ? FW_OUT_OFF : FW_OUT_CRITICAL);
    }
    free(f);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_warmup_and_preheat),
        cmocka_unit_test(test_preheat_resumes),
        cmocka_unit_test(test_warmup_output),
        cmocka_unit_test(test_short_is_critical),
        cmocka_unit_test(test_measured_supply),
        cmocka_unit_test(test_calibration),
        cmocka_unit_test(test_calibration_refused),
        cmocka_unit_test(test_aggregation_keeps_peak),
        cmocka_unit_test(test_local_alarm_without_network),
        cmocka_unit_test(test_mute_and_fault_output),
        cmocka_unit_test(test_link_down_one_hour),
        cmocka_unit_test(test_batch_caps_and_overflow),
        cmocka_unit_test(test_refused_reading_isolated),
        cmocka_unit_test(test_retry_after_and_auth),
        cmocka_unit_test(test_async_upload),
        cmocka_unit_test(test_late_wall_clock),
        cmocka_unit_test(test_many_devices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
