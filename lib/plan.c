/* plan.c - resolving a bottle (and agent) into the plan JSON: provider routes, token slots, daemons, ports, steps. */
#include "plan.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planfile.h"
#include "secrets.h"

/*
 * A route as the plan states it: a provider template's default (its host,
 * its credential) refined by the manifest's route for the same host (paths,
 * methods, dlp, allowlists), or a manifest route alone.
 */
struct plan_route {
	const struct mf_route *r; /* the manifest's route for this host, or NULL */
	size_t mf_index;          /* its index in egress.routes */
	const char *host, *scheme, *token_ref;
	const char *origin;      /* "manifest", "claude", "codex" */
	const char *host_from;   /* where the host came from: "claude", "claude (ANTHROPIC_BASE_URL)", "manifest" */
	const char *auth_from;   /* who set the credential: the provider's key, the manifest, or NULL */
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
	{
		/* Where each part came from: the provider's default, the manifest's route, or nowhere. */
		cJSON *from = cJSON_AddObjectToObject(o, "from");
		char mf[48];

		snprintf(mf, sizeof mf, "egress.routes[%zu]", pr->mf_index);
		cJSON_AddStringToObject(from, "host", pr->host_from);
		if (pr->auth_from)
			cJSON_AddStringToObject(from, "auth", pr->auth_from);
		else
			cJSON_AddNullToObject(from, "auth");
		cJSON_AddStringToObject(from, "rules", r ? mf : "default");
	}
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

/*
 * The host a gateway base URL names (ANTHROPIC_BASE_URL, OPENAI_BASE_URL in
 * the bottle's env: a literal, or the host variable's value at plan time),
 * lower-cased into out; 0, or -1 when env does not set it or it is no URL.
 */
static int base_url_host(const struct mf_bottle *b, const char *var, char *out, size_t cap)
{
	const char *v = NULL, *h, *end;
	size_t i, n;

	for (i = 0; i < b->nenv; i++)
		if (!strcmp(b->env[i].name, var))
			v = b->env[i].source == MF_ENV_LITERAL ? b->env[i].value
			    : b->env[i].source == MF_ENV_HOST  ? getenv(b->env[i].value)
								: NULL;
	if (!v || !(h = strstr(v, "://")))
		return -1;
	h += 3;
	end = h + strcspn(h, ":/?#");
	n = (size_t)(end - h);
	if (!n || n >= cap || memchr(h, '@', n))
		return -1;
	for (i = 0; i < n; i++)
		out[i] = (char)(h[i] >= 'A' && h[i] <= 'Z' ? h[i] - 'A' + 'a' : h[i]);
	out[n] = 0;
	return 0;
}

/*
 * The provider template's routes first: its hosts (a gateway's instead of
 * the vendor's when the env names a base URL) with its credential; then the
 * manifest's. A manifest route for a provider host refines that route (its
 * paths, matches, methods, dlp, git, allowlists apply) instead of being
 * dropped; it may bring a credential only where the provider injects none.
 * The number of routes, or -1 with e set on a conflict.
 */
static long effective_routes(const struct mf_bottle *b, struct plan_route *out, char gateway[2][256], cJSON *notes,
			     struct bb_err *e)
{
	const struct mf_provider *pv = &b->provider;
	size_t n = 0, i, k;

	if (!strcmp(pv->template_, "claude")) {
		int gw = base_url_host(b, "ANTHROPIC_BASE_URL", gateway[0], 256) == 0;

		out[n] = (struct plan_route){ NULL, 0, gw ? gateway[0] : "api.anthropic.com", NULL, NULL, "claude",
					      gw ? "claude (ANTHROPIC_BASE_URL)" : "claude", NULL };
		if (*pv->auth_token) {
			out[n].scheme = "Bearer";
			out[n].token_ref = pv->auth_token;
			out[n].auth_from = "agent_provider.auth_token";
		} else if (*pv->api_key) {
			out[n].scheme = "x-api-key";
			out[n].token_ref = pv->api_key;
			out[n].auth_from = "agent_provider.api_key";
		}
		n++;
	} else if (!strcmp(pv->template_, "codex")) {
		int gw = base_url_host(b, "OPENAI_BASE_URL", gateway[0], 256) == 0;
		const char *hosts[] = { gw ? gateway[0] : "api.openai.com", "chatgpt.com" };

		for (i = 0; i < 2; i++) {
			out[n] = (struct plan_route){ NULL, 0, hosts[i], NULL, NULL, "codex",
						      i == 0 && gw ? "codex (OPENAI_BASE_URL)" : "codex", NULL };
			if (pv->forward_host_credentials) {
				out[n].scheme = "Bearer";
				out[n].token_ref = CODEX_TOKEN_REF;
				out[n].auth_from = "agent_provider.forward_host_credentials";
			} else if (*pv->api_key && i == 0) { /* an API key is for the API, not for chatgpt.com */
				out[n].scheme = "Bearer";
				out[n].token_ref = pv->api_key;
				out[n].auth_from = "agent_provider.api_key";
			}
			if (i == 1 && !strcmp(hosts[0], hosts[1]))
				break;
			n++;
		}
	}
	for (i = 0; i < b->nroutes; i++) {
		const struct mf_route *r = &b->routes[i];
		char note[512];

		for (k = 0; k < n; k++)
			if (!out[k].r && !strcmp(out[k].host, r->host))
				break;
		if (k == n) { /* no provider route for this host (manifest hosts are unique: none refined yet) */
			out[n++] = (struct plan_route){ r, i, r->host, r->auth_scheme, r->token_ref, "manifest", "manifest",
							r->auth_scheme ? "manifest" : NULL };
			continue;
		}
		if (r->auth_scheme && out[k].scheme) {
			bb_errf(e, BB_EINVAL,
				"%s: egress.routes[%zu] (%s) sets auth, but the %s provider injects its own credential "
				"there (%s); remove the route's auth", b->file, i, r->host, out[k].origin, out[k].auth_from);
			return -1;
		}
		if (r->tls_passthrough && out[k].scheme) {
			bb_errf(e, BB_EINVAL,
				"%s: egress.routes[%zu] (%s) asks for pipelock.tls_passthrough, but the %s provider injects "
				"its credential there (%s), which a tunnel cannot carry", b->file, i, r->host, out[k].origin,
				out[k].auth_from);
			return -1;
		}
		out[k].r = r;
		out[k].mf_index = i;
		if (r->auth_scheme) {
			out[k].scheme = r->auth_scheme;
			out[k].token_ref = r->token_ref;
			out[k].auth_from = "manifest";
		}
		snprintf(note, sizeof note, "egress.routes[%zu] (%s) refines the %s provider route: its rules apply%s", i,
			 r->host, out[k].origin, r->auth_scheme ? ", with its auth" : "");
		cJSON_AddItemToArray(notes, cJSON_CreateString(note));
	}
	return (long)n;
}

static cJSON *egress_json(const struct mf_bottle *b, cJSON *notes, cJSON **dns_allow, struct bb_err *e)
{
	struct plan_route *routes = calloc(b->nroutes + 3, sizeof *routes);
	const char *refs[256];
	char gateway[2][256];
	size_t nrefs = 0, n, i, k;
	long got;
	cJSON *eg, *ra, *slots;

	if (!routes) {
		bb_errf(e, ENOMEM, "out of memory");
		return NULL;
	}
	if ((got = effective_routes(b, routes, gateway, notes, e)) < 0) {
		free(routes);
		return NULL;
	}
	n = (size_t)got;
	eg = cJSON_CreateObject();
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

int plan_register_tokens(struct planfile *pf, struct bb_err *e)
{
	const struct planfile_token_slot *slots;
	size_t n, i;

	if (planfile_token_slots(pf, &slots, &n, e) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const char *ref = slots[i].ref, *src = slots[i].source;
		const char *val = ref && src && !strcmp(src, "host_env") ? getenv(ref) : NULL;

		if (val && strlen(val) >= REDACT_MIN_LEN && secrets_add(ref, val, strlen(val), 0, e) < 0)
			return bb_err_wrap(e, "token %s", ref);
	}
	return 0;
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
	cJSON_AddStringToObject(o, "api_key_ref", b->provider.api_key);
	cJSON_AddStringToObject(o, "program", b->provider.program);
	cJSON_AddBoolToObject(o, "forward_host_credentials", b->provider.forward_host_credentials);
	cJSON_AddItemToObject(doc, "env", env_json(b));
	notes = cJSON_CreateArray();
	o = egress_json(b, notes, &dns_allow, e);
	if (!o) {
		cJSON_Delete(notes);
		cJSON_Delete(doc);
		return NULL;
	}
	cJSON_AddItemToObject(doc, "egress", o);
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
