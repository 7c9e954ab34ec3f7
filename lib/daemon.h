/* daemon.h - what every sidecar daemon sets up the same way: its listening sockets and its signals. */
#ifndef BB_DAEMON_H
#define BB_DAEMON_H

#include "err.h"

/*
 * A non-blocking TCP listener on "ADDR:PORT" (IPv4, or "[V6]:PORT"),
 * SO_REUSEADDR, the given backlog. The fd, or -1 with e set:
 * "--listen X: want ADDR:PORT", "cannot listen on X: Address in use".
 */
int daemon_listen_tcp(const char *spec, int backlog, struct bb_err *e);

/*
 * Block SIGHUP, SIGTERM and SIGINT and return a non-blocking signalfd
 * for them (the daemon reads them in its loop); SIGPIPE is ignored, so a
 * peer that went away is an EPIPE, not a death. The fd, or -1 with e set.
 */
int daemon_signalfd(struct bb_err *e);

#endif
