/* users.c - people, passwords (Argon2id) and login sessions over the store. */
#include "auth/users.h"

#include "core/log.h"
#include "core/secret.h"
#include "core/strmap.h"
#include "core/ulid.h"

#include <argon2.h>
#include <ctype.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Argon2id parameters: OWASP's minimum recommendation (19 MiB, 2 passes,
 * 1 lane), about 30 ms here; the encoded hash records them, so raising them
 * later keeps old hashes verifiable. */
#define ARGON2_T 2
#define ARGON2_M_KIB 19456
#define ARGON2_P 1
#define ARGON2_SALT 16
#define ARGON2_HASH 32

struct sess {
    char user_id[27];
    int64_t expires_ms;
};

struct users {
    struct store *st;
    pthread_rwlock_t lock;   /* readers: lookups; writers: brief map changes */
    pthread_mutex_t wmu;     /* serializes changes (held across store I/O) */
    pthread_mutex_t edit_mu; /* serializes read-modify-write edits (users_edit_lock) */
    struct strmap byid;      /* id -> struct user* */
    struct strmap byemail;   /* lower-case email -> struct user* */
    struct strmap byphone;   /* E.164 -> struct user* */
    struct strmap sessions;  /* token hash -> struct sess* */
    char *dummy_hash;        /* for logins to unknown accounts */
};

static char *sdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

bool user_copy(struct user *dst, const struct user *src)
{
    *dst = *src;
    dst->name = sdup(src->name);
    dst->email = sdup(src->email);
    dst->phone = sdup(src->phone);
    dst->secondary = sdup(src->secondary);
    dst->emergency = sdup(src->emergency);
    dst->password_hash = sdup(src->password_hash);
    if ((src->name && !dst->name) || (src->email && !dst->email) || (src->phone && !dst->phone) ||
        (src->secondary && !dst->secondary) || (src->emergency && !dst->emergency) ||
        (src->password_hash && !dst->password_hash)) {
        user_clear(dst);
        return false;
    }
    return true;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* ---- passwords ---- */

const char *users_password_weak(const char *pw, const char *email, const char *name)
{
    static const char *const common[] = {
        "password",    "password1",  "password12",     "password123", "1234567890",
        "12345678910", "0123456789", "qwertyuiop",     "qwerty1234",  "iloveyou12",
        "letmein123",  "welcome123", "carbonmonoxide", "changeme123", "administrator",
        "abcdefghij",  "1q2w3e4r5t", "passw0rd123",    "monkey1234",  "dragon1234",
        "football12",  "baseball12",
    };
    size_t n = strlen(pw);
    if (n < USER_PASSWORD_MIN)
        return "must be at least 10 characters (a few words are easiest to remember)";
    if (n > USER_PASSWORD_MAX)
        return "must be at most 256 bytes";
    bool same = true;
    for (size_t i = 1; i < n && same; i++)
        same = pw[i] == pw[0];
    if (same)
        return "must not be one character repeated";
    char low[USER_PASSWORD_MAX + 1];
    memcpy(low, pw, n + 1);
    lower(low);
    for (size_t i = 0; i < sizeof common / sizeof *common; i++)
        if (strcmp(low, common[i]) == 0)
            return "is one of the most common passwords; choose another";
    if (email) {
        char e[320];
        snprintf(e, sizeof e, "%s", email);
        lower(e);
        char *at = strchr(e, '@');
        if (strcmp(low, e) == 0 || (at && (*at = '\0', strcmp(low, e) == 0)))
            return "must not be the email address";
    }
    if (name) {
        char nm[256];
        snprintf(nm, sizeof nm, "%s", name);
        lower(nm);
        if (strcmp(low, nm) == 0)
            return "must not be the name";
    }
    return NULL;
}

char *users_password_hash(const char *pw)
{
    uint8_t salt[ARGON2_SALT];
    if (RAND_bytes(salt, sizeof salt) != 1)
        return NULL;
    size_t len =
        argon2_encodedlen(ARGON2_T, ARGON2_M_KIB, ARGON2_P, ARGON2_SALT, ARGON2_HASH, Argon2_id);
    char *enc = malloc(len);
    if (!enc)
        return NULL;
    int rc = argon2id_hash_encoded(ARGON2_T, ARGON2_M_KIB, ARGON2_P, pw, strlen(pw), salt,
                                   sizeof salt, ARGON2_HASH, enc, len);
    if (rc != ARGON2_OK) {
        log_msg(LOG_ERROR, "argon2: %s", argon2_error_message(rc));
        free(enc);
        return NULL;
    }
    return enc;
}

bool users_password_verify(const char *encoded, const char *pw)
{
    return encoded && argon2id_verify(encoded, pw, strlen(pw)) == ARGON2_OK;
}

void users_password_dummy(struct users *u, const char *pw)
{
    /* A hash of a random string made at startup: verifying costs the same. */
    (void)users_password_verify(u->dummy_hash, pw);
}

/* ---- the directory ---- */

static void index_user(struct users *u, struct user *x)
{
    strmap_put(&u->byid, x->id, x, NULL);
    if (x->email)
        strmap_put(&u->byemail, x->email, x, NULL);
    if (x->phone)
        strmap_put(&u->byphone, x->phone, x, NULL);
}

static void unindex_user(struct users *u, struct user *x)
{
    strmap_del(&u->byid, x->id);
    if (x->email)
        strmap_del(&u->byemail, x->email);
    if (x->phone)
        strmap_del(&u->byphone, x->phone);
}

static void load_user(void *arg, const struct user *src)
{
    struct users *u = arg;
    struct user *x = malloc(sizeof *x);
    if (x && user_copy(x, src))
        index_user(u, x);
    else
        free(x);
}

static void load_session(void *arg, const struct session *se)
{
    struct users *u = arg;
    struct sess *x = malloc(sizeof *x);
    if (!x)
        return;
    memcpy(x->user_id, se->user_id, sizeof x->user_id);
    x->expires_ms = se->expires_ms;
    if (!strmap_put(&u->sessions, se->token_hash, x, NULL))
        free(x);
}

struct users *users_open(struct store *st, int64_t now_ms)
{
    struct users *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    u->st = st;
    pthread_rwlock_init(&u->lock, NULL);
    pthread_mutex_init(&u->wmu, NULL);
    pthread_mutex_init(&u->edit_mu, NULL);
    char rnd[SECRET_KEY_LEN];
    if (!secret_new_key("", rnd) || !(u->dummy_hash = users_password_hash(rnd)) ||
        st->ops->users_load(st, load_user, u) != CB_OK ||
        st->ops->sessions_load(st, now_ms, load_session, u) != CB_OK) {
        users_close(u);
        return NULL;
    }
    return u;
}

static void free_user(void *arg, const char *key, void *val)
{
    (void)arg;
    (void)key;
    user_clear(val);
    free(val);
}

static void free_val(void *arg, const char *key, void *val)
{
    (void)arg;
    (void)key;
    free(val);
}

void users_close(struct users *u)
{
    if (!u)
        return;
    strmap_each(&u->byid, free_user, NULL);
    strmap_each(&u->sessions, free_val, NULL);
    strmap_free(&u->byid);
    strmap_free(&u->byemail);
    strmap_free(&u->byphone);
    strmap_free(&u->sessions);
    free(u->dummy_hash);
    pthread_rwlock_destroy(&u->lock);
    pthread_mutex_destroy(&u->wmu);
    pthread_mutex_destroy(&u->edit_mu);
    free(u);
}

/* Is email / phone taken by someone other than id? Caller holds wmu. */
static cb_err check_unique(struct users *u, const struct user *nu, const char **which)
{
    const struct user *o;
    if (nu->email && (o = strmap_get(&u->byemail, nu->email)) && strcmp(o->id, nu->id) != 0) {
        *which = "email";
        return CB_ERR_CONFLICT;
    }
    if (nu->phone && (o = strmap_get(&u->byphone, nu->phone)) && strcmp(o->id, nu->id) != 0) {
        *which = "phone";
        return CB_ERR_CONFLICT;
    }
    return CB_OK;
}

cb_err users_create(struct users *u, struct user *nu, int64_t now_ms, const char **which)
{
    *which = "";
    if (nu->email)
        lower(nu->email);
    if (!ulid_new(now_ms, nu->id))
        return CB_ERR_INTERNAL;
    nu->created_ms = now_ms;
    struct user *x = malloc(sizeof *x);
    if (!x || !user_copy(x, nu)) {
        free(x);
        return CB_ERR_NOMEM;
    }
    pthread_mutex_lock(&u->wmu);
    cb_err rc = check_unique(u, nu, which);
    if (rc == CB_OK)
        rc = u->st->ops->user_create(u->st, nu);
    if (rc == CB_OK) {
        pthread_rwlock_wrlock(&u->lock);
        index_user(u, x);
        pthread_rwlock_unlock(&u->lock);
    }
    pthread_mutex_unlock(&u->wmu);
    if (rc != CB_OK) {
        user_clear(x);
        free(x);
    }
    return rc;
}

/* Sessions to end: all of a user's (whole_user), or, before a new login,
 * every expired one plus the user's live ones (candidates for the cap). */
struct victims {
    const char *user_id;
    int64_t now;
    bool whole_user;
    struct victim {
        char hash[SECRET_HASH_LEN];
        int64_t expires;
        bool mine; /* a session of user_id (live ones only, unless whole_user) */
    } * v;
    size_t n, cap;
};

static void collect_victim(void *arg, const char *key, void *val)
{
    struct victims *p = arg;
    const struct sess *x = val;
    bool expired = !p->whole_user && x->expires_ms <= p->now;
    bool mine = !expired && strcmp(x->user_id, p->user_id) == 0;
    if (!expired && !mine)
        return;
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 16;
        void *nv = realloc(p->v, cap * sizeof *p->v);
        if (!nv)
            return;
        p->v = nv;
        p->cap = cap;
    }
    struct victim *vi = &p->v[p->n++];
    snprintf(vi->hash, sizeof vi->hash, "%s", key);
    vi->expires = x->expires_ms;
    vi->mine = mine;
}

static struct victims find_sessions(struct users *u, const char *user_id, int64_t now,
                                    bool whole_user)
{
    struct victims p = {user_id, now, whole_user, NULL, 0, 0};
    strmap_each(&u->sessions, collect_victim, &p);
    return p;
}

/* Ends the first n sessions of p (in the store too unless the store already
 * dropped them) and frees p. Caller holds wmu. */
static void end_sessions(struct users *u, struct victims *p, size_t n, bool in_store)
{
    for (size_t i = 0; in_store && i < n; i++)
        u->st->ops->session_delete(u->st, p->v[i].hash);
    pthread_rwlock_wrlock(&u->lock);
    for (size_t i = 0; i < n; i++)
        free(strmap_del(&u->sessions, p->v[i].hash));
    pthread_rwlock_unlock(&u->lock);
    free(p->v);
}

cb_err users_update(struct users *u, const struct user *nu, const char **which)
{
    *which = "";
    struct user *x = malloc(sizeof *x);
    if (!x || !user_copy(x, nu)) {
        free(x);
        return CB_ERR_NOMEM;
    }
    if (x->email)
        lower(x->email);
    pthread_mutex_lock(&u->wmu);
    struct user *old = strmap_get(&u->byid, nu->id);
    cb_err rc = old ? check_unique(u, x, which) : CB_ERR_NOT_FOUND;
    if (rc == CB_OK) {
        x->created_ms = old->created_ms;
        rc = u->st->ops->user_update(u->st, x);
    }
    if (rc == CB_OK) {
        /* A new password ends every session of the user: whoever knew the
         * old one (the reason to change it) is logged out. */
        bool pw_changed = (old->password_hash == NULL) != (x->password_hash == NULL) ||
                          (x->password_hash && strcmp(old->password_hash, x->password_hash));
        if (pw_changed) {
            struct victims v = find_sessions(u, x->id, 0, true);
            end_sessions(u, &v, v.n, true);
        }
        pthread_rwlock_wrlock(&u->lock);
        unindex_user(u, old);
        index_user(u, x);
        pthread_rwlock_unlock(&u->lock);
        user_clear(old);
        free(old);
    } else {
        user_clear(x);
        free(x);
    }
    pthread_mutex_unlock(&u->wmu);
    return rc;
}

cb_err users_delete(struct users *u, const char *id)
{
    pthread_mutex_lock(&u->wmu);
    struct user *old = strmap_get(&u->byid, id);
    cb_err rc = old ? u->st->ops->user_delete(u->st, id) : CB_ERR_NOT_FOUND;
    if (rc == CB_OK) {
        struct victims v = find_sessions(u, id, 0, true);
        end_sessions(u, &v, v.n, false); /* the store dropped them with the user */
        pthread_rwlock_wrlock(&u->lock);
        unindex_user(u, old);
        pthread_rwlock_unlock(&u->lock);
        user_clear(old);
        free(old);
    }
    pthread_mutex_unlock(&u->wmu);
    return rc;
}

cb_err users_get(struct users *u, const char *id, struct user *out)
{
    pthread_rwlock_rdlock(&u->lock);
    const struct user *x = strmap_get(&u->byid, id);
    cb_err rc = !x ? CB_ERR_NOT_FOUND : user_copy(out, x) ? CB_OK : CB_ERR_NOMEM;
    pthread_rwlock_unlock(&u->lock);
    return rc;
}

bool users_exists(struct users *u, const char *id)
{
    pthread_rwlock_rdlock(&u->lock);
    bool found = strmap_get(&u->byid, id) != NULL;
    pthread_rwlock_unlock(&u->lock);
    return found;
}

struct listing {
    struct user *v;
    size_t n;
    bool failed;
};

static void list_one(void *arg, const char *key, void *val)
{
    (void)key;
    struct listing *l = arg;
    if (!l->failed && !user_copy(&l->v[l->n++], val)) {
        l->n--;
        l->failed = true;
    }
}

static int cmp_user(const void *a, const void *b)
{
    return strcmp(((const struct user *)a)->id, ((const struct user *)b)->id);
}

cb_err users_list(struct users *u, struct user **out, size_t *n)
{
    pthread_rwlock_rdlock(&u->lock);
    struct listing l = {calloc(u->byid.n ? u->byid.n : 1, sizeof *l.v), 0, false};
    if (l.v)
        strmap_each(&u->byid, list_one, &l);
    pthread_rwlock_unlock(&u->lock);
    if (!l.v || l.failed) {
        for (size_t i = 0; l.v && i < l.n; i++)
            user_clear(&l.v[i]);
        free(l.v);
        return CB_ERR_NOMEM;
    }
    qsort(l.v, l.n, sizeof *l.v, cmp_user); /* ULIDs: by creation time */
    *out = l.v;
    *n = l.n;
    return CB_OK;
}

cb_err users_find_login(struct users *u, const char *login, struct user *out)
{
    char key[320];
    if ((size_t)snprintf(key, sizeof key, "%s", login) >= sizeof key)
        return CB_ERR_NOT_FOUND;
    lower(key);
    pthread_rwlock_rdlock(&u->lock);
    const struct user *x = strmap_get(strchr(key, '@') ? &u->byemail : &u->byphone, key);
    cb_err rc = !x ? CB_ERR_NOT_FOUND : user_copy(out, x) ? CB_OK : CB_ERR_NOMEM;
    pthread_rwlock_unlock(&u->lock);
    return rc;
}

/* ---- sessions ---- */

void users_edit_lock(struct users *u)
{
    pthread_mutex_lock(&u->edit_mu);
}

void users_edit_unlock(struct users *u)
{
    pthread_mutex_unlock(&u->edit_mu);
}

static int cmp_victim(const void *a, const void *b)
{
    const struct victim *x = a, *y = b;
    if (x->mine != y->mine)
        return x->mine ? 1 : -1; /* expired ones first */
    return (x->expires > y->expires) - (x->expires < y->expires);
}

/* Before a new session of user_id: forgets every expired session, and the
 * user's oldest beyond SESSION_MAX_PER_USER - 1. Caller holds wmu. */
static void prune_sessions(struct users *u, const char *user_id, int64_t now)
{
    struct victims p = find_sessions(u, user_id, now, false);
    if (p.n > 1)
        qsort(p.v, p.n, sizeof *p.v, cmp_victim);
    size_t mine = 0;
    for (size_t i = 0; i < p.n; i++)
        mine += p.v[i].mine;
    size_t drop = p.n - mine; /* every expired one (sorted first) */
    if (mine >= SESSION_MAX_PER_USER)
        drop += mine - (SESSION_MAX_PER_USER - 1); /* the user's oldest */
    end_sessions(u, &p, drop, true);
}

cb_err users_session_new(struct users *u, const char *user_id, const char *verified_hash,
                         int64_t now_ms, char token[SESSION_TOKEN_LEN], int64_t *expires_ms)
{
    struct session se = {.created_ms = now_ms, .expires_ms = now_ms + SESSION_TTL_MS};
    if (!secret_new_key("cbs_", token))
        return CB_ERR_INTERNAL;
    secret_hash(token, strlen(token), se.token_hash);
    snprintf(se.user_id, sizeof se.user_id, "%s", user_id);
    struct sess *x = malloc(sizeof *x);
    if (!x)
        return CB_ERR_NOMEM;
    memcpy(x->user_id, se.user_id, sizeof x->user_id);
    x->expires_ms = se.expires_ms;
    pthread_mutex_lock(&u->wmu);
    prune_sessions(u, user_id, now_ms);
    const struct user *usr = strmap_get(&u->byid, user_id);
    cb_err rc =
        !usr ? CB_ERR_NOT_FOUND
        : !usr->password_hash || !verified_hash || strcmp(usr->password_hash, verified_hash) != 0
            ? CB_ERR_UNAUTHORIZED
            : u->st->ops->session_put(u->st, &se);
    if (rc == CB_OK) {
        pthread_rwlock_wrlock(&u->lock);
        if (!strmap_put(&u->sessions, se.token_hash, x, NULL))
            rc = CB_ERR_NOMEM;
        pthread_rwlock_unlock(&u->lock);
    }
    pthread_mutex_unlock(&u->wmu);
    if (rc != CB_OK) {
        free(x);
        memset(token, 0, SESSION_TOKEN_LEN);
    }
    *expires_ms = se.expires_ms;
    return rc;
}

bool users_session_auth(struct users *u, const char *token, int64_t now_ms, struct principal *out)
{
    char hash[SECRET_HASH_LEN];
    secret_hash(token, strlen(token), hash);
    bool ok = false;
    pthread_rwlock_rdlock(&u->lock);
    const struct sess *x = strmap_get(&u->sessions, hash);
    if (x && x->expires_ms > now_ms) {
        const struct user *usr = strmap_get(&u->byid, x->user_id);
        if (usr) {
            out->kind = usr->admin ? PRINCIPAL_ADMIN : PRINCIPAL_USER;
            snprintf(out->id, sizeof out->id, "%s", usr->id);
            ok = true;
        }
    }
    pthread_rwlock_unlock(&u->lock);
    return ok;
}

cb_err users_session_end(struct users *u, const char *token)
{
    char hash[SECRET_HASH_LEN];
    secret_hash(token, strlen(token), hash);
    pthread_mutex_lock(&u->wmu);
    cb_err rc =
        strmap_get(&u->sessions, hash) ? u->st->ops->session_delete(u->st, hash) : CB_ERR_NOT_FOUND;
    if (rc == CB_OK) {
        pthread_rwlock_wrlock(&u->lock);
        free(strmap_del(&u->sessions, hash));
        pthread_rwlock_unlock(&u->lock);
    }
    pthread_mutex_unlock(&u->wmu);
    return rc;
}
