/* fw_device.c - the portable firmware of one sensor, stepped by the caller
 * (see fw_device.h). */
#include "fw_device.h"

#include <math.h>
#include <string.h>

void fw_config_default(struct fw_config *c)
{
    memset(c, 0, sizeof *c);
    mq7_calibration_default(&c->mq7);
    alarm_config_default(&c->alarm);
    fw_heater_config_default(&c->heater);
    c->warmup_first_ms = 48 * 3600000LL;
    c->warmup_ms = 2 * (c->heater.high_ms + c->heater.low_ms);
    c->adc_burst = 5;
    c->report_interval_ms = c->heater.high_ms + c->heater.low_ms;
    c->report_peak = true;
    c->send_warmup = false;
    c->payload = FW_PAYLOAD_PPM;
    c->batch_max = 100;
    c->ring_cap = FW_RING_CAP;
    c->backoff_min_ms = 5000;
    c->backoff_max_ms = 600000;
    c->retry_after_max_ms = 3600000;
    c->http_budget_ms = 15000;
    c->clean_air_ratio = MQ7_CLEAN_AIR_RATIO;
    c->calib_samples = 10;
}

/* A key goes into a header: visible ASCII only, no spaces or line breaks. */
static bool key_valid(const char *k)
{
    size_t n = 0;
    for (; k[n]; n++)
        if (k[n] < 0x21 || k[n] > 0x7e || n >= FW_KEY_MAX)
            return false;
    return n > 0;
}

const char *fw_config_check(const struct fw_config *c)
{
    const char *why;
    if (memchr(c->device_id, '\0', sizeof c->device_id) == NULL ||
        !fw_device_id_valid(c->device_id))
        return "device_id must be 1-64 characters of A-Z a-z 0-9 . _ : -";
    if (memchr(c->api_key, '\0', sizeof c->api_key) == NULL || !key_valid(c->api_key))
        return "api_key must be 1-256 visible ASCII characters";
    if ((why = mq7_calibration_check(&c->mq7)) != NULL)
        return why;
    if ((why = alarm_config_check(&c->alarm)) != NULL)
        return why;
    if ((why = fw_heater_config_check(&c->heater)) != NULL)
        return why;
    if (c->warmup_first_ms < 0 || c->warmup_ms < 0)
        return "warm-up times must not be negative";
    if (c->adc_burst < 1 || c->adc_burst > FW_ADC_BURST_MAX || c->adc_burst % 2 == 0)
        return "adc_burst must be odd, from 1 to 15";
    if (c->report_interval_ms <= 0 || c->report_interval_ms > 24 * 3600000LL)
        return "report_interval_ms must be above 0 and at most a day";
    if (c->payload != FW_PAYLOAD_PPM && c->payload != FW_PAYLOAD_RAW &&
        c->payload != FW_PAYLOAD_BOTH)
        return "payload must be FW_PAYLOAD_PPM, _RAW or _BOTH";
    if (c->batch_max < 1 || c->batch_max > FW_BATCH_MAX)
        return "batch_max must be from 1 to 1000 (the server's cap)";
    if (c->ring_cap < 1 || c->ring_cap > FW_RING_CAP)
        return "ring_cap must be from 1 to FW_RING_CAP";
    if (c->backoff_min_ms <= 0 || c->backoff_max_ms < c->backoff_min_ms)
        return "backoff needs 0 < backoff_min_ms <= backoff_max_ms";
    if (c->retry_after_max_ms < 0 || c->http_budget_ms < 0)
        return "retry_after_max_ms and http_budget_ms must not be negative";
    if (!(c->clean_air_ratio > 1 && c->clean_air_ratio < 1000))
        return "clean_air_ratio must be above 1 and below 1000";
    if (c->calib_samples < 1 || c->calib_samples > 1000)
        return "calib_samples must be from 1 to 1000";
    return NULL;
}

static void log_msg(struct fw_device *d, enum fw_log_level lvl, const char *msg, const char *detail,
                    int64_t value)
{
    if (d->port.log)
        d->port.log(d->port.ctx, lvl, msg, detail, value);
}

static int64_t alarm_clock(int64_t now_ms)
{
    return now_ms + FW_ALARM_CLOCK_BASE_MS;
}

static void save_persist(struct fw_device *d)
{
    if (d->port.nvs_save && !d->port.nvs_save(d->port.ctx, &d->persist))
        log_msg(d, FW_LOG_ERROR, "could not save the calibration record", NULL, 0);
}

const char *fw_device_init(struct fw_device *d, const struct fw_config *cfg,
                           const struct fw_port *port, int64_t now_ms)
{
    const char *why = fw_config_check(cfg);
    if (why)
        return why;
    if (!port->set_heater || !port->read_adc || !port->set_alarm_output)
        return "the port needs set_heater, read_adc and set_alarm_output";
    memset(d, 0, sizeof *d);
    d->cfg = *cfg;
    d->port = *port;
    d->cal = cfg->mq7;
    d->persist = (struct fw_persist){
        .magic = FW_PERSIST_MAGIC, .version = FW_PERSIST_VERSION, .r0_ohm = cfg->mq7.r0_ohm};
    struct fw_persist p;
    if (port->nvs_load && port->nvs_load(port->ctx, &p) && p.magic == FW_PERSIST_MAGIC &&
        p.version == FW_PERSIST_VERSION) {
        struct mq7_calibration c = d->cal;
        c.r0_ohm = p.r0_ohm;
        if (!(p.flags & FW_PERSIST_CALIBRATED) || mq7_calibration_check(&c) == NULL) {
            d->persist = p;
            if (p.flags & FW_PERSIST_CALIBRATED)
                d->cal.r0_ohm = p.r0_ohm;
            else
                d->persist.r0_ohm = cfg->mq7.r0_ohm;
        } else {
            log_msg(d, FW_LOG_WARN, "persisted R0 is invalid; using the configured one", NULL, 0);
        }
    }
    bool preheated = (d->persist.flags & FW_PERSIST_PREHEATED) != 0;
    d->warmup_end_ms = now_ms + (preheated ? cfg->warmup_ms : cfg->warmup_first_ms);
    fw_heater_start(&d->heater, &cfg->heater, now_ms);
    int64_t cycle = cfg->heater.high_ms + cfg->heater.low_ms;
    d->per_report = (uint32_t)((cfg->report_interval_ms + cycle - 1) / cycle);
    fw_agg_reset(&d->agg);
    fw_ring_init(&d->ring, cfg->ring_cap);
    alarm_state_init(&d->alarm);
    fw_backoff_init(&d->backoff, cfg->backoff_min_ms, cfg->backoff_max_ms);
    d->next_send_ms = now_ms;
    d->batch_cap = cfg->batch_max;
    memcpy(d->auth, "Bearer ", 7);
    memcpy(d->auth + 7, cfg->api_key, strlen(cfg->api_key) + 1);
    d->output = FW_OUT_OFF;
    d->port.set_alarm_output(d->port.ctx, FW_OUT_OFF);
    log_msg(d, FW_LOG_INFO, preheated ? "warming up (ms)" : "first use: preheating (ms)", NULL,
            d->warmup_end_ms - now_ms);
    return NULL;
}

bool fw_warming_up(const struct fw_device *d, int64_t now_ms)
{
    return now_ms < d->warmup_end_ms;
}

enum fw_output fw_output_level(const struct fw_device *d)
{
    return d->output;
}

const struct fw_stats *fw_get_stats(const struct fw_device *d)
{
    return &d->stats;
}

uint32_t fw_pending(const struct fw_device *d)
{
    return fw_ring_count(&d->ring);
}

uint32_t fw_dropped(const struct fw_device *d)
{
    return d->ring.dropped;
}

const struct fw_reading *fw_last_reading(const struct fw_device *d)
{
    return d->last.seq ? &d->last : NULL;
}

enum fw_cal_state fw_calibration_state(const struct fw_device *d)
{
    return d->calib.state;
}

const char *fw_output_name(enum fw_output level)
{
    switch (level) {
    case FW_OUT_OFF:
        return "off";
    case FW_OUT_FAULT:
        return "fault";
    case FW_OUT_WARNING:
        return "warning";
    case FW_OUT_CRITICAL:
        return "critical";
    }
    return "unknown";
}

/* ---- local alarm ---- */

static void update_output(struct fw_device *d, int64_t now_ms)
{
    enum fw_output level = FW_OUT_OFF;
    for (int k = 0; k < ALARM_NKINDS; k++) {
        const struct alarm_kind_state *ks = &d->alarm.kind[k];
        if (k == ALARM_OFFLINE || !ks->active ||
            alarm_muted(&d->alarm, (enum alarm_kind)k, alarm_clock(now_ms)))
            continue;
        enum fw_output l = k == ALARM_SENSOR_FAULT              ? FW_OUT_FAULT
                           : ks->severity == ALARM_SEV_CRITICAL ? FW_OUT_CRITICAL
                                                                : FW_OUT_WARNING;
        if (l > level)
            level = l;
    }
    if (level != d->output) {
        d->output = level;
        d->port.set_alarm_output(d->port.ctx, level);
        log_msg(d, level > FW_OUT_OFF ? FW_LOG_WARN : FW_LOG_INFO, "alarm output",
                fw_output_name(level), (int64_t)level);
    }
}

static void log_events(struct fw_device *d, const struct alarm_events *ev)
{
    for (size_t i = 0; i < ev->n; i++)
        log_msg(d, ev->ev[i].type == ALARM_EV_CLEARED ? FW_LOG_INFO : FW_LOG_WARN,
                alarm_event_name(ev->ev[i].type), alarm_kind_name(ev->ev[i].kind),
                (int64_t)ev->ev[i].peak_ppm);
}

enum alarm_mute_result fw_mute(struct fw_device *d, int64_t now_ms, int64_t ms)
{
    enum alarm_mute_result res = ALARM_MUTE_NOT_ACTIVE;
    for (int k = 0; k < ALARM_NKINDS; k++) {
        enum alarm_mute_result r =
            alarm_mute(&d->cfg.alarm, &d->alarm, (enum alarm_kind)k, alarm_clock(now_ms), ms);
        if (r == ALARM_MUTE_TOO_HIGH)
            return r; /* the same for every kind: nothing was muted */
        if (r == ALARM_MUTE_OK)
            res = r;
    }
    update_output(d, now_ms);
    return res;
}

/* ---- sampling ---- */

static uint32_t median(uint32_t *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t x = v[i], j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
    return v[n / 2];
}

static void calibrate_sample(struct fw_device *d, const struct fw_sample *s)
{
    double rs;
    if (d->calib.state != FW_CAL_RUNNING)
        return;
    if (s->status != MQ7_OK || mq7_raw_to_rs(&d->cal, s->raw, &rs) != MQ7_OK) {
        d->calib.state = FW_CAL_FAILED;
        log_msg(d, FW_LOG_ERROR, "calibration failed: sensor fault", mq7_strerror(s->status), 0);
        return;
    }
    d->calib.sum_rs += rs;
    if (++d->calib.n < d->cfg.calib_samples)
        return;
    struct mq7_calibration c = d->cal;
    c.r0_ohm = mq7_r0_from_clean_air(d->calib.sum_rs / d->calib.n, d->cfg.clean_air_ratio);
    if (mq7_calibration_check(&c) != NULL) {
        d->calib.state = FW_CAL_FAILED;
        log_msg(d, FW_LOG_ERROR, "calibration failed: R0 out of range (ohm)", NULL,
                (int64_t)c.r0_ohm);
        return;
    }
    d->cal.r0_ohm = c.r0_ohm;
    d->persist.r0_ohm = c.r0_ohm;
    d->persist.flags |= FW_PERSIST_CALIBRATED;
    save_persist(d);
    d->calib.state = FW_CAL_DONE;
    log_msg(d, FW_LOG_INFO, "calibrated: R0 (ohm)", NULL, (int64_t)llround(c.r0_ohm));
}

bool fw_calibrate_start(struct fw_device *d, int64_t now_ms)
{
    if (fw_warming_up(d, now_ms) || d->calib.state == FW_CAL_RUNNING)
        return false;
    d->calib.state = FW_CAL_RUNNING;
    d->calib.n = 0;
    d->calib.sum_rs = 0;
    log_msg(d, FW_LOG_INFO, "calibrating in clean air: samples", NULL, d->cfg.calib_samples);
    return true;
}

/* Stamps a reading with the wall clock when it is known. */
static void stamp(struct fw_device *d, struct fw_reading *r, int64_t now_ms)
{
    int64_t wall;
    if (r->ts_ms || !d->port.wall_ms || !d->port.wall_ms(d->port.ctx, &wall))
        return;
    int64_t ts = wall - (now_ms - r->mono_ms);
    if (ts >= FW_TS_MIN_MS)
        r->ts_ms = ts;
}

static void finish_reading(struct fw_device *d, int64_t now_ms)
{
    struct fw_reading r;
    if (!fw_agg_take(&d->agg, d->cfg.report_peak, &r))
        return;
    r.seq = ++d->next_seq;
    stamp(d, &r, now_ms);
    d->last = r;
    d->stats.readings++;
    if ((r.flags & FW_RD_WARMUP) && !d->cfg.send_warmup)
        return;
    if (fw_ring_push(&d->ring, &r, d->cfg.alarm.warn_ppm))
        log_msg(d, FW_LOG_WARN, "offline buffer full: dropped a reading, total", NULL,
                d->ring.dropped);
    d->stats.queued++;
}

static void take_sample(struct fw_device *d, int64_t now_ms)
{
    uint32_t v[FW_ADC_BURST_MAX];
    uint32_t n = d->cfg.adc_burst;
    struct fw_sample s = {.mono_ms = now_ms};
    bool adc_ok = true;
    for (uint32_t i = 0; i < n && adc_ok; i++)
        adc_ok = d->port.read_adc(d->port.ctx, &v[i]);
    if (adc_ok) {
        s.raw = median(v, n);
        s.status = (uint8_t)mq7_raw_to_ppm(&d->cal, s.raw, &s.ppm);
    } else {
        s.status = MQ7_E_RANGE;
        s.flags |= FW_RD_ADC_ERR;
    }
    if (s.status != MQ7_OK) {
        s.flags |= FW_RD_FAULT;
        s.ppm = 0;
        d->stats.faults++;
    }
    bool warmup = fw_warming_up(d, now_ms);
    if (warmup)
        s.flags |= FW_RD_WARMUP;
    if (!(d->persist.flags & FW_PERSIST_CALIBRATED))
        s.flags |= FW_RD_UNCAL;
    if (d->port.read_env)
        s.flags |= d->port.read_env(d->port.ctx, &s.temp_c, &s.hum_pct) & (FW_RD_TEMP | FW_RD_HUM);
    d->stats.samples++;

    struct alarm_input in = {.ts_ms = alarm_clock(now_ms),
                             .recv_ms = alarm_clock(now_ms),
                             .ppm = s.ppm,
                             .flags = (s.status != MQ7_OK ? ALARM_IN_FAULT : 0u) |
                                      (warmup ? ALARM_IN_WARMUP : 0u)};
    struct alarm_events ev;
    alarm_reading(&d->cfg.alarm, &d->alarm, &in, &ev);
    log_events(d, &ev);
    update_output(d, now_ms);

    if (!warmup)
        calibrate_sample(d, &s);
    if (fw_agg_add(&d->agg, &s) >= d->per_report)
        finish_reading(d, now_ms);
}

/* ---- uplink ---- */

static void uplink(struct fw_device *d, int64_t now_ms)
{
    if (!d->port.http_post || fw_ring_count(&d->ring) == 0 || now_ms < d->next_send_ms ||
        fw_heater_until_next(&d->heater, now_ms) < d->cfg.http_budget_ms)
        return;
    uint32_t max = d->batch_cap < d->cfg.batch_max ? d->batch_cap : d->cfg.batch_max;
    for (uint32_t i = 0; i < max && i < fw_ring_count(&d->ring); i++)
        stamp(d, fw_ring_at(&d->ring, i), now_ms);
    uint32_t n;
    size_t len = fw_payload_batch(d->body, sizeof d->body, d->cfg.device_id, &d->ring, max,
                                  d->cfg.payload, &n);
    if (n == 0)
        return; /* the oldest has no time yet: wait for the wall clock */
    const struct fw_http_header h[2] = {{"Authorization", d->auth},
                                        {"Content-Type", "application/json"}};
    uint32_t retry_after_s = 0;
    int status =
        d->port.http_post(d->port.ctx, FW_READINGS_PATH, h, 2, d->body, len, &retry_after_s);
    d->stats.posts++;
    d->stats.last_status = status;
    if (status >= 200 && status < 300) {
        fw_ring_pop(&d->ring, n);
        d->stats.sent += n;
        fw_backoff_reset(&d->backoff);
        d->next_send_ms = now_ms; /* more may wait: the next step sends them */
        d->batch_cap = d->batch_cap > d->cfg.batch_max / 2 ? d->cfg.batch_max : d->batch_cap * 2;
    } else if (status == 400 || status == 413 || status == 422) {
        /* The server refuses this batch for its content, so a retry as it
         * is cannot succeed. Halve the batch until the refused reading is
         * alone, then drop it: the others still go. */
        d->next_send_ms = now_ms;
        if (n > 1) {
            d->batch_cap = n / 2;
        } else {
            fw_ring_pop(&d->ring, 1);
            d->stats.rejected++;
            d->batch_cap = d->cfg.batch_max;
            log_msg(d, FW_LOG_ERROR, "server refused a reading; dropped it: HTTP", NULL, status);
        }
    } else {
        /* No answer, 401/403 (wrong key: keep the data until it is fixed),
         * 404, 408, 429, 5xx...: keep everything and try again later. */
        d->stats.post_failures++;
        uint32_t rnd = d->port.random ? d->port.random(d->port.ctx) : 0;
        int64_t delay = fw_backoff_fail(&d->backoff, rnd);
        int64_t ra = (int64_t)retry_after_s * 1000;
        if (ra > d->cfg.retry_after_max_ms)
            ra = d->cfg.retry_after_max_ms;
        if (ra > delay)
            delay = ra;
        d->next_send_ms = now_ms + delay;
        log_msg(d, FW_LOG_WARN, "upload failed: HTTP status (negative: no answer)", NULL, status);
        log_msg(d, FW_LOG_INFO, "next upload try in ms", NULL, delay);
    }
}

void fw_step(struct fw_device *d, int64_t now_ms)
{
    enum fw_heater_event ev;
    while ((ev = fw_heater_poll(&d->heater, now_ms)) != FW_HEATER_EV_NONE) {
        if (ev == FW_HEATER_EV_HIGH)
            d->port.set_heater(d->port.ctx, FW_HEATER_HIGH);
        else if (ev == FW_HEATER_EV_LOW)
            d->port.set_heater(d->port.ctx, FW_HEATER_LOW);
        else
            take_sample(d, now_ms);
    }
    if (!d->warm && !fw_warming_up(d, now_ms)) {
        d->warm = true;
        log_msg(d, FW_LOG_INFO, "warm-up done", NULL, 0);
        if (!(d->persist.flags & FW_PERSIST_PREHEATED)) {
            d->persist.flags |= FW_PERSIST_PREHEATED;
            save_persist(d);
        }
    }
    struct alarm_events aev;
    alarm_tick(&d->cfg.alarm, &d->alarm, alarm_clock(now_ms), &aev);
    log_events(d, &aev);
    update_output(d, now_ms);
    uplink(d, now_ms);
}
