/* api.h - route handlers and the helpers they share. */
#ifndef CARBON_API_H
#define CARBON_API_H
#include "api/calibration.h"
#include "app.h"
#include "http/http.h"

#include <jansson.h>

#define API_MAX_BATCH 1000
#define API_TS_MIN_MS 946684800000LL /* 2000-01-01T00:00:00Z: earlier means no clock */
#define API_TS_MAX_SKEW_MS 300000LL  /* readings may be at most 5 min in the future */

/* The route table (routes.c). */
extern const struct route api_routes[];
extern const size_t api_nroutes;

/* readings.c */
void api_readings_post(struct app *app, struct http_req *req);
void api_readings_list(struct app *app, struct http_req *req);
void api_readings_latest(struct app *app, struct http_req *req);
void api_series(struct app *app, struct http_req *req);
/* The co_raw of a reading (ADC counts, SPEC 3 and 6). A reading carries
 * co_ppm, co_raw, or both: with co_raw alone (convert) the server converts
 * it with the device's calibration (api/calibration.h); with both, co_ppm
 * (the device's own conversion) is stored and co_raw is only range-checked
 * against the device's ADC. */
struct api_raw {
    bool present;
    bool convert; /* no co_ppm: out->co_ppm is 0 until converted */
    int64_t value;
};
/* Validates one reading object of POST /v1/readings (SPEC 3). On success
 * fills *out (out->dev left 0), *device_id (borrowed from item) and *raw;
 * else false with the field and reason in *e. now_ms is the receipt time.
 * raw NULL: a reading with co_raw alone is refused (a caller that cannot
 * convert). */
struct jv_err;
bool api_reading_parse(const json_t *item, int64_t now_ms, struct reading *out,
                       const char **device_id, struct api_raw *raw, struct jv_err *e);
/* Converts or checks raw for the device (call under registry_rdlock: the
 * calibration text is the registry's). cache: the last device's parsed
 * calibration, kept between the items of one batch (zero it first). False
 * with *e (field co_raw) when the value cannot be stored. */
struct api_cal_cache {
    char id[65]; /* "" : empty */
    struct device_calibration cal;
};
bool api_reading_raw(struct app *app, const char *device_id, const struct api_raw *raw,
                     struct reading *r, struct api_cal_cache *cache, struct jv_err *e);
/* Stores one reading and answers 201 after the commit (in the seed's
 * {"Item","write_successful"} shape when seed_item, which it takes, is set). */
void api_ingest_one(struct app *app, struct http_req *req, const struct reading *r,
                    json_t *seed_item);

/* devices.c */
void api_devices_create(struct app *app, struct http_req *req);
void api_devices_list(struct app *app, struct http_req *req);
void api_devices_get(struct app *app, struct http_req *req);
void api_devices_patch(struct app *app, struct http_req *req);
void api_devices_delete(struct app *app, struct http_req *req);
void api_devices_rotate(struct app *app, struct http_req *req);

/* gateways.c */
void api_gateways_create(struct app *app, struct http_req *req);
void api_gateways_list(struct app *app, struct http_req *req);
void api_gateways_get(struct app *app, struct http_req *req);
void api_gateways_patch(struct app *app, struct http_req *req);
void api_gateways_delete(struct app *app, struct http_req *req);
void api_gateways_rotate(struct app *app, struct http_req *req);

/* users.c */
void api_users_create(struct app *app, struct http_req *req);
void api_users_list(struct app *app, struct http_req *req);
void api_users_get(struct app *app, struct http_req *req);
void api_users_patch(struct app *app, struct http_req *req);
void api_users_delete(struct app *app, struct http_req *req);
void api_users_contacts(struct app *app, struct http_req *req);
void api_auth_login(struct app *app, struct http_req *req);
void api_auth_logout(struct app *app, struct http_req *req);
void api_me(struct app *app, struct http_req *req);
void api_seed_user_new(struct app *app, struct http_req *req);
void api_seed_user_contacts(struct app *app, struct http_req *req);

/* alerts.c */
void api_alerts_list(struct app *app, struct http_req *req);
void api_alerts_get(struct app *app, struct http_req *req);
void api_alerts_ack(struct app *app, struct http_req *req);
void api_alerts_mute(struct app *app, struct http_req *req);
void api_alerts_create(struct app *app, struct http_req *req);

/* notify.c: notifications and Twilio's webhooks (SPEC 5, 8) */
void api_notify_test(struct app *app, struct http_req *req);
void api_seed_send_sms(struct app *app, struct http_req *req);
void api_seed_make_call(struct app *app, struct http_req *req);
void api_twilio_status(struct app *app, struct http_req *req);
void api_twilio_inbound(struct app *app, struct http_req *req);
void api_twilio_voice(struct app *app, struct http_req *req);

/* seed.c: the original service's routes */
void api_seed_tables(struct app *app, struct http_req *req);
void api_seed_item_get(struct app *app, struct http_req *req);
void api_seed_items(struct app *app, struct http_req *req);
void api_seed_items_latest(struct app *app, struct http_req *req);
void api_seed_item_post(struct app *app, struct http_req *req);

/* graph.c: charts (SPEC 7) and the seed's graph route (SPEC 8) */
void api_graph(struct app *app, struct http_req *req);
void api_seed_graph(struct app *app, struct http_req *req);

/* ops.c */
void api_healthz(struct app *app, struct http_req *req);
void api_readyz(struct app *app, struct http_req *req);
void api_metrics(struct app *app, struct http_req *req);
void api_openapi(struct app *app, struct http_req *req);

/* ---- shared helpers (util.c) ---- */

/* {"device_id","ts","co_ppm"[,"temperature_c"][,"humidity_pct"]} */
json_t *api_reading_json(const char *device_id, const struct reading *r);
/* A JSON string, or null for NULL. */
json_t *api_opt_str(const char *s);
/* Stored JSON text parsed, or fallback (taken) if NULL or unreadable. */
json_t *api_json_text(const char *text, json_t *fallback);
/* Parses the JSON body of req; on failure replies (415/400) and returns NULL. */
json_t *api_json_body(struct http_req *req);
/* Reads an optional time query parameter; on a bad value replies 400 and
 * returns false. *ms is left alone when absent. */
bool api_time_param(struct http_req *req, const char *name, int64_t *ms);
/* Reads an optional integer query parameter in [min,max]; replies 400 on error. */
bool api_int_param(struct http_req *req, const char *name, int64_t min, int64_t max, int64_t *out);
/* Sets *csv when the client asked for CSV (format=csv, or Accept: text/csv
 * without format=). An unknown format= replies 400 and returns false. */
bool api_format(struct http_req *req, bool *csv);
/* Looks up the store sequence number of device id for a read route; replies
 * 404 and returns false if there is no such device. */
bool api_device_seq(struct app *app, struct http_req *req, const char *id, uint32_t *seq);
/* Replies with the store/registry error e for the object named. */
void api_reply_err(struct http_req *req, cb_err e, const char *what, const char *id);
/* Appends a number formatted for CSV/JSON-free output ("%.10g"). */
void api_fmt_num(char *out, size_t n, double v);

#endif
