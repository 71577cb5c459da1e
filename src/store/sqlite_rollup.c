/* sqlite_rollup.c - per-minute rollups of readings in the SQLite store:
 * kept up to date by compaction (in its transaction), and read by the
 * series op for the whole minutes of a range, so a chart over a year reads
 * ~500k minute rows at most instead of every raw reading. */
#include "store/rollup.h"
#include "store/sqlite_int.h"

#include "core/log.h"

#include <stdlib.h>

#define MINUTE_MS 60000
/* Below this span the raw rows are as cheap as the rollups. */
#define ROLLUP_MIN_SPAN_MS (6LL * 3600 * 1000)
#define ROLLUP_TRIES 3

static int64_t minute_of(int64_t ts)
{
    return (ts / MINUTE_MS - (ts % MINUTE_MS < 0)) * MINUTE_MS;
}

/* ---- maintenance (compactor thread, inside its write transaction) ---- */

static const char upsert_sql[] =
    "INSERT INTO rollup_minute VALUES(?,?,?,?,?,?,?,?,?,?) ON CONFLICT(dev, m) DO UPDATE SET"
    " n = n + excluded.n, co_min = min(co_min, excluded.co_min),"
    " co_max = max(co_max, excluded.co_max), co_sum = co_sum + excluded.co_sum,"
    " temp_n = temp_n + excluded.temp_n, temp_sum = temp_sum + excluded.temp_sum,"
    " hum_n = hum_n + excluded.hum_n, hum_sum = hum_sum + excluded.hum_sum";

static const char recompute_sql[] =
    "INSERT OR REPLACE INTO rollup_minute SELECT ?1, ?2, count(*), min(co), max(co), total(co),"
    " count(temp), total(temp), count(hum), total(hum) FROM readings"
    " WHERE dev = ?1 AND ts >= ?2 AND ts < ?2 + 60000 HAVING count(*) > 0";

bool sqlite_rollup_apply(sqlite3 *db, const struct reading *const *rows, const uint8_t *fresh,
                         size_t n)
{
    sqlite3_stmt *up = NULL, *re = NULL;
    bool ok = false;
    if (sqlite3_prepare_v2(db, upsert_sql, -1, &up, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, recompute_sql, -1, &re, NULL) != SQLITE_OK)
        goto out;
    for (size_t i = 0; i < n;) {
        /* rows are sorted by (dev, ts): one run per device-minute. */
        uint32_t dev = rows[i]->dev;
        int64_t m = minute_of(rows[i]->ts_ms);
        struct store_bucket b = {.co_min = rows[i]->co_ppm, .co_max = rows[i]->co_ppm};
        bool exact = true;
        for (; i < n && rows[i]->dev == dev && minute_of(rows[i]->ts_ms) == m; i++) {
            const struct reading *r = rows[i];
            exact &= fresh[i] != 0;
            b.count++;
            b.co_sum += r->co_ppm;
            b.co_min = r->co_ppm < b.co_min ? r->co_ppm : b.co_min;
            b.co_max = r->co_ppm > b.co_max ? r->co_ppm : b.co_max;
            if (r->flags & READING_HAS_TEMP) {
                b.temp_n++;
                b.temp_sum += r->temp_c;
            }
            if (r->flags & READING_HAS_HUM) {
                b.hum_n++;
                b.hum_sum += r->hum_pct;
            }
        }
        sqlite3_stmt *q = exact ? up : re;
        sqlite3_reset(q);
        sqlite3_bind_int64(q, 1, dev);
        sqlite3_bind_int64(q, 2, m);
        if (exact) {
            sqlite3_bind_int64(q, 3, (int64_t)b.count);
            sqlite3_bind_double(q, 4, b.co_min);
            sqlite3_bind_double(q, 5, b.co_max);
            sqlite3_bind_double(q, 6, b.co_sum);
            sqlite3_bind_int64(q, 7, (int64_t)b.temp_n);
            sqlite3_bind_double(q, 8, b.temp_sum);
            sqlite3_bind_int64(q, 9, (int64_t)b.hum_n);
            sqlite3_bind_double(q, 10, b.hum_sum);
        }
        if (sqlite3_step(q) != SQLITE_DONE)
            goto out;
    }
    ok = true;
out:
    if (!ok)
        log_msg(LOG_ERROR, "rollup update failed: %s", sqlite3_errmsg(db));
    sqlite3_finalize(up);
    sqlite3_finalize(re);
    return ok;
}

/* ---- reading ---- */

struct minutes {
    struct store_bucket *v;
    size_t n, cap;
};

/* The stored minutes of dev in [m_lo, m_hi) and the journal position they
 * reflect, from one read snapshot. */
static cb_err read_minutes(struct sqlite_store *s, uint32_t dev, int64_t m_lo, int64_t m_hi,
                           struct minutes *out, int64_t *applied)
{
    struct readconn *c = sqlite_reader_get(s);
    sqlite3_stmt *meta = NULL, *q = NULL;
    cb_err rc = CB_ERR_IO;
    out->n = 0;
    if (!sqlite_exec(c->db, "BEGIN", "rollup read"))
        goto put;
    if (sqlite3_prepare_v2(c->db, "SELECT v FROM meta WHERE k='journal_applied'", -1, &meta,
                           NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(c->db,
                           "SELECT m, n, co_min, co_max, co_sum, temp_n, temp_sum, hum_n, hum_sum"
                           " FROM rollup_minute WHERE dev = ? AND m >= ? AND m < ? ORDER BY m",
                           -1, &q, NULL) != SQLITE_OK ||
        sqlite3_step(meta) != SQLITE_ROW)
        goto end;
    *applied = sqlite3_column_int64(meta, 0);
    sqlite3_bind_int64(q, 1, dev);
    sqlite3_bind_int64(q, 2, m_lo);
    sqlite3_bind_int64(q, 3, m_hi);
    int r;
    rc = CB_OK;
    while (rc == CB_OK && (r = sqlite3_step(q)) == SQLITE_ROW) {
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 1024;
            struct store_bucket *v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                rc = CB_ERR_NOMEM;
                break;
            }
            out->v = v;
            out->cap = cap;
        }
        out->v[out->n++] = (struct store_bucket){.start = sqlite3_column_int64(q, 0),
                                                 .count = (uint64_t)sqlite3_column_int64(q, 1),
                                                 .co_min = sqlite3_column_double(q, 2),
                                                 .co_max = sqlite3_column_double(q, 3),
                                                 .co_sum = sqlite3_column_double(q, 4),
                                                 .temp_n = (uint64_t)sqlite3_column_int64(q, 5),
                                                 .temp_sum = sqlite3_column_double(q, 6),
                                                 .hum_n = (uint64_t)sqlite3_column_int64(q, 7),
                                                 .hum_sum = sqlite3_column_double(q, 8)};
    }
    if (rc == CB_OK && r != SQLITE_DONE)
        rc = CB_ERR_IO;
end:
    sqlite3_finalize(meta);
    sqlite3_finalize(q);
    sqlite_exec(c->db, "COMMIT", "rollup read");
put:
    sqlite_reader_put(s, c);
    return rc;
}

/* Raw rows of [from, to) into the rollup (pending ones included). */
static cb_err raw(struct store *st, uint32_t dev, int64_t from, int64_t to, struct rollup *r)
{
    return from < to ? sqlite_scan_readings(st, dev, from, to, rollup_add, r) : CB_OK;
}

cb_err sqlite_series(struct store *st, uint32_t dev, int64_t from, int64_t to, int64_t step_ms,
                     store_bucket_fn fn, void *arg)
{
    struct sqlite_store *s = (struct sqlite_store *)st;
    if (step_ms <= 0)
        return CB_ERR_BAD_REQUEST;
    struct rollup r;
    rollup_init(&r, step_ms, fn, arg);
    int64_t m_lo = minute_of(from) + (minute_of(from) < from ? MINUTE_MS : 0);
    int64_t m_hi = minute_of(to);
    bool minutes = step_ms % MINUTE_MS == 0 && to - from >= ROLLUP_MIN_SPAN_MS && m_lo < m_hi;
    if (!minutes) {
        cb_err rc = raw(st, dev, from, to, &r);
        if (rc == CB_OK)
            rollup_finish(&r);
        return rc;
    }
    /* The stored minutes plus the readings not yet compacted, taken at the
     * same journal position (else a compaction ran in between: again). */
    struct minutes mins = {0};
    struct reading *pend = NULL;
    size_t np = 0;
    cb_err rc = CB_OK;
    bool consistent = false;
    for (int t = 0; t < ROLLUP_TRIES && rc == CB_OK && !consistent; t++) {
        int64_t snap = -1, now = -2;
        free(pend);
        pend = NULL;
        rc = read_minutes(s, dev, m_lo, m_hi, &mins, &snap);
        if (rc == CB_OK)
            rc = sqlite_pending_range(s, dev, m_lo, m_hi, &pend, &np, &now);
        consistent = snap == now;
    }
    if (rc == CB_OK && !consistent) {
        rc = raw(st, dev, from, to, &r); /* compactions kept interleaving: raw rows */
        goto out;
    }
    if (rc == CB_OK)
        rc = raw(st, dev, from, m_lo, &r);
    if (rc != CB_OK)
        goto out;
    /* Merge minutes and pending readings in time order. */
    size_t i = 0, j = 0;
    while (!r.stopped && (i < mins.n || j < np)) {
        if (j == np || (i < mins.n && mins.v[i].start <= pend[j].ts_ms))
            rollup_add_part(&r, &mins.v[i++]);
        else
            rollup_add(&r, &pend[j++]);
    }
    if (!r.stopped)
        rc = raw(st, dev, m_hi, to, &r);
out:
    if (rc == CB_OK)
        rollup_finish(&r);
    free(mins.v);
    free(pend);
    return rc;
}
