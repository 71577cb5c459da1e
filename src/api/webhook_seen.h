/* webhook_seen.h - Twilio webhook requests already handled, so that a
 * captured, validly signed request replayed later has no effect (a signature
 * covers the URL and the parameters, not a time), and a throttle for the
 * webhooks' warnings.
 *
 * The keys are the ids Twilio gives each request it makes: the MessageSid of
 * an inbound SMS, the CallSid and Digits of a key pressed during a call. They
 * are kept in memory (lost at a restart), in a ring of WEBHOOK_SEEN_CAP, each
 * for WEBHOOK_SEEN_TTL_MS, under a mutex. One per server, in struct app. */
#ifndef CARBON_WEBHOOK_SEEN_H
#define CARBON_WEBHOOK_SEEN_H
#include <stdbool.h>
#include <stdint.h>

#define WEBHOOK_SEEN_CAP 4096
#define WEBHOOK_SEEN_TTL_MS (24LL * 3600 * 1000)
#define WEBHOOK_SEEN_BUSY (-1) /* a result: the first request is still being handled */
#define WEBHOOK_WARN_EVERY_MS 1000

struct webhook_seen;

/* NULL when out of memory. */
struct webhook_seen *webhook_seen_new(void);
void webhook_seen_free(struct webhook_seen *w);

/* True if key was recorded at most WEBHOOK_SEEN_TTL_MS before now_ms (a
 * monotonic clock) and is among the WEBHOOK_SEEN_CAP newest: *result is what
 * webhook_seen_done recorded for it, or WEBHOOK_SEEN_BUSY. Otherwise records
 * key (its result WEBHOOK_SEEN_BUSY) and returns false: the caller handles
 * the request, then calls webhook_seen_done, or webhook_seen_forget if it
 * failed and a retry of the same request should be handled again. Check and
 * record are one step: of two identical requests at once, one is handled.
 * w NULL: always false, nothing recorded. */
bool webhook_seen_check(struct webhook_seen *w, const char *key, int64_t now_ms, int *result);
/* Records the outcome (>= 0) of handling key, for the answer to a repeat. */
void webhook_seen_done(struct webhook_seen *w, const char *key, int result);
/* Forgets key. */
void webhook_seen_forget(struct webhook_seen *w, const char *key);

/* A warning that a flood could repeat: true at most once per
 * WEBHOOK_WARN_EVERY_MS of now_ms (a monotonic clock), with *suppressed how
 * many calls got false since the last true. Lock-free (an atomic timestamp
 * and an atomic count). w NULL: always true, *suppressed 0. */
bool webhook_warn_due(struct webhook_seen *w, int64_t now_ms, uint64_t *suppressed);

#endif
