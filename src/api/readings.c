/* readings.c - POST /v1/readings (single and batch, durable, idempotent) and
 * the per-device reading queries: range with cursor, latest, series, CSV. */
#include "api/api.h"

#include "core/buf.h"
#include "core/jsonv.h"
#include "core/timeutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- ingest ---- */

struct ingest {
    struct http_req *req;
    struct app *app;
    struct reading *r;
    uint8_t *dup;
    size_t n;
    json_t *seed_item; /* non-NULL: answer in the seed's POST /Dynamo/item shape */
    int64_t now;       /* receipt time */
    cb_err err;        /* set by ingest_done */
};

static void ingest_free(struct ingest *ig)
{
    if (!ig)
        return;
    free(ig->r);
    free(ig->dup);
    json_decref(ig->seed_item);
    free(ig);
}

/* Store thread: the readings are durable (or not). Only wakes the request. */
static void ingest_done(void *arg, cb_err err)
{
    struct ingest *ig = arg;
    ig->err = err;
    http_resume(ig->req);
}

/* HTTP thread, after ingest_done: the reply. */
static void ingest_reply(struct http_req *req, void *arg)
{
    struct ingest *ig = arg;
    if (ig->err != CB_OK) {
        http_reply_error(req, ig->err, "the readings were not stored (%s); retry later",
                         cb_strerror(ig->err));
    } else {
        size_t dups = 0;
        for (size_t i = 0; i < ig->n; i++)
            dups += ig->dup[i];
        metrics_readings(ig->app->metrics, ig->n - dups, dups);
        /* The alarm decision, in the request that stored the readings. */
        if (ig->app->alarms)
            alarm_service_readings(ig->app->alarms, ig->r, ig->dup, ig->n, ig->now);
        if (ig->seed_item) {
            http_reply_json(req, 201,
                            json_pack("{s:O,s:b}", "Item", ig->seed_item, "write_successful", 1));
        } else {
            char body[64];
            int len = snprintf(body, sizeof body, "{\"stored\":%zu,\"duplicates\":%zu}",
                               ig->n - dups, dups);
            char *copy = strdup(body);
            if (copy)
                http_reply_data(req, 201, "application/json", copy, (size_t)len);
            else
                http_reply_error(req, CB_ERR_NOMEM, "out of memory");
        }
    }
    ingest_free(ig);
}

/* Queues ig's readings; the reply comes from ingest_done after the commit.
 * Takes ig in every case. */
static void ingest_submit(struct app *app, struct http_req *req, struct ingest *ig, int64_t now)
{
    ig->now = now;
    /* Suspend first: the store may finish (and resume) before put returns. */
    http_suspend(req, ingest_reply, ig);
    cb_err rc =
        app->store->ops->put_readings(app->store, ig->r, ig->n, ig->dup, now, ingest_done, ig);
    if (rc != CB_OK)
        ingest_done(ig, rc); /* ingest_reply answers with the error */
}

void api_ingest_one(struct app *app, struct http_req *req, const struct reading *r,
                    json_t *seed_item)
{
    struct ingest *ig = calloc(1, sizeof *ig);
    if (!ig || !(ig->r = malloc(sizeof *ig->r)) || !(ig->dup = calloc(1, 1))) {
        http_reply_error(req, CB_ERR_NOMEM, "out of memory");
        json_decref(seed_item);
        ingest_free(ig);
        return;
    }
    *ig->r = *r;
    ig->n = 1;
    ig->req = req;
    ig->app = app;
    ig->seed_item = seed_item;
    ingest_submit(app, req, ig, app->now_ms());
}

static const char *const reading_keys[] = {"device_id",     "ts",           "co_ppm", "co_raw",
                                           "temperature_c", "humidity_pct", NULL};

bool api_reading_parse(const json_t *item, int64_t now, struct reading *out, const char **device_id,
                       struct api_raw *raw, struct jv_err *e)
{
    memset(out, 0, sizeof *out);
    if (raw)
        memset(raw, 0, sizeof *raw);
    if (!json_is_object(item)) {
        jv_fail(e, "", "each reading must be a JSON object");
        return false;
    }
    if (!jv_only_keys(item, reading_keys, e) ||
        !jv_string(item, "device_id", true, 1, 64, device_id, NULL, e))
        return false;
    if (!jv_valid_id(*device_id)) {
        jv_fail(e, "device_id", "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
        return false;
    }
    const json_t *ts = json_object_get(item, "ts");
    if (!ts || json_is_null(ts)) {
        out->ts_ms = now;
    } else if (json_is_string(ts)) {
        if (!rfc3339_parse(json_string_value(ts), json_string_length(ts), &out->ts_ms)) {
            jv_fail(e, "ts", "must be an RFC 3339 time such as 2026-11-25T16:00:00.000Z");
            return false;
        }
    } else if (json_is_number(ts)) {
        if (!epoch_seconds_to_ms(json_number_value(ts), &out->ts_ms)) {
            jv_fail(e, "ts", "must be a finite number of seconds since the epoch");
            return false;
        }
    } else {
        jv_fail(e, "ts", "must be an RFC 3339 string or a number of epoch seconds");
        return false;
    }
    if (out->ts_ms < API_TS_MIN_MS || out->ts_ms > now + API_TS_MAX_SKEW_MS) {
        jv_fail(e, "ts",
                "must be after 2000-01-01 and at most 5 minutes in the future "
                "(check the device clock)");
        return false;
    }
    /* co_raw: ADC counts, an integer (the widest ADC's range here; the
     * device's own range is checked with its calibration). */
    bool has_raw, has_ppm;
    int64_t rawv = 0;
    if (!jv_int(item, "co_raw", false, 0, CALIBRATION_RAW_MAX, &rawv, &has_raw, e))
        return false;
    if (!jv_number(item, "co_ppm", false, 0, 10000, &out->co_ppm, &has_ppm, e))
        return false;
    if (!has_ppm && !has_raw) {
        jv_fail(e, "co_ppm", "is required (or co_raw, ADC counts of a calibrated device)");
        return false;
    }
    if (has_raw && !has_ppm && !raw) {
        jv_fail(e, "co_raw", "is not accepted on this route; send co_ppm");
        return false;
    }
    if (raw && has_raw) {
        raw->present = true;
        raw->convert = !has_ppm;
        raw->value = rawv;
    }
    bool present;
    if (!jv_number(item, "temperature_c", false, -40, 125, &out->temp_c, &present, e))
        return false;
    if (present)
        out->flags |= READING_HAS_TEMP;
    if (!jv_number(item, "humidity_pct", false, 0, 100, &out->hum_pct, &present, e))
        return false;
    if (present)
        out->flags |= READING_HAS_HUM;
    return true;
}

bool api_reading_raw(struct app *app, const char *device_id, const struct api_raw *raw,
                     struct reading *r, struct api_cal_cache *cache, struct jv_err *e)
{
    if (!raw->present)
        return true;
    /* Parsed once per device per request: a batch is usually one device. */
    if (strcmp(cache->id, device_id) != 0) {
        calibration_load(registry_device_calibration_locked(app->reg, device_id), &cache->cal);
        snprintf(cache->id, sizeof cache->id, "%s", device_id);
    }
    if (!raw->convert) {
        /* Both sent: co_ppm is stored; co_raw must still fit the device's ADC. */
        uint32_t max = mq7_adc_max(&cache->cal.mq7);
        if (raw->value > (int64_t)max) {
            jv_fail(e, "co_raw", "must be an integer from 0 to %u (adc_bits %u)", max,
                    cache->cal.mq7.adc_bits);
            return false;
        }
        return true;
    }
    char why[sizeof e->reason];
    if (calibration_raw_to_ppm(&cache->cal, device_id, raw->value, &r->co_ppm, why, sizeof why)) {
        jv_fail(e, "co_raw", "%s", why);
        return false;
    }
    return true;
}

static json_t *item_error(size_t index, const struct jv_err *e)
{
    return json_pack("{s:I,s:s,s:s}", "index", (json_int_t)index, "field", e->field, "reason",
                     e->reason);
}

void api_readings_post(struct app *app, struct http_req *req)
{
    json_t *root = api_json_body(req);
    struct ingest *ig = NULL;
    json_t *errors = NULL;
    if (!root)
        return;
    size_t n = json_is_array(root) ? json_array_size(root) : 1;
    if (json_is_array(root) && n == 0) {
        http_reply_error(req, CB_ERR_VALIDATION, "the batch is empty: send 1 to %d readings",
                         API_MAX_BATCH);
        goto out;
    }
    if (n > API_MAX_BATCH) {
        http_reply_error(req, CB_ERR_TOO_LARGE,
                         "a batch holds at most %d readings (got %zu); split it", API_MAX_BATCH, n);
        goto out;
    }
    ig = calloc(1, sizeof *ig);
    if (!ig || !(ig->r = calloc(n, sizeof *ig->r)) || !(ig->dup = calloc(n, 1)) ||
        !(errors = json_array())) {
        http_reply_error(req, CB_ERR_NOMEM, "out of memory");
        goto out;
    }
    ig->req = req;
    ig->app = app;
    ig->n = n;
    int64_t now = app->now_ms();
    bool forbidden = false;
    const struct principal *who = http_who(req);
    struct api_cal_cache cache = {.id = ""};
    registry_rdlock(app->reg);
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_is_array(root) ? json_array_get(root, i) : root;
        const char *dev_id = NULL;
        struct jv_err e;
        struct api_raw raw;
        if (!api_reading_parse(item, now, &ig->r[i], &dev_id, &raw, &e)) {
            json_array_append_new(errors, item_error(i, &e));
            continue;
        }
        if (n == 1)
            http_log_device(req, dev_id);
        switch (registry_check_write(app->reg, who, dev_id, &ig->r[i].dev)) {
        case WRITE_OK:
            if (!api_reading_raw(app, dev_id, &raw, &ig->r[i], &cache, &e))
                json_array_append_new(errors, item_error(i, &e));
            break;
        case WRITE_UNKNOWN_DEVICE:
            jv_fail(&e, "device_id", "no device '%s' is registered", dev_id);
            json_array_append_new(errors, item_error(i, &e));
            break;
        case WRITE_FORBIDDEN:
            forbidden = true;
            jv_fail(&e, "device_id", "this key may not write readings for device '%s'", dev_id);
            json_array_append_new(errors, item_error(i, &e));
            break;
        }
    }
    registry_unlock(app->reg);
    if (json_array_size(errors)) {
        size_t bad = json_array_size(errors);
        json_t *extra = json_pack("{s:O}", "items", errors);
        if (forbidden)
            http_reply_error_with(req, CB_ERR_FORBIDDEN, extra,
                                  "%zu of %zu readings are for devices this key may not write; "
                                  "nothing was stored",
                                  bad, n);
        else
            http_reply_error_with(req, CB_ERR_VALIDATION, extra,
                                  "%zu of %zu readings are invalid; nothing was stored", bad, n);
        goto out;
    }
    json_decref(root); /* the parsed readings are in ig now */
    root = NULL;
    http_body_release(req);
    ingest_submit(app, req, ig, now); /* ingest_done answers after the commit */
    ig = NULL;
out:
    ingest_free(ig);
    json_decref(errors);
    json_decref(root);
}

/* ---- queries ---- */

static void csv_row(struct buf *b, const char *id, const struct reading *r)
{
    char ts[32], co[32], t[32] = "", h[32] = "";
    rfc3339_format(r->ts_ms, ts);
    api_fmt_num(co, sizeof co, r->co_ppm);
    if (r->flags & READING_HAS_TEMP)
        api_fmt_num(t, sizeof t, r->temp_c);
    if (r->flags & READING_HAS_HUM)
        api_fmt_num(h, sizeof h, r->hum_pct);
    buf_printf(b, "%s,%s,%s,%s,%s\n", id, ts, co, t, h);
}

void api_readings_list(struct app *app, struct http_req *req)
{
    const char *id = http_param(req, 0);
    uint32_t seq;
    if (!api_device_seq(app, req, id, &seq))
        return;
    bool csv;
    int64_t from = INT64_MIN, to = INT64_MAX, limit, cursor = 0;
    if (!api_format(req, &csv))
        return;
    limit = csv ? 10000 : 100;
    if (!api_time_param(req, "from", &from) || !api_time_param(req, "to", &to) ||
        !api_int_param(req, "limit", 1, csv ? 100000 : 1000, &limit))
        return;
    if (from >= to) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "from must be before to");
        return;
    }
    const char *order = http_query(req, "order");
    if (order && strcmp(order, "asc") != 0 && strcmp(order, "desc") != 0) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "order must be asc or desc");
        return;
    }
    bool desc = order && strcmp(order, "desc") == 0;
    const char *cur = http_query(req, "cursor");
    if (cur) {
        char *end;
        cursor = strtoll(cur, &end, 10);
        if (!*cur || *end || cursor <= 0 || cursor >= INT64_MAX) {
            http_reply_error(req, CB_ERR_BAD_REQUEST,
                             "cursor is not one this server issued; pass next_cursor unchanged");
            return;
        }
        if (desc)
            to = cursor < to ? cursor : to;
        else
            from = cursor + 1 > from ? cursor + 1 : from;
    }
    struct reading *rows = NULL;
    size_t n = 0;
    cb_err rc = CB_OK;
    if (from < to)
        rc = app->store->ops->query_readings(app->store, seq, from, to, desc, (size_t)limit + 1,
                                             &rows, &n);
    if (rc != CB_OK) {
        http_reply_error(req, rc, "query failed: %s", cb_strerror(rc));
        return;
    }
    bool more = n > (size_t)limit;
    if (more)
        n = (size_t)limit;
    char next[32] = "";
    if (more)
        snprintf(next, sizeof next, "%lld", (long long)rows[n - 1].ts_ms);
    if (csv) {
        struct buf b;
        buf_init(&b, 0);
        buf_puts(&b, "device_id,ts,co_ppm,temperature_c,humidity_pct\n");
        for (size_t i = 0; i < n; i++)
            csv_row(&b, id, &rows[i]);
        if (more)
            http_add_header(req, "X-Next-Cursor", next);
        size_t len = b.len;
        if (b.data)
            http_reply_data(req, 200, "text/csv; charset=utf-8", buf_steal(&b), len);
        else
            http_reply_error(req, CB_ERR_NOMEM, "out of memory");
        buf_free(&b);
    } else {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, api_reading_json(id, &rows[i]));
        http_reply_json(req, 200,
                        json_pack("{s:s,s:o,s:o}", "device_id", id, "readings", arr, "next_cursor",
                                  more ? json_string(next) : json_null()));
    }
    free(rows);
}

void api_readings_latest(struct app *app, struct http_req *req)
{
    const char *id = http_param(req, 0);
    uint32_t seq;
    if (!api_device_seq(app, req, id, &seq))
        return;
    struct device_live live;
    cb_err rc = app->store->ops->device_live(app->store, seq, &live);
    if (rc == CB_OK && !live.has_last)
        rc = CB_ERR_NOT_FOUND;
    if (rc == CB_ERR_NOT_FOUND) {
        http_reply_error(req, rc, "device '%s' has no readings yet", id);
        return;
    }
    if (rc != CB_OK) {
        http_reply_error(req, rc, "%s", cb_strerror(rc));
        return;
    }
    http_reply_json(req, 200, api_reading_json(id, &live.last));
}

/* ---- series ---- */

struct series_ctx {
    bool csv;
    json_t *arr;
    struct buf csvb;
    bool oom;
};

static bool series_bucket(void *arg, const struct store_bucket *b)
{
    struct series_ctx *c = arg;
    char ts[32];
    rfc3339_format(b->start, ts);
    double avg = b->co_sum / (double)b->count;
    if (c->csv) {
        char mn[32], mx[32], av[32], t[32] = "", h[32] = "";
        api_fmt_num(mn, sizeof mn, b->co_min);
        api_fmt_num(mx, sizeof mx, b->co_max);
        api_fmt_num(av, sizeof av, avg);
        if (b->temp_n)
            api_fmt_num(t, sizeof t, b->temp_sum / (double)b->temp_n);
        if (b->hum_n)
            api_fmt_num(h, sizeof h, b->hum_sum / (double)b->hum_n);
        c->oom |= !buf_printf(&c->csvb, "%s,%llu,%s,%s,%s,%s,%s\n", ts,
                              (unsigned long long)b->count, mn, mx, av, t, h);
    } else {
        json_t *o = json_pack(
            "{s:s,s:I,s:f,s:f,s:f,s:o,s:o}", "start", ts, "count", (json_int_t)b->count, "co_min",
            b->co_min, "co_max", b->co_max, "co_avg", avg, "temperature_c_avg",
            b->temp_n ? json_real(b->temp_sum / (double)b->temp_n) : json_null(),
            "humidity_pct_avg", b->hum_n ? json_real(b->hum_sum / (double)b->hum_n) : json_null());
        c->oom |= !o || json_array_append_new(c->arr, o) != 0;
    }
    return !c->oom;
}

void api_series(struct app *app, struct http_req *req)
{
    const char *id = http_param(req, 0);
    uint32_t seq;
    if (!api_device_seq(app, req, id, &seq))
        return;
    int64_t to = app->now_ms() + 1, from = INT64_MIN, step = 60;
    if (!api_time_param(req, "to", &to) || !api_time_param(req, "from", &from) ||
        !api_int_param(req, "step", 1, 366LL * 86400, &step))
        return;
    if (from == INT64_MIN)
        from = to - 86400000;
    if (from >= to) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "from must be before to");
        return;
    }
    int64_t step_ms = step * 1000;
    if ((to - from) / step_ms > 100000) {
        http_reply_error(req, CB_ERR_BAD_REQUEST,
                         "that range has over 100000 steps of %llds; use a larger step",
                         (long long)step);
        return;
    }
    struct series_ctx c = {0};
    if (!api_format(req, &c.csv))
        return;
    if (c.csv) {
        buf_init(&c.csvb, 0);
        buf_puts(&c.csvb, "start,count,co_min,co_max,co_avg,temperature_c_avg,humidity_pct_avg\n");
    } else {
        c.arr = json_array();
    }
    cb_err rc = app->store->ops->series(app->store, seq, from, to, step_ms, series_bucket, &c);
    if (rc != CB_OK || c.oom) {
        http_reply_error(req, rc != CB_OK ? rc : CB_ERR_NOMEM, "series failed");
        json_decref(c.arr);
        buf_free(&c.csvb);
        return;
    }
    if (c.csv) {
        size_t len = c.csvb.len;
        http_reply_data(req, 200, "text/csv; charset=utf-8", buf_steal(&c.csvb), len);
        return;
    }
    char f[32], t[32];
    rfc3339_format(from, f);
    rfc3339_format(to, t);
    http_reply_json(req, 200,
                    json_pack("{s:s,s:s,s:s,s:I,s:o}", "device_id", id, "from", f, "to", t, "step",
                              (json_int_t)step, "buckets", c.arr));
}
