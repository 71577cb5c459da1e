/* sqlite_notify.c - the notification outbox in carbon.db. Every write goes
 * through main_admin (synchronous=FULL), so a message is on disk before it is
 * handed to the provider, and its outcome is on disk before the next one. */
#include "store/sqlite_int.h"

#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOTIF_COLS                                                                                 \
    "id, alert_id, user_id, stage, round, channel, to_number, body, state, attempts, maybe_dup,"   \
    " created_ms, next_ms, sent_ms, updated_ms, sid, provider_status, error_code, last_error"

static void notif_row(sqlite3_stmt *q, struct notification *n)
{
    memset(n, 0, sizeof *n);
    n->id = sqlite3_column_int64(q, 0);
    n->alert_id = sqlite3_column_int64(q, 1);
    sqlite_col_copy(q, 2, n->user_id, sizeof n->user_id);
    n->stage = (uint8_t)sqlite3_column_int(q, 3);
    n->round = (uint8_t)sqlite3_column_int(q, 4);
    n->channel = (uint8_t)sqlite3_column_int(q, 5);
    sqlite_col_copy(q, 6, n->to, sizeof n->to);
    sqlite_col_copy(q, 7, n->body, sizeof n->body);
    n->state = (uint8_t)sqlite3_column_int(q, 8);
    n->attempts = sqlite3_column_int(q, 9);
    n->maybe_dup = sqlite3_column_int(q, 10) != 0;
    n->created_ms = sqlite3_column_int64(q, 11);
    n->next_ms = sqlite3_column_int64(q, 12);
    n->sent_ms = sqlite3_column_int64(q, 13);
    n->updated_ms = sqlite3_column_int64(q, 14);
    sqlite_col_copy(q, 15, n->sid, sizeof n->sid);
    sqlite_col_copy(q, 16, n->provider_status, sizeof n->provider_status);
    n->error_code = sqlite3_column_int(q, 17);
    sqlite_col_copy(q, 18, n->last_error, sizeof n->last_error);
}

/* Runs sql (prepared on main_admin under admin_mu) with bind() and, for each
 * row, row(); the shape every function below shares. */
static cb_err admin_run(struct sqlite_store *s, const char *sql, const char *what,
                        void (*bind)(sqlite3_stmt *, const void *), const void *barg,
                        void (*row)(sqlite3_stmt *, void *), void *rarg)
{
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin, sql, -1, &q, NULL) != SQLITE_OK) {
        log_msg(LOG_ERROR, "sqlite (%s): %s", what, sqlite3_errmsg(s->main_admin));
        goto out;
    }
    bind(q, barg);
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW)
        if (row)
            row(q, rarg);
    if (step == SQLITE_DONE)
        rc = CB_OK;
    else if (step == SQLITE_CONSTRAINT)
        rc = CB_ERR_CONFLICT;
    else
        log_msg(LOG_ERROR, "sqlite (%s): %s", what, sqlite3_errmsg(s->main_admin));
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

static void bind_add(sqlite3_stmt *q, const void *arg)
{
    const struct notification *n = arg;
    sqlite3_bind_int64(q, 1, n->alert_id);
    sqlite_bind_nonempty(q, 2, n->user_id);
    sqlite3_bind_int(q, 3, n->stage);
    sqlite3_bind_int(q, 4, n->round);
    sqlite3_bind_int(q, 5, n->channel);
    sqlite3_bind_text(q, 6, n->to, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(q, 7, n->body, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 8, n->state);
    sqlite3_bind_int(q, 9, n->attempts);
    sqlite3_bind_int(q, 10, n->maybe_dup);
    sqlite3_bind_int64(q, 11, n->created_ms);
    sqlite3_bind_int64(q, 12, n->next_ms);
    sqlite3_bind_int64(q, 13, n->sent_ms);
    sqlite3_bind_int64(q, 14, n->updated_ms);
    sqlite_bind_nonempty(q, 15, n->sid);
    sqlite_bind_nonempty(q, 16, n->provider_status);
    sqlite3_bind_int(q, 17, n->error_code);
    sqlite_bind_nonempty(q, 18, n->last_error);
}

static void bind_update(sqlite3_stmt *q, const void *arg)
{
    const struct notification *n = arg;
    sqlite3_bind_int(q, 1, n->state);
    sqlite3_bind_int(q, 2, n->attempts);
    sqlite3_bind_int(q, 3, n->maybe_dup);
    sqlite3_bind_int64(q, 4, n->next_ms);
    sqlite3_bind_int64(q, 5, n->sent_ms);
    sqlite3_bind_int64(q, 6, n->updated_ms);
    sqlite_bind_nonempty(q, 7, n->sid);
    sqlite_bind_nonempty(q, 8, n->provider_status);
    sqlite3_bind_int(q, 9, n->error_code);
    sqlite_bind_nonempty(q, 10, n->last_error);
    sqlite3_bind_int64(q, 11, n->id);
}

/* One outbox write waiting for its group's commit. */
struct notif_req {
    bool add;
    int expect; /* update: the state it must still have, -1 any */
    struct notification *n;
    cb_err rc;
    bool done;
    struct notif_req *next;
};

#define NOTIF_INSERT                                                                               \
    "INSERT INTO notifications(alert_id, user_id, stage, round, channel, to_number, body, state,"  \
    " attempts, maybe_dup, created_ms, next_ms, sent_ms, updated_ms, sid, provider_status,"        \
    " error_code, last_error) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"                         \
    " ON CONFLICT DO NOTHING RETURNING id"
/* A status callback may have set provider_status first (a fast provider):
 * an attempt's outcome never erases it. */
#define NOTIF_UPDATE                                                                               \
    "UPDATE notifications SET state=?, attempts=?, maybe_dup=?, next_ms=?, sent_ms=?,"             \
    " updated_ms=?, sid=?, provider_status=coalesce(provider_status, ?8),"                         \
    " error_code=max(?9, error_code), last_error=?10 WHERE id=?11 AND (?12 < 0 OR state=?12)"

static cb_err write_one(sqlite3 *db, sqlite3_stmt *ins, sqlite3_stmt *upd, struct notif_req *r)
{
    sqlite3_stmt *q = r->add ? ins : upd;
    sqlite3_reset(q);
    sqlite3_clear_bindings(q);
    (r->add ? bind_add : bind_update)(q, r->n);
    if (!r->add)
        sqlite3_bind_int(q, 12, r->expect);
    int step = sqlite3_step(q);
    if (r->add && step == SQLITE_DONE)
        return CB_ERR_CONFLICT; /* DO NOTHING: no row back */
    if (r->add && step == SQLITE_ROW) {
        r->n->id = sqlite3_column_int64(q, 0);
        step = sqlite3_step(q);
    }
    if (step == SQLITE_DONE)
        return r->add || sqlite3_changes(db) > 0 ? CB_OK : CB_ERR_CONFLICT;
    log_msg(LOG_ERROR, "sqlite (notification write): %s", sqlite3_errmsg(db));
    return CB_ERR_IO;
}

/* Writes the requests of list in one transaction, setting each rc. */
static void commit_group(struct sqlite_store *s, struct notif_req *list)
{
    sqlite3_stmt *ins = NULL, *upd = NULL;
    bool ok = false;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin, NOTIF_INSERT, -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->main_admin, NOTIF_UPDATE, -1, &upd, NULL) != SQLITE_OK) {
        log_msg(LOG_ERROR, "sqlite (notification write): %s", sqlite3_errmsg(s->main_admin));
    } else if (sqlite_exec(s->main_admin, "BEGIN IMMEDIATE", "notification write")) {
        for (struct notif_req *r = list; r; r = r->next)
            r->rc = write_one(s->main_admin, ins, upd, r);
        sqlite3_reset(ins);
        sqlite3_reset(upd);
        ok = sqlite_exec(s->main_admin, "COMMIT", "notification write");
        if (!ok)
            sqlite_exec(s->main_admin, "ROLLBACK", "notification write");
    }
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    pthread_mutex_unlock(&s->admin_mu);
    for (struct notif_req *r = list; !ok && r; r = r->next) {
        r->rc = CB_ERR_IO;
        if (r->add)
            r->n->id = 0;
    }
}

/* Queues one write; the first writer to find no commit in progress commits
 * everything queued (its own included) while the others wait for it. */
static cb_err group_write(struct sqlite_store *s, bool add, struct notification *n, int expect)
{
    struct notif_req me = {add, expect, n, CB_ERR_IO, false, NULL};
    pthread_mutex_lock(&s->nq_mu);
    *s->nq_tail = &me;
    s->nq_tail = &me.next;
    while (!me.done) {
        if (s->nq_leader) {
            pthread_cond_wait(&s->nq_cv, &s->nq_mu);
            continue;
        }
        s->nq_leader = true;
        struct notif_req *list = s->nq_head;
        s->nq_head = NULL;
        s->nq_tail = &s->nq_head;
        pthread_mutex_unlock(&s->nq_mu);
        commit_group(s, list);
        pthread_mutex_lock(&s->nq_mu);
        /* An owner may return as soon as it sees done: read next first. */
        for (struct notif_req *r = list, *next; r; r = next) {
            next = r->next;
            r->done = true;
        }
        s->nq_leader = false;
        pthread_cond_broadcast(&s->nq_cv);
    }
    pthread_mutex_unlock(&s->nq_mu);
    return me.rc;
}

cb_err sqlite_notif_add(struct store *st, struct notification *n)
{
    return group_write((struct sqlite_store *)st, true, n, -1);
}

cb_err sqlite_notif_add_many(struct store *st, struct notification *v, size_t n, cb_err *rc)
{
    struct notif_req *r = calloc(n ? n : 1, sizeof *r);
    if (!r)
        return CB_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        r[i] = (struct notif_req){true, -1, &v[i], CB_ERR_IO, false, i + 1 < n ? &r[i + 1] : NULL};
    if (n)
        commit_group((struct sqlite_store *)st, r);
    for (size_t i = 0; i < n; i++)
        rc[i] = r[i].rc;
    free(r);
    return CB_OK;
}

cb_err sqlite_notif_update(struct store *st, const struct notification *n, int expect)
{
    return group_write((struct sqlite_store *)st, false, (struct notification *)n, expect);
}
struct status_args {
    const char *sid, *status;
    int error_code;
    int64_t now_ms;
};

static void bind_status(sqlite3_stmt *q, const void *arg)
{
    const struct status_args *a = arg;
    sqlite3_bind_text(q, 1, a->status, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 2, a->error_code);
    sqlite3_bind_int64(q, 3, a->now_ms);
    sqlite3_bind_text(q, 4, a->sid, -1, SQLITE_TRANSIENT);
}

struct rows {
    struct notification *v;
    size_t n, cap;
    bool nomem;
};

static void row_collect(sqlite3_stmt *q, void *arg)
{
    struct rows *r = arg;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 8;
        struct notification *v = realloc(r->v, cap * sizeof *v);
        if (!v) {
            r->nomem = true;
            return;
        }
        r->v = v;
        r->cap = cap;
    }
    notif_row(q, &r->v[r->n++]);
}

/* Twilio's status callbacks come as separate requests, in any order, and
 * are retried: a status is stored only if it moves the message forward.
 * Ranks per channel (1 first .. 4 final); 0 for a status not listed. */
static int status_rank(int channel, const char *status)
{
    static const struct {
        uint8_t channel, rank;
        const char *name;
    } ranks[] = {
        {NOTIF_SMS, 1, "accepted"},    {NOTIF_SMS, 1, "scheduled"},    {NOTIF_SMS, 1, "queued"},
        {NOTIF_SMS, 2, "sending"},     {NOTIF_SMS, 3, "sent"},         {NOTIF_SMS, 4, "delivered"},
        {NOTIF_SMS, 4, "undelivered"}, {NOTIF_SMS, 4, "failed"},       {NOTIF_SMS, 4, "read"},
        {NOTIF_SMS, 4, "canceled"},    {NOTIF_CALL, 1, "queued"},      {NOTIF_CALL, 1, "initiated"},
        {NOTIF_CALL, 2, "ringing"},    {NOTIF_CALL, 3, "in-progress"}, {NOTIF_CALL, 3, "answered"},
        {NOTIF_CALL, 4, "completed"},  {NOTIF_CALL, 4, "busy"},        {NOTIF_CALL, 4, "no-answer"},
        {NOTIF_CALL, 4, "failed"},     {NOTIF_CALL, 4, "canceled"},
    };
    for (size_t i = 0; i < sizeof ranks / sizeof ranks[0]; i++)
        if (ranks[i].channel == channel && strcmp(ranks[i].name, status) == 0)
            return ranks[i].rank;
    return 0;
}

/* Whether a callback's status replaces the stored one: anything replaces
 * nothing; the same status is applied again (its error code); a listed
 * status replaces an unlisted one or one of a lower rank; an unlisted one
 * replaces nothing else, and a lower or equal rank (a late "sent" after
 * "delivered", "delivered" after "undelivered") is ignored. */
static bool status_forward(int channel, const char *stored, const char *status)
{
    if (!stored[0] || strcmp(stored, status) == 0)
        return true;
    int next = status_rank(channel, status);
    return next > 0 && next > status_rank(channel, stored);
}

/* Runs sql on db (its caller holds admin_mu), bound by bind(arg): its first
 * row into *out, CB_ERR_NOT_FOUND when it gives none. */
static cb_err status_step(sqlite3 *db, const char *sql, const char *what,
                          void (*bind)(sqlite3_stmt *, const void *), const void *arg,
                          struct notification *out)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        log_msg(LOG_ERROR, "sqlite (%s): %s", what, sqlite3_errmsg(db));
        return CB_ERR_IO;
    }
    bind(q, arg);
    cb_err rc = CB_ERR_NOT_FOUND;
    int step = sqlite3_step(q);
    if (step == SQLITE_ROW) {
        notif_row(q, out);
        rc = CB_OK;
        while ((step = sqlite3_step(q)) == SQLITE_ROW) /* RETURNING: run it to the end */
            ;
    }
    if (step != SQLITE_DONE) {
        log_msg(LOG_ERROR, "sqlite (%s): %s", what, sqlite3_errmsg(db));
        rc = CB_ERR_IO;
    }
    sqlite3_finalize(q);
    return rc;
}

static void bind_sid(sqlite3_stmt *q, const void *arg)
{
    sqlite3_bind_text(q, 1, arg, -1, SQLITE_TRANSIENT);
}

struct status_set {
    const struct status_args *a;
    int64_t id;
};

static void bind_status_set(sqlite3_stmt *q, const void *arg)
{
    const struct status_set *x = arg;
    bind_status(q, x->a);
    sqlite3_bind_int64(q, 5, x->id);
}

cb_err sqlite_notif_status(struct store *st, const char *sid, const char *status, int error_code,
                           int64_t now_ms, struct notification *out)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    struct status_args a = {sid, status, error_code, now_ms};
    struct notification n;
    /* Read and write under one hold of admin_mu (every outbox write takes
     * it): no other callback or attempt outcome comes in between. */
    pthread_mutex_lock(&s->admin_mu);
    cb_err rc = status_step(s->main_admin,
                            "SELECT " NOTIF_COLS " FROM notifications WHERE sid=?1 ORDER BY id"
                            " LIMIT 1",
                            "notification status", bind_sid, sid, &n);
    if (rc == CB_OK && status_forward(n.channel, n.provider_status, status)) {
        struct status_set x = {&a, n.id};
        rc = status_step(s->main_admin,
                         "UPDATE notifications SET provider_status=?1,"
                         " error_code=CASE WHEN ?2 THEN ?2 ELSE error_code END, updated_ms=?3"
                         " WHERE sid=?4 AND id=?5 RETURNING " NOTIF_COLS,
                         "notification status", bind_status_set, &x, &n);
    } else if (rc == CB_OK) {
        log_msg(LOG_DEBUG,
                "notification %lld: status \"%.31s\" after \"%s\": ignored (out of order)",
                (long long)n.id, status, n.provider_status);
    }
    pthread_mutex_unlock(&s->admin_mu);
    if (rc == CB_OK)
        *out = n;
    return rc;
}

struct list_args {
    int64_t id;
    size_t limit;
};

static void bind_list(sqlite3_stmt *q, const void *arg)
{
    const struct list_args *a = arg;
    sqlite3_bind_int64(q, 1, a->id);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)a->limit);
}

static cb_err collect(struct sqlite_store *s, const char *sql, const char *what,
                      const struct list_args *a, struct notification **out, size_t *n)
{
    struct rows r = {0};
    cb_err rc = admin_run(s, sql, what, bind_list, a, row_collect, &r);
    if (rc == CB_OK && r.nomem)
        rc = CB_ERR_NOMEM;
    if (rc != CB_OK) {
        free(r.v);
        r.v = NULL;
        r.n = 0;
    }
    *out = r.v;
    *n = r.n;
    return rc;
}

cb_err sqlite_notif_list(struct store *st, int64_t alert_id, size_t limit,
                         struct notification **out, size_t *n)
{
    struct list_args a = {alert_id, limit};
    return collect((struct sqlite_store *)st,
                   "SELECT " NOTIF_COLS
                   " FROM notifications WHERE alert_id=?1 ORDER BY id LIMIT ?2",
                   "notification list", &a, out, n);
}

cb_err sqlite_notif_get(struct store *st, int64_t id, struct notification *out)
{
    struct list_args a = {id, 1};
    struct notification *v;
    size_t n;
    cb_err rc = collect((struct sqlite_store *)st,
                        "SELECT " NOTIF_COLS " FROM notifications WHERE id=?1 LIMIT ?2",
                        "notification get", &a, &v, &n);
    if (rc == CB_OK && n == 0)
        rc = CB_ERR_NOT_FOUND;
    if (rc == CB_OK)
        *out = v[0];
    free(v);
    return rc;
}

cb_err sqlite_notif_load_open(struct store *st, store_notif_fn fn, void *arg)
{
    struct list_args a = {NOTIF_SENDING, SIZE_MAX >> 2};
    struct notification *v;
    size_t n;
    cb_err rc = collect((struct sqlite_store *)st,
                        "SELECT " NOTIF_COLS " FROM notifications WHERE state<=?1"
                        " ORDER BY id LIMIT ?2",
                        "notification load", &a, &v, &n);
    for (size_t i = 0; rc == CB_OK && i < n; i++)
        fn(arg, &v[i]);
    free(v);
    return rc;
}

struct cancel_args {
    int64_t alert_id, now_ms;
};

static void bind_cancel(sqlite3_stmt *q, const void *arg)
{
    const struct cancel_args *a = arg;
    sqlite3_bind_int(q, 1, NOTIF_CANCELLED);
    sqlite3_bind_int64(q, 2, a->now_ms);
    sqlite3_bind_int64(q, 3, a->alert_id);
    sqlite3_bind_int(q, 4, NOTIF_PENDING);
}

static void row_count(sqlite3_stmt *q, void *arg)
{
    (void)q;
    (*(size_t *)arg)++;
}

cb_err sqlite_notif_cancel(struct store *st, int64_t alert_id, int64_t now_ms, size_t *n)
{
    struct cancel_args a = {alert_id, now_ms};
    *n = 0;
    return admin_run((struct sqlite_store *)st,
                     "UPDATE notifications SET state=?1, updated_ms=?2"
                     " WHERE alert_id=?3 AND state=?4 RETURNING id",
                     "notification cancel", bind_cancel, &a, row_count, n);
}

struct to_args {
    const char *number;
    size_t cap;
};

static void bind_to(sqlite3_stmt *q, const void *arg)
{
    const struct to_args *a = arg;
    sqlite3_bind_text(q, 1, a->number, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(q, 2, NOTIF_ACCEPTED);
    sqlite3_bind_int64(q, 3, (sqlite3_int64)a->cap);
}

struct ids {
    int64_t *v;
    size_t n, cap;
};

static void row_ids(sqlite3_stmt *q, void *arg)
{
    struct ids *r = arg;
    if (r->n < r->cap)
        r->v[r->n++] = sqlite3_column_int64(q, 0);
}

cb_err sqlite_notif_open_alerts_to(struct store *st, const char *number, int64_t *ids, size_t cap,
                                   size_t *n)
{
    struct to_args a = {number, cap};
    struct ids r = {ids, 0, cap};
    cb_err rc = admin_run((struct sqlite_store *)st,
                          "SELECT DISTINCT a.id FROM notifications n JOIN alerts a"
                          " ON a.id = n.alert_id WHERE n.to_number=?1 AND n.state<=?2"
                          " AND a.active AND NOT a.acked ORDER BY a.id DESC LIMIT ?3",
                          "notification alerts", bind_to, &a, row_ids, &r);
    *n = r.n;
    return rc;
}

struct cancel_dev_args {
    uint32_t dev;
    int stage;
    int64_t now_ms;
};

static void bind_cancel_dev(sqlite3_stmt *q, const void *arg)
{
    const struct cancel_dev_args *a = arg;
    sqlite3_bind_int(q, 1, NOTIF_CANCELLED);
    sqlite3_bind_int64(q, 2, a->now_ms);
    sqlite3_bind_int(q, 3, NOTIF_PENDING);
    sqlite3_bind_int(q, 4, a->stage);
    sqlite3_bind_int64(q, 5, a->dev);
}

cb_err sqlite_notif_cancel_stage(struct store *st, uint32_t dev, int stage, int64_t now_ms,
                                 size_t *n)
{
    struct cancel_dev_args a = {dev, stage, now_ms};
    *n = 0;
    return admin_run((struct sqlite_store *)st,
                     "UPDATE notifications SET state=?1, updated_ms=?2 WHERE state=?3 AND stage=?4"
                     " AND alert_id IN (SELECT id FROM alerts WHERE dev=?5) RETURNING id",
                     "notification cancel all-clear", bind_cancel_dev, &a, row_count, n);
}
