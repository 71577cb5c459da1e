/* test_err.c - the project's error enum (src/core/err.c): every code has a
 * unique machine name, a message and one HTTP status. */
#include "core/err.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void test_ok(void **state)
{
    assert_string_equal(cb_err_code(CB_OK), "ok");
    assert_int_equal(cb_err_http_status(CB_OK), 200);
    assert_true(strlen(cb_strerror(CB_OK)) > 0);
}

static void test_every_error_complete(void **state)
{
    for (int e = CB_OK + 1; e < CB_ERR__COUNT; e++) {
        const char *code = cb_err_code((cb_err)e), *msg = cb_strerror((cb_err)e);
        unsigned st = cb_err_http_status((cb_err)e);
        assert_non_null(code);
        assert_non_null(msg);
        if (!*code || !*msg)
            fail_msg("error %d has an empty code or message", e);
        if (st < 400 || st > 599)
            fail_msg("error %d (%s) maps to HTTP %u", e, code, st);
        /* machine codes are snake_case ASCII */
        for (const char *p = code; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
                fail_msg("code \"%s\" is not snake_case", code);
    }
}

static void test_codes_unique(void **state)
{
    for (int a = 0; a < CB_ERR__COUNT; a++)
        for (int b = a + 1; b < CB_ERR__COUNT; b++)
            if (strcmp(cb_err_code((cb_err)a), cb_err_code((cb_err)b)) == 0)
                fail_msg("errors %d and %d share the code %s", a, b, cb_err_code((cb_err)a));
}

/* The status and code each error answers with (RFC 9110 semantics). */
static void test_status_mapping(void **state)
{
    static const struct {
        cb_err e;
        unsigned status;
        const char *code;
    } v[] = {
        {CB_ERR_BAD_REQUEST, 400, "bad_request"},
        {CB_ERR_INVALID_JSON, 400, "invalid_json"},
        {CB_ERR_VALIDATION, 422, "validation_failed"},
        {CB_ERR_UNAUTHORIZED, 401, "unauthorized"},
        {CB_ERR_FORBIDDEN, 403, "forbidden"},
        {CB_ERR_NOT_FOUND, 404, "not_found"},
        {CB_ERR_METHOD, 405, "method_not_allowed"},
        {CB_ERR_CONFLICT, 409, "conflict"},
        {CB_ERR_TOO_LARGE, 413, "payload_too_large"},
        {CB_ERR_MEDIA_TYPE, 415, "unsupported_media_type"},
        {CB_ERR_NOT_ACCEPTABLE, 406, "not_acceptable"},
        {CB_ERR_RATE_LIMITED, 429, "rate_limited"},
        {CB_ERR_IO, 500, "storage_error"},
        {CB_ERR_UNAVAILABLE, 503, "unavailable"},
        {CB_ERR_INTERNAL, 500, "internal_error"},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        assert_int_equal(cb_err_http_status(v[i].e), v[i].status);
        assert_string_equal(cb_err_code(v[i].e), v[i].code);
    }
    unsigned nomem = cb_err_http_status(CB_ERR_NOMEM);
    assert_true(nomem == 500 || nomem == 503);
}

static void test_out_of_range(void **state)
{
    /* values outside the enum never crash and read as an internal error */
    cb_err bad[] = {CB_ERR__COUNT, (cb_err)(CB_ERR__COUNT + 7), (cb_err)-1};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_string_equal(cb_err_code(bad[i]), "internal_error");
        assert_int_equal(cb_err_http_status(bad[i]), 500);
        assert_true(strlen(cb_strerror(bad[i])) > 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),           cmocka_unit_test(test_every_error_complete),
        cmocka_unit_test(test_codes_unique), cmocka_unit_test(test_status_mapping),
        cmocka_unit_test(test_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
