/* planfile.c - reading a plan (bb.plan/1): schema check, and egress, dns and git_gate parts as typed, checked structs. */
#include "planfile.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "fd.h"
#include "json.h"
#include "plan.h"
#include "scan.h"

/*
 * Where in the plan an error is: "WHAT: egress.routes[2] (api.example.com):
 * auth.scheme: ...", "WHAT: git_gate.repos[0].key.path: ...".
 */
struct ctx {
	struct arena *arena; /* the planfile's */
	const char *what;
	char where[200];
	const char *sep; /* between where and the key: ": " in a route (after its host), else "." */
	const char *pre; /* before the key: "auth.", "key." or "" */
	struct bb_err *e;
};

static int perr(struct ctx *c, const char *key, const char *msg, const char *detail)
{
	return bb_errf(c->e, BB_EINVAL, "%s: %s%s%s%s: %s%s", c->what, c->where, *c->where ? c->sep : "", c->pre, key, msg,
		       detail ? detail : "");
}

static const char *jtype(const cJSON *j);

/* A list entry (c->where names it) that is not an object. */
static int not_object(struct ctx *c, const cJSON *j)
{
	return bb_errf(c->e, BB_EINVAL, "%s: %s: must be an object, was %s", c->what, c->where, jtype(j));
}

static int too_large(struct ctx *c)
{
	return bb_errf(c->e, BB_ETOOBIG, "%s: plan too large", c->what);
}

static const char *jtype(const cJSON *j)
{
	if (!j)
		return "missing";
	if (cJSON_IsString(j))
		return "a string";
	if (cJSON_IsBool(j))
		return "a boolean";
	if (cJSON_IsNumber(j))
		return "a number";
	if (cJSON_IsArray(j))
		return "a list";
	if (cJSON_IsObject(j))
		return "an object";
	return "null";
}

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A string key: absent or null gives NULL (an error when required). */
static int get_str(struct ctx *c, const cJSON *o, const char *key, int required, const char **out)
{
	const cJSON *j = get(o, key);

	*out = NULL;
	if (!j || cJSON_IsNull(j))
		return required ? perr(c, key, "is required", NULL) : 0;
	if (!cJSON_IsString(j))
		return perr(c, key, "must be a string, was ", jtype(j));
	*out = j->valuestring;
	return 0;
}

static int get_bool(struct ctx *c, const cJSON *o, const char *key, int *out)
{
	const cJSON *j = get(o, key);

	*out = 0;
	if (!j)
		return 0;
	if (!cJSON_IsBool(j))
		return perr(c, key, "must be true or false, was ", jtype(j));
	*out = cJSON_IsTrue(j);
	return 0;
}

/* An array's items, counted, in the arena (one spare slot so an empty list is not NULL). */
static void *items(struct ctx *c, const cJSON *arr, size_t elem)
{
	void *p = arena_alloc(c->arena, ((size_t)cJSON_GetArraySize(arr) + 1) * elem);

	if (!p)
		too_large(c);
	return p;
}

/* A list of strings; absent is empty. */
static int get_strs(struct ctx *c, const cJSON *o, const char *key, struct planfile_strs *out)
{
	const cJSON *j = get(o, key), *it;

	out->v = NULL;
	out->n = 0;
	out->present = 0;
	if (!j)
		return 0;
	if (!cJSON_IsArray(j))
		return perr(c, key, "must be a list, was ", jtype(j));
	out->present = 1;
	if (!(out->v = items(c, j, sizeof *out->v)))
		return -1;
	cJSON_ArrayForEach(it, j)
	{
		if (!cJSON_IsString(it)) {
			char keyi[48];

			snprintf(keyi, sizeof keyi, "%s[%zu]", key, out->n);
			return perr(c, keyi, "must be a string, was ", jtype(it));
		}
		out->v[out->n++] = it->valuestring;
	}
	return 0;
}

/* An optional sub-object: NULL when absent, an error when it is something else. */
static int get_obj(struct ctx *c, const cJSON *o, const char *key, const cJSON **out)
{
	const cJSON *j = get(o, key);

	*out = j;
	if (j && !cJSON_IsObject(j))
		return perr(c, key, "must be an object, was ", jtype(j));
	return 0;
}

/* Start pf on `what`; its doc is set by the caller and checked by check_doc. */
static int open_pf(struct planfile *pf, const char *what, struct bb_err *e)
{
	memset(pf, 0, sizeof *pf);
	pf->arena = (struct arena)ARENA_INIT(16u << 20);
	if (!(pf->what = arena_strdup(&pf->arena, what)))
		return bb_errf(e, BB_ETOOBIG, "plan source name too long");
	return 0;
}

/* pf->doc is a plan: an object whose "schema" is bb.plan/1. Frees pf when not. */
static int check_doc(struct planfile *pf, struct bb_err *e)
{
	const cJSON *schema;

	if (!cJSON_IsObject(pf->doc)) {
		bb_errf(e, BB_EINVAL, "%s: a plan is a JSON object, this is %s", pf->what, jtype(pf->doc));
		goto fail;
	}
	schema = get(pf->doc, "schema");
	if (!cJSON_IsString(schema) || strcmp(schema->valuestring, PLAN_SCHEMA) != 0) {
		bb_errf(e, BB_EINVAL, "%s: not a bb plan: schema is %s%.64s%s, expected \"" PLAN_SCHEMA "\"", pf->what,
			cJSON_IsString(schema) ? "\"" : "", cJSON_IsString(schema) ? schema->valuestring : jtype(schema),
			cJSON_IsString(schema) ? "\"" : "");
		goto fail;
	}
	return 0;
fail:
	planfile_free(pf);
	return -1;
}

int planfile_parse(struct planfile *pf, const char *what, const char *json, size_t len, struct bb_err *e)
{
	if (open_pf(pf, what, e) < 0)
		return -1;
	if (!(pf->doc = json_parse(what, json, len, e))) {
		planfile_free(pf);
		return -1;
	}
	return check_doc(pf, e);
}

int planfile_wrap(struct planfile *pf, const char *what, struct cJSON *doc, struct bb_err *e)
{
	if (open_pf(pf, what, e) < 0)
		return -1;
	pf->doc = doc;
	pf->borrowed = 1;
	return check_doc(pf, e);
}

int planfile_load(struct planfile *pf, const char *path, struct bb_err *e)
{
	struct buf b = BUF_INIT(PLANFILE_MAX_BYTES + 1);
	int rc;

	memset(pf, 0, sizeof *pf);
	if (fd_read_file(path, PLANFILE_MAX_BYTES, &b, e) < 0) {
		buf_free(&b);
		return -1;
	}
	rc = planfile_parse(pf, path, b.p ? b.p : "", b.len, e);
	buf_free(&b);
	return rc;
}

void planfile_free(struct planfile *pf)
{
	if (!pf->borrowed)
		cJSON_Delete(pf->doc);
	arena_free(&pf->arena);
	memset(pf, 0, sizeof *pf);
}

int planfile_use(const char *what, const char *json, size_t len, int (*use)(struct planfile *, void *, struct bb_err *),
		 void *arg, struct bb_err *e)
{
	struct planfile pf;
	int rc;

	if ((json ? planfile_parse(&pf, what, json, len, e) : planfile_load(&pf, what, e)) < 0)
		return -1;
	rc = use(&pf, arg, e);
	planfile_free(&pf);
	return rc;
}

/* ---- egress ---- */

/* "type" of a path or header entry (c->pre names the entry); absent is prefix. */
static int match_type(struct ctx *c, const cJSON *o, enum planfile_match_type *t)
{
	const char *s;

	if (get_str(c, o, "type", 0, &s) < 0)
		return -1;
	if (!s || !strcmp(s, "prefix"))
		*t = PLANFILE_PREFIX;
	else if (!strcmp(s, "exact"))
		*t = PLANFILE_EXACT;
	else if (!strcmp(s, "regex"))
		*t = PLANFILE_REGEX;
	else
		return perr(c, "type", "must be prefix, exact or regex, was ", s);
	return 0;
}

/* One paths[] or headers[] entry of matches[mi] (headers: with a name, and exact or regex). */
static int parse_entry(struct ctx *c, const cJSON *it, size_t mi, const char *list, size_t i, const char **name,
		       const char **value, enum planfile_match_type *type)
{
	char pre[64];

	snprintf(pre, sizeof pre, "matches[%zu].%s[%zu]", mi, list, i);
	if (!cJSON_IsObject(it))
		return perr(c, pre, "must be an object, was ", jtype(it));
	snprintf(pre + strlen(pre), sizeof pre - strlen(pre), ".");
	c->pre = pre;
	if ((name && get_str(c, it, "name", 1, name) < 0) || get_str(c, it, "value", 1, value) < 0 ||
	    match_type(c, it, type) < 0)
		goto fail;
	if (name && *type == PLANFILE_PREFIX) { /* headers know exact and regex; the plan writes one of them */
		perr(c, "type", "must be exact or regex, was prefix", NULL);
		goto fail;
	}
	c->pre = "";
	return 0;
fail:
	c->pre = "";
	return -1;
}

static int parse_match(struct ctx *c, const cJSON *m, size_t mi, struct planfile_match *out)
{
	const cJSON *paths, *hdrs, *it;
	char pre[32];
	int rc;

	snprintf(pre, sizeof pre, "matches[%zu]", mi);
	if (!cJSON_IsObject(m))
		return perr(c, pre, "must be an object, was ", jtype(m));
	snprintf(pre + strlen(pre), sizeof pre - strlen(pre), ".");
	c->pre = pre;
	paths = get(m, "paths");
	hdrs = get(m, "headers");
	rc = (paths && !cJSON_IsArray(paths)) ? perr(c, "paths", "must be a list, was ", jtype(paths))
	     : (hdrs && !cJSON_IsArray(hdrs)) ? perr(c, "headers", "must be a list, was ", jtype(hdrs))
					      : get_strs(c, m, "methods", &out->methods);
	c->pre = "";
	if (rc < 0 || !(out->paths = items(c, paths, sizeof *out->paths)) ||
	    !(out->headers = items(c, hdrs, sizeof *out->headers)))
		return -1;
	cJSON_ArrayForEach(it, paths)
	{
		struct planfile_path *p = &out->paths[out->npaths];

		if (parse_entry(c, it, mi, "paths", out->npaths, NULL, &p->value, &p->type) < 0)
			return -1;
		out->npaths++;
	}
	cJSON_ArrayForEach(it, hdrs)
	{
		struct planfile_header *h = &out->headers[out->nheaders];

		if (parse_entry(c, it, mi, "headers", out->nheaders, &h->name, &h->value, &h->type) < 0)
			return -1;
		out->nheaders++;
	}
	return 0;
}

/* dlp.outbound or dlp.inbound (c->pre is "dlp."): a list of detector names, or false. */
static int parse_detectors(struct ctx *c, const cJSON *dlp, const char *key, unsigned *out)
{
	const cJSON *j = get(dlp, key), *it;

	*out = 0;
	if (!j || cJSON_IsFalse(j))
		return 0;
	if (!cJSON_IsArray(j))
		return perr(c, key, "must be a list or false, was ", jtype(j));
	cJSON_ArrayForEach(it, j)
	{
		const char *s = cJSON_GetStringValue(it);

		if (s && !strcmp(s, "token_patterns"))
			*out |= SCAN_TOKEN_PATTERNS;
		else if (s && !strcmp(s, "known_secrets"))
			*out |= SCAN_KNOWN_SECRETS;
		else if (s && !strcmp(s, "naive_injection_detection"))
			*out |= SCAN_INJECTION;
		else
			return perr(c, key, "unknown detector ", s ? s : jtype(it));
	}
	return 0;
}

static int parse_auth(struct ctx *c, const cJSON *j, struct planfile_route *r)
{
	const cJSON *auth = get(j, "auth");
	const char *scheme;
	int rc;

	if (!auth || cJSON_IsNull(auth))
		return 0;
	if (!cJSON_IsObject(auth))
		return perr(c, "auth", "must be an object or null, was ", jtype(auth));
	c->pre = "auth.";
	rc = get_str(c, auth, "scheme", 1, &scheme) < 0 || get_str(c, auth, "token_slot", 1, &r->token_slot) < 0 ||
	     get_str(c, auth, "token_ref", 0, &r->token_ref) < 0 ? -1 : 0;
	c->pre = "";
	if (rc < 0)
		return -1;
	r->scheme = scheme;
	if (!strcmp(scheme, "Bearer"))
		r->auth = PLANFILE_AUTH_BEARER;
	else if (!strcmp(scheme, "token"))
		r->auth = PLANFILE_AUTH_TOKEN;
	else if (!strcmp(scheme, "x-api-key"))
		r->auth = PLANFILE_AUTH_API_KEY;
	else
		return perr(c, "auth.scheme", "must be Bearer, token or x-api-key, was ", scheme);
	return 0;
}

static int parse_route(struct ctx *c, const cJSON *j, struct planfile_route *r)
{
	const cJSON *dlp, *ms, *it, *from;
	size_t at = strlen(c->where);
	int rc;

	if (!cJSON_IsObject(j))
		return not_object(c, j);
	if (get_str(c, j, "host", 1, &r->host) < 0)
		return -1;
	snprintf(c->where + at, sizeof c->where - at, " (%.100s)", r->host);
	if (get_str(c, j, "origin", 0, &r->origin) < 0 || get_obj(c, j, "from", &from) < 0 || parse_auth(c, j, r) < 0 ||
	    get_strs(c, j, "path_allowlist", &r->path_allowlist) < 0)
		return -1;
	c->pre = "from.";
	rc = get_str(c, from, "host", 0, &r->from_host) < 0 || get_str(c, from, "rules", 0, &r->from_rules) < 0 ? -1 : 0;
	c->pre = "";
	if (rc < 0)
		return -1;
	ms = get(j, "matches");
	if (ms && !cJSON_IsArray(ms))
		return perr(c, "matches", "must be a list, was ", jtype(ms));
	if (ms) {
		if (!(r->matches = items(c, ms, sizeof *r->matches)))
			return -1;
		cJSON_ArrayForEach(it, ms)
		{
			if (parse_match(c, it, r->nmatches, &r->matches[r->nmatches]) < 0)
				return -1;
			r->nmatches++;
		}
	}
	if (get_obj(c, j, "dlp", &dlp) < 0)
		return -1;
	if (!dlp) { /* the manifest's default: every detector */
		r->dlp_out = SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS;
		r->dlp_in = SCAN_INJECTION;
	} else {
		c->pre = "dlp.";
		rc = parse_detectors(c, dlp, "outbound", &r->dlp_out) < 0 || parse_detectors(c, dlp, "inbound", &r->dlp_in) < 0 ||
				     get_strs(c, dlp, "outbound_allow", &r->dlp_out_allow) < 0 ||
				     get_strs(c, dlp, "inbound_allow", &r->dlp_in_allow) < 0
			     ? -1
			     : 0;
		c->pre = "";
		if (rc < 0)
			return -1;
	}
	if (r->dlp_in & ~(unsigned)SCAN_INJECTION || r->dlp_out & SCAN_INJECTION)
		return perr(c, "dlp", "detector used in the wrong direction", NULL);
	if (get_bool(c, j, "git_fetch", &r->git_fetch) < 0 || get_bool(c, j, "tls_passthrough", &r->tls_passthrough) < 0 ||
	    get_strs(c, j, "ssrf_ip_allowlist", &r->ssrf_ip_allowlist) < 0)
		return -1;
	return 0;
}

int planfile_egress_routes(struct planfile *pf, const struct planfile_route **out, size_t *n, struct bb_err *e)
{
	struct ctx c = { &pf->arena, pf->what, "", ".", "", e };
	const cJSON *eg, *routes, *it;
	struct planfile_route *rs;
	size_t i = 0;

	*out = NULL;
	*n = 0;
	if (get_obj(&c, pf->doc, "egress", &eg) < 0)
		return -1;
	if (!eg)
		return perr(&c, "egress", "is required", NULL);
	routes = get(eg, "routes");
	if (!cJSON_IsArray(routes))
		return perr(&c, "egress.routes", routes ? "must be a list, was " : "is required", routes ? jtype(routes) : NULL);
	if (!(rs = items(&c, routes, sizeof *rs)))
		return -1;
	c.sep = ": "; /* "egress.routes[2] (HOST): KEY" */
	cJSON_ArrayForEach(it, routes)
	{
		snprintf(c.where, sizeof c.where, "egress.routes[%zu]", i);
		if (parse_route(&c, it, &rs[i]) < 0)
			return -1;
		i++;
	}
	if (pf->arena.failed)
		return too_large(&c);
	*out = rs;
	*n = i;
	return 0;
}

int planfile_route_err(const struct planfile *pf, size_t i, const struct planfile_route *r, const char *field,
		       const char *msg, const char *detail, struct bb_err *e)
{
	struct ctx c = { NULL, pf->what, "", ": ", "", e };

	snprintf(c.where, sizeof c.where, "egress.routes[%zu] (%.100s)", i, r->host);
	return perr(&c, field, msg, detail);
}

/* ---- dns ---- */

int planfile_dns(struct planfile *pf, struct planfile_dns *out, struct bb_err *e)
{
	struct ctx c = { &pf->arena, pf->what, "", ".", "", e };
	const cJSON *dns, *types, *it;
	char field[48];

	memset(out, 0, sizeof *out);
	if (get_obj(&c, pf->doc, "dns", &dns) < 0)
		return -1;
	if (!dns)
		return perr(&c, "dns", "is required", NULL);
	cJSON_ArrayForEach(it, dns)
	{
		if (strcmp(it->string, "allow") && strcmp(it->string, "allow_types"))
			return bb_errf(e, BB_EINVAL, "%s: dns: unknown key '%.64s' (allowed: allow, allow_types)", pf->what,
				       it->string);
	}
	snprintf(c.where, sizeof c.where, "dns");
	if (get_strs(&c, dns, "allow", &out->allow) < 0)
		return -1;
	types = get(dns, "allow_types");
	if (types && !cJSON_IsArray(types))
		return perr(&c, "allow_types", "must be a list of type names, was ", jtype(types));
	if (types) {
		if (!(out->types = items(&c, types, sizeof *out->types)))
			return -1;
		cJSON_ArrayForEach(it, types)
		{
			struct planfile_dns_type *t = &out->types[out->ntypes];

			snprintf(field, sizeof field, "allow_types[%zu]", out->ntypes);
			if (cJSON_IsString(it))
				t->name = it->valuestring;
			else if (cJSON_IsNumber(it))
				t->number = it->valuedouble;
			else
				return perr(&c, field, "must be a type name or number, was ", jtype(it));
			out->ntypes++;
		}
	}
	return 0;
}

/* ---- git_gate ---- */

static int parse_repo(struct ctx *c, const cJSON *o, struct planfile_repo *r)
{
	const cJSON *port, *key;
	int rc;

	if (!cJSON_IsObject(o))
		return not_object(c, o);
	if (get_str(c, o, "name", 0, &r->name) < 0 || get_str(c, o, "url", 0, &r->url) < 0 ||
	    get_str(c, o, "user", 0, &r->user) < 0 || get_str(c, o, "host", 0, &r->host) < 0 ||
	    get_str(c, o, "path", 0, &r->path) < 0 || get_str(c, o, "host_key", 0, &r->host_key) < 0 ||
	    get_obj(c, o, "key", &key) < 0)
		return -1;
	port = get(o, "port");
	if (port) {
		if (!cJSON_IsNumber(port) || port->valuedouble < 1 || port->valuedouble > 65535 ||
		    port->valuedouble != (double)port->valueint)
			return perr(c, "port", "must be a whole number from 1 to 65535, was ",
				    cJSON_IsNumber(port) ? "out of range" : jtype(port));
		r->port = (unsigned)port->valueint;
	}
	if (!key)
		return 0;
	c->pre = "key.";
	rc = get_str(c, key, "provider", 0, &r->key_provider) < 0 || get_str(c, key, "path", 0, &r->key_path) < 0 ||
			     get_str(c, key, "forge_token_env", 0, &r->key_forge_token_env) < 0 ||
			     get_str(c, key, "api_url", 0, &r->key_api_url) < 0
		     ? -1
		     : 0;
	c->pre = "";
	return rc;
}

int planfile_git_gate(struct planfile *pf, struct planfile_git_gate *out, struct bb_err *e)
{
	struct ctx c = { &pf->arena, pf->what, "", ".", "", e };
	const cJSON *gg, *repos, *user, *it;

	memset(out, 0, sizeof *out);
	if (get_obj(&c, pf->doc, "git_gate", &gg) < 0)
		return -1;
	if (!gg)
		return 0;
	snprintf(c.where, sizeof c.where, "git_gate");
	if (get_obj(&c, gg, "user", &user) < 0)
		return -1;
	snprintf(c.where, sizeof c.where, "git_gate.user");
	if (get_str(&c, user, "name", 0, &out->user_name) < 0 || get_str(&c, user, "email", 0, &out->user_email) < 0)
		return -1;
	c.where[0] = 0;
	if (!(repos = get(gg, "repos")))
		return 0;
	if (!cJSON_IsArray(repos))
		return perr(&c, "git_gate.repos", "must be a list, was ", jtype(repos));
	if (!(out->repos = items(&c, repos, sizeof *out->repos)))
		return -1;
	cJSON_ArrayForEach(it, repos)
	{
		snprintf(c.where, sizeof c.where, "git_gate.repos[%zu]", out->nrepos);
		if (parse_repo(&c, it, &out->repos[out->nrepos]) < 0)
			return -1;
		out->nrepos++;
	}
	out->present = 1;
	return 0;
}

/* ---- provider, env, token slots, supervise ---- */

int planfile_provider(struct planfile *pf, struct planfile_provider *out, struct bb_err *e)
{
	struct ctx c = { &pf->arena, pf->what, "", ".", "", e };
	const cJSON *p;

	memset(out, 0, sizeof *out);
	if (get_obj(&c, pf->doc, "provider", &p) < 0)
		return -1;
	if (!p)
		return perr(&c, "provider", "is required", NULL);
	snprintf(c.where, sizeof c.where, "provider");
	return get_str(&c, p, "template", 0, &out->template_) < 0 || get_str(&c, p, "dockerfile", 0, &out->dockerfile) < 0 ||
			       get_str(&c, p, "program", 0, &out->program) < 0
		       ? -1
		       : 0;
}

/*
 * The list at key of o (named `where`, e.g. "egress.token_slots"), each
 * entry an object handed to one(c, entry, out + i * elem); absent is
 * empty. The entries land in the arena.
 */
static int read_list(struct ctx *c, const cJSON *o, const char *key, const char *where, size_t elem,
		     int (*one)(struct ctx *, const cJSON *, void *), void **out, size_t *n)
{
	const cJSON *l = get(o, key), *it;
	char *v;

	*out = NULL;
	*n = 0;
	if (!l)
		return 0;
	if (!cJSON_IsArray(l))
		return perr(c, where, "must be a list, was ", jtype(l));
	if (!(v = items(c, l, elem)))
		return -1;
	cJSON_ArrayForEach(it, l)
	{
		snprintf(c->where, sizeof c->where, "%s[%zu]", where, *n);
		if (!cJSON_IsObject(it))
			return not_object(c, it);
		if (one(c, it, v + *n * elem) < 0)
			return -1;
		++*n;
	}
	*out = v;
	return 0;
}

static int env_one(struct ctx *c, const cJSON *o, void *out)
{
	struct planfile_env *v = out;

	return get_str(c, o, "name", 1, &v->name) < 0 || get_str(c, o, "source", 0, &v->source) < 0 ||
			       get_str(c, o, "host_var", 0, &v->host_var) < 0
		       ? -1
		       : 0;
}

int planfile_env(struct planfile *pf, const struct planfile_env **out, size_t *n, struct bb_err *e)
{
	struct ctx c = { &pf->arena, pf->what, "", ".", "", e };
	void *v;
	int rc = read_list(&c, pf->doc, "env", "env", sizeof **out, env_one, &v, n);

	*out = rc < 0 ? NULL : v;
	return rc;
}

static int slot_one(struct ctx *c, const cJSON *o, void *out)
{
	struct planfile_token_slot *v = out;

	return get_str(c, o, "slot", 1, &v->slot) < 0 || get_str(c, o, "ref", 0, &v->ref) < 0 ||
			       get_str(c, o, "source", 0, &v->source) < 0 || get_bool(c, o, "present", &v->present) < 0
		       ? -1
		       : 0;
}

int planfile_token_slots(struct planfile *pf, const struct planfile_token_slot **out, size_t *n, struct bb_err *e)
{
	struct ctx c = { &pf->arena, pf->what, "", ".", "", e };
	const cJSON *eg;
	void *v = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (get_obj(&c, pf->doc, "egress", &eg) < 0)
		return -1;
	rc = read_list(&c, eg, "token_slots", "egress.token_slots", sizeof **out, slot_one, &v, n);
	*out = rc < 0 ? NULL : v;
	return rc;
}

int planfile_supervise(struct planfile *pf, int *enabled, struct bb_err *e)
{
	struct ctx c = { &pf->arena, pf->what, "", ".", "", e };
	const cJSON *s;

	*enabled = 0;
	if (get_obj(&c, pf->doc, "supervise", &s) < 0)
		return -1;
	snprintf(c.where, sizeof c.where, "supervise");
	return get_bool(&c, s, "enabled", enabled);
}

/* ---- agent, bottle, notes ---- */

static int source_part(struct planfile *pf, const char *key, struct planfile_source *out, struct bb_err *e)
{
	struct ctx c = { &pf->arena, pf->what, "", ".", "", e };
	const cJSON *o = get(pf->doc, key);

	memset(out, 0, sizeof *out);
	if (!o || cJSON_IsNull(o))
		return 0;
	if (!cJSON_IsObject(o))
		return perr(&c, key, "must be an object or null, was ", jtype(o));
	snprintf(c.where, sizeof c.where, "%s", key);
	out->present = 1;
	return get_str(&c, o, "name", 1, &out->name) < 0 || get_str(&c, o, "file", 0, &out->file) < 0 ? -1 : 0;
}

int planfile_agent(struct planfile *pf, struct planfile_source *out, struct bb_err *e)
{
	return source_part(pf, "agent", out, e);
}

int planfile_bottle(struct planfile *pf, struct planfile_source *out, struct bb_err *e)
{
	return source_part(pf, "bottle", out, e);
}

int planfile_notes(struct planfile *pf, struct planfile_strs *out, struct bb_err *e)
{
	struct ctx c = { &pf->arena, pf->what, "", ".", "", e };

	return get_strs(&c, pf->doc, "notes", out);
}

const char *planfile_bottle_name(struct planfile *pf)
{
	return cJSON_GetStringValue(get(get(pf->doc, "bottle"), "name"));
}

/* ---- editing a running plan ---- */

/* doc's part.key when it is a list, else NULL. */
static struct cJSON *json_list(struct cJSON *doc, const char *part, const char *key)
{
	cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, part), key);

	return cJSON_IsArray(a) ? a : NULL;
}

struct cJSON *planfile_json_routes(struct cJSON *doc)
{
	return json_list(doc, "egress", "routes");
}

struct cJSON *planfile_json_dns_allow(struct cJSON *doc)
{
	return json_list(doc, "dns", "allow");
}

struct cJSON *planfile_json_token_slots(struct cJSON *doc)
{
	return json_list(doc, "egress", "token_slots");
}
