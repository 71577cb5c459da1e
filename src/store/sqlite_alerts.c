/* sqlite_alerts.c - alerts and alarm engine states in carbon.db. Writes go
 * through main_admin (synchronous=FULL) in one transaction per commit, so an
 * alert and the engine state that produced it are durable together. */
#include "store/sqlite_int.h"

#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALERT_COLS                                                                                 \
    "id, dev, kind, severity, active, acked, raised_ms, updated_ms, cleared_ms, acked_ms,"         \
    " acked_by, muted_until_ms, recorded_ms, trigger_ppm, peak_ppm, message"

static void alert_row(sqlite3_stmt *q, struct alert *a)
{
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(q, 0);
    a->dev = (uint32_t)sqlite3_column_int64(q, 1);
    a->kind = (uint8_t)sqlite3_column_int(q, 2);
    a->severity = (uint8_t)sqlite3_column_int(q, 3);
    a->active = sqlite3_column_int(q, 4) != 0;
    a->acked = sqlite3_column_int(q, 5) != 0;
    a->raised_ms = sqlite3_column_int64(q, 6);
    a->updated_ms = sqlite3_column_int64(q, 7);
    a->cleared_ms = sqlite3_column_int64(q, 8);
    a->acked_ms = sqlite3_column_int64(q, 9);
    sqlite_col_copy(q, 10, a->acked_by, sizeof a->acked_by);
    a->muted_until_ms = sqlite3_column_int64(q, 11);
    a->recorded_ms = sqlite3_column_int64(q, 12);
    a->trigger_ppm = sqlite3_column_double(q, 13);
    a->peak_ppm = sqlite3_column_double(q, 14);
    sqlite_col_copy(q, 15, a->message, sizeof a->message);
}

static bool alert_write(sqlite3 *db, sqlite3_stmt *ins, sqlite3_stmt *upd, struct alert *a)
{
    sqlite3_stmt *q = a->id ? upd : ins;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, a->dev);
    sqlite3_bind_int(q, 2, a->kind);
    sqlite3_bind_int(q, 3, a->severity);
    sqlite3_bind_int(q, 4, a->active);
    sqlite3_bind_int(q, 5, a->acked);
    sqlite3_bind_int64(q, 6, a->raised_ms);
    sqlite3_bind_int64(q, 7, a->updated_ms);
    sqlite3_bind_int64(q, 8, a->cleared_ms);
    sqlite3_bind_int64(q, 9, a->acked_ms);
    sqlite_bind_nonempty(q, 10, a->acked_by);
    sqlite3_bind_int64(q, 11, a->muted_until_ms);
    sqlite3_bind_int64(q, 12, a->recorded_ms);
    sqlite3_bind_double(q, 13, a->trigger_ppm);
    sqlite3_bind_double(q, 14, a->peak_ppm);
    sqlite_bind_nonempty(q, 15, a->message);
    if (a->id)
        sqlite3_bind_int64(q, 16, a->id);
    if (sqlite3_step(q) != SQLITE_DONE) {
        log_msg(LOG_ERROR, "sqlite (alert write): %s", sqlite3_errmsg(db));
        return false;
    }
    if (!a->id)
        a->id = sqlite3_last_insert_rowid(db);
    return true;
}

cb_err sqlite_alarm_commit(struct store *st, struct alert *a, size_t na, const struct alarm_blob *b,
                           size_t nb)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *ins = NULL, *upd = NULL, *put = NULL;
    cb_err rc = CB_ERR_IO;
    int64_t *new_ids = calloc(na ? na : 1, sizeof *new_ids);
    if (!new_ids)
        return CB_ERR_NOMEM;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin,
                           "INSERT INTO alerts(dev, kind, severity, active, acked, raised_ms,"
                           " updated_ms, cleared_ms, acked_ms, acked_by, muted_until_ms,"
                           " recorded_ms, trigger_ppm, peak_ppm, message)"
                           " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->main_admin,
                           "UPDATE alerts SET dev=?, kind=?, severity=?, active=?, acked=?,"
                           " raised_ms=?, updated_ms=?, cleared_ms=?, acked_ms=?, acked_by=?,"
                           " muted_until_ms=?, recorded_ms=?, trigger_ppm=?, peak_ppm=?,"
                           " message=? WHERE id=?",
                           -1, &upd, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->main_admin, "INSERT OR REPLACE INTO alarm_state VALUES(?,?)", -1,
                           &put, NULL) != SQLITE_OK) {
        log_msg(LOG_ERROR, "sqlite (alarm commit): %s", sqlite3_errmsg(s->main_admin));
        goto out;
    }
    if (!sqlite_exec(s->main_admin, "BEGIN IMMEDIATE", "alarm commit"))
        goto out;
    for (size_t i = 0; i < na; i++) {
        bool fresh = a[i].id == 0;
        if (!alert_write(s->main_admin, ins, upd, &a[i]))
            goto rollback;
        if (fresh)
            new_ids[i] = a[i].id;
    }
    for (size_t i = 0; i < nb; i++) {
        sqlite3_reset(put);
        sqlite3_bind_int64(put, 1, b[i].dev);
        sqlite3_bind_blob(put, 2, b[i].data, (int)b[i].len, SQLITE_STATIC);
        if (sqlite3_step(put) != SQLITE_DONE) {
            log_msg(LOG_ERROR, "sqlite (alarm state): %s", sqlite3_errmsg(s->main_admin));
            goto rollback;
        }
    }
    if (sqlite_exec(s->main_admin, "COMMIT", "alarm commit")) {
        rc = CB_OK;
        goto out;
    }
rollback:
    sqlite_exec(s->main_admin, "ROLLBACK", "alarm commit");
    for (size_t i = 0; i < na; i++) /* the inserts did not happen */
        if (new_ids[i])
            a[i].id = 0;
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(upd);
    sqlite3_finalize(put);
    pthread_mutex_unlock(&s->admin_mu);
    free(new_ids);
    return rc;
}

cb_err sqlite_alerts_query(struct store *st, const struct alert_filter *f, struct alert **out,
                           size_t *n)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    *out = NULL;
    *n = 0;
    size_t limit = f->limit ? f->limit : 100;
    struct alert *v = malloc(limit * sizeof *v);
    if (!v)
        return CB_ERR_NOMEM;
    struct readconn *c = sqlite_reader_get(s);
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    /* Every filter is bound; "any" is a NULL that makes its test true. */
    if (sqlite3_prepare_v2(c->db,
                           "SELECT " ALERT_COLS " FROM alerts WHERE"
                           " (?1 IS NULL OR dev=?1) AND (?2 IS NULL OR kind=?2)"
                           " AND (?3 IS NULL OR active=?3) AND (?4 IS NULL OR acked=?4)"
                           " AND raised_ms>=?5 AND raised_ms<?6 AND id<?7"
                           " AND (?9 IS NULL OR dev IN (SELECT seq FROM devices WHERE owner=?9))"
                           " ORDER BY id DESC LIMIT ?8",
                           -1, &q, NULL) != SQLITE_OK) {
        log_msg(LOG_ERROR, "sqlite (alerts query): %s", sqlite3_errmsg(c->db));
        goto out;
    }
    if (f->dev)
        sqlite3_bind_int64(q, 1, f->dev);
    if (f->kind >= 0)
        sqlite3_bind_int(q, 2, f->kind);
    if (f->active >= 0)
        sqlite3_bind_int(q, 3, f->active);
    if (f->acked >= 0)
        sqlite3_bind_int(q, 4, f->acked);
    sqlite3_bind_int64(q, 5, f->from);
    sqlite3_bind_int64(q, 6, f->to);
    sqlite3_bind_int64(q, 7, f->before_id > 0 ? f->before_id : INT64_MAX);
    sqlite3_bind_int64(q, 8, (sqlite3_int64)limit);
    sqlite_bind_opt(q, 9, f->owner);
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW && *n < limit)
        alert_row(q, &v[(*n)++]);
    if (step == SQLITE_DONE || step == SQLITE_ROW)
        rc = CB_OK;
    else
        log_msg(LOG_ERROR, "sqlite (alerts query): %s", sqlite3_errmsg(c->db));
out:
    sqlite3_finalize(q);
    sqlite_reader_put(s, c);
    if (rc == CB_OK) {
        *out = v;
    } else {
        free(v);
        *n = 0;
    }
    return rc;
}

cb_err sqlite_alert_get(struct store *st, int64_t id, struct alert *out)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    struct readconn *c = sqlite_reader_get(s);
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    if (sqlite3_prepare_v2(c->db, "SELECT " ALERT_COLS " FROM alerts WHERE id=?", -1, &q, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_int64(q, 1, id);
        int step = sqlite3_step(q);
        if (step == SQLITE_ROW) {
            alert_row(q, out);
            rc = CB_OK;
        } else if (step == SQLITE_DONE) {
            rc = CB_ERR_NOT_FOUND;
        }
    }
    if (rc == CB_ERR_IO)
        log_msg(LOG_ERROR, "sqlite (alert get): %s", sqlite3_errmsg(c->db));
    sqlite3_finalize(q);
    sqlite_reader_put(s, c);
    return rc;
}

cb_err sqlite_alarm_load(struct store *st, store_blob_fn states,
                         void (*active)(void *, const struct alert *), void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL, *qa = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin, "SELECT dev, state FROM alarm_state", -1, &q, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(s->main_admin,
                           "SELECT " ALERT_COLS " FROM alerts WHERE active ORDER BY id", -1, &qa,
                           NULL) != SQLITE_OK)
        goto out;
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW)
        states(arg, (uint32_t)sqlite3_column_int64(q, 0), sqlite3_column_blob(q, 1),
               (size_t)sqlite3_column_bytes(q, 1));
    if (step != SQLITE_DONE)
        goto out;
    struct alert a;
    while ((step = sqlite3_step(qa)) == SQLITE_ROW) {
        alert_row(qa, &a);
        active(arg, &a);
    }
    if (step == SQLITE_DONE)
        rc = CB_OK;
out:
    if (rc != CB_OK)
        log_msg(LOG_ERROR, "sqlite (alarm load): %s", sqlite3_errmsg(s->main_admin));
    sqlite3_finalize(q);
    sqlite3_finalize(qa);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}
