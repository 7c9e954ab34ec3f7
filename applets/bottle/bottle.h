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
/*
 * A bottle's metadata: $BB_HOME/.bb/state/SLUG/meta.json, written
 * atomically by the host process at start and when it ends. The slug is
 * NAME-XXXXXX (six random hex digits), fixed for the bottle's life (resume
 * keeps it). status is "running", "stopped" (ended; resumable) or, when
 * the file says running but host_pid is gone, "dead" (bb bottle cleanup).
 */
#define BOTTLE_SLUG_MAX 96
struct bottle_meta {
	char slug[BOTTLE_SLUG_MAX];
	char agent[64];		/* the agent (or bottle) NAME it was started from */
	char cwd[4096];		/* the host workspace */
	char started_at[40];	/* ISO 8601 UTC, so it sorts as text */
	char backend[16];	/* embedded, oci or docker */
	char status[16];	/* running, stopped, dead */
	char command[16];	/* "run" (one command; state removed at the end) or "start" */
	int bare;		/* started with --bare: no isolation at all */
	int copy_cwd;		/* the workspace is a copy under the state dir */
	int host_pid;		/* the host process that owns it while running */
	int exit_code;		/* the agent's status once stopped; -1 before */
};

/* $BB_HOME/.bb/state (created 0700 with its parent when create is set). 0, or -1 with e set. */
int bottle_state_root(char *out, size_t cap, int create, struct bb_err *e);
/* The state directory of slug (which must be a plain name: no '/', no leading '.'). 0, or -1 with e set. */
int bottle_state_dir(const char *slug, char *out, size_t cap, struct bb_err *e);
/* A new slug for NAME: NAME-XXXXXX from getrandom. */
void bottle_slug_new(const char *name, char out[BOTTLE_SLUG_MAX]);
/* Write m to its state dir's meta.json (atomically, 0600). 0, or -1 with e set. */
int bottle_meta_write(const struct bottle_meta *m, struct bb_err *e);
/* Read slug's meta.json; status "dead" when it says running and host_pid is gone. 0, or -1 with e set. */
int bottle_meta_read(const char *slug, struct bottle_meta *m, struct bb_err *e);
/* Every bottle with a readable meta.json, sorted by started_at then slug; free(*out). 0, or -1 with e set. */
int bottle_meta_list(struct bottle_meta **out, size_t *n, struct bb_err *e);

/* A listening unix socket at path (mode 0600 by umask); the fd, or -1 with e set. */
int bottle_dialer_listen(const char *path, struct bb_err *e);

#endif
