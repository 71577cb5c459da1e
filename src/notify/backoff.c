/* backoff.c - capped exponential backoff with full or equal jitter. */
#include "notify/backoff.h"

int64_t backoff_delay_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, enum backoff_jitter j,
                         uint64_t rnd, int64_t retry_after_ms)
{
    if (base_ms < 0)
        base_ms = 0;
    if (cap_ms < base_ms)
        cap_ms = base_ms;
    int64_t d = base_ms;
    for (unsigned i = 0; i < attempt && d > 0 && d < cap_ms; i++)
        d = d > cap_ms / 2 ? cap_ms : d * 2;
    if (d > cap_ms)
        d = cap_ms;
    switch (j) {
    case BACKOFF_JITTER_FULL:
        d = (int64_t)(rnd % ((uint64_t)d + 1));
        break;
    case BACKOFF_JITTER_EQUAL:
        d = d - d / 2 + (int64_t)(rnd % ((uint64_t)(d / 2) + 1));
        break;
    case BACKOFF_JITTER_NONE:
    default:
        break;
    }
    int64_t floor = retry_after_ms > cap_ms ? cap_ms : retry_after_ms;
    return d < floor ? floor : d;
}
