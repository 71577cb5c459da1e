/* gateways.c - /v1/gateways: keys scoped to a list of devices (a hub that
 * relays many sensors writes all their readings in one batch). */
#include "api/api.h"

#include "core/jsonv.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GATEWAY_MAX_DEVICES 10000

static json_t *gateway_json(const struct gateway *g)
{
    char created[32];
    rfc3339_format(g->created_ms, created);
    json_t *devs = json_array();
    for (size_t i = 0; i < g->ndevices; i++)
        json_array_append_new(devs, json_string(g->devices[i]));
    return json_pack("{s:s,s:o,s:o,s:s}", "id", g->id, "name",
                     g->name ? json_string(g->name) : json_null(), "devices", devs, "created_at",
                     created);
}

/* Reads name and devices from body into g. Replies 422 on error. */
static bool gateway_fields(struct app *app, struct http_req *req, const json_t *body,
                           struct gateway *g, bool require_devices)
{
    struct jv_err e;
    const char *name = NULL;
    bool has_name = false;
    if (!jv_string(body, "name", false, 0, 128, &name, &has_name, &e)) {
        http_reply_error(req, CB_ERR_VALIDATION, "%s %s", e.field, e.reason);
        return false;
    }
    if (has_name) {
        free(g->name);
        g->name = strdup(name);
    }
    const json_t *devs = json_object_get(body, "devices");
    if (!devs) {
        if (require_devices) {
            http_reply_error(req, CB_ERR_VALIDATION,
                             "devices is required: the ids of the devices this gateway relays");
            return false;
        }
        return true;
    }
    size_t n = json_is_array(devs) ? json_array_size(devs) : 0;
    if (!json_is_array(devs) || n == 0 || n > GATEWAY_MAX_DEVICES) {
        http_reply_error(req, CB_ERR_VALIDATION, "devices must be an array of 1 to %d device ids",
                         GATEWAY_MAX_DEVICES);
        return false;
    }
    char(*ids)[65] = calloc(n, sizeof *ids);
    if (!ids) {
        http_reply_error(req, CB_ERR_NOMEM, "out of memory");
        return false;
    }
    json_t *unknown = json_array();
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(devs, i);
        uint32_t seq;
        if (!json_is_string(v) || !jv_valid_id(json_string_value(v))) {
            http_reply_error(req, CB_ERR_VALIDATION, "devices[%zu] is not a valid device id", i);
            free(ids);
            json_decref(unknown);
            return false;
        }
        snprintf(ids[i], 65, "%s", json_string_value(v));
        if (registry_device_seq(app->reg, ids[i], &seq) != CB_OK)
            json_array_append_new(unknown, json_string(ids[i]));
    }
    if (json_array_size(unknown)) {
        http_reply_error_with(
            req, CB_ERR_VALIDATION, json_pack("{s:o}", "unknown_devices", unknown),
            "%zu of the devices are not registered; register them first", json_array_size(unknown));
        free(ids);
        return false;
    }
    json_decref(unknown);
    free(g->devices); /* the registry sorts and de-duplicates it */
    g->devices = ids;
    g->ndevices = n;
    return true;
}

void api_gateways_create(struct app *app, struct http_req *req)
{
    json_t *body = api_json_body(req);
    struct gateway g = {0};
    if (!body)
        return;
    static const char *const keys[] = {"id", "name", "devices", NULL};
    struct jv_err e;
    const char *id;
    if (!json_is_object(body) || !jv_only_keys(body, keys, &e) ||
        !jv_string(body, "id", true, 1, 64, &id, NULL, &e) || !jv_valid_id(id)) {
        http_reply_error(req, CB_ERR_VALIDATION,
                         "send {\"id\": \"hub-1\", \"name\": \"...\", \"devices\": [\"dev-1\"]}; "
                         "id is 1-64 characters of A-Z a-z 0-9 . _ : -");
        goto out;
    }
    snprintf(g.id, sizeof g.id, "%s", id);
    if (!gateway_fields(app, req, body, &g, true))
        goto out;
    char key[SECRET_KEY_LEN];
    cb_err rc = registry_gateway_create(app->reg, &g, key);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "gateway", g.id);
        goto out;
    }
    json_t *o = gateway_json(&g);
    json_object_set_new(o, "api_key", json_string(key));
    memset(key, 0, sizeof key);
    char loc[96];
    snprintf(loc, sizeof loc, "/v1/gateways/%s", g.id);
    http_add_header(req, "Location", loc);
    http_reply_json(req, 201, o);
out:
    gateway_clear(&g);
    json_decref(body);
}

void api_gateways_list(struct app *app, struct http_req *req)
{
    struct gateway *list = NULL;
    size_t n = 0;
    cb_err rc = registry_gateway_list(app->reg, &list, &n);
    if (rc != CB_OK) {
        http_reply_error(req, rc, "%s", cb_strerror(rc));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, gateway_json(&list[i]));
        gateway_clear(&list[i]);
    }
    free(list);
    http_reply_json(req, 200, json_pack("{s:o}", "gateways", arr));
}

void api_gateways_get(struct app *app, struct http_req *req)
{
    struct gateway g;
    cb_err rc = registry_gateway_get(app->reg, http_param(req, 0), &g);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "gateway", http_param(req, 0));
        return;
    }
    http_reply_json(req, 200, gateway_json(&g));
    gateway_clear(&g);
}

void api_gateways_patch(struct app *app, struct http_req *req)
{
    json_t *body = api_json_body(req);
    struct gateway g;
    bool have = false;
    if (!body)
        return;
    static const char *const keys[] = {"name", "devices", NULL};
    struct jv_err e;
    if (!json_is_object(body) || !jv_only_keys(body, keys, &e)) {
        http_reply_error(req, CB_ERR_VALIDATION, "only name and devices can be changed");
        goto out;
    }
    cb_err rc = registry_gateway_get(app->reg, http_param(req, 0), &g);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "gateway", http_param(req, 0));
        goto out;
    }
    have = true;
    if (!gateway_fields(app, req, body, &g, false))
        goto out;
    rc = registry_gateway_update(app->reg, &g);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "gateway", g.id);
        goto out;
    }
    http_reply_json(req, 200, gateway_json(&g));
out:
    if (have)
        gateway_clear(&g);
    json_decref(body);
}

void api_gateways_delete(struct app *app, struct http_req *req)
{
    cb_err rc = registry_gateway_delete(app->reg, http_param(req, 0));
    if (rc != CB_OK) {
        api_reply_err(req, rc, "gateway", http_param(req, 0));
        return;
    }
    http_reply_static(req, 204, NULL, "", 0);
}

void api_gateways_rotate(struct app *app, struct http_req *req)
{
    char key[SECRET_KEY_LEN];
    cb_err rc = registry_gateway_rotate(app->reg, http_param(req, 0), key);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "gateway", http_param(req, 0));
        return;
    }
    http_reply_json(req, 201,
                    json_pack("{s:s,s:s}", "gateway_id", http_param(req, 0), "api_key", key));
    memset(key, 0, sizeof key);
}
