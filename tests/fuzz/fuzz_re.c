/* fuzz_re.c - fuzzer for the regex compiler, matchers and analyses (lib/re): pattern, then subject after the first NUL or newline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ac.h"
#include "fuzz.h"
#include "re.h"

/* Does s[0..n) hold one of the keywords ending at or before s + bound (ASCII case-insensitively)? */
static int keyword_within(const char *s, size_t n, size_t bound)
{
	static const char *const kw[] = { "ab", "key", "x" };
	size_t k, i, j;

	for (k = 0; k < sizeof kw / sizeof kw[0]; k++) {
		size_t len = strlen(kw[k]);

		for (i = 0; i + len <= n && i + len <= bound; i++) {
			for (j = 0; j < len; j++) {
				char c = s[i + j];

				if ((c >= 'A' && c <= 'Z' ? c + 32 : c) != kw[k][j])
					break;
			}
			if (j == len)
				return 1;
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *subj;
	size_t plen = 0, start, n, last, maxlen, bound;
	struct re *re = NULL, *nfa = NULL;
	struct re_match m, mn, mb;
	struct ac *kw;
	int found, found_nfa, fb;

	while (plen < size && data[plen] != 0 && data[plen] != '\n')
		plen++;
	start = plen < size ? plen + 1 : size;
	subj = text + start;
	n = size - start;
	if (re_compile(text, plen, 0, &re, NULL) < 0)
		return 0;
	if (re_compile(text, plen, RE_NODFA, &nfa, NULL) < 0)
		abort(); /* the same pattern cannot fail only without the DFA */
	/* The DFA path and the Pike VM must report the same match and groups. */
	found = re_search(re, subj, n, 0, &m);
	found_nfa = re_search(nfa, subj, n, 0, &mn);
	if (found != found_nfa || (found && (m.ngroups != mn.ngroups ||
					     memcmp(m.group, mn.group, m.ngroups * sizeof m.group[0]) != 0)))
		abort();
	if (re_search(re, subj, n, 0, NULL) != found)
		abort();
	/* No match is longer than re_max_length says. */
	maxlen = re_max_length(re);
	if (found && maxlen != RE_NOPOS && m.group[0].end - m.group[0].start > maxlen)
		abort();
	/* A bounded search is the leftmost-first match if it starts in time, else none; DFA and Pike VM alike. */
	last = n ? (size_t)data[0] % (n + 1) : 0;
	fb = re_search_bounded(re, subj, n, 0, last, &mb);
	if (fb != (found && m.group[0].start <= last) || (fb && memcmp(mb.group, m.group, m.ngroups * sizeof m.group[0])))
		abort();
	fb = re_search_bounded(nfa, subj, n, 0, last, &mb);
	if (fb != (found && m.group[0].start <= last) || (fb && memcmp(mb.group, m.group, m.ngroups * sizeof m.group[0])))
		abort();
	/* A proved keyword bound holds on the match found. */
	kw = ac_new(AC_NOCASE);
	if (kw && ac_add(kw, "ab", 2, 0, NULL) == 0 && ac_add(kw, "key", 3, 1, NULL) == 0 && ac_add(kw, "x", 1, 2, NULL) == 0 &&
	    ac_compile(kw, NULL) == 0 && re_keyword_bound(re, kw, &bound) && found &&
	    !keyword_within(subj + m.group[0].start, m.group[0].end - m.group[0].start, bound))
		abort();
	ac_free(kw);
	if (found && m.group[0].end < n)
		re_search(re, subj, n, m.group[0].end + 1, &m);
	re_free(re);
	re_free(nfa);
	return 0;
}
