/* manifest_int.h - what manifest.c and manifest_schema.c share: the per-file context and value helpers. */
#ifndef BB_MANIFEST_INT_H
#define BB_MANIFEST_INT_H

#include "manifest.h"
#include "yml.h"

/* One file being validated: where diagnostics go and what they name. */
struct mf_ctx {
	struct manifest *m;
	const char *file;
};

/* A bottle as its own file says it, before extends: which keys it set. */
struct mf_leaf {
	struct mf_bottle b; /* the fields this file sets */
	const struct ynode *raw;
	int has_env, has_provider, has_git_user, has_git_repos, has_egress, has_supervise;
	int bad;            /* an error was reported for this file */
	int resolving, resolved, in_cycle;
	struct mf_bottle out; /* after extends */
};

/* Report a problem at node's line (node may be NULL). Always returns -1. */
int mf_error(struct mf_ctx *c, const struct ynode *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int mf_warn(struct mf_ctx *c, const struct ynode *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Python's names for a YAML value's type, as bot-bottle's messages print them: str, int, float, bool, NoneType, list, dict. */
const char *mf_type(const struct ynode *n);
/* Python's repr() of a string ('x', or "x" when it holds ' and no "), in the manifest's arena. */
const char *mf_repr(struct mf_ctx *c, const char *s);
int mf_is_str(const struct ynode *n);
int mf_is_null(const struct ynode *n);
/* 1 true, 0 false, -1 not a boolean. */
int mf_bool(const struct ynode *n);

/* Validate a bottle's own keys into leaf (leaf->raw is its frontmatter). */
void mf_parse_bottle(struct mf_ctx *c, const char *name, struct mf_leaf *leaf);
/* Validate an agent's frontmatter; body is its prompt. */
void mf_parse_agent(struct mf_ctx *c, const char *name, const struct ynode *fm, const char *body, size_t blen,
		    struct mf_agent *out);

#endif
