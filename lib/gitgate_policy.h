/* gitgate_policy.h - the git_gate part of the plan: which repos the gate serves, their upstreams, pinned host keys and key files. */
#ifndef BB_GITGATE_POLICY_H
#define BB_GITGATE_POLICY_H

#include <limits.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"
#include "gitssh.h"

struct scan_engine;

#define GITGATE_REPOS_MAX 64
#define GITGATE_NAME_MAX 128
#define GITGATE_URL_MAX 1024

/*
 * One served repository. A repo the gate cannot use (no pinned host key,
 * no key file it can find) still loads, with the reason in unusable: the
 * gate then fails closed for that repo with that message, and serves the
 * others.
 */
struct gitgate_repo {
	char name[GITGATE_NAME_MAX];
	char url[GITGATE_URL_MAX];        /* ssh://USER@HOST[:PORT]/PATH */
	char key_path[PATH_MAX];          /* private key */
	char pub_path[PATH_MAX + 8];      /* its .pub */
	struct gitssh_hostkey host_key;
	char unusable[BB_ERR_MSG_MAX];    /* "" when usable */
	struct scan_engine *scan;         /* set by the caller (gitgate_scan_engine_build); freed by gitgate_policy_free */
};

struct gitgate_policy {
	struct gitgate_repo *repos;
	size_t nrepos;
};

/*
 * Parse a plan document (bb.plan/1, docs/manifest.md "The plan"; read by
 * lib/planfile) and take its git_gate.repos. Key files: with keys_dir, DIR/NAME and DIR/NAME.pub
 * (how a sidecar gets them staged; required for the gitea provider);
 * else the static provider's key.path, "~/" meaning home, and that path
 * plus ".pub". Refused (BB_EINVAL, naming the entry): not a plan, a repo
 * without a name or url, a bad url, a name that is not [A-Za-z0-9._-]+,
 * duplicate names, a host_key that does not parse, too many repos.
 */
int gitgate_policy_parse(const char *json, size_t n, const char *keys_dir, const char *home,
			 struct gitgate_policy *p, struct bb_err *e);
/* Read the plan file (at most PLANFILE_MAX_BYTES) and parse it; errors name the path. */
int gitgate_policy_load(const char *path, const char *keys_dir, const char *home, struct gitgate_policy *p,
			struct bb_err *e);
/* Free the repos and their scan engines; p is left empty. */
void gitgate_policy_free(struct gitgate_policy *p);

/*
 * The repo a client's URL path names: "/NAME", "/NAME.git", either with a
 * trailing "/". NULL when none.
 */
const struct gitgate_repo *gitgate_policy_find(const struct gitgate_policy *p, struct sv path);

/* Fill an SSH auth for r (which must outlive it). */
void gitgate_repo_auth(const struct gitgate_repo *r, struct gitssh_auth *auth);

#endif
