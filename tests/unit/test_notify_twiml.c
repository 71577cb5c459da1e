/* test_notify_twiml.c - TwiML documents: structure and escaping
 * (src/notify/twiml.c). */
#include "notify/twilio.h"
#include "notify/twiml.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define DECL "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"

static void test_call(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_true(twiml_call(&b, "CO is 85 ppm at Kitchen.",
                           "https://h.example/twilio/voice/01AB?x=1&y=2", NULL));
    const char *g =
        "<Gather numDigits=\"1\" action=\"https://h.example/twilio/voice/01AB?x=1&amp;y=2\" "
        "method=\"POST\" timeout=\"8\"><Say>CO is 85 ppm at Kitchen.</Say><Say>Press 1 "
        "to acknowledge.</Say></Gather>";
    struct buf want;
    buf_init(&want, 0);
    assert_true(
        buf_printf(&want, DECL "<Response>%s%s<Say>" TWIML_GOODBYE "</Say></Response>\n", g, g));
    assert_string_equal(b.data, want.data);
    buf_free(&want);
    buf_free(&b);

    /* escaping: markup characters, quotes, controls and invalid UTF-8 */
    buf_init(&b, 0);
    assert_true(twiml_call(&b, "Tom & Jerry's <Kitchen> \"1\"\x01 \xFF\xC3(", "https://h/a",
                           "Bye & <out>"));
    assert_non_null(strstr(b.data, "<Say>Tom &amp; Jerry&apos;s &lt;Kitchen&gt; &quot;1&quot;"
                                   "\xEF\xBF\xBD \xEF\xBF\xBD\xEF\xBF\xBD(</Say>"));
    assert_non_null(strstr(b.data, "<Say>Bye &amp; &lt;out&gt;</Say></Response>"));
    assert_null(strstr(b.data, "<Kitchen>"));
    buf_free(&b);

    /* too long for two Gathers: one; too long for one: refused, out unchanged */
    char *msg = malloc(2001);
    memset(msg, 'a', 2000);
    msg[2000] = '\0';
    buf_init(&b, 0);
    assert_true(twiml_call(&b, msg, "https://h/a", NULL));
    assert_true(b.len <= TWILIO_TWIML_MAX);
    assert_non_null(strstr(b.data, "</Gather><Say>"));
    char *first = strstr(b.data, "<Gather");
    assert_null(strstr(first + 1, "<Gather"));
    buf_free(&b);
    memset(msg, '&', 1000);
    buf_init(&b, 0);
    assert_true(buf_puts(&b, "keep"));
    assert_false(twiml_call(&b, msg, "https://h/a", NULL));
    assert_string_equal(b.data, "keep");
    buf_free(&b);
    free(msg);

    buf_init(&b, 0);
    assert_false(twiml_call(&b, "", "https://h/a", NULL));
    assert_false(twiml_call(&b, "x", NULL, NULL));
    assert_false(twiml_call(&b, NULL, "https://h/a", NULL));
    assert_int_equal(b.len, 0);
    buf_free(&b);

    /* a capped buffer that refuses: false, left as it was */
    buf_init(&b, 64);
    assert_false(twiml_call(&b, "hello", "https://h/a", NULL));
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_message_and_say(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    assert_true(twiml_message(&b, "Acknowledged: alarm at Kitchen & Hall <1>."));
    assert_string_equal(b.data, DECL "<Response><Message>Acknowledged: alarm at Kitchen &amp; Hall "
                                     "&lt;1&gt;.</Message></Response>\n");
    buf_free(&b);
    buf_init(&b, 0);
    assert_true(twiml_message(&b, NULL));
    assert_string_equal(b.data, DECL "<Response/>\n");
    buf_free(&b);

    buf_init(&b, 0);
    assert_true(twiml_say(&b, "Thank you. The alarm is acknowledged.", true));
    assert_string_equal(b.data, DECL "<Response><Say>Thank you. The alarm is acknowledged.</Say>"
                                     "<Hangup/></Response>\n");
    buf_free(&b);
    buf_init(&b, 0);
    assert_true(twiml_say(&b, "x'\"", false));
    assert_string_equal(b.data, DECL "<Response><Say>x&apos;&quot;</Say></Response>\n");
    assert_false(twiml_say(&b, NULL, false));
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_call),
        cmocka_unit_test(test_message_and_say),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
