/* test_planfile.c - unit tests of lib/planfile: the schema check, each part read into typed structs, and errors that name the key. */
#include <cjson/cJSON.h>
#include <string.h>

#include "planfile.h"
#include "scan.h"
#include "t.h"

/* The plan of docs/manifest.md ("The plan"), with a second route and repo that use the rest of the keys. */
static const char plan_json[] =
	"{\"schema\":\"bb.plan/1\",\"agent\":null,\"bottle\":{\"name\":\"dev\",\"file\":\"dev.md\",\"extends_chain\":[\"dev\"]},"
	"\"egress\":{\"routes\":["
	"{\"host\":\"api.anthropic.com\",\"origin\":\"claude\",\"from\":{\"host\":\"claude\",\"auth\":\"agent_provider.auth_token\","
	"\"rules\":\"default\"},\"auth\":{\"scheme\":\"Bearer\",\"token_slot\":\"BB_EGRESS_TOKEN_0\",\"token_ref\":\"CLAUDE_OAUTH\"},"
	"\"path_allowlist\":[],\"matches\":[],\"dlp\":{\"outbound\":[\"token_patterns\",\"known_secrets\"],"
	"\"inbound\":[\"naive_injection_detection\"]},\"git_fetch\":false,\"tls_passthrough\":false,\"ssrf_ip_allowlist\":[],"
	"\"roles\":[]},"
	"{\"host\":\"Git.Example.com\",\"origin\":\"manifest\",\"auth\":null,\"path_allowlist\":[\"/org/\"],"
	"\"matches\":[{\"paths\":[{\"type\":\"exact\",\"value\":\"/a\"},{\"value\":\"/b/\"},{\"type\":\"regex\",\"value\":\"^/c$\"}],"
	"\"methods\":[\"GET\"],\"headers\":[{\"name\":\"X-K\",\"value\":\"v\",\"type\":\"exact\"}]}],"
	"\"dlp\":{\"outbound\":false,\"inbound\":[],\"outbound_allow\":[\"github-pat\"],\"inbound_allow\":[\"ignore-previous\"]},"
	"\"git_fetch\":true,\"tls_passthrough\":true,\"ssrf_ip_allowlist\":[\"10.0.0.0/8\"]},"
	"{\"host\":\"bare.example.com\",\"matches\":[{}]}],"
	"\"token_slots\":[{\"slot\":\"BB_EGRESS_TOKEN_0\",\"ref\":\"CLAUDE_OAUTH\",\"source\":\"host_env\",\"present\":true}]},"
	"\"provider\":{\"template\":\"claude\",\"dockerfile\":\"\",\"program\":\"claude\"},"
	"\"env\":[{\"name\":\"TERM\",\"source\":\"host\",\"host_var\":\"TERM\"},{\"name\":\"X\"}],"
	"\"git_gate\":{\"user\":{\"name\":\"Dev\",\"email\":\"dev@example.com\"},\"repos\":["
	"{\"name\":\"app\",\"url\":\"ssh://git@git.example.com:2222/org/app.git\",\"user\":\"git\",\"host\":\"git.example.com\","
	"\"port\":2222,\"path\":\"org/app.git\",\"key\":{\"provider\":\"static\",\"path\":\"~/.ssh/app_deploy\"},"
	"\"host_key\":\"ecdsa-sha2-nistp256 AAAA\"},"
	"{\"name\":\"forge\",\"url\":\"ssh://git@10.0.0.2/o/f.git\",\"key\":{\"provider\":\"gitea\",\"forge_token_env\":\"T\","
	"\"api_url\":\"https://10.0.0.2\"}}]},"
	"\"supervise\":{\"enabled\":true},\"dns\":{\"allow\":[\"api.anthropic.com\",\"git.example.com\"],"
	"\"allow_types\":[\"TXT\",99]},"
	"\"daemons\":[\"egress\",\"dns\",\"git-gate\",\"git-http\",\"supervise\"],"
	"\"ports\":{\"egress\":9099,\"git_gate\":9418,\"git_http\":9420,\"supervise\":9100,\"dns\":53},"
	"\"provisioning\":[\"ca\"],\"notes\":[\"a note\"]}";

static int open_plan(struct planfile *pf, const char *json, struct bb_err *e)
{
	e->msg[0] = 0;
	return planfile_parse(pf, "plan.json", json, strlen(json), e);
}

static void reads_egress_routes(void)
{
	struct planfile pf;
	struct bb_err e = { 0 };
	const struct planfile_route *r;
	size_t n = 0;

	T_CHECK(open_plan(&pf, plan_json, &e) == 0);
	T_CHECK(planfile_egress_routes(&pf, &r, &n, &e) == 0);
	T_CHECK(n == 3);
	if (n == 3) {
		T_STREQ(r[0].host, "api.anthropic.com");
		T_STREQ(r[0].origin, "claude");
		T_CHECK(r[0].auth == PLANFILE_AUTH_BEARER);
		T_STREQ(r[0].token_slot, "BB_EGRESS_TOKEN_0");
		T_STREQ(r[0].token_ref, "CLAUDE_OAUTH");
		T_CHECK(r[0].dlp_out == (SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS) && r[0].dlp_in == SCAN_INJECTION);
		T_CHECK(r[0].nmatches == 0 && r[0].path_allowlist.n == 0 && !r[0].git_fetch);
		T_STREQ(r[0].scheme, "Bearer");
		T_STREQ(r[0].from_host, "claude");
		T_STREQ(r[0].from_rules, "default");
		T_CHECK(r[0].path_allowlist.present); /* [] is written: present, empty */

		T_STREQ(r[1].host, "Git.Example.com"); /* as written: lower-casing is the matcher's business */
		T_CHECK(r[1].auth == PLANFILE_AUTH_NONE && r[1].token_slot == NULL && r[1].scheme == NULL);
		T_CHECK(r[1].from_host == NULL && r[1].from_rules == NULL);
		T_CHECK(r[1].path_allowlist.n == 1 && !strcmp(r[1].path_allowlist.v[0], "/org/"));
		T_CHECK(r[1].nmatches == 1 && r[1].matches[0].npaths == 3 && r[1].matches[0].nheaders == 1);
		if (r[1].nmatches == 1 && r[1].matches[0].npaths == 3) {
			const struct planfile_match *m = &r[1].matches[0];

			T_CHECK(m->paths[0].type == PLANFILE_EXACT && !strcmp(m->paths[0].value, "/a"));
			T_CHECK(m->paths[1].type == PLANFILE_PREFIX); /* no type: prefix */
			T_CHECK(m->paths[2].type == PLANFILE_REGEX);
			T_CHECK(m->methods.present && m->methods.n == 1 && !strcmp(m->methods.v[0], "GET"));
			T_CHECK(m->headers[0].type == PLANFILE_EXACT && !strcmp(m->headers[0].name, "X-K"));
		}
		T_CHECK(r[1].dlp_out == 0 && r[1].dlp_in == 0);
		T_CHECK(r[1].dlp_out_allow.n == 1 && !strcmp(r[1].dlp_out_allow.v[0], "github-pat"));
		T_CHECK(r[1].dlp_in_allow.n == 1 && !strcmp(r[1].dlp_in_allow.v[0], "ignore-previous"));
		T_CHECK(r[1].git_fetch && r[1].tls_passthrough);
		T_CHECK(r[1].ssrf_ip_allowlist.n == 1 && !strcmp(r[1].ssrf_ip_allowlist.v[0], "10.0.0.0/8"));

		/* only a host: every detector, nothing else */
		T_CHECK(r[2].origin == NULL && r[2].auth == PLANFILE_AUTH_NONE && r[2].nmatches == 1);
		T_CHECK(!r[2].path_allowlist.present);
		/* a match without methods is not one with an empty list: list-egress-routes shows the difference */
		T_CHECK(r[2].nmatches == 1 && !r[2].matches[0].methods.present && r[2].matches[0].methods.n == 0);
		T_CHECK(r[2].dlp_out == (SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS) && r[2].dlp_in == SCAN_INJECTION);
	}
	planfile_free(&pf);
}

static void reads_dns_and_git_gate(void)
{
	struct planfile pf;
	struct bb_err e = { 0 };
	struct planfile_dns d;
	struct planfile_git_gate g;

	T_CHECK(open_plan(&pf, plan_json, &e) == 0);
	T_CHECK(planfile_dns(&pf, &d, &e) == 0);
	T_CHECK(d.allow.n == 2 && !strcmp(d.allow.v[1], "git.example.com"));
	T_CHECK(d.ntypes == 2 && d.types[0].name && !strcmp(d.types[0].name, "TXT"));
	T_CHECK(d.ntypes == 2 && d.types[1].name == NULL && d.types[1].number == 99);
	T_CHECK(planfile_git_gate(&pf, &g, &e) == 0);
	T_CHECK(g.present && g.nrepos == 2);
	T_STREQ(planfile_bottle_name(&pf), "dev");
	if (g.nrepos == 2) {
		const struct planfile_repo *a = &g.repos[0], *f = &g.repos[1];

		T_STREQ(a->name, "app");
		T_STREQ(a->url, "ssh://git@git.example.com:2222/org/app.git");
		T_STREQ(a->user, "git");
		T_STREQ(a->host, "git.example.com");
		T_CHECK(a->port == 2222);
		T_STREQ(a->path, "org/app.git");
		T_STREQ(a->key_provider, "static");
		T_STREQ(a->key_path, "~/.ssh/app_deploy");
		T_STREQ(a->host_key, "ecdsa-sha2-nistp256 AAAA");
		/* absent keys are NULL, port 0: each reader says which it needs */
		T_CHECK(f->host == NULL && f->port == 0 && f->host_key == NULL && f->key_path == NULL);
		T_STREQ(f->key_provider, "gitea");
		T_STREQ(f->key_forge_token_env, "T");
		T_STREQ(f->key_api_url, "https://10.0.0.2");
		T_CHECK(a->key_forge_token_env == NULL && a->key_api_url == NULL);
	}
	T_STREQ(g.user_name, "Dev");
	T_STREQ(g.user_email, "dev@example.com");
	planfile_free(&pf);
	/* a plan without git_gate has no repos (the section is optional here; git-gate itself requires it) */
	T_CHECK(open_plan(&pf, "{\"schema\":\"bb.plan/1\"}", &e) == 0);
	T_CHECK(planfile_git_gate(&pf, &g, &e) == 0 && !g.present && g.nrepos == 0 && g.user_name == NULL);
	T_CHECK(planfile_bottle_name(&pf) == NULL);
	planfile_free(&pf);
}

/* The schema is checked on open, and the error says what it found. */
static void wrong_schema_is_refused(void)
{
	static const struct {
		const char *json, *want;
	} cases[] = {
		{ "{\"egress\":{\"routes\":[]}}", "plan.json: not a bb plan: schema is missing, expected \"bb.plan/1\"" },
		{ "{\"schema\":\"bb.plan/2\"}", "plan.json: not a bb plan: schema is \"bb.plan/2\", expected \"bb.plan/1\"" },
		{ "{\"schema\":1}", "plan.json: not a bb plan: schema is a number, expected \"bb.plan/1\"" },
		{ "{\"schema\":null}", "plan.json: not a bb plan: schema is null, expected \"bb.plan/1\"" },
		{ "[\"bb.plan/1\"]", "plan.json: a plan is a JSON object, this is a list" },
		{ "{\"schema\":\"bb.plan/1\"", "plan.json" },
		{ "", "plan.json" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct planfile pf;
		struct bb_err e = { 0 };

		T_CHECK(open_plan(&pf, cases[i].json, &e) == -1);
		T_CHECK(pf.doc == NULL);
		if (!strstr(e.msg, cases[i].want)) {
			printf("#   %s: error '%s' lacks '%s'\n", cases[i].json, e.msg, cases[i].want);
			t_failed_case = 1;
		}
		planfile_free(&pf); /* harmless after a failed open */
	}
}

/* Read one part of json: 'e'gress, 'd'ns, 'g'it_gate, 'p'rovider, en'v', token 's'lots, s'u'pervise, 'a'gent, 'b'ottle or 'n'otes; the error text ("" when it was read). */
static const char *part_error(const char *json, char part)
{
	static struct bb_err e;
	struct planfile pf;
	const struct planfile_route *r;
	struct planfile_dns d;
	struct planfile_git_gate g;
	struct planfile_provider p;
	const struct planfile_env *v;
	const struct planfile_token_slot *s;
	struct planfile_source src;
	struct planfile_strs notes;
	size_t n;
	int rc, on;

	if (open_plan(&pf, json, &e) < 0)
		return e.msg;
	e.msg[0] = 0;
	rc = part == 'e'   ? planfile_egress_routes(&pf, &r, &n, &e)
	     : part == 'd' ? planfile_dns(&pf, &d, &e)
	     : part == 'p' ? planfile_provider(&pf, &p, &e)
	     : part == 'v' ? planfile_env(&pf, &v, &n, &e)
	     : part == 's' ? planfile_token_slots(&pf, &s, &n, &e)
	     : part == 'u' ? planfile_supervise(&pf, &on, &e)
	     : part == 'a' ? planfile_agent(&pf, &src, &e)
	     : part == 'b' ? planfile_bottle(&pf, &src, &e)
	     : part == 'n' ? planfile_notes(&pf, &notes, &e)
			   : planfile_git_gate(&pf, &g, &e);
	planfile_free(&pf);
	return rc < 0 ? e.msg : "";
}

/* Reading `part` of json fails with an error holding want. */
struct part_case {
	char part;
	const char *json, *want;
};

static void check_cases(const struct part_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const char *got = part_error(cases[i].json, cases[i].part);

		if (!strstr(got, cases[i].want)) {
			printf("#   %s: error '%s' lacks '%s'\n", cases[i].json, got, cases[i].want);
			t_failed_case = 1;
		}
	}
}

#define P "{\"schema\":\"bb.plan/1\","
#define ROUTE(x) P "\"egress\":{\"routes\":[{\"host\":\"h.test\"," x "}]}}"
#define REPO(x) P "\"git_gate\":{\"repos\":[{\"name\":\"a\"," x "}]}}"

static void missing_parts_are_named(void)
{
	static const struct part_case cases[] = {
		{ 'e', P "\"dns\":{}}", "plan.json: egress: is required" },
		{ 'e', P "\"egress\":{}}", "plan.json: egress.routes: is required" },
		{ 'e', P "\"egress\":{\"routes\":[{\"origin\":\"x\"}]}}", "plan.json: egress.routes[0]: host: is required" },
		{ 'e', P "\"egress\":{\"routes\":[{\"host\":null}]}}", "plan.json: egress.routes[0]: host: is required" },
		{ 'e', ROUTE("\"auth\":{\"scheme\":\"Bearer\"}"), "egress.routes[0] (h.test): auth.token_slot: is required" },
		{ 'e', ROUTE("\"auth\":{\"token_slot\":\"S\"}"), "egress.routes[0] (h.test): auth.scheme: is required" },
		{ 'e', ROUTE("\"matches\":[{\"paths\":[{\"type\":\"exact\"}]}]"), "egress.routes[0] (h.test): matches[0].paths[0].value: is required" },
		{ 'e', ROUTE("\"matches\":[{\"headers\":[{\"name\":\"X\",\"type\":\"exact\"}]}]"), "(h.test): matches[0].headers[0].value: is required" },
		{ 'd', P "\"egress\":{\"routes\":[]}}", "plan.json: dns: is required" },
		{ 'p', P "\"egress\":{\"routes\":[]}}", "plan.json: provider: is required" },
		{ 'v', P "\"env\":[{\"source\":\"host\"}]}", "plan.json: env[0].name: is required" },
		{ 's', P "\"egress\":{\"token_slots\":[{\"ref\":\"R\"}]}}", "plan.json: egress.token_slots[0].slot: is required" },
	};

	check_cases(cases, sizeof cases / sizeof cases[0]);
}

/* A key of the wrong type: the error names the key (its full path) and what was there. */
static void wrong_types_name_the_key(void)
{
	static const struct part_case cases[] = {
		{ 'e', P "\"egress\":[]}", "plan.json: egress: must be an object, was a list" },
		{ 'e', P "\"egress\":{\"routes\":{}}}", "plan.json: egress.routes: must be a list, was an object" },
		{ 'e', P "\"egress\":{\"routes\":[7]}}", "plan.json: egress.routes[0]: must be an object, was a number" },
		{ 'e', P "\"egress\":{\"routes\":[{\"host\":true}]}}", "plan.json: egress.routes[0]: host: must be a string, was a boolean" },
		{ 'e', ROUTE("\"origin\":[]"), "plan.json: egress.routes[0] (h.test): origin: must be a string, was a list" },
		{ 'e', ROUTE("\"auth\":\"Bearer\""), "egress.routes[0] (h.test): auth: must be an object or null, was a string" },
		{ 'e', ROUTE("\"auth\":{\"scheme\":1,\"token_slot\":\"S\"}"), "(h.test): auth.scheme: must be a string, was a number" },
		{ 'e', ROUTE("\"auth\":{\"scheme\":\"Basic\",\"token_slot\":\"S\"}"), "(h.test): auth.scheme: must be Bearer, token or x-api-key, was Basic" },
		{ 'e', ROUTE("\"auth\":{\"scheme\":\"token\",\"token_slot\":\"S\",\"token_ref\":{}}"), "(h.test): auth.token_ref: must be a string, was an object" },
		{ 'e', ROUTE("\"path_allowlist\":\"/\""), "(h.test): path_allowlist: must be a list, was a string" },
		{ 'e', ROUTE("\"path_allowlist\":[\"/\",null]"), "(h.test): path_allowlist[1]: must be a string, was null" },
		{ 'e', ROUTE("\"matches\":{}"), "(h.test): matches: must be a list, was an object" },
		{ 'e', ROUTE("\"matches\":[[]]"), "(h.test): matches[0]: must be an object, was a list" },
		{ 'e', ROUTE("\"matches\":[{\"paths\":\"/\"}]"), "(h.test): matches[0].paths: must be a list, was a string" },
		{ 'e', ROUTE("\"matches\":[{\"paths\":[\"/\"]}]"), "(h.test): matches[0].paths[0]: must be an object, was a string" },
		{ 'e', ROUTE("\"matches\":[{\"paths\":[{\"type\":3,\"value\":\"/\"}]}]"), "(h.test): matches[0].paths[0].type: must be a string, was a number" },
		{ 'e', ROUTE("\"matches\":[{\"paths\":[{\"type\":\"glob\",\"value\":\"/\"}]}]"), "(h.test): matches[0].paths[0].type: must be prefix, exact or regex, was glob" },
		{ 'e', ROUTE("\"matches\":[{\"methods\":\"GET\"}]"), "(h.test): matches[0].methods: must be a list, was a string" },
		{ 'e', ROUTE("\"matches\":[{\"headers\":{}}]"), "(h.test): matches[0].headers: must be a list, was an object" },
		{ 'e', ROUTE("\"matches\":[{\"headers\":[{\"name\":\"X\",\"value\":\"v\"}]}]"), "(h.test): matches[0].headers[0].type: must be exact or regex, was prefix" },
		{ 'e', ROUTE("\"dlp\":[]"), "(h.test): dlp: must be an object, was a list" },
		{ 'e', ROUTE("\"dlp\":{\"outbound\":true}"), "(h.test): dlp.outbound: must be a list or false, was a boolean" },
		{ 'e', ROUTE("\"dlp\":{\"inbound\":[\"x\"]}"), "(h.test): dlp.inbound: unknown detector x" },
		{ 'e', ROUTE("\"dlp\":{\"inbound\":[\"known_secrets\"]}"), "(h.test): dlp: detector used in the wrong direction" },
		{ 'e', ROUTE("\"dlp\":{\"outbound_allow\":[1]}"), "(h.test): dlp.outbound_allow[0]: must be a string, was a number" },
		{ 'e', ROUTE("\"git_fetch\":1"), "(h.test): git_fetch: must be true or false, was a number" },
		{ 'e', ROUTE("\"tls_passthrough\":null"), "(h.test): tls_passthrough: must be true or false, was null" },
		{ 'e', ROUTE("\"ssrf_ip_allowlist\":\"10.0.0.0/8\""), "(h.test): ssrf_ip_allowlist: must be a list, was a string" },
		{ 'd', P "\"dns\":[]}", "plan.json: dns: must be an object, was a list" },
		{ 'd', P "\"dns\":{\"alow\":[]}}", "plan.json: dns: unknown key 'alow' (allowed: allow, allow_types)" },
		{ 'd', P "\"dns\":{\"allow\":\"a.test\"}}", "plan.json: dns.allow: must be a list, was a string" },
		{ 'd', P "\"dns\":{\"allow\":[\"a.test\",{}]}}", "plan.json: dns.allow[1]: must be a string, was an object" },
		{ 'd', P "\"dns\":{\"allow_types\":\"TXT\"}}", "plan.json: dns.allow_types: must be a list of type names, was a string" },
		{ 'd', P "\"dns\":{\"allow_types\":[true]}}", "plan.json: dns.allow_types[0]: must be a type name or number, was a boolean" },
		{ 'g', P "\"git_gate\":7}", "plan.json: git_gate: must be an object, was a number" },
		{ 'g', P "\"git_gate\":{\"repos\":{}}}", "plan.json: git_gate.repos: must be a list, was an object" },
		{ 'g', P "\"git_gate\":{\"repos\":[\"a\"]}}", "plan.json: git_gate.repos[0]: must be an object, was a string" },
		{ 'g', REPO("\"url\":5"), "plan.json: git_gate.repos[0].url: must be a string, was a number" },
		{ 'g', REPO("\"host\":[]"), "plan.json: git_gate.repos[0].host: must be a string, was a list" },
		{ 'g', REPO("\"host_key\":false"), "plan.json: git_gate.repos[0].host_key: must be a string, was a boolean" },
		{ 'g', REPO("\"port\":\"22\""), "plan.json: git_gate.repos[0].port: must be a whole number from 1 to 65535, was a string" },
		{ 'g', REPO("\"port\":0"), "plan.json: git_gate.repos[0].port: must be a whole number from 1 to 65535, was out of range" },
		{ 'g', REPO("\"port\":22.5"), "plan.json: git_gate.repos[0].port: must be a whole number" },
		{ 'g', REPO("\"key\":\"~/.ssh/k\""), "plan.json: git_gate.repos[0].key: must be an object, was a string" },
		{ 'g', REPO("\"key\":{\"provider\":1}"), "plan.json: git_gate.repos[0].key.provider: must be a string, was a number" },
		{ 'g', REPO("\"key\":{\"path\":[]}"), "plan.json: git_gate.repos[0].key.path: must be a string, was a list" },
		{ 'g', REPO("\"key\":{\"api_url\":1}"), "plan.json: git_gate.repos[0].key.api_url: must be a string, was a number" },
		{ 'g', REPO("\"key\":{\"forge_token_env\":{}}"), "plan.json: git_gate.repos[0].key.forge_token_env: must be a string, was an object" },
		{ 'g', P "\"git_gate\":{\"user\":[]}}", "plan.json: git_gate.user: must be an object, was a list" },
		{ 'g', P "\"git_gate\":{\"user\":{\"email\":7}}}", "plan.json: git_gate.user.email: must be a string, was a number" },
		{ 'e', ROUTE("\"from\":\"claude\""), "(h.test): from: must be an object, was a string" },
		{ 'e', ROUTE("\"from\":{\"rules\":false}"), "(h.test): from.rules: must be a string, was a boolean" },
		{ 'p', P "\"provider\":\"claude\"}", "plan.json: provider: must be an object, was a string" },
		{ 'p', P "\"provider\":{\"template\":1}}", "plan.json: provider.template: must be a string, was a number" },
		{ 'p', P "\"provider\":{\"dockerfile\":[]}}", "plan.json: provider.dockerfile: must be a string, was a list" },
		{ 'p', P "\"provider\":{\"program\":true}}", "plan.json: provider.program: must be a string, was a boolean" },
		{ 'v', P "\"env\":{}}", "plan.json: env: must be a list, was an object" },
		{ 'v', P "\"env\":[\"TERM\"]}", "plan.json: env[0]: must be an object, was a string" },
		{ 'v', P "\"env\":[{\"name\":\"A\"},{\"name\":\"B\",\"source\":2}]}", "plan.json: env[1].source: must be a string, was a number" },
		{ 's', P "\"egress\":[]}", "plan.json: egress: must be an object, was a list" },
		{ 's', P "\"egress\":{\"token_slots\":{}}}", "plan.json: egress.token_slots: must be a list, was an object" },
		{ 's', P "\"egress\":{\"token_slots\":[{\"slot\":\"S\",\"ref\":[]}]}}", "plan.json: egress.token_slots[0].ref: must be a string, was a list" },
		{ 's', P "\"egress\":{\"token_slots\":[{\"slot\":\"S\",\"present\":\"yes\"}]}}", "plan.json: egress.token_slots[0].present: must be true or false, was a string" },
		{ 'u', P "\"supervise\":true}", "plan.json: supervise: must be an object, was a boolean" },
		{ 'a', P "\"agent\":\"dev\"}", "plan.json: agent: must be an object or null, was a string" },
		{ 'a', P "\"agent\":{\"file\":\"a.md\"}}", "plan.json: agent.name: is required" },
		{ 'b', P "\"bottle\":{\"name\":\"dev\",\"file\":1}}", "plan.json: bottle.file: must be a string, was a number" },
		{ 'n', P "\"notes\":\"x\"}", "plan.json: notes: must be a list, was a string" },
		{ 'n', P "\"notes\":[\"x\",2]}", "plan.json: notes[1]: must be a string, was a number" },
		{ 'u', P "\"supervise\":{\"enabled\":\"yes\"}}", "plan.json: supervise.enabled: must be true or false, was a string" },
	};

	check_cases(cases, sizeof cases / sizeof cases[0]);
}

/* A part is read (and refused) only when asked for: git-gate does not fail on a bad egress part. */
static void parts_are_read_apart(void)
{
	static const char json[] = P "\"egress\":{\"routes\":5},\"dns\":{\"allow\":[]},\"git_gate\":{\"repos\":[]}}";

	T_CHECK(strstr(part_error(json, 'e'), "egress.routes: must be a list") != NULL);
	T_STREQ(part_error(json, 'd'), "");
	T_STREQ(part_error(json, 'g'), "");
}

/* provider, env, token slots and supervise: read, and an absent optional part reads as empty. */
static void reads_provider_env_slots_supervise(void)
{
	struct planfile pf;
	struct bb_err e = { 0 };
	struct planfile_provider p;
	const struct planfile_env *v;
	const struct planfile_token_slot *s;
	size_t n = 0;
	int on = 0;

	T_CHECK(open_plan(&pf, plan_json, &e) == 0);
	T_CHECK(planfile_provider(&pf, &p, &e) == 0);
	T_STREQ(p.template_, "claude");
	T_STREQ(p.dockerfile, "");
	T_STREQ(p.program, "claude");
	T_CHECK(planfile_env(&pf, &v, &n, &e) == 0 && n == 2);
	if (n == 2) {
		T_STREQ(v[0].name, "TERM");
		T_STREQ(v[0].source, "host");
		T_STREQ(v[0].host_var, "TERM");
		T_CHECK(!strcmp(v[1].name, "X") && v[1].source == NULL && v[1].host_var == NULL);
	}
	T_CHECK(planfile_token_slots(&pf, &s, &n, &e) == 0 && n == 1);
	if (n == 1) {
		T_STREQ(s[0].slot, "BB_EGRESS_TOKEN_0");
		T_STREQ(s[0].ref, "CLAUDE_OAUTH");
		T_STREQ(s[0].source, "host_env");
		T_CHECK(s[0].present);
	}
	T_CHECK(planfile_supervise(&pf, &on, &e) == 0 && on == 1);
	{
		struct planfile_source a, b;
		struct planfile_strs notes;

		T_CHECK(planfile_agent(&pf, &a, &e) == 0 && !a.present); /* "agent": null, a bottle alone */
		T_CHECK(planfile_bottle(&pf, &b, &e) == 0 && b.present);
		T_STREQ(b.name, "dev");
		T_STREQ(b.file, "dev.md");
		T_CHECK(planfile_notes(&pf, &notes, &e) == 0 && notes.n == 1 && !strcmp(notes.v[0], "a note"));
	}
	planfile_free(&pf);

	T_CHECK(open_plan(&pf, "{\"schema\":\"bb.plan/1\"}", &e) == 0);
	n = 9;
	T_CHECK(planfile_env(&pf, &v, &n, &e) == 0 && n == 0);
	n = 9;
	T_CHECK(planfile_token_slots(&pf, &s, &n, &e) == 0 && n == 0);
	on = 1;
	T_CHECK(planfile_supervise(&pf, &on, &e) == 0 && on == 0);
	planfile_free(&pf);
}

/* A plan in memory is read in place: the schema is checked, and planfile_free leaves the caller's doc. */
static void wraps_a_plan_in_memory(void)
{
	cJSON *doc = cJSON_Parse(plan_json), *bad = cJSON_Parse("{\"schema\":\"bb.plan/0\"}");
	struct planfile pf;
	struct bb_err e = { 0 };
	const struct planfile_route *r;
	size_t n = 0;

	T_CHECK(doc && bad);
	T_CHECK(planfile_wrap(&pf, "the plan", doc, &e) == 0);
	T_CHECK(planfile_egress_routes(&pf, &r, &n, &e) == 0 && n == 3);
	T_STREQ(planfile_bottle_name(&pf), "dev");
	planfile_free(&pf);
	/* still the caller's: readable after planfile_free */
	T_STREQ(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, "schema")), "bb.plan/1");
	T_CHECK(planfile_wrap(&pf, "the plan", bad, &e) == -1);
	T_CHECK(strstr(e.msg, "the plan: not a bb plan: schema is \"bb.plan/0\"") != NULL);
	T_CHECK(cJSON_IsObject(bad)); /* a refused wrap leaves it too */
	T_CHECK(planfile_json_token_slots(doc) == cJSON_GetObjectItemCaseSensitive(
							  cJSON_GetObjectItemCaseSensitive(doc, "egress"), "token_slots"));
	T_CHECK(planfile_json_token_slots(bad) == NULL);
	cJSON_Delete(doc);
	cJSON_Delete(bad);
}

static int count_use(struct planfile *pf, void *arg, struct bb_err *e)
{
	const struct planfile_route *r;

	return planfile_egress_routes(pf, &r, arg, e);
}

/* planfile_use opens text or a file, hands the plan over, and passes on what the user returned. */
static void use_opens_text_and_files(void)
{
	struct bb_err e = { 0 };
	size_t n = 0;

	T_CHECK(planfile_use("plan.json", plan_json, sizeof plan_json - 1, count_use, &n, &e) == 0 && n == 3);
	T_CHECK(planfile_use("/nonexistent/plan.json", NULL, 0, count_use, &n, &e) == -1);
	T_CHECK(strstr(e.msg, "/nonexistent/plan.json") != NULL);
	T_CHECK(planfile_use("x", P "\"dns\":{}}", sizeof P "\"dns\":{}}" - 1, count_use, &n, &e) == -1);
	T_CHECK(strstr(e.msg, "x: egress: is required") != NULL);
}

int main(void)
{
	T_RUN(reads_egress_routes);
	T_RUN(reads_dns_and_git_gate);
	T_RUN(wrong_schema_is_refused);
	T_RUN(missing_parts_are_named);
	T_RUN(wrong_types_name_the_key);
	T_RUN(parts_are_read_apart);
	T_RUN(use_opens_text_and_files);
	T_RUN(reads_provider_env_slots_supervise);
	T_RUN(wraps_a_plan_in_memory);
	T_END();
}
