/* http.h - the HTTP front end on libmicrohttpd: a route table, per-request
 * state, replies, and suspend/resume for requests answered by another thread
 * (ingest answers only after the group commit). */
#ifndef CARBON_HTTP_H
#define CARBON_HTTP_H
#include "auth/registry.h"
#include "core/err.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_BODY (1024 * 1024)      /* request bodies over 1 MiB get 413 */
#define HTTP_MAX_PUBLIC_BODY (16 * 1024) /* ... on routes anyone may call, 16 KiB */
#define HTTP_BODY_BUDGET (256u << 20)    /* all bodies being received: 503 beyond */
#define HTTP_MAX_CONN_PER_ADDR 256       /* open connections per client address */
#define HTTP_MAX_PARAMS 4

struct app;
struct http_req;

/* Who may call a route. The server resolves the credentials and checks the
 * route's rule (and object) before the handler runs; no handler checks
 * roles itself. */
enum access {
    ACCESS_UNDECLARED, /* a route that forgot to say: refused to everyone (fail closed) */
    ACCESS_PUBLIC,     /* anyone */
    ACCESS_ADMIN,      /* the admin token or an admin user */
    ACCESS_WRITER, /* admin, a device key or a gateway key (which devices: registry_check_write) */
    ACCESS_USER,   /* admin or any logged-in user; lists are scoped to the user's own objects */
    ACCESS_OWNER,  /* admin, or the user who owns the route's object (others: 404) */
    ACCESS_DEVICE, /* ACCESS_OWNER, or the device itself with its own key (device-self) */
};

/* The object a route acts on, for ACCESS_OWNER and ACCESS_DEVICE: named by
 * the first {param} of the pattern, or by a query argument. */
enum object_kind { OBJ_NONE, OBJ_DEVICE, OBJ_ALERT, OBJ_USER };

typedef void (*route_fn)(struct app *app, struct http_req *req);

struct route {
    const char *method;
    const char *pattern; /* "/v1/devices/{id}/readings": {x} matches one segment */
    route_fn fn;
    enum access access;
    enum object_kind object;  /* OBJ_NONE unless access is OWNER or DEVICE */
    const char *object_query; /* NULL: the object is {param} 0; else this query argument */
};

/* ---- for handlers ---- */

struct app *http_app(struct http_req *req);
const struct principal *http_who(struct http_req *req);
const char *http_method(struct http_req *req);
/* i-th {param} of the matched pattern (decoded, at most 255 bytes). */
const char *http_param(struct http_req *req, int i);
/* Query argument or NULL. */
const char *http_query(struct http_req *req, const char *name);
/* The request's query string exactly as sent: the bytes after the first '?'
 * of the request target, not decoded ("" for a target ending in '?'), or
 * NULL when there is none. For signatures over the URL that was called. */
const char *http_raw_query(struct http_req *req);
/* The client's address for per-address limits: the IPv4 address, or the
 * IPv6 /64 ("2001:db8::"). */
void http_client_net(struct http_req *req, char *out, size_t len);
/* Request header (case-insensitive) or NULL. */
const char *http_header(struct http_req *req, const char *name);
/* The request body (NUL-terminated; may be empty). */
const char *http_body(struct http_req *req, size_t *len);
/* Frees the body early (a handler that parsed it and will wait for async work). */
void http_body_release(struct http_req *req);
/* True if Content-Type is application/json (parameters allowed). */
bool http_is_json(struct http_req *req);
/* Marks the device a request concerns, for the access log. */
void http_log_device(struct http_req *req, const char *device_id);

/* Replies. Exactly one per request. They take ownership of what they get. */
void http_reply_json(struct http_req *req, unsigned status, json_t *body);
void http_reply_data(struct http_req *req, unsigned status, const char *content_type, char *data,
                     size_t len);
void http_reply_static(struct http_req *req, unsigned status, const char *content_type,
                       const char *data, size_t len);
/* {"error":{"code","message"[,extra fields]}} with the status of e. */
void http_reply_error(struct http_req *req, cb_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void http_reply_error_with(struct http_req *req, cb_err e, json_t *extra, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 429 with Retry-After (at least 1 s): "too many <what>; retry in N second(s)". */
void http_reply_limited(struct http_req *req, int retry_after_s, const char *what);
/* Adds a header to the reply (copied). Up to 8 per request; a Cache-Control
 * given here replaces the default no-store. */
void http_add_header(struct http_req *req, const char *name, const char *value);

/* Async: the handler calls http_suspend() and returns; later, from any
 * thread, the owner of the work calls http_resume(). Then, on an HTTP
 * worker thread, on_resume(req, arg) runs and sets the reply. (Building the
 * reply there keeps it off the thread that finished the work.) */
typedef void (*http_resume_fn)(struct http_req *req, void *arg);
void http_suspend(struct http_req *req, http_resume_fn on_resume, void *arg);
void http_resume(struct http_req *req);

/* ---- for the program ---- */

struct http_server;

/* Listens on host:port (port 0 picks a free one) with nthreads threads.
 * routes must outlive the server. NULL on failure (logged). */
struct http_server *http_start(struct app *app, const char *host, unsigned port, unsigned nthreads,
                               const struct route *routes, size_t nroutes);
unsigned http_port(struct http_server *s);
/* Stops accepting, waits up to grace_ms for in-flight requests, then stops. */
void http_stop(struct http_server *s, int grace_ms);

/* Percent-decodes s in place (RFC 3986 %XX); a malformed sequence or %00 is
 * left as it is, so it can never cut a path or value short. Used for the
 * path and every query argument; returns the new length. */
size_t http_unescape(char *s);

/* Matches method+path (already decoded) against routes. Returns the route index, or -1 with
 * *path_known set when the path exists under another method. Exposed for
 * tests and the OpenAPI check. */
int http_route_match(const struct route *routes, size_t n, const char *method, const char *path,
                     char params[HTTP_MAX_PARAMS][256], int *nparams, bool *path_known);

#endif
