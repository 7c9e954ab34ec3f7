/* fuzz_proposal.c - fuzzer for lib/proposal: an agent's tool arguments checked and normalised, the document built, and approved changes (routes, credentials, DLP allowances) applied to a plan. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "json.h"
#include "proposal.h"

static const char fixed_plan[] =
	"{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":[{\"host\":\"api.example.com\",\"path_allowlist\":[\"/v1/\"],"
	"\"matches\":[{\"methods\":[\"GET\"],\"paths\":[{\"type\":\"prefix\",\"value\":\"/v1/\"}]}]}]},"
	"\"dns\":{\"allow\":[\"api.example.com\"]}}";

static void merge(const char *plan_text, size_t n, const cJSON *req)
{
	cJSON *plan = json_parse("plan", plan_text, n, NULL);
	char what[256];
	int rc;

	if (!plan)
		return;
	rc = proposal_route_merge(plan, req, what, sizeof what, NULL);
	CHECK(rc >= -1 && rc <= 1);
	/* once merged, the same request is already allowed */
	if (rc == 1)
		CHECK(proposal_route_merge(plan, req, what, sizeof what, NULL) == 0);
	cJSON_Delete(plan);
}

/* Any approved proposal applied to a plan: a change is checked, and applying it twice changes nothing more. */
static void apply(const char *plan_text, size_t n, const cJSON *doc)
{
	cJSON *plan = json_parse("plan", plan_text, n, NULL);
	char what[800];
	int rc;

	if (!plan)
		return;
	rc = proposal_policy_apply(plan, doc, what, sizeof what, NULL);
	CHECK(rc >= -1 && rc <= 1);
	if (rc == 1)
		CHECK(proposal_policy_apply(plan, doc, what, sizeof what, NULL) == 0);
	cJSON_Delete(plan);
}

/* Input: tool selector byte, arguments JSON, then optionally "\n--\n" and a plan JSON. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tools[] = { PROPOSAL_TOOL_EGRESS, PROPOSAL_TOOL_CRED, PROPOSAL_TOOL_DLP,
					     PROPOSAL_TOOL_CAPABILITY, PROPOSAL_TOOL_QUESTION, "nope" };
	const char *s = (const char *)data + 1, *sep;
	size_t n, an;
	const char *tool;
	cJSON *args, *req = NULL, *again = NULL, *doc;
	struct bb_err e;

	if (size < 1 || size > 65536)
		return 0;
	tool = tools[data[0] % 6];
	n = size - 1;
	sep = n >= 4 ? memmem(s, n, "\n--\n", 4) : NULL;
	an = sep ? (size_t)(sep - s) : n;
	(void)proposal_id_valid(s, an < 80 ? an : 80);
	args = json_parse("args", s, an, NULL);
	if (!args)
		return 0;
	if (proposal_request_check(tool, args, &req, &e) < 0) {
		CHECK(req == NULL && e.msg[0] != 0);
		cJSON_Delete(args);
		return 0;
	}
	CHECK(proposal_tool_known(tool) && cJSON_IsObject(req));
	/* the normalised request is itself valid arguments, and normalising is idempotent */
	CHECK(proposal_request_check(tool, req, &again, &e) == 0);
	CHECK(cJSON_Compare(req, again, 1));
	doc = proposal_create("0123456789abcdef01234567", "dev", tool, req, 1700000000, &e);
	CHECK(doc != NULL);
	CHECK(!strcmp(proposal_get(doc, "status"), "pending") && !strcmp(proposal_get(doc, "tool"), tool));
	{
		char sum[256];
		proposal_summary(doc, sum, sizeof sum);
		CHECK(strlen(sum) < sizeof sum);
	}
	if (!strcmp(tool, PROPOSAL_TOOL_EGRESS)) {
		if (sep)
			merge(sep + 4, n - an - 4, req);
		else
			merge(fixed_plan, sizeof fixed_plan - 1, req);
	}
	if (sep)
		apply(sep + 4, n - an - 4, doc);
	else
		apply(fixed_plan, sizeof fixed_plan - 1, doc);
	cJSON_Delete(doc);
	cJSON_Delete(again);
	cJSON_Delete(req);
	cJSON_Delete(args);
	return 0;
}
