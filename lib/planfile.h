/* planfile.h - reading a plan (bb.plan/1): the one place that knows its keys, handing typed, checked parts to the daemons. */
#ifndef BB_PLANFILE_H
#define BB_PLANFILE_H

#include <stddef.h>

#include "arena.h"
#include "err.h"

struct cJSON;

/*
 * plan.c writes the plan (docs/manifest.md, "The plan"); this module reads
 * it back for everyone else (egress, dns, git-gate, git-http, the dialer,
 * supervise), so no reader looks a key up by name. Opening a plan checks
 * that it is JSON and that "schema" is bb.plan/1; each part is then read
 * when asked for and checked there, so a daemon fails only on a bad part
 * it uses. Errors name the source and the key: "plan.json:
 * egress.routes[2] (api.example.com): git_fetch: must be true or false,
 * was a string". Everything handed out lives in the planfile's arena until
 * planfile_free.
 */

#define PLANFILE_MAX_BYTES (4u << 20)

struct planfile {
	struct cJSON *doc;
	const char *what; /* the source, for messages */
	struct arena arena;
	int borrowed; /* doc is the caller's (planfile_wrap): planfile_free leaves it */
};

/* Parse len bytes of plan JSON; `what` names it in errors. On failure pf is left empty (planfile_free is fine). */
int planfile_parse(struct planfile *pf, const char *what, const char *json, size_t len, struct bb_err *e);
/* Read a plan file (at most PLANFILE_MAX_BYTES) and parse it; errors name the path. */
int planfile_load(struct planfile *pf, const char *path, struct bb_err *e);
/*
 * Open a plan already in memory (plan_build's) without printing and
 * parsing it again: pf borrows doc, which must outlive it. The schema is
 * checked as planfile_parse checks it; `what` names it in errors.
 */
int planfile_wrap(struct planfile *pf, const char *what, struct cJSON *doc, struct bb_err *e);
void planfile_free(struct planfile *pf);
/*
 * Open a plan, hand it to use(pf, arg, e), and free it: from json[0..len)
 * when json is set (`what` names it), else from the file at path `what`.
 * What use returns, or -1 when the plan does not open.
 */
int planfile_use(const char *what, const char *json, size_t len, int (*use)(struct planfile *, void *, struct bb_err *),
		 void *arg, struct bb_err *e);

/*
 * Define NAME_parse(what, json, len, out, e) (plan JSON text; `what` names
 * it) and NAME_load(path, out, e) (a plan file) for a reader whose
 * NAME_from_plan(pf, out, e) takes its part of an open plan, so every
 * daemon's loaders are the same two. *out is zeroed first.
 */
#define PLANFILE_LOADERS(name, type)                                                                     \
	static int name##_use(struct planfile *pf, void *out, struct bb_err *e)                          \
	{                                                                                                \
		return name##_from_plan(pf, out, e);                                                     \
	}                                                                                                \
	int name##_parse(const char *what, const char *json, size_t len, type *out, struct bb_err *e)    \
	{                                                                                                \
		memset(out, 0, sizeof *out);                                                             \
		return planfile_use(what, json ? json : "", len, name##_use, out, e);                    \
	}                                                                                                \
	int name##_load(const char *path, type *out, struct bb_err *e)                                   \
	{                                                                                                \
		memset(out, 0, sizeof *out);                                                             \
		return planfile_use(path, NULL, 0, name##_use, out, e);                                  \
	}

/* A list of strings; an absent list is empty, and present says whether the plan wrote it (a reader may show the difference). */
struct planfile_strs {
	const char **v;
	size_t n;
	int present;
};

enum planfile_match_type { PLANFILE_PREFIX, PLANFILE_EXACT, PLANFILE_REGEX };
/* Bearer and token: "Authorization: SCHEME TOKEN"; x-api-key: "x-api-key: TOKEN". */
enum planfile_auth { PLANFILE_AUTH_NONE, PLANFILE_AUTH_BEARER, PLANFILE_AUTH_TOKEN, PLANFILE_AUTH_API_KEY };

struct planfile_path {
	enum planfile_match_type type; /* "type" absent: prefix */
	const char *value;
};

struct planfile_header {
	const char *name, *value;
	enum planfile_match_type type; /* exact or regex */
};

/* One egress.routes[].matches entry. */
struct planfile_match {
	struct planfile_path *paths;
	size_t npaths;
	struct planfile_strs methods;
	struct planfile_header *headers;
	size_t nheaders;
};

/* One egress.routes entry. Strings are as written (host keeps its case); absent optional ones are NULL. */
struct planfile_route {
	const char *host;
	const char *origin;
	const char *from_host, *from_rules; /* from.host, from.rules: the provider route this one came from */
	enum planfile_auth auth;
	const char *scheme;     /* auth.scheme as written, with auth */
	const char *token_slot; /* with auth */
	const char *token_ref;  /* with auth, when the plan names it */
	struct planfile_strs path_allowlist;
	struct planfile_match *matches;
	size_t nmatches;
	unsigned dlp_out; /* SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS; both when "dlp" is absent */
	unsigned dlp_in;  /* SCAN_INJECTION; set when "dlp" is absent */
	struct planfile_strs dlp_out_allow, dlp_in_allow;
	int git_fetch, tls_passthrough;
	struct planfile_strs ssrf_ip_allowlist; /* CIDR text, parsed by the reader */
	struct planfile_strs roles;
};

/* egress.routes, in order. Required. */
int planfile_egress_routes(struct planfile *pf, const struct planfile_route **out, size_t *n, struct bb_err *e);

/*
 * An error about egress.routes[i] (r) that a reader finds in its own
 * checks (a regex, a CIDR), named the way this module names its own:
 * "WHAT: egress.routes[i] (HOST): FIELD: MSGDETAIL". Returns -1.
 */
int planfile_route_err(const struct planfile *pf, size_t i, const struct planfile_route *r, const char *field,
		       const char *msg, const char *detail, struct bb_err *e);

/* One dns.allow_types entry: a name ("TXT", "TYPE99") or a number. */
struct planfile_dns_type {
	const char *name; /* NULL: given as a number */
	double number;
};

/* The "dns" part. Required; its only keys are allow and allow_types (both optional). */
struct planfile_dns {
	struct planfile_strs allow;
	struct planfile_dns_type *types;
	size_t ntypes;
};

int planfile_dns(struct planfile *pf, struct planfile_dns *out, struct bb_err *e);

/* One git_gate.repos entry; absent keys are NULL (port 0), each reader says which it needs. */
struct planfile_repo {
	const char *name, *url, *user, *host, *path, *host_key;
	unsigned port; /* 1..65535 */
	const char *key_provider, *key_path; /* key.provider, key.path */
	const char *key_forge_token_env, *key_api_url; /* key.forge_token_env, key.api_url (provider gitea) */
};

/* The "git_gate" part. present is 0 when the plan has none (then there are no repos). */
struct planfile_git_gate {
	int present;
	struct planfile_repo *repos;
	size_t nrepos;
	const char *user_name, *user_email; /* user.name, user.email: the agent's commit identity, NULL when absent */
};

int planfile_git_gate(struct planfile *pf, struct planfile_git_gate *out, struct bb_err *e);

/* The "provider" part (required); absent keys are NULL. */
struct planfile_provider {
	const char *template_, *dockerfile, *program;
};

int planfile_provider(struct planfile *pf, struct planfile_provider *out, struct bb_err *e);

/* One "env" entry: name is required; source and host_var are NULL when absent. */
struct planfile_env {
	const char *name, *source, *host_var;
};

/* "env", in order; absent is empty. */
int planfile_env(struct planfile *pf, const struct planfile_env **out, size_t *n, struct bb_err *e);

/* One egress.token_slots entry: slot is required; ref and source are NULL when absent. */
struct planfile_token_slot {
	const char *slot, *ref, *source;
	int present; /* the host variable was set when the plan was made */
};

/* egress.token_slots, in order; absent is empty (egress itself is not required here). */
int planfile_token_slots(struct planfile *pf, const struct planfile_token_slot **out, size_t *n, struct bb_err *e);

/* supervise.enabled; 0 when the plan has no supervise part. */
int planfile_supervise(struct planfile *pf, int *enabled, struct bb_err *e);

/* "agent" or "bottle": the manifest entry the plan was made from; present is 0 when the plan has none (agent is null for a bottle alone). */
struct planfile_source {
	int present;
	const char *name, *file;
};

int planfile_agent(struct planfile *pf, struct planfile_source *out, struct bb_err *e);
int planfile_bottle(struct planfile *pf, struct planfile_source *out, struct bb_err *e);
/* "notes", what plan_build found worth saying; absent is empty. */
int planfile_notes(struct planfile *pf, struct planfile_strs *out, struct bb_err *e);

/* bottle.name, or NULL when the plan has none (it only labels logs and proposals). */
const char *planfile_bottle_name(struct planfile *pf);

/*
 * For code that edits a running plan in place (supervise's approvals):
 * the egress.routes array and the dns.allow array of doc, or NULL when it
 * has none.
 */
struct cJSON *planfile_json_routes(struct cJSON *doc);
struct cJSON *planfile_json_dns_allow(struct cJSON *doc);
/* egress.token_slots of doc (an approved credential adds its slot), or NULL when it has none. */
struct cJSON *planfile_json_token_slots(struct cJSON *doc);

#endif
