/* test_metrics.c - counters, histograms and the Prometheus text format
 * (src/core/metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct metrics *two_routes(void)
{
    struct metrics *m = metrics_new(2);
    assert_non_null(m);
    metrics_name_route(m, 0, "POST", "/v1/readings");
    metrics_name_route(m, 1, "GET", "/healthz");
    return m;
}

static char *render(struct metrics *m, struct buf *b)
{
    buf_init(b, 0);
    assert_true(metrics_render(m, b));
    return b->data;
}

/* The value of the sample whose line starts with prefix (followed by ' '). */
static double sample(const char *text, const char *prefix)
{
    size_t n = strlen(prefix);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, n) == 0 && p[n] == ' ') {
            char *end;
            double v = strtod(p + n + 1, &end);
            assert_true(end != p + n + 1);
            return v;
        }
    }
    fail_msg("no sample %s in:\n%s", prefix, text);
    return 0;
}

static void test_counts_by_route_and_status(void **state)
{
    struct metrics *m = two_routes();
    metrics_request(m, 0, 201, 300000);  /* 0.3 ms */
    metrics_request(m, 0, 201, 2000000); /* 2 ms */
    metrics_request(m, 0, 422, 100000);
    metrics_request(m, 1, 200, 50000);
    metrics_request(m, 7, 404, 50000); /* out of range: counted as unmatched */
    metrics_request(m, 0, 418, 1000);  /* an unlisted status: "other" */
    metrics_readings(m, 5, 2);
    struct buf b;
    char *t = render(m, &b);
    assert_true(
        sample(t,
               "carbon_http_requests_total{method=\"POST\",route=\"/v1/readings\",code=\"201\"}") ==
        2);
    assert_true(
        sample(t,
               "carbon_http_requests_total{method=\"POST\",route=\"/v1/readings\",code=\"422\"}") ==
        1);
    assert_true(sample(t, "carbon_http_requests_total{method=\"POST\",route=\"/v1/readings\","
                          "code=\"other\"}") == 1);
    assert_true(
        sample(t, "carbon_http_requests_total{method=\"\",route=\"unmatched\",code=\"404\"}") == 1);
    assert_true(sample(t, "carbon_readings_ingested_total") == 5);
    assert_true(sample(t, "carbon_readings_duplicate_total") == 2);
    /* the healthz route saw no 201: that series is absent, not zero */
    assert_null(strstr(t, "route=\"/healthz\",code=\"201\""));
    buf_free(&b);
    metrics_free(m);
}

static void test_histogram_is_cumulative(void **state)
{
    struct metrics *m = two_routes();
    metrics_request(m, 0, 201, 300000);     /* <= 0.0005 */
    metrics_request(m, 0, 201, 2000000);    /* <= 0.0025 */
    metrics_request(m, 0, 201, 5000000000); /* 5 s: only +Inf */
    struct buf b;
    char *t = render(m, &b);
    const char *base = "carbon_http_request_duration_seconds_bucket{method=\"POST\","
                       "route=\"/v1/readings\",le=";
    char key[256];
    snprintf(key, sizeof key, "%s\"0.0005\"}", base);
    assert_true(sample(t, key) == 1);
    snprintf(key, sizeof key, "%s\"0.001\"}", base);
    assert_true(sample(t, key) == 1);
    snprintf(key, sizeof key, "%s\"0.0025\"}", base);
    assert_true(sample(t, key) == 2);
    snprintf(key, sizeof key, "%s\"2.5\"}", base);
    assert_true(sample(t, key) == 2);
    snprintf(key, sizeof key, "%s\"+Inf\"}", base);
    assert_true(sample(t, key) == 3);
    double sum = sample(t, "carbon_http_request_duration_seconds_sum{method=\"POST\","
                           "route=\"/v1/readings\"}");
    assert_true(sum > 5.0022 && sum < 5.0024);
    assert_true(sample(t, "carbon_http_request_duration_seconds_count{method=\"POST\","
                          "route=\"/v1/readings\"}") == 3);
    /* every family is declared before its samples */
    assert_non_null(strstr(t, "# TYPE carbon_http_request_duration_seconds histogram"));
    assert_non_null(strstr(t, "# TYPE carbon_http_requests_total counter"));
    buf_free(&b);
    metrics_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_by_route_and_status),
        cmocka_unit_test(test_histogram_is_cumulative),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
