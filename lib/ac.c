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
	uint32_t *next;    /* nstates * ncls */
	int32_t *out;      /* first pattern index ending at a state, -1 */
	int32_t *out_next; /* next pattern index with the same end state... per pattern */
	uint32_t *dict;    /* nearest state on the failure chain with output, 0 = none */
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

int ac_compile(struct ac *a, struct bb_err *e)
{
	size_t total = 1, i, j;
	uint32_t *fail = NULL, *queue = NULL, qh = 0, qt = 0, s, c;
	int used[256] = { 0 };

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
	for (i = 0; i < a->npats; i++)
		total += a->pats[i].len;
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
	free(queue);
	return 0;
}

int ac_scan(const struct ac *a, uint32_t *state, const void *p, size_t n, uint64_t at, ac_cb cb, void *arg)
{
	const unsigned char *b = p;
	uint32_t s = *state;
	size_t i;

	if (!a->next || a->npats == 0)
		return 0;
	for (i = 0; i < n; i++) {
		uint32_t o;

		s = a->next[(size_t)s * a->ncls + a->cls[b[i]]];
		if (a->out[s] < 0 && !a->dict[s])
			continue;
		for (o = s; o; o = a->dict[o]) {
			int32_t k;

			for (k = a->out[o]; k >= 0; k = a->out_next[k])
				if (cb(a->pats[k].id, a->pats[k].len, at + i + 1, arg)) {
					*state = s;
					return 1;
				}
		}
	}
	*state = s;
	return 0;
}
