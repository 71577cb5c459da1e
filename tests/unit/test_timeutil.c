/* test_timeutil.c - RFC 3339 parsing/formatting and epoch-millisecond helpers
 * (src/core/timeutil.c), against public vectors: JSON-Schema-Test-Suite
 * draft2020-12 optional/format/date-time.json and strict-rfc3339's README. */
#include "core/timeutil.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static bool parse(const char *s, int64_t *ms)
{
    return rfc3339_parse(s, strlen(s), ms);
}

struct valid_vec {
    const char *s;
    int64_t ms;
};

/* Valid strings and their UTC epoch milliseconds (computed independently with
 * Python's datetime; fractions rounded to the nearest ms, half up; a leap
 * second folded into 23:59:59.999 UTC). */
static const struct valid_vec valid_vecs[] = {
    /* JSON-Schema-Test-Suite date-time.json, "valid": true */
    {"1963-06-19T08:30:06.283185Z", -206292593717},
    {"1963-06-19T08:30:06Z", -206292594000},
    {"1937-01-01T12:00:27.87+00:20", -1041337172130},
    {"1990-12-31T15:59:50.123-08:00", 662687990123},
    {"1998-12-31T23:59:60Z", 915148799999},
    {"1998-12-31T15:59:60.123-08:00", 915148799999},
    {"1963-06-19t08:30:06.283185z", -206292593717},
    {"1985-04-12T00:59:59.999999999999999Z", 482115600000}, /* rounds up a second */
    /* lower-case t and z without a fraction */
    {"1963-06-19t08:30:06z", -206292594000},
    /* offsets converted to UTC */
    {"1990-12-31T15:59:59-08:00", 662687999000},
    {"2026-11-25T16:00:00.123+01:00", 1795618800123},
    {"2026-11-25T15:00:00.123Z", 1795618800123},
    {"2026-11-25T15:00:00.123-00:00", 1795618800123},
    {"1970-01-01T00:30:00+01:00", -1800000},
    {"1969-12-31T16:00:00-08:00", 0},
    {"1970-01-01T00:00:00+23:59", -86340000},
    {"1970-01-01T00:00:00-23:59", 86340000},
    /* leap second given in a non-UTC offset: 23:59:60 UTC */
    {"1999-01-01T00:59:60+01:00", 915148799999},
    /* strict-rfc3339 README */
    {"2013-03-25T12:42:31+00:32", 1364213431000},
    /* epoch and its neighbours */
    {"1970-01-01T00:00:00Z", 0},
    {"1969-12-31T23:59:59.999Z", -1},
    {"1969-12-31T23:59:59.5Z", -500},
    {"2000-01-01T00:00:00Z", 946684800000},
    /* Feb 29: leap year, 400-year century, year 0000 */
    {"2000-02-29T00:00:00Z", 951782400000},
    {"2024-02-29T12:00:00Z", 1709208000000},
    {"1600-02-29T00:00:00Z", -11670998400000},
    {"0000-02-29T00:00:00Z", -62162121600000},
    {"1900-03-01T00:00:00Z", -2203891200000},
    /* range ends */
    {"0000-01-01T00:00:00Z", -62167219200000},
    {"0001-01-01T00:00:00Z", -62135596800000},
    {"9999-12-31T23:59:59.999Z", 253402300799999},
};

static void test_parse_valid_vectors(void **state)
{
    for (size_t i = 0; i < sizeof valid_vecs / sizeof *valid_vecs; i++) {
        int64_t ms = 42;
        if (!parse(valid_vecs[i].s, &ms))
            fail_msg("rfc3339_parse rejected valid \"%s\"", valid_vecs[i].s);
        if (ms != valid_vecs[i].ms)
            fail_msg("\"%s\": got %lld, want %lld", valid_vecs[i].s, (long long)ms,
                     (long long)valid_vecs[i].ms);
    }
}

static const char *const invalid_vecs[] = {
    /* JSON-Schema-Test-Suite date-time.json, "valid": false */
    "1998-12-31T23:59:61Z",
    "1998-12-31T23:58:60Z",
    "1998-12-31T22:59:60Z",
    "1990-02-31T15:59:59.123-08:00",
    "1990-12-31T15:59:59-24:00",
    "1963-06-19T08:30:06.28123+01:00Z",
    "1990-12-31T24:00:00Z",
    "1990-12-31T15:60:00Z",
    "1990-12-31T10:00:00+10:60",
    "06/19/1963 08:30:06 PST",
    "2013-350T01:01:01",
    "1963-6-19T08:30:06.283185Z",
    "1963-06-1T08:30:06.283185Z",
    "1963-06-1\xe0\xa7\xaaT00:00:00Z", /* Bengali digit four in the date */
    "1963-06-11T0\xe0\xa7\xaa:00:00Z", /* ... and in the time */
    "+11963-06-19T08:30:06.283185Z",
    /* leap second whose UTC instant is not 23:59:60 */
    "1998-12-31T23:59:60+01:00",
    "1998-12-31T15:59:60-07:00",
    /* missing or malformed offsets */
    "1990-12-31T15:59:59",
    "1990-12-31T15:59:59.123",
    "1990-12-31T15:59:59+01",
    "1990-12-31T15:59:59+0100",
    "1990-12-31T15:59:59+1:00",
    "1990-12-31T15:59:59+01:0",
    "1990-12-31T15:59:59 +01:00",
    "1990-12-31T15:59:59UTC",
    "1990-12-31T15:59:59.Z",
    "1990-12-31T15:59:59,5Z",
    /* trailing garbage */
    "1990-12-31T15:59:59Z ",
    "1990-12-31T15:59:59Zx",
    "1990-12-31T15:59:59ZZ",
    "1990-12-31T15:59:59+01:00x",
    "1990-12-31T15:59:59+01:00 ",
    /* bad separators and fields */
    "1990-12-31 15:59:59Z",
    "1990-12-31X15:59:59Z",
    "1990/12/31T15:59:59Z",
    "1990-12-31T15-59-59Z",
    "1990-00-10T00:00:00Z",
    "1990-13-10T00:00:00Z",
    "1990-12-00T00:00:00Z",
    "1990-12-32T00:00:00Z",
    "1990-04-31T00:00:00Z",
    "-990-12-31T15:59:59Z",
    " 1990-12-31T15:59:59Z",
    /* Feb 29 on non-leap years, including a century year */
    "2023-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2100-02-29T00:00:00Z",
    "2000-02-30T00:00:00Z",
    /* too short */
    "",
    "Z",
    "1990-12-31",
    "1990-12-31T15:59Z",
    "1990-12-31T15:59:5Z",
};

static void test_parse_invalid_vectors(void **state)
{
    for (size_t i = 0; i < sizeof invalid_vecs / sizeof *invalid_vecs; i++) {
        int64_t ms = 42;
        if (parse(invalid_vecs[i], &ms))
            fail_msg("rfc3339_parse accepted invalid \"%s\" as %lld", invalid_vecs[i],
                     (long long)ms);
        assert_int_equal(ms, 42); /* no partial result */
    }
}

static void test_parse_fraction_rounded(void **state)
{
    static const struct valid_vec v[] = {
        {"2000-01-01T00:00:00.1Z", 946684800100},
        {"2000-01-01T00:00:00.12Z", 946684800120},
        {"2000-01-01T00:00:00.123Z", 946684800123},
        {"2000-01-01T00:00:00.1234Z", 946684800123},
        {"2000-01-01T00:00:00.1235Z", 946684800124}, /* half rounds up */
        {"2000-01-01T00:00:00.1239Z", 946684800124},
        {"2000-01-01T00:00:00.12349999999Z", 946684800123},
        {"2000-01-01T00:00:00.0004Z", 946684800000},
        {"2000-01-01T00:00:00.0005Z", 946684800001},
        {"2000-01-01T00:00:00.0009Z", 946684800001},
        {"2000-01-01T00:00:00.000000000000000000000000000001Z", 946684800000},
        {"2000-01-01T00:00:00.9994Z", 946684800999},
        /* rounding up carries into the next second, day and year */
        {"2000-01-01T00:00:00.9999999Z", 946684801000},
        {"1999-12-31T23:59:59.9995Z", 946684800000},
        {"1999-12-31T15:59:59.9995-08:00", 946684800000},
        /* before the epoch */
        {"1969-12-31T23:59:59.9994Z", -1},
        {"1969-12-31T23:59:59.9995Z", 0},
        {"1969-12-31T23:59:59.0004Z", -1000},
        /* a leap second is always the last millisecond, whatever its fraction */
        {"1998-12-31T23:59:60.9999Z", 915148799999},
        {"1998-12-31T23:59:60.0001Z", 915148799999},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        int64_t ms = 0;
        if (!parse(v[i].s, &ms) || ms != v[i].ms)
            fail_msg("\"%s\": got %lld, want %lld", v[i].s, (long long)ms, (long long)v[i].ms);
    }
}

static void test_parse_respects_len(void **state)
{
    int64_t ms = 0;
    const char *s = "2000-01-01T00:00:00.123Zjunk";
    assert_true(rfc3339_parse(s, 24, &ms));
    assert_int_equal(ms, 946684800123);
    assert_false(rfc3339_parse(s, strlen(s), &ms));
    /* cut inside the offset or fraction */
    const char *o = "2000-01-01T01:00:00+01:00";
    assert_false(rfc3339_parse(o, strlen(o) - 1, &ms));
    assert_false(rfc3339_parse(s, 19, &ms));
    assert_false(rfc3339_parse(s, 20, &ms)); /* "...00." */
    assert_false(rfc3339_parse(s, 0, &ms));
    /* A fraction's digits end at len even if more digits follow. */
    assert_true(rfc3339_parse("2000-01-01T00:00:00.5Z", 22, &ms));
    assert_int_equal(ms, 946684800500);
}

static void test_format_known(void **state)
{
    char out[32];
    assert_int_equal(rfc3339_format(0, out), 24);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    assert_int_equal(rfc3339_format(-1, out), 24);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    rfc3339_format(-86400000, out);
    assert_string_equal(out, "1969-12-31T00:00:00.000Z");
    rfc3339_format(-86400001, out);
    assert_string_equal(out, "1969-12-30T23:59:59.999Z");
    rfc3339_format(1795618800123, out);
    assert_string_equal(out, "2026-11-25T15:00:00.123Z");
    rfc3339_format(951782400000, out);
    assert_string_equal(out, "2000-02-29T00:00:00.000Z");
    rfc3339_format(-206292593717, out);
    assert_string_equal(out, "1963-06-19T08:30:06.283Z");
    rfc3339_format(-62167219200000, out);
    assert_string_equal(out, "0000-01-01T00:00:00.000Z");
    rfc3339_format(253402300799999, out);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
}

/* Instants outside years 0000..9999 are clamped to the first or last
 * millisecond of that range, for every int64. */
static void test_format_clamps(void **state)
{
    static const int64_t big[] = {253402300800000, 10000000000000000, INT64_MAX / 2, INT64_MAX - 1,
                                  INT64_MAX};
    static const int64_t small[] = {-62167219200001,      -10000000000000000, INT64_MIN / 2,
                                    INT64_MIN + 86399998, INT64_MIN + 1,      INT64_MIN};
    char out[32];
    for (size_t i = 0; i < sizeof big / sizeof *big; i++) {
        assert_int_equal(rfc3339_format(big[i], out), 24);
        if (strcmp(out, "9999-12-31T23:59:59.999Z") != 0)
            fail_msg("%lld formatted as %s", (long long)big[i], out);
    }
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
        assert_int_equal(rfc3339_format(small[i], out), 24);
        if (strcmp(out, "0000-01-01T00:00:00.000Z") != 0)
            fail_msg("%lld formatted as %s", (long long)small[i], out);
    }
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
    /* xorshift64*: deterministic, so failures reproduce */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

static void roundtrip(int64_t ms)
{
    char out[32];
    int64_t back = 0;
    size_t n = rfc3339_format(ms, out);
    if (n != 24 || strlen(out) != 24)
        fail_msg("%lld formatted to \"%s\" (%zu)", (long long)ms, out, n);
    if (!rfc3339_parse(out, n, &back) || back != ms)
        fail_msg("%lld -> \"%s\" -> %lld", (long long)ms, out, (long long)back);
}

static void test_format_roundtrip(void **state)
{
    const int64_t lo = -62167219200000, hi = 253402300799999; /* 0000..9999 */
    static const int64_t fixed[] = {0,
                                    1,
                                    -1,
                                    999,
                                    -999,
                                    1000,
                                    -1000,
                                    86399999,
                                    -86400000,
                                    -86399999,
                                    951782400000,
                                    -2203891200000,
                                    -11670998400000,
                                    -62167219200000,
                                    253402300799999,
                                    4102444800000};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        roundtrip(fixed[i]);
    for (int i = 0; i < 200000; i++)
        roundtrip(lo + (int64_t)(rng() % (uint64_t)(hi - lo + 1)));
    /* Every day boundary of a few leap cycles around the epoch. */
    for (int64_t d = -3000; d <= 3000; d++) {
        roundtrip(d * 86400000);
        roundtrip(d * 86400000 - 1);
    }
}

static void test_epoch_seconds_to_ms(void **state)
{
    int64_t ms = 7;
    assert_true(epoch_seconds_to_ms(0, &ms));
    assert_int_equal(ms, 0);
    assert_true(epoch_seconds_to_ms(1700000000, &ms));
    assert_int_equal(ms, 1700000000000);
    assert_true(epoch_seconds_to_ms(1700000000.123, &ms));
    assert_int_equal(ms, 1700000000123);
    /* rounded to nearest, not truncated */
    assert_true(epoch_seconds_to_ms(1.0004, &ms));
    assert_int_equal(ms, 1000);
    assert_true(epoch_seconds_to_ms(1.0006, &ms));
    assert_int_equal(ms, 1001);
    assert_true(epoch_seconds_to_ms(0.0625, &ms)); /* exactly 62.5 ms */
    assert_int_equal(ms, 63);
    assert_true(epoch_seconds_to_ms(1.9999, &ms));
    assert_int_equal(ms, 2000);
    assert_true(epoch_seconds_to_ms(-1.0006, &ms));
    assert_int_equal(ms, -1001);
    assert_true(epoch_seconds_to_ms(-1.0004, &ms));
    assert_int_equal(ms, -1000);
    assert_true(epoch_seconds_to_ms(-0.0004, &ms));
    assert_int_equal(ms, 0);
    /* limits: +-1e13 s inclusive */
    assert_true(epoch_seconds_to_ms(1e13, &ms));
    assert_int_equal(ms, 10000000000000000);
    assert_true(epoch_seconds_to_ms(-1e13, &ms));
    assert_int_equal(ms, -10000000000000000);
    ms = 7;
    assert_false(epoch_seconds_to_ms(1e13 + 1, &ms));
    assert_false(epoch_seconds_to_ms(-1e13 - 1, &ms));
    assert_false(epoch_seconds_to_ms(1e300, &ms));
    assert_false(epoch_seconds_to_ms(NAN, &ms));
    assert_false(epoch_seconds_to_ms(-NAN, &ms));
    assert_false(epoch_seconds_to_ms(INFINITY, &ms));
    assert_false(epoch_seconds_to_ms(-INFINITY, &ms));
    assert_int_equal(ms, 7);
}

static void test_time_param_rfc3339(void **state)
{
    int64_t ms = 0;
    assert_true(time_param_parse("2026-11-25T16:00:00.123+01:00", &ms));
    assert_int_equal(ms, 1795618800123);
    assert_true(time_param_parse("1998-12-31T23:59:60Z", &ms));
    assert_int_equal(ms, 915148799999);
    assert_true(time_param_parse("2013-03-25T12:42:31+00:32", &ms));
    assert_int_equal(ms, 1364213431000);
}

static void test_time_param_epoch(void **state)
{
    struct {
        const char *s;
        int64_t ms;
    } v[] = {
        {"0", 0},
        {"1700000000", 1700000000000},
        {"1700000000.5", 1700000000500},
        {"1700000000.123", 1700000000123},
        {"-1.5", -1500},
        {"-0", 0},
        {".5", 500},
        {"5.", 5000},
        {"0001", 1000},
        {"10000000000000", 10000000000000000},
        {"-10000000000000", -10000000000000000},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        int64_t ms = 42;
        if (!time_param_parse(v[i].s, &ms) || ms != v[i].ms)
            fail_msg("time_param_parse(\"%s\") = %lld, want %lld", v[i].s, (long long)ms,
                     (long long)v[i].ms);
    }
    /* 64 characters is the longest accepted */
    char s64[65];
    memset(s64, '0', 64);
    s64[63] = '7';
    s64[64] = '\0';
    int64_t ms = 0;
    assert_true(time_param_parse(s64, &ms));
    assert_int_equal(ms, 7000);
}

static void test_time_param_garbage(void **state)
{
    static const char *const bad[] = {
        "",
        "-",
        ".",
        "-.",
        "--1",
        "+5",
        " 5",
        "5 ",
        "1.2.3",
        "1e3",
        "1E3",
        "0x10",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "Infinity",
        "1,5",
        "abc",
        "12abc",
        "10000000000001",
        "-10000000000001",
        "99999999999999999999",
        "2026-11-25",
        "2026-11-25T16:00:00",
        "2026-11-25T16:00:00Z ",
        "2026-13-25T16:00:00Z",
        "1998-12-31T23:58:60Z",
        "1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t ms = 42;
        if (time_param_parse(bad[i], &ms))
            fail_msg("time_param_parse accepted \"%s\" as %lld", bad[i], (long long)ms);
    }
    /* over 64 characters, even when the value would be fine */
    char s65[66];
    memset(s65, '0', 65);
    s65[64] = '1';
    s65[65] = '\0';
    int64_t ms = 0;
    assert_false(time_param_parse(s65, &ms));
}

static void test_clocks(void **state)
{
    int64_t now = time_now_ms();
    assert_true(now > 1700000000000); /* after Nov 2023 */
    assert_true(now < 4102444800000); /* before 2100 */
    int64_t a = time_mono_ns(), b = time_mono_ns();
    assert_true(b >= a);
    assert_true(a > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid_vectors),    cmocka_unit_test(test_parse_invalid_vectors),
        cmocka_unit_test(test_parse_fraction_rounded), cmocka_unit_test(test_parse_respects_len),
        cmocka_unit_test(test_format_known),           cmocka_unit_test(test_format_clamps),
        cmocka_unit_test(test_format_roundtrip),       cmocka_unit_test(test_epoch_seconds_to_ms),
        cmocka_unit_test(test_time_param_rfc3339),     cmocka_unit_test(test_time_param_epoch),
        cmocka_unit_test(test_time_param_garbage),     cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
