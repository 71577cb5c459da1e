/* test_ulid.c - ULIDs (src/core/ulid.c): the ulid/spec README examples,
 * strict case-insensitive decoding, the maximum, encode/decode round trips,
 * monotonic generation (pure and process-wide), ordering, threads. */
#include "core/ulid.h"
#include "core/timeutil.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_MS ((INT64_C(1) << 48) - 1)

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* A state positioned just after the ULID s, as if the generator made it. */
static struct ulid_state state_after(const char *s)
{
    struct ulid_state st = {0};
    if (!ulid_decode(s, st.last))
        fail_msg("state_after: %s does not decode", s);
    st.last_ms = ulid_time_ms(s);
    st.have = true;
    return st;
}

/* Deterministic bytes (xorshift64*), so a failing round trip reproduces. */
static uint64_t rng_state = 0x9E3779B97F4A7C15u;
static uint8_t rng_byte(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint8_t)((rng_state * 0x2545F4914F6CDD1Du) >> 56);
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

/* ---- the spec README examples ---- */

static void test_spec_monotonic_example(void **state)
{
    /* ulid/spec: monotonic() 01BX5ZZKBKACTAV9WEVGEMMVRZ, then ...MMVS0 in the
     * same millisecond (the random part + 1, carrying Z -> 0). */
    struct ulid_state st = state_after("01BX5ZZKBKACTAV9WEVGEMMVRZ");
    assert_int_equal(st.last_ms, 1508808576371);
    uint8_t rnd[10];
    memset(rnd, 0xAA, sizeof rnd); /* must be ignored within one millisecond */
    char out[ULID_LEN + 1];
    assert_true(ulid_next(&st, st.last_ms, rnd, out));
    assert_string_equal(out, "01BX5ZZKBKACTAV9WEVGEMMVS0");
    assert_true(ulid_next(&st, st.last_ms, rnd, out));
    assert_string_equal(out, "01BX5ZZKBKACTAV9WEVGEMMVS1");
    /* the state holds the bytes of the last ULID */
    uint8_t b[16];
    assert_true(ulid_decode("01BX5ZZKBKACTAV9WEVGEMMVS1", b));
    assert_memory_equal(st.last, b, 16);
}

static void test_spec_overflow_example(void **state)
{
    /* ulid/spec: ...ZZZX, ...ZZZY, ...ZZZZ, then an error. */
    struct ulid_state st = state_after("01BX5ZZKBKZZZZZZZZZZZZZZZX");
    const uint8_t rnd[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    char out[ULID_LEN + 1];
    assert_true(ulid_next(&st, st.last_ms, rnd, out));
    assert_string_equal(out, "01BX5ZZKBKZZZZZZZZZZZZZZZY");
    assert_true(ulid_next(&st, st.last_ms, rnd, out));
    assert_string_equal(out, "01BX5ZZKBKZZZZZZZZZZZZZZZZ");
    /* overflow: false, out and state untouched */
    struct ulid_state before = st;
    memset(out, '#', sizeof out);
    assert_false(ulid_next(&st, st.last_ms, rnd, out));
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], '#');
    assert_memory_equal(&st, &before, sizeof st);
    assert_false(ulid_next(&st, st.last_ms, rnd, out)); /* stays an error */
    /* the next millisecond starts afresh from rnd */
    assert_true(ulid_next(&st, st.last_ms + 1, rnd, out));
    assert_string_equal(out, "01BX5ZZKBM041061050R3GG28A");
}

static void test_spec_time_example(void **state)
{
    /* ulid/spec: 01ARYZ6S41TSV4RRFFQ69G5FAV has time 1469918176385. */
    assert_int_equal(ulid_time_ms("01ARYZ6S41TSV4RRFFQ69G5FAV"), 1469918176385);
    assert_int_equal(ulid_time_ms("01aryz6s41tsv4rrffq69g5fav"), 1469918176385);
    /* and that time encodes to the prefix 01ARYZ6S41 */
    struct ulid_state st = {0};
    const uint8_t rnd[10] = {0};
    char out[ULID_LEN + 1];
    assert_true(ulid_next(&st, 1469918176385, rnd, out));
    assert_string_equal(out, "01ARYZ6S410000000000000000");
    assert_int_equal(ulid_time_ms(out), 1469918176385);
    /* bytes of the spec example (cross-checked with Python int arithmetic) */
    static const uint8_t want[16] = {0x01, 0x56, 0x3d, 0xf3, 0x64, 0x81, 0xd6, 0x76,
                                     0x4c, 0x61, 0xef, 0xb9, 0x93, 0x02, 0xbd, 0x5b};
    uint8_t b[16];
    assert_true(ulid_decode("01ARYZ6S41TSV4RRFFQ69G5FAV", b));
    assert_memory_equal(b, want, 16);
    ulid_encode(want, out);
    assert_string_equal(out, "01ARYZ6S41TSV4RRFFQ69G5FAV");
}

/* ---- validity ---- */

static void test_maximum_and_minimum(void **state)
{
    uint8_t b[16];
    assert_true(ulid_valid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
    assert_true(ulid_decode("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", b));
    for (int i = 0; i < 16; i++)
        assert_int_equal(b[i], 0xFF);
    assert_int_equal(ulid_time_ms("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"), MAX_MS);
    assert_true(ulid_valid("7zzzzzzzzzzzzzzzzzzzzzzzzz"));
    assert_true(ulid_valid("00000000000000000000000000"));
    assert_true(ulid_decode("00000000000000000000000000", b));
    for (int i = 0; i < 16; i++)
        assert_int_equal(b[i], 0);
    assert_int_equal(ulid_time_ms("00000000000000000000000000"), 0);
    /* one above the maximum, and every first character above 7 */
    assert_false(ulid_valid("80000000000000000000000000"));
    assert_int_equal(ulid_time_ms("80000000000000000000000000"), -1);
    char s[] = "00000000000000000000000000";
    for (int v = 8; v < 32; v++) {
        s[0] = alphabet[v];
        if (ulid_valid(s))
            fail_msg("%s is above the maximum but accepted", s);
        if (ulid_decode(s, b))
            fail_msg("%s is above the maximum but decoded", s);
    }
    for (int v = 0; v < 8; v++) {
        s[0] = alphabet[v];
        if (!ulid_valid(s))
            fail_msg("%s rejected", s);
    }
    assert_false(ulid_valid("ZZZZZZZZZZZZZZZZZZZZZZZZZZ"));
    assert_false(ulid_valid("zzzzzzzzzzzzzzzzzzzzzzzzzz"));
}

/* Every function must refuse s and leave its output alone. */
static void check_invalid(const char *s, const char *what)
{
    if (ulid_valid(s))
        fail_msg("accepted %s: \"%s\"", what, s ? s : "(null)");
    uint8_t b[16], b0[16];
    memset(b, 0x5A, sizeof b);
    memcpy(b0, b, sizeof b);
    if (ulid_decode(s, b))
        fail_msg("decoded %s", what);
    if (memcmp(b, b0, sizeof b) != 0)
        fail_msg("decode of %s wrote its output", what);
    if (ulid_time_ms(s) != -1)
        fail_msg("time of %s is not -1", what);
    if (s) {
        char copy[64];
        snprintf(copy, sizeof copy, "%s", s);
        if (ulid_canonical(copy))
            fail_msg("canonicalized %s", what);
        if (strcmp(copy, s) != 0)
            fail_msg("canonical of %s changed it", what);
    } else if (ulid_canonical(NULL)) {
        fail_msg("canonicalized NULL");
    }
}

static void test_invalid_length(void **state)
{
    check_invalid(NULL, "NULL");
    check_invalid("", "the empty string");
    check_invalid("01ARZ3NDEKTSV4RRFFQ69G5FA", "25 characters");
    check_invalid("01ARZ3NDEKTSV4RRFFQ69G5FAV0", "27 characters");
    check_invalid("01ARZ3NDEKTSV4RRFFQ69G5FAV\n", "a trailing newline");
    check_invalid(" 01ARZ3NDEKTSV4RRFFQ69G5FAV", "a leading space");
    check_invalid("01ARZ3NDEK-TSV4RRFFQ69G5FAV", "the hyphenated form");
    check_invalid("01ARZ3NDEKTSV4RRFFQ69G5FAV01ARZ3NDEKTSV4RRFFQ69G5FAV", "two ULIDs");
    /* an embedded NUL makes the string 12 characters long */
    char s[] = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    s[12] = '\0';
    check_invalid(s, "an embedded NUL");
    assert_true(ulid_valid("01ARZ3NDEKTSV4RRFFQ69G5FAV")); /* the base is valid */
}

static void test_invalid_characters(void **state)
{
    /* Strict: Crockford's excluded letters (no I/L -> 1, O -> 0 mapping),
     * punctuation next to the alphabet's ASCII ranges, controls, non-ASCII. */
    static const char bad[] = "ILOUilou-_ @[`{/:.\t\x7f\x80\xc3\xff";
    for (size_t k = 0; k < sizeof bad - 1; k++) {
        for (int pos = 0; pos < ULID_LEN; pos += 5) {
            char s[] = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
            s[pos] = bad[k];
            char what[64];
            snprintf(what, sizeof what, "byte 0x%02x at %d", (unsigned char)bad[k], pos);
            check_invalid(s, what);
        }
    }
    /* multi-byte UTF-8 keeping the byte length at 26: e-acute, fullwidth 0 */
    check_invalid("01ARZ3NDEKTSV4RRFFQ69G5F\xc3\xa9", "UTF-8 e-acute");
    check_invalid("01ARZ3NDEKTSV4RRFFQ69G5\xef\xbc\x90", "UTF-8 fullwidth zero");
    check_invalid("\xef\xbc\x90"
                  "1ARZ3NDEKTSV4RRFFQ69G5F",
                  "leading fullwidth zero");
    /* every byte outside the alphabet (either case) is refused at one spot */
    for (int c = 1; c < 256; c++) {
        char s[] = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
        s[7] = (char)c;
        int up = c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
        bool in = up != 0 && strchr(alphabet, up) != NULL;
        if (ulid_valid(s) != in)
            fail_msg("byte 0x%02x: valid=%d, want %d", c, ulid_valid(s), in);
    }
}

static void test_lower_case(void **state)
{
    const char *upper = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    char lower[] = "01arz3ndektsv4rrffq69g5fav";
    char mixed[] = "01aRz3NdEkTsV4rRfFq69G5FaV";
    assert_true(ulid_valid(lower));
    assert_true(ulid_valid(mixed));
    uint8_t bu[16], bl[16], bm[16];
    assert_true(ulid_decode(upper, bu));
    assert_true(ulid_decode(lower, bl));
    assert_true(ulid_decode(mixed, bm));
    assert_memory_equal(bu, bl, 16);
    assert_memory_equal(bu, bm, 16);
    assert_int_equal(ulid_time_ms(lower), ulid_time_ms(upper));
    assert_true(ulid_canonical(lower));
    assert_string_equal(lower, upper);
    assert_true(ulid_canonical(mixed));
    assert_string_equal(mixed, upper);
    char again[] = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    assert_true(ulid_canonical(again)); /* already canonical: unchanged */
    assert_string_equal(again, upper);
    /* encode always writes upper case */
    char out[ULID_LEN + 1];
    ulid_encode(bl, out);
    assert_string_equal(out, upper);
}

/* ---- encoding ---- */

static void test_encode_vectors(void **state)
{
    /* Expected strings computed independently (Python int -> base32). */
    static const struct {
        uint8_t b[16];
        const char *s;
    } v[] = {
        {{0}, "00000000000000000000000000"},
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, "00000000000000000000000001"},
        {{0x80}, "40000000000000000000000000"},
        {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, "00041061050R3GG28A1C60T3GF"},
        {{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32,
          0x10},
         "014D2PF2DBSQQZXQ5TK1V58CGG"},
        {{0x01, 0x5f, 0x4b, 0xff, 0xcd, 0x73, 0x53, 0x34, 0xad, 0xa7, 0x8e, 0xdc, 0x1d, 0x4a, 0x6f,
          0x1f},
         "01BX5ZZKBKACTAV9WEVGEMMVRZ"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[ULID_LEN + 1];
        memset(out, '#', sizeof out);
        ulid_encode(v[i].b, out);
        assert_string_equal(out, v[i].s);
        uint8_t b[16];
        assert_true(ulid_decode(v[i].s, b));
        assert_memory_equal(b, v[i].b, 16);
    }
    /* Each single bit k (0 = least significant of the 128) lands in
     * character 25 - k/5 with value 1 << (k % 5); every other character is 0. */
    for (int k = 0; k < 128; k++) {
        uint8_t b[16] = {0};
        b[15 - k / 8] = (uint8_t)(1u << (k % 8));
        char out[ULID_LEN + 1], want[ULID_LEN + 1];
        memset(want, '0', ULID_LEN);
        want[ULID_LEN] = '\0';
        want[25 - k / 5] = alphabet[1 << (k % 5)];
        ulid_encode(b, out);
        if (strcmp(out, want) != 0)
            fail_msg("bit %d: got %s, want %s", k, out, want);
        uint8_t back[16];
        assert_true(ulid_decode(out, back));
        assert_memory_equal(back, b, 16);
    }
}

static void test_round_trip_random(void **state)
{
    /* Any 16 bytes encode (the 2 spare bits of 130 are in the first
     * character), so no bits need clearing; and string order is byte order. */
    enum { N = 20000 };
    uint8_t prev[16] = {0};
    char prev_s[ULID_LEN + 1] = "00000000000000000000000000";
    for (int n = 0; n < N; n++) {
        uint8_t b[16], back[16];
        for (int i = 0; i < 16; i++)
            b[i] = rng_byte();
        if (n % 4 == 1)
            memcpy(b, prev, 8); /* shared prefixes test the order of low bytes */
        char s[ULID_LEN + 1];
        ulid_encode(b, s);
        if (strlen(s) != ULID_LEN || !ulid_valid(s))
            fail_msg("encoding %d (%s) is not a valid ULID", n, s);
        if (s[0] > '7')
            fail_msg("encoding %d (%s) is above the maximum", n, s);
        assert_true(ulid_decode(s, back));
        if (memcmp(back, b, 16) != 0)
            fail_msg("round trip %d failed for %s", n, s);
        int64_t ms = 0;
        for (int i = 0; i < 6; i++)
            ms = ms << 8 | b[i];
        assert_int_equal(ulid_time_ms(s), ms);
        if (sign(memcmp(prev, b, 16)) != sign(strcmp(prev_s, s)))
            fail_msg("order of %s vs %s differs from byte order", prev_s, s);
        memcpy(prev, b, 16);
        memcpy(prev_s, s, sizeof s);
    }
}

/* ---- the pure generator ---- */

static void test_next_range(void **state)
{
    struct ulid_state st = {0};
    uint8_t rnd[10];
    memset(rnd, 0xFF, sizeof rnd);
    char out[ULID_LEN + 1];
    memset(out, '#', sizeof out);
    assert_false(ulid_next(&st, -1, rnd, out));
    assert_false(ulid_next(&st, MAX_MS + 1, rnd, out));
    assert_false(ulid_next(&st, INT64_MAX, rnd, out));
    assert_false(ulid_next(&st, INT64_MIN, rnd, out));
    assert_int_equal(out[0], '#');
    assert_false(st.have);
    assert_true(ulid_next(&st, MAX_MS, rnd, out));
    assert_string_equal(out, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
    assert_false(ulid_next(&st, MAX_MS, rnd, out)); /* the very last ULID */
    assert_true(ulid_next(&st, 0, rnd, out));
    assert_string_equal(out, "0000000000ZZZZZZZZZZZZZZZZ");
}

static void test_next_new_ms_uses_rnd(void **state)
{
    struct ulid_state st = {0};
    const uint8_t r1[10] = {0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80, 0x90, 0xA0};
    const uint8_t r2[10] = {0};
    char a[ULID_LEN + 1], b[ULID_LEN + 1];
    assert_true(ulid_next(&st, 1000, r1, a));
    assert_true(st.have);
    assert_int_equal(st.last_ms, 1000);
    uint8_t want[16] = {0, 0, 0, 0, 0x03, 0xE8};
    memcpy(want + 6, r1, 10);
    assert_memory_equal(st.last, want, 16);
    char enc[ULID_LEN + 1];
    ulid_encode(want, enc);
    assert_string_equal(a, enc);
    /* a later ms takes the new random bytes, not last + 1 */
    assert_true(ulid_next(&st, 1001, r2, b));
    assert_string_equal(b, "00000000Z90000000000000000");
    assert_true(strcmp(a, b) < 0);
    /* the pure function does not clamp: an earlier ms is taken as given
     * (ulid_new is the one that stays monotonic) */
    assert_true(ulid_next(&st, 999, r1, b));
    assert_int_equal(ulid_time_ms(b), 999);
    assert_true(strcmp(b, a) < 0);
    /* carry across random bytes within a millisecond: ...00FF FFFF -> ...0100 0000 */
    struct ulid_state s2 = {0};
    const uint8_t r3[10] = {0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_true(ulid_next(&s2, 5, r3, a));
    assert_true(ulid_next(&s2, 5, r3, b));
    static const uint8_t carried[16] = {0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    assert_memory_equal(s2.last, carried, 16);
    uint8_t db[16];
    assert_true(ulid_decode(b, db));
    assert_memory_equal(db, carried, 16);
}

/* ---- the process-wide generator ---- */

/* Must run first: later tests push the generator's last ms into the future,
 * after which (by design) wall-clock calls reuse that ms. */
static void test_new_current_time(void **state)
{
    char a[ULID_LEN + 1], b[ULID_LEN + 1];
    int64_t before = time_now_ms();
    assert_true(ulid_new(-1, a));
    assert_true(ulid_new(-1, b));
    int64_t after = time_now_ms();
    assert_true(ulid_valid(a));
    assert_int_equal(strlen(a), ULID_LEN);
    int64_t ta = ulid_time_ms(a), tb = ulid_time_ms(b);
    if (ta < before || tb > after || ta > tb)
        fail_msg("times %lld, %lld not within [%lld, %lld]", (long long)ta, (long long)tb,
                 (long long)before, (long long)after);
    assert_true(strcmp(a, b) < 0);
    /* upper case, ready to store */
    char c[ULID_LEN + 1];
    memcpy(c, a, sizeof c);
    assert_true(ulid_canonical(c));
    assert_string_equal(c, a);
}

static void test_new_out_of_range(void **state)
{
    char out[ULID_LEN + 1];
    memset(out, '#', sizeof out);
    assert_false(ulid_new(MAX_MS + 1, out));
    assert_false(ulid_new(INT64_MAX, out));
    assert_int_equal(out[0], '#');
    assert_true(ulid_new(-1, out)); /* the generator still works */
    assert_true(ulid_valid(out));
}

/* The random part of s plus one (80-bit big-endian), as bytes. */
static void random_plus_one(const char *s, uint8_t out[16])
{
    assert_true(ulid_decode(s, out));
    for (int i = 15; i >= 6 && ++out[i] == 0; i--)
        ;
}

static void test_new_clock_backwards(void **state)
{
    char a[ULID_LEN + 1], b[ULID_LEN + 1], c[ULID_LEN + 1];
    assert_true(ulid_new(-1, a));
    int64_t t = ulid_time_ms(a) + 100000; /* well ahead of the wall clock */
    assert_true(ulid_new(t, a));
    assert_int_equal(ulid_time_ms(a), t);
    /* an earlier time (explicit, or the wall clock, now behind) reuses t */
    assert_true(ulid_new(t - 1, b));
    assert_int_equal(ulid_time_ms(b), t);
    assert_true(strcmp(a, b) < 0);
    uint8_t want[16], got[16];
    random_plus_one(a, want);
    assert_true(ulid_decode(b, got));
    assert_memory_equal(got, want, 16);
    assert_true(ulid_new(-1, c));
    assert_int_equal(ulid_time_ms(c), t);
    assert_true(strcmp(b, c) < 0);
    assert_true(ulid_new(0, a));
    assert_int_equal(ulid_time_ms(a), t);
    assert_true(strcmp(c, a) < 0);
}

static int cmp_id(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void test_new_ordering(void **state)
{
    /* 100,000 ids: 50,000 in runs of 7 per millisecond, then 50,000 in one
     * millisecond. Each must be later than the one before (so all distinct),
     * carry the requested ms, and within a run be the previous + 1. */
    enum { N = 100000, HALF = N / 2 };
    char(*ids)[ULID_LEN + 1] = calloc(N, ULID_LEN + 1);
    assert_non_null(ids);
    char first[ULID_LEN + 1];
    assert_true(ulid_new(-1, first));
    int64_t base = ulid_time_ms(first) + 1; /* after anything made so far */
    int64_t prev_ms = -1;
    long fresh = 0, ones = 0;
    for (int i = 0; i < N; i++) {
        int64_t ms = i < HALF ? base + i / 7 : base + HALF / 7 + 1;
        if (!ulid_new(ms, ids[i]))
            fail_msg("ulid_new failed at %d", i);
        if (!ulid_valid(ids[i]) || ulid_time_ms(ids[i]) != ms)
            fail_msg("id %d (%s) does not carry ms %lld", i, ids[i], (long long)ms);
        const char *prev = i ? ids[i - 1] : first;
        if (strcmp(prev, ids[i]) >= 0)
            fail_msg("id %d (%s) does not sort after %s", i, ids[i], prev);
        uint8_t want[16], got[16];
        random_plus_one(prev, want);
        assert_true(ulid_decode(ids[i], got));
        if (ms == prev_ms && memcmp(got, want, 16) != 0)
            fail_msg("id %d (%s) is not %s + 1", i, ids[i], prev);
        if (ms != prev_ms) {
            /* a new millisecond draws 80 fresh CSPRNG bits: not last + 1
             * (chance 2^-80), and about half of them set overall */
            if (memcmp(got + 6, want + 6, 10) == 0)
                fail_msg("id %d (%s) continues %s across milliseconds", i, ids[i], prev);
            fresh++;
            for (int k = 6; k < 16; k++)
                for (uint8_t x = got[k]; x; x &= (uint8_t)(x - 1))
                    ones++;
        }
        prev_ms = ms;
    }
    /* 7144 fresh parts, 571520 bits: mean 285760, sd ~378; allow 49%..51%. */
    double frac = (double)ones / ((double)fresh * 80);
    if (fresh < 7000 || frac < 0.49 || frac > 0.51)
        fail_msg("%ld fresh random parts with %.4f of bits set", fresh, frac);
    /* sorting changes nothing: generation order is string order and time order */
    char(*sorted)[ULID_LEN + 1] = malloc((size_t)N * (ULID_LEN + 1));
    assert_non_null(sorted);
    memcpy(sorted, ids, (size_t)N * (ULID_LEN + 1));
    qsort(sorted, N, ULID_LEN + 1, cmp_id);
    assert_memory_equal(sorted, ids, (size_t)N * (ULID_LEN + 1));
    for (int i = 1; i < N; i++)
        if (ulid_time_ms(sorted[i - 1]) > ulid_time_ms(sorted[i]))
            fail_msg("sorted ids %d and %d out of time order", i - 1, i);
    free(sorted);
    free(ids);
}

enum { THREADS = 4, PER_THREAD = 25000 };

struct gen_job {
    char (*ids)[ULID_LEN + 1];
    int failures; /* calls that failed or went backwards within the thread */
};

static void *gen_thread(void *arg)
{
    struct gen_job *job = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        if (!ulid_new(-1, job->ids[i]) || (i && strcmp(job->ids[i - 1], job->ids[i]) >= 0))
            job->failures++;
    }
    return NULL;
}

static void test_new_threads(void **state)
{
    /* Concurrent callers share one monotonic sequence: no two ids equal, and
     * each thread sees its own ids increase. */
    char(*ids)[ULID_LEN + 1] = calloc((size_t)THREADS * PER_THREAD, ULID_LEN + 1);
    assert_non_null(ids);
    struct gen_job jobs[THREADS];
    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (struct gen_job){.ids = ids + (size_t)t * PER_THREAD};
        assert_int_equal(pthread_create(&th[t], NULL, gen_thread, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(pthread_join(th[t], NULL), 0);
        assert_int_equal(jobs[t].failures, 0);
    }
    size_t n = (size_t)THREADS * PER_THREAD;
    qsort(ids, n, ULID_LEN + 1, cmp_id);
    for (size_t i = 0; i < n; i++) {
        if (!ulid_valid(ids[i]))
            fail_msg("invalid id %s", ids[i]);
        if (i && strcmp(ids[i - 1], ids[i]) == 0)
            fail_msg("duplicate id %s", ids[i]);
    }
    free(ids);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_current_time), /* first: see its comment */
        cmocka_unit_test(test_spec_monotonic_example),
        cmocka_unit_test(test_spec_overflow_example),
        cmocka_unit_test(test_spec_time_example),
        cmocka_unit_test(test_maximum_and_minimum),
        cmocka_unit_test(test_invalid_length),
        cmocka_unit_test(test_invalid_characters),
        cmocka_unit_test(test_lower_case),
        cmocka_unit_test(test_encode_vectors),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_next_range),
        cmocka_unit_test(test_next_new_ms_uses_rnd),
        cmocka_unit_test(test_new_out_of_range),
        cmocka_unit_test(test_new_clock_backwards),
        cmocka_unit_test(test_new_ordering),
        cmocka_unit_test(test_new_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
