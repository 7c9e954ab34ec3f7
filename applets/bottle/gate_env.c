/* gate_env.c - git-gate in a bottle: the upstream keys staged under the state dir, git-gate's argv, the agent's repo list. */
#include "gate_env.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"
#include "forge_keys.h"
#include "planfile.h"
#include "plan.h"

#define KEY_FILE_MAX (64u << 10)

/*
 * Write data to NAME under the directory fd, never through a link: the
 * sidecar can write the state dir (a resumed bottle's git-keys may hold
 * whatever it left); fd_write_file_at replaces a link there, never follows it.
 */
static int write_beneath(int dirfd, const char *name, const void *data, size_t n, mode_t mode, struct bb_err *e)
{
	if (fd_write_file_at(dirfd, name, data, n, mode, (uid_t)-1, (gid_t)-1, 1, e) < 0)
		return bb_err_wrap(e, "git-keys");
	return 0;
}

/* Stage a key pair as NAME (0600) and NAME.pub (0644) under dirfd. */
static int stage_pair(int dirfd, const char *name, const void *priv, size_t privlen, const void *pub, size_t publen,
		      struct bb_err *e)
{
	char pubname[300];

	if ((size_t)snprintf(pubname, sizeof pubname, "%s.pub", name) >= sizeof pubname)
		return bb_errf(e, BB_ETOOBIG, "repo name too long");
	if (write_beneath(dirfd, name, priv, privlen, 0600, e) < 0)
		return -1;
	return write_beneath(dirfd, pubname, pub, publen, 0644, e);
}

/* Copy a static key pair (src and src.pub, read from the operator's own files) in; the bytes wiped afterwards. */
static int stage_static(int dirfd, const char *name, char *src, size_t srclen, size_t srccap, struct bb_err *e)
{
	struct buf k = BUF_INIT(KEY_FILE_MAX), p = BUF_INIT(KEY_FILE_MAX);
	int rc = -1;

	if (fd_read_file(src, KEY_FILE_MAX, &k, e) < 0) {
		bb_err_wrap(e, "git-gate: repo %s: private key", name);
		goto out;
	}
	if (srclen + 5 > srccap) {
		bb_errf(e, BB_ETOOBIG, "git-gate: repo %s: key path too long", name);
		goto out;
	}
	memcpy(src + srclen, ".pub", 5);
	if (fd_read_file(src, KEY_FILE_MAX, &p, e) < 0) {
		bb_err_wrap(e, "git-gate: repo %s: public key (the .pub beside the private key)", name);
		goto out;
	}
	rc = stage_pair(dirfd, name, k.p ? k.p : "", k.len, p.p ? p.p : "", p.len, e);
out:
	if (k.p)
		explicit_bzero(k.p, k.len);
	buf_free(&k);
	buf_free(&p);
	return rc;
}

static int no_space(const char *what, const char *s, struct bb_err *e)
{
	if (strchr(s, ' ') || strchr(s, '\t'))
		return bb_errf(e, BB_EINVAL, "git-gate: %s '%s' holds a space; the sidecar's argv cannot carry it", what, s);
	return 0;
}

int gate_env_prepare(const struct planfile_git_gate *gg, const char *slug, const char *state, const char *plan_path,
		     const char *dial_sock, struct gate_env *g, struct bb_err *e)
{
	size_t i;
	char keys[4096], src[4096];
	size_t used = 0;
	int n, sfd = -1, kfd = -1, rc = -1;

	memset(g, 0, sizeof *g);
	if (gg->nrepos == 0)
		return 0;
	if (no_space("state directory", state, e) < 0 || no_space("plan", plan_path, e) < 0 ||
	    no_space("dialer socket", dial_sock, e) < 0)
		return -1;
	n = snprintf(keys, sizeof keys, "%s/git-keys", state);
	if (n < 0 || (size_t)n >= sizeof keys)
		return bb_errf(e, BB_ETOOBIG, "git-gate: state path too long");
	/* The state dir itself is the host's; what is in it the sidecar can change: git-keys is reached through fds. */
	sfd = open(state, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return bb_errno(e, errno, "git-gate: cannot open %s", state);
	kfd = fd_mkdirs_beneath(sfd, "git-keys", 0700, (uid_t)-1, (gid_t)-1, e);
	if (kfd < 0) {
		bb_err_wrap(e, "git-gate: %s", state);
		goto out;
	}
	for (i = 0; i < gg->nrepos; i++) {
		const struct planfile_repo *r = &gg->repos[i];
		const char *name = r->name, *url = r->url, *prov = r->key_provider, *path = r->key_path;
		const char *home = getenv("HOME");

		if (!name || !url || strchr(name, '/') || name[0] == '.' || no_space("repo url", url, e) < 0) {
			if (!e->msg[0])
				bb_errf(e, BB_EINVAL, "git-gate: repo %s: a name and an ssh:// url without spaces are needed",
					name ? name : "?");
			goto out;
		}
		if (prov && !strcmp(prov, "gitea")) {
			struct gitgate_keypair kp;
			char pub[GITGATE_KEY_PUB_MAX + 2];
			int pl;

			if (forge_keys_provision(slug, r, &kp, e) < 0)
				goto out;
			pl = snprintf(pub, sizeof pub, "%s\n", kp.pub_line);
			n = stage_pair(kfd, name, kp.priv_pem, kp.priv_len, pub, (size_t)pl, e);
			explicit_bzero(&kp, sizeof kp);
			if (n < 0) {
				bb_err_wrap(e, "git-gate: repo %s: staging the deploy key", name);
				goto out;
			}
		} else if (prov && !strcmp(prov, "static") && path && *path) {
			if (!strncmp(path, "~/", 2))
				n = snprintf(src, sizeof src, "%s/%s", home ? home : "", path + 2);
			else
				n = snprintf(src, sizeof src, "%s", path);
			if (n < 0 || (size_t)n + 5 >= sizeof src) {
				bb_errf(e, BB_ETOOBIG, "git-gate: repo %s: key path too long", name);
				goto out;
			}
			if (stage_static(kfd, name, src, (size_t)n, sizeof src, e) < 0)
				goto out;
		} else {
			bb_errf(e, BB_EINVAL, "git-gate: repo %s: key provider %s is not known (static or gitea)", name,
				prov ? prov : "?");
			goto out;
		}
		n = snprintf(g->agent_repos + used, sizeof g->agent_repos - used, "%s%s=%s", used ? " " : "", name, url);
		if (n < 0 || (size_t)n >= sizeof g->agent_repos - used) {
			bb_errf(e, BB_ETOOBIG, "git-gate: too many repos for the agent's environment");
			goto out;
		}
		used += (size_t)n;
		g->nrepos++;
	}
	n = snprintf(g->sidecar_args, sizeof g->sidecar_args,
		     "--policy %s --mirrors %s/git-mirrors --keys %s --listen 0.0.0.0:%d --dialer %s --log %s/git-gate.log",
		     plan_path, state, keys, PORT_GIT_GATE, dial_sock, state);
	if (n < 0 || (size_t)n >= sizeof g->sidecar_args) {
		bb_errf(e, BB_ETOOBIG, "git-gate: arguments too long");
		goto out;
	}
	rc = 0;
out:
	if (kfd >= 0)
		close(kfd);
	if (sfd >= 0)
		close(sfd);
	return rc;
}
