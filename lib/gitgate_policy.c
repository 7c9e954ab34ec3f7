/* gitgate_policy.c - the git_gate part of the plan: which repos the gate serves, their upstreams, pinned host keys and key files. */
#include "gitgate_policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "planfile.h"
#include "scan.h"

static int name_ok(const char *s)
{
	if (!*s || !strcmp(s, ".") || !strcmp(s, ".."))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '_' || *s == '-'))
			return 0;
	return 1;
}

/* Work out the key files of one repo; a reason in r->unusable when there are none. */
static int key_paths(struct gitgate_repo *r, const struct planfile_repo *pr, const char *keys_dir, const char *home,
		     struct bb_err *e)
{
	const char *provider = pr->key_provider, *path = pr->key_path;
	int n;

	if (keys_dir && *keys_dir) {
		n = snprintf(r->key_path, sizeof r->key_path, "%s/%s", keys_dir, r->name);
		if (n < 0 || (size_t)n >= sizeof r->key_path)
			return bb_errf(e, BB_ETOOBIG, "git_gate.repos[%s]: key directory path too long", r->name);
		snprintf(r->pub_path, sizeof r->pub_path, "%s.pub", r->key_path);
		if ((size_t)n + 4 >= sizeof r->pub_path)
			return bb_errf(e, BB_ETOOBIG, "git_gate.repos[%s]: key directory path too long", r->name);
		return 0;
	}
	if (!provider || strcmp(provider, "static") != 0) {
		snprintf(r->unusable, sizeof r->unusable,
			 "repo '%s' uses the %s key provider: its key is staged by 'bb bottle start' (run the gate with --keys DIR)",
			 r->name, provider ? provider : "(unknown)");
		return 0;
	}
	if (!path || !*path) {
		snprintf(r->unusable, sizeof r->unusable, "repo '%s' names no key file", r->name);
		return 0;
	}
	if (path[0] == '~' && path[1] == '/') {
		if (!home || !*home) {
			snprintf(r->unusable, sizeof r->unusable, "repo '%s': key path %s needs HOME", r->name, path);
			return 0;
		}
		n = snprintf(r->key_path, sizeof r->key_path, "%s/%s", home, path + 2);
	} else {
		n = snprintf(r->key_path, sizeof r->key_path, "%s", path);
	}
	if (n < 0 || (size_t)n + 4 >= sizeof r->key_path)
		return bb_errf(e, BB_ETOOBIG, "git_gate.repos[%s]: key path too long", r->name);
	snprintf(r->pub_path, sizeof r->pub_path, "%s.pub", r->key_path);
	return 0;
}

static int take_repo(const struct planfile_repo *pr, size_t idx, const char *keys_dir, const char *home,
		     struct gitgate_repo *r, struct bb_err *e)
{
	const char *name = pr->name, *url = pr->url, *hk = pr->host_key;

	memset(r, 0, sizeof *r);
	if (!name || !name_ok(name) || strlen(name) >= sizeof r->name)
		return bb_errf(e, BB_EINVAL, "git_gate.repos[%zu]: name must be [A-Za-z0-9._-]+ (at most %d bytes)", idx,
			       GITGATE_NAME_MAX - 1);
	memcpy(r->name, name, strlen(name) + 1);
	if (!url || strlen(url) >= sizeof r->url)
		return bb_errf(e, BB_EINVAL, "git_gate.repos[%s]: missing or overlong url", name);
	if (gitssh_url_check(url, e) < 0)
		return bb_err_wrap(e, "git_gate.repos[%s] url", name);
	memcpy(r->url, url, strlen(url) + 1);
	if (hk && *hk) {
		if (gitssh_hostkey_parse(sv_from(hk), &r->host_key, e) < 0)
			return bb_err_wrap(e, "git_gate.repos[%s] host_key", name);
	} else {
		snprintf(r->unusable, sizeof r->unusable,
			 "repo '%s' has no pinned host key: add host_key (the upstream's public host key) to "
			 "git-gate.repos.%s and restart the bottle",
			 name, name);
	}
	return key_paths(r, pr, keys_dir, home, e);
}

struct take_args {
	const char *keys_dir, *home;
	struct gitgate_policy *p;
};

static int take_policy(struct planfile *pf, void *arg, struct bb_err *e)
{
	struct take_args *a = arg;
	struct gitgate_policy *p = a->p;
	struct planfile_git_gate gg;
	size_t i, j;

	if (planfile_git_gate(pf, &gg, e) < 0)
		return -1;
	if (!gg.present)
		return bb_errf(e, BB_EINVAL, "%s: git_gate.repos: is required", pf->what);
	if (gg.nrepos > GITGATE_REPOS_MAX)
		return bb_errf(e, BB_ETOOBIG, "%s: git_gate.repos has %zu entries (at most %d)", pf->what, gg.nrepos,
			       GITGATE_REPOS_MAX);
	p->repos = calloc(gg.nrepos ? gg.nrepos : 1, sizeof *p->repos);
	if (!p->repos)
		return bb_errno(e, ENOMEM, "policy");
	for (i = 0; i < gg.nrepos; i++) {
		if (take_repo(&gg.repos[i], i, a->keys_dir, a->home, &p->repos[i], e) < 0)
			return bb_err_wrap(e, "%s", pf->what);
		for (j = 0; j < i; j++)
			if (!strcmp(p->repos[j].name, p->repos[i].name))
				return bb_errf(e, BB_EINVAL, "%s: git_gate.repos: two repos are named '%s'", pf->what,
					       p->repos[i].name);
		p->nrepos++;
	}
	return 0;
}

static int gitgate_read(const char *what, const char *json, size_t n, const char *keys_dir, const char *home,
			struct gitgate_policy *p, struct bb_err *e)
{
	struct take_args a = { keys_dir, home, p };

	p->repos = NULL;
	p->nrepos = 0;
	if (planfile_use(what, json, n, take_policy, &a, e) < 0) {
		gitgate_policy_free(p);
		return -1;
	}
	return 0;
}

int gitgate_policy_parse(const char *json, size_t n, const char *keys_dir, const char *home,
			 struct gitgate_policy *p, struct bb_err *e)
{
	return gitgate_read("plan", json ? json : "", n, keys_dir, home, p, e);
}

int gitgate_policy_load(const char *path, const char *keys_dir, const char *home, struct gitgate_policy *p,
			struct bb_err *e)
{
	return gitgate_read(path, NULL, 0, keys_dir, home, p, e);
}

void gitgate_policy_free(struct gitgate_policy *p)
{
	size_t i;

	for (i = 0; p->repos && i < p->nrepos; i++)
		scan_engine_free(p->repos[i].scan);
	free(p->repos);
	p->repos = NULL;
	p->nrepos = 0;
}

const struct gitgate_repo *gitgate_policy_find(const struct gitgate_policy *p, struct sv path)
{
	size_t i;

	if (path.len && path.p[0] == '/')
		path = sv_of(path.p + 1, path.len - 1);
	if (path.len && path.p[path.len - 1] == '/')
		path.len--;
	for (i = 0; i < p->nrepos; i++)
		if (sv_eq_str(path, p->repos[i].name))
			return &p->repos[i];
	if (sv_ends_with(path, SV_LIT(".git"))) {
		path.len -= 4;
		for (i = 0; i < p->nrepos; i++)
			if (sv_eq_str(path, p->repos[i].name))
				return &p->repos[i];
	}
	return NULL;
}

void gitgate_repo_auth(const struct gitgate_repo *r, struct gitssh_auth *auth)
{
	auth->privkey_path = r->key_path;
	auth->pubkey_path = r->pub_path;
	auth->host_key = &r->host_key;
}
