/* inflate.c - bounded streaming gzip/zlib decoding over zlib's inflate. */
#include "inflate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

struct inflate_stream {
	z_stream z;
	uint64_t total, max;
	int raw_tried; /* "deflate" fell back to a raw stream */
	int gzip;
	int ended;
	uint64_t fed; /* compressed bytes given so far */
	unsigned char head[16]; /* the first bytes given: replayed when "deflate" turns out to be raw */
	size_t nhead;
	unsigned char out[8192];
};

int inflate_begin(struct inflate_stream **out, const char *format, size_t flen, uint64_t max_out, struct bb_err *e)
{
	struct inflate_stream *s;
	int gzip;
	*out = NULL;
	if ((flen == 4 && !strncasecmp(format, "gzip", 4)) || (flen == 6 && !strncasecmp(format, "x-gzip", 6)))
		gzip = 1;
	else if (flen == 7 && !strncasecmp(format, "deflate", 7))
		gzip = 0;
	else
		return bb_errf(e, BB_EINVAL, "content coding %.*s is not supported", (int)(flen > 40 ? 40 : flen), format);
	s = calloc(1, sizeof *s);
	if (!s)
		return bb_errno(e, ENOMEM, "inflate");
	s->gzip = gzip;
	s->max = max_out;
	/* 16+: gzip only; 32+: zlib or gzip by header (for "deflate", zlib wrapped). */
	if (inflateInit2(&s->z, gzip ? 16 + MAX_WBITS : 32 + MAX_WBITS) != Z_OK) {
		free(s);
		return bb_errf(e, BB_ELIB, "inflateInit2 failed");
	}
	*out = s;
	return 0;
}

int inflate_feed(struct inflate_stream *s, const void *in, size_t n, inflate_cb cb, void *arg, struct bb_err *e)
{
	unsigned char *replay = NULL;
	int rc;
	size_t before = s->nhead, keep;

	s->fed += n;
	if (s->ended)
		return n ? bb_errf(e, BB_EINVAL, "data after the end of the compressed body") : 1;
	keep = n < sizeof s->head - s->nhead ? n : sizeof s->head - s->nhead;
	memcpy(s->head + s->nhead, in, keep);
	s->nhead += keep;
	s->z.next_in = (unsigned char *)(uintptr_t)in;
	s->z.avail_in = (uInt)n;
	do {
		size_t got;
		s->z.next_out = s->out;
		s->z.avail_out = sizeof s->out;
		rc = inflate(&s->z, Z_NO_FLUSH);
		if (rc == Z_DATA_ERROR && !s->gzip && !s->raw_tried && s->total == 0 && s->fed - n == before) {
			/*
			 * Some clients send raw deflate under "deflate": try that once, from the
			 * start — the zlib header check fails within its first bytes, which are
			 * kept in head, however the body was cut into feeds.
			 */
			s->raw_tried = 1;
			inflateEnd(&s->z);
			memset(&s->z, 0, sizeof s->z);
			if (inflateInit2(&s->z, -MAX_WBITS) != Z_OK)
				return bb_errf(e, BB_ELIB, "inflateInit2 failed");
			replay = malloc(before + n + 1);
			if (!replay)
				return bb_errno(e, ENOMEM, "inflate");
			memcpy(replay, s->head, before);
			memcpy(replay + before, in, n);
			s->z.next_in = replay;
			s->z.avail_in = (uInt)(before + n);
			continue;
		}
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
			free(replay);
			return bb_errf(e, BB_EINVAL, "corrupt %s data (%s)", s->gzip ? "gzip" : "deflate",
				       s->z.msg ? s->z.msg : "inflate failed");
		}
		got = sizeof s->out - s->z.avail_out;
		s->total += got;
		if (s->total > s->max) {
			free(replay);
			return bb_errf(e, BB_ETOOBIG, "decoded body passes %llu bytes", (unsigned long long)s->max);
		}
		if (got && cb(s->out, got, arg)) {
			free(replay);
			return 2;
		}
		if (rc == Z_STREAM_END) {
			s->ended = 1;
			rc = s->z.avail_in ? bb_errf(e, BB_EINVAL, "data after the end of the compressed body") : 1;
			free(replay);
			return rc;
		}
	} while (s->z.avail_in || s->z.avail_out == 0);
	free(replay);
	return 0;
}

uint64_t inflate_total(const struct inflate_stream *s)
{
	return s->total;
}

void inflate_end(struct inflate_stream *s)
{
	if (!s)
		return;
	inflateEnd(&s->z);
	free(s);
}
