/* side.c - one end of a proxied connection as a byte pipe: plain non-blocking TCP, or a BearSSL engine pumped over it. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "egress.h"

void side_init(struct side *s, int fd)
{
	memset(s, 0, sizeof *s);
	s->fd = fd;
}

static void side_fail(struct side *s, int err)
{
	s->failed = 1;
	s->eof = 1;
	if (err)
		s->io_errno = err;
}

/* Records out of the engine onto the socket, and from the socket into the engine. */
int side_pump(struct side *s)
{
	int moved = 0;
	if (!s->eng || s->fd < 0)
		return 0;
	for (;;) {
		unsigned st = br_ssl_engine_current_state(s->eng);
		size_t len;
		unsigned char *buf;
		ssize_t n;

		if (st & BR_SSL_CLOSED) {
			int err = br_ssl_engine_last_error(s->eng);
			if (err != BR_ERR_OK && !s->failed) {
				s->tls_err = err;
				side_fail(s, 0);
			}
			s->eof = 1;
			return moved;
		}
		if (st & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(s->eng, &len);
			n = send(s->fd, buf, len, MSG_NOSIGNAL);
			if (n > 0) {
				br_ssl_engine_sendrec_ack(s->eng, (size_t)n);
				moved = 1;
				continue;
			}
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				side_fail(s, errno);
				br_ssl_engine_close(s->eng);
				return moved;
			}
			/* would block: still try to read below */
		}
		if ((st & BR_SSL_RECVREC) && !s->eof) {
			buf = br_ssl_engine_recvrec_buf(s->eng, &len);
			n = recv(s->fd, buf, len, 0);
			if (n > 0) {
				br_ssl_engine_recvrec_ack(s->eng, (size_t)n);
				moved = 1;
				continue;
			}
			if (n == 0) { /* FIN without close_notify: a truncation attack or a lazy peer */
				s->eof = 1;
				return moved;
			}
			if (errno != EAGAIN && errno != EINTR) {
				side_fail(s, errno);
				return moved;
			}
		}
		return moved;
	}
}

ssize_t side_read(struct side *s, void *p, size_t n)
{
	ssize_t r;
	if (s->fd < 0 || s->failed)
		return -1;
	if (!s->eng) {
		if (s->eof)
			return -1;
		r = recv(s->fd, p, n, 0);
		if (r > 0)
			return r;
		if (r == 0) {
			s->eof = 1;
			return -1;
		}
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		side_fail(s, errno);
		return -1;
	}
	for (;;) {
		unsigned st = br_ssl_engine_current_state(s->eng);
		if (st & BR_SSL_RECVAPP) {
			size_t len;
			unsigned char *buf = br_ssl_engine_recvapp_buf(s->eng, &len);
			if (len > n)
				len = n;
			memcpy(p, buf, len);
			br_ssl_engine_recvapp_ack(s->eng, len);
			return (ssize_t)len;
		}
		if ((st & BR_SSL_CLOSED) || s->eof) {
			side_pump(s);
			return -1;
		}
		if (!side_pump(s))
			return 0;
	}
}

ssize_t side_write(struct side *s, const void *p, size_t n)
{
	ssize_t r;
	if (s->fd < 0 || s->failed || s->shut_wr)
		return -1;
	if (!s->eng) {
		r = send(s->fd, p, n, MSG_NOSIGNAL);
		if (r >= 0)
			return r;
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		side_fail(s, errno);
		return -1;
	}
	for (;;) {
		unsigned st = br_ssl_engine_current_state(s->eng);
		if (st & BR_SSL_CLOSED) {
			side_pump(s);
			return -1;
		}
		if (st & BR_SSL_SENDAPP) {
			size_t len;
			unsigned char *buf = br_ssl_engine_sendapp_buf(s->eng, &len);
			if (len > n)
				len = n;
			memcpy(buf, p, len);
			br_ssl_engine_sendapp_ack(s->eng, len);
			return (ssize_t)len;
		}
		if (!side_pump(s))
			return 0;
	}
}

void side_flush(struct side *s)
{
	if (s->eng && s->fd >= 0 && !s->failed) {
		br_ssl_engine_flush(s->eng, 0);
		side_pump(s);
	}
}

int side_ready(const struct side *s)
{
	return !s->eng || (br_ssl_engine_current_state(s->eng) & (BR_SSL_SENDAPP | BR_SSL_RECVAPP));
}

void side_close_write(struct side *s)
{
	if (s->shut_wr || s->fd < 0)
		return;
	s->shut_wr = 1;
	if (s->eng) {
		br_ssl_engine_close(s->eng);
		side_pump(s);
	} else {
		shutdown(s->fd, SHUT_WR);
	}
}

uint32_t side_events(const struct side *s, int want_read, int have_plain_out)
{
	uint32_t ev = 0;
	if (s->fd < 0 || s->failed)
		return 0;
	if (s->eng) {
		unsigned st = br_ssl_engine_current_state(s->eng);
		if (st & BR_SSL_SENDREC)
			ev |= EPOLLOUT;
		/* The engine wants records: during the handshake always, after it when the proxy wants bytes. */
		if ((st & BR_SSL_RECVREC) && !s->eof && (want_read || !(st & (BR_SSL_SENDAPP | BR_SSL_RECVAPP))))
			ev |= EPOLLIN;
	} else {
		if (have_plain_out)
			ev |= EPOLLOUT;
		if (want_read && !s->eof)
			ev |= EPOLLIN;
	}
	return ev;
}
