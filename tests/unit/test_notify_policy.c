/* test_notify_policy.c - the escalation planner (src/notify/policy.c): stage
 * timing, escalation when a stage cannot be reached, reminders, warnings,
 * staleness, and the device's "notify" settings (merge, bounds, defaults);
 * and the outbox in the SQLite store (src/store/sqlite_notify.c): one
 * message per (alert, stage, round, channel, number), updates, status
 * callbacks, cancel, resume after reopening. */
#include "alarm/alarm.h"
#include "notify/policy.h"
#include "store/store.h"
#include "testutil.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define S 1000 /* ms */

static struct notify_policy pol(void)
{
    struct notify_policy p;
    notify_policy_default(&p);
    return p;
}

/* Runs the planner like the service does at time now: every decision is
 * applied (open[] = messages of the stage: 2 per number, given). */
static struct notify_decision step(const struct notify_policy *p, int sev,
                                   struct notify_progress *g, int64_t now, const int per_stage[3],
                                   int *started)
{
    for (int guard = 0; guard < 16; guard++) {
        struct notify_decision d = notify_next(p, sev, g, now);
        if (d.action == NOTIFY_NONE)
            return d;
        if (d.action == NOTIFY_HEADS_UP) {
            g->heads_up = true;
        } else if (d.action == NOTIFY_START) {
            g->started_ms[d.stage] = now;
            g->open[d.stage] = per_stage[d.stage];
            g->last_round_ms = now;
            started[d.stage]++;
        } else {
            g->reminders++;
            g->last_round_ms = now;
            started[3]++;
        }
    }
    fail_msg("the planner did not settle");
    return (struct notify_decision){0};
}

static void test_defaults(void **st)
{
    (void)st;
    struct notify_policy p = pol();
    assert_int_equal(p.escalate_after_s, 300);
    assert_int_equal(p.renotify_s, 600);
    assert_int_equal(p.max_reminders, 6);
    assert_int_equal(p.fresh_s, 600);
    assert_true(p.calls && p.warnings && p.all_clear);
}

static void test_critical_timeline(void **st)
{
    (void)st;
    struct notify_policy p = pol();
    struct notify_progress g = {0};
    int per[3] = {2, 4, 2}, started[4] = {0};
    int64_t t0 = 1000000;
    /* Owner at once; the next look is escalate_after_s later. */
    struct notify_decision d = step(&p, ALARM_SEV_CRITICAL, &g, t0, per, started);
    assert_int_equal(started[0], 1);
    assert_int_equal(started[1], 0);
    assert_int_equal(d.wake_ms, t0 + 300 * S);
    /* One ms early: nothing. */
    step(&p, ALARM_SEV_CRITICAL, &g, t0 + 300 * S - 1, per, started);
    assert_int_equal(started[1], 0);
    d = step(&p, ALARM_SEV_CRITICAL, &g, t0 + 300 * S, per, started);
    assert_int_equal(started[1], 1);
    assert_int_equal(d.wake_ms, t0 + 600 * S);
    d = step(&p, ALARM_SEV_CRITICAL, &g, t0 + 600 * S, per, started);
    assert_int_equal(started[2], 1);
    assert_int_equal(d.wake_ms, t0 + 1200 * S); /* first reminder: renotify_s later */
    /* Reminders every renotify_s, max_reminders of them, then never. */
    int64_t t = t0 + 600 * S;
    for (int r = 1; r <= 6; r++) {
        t += 600 * S;
        step(&p, ALARM_SEV_CRITICAL, &g, t, per, started);
        assert_int_equal(started[3], r);
    }
    d = step(&p, ALARM_SEV_CRITICAL, &g, t + 86400 * S, per, started);
    assert_int_equal(started[3], 6);
    assert_int_equal(d.wake_ms, INT64_MAX);
    /* Each stage started exactly once. */
    assert_int_equal(started[0] + started[1] + started[2], 3);
}

static void test_unreachable_stage_escalates_at_once(void **st)
{
    (void)st;
    struct notify_policy p = pol();
    struct notify_progress g = {0};
    int per[3] = {0, 0, 2}, started[4] = {0}; /* no owner phone, no secondary contacts */
    int64_t t0 = 5000;
    step(&p, ALARM_SEV_CRITICAL, &g, t0, per, started);
    assert_int_equal(started[0], 1);
    assert_int_equal(started[1], 1);
    assert_int_equal(started[2], 1); /* all three at t0 */
    /* Every message of the owner failing permanently later moves on too. */
    struct notify_progress h = {0};
    int per2[3] = {2, 2, 2}, s2[4] = {0};
    step(&p, ALARM_SEV_CRITICAL, &h, t0, per2, s2);
    assert_int_equal(s2[1], 0);
    h.open[0] = 0; /* both failed (21211) */
    step(&p, ALARM_SEV_CRITICAL, &h, t0 + 1, per2, s2);
    assert_int_equal(s2[1], 1);
    assert_int_equal(s2[2], 0);
}

static void test_warning_one_heads_up(void **st)
{
    (void)st;
    struct notify_policy p = pol();
    struct notify_progress g = {0};
    int per[3] = {2, 2, 2}, started[4] = {0};
    struct notify_decision d = notify_next(&p, ALARM_SEV_WARNING, &g, 0);
    assert_int_equal(d.action, NOTIFY_HEADS_UP);
    d = step(&p, ALARM_SEV_WARNING, &g, 0, per, started);
    assert_true(g.heads_up);
    assert_int_equal(d.wake_ms, INT64_MAX);
    d = step(&p, ALARM_SEV_WARNING, &g, 86400 * S, per, started);
    assert_int_equal(started[0] + started[1] + started[2] + started[3], 0);
    /* Warnings off: nothing at all. */
    p.warnings = false;
    struct notify_progress h = {0};
    assert_int_equal(notify_next(&p, ALARM_SEV_WARNING, &h, 0).action, NOTIFY_NONE);
    /* A warning that turns critical starts paging (the heads-up stays one). */
    p.warnings = true;
    d = step(&p, ALARM_SEV_CRITICAL, &g, 100 * S, per, started);
    assert_int_equal(started[0], 1);
    assert_int_equal(notify_next(&p, ALARM_SEV_NONE, &h, 0).action, NOTIFY_NONE);
}

static void test_stale(void **st)
{
    (void)st;
    struct notify_policy p = pol();
    assert_false(notify_stale(&p, 0, 600 * S));
    assert_true(notify_stale(&p, 0, 600 * S + 1));
    assert_false(notify_stale(&p, 10 * S, 0)); /* a reading from the future: fresh */
}

static void test_settings(void **st)
{
    (void)st;
    struct notify_policy d = pol(), p;
    struct jv_err e;
    char *out = NULL;
    json_t *patch = json_loads("{\"escalate_after_s\":60,\"calls\":false}", 0, NULL);
    assert_true(notify_policy_merge(NULL, patch, 1, &out, &e));
    json_decref(patch);
    notify_policy_from(out, &d, 1, &p);
    assert_int_equal(p.escalate_after_s, 60);
    assert_false(p.calls);
    assert_int_equal(p.renotify_s, 600);
    /* A later patch keeps what it does not name; null restores a default. */
    char *out2 = NULL;
    patch = json_loads("{\"calls\":null,\"max_reminders\":0}", 0, NULL);
    assert_true(notify_policy_merge(out, patch, 1, &out2, &e));
    json_decref(patch);
    notify_policy_from(out2, &d, 1, &p);
    assert_int_equal(p.escalate_after_s, 60);
    assert_true(p.calls);
    assert_int_equal(p.max_reminders, 0);
    free(out);
    free(out2);
    static const char *const bad[] = {"{\"escalate_after_s\":0}",
                                      "{\"escalate_after_s\":86401}",
                                      "{\"renotify_s\":-5}",
                                      "{\"max_reminders\":21}",
                                      "{\"ring_s\":4}",
                                      "{\"calls\":1}",
                                      "{\"fresh_s\":\"600\"}",
                                      "{\"unknown\":1}",
                                      "[]",
                                      "{\"warnings\":\"no\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *b = json_loads(bad[i], 0, NULL);
        char *o = NULL;
        assert_non_null(b);
        if (notify_policy_merge(NULL, b, 1, &o, &e))
            fail_msg("accepted %s", bad[i]);
        assert_null(o);
        assert_true(e.reason[0] != 0);
        json_decref(b);
    }
    /* Stored under older limits (max_reminders up to 100, delays of 1 s):
     * read, then brought within today's; the other keys are kept. */
    notify_policy_from("{\"max_reminders\":50,\"calls\":false,\"escalate_after_s\":1}", &d, 60, &p);
    assert_int_equal(p.max_reminders, NOTIFY_MAX_REMINDERS);
    assert_false(p.calls);
    assert_int_equal(p.escalate_after_s, 60);
    /* ... but a PATCH must be within them. */
    patch = json_loads("{\"escalate_after_s\":59}", 0, NULL);
    out = NULL;
    assert_false(notify_policy_merge(NULL, patch, 60, &out, &e));
    json_decref(patch);
    /* Unreadable stored text: the defaults. */
    notify_policy_from("{not json", &d, 1, &p);
    assert_int_equal(p.escalate_after_s, 300);
    json_t *j = notify_policy_json(&p);
    assert_int_equal(json_integer_value(json_object_get(j, "escalate_after_s")), 300);
    json_decref(j);
    assert_string_equal(notify_stage_name(NOTIFY_STAGE_SECONDARY), "secondary");
    assert_int_equal(notify_stage_parse("emergency"), NOTIFY_STAGE_EMERGENCY);
    assert_int_equal(notify_stage_parse("nope"), -1);
    assert_string_equal(notify_stage_name(99), "unknown");
}

/* ---- the outbox in the SQLite store ---- */

static char dir[64];

static struct store *open_store(void)
{
    struct store *s = store_sqlite_open(dir);
    assert_non_null(s);
    return s;
}

static struct notification msg(int64_t alert, int stage, int round, int ch, const char *to)
{
    struct notification n = {0};
    n.alert_id = alert;
    n.stage = (uint8_t)stage;
    n.round = (uint8_t)round;
    n.channel = (uint8_t)ch;
    n.state = NOTIF_PENDING;
    snprintf(n.to, sizeof n.to, "%s", to);
    snprintf(n.body, sizeof n.body, "CO alarm at Kitchen: %s", to);
    n.created_ms = n.next_ms = n.updated_ms = 1000;
    return n;
}

static void count_open(void *arg, const struct notification *n)
{
    (void)n;
    (*(int *)arg)++;
}

static void test_outbox(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/carbon-notify-%d", (int)getpid());
    test_rm_tree(dir);
    struct store *s = open_store();
    /* An alert to hang the messages on (open-alerts-to joins alerts). */
    struct alert a = {.dev = 1,
                      .kind = ALARM_CO_HIGH,
                      .severity = ALARM_SEV_CRITICAL,
                      .active = true,
                      .raised_ms = 1000,
                      .updated_ms = 1000,
                      .recorded_ms = 1000,
                      .trigger_ppm = 120,
                      .peak_ppm = 120};
    assert_int_equal(s->ops->alarm_commit(s, &a, 1, NULL, 0), CB_OK);
    assert_true(a.id > 0);

    struct notification n1 = msg(a.id, NOTIFY_STAGE_OWNER, 0, NOTIF_SMS, "+14155550101");
    assert_int_equal(s->ops->notif_add(s, &n1), CB_OK);
    assert_true(n1.id > 0);
    /* The same (alert, stage, round, channel, number) again: refused. */
    struct notification dup = n1;
    assert_int_equal(s->ops->notif_add(s, &dup), CB_ERR_CONFLICT);
    struct notification n2 = msg(a.id, NOTIFY_STAGE_OWNER, 0, NOTIF_CALL, "+14155550101");
    struct notification n3 = msg(a.id, NOTIFY_STAGE_OWNER, 1, NOTIF_SMS, "+14155550101");
    assert_int_equal(s->ops->notif_add(s, &n2), CB_OK);
    assert_int_equal(s->ops->notif_add(s, &n3), CB_OK);
    /* Test messages (alert 0) may repeat. */
    struct notification t1 = msg(0, NOTIFY_STAGE_TEST, 0, NOTIF_SMS, "+14155550101"), t2 = t1;
    assert_int_equal(s->ops->notif_add(s, &t1), CB_OK);
    assert_int_equal(s->ops->notif_add(s, &t2), CB_OK);

    /* Accepted, then a status callback by sid. */
    n1.state = NOTIF_ACCEPTED;
    n1.attempts = 2;
    n1.sent_ms = 2000;
    snprintf(n1.sid, sizeof n1.sid, "SM0123");
    snprintf(n1.provider_status, sizeof n1.provider_status, "queued");
    assert_int_equal(s->ops->notif_update(s, &n1, -1), CB_OK);
    struct notification got;
    assert_int_equal(s->ops->notif_status(s, "SM0123", "delivered", 0, 3000, &got), CB_OK);
    assert_string_equal(got.provider_status, "delivered");
    assert_int_equal(got.attempts, 2);
    assert_int_equal(s->ops->notif_status(s, "SMnope", "delivered", 0, 3000, &got),
                     CB_ERR_NOT_FOUND);
    /* An attempt's outcome written after the callback keeps its status. */
    snprintf(n1.provider_status, sizeof n1.provider_status, "queued");
    n1.provider_status[0] = 0;
    assert_int_equal(s->ops->notif_update(s, &n1, -1), CB_OK);
    assert_int_equal(s->ops->notif_get(s, n1.id, &got), CB_OK);
    assert_string_equal(got.provider_status, "delivered");
    assert_string_equal(got.body, n1.body);

    /* The alerts a number was messaged about. */
    int64_t ids[4];
    size_t k = 0;
    assert_int_equal(s->ops->notif_open_alerts_to(s, "+14155550101", ids, 4, &k), CB_OK);
    assert_int_equal(k, 1);
    assert_int_equal(ids[0], a.id);
    assert_int_equal(s->ops->notif_open_alerts_to(s, "+14155550199", ids, 4, &k), CB_OK);
    assert_int_equal(k, 0);

    /* Cancel: only pending ones (n2, n3), not the accepted n1. */
    size_t nc = 0;
    assert_int_equal(s->ops->notif_cancel(s, a.id, 4000, &nc), CB_OK);
    assert_int_equal(nc, 2);
    struct notification *v = NULL;
    size_t nv = 0;
    assert_int_equal(s->ops->notif_list(s, a.id, 100, &v, &nv), CB_OK);
    assert_int_equal(nv, 3);
    assert_int_equal(v[0].id, n1.id); /* oldest first */
    assert_int_equal(v[0].state, NOTIF_ACCEPTED);
    assert_int_equal(v[1].state, NOTIF_CANCELLED);
    free(v);

    /* Reopened: the open (pending/sending) messages are the two tests. */
    s->ops->close(s);
    s = open_store();
    int open = 0;
    assert_int_equal(s->ops->notif_load_open(s, count_open, &open), CB_OK);
    assert_int_equal(open, 2);
    assert_int_equal(s->ops->notif_get(s, 999999, &got), CB_ERR_NOT_FOUND);
    s->ops->close(s);
    test_rm_tree(dir);
}

/* Status callbacks in any order: provider_status only moves forward. */
static void check_status(struct store *s, const char *sid, const char *status, int code,
                         const char *want, int want_code)
{
    struct notification got;
    assert_int_equal(s->ops->notif_status(s, sid, status, code, 5000, &got), CB_OK);
    if (strcmp(got.provider_status, want) != 0 || got.error_code != want_code)
        fail_msg("%s: \"%s\" gave \"%s\" (code %d), want \"%s\" (code %d)", sid, status,
                 got.provider_status, got.error_code, want, want_code);
    assert_string_equal(got.sid, sid);
    /* What the callback answered is what is stored. */
    struct notification row;
    assert_int_equal(s->ops->notif_get(s, got.id, &row), CB_OK);
    assert_string_equal(row.provider_status, want);
    assert_int_equal(row.error_code, want_code);
}

static void test_status_order(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/carbon-notify-st-%d", (int)getpid());
    test_rm_tree(dir);
    struct store *s = open_store();
    static const struct {
        int ch;
        const char *sid, *status;
    } rows[] = {
        {NOTIF_SMS, "SMorder1", "queued"},    {NOTIF_SMS, "SMorder2", ""},
        {NOTIF_CALL, "CAorder1", "queued"},   {NOTIF_CALL, "CAorder2", "initiated"},
        {NOTIF_SMS, "SMorder3", "delivered"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct notification n = msg(0, NOTIFY_STAGE_TEST, 0, rows[i].ch, "+14155550101");
        n.state = NOTIF_ACCEPTED;
        snprintf(n.sid, sizeof n.sid, "%s", rows[i].sid);
        snprintf(n.provider_status, sizeof n.provider_status, "%s", rows[i].status);
        assert_int_equal(s->ops->notif_add(s, &n), CB_OK);
    }
    /* SMS: forward steps apply; a late one is ignored and the real state
     * answered; a final status does not replace another final one. */
    check_status(s, "SMorder1", "sent", 0, "sent", 0);
    check_status(s, "SMorder1", "sending", 0, "sent", 0);
    check_status(s, "SMorder1", "queued", 0, "sent", 0);
    check_status(s, "SMorder1", "undelivered", 30003, "undelivered", 30003);
    check_status(s, "SMorder1", "sent", 0, "undelivered", 30003);
    check_status(s, "SMorder1", "delivered", 0, "undelivered", 30003);
    check_status(s, "SMorder1", "read", 0, "undelivered", 30003);
    check_status(s, "SMorder1", "undelivered", 30005, "undelivered", 30005); /* the same again */
    check_status(s, "SMorder1", "something-new", 0, "undelivered", 30005);
    check_status(s, "SMorder3", "sent", 0, "delivered", 0);
    check_status(s, "SMorder3", "failed", 30008, "delivered", 0);
    /* Nothing stored: anything is taken, an unlisted status too; a listed one
     * then replaces it, and an unlisted one no longer does. */
    check_status(s, "SMorder2", "something-new", 0, "something-new", 0);
    check_status(s, "SMorder2", "sending", 0, "sending", 0);
    check_status(s, "SMorder2", "something-newer", 0, "sending", 0);
    check_status(s, "SMorder2", "accepted", 0, "sending", 0);
    check_status(s, "SMorder2", "delivered", 0, "delivered", 0);
    /* Calls have their own order. */
    check_status(s, "CAorder1", "completed", 0, "completed", 0);
    check_status(s, "CAorder1", "ringing", 0, "completed", 0);
    check_status(s, "CAorder1", "in-progress", 0, "completed", 0);
    check_status(s, "CAorder1", "no-answer", 0, "completed", 0);
    check_status(s, "CAorder2", "queued", 0, "initiated", 0);
    check_status(s, "CAorder2", "ringing", 0, "ringing", 0);
    check_status(s, "CAorder2", "sent", 0, "ringing", 0); /* an SMS status: not a call's */
    check_status(s, "CAorder2", "in-progress", 0, "in-progress", 0);
    check_status(s, "CAorder2", "answered", 0, "in-progress", 0);
    check_status(s, "CAorder2", "busy", 0, "busy", 0);
    check_status(s, "CAorder2", "completed", 0, "busy", 0);
    struct notification got;
    assert_int_equal(s->ops->notif_status(s, "SMnone", "sent", 0, 5000, &got), CB_ERR_NOT_FOUND);
    s->ops->close(s);
    test_rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_critical_timeline),
        cmocka_unit_test(test_unreachable_stage_escalates_at_once),
        cmocka_unit_test(test_warning_one_heads_up),
        cmocka_unit_test(test_stale),
        cmocka_unit_test(test_settings),
        cmocka_unit_test(test_outbox),
        cmocka_unit_test(test_status_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
