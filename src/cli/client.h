/* client.h - the CLI's HTTP client for a running server (libcurl). */
#ifndef CARBON_CLI_CLIENT_H
#define CARBON_CLI_CLIENT_H
#include "core/config.h"

#include <jansson.h>
#include <stdbool.h>

struct client {
    char base[512]; /* "http://127.0.0.1:8080" */
    char auth[300]; /* "Authorization: Bearer ..." or "" */
};

/* Base URL from --server (may be NULL: from CARBON_LISTEN / the default),
 * token from CARBON_ADMIN_TOKEN(_FILE) or the --config file. False with a
 * message on stderr (prefixed by cmd) if the settings are unusable. */
bool client_init(struct client *c, const char *cmd, const char *server, const char *config_path);

/* As client_init, but no admin token is no error: c->auth is then empty,
 * and only routes that need no admin token can be called (for `carbon sim
 * --keys`, whose devices use their own keys). */
bool client_init_token_optional(struct client *c, const char *cmd, const char *server,
                                const char *config_path);

/* Sends method path (already escaped) with an optional JSON body. Returns
 * the HTTP status (0 if the server could not be reached, with the reason on
 * stderr) and the parsed JSON answer in *out (NULL if none). */
long client_call(struct client *c, const char *cmd, const char *method, const char *path,
                 json_t *body, json_t **out);

/* Sends method path with an optional JSON body text and the given Accept
 * type; the answer's bytes go to ans (the caller's buffer, with its cap).
 * Returns the HTTP status, 0 if the server could not be reached (reason on
 * stderr). */
struct buf;
long client_fetch(struct client *c, const char *cmd, const char *method, const char *path,
                  const char *body, const char *accept, struct buf *ans);

/* Prints the server's {"error":{...}} (or the status) to stderr. */
void client_print_error(const char *cmd, long status, const json_t *answer);

/* Percent-encodes s for a URL query value into out (cap bytes). */
bool client_escape(const char *s, char *out, size_t cap);

/* Appends "?name=value" or "&name=value" (value escaped) to the query q
 * (cap bytes); nothing when value is NULL. False if it does not fit. */
bool client_add_param(char *q, size_t cap, const char *name, const char *value);

#endif
