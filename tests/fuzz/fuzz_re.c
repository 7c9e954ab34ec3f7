/* fuzz_re.c - fuzzer for the regex compiler and matchers (lib/re): pattern, then subject after the first NUL or newline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "re.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t plen = 0, start;
	struct re *re = NULL, *nfa = NULL;
	struct re_match m, mn;
	int found, found_nfa;

	while (plen < size && data[plen] != 0 && data[plen] != '\n')
		plen++;
	start = plen < size ? plen + 1 : size;
	if (re_compile(text, plen, 0, &re, NULL) < 0)
		return 0;
	if (re_compile(text, plen, RE_NODFA, &nfa, NULL) < 0)
		abort(); /* the same pattern cannot fail only without the DFA */
	/* The DFA path and the Pike VM must report the same match and groups. */
	found = re_search(re, text + start, size - start, 0, &m);
	found_nfa = re_search(nfa, text + start, size - start, 0, &mn);
	if (found != found_nfa || (found && (m.ngroups != mn.ngroups ||
					     memcmp(m.group, mn.group, m.ngroups * sizeof m.group[0]) != 0)))
		abort();
	if (re_search(re, text + start, size - start, 0, NULL) != found)
		abort();
	if (found && m.group[0].end < size - start)
		re_search(re, text + start, size - start, m.group[0].end + 1, &m);
	re_free(re);
	re_free(nfa);
	return 0;
}
