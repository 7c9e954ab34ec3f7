/* dialer.h - the host side of the dial protocol (lib/dial.h): re-check policy, resolve, connect, pass the socket to the sidecar. */
#ifndef BB_HOST_DIALER_H
#define BB_HOST_DIALER_H
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "route.h"

#define DIALER_CONNECT_MS 10000
#define DIALER_GIT_MAX 64 /* as GITGATE_REPOS_MAX */
#define DIALER_TOKENS_MAX 64 /* credentials approved while one bottle runs */

/* A git upstream the plan's git_gate.repos name: SSH to exactly this host and port. */
struct dialer_git_upstream {
	char host[256];
	uint16_t port;
};

/* What the dialer allows: the egress routes, and the git-gate's upstreams. */
struct dialer_policy {
	struct route_policy *egress;
	struct dialer_git_upstream git[DIALER_GIT_MAX];
	size_t ngit;
};

/*
 * Read the plan at path: its egress routes (lib/route.h) and
 * the host and port of each git_gate.repos entry. 0, or -1 with e (the
 * file, the egress part, or a repo without a host or a port 1-65535).
 * Free with dialer_policy_free.
 */
int dialer_policy_load(const char *path, struct dialer_policy *dp, struct bb_err *e);
/* Parse the same from a plan document already in memory (what names it in errors). */
int dialer_policy_parse(const char *what, const char *json, size_t len, struct dialer_policy *dp, struct bb_err *e);
void dialer_policy_free(struct dialer_policy *dp);

/* The git upstream exactly matching host (any case, a trailing dot ignored) and port, or NULL. */
const struct dialer_git_upstream *dialer_git_upstream(const struct dialer_policy *dp, const char *host, uint16_t port);

/*
 * Answer one DIAL request on conn (blocking; the dialer forks a child per
 * request so a slow upstream never holds up another). Two kinds of
 * request are allowed:
 * - host:port is a git upstream the plan names (git_gate.repos host AND
 *   port): every address the name resolves to must be public, private,
 *   loopback, CGNAT or ULA — the operator named this exact endpoint, and
 *   self-hosted forges live on private networks — but never link-local,
 *   cloud metadata, multicast, broadcast or reserved;
 * - else the host must have an egress route (any port): every address
 *   must be public or inside the route's ssrf_ip_allowlist.
 * Names resolve with hosts_path first (or /etc/hosts when NULL), then the
 * system resolver; the first allowed address that connects is sent back.
 * A TOKEN SLOT request (lib/dial.h) is answered with the value of an
 * approved credential the control socket handed over, when the policy
 * puts that slot on a route; else ERR no-token.
 * Returns 0 when an answer (OK or ERR) was sent, -1 when conn failed.
 */
int dialer_handle(int conn, const struct dialer_policy *p, const char *hosts_path);

/*
 * Accept on the listening unix socket lfd and answer each connection in a
 * child process, until *stop is set (by a signal handler). The policy is
 * read from policy_path, and read again whenever that file is replaced
 * (supervise merges approved routes into it): a new policy that does not
 * parse is ignored and the last good one kept. ctl_fd (or -1), a listening
 * socket in the host-only record of the bottle, takes credentials the
 * operator approves (TOKEN SLOT + a memfd, lib/dial.h) from this user or
 * root; they stay in this process's memory and are handed to the sidecar
 * for a slot the policy puts on a route (TOKEN SLOT on lfd). Children are not waited
 * for (SIGCHLD is set to be discarded). 0, or -1 with e set (the first
 * read failed, or accept did).
 */
int dialer_serve(int lfd, int ctl_fd, const char *policy_path, const char *hosts_path, volatile sig_atomic_t *stop,
		 struct bb_err *e);

#endif
