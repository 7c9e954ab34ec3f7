/* bottle.h - the bottle applet's subcommands and what they share. */
#ifndef BB_BOTTLE_H
#define BB_BOTTLE_H

#include "manifest.h"

struct cJSON;

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
int bottle_dashboard(int argc, char **argv);
int bottle_image(int, char **);
/*
 * A bottle's metadata: $BB_HOME/.bb/host/SLUG/meta.json, written
 * atomically by the host process at start and when it ends. The host
 * directory is the host's alone: neither the agent nor the sidecar sees it
 * (the state directory, which the sidecar writes, holds nothing the host
 * trusts). The slug is NAME-XXXXXX (six random hex digits), fixed for the
 * bottle's life (resume keeps it). status is "running", "stopped" (ended;
 * resumable) or, when the file says running but its host process is gone
 * (the pid no longer names the process that started at host_start in boot
 * boot_id), "dead" (bb bottle cleanup).
 */
#define BOTTLE_SLUG_MAX 96
struct bottle_meta {
	char slug[BOTTLE_SLUG_MAX];
	char agent[64];		/* the agent (or bottle) NAME it was started from */
	char cwd[4096];		/* the host workspace */
	char started_at[40];	/* ISO 8601 UTC, so it sorts as text */
	char backend[16];	/* a backend's name (host/backend.h) */
	char runtime[64];	/* oci: the --runtime it runs (runc, crun, runsc); else "" */
	char kernel[4096];	/* vm: the --kernel it boots; "" when found (docs/runtime.md) */
	char status[16];	/* running, stopped, dead */
	char command[16];	/* "run" (one command; state removed at the end) or "start" */
	char image[64];		/* the imported image the agent's root is, or "" (the host's, read-only) */
	int bare;		/* started with --bare: no isolation at all */
	int copy_cwd;		/* the workspace is a copy under the state dir */
	int host_pid;		/* the host process that owns it while running */
	unsigned long long host_start; /* its start time (clock ticks after boot): pid + start + boot name it */
	char boot_id[40];	/* the boot it ran in */
	int exit_code;		/* the agent's status once stopped; -1 before */
};

/* $BB_HOME/.bb/host/SLUG: the host's own record of a bottle (created 0700 when create is set). 0, or -1 with e set. */
int bottle_host_dir(const char *slug, int create, char *out, size_t cap, struct bb_err *e);
/* Record this process as m's host process (pid, start time, boot id). 0, or -1 with e set. */
int bottle_host_identify(struct bottle_meta *m, struct bb_err *e);
/* Whether m's host process still runs (the same process, not a reused pid): 1, 0, or -1. */
int bottle_host_alive(const struct bottle_meta *m);
/* Signal m's host process if it is still that process (pidfd, race-free): 1 signalled, 0 gone, -1 with e set. */
int bottle_host_signal(const struct bottle_meta *m, int sig, struct bb_err *e);
/* $BB_HOME/.bb/state (created 0700 with its parent when create is set). 0, or -1 with e set. */
int bottle_state_root(char *out, size_t cap, int create, struct bb_err *e);
/* The state directory of slug (which must be a plain name: no '/', no leading '.'). 0, or -1 with e set. */
int bottle_state_dir(const char *slug, char *out, size_t cap, struct bb_err *e);
/* A new slug for NAME: NAME-XXXXXX from getrandom. */
void bottle_slug_new(const char *name, char out[BOTTLE_SLUG_MAX]);
/* Write m to its host dir's meta.json (atomically, 0600). 0, or -1 with e set. */
int bottle_meta_write(const struct bottle_meta *m, struct bb_err *e);
/* Read slug's meta.json, refusing values bb does not write; status "dead" when it says running and its host
 * process is gone. 0, or -1 with e set (code ENOENT: no such bottle). */
int bottle_meta_read(const char *slug, struct bottle_meta *m, struct bb_err *e);
/* How long ago an ISO 8601 UTC time was, short: 42s, 5m, 3h, 2d ("?" when it does not parse). */
void bottle_age(const char *iso, long long now, char *out, size_t cap);
/*
 * The host-side dialer's copy of a bottle's policy: $BB_HOME/.bb/host/SLUG/dialer.json,
 * outside the state dir the sidecar can write (creating the directory, 0700,
 * when create is set). Only the host changes it: the session writes it, an
 * approval from the operator (bb bottle approve, the dashboard) merges into
 * it. 0, or -1 with e set.
 */
int bottle_dialer_policy(const char *slug, int create, char *out, size_t cap, struct bb_err *e);
/*
 * What an operator's approval changes (docs/supervise.md, "What approval does"): bb bottle approve's
 * options, the dashboard's prompt. cred-block takes token_env, the host variable whose value egress
 * injects; capability-block takes an image and host paths bound read-only, from the next resume.
 */
#define APPROVAL_MOUNTS_MAX 8
struct approval_change {
	const char *token_env;
	const char *image;
	const char *mounts[APPROVAL_MOUNTS_MAX];
	size_t nmounts;
};
/*
 * Decide proposal id in queue qdir as the operator (status "approved" or "rejected"). An approval takes
 * effect, or nothing is decided: for a bottle this bb runs (qdir is $BB_HOME/.bb/state/SLUG/supervise)
 * egress-block, cred-block and dlp-block are merged into the host's dialer policy (supervise merges them
 * into the sidecar's); a cred-block's value is read from this environment and handed, in memory, to the
 * running bottle's host process (dialer control socket), never written; every approval but a question's is
 * appended to the host record (approvals.json) a resume applies; a capability-block is recorded for the
 * next resume and the proposal says so. Refused (BB_EINVAL, the proposal left pending): options the tool
 * does not take, a cred-block without token_env or with an unset variable, a dlp-block rule egress does
 * not have, a capability-block without a change, a cred or capability for a queue that is no bottle's.
 * *out gets the decided document; msg (cap) says, for the operator, what happens and when. 0, or -1.
 */
int bottle_decide(const char *qdir, const char *id, const char *status, const char *note,
		  const struct approval_change *ch, struct cJSON **out, char *msg, size_t cap, struct bb_err *e);
/* The dialer's control socket: $BB_HOME/.bb/host/SLUG/ctl.sock (refused when too long for a unix socket). */
int bottle_control_socket(const char *slug, char *out, size_t cap, struct bb_err *e);
/* What the approvals of a resumed bottle change about how it runs (capability-block). */
#define APPROVED_MOUNTS_MAX 32
struct approved_caps {
	char image[65];                       /* the agent's root, or "" */
	char mounts[APPROVED_MOUNTS_MAX][4096]; /* host paths bound read-only */
	size_t nmounts;
};
/*
 * At resume: the host record's approvals applied to the freshly built plan (routes, credentials whose
 * host variable is set here, DLP allowances; what no longer applies is said and skipped) and the
 * capabilities collected into caps; each one that applies is said on stderr. 0, or -1 with e set (an
 * approved image that is gone).
 */
int bottle_approvals_resume(struct bottle_meta *meta, struct cJSON *plan, struct approved_caps *caps, struct bb_err *e);
/* Every bottle with a readable meta.json, sorted by started_at then slug; free(*out). 0, or -1 with e set. */
int bottle_meta_list(struct bottle_meta **out, size_t *n, struct bb_err *e);

/*
 * One bottle's life on the host: plan, state, CA, the sidecar's and the
 * agent's environments, the dialer, the runtime; returns the agent's exit
 * status (or an exit code after printing why it did not start). run uses
 * it with a command and removes the state at the end; start and resume
 * keep the state (plan, logs, the agent's home, a copied workspace) so
 * the bottle can be resumed, and run the provider's agent when argv is NULL.
 */
struct session {
	const char *name;      /* the agent (or bottle) NAME */
	const char *resume;    /* the slug of a stopped bottle to start again; NULL: a new one */
	const char *workspace; /* the host directory (an absolute, resolved path) */
	const char *keep_log;  /* copy egress's audit log here at the end, or NULL */
	const char *hosts;     /* the dialer's hosts file (tests), or NULL */
	const char *backend;   /* a backend's name (host/backend.h) */
	const char *runtime;   /* with oci: runc, crun or runsc; NULL: runc */
	const char *kernel;    /* with vm: the guest kernel; NULL: found */
	const char *image;     /* an imported image (bb bottle image import) as the agent's root, or NULL */
	int bare;              /* no isolation (asked for explicitly) */
	int keep_state;        /* start/resume: keep the state dir for resume */
	int copy_cwd;          /* the agent works on a copy of the workspace */
	int no_provider;       /* run --no-provider: none of the provider's environment, files or program */
	int dry_run;           /* --dry-run: list the steps with what they would use (resolving only); touch nothing */
	char *const *argv;     /* the command; NULL: the provider's agent program */
};
int bottle_session(const struct session *s);
/* --bare given, or BB_BARE=1 in the environment. */
int bottle_bare_asked(int flag);
/* The workspace: arg (-C DIR) or the current directory, resolved into out. 0, or an exit code after saying why. */
int bottle_workspace(const char *arg, char out[4096]);
int bottle_start(int argc, char **argv);
int bottle_resume(int argc, char **argv);
int bottle_list(int argc, char **argv);
int bottle_inspect(int argc, char **argv);
int bottle_logs(int argc, char **argv);
int bottle_stop(int argc, char **argv);

/* The agent's HOME inside a bottle: the runtime mounts STATE/home there. */
#define AGENT_HOME "/tmp/home"

/* What a provider template needs to prepare the agent (provider.c). */
struct provider_ctx {
	const char *template_;      /* claude, codex or command (the manifest's agent_provider.template) */
	const char *const *command; /* template command: the program and its arguments */
	size_t ncommand;
	const char *auth_token_ref; /* the host variable egress injects for it, or "" */
	const char *api_key_ref;    /* the host variable with an API key egress injects, or "" */
	const char *prompt;         /* the agent's prompt (Markdown), or NULL */
	const char *home;           /* the agent's home on the host (state dir/home), for messages */
	int home_fd;                /* that directory, opened without following links: every write goes through it */
	const char *agent_home;     /* the same as the agent sees it (AGENT_HOME; with --bare, home) */
	const char *ca_bundle;      /* the CA bundle the agent trusts, as it sees it */
	const char *workspace;      /* the workspace as the agent sees it */
	unsigned uid, gid;          /* the agent's owner for the files written */
	int resume;                 /* continue the last session instead of a new one */
	int codex_host_credentials; /* codex: forward_host_credentials (a dummy auth.json; egress holds the token) */
};
struct provider_cmd {
	char *argv[16];             /* the agent program and its arguments (pointers into static text or ctx) */
	size_t argc;
	const char *env[8];         /* "NAME=value" additions: placeholders, never a real token */
	size_t nenv;
	char prompt_path[4200];     /* storage for argv/env strings made from paths */
	char codex_home[4200];
	char codex_ca[4200];
};
/* Write the template's files into ctx->home and fill pc. 0, or -1 with e set. */
int provider_prepare(const struct provider_ctx *c, struct provider_cmd *pc, struct bb_err *e);
/*
 * The host's Codex access token (from $CODEX_HOME/auth.json, else
 * ~/.codex/auth.json), for egress to inject: user/device auth only, a JWT
 * not expired. *out is malloc'd. 0, or -1 with e saying what to do.
 */
int provider_codex_token(char **out, struct bb_err *e);
/*
 * The provider's agent program on the host (claude, codex: found on PATH or
 * at agent_provider.program) and what of the host it needs (lib/agentprog.h).
 * p->nneed is 0 for a template without one (command). 0, or -1 with e set.
 */
struct agentprog;
int provider_program(const struct mf_bottle *b, struct agentprog *p, struct bb_err *e);
/* Copy each named skill from $BB_HOME (else $HOME)/.claude/skills/NAME into the agent's ~/.claude/skills. 0, or -1 with e set. */
int provider_skills(const struct provider_ctx *c, const char *const *skills, size_t n, struct bb_err *e);

/* A listening unix socket at path (mode 0600 by umask); the fd, or -1 with e set. */
int bottle_dialer_listen(const char *path, struct bb_err *e);

#endif
