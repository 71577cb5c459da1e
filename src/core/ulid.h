/* ulid.h - ULIDs (github.com/ulid/spec): ids that sort by creation time. */
#ifndef CARBON_ULID_H
#define CARBON_ULID_H
#include <stdbool.h>
#include <stdint.h>

/* A ULID is 128 bits, big-endian: a 48-bit Unix time in milliseconds, then 80
 * random bits. Its text form is 26 Crockford base32 characters (alphabet
 * 0123456789ABCDEFGHJKMNPQRSTVWXYZ): 10 for the time, 16 for the randomness.
 * 26 * 5 = 130 bits, so the first character carries only 3 bits (0..7) and
 * every 16-byte value has exactly one encoding; the largest is
 * 7ZZZZZZZZZZZZZZZZZZZZZZZZZ. Because the encoding is big-endian and the
 * alphabet is in ASCII order, strcmp order of canonical (upper-case) ULIDs
 * equals byte order, hence time order.
 *
 * Decoding is case-insensitive but otherwise strict: unlike the spec's
 * suggestion (Crockford's I/L -> 1, O -> 0, hyphens ignored), the letters
 * I, L, O and U, hyphens, whitespace and anything outside the alphabet are
 * rejected, as is any value above the maximum. The only alternative spelling
 * of a ULID is thus its letter case, and ulid_canonical removes that. */

#define ULID_LEN 26 /* characters, without the NUL */

/* State of one monotonic generator: the last ULID made (16 bytes, as
 * ulid_decode gives them) and its millisecond. Zero-initialize to start. */
struct ulid_state {
    int64_t last_ms;
    uint8_t last[16];
    bool have; /* false until the first ULID */
};

/* Pure: the next ULID after *st for time ms (ms in [0, 2^48)). If st has a
 * previous ULID with the same ms, the result is that ULID's random part + 1
 * (rnd unused); otherwise (first call, or any other ms, earlier ones included:
 * callers that must stay monotonic clamp ms themselves, as ulid_new does) the
 * random part is the 10 bytes of rnd. Writes 26 characters + NUL to out and
 * updates *st. Returns false, with out and *st untouched, if ms is out of
 * range or if the random part would overflow 80 bits within one millisecond. */
bool ulid_next(struct ulid_state *st, int64_t ms, const uint8_t rnd[10], char out[ULID_LEN + 1]);

/* Thread-safe process-wide generator: a ULID for the current wall-clock time
 * (or for ms, if ms >= 0), random bytes from OpenSSL RAND_bytes (a CSPRNG),
 * monotonic across all threads of the process (one mutex). If the time is
 * earlier than the last one used (the clock went backwards, or an earlier ms
 * was passed), the last ms is used again, so ids keep increasing. Returns
 * false, out untouched, if ms >= 2^48, if RAND_bytes fails, or on overflow of
 * the random part within one millisecond (2^80 ids; practically never). */
bool ulid_new(int64_t ms, char out[ULID_LEN + 1]);

/* True if s is exactly a valid ULID: 26 characters of the alphabet
 * (case-insensitive; no I, L, O, U), not above the maximum. NULL is invalid. */
bool ulid_valid(const char *s);

/* Decodes a valid ULID (either case) to its 16 bytes, big-endian. Returns
 * false, out untouched, if s is not valid. */
bool ulid_decode(const char *s, uint8_t out[16]);

/* Encodes any 16 bytes (big-endian) as 26 upper-case characters + NUL. Every
 * 16-byte value is encodable: the 2 spare bits of the 130 are the top bits of
 * the first character, which is therefore always 0..7. */
void ulid_encode(const uint8_t in[16], char out[ULID_LEN + 1]);

/* The timestamp (epoch milliseconds, 0 .. 2^48-1) of a valid ULID; -1 if s
 * is not valid. */
int64_t ulid_time_ms(const char *s);

/* Upper-cases a valid ULID in place (the canonical form, the one that sorts
 * with strcmp). Returns false, s untouched, if s is not valid. */
bool ulid_canonical(char *s);

#endif
