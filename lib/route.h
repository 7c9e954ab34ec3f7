/* route.h - the egress policy (the plan's `egress` part) and the decision on one request: which route, allowed or why not. */
#ifndef BB_ROUTE_H
#define BB_ROUTE_H
#include <stddef.h>
#include <stdint.h>
#include "arena.h"
#include "err.h"
#include "netaddr.h"
#include "planfile.h"

/*
 * A policy is read from the plan that `bb bottle plan --json` writes
 * (its "egress" part) and is immutable once loaded: egress keeps one per
 * generation and every connection holds a reference to the one it
 * started under, so a reload never changes the rules under a request in
 * flight.
 *
 * Matching is default deny. Host names compare case-insensitively and
 * exactly (bot-bottle had no wildcards). Decisions are pure functions of
 * the request's method, target and headers, so the matcher has a unit
 * test and a fuzzer of its own.
 */

struct re;

enum route_match_type { ROUTE_PREFIX, ROUTE_EXACT, ROUTE_REGEX };
/* Bearer and token: "Authorization: SCHEME TOKEN"; x-api-key: "x-api-key: TOKEN" (Anthropic's API keys). */
enum route_auth { ROUTE_AUTH_NONE, ROUTE_AUTH_BEARER, ROUTE_AUTH_TOKEN, ROUTE_AUTH_API_KEY };

struct route_path {
	enum route_match_type type;
	const char *value;
	struct re *re; /* ROUTE_REGEX */
};

struct route_header {
	const char *name;
	const char *value;
	enum route_match_type type; /* ROUTE_EXACT or ROUTE_REGEX */
	struct re *re;
};

/* One `matches` entry: every given part must hold (paths and methods: any one of the list). */
struct route_match {
	struct route_path *paths;
	size_t npaths;
	const char **methods;
	size_t nmethods;
	struct route_header *headers;
	size_t nheaders;
};

struct route {
	const char *host; /* lower-case */
	const char *origin;
	enum route_auth auth;
	const char *token_slot; /* env name of the token, e.g. BB_EGRESS_TOKEN_0; NULL without auth */
	const char **path_allowlist;
	size_t npath_allowlist;
	struct route_match *matches;
	size_t nmatches;
	unsigned dlp_out; /* SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS */
	unsigned dlp_in;  /* SCAN_INJECTION */
	/* Rule ids whose findings this route lets pass (an operator's dlp-block approval): credential rules
	 * outbound, injection patterns inbound; never a known secret (egress checks the finding's kind). */
	const char **dlp_out_allow, **dlp_in_allow;
	size_t ndlp_out_allow, ndlp_in_allow;
	int git_fetch;
	int tls_passthrough;
	struct netaddr_cidr *ssrf_allow; /* pipelock.ssrf_ip_allowlist: private addresses this route may reach */
	size_t nssrf_allow;
};

struct route_policy {
	struct route *routes;
	size_t nroutes;
	const char **token_slots; /* distinct slots, in order */
	size_t ntoken_slots;
	unsigned refs; /* egress's reference count; loading sets 1 */
	struct arena arena;
};

#define POLICY_MAX_BYTES PLANFILE_MAX_BYTES

/*
 * The policy of a plan's egress part (read by lib/planfile, which names
 * the key of any error); regexes are compiled and CIDRs parsed here, and
 * errors of these name the route by index and host and the field:
 * "plan.json: egress.routes[2] (api.example.com): matches[0].paths[1]:
 * regex offset 3: ...".
 */
int route_policy_from_plan(struct planfile *pf, struct route_policy **out, struct bb_err *e);
/* The same from plan JSON text; `what` names the source in errors. */
int route_policy_parse(const char *what, const char *json, size_t len, struct route_policy **out, struct bb_err *e);
/* Read and parse a plan file (at most POLICY_MAX_BYTES). */
int route_policy_load(const char *path, struct route_policy **out, struct bb_err *e);
/* Drop a reference; the last frees the policy. NULL is fine. */
void route_policy_unref(struct route_policy *p);

/* The route for host (any case, no port, a trailing dot ignored), or NULL. */
const struct route *route_policy_find(const struct route_policy *p, const char *host, size_t len);

/* Does the route let findings of rule id pass (inbound: an injection pattern; else a credential rule)? */
int route_dlp_allowed(const struct route *r, int inbound, const char *id);

/* Is addr inside one of the route's ssrf_ip_allowlist networks? */
int route_ssrf_allowed(const struct route *r, const struct netaddr *addr);

/* A request header as the HTTP parser hands it over. */
struct route_hdr {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

/* What a route must say about one request. */
struct route_req {
	const char *method;
	size_t method_len;
	const char *target; /* origin-form path and query: "/v1/x?y=1" */
	size_t target_len;
	const struct route_hdr *hdrs;
	size_t nhdrs;
};

/* Why a request was refused: a stable id for logs and tests, and words for the agent. */
struct route_verdict {
	int allow;
	const char *rule; /* "no-route", "path-allowlist", "matches", "method-override", "git-push", "git-fetch", "doh", "bad-path" */
	char reason[200];
};

/*
 * Decide one request against route r (found with route_policy_find). Checks,
 * in order: the path is canonical (no dot segments, no encoded '/', '\'
 * or '.', no NUL: what an upstream would normalise must not slip past a
 * prefix); DNS-over-HTTPS shapes are refused on every route; git push
 * (receive-pack) is refused on every route (pushes go through git-gate);
 * smart-HTTP fetch needs git_fetch; then path_allowlist (a prefix of the
 * path), then matches (one entry must hold; an entry with methods must
 * also allow any method override the request carries: the
 * X-HTTP-Method-Override, X-HTTP-Method and X-Method-Override headers and
 * a _method query parameter). Returns the verdict in *v.
 */
void route_decide(const struct route *r, const struct route_req *q, struct route_verdict *v);

/* The path part of a target (up to '?' or '#'): length. */
size_t route_path_len(const char *target, size_t len);

#endif
