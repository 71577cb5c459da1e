/* test_notify_signature.c - X-Twilio-Signature against Twilio's published
 * vectors (twilio-python tests/unit/test_request_validator.py, and the older
 * docs example: same token and URL, From and Caller +12349013030), port
 * variants, the JSON-body variant, and tampered inputs that must fail
 * (src/notify/signature.c). */
#include "notify/signature.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define TOKEN "12345"
#define URL "https://mycompany.com/myapp.php?foo=1&bar=2"
#define SIG "RSOYDt4T1cUTdK1PDd93/VVr8B8="
#define SIG_443 "kvajT1Ptam85bY51eRf/AJRuM3w="
#define SIG_OLD "0/KCTR6DLpKmkAf8muzZqo1nDgQ="

static const struct form_pair params[] = {
    {"CallSid", "CA1234567890ABCDE"}, {"Digits", "1234"},         {"From", "+14158675309"},
    {"To", "+18005551212"},           {"Caller", "+14158675309"},
};
#define NP (sizeof params / sizeof params[0])

static void test_vectors(void **state)
{
    char out[TWILIO_SIG_LEN + 1];
    assert_true(twilio_sig_compute(TOKEN, URL, params, NP, out));
    assert_string_equal(out, SIG);
    assert_true(twilio_sig_compute(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", params,
                                   NP, out));
    assert_string_equal(out, SIG_443);

    static const struct form_pair old[] = {
        {"To", "+18005551212"},   {"CallSid", "CA1234567890ABCDE"}, {"Digits", "1234"},
        {"From", "+12349013030"}, {"Caller", "+12349013030"},
    };
    assert_true(twilio_sig_compute(TOKEN, URL, old, 5, out));
    assert_string_equal(out, SIG_OLD);
    assert_true(twilio_sig_verify(TOKEN, URL, old, 5, SIG_OLD));

    /* the same parameters parsed from a form body, in another order */
    struct form f;
    const char *body = "To=%2B18005551212&Caller=%2B14158675309&Digits=1234&From=%2B14158675309"
                       "&CallSid=CA1234567890ABCDE";
    assert_int_equal(form_parse(&f, body, strlen(body), NULL), CB_OK);
    assert_true(twilio_sig_verify(TOKEN, URL, f.pairs, f.n, SIG));
    form_free(&f);
}

static void test_ports(void **state)
{
    /* signed without the port, called with it, and the other way round */
    assert_true(twilio_sig_verify(TOKEN, URL, params, NP, SIG));
    assert_true(twilio_sig_verify(TOKEN, URL, params, NP, SIG_443));
    assert_true(twilio_sig_verify(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", params,
                                  NP, SIG));
    assert_true(twilio_sig_verify(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", params,
                                  NP, SIG_443));
    /* :80 is not https's default; a non-default port is used as given only */
    assert_false(twilio_sig_verify(TOKEN, "https://mycompany.com:80/myapp.php?foo=1&bar=2", params,
                                   NP, SIG));
    assert_false(twilio_sig_verify(TOKEN, "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
                                   params, NP, SIG));

    /* http and :80, userinfo and IPv6 literals */
    char a[TWILIO_SIG_LEN + 1], b[TWILIO_SIG_LEN + 1];
    static const char *pairs[][2] = {
        {"http://h.example/x", "http://h.example:80/x"},
        {"http://u:p@h.example?q=1", "http://u:p@h.example:80?q=1"},
        {"https://[2001:db8::1]/w", "https://[2001:db8::1]:443/w"},
        {"HTTPS://H.example", "HTTPS://H.example:443"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        assert_true(twilio_sig_compute(TOKEN, pairs[i][0], NULL, 0, a));
        assert_true(twilio_sig_compute(TOKEN, pairs[i][1], NULL, 0, b));
        assert_true(twilio_sig_verify(TOKEN, pairs[i][1], NULL, 0, a));
        assert_true(twilio_sig_verify(TOKEN, pairs[i][0], NULL, 0, b));
    }
    /* a URL that is not http(s) has no variants */
    assert_true(twilio_sig_compute(TOKEN, "ftp://h/x", NULL, 0, a));
    assert_true(twilio_sig_verify(TOKEN, "ftp://h/x", NULL, 0, a));
    assert_false(twilio_sig_verify(TOKEN, "ftp://h:21/x", NULL, 0, a));
}

static void test_tampered(void **state)
{
    struct form_pair p[NP];
    memcpy(p, params, sizeof p);
    p[1].value = "1235";
    assert_false(twilio_sig_verify(TOKEN, URL, p, NP, SIG));
    memcpy(p, params, sizeof p);
    p[1].name = "digits";
    assert_false(twilio_sig_verify(TOKEN, URL, p, NP, SIG));
    assert_false(twilio_sig_verify(TOKEN, URL, params, NP - 1, SIG)); /* a parameter dropped */
    assert_false(
        twilio_sig_verify(TOKEN, "https://mycompany.com/myapp.php?foo=1&bar=3", params, NP, SIG));
    assert_false(
        twilio_sig_verify(TOKEN, "http://mycompany.com/myapp.php?foo=1&bar=2", params, NP, SIG));
    assert_false(twilio_sig_verify(TOKEN, "https://mycompany.com/myapp.php", params, NP, SIG));
    assert_false(twilio_sig_verify("12346", URL, params, NP, SIG));
    assert_false(twilio_sig_verify("", URL, params, NP, SIG));
    assert_false(twilio_sig_verify(NULL, URL, params, NP, SIG));
    assert_false(twilio_sig_verify(TOKEN, URL, params, NP, "RSOYDt4T1cUTdK1PDd93/VVr8B8"));
    assert_false(twilio_sig_verify(TOKEN, URL, params, NP, "RSOYDt4T1cUTdK1PDd93/VVr8B8=="));
    assert_false(twilio_sig_verify(TOKEN, URL, params, NP, "rsoydt4t1cutdk1pdd93/vvr8b8="));
    assert_false(twilio_sig_verify(TOKEN, URL, params, NP, ""));
    assert_false(twilio_sig_verify(TOKEN, URL, params, NP, NULL));
    assert_false(twilio_sig_verify(TOKEN, NULL, params, NP, SIG));

    /* name/value boundaries are not separators: {"ab","c"} and {"a","bc"} sign the same
     * data, as in Twilio's scheme; different sort order does change it */
    char a[TWILIO_SIG_LEN + 1], b[TWILIO_SIG_LEN + 1];
    struct form_pair x[] = {{"ab", "c"}}, y[] = {{"a", "bc"}};
    assert_true(twilio_sig_compute(TOKEN, URL, x, 1, a));
    assert_true(twilio_sig_compute(TOKEN, URL, y, 1, b));
    assert_string_equal(a, b);
    char out[TWILIO_SIG_LEN + 1] = "x";
    assert_false(twilio_sig_compute("", URL, NULL, 0, out));
    assert_string_equal(out, "");
}

static void test_duplicates(void **state)
{
    /* duplicate names are sorted by value: the order they came in does not matter */
    struct form_pair a[] = {{"B", "2"}, {"A", "z"}, {"A", "a"}, {"A", "m"}};
    struct form_pair b[] = {{"A", "m"}, {"A", "a"}, {"B", "2"}, {"A", "z"}};
    char sa[TWILIO_SIG_LEN + 1], sb[TWILIO_SIG_LEN + 1], sc[TWILIO_SIG_LEN + 1];
    assert_true(twilio_sig_compute(TOKEN, URL, a, 4, sa));
    assert_true(twilio_sig_compute(TOKEN, URL, b, 4, sb));
    assert_string_equal(sa, sb);
    /* = HMAC over URL + "Aa" "Am" "Az" "B2" */
    struct form_pair c[] = {{"AaAmAzB", "2"}};
    assert_true(twilio_sig_compute(TOKEN, URL, c, 1, sc));
    assert_string_equal(sa, sc);
}

static void test_body(void **state)
{
    /* sha256("{\"a\":1}") */
    const char *body = "{\"a\":1}";
    const char *hex = "015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862";
    char url[256], upper[256], sig[TWILIO_SIG_LEN + 1];
    snprintf(url, sizeof url, "https://example.com/twilio/status?bodySHA256=%s", hex);
    assert_true(twilio_sig_compute(TOKEN, url, NULL, 0, sig));
    assert_true(twilio_sig_verify_body(TOKEN, url, body, strlen(body), sig));
    assert_false(twilio_sig_verify_body(TOKEN, url, "{\"a\":2}", 7, sig));
    assert_false(twilio_sig_verify_body("x", url, body, strlen(body), sig));
    /* upper-case hex in the URL: the digest still matches, the signature covers the URL as is */
    snprintf(upper, sizeof upper, "https://example.com/twilio/status?bodySHA256=%s",
             "015ABD7F5CC57A2DD94B7590F04AD8084273905EE33EC5CEBEAE62276A97F862");
    assert_true(twilio_sig_compute(TOKEN, upper, NULL, 0, sig));
    assert_true(twilio_sig_verify_body(TOKEN, upper, body, strlen(body), sig));
    /* no parameter, a short one, a bad query */
    assert_true(twilio_sig_compute(TOKEN, "https://example.com/s", NULL, 0, sig));
    assert_false(twilio_sig_verify_body(TOKEN, "https://example.com/s", body, strlen(body), sig));
    assert_false(twilio_sig_verify_body(TOKEN, "https://example.com/s?bodySHA256=015a", body,
                                        strlen(body), sig));
    assert_false(twilio_sig_verify_body(TOKEN, "https://example.com/s?bodySHA256=%", body,
                                        strlen(body), sig));
    assert_false(twilio_sig_verify_body(TOKEN, url, body, strlen(body), NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),  cmocka_unit_test(test_ports),
        cmocka_unit_test(test_tampered), cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_body),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
