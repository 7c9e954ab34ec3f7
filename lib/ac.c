/* ac.c - Aho-Corasick: a trie, failure links by breadth-first search, then a full DFA over byte classes. */
#include "ac.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct pat {
	unsigned char *p;
	size_t len;
	uint32_t id;
};

struct ac {
	unsigned flags;
	struct pat *pats;
	size_t npats, pat_cap;
	/* compiled */
	unsigned char cls[256]; /* byte -> class */
	unsigned ncls;
	uint32_t nstates;
	/*
	 * next[state * ncls + class] is the next state, already multiplied by
	 * ncls (a state is known by its row offset: one add and one load per
	 * byte). States with output are numbered last, from out_min (also a
	 * row offset), so one compare tells whether a byte ends a pattern.
	 */
	uint32_t *next;
	uint32_t out_min;
	size_t maxlen;     /* the longest pattern: a state never depends on more input than this */
	int32_t *out;      /* per state index: first pattern ending there, -1 */
	int32_t *out_next; /* per pattern: the next one ending at the same state, -1 */
	uint32_t *dict;    /* per state index: nearest state on the failure chain with output, 0 = none */
};

static unsigned char fold(unsigned flags, unsigned char c)
{
	return (flags & AC_NOCASE) && c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

struct ac *ac_new(unsigned flags)
{
	struct ac *a = calloc(1, sizeof *a);

	if (a)
		a->flags = flags;
	return a;
}

void ac_free(struct ac *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->npats; i++)
		free(a->pats[i].p);
	free(a->pats);
	free(a->next);
	free(a->out);
	free(a->out_next);
	free(a->dict);
	free(a);
}

int ac_add(struct ac *a, const void *pat, size_t len, uint32_t id, struct bb_err *e)
{
	struct pat *np;
	size_t i;

	if (len == 0)
		return bb_errf(e, BB_EINVAL, "empty pattern");
	if (a->next)
		return bb_errf(e, BB_EINVAL, "pattern added after compiling");
	if (a->npats == a->pat_cap) {
		size_t ncap = a->pat_cap ? a->pat_cap * 2 : 64;

		np = realloc(a->pats, ncap * sizeof *np);
		if (!np)
			return bb_errno(e, ENOMEM, "adding a pattern");
		a->pats = np;
		a->pat_cap = ncap;
	}
	np = &a->pats[a->npats];
	np->p = malloc(len);
	if (!np->p)
		return bb_errno(e, ENOMEM, "adding a pattern");
	for (i = 0; i < len; i++)
		np->p[i] = fold(a->flags, ((const unsigned char *)pat)[i]);
	np->len = len;
	np->id = id;
	a->npats++;
	return 0;
}

size_t ac_pattern_count(const struct ac *a)
{
	return a->npats;
}

size_t ac_memory(const struct ac *a)
{
	return (size_t)a->nstates * (a->ncls * sizeof(uint32_t) + sizeof(int32_t) + sizeof(uint32_t)) +
	       a->npats * sizeof(int32_t);
}

/*
 * Number the states with output last and turn next[] into row offsets
 * (see struct ac). The root keeps 0: it has no output (no empty patterns).
 * Otherwise states go in breadth-first order (bfs: every state but the
 * root), so the shallow ones, where text keeps the automaton, share cache
 * lines.
 */
static int renumber(struct ac *a, const uint32_t *bfs, struct bb_err *e)
{
	uint32_t n = a->nstates, s, k = 0, *map = malloc((size_t)n * sizeof *map), *nx = NULL, *nd = NULL;
	int32_t *no = NULL;
	int pass;
	size_t c;

	if (map) {
		nx = malloc((size_t)n * a->ncls * sizeof *nx);
		no = malloc((size_t)n * sizeof *no);
		nd = malloc((size_t)n * sizeof *nd);
	}
	if (!map || !nx || !no || !nd) {
		free(map);
		free(nx);
		free(no);
		free(nd);
		return bb_errno(e, ENOMEM, "compiling %zu patterns", a->npats);
	}
	map[0] = k++;
	for (pass = 0; pass < 2; pass++)
		for (c = 0; c + 1 < n; c++)
			if ((a->out[bfs[c]] >= 0 || a->dict[bfs[c]]) == pass)
				map[bfs[c]] = k++;
	for (s = 0; s < n; s++) {
		for (c = 0; c < a->ncls; c++)
			nx[(size_t)map[s] * a->ncls + c] = map[a->next[(size_t)s * a->ncls + c]] * a->ncls;
		no[map[s]] = a->out[s];
		nd[map[s]] = a->dict[s] ? map[a->dict[s]] : 0;
	}
	for (s = 0, k = n; s < n; s++)
		if (a->out[s] >= 0 || a->dict[s])
			k = k < map[s] ? k : map[s];
	a->out_min = k * a->ncls;
	free(a->next);
	free(a->out);
	free(a->dict);
	free(map);
	a->next = nx;
	a->out = no;
	a->dict = nd;
	return 0;
}

int ac_compile(struct ac *a, struct bb_err *e)
{
	size_t total = 1, i, j;
	uint32_t *fail = NULL, *queue = NULL, qh = 0, qt = 0, s, c;
	int used[256] = { 0 }, rc;

	/* Byte classes: every byte that occurs in a pattern gets its own; the rest share class 0. */
	for (i = 0; i < a->npats; i++)
		for (j = 0; j < a->pats[i].len; j++)
			used[a->pats[i].p[j]] = 1;
	a->ncls = 1;
	for (i = 0; i < 256; i++) {
		unsigned char f = fold(a->flags, (unsigned char)i);

		if (f != i)
			continue; /* upper case letters take their lower-case class below */
		a->cls[i] = used[i] ? (unsigned char)a->ncls++ : 0;
	}
	for (i = 0; i < 256; i++)
		a->cls[i] = a->cls[fold(a->flags, (unsigned char)i)];
	for (i = 0; i < a->npats; i++) {
		total += a->pats[i].len;
		if (a->pats[i].len > a->maxlen)
			a->maxlen = a->pats[i].len;
	}
	if (total > AC_MAX_STATES)
		return bb_errf(e, BB_ETOOBIG, "patterns too large for the matcher (%zu states, limit %u)", total,
			       AC_MAX_STATES);
	a->next = calloc(total * a->ncls, sizeof *a->next);
	a->out = malloc(total * sizeof *a->out);
	a->out_next = malloc((a->npats + 1) * sizeof *a->out_next);
	a->dict = calloc(total, sizeof *a->dict);
	fail = calloc(total, sizeof *fail);
	queue = malloc(total * sizeof *queue);
	if (!a->next || !a->out || !a->out_next || !a->dict || !fail || !queue) {
		free(fail);
		free(queue);
		return bb_errno(e, ENOMEM, "compiling %zu patterns", a->npats);
	}
	memset(a->out, 0xff, total * sizeof *a->out);
	/* The trie; 0 in next[] means "no edge yet" (the root is never a target of an edge). */
	a->nstates = 1;
	for (i = 0; i < a->npats; i++) {
		s = 0;
		for (j = 0; j < a->pats[i].len; j++) {
			uint32_t *t = &a->next[(size_t)s * a->ncls + a->cls[a->pats[i].p[j]]];

			if (!*t)
				*t = a->nstates++;
			s = *t;
		}
		a->out_next[i] = a->out[s];
		a->out[s] = (int32_t)i;
	}
	/* Breadth-first: failure links, then turn missing edges into DFA edges. */
	for (c = 0; c < a->ncls; c++) {
		uint32_t t = a->next[c];

		if (t) {
			fail[t] = 0;
			queue[qt++] = t;
		}
	}
	while (qh < qt) {
		s = queue[qh++];
		a->dict[s] = a->out[fail[s]] >= 0 ? fail[s] : a->dict[fail[s]];
		for (c = 0; c < a->ncls; c++) {
			uint32_t *t = &a->next[(size_t)s * a->ncls + c];

			if (*t) {
				fail[*t] = a->next[(size_t)fail[s] * a->ncls + c];
				queue[qt++] = *t;
			} else {
				*t = a->next[(size_t)fail[s] * a->ncls + c];
			}
		}
	}
	free(fail);
	rc = renumber(a, queue, e);
	free(queue);
	return rc;
}

/* Report every pattern ending in state s (a row offset) at input index i; 1 when cb asked to stop. */
static int report(const struct ac *a, uint32_t s, size_t i, uint64_t at, ac_cb cb, void *arg)
{
	uint32_t o;

	for (o = s / a->ncls; o; o = a->dict[o]) {
		int32_t k;

		for (k = a->out[o]; k >= 0; k = a->out_next[k])
			if (cb(a->pats[k].id, a->pats[k].len, at + i + 1, arg))
				return 1;
	}
	return 0;
}

/* One lane, byte after byte, over b[from..to), reporting as it goes. */
static int scan_seq(const struct ac *a, uint32_t *state, const unsigned char *b, size_t from, size_t to, uint64_t at,
		    ac_cb cb, void *arg)
{
	const unsigned char *cls = a->cls;
	const uint32_t *next = a->next, lim = a->out_min;
	uint32_t s = *state;
	size_t i;

	for (i = from; i < to; i++) {
		s = next[s + cls[b[i]]];
		if (s >= lim && report(a, s, i, at, cb, arg)) {
			*state = s;
			return 1;
		}
	}
	*state = s;
	return 0;
}

/*
 * Each byte costs a load that depends on the previous byte's: the latency
 * of one chain, not the work, bounds the speed. So a long input is cut into
 * AC_LANES pieces scanned in one loop, each chain independent of the
 * others. A piece starts from the start state maxlen bytes early (its state
 * at its first byte is then exact: it depends on at most maxlen bytes).
 * Hits of the first piece are reported at once; the others' are held in a
 * fixed buffer and reported in order after it. A full buffer ends the
 * interleaving and the pieces finish one after the other.
 */
#define AC_LANES 4
#define AC_LANE_MIN 1024
#define AC_LANE_HITS 512

struct lane_hit {
	uint32_t state, pos;
};

int ac_scan(const struct ac *a, uint32_t *state, const void *p, size_t n, uint64_t at, ac_cb cb, void *arg)
{
	const unsigned char *b = p, *cls = a->cls;
	const uint32_t *next = a->next, lim = a->out_min;
	struct lane_hit held[AC_LANES - 1][AC_LANE_HITS];
	size_t nheld[AC_LANES - 1] = { 0 }, seg, j, k, from[AC_LANES], to[AC_LANES];
	uint32_t s[AC_LANES];

	if (!next || a->npats == 0)
		return 0;
	if (n < AC_LANES * AC_LANE_MIN || n > UINT32_MAX || a->maxlen > AC_LANE_MIN)
		return scan_seq(a, state, b, 0, n, at, cb, arg);
	seg = n / AC_LANES;
	s[0] = *state;
	for (k = 0; k < AC_LANES; k++) {
		from[k] = k * seg;
		to[k] = k + 1 < AC_LANES ? (k + 1) * seg : n;
		if (k > 0) { /* warm up: no hit before from[k] is this lane's */
			s[k] = 0;
			for (j = from[k] - a->maxlen; j < from[k]; j++)
				s[k] = next[s[k] + cls[b[j]]];
		}
	}
	for (j = 0; j < seg; j++) {
		s[0] = next[s[0] + cls[b[j]]];
		s[1] = next[s[1] + cls[b[seg + j]]];
		s[2] = next[s[2] + cls[b[2 * seg + j]]];
		s[3] = next[s[3] + cls[b[3 * seg + j]]];
		if ((s[0] >= lim) | (s[1] >= lim) | (s[2] >= lim) | (s[3] >= lim)) {
			int full = 0;

			if (s[0] >= lim && report(a, s[0], j, at, cb, arg)) {
				*state = s[0];
				return 1;
			}
			for (k = 1; k < AC_LANES; k++)
				if (s[k] >= lim) {
					held[k - 1][nheld[k - 1]].state = s[k];
					held[k - 1][nheld[k - 1]++].pos = (uint32_t)(k * seg + j);
					full |= nheld[k - 1] == AC_LANE_HITS;
				}
			if (full) {
				j++;
				break;
			}
		}
	}
	/* Each lane from where the loop left it, in order: held hits first, then the rest of its piece. */
	for (k = 0; k < AC_LANES; k++) {
		size_t h;

		for (h = 0; k > 0 && h < nheld[k - 1]; h++)
			if (report(a, held[k - 1][h].state, held[k - 1][h].pos, at, cb, arg)) {
				*state = held[k - 1][h].state;
				return 1;
			}
		if (scan_seq(a, &s[k], b, from[k] + j, to[k], at, cb, arg)) {
			*state = s[k];
			return 1;
		}
	}
	*state = s[AC_LANES - 1];
	return 0;
}

uint32_t ac_step(const struct ac *a, uint32_t state, unsigned char c)
{
	return a->next ? a->next[state + a->cls[c]] : 0;
}

int ac_state_matches(const struct ac *a, uint32_t state)
{
	return a->next && state >= a->out_min;
}

size_t ac_state_count(const struct ac *a)
{
	return a->nstates;
}

size_t ac_state_index(const struct ac *a, uint32_t state)
{
	return a->ncls ? state / a->ncls : 0;
}

uint32_t ac_state_at(const struct ac *a, size_t index)
{
	return (uint32_t)(index * a->ncls);
}
