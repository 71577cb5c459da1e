/* serve.c - `carbon serve`: the API on the embedded store, until SIGTERM. */
#include "cli/cli.h"

#include "api/api.h"
#include "api/webhook_seen.h"
#include "app.h"
#include "alarm/service.h"
#include "core/config.h"
#include "core/ratelimit.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "notify/service.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALARM_TICK_MS 1000 /* offline detection and mute ends: within a second */

static void serve_usage(FILE *out)
{
    fprintf(out, "Usage: carbon serve [--listen HOST:PORT] [--data DIR] [--config FILE]\n"
                 "                    [--log-level LEVEL] [--threads N]\n\n"
                 "Runs the Car-Bon API on the embedded SQLite database in DIR.\n\n"
                 "Settings (flag > environment > config file > default):\n");
    int w = 0;
    for (int k = 0; k < CFG__COUNT; k++)
        if ((int)strlen(config_settings[k].env) > w)
            w = (int)strlen(config_settings[k].env);
    for (int k = 0; k < CFG__COUNT; k++) {
        const struct config_setting *s = &config_settings[k];
        char flag[32] = "";
        if (s->flag)
            snprintf(flag, sizeof flag, "--%s", s->flag);
        /* Defaults that are empty say nothing: left out. */
        bool def = s->def && s->def[0];
        fprintf(out, "  %-12s %-*s %s%s%s%s\n", flag, w, s->env, s->help, def ? " [default: " : "",
                def ? s->def : "", def ? "]" : "");
    }
    fprintf(out, "\n  --config FILE  KEY=VALUE lines with the names above (CARBON_LISTEN=...);\n"
                 "                 a secret may be given as CARBON_X_FILE=/path/to/file.\n"
                 "\nSecrets are never accepted as flags (they would show in ps) and never logged.\n"
                 "SIGTERM or SIGINT: stop accepting, finish in-flight requests, flush, exit 0.\n");
}

static const char *env_get(const char *name)
{
    return getenv(name);
}

/* Starts the alarm engine over every registered device (ticking each second). */
static struct alarm_service *open_alarms(struct app *app)
{
    struct device *list = NULL;
    size_t n = 0;
    if (registry_device_list(app->reg, &list, &n) != CB_OK)
        return NULL;
    struct alarm_service *s =
        alarm_service_open(app->store, app->metrics, list, n, app->now_ms, ALARM_TICK_MS);
    for (size_t i = 0; i < n; i++)
        device_clear(&list[i]);
    free(list);
    return s;
}

static struct notify_service *open_notify(struct app *app, const struct config *cfg)
{
    struct notify_config nc = {
        .api_base = config_get(cfg, CFG_TWILIO_API_BASE),
        .account_sid = config_get(cfg, CFG_TWILIO_ACCOUNT_SID),
        .auth_token = config_get(cfg, CFG_TWILIO_AUTH_TOKEN),
        .from = config_get(cfg, CFG_TWILIO_FROM),
        .public_url = config_get(cfg, CFG_PUBLIC_URL),
    };
    const char *pub = nc.public_url ? nc.public_url : "";
    size_t n = strlen(pub);
    if (n && ((strncmp(pub, "https://", 8) != 0 && strncmp(pub, "http://", 7) != 0) ||
              pub[n - 1] == '/' || n > 400)) {
        log_msg(LOG_ERROR, "CARBON_PUBLIC_URL must be http(s)://host[:port][/prefix] without "
                           "a trailing slash");
        return NULL;
    }
    notify_policy_default(&nc.defaults);
    nc.min_delay_s = app->notify_min_delay_s;
    return notify_open(app->store, app->reg, app->users, app->alarms, app->metrics, &nc,
                       app->now_ms);
}

int cli_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"listen", required_argument, NULL, 'l'},
                                         {"data", required_argument, NULL, 'd'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"log-level", required_argument, NULL, 'v'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *flags[CFG__COUNT] = {0};
    const char *config_path = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'l':
            flags[CFG_LISTEN] = optarg;
            break;
        case 'd':
            flags[CFG_DATA] = optarg;
            break;
        case 'c':
            config_path = optarg;
            break;
        case 'v':
            flags[CFG_LOG_LEVEL] = optarg;
            break;
        case 't':
            flags[CFG_THREADS] = optarg;
            break;
        case 'h':
            serve_usage(stdout);
            return 0;
        default:
            serve_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "carbon serve: unexpected argument '%s'\n", argv[optind]);
        serve_usage(stderr);
        return 2;
    }

    struct config cfg;
    char err[512];
    if (!config_load(&cfg, flags, config_path, env_get, err, sizeof err)) {
        fprintf(stderr, "carbon serve: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    enum log_level lvl;
    if (!log_level_parse(config_get(&cfg, CFG_LOG_LEVEL), &lvl)) {
        fprintf(stderr, "carbon serve: log level must be debug, info, warn, error or off\n");
        config_free(&cfg);
        return 2;
    }
    log_set_level(lvl);
    char host[256];
    unsigned port;
    if (!config_parse_listen(config_get(&cfg, CFG_LISTEN), host, sizeof host, &port)) {
        fprintf(stderr, "carbon serve: listen address '%s' is not HOST:PORT\n",
                config_get(&cfg, CFG_LISTEN));
        config_free(&cfg);
        return 2;
    }
    char *end;
    long threads = strtol(config_get(&cfg, CFG_THREADS), &end, 10);
    if (*end || threads < 1 || threads > 64) {
        fprintf(stderr, "carbon serve: threads must be 1 to 64\n");
        config_free(&cfg);
        return 2;
    }

    long min_delay = strtol(config_get(&cfg, CFG_NOTIFY_MIN_DELAY_S), &end, 10);
    if (*end || !*config_get(&cfg, CFG_NOTIFY_MIN_DELAY_S) || min_delay < 1 || min_delay > 3600) {
        fprintf(stderr, "carbon serve: CARBON_NOTIFY_MIN_DELAY_S must be 1 to 3600\n");
        config_free(&cfg);
        return 2;
    }

    long notify_limit = strtol(config_get(&cfg, CFG_NOTIFY_LIMIT), &end, 10);
    if (*end || !*config_get(&cfg, CFG_NOTIFY_LIMIT) || notify_limit < 0 || notify_limit > 10000) {
        fprintf(stderr, "carbon serve: CARBON_NOTIFY_LIMIT must be 0 to 10000\n");
        config_free(&cfg);
        return 2;
    }

    const char *rk = config_get(&cfg, CFG_RATE_KEY), *ra = config_get(&cfg, CFG_RATE_ADDR);
    double rate_key = strtod(rk, &end);
    bool bad_rate = !*rk || *end || !(rate_key >= 0 && rate_key <= 1e6);
    double rate_addr = strtod(ra, &end);
    bad_rate |= !*ra || *end || !(rate_addr >= 0 && rate_addr <= 1e6);
    if (bad_rate) {
        fprintf(stderr, "carbon serve: CARBON_RATE_LIMIT and CARBON_RATE_LIMIT_ADDR must be "
                        "requests per second from 0 (no limit) to 1000000\n");
        config_free(&cfg);
        return 2;
    }

    /* Signals are taken by sigwait below; block them before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Few threads do the work; per-thread malloc arenas only fragment memory.
     * A fixed mmap threshold returns big buffers (batches, the pending set)
     * to the system when freed instead of keeping the heap at its peak. */
    mallopt(M_ARENA_MAX, 2);
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);

    int rc = 1;
    struct app app = {
        .now_ms = time_now_ms, .started_mono_ns = time_mono_ns(), .notify_min_delay_s = min_delay};
    struct http_server *http = NULL;
    const char *token = config_get(&cfg, CFG_ADMIN_TOKEN);
    if (token && (strlen(token) < 16 || strlen(token) > 256)) {
        log_msg(LOG_ERROR, "CARBON_ADMIN_TOKEN must be 16 to 256 bytes long");
        goto out;
    }
    if (!token)
        log_msg(LOG_WARN, "CARBON_ADMIN_TOKEN is not set: only admin users (carbon user add "
                          "--admin needs a token; see README) can administer");
    app.admin_token = token;
    app.metrics = metrics_new(api_nroutes);
    for (size_t i = 0; app.metrics && i < api_nroutes; i++)
        metrics_name_route(app.metrics, i, api_routes[i].method, api_routes[i].pattern);
    app.store = store_sqlite_open(config_get(&cfg, CFG_DATA));
    if (!app.metrics || !app.store)
        goto out;
    app.reg = registry_open(app.store);
    if (!app.reg || !(app.alarms = open_alarms(&app)) ||
        !(app.users = users_open(app.store, app.now_ms())) ||
        !(app.notify = open_notify(&app, &cfg)))
        goto out;
    /* Login attempts: 10 per address per minute, and 5 per account then 1
     * every 3 minutes (a success clears the account's count). */
    app.login_addr_rl = ratelimit_new(10.0 / 60, 10, 65536);
    app.login_acct_rl = ratelimit_new(1.0 / 180, 5, 65536);
    /* All logins: 20/s (each costs ~30 ms of Argon2id on an HTTP thread). */
    app.login_all_rl = ratelimit_new(20, 40, 4);
    /* Test messages (SMS and calls cost money, and wake people): 10 per
     * person, then one every 6 minutes. */
    app.notify_rl = notify_limit ? ratelimit_new(notify_limit / 3600.0, notify_limit, 65536) : NULL;
    app.manual_rl = notify_limit ? ratelimit_new(notify_limit / 3600.0, notify_limit, 65536) : NULL;
    /* Request limits (bursts of 10 s worth, at least 20): NULL = none. */
    app.key_rl = ratelimit_new(rate_key, rate_key * 10 > 20 ? rate_key * 10 : 20, 65536);
    app.addr_rl = ratelimit_new(rate_addr, rate_addr * 10 > 20 ? rate_addr * 10 : 20, 65536);
    app.cors_origins = config_get(&cfg, CFG_CORS_ORIGINS);
    if (!app.login_addr_rl || !app.login_acct_rl || !app.login_all_rl ||
        (notify_limit && (!app.notify_rl || !app.manual_rl)) || (rate_key > 0 && !app.key_rl) ||
        (rate_addr > 0 && !app.addr_rl))
        goto out;
    if (!(app.webhook_seen = webhook_seen_new()))
        goto out;
    http = http_start(&app, host, port, (unsigned)threads, api_routes, api_nroutes);
    if (!http)
        goto out;
    log_json(LOG_INFO, "listening",
             json_pack("{s:s,s:i,s:s,s:s}", "host", host, "port", (int)http_port(http), "data",
                       config_get(&cfg, CFG_DATA), "version", CARBON_VERSION));
    int sig = 0;
    sigwait(&sigs, &sig);
    log_msg(LOG_INFO, "signal %d: stopping (finishing in-flight requests)", sig);
    http_stop(http, 10000);
    http = NULL;
    rc = 0;
out:
    http_stop(http, 0);
    alarm_service_close(app.alarms); /* after HTTP: no reading is evaluated any more */
    notify_close(app.notify);        /* after the alarms: they hand it events until closed */
    users_close(app.users);
    ratelimit_free(app.login_addr_rl);
    ratelimit_free(app.login_acct_rl);
    ratelimit_free(app.login_all_rl);
    ratelimit_free(app.notify_rl);
    ratelimit_free(app.manual_rl);
    ratelimit_free(app.key_rl);
    ratelimit_free(app.addr_rl);
    webhook_seen_free(app.webhook_seen);
    registry_close(app.reg);
    if (app.store)
        app.store->ops->close(app.store);
    metrics_free(app.metrics);
    if (rc == 0)
        log_msg(LOG_INFO, "stopped cleanly");
    config_free(&cfg);
    return rc;
}
