/* init.h - what the parts of `bb init` share: the children it started, the signal loop's state, the three modes. */
#ifndef BB_INIT_H
#define BB_INIT_H

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "loop.h"
#include "proc.h"

#define INIT_MAX_KIDS 16      /* daemons in one sidecar */
#define INIT_MAX_ARGS 64      /* words in one BB_<NAME>_ARGS */
#define INIT_NAME_MAX 32
#define INIT_TERMED_MAX 256   /* orphans remembered as already sent SIGTERM (not PID 1) */

enum init_mode { INIT_PLAIN, INIT_SIDECAR, INIT_AGENT };

struct init;

/* One child init started itself (the command, or one sidecar daemon). */
struct init_kid {
	char name[INIT_NAME_MAX];
	char **argv;              /* what to exec; NULL-terminated */
	const char *exec_path;    /* the file to exec (/proc/self/exe for daemons); NULL: search PATH for argv[0] */
	char *argv_store[INIT_MAX_ARGS + 3]; /* daemons: "bb", NAME, ARGS..., NULL */
	char *args_copy;          /* daemons: the split copy of BB_<NAME>_ARGS */
	pid_t pid;                /* > 0 while running */
	uint64_t started_ms;
	unsigned starts;
	struct proc_backoff backoff;
	struct loop_timer restart;
	int gave_up;
	struct init *in;
};

struct init {
	enum init_mode mode;
	struct loop loop;
	int sfd;                  /* signalfd for the forwarded signals and SIGCHLD */
	struct loop_io sio;
	sigset_t saved_mask;      /* the mask bb was started with: children get it back */
	int pid1;
	int tty_handover;         /* give the command the terminal's foreground */
	uint64_t grace_ms;
	struct loop_timer grace;
	struct proc_backoff_policy backoff;
	int draining;             /* stopping: no restarts, leftovers get SIGTERM then SIGKILL */
	int shutdown_sig;         /* the signal that asked for the stop; 0 if none did */
	int others_termed;        /* PID 1: kill(-1, SIGTERM) already sent */
	int killed;               /* the grace period ran out: SIGKILL for everyone */
	int done;
	int worst;                /* worst exit code of the children init started */
	struct init_kid kids[INIT_MAX_KIDS];
	size_t nkids;
	pid_t termed[INIT_TERMED_MAX];
	size_t ntermed;
};

/* reap.c: signals, children, the stop sequence. */

/* Block the handled signals (saving the old mask) and open the signalfd; before any fork. */
int init_signals_open(struct init *in, struct bb_err *e);
/* Start every kid, run the loop until no child is left; returns the exit code for bb init. */
int init_run(struct init *in, struct bb_err *e);

/* sidecar.c: the daemon table from the environment. */

/* Fill in->kids from BB_SIDECAR_DAEMONS and BB_<NAME>_ARGS / BB_POLICY. */
int init_sidecar_load(struct init *in, struct bb_err *e);
void init_sidecar_free(struct init *in);

/* agent.c: the agent's network and privileges. */

struct init_agent {
	const char *gateway;      /* default route via this IP; NULL: leave routes alone */
	const char *dns;          /* nameserver for /etc/resolv.conf; NULL: leave it alone */
	int switch_ids;
	uid_t uid;
	gid_t gid;
	int dev_minimal;          /* take out of /dev what a runtime added beyond the minimal set */
};

/* Every agent step in order; the error names the step that failed. Fail closed: the caller exits. */
int init_agent_setup(const struct init_agent *a, struct bb_err *e);

/* vm.c: PID 1 of a vm bottle's guest (`bb init --vm CONF`): sets the guest up, then runs init_main as --agent. Never returns when it is PID 1. */
int init_vm_main(const char *conf_path);
int init_main(int argc, char **argv);

/* route.c: the default route over rtnetlink (no `ip` binary in the bottle). */

/* Add or replace the main table's default route via gw (IPv4 or IPv6 literal). */
int init_route_default_via(const char *gw, struct bb_err *e);

#endif
