/* forge_keys.c - the gitea key provider on the host: a deploy key made and registered per bottle at start, revoked at stop and by cleanup. */
#include "forge_keys.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bottle.h"
#include "buf.h"
#include "fd.h"
#include "gitgate_gitea.h"
#include "planfile.h"
#include "tls.h"

#define RECORD_MAX (256u << 10)
#define REVOKE_TRIES 3

/* $BB_HOME/.bb/forge-keys/SLUG: beside state/, out of the sidecar's reach (it can write state/). */
static int record_path(const char *slug, int create, char *out, size_t cap, struct bb_err *e)
{
	char root[4096];
	int n;

	if (!*slug || slug[0] == '.' || strchr(slug, '/'))
		return bb_errf(e, BB_EINVAL, "'%s' is not a bottle slug", slug);
	if (bottle_state_root(root, sizeof root, create, e) < 0)
		return -1;
	root[strlen(root) - 6] = 0; /* "$BB_HOME/.bb" */
	n = snprintf(out, cap, "%s/forge-keys", root);
	if (n < 0 || (size_t)n >= cap)
		return bb_errf(e, BB_ETOOBIG, "forge-keys path too long");
	if (create && mkdir(out, 0700) < 0 && errno != EEXIST)
		return bb_errno(e, errno, "create %s", out);
	n = snprintf(out, cap, "%s/forge-keys/%s", root, slug);
	if (n < 0 || (size_t)n >= cap)
		return bb_errf(e, BB_ETOOBIG, "forge-keys path too long");
	return 0;
}

/* The record: a JSON array of {name, api_url, owner, repo, forge_token_env, id}; missing reads as empty. */
static cJSON *record_read(const char *path, struct bb_err *e)
{
	struct buf b = BUF_INIT(RECORD_MAX);
	cJSON *doc;

	if (fd_read_file(path, RECORD_MAX, &b, e) < 0) {
		buf_free(&b);
		if (e->code == ENOENT) {
			bb_err_clear(e);
			return cJSON_CreateArray();
		}
		return NULL;
	}
	doc = cJSON_ParseWithLength(b.p ? b.p : "", b.len);
	buf_free(&b);
	if (!cJSON_IsArray(doc)) {
		cJSON_Delete(doc);
		bb_errf(e, BB_EINVAL, "%s: not a forge key record", path);
		return NULL;
	}
	return doc;
}

static int record_write(const char *path, const cJSON *doc, struct bb_err *e)
{
	char *s;
	int rc;

	if (cJSON_GetArraySize(doc) == 0) {
		if (unlink(path) < 0 && errno != ENOENT)
			return bb_errno(e, errno, "remove %s", path);
		return 0;
	}
	s = cJSON_PrintUnformatted(doc);
	if (!s)
		return bb_errf(e, ENOMEM, "out of memory");
	/* Durable before anything depends on it: a key registered and not recorded could never be revoked by cleanup. */
	rc = fd_write_file_atomic(path, s, strlen(s), 0600, e);
	free(s);
	return rc;
}

static int gitea_client(struct gitgate_gitea *g, struct tls_trust *trust, const char *api_url, const char *token_env,
			const char *name, struct bb_err *e)
{
	const char *token = token_env ? getenv(token_env) : NULL;

	if (!token || !*token)
		return bb_errf(e, BB_EINVAL, "git-gate.repos['%s'] key.forge_token_env = '%s': env var is not set", name,
			       token_env ? token_env : "");
	tls_trust_init(trust);
	if (!strncmp(api_url, "https://", 8) && tls_trust_load_default(trust, e) < 0) {
		tls_trust_free(trust);
		return bb_err_wrap(e, "the system's trusted roots for %s", api_url);
	}
	memset(g, 0, sizeof *g);
	g->api_url = api_url;
	g->token = token;
	g->trust = trust;
	g->timeout_ms = 30000;
	return 0;
}

int forge_keys_provision(const char *slug, const struct planfile_repo *r, struct gitgate_keypair *kp, struct bb_err *e)
{
	const char *name = r->name, *upstream_path = r->path ? r->path : "", *host = r->host ? r->host : "";
	const char *token_env = r->key_forge_token_env, *api = r->key_api_url;
	char api_url[600], owner[256], repo[256], title[256], rec[4096];
	struct gitgate_gitea g;
	struct tls_trust trust;
	long long id = 0;
	cJSON *doc = NULL, *o;
	int n, rc = -1;

	if (api && *api)
		n = snprintf(api_url, sizeof api_url, "%s", api);
	else
		n = snprintf(api_url, sizeof api_url, "https://%s", host); /* bot-bottle's default: the upstream's host */
	if (n < 0 || (size_t)n >= sizeof api_url)
		return bb_errf(e, BB_ETOOBIG, "git-gate.repos['%s']: api_url too long", name);
	if (gitgate_gitea_repo(upstream_path, owner, sizeof owner, repo, sizeof repo, e) < 0)
		return bb_err_wrap(e, "git-gate.repos['%s']", name);
	if (record_path(slug, 1, rec, sizeof rec, e) < 0)
		return -1;
	if (gitea_client(&g, &trust, api_url, token_env, name, e) < 0)
		return -1;
	snprintf(title, sizeof title, "bb-%s-%s", slug, name);
	if (gitgate_keygen_ed25519(kp, title, e) < 0)
		goto out;
	if (gitgate_gitea_add_key(&g, owner, repo, title, kp->pub_line, &id, e) < 0) {
		bb_err_wrap(e, "git-gate.repos['%s']: registering a deploy key on %s", name, api_url);
		goto out;
	}
	/* Recorded before anything else can fail, so stop or cleanup revokes it whatever happens next. */
	doc = record_read(rec, e);
	o = doc ? cJSON_CreateObject() : NULL;
	if (!o || !cJSON_AddStringToObject(o, "name", name) || !cJSON_AddStringToObject(o, "api_url", api_url) ||
	    !cJSON_AddStringToObject(o, "owner", owner) || !cJSON_AddStringToObject(o, "repo", repo) ||
	    !cJSON_AddStringToObject(o, "forge_token_env", token_env) || !cJSON_AddNumberToObject(o, "id", (double)id) ||
	    !cJSON_AddItemToArray(doc, o) || record_write(rec, doc, e) < 0) {
		struct bb_err e2 = { 0 };

		if (!e->msg[0])
			bb_errf(e, ENOMEM, "out of memory");
		if (gitgate_gitea_delete_key(&g, owner, repo, id, &e2) < 0) {
			char first[sizeof e->msg];

			snprintf(first, sizeof first, "%s", e->msg);
			bb_errf(e, e->code, "%s; deploy key %lld could not be revoked either (%s): delete it on the forge", first,
				id, e2.msg);
		}
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		explicit_bzero(kp, sizeof *kp);
	cJSON_Delete(doc);
	tls_trust_free(&trust);
	return rc;
}

int forge_keys_revoke(const char *slug, forge_keys_report_fn report, void *arg, struct bb_err *e)
{
	char rec[4096], msg[1200];
	cJSON *doc, *left, *o;
	int failed = 0;

	if (record_path(slug, 0, rec, sizeof rec, e) < 0)
		return -1;
	doc = record_read(rec, e);
	if (!doc)
		return -1;
	left = cJSON_CreateArray();
	if (!left) {
		cJSON_Delete(doc);
		return bb_errf(e, ENOMEM, "out of memory");
	}
	cJSON_ArrayForEach(o, doc)
	{
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(o, "name"));
		const char *api = cJSON_GetStringValue(cJSON_GetObjectItem(o, "api_url"));
		const char *owner = cJSON_GetStringValue(cJSON_GetObjectItem(o, "owner"));
		const char *repo = cJSON_GetStringValue(cJSON_GetObjectItem(o, "repo"));
		const char *tenv = cJSON_GetStringValue(cJSON_GetObjectItem(o, "forge_token_env"));
		const cJSON *idj = cJSON_GetObjectItem(o, "id");
		long long id = cJSON_IsNumber(idj) ? (long long)idj->valuedouble : 0;
		struct gitgate_gitea g;
		struct tls_trust trust;
		struct bb_err ke = { 0 };
		int t, ok = 0;

		if (!name || !api || !owner || !repo || !tenv || id <= 0) {
			snprintf(msg, sizeof msg, "%s: an entry of the forge key record is malformed; left in place", rec);
			report(arg, 0, msg);
			failed = 1;
			cJSON_AddItemReferenceToArray(left, o);
			continue;
		}
		if (gitea_client(&g, &trust, api, tenv, name, &ke) == 0) {
			/* A forge that is briefly unreachable or busy gets two more tries, a second and two apart. */
			for (t = 0; t < REVOKE_TRIES && !ok; t++) {
				if (t)
					sleep((unsigned)t);
				bb_err_clear(&ke);
				ok = gitgate_gitea_delete_key(&g, owner, repo, id, &ke) == 0;
			}
			tls_trust_free(&trust);
		}
		if (ok) {
			snprintf(msg, sizeof msg, "revoked deploy key %lld for git-gate.repos['%s'] (%s/%s on %s)", id, name, owner,
				 repo, api);
			report(arg, 1, msg);
		} else {
			snprintf(msg, sizeof msg,
				 "deploy key %lld for git-gate.repos['%s'] (%s/%s on %s) was NOT revoked after %d tries: %s; "
				 "run 'bb bottle cleanup' again, or delete it on the forge",
				 id, name, owner, repo, api, REVOKE_TRIES, ke.msg);
			report(arg, 0, msg);
			failed = 1;
			cJSON_AddItemReferenceToArray(left, o);
		}
	}
	/* What could not be revoked stays recorded for the next cleanup. */
	if (record_write(rec, left, e) < 0)
		failed = 1;
	cJSON_Delete(left);
	cJSON_Delete(doc);
	if (failed && !e->msg[0])
		bb_errf(e, EIO, "some deploy keys of %s were not revoked", slug);
	return failed ? -1 : 0;
}

int forge_keys_pending(const char *slug)
{
	char rec[4096];
	struct bb_err e = { 0 };

	return record_path(slug, 0, rec, sizeof rec, &e) == 0 && access(rec, F_OK) == 0;
}
