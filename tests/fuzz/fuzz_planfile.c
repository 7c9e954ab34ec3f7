/* fuzz_planfile.c - fuzzer for the plan reader (lib/planfile): the schema check and every part read into typed structs. */
#include <string.h>

#include "fuzz.h"
#include "planfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct planfile pf;
	const struct planfile_route *r;
	struct planfile_dns d;
	struct planfile_git_gate g;
	size_t n, i, j;

	if (planfile_parse(&pf, "fuzz", (const char *)data, size, NULL) < 0)
		return 0;
	if (planfile_egress_routes(&pf, &r, &n, NULL) == 0)
		for (i = 0; i < n; i++) { /* every string handed out is there and terminated */
			CHECK(r[i].host && (!r[i].auth || r[i].token_slot));
			for (j = 0; j < r[i].nmatches; j++)
				CHECK(!r[i].matches[j].npaths || r[i].matches[j].paths[0].value);
			(void)strlen(r[i].host);
		}
	if (planfile_dns(&pf, &d, NULL) == 0)
		for (i = 0; i < d.allow.n; i++)
			(void)strlen(d.allow.v[i]);
	if (planfile_git_gate(&pf, &g, NULL) == 0)
		for (i = 0; i < g.nrepos; i++)
			CHECK(g.repos[i].port <= 65535);
	planfile_free(&pf);
	return 0;
}
