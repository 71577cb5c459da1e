/* sqlite_int.h - internals shared by the SQLite store's files. */
#ifndef CARBON_SQLITE_INT_H
#define CARBON_SQLITE_INT_H
#include "store/store.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>

/* (dev, ts) set of readings written to the journal and not yet in the main
 * table: open addressing with linear probing, dev == 0 marks an empty slot. */
struct rset {
    struct rset_slot {
        uint32_t dev;
        int64_t ts;
    } * slots;
    size_t cap; /* power of two */
    size_t n;
};
bool rset_insert(struct rset *s, uint32_t dev, int64_t ts);
bool rset_contains(const struct rset *s, uint32_t dev, int64_t ts);
void rset_remove(struct rset *s, uint32_t dev, int64_t ts);
void rset_free(struct rset *s);

struct devstate {
    bool exists;
    bool seen_dirty; /* last_seen changed since it was last written to disk */
    int64_t max_ts;  /* greatest ts known stored or in flight; INT64_MIN if none */
    /* Greatest ts of this device's readings that have left the pending set.
     * A reading newer than this is a duplicate only if the set holds it; an
     * older one needs a lookup in the main table. */
    int64_t floor_ts;
    struct device_live live;
};

struct put_job {
    const struct reading *r;
    size_t n;
    uint8_t *dup;
    int64_t now_ms;
    store_done_fn done;
    void *arg;
    struct put_job *next;
};

struct readconn {
    sqlite3 *db;
    sqlite3_stmt *range_asc, *range_desc, *latest;
    struct readconn *next_free;
};

struct sqlite_store {
    struct store base;
    char *dir;
    int lock_fd;         /* flock'd: one process per data directory */
    sqlite3 *main_admin; /* device/gateway writes, guarded by admin_mu */
    pthread_mutex_t admin_mu;

    /* Read pool over the main database. */
    struct readconn *readers;
    size_t nreaders;
    struct readconn *free_readers;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;

    /* mu guards everything from here to the queue. */
    pthread_mutex_t mu;
    pthread_cond_t compact_cv;
    struct reading *pend; /* journaled, not yet applied to the main table */
    int64_t *pend_jid;    /* journal row of each pending record */
    size_t npend, pend_cap;
    struct rset set;        /* pending readings and the last compacted batch */
    struct reading *recent; /* the last compacted batch, still in set */
    size_t nrecent;
    struct devstate *dev;
    size_t ndev;
    int64_t applied_jid; /* journal rows <= this are in the main table */
    int64_t durable_jid; /* ... and on disk there (past a checkpoint): deletable */
    struct store_stats stats;
    int64_t deleted_jid; /* journal rows <= this are deleted from the journal */
    int64_t next_jid;    /* id of the next journal row (writer-owned after open) */

    /* Ingest queue (group commit). */
    pthread_mutex_t qmu;
    pthread_cond_t qcv;
    struct put_job *qhead, **qtail;
    _Atomic bool stopping;
    bool writer_wake;
    pthread_t writer, compactor;

    /* Writer-owned. */
    sqlite3 *journal;
    sqlite3_stmt *j_insert, *j_delete, *w_exists;
    sqlite3 *writer_main;
    /* Outbox writes (sqlite_notify.c), committed in groups: concurrent
     * writers share one transaction (one fsync) instead of one each. */
    pthread_mutex_t nq_mu;
    pthread_cond_t nq_cv;
    struct notif_req *nq_head, **nq_tail;
    bool nq_leader;
    /* Compactor-owned. */
    sqlite3 *compact_main;
    sqlite3 *compact_journal;
};

/* Borrows a read connection of the pool (waits for one); give it back. */
struct readconn *sqlite_reader_get(struct sqlite_store *s);
void sqlite_reader_put(struct sqlite_store *s, struct readconn *c);
/* Opens a database with the project's pragmas. NULL on failure (logged). */
sqlite3 *sqlite_open_db(const char *path, bool readonly);
/* Column i as a malloc'd string (NULL for SQL NULL). */
char *sqlite_dup_col(sqlite3_stmt *st, int i);
/* Binds v, or NULL when v is NULL. */
void sqlite_bind_opt(sqlite3_stmt *st, int i, const char *v);
/* Binds v, or NULL when v is "" (fixed-size text fields: "" means none).
 * v must live until the statement is stepped. */
void sqlite_bind_nonempty(sqlite3_stmt *st, int i, const char *v);
/* Column i into dst (cap bytes, cut to fit); "" for SQL NULL. */
void sqlite_col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap);
/* Steps a statement to completion: CB_OK, CB_ERR_CONFLICT on a constraint,
 * CB_ERR_IO otherwise (logged with what). */
cb_err sqlite_step_done(sqlite3 *db, sqlite3_stmt *st, const char *what);
/* Runs statements; false on error (logged with context). */
bool sqlite_exec(sqlite3 *db, const char *sql, const char *what);
/* Grows s->dev to hold seq; false on allocation failure. Caller holds mu. */
bool sqlite_devstate_reserve(struct sqlite_store *s, uint32_t seq);

/* Ingest side (sqlite_ingest.c). */
bool sqlite_ingest_start(struct sqlite_store *s);
void sqlite_ingest_stop(struct sqlite_store *s);
cb_err sqlite_put_readings(struct store *st, const struct reading *r, size_t n, uint8_t *dup,
                           int64_t now_ms, store_done_fn done, void *arg);
cb_err sqlite_query_readings(struct store *st, uint32_t dev, int64_t from, int64_t to, bool desc,
                             size_t limit, struct reading **out, size_t *n);
cb_err sqlite_scan_readings(struct store *st, uint32_t dev, int64_t from, int64_t to,
                            store_scan_fn fn, void *arg);
cb_err sqlite_device_live(struct store *st, uint32_t dev, struct device_live *out);
/* Users and sessions (sqlite_users.c), on main_admin under admin_mu. */
cb_err sqlite_user_create(struct store *st, const struct user *u);
cb_err sqlite_user_update(struct store *st, const struct user *u);
cb_err sqlite_user_delete(struct store *st, const char *id);
cb_err sqlite_users_load(struct store *st, store_user_fn fn, void *arg);
cb_err sqlite_session_put(struct store *st, const struct session *se);
cb_err sqlite_session_delete(struct store *st, const char *token_hash);
cb_err sqlite_sessions_load(struct store *st, int64_t now_ms, store_session_fn fn, void *arg);

/* Alarms (sqlite_alerts.c), on main_admin under admin_mu. */
cb_err sqlite_alarm_commit(struct store *st, struct alert *a, size_t na, const struct alarm_blob *b,
                           size_t nb);
cb_err sqlite_alerts_query(struct store *st, const struct alert_filter *f, struct alert **out,
                           size_t *n);
cb_err sqlite_alert_get(struct store *st, int64_t id, struct alert *out);
cb_err sqlite_alarm_load(struct store *st, store_blob_fn states,
                         void (*active)(void *, const struct alert *), void *arg);
/* Notification outbox (sqlite_notify.c). */
cb_err sqlite_notif_add(struct store *st, struct notification *n);
cb_err sqlite_notif_add_many(struct store *st, struct notification *v, size_t n, cb_err *rc);
cb_err sqlite_notif_update(struct store *st, const struct notification *n, int expect);
cb_err sqlite_notif_cancel_stage(struct store *st, uint32_t dev, int stage, int64_t now_ms,
                                 size_t *n);
cb_err sqlite_notif_status(struct store *st, const char *sid, const char *status, int error_code,
                           int64_t now_ms, struct notification *out);
cb_err sqlite_notif_list(struct store *st, int64_t alert_id, size_t limit,
                         struct notification **out, size_t *n);
cb_err sqlite_notif_get(struct store *st, int64_t id, struct notification *out);
cb_err sqlite_notif_load_open(struct store *st, store_notif_fn fn, void *arg);
cb_err sqlite_notif_cancel(struct store *st, int64_t alert_id, int64_t now_ms, size_t *n);
cb_err sqlite_notif_open_alerts_to(struct store *st, const char *number, int64_t *ids, size_t cap,
                                   size_t *n);

/* Pending (journaled, not yet compacted) readings of dev in [from, to),
 * ascending, malloc'd; *applied: the journal position the main table held
 * at that moment (compare with meta.journal_applied in a read snapshot). */
cb_err sqlite_pending_range(struct sqlite_store *s, uint32_t dev, int64_t from, int64_t to,
                            struct reading **out, size_t *n, int64_t *applied);

/* Per-minute rollups (sqlite_rollup.c). In the compaction transaction:
 * folds rows[0..n) (sorted by dev, ts; fresh[i] set when row i was newly
 * inserted) into rollup_minute. False on a database error (logged). */
bool sqlite_rollup_apply(sqlite3 *db, const struct reading *const *rows, const uint8_t *fresh,
                         size_t n);
/* The store's series op: whole minutes from rollup_minute (when step_ms is
 * a multiple of a minute), the rest and pending readings from raw rows. */
cb_err sqlite_series(struct store *st, uint32_t dev, int64_t from, int64_t to, int64_t step_ms,
                     store_bucket_fn fn, void *arg);

/* Loads unapplied journal rows and per-device state at open. */
bool sqlite_ingest_recover(struct sqlite_store *s);

#endif
