/* scan_decode.c - the scanner's decoding layer: percent-escapes and split lines (a view of the text), base64 and hex runs (decoded, scanned), bounded depth. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "hex.h"
#include "scan_int.h"
#include "secrets.h"

/*
 * What a stream with SCAN_DECODE scans besides its text (docs/scanning.md,
 * "Encoded secrets"):
 *
 * The view: the text with every percent-escape decoded ("%2573", encoded
 * twice, decodes to 's' too). It is a second stream, fed only from VIEW_W
 * bytes before an escape to VIEW_W bytes after the last one (every match
 * that holds a decoded byte lies within that), and it reports only the
 * matches that hold a decoded byte: the rest the text's own scan saw. Each
 * view byte remembers how many bytes of the text it stands for (struct
 * scan_stream.own), which maps its findings back.
 *
 * Runs: every stretch of SCAN_RUN_MIN or more base64 characters (both
 * alphabets; '=' ends it) in the text, or in the view where it is fed, is
 * decoded as base64 (or as hex when it is all hex digits), each decoding
 * scanned as its own text in a third stream (dec), then the runs and
 * escapes inside it, to SCAN_DECODE_DEPTH decodings in all. A run longer
 * than RUN_MAX is decoded in windows that overlap by RUN_OVERLAP bytes.
 * Where the decodings go deeper than that, the stream says so
 * (scan_stream_incomplete): a gate refuses what it could not read.
 *
 * Split tokens: where a line ends with what looks like the first half of a
 * token and the next line holds only the rest ("ghp_1a2b...\n    c3d4..."
 * or "'ghp_1a2b' +\n 'c3d4'"), the two lines joined there (quotes,
 * operator, newline and indentation removed) are scanned in dec too, and
 * what is found across the join is reported, with the run across it
 * decoded as above.
 *
 * Everything is decided from the text alone, never from how it was cut into
 * chunks: the same input gives the same findings however it is fed
 * (tests/fuzz/fuzz_scan.c).
 */

#define VIEW_BUF (32 * 1024) /* room of the view stream (more than SCAN_HOLD) */
#define VIEW_W SCAN_HOLD     /* the view starts this far before an escape and pauses this far after the last */
#define RUN_MAX 4096         /* runs are decoded in windows of this many bytes */
#define RUN_OVERLAP 256      /* windows of a longer run overlap by this (a multiple of 4: base64 stays aligned) */
#define DEC_BUF (RUN_MAX / 4 * 3 + 64) /* room of the stream a decoded text is scanned in */
#define PCT_CHAIN 8          /* "%2525...": escapes spelled by escapes are followed this deep */
#define JOIN_R1 64           /* a token's first half is measured back this far */
#define JOIN_R2 256          /* the continued line's token is at most this long */
#define JOIN_INDENT 64       /* a continued line's indentation, at most */
#define JOIN_TAIL 20         /* bytes between a first half and its newline, at most */
#define JOIN_MIN 20          /* joined halves this long together, at least */
#define JOIN_CTX 512         /* bytes of the first line before the split kept as context */
#define JOIN_KEEP (JOIN_CTX + JOIN_TAIL + 64) /* how far back of the next newline a join may look */
#define STAGE 512            /* decoded view bytes gathered before they are fed */
#define PRINTABLE_MIN 8      /* a decoded text without this many printable bytes in a row is not scanned */

enum { VIEW_OFF, VIEW_ON, VIEW_PAUSED };

#define STR_(x) #x
#define STR(x) STR_(x)
#define DEPTH_TEXT STR(SCAN_DECODE_DEPTH)

/* Finding runs in a text (the top stream's or the view's) as it grows. */
struct runs {
	int in_run;
	uint64_t start; /* in a run: the start of the window being gathered; else the start of the current stretch */
	uint64_t pos;   /* the next byte to look at */
	int windows;    /* in a run: windows already decoded */
};

struct scan_decoder {
	struct scan_stream *top, *view, *dec;
	int vstate;
	uint64_t cur;      /* top offset: what is before it was handled (by the view, or the top run finder) */
	uint64_t last_rw;  /* top offset just past the last escape fed to the view */
	uint64_t vpaused;  /* VIEW_PAUSED: top offset where the view's text stops */
	uint64_t jcur;     /* top offset: newlines before it were looked at for split tokens */
	struct runs rr;    /* runs in the top stream's text (while no view is fed) */
	struct runs rv;    /* runs in the view */
	/* the staged view bytes */
	char stage[STAGE];
	uint8_t stage_own[STAGE];
	size_t nstage;
	/* what dec scans, for its findings: a run window [o_start, o_start + o_n) of o_src, or a join text */
	int o_join;
	const struct scan_stream *o_src;
	uint64_t o_start;
	size_t o_n;
	uint64_t o_s1, o_g1; /* join text: top [o_s1, o_s1 + o_j), then top from o_g1 */
	size_t o_j;
	size_t o_rs, o_re;   /* join text: the run across the join being decoded */
	size_t d_skip;       /* depth 1 of a window: findings ending in its first d_skip bytes were the previous window's */
	int d_depth;         /* of the text dec scans: 0 a join text, else decodings applied */
	const char *kinds[SCAN_DECODE_DEPTH + 1];
	char chain[96];
	const char *incomplete;
	unsigned char jtext[DEC_BUF];
	unsigned char work[SCAN_DECODE_DEPTH + 1][DEC_BUF];
};

/* ---- byte classes ---- */

/* base64 values of both alphabets, -1 elsewhere */
static const signed char b64v[256] = {
	['A'] = 0,  ['B'] = 1,  ['C'] = 2,  ['D'] = 3,  ['E'] = 4,  ['F'] = 5,  ['G'] = 6,  ['H'] = 7,  ['I'] = 8,
	['J'] = 9,  ['K'] = 10, ['L'] = 11, ['M'] = 12, ['N'] = 13, ['O'] = 14, ['P'] = 15, ['Q'] = 16, ['R'] = 17,
	['S'] = 18, ['T'] = 19, ['U'] = 20, ['V'] = 21, ['W'] = 22, ['X'] = 23, ['Y'] = 24, ['Z'] = 25, ['a'] = 26,
	['b'] = 27, ['c'] = 28, ['d'] = 29, ['e'] = 30, ['f'] = 31, ['g'] = 32, ['h'] = 33, ['i'] = 34, ['j'] = 35,
	['k'] = 36, ['l'] = 37, ['m'] = 38, ['n'] = 39, ['o'] = 40, ['p'] = 41, ['q'] = 42, ['r'] = 43, ['s'] = 44,
	['t'] = 45, ['u'] = 46, ['v'] = 47, ['w'] = 48, ['x'] = 49, ['y'] = 50, ['z'] = 51, ['0'] = 52, ['1'] = 53,
	['2'] = 54, ['3'] = 55, ['4'] = 56, ['5'] = 57, ['6'] = 58, ['7'] = 59, ['8'] = 60, ['9'] = 61, ['+'] = 62,
	['-'] = 62, ['/'] = 63, ['_'] = 63,
};

static int alpha(unsigned char c)
{
	return c == 'A' || b64v[c] > 0;
}

/* The halves of a split token: letters, digits and the base64 and key punctuation. */
static int tokch(unsigned char c)
{
	return alpha(c) || c == '=';
}

static int blank(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* ---- the decoder's life ---- */

int scan_decoder_new(struct scan_stream *top, struct bb_err *e)
{
	struct scan_decoder *d = calloc(1, sizeof *d);
	unsigned det = top->detectors & (SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS);

	if (!d)
		return bb_errno(e, ENOMEM, "creating a scan stream");
	d->top = top;
	if (scan_stream_make(&d->view, top->eng, det, LAYER_VIEW, VIEW_BUF, e) < 0 ||
	    scan_stream_make(&d->dec, top->eng, det, LAYER_DEC, DEC_BUF, e) < 0) {
		scan_decoder_free(d);
		return -1;
	}
	d->view->top = d->dec->top = top;
	top->dec = d;
	scan_decoder_reset(d);
	return 0;
}

void scan_decoder_free(struct scan_decoder *d)
{
	if (!d)
		return;
	scan_stream_free(d->view);
	scan_stream_free(d->dec);
	free(d);
}

void scan_decoder_reset(struct scan_decoder *d)
{
	scan_stream_clear(d->view);
	scan_stream_clear(d->dec);
	d->vstate = VIEW_OFF;
	d->cur = d->last_rw = d->vpaused = d->jcur = 0;
	memset(&d->rr, 0, sizeof d->rr);
	memset(&d->rv, 0, sizeof d->rv);
	d->nstage = 0;
	d->incomplete = NULL;
}

const char *scan_decoder_incomplete(const struct scan_decoder *d)
{
	return d->incomplete;
}

uint64_t scan_decoder_keep_from(const struct scan_stream *top)
{
	const struct scan_decoder *d = top->dec;
	uint64_t k = d->cur > VIEW_W ? d->cur - VIEW_W : 0;

	if (d->vstate != VIEW_ON && d->rr.start < k)
		k = d->rr.start;
	if (d->jcur < k + JOIN_KEEP)
		k = d->jcur > JOIN_KEEP ? d->jcur - JOIN_KEEP : 0;
	return k;
}

static int stopped(const struct scan_decoder *d)
{
	return d->top->stopped;
}

static void set_incomplete(struct scan_decoder *d)
{
	if (!d->incomplete)
		d->incomplete = "encodings nested deeper than " DEPTH_TEXT " levels (base64, hex or percent-escapes inside one another)";
}

#define TB(x) ((unsigned char)top->buf[(x) - top->base])

/* ---- decoded texts ---- */

/* A run of PRINTABLE_MIN printable bytes somewhere in p[0..n): only then can a rule or a known secret match. */
static int has_printable(const unsigned char *p, size_t n)
{
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		k = (p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\t' || p[i] == '\n' || p[i] == '\r' ? k + 1 : 0;
		if (k == PRINTABLE_MIN)
			return 1;
	}
	return 0;
}

/* p[0..n) percent-decoded into out (room for n); its length, or 0 when it holds no escape. */
static size_t pct_decode(const unsigned char *p, size_t n, unsigned char *out)
{
	size_t i = 0, o = 0;
	int any = 0;

	while (i < n) {
		if (p[i] == '%' && i + 2 < n && hex_val(p[i + 1]) >= 0 && hex_val(p[i + 2]) >= 0) {
			unsigned char c = (unsigned char)(hex_val(p[i + 1]) * 16 + hex_val(p[i + 2]));
			int depth = 1;

			i += 3;
			while (c == '%' && depth++ < PCT_CHAIN && i + 1 < n && hex_val(p[i]) >= 0 && hex_val(p[i + 1]) >= 0) {
				c = (unsigned char)(hex_val(p[i]) * 16 + hex_val(p[i + 1]));
				i += 2;
			}
			out[o++] = c;
			any = 1;
			continue;
		}
		out[o++] = p[i++];
	}
	return any ? o : 0;
}

static void scan_decoded(struct scan_decoder *d, const unsigned char *t, size_t n, int depth);

/*
 * One run (or window of one), depth decodings deep once decoded: as hex
 * when it is all hex digits (after an optional 0x), else as base64, from
 * its start and from just after a separator near it ("sha512-...",
 * "token_..."). An all-hex run is not taken for base64: the base64 of text
 * holds capitals.
 */
static void decode_run(struct scan_decoder *d, const unsigned char *r, size_t n, int depth)
{
	unsigned char *out;
	size_t i, o, from = 0, hx = n >= 2 && r[0] == '0' && (r[1] | 32) == 'x' ? 2 : 0;
	int hex = 1;

	if (depth > SCAN_DECODE_DEPTH) {
		set_incomplete(d);
		return;
	}
	out = d->work[depth - 1];
	for (i = hx; i < n && hex; i++)
		hex = hex_val(r[i]) >= 0;
	if (hex) {
		if (n - hx < SCAN_RUN_MIN)
			return;
		for (i = hx, o = 0; i + 1 < n; i += 2)
			out[o++] = (unsigned char)(hex_val(r[i]) * 16 + hex_val(r[i + 1]));
		d->kinds[depth - 1] = "hex";
		scan_decoded(d, out, o, depth);
		return;
	}
	for (i = 0; i < n && i < 16; i++)
		if (r[i] == '-' || r[i] == '_')
			from = i + 1;
	from = from % 4 ? from : 0; /* at a multiple of 4 the decoding from the start has the same alignment */
	for (;;) {
		uint32_t acc = 0;
		int bits = 0;

		for (i = from, o = 0; i < n; i++) {
			acc = (acc << 6) | (uint32_t)b64v[r[i]];
			bits += 6;
			if (bits >= 8) {
				bits -= 8;
				out[o++] = (unsigned char)(acc >> bits);
			}
		}
		d->kinds[depth - 1] = "base64";
		scan_decoded(d, out, o, depth);
		if (!from || stopped(d))
			break;
		from = 0; /* and once more from the run's own start */
	}
}

/* The runs of SCAN_RUN_MIN or more inside a decoded text (shorter than RUN_MAX: decoded texts are). */
static void runs_inside(struct scan_decoder *d, const unsigned char *t, size_t n, int depth)
{
	size_t i = 0, s;

	while (i < n && !stopped(d)) {
		while (i < n && !alpha(t[i]))
			i++;
		for (s = i; i < n && alpha(t[i]); i++)
			;
		if (i - s >= SCAN_RUN_MIN)
			decode_run(d, t + s, i - s, depth + 1);
	}
}

/* Scan text t in dec, as a text depth decodings deep (0: a join text). */
static void dec_scan(struct scan_decoder *d, const unsigned char *t, size_t n, int depth)
{
	d->d_depth = depth;
	scan_stream_clear(d->dec);
	scan_stream_put(d->dec, (const char *)t, n, NULL);
	if (!stopped(d))
		scan_stream_finish(d->dec);
}

/* Scan a decoded text, then what is encoded inside it. */
static void scan_decoded(struct scan_decoder *d, const unsigned char *t, size_t n, int depth)
{
	size_t m;

	if (!n || stopped(d) || !has_printable(t, n))
		return;
	dec_scan(d, t, n, depth);
	if (stopped(d))
		return;
	runs_inside(d, t, n, depth);
	if (stopped(d) || !memchr(t, '%', n) || !(m = pct_decode(t, n, d->work[depth])))
		return;
	if (depth == SCAN_DECODE_DEPTH) {
		set_incomplete(d);
		return;
	}
	d->kinds[depth] = "percent";
	scan_decoded(d, d->work[depth], m, depth + 1);
}

/* The chain of decodings of a finding at depth, outermost first. */
static const char *chain(struct scan_decoder *d, const char *from, int depth)
{
	size_t o = 0;
	int i;

	d->chain[0] = 0;
	if (from)
		o += (size_t)snprintf(d->chain + o, sizeof d->chain - o, "%s", from);
	for (i = 0; i < depth && o < sizeof d->chain; i++)
		o += (size_t)snprintf(d->chain + o, sizeof d->chain - o, "%s%s", o ? "," : "", d->kinds[i]);
	return d->chain;
}

/* The index of a known secret's label (findings carry the engine's own string). */
static int known_index(const struct scan_engine *eng, const char *label, uint32_t *id)
{
	size_t i;

	for (i = 0; i < secrets_set_count(eng->known); i++)
		if (secrets_label(eng->known, (uint32_t)i) == label) {
			*id = (uint32_t)i;
			return 1;
		}
	return 0;
}

/* Did the top stream's own scan see this known secret, in one of its listed forms, in [off, off + len)? */
static int known_seen_raw(const struct scan_stream *top, const struct scan_finding *f, uint64_t off, size_t len)
{
	uint32_t id;

	if (f->kind != SCAN_KIND_KNOWN || !known_index(top->eng, f->id, &id) || off < top->base ||
	    off + len > top->base + top->len)
		return 0;
	return scan_known_in(top->eng, id, top->buf + (off - top->base), len);
}

/* The top stream's offset of view offset off (the start of the escape it was decoded from). */
static uint64_t view_to_top(const struct scan_stream *v, uint64_t off)
{
	uint64_t r = v->raw_at_base;
	size_t i, n = off > v->base ? (size_t)(off - v->base) : 0;

	if (n > v->len)
		n = v->len;
	for (i = 0; i < n; i++)
		r += v->own[i];
	return r;
}

/* Does the view hold a decoded byte in [from, to)? */
static int view_decoded(const struct scan_stream *v, uint64_t from, uint64_t to)
{
	size_t i, a = from > v->base ? (size_t)(from - v->base) : 0, b = to > v->base ? (size_t)(to - v->base) : 0;

	if (b > v->len)
		b = v->len;
	for (i = a; i < b; i++)
		if (v->own[i] != 1)
			return 1;
	return 0;
}

/* A join text's offset in the top stream's text. */
static uint64_t join_to_top(const struct scan_decoder *d, size_t o)
{
	return o < d->o_j ? d->o_s1 + o : d->o_g1 + (o - d->o_j);
}

int scan_decode_report(struct scan_stream *s, struct scan_finding *f, uint64_t mstart, uint64_t mend)
{
	struct scan_stream *top = s->top;
	struct scan_decoder *d = top->dec;
	const char *from = NULL;
	uint64_t a, b;
	unsigned line;

	if (s->layer == LAYER_VIEW) {
		if (!view_decoded(s, mstart, mend))
			return 0; /* the text as it is held this match: the top stream reported it */
		a = view_to_top(s, f->offset);
		b = view_to_top(s, f->offset + f->length);
		line = f->line;
		from = "percent";
	} else if (d->o_join) {
		if (d->d_depth == 0) {
			if (mstart >= d->o_j || mend <= d->o_j)
				return 0; /* not across the join: the top stream saw it */
			a = join_to_top(d, (size_t)f->offset);
			b = join_to_top(d, (size_t)(f->offset + f->length - 1)) + 1;
		} else {
			a = join_to_top(d, d->o_rs);
			b = join_to_top(d, d->o_re - 1) + 1;
		}
		line = scan_line_of(top, a);
		from = "split-lines";
	} else {
		const struct scan_stream *src = d->o_src;

		if (d->d_depth == 1 && f->offset + f->length <= d->d_skip)
			return 0;
		a = d->o_start;
		b = d->o_start + d->o_n;
		line = scan_line_of(src, a);
		if (src->layer == LAYER_VIEW) {
			from = view_decoded(src, a, b) ? "percent" : NULL;
			a = view_to_top(src, d->o_start);
			b = view_to_top(src, d->o_start + d->o_n);
		}
	}
	if (known_seen_raw(top, f, a, (size_t)(b - a)))
		return 0;
	f->offset = a;
	f->length = (size_t)(b - a);
	f->line = line;
	f->decoded = s->layer == LAYER_VIEW ? from : chain(d, from, d->d_depth);
	if (!top->stopped && top->cb(f, top->arg))
		top->stopped = 1;
	s->stopped = top->stopped;
	return s->stopped;
}

/* ---- runs in a growing text ---- */

/* A window [start, start + n) of a run in stream s (the top stream or the view): decode and scan it. */
static void run_window(struct scan_decoder *d, struct scan_stream *s, uint64_t start, size_t n, int window)
{
	if (start < s->base || start + n > s->base + s->len)
		return; /* cannot happen: runs are decoded before their bytes are dropped */
	/* where it is in the top stream's text is worked out only for a finding */
	d->o_join = 0;
	d->o_src = s;
	d->o_start = start;
	d->o_n = n;
	d->d_skip = window ? RUN_OVERLAP / 4 * 3 : 0;
	decode_run(d, (const unsigned char *)s->buf + (start - s->base), n, 1);
}

/*
 * Find the runs in s's bytes up to `to`, decoding each when it ends (or a
 * window of it when it reaches RUN_MAX). Outside a run, a run of
 * SCAN_RUN_MIN must cover the byte SCAN_RUN_MIN - 1 after the current
 * stretch's start, so text with spaces is mostly skipped, not read.
 */
static void runs_advance(struct scan_decoder *d, struct runs *r, struct scan_stream *s, uint64_t to, int final)
{
	const unsigned char *b = (const unsigned char *)s->buf;
	uint64_t base = s->base, pos = r->pos;

	while (pos < to && !stopped(d)) {
		if (r->in_run) {
			while (pos < to && alpha(b[pos - base])) {
				pos++;
				if (pos - r->start == RUN_MAX) {
					run_window(d, s, r->start, RUN_MAX, r->windows++);
					r->start += RUN_MAX - RUN_OVERLAP;
				}
			}
			if (pos < to) {
				run_window(d, s, r->start, (size_t)(pos - r->start), r->windows);
				r->in_run = 0;
				r->start = ++pos;
			}
			continue;
		}
		{
			uint64_t need = r->start + SCAN_RUN_MIN - 1, q;

			if (need >= to) {
				for (; pos < to; pos++)
					if (!alpha(b[pos - base]))
						r->start = pos + 1;
				break;
			}
			if (!alpha(b[need - base])) {
				r->start = need + 1;
				if (pos < r->start)
					pos = r->start;
				continue;
			}
			for (q = need; q > pos && alpha(b[q - 1 - base]); q--)
				;
			if (q > pos) {
				r->start = q;
				pos = need + 1;
				continue;
			}
			r->in_run = 1;
			r->windows = 0;
			pos = need + 1;
		}
	}
	r->pos = pos;
	if (final && r->in_run && !stopped(d)) {
		run_window(d, s, r->start, (size_t)(pos - r->start), r->windows);
		r->in_run = 0;
		r->start = pos;
	}
}

/* ---- split tokens ---- */

/*
 * A token split at the newline at top offset nl: the line ends with its
 * first half (then perhaps a quote, a continuation or concatenation
 * operator, blanks), the next line holds only the rest (after its
 * indentation, perhaps an operator, the same quote; then perhaps the
 * closing quote, one of , ; ) and an operator). 1 with the bytes to remove
 * [*g0, *g1) and the end of the second line *e2 (its newline, or the end
 * of the text); 0 when there is none; -1 when the input so far cannot
 * tell. The halves must look like a token: JOIN_MIN bytes together, 4
 * each, and a digit or a capital inside a half, so wrapped prose and code
 * are not joined.
 */
static int join_at(const struct scan_stream *top, uint64_t nl, uint64_t end, int final, uint64_t *g0, uint64_t *g1,
		   uint64_t *e2)
{
	uint64_t lo = top->base, k = nl, j = nl + 1, r1, r2, t, x;
	int op = 0, n, q1 = 0, q2 = 0, digit = 0, inner_cap = 0, alnum = 0;
	unsigned char c;

	if (k > lo && TB(k - 1) == '\r')
		k--;
	if (k == lo)
		return 0;
	c = TB(k - 1);
	if (!tokch(c) && !blank(c) && c != '"' && c != '\'' && !(c && strchr("\\+.&", c)))
		return 0;
	for (n = 0; k > lo && n < 8 && blank(TB(k - 1)); n++)
		k--;
	if (k > lo && TB(k - 1) && strchr("\\+.&", TB(k - 1))) {
		op = 1;
		k--;
		for (n = 0; k > lo && n < 8 && blank(TB(k - 1)); n++)
			k--;
	}
	if (k > lo && (TB(k - 1) == '"' || TB(k - 1) == '\'')) {
		q1 = TB(k - 1);
		k--;
	}
	for (r1 = k; r1 > lo && k - r1 < JOIN_R1 && tokch(TB(r1 - 1)); r1--)
		;
	if (k - r1 < 4 || nl + 1 - k > JOIN_TAIL)
		return 0;
	for (n = 0; j < end && n <= JOIN_INDENT && blank(TB(j)); n++)
		j++;
	if (n > JOIN_INDENT)
		return 0;
	if (j < end && !op && TB(j) && strchr("+.&", TB(j))) {
		j++;
		for (n = 0; j < end && n < 8 && blank(TB(j)); n++)
			j++;
	}
	if (j < end && (TB(j) == '"' || TB(j) == '\'')) {
		q2 = TB(j);
		j++;
	}
	if (j >= end)
		return final ? 0 : -1;
	if (q1 != q2)
		return 0;
	for (r2 = j; r2 < end && r2 - j <= JOIN_R2 && tokch(TB(r2)); r2++)
		;
	if (r2 - j > JOIN_R2)
		return 0;
	/* the rest of the second line: nothing but a closing quote, a , ; or ), an operator */
	t = r2;
	if (q2 && t < end && TB(t) == q2)
		t++;
	if (t < end && TB(t) && strchr(",;)", TB(t)))
		t++;
	for (n = 0; t < end && n < 8 && blank(TB(t)); n++)
		t++;
	if (t < end && TB(t) && strchr("\\+.&", TB(t)))
		t++;
	for (n = 0; t < end && n < 8 && blank(TB(t)); n++)
		t++;
	if (t < end && TB(t) == '\r')
		t++;
	if (t >= end) {
		if (!final)
			return -1;
	} else if (TB(t) != '\n') {
		return 0;
	}
	if (r2 - j < 4 || (k - r1) + (r2 - j) < JOIN_MIN)
		return 0;
	for (x = r1; x < k; x++) {
		digit |= TB(x) >= '0' && TB(x) <= '9';
		inner_cap |= x > r1 && TB(x) >= 'A' && TB(x) <= 'Z';
	}
	for (x = j; x < r2; x++) {
		c = TB(x);
		digit |= c >= '0' && c <= '9';
		inner_cap |= x > j && c >= 'A' && c <= 'Z';
		alnum |= (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
	}
	if ((!digit && !inner_cap) || !alnum)
		return 0;
	*g0 = k;
	*g1 = j;
	*e2 = t < end && TB(t) == '\n' ? t : end;
	return 1;
}

/* The two lines joined at [g0, g1) (line 2 ends at e2), scanned in dec; so is the run across the join. */
static void join_scan(struct scan_decoder *d, uint64_t g0, uint64_t g1, uint64_t e2)
{
	struct scan_stream *top = d->top;
	uint64_t s1 = g0 - top->base > JOIN_CTX ? g0 - JOIN_CTX : top->base, x;
	size_t n, j, rs, re;

	for (x = g0; x > s1; x--)
		if (TB(x - 1) == '\n')
			break;
	s1 = x; /* the first line's start, or JOIN_CTX before the split */
	j = (size_t)(g0 - s1);
	n = (size_t)(e2 - g1) + (e2 < top->base + top->len); /* the second line with its newline */
	if (j + n > sizeof d->jtext)
		n = sizeof d->jtext - j;
	memcpy(d->jtext, top->buf + (s1 - top->base), j);
	memcpy(d->jtext + j, top->buf + (g1 - top->base), n);
	n += j;
	d->o_join = 1;
	d->o_s1 = s1;
	d->o_g1 = g1;
	d->o_j = j;
	dec_scan(d, d->jtext, n, 0);
	for (rs = j; rs > 0 && alpha(d->jtext[rs - 1]); rs--)
		;
	for (re = j; re < n && alpha(d->jtext[re]); re++)
		;
	if (stopped(d) || rs == j || re == j || re - rs < SCAN_RUN_MIN)
		return;
	d->o_rs = rs;
	d->o_re = re;
	decode_run(d, d->jtext + rs, re - rs, 1);
}

/* Look at the newlines from d->jcur for split tokens. */
static void joins_advance(struct scan_decoder *d, uint64_t end, int final)
{
	struct scan_stream *top = d->top;
	uint64_t x = d->jcur, g0, g1, e2;

	while (x < end && !stopped(d)) {
		const char *p = scan_find_byte(top->buf + (x - top->base), (size_t)(end - x), '\n');
		uint64_t nl;
		int r;

		if (!p) {
			x = end;
			break;
		}
		nl = top->base + (uint64_t)(p - top->buf);
		r = join_at(top, nl, end, final, &g0, &g1, &e2);
		if (r < 0) {
			x = nl; /* again when more is there */
			break;
		}
		if (r > 0)
			join_scan(d, g0, g1, e2);
		x = nl + 1;
	}
	d->jcur = x;
}

/* ---- the view ---- */

static void stage_flush(struct scan_decoder *d)
{
	if (!d->nstage)
		return;
	scan_stream_put(d->view, d->stage, d->nstage, d->stage_own);
	d->nstage = 0;
	runs_advance(d, &d->rv, d->view, d->view->base + d->view->len, 0);
}

static void stage_byte(struct scan_decoder *d, unsigned char c, uint8_t own)
{
	d->stage[d->nstage] = (char)c;
	d->stage_own[d->nstage++] = own;
	if (d->nstage == STAGE)
		stage_flush(d);
}

/* Top bytes [from, to) into the view as they are; runs: the view's run finder looks at them. */
static void view_plain(struct scan_decoder *d, uint64_t from, uint64_t to, int runs)
{
	struct scan_stream *top = d->top;

	if (to <= from || stopped(d))
		return;
	stage_flush(d);
	scan_stream_put(d->view, top->buf + (from - top->base), (size_t)(to - from), NULL);
	if (runs)
		runs_advance(d, &d->rv, d->view, d->view->base + d->view->len, 0);
}

/* End the view: what it still holds is scanned. */
static void view_end(struct scan_decoder *d)
{
	stage_flush(d);
	if (!stopped(d))
		runs_advance(d, &d->rv, d->view, d->view->base + d->view->len, 1);
	if (!stopped(d))
		scan_stream_finish(d->view);
	scan_stream_clear(d->view);
	d->vstate = VIEW_OFF;
}

/* The top run finder's state at top offset p handed to the view's (whose text ends there, the same bytes). */
static void runs_to_view(struct scan_decoder *d, uint64_t p)
{
	uint64_t vend = d->view->base + d->view->len, back = p - d->rr.start;

	d->rv.in_run = d->rr.in_run;
	d->rv.windows = d->rr.windows;
	d->rv.start = vend > back ? vend - back : 0;
	if (d->rv.start < d->view->base)
		d->rv.start = d->view->base; /* cannot happen: the run lies in the context just fed */
	d->rv.pos = vend;
}

/* An escape at top offset p: the view is fed from VIEW_W before it, or resumed where it paused. */
static void view_start(struct scan_decoder *d, uint64_t p)
{
	struct scan_stream *top = d->top, *v = d->view;
	uint64_t a;

	if (d->vstate == VIEW_PAUSED) {
		if (p - d->vpaused < VIEW_W) {
			view_plain(d, d->vpaused, p, 0);
			runs_to_view(d, p);
			d->vstate = VIEW_ON;
			d->last_rw = p;
			return;
		}
		view_end(d);
	}
	a = p > VIEW_W ? p - VIEW_W : 0;
	if (a < top->base)
		a = top->base;
	scan_stream_clear(v);
	v->raw_at_base = a;
	v->lines_at_base = scan_line_of(top, a) - 1u;
	view_plain(d, a, p, 0);
	runs_to_view(d, p);
	d->vstate = VIEW_ON;
	d->last_rw = p;
}

/*
 * An escape at top offset x ('%'): 1 with the byte it stands for and the
 * bytes it takes ("%25" followed into the escape it spells, PCT_CHAIN deep);
 * 0 when it is none; -1 when the input so far cannot tell.
 */
static int pct_at(const struct scan_stream *top, uint64_t x, uint64_t end, int final, unsigned char *v, size_t *n)
{
	unsigned char c;
	size_t len = 3;
	int depth = 1;

	if (x + 3 > end)
		return final ? 0 : -1;
	if (hex_val(TB(x + 1)) < 0 || hex_val(TB(x + 2)) < 0)
		return 0;
	c = (unsigned char)(hex_val(TB(x + 1)) * 16 + hex_val(TB(x + 2)));
	while (c == '%' && depth++ < PCT_CHAIN) {
		if (x + len + 2 > end) {
			if (!final)
				return -1;
			break;
		}
		if (hex_val(TB(x + len)) < 0 || hex_val(TB(x + len + 1)) < 0)
			break;
		c = (unsigned char)(hex_val(TB(x + len)) * 16 + hex_val(TB(x + len + 1)));
		len += 2;
	}
	*v = c;
	*n = len;
	return 1;
}

/* The next '%' in the top stream's [from, end), or end. */
static uint64_t next_pct(const struct scan_stream *top, uint64_t from, uint64_t end)
{
	const char *p = scan_find_byte(top->buf + (from - top->base), (size_t)(end - from), '%');

	return p ? top->base + (uint64_t)(p - top->buf) : end;
}

/*
 * No view is fed: find the next escape from d->cur, leaving the text
 * before it to the top run finder. 1 with *p when there is one; 0 when the
 * input so far holds none (d->cur moved as far as it can).
 */
static int find_escape(struct scan_decoder *d, uint64_t end, int final, uint64_t *p)
{
	struct scan_stream *top = d->top;
	uint64_t x = d->cur;
	unsigned char v;
	size_t n;
	int r = 0;

	for (;;) {
		x = next_pct(top, x, end);
		if (x >= end || (r = pct_at(top, x, end, final, &v, &n)) != 0)
			break;
		x++;
	}
	runs_advance(d, &d->rr, top, x, 0);
	d->cur = x;
	*p = x;
	return r > 0;
}

/* First top offset in [from, to] where the view may pause: VIEW_W past the last escape, after a byte no run holds. */
static uint64_t pause_point(const struct scan_decoder *d, uint64_t from, uint64_t to)
{
	const struct scan_stream *top = d->top;
	uint64_t x = d->last_rw + VIEW_W;

	if (x < from)
		x = from;
	for (; x <= to; x++)
		if (x > top->base && !alpha(TB(x - 1)))
			return x;
	return UINT64_MAX;
}

/*
 * The view is fed: take the top stream's text from d->cur, decoding
 * escapes, until the input runs out (return) or the view pauses
 * (d->vstate set). Plain stretches are fed whole.
 */
static void view_feed(struct scan_decoder *d, uint64_t end, int final)
{
	struct scan_stream *top = d->top;
	uint64_t pf = d->cur; /* plain bytes [pf, d->cur) not fed yet */

	while (d->cur < end && !stopped(d)) {
		uint64_t x = next_pct(top, d->cur, end), pp = pause_point(d, d->cur, x);
		unsigned char v;
		size_t n;
		int r;

		if (pp != UINT64_MAX) {
			d->cur = pp;
			view_plain(d, pf, pp, 1);
			stage_flush(d);
			d->vstate = VIEW_PAUSED;
			d->vpaused = pp;
			memset(&d->rr, 0, sizeof d->rr);
			d->rr.start = d->rr.pos = pp;
			return;
		}
		d->cur = x;
		if (x >= end || (r = pct_at(top, x, end, final, &v, &n)) < 0)
			break;
		if (r > 0) {
			view_plain(d, pf, x, 1);
			stage_byte(d, v, (uint8_t)n);
			d->cur = pf = x + n;
			d->last_rw = d->cur;
		} else {
			d->cur = x + 1;
		}
	}
	view_plain(d, pf, d->cur, 1);
}

void scan_decoder_advance(struct scan_stream *top, int final)
{
	struct scan_decoder *d = top->dec;
	uint64_t end = top->base + top->len, p;
	int fed;

	joins_advance(d, end, final);
	while (!stopped(d)) {
		if (d->vstate != VIEW_ON) {
			if (!find_escape(d, end, final, &p))
				break;
			view_start(d, p);
			continue;
		}
		view_feed(d, end, final);
		if (d->vstate == VIEW_ON)
			break;
	}
	stage_flush(d);
	if (!final || stopped(d))
		return;
	fed = d->vstate == VIEW_ON; /* then the view's run finder had the text's end, not the top one */
	if (d->vstate != VIEW_OFF)
		view_end(d);
	if (!fed && !stopped(d))
		runs_advance(d, &d->rr, top, end, 1);
}
