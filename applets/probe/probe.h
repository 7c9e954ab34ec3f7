/* probe.h - the probe applet's subcommands: each checks one library or upstream path end to end. */
#ifndef BB_PROBE_H
#define BB_PROBE_H

/* Each takes argv as seen after "probe" (argv[0] is the subcommand name) and returns an exit code. */
int probe_tls(int argc, char **argv);
int probe_yaml(int argc, char **argv);
int probe_json(int argc, char **argv);
int probe_git_commit(int argc, char **argv);
int probe_git_ls_remote(int argc, char **argv);

#endif
