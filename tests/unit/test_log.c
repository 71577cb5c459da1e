/* test_log.c - structured logs (src/core/log.c): one JSON object per line on
 * stderr, level filtering, fields kept. stderr is redirected to a file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Runs fn with stderr going to a temporary file; returns what was written. */
static char *capture(void (*fn)(void))
{
    char path[] = "/tmp/carbon-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    fn();
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    static char out[8192];
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    assert_true(n >= 0);
    out[n] = '\0';
    close(fd);
    unlink(path);
    return out;
}

static void log_three(void)
{
    log_set_level(LOG_INFO);
    log_msg(LOG_DEBUG, "hidden %d", 1);
    log_json(LOG_INFO, "request",
             json_pack("{s:s,s:i,s:s}", "request_id", "abc", "status", 201, "path", "/a\"b\n"));
    log_msg(LOG_ERROR, "disk %s", "full");
}

static void test_lines_are_json(void **state)
{
    char *out = capture(log_three);
    char *save = NULL, *line = strtok_r(out, "\n", &save);
    int n = 0;
    for (; line; line = strtok_r(NULL, "\n", &save), n++) {
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);
        if (!o)
            fail_msg("not JSON: %s (%s)", line, e.text);
        assert_non_null(json_string_value(json_object_get(o, "time")));
        const char *lvl = json_string_value(json_object_get(o, "level"));
        if (n == 0) {
            assert_string_equal(lvl, "info");
            assert_string_equal(json_string_value(json_object_get(o, "msg")), "request");
            assert_int_equal(json_integer_value(json_object_get(o, "status")), 201);
            /* hostile characters stay inside the JSON string */
            assert_string_equal(json_string_value(json_object_get(o, "path")), "/a\"b\n");
        } else {
            assert_string_equal(lvl, "error");
            assert_string_equal(json_string_value(json_object_get(o, "msg")), "disk full");
        }
        json_decref(o);
    }
    assert_int_equal(n, 2); /* the debug line was filtered out */
}

static void log_off(void)
{
    log_set_level(LOG_OFF);
    log_msg(LOG_ERROR, "nothing");
    log_json(LOG_ERROR, "nothing", json_object());
}

static void test_off_writes_nothing(void **state)
{
    assert_string_equal(capture(log_off), "");
}

static void test_level_parse(void **state)
{
    enum log_level l;
    assert_true(log_level_parse("debug", &l) && l == LOG_DEBUG);
    assert_true(log_level_parse("warn", &l) && l == LOG_WARN);
    assert_true(log_level_parse("off", &l) && l == LOG_OFF);
    assert_false(log_level_parse("WARN", &l));
    assert_false(log_level_parse("", &l));
    assert_false(log_level_parse("verbose", &l));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_are_json),
        cmocka_unit_test(test_off_writes_nothing),
        cmocka_unit_test(test_level_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
