/* re_impl.h - regex internals shared by the parser (re.c), compiler (re_prog.c) and matchers (re_exec.c). */
#ifndef BB_RE_IMPL_H
#define BB_RE_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "re.h"

/* Instructions. Consuming ones (BYTE CLASS ANY ANYNL) and MATCH hold threads; the rest are followed at once. */
enum {
	OP_MATCH,
	OP_BYTE,   /* arg: the byte */
	OP_CLASS,  /* x: class index */
	OP_ANY,    /* any byte */
	OP_ANYNL,  /* any byte but \n */
	OP_SPLIT,  /* try x first, then y */
	OP_JMP,    /* x */
	OP_SAVE,   /* x: capture slot */
	OP_ASSERT, /* arg: one AS_* */
	OP_NOP
};

/* Empty-width assertions. */
enum {
	AS_BOT = 1,   /* \A, ^ */
	AS_EOT = 2,   /* \z, $ */
	AS_BOL = 4,   /* (?m)^ */
	AS_EOL = 8,   /* (?m)$ */
	AS_WORDB = 16,
	AS_NWORDB = 32
};

/* What precedes a position: the start of the text, a newline, a word byte, anything else. */
enum { CTX_TEXT, CTX_NL, CTX_WORD, CTX_OTHER };

struct re_inst {
	uint8_t op;
	uint8_t arg;
	uint32_t x, y;
};

struct re_prog {
	struct re_inst *inst;
	uint32_t n;
	uint32_t start;   /* anchored entry; 0 is the unanchored entry (a lazy .*? loop) */
	uint32_t nstore;  /* consuming instructions + MATCH: the most threads a list can hold */
	unsigned asserts; /* AS_* used */
};

struct re_cset {
	uint32_t w[8];
};

/* Syntax tree from the parser (re.c) for the compiler (re_prog.c): nodes in one array, linked by index. */
enum { N_EMPTY, N_BYTE, N_CLASS, N_ANY, N_ANYNL, N_CAT, N_ALT, N_REP, N_CAP, N_ASSERT };

struct re_node {
	uint8_t type;
	uint8_t greedy;
	uint8_t arg;        /* N_BYTE: the byte; N_ASSERT: an AS_* */
	int32_t child;      /* CAT/ALT: first child; REP/CAP: the operand */
	int32_t last;       /* CAT/ALT: last child */
	int32_t next, prev; /* siblings */
	int32_t min, max;   /* REP: counts; max -1 is unbounded */
	uint32_t x;         /* N_CLASS: class index; N_CAP: group number */
};

struct re_dfa;

struct re {
	struct re_prog fwd;     /* forward, with SAVEs; entry 0 searches, entry start is anchored */
	struct re_prog rev;     /* the pattern reversed, no SAVEs, anchored: finds where a match starts */
	struct re_cset *cls;    /* byte sets of OP_CLASS */
	uint32_t ncls;
	unsigned ngroups;       /* capture groups in the pattern */
	unsigned nslots;        /* capture slots tracked: 2 * min(ngroups + 1, RE_MATCH_GROUPS) */
	unsigned flags;
	uint8_t byteclass[256]; /* bytes no instruction or assertion tells apart share a class (DFA alphabet) */
	unsigned nbyteclass;
	size_t maxlen;          /* longest match, RE_NOPOS unbounded (re_max_length) */
	char *lit;              /* required literal (re_required_literal) */
	size_t litlen;
	int litnocase;
	int pike_held;          /* counted among the users of the shared Pike VM scratch */
	struct re_dfa *dfa[2];  /* forward, reverse; allocated on first use */
	int dfa_off;            /* RE_NODFA, or a DFA could not be allocated */
	size_t mem;             /* bytes allocated at compile time (the shared scratch not counted) */
};

static inline int re_cs_has(const struct re_cset *s, unsigned c)
{
	return (s->w[c >> 5] >> (c & 31)) & 1;
}

static inline void re_cs_add(struct re_cset *s, unsigned c)
{
	s->w[c >> 5] |= 1u << (c & 31);
}

/* Members of s; *one is set to the last one. */
static inline int re_cs_count(const struct re_cset *s, unsigned *one)
{
	unsigned c;
	int n = 0;

	for (c = 0; c < 256; c++)
		if (re_cs_has(s, c)) {
			*one = c;
			n++;
		}
	return n;
}

static inline int re_is_word(unsigned c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

/* Whether instruction in consumes byte c (the Pike VM, the DFA and the analysis all ask). */
static inline int re_inst_takes(const struct re *re, const struct re_inst *in, unsigned c)
{
	switch (in->op) {
	case OP_BYTE: return in->arg == c;
	case OP_CLASS: return re_cs_has(&re->cls[in->x], c);
	case OP_ANY: return 1;
	case OP_ANYNL: return c != '\n';
	default: return 0;
	}
}

/* Compile the tree at root into *out (re_prog.c): forward with SAVEs below nslots, or reversed; 0 or -1 with e set. */
int re_prog_compile(const struct re_node *nodes, int32_t root, unsigned nslots, int reverse, struct re_prog *out,
		    struct bb_err *e);
/* Fill re->byteclass from the programs and classes. */
void re_byte_classes(struct re *re);
/* Fill re->lit (256 bytes allocated) with the longest literal every match contains. */
void re_prog_literal(const struct re_node *nodes, const struct re_cset *cls, int32_t root, struct re *re);

/* The longest match of re's forward program (re_anal.c), RE_NOPOS unbounded. */
size_t re_longest_match(const struct re *re);

/* Grow the shared Pike VM scratch (re_exec.c) to fit re and count re as a user; 0 or -1 with e set. */
int re_pike_reserve(struct re *re, struct bb_err *e);
/* re no longer uses the scratch; the last user frees it. */
void re_pike_release(struct re *re);
void re_dfa_free(struct re *re);
size_t re_dfa_memory(const struct re *re);

#endif
