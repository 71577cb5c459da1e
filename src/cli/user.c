/* user.c - carbon user add|list|show|passwd|delete and carbon device
 * add|list|rotate-key|delete: people and devices of a running server, over
 * its API (so the server's checks, cache and logs see every change). */
#include "cli/cli.h"

#include "cli/client.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static void user_usage(FILE *out)
{
    fprintf(out, "Usage: carbon user add --name NAME [--email E] [--phone P] [--country CC]\n"
                 "                       [--admin] [--password-stdin]\n"
                 "       carbon user list [--json]\n"
                 "       carbon user show ID [--json]\n"
                 "       carbon user passwd ID [--password-stdin]\n"
                 "       carbon user delete ID\n"
                 "       (all also take [--server URL] [--config FILE])\n\n"
                 "Manages the users of a running carbon server over its API, with the admin\n"
                 "token from CARBON_ADMIN_TOKEN or CARBON_ADMIN_TOKEN_FILE.\n\n"
                 "  --phone    E.164 (+447700900123), or a national number with --country\n"
                 "  --country  ISO 3166-1 alpha-2 code (GB, US, IN...) for national numbers\n"
                 "  --admin    the user may do everything an admin can\n"
                 "  --password-stdin  read the password from standard input (first line);\n"
                 "             without it, add and passwd ask on the terminal (no echo), and\n"
                 "             add creates a user who cannot log in if none is given\n"
                 "  --json     print the server's JSON\n"
                 "  --server   the server's URL [default: http://CARBON_LISTEN]\n\n"
                 "Passwords: at least 10 characters, not a common one. They are sent to the\n"
                 "server only, never shown or logged.\n"
                 "Exit status: 0 done, 1 the server refused or could not be reached, 2 usage.\n");
}

static void device_usage(FILE *out)
{
    fprintf(out, "Usage: carbon device add ID [--name NAME] [--location TEXT] [--owner USER_ID]\n"
                 "       carbon device list [--json]\n"
                 "       carbon device rotate-key ID\n"
                 "       carbon device delete ID\n"
                 "       (all also take [--server URL] [--config FILE])\n\n"
                 "Manages the devices of a running carbon server over its API, with the admin\n"
                 "token from CARBON_ADMIN_TOKEN or CARBON_ADMIN_TOKEN_FILE. add and rotate-key\n"
                 "print the device's API key: it is shown this once (the server keeps only\n"
                 "its hash). delete removes the device with its readings and alerts.\n"
                 "Exit status: 0 done, 1 the server refused or could not be reached, 2 usage.\n");
}

/* Reads a password: the first line of stdin, or from the terminal without
 * echo. False if none could be read. */
static bool read_password(bool from_stdin, const char *prompt, char *out, size_t len)
{
    bool tty = !from_stdin && isatty(STDIN_FILENO);
    if (!from_stdin && !tty)
        return false;
    struct termios old, quiet;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(STDIN_FILENO, &old);
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    bool ok = fgets(out, (int)len, stdin) != NULL;
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (ok)
        out[strcspn(out, "\r\n")] = '\0';
    return ok && out[0];
}

static const char *str(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

static void print_json(const json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2));
    putchar('\n');
}

/* Runs one call; prints the error and returns 1 unless status is want. */
static int call(struct client *cl, const char *cmd, const char *method, const char *path,
                json_t *body, long want, json_t **ans)
{
    long st = client_call(cl, cmd, method, path, body, ans);
    if (st == want)
        return 0;
    if (st)
        client_print_error(cmd, st, *ans);
    json_decref(*ans);
    *ans = NULL;
    return 1;
}

struct opts {
    const char *name, *email, *phone, *country, *location, *owner, *server, *config;
    bool admin, pw_stdin, json;
    int nargs;
    char **args;
};

/* Parses the options shared by user and device; false on a usage error. */
static bool parse(int argc, char **argv, struct opts *o, void (*usage)(FILE *))
{
    static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                         {"email", required_argument, NULL, 'e'},
                                         {"phone", required_argument, NULL, 'p'},
                                         {"country", required_argument, NULL, 'C'},
                                         {"location", required_argument, NULL, 'L'},
                                         {"owner", required_argument, NULL, 'o'},
                                         {"admin", no_argument, NULL, 'a'},
                                         {"password-stdin", no_argument, NULL, 'P'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"server", required_argument, NULL, 'S'},
                                         {"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    memset(o, 0, sizeof *o);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            o->name = optarg;
            break;
        case 'e':
            o->email = optarg;
            break;
        case 'p':
            o->phone = optarg;
            break;
        case 'C':
            o->country = optarg;
            break;
        case 'L':
            o->location = optarg;
            break;
        case 'o':
            o->owner = optarg;
            break;
        case 'a':
            o->admin = true;
            break;
        case 'P':
            o->pw_stdin = true;
            break;
        case 'j':
            o->json = true;
            break;
        case 'S':
            o->server = optarg;
            break;
        case 'c':
            o->config = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
    }
    o->nargs = argc - optind;
    o->args = argv + optind;
    return true;
}

static bool want_args(const char *cmd, const struct opts *o, int n)
{
    if (o->nargs == n)
        return true;
    fprintf(stderr, "carbon %s: expected %d argument(s), got %d (see --help)\n", cmd, n, o->nargs);
    return false;
}

/* Escapes an id for a path; false (with a message) if it cannot be. */
static bool path_of(const char *cmd, const char *prefix, const char *id, const char *suffix,
                    char *out, size_t len)
{
    char esc[256];
    if (!client_escape(id, esc, sizeof esc) ||
        (size_t)snprintf(out, len, "%s%s%s", prefix, esc, suffix) >= len) {
        fprintf(stderr, "carbon %s: '%.40s' is too long for an id\n", cmd, id);
        return false;
    }
    return true;
}

int cli_user(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        user_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    struct opts o;
    if (!parse(argc - 1, argv + 1, &o, user_usage))
        return 2;
    struct client cl;
    json_t *ans = NULL, *body = NULL;
    char path[512], pw[300];
    int rc;
    if (strcmp(sub, "add") == 0) {
        if (!want_args("user add", &o, 0))
            return 2;
        if (!o.name) {
            fprintf(stderr, "carbon user add: --name is required\n");
            return 2;
        }
        if (!client_init(&cl, "user", o.server, o.config))
            return 2;
        body = json_pack("{s:s}", "name", o.name);
        if (o.email)
            json_object_set_new(body, "email", json_string(o.email));
        if (o.phone)
            json_object_set_new(body, "phone", json_string(o.phone));
        if (o.country)
            json_object_set_new(body, "country", json_string(o.country));
        if (o.admin)
            json_object_set_new(body, "admin", json_true());
        if (read_password(o.pw_stdin, "Password for the new user (empty: cannot log in): ", pw,
                          sizeof pw))
            json_object_set_new(body, "password", json_string(pw));
        memset(pw, 0, sizeof pw);
        rc = call(&cl, "user add", "POST", "/v1/users", body, 201, &ans);
        if (!rc) {
            if (o.json)
                print_json(ans);
            else
                printf("user %s created (%s)\n", str(ans, "id"), str(ans, "name"));
        }
    } else if (strcmp(sub, "list") == 0) {
        if (!want_args("user list", &o, 0) || !client_init(&cl, "user", o.server, o.config))
            return 2;
        rc = call(&cl, "user list", "GET", "/v1/users", NULL, 200, &ans);
        if (!rc && o.json) {
            print_json(ans);
        } else if (!rc) {
            printf("%-26s %-24s %-28s %-16s %s\n", "ID", "NAME", "EMAIL", "PHONE", "ADMIN");
            size_t i;
            const json_t *u;
            json_array_foreach(json_object_get(ans, "users"), i, u)
            {
                printf("%-26s %-24.24s %-28.28s %-16s %s\n", str(u, "id"), str(u, "name"),
                       str(u, "email"), str(u, "phone"),
                       json_is_true(json_object_get(u, "admin")) ? "yes" : "no");
            }
        }
    } else if (strcmp(sub, "show") == 0 || strcmp(sub, "delete") == 0) {
        bool show = sub[0] == 's';
        if (!want_args(show ? "user show" : "user delete", &o, 1) ||
            !path_of("user", "/v1/users/", o.args[0], "", path, sizeof path) ||
            !client_init(&cl, "user", o.server, o.config))
            return 2;
        rc = call(&cl, show ? "user show" : "user delete", show ? "GET" : "DELETE", path, NULL,
                  show ? 200 : 204, &ans);
        if (!rc && show)
            print_json(ans);
        else if (!rc)
            printf("user %s deleted (their devices now have no owner)\n", o.args[0]);
    } else if (strcmp(sub, "passwd") == 0) {
        if (!want_args("user passwd", &o, 1) ||
            !path_of("user", "/v1/users/", o.args[0], "", path, sizeof path))
            return 2;
        if (!read_password(o.pw_stdin, "New password: ", pw, sizeof pw)) {
            fprintf(stderr, "carbon user passwd: no password (use --password-stdin when "
                            "not on a terminal)\n");
            return 2;
        }
        if (!client_init(&cl, "user", o.server, o.config))
            return 2;
        body = json_pack("{s:s}", "password", pw);
        memset(pw, 0, sizeof pw);
        rc = call(&cl, "user passwd", "PATCH", path, body, 200, &ans);
        if (!rc)
            printf("password of user %s changed\n", o.args[0]);
    } else {
        fprintf(stderr, "carbon user: unknown subcommand '%s'\n\n", sub);
        user_usage(stderr);
        return 2;
    }
    json_decref(body);
    json_decref(ans);
    return rc;
}

int cli_device(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        device_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    struct opts o;
    if (!parse(argc - 1, argv + 1, &o, device_usage))
        return 2;
    struct client cl;
    json_t *ans = NULL, *body = NULL;
    char path[512];
    int rc;
    if (strcmp(sub, "add") == 0) {
        if (!want_args("device add", &o, 1) || !client_init(&cl, "device", o.server, o.config))
            return 2;
        body = json_pack("{s:s}", "id", o.args[0]);
        if (o.name)
            json_object_set_new(body, "name", json_string(o.name));
        if (o.location)
            json_object_set_new(body, "location", json_string(o.location));
        if (o.owner)
            json_object_set_new(body, "owner", json_string(o.owner));
        rc = call(&cl, "device add", "POST", "/v1/devices", body, 201, &ans);
        if (!rc)
            printf("device %s registered\napi_key: %s\n(shown once: put it in the device now)\n",
                   str(ans, "id"), str(ans, "api_key"));
    } else if (strcmp(sub, "list") == 0) {
        if (!want_args("device list", &o, 0) || !client_init(&cl, "device", o.server, o.config))
            return 2;
        rc = call(&cl, "device list", "GET", "/v1/devices", NULL, 200, &ans);
        if (!rc && o.json) {
            print_json(ans);
        } else if (!rc) {
            printf("%-24s %-20s %-8s %-26s %s\n", "ID", "NAME", "STATUS", "OWNER", "LAST SEEN");
            size_t i;
            const json_t *d;
            json_array_foreach(json_object_get(ans, "devices"), i, d)
            {
                printf("%-24.24s %-20.20s %-8s %-26s %s\n", str(d, "id"), str(d, "name"),
                       str(d, "status"), str(d, "owner"), str(d, "last_seen"));
            }
        }
    } else if (strcmp(sub, "rotate-key") == 0) {
        if (!want_args("device rotate-key", &o, 1) ||
            !path_of("device", "/v1/devices/", o.args[0], "/keys", path, sizeof path) ||
            !client_init(&cl, "device", o.server, o.config))
            return 2;
        rc = call(&cl, "device rotate-key", "POST", path, NULL, 201, &ans);
        if (!rc)
            printf("new api_key of %s: %s\n(the old key stopped working)\n", o.args[0],
                   str(ans, "api_key"));
    } else if (strcmp(sub, "delete") == 0) {
        if (!want_args("device delete", &o, 1) ||
            !path_of("device", "/v1/devices/", o.args[0], "", path, sizeof path) ||
            !client_init(&cl, "device", o.server, o.config))
            return 2;
        rc = call(&cl, "device delete", "DELETE", path, NULL, 204, &ans);
        if (!rc)
            printf("device %s deleted with its readings and alerts\n", o.args[0]);
    } else {
        fprintf(stderr, "carbon device: unknown subcommand '%s'\n\n", sub);
        device_usage(stderr);
        return 2;
    }
    json_decref(body);
    json_decref(ans);
    return rc;
}
