/* users.h - people, their passwords and login sessions, cached in memory
 * over the store (write-through). Thread-safe: lookups share a rwlock;
 * changes are serialized and reach the store before the cache. */
#ifndef CARBON_USERS_H
#define CARBON_USERS_H
#include "auth/registry.h"
#include "store/store.h"

#define USER_PASSWORD_MIN 10  /* characters (bytes of UTF-8) */
#define USER_PASSWORD_MAX 256 /* bytes */
#define SESSION_TOKEN_LEN 48  /* "cbs_" + 43 base64url characters + NUL */
#define SESSION_TTL_MS (7 * 24 * 3600 * 1000LL)
#define SESSION_MAX_PER_USER 20 /* a new login ends the user's oldest beyond this */

struct users;

/* Loads every user and unexpired session. NULL on failure (logged). */
struct users *users_open(struct store *st, int64_t now_ms);
void users_close(struct users *u);

/* NULL if pw is acceptable as a password for someone with this email and
 * name (either may be NULL), else what to fix. */
const char *users_password_weak(const char *pw, const char *email, const char *name);
/* Argon2id (RFC 9106) encoded hash with a random salt; NULL on failure. */
char *users_password_hash(const char *pw);
/* Constant time in the password; false for a NULL hash. */
bool users_password_verify(const char *encoded, const char *pw);
/* Burns the time of one verification (a login for an unknown account must
 * cost what a wrong password costs). */
void users_password_dummy(struct users *u, const char *pw);

/* Creates u: sets its id (a fresh ULID) and created_ms. CB_ERR_CONFLICT when
 * the email or phone belongs to someone else (*which says "email" or
 * "phone"). */
cb_err users_create(struct users *u, struct user *nu, int64_t now_ms, const char **which);
/* Replaces the user with nu's fields (matched by id); same conflicts. */
cb_err users_update(struct users *u, const struct user *nu, const char **which);
/* Deletes the user and their sessions (their devices lose their owner). */
cb_err users_delete(struct users *u, const char *id);
/* Deep copies (user_clear each). CB_ERR_NOT_FOUND if absent. */
cb_err users_get(struct users *u, const char *id, struct user *out);
cb_err users_list(struct users *u, struct user **out, size_t *n);
bool users_exists(struct users *u, const char *id);
/* The user whose email (case-insensitive) or E.164 phone is login. */
cb_err users_find_login(struct users *u, const char *login, struct user *out);

/* A new session for user_id, whose password was just verified against
 * verified_hash: if the password changed meanwhile, CB_ERR_UNAUTHORIZED (a
 * login racing a password change must not outlive it). The token (shown
 * once) goes to token. */
cb_err users_session_new(struct users *u, const char *user_id, const char *verified_hash,
                         int64_t now_ms, char token[SESSION_TOKEN_LEN], int64_t *expires_ms);
/* Serializes read-modify-write edits of users (PATCH): held from reading a
 * user to writing it back, so concurrent edits never undo each other. */
void users_edit_lock(struct users *u);
void users_edit_unlock(struct users *u);
/* Resolves a session token: PRINCIPAL_USER (or PRINCIPAL_ADMIN for an admin
 * user) with the user's id. False if unknown or expired. */
bool users_session_auth(struct users *u, const char *token, int64_t now_ms, struct principal *out);
/* Ends the session of token (logout). CB_ERR_NOT_FOUND if there is none. */
cb_err users_session_end(struct users *u, const char *token);

bool user_copy(struct user *dst, const struct user *src);

#endif
