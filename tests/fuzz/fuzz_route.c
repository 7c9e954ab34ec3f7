/* fuzz_route.c - fuzzer for the egress policy loader and the route decision (lib/route): a policy, then requests against it. */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "route.h"

/*
 * Input: policy JSON, a line "--", then request lines "METHOD TARGET" each
 * followed by header lines "Name: value" and an empty line. Without a
 * policy part a fixed one is used, so the request side is reached often.
 */
static const char fixed[] = "{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":[{\"host\":\"a.test\","
			    "\"path_allowlist\":[\"/v1/\"],\"matches\":[{\"paths\":[{\"type\":\"regex\",\"value\":\"^/v1/[a-z]+$\"},{\"type\":\"exact\",\"value\":\"/v1/x\"}],"
			    "\"methods\":[\"GET\"],\"headers\":[{\"name\":\"X-A\",\"value\":\"^b+$\",\"type\":\"regex\"}]}]},"
			    "{\"host\":\"g.test\",\"git_fetch\":true}]}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *sep = size >= 4 ? memmem(s, size, "\n--\n", 4) : NULL;
	const char *req = sep ? sep + 4 : s, *end = s + size;
	struct route_policy *p = NULL;
	size_t k;

	if (sep ? route_policy_parse("fuzz", s, (size_t)(sep - s), &p, NULL) : route_policy_parse("fixed", fixed, sizeof fixed - 1, &p, NULL))
		return 0;
	while (req < end) {
		const char *nl = memchr(req, '\n', (size_t)(end - req)), *sp;
		size_t ll = nl ? (size_t)(nl - req) : (size_t)(end - req);
		struct route_hdr h[16];
		size_t nh = 0;
		struct route_req q;
		struct route_verdict v;
		const char *line = req;

		req += ll + (nl ? 1 : 0);
		sp = memchr(line, ' ', ll);
		if (!sp)
			continue;
		while (req < end && nh < 16) { /* headers until an empty line */
			const char *hn = memchr(req, '\n', (size_t)(end - req)), *colon;
			size_t hl = hn ? (size_t)(hn - req) : (size_t)(end - req);
			if (!hl) {
				req++;
				break;
			}
			colon = memchr(req, ':', hl);
			if (colon)
				h[nh++] = (struct route_hdr){ req, (size_t)(colon - req), colon + 1,
							      hl - (size_t)(colon - req) - 1 };
			req += hl + (hn ? 1 : 0);
		}
		q = (struct route_req){ line, (size_t)(sp - line), sp + 1, ll - (size_t)(sp - line) - 1, h, nh };
		for (k = 0; k < p->nroutes; k++) {
			route_decide(&p->routes[k], &q, &v);
			if (!v.rule || (v.allow && strcmp(v.rule, "allow")))
				__builtin_trap();
		}
	}
	route_policy_unref(p);
	return 0;
}
