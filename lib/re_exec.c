/* re_exec.c - regex matching: a Pike VM (NFA simulation with capture slots) behind a lazy, size-bounded DFA. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "re.h"
#include "re_impl.h"

/* Context of the position just after byte c (the text start is CTX_TEXT). */
static int ctx_of_byte(unsigned c)
{
	return c == '\n' ? CTX_NL : re_is_word(c) ? CTX_WORD : CTX_OTHER;
}

/* Does assertion a hold between a position whose predecessor is ctx and whose successor is next (-1: end of text)? */
static int assert_ok(unsigned a, int ctx, int next)
{
	int w;

	switch (a) {
	case AS_BOT: return ctx == CTX_TEXT;
	case AS_EOT: return next < 0;
	case AS_BOL: return ctx == CTX_TEXT || ctx == CTX_NL;
	case AS_EOL: return next < 0 || next == '\n';
	default:
		w = next >= 0 && re_is_word((unsigned)next);
		return ((ctx == CTX_WORD) != w) == (a == AS_WORDB);
	}
}

/* ---- Pike VM ---- */

struct pike_list {
	uint32_t *sparse, *dense; /* visited pcs at this position (sparse set) */
	uint32_t nvis;
	uint32_t *tpc;            /* threads (consuming or MATCH pcs) in priority order */
	size_t *caps;             /* nslots per thread */
	uint32_t nt;
};

struct pike_frame {
	uint32_t pc;   /* pc to explore, or the slot to restore */
	uint32_t restore;
	size_t val;
};

/*
 * The Pike VM's scratch is the module's, one for the process, shared by
 * every regex: the default DLP rule set is some 250 programs, and a scratch
 * each came to 2.5 MB resident in an idle daemon while only one search runs
 * at a time. re_compile grows it to fit the largest program alive (so a
 * search never allocates and cannot fail); the last re_free releases it.
 * Each array is sized for the largest need of its own kind.
 */
struct re_pike {
	struct pike_list l[2];
	struct pike_frame *stack;
	size_t *work;
	size_t *best;
	size_t n, ns, ncaps, sl; /* capacities: pcs, threads per list, capture words per list, slots */
	size_t bytes;
	size_t users;            /* regexes holding a reservation */
};

static struct re_pike pike;

static size_t pike_bytes(size_t n, size_t ns, size_t ncaps, size_t sl)
{
	return 2 * (2 * n * sizeof(uint32_t) + ns * sizeof(uint32_t) + ncaps * sizeof(size_t)) +
	       (n + 2) * sizeof(struct pike_frame) + 2 * sl * sizeof(size_t);
}

/* Free the arrays of pk (a candidate or the module's) and zero its capacities. */
static void pike_free_arrays(struct re_pike *pk)
{
	int i;

	for (i = 0; i < 2; i++) {
		free(pk->l[i].sparse);
		free(pk->l[i].dense);
		free(pk->l[i].tpc);
		free(pk->l[i].caps);
	}
	free(pk->stack);
	free(pk->work);
	free(pk->best);
	memset(pk, 0, offsetof(struct re_pike, users));
}

/* Arrays for capacities n, ns, ncaps, sl in pk (zeroed before); 0, or -1 with nothing allocated. */
static int pike_alloc_arrays(struct re_pike *pk, size_t n, size_t ns, size_t ncaps, size_t sl)
{
	int i, ok = 1;

	for (i = 0; i < 2; i++) {
		ok &= (pk->l[i].sparse = calloc(n, sizeof(uint32_t))) != NULL;
		ok &= (pk->l[i].dense = calloc(n, sizeof(uint32_t))) != NULL;
		ok &= (pk->l[i].tpc = calloc(ns, sizeof(uint32_t))) != NULL;
		ok &= (pk->l[i].caps = calloc(ncaps + 1, sizeof(size_t))) != NULL;
	}
	ok &= (pk->stack = calloc(n + 2, sizeof *pk->stack)) != NULL;
	ok &= (pk->work = calloc(sl + 1, sizeof(size_t))) != NULL;
	ok &= (pk->best = calloc(sl + 1, sizeof(size_t))) != NULL;
	if (!ok) {
		pike_free_arrays(pk);
		return -1;
	}
	pk->n = n;
	pk->ns = ns;
	pk->ncaps = ncaps;
	pk->sl = sl;
	pk->bytes = pike_bytes(n, ns, ncaps, sl);
	return 0;
}

static size_t max_sz(size_t a, size_t b)
{
	return a > b ? a : b;
}

int re_pike_reserve(struct re *re, struct bb_err *e)
{
	size_t n = re->fwd.n, ns = re->fwd.nstore, sl = re->nslots, bytes = pike_bytes(n, ns, ns * sl, sl);

	if (bytes > RE_MAX_SCRATCH)
		return bb_errf(e, BB_ETOOBIG,
			       "regex too large: %zu instructions with %u capture groups need %zu bytes of match state (limit %d)",
			       n, re->ngroups, bytes, RE_MAX_SCRATCH);
	if (n > pike.n || ns > pike.ns || ns * sl > pike.ncaps || sl > pike.sl) {
		/* Grow. The contents are dead between searches; the old arrays stay until the new ones exist. */
		struct re_pike grown;

		memset(&grown, 0, sizeof grown);
		if (pike_alloc_arrays(&grown, max_sz(n, pike.n), max_sz(ns, pike.ns), max_sz(ns * sl, pike.ncaps),
				      max_sz(sl, pike.sl)) < 0)
			return bb_errno(e, ENOMEM, "regex: out of memory");
		grown.users = pike.users;
		pike_free_arrays(&pike);
		pike = grown;
	}
	pike.users++;
	re->pike_held = 1;
	return 0;
}

void re_pike_release(struct re *re)
{
	if (!re->pike_held)
		return;
	re->pike_held = 0;
	if (--pike.users == 0)
		pike_free_arrays(&pike);
}

size_t re_scratch_memory(void)
{
	return pike.bytes;
}

static int visited(struct pike_list *l, uint32_t pc)
{
	uint32_t i = l->sparse[pc];

	if (i < l->nvis && l->dense[i] == pc)
		return 1;
	l->sparse[pc] = l->nvis;
	l->dense[l->nvis++] = pc;
	return 0;
}

/*
 * Add the thread at pc (capture slots in caps, nslots of them) to list l at
 * position pos, following every empty transition in priority order; the
 * first thread to reach an instruction owns it. caps is modified while
 * exploring and restored before returning.
 */
static void pike_add(const struct re *re, struct pike_list *l, uint32_t pc0, size_t pos, size_t *caps, unsigned nslots,
		     int ctx, int next)
{
	const struct re_inst *prog = re->fwd.inst;
	struct pike_frame *st = pike.stack;
	size_t sp = 0;

	st[sp].pc = pc0;
	st[sp++].restore = 0;
	while (sp > 0) {
		uint32_t pc;

		sp--;
		if (st[sp].restore) {
			caps[st[sp].pc] = st[sp].val;
			continue;
		}
		pc = st[sp].pc;
		for (;;) {
			const struct re_inst *in = &prog[pc];

			if (visited(l, pc))
				break;
			switch (in->op) {
			case OP_JMP:
				pc = in->x;
				continue;
			case OP_SPLIT:
				st[sp].pc = in->y;
				st[sp++].restore = 0;
				pc = in->x;
				continue;
			case OP_SAVE:
				if (in->x < nslots) {
					st[sp].pc = in->x;
					st[sp].restore = 1;
					st[sp++].val = caps[in->x];
					caps[in->x] = pos;
				}
				pc++;
				continue;
			case OP_ASSERT:
				if (!assert_ok(in->arg, ctx, next))
					break;
				pc++;
				continue;
			case OP_NOP:
				pc++;
				continue;
			default:
				l->tpc[l->nt] = pc;
				if (nslots)
					memcpy(l->caps + (size_t)l->nt * nslots, caps, nslots * sizeof(size_t));
				l->nt++;
				break;
			}
			break;
		}
	}
}

/*
 * Run the Pike VM over s[pos..n) from pc entry (0 unanchored, fwd.start
 * anchored). Stops after position limit once a match is known (limit pos:
 * the first match found; n: the final leftmost-first match). Matches start
 * no later than last_start (RE_NOPOS: anywhere). Returns 1 with the slots
 * in pike->best, or 0.
 */
static int pike_run(const struct re *re, const unsigned char *s, size_t n, size_t pos, uint32_t entry, size_t limit,
		    unsigned nslots, size_t last_start)
{
	struct re_pike *pk = &pike;
	struct pike_list *cl = &pk->l[0], *nl = &pk->l[1], *t;
	size_t i, *caps;
	uint32_t k;
	int matched = 0;

	for (k = 0; k < nslots; k++)
		pk->work[k] = RE_NOPOS;
	cl->nvis = cl->nt = 0;
	pike_add(re, cl, entry, pos, pk->work, nslots, pos == 0 ? CTX_TEXT : ctx_of_byte(s[pos - 1]),
		 pos < n ? s[pos] : -1);
	for (i = pos;; i++) {
		int c = i < n ? s[i] : -1;
		int ctx = c >= 0 ? ctx_of_byte((unsigned)c) : 0;
		int next = i + 1 < n ? s[i + 1] : -1;

		if (cl->nt == 0)
			break;
		nl->nvis = nl->nt = 0;
		for (k = 0; k < cl->nt; k++) {
			const struct re_inst *in = &re->fwd.inst[cl->tpc[k]];

			caps = cl->caps + (size_t)k * nslots;
			if (in->op == OP_MATCH) { /* lower-priority threads lose to this match */
				if (nslots)
					memcpy(pk->best, caps, nslots * sizeof(size_t));
				matched = 1;
				break;
			}
			/* The unanchored loop (pcs below fwd.start) stops spawning starts after last_start. */
			if (i >= last_start && cl->tpc[k] < re->fwd.start)
				continue;
			if (c >= 0 && re_inst_takes(re, in, (unsigned)c)) {
				if (nslots)
					memcpy(pk->work, caps, nslots * sizeof(size_t));
				pike_add(re, nl, cl->tpc[k] + 1, i + 1, pk->work, nslots, ctx, next);
			}
		}
		if (c < 0 || (matched && i >= limit))
			break;
		t = cl;
		cl = nl;
		nl = t;
	}
	return matched;
}

/* ---- lazy DFA ---- */

/*
 * A DFA state is an ordered list of NFA pcs reached just after a byte
 * (before following empty transitions: those depend on the next byte,
 * for $ and \b) plus the context of that byte. Its transition on byte c
 * follows the empty transitions knowing c, notes whether MATCH was reached
 * (a match ends before c: low bit of the transition), cuts lower-priority
 * threads there (leftmost-first; the reverse DFA keeps them: longest), and
 * steps over c. States live in one fixed arena of 32-bit words:
 *   [0] hash [1] ctx [2] npcs [3] the state without the unanchored loop
 *   (re_search_bounded; UNKNOWN until needed) [4..4+nclass] transitions
 *   (the last: end of text) [..] pcs
 * A transition is UNKNOWN, or (state offset << 1 | match bit). Offset 0 is
 * the dead state. When the arena is full it is emptied and refilled; if
 * that happens too often the search falls back to the Pike VM.
 */
#define UNKNOWN UINT32_MAX
#define DEAD 0u
#define HDR 4u

struct re_dfa {
	const struct re_prog *prog;
	int longest;
	uint32_t ntrans;     /* byte classes + 1 (end of text) */
	uint32_t *mem;
	size_t cap, used;    /* words */
	uint32_t *htab;      /* state offsets; 0 is empty (the dead state is never looked up) */
	size_t hmask, nstates;
	uint32_t start[4];   /* per context, or UNKNOWN */
	uint32_t *sparse, *dense, nvis;
	uint32_t *stack;
	uint32_t *list;      /* the next state's pcs */
	uint32_t *save;      /* a state's pcs kept across a reset */
	size_t reset_at;     /* bytes scanned when the cache was last emptied */
	size_t resets;
	size_t bytes;
};

static size_t dfa_struct_bytes(const struct re *re, const struct re_prog *p, size_t *hsize)
{
	size_t minstate = HDR + re->nbyteclass + 1 + 1, h = 16;

	while (h < 2 * (RE_DFA_CACHE / 4 / minstate))
		h *= 2;
	*hsize = h;
	return sizeof(struct re_dfa) + RE_DFA_CACHE + h * 4 + (4 * (size_t)p->n + 4) * 4;
}

static void dfa_clear(struct re_dfa *d)
{
	uint32_t k;

	memset(d->htab, 0, (d->hmask + 1) * sizeof(uint32_t));
	d->nstates = 0;
	/* The dead state: no pcs, every transition back to itself, no match. */
	d->mem[0] = 0;
	d->mem[1] = CTX_OTHER;
	d->mem[2] = 0;
	d->mem[3] = DEAD;
	for (k = 0; k < d->ntrans; k++)
		d->mem[HDR + k] = DEAD << 1;
	d->used = HDR + d->ntrans;
	for (k = 0; k < 4; k++)
		d->start[k] = UNKNOWN;
}

static void dfa_destroy(struct re_dfa *d)
{
	free(d->mem);
	free(d->htab);
	free(d->sparse);
	free(d->dense);
	free(d->stack);
	free(d->list);
	free(d->save);
	free(d);
}

static struct re_dfa *dfa_new(const struct re *re, const struct re_prog *p, int longest)
{
	struct re_dfa *d = calloc(1, sizeof *d);
	size_t hsize;

	if (!d)
		return NULL;
	dfa_struct_bytes(re, p, &hsize);
	d->prog = p;
	d->longest = longest;
	d->ntrans = re->nbyteclass + 1;
	d->cap = RE_DFA_CACHE / 4;
	d->mem = malloc(d->cap * sizeof(uint32_t));
	d->hmask = hsize - 1;
	d->htab = malloc(hsize * sizeof(uint32_t));
	d->sparse = calloc(p->n, sizeof(uint32_t));
	d->dense = calloc(p->n, sizeof(uint32_t));
	d->stack = malloc((p->n + 1) * sizeof(uint32_t));
	d->list = malloc((p->n + 1) * sizeof(uint32_t));
	d->save = malloc((p->n + 1) * sizeof(uint32_t));
	if (!d->mem || !d->htab || !d->sparse || !d->dense || !d->stack || !d->list || !d->save) {
		dfa_destroy(d);
		return NULL;
	}
	dfa_clear(d);
	return d;
}

void re_dfa_free(struct re *re)
{
	int i;

	for (i = 0; i < 2; i++) {
		struct re_dfa *d = re->dfa[i];

		if (!d)
			continue;
		dfa_destroy(d);
		re->dfa[i] = NULL;
	}
}

size_t re_dfa_memory(const struct re *re)
{
	size_t total = 0, h;
	int i;

	for (i = 0; i < 2; i++)
		if (re->dfa[i])
			total += dfa_struct_bytes(re, re->dfa[i]->prog, &h);
	return total;
}

static uint32_t hash_pcs(const uint32_t *pcs, uint32_t n, uint32_t ctx)
{
	uint32_t h = 2166136261u ^ ctx, i;

	for (i = 0; i < n; i++)
		h = (h ^ pcs[i]) * 16777619u;
	return h ^ (h >> 15);
}

/* Normalise a context to what the program can tell apart (fewer states). */
static uint32_t dfa_ctx(const struct re_dfa *d, int ctx)
{
	unsigned a = d->prog->asserts;

	if (ctx == CTX_WORD && !(a & (AS_WORDB | AS_NWORDB)))
		return CTX_OTHER;
	if (ctx == CTX_NL && !(a & AS_BOL))
		return CTX_OTHER;
	if (ctx == CTX_TEXT && !(a & (AS_BOT | AS_BOL)))
		return CTX_OTHER;
	return (uint32_t)ctx;
}

/* The state for (pcs, ctx): found or added; UNKNOWN when the arena is full. */
static uint32_t dfa_state(struct re_dfa *d, const uint32_t *pcs, uint32_t n, uint32_t ctx)
{
	uint32_t h, off, k;
	size_t i, need;

	if (n == 0)
		return DEAD;
	h = hash_pcs(pcs, n, ctx);
	for (i = h & d->hmask; d->htab[i]; i = (i + 1) & d->hmask) {
		const uint32_t *st = d->mem + d->htab[i];

		if (st[0] == h && st[1] == ctx && st[2] == n && !memcmp(st + HDR + d->ntrans, pcs, n * sizeof *pcs))
			return d->htab[i];
	}
	need = HDR + d->ntrans + n;
	if (d->used + need > d->cap || 2 * (d->nstates + 1) > d->hmask + 1)
		return UNKNOWN;
	off = (uint32_t)d->used;
	d->used += need;
	d->mem[off] = h;
	d->mem[off + 1] = ctx;
	d->mem[off + 2] = n;
	d->mem[off + 3] = UNKNOWN;
	for (k = 0; k < d->ntrans; k++)
		d->mem[off + HDR + k] = UNKNOWN;
	memcpy(d->mem + off + HDR + d->ntrans, pcs, n * sizeof *pcs);
	d->htab[i] = off;
	d->nstates++;
	return off;
}

/*
 * Compute the transition of state *stp on byte c (-1: end of text), store
 * and return it. May empty the cache (then *stp is re-added and updated).
 * UNKNOWN: give up on the DFA for this search.
 */
static uint32_t dfa_compute(const struct re *re, struct re_dfa *d, uint32_t *stp, int c, unsigned cls)
{
	const struct re_inst *prog = d->prog->inst;
	uint32_t st = *stp, ctx = d->mem[st + 1], n = d->mem[st + 2], k, nn = 0, sp, ns, t;
	int matched = 0;

	d->nvis = 0;
	for (k = 0; k < n && !(matched && !d->longest); k++) {
		sp = 0;
		d->stack[sp++] = d->mem[st + HDR + d->ntrans + k];
		while (sp > 0) {
			uint32_t pc = d->stack[--sp];

			for (;;) {
				const struct re_inst *in = &prog[pc];
				uint32_t i = d->sparse[pc];

				if (i < d->nvis && d->dense[i] == pc)
					break;
				d->sparse[pc] = d->nvis;
				d->dense[d->nvis++] = pc;
				if (in->op == OP_JMP) {
					pc = in->x;
					continue;
				}
				if (in->op == OP_SPLIT) {
					d->stack[sp++] = in->y;
					pc = in->x;
					continue;
				}
				if (in->op == OP_SAVE || in->op == OP_NOP ||
				    (in->op == OP_ASSERT && assert_ok(in->arg, (int)ctx, c))) {
					pc++;
					continue;
				}
				if (in->op == OP_MATCH) {
					matched = 1;
					if (!d->longest)
						sp = 0; /* leftmost-first: drop everything of lower priority */
				} else if (in->op != OP_ASSERT && c >= 0 && re_inst_takes(re, in, (unsigned)c)) {
					d->list[nn++] = pc + 1;
				}
				break;
			}
		}
	}
	if (c < 0) {
		t = DEAD << 1 | (uint32_t)matched;
		d->mem[st + HDR + cls] = t;
		return t;
	}
	ns = dfa_state(d, d->list, nn, dfa_ctx(d, ctx_of_byte((unsigned)c)));
	if (ns == UNKNOWN) {
		/* Cache full: empty it, unless it was emptied too recently to be paying for itself. */
		if (d->resets > 0 && d->bytes - d->reset_at < 10 * d->nstates)
			return UNKNOWN;
		memcpy(d->save, d->mem + st + HDR + d->ntrans, n * sizeof(uint32_t));
		dfa_clear(d);
		d->resets++;
		d->reset_at = d->bytes;
		st = dfa_state(d, d->save, n, ctx);
		if (st == UNKNOWN)
			return UNKNOWN;
		*stp = st;
		ns = dfa_state(d, d->list, nn, dfa_ctx(d, ctx_of_byte((unsigned)c)));
		if (ns == UNKNOWN)
			return UNKNOWN;
	}
	t = ns << 1 | (uint32_t)matched;
	d->mem[st + HDR + cls] = t;
	return t;
}

static uint32_t dfa_start(struct re_dfa *d, int ctx)
{
	uint32_t c = dfa_ctx(d, ctx), pc, st;

	if (d->start[c] != UNKNOWN)
		return d->start[c];
	pc = d->longest ? d->prog->start : 0; /* forward: the unanchored entry */
	st = dfa_state(d, &pc, 1, c);
	if (st == UNKNOWN) {
		dfa_clear(d);
		st = dfa_state(d, &pc, 1, c);
		if (st == UNKNOWN)
			return UNKNOWN;
	}
	d->start[c] = st;
	return st;
}

static struct re_dfa *get_dfa(const struct re *re, int which)
{
	struct re *mre = (struct re *)re; /* the caches are scratch, not part of the pattern */

	if (!re->dfa[which]) {
		mre->dfa[which] = dfa_new(re, which ? &re->rev : &re->fwd, which);
		if (!re->dfa[which])
			mre->dfa_off = 1;
	}
	if (re->dfa[which]) {
		re->dfa[which]->resets = 0;
		re->dfa[which]->bytes = 0;
		re->dfa[which]->reset_at = 0;
	}
	return re->dfa[which];
}

/*
 * Drop the unanchored loop's threads (pcs below fwd.start) from state st:
 * no match may start from here on. The new state, DEAD, or UNKNOWN when
 * the cache is full.
 */
static uint32_t dfa_drop_loop(struct re_dfa *d, uint32_t st)
{
	const uint32_t *pcs = d->mem + st + HDR + d->ntrans;
	uint32_t n = d->mem[st + 2], k, nn = 0, ns;

	if (d->mem[st + 3] != UNKNOWN)
		return d->mem[st + 3];
	for (k = 0; k < n; k++)
		if (pcs[k] >= d->prog->start)
			d->list[nn++] = pcs[k];
	ns = nn == n ? st : dfa_state(d, d->list, nn, d->mem[st + 1]);
	if (ns != UNKNOWN)
		d->mem[st + 3] = ns;
	return ns;
}

/*
 * Forward, leftmost-first: 1 and *end, 0 no match, -1 gave up. earliest:
 * stop at the first match seen. cut: from this position on no match may
 * start (last_start + 1; RE_NOPOS: no limit), so the DFA dies as soon as
 * the threads that started in time do.
 */
static int dfa_forward(const struct re *re, const unsigned char *s, size_t n, size_t pos, int earliest, size_t cut,
		       size_t *end)
{
	struct re_dfa *d = get_dfa(re, 0);
	const uint8_t *bc = re->byteclass;
	const uint32_t *mem;
	size_t i, last = RE_NOPOS;
	uint32_t st, t;

	if (!d)
		return -1;
	st = dfa_start(d, pos == 0 ? CTX_TEXT : ctx_of_byte(s[pos - 1]));
	if (st == UNKNOWN)
		return -1;
	mem = d->mem;
	for (i = pos; i < n; i++) {
		if (i == cut && (st = dfa_drop_loop(d, st)) == UNKNOWN)
			return -1;
		if (st == DEAD)
			break;
		t = mem[st + HDR + bc[s[i]]];
		if (t == UNKNOWN) {
			d->bytes = i - pos;
			t = dfa_compute(re, d, &st, s[i], bc[s[i]]);
			if (t == UNKNOWN)
				return -1;
		}
		if (t & 1) {
			last = i;
			if (earliest)
				break;
		}
		st = t >> 1;
	}
	if (i == n && n == cut && (st = dfa_drop_loop(d, st)) == UNKNOWN)
		return -1;
	if (i == n && st != DEAD) {
		t = mem[st + HDR + d->ntrans - 1];
		if (t == UNKNOWN)
			t = dfa_compute(re, d, &st, -1, d->ntrans - 1);
		if (t & 1)
			last = n;
	}
	if (last == RE_NOPOS)
		return 0;
	*end = last;
	return 1;
}

/* Reverse, longest, from end down to lo: 1 and *start of the leftmost match ending at end, 0, or -1 gave up. */
static int dfa_reverse(const struct re *re, const unsigned char *s, size_t n, size_t lo, size_t end, size_t *start)
{
	struct re_dfa *d = get_dfa(re, 1);
	const uint8_t *bc = re->byteclass;
	size_t i, last = RE_NOPOS;
	uint32_t st, t;

	if (!d)
		return -1;
	st = dfa_start(d, end == n ? CTX_TEXT : ctx_of_byte(s[end]));
	if (st == UNKNOWN)
		return -1;
	for (i = end; i > lo; i--) {
		t = d->mem[st + HDR + bc[s[i - 1]]];
		if (t == UNKNOWN) {
			d->bytes = end - i;
			t = dfa_compute(re, d, &st, s[i - 1], bc[s[i - 1]]);
			if (t == UNKNOWN)
				return -1;
		}
		if (t & 1)
			last = i;
		st = t >> 1;
		if (st == DEAD)
			break;
	}
	if (i == lo && st != DEAD) {
		/* At lo only the match bit matters: it depends on the byte before lo, if any. */
		unsigned cls = lo == 0 ? d->ntrans - 1 : bc[s[lo - 1]];

		t = d->mem[st + HDR + cls];
		if (t == UNKNOWN)
			t = dfa_compute(re, d, &st, lo == 0 ? -1 : s[lo - 1], cls);
		if (t != UNKNOWN && (t & 1))
			last = lo;
		if (t == UNKNOWN)
			return -1;
	}
	if (last == RE_NOPOS)
		return 0;
	*start = last;
	return 1;
}

/* ---- search ---- */

static void fill(const struct re *re, struct re_match *m, const size_t *slots, unsigned nslots)
{
	unsigned g;

	m->ngroups = nslots / 2;
	for (g = 0; g < RE_MATCH_GROUPS; g++) {
		if (g < m->ngroups && slots[2 * g] != RE_NOPOS && slots[2 * g + 1] != RE_NOPOS) {
			m->group[g].start = slots[2 * g];
			m->group[g].end = slots[2 * g + 1];
		} else {
			m->group[g].start = m->group[g].end = RE_NOPOS;
		}
	}
}

/* re_search with matches starting no later than last_start (RE_NOPOS: anywhere). */
static int search(const struct re *re, const unsigned char *s, size_t n, size_t start, size_t last_start,
		  struct re_match *m)
{
	size_t end = 0, mstart = 0, cut = last_start < n ? last_start + 1 : RE_NOPOS;
	int r;

	if (start > n || start > last_start)
		return 0;
	/*
	 * Every match contains the required literal: no literal, no match
	 * (memmem runs at memory speed). A bounded search looks for it only
	 * where a match that starts in time can reach.
	 */
	if (re->litlen >= 2 && !re->litnocase) {
		size_t reach = re->maxlen != RE_NOPOS ? re->maxlen : 4096, lim = n;

		if (last_start < n && last_start + reach < n)
			lim = last_start + reach;
		/* Not found before lim, when matches may reach past it: no answer; the DFA decides. */
		if (!memmem(s + start, lim - start, re->lit, re->litlen) && (lim == n || re->maxlen != RE_NOPOS))
			return 0;
	}
	if (!re->dfa_off) {
		r = dfa_forward(re, s, n, start, m == NULL, cut, &end);
		if (r == 0)
			return 0;
		if (r > 0 && !m)
			return 1;
		if (r > 0 && dfa_reverse(re, s, n, start, end, &mstart) > 0) {
			size_t slots[2];

			if (re->nslots == 2) {
				slots[0] = mstart;
				slots[1] = end;
				fill(re, m, slots, 2);
				return 1;
			}
			/* Captures: the Pike VM over the match only, anchored at its start. */
			if (pike_run(re, s, n, mstart, re->fwd.start, end, re->nslots, RE_NOPOS)) {
				fill(re, m, pike.best, re->nslots);
				return 1;
			}
		}
	}
	if (!pike_run(re, s, n, start, 0, m ? n : start, m ? re->nslots : 0, last_start))
		return 0;
	if (m)
		fill(re, m, pike.best, re->nslots);
	return 1;
}

int re_search(const struct re *re, const char *str, size_t n, size_t start, struct re_match *m)
{
	return search(re, (const unsigned char *)str, n, start, RE_NOPOS, m);
}

int re_search_bounded(const struct re *re, const char *str, size_t n, size_t start, size_t last_start,
		      struct re_match *m)
{
	return search(re, (const unsigned char *)str, n, start, last_start, m);
}
