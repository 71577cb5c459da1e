/* alerts.c - /v1/alerts: list with filters, one alert, acknowledge, mute,
 * and raise a manual alarm (SPEC 5). The decisions are the alarm engine's;
 * this file only translates HTTP. */
#include "api/api.h"

#include "core/ratelimit.h"
#include "notify/service.h"

#include "auth/auth.h"
#include "core/jsonv.h"
#include "core/timeutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALERTS_DEFAULT_LIMIT 100
#define ALERTS_MAX_LIMIT 1000
#define MUTE_DEFAULT_MIN 10

static json_t *opt_time(int64_t ms)
{
    if (!ms)
        return json_null();
    char ts[32];
    rfc3339_format(ms, ts);
    return json_string(ts);
}

#define ALERT_MAX_LOG 500 /* messages shown per alert (reminders included) */

static json_t *notifications_json(struct app *app, int64_t id)
{
    json_t *arr = json_array();
    struct notification *v = NULL;
    size_t n = 0;
    if (arr && app->store->ops->notif_list(app->store, id, ALERT_MAX_LOG, &v, &n) == CB_OK)
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, notify_json(&v[i]));
    free(v);
    return arr;
}

/* An alert as JSON; with_log: with its notification log (one alert; a
 * list leaves the logs out: they can be long). */
static json_t *alert_json_log(struct app *app, const struct alert *a, bool with_log)
{
    char dev[65] = "";
    if (!alarm_service_device_id(app->alarms, a->dev, dev))
        snprintf(dev, sizeof dev, "(deleted)");
    int64_t end = a->cleared_ms ? a->cleared_ms : app->now_ms();
    int64_t dur = end > a->raised_ms ? (end - a->raised_ms) / 1000 : 0;
    json_t *o = json_pack(
        "{s:I,s:s,s:s,s:s,s:s,s:b,s:b,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:f,s:f,s:I,s:o}", "id",
        (json_int_t)a->id, "device_id", dev, "kind", alarm_kind_name((enum alarm_kind)a->kind),
        "severity", alarm_severity_name((enum alarm_severity)a->severity), "state",
        alert_state_name(a), "active", a->active, "acknowledged", a->acked, "raised_at",
        opt_time(a->raised_ms), "updated_at", opt_time(a->updated_ms), "cleared_at",
        opt_time(a->cleared_ms), "acknowledged_at", opt_time(a->acked_ms), "acknowledged_by",
        a->acked_by[0] ? json_string(a->acked_by) : json_null(), "muted_until",
        a->active && a->muted_until_ms > app->now_ms() ? opt_time(a->muted_until_ms) : json_null(),
        "recorded_at", opt_time(a->recorded_ms), "trigger_ppm", a->trigger_ppm, "peak_ppm",
        a->peak_ppm, "duration_s", (json_int_t)dur, "message",
        a->message[0] ? json_string(a->message) : json_null());
    /* Who was told, how, and when (the outbox, oldest first). */
    if (o && with_log)
        json_object_set_new(o, "notifications", notifications_json(app, a->id));
    return o;
}

static json_t *alert_json(struct app *app, const struct alert *a)
{
    return alert_json_log(app, a, true);
}

/* Parses {id} of /v1/alerts/{id}; replies 400 on error. */
static bool alert_id(struct http_req *req, int64_t *id)
{
    const char *s = http_param(req, 0);
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v <= 0) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "alert ids are positive integers (got '%.32s')",
                         s);
        return false;
    }
    *id = v;
    return true;
}

static void reply_alert_err(struct http_req *req, cb_err rc, int64_t id)
{
    if (rc == CB_ERR_NOT_FOUND)
        http_reply_error(req, rc, "no alert with id %lld", (long long)id);
    else
        http_reply_error(req, rc, "%s", cb_strerror(rc));
}

/* state= filter: the four states, or active / cleared / unack / ack. */
static bool parse_state(const char *s, int *active, int *acked)
{
    static const struct {
        const char *name;
        int active, acked;
    } states[] = {
        {"active_unack", 1, 0}, {"active_ack", 1, 1}, {"cleared_unack", 0, 0},
        {"cleared_ack", 0, 1},  {"active", 1, -1},    {"cleared", 0, -1},
        {"unack", -1, 0},       {"ack", -1, 1},
    };
    for (size_t i = 0; i < sizeof states / sizeof *states; i++)
        if (strcmp(s, states[i].name) == 0) {
            *active = states[i].active;
            *acked = states[i].acked;
            return true;
        }
    return false;
}

void api_alerts_list(struct app *app, struct http_req *req)
{
    struct alert_filter f = {
        .kind = -1, .active = -1, .acked = -1, .from = INT64_MIN, .to = INT64_MAX};
    int64_t limit = ALERTS_DEFAULT_LIMIT, cursor = 0;
    const char *state = http_query(req, "state");
    const char *kind = http_query(req, "kind");
    const char *dev = http_query(req, "device_id");
    if (state && !parse_state(state, &f.active, &f.acked)) {
        http_reply_error(req, CB_ERR_BAD_REQUEST,
                         "state must be active_unack, active_ack, cleared_unack, cleared_ack, "
                         "active, cleared, unack or ack");
        return;
    }
    if (kind) {
        enum alarm_kind k = alarm_kind_parse(kind);
        if (k == ALARM_NKINDS) {
            http_reply_error(req, CB_ERR_BAD_REQUEST,
                             "kind must be co_high, co_exposure, co_rising, offline, "
                             "sensor_fault or manual");
            return;
        }
        f.kind = (int)k;
    }
    /* A user sees the alerts of their own devices only. */
    const struct principal *who = http_who(req);
    f.owner = auth_scope(who);
    if (dev && auth_object(app, ACCESS_OWNER, OBJ_DEVICE, dev, who) != CB_OK) {
        api_reply_err(req, CB_ERR_NOT_FOUND, "device", dev);
        return;
    }
    if (dev && !api_device_seq(app, req, dev, &f.dev))
        return;
    if (!api_time_param(req, "from", &f.from) || !api_time_param(req, "to", &f.to) ||
        !api_int_param(req, "limit", 1, ALERTS_MAX_LIMIT, &limit) ||
        !api_int_param(req, "cursor", 1, INT64_MAX - 1, &cursor))
        return;
    if (f.from > f.to) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "from must not be after to");
        return;
    }
    f.limit = (size_t)limit;
    f.before_id = cursor;
    alarm_service_sync(app->alarms);
    struct alert *v = NULL;
    size_t n = 0;
    cb_err rc = app->store->ops->alerts_query(app->store, &f, &v, &n);
    if (rc != CB_OK) {
        http_reply_error(req, rc, "%s", cb_strerror(rc));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, alert_json_log(app, &v[i], false));
    json_t *next = json_null();
    if (n == f.limit && n > 0) {
        char c[24];
        snprintf(c, sizeof c, "%lld", (long long)v[n - 1].id);
        next = json_string(c);
    }
    free(v);
    http_reply_json(req, 200, json_pack("{s:o,s:o}", "alerts", arr, "next_cursor", next));
}

void api_alerts_get(struct app *app, struct http_req *req)
{
    int64_t id;
    struct alert a;
    if (!alert_id(req, &id))
        return;
    alarm_service_sync(app->alarms);
    cb_err rc = app->store->ops->alert_get(app->store, id, &a);
    if (rc != CB_OK) {
        reply_alert_err(req, rc, id);
        return;
    }
    http_reply_json(req, 200, alert_json(app, &a));
}

void api_alerts_ack(struct app *app, struct http_req *req)
{
    int64_t id;
    struct alert a;
    if (!alert_id(req, &id))
        return;
    cb_err rc = alarm_service_ack(app->alarms, id, auth_actor(http_who(req)), app->now_ms(), &a);
    if (rc != CB_OK) {
        reply_alert_err(req, rc, id);
        return;
    }
    if (app->notify)
        notify_poke(app->notify, id); /* escalation stops now */
    http_reply_json(req, 200, alert_json(app, &a));
}

void api_alerts_mute(struct app *app, struct http_req *req)
{
    int64_t id, minutes = MUTE_DEFAULT_MIN;
    struct alert a;
    if (!alert_id(req, &id) || !api_int_param(req, "minutes", 1, 1440, &minutes))
        return;
    double ppm;
    cb_err rc = alarm_service_mute(app->alarms, id, minutes * 60000, app->now_ms(), &a, &ppm);
    switch (rc) {
    case CB_OK:
        http_reply_json(req, 200, alert_json(app, &a));
        break;
    case CB_ERR_FORBIDDEN:
        http_reply_error_with(req, CB_ERR_CONFLICT, json_pack("{s:f}", "co_ppm", ppm),
                              "CO is %.0f ppm: an alarm cannot be silenced at 150 ppm or more. "
                              "Leave the area now and call the emergency number",
                              ppm);
        break;
    case CB_ERR_CONFLICT:
        http_reply_error(req, rc, "alert %lld is not active (%s): there is nothing to mute",
                         (long long)id, alert_state_name(&a));
        break;
    default:
        reply_alert_err(req, rc, id);
    }
}

void api_alerts_create(struct app *app, struct http_req *req)
{
    static const char *const keys[] = {"device_id", "message", "severity", NULL};
    json_t *body = api_json_body(req);
    if (!body)
        return;
    struct jv_err e = {{0}, {0}};
    const char *dev = NULL, *msg = NULL, *sev = "critical";
    if (!json_is_object(body)) {
        jv_fail(&e, "body", "must be a JSON object like {\"device_id\":\"kitchen\"}");
    } else if (jv_only_keys(body, keys, &e) &&
               jv_string(body, "device_id", true, 1, 64, &dev, NULL, &e) &&
               jv_string(body, "message", false, 0, 256, &msg, NULL, &e) &&
               jv_string(body, "severity", false, 1, 16, &sev, NULL, &e) &&
               strcmp(sev, "critical") != 0 && strcmp(sev, "warning") != 0) {
        jv_fail(&e, "severity", "must be \"critical\" or \"warning\"");
    }
    if (!e.reason[0] && dev && !jv_valid_id(dev))
        jv_fail(&e, "device_id", "must be 1-64 characters of A-Z a-z 0-9 . _ : -");
    if (e.reason[0]) {
        http_reply_error_with(req, CB_ERR_VALIDATION,
                              json_pack("{s:s,s:s}", "field", e.field, "reason", e.reason),
                              "%s%s%s", e.field, e.field[0] ? " " : "", e.reason);
        json_decref(body);
        return;
    }
    uint32_t seq;
    int retry = 0;
    if (auth_object(app, ACCESS_OWNER, OBJ_DEVICE, dev, http_who(req)) != CB_OK)
        api_reply_err(req, CB_ERR_NOT_FOUND, "device", dev);
    else if (!ratelimit_take(app->manual_rl, auth_actor(http_who(req)), 1, app->now_ms(), &retry))
        /* A manual alarm pages people: 10 per person, then one every 6 min. */
        http_reply_limited(req, retry, "manual alarms");
    else if (api_device_seq(app, req, dev, &seq)) {
        struct alert a;
        enum alarm_severity s =
            strcmp(sev, "warning") == 0 ? ALARM_SEV_WARNING : ALARM_SEV_CRITICAL;
        cb_err rc = alarm_service_manual(app->alarms, seq, s, msg, auth_actor(http_who(req)),
                                         app->now_ms(), &a);
        if (rc == CB_OK) {
            char loc[48];
            snprintf(loc, sizeof loc, "/v1/alerts/%lld", (long long)a.id);
            http_add_header(req, "Location", loc);
            http_reply_json(req, 201, alert_json(app, &a));
        } else if (rc == CB_ERR_CONFLICT) {
            http_reply_error_with(req, rc, json_pack("{s:I}", "alert_id", (json_int_t)a.id),
                                  "device %s already has an active manual alarm (alert %lld); "
                                  "acknowledge it first",
                                  dev, (long long)a.id);
        } else {
            api_reply_err(req, rc, "device", dev);
        }
    }
    json_decref(body);
}
