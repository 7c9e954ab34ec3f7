/* fuzz_inflate.c - fuzzer for lib/inflate: gzip/deflate/zstd/br bodies under an output cap, fed whole, in pieces and into small output windows (same result), with a stopping callback and a memory budget. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "inflate.h"

struct out {
	uint64_t n;
	uint32_t sum;
	uint64_t stop_at; /* ask to stop once this many bytes came (0: never) */
};

static int collect(const void *p, size_t n, void *arg)
{
	struct out *o = arg;
	const unsigned char *b = p;
	size_t k;

	CHECK(n > 0);
	for (k = 0; k < n; k++)
		o->sum = o->sum * 31 + b[k];
	o->n += n;
	return o->stop_at && o->n >= o->stop_at;
}

/* Decode in pieces of step (0: at once). Returns the last inflate_feed result. */
static int run(const char *fmt, const uint8_t *in, size_t n, size_t step, uint64_t cap, struct out *o)
{
	struct inflate_stream *s;
	struct bb_err e;
	size_t off = 0;
	int rc = 0;

	if (inflate_begin(&s, fmt, strlen(fmt), cap, &e) < 0)
		abort(); /* the formats named here are known */
	while (off < n) {
		size_t k = step && step < n - off ? step : n - off;

		if (k > n - off)
			k = n - off;

		rc = inflate_feed(s, in + off, k, collect, o, &e);
		off += k;
		/* the callback never gets more than the cap; the counter may pass it when refusing */
		CHECK(o->n <= cap && (rc < 0 || inflate_total(s) <= cap));
		if (rc < 0) {
			CHECK(e.msg[0] != 0);
			break;
		}
		if (rc == 2)
			break;
	}
	CHECK(o->stop_at || rc < 0 || inflate_total(s) == o->n);
	inflate_end(s);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* byte 0: bits 0-1 and byte 1 bit 0 pick the coding, bit 2 the cap, bits 3-7 the piece size; byte 1: the cap */
	static const char *const fmts[] = { "gzip", "deflate", "x-gzip", "deflate", "zstd", "br", "zstd", "br" };
	struct out a = { 0, 0, 0 }, b = { 0, 0, 0 }, c = { 0, 0, 0 };
	const char *fmt;
	uint64_t cap;
	int ra, rb;
	struct inflate_stream *s;

	if (size < 2 || size > 65536)
		return 0;
	fmt = fmts[(data[0] & 3) | (data[1] & 1) << 2];
	cap = data[0] & 4 ? 1u << 20 : (uint64_t)data[1] * 97 + 1;
	ra = run(fmt, data + 2, size - 2, 0, cap, &a);
	rb = run(fmt, data + 2, size - 2, (size_t)(data[0] >> 3) + 1, cap, &b);
	/* where the input is cut must not matter: the same bytes come out, the same way it ends */
	CHECK((ra < 0) == (rb < 0));
	if (ra >= 0)
		CHECK(ra == rb && a.n == b.n && a.sum == b.sum);
	/* decoded through inflate_step into a small output window, under a memory budget: the same bytes */
	{
		size_t used_mem = 0, off = 0, used, got, n = 0, room = (size_t)(data[1] >> 1) + 1;
		struct inflate_limits lim = { cap, &used_mem, 32u << 20 };
		unsigned char win[128];
		uint32_t sum = 0;
		struct bb_err e;
		int rc = 0, spins = 0;
		CHECK(inflate_begin_limits(&s, fmt, strlen(fmt), &lim, &e) == 0);
		for (;;) {
			rc = inflate_step(s, data + 2 + off, size - 2 - off, &used, win, room, &got, &e);
			CHECK(used <= size - 2 - off && got <= room);
			if (rc < 0)
				break;
			for (size_t k = 0; k < got; k++)
				sum = sum * 31 + win[k];
			n += got;
			off += used;
			if (!used && !got)
				break;
			CHECK(++spins < 100000000);
		}
		CHECK((rc < 0) == (ra < 0) || ra == 2);
		if (rc >= 0 && ra >= 0)
			CHECK(n == a.n && sum == a.sum);
		inflate_end(s);
		CHECK(used_mem == 0);
	}
	/* a callback that stops is obeyed */
	if (a.n > 1) {
		c.stop_at = 1;
		CHECK(run(fmt, data + 2, size - 2, 0, cap, &c) == 2);
	}
	CHECK(inflate_begin(&s, (const char *)data, size > 8 ? 8 : size, cap, NULL) < 0 ||
	      (inflate_end(s), 1));
	return 0;
}
