/* ratelimit.h - token buckets per key, bounded memory, thread-safe. */
#ifndef CARBON_RATELIMIT_H
#define CARBON_RATELIMIT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Keys are compared on at most this many bytes (longer keys are truncated). */
#define RATELIMIT_KEY_MAX 127
/* The victim of an eviction is chosen among this many least recently used keys. */
#define RATELIMIT_EVICT_SAMPLE 8
/* max_keys above this is clamped to it. The pool (~170 bytes a key) is
 * reserved up front; its pages are touched only as keys arrive. */
#define RATELIMIT_MAX_KEYS (1u << 24)

/* One limiter: a token bucket per key (a client address, "dev:<id>",
 * "login:<user>"...). Every bucket holds at most burst tokens and refills at
 * rate_per_s tokens a second; a new key starts full.
 *
 * Memory is bounded: at most max_keys buckets are held, in a pool allocated by
 * ratelimit_new (never more afterwards). When a new key arrives and the pool is
 * full, one held bucket is evicted: among the RATELIMIT_EVICT_SAMPLE least
 * recently used keys, the one with the most tokens at that moment (a full
 * bucket first: it carries no information, forgetting it is free), ties going
 * to the least recently used. A key is "used" by every ratelimit_take on it,
 * allowed or refused. Exact guarantees:
 *   - ratelimit_size() <= max_keys, whatever the keys;
 *   - a key is never evicted while fewer than max_keys - RATELIMIT_EVICT_SAMPLE
 *     other keys have been used since its own last use;
 *   - a key is evicted only if each other candidate has at most as many
 *     tokens as it has: a drained (limited) key is never pushed out by keys
 *     with tokens left, such as a flood of fresh keys taking one token each.
 * What eviction means for an attacker: a forgotten key comes back with a full
 * bucket. An attacker rotating through more distinct keys than max_keys (e.g.
 * IPv6 addresses) evicts mostly its own fresh buckets and gets up to burst
 * per key per rotation, as it would with unbounded memory; it cannot exhaust
 * memory, and it cannot cheaply reset a drained key of someone else (it would
 * have to drain RATELIMIT_EVICT_SAMPLE - 1 buckets of its own near the LRU end
 * first). Limit per address prefix (an IPv6 /64) and keep a global limit too;
 * size max_keys above the number of legitimately active clients.
 *
 * Keys are hashed with SipHash-2-4 (OpenSSL's EVP_MAC "SIPHASH") under a
 * random 128-bit key drawn per limiter, so an attacker cannot aim keys at one
 * hash chain. Thread-safe: one mutex per limiter, held only for the table
 * lookup and the token arithmetic (the hash is computed before locking). */
struct ratelimit;

/* A limiter of rate_per_s tokens a second, burst capacity (values below 1, or
 * NaN, count as 1) and at most max_keys buckets (0 counts as 1, more than
 * RATELIMIT_MAX_KEYS as RATELIMIT_MAX_KEYS). Returns NULL if rate_per_s <= 0
 * or NaN: no limit, and every function below accepts NULL (take always
 * allows). Also NULL if allocation or the CSPRNG fails: a caller that asked
 * for rate_per_s > 0 and got NULL must treat it as that error, not as
 * "unlimited". Free with ratelimit_free. */
struct ratelimit *ratelimit_new(double rate_per_s, double burst, size_t max_keys);
/* Frees rl and every bucket. NULL is a no-op. No call may be in progress. */
void ratelimit_free(struct ratelimit *rl);

/* Takes cost tokens from key's bucket at time now_ms (any clock in ms, the
 * same for every call on rl). Returns true if allowed (the tokens are taken,
 * *retry_after_s is set to 0). Returns false if the bucket holds fewer than
 * cost tokens: nothing is taken, and *retry_after_s (>= 1, rounded up) is set
 * to the seconds until cost tokens will be there if the key stays idle.
 * cost > burst can never be met and is always refused, with *retry_after_s set
 * to the seconds until the bucket is full (>= 1): such a request should be
 * rejected as too large rather than retried. A cost below 0 or NaN counts as 0
 * (allowed, nothing taken; the key still counts as used).
 * A clock going backwards adds no tokens: a bucket refills only when now_ms
 * passes the latest time it has seen. Keys are byte strings compared on their
 * first RATELIMIT_KEY_MAX bytes: longer keys are truncated, so all keys with
 * the same first RATELIMIT_KEY_MAX bytes share one bucket. A NULL key counts
 * as "". retry_after_s may be NULL. A NULL rl always allows. */
bool ratelimit_take(struct ratelimit *rl, const char *key, double cost, int64_t now_ms,
                    int *retry_after_s);
/* Sets key's bucket back to full (e.g. a successful login clearing its
 * account's failures). A full bucket carries no information, so the key is
 * simply forgotten: ratelimit_size() drops by one if it was held. */
void ratelimit_reset(struct ratelimit *rl, const char *key);
/* Number of keys held (for tests and metrics); 0 for NULL. */
size_t ratelimit_size(struct ratelimit *rl);

#endif
