/* gate_env.c - git-gate in a bottle: the upstream keys staged under the state dir, git-gate's argv, the agent's repo list. */
#include "gate_env.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "fd.h"
#include "plan.h"

#define KEY_FILE_MAX (64u << 10)

/* Copy src to dst (0600), the bytes wiped from memory afterwards: it is a private key. */
static int copy_secret(const char *src, const char *dst, struct bb_err *e)
{
	struct buf b = BUF_INIT(KEY_FILE_MAX);
	int rc = -1;

	if (fd_read_file(src, KEY_FILE_MAX, &b, e) == 0 && fd_write_file_atomic(dst, b.p ? b.p : "", b.len, 0600, e) == 0)
		rc = 0;
	if (b.p)
		explicit_bzero(b.p, b.len);
	buf_free(&b);
	return rc;
}

static int no_space(const char *what, const char *s, struct bb_err *e)
{
	if (strchr(s, ' ') || strchr(s, '\t'))
		return bb_errf(e, BB_EINVAL, "git-gate: %s '%s' holds a space; the sidecar's argv cannot carry it", what, s);
	return 0;
}

int gate_env_prepare(const struct cJSON *plan, const char *state, const char *plan_path, const char *dial_sock,
		     struct gate_env *g, struct bb_err *e)
{
	const cJSON *repos = cJSON_GetObjectItem(cJSON_GetObjectItem(plan, "git_gate"), "repos"), *r;
	char keys[4096], src[4096], dst[4200];
	size_t used = 0;
	int n;

	memset(g, 0, sizeof *g);
	if (cJSON_GetArraySize(repos) == 0)
		return 0;
	if (no_space("state directory", state, e) < 0 || no_space("plan", plan_path, e) < 0 ||
	    no_space("dialer socket", dial_sock, e) < 0)
		return -1;
	n = snprintf(keys, sizeof keys, "%s/git-keys", state);
	if (n < 0 || (size_t)n >= sizeof keys)
		return bb_errf(e, BB_ETOOBIG, "git-gate: state path too long");
	if (mkdir(keys, 0700) < 0 && errno != EEXIST)
		return bb_errno(e, errno, "git-gate: cannot create %s", keys);
	cJSON_ArrayForEach(r, repos)
	{
		const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(r, "name"));
		const char *url = cJSON_GetStringValue(cJSON_GetObjectItem(r, "url"));
		const cJSON *key = cJSON_GetObjectItem(r, "key");
		const char *prov = cJSON_GetStringValue(cJSON_GetObjectItem(key, "provider"));
		const char *path = cJSON_GetStringValue(cJSON_GetObjectItem(key, "path"));
		const char *home = getenv("HOME");

		if (!name || !url || strchr(name, '/') || name[0] == '.' || no_space("repo url", url, e) < 0)
			return bb_errf(e, BB_EINVAL, "git-gate: repo %s: a name and an ssh:// url without spaces are needed",
				       name ? name : "?");
		if (!prov || strcmp(prov, "static") || !path || !*path)
			return bb_errf(e, BB_ENOTIMPL,
				       "git-gate: repo %s: key provider %s is not supported by bb bottle run yet (use static)", name,
				       prov ? prov : "?");
		if (!strncmp(path, "~/", 2))
			n = snprintf(src, sizeof src, "%s/%s", home ? home : "", path + 2);
		else
			n = snprintf(src, sizeof src, "%s", path);
		if (n < 0 || (size_t)n + 5 >= sizeof src)
			return bb_errf(e, BB_ETOOBIG, "git-gate: repo %s: key path too long", name);
		snprintf(dst, sizeof dst, "%s/%s", keys, name);
		if (copy_secret(src, dst, e) < 0)
			return bb_err_wrap(e, "git-gate: repo %s: private key", name);
		memcpy(src + n, ".pub", 5);
		snprintf(dst, sizeof dst, "%s/%s.pub", keys, name);
		if (copy_secret(src, dst, e) < 0)
			return bb_err_wrap(e, "git-gate: repo %s: public key (the .pub beside the private key)", name);
		n = snprintf(g->agent_repos + used, sizeof g->agent_repos - used, "%s%s=%s", used ? " " : "", name, url);
		if (n < 0 || (size_t)n >= sizeof g->agent_repos - used)
			return bb_errf(e, BB_ETOOBIG, "git-gate: too many repos for the agent's environment");
		used += (size_t)n;
		g->nrepos++;
	}
	n = snprintf(g->sidecar_args, sizeof g->sidecar_args,
		     "--policy %s --mirrors %s/git-mirrors --keys %s --listen 0.0.0.0:%d --dialer %s --log %s/git-gate.log",
		     plan_path, state, keys, PORT_GIT_GATE, dial_sock, state);
	if (n < 0 || (size_t)n >= sizeof g->sidecar_args)
		return bb_errf(e, BB_ETOOBIG, "git-gate: arguments too long");
	return 0;
}
