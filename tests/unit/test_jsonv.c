/* test_jsonv.c - typed, validating JSON getters and the body parser
 * (src/core/jsonv.c): every getter's required/optional/null/type/range paths,
 * and that every refusal names its field. */
#include "core/jsonv.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Parses a test document (which must be valid). */
static json_t *doc(const char *text)
{
    char err[200];
    json_t *j = jv_parse(text, strlen(text), err, sizeof err);
    if (!j)
        fail_msg("test document does not parse: %s: %s", text, err);
    return j;
}

static void assert_err(const struct jv_err *e, const char *field, const char *reason_part)
{
    if (strcmp(e->field, field) != 0)
        fail_msg("error names field \"%s\", want \"%s\" (reason: %s)", e->field, field, e->reason);
    if (!strstr(e->reason, reason_part))
        fail_msg("reason for %s is \"%s\", want it to mention \"%s\"", field, e->reason,
                 reason_part);
}

/* ---- jv_string ---- */

static void test_string_ok(void **state)
{
    json_t *j = doc("{\"name\":\"kitchen\",\"empty\":\"\",\"utf\":\"h\\u00e9\"}");
    struct jv_err e = {0};
    const char *s = NULL;
    bool present = false;
    assert_true(jv_string(j, "name", true, 1, 64, &s, &present, &e));
    assert_true(present);
    assert_string_equal(s, "kitchen");
    assert_true(jv_string(j, "name", false, 7, 7, &s, NULL, &e)); /* bounds inclusive */
    assert_true(jv_string(j, "empty", true, 0, 10, &s, &present, &e));
    assert_string_equal(s, "");
    assert_true(jv_string(j, "utf", true, 1, 10, &s, NULL, &e));
    assert_string_equal(s, "h\xc3\xa9");
    json_decref(j);
}

static void test_string_absent_and_null(void **state)
{
    json_t *j = doc("{\"n\":null}");
    struct jv_err e = {0};
    const char *s = "untouched";
    bool present = true;
    /* optional: absent and null both mean "not given", *out left alone */
    assert_true(jv_string(j, "missing", false, 1, 10, &s, &present, &e));
    assert_false(present);
    assert_string_equal(s, "untouched");
    present = true;
    assert_true(jv_string(j, "n", false, 1, 10, &s, &present, &e));
    assert_false(present);
    assert_string_equal(s, "untouched");
    assert_true(jv_string(j, "missing", false, 1, 10, &s, NULL, &e)); /* present may be NULL */
    /* required */
    assert_false(jv_string(j, "missing", true, 1, 10, &s, &present, &e));
    assert_err(&e, "missing", "required");
    memset(&e, 0, sizeof e);
    assert_false(jv_string(j, "n", true, 1, 10, &s, NULL, &e));
    assert_err(&e, "n", "required");
    assert_string_equal(s, "untouched");
    json_decref(j);
}

static void test_string_wrong_type(void **state)
{
    json_t *j = doc("{\"i\":1,\"r\":1.5,\"b\":true,\"f\":false,\"o\":{},\"a\":[]}");
    static const struct {
        const char *key, *type;
    } v[] = {{"i", "a number"},  {"r", "a number"},  {"b", "a boolean"},
             {"f", "a boolean"}, {"o", "an object"}, {"a", "an array"}};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        struct jv_err e = {0};
        const char *s = "untouched";
        assert_false(jv_string(j, v[i].key, false, 0, 10, &s, NULL, &e));
        assert_err(&e, v[i].key, "must be a string");
        assert_err(&e, v[i].key, v[i].type);
        assert_string_equal(s, "untouched");
    }
    json_decref(j);
}

static void test_string_length(void **state)
{
    json_t *j = doc("{\"s\":\"abcde\",\"e\":\"\"}");
    struct jv_err e = {0};
    const char *s = "untouched";
    assert_false(jv_string(j, "s", true, 1, 4, &s, NULL, &e));
    assert_err(&e, "s", "1 to 4");
    assert_err(&e, "s", "got 5");
    assert_false(jv_string(j, "s", true, 6, 10, &s, NULL, &e));
    assert_err(&e, "s", "6 to 10");
    assert_false(jv_string(j, "e", true, 1, 64, &s, NULL, &e));
    assert_err(&e, "e", "got 0");
    assert_string_equal(s, "untouched");
    json_decref(j);
}

static void test_string_embedded_nul(void **state)
{
    json_t *j = doc("{\"s\":\"a\\u0000b\"}");
    struct jv_err e = {0};
    const char *s = "untouched";
    assert_false(jv_string(j, "s", true, 0, 64, &s, NULL, &e));
    assert_err(&e, "s", "NUL");
    assert_string_equal(s, "untouched");
    json_decref(j);
}

/* ---- jv_number ---- */

static void test_number_ok(void **state)
{
    json_t *j = doc("{\"i\":5,\"r\":2.5,\"neg\":-40,\"z\":0,\"big\":10000}");
    struct jv_err e = {0};
    double d = -1;
    bool present = false;
    assert_true(jv_number(j, "i", true, 0, 10, &d, &present, &e));
    assert_true(present);
    assert_true(d == 5.0);
    assert_true(jv_number(j, "r", true, 0, 10, &d, NULL, &e));
    assert_true(d == 2.5);
    assert_true(jv_number(j, "neg", true, -40, 125, &d, NULL, &e)); /* min inclusive */
    assert_true(d == -40.0);
    assert_true(jv_number(j, "big", true, 0, 10000, &d, NULL, &e)); /* max inclusive */
    assert_true(d == 10000.0);
    assert_true(jv_number(j, "z", true, 0, 0, &d, NULL, &e));
    assert_true(d == 0.0);
    json_decref(j);
}

static void test_number_absent_null_type_range(void **state)
{
    json_t *j = doc("{\"n\":null,\"s\":\"5\",\"b\":true,\"a\":[1],\"o\":{\"x\":1},"
                    "\"lo\":-0.001,\"hi\":10000.5}");
    struct jv_err e = {0};
    double d = 42;
    bool present = true;
    assert_true(jv_number(j, "missing", false, 0, 1, &d, &present, &e));
    assert_false(present);
    present = true;
    assert_true(jv_number(j, "n", false, 0, 1, &d, &present, &e));
    assert_false(present);
    assert_false(jv_number(j, "missing", true, 0, 1, &d, NULL, &e));
    assert_err(&e, "missing", "required");
    assert_false(jv_number(j, "n", true, 0, 1, &d, NULL, &e));
    assert_err(&e, "n", "required");
    assert_false(jv_number(j, "s", true, 0, 10, &d, NULL, &e));
    assert_err(&e, "s", "must be a number, not a string");
    assert_false(jv_number(j, "b", true, 0, 10, &d, NULL, &e));
    assert_err(&e, "b", "not a boolean");
    assert_false(jv_number(j, "a", true, 0, 10, &d, NULL, &e));
    assert_err(&e, "a", "not an array");
    assert_false(jv_number(j, "o", true, 0, 10, &d, NULL, &e));
    assert_err(&e, "o", "not an object");
    assert_false(jv_number(j, "lo", true, 0, 10000, &d, NULL, &e));
    assert_err(&e, "lo", "between 0 and 10000");
    assert_false(jv_number(j, "hi", true, 0, 10000, &d, NULL, &e));
    assert_err(&e, "hi", "between 0 and 10000");
    assert_true(d == 42);
    json_decref(j);
}

/* Values built in C (not parsed) can hold NaN/inf; the getter must refuse them. */
static void test_number_not_finite(void **state)
{
    json_t *j = json_object();
    json_object_set_new(j, "nan", json_real(NAN));
    json_object_set_new(j, "inf", json_real(INFINITY));
    struct jv_err e = {0};
    double d = 42;
    /* jansson refuses to create non-finite reals; if it ever does, jv_number must refuse. */
    if (json_object_get(j, "nan")) {
        assert_false(jv_number(j, "nan", true, -INFINITY, INFINITY, &d, NULL, &e));
        assert_err(&e, "nan", "between");
    }
    if (json_object_get(j, "inf")) {
        assert_false(jv_number(j, "inf", true, -INFINITY, INFINITY, &d, NULL, &e));
        assert_err(&e, "inf", "between");
    }
    assert_true(d == 42);
    json_decref(j);
}

/* ---- jv_int ---- */

static void test_int(void **state)
{
    json_t *j = doc("{\"i\":600,\"neg\":-3,\"r\":5.0,\"f\":5.5,\"s\":\"600\",\"b\":false,"
                    "\"n\":null,\"max\":9223372036854775807,\"min\":-9223372036854775808}");
    struct jv_err e = {0};
    int64_t v = 42;
    bool present = false;
    assert_true(jv_int(j, "i", true, 30, 2592000, &v, &present, &e));
    assert_true(present);
    assert_int_equal(v, 600);
    assert_true(jv_int(j, "i", true, 600, 600, &v, NULL, &e));
    assert_true(jv_int(j, "neg", true, -3, 0, &v, NULL, &e));
    assert_int_equal(v, -3);
    assert_true(jv_int(j, "max", true, INT64_MIN, INT64_MAX, &v, NULL, &e));
    assert_int_equal(v, INT64_MAX);
    assert_true(jv_int(j, "min", true, INT64_MIN, INT64_MAX, &v, NULL, &e));
    assert_true(v == INT64_MIN);
    v = 42;
    present = true;
    assert_true(jv_int(j, "n", false, 0, 1, &v, &present, &e));
    assert_false(present);
    assert_true(jv_int(j, "missing", false, 0, 1, &v, &present, &e));
    assert_int_equal(v, 42);
    assert_false(jv_int(j, "missing", true, 0, 1, &v, NULL, &e));
    assert_err(&e, "missing", "required");
    assert_false(jv_int(j, "n", true, 0, 1, &v, NULL, &e));
    assert_err(&e, "n", "required");
    assert_false(jv_int(j, "r", true, 0, 10, &v, NULL, &e));
    assert_err(&e, "r", "must be an integer");
    assert_false(jv_int(j, "f", true, 0, 10, &v, NULL, &e));
    assert_err(&e, "f", "must be an integer, not a fraction");
    assert_false(jv_int(j, "s", true, 0, 1000, &v, NULL, &e));
    assert_err(&e, "s", "not a string");
    assert_false(jv_int(j, "b", true, 0, 1000, &v, NULL, &e));
    assert_err(&e, "b", "not a boolean");
    assert_false(jv_int(j, "i", true, 30, 599, &v, NULL, &e));
    assert_err(&e, "i", "between 30 and 599");
    assert_false(jv_int(j, "i", true, 601, 700, &v, NULL, &e));
    assert_err(&e, "i", "between 601 and 700");
    assert_false(jv_int(j, "neg", true, 0, 10, &v, NULL, &e));
    assert_err(&e, "neg", "between 0 and 10");
    assert_int_equal(v, 42);
    json_decref(j);
}

/* A getter on something that is not an object finds nothing. */
static void test_getters_on_non_object(void **state)
{
    json_t *a = doc("[1,2]");
    struct jv_err e = {0};
    const char *s = NULL;
    double d;
    int64_t i;
    bool present = true;
    assert_false(jv_string(a, "x", true, 0, 1, &s, NULL, &e));
    assert_err(&e, "x", "required");
    assert_true(jv_number(a, "x", false, 0, 1, &d, &present, &e));
    assert_false(present);
    assert_false(jv_int(a, "y", true, 0, 1, &i, NULL, &e));
    assert_err(&e, "y", "required");
    json_decref(a);
}

static void test_jv_fail_truncates(void **state)
{
    struct jv_err e;
    char longfield[200];
    memset(longfield, 'f', sizeof longfield - 1);
    longfield[sizeof longfield - 1] = '\0';
    jv_fail(&e, longfield, "%s", longfield);
    assert_int_equal(strlen(e.field), sizeof e.field - 1);
    assert_int_equal(strlen(e.reason), sizeof e.reason - 1);
    jv_fail(&e, "co_ppm", "must be between %g and %g", 0.0, 10000.0);
    assert_string_equal(e.field, "co_ppm");
    assert_string_equal(e.reason, "must be between 0 and 10000");
}

/* ---- jv_only_keys ---- */

static void test_only_keys(void **state)
{
    static const char *const allowed[] = {"id", "name", "location", NULL};
    static const char *const none[] = {NULL};
    struct jv_err e = {0};
    json_t *ok = doc("{\"id\":\"a\",\"name\":\"b\"}");
    assert_true(jv_only_keys(ok, allowed, &e));
    json_t *empty = doc("{}");
    assert_true(jv_only_keys(empty, allowed, &e));
    assert_true(jv_only_keys(empty, none, &e));
    assert_false(jv_only_keys(ok, none, &e));
    json_t *bad = doc("{\"id\":\"a\",\"colour\":\"red\"}");
    assert_false(jv_only_keys(bad, allowed, &e));
    assert_err(&e, "colour", "not a known field");
    /* case matters; prefixes are not matches */
    json_t *bad2 = doc("{\"Name\":1}");
    assert_false(jv_only_keys(bad2, allowed, &e));
    assert_err(&e, "Name", "not a known field");
    json_t *bad3 = doc("{\"loc\":1}");
    assert_false(jv_only_keys(bad3, allowed, &e));
    assert_err(&e, "loc", "not a known field");
    /* a long unknown key is shown shortened, not overflowing */
    char text[300], key[201];
    memset(key, 'k', 200);
    key[200] = '\0';
    snprintf(text, sizeof text, "{\"%s\":1}", key);
    json_t *bad4 = doc(text);
    assert_false(jv_only_keys(bad4, allowed, &e));
    assert_int_equal(strlen(e.field), 40);
    assert_memory_equal(e.field, key, 40);
    json_decref(ok);
    json_decref(empty);
    json_decref(bad);
    json_decref(bad2);
    json_decref(bad3);
    json_decref(bad4);
}

/* ---- jv_valid_id ---- */

static void test_valid_id(void **state)
{
    char id[80];
    memset(id, 'a', sizeof id);
    id[64] = '\0';
    assert_true(jv_valid_id(id)); /* 64: the maximum */
    id[64] = 'a';
    id[65] = '\0';
    assert_false(jv_valid_id(id)); /* 65 */
    id[79] = '\0';
    assert_false(jv_valid_id(id));
    assert_false(jv_valid_id(""));
    assert_true(jv_valid_id("a"));
    assert_true(jv_valid_id("kitchen-01"));
    assert_true(jv_valid_id("AZaz09._:-"));
    assert_true(jv_valid_id("esp32:24:6f:28:aa:bb:cc"));
    static const char *const bad[] = {"a b",  "a/b",         "a%20b",  "a?b",  "a#b", "a@b",
                                      "a\"b", "a\\b",        "a+b",    "a,b",  "a;b", "a\tb",
                                      "a\nb", "caf\xc3\xa9", "..\xff", "{id}", "a*",  "~"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (jv_valid_id(bad[i]))
            fail_msg("jv_valid_id accepted \"%s\"", bad[i]);
    /* a bad character after 64 good ones is still refused (not a crash) */
    memset(id, 'a', 64);
    id[64] = '/';
    id[65] = '\0';
    assert_false(jv_valid_id(id));
}

/* ---- jv_parse ---- */

static void parse_fails(const char *text, size_t len, const char *why_part)
{
    char err[200] = "";
    json_t *j = jv_parse(text, len, err, sizeof err);
    if (j) {
        json_decref(j);
        fail_msg("jv_parse accepted %.60s", text);
    }
    if (strncmp(err, "invalid JSON", 12) != 0)
        fail_msg("message for %.60s is \"%s\"", text, err);
    if (why_part && !strstr(err, why_part))
        fail_msg("message for %.60s is \"%s\", want it to mention \"%s\"", text, err, why_part);
}

static void test_parse_ok(void **state)
{
    char err[200];
    const char *t = "{\"a\":[1,2.5,\"x\",null,true,{\"b\":{}}]}";
    json_t *j = jv_parse(t, strlen(t), err, sizeof err);
    assert_non_null(j);
    assert_true(json_is_array(json_object_get(j, "a")));
    json_decref(j);
    t = "  [ ]  \n";
    j = jv_parse(t, strlen(t), err, sizeof err);
    assert_non_null(j);
    json_decref(j);
    /* only len bytes are read */
    t = "{}garbage";
    j = jv_parse(t, 2, err, sizeof err);
    assert_non_null(j);
    json_decref(j);
    /* same key in different objects is fine */
    t = "{\"a\":{\"k\":1},\"b\":{\"k\":2}}";
    j = jv_parse(t, strlen(t), err, sizeof err);
    assert_non_null(j);
    json_decref(j);
}

static void test_parse_rejects(void **state)
{
#define PF(s, why) parse_fails(s, strlen(s), why)
    PF("{\"a\":1,\"a\":2}", "duplicate");
    PF("{\"a\":{\"b\":1,\"b\":1}}", "duplicate");
    PF("{\"co_ppm\":NaN}", NULL);
    PF("{\"co_ppm\":nan}", NULL);
    PF("{\"co_ppm\":Infinity}", NULL);
    PF("{\"co_ppm\":-Infinity}", NULL);
    PF("{\"co_ppm\":inf}", NULL);
    PF("{\"co_ppm\":1e999}", NULL);
    PF("{\"co_ppm\":-1e999}", NULL);
    PF("{\"co_ppm\":1E+400}", NULL);
    PF("{\"n\":99999999999999999999999}", NULL); /* integer overflow */
    PF("{} x", NULL);
    PF("{}{}", NULL);
    PF("[1] ,", NULL);
    PF("{\"a\":1,}", NULL);
    PF("[1,]", NULL);
    PF("{'a':1}", NULL);
    PF("{a:1}", NULL);
    PF("{\"a\":01}", NULL);
    PF("{\"a\":.5}", NULL);
    PF("{\"a\":+1}", NULL);
    PF("{\"a\":0x10}", NULL);
    PF("{\"a\":\"\\ud800\"}", NULL);  /* lone surrogate */
    PF("{\"a\":\"\xc3\x28\"}", NULL); /* invalid UTF-8 */
    PF("{\"a\":\"\xff\"}", NULL);
    PF("{\"a\":\"line\nbreak\"}", NULL); /* raw control character */
    PF("{\"a\":1", NULL);
    PF("", NULL);
    PF("   ", NULL);
    PF("// comment\n{}", NULL);
    /* a body must be an object or array */
    PF("null", NULL);
    PF("1", NULL);
    PF("\"str\"", NULL);
    PF("true", NULL);
#undef PF
    /* an embedded NUL byte outside a string */
    parse_fails("{}\0{}", 5, NULL);
}

static void test_parse_error_position(void **state)
{
    char err[200];
    const char *t = "{\n  \"a\": 1,\n  \"a\": 2\n}";
    json_t *j = jv_parse(t, strlen(t), err, sizeof err);
    assert_null(j);
    assert_non_null(strstr(err, "line 3"));
    /* a short buffer is truncated, still terminated */
    char small[16];
    memset(small, 'x', sizeof small);
    assert_null(jv_parse("{", 1, small, sizeof small));
    assert_int_equal(strlen(small), sizeof small - 1);
}

static void test_parse_depth_limited(void **state)
{
    char err[200];
    size_t depth = 100000;
    char *t = malloc(2 * depth + 1);
    assert_non_null(t);
    memset(t, '[', depth);
    memset(t + depth, ']', depth);
    t[2 * depth] = '\0';
    json_t *j = jv_parse(t, 2 * depth, err, sizeof err);
    assert_null(j);
    /* moderate nesting is fine */
    size_t ok = 64;
    memmove(t + ok, t + 2 * depth - ok, ok);
    j = jv_parse(t, 2 * ok, err, sizeof err);
    assert_non_null(j);
    json_decref(j);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_string_ok),
        cmocka_unit_test(test_string_absent_and_null),
        cmocka_unit_test(test_string_wrong_type),
        cmocka_unit_test(test_string_length),
        cmocka_unit_test(test_string_embedded_nul),
        cmocka_unit_test(test_number_ok),
        cmocka_unit_test(test_number_absent_null_type_range),
        cmocka_unit_test(test_number_not_finite),
        cmocka_unit_test(test_int),
        cmocka_unit_test(test_getters_on_non_object),
        cmocka_unit_test(test_jv_fail_truncates),
        cmocka_unit_test(test_only_keys),
        cmocka_unit_test(test_valid_id),
        cmocka_unit_test(test_parse_ok),
        cmocka_unit_test(test_parse_rejects),
        cmocka_unit_test(test_parse_error_position),
        cmocka_unit_test(test_parse_depth_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
