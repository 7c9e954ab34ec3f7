/* re.c - regex parser (RE2/Go syntax subset to a syntax tree) and the public compile/free calls; see re_prog.c, re_exec.c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "re.h"
#include "re_impl.h"
#include "utf8.h"

/* Syntax tree: nodes in one array, linked by index. */
struct parser {
	const unsigned char *p;
	size_t len, pos;
	struct re_node *nodes;
	size_t nnodes, capnodes;
	struct re_cset *cls;
	uint32_t ncls, capcls;
	int32_t foldcls[26]; /* the class {x, X} made for each letter under (?i) */
	unsigned ncap;
	struct bb_err *e;
};

#define NO_ATOM (-2) /* parse_atom consumed a flags group: nothing to append */

static int perr(struct parser *ps, size_t off, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int perr(struct parser *ps, size_t off, int code, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return bb_errf(ps->e, code, "regex offset %zu: %s", off, msg);
}

static int peek(const struct parser *ps, size_t k)
{
	return ps->pos + k < ps->len ? ps->p[ps->pos + k] : -1;
}

/* ---- byte sets ---- */

static void cs_add_range(struct re_cset *s, unsigned lo, unsigned hi)
{
	unsigned c;

	for (c = lo; c <= hi; c++)
		re_cs_add(s, c);
}

static void cs_or(struct re_cset *s, const struct re_cset *t)
{
	int i;

	for (i = 0; i < 8; i++)
		s->w[i] |= t->w[i];
}

static void cs_negate(struct re_cset *s)
{
	int i;

	for (i = 0; i < 8; i++)
		s->w[i] = ~s->w[i];
}

static void cs_fold(struct re_cset *s)
{
	unsigned c;

	for (c = 'a'; c <= 'z'; c++) {
		if (re_cs_has(s, c) || re_cs_has(s, c - 32)) {
			re_cs_add(s, c);
			re_cs_add(s, c - 32);
		}
	}
}

/* Perl classes \d \s \w (Go's ASCII definitions: \s is [\t\n\f\r ]). */
static void cs_perl(struct re_cset *s, int which)
{
	memset(s, 0, sizeof *s);
	switch (which) {
	case 'd':
		cs_add_range(s, '0', '9');
		break;
	case 's':
		re_cs_add(s, '\t');
		re_cs_add(s, '\n');
		re_cs_add(s, '\f');
		re_cs_add(s, '\r');
		re_cs_add(s, ' ');
		break;
	default: /* w */
		cs_add_range(s, '0', '9');
		cs_add_range(s, 'A', 'Z');
		cs_add_range(s, 'a', 'z');
		re_cs_add(s, '_');
		break;
	}
}

/* ---- tree building ---- */

static int32_t new_node(struct parser *ps, int type)
{
	struct re_node *nd;

	if (ps->nnodes == ps->capnodes) {
		size_t cap = ps->capnodes ? ps->capnodes * 2 : 64;
		struct re_node *p = realloc(ps->nodes, cap * sizeof *p);

		if (!p)
			return bb_errno(ps->e, ENOMEM, "regex: out of memory");
		ps->nodes = p;
		ps->capnodes = cap;
	}
	nd = &ps->nodes[ps->nnodes];
	memset(nd, 0, sizeof *nd);
	nd->type = (uint8_t)type;
	nd->child = nd->last = nd->next = nd->prev = -1;
	return (int32_t)ps->nnodes++;
}

static void append(struct parser *ps, int32_t parent, int32_t child)
{
	struct re_node *p = &ps->nodes[parent];

	ps->nodes[child].prev = p->last;
	ps->nodes[child].next = -1;
	if (p->last >= 0)
		ps->nodes[p->last].next = child;
	else
		p->child = child;
	p->last = child;
}

static int32_t new_class(struct parser *ps, const struct re_cset *s)
{
	int32_t n;

	if (ps->ncls == ps->capcls) {
		uint32_t cap = ps->capcls ? ps->capcls * 2 : 16;
		struct re_cset *p = realloc(ps->cls, cap * sizeof *p);

		if (!p)
			return bb_errno(ps->e, ENOMEM, "regex: out of memory");
		ps->cls = p;
		ps->capcls = cap;
	}
	ps->cls[ps->ncls] = *s;
	n = new_node(ps, N_CLASS);
	if (n < 0)
		return -1;
	ps->nodes[n].x = ps->ncls++;
	return n;
}

/* A node matching the set: a single byte becomes N_BYTE. */
static int32_t set_node(struct parser *ps, const struct re_cset *s)
{
	unsigned one = 0;
	int32_t n;

	if (re_cs_count(s, &one) == 1) {
		n = new_node(ps, N_BYTE);
		if (n >= 0)
			ps->nodes[n].arg = (uint8_t)one;
		return n;
	}
	return new_class(ps, s);
}

static int32_t byte_node(struct parser *ps, unsigned c, unsigned flags)
{
	int32_t n;

	if ((flags & RE_ICASE) && ((c | 32) >= 'a' && (c | 32) <= 'z')) {
		unsigned k = (c | 32) - 'a';
		struct re_cset s = { { 0 } };

		if (ps->foldcls[k] >= 0) { /* share one class per letter */
			n = new_node(ps, N_CLASS);
			if (n >= 0)
				ps->nodes[n].x = (uint32_t)ps->foldcls[k];
			return n;
		}
		re_cs_add(&s, c | 32);
		re_cs_add(&s, c & ~32u);
		n = new_class(ps, &s);
		if (n >= 0)
			ps->foldcls[k] = (int32_t)ps->nodes[n].x;
		return n;
	}
	n = new_node(ps, N_BYTE);
	if (n >= 0)
		ps->nodes[n].arg = (uint8_t)c;
	return n;
}

/* A sequence of literal bytes as one atom (a quantifier after it repeats all of them). */
static int32_t bytes_node(struct parser *ps, const unsigned char *b, size_t n, unsigned flags)
{
	int32_t cat, x;
	size_t i;

	if (n == 1)
		return byte_node(ps, b[0], flags);
	cat = new_node(ps, N_CAT);
	if (cat < 0)
		return -1;
	for (i = 0; i < n; i++) {
		x = byte_node(ps, b[i], flags);
		if (x < 0)
			return -1;
		append(ps, cat, x);
	}
	return cat;
}

/* ---- escapes ---- */

enum { ESC_BYTE, ESC_SET, ESC_ASSERT, ESC_UTF8 };

struct esc {
	int kind;
	unsigned byte;  /* ESC_BYTE; ESC_ASSERT: the AS_* */
	struct re_cset set;
	unsigned char utf8[4];
	size_t nutf8;
};

/* A code point: one byte when <= 0xFF (byte semantics), else its UTF-8 bytes. */
static int esc_codepoint(struct parser *ps, size_t at, unsigned long v, int in_class, struct esc *out)
{
	if (v <= 0xFF) {
		out->kind = ESC_BYTE;
		out->byte = (unsigned)v;
		return 0;
	}
	if (in_class)
		return perr(ps, at, BB_EINVAL, "code point above 0xFF in a class is not supported (classes match single bytes)");
	if (v > 0x10FFFF)
		return perr(ps, at, BB_EINVAL, "invalid escape: code point out of range");
	out->kind = ESC_UTF8;
	if (v < 0x800) {
		out->utf8[0] = (unsigned char)(0xC0 | (v >> 6));
		out->utf8[1] = (unsigned char)(0x80 | (v & 0x3F));
		out->nutf8 = 2;
	} else if (v < 0x10000) {
		out->utf8[0] = (unsigned char)(0xE0 | (v >> 12));
		out->utf8[1] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
		out->utf8[2] = (unsigned char)(0x80 | (v & 0x3F));
		out->nutf8 = 3;
	} else {
		out->utf8[0] = (unsigned char)(0xF0 | (v >> 18));
		out->utf8[1] = (unsigned char)(0x80 | ((v >> 12) & 0x3F));
		out->utf8[2] = (unsigned char)(0x80 | ((v >> 6) & 0x3F));
		out->utf8[3] = (unsigned char)(0x80 | (v & 0x3F));
		out->nutf8 = 4;
	}
	return 0;
}

/* Parse the escape at ps->pos (a backslash); on success pos is past it. */
static int parse_escape(struct parser *ps, int in_class, struct esc *out)
{
	size_t at = ps->pos;
	int c = peek(ps, 1);

	memset(out, 0, sizeof *out);
	if (c < 0)
		return perr(ps, at, BB_EINVAL, "trailing backslash at end of pattern");
	ps->pos += 2;
	out->kind = ESC_BYTE;
	if (c < 0x80 && (c == '_' || !re_is_word((unsigned)c))) { /* escaped punctuation (and space, _) is itself */
		out->byte = (unsigned)c;
		return 0;
	}
	switch (c) {
	case 'a': out->byte = 7; return 0;
	case 'f': out->byte = '\f'; return 0;
	case 't': out->byte = '\t'; return 0;
	case 'n': out->byte = '\n'; return 0;
	case 'r': out->byte = '\r'; return 0;
	case 'v': out->byte = '\v'; return 0;
	case 'd': case 's': case 'w':
	case 'D': case 'S': case 'W':
		out->kind = ESC_SET;
		cs_perl(&out->set, c | 32);
		if (c < 'a')
			cs_negate(&out->set);
		return 0;
	case 'x': {
		unsigned long v = 0;
		int h;

		if (peek(ps, 0) == '{') {
			size_t digits = 0;

			ps->pos++;
			while ((h = hex_val(peek(ps, 0))) >= 0) {
				if (v <= 0x10FFFF)
					v = v * 16 + (unsigned long)h;
				ps->pos++;
				digits++;
			}
			if (peek(ps, 0) != '}' || digits == 0)
				return perr(ps, at, BB_EINVAL, "invalid escape \\x{...}: expected hex digits and }");
			ps->pos++;
			return esc_codepoint(ps, at, v, in_class, out);
		}
		if (hex_val(peek(ps, 0)) < 0 || hex_val(peek(ps, 1)) < 0)
			return perr(ps, at, BB_EINVAL, "invalid escape \\x: expected two hex digits");
		out->byte = (unsigned)(hex_val(peek(ps, 0)) * 16 + hex_val(peek(ps, 1)));
		ps->pos += 2;
		return 0;
	}
	case '1': case '2': case '3': case '4': case '5': case '6': case '7':
		/* Go: a lone \1..\7 is a backreference; followed by an octal digit it is octal. */
		if (peek(ps, 0) < '0' || peek(ps, 0) > '7')
			return perr(ps, at, BB_EINVAL, "backreference \\%c is not supported", c);
		/* fall through */
	case '0': {
		unsigned long v = (unsigned long)(c - '0');
		int k;

		for (k = 0; k < 2 && peek(ps, 0) >= '0' && peek(ps, 0) <= '7'; k++) {
			v = v * 8 + (unsigned long)(peek(ps, 0) - '0');
			ps->pos++;
		}
		return esc_codepoint(ps, at, v, in_class, out);
	}
	case '8': case '9':
		return perr(ps, at, BB_EINVAL, "backreference \\%c is not supported", c);
	case 'p': case 'P':
		return perr(ps, at, BB_EINVAL, "Unicode class \\%c is not supported (matching is byte-oriented)", c);
	case 'k': case 'g':
		return perr(ps, at, BB_EINVAL, "backreference \\%c is not supported", c);
	case 'Z':
		return perr(ps, at, BB_EINVAL, "\\Z is not supported (use \\z, or $ without (?m))");
	case 'A': case 'z': case 'b': case 'B':
		if (in_class)
			return perr(ps, at, BB_EINVAL, "\\%c is not allowed in a class", c);
		out->kind = ESC_ASSERT;
		out->byte = c == 'A' ? AS_BOT : c == 'z' ? AS_EOT : c == 'b' ? AS_WORDB : AS_NWORDB;
		return 0;
	default:
		if (c >= 0x80)
			return perr(ps, at, BB_EINVAL, "invalid escape of a non-ASCII byte");
		return perr(ps, at, BB_EINVAL, "escape \\%c is not supported", c);
	}
}

/* ---- classes ---- */

static const struct {
	const char *name;
	const char *ranges; /* pairs lo hi */
} posix_classes[] = {
	{ "alnum", "09AZaz" },
	{ "alpha", "AZaz" },
	{ "ascii", "\x01\x7f" }, /* plus NUL, added below */
	{ "blank", "\t\t  " },
	{ "cntrl", "\x01\x1f\x7f\x7f" },
	{ "digit", "09" },
	{ "graph", "!~" },
	{ "lower", "az" },
	{ "print", " ~" },
	{ "punct", "!/:@[`{~" },
	{ "space", "\t\r  " },
	{ "upper", "AZ" },
	{ "word", "09AZaz__" },
	{ "xdigit", "09AFaf" },
};

/* At "[:": 1 and the set added when it is a POSIX class, 0 when not one (the [ is literal), -1 on error. */
static int parse_posix(struct parser *ps, struct re_cset *set)
{
	size_t at = ps->pos, i, end, nlen;
	const unsigned char *name;
	int neg = 0;

	/* Names are short: look no further than [:^xdigit:] could reach (a long scan per [: would be quadratic). */
	for (end = at + 2; end + 1 < ps->len && end < at + 12; end++)
		if (ps->p[end] == ':' && ps->p[end + 1] == ']')
			break;
	if (end + 1 >= ps->len || ps->p[end] != ':' || ps->p[end + 1] != ']')
		return 0;
	name = ps->p + at + 2;
	nlen = end - (at + 2);
	if (nlen > 0 && name[0] == '^') {
		neg = 1;
		name++;
		nlen--;
	}
	for (i = 0; i < sizeof posix_classes / sizeof posix_classes[0]; i++) {
		const char *r = posix_classes[i].ranges;
		struct re_cset s = { { 0 } };

		if (strlen(posix_classes[i].name) != nlen || memcmp(posix_classes[i].name, name, nlen) != 0)
			continue;
		for (; r[0]; r += 2)
			cs_add_range(&s, (unsigned char)r[0], (unsigned char)r[1]);
		if (!strcmp(posix_classes[i].name, "ascii") || !strcmp(posix_classes[i].name, "cntrl"))
			re_cs_add(&s, 0);
		if (neg)
			cs_negate(&s);
		cs_or(set, &s);
		ps->pos = end + 2;
		return 1;
	}
	return perr(ps, at, BB_EINVAL, "unknown POSIX class [:%.*s:]", (int)(end - at - 2), (const char *)ps->p + at + 2);
}

/* One class member: a byte (returned), or a set merged into *set (returns 256); -1 on error. */
static int class_char(struct parser *ps, struct re_cset *set)
{
	struct esc es;
	int c = peek(ps, 0);

	if (c == '\\') {
		if (parse_escape(ps, 1, &es) < 0)
			return -1;
		if (es.kind == ESC_SET) {
			cs_or(set, &es.set);
			return 256;
		}
		return (int)es.byte;
	}
	if (c >= 0x80)
		return perr(ps, ps->pos, BB_EINVAL, "non-ASCII character in a class is not supported (classes match single bytes)");
	ps->pos++;
	return c;
}

static int32_t parse_class(struct parser *ps, unsigned flags)
{
	size_t at = ps->pos;
	struct re_cset set = { { 0 } };
	int neg = 0, first = 1;

	ps->pos++;
	if (peek(ps, 0) == '^') {
		neg = 1;
		ps->pos++;
	}
	for (;;) {
		int lo, hi, r;
		size_t item = ps->pos;

		if (ps->pos >= ps->len)
			return perr(ps, at, BB_EINVAL, "missing closing ] of the class");
		if (peek(ps, 0) == ']' && !first) {
			ps->pos++;
			break;
		}
		first = 0;
		if (peek(ps, 0) == '[' && peek(ps, 1) == ':') {
			r = parse_posix(ps, &set);
			if (r < 0)
				return -1;
			if (r > 0)
				continue;
		}
		lo = class_char(ps, &set);
		if (lo < 0)
			return -1;
		if (lo == 256)
			continue;
		hi = lo;
		if (peek(ps, 0) == '-' && peek(ps, 1) >= 0 && peek(ps, 1) != ']') {
			ps->pos++;
			hi = class_char(ps, &set);
			if (hi < 0)
				return -1;
			if (hi == 256)
				return perr(ps, item, BB_EINVAL, "invalid class range: a class like \\d cannot end a range");
			if (hi < lo)
				return perr(ps, item, BB_EINVAL, "invalid class range %.*s", (int)(ps->pos - item),
					    (const char *)ps->p + item);
		}
		cs_add_range(&set, (unsigned)lo, (unsigned)hi);
	}
	if (flags & RE_ICASE)
		cs_fold(&set);
	if (neg)
		cs_negate(&set);
	return set_node(ps, &set);
}

/* ---- quantifiers ---- */

/* Go's rules for a count: digits, no leading zero; -1 when not a count, capped at 100000. */
static long parse_count(const struct parser *ps, size_t *i)
{
	long v = 0;
	size_t j = *i;

	if (j >= ps->len || ps->p[j] < '0' || ps->p[j] > '9')
		return -1;
	if (ps->p[j] == '0' && j + 1 < ps->len && ps->p[j + 1] >= '0' && ps->p[j + 1] <= '9')
		return -1;
	for (; j < ps->len && ps->p[j] >= '0' && ps->p[j] <= '9'; j++)
		if (v < 100000)
			v = v * 10 + (ps->p[j] - '0');
	*i = j;
	return v;
}

/* A quantifier at offset at: 1 with counts and its end, or 0 (a { that does not form one is a literal). */
static int quant_at(const struct parser *ps, size_t at, long *min, long *max, size_t *end)
{
	size_t i = at + 1;

	if (at >= ps->len)
		return 0;
	switch (ps->p[at]) {
	case '*': *min = 0; *max = -1; *end = i; return 1;
	case '+': *min = 1; *max = -1; *end = i; return 1;
	case '?': *min = 0; *max = 1; *end = i; return 1;
	case '{':
		*min = parse_count(ps, &i);
		if (*min < 0)
			return 0;
		*max = *min;
		if (i < ps->len && ps->p[i] == ',') {
			i++;
			if (i < ps->len && ps->p[i] == '}')
				*max = -1;
			else if ((*max = parse_count(ps, &i)) < 0)
				return 0;
		}
		if (i >= ps->len || ps->p[i] != '}')
			return 0;
		*end = i + 1;
		return 1;
	default:
		return 0;
	}
}

static int32_t parse_quant(struct parser *ps, int32_t atom, unsigned flags)
{
	size_t at = ps->pos, end, end2;
	long min, max, m2, x2;
	int32_t rep;
	int greedy = 1;

	while (quant_at(ps, at = ps->pos, &min, &max, &end)) {
		if (min > RE_MAX_REPEAT || max > RE_MAX_REPEAT)
			return perr(ps, at, BB_ETOOBIG, "repeat count %.*s exceeds the maximum of %d",
				    (int)(end - at), (const char *)ps->p + at, RE_MAX_REPEAT);
		if (max >= 0 && min > max)
			return perr(ps, at, BB_EINVAL, "invalid repeat count %.*s (min above max)", (int)(end - at),
				    (const char *)ps->p + at);
		ps->pos = end;
		greedy = 1;
		if (peek(ps, 0) == '?') {
			greedy = 0;
			ps->pos++;
		}
		if (flags & RE_UNGREEDY)
			greedy = !greedy;
		if (quant_at(ps, ps->pos, &m2, &x2, &end2)) {
			if (ps->p[ps->pos] == '+' && ps->p[ps->pos - 1] != '?')
				return perr(ps, at, BB_EINVAL, "possessive quantifier %.*s is not supported",
					    (int)(end2 - at), (const char *)ps->p + at);
			return perr(ps, at, BB_EINVAL, "nested repetition operator %.*s (use a group: (?:x*)*)",
				    (int)(end2 - at), (const char *)ps->p + at);
		}
		rep = new_node(ps, N_REP);
		if (rep < 0)
			return -1;
		ps->nodes[rep].child = atom;
		ps->nodes[rep].min = (int32_t)min;
		ps->nodes[rep].max = (int32_t)max;
		ps->nodes[rep].greedy = (uint8_t)greedy;
		atom = rep;
	}
	return atom;
}

/* ---- groups and atoms ---- */

static int32_t parse_alt(struct parser *ps, unsigned flags, unsigned depth);

/* (?flags) or (?flags: at ps->pos; sets *flags, returns the terminator ')' or ':', -1 on error. */
static int parse_flags(struct parser *ps, unsigned *flags)
{
	size_t at = ps->pos, i = ps->pos + 2;
	unsigned f = *flags, bit;
	int neg = 0, saw = 0;

	for (;; i++) {
		int c = i < ps->len ? ps->p[i] : -1;

		switch (c) {
		case 'i': bit = RE_ICASE; break;
		case 'm': bit = RE_MULTILINE; break;
		case 's': bit = RE_DOTNL; break;
		case 'U': bit = RE_UNGREEDY; break;
		case '-':
			if (neg)
				return perr(ps, at, BB_EINVAL, "invalid flags: two -");
			neg = 1;
			saw = 0;
			continue;
		case ':':
		case ')':
			if (neg && !saw)
				return perr(ps, at, BB_EINVAL, "invalid flags: missing flag after -");
			*flags = f;
			ps->pos = i + 1;
			return c;
		case -1:
			return perr(ps, at, BB_EINVAL, "missing closing ) of the group");
		default:
			if (c >= 0x21 && c < 0x7f)
				return perr(ps, at, BB_EINVAL, "unknown group flag (?...%c", c);
			return perr(ps, at, BB_EINVAL, "unknown group flag (?... byte 0x%02x", (unsigned)c);
		}
		if (neg)
			f &= ~bit;
		else
			f |= bit;
		saw = 1;
	}
}

static int32_t parse_group(struct parser *ps, unsigned *flags, unsigned depth)
{
	size_t at = ps->pos;
	unsigned gflags = *flags, capno = 0;
	int c2 = peek(ps, 2), c3 = peek(ps, 3), capture = 1;
	int32_t body, cap;

	if (depth + 1 > RE_MAX_DEPTH)
		return perr(ps, at, BB_ETOOBIG, "groups nested deeper than %d", RE_MAX_DEPTH);
	if (peek(ps, 1) != '?') {
		ps->pos++;
	} else if (c2 == '=' || c2 == '!') {
		return perr(ps, at, BB_EINVAL, "%s (?%c is not supported", c2 == '=' ? "lookahead" : "negative lookahead", c2);
	} else if (c2 == '<' && (c3 == '=' || c3 == '!')) {
		return perr(ps, at, BB_EINVAL, "%s (?<%c is not supported", c3 == '=' ? "lookbehind" : "negative lookbehind", c3);
	} else if (c2 == '<' || (c2 == 'P' && c3 == '<')) {
		size_t i = ps->pos + (c2 == '<' ? 3 : 4), name = i;

		while (i < ps->len && ps->p[i] != '>') {
			if (!re_is_word(ps->p[i]))
				return perr(ps, at, BB_EINVAL, "invalid group name: only letters, digits and _ are allowed");
			i++;
		}
		if (i >= ps->len)
			return perr(ps, at, BB_EINVAL, "missing > after the group name");
		if (i == name)
			return perr(ps, at, BB_EINVAL, "empty group name");
		ps->pos = i + 1;
	} else if (c2 == 'P') {
		if (c3 == '=')
			return perr(ps, at, BB_EINVAL, "named backreference (?P= is not supported");
		if (c3 == '>')
			return perr(ps, at, BB_EINVAL, "recursion (?P> is not supported");
		return perr(ps, at, BB_EINVAL, "invalid named group: expected (?P<name>");
	} else if (c2 == '>') {
		return perr(ps, at, BB_EINVAL, "atomic group (?> is not supported");
	} else if (c2 == '#') {
		return perr(ps, at, BB_EINVAL, "comment group (?# is not supported");
	} else if (c2 == '|') {
		return perr(ps, at, BB_EINVAL, "branch reset group (?| is not supported");
	} else if (c2 == '(') {
		return perr(ps, at, BB_EINVAL, "conditional group (?( is not supported");
	} else if (c2 == 'R' || c2 == '&' || c2 == '+' || (c2 >= '0' && c2 <= '9')) {
		return perr(ps, at, BB_EINVAL, "recursion (?%c is not supported", c2);
	} else {
		int t = parse_flags(ps, &gflags);

		if (t < 0)
			return -1;
		if (t == ')') {
			*flags = gflags; /* (?i): to the end of the enclosing group */
			return NO_ATOM;
		}
		capture = 0;
	}
	if (capture)
		capno = ++ps->ncap;
	body = parse_alt(ps, gflags, depth + 1);
	if (body < 0)
		return -1;
	if (peek(ps, 0) != ')')
		return perr(ps, at, BB_EINVAL, "missing closing ) of the group");
	ps->pos++;
	if (!capture)
		return body;
	cap = new_node(ps, N_CAP);
	if (cap < 0)
		return -1;
	ps->nodes[cap].child = body;
	ps->nodes[cap].x = capno;
	return cap;
}

static int32_t parse_atom(struct parser *ps, unsigned *flags, unsigned depth)
{
	size_t at = ps->pos;
	int c = ps->p[ps->pos];
	long a, b;
	size_t end;
	struct esc es;
	int32_t n;

	switch (c) {
	case '(':
		return parse_group(ps, flags, depth);
	case '[':
		return parse_class(ps, *flags);
	case '.':
		ps->pos++;
		return new_node(ps, (*flags & RE_DOTNL) ? N_ANY : N_ANYNL);
	case '^':
	case '$':
		ps->pos++;
		n = new_node(ps, N_ASSERT);
		if (n >= 0)
			ps->nodes[n].arg = (uint8_t)(c == '^' ? ((*flags & RE_MULTILINE) ? AS_BOL : AS_BOT)
							       : ((*flags & RE_MULTILINE) ? AS_EOL : AS_EOT));
		return n;
	case '*':
	case '+':
	case '?':
		return perr(ps, at, BB_EINVAL, "missing argument to repetition operator %c", c);
	case '{':
		if (quant_at(ps, at, &a, &b, &end))
			return perr(ps, at, BB_EINVAL, "missing argument to repetition operator %.*s", (int)(end - at),
				    (const char *)ps->p + at);
		ps->pos++;
		return byte_node(ps, '{', *flags);
	case '\\':
		if (parse_escape(ps, 0, &es) < 0)
			return -1;
		switch (es.kind) {
		case ESC_SET:
			if (*flags & RE_ICASE)
				cs_fold(&es.set);
			return set_node(ps, &es.set);
		case ESC_ASSERT:
			n = new_node(ps, N_ASSERT);
			if (n >= 0)
				ps->nodes[n].arg = (uint8_t)es.byte;
			return n;
		case ESC_UTF8:
			return bytes_node(ps, es.utf8, es.nutf8, *flags);
		default:
			return byte_node(ps, es.byte, *flags);
		}
	default: {
		uint32_t cp;
		size_t k = utf8_decode(ps->p + at, ps->len - at, &cp);

		if (k == 0)
			k = 1; /* not a valid UTF-8 sequence: the byte alone */

		ps->pos += k;
		return bytes_node(ps, ps->p + at, k, *flags);
	}
	}
}

static int32_t parse_cat(struct parser *ps, unsigned *flags, unsigned depth)
{
	int32_t cat = new_node(ps, N_CAT), atom;

	if (cat < 0)
		return -1;
	while (ps->pos < ps->len && ps->p[ps->pos] != '|' && ps->p[ps->pos] != ')') {
		if (ps->p[ps->pos] == '\\' && peek(ps, 1) == 'Q') {
			/* \Q...\E: literal text; a quantifier after it applies to the last byte, as in Go. */
			size_t i = ps->pos + 2, last = 0;
			int any = 0;

			for (; i < ps->len && !(ps->p[i] == '\\' && i + 1 < ps->len && ps->p[i + 1] == 'E'); i++) {
				if (any) {
					atom = byte_node(ps, ps->p[last], *flags);
					if (atom < 0)
						return -1;
					append(ps, cat, atom);
				}
				last = i;
				any = 1;
			}
			ps->pos = i < ps->len ? i + 2 : i;
			if (!any)
				continue;
			atom = byte_node(ps, ps->p[last], *flags);
		} else {
			atom = parse_atom(ps, flags, depth);
			if (atom == NO_ATOM)
				continue;
		}
		if (atom < 0)
			return -1;
		atom = parse_quant(ps, atom, *flags);
		if (atom < 0)
			return -1;
		append(ps, cat, atom);
	}
	return cat;
}

/* Alternatives up to a ) or the end; flags set inside with (?i) reach the later alternatives too, as in Go. */
static int32_t parse_alt(struct parser *ps, unsigned flags, unsigned depth)
{
	int32_t alt = new_node(ps, N_ALT), cat;

	if (alt < 0)
		return -1;
	for (;;) {
		cat = parse_cat(ps, &flags, depth);
		if (cat < 0)
			return -1;
		append(ps, alt, cat);
		if (peek(ps, 0) != '|')
			break;
		ps->pos++;
	}
	if (ps->nodes[alt].child == ps->nodes[alt].last)
		return ps->nodes[alt].child;
	return alt;
}

/* ---- public ---- */

int re_compile(const char *pat, size_t len, unsigned flags, struct re **out, struct bb_err *e)
{
	struct parser ps;
	struct re *re = NULL;
	int32_t root;
	unsigned groups;
	int i;

	*out = NULL;
	if (len > RE_MAX_PATTERN)
		return bb_errf(e, BB_ETOOBIG, "regex offset %d: pattern longer than %d bytes", RE_MAX_PATTERN, RE_MAX_PATTERN);
	memset(&ps, 0, sizeof ps);
	ps.p = (const unsigned char *)pat;
	ps.len = len;
	ps.e = e;
	for (i = 0; i < 26; i++)
		ps.foldcls[i] = -1;
	root = parse_alt(&ps, flags & (RE_ICASE | RE_DOTNL | RE_MULTILINE | RE_UNGREEDY), 0);
	if (root < 0)
		goto fail;
	if (ps.pos < ps.len) { /* only a ) stops the top level early */
		perr(&ps, ps.pos, BB_EINVAL, "unmatched )");
		goto fail;
	}
	re = calloc(1, sizeof *re);
	if (!re || !(re->lit = malloc(256))) {
		bb_errno(e, ENOMEM, "regex: out of memory");
		goto fail;
	}
	re->flags = flags;
	re->ngroups = ps.ncap;
	groups = ps.ncap + 1 < RE_MATCH_GROUPS ? ps.ncap + 1 : RE_MATCH_GROUPS;
	re->nslots = 2 * groups;
	if (re_prog_compile(ps.nodes, root, re->nslots, 0, &re->fwd, e) < 0 ||
	    re_prog_compile(ps.nodes, root, 0, 1, &re->rev, e) < 0)
		goto fail;
	re_prog_literal(ps.nodes, ps.cls, root, re);
	if (re->litlen < 256) { /* room for the longest literal was made; keep what it took */
		char *fit = realloc(re->lit, re->litlen + 1);

		if (fit)
			re->lit = fit;
	}
	if (ps.ncls && ps.ncls < ps.capcls) {
		struct re_cset *fit = realloc(ps.cls, ps.ncls * sizeof *fit);

		if (fit)
			ps.cls = fit;
	}
	re->cls = ps.cls;
	re->ncls = ps.ncls;
	ps.cls = NULL;
	re->maxlen = re_longest_match(re);
	re_byte_classes(re);
	if (re_pike_reserve(re, e) < 0)
		goto fail;
	re->mem += sizeof *re + re->litlen + 1 + (re->fwd.n + re->rev.n) * sizeof(struct re_inst) + re->ncls * sizeof(struct re_cset);
	re->dfa_off = (flags & RE_NODFA) != 0;
	free(ps.nodes);
	*out = re;
	return 0;
fail:
	free(ps.nodes);
	free(ps.cls);
	re_free(re);
	return -1;
}

void re_free(struct re *re)
{
	if (!re)
		return;
	re_pike_release(re);
	re_dfa_free(re);
	free(re->fwd.inst);
	free(re->rev.inst);
	free(re->cls);
	free(re->lit);
	free(re);
}

unsigned re_ngroups(const struct re *re)
{
	return re->ngroups;
}

size_t re_memory(const struct re *re)
{
	return re->mem + re_dfa_memory(re);
}

int re_required_literal(const struct re *re, const char **lit, size_t *len, int *nocase)
{
	*lit = re->lit;
	*len = re->litlen;
	*nocase = re->litnocase;
	return re->litlen > 0;
}
