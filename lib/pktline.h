/* pktline.h - git's pkt-line framing: parse and format data, flush, delim and response-end packets, side-band-64k. */
#ifndef BB_PKTLINE_H
#define BB_PKTLINE_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

/*
 * A pkt-line is four lower- or upper-case hex digits giving the length of
 * the whole packet (the four digits included), then the payload. Three
 * lengths are special: "0000" flush, "0001" delimiter and "0002"
 * response-end (protocol v2); "0003" is invalid. "0004" is an empty data
 * packet, which git reads although no one should send it. The largest
 * packet is 65520 bytes (git's LARGE_PACKET_MAX), so 65516 payload bytes,
 * and 65515 data bytes after a side-band channel byte.
 */
#define PKT_MAX 65520
#define PKT_HDR 4
#define PKT_DATA_MAX (PKT_MAX - PKT_HDR)
#define PKT_SIDEBAND_MAX (PKT_DATA_MAX - 1)

enum pkt_kind {
	PKT_DATA,
	PKT_FLUSH,       /* 0000: end of a section or message */
	PKT_DELIM,       /* 0001: v2 section separator */
	PKT_RESPONSE_END /* 0002: v2 end of a stateless response */
};

/* One parsed packet: a view into the caller's buffer, valid while it is. */
struct pkt {
	enum pkt_kind kind;
	const char *data; /* payload (PKT_DATA only; else points at the header) */
	size_t len;       /* payload length (0 for the special kinds) */
	size_t wire_len;  /* bytes the packet took in the buffer, header included */
};

/*
 * Parse the packet at the start of buf[0..n). Returns 1 with *out filled
 * when a whole packet is there, 0 when more bytes are needed (fewer than
 * four, or the payload is incomplete), -1 with BB_EINVAL when the header is
 * not four hex digits or names an invalid length (0003, or over PKT_MAX).
 */
int pkt_parse(const void *buf, size_t n, struct pkt *out, struct bb_err *e);

/* The payload without one trailing "\n" (git's text packets end with one; it is optional on input). */
struct sv pkt_text(const struct pkt *p);

/*
 * Write a data packet carrying data[0..n) into out (room for n + 4 bytes
 * needed). Returns the bytes written, or 0 when n is over PKT_DATA_MAX or
 * out is too small (nothing is written then).
 */
size_t pkt_format(char *out, size_t cap, const void *data, size_t n);

/* Append a data packet to b; -1 with BB_ETOOBIG over PKT_DATA_MAX or when b is full. */
int pkt_append(struct buf *b, const void *data, size_t n, struct bb_err *e);
/* Append a string data packet (no newline is added; put it in s when the protocol wants one). */
int pkt_append_str(struct buf *b, const char *s, struct bb_err *e);
/* printf into one data packet; -1 with BB_ETOOBIG when the text passes PKT_DATA_MAX. */
int pkt_appendf(struct buf *b, struct bb_err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Append a flush (0000), delimiter (0001) or response-end (0002) packet. */
int pkt_append_special(struct buf *b, enum pkt_kind kind, struct bb_err *e);

/* Side-band-64k channels: 1 carries data, 2 progress text, 3 a fatal error. */
enum { PKT_BAND_DATA = 1, PKT_BAND_PROGRESS = 2, PKT_BAND_ERROR = 3 };

/*
 * Append data[0..n) as side-band packets on band (1-3), split into pieces
 * of at most max_chunk bytes (0 or anything above PKT_SIDEBAND_MAX means
 * PKT_SIDEBAND_MAX; git's old side-band, not 64k, used 999). n = 0 appends
 * nothing. -1 with BB_EINVAL for a bad band, BB_ETOOBIG when b is full.
 */
int pkt_append_sideband(struct buf *b, int band, const void *data, size_t n, size_t max_chunk, struct bb_err *e);

/*
 * Split a side-band packet's payload into its band and data. Returns 0, or
 * -1 with BB_EINVAL for an empty payload or a band other than 1, 2 or 3.
 */
int pkt_sideband_split(const struct pkt *p, int *band, struct sv *data, struct bb_err *e);

#endif
