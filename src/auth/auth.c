/* auth.c - the one authorization layer (see auth.h). */
#include "auth/auth.h"

#include "app.h"
#include "core/secret.h"
#include "core/ulid.h"

#include <stdio.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

cb_err auth_identify(const char *admin_token, struct registry *reg, struct users *users,
                     int64_t now_ms, const char *authorization, const char *api_key,
                     struct principal *out)
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
    if (strncmp(token, "cbs_", 4) == 0) {
        if (users && users_session_auth(users, token, now_ms, out))
            return CB_OK;
        memset(out, 0, sizeof *out);
        return CB_ERR_UNAUTHORIZED;
    }
    if (registry_authenticate(reg, token, out))
        return CB_OK;
    return CB_ERR_UNAUTHORIZED;
}

cb_err auth_check(enum access a, const struct principal *p)
{
    if (a == ACCESS_PUBLIC)
        return CB_OK;
    if (a == ACCESS_UNDECLARED)
        return CB_ERR_FORBIDDEN; /* fail closed; test_router rejects such a route */
    if (p->kind == PRINCIPAL_NONE)
        return CB_ERR_UNAUTHORIZED;
    if (p->kind == PRINCIPAL_ADMIN)
        return CB_OK;
    switch (a) {
    case ACCESS_WRITER:
        return p->kind == PRINCIPAL_DEVICE || p->kind == PRINCIPAL_GATEWAY ? CB_OK
                                                                           : CB_ERR_FORBIDDEN;
    case ACCESS_USER:
    case ACCESS_OWNER:
        return p->kind == PRINCIPAL_USER ? CB_OK : CB_ERR_FORBIDDEN;
    case ACCESS_DEVICE:
        return p->kind == PRINCIPAL_USER || p->kind == PRINCIPAL_DEVICE ? CB_OK : CB_ERR_FORBIDDEN;
    default:
        return CB_ERR_FORBIDDEN;
    }
}

/* Does user uid own device id? */
static bool owns_device(struct app *app, const char *uid, const char *id)
{
    char owner[65];
    return registry_device_owner(app->reg, id, owner) == CB_OK && owner[0] &&
           strcmp(owner, uid) == 0;
}

cb_err auth_object(struct app *app, enum access a, enum object_kind k, const char *id,
                   const struct principal *p)
{
    if (p->kind == PRINCIPAL_ADMIN || k == OBJ_NONE)
        return CB_OK;
    switch (k) {
    case OBJ_DEVICE:
        if (p->kind == PRINCIPAL_DEVICE)
            return a == ACCESS_DEVICE && strcmp(p->id, id) == 0 ? CB_OK : CB_ERR_NOT_FOUND;
        return p->kind == PRINCIPAL_USER && owns_device(app, p->id, id) ? CB_OK : CB_ERR_NOT_FOUND;
    case OBJ_USER: {
        if (p->kind != PRINCIPAL_USER)
            return CB_ERR_FORBIDDEN;
        char canon[ULID_LEN + 1]; /* ULIDs are case-insensitive */
        snprintf(canon, sizeof canon, "%s", id);
        return strlen(id) == ULID_LEN && ulid_canonical(canon) && strcmp(p->id, canon) == 0
                   ? CB_OK
                   : CB_ERR_NOT_FOUND;
    }
    case OBJ_ALERT: {
        if (p->kind != PRINCIPAL_USER)
            return CB_ERR_FORBIDDEN;
        char *end;
        long long aid = strtoll(id, &end, 10);
        struct alert al;
        char dev[65];
        if (!*id || *end || aid <= 0)
            return CB_OK;                /* not an id: the handler says so (400) */
        alarm_service_sync(app->alarms); /* alerts raised by readings just stored */
        if (app->store->ops->alert_get(app->store, aid, &al) != CB_OK ||
            !alarm_service_device_id(app->alarms, al.dev, dev))
            return CB_ERR_NOT_FOUND;
        return owns_device(app, p->id, dev) ? CB_OK : CB_ERR_NOT_FOUND;
    }
    default:
        return CB_ERR_FORBIDDEN;
    }
}

bool auth_is_admin(const struct principal *p)
{
    return p->kind == PRINCIPAL_ADMIN;
}

const char *auth_scope(const struct principal *p)
{
    return p->kind == PRINCIPAL_USER ? p->id : NULL;
}

const char *auth_actor(const struct principal *p)
{
    return p->id[0] ? p->id : p->kind == PRINCIPAL_ADMIN ? "admin" : "unknown";
}
