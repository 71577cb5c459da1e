/* sqlite_ingest.c - the SQLite store's readings path.
 *
 * Why two tables: a table keyed (device, ts) is what range queries want, but
 * a fleet's interleaved writes dirty one B-tree page per reading, which caps
 * durable ingest near 60k rows/s. So ingest is split in two:
 *
 *   1. Group commit (writer thread): every queued put_readings call is taken
 *      at once, de-duplicated, and appended as ONE blob row to journal.db in
 *      one fsync'd transaction; then each caller's done() runs. A commit costs
 *      one sequential append however many requests and readings it carries.
 *   2. Compaction (compactor thread): journaled readings are sorted by
 *      (device, ts) and inserted into carbon.db's readings table in large
 *      transactions, so each device's rows land on the same few pages; the
 *      applied journal position is recorded in the same transaction. These
 *      commits skip the fsync (synchronous=NORMAL): the journal is the
 *      durable copy until a complete checkpoint has synced carbon.db, and
 *      only then does the writer delete the applied journal rows.
 *
 * Until applied, readings also live in memory (pend[]), which queries merge
 * with the main table: pend is read before the table, and a record leaves
 * pend only after its compaction committed, so no reading is ever missed.
 * Duplicates are found by the per-device max ts, then the in-memory set of
 * pending (dev, ts), then a point lookup in the main table. */
#include "store/sqlite_int.h"

#include "core/log.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define COMPACT_MIN_RECORDS 32768        /* compact at once past this many pending */
#define COMPACT_MAX_AGE_MS 1000          /* else compact pending records this old */
#define PEND_HIGH_WATER (64 * 1024)      /* writer waits for compaction above this */
#define BACKPRESSURE_MAX_NS 5000000000LL /* ... for at most this long */

/* ---- the pending (dev, ts) set ---- */

static size_t rset_hash(uint32_t dev, int64_t ts)
{
    uint64_t h = (uint64_t)ts * 0x9E3779B97F4A7C15ull ^ (uint64_t)dev * 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h ^ (h >> 29));
}

static bool rset_grow(struct rset *s)
{
    size_t ncap = s->cap ? s->cap * 2 : 1024;
    struct rset_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->slots[i].dev)
            continue;
        size_t j = rset_hash(s->slots[i].dev, s->slots[i].ts) & (ncap - 1);
        while (ns[j].dev)
            j = (j + 1) & (ncap - 1);
        ns[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = ns;
    s->cap = ncap;
    return true;
}

bool rset_insert(struct rset *s, uint32_t dev, int64_t ts)
{
    if ((s->n + 1) * 2 > s->cap && !rset_grow(s))
        return false;
    size_t j = rset_hash(dev, ts) & (s->cap - 1);
    while (s->slots[j].dev) {
        if (s->slots[j].dev == dev && s->slots[j].ts == ts)
            return true;
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = (struct rset_slot){dev, ts};
    s->n++;
    return true;
}

bool rset_contains(const struct rset *s, uint32_t dev, int64_t ts)
{
    if (!s->cap)
        return false;
    size_t j = rset_hash(dev, ts) & (s->cap - 1);
    while (s->slots[j].dev) {
        if (s->slots[j].dev == dev && s->slots[j].ts == ts)
            return true;
        j = (j + 1) & (s->cap - 1);
    }
    return false;
}

void rset_remove(struct rset *s, uint32_t dev, int64_t ts)
{
    if (!s->cap)
        return;
    size_t mask = s->cap - 1, j = rset_hash(dev, ts) & mask;
    while (s->slots[j].dev && !(s->slots[j].dev == dev && s->slots[j].ts == ts))
        j = (j + 1) & mask;
    if (!s->slots[j].dev)
        return;
    /* Backward-shift deletion keeps probe chains intact without tombstones. */
    size_t hole = j;
    for (size_t k = (j + 1) & mask; s->slots[k].dev; k = (k + 1) & mask) {
        size_t home = rset_hash(s->slots[k].dev, s->slots[k].ts) & mask;
        /* Move k into the hole unless its home lies cyclically in (hole, k]. */
        bool in_range = hole <= k ? (home > hole && home <= k) : (home > hole || home <= k);
        if (!in_range) {
            s->slots[hole] = s->slots[k];
            hole = k;
        }
    }
    s->slots[hole].dev = 0;
    s->n--;
}

void rset_free(struct rset *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->n = 0;
}

/* ---- pending records ---- */

/* Grows pend to hold at least want records. Caller holds mu. */
static bool pend_reserve(struct sqlite_store *s, size_t want)
{
    if (want <= s->pend_cap)
        return true;
    size_t ncap = s->pend_cap ? s->pend_cap : 4096;
    while (ncap < want)
        ncap *= 2;
    struct reading *p = realloc(s->pend, ncap * sizeof *p);
    if (!p)
        return false;
    s->pend = p;
    int64_t *q = realloc(s->pend_jid, ncap * sizeof *q);
    if (!q)
        return false;
    s->pend_jid = q;
    s->pend_cap = ncap;
    return true;
}

static bool pend_append(struct sqlite_store *s, const struct reading *r, size_t n, int64_t jid)
{
    if (!pend_reserve(s, s->npend + n))
        return false;
    memcpy(s->pend + s->npend, r, n * sizeof *r);
    for (size_t i = 0; i < n; i++)
        s->pend_jid[s->npend + i] = jid;
    s->npend += n;
    return true;
}

/* Folds a stored reading into the device's live facts. Caller holds mu. */
static void live_note(struct sqlite_store *s, const struct reading *r, int64_t seen_ms)
{
    if (r->dev >= s->ndev)
        return;
    struct devstate *d = &s->dev[r->dev];
    if (!d->live.has_last || r->ts_ms >= d->live.last.ts_ms) {
        d->live.last = *r;
        d->live.has_last = true;
    }
    if (r->ts_ms > d->max_ts)
        d->max_ts = r->ts_ms;
    if (seen_ms > d->live.last_seen_ms) {
        d->live.last_seen_ms = seen_ms;
        d->seen_dirty = true;
    }
}

/* ---- writer ---- */

static bool main_has(struct sqlite_store *s, uint32_t dev, int64_t ts)
{
    sqlite3_stmt *q = s->w_exists;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, dev);
    sqlite3_bind_int64(q, 2, ts);
    bool has = sqlite3_step(q) == SQLITE_ROW;
    sqlite3_reset(q);
    return has;
}

/* Appends recs as one journal row and deletes applied rows, in one
 * transaction. Returns the new row's id, or 0 on failure. */
static int64_t journal_commit(struct sqlite_store *s, const struct reading *recs, size_t n,
                              int64_t recv_ms, int64_t delete_upto)
{
    int64_t jid = 0;
    if (!sqlite_exec(s->journal, "BEGIN IMMEDIATE", "journal"))
        return 0;
    /* Ids are assigned here, never reused: a row id at or below the applied
     * position recorded in carbon.db would be taken as already applied. */
    jid = s->next_jid;
    sqlite3_reset(s->j_insert);
    sqlite3_bind_int64(s->j_insert, 1, jid);
    sqlite3_bind_blob64(s->j_insert, 2, recs, n * sizeof *recs, SQLITE_STATIC);
    sqlite3_bind_int64(s->j_insert, 3, recv_ms);
    if (sqlite3_step(s->j_insert) != SQLITE_DONE) {
        log_msg(LOG_ERROR, "journal append failed: %s", sqlite3_errmsg(s->journal));
        jid = 0;
        goto fail;
    }
    if (delete_upto > 0) {
        sqlite3_reset(s->j_delete);
        sqlite3_bind_int64(s->j_delete, 1, delete_upto);
        if (sqlite3_step(s->j_delete) != SQLITE_DONE)
            goto fail;
    }
    if (!sqlite_exec(s->journal, "COMMIT", "journal"))
        goto fail;
    s->next_jid = jid + 1;
    return jid;
fail:
    sqlite_exec(s->journal, "ROLLBACK", "journal");
    return 0;
}

static void process_jobs(struct sqlite_store *s, struct put_job *jobs)
{
    size_t total = 0;
    for (struct put_job *j = jobs; j; j = j->next)
        total += j->n;
    struct reading *recs = total ? malloc(total * sizeof *recs) : NULL;
    size_t nrec = 0;
    cb_err err = CB_OK;
    bool in_read_txn = false;
    if (total && !recs)
        err = CB_ERR_NOMEM;

    pthread_mutex_lock(&s->mu);
    /* Back-pressure: never let unapplied records grow without bound; if
     * compaction stays stuck (a full disk), fail the group rather than hang. */
    int64_t bp_start = time_mono_ns();
    while (err == CB_OK && s->npend > PEND_HIGH_WATER && !atomic_load(&s->stopping)) {
        if (time_mono_ns() - bp_start > BACKPRESSURE_MAX_NS) {
            log_msg(LOG_ERROR, "compaction is not keeping up; refusing readings for now");
            err = CB_ERR_UNAVAILABLE;
            break;
        }
        pthread_cond_signal(&s->compact_cv);
        pthread_mutex_unlock(&s->mu);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&s->mu);
    }
    /* Room in memory for all of them, before anything is written: after the
     * commit, keeping them visible must not be able to fail. */
    if (err == CB_OK && !pend_reserve(s, s->npend + total))
        err = CB_ERR_NOMEM;
    for (struct put_job *j = jobs; j && err == CB_OK; j = j->next) {
        for (size_t i = 0; i < j->n; i++) {
            const struct reading *r = &j->r[i];
            bool dup = false;
            struct devstate *d = r->dev < s->ndev ? &s->dev[r->dev] : NULL;
            if (d && r->ts_ms <= d->max_ts) {
                dup = rset_contains(&s->set, r->dev, r->ts_ms);
                if (!dup && r->ts_ms <= d->floor_ts) {
                    /* Old enough to be in the main table: one index seek,
                     * all of this group's under one read transaction. */
                    if (!in_read_txn)
                        in_read_txn = sqlite_exec(s->writer_main, "BEGIN", "dedup");
                    dup = main_has(s, r->dev, r->ts_ms);
                    s->stats.dedup_lookups++;
                }
            }
            j->dup[i] = dup;
            if (dup)
                continue;
            if (!rset_insert(&s->set, r->dev, r->ts_ms)) {
                err = CB_ERR_NOMEM;
                break;
            }
            if (d && r->ts_ms > d->max_ts)
                d->max_ts = r->ts_ms;
            recs[nrec++] = *r;
        }
    }
    int64_t delete_upto = s->durable_jid > s->deleted_jid ? s->durable_jid : 0;
    pthread_mutex_unlock(&s->mu);
    if (in_read_txn)
        sqlite_exec(s->writer_main, "COMMIT", "dedup");

    int64_t jid = 0;
    if (err == CB_OK && nrec) {
        jid = journal_commit(s, recs, nrec, jobs->now_ms, delete_upto);
        if (!jid)
            err = CB_ERR_IO;
    }

    pthread_mutex_lock(&s->mu);
    if (err == CB_OK && nrec) {
        s->stats.commits++;
        s->stats.readings_written += nrec;
        if (delete_upto > s->deleted_jid)
            s->deleted_jid = delete_upto;
        pend_append(s, recs, nrec, jid); /* cannot fail: reserved above */
        int64_t now = jobs->now_ms;
        for (size_t i = 0; i < nrec; i++)
            live_note(s, &recs[i], now);
        if (s->npend >= COMPACT_MIN_RECORDS)
            pthread_cond_signal(&s->compact_cv);
    } else if (err != CB_OK) {
        for (size_t i = 0; i < nrec; i++)
            rset_remove(&s->set, recs[i].dev, recs[i].ts_ms);
    }
    pthread_mutex_unlock(&s->mu);
    free(recs);

    for (struct put_job *j = jobs, *next; j; j = next) {
        next = j->next;
        j->done(j->arg, err);
        free(j);
    }
}

static void *writer_main(void *arg)
{
    struct sqlite_store *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->qmu);
        while (!s->qhead && !atomic_load(&s->stopping) && !s->writer_wake)
            pthread_cond_wait(&s->qcv, &s->qmu);
        struct put_job *jobs = s->qhead;
        s->qhead = NULL;
        s->qtail = &s->qhead;
        bool stop = atomic_load(&s->stopping);
        s->writer_wake = false;
        pthread_mutex_unlock(&s->qmu);
        if (jobs) {
            process_jobs(s, jobs);
        } else if (stop) {
            break;
        } else {
            /* Woken by the compactor: delete applied journal rows. */
            pthread_mutex_lock(&s->mu);
            int64_t upto = s->durable_jid > s->deleted_jid ? s->durable_jid : 0;
            pthread_mutex_unlock(&s->mu);
            if (upto) {
                sqlite3_reset(s->j_delete);
                sqlite3_bind_int64(s->j_delete, 1, upto);
                if (sqlite3_step(s->j_delete) == SQLITE_DONE) {
                    pthread_mutex_lock(&s->mu);
                    s->deleted_jid = upto;
                    pthread_mutex_unlock(&s->mu);
                }
                sqlite3_reset(s->j_delete);
            }
        }
    }
    return NULL;
}

cb_err sqlite_put_readings(struct store *st, const struct reading *r, size_t n, uint8_t *dup,
                           int64_t now_ms, store_done_fn done, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    struct put_job *j = calloc(1, sizeof *j);
    if (!j)
        return CB_ERR_NOMEM;
    *j = (struct put_job){.r = r, .n = n, .dup = dup, .now_ms = now_ms, .done = done, .arg = arg};
    pthread_mutex_lock(&s->qmu);
    if (atomic_load(&s->stopping)) {
        pthread_mutex_unlock(&s->qmu);
        free(j);
        return CB_ERR_UNAVAILABLE;
    }
    *s->qtail = j;
    s->qtail = &j->next;
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    return CB_OK;
}

/* ---- compactor ---- */

static int cmp_reading(const void *a, const void *b)
{
    const struct reading *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    return (x->ts_ms > y->ts_ms) - (x->ts_ms < y->ts_ms);
}

/* Binds r to parameters base+1 .. base+5 of an insert into readings. */
static void bind_reading(sqlite3_stmt *q, int base, const struct reading *r)
{
    sqlite3_bind_int64(q, base + 1, r->dev);
    sqlite3_bind_int64(q, base + 2, r->ts_ms);
    sqlite3_bind_double(q, base + 3, r->co_ppm);
    if (r->flags & READING_HAS_TEMP)
        sqlite3_bind_double(q, base + 4, r->temp_c);
    else
        sqlite3_bind_null(q, base + 4);
    if (r->flags & READING_HAS_HUM)
        sqlite3_bind_double(q, base + 5, r->hum_pct);
    else
        sqlite3_bind_null(q, base + 5);
}

/* Rows per multi-row INSERT in compaction: one statement execution per
 * COMPACT_ROWS readings instead of one per reading. */
#define COMPACT_ROWS 64

static sqlite3_stmt *prepare_multi_insert(sqlite3 *db)
{
    char sql[64 + COMPACT_ROWS * 12];
    size_t o = (size_t)snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO readings VALUES");
    for (int k = 0; k < COMPACT_ROWS; k++)
        o += (size_t)snprintf(sql + o, sizeof sql - o, "%s(?,?,?,?,?)", k ? "," : "");
    sqlite3_stmt *q = NULL;
    return sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK ? q : NULL;
}

/* Moves the first n pending records (journal rows <= upto) into the main
 * table. Returns false on failure (they stay pending and are retried). */
static bool compact_once(struct sqlite_store *s, size_t n, int64_t upto)
{
    sqlite3 *db = s->compact_main;
    sqlite3_stmt *ins = NULL, *multi = NULL, *meta = NULL, *seen = NULL;
    struct reading *batch = malloc(n * sizeof *batch);
    const struct reading **rows = malloc(n * sizeof *rows);
    uint8_t *fresh = malloc(n ? n : 1); /* fresh[i]: rows[i] was inserted (not ignored) */
    struct {
        uint32_t seq;
        int64_t ms;
    } *seen_list = NULL;
    size_t nseen = 0;
    bool ok = false;
    if (!batch || !rows || !fresh)
        goto out;
    pthread_mutex_lock(&s->mu);
    memcpy(batch, s->pend, n * sizeof *batch);
    pthread_mutex_unlock(&s->mu);
    qsort(batch, n, sizeof *batch, cmp_reading);

    if (!(multi = prepare_multi_insert(db)) ||
        sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO readings VALUES(?,?,?,?,?)", -1, &ins,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE meta SET v=? WHERE k='journal_applied'", -1, &meta, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(db, "UPDATE devices SET last_seen_ms=? WHERE seq=?", -1, &seen, NULL) !=
            SQLITE_OK)
        goto out;
    if (!sqlite_exec(db, "BEGIN IMMEDIATE", "compaction"))
        goto out;
    /* Checked inside the write transaction: a device deleted before this
     * point is skipped; one deleted after waits for this commit and then
     * deletes what we wrote. */
    bool exists = false;
    uint32_t cur = 0;
    size_t nrows = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || batch[i].dev != cur) {
            cur = batch[i].dev;
            pthread_mutex_lock(&s->mu);
            exists = cur < s->ndev && s->dev[cur].exists;
            pthread_mutex_unlock(&s->mu);
        }
        if (exists)
            rows[nrows++] = &batch[i];
    }
    for (size_t i = 0; i < nrows;) {
        sqlite3_stmt *q = nrows - i >= COMPACT_ROWS ? multi : ins;
        int k = q == multi ? COMPACT_ROWS : 1;
        sqlite3_reset(q);
        for (int j = 0; j < k; j++)
            bind_reading(q, 5 * j, rows[i + (size_t)j]);
        if (sqlite3_step(q) != SQLITE_DONE) {
            log_msg(LOG_ERROR, "compaction insert failed: %s", sqlite3_errmsg(db));
            goto rollback;
        }
        /* All new (the usual case), or some ignored: then which is unknown,
         * and the rollups of those minutes are recomputed from the table. */
        memset(fresh + i, sqlite3_changes(db) == k, (size_t)k);
        i += (size_t)k;
    }
    if (!sqlite_rollup_apply(db, rows, fresh, nrows))
        goto rollback;
    sqlite3_bind_int64(meta, 1, upto);
    if (sqlite3_step(meta) != SQLITE_DONE)
        goto rollback;
    /* Persist last_seen of devices that changed (cheap: one row each). */
    pthread_mutex_lock(&s->mu);
    seen_list = malloc(s->ndev * sizeof *seen_list + 1);
    for (size_t i = 0; seen_list && i < s->ndev; i++) {
        if (s->dev[i].exists && s->dev[i].seen_dirty) {
            seen_list[nseen].seq = (uint32_t)i;
            seen_list[nseen++].ms = s->dev[i].live.last_seen_ms;
            s->dev[i].seen_dirty = false;
        }
    }
    pthread_mutex_unlock(&s->mu);
    for (size_t i = 0; i < nseen; i++) {
        sqlite3_reset(seen);
        sqlite3_bind_int64(seen, 1, seen_list[i].ms);
        sqlite3_bind_int64(seen, 2, seen_list[i].seq);
        if (sqlite3_step(seen) != SQLITE_DONE)
            goto rollback;
    }
    if (!sqlite_exec(db, "COMMIT", "compaction"))
        goto rollback;
    ok = true;
    /* Now, and only now, the records may leave memory. This batch stays in
     * the duplicate set one more round (devices that send slightly out of
     * order then never cost a table lookup); the previous batch leaves it,
     * raising each device's floor. */
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nrecent; i++) {
        const struct reading *r = &s->recent[i];
        if (r->dev < s->ndev && r->ts_ms > s->dev[r->dev].floor_ts)
            s->dev[r->dev].floor_ts = r->ts_ms;
        rset_remove(&s->set, r->dev, r->ts_ms);
    }
    free(s->recent);
    s->recent = batch;
    s->nrecent = n;
    batch = NULL;
    memmove(s->pend, s->pend + n, (s->npend - n) * sizeof *s->pend);
    memmove(s->pend_jid, s->pend_jid + n, (s->npend - n) * sizeof *s->pend_jid);
    s->npend -= n;
    s->applied_jid = upto;
    s->stats.compactions++;
    pthread_mutex_unlock(&s->mu);
    goto out;
rollback:
    sqlite_exec(db, "ROLLBACK", "compaction");
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < nseen; i++)
        s->dev[seen_list[i].seq].seen_dirty = true;
    pthread_mutex_unlock(&s->mu);
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(multi);
    free(rows);
    free(fresh);
    sqlite3_finalize(meta);
    sqlite3_finalize(seen);
    free(seen_list);
    free(batch);
    return ok;
}

/* carbon.db's WAL is checkpointed by the compactor itself, when it has
 * grown past CKPT_FRAMES or CKPT_AGE_NS has passed: a page rewritten by
 * several compactions is then copied to the database once. */
#define CKPT_FRAMES 4096
#define CKPT_AGE_NS 2000000000LL

static int wal_frames_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
    *(int *)arg = frames; /* replaces SQLite's autocheckpoint */
    return SQLITE_OK;
}

static void *compactor_main(void *arg)
{
    struct sqlite_store *s = arg;
    int64_t last = time_mono_ns(), last_ckpt = last;
    int main_wal_frames = 0;
    sqlite3_wal_hook(s->compact_main, wal_frames_hook, &main_wal_frames);
    pthread_mutex_lock(&s->mu);
    for (;;) {
        bool stop = atomic_load(&s->stopping);
        int64_t age_ms = (time_mono_ns() - last) / 1000000;
        if (s->npend && (s->npend >= COMPACT_MIN_RECORDS || age_ms >= COMPACT_MAX_AGE_MS || stop)) {
            /* Take whole journal rows only: the prefix up to the last jid. */
            size_t n = s->npend;
            int64_t upto = s->pend_jid[n - 1];
            pthread_mutex_unlock(&s->mu);
            bool ok = compact_once(s, n, upto);
            last = time_mono_ns();
            if (ok && (main_wal_frames >= CKPT_FRAMES || last - last_ckpt >= CKPT_AGE_NS || stop)) {
                /* carbon.db commits without fsync (synchronous=NORMAL); a
                 * complete checkpoint syncs the WAL and the database. Only
                 * then may the journal forget what was applied. */
                int wal_frames = -1, done_frames = -1;
                last_ckpt = last;
                if (sqlite3_wal_checkpoint_v2(s->compact_main, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                              &wal_frames, &done_frames) == SQLITE_OK &&
                    wal_frames == done_frames) {
                    main_wal_frames = 0;
                    pthread_mutex_lock(&s->mu);
                    s->durable_jid = upto;
                    pthread_mutex_unlock(&s->mu);
                }
            }
            if (ok) {
                pthread_mutex_lock(&s->qmu);
                s->writer_wake = true;
                pthread_cond_signal(&s->qcv);
                pthread_mutex_unlock(&s->qmu);
                sqlite3_wal_checkpoint_v2(s->compact_journal, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
                                          NULL);
            } else {
                struct timespec ts = {0, 200000000};
                nanosleep(&ts, NULL);
            }
            pthread_mutex_lock(&s->mu);
            if (!ok && stop)
                break;
            continue;
        }
        if (stop)
            break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 200000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&s->compact_cv, &s->mu, &ts);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ---- lifecycle ---- */

bool sqlite_ingest_recover(struct sqlite_store *s)
{
    sqlite3_stmt *q = NULL;
    bool ok = false;
    int64_t applied = 0;
    /* Device states. */
    if (sqlite3_prepare_v2(s->main_admin, "SELECT seq, last_seen_ms FROM devices", -1, &q, NULL) !=
        SQLITE_OK)
        goto out;
    while (sqlite3_step(q) == SQLITE_ROW) {
        uint32_t seq = (uint32_t)sqlite3_column_int64(q, 0);
        if (!sqlite_devstate_reserve(s, seq))
            goto out;
        s->dev[seq] = (struct devstate){.exists = true,
                                        .max_ts = INT64_MIN,
                                        .floor_ts = INT64_MIN,
                                        .live.last_seen_ms = sqlite3_column_int64(q, 1)};
    }
    sqlite3_finalize(q);
    q = NULL;
    /* Latest stored reading of each device (an index seek each). */
    if (sqlite3_prepare_v2(s->main_admin,
                           "SELECT ts, co, temp, hum FROM readings WHERE dev=? "
                           "ORDER BY ts DESC LIMIT 1",
                           -1, &q, NULL) != SQLITE_OK)
        goto out;
    for (size_t i = 0; i < s->ndev; i++) {
        if (!s->dev[i].exists)
            continue;
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, (int64_t)i);
        if (sqlite3_step(q) == SQLITE_ROW) {
            struct reading r = {.dev = (uint32_t)i,
                                .ts_ms = sqlite3_column_int64(q, 0),
                                .co_ppm = sqlite3_column_double(q, 1)};
            if (sqlite3_column_type(q, 2) != SQLITE_NULL) {
                r.flags |= READING_HAS_TEMP;
                r.temp_c = sqlite3_column_double(q, 2);
            }
            if (sqlite3_column_type(q, 3) != SQLITE_NULL) {
                r.flags |= READING_HAS_HUM;
                r.hum_pct = sqlite3_column_double(q, 3);
            }
            live_note(s, &r, 0);
            s->dev[i].floor_ts = r.ts_ms;
        }
    }
    sqlite3_finalize(q);
    q = NULL;
    if (sqlite3_prepare_v2(s->main_admin, "SELECT v FROM meta WHERE k='journal_applied'", -1, &q,
                           NULL) != SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW)
        goto out;
    applied = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    q = NULL;
    /* The next journal id: past everything the journal holds and past the
     * applied position (the journal may even have been emptied or lost). */
    if (sqlite3_prepare_v2(s->journal, "SELECT coalesce(max(id), 0) FROM journal", -1, &q, NULL) !=
            SQLITE_OK ||
        sqlite3_step(q) != SQLITE_ROW)
        goto out;
    int64_t max_id = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    q = NULL;
    s->next_jid = (max_id > applied ? max_id : applied) + 1;
    /* Rows already applied may remain if we stopped before deleting them.
     * Delete them only once carbon.db is on disk (its commits skip fsync). */
    bool main_durable = sqlite3_wal_checkpoint_v2(s->main_admin, NULL, SQLITE_CHECKPOINT_TRUNCATE,
                                                  NULL, NULL) == SQLITE_OK;
    char del[96];
    snprintf(del, sizeof del, "DELETE FROM journal WHERE id<=%lld", (long long)applied);
    if (main_durable && !sqlite_exec(s->journal, del, "journal cleanup"))
        goto out;
    /* Journal rows not yet applied go back to memory (their fsync'd 201s
     * were answered; they must be visible and will be compacted). */
    if (sqlite3_prepare_v2(s->journal,
                           "SELECT id, recs, recv_ms FROM journal WHERE id>? ORDER BY id", -1, &q,
                           NULL) != SQLITE_OK)
        goto out;
    sqlite3_bind_int64(q, 1, applied);
    size_t recovered = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        int64_t jid = sqlite3_column_int64(q, 0);
        int64_t recv_ms = sqlite3_column_int64(q, 2);
        size_t bytes = (size_t)sqlite3_column_bytes(q, 1);
        const struct reading *r = sqlite3_column_blob(q, 1);
        size_t n = bytes / sizeof *r;
        if (bytes % sizeof *r) {
            log_msg(LOG_ERROR, "journal row %lld is corrupt (%zu bytes)", (long long)jid, bytes);
            goto out;
        }
        /* Copy out: the blob may be unaligned. */
        for (size_t i = 0; i < n; i++) {
            struct reading rec;
            memcpy(&rec, (const char *)r + i * sizeof rec, sizeof rec);
            if (!pend_append(s, &rec, 1, jid) || !rset_insert(&s->set, rec.dev, rec.ts_ms))
                goto out;
            live_note(s, &rec, recv_ms);
        }
        recovered += n;
    }
    if (recovered)
        log_msg(LOG_INFO, "recovered %zu journaled readings", recovered);
    s->applied_jid = applied;
    s->durable_jid = s->deleted_jid = main_durable ? applied : 0;
    ok = true;
out:
    sqlite3_finalize(q);
    if (!ok)
        log_msg(LOG_ERROR, "store recovery failed: %s", sqlite3_errmsg(s->main_admin));
    return ok;
}

bool sqlite_ingest_start(struct sqlite_store *s)
{
    /* The writer checkpoints nothing itself; the compactor does it in the
     * background so commits stay short. */
    sqlite3_wal_autocheckpoint(s->journal, 0);
    if (sqlite3_prepare_v3(s->journal, "INSERT INTO journal(id, recs, recv_ms) VALUES(?, ?, ?)", -1,
                           SQLITE_PREPARE_PERSISTENT, &s->j_insert, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(s->journal, "DELETE FROM journal WHERE id<=?", -1,
                           SQLITE_PREPARE_PERSISTENT, &s->j_delete, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(s->writer_main, "SELECT 1 FROM readings WHERE dev=? AND ts=?", -1,
                           SQLITE_PREPARE_PERSISTENT, &s->w_exists, NULL) != SQLITE_OK) {
        log_msg(LOG_ERROR, "cannot prepare ingest statements");
        return false;
    }
    if (pthread_create(&s->writer, NULL, writer_main, s) != 0)
        return false;
    if (pthread_create(&s->compactor, NULL, compactor_main, s) != 0) {
        pthread_mutex_lock(&s->qmu);
        atomic_store(&s->stopping, true);
        pthread_cond_signal(&s->qcv);
        pthread_mutex_unlock(&s->qmu);
        pthread_join(s->writer, NULL);
        s->writer = 0;
        return false;
    }
    return true;
}

void sqlite_ingest_stop(struct sqlite_store *s)
{
    pthread_mutex_lock(&s->qmu);
    atomic_store(&s->stopping, true);
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    if (s->writer) {
        pthread_join(s->writer, NULL);
        s->writer = 0;
    }
    pthread_mutex_lock(&s->mu);
    pthread_cond_signal(&s->compact_cv);
    pthread_mutex_unlock(&s->mu);
    if (s->compactor) {
        pthread_join(s->compactor, NULL);
        s->compactor = 0;
    }
    sqlite3_finalize(s->j_insert);
    sqlite3_finalize(s->j_delete);
    sqlite3_finalize(s->w_exists);
    s->j_insert = s->j_delete = s->w_exists = NULL;
    sqlite3_close(s->journal);
    sqlite3_close(s->writer_main);
    sqlite3_close(s->compact_main);
    sqlite3_close(s->compact_journal);
    s->journal = s->writer_main = s->compact_main = s->compact_journal = NULL;
}

/* ---- queries ---- */

static void row_to_reading(sqlite3_stmt *q, uint32_t dev, struct reading *r)
{
    *r = (struct reading){
        .dev = dev, .ts_ms = sqlite3_column_int64(q, 0), .co_ppm = sqlite3_column_double(q, 1)};
    if (sqlite3_column_type(q, 2) != SQLITE_NULL) {
        r->flags |= READING_HAS_TEMP;
        r->temp_c = sqlite3_column_double(q, 2);
    }
    if (sqlite3_column_type(q, 3) != SQLITE_NULL) {
        r->flags |= READING_HAS_HUM;
        r->hum_pct = sqlite3_column_double(q, 3);
    }
}

static int cmp_ts(const void *a, const void *b)
{
    const struct reading *x = a, *y = b;
    return (x->ts_ms > y->ts_ms) - (x->ts_ms < y->ts_ms);
}

/* Pending records of dev in [from, to), sorted ascending. Caller frees.
 * *applied (if not NULL): the journal position applied to the main table at
 * that moment (what the records are relative to). */
static cb_err pending_matches(struct sqlite_store *s, uint32_t dev, int64_t from, int64_t to,
                              struct reading **out, size_t *n, int64_t *applied)
{
    size_t cap = 0, cnt = 0;
    struct reading *v = NULL;
    pthread_mutex_lock(&s->mu);
    if (applied)
        *applied = s->applied_jid;
    /* A deleted device's journaled readings are dropped at compaction;
     * until then they must not be visible either. */
    size_t scan = dev < s->ndev && s->dev[dev].exists ? s->npend : 0;
    for (size_t i = 0; i < scan; i++) {
        const struct reading *r = &s->pend[i];
        if (r->dev != dev || r->ts_ms < from || r->ts_ms >= to)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            struct reading *p = realloc(v, cap * sizeof *v);
            if (!p) {
                pthread_mutex_unlock(&s->mu);
                free(v);
                return CB_ERR_NOMEM;
            }
            v = p;
        }
        v[cnt++] = *r;
    }
    pthread_mutex_unlock(&s->mu);
    if (cnt > 1)
        qsort(v, cnt, sizeof *v, cmp_ts);
    *out = v;
    *n = cnt;
    return CB_OK;
}

cb_err sqlite_query_readings(struct store *st, uint32_t dev, int64_t from, int64_t to, bool desc,
                             size_t limit, struct reading **out, size_t *nout)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    struct reading *pend = NULL, *tab = NULL, *res = NULL;
    size_t np = 0, nt = 0, nr = 0;
    if (limit > STORE_MAX_QUERY)
        limit = STORE_MAX_QUERY;
    cb_err rc = pending_matches(s, dev, from, to, &pend, &np, NULL);
    if (rc != CB_OK)
        return rc;
    tab = malloc((limit ? limit : 1) * sizeof *tab);
    res = malloc((limit ? limit : 1) * sizeof *res);
    if (!tab || !res) {
        rc = CB_ERR_NOMEM;
        goto out;
    }
    struct readconn *c = sqlite_reader_get(s);
    sqlite3_stmt *q = desc ? c->range_desc : c->range_asc;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, dev);
    sqlite3_bind_int64(q, 2, from);
    sqlite3_bind_int64(q, 3, to);
    sqlite3_bind_int64(q, 4, (int64_t)limit);
    int r;
    while (nt < limit && (r = sqlite3_step(q)) == SQLITE_ROW)
        row_to_reading(q, dev, &tab[nt++]);
    if (nt < limit && r != SQLITE_DONE)
        rc = CB_ERR_IO;
    sqlite3_reset(q);
    sqlite_reader_put(s, c);
    if (rc != CB_OK)
        goto out;
    /* Merge the two sorted lists (table in query order, pending ascending). */
    size_t i = 0, j = 0;
    while (nr < limit && (i < nt || j < np)) {
        const struct reading *pj = NULL;
        if (j < np)
            pj = desc ? &pend[np - 1 - j] : &pend[j];
        if (i < nt && pj && tab[i].ts_ms == pj->ts_ms) {
            res[nr++] = tab[i++];
            j++;
        } else if (i < nt &&
                   (!pj || (desc ? tab[i].ts_ms > pj->ts_ms : tab[i].ts_ms < pj->ts_ms))) {
            res[nr++] = tab[i++];
        } else {
            res[nr++] = *pj;
            j++;
        }
    }
    *out = res;
    *nout = nr;
    res = NULL;
out:
    free(pend);
    free(tab);
    free(res);
    return rc;
}

cb_err sqlite_scan_readings(struct store *st, uint32_t dev, int64_t from, int64_t to,
                            store_scan_fn fn, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    struct reading *pend = NULL;
    size_t np = 0, j = 0;
    cb_err rc = pending_matches(s, dev, from, to, &pend, &np, NULL);
    if (rc != CB_OK)
        return rc;
    struct readconn *c = sqlite_reader_get(s);
    sqlite3_stmt *q = c->range_asc;
    sqlite3_reset(q);
    sqlite3_bind_int64(q, 1, dev);
    sqlite3_bind_int64(q, 2, from);
    sqlite3_bind_int64(q, 3, to);
    sqlite3_bind_int64(q, 4, INT64_MAX);
    int r;
    bool go = true;
    while (go && (r = sqlite3_step(q)) == SQLITE_ROW) {
        struct reading row;
        row_to_reading(q, dev, &row);
        while (go && j < np && pend[j].ts_ms < row.ts_ms)
            go = fn(arg, &pend[j++]);
        if (j < np && pend[j].ts_ms == row.ts_ms)
            j++;
        if (go)
            go = fn(arg, &row);
    }
    if (go && r != SQLITE_DONE)
        rc = CB_ERR_IO;
    sqlite3_reset(q);
    sqlite_reader_put(s, c);
    while (go && rc == CB_OK && j < np)
        go = fn(arg, &pend[j++]);
    free(pend);
    return rc;
}

cb_err sqlite_pending_range(struct sqlite_store *s, uint32_t dev, int64_t from, int64_t to,
                            struct reading **out, size_t *n, int64_t *applied)
{
    return pending_matches(s, dev, from, to, out, n, applied);
}

cb_err sqlite_device_live(struct store *st, uint32_t dev, struct device_live *out)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    cb_err rc = CB_ERR_NOT_FOUND;
    pthread_mutex_lock(&s->mu);
    if (dev < s->ndev && s->dev[dev].exists) {
        *out = s->dev[dev].live;
        rc = CB_OK;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}
