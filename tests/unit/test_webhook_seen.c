/* test_webhook_seen.c - the Twilio webhook requests already handled (replay
 * protection) and the webhooks' warning throttle (src/api/webhook_seen.c). */
#include "api/webhook_seen.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

static void test_seen_once(void **st)
{
    (void)st;
    struct webhook_seen *w = webhook_seen_new();
    assert_non_null(w);
    int r = 12345;
    assert_false(webhook_seen_check(w, "sms:SM1", 1000, &r));
    assert_int_equal(r, 12345); /* untouched when new */
    /* While the first is being handled, a repeat is seen, busy. */
    assert_true(webhook_seen_check(w, "sms:SM1", 1001, &r));
    assert_int_equal(r, WEBHOOK_SEEN_BUSY);
    webhook_seen_done(w, "sms:SM1", 2);
    assert_true(webhook_seen_check(w, "sms:SM1", 1002, &r));
    assert_int_equal(r, 2);
    /* Other keys are their own. */
    assert_false(webhook_seen_check(w, "sms:SM2", 1003, &r));
    assert_false(webhook_seen_check(w, "call:CA1:1", 1003, &r));
    assert_true(webhook_seen_check(w, "call:CA1:1", 1004, &r));
    assert_false(webhook_seen_check(w, "call:CA1:2", 1004, &r));
    /* Forgotten (the first attempt failed): handled again. */
    webhook_seen_forget(w, "sms:SM2");
    assert_false(webhook_seen_check(w, "sms:SM2", 1005, &r));
    /* Until the TTL has passed. */
    assert_true(webhook_seen_check(w, "sms:SM1", 1000 + WEBHOOK_SEEN_TTL_MS, &r));
    assert_false(webhook_seen_check(w, "sms:SM1", 1001 + WEBHOOK_SEEN_TTL_MS, &r));
    assert_true(webhook_seen_check(w, "sms:SM1", 1002 + WEBHOOK_SEEN_TTL_MS, &r));
    assert_int_equal(r, WEBHOOK_SEEN_BUSY);
    /* Long keys are compared whole (by hash past the stored part). */
    char a[200], b[200];
    snprintf(a, sizeof a, "sms:%0150d1", 0);
    snprintf(b, sizeof b, "sms:%0150d2", 0);
    assert_false(webhook_seen_check(w, a, 2000, &r));
    assert_false(webhook_seen_check(w, b, 2000, &r));
    assert_true(webhook_seen_check(w, a, 2000, &r));
    webhook_seen_free(w);
    /* NULL: nothing recorded, nothing seen. */
    assert_false(webhook_seen_check(NULL, "sms:SM1", 1, &r));
    assert_false(webhook_seen_check(NULL, "sms:SM1", 1, &r));
    webhook_seen_done(NULL, "sms:SM1", 1);
    webhook_seen_forget(NULL, "sms:SM1");
    webhook_seen_free(NULL);
}

static void test_seen_bounded(void **st)
{
    (void)st;
    struct webhook_seen *w = webhook_seen_new();
    assert_non_null(w);
    char key[32];
    int r;
    for (int i = 0; i < WEBHOOK_SEEN_CAP; i++) {
        snprintf(key, sizeof key, "sms:SM%d", i);
        assert_false(webhook_seen_check(w, key, 10, &r));
        webhook_seen_done(w, key, i);
    }
    /* All still there ... */
    for (int i = 0; i < WEBHOOK_SEEN_CAP; i += 97) {
        snprintf(key, sizeof key, "sms:SM%d", i);
        assert_true(webhook_seen_check(w, key, 20, &r));
        assert_int_equal(r, i);
    }
    /* ... until newer ones push the oldest out. */
    assert_false(webhook_seen_check(w, "sms:newer", 30, &r));
    assert_false(webhook_seen_check(w, "sms:SM0", 30, &r));
    snprintf(key, sizeof key, "sms:SM%d", WEBHOOK_SEEN_CAP - 1);
    assert_true(webhook_seen_check(w, key, 30, &r));
    webhook_seen_free(w);
}

struct race {
    struct webhook_seen *w;
    pthread_barrier_t *start;
    int fresh; /* how many checks found the key new */
};

static void *racer(void *arg)
{
    struct race *x = arg;
    int r;
    pthread_barrier_wait(x->start);
    for (int i = 0; i < 200; i++) {
        char key[32];
        snprintf(key, sizeof key, "sms:SMrace%d", i);
        if (!webhook_seen_check(x->w, key, 50, &r))
            x->fresh++;
    }
    return NULL;
}

/* Of identical requests at once, exactly one is handled. */
static void test_seen_concurrent(void **st)
{
    (void)st;
    enum { N = 4 };
    struct webhook_seen *w = webhook_seen_new();
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, N);
    pthread_t t[N];
    struct race x[N];
    for (int i = 0; i < N; i++) {
        x[i] = (struct race){w, &start, 0};
        assert_int_equal(pthread_create(&t[i], NULL, racer, &x[i]), 0);
    }
    int fresh = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        fresh += x[i].fresh;
    }
    assert_int_equal(fresh, 200);
    pthread_barrier_destroy(&start);
    webhook_seen_free(w);
}

static void test_warn_throttle(void **st)
{
    (void)st;
    struct webhook_seen *w = webhook_seen_new();
    uint64_t sup = 99;
    assert_true(webhook_warn_due(w, 5000, &sup)); /* the first at once */
    assert_int_equal(sup, 0);
    for (int i = 0; i < 10; i++) {
        assert_false(webhook_warn_due(w, 5000 + i * 10, &sup));
        assert_int_equal(sup, 0);
    }
    assert_false(webhook_warn_due(w, 5999, &sup));
    assert_true(webhook_warn_due(w, 6000, &sup));
    assert_int_equal(sup, 11); /* those left out since the last one */
    assert_true(webhook_warn_due(w, 9000, &sup));
    assert_int_equal(sup, 0);
    webhook_seen_free(w);
    assert_true(webhook_warn_due(NULL, 1, &sup));
    assert_true(webhook_warn_due(NULL, 1, &sup));
    assert_int_equal(sup, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seen_once),
        cmocka_unit_test(test_seen_bounded),
        cmocka_unit_test(test_seen_concurrent),
        cmocka_unit_test(test_warn_throttle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
