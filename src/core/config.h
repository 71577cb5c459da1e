/* config.h - settings with precedence: flags > CARBON_* environment >
 * --config file (KEY=VALUE lines, systemd EnvironmentFile style) > defaults.
 * Secrets may also come from a file named by CARBON_<NAME>_FILE. */
#ifndef CARBON_CONFIG_H
#define CARBON_CONFIG_H
#include <stdbool.h>
#include <stddef.h>

enum config_key {
    CFG_LISTEN,
    CFG_DATA,
    CFG_ADMIN_TOKEN,
    CFG_LOG_LEVEL,
    CFG_THREADS,
    CFG_CORS_ORIGINS,
    CFG_RATE_KEY,
    CFG_RATE_ADDR,
    CFG_TWILIO_API_BASE,
    CFG_TWILIO_ACCOUNT_SID,
    CFG_TWILIO_AUTH_TOKEN,
    CFG_TWILIO_FROM,
    CFG_PUBLIC_URL,
    CFG_NOTIFY_MIN_DELAY_S,
    CFG_NOTIFY_LIMIT,
    CFG__COUNT
};

struct config {
    char *value[CFG__COUNT];
    const char *source[CFG__COUNT]; /* "flag", "env", "file", "default" */
};

struct config_setting {
    const char *flag; /* "listen" for --listen; NULL: no flag */
    const char *env;  /* "CARBON_LISTEN" */
    const char *def;  /* default or NULL */
    bool secret;      /* never logged; may come from <env>_FILE */
    const char *help;
};
extern const struct config_setting config_settings[CFG__COUNT];

/* Resolves every setting. flags[k] is the flag's value or NULL; env is looked
 * up with getenv_fn (getenv in production). config_path may be NULL. On error
 * returns false and writes a message to err. */
bool config_load(struct config *c, const char *const flags[CFG__COUNT], const char *config_path,
                 const char *(*getenv_fn)(const char *), char *err, size_t errlen);
const char *config_get(const struct config *c, enum config_key k);
void config_free(struct config *c);

/* Splits "host:port", "[v6]:port" or ":port" (host then "0.0.0.0"). */
bool config_parse_listen(const char *s, char *host, size_t hostlen, unsigned *port);

#endif
