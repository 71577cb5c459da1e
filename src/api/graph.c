/* graph.c - the chart routes: GET /v1/devices/{id}/graph (SVG, ETag) and
 * the seed's GET /graph/generate (the same chart as a base64 data URI in
 * JSON, with start_date, end_date and device_type response headers). */
#include "api/api.h"

#include "core/buf.h"
#include "core/jsonv.h"
#include "core/timeutil.h"
#include "graph/graph.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const char *query_get(void *arg, const char *name)
{
    return http_query(arg, name);
}

/* Renders device id's chart into *svg; replies with the error and returns
 * false on failure. */
static bool render(struct app *app, struct http_req *req, const char *id,
                   const struct graph_params *p, struct buf *svg)
{
    struct device d = {0};
    cb_err rc = registry_device_get(app->reg, id, &d);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "device", id);
        return false;
    }
    http_log_device(req, id);
    buf_init(svg, GRAPH_MAX_SVG);
    rc = graph_render(app->store, &d, p, app->now_ms(), svg, NULL);
    device_clear(&d);
    if (rc != CB_OK) {
        http_reply_error(req, rc, "the chart could not be drawn: %s", cb_strerror(rc));
        buf_free(svg);
        return false;
    }
    return true;
}

/* True if the If-None-Match header lists etag (weak comparison, or "*"). */
static bool etag_matches(const char *header, const char *etag)
{
    if (!header)
        return false;
    size_t elen = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (*p == '*')
            return true;
        if (strncmp(p, "W/", 2) == 0)
            p += 2;
        if (strncmp(p, etag, elen) == 0 && (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' '))
            return true;
        while (*p && *p != ',')
            p++;
    }
    return false;
}

void api_graph(struct app *app, struct http_req *req)
{
    const char *id = http_param(req, 0);
    struct graph_params p;
    char err[256];
    if (!graph_params_parse(query_get, req, app->now_ms(), &p, err, sizeof err)) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "%s", err);
        return;
    }
    struct buf svg;
    if (!render(app, req, id, &p, &svg))
        return;
    char etag[40];
    graph_etag(svg.data, svg.len, etag);
    http_add_header(req, "ETag", etag);
    /* Cacheable, but always revalidated: new readings change the chart. */
    http_add_header(req, "Cache-Control", "private, no-cache");
    if (etag_matches(http_header(req, "If-None-Match"), etag)) {
        buf_free(&svg);
        http_reply_static(req, 304, NULL, "", 0);
        return;
    }
    size_t len = svg.len;
    http_reply_data(req, 200, "image/svg+xml", buf_steal(&svg), len);
}

#define DATA_URI_PREFIX "data:image/svg+xml;charset=utf-8;base64,"

void api_seed_graph(struct app *app, struct http_req *req)
{
    const char *id = http_query(req, "device");
    struct graph_params p;
    char err[256];
    if (!id || !*id) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "device is required (the device id)");
        return;
    }
    if (!jv_valid_id(id)) {
        http_reply_error(req, CB_ERR_BAD_REQUEST,
                         "device must be 1-64 characters of A-Z a-z 0-9 . _ : -");
        return;
    }
    if (!graph_seed_params_parse(query_get, req, app->now_ms(), &p, err, sizeof err)) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "%s", err);
        return;
    }
    struct buf svg;
    if (!render(app, req, id, &p, &svg))
        return;
    size_t plen = strlen(DATA_URI_PREFIX);
    size_t blen = 4 * ((svg.len + 2) / 3);
    char *uri = malloc(plen + blen + 1);
    if (!uri) {
        buf_free(&svg);
        http_reply_error(req, CB_ERR_NOMEM, "out of memory");
        return;
    }
    memcpy(uri, DATA_URI_PREFIX, plen);
    EVP_EncodeBlock((unsigned char *)uri + plen, (const unsigned char *)svg.data, (int)svg.len);
    buf_free(&svg);
    char from[32], to[32];
    rfc3339_format(p.from, from);
    rfc3339_format(p.to, to);
    http_add_header(req, "start_date", from);
    http_add_header(req, "end_date", to);
    http_add_header(req, "device_type", id);
    json_t *body = json_object();
    if (body)
        json_object_set_new(body, "base64_data", json_stringn_nocheck(uri, plen + blen));
    free(uri);
    http_reply_json(req, 200, body);
}
