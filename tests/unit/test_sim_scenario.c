/* test_sim_scenario.c - `carbon sim --scenario` (src/sim/scenario.c): one
 * name for every device, "mix" drawn from the seed (the same seed, the same
 * assignment; about 60 % steady, 10 % each other), lists of counts assigned
 * in order and matched against --devices, and the refusals: empty specs and
 * items (",", "a,,b", a trailing comma), unknown names, a name without its
 * count in a list, counts of zero, negative, not decimal or over the cap,
 * totals over the cap, overlong items. (The profiles' ppm levels are
 * sensor.c's, tested in test_sim_sensor.c.) */
#include "sim/scenario.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX 20000

/* sim_scenarios_assign on spec with *ndev as given; checks the contract on
 * the way out (a vector only on success, a reason only on failure). */
static int assign(const char *spec, uint64_t seed, size_t *ndev, enum sim_scenario **v, char *err,
                  size_t cap)
{
    static enum sim_scenario junk;
    memset(err, 0, cap);
    *v = &junk; /* must be reset */
    int rc = sim_scenarios_assign(spec, seed, MAX, ndev, v, err, cap);
    if (rc == 0) {
        assert_non_null(*v);
        assert_string_equal(err, "");
    } else {
        assert_null(*v);
    }
    return rc;
}

/* spec is refused (2) whatever --devices says, with err holding want. */
static void refused(const char *spec, size_t ndev, const char *want)
{
    char err[256];
    enum sim_scenario *v;
    size_t n = ndev;
    assert_int_equal(assign(spec, 1, &n, &v, err, sizeof err), 2);
    assert_true(err[0] != '\0');
    if (!strstr(err, want))
        fail_msg("'%s': '%s' does not say '%s'", spec, err, want);
    /* The reason comes without a "carbon sim:" prefix (the caller adds one). */
    assert_null(strstr(err, "carbon"));
}

static void test_one_name(void **state)
{
    char err[256];
    enum sim_scenario *v;
    for (int s = 0; s < SIM_NSCENARIOS; s++) {
        size_t n = 0; /* not given: one device */
        assert_int_equal(
            assign(sim_scenario_name((enum sim_scenario)s), 7, &n, &v, err, sizeof err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(v[0], s);
        free(v);
        n = 25;
        assert_int_equal(
            assign(sim_scenario_name((enum sim_scenario)s), 7, &n, &v, err, sizeof err), 0);
        assert_int_equal(n, 25);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(v[i], s);
        free(v);
    }
}

static void test_mix(void **state)
{
    char err[256];
    enum sim_scenario *a, *b, *c;
    size_t n = 5000, nb = 5000, nc = 5000;
    assert_int_equal(assign("mix", 42, &n, &a, err, sizeof err), 0);
    assert_int_equal(assign("mix", 42, &nb, &b, err, sizeof err), 0);
    assert_int_equal(assign("mix", 43, &nc, &c, err, sizeof err), 0);
    assert_int_equal(n, 5000);
    /* The same seed, the same assignment; another seed, another. */
    assert_memory_equal(a, b, n * sizeof *a);
    assert_true(memcmp(a, c, n * sizeof *a) != 0);
    size_t per[SIM_NSCENARIOS] = {0};
    for (size_t i = 0; i < n; i++) {
        assert_true(a[i] >= 0 && a[i] < SIM_NSCENARIOS);
        per[a[i]]++;
    }
    /* 60 % steady (3000), 10 % (500) each other: within ~4 sigma. */
    assert_true(per[SIM_STEADY] > 2860 && per[SIM_STEADY] < 3140);
    for (int s = SIM_SLOW_LEAK; s < SIM_NSCENARIOS; s++)
        if (per[s] < 415 || per[s] > 585)
            fail_msg("%s: %zu of 5000", sim_scenario_name((enum sim_scenario)s), per[s]);
    free(a);
    free(b);
    free(c);
    /* Without --devices: one device. */
    n = 0;
    assert_int_equal(assign("mix", 42, &n, &a, err, sizeof err), 0);
    assert_int_equal(n, 1);
    free(a);
}

static void test_counts(void **state)
{
    char err[256];
    enum sim_scenario *v;
    size_t n = 0;
    assert_int_equal(assign("fast-leak:2,steady:8", 1, &n, &v, err, sizeof err), 0);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(v[i], i < 2 ? SIM_FAST_LEAK : SIM_STEADY);
    free(v);
    /* --devices may repeat the sum. */
    n = 10;
    assert_int_equal(assign("fast-leak:2,steady:8", 1, &n, &v, err, sizeof err), 0);
    assert_int_equal(n, 10);
    free(v);
    /* Every scenario, in the order given, a name used twice kept twice;
     * leading zeros are decimal. */
    n = 0;
    assert_int_equal(assign("offline:1,sensor-fault:02,slow-leak:3,steady:1,offline:1", 1, &n, &v,
                            err, sizeof err),
                     0);
    static const enum sim_scenario want[] = {SIM_OFFLINE,   SIM_SENSOR_FAULT, SIM_SENSOR_FAULT,
                                             SIM_SLOW_LEAK, SIM_SLOW_LEAK,    SIM_SLOW_LEAK,
                                             SIM_STEADY,    SIM_OFFLINE};
    assert_int_equal(n, sizeof want / sizeof *want);
    assert_memory_equal(v, want, sizeof want);
    free(v);
    /* One item; and exactly the cap. */
    n = 0;
    assert_int_equal(assign("slow-leak:1", 1, &n, &v, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(v[0], SIM_SLOW_LEAK);
    free(v);
    n = 0;
    assert_int_equal(assign("steady:19999,fast-leak:1", 1, &n, &v, err, sizeof err), 0);
    assert_int_equal(n, MAX);
    assert_int_equal(v[MAX - 2], SIM_STEADY);
    assert_int_equal(v[MAX - 1], SIM_FAST_LEAK);
    free(v);
}

static void test_refusals(void **state)
{
    refused("", 0, "empty");
    refused("", 5, "empty");
    /* Empty items. */
    refused(",", 0, "empty item");
    refused("steady:2,", 0, "empty item");
    refused("steady:2,,fast-leak:1", 0, "empty item");
    refused(",steady:2", 0, "empty item");
    refused("steady:2,fast-leak:1,", 3, "empty item");
    /* Unknown names, alone or in a list. */
    refused("bogus", 0, "unknown scenario 'bogus'");
    refused("Steady", 0, "unknown scenario");
    refused("bogus:3", 0, "unknown scenario 'bogus'");
    refused("steady:1,leak:2", 0, "unknown scenario 'leak'");
    refused("mix:3", 0, "unknown scenario 'mix'");
    refused(":3", 0, "unknown scenario");
    refused(" steady:2", 0, "unknown scenario");
    /* A known name without its count in a list. */
    refused("steady,fast-leak:1", 0, "needs a count in a list (steady:N)");
    refused("fast-leak:1,steady", 0, "needs a count");
    /* Counts: from 1, decimal digits only, up to the cap. */
    refused("steady:0", 0, "count from 1 to 20000");
    refused("steady:00", 0, "count from 1");
    refused("steady:-1", 0, "count from 1");
    refused("steady:+1", 0, "count from 1");
    refused("steady:", 0, "count from 1");
    refused("steady: 2", 0, "count from 1");
    refused("steady:2 ", 0, "count from 1");
    refused("steady:0x10", 0, "count from 1");
    refused("steady:1.5", 0, "count from 1");
    refused("steady:2:3", 0, "count from 1");
    refused("steady:20001", 0, "count from 1 to 20000");
    refused("steady:18446744073709551617", 0, "count from 1");
    refused("steady:99999999999999999999999999999999", 0, "count from 1");
    /* The total over the cap. */
    refused("steady:15000,fast-leak:5001", 0, "at most 20000 devices");
    refused("steady:20000,steady:20000,steady:20000", 0, "at most 20000");
    /* --devices that does not match the counts. */
    refused("fast-leak:2,steady:8", 9, "does not match");
    refused("fast-leak:2,steady:8", 11, "does not match");
    /* An item longer than any name:count. */
    char long_item[100];
    memset(long_item, 'a', sizeof long_item - 1);
    long_item[sizeof long_item - 1] = '\0';
    memcpy(long_item, "steady:1,", 9);
    refused(long_item, 0, "too long");
}

/* A short err buffer is truncated, not overrun. */
static void test_short_err(void **state)
{
    char err[16];
    memset(err, 'x', sizeof err);
    enum sim_scenario *v = NULL;
    size_t n = 0;
    assert_int_equal(sim_scenarios_assign("bogus-scenario-name", 1, MAX, &n, &v, err, 8), 2);
    assert_null(v);
    assert_int_equal(strlen(err), 7);
    assert_int_equal(err[8], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_name),  cmocka_unit_test(test_mix),
        cmocka_unit_test(test_counts),    cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_short_err),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
