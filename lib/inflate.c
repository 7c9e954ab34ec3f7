/* inflate.c - bounded streaming decoding of gzip/deflate (zlib), zstd (libzstd) and br (brotli), with counted memory. */
#include "inflate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_createDStream_advanced: our allocator, so the memory is counted */
#include <zstd.h>
#include <brotli/decode.h>

enum fmt { F_GZIP, F_DEFLATE, F_ZSTD, F_BR };

static const char *const fmt_names[] = { "gzip", "deflate", "zstd", "br" };

#define ZSTD_WINDOW_LOG_MAX 23 /* 8 MiB: what RFC 8878 asks an HTTP decoder to support */

struct inflate_stream {
	enum fmt fmt;
	uint64_t total, max;
	uint64_t fed;  /* compressed bytes taken from callers */
	int ended;     /* the compressed stream is complete */
	size_t *mem_used, mem_max;
	int over_budget; /* an allocation was refused: the error says so */
	/* gzip / deflate */
	z_stream z;
	int z_live;
	int raw;                /* "deflate" turned out to be a raw stream */
	unsigned char head[16]; /* the first bytes taken: replayed when "deflate" turns out to be raw */
	size_t replay_off, replay_len;
	/* zstd, br */
	ZSTD_DStream *zd;
	BrotliDecoderState *bd;
	unsigned char out[8192]; /* inflate_feed's output window */
};

/* ---------- counted memory ---------- */

/* Each block carries its size in front, so freeing can give it back to the budget. */
#define HDR 16

static void *mem_alloc(struct inflate_stream *s, size_t n)
{
	unsigned char *p;
	if (n > SIZE_MAX - HDR)
		return NULL;
	if (s->mem_used && (n + HDR > s->mem_max || *s->mem_used > s->mem_max - n - HDR)) {
		s->over_budget = 1;
		return NULL;
	}
	p = malloc(n + HDR);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof n);
	if (s->mem_used)
		*s->mem_used += n + HDR;
	return p + HDR;
}

static void mem_free(struct inflate_stream *s, void *q)
{
	unsigned char *p = q;
	size_t n;
	if (!p)
		return;
	p -= HDR;
	memcpy(&n, p, sizeof n);
	if (s->mem_used)
		*s->mem_used -= n + HDR;
	free(p);
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
	if (size && items > SIZE_MAX / size)
		return Z_NULL;
	return mem_alloc(opaque, (size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p)
{
	mem_free(opaque, p);
}

static void *zstd_alloc(void *opaque, size_t n)
{
	return mem_alloc(opaque, n);
}

static void zstd_free(void *opaque, void *p)
{
	mem_free(opaque, p);
}

static void *br_alloc(void *opaque, size_t n)
{
	return mem_alloc(opaque, n);
}

static void br_free(void *opaque, void *p)
{
	mem_free(opaque, p);
}

static int budget_err(const struct inflate_stream *s, struct bb_err *e, const char *what)
{
	if (s->over_budget)
		return bb_errf(e, ENOMEM, "decoder memory limit reached (%zu KiB in use by decoders)",
			       *s->mem_used / 1024);
	return bb_errno(e, ENOMEM, "%s", what);
}

/* ---------- setup ---------- */

static int fmt_of(const char *f, size_t n)
{
	if ((n == 4 && !strncasecmp(f, "gzip", 4)) || (n == 6 && !strncasecmp(f, "x-gzip", 6)))
		return F_GZIP;
	if (n == 7 && !strncasecmp(f, "deflate", 7))
		return F_DEFLATE;
	if (n == 4 && !strncasecmp(f, "zstd", 4))
		return F_ZSTD;
	if (n == 2 && !strncasecmp(f, "br", 2))
		return F_BR;
	return -1;
}

int inflate_format_known(const char *format, size_t flen)
{
	return fmt_of(format, flen) >= 0;
}

static int z_init(struct inflate_stream *s, int wbits)
{
	memset(&s->z, 0, sizeof s->z);
	s->z.zalloc = z_alloc;
	s->z.zfree = z_free;
	s->z.opaque = s;
	if (inflateInit2(&s->z, wbits) != Z_OK)
		return -1;
	s->z_live = 1;
	return 0;
}

static void release(struct inflate_stream *s)
{
	if (s->z_live)
		inflateEnd(&s->z);
	s->z_live = 0;
	ZSTD_freeDStream(s->zd);
	s->zd = NULL;
	if (s->bd)
		BrotliDecoderDestroyInstance(s->bd);
	s->bd = NULL;
}

int inflate_begin_limits(struct inflate_stream **out, const char *format, size_t flen, const struct inflate_limits *lim,
			 struct bb_err *e)
{
	struct inflate_stream tmp = { 0 }, *s;
	int f = fmt_of(format, flen);

	*out = NULL;
	if (f < 0)
		return bb_errf(e, BB_EINVAL, "content coding %.*s is not supported", (int)(flen > 40 ? 40 : flen), format);
	if (lim && lim->mem_used) {
		tmp.mem_used = lim->mem_used;
		tmp.mem_max = lim->mem_max;
	}
	/* The stream itself counts too: it is allocated the same way, through a stand-in. */
	s = mem_alloc(&tmp, sizeof *s);
	if (!s)
		return budget_err(&tmp, e, "inflate");
	*s = tmp;
	s->fmt = (enum fmt)f;
	s->max = lim ? lim->max_out : UINT64_MAX;
	switch (s->fmt) {
	case F_GZIP:
	case F_DEFLATE:
		/* 16+: gzip only; 32+: zlib or gzip by header (for "deflate", zlib wrapped). */
		if (z_init(s, s->fmt == F_GZIP ? 16 + MAX_WBITS : 32 + MAX_WBITS) < 0)
			goto fail;
		break;
	case F_ZSTD: {
		ZSTD_customMem cm = { zstd_alloc, zstd_free, s };
		s->zd = ZSTD_createDStream_advanced(cm);
		if (!s->zd || ZSTD_isError(ZSTD_DCtx_setParameter(s->zd, ZSTD_d_windowLogMax, ZSTD_WINDOW_LOG_MAX)))
			goto fail;
		break;
	}
	case F_BR:
		s->bd = BrotliDecoderCreateInstance(br_alloc, br_free, s);
		if (!s->bd)
			goto fail;
		break;
	}
	*out = s;
	return 0;
fail:
	budget_err(s, e, "starting a decoder");
	release(s);
	mem_free(&tmp, s);
	return -1;
}

int inflate_begin(struct inflate_stream **out, const char *format, size_t flen, uint64_t max_out, struct bb_err *e)
{
	struct inflate_limits lim = { max_out, NULL, 0 };
	return inflate_begin_limits(out, format, flen, &lim, e);
}

/* ---------- decoding ---------- */

static int z_step(struct inflate_stream *s, const unsigned char *in, size_t n, size_t *used, unsigned char *out,
		  size_t cap, size_t *produced, struct bb_err *e)
{
	for (;;) {
		const unsigned char *src;
		size_t avail, took, got;
		int from_replay = s->replay_off < s->replay_len, rc;

		if (from_replay) {
			src = s->head + s->replay_off;
			avail = s->replay_len - s->replay_off;
		} else {
			src = in + *used;
			avail = n - *used;
		}
		if (s->ended)
			return avail ? bb_errf(e, BB_EINVAL, "data after the end of the compressed body") : 1;
		if (*produced == cap)
			return 0;
		s->z.next_in = (unsigned char *)(uintptr_t)src;
		s->z.avail_in = (uInt)(avail > UINT32_MAX ? UINT32_MAX : avail);
		s->z.next_out = out + *produced;
		s->z.avail_out = (uInt)(cap - *produced > UINT32_MAX ? UINT32_MAX : cap - *produced);
		avail = s->z.avail_in;
		got = s->z.avail_out;
		rc = inflate(&s->z, Z_NO_FLUSH);
		took = avail - s->z.avail_in;
		got -= s->z.avail_out;
		s->z.avail_in = 0; /* what zlib did not take is offered again next round */
		if (from_replay) {
			s->replay_off += took;
		} else {
			if (s->fed < sizeof s->head) {
				size_t keep = sizeof s->head - (size_t)s->fed;
				memcpy(s->head + s->fed, src, keep < took ? keep : took);
			}
			s->fed += took;
			*used += took;
		}
		*produced += got;
		s->total += got;
		if (rc == Z_DATA_ERROR && s->fmt == F_DEFLATE && !s->raw && s->total == 0 && s->fed <= sizeof s->head) {
			/*
			 * Some clients send raw deflate under "deflate": try that once, from the
			 * start — the zlib header check fails within its first bytes, which are
			 * kept in head, however the body was cut into calls.
			 */
			inflateEnd(&s->z);
			s->z_live = 0;
			if (z_init(s, -MAX_WBITS) < 0)
				return budget_err(s, e, "inflateInit2");
			s->raw = 1;
			s->replay_off = 0;
			s->replay_len = (size_t)s->fed;
			continue;
		}
		if (rc == Z_MEM_ERROR)
			return budget_err(s, e, "inflate");
		if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
			return bb_errf(e, BB_EINVAL, "corrupt %s data (%s)", fmt_names[s->fmt],
				       s->z.msg ? s->z.msg : "inflate failed");
		if (s->total > s->max)
			return bb_errf(e, BB_ETOOBIG, "decoded body passes %llu bytes", (unsigned long long)s->max);
		if (rc == Z_STREAM_END)
			s->ended = 1;
		else if (!took && !got)
			return 0; /* nothing more comes out of what was given */
	}
}

static int zstd_step(struct inflate_stream *s, const unsigned char *in, size_t n, size_t *used, unsigned char *out,
		     size_t cap, size_t *produced, struct bb_err *e)
{
	for (;;) {
		ZSTD_inBuffer ib = { in + *used, n - *used, 0 };
		ZSTD_outBuffer ob = { out + *produced, cap - *produced, 0 };
		size_t r;

		if (*produced == cap || (!ib.size && s->ended))
			return s->ended;
		r = ZSTD_decompressStream(s->zd, &ob, &ib);
		*used += ib.pos;
		s->fed += ib.pos;
		*produced += ob.pos;
		s->total += ob.pos;
		if (ZSTD_isError(r)) {
			if (s->over_budget)
				return budget_err(s, e, "zstd");
			return bb_errf(e, BB_EINVAL, "corrupt zstd data (%s)", ZSTD_getErrorName(r));
		}
		if (s->total > s->max)
			return bb_errf(e, BB_ETOOBIG, "decoded body passes %llu bytes", (unsigned long long)s->max);
		/* 0: a frame is complete and flushed; more input would start the next one. */
		if (ib.pos || ob.pos)
			s->ended = r == 0;
		if (!ib.pos && !ob.pos)
			return s->ended;
	}
}

static int br_step(struct inflate_stream *s, const unsigned char *in, size_t n, size_t *used, unsigned char *out,
		   size_t cap, size_t *produced, struct bb_err *e)
{
	size_t ai = n, ao = cap;
	const uint8_t *ni = in;
	uint8_t *no = out;
	BrotliDecoderResult r;

	if (s->ended)
		return n ? bb_errf(e, BB_EINVAL, "data after the end of the compressed body") : 1;
	if (!cap)
		return 0;
	r = BrotliDecoderDecompressStream(s->bd, &ai, &ni, &ao, &no, NULL);
	*used = n - ai;
	*produced = cap - ao;
	s->fed += *used;
	s->total += *produced;
	if (r == BROTLI_DECODER_RESULT_ERROR) {
		if (s->over_budget)
			return budget_err(s, e, "brotli");
		return bb_errf(e, BB_EINVAL, "corrupt br data (%s)",
			       BrotliDecoderErrorString(BrotliDecoderGetErrorCode(s->bd)));
	}
	if (s->total > s->max)
		return bb_errf(e, BB_ETOOBIG, "decoded body passes %llu bytes", (unsigned long long)s->max);
	if (r == BROTLI_DECODER_RESULT_SUCCESS) {
		s->ended = 1;
		return ai ? bb_errf(e, BB_EINVAL, "data after the end of the compressed body") : 1;
	}
	return 0;
}

int inflate_step(struct inflate_stream *s, const void *in, size_t n, size_t *used, void *out, size_t cap,
		 size_t *produced, struct bb_err *e)
{
	static const unsigned char none[1];
	*used = *produced = 0;
	if (!in) /* nothing to give (draining what the decoder holds): a valid pointer all the same */
		in = none;
	switch (s->fmt) {
	case F_ZSTD:
		return zstd_step(s, in, n, used, out, cap, produced, e);
	case F_BR:
		return br_step(s, in, n, used, out, cap, produced, e);
	default:
		return z_step(s, in, n, used, out, cap, produced, e);
	}
}

int inflate_feed(struct inflate_stream *s, const void *in, size_t n, inflate_cb cb, void *arg, struct bb_err *e)
{
	const unsigned char *p = in;
	size_t used, got;
	int rc;

	for (;;) {
		rc = inflate_step(s, p, n, &used, s->out, sizeof s->out, &got, e);
		if (rc < 0)
			return -1;
		p += used;
		n -= used;
		if (got && cb(s->out, got, arg))
			return 2;
		if ((rc == 1 && !n) || (!used && !got))
			return rc;
		/* else: more output may be pending, input remains, or (rc 1) bytes follow the end: the next step says */
	}
}

int inflate_complete(const struct inflate_stream *s)
{
	return s->ended || s->fed == 0;
}

uint64_t inflate_total(const struct inflate_stream *s)
{
	return s->total;
}

const char *inflate_format(const struct inflate_stream *s)
{
	return fmt_names[s->fmt];
}

void inflate_end(struct inflate_stream *s)
{
	struct inflate_stream tmp;
	if (!s)
		return;
	release(s);
	tmp = *s;
	mem_free(&tmp, s);
}
