/* util.c - helpers shared by the route handlers. */
#include "api/api.h"

#include "core/jsonv.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

json_t *api_reading_json(const char *device_id, const struct reading *r)
{
    char ts[32];
    rfc3339_format(r->ts_ms, ts);
    json_t *o = json_pack("{s:s,s:s,s:f}", "device_id", device_id, "ts", ts, "co_ppm", r->co_ppm);
    if (o && (r->flags & READING_HAS_TEMP))
        json_object_set_new(o, "temperature_c", json_real(r->temp_c));
    if (o && (r->flags & READING_HAS_HUM))
        json_object_set_new(o, "humidity_pct", json_real(r->hum_pct));
    return o;
}

json_t *api_opt_str(const char *s)
{
    return s ? json_string(s) : json_null();
}

json_t *api_json_text(const char *text, json_t *fallback)
{
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    if (v) {
        json_decref(fallback);
        return v;
    }
    return fallback;
}

json_t *api_json_body(struct http_req *req)
{
    if (!http_is_json(req)) {
        http_reply_error(req, CB_ERR_MEDIA_TYPE, "send the body as Content-Type: application/json");
        return NULL;
    }
    size_t len;
    const char *body = http_body(req, &len);
    char err[200];
    json_t *root = jv_parse(body, len, err, sizeof err);
    if (!root)
        http_reply_error(req, CB_ERR_INVALID_JSON, "%s", err);
    return root;
}

bool api_time_param(struct http_req *req, const char *name, int64_t *ms)
{
    const char *v = http_query(req, name);
    if (!v)
        return true;
    if (!time_param_parse(v, ms)) {
        http_reply_error(req, CB_ERR_BAD_REQUEST,
                         "%s must be an RFC 3339 time (2026-11-25T16:00:00Z) or epoch seconds",
                         name);
        return false;
    }
    return true;
}

bool api_int_param(struct http_req *req, const char *name, int64_t min, int64_t max, int64_t *out)
{
    const char *v = http_query(req, name);
    if (!v)
        return true;
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end || x < min || x > max) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "%s must be an integer from %lld to %lld", name,
                         (long long)min, (long long)max);
        return false;
    }
    *out = x;
    return true;
}

bool api_format(struct http_req *req, bool *csv)
{
    const char *f = http_query(req, "format");
    if (f) {
        if (strcmp(f, "csv") != 0 && strcmp(f, "json") != 0) {
            http_reply_error(req, CB_ERR_BAD_REQUEST, "format must be json or csv");
            return false;
        }
        *csv = strcmp(f, "csv") == 0;
        return true;
    }
    const char *accept = http_header(req, "Accept");
    *csv = accept && strstr(accept, "text/csv") != NULL;
    return true;
}

bool api_device_seq(struct app *app, struct http_req *req, const char *id, uint32_t *seq)
{
    cb_err rc = registry_device_seq(app->reg, id, seq);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "device", id);
        return false;
    }
    http_log_device(req, id);
    return true;
}

void api_reply_err(struct http_req *req, cb_err e, const char *what, const char *id)
{
    switch (e) {
    case CB_ERR_NOT_FOUND:
        http_reply_error(req, e, "no %s with id '%.64s'", what, id);
        break;
    case CB_ERR_CONFLICT:
        http_reply_error(req, e, "a %s with id '%.64s' already exists", what, id);
        break;
    default:
        http_reply_error(req, e, "%s", cb_strerror(e));
    }
}

void api_fmt_num(char *out, size_t n, double v)
{
    snprintf(out, n, "%.10g", v);
}
