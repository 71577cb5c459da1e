/* store_sqlite.c - the embedded SQLite store: schema, migrations, devices and
 * gateways. The readings path (journal, group commit, compaction) is in
 * sqlite_ingest.c. Layout of the data directory:
 *   carbon.db   devices, gateways, readings (WITHOUT ROWID, keyed dev+ts)
 *   journal.db  append-only ingest journal: one row per group commit */
#include "store/sqlite_int.h"

#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Versioned migrations of carbon.db: entry i brings user_version i to i+1.
 * Never edit a shipped entry; append a new one. */
static const char *const main_migrations[] = {
    "CREATE TABLE devices("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id TEXT NOT NULL UNIQUE,"
    " name TEXT, location TEXT, owner TEXT, thresholds TEXT, calibration TEXT,"
    " offline_after_s INTEGER NOT NULL DEFAULT 600,"
    " key_hash TEXT NOT NULL UNIQUE,"
    " created_ms INTEGER NOT NULL,"
    " last_seen_ms INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE gateways("
    " id TEXT PRIMARY KEY, name TEXT, key_hash TEXT NOT NULL UNIQUE,"
    " created_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE gateway_devices("
    " gateway TEXT NOT NULL REFERENCES gateways(id) ON DELETE CASCADE,"
    " device TEXT NOT NULL, PRIMARY KEY(gateway, device)) WITHOUT ROWID;"
    "CREATE TABLE readings("
    " dev INTEGER NOT NULL, ts INTEGER NOT NULL, co REAL NOT NULL, temp REAL, hum REAL,"
    " PRIMARY KEY(dev, ts)) WITHOUT ROWID;"
    "CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER) WITHOUT ROWID;"
    "INSERT INTO meta VALUES('journal_applied', 0);",
    /* 2: alarms (SPEC 5) */
    "CREATE TABLE alerts("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " dev INTEGER NOT NULL, kind INTEGER NOT NULL, severity INTEGER NOT NULL,"
    " active INTEGER NOT NULL, acked INTEGER NOT NULL,"
    " raised_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, cleared_ms INTEGER NOT NULL,"
    " acked_ms INTEGER NOT NULL, acked_by TEXT, muted_until_ms INTEGER NOT NULL,"
    " recorded_ms INTEGER NOT NULL, trigger_ppm REAL NOT NULL, peak_ppm REAL NOT NULL,"
    " message TEXT);"
    "CREATE INDEX alerts_dev ON alerts(dev, id);"
    "CREATE INDEX alerts_active ON alerts(active) WHERE active;"
    "CREATE TABLE alarm_state(dev INTEGER PRIMARY KEY, state BLOB NOT NULL);",
    /* 3: users and sessions (SPEC 2, 4) */
    "CREATE TABLE users("
    " id TEXT PRIMARY KEY, name TEXT NOT NULL, email TEXT UNIQUE, phone TEXT UNIQUE,"
    " secondary TEXT, emergency TEXT, password_hash TEXT, admin INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE sessions("
    " token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    " created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE INDEX sessions_user ON sessions(user_id);",
    /* 4: per-minute rollups of readings (long-range series and graphs),
     * kept by compaction; built here from what is already stored. */
    "CREATE TABLE rollup_minute("
    " dev INTEGER NOT NULL, m INTEGER NOT NULL, n INTEGER NOT NULL,"
    " co_min REAL NOT NULL, co_max REAL NOT NULL, co_sum REAL NOT NULL,"
    " temp_n INTEGER NOT NULL, temp_sum REAL NOT NULL, hum_n INTEGER NOT NULL,"
    " hum_sum REAL NOT NULL, PRIMARY KEY(dev, m)) WITHOUT ROWID;"
    "INSERT INTO rollup_minute SELECT dev, ts / 60000 * 60000, count(*), min(co), max(co),"
    " total(co), count(temp), total(temp), count(hum), total(hum)"
    " FROM readings GROUP BY dev, ts / 60000;"
    "CREATE TRIGGER rollup_minute_purge AFTER DELETE ON devices"
    " BEGIN DELETE FROM rollup_minute WHERE dev = OLD.seq; END;",
    /* 5: notifications (SPEC 5): the durable outbox, and a device's
     * notification policy. (alert, stage, round, channel, number) is unique:
     * one message per contact per stage, also across restarts. */
    "ALTER TABLE devices ADD COLUMN notify TEXT;"
    "CREATE TABLE notifications("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " alert_id INTEGER NOT NULL, user_id TEXT, stage INTEGER NOT NULL, round INTEGER NOT NULL,"
    " channel INTEGER NOT NULL, to_number TEXT NOT NULL, body TEXT NOT NULL,"
    " state INTEGER NOT NULL, attempts INTEGER NOT NULL, maybe_dup INTEGER NOT NULL,"
    " created_ms INTEGER NOT NULL, next_ms INTEGER NOT NULL, sent_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL, sid TEXT, provider_status TEXT, error_code INTEGER NOT NULL,"
    " last_error TEXT);"
    "CREATE UNIQUE INDEX notifications_once ON notifications(alert_id, stage, round, channel,"
    " to_number) WHERE alert_id > 0;"
    "CREATE INDEX notifications_open ON notifications(state) WHERE state < 2;"
    "CREATE INDEX notifications_sid ON notifications(sid) WHERE sid IS NOT NULL;"
    "CREATE INDEX notifications_alert ON notifications(alert_id);"
    "CREATE INDEX notifications_to ON notifications(to_number, alert_id);",
};

static const char *const journal_migrations[] = {
    "CREATE TABLE journal(id INTEGER PRIMARY KEY, recs BLOB NOT NULL);",
    /* receipt time of the group, so last_seen survives a crash */
    "ALTER TABLE journal ADD COLUMN recv_ms INTEGER NOT NULL DEFAULT 0;",
};

sqlite3 *sqlite_open_db(const char *path, bool readonly)
{
    sqlite3 *db = NULL;
    int flags = readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    flags |= SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &db, flags, NULL);
    if (rc != SQLITE_OK) {
        log_msg(LOG_ERROR, "cannot open %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
        sqlite3_close(db);
        return NULL;
    }
    sqlite3_busy_timeout(db, 10000);
    /* WAL with synchronous=FULL: a commit is on disk (fsync'd) before it
     * returns, so a 201 survives kill -9 and power loss. */
    if (!sqlite_exec(db,
                     readonly ? "PRAGMA foreign_keys=ON;"
                              : "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                "PRAGMA foreign_keys=ON;",
                     path)) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

bool sqlite_exec(sqlite3 *db, const char *sql, const char *what)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        log_msg(LOG_ERROR, "sqlite (%s): %s", what, err ? err : sqlite3_errmsg(db));
        sqlite3_free(err);
        return false;
    }
    return true;
}

static bool migrate(sqlite3 *db, const char *const *steps, int nsteps, const char *what)
{
    sqlite3_stmt *st = NULL;
    int version = 0;
    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > nsteps) {
        log_msg(LOG_ERROR, "%s has schema version %d, newer than this binary (%d)", what, version,
                nsteps);
        return false;
    }
    for (int v = version; v < nsteps; v++) {
        char setv[64];
        snprintf(setv, sizeof setv, "PRAGMA user_version=%d;", v + 1);
        if (!sqlite_exec(db, "BEGIN IMMEDIATE", what))
            return false;
        if (!sqlite_exec(db, steps[v], what) || !sqlite_exec(db, setv, what)) {
            sqlite_exec(db, "ROLLBACK", what);
            return false;
        }
        if (!sqlite_exec(db, "COMMIT", what))
            return false;
        log_msg(LOG_INFO, "%s migrated to schema version %d", what, v + 1);
    }
    return true;
}

bool sqlite_devstate_reserve(struct sqlite_store *s, uint32_t seq)
{
    if (seq < s->ndev)
        return true;
    size_t n = s->ndev ? s->ndev : 64;
    while (n <= seq)
        n *= 2;
    struct devstate *d = realloc(s->dev, n * sizeof *d);
    if (!d)
        return false;
    for (size_t i = s->ndev; i < n; i++)
        d[i] = (struct devstate){.max_ts = INT64_MIN, .floor_ts = INT64_MIN};
    s->dev = d;
    s->ndev = n;
    return true;
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

/* ---- read pool ---- */

struct readconn *sqlite_reader_get(struct sqlite_store *s)
{
    pthread_mutex_lock(&s->pool_mu);
    while (!s->free_readers)
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    struct readconn *c = s->free_readers;
    s->free_readers = c->next_free;
    pthread_mutex_unlock(&s->pool_mu);
    return c;
}

void sqlite_reader_put(struct sqlite_store *s, struct readconn *c)
{
    pthread_mutex_lock(&s->pool_mu);
    c->next_free = s->free_readers;
    s->free_readers = c;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

static bool reader_open(struct readconn *c, const char *path)
{
    c->db = sqlite_open_db(path, true);
    if (!c->db)
        return false;
    return sqlite3_prepare_v3(c->db,
                              "SELECT ts, co, temp, hum FROM readings WHERE dev=? AND ts>=? "
                              "AND ts<? ORDER BY ts ASC LIMIT ?",
                              -1, SQLITE_PREPARE_PERSISTENT, &c->range_asc, NULL) == SQLITE_OK &&
           sqlite3_prepare_v3(c->db,
                              "SELECT ts, co, temp, hum FROM readings WHERE dev=? AND ts>=? "
                              "AND ts<? ORDER BY ts DESC LIMIT ?",
                              -1, SQLITE_PREPARE_PERSISTENT, &c->range_desc, NULL) == SQLITE_OK &&
           sqlite3_prepare_v3(c->db,
                              "SELECT ts, co, temp, hum FROM readings WHERE dev=? "
                              "ORDER BY ts DESC LIMIT 1",
                              -1, SQLITE_PREPARE_PERSISTENT, &c->latest, NULL) == SQLITE_OK;
}

static void reader_close(struct readconn *c)
{
    sqlite3_finalize(c->range_asc);
    sqlite3_finalize(c->range_desc);
    sqlite3_finalize(c->latest);
    sqlite3_close(c->db);
}

/* ---- devices ---- */

char *sqlite_dup_col(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    return t ? strdup((const char *)t) : NULL;
}

void sqlite_bind_opt(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

void sqlite_bind_nonempty(sqlite3_stmt *st, int i, const char *v)
{
    if (v[0])
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

void sqlite_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

cb_err sqlite_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE)
        return CB_OK;
    if (rc == SQLITE_CONSTRAINT)
        return CB_ERR_CONFLICT;
    log_msg(LOG_ERROR, "sqlite (%s): %s", what, sqlite3_errmsg(db));
    return CB_ERR_IO;
}

static cb_err sq_device_create(struct store *st, struct device *d)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(
            s->main_admin,
            "INSERT INTO devices(id,name,location,owner,thresholds,calibration,"
            "offline_after_s,key_hash,created_ms,notify) VALUES(?,?,?,?,?,?,?,?,?,?)",
            -1, &q, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(q, 1, d->id, -1, SQLITE_STATIC);
    sqlite_bind_opt(q, 2, d->name);
    sqlite_bind_opt(q, 3, d->location);
    sqlite_bind_opt(q, 4, d->owner);
    sqlite_bind_opt(q, 5, d->thresholds);
    sqlite_bind_opt(q, 6, d->calibration);
    sqlite3_bind_int64(q, 7, d->offline_after_s);
    sqlite3_bind_text(q, 8, d->key_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 9, d->created_ms);
    sqlite_bind_opt(q, 10, d->notify);
    rc = sqlite_step_done(s->main_admin, q, "device create");
    if (rc != CB_OK)
        goto out;
    d->seq = (uint32_t)sqlite3_last_insert_rowid(s->main_admin);
    pthread_mutex_lock(&s->mu);
    if (sqlite_devstate_reserve(s, d->seq))
        s->dev[d->seq] =
            (struct devstate){.exists = true, .max_ts = INT64_MIN, .floor_ts = INT64_MIN};
    else
        rc = CB_ERR_NOMEM;
    pthread_mutex_unlock(&s->mu);
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

static cb_err sq_device_update(struct store *st, const struct device *d)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin,
                           "UPDATE devices SET name=?,location=?,owner=?,thresholds=?,"
                           "calibration=?,offline_after_s=?,key_hash=?,notify=? WHERE seq=?",
                           -1, &q, NULL) != SQLITE_OK)
        goto out;
    sqlite_bind_opt(q, 1, d->name);
    sqlite_bind_opt(q, 2, d->location);
    sqlite_bind_opt(q, 3, d->owner);
    sqlite_bind_opt(q, 4, d->thresholds);
    sqlite_bind_opt(q, 5, d->calibration);
    sqlite3_bind_int64(q, 6, d->offline_after_s);
    sqlite3_bind_text(q, 7, d->key_hash, -1, SQLITE_STATIC);
    sqlite_bind_opt(q, 8, d->notify);
    sqlite3_bind_int64(q, 9, d->seq);
    rc = sqlite_step_done(s->main_admin, q, "device update");
    if (rc == CB_OK && sqlite3_changes(s->main_admin) == 0)
        rc = CB_ERR_NOT_FOUND;
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

static void set_exists(struct sqlite_store *s, uint32_t seq, bool exists)
{
    pthread_mutex_lock(&s->mu);
    if (seq < s->ndev)
        s->dev[seq].exists = exists;
    pthread_mutex_unlock(&s->mu);
}

static cb_err sq_device_delete(struct store *st, const struct device *d)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL, *q2 = NULL, *q3 = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (!sqlite_exec(s->main_admin, "BEGIN IMMEDIATE", "device delete"))
        goto out;
    /* Holding the write lock: mark it gone, so the compactor (which checks
     * inside its own write transaction) drops its journaled readings. */
    set_exists(s, d->seq, false);
    if (sqlite3_prepare_v2(s->main_admin, "DELETE FROM readings WHERE dev=?", -1, &q, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(s->main_admin, "DELETE FROM devices WHERE seq=?", -1, &q2, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(s->main_admin, "DELETE FROM gateway_devices WHERE device=?", -1, &q3,
                           NULL) != SQLITE_OK) {
        sqlite_exec(s->main_admin, "ROLLBACK", "device delete");
        goto out;
    }
    sqlite3_bind_int64(q, 1, d->seq);
    sqlite3_bind_int64(q2, 1, d->seq);
    sqlite3_bind_text(q3, 1, d->id, -1, SQLITE_STATIC);
    if (sqlite_step_done(s->main_admin, q, "device delete") != CB_OK ||
        sqlite_step_done(s->main_admin, q2, "device delete") != CB_OK ||
        sqlite_step_done(s->main_admin, q3, "device delete") != CB_OK) {
        sqlite_exec(s->main_admin, "ROLLBACK", "device delete");
        goto out;
    }
    char alarms[256]; /* an integer in SQL text: nothing to inject */
    snprintf(alarms, sizeof alarms,
             "DELETE FROM notifications WHERE alert_id IN (SELECT id FROM alerts WHERE dev=%u);"
             " DELETE FROM alerts WHERE dev=%u; DELETE FROM alarm_state WHERE dev=%u;",
             d->seq, d->seq, d->seq);
    if (!sqlite_exec(s->main_admin, alarms, "device delete")) {
        sqlite_exec(s->main_admin, "ROLLBACK", "device delete");
        goto out;
    }
    rc = sqlite_exec(s->main_admin, "COMMIT", "device delete") ? CB_OK : CB_ERR_IO;
    if (rc != CB_OK)
        sqlite_exec(s->main_admin, "ROLLBACK", "device delete");
out:
    if (rc != CB_OK)
        set_exists(s, d->seq, true); /* still there: keep its readings visible */
    sqlite3_finalize(q);
    sqlite3_finalize(q2);
    sqlite3_finalize(q3);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

static cb_err sq_devices_load(struct store *st, store_device_fn fn, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin,
                           "SELECT seq,id,name,location,owner,thresholds,calibration,"
                           "offline_after_s,key_hash,created_ms,notify FROM devices ORDER BY id",
                           -1, &q, NULL) != SQLITE_OK)
        goto out;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        struct device d = {0};
        d.seq = (uint32_t)sqlite3_column_int64(q, 0);
        snprintf(d.id, sizeof d.id, "%s", (const char *)sqlite3_column_text(q, 1));
        d.name = sqlite_dup_col(q, 2);
        d.location = sqlite_dup_col(q, 3);
        d.owner = sqlite_dup_col(q, 4);
        d.thresholds = sqlite_dup_col(q, 5);
        d.calibration = sqlite_dup_col(q, 6);
        d.offline_after_s = sqlite3_column_int64(q, 7);
        snprintf(d.key_hash, sizeof d.key_hash, "%s", (const char *)sqlite3_column_text(q, 8));
        d.created_ms = sqlite3_column_int64(q, 9);
        d.notify = sqlite_dup_col(q, 10);
        fn(arg, &d);
        device_clear(&d);
    }
    rc = r == SQLITE_DONE ? CB_OK : CB_ERR_IO;
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

/* ---- gateways ---- */

static cb_err gateway_write_devices(struct sqlite_store *s, const struct gateway *g)
{
    sqlite3_stmt *del = NULL, *ins = NULL;
    cb_err rc = CB_ERR_IO;
    if (sqlite3_prepare_v2(s->main_admin, "DELETE FROM gateway_devices WHERE gateway=?", -1, &del,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->main_admin, "INSERT OR IGNORE INTO gateway_devices VALUES(?,?)", -1,
                           &ins, NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_text(del, 1, g->id, -1, SQLITE_STATIC);
    if ((rc = sqlite_step_done(s->main_admin, del, "gateway devices")) != CB_OK)
        goto out;
    for (size_t i = 0; i < g->ndevices; i++) {
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, g->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, g->devices[i], -1, SQLITE_STATIC);
        if ((rc = sqlite_step_done(s->main_admin, ins, "gateway devices")) != CB_OK)
            goto out;
    }
out:
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    return rc;
}

static cb_err gateway_write(struct store *st, const struct gateway *g, bool create)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (!sqlite_exec(s->main_admin, "BEGIN IMMEDIATE", "gateway write"))
        goto out;
    const char *sql = create ? "INSERT INTO gateways(name,key_hash,created_ms,id) VALUES(?,?,?,?)"
                             : "UPDATE gateways SET name=?,key_hash=?,created_ms=? WHERE id=?";
    if (sqlite3_prepare_v2(s->main_admin, sql, -1, &q, NULL) != SQLITE_OK)
        goto rollback;
    sqlite_bind_opt(q, 1, g->name);
    sqlite3_bind_text(q, 2, g->key_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, g->created_ms);
    sqlite3_bind_text(q, 4, g->id, -1, SQLITE_STATIC);
    if ((rc = sqlite_step_done(s->main_admin, q, "gateway write")) != CB_OK)
        goto rollback;
    if (!create && sqlite3_changes(s->main_admin) == 0) {
        rc = CB_ERR_NOT_FOUND;
        goto rollback;
    }
    if ((rc = gateway_write_devices(s, g)) != CB_OK)
        goto rollback;
    rc = sqlite_exec(s->main_admin, "COMMIT", "gateway write") ? CB_OK : CB_ERR_IO;
    if (rc == CB_OK)
        goto out;
rollback:
    sqlite_exec(s->main_admin, "ROLLBACK", "gateway write");
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

static cb_err sq_gateway_create(struct store *st, const struct gateway *g)
{
    return gateway_write(st, g, true);
}

static cb_err sq_gateway_update(struct store *st, const struct gateway *g)
{
    return gateway_write(st, g, false);
}

static cb_err sq_gateway_delete(struct store *st, const char *id)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin, "DELETE FROM gateways WHERE id=?", -1, &q, NULL) !=
        SQLITE_OK)
        goto out;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    rc = sqlite_step_done(s->main_admin, q, "gateway delete");
    if (rc == CB_OK && sqlite3_changes(s->main_admin) == 0)
        rc = CB_ERR_NOT_FOUND;
out:
    sqlite3_finalize(q);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

static cb_err sq_gateways_load(struct store *st, store_gateway_fn fn, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    sqlite3_stmt *q = NULL, *qd = NULL;
    cb_err rc = CB_ERR_IO;
    pthread_mutex_lock(&s->admin_mu);
    if (sqlite3_prepare_v2(s->main_admin,
                           "SELECT id,name,key_hash,created_ms FROM gateways ORDER BY id", -1, &q,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(s->main_admin,
                           "SELECT device FROM gateway_devices WHERE gateway=? ORDER BY device", -1,
                           &qd, NULL) != SQLITE_OK)
        goto out;
    int r;
    while ((r = sqlite3_step(q)) == SQLITE_ROW) {
        struct gateway g = {0};
        snprintf(g.id, sizeof g.id, "%s", (const char *)sqlite3_column_text(q, 0));
        g.name = sqlite_dup_col(q, 1);
        snprintf(g.key_hash, sizeof g.key_hash, "%s", (const char *)sqlite3_column_text(q, 2));
        g.created_ms = sqlite3_column_int64(q, 3);
        sqlite3_reset(qd);
        sqlite3_bind_text(qd, 1, g.id, -1, SQLITE_STATIC);
        size_t cap = 0;
        while (sqlite3_step(qd) == SQLITE_ROW) {
            if (g.ndevices == cap) {
                cap = cap ? cap * 2 : 16;
                void *p = realloc(g.devices, cap * sizeof *g.devices);
                if (!p) {
                    gateway_clear(&g);
                    rc = CB_ERR_NOMEM;
                    goto out;
                }
                g.devices = p;
            }
            snprintf(g.devices[g.ndevices++], 65, "%s", (const char *)sqlite3_column_text(qd, 0));
        }
        fn(arg, &g);
        gateway_clear(&g);
    }
    rc = r == SQLITE_DONE ? CB_OK : CB_ERR_IO;
out:
    sqlite3_finalize(q);
    sqlite3_finalize(qd);
    pthread_mutex_unlock(&s->admin_mu);
    return rc;
}

/* ---- lifecycle ---- */

static cb_err sq_ready(struct store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    struct readconn *c = sqlite_reader_get(s);
    sqlite3_stmt *q = NULL;
    cb_err rc = CB_ERR_IO;
    if (sqlite3_prepare_v2(c->db, "SELECT count(*) FROM meta", -1, &q, NULL) == SQLITE_OK &&
        sqlite3_step(q) == SQLITE_ROW)
        rc = CB_OK;
    sqlite3_finalize(q);
    sqlite_reader_put(s, c);
    return rc;
}

static void sq_stats(struct store *st, struct store_stats *out)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    out->pending = s->npend;
    pthread_mutex_unlock(&s->mu);
}

static void sq_close(struct store *st)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    if (!s)
        return;
    sqlite_ingest_stop(s);
    for (size_t i = 0; i < s->nreaders; i++)
        reader_close(&s->readers[i]);
    free(s->readers);
    sqlite3_close(s->main_admin);
    free(s->pend);
    free(s->pend_jid);
    free(s->recent);
    free(s->dev);
    rset_free(&s->set);
    pthread_mutex_destroy(&s->mu);
    pthread_mutex_destroy(&s->qmu);
    pthread_mutex_destroy(&s->admin_mu);
    pthread_mutex_destroy(&s->nq_mu);
    pthread_cond_destroy(&s->nq_cv);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_cond_destroy(&s->qcv);
    pthread_cond_destroy(&s->compact_cv);
    pthread_cond_destroy(&s->pool_cv);
    free(s->dir);
    if (s->lock_fd >= 0)
        close(s->lock_fd); /* releases the flock */
    free(s);
}

static const struct store_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .ready = sq_ready,
    .stats = sq_stats,
    .put_readings = sqlite_put_readings,
    .query_readings = sqlite_query_readings,
    .scan_readings = sqlite_scan_readings,
    .series = sqlite_series,
    .device_live = sqlite_device_live,
    .device_create = sq_device_create,
    .device_update = sq_device_update,
    .device_delete = sq_device_delete,
    .devices_load = sq_devices_load,
    .gateway_create = sq_gateway_create,
    .gateway_update = sq_gateway_update,
    .gateway_delete = sq_gateway_delete,
    .gateways_load = sq_gateways_load,
    .user_create = sqlite_user_create,
    .user_update = sqlite_user_update,
    .user_delete = sqlite_user_delete,
    .users_load = sqlite_users_load,
    .session_put = sqlite_session_put,
    .session_delete = sqlite_session_delete,
    .sessions_load = sqlite_sessions_load,
    .alarm_commit = sqlite_alarm_commit,
    .alerts_query = sqlite_alerts_query,
    .alert_get = sqlite_alert_get,
    .alarm_load = sqlite_alarm_load,
    .notif_add = sqlite_notif_add,
    .notif_add_many = sqlite_notif_add_many,
    .notif_update = sqlite_notif_update,
    .notif_status = sqlite_notif_status,
    .notif_list = sqlite_notif_list,
    .notif_get = sqlite_notif_get,
    .notif_load_open = sqlite_notif_load_open,
    .notif_cancel = sqlite_notif_cancel,
    .notif_cancel_stage = sqlite_notif_cancel_stage,
    .notif_open_alerts_to = sqlite_notif_open_alerts_to,
};

static bool mkdir_p(const char *dir)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp)
        return false;
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0750) != 0 && errno != EEXIST)
                return false;
            *p = '/';
        }
    }
    return mkdir(tmp, 0750) == 0 || errno == EEXIST;
}

struct store *store_sqlite_open(const char *dir)
{
    struct sqlite_store *s = calloc(1, sizeof *s);
    char *main_path = NULL, *journal_path = NULL;
    bool ok = false;
    if (!s)
        return NULL;
    s->base.ops = &sqlite_ops;
    s->lock_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_mutex_init(&s->nq_mu, NULL);
    pthread_cond_init(&s->nq_cv, NULL);
    s->nq_tail = &s->nq_head;
    pthread_mutex_init(&s->qmu, NULL);
    pthread_mutex_init(&s->admin_mu, NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->qcv, NULL);
    pthread_cond_init(&s->compact_cv, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    s->qtail = &s->qhead;
    s->dir = strdup(dir);
    if (!s->dir || !mkdir_p(dir)) {
        log_msg(LOG_ERROR, "cannot create data directory %s: %s", dir, strerror(errno));
        goto out;
    }
    char *lock_path = path_join(dir, "carbon.lock");
    s->lock_fd = lock_path ? open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0640) : -1;
    free(lock_path);
    if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        log_msg(LOG_ERROR,
                "data directory %s is in use by another carbon process (or not writable): %s", dir,
                strerror(errno));
        goto out;
    }
    main_path = path_join(dir, "carbon.db");
    journal_path = path_join(dir, "journal.db");
    if (!main_path || !journal_path)
        goto out;
    s->main_admin = sqlite_open_db(main_path, false);
    if (!s->main_admin ||
        !migrate(s->main_admin, main_migrations,
                 (int)(sizeof main_migrations / sizeof *main_migrations), "carbon.db"))
        goto out;
    s->journal = sqlite_open_db(journal_path, false);
    if (!s->journal ||
        !migrate(s->journal, journal_migrations,
                 (int)(sizeof journal_migrations / sizeof *journal_migrations), "journal.db"))
        goto out;
    s->writer_main = sqlite_open_db(main_path, false);
    s->compact_main = sqlite_open_db(main_path, false);
    s->compact_journal = sqlite_open_db(journal_path, false);
    if (!s->writer_main || !s->compact_main || !s->compact_journal)
        goto out;
    /* Page caches, by what each connection touches: the journal is append
     * only, the writer's main connection only does rare point lookups. */
    if (!sqlite_exec(s->journal, "PRAGMA cache_size=-512", "cache") ||
        !sqlite_exec(s->compact_journal, "PRAGMA cache_size=-256", "cache") ||
        !sqlite_exec(s->writer_main, "PRAGMA cache_size=-1024", "cache") ||
        !sqlite_exec(s->main_admin, "PRAGMA cache_size=-1024", "cache"))
        goto out;
    /* Compaction touches the newest leaf page of every active device: keep
     * them cached between compactions rather than re-reading them. Its
     * commits skip the fsync: the journal keeps every reading until a
     * checkpoint has made the compaction durable (sqlite_ingest.c). */
    if (!sqlite_exec(s->compact_main, "PRAGMA cache_size=-2048; PRAGMA synchronous=NORMAL",
                     "compactor cache"))
        goto out;
    s->readers = calloc(4, sizeof *s->readers);
    if (!s->readers)
        goto out;
    for (size_t i = 0; i < 4; i++) {
        s->nreaders = i + 1; /* closed by sq_close even if this one fails */
        if (!reader_open(&s->readers[i], main_path))
            goto out;
        s->readers[i].next_free = s->free_readers;
        s->free_readers = &s->readers[i];
    }
    if (!sqlite_ingest_recover(s) || !sqlite_ingest_start(s))
        goto out;
    ok = true;
out:
    free(main_path);
    free(journal_path);
    if (!ok) {
        sq_close(&s->base);
        return NULL;
    }
    return &s->base;
}

void device_clear(struct device *d)
{
    free(d->name);
    free(d->location);
    free(d->owner);
    free(d->thresholds);
    free(d->calibration);
    free(d->notify);
    d->name = d->location = d->owner = d->thresholds = d->calibration = d->notify = NULL;
}

void user_clear(struct user *u)
{
    free(u->name);
    free(u->email);
    free(u->phone);
    free(u->secondary);
    free(u->emergency);
    free(u->password_hash);
    u->name = u->email = u->phone = u->secondary = u->emergency = u->password_hash = NULL;
}

void gateway_clear(struct gateway *g)
{
    free(g->name);
    free(g->devices);
    g->name = NULL;
    g->devices = NULL;
    g->ndevices = 0;
}
