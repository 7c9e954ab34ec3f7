/* gate.h - what bb git-gate and bb git-http share: options, the policy and its scan engines, a forking listener, signals. */
#ifndef BB_GIT_GATE_GATE_H
#define BB_GIT_GATE_GATE_H

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

#define GGD_SPEC "h(help)p:(policy)m:(mirrors)k:(keys)r:(rules)R:(repo-rules)t:(timeout)T:(pack-timeout)c:(max-connections)P:(max-pack)L:(log)l:(listen)D:(dialer)"

/*
 * Defaults into o; then ggd_opt for each option opt_next returned: 1 when
 * it was one of the common ones, 0 when not (the caller handles it), -1
 * with e for a bad value.
 */
void ggd_opts_init(struct ggd_opts *o, const char *prog, const char *default_listen);
int ggd_opt(struct ggd_opts *o, int c, const char *arg, struct bb_err *e);

/* Serve one accepted connection in a child process; returns its exit status. */
typedef int (*ggd_serve_fn)(const struct gitgate_server *srv, int fd, const struct ggd_opts *o, struct bb_err *e);

/*
 * Run the daemon: load the policy (exit 2 when it is bad at start), make the
 * mirrors directory, listen, then fork a child per connection (libgit2 is
 * only ever initialised in the children, so no library state — the SSH
 * stack's random generator included — is shared between connections).
 * Returns the exit code.
 */
int ggd_run(const struct ggd_opts *o, ggd_serve_fn serve);

#endif
