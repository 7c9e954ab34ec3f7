/* scan_int.h - the scanning engine's insides, shared by the streams (scan.c) and the decoding layer (scan_decode.c). */
#ifndef BB_SCAN_INT_H
#define BB_SCAN_INT_H

#include <stddef.h>
#include <stdint.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "scan.h"

#define SCAN_BUF (64 * 1024)  /* bytes a stream holds */
#define SCAN_BEFORE 256       /* context before a keyword that a match may start in */
#define SCAN_SPAN 1024        /* default: bytes after a keyword a match may reach */
#define SCAN_SPAN_MAX 16384   /* the most any rule may ask for (private key blocks) */
#define SCAN_HOLD (SCAN_SPAN_MAX + SCAN_BEFORE)

struct ac;
struct re;
struct secrets;

struct rule {
	char *id, *desc, *regex, *keywords;
	struct re *re;
	unsigned group;
	double entropy;
	struct re *allow;       /* on the secret */
	struct re *allow_match; /* on the whole match */
	char **stop;
	size_t nstop;
	enum scan_kind kind;
	int score;
	unsigned span;
	/*
	 * kw_bound: every match starts at most this many bytes before a keyword
	 * it contains (re_keyword_bound), so only those starts are tried: a few
	 * bytes of DFA per keyword instead of a window. RE_NOPOS: not proved;
	 * the window [keyword - SCAN_BEFORE, keyword + span) is searched.
	 * max_len: the longest match (RE_NOPOS: unbounded), how much input a
	 * keyword's search needs before it can run.
	 */
	size_t kw_bound, max_len;
	int disabled;
};

struct scan_engine {
	struct rule *rules;
	size_t nrules, rule_cap;
	struct ac *kw;  /* keywords of the credential rules */
	struct ac *kwi; /* keywords of the injection patterns: a stream that does not look for injection never sees them */
	struct secrets *known;      /* the registry's set (scan_engine_use_secrets); NULL: none */
	const struct ac *known_ac;  /* its automaton; NULL: nothing to find */
	struct re **allow;
	size_t nallow;
	struct re **paths;
	size_t npaths;
	int finished;
};

/* A rule's search to come: matches starting in [start, last], in the input up to end. */
struct pending {
	uint64_t start, last, end;
	int active;
};

/*
 * Which text a stream scans. The top stream is the caller's; with
 * SCAN_DECODE it owns two more (scan_decode.c): the view (the text with
 * percent-escapes decoded, fed only near them) and dec (each decoded
 * base64/hex run and each pair of lines joined at a split token, one at a
 * time). Their
 * findings go through scan_decode_report, which keeps those the top
 * stream could not have seen and says where they are in the caller's text.
 */
enum scan_layer { LAYER_TOP, LAYER_VIEW, LAYER_DEC };

struct scan_decoder;

struct scan_stream {
	const struct scan_engine *eng;
	unsigned detectors;
	enum scan_layer layer;
	struct scan_stream *top; /* the caller's stream (itself for LAYER_TOP) */
	char *buf;
	size_t len, size;        /* bytes held, room */
	size_t hold;             /* bytes kept when room is made */
	uint64_t base;           /* stream offset of buf[0] */
	uint64_t lines_at_base;  /* newlines before buf[0] */
	uint32_t kw_state, kwi_state, known_state;
	struct pending *pend;    /* per rule */
	uint64_t *reported_to;   /* per rule: end of the last match looked at */
	uint32_t *active;        /* rules with a pending search, nactive of them */
	size_t nactive;
	uint32_t *touched;       /* rules whose reported_to is set since the last reset */
	size_t ntouched;
	uint8_t *is_touched;
	uint64_t known_to;       /* end of the last known-secret finding */
	scan_cb cb;
	void *arg;
	int stopped;
	/*
	 * LAYER_VIEW: per byte of buf, the bytes of the top stream's text it
	 * stands for (1, or the length of the escape it was decoded from);
	 * raw_at_base is the top stream's offset of buf[0].
	 */
	uint8_t *own;
	uint64_t raw_at_base;
	struct scan_decoder *dec; /* LAYER_TOP with SCAN_DECODE: the decoding layer */
};

/* Internal stream calls (scan.c) for the decoding layer. */
int scan_stream_make(struct scan_stream **out, const struct scan_engine *eng, unsigned detectors,
		     enum scan_layer layer, size_t size, struct bb_err *e);
/* Feed n bytes; own (LAYER_VIEW) gives each byte's length in the top stream's text, NULL: 1 each. */
void scan_stream_put(struct scan_stream *s, const char *p, size_t n, const uint8_t *own);
void scan_stream_finish(struct scan_stream *s);
void scan_stream_clear(struct scan_stream *s);
/* Line (1-based) of stream offset off, from what the buffer holds. */
unsigned scan_line_of(const struct scan_stream *s, uint64_t off);
/* The finding's excerpt from s's buffer, the secret at off (len bytes) shown only by its first bytes. */
void scan_excerpt(const struct scan_stream *s, uint64_t off, size_t len, char *out);
/* Does the known-secret automaton find label id anywhere in p[0..n)? */
int scan_known_in(const struct scan_engine *eng, uint32_t id, const char *p, size_t n);

/* The decoding layer (scan_decode.c). */
int scan_decoder_new(struct scan_stream *top, struct bb_err *e);
void scan_decoder_free(struct scan_decoder *d);
void scan_decoder_reset(struct scan_decoder *d);
/* After the top stream took more bytes: decode what can be decided (final: the stream ended). */
void scan_decoder_advance(struct scan_stream *top, int final);
/* Bytes of the top stream's buffer the decoder still needs (it must not be dropped). */
uint64_t scan_decoder_keep_from(const struct scan_stream *top);
/* A finding of a view or dec stream, whose match is [mstart, mend): report it to the caller, or drop it. */
int scan_decode_report(struct scan_stream *s, struct scan_finding *f, uint64_t mstart, uint64_t mend);
const char *scan_decoder_incomplete(const struct scan_decoder *d);

/*
 * The byte searches of the hot paths (newlines for line numbers and split
 * tokens, '%' for escapes): 16 bytes a step, no call for a short span.
 */
static inline const char *scan_find_byte(const char *p, size_t n, char c)
{
	size_t i = 0;
#ifdef __SSE2__
	const __m128i want = _mm_set1_epi8(c);

	for (; i + 16 <= n; i += 16) {
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), want));

		if (m)
			return p + i + __builtin_ctz(m);
	}
#endif
	for (; i < n; i++)
		if (p[i] == c)
			return p + i;
	return NULL;
}

static inline uint64_t scan_count_byte(const char *p, size_t n, char c)
{
	uint64_t k = 0;
	size_t i = 0;
#ifdef __SSE2__
	const __m128i want = _mm_set1_epi8(c), zero = _mm_setzero_si128();

	while (i + 16 <= n) {
		__m128i acc = zero;
		size_t j;

		/* each lane counts down by one per match: at most 255 steps before the sum */
		for (j = 0; j < 255 && i + 16 <= n; j++, i += 16)
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(p + i)), want));
		acc = _mm_sad_epu8(acc, zero);
		k += (uint64_t)_mm_cvtsi128_si32(acc) + (uint64_t)_mm_cvtsi128_si32(_mm_srli_si128(acc, 8));
	}
#endif
	for (; i < n; i++)
		k += p[i] == c;
	return k;
}

#endif
