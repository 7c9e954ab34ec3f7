/* manifest.h - bottle and agent manifests: discovery, validation with exact errors, extends, and the resolved model. */
#ifndef BB_MANIFEST_H
#define BB_MANIFEST_H

#include <stddef.h>

#include "arena.h"
#include "err.h"

/*
 * Manifests are Markdown files with YAML frontmatter, one entity a file:
 *   $BB_HOME/.bb/bottles/NAME.md, $BB_HOME/.bb/agents/NAME.md, $CWD/.bb/agents/NAME.md
 * and bot-bottle's trees, read the same way:
 *   $BB_HOME/.bot-bottle/{bottles,agents}/NAME.md, $CWD/.bot-bottle/agents/NAME.md
 * ($BB_HOME defaults to $HOME). bb's own tree wins over bot-bottle's for the
 * same name (with a warning); a $CWD agent overrides a home agent. Bottles
 * are home-only: they carry credentials and host trust.
 *
 * Every problem becomes a diagnostic naming the file, the line and the key
 * path; loading goes on so that all problems are reported (up to a cap).
 * The texts follow bot-bottle's where it had one (docs/manifest.md).
 */

#define MF_FILE_MAX (1024 * 1024)
#define MF_DIAG_MAX 200
#define MF_EXTENDS_MAX 32

struct mf_diag {
	const char *file; /* may be NULL for problems not tied to one file */
	unsigned line;    /* 0 when unknown */
	int warning;      /* 1: reported, does not make the manifest invalid */
	const char *msg;
};

struct mf_user {
	const char *name, *email; /* "" when unset */
};

enum mf_key_provider { MF_KEY_STATIC, MF_KEY_GITEA };

struct mf_repo {
	const char *name;
	const char *url;                   /* ssh://USER@HOST[:PORT]/PATH */
	const char *user, *host, *path;    /* parts of url */
	unsigned port;                     /* 22 when absent */
	enum mf_key_provider provider;
	const char *key_path;              /* static: the private key file */
	const char *forge_token_env;       /* gitea: env var holding the API token */
	const char *api_url;               /* gitea: "" = https://HOST */
	const char *host_key;              /* pinned OpenSSH public key line, "" when unset */
	unsigned line;
};

enum mf_match_type { MF_PREFIX, MF_EXACT, MF_REGEX };

struct mf_path_match {
	enum mf_match_type type;
	const char *value;
};

struct mf_header_match {
	const char *name, *value;
	enum mf_match_type type; /* MF_EXACT or MF_REGEX */
};

struct mf_match {
	struct mf_path_match *paths;
	size_t npaths;
	const char **methods;
	size_t nmethods;
	struct mf_header_match *headers;
	size_t nheaders;
};

/* DLP detectors, as bits. */
enum {
	MF_DLP_TOKEN_PATTERNS = 1,
	MF_DLP_KNOWN_SECRETS = 2,
	MF_DLP_INJECTION = 4,
	MF_DLP_OUTBOUND_ALL = MF_DLP_TOKEN_PATTERNS | MF_DLP_KNOWN_SECRETS,
	MF_DLP_INBOUND_ALL = MF_DLP_INJECTION
};

struct mf_route {
	const char *host; /* lower-cased */
	const char **path_allowlist;
	size_t npath_allowlist;
	const char *auth_scheme; /* NULL: no auth; else "Bearer" or "token" */
	const char *token_ref;   /* host env var holding the token */
	const char **roles;
	size_t nroles;
	int tls_passthrough;
	const char **ssrf_ip_allowlist;
	size_t nssrf;
	struct mf_match *matches;
	size_t nmatches;
	unsigned dlp_outbound, dlp_inbound; /* detector bits */
	int git_fetch;
	int from_provider; /* added by the agent provider template */
	unsigned line;
};

enum mf_env_source { MF_ENV_LITERAL, MF_ENV_PROMPT, MF_ENV_HOST };

struct mf_env {
	const char *name;
	enum mf_env_source source;
	const char *value; /* literal: the value; host: the host variable's name; prompt: "" */
};

struct mf_provider {
	const char *template_; /* "claude", "codex" or "command" */
	const char **command;  /* template command: the agent program and its arguments */
	size_t ncommand;
	const char *dockerfile;
	const char *auth_token; /* host env var with the Claude OAuth token, "" when unset */
	const char *api_key;    /* host env var with an API key (claude: x-api-key, codex: Bearer), "" when unset */
	const char *program;    /* the agent program as the operator names it (absolute or ~/), "" = found on PATH */
	int forward_host_credentials;
};

struct mf_bottle {
	const char *name, *file;
	const char *extends;      /* as written, NULL when none */
	const char **chain;       /* resolved: this bottle, its parent, ... */
	size_t nchain;
	struct mf_env *env;
	size_t nenv;
	struct mf_provider provider;
	struct mf_user git_user;
	struct mf_repo *repos;
	size_t nrepos;
	struct mf_route *routes;
	size_t nroutes;
	int supervise;
	int ok; /* validated and resolved without error */
};

struct mf_agent {
	const char *name, *file;
	const char *bottle;
	const char **skills;
	size_t nskills;
	struct mf_user git_user;
	const char *prompt; /* the Markdown body, trimmed */
	int ok;
};

struct mf_file {
	const char *path;
	const char *name;
	int is_agent;
};

struct manifest {
	struct arena arena;
	struct mf_bottle *bottles;
	size_t nbottles;
	struct mf_agent *agents;
	size_t nagents;
	struct mf_diag *diags;
	size_t ndiags, diag_cap;
	size_t nerrors;    /* diagnostics that are errors */
	size_t dropped;    /* diagnostics past MF_DIAG_MAX */
	struct mf_file *files; /* every manifest file read, in order */
	size_t nfiles;
	/* private */
	size_t bottle_cap, agent_cap, file_cap;
};

struct mf_dirs {
	const char *home; /* $BB_HOME or $HOME */
	const char *cwd;
};

/*
 * Discover, parse, validate and resolve every manifest. Problems go into
 * m->diags; the return is -1 only for failures to run at all (out of
 * memory), with e set. Free with manifest_free even after -1.
 */
int manifest_load(struct manifest *m, const struct mf_dirs *dirs, struct bb_err *e);
void manifest_free(struct manifest *m);

const struct mf_bottle *manifest_bottle(const struct manifest *m, const char *name);
const struct mf_agent *manifest_agent(const struct manifest *m, const char *name);

/* The git identity an agent runs with: its bottle's, overlaid field by field by its own. */
struct mf_user manifest_agent_user(const struct manifest *m, const struct mf_agent *a);

/* Is name a valid entity name ([a-z][a-z0-9-]*)? */
int manifest_name_ok(const char *name, size_t len);

#endif
