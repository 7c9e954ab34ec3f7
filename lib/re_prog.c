/* re_prog.c - regex compiler: syntax tree to byte-oriented NFA programs, DFA byte classes, required literal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "re.h"
#include "re_impl.h"

#define HOLE UINT32_MAX

struct comp {
	struct re_inst *inst;
	uint32_t n, cap;
	const struct re_node *nodes;
	unsigned nslots; /* SAVE only slots below this */
	int reverse;
	int err;         /* 1 too big, 2 out of memory */
	uint32_t work;   /* nodes visited: bounds the time of repeats of things that emit nothing, like (?:a{0}){1000} */
};

#define MAX_WORK (16u * RE_MAX_INST)

static int64_t emit(struct comp *c, int op, unsigned arg, uint32_t x, uint32_t y)
{
	struct re_inst *in;

	if (c->n >= RE_MAX_INST) {
		c->err = 1;
		return -1;
	}
	if (c->n == c->cap) {
		uint32_t cap = c->cap ? c->cap * 2 : 64;
		struct re_inst *p = realloc(c->inst, cap * sizeof *p);

		if (!p) {
			c->err = 2;
			return -1;
		}
		c->inst = p;
		c->cap = cap;
	}
	in = &c->inst[c->n];
	in->op = (uint8_t)op;
	in->arg = (uint8_t)arg;
	in->x = x;
	in->y = y;
	return c->n++;
}

/* Point every hole in the chain (linked through field x or y) at target. */
static void patch(struct comp *c, uint32_t chain, int use_y, uint32_t target)
{
	while (chain != HOLE) {
		uint32_t *f = use_y ? &c->inst[chain].y : &c->inst[chain].x;
		uint32_t nx = *f;

		*f = target;
		chain = nx;
	}
}

static int comp_node(struct comp *c, int32_t i);

/* Can the node match the empty string? (-1: over the work budget) */
static int nullable(struct comp *c, int32_t i, unsigned depth)
{
	const struct re_node *nodes = c->nodes, *nd = &nodes[i];
	int32_t k;
	int r;

	if (++c->work > MAX_WORK) {
		c->err = 1;
		return -1;
	}
	if (depth > RE_MAX_DEPTH * 4)
		return 1;
	switch (nd->type) {
	case N_EMPTY: case N_ASSERT:
		return 1;
	case N_CAT:
		for (k = nd->child; k >= 0; k = nodes[k].next)
			if ((r = nullable(c, k, depth + 1)) <= 0)
				return r;
		return 1;
	case N_ALT:
		for (k = nd->child; k >= 0; k = nodes[k].next)
			if ((r = nullable(c, k, depth + 1)) != 0)
				return r;
		return 0;
	case N_REP:
		return nd->min == 0 ? 1 : nullable(c, nd->child, depth + 1);
	case N_CAP:
		return nullable(c, nd->child, depth + 1);
	default:
		return 0;
	}
}

static int comp_rep(struct comp *c, const struct re_node *nd)
{
	int32_t k;
	int64_t sp, loop;
	int g = nd->greedy, null;

	if (nd->max < 0) {
		if (nd->min == 0 && (null = nullable(c, nd->child, 0)) != 0) {
			if (null < 0)
				return -1;
			/* Go compiles x* as (x+)? when x can be empty, for the submatch priorities of golang.org/issue/46123. */
			if ((sp = emit(c, OP_SPLIT, 0, 0, 0)) < 0)
				return -1;
			loop = c->n;
			if (comp_node(c, nd->child) < 0 || emit(c, OP_SPLIT, 0, (uint32_t)loop, 0) < 0)
				return -1;
			c->inst[c->n - 1].x = g ? (uint32_t)loop : c->n;
			c->inst[c->n - 1].y = g ? c->n : (uint32_t)loop;
			c->inst[sp].x = g ? (uint32_t)sp + 1 : c->n;
			c->inst[sp].y = g ? c->n : (uint32_t)sp + 1;
			return 0;
		}
		if (nd->min == 0) { /* L: split body, out; body; jmp L */
			if ((loop = emit(c, OP_SPLIT, 0, 0, 0)) < 0 || comp_node(c, nd->child) < 0 ||
			    emit(c, OP_JMP, 0, (uint32_t)loop, 0) < 0)
				return -1;
			c->inst[loop].x = g ? (uint32_t)loop + 1 : c->n;
			c->inst[loop].y = g ? c->n : (uint32_t)loop + 1;
			return 0;
		}
		for (k = 0; k < nd->min - 1; k++)
			if (comp_node(c, nd->child) < 0)
				return -1;
		loop = c->n; /* L: body; split L, out */
		if (comp_node(c, nd->child) < 0 || (sp = emit(c, OP_SPLIT, 0, 0, 0)) < 0)
			return -1;
		c->inst[sp].x = g ? (uint32_t)loop : (uint32_t)sp + 1;
		c->inst[sp].y = g ? (uint32_t)sp + 1 : (uint32_t)loop;
		return 0;
	}
	for (k = 0; k < nd->min; k++)
		if (comp_node(c, nd->child) < 0)
			return -1;
	{
		uint32_t holes = HOLE;

		/* x{0,k} as nested optionals: (x(x(x)?)?)?, each split leaving to the common end. */
		for (k = nd->min; k < nd->max; k++) {
			if ((sp = emit(c, OP_SPLIT, 0, 0, 0)) < 0)
				return -1;
			if (g) {
				c->inst[sp].x = (uint32_t)sp + 1;
				c->inst[sp].y = holes;
			} else {
				c->inst[sp].y = (uint32_t)sp + 1;
				c->inst[sp].x = holes;
			}
			holes = (uint32_t)sp;
			if (comp_node(c, nd->child) < 0)
				return -1;
		}
		patch(c, holes, g, c->n);
	}
	return 0;
}

static unsigned rev_assert(unsigned a)
{
	switch (a) {
	case AS_BOT: return AS_EOT;
	case AS_EOT: return AS_BOT;
	case AS_BOL: return AS_EOL;
	case AS_EOL: return AS_BOL;
	default: return a;
	}
}

static int comp_node(struct comp *c, int32_t i)
{
	const struct re_node *nd = &c->nodes[i];
	int32_t k;

	if (++c->work > MAX_WORK) {
		c->err = 1;
		return -1;
	}

	switch (nd->type) {
	case N_EMPTY:
		return 0;
	case N_BYTE:
		return emit(c, OP_BYTE, nd->arg, 0, 0) < 0 ? -1 : 0;
	case N_CLASS:
		return emit(c, OP_CLASS, 0, nd->x, 0) < 0 ? -1 : 0;
	case N_ANY:
		return emit(c, OP_ANY, 0, 0, 0) < 0 ? -1 : 0;
	case N_ANYNL:
		return emit(c, OP_ANYNL, 0, 0, 0) < 0 ? -1 : 0;
	case N_ASSERT:
		return emit(c, OP_ASSERT, c->reverse ? rev_assert(nd->arg) : nd->arg, 0, 0) < 0 ? -1 : 0;
	case N_CAT:
		for (k = c->reverse ? nd->last : nd->child; k >= 0; k = c->reverse ? c->nodes[k].prev : c->nodes[k].next)
			if (comp_node(c, k) < 0)
				return -1;
		return 0;
	case N_ALT: {
		uint32_t jumps = HOLE;
		int64_t sp, j;

		for (k = nd->child; k >= 0; k = c->nodes[k].next) {
			if (c->nodes[k].next < 0)
				return comp_node(c, k) < 0 ? -1 : (patch(c, jumps, 0, c->n), 0);
			if ((sp = emit(c, OP_SPLIT, 0, 0, 0)) < 0)
				return -1;
			c->inst[sp].x = (uint32_t)sp + 1;
			if (comp_node(c, k) < 0 || (j = emit(c, OP_JMP, 0, jumps, 0)) < 0)
				return -1;
			jumps = (uint32_t)j;
			c->inst[sp].y = c->n;
		}
		return 0;
	}
	case N_CAP:
		if (c->reverse || 2 * nd->x + 1 >= c->nslots)
			return comp_node(c, nd->child);
		if (emit(c, OP_SAVE, 0, 2 * nd->x, 0) < 0 || comp_node(c, nd->child) < 0 ||
		    emit(c, OP_SAVE, 0, 2 * nd->x + 1, 0) < 0)
			return -1;
		return 0;
	case N_REP:
		return comp_rep(c, nd);
	}
	return 0;
}

static void prog_finish(struct re_prog *p)
{
	uint32_t i;

	p->nstore = 0;
	p->asserts = 0;
	for (i = 0; i < p->n; i++) {
		switch (p->inst[i].op) {
		case OP_MATCH: case OP_BYTE: case OP_CLASS: case OP_ANY: case OP_ANYNL:
			p->nstore++;
			break;
		case OP_ASSERT:
			p->asserts |= p->inst[i].arg;
			break;
		}
	}
}

int re_prog_compile(const struct re_node *nodes, int32_t root, unsigned nslots, int reverse, struct re_prog *out,
		    struct bb_err *e)
{
	struct comp c;

	memset(&c, 0, sizeof c);
	c.nodes = nodes;
	c.nslots = nslots;
	c.reverse = reverse;
	if (!reverse) { /* 0: split 3, 1; 1: any; 2: jmp 0; 3: save 0 ... save 1; match */
		if (emit(&c, OP_SPLIT, 0, 3, 1) < 0 || emit(&c, OP_ANY, 0, 0, 0) < 0 || emit(&c, OP_JMP, 0, 0, 0) < 0 ||
		    emit(&c, OP_SAVE, 0, 0, 0) < 0)
			goto fail;
	}
	if (comp_node(&c, root) < 0)
		goto fail;
	if (!reverse && emit(&c, OP_SAVE, 0, 1, 0) < 0)
		goto fail;
	if (emit(&c, OP_MATCH, 0, 0, 0) < 0)
		goto fail;
	if (c.n < c.cap) { /* the array doubled as it grew: give the slack back, the program lives as long as the regex */
		struct re_inst *fit = realloc(c.inst, c.n * sizeof *fit);

		if (fit)
			c.inst = fit;
	}
	out->inst = c.inst;
	out->n = c.n;
	out->start = reverse ? 0 : 3;
	prog_finish(out);
	return 0;
fail:
	free(c.inst);
	if (c.err == 2)
		return bb_errno(e, ENOMEM, "regex: out of memory");
	if (c.work > MAX_WORK)
		return bb_errf(e, BB_ETOOBIG, "regex too large: counted repeats expand to more than %u pieces", MAX_WORK);
	return bb_errf(e, BB_ETOOBIG, "regex too large: more than %d instructions once counted repeats are expanded",
		       RE_MAX_INST);
}

/* ---- byte classes for the DFA alphabet ---- */

static void refine(uint8_t *map, unsigned *nclass, const struct re_cset *s)
{
	int16_t renum[256][2];
	unsigned c, n = 0;

	memset(renum, 0xff, sizeof renum);
	for (c = 0; c < 256; c++) {
		int h = re_cs_has(s, c);

		if (renum[map[c]][h] < 0)
			renum[map[c]][h] = (int16_t)n++;
	}
	for (c = 0; c < 256; c++)
		map[c] = (uint8_t)renum[map[c]][re_cs_has(s, c)];
	*nclass = n;
}

void re_byte_classes(struct re *re)
{
	struct re_cset s, lits = { { 0 } };
	uint32_t i;
	unsigned c;

	memset(re->byteclass, 0, sizeof re->byteclass);
	re->nbyteclass = 1;
	for (i = 0; i < re->ncls; i++)
		refine(re->byteclass, &re->nbyteclass, &re->cls[i]);
	for (i = 0; i < re->fwd.n; i++)
		if (re->fwd.inst[i].op == OP_BYTE)
			re_cs_add(&lits, re->fwd.inst[i].arg);
	re_cs_add(&lits, '\n'); /* . and (?m) care about newlines */
	for (c = 0; c < 256; c++) {
		if (!re_cs_has(&lits, c))
			continue;
		memset(&s, 0, sizeof s);
		re_cs_add(&s, c);
		refine(re->byteclass, &re->nbyteclass, &s);
	}
	if ((re->fwd.asserts | re->rev.asserts) & (AS_WORDB | AS_NWORDB)) {
		memset(&s, 0, sizeof s);
		for (c = 0; c < 256; c++)
			if (re_is_word(c))
				re_cs_add(&s, c);
		refine(re->byteclass, &re->nbyteclass, &s);
	}
}

/* ---- required literal ---- */

/* The byte a node matches when it is one literal byte (or one letter under (?i)): 0..255, +256 when folded; -1 otherwise. */
static int lit_byte(const struct re_cset *cls, const struct re_node *nd)
{
	unsigned one = 0;

	if (nd->type == N_BYTE)
		return nd->arg;
	if (nd->type == N_CLASS) {
		const struct re_cset *s = &cls[nd->x];

		if (re_cs_count(s, &one) == 2 && (one | 32) >= 'a' && (one | 32) <= 'z' && re_cs_has(s, one | 32) &&
		    re_cs_has(s, one & ~32u))
			return 256 + (int)(one | 32);
	}
	return -1;
}

/* Longest run of literal bytes in the node's top-level sequence (descending through groups and x{n,} with n >= 1). */
static void find_literal(const struct re_node *nodes, const struct re_cset *cls, int32_t i, struct re *re,
			 unsigned char *run, size_t *runlen, int *runfold, unsigned depth)
{
	const struct re_node *nd = &nodes[i];
	int32_t k;
	int b;

	if (depth > RE_MAX_DEPTH * 4)
		return;
	if (nd->type == N_CAP || (nd->type == N_REP && nd->min >= 1)) {
		if (nd->type == N_REP) { /* the repeat's literal stands alone: copies may be split by other text */
			*runlen = 0;
			*runfold = 0;
		}
		find_literal(nodes, cls, nd->child, re, run, runlen, runfold, depth + 1);
		if (nd->type == N_REP) {
			*runlen = 0;
			*runfold = 0;
		}
		return;
	}
	if (nd->type == N_ASSERT)
		return;
	if (nd->type != N_CAT) {
		b = lit_byte(cls, nd);
		if (b < 0) {
			*runlen = 0;
			*runfold = 0;
			return;
		}
		if (*runlen < 255) {
			run[(*runlen)++] = (unsigned char)b;
			*runfold |= b >= 256;
		}
		if (*runlen > re->litlen) {
			memcpy(re->lit, run, *runlen);
			re->litlen = *runlen;
			re->litnocase = *runfold;
		}
		return;
	}
	for (k = nd->child; k >= 0; k = nodes[k].next)
		find_literal(nodes, cls, k, re, run, runlen, runfold, depth + 1);
}

void re_prog_literal(const struct re_node *nodes, const struct re_cset *cls, int32_t root, struct re *re)
{
	unsigned char run[256];
	size_t runlen = 0, i;
	int runfold = 0;

	find_literal(nodes, cls, root, re, run, &runlen, &runfold, 0);
	if (re->litnocase)
		for (i = 0; i < re->litlen; i++)
			if (re->lit[i] >= 'A' && re->lit[i] <= 'Z')
				re->lit[i] = (char)(re->lit[i] | 32);
}

