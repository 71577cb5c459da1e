/* webhook_seen.c - Twilio webhook requests already handled (replays) and a
 * throttle for the webhooks' warnings. */
#include "api/webhook_seen.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define KEY_MAX 79 /* "sms:" + a 34-character sid fits many times over */

struct seen_entry {
    uint64_t hash; /* of the whole key (a longer one is stored cut) */
    int64_t at_ms;
    int result;
    bool used;
    char key[KEY_MAX + 1];
};

struct webhook_seen {
    pthread_mutex_t mu;
    size_t next; /* ring position of the next entry */
    struct seen_entry v[WEBHOOK_SEEN_CAP];
    _Atomic int64_t warn_ms;
    _Atomic uint64_t warn_suppressed;
};

struct webhook_seen *webhook_seen_new(void)
{
    struct webhook_seen *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    atomic_init(&w->warn_ms, INT64_MIN / 2); /* the first warning is due */
    atomic_init(&w->warn_suppressed, 0);
    return w;
}

void webhook_seen_free(struct webhook_seen *w)
{
    if (!w)
        return;
    pthread_mutex_destroy(&w->mu);
    free(w);
}

static uint64_t key_hash(const char *key)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* The newest entry for key at most WEBHOOK_SEEN_TTL_MS old at now_ms (any
 * age when any_age), or NULL. Caller holds mu. */
static struct seen_entry *find(struct webhook_seen *w, const char *key, uint64_t h, int64_t now_ms,
                               bool any_age)
{
    for (size_t k = 1; k <= WEBHOOK_SEEN_CAP; k++) {
        struct seen_entry *e = &w->v[(w->next - k) % WEBHOOK_SEEN_CAP];
        if (e->used && e->hash == h && strncmp(e->key, key, KEY_MAX) == 0 &&
            (any_age || now_ms - e->at_ms <= WEBHOOK_SEEN_TTL_MS))
            return e;
    }
    return NULL;
}

bool webhook_seen_check(struct webhook_seen *w, const char *key, int64_t now_ms, int *result)
{
    if (!w || !key)
        return false;
    uint64_t h = key_hash(key);
    pthread_mutex_lock(&w->mu);
    struct seen_entry *e = find(w, key, h, now_ms, false);
    bool seen = e != NULL;
    if (seen) {
        *result = e->result;
    } else {
        e = &w->v[w->next++ % WEBHOOK_SEEN_CAP];
        *e = (struct seen_entry){
            .hash = h, .at_ms = now_ms, .result = WEBHOOK_SEEN_BUSY, .used = true};
        strncpy(e->key, key, KEY_MAX);
        e->key[KEY_MAX] = '\0';
    }
    pthread_mutex_unlock(&w->mu);
    return seen;
}

/* Applies result (or forgets, with forget) to the newest entry of key,
 * whatever its age: the handler that recorded it is finishing now. */
static void settle(struct webhook_seen *w, const char *key, int result, bool forget)
{
    if (!w || !key)
        return;
    uint64_t h = key_hash(key);
    pthread_mutex_lock(&w->mu);
    struct seen_entry *e = find(w, key, h, 0, true);
    if (e && forget)
        e->used = false;
    else if (e)
        e->result = result;
    pthread_mutex_unlock(&w->mu);
}

void webhook_seen_done(struct webhook_seen *w, const char *key, int result)
{
    settle(w, key, result < 0 ? 0 : result, false);
}

void webhook_seen_forget(struct webhook_seen *w, const char *key)
{
    settle(w, key, 0, true);
}

bool webhook_warn_due(struct webhook_seen *w, int64_t now_ms, uint64_t *suppressed)
{
    *suppressed = 0;
    if (!w)
        return true;
    int64_t last = atomic_load(&w->warn_ms);
    if (now_ms - last >= WEBHOOK_WARN_EVERY_MS &&
        atomic_compare_exchange_strong(&w->warn_ms, &last, now_ms)) {
        *suppressed = atomic_exchange(&w->warn_suppressed, 0);
        return true;
    }
    atomic_fetch_add(&w->warn_suppressed, 1);
    return false;
}
