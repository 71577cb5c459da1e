/* client.c - the CLI's HTTP client for a running server (libcurl). */
#include "cli/client.h"

#include "core/buf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_MAX_ANSWER (64 * 1024 * 1024)

static const char *env_get(const char *name)
{
    return getenv(name);
}

static bool init(struct client *c, const char *cmd, const char *server, const char *config_path,
                 bool need_token)
{
    struct config cfg;
    const char *flags[CFG__COUNT] = {0};
    char err[512];
    memset(c, 0, sizeof *c);
    if (!config_load(&cfg, flags, config_path, env_get, err, sizeof err)) {
        fprintf(stderr, "carbon %s: %s\n", cmd, err);
        config_free(&cfg);
        return false;
    }
    bool ok = true;
    if (server) {
        if (strncmp(server, "http://", 7) != 0 && strncmp(server, "https://", 8) != 0) {
            fprintf(stderr, "carbon %s: --server must be an http:// or https:// URL\n", cmd);
            ok = false;
        } else if ((size_t)snprintf(c->base, sizeof c->base, "%s", server) >= sizeof c->base) {
            fprintf(stderr, "carbon %s: --server is too long\n", cmd);
            ok = false;
        }
    } else {
        char host[256];
        unsigned port;
        if (!config_parse_listen(config_get(&cfg, CFG_LISTEN), host, sizeof host, &port)) {
            fprintf(stderr, "carbon %s: CARBON_LISTEN is not HOST:PORT\n", cmd);
            ok = false;
        } else {
            /* A wildcard listener is reached on loopback of its family. */
            const char *h = strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1"
                            : strcmp(host, "::") == 0    ? "::1"
                                                         : host;
            bool v6 = strchr(h, ':') != NULL;
            snprintf(c->base, sizeof c->base, "http://%s%s%s:%u", v6 ? "[" : "", h, v6 ? "]" : "",
                     port);
        }
    }
    size_t n = strlen(c->base);
    while (n && c->base[n - 1] == '/')
        c->base[--n] = '\0';
    const char *token = config_get(&cfg, CFG_ADMIN_TOKEN);
    if (ok && token) {
        if (strchr(token, '\r') || strchr(token, '\n') ||
            (size_t)snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", token) >=
                sizeof c->auth) {
            fprintf(stderr, "carbon %s: CARBON_ADMIN_TOKEN is not a usable token\n", cmd);
            ok = false;
        }
    } else if (ok && need_token) {
        fprintf(stderr,
                "carbon %s: set CARBON_ADMIN_TOKEN (or CARBON_ADMIN_TOKEN_FILE) to the "
                "server's admin token\n",
                cmd);
        ok = false;
    }
    config_free(&cfg);
    return ok;
}

bool client_init(struct client *c, const char *cmd, const char *server, const char *config_path)
{
    return init(c, cmd, server, config_path, true);
}

bool client_init_token_optional(struct client *c, const char *cmd, const char *server,
                                const char *config_path)
{
    return init(c, cmd, server, config_path, false);
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    return buf_append(arg, p, size * n) ? size * n : 0;
}

long client_fetch(struct client *c, const char *cmd, const char *method, const char *path,
                  const char *body, const char *accept, struct buf *ans)
{
    char url[2048];
    if ((size_t)snprintf(url, sizeof url, "%s%s", c->base, path) >= sizeof url) {
        fprintf(stderr, "carbon %s: URL too long\n", cmd);
        return 0;
    }
    CURL *h = curl_easy_init();
    if (!h)
        return 0;
    char accept_hdr[128];
    snprintf(accept_hdr, sizeof accept_hdr, "Accept: %s", accept);
    struct curl_slist *hdr = c->auth[0] ? curl_slist_append(NULL, c->auth) : NULL;
    hdr = curl_slist_append(hdr, accept_hdr);
    if (body) {
        hdr = curl_slist_append(hdr, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, ans);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    long status = 0;
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK)
        fprintf(stderr, "carbon %s: cannot reach %s: %s\n", cmd, c->base, curl_easy_strerror(rc));
    else
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hdr);
    curl_easy_cleanup(h);
    return status;
}

long client_call(struct client *c, const char *cmd, const char *method, const char *path,
                 json_t *body, json_t **out)
{
    *out = NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    struct buf ans;
    buf_init(&ans, CLIENT_MAX_ANSWER);
    long status = client_fetch(c, cmd, method, path, body ? (text ? text : "") : NULL,
                               "application/json", &ans);
    if (status && ans.len)
        *out = json_loadb(ans.data, ans.len, 0, NULL);
    buf_free(&ans);
    free(text);
    return status;
}

void client_print_error(const char *cmd, long status, const json_t *answer)
{
    const json_t *e = json_object_get(answer, "error");
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (msg)
        fprintf(stderr, "carbon %s: %s (HTTP %ld)\n", cmd, msg, status);
    else
        fprintf(stderr, "carbon %s: the server answered HTTP %ld\n", cmd, status);
}

bool client_escape(const char *s, char *out, size_t cap)
{
    char *e = curl_easy_escape(NULL, s, 0);
    bool ok = e && (size_t)snprintf(out, cap, "%s", e) < cap;
    curl_free(e);
    return ok;
}

bool client_add_param(char *q, size_t cap, const char *name, const char *value)
{
    char esc[512];
    if (!value)
        return true;
    if (!client_escape(value, esc, sizeof esc))
        return false;
    size_t n = strlen(q);
    return (size_t)snprintf(q + n, cap - n, "%s%s=%s", n ? "&" : "?", name, esc) < cap - n;
}
