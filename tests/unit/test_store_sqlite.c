/* test_store_sqlite.c - the embedded SQLite store (src/store/) through its
 * ops table, in a fresh mkdtemp directory per test: devices, gateways, group-
 * commit ingest with duplicate detection, queries and scans across pending and
 * compacted readings, compaction, close/reopen and crash recovery. */
#include "auth/registry.h" /* device_copy, gateway_copy */
#include "core/log.h"
#include "core/secret.h"
#include "core/timeutil.h"
#include "store/rollup.h"
#include "store/sqlite_int.h" /* sqlite_rollup_apply */
#include "store/store.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"

#define T0 1700000000000LL  /* a base time for readings, epoch ms */
#define NOW 1790000000000LL /* "receipt time" handed to put_readings */

/* ---- fixture ---- */

struct fx {
    char dir[64];
    struct store *st;
};

static int setup(void **state)
{
    log_set_level(LOG_WARN);
    struct fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/carbon-store-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    f->st = store_sqlite_open(f->dir);
    if (!f->st) {
        test_rm_tree(f->dir);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->st)
        f->st->ops->close(f->st);
    int rc = test_rm_tree(f->dir);
    free(f);
    return rc;
}

static void reopen(struct fx *f)
{
    f->st->ops->close(f->st);
    f->st = store_sqlite_open(f->dir);
    assert_non_null(f->st);
}

/* ---- helpers ---- */

struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool done;
    int calls;
    cb_err err;
};

static void on_done(void *arg, cb_err err)
{
    struct waiter *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->calls++;
    w->err = err;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* put_readings, then waits (at most 30 s) for its done callback. */
static cb_err put(struct store *st, const struct reading *r, size_t n, uint8_t *dup, int64_t now_ms)
{
    struct waiter w = {.err = CB_ERR_INTERNAL};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    cb_err rc = st->ops->put_readings(st, r, n, dup, now_ms, on_done, &w);
    if (rc == CB_OK) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 30;
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            if (pthread_cond_timedwait(&w.cv, &w.mu, &until) != 0)
                break;
        bool done = w.done;
        int calls = w.calls;
        rc = w.err;
        pthread_mutex_unlock(&w.mu);
        if (!done)
            fail_msg("put_readings: done was not called within 30 s");
        assert_int_equal(calls, 1);
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

/* put that must succeed; returns how many were reported duplicate. */
static size_t put_ok(struct store *st, const struct reading *r, size_t n, uint8_t *dup)
{
    uint8_t local[64];
    uint8_t *d = dup ? dup : n <= sizeof local ? local : malloc(n);
    assert_non_null(d);
    memset(d, 0xAA, n);
    assert_int_equal(put(st, r, n, d, NOW), CB_OK);
    size_t ndup = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i] > 1)
            fail_msg("dup[%zu] = %u, want 0 or 1", i, d[i]);
        ndup += d[i];
    }
    if (d != dup && d != local)
        free(d);
    return ndup;
}

static struct reading rd(uint32_t dev, int64_t ts, double co)
{
    return (struct reading){.dev = dev, .ts_ms = ts, .co_ppm = co};
}

static uint32_t new_device(struct store *st, const char *id)
{
    struct device d = {.offline_after_s = 600, .created_ms = T0};
    snprintf(d.id, sizeof d.id, "%s", id);
    secret_hash(id, strlen(id), d.key_hash);
    assert_int_equal(st->ops->device_create(st, &d), CB_OK);
    assert_true(d.seq > 0);
    return d.seq;
}

struct found_dev {
    uint32_t seq;
    const char *id;
    struct device d;
    bool found;
};

static void find_dev_fn(void *arg, const struct device *d)
{
    struct found_dev *c = arg;
    if ((c->seq && d->seq == c->seq) || (c->id && strcmp(d->id, c->id) == 0)) {
        assert_false(c->found);
        assert_true(device_copy(&c->d, d));
        c->found = true;
    }
}

static struct device find_device(struct store *st, uint32_t seq)
{
    struct found_dev c = {.seq = seq};
    assert_int_equal(st->ops->devices_load(st, find_dev_fn, &c), CB_OK);
    if (!c.found)
        fail_msg("device seq %u not found", seq);
    return c.d;
}

/* All readings of dev, ascending, via query_readings. Caller frees. */
static struct reading *all(struct store *st, uint32_t dev, size_t *n)
{
    struct reading *out = NULL;
    assert_int_equal(st->ops->query_readings(st, dev, INT64_MIN, INT64_MAX, false, 100000, &out, n),
                     CB_OK);
    return out;
}

static size_t count(struct store *st, uint32_t dev)
{
    size_t n = 0;
    free(all(st, dev, &n));
    return n;
}

static void assert_same_reading(const struct reading *a, const struct reading *b)
{
    if (a->dev != b->dev || a->ts_ms != b->ts_ms || a->co_ppm != b->co_ppm ||
        a->flags != b->flags || ((a->flags & READING_HAS_TEMP) && a->temp_c != b->temp_c) ||
        ((a->flags & READING_HAS_HUM) && a->hum_pct != b->hum_pct))
        fail_msg("reading dev %u ts %lld co %g flags %u differs from dev %u ts %lld co %g "
                 "flags %u",
                 a->dev, (long long)a->ts_ms, a->co_ppm, a->flags, b->dev, (long long)b->ts_ms,
                 b->co_ppm, b->flags);
}

/* Strictly ascending (or descending) timestamps, all of dev. */
static void assert_sorted(const struct reading *r, size_t n, uint32_t dev, bool desc)
{
    for (size_t i = 0; i < n; i++) {
        if (r[i].dev != dev)
            fail_msg("reading %zu belongs to device %u, want %u", i, r[i].dev, dev);
        if (i && (desc ? r[i].ts_ms >= r[i - 1].ts_ms : r[i].ts_ms <= r[i - 1].ts_ms))
            fail_msg("readings %zu and %zu out of order or repeated: %lld, %lld", i - 1, i,
                     (long long)r[i - 1].ts_ms, (long long)r[i].ts_ms);
    }
}

/* count(*) of sql (one ? for the device) on carbon.db, read directly; -1 on error. */
static int db_count(const char *dir, const char *sql, uint32_t dev)
{
    char path[128];
    snprintf(path, sizeof path, "%s/carbon.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int n = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(q, 1, dev);
            if (sqlite3_step(q) == SQLITE_ROW)
                n = sqlite3_column_int(q, 0);
        }
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

/* Rows of dev in carbon.db's readings table, read directly (compaction done?). */
static int table_count(const char *dir, uint32_t dev)
{
    return db_count(dir, "SELECT count(*) FROM readings WHERE dev=?", dev);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Waits until carbon.db holds want readings of dev (compaction ran). */
static void wait_compacted(const char *dir, uint32_t dev, int want)
{
    int got = -1;
    for (int i = 0; i < 300; i++) {
        got = table_count(dir, dev);
        if (got == want)
            return;
        sleep_ms(50);
    }
    fail_msg("after 15 s carbon.db holds %d readings of device %u, want %d", got, dev, want);
}

struct collect {
    struct reading *r;
    size_t n, cap;
};

static bool collect_fn(void *arg, const struct reading *r)
{
    struct collect *c = arg;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->r = realloc(c->r, c->cap * sizeof *c->r);
        assert_non_null(c->r);
    }
    c->r[c->n++] = *r;
    return true;
}

struct stop_after {
    size_t limit, calls;
    int64_t last_ts;
};

static bool stop_fn(void *arg, const struct reading *r)
{
    struct stop_after *s = arg;
    s->calls++;
    s->last_ts = r->ts_ms;
    return s->calls < s->limit;
}

/* scan_readings into an array. Caller frees c.r. */
static struct collect scan(struct store *st, uint32_t dev, int64_t from, int64_t to)
{
    struct collect c = {0};
    assert_int_equal(st->ops->scan_readings(st, dev, from, to, collect_fn, &c), CB_OK);
    return c;
}

static void expect_query(struct store *st, uint32_t dev, int64_t from, int64_t to, bool desc,
                         size_t limit, const int64_t *want_ts, size_t want_n)
{
    struct reading *out = NULL;
    size_t n = 12345;
    assert_int_equal(st->ops->query_readings(st, dev, from, to, desc, limit, &out, &n), CB_OK);
    if (n != want_n)
        fail_msg("query dev %u [%lld,%lld) %s limit %zu: %zu readings, want %zu", dev,
                 (long long)from, (long long)to, desc ? "desc" : "asc", limit, n, want_n);
    for (size_t i = 0; i < n; i++)
        if (out[i].ts_ms != want_ts[i] || out[i].dev != dev)
            fail_msg("query dev %u %s limit %zu: [%zu] is dev %u ts %lld, want ts %lld", dev,
                     desc ? "desc" : "asc", limit, i, out[i].dev, (long long)out[i].ts_ms,
                     (long long)want_ts[i]);
    free(out);
}

/* ---- lifecycle ---- */

static void test_open_and_ready(void **state)
{
    struct fx *f = *state;
    assert_string_equal(f->st->ops->name, "sqlite");
    assert_int_equal(f->st->ops->ready(f->st), CB_OK);
    /* nested directories are created */
    char nested[128];
    snprintf(nested, sizeof nested, "%s/a/b/c", f->dir);
    struct store *s2 = store_sqlite_open(nested);
    assert_non_null(s2);
    assert_int_equal(s2->ops->ready(s2), CB_OK);
    s2->ops->close(s2);
    /* a regular file where the directory should be: NULL, no crash */
    char file[128];
    snprintf(file, sizeof file, "%s/plainfile", f->dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    log_set_level(LOG_OFF); /* the expected failures log errors */
    /* one store per directory: a second open is refused while the first is open */
    assert_null(store_sqlite_open(f->dir));
    assert_null(store_sqlite_open(file));
    char under[160];
    snprintf(under, sizeof under, "%s/plainfile/sub", f->dir);
    assert_null(store_sqlite_open(under));
    log_set_level(LOG_WARN);
    /* and allowed again once it is closed */
    reopen(f);
    assert_int_equal(f->st->ops->ready(f->st), CB_OK);
}

/* ---- devices ---- */

struct dev_list {
    struct device d[16];
    size_t n;
};

static void list_dev_fn(void *arg, const struct device *d)
{
    struct dev_list *l = arg;
    assert_true(l->n < 16);
    assert_true(device_copy(&l->d[l->n++], d));
}

static struct dev_list load_devices(struct store *st)
{
    struct dev_list l;
    memset(&l, 0, sizeof l);
    assert_int_equal(st->ops->devices_load(st, list_dev_fn, &l), CB_OK);
    return l;
}

static void free_devices(struct dev_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        device_clear(&l->d[i]);
    l->n = 0;
}

static void assert_str_or_null(const char *got, const char *want, const char *what)
{
    if (!want && got)
        fail_msg("%s is \"%s\", want NULL", what, got);
    if (want && (!got || strcmp(got, want) != 0))
        fail_msg("%s is \"%s\", want \"%s\"", what, got ? got : "(null)", want);
}

static void test_device_crud(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    struct device k = {.offline_after_s = 900, .created_ms = T0 + 5};
    snprintf(k.id, sizeof k.id, "kitchen");
    k.name = "Kitchen";
    k.location = "Ground floor";
    k.thresholds = "{\"warn_ppm\":30,\"alarm_ppm\":50}";
    secret_hash("key-kitchen", 11, k.key_hash);
    assert_int_equal(st->ops->device_create(st, &k), CB_OK);
    assert_true(k.seq > 0);
    uint32_t attic = new_device(st, "attic");
    assert_true(attic != k.seq);

    /* same id, or same key hash: conflict, nothing written */
    struct device dup = {.created_ms = T0};
    snprintf(dup.id, sizeof dup.id, "kitchen");
    secret_hash("another-key", 11, dup.key_hash);
    assert_int_equal(st->ops->device_create(st, &dup), CB_ERR_CONFLICT);
    snprintf(dup.id, sizeof dup.id, "cellar");
    memcpy(dup.key_hash, k.key_hash, sizeof dup.key_hash);
    assert_int_equal(st->ops->device_create(st, &dup), CB_ERR_CONFLICT);

    struct dev_list l = load_devices(st);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.d[0].id, "attic"); /* ordered by id */
    assert_string_equal(l.d[1].id, "kitchen");
    const struct device *got = &l.d[1];
    assert_int_equal(got->seq, k.seq);
    assert_str_or_null(got->name, "Kitchen", "name");
    assert_str_or_null(got->location, "Ground floor", "location");
    assert_str_or_null(got->owner, NULL, "owner");
    assert_str_or_null(got->thresholds, k.thresholds, "thresholds");
    assert_str_or_null(got->calibration, NULL, "calibration");
    assert_int_equal(got->offline_after_s, 900);
    assert_int_equal(got->created_ms, T0 + 5);
    assert_string_equal(got->key_hash, k.key_hash);
    free_devices(&l);

    /* update: every mutable field, including clearing one and the key */
    struct device u = k;
    u.name = "Kitchen 2";
    u.owner = "alice";
    u.thresholds = NULL;
    u.calibration = "{\"r0\":10.5}";
    u.offline_after_s = 1200;
    u.created_ms = 1; /* not a mutable field */
    secret_hash("rotated", 7, u.key_hash);
    assert_int_equal(st->ops->device_update(st, &u), CB_OK);
    l = load_devices(st);
    got = &l.d[1];
    assert_str_or_null(got->name, "Kitchen 2", "name");
    assert_str_or_null(got->location, "Ground floor", "location");
    assert_str_or_null(got->owner, "alice", "owner");
    assert_str_or_null(got->thresholds, NULL, "thresholds");
    assert_str_or_null(got->calibration, "{\"r0\":10.5}", "calibration");
    assert_int_equal(got->offline_after_s, 1200);
    assert_int_equal(got->created_ms, T0 + 5);
    assert_string_equal(got->key_hash, u.key_hash);
    free_devices(&l);

    /* update of a device that does not exist */
    struct device ghost = u;
    ghost.seq = 9999;
    secret_hash("ghost", 5, ghost.key_hash);
    assert_int_equal(st->ops->device_update(st, &ghost), CB_ERR_NOT_FOUND);

    /* delete */
    struct device a = find_device(st, attic);
    assert_int_equal(st->ops->device_delete(st, &a), CB_OK);
    device_clear(&a);
    l = load_devices(st);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.d[0].id, "kitchen");
    free_devices(&l);
    /* the id is free again; the sequence number is never reused */
    uint32_t attic2 = new_device(st, "attic");
    assert_true(attic2 > attic && attic2 > k.seq);
}

/* ---- gateways ---- */

struct gw_list {
    struct gateway g[8];
    size_t n;
};

static void list_gw_fn(void *arg, const struct gateway *g)
{
    struct gw_list *l = arg;
    assert_true(l->n < 8);
    assert_true(gateway_copy(&l->g[l->n++], g));
}

static struct gw_list load_gateways(struct store *st)
{
    struct gw_list l;
    memset(&l, 0, sizeof l);
    assert_int_equal(st->ops->gateways_load(st, list_gw_fn, &l), CB_OK);
    return l;
}

static void free_gateways(struct gw_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        gateway_clear(&l->g[i]);
    l->n = 0;
}

static const struct gateway *gw_find(const struct gw_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->g[i].id, id) == 0)
            return &l->g[i];
    return NULL;
}

static void test_gateways(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    char devs[4][65] = {"d3", "d1", "d2", "d1"}; /* unsorted, one repeated */
    struct gateway g = {.name = "Hub", .created_ms = T0, .devices = devs, .ndevices = 4};
    snprintf(g.id, sizeof g.id, "hub-1");
    secret_hash("gw-key-1", 8, g.key_hash);
    assert_int_equal(st->ops->gateway_create(st, &g), CB_OK);

    struct gateway empty = {.created_ms = T0 + 1};
    snprintf(empty.id, sizeof empty.id, "hub-0");
    secret_hash("gw-key-0", 8, empty.key_hash);
    assert_int_equal(st->ops->gateway_create(st, &empty), CB_OK);

    /* conflicts roll back completely */
    assert_int_equal(st->ops->gateway_create(st, &g), CB_ERR_CONFLICT);
    struct gateway g2 = g;
    snprintf(g2.id, sizeof g2.id, "hub-2");
    assert_int_equal(st->ops->gateway_create(st, &g2), CB_ERR_CONFLICT); /* same key hash */

    struct gw_list l = load_gateways(st);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.g[0].id, "hub-0"); /* ordered by id */
    assert_null(gw_find(&l, "hub-2"));
    const struct gateway *h = gw_find(&l, "hub-1");
    assert_non_null(h);
    assert_str_or_null(h->name, "Hub", "gateway name");
    assert_string_equal(h->key_hash, g.key_hash);
    assert_int_equal(h->created_ms, T0);
    assert_int_equal(h->ndevices, 3); /* sorted, without the repeat */
    assert_string_equal(h->devices[0], "d1");
    assert_string_equal(h->devices[1], "d2");
    assert_string_equal(h->devices[2], "d3");
    const struct gateway *z = gw_find(&l, "hub-0");
    assert_int_equal(z->ndevices, 0);
    assert_null(z->name);
    free_gateways(&l);

    /* update replaces the name and the whole device list */
    char devs2[1][65] = {"d9"};
    struct gateway u = g;
    u.name = NULL;
    u.devices = devs2;
    u.ndevices = 1;
    assert_int_equal(st->ops->gateway_update(st, &u), CB_OK);
    l = load_gateways(st);
    h = gw_find(&l, "hub-1");
    assert_null(h->name);
    assert_int_equal(h->ndevices, 1);
    assert_string_equal(h->devices[0], "d9");
    free_gateways(&l);

    /* update or delete of a missing gateway */
    struct gateway ghost = u;
    snprintf(ghost.id, sizeof ghost.id, "nope");
    assert_int_equal(st->ops->gateway_update(st, &ghost), CB_ERR_NOT_FOUND);
    assert_int_equal(st->ops->gateway_delete(st, "nope"), CB_ERR_NOT_FOUND);
    l = load_gateways(st);
    assert_int_equal(l.n, 2);
    free_gateways(&l);

    /* delete, then the id starts afresh (no stale device list) */
    assert_int_equal(st->ops->gateway_delete(st, "hub-1"), CB_OK);
    assert_int_equal(st->ops->gateway_delete(st, "hub-1"), CB_ERR_NOT_FOUND);
    struct gateway again = {.created_ms = T0 + 2};
    snprintf(again.id, sizeof again.id, "hub-1");
    secret_hash("gw-key-new", 10, again.key_hash);
    assert_int_equal(st->ops->gateway_create(st, &again), CB_OK);
    l = load_gateways(st);
    h = gw_find(&l, "hub-1");
    assert_non_null(h);
    assert_int_equal(h->ndevices, 0);
    free_gateways(&l);
}

/* Deleting a device also takes it out of every gateway's list. */
static void test_device_delete_leaves_gateways(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    uint32_t a = new_device(st, "a");
    new_device(st, "b");
    char l1[3][65] = {"a", "b", "c"}, l2[1][65] = {"a"};
    struct gateway g1 = {.created_ms = T0, .devices = l1, .ndevices = 3};
    struct gateway g2 = {.created_ms = T0, .devices = l2, .ndevices = 1};
    snprintf(g1.id, sizeof g1.id, "g1");
    snprintf(g2.id, sizeof g2.id, "g2");
    secret_hash("g1", 2, g1.key_hash);
    secret_hash("g2", 2, g2.key_hash);
    assert_int_equal(st->ops->gateway_create(st, &g1), CB_OK);
    assert_int_equal(st->ops->gateway_create(st, &g2), CB_OK);
    struct device d = find_device(st, a);
    assert_int_equal(st->ops->device_delete(st, &d), CB_OK);
    device_clear(&d);
    for (int round = 0; round < 2; round++) {
        struct gw_list l = load_gateways(st);
        assert_int_equal(l.n, 2);
        const struct gateway *h1 = gw_find(&l, "g1"), *h2 = gw_find(&l, "g2");
        assert_int_equal(h1->ndevices, 2);
        assert_string_equal(h1->devices[0], "b");
        assert_string_equal(h1->devices[1], "c");
        assert_int_equal(h2->ndevices, 0);
        free_gateways(&l);
        /* a new device with the old id is not in any list */
        if (round == 0) {
            new_device(st, "a");
            reopen(f);
            st = f->st;
        }
    }
}

/* ---- readings ---- */

static void test_put_and_query(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    uint32_t a = new_device(st, "a"), b = new_device(st, "b");
    struct reading r[7] = {
        rd(a, T0 + 5000, 5.5), rd(a, T0 + 1000, 1.5), rd(b, T0 + 1000, 100), rd(a, T0 + 3000, 3.5),
        rd(a, T0 + 2000, 2.5), rd(b, T0 + 3000, 300), rd(a, T0 + 4000, 4.5),
    };
    r[1].flags = READING_HAS_TEMP;
    r[1].temp_c = -12.25;
    r[3].flags = READING_HAS_HUM;
    r[3].hum_pct = 55.5;
    r[6].flags = READING_HAS_TEMP | READING_HAS_HUM;
    r[6].temp_c = 21.0;
    r[6].hum_pct = 40.0;
    uint8_t dup[7];
    assert_int_equal(put_ok(st, r, 7, dup), 0);

    size_t n;
    struct reading *got = all(st, a, &n);
    assert_int_equal(n, 5);
    assert_sorted(got, n, a, false);
    const struct reading *want[5] = {&r[1], &r[4], &r[3], &r[6], &r[0]};
    for (size_t i = 0; i < 5; i++)
        assert_same_reading(&got[i], want[i]);
    free(got);

    int64_t asc[] = {T0 + 1000, T0 + 2000, T0 + 3000, T0 + 4000, T0 + 5000};
    int64_t desc[] = {T0 + 5000, T0 + 4000, T0 + 3000, T0 + 2000, T0 + 1000};
    expect_query(st, a, INT64_MIN, INT64_MAX, false, 100, asc, 5);
    expect_query(st, a, INT64_MIN, INT64_MAX, true, 100, desc, 5);
    expect_query(st, a, INT64_MIN, INT64_MAX, false, 2, asc, 2);
    expect_query(st, a, INT64_MIN, INT64_MAX, true, 2, desc, 2);
    expect_query(st, a, INT64_MIN, INT64_MAX, false, 5, asc, 5);
    expect_query(st, a, INT64_MIN, INT64_MAX, false, 1, asc, 1);
    /* [from, to): from included, to excluded */
    expect_query(st, a, T0 + 2000, T0 + 4000, false, 100, asc + 1, 2);
    expect_query(st, a, T0 + 2000, T0 + 4000, true, 100, desc + 2, 2);
    expect_query(st, a, T0 + 2001, T0 + 4001, false, 100, asc + 2, 2);
    expect_query(st, a, T0 + 1999, T0 + 2000, false, 100, NULL, 0);
    expect_query(st, a, T0 + 2000, T0 + 2000, false, 100, NULL, 0);
    expect_query(st, a, T0 + 4000, T0 + 2000, false, 100, NULL, 0);
    expect_query(st, a, T0 + 5000, INT64_MAX, false, 100, asc + 4, 1);
    expect_query(st, a, INT64_MIN, T0 + 1001, true, 100, desc + 4, 1);
    expect_query(st, a, INT64_MIN, INT64_MAX, false, 0, NULL, 0); /* limit 0 */
    /* other devices are separate; unknown devices are empty */
    int64_t bts[] = {T0 + 1000, T0 + 3000};
    expect_query(st, b, INT64_MIN, INT64_MAX, false, 100, bts, 2);
    expect_query(st, 4242, INT64_MIN, INT64_MAX, false, 100, NULL, 0);

    /* scan: ascending, [from, to) */
    struct collect c = scan(st, a, INT64_MIN, INT64_MAX);
    assert_int_equal(c.n, 5);
    assert_sorted(c.r, c.n, a, false);
    for (size_t i = 0; i < 5; i++)
        assert_same_reading(&c.r[i], want[i]);
    free(c.r);
    c = scan(st, a, T0 + 2000, T0 + 4000);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.r[0].ts_ms, T0 + 2000);
    assert_int_equal(c.r[1].ts_ms, T0 + 3000);
    free(c.r);
    c = scan(st, 4242, INT64_MIN, INT64_MAX);
    assert_int_equal(c.n, 0);
    free(c.r);
}

static void test_put_empty_batch(void **state)
{
    struct fx *f = *state;
    uint8_t dup[1];
    assert_int_equal(put(f->st, NULL, 0, dup, NOW), CB_OK);
}

static void test_duplicates_within_call(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    uint32_t a = new_device(st, "a"), b = new_device(st, "b");
    struct reading r[] = {rd(a, T0, 1),     rd(a, T0, 2), rd(a, T0 + 1, 3), rd(b, T0, 4),
                          rd(a, T0 + 1, 5), rd(a, T0, 6), rd(a, T0 - 1, 7), rd(a, T0 - 1, 8)};
    const uint8_t want[] = {0, 1, 0, 0, 1, 1, 0, 1};
    uint8_t dup[8];
    assert_int_equal(put_ok(st, r, 8, dup), 4);
    assert_memory_equal(dup, want, sizeof want);
    size_t n;
    struct reading *got = all(st, a, &n);
    assert_int_equal(n, 3);
    assert_same_reading(&got[0], &r[6]); /* the first of each pair is kept */
    assert_same_reading(&got[1], &r[0]);
    assert_same_reading(&got[2], &r[2]);
    free(got);
    assert_int_equal(count(st, b), 1);
}

static void test_duplicates_across_calls(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    uint32_t a = new_device(st, "a");
    enum { N = 100 };
    struct reading r[N], again[N], mixed[N];
    uint8_t dup[N];
    for (int i = 0; i < N; i++) {
        r[i] = rd(a, T0 + i * 1000, i);
        again[i] = rd(a, T0 + i * 1000, 1000 + i); /* same identity, other values */
        mixed[i] = i % 2 ? rd(a, T0 + (N + i) * 1000, 2000 + i) : again[i];
    }
    assert_int_equal(put_ok(st, r, N, dup), 0);
    assert_int_equal(put_ok(st, again, N, dup), N);
    assert_int_equal(put_ok(st, mixed, N, dup), N / 2);
    for (int i = 0; i < N; i++)
        if (dup[i] != (i % 2 ? 0 : 1))
            fail_msg("mixed batch: dup[%d] = %u", i, dup[i]);
    size_t n;
    struct reading *got = all(st, a, &n);
    assert_int_equal(n, N + N / 2);
    assert_sorted(got, n, a, false);
    for (int i = 0; i < N; i++)
        assert_same_reading(&got[i], &r[i]); /* values of the first write stay */
    free(got);
    /* older than everything stored is new, not a duplicate */
    struct reading old = rd(a, T0 - 5000, 9);
    assert_int_equal(put_ok(st, &old, 1, dup), 0);
    assert_int_equal(put_ok(st, &old, 1, dup), 1);

    /* after compaction, duplicates are found in the main table */
    wait_compacted(f->dir, a, N + N / 2 + 1);
    assert_int_equal(put_ok(st, again, N, dup), N);
    assert_int_equal(put_ok(st, mixed, N, dup), N);
    assert_int_equal(put_ok(st, &old, 1, dup), 1);
    assert_int_equal(count(st, a), N + N / 2 + 1);
}

/* Readings split between the main table and memory are merged correctly. */
static void test_query_across_pending_and_table(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    uint32_t a = new_device(st, "a"), b = new_device(st, "b");
    enum { N = 100 };
    struct reading even[N], odd[N], other[N];
    for (int i = 0; i < N; i++) {
        even[i] = rd(a, T0 + (2 * i) * 1000, 2 * i);
        odd[i] = rd(a, T0 + (2 * i + 1) * 1000, 2 * i + 1);
        other[i] = rd(b, T0 + (2 * i + 1) * 1000, -1);
    }
    assert_int_equal(put_ok(st, even, N, NULL), 0);
    wait_compacted(f->dir, a, N);
    assert_int_equal(put_ok(st, odd, N, NULL), 0); /* pending for about a second */
    assert_int_equal(put_ok(st, other, N, NULL), 0);
    int64_t asc[2 * N], desc[2 * N];
    for (int i = 0; i < 2 * N; i++) {
        asc[i] = T0 + i * 1000;
        desc[i] = T0 + (2 * N - 1 - i) * 1000;
    }
    for (int round = 0; round < 2; round++) {
        expect_query(st, a, INT64_MIN, INT64_MAX, false, 1000, asc, 2 * N);
        expect_query(st, a, INT64_MIN, INT64_MAX, true, 1000, desc, 2 * N);
        expect_query(st, a, INT64_MIN, INT64_MAX, false, 7, asc, 7);
        expect_query(st, a, INT64_MIN, INT64_MAX, true, 7, desc, 7);
        expect_query(st, a, T0 + 50000, T0 + 60000, false, 1000, asc + 50, 10);
        expect_query(st, a, T0 + 50000, T0 + 60000, true, 1000, desc + 2 * N - 60, 10);
        expect_query(st, a, T0 + 50000, T0 + 60000, true, 3, desc + 2 * N - 60, 3);
        struct collect c = scan(st, a, INT64_MIN, INT64_MAX);
        assert_int_equal(c.n, 2 * N);
        assert_sorted(c.r, c.n, a, false);
        for (int i = 0; i < N; i++) {
            assert_same_reading(&c.r[2 * i], &even[i]);
            assert_same_reading(&c.r[2 * i + 1], &odd[i]);
        }
        free(c.r);
        c = scan(st, a, T0 + 50000, T0 + 60000);
        assert_int_equal(c.n, 10);
        assert_sorted(c.r, c.n, a, false);
        assert_int_equal(c.r[0].ts_ms, T0 + 50000);
        free(c.r);
        /* the callback stops a scan by returning false, wherever it is */
        static const size_t stops[] = {1, 2, 3, 57, 199, 200};
        for (size_t k = 0; k < sizeof stops / sizeof *stops; k++) {
            struct stop_after sa = {.limit = stops[k]};
            assert_int_equal(st->ops->scan_readings(st, a, INT64_MIN, INT64_MAX, stop_fn, &sa),
                             CB_OK);
            assert_int_equal(sa.calls, stops[k]);
            assert_int_equal(sa.last_ts, T0 + (int64_t)(stops[k] - 1) * 1000);
        }
        assert_int_equal(count(st, b), N);
        /* second round: everything compacted */
        wait_compacted(f->dir, a, 2 * N);
    }
}

static void test_device_live(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    uint32_t a = new_device(st, "a");
    struct device_live live;
    memset(&live, 0xff, sizeof live);
    assert_int_equal(st->ops->device_live(st, a, &live), CB_OK);
    assert_false(live.has_last);
    assert_int_equal(live.last_seen_ms, 0);

    struct reading r = rd(a, T0 + 5000, 5);
    uint8_t dup[1];
    assert_int_equal(put(st, &r, 1, dup, NOW), CB_OK);
    assert_int_equal(st->ops->device_live(st, a, &live), CB_OK);
    assert_true(live.has_last);
    assert_int_equal(live.last_seen_ms, NOW);
    assert_same_reading(&live.last, &r);

    /* an older reading updates last_seen but not the latest reading */
    struct reading older = rd(a, T0 + 1000, 1);
    assert_int_equal(put(st, &older, 1, dup, NOW + 10), CB_OK);
    assert_int_equal(st->ops->device_live(st, a, &live), CB_OK);
    assert_int_equal(live.last_seen_ms, NOW + 10);
    assert_same_reading(&live.last, &r);

    struct reading newer = rd(a, T0 + 9000, 9);
    newer.flags = READING_HAS_TEMP;
    newer.temp_c = 19.5;
    assert_int_equal(put(st, &newer, 1, dup, NOW + 20), CB_OK);
    assert_int_equal(st->ops->device_live(st, a, &live), CB_OK);
    assert_int_equal(live.last_seen_ms, NOW + 20);
    assert_same_reading(&live.last, &newer);

    /* a duplicate is not stored, so it is not "seen" */
    assert_int_equal(put(st, &newer, 1, dup, NOW + 30), CB_OK);
    assert_int_equal(dup[0], 1);
    assert_int_equal(st->ops->device_live(st, a, &live), CB_OK);
    assert_int_equal(live.last_seen_ms, NOW + 20);

    /* unknown devices */
    assert_int_equal(st->ops->device_live(st, 4242, &live), CB_ERR_NOT_FOUND);
    assert_int_equal(st->ops->device_live(st, 0, &live), CB_ERR_NOT_FOUND);
    struct device d = find_device(st, a);
    assert_int_equal(st->ops->device_delete(st, &d), CB_OK);
    device_clear(&d);
    assert_int_equal(st->ops->device_live(st, a, &live), CB_ERR_NOT_FOUND);
}

/* Over COMPACT_MIN_RECORDS (32768) pending readings start a compaction at
 * once; every query meanwhile sees each reading exactly once. */
static void test_compaction_many(void **state)
{
    struct fx *f = *state;
    reopen(f); /* the compactor's age clock starts now */
    int64_t t_open = time_mono_ns();
    struct store *st = f->st;
    uint32_t a = new_device(st, "a");
    enum { N = 40000, BATCH = 1000 };
    struct reading *r = malloc(N * sizeof *r);
    uint8_t *dup = malloc(N);
    assert_non_null(r);
    assert_non_null(dup);
    for (int i = 0; i < N; i++) {
        int k = (int)(((int64_t)i * 7919) % N); /* a permutation: not in ts order */
        r[i] = rd(a, T0 + (int64_t)k * 1000, k % 500);
    }
    for (int i = 0; i < N; i += BATCH)
        assert_int_equal(put_ok(st, r + i, BATCH, dup + i), 0);
    /* The threshold, not the 1 s age rule, starts this compaction: rows
     * reach carbon.db before 1 s has passed since the store opened. Only
     * checked when the writes themselves were quick enough to tell. */
    if ((time_mono_ns() - t_open) / 1000000 < 500) {
        int in_table = 0;
        while (in_table < 32768 && (time_mono_ns() - t_open) / 1000000 < 1000) {
            sleep_ms(10);
            in_table = table_count(f->dir, a);
        }
        if (in_table < 32768)
            fail_msg("1 s after opening, with %d readings pending, carbon.db holds %d", N,
                     in_table);
    }
    int polls = 0;
    for (;;) {
        int in_table = table_count(f->dir, a);
        /* while compaction moves readings, queries and scans stay exact */
        size_t n;
        struct reading *got = all(st, a, &n);
        assert_int_equal(n, N);
        assert_sorted(got, n, a, false);
        assert_int_equal(got[0].ts_ms, T0);
        assert_int_equal(got[N - 1].ts_ms, T0 + (int64_t)(N - 1) * 1000);
        free(got);
        struct reading *out = NULL;
        assert_int_equal(
            st->ops->query_readings(st, a, T0 + 3000000, T0 + 4000000, true, 700, &out, &n), CB_OK);
        assert_int_equal(n, 700);
        assert_sorted(out, n, a, true);
        assert_int_equal(out[0].ts_ms, T0 + 3999000);
        free(out);
        struct collect c = scan(st, a, T0 + 1000000, T0 + 2000000);
        assert_int_equal(c.n, 1000);
        assert_sorted(c.r, c.n, a, false);
        free(c.r);
        if (in_table == N)
            break;
        if (++polls > 300)
            fail_msg("compaction did not finish: %d of %d readings in carbon.db", in_table, N);
        sleep_ms(50);
    }
    /* still deduplicated against the main table */
    assert_int_equal(put_ok(st, r + 12345, BATCH, dup), BATCH);
    assert_int_equal(count(st, a), N);
    free(r);
    free(dup);
}

/* A handful of readings is compacted about a second after being written. */
static void test_compaction_few_after_idle(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    uint32_t a = new_device(st, "a");
    struct reading r[5];
    for (int i = 0; i < 5; i++)
        r[i] = rd(a, T0 + i, i);
    assert_int_equal(put_ok(st, r, 5, NULL), 0);
    assert_int_equal(count(st, a), 5); /* visible before compaction */
    sleep_ms(1300);
    int in_table = table_count(f->dir, a);
    for (int i = 0; in_table != 5 && i < 34; i++) { /* allow a slow (sanitized) run */
        sleep_ms(50);
        in_table = table_count(f->dir, a);
    }
    if (in_table != 5)
        fail_msg("3 s after the write, carbon.db holds %d of 5 readings", in_table);
    size_t n;
    struct reading *got = all(st, a, &n); /* visible after compaction */
    assert_int_equal(n, 5);
    for (int i = 0; i < 5; i++)
        assert_same_reading(&got[i], &r[i]);
    free(got);
}

/* Several writers at once: the group commit deduplicates across jobs. */
struct writer_arg {
    struct store *st;
    uint32_t dev;
    size_t dups;
    cb_err err;
};

static void *writer_thread(void *p)
{
    struct writer_arg *w = p;
    enum { N = 2000, BATCH = 100 };
    static __thread struct reading r[BATCH];
    uint8_t dup[BATCH];
    for (int i = 0; i < N && w->err == CB_OK; i += BATCH) {
        for (int k = 0; k < BATCH; k++)
            r[k] = rd(w->dev, T0 + (int64_t)(i + k) * 1000, i + k);
        struct waiter wt = {.err = CB_ERR_INTERNAL};
        pthread_mutex_init(&wt.mu, NULL);
        pthread_cond_init(&wt.cv, NULL);
        w->err = w->st->ops->put_readings(w->st, r, BATCH, dup, NOW, on_done, &wt);
        if (w->err == CB_OK) {
            pthread_mutex_lock(&wt.mu);
            while (!wt.done)
                pthread_cond_wait(&wt.cv, &wt.mu);
            w->err = wt.err;
            pthread_mutex_unlock(&wt.mu);
        }
        pthread_cond_destroy(&wt.cv);
        pthread_mutex_destroy(&wt.mu);
        for (int k = 0; k < BATCH; k++)
            w->dups += dup[k];
    }
    return NULL;
}

static void test_concurrent_writers(void **state)
{
    struct fx *f = *state;
    uint32_t a = new_device(f->st, "a");
    enum { THREADS = 4 };
    pthread_t t[THREADS];
    struct writer_arg w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (struct writer_arg){.st = f->st, .dev = a, .err = CB_OK};
        assert_int_equal(pthread_create(&t[i], NULL, writer_thread, &w[i]), 0);
    }
    size_t dups = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].err, CB_OK);
        dups += w[i].dups;
    }
    /* the same 2000 readings written 4 times: stored once, 6000 duplicates */
    assert_int_equal(dups, (THREADS - 1) * 2000);
    size_t n;
    struct reading *got = all(f->st, a, &n);
    assert_int_equal(n, 2000);
    assert_sorted(got, n, a, false);
    free(got);
}

/* ---- durability ---- */

static void test_reopen_keeps_everything(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    struct device b = {.offline_after_s = 120, .created_ms = T0 + 7, .name = "B", .owner = "bob"};
    snprintf(b.id, sizeof b.id, "b");
    secret_hash("kb", 2, b.key_hash);
    uint32_t a = new_device(st, "a");
    assert_int_equal(st->ops->device_create(st, &b), CB_OK);
    char devs[2][65] = {"a", "b"};
    struct gateway g = {.name = "G", .created_ms = T0, .devices = devs, .ndevices = 2};
    snprintf(g.id, sizeof g.id, "g");
    secret_hash("kg", 2, g.key_hash);
    assert_int_equal(st->ops->gateway_create(st, &g), CB_OK);

    enum { N = 300, LATE = 50 };
    struct reading r[N + LATE], rb[10];
    for (int i = 0; i < N + LATE; i++) {
        r[i] = rd(a, T0 + (int64_t)i * 1000, i * 0.5);
        if (i % 3 == 0) {
            r[i].flags = READING_HAS_HUM;
            r[i].hum_pct = i % 100;
        }
    }
    for (int i = 0; i < 10; i++)
        rb[i] = rd(b.seq, T0 + i, i);
    uint8_t dup[N + LATE];
    assert_int_equal(put(st, r, N, dup, NOW), CB_OK);
    assert_int_equal(put(st, rb, 10, dup, NOW + 1), CB_OK);
    wait_compacted(f->dir, a, N);
    /* these are still pending (in the journal) when the store closes */
    assert_int_equal(put(st, r + N, LATE, dup, NOW + 2), CB_OK);

    reopen(f);
    st = f->st;
    struct dev_list l = load_devices(st);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.d[0].id, "a");
    assert_int_equal(l.d[0].seq, a);
    assert_string_equal(l.d[1].id, "b");
    assert_str_or_null(l.d[1].name, "B", "name");
    assert_str_or_null(l.d[1].owner, "bob", "owner");
    assert_int_equal(l.d[1].offline_after_s, 120);
    assert_string_equal(l.d[1].key_hash, b.key_hash);
    free_devices(&l);
    struct gw_list gl = load_gateways(st);
    assert_int_equal(gl.n, 1);
    assert_int_equal(gl.g[0].ndevices, 2);
    assert_string_equal(gl.g[0].devices[1], "b");
    free_gateways(&gl);

    size_t n;
    struct reading *got = all(st, a, &n);
    assert_int_equal(n, N + LATE);
    for (int i = 0; i < N + LATE; i++)
        assert_same_reading(&got[i], &r[i]);
    free(got);
    assert_int_equal(count(st, b.seq), 10);

    struct device_live live;
    assert_int_equal(st->ops->device_live(st, a, &live), CB_OK);
    assert_true(live.has_last);
    assert_same_reading(&live.last, &r[N + LATE - 1]);
    assert_int_equal(live.last_seen_ms, NOW + 2);
    assert_int_equal(st->ops->device_live(st, b.seq, &live), CB_OK);
    assert_int_equal(live.last_seen_ms, NOW + 1);

    /* duplicates are still recognised, compacted or not */
    assert_int_equal(put_ok(st, r, N + LATE, dup), N + LATE);
    assert_int_equal(put_ok(st, rb, 10, dup), 10);
    assert_int_equal(count(st, a), N + LATE);

    /* sequence numbers continue, even past a deleted device */
    struct device bd = find_device(st, b.seq);
    assert_int_equal(st->ops->device_delete(st, &bd), CB_OK);
    device_clear(&bd);
    reopen(f);
    uint32_t c = new_device(f->st, "c");
    assert_true(c > b.seq);
    assert_int_equal(count(f->st, b.seq), 0);
    l = load_devices(f->st);
    assert_int_equal(l.n, 2); /* a and c */
    free_devices(&l);
}

/* In a forked child: crash signals kill the child instead of landing in
 * cmocka's handlers (which would carry on running tests in the child). */
static void child_default_signals(void)
{
    static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++)
        signal(sigs[i], SIG_DFL);
}

/* The child opens the store, writes 100 acknowledged readings and dies
 * without closing (like kill -9). Returns the child's exit status. */
static int crash_child(const char *dir)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        child_default_signals();
        struct store *st = store_sqlite_open(dir);
        if (!st)
            _exit(10);
        struct device d = {.offline_after_s = 600, .created_ms = T0};
        snprintf(d.id, sizeof d.id, "crash");
        secret_hash("crash", 5, d.key_hash);
        if (st->ops->device_create(st, &d) != CB_OK)
            _exit(11);
        static struct reading r[100];
        static uint8_t dup[100];
        for (int i = 0; i < 100; i++)
            r[i] = rd(d.seq, T0 + i * 1000, i);
        struct waiter w = {.err = CB_ERR_INTERNAL};
        pthread_mutex_init(&w.mu, NULL);
        pthread_cond_init(&w.cv, NULL);
        if (st->ops->put_readings(st, r, 100, dup, NOW, on_done, &w) != CB_OK)
            _exit(12);
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        _exit(w.err == CB_OK ? 0 : 13); /* no close, no flush: a crash */
    }
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static uint32_t crash_and_reopen(struct fx *f)
{
    f->st->ops->close(f->st);
    f->st = NULL;
    assert_int_equal(crash_child(f->dir), 0);
    f->st = store_sqlite_open(f->dir);
    assert_non_null(f->st);
    struct found_dev c = {.id = "crash"};
    assert_int_equal(f->st->ops->devices_load(f->st, find_dev_fn, &c), CB_OK);
    assert_true(c.found);
    device_clear(&c.d);
    return c.d.seq;
}

static void test_crash_recovery(void **state)
{
    struct fx *f = *state;
    uint32_t seq = crash_and_reopen(f);
    struct store *st = f->st;
    size_t n;
    struct reading *got = all(st, seq, &n);
    assert_int_equal(n, 100); /* acknowledged means durable */
    assert_sorted(got, n, seq, false);
    free(got);
    struct device_live live;
    assert_int_equal(st->ops->device_live(st, seq, &live), CB_OK);
    assert_true(live.has_last);
    assert_int_equal(live.last.ts_ms, T0 + 99000);
    struct reading r[100];
    uint8_t dup[100];
    for (int i = 0; i < 100; i++)
        r[i] = rd(seq, T0 + i * 1000, i);
    assert_int_equal(put_ok(st, r, 100, dup), 100); /* recovered readings dedupe */
    wait_compacted(f->dir, seq, 100);               /* and get compacted */
    assert_int_equal(count(st, seq), 100);
    reopen(f);
    assert_int_equal(count(f->st, seq), 100);
}

/* After a crash the device has stored readings; it must not then read as
 * never seen (last_seen_ms 0 while has_last is true). */
static void test_crash_recovery_last_seen(void **state)
{
    struct fx *f = *state;
    uint32_t seq = crash_and_reopen(f);
    struct device_live live;
    assert_int_equal(f->st->ops->device_live(f->st, seq, &live), CB_OK);
    assert_true(live.has_last);
    if (live.last_seen_ms == 0)
        fail_msg("device with %s reading at ts %lld reports last_seen_ms 0 (never seen) after "
                 "crash recovery; the receipt time was %lld",
                 live.has_last ? "a" : "no", (long long)live.last.ts_ms, (long long)NOW);
}

/* ---- device deletion ---- */

/* "Deletes the device and its readings": none may be returned for its
 * sequence number afterwards, compacted or still pending. */
static void test_device_delete_removes_readings(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    uint32_t a = new_device(st, "gone");
    struct reading r[120];
    for (int i = 0; i < 120; i++)
        r[i] = rd(a, T0 + i * 1000, i);
    assert_int_equal(put_ok(st, r, 100, NULL), 0);
    wait_compacted(f->dir, a, 100);
    assert_int_equal(put_ok(st, r + 100, 20, NULL), 0); /* pending */
    struct device d = find_device(st, a);
    assert_int_equal(st->ops->device_delete(st, &d), CB_OK);
    device_clear(&d);
    size_t n = count(st, a);
    struct collect c = scan(st, a, INT64_MIN, INT64_MAX);
    free(c.r);
    if (n || c.n)
        fail_msg("after deleting device %u, query returns %zu and scan %zu of its readings", a, n,
                 c.n);
}

static void test_device_recreate_starts_empty(void **state)
{
    struct fx *f = *state;
    struct store *st = f->st;
    uint32_t old = new_device(st, "gone");
    struct reading r[120];
    for (int i = 0; i < 120; i++)
        r[i] = rd(old, T0 + i * 1000, i);
    assert_int_equal(put_ok(st, r, 100, NULL), 0);
    wait_compacted(f->dir, old, 100);
    assert_int_equal(put_ok(st, r + 100, 20, NULL), 0);
    struct device d = find_device(st, old);
    assert_int_equal(st->ops->device_delete(st, &d), CB_OK);
    device_clear(&d);
    assert_int_equal(table_count(f->dir, old), 0);

    uint32_t seq = new_device(st, "gone");
    assert_true(seq != old);
    assert_int_equal(count(st, seq), 0);
    struct device_live live;
    assert_int_equal(st->ops->device_live(st, seq, &live), CB_OK);
    assert_false(live.has_last);
    assert_int_equal(live.last_seen_ms, 0);
    /* the old readings' identities are free for the new device */
    struct reading nr = rd(seq, T0, 42);
    assert_int_equal(put_ok(st, &nr, 1, NULL), 0);
    assert_int_equal(count(st, seq), 1);

    /* once compaction has run, nothing of the old device is anywhere */
    sleep_ms(1300);
    wait_compacted(f->dir, seq, 1);
    assert_int_equal(table_count(f->dir, old), 0);
    assert_int_equal(count(st, old), 0);
    reopen(f);
    assert_int_equal(count(f->st, old), 0);
    assert_int_equal(count(f->st, seq), 1);
}

/* "At most limit" puts no bound on limit, so limit * sizeof(struct reading)
 * must not wrap around: with SIZE_MAX / 40 + 2 it wraps to 48 bytes and the
 * rows are written past the buffer (ASan: heap-buffer-overflow in
 * sqlite_query_readings). The HTTP API caps limit at 100001, so only
 * in-process callers get here. Run in a child process so that a crash there
 * cannot take this test program with it. */
static void test_query_limit_overflow(void **state)
{
    struct fx *f = *state;
    char dir[128];
    snprintf(dir, sizeof dir, "%s/child", f->dir);
    /* no store threads may hold locks at the fork */
    f->st->ops->close(f->st);
    f->st = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_default_signals();
        struct store *st = store_sqlite_open(dir);
        if (!st)
            _exit(10);
        struct device d = {.offline_after_s = 600, .created_ms = T0};
        snprintf(d.id, sizeof d.id, "a");
        secret_hash("a", 1, d.key_hash);
        if (st->ops->device_create(st, &d) != CB_OK)
            _exit(11);
        static struct reading r[5];
        static uint8_t dup[5];
        for (int i = 0; i < 5; i++)
            r[i] = rd(d.seq, T0 + i, i);
        struct waiter w = {.err = CB_ERR_INTERNAL};
        pthread_mutex_init(&w.mu, NULL);
        pthread_cond_init(&w.cv, NULL);
        if (st->ops->put_readings(st, r, 5, dup, NOW, on_done, &w) != CB_OK)
            _exit(12);
        pthread_mutex_lock(&w.mu);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        static const size_t limits[] = {100000, SIZE_MAX / sizeof(struct reading) + 2};
        for (int k = 0; k < 2; k++) {
            struct reading *out = NULL;
            size_t n = 0;
            cb_err rc = st->ops->query_readings(st, d.seq, INT64_MIN, INT64_MAX, false, limits[k],
                                                &out, &n);
            free(out);
            if (rc != CB_OK || n != 5)
                _exit(20 + k);
        }
        st->ops->close(st);
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        fail_msg("query_readings(limit=%zu) crashed the child with signal %d",
                 SIZE_MAX / sizeof(struct reading) + 2, WTERMSIG(status));
    if (WEXITSTATUS(status) != 0)
        fail_msg("child failed with status %d (2x: query with the x-th limit was wrong)",
                 WEXITSTATUS(status));
}

/* ---- series over per-minute rollups ---- */

static int rollup_rows(const char *dir, uint32_t dev)
{
    return db_count(dir, "SELECT count(*) FROM rollup_minute WHERE dev=?", dev);
}

struct buckets {
    struct store_bucket b[1024];
    size_t n;
};

static bool bucket_fn(void *arg, const struct store_bucket *b)
{
    struct buckets *c = arg;
    assert_true(c->n < 1024);
    c->b[c->n++] = *b;
    return true;
}

/* The store's series equals a rollup computed here over every reading. */
static void expect_series(struct store *st, uint32_t dev, int64_t from, int64_t to, int64_t step)
{
    struct buckets got = {.n = 0}, want = {.n = 0};
    assert_int_equal(st->ops->series(st, dev, from, to, step, bucket_fn, &got), CB_OK);
    size_t n = 0;
    struct reading *r = all(st, dev, &n);
    struct rollup ru;
    rollup_init(&ru, step, bucket_fn, &want);
    for (size_t i = 0; i < n; i++)
        if (r[i].ts_ms >= from && r[i].ts_ms < to)
            rollup_add(&ru, &r[i]);
    rollup_finish(&ru);
    free(r);
    assert_int_equal(got.n, want.n);
    for (size_t i = 0; i < got.n; i++) {
        const struct store_bucket *a = &got.b[i], *b = &want.b[i];
        if (a->start != b->start || a->count != b->count || a->co_min != b->co_min ||
            a->co_max != b->co_max || fabs(a->co_sum - b->co_sum) > 1e-6 ||
            a->temp_n != b->temp_n || fabs(a->temp_sum - b->temp_sum) > 1e-6 ||
            a->hum_n != b->hum_n)
            fail_msg("bucket %zu: start %lld count %llu min %g max %g sum %g, want start %lld "
                     "count %llu min %g max %g sum %g",
                     i, (long long)a->start, (unsigned long long)a->count, a->co_min, a->co_max,
                     a->co_sum, (long long)b->start, (unsigned long long)b->count, b->co_min,
                     b->co_max, b->co_sum);
    }
}

static void test_series_uses_minute_rollups(void **state)
{
    struct fx *f = *state;
    uint32_t dev = new_device(f->st, "rolled");
    enum { N = 3000 };
    struct reading *r = malloc(N * sizeof *r);
    assert_non_null(r);
    for (int i = 0; i < N; i++) {
        r[i] = rd(dev, T0 + (int64_t)i * 10000, (double)(i % 37) / 4);
        if (i % 3) {
            r[i].flags |= READING_HAS_TEMP;
            r[i].temp_c = 20 + (double)(i % 11) / 10;
        }
    }
    r[1234].co_ppm = 950;
    for (int k = 0; k < N - 100; k += 500)
        put_ok(f->st, r + k, (size_t)(N - 100 - k < 500 ? N - 100 - k : 500), NULL);
    wait_compacted(f->dir, dev, N - 100);
    assert_true(rollup_rows(f->dir, dev) >= (N - 100) / 6);
    /* The last 100 may still be pending; re-sent old ones are duplicates. */
    put_ok(f->st, r + N - 100, 100, NULL);
    assert_int_equal(put_ok(f->st, r + 10, 20, NULL), 20);
    int64_t end = T0 + (int64_t)N * 10000;
    expect_series(f->st, dev, T0 + 12345, end - 7777, 600000); /* ragged edges, 10 min */
    expect_series(f->st, dev, T0 - 3600000, end + 3600000, 3600000);
    expect_series(f->st, dev, T0, end, 7 * 60000);
    expect_series(f->st, dev, T0, end, 61000);          /* not whole minutes: raw rows */
    expect_series(f->st, dev, T0, T0 + 3600000, 60000); /* short: raw rows */
    wait_compacted(f->dir, dev, N);
    expect_series(f->st, dev, T0 + 12345, end - 7777, 600000);
    reopen(f);
    expect_series(f->st, dev, T0 + 12345, end - 7777, 600000);
    /* Deleting the device drops its rollups with its readings. */
    struct device d = find_device(f->st, dev);
    assert_int_equal(f->st->ops->device_delete(f->st, &d), CB_OK);
    device_clear(&d);
    assert_int_equal(rollup_rows(f->dir, dev), 0);
    free(r);
}

/* Compaction's rollup update: a minute whose rows were all new is added to,
 * one where any row was already stored is recomputed from the table. */
static void test_rollup_apply_recomputes_unsure_minutes(void **state)
{
    struct fx *f = *state;
    uint32_t dev = new_device(f->st, "minutes");
    struct reading r[120];
    for (int i = 0; i < 120; i++)
        r[i] = rd(dev, T0 + (int64_t)i * 1000, i % 10);
    put_ok(f->st, r, 120, NULL);
    wait_compacted(f->dir, dev, 120);
    f->st->ops->close(f->st);
    f->st = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/carbon.db", f->dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    /* Offered again (already stored: not fresh), plus two new readings in a
     * later minute, inserted as compaction would. */
    struct reading fresh_rows[2] = {rd(dev, T0 + 300000, 42), rd(dev, T0 + 300500, 7)};
    char sql[160];
    for (int i = 0; i < 2; i++) {
        snprintf(sql, sizeof sql, "INSERT INTO readings VALUES(%u, %lld, %g, NULL, NULL)", dev,
                 (long long)fresh_rows[i].ts_ms, fresh_rows[i].co_ppm);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    const struct reading *rows[5] = {&r[3], &r[4], &r[70], &fresh_rows[0], &fresh_rows[1]};
    const uint8_t fresh[5] = {0, 1, 0, 1, 1};
    assert_true(sqlite_rollup_apply(db, rows, fresh, 5));
    assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    /* Every minute equals the aggregate of its raw rows. */
    sqlite3_stmt *q = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM rollup_minute m WHERE dev=?1 AND NOT EXISTS"
                           " (SELECT 1 FROM readings WHERE dev=m.dev AND ts>=m.m AND ts<m.m+60000"
                           " GROUP BY dev HAVING count(*)=m.n AND min(co)=m.co_min AND"
                           " max(co)=m.co_max AND total(co)=m.co_sum)",
                           -1, &q, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(q, 1, dev);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(q, 0), 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* T0 is 20 s into a minute: 120 s of readings span 3 minutes, plus the new one. */
    assert_int_equal(rollup_rows(f->dir, dev), 4);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_and_ready),
        T(test_device_crud),
        T(test_gateways),
        T(test_device_delete_leaves_gateways),
        T(test_put_and_query),
        T(test_put_empty_batch),
        T(test_duplicates_within_call),
        T(test_duplicates_across_calls),
        T(test_query_across_pending_and_table),
        T(test_device_live),
        T(test_compaction_many),
        T(test_compaction_few_after_idle),
        T(test_concurrent_writers),
        T(test_reopen_keeps_everything),
        T(test_crash_recovery),
        T(test_crash_recovery_last_seen),
        T(test_device_delete_removes_readings),
        T(test_device_recreate_starts_empty),
        T(test_query_limit_overflow),
        T(test_series_uses_minute_rollups),
        T(test_rollup_apply_recomputes_unsure_minutes),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
