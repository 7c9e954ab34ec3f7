/* gitgate_daemon.h - the daemon bb git-gate and bb git-http both are: options, the policy and its scan engines, a forking listener, signals. */
#ifndef BB_GITGATE_DAEMON_H
#define BB_GITGATE_DAEMON_H

#include <stdint.h>

#include "err.h"
#include "gitgate.h"

#define GGD_LISTEN_MAX 8

struct ggd_opts {
	const char *prog;             /* "git-gate" / "git-http", for logs */
	const char *policy_path;
	const char *mirrors_dir;
	const char *keys_dir;
	const char *rules_path;       /* rules for every repo */
	const char *repo_rules_dir;   /* DIR/NAME.yml: one repo's rules and allowlists */
	const char *log_path;
	const char *dialer;           /* the host dialer's socket: upstream SSH goes through it (in a bottle) */
	const char *listen[GGD_LISTEN_MAX];
	size_t nlisten;
	const char *default_listen;
	int timeout_s;                /* client idle timeout */
	int pack_timeout_s;           /* waiting for a pushed pack */
	int max_conns;
	uint64_t max_pack;
	uint64_t max_body;            /* git-http: negotiation request bodies */
	int with_max_body;            /* git-http: -b/--max-body is an option */
};

/* The common options, for the usage texts. */
#define GGD_USAGE_COMMON                                                                        \
	"  -p, --policy FILE      the plan JSON (bb bottle plan --json); its git_gate part\n"      \
	"  -m, --mirrors DIR      where the repos' bare mirrors live (created if missing)\n"        \
	"  -k, --keys DIR         upstream SSH keys as DIR/NAME and DIR/NAME.pub (else the\n"       \
	"                         plan's static key.path and its .pub)\n"                           \
	"  -r, --rules FILE       extra scan rules and allowlists for every repo\n"                \
	"  -R, --repo-rules DIR   DIR/NAME.yml: rules and allowlists for repo NAME only\n"         \
	"  -t, --timeout SECONDS  drop a client idle this long (default 15)\n"                     \
	"  -T, --pack-timeout SECONDS  the wait for a pushed pack's bytes, which the client\n"   \
	"                         counts and compresses first (default 300)\n"                     \
	"  -c, --max-connections N  at most N clients at once (default 32)\n"                      \
	"  -P, --max-pack BYTES   refuse a pushed pack larger than this (default 2147483648)\n"    \
	"  -L, --log FILE|-       JSON-lines log (default - : stderr)\n"                          \
	"  -D, --dialer SOCK      ask the host dialer at SOCK for every upstream connection\n"   \
	"                         (in a bottle's sidecar, which has no route out)\n"             \
	"SIGHUP reloads the policy (a bad one is refused and the old kept); SIGTERM stops\n"       \
	"accepting and waits for the connections in progress (at most 30 s)."

/* git-http's one option of its own, for its usage text. */
#define GGD_USAGE_MAX_BODY                                                                      \
	"  -b, --max-body BYTES   cap on an upload-pack request body (default 1048576;\n"         \
	"                         receive-pack bodies are capped by --max-pack)\n"

/*
 * Defaults into o (with_max_body: git-http, which also takes -b/--max-body).
 * Then ggd_args reads argv into o: GGD_ARGS_RUN, GGD_ARGS_HELP for -h/--help,
 * or GGD_ARGS_USAGE with e saying what is wrong (an unknown option, a bad
 * value, an operand, --policy or --mirrors missing); the applet prints.
 */
void ggd_opts_init(struct ggd_opts *o, const char *prog, const char *default_listen, int with_max_body);
enum { GGD_ARGS_RUN, GGD_ARGS_HELP, GGD_ARGS_USAGE };
int ggd_args(struct ggd_opts *o, int argc, char **argv, struct bb_err *e);

/* Serve one accepted connection in a child process; returns its exit status. */
typedef int (*ggd_serve_fn)(const struct gitgate_server *srv, int fd, const struct ggd_opts *o, struct bb_err *e);

/*
 * Run the daemon: load the policy (exit 2 when it is bad at start), make the
 * mirrors directory, listen, then fork a child per connection (libgit2 is
 * only ever initialised in the children, so no library state — the SSH
 * stack's random generator included — is shared between connections).
 * Returns the exit code, with e saying why when the daemon could not start.
 * A connection's child returns too (with its serve's 0 or 1, the daemon's
 * descriptors closed), so the applet's return ends it the way exit would.
 */
int ggd_run(const struct ggd_opts *o, ggd_serve_fn serve, struct bb_err *e);

#endif
