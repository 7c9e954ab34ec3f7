/* test_re.c - unit tests of lib/re (syntax, semantics, errors, caps, linear time, gitleaks rules); also --match and --bench modes. */
/*
 * The C library's regex, for --vs-libc. glibc's <regex.h> (with _GNU_SOURCE)
 * also declares a GNU re_search and an RE_ICASE macro, which lib/re.h
 * names too: its re_search is renamed here and the macro dropped.
 */
#define re_search glibc_re_search
#include <regex.h>
#undef re_search
#undef RE_ICASE
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ac.h"
#include "buf.h"
#include "fd.h"
#include "re.h"
#include "t.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng_state = 88172645463325252ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Spans as "s,e s,e -" ("-" for an unset group), or "nomatch". */
static void fmt_match(const struct re *re, const char *s, size_t n, size_t start, char *out, size_t cap)
{
	struct re_match m;
	size_t len = 0;
	unsigned g;

	if (!re_search(re, s, n, start, &m)) {
		snprintf(out, cap, "nomatch");
		return;
	}
	out[0] = 0;
	for (g = 0; g < m.ngroups && len < cap; g++) {
		if (m.group[g].start == RE_NOPOS)
			len += (size_t)snprintf(out + len, cap - len, "%s-", g ? " " : "");
		else
			len += (size_t)snprintf(out + len, cap - len, "%s%zu,%zu", g ? " " : "", m.group[g].start,
						m.group[g].end);
	}
}

/* Result of pat on s[0..n) from start; DFA and Pike VM must agree. "error: MSG" when it does not compile. */
static const char *run_at(const char *pat, unsigned flags, const char *s, size_t n, size_t start)
{
	static char a[BB_ERR_MSG_MAX + 64], b[BB_ERR_MSG_MAX + 64];
	struct re *re = NULL, *nfa = NULL;
	struct bb_err e = { 0 };

	if (re_compile(pat, strlen(pat), flags, &re, &e) < 0) {
		snprintf(a, sizeof a, "error: %s", e.msg);
		return a;
	}
	if (re_compile(pat, strlen(pat), flags | RE_NODFA, &nfa, &e) < 0) {
		snprintf(a, sizeof a, "error (NFA only): %s", e.msg);
		re_free(re);
		return a;
	}
	fmt_match(re, s, n, start, a, sizeof a);
	fmt_match(nfa, s, n, start, b, sizeof b);
	if (strcmp(a, b) != 0) {
		printf("#   /%s/ on '%.*s': DFA path %s, Pike VM %s\n", pat, (int)n, s, a, b);
		t_failed_case = 1;
	}
	if (re_search(re, s, n, start, NULL) != (strcmp(a, "nomatch") != 0) ||
	    re_search(nfa, s, n, start, NULL) != (strcmp(a, "nomatch") != 0)) {
		printf("#   /%s/ on '%.*s': re_search(NULL) disagrees with %s\n", pat, (int)n, s, a);
		t_failed_case = 1;
	}
	re_free(re);
	re_free(nfa);
	return a;
}

#define M(pat, subj, want) T_STREQ(run_at((pat), 0, (subj), strlen(subj), 0), (want))
#define MF(pat, fl, subj, want) T_STREQ(run_at((pat), (fl), (subj), strlen(subj), 0), (want))

/* Expect pat to be refused with code and a message that starts with want. */
static void expect_error(const char *pat, size_t patlen, int code, const char *want)
{
	struct re *re = NULL;
	struct bb_err e = { 0 };

	if (re_compile(pat, patlen, 0, &re, &e) == 0) {
		printf("#   /%.*s/ compiled; expected error '%s'\n", (int)(patlen > 80 ? 80 : patlen), pat, want);
		t_failed_case = 1;
		re_free(re);
		return;
	}
	T_CHECK(re == NULL);
	if (e.code != code || strncmp(e.msg, want, strlen(want)) != 0) {
		printf("#   /%.*s/: got code %d '%s', expected %d '%s'\n", (int)(patlen > 80 ? 80 : patlen), pat, e.code,
		       e.msg, code, want);
		t_failed_case = 1;
	}
}

#define E(pat, want) expect_error((pat), strlen(pat), BB_EINVAL, (want))

static void literals_and_escapes(void)
{
	M("abc", "xxabcxx", "2,5");
	M("a\\.c", "abc a.c", "4,7");
	M("\\-\\/\\\\", "x-/\\y", "1,4");
	M("\\t\\n\\r\\f\\v\\a", "\t\n\r\f\v\a", "0,6");
	M("\\x41\\x{42}\\103", "zABC", "1,4");
	M("\\Qa.b*\\E+", "a.b**", "0,5");
	M("\\Q(x)", "(x)", "0,3");
	M("\\ \\_\\#", " _#", "0,3");
	M("a\\x{263a}+", "a\xe2\x98\xba\xe2\x98\xba", "0,7");
	M("\xc3\xa9+", "\xc3\xa9\xc3\xa9", "0,4"); /* a quantifier repeats the whole UTF-8 character */
	/* Bytes that are not UTF-8 (an encoded surrogate, an overlong form) are each a byte: the quantifier takes the last. */
	M("\xed\xa0\x80+", "\xed\xa0\x80\x80\xed", "0,4");
	M("\xe0\x80\xaf+", "\xe0\x80\xaf\xaf", "0,4");
	M("a.b", "a\xc3\xa9" "b", "nomatch");   /* . is one byte */
	M("a..b", "a\xc3\xa9" "b", "0,4");
	M("\\xa9", "\xc3\xa9", "1,2");          /* \xHH is a byte */
	T_STREQ(run_at("\\x00b", 0, "a\0b", 3, 0), "1,3");
	{
		/* A NUL inside the pattern is a literal byte. */
		struct re *re = NULL;
		struct re_match m;
		struct bb_err e = { 0 };

		T_CHECK(re_compile("a\0b", 3, 0, &re, &e) == 0);
		T_CHECK(re && re_search(re, "xa\0b", 4, 0, &m) == 1 && m.group[0].start == 1 && m.group[0].end == 4);
		T_CHECK(re && re_search(re, "xa", 2, 0, &m) == 0);
		re_free(re);
	}
	T_STREQ(run_at("[^a]", 0, "a\0", 2, 0), "1,2");
}

static void dot_and_classes(void)
{
	M("a.c", "a\nc abc", "4,7");
	M("(?s)a.c", "a\nc", "0,3");
	MF("a.c", RE_DOTNL, "a\nc", "0,3");
	M("[a-c]+", "xxabcd", "2,5");
	M("[^a-c]+", "abcxyz", "3,6");
	M("[^a]", "\n", "0,1"); /* negated classes match newline, as in Go */
	M("[\\w.-]+", "  foo.bar-baz!", "2,13");
	M("[]a]+", "x]a]", "1,4");
	M("[^]a]", "]ab", "2,3");
	M("[a-]+", "x-a-", "1,4");
	M("[a-b-c]+", "x-abc", "1,5");
	M("[+-/]+", "a+,-./b", "1,6");
	M("[\\d\\s]+", "ab1 2\tc", "2,6");
	M("[\\x41-\\x43]+", "ABCD", "0,3");
	M("[[:alpha:]]+", "12ab34", "2,4");
	M("[[:^digit:]]+", "12ab34", "2,4");
	M("[[:xdigit:]]+", "xyzBEEFg", "3,7");
	M("[[:punct:][:space:]]+", "a!? b", "1,4");
	M("[[:a]+", "x[:a", "1,4"); /* not a POSIX class: [ and : are members */
	M("(?i)[a-c]+", "xABCd", "1,4");
	M("(?i)[^a]", "Aab", "2,3");
	M("\\d+", "ab123c", "2,5");
	M("\\D+", "12ab3", "2,4");
	M("\\w+", "  a_1 ", "2,5");
	M("\\W+", "ab, c", "2,4");
	M("\\s+", "a \t\n\f\rb", "1,6");
	M("\\s", "\v", "nomatch"); /* Go's \s has no \v */
	M("\\S+", " ab ", "1,3");
	M("[\\s|']+", "a |'b", "1,4");
}

static void anchors_and_boundaries(void)
{
	M("^abc", "abc", "0,3");
	M("^abc", "xabc", "nomatch");
	M("abc$", "abc\n", "nomatch"); /* $ is the end of the text, not before a final newline */
	M("(?m)abc$", "abc\n", "0,3");
	M("(?m)^b", "a\nb", "2,3");
	M("^b", "a\nb", "nomatch");
	MF("^b", RE_MULTILINE, "a\nb", "2,3");
	M("\\Aa", "a", "0,1");
	M("a\\z", "a\n", "nomatch");
	M("(?m)\\Ab", "a\nb", "nomatch");
	M("(?m)^$", "a\n\nb", "2,2");
	M("(?m)^", "", "0,0");
	M("$", "ab", "2,2");
	M("(?m)$", "a\nb", "1,1");
	M("(?m)^x$", "a\nx\nb", "2,3");
	M("\\bfoo\\b", "afoo foo", "5,8");
	M("\\Bfoo", "foo afoo", "5,8");
	M("\\b", "  ", "nomatch");
	M("\\B", "  ", "0,0");
	M("\\b", "ab", "0,0");
	M("o\\b", "foo", "2,3");
	M("\\b.\\b", "ab c", "2,3");
	M("^$", "", "0,0");
	M("x*$", "ab", "2,2");
}

static void captures_leftmost_first(void)
{
	M("a|ab", "ab", "0,1");
	M("ab|a", "ab", "0,2");
	M("(a|ab)(c|bcd)(d*)", "abcd", "0,4 0,1 1,4 4,4");
	M("(a+)(b+)?", "aac", "0,2 0,2 -");
	M("(?:a(b))+", "ababx", "0,4 3,4");
	M("(?P<x>a)(?<y>b)", "ab", "0,2 0,1 1,2");
	M("(a)|(b)", "b", "0,1 - 0,1");
	M("x*", "abc", "0,0");
	M("", "abc", "0,0");
	M("()", "", "0,0 0,0");
	M("(a*)+", "b", "0,0 0,0");
	M("(a*)*", "b", "0,0 0,0");
	M("(a*)*", "aab", "0,2 0,2");
	M("(a|b)*c", "abac", "0,4 2,3");
	M("(.*)=(.*)", "k=v=w", "0,5 0,3 4,5");
	M("(.*?)=(.*)", "k=v=w", "0,5 0,1 2,5");
	M("(a)(b)?(c)?", "ac", "0,2 0,1 - 1,2");
	M("a(b|bc)c?d", "abcd", "0,4 1,2");
	M("(foo|foobar)baz", "foobarbaz", "0,9 0,6");
	M("||a", "a", "0,0");
	M("(a|)+b", "aab", "0,3 1,2");
	{
		/* More groups than RE_MATCH_GROUPS: the first ones are reported. */
		struct re *re;
		struct re_match m;
		struct bb_err e = { 0 };
		const char *p = "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)(m)(n)(o)(p)(q)(r)(s)(t)";

		T_CHECK(re_compile(p, strlen(p), 0, &re, &e) == 0);
		T_CHECK(re_ngroups(re) == 20);
		T_CHECK(re_search(re, "abcdefghijklmnopqrst", 20, 0, &m) == 1);
		T_CHECK(m.ngroups == RE_MATCH_GROUPS);
		T_CHECK(m.group[15].start == 14 && m.group[15].end == 15);
		re_free(re);
	}
}

static void quantifiers(void)
{
	M("a+?", "aaa", "0,1");
	M("a*?", "aaa", "0,0");
	M("a??b", "ab", "0,2");
	M("a{2,3}", "aaaa", "0,3");
	M("a{2,3}?", "aaaa", "0,2");
	M("a{2}", "a aa", "2,4");
	M("a{2,}", "aaaaa", "0,5");
	M("a{2,}?", "aaaaa", "0,2");
	M("a{0}b", "ab", "1,2");
	M("a{,3}", "a{,3}", "0,5");   /* not a repeat in Go: literal */
	M("a{1", "a{1", "0,3");
	M("a{01}", "a{01}", "0,5");   /* Go: no leading zeros */
	M("x{", "x{", "0,2");
	M("(ab){2}", "ababab", "0,4 2,4");
	M("(a|b){3,}?c", "ababc", "0,5 3,4");
	M("[a-z]{3,5}", "ab abcdefg", "3,8");
	M("(?:ab){1,2}?c", "ababc", "0,5");
	M("a{1000}", "aaa", "nomatch");
	M("^(a?){3}a{3}$", "aaa", "0,3 0,0");
}

static void flags(void)
{
	M("(?i)abc", "xABC", "1,4");
	M("a(?i)b", "AB aB", "3,5");
	M("(?i:a)b", "Ab AB", "0,2");
	M("(?i)a(?-i)b", "AB Ab", "3,5");
	M("(?i)a(?-i:b)c", "ABC AbC", "4,7");
	M("a(?i)b|c", "C", "0,1"); /* (?i) reaches later alternatives of its group */
	M("(a(?i)b)|c", "C", "nomatch");
	M("(?U)a+", "aaa", "0,1");
	M("(?U)a+?", "aaa", "0,3");
	M("(?s:.)", "\n", "0,1");
	M("(?m:^b)", "a\nb", "2,3");
	M("(?i-s:a.)", "A\nAb", "2,4");
	M("(?i)\\x41", "a", "0,1");
	M("(?i)[[:upper:]]+", "aB", "0,2");
	M("(?)a", "a", "0,1");
	MF("abc", RE_ICASE, "ABC", "0,3");
	MF("a+", RE_UNGREEDY, "aaa", "0,1");
	MF("(?-i)abc", RE_ICASE, "ABC", "nomatch");
}

static void errors_name_offsets(void)
{
	E("abc(?=x)", "regex offset 3: lookahead (?= is not supported");
	E("(?!x)", "regex offset 0: negative lookahead (?! is not supported");
	E("a(?<=x)", "regex offset 1: lookbehind (?<= is not supported");
	E("(?<!x)", "regex offset 0: negative lookbehind (?<! is not supported");
	E("(a)\\1", "regex offset 3: backreference \\1 is not supported");
	E("\\8", "regex offset 0: backreference \\8");
	E("(?P<n>a)(?P=n)", "regex offset 8: named backreference (?P= is not supported");
	E("a**", "regex offset 1: nested repetition operator **");
	E("a*+", "regex offset 1: possessive quantifier *+ is not supported");
	E("a{2}+", "regex offset 1: possessive quantifier {2}+");
	E("a+?+", "regex offset 1: nested repetition operator +?+");
	E("a{5,3}", "regex offset 1: invalid repeat count {5,3}");
	E("x(abc", "regex offset 1: missing closing ) of the group");
	E("abc)", "regex offset 3: unmatched )");
	E("x[abc", "regex offset 1: missing closing ] of the class");
	E("*a", "regex offset 0: missing argument to repetition operator *");
	E("a|+", "regex offset 2: missing argument to repetition operator +");
	E("(?i)*", "regex offset 4: missing argument to repetition operator *");
	E("{2}", "regex offset 0: missing argument to repetition operator {2}");
	E("\\p{L}", "regex offset 0: Unicode class \\p is not supported");
	E("[\\pL]", "regex offset 1: Unicode class \\p");
	E("x[z-a]", "regex offset 2: invalid class range z-a");
	E("[a-\\d]", "regex offset 1: invalid class range");
	E("(?x)a", "regex offset 0: unknown group flag (?...x");
	E("(?i-)a", "regex offset 0: invalid flags: missing flag after -");
	E("a\\Z", "regex offset 1: \\Z is not supported");
	E("ab\\", "regex offset 2: trailing backslash");
	E("\\G", "regex offset 0: escape \\G is not supported");
	E("(?<>a)", "regex offset 0: empty group name");
	E("(?P<a-b>x)", "regex offset 0: invalid group name");
	E("(?>a)", "regex offset 0: atomic group (?> is not supported");
	E("[[:foo:]]", "regex offset 1: unknown POSIX class [:foo:]");
	E("[\xc3\xa9]", "regex offset 1: non-ASCII character in a class");
	E("[\\x{100}]", "regex offset 1: code point above 0xFF in a class");
	E("\\x4", "regex offset 0: invalid escape \\x");
	E("[\\b]", "regex offset 1: \\b is not allowed in a class");
	expect_error("a{1001}", 7, BB_ETOOBIG, "regex offset 1: repeat count {1001} exceeds the maximum of 1000");
	expect_error("a{2,1001}", 9, BB_ETOOBIG, "regex offset 1: repeat count {2,1001} exceeds");
	expect_error("a{99999999999}", 14, BB_ETOOBIG, "regex offset 1: repeat count");
	{
		/* Nesting: RE_MAX_DEPTH groups are fine, one more is refused. */
		char p[2 * RE_MAX_DEPTH + 8];
		struct re *re = NULL;
		struct bb_err e = { 0 };
		size_t i, n = 0;

		for (i = 0; i < RE_MAX_DEPTH; i++)
			p[n++] = '(';
		p[n++] = 'a';
		for (i = 0; i < RE_MAX_DEPTH; i++)
			p[n++] = ')';
		T_CHECK(re_compile(p, n, 0, &re, &e) == 0);
		re_free(re);
		memmove(p + 1, p, n);
		p[0] = '(';
		p[n + 1] = ')';
		expect_error(p, n + 2, BB_ETOOBIG, "regex offset 250: groups nested deeper than 250");
	}
}

static void size_caps(void)
{
	double t0 = now();
	struct re *re = NULL;
	struct bb_err e = { 0 };
	struct buf big = BUF_INIT(1 << 20);
	const char *ok = "[a-z]{1000}";
	int i;

	expect_error("(a{1000}){1000}", 15, BB_ETOOBIG, "regex too large: more than 65536 instructions");
	expect_error("((((a{1000}){1000}){1000}){1000}){1000}", 38, BB_ETOOBIG, "regex too large");
	expect_error("(?:a{0,1000}){0,1000}", 21, BB_ETOOBIG, "regex too large");
	/* Repeats of pieces that compile to nothing still cost time: bounded too. */
	expect_error("(?:(?:a{0}a{0}a{0}a{0}){1000}){1000}", 36, BB_ETOOBIG, "regex too large: counted repeats");
	expect_error("(?:(?:(?:)*){1000}){1000}", 25, BB_ETOOBIG, "regex too large");
	for (i = 0; i < 20000; i++)
		buf_append_str(&big, "[[:", NULL);
	expect_error(big.p, big.len, BB_EINVAL, "regex offset 0: missing closing ]");
	buf_reset(&big);
	T_CHECK(now() - t0 < 1.0);
	T_CHECK(re_compile(ok, strlen(ok), 0, &re, &e) == 0);
	T_CHECK(re && re_memory(re) > 0 && re_memory(re) < 4 << 20);
	re_free(re);
	/* Many capture slots times many instructions: the thread-state cap. */
	buf_append_str(&big, "(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)(k)(l)(m)(n)(o)", NULL);
	for (i = 0; i < 40; i++)
		buf_append_str(&big, "[a-z]{1000}", NULL);
	expect_error(big.p, big.len, BB_ETOOBIG, "regex too large: ");
	buf_reset(&big);
	for (i = 0; i < RE_MAX_PATTERN + 1; i++)
		buf_append_byte(&big, 'a', NULL);
	expect_error(big.p, big.len, BB_ETOOBIG, "regex offset 65536: pattern longer than 65536 bytes");
	buf_free(&big);
}

/* Seconds to search pattern over subject with flags. */
static double time_search(const char *pat, unsigned flags, const char *s, size_t n, int *found)
{
	struct re *re = NULL;
	struct bb_err e = { 0 };
	struct re_match m;
	double t0;

	if (re_compile(pat, strlen(pat), flags, &re, &e) < 0) {
		printf("#   /%s/: %s\n", pat, e.msg);
		t_failed_case = 1;
		return 0;
	}
	t0 = now();
	*found = re_search(re, s, n, 0, &m);
	t0 = now() - t0;
	re_free(re);
	return t0;
}

static void pathological_patterns_are_linear(void)
{
	static const struct {
		const char *pat;
		char fill;
		int found;
	} c[] = {
		{ "(a*)*b", 'a', 0 },       { "(a|a)*b", 'a', 0 },  { "(x+x+)+y", 'x', 0 },  { "(a|aa)*c", 'a', 0 },
		{ "(.*)*x", 'a', 0 },       { "(a+)+$", 'a', 1 },   { "^(a?){30}a{30}$", 'a', 0 },
		{ "(?:a*)*a*a*a*a*b", 'a', 0 }, { "(\\w+\\s?)+$", 'a', 1 }, { "(a|b|ab)*c", 'a', 0 },
	};
	size_t n = 30000, i;
	char *s = malloc(n);
	unsigned mode;
	int found;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		memset(s, c[i].fill, n);
		for (mode = 0; mode < 2; mode++) {
			double t = time_search(c[i].pat, mode ? RE_NODFA : 0, s, n, &found);

			if (t >= 1.0 || found != c[i].found) {
				printf("#   /%s/ on %zu x '%c'%s: %.3f s, found %d\n", c[i].pat, n, c[i].fill,
				       mode ? " (Pike VM)" : "", t, found);
				t_failed_case = 1;
			}
		}
	}
	free(s);
}

static void search_from_offset(void)
{
	struct re *re = NULL;
	struct re_match m;
	struct bb_err e = { 0 };
	const char *s = "1 22 333";
	size_t pos = 0, count = 0;

	T_STREQ(run_at("\\bb", 0, "ab b", 4, 1), "3,4"); /* the byte before start is context */
	T_STREQ(run_at("^a", 0, "aa", 2, 1), "nomatch");
	T_STREQ(run_at("(?m)^a", 0, "b\na", 3, 2), "2,3");
	T_STREQ(run_at("a", 0, "aaa", 3, 3), "nomatch");
	T_STREQ(run_at("a*", 0, "aaa", 3, 3), "3,3");
	T_STREQ(run_at("a", 0, "aaa", 3, 4), "nomatch");
	T_CHECK(re_compile("\\d+", 3, 0, &re, &e) == 0);
	while (re_search(re, s, strlen(s), pos, &m)) {
		count++;
		pos = m.group[0].end;
	}
	T_CHECK(count == 3 && pos == 8);
	re_free(re);
}

static void required_literal(void)
{
	static const struct {
		const char *pat, *lit;
		int nocase;
	} c[] = {
		{ "foo\\d+bar", "foo", 0 },   { "(?i)secret_[a-z]+", "secret_", 1 }, { "a|b", "", 0 },
		{ "x(abc)+y", "abc", 0 },     { "ab(cd)ef", "abcdef", 0 },           { "Key(?i)ab", "keyab", 1 },
		{ "[a-z]{3}", "", 0 },        { "a?bc", "bc", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct re *re = NULL;
		struct bb_err e = { 0 };
		const char *lit;
		size_t len;
		int nocase, has;

		T_CHECK(re_compile(c[i].pat, strlen(c[i].pat), 0, &re, &e) == 0);
		if (!re)
			continue;
		has = re_required_literal(re, &lit, &len, &nocase);
		if (has != (c[i].lit[0] != 0) || len != strlen(c[i].lit) || memcmp(lit, c[i].lit, len) != 0 ||
		    (has && nocase != c[i].nocase)) {
			printf("#   /%s/: literal '%.*s' nocase %d, expected '%s' %d\n", c[i].pat, (int)len, lit, nocase,
			       c[i].lit, c[i].nocase);
			t_failed_case = 1;
		}
		re_free(re);
	}
}

/* The DFA path and the Pike VM agree on many small random subjects. */
static void dfa_agrees_with_pike_vm(void)
{
	static const char *pats[] = {
		"a+b", "(a|b)*abb", "\\bab\\b", "(?m)^a.$", "(a*)(b*)", "a{2,4}?b", "[^a]b|ab", "(?i)AB|ba",
		"a\\B.", "(a|ab)(c|bcd)?", "b$", "^a|b", "(?s)a.b", "(.)(.)\\b", "(?m)$\\n^", "x*",
		"(?:a|b)+?b", "(a+|b+)*_", "[ab]{3}\\b", "\\b\\w+\\b",
	};
	static const char alpha[] = "abab_\n x";
	char s[40];
	size_t i, k, j, n;

	for (i = 0; i < sizeof pats / sizeof pats[0]; i++) {
		for (k = 0; k < 300; k++) {
			n = rng() % sizeof s;
			for (j = 0; j < n; j++)
				s[j] = alpha[rng() % (sizeof alpha - 1)];
			run_at(pats[i], 0, s, n, n ? rng() % (n + 1) : 0);
		}
	}
}

/*
 * One Pike VM scratch for every regex alive: sized for the largest program, so many rules cost one
 * scratch (each had its own: 2.5 MB for the default DLP rules), grown when a larger program comes,
 * freed with the last regex; searches of small and large programs in turn share it and still agree.
 */
static void shared_scratch(void)
{
	static const char small[] = "(a+)(b+)";
	static const char subj[] = "xxaabbbyy ab";
	struct re *rs[100], *big = NULL, *other = NULL;
	struct bb_err e = { 0 };
	char want[128], got[128], bigwant[128];
	size_t one, i, total = 0;
	struct buf pat = BUF_INIT(1 << 16);

	T_CHECK(re_scratch_memory() == 0); /* every earlier case freed its regexes */
	T_CHECK(re_compile(small, strlen(small), RE_NODFA, &rs[0], &e) == 0);
	one = re_scratch_memory();
	T_CHECK(one > 0);
	fmt_match(rs[0], subj, strlen(subj), 0, want, sizeof want);
	T_STREQ(want, "2,7 2,4 4,7");
	for (i = 1; i < 100; i++)
		T_CHECK(re_compile(small, strlen(small), RE_NODFA, &rs[i], &e) == 0);
	T_CHECK(re_scratch_memory() == one);
	for (i = 0; i < 100; i++)
		total += re_memory(rs[i]);
	T_CHECK(total + re_scratch_memory() < 100 * one); /* less than a scratch each: they share one */

	/* A larger program grows the scratch; the small ones still match the same (Pike VM, captures). */
	buf_append_str(&pat, "(x+)", NULL);
	for (i = 0; i < 30; i++)
		buf_append_str(&pat, "(?:[a-z]{1,20}|[0-9]{20})?", NULL);
	buf_append_str(&pat, "(y+)", NULL);
	T_CHECK(re_compile(pat.p, pat.len, RE_NODFA, &big, &e) == 0);
	T_CHECK(re_scratch_memory() > one);
	fmt_match(big, subj, strlen(subj), 0, bigwant, sizeof bigwant);
	T_STREQ(bigwant, "0,9 0,2 8,9"); /* [a-z]{1,20} takes the first y */
	for (i = 0; i < 100; i += 7) {
		fmt_match(rs[i], subj, strlen(subj), 0, got, sizeof got);
		T_STREQ(got, want);
		fmt_match(big, subj, strlen(subj), 0, got, sizeof got);
		T_STREQ(got, bigwant);
	}
	/* A smaller one compiled now fits what is there. */
	i = re_scratch_memory();
	T_CHECK(re_compile("(b)", 3, RE_NODFA, &other, &e) == 0);
	T_CHECK(re_scratch_memory() == i);
	fmt_match(other, subj, strlen(subj), 0, got, sizeof got);
	T_STREQ(got, "4,5 4,5");
	re_free(big);
	fmt_match(rs[99], subj, strlen(subj), 0, got, sizeof got);
	T_STREQ(got, want);
	re_free(other);
	for (i = 0; i < 100; i++)
		re_free(rs[i]);
	T_CHECK(re_scratch_memory() == 0);
	buf_free(&pat);
}

/* A DFA cache that cannot keep up (exponentially many states) falls back to the Pike VM with the same answers. */
static void dfa_cache_thrash(void)
{
	size_t n = 200000, i;
	char *s = malloc(n);
	const char *pat = "(a|b)*a[ab]{18}c";
	int found;
	double t;

	for (i = 0; i < n; i++)
		s[i] = (rng() & 1) ? 'a' : 'b';
	memcpy(s + n - 30, "abbbbbbbbbbbbbbbbbbc", 20);
	t = time_search(pat, 0, s, n, &found);
	printf("#   %zu bytes in %.3f s\n", n, t);
	T_CHECK(t < 5.0);
	T_CHECK(found == 1);
	T_STREQ(run_at(pat, 0, s, n, 0), run_at(pat, RE_NODFA, s, n, 0));
	free(s);
}

/* Spans of re_search_bounded as fmt_match prints them. */
static void fmt_bounded(const struct re *re, const char *s, size_t n, size_t start, size_t last, char *out, size_t cap)
{
	struct re_match m;

	if (!re_search_bounded(re, s, n, start, last, &m)) {
		snprintf(out, cap, "nomatch");
		return;
	}
	snprintf(out, cap, "%zu,%zu", m.group[0].start, m.group[0].end);
	if (m.ngroups > 1 && m.group[1].start != RE_NOPOS)
		snprintf(out + strlen(out), cap - strlen(out), " %zu,%zu", m.group[1].start, m.group[1].end);
}

/*
 * re_search_bounded(start, last) is re_search(start) when that match starts
 * by last, else no match (the leftmost-first search finds the leftmost
 * start): checked on random subjects, DFA and Pike VM, every start and last.
 */
static void bounded_search_matches_oracle(void)
{
	static const char *pats[] = {
		"a+b", "(a|b)*abb", "\\bab\\b", "(?m)^a.$", "(a*)(b*)", "a{2,4}?b", "[^a]b|ab", "(?i)AB|ba",
		"a\\B.", "(a|ab)(c|bcd)?", "b$", "^a|b", "x*", "(?:a|b)+?b", "[ab]{3}\\b", "\\b\\w+\\b", "(ab)?b",
	};
	static const char alpha[] = "abab_\n x";
	char s[24], a[64], b[64];
	size_t i, k, j, n, st, la;
	unsigned mode;

	for (i = 0; i < sizeof pats / sizeof pats[0]; i++)
		for (mode = 0; mode < 2; mode++) {
			struct re *re = NULL;
			struct bb_err e = { 0 };

			T_CHECK(re_compile(pats[i], strlen(pats[i]), mode ? RE_NODFA : 0, &re, &e) == 0);
			if (!re)
				continue;
			for (k = 0; k < 60; k++) {
				n = rng() % sizeof s;
				for (j = 0; j < n; j++)
					s[j] = alpha[rng() % (sizeof alpha - 1)];
				for (st = 0; st <= n; st++)
					for (la = st; la <= n + 1; la++) {
						struct re_match m;

						if (!re_search(re, s, n, st, &m) || m.group[0].start > la)
							snprintf(a, sizeof a, "nomatch");
						else {
							snprintf(a, sizeof a, "%zu,%zu", m.group[0].start, m.group[0].end);
							if (m.ngroups > 1 && m.group[1].start != RE_NOPOS)
								snprintf(a + strlen(a), sizeof a - strlen(a), " %zu,%zu",
									 m.group[1].start, m.group[1].end);
						}
						fmt_bounded(re, s, n, st, la, b, sizeof b);
						if (strcmp(a, b) && !t_failed_case) {
							printf("#   /%s/%s on '%.*s' from %zu, starts up to %zu: %s, want %s\n", pats[i],
							       mode ? " (Pike VM)" : "", (int)n, s, st, la, b, a);
							t_failed_case = 1;
						}
					}
			}
			re_free(re);
		}
}

/* The bounded search stops when the threads that started in time die: its cost does not grow with the subject. */
static void bounded_search_is_short(void)
{
	size_t n = 4 << 20, i;
	char *s = malloc(n);
	struct re *re = NULL;
	struct bb_err e = { 0 };
	struct re_match m;
	double t0, t;

	for (i = 0; i < n; i++)
		s[i] = "abcdefgh "[i % 9];
	memcpy(s + 1000, "token = abc", 11);
	T_CHECK(re_compile("token\\s*=\\s*([a-z]+)", 20, 0, &re, &e) == 0);
	t0 = now();
	for (i = 0; i < 20000; i++)
		T_CHECK(re_search_bounded(re, s, n, 990, 1000, &m) == 1);
	T_CHECK(m.group[1].start == 1008 && m.group[1].end == 1016); /* abc, then the filler's defgh */
	for (i = 0; i < 20000; i++)
		T_CHECK(re_search_bounded(re, s, n, 2000, 2010, NULL) == 0);
	t = now() - t0;
	printf("#   40000 bounded searches in a %zu-byte subject: %.3f s\n", n, t);
	T_CHECK(t < 2.0); /* an unbounded search per call would scan 80 GB */
	re_free(re);
	free(s);
}

static void max_length(void)
{
	static const struct {
		const char *pat;
		long len; /* -1: unbounded */
	} c[] = {
		{ "abc", 3 },           { "a|bcd", 3 },          { "a{2,5}", 5 },        { "(?:ab|c){3}", 6 },
		{ "a+", -1 },           { "x*y", -1 },           { "\\bab\\b$", 2 },    { "[a-z]{10,150}=?", 151 },
		{ "(?i)key", 3 },       { "", 0 },               { "a{3,}", -1 },        { "(a|b{2})?c", 3 },
	};
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct re *re = NULL;
		struct bb_err e = { 0 };
		size_t got;

		T_CHECK(re_compile(c[i].pat, strlen(c[i].pat), 0, &re, &e) == 0);
		if (!re)
			continue;
		got = re_max_length(re);
		if ((c[i].len < 0) != (got == RE_NOPOS) || (c[i].len >= 0 && got != (size_t)c[i].len)) {
			printf("#   /%s/: max length %ld, want %ld\n", c[i].pat, got == RE_NOPOS ? -1L : (long)got, c[i].len);
			t_failed_case = 1;
		}
		re_free(re);
	}
}

static struct ac *keywords_ac(const char *list)
{
	struct ac *a = ac_new(AC_NOCASE);
	const char *p = list;

	while (a && *p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		ac_add(a, p, len, 0, NULL);
		p = end ? end + 1 : p + len;
	}
	if (a && ac_compile(a, NULL) < 0) {
		ac_free(a);
		a = NULL;
	}
	return a;
}

/* Where a keyword must end in every match: proved bounds, and the cases that cannot be proved. */
static void keyword_bound(void)
{
	static const struct {
		const char *pat, *kw;
		long bound; /* -1: not proved */
	} c[] = {
		{ "\\b(ghp_[A-Za-z0-9]{36})\\b", "ghp_", 4 },
		{ "(?:^|[^a-z])(tok_[a-z]{8})", "tok_", 5 },
		{ "(?i:api[_.-]?key|secret)\\s*=", "key,secret", 7 },
		{ "(?i:encryption_key)=", "key", 14 },
		{ "[a-z]{32}-us[0-9]", "-us", 35 },
		{ "(?i)Secret", "secret", 6 },
		{ "a[0-9]+key", "key", -1 },         /* a loop before the keyword: no bound */
		{ "(?:key|other)=x", "key", -1 },   /* a match without the keyword */
		{ "k.y", "key", -1 },               /* k.y need not be key */
		{ "x{0,300}key", "key", 303 },      /* proved; the engine then declines bounds past its context */
	};
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		struct re *re = NULL;
		struct bb_err e = { 0 };
		struct ac *kw = keywords_ac(c[i].kw);
		size_t got = 0;
		int ok;

		T_CHECK(kw != NULL);
		T_CHECK(re_compile(c[i].pat, strlen(c[i].pat), 0, &re, &e) == 0);
		if (!re || !kw) {
			re_free(re);
			ac_free(kw);
			continue;
		}
		ok = re_keyword_bound(re, kw, &got);
		if (ok != (c[i].bound >= 0) || (ok && got != (size_t)c[i].bound) || (!ok && got != RE_NOPOS)) {
			printf("#   /%s/ with %s: bound %d %ld, want %ld\n", c[i].pat, c[i].kw, ok,
			       got == RE_NOPOS ? -1L : (long)got, c[i].bound);
			t_failed_case = 1;
		}
		re_free(re);
		ac_free(kw);
	}
}

/*
 * The bound holds on random matches: for random patterns built from
 * keywords and classes, every match found in random text has a keyword
 * ending within the proved bound of its start.
 */
static void keyword_bound_holds(void)
{
	static const char *const parts[] = { "key", "tok", "(?i:se)", "[a-c]", "x?", "(?:ab|c)", "\\b", "[kt]", "o{0,2}" };
	static const char alpha[] = "keytoksecabxo _";
	size_t trial, proved = 0;

	for (trial = 0; trial < 400; trial++) {
		char pat[256], s[64];
		size_t plen = 0, k, np = 2 + rng() % 5, j, n, bound;
		struct re *re = NULL;
		struct bb_err e = { 0 };
		struct ac *kw = keywords_ac("key,tok,sec");

		for (k = 0; k < np; k++)
			plen += (size_t)snprintf(pat + plen, sizeof pat - plen, "%s", parts[rng() % (sizeof parts / sizeof parts[0])]);
		if (!kw || re_compile(pat, plen, 0, &re, &e) < 0) {
			re_free(re);
			ac_free(kw);
			continue;
		}
		if (re_keyword_bound(re, kw, &bound)) {
			proved++;
			for (k = 0; k < 50; k++) {
				size_t pos = 0;
				struct re_match m;

				n = rng() % sizeof s;
				for (j = 0; j < n; j++)
					s[j] = alpha[rng() % (sizeof alpha - 1)];
				while (pos <= n && re_search(re, s, n, pos, &m)) {
					size_t ms = m.group[0].start, me = m.group[0].end, q, found = 0;

					for (q = ms; q < me && !found; q++) /* a keyword ending at q+1 <= ms + bound */
						found = q + 1 <= ms + bound &&
							((q + 1 >= ms + 3 && (!strncasecmp(s + q - 2, "key", 3) ||
									     !strncasecmp(s + q - 2, "tok", 3) ||
									     !strncasecmp(s + q - 2, "sec", 3))));
					if (!found && !t_failed_case) {
						printf("#   /%s/ bound %zu, but the match '%.*s' has no keyword that early\n", pat,
						       bound, (int)(me - ms), s + ms);
						t_failed_case = 1;
					}
					pos = me > ms ? me : ms + 1;
				}
			}
		}
		re_free(re);
		ac_free(kw);
	}
	printf("#   %zu of 400 random patterns proved\n", proved);
	T_CHECK(proved > 50);
}

/* Random [charset]{n}; the credential-looking inputs are made here, never written as literals. */
static void rand_str(char *out, const char *charset, size_t n)
{
	size_t k = strlen(charset), i;

	for (i = 0; i < n; i++)
		out[i] = charset[rng() % k];
	out[n] = 0;
}

#define UP "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define LO "abcdefghijklmnopqrstuvwxyz"
#define DIG "0123456789"
#define HEX "0123456789abcdef"

struct rule {
	const char *name, *pat;
	const char *pre, *pre2, *set; /* secret = pre pre2 + set{len} */
	size_t len;
	const char *before, *after;   /* context around the secret */
	int group;                    /* the group that must be the secret (0: the whole match) */
};

static const struct rule rules[] = {
	{ "generic-api-key",
	  "(?i)(?:key|api|token|secret|password)(?:[0-9a-z\\-_\\t .]{0,20})(?:[\\s|']|[\\s|\"]){0,3}"
	  "(?:=|>|:{1,3}=|\\|\\|:|<=|=>|:|\\?=)(?:'|\\\"|\\s|=|\\x60){0,5}([0-9a-z\\-_.=]{10,150})"
	  "(?:['|\\\"|\\n|\\r|\\s|\\x60|;]|$)",
	  "", "", LO DIG, 24, "my_api_token = \"", "\";\n", 1 },
	{ "aws-access-token", "\\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16})\\b", "AK", "IA", UP DIG, 16,
	  "aws_id=", " ", 1 },
	{ "github-pat", "ghp_[0-9a-zA-Z]{36}", "gh", "p_", LO UP DIG, 36, "token: ", "\n", 0 },
	{ "github-fine-grained-pat", "github_pat_[0-9a-zA-Z_]{82}", "github", "_pat_", LO UP DIG "_", 82, "x ", "", 0 },
	{ "github-app-token", "(ghu|ghs)_[0-9a-zA-Z]{36}", "gh", "s_", LO DIG, 36, "", "", 0 },
	{ "gitlab-pat", "glpat-[0-9a-zA-Z\\-\\_]{20}", "gl", "pat-", LO UP "-_", 20, "GITLAB=", "", 0 },
	{ "slack-bot-token", "(xoxb-[0-9]{10,13}\\-[0-9]{10,13}[a-zA-Z0-9-]*)", "xo", "xb-1234567890-", DIG, 12,
	  "slack: ", " end", 1 },
	{ "stripe-access-token", "(?i)(sk|pk)_(test|live)_[0-9a-z]{10,32}", "sk", "_live_", LO DIG, 24, "'", "'", 0 },
	{ "private-key",
	  "(?i)-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY( BLOCK)?-----[\\s\\S-]*KEY( BLOCK)?----",
	  "-----BEGIN RSA PRIV", "ATE KEY-----\n", UP LO DIG "+/\n", 200, "x\n", "\n-----END RSA PRIVATE KEY-----\n",
	  -1 },
	{ "jwt",
	  "\\b(ey[a-zA-Z0-9]{17,}\\.ey[a-zA-Z0-9\\/\\\\_-]{17,}\\.(?:[a-zA-Z0-9\\/\\\\_-]{10,}={0,2})?)"
	  "(?:['|\\\"|\\n|\\r|\\s|\\x60|;]|$)",
	  "eyJhbGciOiJIUzI1NiJ9", ".eyJzdWIiOiIxMjM0NTY3ODkwIn0.", LO UP DIG "_-", 43, "Bearer ", "\n", 1 },
	{ "gcp-api-key", "\\b(AIza[0-9A-Za-z\\\\-_]{35})(?:['|\\\"|\\n|\\r|\\s|\\x60|;]|$)", "AI", "za", LO UP DIG, 35,
	  "key=", "", 1 },
	{ "npm-access-token", "(?i)\\b(npm_[a-z0-9]{36})(?:['|\\\"|\\n|\\r|\\s|\\x60|;]|$)", "np", "m_", LO DIG, 36,
	  "//registry/:_authToken=", "\n", 1 },
	{ "openai-api-key", "\\b(sk-[a-zA-Z0-9]{20}T3BlbkFJ[a-zA-Z0-9]{20})(?:['|\\\"|\\n|\\r|\\s|\\x60|;]|$)", "sk-",
	  "abcdefghij0123456789T3Blbk" "FJ", LO DIG, 20, "OPENAI=", ";", 1 },
	{ "sendgrid-api-token", "(?i)\\b(SG\\.(?i)[a-z0-9=_\\-\\.]{66})(?:['|\\\"|\\n|\\r|\\s|\\x60|;]|$)", "SG", ".",
	  LO UP DIG "._-", 66, "\"", "\"", 1 },
	{ "twilio-api-key", "SK[0-9a-fA-F]{32}", "S", "K", HEX, 32, "twilio ", "", 0 },
	{ "heroku-api-key",
	  "(?i)(?:heroku)(?:[0-9a-z\\-_\\t .]{0,20})(?:[\\s|']|[\\s|\"]){0,3}(?:=|>|:{1,3}=|\\|\\|:|<=|=>|:|\\?=)"
	  "(?:'|\\\"|\\s|=|\\x60){0,5}([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})"
	  "(?:['|\\\"|\\n|\\r|\\s|\\x60|;]|$)",
	  "12345678-ABCD-", "ABCD-ABCD-", DIG "ABCDEF", 12, "HEROKU_API_KEY: '", "'", 1 },
	{ "shopify-access-token", "shpat_[a-fA-F0-9]{32}", "shp", "at_", HEX, 32, "", "", 0 },
	{ "pypi-upload-token", "pypi-AgEIcHlwaS5vcmc[A-Za-z0-9\\-_]{50,1000}", "pypi-", "AgEIcHlwaS5vcmc", LO UP DIG, 120,
	  "password = ", "\n", 0 },
	{ "age-secret-key", "AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}", "AGE-SECRET", "-KEY-1",
	  "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58, "# ", "\n", 0 },
	{ "doppler-api-token", "(dp\\.pt\\.)(?i)[a-z0-9]{43}", "dp.", "pt.", LO UP DIG, 43, "", "", 0 },
	{ "databricks-api-token", "\\b(dapi[a-h0-9]{32})(?:['|\\\"|\\n|\\r|\\s|\\x60|;]|$)", "da", "pi", "abcdefgh" DIG,
	  32, "DATABRICKS_TOKEN=", "\n", 1 },
	{ "hashicorp-tf-api-token", "(?i)[a-z0-9]{14}\\.atlasv1\\.[a-z0-9\\-_=]{60,70}", "abcdefghij1234",
	  ".atlas" "v1.", LO DIG "-_=", 64, "tf ", " ", 0 },
};

static void gitleaks_rules(void)
{
	size_t i;

	for (i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		const struct rule *r = &rules[i];
		struct re *re = NULL;
		struct bb_err e = { 0 };
		char secret[1200], subj[1400], neg[1400];
		size_t pre = strlen(r->before), slen;
		struct re_match m;
		unsigned mode;

		snprintf(secret, sizeof secret, "%s%s", r->pre, r->pre2);
		slen = strlen(secret);
		rand_str(secret + slen, r->set, r->len);
		snprintf(subj, sizeof subj, "%s%s%s", r->before, secret, r->after);
		slen = strlen(secret);
		/* The same text with the secret cut short must not match (for most rules). */
		snprintf(neg, sizeof neg, "%s%.*s", r->before, (int)(strlen(r->pre) + strlen(r->pre2) + 3), secret);
		for (mode = 0; mode < 2; mode++) {
			if (re_compile(r->pat, strlen(r->pat), mode ? RE_NODFA : 0, &re, &e) < 0) {
				printf("#   rule %s: %s\n", r->name, e.msg);
				t_failed_case = 1;
				break;
			}
			if (re_search(re, subj, strlen(subj), 0, &m) != 1) {
				printf("#   rule %s: no match in '%s'\n", r->name, subj);
				t_failed_case = 1;
			} else if (r->group >= 0 && (m.group[r->group].start != pre || m.group[r->group].end != pre + slen)) {
				printf("#   rule %s: group %d is %zu,%zu, want %zu,%zu in '%s'\n", r->name, r->group,
				       m.group[r->group].start, m.group[r->group].end, pre, pre + slen, subj);
				t_failed_case = 1;
			}
			if (strcmp(r->name, "generic-api-key") != 0 && re_search(re, neg, strlen(neg), 0, &m) != 0) {
				printf("#   rule %s: matched the cut-short '%s'\n", r->name, neg);
				t_failed_case = 1;
			}
			re_free(re);
			re = NULL;
		}
	}
}

/* test_re --match [--nfa] PATTERN FILE...: for each file, the spans of the first match (tests/sh/re_differential.sh). */
static int match_mode(int nfa, const char *pat, char **paths, int npaths)
{
	struct buf b = BUF_INIT(1 << 26);
	struct bb_err e = { 0 };
	struct re *re = NULL;
	char out[2048];
	int i;

	if (re_compile(pat, strlen(pat), nfa ? RE_NODFA : 0, &re, &e) < 0) {
		printf("error: %s\n", e.msg);
		return 2;
	}
	for (i = 0; i < npaths; i++) {
		buf_reset(&b);
		if (fd_read_file(paths[i], 1 << 26, &b, &e) < 0) {
			printf("error: %s\n", e.msg);
			break;
		}
		fmt_match(re, b.p ? b.p : "", b.len, 0, out, sizeof out);
		printf("%s\n", out);
	}
	re_free(re);
	buf_free(&b);
	return i < npaths ? 2 : 0;
}

/* test_re --bench: MB/s of re_search over 1 MiB of random text. */
static int bench_mode(void)
{
	static const struct {
		const char *name, *pat;
		char fill; /* 0: random printable text; 'r': random a and b; else that byte */
	} c[] = {
		{ "generic-api-key", NULL, 0 },
		{ "aws-access-token", NULL, 0 },
		{ "github-pat", "ghp_[0-9a-zA-Z]{36}", 0 },
		{ "private-key", NULL, 0 },
		{ "(a*)*b on a...", "(a*)*b", 'a' },
		{ "(a|a)*b on a...", "(a|a)*b", 'a' },
		{ "(x+x+)+y on x...", "(x+x+)+y", 'x' },
		{ "(a|b)*a[ab]{18}c on [ab]...", "(a|b)*a[ab]{18}c", 'r' },
		{ "[a-z]{0,100}@ on [a-z]...", "[a-z]{0,100}@", 'z' },
	};
	size_t n = 1 << 20, i, k;
	char *text = malloc(n), *fill = malloc(n);
	unsigned mode;

	for (i = 0; i < n; i++) {
		unsigned r = (unsigned)(rng() % 100);

		text[i] = r < 12 ? ' ' : r < 14 ? '\n' : (char)('!' + rng() % 94);
	}
	printf("re_search over 1 MiB (best of 3), MB/s; none of the subjects holds a match\n");
	printf("%-30s %12s %12s\n", "pattern", "default", "Pike VM only");
	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		const char *pat = c[i].pat;
		const char *s = text;

		for (k = 0; !pat && k < sizeof rules / sizeof rules[0]; k++)
			if (!strcmp(rules[k].name, c[i].name))
				pat = rules[k].pat;
		if (c[i].fill == 'r') {
			for (k = 0; k < n; k++)
				fill[k] = (rng() & 1) ? 'a' : 'b';
			s = fill;
		} else if (c[i].fill == 'z') {
			for (k = 0; k < n; k++)
				fill[k] = (char)('a' + rng() % 26);
			s = fill;
		} else if (c[i].fill) {
			memset(fill, c[i].fill, n);
			s = fill;
		}
		printf("%-30s", c[i].name);
		for (mode = 0; mode < 2; mode++) {
			struct re *re = NULL;
			struct bb_err e = { 0 };
			struct re_match m;
			double best = 1e9, t;
			int rep;

			if (re_compile(pat, strlen(pat), mode ? RE_NODFA : 0, &re, &e) < 0) {
				printf(" error: %s\n", e.msg);
				break;
			}
			for (rep = 0; rep < 3; rep++) {
				t = now();
				if (re_search(re, s, n, 0, &m))
					printf(" (match at %zu)", m.group[0].start);
				t = now() - t;
				if (t < best)
					best = t;
			}
			printf(" %12.1f", (double)n / 1e6 / best);
			re_free(re);
		}
		printf("\n");
	}
	free(text);
	free(fill);
	return 0;
}

/*
 * test_re --vs-libc [RULES.tsv BODIES BODY_BYTES]: the measurements behind
 * docs/decisions/0002-regex-engine.md. The C library's regcomp/regexec
 * (musl's in the static build) against lib/re: (1) patterns that make a
 * backtracking or submatch-tracking matcher blow up, on growing subjects,
 * each libc run in a child process killed after LIBC_LIMIT seconds; (2) the
 * built-in rules translated to ERE (scripts/bench/scan-corpus.py ere),
 * every rule's first match in every body, no keyword prefilter for either;
 * (3) the same rules over 64 KiB of 'a'.
 */
#define LIBC_LIMIT 20

/* Seconds for regexec (or re_search when mine) of pat on n bytes of fill; -1 past LIBC_LIMIT, -2 no compile. */
static double time_libc(const char *pat, int icase, char fill, size_t n)
{
	int fds[2];
	pid_t pid;
	double t = -2;

	if (pipe(fds) < 0)
		return -2;
	pid = fork();
	if (pid == 0) {
		char *s = malloc(n + 1);
		regex_t r;
		regmatch_t m[2];
		double t0;

		close(fds[0]);
		alarm(LIBC_LIMIT);
		memset(s, fill, n);
		s[n] = 0;
		if (regcomp(&r, pat, REG_EXTENDED | (icase ? REG_ICASE : 0)) == 0) {
			t0 = now();
			regexec(&r, s, 2, m, 0);
			t = now() - t0;
		}
		if (write(fds[1], &t, sizeof t) != (ssize_t)sizeof t)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &t, sizeof t) != (ssize_t)sizeof t)
		t = -1; /* killed by the alarm */
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return t;
}

static double time_mine(const char *pat, char fill, size_t n)
{
	struct re *re = NULL;
	struct bb_err e = { 0 };
	struct re_match m;
	char *s = malloc(n);
	double t;

	if (re_compile(pat, strlen(pat), 0, &re, &e) < 0) {
		free(s);
		return -2;
	}
	memset(s, fill, n);
	t = now();
	re_search(re, s, n, 0, &m);
	t = now() - t;
	re_free(re);
	free(s);
	return t;
}

static void print_time(double t)
{
	if (t == -1)
		printf(" %11s", "> " "20 s");
	else if (t == -2)
		printf(" %11s", "no compile");
	else
		printf(" %9.4f s", t);
}

static int vs_libc_mode(int argc, char **argv)
{
	static const struct {
		const char *ere, *mine;
		char fill;
	} path[] = {
		{ "(a*)*b", "(a*)*b", 'a' },          { "(a|aa)*c", "(a|aa)*c", 'a' },
		{ "(x+x+)+y", "(x+x+)+y", 'x' },      { "(.*)*x", "(.*)*x", 'a' },
		{ "^(a?){25}a{25}$", "^(a?){25}a{25}$", 'a' }, { "(a|a)*b", "(a|a)*b", 'a' },
	};
	static const size_t sizes[] = { 1000, 10000, 100000, 1000000 };
	size_t i, k;

#ifdef __GLIBC__
	printf("libc: glibc\n");
#else
	printf("libc: musl\n");
#endif
	printf("(1) one search, subject of n bytes of the fill; libc runs stopped after %d s\n", LIBC_LIMIT);
	for (i = 0; i < sizeof path / sizeof path[0]; i++)
		for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
			double tl = time_libc(path[i].ere, 0, path[i].fill, sizes[k]);

			printf("%-18s n=%-8zu libc", path[i].ere, sizes[k]);
			print_time(tl);
			printf("   lib/re");
			print_time(time_mine(path[i].mine, path[i].fill, sizes[k]));
			printf("\n");
			fflush(stdout);
			if (tl == -1)
				break; /* larger subjects only take longer */
		}
	if (argc == 5) {
		struct buf tsv = BUF_INIT(1 << 20), bodies = BUF_INIT(64u << 20);
		size_t body = (size_t)strtoul(argv[4], NULL, 10), nrules = 0, skipped = 0, off, hits_l = 0, hits_m = 0;
		regex_t *lre = calloc(512, sizeof *lre);
		struct re **mre = calloc(512, sizeof *mre);
		char *line, *save = NULL, *chunk = malloc(body + 1), *aaaa = malloc(65537);
		double tl = 0, tm = 0, t0, worst_l = 0, worst_m = 0, al = 0, am = 0;
		struct re_match m;
		regmatch_t rm[2];

		if (fd_read_file(argv[2], 1 << 20, &tsv, NULL) < 0 || fd_read_file(argv[3], 64u << 20, &bodies, NULL) < 0 ||
		    !body || !lre || !mre || !chunk || !aaaa) {
			printf("cannot read %s or %s\n", argv[2], argv[3]);
			return 1;
		}
		for (line = strtok_r(tsv.p, "\n", &save); line && nrules < 512; line = strtok_r(NULL, "\n", &save)) {
			char *ere = strchr(line, '\x1f'), *mine = ere ? strchr(ere + 1, '\x1f') : NULL;
			struct bb_err e = { 0 };

			if (!mine)
				continue;
			*ere++ = 0;
			*mine++ = 0;
			if (regcomp(&lre[nrules], ere, REG_EXTENDED | (line[0] == '1' ? REG_ICASE : 0)) != 0) {
				skipped++;
				continue;
			}
			if (re_compile(mine, strlen(mine), 0, &mre[nrules], &e) < 0) {
				regfree(&lre[nrules]);
				skipped++;
				continue;
			}
			nrules++;
		}
		printf("(2) %zu rules (%zu did not compile in libc), first match of each in each %zu-byte body of %s (%zu bytes)\n",
		       nrules, skipped, body, argv[3], bodies.len);
		for (off = 0; off < bodies.len; off += body) {
			size_t n = bodies.len - off < body ? bodies.len - off : body;

			memcpy(chunk, bodies.p + off, n);
			chunk[n] = 0;
			t0 = now();
			for (i = 0; i < nrules; i++)
				hits_l += regexec(&lre[i], chunk, 2, rm, 0) == 0;
			tl += now() - t0;
			t0 = now();
			for (i = 0; i < nrules; i++)
				hits_m += re_search(mre[i], chunk, n, 0, &m);
			tm += now() - t0;
		}
		printf("libc   %8.3f s  %8.2f MB/s  (%zu matches)\n", tl, (double)bodies.len / 1e6 / tl, hits_l);
		printf("lib/re %8.3f s  %8.2f MB/s  (%zu matches; leftmost-first, where POSIX is leftmost-longest)\n", tm,
		       (double)bodies.len / 1e6 / tm, hits_m);
		memset(aaaa, 'a', 65536);
		aaaa[65536] = 0;
		for (i = 0; i < nrules; i++) {
			double a, b;

			t0 = now();
			regexec(&lre[i], aaaa, 2, rm, 0);
			a = now() - t0;
			t0 = now();
			re_search(mre[i], aaaa, 65536, 0, &m);
			b = now() - t0;
			al += a;
			am += b;
			worst_l = a > worst_l ? a : worst_l;
			worst_m = b > worst_m ? b : worst_m;
		}
		printf("(3) every rule over 64 KiB of 'a': libc %.3f s in all (slowest rule %.3f s), lib/re %.3f s (slowest %.4f s)\n",
		       al, worst_l, am, worst_m);
		for (i = 0; i < nrules; i++) {
			regfree(&lre[i]);
			re_free(mre[i]);
		}
		free(lre);
		free(mre);
		free(chunk);
		free(aaaa);
		buf_free(&tsv);
		buf_free(&bodies);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && !strcmp(argv[1], "--match") && !strcmp(argv[2], "--nfa"))
		return match_mode(1, argv[3], argv + 4, argc - 4);
	if (argc >= 4 && !strcmp(argv[1], "--match"))
		return match_mode(0, argv[2], argv + 3, argc - 3);
	if (argc == 2 && !strcmp(argv[1], "--bench"))
		return bench_mode();
	if ((argc == 2 || argc == 5) && !strcmp(argv[1], "--vs-libc"))
		return vs_libc_mode(argc, argv);
	T_RUN(literals_and_escapes);
	T_RUN(dot_and_classes);
	T_RUN(anchors_and_boundaries);
	T_RUN(captures_leftmost_first);
	T_RUN(quantifiers);
	T_RUN(flags);
	T_RUN(errors_name_offsets);
	T_RUN(size_caps);
	T_RUN(pathological_patterns_are_linear);
	T_RUN(search_from_offset);
	T_RUN(required_literal);
	T_RUN(dfa_agrees_with_pike_vm);
	T_RUN(dfa_cache_thrash);
	T_RUN(shared_scratch);
	T_RUN(gitleaks_rules);
	T_RUN(bounded_search_matches_oracle);
	T_RUN(bounded_search_is_short);
	T_RUN(max_length);
	T_RUN(keyword_bound);
	T_RUN(keyword_bound_holds);
	T_END();
}
