/* gitgate_policy.c - the git_gate part of the plan: which repos the gate serves, their upstreams, pinned host keys and key files. */
#include "gitgate_policy.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd.h"
#include "json.h"
#include "scan.h"

#define PLAN_FILE_MAX (4 * 1024 * 1024)

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

static const char *str_field(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Work out the key files of one repo; a reason in r->unusable when there are none. */
static int key_paths(struct gitgate_repo *r, const cJSON *key, const char *keys_dir, const char *home, struct bb_err *e)
{
	const char *provider = key ? str_field(key, "provider") : NULL, *path;
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
	path = str_field(key, "path");
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

static int parse_repo(const cJSON *o, size_t idx, const char *keys_dir, const char *home, struct gitgate_repo *r,
		      struct bb_err *e)
{
	const char *name = str_field(o, "name"), *url = str_field(o, "url"), *hk = str_field(o, "host_key");

	memset(r, 0, sizeof *r);
	if (!cJSON_IsObject(o))
		return bb_errf(e, BB_EINVAL, "git_gate.repos[%zu] is not an object", idx);
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
	if (key_paths(r, cJSON_GetObjectItemCaseSensitive(o, "key"), keys_dir, home, e) < 0)
		return -1;
	return 0;
}

int gitgate_policy_parse(const char *json, size_t n, const char *keys_dir, const char *home,
			 struct gitgate_policy *p, struct bb_err *e)
{
	cJSON *doc = json_parse("plan", json, n, e), *gg, *repos;
	const char *schema;
	size_t i, j, count;
	int ret = -1;

	p->repos = NULL;
	p->nrepos = 0;
	if (!doc)
		return -1;
	schema = str_field(doc, "schema");
	if (!schema || strcmp(schema, "bb.plan/1") != 0) {
		bb_errf(e, BB_EINVAL, "not a bb plan (schema is %s, expected bb.plan/1)", schema ? schema : "missing");
		goto out;
	}
	gg = cJSON_GetObjectItemCaseSensitive(doc, "git_gate");
	repos = gg ? cJSON_GetObjectItemCaseSensitive(gg, "repos") : NULL;
	if (!cJSON_IsArray(repos)) {
		bb_errf(e, BB_EINVAL, "plan has no git_gate.repos array");
		goto out;
	}
	count = (size_t)cJSON_GetArraySize(repos);
	if (count > GITGATE_REPOS_MAX) {
		bb_errf(e, BB_ETOOBIG, "git_gate.repos has %zu entries (at most %d)", count, GITGATE_REPOS_MAX);
		goto out;
	}
	p->repos = calloc(count ? count : 1, sizeof *p->repos);
	if (!p->repos) {
		bb_errno(e, ENOMEM, "policy");
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (parse_repo(cJSON_GetArrayItem(repos, (int)i), i, keys_dir, home, &p->repos[i], e) < 0)
			goto out;
		for (j = 0; j < i; j++)
			if (!strcmp(p->repos[j].name, p->repos[i].name)) {
				bb_errf(e, BB_EINVAL, "git_gate.repos: two repos are named '%s'", p->repos[i].name);
				goto out;
			}
		p->nrepos++;
	}
	ret = 0;
out:
	if (ret < 0)
		gitgate_policy_free(p);
	cJSON_Delete(doc);
	return ret;
}

int gitgate_policy_load(const char *path, const char *keys_dir, const char *home, struct gitgate_policy *p,
			struct bb_err *e)
{
	struct buf b = BUF_INIT(PLAN_FILE_MAX);
	int rc;

	p->repos = NULL;
	p->nrepos = 0;
	if (fd_read_file(path, PLAN_FILE_MAX, &b, e) < 0)
		return -1;
	rc = gitgate_policy_parse(b.p ? b.p : "", b.len, keys_dir, home, p, e);
	if (rc < 0)
		bb_err_wrap(e, "%s", path);
	buf_free(&b);
	return rc;
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
