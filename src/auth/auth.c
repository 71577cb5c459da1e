/* auth.c - who is calling (credentials) and whether a route admits them. */
#include "auth/auth.h"

#include "core/secret.h"

#include <string.h>
#include <strings.h>

cb_err auth_identify(const char *admin_token, struct registry *reg, const char *authorization,
                     const char *api_key, struct principal *out)
{
    memset(out, 0, sizeof *out);
    const char *token = NULL;
    if (authorization) {
        if (strncasecmp(authorization, "Bearer ", 7) != 0)
            return CB_ERR_UNAUTHORIZED;
        token = authorization + 7;
        while (*token == ' ')
            token++;
    } else if (api_key) {
        token = api_key;
    }
    if (!token)
        return CB_OK;
    if (*token == '\0' || strlen(token) > 256)
        return CB_ERR_UNAUTHORIZED;
    if (admin_token && *admin_token && secret_equal(token, admin_token)) {
        out->kind = PRINCIPAL_ADMIN;
        return CB_OK;
    }
    if (registry_authenticate(reg, token, out))
        return CB_OK;
    return CB_ERR_UNAUTHORIZED;
}

cb_err auth_check(enum access a, const struct principal *p)
{
    if (a == ACCESS_PUBLIC)
        return CB_OK;
    if (p->kind == PRINCIPAL_NONE)
        return CB_ERR_UNAUTHORIZED;
    switch (a) {
    case ACCESS_ADMIN:
    case ACCESS_READER:
        return p->kind == PRINCIPAL_ADMIN ? CB_OK : CB_ERR_FORBIDDEN;
    case ACCESS_WRITER:
        return CB_OK;
    default:
        return CB_ERR_FORBIDDEN;
    }
}
