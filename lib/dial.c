/* dial.c - the dial protocol's lines and fd passing over a unix socket. */
#include "dial.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

static int host_ok(const char *h, size_t n)
{
	size_t i;
	if (!n || n > 253)
		return 0;
	for (i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_' || c == ':' || c == '[' || c == ']'))
			return 0;
	}
	return 1;
}

int dial_request_format(const struct dial_request *r, char *out, size_t cap)
{
	int n;
	if (!host_ok(r->host, strlen(r->host)) || !r->port)
		return -1;
	n = snprintf(out, cap, "DIAL %s %u\n", r->host, r->port);
	return n > 0 && (size_t)n < cap ? n : -1;
}

int dial_request_parse(const char *line, size_t len, struct dial_request *r, struct bb_err *e)
{
	const char *h, *sp;
	size_t hl;
	unsigned long port = 0;
	size_t i;

	if (len && line[len - 1] == '\n')
		len--;
	if (len < 5 || memcmp(line, "DIAL ", 5))
		return bb_errf(e, BB_EINVAL, "not a DIAL request");
	h = line + 5;
	sp = memchr(h, ' ', len - 5);
	if (!sp)
		return bb_errf(e, BB_EINVAL, "DIAL needs a host and a port");
	hl = (size_t)(sp - h);
	if (!host_ok(h, hl) || hl >= sizeof r->host)
		return bb_errf(e, BB_EINVAL, "bad host in DIAL request");
	for (i = (size_t)(sp + 1 - line); i < len; i++) {
		if (line[i] < '0' || line[i] > '9' || port > 65535)
			return bb_errf(e, BB_EINVAL, "bad port in DIAL request");
		port = port * 10 + (unsigned long)(line[i] - '0');
	}
	if (port == 0 || port > 65535 || sp + 1 == line + len || sp[1] == '0')
		return bb_errf(e, BB_EINVAL, "bad port in DIAL request");
	memcpy(r->host, h, hl);
	r->host[hl] = 0;
	r->port = (uint16_t)port;
	return 0;
}

int dial_send(int sock, const char *line, size_t len, int fd)
{
	struct iovec iov = { (void *)(uintptr_t)line, len };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr msg = { 0 };
	ssize_t n;

	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (fd >= 0) {
		memset(&cm, 0, sizeof cm);
		msg.msg_control = cm.buf;
		msg.msg_controllen = sizeof cm.buf;
		cm.h.cmsg_level = SOL_SOCKET;
		cm.h.cmsg_type = SCM_RIGHTS;
		cm.h.cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(&cm.h), &fd, sizeof fd);
	}
	do
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if ((size_t)n != len) { /* one line fits a unix socket buffer; a short send means trouble */
		errno = EPROTO;
		return -1;
	}
	return 0;
}

ssize_t dial_recv(int sock, char *buf, size_t cap, int *fd)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} cm;
	struct iovec iov = { buf, cap - 1 };
	struct msghdr msg = { 0 };
	struct cmsghdr *c;
	ssize_t n;
	char *nl;

	*fd = -1;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof cm.buf;
	do
		n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof *fd);
	buf[n] = 0;
	nl = memchr(buf, '\n', (size_t)n);
	if (!n || !nl || (msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		errno = n ? EPROTO : ECONNRESET;
		return -1;
	}
	*nl = 0;
	return nl - buf;
}

int dial_connect(const char *sock_path, const char *host, uint16_t port, int timeout_ms, struct bb_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct dial_request rq = { .port = port };
	char line[DIAL_LINE_MAX];
	struct pollfd pf;
	ssize_t got;
	int s, fd = -1, len, pr;

	if (strlen(sock_path) >= sizeof sa.sun_path)
		return bb_errf(e, BB_EINVAL, "dialer socket path too long: %s", sock_path);
	if (strlen(host) >= sizeof rq.host)
		return bb_errf(e, BB_EINVAL, "host name too long for the dialer");
	memcpy(rq.host, host, strlen(host) + 1);
	len = dial_request_format(&rq, line, sizeof line);
	if (len < 0)
		return bb_errf(e, BB_EINVAL, "cannot ask the dialer for '%s' port %u", host, port);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return bb_errno(e, errno, "dialer socket");
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0 || dial_send(s, line, (size_t)len, -1) < 0) {
		bb_errno(e, errno, "cannot reach the host dialer at %s", sock_path);
		close(s);
		return -1;
	}
	/* The dialer's own connect is bounded (10 s); this wait covers it and the resolution. */
	pf = (struct pollfd){ s, POLLIN, 0 };
	do
		pr = poll(&pf, 1, timeout_ms > 0 ? timeout_ms : 10000);
	while (pr < 0 && errno == EINTR);
	if (pr <= 0) {
		bb_errno(e, pr == 0 ? ETIMEDOUT : errno, "the host dialer did not answer for %s port %u", host, port);
		close(s);
		return -1;
	}
	got = dial_recv(s, line, sizeof line, &fd);
	close(s);
	if (got < 0)
		return bb_errno(e, errno, "the host dialer's answer for %s port %u", host, port);
	if (got > 3 && !memcmp(line, "OK ", 3) && fd >= 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && (fl & O_NONBLOCK))
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK); /* the dialer connects non-blocking; callers here block */
		return fd;
	}
	if (fd >= 0)
		close(fd);
	if (got > 4 && !memcmp(line, "ERR ", 4)) {
		const char *rule = line + 4, *sp = strchr(rule, ' ');
		size_t rl = sp ? (size_t)(sp - rule) : strlen(rule);
		int refused = (rl == 8 && !memcmp(rule, "no-route", 8)) || (rl == 15 && !memcmp(rule, "private-address", 15));
		return bb_errf(e, refused ? EACCES : EIO, "host dialer refused %s port %u: %.*s: %s", host, port, (int)rl,
			       rule, sp ? sp + 1 : "refused");
	}
	return bb_errf(e, EIO, "the host dialer answered nonsense for %s port %u", host, port);
}
