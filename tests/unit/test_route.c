/* test_route.c - unit tests of lib/route: policy loading from plan JSON, and every allow/deny rule of the route decision. */
#include <arpa/inet.h>
#include <string.h>

#include "route.h"
#include "scan.h"
#include "t.h"

static const char policy_json[] =
	"{\"schema\":\"bb.plan/1\",\"egress\":{\"routes\":["
	"{\"host\":\"API.Example.com\",\"origin\":\"manifest\",\"auth\":{\"scheme\":\"Bearer\",\"token_slot\":\"BB_EGRESS_TOKEN_0\",\"token_ref\":\"X\"},"
	" \"path_allowlist\":[\"/v1/\",\"/v2/\"],"
	" \"matches\":[{\"paths\":[{\"type\":\"prefix\",\"value\":\"/v1/\"},{\"type\":\"regex\",\"value\":\"^/v2/items/[0-9]+$\"}],"
	"   \"methods\":[\"GET\",\"POST\"],\"headers\":[{\"name\":\"X-Kind\",\"value\":\"^(a|b)$\",\"type\":\"regex\"}]},"
	"  {\"paths\":[{\"type\":\"exact\",\"value\":\"/v2/status\"}],\"methods\":[],\"headers\":[]}],"
	" \"dlp\":{\"outbound\":[\"token_patterns\"],\"inbound\":false},\"git_fetch\":false,\"tls_passthrough\":false,"
	" \"ssrf_ip_allowlist\":[\"10.1.0.0/16\",\"fd00::/8\"],\"roles\":[]},"
	"{\"host\":\"git.example.com\",\"auth\":null,\"git_fetch\":true},"
	"{\"host\":\"open.example.com\",\"auth\":{\"scheme\":\"token\",\"token_slot\":\"BB_EGRESS_TOKEN_0\"}}"
	"]}}";

static struct route_policy *load(const char *json)
{
	struct route_policy *p = NULL;
	struct bb_err e = { 0 };
	if (route_policy_parse("test.json", json, strlen(json), &p, &e) < 0)
		printf("#   route_policy_parse: %s\n", e.msg);
	return p;
}

/* A plan around an egress part (the tests below write only that part). */
static const char *plan_of(const char *egress)
{
	static char buf[2048];
	snprintf(buf, sizeof buf, "{\"schema\":\"bb.plan/1\",\"egress\":%s}", egress);
	return buf;
}

/* Decide method+target with optional headers "Name: value" (NULL-terminated). */
static struct route_verdict decide(const struct route *r, const char *method, const char *target, const char *const *hl)
{
	struct route_hdr h[8];
	size_t n = 0;
	struct route_verdict v;
	struct route_req q;
	for (; hl && *hl && n < 8; hl++, n++) {
		const char *colon = strchr(*hl, ':');
		h[n] = (struct route_hdr){ *hl, (size_t)(colon - *hl), colon + 2, strlen(colon + 2) };
	}
	q = (struct route_req){ method, strlen(method), target, strlen(target), h, n };
	route_decide(r, &q, &v);
	return v;
}

static void loads_the_plan(void)
{
	struct route_policy *p = load(policy_json);
	const struct route *r;
	T_CHECK(p != NULL);
	if (!p)
		return;
	T_CHECK(p->nroutes == 3);
	T_CHECK(p->ntoken_slots == 1);
	r = route_policy_find(p, "api.EXAMPLE.com.", 16);
	T_CHECK(r != NULL);
	if (r) {
		T_STREQ(r->host, "api.example.com");
		T_CHECK(r->auth == ROUTE_AUTH_BEARER);
		T_STREQ(r->token_slot, "BB_EGRESS_TOKEN_0");
		T_CHECK(r->dlp_out == SCAN_TOKEN_PATTERNS && r->dlp_in == 0);
		T_CHECK(r->nmatches == 2 && r->matches[0].npaths == 2 && r->matches[0].nheaders == 1);
	}
	r = route_policy_find(p, "git.example.com", 15);
	T_CHECK(r && r->git_fetch && r->auth == ROUTE_AUTH_NONE);
	T_CHECK(r && r->dlp_out == (SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS) && r->dlp_in == SCAN_INJECTION);
	T_CHECK(route_policy_find(p, "example.com", 11) == NULL);
	T_CHECK(route_policy_find(p, "xapi.example.com", 16) == NULL);
	T_CHECK(route_policy_find(p, "api.example.com.evil", 20) == NULL);
	route_policy_unref(p);
}

static void api_key_scheme_loads(void)
{
	struct route_policy *p = load(plan_of("{\"routes\":[{\"host\":\"api.anthropic.com\",\"auth\":{\"scheme\":\"x-api-key\","
					      "\"token_slot\":\"BB_EGRESS_TOKEN_0\"}}]}"));
	T_CHECK(p && p->nroutes == 1 && p->routes[0].auth == ROUTE_AUTH_API_KEY);
	T_CHECK(p && p->ntoken_slots == 1);
	route_policy_unref(p);
}

/* Only a plan is a policy: the egress object alone (which this reader once took) names the schema it lacks. */
static void egress_object_alone_is_refused(void)
{
	struct route_policy *p = NULL;
	struct bb_err e = { 0 };
	const char *json = "{\"routes\":[{\"host\":\"a.example\"}]}";
	T_CHECK(route_policy_parse("egress.json", json, strlen(json), &p, &e) == -1 && p == NULL);
	T_CHECK(strstr(e.msg, "egress.json: not a bb plan: schema is missing, expected \"bb.plan/1\"") != NULL);
}

/* json is the plan's egress part. */
static void expect_error(const char *egress, const char *want)
{
	struct route_policy *p = NULL;
	struct bb_err e = { 0 };
	const char *json = plan_of(egress);
	T_CHECK(route_policy_parse("bad.json", json, strlen(json), &p, &e) == -1);
	T_CHECK(p == NULL);
	if (!strstr(e.msg, want)) {
		printf("#   error '%s' lacks '%s'\n", e.msg, want);
		t_failed_case = 1;
	}
}

static void bad_policies_name_the_field(void)
{
	expect_error("{\"routes\":5}", "bad.json: egress.routes: must be a list, was a number");
	expect_error("{\"x\":1}", "bad.json: egress.routes: is required");
	expect_error("[]", "bad.json: egress: must be an object, was a list");
	expect_error("{\"routes\":[{\"host\":3}]}", "bad.json: egress.routes[0]: host: must be a string, was a number");
	expect_error("{\"routes\":[{\"path\":\"/\"}]}", "egress.routes[0]: host: is required");
	expect_error("{\"routes\":[{\"host\":\"a\"},{\"host\":\"A\"}]}", "bad.json: egress.routes[1] (A): host: appears twice");
	expect_error("{\"routes\":[{\"host\":\"a\",\"auth\":{\"scheme\":\"Basic\",\"token_slot\":\"S\"}}]}",
		     "auth.scheme: must be Bearer, token or x-api-key");
	expect_error("{\"routes\":[{\"host\":\"a\",\"matches\":[{\"paths\":[{\"type\":\"regex\",\"value\":\"(\"}]}]}]}",
		     "routes[0] (a): matches[0].paths[0]: regex");
	expect_error("{\"routes\":[{\"host\":\"a\",\"matches\":[{\"paths\":[{\"type\":\"glob\",\"value\":\"/\"}]}]}]}",
		     "bad.json: egress.routes[0] (a): matches[0].paths[0].type: must be prefix, exact or regex, was glob");
	expect_error("{\"routes\":[{\"host\":\"a\",\"ssrf_ip_allowlist\":[\"127.1\"]}]}", "ssrf_ip_allowlist");
	expect_error("{\"routes\":[{\"host\":\"a\",\"path_allowlist\":[\"v1\"]}]}", "must start with '/'");
	expect_error("{\"routes\":[{\"host\":\"a\",\"dlp\":{\"outbound\":[\"nope\"]}}]}", "unknown detector nope");
	expect_error("{\"routes\":[{\"host\":\"a\",\"dlp\":{\"outbound_allow\":\"github-pat\"}}]}", "outbound_allow: must be a list");
	expect_error("{\"routes\":[{\"host\":\"a\",\"dlp\":{\"inbound_allow\":[1]}}]}", "bad.json: egress.routes[0] (a): dlp.inbound_allow[0]: must be a string, was a number");
	expect_error("{\"routes\":[{\"host\":\"a\",\"dlp\":{\"outbound\":[\"naive_injection_detection\"]}}]}",
		     "wrong direction");
	expect_error("{\"routes\":[{\"host\":\"a\",\"git_fetch\":\"yes\"}]}", "git_fetch: must be true or false");
	expect_error("{\"routes\":[", "bad.json");
}

static void path_allowlist_and_matches(void)
{
	struct route_policy *p = load(policy_json);
	const struct route *r = p ? route_policy_find(p, "api.example.com", 15) : NULL;
	static const char *const kind_a[] = { "X-Kind: a", NULL };
	static const char *const kind_c[] = { "X-Kind: c", NULL };
	static const char *const kind_a_upper[] = { "x-kind: a", NULL };
	struct route_verdict v;
	T_CHECK(r != NULL);
	if (!r)
		return;
	v = decide(r, "GET", "/v1/models?x=1", kind_a);
	T_CHECK(v.allow);
	v = decide(r, "GET", "/v1/models", kind_a_upper); /* header names are case-insensitive */
	T_CHECK(v.allow);
	v = decide(r, "GET", "/v3/models", kind_a);
	T_CHECK(!v.allow && !strcmp(v.rule, "path-allowlist"));
	T_CHECK(strstr(v.reason, "/v3/models") != NULL);
	v = decide(r, "DELETE", "/v1/models", kind_a);
	T_CHECK(!v.allow && !strcmp(v.rule, "matches"));
	v = decide(r, "GET", "/v1/models", kind_c);
	T_CHECK(!v.allow && !strcmp(v.rule, "matches"));
	v = decide(r, "GET", "/v1/models", NULL);
	T_CHECK(!v.allow && !strcmp(v.rule, "matches"));
	v = decide(r, "POST", "/v2/items/42", kind_a);
	T_CHECK(v.allow);
	v = decide(r, "POST", "/v2/items/42x", kind_a);
	T_CHECK(!v.allow);
	v = decide(r, "PUT", "/v2/status", NULL); /* the second entry: exact path, any method, no header */
	T_CHECK(v.allow);
	v = decide(r, "PUT", "/v2/status/", NULL);
	T_CHECK(!v.allow);
	v = decide(r, "GET", "/v1/models?path=/v3/", kind_a); /* the query is not the path */
	T_CHECK(v.allow);
	route_policy_unref(p);
}

static void paths_an_upstream_would_normalise_are_refused(void)
{
	struct route_policy *p = load(policy_json);
	const struct route *r = p ? route_policy_find(p, "open.example.com", 16) : NULL;
	static const char *const bad[] = { "/v1/../admin", "/v1/./x", "/v1/%2e%2e/admin", "/v1/%2E./admin",
					   "/v1%2fadmin",  "/a\\b",   "/x/..",            "v1/x",
					   "/a/%zz",       "/a/%2",   "/a/%00",           "/." };
	size_t i;
	struct route_verdict v;
	T_CHECK(r != NULL);
	if (!r)
		return;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		v = decide(r, "GET", bad[i], NULL);
		if (v.allow || strcmp(v.rule, "bad-path")) {
			printf("#   %s was not refused as bad-path\n", bad[i]);
			t_failed_case = 1;
		}
	}
	v = decide(r, "GET", "/a/..b/c%41.txt", NULL); /* dots inside a segment and other escapes are fine */
	T_CHECK(v.allow);
	v = decide(r, "GET", "/a?q=../..", NULL);
	T_CHECK(v.allow);
	route_policy_unref(p);
}

static void doh_and_git_push_refused_everywhere(void)
{
	struct route_policy *p = load(policy_json);
	const struct route *r = p ? route_policy_find(p, "open.example.com", 16) : NULL;
	const struct route *g = p ? route_policy_find(p, "git.example.com", 15) : NULL;
	static const char *const dnsmsg[] = { "Content-Type: application/dns-message", NULL };
	static const char *const dnsjson[] = { "Accept: application/dns-json", NULL };
	struct route_verdict v;
	T_CHECK(r && g);
	if (!r || !g)
		return;
	v = decide(r, "POST", "/anything", dnsmsg);
	T_CHECK(!v.allow && !strcmp(v.rule, "doh"));
	v = decide(r, "GET", "/resolve?name=example.com&type=A", dnsjson);
	T_CHECK(!v.allow && !strcmp(v.rule, "doh"));
	v = decide(r, "GET", "/dns-query?dns=AAABAAAB", NULL);
	T_CHECK(!v.allow && !strcmp(v.rule, "doh"));
	v = decide(g, "POST", "/org/app.git/git-receive-pack", NULL);
	T_CHECK(!v.allow && !strcmp(v.rule, "git-push"));
	v = decide(g, "GET", "/org/app.git/info/refs?service=git-receive-pack", NULL);
	T_CHECK(!v.allow && !strcmp(v.rule, "git-push"));
	v = decide(g, "GET", "/org/app.git/info/refs?service=git-upload-pack", NULL);
	T_CHECK(v.allow);
	v = decide(g, "POST", "/org/app.git/git-upload-pack", NULL);
	T_CHECK(v.allow);
	v = decide(r, "POST", "/org/app.git/git-upload-pack", NULL); /* no git.fetch on this route */
	T_CHECK(!v.allow && !strcmp(v.rule, "git-fetch"));
	route_policy_unref(p);
}

static void ssrf_allowlist(void)
{
	struct route_policy *p = load(policy_json);
	const struct route *r = p ? route_policy_find(p, "api.example.com", 15) : NULL;
	struct netaddr a;
	struct bb_err e;
	T_CHECK(r != NULL);
	if (!r)
		return;
	T_CHECK(netaddr_parse("10.1.200.3", 10, &a, &e) == 0 && route_ssrf_allowed(r, &a));
	T_CHECK(netaddr_parse("10.2.0.1", 8, &a, &e) == 0 && !route_ssrf_allowed(r, &a));
	T_CHECK(netaddr_parse("fd12::1", 7, &a, &e) == 0 && route_ssrf_allowed(r, &a));
	T_CHECK(netaddr_parse("::ffff:10.1.0.9", 15, &a, &e) == 0 && route_ssrf_allowed(r, &a));
	T_CHECK(netaddr_parse("127.0.0.1", 9, &a, &e) == 0 && !route_ssrf_allowed(r, &a));
	route_policy_unref(p);
}

int main(void)
{
	T_RUN(loads_the_plan);
	T_RUN(egress_object_alone_is_refused);
	T_RUN(api_key_scheme_loads);
	T_RUN(bad_policies_name_the_field);
	T_RUN(path_allowlist_and_matches);
	T_RUN(paths_an_upstream_would_normalise_are_refused);
	T_RUN(doh_and_git_push_refused_everywhere);
	T_RUN(ssrf_allowlist);
	T_END();
}
