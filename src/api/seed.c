/* seed.c - the original service's reading routes, same names and response
 * shapes (SPEC 8), without its bugs: CO is stored and returned in ppm as
 * sent (the seed's formula could never exceed 38.5 ppm), temperature and
 * humidity are returned as stored. Items look like DynamoDB's CarBon_Data:
 *   {"device_id","timestamp" (epoch seconds),"CO" (string),"temperature","humidity"} */
#include "api/api.h"

#include "core/jsonv.h"
#include "core/timeutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEED_MAX_RESULTS 10000

static json_t *seed_item(const char *device_id, const struct reading *r)
{
    char co[32];
    api_fmt_num(co, sizeof co, r->co_ppm);
    json_t *ts =
        r->ts_ms % 1000 == 0 ? json_integer(r->ts_ms / 1000) : json_real((double)r->ts_ms / 1000.0);
    json_t *o = json_pack("{s:s,s:o,s:s}", "device_id", device_id, "timestamp", ts, "CO", co);
    if (o && (r->flags & READING_HAS_TEMP))
        json_object_set_new(o, "temperature", json_real(r->temp_c));
    if (o && (r->flags & READING_HAS_HUM))
        json_object_set_new(o, "humidity", json_real(r->hum_pct));
    return o;
}

/* A required item_id query parameter naming a registered device. */
static bool item_device(struct app *app, struct http_req *req, const char *id, uint32_t *seq)
{
    if (!id || !*id) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "item_id is required (the device id)");
        return false;
    }
    if (!jv_valid_id(id)) {
        http_reply_error(req, CB_ERR_BAD_REQUEST,
                         "item_id must be 1-64 characters of A-Z a-z 0-9 . _ : -");
        return false;
    }
    return api_device_seq(app, req, id, seq);
}

/* Decimal digits from s; returns how many (0: none). */
static size_t digits(const char *s)
{
    size_t n = 0;
    while (s[n] >= '0' && s[n] <= '9')
        n++;
    return n;
}

/* Strict decimal number, the whole string: an optional '-', digits, an
 * optional '.' and digits, an optional exponent (e or E, an optional sign,
 * digits); finite. Not hex ("0x10"), inf or nan, blanks or a leading '+',
 * all of which strtod alone would take. */
static bool parse_num(const char *s, double *out)
{
    if (!s || !*s || strlen(s) > 64)
        return false;
    size_t i = s[0] == '-';
    size_t n = digits(s + i);
    if (!n)
        return false;
    i += n;
    if (s[i] == '.') {
        if (!(n = digits(s + i + 1)))
            return false;
        i += 1 + n;
    }
    if (s[i] == 'e' || s[i] == 'E') {
        i += 1 + (s[i + 1] == '+' || s[i + 1] == '-');
        if (!(n = digits(s + i)))
            return false;
        i += n;
    }
    if (s[i])
        return false;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

void api_seed_tables(struct app *app, struct http_req *req)
{
    http_reply_json(req, 200, json_pack("{s:[s,s]}", "TableNames", "CarBon_Data", "user_table"));
}

void api_seed_item_get(struct app *app, struct http_req *req)
{
    const char *id = http_param(req, 0);
    uint32_t seq;
    int64_t ms;
    if (!item_device(app, req, id, &seq))
        return;
    if (!time_param_parse(http_param(req, 1), &ms)) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "timestamp must be epoch seconds");
        return;
    }
    struct reading *rows = NULL;
    size_t n = 0;
    cb_err rc = app->store->ops->query_readings(app->store, seq, ms, ms + 1, false, 1, &rows, &n);
    if (rc == CB_OK && n == 0)
        rc = CB_ERR_NOT_FOUND;
    if (rc == CB_OK)
        http_reply_json(req, 200, json_pack("{s:o}", "Item", seed_item(id, &rows[0])));
    else if (rc == CB_ERR_NOT_FOUND)
        http_reply_error(req, rc, "no item for device '%s' at timestamp %s", id,
                         http_param(req, 1));
    else
        http_reply_error(req, rc, "%s", cb_strerror(rc));
    free(rows);
}

struct items_ctx {
    const char *id;
    json_t *arr;
    size_t n;
    bool truncated;
};

static bool items_add(void *arg, const struct reading *r)
{
    struct items_ctx *c = arg;
    if (c->n >= SEED_MAX_RESULTS) {
        c->truncated = true;
        return false;
    }
    json_array_append_new(c->arr, seed_item(c->id, r));
    c->n++;
    return true;
}

void api_seed_items(struct app *app, struct http_req *req)
{
    const char *id = http_query(req, "item_id");
    uint32_t seq;
    if (!item_device(app, req, id, &seq))
        return;
    int64_t from = INT64_MIN / 2, to = INT64_MAX / 2;
    if (!api_time_param(req, "from_timestamp", &from) || !api_time_param(req, "to_timestamp", &to))
        return;
    if (from > to) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "from_timestamp must not be after to_timestamp");
        return;
    }
    /* The seed's range was inclusive at both ends (DynamoDB BETWEEN). */
    struct items_ctx c = {.id = id, .arr = json_array()};
    cb_err rc = app->store->ops->scan_readings(app->store, seq, from, to + 1, items_add, &c);
    if (rc != CB_OK) {
        json_decref(c.arr);
        http_reply_error(req, rc, "%s", cb_strerror(rc));
        return;
    }
    json_t *meta = json_pack("{s:I}", "count", (json_int_t)c.n);
    if (c.truncated)
        json_object_set_new(meta, "truncated", json_true());
    http_reply_json(req, 200, json_pack("{s:o,s:o}", "Results", c.arr, "Metadata", meta));
}

void api_seed_items_latest(struct app *app, struct http_req *req)
{
    const char *id = http_query(req, "item_id");
    uint32_t seq;
    if (!item_device(app, req, id, &seq))
        return;
    struct device_live live;
    cb_err rc = app->store->ops->device_live(app->store, seq, &live);
    if (rc == CB_OK && !live.has_last)
        rc = CB_ERR_NOT_FOUND;
    if (rc == CB_OK)
        http_reply_json(req, 200, json_pack("{s:o}", "Item", seed_item(id, &live.last)));
    else if (rc == CB_ERR_NOT_FOUND)
        http_reply_error(req, rc, "device '%s' has no items yet", id);
    else
        http_reply_error(req, rc, "%s", cb_strerror(rc));
}

void api_seed_item_post(struct app *app, struct http_req *req)
{
    const char *id = http_query(req, "item_id");
    struct reading r = {0};
    if (!id || !*id || !jv_valid_id(id)) {
        http_reply_error(req, CB_ERR_BAD_REQUEST,
                         "item_id (the device id, 1-64 characters of A-Z a-z 0-9 . _ : -) is "
                         "required");
        return;
    }
    http_log_device(req, id);
    registry_rdlock(app->reg);
    enum write_check wc = registry_check_write(app->reg, http_who(req), id, &r.dev);
    registry_unlock(app->reg);
    if (wc == WRITE_FORBIDDEN) {
        http_reply_error(req, CB_ERR_FORBIDDEN, "this key may not write items for device '%s'", id);
        return;
    }
    if (wc == WRITE_UNKNOWN_DEVICE) {
        http_reply_error(req, CB_ERR_VALIDATION, "no device '%s' is registered", id);
        return;
    }
    /* CO is ppm, or ADC counts when the device's calibration says
     * "input":"raw" (then converted as co_raw is, api/calibration.h). */
    struct device_calibration cal;
    registry_rdlock(app->reg);
    calibration_load(registry_device_calibration_locked(app->reg, id), &cal);
    registry_unlock(app->reg);
    const char *co = http_query(req, "CO"), *t = http_query(req, "Temp"),
               *h = http_query(req, "Hum");
    if (cal.input_raw) {
        double counts;
        char why[200];
        if (!parse_num(co, &counts) || counts != floor(counts) || counts < 0 ||
            counts > (double)CALIBRATION_RAW_MAX) {
            http_reply_error(req, CB_ERR_VALIDATION,
                             "CO is required: this device sends raw ADC counts (calibration "
                             "input \"raw\"), an integer from 0 to %u",
                             mq7_adc_max(&cal.mq7));
            return;
        }
        if (calibration_raw_to_ppm(&cal, id, (int64_t)counts, &r.co_ppm, why, sizeof why)) {
            http_reply_error(req, CB_ERR_VALIDATION, "CO %s", why);
            return;
        }
    } else if (!parse_num(co, &r.co_ppm) || r.co_ppm < 0 || r.co_ppm > 10000) {
        http_reply_error(req, CB_ERR_VALIDATION, "CO is required: the CO level in ppm, 0 to 10000");
        return;
    }
    if (t) {
        if (!parse_num(t, &r.temp_c) || r.temp_c < -40 || r.temp_c > 125) {
            http_reply_error(req, CB_ERR_VALIDATION, "Temp must be a number from -40 to 125 (C)");
            return;
        }
        r.flags |= READING_HAS_TEMP;
    }
    if (h) {
        if (!parse_num(h, &r.hum_pct) || r.hum_pct < 0 || r.hum_pct > 100) {
            http_reply_error(req, CB_ERR_VALIDATION, "Hum must be a number from 0 to 100 (%%)");
            return;
        }
        r.flags |= READING_HAS_HUM;
    }
    r.ts_ms = app->now_ms();
    api_ingest_one(app, req, &r, seed_item(id, &r));
}
