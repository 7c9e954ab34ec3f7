/* mcp.c - bb supervise's MCP layer: the streamable HTTP rules, sessions, initialize/ping/tools, and the tools themselves. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "fd.h"
#include "json.h"
#include "jsonrpc.h"
#include "log.h"
#include "planfile.h"
#include "route.h"
#include "supervise.h"

/* Newest first; initialize answers with the client's version when it is here, else the first. */
const char *const sv_versions[] = { "2025-11-25", "2025-06-18", "2025-03-26" };
const size_t sv_nversions = sizeof sv_versions / sizeof sv_versions[0];

#define TOOL_LIST_ROUTES "list-egress-routes"
#define TOOL_STATUS "proposal-status"

/* ---- the tool table ---------------------------------------------------------------------------- */

static const char tools_json[] =
	"["
	"{\"name\":\"" TOOL_LIST_ROUTES "\",\"title\":\"List egress routes\","
	"\"description\":\"List the hosts this bottle may reach through egress, with the methods and path prefixes "
	"each allows and whether a credential is injected. Check here before asking for a new route.\","
	"\"inputSchema\":{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false}},"

	"{\"name\":\"" PROPOSAL_TOOL_EGRESS "\",\"title\":\"Ask for an egress route\","
	"\"description\":\"Ask the operator to allow HTTP(S) requests to a host that egress refused, or to widen an "
	"existing route (more methods or path prefixes). Give the exact host, the methods and path prefixes you need "
	"(omit them for any), and why. Waits for the operator's decision; if none comes in time the answer is "
	"status: pending with an id to check later with proposal-status. Once approved the route is live.\","
	"\"inputSchema\":{\"type\":\"object\",\"properties\":{"
	"\"host\":{\"type\":\"string\",\"description\":\"DNS name, e.g. api.github.com (no scheme, port or path)\"},"
	"\"methods\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"HTTP methods, e.g. [\\\"GET\\\"]; omit for any\"},"
	"\"paths\":{\"type\":\"array\",\"items\":{\"type\":\"string\"},\"description\":\"path prefixes, e.g. [\\\"/repos/org/\\\"]; omit for any\"},"
	"\"reason\":{\"type\":\"string\",\"description\":\"why the task needs this\"}},"
	"\"required\":[\"host\",\"reason\"],\"additionalProperties\":false}},"

	"{\"name\":\"" PROPOSAL_TOOL_CRED "\",\"title\":\"Ask for a credential on a route\","
	"\"description\":\"Ask the operator to attach a credential (an API token egress injects; you never see it) to "
	"requests to a host egress already routes, e.g. after a 401 from an API. Waits for the decision like "
	"egress-block; once approved, retry: egress adds the credential to your requests to that host.\","
	"\"inputSchema\":{\"type\":\"object\",\"properties\":{"
	"\"host\":{\"type\":\"string\",\"description\":\"DNS name the credential is for\"},"
	"\"scheme\":{\"type\":\"string\",\"enum\":[\"Bearer\",\"token\"],\"description\":\"Authorization scheme (default Bearer)\"},"
	"\"reason\":{\"type\":\"string\",\"description\":\"what needs the credential and why\"}},"
	"\"required\":[\"host\",\"reason\"],\"additionalProperties\":false}},"

	"{\"name\":\"" PROPOSAL_TOOL_DLP "\",\"title\":\"Report a DLP false positive\","
	"\"description\":\"Tell the operator that egress blocked a request or response for a secret or prompt-injection "
	"finding you believe is a false positive. Name the host and the rule egress reported; do not paste the "
	"flagged content. Waits for the decision like egress-block; once approved, findings of that rule pass on "
	"that host only (every other rule, and every other host, is still checked).\","
	"\"inputSchema\":{\"type\":\"object\",\"properties\":{"
	"\"host\":{\"type\":\"string\"},"
	"\"rule\":{\"type\":\"string\",\"description\":\"the rule id from egress's refusal\"},"
	"\"direction\":{\"type\":\"string\",\"enum\":[\"outbound\",\"inbound\"],\"description\":\"default outbound\"},"
	"\"reason\":{\"type\":\"string\",\"description\":\"why this is a false positive\"}},"
	"\"required\":[\"host\",\"rule\",\"reason\"],\"additionalProperties\":false}},"

	"{\"name\":\"" PROPOSAL_TOOL_CAPABILITY "\",\"title\":\"Ask for a capability change\","
	"\"description\":\"Ask the operator for a change to the bottle itself: a tool or package (a different image "
	"as your root), a host directory to read. Such a change takes effect only when the operator stops and "
	"resumes the bottle, never in this run; the answer says when. Waits for the decision like egress-block.\","
	"\"inputSchema\":{\"type\":\"object\",\"properties\":{"
	"\"capability\":{\"type\":\"string\",\"description\":\"what you need, in a few words\"},"
	"\"reason\":{\"type\":\"string\"}},"
	"\"required\":[\"capability\",\"reason\"],\"additionalProperties\":false}},"

	"{\"name\":\"" PROPOSAL_TOOL_QUESTION "\",\"title\":\"Ask the operator\","
	"\"description\":\"Ask the operator a free-form question; the answer comes back in notes. Waits like "
	"egress-block.\","
	"\"inputSchema\":{\"type\":\"object\",\"properties\":{"
	"\"question\":{\"type\":\"string\"}},"
	"\"required\":[\"question\"],\"additionalProperties\":false}},"

	"{\"name\":\"" TOOL_STATUS "\",\"title\":\"Check a proposal\","
	"\"description\":\"The status of a proposal (pending, approved or rejected) and the operator's notes, by the "
	"id an earlier call returned. wait_seconds > 0 waits up to that long (capped by the server) for a decision.\","
	"\"inputSchema\":{\"type\":\"object\",\"properties\":{"
	"\"id\":{\"type\":\"string\"},"
	"\"wait_seconds\":{\"type\":\"number\",\"minimum\":0}},"
	"\"required\":[\"id\"],\"additionalProperties\":false}}"
	"]";

int sv_tools_build(struct sup *s)
{
	cJSON *r = cJSON_CreateObject(), *tools = cJSON_Parse(tools_json);
	if (!r || !tools) {
		cJSON_Delete(r);
		cJSON_Delete(tools);
		return -1;
	}
	cJSON_AddItemToObject(r, "tools", tools);
	s->tools_result = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	if (!s->tools_result)
		return -1;
	s->tools_result_len = strlen(s->tools_result);
	return 0;
}

/* ---- replies --------------------------------------------------------------------------------- */

static void reply_result(struct sconn *c, const cJSON *id, const cJSON *result, const char *extra_headers)
{
	struct buf b = BUF_INIT(SV_OUT_MAX - 4096);
	struct bb_err e;
	if (jsonrpc_write_result(&b, id, result, &e) < 0) {
		buf_reset(&b);
		if (jsonrpc_write_error(&b, id, JSONRPC_INTERNAL_ERROR, "Internal error: the answer is too large", NULL,
					NULL) < 0) {
			buf_free(&b);
			sv_conn_close(c);
			return;
		}
	}
	sv_reply(c, 200, extra_headers, "application/json", b.p, b.len);
	buf_free(&b);
}

/* A tools/call result: text for the model, structured content for programs, isError for failures of the call. */
static cJSON *tool_result(const char *text, int is_error, cJSON *structured)
{
	cJSON *r = cJSON_CreateObject(), *content = cJSON_AddArrayToObject(r, "content"), *t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "type", "text");
	cJSON_AddStringToObject(t, "text", text);
	cJSON_AddItemToArray(content, t);
	if (structured)
		cJSON_AddItemToObject(r, "structuredContent", structured);
	cJSON_AddBoolToObject(r, "isError", is_error);
	return r;
}

static void reply_tool(struct sconn *c, const cJSON *id, const char *text, int is_error, cJSON *structured)
{
	cJSON *r = tool_result(text, is_error, structured);
	reply_result(c, id, r, NULL);
	cJSON_Delete(r);
}

/* ---- sessions -------------------------------------------------------------------------------- */

static struct session *session_find(struct sup *s, struct sv id)
{
	size_t i;
	if (id.len != SV_SESSION_ID_LEN)
		return NULL;
	for (i = 0; i < SV_SESSION_MAX; i++)
		if (s->sessions[i].id[0] && !memcmp(s->sessions[i].id, id.p, id.len))
			return &s->sessions[i];
	return NULL;
}

static struct session *session_new(struct sup *s, struct bb_err *e)
{
	static const char hex[] = "0123456789abcdef";
	struct session *slot = NULL;
	unsigned char r[SV_SESSION_ID_LEN / 2];
	size_t i;
	for (i = 0; i < SV_SESSION_MAX && !slot; i++)
		if (!s->sessions[i].id[0])
			slot = &s->sessions[i];
	if (!slot) { /* full: the least recently used session goes */
		slot = &s->sessions[0];
		for (i = 1; i < SV_SESSION_MAX; i++)
			if (s->sessions[i].last_ms < slot->last_ms)
				slot = &s->sessions[i];
		log_event(LOG_INFO, "session", "event", "evicted", "session", slot->id, (char *)NULL);
	}
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		bb_errno(e, errno, "getrandom");
		return NULL;
	}
	memset(slot, 0, sizeof *slot);
	for (i = 0; i < sizeof r; i++) {
		slot->id[2 * i] = hex[r[i] >> 4];
		slot->id[2 * i + 1] = hex[r[i] & 15];
	}
	slot->last_ms = loop_now(&s->loop);
	return slot;
}

static int version_supported(struct sv v)
{
	size_t i;
	for (i = 0; i < sv_nversions; i++)
		if (sv_eq_str(v, sv_versions[i]))
			return 1;
	return 0;
}

/* ---- the HTTP rules of the streamable HTTP transport ------------------------------------------- */

static struct sv header(const struct sconn *c, const char *name)
{
	const struct http1_header *h = http1_header_get(c->req.headers, c->req.n_headers, name);
	return h ? h->value : (struct sv){ NULL, 0 };
}

/* Does some Accept header list type (or a wildcard covering it)? */
static int accepts(const struct sconn *c, const char *type, const char *wild)
{
	long i = -1;
	while ((i = http1_header_next(c->req.headers, c->req.n_headers, (size_t)(i + 1), "Accept")) >= 0) {
		struct sv v = c->req.headers[i].value;
		if (http1_token_list_has(v, type) || http1_token_list_has(v, wild) || http1_token_list_has(v, "*/*"))
			return 1;
	}
	return 0;
}

/* Content-Type application/json, with no charset or UTF-8. */
static int json_content_type(struct sv v)
{
	struct sv type, params;
	sv_split(v, ';', &type, &params);
	if (!http1_eq_nocase(sv_trim(type), "application/json"))
		return 0;
	while (params.len) {
		struct sv one, rest, k, val;
		sv_split(params, ';', &one, &rest);
		if (sv_split(sv_trim(one), '=', &k, &val) && http1_eq_nocase(sv_trim(k), "charset")) {
			val = sv_trim(val);
			if (val.len >= 2 && val.p[0] == '"' && val.p[val.len - 1] == '"')
				val = sv_of(val.p + 1, val.len - 2);
			if (!http1_eq_nocase(val, "utf-8") && !http1_eq_nocase(val, "utf8"))
				return 0;
		}
		params = rest;
	}
	return 1;
}

static size_t content_type_count(const struct sconn *c)
{
	long i = -1;
	size_t n = 0;
	while ((i = http1_header_next(c->req.headers, c->req.n_headers, (size_t)(i + 1), "Content-Type")) >= 0)
		n++;
	return n;
}

/* An Origin header, when sent, must be this server's own origin (DNS rebinding). */
static int origin_ok(const struct sconn *c)
{
	struct sv o = header(c, "Origin"), host = c->req.host_header;
	if (!o.p)
		return 1;
	return host.p && o.len == 7 + host.len && !strncasecmp(o.p, "http://", 7) &&
	       !strncasecmp(o.p + 7, host.p, host.len);
}

static void refuse_rpc(struct sconn *c, int status, const cJSON *id, int code, const char *msg)
{
	sv_reply_rpc_error(c, status, NULL, id, code, msg);
}

/* ---- list-egress-routes ------------------------------------------------------------------------ */

static void join_strs(const struct planfile_strs *l, char *out, size_t cap)
{
	size_t used = 0, i;
	out[0] = 0;
	for (i = 0; i < l->n && used < cap; i++)
		used += (size_t)snprintf(out + used, cap - used, "%s%s", used ? "," : "", l->v[i]);
}

/* A list as the plan wrote it; NULL when it wrote none, so the key stays out of the answer as it is out of the plan. */
static cJSON *strs_json(const struct planfile_strs *l)
{
	return l->present ? cJSON_CreateStringArray(l->v, (int)l->n) : NULL;
}

static void tool_list_routes(struct sconn *c, const cJSON *id, const cJSON *args)
{
	struct buf text = BUF_INIT(256u << 10);
	struct bb_err e;
	struct planfile pf;
	cJSON *out = NULL, *list;
	const struct planfile_route *routes;
	size_t nroutes = 0, i, k;
	char msg[700];

	if (cJSON_GetArraySize(args)) {
		reply_tool(c, id, "list-egress-routes takes no arguments", 1, NULL);
		return;
	}
	if (planfile_load(&pf, c->s->policy_path, &e) < 0 || planfile_egress_routes(&pf, &routes, &nroutes, &e) < 0) {
		snprintf(msg, sizeof msg, "cannot read the egress policy: %.600s", e.msg);
		reply_tool(c, id, msg, 1, NULL);
		planfile_free(&pf);
		return;
	}
	out = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(out, "routes");
	buf_printf(&text, &e, "%zu egress route(s); any other host is refused.\n", nroutes);
	for (i = 0; i < nroutes; i++) {
		const struct planfile_route *r = &routes[i];
		const char *host = r->host, *scheme = r->scheme;
		cJSON *o, *mo;
		char pal[600];
		o = cJSON_CreateObject();
		mo = cJSON_CreateArray();
		join_strs(&r->path_allowlist, pal, sizeof pal);
		cJSON_AddStringToObject(o, "host", host);
		if (scheme)
			cJSON_AddStringToObject(o, "credential", scheme);
		else
			cJSON_AddNullToObject(o, "credential");
		cJSON_AddItemToObject(o, "path_allowlist", strs_json(&r->path_allowlist));
		buf_printf(&text, &e, "- %s%s%s%s%s", host, scheme ? " (credential: " : "", scheme ? scheme : "",
			   scheme ? ")" : "", pal[0] ? " paths " : "");
		if (pal[0])
			buf_append_str(&text, pal, &e);
		for (k = 0; k < r->nmatches; k++) {
			const struct planfile_match *m = &r->matches[k];
			cJSON *one = cJSON_CreateObject(), *pv = cJSON_AddArrayToObject(one, "paths");
			char meth[200];
			size_t used = 0, p;
			char ptxt[600] = "";
			join_strs(&m->methods, meth, sizeof meth);
			cJSON_AddItemToObject(one, "methods", strs_json(&m->methods));
			for (p = 0; p < m->npaths; p++) {
				const char *v = m->paths[p].value;
				const char *t = m->paths[p].type == PLANFILE_EXACT ? "exact"
						: m->paths[p].type == PLANFILE_REGEX ? "regex"
										     : NULL;
				cJSON_AddItemToArray(pv, cJSON_CreateString(v));
				if (used < sizeof ptxt)
					used += (size_t)snprintf(ptxt + used, sizeof ptxt - used, "%s%s%s", used ? "," : "",
								 t ? t : "", t ? ":" : "");
				if (used < sizeof ptxt)
					used += (size_t)snprintf(ptxt + used, sizeof ptxt - used, "%s", v);
			}
			if (m->nheaders)
				cJSON_AddTrueToObject(one, "header_conditions");
			cJSON_AddItemToArray(mo, one);
			buf_printf(&text, &e, " [%s %s]", meth[0] ? meth : "any-method", ptxt[0] ? ptxt : "any-path");
		}
		cJSON_AddItemToObject(o, "matches", mo);
		cJSON_AddBoolToObject(o, "git_fetch", r->git_fetch);
		cJSON_AddItemToArray(list, o);
		buf_append_str(&text, "\n", &e);
	}
	buf_append_str(&text, "To reach another host or path, call egress-block.", &e);
	reply_tool(c, id, text.p ? text.p : "", 0, out);
	planfile_free(&pf);
	buf_free(&text);
}

/* ---- proposals: answers ------------------------------------------------------------------------ */

static void answer_doc(struct sconn *c, const cJSON *id, const cJSON *doc, const char *pending_note)
{
	const char *status = proposal_get(doc, "status");
	const cJSON *applied = cJSON_GetObjectItemCaseSensitive(doc, "applied");
	struct buf text = BUF_INIT(64u << 10);
	struct bb_err e;
	cJSON *st = cJSON_CreateObject();
	int pending = !strcmp(status, "pending");
	const char *notes = pending ? pending_note : proposal_get(doc, "note");

	cJSON_AddStringToObject(st, "id", proposal_get(doc, "id"));
	cJSON_AddStringToObject(st, "tool", proposal_get(doc, "tool"));
	cJSON_AddStringToObject(st, "status", status);
	cJSON_AddStringToObject(st, "notes", notes);
	buf_printf(&text, &e, "status: %s\nnotes: %s\nid: %s\ntool: %s\n", status, notes[0] ? notes : "(none)",
		   proposal_get(doc, "id"), proposal_get(doc, "tool"));
	if (applied) {
		cJSON_AddItemToObject(st, "applied", cJSON_Duplicate(applied, 1));
		buf_printf(&text, &e, "applied: %s (%s)\n", proposal_get(applied, "detail"), proposal_get(applied, "result"));
	}
	if (pending)
		buf_printf(&text, &e, "Check again with proposal-status {\"id\": \"%s\"}.\n", proposal_get(doc, "id"));
	reply_tool(c, id, text.p ? text.p : "", 0, st);
	buf_free(&text);
}

void sv_answer(struct sconn *c, const cJSON *doc)
{
	struct sup *s = c->s;
	cJSON *fresh = NULL, *rid = c->rpc_id;
	char note[260], n[24];
	struct bb_err e;

	if (!doc) {
		/* The wait ran out. The decision may have landed without its event being seen yet. */
		if (proposal_read(s->queue_dir, c->wait_id, &fresh, &e) < 0) {
			c->rpc_id = NULL;
			c->state = SC_READ;
			c->wait = WAIT_NONE;
			snprintf(note, sizeof note, "proposal %s can no longer be read: %.120s", c->wait_id, e.msg);
			reply_tool(c, rid, note, 1, NULL);
			cJSON_Delete(rid);
			return;
		}
		if (strcmp(proposal_get(fresh, "status"), "pending")) {
			char id[PROPOSAL_ID_MAX]; /* c may be gone before sv_proposal_event is done with the id */
			snprintf(id, sizeof id, "%s", c->wait_id);
			cJSON_Delete(fresh);
			sv_proposal_event(s, id); /* applies, logs, and answers every waiter (this one too) */
			return;
		}
		doc = fresh;
	}
	c->rpc_id = NULL;
	c->wait = WAIT_NONE;
	c->state = SC_READ;
	if (s->stopping)
		snprintf(note, sizeof note, "supervise is stopping; proposal remains queued");
	else if (c->wait_s > 0)
		snprintf(note, sizeof note, "operator response timed out after %gs; proposal remains queued", c->wait_s);
	else
		snprintf(note, sizeof note, "the operator has not answered yet; proposal remains queued");
	snprintf(n, sizeof n, "%llu", (unsigned long long)c->n);
	log_event(LOG_INFO, "answer", "conn", n, "id", proposal_get(doc, "id"), "status", proposal_get(doc, "status"),
		  (char *)NULL);
	answer_doc(c, rid, doc, note);
	cJSON_Delete(rid);
	cJSON_Delete(fresh);
}

void sv_cancel(struct sup *s, const char *session, const cJSON *id)
{
	struct sconn *c;
	char want[JSONRPC_ID_TEXT_MAX], have[JSONRPC_ID_TEXT_MAX];
	if (!jsonrpc_id_valid(id))
		return;
	jsonrpc_id_text(id, want, sizeof want);
	for (c = s->conns; c; c = c->next) {
		if (c->state != SC_WAIT || strcmp(c->session, session))
			continue;
		jsonrpc_id_text(c->rpc_id, have, sizeof have);
		if (strcmp(want, have) || cJSON_IsString(id) != cJSON_IsString(c->rpc_id))
			continue;
		log_event(LOG_INFO, "cancelled", "id", c->wait_id, "request", want, "note",
			  "the client cancelled the call; the proposal stays queued", (char *)NULL);
		sv_conn_close(c); /* a cancelled request gets no response */
		return;
	}
}

/* ---- proposals: calls ------------------------------------------------------------------------- */

static void park(struct sconn *c, const cJSON *id, const char *pid, enum wait_kind kind, double wait_s,
		 const char *session)
{
	c->rpc_id = cJSON_Duplicate(id, 1);
	c->wait = kind;
	snprintf(c->wait_id, sizeof c->wait_id, "%s", pid);
	snprintf(c->session, sizeof c->session, "%s", session);
	sv_wait(c, wait_s);
}

static void tool_propose(struct sconn *c, const cJSON *id, const char *tool, const cJSON *args, const char *session)
{
	struct sup *s = c->s;
	struct bb_err e;
	cJSON *req = NULL, *doc;
	char pid[PROPOSAL_ID_MAX], msg[700], summary[300];

	if (proposal_request_check(tool, args, &req, &e) < 0) {
		snprintf(msg, sizeof msg, "%s: %.600s", tool, e.msg);
		reply_tool(c, id, msg, 1, NULL);
		return;
	}
	if (sv_pending_count(s) >= SV_PENDING_MAX) {
		cJSON_Delete(req);
		snprintf(msg, sizeof msg,
			 "%d proposals already wait for the operator; check them with proposal-status before filing more",
			 SV_PENDING_MAX);
		reply_tool(c, id, msg, 1, NULL);
		return;
	}
	if (proposal_id_new(pid, &e) < 0 || !(doc = proposal_create(pid, s->bottle, tool, req, time(NULL), &e))) {
		cJSON_Delete(req);
		refuse_rpc(c, 200, id, JSONRPC_INTERNAL_ERROR, "Internal error: cannot create the proposal");
		log_event(LOG_ERROR, "proposal", "error", e.msg, (char *)NULL);
		return;
	}
	cJSON_Delete(req);
	if (proposal_write(s->queue_dir, doc, &e) < 0) {
		cJSON_Delete(doc);
		refuse_rpc(c, 200, id, JSONRPC_INTERNAL_ERROR, "Internal error: cannot queue the proposal");
		log_event(LOG_ERROR, "proposal", "error", e.msg, (char *)NULL);
		return;
	}
	proposal_summary(doc, summary, sizeof summary);
	log_event(LOG_INFO, "proposal", "id", pid, "tool", tool, "bottle", s->bottle, "summary", summary, "reason",
		  proposal_get(cJSON_GetObjectItemCaseSensitive(doc, "request"), "reason"), (char *)NULL);
	cJSON_Delete(doc);
	park(c, id, pid, WAIT_PROPOSAL, s->timeout_s, session);
}

static void tool_status(struct sconn *c, const cJSON *id, const cJSON *args, const char *session)
{
	struct sup *s = c->s;
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(args, "id"), *w = cJSON_GetObjectItemCaseSensitive(args, "wait_seconds"),
		    *it;
	double wait_s = 0;
	struct bb_err e;
	cJSON *doc;
	char msg[300];

	cJSON_ArrayForEach(it, args)
	if (strcmp(it->string, "id") && strcmp(it->string, "wait_seconds")) {
		snprintf(msg, sizeof msg, "proposal-status: unknown argument '%.60s' (known: id, wait_seconds)", it->string);
		reply_tool(c, id, msg, 1, NULL);
		return;
	}
	if (!cJSON_IsString(pid) || !proposal_id_valid(pid->valuestring, strlen(pid->valuestring))) {
		reply_tool(c, id, "proposal-status: id must be the proposal id an earlier call returned", 1, NULL);
		return;
	}
	if (w && (!cJSON_IsNumber(w) || !(w->valuedouble >= 0))) {
		reply_tool(c, id, "proposal-status: wait_seconds must be a number >= 0", 1, NULL);
		return;
	}
	if (w)
		wait_s = w->valuedouble < s->timeout_s ? w->valuedouble : s->timeout_s;
	if (proposal_read(s->queue_dir, pid->valuestring, &doc, &e) < 0) {
		snprintf(msg, sizeof msg, "proposal-status: no proposal %s in this bottle's queue", pid->valuestring);
		reply_tool(c, id, msg, 1, NULL);
		return;
	}
	if (!strcmp(proposal_get(doc, "status"), "pending") && wait_s > 0) {
		cJSON_Delete(doc);
		park(c, id, pid->valuestring, WAIT_STATUS, wait_s, session);
		return;
	}
	answer_doc(c, id, doc, "the operator has not answered yet; proposal remains queued");
	cJSON_Delete(doc);
}

static void tools_call(struct sconn *c, const cJSON *id, const cJSON *params, const char *session)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
	char msg[200];

	if (!cJSON_IsString(name)) {
		refuse_rpc(c, 200, id, JSONRPC_INVALID_PARAMS, "Invalid params: tools/call needs a string \"name\"");
		return;
	}
	if (args && !cJSON_IsObject(args) && !cJSON_IsNull(args)) {
		refuse_rpc(c, 200, id, JSONRPC_INVALID_PARAMS, "Invalid params: \"arguments\" must be an object");
		return;
	}
	if (cJSON_IsNull(args))
		args = NULL;
	if (!strcmp(name->valuestring, TOOL_LIST_ROUTES))
		tool_list_routes(c, id, args);
	else if (!strcmp(name->valuestring, TOOL_STATUS))
		tool_status(c, id, args, session);
	else if (proposal_tool_known(name->valuestring))
		tool_propose(c, id, name->valuestring, args, session);
	else {
		snprintf(msg, sizeof msg, "Unknown tool: %.100s", name->valuestring);
		refuse_rpc(c, 200, id, JSONRPC_INVALID_PARAMS, msg);
	}
}

/* ---- methods ---------------------------------------------------------------------------------- */

static void do_initialize(struct sconn *c, const cJSON *id, const cJSON *params)
{
	struct sup *s = c->s;
	const cJSON *pv = cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
	const cJSON *caps = cJSON_GetObjectItemCaseSensitive(params, "capabilities");
	const cJSON *ci = cJSON_GetObjectItemCaseSensitive(params, "clientInfo");
	const char *cname = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ci, "name"));
	struct session *ss;
	struct bb_err e;
	cJSON *r, *cap, *info;
	char hdr[96], instr[600];
	const char *version = sv_versions[0];

	if (!cJSON_IsString(pv) || !cJSON_IsObject(caps) || !cJSON_IsObject(ci) || !cname) {
		refuse_rpc(c, 200, id, JSONRPC_INVALID_PARAMS,
			   "Invalid params: initialize needs protocolVersion (string), capabilities (object) and "
			   "clientInfo (object with a name)");
		return;
	}
	if (version_supported(sv_from(pv->valuestring)))
		version = pv->valuestring;
	ss = session_new(s, &e);
	if (!ss) {
		refuse_rpc(c, 200, id, JSONRPC_INTERNAL_ERROR, "Internal error: cannot make a session id");
		return;
	}
	snprintf(ss->version, sizeof ss->version, "%s", version);
	snprintf(ss->client, sizeof ss->client, "%s", cname);
	log_event(LOG_INFO, "session", "event", "initialize", "session", ss->id, "client", ss->client, "requested",
		  pv->valuestring, "version", ss->version, (char *)NULL);

	r = cJSON_CreateObject();
	cJSON_AddStringToObject(r, "protocolVersion", version);
	cap = cJSON_AddObjectToObject(r, "capabilities");
	cJSON_AddFalseToObject(cJSON_AddObjectToObject(cap, "tools"), "listChanged");
	info = cJSON_AddObjectToObject(r, "serverInfo");
	cJSON_AddStringToObject(info, "name", "bb-supervise");
	cJSON_AddStringToObject(info, "title", "bb supervise: ask the bottle's operator");
	cJSON_AddStringToObject(info, "version", BB_VERSION);
	snprintf(instr, sizeof instr,
		 "This server reaches the human operator of your sandbox (bottle %s). Use list-egress-routes to see "
		 "what the network allows, egress-block / cred-block / dlp-block / capability-block to ask for more, "
		 "ask-operator for questions. A call waits up to %gs for the operator; after that it returns "
		 "status: pending and an id to check with proposal-status.",
		 s->bottle[0] ? s->bottle : "(unnamed)", s->timeout_s);
	cJSON_AddStringToObject(r, "instructions", instr);
	snprintf(hdr, sizeof hdr, "Mcp-Session-Id: %s\r\n", ss->id);
	reply_result(c, id, r, hdr);
	cJSON_Delete(r);
}

static void do_notification(struct sconn *c, struct session *ss, const struct jsonrpc_msg *m)
{
	if (!strcmp(m->method, "notifications/initialized"))
		ss->initialized = 1;
	else if (!strcmp(m->method, "notifications/cancelled"))
		sv_cancel(c->s, ss->id, cJSON_GetObjectItemCaseSensitive(m->params, "requestId"));
	sv_reply(c, 202, NULL, NULL, NULL, 0);
}

void sv_handle(struct sconn *c)
{
	struct sup *s = c->s;
	struct jsonrpc_msg m;
	struct jsonrpc_fail f;
	struct session *ss;
	struct sv sid, pv;
	char msg[200];

	if (s->stopping) {
		c->close_after = 1;
		refuse_rpc(c, 503, NULL, JSONRPC_SERVER_ERROR, "Service Unavailable: supervise is stopping");
		return;
	}
	if (c->req.form != HTTP1_FORM_ORIGIN || !(sv_eq_str(c->req.path, "/") || sv_eq_str(c->req.path, "/mcp"))) {
		refuse_rpc(c, 404, NULL, JSONRPC_SERVER_ERROR, "Not Found: the MCP endpoint is / (or /mcp)");
		return;
	}
	if (!origin_ok(c)) {
		refuse_rpc(c, 403, NULL, JSONRPC_SERVER_ERROR, "Forbidden: Origin is not this server");
		return;
	}
	sid = header(c, "Mcp-Session-Id");
	if (sv_eq_str(c->req.method, "DELETE")) {
		if (!sid.p) {
			refuse_rpc(c, 400, NULL, JSONRPC_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required");
			return;
		}
		ss = session_find(s, sid);
		if (!ss) {
			refuse_rpc(c, 404, NULL, JSONRPC_SERVER_ERROR, "Session not found");
			return;
		}
		log_event(LOG_INFO, "session", "event", "deleted", "session", ss->id, (char *)NULL);
		memset(ss, 0, sizeof *ss);
		sv_reply(c, 200, NULL, NULL, NULL, 0);
		return;
	}
	if (!sv_eq_str(c->req.method, "POST")) {
		/* No server-to-client stream: GET is the SSE stream this server does not offer. */
		sv_reply_rpc_error(c, 405, "Allow: POST, DELETE\r\n", NULL, JSONRPC_SERVER_ERROR,
				   "Method Not Allowed: POST JSON-RPC messages; this server offers no SSE stream");
		return;
	}
	if (!json_content_type(header(c, "Content-Type")) || content_type_count(c) != 1) {
		refuse_rpc(c, 415, NULL, JSONRPC_SERVER_ERROR, "Unsupported Media Type: Content-Type must be application/json");
		return;
	}
	if (!accepts(c, "application/json", "application/*") || !accepts(c, "text/event-stream", "text/*")) {
		refuse_rpc(c, 406, NULL, JSONRPC_SERVER_ERROR,
			   "Not Acceptable: Accept must list application/json and text/event-stream");
		return;
	}
	pv = header(c, "MCP-Protocol-Version");
	if (pv.p && !version_supported(pv)) {
		snprintf(msg, sizeof msg, "Bad Request: unsupported MCP-Protocol-Version (supported: %s, %s, %s)",
			 sv_versions[0], sv_versions[1], sv_versions[2]);
		refuse_rpc(c, 400, NULL, JSONRPC_SERVER_ERROR, msg);
		return;
	}
	if (jsonrpc_parse(c->body.p ? c->body.p : "", c->body.len, &m, &f) < 0) {
		refuse_rpc(c, 400, m.id, f.code, f.message);
		jsonrpc_msg_free(&m);
		return;
	}
	if (m.kind == JSONRPC_REQUEST && !strcmp(m.method, "initialize")) {
		if (sid.p)
			refuse_rpc(c, 400, m.id, JSONRPC_INVALID_REQUEST,
				   "Invalid Request: initialize starts a session; send it without Mcp-Session-Id");
		else
			do_initialize(c, m.id, m.params);
		jsonrpc_msg_free(&m);
		return;
	}
	if (!sid.p) {
		refuse_rpc(c, 400, m.id, JSONRPC_SERVER_ERROR,
			   "Bad Request: Mcp-Session-Id header is required (send initialize first)");
		jsonrpc_msg_free(&m);
		return;
	}
	ss = session_find(s, sid);
	if (!ss) {
		refuse_rpc(c, 404, m.id, JSONRPC_SERVER_ERROR, "Session not found: initialize a new session");
		jsonrpc_msg_free(&m);
		return;
	}
	ss->last_ms = loop_now(&s->loop);
	if (m.kind == JSONRPC_NOTIFICATION) {
		do_notification(c, ss, &m);
	} else if (m.kind == JSONRPC_RESPONSE) {
		sv_reply(c, 202, NULL, NULL, NULL, 0); /* this server sends no requests; nothing to match */
	} else if (!strcmp(m.method, "ping")) {
		reply_result(c, m.id, NULL, NULL);
	} else if (!strcmp(m.method, "tools/list")) {
		struct buf b = BUF_INIT(SV_OUT_MAX);
		if (jsonrpc_write_result_text(&b, m.id, s->tools_result, s->tools_result_len, NULL) < 0)
			refuse_rpc(c, 200, m.id, JSONRPC_INTERNAL_ERROR, "Internal error");
		else
			sv_reply(c, 200, NULL, "application/json", b.p, b.len);
		buf_free(&b);
	} else if (!strcmp(m.method, "tools/call")) {
		char session[SV_SESSION_ID_LEN + 1];
		snprintf(session, sizeof session, "%s", ss->id);
		tools_call(c, m.id, m.params, session);
	} else {
		snprintf(msg, sizeof msg, "Method not found: %.100s", m.method);
		refuse_rpc(c, 200, m.id, JSONRPC_METHOD_NOT_FOUND, msg);
	}
	jsonrpc_msg_free(&m);
}
