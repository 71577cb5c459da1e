/* test_openapi.c - the OpenAPI document compiled into the binary matches the
 * route table: every route is documented with its method, every documented
 * operation is a real route (no stale docs), public routes and only they are
 * marked `security: []`, and every {param} of a path is declared. */
#include "api/api.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

extern const char openapi_json[];
extern const size_t openapi_json_len;

/* The operation keys of an OpenAPI 3.0 Path Item (the others are metadata). */
static const char *const oas_methods[] = {"get",  "put",   "post",  "delete", "options",
                                          "head", "patch", "trace", NULL};

static bool is_oas_method(const char *key)
{
    for (const char *const *m = oas_methods; *m; m++)
        if (strcmp(*m, key) == 0)
            return true;
    return false;
}

static void lower(const char *in, char *out, size_t n)
{
    size_t i = 0;
    for (; in[i] && i + 1 < n; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static int load_doc(void **state)
{
    json_error_t err;
    json_t *doc = json_loadb(openapi_json, openapi_json_len, JSON_REJECT_DUPLICATES, &err);
    if (!doc) {
        fprintf(stderr, "docs/openapi.json: line %d column %d: %s\n", err.line, err.column,
                err.text);
        return -1;
    }
    *state = doc;
    return 0;
}

static int free_doc(void **state)
{
    json_decref(*state);
    *state = NULL;
    return 0;
}

static json_t *paths_of(void **state)
{
    json_t *paths = json_object_get(*state, "paths");
    assert_non_null(paths);
    assert_true(json_is_object(paths));
    return paths;
}

/* The operation object documenting route r, or NULL. */
static json_t *operation_of(json_t *paths, const struct route *r)
{
    char m[16];
    lower(r->method, m, sizeof m);
    return json_object_get(json_object_get(paths, r->pattern), m);
}

static void test_document_header(void **state)
{
    json_t *doc = *state;
    assert_true(json_is_object(doc));
    assert_string_equal(json_string_value(json_object_get(doc, "openapi")), "3.0.3");
    json_t *info = json_object_get(doc, "info");
    assert_non_null(json_string_value(json_object_get(info, "title")));
    assert_non_null(json_string_value(json_object_get(info, "version")));
    json_t *schemes = json_object_get(json_object_get(doc, "components"), "securitySchemes");
    assert_non_null(json_object_get(schemes, "bearerAuth"));
    assert_non_null(json_object_get(schemes, "apiKey"));
    json_t *err =
        json_object_get(json_object_get(json_object_get(doc, "components"), "schemas"), "Error");
    assert_non_null(err);
    (void)paths_of(state);
}

static void test_every_route_is_documented(void **state)
{
    json_t *paths = paths_of(state);
    size_t missing = 0;
    assert_true(api_nroutes > 0);
    for (size_t i = 0; i < api_nroutes; i++) {
        const struct route *r = &api_routes[i];
        json_t *op = operation_of(paths, r);
        if (!json_is_object(op)) {
            fprintf(stderr, "undocumented route: %s %s\n", r->method, r->pattern);
            missing++;
            continue;
        }
        if (!json_is_object(json_object_get(op, "responses"))) {
            fprintf(stderr, "%s %s has no responses\n", r->method, r->pattern);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

static bool is_route(const char *path, const char *method)
{
    for (size_t i = 0; i < api_nroutes; i++)
        if (strcmp(api_routes[i].pattern, path) == 0 &&
            strcasecmp(api_routes[i].method, method) == 0)
            return true;
    return false;
}

static void test_every_documented_operation_is_a_route(void **state)
{
    json_t *paths = paths_of(state);
    const char *path, *key;
    json_t *item, *op;
    size_t stale = 0, ops = 0;
    json_object_foreach(paths, path, item)
    {
        assert_true(json_is_object(item));
        json_object_foreach(item, key, op)
        {
            if (!is_oas_method(key))
                continue;
            ops++;
            if (!is_route(path, key)) {
                fprintf(stderr, "documented but not routed: %s %s\n", key, path);
                stale++;
            }
        }
    }
    assert_int_equal(stale, 0);
    assert_int_equal(ops, api_nroutes);
}

/* Public routes say `security: []`; the others inherit the document's
 * (non-empty) security or name their own. */
static void test_security_matches_access(void **state)
{
    json_t *doc = *state, *paths = paths_of(state);
    json_t *global = json_object_get(doc, "security");
    assert_true(json_is_array(global) && json_array_size(global) > 0);
    size_t wrong = 0;
    for (size_t i = 0; i < api_nroutes; i++) {
        const struct route *r = &api_routes[i];
        json_t *op = operation_of(paths, r);
        if (!op)
            continue; /* reported by test_every_route_is_documented */
        json_t *sec = json_object_get(op, "security");
        bool open = json_is_array(sec) && json_array_size(sec) == 0;
        if (open != (r->access == ACCESS_PUBLIC)) {
            fprintf(stderr, "%s %s: security %s but the route is %s\n", r->method, r->pattern,
                    open ? "[]" : "required", r->access == ACCESS_PUBLIC ? "public" : "protected");
            wrong++;
        }
        if (r->access != ACCESS_PUBLIC &&
            !json_object_get(json_object_get(op, "responses"), "401")) {
            fprintf(stderr, "%s %s: protected but no 401 documented\n", r->method, r->pattern);
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);
}

/* Follows a local "#/components/parameters/X" reference. */
static json_t *deref(json_t *doc, json_t *p)
{
    const char *ref = json_string_value(json_object_get(p, "$ref"));
    static const char prefix[] = "#/components/parameters/";
    if (!ref)
        return p;
    if (strncmp(ref, prefix, sizeof prefix - 1) != 0)
        return NULL;
    return json_object_get(json_object_get(json_object_get(doc, "components"), "parameters"),
                           ref + sizeof prefix - 1);
}

static const char *str_of(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

static bool declares_path_param(json_t *doc, json_t *params, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(params, i, p)
    {
        json_t *d = deref(doc, p);
        if (d && json_is_true(json_object_get(d, "required")) &&
            strcmp(str_of(d, "in"), "path") == 0 && strcmp(str_of(d, "name"), name) == 0)
            return true;
    }
    return false;
}

static void test_path_parameters_declared(void **state)
{
    json_t *doc = *state, *paths = paths_of(state);
    size_t undeclared = 0;
    for (size_t i = 0; i < api_nroutes; i++) {
        const struct route *r = &api_routes[i];
        json_t *item = json_object_get(paths, r->pattern);
        json_t *op = operation_of(paths, r);
        for (const char *s = strchr(r->pattern, '{'); s; s = strchr(s + 1, '{')) {
            const char *e = strchr(s, '}');
            assert_non_null(e);
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(e - s - 1), s + 1);
            if (!declares_path_param(doc, json_object_get(op, "parameters"), name) &&
                !declares_path_param(doc, json_object_get(item, "parameters"), name)) {
                fprintf(stderr, "%s %s: path parameter {%s} is not declared\n", r->method,
                        r->pattern, name);
                undeclared++;
            }
        }
    }
    assert_int_equal(undeclared, 0);
}

/* Sanity of the check itself: the matcher the server uses finds each
 * documented path when its parameters are filled in. */
static void test_documented_paths_match_router(void **state)
{
    json_t *paths = paths_of(state);
    const char *path;
    json_t *item;
    json_object_foreach(paths, path, item)
    {
        char concrete[512];
        size_t o = 0;
        for (const char *s = path; *s && o + 2 < sizeof concrete;) {
            if (*s == '{') {
                const char *e = strchr(s, '}');
                assert_non_null(e);
                concrete[o++] = 'x';
                s = e + 1;
            } else {
                concrete[o++] = *s++;
            }
        }
        concrete[o] = '\0';
        char params[HTTP_MAX_PARAMS][256];
        int np = 0;
        bool known = false;
        const char *key;
        json_t *op;
        json_object_foreach(item, key, op)
        {
            if (!is_oas_method(key))
                continue;
            char m[16];
            snprintf(m, sizeof m, "%s", key);
            for (char *c = m; *c; c++)
                *c = (char)toupper((unsigned char)*c);
            int idx = http_route_match(api_routes, api_nroutes, m, concrete, params, &np, &known);
            if (idx < 0)
                fprintf(stderr, "router does not match %s %s\n", m, concrete);
            assert_true(idx >= 0);
            assert_string_equal(api_routes[idx].pattern, path);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_header),
        cmocka_unit_test(test_every_route_is_documented),
        cmocka_unit_test(test_every_documented_operation_is_a_route),
        cmocka_unit_test(test_security_matches_access),
        cmocka_unit_test(test_path_parameters_declared),
        cmocka_unit_test(test_documented_paths_match_router),
    };
    return cmocka_run_group_tests(tests, load_doc, free_doc);
}
