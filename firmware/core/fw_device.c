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
    c->calib_max_cv = 0.10;
    c->warmup_alarm_ppm = 150;
    c->supply_min_v = 4.5;
    c->supply_max_v = 5.5;
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
    if (!(c->calib_max_cv > 0 && c->calib_max_cv <= 1))
        return "calib_max_cv must be above 0 and at most 1";
    if (!(c->warmup_alarm_ppm > 0 && c->warmup_alarm_ppm <= 10000))
        return "warmup_alarm_ppm must be above 0 and at most 10000";
    if (!(c->supply_min_v > 0 && c->supply_min_v < c->supply_max_v && c->supply_max_v <= 100))
        return "supply_min_v and supply_max_v need 0 < min < max <= 100";
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
        log_msg(d, FW_LOG_ERROR, "could not save the persisted record", NULL, 0);
}

int64_t fw_preheat_done_ms(const struct fw_device *d, int64_t now_ms)
{
    if (d->persist.flags & FW_PERSIST_PREHEATED)
        return d->cfg.warmup_first_ms;
    int64_t done = d->preheat_base_ms + (now_ms - d->boot_ms);
    return done < d->cfg.warmup_first_ms ? done : d->cfg.warmup_first_ms;
}

/* Records the preheat done so far (whole minutes) and saves it. */
static void save_preheat(struct fw_device *d, int64_t now_ms)
{
    int64_t min = fw_preheat_done_ms(d, now_ms) / 60000;
    d->persist.preheat_min = min > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)min;
    d->preheat_saved_ms = now_ms;
    save_persist(d);
}

static enum fw_output output_level(const struct fw_device *d, int64_t now_ms);

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
    /* The first-use preheat accumulates across reboots; a resumed one still
     * gets at least the ordinary warm-up, the sensor being cold again. */
    int64_t wait = preheated ? cfg->warmup_ms : cfg->warmup_first_ms;
    d->boot_ms = d->preheat_saved_ms = now_ms;
    if (!preheated && d->persist.preheat_min > 0) {
        d->preheat_base_ms = (int64_t)d->persist.preheat_min * 60000;
        wait = cfg->warmup_first_ms - d->preheat_base_ms;
        if (wait < cfg->warmup_ms)
            wait = cfg->warmup_ms;
    }
    d->warmup_end_ms = now_ms + wait;
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
    d->hdr[0] = (struct fw_http_header){"Authorization", d->auth};
    d->hdr[1] = (struct fw_http_header){"Content-Type", "application/json"};
    d->output = output_level(d, now_ms);
    d->port.set_alarm_output(d->port.ctx, d->output);
    log_msg(d, FW_LOG_INFO,
            preheated                ? "warming up (ms)"
            : d->preheat_base_ms > 0 ? "first use: preheat resumed, remaining (ms)"
                                     : "first use: preheating (ms)",
            NULL, d->warmup_end_ms - now_ms);
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
    case FW_OUT_WARMUP:
        return "warmup";
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

static enum fw_output local_output(enum fw_local l)
{
    switch (l) {
    case FW_LOCAL_SHORT:
    case FW_LOCAL_WARMUP_CO:
        return FW_OUT_CRITICAL;
    case FW_LOCAL_WARMUP_FAULT:
    case FW_LOCAL_SUPPLY:
        return FW_OUT_FAULT;
    case FW_LOCAL_NONE:
        break;
    }
    return FW_OUT_OFF;
}

/* The engine's active, unmuted kinds, the device's own output, and warm-up
 * in place of "off". */
static enum fw_output output_level(const struct fw_device *d, int64_t now_ms)
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
    enum fw_output l = local_output(d->local);
    if (l > level && !(d->local_muted_ms > now_ms))
        level = l;
    if (level == FW_OUT_OFF && fw_warming_up(d, now_ms))
        level = FW_OUT_WARMUP;
    return level;
}

static void update_output(struct fw_device *d, int64_t now_ms)
{
    enum fw_output level = output_level(d, now_ms);
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
    /* A short may be lethal CO; a warm-up reading this high is too. */
    if (d->local == FW_LOCAL_SHORT ||
        (d->local == FW_LOCAL_WARMUP_CO && d->local_ppm >= d->cfg.alarm.mute_max_ppm))
        return ALARM_MUTE_TOO_HIGH;
    enum alarm_mute_result res = ALARM_MUTE_NOT_ACTIVE;
    for (int k = 0; k < ALARM_NKINDS; k++) {
        enum alarm_mute_result r =
            alarm_mute(&d->cfg.alarm, &d->alarm, (enum alarm_kind)k, alarm_clock(now_ms), ms);
        if (r == ALARM_MUTE_TOO_HIGH)
            return r; /* the same for every kind: nothing was muted */
        if (r == ALARM_MUTE_OK)
            res = r;
    }
    if (d->local != FW_LOCAL_NONE) {
        int64_t len = ms > d->cfg.alarm.mute_max_ms ? d->cfg.alarm.mute_max_ms : ms;
        d->local_muted_ms = now_ms + (len > 0 ? len : 1);
        res = ALARM_MUTE_OK;
    }
    update_output(d, now_ms);
    return res;
}

/* The device's own part of the output, from this sample (the engine sees
 * a short as a fault and ignores warm-up readings; see fw_device.h). */
static void assess_local(struct fw_device *d, const struct fw_sample *s, bool warmup)
{
    enum fw_local l = FW_LOCAL_NONE;
    double hold = d->cfg.warmup_alarm_ppm - d->cfg.alarm.hysteresis_ppm;
    if (s->status == MQ7_E_SHORT)
        l = FW_LOCAL_SHORT;
    else if (warmup && s->status == MQ7_OK &&
             (s->ppm >= d->cfg.warmup_alarm_ppm ||
              (d->local == FW_LOCAL_WARMUP_CO && s->ppm >= hold)))
        l = FW_LOCAL_WARMUP_CO;
    else if (warmup && s->status != MQ7_OK)
        l = FW_LOCAL_WARMUP_FAULT;
    else if (s->flags & FW_RD_SUPPLY)
        l = FW_LOCAL_SUPPLY;
    /* A new condition, a short or CO at the no-mute level ends a mute. */
    if (l != d->local || l == FW_LOCAL_SHORT ||
        (l == FW_LOCAL_WARMUP_CO && s->ppm >= d->cfg.alarm.mute_max_ppm))
        d->local_muted_ms = 0;
    if (l != d->local) {
        static const char *const why[] = {
            [FW_LOCAL_NONE] = "cleared",
            [FW_LOCAL_SHORT] = "sensor reads as shorted (Rs/R0 below the floor): critical",
            [FW_LOCAL_WARMUP_CO] = "CO at or above warmup_alarm_ppm while warming up: critical",
            [FW_LOCAL_WARMUP_FAULT] = "sensor fault while warming up",
            [FW_LOCAL_SUPPLY] = "measured supply out of range: converted with nominal Vc",
        };
        log_msg(d, l == FW_LOCAL_NONE ? FW_LOG_INFO : FW_LOG_WARN, "local alarm", why[l],
                (int64_t)llround(s->ppm));
    }
    d->local = l;
    d->local_ppm = s->ppm;
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

/* A refused calibration: R0 stays, the failure is counted and logged. */
static void calib_refuse(struct fw_device *d, enum fw_cal_error why, double r0, const char *msg,
                         const char *detail, int64_t value)
{
    d->calib.state = FW_CAL_FAILED;
    d->stats.calib_failures++;
    d->stats.calib_error = why;
    d->stats.calib_r0_refused = r0;
    log_msg(d, FW_LOG_ERROR, msg, detail, value);
}

/* One sample of a running calibration; vc is the Vc its conversion used. */
static void calibrate_sample(struct fw_device *d, const struct fw_sample *s, double vc)
{
    double rs;
    if (d->calib.state != FW_CAL_RUNNING)
        return;
    if (s->status != MQ7_OK || mq7_raw_to_rs_vc(&d->cal, s->raw, vc, &rs) != MQ7_OK) {
        calib_refuse(d, FW_CAL_E_FAULT, 0, "calibration refused: sensor fault; R0 kept",
                     mq7_strerror((enum mq7_status)s->status), 0);
        return;
    }
    /* Rs at the sample's own Vc (measured or nominal), like the readings
     * this R0 will serve. */
    d->calib.sum_rs += rs;
    d->calib.sum_rs2 += rs * rs;
    if (++d->calib.n < d->cfg.calib_samples)
        return;
    double n = (double)d->calib.n, mean = d->calib.sum_rs / n;
    double var = n > 1 ? (d->calib.sum_rs2 - n * mean * mean) / (n - 1) : 0;
    double cv = var > 0 ? sqrt(var) / mean : 0;
    d->stats.calib_cv = cv;
    struct mq7_calibration c = d->cal;
    c.r0_ohm = mq7_r0_from_clean_air(mean, d->cfg.clean_air_ratio);
    if (!(cv <= d->cfg.calib_max_cv)) {
        calib_refuse(d, FW_CAL_E_UNSTABLE, c.r0_ohm,
                     "calibration refused: Rs not steady (air not clean or sensor not "
                     "settled); R0 kept. Variation (per mille)",
                     NULL, (int64_t)llround(cv * 1000));
        return;
    }
    if (mq7_calibration_check(&c) != NULL) {
        calib_refuse(d, FW_CAL_E_RANGE, c.r0_ohm,
                     "calibration refused: R0 out of the plausible 1-100 kOhm (air not "
                     "clean?); R0 kept. R0 (ohm)",
                     NULL, (int64_t)llround(c.r0_ohm));
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
    d->calib.sum_rs2 = 0;
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

/* Vc for this sample: the port's measurement when plausible (flags
 * FW_RD_VC_MEAS), else the nominal vc_v (FW_RD_SUPPLY when a measurement
 * was there but implausible). */
static double supply_volts(struct fw_device *d, unsigned *flags)
{
    if (!d->port.read_supply_v)
        return d->cal.vc_v;
    double v = d->port.read_supply_v(d->port.ctx);
    if (!(v >= 0))
        return d->cal.vc_v; /* negative or NaN: no measurement this time */
    if (v >= d->cfg.supply_min_v && v <= d->cfg.supply_max_v) {
        *flags |= FW_RD_VC_MEAS;
        d->stats.supply_v = v;
        return v;
    }
    *flags |= FW_RD_SUPPLY;
    d->stats.supply_bad++;
    log_msg(d, FW_LOG_WARN, "measured supply out of range; nominal Vc used (mV)", NULL,
            (int64_t)llround(v * 1000));
    return d->cal.vc_v;
}

static void take_sample(struct fw_device *d, int64_t now_ms)
{
    uint32_t v[FW_ADC_BURST_MAX];
    uint32_t n = d->cfg.adc_burst;
    struct fw_sample s = {.mono_ms = now_ms};
    bool adc_ok = true;
    double vc = d->cal.vc_v;
    for (uint32_t i = 0; i < n && adc_ok; i++)
        adc_ok = d->port.read_adc(d->port.ctx, &v[i]);
    if (adc_ok) {
        s.raw = median(v, n);
        vc = supply_volts(d, &s.flags);
        s.status = (uint8_t)mq7_raw_to_ppm_vc(&d->cal, s.raw, vc, &s.ppm);
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
    assess_local(d, &s, warmup);
    update_output(d, now_ms);

    if (!warmup)
        calibrate_sample(d, &s, vc);
    if (fw_agg_add(&d->agg, &s) >= d->per_report)
        finish_reading(d, now_ms);
}

/* ---- uplink ---- */

/* Removes the readings of the batch that are still held: the oldest ones,
 * up to its newest seq (the ring keeps the order; an overflow meanwhile may
 * have dropped some of them). */
static void pop_batch(struct fw_device *d)
{
    const struct fw_reading *r;
    while ((r = fw_ring_at(&d->ring, 0)) != NULL && r->seq <= d->http.last_seq)
        fw_ring_pop(&d->ring, 1);
}

/* The answer to the batch of d->http (status < 0: none). */
static void http_done(struct fw_device *d, int64_t now_ms, int status, uint32_t retry_after_s)
{
    uint32_t n = d->http.n;
    d->stats.last_status = status;
    if (status >= 200 && status < 300) {
        pop_batch(d);
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
            pop_batch(d);
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

bool fw_http_result(struct fw_device *d, int64_t now_ms, int status, uint32_t retry_after_s)
{
    if (!d->http.pending)
        return false;
    d->http.pending = false;
    http_done(d, now_ms, status == FW_HTTP_PENDING ? -1 : status, retry_after_s);
    return true;
}

static void uplink(struct fw_device *d, int64_t now_ms)
{
    if (!d->port.http_post || d->http.pending || fw_ring_count(&d->ring) == 0 ||
        now_ms < d->next_send_ms ||
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
    d->http.n = n;
    d->http.last_seq = fw_ring_at(&d->ring, n - 1)->seq;
    uint32_t retry_after_s = 0;
    int status =
        d->port.http_post(d->port.ctx, FW_READINGS_PATH, d->hdr, 2, d->body, len, &retry_after_s);
    d->stats.posts++;
    if (status == FW_HTTP_PENDING) {
        d->http.pending = true; /* fw_http_result finishes it */
        return;
    }
    http_done(d, now_ms, status, retry_after_s);
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
            save_preheat(d, now_ms);
            d->persist.flags |= FW_PERSIST_PREHEATED;
            save_persist(d);
        }
    } else if (!(d->persist.flags & FW_PERSIST_PREHEATED) &&
               now_ms - d->preheat_saved_ms >= FW_PREHEAT_SAVE_MS) {
        save_preheat(d, now_ms); /* a reboot resumes from here */
    }
    struct alarm_events aev;
    alarm_tick(&d->cfg.alarm, &d->alarm, alarm_clock(now_ms), &aev);
    log_events(d, &aev);
    update_output(d, now_ms);
    uplink(d, now_ms);
}
