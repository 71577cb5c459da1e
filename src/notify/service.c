/* service.c - the notification planner, the outbox senders, and webhooks'
 * effects. See service.h for the design; policy.c decides the escalation. */
#include "notify/service.h"

#include "auth/registry.h"
#include "auth/users.h"
#include "alarm/settings.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/phone.h"
#include "core/ratelimit.h"
#include "core/timeutil.h"
#include "notify/backoff.h"
#include "notify/message.h"
#include "notify/twilio.h"
#include "notify/twiml.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PLAN_TICK_MS 1000        /* acknowledgements are noticed within this */
#define RETRY_BASE_MS 1000       /* first retry after ~1 s ... */
#define RETRY_CAP_MS (5 * 60000) /* ... never more than 5 min apart */
#define CONFIG_RETRY_MS 60000    /* our account is misconfigured: try again in a minute */
#define TEST_MAX_ATTEMPTS 8      /* test messages give up; alarm messages do not */
#define MAX_RECIPIENTS 40        /* per stage: owner 1, secondary <= 10, emergency <= 10 */
/* Messages to one number per hour, whatever alarms they are about (a
 * critical alarm with the default reminders sends 7 of each): beyond, they
 * wait. Bounds what a flapping alarm, or anyone who can set contacts and
 * raise manual alarms, can make the server send to a number. */
#define NUMBER_SMS_PER_HOUR 20
#define NUMBER_CALLS_PER_HOUR 10

/* An alarm event from the sink, or a permanent failure from a sender. */
struct inbox_item {
    bool failure; /* a sender: message of (alert, stage) failed for good */
    bool poke;    /* the alert changed (acknowledged): look at it now */
    struct alert a;
    enum alarm_event_type type;
    char device_id[65];
    int stage;
};

/* An alarm being paged (planner-owned). */
struct track {
    int64_t alert_id;
    char device_id[65];
    int severity;
    struct notify_progress g;
    int64_t wake_ms;
    /* Raised by old readings (an offline buffer, an import): pages nobody
     * until a live reading confirms it (live_confirms). */
    bool stale;
    bool ownerless_noted; /* "nobody to page" logged once */
};

struct job {
    int64_t id, due_ms;
    int64_t alert_id; /* 0 if unknown (resumed) */
};

/* A status callback that came before its sid was written. */
#define NOTIFY_EARLY 64
struct early {
    char sid[64];
    char status[32];
    int error_code;
    int64_t at_ms;
};

/* Someone waiting for the first outcome of a message (a test route). */
struct watcher {
    int64_t id, deadline_ms;
    notify_done_fn fn;
    void *arg;
};

struct notify_service {
    struct store *st;
    struct registry *reg;
    struct users *users;
    struct alarm_service *alarms;
    struct metrics *m;
    int64_t (*now_ms)(void);
    struct notify_config cfg; /* strings owned (copies) */
    bool have_provider;

    pthread_mutex_t mu; /* inbox, queue, stopping */
    pthread_cond_t plan_cv, send_cv;
    struct inbox_item *inbox;
    size_t ninbox, inbox_cap;
    struct job *queue;
    size_t nqueue, queue_cap;
    struct watcher *watchers;
    size_t nwatchers, watchers_cap;
    struct early early[NOTIFY_EARLY]; /* a ring */
    size_t nearly;
    bool stopping;

    struct ratelimit *per_number[2]; /* by channel: SMS, calls */

    pthread_t planner;
    pthread_t senders[NOTIFY_SENDERS];
    size_t nsenders;

    /* Planner-owned. */
    struct track *tracks;
    size_t ntracks, tracks_cap;
    struct notification *adds; /* messages of this pass, written together */
    size_t nadds, adds_cap;
    int64_t swept_ms; /* last check of every track for acknowledgements */
};

static int64_t rnd64(void)
{
    uint64_t v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof v) != 1)
        v = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull;
    return (int64_t)(v >> 1);
}

static bool grow(void **v, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return true;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*v, nc * size);
    if (!p)
        return false;
    *v = p;
    *cap = nc;
    return true;
}

/* ---- the send queue (caller holds mu) ---- */

static void enqueue_alert_locked(struct notify_service *ns, int64_t id, int64_t due_ms,
                                 int64_t alert_id)
{
    if (!grow((void **)&ns->queue, &ns->queue_cap, ns->nqueue, sizeof *ns->queue)) {
        /* The row is in the outbox: the next start sends it. */
        log_msg(LOG_ERROR, "notify: out of memory queueing message %lld", (long long)id);
        return;
    }
    ns->queue[ns->nqueue++] = (struct job){id, due_ms, alert_id};
    pthread_cond_broadcast(&ns->send_cv);
}

static void enqueue_locked(struct notify_service *ns, int64_t id, int64_t due_ms)
{
    enqueue_alert_locked(ns, id, due_ms, 0);
}

/* Messages of alert_id held for later (a mute) are due now. */
static void requeue_alert(struct notify_service *ns, int64_t alert_id, int64_t now_ms)
{
    pthread_mutex_lock(&ns->mu);
    for (size_t i = 0; i < ns->nqueue; i++)
        if (ns->queue[i].alert_id == alert_id && ns->queue[i].due_ms > now_ms)
            ns->queue[i].due_ms = now_ms;
    pthread_cond_broadcast(&ns->send_cv);
    pthread_mutex_unlock(&ns->mu);
}

static void enqueue(struct notify_service *ns, int64_t id, int64_t due_ms)
{
    pthread_mutex_lock(&ns->mu);
    enqueue_locked(ns, id, due_ms);
    pthread_mutex_unlock(&ns->mu);
}

static void post_inbox_locked(struct notify_service *ns, const struct inbox_item *it)
{
    if (grow((void **)&ns->inbox, &ns->inbox_cap, ns->ninbox, sizeof *ns->inbox))
        ns->inbox[ns->ninbox++] = *it;
    else /* the planner's once-a-second sweep and the next start catch up */
        log_msg(LOG_ERROR, "notify: out of memory; alarm %lld handled late", (long long)it->a.id);
    pthread_cond_signal(&ns->plan_cv);
}

static void post_inbox(struct notify_service *ns, const struct inbox_item *it)
{
    pthread_mutex_lock(&ns->mu);
    post_inbox_locked(ns, it);
    pthread_mutex_unlock(&ns->mu);
}

static void sender_took_sid(struct notify_service *ns, const char *sid);

/* Calls the watchers of message id (all, if id is 0 and stopping; those
 * past their deadline if id is -1). */
static void fire_watchers(struct notify_service *ns, int64_t id)
{
    struct watcher due[16];
    size_t ndue;
    do {
        ndue = 0;
        int64_t now = ns->now_ms();
        pthread_mutex_lock(&ns->mu);
        for (size_t i = 0; i < ns->nwatchers && ndue < 16;) {
            struct watcher *w = &ns->watchers[i];
            if (w->id == id || (id == 0 && ns->stopping) || (id == -1 && w->deadline_ms <= now)) {
                due[ndue++] = *w;
                *w = ns->watchers[--ns->nwatchers];
            } else {
                i++;
            }
        }
        pthread_mutex_unlock(&ns->mu);
        for (size_t i = 0; i < ndue; i++)
            due[i].fn(due[i].arg);
    } while (ndue == 16);
}

/* ---- recipients and texts ---- */

struct who {
    struct device dev; /* copy, or zeroed */
    struct user owner; /* copy, or zeroed (id "" when none) */
    struct notify_policy pol;
};

static void who_load(struct notify_service *ns, const char *device_id, struct who *w)
{
    memset(w, 0, sizeof *w);
    notify_policy_from(NULL, &ns->cfg.defaults, ns->cfg.min_delay_s, &w->pol);
    if (registry_device_get(ns->reg, device_id, &w->dev) != CB_OK) {
        memset(&w->dev, 0, sizeof w->dev);
        return;
    }
    notify_policy_from(w->dev.notify, &ns->cfg.defaults, ns->cfg.min_delay_s, &w->pol);
    if (w->dev.owner && users_get(ns->users, w->dev.owner, &w->owner) != CB_OK)
        memset(&w->owner, 0, sizeof w->owner);
}

static void who_clear(struct who *w)
{
    device_clear(&w->dev);
    user_clear(&w->owner);
}

/* The numbers of stage s (0 owner, 1 secondary, 2 emergency) into v. */
static size_t stage_numbers(const struct who *w, int s, char (*v)[20], size_t cap)
{
    size_t n = 0;
    if (s == 0) {
        if (w->owner.phone && cap)
            snprintf(v[n++], 20, "%s", w->owner.phone);
        return n;
    }
    const char *text = s == 1 ? w->owner.secondary : w->owner.emergency;
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    size_t i;
    const char *k;
    json_t *x;
    if (json_is_array(o)) {
        json_array_foreach(o, i, x) if (json_is_string(x) && n < cap)
            snprintf(v[n++], 20, "%s", json_string_value(x));
    } else if (json_is_object(o)) {
        json_object_foreach(o, k, x) if (json_is_string(x) && n < cap)
            snprintf(v[n++], 20, "%s", json_string_value(x));
    }
    json_decref(o);
    return n;
}

static void fill_msg(const struct who *w, const struct alert *a, int stage, struct message_input *m)
{
    memset(m, 0, sizeof *m);
    m->device_name = w->dev.name && w->dev.name[0] ? w->dev.name : w->dev.id;
    m->location = w->dev.location;
    m->kind = (enum alarm_kind)a->kind;
    m->severity = (enum alarm_severity)a->severity;
    m->ppm = a->trigger_ppm;
    m->peak_ppm = a->peak_ppm;
    m->since_ms = a->raised_ms;
    m->role = stage == NOTIFY_STAGE_SECONDARY   ? MESSAGE_SECONDARY
              : stage == NOTIFY_STAGE_EMERGENCY ? MESSAGE_EMERGENCY
                                                : MESSAGE_OWNER;
    m->owner_name = w->owner.name;
    m->manual_text = a->message;
}

/* The text of a message into body (cap bytes). */
static void compose(const struct who *w, const struct alert *a, int stage, enum notif_channel ch,
                    const char *to, char *body, size_t cap)
{
    struct message_input m;
    fill_msg(w, a, stage, &m);
    m.emergency_number = message_emergency_number(to);
    struct buf b;
    buf_init(&b, cap - 1);
    bool ok = stage == NOTIFY_STAGE_ALL_CLEAR ? message_all_clear(&m, &b)
              : ch == NOTIF_CALL              ? message_voice(&m, &b)
                                              : message_sms(&m, &b);
    snprintf(body, cap, "%s", ok && b.data ? b.data : "Carbon monoxide alarm. Reply ACK.");
    buf_free(&b);
}

static struct track *track_find(struct notify_service *ns, int64_t id);
static void progress_load(struct notify_service *ns, int64_t alert_id, struct notify_progress *g);

/* Adds one message to the planner's pass (written by flush_adds). */
static void add_message(struct notify_service *ns, const struct alert *a, const struct who *w,
                        int stage, int round, enum notif_channel ch, const char *to, int64_t now_ms)
{
    if (!grow((void **)&ns->adds, &ns->adds_cap, ns->nadds, sizeof *ns->adds)) {
        log_msg(LOG_ERROR,
                "notify: out of memory: a message for alarm %lld waits for the next pass",
                (long long)a->id);
        return;
    }
    struct notification *n = &ns->adds[ns->nadds++];
    memset(n, 0, sizeof *n);
    n->alert_id = a->id;
    snprintf(n->user_id, sizeof n->user_id, "%s",
             stage == NOTIFY_STAGE_OWNER || stage == NOTIFY_STAGE_HEADS_UP ? w->owner.id : "");
    n->stage = (uint8_t)stage;
    n->round = (uint8_t)(round > 255 ? 255 : round);
    n->channel = (uint8_t)ch;
    n->state = NOTIF_PENDING;
    snprintf(n->to, sizeof n->to, "%s", to);
    compose(w, a, stage, ch, to, n->body, sizeof n->body);
    n->created_ms = n->next_ms = n->updated_ms = now_ms;
}

/* Writes the pass's messages in one transaction, then hands the new ones to
 * the senders (those that existed already were queued when first written). */
static void flush_adds(struct notify_service *ns)
{
    if (!ns->nadds)
        return;
    cb_err *rc = calloc(ns->nadds, sizeof *rc);
    if (!rc || ns->st->ops->notif_add_many(ns->st, ns->adds, ns->nadds, rc) != CB_OK) {
        log_msg(LOG_ERROR, "notify: out of memory writing %zu messages", ns->nadds);
    } else {
        pthread_mutex_lock(&ns->mu);
        for (size_t i = 0; i < ns->nadds; i++)
            if (rc[i] == CB_OK)
                enqueue_alert_locked(ns, ns->adds[i].id, ns->adds[i].next_ms, ns->adds[i].alert_id);
        pthread_mutex_unlock(&ns->mu);
    }
    for (size_t i = 0; i < ns->nadds; i++) {
        if (rc && (rc[i] == CB_OK || rc[i] == CB_ERR_CONFLICT))
            continue;
        /* Not written: its stage must not count as done. The alarm's
         * progress is read back from the outbox and planned again in a
         * second (the same messages, if the disk works by then). */
        log_msg(LOG_ERROR, "notify: could not store a message for alarm %lld (%s): retrying",
                (long long)ns->adds[i].alert_id, rc ? cb_strerror(rc[i]) : "out of memory");
        struct track *t = track_find(ns, ns->adds[i].alert_id);
        if (t) {
            progress_load(ns, t->alert_id, &t->g);
            t->wake_ms = ns->now_ms() + PLAN_TICK_MS;
        }
    }
    free(rc);
    ns->nadds = 0;
}

/* ---- the planner ---- */

static struct track *track_find(struct notify_service *ns, int64_t id)
{
    for (size_t i = 0; i < ns->ntracks; i++)
        if (ns->tracks[i].alert_id == id)
            return &ns->tracks[i];
    return NULL;
}

static void track_drop(struct notify_service *ns, struct track *t)
{
    *t = ns->tracks[--ns->ntracks];
}

static bool failed_for_good(const struct notification *n)
{
    return n->state == NOTIF_FAILED || n->state == NOTIF_CANCELLED ||
           strcmp(n->provider_status, "failed") == 0 ||
           strcmp(n->provider_status, "undelivered") == 0;
}

/* Rebuilds what was done for an alarm from its outbox rows. */
static void progress_load(struct notify_service *ns, int64_t alert_id, struct notify_progress *g)
{
    memset(g, 0, sizeof *g);
    struct notification *v = NULL;
    size_t n = 0;
    if (ns->st->ops->notif_list(ns->st, alert_id, 10000, &v, &n) != CB_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        int s = v[i].stage - NOTIFY_STAGE_OWNER;
        if (v[i].stage == NOTIFY_STAGE_HEADS_UP)
            g->heads_up = true;
        if (s < 0 || s >= NOTIFY_PAGING)
            continue;
        if (v[i].round == 0) {
            if (!g->started_ms[s] || v[i].created_ms < g->started_ms[s])
                g->started_ms[s] = v[i].created_ms;
            if (!failed_for_good(&v[i]))
                g->open[s]++;
        }
        if (v[i].round > g->reminders)
            g->reminders = v[i].round;
        if (v[i].created_ms > g->last_round_ms)
            g->last_round_ms = v[i].created_ms;
    }
    free(v);
}

/* Numbers of stages before s (to page each number once, at its first stage). */
static bool paged_before(const struct who *w, int s, const char *num)
{
    char v[MAX_RECIPIENTS][20];
    for (int p = 0; p < s; p++) {
        size_t n = stage_numbers(w, p, v, MAX_RECIPIENTS);
        for (size_t i = 0; i < n; i++)
            if (strcmp(v[i], num) == 0)
                return true;
    }
    return false;
}

/* Queues stage s (round 0) or a reminder round of every started stage.
 * Returns how many messages of the stage can still reach someone. */
static int page(struct notify_service *ns, const struct alert *a, const struct who *w, int s,
                int round, int64_t now_ms)
{
    char v[MAX_RECIPIENTS][20];
    size_t n = stage_numbers(w, s, v, MAX_RECIPIENTS);
    int open = 0;
    for (size_t i = 0; i < n; i++) {
        if (!phone_valid_e164(v[i]) || phone_is_emergency(v[i])) {
            char m[PHONE_MAX + 1];
            phone_mask(v[i], m);
            log_msg(LOG_WARN, "notify: alarm %lld: not dialling %s", (long long)a->id, m);
            continue;
        }
        if (paged_before(w, s, v[i]))
            continue;
        int stage = NOTIFY_STAGE_OWNER + s;
        add_message(ns, a, w, stage, round, NOTIF_SMS, v[i], now_ms);
        if (w->pol.calls)
            add_message(ns, a, w, stage, round, NOTIF_CALL, v[i], now_ms);
        open += w->pol.calls ? 2 : 1;
    }
    return open;
}

/* The alarm cleared: an SMS to everyone an alarm message reached, sent
 * all_clear_after_s later unless the device alarms again meanwhile (then
 * it is cancelled: an alarm that comes and goes must not send "all clear"
 * between its alarms). */
static void all_clear(struct notify_service *ns, const struct alert *a, const struct who *w,
                      int64_t now_ms)
{
    struct notification *v = NULL;
    size_t n = 0;
    if (!w->pol.all_clear || ns->st->ops->notif_list(ns->st, a->id, 10000, &v, &n) != CB_OK)
        return;
    for (size_t i = 0; i < n; i++)
        if (v[i].state == NOTIF_ACCEPTED && !failed_for_good(&v[i]) &&
            v[i].stage != NOTIFY_STAGE_ALL_CLEAR && v[i].stage != NOTIFY_STAGE_TEST) {
            add_message(ns, a, w, NOTIFY_STAGE_ALL_CLEAR, 0, NOTIF_SMS, v[i].to, now_ms);
            if (ns->nadds) /* it was added last */
                ns->adds[ns->nadds - 1].next_ms = now_ms + w->pol.all_clear_after_s * 1000;
        }
    free(v);
}

static void stop_paging(struct notify_service *ns, const struct alert *a, const char *device_id,
                        int64_t now_ms)
{
    size_t n = 0;
    ns->st->ops->notif_cancel(ns->st, a->id, now_ms, &n);
    if (n)
        log_msg(LOG_INFO, "notify: alarm %lld %s: %zu pending messages cancelled", (long long)a->id,
                a->acked ? "acknowledged" : "cleared", n);
    if (!a->active) {
        struct who w;
        who_load(ns, device_id, &w);
        all_clear(ns, a, &w, now_ms);
        who_clear(&w);
    }
}

/* An alarm raised by old readings is confirmed by the device's newest
 * reading when that one is itself fresh and at or above warn_ppm: the
 * danger is now, not only in the buffer. */
static bool live_confirms(struct notify_service *ns, const struct alert *a, const struct who *w,
                          int64_t now_ms)
{
    struct device_live live;
    if (ns->st->ops->device_live(ns->st, a->dev, &live) != CB_OK || !live.has_last)
        return false;
    struct alarm_config cfg;
    alarm_settings_config(w->dev.thresholds, w->dev.offline_after_s, &cfg);
    return live.last.ts_ms > a->raised_ms && now_ms - live.last.ts_ms <= w->pol.fresh_s * 1000 &&
           live.last.co_ppm >= cfg.warn_ppm;
}

/* Whether another alarm of the same device speaks for this one: one CO
 * event often raises several (co_high, co_exposure, co_rising), and people
 * must get one escalation for it, not one per kind. The leader is the most
 * severe paging alarm, the oldest among equals; an alarm of the device that
 * someone acknowledged and that is still active covers the others no more
 * severe than it (the person is dealing with that device). */
static bool spoken_for(struct notify_service *ns, const struct track *t, const struct alert *a)
{
    for (size_t i = 0; i < ns->ntracks; i++) {
        const struct track *u = &ns->tracks[i];
        if (u == t || u->stale || strcmp(u->device_id, t->device_id) != 0)
            continue;
        if (u->severity > a->severity || (u->severity == a->severity && u->alert_id < a->id))
            return true;
    }
    struct alert_filter f = {
        .dev = a->dev, .kind = -1, .active = 1, .acked = 1, .to = INT64_MAX, .limit = 16};
    struct alert *v = NULL;
    size_t n = 0;
    bool covered = false;
    if (ns->st->ops->alerts_query(ns->st, &f, &v, &n) == CB_OK)
        for (size_t i = 0; i < n && !covered; i++)
            covered = v[i].severity >= a->severity;
    free(v);
    return covered;
}

/* Messages of alert id still waiting to go out (pending or sending). */
static size_t unsent(struct notify_service *ns, int64_t id)
{
    struct notification *v = NULL;
    size_t n = 0, k = 0;
    if (ns->st->ops->notif_list(ns->st, id, 10000, &v, &n) == CB_OK)
        for (size_t i = 0; i < n; i++)
            k += v[i].state == NOTIF_PENDING || v[i].state == NOTIF_SENDING;
    free(v);
    return k;
}

/* Advances one alarm's escalation; false when it is over (drop the track). */
static bool plan(struct notify_service *ns, struct track *t, int64_t now_ms)
{
    struct alert a;
    cb_err rc = ns->st->ops->alert_get(ns->st, t->alert_id, &a);
    if (rc == CB_ERR_NOT_FOUND)
        return false; /* its device was deleted */
    if (rc != CB_OK) {
        t->wake_ms = now_ms + PLAN_TICK_MS;
        return true;
    }
    if (!a.active || a.acked) {
        stop_paging(ns, &a, t->device_id, now_ms);
        return false;
    }
    t->severity = a.severity;
    struct who w;
    who_load(ns, t->device_id, &w);
    if (t->stale && live_confirms(ns, &a, &w, now_ms)) {
        t->stale = false;
        log_msg(LOG_WARN, "notify: alarm %lld on %s: live readings confirm it, paging",
                (long long)a.id, t->device_id);
    }
    if (t->stale || !w.owner.id[0] || spoken_for(ns, t, &a)) {
        if (!t->stale && !w.owner.id[0] && !t->ownerless_noted)
            log_msg(LOG_WARN, "notify: alarm %lld on %s: the device has no owner, nobody to page",
                    (long long)a.id, t->device_id);
        t->ownerless_noted = !t->stale && !w.owner.id[0];
        who_clear(&w);
        t->wake_ms = now_ms + PLAN_TICK_MS; /* look again: an owner may be given, readings come */
        return true;
    }
    for (int guard = 0; guard < 16; guard++) {
        struct notify_decision d = notify_next(&w.pol, a.severity, &t->g, now_ms);
        if (d.action == NOTIFY_NONE) {
            t->wake_ms = d.wake_ms;
            break;
        }
        if (d.action == NOTIFY_HEADS_UP) {
            if (w.owner.phone && !phone_is_emergency(w.owner.phone))
                add_message(ns, &a, &w, NOTIFY_STAGE_HEADS_UP, 0, NOTIF_SMS, w.owner.phone, now_ms);
            t->g.heads_up = true;
        } else if (d.action == NOTIFY_START) {
            t->g.open[d.stage] = page(ns, &a, &w, d.stage, 0, now_ms);
            t->g.started_ms[d.stage] = now_ms;
            t->g.last_round_ms = now_ms;
        } else if (unsent(ns, a.id)) {
            /* The last round has not gone out yet (the provider is down):
             * a new one would only pile up behind it. */
            t->wake_ms = now_ms + 5 * PLAN_TICK_MS;
            break;
        } else {
            int round = ++t->g.reminders;
            for (int s = 0; s < NOTIFY_PAGING; s++)
                if (t->g.started_ms[s])
                    page(ns, &a, &w, s, round, now_ms);
            t->g.last_round_ms = now_ms;
        }
    }
    who_clear(&w);
    return true;
}

/* Starts tracking an alarm (one already paging resumes where it was). */
static void track_add(struct notify_service *ns, const struct alert *a, const char *device_id)
{
    if (track_find(ns, a->id) || a->id <= 0)
        return;
    if (!grow((void **)&ns->tracks, &ns->tracks_cap, ns->ntracks, sizeof *ns->tracks))
        return;
    struct track *t = &ns->tracks[ns->ntracks++];
    memset(t, 0, sizeof *t);
    t->alert_id = a->id;
    snprintf(t->device_id, sizeof t->device_id, "%s", device_id);
    t->severity = a->severity;
    progress_load(ns, a->id, &t->g);
    t->wake_ms = 0; /* plan now */
    bool started = t->g.heads_up;
    for (int s = 0; s < NOTIFY_PAGING; s++)
        started |= t->g.started_ms[s] != 0;
    struct who w;
    who_load(ns, device_id, &w);
    t->stale = !started && notify_stale(&w.pol, a->raised_ms, a->recorded_ms);
    who_clear(&w);
    if (t->stale) {
        log_msg(LOG_INFO,
                "notify: alarm %lld on %s raised by a reading %lld s old: recorded, nobody paged "
                "unless live readings confirm it",
                (long long)a->id, device_id, (long long)((a->recorded_ms - a->raised_ms) / 1000));
        metrics_notify_stale(ns->m);
    }
}

static void handle_item(struct notify_service *ns, const struct inbox_item *it, int64_t now_ms)
{
    struct track *t = track_find(ns, it->a.id);
    if (it->poke) {
        if (t)
            t->wake_ms = 0;
        return;
    }
    if (it->failure) {
        /* Recount from the outbox (a repeated "failed" callback counts once). */
        if (t) {
            int reminders = t->g.reminders;
            progress_load(ns, t->alert_id, &t->g);
            if (t->g.reminders < reminders)
                t->g.reminders = reminders;
            t->wake_ms = 0;
        }
        return;
    }
    if (it->type == ALARM_EV_CLEARED || !it->a.active) {
        if (t)
            track_drop(ns, t);
        stop_paging(ns, &it->a, it->device_id, now_ms);
        return;
    }
    if (it->type == ALARM_EV_RAISED && it->a.severity == ALARM_SEV_CRITICAL) {
        /* It is dangerous again: no "all clear" from its last alarm (this
         * one will send its own). A warning leaves it: it pages nobody but
         * the owner, and the contacts must still hear it is over. */
        size_t n = 0;
        ns->st->ops->notif_cancel_stage(ns->st, it->a.dev, NOTIFY_STAGE_ALL_CLEAR, now_ms, &n);
    }
    if (it->type == ALARM_EV_REARMED)
        requeue_alert(ns, it->a.id, now_ms); /* a mute ended (early, maybe) */
    if (it->a.acked)
        return; /* acknowledged already: the planner's refresh stops it */
    if (t)
        t->wake_ms = 0; /* severity may have risen */
    else
        track_add(ns, &it->a, it->device_id);
}

static int cmp_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Marks due every track whose alert is no longer active and unacknowledged:
 * one query for all of them. */
static void sweep(struct notify_service *ns)
{
    if (!ns->ntracks)
        return;
    struct alert_filter f = {
        .kind = -1, .active = 1, .acked = 0, .to = INT64_MAX, .limit = ns->ntracks + 1000};
    struct alert *v = NULL;
    size_t n = 0;
    if (ns->st->ops->alerts_query(ns->st, &f, &v, &n) != CB_OK)
        return;
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    if (ids) {
        for (size_t i = 0; i < n; i++)
            ids[i] = v[i].id;
        qsort(ids, n, sizeof *ids, cmp_id);
        for (size_t i = 0; i < ns->ntracks; i++)
            if (!bsearch(&ns->tracks[i].alert_id, ids, n, sizeof *ids, cmp_id))
                ns->tracks[i].wake_ms = 0;
    }
    free(ids);
    free(v);
}

static void *planner_main(void *arg)
{
    struct notify_service *ns = arg;
    pthread_mutex_lock(&ns->mu);
    while (!ns->stopping) {
        struct inbox_item *items = ns->inbox;
        size_t nitems = ns->ninbox;
        ns->inbox = NULL;
        ns->ninbox = ns->inbox_cap = 0;
        pthread_mutex_unlock(&ns->mu);

        int64_t now = ns->now_ms();
        for (size_t i = 0; i < nitems; i++)
            handle_item(ns, &items[i], now);
        free(items);
        flush_adds(ns);
        /* The tracks due now; once a tick every one whose alert is no longer
         * active and unacknowledged (acknowledged in a way nobody poked). */
        if (now - ns->swept_ms >= PLAN_TICK_MS || now < ns->swept_ms) {
            sweep(ns);
            ns->swept_ms = now;
        }
        int64_t next = ns->swept_ms + PLAN_TICK_MS;
        for (size_t i = 0; i < ns->ntracks;) {
            struct track *t = &ns->tracks[i];
            if (t->wake_ms > now) {
                if (t->wake_ms < next)
                    next = t->wake_ms;
                i++;
                continue;
            }
            if (!plan(ns, t, now)) {
                track_drop(ns, t);
                continue;
            }
            if (t->wake_ms < next)
                next = t->wake_ms;
            i++;
        }
        flush_adds(ns);

        fire_watchers(ns, -1);
        pthread_mutex_lock(&ns->mu);
        /* Overdue: waiting past its time while senders are free to take it
         * means they cannot get it out (retries are scheduled ahead). */
        int64_t overdue = 0, t_now = ns->now_ms();
        for (size_t i = 0; i < ns->nqueue; i++)
            if (t_now - ns->queue[i].due_ms > overdue)
                overdue = t_now - ns->queue[i].due_ms;
        metrics_notify_queue(ns->m, ns->nqueue, overdue);
        if (ns->ninbox || ns->stopping)
            continue;
        if (ns->nwatchers && next > now + 100)
            next = now + 100; /* deadlines of waiting requests */
        int64_t wait = next - ns->now_ms();
        if (wait <= 0)
            continue;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&ns->plan_cv, &ns->mu, &ts);
    }
    pthread_mutex_unlock(&ns->mu);
    return NULL;
}

/* ---- the senders ---- */

/* Takes the due job with the earliest time; waits for one. False: stopping. */
static bool take_job(struct notify_service *ns, struct job *out)
{
    pthread_mutex_lock(&ns->mu);
    for (;;) {
        if (ns->stopping) {
            pthread_mutex_unlock(&ns->mu);
            return false;
        }
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < ns->nqueue; i++)
            if (best == SIZE_MAX || ns->queue[i].due_ms < ns->queue[best].due_ms)
                best = i;
        int64_t now = ns->now_ms();
        if (best != SIZE_MAX && ns->queue[best].due_ms <= now) {
            *out = ns->queue[best];
            ns->queue[best] = ns->queue[--ns->nqueue];
            pthread_mutex_unlock(&ns->mu);
            return true;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = best == SIZE_MAX ? 60000 : ns->queue[best].due_ms - now;
        if (wait > 60000)
            wait = 60000;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (wait % 1000) * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&ns->send_cv, &ns->mu, &ts);
    }
}

static void build_url(const struct notify_service *ns, char *out, size_t cap, const char *path,
                      int64_t id)
{
    out[0] = 0;
    if (!ns->cfg.public_url[0])
        return;
    if (id)
        snprintf(out, cap, "%s%s%lld", ns->cfg.public_url, path, (long long)id);
    else
        snprintf(out, cap, "%s%s", ns->cfg.public_url, path);
}

/* How long a call about alert a (NULL: none) rings: its device's ring_s. */
static int ring_seconds(struct notify_service *ns, const struct alert *a)
{
    struct notify_policy pol;
    notify_policy_from(NULL, &ns->cfg.defaults, ns->cfg.min_delay_s, &pol);
    char id[65];
    if (a && alarm_service_device_id(ns->alarms, a->dev, id)) {
        struct who w;
        who_load(ns, id, &w);
        pol = w.pol;
        who_clear(&w);
    }
    return pol.ring_s;
}

/* Does the provider request of one message (about alert a, or NULL);
 * fills the outcome into *n. */
static void attempt(struct notify_service *ns, struct twilio *tw, const struct alert *a,
                    struct notification *n, int64_t *req_ms)
{
    struct twilio_result r;
    char status_cb[600];
    build_url(ns, status_cb, sizeof status_cb, "/twilio/status", 0);
    if (!tw) {
        memset(&r, 0, sizeof r);
        r.outcome = TWILIO_CONFIG;
        snprintf(r.message, sizeof r.message, "no Twilio account configured");
        r.retry_after_ms = -1;
    } else if (n->channel == NOTIF_SMS) {
        *req_ms = ns->now_ms();
        twilio_send_sms(tw, n->to, n->body, status_cb, &r);
    } else {
        char action[600];
        build_url(ns, action, sizeof action, "/twilio/voice/", n->alert_id);
        struct buf twiml;
        buf_init(&twiml, TWILIO_TWIML_MAX);
        bool ok = n->alert_id && action[0] ? twiml_call(&twiml, n->body, action, NULL)
                                           : twiml_say(&twiml, n->body, true);
        *req_ms = ns->now_ms();
        if (ok) {
            twilio_place_call(tw, n->to, twiml.data, ring_seconds(ns, a), status_cb, &r);
        } else {
            memset(&r, 0, sizeof r);
            r.outcome = TWILIO_PERMANENT;
            snprintf(r.message, sizeof r.message, "the call's TwiML does not fit");
        }
        buf_free(&twiml);
    }
    int64_t now = ns->now_ms();
    n->updated_ms = now;
    n->error_code = (int)r.error_code;
    snprintf(n->last_error, sizeof n->last_error, "%s", r.message);
    switch (r.outcome) {
    case TWILIO_ACCEPTED:
        n->state = NOTIF_ACCEPTED;
        n->sent_ms = now;
        snprintf(n->sid, sizeof n->sid, "%s", r.sid);
        snprintf(n->provider_status, sizeof n->provider_status, "%s", r.status);
        break;
    case TWILIO_PERMANENT:
        n->state = NOTIF_FAILED;
        break;
    case TWILIO_RETRY:
    case TWILIO_CONFIG:
        if (r.maybe_delivered)
            n->maybe_dup = true;
        if (n->alert_id == 0 && n->attempts >= TEST_MAX_ATTEMPTS) {
            n->state = NOTIF_FAILED;
            break;
        }
        n->state = NOTIF_PENDING;
        n->next_ms = now + (r.outcome == TWILIO_CONFIG
                                ? CONFIG_RETRY_MS
                                : backoff_delay_ms((unsigned)(n->attempts - 1), RETRY_BASE_MS,
                                                   RETRY_CAP_MS, BACKOFF_JITTER_EQUAL,
                                                   (uint64_t)rnd64(), r.retry_after_ms));
        break;
    }
    metrics_notify_attempt(ns->m, n->channel, (int)r.outcome);
    char m[PHONE_MAX + 1];
    phone_mask(n->to, m);
    if (r.outcome != TWILIO_ACCEPTED)
        log_msg(r.outcome == TWILIO_CONFIG ? LOG_ERROR : LOG_WARN,
                "notify: message %lld (%s to %s) attempt %d: %s (http %ld, code %ld)%s",
                (long long)n->id, n->channel == NOTIF_SMS ? "sms" : "call", m, n->attempts,
                twilio_outcome_name(r.outcome), r.http_status, r.error_code,
                n->state == NOTIF_PENDING ? ": will retry" : "");
}

static void send_one(struct notify_service *ns, struct twilio *tw, int64_t id)
{
    struct notification n;
    if (ns->st->ops->notif_get(ns->st, id, &n) != CB_OK || n.state != NOTIF_PENDING)
        return;
    int64_t now = ns->now_ms();
    if (n.next_ms > now) { /* queued twice (a restart race): keep the later time */
        enqueue(ns, n.id, n.next_ms);
        return;
    }
    /* Its alert, read once for this attempt: whether it may still go, the
     * mute, the call's ring time, the latency metric. */
    struct alert alert, *a = NULL;
    cb_err arc = n.alert_id ? ns->st->ops->alert_get(ns->st, n.alert_id, &alert) : CB_ERR_NOT_FOUND;
    if (arc == CB_OK)
        a = &alert;
    bool alarm_msg = n.alert_id && n.stage != NOTIFY_STAGE_ALL_CLEAR;
    /* Over when acknowledged, cleared or deleted; a read error sends it
     * (a warning wins over a disk hiccup). */
    bool open = a ? a->active && !a->acked : arc != CB_ERR_NOT_FOUND;
    int64_t muted_until = a && a->muted_until_ms > now ? a->muted_until_ms : 0;
    if (alarm_msg && !open) {
        n.state = NOTIF_CANCELLED;
        n.updated_ms = now;
        ns->st->ops->notif_update(ns->st, &n, NOTIF_PENDING);
        metrics_notify_attempt(ns->m, n.channel, -1);
        return;
    }
    if (alarm_msg && muted_until &&
        (n.stage == NOTIFY_STAGE_OWNER || n.stage == NOTIFY_STAGE_HEADS_UP)) {
        /* The owner silenced it ("I hear it"): not their phone again until
         * the mute ends. Their contacts are still paged: only an
         * acknowledgement stops that (the owner may be the one in danger). */
        pthread_mutex_lock(&ns->mu);
        enqueue_alert_locked(ns, n.id, muted_until, n.alert_id);
        pthread_mutex_unlock(&ns->mu);
        return;
    }
    int retry_s = 0;
    if (!ratelimit_take(ns->per_number[n.channel == NOTIF_CALL], n.to, 1, now, &retry_s)) {
        bool call = n.channel == NOTIF_CALL;
        char masked[PHONE_MAX + 1];
        phone_mask(n.to, masked);
        snprintf(n.last_error, sizeof n.last_error,
                 "held: more than %d %s to this number in an hour",
                 call ? NUMBER_CALLS_PER_HOUR : NUMBER_SMS_PER_HOUR, call ? "calls" : "SMS");
        n.next_ms = now + (int64_t)retry_s * 1000;
        n.updated_ms = now;
        ns->st->ops->notif_update(ns->st, &n, NOTIF_PENDING);
        log_msg(LOG_WARN, "notify: message %lld to %s %s", (long long)n.id, masked, n.last_error);
        pthread_mutex_lock(&ns->mu);
        enqueue_alert_locked(ns, n.id, n.next_ms, n.alert_id);
        pthread_mutex_unlock(&ns->mu);
        fire_watchers(ns, n.id); /* a test message: "held" is its answer */
        return;
    }
    /* Durably "sending" before the request: a crash during it is known. */
    n.state = NOTIF_SENDING;
    n.attempts++;
    n.updated_ms = now;
    /* Only from "pending": an acknowledgement may have cancelled it since
     * it was read (then it is not sent). */
    cb_err rc = ns->st->ops->notif_update(ns->st, &n, NOTIF_PENDING);
    if (rc == CB_ERR_CONFLICT)
        return;
    if (rc != CB_OK) {
        enqueue(ns, n.id, now + RETRY_BASE_MS);
        return;
    }
    int64_t req_ms = 0;
    attempt(ns, tw, a, &n, &req_ms);
    /* From the reading that raised it; not for an old alarm that live
     * readings confirmed later (that is no latency of this path). */
    if (a && req_ms && n.attempts == 1 && n.round == 0 &&
        (n.stage == NOTIFY_STAGE_OWNER || n.stage == NOTIFY_STAGE_HEADS_UP) &&
        n.channel == NOTIF_SMS && a->recorded_ms && req_ms - a->recorded_ms < 600000)
        metrics_notify_latency(ns->m, req_ms - a->recorded_ms);
    if (ns->st->ops->notif_update(ns->st, &n, -1) != CB_OK)
        log_msg(LOG_ERROR, "notify: could not record the outcome of message %lld", (long long)n.id);
    else if (n.sid[0])
        sender_took_sid(ns, n.sid);
    if (n.state == NOTIF_PENDING)
        enqueue(ns, n.id, n.next_ms);
    if (n.state == NOTIF_FAILED && alarm_msg) {
        struct inbox_item it = {.failure = true, .stage = n.stage};
        it.a.id = n.alert_id;
        post_inbox(ns, &it);
    }
    fire_watchers(ns, n.id);
}

static void *sender_main(void *arg)
{
    struct notify_service *ns = arg;
    struct twilio *tw = NULL;
    if (ns->have_provider) {
        struct twilio_config tc = {ns->cfg.api_base,           ns->cfg.account_sid,
                                   ns->cfg.auth_token,         ns->cfg.from,
                                   ns->cfg.connect_timeout_ms, ns->cfg.timeout_ms};
        const char *why = NULL;
        tw = twilio_new(&tc, &why);
        if (!tw)
            log_msg(LOG_ERROR, "notify: Twilio client: %s", why ? why : "failed");
    }
    struct job j;
    while (take_job(ns, &j))
        send_one(ns, tw, j.id);
    twilio_free(tw);
    return NULL;
}

/* ---- start, stop ---- */

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

struct resume {
    struct notify_service *ns;
    struct alarm_service *alarms;
    int64_t now_ms;
};

static void resume_row(void *arg, const struct notification *row)
{
    struct resume *r = arg;
    struct notification n = *row;
    if (n.state == NOTIF_SENDING) {
        /* The process died during the provider request: the provider may
         * have taken it. Send again (a CO alarm must not be lost), say so. */
        n.state = NOTIF_PENDING;
        n.maybe_dup = true;
        n.updated_ms = r->now_ms;
        snprintf(n.last_error, sizeof n.last_error,
                 "interrupted during the provider request: may be sent twice");
        r->ns->st->ops->notif_update(r->ns->st, &n, NOTIF_SENDING);
        log_msg(LOG_WARN, "notify: message %lld was being sent at a crash: sending again",
                (long long)n.id);
    }
    enqueue(r->ns, n.id, n.next_ms);
}

static void resume_alert(void *arg, const struct alert *a)
{
    struct resume *r = arg;
    char id[65];
    if (a->acked)
        return;
    if (!alarm_service_device_id(r->alarms, a->dev, id))
        return;
    track_add(r->ns, a, id);
}

struct notify_service *notify_open(struct store *st, struct registry *reg, struct users *users,
                                   struct alarm_service *alarms, struct metrics *m,
                                   const struct notify_config *cfg, int64_t (*now_ms)(void))
{
    struct notify_service *ns = calloc(1, sizeof *ns);
    if (!ns)
        return NULL;
    ns->st = st;
    ns->reg = reg;
    ns->users = users;
    ns->m = m;
    ns->now_ms = now_ms;
    ns->alarms = alarms;
    ns->cfg = *cfg;
    ns->cfg.api_base = dup_or_empty(cfg->api_base);
    ns->cfg.account_sid = dup_or_empty(cfg->account_sid);
    ns->cfg.auth_token = dup_or_empty(cfg->auth_token);
    ns->cfg.from = dup_or_empty(cfg->from);
    ns->cfg.public_url = dup_or_empty(cfg->public_url);
    ns->per_number[0] = ratelimit_new(NUMBER_SMS_PER_HOUR / 3600.0, NUMBER_SMS_PER_HOUR, 65536);
    ns->per_number[1] = ratelimit_new(NUMBER_CALLS_PER_HOUR / 3600.0, NUMBER_CALLS_PER_HOUR, 65536);
    pthread_mutex_init(&ns->mu, NULL);
    pthread_cond_init(&ns->plan_cv, NULL);
    pthread_cond_init(&ns->send_cv, NULL);
    ns->have_provider = ns->cfg.account_sid[0] && ns->cfg.auth_token[0] && ns->cfg.from[0];
    /* The token alone is allowed (it checks webhooks); an account or a
     * sender without the rest is a half-done setup that would page nobody. */
    if (!ns->have_provider && (ns->cfg.account_sid[0] || ns->cfg.from[0])) {
        log_msg(LOG_ERROR, "notify: CARBON_TWILIO_ACCOUNT_SID, CARBON_TWILIO_AUTH_TOKEN and "
                           "CARBON_TWILIO_FROM must be set together");
        notify_close(ns);
        return NULL;
    }
    if (ns->have_provider) { /* a bad setting stops the start, not the first alarm */
        struct twilio_config tc = {ns->cfg.api_base,           ns->cfg.account_sid,
                                   ns->cfg.auth_token,         ns->cfg.from,
                                   ns->cfg.connect_timeout_ms, ns->cfg.timeout_ms};
        const char *why = NULL;
        struct twilio *tw = twilio_new(&tc, &why);
        if (!tw) {
            log_msg(LOG_ERROR, "notify: Twilio settings: %s", why ? why : "unusable");
            notify_close(ns);
            return NULL;
        }
        twilio_free(tw);
    }
    if (!ns->have_provider)
        log_msg(LOG_WARN, "notify: no Twilio account (CARBON_TWILIO_ACCOUNT_SID, _AUTH_TOKEN, "
                          "_FROM): notifications are kept pending, nobody is paged");
    if (!ns->cfg.public_url[0])
        log_msg(LOG_WARN, "notify: no CARBON_PUBLIC_URL: the Twilio webhooks answer 403 (an "
                          "SMS reply of ACK acknowledges nothing), calls cannot be acknowledged "
                          "by pressing 1, and no delivery status is asked for; set it to the "
                          "server's base URL as Twilio calls it");

    /* Hear alarm events from now on, then pick up what is already active
     * (both may name the same alarm: it is tracked once). */
    alarm_service_set_sink(alarms, &(struct alarm_sink){notify_alarm_sink, ns});
    alarm_service_sync(alarms);
    struct resume r = {ns, alarms, now_ms()};
    cb_err rc = st->ops->notif_load_open(st, resume_row, &r);
    struct alert_filter f = {.kind = -1, .active = 1, .acked = 0, .to = INT64_MAX, .limit = 100000};
    struct alert *act = NULL;
    size_t nact = 0;
    if (rc == CB_OK)
        rc = st->ops->alerts_query(st, &f, &act, &nact);
    for (size_t i = 0; rc == CB_OK && i < nact; i++)
        resume_alert(&r, &act[i]);
    free(act);
    if (rc != CB_OK) {
        log_msg(LOG_ERROR, "notify: could not resume the outbox (%s)", cb_strerror(rc));
        notify_close(ns);
        return NULL;
    }
    if (pthread_create(&ns->planner, NULL, planner_main, ns) != 0) {
        notify_close(ns);
        return NULL;
    }
    for (; ns->nsenders < NOTIFY_SENDERS; ns->nsenders++)
        if (pthread_create(&ns->senders[ns->nsenders], NULL, sender_main, ns) != 0)
            break;
    return ns;
}

void notify_close(struct notify_service *ns)
{
    if (!ns)
        return;
    pthread_mutex_lock(&ns->mu);
    ns->stopping = true;
    pthread_cond_broadcast(&ns->plan_cv);
    pthread_cond_broadcast(&ns->send_cv);
    pthread_mutex_unlock(&ns->mu);
    if (ns->planner)
        pthread_join(ns->planner, NULL);
    for (size_t i = 0; i < ns->nsenders; i++)
        pthread_join(ns->senders[i], NULL);
    fire_watchers(ns, 0);
    free(ns->watchers);
    ratelimit_free(ns->per_number[0]);
    ratelimit_free(ns->per_number[1]);
    free(ns->inbox);
    free(ns->queue);
    free(ns->tracks);
    free(ns->adds);
    free((char *)ns->cfg.api_base);
    free((char *)ns->cfg.account_sid);
    if (ns->cfg.auth_token) {
        char *t = (char *)ns->cfg.auth_token;
        memset(t, 0, strlen(t));
        free(t);
    }
    free((char *)ns->cfg.from);
    free((char *)ns->cfg.public_url);
    pthread_mutex_destroy(&ns->mu);
    pthread_cond_destroy(&ns->plan_cv);
    pthread_cond_destroy(&ns->send_cv);
    free(ns);
}

void notify_alarm_sink(void *arg, const struct alert *a, const struct alarm_event *ev,
                       const char *device_id)
{
    struct notify_service *ns = arg;
    alarm_event_log(a, ev, device_id);
    if (!a->id) /* not stored (a disk error): the writer retries and tells us again */
        return;
    struct inbox_item it = {.a = *a, .type = ev->type};
    snprintf(it.device_id, sizeof it.device_id, "%s", device_id);
    post_inbox(ns, &it);
}

/* ---- requests ---- */

cb_err notify_test(struct notify_service *ns, const char *user_id, const char *to,
                   enum notif_channel ch, const char *text, int64_t wait_ms, notify_done_fn done,
                   void *arg, struct notification *out)
{
    struct notification n = {0};
    char name[129] = "";
    if (user_id) {
        struct user u;
        cb_err rc = users_get(ns->users, user_id, &u);
        if (rc != CB_OK)
            return rc;
        if (!to)
            snprintf(n.to, sizeof n.to, "%s", u.phone ? u.phone : "");
        snprintf(n.user_id, sizeof n.user_id, "%s", u.id);
        snprintf(name, sizeof name, "%s", u.name ? u.name : "");
        user_clear(&u);
    }
    if (to)
        snprintf(n.to, sizeof n.to, "%s", to);
    if (!n.to[0])
        return CB_ERR_VALIDATION;
    n.stage = NOTIFY_STAGE_TEST;
    n.channel = (uint8_t)ch;
    n.state = NOTIF_PENDING;
    struct buf b;
    buf_init(&b, sizeof n.body - 1);
    if (text && text[0])
        snprintf(n.body, sizeof n.body, "%s", text);
    else if (message_test(name, &b) && b.data)
        snprintf(n.body, sizeof n.body, "%s", b.data);
    buf_free(&b);
    n.created_ms = n.next_ms = n.updated_ms = ns->now_ms();
    cb_err rc = ns->st->ops->notif_add(ns->st, &n);
    if (rc != CB_OK)
        return rc;
    *out = n;
    /* The watcher first: a sender may finish before enqueue returns. */
    pthread_mutex_lock(&ns->mu);
    if (!grow((void **)&ns->watchers, &ns->watchers_cap, ns->nwatchers, sizeof *ns->watchers)) {
        pthread_mutex_unlock(&ns->mu);
        enqueue(ns, n.id, n.next_ms);
        done(arg);
        return CB_OK;
    }
    ns->watchers[ns->nwatchers++] = (struct watcher){n.id, n.created_ms + wait_ms, done, arg};
    enqueue_locked(ns, n.id, n.next_ms);
    pthread_mutex_unlock(&ns->mu);
    return CB_OK;
}

/* Applies a delivery status to the outbox row with sid (and its effect on
 * the escalation). Caller holds mu (see notify_status). */
static cb_err apply_status(struct notify_service *ns, const char *sid, const char *status,
                           int error_code)
{
    struct notification n;
    cb_err rc = ns->st->ops->notif_status(ns->st, sid, status, error_code, ns->now_ms(), &n);
    if (rc != CB_OK)
        return rc;
    if (strcmp(n.provider_status, status) == 0) /* not an out-of-order one, ignored */
        metrics_notify_delivery(ns->m, n.channel, status);
    if (failed_for_good(&n) && n.alert_id && n.stage >= NOTIFY_STAGE_OWNER &&
        n.stage <= NOTIFY_STAGE_EMERGENCY && n.round == 0) {
        struct inbox_item it = {.failure = true, .stage = n.stage};
        it.a.id = n.alert_id;
        post_inbox_locked(ns, &it);
    }
    return CB_OK;
}

cb_err notify_status(struct notify_service *ns, const char *sid, const char *status, int error_code)
{
    /* A fast provider can call back before the sender has written the sid
     * it answered with: such a status waits in `early` for that write
     * (sender_took_sid). Both sides hold mu, so none falls in between. */
    pthread_mutex_lock(&ns->mu);
    cb_err rc = apply_status(ns, sid, status, error_code);
    if (rc == CB_ERR_NOT_FOUND) {
        struct early *e = &ns->early[ns->nearly++ % NOTIFY_EARLY];
        snprintf(e->sid, sizeof e->sid, "%s", sid);
        snprintf(e->status, sizeof e->status, "%s", status);
        e->error_code = error_code;
        e->at_ms = ns->now_ms();
    }
    pthread_mutex_unlock(&ns->mu);
    return rc;
}

/* The sender wrote sid: a status that came before it applies now. */
static void sender_took_sid(struct notify_service *ns, const char *sid)
{
    pthread_mutex_lock(&ns->mu);
    int64_t now = ns->now_ms();
    for (size_t i = 0; i < NOTIFY_EARLY && i < ns->nearly; i++) {
        struct early *e = &ns->early[i];
        if (!e->sid[0] || strcmp(e->sid, sid) != 0)
            continue;
        if (now - e->at_ms < 600000)
            apply_status(ns, e->sid, e->status, e->error_code);
        e->sid[0] = 0;
    }
    pthread_mutex_unlock(&ns->mu);
}

void notify_poke(struct notify_service *ns, int64_t alert_id)
{
    struct inbox_item it = {.poke = true};
    it.a.id = alert_id;
    post_inbox(ns, &it); /* stop the escalation now, not at the next sweep */
}

cb_err notify_ack_from(struct notify_service *ns, struct alarm_service *alarms, const char *number,
                       const char *who, size_t *n)
{
    int64_t ids[64];
    size_t k = 0;
    *n = 0;
    cb_err rc = ns->st->ops->notif_open_alerts_to(ns->st, number, ids, 64, &k);
    if (rc != CB_OK)
        return rc;
    for (size_t i = 0; i < k; i++) {
        struct alert a;
        if (alarm_service_ack(alarms, ids[i], who, ns->now_ms(), &a) == CB_OK) {
            (*n)++;
            notify_poke(ns, ids[i]);
        }
    }
    return CB_OK;
}

const char *notify_auth_token(const struct notify_service *ns)
{
    return ns->cfg.auth_token;
}

const char *notify_public_url(const struct notify_service *ns)
{
    return ns->cfg.public_url;
}

static const char *const state_names[] = {"pending", "sending", "accepted", "failed", "cancelled"};

static void set_time(json_t *o, const char *key, int64_t ms)
{
    char ts[40];
    rfc3339_format(ms, ts);
    json_object_set_new(o, key, json_string(ts));
}

json_t *notify_json(const struct notification *n)
{
    json_t *o = json_pack("{s:I,s:s,s:i,s:s,s:s,s:s,s:i,s:b}", "id", (json_int_t)n->id, "stage",
                          notify_stage_name(n->stage), "round", n->round, "channel",
                          n->channel == NOTIF_CALL ? "call" : "sms", "to", n->to, "state",
                          n->state < 5 ? state_names[n->state] : "unknown", "attempts", n->attempts,
                          "maybe_duplicate", n->maybe_dup);
    if (!o)
        return NULL;
    set_time(o, "created_at", n->created_ms);
    if (n->alert_id)
        json_object_set_new(o, "alert_id", json_integer(n->alert_id));
    if (n->user_id[0])
        json_object_set_new(o, "user_id", json_string(n->user_id));
    json_object_set_new(o, "body", json_string(n->body));
    if (n->sent_ms)
        set_time(o, "sent_at", n->sent_ms);
    if (n->state == NOTIF_PENDING && n->next_ms > n->created_ms) /* retried or held */
        set_time(o, "next_attempt_at", n->next_ms);
    if (n->sid[0])
        json_object_set_new(o, "provider_sid", json_string(n->sid));
    if (n->provider_status[0])
        json_object_set_new(o, "provider_status", json_string(n->provider_status));
    if (n->error_code)
        json_object_set_new(o, "error_code", json_integer(n->error_code));
    if (n->last_error[0])
        json_object_set_new(o, "last_error", json_string(n->last_error));
    return o;
}
