/* app.h - the application context passed to every handler (no globals). */
#ifndef CARBON_APP_H
#define CARBON_APP_H
#include "alarm/service.h"
#include "auth/registry.h"
#include "core/metrics.h"
#include "store/store.h"

#include <stdint.h>

struct app {
    struct store *store;
    struct registry *reg;
    struct alarm_service *alarms;
    struct metrics *metrics;
    const char *admin_token; /* NULL or empty: no admin token accepted */
    int64_t (*now_ms)(void); /* injected clock */
    int64_t started_mono_ns; /* for uptime: immune to wall-clock changes */
};

#endif
