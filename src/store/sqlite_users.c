/* sqlite_users.c - users and login sessions in carbon.db (main_admin, under
 * admin_mu, synchronous=FULL: a created user or session is on disk). */
#include "store/sqlite_int.h"

#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cb_err user_write(struct sqlite_store *s, const struct user *u, bool create)
{
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    const char *sql = create ? "INSERT INTO users(name, email, phone, secondary, emergency,"
                               " password_hash, admin, created_ms, id)"
                               " VALUES(?,?,?,?,?,?,?,?,?)"
                             : "UPDATE users SET name=?, email=?, phone=?, secondary=?,"
                               " emergency=?, password_hash=?, admin=?, created_ms=? WHERE id=?";
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin, sql, -1, &q, NULL) != SQLITE_OK) {
        log_msg(LOG_ERROR, "sqlite (user write): %s", sqlite3_errmsg(s->main_admin));
        goto out;
    }
    sqlite3_bind_text(q, 1, u->name, -1, SQLITE_STATIC);
    sqlite_bind_opt(q, 2, u->email);
    sqlite_bind_opt(q, 3, u->phone);
    sqlite_bind_opt(q, 4, u->secondary);
    sqlite_bind_opt(q, 5, u->emergency);
    sqlite_bind_opt(q, 6, u->password_hash);
    sqlite3_bind_int(q, 7, u->admin);
    sqlite3_bind_int64(q, 8, u->created_ms);
    sqlite3_bind_text(q, 9, u->id, -1, SQLITE_STATIC);
    rc = sqlite_step_done(s->main_admin, q, "user write");
    if (rc == CB_OK && !create && sqlite3_changes(s->main_admin) == 0)
        rc = CB_ERR_NOT_FOUND;
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

cb_err sqlite_user_create(struct store *st, const struct user *u)
{
    return user_write((struct sqlite_store *)st, u, true);
}

cb_err sqlite_user_update(struct store *st, const struct user *u)
{
    return user_write((struct sqlite_store *)st, u, false);
}

cb_err sqlite_user_delete(struct store *st, const char *id)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL, *q2 = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (!sqlite_exec(s->main_admin, "BEGIN IMMEDIATE", "user delete"))
        goto out;
    /* Sessions go with the user (ON DELETE CASCADE); devices stay, ownerless. */
    if (sqlite3_prepare_v2(s->main_admin, "DELETE FROM users WHERE id=?", -1, &q, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(s->main_admin, "UPDATE devices SET owner=NULL WHERE owner=?", -1, &q2,
                           NULL) != SQLITE_OK)
        goto rollback;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q2, 1, id, -1, SQLITE_STATIC);
    if ((rc = sqlite_step_done(s->main_admin, q, "user delete")) != CB_OK)
        goto rollback;
    if (sqlite3_changes(s->main_admin) == 0) {
        rc = CB_ERR_NOT_FOUND;
        goto rollback;
    }
    if ((rc = sqlite_step_done(s->main_admin, q2, "user delete")) != CB_OK)
        goto rollback;
    rc = sqlite_exec(s->main_admin, "COMMIT", "user delete") ? CB_OK : CB_ERR_IO;
    if (rc == CB_OK)
        goto out;
rollback:
    if (rc == CB_OK)
        rc = CB_ERR_IO;
    sqlite_exec(s->main_admin, "ROLLBACK", "user delete");
out:
    sqlite3_finalize(q);
    sqlite3_finalize(q2);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

cb_err sqlite_users_load(struct store *st, store_user_fn fn, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin,
                           "SELECT id, name, email, phone, secondary, emergency, password_hash,"
                           " admin, created_ms FROM users ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK)
        goto out;
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        struct user u = {0};
        const unsigned char *id = sqlite3_column_text(q, 0);
        snprintf(u.id, sizeof u.id, "%s", id ? (const char *)id : "");
        u.name = sqlite_dup_col(q, 1);
        u.email = sqlite_dup_col(q, 2);
        u.phone = sqlite_dup_col(q, 3);
        u.secondary = sqlite_dup_col(q, 4);
        u.emergency = sqlite_dup_col(q, 5);
        u.password_hash = sqlite_dup_col(q, 6);
        u.admin = sqlite3_column_int(q, 7) != 0;
        u.created_ms = sqlite3_column_int64(q, 8);
        fn(arg, &u);
        user_clear(&u);
    }
    if (step == SQLITE_DONE)
        rc = CB_OK;
out:
    if (rc != CB_OK)
        log_msg(LOG_ERROR, "sqlite (users load): %s", sqlite3_errmsg(s->main_admin));
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

cb_err sqlite_session_put(struct store *st, const struct session *se)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin, "INSERT OR REPLACE INTO sessions VALUES(?,?,?,?)", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, se->token_hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, se->user_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, se->created_ms);
        sqlite3_bind_int64(q, 4, se->expires_ms);
        rc = sqlite_step_done(s->main_admin, q, "session put");
    } else {
        log_msg(LOG_ERROR, "sqlite (session put): %s", sqlite3_errmsg(s->main_admin));
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

cb_err sqlite_session_delete(struct store *st, const char *token_hash)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin, "DELETE FROM sessions WHERE token_hash=?", -1, &q,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(q, 1, token_hash, -1, SQLITE_STATIC);
        rc = sqlite_step_done(s->main_admin, q, "session delete");
    }
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

cb_err sqlite_sessions_load(struct store *st, int64_t now_ms, store_session_fn fn, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *del = NULL, *q = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin, "DELETE FROM sessions WHERE expires_ms<=?", -1, &del,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->main_admin,
                           "SELECT token_hash, user_id, created_ms, expires_ms FROM sessions", -1,
                           &q, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(del, 1, now_ms);
    if (sqlite_step_done(s->main_admin, del, "sessions expire") != CB_OK)
        goto out;
    int step;
    while ((step = sqlite3_step(q)) == SQLITE_ROW) {
        struct session se = {0};
        snprintf(se.token_hash, sizeof se.token_hash, "%s",
                 (const char *)sqlite3_column_text(q, 0));
        snprintf(se.user_id, sizeof se.user_id, "%s", (const char *)sqlite3_column_text(q, 1));
        se.created_ms = sqlite3_column_int64(q, 2);
        se.expires_ms = sqlite3_column_int64(q, 3);
        fn(arg, &se);
    }
    if (step == SQLITE_DONE)
        rc = CB_OK;
out:
    if (rc != CB_OK)
        log_msg(LOG_ERROR, "sqlite (sessions load): %s", sqlite3_errmsg(s->main_admin));
    sqlite3_finalize(del);
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}
