/* app.h - the application context passed to every handler (no globals). */
#ifndef CARBON_APP_H
#define CARBON_APP_H
#include "alarm/service.h"
#include "auth/registry.h"
#include "auth/users.h"
#include "core/metrics.h"
#include "store/store.h"

#include <stdint.h>

struct ratelimit;
struct notify_service;

struct app {
    struct store *store;
    struct registry *reg;
    struct alarm_service *alarms;
    struct notify_service *notify;
    struct webhook_seen *webhook_seen; /* Twilio webhook requests handled (api/webhook_seen.h) */
    struct users *users;
    struct ratelimit *login_addr_rl; /* login attempts per client address */
    struct ratelimit *login_acct_rl; /* login attempts per account */
    struct ratelimit *login_all_rl;  /* all logins (Argon2id runs on HTTP threads) */
    struct ratelimit *notify_rl;     /* test messages per person (they cost money) */
    struct ratelimit *manual_rl;     /* manual alarms per person (they page people) */
    struct ratelimit *key_rl;        /* requests per key or user (NULL: none) */
    struct ratelimit *addr_rl;       /* requests per client address (NULL: none) */
    const char *cors_origins;        /* comma-separated allow-list ("" : none) */
    int64_t notify_min_delay_s;      /* CARBON_NOTIFY_MIN_DELAY_S */
    struct metrics *metrics;
    const char *admin_token; /* NULL or empty: no admin token accepted */
    int64_t (*now_ms)(void); /* injected clock */
    int64_t started_mono_ns; /* for uptime: immune to wall-clock changes */
};

#endif
