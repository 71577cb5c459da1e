/* config.c - settings: flags > environment > config file > defaults. */
#include "core/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct config_setting config_settings[CFG__COUNT] = {
    [CFG_LISTEN] = {"listen", "CARBON_LISTEN", "127.0.0.1:8080", false,
                    "address to listen on, HOST:PORT (port 0 picks a free port)"},
    [CFG_DATA] = {"data", "CARBON_DATA", "./carbon-data", false,
                  "directory of the embedded database"},
    [CFG_ADMIN_TOKEN] = {NULL, "CARBON_ADMIN_TOKEN", NULL, true,
                         "bearer token of the bootstrap admin (or CARBON_ADMIN_TOKEN_FILE)"},
    [CFG_LOG_LEVEL] = {"log-level", "CARBON_LOG_LEVEL", "info", false,
                       "debug, info, warn, error or off"},
    [CFG_THREADS] = {"threads", "CARBON_THREADS", "2", false, "HTTP worker threads"},
    [CFG_CORS_ORIGINS] = {NULL, "CARBON_CORS_ORIGINS", "", false,
                          "browser origins allowed to call the API, comma-separated "
                          "(https://app.example.com); empty: none"},
    [CFG_RATE_KEY] = {NULL, "CARBON_RATE_LIMIT", "20", false,
                      "requests per second per key or user (bursts of 10x); 0: no limit"},
    [CFG_RATE_ADDR] = {NULL, "CARBON_RATE_LIMIT_ADDR", "200", false,
                       "requests per second per client address (bursts of 10x); 0: no limit"},
    [CFG_TWILIO_API_BASE] = {NULL, "CARBON_TWILIO_API_BASE", "https://api.twilio.com", false,
                             "Twilio REST API base URL"},
    [CFG_TWILIO_ACCOUNT_SID] = {NULL, "CARBON_TWILIO_ACCOUNT_SID", "", false,
                                "Twilio account SID (AC...); empty: nobody is paged"},
    [CFG_TWILIO_AUTH_TOKEN] = {NULL, "CARBON_TWILIO_AUTH_TOKEN", "", true,
                               "Twilio auth token (or CARBON_TWILIO_AUTH_TOKEN_FILE); also "
                               "checks webhook signatures"},
    [CFG_TWILIO_FROM] = {NULL, "CARBON_TWILIO_FROM", "", false,
                         "the Twilio number messages and calls come from (E.164)"},
    [CFG_PUBLIC_URL] = {NULL, "CARBON_PUBLIC_URL", "", false,
                        "this server's public base URL as Twilio reaches it "
                        "(https://carbon.example.com): status callbacks, press-1 "
                        "acknowledgement, webhook signatures"},
    [CFG_NOTIFY_MIN_DELAY_S] = {NULL, "CARBON_NOTIFY_MIN_DELAY_S", "60", false,
                                "the shortest escalation, reminder and all-clear delay a device "
                                "may set, 1 to 3600 (lower it only for drills and tests)"},
    [CFG_NOTIFY_LIMIT] = {NULL, "CARBON_NOTIFY_LIMIT", "10", false,
                          "test messages, and manual alarms, per person per hour (bursts of "
                          "that many); 0: no limit"},
};

static bool set(struct config *c, enum config_key k, const char *v, const char *src)
{
    char *d = strdup(v);
    if (!d)
        return false;
    free(c->value[k]);
    c->value[k] = d;
    c->source[k] = src;
    return true;
}

/* Reads a secret file: its content without trailing newlines. */
static bool read_secret_file(const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read secret file %s: %s", path, strerror(errno));
        return false;
    }
    char buf[4098]; /* up to 4096 bytes, one more to detect a longer file, and a NUL */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool toolong = n > 4096;
    fclose(f);
    if (toolong) {
        snprintf(err, errlen, "secret file %s is over 4 KiB", path);
        return false;
    }
    buf[n] = '\0';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    *out = strdup(buf);
    return *out != NULL;
}

static int find_env(const char *name)
{
    for (int k = 0; k < CFG__COUNT; k++)
        if (strcmp(config_settings[k].env, name) == 0)
            return k;
    return -1;
}

static bool load_file(struct config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
        return false;
    }
    char line[4096];
    int lineno = 0;
    bool ok = true;
    bool seen_plain[CFG__COUNT] = {0}, seen_file[CFG__COUNT] = {0};
    while (ok && fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        if (n == sizeof line - 1 && line[n - 1] != '\n' && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line is over %zu characters", path, lineno,
                     sizeof line - 2);
            ok = false;
            break;
        }
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            snprintf(err, errlen, "%s:%d: expected KEY=VALUE", path, lineno);
            ok = false;
            break;
        }
        *eq = '\0';
        char *key = p, *val = eq + 1;
        size_t kl = strlen(key);
        while (kl && (key[kl - 1] == ' ' || key[kl - 1] == '\t'))
            key[--kl] = '\0';
        while (*val == ' ' || *val == '\t')
            val++;
        size_t vl = strlen(val);
        if (vl >= 2 &&
            ((val[0] == '"' && val[vl - 1] == '"') || (val[0] == '\'' && val[vl - 1] == '\''))) {
            val[vl - 1] = '\0';
            val++;
        }
        int k = find_env(key);
        bool is_file = false;
        if (k < 0 && kl > 5 && strcmp(key + kl - 5, "_FILE") == 0) {
            key[kl - 5] = '\0';
            k = find_env(key);
            key[kl - 5] = '_';
            is_file = true;
            if (k >= 0 && !config_settings[k].secret)
                k = -1;
        }
        if (k < 0) {
            snprintf(err, errlen, "%s:%d: unknown setting %.64s", path, lineno, key);
            ok = false;
            break;
        }
        if ((is_file ? seen_plain : seen_file)[k]) {
            snprintf(err, errlen, "%s:%d: set %s or %s_FILE, not both", path, lineno,
                     config_settings[k].env, config_settings[k].env);
            ok = false;
            break;
        }
        (is_file ? seen_file : seen_plain)[k] = true;
        if (is_file) {
            char *v = NULL;
            ok = read_secret_file(val, &v, err, errlen) && set(c, (enum config_key)k, v, "file");
            free(v);
        } else {
            ok = set(c, (enum config_key)k, val, "file");
        }
    }
    fclose(f);
    return ok;
}

bool config_load(struct config *c, const char *const flags[CFG__COUNT], const char *config_path,
                 const char *(*getenv_fn)(const char *), char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    for (int k = 0; k < CFG__COUNT; k++)
        if (config_settings[k].def &&
            !set(c, (enum config_key)k, config_settings[k].def, "default"))
            goto oom;
    if (config_path && !load_file(c, config_path, err, errlen))
        return false;
    for (int k = 0; k < CFG__COUNT; k++) {
        const struct config_setting *s = &config_settings[k];
        const char *v = getenv_fn(s->env);
        if (s->secret) {
            char fname[96];
            snprintf(fname, sizeof fname, "%s_FILE", s->env);
            const char *fpath = getenv_fn(fname);
            if (fpath && v) {
                snprintf(err, errlen, "set %s or %s, not both", s->env, fname);
                return false;
            }
            if (fpath) {
                char *fv = NULL;
                bool ok = read_secret_file(fpath, &fv, err, errlen) &&
                          set(c, (enum config_key)k, fv, "env");
                free(fv);
                if (!ok)
                    return false;
                continue;
            }
        }
        if (v && !set(c, (enum config_key)k, v, "env"))
            goto oom;
    }
    for (int k = 0; k < CFG__COUNT; k++)
        if (flags && flags[k] && !set(c, (enum config_key)k, flags[k], "flag"))
            goto oom;
    return true;
oom:
    snprintf(err, errlen, "out of memory");
    return false;
}

const char *config_get(const struct config *c, enum config_key k)
{
    return c->value[k];
}

void config_free(struct config *c)
{
    for (int k = 0; k < CFG__COUNT; k++) {
        free(c->value[k]);
        c->value[k] = NULL;
    }
}

bool config_parse_listen(const char *s, char *host, size_t hostlen, unsigned *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (*s == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return false;
        h = s + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return false;
        hl = (size_t)(colon - s);
    }
    if (hl == 0) {
        h = "0.0.0.0";
        hl = 7;
    }
    if (hl >= hostlen)
        return false;
    char *end;
    errno = 0;
    if (colon[1] < '0' || colon[1] > '9') /* strtoul would skip spaces and signs */
        return false;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (*end || errno || p > 65535)
        return false;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned)p;
    return true;
}
