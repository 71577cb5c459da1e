/* ops.c - health, readiness, Prometheus metrics and the OpenAPI document. */
#include "api/api.h"

#include "core/buf.h"
#include "core/timeutil.h"

extern const char openapi_json[];
extern const size_t openapi_json_len;

void api_healthz(struct app *app, struct http_req *req)
{
    http_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void api_readyz(struct app *app, struct http_req *req)
{
    cb_err rc = app->store->ops->ready(app->store);
    if (rc != CB_OK) {
        http_reply_error(req, CB_ERR_UNAVAILABLE, "storage (%s) is not ready",
                         app->store->ops->name);
        return;
    }
    http_reply_json(req, 200,
                    json_pack("{s:s,s:s}", "status", "ready", "store", app->store->ops->name));
}

void api_metrics(struct app *app, struct http_req *req)
{
    struct buf b;
    buf_init(&b, 0);
    struct store_stats st = {0};
    app->store->ops->stats(app->store, &st);
    bool ok = metrics_render(app->metrics, &b) &&
              buf_printf(&b,
                         "# HELP carbon_store_commits_total Group commits of readings.\n"
                         "# TYPE carbon_store_commits_total counter\n"
                         "carbon_store_commits_total %llu\n"
                         "# HELP carbon_store_compactions_total Moves of journaled readings "
                         "into the readings table.\n"
                         "# TYPE carbon_store_compactions_total counter\n"
                         "carbon_store_compactions_total %llu\n"
                         "# HELP carbon_store_pending_readings Journaled readings not yet in "
                         "the readings table.\n"
                         "# TYPE carbon_store_pending_readings gauge\n"
                         "carbon_store_pending_readings %llu\n"
                         "# HELP carbon_store_dedup_lookups_total Duplicate checks that needed "
                         "a table lookup (re-sent or back-filled old readings).\n"
                         "# TYPE carbon_store_dedup_lookups_total counter\n"
                         "carbon_store_dedup_lookups_total %llu\n"
                         "# HELP carbon_uptime_seconds Seconds since the server started.\n"
                         "# TYPE carbon_uptime_seconds gauge\n"
                         "carbon_uptime_seconds %.3f\n",
                         (unsigned long long)st.commits, (unsigned long long)st.compactions,
                         (unsigned long long)st.pending, (unsigned long long)st.dedup_lookups,
                         (double)(time_mono_ns() - app->started_mono_ns) / 1e9);
    if (!ok) {
        buf_free(&b);
        http_reply_error(req, CB_ERR_NOMEM, "out of memory");
        return;
    }
    size_t len = b.len;
    http_reply_data(req, 200, "text/plain; version=0.0.4; charset=utf-8", buf_steal(&b), len);
}

void api_openapi(struct app *app, struct http_req *req)
{
    http_reply_static(req, 200, "application/json", openapi_json, openapi_json_len);
}
