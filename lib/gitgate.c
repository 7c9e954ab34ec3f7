/* gitgate.c - git-gate's sessions: the mirror and its lock, refresh from upstream, ref advertisement, the git:// request. */
#include "gitgate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fd.h"
#include "gitgate_int.h"

void gitgate_log(const struct gitgate_session *s, const char *event, ...)
{
	const char *kv[34];
	size_t n = 0;
	const char *k;
	va_list ap;

	if (!s->srv->log)
		return;
	kv[n++] = "repo";
	kv[n++] = s->repo ? s->repo->name : "";
	kv[n++] = "peer";
	kv[n++] = s->srv->peer ? s->srv->peer : "";
	va_start(ap, event);
	while (n + 2 < sizeof kv / sizeof kv[0] && (k = va_arg(ap, const char *)) != NULL) {
		kv[n++] = k;
		kv[n] = va_arg(ap, const char *);
		if (!kv[n])
			kv[n] = "";
		n++;
	}
	va_end(ap);
	kv[n] = NULL;
	s->srv->log(s->srv->log_arg, event, kv);
}

void gitgate_session_init(struct gitgate_session *s, const struct gitgate_server *srv, const struct gitgate_repo *repo,
			  struct gitgate_io *io, int stateless)
{
	memset(s, 0, sizeof *s);
	s->srv = srv;
	s->repo = repo;
	s->io = io;
	s->stateless = stateless;
	s->lock_fd = -1;
}

void gitgate_session_close(struct gitgate_session *s)
{
	gitgate_unlock(s);
	git_repository_free(s->mirror);
	s->mirror = NULL;
}

int gitgate_lock(struct gitgate_session *s, struct bb_err *e)
{
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	int waited = 0, limit = s->srv->lock_timeout_ms > 0 ? s->srv->lock_timeout_ms : 600000;

	if (s->lock_fd >= 0)
		return 0;
	s->lock_fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lock_fd < 0)
		return bb_errno(e, errno, "opening %s", s->lock_path);
	while (flock(s->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK && errno != EINTR) {
			int err = errno;

			s->lock_fd = fd_close(s->lock_fd);
			return bb_errno(e, err, "locking %s", s->lock_path);
		}
		if (waited >= limit) {
			s->lock_fd = fd_close(s->lock_fd);
			return bb_errf(e, ETIMEDOUT, "the mirror of '%s' stayed busy for %d s (another push or fetch)",
				       s->repo->name, limit / 1000);
		}
		nanosleep(&nap, NULL);
		waited += 20;
	}
	return 0;
}

void gitgate_unlock(struct gitgate_session *s)
{
	if (s->lock_fd >= 0) {
		flock(s->lock_fd, LOCK_UN);
		close(s->lock_fd);
		s->lock_fd = -1;
	}
}

static int open_or_init(struct gitgate_session *s, struct bb_err *e)
{
	int rc;

	rc = git_repository_open_bare(&s->mirror, s->mirror_path);
	if (rc == 0)
		return 0;
	if (rc != GIT_ENOTFOUND)
		return gitssh_git_error(e, rc, NULL, s->mirror_path);
	/* Created under the lock, so two first connections cannot race. */
	if (gitgate_lock(s, e) < 0)
		return -1;
	rc = git_repository_open_bare(&s->mirror, s->mirror_path);
	if (rc == GIT_ENOTFOUND)
		rc = git_repository_init(&s->mirror, s->mirror_path, 1);
	gitgate_unlock(s);
	if (rc < 0)
		return gitssh_git_error(e, rc, NULL, s->mirror_path);
	return 0;
}

int gitgate_session_mirror(struct gitgate_session *s, int refresh, struct bb_err *e)
{
	struct gitssh_fetch_stats st;
	struct gitssh_auth auth;
	int n, rc;

	if (s->repo->unusable[0])
		return bb_errf(e, BB_EINVAL, "%s", s->repo->unusable);
	n = snprintf(s->mirror_path, sizeof s->mirror_path, "%s/%s.git", s->srv->mirrors_dir, s->repo->name);
	if (n < 0 || (size_t)n >= sizeof s->mirror_path)
		return bb_errf(e, BB_ETOOBIG, "mirror path too long");
	n = snprintf(s->lock_path, sizeof s->lock_path, "%s/%s.lock", s->srv->mirrors_dir, s->repo->name);
	if (n < 0 || (size_t)n >= sizeof s->lock_path)
		return bb_errf(e, BB_ETOOBIG, "mirror path too long");
	/* The directory may have been cleaned away under a running daemon: made again, private. */
	if (mkdir(s->srv->mirrors_dir, 0700) < 0 && errno != EEXIST)
		return bb_errno(e, errno, "making %s", s->srv->mirrors_dir);
	if (!s->mirror && open_or_init(s, e) < 0)
		return -1;
	if (!refresh)
		return 0;
	gitgate_repo_auth(s->repo, &auth);
	if (gitgate_lock(s, e) < 0)
		return -1;
	rc = gitssh_mirror_fetch(s->mirror, s->repo->url, &auth, &s->srv->upstream, &st, e);
	gitgate_unlock(s);
	if (rc < 0) {
		gitgate_log(s, "upstream-refresh-failed", "error", e ? e->msg : "", (char *)NULL);
		return bb_err_wrap(e, "cannot refresh '%s' from upstream, refusing to serve a stale copy (fail closed)",
				   s->repo->name);
	}
	{
		char refs[24], upd[24], pruned[24], objs[24];

		snprintf(refs, sizeof refs, "%zu", st.refs);
		snprintf(upd, sizeof upd, "%zu", st.updated);
		snprintf(pruned, sizeof pruned, "%zu", st.pruned);
		snprintf(objs, sizeof objs, "%zu", st.objects);
		gitgate_log(s, "upstream-refresh", "refs", refs, "updated", upd, "pruned", pruned, "objects", objs,
			    (char *)NULL);
	}
	return 0;
}

int gitgate_send_err(struct gitgate_io *io, const char *msg, struct bb_err *e)
{
	char line[1024];
	size_t i, n;

	/* One line: git prints it as "fatal: remote error: MSG". */
	n = (size_t)snprintf(line, sizeof line, "ERR bb git-gate: %s", msg);
	if (n >= sizeof line)
		n = sizeof line - 1;
	for (i = 0; i < n; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	if (gitgate_io_pktf(io, e, "%.*s\n", (int)n, line) < 0)
		return -1;
	return gitgate_io_flush(io, e);
}

int gitgate_fail(struct gitgate_session *s, const char *msg, struct bb_err *e)
{
	char line[1100];
	struct bb_err ignore;
	int n;

	if (s->io->sideband) {
		n = snprintf(line, sizeof line, "bb git-gate: %s\n", msg);
		if (n < 0)
			n = 0;
		if ((size_t)n >= sizeof line)
			n = sizeof line - 1;
		gitgate_io_band(s->io, PKT_BAND_ERROR, line, (size_t)n, &ignore);
		gitgate_io_flush(s->io, &ignore);
	} else {
		gitgate_send_err(s->io, msg, &ignore);
	}
	return bb_errf(e, e && e->code ? e->code : BB_EINVAL, "%s", msg);
}

static int adv_cmp(const void *a, const void *b)
{
	return strcmp(((const struct gitgate_ref *)a)->name, ((const struct gitgate_ref *)b)->name);
}

void gitgate_refs_free(struct gitgate_ref *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

int gitgate_refs_list(git_repository *repo, struct gitgate_ref **out, size_t *n, struct bb_err *e)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	struct gitgate_ref *v = NULL;
	size_t cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	rc = git_reference_iterator_new(&it, repo);
	if (rc < 0)
		return gitssh_git_error(e, rc, NULL, "listing refs");
	while ((rc = git_reference_next(&ref, it)) == 0) {
		git_object *obj = NULL, *peeled = NULL;

		if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
			git_reference_free(ref);
			continue;
		}
		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct gitgate_ref *nv = realloc(v, ncap * sizeof *nv);

			if (!nv) {
				git_reference_free(ref);
				rc = -1;
				bb_errno(e, ENOMEM, "listing refs");
				break;
			}
			v = nv;
			cap = ncap;
		}
		memset(&v[*n], 0, sizeof v[*n]);
		v[*n].name = strdup(git_reference_name(ref));
		git_oid_cpy(&v[*n].oid, git_reference_target(ref));
		if (git_object_lookup(&obj, repo, &v[*n].oid, GIT_OBJECT_ANY) == 0 && git_object_type(obj) == GIT_OBJECT_TAG &&
		    git_object_peel(&peeled, obj, GIT_OBJECT_ANY) == 0) {
			/* peel(ANY) goes one step; follow nested tags to the end. */
			while (git_object_type(peeled) == GIT_OBJECT_TAG) {
				git_object *next = NULL;

				if (git_object_peel(&next, peeled, GIT_OBJECT_ANY) < 0)
					break;
				git_object_free(peeled);
				peeled = next;
			}
			git_oid_cpy(&v[*n].peeled, git_object_id(peeled));
			v[*n].has_peeled = 1;
		}
		git_object_free(peeled);
		git_object_free(obj);
		git_reference_free(ref);
		if (!v[*n].name) {
			rc = -1;
			bb_errno(e, ENOMEM, "listing refs");
			break;
		}
		(*n)++;
	}
	git_reference_iterator_free(it);
	if (rc != GIT_ITEROVER) {
		gitgate_refs_free(v, *n);
		*n = 0;
		if (rc != -1)
			gitssh_git_error(e, rc, NULL, "listing refs");
		return -1;
	}
	if (*n)
		qsort(v, *n, sizeof *v, adv_cmp);
	*out = v;
	return 0;
}

int gitgate_advertise(struct gitgate_session *s, enum gitgate_service service, struct bb_err *e)
{
	struct gitgate_ref *v = NULL;
	size_t n = 0, i;
	char caps[1024], hex[GITGATE_OID_HEX + 1];
	git_reference *head = NULL;
	git_oid head_oid;
	int have_head = 0, first = 1, rc = -1;
	const char *agent = s->srv->agent ? s->srv->agent : "bb";

	if (gitgate_refs_list(s->mirror, &v, &n, e) < 0)
		return -1;
	if (service == GITGATE_UPLOAD_PACK) {
		char symref[320] = "";

		if (git_reference_lookup(&head, s->mirror, "HEAD") == 0 && git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
		    git_reference_name_to_id(&head_oid, s->mirror, "HEAD") == 0) {
			have_head = 1;
			snprintf(symref, sizeof symref, " symref=HEAD:%s", git_reference_symbolic_target(head));
		}
		snprintf(caps, sizeof caps,
			 "multi_ack_detailed multi_ack thin-pack side-band-64k side-band ofs-delta shallow deepen-since "
			 "deepen-not deepen-relative no-progress include-tag allow-tip-sha1-in-want "
			 "allow-reachable-sha1-in-want filter%s object-format=sha1 agent=%s",
			 symref, agent);
	} else {
		/* push-options: forwarded with the client's own pack; a pack rebuilt by libgit2 < 1.8 cannot carry them. */
		snprintf(caps, sizeof caps, "report-status delete-refs side-band-64k quiet ofs-delta push-options object-format=sha1 agent=%s",
			 agent);
	}
	if (have_head) {
		git_oid_tostr(hex, sizeof hex, &head_oid);
		if (gitgate_io_pktf(s->io, e, "%s HEAD%c%s\n", hex, 0, caps) < 0)
			goto out;
		first = 0;
	}
	for (i = 0; i < n; i++) {
		git_oid_tostr(hex, sizeof hex, &v[i].oid);
		if (first) {
			if (gitgate_io_pktf(s->io, e, "%s %s%c%s\n", hex, v[i].name, 0, caps) < 0)
				goto out;
			first = 0;
		} else if (gitgate_io_pktf(s->io, e, "%s %s\n", hex, v[i].name) < 0) {
			goto out;
		}
		if (v[i].has_peeled) {
			git_oid_tostr(hex, sizeof hex, &v[i].peeled);
			if (gitgate_io_pktf(s->io, e, "%s %s^{}\n", hex, v[i].name) < 0)
				goto out;
		}
	}
	/* An empty repository still says what it can do. */
	if (first && gitgate_io_pktf(s->io, e, "%s capabilities^{}%c%s\n", GITGATE_ZERO_OID, 0, caps) < 0)
		goto out;
	if (gitgate_io_flush_pkt(s->io, e) < 0 || gitgate_io_flush(s->io, e) < 0)
		goto out;
	rc = 0;
out:
	gitgate_refs_free(v, n);
	git_reference_free(head);
	return rc;
}

int gitgate_serve_daemon(const struct gitgate_server *srv, int fd, struct bb_err *e)
{
	struct gitgate_io io;
	struct gitgate_session s;
	struct gitgate_request req;
	const struct gitgate_repo *repo;
	struct pkt p;
	int rc;

	gitgate_io_init(&io, fd, fd, srv->timeout_ms);
	gitgate_session_init(&s, srv, NULL, &io, 0);
	rc = gitgate_io_read_pkt(&io, &p, e);
	if (rc == 0) {
		/* A port probe: connected and left without a word. */
		gitgate_io_free(&io);
		return 0;
	}
	if (rc < 0)
		goto fail;
	if (p.kind != PKT_DATA || gitgate_request_parse(sv_of(p.data, p.len), &req, e) < 0) {
		if (p.kind != PKT_DATA)
			bb_errf(e, BB_EINVAL, "the client's request was not a data packet");
		gitgate_send_err(&io, e->msg, NULL);
		goto fail;
	}
	repo = gitgate_policy_find(srv->policy, req.path);
	if (!repo) {
		char msg[300];

		snprintf(msg, sizeof msg, "no repository '%.*s' here (this gate serves the bottle's git-gate.repos)",
			 (int)(req.path.len > 200 ? 200 : req.path.len), req.path.p);
		bb_errf(e, BB_EINVAL, "%s", msg);
		gitgate_send_err(&io, msg, NULL);
		goto fail;
	}
	s.repo = repo;
	gitgate_log(&s, "request", "service", gitgate_service_name(req.service), (char *)NULL);
	if (gitgate_session_mirror(&s, 1, e) < 0) {
		gitgate_send_err(&io, e->msg, NULL);
		goto fail;
	}
	if (req.service == GITGATE_UPLOAD_PACK && req.version == 2) {
		/* Protocol v2 (what git 2.26 and later ask for): capabilities, then ls-refs and fetch commands. */
		if (gitgate_v2_advertise(&s, e) < 0)
			goto fail;
		rc = gitgate_serve_v2(&s, e);
	} else {
		/* v0 (v1 is v0 to the client; push has no v2). */
		if (gitgate_advertise(&s, req.service, e) < 0)
			goto fail;
		rc = req.service == GITGATE_UPLOAD_PACK ? gitgate_upload_pack(&s, e) : gitgate_receive_pack(&s, e);
	}
	gitgate_io_flush(&io, NULL);
	gitgate_session_close(&s);
	gitgate_io_free(&io);
	return rc;
fail:
	gitgate_session_close(&s);
	gitgate_io_free(&io);
	return -1;
}
