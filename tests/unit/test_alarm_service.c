/* test_alarm_service.c - the server side of the alarm engine
 * (src/alarm/service.c) over the real SQLite store, with the store's alarm
 * writes made to fail on demand: people are still told, nothing is lost, and
 * the records reach the disk once it works again. */
#include "alarm/service.h"
#include "core/log.h"
#include "core/metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#define T0 1764086400000LL /* 2025-11-25T16:00:00Z */

static int64_t clock_ms = T0;
static int64_t now(void)
{
    return clock_ms;
}

/* The store with alarm_commit failing while fail_commits is set. */
static bool fail_commits;
static struct store_ops failing_ops;
static const struct store_ops *real_ops;

static cb_err flaky_commit(struct store *st, struct alert *a, size_t na, const struct alarm_blob *b,
                           size_t nb)
{
    if (fail_commits)
        return CB_ERR_IO;
    return real_ops->alarm_commit(st, a, na, b, nb);
}

struct told {
    struct alert a[16];
    struct alarm_event ev[16];
    size_t n;
};

static void sink(void *arg, const struct alert *a, const struct alarm_event *ev,
                 const char *device_id)
{
    struct told *t = arg;
    assert_string_equal(device_id, "kitchen");
    assert_true(t->n < 16);
    t->a[t->n] = *a;
    t->ev[t->n++] = *ev;
}

struct fx {
    char dir[64];
    struct store *st;
    struct metrics *m;
    struct device d;
};

static int setup(void **state)
{
    log_set_level(LOG_OFF);
    struct fx *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/carbon-alarmsvc-XXXXXX");
    if (!f || !mkdtemp(f->dir) || !(f->st = store_sqlite_open(f->dir)) || !(f->m = metrics_new(0)))
        return -1;
    real_ops = f->st->ops;
    failing_ops = *real_ops;
    failing_ops.alarm_commit = flaky_commit;
    f->st->ops = &failing_ops;
    f->d = (struct device){.offline_after_s = 600, .created_ms = T0};
    snprintf(f->d.id, sizeof f->d.id, "kitchen");
    snprintf(f->d.key_hash, sizeof f->d.key_hash, "%064d", 0);
    if (f->st->ops->device_create(f->st, &f->d) != CB_OK)
        return -1;
    fail_commits = false;
    clock_ms = T0;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    f->st->ops->close(f->st);
    metrics_free(f->m);
    int rc = test_rm_tree(f->dir);
    free(f);
    return rc ? -1 : 0;
}

static size_t stored_active(struct store *st)
{
    struct alert_filter flt = {
        .kind = -1, .active = 1, .acked = -1, .from = INT64_MIN, .to = INT64_MAX, .limit = 10};
    struct alert *v = NULL;
    size_t n = 0;
    assert_int_equal(st->ops->alerts_query(st, &flt, &v, &n), CB_OK);
    free(v);
    return n;
}

/* The disk refuses the alarm's write: the sink is told all the same (id 0:
 * not stored yet), the records stay in memory, and the next tick, once the
 * disk works, stores them; they survive a restart. */
static void test_write_failure_loses_nothing(void **state)
{
    struct fx *f = *state;
    struct told t = {.n = 0};
    struct alarm_service *s = alarm_service_open(f->st, f->m, &f->d, 1, now, 0);
    assert_non_null(s);
    alarm_service_set_sink(s, &(struct alarm_sink){sink, &t});

    fail_commits = true;
    struct reading r = {.dev = f->d.seq, .ts_ms = T0 - 60000, .co_ppm = 80};
    alarm_service_readings(s, &r, NULL, 1, T0);
    assert_true(t.n >= 1);
    assert_int_equal(t.ev[0].type, ALARM_EV_RAISED);
    assert_int_equal(t.ev[0].kind, ALARM_CO_HIGH);
    assert_int_equal(t.a[0].id, 0); /* not stored */
    assert_int_equal(stored_active(f->st), 0);

    /* Still failing: a tick changes nothing on disk, loses nothing in memory. */
    clock_ms = T0 + 1000;
    alarm_service_tick(s, clock_ms);
    assert_int_equal(stored_active(f->st), 0);

    fail_commits = false;
    clock_ms = T0 + 2000;
    alarm_service_tick(s, clock_ms);
    assert_int_equal(stored_active(f->st), 1);
    size_t told = t.n;
    alarm_service_close(s);
    assert_int_equal(t.n, told); /* nothing told twice */

    /* A restart finds the alert active and does not raise it again. */
    t.n = 0;
    s = alarm_service_open(f->st, f->m, &f->d, 1, now, 0);
    assert_non_null(s);
    alarm_service_set_sink(s, &(struct alarm_sink){sink, &t});
    r.ts_ms = T0 - 45000;
    alarm_service_readings(s, &r, NULL, 1, clock_ms);
    for (size_t i = 0; i < t.n; i++)
        assert_int_not_equal(t.ev[i].type, ALARM_EV_RAISED);
    assert_int_equal(stored_active(f->st), 1);
    alarm_service_close(s);
}

/* A person's action whose write fails answers an error (the API's 500),
 * and the acknowledgement is kept and stored once the disk works. */
static void test_ack_write_failure(void **state)
{
    struct fx *f = *state;
    struct alarm_service *s = alarm_service_open(f->st, f->m, &f->d, 1, now, 0);
    assert_non_null(s);
    struct reading r = {.dev = f->d.seq, .ts_ms = T0 - 60000, .co_ppm = 80};
    alarm_service_readings(s, &r, NULL, 1, T0);
    struct alert_filter flt = {.kind = ALARM_CO_HIGH,
                               .active = 1,
                               .acked = -1,
                               .from = INT64_MIN,
                               .to = INT64_MAX,
                               .limit = 1};
    struct alert *v = NULL;
    size_t n = 0;
    assert_int_equal(f->st->ops->alerts_query(f->st, &flt, &v, &n), CB_OK);
    assert_int_equal(n, 1);
    int64_t id = v[0].id;
    free(v);

    fail_commits = true;
    struct alert out;
    assert_int_equal(alarm_service_ack(s, id, "someone", T0 + 1000, &out), CB_ERR_IO);
    fail_commits = false;
    alarm_service_tick(s, T0 + 2000);
    struct alert a;
    assert_int_equal(f->st->ops->alert_get(f->st, id, &a), CB_OK);
    assert_true(a.acked);
    assert_string_equal(a.acked_by, "someone");
    alarm_service_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_write_failure_loses_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_write_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
