/* alert.c - carbon alert list|ack: the alarms of a running server. */
#include "cli/cli.h"

#include "cli/client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void alert_usage(FILE *out)
{
    fprintf(out, "Usage: carbon alert list [--state STATE] [--device ID] [--kind KIND]\n"
                 "                         [--from TIME] [--to TIME] [--limit N] [--json]\n"
                 "       carbon alert ack ID...\n"
                 "       (both also take [--server URL] [--config FILE])\n\n"
                 "Lists or acknowledges the alarms of a running carbon server, over its API.\n\n"
                 "  --state   active_unack, active_ack, cleared_unack, cleared_ack,\n"
                 "            active, cleared, unack or ack\n"
                 "  --kind    co_high, co_exposure, co_rising, offline, sensor_fault, manual\n"
                 "  --from/--to  raised between these times (RFC 3339 or epoch seconds)\n"
                 "  --limit   at most N alerts, newest first [default: 100]\n"
                 "  --json    print the server's JSON instead of a table\n"
                 "  --server  the server's URL [default: http://CARBON_LISTEN]\n"
                 "  --config  KEY=VALUE settings file, as for carbon serve\n\n"
                 "The admin token comes from CARBON_ADMIN_TOKEN or CARBON_ADMIN_TOKEN_FILE\n"
                 "(never from a flag: it would show in ps).\n"
                 "Exit status: 0 done, 1 the server refused or could not be reached, 2 usage.\n");
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void print_table(const json_t *alerts)
{
    printf("%-6s %-12s %-8s %-13s %-20s %-24s %8s\n", "ID", "KIND", "SEVERITY", "STATE", "DEVICE",
           "RAISED", "PEAK");
    size_t i;
    const json_t *a;
    json_array_foreach(alerts, i, a)
    {
        printf("%-6lld %-12s %-8s %-13s %-20.20s %-24s %8.1f\n",
               (long long)json_integer_value(json_object_get(a, "id")), str(a, "kind"),
               str(a, "severity"), str(a, "state"), str(a, "device_id"), str(a, "raised_at"),
               json_number_value(json_object_get(a, "peak_ppm")));
    }
}

int cli_alert(int argc, char **argv)
{
    static const struct option opts[] = {{"state", required_argument, NULL, 's'},
                                         {"device", required_argument, NULL, 'd'},
                                         {"kind", required_argument, NULL, 'k'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"to", required_argument, NULL, 't'},
                                         {"limit", required_argument, NULL, 'n'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"server", required_argument, NULL, 'S'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *state = NULL, *dev = NULL, *kind = NULL, *from = NULL, *to = NULL, *limit = NULL;
    const char *server = NULL, *config = NULL;
    bool json_out = false;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        alert_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "list") != 0 && strcmp(sub, "ack") != 0) {
        fprintf(stderr, "carbon alert: unknown subcommand '%s' (list or ack)\n\n", sub);
        alert_usage(stderr);
        return 2;
    }
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            state = optarg;
            break;
        case 'd':
            dev = optarg;
            break;
        case 'k':
            kind = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 'n':
            limit = optarg;
            break;
        case 'j':
            json_out = true;
            break;
        case 'S':
            server = optarg;
            break;
        case 'c':
            config = optarg;
            break;
        case 'h':
            alert_usage(stdout);
            return 0;
        default:
            alert_usage(stderr);
            return 2;
        }
    }
    int nargs = argc - 1 - optind;
    char **args = argv + 1 + optind;
    bool is_list = strcmp(sub, "list") == 0;
    if (is_list ? nargs != 0 : nargs < 1) {
        fprintf(stderr,
                is_list ? "carbon alert list: unexpected argument '%s'\n"
                        : "carbon alert ack: give the id of the alert(s)%s\n",
                is_list ? args[0] : "");
        return 2;
    }
    if (!is_list && (state || dev || kind || from || to || limit)) {
        fprintf(stderr, "carbon alert ack: filters are for 'list'\n");
        return 2;
    }
    struct client cl;
    if (!client_init(&cl, "alert", server, config))
        return 2;
    int rc = 0;
    if (is_list) {
        char q[2048] = "";
        if (!client_add_param(q, sizeof q, "state", state) ||
            !client_add_param(q, sizeof q, "device_id", dev) ||
            !client_add_param(q, sizeof q, "kind", kind) ||
            !client_add_param(q, sizeof q, "from", from) ||
            !client_add_param(q, sizeof q, "to", to) ||
            !client_add_param(q, sizeof q, "limit", limit)) {
            fprintf(stderr, "carbon alert list: a filter value is too long\n");
            return 2;
        }
        char path[2100];
        snprintf(path, sizeof path, "/v1/alerts%s", q);
        json_t *ans;
        long st = client_call(&cl, "alert", "GET", path, NULL, &ans);
        if (st == 200 && json_is_array(json_object_get(ans, "alerts"))) {
            if (json_out) {
                json_dumpf(ans, stdout, JSON_INDENT(2));
                putchar('\n');
            } else {
                print_table(json_object_get(ans, "alerts"));
            }
        } else {
            if (st)
                client_print_error("alert list", st, ans);
            rc = 1;
        }
        json_decref(ans);
        return rc;
    }
    for (int i = 0; i < nargs; i++) {
        char esc[128], path[200];
        if (!client_escape(args[i], esc, sizeof esc)) {
            fprintf(stderr, "carbon alert ack: '%.40s' is not an alert id\n", args[i]);
            rc = 1;
            continue;
        }
        snprintf(path, sizeof path, "/v1/alerts/%s/ack", esc);
        json_t *ans;
        long st = client_call(&cl, "alert", "POST", path, NULL, &ans);
        if (st == 200) {
            printf("alert %s: %s (acknowledged by %s at %s)\n", args[i], str(ans, "state"),
                   str(ans, "acknowledged_by"), str(ans, "acknowledged_at"));
        } else {
            if (st)
                client_print_error("alert ack", st, ans);
            rc = 1;
        }
        json_decref(ans);
    }
    return rc;
}
