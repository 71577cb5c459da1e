/* devices.c - /v1/devices: register (key returned once), list, read, patch,
 * delete, rotate key. */
#include "api/api.h"

#include "alarm/settings.h"
#include "api/calibration.h"
#include "auth/auth.h"
#include "core/ulid.h"
#include "core/jsonv.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "notify/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_OFFLINE_AFTER_S 600

static json_t *device_json(struct app *app, const struct device *d)
{
    char created[32];
    rfc3339_format(d->created_ms, created);
    struct device_live live = {0};
    app->store->ops->device_live(app->store, d->seq, &live);
    /* Always show the effective settings, defaults included. */
    struct alarm_config cfg;
    alarm_settings_config(d->thresholds, d->offline_after_s, &cfg);
    json_t *thr = alarm_settings_json(&cfg);
    int64_t now = app->now_ms();
    bool online = live.last_seen_ms && now - live.last_seen_ms <= d->offline_after_s * 1000;
    json_t *seen = json_null();
    if (live.last_seen_ms) {
        char ts[32];
        rfc3339_format(live.last_seen_ms, ts);
        seen = json_string(ts);
    }
    struct notify_policy defaults, pol;
    notify_policy_default(&defaults);
    notify_policy_from(d->notify, &defaults, app->notify_min_delay_s, &pol);
    return json_pack("{s:s,s:o,s:o,s:o,s:o,s:o,s:I,s:s,s:o,s:s,s:o,s:s,s:o}", "id", d->id, "name",
                     api_opt_str(d->name), "location", api_opt_str(d->location), "owner",
                     api_opt_str(d->owner), "thresholds", thr, "calibration",
                     api_json_text(d->calibration, json_object()), "offline_after_s",
                     (json_int_t)d->offline_after_s, "created_at", created, "last_seen", seen,
                     "status", online ? "online" : "offline", "last_reading",
                     live.has_last ? api_reading_json(d->id, &live.last) : json_null(), "standard",
                     alarm_standard_get(cfg.standard)->name, "notify", notify_policy_json(&pol));
}

static void prefix_field(struct jv_err *e, const char *parent)
{
    char f[sizeof e->field];
    snprintf(f, sizeof f, "%s.%.48s", parent, e->field);
    memcpy(e->field, f, sizeof e->field);
}

/* Validates the settable fields present in body into d (which holds the
 * current values for a patch). Replies 422 and returns false on error. */
static bool apply_fields(struct app *app, struct http_req *req, const json_t *body,
                         struct device *d)
{
    struct jv_err e = {{0}, {0}};
    const char *name = NULL, *location = NULL, *owner = NULL;
    bool has_name = false, has_loc = false, has_owner = false, has_off = false;
    int64_t off = 0;
    if (!jv_string(body, "name", false, 0, 128, &name, &has_name, &e) ||
        !jv_string(body, "location", false, 0, 256, &location, &has_loc, &e) ||
        !jv_string(body, "owner", false, 0, 64, &owner, &has_owner, &e) ||
        !jv_int(body, "offline_after_s", false, 10, 30 * 86400, &off, &has_off, &e))
        goto bad;
    /* The alarm settings: "thresholds", and "standard" as a shorthand for
     * thresholds.standard. A patch changes only the keys it names; the
     * merged result is checked as a whole (never silently reset a level). */
    if (json_is_null(json_object_get(body, "owner"))) {
        has_owner = true; /* null: no owner */
        owner = NULL;
    }
    /* The owner is a user; only an admin gives a device to someone else. */
    const struct principal *who = http_who(req);
    char canon[27] = "";
    if (has_owner && owner && owner[0]) {
        snprintf(canon, sizeof canon, "%s", owner);
        if (strlen(owner) != ULID_LEN || !ulid_canonical(canon) ||
            !users_exists(app->users, canon)) {
            jv_fail(&e, "owner", "must be the id of a user (or null)");
            goto bad;
        }
        owner = canon;
    }
    if (!auth_is_admin(who)) {
        bool mine = !has_owner || (owner && strcmp(owner, who->id) == 0);
        if (!mine) {
            http_reply_error(req, CB_ERR_FORBIDDEN,
                             "only an admin can give a device to someone else");
            return false;
        }
        has_owner = true; /* a user's device is theirs */
        owner = who->id;
    }
    if (has_owner && owner && !owner[0])
        owner = NULL;
    const json_t *thr = json_object_get(body, "thresholds");
    const json_t *std = json_object_get(body, "standard");
    char *thr_text = NULL, *cal_text = NULL, *notify_text = NULL;
    if ((thr && !json_is_null(thr)) || std) {
        json_t *patch = thr && json_is_object(thr)  ? json_copy((json_t *)thr)
                        : thr && !json_is_null(thr) ? json_incref((json_t *)thr)
                                                    : json_object();
        if (std && json_is_object(patch))
            json_object_set(patch, "standard", (json_t *)std);
        bool ok = alarm_settings_merge(d->thresholds, patch, &thr_text, &e);
        json_decref(patch);
        if (!ok) {
            if (strcmp(e.field, "thresholds") != 0 && strcmp(e.field, "standard") != 0)
                prefix_field(&e, "thresholds");
            goto bad;
        }
    }
    const json_t *cal = json_object_get(body, "calibration");
    if (cal && !json_is_null(cal)) {
        /* Checked as the conversion will use it (api/calibration.h), so an
         * unusable calibration is refused now rather than every co_raw. */
        struct device_calibration parsed;
        if (!calibration_parse(cal, &parsed, &e)) {
            if (e.field[0])
                prefix_field(&e, "calibration");
            else
                memcpy(e.field, "calibration", sizeof "calibration");
            goto bad_free;
        }
        cal_text = json_dumps(cal, JSON_COMPACT | JSON_SORT_KEYS);
    }
    const json_t *nt = json_object_get(body, "notify");
    if (nt && !json_is_null(nt) &&
        !notify_policy_merge(d->notify, nt, app->notify_min_delay_s, &notify_text, &e)) {
        if (strcmp(e.field, "notify") != 0)
            prefix_field(&e, "notify");
        free(cal_text);
        goto bad_free;
    }
#define SET_STR(field, has, val)                                                                   \
    if (has) {                                                                                     \
        free(d->field);                                                                            \
        d->field = strdup(val);                                                                    \
    }
    SET_STR(name, has_name, name)
    SET_STR(location, has_loc, location)
    if (has_owner) {
        free(d->owner);
        d->owner = owner ? strdup(owner) : NULL;
    }
#undef SET_STR
    if (has_off)
        d->offline_after_s = off;
    if (thr_text) {
        free(d->thresholds);
        d->thresholds = thr_text;
    }
    if (cal_text) {
        free(d->calibration);
        d->calibration = cal_text;
    }
    if (notify_text) {
        free(d->notify);
        d->notify = notify_text;
    }
    return true;
bad_free:
    free(thr_text);
bad:
    http_reply_error_with(req, CB_ERR_VALIDATION,
                          json_pack("{s:s,s:s}", "field", e.field, "reason", e.reason), "%s %s",
                          e.field, e.reason);
    return false;
}

static const char *const device_keys[] = {
    "id",       "name",        "location",        "owner",  "thresholds",
    "standard", "calibration", "offline_after_s", "notify", NULL};

void api_devices_create(struct app *app, struct http_req *req)
{
    json_t *body = api_json_body(req);
    struct device d = {0};
    if (!body)
        return;
    struct jv_err e;
    const char *id = NULL;
    if (!json_is_object(body)) {
        http_reply_error(req, CB_ERR_VALIDATION, "the body must be a JSON object");
        goto out;
    }
    if (!jv_only_keys(body, device_keys, &e) ||
        !jv_string(body, "id", true, 1, 64, &id, NULL, &e)) {
        http_reply_error_with(req, CB_ERR_VALIDATION,
                              json_pack("{s:s,s:s}", "field", e.field, "reason", e.reason), "%s %s",
                              e.field, e.reason);
        goto out;
    }
    if (!jv_valid_id(id)) {
        http_reply_error_with(req, CB_ERR_VALIDATION,
                              json_pack("{s:s,s:s}", "field", "id", "reason",
                                        "must be 1-64 characters of A-Z a-z 0-9 . _ : -"),
                              "id must be 1-64 characters of A-Z a-z 0-9 . _ : -");
        goto out;
    }
    snprintf(d.id, sizeof d.id, "%s", id);
    d.offline_after_s = DEFAULT_OFFLINE_AFTER_S;
    if (!apply_fields(app, req, body, &d))
        goto out;
    char key[SECRET_KEY_LEN];
    cb_err rc = registry_device_create(app->reg, &d, key);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "device", d.id);
        goto out;
    }
    http_log_device(req, d.id);
    if (app->alarms && alarm_service_device(app->alarms, &d, true) != CB_OK)
        log_msg(LOG_ERROR, "device %s: alarm engine out of memory", d.id);
    json_t *o = device_json(app, &d);
    json_object_set_new(o, "api_key", json_string(key));
    memset(key, 0, sizeof key);
    char loc[96];
    snprintf(loc, sizeof loc, "/v1/devices/%s", d.id);
    http_add_header(req, "Location", loc);
    http_reply_json(req, 201, o);
out:
    device_clear(&d);
    json_decref(body);
}

void api_devices_list(struct app *app, struct http_req *req)
{
    struct device *list = NULL;
    size_t n = 0;
    const char *scope = auth_scope(http_who(req));
    cb_err rc = registry_device_list_owned(app->reg, scope, &list, &n);
    if (rc != CB_OK) {
        http_reply_error(req, rc, "%s", cb_strerror(rc));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, device_json(app, &list[i]));
        device_clear(&list[i]);
    }
    free(list);
    http_reply_json(req, 200, json_pack("{s:o}", "devices", arr));
}

void api_devices_get(struct app *app, struct http_req *req)
{
    struct device d;
    cb_err rc = registry_device_get(app->reg, http_param(req, 0), &d);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "device", http_param(req, 0));
        return;
    }
    http_log_device(req, d.id);
    http_reply_json(req, 200, device_json(app, &d));
    device_clear(&d);
}

void api_devices_patch(struct app *app, struct http_req *req)
{
    json_t *body = api_json_body(req);
    struct device d;
    bool have = false;
    if (!body)
        return;
    struct jv_err e;
    static const char *const patch_keys[] = {
        "name",        "location",        "owner",  "thresholds", "standard",
        "calibration", "offline_after_s", "notify", NULL};
    if (!json_is_object(body) || !jv_only_keys(body, patch_keys, &e)) {
        http_reply_error(req, CB_ERR_VALIDATION, "%s",
                         json_is_object(body) ? "only name, location, owner, thresholds, "
                                                "standard, calibration, offline_after_s and "
                                                "notify can be changed"
                                              : "the body must be a JSON object");
        goto out;
    }
    cb_err rc = registry_device_get(app->reg, http_param(req, 0), &d);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "device", http_param(req, 0));
        goto out;
    }
    have = true;
    if (!apply_fields(app, req, body, &d))
        goto out;
    rc = registry_device_update(app->reg, &d);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "device", d.id);
        goto out;
    }
    if (app->alarms && alarm_service_device(app->alarms, &d, false) != CB_OK)
        log_msg(LOG_ERROR, "device %s: alarm engine out of memory", d.id);
    http_log_device(req, d.id);
    http_reply_json(req, 200, device_json(app, &d));
out:
    if (have)
        device_clear(&d);
    json_decref(body);
}

void api_devices_delete(struct app *app, struct http_req *req)
{
    /* The alarm engine lets go first, so nothing writes the device's alerts
     * after the store has deleted them; a failed delete gives it back. */
    struct device d;
    bool known = registry_device_get(app->reg, http_param(req, 0), &d) == CB_OK;
    if (known && app->alarms)
        alarm_service_forget(app->alarms, d.seq);
    cb_err rc = registry_device_delete(app->reg, http_param(req, 0));
    if (rc != CB_OK && known && app->alarms)
        alarm_service_device(app->alarms, &d, true);
    if (known)
        device_clear(&d);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "device", http_param(req, 0));
        return;
    }
    http_log_device(req, http_param(req, 0));
    http_reply_static(req, 204, NULL, "", 0);
}

void api_devices_rotate(struct app *app, struct http_req *req)
{
    char key[SECRET_KEY_LEN];
    cb_err rc = registry_device_rotate(app->reg, http_param(req, 0), key);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "device", http_param(req, 0));
        return;
    }
    http_log_device(req, http_param(req, 0));
    http_reply_json(req, 201,
                    json_pack("{s:s,s:s}", "device_id", http_param(req, 0), "api_key", key));
    memset(key, 0, sizeof key);
}
