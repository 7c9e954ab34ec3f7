/* listenfd.c - checking and adopting an inherited listening socket. */
#include "listenfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>

static int parse_fd(const char *arg, struct bb_err *e)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(arg, &end, 10);
	if (!*arg || *end || errno || v < 0 || v > 65535)
		return bb_errf(e, BB_EINVAL, "--listen-fd %s: want a file descriptor number", arg);
	return (int)v;
}

int listenfd_type(const char *arg, struct bb_err *e)
{
	int fd = parse_fd(arg, e), type = 0;
	socklen_t len = sizeof type;
	if (fd < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return bb_errno(e, errno, "--listen-fd %s: not a socket", arg);
	return type;
}

int listenfd_take(const char *arg, int type, struct bb_err *e)
{
	int fd = parse_fd(arg, e), v = 0, fl;
	socklen_t len = sizeof v;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (fd < 0)
		return -1;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0)
		return bb_errno(e, errno, "--listen-fd %s: not a socket", arg);
	if (v != type || getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
		return bb_errf(e, BB_EINVAL, "--listen-fd %s: not an IP %s socket", arg, type == SOCK_STREAM ? "TCP" : "UDP");
	if (type == SOCK_STREAM) {
		len = sizeof v;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0 || !v)
			return bb_errf(e, BB_EINVAL, "--listen-fd %s: not a listening TCP socket", arg);
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		return bb_errno(e, errno, "--listen-fd %s", arg);
	return fd;
}
