/* inflate.h - bounded streaming decoding of HTTP content codings (gzip, deflate, zstd, br), so DLP can read compressed bodies. */
#ifndef BB_INFLATE_H
#define BB_INFLATE_H
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * The content codings a current HTTP client sends or accepts, decoded as
 * a stream: "gzip" (also "x-gzip"), "deflate" (zlib-wrapped as HTTP means
 * it; a raw deflate stream is accepted too), "zstd" (RFC 8878; frames
 * with a window over 8 MiB are refused, as RFC 8878 §3 allows, and
 * concatenated frames are one stream) and "br" (RFC 7932). Names are
 * matched ASCII case-insensitively.
 *
 * The decoded size can be capped: a small body that would expand past
 * the cap (a "zip bomb") is an error, never a hang or an allocation. The
 * decoders' memory can be counted against a budget several streams share
 * (egress: one for the whole daemon), so their total has a hard cap too.
 * Roughly, while active: gzip/deflate 45 KiB, zstd up to 8.1 MiB (its
 * window, usually far less), br up to 16.1 MiB; nothing before
 * inflate_begin and after inflate_end.
 */
struct inflate_stream;

struct inflate_limits {
	uint64_t max_out;  /* decoded bytes at most (UINT64_MAX: no cap); beyond is an error, code BB_ETOOBIG */
	size_t *mem_used;  /* NULL, or a counter of the bytes decoders hold, shared by the streams of one budget */
	size_t mem_max;    /* with mem_used: an allocation that would take the counter past this fails */
};

/* Whether format[0..flen) names a coding this module decodes. */
int inflate_format_known(const char *format, size_t flen);

/*
 * Start decoding format with max_out as the only limit. 0, or -1 with e:
 * BB_EINVAL "content coding X is not supported" (X cut to 40 bytes), or
 * ENOMEM.
 */
int inflate_begin(struct inflate_stream **out, const char *format, size_t flen, uint64_t max_out, struct bb_err *e);
/* The same with a memory budget (lim may be NULL: no limit at all). */
int inflate_begin_limits(struct inflate_stream **out, const char *format, size_t flen, const struct inflate_limits *lim,
			 struct bb_err *e);

/*
 * Decode from in[0..n) into out[0..cap): *used gets the input bytes taken,
 * *produced the bytes written. Stops when the input is used up and
 * nothing more can come out of it, when out is full, or at the end of the
 * compressed stream. Call again with the rest of the input (and room)
 * while *produced == cap or input remains. Returns 0 (more may follow), 1
 * when the compressed stream is complete (input after it is an error on
 * a later call; zstd: a new frame may follow), or -1 with e: "corrupt X
 * data (...)", "data after the end of the compressed body", "decoded body
 * passes N bytes" (BB_ETOOBIG), "decoder memory limit reached" (ENOMEM).
 */
int inflate_step(struct inflate_stream *s, const void *in, size_t n, size_t *used, void *out, size_t cap,
		 size_t *produced, struct bb_err *e);

/* Called with each run of decoded bytes; return nonzero to stop. */
typedef int (*inflate_cb)(const void *p, size_t n, void *arg);

/*
 * Decode all of in[0..n), calling cb for the output. Returns 0 (more may
 * follow), 1 when the compressed stream ended, 2 when cb asked to stop
 * (the rest of in is dropped), or -1 with e as inflate_step.
 */
int inflate_feed(struct inflate_stream *s, const void *in, size_t n, inflate_cb cb, void *arg, struct bb_err *e);

/*
 * Whether what was given so far is a complete compressed stream (or
 * nothing at all): at the end of a body, 0 means it was cut short.
 */
int inflate_complete(const struct inflate_stream *s);
/* Bytes decoded so far. */
uint64_t inflate_total(const struct inflate_stream *s);
/* The coding's canonical name: "gzip", "deflate", "zstd" or "br". */
const char *inflate_format(const struct inflate_stream *s);
void inflate_end(struct inflate_stream *s);

#endif
