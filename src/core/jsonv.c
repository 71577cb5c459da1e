/* jsonv.c - typed, validating getters over jansson objects. */
#include "core/jsonv.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void jv_fail(struct jv_err *e, const char *field, const char *fmt, ...)
{
    snprintf(e->field, sizeof e->field, "%s", field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

static const json_t *lookup(const json_t *obj, const char *key, bool required, bool *present,
                            struct jv_err *e, bool *ok)
{
    const json_t *v = json_object_get(obj, key);
    *ok = true;
    if (!v || json_is_null(v)) {
        if (required) {
            jv_fail(e, key, "is required");
            *ok = false;
        }
        if (present)
            *present = false;
        return NULL;
    }
    if (present)
        *present = true;
    return v;
}

bool jv_string(const json_t *obj, const char *key, bool required, size_t minlen, size_t maxlen,
               const char **out, bool *present, struct jv_err *e)
{
    bool ok;
    const json_t *v = lookup(obj, key, required, present, e, &ok);
    if (!v)
        return ok;
    if (!json_is_string(v)) {
        jv_fail(e, key, "must be a string, not %s", type_name(v));
        return false;
    }
    size_t n = json_string_length(v);
    if (n < minlen || n > maxlen) {
        jv_fail(e, key, "must be %zu to %zu bytes long in UTF-8 (got %zu)", minlen, maxlen, n);
        return false;
    }
    if (strlen(json_string_value(v)) != n) {
        jv_fail(e, key, "must not contain NUL characters");
        return false;
    }
    *out = json_string_value(v);
    return true;
}

bool jv_number(const json_t *obj, const char *key, bool required, double min, double max,
               double *out, bool *present, struct jv_err *e)
{
    bool ok;
    const json_t *v = lookup(obj, key, required, present, e, &ok);
    if (!v)
        return ok;
    if (!json_is_number(v)) {
        jv_fail(e, key, "must be a number, not %s", type_name(v));
        return false;
    }
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max) {
        jv_fail(e, key, "must be between %g and %g", min, max);
        return false;
    }
    *out = d;
    return true;
}

bool jv_int(const json_t *obj, const char *key, bool required, int64_t min, int64_t max,
            int64_t *out, bool *present, struct jv_err *e)
{
    bool ok;
    const json_t *v = lookup(obj, key, required, present, e, &ok);
    if (!v)
        return ok;
    if (!json_is_integer(v)) {
        jv_fail(e, key, "must be an integer, not %s",
                json_is_real(v) ? "a fraction" : type_name(v));
        return false;
    }
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) {
        jv_fail(e, key, "must be between %lld and %lld", (long long)min, (long long)max);
        return false;
    }
    *out = (int64_t)i;
    return true;
}

bool jv_only_keys(const json_t *obj, const char *const *allowed, struct jv_err *e)
{
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)obj, key, v)
    {
        bool known = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0)
                known = true;
        if (!known) {
            char shown[48];
            snprintf(shown, sizeof shown, "%.40s", key);
            jv_fail(e, shown, "is not a known field");
            return false;
        }
    }
    return true;
}

bool jv_valid_id(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-'))
            return false;
        if (n >= 64)
            return false;
    }
    return n >= 1;
}

json_t *jv_parse(const char *data, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!root) {
        /* jansson quotes the text near the error; a body may hold a
         * password, so the quote is cut: line and column say where. */
        char *near = strstr(je.text, " near '");
        if (near)
            *near = '\0';
        snprintf(err, errlen, "invalid JSON at line %d column %d: %s", je.line, je.column, je.text);
    }
    return root;
}

json_t *jv_merge(const char *stored, const json_t *patch)
{
    json_t *merged = stored ? json_loads(stored, 0, NULL) : NULL;
    if (!json_is_object(merged)) {
        json_decref(merged);
        merged = json_object();
    }
    if (!merged || json_object_update(merged, (json_t *)patch) != 0) {
        json_decref(merged);
        return NULL;
    }
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(merged, tmp, k, v)
    {
        if (json_is_null(v))
            json_object_del(merged, k);
    }
    return merged;
}
