/* test_router.c - route matching (http_route_match, src/http/server.c) over
 * the real route table (api_routes, src/api/routes.c): parameters and their
 * percent-decoding, 405 detection, HEAD as GET, exact segment counts, and no
 * route shadowing another. */
#include "api/api.h"
#include "http/http.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

struct match {
    int route;
    int nparams;
    bool known;
    char params[HTTP_MAX_PARAMS][256];
};

static struct match route(const char *method, const char *path)
{
    struct match m;
    memset(&m, 0, sizeof m);
    m.nparams = -1;
    m.route =
        http_route_match(api_routes, api_nroutes, method, path, m.params, &m.nparams, &m.known);
    return m;
}

/* Index of the route with this method and pattern (the table is the truth). */
static int find(const char *method, const char *pattern)
{
    for (size_t i = 0; i < api_nroutes; i++)
        if (strcmp(api_routes[i].method, method) == 0 &&
            strcmp(api_routes[i].pattern, pattern) == 0)
            return (int)i;
    fail_msg("no route %s %s in the table", method, pattern);
    return -1;
}

static void expect_route(const char *method, const char *path, const char *want_method,
                         const char *want_pattern)
{
    struct match m = route(method, path);
    int want = find(want_method, want_pattern);
    if (m.route != want)
        fail_msg("%s %s matched route %d (%s %s), want %d (%s %s)", method, path, m.route,
                 m.route >= 0 ? api_routes[m.route].method : "-",
                 m.route >= 0 ? api_routes[m.route].pattern : "-", want, want_method, want_pattern);
}

static void expect_none(const char *method, const char *path, bool known)
{
    struct match m = route(method, path);
    if (m.route != -1)
        fail_msg("%s \"%s\" matched %s %s, want no match", method, path, api_routes[m.route].method,
                 api_routes[m.route].pattern);
    if (m.known != known)
        fail_msg("%s \"%s\": path_known=%d, want %d", method, path, m.known, known);
}

/* Builds the path of a pattern with each {param} replaced by vals[i]. */
static int instantiate(const char *pattern, const char *const *vals, char *out, size_t outlen)
{
    size_t o = 0;
    int np = 0;
    for (const char *p = pattern; *p;) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            assert_non_null(e);
            int n = snprintf(out + o, outlen - o, "%s", vals[np++]);
            assert_true(n >= 0 && (size_t)n < outlen - o);
            o += (size_t)n;
            p = e + 1;
        } else {
            assert_true(o + 1 < outlen);
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return np;
}

static void test_table_sane(void **state)
{
    assert_true(api_nroutes > 0);
    for (size_t i = 0; i < api_nroutes; i++) {
        const struct route *r = &api_routes[i];
        assert_non_null(r->fn);
        assert_true(r->pattern[0] == '/');
        static const char *const methods[] = {"GET", "POST", "PATCH", "DELETE", "PUT"};
        bool ok = false;
        for (size_t k = 0; k < sizeof methods / sizeof *methods; k++)
            ok |= strcmp(r->method, methods[k]) == 0;
        if (!ok)
            fail_msg("route %s %s has an unexpected method", r->method, r->pattern);
        /* Every route says who may call it, and the owner rules name their
         * object (the first {param}, or a query argument). */
        if (r->access == ACCESS_UNDECLARED)
            fail_msg("route %s %s does not declare its access", r->method, r->pattern);
        bool owned = r->access == ACCESS_OWNER || r->access == ACCESS_DEVICE;
        if (owned != (r->object != OBJ_NONE))
            fail_msg("route %s %s: owner access and an object go together", r->method, r->pattern);
        if (owned && !r->object_query && !strchr(r->pattern, '{'))
            fail_msg("route %s %s names no object", r->method, r->pattern);
        for (size_t j = i + 1; j < api_nroutes; j++)
            if (strcmp(r->method, api_routes[j].method) == 0 &&
                strcmp(r->pattern, api_routes[j].pattern) == 0)
                fail_msg("route %s %s appears twice", r->method, r->pattern);
    }
}

/* Every route, given its own pattern with sample parameters, matches itself
 * first: no earlier route shadows it. Sample values include every literal
 * segment of the table, so a parameter never gets confused with a literal. */
static void test_every_route_matches_itself(void **state)
{
    static const char *const samples[] = {"dev-1",   "latest", "readings", "keys",
                                          "series",  "items",  "item",     "tables",
                                          "devices", "v1",     "Dynamo",   "healthz"};
    const size_t ns = sizeof samples / sizeof *samples;
    for (size_t i = 0; i < api_nroutes; i++) {
        const struct route *r = &api_routes[i];
        for (size_t s = 0; s < ns; s++) {
            const char *vals[HTTP_MAX_PARAMS];
            for (int k = 0; k < HTTP_MAX_PARAMS; k++)
                vals[k] = samples[(s + (size_t)k) % ns];
            char path[512];
            int np = instantiate(r->pattern, vals, path, sizeof path);
            struct match m = route(r->method, path);
            if (m.route != (int)i)
                fail_msg("%s %s (from %s) matched route %d, want %zu", r->method, path, r->pattern,
                         m.route, i);
            assert_int_equal(m.nparams, np);
            for (int k = 0; k < np; k++)
                assert_string_equal(m.params[k], vals[k]);
            if (np == 0)
                break; /* one try is enough without parameters */
        }
    }
}

static void test_known_routes(void **state)
{
    expect_route("POST", "/v1/readings", "POST", "/v1/readings");
    expect_route("GET", "/v1/devices", "GET", "/v1/devices");
    expect_route("POST", "/v1/devices", "POST", "/v1/devices");
    expect_route("GET", "/v1/devices/kitchen", "GET", "/v1/devices/{id}");
    expect_route("PATCH", "/v1/devices/kitchen", "PATCH", "/v1/devices/{id}");
    expect_route("DELETE", "/v1/devices/kitchen", "DELETE", "/v1/devices/{id}");
    expect_route("GET", "/v1/devices/kitchen/readings", "GET", "/v1/devices/{id}/readings");
    expect_route("GET", "/v1/devices/kitchen/readings/latest", "GET",
                 "/v1/devices/{id}/readings/latest");
    expect_route("GET", "/v1/devices/latest/readings", "GET", "/v1/devices/{id}/readings");
    expect_route("POST", "/v1/devices/kitchen/keys", "POST", "/v1/devices/{id}/keys");
    expect_route("GET", "/Dynamo/items/latest", "GET", "/Dynamo/items/latest");
    expect_route("GET", "/Dynamo/items/esp-1/1700000000", "GET",
                 "/Dynamo/items/{item_id}/{timestamp}");
    expect_route("GET", "/Dynamo/items", "GET", "/Dynamo/items");
    expect_route("GET", "/healthz", "GET", "/healthz");
    expect_route("GET", "/openapi.json", "GET", "/openapi.json");

    struct match m = route("GET", "/Dynamo/items/esp-1/2026-11-25T16:00:00Z");
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.params[0], "esp-1");
    assert_string_equal(m.params[1], "2026-11-25T16:00:00Z");
    m = route("GET", "/v1/devices/kitchen");
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0], "kitchen");
    m = route("GET", "/v1/devices");
    assert_int_equal(m.nparams, 0);
}

/* Paths and query arguments are decoded once, by http_unescape (installed
 * as libmicrohttpd's unescape callback); route matching sees decoded text. */
static void test_percent_decoding(void **state)
{
    static const struct {
        const char *raw, *decoded;
    } v[] = {
        {"kitchen%3A01", "kitchen:01"},
        {"kitchen%3a01", "kitchen:01"},
        {"a%2Fb", "a/b"},
        {"a%20b", "a b"},
        {"%41%42%43", "ABC"},
        {"%e2%82%ac", "\xe2\x82\xac"},
        {"100%25", "100%"},
        {"%7Bid%7D", "{id}"},
        {"plain", "plain"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", v[i].raw);
        size_t n = http_unescape(buf);
        if (strcmp(buf, v[i].decoded) != 0 || n != strlen(v[i].decoded))
            fail_msg("%s decoded to \"%s\" (%zu), want \"%s\"", v[i].raw, buf, n, v[i].decoded);
    }
}

/* Malformed escapes and %00 stay as they are: a NUL can never cut a path or
 * a value short (GET /v1/devices/x%00/keys must not become /v1/devices/x). */
static void test_percent_decoding_malformed(void **state)
{
    static const char *const bad[] = {"%",   "a%",    "a%4", "%zz", "%4g", "%g4",
                                      "%00", "a%00b", "%+4", "%+F", "% 4", "%-0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s", bad[i]);
        size_t n = http_unescape(buf);
        if (strcmp(buf, bad[i]) != 0 || n != strlen(bad[i]))
            fail_msg("%s became \"%s\", want it unchanged", bad[i], buf);
    }
    char path[] = "/v1/devices/x%00/keys";
    http_unescape(path);
    expect_none("GET", path, true); /* POST exists on it: 405, never GET /v1/devices/x */
    struct match m = route("POST", path);
    assert_int_equal(m.route, find("POST", "/v1/devices/{id}/keys"));
    assert_string_equal(m.params[0], "x%00"); /* an invalid id: 404 later */
}

/* Matching never decodes a second time. */
static void test_no_double_decoding(void **state)
{
    struct match m = route("GET", "/v1/devices/kitchen%2D1");
    assert_int_equal(m.route, find("GET", "/v1/devices/{id}"));
    assert_string_equal(m.params[0], "kitchen%2D1");
}

static void test_param_length(void **state)
{
    char path[1024], want[300];
    /* 255 bytes: the most a parameter holds */
    memset(want, 'p', 255);
    want[255] = '\0';
    snprintf(path, sizeof path, "/v1/devices/%s", want);
    struct match m = route("GET", path);
    assert_int_equal(m.route, find("GET", "/v1/devices/{id}"));
    assert_string_equal(m.params[0], want);
    /* 256: refused */
    snprintf(path, sizeof path, "/v1/devices/%sq", want);
    expect_none("GET", path, false);
    /* the limit applies after decoding: 255 escapes of 3 bytes each fit */
    size_t o = (size_t)snprintf(path, sizeof path, "/v1/devices/");
    for (int i = 0; i < 255; i++)
        o += (size_t)snprintf(path + o, sizeof path - o, "%%41");
    http_unescape(path);
    m = route("GET", path);
    assert_int_equal(m.route, find("GET", "/v1/devices/{id}"));
    assert_int_equal(strlen(m.params[0]), 255);
    assert_int_equal(m.params[0][254], 'A');
}

static void test_method_not_allowed(void **state)
{
    expect_none("GET", "/v1/readings", true);
    expect_none("DELETE", "/v1/readings", true);
    expect_none("PUT", "/v1/devices/kitchen", true);
    expect_none("POST", "/v1/devices/kitchen", true);
    expect_none("DELETE", "/v1/devices", true);
    expect_none("GET", "/v1/devices/kitchen/keys", true);
    expect_none("POST", "/healthz", true);
    expect_none("OPTIONS", "/metrics", true);
    expect_none("GET", "/Dynamo/item", true);
    expect_none("POST", "/Dynamo/items/latest", true);
    /* methods are case-sensitive (RFC 9110) */
    expect_none("get", "/healthz", true);
    /* HEAD is GET without a body, so a POST-only path has no HEAD */
    expect_none("HEAD", "/v1/readings", true);
    expect_none("HEAD", "/Dynamo/item", true);
}

static void test_head_matches_get(void **state)
{
    expect_route("HEAD", "/healthz", "GET", "/healthz");
    expect_route("HEAD", "/v1/devices", "GET", "/v1/devices");
    expect_route("HEAD", "/v1/devices/kitchen", "GET", "/v1/devices/{id}");
    expect_route("HEAD", "/v1/devices/kitchen/readings/latest", "GET",
                 "/v1/devices/{id}/readings/latest");
    struct match m = route("HEAD", "/Dynamo/items/a:b/5");
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.params[0], "a:b");
    assert_string_equal(m.params[1], "5");
}

static void test_no_match(void **state)
{
    static const char *const paths[] = {
        "",
        "/",
        "/v1",
        "/v1/",
        "/v1/devices/",
        "/v1/devices//readings",
        "/v1/devices/kitchen/",
        "/v1/devices/kitchen/readings/",
        "/v1/devices/kitchen/extra",
        "/v1/devices/kitchen/readings/latest/more",
        "/v1/devices/kitchen/readings/oldest",
        "/V1/devices",
        "/v1/Devices",
        "//healthz",
        "/healthz/",
        "/healthzz",
        "/health",
        "/healthz/x",
        "/Dynamo/items/a",
        "/Dynamo/items/a/b/c",
        "/Dynamo/items//b",
        "/Dynamo/items/a/",
        "v1/devices",
        "/v1/readings/extra",
        "/openapi.json/",
        "/openapi",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        expect_none("GET", paths[i], false);
        expect_none("POST", paths[i], false);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_sane),
        cmocka_unit_test(test_every_route_matches_itself),
        cmocka_unit_test(test_known_routes),
        cmocka_unit_test(test_percent_decoding),
        cmocka_unit_test(test_percent_decoding_malformed),
        cmocka_unit_test(test_no_double_decoding),
        cmocka_unit_test(test_param_length),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_head_matches_get),
        cmocka_unit_test(test_no_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
