/* metrics.h - process counters and latency histograms, Prometheus text output. */
#ifndef CARBON_METRICS_H
#define CARBON_METRICS_H
#include "core/buf.h"

#include <stdint.h>

struct metrics;

/* Creates counters for nroutes routes (index nroutes counts requests that
 * matched no route). Name each with metrics_name_route. NULL if out of memory. */
struct metrics *metrics_new(size_t nroutes);
/* Labels route i; method and pattern are borrowed and must outlive m. */
void metrics_name_route(struct metrics *m, size_t i, const char *method, const char *pattern);
void metrics_free(struct metrics *m);

/* Records one finished request. Lock-free. */
void metrics_request(struct metrics *m, size_t route, unsigned status, int64_t duration_ns);
void metrics_readings(struct metrics *m, uint64_t stored, uint64_t duplicates);

/* Alarm engine: an event (enum alarm_event_type) of a kind (enum alarm_kind);
 * readings evaluated (late: older than the newest); failed alarm writes. */
#define METRICS_ALARM_EVENTS 4
void metrics_alarm_event(struct metrics *m, int kind, int event);
void metrics_alarm_readings(struct metrics *m, uint64_t evaluated, uint64_t late);
void metrics_alarm_store_error(struct metrics *m);

/* Notifications: an attempt's outcome per channel (0 sms, 1 call; outcome
 * 0 accepted, 1 retry, 2 permanent, 3 config, -1 cancelled before sending),
 * a delivery status from a callback, the time from the reading that raised
 * an alarm to the first provider request, alarms too old to page anyone. */
void metrics_notify_attempt(struct metrics *m, int channel, int outcome);
void metrics_notify_delivery(struct metrics *m, int channel, const char *status);
void metrics_notify_latency(struct metrics *m, int64_t ms);
void metrics_notify_stale(struct metrics *m);
/* The send queue now: messages waiting, and how late the most overdue one
 * is (a provider down, our account refused: alert on these). */
void metrics_notify_queue(struct metrics *m, uint64_t queued, int64_t overdue_ms);

/* Appends the Prometheus text exposition. False if out of memory. */
bool metrics_render(struct metrics *m, struct buf *out);

#endif
