/* cli.h - the carbon subcommands. Each returns the process exit status. */
#ifndef CARBON_CLI_H
#define CARBON_CLI_H

int cli_serve(int argc, char **argv);
int cli_version(int argc, char **argv);
int cli_alert(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_device(int argc, char **argv);
int cli_graph(int argc, char **argv);
int cli_sim(int argc, char **argv);

#endif
