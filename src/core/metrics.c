/* metrics.c - process counters and latency histograms, Prometheus text output. */
#include "core/metrics.h"

#include "alarm/alarm.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const unsigned status_codes[] = {200, 201, 204, 304, 400, 401, 403, 404, 405,
                                        406, 409, 413, 415, 422, 429, 500, 503};
#define NSTATUS (sizeof status_codes / sizeof *status_codes)
static const double bucket_s[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                  0.05,   0.1,   0.25,   0.5,   1,    2.5};
#define NBUCKET (sizeof bucket_s / sizeof *bucket_s)
static const char *const outcome_names[] = {"cancelled", "accepted", "retry", "permanent",
                                            "config"};
#define NOUTCOME (sizeof outcome_names / sizeof *outcome_names)
/* Twilio's message and call statuses that callbacks report. */
static const char *const delivery_names[] = {
    "queued",    "sent",    "delivered", "undelivered", "failed",   "ringing", "in-progress",
    "completed", "busy",    "no-answer", "canceled",    "accepted", "read",    "receiving",
    "received",  "sending", "initiated", "answered",    "scheduled"};
#define NDELIVERY (sizeof delivery_names / sizeof *delivery_names)

static size_t bucket_of(double s);

struct route_stats {
    _Atomic uint64_t status[NSTATUS + 1]; /* last: any other status */
    _Atomic uint64_t bucket[NBUCKET + 1]; /* last: +Inf */
    _Atomic uint64_t sum_ns;
};

struct metrics {
    size_t nroutes;
    const char **names; /* per route, borrowed strings */
    const char **methods;
    struct route_stats *routes; /* nroutes + 1 */
    _Atomic uint64_t readings_stored, readings_duplicate;
    _Atomic uint64_t alarm_events[ALARM_NKINDS][METRICS_ALARM_EVENTS];
    _Atomic uint64_t alarm_readings, alarm_late, alarm_store_errors;
    _Atomic uint64_t notify_outcome[2][NOUTCOME];
    _Atomic uint64_t notify_delivery[2][NDELIVERY + 1];
    _Atomic uint64_t notify_bucket[NBUCKET + 1], notify_sum_ms, notify_stale;
    _Atomic uint64_t notify_queued, notify_overdue_ms;
};

struct metrics *metrics_new(size_t nroutes)
{
    struct metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->nroutes = nroutes;
    m->routes = calloc(nroutes + 1, sizeof *m->routes);
    m->names = calloc(nroutes + 1, sizeof *m->names);
    m->methods = calloc(nroutes + 1, sizeof *m->methods);
    if (!m->routes || !m->names || !m->methods) {
        metrics_free(m);
        return NULL;
    }
    for (size_t i = 0; i < nroutes; i++)
        m->names[i] = m->methods[i] = "";
    return m;
}

void metrics_name_route(struct metrics *m, size_t i, const char *method, const char *pattern)
{
    if (i < m->nroutes) {
        m->methods[i] = method;
        m->names[i] = pattern;
    }
}

void metrics_free(struct metrics *m)
{
    if (m) {
        free(m->routes);
        free(m->names);
        free(m->methods);
    }
    free(m);
}

void metrics_request(struct metrics *m, size_t route, unsigned status, int64_t duration_ns)
{
    if (route > m->nroutes)
        route = m->nroutes;
    struct route_stats *r = &m->routes[route];
    size_t si = NSTATUS;
    for (size_t i = 0; i < NSTATUS; i++)
        if (status_codes[i] == status)
            si = i;
    atomic_fetch_add_explicit(&r->status[si], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->bucket[bucket_of((double)duration_ns / 1e9)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&r->sum_ns, (uint64_t)(duration_ns > 0 ? duration_ns : 0),
                              memory_order_relaxed);
}

void metrics_readings(struct metrics *m, uint64_t stored, uint64_t duplicates)
{
    atomic_fetch_add_explicit(&m->readings_stored, stored, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->readings_duplicate, duplicates, memory_order_relaxed);
}

void metrics_alarm_event(struct metrics *m, int kind, int event)
{
    if (kind >= 0 && kind < ALARM_NKINDS && event >= 0 && event < METRICS_ALARM_EVENTS)
        atomic_fetch_add_explicit(&m->alarm_events[kind][event], 1, memory_order_relaxed);
}

void metrics_alarm_readings(struct metrics *m, uint64_t evaluated, uint64_t late)
{
    atomic_fetch_add_explicit(&m->alarm_readings, evaluated, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->alarm_late, late, memory_order_relaxed);
}

void metrics_alarm_store_error(struct metrics *m)
{
    atomic_fetch_add_explicit(&m->alarm_store_errors, 1, memory_order_relaxed);
}

static size_t bucket_of(double s)
{
    for (size_t i = 0; i < NBUCKET; i++)
        if (s <= bucket_s[i])
            return i;
    return NBUCKET;
}

void metrics_notify_attempt(struct metrics *m, int channel, int outcome)
{
    if (channel >= 0 && channel < 2 && outcome >= -1 && outcome + 1 < (int)NOUTCOME)
        atomic_fetch_add_explicit(&m->notify_outcome[channel][outcome + 1], 1,
                                  memory_order_relaxed);
}

void metrics_notify_delivery(struct metrics *m, int channel, const char *status)
{
    size_t i = 0;
    while (i < NDELIVERY && strcmp(delivery_names[i], status) != 0)
        i++;
    if (channel >= 0 && channel < 2)
        atomic_fetch_add_explicit(&m->notify_delivery[channel][i], 1, memory_order_relaxed);
}

void metrics_notify_latency(struct metrics *m, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    atomic_fetch_add_explicit(&m->notify_bucket[bucket_of((double)ms / 1000)], 1,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&m->notify_sum_ms, (uint64_t)ms, memory_order_relaxed);
}

void metrics_notify_stale(struct metrics *m)
{
    atomic_fetch_add_explicit(&m->notify_stale, 1, memory_order_relaxed);
}

void metrics_notify_queue(struct metrics *m, uint64_t queued, int64_t overdue_ms)
{
    atomic_store_explicit(&m->notify_queued, queued, memory_order_relaxed);
    atomic_store_explicit(&m->notify_overdue_ms, (uint64_t)(overdue_ms > 0 ? overdue_ms : 0),
                          memory_order_relaxed);
}

static uint64_t ld(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static bool render_notify(struct metrics *m, struct buf *o)
{
    static const char *const ch[2] = {"sms", "call"};
    bool ok = buf_puts(o, "# HELP carbon_notify_attempts_total Provider requests by channel and "
                          "outcome (cancelled: the alarm was acknowledged or cleared first).\n"
                          "# TYPE carbon_notify_attempts_total counter\n");
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i < NOUTCOME; i++)
            ok &= buf_printf(
                o, "carbon_notify_attempts_total{channel=\"%s\",outcome=\"%s\"} %llu\n", ch[c],
                outcome_names[i], (unsigned long long)ld(&m->notify_outcome[c][i]));
    ok &= buf_puts(o, "# HELP carbon_notify_delivery_total Delivery statuses reported by the "
                      "provider's callbacks.\n"
                      "# TYPE carbon_notify_delivery_total counter\n");
    for (int c = 0; c < 2; c++)
        for (size_t i = 0; i <= NDELIVERY; i++) {
            uint64_t v = ld(&m->notify_delivery[c][i]);
            if (v)
                ok &= buf_printf(
                    o, "carbon_notify_delivery_total{channel=\"%s\",status=\"%s\"} %llu\n", ch[c],
                    i < NDELIVERY ? delivery_names[i] : "other", (unsigned long long)v);
        }
    ok &= buf_puts(o, "# HELP carbon_notify_latency_seconds Time from the reading that raised "
                      "an alarm to the first provider request for it.\n"
                      "# TYPE carbon_notify_latency_seconds histogram\n");
    uint64_t cum = 0;
    for (size_t i = 0; i < NBUCKET; i++) {
        cum += ld(&m->notify_bucket[i]);
        ok &= buf_printf(o, "carbon_notify_latency_seconds_bucket{le=\"%g\"} %llu\n", bucket_s[i],
                         (unsigned long long)cum);
    }
    cum += ld(&m->notify_bucket[NBUCKET]);
    ok &= buf_printf(o,
                     "carbon_notify_latency_seconds_bucket{le=\"+Inf\"} %llu\n"
                     "carbon_notify_latency_seconds_sum %.3f\n"
                     "carbon_notify_latency_seconds_count %llu\n"
                     "# HELP carbon_notify_stale_alarms_total Alarms raised by readings too old "
                     "to page anyone (recorded only).\n"
                     "# TYPE carbon_notify_stale_alarms_total counter\n"
                     "carbon_notify_stale_alarms_total %llu\n"
                     "# HELP carbon_notify_queued Messages waiting in the send queue (due now or "
                     "later: retries, held, all-clears).\n"
                     "# TYPE carbon_notify_queued gauge\n"
                     "carbon_notify_queued %llu\n"
                     "# HELP carbon_notify_overdue_seconds How late the most overdue queued "
                     "message is (the provider down or refusing our account).\n"
                     "# TYPE carbon_notify_overdue_seconds gauge\n"
                     "carbon_notify_overdue_seconds %.3f\n",
                     (unsigned long long)cum, (double)ld(&m->notify_sum_ms) / 1000,
                     (unsigned long long)cum, (unsigned long long)ld(&m->notify_stale),
                     (unsigned long long)ld(&m->notify_queued),
                     (double)ld(&m->notify_overdue_ms) / 1000);
    return ok;
}

bool metrics_render(struct metrics *m, struct buf *o)
{
    bool ok = buf_puts(o, "# HELP carbon_http_requests_total HTTP requests by route and status.\n"
                          "# TYPE carbon_http_requests_total counter\n");
    for (size_t r = 0; r <= m->nroutes; r++) {
        const char *name = r < m->nroutes ? m->names[r] : "unmatched";
        const char *meth = r < m->nroutes ? m->methods[r] : "";
        for (size_t i = 0; i <= NSTATUS; i++) {
            uint64_t v = ld(&m->routes[r].status[i]);
            if (!v)
                continue;
            if (i < NSTATUS)
                ok &= buf_printf(o,
                                 "carbon_http_requests_total{method=\"%s\",route=\"%s\","
                                 "code=\"%u\"} %llu\n",
                                 meth, name, status_codes[i], (unsigned long long)v);
            else
                ok &= buf_printf(o,
                                 "carbon_http_requests_total{method=\"%s\",route=\"%s\","
                                 "code=\"other\"} %llu\n",
                                 meth, name, (unsigned long long)v);
        }
    }
    ok &= buf_puts(o, "# HELP carbon_http_request_duration_seconds Request latency by route.\n"
                      "# TYPE carbon_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= m->nroutes; r++) {
        const char *name = r < m->nroutes ? m->names[r] : "unmatched";
        const char *meth = r < m->nroutes ? m->methods[r] : "";
        uint64_t cum = 0;
        for (size_t i = 0; i <= NBUCKET; i++)
            cum += ld(&m->routes[r].bucket[i]);
        if (!cum)
            continue;
        cum = 0;
        for (size_t i = 0; i < NBUCKET; i++) {
            cum += ld(&m->routes[r].bucket[i]);
            ok &= buf_printf(o,
                             "carbon_http_request_duration_seconds_bucket{method=\"%s\","
                             "route=\"%s\",le=\"%g\"} %llu\n",
                             meth, name, bucket_s[i], (unsigned long long)cum);
        }
        cum += ld(&m->routes[r].bucket[NBUCKET]);
        ok &=
            buf_printf(o,
                       "carbon_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\","
                       "le=\"+Inf\"} %llu\n"
                       "carbon_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\"} "
                       "%.6f\n"
                       "carbon_http_request_duration_seconds_count{method=\"%s\",route=\"%s\"} "
                       "%llu\n",
                       meth, name, (unsigned long long)cum, meth, name,
                       (double)ld(&m->routes[r].sum_ns) / 1e9, meth, name, (unsigned long long)cum);
    }
    ok &= buf_printf(o,
                     "# HELP carbon_readings_ingested_total Readings durably stored.\n"
                     "# TYPE carbon_readings_ingested_total counter\n"
                     "carbon_readings_ingested_total %llu\n"
                     "# HELP carbon_readings_duplicate_total Re-sent readings already stored "
                     "(no-ops).\n"
                     "# TYPE carbon_readings_duplicate_total counter\n"
                     "carbon_readings_duplicate_total %llu\n",
                     (unsigned long long)ld(&m->readings_stored),
                     (unsigned long long)ld(&m->readings_duplicate));
    ok &= buf_puts(o, "# HELP carbon_alarm_events_total Alarm events by kind and event "
                      "(raised, updated, cleared, rearmed).\n"
                      "# TYPE carbon_alarm_events_total counter\n");
    for (int k = 0; k < ALARM_NKINDS; k++)
        for (int e = 0; e < METRICS_ALARM_EVENTS; e++)
            ok &= buf_printf(o, "carbon_alarm_events_total{kind=\"%s\",event=\"%s\"} %llu\n",
                             alarm_kind_name((enum alarm_kind)k),
                             alarm_event_name((enum alarm_event_type)e),
                             (unsigned long long)ld(&m->alarm_events[k][e]));
    ok &= buf_printf(o,
                     "# HELP carbon_alarm_readings_total Readings evaluated by the alarm engine.\n"
                     "# TYPE carbon_alarm_readings_total counter\n"
                     "carbon_alarm_readings_total %llu\n"
                     "# HELP carbon_alarm_late_readings_total Readings older than the device's "
                     "newest (stored; they move no alarm clock).\n"
                     "# TYPE carbon_alarm_late_readings_total counter\n"
                     "carbon_alarm_late_readings_total %llu\n"
                     "# HELP carbon_alarm_store_errors_total Alarm records that could not be "
                     "written at once (retried).\n"
                     "# TYPE carbon_alarm_store_errors_total counter\n"
                     "carbon_alarm_store_errors_total %llu\n",
                     (unsigned long long)ld(&m->alarm_readings),
                     (unsigned long long)ld(&m->alarm_late),
                     (unsigned long long)ld(&m->alarm_store_errors));
    return ok && render_notify(m, o);
}
