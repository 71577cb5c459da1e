/* test_notify_form.c - application/x-www-form-urlencoded decoding, lookup
 * and encoding (src/notify/form.c). */
#include "notify/form.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void parse_ok(struct form *f, const char *s)
{
    const char *why = NULL;
    cb_err rc = form_parse(f, s, strlen(s), &why);
    if (rc != CB_OK)
        fail_msg("\"%s\": %s", s, why ? why : "?");
}

static void test_decode(void **state)
{
    struct form f;
    parse_ok(&f, "To=%2B18005551212&Body=Hello+world%21&Empty=&Flag&caf%C3%A9=%e2%82%AC");
    assert_int_equal(f.n, 5);
    assert_string_equal(f.pairs[0].name, "To");
    assert_string_equal(f.pairs[0].value, "+18005551212");
    assert_string_equal(form_get(&f, "Body"), "Hello world!");
    assert_string_equal(form_get(&f, "Empty"), "");
    assert_string_equal(form_get(&f, "Flag"), "");
    assert_string_equal(form_get(&f, "caf\xC3\xA9"), "\xE2\x82\xAC");
    assert_null(form_get(&f, "body")); /* names are case-sensitive */
    form_free(&f);
    form_free(&f); /* idempotent */

    /* empty pieces skipped, '=' inside a value kept, duplicates in order */
    parse_ok(&f, "&&a=1=2&&a=3&");
    assert_int_equal(f.n, 2);
    assert_string_equal(f.pairs[0].value, "1=2");
    assert_string_equal(f.pairs[1].value, "3");
    assert_string_equal(form_get(&f, "a"), "1=2");
    form_free(&f);

    parse_ok(&f, "");
    assert_int_equal(f.n, 0);
    assert_null(form_get(&f, "x"));
    form_free(&f);

    /* not NUL-terminated input: only len bytes are read */
    char raw[] = {'a', '=', '1', '&', 'b', '=', '2'};
    assert_int_equal(form_parse(&f, raw, 5, NULL), CB_OK);
    assert_int_equal(f.n, 2);
    assert_string_equal(form_get(&f, "b"), "");
    form_free(&f);

    /* "%2B" is a plus, "+" a space, "%20" a space */
    parse_ok(&f, "x=%2b+%20");
    assert_string_equal(form_get(&f, "x"), "+  ");
    form_free(&f);
}

static void test_malformed(void **state)
{
    static const char *bad[] = {"a=%",   "a=%4",  "a=%G1",  "a=%%41",    "%=1",
                                "a=1%0", "a=%00", "a%00=1", "a=x%zz&b=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct form f;
        const char *why = NULL;
        cb_err rc = form_parse(&f, bad[i], strlen(bad[i]), &why);
        if (rc != CB_ERR_BAD_REQUEST)
            fail_msg("\"%s\" gave %d", bad[i], (int)rc);
        assert_non_null(why);
        assert_int_equal(f.n, 0);
        assert_null(f.pairs);
        form_free(&f);
    }
    /* a raw NUL byte inside the input is an error too */
    struct form f;
    assert_int_equal(form_parse(&f, "a=1\0b", 5, NULL), CB_ERR_BAD_REQUEST);
}

static void test_limits(void **state)
{
    struct form f;
    struct buf b;
    buf_init(&b, 0);
    for (int i = 0; i < FORM_MAX_PAIRS; i++)
        assert_true(buf_printf(&b, "%sk%d=v", i ? "&" : "", i));
    assert_int_equal(form_parse(&f, b.data, b.len, NULL), CB_OK);
    assert_int_equal(f.n, FORM_MAX_PAIRS);
    assert_string_equal(form_get(&f, "k127"), "v");
    form_free(&f);
    assert_true(buf_puts(&b, "&one=more"));
    const char *why = NULL;
    assert_int_equal(form_parse(&f, b.data, b.len, &why), CB_ERR_TOO_LARGE);
    assert_string_equal(why, "too many form fields");
    buf_free(&b);

    char *big = malloc(FORM_MAX_BYTES + 2);
    assert_non_null(big);
    memset(big, 'a', FORM_MAX_BYTES + 1);
    big[0] = 'x', big[1] = '=';
    assert_int_equal(form_parse(&f, big, FORM_MAX_BYTES, NULL), CB_OK);
    assert_int_equal(strlen(form_get(&f, "x")), FORM_MAX_BYTES - 2);
    form_free(&f);
    assert_int_equal(form_parse(&f, big, FORM_MAX_BYTES + 1, NULL), CB_ERR_TOO_LARGE);
    free(big);
}

static void test_query(void **state)
{
    struct form f;
    assert_int_equal(form_parse_query(&f, "https://h/p?foo=1&bar=a+b#frag=x", NULL), CB_OK);
    assert_int_equal(f.n, 2);
    assert_string_equal(form_get(&f, "bar"), "a b");
    assert_null(form_get(&f, "frag"));
    form_free(&f);
    assert_int_equal(form_parse_query(&f, "https://h/p", NULL), CB_OK);
    assert_int_equal(f.n, 0);
    assert_int_equal(form_parse_query(&f, "?x=%41", NULL), CB_OK);
    assert_string_equal(form_get(&f, "x"), "A");
    form_free(&f);
    assert_int_equal(form_parse_query(&f, "/p?x=%4", NULL), CB_ERR_BAD_REQUEST);
    assert_int_equal(form_parse_query(&f, NULL, NULL), CB_OK);
}

static void test_encode(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_true(form_append(&b, "To", "+14155550100"));
    assert_true(form_append(&b, "Body", "CO 85 ppm & more: 100%~ *-._/\xE2\x82\xAC"));
    assert_string_equal(b.data, "To=%2B14155550100&Body=CO+85+ppm+%26+more%3A+100%25%7E+*-._%2F%E2"
                                "%82%AC");
    assert_true(form_append(&b, "Empty", ""));
    assert_true(form_append(&b, "a=b&c", "x"));

    /* round trip */
    struct form f;
    assert_int_equal(form_parse(&f, b.data, b.len, NULL), CB_OK);
    assert_int_equal(f.n, 4);
    assert_string_equal(form_get(&f, "To"), "+14155550100");
    assert_string_equal(form_get(&f, "Body"), "CO 85 ppm & more: 100%~ *-._/\xE2\x82\xAC");
    assert_string_equal(form_get(&f, "Empty"), "");
    assert_string_equal(form_get(&f, "a=b&c"), "x");
    form_free(&f);
    buf_free(&b);

    /* every byte value 1..255 round-trips */
    char all[256];
    for (int i = 1; i < 256; i++)
        all[i - 1] = (char)i;
    all[255] = '\0';
    buf_init(&b, 0);
    assert_true(form_append(&b, all, all));
    assert_int_equal(form_parse(&f, b.data, b.len, NULL), CB_OK);
    assert_int_equal(f.n, 1);
    assert_string_equal(f.pairs[0].name, all);
    assert_string_equal(f.pairs[0].value, all);
    form_free(&f);
    buf_free(&b);

    /* a capped buffer refuses the whole pair and keeps what it had */
    buf_init(&b, 16);
    assert_true(form_append(&b, "a", "1"));
    assert_false(form_append(&b, "long", "a value too long for the cap"));
    assert_string_equal(b.data, "a=1");
    assert_int_equal(b.len, 3);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_limits), cmocka_unit_test(test_query),
        cmocka_unit_test(test_encode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
