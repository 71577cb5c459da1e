/* test_svg.c - the escaping XML writer (src/graph/xml.c) and the chart
 * (src/graph/chart.c): hostile device names come out escaped, documents are
 * complete, misuse fails instead of emitting broken markup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "graph/chart.h"
#include "graph/xml.h"

static char *escape(const char *s, size_t len)
{
    struct buf b;
    buf_init(&b, 0);
    assert_true(xml_escape(&b, s, len));
    if (!b.data)
        buf_puts(&b, "");
    return buf_steal(&b);
}

static void test_escape_markup(void **state)
{
    char *e = escape("<script>alert(\"x\" & 'y')</script>", 33);
    assert_string_equal(e, "&lt;script&gt;alert(&quot;x&quot; &amp; &apos;y&apos;)&lt;/script&gt;");
    free(e);
}

static void test_escape_utf8_and_controls(void **state)
{
    /* Valid multi-byte text passes unchanged. */
    const char *ok = "K\xC3\xBC"
                     "che \xE2\x82\xAC \xF0\x9F\x94\xA5";
    char *e = escape(ok, strlen(ok));
    assert_string_equal(e, ok);
    free(e);
    /* Controls, a lone continuation byte, an overlong '<', a surrogate and
     * a truncated sequence all become U+FFFD; tab/LF/CR stay. */
    const char bad[] = "a\x01"
                       "b\x80"
                       "c\xC0\xBC"
                       "d\xED\xA0\x80"
                       "e\t\n\rf\xE2\x82";
    e = escape(bad, sizeof bad - 1);
    assert_null(strchr(e, '<'));
    assert_null(strchr(e, '\x01'));
    assert_non_null(strstr(e, "e\t\n\rf"));
    size_t fffd = 0;
    for (const char *p = e; (p = strstr(p, "\xEF\xBF\xBD")); p += 3)
        fffd++;
    assert_true(fffd >= 6);
    free(e);
    /* A NUL inside the given length is a control too. */
    e = escape("a\0b", 3);
    assert_string_equal(e, "a\xEF\xBF\xBD"
                           "b");
    free(e);
}

static void test_writer_document(void **state)
{
    struct buf b;
    buf_init(&b, 0);
    struct xml w;
    xml_init(&w, &b);
    xml_open(&w, "svg");
    xml_attr(&w, "title", "a\"b<c>&");
    xml_attr_num(&w, "width", 12.5);
    xml_attr_num(&w, "height", 300.004);
    xml_open(&w, "g");
    xml_close(&w);
    xml_open(&w, "text");
    xml_text(&w, "x < y & z");
    xml_close(&w);
    assert_true(xml_finish(&w));
    assert_string_equal(b.data, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                "<svg title=\"a&quot;b&lt;c&gt;&amp;\" width=\"12.5\" "
                                "height=\"300\"><g/><text>x &lt; y &amp; z</text></svg>\n");
    buf_free(&b);
}

static void test_writer_misuse_fails(void **state)
{
    struct buf b;
    struct xml w;
    /* An attribute after content. */
    buf_init(&b, 0);
    xml_init(&w, &b);
    xml_open(&w, "a");
    xml_text(&w, "t");
    xml_attr(&w, "x", "1");
    assert_false(xml_finish(&w));
    buf_free(&b);
    /* A bad element or attribute name. */
    buf_init(&b, 0);
    xml_init(&w, &b);
    xml_open(&w, "a b");
    assert_false(xml_finish(&w));
    buf_free(&b);
    buf_init(&b, 0);
    xml_init(&w, &b);
    xml_open(&w, "a");
    xml_attr(&w, "on\"click", "1");
    assert_false(xml_finish(&w));
    buf_free(&b);
    /* Closing more than was opened; text outside the root. */
    buf_init(&b, 0);
    xml_init(&w, &b);
    xml_close(&w);
    assert_false(xml_finish(&w));
    buf_free(&b);
    buf_init(&b, 0);
    xml_init(&w, &b);
    xml_text(&w, "x");
    assert_false(xml_finish(&w));
    buf_free(&b);
    /* Too deep. */
    buf_init(&b, 0);
    xml_init(&w, &b);
    for (int i = 0; i <= XML_MAX_DEPTH; i++)
        xml_open(&w, "g");
    assert_false(xml_finish(&w));
    buf_free(&b);
    /* The buffer's cap: the writer reports it. */
    buf_init(&b, 64);
    xml_init(&w, &b);
    xml_open(&w, "svg");
    xml_attr(&w, "x", "a value long enough to pass the sixty-four byte cap of this buffer");
    assert_false(xml_finish(&w));
    buf_free(&b);
}

static void test_fmt_num(void **state)
{
    char n[32];
    xml_fmt_num(n, 0.0);
    assert_string_equal(n, "0");
    xml_fmt_num(n, -0.001);
    assert_string_equal(n, "0");
    xml_fmt_num(n, 1.5);
    assert_string_equal(n, "1.5");
    xml_fmt_num(n, 2.25);
    assert_string_equal(n, "2.25");
    xml_fmt_num(n, 1e300 * 1e300);
    assert_string_equal(n, "0");
    xml_fmt_num(n, 10000);
    assert_string_equal(n, "10000");
}

/* A chart with one column; name is the device name under test. */
static char *render(const char *name, int width, bool bar, size_t ncols)
{
    struct gcol cols[3] = {
        {.t_first = 1000,
         .t_last = 1000,
         .t_min = 1000,
         .t_max = 1000,
         .agg = {.co_min = 5, .co_max = 5, .co_sum = 5, .count = 1}},
        {.t_first = 60000,
         .t_last = 61000,
         .t_min = 60000,
         .t_max = 61000,
         .agg = {.co_min = 7, .co_max = 80, .co_sum = 87, .count = 2, .temp_sum = 21, .temp_n = 1}},
        {.t_first = 3500000,
         .t_last = 3500000,
         .t_min = 3500000,
         .t_max = 3500000,
         .agg = {.co_min = 3, .co_max = 3, .co_sum = 3, .count = 1}},
    };
    struct chart_period per = {30000, 90000, SHADE_CRITICAL};
    struct chart c = {.width = width,
                      .height = 300,
                      .bar = bar,
                      .series = CHART_TEMP,
                      .from = 0,
                      .to = 3600000,
                      .name = name,
                      .warn_ppm = 30,
                      .alarm_ppm = 50,
                      .cols = cols,
                      .ncols = ncols,
                      .typical_ms = 60000,
                      .periods = &per,
                      .nperiods = 1,
                      .nreadings = 4};
    struct buf b;
    buf_init(&b, 0);
    assert_true(chart_svg(&c, &b));
    return buf_steal(&b);
}

static void test_chart_hostile_names(void **state)
{
    static const char *const names[] = {
        "<script>alert(1)</script>",
        "\"><svg onload=alert(1)>",
        "Tom & Jerry's <kitchen>",
        "]]><!-- -->&amp;&#x3c;",
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char *svg = render(names[i], 1200, false, 3);
        assert_null(strstr(svg, "<script"));
        assert_null(strstr(svg, "<svg onload"));
        assert_null(strstr(svg, "<kitchen"));
        assert_null(strstr(svg, "<!--"));
        assert_null(strstr(svg, "&amp;&#x3c;")); /* '&' of the name is escaped again */
        assert_non_null(strstr(svg, "&lt;"));
        free(svg);
    }
    /* A long unicode name is shortened on a code point boundary. */
    char longname[4000];
    for (int i = 0; i < 900; i++)
        memcpy(longname + 3 * i, "\xE2\x98\x83", 3); /* U+2603, 3 bytes */
    longname[2700] = '\0';
    char *svg = render(longname, 400, true, 3);
    assert_non_null(strstr(svg, "\xE2\x98\x83\xE2\x80\xA6")); /* snowmen, then the ellipsis */
    assert_null(strstr(svg, "\xEF\xBF\xBD"));                 /* never a cut sequence */
    free(svg);
}

static void test_chart_parts(void **state)
{
    char *svg = render("Kitchen", 1200, false, 3);
    assert_non_null(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1200\""));
    assert_non_null(strstr(svg, "warning 30 ppm"));
    assert_non_null(strstr(svg, "alarm 50 ppm"));
    assert_non_null(strstr(svg, "alarm period"));
    assert_non_null(strstr(svg, "temperature"));
    assert_non_null(strstr(svg, "peak 80 ppm"));
    assert_non_null(strstr(svg, "<path d=\"M"));
    assert_null(strstr(svg, "No readings"));
    size_t len = strlen(svg);
    assert_string_equal(svg + len - 7, "</svg>\n");
    free(svg);
    svg = render("Kitchen", 1200, true, 3);
    assert_non_null(strstr(svg, "highest per bar"));
    free(svg);
    svg = render("Kitchen", 400, false, 0);
    assert_non_null(strstr(svg, "No readings in this range"));
    assert_null(strstr(svg, "<path"));
    free(svg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_markup),   cmocka_unit_test(test_escape_utf8_and_controls),
        cmocka_unit_test(test_writer_document), cmocka_unit_test(test_writer_misuse_fails),
        cmocka_unit_test(test_fmt_num),         cmocka_unit_test(test_chart_hostile_names),
        cmocka_unit_test(test_chart_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
