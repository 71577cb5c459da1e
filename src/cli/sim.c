/* sim.c - carbon sim: N virtual sensors, each the real firmware core on a
 * simulated MQ-7, posting to a server over HTTP with their own keys, in
 * compressed time. For demos, for end-to-end tests, and as a load
 * generator (docs/SIM.md). This file reads the options and wires the
 * modules of src/sim: scenario.c (which scenario each device runs), keys.c
 * (the keys file), server.c (registration, calibration, the server's
 * alarms), run.c (the devices, their clock, threads and drain; uplink.c
 * their HTTP), summary.c (the report). */
#include "cli/cli.h"

#include "sim/fleet.h"
#include "sim/keys.h"
#include "sim/scenario.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_UNBOUNDED_MS (3600000LL) /* profiles' time scale when running until stopped */

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
            "  --devices N        how many, 1 to %d (each takes about 100 KB)\n"
            "                     [default: 1, or the sum of the scenario counts]\n"
            "  --scenario S       steady | slow-leak | fast-leak | sensor-fault | offline |\n"
            "                     mix, or counts such as fast-leak:2,steady:8 [default: steady]\n"
            "  --speed X          simulated seconds per real second [default: 60]\n"
            "  --rate R           instead of --speed: the speed at which the fleet makes R\n"
            "                     readings per real second (speed = R * report / N)\n"
            "  --duration D       simulated time: 90s, 30m, 2h [default: 1h when the speed is\n"
            "                     above 1, else until interrupted]\n"
            "  --report SECONDS   one reading per this much simulated time [default: 150,\n"
            "                     one heater cycle, which is also the shortest]\n"
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
            "stderr every second; the summary to stdout.\n\n"
            "Time and paging: readings are stamped so that the run ends at the real time\n"
            "it ends. At --speed 1 they carry the real time, and an alarm pages like a\n"
            "real one. At a higher speed the run is a compressed past: an alarm raised\n"
            "more than 10 minutes (the notification policy's fresh_s) of simulated time\n"
            "before the end is recorded on the server but pages nobody, unless the\n"
            "device's last readings, which are live, still show CO (docs/NOTIFY.md).\n"
            "To demo paging, run at --speed 1.\n\n"
            "Stopping: at the end, or on SIGINT / SIGTERM, the devices deliver their\n"
            "buffered readings (at most 30 s, given up when the server stops answering);\n"
            "a second signal quits at once.\n"
            "Exit status: 0 done, 1 the server refused or could not be reached, took none\n"
            "of the readings, or readings were left undelivered because the end was cut\n"
            "short (a second signal, no answer, 30 s), 2 usage.\n",
            SIM_MAX_DEVICES);
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
            if (!parse_uint(optarg, SIM_MAX_DEVICES, &u) || u == 0)
                return bad_usage("--devices must be from 1 to %d (got '%s'): each simulated "
                                 "device takes about 100 KB",
                                 SIM_MAX_DEVICES, optarg);
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
            if (!parse_uint(optarg, SIM_MAX_THREADS, &u) || u == 0)
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

/* The server and the admin token: needed by --create and by --keys with
 * raw payloads (the calibration is stored); else optional (without one the
 * server's alarms are not checked). */
static bool connect_server(struct sim *sim)
{
    bool need_admin = sim->create || (sim->keys_in && sim->payload != FW_PAYLOAD_PPM);
    if (need_admin ? !client_init(&sim->cl, "sim", sim->server, sim->config)
                   : !client_init_token_optional(&sim->cl, "sim", sim->server, sim->config))
        return false;
    sim->have_admin = sim->cl.auth[0] != '\0';
    return true;
}

int cli_sim(int argc, char **argv)
{
    struct sim sim = {.prefix = "sim", .report_ms = 150000, .seed = 1};
    enum sim_scenario *scen = NULL;
    struct sim_key *keys = NULL;
    size_t nkeys = 0;
    char err[256];
    int rc = parse_args(argc, argv, &sim);
    if (rc)
        return rc < 0 ? 0 : rc;
    if (sim.keys_in) {
        bool more;
        rc = sim_keys_read(sim.keys_in, SIM_MAX_DEVICES, &keys, &nkeys, &more, err, sizeof err);
        if (rc) {
            fprintf(stderr, "carbon sim: %s\n", err);
            goto out;
        }
        /* All the file's devices, unless --devices or scenario counts say fewer. */
        if (!sim.ndev && !(sim.scenario_spec && strchr(sim.scenario_spec, ':'))) {
            if (more) {
                rc = bad_usage("%s holds more than %d devices: choose some with --devices",
                               sim.keys_in, SIM_MAX_DEVICES);
                goto out;
            }
            sim.ndev = nkeys;
        }
    }
    rc = sim_scenarios_assign(sim.scenario_spec ? sim.scenario_spec : "steady", sim.seed,
                              SIM_MAX_DEVICES, &sim.ndev, &scen, err, sizeof err);
    if (rc) {
        if (rc == 2)
            bad_usage("%s", err);
        else
            fprintf(stderr, "carbon sim: out of memory\n");
        goto out;
    }
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
    if (!connect_server(&sim)) {
        rc = 2;
        goto out;
    }

    sim.dev = calloc(sim.ndev, sizeof *sim.dev);
    sim.wk = calloc((size_t)sim.threads, sizeof *sim.wk);
    if (!sim.dev || !sim.wk) {
        fprintf(stderr, "carbon sim: out of memory\n");
        rc = 1;
        goto out;
    }
    for (size_t i = 0; i < sim.ndev && keys; i++) {
        snprintf(sim.dev[i].id, sizeof sim.dev[i].id, "%s", keys[i].id);
        snprintf(sim.dev[i].key, sizeof sim.dev[i].key, "%s", keys[i].key);
    }
    sim.profile_ms = sim.duration_ms ? sim.duration_ms : DEFAULT_UNBOUNDED_MS;
    atomic_store(&sim.end_ms, sim.duration_ms ? sim.duration_ms : INT64_MAX / 4);
    sim_fleet_init(&sim, scen);

    if (sim.create && (rc = sim_server_create(&sim)) != 0)
        goto out;
    /* With raw payloads the server converts co_raw with the stored calibration: store ours. */
    for (size_t i = 0; sim.keys_in && sim.payload != FW_PAYLOAD_PPM && i < sim.ndev; i++)
        if (!sim_server_put_calibration(&sim, &sim.dev[i])) {
            rc = 1;
            goto out;
        }
    if ((rc = sim_fleet_start(&sim)) != 0)
        goto out;

    if ((rc = sim_fleet_run(&sim)) != 0)
        goto out;

    int cut = atomic_load(&sim.cut);
    const char *server_skip = !sim.have_admin            ? "needs CARBON_ADMIN_TOKEN"
                              : atomic_load(&sim.abort)  ? "interrupted"
                              : cut & SIM_CUT_NO_ANSWER  ? "the server stopped answering"
                              : !sim_server_alarms(&sim) ? "the alerts could not be read"
                                                         : NULL;
    struct sim_totals t;
    sim_summary_sum(&sim, &t);
    sim_summary_print(&sim, &t, server_skip);
    if (t.produced > 0 && t.stored + t.dups == 0) {
        fprintf(stderr, "carbon sim: the server took none of the %llu readings\n",
                (unsigned long long)t.produced);
        rc = 1;
    }
    if (t.unsent > 0 && cut) {
        fprintf(stderr,
                "carbon sim: %llu reading(s) not delivered: the drain at the end was cut "
                "short (%s)\n",
                (unsigned long long)t.unsent, sim_fleet_cut_reason(cut));
        rc = 1;
    }
out:
    sim_fleet_free(&sim);
    free(scen);
    free(keys);
    return rc;
}
