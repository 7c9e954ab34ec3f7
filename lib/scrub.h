/* scrub.h - replaces registered secrets (and their encodings) in a byte stream, in place, holding back only what could still become one. */
#ifndef BB_SCRUB_H
#define BB_SCRUB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/*
 * egress runs every byte that flows back to the agent (response heads and
 * bodies, WebSocket frames) through this, so the credential it injects
 * never reaches the agent even when an upstream reflects the request. The
 * forms looked for are the ones DLP blocks on the way out
 * (secrets_forms: the bytes, base64/base64url at three alignments, hex
 * and percent-encoding in both cases).
 *
 * Each occurrence is overwritten with a marker of the same length
 * ("[bb:scrubbed*****]", or '*'s when shorter than 13 bytes), so lengths
 * (Content-Length, chunk and frame sizes) stay valid. Streaming: the
 * caller keeps the bytes it has not released at the front of its buffer;
 * scrub_feed says how many of them may go now — all but the longest tail
 * that is the beginning of some form — so a secret split across reads,
 * chunks or frames is still replaced whole and no byte of one leaves
 * early. Matching is one table lookup per byte (an Aho-Corasick DFA).
 */

#define SCRUB_MARKER "[bb:scrubbed]"

struct scrub_set;

int scrub_set_new(struct scrub_set **out, struct bb_err *e);
void scrub_set_free(struct scrub_set *s);
/*
 * Register a secret under label (named in hits, never the value): the
 * value and each form secrets_forms lists. Values shorter than
 * SCAN_KNOWN_MIN are refused, as DLP refuses them. Before scrub_set_finish.
 */
int scrub_set_add(struct scrub_set *s, const char *value, size_t len, const char *label, struct bb_err *e);
/* Compile; then the set is read-only and may be shared by any number of streams. */
int scrub_set_finish(struct scrub_set *s, struct bb_err *e);
/* Secrets registered. */
size_t scrub_set_count(const struct scrub_set *s);
/* The longest form: a stream never holds back more than this. */
size_t scrub_set_max_form(const struct scrub_set *s);
const char *scrub_set_label(const struct scrub_set *s, uint32_t id);

/* One stream's state: plain data, no allocation (zero it, or scrub_stream_init). */
struct scrub_stream {
	uint32_t state;   /* automaton state */
	uint64_t hits;    /* occurrences replaced so far */
	uint32_t first;   /* label id of the first occurrence (valid when hits > 0) */
};

void scrub_stream_init(struct scrub_stream *st);

/*
 * buf[0..held) are the bytes this stream kept back from the previous call
 * (what it did not release then; 0 the first time), buf[held..len) new
 * bytes. Replaces every form ending in the new bytes (a form may begin in
 * the held part) and returns how many bytes from buf's start may be
 * released; the caller keeps the rest at the front of the buffer for the
 * next call. With s NULL (no secrets) everything may go.
 */
size_t scrub_feed(const struct scrub_set *s, struct scrub_stream *st, unsigned char *buf, size_t held, size_t len);

/* Nothing more follows: what was held can no longer become a form, so it may all go. The state restarts. */
void scrub_end(struct scrub_stream *st);

/* Replace a whole buffer at once (a response head): scrub_feed then scrub_end. Returns the hits in it. */
uint64_t scrub_all(const struct scrub_set *s, unsigned char *buf, size_t len);

#endif
