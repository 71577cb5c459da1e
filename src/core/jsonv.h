/* jsonv.h - typed, validating getters over jansson objects. */
#ifndef CARBON_JSONV_H
#define CARBON_JSONV_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Why a value was refused: the field and what to fix. */
struct jv_err {
    char field[72];
    char reason[168];
};

void jv_fail(struct jv_err *e, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Each getter reads obj[key]. Absent (or JSON null) and !required: returns
 * true and sets *present=false when present is non-NULL, leaving *out alone.
 * Any type or range violation: false with *e filled. Strings are borrowed
 * from obj. */
bool jv_string(const json_t *obj, const char *key, bool required, size_t minlen, size_t maxlen,
               const char **out, bool *present, struct jv_err *e);
bool jv_number(const json_t *obj, const char *key, bool required, double min, double max,
               double *out, bool *present, struct jv_err *e);
bool jv_int(const json_t *obj, const char *key, bool required, int64_t min, int64_t max,
            int64_t *out, bool *present, struct jv_err *e);
/* Fails on the first key of obj not listed in allowed (NULL-terminated). */
bool jv_only_keys(const json_t *obj, const char *const *allowed, struct jv_err *e);

/* A settings object (stored JSON text, NULL or unreadable: {}) with patch's
 * keys applied, a null in patch removing the key (back to its default).
 * NULL if out of memory. */
json_t *jv_merge(const char *stored, const json_t *patch);

/* 1-64 characters of [A-Za-z0-9._:-]: device, gateway and item ids. */
bool jv_valid_id(const char *s);

/* Parses a request body as JSON (duplicate keys refused, depth limited).
 * NULL with a message in err (at least 160 bytes) on failure. */
json_t *jv_parse(const char *data, size_t len, char *err, size_t errlen);

#endif
