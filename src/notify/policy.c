/* policy.c - the escalation planner and the device's "notify" settings. */
#include "notify/policy.h"

#include "alarm/alarm.h"

#include <stdlib.h>
#include <string.h>

static const char *const stage_names[NOTIFY_NSTAGES] = {"test",      "heads_up",  "owner",
                                                        "secondary", "emergency", "all_clear"};

const char *notify_stage_name(int stage)
{
    return stage >= 0 && stage < NOTIFY_NSTAGES ? stage_names[stage] : "unknown";
}

int notify_stage_parse(const char *name)
{
    for (int i = 0; i < NOTIFY_NSTAGES; i++)
        if (strcmp(name, stage_names[i]) == 0)
            return i;
    return -1;
}

void notify_policy_default(struct notify_policy *p)
{
    *p = (struct notify_policy){.escalate_after_s = 300,
                                .renotify_s = 600,
                                .max_reminders = 6,
                                .all_clear_after_s = 600,
                                .fresh_s = 600,
                                .ring_s = 30,
                                .calls = true,
                                .warnings = true,
                                .all_clear = true};
}

static const char *const keys[] = {
    "escalate_after_s", "renotify_s", "max_reminders",     "fresh_s", "ring_s", "calls",
    "warnings",         "all_clear",  "all_clear_after_s", NULL};

static bool read_bool(const json_t *o, const char *key, bool *out, struct jv_err *e)
{
    const json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return true;
    if (!json_is_boolean(v)) {
        jv_fail(e, key, "must be true or false");
        return false;
    }
    *out = json_is_true(v);
    return true;
}

/* Reads the keys present in o over *p; false with *e on a bad value. The
 * lower bounds (min_delay_s) keep anyone from turning the server into a
 * pager of any number; tests and drills lower them server-wide. */
static bool read_keys(const json_t *o, struct notify_policy *p, int64_t min_delay_s, bool stored,
                      struct jv_err *e)
{
    /* stored: settings written under older limits (max_reminders up to
     * 100) are taken, then brought within today's. */
    int64_t v;
    bool has;
    if (!jv_only_keys(o, keys, e))
        return false;
    if (!jv_int(o, "escalate_after_s", false, min_delay_s, 86400, &p->escalate_after_s, NULL, e) ||
        !jv_int(o, "renotify_s", false, min_delay_s, 86400, &p->renotify_s, NULL, e) ||
        !jv_int(o, "all_clear_after_s", false, min_delay_s, 86400, &p->all_clear_after_s, NULL,
                e) ||
        !jv_int(o, "fresh_s", false, 1, 7 * 86400, &p->fresh_s, NULL, e))
        return false;
    if (!jv_int(o, "max_reminders", false, 0, stored ? 100 : NOTIFY_MAX_REMINDERS, &v, &has, e))
        return false;
    if (has)
        p->max_reminders = (int)(v > NOTIFY_MAX_REMINDERS ? NOTIFY_MAX_REMINDERS : v);
    if (!jv_int(o, "ring_s", false, 5, 600, &v, &has, e))
        return false;
    if (has)
        p->ring_s = (int)v;
    return read_bool(o, "calls", &p->calls, e) && read_bool(o, "warnings", &p->warnings, e) &&
           read_bool(o, "all_clear", &p->all_clear, e);
}

static int64_t at_least(int64_t v, int64_t min)
{
    return v < min ? min : v;
}

void notify_policy_from(const char *stored, const struct notify_policy *d, int64_t min_delay_s,
                        struct notify_policy *p)
{
    *p = *d;
    json_t *o = stored ? json_loads(stored, 0, NULL) : NULL;
    struct notify_policy c = *d;
    struct jv_err e;
    /* Validated when written (perhaps under a lower floor: read with none,
     * then raised to today's); unreadable text falls back to the defaults. */
    if (json_is_object(o) && read_keys(o, &c, 1, true, &e))
        *p = c;
    json_decref(o);
    p->escalate_after_s = at_least(p->escalate_after_s, min_delay_s);
    p->renotify_s = at_least(p->renotify_s, min_delay_s);
    p->all_clear_after_s = at_least(p->all_clear_after_s, min_delay_s);
}

bool notify_policy_merge(const char *stored, const json_t *patch, int64_t min_delay_s, char **out,
                         struct jv_err *e)
{
    *out = NULL;
    struct notify_policy c;
    notify_policy_default(&c);
    if (!json_is_object(patch)) {
        jv_fail(e, "notify", "must be an object like {\"escalate_after_s\":300}");
        return false;
    }
    if (!read_keys(patch, &c, min_delay_s, false, e))
        return false;
    json_t *merged = jv_merge(stored, patch);
    if (!merged) {
        jv_fail(e, "notify", "out of memory");
        return false;
    }
    *out = json_dumps(merged, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(merged);
    if (!*out) {
        jv_fail(e, "notify", "out of memory");
        return false;
    }
    return true;
}

json_t *notify_policy_json(const struct notify_policy *p)
{
    return json_pack("{s:I,s:I,s:i,s:I,s:i,s:b,s:b,s:b,s:I}", "escalate_after_s",
                     (json_int_t)p->escalate_after_s, "renotify_s", (json_int_t)p->renotify_s,
                     "max_reminders", p->max_reminders, "fresh_s", (json_int_t)p->fresh_s, "ring_s",
                     p->ring_s, "calls", p->calls, "warnings", p->warnings, "all_clear",
                     p->all_clear, "all_clear_after_s", (json_int_t)p->all_clear_after_s);
}

bool notify_stale(const struct notify_policy *p, int64_t raised_ms, int64_t recorded_ms)
{
    return recorded_ms - raised_ms > p->fresh_s * 1000;
}

struct notify_decision notify_next(const struct notify_policy *p, int severity,
                                   const struct notify_progress *g, int64_t now_ms)
{
    struct notify_decision d = {NOTIFY_NONE, 0, INT64_MAX};
    if (severity != ALARM_SEV_CRITICAL) {
        if (severity == ALARM_SEV_WARNING && p->warnings && !g->heads_up)
            d.action = NOTIFY_HEADS_UP;
        return d;
    }
    int64_t esc = p->escalate_after_s * 1000;
    for (int s = 0; s < NOTIFY_PAGING; s++) {
        if (g->started_ms[s])
            continue;
        /* Stage s is due escalate_after_s after the previous one started,
         * or at once when nobody of the previous stage can be reached. */
        int64_t due = s == 0                ? now_ms
                      : g->open[s - 1] == 0 ? g->started_ms[s - 1]
                                            : g->started_ms[s - 1] + esc;
        if (due <= now_ms) {
            d.action = NOTIFY_START;
            d.stage = s;
        } else {
            d.wake_ms = due;
        }
        return d;
    }
    if (g->reminders >= p->max_reminders)
        return d;
    int64_t due = g->last_round_ms + p->renotify_s * 1000;
    if (due <= now_ms)
        d.action = NOTIFY_REMIND;
    else
        d.wake_ms = due;
    return d;
}
