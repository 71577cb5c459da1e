/* auth.h - the one authorization layer: who is calling (credentials), whether
 * a route admits them, and whether they may touch the route's object. */
#ifndef CARBON_AUTH_H
#define CARBON_AUTH_H
#include "auth/registry.h"
#include "auth/users.h"
#include "http/http.h"

struct app;

/* Resolves credentials from the Authorization ("Bearer <token>") and
 * X-Api-Key headers (either may be NULL): the admin token, a device or
 * gateway key, or a user's session token. No credentials: CB_OK with kind
 * PRINCIPAL_NONE. Credentials that match nothing (or an expired session), or
 * a malformed Authorization header: CB_ERR_UNAUTHORIZED. users may be NULL. */
cb_err auth_identify(const char *admin_token, struct registry *reg, struct users *users,
                     int64_t now_ms, const char *authorization, const char *api_key,
                     struct principal *out);

/* CB_OK if p may call a route with this access; CB_ERR_UNAUTHORIZED when it
 * needs credentials and there are none; CB_ERR_FORBIDDEN for the wrong kind
 * of credentials. */
cb_err auth_check(enum access a, const struct principal *p);

/* For ACCESS_OWNER / ACCESS_DEVICE routes, after auth_check: may p act on
 * object id of kind k? CB_OK; CB_ERR_NOT_FOUND for someone else's object
 * (or none: existence is not revealed); CB_ERR_FORBIDDEN when p's kind of
 * credentials never reaches this kind of object. Admin: always CB_OK (the
 * handler answers 404 for what does not exist). */
cb_err auth_object(struct app *app, enum access a, enum object_kind k, const char *id,
                   const struct principal *p);

/* Field-level rules (who may give a device away, make someone an admin,
 * reset a password without the old one): true for the admin token and
 * admin users. */
bool auth_is_admin(const struct principal *p);

/* The user whose objects a list must be limited to: p's id for a user, NULL
 * (everything) for an admin. */
const char *auth_scope(const struct principal *p);

/* Who did something, for records like acknowledged_by: the user id, the
 * device or gateway id, or "admin" for the admin token. */
const char *auth_actor(const struct principal *p);

#endif
