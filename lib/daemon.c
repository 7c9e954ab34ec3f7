/* daemon.c - the listening socket and the signalfd every sidecar daemon starts with. */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netaddr.h"
#include "resolve.h"

int daemon_listen_tcp(const char *spec, int backlog, struct bb_err *e)
{
	struct resolve_server rs;
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	if (!strchr(spec, ':') || resolve_server_parse(spec, strlen(spec), &rs, e) < 0)
		return bb_errf(e, BB_EINVAL, "--listen %s: want ADDR:PORT", spec);
	netaddr_to_sockaddr(&rs.addr, rs.port, &ss, &sl);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return bb_errno(e, errno, "socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, backlog) < 0) {
		int err = errno;
		close(fd);
		return bb_errno(e, err, "cannot listen on %s", spec);
	}
	return fd;
}

int daemon_signalfd(struct bb_err *e)
{
	sigset_t ss;
	int fd;
	sigemptyset(&ss);
	sigaddset(&ss, SIGHUP);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	if (sigprocmask(SIG_BLOCK, &ss, NULL) < 0)
		return bb_errno(e, errno, "sigprocmask");
	signal(SIGPIPE, SIG_IGN);
	fd = signalfd(-1, &ss, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return bb_errno(e, errno, "signalfd");
	return fd;
}
