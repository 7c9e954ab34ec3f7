/* bottle.h - the bottle applet's subcommands and what they share. */
#ifndef BB_BOTTLE_H
#define BB_BOTTLE_H

#include "manifest.h"

/* Load every manifest from $BB_HOME (else $HOME) and the current directory; prints system errors. 0 or an exit code. */
int bottle_load(struct manifest *m);

int bottle_validate(int argc, char **argv);
int bottle_plan(int argc, char **argv);
int bottle_ca(int argc, char **argv);
int bottle_proposals(int argc, char **argv);
int bottle_approve(int argc, char **argv);
int bottle_reject(int argc, char **argv);
int bottle_dialer(int argc, char **argv);
int bottle_run(int argc, char **argv);
int bottle_cleanup(int argc, char **argv);
/* A listening unix socket at path (mode 0600 by umask); the fd, or -1 with e set. */
int bottle_dialer_listen(const char *path, struct bb_err *e);

#endif
