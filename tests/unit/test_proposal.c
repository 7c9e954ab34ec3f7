/* test_proposal.c - unit tests for lib/proposal: ids, the agent's requests checked, queue files, decisions, route merges. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"
#include "json.h"
#include "proposal.h"
#include "route.h"
#include "scan.h"
#include "t.h"

static char dir[256];

static cJSON *J(const char *s)
{
	cJSON *j = cJSON_Parse(s);
	if (!j)
		printf("#   bad test JSON: %s\n", s);
	return j;
}

/* The compact JSON of j (static buffer). */
static const char *str(const cJSON *j)
{
	static char out[8192];
	char *p = cJSON_PrintUnformatted(j);
	snprintf(out, sizeof out, "%s", p ? p : "(null)");
	cJSON_free(p);
	return out;
}

/* Check args for tool: ok → the normalised request must be want; else the message must contain want. */
static void req(const char *tool, const char *args, int ok, const char *want)
{
	cJSON *a = args ? J(args) : NULL, *out = NULL;
	struct bb_err e = { 0 };
	int rc = proposal_request_check(tool, a, &out, &e);
	if (ok) {
		T_CHECK(rc == 0);
		if (rc == 0)
			T_STREQ(str(out), want);
		else
			printf("#   %s %s: %s\n", tool, args ? args : "", e.msg);
	} else {
		T_CHECK(rc == -1 && out == NULL);
		if (rc == -1 && !strstr(e.msg, want))
			printf("#   %s %s: '%s' lacks '%s'\n", tool, args ? args : "", e.msg, want);
		T_CHECK(rc == -1 && strstr(e.msg, want));
	}
	cJSON_Delete(a);
	cJSON_Delete(out);
}

static void ids(void)
{
	char a[PROPOSAL_ID_MAX], b[PROPOSAL_ID_MAX], long_id[80];
	T_CHECK(proposal_id_valid("abc-123", 7));
	T_CHECK(!proposal_id_valid("", 0));
	T_CHECK(!proposal_id_valid("-abc", 4));
	T_CHECK(!proposal_id_valid("ABC", 3));
	T_CHECK(!proposal_id_valid("../x", 4));
	T_CHECK(!proposal_id_valid("a/b", 3));
	T_CHECK(!proposal_id_valid("a.json", 6));
	memset(long_id, 'a', sizeof long_id);
	T_CHECK(proposal_id_valid(long_id, PROPOSAL_ID_MAX - 1));
	T_CHECK(!proposal_id_valid(long_id, PROPOSAL_ID_MAX));
	T_CHECK(proposal_id_new(a, NULL) == 0 && proposal_id_new(b, NULL) == 0);
	T_CHECK(strlen(a) == 24 && proposal_id_valid(a, strlen(a)) && strcmp(a, b));
}

static void egress_requests(void)
{
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"API.GitHub.com\",\"methods\":[\"get\",\"GET\",\"post\"],\"paths\":[\"/repos/\",\"/repos/\"],\"reason\":\"r\"}", 1,
	    "{\"host\":\"api.github.com\",\"methods\":[\"GET\",\"POST\"],\"paths\":[\"/repos/\"],\"reason\":\"r\"}");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"multi\\nline\"}", 1,
	    "{\"host\":\"a.example.com\",\"methods\":[],\"paths\":[],\"reason\":\"multi\\nline\"}");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"methods\":null,\"reason\":\"r\"}", 1,
	    "{\"host\":\"a.example.com\",\"methods\":[],\"paths\":[],\"reason\":\"r\"}");
	req(PROPOSAL_TOOL_EGRESS, "{\"reason\":\"r\"}", 0, "host is required");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\"}", 0, "reason is required");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"  \"}", 0, "reason must not be empty");
	req(PROPOSAL_TOOL_EGRESS, NULL, 0, "host is required");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":7,\"reason\":\"r\"}", 0, "host must be a string");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"https://a.example.com/\",\"reason\":\"r\"}", 0, "not a DNS name");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com:443\",\"reason\":\"r\"}", 0, "not a DNS name");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com.\",\"reason\":\"r\"}", 0, "not a DNS name");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"localhost\",\"reason\":\"r\"}", 0, "fully qualified");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"10.0.0.1\",\"reason\":\"r\"}", 0, "IP address");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"127.1\",\"reason\":\"r\"}", 0, "");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"[::1]\",\"reason\":\"r\"}", 0, "IP address");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a\\u0001.example.com\",\"reason\":\"r\"}", 0, "control characters");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"port\":443}", 0, "unknown argument 'port'");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"methods\":\"GET\"}", 0, "methods must be a list");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"methods\":[\"G T\"]}", 0, "not an HTTP method");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"methods\":[1]}", 0, "only strings");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"paths\":[\"v1\"]}", 0, "not a path prefix");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"paths\":[\"/a/../b\"]}", 0, "not a path prefix");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"paths\":[\"/a/..\"]}", 0, "not a path prefix");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"paths\":[\"/./b\"]}", 0, "not a path prefix");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"paths\":[\"/a?b=1\"]}", 0, "not a path prefix");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"paths\":[\"/a b\"]}", 0, "not a path prefix");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"paths\":[\"/a..b/.well-known/\"]}", 1,
	    "{\"host\":\"a.example.com\",\"methods\":[],\"paths\":[\"/a..b/.well-known/\"],\"reason\":\"r\"}");
	req(PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\",\"paths\":[\"/1\",\"/2\",\"/3\",\"/4\",\"/5\",\"/6\","
				  "\"/7\",\"/8\",\"/9\",\"/10\",\"/11\",\"/12\",\"/13\",\"/14\",\"/15\",\"/16\",\"/17\",\"/18\",\"/19\","
				  "\"/20\",\"/21\",\"/22\",\"/23\",\"/24\",\"/25\",\"/26\",\"/27\",\"/28\",\"/29\",\"/30\",\"/31\",\"/32\",\"/33\"]}",
	    0, "at most 32");
}

static void reason_length_is_capped(void)
{
	char args[2200];
	int n = snprintf(args, sizeof args, "{\"host\":\"a.example.com\",\"reason\":\"");
	memset(args + n, 'x', 2001);
	snprintf(args + n + 2001, sizeof args - (size_t)n - 2001, "\"}");
	req(PROPOSAL_TOOL_EGRESS, args, 0, "longer than 2000");
}

static void other_requests(void)
{
	req(PROPOSAL_TOOL_CRED, "{\"host\":\"api.example.com\",\"reason\":\"401\"}", 1,
	    "{\"host\":\"api.example.com\",\"scheme\":\"Bearer\",\"reason\":\"401\"}");
	req(PROPOSAL_TOOL_CRED, "{\"host\":\"api.example.com\",\"scheme\":\"token\",\"reason\":\"401\"}", 1,
	    "{\"host\":\"api.example.com\",\"scheme\":\"token\",\"reason\":\"401\"}");
	req(PROPOSAL_TOOL_CRED, "{\"host\":\"api.example.com\",\"scheme\":\"Basic\",\"reason\":\"401\"}", 0, "Bearer or token");
	req(PROPOSAL_TOOL_CRED, "{\"host\":\"api.example.com\",\"token\":\"x\",\"reason\":\"r\"}", 0, "unknown argument 'token'");
	req(PROPOSAL_TOOL_DLP, "{\"host\":\"api.example.com\",\"rule\":\"aws-key\",\"reason\":\"fixture\"}", 1,
	    "{\"host\":\"api.example.com\",\"rule\":\"aws-key\",\"direction\":\"outbound\",\"reason\":\"fixture\"}");
	req(PROPOSAL_TOOL_DLP, "{\"host\":\"api.example.com\",\"rule\":\"x\",\"direction\":\"sideways\",\"reason\":\"r\"}", 0,
	    "outbound or inbound");
	req(PROPOSAL_TOOL_DLP, "{\"host\":\"api.example.com\",\"reason\":\"r\"}", 0, "rule is required");
	req(PROPOSAL_TOOL_CAPABILITY, "{\"capability\":\"ripgrep\",\"reason\":\"search\"}", 1,
	    "{\"capability\":\"ripgrep\",\"reason\":\"search\"}");
	req(PROPOSAL_TOOL_CAPABILITY, "{\"capability\":\"a\\nb\",\"reason\":\"r\"}", 0, "control characters");
	req(PROPOSAL_TOOL_QUESTION, "{\"question\":\"Which branch?\\nmain or dev\"}", 1,
	    "{\"question\":\"Which branch?\\nmain or dev\"}");
	req(PROPOSAL_TOOL_QUESTION, "{}", 0, "question is required");
	req(PROPOSAL_TOOL_QUESTION, "{\"question\":\"\\u001b[2Jclear\"}", 0, "control characters");
	req(PROPOSAL_TOOL_QUESTION, "{\"question\":\"\\u009b2Jclear\"}", 0, "control characters");
	req(PROPOSAL_TOOL_QUESTION, "{\"question\":\"approve \u202egnp.exe\"}", 0, "control characters");
	req(PROPOSAL_TOOL_QUESTION, "{\"question\":\"tab\\tand \u00e9t\u00e9 \u2014 fine\"}", 1,
	    "{\"question\":\"tab\\tand \u00e9t\u00e9 \u2014 fine\"}");
	req("rm-rf", "{}", 0, "unknown tool");
	req(PROPOSAL_TOOL_QUESTION, "[1]", 0, "must be an object");
}

static void mkqueue(void)
{
	snprintf(dir, sizeof dir, "%s/bb-test-proposal.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir))
		dir[0] = 0;
}

static void rmqueue(void)
{
	char cmd[400];
	if (!dir[0])
		return;
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", dir);
}

static cJSON *make(const char *id, const char *tool, const char *args, time_t t)
{
	cJSON *a = J(args), *r = NULL, *doc = NULL;
	if (proposal_request_check(tool, a, &r, NULL) == 0)
		doc = proposal_create(id, "dev", tool, r, t, NULL);
	cJSON_Delete(a);
	cJSON_Delete(r);
	return doc;
}

static void write_and_read(void)
{
	cJSON *doc = make("abc", PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\"}", 86400), *back = NULL;
	char path[400];
	struct stat st;
	struct bb_err e;
	T_CHECK(doc != NULL);
	T_STREQ(proposal_get(doc, "created"), "1970-01-02T00:00:00Z");
	T_STREQ(proposal_get(doc, "status"), "pending");
	T_STREQ(proposal_get(doc, "schema"), PROPOSAL_SCHEMA);
	T_CHECK(proposal_write(dir, doc, &e) == 0);
	snprintf(path, sizeof path, "%s/abc.json", dir);
	T_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	T_CHECK(proposal_read(dir, "abc", &back, &e) == 0);
	if (back)
		T_STREQ(str(back), str(doc));
	cJSON_Delete(back);
	T_CHECK(proposal_read(dir, "nope", &back, &e) == -1 && e.code == ENOENT);
	T_CHECK(proposal_read(dir, "../abc", &back, &e) == -1 && back == NULL);
	cJSON_Delete(doc);
}

/* A file under an id must hold that id, a known tool and status, the schema. */
static void read_refuses_wrong_documents(void)
{
	static const char *bad[] = {
		"{\"schema\":\"bb.proposal/1\",\"id\":\"other\",\"bottle\":\"\",\"tool\":\"ask-operator\",\"created\":\"x\",\"status\":\"pending\",\"request\":{}}",
		"{\"schema\":\"bb.proposal/2\",\"id\":\"bad\",\"bottle\":\"\",\"tool\":\"ask-operator\",\"created\":\"x\",\"status\":\"pending\",\"request\":{}}",
		"{\"schema\":\"bb.proposal/1\",\"id\":\"bad\",\"bottle\":\"\",\"tool\":\"sudo\",\"created\":\"x\",\"status\":\"pending\",\"request\":{}}",
		"{\"schema\":\"bb.proposal/1\",\"id\":\"bad\",\"bottle\":\"\",\"tool\":\"ask-operator\",\"created\":\"x\",\"status\":\"maybe\",\"request\":{}}",
		"{\"schema\":\"bb.proposal/1\",\"id\":\"bad\",\"bottle\":\"\",\"tool\":\"ask-operator\",\"created\":\"x\",\"status\":\"pending\"}",
		"{\"schema\":\"bb.proposal/1\",\"id\":\"bad\",\"bottle\":\"\",\"tool\":\"ask-operator\",\"created\":\"x\",\"status\":\"pending\",\"request\":{},\"note\":5}",
		"[1,2]",
		"{",
	};
	char path[400];
	size_t i;
	snprintf(path, sizeof path, "%s/bad.json", dir);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cJSON *doc = NULL;
		T_CHECK(fd_write_file_atomic(path, bad[i], strlen(bad[i]), 0600, NULL) == 0);
		T_CHECK(proposal_read(dir, "bad", &doc, NULL) == -1 && doc == NULL);
		cJSON_Delete(doc);
	}
	unlink(path);
}

static void decisions(void)
{
	cJSON *doc = make("dec", PROPOSAL_TOOL_QUESTION, "{\"question\":\"q?\"}", 1000), *out = NULL;
	struct bb_err e;
	T_CHECK(doc && proposal_write(dir, doc, NULL) == 0);
	T_CHECK(proposal_decide(dir, "dec", "maybe", NULL, 2000, NULL, &e) == -1);
	T_CHECK(proposal_decide(dir, "dec", "approved", "bad\001note", 2000, NULL, &e) == -1);
	T_CHECK(proposal_decide(dir, "dec", "approved", "use main\nthanks", 2000, &out, &e) == 0);
	T_STREQ(proposal_get(out, "status"), "approved");
	T_STREQ(proposal_get(out, "note"), "use main\nthanks");
	T_STREQ(proposal_get(out, "decided_at"), "1970-01-01T00:33:20Z");
	cJSON_Delete(out);
	T_CHECK(proposal_decide(dir, "dec", "rejected", NULL, 3000, NULL, &e) == -1);
	T_CHECK(strstr(e.msg, "already approved") != NULL);
	T_CHECK(proposal_decide(dir, "missing", "rejected", NULL, 3000, NULL, &e) == -1 && e.code == ENOENT);
	T_CHECK(proposal_mark_applied(dir, "dec", 1, "done", 4000, &e) == 0);
	T_CHECK(proposal_read(dir, "dec", &out, &e) == 0);
	T_STREQ(str(cJSON_GetObjectItemCaseSensitive(out, "applied")),
		"{\"at\":\"1970-01-01T01:06:40Z\",\"result\":\"ok\",\"detail\":\"done\"}");
	T_STREQ(proposal_get(out, "note"), "use main\nthanks");
	cJSON_Delete(out);
	cJSON_Delete(doc);
}

static void listing(void)
{
	char sub[400], path[500];
	struct proposal_list l;
	cJSON *a = make("zz", PROPOSAL_TOOL_QUESTION, "{\"question\":\"first\"}", 100);
	cJSON *b = make("aa", PROPOSAL_TOOL_QUESTION, "{\"question\":\"second\"}", 200);
	cJSON *c = make("mm", PROPOSAL_TOOL_QUESTION, "{\"question\":\"same time\"}", 200);
	snprintf(sub, sizeof sub, "%s/list", dir);
	mkdir(sub, 0700);
	T_CHECK(proposal_write(sub, a, NULL) == 0 && proposal_write(sub, b, NULL) == 0 && proposal_write(sub, c, NULL) == 0);
	snprintf(path, sizeof path, "%s/broken.json", sub);
	T_CHECK(fd_write_file_atomic(path, "{}", 2, 0600, NULL) == 0);
	snprintf(path, sizeof path, "%s/notes.txt", sub);
	T_CHECK(fd_write_file_atomic(path, "x", 1, 0600, NULL) == 0);
	T_CHECK(proposal_list_read(sub, &l, NULL) == 0);
	T_CHECK(l.n == 3 && l.skipped == 1);
	if (l.n == 3) {
		T_STREQ(proposal_get(l.docs[0], "id"), "zz");
		T_STREQ(proposal_get(l.docs[1], "id"), "aa");
		T_STREQ(proposal_get(l.docs[2], "id"), "mm");
	}
	proposal_list_free(&l);
	snprintf(path, sizeof path, "%s/absent", dir);
	T_CHECK(proposal_list_read(path, &l, NULL) == 0 && l.n == 0);
	cJSON_Delete(a);
	cJSON_Delete(b);
	cJSON_Delete(c);
}

static void summaries(void)
{
	char s[200];
	cJSON *d = make("s1", PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"methods\":[\"GET\",\"PUT\"],\"paths\":[\"/x/\",\"/y\"],\"reason\":\"r\"}", 0);
	proposal_summary(d, s, sizeof s);
	T_STREQ(s, "a.example.com GET,PUT /x/ /y");
	cJSON_Delete(d);
	d = make("s2", PROPOSAL_TOOL_EGRESS, "{\"host\":\"a.example.com\",\"reason\":\"r\"}", 0);
	proposal_summary(d, s, sizeof s);
	T_STREQ(s, "a.example.com any-method any-path");
	cJSON_Delete(d);
	d = make("s3", PROPOSAL_TOOL_QUESTION, "{\"question\":\"two\\nlines\"}", 0);
	proposal_summary(d, s, sizeof s);
	T_STREQ(s, "two lines");
	cJSON_Delete(d);
	d = make("s4", PROPOSAL_TOOL_DLP, "{\"host\":\"a.example.com\",\"rule\":\"jwt\",\"reason\":\"r\"}", 0);
	proposal_summary(d, s, sizeof s);
	T_STREQ(s, "a.example.com rule jwt (outbound)");
	cJSON_Delete(d);
}

static const char plan_json[] =
	"{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":["
	"{\"host\":\"open.example.com\",\"path_allowlist\":[],\"matches\":[]},"
	"{\"host\":\"paths.example.com\",\"auth\":{\"scheme\":\"Bearer\",\"token_slot\":\"BB_EGRESS_TOKEN_0\"},\"path_allowlist\":[\"/v1/\"]},"
	"{\"host\":\"match.example.com\",\"matches\":[{\"paths\":[{\"type\":\"prefix\",\"value\":\"/api/\"}],\"methods\":[\"GET\"]}]}"
	"]},\"dns\":{\"allow\":[\"open.example.com\"]}}";

/* Merge args (an egress-block request) into a fresh plan; returns the merge result, *plan_out the plan. */
static int merge(const char *args, cJSON **plan_out, char *what, size_t cap)
{
	cJSON *plan = J(plan_json), *a = J(args), *r = NULL;
	int rc = -2;
	if (proposal_request_check(PROPOSAL_TOOL_EGRESS, a, &r, NULL) == 0)
		rc = proposal_route_merge(plan, r, what, cap, NULL);
	cJSON_Delete(a);
	cJSON_Delete(r);
	*plan_out = plan;
	return rc;
}

static const cJSON *route_of(const cJSON *plan, const char *host)
{
	const cJSON *it;
	cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(plan, "egress"), "routes"))
	if (!strcmp(proposal_get(it, "host"), host))
		return it;
	return NULL;
}

/* The merged plan must still be a policy egress accepts, and route the way the proposal asked. */
static int decide(const cJSON *plan, const char *host, const char *method, const char *target)
{
	struct buf b = BUF_INIT(1 << 20);
	struct route_policy *p = NULL;
	struct route_verdict v;
	struct route_req q = { method, strlen(method), target, strlen(target), NULL, 0 };
	const struct route *r;
	int allow = -1;
	if (json_print(plan, &b, NULL) == 0 && route_policy_parse("t", b.p, b.len, &p, NULL) == 0) {
		r = route_policy_find(p, host, strlen(host));
		allow = 0;
		if (r) {
			route_decide(r, &q, &v);
			allow = v.allow;
		}
	}
	route_policy_unref(p);
	buf_free(&b);
	return allow;
}

static void merge_adds_a_route(void)
{
	cJSON *plan;
	char what[300];
	T_CHECK(merge("{\"host\":\"new.example.com\",\"methods\":[\"GET\"],\"paths\":[\"/a/\"],\"reason\":\"r\"}", &plan, what,
		      sizeof what) == 1);
	T_STREQ(what, "added route new.example.com (methods GET; paths /a/)");
	T_STREQ(str(route_of(plan, "new.example.com")),
		"{\"host\":\"new.example.com\",\"origin\":\"supervise\",\"auth\":null,\"path_allowlist\":[],\"matches\":[{\"paths\":"
		"[{\"type\":\"prefix\",\"value\":\"/a/\"}],\"methods\":[\"GET\"]}],\"dlp\":{\"outbound\":[\"token_patterns\",\"known_"
		"secrets\"],\"inbound\":[\"naive_injection_detection\"]},\"git_fetch\":false,\"tls_passthrough\":false,\"ssrf_ip_"
		"allowlist\":[],\"roles\":[]}");
	T_STREQ(str(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(plan, "dns"), "allow")),
		"[\"open.example.com\",\"new.example.com\"]");
	T_CHECK(decide(plan, "new.example.com", "GET", "/a/b") == 1);
	T_CHECK(decide(plan, "new.example.com", "POST", "/a/b") == 0);
	T_CHECK(decide(plan, "new.example.com", "GET", "/b") == 0);
	cJSON_Delete(plan);
	T_CHECK(merge("{\"host\":\"any.example.com\",\"reason\":\"r\"}", &plan, what, sizeof what) == 1);
	T_STREQ(what, "added route any.example.com (methods any; paths any)");
	T_CHECK(decide(plan, "any.example.com", "DELETE", "/x") == 1);
	cJSON_Delete(plan);
}

static void merge_already_allowed(void)
{
	cJSON *plan;
	char what[300], before[4096];
	T_CHECK(merge("{\"host\":\"OPEN.example.com\",\"paths\":[\"/x\"],\"reason\":\"r\"}", &plan, what, sizeof what) == 0);
	T_STREQ(what, "route open.example.com already allows this");
	cJSON_Delete(plan);
	T_CHECK(merge("{\"host\":\"paths.example.com\",\"paths\":[\"/v1/deep/\"],\"reason\":\"r\"}", &plan, what, sizeof what) == 0);
	cJSON_Delete(plan);
	T_CHECK(merge("{\"host\":\"match.example.com\",\"methods\":[\"GET\"],\"paths\":[\"/api/x\"],\"reason\":\"r\"}", &plan, what,
		      sizeof what) == 0);
	snprintf(before, sizeof before, "%s", str(plan));
	T_CHECK(strstr(before, "supervise") == NULL); /* untouched */
	cJSON_Delete(plan);
}

static void merge_widens(void)
{
	cJSON *plan;
	char what[300];
	T_CHECK(merge("{\"host\":\"paths.example.com\",\"paths\":[\"/v2/\",\"/v1/x\"],\"reason\":\"r\"}", &plan, what, sizeof what) == 1);
	T_STREQ(what, "widened route paths.example.com; path_allowlist += /v2/");
	T_STREQ(str(cJSON_GetObjectItemCaseSensitive(route_of(plan, "paths.example.com"), "path_allowlist")), "[\"/v1/\",\"/v2/\"]");
	T_STREQ(str(cJSON_GetObjectItemCaseSensitive(route_of(plan, "paths.example.com"), "auth")),
		"{\"scheme\":\"Bearer\",\"token_slot\":\"BB_EGRESS_TOKEN_0\"}");
	T_CHECK(decide(plan, "paths.example.com", "GET", "/v2/q") == 1);
	cJSON_Delete(plan);
	T_CHECK(merge("{\"host\":\"paths.example.com\",\"reason\":\"r\"}", &plan, what, sizeof what) == 1);
	T_STREQ(what, "widened route paths.example.com; path_allowlist cleared");
	T_CHECK(decide(plan, "paths.example.com", "GET", "/anything") == 1);
	cJSON_Delete(plan);
	T_CHECK(merge("{\"host\":\"match.example.com\",\"methods\":[\"POST\"],\"paths\":[\"/api/\"],\"reason\":\"r\"}", &plan, what,
		      sizeof what) == 1);
	T_STREQ(what, "widened route match.example.com; matches += {methods POST; paths /api/}");
	T_CHECK(decide(plan, "match.example.com", "POST", "/api/x") == 1);
	T_CHECK(decide(plan, "match.example.com", "GET", "/api/x") == 1);
	T_CHECK(decide(plan, "match.example.com", "POST", "/other") == 0);
	cJSON_Delete(plan);
	/* dns.allow gets the host once */
	T_CHECK(merge("{\"host\":\"paths.example.com\",\"paths\":[\"/v3/\"],\"reason\":\"r\"}", &plan, what, sizeof what) == 1);
	T_STREQ(str(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(plan, "dns"), "allow")),
		"[\"open.example.com\",\"paths.example.com\"]");
	cJSON_Delete(plan);
}

static void merge_into_bad_plans(void)
{
	cJSON *plan = J("{\"routes\":[]}"), *r = J("{\"host\":\"a.example.com\",\"methods\":[],\"paths\":[],\"reason\":\"r\"}");
	char what[300];
	struct bb_err e;
	/* the egress object alone is no plan (this merge once took it) */
	T_CHECK(proposal_route_merge(plan, r, what, sizeof what, &e) == -1 && strstr(e.msg, "no egress.routes list"));
	cJSON_Delete(plan);
	plan = J("{\"schema\":\"bb.plan/1\",\"egress\":{}}");
	T_CHECK(proposal_route_merge(plan, r, what, sizeof what, &e) == -1 && strstr(e.msg, "routes"));
	cJSON_Delete(plan);
	/* an existing policy egress would refuse stays refused: the merge checks the result */
	plan = J("{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":[{\"host\":\"b.example.com\",\"dlp\":{\"outbound\":[\"bogus\"]}}]}}");
	T_CHECK(proposal_route_merge(plan, r, what, sizeof what, &e) == -1 && strstr(e.msg, "bogus"));
	cJSON_Delete(plan);
	cJSON_Delete(r);
}

/* The policy egress would load from plan: its route for host (the policy in *out, unref'd by the caller). */
static const struct route *loaded_route(const cJSON *plan, const char *host, struct route_policy **out)
{
	struct buf b = BUF_INIT(1 << 20);
	*out = NULL;
	if (json_print(plan, &b, NULL) == 0)
		route_policy_parse("t", b.p, b.len, out, NULL);
	buf_free(&b);
	return *out ? route_policy_find(*out, host, strlen(host)) : NULL;
}

static void cred_slots(void)
{
	char s[128];
	proposal_cred_slot("5d8f0c1e9a7b3c2d4e6f8a0b", s, sizeof s);
	T_STREQ(s, "BB_EGRESS_TOKEN_APPROVED_5D8F0C1E9A7B3C2D4E6F8A0B");
	proposal_cred_slot("ab-9", s, sizeof s);
	T_STREQ(s, "BB_EGRESS_TOKEN_APPROVED_AB_9");
	proposal_cred_slot("abcdef", s, 28); /* cut, still terminated */
	T_CHECK(strlen(s) == 27);
}

static void cred_apply(void)
{
	cJSON *plan = J(plan_json), *d = make("c1", PROPOSAL_TOOL_CRED, "{\"host\":\"Open.Example.com\",\"scheme\":\"token\",\"reason\":\"r\"}", 0);
	struct route_policy *p;
	const struct route *r;
	char what[300];
	struct bb_err e;

	T_CHECK(proposal_policy_apply(plan, d, what, sizeof what, &e) == 1);
	T_STREQ(what, "credential (token) added to route open.example.com");
	r = loaded_route(plan, "open.example.com", &p);
	T_CHECK(r && r->auth == ROUTE_AUTH_TOKEN && !strcmp(r->token_slot, "BB_EGRESS_TOKEN_APPROVED_C1"));
	T_CHECK(p && p->ntoken_slots == 2);
	route_policy_unref(p);
	/* again: nothing to change */
	T_CHECK(proposal_policy_apply(plan, d, what, sizeof what, &e) == 0);
	T_STREQ(what, "route open.example.com already injects this credential");
	cJSON_Delete(d);
	/* a route with a credential of its own keeps it; a host without a route gets none */
	d = make("c2", PROPOSAL_TOOL_CRED, "{\"host\":\"paths.example.com\",\"reason\":\"r\"}", 0);
	T_CHECK(proposal_policy_apply(plan, d, what, sizeof what, &e) == -1 && strstr(e.msg, "already injects a credential"));
	cJSON_Delete(d);
	d = make("c3", PROPOSAL_TOOL_CRED, "{\"host\":\"new.example.com\",\"reason\":\"r\"}", 0);
	T_CHECK(proposal_policy_apply(plan, d, what, sizeof what, &e) == -1 && strstr(e.msg, "no egress route for new.example.com"));
	T_CHECK(route_of(plan, "new.example.com") == NULL);
	cJSON_Delete(d);
	cJSON_Delete(plan);
}

static void dlp_apply(void)
{
	cJSON *plan = J(plan_json), *before, *d;
	struct route_policy *p;
	const struct route *r;
	char what[300];
	struct bb_err e;

	before = cJSON_Duplicate(plan, 1);
	d = make("d1", PROPOSAL_TOOL_DLP, "{\"host\":\"open.example.com\",\"rule\":\"github-pat\",\"reason\":\"r\"}", 0);
	T_CHECK(proposal_policy_apply(plan, d, what, sizeof what, &e) == 1);
	T_STREQ(what, "rule github-pat allowed outbound on route open.example.com only");
	r = loaded_route(plan, "open.example.com", &p);
	/* the route had no dlp object (every detector): it keeps every detector, and allows that one rule */
	T_CHECK(r && r->dlp_out == (SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS) && r->dlp_in == SCAN_INJECTION);
	T_CHECK(r && route_dlp_allowed(r, 0, "github-pat") && !route_dlp_allowed(r, 1, "github-pat") &&
		!route_dlp_allowed(r, 0, "aws-access-key-id"));
	r = p ? route_policy_find(p, "paths.example.com", 17) : NULL;
	T_CHECK(r && !route_dlp_allowed(r, 0, "github-pat")); /* that route only */
	route_policy_unref(p);
	T_CHECK(proposal_policy_apply(plan, d, what, sizeof what, &e) == 0);
	cJSON_Delete(d);
	d = make("d2", PROPOSAL_TOOL_DLP,
		 "{\"host\":\"open.example.com\",\"rule\":\"ignore-previous\",\"direction\":\"inbound\",\"reason\":\"r\"}", 0);
	T_CHECK(proposal_policy_apply(plan, d, what, sizeof what, &e) == 1);
	r = loaded_route(plan, "open.example.com", &p);
	T_CHECK(r && route_dlp_allowed(r, 1, "ignore-previous") && r->ndlp_in_allow == 1 && r->ndlp_out_allow == 1);
	route_policy_unref(p);
	cJSON_Delete(d);
	d = make("d3", PROPOSAL_TOOL_DLP, "{\"host\":\"none.example.com\",\"rule\":\"jwt\",\"reason\":\"r\"}", 0);
	T_CHECK(proposal_policy_apply(plan, d, what, sizeof what, &e) == -1 && strstr(e.msg, "no egress route"));
	cJSON_Delete(d);
	/* capability-block and ask-operator change no policy */
	cJSON_Delete(plan);
	plan = cJSON_Duplicate(before, 1);
	d = make("k1", PROPOSAL_TOOL_CAPABILITY, "{\"capability\":\"make\",\"reason\":\"r\"}", 0);
	T_CHECK(proposal_policy_apply(plan, d, what, sizeof what, &e) == 0 && cJSON_Compare(plan, before, 1));
	cJSON_Delete(d);
	cJSON_Delete(plan);
	cJSON_Delete(before);
}

static void decide_with_applied(void)
{
	cJSON *doc = make("dap", PROPOSAL_TOOL_CAPABILITY, "{\"capability\":\"make\",\"reason\":\"r\"}", 1000), *out = NULL;
	struct bb_err e;
	T_CHECK(doc && proposal_write(dir, doc, NULL) == 0);
	T_CHECK(proposal_decide_applied(dir, "dap", "approved", NULL, "bad\nline", 2000, NULL, &e) == -1);
	T_CHECK(proposal_decide_applied(dir, "dap", "approved", "ok", "recorded for the next resume", 2000, &out, &e) == 0);
	T_STREQ(str(cJSON_GetObjectItemCaseSensitive(out, "applied")),
		"{\"at\":\"1970-01-01T00:33:20Z\",\"result\":\"ok\",\"detail\":\"recorded for the next resume\"}");
	cJSON_Delete(out);
	T_CHECK(proposal_read(dir, "dap", &out, &e) == 0 && cJSON_GetObjectItemCaseSensitive(out, "applied"));
	cJSON_Delete(out);
	cJSON_Delete(doc);
}

static void host_dirs(void)
{
	char out[300];
	struct bb_err e;
	setenv("BB_HOME", "/h", 1);
	T_CHECK(proposal_host_dir("dev", out, sizeof out, &e) == 0);
	T_STREQ(out, "/h/.bb/state/dev/supervise");
	T_CHECK(proposal_host_dir(NULL, out, sizeof out, &e) == 0);
	T_STREQ(out, "/h/.bb/state");
	T_CHECK(proposal_host_dir("../x", out, sizeof out, &e) == -1);
	T_CHECK(proposal_host_dir("Dev", out, sizeof out, &e) == -1);
	T_CHECK(proposal_host_dir("", out, sizeof out, &e) == -1);
	T_CHECK(proposal_host_dir("dev", out, 10, &e) == -1);
}

int main(void)
{
	T_RUN(ids);
	T_RUN(egress_requests);
	T_RUN(reason_length_is_capped);
	T_RUN(other_requests);
	mkqueue();
	T_RUN(write_and_read);
	T_RUN(read_refuses_wrong_documents);
	T_RUN(decisions);
	T_RUN(decide_with_applied);
	T_RUN(listing);
	rmqueue();
	T_RUN(summaries);
	T_RUN(merge_adds_a_route);
	T_RUN(merge_already_allowed);
	T_RUN(merge_widens);
	T_RUN(merge_into_bad_plans);
	T_RUN(cred_slots);
	T_RUN(cred_apply);
	T_RUN(dlp_apply);
	T_RUN(host_dirs);
	T_END();
}
