/* sim.c - carbon sim: N virtual sensors, each the real firmware core
 * (firmware/core, fw_step) on a simulated MQ-7 (src/sim/sensor.h), posting
 * to a server over HTTP with their own keys, in compressed time. For demos,
 * for end-to-end tests, and as a load generator (docs/SIM.md).
 *
 * Time: one simulated clock (ms since the start of the run) runs at
 * `speed` times real time, up to `duration`; every device is stepped on a
 * 1 s grid of it (the core keeps its heater schedule at steps of up to 1 s,
 * and a fixed grid keeps a seeded run's sensor values the same however the
 * threads are scheduled). Devices start at staggered points of their heater
 * cycle. Simulated time 0 is mapped to the wall clock so that the whole run,
 * including the drain at its end, lies in the past: readings never carry a
 * time the server would refuse as in the future.
 *
 * Threads: the devices are split over a few worker threads, each with one
 * libcurl handle (keep-alive). The core's http_post is synchronous, so a
 * POST holds only the devices of its own worker, and only briefly; the
 * others' clocks are not held back. At the end (duration reached, or
 * SIGINT), every device is stepped on, as fast as possible, until its
 * offline buffer is empty (at most 15 simulated minutes), so every reading
 * made is delivered or accounted for. */
#include "cli/cli.h"

#include "cli/client.h"
#include "core/buf.h"
#include "core/timeutil.h"
#include "fw_device.h"
#include "sim/sensor.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define STEP_MS 1000LL
#define DRAIN_MAX_MS (15 * 60000LL)
#define PREROLL_BASE_MS 600000LL /* device clocks start here: positive, staggered below */
#define MAX_DEVICES 100000
#define MAX_THREADS 64
#define DEFAULT_UNBOUNDED_MS (3600000LL) /* profiles' time scale when running until stopped */

struct sim;
struct worker;

struct simdev {
    size_t idx;
    char id[65];
    char key[FW_KEY_MAX + 1];
    enum sim_scenario scen;
    struct sim_profile prof;
    struct sim_sensor sensor;
    struct sim_rng jitter;
    struct fw_device *fw;
    int64_t t;       /* simulated time of the last step */
    int64_t mono0;   /* device clock = t + mono0 */
    struct sim *sim; /* shared settings */
    struct worker *w;
    enum fw_output max_out;
    uint32_t last_queued;
    /* Written by its worker only; read after the join. */
    uint64_t stored, dups, link_down, no_answer, http_retry, http_refused;
    /* Filled at the end from the server's alerts. */
    unsigned server_kinds; /* bit per enum alarm_kind */
    unsigned server_active;
};

struct worker {
    pthread_t th;
    struct sim *sim;
    CURL *curl;
    char resp[512];
    size_t resp_len;
    uint32_t retry_after;
    size_t first, n; /* devices [first, first + n) */
};

struct sim {
    /* options */
    const char *server, *config, *keys_in, *keys_out, *prefix, *scenario_spec;
    size_t ndev;
    double speed, rate;
    int64_t duration_ms; /* 0: until interrupted */
    int64_t warmup_ms, report_ms;
    uint64_t seed;
    int threads;
    bool create, quiet, json, verbose;
    enum fw_payload_mode payload;
    /* run */
    char base[512];
    struct client cl;
    bool have_admin;
    struct simdev *dev;
    struct worker *wk;
    int64_t epoch0_ms;      /* wall clock of simulated time 0 */
    _Atomic int64_t end_ms; /* the simulated end (lowered by SIGINT) */
    int64_t profile_ms;     /* the time scale the profiles are drawn for */
    struct timespec real0;
    _Atomic uint_fast64_t produced, stored, dups, retried, alarmed, done_workers;
    double real_s;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

/* ---- options ---- */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: carbon sim (--create | --keys FILE) [options]\n\n"
            "Runs simulated Car-Bon sensors against a server: each is the real firmware\n"
            "core on a simulated MQ-7 (concentration -> Rs with the unit's own R0, noise,\n"
            "drift and heater timing -> ADC counts), posting its readings over HTTP with\n"
            "its own key, in compressed time. Also a load generator (--rate).\n\n"
            "  --server URL       the server [default: http://CARBON_LISTEN]\n"
            "  --create           register the devices (admin token from CARBON_ADMIN_TOKEN);\n"
            "                     an existing id gets a new key. Keys are printed as\n"
            "                     id,key lines, or written to --keys-out\n"
            "  --keys FILE        use existing devices: one 'device_id,key' per line\n"
            "  --keys-out FILE    with --create: write the id,key lines there\n"
            "  --prefix P         device ids P-1 .. P-N [default: sim]\n"
            "  --devices N        how many [default: 1, or the sum of the scenario counts]\n"
            "  --scenario S       steady | slow-leak | fast-leak | sensor-fault | offline |\n"
            "                     mix, or counts such as fast-leak:2,steady:8 [default: steady]\n"
            "  --speed X          simulated seconds per real second [default: 60]\n"
            "  --rate R           instead of --speed: the speed at which the fleet makes R\n"
            "                     readings per real second (speed = R * report / N)\n"
            "  --duration D       simulated time: 90s, 30m, 2h [default: 1h when the speed is\n"
            "                     above 1, else until interrupted]\n"
            "  --report SECONDS   one reading per this much simulated time [default: 150,\n"
            "                     one heater cycle]\n"
            "  --warmup SECONDS   simulated preheat before readings count [default: 0]\n"
            "  --payload MODE     ppm | raw | both: what the devices send [default: ppm];\n"
            "                     raw makes the server convert with the stored calibration\n"
            "  --seed N           random seed: the same seed, the same sensors [default: 1]\n"
            "  --threads N        HTTP worker threads [default: min(N, 32)]\n"
            "  --json             print the summary as JSON\n"
            "  --quiet            no progress line\n"
            "  --verbose          the firmware's log lines on stderr\n"
            "  --config FILE      settings file (CARBON_* keys)\n\n"
            "Calibration: each simulated unit gets its own R0 (spread around 10 kOhm); the\n"
            "device is configured with it as if calibrated at the factory, and --create\n"
            "stores the same calibration on the server (for co_raw). Progress goes to\n"
            "stderr every second; the summary to stdout.\n"
            "Exit status: 0 done, 1 the server refused or could not be reached (or took\n"
            "none of the readings), 2 usage.\n");
}

/* "90", "90s", "30m", "2h", "1d" -> ms. */
static bool parse_duration(const char *s, int64_t *ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !isfinite(v) || v <= 0)
        return false;
    double mul = 1000;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mul = 60000, end++;
    else if (*end == 'h')
        mul = 3600000, end++;
    else if (*end == 'd')
        mul = 86400000, end++;
    if (*end || v * mul > 365 * 86400000.0 || v * mul < 1000)
        return false;
    *ms = (int64_t)(v * mul);
    return true;
}

static bool parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *s == '-' || *end || errno || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_pos(const char *s, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v <= 0 || v > max)
        return false;
    *out = v;
    return true;
}

__attribute__((format(printf, 1, 2))) static int bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "carbon sim: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see carbon sim --help)\n");
    va_end(ap);
    return 2;
}

/* Assigns scenarios from spec (a name, "mix", or name:count,...). Sets
 * sim->ndev from the counts when ndev is 0. Returns 0 or 2 (usage). */
static int assign_scenarios(struct sim *sim, enum sim_scenario **out)
{
    const char *spec = sim->scenario_spec ? sim->scenario_spec : "steady";
    enum sim_scenario one = sim_scenario_parse(spec);
    bool mix = strcmp(spec, "mix") == 0;
    size_t total = 0;
    char tmp[512];
    if (one == SIM_NSCENARIOS && !mix) {
        if (strlen(spec) >= sizeof tmp)
            return bad_usage("--scenario is too long");
        /* name:count,... */
        snprintf(tmp, sizeof tmp, "%s", spec);
        for (char *save = NULL, *p = strtok_r(tmp, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
            char *colon = strchr(p, ':');
            uint64_t cnt;
            if (!colon)
                return bad_usage("unknown scenario '%s': steady, slow-leak, fast-leak, "
                                 "sensor-fault, offline, mix, or name:count,...",
                                 p);
            *colon = '\0';
            if (sim_scenario_parse(p) == SIM_NSCENARIOS)
                return bad_usage("unknown scenario '%s'", p);
            if (!parse_uint(colon + 1, MAX_DEVICES, &cnt) || cnt == 0)
                return bad_usage("--scenario: '%s' needs a count from 1", colon + 1);
            total += cnt;
        }
        if (total > MAX_DEVICES)
            return bad_usage("--scenario: at most %s devices", "100000");
        if (sim->ndev && sim->ndev != total)
            return bad_usage("--devices does not match the scenario counts (%s)", spec);
        sim->ndev = total;
    }
    if (!sim->ndev)
        sim->ndev = 1;
    enum sim_scenario *v = calloc(sim->ndev, sizeof *v);
    if (!v)
        return 1;
    if (one != SIM_NSCENARIOS) {
        for (size_t i = 0; i < sim->ndev; i++)
            v[i] = one;
    } else if (mix) {
        /* 60 % steady, 10 % each of the others, in a seeded order. */
        struct sim_rng r;
        sim_rng_seed(&r, sim->seed, 0x6d6978);
        for (size_t i = 0; i < sim->ndev; i++) {
            double u = sim_rng_uniform(&r);
            v[i] = u < 0.6   ? SIM_STEADY
                   : u < 0.7 ? SIM_SLOW_LEAK
                   : u < 0.8 ? SIM_FAST_LEAK
                   : u < 0.9 ? SIM_SENSOR_FAULT
                             : SIM_OFFLINE;
        }
    } else {
        size_t k = 0;
        snprintf(tmp, sizeof tmp, "%s", spec);
        for (char *save = NULL, *p = strtok_r(tmp, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
            char *colon = strchr(p, ':');
            *colon = '\0';
            uint64_t cnt = strtoull(colon + 1, NULL, 10);
            for (uint64_t j = 0; j < cnt; j++)
                v[k++] = sim_scenario_parse(p);
        }
    }
    *out = v;
    return 0;
}

/* ---- clock ---- */

static double real_ms(const struct sim *sim)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - sim->real0.tv_sec) * 1e3 +
           (double)(now.tv_nsec - sim->real0.tv_nsec) / 1e6;
}

static int64_t sim_target(const struct sim *sim)
{
    double t = real_ms(sim) * sim->speed;
    int64_t end = atomic_load(&sim->end_ms);
    return t >= (double)end ? end : (int64_t)t;
}

/* ---- the port: a simulated board ---- */

static void port_heater(void *ctx, enum fw_heater_level level)
{
    struct simdev *d = ctx;
    sim_sensor_heater(&d->sensor,
                      level == FW_HEATER_HIGH  ? SIM_HEATER_HIGH
                      : level == FW_HEATER_LOW ? SIM_HEATER_LOW
                                               : SIM_HEATER_OFF,
                      d->t);
}

static bool port_adc(void *ctx, uint32_t *raw)
{
    struct simdev *d = ctx;
    *raw = sim_sensor_adc(&d->sensor, sim_profile_ppm(&d->prof, d->t), d->t,
                          sim_profile_fault(&d->prof, d->t), d->prof.fault_high);
    return true;
}

static void port_output(void *ctx, enum fw_output level)
{
    struct simdev *d = ctx;
    if (level > d->max_out) {
        if (d->max_out == FW_OUT_OFF)
            atomic_fetch_add(&d->sim->alarmed, 1);
        d->max_out = level;
    }
}

static bool port_wall(void *ctx, int64_t *epoch_ms)
{
    struct simdev *d = ctx;
    *epoch_ms = d->sim->epoch0_ms + d->t;
    return true;
}

static uint32_t port_random(void *ctx)
{
    struct simdev *d = ctx;
    return (uint32_t)(sim_rng_next(&d->jitter) >> 32);
}

static void port_log(void *ctx, enum fw_log_level level, const char *msg, const char *detail,
                     int64_t value)
{
    struct simdev *d = ctx;
    if (!d->sim->verbose)
        return;
    static const char *const lv[] = {"debug", "info", "warn", "error"};
    fprintf(stderr, "carbon sim: %s t=%llds %s: %s%s%s %lld\n", d->id, (long long)(d->t / 1000),
            lv[level & 3], msg, detail ? " " : "", detail ? detail : "", (long long)value);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct worker *w = arg;
    size_t len = size * n, room = sizeof w->resp - 1 - w->resp_len;
    size_t take = len < room ? len : room;
    memcpy(w->resp + w->resp_len, p, take);
    w->resp_len += take;
    w->resp[w->resp_len] = '\0';
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct worker *w = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        unsigned long v = strtoul(p + 12, NULL, 10);
        w->retry_after = v > 86400 ? 86400 : (uint32_t)v;
    }
    return len;
}

/* A number after "key": in the small JSON answer (0 if absent). */
static uint64_t answer_count(const char *body, const char *key)
{
    const char *p = strstr(body, key);
    return p ? strtoull(p + strlen(key), NULL, 10) : 0;
}

static int port_post(void *ctx, const char *path, const struct fw_http_header *headers,
                     size_t nheaders, const char *body, size_t len, uint32_t *retry_after_s)
{
    struct simdev *d = ctx;
    struct worker *w = d->w;
    if (!sim_profile_link_up(&d->prof, d->t)) {
        d->link_down++;
        atomic_fetch_add(&d->sim->retried, 1);
        return -1;
    }
    char url[640], line[FW_KEY_MAX + 64];
    snprintf(url, sizeof url, "%s%s", d->sim->base, path);
    struct curl_slist *hl = curl_slist_append(NULL, "Expect:");
    for (size_t i = 0; i < nheaders; i++) {
        snprintf(line, sizeof line, "%s: %s", headers[i].name, headers[i].value);
        hl = curl_slist_append(hl, line);
    }
    w->resp_len = 0;
    w->resp[0] = '\0';
    w->retry_after = 0;
    curl_easy_setopt(w->curl, CURLOPT_URL, url);
    curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)len);
    CURLcode rc = curl_easy_perform(w->curl);
    curl_slist_free_all(hl);
    long status = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK || status <= 0) {
        d->no_answer++;
        atomic_fetch_add(&d->sim->retried, 1);
        return -1;
    }
    *retry_after_s = w->retry_after;
    if (status >= 200 && status < 300) {
        uint64_t st = answer_count(w->resp, "\"stored\":");
        uint64_t du = answer_count(w->resp, "\"duplicates\":");
        d->stored += st;
        d->dups += du;
        atomic_fetch_add(&d->sim->stored, st);
        atomic_fetch_add(&d->sim->dups, du);
    } else if (status == 400 || status == 413 || status == 422) {
        d->http_refused++;
        if (d->sim->verbose)
            fprintf(stderr, "carbon sim: %s: HTTP %ld %s\n", d->id, status, w->resp);
    } else {
        d->http_retry++;
        atomic_fetch_add(&d->sim->retried, 1);
    }
    return (int)status;
}

/* ---- stepping ---- */

static void advance(struct simdev *d, int64_t target)
{
    while (d->t + STEP_MS <= target) {
        d->t += STEP_MS;
        fw_step(d->fw, d->t + d->mono0);
    }
    uint32_t q = fw_get_stats(d->fw)->queued;
    if (q != d->last_queued) {
        atomic_fetch_add(&d->sim->produced, q - d->last_queued);
        d->last_queued = q;
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct sim *sim = w->sim;
    for (;;) {
        int64_t target = sim_target(sim);
        for (size_t i = 0; i < w->n; i++)
            advance(&sim->dev[w->first + i], target);
        if (target >= atomic_load(&sim->end_ms))
            break;
        /* Sleep about one step of real time (less when behind). */
        double step_real = (double)STEP_MS / sim->speed;
        double lag = real_ms(sim) * sim->speed - (double)target;
        if (lag < (double)STEP_MS) {
            double ms = step_real < 50 ? step_real : 50;
            struct timespec ts = {0, (long)(ms * 1e6)};
            if (ts.tv_nsec < 200000)
                ts.tv_nsec = 200000;
            nanosleep(&ts, NULL);
        }
    }
    /* Drain: on, as fast as possible, until the offline buffer is empty. */
    int64_t end = atomic_load(&sim->end_ms);
    for (size_t i = 0; i < w->n; i++) {
        struct simdev *d = &sim->dev[w->first + i];
        advance(d, end);
        while (fw_pending(d->fw) > 0 && d->t < end + DRAIN_MAX_MS)
            advance(d, d->t + STEP_MS);
    }
    atomic_fetch_add(&sim->done_workers, 1);
    return NULL;
}

/* ---- setup ---- */

static json_t *calibration_json(const struct mq7_calibration *c)
{
    return json_pack("{s:f,s:f,s:f,s:i,s:f,s:f}", "r0_ohms", c->r0_ohm, "rl_ohms", c->rl_ohm,
                     "divider_ratio", c->divider, "adc_bits", (int)c->adc_bits, "vref_volts",
                     c->vref_v, "vc_volts", c->vc_v);
}

static int setup_create(struct sim *sim)
{
    FILE *kf = NULL;
    if (sim->keys_out && !(kf = fopen(sim->keys_out, "w"))) {
        fprintf(stderr, "carbon sim: cannot write %s: %s\n", sim->keys_out, strerror(errno));
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < sim->ndev && rc == 0; i++) {
        struct simdev *d = &sim->dev[i];
        char name[96], path[160];
        snprintf(name, sizeof name, "sim %s #%zu", sim_scenario_name(d->scen), i + 1);
        json_t *body = json_pack("{s:s,s:s,s:o}", "id", d->id, "name", name, "calibration",
                                 calibration_json(&d->sensor.wiring));
        json_t *ans = NULL;
        long st = client_call(&sim->cl, "sim", "POST", "/v1/devices", body, &ans);
        json_decref(body);
        if (st == 409) {
            /* Already there (an earlier run): a new key, the new unit's calibration. */
            json_decref(ans);
            snprintf(path, sizeof path, "/v1/devices/%s/keys", d->id);
            st = client_call(&sim->cl, "sim", "POST", path, NULL, &ans);
            if (st == 201) {
                json_t *patch =
                    json_pack("{s:o}", "calibration", calibration_json(&d->sensor.wiring));
                json_t *pa = NULL;
                snprintf(path, sizeof path, "/v1/devices/%s", d->id);
                long ps = client_call(&sim->cl, "sim", "PATCH", path, patch, &pa);
                json_decref(patch);
                if (ps != 200) {
                    client_print_error("sim", ps, pa);
                    rc = 1;
                }
                json_decref(pa);
            }
        }
        const char *key = json_string_value(json_object_get(ans, "api_key"));
        if (rc == 0 && (st != 201 || !key || strlen(key) > FW_KEY_MAX)) {
            if (st)
                client_print_error("sim", st, ans);
            fprintf(stderr, "carbon sim: could not register device %s\n", d->id);
            rc = 1;
        } else if (rc == 0) {
            snprintf(d->key, sizeof d->key, "%s", key);
            if (kf)
                fprintf(kf, "%s,%s\n", d->id, d->key);
            else if (!sim->json)
                printf("%s,%s\n", d->id, d->key);
        }
        json_decref(ans);
    }
    if (kf && fclose(kf) != 0 && rc == 0) {
        fprintf(stderr, "carbon sim: cannot write %s\n", sim->keys_out);
        rc = 1;
    }
    fflush(stdout);
    return rc;
}

/* Reads id,key lines into the devices; sets ndev from the file when 0. */
static int read_keys(struct sim *sim, char (**ids)[65], char (**keys)[FW_KEY_MAX + 1], size_t *n)
{
    FILE *f = fopen(sim->keys_in, "r");
    if (!f) {
        fprintf(stderr, "carbon sim: cannot read %s: %s\n", sim->keys_in, strerror(errno));
        return 1;
    }
    char line[512];
    size_t cap = 0, lineno = 0;
    *n = 0;
    *ids = NULL;
    *keys = NULL;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char *comma = strchr(line, ',');
        if (comma)
            *comma = '\0';
        if (!comma || !fw_device_id_valid(line) || !comma[1] || strlen(comma + 1) > FW_KEY_MAX ||
            strchr(comma + 1, ' ')) {
            fprintf(stderr, "carbon sim: %s:%zu: expected device_id,key\n", sim->keys_in, lineno);
            rc = 2;
            break;
        }
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            void *a = realloc(*ids, cap * sizeof **ids), *b = realloc(*keys, cap * sizeof **keys);
            if (a)
                *ids = a;
            if (b)
                *keys = b;
            if (!a || !b) {
                rc = 1;
                break;
            }
        }
        memcpy((*ids)[*n], line, strlen(line) + 1); /* valid ids are at most 64 */
        memcpy((*keys)[*n], comma + 1, strlen(comma + 1) + 1);
        (*n)++;
    }
    fclose(f);
    if (rc == 0 && *n == 0) {
        fprintf(stderr, "carbon sim: %s holds no device_id,key line\n", sim->keys_in);
        rc = 2;
    }
    return rc;
}

static int init_devices(struct sim *sim, const enum sim_scenario *scen)
{
    struct mq7_calibration nominal;
    mq7_calibration_default(&nominal);
    int64_t cycle = 150000;
    for (size_t i = 0; i < sim->ndev; i++) {
        struct simdev *d = &sim->dev[i];
        d->idx = i;
        d->sim = sim;
        d->scen = scen[i];
        struct sim_rng r;
        sim_rng_seed(&r, sim->seed, i + 1);
        sim_profile_init(&d->prof, d->scen, sim->profile_ms, &r);
        sim_sensor_init(&d->sensor, &nominal, &r);
        sim_rng_seed(&d->jitter, sim->seed, (uint64_t)sim->ndev + i + 1);
        /* Staggered: each device starts somewhere in its heater cycle. */
        int64_t phase = (int64_t)(sim_rng_uniform(&r) * (double)cycle);
        d->t = -phase;
        d->mono0 = PREROLL_BASE_MS;
        if (!d->id[0])
            snprintf(d->id, sizeof d->id, "%s-%zu", sim->prefix, i + 1);
    }
    return 0;
}

static int start_devices(struct sim *sim)
{
    for (size_t i = 0; i < sim->ndev; i++) {
        struct simdev *d = &sim->dev[i];
        struct fw_config cfg;
        fw_config_default(&cfg);
        snprintf(cfg.device_id, sizeof cfg.device_id, "%s", d->id);
        snprintf(cfg.api_key, sizeof cfg.api_key, "%s", d->key);
        cfg.mq7 = d->sensor.wiring; /* factory-calibrated: the unit's own R0 */
        cfg.warmup_first_ms = sim->warmup_ms;
        cfg.warmup_ms = sim->warmup_ms;
        cfg.report_interval_ms = sim->report_ms;
        cfg.payload = sim->payload;
        struct fw_port port = {
            .ctx = d,
            .set_heater = port_heater,
            .read_adc = port_adc,
            .set_alarm_output = port_output,
            .wall_ms = port_wall,
            .http_post = port_post,
            .random = port_random,
            .log = port_log,
        };
        d->fw = calloc(1, sizeof *d->fw);
        if (!d->fw) {
            fprintf(stderr, "carbon sim: out of memory for device %zu\n", i + 1);
            return 1;
        }
        const char *why = fw_device_init(d->fw, &cfg, &port, d->t + d->mono0);
        if (why) {
            fprintf(stderr, "carbon sim: device %s: %s\n", d->id, why);
            return 1;
        }
    }
    return 0;
}

/* ---- the server's view at the end ---- */

static int cmp_dev_id(const void *a, const void *b)
{
    return strcmp(((const struct simdev *)a)->id, ((const struct simdev *)b)->id);
}

static struct simdev *find_dev(struct simdev *sorted, size_t n, const char *id)
{
    struct simdev key;
    snprintf(key.id, sizeof key.id, "%s", id);
    return bsearch(&key, sorted, n, sizeof *sorted, cmp_dev_id);
}

/* Fetches the alerts raised since the run's start and marks ours. False if
 * they could not be read. */
static bool server_alarms(struct sim *sim)
{
    struct simdev *sorted = malloc(sim->ndev * sizeof *sorted);
    if (!sorted)
        return false;
    memcpy(sorted, sim->dev, sim->ndev * sizeof *sorted);
    qsort(sorted, sim->ndev, sizeof *sorted, cmp_dev_id);
    char from[40], path[256], cursor[32] = "";
    rfc3339_format(sim->epoch0_ms - 3600000, from);
    bool ok = true;
    for (int page = 0; page < 10000; page++) {
        snprintf(path, sizeof path, "/v1/alerts?limit=1000&from=%s%s%s", from,
                 cursor[0] ? "&cursor=" : "", cursor);
        json_t *ans = NULL;
        long st = client_call(&sim->cl, "sim", "GET", path, NULL, &ans);
        if (st != 200) {
            if (st)
                client_print_error("sim", st, ans);
            json_decref(ans);
            ok = false;
            break;
        }
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(ans, "alerts"), i, a)
        {
            const char *id = json_string_value(json_object_get(a, "device_id"));
            const char *kind = json_string_value(json_object_get(a, "kind"));
            struct simdev *s = id ? find_dev(sorted, sim->ndev, id) : NULL;
            enum alarm_kind k = kind ? alarm_kind_parse(kind) : ALARM_NKINDS;
            if (!s || k == ALARM_NKINDS)
                continue;
            struct simdev *d = &sim->dev[s->idx];
            d->server_kinds |= 1u << k;
            if (json_is_true(json_object_get(a, "active")))
                d->server_active |= 1u << k;
        }
        const char *next = json_string_value(json_object_get(ans, "next_cursor"));
        bool more = next && strlen(next) < sizeof cursor;
        if (more)
            snprintf(cursor, sizeof cursor, "%s", next);
        json_decref(ans);
        if (!more)
            break;
    }
    free(sorted);
    return ok;
}

/* ---- summary ---- */

struct totals {
    uint64_t readings, produced, warmup, sent, stored, dups, rejected, dropped, unsent, posts,
        retried, no_answer, link_down, http_retry;
    uint64_t out[4]; /* devices by highest local output */
    uint64_t server_alerts[ALARM_NKINDS], server_devices;
};

static void sum_up(const struct sim *sim, struct totals *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < sim->ndev; i++) {
        const struct simdev *d = &sim->dev[i];
        const struct fw_stats *s = fw_get_stats(d->fw);
        t->readings += s->readings;
        t->produced += s->queued;
        t->warmup += s->readings - s->queued;
        t->sent += s->sent;
        t->rejected += s->rejected;
        t->dropped += fw_dropped(d->fw);
        t->unsent += fw_pending(d->fw);
        t->posts += s->posts;
        t->retried += s->post_failures;
        t->stored += d->stored;
        t->dups += d->dups;
        t->no_answer += d->no_answer;
        t->link_down += d->link_down;
        t->http_retry += d->http_retry;
        t->out[d->max_out & 3]++;
        if (d->server_kinds)
            t->server_devices++;
        for (int k = 0; k < ALARM_NKINDS; k++)
            if (d->server_kinds & (1u << k))
                t->server_alerts[k]++;
    }
}

static json_t *kinds_json(unsigned bits)
{
    json_t *a = json_array();
    for (int k = 0; k < ALARM_NKINDS; k++)
        if (bits & (1u << k))
            json_array_append_new(a, json_string(alarm_kind_name((enum alarm_kind)k)));
    return a;
}

static void print_summary(const struct sim *sim, const struct totals *t, bool server_ok)
{
    int64_t simulated = atomic_load(&sim->end_ms);
    double rate = sim->real_s > 0 ? (double)t->stored / sim->real_s : 0;
    if (sim->json) {
        json_t *kinds = json_object();
        for (int k = 0; k < ALARM_NKINDS; k++)
            if (t->server_alerts[k])
                json_object_set_new(kinds, alarm_kind_name((enum alarm_kind)k),
                                    json_integer((json_int_t)t->server_alerts[k]));
        json_t *devs = json_array();
        for (size_t i = 0; i < sim->ndev; i++) {
            const struct simdev *d = &sim->dev[i];
            const struct fw_stats *s = fw_get_stats(d->fw);
            json_t *o = json_pack(
                "{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:o,s:o,s:f}", "id", d->id, "scenario",
                sim_scenario_name(d->scen), "produced", (json_int_t)s->queued, "sent",
                (json_int_t)s->sent, "stored", (json_int_t)d->stored, "duplicates",
                (json_int_t)d->dups, "rejected", (json_int_t)s->rejected, "unsent",
                (json_int_t)fw_pending(d->fw), "local_max", fw_output_name(d->max_out),
                "server_alarms", kinds_json(d->server_kinds), "server_active",
                kinds_json(d->server_active), "r0_ohms", d->sensor.wiring.r0_ohm);
            if (!sim->keys_out && sim->create)
                json_object_set_new(o, "api_key", json_string(d->key));
            json_array_append_new(devs, o);
        }
        json_t *root = json_pack(
            "{s:s,s:I,s:f,s:I,s:f,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
            "s:{s:I,s:I,s:I,s:I},s:f,s:{s:{s:I,s:I,s:I},s:o},s:o}",
            "server", sim->base, "devices", (json_int_t)sim->ndev, "speed", sim->speed,
            "simulated_s", (json_int_t)(simulated / 1000), "real_s", sim->real_s, "readings",
            "produced", (json_int_t)t->produced, "sent", (json_int_t)t->sent, "accepted",
            (json_int_t)t->stored, "duplicates", (json_int_t)t->dups, "rejected",
            (json_int_t)t->rejected, "dropped", (json_int_t)t->dropped, "unsent",
            (json_int_t)t->unsent, "warmup", (json_int_t)t->warmup, "posts", "total",
            (json_int_t)t->posts, "retried", (json_int_t)t->retried, "no_answer",
            (json_int_t)(t->no_answer + t->link_down), "http_retry", (json_int_t)t->http_retry,
            "readings_per_s", rate, "alarms", "local", "warning",
            (json_int_t)t->out[FW_OUT_WARNING], "critical", (json_int_t)t->out[FW_OUT_CRITICAL],
            "fault", (json_int_t)t->out[FW_OUT_FAULT], "server",
            server_ok
                ? json_pack("{s:I,s:o}", "devices", (json_int_t)t->server_devices, "by_kind", kinds)
                : (json_decref(kinds), json_null()),
            "per_device", devs);
        json_dumpf(root, stdout, JSON_INDENT(1));
        putchar('\n');
        json_decref(root);
        return;
    }
    printf("carbon sim: %zu device(s), %lld simulated s in %.1f real s (speed %g) against %s\n",
           sim->ndev, (long long)(simulated / 1000), sim->real_s, sim->speed, sim->base);
    printf("readings: produced %llu, sent %llu, accepted %llu, duplicates %llu, rejected %llu, "
           "dropped %llu, unsent %llu\n",
           (unsigned long long)t->produced, (unsigned long long)t->sent,
           (unsigned long long)t->stored, (unsigned long long)t->dups,
           (unsigned long long)t->rejected, (unsigned long long)t->dropped,
           (unsigned long long)t->unsent);
    printf("posts: %llu, retried %llu (no answer or link down %llu, HTTP 429/5xx/401 %llu); "
           "%.1f readings/s accepted\n",
           (unsigned long long)t->posts, (unsigned long long)t->retried,
           (unsigned long long)(t->no_answer + t->link_down), (unsigned long long)t->http_retry,
           rate);
    printf("alarms seen locally: %llu device(s) (critical %llu, warning %llu, fault %llu)\n",
           (unsigned long long)(t->out[1] + t->out[2] + t->out[3]),
           (unsigned long long)t->out[FW_OUT_CRITICAL], (unsigned long long)t->out[FW_OUT_WARNING],
           (unsigned long long)t->out[FW_OUT_FAULT]);
    if (!server_ok) {
        printf("alarms on the server: not checked (needs CARBON_ADMIN_TOKEN)\n");
        return;
    }
    printf("alarms on the server: %llu device(s)", (unsigned long long)t->server_devices);
    const char *sep = " (";
    for (int k = 0; k < ALARM_NKINDS; k++)
        if (t->server_alerts[k]) {
            printf("%s%s %llu", sep, alarm_kind_name((enum alarm_kind)k),
                   (unsigned long long)t->server_alerts[k]);
            sep = ", ";
        }
    printf("%s\n", sep[0] == ',' ? ")" : "");
}

static void progress(const struct sim *sim, bool final)
{
    int64_t t = sim_target(sim);
    int64_t end = atomic_load(&sim->end_ms);
    char endbuf[32] = "";
    if (end < INT64_MAX / 2)
        snprintf(endbuf, sizeof endbuf, "/%lldm", (long long)(end / 60000));
    fprintf(stderr,
            "%ssim %lldm%02llds%s  produced %llu  accepted %llu  dup %llu  retried %llu  "
            "local alarms %llu/%zu%s",
            isatty(STDERR_FILENO) ? "\r" : "", (long long)(t / 60000), (long long)(t / 1000 % 60),
            endbuf, (unsigned long long)atomic_load(&sim->produced),
            (unsigned long long)atomic_load(&sim->stored),
            (unsigned long long)atomic_load(&sim->dups),
            (unsigned long long)atomic_load(&sim->retried),
            (unsigned long long)atomic_load(&sim->alarmed), sim->ndev,
            final || !isatty(STDERR_FILENO) ? "\n" : "   ");
}

/* ---- main ---- */

static void free_sim(struct sim *sim)
{
    if (sim->dev)
        for (size_t i = 0; i < sim->ndev; i++)
            free(sim->dev[i].fw);
    free(sim->dev);
    if (sim->wk)
        for (int i = 0; i < sim->threads; i++)
            if (sim->wk[i].curl)
                curl_easy_cleanup(sim->wk[i].curl);
    free(sim->wk);
}

static int parse_args(int argc, char **argv, struct sim *sim)
{
    static const struct option opts[] = {
        {"server", required_argument, NULL, 'S'},   {"create", no_argument, NULL, 'C'},
        {"keys", required_argument, NULL, 'k'},     {"keys-out", required_argument, NULL, 'K'},
        {"prefix", required_argument, NULL, 'p'},   {"devices", required_argument, NULL, 'n'},
        {"scenario", required_argument, NULL, 's'}, {"mix", no_argument, NULL, 'm'},
        {"speed", required_argument, NULL, 'x'},    {"rate", required_argument, NULL, 'r'},
        {"duration", required_argument, NULL, 'd'}, {"report", required_argument, NULL, 'R'},
        {"warmup", required_argument, NULL, 'w'},   {"payload", required_argument, NULL, 'P'},
        {"seed", required_argument, NULL, 'e'},     {"threads", required_argument, NULL, 't'},
        {"json", no_argument, NULL, 'j'},           {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    uint64_t u;
    double v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'S':
            sim->server = optarg;
            break;
        case 'C':
            sim->create = true;
            break;
        case 'k':
            sim->keys_in = optarg;
            break;
        case 'K':
            sim->keys_out = optarg;
            break;
        case 'p':
            if (strlen(optarg) > 40 || !fw_device_id_valid(optarg))
                return bad_usage("--prefix must be 1-40 characters of A-Z a-z 0-9 . _ : - "
                                 "(got '%s')",
                                 optarg);
            sim->prefix = optarg;
            break;
        case 'n':
            if (!parse_uint(optarg, MAX_DEVICES, &u) || u == 0)
                return bad_usage("--devices must be from 1 to 100000 (got '%s')", optarg);
            sim->ndev = (size_t)u;
            break;
        case 's':
            sim->scenario_spec = optarg;
            break;
        case 'm':
            sim->scenario_spec = "mix";
            break;
        case 'x':
            if (!parse_pos(optarg, 1e6, &v))
                return bad_usage("--speed must be a number above 0, at most 1e6 (got '%s')",
                                 optarg);
            sim->speed = v;
            break;
        case 'r':
            if (!parse_pos(optarg, 1e7, &v))
                return bad_usage("--rate must be readings per second above 0 (got '%s')", optarg);
            sim->rate = v;
            break;
        case 'd':
            if (!parse_duration(optarg, &sim->duration_ms))
                return bad_usage("--duration must be a time such as 90s, 30m or 2h, at least 1 s "
                                 "(got '%s')",
                                 optarg);
            break;
        case 'R':
            if (!parse_pos(optarg, 86400, &v) || v < 1)
                return bad_usage("--report must be seconds from 1 to 86400 (got '%s')", optarg);
            sim->report_ms = (int64_t)(v * 1000);
            break;
        case 'w':
            if (!parse_uint(optarg, 30 * 86400, &u))
                return bad_usage("--warmup must be whole seconds, 0 to 2592000 (got '%s')", optarg);
            sim->warmup_ms = (int64_t)u * 1000;
            break;
        case 'P':
            if (strcmp(optarg, "ppm") == 0)
                sim->payload = FW_PAYLOAD_PPM;
            else if (strcmp(optarg, "raw") == 0)
                sim->payload = FW_PAYLOAD_RAW;
            else if (strcmp(optarg, "both") == 0)
                sim->payload = FW_PAYLOAD_BOTH;
            else
                return bad_usage("--payload must be ppm, raw or both (got '%s')", optarg);
            break;
        case 'e':
            if (!parse_uint(optarg, UINT64_MAX, &u))
                return bad_usage("--seed must be a non-negative integer (got '%s')", optarg);
            sim->seed = u;
            break;
        case 't':
            if (!parse_uint(optarg, MAX_THREADS, &u) || u == 0)
                return bad_usage("--threads must be from 1 to 64 (got '%s')", optarg);
            sim->threads = (int)u;
            break;
        case 'j':
            sim->json = true;
            break;
        case 'q':
            sim->quiet = true;
            break;
        case 'v':
            sim->verbose = true;
            break;
        case 'c':
            sim->config = optarg;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case '?':
        default:
            fprintf(stderr, "carbon sim: option '%s' is unknown or needs a value\n",
                    argv[optind - 1]);
            fprintf(stderr, "(see carbon sim --help)\n");
            return 2;
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    if (sim->create == !!sim->keys_in)
        return bad_usage("%sgive either --create (register devices) or --keys FILE",
                         sim->create ? "--create and --keys exclude each other: " : "");
    if (sim->keys_out && !sim->create)
        return bad_usage("--keys-out goes with --create");
    if (sim->speed > 0 && sim->rate > 0)
        return bad_usage("--speed and --rate exclude each other: --rate sets the speed");
    return 0;
}

int cli_sim(int argc, char **argv)
{
    struct sim sim = {.prefix = "sim", .report_ms = 150000, .seed = 1};
    enum sim_scenario *scen = NULL;
    char(*ids)[65] = NULL;
    char(*keys)[FW_KEY_MAX + 1] = NULL;
    int rc = parse_args(argc, argv, &sim);
    if (rc)
        return rc < 0 ? 0 : rc;
    size_t nkeys = 0;
    if (sim.keys_in) {
        if ((rc = read_keys(&sim, &ids, &keys, &nkeys)) != 0)
            goto out;
        /* All the file's devices, unless --devices or scenario counts say fewer. */
        if (!sim.ndev && !(sim.scenario_spec && strchr(sim.scenario_spec, ':')))
            sim.ndev = nkeys;
    }
    if ((rc = assign_scenarios(&sim, &scen)) != 0)
        goto out;
    if (sim.keys_in && sim.ndev > nkeys) {
        fprintf(stderr, "carbon sim: %zu device(s) asked for, but %s has %zu\n", sim.ndev,
                sim.keys_in, nkeys);
        rc = 2;
        goto out;
    }
    if (sim.rate > 0)
        sim.speed = sim.rate * ((double)sim.report_ms / 1000.0) / (double)sim.ndev;
    if (sim.speed <= 0)
        sim.speed = 60;
    if (!sim.duration_ms && sim.speed > 1)
        sim.duration_ms = 3600000;
    if (!sim.threads)
        sim.threads = sim.ndev < 32 ? (int)sim.ndev : 32;
    if ((size_t)sim.threads > sim.ndev)
        sim.threads = (int)sim.ndev;

    /* The server and the admin token (needed by --create, optional else). */
    bool need_admin = sim.create || (sim.keys_in && sim.payload != FW_PAYLOAD_PPM);
    if (need_admin) {
        if (!client_init(&sim.cl, "sim", sim.server, sim.config)) {
            rc = 2;
            goto out;
        }
        sim.have_admin = true;
    } else {
        /* Without a token there is no server-side alarm check; the URL
         * still comes from the same place. */
        const char *saved = getenv("CARBON_ADMIN_TOKEN");
        if (saved || getenv("CARBON_ADMIN_TOKEN_FILE")) {
            sim.have_admin = client_init(&sim.cl, "sim", sim.server, sim.config);
            if (!sim.have_admin) {
                rc = 2;
                goto out;
            }
        } else {
            /* client_init insists on a token; none is sent by the devices
             * (they use their own keys) and server_alarms is skipped. */
            setenv("CARBON_ADMIN_TOKEN", "-", 1);
            bool ok = client_init(&sim.cl, "sim", sim.server, sim.config);
            unsetenv("CARBON_ADMIN_TOKEN");
            if (!ok) {
                rc = 2;
                goto out;
            }
        }
    }
    snprintf(sim.base, sizeof sim.base, "%s", sim.cl.base);

    sim.dev = calloc(sim.ndev, sizeof *sim.dev);
    sim.wk = calloc((size_t)sim.threads, sizeof *sim.wk);
    if (!sim.dev || !sim.wk) {
        fprintf(stderr, "carbon sim: out of memory\n");
        rc = 1;
        goto out;
    }
    if (ids)
        for (size_t i = 0; i < sim.ndev; i++) {
            snprintf(sim.dev[i].id, sizeof sim.dev[i].id, "%s", ids[i]);
            snprintf(sim.dev[i].key, sizeof sim.dev[i].key, "%s", keys[i]);
        }
    sim.profile_ms = sim.duration_ms ? sim.duration_ms : DEFAULT_UNBOUNDED_MS;
    atomic_store(&sim.end_ms, sim.duration_ms ? sim.duration_ms : INT64_MAX / 4);
    init_devices(&sim, scen);

    if (sim.create && (rc = setup_create(&sim)) != 0)
        goto out;
    if (sim.keys_in && sim.payload != FW_PAYLOAD_PPM) {
        /* The server converts co_raw with the stored calibration: store ours. */
        for (size_t i = 0; i < sim.ndev && rc == 0; i++) {
            char path[160];
            snprintf(path, sizeof path, "/v1/devices/%s", sim.dev[i].id);
            json_t *patch =
                json_pack("{s:o}", "calibration", calibration_json(&sim.dev[i].sensor.wiring));
            json_t *ans = NULL;
            long st = client_call(&sim.cl, "sim", "PATCH", path, patch, &ans);
            json_decref(patch);
            if (st != 200) {
                if (st)
                    client_print_error("sim", st, ans);
                rc = 1;
            }
            json_decref(ans);
        }
        if (rc)
            goto out;
    }
    if ((rc = start_devices(&sim)) != 0)
        goto out;

    /* Simulated time 0 on the wall clock: the run and its drain end by now. */
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t wall_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
    int64_t span = sim.duration_ms ? sim.duration_ms : 0;
    sim.epoch0_ms = wall_ms - span - DRAIN_MAX_MS - 160000;

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    clock_gettime(CLOCK_MONOTONIC, &sim.real0);
    size_t per = sim.ndev / (size_t)sim.threads, extra = sim.ndev % (size_t)sim.threads, first = 0;
    int started = 0;
    for (int i = 0; i < sim.threads; i++) {
        struct worker *w = &sim.wk[i];
        w->sim = &sim;
        w->first = first;
        w->n = per + ((size_t)i < extra);
        first += w->n;
        for (size_t j = 0; j < w->n; j++)
            sim.dev[w->first + j].w = w;
        w->curl = curl_easy_init();
        if (!w->curl)
            break;
        curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w);
        curl_easy_setopt(w->curl, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(w->curl, CURLOPT_HEADERDATA, w);
        curl_easy_setopt(w->curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
        curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(w->curl, CURLOPT_TCP_KEEPALIVE, 1L);
        curl_easy_setopt(w->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    }
    for (int i = 0; i < sim.threads; i++) {
        if (!sim.wk[i].curl || pthread_create(&sim.wk[i].th, NULL, worker_main, &sim.wk[i]) != 0)
            break;
        started++;
    }
    if (started < sim.threads) {
        fprintf(stderr, "carbon sim: cannot start the worker threads\n");
        atomic_store(&sim.end_ms, 0);
    }
    bool show = !sim.quiet;
    while (atomic_load(&sim.done_workers) < (uint_fast64_t)started) {
        if (g_stop) {
            /* Stop the clock where it is; the workers drain and finish. */
            int64_t now = sim_target(&sim);
            if (now < atomic_load(&sim.end_ms))
                atomic_store(&sim.end_ms, now);
        }
        for (int i = 0; i < 10 && atomic_load(&sim.done_workers) < (uint_fast64_t)started; i++) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
            if (g_stop)
                break;
        }
        if (show)
            progress(&sim, false);
    }
    for (int i = 0; i < started; i++)
        pthread_join(sim.wk[i].th, NULL);
    sim.real_s = real_ms(&sim) / 1000.0;
    if (show)
        progress(&sim, true);
    if (started < sim.threads) {
        rc = 1;
        goto out;
    }

    bool server_ok = sim.have_admin && server_alarms(&sim);
    struct totals t;
    sum_up(&sim, &t);
    print_summary(&sim, &t, server_ok);
    rc = t.produced > 0 && t.stored + t.dups == 0 ? 1 : 0;
    if (rc)
        fprintf(stderr, "carbon sim: the server took none of the %llu readings\n",
                (unsigned long long)t.produced);
out:
    free_sim(&sim);
    free(scen);
    free(ids);
    free(keys);
    return rc;
}
