/* service.h - the server side of the alarm engine: one engine state per
 * device, fed by every stored reading (in the request that stores it) and
 * by a clock thread; events become alert records, written durably together
 * with the engine state that produced them, then handed to a sink (the
 * notification work plugs in there).
 *
 * Thread-safe: one mutex over all devices (an evaluation costs well under a
 * microsecond; the rare event also writes to the store under it, so events
 * are recorded in the order they happened). */
#ifndef CARBON_ALARM_SERVICE_H
#define CARBON_ALARM_SERVICE_H
#include "alarm/alarm.h"
#include "core/err.h"
#include "store/store.h"

struct alarm_service;
struct metrics;

/* Receives every alarm event after its record was written: the alert (its
 * state after the event), the event, and the device id. Events raised by
 * readings are written by the clock thread as soon as it is woken (many
 * events, one transaction), so a reading's request never waits for them;
 * they are not lost if the process dies first: the readings are durable and
 * are replayed at startup. If the write failed, the sink is called all the
 * same (warning people must not wait on a disk): the alert's id is then 0
 * until a retry stores it. Called without the service lock held, possibly
 * from two threads at once; must not block for long. */
struct alarm_sink {
    void (*fn)(void *arg, const struct alert *a, const struct alarm_event *ev,
               const char *device_id);
    void *arg;
};

/* Loads every device's settings (devices[0..n)), saved engine states and
 * active alerts, replays the readings stored after each saved state (a crash
 * between storing a reading and recording its alarm loses nothing), and
 * starts the clock thread (tick_ms; 0 = no thread, ticks only by
 * alarm_service_tick). NULL on failure (logged). */
struct alarm_service *alarm_service_open(struct store *st, struct metrics *m,
                                         const struct device *devices, size_t n,
                                         int64_t (*now_ms)(void), int tick_ms);
/* Stops the clock, saves every state, frees everything. */
void alarm_service_close(struct alarm_service *s);
/* Replaces the sink (default: a log line per event). */
void alarm_service_set_sink(struct alarm_service *s, const struct alarm_sink *sink);

/* A device was created (create) or its settings changed (an entry that is
 * gone, the device deleted meanwhile, is not brought back). */
cb_err alarm_service_device(struct alarm_service *s, const struct device *d, bool create);
/* A device is being deleted: call before deleting it from the store (its
 * records are never written again; the store then deletes them). */
void alarm_service_forget(struct alarm_service *s, uint32_t seq);

/* Evaluates the readings that were just stored (dup[i] set: already stored
 * before, skipped), received at now_ms. Readings of one call are taken in
 * ts order per device. */
void alarm_service_readings(struct alarm_service *s, const struct reading *r, const uint8_t *dup,
                            size_t n, int64_t now_ms);
/* One clock tick: offline detection, ends of mutes, writing queued alert
 * records (then the sink), saving changed states every 10 s. */
void alarm_service_tick(struct alarm_service *s, int64_t now_ms);
/* Writes queued alert records now, then calls the sink (what the clock
 * thread does when readings raise events; with tick_ms 0, readings call it). */
void alarm_service_flush(struct alarm_service *s);
/* Read barrier: if events are queued, writes them now. Readers of alert
 * records call it first, so a client that got its 201 then lists alerts sees
 * what its readings raised. */
void alarm_service_sync(struct alarm_service *s);

/* The device id of a store sequence number (false if unknown). */
bool alarm_service_device_id(struct alarm_service *s, uint32_t seq, char id[65]);

/* Acknowledges alert id by who. Idempotent. A manual alarm is cleared by
 * its acknowledgement. *out is the alert afterwards. */
cb_err alarm_service_ack(struct alarm_service *s, int64_t id, const char *who, int64_t now_ms,
                         struct alert *out);
/* Silences an active alert for ms (capped by the device's mute_max).
 * CB_ERR_CONFLICT when it is not active; CB_ERR_FORBIDDEN when CO is at or
 * above the mute limit (*ppm says how high). */
cb_err alarm_service_mute(struct alarm_service *s, int64_t id, int64_t ms, int64_t now_ms,
                          struct alert *out, double *ppm);
/* Raises a manual alarm on device seq. CB_ERR_CONFLICT if one is already
 * active (*out is that one). */
cb_err alarm_service_manual(struct alarm_service *s, uint32_t seq, enum alarm_severity sev,
                            const char *message, const char *who, int64_t now_ms,
                            struct alert *out);

/* The log line of an event (what the default sink does; other sinks call it
 * too, so the log reads the same). */
void alarm_event_log(const struct alert *a, const struct alarm_event *ev, const char *device_id);

/* "active_unack", "active_ack", "cleared_unack" or "cleared_ack". */
const char *alert_state_name(const struct alert *a);

#endif
