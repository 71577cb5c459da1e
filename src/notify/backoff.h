/* backoff.h - the retry schedule: capped exponential backoff with jitter,
 * a pure function of the attempt number and a caller-supplied random value. */
#ifndef CARBON_BACKOFF_H
#define CARBON_BACKOFF_H
#include <stdint.h>

enum backoff_jitter {
    BACKOFF_JITTER_NONE,  /* exactly min(cap, base * 2^attempt) */
    BACKOFF_JITTER_FULL,  /* uniform in [0, d] */
    BACKOFF_JITTER_EQUAL, /* d/2 + uniform in [0, d/2] */
};

/* The delay before retry number attempt (0 for the first retry):
 * d = min(cap_ms, base_ms * 2^attempt), without overflow for any attempt,
 * then jittered with rnd (any 64-bit random value; the same rnd gives the
 * same delay). retry_after_ms (the provider's Retry-After; <= 0 for none) is
 * a floor, itself capped at cap_ms so that a bogus or huge Retry-After cannot
 * hold an alarm back longer than the normal cap. base_ms <= 0 gives 0 (then
 * only the floor applies); cap_ms < base_ms is treated as base_ms. */
int64_t backoff_delay_ms(unsigned attempt, int64_t base_ms, int64_t cap_ms, enum backoff_jitter j,
                         uint64_t rnd, int64_t retry_after_ms);

#endif
