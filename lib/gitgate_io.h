/* gitgate_io.h - one git client connection's I/O: pkt-line reads under an idle timeout, buffered writes, side-band messages. */
#ifndef BB_GITGATE_IO_H
#define BB_GITGATE_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"
#include "pktline.h"

/*
 * Reads come from a file descriptor or, for a request body (git-http), from
 * a function that delivers the decoded body. Every wait, read or write, is
 * bounded by timeout_ms (git daemon's --timeout): a client that stalls gets
 * an ETIMEDOUT error and is dropped. The descriptors should be non-blocking
 * so that a long write cannot block past the timeout.
 */

/* Read up to n bytes into p, waiting at most timeout_ms: >0 bytes, 0 at the end of input, -1 with e. */
typedef ssize_t (*gitgate_read_fn)(void *arg, void *p, size_t n, int timeout_ms, struct bb_err *e);
/* Write all of p[0..n) (git-http: puts its response head first); 0 or -1 with e. */
typedef int (*gitgate_write_fn)(void *arg, const void *p, size_t n, int timeout_ms, struct bb_err *e);

#define GITGATE_IO_IN_MAX (4 * PKT_MAX)   /* buffered input: a few packets */
#define GITGATE_IO_OUT_FLUSH (128 * 1024) /* flush output once this much is pending */

struct gitgate_io {
	int in_fd, out_fd;
	int timeout_ms;
	gitgate_read_fn read_fn; /* NULL: read in_fd */
	void *read_arg;
	gitgate_write_fn write_fn; /* NULL: write out_fd */
	void *write_arg;
	struct buf in;  /* bytes read, unconsumed from in_off */
	size_t in_off;
	struct buf out; /* pending output */
	int sideband;   /* messages: 0 none (dropped), 1 side-band (1000-byte packets), 2 side-band-64k */
	uint64_t bytes_in, bytes_out;
};

/* Set up io on in_fd/out_fd (may be the same socket). */
void gitgate_io_init(struct gitgate_io *io, int in_fd, int out_fd, int timeout_ms);
void gitgate_io_free(struct gitgate_io *io);

/*
 * Read one pkt-line. Returns 1 with *p (a view valid until the next read
 * call), 0 when input ended cleanly before a packet, -1 with e (ETIMEDOUT
 * after timeout_ms without a byte, BB_EINVAL for a malformed packet or
 * input ending inside one, an errno otherwise).
 */
int gitgate_io_read_pkt(struct gitgate_io *io, struct pkt *p, struct bb_err *e);

/* Read raw bytes (the buffered ones first): >0, 0 at the end of input, -1 with e. */
ssize_t gitgate_io_read_raw(struct gitgate_io *io, void *p, size_t n, struct bb_err *e);

/* Queue bytes; flushes when more than GITGATE_IO_OUT_FLUSH are pending. 0 or -1. */
int gitgate_io_write(struct gitgate_io *io, const void *p, size_t n, struct bb_err *e);
/* Queue one data pkt-line (printf); 0 or -1. */
int gitgate_io_pktf(struct gitgate_io *io, struct bb_err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Queue a flush packet; a delimiter packet (protocol v2's section separator). */
int gitgate_io_flush_pkt(struct gitgate_io *io, struct bb_err *e);
int gitgate_io_delim_pkt(struct gitgate_io *io, struct bb_err *e);
/* Queue data on a side-band channel (1 pack, 2 progress, 3 error), split to the negotiated size. */
int gitgate_io_band(struct gitgate_io *io, int band, const void *p, size_t n, struct bb_err *e);
/*
 * A message for the person at the client: printf text on band 2 (git
 * shows it prefixed "remote: "), with a newline added. Dropped when no
 * side-band was negotiated. 0 or -1.
 */
int gitgate_io_say(struct gitgate_io *io, struct bb_err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Write everything queued, waiting at most timeout_ms for each step. 0 or -1. */
int gitgate_io_flush(struct gitgate_io *io, struct bb_err *e);

/* Write all of p to fd (non-blocking or not) within timeout_ms per wait. 0 or -1 with e. */
int gitgate_write_fd(int fd, const void *p, size_t n, int timeout_ms, struct bb_err *e);
/* Read from fd after waiting at most timeout_ms for it to be readable: >0, 0 EOF, -1 with e. */
ssize_t gitgate_read_fd(int fd, void *p, size_t n, int timeout_ms, struct bb_err *e);

#endif
