/* fuzz_scan.c - fuzzer for the scanning engine (lib/scan) with its decoders: the input fed whole and in pieces of any size must give the same findings. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "scan.h"
#include "secrets.h"

#define MAXF 256

struct one {
	char id[48];
	char decoded[64];
	uint64_t off;
	size_t len;
	unsigned line;
};

struct found {
	size_t n;
	struct one f[MAXF];
};

static int collect(const struct scan_finding *f, void *arg)
{
	struct found *g = arg;

	if (strlen(f->excerpt) > SCAN_EXCERPT_MAX)
		abort();
	if (g->n < MAXF) {
		snprintf(g->f[g->n].id, sizeof g->f[g->n].id, "%s", f->id);
		snprintf(g->f[g->n].decoded, sizeof g->f[g->n].decoded, "%s", f->decoded ? f->decoded : "");
		g->f[g->n].off = f->offset;
		g->f[g->n].len = f->length;
		g->f[g->n].line = f->line;
	}
	g->n++;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	const struct one *p = a, *q = b;
	int c = strcmp(p->id, q->id);

	if (c || (c = strcmp(p->decoded, q->decoded)) != 0)
		return c;
	if (p->off != q->off)
		return p->off < q->off ? -1 : 1;
	return p->len < q->len ? -1 : p->len > q->len;
}

/* The built-in rules, injection patterns and one known secret: made once (building an engine is the slow part). */
static struct scan_engine *engine(void)
{
	static struct scan_engine *eng;

	if (!eng && (secrets_add("KNOWN", "known-secret-value", 18, SECRET_DLP, NULL) < 0 || scan_engine_new(&eng, NULL) < 0 ||
		     scan_engine_use_secrets(eng, NULL) < 0 || scan_engine_finish(eng, NULL) < 0))
		abort();
	return eng;
}

/*
 * Input: the text. It is scanned whole, then in pieces whose sizes cycle
 * through its first bytes (1 to 97), with every detector and the decoders
 * (percent-escapes, base64 and hex runs, split lines): the findings (rule,
 * decoding, offset, length, line) must be the same, whether the stream
 * could be scanned whole must be the same, and no excerpt may pass its cap.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct found a, b;
	const char *text = (const char *)data;
	size_t n = size, off, k = 0, plen = size < 8 ? size : 8;
	struct scan_engine *eng = engine();
	struct scan_stream *st = NULL;
	unsigned det = SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS | SCAN_INJECTION | SCAN_DECODE;
	int whole;

	if (scan_stream_new(&st, eng, det, NULL) < 0)
		abort();
	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	scan_feed(st, text, n, collect, &a);
	scan_end(st, collect, &a);
	whole = scan_stream_incomplete(st) == NULL;
	scan_stream_reset(st);
	for (off = 0; off < n;) {
		size_t piece = 1 + (unsigned char)data[k++ % plen] % 97;

		if (piece > n - off)
			piece = n - off;
		scan_feed(st, text + off, piece, collect, &b);
		off += piece;
	}
	scan_end(st, collect, &b);
	if (a.n != b.n || whole != (scan_stream_incomplete(st) == NULL))
		abort();
	if (a.n <= MAXF) {
		size_t i;

		qsort(a.f, a.n, sizeof a.f[0], cmp);
		qsort(b.f, b.n, sizeof b.f[0], cmp);
		for (i = 0; i < a.n; i++)
			if (cmp(&a.f[i], &b.f[i]) || a.f[i].line != b.f[i].line)
				abort();
	}
	scan_stream_free(st);
	return 0;
}
