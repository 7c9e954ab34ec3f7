/* re_anal.c - analyses of a compiled regex: the longest match, and how far into a match a keyword must end. */
#include <stdlib.h>
#include <string.h>

#include "ac.h"
#include "re.h"
#include "re_impl.h"

/*
 * Both analyses are a longest path in a graph whose nodes are program
 * counters of the anchored forward program (paired with a keyword
 * automaton state for the keyword bound): consuming instructions weigh one
 * byte, the rest nothing. A cycle, an oversized graph, or (for the keyword
 * bound) a way to MATCH without a keyword means "not bounded". Assertions
 * are taken as always passable: that only adds paths, so a bound found is
 * still a bound.
 */

#define ANAL_MAX_NODES (1u << 22)
#define UNSEEN (-2)
#define ON_STACK (-3)

struct edge {
	uint32_t to;
	uint32_t w;
};

struct frame {
	uint32_t node;
	size_t ebeg, ecur, eend;
	int32_t best; /* longest path to a terminal found so far, -1 none */
};

struct anal {
	const struct re *re;
	const struct ac *kw; /* NULL: longest match */
	size_t nac;
	struct edge *edges;
	size_t nedges, cap;
	uint32_t *stamp;     /* per keyword state index: the last expansion that produced it */
	uint32_t gen;
	int fail;
};

static int push_edge(struct anal *an, uint32_t to, uint32_t w)
{
	if (an->nedges == an->cap) {
		size_t ncap = an->cap ? an->cap * 2 : 1024;
		struct edge *ne = realloc(an->edges, ncap * sizeof *ne);

		if (!ne) {
			an->fail = 1;
			return -1;
		}
		an->edges = ne;
		an->cap = ncap;
	}
	an->edges[an->nedges].to = to;
	an->edges[an->nedges++].w = w;
	return 0;
}

/* Push the edges of node onto the edge stack; *term: weight of the longest edge that ends a path (-1 none). */
static int expand(struct anal *an, uint32_t node, int32_t *term)
{
	const struct re_prog *p = &an->re->fwd;
	uint32_t pc = (uint32_t)(node / an->nac), s = (uint32_t)(node % an->nac);
	const struct re_inst *in = &p->inst[pc];
	uint32_t c;

	*term = -1;
	switch (in->op) {
	case OP_MATCH:
		if (an->kw) {
			an->fail = 1; /* a match that holds no keyword */
			return -1;
		}
		*term = 0;
		return 0;
	case OP_JMP:
		return push_edge(an, in->x * (uint32_t)an->nac + s, 0);
	case OP_SPLIT:
		return push_edge(an, in->x * (uint32_t)an->nac + s, 0) < 0 ? -1
										: push_edge(an, in->y * (uint32_t)an->nac + s, 0);
	case OP_SAVE: case OP_ASSERT: case OP_NOP:
		return push_edge(an, (pc + 1) * (uint32_t)an->nac + s, 0);
	}
	if (!an->kw) {
		for (c = 0; c < 256 && !re_inst_takes(an->re, in, c); c++)
			;
		return c < 256 ? push_edge(an, pc + 1, 1) : 0;
	}
	/* A consuming instruction: one edge per keyword state its bytes lead to. */
	an->gen++;
	for (c = 0; c < 256; c++) {
		uint32_t t, ti;

		if (!re_inst_takes(an->re, in, c))
			continue;
		t = ac_step(an->kw, ac_state_at(an->kw, s), (unsigned char)c);
		if (ac_state_matches(an->kw, t)) {
			*term = 1; /* a keyword ends with this byte */
			continue;
		}
		ti = (uint32_t)ac_state_index(an->kw, t);
		if (an->stamp[ti] == an->gen)
			continue;
		an->stamp[ti] = an->gen;
		if (push_edge(an, (pc + 1) * (uint32_t)an->nac + ti, 1) < 0)
			return -1;
	}
	return 0;
}

/* Longest path from the program's anchored start to a terminal: >= 0, or -1 (none, or not bounded: an->fail). */
static long longest(struct anal *an)
{
	size_t nnodes = (size_t)an->re->fwd.n * an->nac, sp = 0, cap = 64;
	int32_t *val, term;
	struct frame *st;
	long result = -1;

	if (nnodes > ANAL_MAX_NODES)
		return an->fail = 1, -1;
	val = malloc(nnodes * sizeof *val);
	st = malloc(cap * sizeof *st);
	if (!val || !st) {
		free(val);
		free(st);
		return an->fail = 1, -1;
	}
	for (size_t i = 0; i < nnodes; i++)
		val[i] = UNSEEN;
	{
		uint32_t root = an->re->fwd.start * (uint32_t)an->nac;

		val[root] = ON_STACK;
		st[0].node = root;
		st[0].ebeg = st[0].ecur = an->nedges;
		if (expand(an, root, &term) < 0)
			goto out;
		st[0].eend = an->nedges;
		st[0].best = term;
		sp = 1;
	}
	while (sp > 0 && !an->fail) {
		struct frame *f = &st[sp - 1];

		if (f->ecur < f->eend) {
			struct edge e = an->edges[f->ecur++];
			int32_t v = val[e.to];

			if (v == ON_STACK) {
				an->fail = 1; /* a cycle: no bound */
				break;
			}
			if (v == UNSEEN) {
				if (sp == cap) {
					struct frame *ns = realloc(st, 2 * cap * sizeof *ns);

					if (!ns) {
						an->fail = 1;
						break;
					}
					st = ns;
					cap *= 2;
					f = &st[sp - 1];
				}
				val[e.to] = ON_STACK;
				st[sp].node = e.to;
				st[sp].ebeg = st[sp].ecur = an->nedges;
				if (expand(an, e.to, &term) < 0)
					break;
				st[sp].eend = an->nedges;
				st[sp].best = term;
				sp++;
				continue;
			}
			if (v >= 0 && (int32_t)(v + (int32_t)e.w) > f->best)
				f->best = v + (int32_t)e.w;
			continue;
		}
		/* Done with f: its value is final; hand it to the parent's current edge. */
		val[f->node] = f->best;
		an->nedges = f->ebeg;
		sp--;
		if (sp > 0) {
			struct frame *pf = &st[sp - 1];
			struct edge e = an->edges[pf->ecur - 1];

			if (f->best >= 0 && f->best + (int32_t)e.w > pf->best)
				pf->best = f->best + (int32_t)e.w;
		} else {
			result = f->best;
		}
		if (f->best > (int32_t)(RE_MAX_INST * 4)) {
			an->fail = 1;
			break;
		}
	}
out:
	free(val);
	free(st);
	return an->fail ? -1 : result;
}

size_t re_longest_match(const struct re *re)
{
	struct anal an;
	long r;

	memset(&an, 0, sizeof an);
	an.re = re;
	an.nac = 1;
	r = longest(&an);
	free(an.edges);
	return r < 0 ? RE_NOPOS : (size_t)r;
}

size_t re_max_length(const struct re *re)
{
	return re->maxlen;
}

int re_keyword_bound(const struct re *re, const struct ac *kw, size_t *bound)
{
	struct anal an;
	long r;

	*bound = RE_NOPOS;
	memset(&an, 0, sizeof an);
	an.re = re;
	an.kw = kw;
	an.nac = ac_state_count(kw);
	if (an.nac == 0)
		return 0;
	an.stamp = calloc(an.nac, sizeof *an.stamp);
	if (!an.stamp)
		return 0;
	r = longest(&an);
	free(an.edges);
	free(an.stamp);
	if (r < 0)
		return 0;
	*bound = (size_t)r;
	return 1;
}
