/* form.h - application/x-www-form-urlencoded: decoding into a bounded list of
 * (name, value) pairs, lookup, and encoding into a buffer. */
#ifndef CARBON_FORM_H
#define CARBON_FORM_H
#include "core/buf.h"
#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define FORM_MAX_PAIRS 128         /* more pairs than this: CB_ERR_TOO_LARGE */
#define FORM_MAX_BYTES (64 * 1024) /* more encoded input than this: CB_ERR_TOO_LARGE */

struct form_pair {
    const char *name; /* decoded, NUL-terminated, never contains NUL */
    const char *value;
};

struct form {
    struct form_pair *pairs; /* in input order; NULL when n == 0 */
    size_t n;
    char *arena; /* owns every name and value */
};

/* Decodes len bytes of s (need not be NUL-terminated) into f, which the
 * caller frees with form_free whatever the result:
 * - pairs are separated by '&'; empty pieces ("a=1&&b=2", a trailing '&')
 *   are skipped; a piece without '=' is a name with the value "";
 * - '+' decodes to a space, "%XX" (either case) to the byte 0xXX; a '%' not
 *   followed by two hex digits is an error, as is a decoded NUL byte;
 * - bytes are not checked for UTF-8 (signatures need them as sent).
 * Returns CB_OK, CB_ERR_BAD_REQUEST (bad escape, NUL), CB_ERR_TOO_LARGE (over
 * FORM_MAX_BYTES or FORM_MAX_PAIRS) or CB_ERR_NOMEM. On error f is empty and
 * *why (if why is not NULL) points to a static explanation. */
cb_err form_parse(struct form *f, const char *s, size_t len, const char **why);

/* Like form_parse on the query string of url: what follows the first '?' up
 * to a '#' (a URL without '?' has no parameters: CB_OK and no pairs). url may
 * also be a bare query string starting with '?'. */
cb_err form_parse_query(struct form *f, const char *url, const char **why);

/* The value of the first pair called name, or NULL. */
const char *form_get(const struct form *f, const char *name);

/* Frees what f owns; f is left empty (and may be freed again). */
void form_free(struct form *f);

/* Appends "name=value" to out, preceded by '&' when out is not empty.
 * Encoding: A-Z a-z 0-9 and "*-._" as is, space as '+', every other byte as
 * "%XX" (upper case). False, with out as it was, if out refused the bytes
 * (its cap, or memory). */
bool form_append(struct buf *out, const char *name, const char *value);

#endif
