/* re.h - linear-time regular expressions (RE2/Go syntax subset, byte-oriented): Pike VM behind a lazy DFA. */
#ifndef BB_RE_H
#define BB_RE_H

#include <stddef.h>

#include "err.h"

/*
 * Syntax: the subset of RE2/Go syntax that gitleaks rules use.
 *   literals, \. \- \/ \\ and any other escaped ASCII punctuation,
 *   \a \f \t \n \r \v \xHH \x{H..} \0 \123 (octal), \Q...\E
 *   .  [abc] [a-z] [^...] [[:alpha:]] [[:^digit:]]  \d \w \s \D \W \S
 *   ^ $ \A \z \b \B   ( ) (?: ) (?P<name> ) (?<name> )   x|y
 *   * + ? {n} {n,} {n,m} and the lazy forms *? +? ?? {n,m}?
 *   flags (?i) (?s) (?m) (?U) (?-i) (?i-s) anywhere (to the end of the
 *   enclosing group) and scoped (?i: ... )
 * Group names must be well formed (letters, digits, _) and are otherwise
 * ignored: groups are known by number.
 * Semantics are Go's regexp: leftmost-first (the match and the submatches
 * a backtracking engine would report, found without backtracking), $
 * without (?m) is the end of the text only (like \z), \s is [\t\n\f\r ],
 * \b and \w are ASCII.
 * Byte-oriented: the subject is a byte string. `.`, [^...] and every
 * class match exactly one byte (so `.` matches one byte of a multi-byte
 * UTF-8 character, not the whole character); \xHH is the byte HH;
 * non-ASCII characters written literally in the pattern match their UTF-8
 * bytes (a quantifier after one applies to the whole character; a byte
 * that does not start a valid UTF-8 sequence is a byte alone) but are
 * refused inside classes. (?i) folds ASCII letters only.
 * Refused with an error naming the byte offset: backreferences \1 (?P=n),
 * lookaround (?= (?! (?<= (?<!, atomic and possessive forms, \p{..}
 * Unicode classes, \Z \G \K and the like, repeat counts above
 * RE_MAX_REPEAT, nesting deeper than RE_MAX_DEPTH, programs larger than
 * RE_MAX_INST instructions once counted repeats are expanded, and
 * programs whose thread state would pass RE_MAX_SCRATCH.
 *
 * Time: re_search is O(len * program size) whatever the pattern and the
 * subject; nothing backtracks. A case-sensitive literal that every match
 * contains is looked for first (memmem); then a lazy DFA answers "is
 * there a match and where does it end/start"; the Pike VM (an NFA
 * simulation carrying capture slots) only runs over the match itself, or
 * over everything when the DFA's cache thrashes.
 * Memory: each regex owns its program (re_memory tells how much) and two
 * DFA caches of at most RE_DFA_CACHE bytes each, allocated on the first
 * search that uses them. The Pike VM's thread state is one scratch owned
 * by this module and shared by every regex in the process, grown by
 * re_compile to fit the largest program alive (re_scratch_memory) and
 * freed by the last re_free: a set of hundreds of rules costs one
 * scratch, not one each. A search allocates nothing else and cannot fail.
 * Threads: the scratch is the process's and the caches are the regex's,
 * so searches must not run in two threads at once, on one regex or on
 * two (bb's daemons are single-threaded event loops); compiling and
 * freeing count as using the scratch too.
 */

enum {
	RE_ICASE = 1u << 0,     /* (?i) for the whole pattern */
	RE_DOTNL = 1u << 1,     /* (?s) */
	RE_MULTILINE = 1u << 2, /* (?m) */
	RE_UNGREEDY = 1u << 3,  /* (?U): swap greedy and lazy */
	RE_NODFA = 1u << 4      /* never use the DFA: Pike VM only (tests, comparisons) */
};

#define RE_MAX_PATTERN 65536     /* bytes of pattern */
#define RE_MAX_REPEAT 1000       /* largest n or m in {n,m} */
#define RE_MAX_DEPTH 250         /* nested groups */
#define RE_MAX_INST 65536        /* instructions after expanding counted repeats */
#define RE_MAX_SCRATCH (8 << 20) /* bytes of Pike VM thread state */
#define RE_DFA_CACHE (256 << 10) /* bytes of cached DFA states, per direction */
#define RE_MATCH_GROUPS 16       /* spans reported: group 0 (the match) and groups 1..15 */
#define RE_NOPOS ((size_t)-1)    /* a group that did not take part in the match */

struct re;

struct re_span {
	size_t start, end; /* byte offsets into the subject, end exclusive */
};

struct re_match {
	unsigned ngroups;                       /* spans filled: min(re_ngroups + 1, RE_MATCH_GROUPS) */
	struct re_span group[RE_MATCH_GROUPS]; /* [0] the whole match; RE_NOPOS for unset groups */
};

/*
 * Compile pattern pat (len bytes, need not be NUL-terminated) with
 * RE_* flags. On success *out is a new regex (free with re_free) and 0 is
 * returned; on failure -1 with e->code BB_EINVAL (bad or unsupported
 * syntax), BB_ETOOBIG (a size cap) or ENOMEM, and e->msg like
 * "regex offset 7: lookahead (?= is not supported".
 */
int re_compile(const char *pat, size_t len, unsigned flags, struct re **out, struct bb_err *e);

/* Free a regex from re_compile (NULL is fine). */
void re_free(struct re *re);

/* Number of capture groups in the pattern (group 0, the whole match, not counted). */
unsigned re_ngroups(const struct re *re);

/*
 * Search s[0..n) for the leftmost-first match that starts at or after
 * start; the text before start still counts as context for ^ \b and the
 * like. Returns 1 and fills *m when found, 0 when not (or start > n).
 * m may be NULL to ask only whether there is a match (the cheapest call).
 * Not for concurrent use (see Threads above).
 */
int re_search(const struct re *re, const char *s, size_t n, size_t start, struct re_match *m);

/*
 * re_search restricted to matches that start in [start, last_start]: the
 * leftmost-first such match. The search stops as soon as no thread that
 * started in time is alive, so the cost is the bytes up to last_start plus
 * the attempt to extend a match from there, however long s is.
 */
int re_search_bounded(const struct re *re, const char *s, size_t n, size_t start, size_t last_start,
		      struct re_match *m);

/* Bytes the regex holds now: program and DFA caches allocated so far (not the shared scratch). */
size_t re_memory(const struct re *re);

/* Bytes of the shared Pike VM scratch now: sized for the largest program alive, 0 when none is. */
size_t re_scratch_memory(void);

/*
 * A literal that every match contains (the longest one found in the
 * pattern's top-level sequence), for a keyword prefilter: *lit points
 * into the regex, *len bytes, *nocase set when it was under (?i) (then
 * it is lower-cased and must be compared ASCII case-insensitively).
 * Returns 1 when there is one, 0 when none is known (len 0).
 */
int re_required_literal(const struct re *re, const char **lit, size_t *len, int *nocase);

/*
 * The longest a match can be, in bytes, or RE_NOPOS when it is not
 * bounded (a loop such as x+ or x{n,}). Assertions are ignored.
 */
size_t re_max_length(const struct re *re);

struct ac;
/*
 * Does every match contain an occurrence of one of kw's patterns (an
 * ac_compile'd automaton, lib/ac.h) that ends within *bound bytes of the
 * match's start? 1 and *bound when the program proves it (every path from
 * the start to MATCH completes a pattern first, and those paths are not
 * cyclic); 0 when not (then *bound is RE_NOPOS). A keyword prefilter uses
 * it to search only matches starting at most *bound bytes before a
 * keyword, instead of a window around it. Assertions are taken as always
 * true, which can only make the bound larger. Bounded work: programs whose
 * analysis would pass 4M states answer 0.
 */
int re_keyword_bound(const struct re *re, const struct ac *kw, size_t *bound);

#endif
