/* fw_backoff.h - exponential backoff with jitter for the uplink's retries.
 *
 * The n-th consecutive failure waits about min_ms * 2^(n-1), capped at
 * max_ms, with "equal jitter": half of that step fixed, the other half drawn
 * from the caller's random number, so that many devices that lost the
 * network together do not all come back in the same second. */
#ifndef CARBON_FW_BACKOFF_H
#define CARBON_FW_BACKOFF_H
#include <stdint.h>

struct fw_backoff {
    int64_t min_ms;
    int64_t max_ms;
    int64_t step_ms;   /* the current un-jittered step; 0 after a success */
    uint32_t failures; /* consecutive */
};

void fw_backoff_init(struct fw_backoff *b, int64_t min_ms, int64_t max_ms);
/* Records a failure; returns the delay before the next try:
 * step/2 + rnd % (step/2 + 1), where step doubles from min_ms up to max_ms. */
int64_t fw_backoff_fail(struct fw_backoff *b, uint32_t rnd);
/* Records a success: the next failure starts again from min_ms. */
void fw_backoff_reset(struct fw_backoff *b);

#endif
