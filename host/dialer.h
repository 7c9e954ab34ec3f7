/* dialer.h - the host side of the dial protocol (lib/dial.h): re-check policy, resolve, connect, pass the socket to the sidecar. */
#ifndef BB_HOST_DIALER_H
#define BB_HOST_DIALER_H
#include <signal.h>

#include "err.h"
#include "route.h"

#define DIALER_CONNECT_MS 10000

/*
 * Answer one DIAL request on conn (blocking; the dialer forks a child per
 * request so a slow upstream never holds up another). The host must have
 * a route in p; every address the name resolves to (hosts_path first, or
 * /etc/hosts when NULL, then the system resolver) must be public or inside
 * the route's ssrf_ip_allowlist; the first that connects is sent back.
 * Returns 0 when an answer (OK or ERR) was sent, -1 when conn failed.
 */
int dialer_handle(int conn, const struct policy *p, const char *hosts_path);

/*
 * Accept on the listening unix socket lfd and answer each connection in a
 * child process, until *stop is set (by a signal handler). The policy is
 * read from policy_path, and read again whenever that file is replaced
 * (supervise merges approved routes into it): a new policy that does not
 * parse is ignored and the last good one kept. Children are not waited
 * for (SIGCHLD is set to be discarded). 0, or -1 with e set (the first
 * read failed, or accept did).
 */
int dialer_serve(int lfd, const char *policy_path, const char *hosts_path, volatile sig_atomic_t *stop,
		 struct bb_err *e);

#endif
