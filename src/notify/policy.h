/* policy.h - who is told about an alarm, when, and how often (SPEC 5).
 *
 * A pure planner: given a device's policy, an alarm's severity and what has
 * been sent so far, it says which stage starts next and when to look again.
 * The service (service.c) turns its decisions into outbox rows.
 *
 * Critical alarms: the owner (SMS + call) at once; the secondary contacts
 * escalate_after_s later unless acknowledged (at once if every message to
 * the owner failed permanently or the owner has no phone); the emergency
 * contacts the same delay after that; then reminders to everyone reached,
 * every renotify_s, at most max_reminders times. Warnings (a heads-up at
 * warn_ppm, a rising trend, a device offline or faulty): one SMS to the
 * owner, no call, no escalation. An alarm raised by readings older than
 * fresh_s when they arrived (an offline buffer, a history import) pages
 * nobody. Acknowledged or cleared: nothing more. */
#ifndef CARBON_NOTIFY_POLICY_H
#define CARBON_NOTIFY_POLICY_H
#include "core/jsonv.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

enum notify_stage {
    NOTIFY_STAGE_TEST,      /* a test message (POST /v1/notify/test, the seed's routes) */
    NOTIFY_STAGE_HEADS_UP,  /* a warning: one SMS to the owner */
    NOTIFY_STAGE_OWNER,     /* critical: the owner, at once */
    NOTIFY_STAGE_SECONDARY, /* then the secondary contacts */
    NOTIFY_STAGE_EMERGENCY, /* then the emergency contacts */
    NOTIFY_STAGE_ALL_CLEAR, /* the alarm cleared: SMS to everyone reached */
    NOTIFY_NSTAGES
};
/* The three paging stages, in order, as indexes 0..2 of notify_progress. */
#define NOTIFY_PAGING 3

/* The shortest escalate_after_s, renotify_s and all_clear_after_s a device
 * may set (CARBON_NOTIFY_MIN_DELAY_S; tests and drills lower it): a user
 * must not be able to turn the server into a pager of any number. */
#define NOTIFY_MIN_DELAY_S 60
#define NOTIFY_MAX_REMINDERS 20

struct notify_policy {
    int64_t escalate_after_s;  /* owner -> secondary -> emergency (300) */
    int64_t renotify_s;        /* reminders while active and unacknowledged (600) */
    int max_reminders;         /* (6: an hour of reminders at the default interval) */
    int64_t all_clear_after_s; /* the all-clear waits this long without a new alarm (600) */
    int64_t fresh_s;           /* older readings page nobody (600) */
    int ring_s;                /* how long a call rings before giving up (30) */
    bool calls;                /* critical stages also call (true) */
    bool warnings;             /* warnings send the owner one SMS (true) */
    bool all_clear;            /* tell those reached when it clears (true) */
};

/* What has happened so far for one alarm (rebuilt from the outbox at start). */
struct notify_progress {
    int64_t started_ms[NOTIFY_PAGING]; /* 0 = stage not started */
    int open[NOTIFY_PAGING];           /* messages of the stage not permanently failed */
    int reminders;                     /* reminder rounds started */
    int64_t last_round_ms;             /* when the last stage or reminder round started */
    bool heads_up;                     /* the warning SMS was queued */
};

enum notify_action {
    NOTIFY_NONE,     /* nothing due now; look again at wake_ms */
    NOTIFY_HEADS_UP, /* queue the warning SMS (then set heads_up) */
    NOTIFY_START,    /* start paging stage `stage` (0..2) */
    NOTIFY_REMIND,   /* start reminder round reminders + 1 */
};

struct notify_decision {
    enum notify_action action;
    int stage;       /* NOTIFY_START: 0 owner, 1 secondary, 2 emergency */
    int64_t wake_ms; /* NOTIFY_NONE: next time something may be due (INT64_MAX: never) */
};

void notify_policy_default(struct notify_policy *p);
/* Device setting "notify" (JSON object text or NULL) over the defaults d;
 * delays below min_delay_s (stored when the floor was lower) are raised to it. */
void notify_policy_from(const char *stored, const struct notify_policy *d, int64_t min_delay_s,
                        struct notify_policy *p);
/* Merges a PATCH's "notify" object into the stored one (NULL: none). *out is
 * the new text (malloc'd). False with e filled on a bad key or value (a
 * delay below min_delay_s included). */
bool notify_policy_merge(const char *stored, const json_t *patch, int64_t min_delay_s, char **out,
                         struct jv_err *e);
json_t *notify_policy_json(const struct notify_policy *p);

/* True if an alarm raised by a reading of ts raised_ms, recorded by the
 * server at recorded_ms, is too old to page anyone. */
bool notify_stale(const struct notify_policy *p, int64_t raised_ms, int64_t recorded_ms);

/* The next step for an active, unacknowledged alarm of this severity
 * (enum alarm_severity). Call again after acting on it until NOTIFY_NONE. */
struct notify_decision notify_next(const struct notify_policy *p, int severity,
                                   const struct notify_progress *g, int64_t now_ms);

const char *notify_stage_name(int stage);
int notify_stage_parse(const char *name); /* -1 if unknown */

#endif
