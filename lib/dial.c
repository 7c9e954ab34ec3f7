/* dial.c - the dial protocol's lines and fd passing over a unix socket. */
#include "dial.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"

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

/*
 * One exchange with a unix socket server: connect, send line (with send_fd attached when >= 0), wait at
 * most timeout_ms for one answer line into ans (cap bytes) and its fd into *fd. what names the server in
 * errors. The answer's length, or -1 with e set.
 */
static ssize_t exchange(const char *sock_path, const char *line, size_t len, int send_fd, int timeout_ms, char *ans,
			size_t cap, int *fd, const char *what, struct bb_err *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd pf;
	ssize_t got;
	int s, pr;

	*fd = -1;
	if (strlen(sock_path) >= sizeof sa.sun_path)
		return bb_errf(e, BB_EINVAL, "%s socket path too long: %s", what, sock_path);
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return bb_errno(e, errno, "%s socket", what);
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0 || dial_send(s, line, len, send_fd) < 0) {
		bb_errno(e, errno, "cannot reach the %s at %s", what, sock_path);
		close(s);
		return -1;
	}
	pf = (struct pollfd){ s, POLLIN, 0 };
	do
		pr = poll(&pf, 1, timeout_ms > 0 ? timeout_ms : 10000);
	while (pr < 0 && errno == EINTR);
	if (pr <= 0) {
		bb_errno(e, pr == 0 ? ETIMEDOUT : errno, "the %s did not answer", what);
		close(s);
		return -1;
	}
	got = dial_recv(s, ans, cap, fd);
	close(s);
	if (got < 0)
		return bb_errno(e, errno, "the %s's answer", what);
	return got;
}

/* "ERR RULE REASON" into e (code EACCES for the policy's refusals, else EIO); -1. */
static int answer_error(const char *line, ssize_t got, const char *fmt_what, struct bb_err *e)
{
	if (got > 4 && !memcmp(line, "ERR ", 4)) {
		const char *rule = line + 4, *sp = strchr(rule, ' ');
		size_t rl = sp ? (size_t)(sp - rule) : strlen(rule);
		int refused = (rl == 8 && !memcmp(rule, "no-route", 8)) || (rl == 15 && !memcmp(rule, "private-address", 15)) ||
			      (rl == 8 && !memcmp(rule, "no-token", 8));
		return bb_errf(e, refused ? EACCES : EIO, "%s: %.*s: %s", fmt_what, (int)rl, rule, sp ? sp + 1 : "refused");
	}
	return bb_errf(e, EIO, "%s: the answer is nonsense", fmt_what);
}

int dial_connect(const char *sock_path, const char *host, uint16_t port, int timeout_ms, struct bb_err *e)
{
	struct dial_request rq = { .port = port };
	char line[DIAL_LINE_MAX], what[300];
	ssize_t got;
	int fd = -1, len;

	if (strlen(host) >= sizeof rq.host)
		return bb_errf(e, BB_EINVAL, "host name too long for the dialer");
	memcpy(rq.host, host, strlen(host) + 1);
	len = dial_request_format(&rq, line, sizeof line);
	if (len < 0)
		return bb_errf(e, BB_EINVAL, "cannot ask the dialer for '%s' port %u", host, port);
	/* The dialer's own connect is bounded (10 s); this wait covers it and the resolution. */
	got = exchange(sock_path, line, (size_t)len, -1, timeout_ms, line, sizeof line, &fd, "host dialer", e);
	if (got < 0)
		return bb_err_wrap(e, "%s port %u", host, port);
	if (got > 3 && !memcmp(line, "OK ", 3) && fd >= 0) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && (fl & O_NONBLOCK))
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK); /* the dialer connects non-blocking; callers here block */
		return fd;
	}
	if (fd >= 0)
		close(fd);
	snprintf(what, sizeof what, "host dialer refused %s port %u", host, port);
	return answer_error(line, got, what, e);
}

/* ---- token slot values: approved credentials travel in sealed memfds, never in a line or a file ---- */

int dial_token_slot_ok(const char *slot, size_t n)
{
	size_t i;
	if (!n || n > DIAL_SLOT_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((slot[i] >= 'A' && slot[i] <= 'Z') || (slot[i] >= '0' && slot[i] <= '9') || slot[i] == '_'))
			return 0;
	return 1;
}

int dial_token_parse(const char *line, size_t len, char *slot, size_t cap, struct bb_err *e)
{
	if (len && line[len - 1] == '\n')
		len--;
	if (len < 6 || memcmp(line, "TOKEN ", 6))
		return 0;
	if (!dial_token_slot_ok(line + 6, len - 6) || len - 6 >= cap)
		return bb_errf(e, BB_EINVAL, "bad slot in TOKEN request (want [A-Z0-9_], at most %d bytes)", DIAL_SLOT_MAX);
	memcpy(slot, line + 6, len - 6);
	slot[len - 6] = 0;
	return 1;
}

int dial_token_memfd(const void *value, size_t len, struct bb_err *e)
{
	int fd;
	if (!len || len > DIAL_TOKEN_MAX)
		return bb_errf(e, BB_EINVAL, "a token value is 1 to %u bytes", DIAL_TOKEN_MAX);
	fd = memfd_create("bb-token", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return bb_errno(e, errno, "memfd for a token");
	if (fd_write_all(fd, value, len) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int err = errno;
		close(fd);
		return bb_errno(e, err, "memfd for a token");
	}
	return fd;
}

int dial_token_read_fd(int fd, struct buf *out, struct bb_err *e)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);
	/* Only a sealed memfd: nothing else (a file, a pipe the peer keeps writing) is taken for a token. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || seals < 0 || !(seals & F_SEAL_WRITE) || !(seals & F_SEAL_SHRINK))
		return bb_errf(e, BB_EINVAL, "a token comes in a sealed memfd");
	if (st.st_size <= 0 || st.st_size > DIAL_TOKEN_MAX)
		return bb_errf(e, BB_EINVAL, "a token value is 1 to %u bytes", DIAL_TOKEN_MAX);
	buf_reset(out);
	if (buf_reserve(out, (size_t)st.st_size, e) < 0)
		return -1;
	if (pread(fd, out->p, (size_t)st.st_size, 0) != (ssize_t)st.st_size) {
		explicit_bzero(out->p, (size_t)st.st_size);
		return bb_errno(e, errno ? errno : EIO, "read a token memfd");
	}
	out->len = (size_t)st.st_size;
	out->p[out->len] = 0;
	if (memchr(out->p, 0, out->len) || memchr(out->p, '\n', out->len) || memchr(out->p, '\r', out->len)) {
		explicit_bzero(out->p, out->len);
		out->len = 0;
		return bb_errf(e, BB_EINVAL, "a token value holds NUL, CR or LF (it goes into a header)");
	}
	return 0;
}

int dial_token_fetch(const char *sock_path, const char *slot, int timeout_ms, struct buf *out, struct bb_err *e)
{
	char line[DIAL_LINE_MAX], what[200];
	ssize_t got;
	int fd = -1, len, rc;

	if (!dial_token_slot_ok(slot, strlen(slot)))
		return bb_errf(e, BB_EINVAL, "'%.60s' is not a token slot", slot);
	len = snprintf(line, sizeof line, "TOKEN %s\n", slot);
	snprintf(what, sizeof what, "token %s from the host", slot);
	got = exchange(sock_path, line, (size_t)len, -1, timeout_ms, line, sizeof line, &fd, "host dialer", e);
	if (got < 0)
		return bb_err_wrap(e, "%s", what);
	if (got == 2 && !memcmp(line, "OK", 2) && fd >= 0) {
		rc = dial_token_read_fd(fd, out, e);
		close(fd);
		return rc < 0 ? bb_err_wrap(e, "%s", what) : 0;
	}
	if (fd >= 0)
		close(fd);
	return answer_error(line, got, what, e);
}

int dial_token_push(const char *sock_path, const char *slot, const char *value, size_t vlen, int timeout_ms,
		    struct bb_err *e)
{
	char line[DIAL_LINE_MAX], what[200];
	ssize_t got;
	int fd, rfd = -1, len;

	if (!dial_token_slot_ok(slot, strlen(slot)))
		return bb_errf(e, BB_EINVAL, "'%.60s' is not a token slot", slot);
	fd = dial_token_memfd(value, vlen, e);
	if (fd < 0)
		return -1;
	len = snprintf(line, sizeof line, "TOKEN %s\n", slot);
	snprintf(what, sizeof what, "handing token %s to the bottle's host process", slot);
	got = exchange(sock_path, line, (size_t)len, fd, timeout_ms, line, sizeof line, &rfd, "bottle's host process", e);
	close(fd);
	if (rfd >= 0)
		close(rfd);
	if (got < 0)
		return bb_err_wrap(e, "%s", what);
	if (got == 2 && !memcmp(line, "OK", 2))
		return 0;
	return answer_error(line, got, what, e);
}
