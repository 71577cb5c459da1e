/* auth.h - who is calling (credentials) and whether a route admits them. */
#ifndef CARBON_AUTH_H
#define CARBON_AUTH_H
#include "auth/registry.h"
#include "http/http.h"

/* Resolves credentials from the Authorization ("Bearer <token>") and
 * X-Api-Key headers (either may be NULL). No credentials: CB_OK with kind
 * PRINCIPAL_NONE. Credentials that match nothing, or a malformed
 * Authorization header: CB_ERR_UNAUTHORIZED. */
cb_err auth_identify(const char *admin_token, struct registry *reg, const char *authorization,
                     const char *api_key, struct principal *out);

/* CB_OK if p may call a route with this access; CB_ERR_UNAUTHORIZED when it
 * needs credentials and there are none; CB_ERR_FORBIDDEN for the wrong kind. */
cb_err auth_check(enum access a, const struct principal *p);

#endif
