/* run.c - the simulated devices of `carbon sim` (fleet.h): each is the
 * real firmware core (firmware/core, fw_step) on a simulated MQ-7
 * (sensor.h), its port a simulated board whose http_post goes to the
 * server over its worker's connection (uplink.h).
 *
 * Time: one simulated clock (ms since the start of the run) runs at
 * `speed` times real time, up to `duration`; every device is stepped on a
 * 1 s grid of it (the core keeps its heater schedule at steps of up to 1 s,
 * and a fixed grid keeps a seeded run's sensor values the same however the
 * threads are scheduled). Devices start at staggered points of their heater
 * cycle. The wall clock of simulated time 0 is chosen so that a reading is
 * never stamped later than the real time it is made, and the run's planned
 * end falls at the real time it ends: at speed 1 (or below) readings carry
 * the real time; at a higher speed the run is a compressed past that ends
 * "now" (so its last readings are live for the notification service).
 *
 * Threads: the devices are split over a few worker threads, each with one
 * keep-alive connection. The core's http_post is synchronous, so a POST
 * holds only the devices of its own worker, and only briefly; the others'
 * clocks are not held back. At the end (duration reached, or SIGINT /
 * SIGTERM), each device is stepped on, as fast as possible, to deliver its
 * offline buffer, but never up to its next sample, so the drain makes no
 * new reading (at speed 1 it would carry a time in the future). The drain
 * has at most DRAIN_REAL_MS of real time; a worker gives it up when the
 * server stops answering, and a second signal skips it: in-flight POSTs are
 * then given up too. What is not delivered is counted as unsent. */
#include "sim/fleet.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STEP_MS 1000LL
#define PREROLL_BASE_MS 600000LL    /* device clocks start here: positive, staggered below */
#define HEATER_CYCLE_MS 150000LL    /* the firmware's default heater cycle: 60 s + 90 s */
#define POST_TIMEOUT_MS 10000L      /* one POST during the run */
#define DRAIN_POST_TIMEOUT_MS 5000L /* one POST during the drain */
#define DRAIN_REAL_MS 30000.0       /* the drain's real time, per worker */

/* SIGINT / SIGTERM received: the handler only counts them (a lock-free
 * atomic, safe in a handler); the main thread and the workers read it. */
static atomic_int g_signals;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal counter must be lock-free");

static void on_signal(int sig)
{
    (void)sig;
    atomic_fetch_add(&g_signals, 1);
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
    sim_sensor_fw_heater(&d->sensor, level, d->t);
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

/* Whether the worker should stop: step no further, start no POST, and give
 * up the one in flight (elapsed_ms: how long it has been going, 0 if none).
 * While running, any signal stops it, but a POST under a second old is let
 * finish (a server that answers is not cut off mid-request, which would
 * only make a duplicate of the retry). While draining: a second signal
 * (sim.abort) or the end of the drain's time. Called by the worker's own
 * thread only (also from libcurl's progress callback). */
static bool worker_stops(struct sim_worker *w, int64_t elapsed_ms)
{
    if (atomic_load(&w->sim->abort))
        return true;
    if (!w->draining)
        return atomic_load(&g_signals) > 0 && (elapsed_ms == 0 || elapsed_ms >= 1000);
    return real_ms(w->sim) >= w->drain_deadline_ms;
}

static bool uplink_stop(void *ctx, int64_t elapsed_ms)
{
    return worker_stops(ctx, elapsed_ms);
}

static int port_post(void *ctx, const char *path, const struct fw_http_header *headers,
                     size_t nheaders, const char *body, size_t len, uint32_t *retry_after_s)
{
    struct simdev *d = ctx;
    struct sim_worker *w = d->w;
    struct sim *sim = d->sim;
    if (!sim_profile_link_up(&d->prof, d->t)) {
        d->link_down++;
        atomic_fetch_add(&sim->retried, 1);
        return -1;
    }
    struct sim_answer ans;
    sim_uplink_post(w->up, path, headers, nheaders, body, len,
                    w->draining ? DRAIN_POST_TIMEOUT_MS : POST_TIMEOUT_MS, &ans);
    if (ans.status == 0) {
        d->no_answer++;
        atomic_fetch_add(&sim->retried, 1);
        if (w->draining && !ans.stopped)
            w->drain_silent = true;
        return -1;
    }
    *retry_after_s = ans.retry_after_s;
    if (ans.status >= 200 && ans.status < 300) {
        d->stored += ans.stored;
        d->dups += ans.duplicates;
        atomic_fetch_add(&sim->stored, ans.stored);
        atomic_fetch_add(&sim->dups, ans.duplicates);
    } else if (ans.status == 400 || ans.status == 413 || ans.status == 422) {
        d->http_refused++;
        if (sim->verbose)
            fprintf(stderr, "carbon sim: %s: HTTP %ld %s\n", d->id, ans.status, ans.body);
    } else {
        d->http_retry++;
        atomic_fetch_add(&sim->retried, 1);
    }
    return (int)ans.status;
}

/* ---- stepping ---- */

/* Steps d on the 1 s grid up to target (unless its worker is stopping). */
static void advance(struct simdev *d, int64_t target)
{
    while (d->t + STEP_MS <= target && !worker_stops(d->w, 0)) {
        d->t += STEP_MS;
        fw_step(d->fw, d->t + d->mono0);
    }
    uint32_t q = fw_get_stats(d->fw)->queued;
    if (q != d->last_queued) {
        atomic_fetch_add(&d->sim->produced, q - d->last_queued);
        d->last_queued = q;
    }
}

/* True when the next step would sample the sensor (and so may make a
 * reading): the firmware's heater schedule (fw_heater.h) says what is next. */
static bool sample_due(const struct simdev *d)
{
    const struct fw_heater *h = &d->fw->heater;
    return h->pending == FW_HEATER_EV_SAMPLE && h->due_ms <= d->t + STEP_MS + d->mono0;
}

/* The drain: each device steps on, as fast as possible, while it has
 * readings to send and until its next sample (no new reading is made).
 * Returns 0, or the enum sim_cut why it stopped with readings left. */
static int drain(struct sim_worker *w)
{
    struct sim *sim = w->sim;
    w->draining = true;
    w->drain_deadline_ms = real_ms(sim) + DRAIN_REAL_MS;
    atomic_fetch_add(&sim->draining, 1);
    for (size_t i = 0; i < w->n; i++) {
        struct simdev *d = &sim->dev[w->first + i];
        while (fw_pending(d->fw) > 0 && !sample_due(d)) {
            if (atomic_load(&sim->abort))
                return SIM_CUT_SIGNAL;
            if (w->drain_silent)
                return SIM_CUT_NO_ANSWER;
            if (real_ms(sim) >= w->drain_deadline_ms)
                return SIM_CUT_TIME;
            advance(d, d->t + STEP_MS);
        }
    }
    return 0;
}

static void *worker_main(void *arg)
{
    struct sim_worker *w = arg;
    struct sim *sim = w->sim;
    for (;;) {
        int64_t target = sim_target(sim);
        for (size_t i = 0; i < w->n; i++)
            advance(&sim->dev[w->first + i], target);
        if (target >= atomic_load(&sim->end_ms) || worker_stops(w, 0))
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
    int cut = drain(w);
    if (cut)
        atomic_fetch_or(&sim->cut, cut);
    atomic_fetch_add(&sim->done_workers, 1);
    return NULL;
}

/* ---- setup ---- */

void sim_fleet_init(struct sim *sim, const enum sim_scenario *scen)
{
    struct mq7_calibration nominal;
    mq7_calibration_default(&nominal);
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
        int64_t phase = (int64_t)(sim_rng_uniform(&r) * (double)HEATER_CYCLE_MS);
        d->t = -phase;
        d->mono0 = PREROLL_BASE_MS;
        if (!d->id[0])
            snprintf(d->id, sizeof d->id, "%s-%zu", sim->prefix, i + 1);
    }
}

int sim_fleet_start(struct sim *sim)
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

/* ---- the run ---- */

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

/* The wall clock of simulated time 0 for a run starting at wall_ms: at
 * speed 1 or below, wall_ms itself (readings carry the time they are made);
 * above, `ahead` earlier, so that the run's planned end falls at the real
 * time it ends. A reading made at simulated t, at real time wall_ms + t /
 * speed or later (when the devices fall behind), is stamped wall_ms - ahead
 * + t: (duration - t) * (1 - 1 / speed) before it is made, never after. */
static int64_t epoch0(const struct sim *sim, int64_t wall_ms)
{
    if (sim->speed <= 1 || !sim->duration_ms)
        return wall_ms;
    double ahead = (double)sim->duration_ms * (1.0 - 1.0 / sim->speed);
    return wall_ms - (int64_t)ahead;
}

/* Starts the worker threads with their connections; returns how many run. */
static int start_workers(struct sim *sim)
{
    size_t per = sim->ndev / (size_t)sim->threads, extra = sim->ndev % (size_t)sim->threads;
    size_t first = 0;
    for (int i = 0; i < sim->threads; i++) {
        struct sim_worker *w = &sim->wk[i];
        w->sim = sim;
        w->first = first;
        w->n = per + ((size_t)i < extra);
        first += w->n;
        for (size_t j = 0; j < w->n; j++)
            sim->dev[w->first + j].w = w;
        w->up = sim_uplink_new(sim->cl.base, uplink_stop, w);
    }
    int started = 0;
    for (int i = 0; i < sim->threads; i++) {
        if (!sim->wk[i].up || pthread_create(&sim->wk[i].th, NULL, worker_main, &sim->wk[i]) != 0)
            break;
        started++;
    }
    return started;
}

/* Follows the workers until they are done: a first signal stops the clock
 * (the workers drain), a second one, or one after the clock has stopped by
 * itself, skips the drain. The progress line once a second. */
static void supervise(struct sim *sim, int started)
{
    bool stopping = false;
    int sigs_at_drain = -1; /* the signals counted when every worker was draining */
    while (atomic_load(&sim->done_workers) < (uint_fast64_t)started) {
        /* Draining first, then the signals: a signal that made the workers
         * drain is counted before it is compared. */
        bool all_draining = atomic_load(&sim->draining) == (uint_fast64_t)started;
        int sigs = atomic_load(&g_signals);
        if (all_draining && sigs_at_drain < 0)
            sigs_at_drain = sigs;
        bool quit = sigs >= 2 || (sigs_at_drain >= 0 && sigs > sigs_at_drain);
        if (quit && !atomic_load(&sim->abort)) {
            atomic_store(&sim->abort, true);
            fprintf(stderr, "%scarbon sim: interrupted: quitting without delivering the rest\n",
                    !sim->quiet && isatty(STDERR_FILENO) ? "\n" : "");
        } else if (sigs > 0 && !stopping && !quit) {
            /* Stop the clock where it is; the workers drain and finish. */
            int64_t now = sim_target(sim);
            if (now < atomic_load(&sim->end_ms))
                atomic_store(&sim->end_ms, now);
            fprintf(stderr,
                    "%scarbon sim: stopping: delivering the buffered readings "
                    "(interrupt again to quit now)\n",
                    !sim->quiet && isatty(STDERR_FILENO) ? "\n" : "");
        }
        if (sigs > 0)
            stopping = true;
        for (int i = 0; i < 10 && atomic_load(&sim->done_workers) < (uint_fast64_t)started; i++) {
            struct timespec ts = {0, 100000000};
            nanosleep(&ts, NULL);
            if (atomic_load(&g_signals) != sigs)
                break;
        }
        if (!sim->quiet)
            progress(sim, false);
    }
}

int sim_fleet_run(struct sim *sim)
{
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    sim->epoch0_ms = epoch0(sim, (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGINT);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    clock_gettime(CLOCK_MONOTONIC, &sim->real0);

    int started = start_workers(sim);
    if (started < sim->threads) {
        fprintf(stderr, "carbon sim: cannot start the worker threads\n");
        atomic_store(&sim->abort, true);
    }
    supervise(sim, started);
    for (int i = 0; i < started; i++)
        pthread_join(sim->wk[i].th, NULL);
    /* From here a signal ends the process again (the server's alarms are read). */
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sim->real_s = real_ms(sim) / 1000.0;
    if (!sim->quiet)
        progress(sim, true);
    return started < sim->threads ? 1 : 0;
}

const char *sim_fleet_cut_reason(int cut)
{
    return cut & SIM_CUT_SIGNAL      ? "interrupted"
           : cut & SIM_CUT_NO_ANSWER ? "the server stopped answering"
                                     : "it ran out of time (30 s)";
}

void sim_fleet_free(struct sim *sim)
{
    if (sim->dev)
        for (size_t i = 0; i < sim->ndev; i++)
            free(sim->dev[i].fw);
    free(sim->dev);
    if (sim->wk)
        for (int i = 0; i < sim->threads; i++)
            sim_uplink_free(sim->wk[i].up);
    free(sim->wk);
}
