/* runtime.h - the embedded runtime: a sidecar and an agent in their own namespaces, joined by one veth, nothing else reachable. */
#ifndef BB_HOST_RUNTIME_H
#define BB_HOST_RUNTIME_H
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/*
 *   host netns                 sidecar netns                  agent netns
 *   bb bottle run ─ dialer ◄── egress (no route out) ◄─ veth ─ agent (default
 *   (dials upstreams,  unix     10.231.0.1/24                  route → sidecar)
 *    re-checks policy) socket                                  10.231.0.2/24
 *
 * Both sides get new mount, pid, net, uts and ipc namespaces; bb init is
 * PID 1 in each. The agent sees the host filesystem read-only except its
 * workspace (read-write) and fresh tmpfs on /tmp and /run; the bottle's
 * state directory (tokens, plan) is hidden under an empty tmpfs. The
 * sidecar's only network is the veth: the host-side dialer connects
 * upstreams for it (lib/dial.h), re-checking policy, so even a compromised
 * sidecar reaches nothing the policy does not name.
 */

#define RT_SIDECAR_ADDR "10.231.0.1"
#define RT_AGENT_ADDR "10.231.0.2"
#define RT_PREFIX 24
#define RT_CA_BUNDLE_MAX (8u << 20) /* the agent's CA bundle (system roots + bottle CA) */

struct rt_config {
	const char *bb_path;   /* this binary (re-executed as init and daemons) */
	const char *state_dir; /* private (0700) directory of this bottle: plan, sockets, logs */
	const char *plan_path; /* the plan JSON the sidecar reads */
	const char *ca_dir;    /* the bottle CA (ca.crt, ca.key) */
	const char *workspace; /* bind-mounted read-write into the agent */
	const char *home_dir;  /* bind-mounted read-write as the agent's HOME (/tmp/home); NULL: an empty one */
	volatile pid_t *agent_pid; /* if set: the agent side's top process while it runs (stop forwards SIGTERM to it), else 0 */
	const char *hosts_path; /* the dialer's hosts file override (tests), or NULL */
	const char *daemons;   /* BB_SIDECAR_DAEMONS */
	uid_t uid;             /* the agent runs as this non-root user */
	gid_t gid;
	char *const *argv;     /* the agent's command */
	char **agent_env;      /* its environment (proxy, CA and gate variables added by the caller) */
	char **sidecar_env;    /* the sidecar's: token slots live here only */
	int fault;             /* test hook: fail at step N (BB_RT_FAULT); 0 = never */
};

/*
 * Run one bottle to completion: stage the network, start the sidecar,
 * wait until egress listens, run the agent, tear everything down. On
 * success *exit_code is the agent command's status (128+n for a signal).
 * Any isolation step that fails stops the run with e naming the step and
 * the kernel's error, after killing what was started (fail closed).
 */
int rt_run(const struct rt_config *c, int *exit_code, struct bb_err *e);

/*
 * The veth between the namespaces open at s_ns (sidecar) and a_ns (agent),
 * addresses, loopback, the agent's default route; self_ns is where the
 * caller returns. Shared with the OCI backend. 0, or -1 with e set.
 */
int rt_wire(int self_ns, int s_ns, int a_ns, struct bb_err *e);
/* The agent's resolv.conf: the sidecar answers (bb dns). */
#define RT_AGENT_RESOLV "nameserver " RT_SIDECAR_ADDR "\noptions timeout:2 attempts:2\n"

/*
 * The CA bundle the agent trusts, appended to out: the system roots
 * (TLS_DEFAULT_CA_FILE; none if missing) and the bottle CA's certificate
 * (ca_dir/ca.crt, required). 0, or -1 with e naming the file.
 */
int rt_agent_ca_bundle(const struct rt_config *c, struct buf *out, struct bb_err *e);

/*
 * The agent side's argv: `ARGV0 init --agent --uid U --gid G -- CMD...`,
 * with uid and gid written into the caller's buffers (16 bytes each).
 * calloc'd (the strings are not copied); NULL when out of memory.
 */
char **rt_agent_argv(const struct rt_config *c, const char *argv0, char uid[16], char gid[16]);

/* Until egress accepts on the sidecar's address (a socket made in s_ns), at most timeout_ms. */
int rt_wait_egress(int self_ns, int s_ns, int timeout_ms, struct bb_err *e);

#endif
