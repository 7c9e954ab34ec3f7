/* re_impl.h - regex internals shared by the compiler (re.c) and the matchers (re_exec.c): program and scratch layouts. */
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

struct re_pike;
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
	char *lit;              /* required literal (re_required_literal) */
	size_t litlen;
	int litnocase;
	struct re_pike *pike;   /* Pike VM scratch, allocated at compile time */
	struct re_dfa *dfa[2];  /* forward, reverse; allocated on first use */
	int dfa_off;            /* RE_NODFA, or a DFA could not be allocated */
	size_t mem;             /* bytes allocated at compile time */
};

static inline int re_cs_has(const struct re_cset *s, unsigned c)
{
	return (s->w[c >> 5] >> (c & 31)) & 1;
}

static inline int re_is_word(unsigned c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

/* Pike VM scratch for re (re_exec.c); 0 or -1 with e set. */
int re_pike_alloc(struct re *re, struct bb_err *e);
void re_pike_free(struct re *re);
void re_dfa_free(struct re *re);
size_t re_dfa_memory(const struct re *re);

#endif
