/* listenfd.h - socket activation: a daemon takes a listening socket its parent made (`--listen-fd N`) instead of binding one. */
#ifndef BB_LISTENFD_H
#define BB_LISTENFD_H

#include "err.h"

/*
 * Why: the runtime makes the sidecar's sockets inside its network
 * namespace before the daemons start, so the agent can start at once;
 * its connections wait in the backlog (UDP datagrams in the receive
 * queue) until the daemon is ready.
 */

/*
 * The inherited socket named by arg (a decimal fd number): it must be an
 * AF_INET/AF_INET6 socket of the given type (SOCK_STREAM and listening,
 * or SOCK_DGRAM and bound). It is made non-blocking and close-on-exec.
 * The fd, or -1 with e set ("--listen-fd 7: not a listening TCP socket").
 */
int listenfd_take(const char *arg, int type, struct bb_err *e);

/* The type (SOCK_STREAM or SOCK_DGRAM) of the socket named by arg, or -1 with e set. */
int listenfd_type(const char *arg, struct bb_err *e);

#endif
