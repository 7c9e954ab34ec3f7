/* gitgate_io.c - one git client connection's I/O: pkt-line reads under an idle timeout, buffered writes, side-band messages. */
#include "gitgate_io.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void gitgate_io_init(struct gitgate_io *io, int in_fd, int out_fd, int timeout_ms)
{
	memset(io, 0, sizeof *io);
	io->in_fd = in_fd;
	io->out_fd = out_fd;
	io->timeout_ms = timeout_ms;
	buf_init(&io->in, GITGATE_IO_IN_MAX);
	buf_init(&io->out, GITGATE_IO_OUT_FLUSH + 2 * PKT_MAX);
}

void gitgate_io_free(struct gitgate_io *io)
{
	buf_free(&io->in);
	buf_free(&io->out);
}

static int wait_fd(int fd, short what, int timeout_ms, struct bb_err *e)
{
	struct pollfd pfd = { .fd = fd, .events = what };
	int rc;

	do
		rc = poll(&pfd, 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return bb_errno(e, errno, "poll");
	if (rc == 0)
		return bb_errf(e, ETIMEDOUT, "the client was idle for %d s", timeout_ms / 1000);
	return 0;
}

ssize_t gitgate_read_fd(int fd, void *p, size_t n, int timeout_ms, struct bb_err *e)
{
	for (;;) {
		ssize_t r = read(fd, p, n);

		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return bb_errno(e, errno, "read");
		if (wait_fd(fd, POLLIN, timeout_ms, e) < 0)
			return -1;
	}
}

int gitgate_write_fd(int fd, const void *p, size_t n, int timeout_ms, struct bb_err *e)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w > 0) {
			c += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return bb_errno(e, errno, "write");
		if (wait_fd(fd, POLLOUT, timeout_ms, e) < 0)
			return -1;
	}
	return 0;
}

/* Read more input into io->in: >0, 0 at the end, -1. */
static ssize_t fill(struct gitgate_io *io, struct bb_err *e)
{
	size_t room;
	ssize_t r;

	if (io->in_off == io->in.len) {
		buf_reset(&io->in);
		io->in_off = 0;
	} else if (io->in_off > 0 && io->in.len - io->in_off < PKT_MAX) {
		memmove(io->in.p, io->in.p + io->in_off, io->in.len - io->in_off);
		io->in.len -= io->in_off;
		io->in_off = 0;
	}
	room = io->in.max - io->in.len;
	if (room > 65536)
		room = 65536;
	if (room == 0)
		return bb_errf(e, BB_ETOOBIG, "input buffer full");
	if (buf_reserve(&io->in, room, e) < 0)
		return -1;
	if (io->read_fn)
		r = io->read_fn(io->read_arg, io->in.p + io->in.len, room, io->timeout_ms, e);
	else
		r = gitgate_read_fd(io->in_fd, io->in.p + io->in.len, room, io->timeout_ms, e);
	if (r > 0) {
		io->in.len += (size_t)r;
		io->bytes_in += (uint64_t)r;
	}
	return r;
}

int gitgate_io_read_pkt(struct gitgate_io *io, struct pkt *p, struct bb_err *e)
{
	for (;;) {
		int rc = pkt_parse(io->in.p ? io->in.p + io->in_off : "", io->in.len - io->in_off, p, e);
		ssize_t r;

		if (rc < 0)
			return -1;
		if (rc == 1) {
			io->in_off += p->wire_len;
			return 1;
		}
		r = fill(io, e);
		if (r < 0)
			return -1;
		if (r == 0) {
			if (io->in.len == io->in_off)
				return 0;
			return bb_errf(e, BB_EINVAL, "input ended inside a pkt-line");
		}
	}
}

ssize_t gitgate_io_read_raw(struct gitgate_io *io, void *p, size_t n, struct bb_err *e)
{
	size_t have = io->in.len - io->in_off;

	if (have) {
		if (have > n)
			have = n;
		memcpy(p, io->in.p + io->in_off, have);
		io->in_off += have;
		return (ssize_t)have;
	}
	{
		ssize_t r = io->read_fn ? io->read_fn(io->read_arg, p, n, io->timeout_ms, e)
					: gitgate_read_fd(io->in_fd, p, n, io->timeout_ms, e);

		if (r > 0)
			io->bytes_in += (uint64_t)r;
		return r;
	}
}

int gitgate_io_flush(struct gitgate_io *io, struct bb_err *e)
{
	if (io->out.len == 0)
		return 0;
	if (io->write_fn ? io->write_fn(io->write_arg, io->out.p, io->out.len, io->timeout_ms, e) < 0
			 : gitgate_write_fd(io->out_fd, io->out.p, io->out.len, io->timeout_ms, e) < 0)
		return -1;
	io->bytes_out += io->out.len;
	buf_reset(&io->out);
	return 0;
}

static int maybe_flush(struct gitgate_io *io, struct bb_err *e)
{
	return io->out.len >= GITGATE_IO_OUT_FLUSH ? gitgate_io_flush(io, e) : 0;
}

int gitgate_io_write(struct gitgate_io *io, const void *p, size_t n, struct bb_err *e)
{
	const char *c = p;

	while (n) {
		size_t room = io->out.max - io->out.len, k = n < room ? n : room;

		if (k == 0) {
			if (gitgate_io_flush(io, e) < 0)
				return -1;
			continue;
		}
		if (buf_append(&io->out, c, k, e) < 0)
			return -1;
		c += k;
		n -= k;
		if (maybe_flush(io, e) < 0)
			return -1;
	}
	return 0;
}

int gitgate_io_pktf(struct gitgate_io *io, struct bb_err *e, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return bb_errf(e, BB_ETOOBIG, "protocol line too long");
	if (io->out.max - io->out.len < (size_t)n + PKT_HDR && gitgate_io_flush(io, e) < 0)
		return -1;
	if (pkt_append(&io->out, tmp, (size_t)n, e) < 0)
		return -1;
	return maybe_flush(io, e);
}

static int special_pkt(struct gitgate_io *io, enum pkt_kind kind, struct bb_err *e)
{
	if (io->out.max - io->out.len < PKT_HDR && gitgate_io_flush(io, e) < 0)
		return -1;
	return pkt_append_special(&io->out, kind, e);
}

int gitgate_io_flush_pkt(struct gitgate_io *io, struct bb_err *e)
{
	return special_pkt(io, PKT_FLUSH, e);
}

int gitgate_io_delim_pkt(struct gitgate_io *io, struct bb_err *e)
{
	return special_pkt(io, PKT_DELIM, e);
}

int gitgate_io_band(struct gitgate_io *io, int band, const void *p, size_t n, struct bb_err *e)
{
	size_t chunk = io->sideband == 1 ? 995 : PKT_SIDEBAND_MAX;
	const char *c = p;

	while (n) {
		size_t k = n < chunk ? n : chunk;

		if (io->out.max - io->out.len < k + PKT_HDR + 1 && gitgate_io_flush(io, e) < 0)
			return -1;
		if (pkt_append_sideband(&io->out, band, c, k, chunk, e) < 0)
			return -1;
		c += k;
		n -= k;
		if (maybe_flush(io, e) < 0)
			return -1;
	}
	return 0;
}

int gitgate_io_say(struct gitgate_io *io, struct bb_err *e, const char *fmt, ...)
{
	char tmp[2048];
	va_list ap;
	int n;

	if (!io->sideband)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return 0;
	if ((size_t)n > sizeof tmp - 2)
		n = (int)sizeof tmp - 2;
	tmp[n++] = '\n';
	return gitgate_io_band(io, PKT_BAND_PROGRESS, tmp, (size_t)n, e);
}
