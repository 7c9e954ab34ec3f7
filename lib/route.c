/* route.c - egress policy loading (from the plan JSON) and the per-request route decision. */
#include "route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "planfile.h"
#include "re.h"
#include "scan.h"
#include "hex.h"

struct pctx {
	struct route_policy *p;
	const struct planfile *pf;
	size_t ri; /* the route being read */
	const struct planfile_route *pr;
	struct bb_err *e;
};

static int perr(struct pctx *c, const char *field, const char *msg, const char *detail)
{
	return planfile_route_err(c->pf, c->ri, c->pr, field, msg, detail, c->e);
}

static const char **dup_strs(struct pctx *c, const struct planfile_strs *in, size_t *n)
{
	const char **v = arena_alloc(&c->p->arena, (in->n + 1) * sizeof *v);
	size_t i;

	*n = v ? in->n : 0;
	for (i = 0; v && i < in->n; i++)
		v[i] = arena_strdup(&c->p->arena, in->v[i]);
	return v;
}

static int compile(struct pctx *c, const char *field, const char *pat, struct re **out)
{
	struct bb_err e2;
	if (re_compile(pat, strlen(pat), 0, out, &e2) < 0)
		return perr(c, field, e2.msg, NULL);
	return 0;
}

static const enum route_match_type match_types[] = { [PLANFILE_PREFIX] = ROUTE_PREFIX, [PLANFILE_EXACT] = ROUTE_EXACT,
						     [PLANFILE_REGEX] = ROUTE_REGEX };

static int take_match(struct pctx *c, const struct planfile_match *m, size_t mi, struct route_match *out)
{
	char field[64];
	size_t i;

	out->paths = arena_alloc(&c->p->arena, (m->npaths + 1) * sizeof *out->paths);
	out->headers = arena_alloc(&c->p->arena, (m->nheaders + 1) * sizeof *out->headers);
	if (!out->paths || !out->headers)
		return -1;
	for (i = 0; i < m->npaths; i++, out->npaths++) {
		struct route_path *rp = &out->paths[i];

		snprintf(field, sizeof field, "matches[%zu].paths[%zu]", mi, i);
		rp->type = match_types[m->paths[i].type];
		rp->value = arena_strdup(&c->p->arena, m->paths[i].value);
		if (rp->type == ROUTE_REGEX && compile(c, field, m->paths[i].value, &rp->re) < 0)
			return -1;
	}
	out->methods = dup_strs(c, &m->methods, &out->nmethods);
	for (i = 0; i < m->nheaders; i++, out->nheaders++) {
		struct route_header *rh = &out->headers[i];

		snprintf(field, sizeof field, "matches[%zu].headers[%zu]", mi, i);
		rh->name = arena_strdup(&c->p->arena, m->headers[i].name);
		rh->value = arena_strdup(&c->p->arena, m->headers[i].value);
		rh->type = match_types[m->headers[i].type];
		if (rh->type == ROUTE_REGEX && compile(c, field, m->headers[i].value, &rh->re) < 0)
			return -1;
	}
	return 0;
}

static int take_route(struct pctx *c, const struct planfile_route *pr, struct route *r)
{
	static const enum route_auth auths[] = { [PLANFILE_AUTH_NONE] = ROUTE_AUTH_NONE,
						 [PLANFILE_AUTH_BEARER] = ROUTE_AUTH_BEARER,
						 [PLANFILE_AUTH_TOKEN] = ROUTE_AUTH_TOKEN,
						 [PLANFILE_AUTH_API_KEY] = ROUTE_AUTH_API_KEY };
	char *host = arena_strdup(&c->p->arena, pr->host);
	size_t i;

	if (!host)
		return -1;
	for (char *h = host; *h; h++)
		if (*h >= 'A' && *h <= 'Z')
			*h = (char)(*h - 'A' + 'a');
	r->host = host;
	r->origin = pr->origin ? arena_strdup(&c->p->arena, pr->origin) : NULL;
	r->auth = auths[pr->auth];
	r->token_slot = pr->auth ? arena_strdup(&c->p->arena, pr->token_slot) : NULL;
	r->path_allowlist = dup_strs(c, &pr->path_allowlist, &r->npath_allowlist);
	for (i = 0; i < pr->path_allowlist.n; i++)
		if (pr->path_allowlist.v[i][0] != '/')
			return perr(c, "path_allowlist", "entries must start with '/', found ", pr->path_allowlist.v[i]);
	r->matches = arena_alloc(&c->p->arena, (pr->nmatches + 1) * sizeof *r->matches);
	if (!r->matches)
		return -1;
	for (i = 0; i < pr->nmatches; i++, r->nmatches++)
		if (take_match(c, &pr->matches[i], i, &r->matches[i]) < 0)
			return -1;
	r->dlp_out = pr->dlp_out;
	r->dlp_in = pr->dlp_in;
	r->dlp_out_allow = dup_strs(c, &pr->dlp_out_allow, &r->ndlp_out_allow);
	r->dlp_in_allow = dup_strs(c, &pr->dlp_in_allow, &r->ndlp_in_allow);
	r->git_fetch = pr->git_fetch;
	r->tls_passthrough = pr->tls_passthrough;
	if (pr->ssrf_ip_allowlist.n) {
		r->ssrf_allow = arena_alloc(&c->p->arena, pr->ssrf_ip_allowlist.n * sizeof *r->ssrf_allow);
		if (!r->ssrf_allow)
			return -1;
		for (i = 0; i < pr->ssrf_ip_allowlist.n; i++) {
			const char *cidr = pr->ssrf_ip_allowlist.v[i];
			struct bb_err e2;

			if (netaddr_cidr_parse(cidr, strlen(cidr), &r->ssrf_allow[i], &e2) < 0)
				return perr(c, "ssrf_ip_allowlist", e2.msg, NULL);
		}
		r->nssrf_allow = pr->ssrf_ip_allowlist.n;
	}
	return 0;
}

int route_policy_from_plan(struct planfile *pf, struct route_policy **out, struct bb_err *e)
{
	const struct planfile_route *prs;
	struct route_policy *p;
	struct pctx c = { NULL, pf, 0, NULL, e };
	size_t n, i;

	*out = NULL;
	if (planfile_egress_routes(pf, &prs, &n, e) < 0)
		return -1;
	p = calloc(1, sizeof *p);
	if (!p)
		return bb_errno(e, ENOMEM, "%s", pf->what);
	p->arena = (struct arena)ARENA_INIT(16u << 20);
	p->refs = 1;
	c.p = p;
	p->routes = arena_alloc(&p->arena, (n + 1) * sizeof *p->routes);
	p->token_slots = arena_alloc(&p->arena, (n + 1) * sizeof *p->token_slots);
	if (!p->routes || !p->token_slots)
		goto large;
	for (i = 0; i < n; i++) {
		struct route *r = &p->routes[i];

		c.ri = i;
		c.pr = &prs[i];
		if (take_route(&c, &prs[i], r) < 0) {
			if (p->arena.failed)
				goto large;
			goto fail;
		}
		if (route_policy_find(p, r->host, strlen(r->host))) {
			perr(&c, "host", "appears twice", NULL);
			goto fail;
		}
		p->nroutes = i + 1;
		if (r->token_slot) {
			size_t k;
			for (k = 0; k < p->ntoken_slots && strcmp(p->token_slots[k], r->token_slot); k++)
				;
			if (k == p->ntoken_slots)
				p->token_slots[p->ntoken_slots++] = r->token_slot;
		}
	}
	if (p->arena.failed)
		goto large;
	*out = p;
	return 0;
large:
	bb_errf(e, BB_ETOOBIG, "%s: policy too large", pf->what);
fail:
	route_policy_unref(p);
	return -1;
}

PLANFILE_LOADERS(route_policy, struct route_policy *)

void route_policy_unref(struct route_policy *p)
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

const struct route *route_policy_find(const struct route_policy *p, const char *host, size_t len)
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
