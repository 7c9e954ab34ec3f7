/* inflate.h - bounded streaming gzip/zlib decoding, so DLP can read compressed request bodies. */
#ifndef BB_INFLATE_H
#define BB_INFLATE_H
#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * A compressed body is decoded only to be scanned (the compressed bytes
 * are what is forwarded). The decoded size is capped: a small body that
 * would expand past the cap (a "zip bomb") is an error, never a hang or
 * an allocation. About 45 KiB of zlib state while active; nothing before
 * inflate_begin and after inflate_end.
 */
struct inflate_stream;

/* Called with each run of decoded bytes; return nonzero to stop. */
typedef int (*inflate_cb)(const void *p, size_t n, void *arg);

/*
 * Start decoding: format is "gzip" (also x-gzip) or "deflate" (zlib
 * wrapped, as HTTP means it; a raw deflate stream is accepted too).
 * max_out caps the decoded bytes. 0, or -1 (unknown format, ENOMEM).
 */
int inflate_begin(struct inflate_stream **out, const char *format, size_t flen, uint64_t max_out, struct bb_err *e);
/*
 * Decode in[0..n), calling cb for the output. Returns 0 (more may follow),
 * 1 when the compressed stream ended (bytes after it are an error on the
 * next call), 2 when cb asked to stop, or -1 with e set: "corrupt gzip
 * data (...)", "decoded body passes N bytes" (code BB_ETOOBIG).
 */
int inflate_feed(struct inflate_stream *s, const void *in, size_t n, inflate_cb cb, void *arg, struct bb_err *e);
/* Bytes decoded so far. */
uint64_t inflate_total(const struct inflate_stream *s);
void inflate_end(struct inflate_stream *s);

#endif
