/* uplink.c - one keep-alive HTTP connection of `carbon sim` (uplink.h). */
#include "sim/uplink.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct sim_uplink {
    CURL *curl;
    char base[512];
    sim_uplink_stop_fn stop;
    void *ctx;
    struct sim_answer *ans; /* of the POST in progress */
    size_t body_len;
    int64_t start_ms; /* when it started (CLOCK_MONOTONIC) */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct sim_uplink *u = arg;
    size_t len = size * n, room = sizeof u->ans->body - 1 - u->body_len;
    size_t take = len < room ? len : room;
    memcpy(u->ans->body + u->body_len, p, take);
    u->body_len += take;
    u->ans->body[u->body_len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct sim_uplink *u = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        unsigned long v = strtoul(p + 12, NULL, 10);
        u->ans->retry_after_s = v > 86400 ? 86400 : (uint32_t)v;
    }
    return len;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct sim_uplink *u = arg;
    int64_t elapsed = now_ms() - u->start_ms;
    if (u->stop && u->stop(u->ctx, elapsed > 0 ? elapsed : 1)) {
        u->ans->stopped = true;
        return 1; /* CURLE_ABORTED_BY_CALLBACK */
    }
    return 0;
}

struct sim_uplink *sim_uplink_new(const char *base, sim_uplink_stop_fn stop, void *ctx)
{
    struct sim_uplink *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    if ((size_t)snprintf(u->base, sizeof u->base, "%s", base) >= sizeof u->base ||
        !(u->curl = curl_easy_init())) {
        free(u);
        return NULL;
    }
    u->stop = stop;
    u->ctx = ctx;
    curl_easy_setopt(u->curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(u->curl, CURLOPT_WRITEDATA, u);
    curl_easy_setopt(u->curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(u->curl, CURLOPT_HEADERDATA, u);
    curl_easy_setopt(u->curl, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(u->curl, CURLOPT_XFERINFODATA, u);
    curl_easy_setopt(u->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(u->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(u->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(u->curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(u->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    return u;
}

void sim_uplink_free(struct sim_uplink *u)
{
    if (!u)
        return;
    curl_easy_cleanup(u->curl);
    free(u);
}

/* The counts of a 2xx answer: {"stored":N,"duplicates":M}; 0 for a count
 * that is missing or not a non-negative integer. */
static void read_counts(struct sim_answer *ans)
{
    json_t *root = json_loads(ans->body, 0, NULL);
    json_t *st = json_object_get(root, "stored"), *du = json_object_get(root, "duplicates");
    if (json_is_integer(st) && json_integer_value(st) >= 0)
        ans->stored = (uint64_t)json_integer_value(st);
    if (json_is_integer(du) && json_integer_value(du) >= 0)
        ans->duplicates = (uint64_t)json_integer_value(du);
    json_decref(root);
}

void sim_uplink_post(struct sim_uplink *u, const char *path, const struct fw_http_header *headers,
                     size_t nheaders, const char *body, size_t len, long timeout_ms,
                     struct sim_answer *ans)
{
    memset(ans, 0, sizeof *ans);
    u->ans = ans;
    u->body_len = 0;
    if (u->stop && u->stop(u->ctx, 0)) {
        ans->stopped = true;
        return;
    }
    char url[1024], line[FW_KEY_MAX + 64];
    struct curl_slist *hl = NULL, *more;
    if ((size_t)snprintf(url, sizeof url, "%s%s", u->base, path) >= sizeof url)
        goto out;
    if (!(hl = curl_slist_append(NULL, "Expect:")))
        goto out;
    for (size_t i = 0; i < nheaders; i++) {
        snprintf(line, sizeof line, "%s: %s", headers[i].name, headers[i].value);
        if (!(more = curl_slist_append(hl, line)))
            goto out;
        hl = more;
    }
    curl_easy_setopt(u->curl, CURLOPT_URL, url);
    curl_easy_setopt(u->curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(u->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(u->curl, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(u->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
    u->start_ms = now_ms();
    CURLcode rc = curl_easy_perform(u->curl);
    curl_easy_setopt(u->curl, CURLOPT_HTTPHEADER, NULL);
    if (rc == CURLE_OK)
        curl_easy_getinfo(u->curl, CURLINFO_RESPONSE_CODE, &ans->status);
    if (rc != CURLE_OK || ans->status <= 0) {
        ans->status = 0;
        ans->retry_after_s = 0;
    } else if (ans->status >= 200 && ans->status < 300) {
        read_counts(ans);
    }
out:
    curl_slist_free_all(hl);
}
