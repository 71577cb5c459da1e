/* fleet.h - the state of one `carbon sim` run, shared by its modules:
 * run.c (the simulated devices, their clock, threads and drain), server.c
 * (registering the devices, their calibration, the server's alarms) and
 * summary.c (the report). src/cli/sim.c reads the options and wires them.
 * Internal to carbon sim. */
#ifndef CARBON_SIM_FLEET_H
#define CARBON_SIM_FLEET_H
#include "cli/client.h"
#include "fw_device.h"
#include "sim/sensor.h"
#include "sim/uplink.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Each device is a whole struct fw_device (its 1024-reading offline ring
 * and 16 KiB request buffer: about 100 KB), so 20000 take about 2 GB. */
#define SIM_MAX_DEVICES 20000
#define SIM_MAX_THREADS 64

/* Why a worker's drain stopped with readings left (bits of sim.cut). */
enum sim_cut {
    SIM_CUT_SIGNAL = 1,    /* a second SIGINT / SIGTERM */
    SIM_CUT_NO_ANSWER = 2, /* a POST got no answer */
    SIM_CUT_TIME = 4,      /* the drain's real time ran out */
};

struct sim;
struct sim_worker;

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
    struct sim_worker *w;
    enum fw_output max_out;
    uint32_t last_queued;
    /* Written by its worker only; read after the join. */
    uint64_t stored, dups, link_down, no_answer, http_retry, http_refused;
    /* Filled at the end from the server's alerts. */
    unsigned server_kinds; /* bit per enum alarm_kind */
    unsigned server_active;
};

struct sim_worker {
    pthread_t th;
    struct sim *sim;
    struct sim_uplink *up;
    size_t first, n; /* devices [first, first + n) */
    /* Its own thread's state. */
    bool draining;
    bool drain_silent; /* a POST of the drain got no answer */
    double drain_deadline_ms;
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
    struct client cl;
    bool have_admin;
    struct simdev *dev;
    struct sim_worker *wk;
    int64_t epoch0_ms;      /* wall clock of simulated time 0 */
    _Atomic int64_t end_ms; /* the simulated end (lowered by SIGINT) */
    int64_t profile_ms;     /* the time scale the profiles are drawn for */
    struct timespec real0;
    _Atomic uint_fast64_t produced, stored, dups, retried, alarmed, done_workers, draining;
    _Atomic bool abort; /* skip the drain, give up POSTs in flight */
    _Atomic int cut;    /* enum sim_cut bits */
    double real_s;
};

/* ---- run.c ---- */

/* Sets up sim->dev[0 .. ndev) (allocated, ids and keys set or empty) for
 * the scenarios scen: each unit's profile, sensor and heater phase from
 * the seed; empty ids become PREFIX-N. */
void sim_fleet_init(struct sim *sim, const enum sim_scenario *scen);

/* Starts each device's firmware (allocated here, freed by sim_fleet_free)
 * with its id, key and calibration. 0, or 1 with a message on stderr. */
int sim_fleet_start(struct sim *sim);

/* Runs the fleet: maps the clock to the wall clock, catches SIGINT and
 * SIGTERM for the run (the default again afterwards), runs the worker
 * threads until the end and the drain, with the progress line. Returns 0,
 * or 1 (with a message) when the threads could not be started. */
int sim_fleet_run(struct sim *sim);

/* Why the drain was cut (enum sim_cut bits), in words. */
const char *sim_fleet_cut_reason(int cut);

/* Frees the devices and connections (sim itself is the caller's). */
void sim_fleet_free(struct sim *sim);

/* ---- server.c (need the admin token) ---- */

/* Registers the devices (an existing id gets a new key), with their units'
 * calibrations, and prints the id,key lines (or writes them to keys_out).
 * 0, or 1 with a message on stderr. */
int sim_server_create(struct sim *sim);

/* PATCHes d's calibration on the server (which converts co_raw with it).
 * False, with the server's message on stderr, if it was not taken. */
bool sim_server_put_calibration(struct sim *sim, const struct simdev *d);

/* Reads the alerts raised since the run's start and marks the devices'
 * server_kinds / server_active. False (message on stderr) if they could
 * not be read. */
bool sim_server_alarms(struct sim *sim);

/* ---- summary.c ---- */

struct sim_totals {
    uint64_t readings, produced, warmup, sent, stored, dups, rejected, dropped, unsent, posts,
        retried, no_answer, link_down, http_retry;
    uint64_t out[4]; /* devices by highest local output */
    uint64_t server_alerts[ALARM_NKINDS], server_devices;
};

/* Adds up the devices' counts (after the run). */
void sim_summary_sum(const struct sim *sim, struct sim_totals *t);

/* Prints the summary to stdout, as text or (sim->json) one JSON object.
 * server_skip: why the server's alarms were not checked, or NULL. */
void sim_summary_print(const struct sim *sim, const struct sim_totals *t, const char *server_skip);

#endif
