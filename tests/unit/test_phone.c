/* test_phone.c - E.164 validation and normalisation, the calling-code table and emergency
 * short numbers (src/core/phone.c, src/core/phone_countries.c). Example numbers are the
 * regulators' drama/fictional ranges where they exist (Ofcom 020 7946 0xxx, NANP 555-01xx). */
#include "core/phone.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct ok_vec {
    const char *in, *country, *want;
};

struct err_vec {
    const char *in, *country;
    enum phone_err want;
};

static void check_ok(const struct ok_vec *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char out[PHONE_MAX + 1];
        enum phone_err rc = phone_normalize(v[i].in, v[i].country, out);
        if (rc != PHONE_OK || strcmp(out, v[i].want) != 0)
            fail_msg("\"%s\" (%s): rc %d out \"%s\", want %s", v[i].in,
                     v[i].country ? v[i].country : "NULL", (int)rc, out, v[i].want);
        assert_true(phone_valid_e164(out));
    }
}

static void check_err(const struct err_vec *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char out[PHONE_MAX + 1] = "garbage";
        enum phone_err rc = phone_normalize(v[i].in, v[i].country, out);
        if (rc != v[i].want)
            fail_msg("\"%s\" (%s): rc %d, want %d (out \"%s\")", v[i].in ? v[i].in : "NULL",
                     v[i].country ? v[i].country : "NULL", (int)rc, (int)v[i].want, out);
        assert_string_equal(out, "");
    }
}

#define CHECK_OK(vecs) check_ok(vecs, sizeof vecs / sizeof vecs[0])
#define CHECK_ERR(vecs) check_err(vecs, sizeof vecs / sizeof vecs[0])

static void test_e164_passthrough(void **state)
{
    static const struct ok_vec v[] = {
        {"+14155550100", NULL, "+14155550100"},
        {"+442079460958", NULL, "+442079460958"},
        {"+4930123456", NULL, "+4930123456"},
        {"+390612345678", NULL, "+390612345678"},
        {"+79161234567", NULL, "+79161234567"},
        {"+861012345678", NULL, "+861012345678"},
        {"+299321000", NULL, "+299321000"},             /* Greenland: 6-digit national, 9 in all */
        {"+298123456", NULL, "+298123456"},             /* Faroe Islands */
        {"+6834002", NULL, "+6834002"},                 /* Niue fixed line: 7 digits in all */
        {"+6903101", NULL, "+6903101"},                 /* Tokelau */
        {"+2908999", NULL, "+2908999"},                 /* Tristan da Cunha */
        {"+491234567890123", NULL, "+491234567890123"}, /* 15 digits: the E.164 maximum */
        {"+29012345", NULL, "+29012345"},               /* St Helena: 5-digit numbers */
        {"+88216123456", NULL, "+88216123456"},         /* non-geographic (Thuraya) */
        {"+442079460958", "ZZ", "+442079460958"},       /* country ignored for + numbers */
        {"+442079460958", "FR", "+442079460958"},
    };
    CHECK_OK(v);
}

static void test_separators(void **state)
{
    static const struct ok_vec v[] = {
        {"+1 (415) 555-0100", NULL, "+14155550100"},
        {"+44 20 7946 0958", NULL, "+442079460958"},
        {"+44.20.7946.0958", NULL, "+442079460958"},
        {"+49/30/123456", NULL, "+4930123456"},
        {"  +33 6 12 34 56 78  ", NULL, "+33612345678"},
        {"+33\t6-12-34-56-78", NULL, "+33612345678"},
        {"(+44) 20 7946 0958", NULL, "+442079460958"},
        {"415.555.0100", "US", "+14155550100"},
        {"415/555-0100", "US", "+14155550100"},
        {"(030) 123-456", "DE", "+4930123456"},
    };
    CHECK_OK(v);
}

static void test_trunk_prefix(void **state)
{
    static const struct ok_vec v[] = {
        {"020 7946 0958", "GB", "+442079460958"},
        {"030 123456", "DE", "+4930123456"},
        {"06 12 34 56 78", "FR", "+33612345678"},
        {"0412 345 678", "AU", "+61412345678"},
        {"090-1234-5678", "JP", "+819012345678"},
        {"021 123 4567", "ZA", "+27211234567"},
        {"0803 123 4567", "NG", "+2348031234567"},
        {"0712 345678", "KE", "+254712345678"},
        {"0912 345 6789", "IN", "+919123456789"},
        {"011 2345 6789", "BR", "+551123456789"},
        {"010-1234-5678", "KR", "+821012345678"},
        {"612 345 678", "ES", "+34612345678"},       /* no trunk prefix */
        {"0612 345 678", "ES", "+34612345678"},      /* a habitual 0 is dropped all the same */
        {"8 (916) 123-45-67", "RU", "+79161234567"}, /* trunk 8 */
        {"916 123 45 67", "RU", "+79161234567"},
        {"8 701 123 4567", "KZ", "+77011234567"},
        {"8 029 123 45 67", "BY", "+375291234567"}, /* "8 0" */
        {"06 1 234 5678", "HU", "+3612345678"},     /* "06" */
        {"01 55 1234 5678", "MX", "+525512345678"}, /* pre-2019 "01" */
        {"55 1234 5678", "MX", "+525512345678"},
        {"88 123 45 67", "UZ", "+998881234567"}, /* 88 is a range, not a trunk 8 */
        /* a trunk 0 kept after the calling code */
        {"+44 (0)20 7946 0958", NULL, "+442079460958"},
        {"+44 020 7946 0958", NULL, "+442079460958"},
        {"+49 (0)30 123456", NULL, "+4930123456"},
        {"0044 (0) 20 7946 0958", NULL, "+442079460958"},
    };
    CHECK_OK(v);
}

/* Where 0 is part of the number it stays, written nationally or after the calling code. */
static void test_leading_zero_kept(void **state)
{
    static const struct ok_vec v[] = {
        {"06 1234 5678", "IT", "+390612345678"},     {"02 1234 5678", "it", "+390212345678"},
        {"+39 06 1234 5678", NULL, "+390612345678"}, {"+39 (0)6 1234 5678", NULL, "+390612345678"},
        {"333 123 4567", "IT", "+393331234567"}, /* mobiles start with 3 */
        {"06 6988 1022", "VA", "+390669881022"}, /* the Vatican is on Rome's +39 06 */
        {"0549 123456", "SM", "+3780549123456"},     {"07 07 12 34 56", "CI", "+2250707123456"},
        {"01 97 12 34 56", "BJ", "+2290197123456"},  {"06 612 3456", "CG", "+242066123456"},
    };
    CHECK_OK(v);
}

static void test_nanp(void **state)
{
    static const struct ok_vec v[] = {
        {"(415) 555-0100", "US", "+14155550100"},   {"1-415-555-0100", "US", "+14155550100"},
        {"1 (415) 555-0100", "us", "+14155550100"}, {"+1 415 555 0100", NULL, "+14155550100"},
        {"1 (604) 555-0123", "CA", "+16045550123"}, {"787 555 0123", "PR", "+17875550123"},
        {"876-555-0123", "JM", "+18765550123"},     {"1 808 555 0123", "UM", "+18085550123"},
    };
    CHECK_OK(v);
}

static void test_international_prefix(void **state)
{
    static const struct ok_vec v[] = {
        {"0044 20 7946 0958", NULL, "+442079460958"},
        {"0044 20 7946 0958", "DE", "+442079460958"},
        {"00 1 415 555 0100", "FR", "+14155550100"},
        {"011 44 20 7946 0958", "US", "+442079460958"},
        {"011 49 30 123456", "CA", "+4930123456"},
        {"011 44 20 7946 0958", "JM", "+442079460958"},
        {"0011 44 20 7946 0958", "AU", "+442079460958"}, /* not "00" + 1 144... */
        {"010 1 415 555 0100", "JP", "+14155550100"},
        {"810 44 20 7946 0958", "RU", "+442079460958"},
        {"000 44 20 7946 0958", "KE", "+442079460958"},
        {"00 44 20 7946 0958", "KE", "+442079460958"},
        /* "011" is international only in the NANP: in GB 0114 is Sheffield */
        {"0114 496 0000", "GB", "+441144960000"},
    };
    CHECK_OK(v);
}

static void test_table(void **state)
{
    size_t nanp = 0;
    assert_true(phone_countries_len >= 240);
    for (size_t i = 0; i < phone_countries_len; i++) {
        const struct phone_country *c = &phone_countries[i];
        assert_int_equal(strlen(c->iso2), 2);
        assert_true(c->iso2[0] >= 'A' && c->iso2[0] <= 'Z' && c->iso2[1] >= 'A' &&
                    c->iso2[1] <= 'Z');
        if (i)
            assert_true(strcmp(phone_countries[i - 1].iso2, c->iso2) < 0); /* sorted, unique */
        if (!phone_code_assigned(c->code))
            fail_msg("%s: +%d is not an assigned calling code", c->iso2, c->code);
        assert_int_equal(phone_country_code(c->iso2), c->code);
        assert_non_null(c->trunk);
        assert_int_equal(strspn(c->trunk, "0123456789|"), strlen(c->trunk));
        if (c->idd)
            assert_true(c->idd[0] && strspn(c->idd, "0123456789|") == strlen(c->idd));
        nanp += c->code == 1;
        /* Every country accepts a plain national number. */
        char out[PHONE_MAX + 1], want[PHONE_MAX + 1];
        size_t min = 0, max = 99;
        for (size_t j = 0; j < phone_plan_lens_len; j++)
            if (phone_plan_lens[j].code == c->code)
                min = phone_plan_lens[j].min, max = phone_plan_lens[j].max;
        const char *national = min <= 10 && max >= 10 ? "234 567 8901" : "2345";
        assert_int_equal(phone_normalize(national, c->iso2, out), PHONE_OK);
        snprintf(want, sizeof want, "+%d%s", c->code,
                 min <= 10 && max >= 10 ? "2345678901" : "2345");
        assert_string_equal(out, want);
    }
    assert_int_equal(nanp, 26);

    static const struct {
        const char *iso2;
        int code;
    } spot[] = {
        {"US", 1},   {"CA", 1},   {"PR", 1},   {"JM", 1},   {"GB", 44},  {"GG", 44},  {"JE", 44},
        {"IM", 44},  {"IN", 91},  {"CN", 86},  {"BR", 55},  {"NG", 234}, {"ZA", 27},  {"AU", 61},
        {"NZ", 64},  {"JP", 81},  {"KR", 82},  {"RU", 7},   {"KZ", 7},   {"FR", 33},  {"DE", 49},
        {"IT", 39},  {"ES", 34},  {"MX", 52},  {"AR", 54},  {"EG", 20},  {"KE", 254}, {"GL", 299},
        {"FO", 298}, {"VA", 39},  {"SM", 378}, {"XK", 383}, {"TW", 886}, {"PS", 970}, {"EH", 212},
        {"AX", 358}, {"SJ", 47},  {"CW", 599}, {"BQ", 599}, {"SX", 1},   {"MF", 590}, {"BL", 590},
        {"RE", 262}, {"YT", 262}, {"SH", 290}, {"IO", 246}, {"TL", 670}, {"SS", 211}, {"AQ", 672},
        {"NF", 672}, {"PN", 64},  {"UM", 1},   {"TF", 262}, {"GS", 500},
    };
    for (size_t i = 0; i < sizeof spot / sizeof spot[0]; i++)
        if (phone_country_code(spot[i].iso2) != spot[i].code)
            fail_msg("%s: got %d, want %d", spot[i].iso2, phone_country_code(spot[i].iso2),
                     spot[i].code);
}

static void test_plan_lens(void **state)
{
    for (size_t i = 0; i < phone_plan_lens_len; i++) {
        const struct phone_plan_len *p = &phone_plan_lens[i];
        char cc[8];
        assert_true(phone_code_assigned(p->code));
        assert_true(p->min >= 4 && p->min <= p->max);
        assert_true((size_t)snprintf(cc, sizeof cc, "%u", p->code) + p->max <= 15);
    }
}

/* The assigned set: ascending, prefix-free, and every geographic code is used by a country. */
static void test_calling_codes(void **state)
{
    static const int unused_by_table[] = {247, 800, 808, 870, 878, 881, 882, 883, 888, 979};
    assert_true(phone_calling_codes_len > 200);
    for (size_t i = 0; i < phone_calling_codes_len; i++) {
        int code = phone_calling_codes[i];
        assert_true(code >= 1 && code <= 999);
        if (i)
            assert_true(phone_calling_codes[i - 1] < code);
        for (size_t j = 0; j < phone_calling_codes_len; j++) {
            int other = phone_calling_codes[j];
            if (other != code && (other / 10 == code || other / 100 == code))
                fail_msg("+%d is a prefix of +%d", code, other);
        }
        bool used = false;
        for (size_t j = 0; j < phone_countries_len; j++)
            used |= phone_countries[j].code == code;
        bool expect_unused = false;
        for (size_t j = 0; j < sizeof unused_by_table / sizeof unused_by_table[0]; j++)
            expect_unused |= unused_by_table[j] == code;
        if (used == expect_unused)
            fail_msg("+%d: used by a country %d, expected %d", code, used, !expect_unused);
    }
    /* spare or reserved */
    static const int not_assigned[] = {0,   2,   28,  280, 289, 210, 259, 379, 388, 422,  671, 684,
                                       801, 851, 875, 879, 969, 990, 991, 997, 999, 1000, -1};
    for (size_t i = 0; i < sizeof not_assigned / sizeof not_assigned[0]; i++)
        assert_false(phone_code_assigned(not_assigned[i]));
    assert_true(phone_code_assigned(1));
    assert_true(phone_code_assigned(998));
}

static void test_country_code(void **state)
{
    assert_int_equal(phone_country_code("GB"), 44);
    assert_int_equal(phone_country_code("gb"), 44);
    assert_int_equal(phone_country_code("Gb"), 44);
    assert_int_equal(phone_country_code("us"), 1);
    assert_int_equal(phone_country_code("ZZ"), 0);
    assert_int_equal(phone_country_code("UK"), 0); /* not an ISO 3166-1 code: GB is */
    assert_int_equal(phone_country_code(""), 0);
    assert_int_equal(phone_country_code("G"), 0);
    assert_int_equal(phone_country_code("GBR"), 0);
    assert_int_equal(phone_country_code(" GB"), 0);
    assert_int_equal(phone_country_code("G1"), 0);
    assert_int_equal(phone_country_code(NULL), 0);
}

static void test_case_insensitive_country(void **state)
{
    static const struct ok_vec v[] = {
        {"020 7946 0958", "gb", "+442079460958"},
        {"020 7946 0958", "gB", "+442079460958"},
        {"(415) 555-0100", "Us", "+14155550100"},
        {"06 1234 5678", "it", "+390612345678"},
    };
    CHECK_OK(v);
}

static void test_errors(void **state)
{
    char digits70[71];
    memset(digits70, '5', 70);
    digits70[70] = '\0';
    const struct err_vec v[] = {
        {NULL, "GB", PHONE_EMPTY},
        {"", "GB", PHONE_EMPTY},
        {"   ", "GB", PHONE_EMPTY},
        {"+", NULL, PHONE_EMPTY},
        {"( - )", "US", PHONE_EMPTY},
        {"abc", "GB", PHONE_BAD_CHARS},
        {"+1 415 555 CALL", NULL, PHONE_BAD_CHARS},
        {"415x5550100", "US", PHONE_BAD_CHARS},
        {"4155550100 ext 2", "US", PHONE_BAD_CHARS},
        {"415555#0100", "US", PHONE_BAD_CHARS},
        {"+1+4155550100", NULL, PHONE_BAD_CHARS},
        {"1+4155550100", NULL, PHONE_BAD_CHARS},
        {"++14155550100", NULL, PHONE_BAD_CHARS},
        {"+1\n4155550100", NULL, PHONE_BAD_CHARS},
        {"\xef\xbc\x8b"
         "14155550100",
         NULL, PHONE_BAD_CHARS}, /* fullwidth plus */
        {"+0123456789", NULL, PHONE_BAD_CALLING_CODE},
        {"+999 1234 5678", NULL, PHONE_BAD_CALLING_CODE},
        {"+28 1234 5678", NULL, PHONE_BAD_CALLING_CODE},
        {"+379 123 4567", NULL, PHONE_BAD_CALLING_CODE}, /* Vatican's unused code */
        {"+875 1234 5678", NULL, PHONE_BAD_CALLING_CODE},
        {"0099 1234 5678", NULL, PHONE_BAD_CALLING_CODE},
        {"+9", NULL, PHONE_TOO_SHORT},
        {"+1 415 555", NULL, PHONE_TOO_SHORT},
        {"+44 1234", NULL, PHONE_TOO_SHORT},
        {"+4412345", NULL, PHONE_TOO_SHORT}, /* 7 digits: only +290/+683/+690 allow that */
        {"+683 400", NULL, PHONE_TOO_SHORT}, /* 6 digits */
        {"555 0100", "US", PHONE_TOO_SHORT}, /* no area code */
        {"0", "GB", PHONE_TOO_SHORT},
        {"00", NULL, PHONE_TOO_SHORT},
        {"+4912345678901234", NULL, PHONE_TOO_LONG}, /* 16 digits */
        {"+1234567890123456", NULL, PHONE_TOO_LONG},
        {"+1 415 555 01000", NULL, PHONE_TOO_LONG}, /* NANP numbers have 10 digits */
        {"+7 916 123 45 678", NULL, PHONE_TOO_LONG},
        {"+7 916 123 45 6", NULL, PHONE_TOO_SHORT},
        {"+290 123456", NULL, PHONE_TOO_LONG},
        {"+683 888 40001", NULL, PHONE_TOO_LONG},
        {"+44 20 7946 0958 1234", NULL, PHONE_TOO_LONG},
        {"0612 3456 7890 1234", "FR", PHONE_TOO_LONG},
        {digits70, "US", PHONE_TOO_LONG},
        {"020 7946 0958", "ZZ", PHONE_UNKNOWN_COUNTRY},
        {"020 7946 0958", "GBR", PHONE_UNKNOWN_COUNTRY},
        {"020 7946 0958", "UK", PHONE_UNKNOWN_COUNTRY},
        {"020 7946 0958", "g", PHONE_UNKNOWN_COUNTRY},
        {"011 44 20 7946 0958", "ZZ", PHONE_UNKNOWN_COUNTRY},
        {"020 7946 0958", NULL, PHONE_NEED_COUNTRY},
        {"020 7946 0958", "", PHONE_NEED_COUNTRY},
        {"(415) 555-0100", NULL, PHONE_NEED_COUNTRY},
        {"14155550100", NULL, PHONE_NEED_COUNTRY}, /* digits alone are never assumed to be E.164 */
    };
    CHECK_ERR(v);
}

static void test_emergency(void **state)
{
    static const struct err_vec v[] = {
        {"112", NULL, PHONE_EMERGENCY},         {"112", "DE", PHONE_EMERGENCY},
        {"1-1-2", "FR", PHONE_EMERGENCY},       {"+112", NULL, PHONE_EMERGENCY},
        {"911", NULL, PHONE_EMERGENCY},         {"911", "US", PHONE_EMERGENCY},
        {"(911)", "US", PHONE_EMERGENCY},       {"9 1 1", "CA", PHONE_EMERGENCY},
        {"1-911", "US", PHONE_EMERGENCY},       {"+1 911", NULL, PHONE_EMERGENCY},
        {"011 1 911", "US", PHONE_EMERGENCY},   {"999", "GB", PHONE_EMERGENCY},
        {"999", NULL, PHONE_EMERGENCY},         {"+44 999", NULL, PHONE_EMERGENCY},
        {"+44 (0) 999", NULL, PHONE_EMERGENCY}, {"0044 999", NULL, PHONE_EMERGENCY},
        {"000", "AU", PHONE_EMERGENCY},         {"000", NULL, PHONE_EMERGENCY},
        {"111", "NZ", PHONE_EMERGENCY},         {"110", "DE", PHONE_EMERGENCY},
        {"119", "JP", PHONE_EMERGENCY},         {"15", "FR", PHONE_EMERGENCY},
        {"17", "FR", PHONE_EMERGENCY},          {"18", "FR", PHONE_EMERGENCY},
        {"100", "IN", PHONE_EMERGENCY},         {"101", "IN", PHONE_EMERGENCY},
        {"102", "IN", PHONE_EMERGENCY},         {"108", "IN", PHONE_EMERGENCY},
        {"118", "IT", PHONE_EMERGENCY},         {"061", "ES", PHONE_EMERGENCY},
        {"08", NULL, PHONE_EMERGENCY},          {"10111", "ZA", PHONE_EMERGENCY},
        {"8 112", "RU", PHONE_EMERGENCY},
    };
    CHECK_ERR(v);
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (!phone_is_emergency(v[i].in))
            fail_msg("phone_is_emergency(\"%s\") is false", v[i].in);
}

static void test_is_emergency_false(void **state)
{
    static const char *const not_emergency[] = {
        "+14155550100",
        "(415) 555-0100",
        "020 7946 0958",
        "+442079460958",
        "1234",
        "9110",
        "+44 9999",
        "abc",
        "911x",
        "",
        "+",
        "12",
        "1 2",
    };
    for (size_t i = 0; i < sizeof not_emergency / sizeof not_emergency[0]; i++)
        if (phone_is_emergency(not_emergency[i]))
            fail_msg("phone_is_emergency(\"%s\") is true", not_emergency[i]);
    assert_false(phone_is_emergency(NULL));
}

static void test_valid_e164(void **state)
{
    assert_true(phone_valid_e164("+14155550100"));
    assert_true(phone_valid_e164("+442079460958"));
    assert_true(phone_valid_e164("+390612345678"));
    assert_true(phone_valid_e164("+6834002"));
    assert_true(phone_valid_e164("+491234567890123"));
    assert_false(phone_valid_e164(NULL));
    assert_false(phone_valid_e164(""));
    assert_false(phone_valid_e164("+"));
    assert_false(phone_valid_e164("14155550100"));
    assert_false(phone_valid_e164("+1 415 555 0100"));
    assert_false(phone_valid_e164("+1-415-555-0100"));
    assert_false(phone_valid_e164("0044 20 7946 0958"));
    assert_false(phone_valid_e164("+4402079460958")); /* normalises to +442079460958 */
    assert_false(phone_valid_e164("+0123456789"));
    assert_false(phone_valid_e164("+1234567890123456"));
    assert_false(phone_valid_e164("+1911"));
    assert_false(phone_valid_e164("+4412345"));
    assert_false(phone_valid_e164("+14155550100 "));
}

static void test_strerror(void **state)
{
    for (int e = PHONE_OK; e <= PHONE_EMERGENCY; e++) {
        const char *m = phone_strerror((enum phone_err)e);
        assert_non_null(m);
        assert_true(strlen(m) > 1);
        for (int f = PHONE_OK; f < e; f++)
            assert_string_not_equal(m, phone_strerror((enum phone_err)f));
    }
    assert_non_null(strstr(phone_strerror(PHONE_NEED_COUNTRY), "+14155550100"));
    assert_non_null(phone_strerror((enum phone_err)99));
}

/* Normalising an output again gives it back, for every example above and every country. */
static void test_idempotent(void **state)
{
    static const struct ok_vec v[] = {
        {"020 7946 0958", "GB", NULL},   {"06 1234 5678", "IT", NULL},
        {"(415) 555-0100", "US", NULL},  {"0549 123456", "SM", NULL},
        {"8 916 123 45 67", "RU", NULL}, {"0044 20 7946 0958", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char a[PHONE_MAX + 1], b[PHONE_MAX + 1];
        assert_int_equal(phone_normalize(v[i].in, v[i].country, a), PHONE_OK);
        for (size_t j = 0; j < phone_countries_len; j++) {
            assert_int_equal(phone_normalize(a, phone_countries[j].iso2, b), PHONE_OK);
            assert_string_equal(a, b);
        }
        assert_int_equal(phone_normalize(a, NULL, b), PHONE_OK);
        assert_string_equal(a, b);
        assert_false(phone_is_emergency(a));
    }
}

static void test_mask(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } v[] = {
        {"+14155550101", "+1********01"},   /* NANP: +1, 10 national digits */
        {"+447700900123", "+44********23"}, /* UK */
        {"+4930123456", "+49******56"},     /* Germany, a short number */
        {"+390612345678", "+39********78"}, /* Italy: the 0 is masked too */
        {"+35312345678", "+353******78"},   /* a 3-digit calling code */
        {"+79161234567", "+7********67"},
        {"+2901234", "+290****"},       /* 4 national digits: all masked */
        {"+8821234567", "+882*****67"}, /* a non-geographic code */
        {"+1415", "+1***"},             /* not valid E.164, yet shaped like it */
        {"+1", "+1"},
        {NULL, "(invalid)"},
        {"", "(invalid)"},
        {"+", "(invalid)"},
        {"4155550101", "(invalid)"},  /* national */
        {"+0123456789", "(invalid)"}, /* no calling code starts with 0 */
        {"+14155550101x", "(invalid)"},
        {"+1 415 555 0101", "(invalid)"},
        {"+1234567890123456", "(invalid)"}, /* 16 digits */
        {"++14155550101", "(invalid)"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char out[PHONE_MAX + 1];
        memset(out, 'x', sizeof out);
        phone_mask(v[i].in, out);
        if (strcmp(out, v[i].want) != 0)
            fail_msg("phone_mask(%s) = \"%s\", want \"%s\"", v[i].in ? v[i].in : "NULL", out,
                     v[i].want);
    }
    /* The national digits other than the last two never show. */
    char out[PHONE_MAX + 1];
    phone_mask("+442079460958", out);
    assert_null(strstr(out, "2079"));
    assert_null(strstr(out, "946"));
    assert_int_equal(strlen(out), strlen("+442079460958"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_e164_passthrough),
        cmocka_unit_test(test_separators),
        cmocka_unit_test(test_trunk_prefix),
        cmocka_unit_test(test_leading_zero_kept),
        cmocka_unit_test(test_nanp),
        cmocka_unit_test(test_international_prefix),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_calling_codes),
        cmocka_unit_test(test_plan_lens),
        cmocka_unit_test(test_country_code),
        cmocka_unit_test(test_case_insensitive_country),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_emergency),
        cmocka_unit_test(test_is_emergency_false),
        cmocka_unit_test(test_valid_e164),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_idempotent),
        cmocka_unit_test(test_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
