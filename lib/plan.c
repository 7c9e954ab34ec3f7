/* plan.c - resolving a bottle (and agent) into the plan JSON: provider routes, token slots, daemons, ports, steps. */
#include "plan.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* A route as the plan states it: the manifest's, or one a provider template adds. */
struct plan_route {
	const struct mf_route *r;
	const char *host, *scheme, *token_ref;
	const char *origin; /* "manifest", "claude", "codex" */
};

#define CODEX_TOKEN_REF "BB_CODEX_HOST_ACCESS_TOKEN"

static cJSON *str_array(const char *const *v, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
	return a;
}

static cJSON *detectors(unsigned bits, int outbound)
{
	cJSON *a = cJSON_CreateArray();

	if (outbound) {
		if (bits & MF_DLP_TOKEN_PATTERNS)
			cJSON_AddItemToArray(a, cJSON_CreateString("token_patterns"));
		if (bits & MF_DLP_KNOWN_SECRETS)
			cJSON_AddItemToArray(a, cJSON_CreateString("known_secrets"));
	} else if (bits & MF_DLP_INJECTION) {
		cJSON_AddItemToArray(a, cJSON_CreateString("naive_injection_detection"));
	}
	return a;
}

static const char *match_type(enum mf_match_type t)
{
	return t == MF_EXACT ? "exact" : t == MF_REGEX ? "regex" : "prefix";
}

static cJSON *route_json(const struct plan_route *pr, const char *slot)
{
	const struct mf_route *r = pr->r;
	cJSON *o = cJSON_CreateObject(), *ms, *dlp;
	size_t i, j;

	cJSON_AddStringToObject(o, "host", pr->host);
	cJSON_AddStringToObject(o, "origin", pr->origin);
	if (pr->scheme) {
		cJSON *auth = cJSON_AddObjectToObject(o, "auth");

		cJSON_AddStringToObject(auth, "scheme", pr->scheme);
		cJSON_AddStringToObject(auth, "token_slot", slot);
		cJSON_AddStringToObject(auth, "token_ref", pr->token_ref);
	} else {
		cJSON_AddNullToObject(o, "auth");
	}
	cJSON_AddItemToObject(o, "path_allowlist", str_array(r ? r->path_allowlist : NULL, r ? r->npath_allowlist : 0));
	ms = cJSON_AddArrayToObject(o, "matches");
	for (i = 0; r && i < r->nmatches; i++) {
		const struct mf_match *mt = &r->matches[i];
		cJSON *m = cJSON_CreateObject(), *paths = cJSON_AddArrayToObject(m, "paths"), *hs;

		for (j = 0; j < mt->npaths; j++) {
			cJSON *p = cJSON_CreateObject();

			cJSON_AddStringToObject(p, "type", match_type(mt->paths[j].type));
			cJSON_AddStringToObject(p, "value", mt->paths[j].value);
			cJSON_AddItemToArray(paths, p);
		}
		cJSON_AddItemToObject(m, "methods", str_array(mt->methods, mt->nmethods));
		hs = cJSON_AddArrayToObject(m, "headers");
		for (j = 0; j < mt->nheaders; j++) {
			cJSON *h = cJSON_CreateObject();

			cJSON_AddStringToObject(h, "name", mt->headers[j].name);
			cJSON_AddStringToObject(h, "value", mt->headers[j].value);
			cJSON_AddStringToObject(h, "type", match_type(mt->headers[j].type));
			cJSON_AddItemToArray(hs, h);
		}
		cJSON_AddItemToArray(ms, m);
	}
	dlp = cJSON_AddObjectToObject(o, "dlp");
	cJSON_AddItemToObject(dlp, "outbound", detectors(r ? r->dlp_outbound : MF_DLP_OUTBOUND_ALL, 1));
	cJSON_AddItemToObject(dlp, "inbound", detectors(r ? r->dlp_inbound : MF_DLP_INBOUND_ALL, 0));
	cJSON_AddBoolToObject(o, "git_fetch", r ? r->git_fetch : 0);
	cJSON_AddBoolToObject(o, "tls_passthrough", r ? r->tls_passthrough : 0);
	cJSON_AddItemToObject(o, "ssrf_ip_allowlist", str_array(r ? r->ssrf_ip_allowlist : NULL, r ? r->nssrf : 0));
	cJSON_AddItemToObject(o, "roles", str_array(r ? r->roles : NULL, r ? r->nroles : 0));
	return o;
}

/* Provider routes first (they claim their hosts), then the manifest's for other hosts. */
static size_t effective_routes(const struct mf_bottle *b, struct plan_route *out, cJSON *notes)
{
	size_t n = 0, i, k;

	if (!strcmp(b->provider.template_, "claude")) {
		out[n] = (struct plan_route){ NULL, "api.anthropic.com", NULL, NULL, "claude" };
		if (*b->provider.auth_token) {
			out[n].scheme = "Bearer";
			out[n].token_ref = b->provider.auth_token;
		}
		n++;
	} else if (!strcmp(b->provider.template_, "codex")) {
		static const char *const hosts[] = { "api.openai.com", "chatgpt.com" };

		for (i = 0; i < 2; i++) {
			out[n] = (struct plan_route){ NULL, hosts[i], NULL, NULL, "codex" };
			if (b->provider.forward_host_credentials) {
				out[n].scheme = "Bearer";
				out[n].token_ref = CODEX_TOKEN_REF;
			}
			n++;
		}
	}
	for (i = 0; i < b->nroutes; i++) {
		const struct mf_route *r = &b->routes[i];

		for (k = 0; k < n; k++)
			if (!strcmp(out[k].host, r->host))
				break;
		if (k < n) {
			char note[512];

			snprintf(note, sizeof note,
				 "egress.routes[%zu] (%s) is replaced by the %s provider route for the same host", i, r->host,
				 out[k].origin);
			cJSON_AddItemToArray(notes, cJSON_CreateString(note));
			continue;
		}
		out[n++] = (struct plan_route){ r, r->host, r->auth_scheme, r->token_ref, "manifest" };
	}
	return n;
}

static cJSON *egress_json(const struct mf_bottle *b, cJSON *notes, cJSON **dns_allow)
{
	struct plan_route *routes = calloc(b->nroutes + 3, sizeof *routes);
	const char *refs[256];
	size_t nrefs = 0, n, i, k;
	cJSON *eg = cJSON_CreateObject(), *ra, *slots;

	if (!routes)
		return eg;
	n = effective_routes(b, routes, notes);
	ra = cJSON_AddArrayToObject(eg, "routes");
	*dns_allow = cJSON_CreateArray();
	for (i = 0; i < n; i++) {
		char slot[64] = "";

		if (routes[i].scheme) {
			for (k = 0; k < nrefs; k++)
				if (!strcmp(refs[k], routes[i].token_ref))
					break;
			if (k == nrefs && nrefs < 256)
				refs[nrefs++] = routes[i].token_ref;
			snprintf(slot, sizeof slot, PLAN_TOKEN_SLOT_PREFIX "%zu", k);
		}
		cJSON_AddItemToArray(ra, route_json(&routes[i], slot));
		cJSON_AddItemToArray(*dns_allow, cJSON_CreateString(routes[i].host));
	}
	slots = cJSON_AddArrayToObject(eg, "token_slots");
	for (k = 0; k < nrefs; k++) {
		cJSON *s = cJSON_CreateObject();
		char name[64];
		const char *val = getenv(refs[k]);

		snprintf(name, sizeof name, PLAN_TOKEN_SLOT_PREFIX "%zu", k);
		cJSON_AddStringToObject(s, "slot", name);
		cJSON_AddStringToObject(s, "ref", refs[k]);
		if (!strcmp(refs[k], CODEX_TOKEN_REF)) {
			cJSON_AddStringToObject(s, "source", "provisioned");
		} else {
			cJSON_AddStringToObject(s, "source", "host_env");
			cJSON_AddBoolToObject(s, "present", val && *val);
			/* From here on the value cannot reach any output. */
			if (val && strlen(val) >= REDACT_MIN_LEN)
				redact_add(val, strlen(val), NULL);
		}
		cJSON_AddItemToArray(slots, s);
	}
	free(routes);
	return eg;
}

static cJSON *git_json(const struct mf_bottle *b, struct mf_user user)
{
	cJSON *g = cJSON_CreateObject(), *u = cJSON_AddObjectToObject(g, "user"), *repos;
	size_t i;

	cJSON_AddStringToObject(u, "name", user.name);
	cJSON_AddStringToObject(u, "email", user.email);
	repos = cJSON_AddArrayToObject(g, "repos");
	for (i = 0; i < b->nrepos; i++) {
		const struct mf_repo *r = &b->repos[i];
		cJSON *o = cJSON_CreateObject(), *k;

		cJSON_AddStringToObject(o, "name", r->name);
		cJSON_AddStringToObject(o, "url", r->url);
		cJSON_AddStringToObject(o, "user", r->user);
		cJSON_AddStringToObject(o, "host", r->host);
		cJSON_AddNumberToObject(o, "port", r->port);
		cJSON_AddStringToObject(o, "path", r->path);
		k = cJSON_AddObjectToObject(o, "key");
		if (r->provider == MF_KEY_STATIC) {
			cJSON_AddStringToObject(k, "provider", "static");
			cJSON_AddStringToObject(k, "path", r->key_path);
		} else {
			cJSON_AddStringToObject(k, "provider", "gitea");
			cJSON_AddStringToObject(k, "forge_token_env", r->forge_token_env);
			cJSON_AddStringToObject(k, "api_url", r->api_url);
		}
		cJSON_AddStringToObject(o, "host_key", r->host_key);
		cJSON_AddItemToArray(repos, o);
	}
	return g;
}

static cJSON *env_json(const struct mf_bottle *b)
{
	static const char *const src[] = { "literal", "prompt", "host" };
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; i < b->nenv; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", b->env[i].name);
		cJSON_AddStringToObject(o, "source", src[b->env[i].source]);
		if (b->env[i].source == MF_ENV_HOST)
			cJSON_AddStringToObject(o, "host_var", b->env[i].value);
		cJSON_AddItemToArray(a, o);
	}
	return a;
}

cJSON *plan_build(const struct manifest *m, const char *agent, const char *bottle, struct bb_err *e)
{
	static const char *const steps[] = { "ca", "prompt", "provider_auth", "skills", "workspace", "git", "supervise" };
	const struct mf_agent *a = NULL;
	const struct mf_bottle *b;
	struct mf_user user;
	cJSON *doc, *o, *notes, *dns_allow = NULL, *daemons, *ports;
	size_t i;

	if (agent) {
		a = manifest_agent(m, agent);
		if (!a) {
			bb_errf(e, BB_EINVAL, "no agent named '%s'", agent);
			return NULL;
		}
		if (!a->ok || !a->bottle) {
			bb_errf(e, BB_EINVAL, "agent '%s' (%s) is not valid; run 'bb bottle validate %s'", agent, a->file, agent);
			return NULL;
		}
		bottle = a->bottle;
	}
	b = manifest_bottle(m, bottle);
	if (!b) {
		bb_errf(e, BB_EINVAL, "no bottle named '%s'", bottle);
		return NULL;
	}
	if (!b->ok) {
		bb_errf(e, BB_EINVAL, "bottle '%s' (%s) is not valid; run 'bb bottle validate %s'", bottle, b->file, bottle);
		return NULL;
	}
	user = a ? manifest_agent_user(m, a) : b->git_user;
	doc = cJSON_CreateObject();
	cJSON_AddStringToObject(doc, "schema", PLAN_SCHEMA);
	if (a) {
		o = cJSON_AddObjectToObject(doc, "agent");
		cJSON_AddStringToObject(o, "name", a->name);
		cJSON_AddStringToObject(o, "file", a->file);
		cJSON_AddItemToObject(o, "skills", str_array(a->skills, a->nskills));
		cJSON_AddNumberToObject(o, "prompt_bytes", (double)strlen(a->prompt ? a->prompt : ""));
	} else {
		cJSON_AddNullToObject(doc, "agent");
	}
	o = cJSON_AddObjectToObject(doc, "bottle");
	cJSON_AddStringToObject(o, "name", b->name);
	cJSON_AddStringToObject(o, "file", b->file);
	cJSON_AddItemToObject(o, "extends_chain", str_array(b->chain, b->nchain));
	o = cJSON_AddObjectToObject(doc, "provider");
	cJSON_AddStringToObject(o, "template", b->provider.template_);
	if (b->provider.command)
		cJSON_AddItemToObject(o, "command", str_array(b->provider.command, b->provider.ncommand));
	cJSON_AddStringToObject(o, "dockerfile", b->provider.dockerfile);
	cJSON_AddStringToObject(o, "auth_token_ref", b->provider.auth_token);
	cJSON_AddBoolToObject(o, "forward_host_credentials", b->provider.forward_host_credentials);
	cJSON_AddItemToObject(doc, "env", env_json(b));
	notes = cJSON_CreateArray();
	cJSON_AddItemToObject(doc, "egress", egress_json(b, notes, &dns_allow));
	cJSON_AddItemToObject(doc, "git_gate", git_json(b, user));
	o = cJSON_AddObjectToObject(doc, "supervise");
	cJSON_AddBoolToObject(o, "enabled", b->supervise);
	o = cJSON_AddObjectToObject(doc, "dns");
	cJSON_AddItemToObject(o, "allow", dns_allow ? dns_allow : cJSON_CreateArray());
	daemons = cJSON_AddArrayToObject(doc, "daemons");
	cJSON_AddItemToArray(daemons, cJSON_CreateString("egress"));
	cJSON_AddItemToArray(daemons, cJSON_CreateString("dns"));
	if (b->nrepos) {
		cJSON_AddItemToArray(daemons, cJSON_CreateString("git-gate"));
		cJSON_AddItemToArray(daemons, cJSON_CreateString("git-http"));
	}
	if (b->supervise)
		cJSON_AddItemToArray(daemons, cJSON_CreateString("supervise"));
	ports = cJSON_AddObjectToObject(doc, "ports");
	cJSON_AddNumberToObject(ports, "egress", PORT_EGRESS);
	cJSON_AddNumberToObject(ports, "git_gate", PORT_GIT_GATE);
	cJSON_AddNumberToObject(ports, "git_http", PORT_GIT_HTTP);
	cJSON_AddNumberToObject(ports, "supervise", PORT_SUPERVISE);
	cJSON_AddNumberToObject(ports, "dns", PORT_DNS);
	o = cJSON_AddArrayToObject(doc, "provisioning");
	for (i = 0; i < sizeof steps / sizeof steps[0]; i++)
		cJSON_AddItemToArray(o, cJSON_CreateString(steps[i]));
	cJSON_AddItemToObject(doc, "notes", notes);
	return doc;
}
