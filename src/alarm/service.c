/* service.c - alarm engine states per device, alert records, the clock
 * thread (see service.h). */
#include "alarm/service.h"

#include "alarm/settings.h"
#include "core/log.h"
#include "core/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Engine states that changed without an event are saved this often; a
 * crash replays at most this much of each device's readings at startup. */
#define SAVE_EVERY_MS 10000

struct dev_entry {
    char id[65];
    struct alarm_config cfg;
    struct alarm_state st;
    struct alert *open[ALARM_NKINDS]; /* the record of each active alarm */
    /* Cleared alerts not yet written (a failed write is retried). */
    struct alert *closing[2 * ALARM_NKINDS];
    size_t nclosing;
    bool dirty;  /* state changed since it was saved */
    bool urgent; /* its alert records changed: write at once (with the state) */
    bool saved;  /* a state was loaded at open: replay what came after it */
};

/* An event and a snapshot of its alert, to hand to the sink after unlocking. */
struct fired {
    struct alert alert;
    struct alarm_event ev;
    char device_id[65];
};

struct firelist {
    struct fired *v;
    size_t n, cap;
};

struct alarm_service {
    struct store *store;
    struct metrics *metrics;
    int64_t (*now_ms)(void);
    struct alarm_sink sink;

    pthread_mutex_t mu;     /* guards everything below */
    struct dev_entry **dev; /* indexed by device seq */
    size_t ndev;
    int64_t saved_ms; /* last save of the changed states */
    /* Events whose records wait for the alarm writer (the clock thread),
     * then go to the sink: no reading's request waits on a disk for them. */
    struct firelist queued;
    size_t nurgent; /* devices whose records wait for the writer */
    bool opened;    /* loading is over */

    pthread_mutex_t tick_mu;
    pthread_cond_t tick_cv;
    bool stopping, ticking, wake; /* wake: events queued, write them now */
    int tick_ms;
    pthread_t ticker;
};

const char *alert_state_name(const struct alert *a)
{
    return a->active ? (a->acked ? "active_ack" : "active_unack")
                     : (a->acked ? "cleared_ack" : "cleared_unack");
}

void alarm_event_log(const struct alert *a, const struct alarm_event *ev, const char *device_id)
{
    log_msg(ev->type == ALARM_EV_RAISED ? LOG_WARN : LOG_INFO,
            "alarm %s: device %s kind %s severity %s alert %lld ppm %.1f peak %.1f",
            alarm_event_name(ev->type), device_id, alarm_kind_name((enum alarm_kind)a->kind),
            alarm_severity_name((enum alarm_severity)a->severity), (long long)a->id, ev->ppm,
            a->peak_ppm);
}

static void log_sink(void *arg, const struct alert *a, const struct alarm_event *ev,
                     const char *device_id)
{
    (void)arg;
    alarm_event_log(a, ev, device_id);
}

static struct dev_entry *entry(struct alarm_service *s, uint32_t seq)
{
    return seq < s->ndev ? s->dev[seq] : NULL;
}

static struct dev_entry *entry_make(struct alarm_service *s, uint32_t seq)
{
    if (seq >= s->ndev) {
        size_t n = s->ndev ? s->ndev : 64;
        while (n <= seq)
            n *= 2;
        struct dev_entry **v = realloc(s->dev, n * sizeof *v);
        if (!v)
            return NULL;
        memset(v + s->ndev, 0, (n - s->ndev) * sizeof *v);
        s->dev = v;
        s->ndev = n;
    }
    if (!s->dev[seq]) {
        s->dev[seq] = calloc(1, sizeof **s->dev);
        if (!s->dev[seq])
            return NULL;
        alarm_state_init(&s->dev[seq]->st);
        alarm_config_default(&s->dev[seq]->cfg);
    }
    return s->dev[seq];
}

static void entry_free(struct dev_entry *e)
{
    if (!e)
        return;
    for (int k = 0; k < ALARM_NKINDS; k++)
        free(e->open[k]);
    for (size_t i = 0; i < e->nclosing; i++)
        free(e->closing[i]);
    free(e);
}

/* ---- events -> alert records ---- */

static bool fire_push(struct firelist *fl, const struct alert *a, const struct alarm_event *ev,
                      const char *id)
{
    if (fl->n == fl->cap) {
        size_t cap = fl->cap ? fl->cap * 2 : 8;
        struct fired *v = realloc(fl->v, cap * sizeof *v);
        if (!v)
            return false;
        fl->v = v;
        fl->cap = cap;
    }
    struct fired *f = &fl->v[fl->n++];
    f->alert = *a;
    f->ev = *ev;
    memcpy(f->device_id, id, sizeof f->device_id);
    return true;
}

struct recref {
    struct alert rec;
    struct alert *src;
};

static int cmp_recref(const void *a, const void *b)
{
    const struct alert *x = &((const struct recref *)a)->rec, *y = &((const struct recref *)b)->rec;
    if (x->raised_ms != y->raised_ms)
        return x->raised_ms < y->raised_ms ? -1 : 1;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return (x->kind > y->kind) - (x->kind < y->kind);
}

/* Sorts records (and their sources) by raised time: new records get ids in
 * the order they were raised. */
static void sort_records(struct alert *rec, struct alert **src, size_t n)
{
    struct recref *v = n > 1 ? malloc(n * sizeof *v) : NULL;
    if (!v)
        return; /* one record, or no memory: ids in collection order */
    for (size_t i = 0; i < n; i++)
        v[i] = (struct recref){rec[i], src[i]};
    qsort(v, n, sizeof *v, cmp_recref);
    for (size_t i = 0; i < n; i++) {
        rec[i] = v[i].rec;
        src[i] = v[i].src;
    }
    free(v);
}

/* Writes the open and just-cleared alerts of the devices seqs[0..n) with
 * their engine states, in one transaction. Queued snapshots of new alerts
 * get the ids the commit assigns (a device's kind names its one open
 * alert). Caller holds mu. */
static bool save_entries(struct alarm_service *s, const uint32_t *seqs, size_t n)
{
    struct firelist *fl = &s->queued;
    size_t cap = 0;
    for (size_t i = 0; i < n; i++)
        cap += ALARM_NKINDS + s->dev[seqs[i]]->nclosing;
    struct alert *rec = malloc((cap ? cap : 1) * sizeof *rec);
    struct alert **src = malloc((cap ? cap : 1) * sizeof *src);
    struct alarm_blob *b =
        calloc(n ? n : 1, sizeof *b); /* calloc: gcc -O2 -Wmaybe-uninitialized when n == 0 */
    size_t na = 0;
    cb_err rc = CB_ERR_NOMEM;
    if (rec && src && b) {
        for (size_t i = 0; i < n; i++) {
            struct dev_entry *e = s->dev[seqs[i]];
            for (int k = 0; k < ALARM_NKINDS; k++)
                if (e->open[k]) {
                    if (e->st.kind[k].peak_ppm > e->open[k]->peak_ppm)
                        e->open[k]->peak_ppm = e->st.kind[k].peak_ppm;
                    src[na] = e->open[k];
                    rec[na++] = *e->open[k];
                }
            for (size_t j = 0; j < e->nclosing; j++) {
                src[na] = e->closing[j];
                rec[na++] = *e->closing[j];
            }
            b[i] = (struct alarm_blob){seqs[i], &e->st, sizeof e->st};
        }
        sort_records(rec, src, na);
        rc = s->store->ops->alarm_commit(s->store, rec, na, b, n);
    }
    if (rc == CB_OK) {
        for (size_t i = 0; i < na; i++) {
            bool fresh = src[i]->id == 0;
            src[i]->id = rec[i].id;
            /* A new record's queued snapshots: same device, kind and raise
             * time (one batch may hold two alerts of a kind). */
            for (size_t j = 0; fresh && j < fl->n; j++)
                if (!fl->v[j].alert.id && fl->v[j].alert.dev == rec[i].dev &&
                    fl->v[j].alert.kind == rec[i].kind &&
                    fl->v[j].alert.raised_ms == rec[i].raised_ms)
                    fl->v[j].alert.id = rec[i].id;
        }
        for (size_t i = 0; i < n; i++) {
            struct dev_entry *e = s->dev[seqs[i]];
            for (size_t j = 0; j < e->nclosing; j++)
                free(e->closing[j]);
            e->nclosing = 0;
            if (e->urgent)
                s->nurgent--;
            e->dirty = e->urgent = false;
        }
    } else {
        metrics_alarm_store_error(s->metrics);
        log_msg(LOG_ERROR, "alarm records of %zu device(s) not saved (%s); retrying", n,
                cb_strerror(rc));
        for (size_t i = 0; i < n; i++)
            s->dev[seqs[i]]->dirty = true;
    }
    free(rec);
    free(src);
    free(b);
    return rc == CB_OK;
}

static bool save_entry(struct alarm_service *s, uint32_t seq)
{
    return save_entries(s, &seq, 1);
}

/* Saves every changed state, SAVE_BATCH devices per transaction. The
 * readings after a saved state are replayed at startup, so this only bounds
 * that replay. Caller holds mu. */
#define SAVE_BATCH 512
static bool save_where(struct alarm_service *s, bool urgent_only)
{
    uint32_t seqs[SAVE_BATCH];
    size_t n = 0;
    bool ok = true;
    for (uint32_t seq = 0; seq < s->ndev; seq++) {
        const struct dev_entry *e = s->dev[seq];
        if (!e || !(urgent_only ? e->urgent : e->dirty))
            continue;
        seqs[n++] = seq;
        if (n == SAVE_BATCH) {
            ok &= save_entries(s, seqs, n);
            n = 0;
        }
    }
    if (n)
        ok &= save_entries(s, seqs, n);
    return ok;
}

static void save_dirty(struct alarm_service *s)
{
    save_where(s, false);
}

/* Writes every device whose alert records changed, many per transaction
 * (an alarm storm costs one fsync per batch, not one per event). */
static bool flush_urgent(struct alarm_service *s)
{
    return save_where(s, true);
}

/* Hands the queued events to the caller, to fire after unlocking. Caller
 * holds mu. */
static void take_queue(struct alarm_service *s, struct firelist *out)
{
    *out = s->queued;
    s->queued = (struct firelist){0};
}

/* The device's records changed: the writer must write them. */
static void mark_urgent(struct alarm_service *s, struct dev_entry *e)
{
    if (!e->urgent)
        s->nurgent++;
    e->dirty = e->urgent = true;
}

/* Turns the engine's events for one device into alert changes and queues
 * them for the writer and then the sink. Caller holds mu. */
static void apply_events(struct alarm_service *s, uint32_t seq, struct dev_entry *e,
                         const struct alarm_events *evs, int64_t now)
{
    struct firelist *fl = &s->queued;
    mark_urgent(s, e);
    for (size_t i = 0; i < evs->n; i++) {
        const struct alarm_event *ev = &evs->ev[i];
        struct alert *a = e->open[ev->kind];
        metrics_alarm_event(s->metrics, (int)ev->kind, (int)ev->type);
        switch (ev->type) {
        case ALARM_EV_RAISED:
            if (a) /* cannot happen: the engine raises only inactive kinds */
                break;
            a = calloc(1, sizeof *a);
            if (!a) {
                log_msg(LOG_ERROR, "out of memory recording an alarm of device %s", e->id);
                continue;
            }
            a->dev = seq;
            a->kind = (uint8_t)ev->kind;
            a->severity = (uint8_t)ev->severity;
            a->active = true;
            a->raised_ms = a->updated_ms = ev->ts_ms;
            a->recorded_ms = now;
            a->trigger_ppm = ev->ppm;
            a->peak_ppm = ev->peak_ppm;
            e->open[ev->kind] = a;
            break;
        case ALARM_EV_UPDATED:
            if (!a)
                continue;
            a->severity = (uint8_t)ev->severity;
            a->peak_ppm = ev->peak_ppm;
            a->updated_ms = ev->ts_ms;
            break;
        case ALARM_EV_CLEARED:
            if (!a)
                continue;
            a->active = false;
            a->cleared_ms = a->updated_ms = ev->ts_ms;
            a->muted_until_ms = 0;
            if (ev->peak_ppm > a->peak_ppm)
                a->peak_ppm = ev->peak_ppm;
            e->open[ev->kind] = NULL;
            if (e->nclosing == sizeof e->closing / sizeof *e->closing) {
                log_msg(LOG_ERROR, "alarm records of device %s cannot be written; dropping one",
                        e->id);
                free(e->closing[0]);
                memmove(e->closing, e->closing + 1, (e->nclosing - 1) * sizeof *e->closing);
                e->nclosing--;
            }
            e->closing[e->nclosing++] = a;
            break;
        case ALARM_EV_REARMED:
            if (!a)
                continue;
            a->muted_until_ms = 0;
            a->updated_ms = ev->ts_ms;
            break;
        }
        fire_push(fl, a, ev, e->id);
    }
}

static void fire(struct alarm_service *s, struct firelist *fl)
{
    for (size_t i = 0; i < fl->n; i++)
        s->sink.fn(s->sink.arg, &fl->v[i].alert, &fl->v[i].ev, fl->v[i].device_id);
    free(fl->v);
    fl->v = NULL;
    fl->n = fl->cap = 0;
}

/* ---- readings ---- */

static int cmp_reading(const void *a, const void *b)
{
    const struct reading *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return (x->ts_ms > y->ts_ms) - (x->ts_ms < y->ts_ms);
}

/* Feeds one reading. Caller holds mu. */
static void feed(struct alarm_service *s, uint32_t seq, struct dev_entry *e, int64_t ts, double ppm,
                 int64_t recv, int64_t now, uint64_t *late)
{
    struct alarm_input in = {.ts_ms = ts, .recv_ms = recv, .ppm = ppm, .flags = 0};
    struct alarm_events evs;
    if (e->st.last_ts_ms && ts <= e->st.last_ts_ms)
        ++*late;
    alarm_reading(&e->cfg, &e->st, &in, &evs);
    e->dirty = true;
    if (evs.n)
        apply_events(s, seq, e, &evs, now);
}

/* Wakes the writer: events are queued. */
static void wake_writer(struct alarm_service *s)
{
    pthread_mutex_lock(&s->tick_mu);
    s->wake = true;
    pthread_cond_signal(&s->tick_cv);
    pthread_mutex_unlock(&s->tick_mu);
}

void alarm_service_readings(struct alarm_service *s, const struct reading *r, const uint8_t *dup,
                            size_t n, int64_t now_ms)
{
    struct reading one, *v = &one;
    size_t m = 0;
    if (n > 1) {
        v = malloc(n * sizeof *v);
        if (!v) {
            log_msg(LOG_ERROR, "out of memory evaluating alarms of %zu readings", n);
            return;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (!dup || !dup[i])
            v[m++] = r[i];
    if (m > 1)
        qsort(v, m, sizeof *v, cmp_reading);
    uint64_t late = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < m; i++) {
        struct dev_entry *e = entry(s, v[i].dev);
        if (e)
            feed(s, v[i].dev, e, v[i].ts_ms, v[i].co_ppm, now_ms, now_ms, &late);
    }
    bool queued = s->queued.n > 0;
    pthread_mutex_unlock(&s->mu);
    metrics_alarm_readings(s->metrics, m, late);
    if (queued) {
        if (s->ticking)
            wake_writer(s);
        else
            alarm_service_flush(s);
    }
    if (v != &one)
        free(v);
}

/* ---- clock ---- */

/* Is this the thread that delivers events (the writer), or is there none? */
static bool may_deliver(struct alarm_service *s)
{
    return !s->ticking || pthread_equal(pthread_self(), s->ticker);
}

/* After records were written under mu (released since): events go to the
 * sink from one thread only, in the order they happened: the writer's. */
static void deliver(struct alarm_service *s)
{
    if (!may_deliver(s)) {
        wake_writer(s);
        return;
    }
    struct firelist fl;
    pthread_mutex_lock(&s->mu);
    flush_urgent(s); /* (nothing, usually: the caller wrote) */
    take_queue(s, &fl);
    pthread_mutex_unlock(&s->mu);
    fire(s, &fl);
}

void alarm_service_flush(struct alarm_service *s)
{
    pthread_mutex_lock(&s->mu);
    flush_urgent(s);
    pthread_mutex_unlock(&s->mu);
    deliver(s);
}

void alarm_service_sync(struct alarm_service *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->nurgent)
        flush_urgent(s);
    bool queued = s->queued.n > 0;
    pthread_mutex_unlock(&s->mu);
    if (queued)
        deliver(s);
}

void alarm_service_tick(struct alarm_service *s, int64_t now_ms)
{
    struct firelist fl;
    pthread_mutex_lock(&s->mu);
    for (uint32_t seq = 0; seq < s->ndev; seq++) {
        struct dev_entry *e = s->dev[seq];
        if (!e)
            continue;
        struct alarm_events evs;
        alarm_tick(&e->cfg, &e->st, now_ms, &evs);
        if (evs.n)
            apply_events(s, seq, e, &evs, now_ms);
    }
    flush_urgent(s);
    if (now_ms - s->saved_ms >= SAVE_EVERY_MS || now_ms < s->saved_ms) {
        save_dirty(s);
        s->saved_ms = now_ms;
    }
    bool mine = may_deliver(s);
    if (mine)
        take_queue(s, &fl);
    pthread_mutex_unlock(&s->mu);
    if (mine)
        fire(s, &fl);
    else
        wake_writer(s);
}

/* The clock thread, also the alarm writer: ticks every tick_ms, and writes
 * queued alert records (then calls the sink) as soon as it is woken. */
static void *ticker_main(void *arg)
{
    struct alarm_service *s = arg;
    int64_t next = s->now_ms() + s->tick_ms;
    pthread_mutex_lock(&s->tick_mu);
    while (!s->stopping) {
        if (!s->wake) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wait_ms = next - s->now_ms();
            if (wait_ms < 0)
                wait_ms = 0;
            if (wait_ms > s->tick_ms)
                wait_ms = s->tick_ms;
            ts.tv_sec += wait_ms / 1000;
            ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->tick_cv, &s->tick_mu, &ts);
        }
        if (s->stopping)
            break;
        bool woken = s->wake;
        s->wake = false;
        pthread_mutex_unlock(&s->tick_mu);
        int64_t now = s->now_ms();
        if (now >= next || now < next - s->tick_ms) { /* due, or the clock jumped back */
            alarm_service_tick(s, now);
            next = now + s->tick_ms;
        } else if (woken) {
            alarm_service_flush(s);
        }
        pthread_mutex_lock(&s->tick_mu);
    }
    pthread_mutex_unlock(&s->tick_mu);
    return NULL;
}

/* ---- open, close ---- */

static void load_state(void *arg, uint32_t dev, const void *data, size_t len)
{
    struct alarm_service *s = arg;
    struct dev_entry *e = entry(s, dev);
    struct alarm_state st;
    if (!e || len != sizeof st)
        return; /* a deleted device, or a layout from another version: start afresh */
    memcpy(&st, data, sizeof st);
    if (st.version == ALARM_STATE_VERSION) {
        e->st = st;
        e->saved = true;
    }
}

static void load_active(void *arg, const struct alert *a)
{
    struct alarm_service *s = arg;
    struct dev_entry *e = entry(s, a->dev);
    if (!e || a->kind >= ALARM_NKINDS || e->open[a->kind])
        return;
    struct alert *copy = malloc(sizeof *copy);
    if (copy) {
        *copy = *a;
        e->open[a->kind] = copy;
    }
}

struct replay {
    struct alarm_service *s;
    uint32_t seq;
    struct dev_entry *e;
    int64_t now;
    size_t n;
};

static bool replay_one(void *arg, const struct reading *r)
{
    struct replay *rp = arg;
    uint64_t late = 0;
    /* The receipt time is not kept per reading; its own time stands in. */
    feed(rp->s, rp->seq, rp->e, r->ts_ms, r->co_ppm, r->ts_ms, rp->now, &late);
    rp->n++;
    return true;
}

/* Makes the engine state and the open alerts agree (they are written
 * together, so this only matters after a layout change). */
static void reconcile(struct dev_entry *e)
{
    for (int k = 0; k < ALARM_NKINDS; k++) {
        struct alarm_kind_state *ks = &e->st.kind[k];
        struct alert *a = e->open[k];
        if (a && !ks->active) {
            *ks = (struct alarm_kind_state){.active = 1,
                                            .severity = a->severity,
                                            .since_ms = a->raised_ms,
                                            .muted_until_ms = a->muted_until_ms,
                                            .peak_ppm = a->peak_ppm,
                                            .told_peak_ppm = a->peak_ppm};
        } else if (!a && ks->active) {
            ks->active = 0; /* raised again if the condition holds */
        }
    }
}

struct alarm_service *alarm_service_open(struct store *st, struct metrics *m,
                                         const struct device *devices, size_t n,
                                         int64_t (*now_ms)(void), int tick_ms)
{
    struct alarm_service *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->store = st;
    s->metrics = m;
    s->now_ms = now_ms;
    s->sink = (struct alarm_sink){log_sink, NULL};
    s->tick_ms = tick_ms;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->tick_mu, NULL);
    pthread_cond_init(&s->tick_cv, NULL);
    for (size_t i = 0; i < n; i++)
        if (alarm_service_device(s, &devices[i], true) != CB_OK)
            goto fail;
    if (st->ops->alarm_load(st, load_state, load_active, s) != CB_OK)
        goto fail;
    int64_t now = now_ms();
    struct firelist fl;
    size_t replayed = 0;
    pthread_mutex_lock(&s->mu);
    for (uint32_t seq = 0; seq < s->ndev; seq++) {
        struct dev_entry *e = s->dev[seq];
        if (!e)
            continue;
        reconcile(e);
        /* Readings stored after the saved state: evaluate them now. */
        if (e->saved) {
            struct replay rp = {s, seq, e, now, 0};
            if (st->ops->scan_readings(st, seq, e->st.last_ts_ms + 1, INT64_MAX, replay_one, &rp) !=
                CB_OK)
                log_msg(LOG_ERROR, "alarm replay of device %s failed", e->id);
            replayed += rp.n;
        }
        /* Offline detection resumes from the last receipt the store knows. */
        struct device_live live;
        if (st->ops->device_live(st, seq, &live) == CB_OK &&
            live.last_seen_ms > e->st.last_recv_ms) {
            e->st.last_recv_ms = live.last_seen_ms;
            e->dirty = true;
        }
    }
    flush_urgent(s);
    take_queue(s, &fl);
    pthread_mutex_unlock(&s->mu);
    fire(s, &fl);
    if (replayed)
        log_msg(LOG_INFO, "alarm engine caught up on %zu readings stored before a restart",
                replayed);
    s->opened = true;
    if (tick_ms > 0) {
        if (pthread_create(&s->ticker, NULL, ticker_main, s) != 0)
            goto fail;
        s->ticking = true;
    }
    return s;
fail:
    log_msg(LOG_ERROR, "cannot start the alarm engine");
    alarm_service_close(s);
    return NULL;
}

void alarm_service_close(struct alarm_service *s)
{
    if (!s)
        return;
    if (s->ticking) {
        pthread_mutex_lock(&s->tick_mu);
        s->stopping = true;
        pthread_cond_signal(&s->tick_cv);
        pthread_mutex_unlock(&s->tick_mu);
        pthread_join(s->ticker, NULL);
    }
    struct firelist fl;
    pthread_mutex_lock(&s->mu);
    flush_urgent(s);
    save_dirty(s);
    take_queue(s, &fl);
    pthread_mutex_unlock(&s->mu);
    fire(s, &fl);
    for (size_t i = 0; i < s->ndev; i++)
        entry_free(s->dev[i]);
    free(s->dev);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->tick_mu);
    pthread_cond_destroy(&s->tick_cv);
    free(s);
}

void alarm_service_set_sink(struct alarm_service *s, const struct alarm_sink *sink)
{
    pthread_mutex_lock(&s->mu);
    s->sink = *sink;
    pthread_mutex_unlock(&s->mu);
}

cb_err alarm_service_device(struct alarm_service *s, const struct device *d, bool create)
{
    struct alarm_config cfg;
    alarm_settings_config(d->thresholds, d->offline_after_s, &cfg);
    pthread_mutex_lock(&s->mu);
    bool fresh = !entry(s, d->seq);
    if (fresh && !create) { /* deleted meanwhile: do not bring it back */
        pthread_mutex_unlock(&s->mu);
        return CB_OK;
    }
    struct dev_entry *e = entry_make(s, d->seq);
    if (e) {
        memcpy(e->id, d->id, sizeof e->id);
        e->cfg = cfg;
        /* A new device's (empty) state is saved at once: after a crash,
         * every reading stored since is replayed, including one stored just
         * before the crash and never evaluated. (At open, states are loaded
         * after this and must not be overwritten.) */
        if (fresh && s->opened)
            save_entry(s, d->seq);
    }
    pthread_mutex_unlock(&s->mu);
    return e ? CB_OK : CB_ERR_NOMEM;
}

void alarm_service_forget(struct alarm_service *s, uint32_t seq)
{
    pthread_mutex_lock(&s->mu);
    if (seq < s->ndev && s->dev[seq]) {
        if (s->dev[seq]->urgent)
            s->nurgent--;
        entry_free(s->dev[seq]);
        s->dev[seq] = NULL;
    }
    pthread_mutex_unlock(&s->mu);
}

bool alarm_service_device_id(struct alarm_service *s, uint32_t seq, char id[65])
{
    pthread_mutex_lock(&s->mu);
    struct dev_entry *e = entry(s, seq);
    if (e)
        memcpy(id, e->id, 65);
    pthread_mutex_unlock(&s->mu);
    return e != NULL;
}

/* ---- people ---- */

/* A person acts on alert id: writes what is queued (so the id is found),
 * reads the stored record into *stored, and takes mu (held on CB_OK). *e is
 * its device's entry (NULL if gone) and *a its open record, NULL unless the
 * alert is active. */
static cb_err lock_alert(struct alarm_service *s, int64_t id, struct alert *stored,
                         struct dev_entry **e, struct alert **a)
{
    alarm_service_sync(s);
    cb_err rc = s->store->ops->alert_get(s->store, id, stored);
    if (rc != CB_OK)
        return rc;
    pthread_mutex_lock(&s->mu);
    *e = entry(s, stored->dev);
    *a = *e && stored->kind < ALARM_NKINDS ? (*e)->open[stored->kind] : NULL;
    if (*a && (*a)->id != stored->id)
        *a = NULL;
    return CB_OK;
}

cb_err alarm_service_ack(struct alarm_service *s, int64_t id, const char *who, int64_t now_ms,
                         struct alert *out)
{
    struct alert stored, *a;
    struct dev_entry *e;
    cb_err rc = lock_alert(s, id, &stored, &e, &a);
    if (rc != CB_OK)
        return rc;
    if (!a && e) {
        /* Cleared since: if its clearing is not written yet (the writer's
         * queue, or a failed write), acknowledge that record itself. */
        flush_urgent(s);
        for (size_t i = 0; i < e->nclosing; i++)
            if (e->closing[i]->id == id) {
                struct alert *c = e->closing[i];
                if (!c->acked) {
                    c->acked = true;
                    c->acked_ms = c->updated_ms = now_ms;
                    snprintf(c->acked_by, sizeof c->acked_by, "%s", who);
                }
                *out = *c;
                mark_urgent(s, e);
                rc = flush_urgent(s) ? CB_OK : CB_ERR_IO;
                pthread_mutex_unlock(&s->mu);
                deliver(s);
                return rc;
            }
    }
    if (!a) {
        /* Cleared and written (or its device is gone): the stored record is
         * the truth, re-read under the lock. */
        rc = s->store->ops->alert_get(s->store, id, &stored);
        if (rc == CB_OK && !stored.acked) {
            stored.acked = true;
            stored.acked_ms = stored.updated_ms = now_ms;
            snprintf(stored.acked_by, sizeof stored.acked_by, "%s", who);
            rc = s->store->ops->alarm_commit(s->store, &stored, 1, NULL, 0);
        }
        if (rc == CB_OK)
            *out = stored;
        pthread_mutex_unlock(&s->mu);
        return rc;
    }
    if (!a->acked) {
        a->acked = true;
        a->acked_ms = a->updated_ms = now_ms;
        snprintf(a->acked_by, sizeof a->acked_by, "%s", who);
    }
    if (a->kind == ALARM_MANUAL) {
        /* A person raised it; a person's acknowledgement ends it. */
        struct alarm_events evs;
        alarm_manual(&e->st, false, now_ms, ALARM_SEV_NONE, &evs);
        *out = *a; /* apply_events moves a to the closing list (and may free it) */
        out->active = false;
        out->cleared_ms = out->updated_ms = now_ms;
        apply_events(s, stored.dev, e, &evs, now_ms);
    } else {
        mark_urgent(s, e);
        *out = *a;
    }
    /* Written with every other device's waiting records: the sink hears
     * of nothing unwritten, in order, from the writer. */
    rc = flush_urgent(s) ? CB_OK : CB_ERR_IO;
    pthread_mutex_unlock(&s->mu);
    deliver(s);
    return rc;
}

cb_err alarm_service_mute(struct alarm_service *s, int64_t id, int64_t ms, int64_t now_ms,
                          struct alert *out, double *ppm)
{
    struct alert stored, *a;
    struct dev_entry *e;
    cb_err rc = lock_alert(s, id, &stored, &e, &a);
    if (rc != CB_OK)
        return rc;
    *ppm = e && e->st.last_ts_ms ? e->st.last_ppm : NAN;
    if (!a) {
        *out = stored;
        rc = CB_ERR_CONFLICT;
    } else {
        switch (alarm_mute(&e->cfg, &e->st, (enum alarm_kind)a->kind, now_ms, ms)) {
        case ALARM_MUTE_OK:
            a->muted_until_ms = e->st.kind[a->kind].muted_until_ms;
            rc = save_entry(s, a->dev) ? CB_OK : CB_ERR_IO;
            break;
        case ALARM_MUTE_TOO_HIGH:
            rc = CB_ERR_FORBIDDEN;
            break;
        case ALARM_MUTE_NOT_ACTIVE:
            rc = CB_ERR_CONFLICT;
            break;
        }
        *out = *a;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

cb_err alarm_service_manual(struct alarm_service *s, uint32_t seq, enum alarm_severity sev,
                            const char *message, const char *who, int64_t now_ms, struct alert *out)
{
    cb_err rc = CB_OK;
    pthread_mutex_lock(&s->mu);
    struct dev_entry *e = entry(s, seq);
    if (!e) {
        rc = CB_ERR_NOT_FOUND;
    } else if (e->open[ALARM_MANUAL]) {
        *out = *e->open[ALARM_MANUAL];
        rc = CB_ERR_CONFLICT;
    } else {
        struct alarm_events evs;
        alarm_manual(&e->st, true, now_ms, sev, &evs);
        apply_events(s, seq, e, &evs, now_ms);
        struct alert *a = e->open[ALARM_MANUAL];
        if (a) {
            /* The record says who raised it and why when it is first written. */
            snprintf(a->message, sizeof a->message, "%s", message ? message : "");
            if (who && who[0] && !message)
                snprintf(a->message, sizeof a->message, "raised by %s", who);
            for (size_t i = 0; i < s->queued.n; i++)
                if (s->queued.v[i].alert.dev == seq && s->queued.v[i].alert.kind == ALARM_MANUAL)
                    snprintf(s->queued.v[i].alert.message, sizeof a->message, "%s", a->message);
            if (!flush_urgent(s))
                rc = CB_ERR_IO;
            *out = *a;
        } else {
            rc = CB_ERR_IO;
        }
    }
    pthread_mutex_unlock(&s->mu);
    deliver(s);
    return rc;
}
