/* fuzz_jsonrpc.c - fuzzer for the JSON-RPC layer (lib/jsonrpc) and the tool-argument checks (lib/proposal) behind it. */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "jsonrpc.h"
#include "proposal.h"

/* What a message promises: the kinds are consistent, and an answer to it parses back with the same id. */
static void check_message(const struct jsonrpc_msg *m)
{
	struct buf b = BUF_INIT(JSONRPC_MAX_BYTES * 2);
	struct jsonrpc_msg back;
	struct jsonrpc_fail f;
	char a[JSONRPC_ID_TEXT_MAX], z[JSONRPC_ID_TEXT_MAX];

	if (m->kind == JSONRPC_REQUEST && (!m->id || !m->method || !m->method[0]))
		abort();
	if (m->kind == JSONRPC_NOTIFICATION && (m->id || !m->method))
		abort();
	if (m->kind == JSONRPC_RESPONSE && (!!m->result == !!m->error || (!m->id && !m->error)))
		abort();
	if (m->params && !cJSON_IsObject(m->params))
		abort();
	if (jsonrpc_write_error(&b, m->id, JSONRPC_INVALID_PARAMS, m->method ? m->method : "x", m->params, NULL) == 0) {
		if (jsonrpc_parse(b.p, b.len, &back, &f) != 0 || back.kind != JSONRPC_RESPONSE)
			abort();
		jsonrpc_id_text(m->id, a, sizeof a);
		jsonrpc_id_text(back.id, z, sizeof z);
		if (strcmp(a, z))
			abort();
		jsonrpc_msg_free(&back);
	}
	buf_reset(&b);
	if (m->id && jsonrpc_write_result(&b, m->id, m->params, NULL) == 0) {
		if (jsonrpc_parse(b.p, b.len, &back, &f) != 0 || back.kind != JSONRPC_RESPONSE)
			abort();
		jsonrpc_msg_free(&back);
	}
	buf_free(&b);
}

/* tools/call arguments go through the same checks supervise applies; a normalised request re-checks the same. */
static void check_tool_call(const struct jsonrpc_msg *m)
{
	const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m->params, "name"));
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(m->params, "arguments");
	cJSON *out = NULL, *again = NULL;
	char summary[300];

	if (!name || !proposal_tool_known(name))
		return;
	if (proposal_request_check(name, args, &out, NULL) == 0) {
		if (proposal_request_check(name, out, &again, NULL) != 0 || !cJSON_Compare(out, again, 1))
			abort();
		cJSON *doc = proposal_create("fuzz", "b", name, out, 0, NULL);
		if (!doc)
			abort();
		proposal_summary(doc, summary, sizeof summary);
		cJSON_Delete(doc);
	}
	cJSON_Delete(out);
	cJSON_Delete(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jsonrpc_msg m;
	struct jsonrpc_fail f;

	if (jsonrpc_parse((const char *)data, size, &m, &f) == 0) {
		check_message(&m);
		if (m.method && !strcmp(m.method, "tools/call"))
			check_tool_call(&m);
	} else if ((f.code != JSONRPC_PARSE_ERROR && f.code != JSONRPC_INVALID_REQUEST) || !f.message[0]) {
		abort();
	}
	jsonrpc_msg_free(&m);
	return 0;
}
