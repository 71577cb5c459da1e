/* server.c - libmicrohttpd glue: request lifecycle, routing, auth gate,
 * replies, suspend/resume, access log and metrics. */
#include "http/http.h"

#include "app.h"
#include "auth/auth.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/ratelimit.h"
#include "core/text.h"
#include "core/timeutil.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_EXTRA_HEADERS 8
#define HTTP_DISCARD_MAX (16ull * 1024 * 1024)

struct http_server {
    struct MHD_Daemon *d;
    struct app *app;
    const struct route *routes;
    size_t nroutes;
    _Atomic long inflight;
    _Atomic size_t body_bytes; /* request bodies held, against HTTP_BODY_BUDGET */
    _Atomic bool stopping;     /* set by http_stop: no request may suspend after it */
    _Atomic uint64_t next_id;
    uint32_t id_salt;
};

struct http_req {
    struct http_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    char *path;
    char *raw_query; /* the bytes after '?' as sent (from on_uri), or NULL */
    bool started;    /* on_request has set it up (on_uri only allocates it) */
    int route;       /* index, or -1 */
    char params[HTTP_MAX_PARAMS][256];
    int nparams;
    struct principal who;
    struct buf body;
    size_t max_body; /* this route's body cap */
    size_t held;     /* bytes of body counted in the server's budget */
    bool busy;       /* the body budget was full: 503 */
    bool limited;    /* its key was over its rate limit (decided once) */
    bool too_big;
    bool suspended;
    http_resume_fn on_resume;
    void *resume_arg;
    bool counted;   /* dispatched: counts as in flight for a graceful stop */
    bool auth_done; /* credentials resolved (auth_err holds the verdict) */
    cb_err auth_err;
    const char *object_id; /* the route's object, for the 404 message */
    int retry_after;       /* seconds, with CB_ERR_RATE_LIMITED */
    uint64_t received;     /* body bytes seen, kept or not */
    int64_t start_ns;
    char reqid[40];
    char device[65];
    /* the reply */
    struct MHD_Response *resp;
    unsigned status;
    char *hname[MAX_EXTRA_HEADERS], *hval[MAX_EXTRA_HEADERS];
    int nheaders;
};

/* ---- route matching ---- */

size_t http_unescape(char *s)
{
    size_t o = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '%' && s[i + 1] && s[i + 2]) {
            int hi = hex_value((unsigned char)s[i + 1]), lo = hex_value((unsigned char)s[i + 2]);
            if (hi >= 0 && lo >= 0 && (hi | lo) != 0) {
                s[o++] = (char)(hi << 4 | lo);
                i += 2;
                continue;
            }
        }
        s[o++] = s[i];
    }
    s[o] = '\0';
    return o;
}

static size_t unescape_cb(void *cls, struct MHD_Connection *c, char *s)
{
    return http_unescape(s);
}

int http_route_match(const struct route *routes, size_t n, const char *method, const char *path,
                     char params[HTTP_MAX_PARAMS][256], int *nparams, bool *path_known)
{
    *path_known = false;
    for (size_t r = 0; r < n; r++) {
        const char *p = routes[r].pattern, *u = path;
        int np = 0;
        bool ok = true;
        while (ok && *p && *u) {
            if (*p == '{') {
                const char *pe = strchr(p, '}');
                const char *ue = strchr(u, '/');
                if (!ue)
                    ue = u + strlen(u);
                size_t len = (size_t)(ue - u);
                if (!pe || ue == u || np >= HTTP_MAX_PARAMS || len >= 256) {
                    ok = false;
                } else {
                    memcpy(params[np], u, len);
                    params[np][len] = '\0';
                }
                np++;
                p = pe ? pe + 1 : p + strlen(p);
                u = ue;
            } else if (*p == *u) {
                p++;
                u++;
            } else {
                ok = false;
            }
        }
        if (!ok || *p || *u)
            continue;
        if (strcmp(routes[r].method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(routes[r].method, "GET") == 0)) {
            *nparams = np;
            return (int)r;
        }
        *path_known = true;
    }
    return -1;
}

/* ---- accessors ---- */

struct app *http_app(struct http_req *req)
{
    return req->srv->app;
}
const struct principal *http_who(struct http_req *req)
{
    return &req->who;
}
const char *http_method(struct http_req *req)
{
    return req->method;
}
const char *http_param(struct http_req *req, int i)
{
    return i < req->nparams ? req->params[i] : "";
}
const char *http_query(struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}
const char *http_raw_query(struct http_req *req)
{
    return req->raw_query;
}
void http_client_net(struct http_req *req, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    snprintf(out, len, "unknown");
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    } else if (sa && sa->sa_family == AF_INET6) {
        struct in6_addr a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr;
        memset(a6.s6_addr + 8, 0, 8); /* one IPv6 client holds a whole /64 */
        inet_ntop(AF_INET6, &a6, out, (socklen_t)len);
    }
}

const char *http_header(struct http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}
const char *http_body(struct http_req *req, size_t *len)
{
    *len = req->body.len;
    return req->body.data ? req->body.data : "";
}
void http_body_release(struct http_req *req)
{
    buf_free(&req->body);
}
bool http_is_json(struct http_req *req)
{
    const char *ct = http_header(req, "Content-Type");
    if (!ct)
        return false;
    size_t n = strlen("application/json");
    return strncasecmp(ct, "application/json", n) == 0 &&
           (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}
void http_log_device(struct http_req *req, const char *device_id)
{
    snprintf(req->device, sizeof req->device, "%s", device_id);
}

/* ---- replies ---- */

/* Is origin in the comma-separated allow-list ("*" allows any)? */
static bool origin_allowed(const char *list, const char *origin)
{
    if (!list || !origin || !*origin)
        return false;
    size_t olen = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',' && *e != ' ')
            e++;
        size_t n = (size_t)(e - p);
        if ((n == 1 && *p == '*') || (n == olen && strncmp(p, origin, n) == 0))
            return true;
        p = e;
    }
    return false;
}

static void set_reply(struct http_req *req, unsigned status, struct MHD_Response *resp,
                      const char *ctype)
{
    if (!resp) {
        log_msg(LOG_ERROR, "cannot create response");
        return;
    }
    if (req->resp) { /* a handler bug: keep the first reply */
        MHD_destroy_response(resp);
        return;
    }
    if (ctype)
        MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "X-Request-Id", req->reqid);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "Content-Security-Policy", "default-src 'none'");
    bool own_cache = MHD_get_response_header(resp, "Cache-Control") != NULL;
    for (int i = 0; i < req->nheaders; i++)
        own_cache |= strcasecmp(req->hname[i], "Cache-Control") == 0;
    if (!own_cache) /* a handler may allow caching (graphs: ETag + no-cache) */
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    for (int i = 0; i < req->nheaders; i++)
        MHD_add_response_header(resp, req->hname[i], req->hval[i]);
    const char *origin = http_header(req, "Origin");
    if (origin && origin_allowed(req->srv->app->cors_origins, origin)) {
        /* Bearer tokens, not cookies: no Allow-Credentials. */
        MHD_add_response_header(resp, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                                "Location, Retry-After, X-Request-Id, ETag, X-Next-Cursor");
    }
    const char *allow = req->srv->app->cors_origins;
    if (origin || (allow && *allow)) /* caches must not mix answers for different origins */
        MHD_add_response_header(resp, "Vary", "Origin");
    req->resp = resp;
    req->status = status;
}

void http_add_header(struct http_req *req, const char *name, const char *value)
{
    if (req->nheaders >= MAX_EXTRA_HEADERS)
        return;
    req->hname[req->nheaders] = strdup(name);
    req->hval[req->nheaders] = strdup(value);
    if (!req->hname[req->nheaders] || !req->hval[req->nheaders]) {
        free(req->hname[req->nheaders]);
        free(req->hval[req->nheaders]);
        return;
    }
    req->nheaders++;
}

void http_reply_data(struct http_req *req, unsigned status, const char *content_type, char *data,
                     size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer_with_free_callback(len, data, free);
    if (!r)
        free(data);
    set_reply(req, status, r, content_type);
}

void http_reply_static(struct http_req *req, unsigned status, const char *content_type,
                       const char *data, size_t len)
{
    set_reply(req, status,
              MHD_create_response_from_buffer(len, (void *)data, MHD_RESPMEM_PERSISTENT),
              content_type);
}

void http_reply_json(struct http_req *req, unsigned status, json_t *body)
{
    char *s = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
                   : NULL;
    json_decref(body);
    if (!s) {
        static const char oom[] =
            "{\"error\":{\"code\":\"out_of_memory\",\"message\":\"out of memory\"}}";
        http_reply_static(req, 503, "application/json", oom, sizeof oom - 1);
        return;
    }
    http_reply_data(req, status, "application/json", s, strlen(s));
}

static void reply_error_v(struct http_req *req, cb_err e, json_t *extra, const char *fmt,
                          va_list ap) __attribute__((format(printf, 4, 0)));
static void reply_error_v(struct http_req *req, cb_err e, json_t *extra, const char *fmt,
                          va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    json_t *err = json_object();
    json_object_set_new(err, "code", json_string(cb_err_code(e)));
    json_object_set_new(err, "message", json_string(msg));
    if (extra)
        json_object_update(err, extra);
    json_decref(extra);
    if (e == CB_ERR_UNAUTHORIZED)
        http_add_header(req, "WWW-Authenticate", "Bearer realm=\"carbon\"");
    http_reply_json(req, cb_err_http_status(e), json_pack("{s:o}", "error", err));
}

void http_reply_error(struct http_req *req, cb_err e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(req, e, NULL, fmt, ap);
    va_end(ap);
}

void http_reply_error_with(struct http_req *req, cb_err e, json_t *extra, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    reply_error_v(req, e, extra, fmt, ap);
    va_end(ap);
}

/* ---- async ---- */

void http_suspend(struct http_req *req, http_resume_fn on_resume, void *arg)
{
    req->on_resume = on_resume;
    req->resume_arg = arg;
    req->suspended = true;
    MHD_suspend_connection(req->conn);
}

void http_resume(struct http_req *req)
{
    MHD_resume_connection(req->conn);
}

/* ---- the request lifecycle ---- */

static void make_reqid(struct http_server *s, struct http_req *req)
{
    const char *given = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Request-Id");
    if (given) {
        size_t n = strlen(given);
        bool ok = n > 0 && n < sizeof req->reqid;
        for (size_t i = 0; ok && i < n; i++)
            ok = (given[i] >= '0' && given[i] <= '9') || (given[i] >= 'a' && given[i] <= 'z') ||
                 (given[i] >= 'A' && given[i] <= 'Z') || given[i] == '-' || given[i] == '_' ||
                 given[i] == '.';
        if (ok) {
            memcpy(req->reqid, given, n + 1);
            return;
        }
    }
    uint64_t n = atomic_fetch_add(&s->next_id, 1);
    snprintf(req->reqid, sizeof req->reqid, "%08x%010llx", s->id_salt, (unsigned long long)n);
}

/* Resolves and checks credentials for the matched route (once). Public
 * routes never look at credentials. */
static void authorize(struct http_server *s, struct http_req *req, bool charge)
{
    const struct route *rt = &s->routes[req->route];
    req->auth_done = true;
    req->auth_err = CB_OK;
    if (rt->access == ACCESS_PUBLIC)
        return;
    req->auth_err =
        auth_identify(s->app->admin_token, s->app->reg, s->app->users, s->app->now_ms(),
                      http_header(req, "Authorization"), http_header(req, "X-Api-Key"), &req->who);
    if (req->auth_err == CB_OK)
        req->auth_err = auth_check(rt->access, &req->who);
    /* Per-key limit: every key, user and session counts (the admin token,
     * the operator's, does not). */
    if (charge && req->auth_err == CB_OK && req->who.kind != PRINCIPAL_ADMIN &&
        req->who.kind != PRINCIPAL_NONE) {
        char key[80];
        snprintf(key, sizeof key, "%d:%s", (int)req->who.kind, req->who.id);
        if (!ratelimit_take(s->app->key_rl, key, 1, s->app->now_ms(), &req->retry_after))
            req->limited = true;
    }
    if (req->auth_err == CB_OK && req->limited)
        req->auth_err = CB_ERR_RATE_LIMITED;
    if (req->auth_err == CB_OK && rt->object != OBJ_NONE) {
        /* An absent query argument is the handler's to refuse (400). */
        const char *oid = rt->object_query ? http_query(req, rt->object_query) : req->params[0];
        if (oid)
            req->auth_err = auth_object(s->app, rt->access, rt->object, oid, &req->who);
        req->object_id = oid;
    }
}

void http_reply_limited(struct http_req *req, int retry_after_s, const char *what)
{
    char ra[16];
    snprintf(ra, sizeof ra, "%d", retry_after_s > 0 ? retry_after_s : 1);
    http_add_header(req, "Retry-After", ra);
    http_reply_error(req, CB_ERR_RATE_LIMITED, "too many %s; retry in %s second(s)", what, ra);
}

/* The methods path answers to, as an Allow header value ("" if none). */
static void allowed_methods(struct http_server *s, const char *path, char allow[64])
{
    static const char *const methods[] = {"GET", "HEAD", "POST", "PATCH", "DELETE"};
    size_t off = 0;
    allow[0] = '\0';
    for (size_t m = 0; m < sizeof methods / sizeof *methods; m++) {
        bool known = false;
        int np;
        char params[HTTP_MAX_PARAMS][256];
        if (http_route_match(s->routes, s->nroutes, methods[m], path, params, &np, &known) >= 0)
            off += (size_t)snprintf(allow + off, 64 - off, "%s%s", off ? ", " : "", methods[m]);
    }
}

/* Answers OPTIONS: a CORS preflight from an allowed origin, or the list of
 * methods of a path. */
static void preflight(struct http_server *s, struct http_req *req)
{
    char allow[64];
    allowed_methods(s, req->path, allow);
    if (!allow[0]) {
        http_reply_error(req, CB_ERR_NOT_FOUND, "no route for %s", req->path);
        return;
    }
    const char *origin = http_header(req, "Origin");
    if (origin && !origin_allowed(s->app->cors_origins, origin)) {
        http_reply_error(req, CB_ERR_FORBIDDEN,
                         "origin %.128s is not allowed (CARBON_CORS_ORIGINS)", origin);
        return;
    }
    http_add_header(req, "Allow", allow);
    if (origin) {
        http_add_header(req, "Access-Control-Allow-Methods", allow);
        http_add_header(req, "Access-Control-Allow-Headers",
                        "Authorization, Content-Type, X-Api-Key, X-Request-Id, If-None-Match");
        http_add_header(req, "Access-Control-Max-Age", "600");
    }
    http_reply_static(req, 204, NULL, "", 0);
}

static void dispatch(struct http_server *s, struct http_req *req)
{
    struct app *app = s->app;
    if (req->route < 0) {
        bool known = false;
        http_route_match(s->routes, s->nroutes, req->method, req->path, req->params, &req->nparams,
                         &known);
        if (known) {
            char allow[64];
            allowed_methods(s, req->path, allow);
            http_add_header(req, "Allow", allow);
            http_reply_error(req, CB_ERR_METHOD, "%s is not allowed on %s (allowed: %s)",
                             req->method, req->path, allow);
        } else
            http_reply_error(req, CB_ERR_NOT_FOUND, "no route for %s", req->path);
        return;
    }
    if (req->too_big) {
        http_reply_error(req, CB_ERR_TOO_LARGE, "request body is over the %zu byte limit",
                         req->max_body);
        return;
    }
    if (req->busy) {
        http_add_header(req, "Retry-After", "1");
        http_reply_error(req, CB_ERR_UNAVAILABLE,
                         "the server is receiving too much at once; retry in a second");
        return;
    }
    const struct route *rt = &s->routes[req->route];
    /* Checked again if a body arrived since the headers were judged: during
     * a slow body a session may have ended, a user been deleted or demoted,
     * a device given to someone else. (A request without a body is judged
     * once; a request is charged once.) */
    if (!req->auth_done || req->received)
        authorize(s, req, !req->auth_done);
    cb_err e = req->auth_err;
    if (e == CB_ERR_UNAUTHORIZED) {
        http_reply_error(req, e,
                         "missing or invalid credentials: send Authorization: Bearer "
                         "<key> or X-Api-Key: <key>");
        return;
    }
    if (e == CB_ERR_RATE_LIMITED) {
        http_reply_limited(req, req->retry_after, "requests from this key");
        return;
    }
    if (e == CB_ERR_NOT_FOUND) {
        static const char *const what[] = {"object", "device", "alert", "user"};
        http_reply_error(req, e, "no %s with id '%.64s'", what[rt->object], req->object_id);
        return;
    }
    if (e != CB_OK) {
        http_reply_error(req, e, "these credentials may not call %s %s", rt->method, rt->pattern);
        return;
    }
    rt->fn(app, req);
    if (!req->resp && !req->suspended)
        http_reply_error(req, CB_ERR_INTERNAL, "handler produced no reply");
}

static enum MHD_Result queue_reply(struct http_req *req)
{
    if (!req->resp)
        return MHD_NO;
    enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->resp);
    MHD_destroy_response(req->resp);
    req->resp = NULL;
    return r;
}

/* MHD_OPTION_URI_LOG_CALLBACK: the request target as sent, before
 * libmicrohttpd splits off and decodes the query (on_request gets the path
 * alone). Allocates the request so that the raw query string can be kept:
 * the returned pointer becomes *con_cls, and on_completed frees it even if
 * on_request is never called (libmicrohttpd marks the connection's client
 * aware of the request once this callback has run). */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    struct http_req *req = calloc(1, sizeof *req);
    if (!req)
        return NULL;
    const char *q = uri ? strchr(uri, '?') : NULL;
    if (q && !(req->raw_query = strdup(q + 1))) {
        free(req);
        return NULL;
    }
    return req;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_server *s = cls;
    struct http_req *req = *con_cls;
    if (!req || !req->started) {
        if (!req && !(req = calloc(1, sizeof *req)))
            return MHD_NO;
        req->started = true;
        req->srv = s;
        req->conn = conn;
        req->method = method;
        req->path = strdup(url);
        req->start_ns = time_mono_ns();
        buf_init(&req->body, HTTP_MAX_BODY);
        *con_cls = req;
        if (!req->path)
            return MHD_NO;
        make_reqid(s, req);
        req->route = -1; /* until matched */
        char addr[64];
        http_client_net(req, addr, sizeof addr);
        if (!ratelimit_take(s->app->addr_rl, addr, 1, s->app->now_ms(), &req->retry_after)) {
            http_reply_limited(req, req->retry_after, "requests from this address");
            return queue_reply(req);
        }
        if (strcmp(method, "OPTIONS") == 0) {
            preflight(s, req);
            return queue_reply(req);
        }
        bool known;
        req->route = http_route_match(s->routes, s->nroutes, method, url, req->params,
                                      &req->nparams, &known);
        /* Credentials before any body byte is buffered: a caller without
         * them gets its 401/403 at once and costs no memory. */
        if (req->route >= 0) {
            authorize(s, req, true);
            if (req->auth_err != CB_OK) {
                dispatch(s, req);
                return queue_reply(req);
            }
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        unsigned long long clen = cl ? strtoull(cl, NULL, 10) : 0;
        /* Routes anyone may call (login) take small bodies only: a client
         * without credentials cannot make the server hold megabytes. */
        req->max_body = req->route >= 0 && s->routes[req->route].access == ACCESS_PUBLIC
                            ? HTTP_MAX_PUBLIC_BODY
                            : HTTP_MAX_BODY;
        if (clen > req->max_body) {
            req->too_big = true;
            /* Up to HTTP_DISCARD_MAX the body is read and dropped, so the
             * client gets to read the 413; beyond that, refuse at once. */
            if (clen > HTTP_DISCARD_MAX) {
                dispatch(s, req);
                return queue_reply(req);
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        req->received += n;
        if (req->received > HTTP_DISCARD_MAX)
            return MHD_NO; /* a body without end (chunked): drop the connection */
        if (!req->too_big && !req->busy) {
            /* All bodies being received share one budget: many slow
             * clients cannot add up to more memory than that. */
            if (atomic_fetch_add(&s->body_bytes, n) + n > HTTP_BODY_BUDGET) {
                atomic_fetch_sub(&s->body_bytes, n);
                req->busy = true;
            } else if (req->body.len + n > req->max_body ||
                       !buf_append(&req->body, upload_data, n)) {
                atomic_fetch_sub(&s->body_bytes, n);
                req->too_big = true;
            } else {
                req->held += n;
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->suspended) {
        /* Resumed: the async work is done; build the reply here. */
        req->suspended = false;
        if (req->on_resume) {
            http_resume_fn fn = req->on_resume;
            req->on_resume = NULL;
            fn(req, req->resume_arg);
        }
        if (!req->resp)
            http_reply_error(req, CB_ERR_INTERNAL, "request resumed without a reply");
        return queue_reply(req);
    }
    if (req->resp) /* already answered (early 413) */
        return MHD_YES;
    /* Only requests whose body has fully arrived count as in flight: a
     * client that stalls or vanishes mid-body must not hold up a stop.
     * Count first, then look at the stop flag (both sequentially
     * consistent): either http_stop sees this request, or it sees the flag. */
    req->counted = true;
    atomic_fetch_add(&s->inflight, 1);
    if (atomic_load(&s->stopping)) {
        http_add_header(req, "Connection", "close");
        http_reply_error(req, CB_ERR_UNAVAILABLE, "the server is stopping; retry shortly");
        return queue_reply(req);
    }
    dispatch(s, req);
    if (req->suspended)
        return MHD_YES;
    return queue_reply(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *s = cls;
    struct http_req *req = *con_cls;
    if (!req)
        return;
    *con_cls = NULL;
    if (!req->started) { /* on_uri's, and the request went no further */
        free(req->raw_query);
        free(req);
        return;
    }
    if (req->on_resume) {
        /* Resumed, but the client was gone before the reply could be built:
         * the handler still owns state that its resume function frees. */
        http_resume_fn fn = req->on_resume;
        req->on_resume = NULL;
        fn(req, req->resume_arg);
    }
    int64_t dur = time_mono_ns() - req->start_ns;
    unsigned status = req->status ? req->status : 499;
    metrics_request(s->app->metrics, req->route >= 0 ? (size_t)req->route : s->nroutes, status,
                    dur);
    if (log_enabled(LOG_INFO)) {
        json_t *f = json_pack("{s:s,s:s,s:s,s:i,s:f}", "request_id", req->reqid, "method",
                              req->method, "path", req->path ? req->path : "", "status",
                              (json_int_t)status, "duration_ms", (double)dur / 1e6);
        if (req->device[0])
            json_object_set_new(f, "device_id", json_string(req->device));
        if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
            json_object_set_new(f, "terminated", json_integer(toe));
        log_json(status >= 500 ? LOG_WARN : LOG_INFO, "request", f);
    }
    if (req->resp)
        MHD_destroy_response(req->resp);
    for (int i = 0; i < req->nheaders; i++) {
        free(req->hname[i]);
        free(req->hval[i]);
    }
    buf_free(&req->body);
    atomic_fetch_sub(&s->body_bytes, req->held);
    free(req->path);
    free(req->raw_query);
    if (req->counted)
        atomic_fetch_sub(&s->inflight, 1);
    free(req);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_json(LOG_DEBUG, "libmicrohttpd", json_pack("{s:s}", "detail", msg));
}

struct http_server *http_start(struct app *app, const char *host, unsigned port, unsigned nthreads,
                               const struct route *routes, size_t nroutes)
{
    struct http_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->app = app;
    s->routes = routes;
    s->nroutes = nroutes;
    s->id_salt = (uint32_t)(time_now_ms() ^ (time_mono_ns() >> 10));

    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *ai = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%u", port);
    int gai = getaddrinfo(host, portstr, &hints, &ai);
    if (gai != 0) {
        log_msg(LOG_ERROR, "cannot resolve listen address %s: %s", host, gai_strerror(gai));
        free(s);
        return NULL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    s->d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(nthreads ? nthreads : 1),
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)(16 * 1024), MHD_OPTION_CONNECTION_LIMIT, (unsigned)10000,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONN_PER_ADDR,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60, MHD_OPTION_UNESCAPE_CALLBACK, unescape_cb,
        NULL, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_LISTEN_BACKLOG_SIZE,
        (unsigned)1024, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!s->d) {
        log_msg(LOG_ERROR, "cannot listen on %s:%u (in use, or not an address of this host)", host,
                port);
        free(s);
        return NULL;
    }
    return s;
}

unsigned http_port(struct http_server *s)
{
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : 0;
}

void http_stop(struct http_server *s, int grace_ms)
{
    if (!s)
        return;
    /* The listen socket is closed only after MHD_stop_daemon: its threads
     * may still use it (closing it here made an epoll thread abort with
     * "Failed to remove listen FD from epoll set", seen once in CI). */
    MHD_socket fd = MHD_quiesce_daemon(s->d);
    /* Existing keep-alive connections still send requests: from here on
     * they get 503 at once instead of being dispatched. */
    atomic_store(&s->stopping, true);
    /* Dispatched requests always finish (the store completes or fails every
     * queued job), and libmicrohttpd must not be stopped while one is
     * suspended: wait for them, saying so after grace_ms. */
    for (int waited = 0; atomic_load(&s->inflight) > 0; waited += 10) {
        if (waited == grace_ms)
            log_msg(LOG_WARN, "stop: still waiting for %ld in-flight requests",
                    atomic_load(&s->inflight));
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(s->d);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
    free(s);
}
