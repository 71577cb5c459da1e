/* graph.c - carbon graph: a device's CO chart to an SVG file, drawn from the
 * data directory (server stopped) or fetched from a running server. */
#include "cli/cli.h"

#include "auth/registry.h"
#include "cli/client.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/log.h"
#include "core/timeutil.h"
#include "graph/graph.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void graph_usage(FILE *out)
{
    fprintf(out,
            "Usage: carbon graph --device ID [--from TIME] [--to TIME] [--type line|bar]\n"
            "                    [--width PX] [--height PX] [--series LIST] --out FILE.svg\n"
            "                    [--data DIR | --server URL] [--config FILE]\n\n"
            "Draws the CO chart of a device (the same SVG as GET /v1/devices/{id}/graph).\n\n"
            "  --from/--to  the range: RFC 3339, ISO 8601 (2026-11-25, 2026-11-25 16:00)\n"
            "               or epoch seconds [default: the last 24 hours]\n"
            "  --type    line (min-max per pixel column) or bar (highest per bar) [line]\n"
            "  --width   200-4000 px [1200]; --height 150-2000 px [500]\n"
            "  --series  extra lines on a second axis: temperature, humidity (comma list)\n"
            "  --out     the SVG file to write ('-' for standard output)\n\n"
            "Where the data comes from:\n"
            "  --data DIR    read the data directory directly, offline [default: CARBON_DATA,\n"
            "                ./carbon-data]. Only while no carbon serve runs on it: the\n"
            "                server holds the directory's lock.\n"
            "  --server URL  ask a running server over its API instead (admin token from\n"
            "                CARBON_ADMIN_TOKEN or CARBON_ADMIN_TOKEN_FILE).\n"
            "  --config      KEY=VALUE settings file, as for carbon serve\n\n"
            "Exit status: 0 written, 1 failed (no such device, server refused or\n"
            "unreachable, data directory in use), 2 usage.\n");
}

enum { P_FROM, P_TO, P_TYPE, P_WIDTH, P_HEIGHT, P_SERIES, P__COUNT };
static const char *const param_names[P__COUNT] = {"from",  "to",     "type",
                                                  "width", "height", "series"};

static const char *opt_get(void *arg, const char *name)
{
    const char *const *v = arg;
    for (int i = 0; i < P__COUNT; i++)
        if (strcmp(param_names[i], name) == 0)
            return v[i];
    return NULL;
}

static const char *env_get(const char *name)
{
    return getenv(name);
}

static bool write_out(const char *path, const char *data, size_t len)
{
    bool to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "carbon graph: cannot write %s: %m\n", path);
        return false;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok = (to_stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
    if (!ok)
        fprintf(stderr, "carbon graph: writing %s failed: %m\n", path);
    return ok;
}

struct find {
    const char *id;
    struct device d;
    bool found, oom;
};

static void find_device(void *arg, const struct device *d)
{
    struct find *f = arg;
    if (!f->found && strcmp(d->id, f->id) == 0) {
        f->found = device_copy(&f->d, d);
        f->oom = !f->found;
    }
}

/* Offline: opens the store in dir (fails while a server holds it). */
static int from_data(const char *dir, const char *id, const struct graph_params *p, struct buf *svg)
{
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "carbon graph: no data directory %s (give --data DIR or --server URL)\n",
                dir);
        return 1;
    }
    struct store *st = store_sqlite_open(dir);
    if (!st) {
        fprintf(stderr,
                "carbon graph: cannot open the data directory %s (if carbon serve runs on it, "
                "use --server URL)\n",
                dir);
        return 1;
    }
    int rc = 1;
    struct find f = {.id = id};
    cb_err e = st->ops->devices_load(st, find_device, &f);
    if (e == CB_OK && f.oom)
        e = CB_ERR_NOMEM;
    if (e != CB_OK) {
        fprintf(stderr, "carbon graph: %s\n", cb_strerror(e));
    } else if (!f.found) {
        fprintf(stderr, "carbon graph: no device '%s' in %s\n", id, dir);
    } else if ((e = graph_render(st, &f.d, p, time_now_ms(), svg, NULL)) != CB_OK) {
        fprintf(stderr, "carbon graph: the chart could not be drawn: %s\n", cb_strerror(e));
    } else {
        rc = 0;
    }
    if (f.found)
        device_clear(&f.d);
    st->ops->close(st);
    return rc;
}

static int from_server(const char *server, const char *config, const char *id,
                       const char *const *vals, struct buf *svg)
{
    struct client cl;
    char q[2048] = "", esc[256], path[2400];
    if (!client_init(&cl, "graph", server, config))
        return 2;
    for (int i = 0; i < P__COUNT; i++)
        if (!client_add_param(q, sizeof q, param_names[i], vals[i])) {
            fprintf(stderr, "carbon graph: --%s is too long\n", param_names[i]);
            return 2;
        }
    if (!client_escape(id, esc, sizeof esc)) {
        fprintf(stderr, "carbon graph: --device is too long\n");
        return 2;
    }
    snprintf(path, sizeof path, "/v1/devices/%s/graph%s", esc, q);
    long st = client_fetch(&cl, "graph", "GET", path, NULL, "image/svg+xml", svg);
    if (st == 200)
        return 0;
    if (st) {
        json_t *ans = svg->len ? json_loadb(svg->data, svg->len, 0, NULL) : NULL;
        client_print_error("graph", st, ans);
        json_decref(ans);
    }
    return 1;
}

int cli_graph(int argc, char **argv)
{
    static const struct option opts[] = {{"device", required_argument, NULL, 'd'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"type", required_argument, NULL, 'y'},
                                         {"width", required_argument, NULL, 'w'},
                                         {"height", required_argument, NULL, 'H'},
                                         {"series", required_argument, NULL, 's'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"data", required_argument, NULL, 'D'},
                                         {"server", required_argument, NULL, 'S'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *vals[P__COUNT] = {0};
    const char *dev = NULL, *out = NULL, *data = NULL, *server = NULL, *config = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dev = optarg;
            break;
        case 'f':
            vals[P_FROM] = optarg;
            break;
        case 't':
            vals[P_TO] = optarg;
            break;
        case 'y':
            vals[P_TYPE] = optarg;
            break;
        case 'w':
            vals[P_WIDTH] = optarg;
            break;
        case 'H':
            vals[P_HEIGHT] = optarg;
            break;
        case 's':
            vals[P_SERIES] = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'D':
            data = optarg;
            break;
        case 'S':
            server = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'h':
            graph_usage(stdout);
            return 0;
        default:
            graph_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "carbon graph: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!dev || !out) {
        fprintf(stderr, "carbon graph: --device and --out are required (carbon graph --help)\n");
        return 2;
    }
    if (data && server) {
        fprintf(stderr, "carbon graph: give --data or --server, not both\n");
        return 2;
    }
    struct graph_params p;
    char err[256];
    if (!graph_params_parse(opt_get, vals, time_now_ms(), &p, err, sizeof err)) {
        fprintf(stderr, "carbon graph: %s\n", err);
        return 2;
    }
    struct buf svg;
    buf_init(&svg, GRAPH_MAX_SVG);
    int rc;
    if (server) {
        rc = from_server(server, config, dev, vals, &svg);
    } else {
        struct config cfg;
        const char *flags[CFG__COUNT] = {0};
        flags[CFG_DATA] = data;
        if (!config_load(&cfg, flags, config, env_get, err, sizeof err)) {
            fprintf(stderr, "carbon graph: %s\n", err);
            config_free(&cfg);
            buf_free(&svg);
            return 2;
        }
        log_set_level(LOG_ERROR); /* the store's info lines are noise here */
        rc = from_data(config_get(&cfg, CFG_DATA), dev, &p, &svg);
        config_free(&cfg);
    }
    if (rc == 0 && !write_out(out, svg.data, svg.len))
        rc = 1;
    buf_free(&svg);
    return rc;
}
