/* main.c - carbon: one binary, subcommands dispatched from a table. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"serve", cli_serve, "run the API on the embedded database (carbon serve --help)"},
    {"user", cli_user, "add, list, show, passwd or delete users of a running server"},
    {"device", cli_device, "add, list, rotate-key or delete devices of a running server"},
    {"alert", cli_alert, "list or acknowledge the alarms of a running server"},
    {"graph", cli_graph, "draw a device's CO chart to an SVG file"},
    {"sim", cli_sim, "run simulated sensors (the firmware core) against a server"},
    {"version", cli_version, "print the version of carbon and its libraries"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: carbon <command> [options]\n\n"
                 "Car-Bon: carbon-monoxide monitoring. Commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'carbon <command> --help' describes each command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0)
        cmd = "version";
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "carbon: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
