/* users.c - /v1/users, /v1/auth/login|logout, /v1/me, and the seed's
 * /user/new and /user/contacts (SPEC 2, 4, 8). Who may call what is the
 * route table's business; handlers only see callers already admitted. */
#include "api/api.h"

#include "auth/auth.h"
#include "core/jsonv.h"
#include "core/log.h"
#include "core/phone.h"
#include "core/ratelimit.h"
#include "core/timeutil.h"
#include "core/ulid.h"

#include <strings.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CONTACTS 10

/* The ids of the devices u owns, sorted. */
static json_t *owned_devices(struct app *app, const char *uid)
{
    struct device *list = NULL;
    size_t n = 0;
    json_t *ids = json_array();
    if (registry_device_list_owned(app->reg, uid, &list, &n) != CB_OK)
        return ids;
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(ids, json_string(list[i].id));
        device_clear(&list[i]);
    }
    free(list);
    return ids;
}

static json_t *user_json(struct app *app, const struct user *u)
{
    char created[32];
    rfc3339_format(u->created_ms, created);
    return json_pack("{s:s,s:s,s:o,s:o,s:o,s:o,s:o,s:b,s:b,s:s}", "id", u->id, "name", u->name,
                     "email", api_opt_str(u->email), "phone", api_opt_str(u->phone),
                     "secondary_contacts", api_json_text(u->secondary, json_array()),
                     "emergency_contacts", api_json_text(u->emergency, json_object()), "devices",
                     owned_devices(app, u->id), "admin", u->admin, "can_log_in",
                     u->password_hash != NULL && (u->email || u->phone), "created_at", created);
}

static json_t *contacts_json(const struct user *u)
{
    return json_pack("{s:s,s:o,s:o,s:o}", "user_id", u->id, "personal_contact",
                     api_opt_str(u->phone), "secondary_contacts",
                     api_json_text(u->secondary, json_array()), "emergency_contacts",
                     api_json_text(u->emergency, json_object()));
}

static void reply_invalid(struct http_req *req, const struct jv_err *e)
{
    http_reply_error_with(req, CB_ERR_VALIDATION,
                          json_pack("{s:s,s:s}", "field", e->field, "reason", e->reason), "%s %s",
                          e->field, e->reason);
}

/* One phone number to E.164 (country may be NULL); false with *e. */
static bool phone_field(const char *in, const char *country, const char *field, char *out,
                        struct jv_err *e)
{
    enum phone_err pe = phone_normalize(in, country, out);
    if (pe != PHONE_OK) {
        jv_fail(e, field, "%s", phone_strerror(pe));
        return false;
    }
    return true;
}

/* One phone number of a JSON contact list: a string, normalised to E.164
 * into out; false with *e naming field. */
static bool contact_field(const json_t *v, const char *country, const char *field, char *out,
                          struct jv_err *e)
{
    if (!json_is_string(v)) {
        jv_fail(e, field, "must be a phone number string");
        return false;
    }
    return phone_field(json_string_value(v), country, field, out, e);
}

/* The key of an account's password budget (logins and current_password
 * checks share it): the user's id when known, else the login as sent; in
 * lower case, as emails match in any case. */
static void account_key(const char *who, char key[300])
{
    snprintf(key, 300, "acct:%s", who);
    for (char *c = key; *c; c++)
        *c = (char)tolower((unsigned char)*c);
}

/* Takes one attempt from the account's budget; false with *retry when none is left. */
static bool account_attempt(struct app *app, const char *who, int *retry)
{
    char key[300];
    account_key(who, key);
    return ratelimit_take(app->login_acct_rl, key, 1, app->now_ms(), retry);
}

/* After a success: the account's budget is full again. */
static void account_reset(struct app *app, const char *who)
{
    char key[300];
    account_key(who, key);
    ratelimit_reset(app->login_acct_rl, key);
}

/* A plausible email address: one @, something on both sides, a dot in the
 * domain, no spaces or controls, at most 254 bytes (RFC 5321). Deliverability
 * is not checked. */
static bool email_ok(const char *s)
{
    size_t n = strlen(s);
    const char *at = strchr(s, '@');
    if (n < 3 || n > 254 || !at || at == s || strchr(at + 1, '@') || !strchr(at + 1, '.') ||
        at[1] == '.' || s[n - 1] == '.')
        return false;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == 0x7f || *p == '<' || *p == '>' || *p == '"' || *p == ',')
            return false;
    return true;
}

/* Sets *dst to a copy of v when the body sent key, clears it when the body
 * sent key as null. */
static void set_opt(const json_t *body, const char *key, bool has, const char *v, char **dst)
{
    if (has || json_is_null(json_object_get(body, key))) {
        free(*dst);
        *dst = has ? strdup(v) : NULL;
    }
}

/* Validates the writable fields of body into u (which holds the current
 * values for a patch). may_admin: the caller is an admin. Replies and returns
 * false on error. */
static bool apply_user(struct http_req *req, const json_t *body, struct user *u, bool creating,
                       bool may_admin)
{
    static const char *const keys[] = {"name",
                                       "email",
                                       "password",
                                       "phone",
                                       "country",
                                       "admin",
                                       "secondary_contacts",
                                       "emergency_contacts",
                                       "current_password",
                                       NULL};
    struct jv_err e = {{0}, {0}};
    const char *name = NULL, *email = NULL, *pw = NULL, *phone = NULL, *country = NULL;
    bool has_name, has_email, has_pw, has_phone;
    char *pw_hash = NULL, *sec_text = NULL, *emg_text = NULL;
    char e164[PHONE_MAX + 1];
    if (!json_is_object(body)) {
        http_reply_error(req, CB_ERR_VALIDATION, "the body must be a JSON object");
        return false;
    }
    if (!jv_only_keys(body, keys, &e) ||
        !jv_string(body, "name", creating, 1, 128, &name, &has_name, &e) ||
        !jv_string(body, "email", false, 3, 254, &email, &has_email, &e) ||
        !jv_string(body, "password", false, 0, USER_PASSWORD_MAX, &pw, &has_pw, &e) ||
        !jv_string(body, "phone", false, 1, 40, &phone, &has_phone, &e) ||
        !jv_string(body, "country", false, 2, 2, &country, NULL, &e))
        goto bad;
    if (json_is_null(json_object_get(body, "name"))) {
        jv_fail(&e, "name", "cannot be removed (1 to 128 bytes)");
        goto bad;
    }
    if (country && !phone_country_code(country)) {
        jv_fail(&e, "country", "'%s' is not an ISO 3166-1 alpha-2 country code (like GB, US, IN)",
                country);
        goto bad;
    }
    if (has_email && !email_ok(email)) {
        jv_fail(&e, "email", "is not an email address like someone@example.com");
        goto bad;
    }
    const json_t *adm = json_object_get(body, "admin");
    if (adm && !json_is_boolean(adm)) {
        jv_fail(&e, "admin", "must be true or false");
        goto bad;
    }
    if (adm && !may_admin && json_is_true(adm) != u->admin) {
        http_reply_error(req, CB_ERR_FORBIDDEN, "only an admin can change who is an admin");
        return false;
    }
    char phone164[PHONE_MAX + 1];
    if (has_phone && !phone_field(phone, country, "phone", phone164, &e))
        goto bad;
    if (has_pw) {
        const char *why =
            users_password_weak(pw, has_email ? email : u->email, has_name ? name : u->name);
        if (why) {
            jv_fail(&e, "password", "%s", why);
            goto bad;
        }
    }
    /* A user changing their own password, email or phone (what logs them
     * in) proves they know the password: a stolen session alone cannot take
     * the account. Guesses count against the account's login limit. */
    bool sensitive = has_pw || json_object_get(body, "email") || json_object_get(body, "phone");
    if (sensitive && !creating && !may_admin && u->password_hash) {
        const char *cur = NULL;
        if (!jv_string(body, "current_password", true, 1, USER_PASSWORD_MAX, &cur, NULL, &e))
            goto bad;
        int retry = 0;
        if (!account_attempt(http_app(req), u->id, &retry)) {
            http_reply_limited(req, retry, "password attempts");
            goto fail;
        }
        if (!users_password_verify(u->password_hash, cur)) {
            jv_fail(&e, "current_password", "is not the current password");
            goto bad;
        }
    }
    const json_t *sec = json_object_get(body, "secondary_contacts");
    if (sec && !json_is_null(sec)) {
        if (!json_is_array(sec) || json_array_size(sec) > MAX_CONTACTS) {
            jv_fail(&e, "secondary_contacts", "must be a list of at most %d phone numbers",
                    MAX_CONTACTS);
            goto bad;
        }
        json_t *out = json_array();
        size_t i;
        const json_t *v;
        json_array_foreach(sec, i, v)
        {
            char f[48];
            snprintf(f, sizeof f, "secondary_contacts[%zu]", i);
            if (!contact_field(v, country, f, e164, &e)) {
                json_decref(out);
                goto bad;
            }
            json_array_append_new(out, json_string(e164));
        }
        sec_text = json_dumps(out, JSON_COMPACT);
        json_decref(out);
    }
    const json_t *emg = json_object_get(body, "emergency_contacts");
    if (emg && !json_is_null(emg)) {
        if (!json_is_object(emg) || json_object_size(emg) > MAX_CONTACTS) {
            jv_fail(&e, "emergency_contacts",
                    "must be an object of at most %d label: phone number pairs, like "
                    "{\"neighbour\":\"+447700900123\"}",
                    MAX_CONTACTS);
            goto bad;
        }
        json_t *out = json_object();
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)emg, k, v)
        {
            char f[96];
            snprintf(f, sizeof f, "emergency_contacts.%.64s", k);
            if (strlen(k) < 1 || strlen(k) > 64) {
                jv_fail(&e, "emergency_contacts", "labels must be 1 to 64 bytes");
                json_decref(out);
                goto bad;
            }
            if (!contact_field(v, country, f, e164, &e)) {
                json_decref(out);
                goto bad;
            }
            json_object_set_new(out, k, json_string(e164));
        }
        emg_text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(out);
    }
    if (has_pw && !(pw_hash = users_password_hash(pw))) {
        http_reply_error(req, CB_ERR_INTERNAL, "could not hash the password");
        goto fail;
    }
    /* Everything is valid: apply. */
    set_opt(body, "name", has_name, name, &u->name);
    set_opt(body, "email", has_email, email, &u->email);
    set_opt(body, "phone", has_phone, phone164, &u->phone);
    if (pw_hash) {
        free(u->password_hash);
        u->password_hash = pw_hash;
        pw_hash = NULL;
    }
    if (sec) {
        free(u->secondary);
        u->secondary = sec_text;
        sec_text = NULL;
    }
    if (emg) {
        free(u->emergency);
        u->emergency = emg_text;
        emg_text = NULL;
    }
    if (adm)
        u->admin = json_is_true(adm);
    return true;
bad:
    reply_invalid(req, &e);
fail:
    free(pw_hash);
    free(sec_text);
    free(emg_text);
    return false;
}

static void reply_user_err(struct http_req *req, cb_err rc, const char *which, const char *id)
{
    if (rc == CB_ERR_CONFLICT)
        http_reply_error_with(req, rc, json_pack("{s:s}", "field", which),
                              "another user already has this %s", which);
    else
        api_reply_err(req, rc, "user", id);
}

void api_users_create(struct app *app, struct http_req *req)
{
    json_t *body = api_json_body(req);
    if (!body)
        return;
    struct user u = {0};
    const char *which = "";
    if (apply_user(req, body, &u, true, true)) {
        cb_err rc = users_create(app->users, &u, app->now_ms(), &which);
        if (rc == CB_OK) {
            char loc[64];
            snprintf(loc, sizeof loc, "/v1/users/%s", u.id);
            http_add_header(req, "Location", loc);
            http_reply_json(req, 201, user_json(app, &u));
        } else {
            reply_user_err(req, rc, which, "");
        }
    }
    user_clear(&u);
    json_decref(body);
}

void api_users_list(struct app *app, struct http_req *req)
{
    struct user *v = NULL;
    size_t n = 0;
    cb_err rc = users_list(app->users, &v, &n);
    if (rc != CB_OK) {
        http_reply_error(req, rc, "%s", cb_strerror(rc));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(arr, user_json(app, &v[i]));
        user_clear(&v[i]);
    }
    free(v);
    http_reply_json(req, 200, json_pack("{s:o}", "users", arr));
}

/* Loads {id}; replies 400/404 and returns false if there is none. */
static bool load_user(struct app *app, struct http_req *req, const char *id, struct user *u)
{
    if (!ulid_valid(id)) {
        http_reply_error(req, CB_ERR_BAD_REQUEST,
                         "'%.64s' is not a user id (26 characters, a ULID)", id);
        return false;
    }
    char canon[ULID_LEN + 1];
    snprintf(canon, sizeof canon, "%s", id);
    ulid_canonical(canon);
    cb_err rc = users_get(app->users, canon, u);
    if (rc != CB_OK) {
        api_reply_err(req, rc, "user", id);
        return false;
    }
    return true;
}

void api_users_get(struct app *app, struct http_req *req)
{
    struct user u;
    if (!load_user(app, req, http_param(req, 0), &u))
        return;
    http_reply_json(req, 200, user_json(app, &u));
    user_clear(&u);
}

void api_users_patch(struct app *app, struct http_req *req)
{
    json_t *body = api_json_body(req);
    struct user u;
    if (!body)
        return;
    users_edit_lock(app->users);
    if (load_user(app, req, http_param(req, 0), &u)) {
        bool admin = auth_is_admin(http_who(req));
        const char *which = "";
        if (apply_user(req, body, &u, false, admin)) {
            cb_err rc = users_update(app->users, &u, &which);
            if (rc == CB_OK)
                http_reply_json(req, 200, user_json(app, &u));
            else
                reply_user_err(req, rc, which, u.id);
        }
        user_clear(&u);
    }
    users_edit_unlock(app->users);
    json_decref(body);
}

void api_users_delete(struct app *app, struct http_req *req)
{
    struct user u;
    if (!load_user(app, req, http_param(req, 0), &u))
        return;
    cb_err rc = users_delete(app->users, u.id);
    if (rc == CB_OK) {
        registry_forget_owner(app->reg, u.id);
        http_reply_static(req, 204, NULL, "", 0);
    } else {
        api_reply_err(req, rc, "user", u.id);
    }
    user_clear(&u);
}

void api_users_contacts(struct app *app, struct http_req *req)
{
    struct user u;
    if (!load_user(app, req, http_param(req, 0), &u))
        return;
    http_reply_json(req, 200, contacts_json(&u));
    user_clear(&u);
}

/* ---- login ---- */

void api_auth_login(struct app *app, struct http_req *req)
{
    static const char *const keys[] = {"login", "email", "phone", "password", "country", NULL};
    json_t *body = api_json_body(req);
    if (!body)
        return;
    struct jv_err e = {{0}, {0}};
    const char *login = NULL, *email = NULL, *phone = NULL, *pw = NULL, *country = NULL;
    if (!json_is_object(body) || !jv_only_keys(body, keys, &e) ||
        !jv_string(body, "login", false, 1, 254, &login, NULL, &e) ||
        !jv_string(body, "email", false, 1, 254, &email, NULL, &e) ||
        !jv_string(body, "phone", false, 1, 40, &phone, NULL, &e) ||
        !jv_string(body, "password", true, 1, USER_PASSWORD_MAX, &pw, NULL, &e) ||
        !jv_string(body, "country", false, 2, 2, &country, NULL, &e)) {
        if (!e.reason[0])
            jv_fail(&e, "body", "must be {\"login\": email or phone, \"password\": ...}");
        reply_invalid(req, &e);
        goto out;
    }
    if (!login)
        login = email ? email : phone;
    if (!login) {
        jv_fail(&e, "login", "is required: an email address or a phone number");
        reply_invalid(req, &e);
        goto out;
    }
    /* A phone in any format (national with country) logs in as its E.164 form. */
    char e164[PHONE_MAX + 1];
    if (!strchr(login, '@') && phone_normalize(login, country, e164) == PHONE_OK)
        login = e164;
    /* The account is found first (a memory lookup): its count is kept per
     * user, whichever of email or phone, in whatever case, names it. */
    struct user u;
    cb_err rc = users_find_login(app->users, login, &u);
    const char *who = rc == CB_OK ? u.id : login;
    int retry = 0;
    char addr[64];
    http_client_net(req, addr, sizeof addr);
    if (!ratelimit_take(app->login_all_rl, "all", 1, app->now_ms(), &retry) ||
        !ratelimit_take(app->login_addr_rl, addr, 1, app->now_ms(), &retry) ||
        !account_attempt(app, who, &retry)) {
        log_msg(LOG_WARN, "login attempts limited for an account or address (%s)", addr);
        http_reply_limited(req, retry, "login attempts");
        if (rc == CB_OK)
            user_clear(&u);
        goto out;
    }
    /* Unknown accounts and accounts without a password cost one Argon2id
     * verification too: the answer's timing tells nothing. */
    bool ok = false;
    if (rc == CB_OK && u.password_hash)
        ok = users_password_verify(u.password_hash, pw);
    else
        users_password_dummy(app->users, pw);
    if (!ok) {
        if (rc == CB_OK)
            user_clear(&u);
        http_reply_error(req, CB_ERR_UNAUTHORIZED, "wrong login or password");
        goto out;
    }
    char token[SESSION_TOKEN_LEN];
    int64_t expires;
    rc = users_session_new(app->users, u.id, u.password_hash, app->now_ms(), token, &expires);
    if (rc == CB_OK) {
        account_reset(app, u.id); /* a success clears the account's count */
        char exp[32];
        rfc3339_format(expires, exp);
        http_reply_json(req, 200,
                        json_pack("{s:s,s:s,s:o}", "token", token, "expires_at", exp, "user",
                                  user_json(app, &u)));
        memset(token, 0, sizeof token);
    } else {
        http_reply_error(req, rc, "could not start a session: %s", cb_strerror(rc));
    }
    user_clear(&u);
out:
    json_decref(body);
}

/* The token the request authenticated with (as auth_identify reads it:
 * Authorization: Bearer first, else X-Api-Key). */
static const char *bearer(struct http_req *req)
{
    const char *h = http_header(req, "Authorization");
    if (!h)
        return http_header(req, "X-Api-Key");
    if (strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

void api_auth_logout(struct app *app, struct http_req *req)
{
    const char *tok = bearer(req);
    if (!tok || strncmp(tok, "cbs_", 4) != 0) {
        http_reply_error(req, CB_ERR_BAD_REQUEST,
                         "only a session (from POST /v1/auth/login) can log out");
        return;
    }
    cb_err rc = users_session_end(app->users, tok);
    if (rc != CB_OK && rc != CB_ERR_NOT_FOUND) {
        http_reply_error(req, rc, "%s", cb_strerror(rc));
        return;
    }
    http_reply_static(req, 204, NULL, "", 0);
}

void api_me(struct app *app, struct http_req *req)
{
    const struct principal *p = http_who(req);
    struct user u;
    if (p->id[0] && users_get(app->users, p->id, &u) == CB_OK) {
        http_reply_json(req, 200, user_json(app, &u));
        user_clear(&u);
        return;
    }
    /* The admin token is not a person. */
    http_reply_json(req, 200, json_pack("{s:n,s:s,s:b}", "id", "name", "admin", "admin", 1));
}

/* ---- the seed's routes ---- */

void api_seed_user_new(struct app *app, struct http_req *req)
{
    const char *name = http_query(req, "name");
    const char *dev = http_query(req, "registered_device_id");
    const char *contact = http_query(req, "personal_contact");
    const char *country = http_query(req, "country");
    struct jv_err e = {{0}, {0}};
    char e164[PHONE_MAX + 1];
    if (!name || !*name || strlen(name) > 128) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "name is required (1 to 128 bytes)");
        return;
    }
    if (!contact) {
        http_reply_error(req, CB_ERR_BAD_REQUEST,
                         "personal_contact is required (E.164, or a national number with "
                         "country)");
        return;
    }
    if (country && !phone_country_code(country)) {
        http_reply_error(req, CB_ERR_VALIDATION,
                         "country '%.8s' is not an ISO 3166-1 alpha-2 code (like GB, US, IN)",
                         country);
        return;
    }
    if (!phone_field(contact, country, "personal_contact", e164, &e)) {
        reply_invalid(req, &e);
        return;
    }
    char owner[65];
    if (dev && registry_device_owner(app->reg, dev, owner) != CB_OK) {
        http_reply_error(req, CB_ERR_VALIDATION,
                         "registered_device_id '%.64s' is not a registered device", dev);
        return;
    }
    if (dev && owner[0]) {
        http_reply_error(req, CB_ERR_CONFLICT,
                         "device '%.64s' already belongs to a user; an admin can change its "
                         "owner with PATCH /v1/devices/{id}",
                         dev);
        return;
    }
    struct user u = {.name = strdup(name), .phone = strdup(e164)};
    const char *which = "";
    cb_err rc = users_create(app->users, &u, app->now_ms(), &which);
    if (rc == CB_OK && dev && (rc = registry_set_owner(app->reg, dev, u.id)) != CB_OK)
        users_delete(app->users, u.id); /* nothing half-done stays */
    if (rc != CB_OK) {
        reply_user_err(req, rc, which, "");
    } else {
        http_reply_json(req, 201,
                        json_pack("{s:{s:s,s:s,s:o,s:s,s:[],s:{}},s:b}", "Item", "id", u.id, "name",
                                  u.name, "registered_device_id", api_opt_str(dev),
                                  "personal_contact", u.phone, "secondary_contacts",
                                  "emergency_contacts", "write_successful", 1));
    }
    user_clear(&u);
}

void api_seed_user_contacts(struct app *app, struct http_req *req)
{
    const char *id = http_query(req, "user_id");
    struct user u;
    if (!id) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "user_id is required");
        return;
    }
    if (!load_user(app, req, id, &u))
        return;
    http_reply_json(req, 200, contacts_json(&u));
    user_clear(&u);
}
