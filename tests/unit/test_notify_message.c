/* test_notify_message.c - alarm texts, SMS segment counting and emergency
 * numbers (src/notify/message.c). */
#include "notify/message.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* 2023-11-14 03:12:00 UTC */
#define SINCE 1699931520000LL

static struct message_input base(void)
{
    return (struct message_input){.device_name = "Kitchen",
                                  .location = "Home",
                                  .kind = ALARM_CO_HIGH,
                                  .severity = ALARM_SEV_CRITICAL,
                                  .ppm = 85,
                                  .peak_ppm = 92,
                                  .since_ms = SINCE,
                                  .role = MESSAGE_OWNER,
                                  .owner_name = "Alice",
                                  .emergency_number = "911",
                                  .manual_text = "Smell of gas in the hall"};
}

static bool valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80             ? 1
                : (*p & 0xE0) == 0xC0 ? 2
                : (*p & 0xF0) == 0xE0 ? 3
                : (*p & 0xF8) == 0xF0 ? 4
                                      : 0;
        if (!n || (n == 2 && *p < 0xC2))
            return false;
        for (int i = 1; i < n; i++)
            if ((p[i] & 0xC0) != 0x80)
                return false;
        p += n;
    }
    return true;
}

static unsigned segments(const char *s)
{
    struct sms_count c;
    message_sms_count(s, &c);
    return c.segments;
}

static char *sms(const struct message_input *in)
{
    struct buf b;
    buf_init(&b, 0);
    assert_true(message_sms(in, &b));
    assert_true(b.len > 0 && b.len <= MESSAGE_SMS_MAX);
    assert_true(valid_utf8(b.data));
    return buf_steal(&b);
}

static char *rep(const char *unit, size_t n)
{
    size_t ul = strlen(unit);
    char *s = malloc(ul * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * ul, unit, ul);
    s[ul * n] = '\0';
    return s;
}

static void test_count(void **state)
{
    static const struct {
        const char *unit;
        size_t n;
        unsigned segs, units;
        bool ucs2;
    } v[] = {
        {"a", 0, 0, 0, false},
        {"a", 160, 1, 160, false},
        {"a", 161, 2, 161, false},
        {"a", 306, 2, 306, false},
        {"a", 307, 3, 307, false},
        {"\xE2\x82\xAC", 80, 1, 160, false}, /* euro: extension table, 2 septets */
        {"{", 81, 2, 162, false},
        {"@\xC2\xA3$"
         "\xC2\xA5\xC3\xA8\xC3\xA9\xC3\xB9\xC3\xAC\xC3\xB2\xC3\x87\xC3\x98\xC3\xB8\xC3\x85"
         "\xC3\xA5\xCE\x94_\xCE\xA6\xCE\x93\xCE\x9B\xCE\xA9\xCE\xA0\xCE\xA8\xCE\xA3\xCE\x98\xCE\x9E"
         "\xC3\x86\xC3\xA6\xC3\x9F\xC3\x89 "
         "!\"#\xC2\xA4%&'()*+,-./:;<=>?\xC2\xA1\xC3\x84\xC3\x96\xC3"
         "\x91\xC3\x9C\xC2\xA7\xC2\xBF\xC3\xA4\xC3\xB6\xC3\xB1\xC3\xBC\xC3\xA0",
         1, 1, 63, false}, /* the whole basic set outside A-Z a-z 0-9 */
        {"^{}\\[~]|\xE2\x82\xAC\f", 1, 1, 20, false},
        {"`", 1, 1, 1, true},        /* backtick: not GSM */
        {"\xC3\xA7", 1, 1, 1, true}, /* c-cedilla: only the capital is GSM */
        {"\xD0\xB6", 70, 1, 70, true},
        {"\xD0\xB6", 71, 2, 71, true},
        {"\xD0\xB6", 134, 2, 134, true},
        {"\xD0\xB6", 135, 3, 135, true},
        {"\xF0\x9F\x98\x80", 35, 1, 70, true}, /* emoji: a surrogate pair */
        {"\xF0\x9F\x98\x80", 36, 2, 72, true},
        {"\xFF", 3, 1, 3, true}, /* invalid UTF-8: U+FFFD each */
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *s = rep(v[i].unit, v[i].n);
        struct sms_count c;
        message_sms_count(s, &c);
        if (c.segments != v[i].segs || c.units != v[i].units || c.ucs2 != v[i].ucs2)
            fail_msg("vector %zu: %u segments %u units ucs2 %d", i, c.segments, c.units, c.ucs2);
        free(s);
    }
    /* pairs never straddle segments: 152 + 2 + 152 = 306 septets, yet 3 segments */
    char *a = rep("a", 152);
    struct buf b;
    buf_init(&b, 0);
    buf_printf(&b, "%s\xE2\x82\xAC%s", a, a);
    assert_int_equal(segments(b.data), 3);
    buf_free(&b);
    buf_init(&b, 0);
    char *z = rep("\xD0\xB6", 66);
    buf_printf(&b, "%s\xF0\x9F\x98\x80%s\xD0\xB6", z, z); /* 66 + 2 + 66 + 1 = 135 units */
    assert_int_equal(segments(b.data), 3);
    buf_free(&b);
    free(a);
    free(z);
    assert_int_equal(segments(NULL), 0);
}

static void test_sms_typical(void **state)
{
    struct message_input in = base();
    char *s = sms(&in);
    assert_string_equal(s,
                        "DANGER: CO 85 ppm (peak 92) at Kitchen, Home since 03:12 UTC. Leave now, "
                        "get fresh air, call 911. Reply ACK to acknowledge.");
    free(s);

    in.severity = ALARM_SEV_WARNING;
    in.ppm = 32;
    in.peak_ppm = 32;
    s = sms(&in);
    assert_string_equal(s, "Warning: CO 32 ppm at Kitchen, Home since 03:12 UTC. Open windows and "
                           "ventilate; leave if anyone feels unwell. Reply ACK to acknowledge.");
    free(s);

    in = base();
    in.role = MESSAGE_EMERGENCY;
    in.emergency_number = NULL;
    s = sms(&in);
    assert_string_equal(s,
                        "DANGER: Alice's CO alarm: CO 85 ppm (peak 92) at Kitchen since 03:12 UTC. "
                        "Check on them, call emergency services. Reply ACK.");
    free(s);

    in = base();
    in.kind = ALARM_OFFLINE;
    in.severity = ALARM_SEV_WARNING;
    in.ppm = NAN;
    s = sms(&in);
    assert_string_equal(s, "Warning: no data from CO alarm at Kitchen, Home since 03:12 UTC. Check "
                           "its power and Wi-Fi. Reply ACK to acknowledge.");
    free(s);

    in.kind = ALARM_SENSOR_FAULT;
    in.device_name = "";
    in.location = NULL;
    in.since_ms = 0;
    s = sms(&in);
    assert_string_equal(s, "Warning: CO sensor fault. Check or replace the device. Reply ACK to "
                           "acknowledge.");
    free(s);

    /* every kind, severity and role with typical names fits one segment and says how to ack */
    for (int k = 0; k < ALARM_NKINDS; k++)
        for (int sev = ALARM_SEV_WARNING; sev <= ALARM_SEV_CRITICAL; sev++)
            for (int role = MESSAGE_OWNER; role <= MESSAGE_EMERGENCY; role++) {
                in = base();
                in.kind = (enum alarm_kind)k;
                in.severity = (enum alarm_severity)sev;
                in.role = (enum message_role)role;
                in.emergency_number = NULL; /* the longest wording */
                s = sms(&in);
                if (segments(s) != 1)
                    fail_msg("kind %d sev %d role %d: %u segments: %s", k, sev, role, segments(s),
                             s);
                assert_non_null(strstr(s, "Reply ACK"));
                if (k <= ALARM_CO_RISING)
                    assert_non_null(strstr(s, "85 ppm"));
                if (sev == ALARM_SEV_CRITICAL && (k <= ALARM_CO_RISING || k == ALARM_MANUAL))
                    assert_non_null(strstr(s, "call "));
                free(s);
            }
}

static void test_sms_ladder(void **state)
{
    /* long names: cut on the way to one segment, the facts stay */
    struct message_input in = base();
    in.device_name = "Downstairs kitchen next to the boiler cupboard";
    in.location = "Grandma's holiday cottage by the lake";
    in.role = MESSAGE_SECONDARY;
    in.owner_name = "Alexandra-Katharina Montgomery-Smythe";
    char *s = sms(&in);
    assert_int_equal(segments(s), 1);
    assert_non_null(strstr(s, "85 ppm"));
    assert_non_null(strstr(s, "call 911"));
    assert_non_null(strstr(s, "Reply ACK"));
    assert_non_null(strstr(s, "..."));
    assert_null(strstr(s, "cottage"));
    free(s);

    /* a name that forces UCS-2: 70 units, cut on a character boundary with U+2026 */
    in = base();
    in.device_name = "\xD0\x9A\xD1\x83\xD1\x85\xD0\xBD\xD1\x8F \xD0\xBD\xD0\xB0 \xD0\xBF\xD0\xB5"
                     "\xD1\x80\xD0\xB2\xD0\xBE\xD0\xBC \xD1\x8D\xD1\x82\xD0\xB0\xD0\xB6\xD0\xB5";
    s = sms(&in);
    struct sms_count c;
    message_sms_count(s, &c);
    assert_true(c.ucs2);
    assert_int_equal(c.segments, 1);
    assert_non_null(strstr(s, "\xE2\x80\xA6"));
    assert_non_null(strstr(s, "85 ppm"));
    free(s);

    /* giant inputs: never over 1600 bytes, valid UTF-8, key facts kept */
    char *huge = rep("\xF0\x9F\x94\xA5", 50000);
    huge[1001] = '\n'; /* and a broken sequence with a control character */
    in = base();
    in.device_name = in.location = in.owner_name = in.manual_text = huge;
    for (int k = 0; k < ALARM_NKINDS; k++) {
        in.kind = (enum alarm_kind)k;
        in.role = k % 2 ? MESSAGE_SECONDARY : MESSAGE_OWNER;
        s = sms(&in);
        assert_non_null(strstr(s, "Reply ACK"));
        assert_null(strchr(s, '\n'));
        free(s);
        struct buf b;
        buf_init(&b, 0);
        assert_true(message_voice(&in, &b));
        assert_true(b.len <= MESSAGE_VOICE_MAX && valid_utf8(b.data));
        buf_free(&b);
        buf_init(&b, 0);
        assert_true(message_all_clear(&in, &b));
        assert_true(b.len <= MESSAGE_SMS_MAX && valid_utf8(b.data));
        buf_free(&b);
    }
    free(huge);

    /* a long manual text: kept whole up to its cap, multipart then */
    in = base();
    in.kind = ALARM_MANUAL;
    char *text = rep("Gas smell. ", 30);
    in.manual_text = text;
    s = sms(&in);
    assert_non_null(strstr(s, text + 11));
    assert_true(segments(s) > 1);
    free(s);
    free(text);

    /* out refuses: false, unchanged */
    struct buf b;
    buf_init(&b, 10);
    in = base();
    assert_false(message_sms(&in, &b));
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

static void test_voice(void **state)
{
    struct message_input in = base();
    struct buf b;
    buf_init(&b, 0);
    assert_true(message_voice(&in, &b));
    assert_string_equal(b.data,
                        "This is your Car-Bon carbon monoxide alarm. Danger! Carbon monoxide "
                        "has been detected at Kitchen, Home. The level is 85 parts per "
                        "million, with a peak of 92, since 03:12 U T C. Leave the building "
                        "now, get to fresh air, and call 9 1 1.");
    buf_free(&b);
    in.role = MESSAGE_SECONDARY;
    in.emergency_number = "000";
    buf_init(&b, 0);
    assert_true(message_voice(&in, &b));
    assert_non_null(strstr(b.data, "alarm of Alice"));
    assert_non_null(strstr(b.data, "call 0 0 0 if you cannot reach them."));
    assert_null(strstr(b.data, "ppm"));
    buf_free(&b);
}

static void test_all_clear_and_test(void **state)
{
    struct message_input in = base();
    struct buf b;
    buf_init(&b, 0);
    assert_true(message_all_clear(&in, &b));
    assert_string_equal(b.data,
                        "All clear: CO at Kitchen, Home is back to normal (peak 92 ppm). No action "
                        "needed.");
    buf_free(&b);
    in.kind = ALARM_OFFLINE;
    in.role = MESSAGE_SECONDARY;
    buf_init(&b, 0);
    assert_true(message_all_clear(&in, &b));
    assert_string_equal(b.data,
                        "Alice's CO alarm: Back online: CO alarm at Kitchen, Home is sending "
                        "data again. No action needed.");
    buf_free(&b);

    buf_init(&b, 0);
    assert_true(message_test("Alice", &b));
    assert_string_equal(b.data, "Car-Bon test message: CO alarm notifications for Alice will reach "
                                "this phone. No action needed.");
    assert_int_equal(segments(b.data), 1);
    buf_free(&b);
    buf_init(&b, 0);
    assert_true(message_test(NULL, &b));
    assert_non_null(strstr(b.data, "for you will"));
    buf_free(&b);
}

static void test_emergency_numbers(void **state)
{
    static const char *v[][2] = {
        {"+14155550100", "911"},  {"+16135550100", "911"},   {"+17875550100", "911"},
        {"+18765550100", NULL},   {"+12425550100", NULL},    {"+447700900123", "999"},
        {"+4930123456", "112"},   {"+33612345678", "112"},   {"+61212345678", "000"},
        {"+6421234567", "111"},   {"+81312345678", "119"},   {"+8613812345678", "120"},
        {"+919812345678", "112"}, {"+5511912345678", "192"}, {"+35312345678", "112"},
        {"+2348012345678", NULL}, {"+99912345678", NULL},    {"+", NULL},
        {"14155550100", NULL},    {"+1415555x100", NULL},    {"", NULL},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const char *got = message_emergency_number(v[i][0]);
        if ((got == NULL) != (v[i][1] == NULL) || (got && strcmp(got, v[i][1]) != 0))
            fail_msg("%s: %s, want %s", v[i][0], got ? got : "NULL", v[i][1] ? v[i][1] : "NULL");
    }
    assert_null(message_emergency_number(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count),
        cmocka_unit_test(test_sms_typical),
        cmocka_unit_test(test_sms_ladder),
        cmocka_unit_test(test_voice),
        cmocka_unit_test(test_all_clear_and_test),
        cmocka_unit_test(test_emergency_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
