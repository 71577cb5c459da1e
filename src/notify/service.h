/* service.h - notifications (SPEC 5): alarms become SMS and voice calls that
 * escalate until someone acknowledges, through a durable outbox.
 *
 * Threads: a planner (owns the escalation of every paging alarm: wakes on
 * alarm events, on permanent failures and at each alarm's next due time,
 * and once a second to notice acknowledgements) and NOTIFY_SENDERS senders
 * (each with its own Twilio client: one slow provider request does not hold
 * the others back).
 *
 * Every message is written to the outbox (store notif_*) before it is sent,
 * marked "sending" (durably) before the provider request, and its outcome
 * written after it. At start the outbox is resumed: pending messages are
 * sent, messages that were "sending" when the process died are sent again
 * and marked maybe_dup (the provider may have taken the first one), and
 * every active, unacknowledged alarm's escalation continues from what the
 * outbox says was done. Nothing is lost; nothing is sent twice once the
 * provider's acceptance was recorded. */
#ifndef CARBON_NOTIFY_SERVICE_H
#define CARBON_NOTIFY_SERVICE_H
#include "alarm/service.h"
#include "core/err.h"
#include "notify/policy.h"
#include "store/store.h"

#include <stdint.h>

#define NOTIFY_SENDERS 4

struct registry;
struct users;
struct metrics;
struct notify_service;

struct notify_config {
    const char *api_base; /* Twilio API base ("" = https://api.twilio.com) */
    const char *account_sid, *auth_token, *from;
    /* The server's public base URL as the provider reaches it
     * ("https://carbon.example.com"): status callbacks, the call's
     * acknowledge action, and webhook signature checks. "" = none: no
     * callbacks are asked for, and the webhooks answer 403. */
    const char *public_url;
    long connect_timeout_ms, timeout_ms;
    struct notify_policy defaults; /* a device's "notify" settings override these */
    int64_t min_delay_s;           /* CARBON_NOTIFY_MIN_DELAY_S */
};

/* Starts the service: becomes the alarm service's sink, resumes the outbox
 * and the escalation of every active, unacknowledged alarm. A missing Twilio account is not
 * an error: messages are then kept pending (and logged) until a restart
 * with one. NULL on failure (logged). */
struct notify_service *notify_open(struct store *st, struct registry *reg, struct users *users,
                                   struct alarm_service *alarms, struct metrics *m,
                                   const struct notify_config *cfg, int64_t (*now_ms)(void));
/* Stops the threads (an attempt in flight finishes first; what is pending
 * stays in the outbox). Call after alarm_service_close: the alarm service
 * may hand events to the sink until it is closed. */
void notify_close(struct notify_service *ns);

/* The alarm sink: hand alarm events to the planner (never blocks on I/O). */
void notify_alarm_sink(void *arg, const struct alert *a, const struct alarm_event *ev,
                       const char *device_id);

/* Queues a test message (SMS or call) to user_id's phone (to: another
 * number instead, when not NULL), with text (NULL: the standard test text).
 * *out is the outbox row. On CB_OK, done(arg) is called exactly once, from
 * another thread, when the first attempt has an outcome or wait_ms have
 * passed (the seed's routes answer with the provider's sid); read the row
 * again then with notif_get. CB_ERR_NOT_FOUND: no such user;
 * CB_ERR_VALIDATION: no number to send to. */
typedef void (*notify_done_fn)(void *arg);
cb_err notify_test(struct notify_service *ns, const char *user_id, const char *to,
                   enum notif_channel ch, const char *text, int64_t wait_ms, notify_done_fn done,
                   void *arg, struct notification *out);

/* An alert was acknowledged (or changed) elsewhere: the planner looks at it
 * now rather than at its once-a-second sweep. */
void notify_poke(struct notify_service *ns, int64_t alert_id);

/* Webhooks (their signature already checked). */
/* A delivery status for a message or call sid; CB_ERR_NOT_FOUND if unknown. */
cb_err notify_status(struct notify_service *ns, const char *sid, const char *status,
                     int error_code);
/* The open alarms a message was sent to `number` about: acknowledged by
 * who. *n is how many (0: none open). */
cb_err notify_ack_from(struct notify_service *ns, struct alarm_service *alarms, const char *number,
                       const char *who, size_t *n);

/* The provider settings, for webhooks. */
const char *notify_auth_token(const struct notify_service *ns);
const char *notify_public_url(const struct notify_service *ns);

/* One outbox row as JSON (the alert's notification log, the test route). */
json_t *notify_json(const struct notification *n);

#endif
