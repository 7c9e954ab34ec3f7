/* route.c - egress policy loading (from the plan JSON) and the per-request route decision. */
#include "route.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "fd.h"
#include "json.h"
#include "re.h"
#include "scan.h"
#include "hex.h"

struct pctx {
	struct policy *p;
	const char *what;
	char where[160]; /* "routes[2] (api.example.com)" */
	struct bb_err *e;
};

static int perr(struct pctx *c, const char *field, const char *fmt, const char *detail)
{
	if (c->where[0])
		return bb_errf(c->e, BB_EINVAL, "%s: %s: %s: %s%s", c->what, c->where, field, fmt, detail ? detail : "");
	return bb_errf(c->e, BB_EINVAL, "%s: %s: %s%s", c->what, field, fmt, detail ? detail : "");
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

static const char *get_str(struct pctx *c, const cJSON *o, const char *key, int required, int *bad)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!j || cJSON_IsNull(j)) {
		if (required) {
			perr(c, key, "is required", NULL);
			*bad = 1;
		}
		return NULL;
	}
	if (!cJSON_IsString(j)) {
		perr(c, key, "must be a string, was ", jtype(j));
		*bad = 1;
		return NULL;
	}
	return arena_strdup(&c->p->arena, j->valuestring);
}

static int get_bool(struct pctx *c, const cJSON *o, const char *key, int *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!j) {
		*out = 0;
		return 0;
	}
	if (!cJSON_IsBool(j))
		return perr(c, key, "must be true or false, was ", jtype(j));
	*out = cJSON_IsTrue(j);
	return 0;
}

/* A list of strings (absent = empty). */
static int get_strs(struct pctx *c, const cJSON *o, const char *key, const char ***out, size_t *n)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key), *it;
	size_t i = 0;
	*out = NULL;
	*n = 0;
	if (!j)
		return 0;
	if (!cJSON_IsArray(j))
		return perr(c, key, "must be a list, was ", jtype(j));
	*out = arena_alloc(&c->p->arena, ((size_t)cJSON_GetArraySize(j) + 1) * sizeof **out);
	if (!*out)
		return bb_errf(c->e, BB_ETOOBIG, "%s: policy too large", c->what);
	cJSON_ArrayForEach(it, j)
	{
		if (!cJSON_IsString(it))
			return perr(c, key, "must hold only strings, found ", jtype(it));
		(*out)[i++] = arena_strdup(&c->p->arena, it->valuestring);
	}
	*n = i;
	return 0;
}

static int compile(struct pctx *c, const char *field, const char *pat, struct re **out)
{
	struct bb_err e2;
	if (re_compile(pat, strlen(pat), 0, out, &e2) < 0)
		return perr(c, field, e2.msg, NULL);
	return 0;
}

static int match_type(struct pctx *c, const char *field, const char *s, enum route_match_type *t)
{
	if (!s || !strcmp(s, "prefix"))
		*t = ROUTE_PREFIX;
	else if (!strcmp(s, "exact"))
		*t = ROUTE_EXACT;
	else if (!strcmp(s, "regex"))
		*t = ROUTE_REGEX;
	else
		return perr(c, field, "type must be prefix, exact or regex, was ", s);
	return 0;
}

static int parse_match(struct pctx *c, const cJSON *m, size_t mi, struct route_match *out)
{
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(m, "paths");
	const cJSON *hdrs = cJSON_GetObjectItemCaseSensitive(m, "headers"), *it;
	char field[64];
	int bad = 0;
	size_t i;

	snprintf(field, sizeof field, "matches[%zu]", mi);
	if (!cJSON_IsObject(m))
		return perr(c, field, "must be an object, was ", jtype(m));
	if (paths && !cJSON_IsArray(paths))
		return perr(c, field, "paths must be a list, was ", jtype(paths));
	if (hdrs && !cJSON_IsArray(hdrs))
		return perr(c, field, "headers must be a list, was ", jtype(hdrs));
	if (paths) {
		out->paths = arena_alloc(&c->p->arena, ((size_t)cJSON_GetArraySize(paths) + 1) * sizeof *out->paths);
		if (!out->paths)
			return bb_errf(c->e, BB_ETOOBIG, "%s: policy too large", c->what);
		i = 0;
		cJSON_ArrayForEach(it, paths)
		{
			struct route_path *rp = &out->paths[i];
			snprintf(field, sizeof field, "matches[%zu].paths[%zu]", mi, i);
			if (!cJSON_IsObject(it))
				return perr(c, field, "must be an object, was ", jtype(it));
			if (match_type(c, field, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "type")),
				       &rp->type) < 0)
				return -1;
			rp->value = get_str(c, it, "value", 1, &bad);
			if (bad)
				return -1;
			if (rp->type == ROUTE_REGEX && compile(c, field, rp->value, &rp->re) < 0)
				return -1;
			i++;
		}
		out->npaths = i;
	}
	if (get_strs(c, m, "methods", &out->methods, &out->nmethods) < 0)
		return -1;
	if (hdrs) {
		out->headers = arena_alloc(&c->p->arena, ((size_t)cJSON_GetArraySize(hdrs) + 1) * sizeof *out->headers);
		if (!out->headers)
			return bb_errf(c->e, BB_ETOOBIG, "%s: policy too large", c->what);
		i = 0;
		cJSON_ArrayForEach(it, hdrs)
		{
			struct route_header *rh = &out->headers[i];
			snprintf(field, sizeof field, "matches[%zu].headers[%zu]", mi, i);
			if (!cJSON_IsObject(it))
				return perr(c, field, "must be an object, was ", jtype(it));
			rh->name = get_str(c, it, "name", 1, &bad);
			rh->value = get_str(c, it, "value", 1, &bad);
			if (bad)
				return -1;
			if (match_type(c, field, cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "type")),
				       &rh->type) < 0)
				return -1;
			if (rh->type == ROUTE_PREFIX) /* headers know exact and regex; the plan writes one of them */
				return perr(c, field, "type must be exact or regex, was prefix", NULL);
			if (rh->type == ROUTE_REGEX && compile(c, field, rh->value, &rh->re) < 0)
				return -1;
			i++;
		}
		out->nheaders = i;
	}
	return 0;
}

static int parse_detectors(struct pctx *c, const cJSON *dlp, const char *key, unsigned *out)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(dlp, key), *it;
	*out = 0;
	if (!j || cJSON_IsFalse(j))
		return 0;
	if (!cJSON_IsArray(j))
		return perr(c, "dlp", key, " must be a list or false");
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
			return perr(c, "dlp", "unknown detector ", s ? s : jtype(it));
	}
	return 0;
}

static int parse_route(struct pctx *c, const cJSON *j, struct route *r)
{
	const cJSON *auth, *dlp, *ms, *it;
	const char **cidrs;
	size_t i, n;
	int bad = 0;

	if (!cJSON_IsObject(j))
		return perr(c, "route", "must be an object, was ", jtype(j));
	r->host = get_str(c, j, "host", 1, &bad);
	if (bad)
		return -1;
	for (char *h = (char *)r->host; *h; h++)
		if (*h >= 'A' && *h <= 'Z')
			*h = (char)(*h - 'A' + 'a');
	snprintf(c->where + strlen(c->where), sizeof c->where - strlen(c->where), " (%s)", r->host);
	r->origin = get_str(c, j, "origin", 0, &bad);
	auth = cJSON_GetObjectItemCaseSensitive(j, "auth");
	if (auth && !cJSON_IsNull(auth)) {
		const char *scheme;
		if (!cJSON_IsObject(auth))
			return perr(c, "auth", "must be an object or null, was ", jtype(auth));
		scheme = get_str(c, auth, "scheme", 1, &bad);
		r->token_slot = get_str(c, auth, "token_slot", 1, &bad);
		if (bad)
			return -1;
		if (!strcmp(scheme, "Bearer"))
			r->auth = ROUTE_AUTH_BEARER;
		else if (!strcmp(scheme, "token"))
			r->auth = ROUTE_AUTH_TOKEN;
		else if (!strcmp(scheme, "x-api-key"))
			r->auth = ROUTE_AUTH_API_KEY;
		else
			return perr(c, "auth.scheme", "must be Bearer, token or x-api-key, was ", scheme);
	}
	if (get_strs(c, j, "path_allowlist", &r->path_allowlist, &r->npath_allowlist) < 0)
		return -1;
	for (i = 0; i < r->npath_allowlist; i++)
		if (r->path_allowlist[i][0] != '/')
			return perr(c, "path_allowlist", "entries must start with '/', found ", r->path_allowlist[i]);
	ms = cJSON_GetObjectItemCaseSensitive(j, "matches");
	if (ms && !cJSON_IsArray(ms))
		return perr(c, "matches", "must be a list, was ", jtype(ms));
	if (ms) {
		r->matches = arena_alloc(&c->p->arena, ((size_t)cJSON_GetArraySize(ms) + 1) * sizeof *r->matches);
		if (!r->matches)
			return bb_errf(c->e, BB_ETOOBIG, "%s: policy too large", c->what);
		i = 0;
		cJSON_ArrayForEach(it, ms)
		{
			if (parse_match(c, it, i, &r->matches[i]) < 0)
				return -1;
			i++;
		}
		r->nmatches = i;
	}
	dlp = cJSON_GetObjectItemCaseSensitive(j, "dlp");
	if (dlp && !cJSON_IsObject(dlp))
		return perr(c, "dlp", "must be an object, was ", jtype(dlp));
	if (!dlp) { /* the manifest's default: every detector */
		r->dlp_out = SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS;
		r->dlp_in = SCAN_INJECTION;
	} else if (parse_detectors(c, dlp, "outbound", &r->dlp_out) < 0 ||
		   parse_detectors(c, dlp, "inbound", &r->dlp_in) < 0 ||
		   get_strs(c, dlp, "outbound_allow", &r->dlp_out_allow, &r->ndlp_out_allow) < 0 ||
		   get_strs(c, dlp, "inbound_allow", &r->dlp_in_allow, &r->ndlp_in_allow) < 0) {
		return -1;
	}
	if (r->dlp_in & ~(unsigned)SCAN_INJECTION || r->dlp_out & SCAN_INJECTION)
		return perr(c, "dlp", "detector used in the wrong direction", NULL);
	if (get_bool(c, j, "git_fetch", &r->git_fetch) < 0 || get_bool(c, j, "tls_passthrough", &r->tls_passthrough) < 0)
		return -1;
	if (get_strs(c, j, "ssrf_ip_allowlist", &cidrs, &n) < 0)
		return -1;
	if (n) {
		r->ssrf_allow = arena_alloc(&c->p->arena, n * sizeof *r->ssrf_allow);
		if (!r->ssrf_allow)
			return bb_errf(c->e, BB_ETOOBIG, "%s: policy too large", c->what);
		for (i = 0; i < n; i++) {
			struct bb_err e2;
			if (netaddr_cidr_parse(cidrs[i], strlen(cidrs[i]), &r->ssrf_allow[i], &e2) < 0)
				return perr(c, "ssrf_ip_allowlist", e2.msg, NULL);
		}
		r->nssrf_allow = n;
	}
	return 0;
}

int policy_parse(const char *what, const char *json, size_t len, struct policy **out, struct bb_err *e)
{
	struct policy *p;
	struct pctx c = { 0 };
	cJSON *doc, *eg, *routes, *it;
	size_t i;

	*out = NULL;
	doc = json_parse(what, json, len, e);
	if (!doc)
		return -1;
	p = calloc(1, sizeof *p);
	if (!p) {
		cJSON_Delete(doc);
		return bb_errno(e, ENOMEM, "%s", what);
	}
	p->arena = (struct arena)ARENA_INIT(16u << 20);
	p->refs = 1;
	c.p = p;
	c.what = what;
	c.e = e;
	eg = cJSON_GetObjectItemCaseSensitive(doc, "egress");
	if (!eg)
		eg = doc; /* the egress object itself */
	if (!cJSON_IsObject(eg)) {
		perr(&c, "egress", "must be an object, was ", jtype(eg));
		goto fail;
	}
	routes = cJSON_GetObjectItemCaseSensitive(eg, "routes");
	if (!cJSON_IsArray(routes)) {
		perr(&c, "routes", routes ? "must be a list, was " : "is required (is this a bb plan?)",
		     routes ? jtype(routes) : NULL);
		goto fail;
	}
	p->routes = arena_alloc(&p->arena, ((size_t)cJSON_GetArraySize(routes) + 1) * sizeof *p->routes);
	p->token_slots = arena_alloc(&p->arena, ((size_t)cJSON_GetArraySize(routes) + 1) * sizeof *p->token_slots);
	if (!p->routes || !p->token_slots) {
		bb_errf(e, BB_ETOOBIG, "%s: policy too large", what);
		goto fail;
	}
	i = 0;
	cJSON_ArrayForEach(it, routes)
	{
		struct route *r = &p->routes[i];
		snprintf(c.where, sizeof c.where, "routes[%zu]", i);
		if (parse_route(&c, it, r) < 0)
			goto fail;
		if (policy_route(p, r->host, strlen(r->host))) {
			perr(&c, "host", "appears twice", NULL);
			goto fail;
		}
		p->nroutes = ++i;
		if (r->token_slot) {
			size_t k;
			for (k = 0; k < p->ntoken_slots && strcmp(p->token_slots[k], r->token_slot); k++)
				;
			if (k == p->ntoken_slots)
				p->token_slots[p->ntoken_slots++] = r->token_slot;
		}
	}
	if (p->arena.failed) {
		bb_errf(e, BB_ETOOBIG, "%s: policy too large", what);
		goto fail;
	}
	cJSON_Delete(doc);
	*out = p;
	return 0;
fail:
	cJSON_Delete(doc);
	policy_unref(p);
	return -1;
}

int policy_load(const char *path, struct policy **out, struct bb_err *e)
{
	struct buf b = BUF_INIT(POLICY_MAX_BYTES + 1);
	int rc;
	if (fd_read_file(path, POLICY_MAX_BYTES, &b, e) < 0)
		return -1;
	rc = policy_parse(path, b.p ? b.p : "", b.len, out, e);
	buf_free(&b);
	return rc;
}

void policy_unref(struct policy *p)
{
	size_t i, j, k;
	if (!p || --p->refs)
		return;
	for (i = 0; i < p->nroutes; i++)
		for (j = 0; j < p->routes[i].nmatches; j++) {
			struct route_match *m = &p->routes[i].matches[j];
			for (k = 0; k < m->npaths; k++)
				re_free(m->paths[k].re);
			for (k = 0; k < m->nheaders; k++)
				re_free(m->headers[k].re);
		}
	arena_free(&p->arena);
	free(p);
}

const struct route *policy_route(const struct policy *p, const char *host, size_t len)
{
	size_t i;
	if (len && host[len - 1] == '.')
		len--;
	for (i = 0; i < p->nroutes; i++)
		if (strlen(p->routes[i].host) == len && !strncasecmp(p->routes[i].host, host, len))
			return &p->routes[i];
	return NULL;
}

int route_dlp_allowed(const struct route *r, int inbound, const char *id)
{
	const char *const *l = inbound ? r->dlp_in_allow : r->dlp_out_allow;
	size_t i, n = inbound ? r->ndlp_in_allow : r->ndlp_out_allow;
	for (i = 0; id && i < n; i++)
		if (!strcmp(l[i], id))
			return 1;
	return 0;
}

int route_ssrf_allowed(const struct route *r, const struct netaddr *addr)
{
	size_t i;
	for (i = 0; i < r->nssrf_allow; i++)
		if (netaddr_cidr_match(&r->ssrf_allow[i], addr))
			return 1;
	return 0;
}

size_t route_path_len(const char *target, size_t len)
{
	size_t i;
	for (i = 0; i < len && target[i] != '?' && target[i] != '#'; i++)
		;
	return i;
}

static int has_ci(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit), i;
	for (i = 0; i + m <= n; i++)
		if (!strncasecmp(s + i, lit, m))
			return 1;
	return 0;
}

static const struct route_hdr *find_hdr(const struct route_req *q, const char *name, size_t from)
{
	size_t n = strlen(name), i;
	for (i = from; i < q->nhdrs; i++)
		if (q->hdrs[i].name_len == n && !strncasecmp(q->hdrs[i].name, name, n))
			return &q->hdrs[i];
	return NULL;
}

/*
 * A path an upstream could read differently from us is refused: dot
 * segments ("/v1/../admin" passes a "/v1/" prefix but reaches "/admin"),
 * also with a ";param" (Tomcat and Jetty read "..;" as ".."),
 * percent-encoded '/', '\', '.' and NUL, the same encoded twice ("%252e":
 * an upstream that decodes twice), overlong UTF-8 escapes ("%c0%af" is '/'
 * to a lax decoder), raw backslashes, and anything not starting with '/'.
 */
static int path_canonical(const char *p, size_t n, const char **why)
{
	size_t i, seg = 1;
	if (!n || p[0] != '/')
		return *why = "the path must start with '/'", 0;
	for (i = 1; i <= n; i++) {
		if (i == n || p[i] == '/') {
			size_t sl = i - seg;
			const char *s = p + seg;
			const char *semi = memchr(s, ';', sl);
			if (semi)
				sl = (size_t)(semi - s); /* "..;x" is ".." to servers that drop path parameters */
			if ((sl == 1 && s[0] == '.') || (sl == 2 && s[0] == '.' && s[1] == '.'))
				return *why = "the path has a '.' or '..' segment", 0;
			seg = i + 1;
			continue;
		}
		if (p[i] == '\\')
			return *why = "the path has a backslash", 0;
		if (p[i] == '%') {
			int v1, v2, v;
			if (i + 2 >= n)
				return *why = "the path has a truncated %-escape", 0;
			v1 = hex_val(p[i + 1]);
			v2 = hex_val(p[i + 2]);
			if (v1 < 0 || v2 < 0)
				return *why = "the path has a malformed %-escape", 0;
			v = v1 * 16 + v2;
			if (v == '/' || v == '\\' || v == '.' || v == 0)
				return *why = "the path has an encoded '/', '\\', '.' or NUL", 0;
			if (v == '%' && i + 4 < n && hex_val(p[i + 3]) >= 0 && hex_val(p[i + 4]) >= 0) {
				int w = hex_val(p[i + 3]) * 16 + hex_val(p[i + 4]);
				if (w == '/' || w == '\\' || w == '.' || w == 0 || w == '%')
					return *why = "the path has a double-encoded '/', '\\', '.', '%' or NUL", 0;
			}
			/* 0xc0/0xc1 lead only overlong UTF-8; 0xe0 0x80-0x9f and 0xf0 0x80-0x8f too. */
			if (v == 0xc0 || v == 0xc1 ||
			    ((v == 0xe0 || v == 0xf0) && i + 5 < n && p[i + 3] == '%' && hex_val(p[i + 4]) >= 0 &&
			     hex_val(p[i + 5]) >= 0 && hex_val(p[i + 4]) * 16 + hex_val(p[i + 5]) < (v == 0xe0 ? 0xa0 : 0x90)))
				return *why = "the path has an overlong UTF-8 escape", 0;
		}
	}
	return 1;
}

static int match_path(const struct route_path *m, const char *p, size_t n)
{
	size_t vl = strlen(m->value);
	switch (m->type) {
	case ROUTE_PREFIX:
		return n >= vl && !memcmp(p, m->value, vl);
	case ROUTE_EXACT:
		return n == vl && !memcmp(p, m->value, vl);
	case ROUTE_REGEX:
		return re_search(m->re, p, n, 0, NULL) == 1;
	}
	return 0;
}

static int match_header(const struct route_header *h, const struct route_req *q)
{
	const struct route_hdr *x;
	size_t from = 0;
	while ((x = find_hdr(q, h->name, from)) != NULL) {
		if (h->type == ROUTE_REGEX ? re_search(h->re, x->value, x->value_len, 0, NULL) == 1
					   : (strlen(h->value) == x->value_len && !memcmp(h->value, x->value, x->value_len)))
			return 1;
		from = (size_t)(x - q->hdrs) + 1;
	}
	return 0;
}

/*
 * Method override: frameworks (Rails, Laravel, Express's method-override,
 * Google APIs) run a GET carrying X-HTTP-Method-Override: DELETE, or a
 * ?_method=DELETE parameter, as a DELETE. A route that allows only some
 * methods must allow the overriding method too.
 */
static const char *const override_headers[] = { "x-http-method-override", "x-http-method", "x-method-override" };

static int method_allowed(const struct route_match *m, const char *v, size_t vl)
{
	size_t i;
	for (i = 0; i < m->nmethods; i++)
		if (strlen(m->methods[i]) == vl && !strncasecmp(m->methods[i], v, vl))
			return 1;
	return 0;
}

/* 1 when every override the request carries names a method m allows (or there is none). */
static int overrides_allowed(const struct route_match *m, const struct route_req *q, const char *query, size_t ql)
{
	size_t i, j;
	for (i = 0; i < sizeof override_headers / sizeof *override_headers; i++) {
		const struct route_hdr *h;
		size_t from = 0;
		while ((h = find_hdr(q, override_headers[i], from)) != NULL) {
			if (!method_allowed(m, h->value, h->value_len))
				return 0;
			from = (size_t)(h - q->hdrs) + 1;
		}
	}
	/* "_method=X" as a query parameter (first byte of query is '?'). */
	for (i = 0; i + 9 <= ql; i++) {
		if ((query[i] != '?' && query[i] != '&') || strncasecmp(query + i + 1, "_method=", 8))
			continue;
		for (j = i + 9; j < ql && query[j] != '&' && query[j] != '#'; j++)
			;
		if (!method_allowed(m, query + i + 9, j - i - 9))
			return 0;
	}
	return 1;
}

/* Does the request carry any method override at all? */
static int has_override(const struct route_req *q, const char *query, size_t ql)
{
	size_t i;
	for (i = 0; i < sizeof override_headers / sizeof *override_headers; i++)
		if (find_hdr(q, override_headers[i], 0))
			return 1;
	for (i = 0; i + 9 <= ql; i++)
		if ((query[i] == '?' || query[i] == '&') && !strncasecmp(query + i + 1, "_method=", 8))
			return 1;
	return 0;
}

static int match_entry(const struct route_match *m, const struct route_req *q, const char *path, size_t pl)
{
	size_t i;
	if (m->npaths) {
		for (i = 0; i < m->npaths && !match_path(&m->paths[i], path, pl); i++)
			;
		if (i == m->npaths)
			return 0;
	}
	if (m->nmethods) {
		for (i = 0; i < m->nmethods; i++)
			if (strlen(m->methods[i]) == q->method_len && !memcmp(m->methods[i], q->method, q->method_len))
				break;
		if (i == m->nmethods)
			return 0;
		if (!overrides_allowed(m, q, path + pl, q->target_len - pl)) /* path is q->target */
			return 0;
	}
	for (i = 0; i < m->nheaders; i++)
		if (!match_header(&m->headers[i], q))
			return 0;
	return 1;
}

static void deny(struct route_verdict *v, const char *rule, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void deny(struct route_verdict *v, const char *rule, const char *fmt, ...)
{
	va_list ap;
	v->allow = 0;
	v->rule = rule;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof v->reason, fmt, ap);
	va_end(ap);
}

void route_decide(const struct route *r, const struct route_req *q, struct route_verdict *v)
{
	size_t pl = route_path_len(q->target, q->target_len), i;
	const char *path = q->target, *query = q->target + pl, *why = NULL;
	size_t ql = q->target_len - pl;
	const struct route_hdr *h;
	int upload, receive;

	memset(v, 0, sizeof *v);
	if (!path_canonical(path, pl, &why)) {
		deny(v, "bad-path", "%s", why);
		return;
	}
	/* DNS over HTTPS would let the agent resolve (and tunnel through) names the policy never allowed. */
	if (((h = find_hdr(q, "content-type", 0)) && has_ci(h->value, h->value_len, "application/dns-message")) ||
	    ((h = find_hdr(q, "accept", 0)) && has_ci(h->value, h->value_len, "application/dns-")) ||
	    (pl >= 10 && !memcmp(path + pl - 10, "/dns-query", 10)) || (pl >= 8 && !memcmp(path + pl - 8, "/resolve", 8) &&
									 has_ci(query, ql, "name="))) {
		deny(v, "doh", "DNS over HTTPS is not allowed: names resolve only through the bottle's DNS");
		return;
	}
	receive = (pl >= 17 && !memcmp(path + pl - 17, "/git-receive-pack", 17)) ||
		  has_ci(query, ql, "service=git-receive-pack");
	if (receive) {
		deny(v, "git-push", "git push over HTTP is not allowed: push through the bottle's git-gate");
		return;
	}
	upload = (pl >= 16 && !memcmp(path + pl - 16, "/git-upload-pack", 16)) ||
		 has_ci(query, ql, "service=git-upload-pack");
	if (upload && !r->git_fetch) {
		deny(v, "git-fetch", "git fetch over HTTP needs git.fetch: true on this route");
		return;
	}
	if (r->npath_allowlist) {
		for (i = 0; i < r->npath_allowlist; i++) {
			size_t al = strlen(r->path_allowlist[i]);
			if (pl >= al && !memcmp(path, r->path_allowlist[i], al))
				break;
		}
		if (i == r->npath_allowlist) {
			deny(v, "path-allowlist", "path %.*s is not in the route's path_allowlist", (int)(pl > 120 ? 120 : pl), path);
			return;
		}
	}
	if (r->nmatches) {
		for (i = 0; i < r->nmatches && !match_entry(&r->matches[i], q, path, pl); i++)
			;
		if (i == r->nmatches) {
			if (has_override(q, query, ql))
				deny(v, "method-override",
				     "request %.*s asks for another method (X-HTTP-Method-Override or _method) than the route's matches allow",
				     (int)(pl > 120 ? 120 : pl), path);
			else
				deny(v, "matches", "%s %.*s matches no entry of the route's matches", "request",
				     (int)(pl > 120 ? 120 : pl), path);
			return;
		}
	}
	v->allow = 1;
	v->rule = "allow";
}
