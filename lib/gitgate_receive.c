/* gitgate_receive.c - receive-pack on libgit2: commands, push options, the pack into a quarantine, scan, forward upstream, report-status. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fd.h"
#include "gitgate_int.h"
#include "gitgate_pack.h"
#include "gitgate_scan.h"

#define COMMANDS_MAX 1000
#define PUSH_OPTIONS_MAX 100
#define PUSH_OPTION_LEN_MAX 1024
#define REF_MAX 1024

struct cmd {
	char ref[REF_MAX];
	char shown[REF_MAX];     /* ref as logs and messages show it: a secret in the name redacted (once scanned) */
	char old_hex[GITGATE_OID_HEX + 1], new_hex[GITGATE_OID_HEX + 1];
	git_oid old_id, new_id;
	int create, del;
	int rejected;            /* by the gate (or upstream): reason in why */
	int forwarded;           /* sent upstream */
	int accepted;            /* upstream took it */
	int secret;              /* rejected for findings */
	char src[40];            /* the quarantine's ref naming new, pushed upstream */
	char why[BB_ERR_MSG_MAX];
};

struct push {
	struct cmd *cmds;
	size_t ncmds;
	char **options;
	size_t noptions;
	int report_status, quiet;
	/*
	 * The quarantine: a private bare repository beside the mirror that
	 * holds the pushed pack and sees the mirror's objects as an alternate.
	 * Its refs are its own (the upstream push needs refs to push from).
	 */
	char qdir[PATH_MAX];
	int have_qdir;
	git_repository *staged;
	char pack_name[128];     /* "" when the pack had no object */
	char unpack_err[BB_ERR_MSG_MAX]; /* "" when the pack was fine */
	uint64_t pack_bytes;
	uint32_t pack_objects;
	int raw_fd;              /* the pack as the client sent it, to forward as it is; -1 when not kept */
};

static void reject(struct cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void reject(struct cmd *c, const char *fmt, ...)
{
	va_list ap;

	if (c->rejected)
		return;
	c->rejected = 1;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof c->why, fmt, ap);
	va_end(ap);
}

/* Remove the quarantine directory and what is in it (no symlink is followed). */
static void remove_tree(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[PATH_MAX];

	if (d) {
		while ((de = readdir(d)) != NULL) {
			struct stat st;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= sizeof path)
				continue;
			if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && depth > 0)
				remove_tree(path, depth - 1);
			else
				unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

static int read_commands(struct gitgate_session *s, struct push *p, struct bb_err *e)
{
	struct pkt pk;
	size_t cap = 0;
	int rc;

	for (;;) {
		struct gitgate_command c;
		struct cmd *nc;

		rc = gitgate_io_read_pkt(s->io, &pk, e);
		if (rc < 0)
			return -1;
		if (rc == 0 || pk.kind == PKT_FLUSH)
			return 0;
		if (pk.kind != PKT_DATA || gitgate_command_parse(sv_of(pk.data, pk.len), &c, e) < 0) {
			if (pk.kind != PKT_DATA)
				bb_errf(e, BB_EINVAL, "receive-pack: unexpected packet among the commands");
			return -1;
		}
		if (p->ncmds == 0) {
			p->report_status = gitgate_caps_has(c.caps, "report-status");
			p->quiet = gitgate_caps_has(c.caps, "quiet");
			if (gitgate_caps_has(c.caps, "side-band-64k"))
				s->io->sideband = 2;
			if (gitgate_caps_has(c.caps, "push-options"))
				p->noptions = (size_t)-1; /* options follow the commands */
		}
		if (p->ncmds == COMMANDS_MAX)
			return bb_errf(e, BB_ETOOBIG, "more than %d ref updates in one push", COMMANDS_MAX);
		if (p->ncmds == cap) {
			size_t ncap = cap ? cap * 2 : 8;

			nc = realloc(p->cmds, ncap * sizeof *nc);
			if (!nc)
				return bb_errno(e, ENOMEM, "push commands");
			p->cmds = nc;
			cap = ncap;
		}
		nc = &p->cmds[p->ncmds];
		memset(nc, 0, sizeof *nc);
		if (sv_copy(c.ref, nc->ref, sizeof nc->ref) < 0)
			return bb_errf(e, BB_ETOOBIG, "ref name longer than %d bytes", REF_MAX - 1);
		snprintf(nc->shown, sizeof nc->shown, "[a ref not scanned yet]");
		memcpy(nc->old_hex, c.old_oid, sizeof nc->old_hex);
		memcpy(nc->new_hex, c.new_oid, sizeof nc->new_hex);
		git_oid_fromstr(&nc->old_id, c.old_oid);
		git_oid_fromstr(&nc->new_id, c.new_oid);
		nc->create = gitgate_oid_is_zero(c.old_oid);
		nc->del = gitgate_oid_is_zero(c.new_oid);
		p->ncmds++;
	}
}

static int read_push_options(struct gitgate_session *s, struct push *p, struct bb_err *e)
{
	struct pkt pk;
	size_t cap = 0;
	int rc;

	p->noptions = 0;
	for (;;) {
		struct sv t;
		char **no;

		rc = gitgate_io_read_pkt(s->io, &pk, e);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return bb_errf(e, BB_EINVAL, "input ended inside the push options");
		if (pk.kind == PKT_FLUSH)
			return 0;
		t = pkt_text(&pk);
		if (t.len > PUSH_OPTION_LEN_MAX || memchr(t.p, '\0', t.len))
			return bb_errf(e, BB_EINVAL, "push option too long or with a NUL byte");
		if (p->noptions == PUSH_OPTIONS_MAX)
			return bb_errf(e, BB_ETOOBIG, "more than %d push options", PUSH_OPTIONS_MAX);
		if (p->noptions == cap) {
			cap = cap ? cap * 2 : 8;
			no = realloc(p->options, cap * sizeof *no);
			if (!no)
				return bb_errno(e, ENOMEM, "push options");
			p->options = no;
		}
		p->options[p->noptions] = strndup(t.p, t.len);
		if (!p->options[p->noptions])
			return bb_errno(e, ENOMEM, "push options");
		p->noptions++;
	}
}

/* Make the quarantine repository; the mirror's objects are its alternate (in memory only). */
static int make_quarantine(struct gitgate_session *s, struct push *p, struct bb_err *e)
{
	char objects[PATH_MAX + 16];
	git_odb *odb = NULL;
	int n, rc;

	n = snprintf(p->qdir, sizeof p->qdir, "%s/%s.incoming-XXXXXX", s->srv->mirrors_dir, s->repo->name);
	if (n < 0 || (size_t)n >= sizeof p->qdir)
		return bb_errf(e, BB_ETOOBIG, "quarantine path too long");
	if (!mkdtemp(p->qdir))
		return bb_errno(e, errno, "making the quarantine %s", p->qdir);
	p->have_qdir = 1;
	rc = git_repository_init(&p->staged, p->qdir, 1);
	if (rc == 0)
		rc = git_repository_odb(&odb, p->staged);
	if (rc == 0) {
		snprintf(objects, sizeof objects, "%s/objects", s->mirror_path);
		rc = git_odb_add_disk_alternate(odb, objects);
	}
	git_odb_free(odb);
	if (rc < 0)
		return gitssh_git_error(e, rc, NULL, "making the quarantine");
	return 0;
}

/*
 * Read the pack into the quarantine through the indexer. A pack that is
 * malformed, too big or cut short sets unpack_err (the client is told);
 * -1 only when the connection itself failed.
 */
static int receive_pack_data(struct gitgate_session *s, struct push *p, struct bb_err *e)
{
	struct gitgate_pack pk;
	git_indexer *idx = NULL;
	git_indexer_options iopts;
	git_indexer_progress stats;
	git_odb *odb = NULL;
	char packdir[PATH_MAX + 16];
	unsigned char *chunk = NULL;
	int rc, done = 0, ret = -1, idle = s->io->timeout_ms;

	snprintf(packdir, sizeof packdir, "%s/objects/pack", p->qdir);
	{
		char raw[PATH_MAX + 16];

		snprintf(raw, sizeof raw, "%s/incoming.pack", p->qdir);
		p->raw_fd = open(raw, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	}
	/* A big push is counted and compressed by the client before its first pack byte. */
	if (s->srv->pack_timeout_ms > idle)
		s->io->timeout_ms = s->srv->pack_timeout_ms;
	if (gitgate_pack_init(&pk, e) < 0)
		return -1;
	chunk = malloc(65536);
	if (!chunk) {
		bb_errno(e, ENOMEM, "pack buffer");
		goto out;
	}
	rc = git_repository_odb(&odb, s->mirror);
	if (rc == 0)
		rc = git_indexer_options_init(&iopts, GIT_INDEXER_OPTIONS_VERSION);
	/* The mirror's objects complete a thin pack (the client sends one unless told not to). */
	if (rc == 0)
		rc = git_indexer_new(&idx, packdir, 0, odb, &iopts);
	if (rc < 0) {
		gitssh_git_error(e, rc, NULL, "starting the indexer");
		goto out;
	}
	while (!done) {
		ssize_t got = gitgate_io_read_raw(s->io, chunk, 65536, e);
		size_t used;

		if (got < 0)
			goto out;
		if (got == 0) {
			snprintf(p->unpack_err, sizeof p->unpack_err, "the pack ended early (after %llu bytes)",
				 (unsigned long long)p->pack_bytes);
			ret = 0;
			goto out;
		}
		rc = gitgate_pack_feed(&pk, chunk, (size_t)got, &used, e);
		if (rc < 0) {
			snprintf(p->unpack_err, sizeof p->unpack_err, "%s", e->msg);
			ret = 0;
			goto out;
		}
		p->pack_bytes += used;
		if (s->srv->max_pack_bytes && p->pack_bytes > s->srv->max_pack_bytes) {
			snprintf(p->unpack_err, sizeof p->unpack_err, "the pack is larger than this gate's limit of %llu bytes",
				 (unsigned long long)s->srv->max_pack_bytes);
			ret = 0;
			goto out;
		}
		/* Kept as sent, so a clean push can go upstream without a second delta search. */
		if (used && p->raw_fd >= 0 && fd_write_all(p->raw_fd, chunk, used) < 0)
			p->raw_fd = fd_close(p->raw_fd);
		if (used && git_indexer_append(idx, chunk, used, &stats) < 0) {
			const git_error *ge = git_error_last();

			snprintf(p->unpack_err, sizeof p->unpack_err, "index-pack: %s", ge && ge->message ? ge->message : "failed");
			ret = 0;
			goto out;
		}
		if (rc == 1) {
			done = 1;
			if (used != (size_t)got) {
				snprintf(p->unpack_err, sizeof p->unpack_err, "unexpected data after the pack");
				ret = 0;
				goto out;
			}
		}
	}
	p->pack_objects = gitgate_pack_objects(&pk);
	if (p->pack_objects > 0) {
		if (git_indexer_commit(idx, &stats) < 0) {
			const git_error *ge = git_error_last();

			snprintf(p->unpack_err, sizeof p->unpack_err, "index-pack: %s", ge && ge->message ? ge->message : "failed");
			ret = 0;
			goto out;
		}
		snprintf(p->pack_name, sizeof p->pack_name, "%s", git_indexer_name(idx));
	}
	ret = 0;
out:
	s->io->timeout_ms = idle;
	git_indexer_free(idx);
	git_odb_free(odb);
	gitgate_pack_free(&pk);
	free(chunk);
	return ret;
}

/* Move the quarantined pack into the mirror (the .pack before the .idx that makes it visible). */
static int adopt_pack(struct gitgate_session *s, struct push *p, struct bb_err *e)
{
	static const char *const exts[] = { ".pack", ".rev", ".idx" };
	char from[PATH_MAX + 300], to[PATH_MAX + 300];
	git_odb *odb = NULL;
	size_t i;

	if (!p->pack_name[0])
		return 0;
	for (i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		snprintf(from, sizeof from, "%s/objects/pack/pack-%s%s", p->qdir, p->pack_name, exts[i]);
		snprintf(to, sizeof to, "%s/objects/pack/pack-%s%s", s->mirror_path, p->pack_name, exts[i]);
		if (rename(from, to) < 0 && !(errno == ENOENT && i == 1))
			return bb_errno(e, errno, "moving the pushed pack into the mirror");
	}
	p->pack_name[0] = 0;
	if (git_repository_odb(&odb, s->mirror) == 0) {
		git_odb_refresh(odb);
		git_odb_free(odb);
	}
	return 0;
}

/* The gate's own checks of one command, before any scan. */
static void check_command(struct gitgate_session *s, git_repository *staged, struct cmd *c)
{
	git_oid cur;
	int valid = 0, exists;

	if (git_reference_name_is_valid(&valid, c->ref) < 0 || !valid) {
		reject(c, "funny refname");
		return;
	}
	exists = git_reference_name_to_id(&cur, s->mirror, c->ref) == 0;
	if (c->create ? exists : (!exists || !git_oid_equal(&cur, &c->old_id))) {
		reject(c, "stale info (the gate's copy of this ref moved; fetch first)");
		return;
	}
	if (c->del)
		return;
	{
		git_object *obj = NULL, *peeled = NULL;

		if (git_object_lookup(&obj, staged, &c->new_id, GIT_OBJECT_ANY) < 0) {
			reject(c, "missing objects (%.12s is not in the pack or the gate)", c->new_hex);
			return;
		}
		if (!strncmp(c->ref, "refs/heads/", 11) &&
		    (git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT) < 0 || git_object_type(obj) != GIT_OBJECT_COMMIT))
			reject(c, "a branch must point at a commit");
		git_object_free(peeled);
		git_object_free(obj);
	}
}

/* Whether an update is a fast-forward: new descends from old (both peeled to commits). */
static int is_fast_forward(git_repository *repo, const struct cmd *c)
{
	git_object *o = NULL, *n = NULL, *op = NULL, *np = NULL;
	int ff = 0;

	if (git_object_lookup(&o, repo, &c->old_id, GIT_OBJECT_ANY) == 0 &&
	    git_object_lookup(&n, repo, &c->new_id, GIT_OBJECT_ANY) == 0 &&
	    git_object_peel(&op, o, GIT_OBJECT_COMMIT) == 0 && git_object_peel(&np, n, GIT_OBJECT_COMMIT) == 0 &&
	    git_object_type(o) == GIT_OBJECT_COMMIT && git_object_type(n) == GIT_OBJECT_COMMIT)
		ff = git_oid_equal(git_object_id(op), git_object_id(np)) ||
		     git_graph_descendant_of(repo, git_object_id(np), git_object_id(op)) == 1;
	git_object_free(op);
	git_object_free(np);
	git_object_free(o);
	git_object_free(n);
	return ff;
}

/* Tell the client what was found for `what` (a ref as it may be shown, or "a push option"). */
static void say_findings(struct gitgate_session *s, const char *what, const struct gitgate_scan *sc)
{
	size_t i;

	gitgate_io_say(s->io, NULL, "error: %s: %zu%s secret%s found in what this push adds; nothing was sent upstream:",
		       what, sc->nfindings, sc->truncated ? " (or more)" : "", sc->nfindings == 1 ? "" : "s");
	for (i = 0; i < sc->nfindings; i++) {
		const struct gitgate_finding *f = &sc->findings[i];

		gitgate_io_say(s->io, NULL, "error:   %.12s %s:%u %s: %s", f->object, f->path, f->line, f->rule,
			       f->excerpt);
	}
	gitgate_io_say(s->io, NULL,
		       "error: remove the secret from those commits (amend or rebase them) and push again; a false "
		       "positive can be allowlisted by the operator");
}

static void log_findings(struct gitgate_session *s, const char *what, const struct gitgate_scan *sc)
{
	size_t i;

	for (i = 0; i < sc->nfindings; i++) {
		const struct gitgate_finding *f = &sc->findings[i];
		char line[16];

		snprintf(line, sizeof line, "%u", f->line);
		gitgate_log(s, "secret-found", "ref", what, "commit", f->object, "path", f->path, "line", line, "rule",
			    f->rule, "excerpt", f->excerpt, (char *)NULL);
	}
}

/* Scan every command that is still in the running; rejects those with findings. */
static int scan_commands(struct gitgate_session *s, git_repository *staged, struct push *p, struct bb_err *e)
{
	struct gitgate_scan sc;
	struct timespec t0, t1;
	size_t i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (gitgate_scan_init(&sc, staged, s->mirror, s->repo->scan, e) < 0)
		return -1;
	/* The names first, every one: the client chose them, upstream keeps them, and the logs show them. */
	for (i = 0; i < p->ncmds; i++) {
		struct cmd *c = &p->cmds[i];
		struct bb_err se = { 0 };
		int n = gitgate_scan_name(&sc, "ref name", c->ref, c->shown, sizeof c->shown, &se);

		if (n < 0) {
			reject(c, "could not be scanned: %s", se.msg);
		} else if (n > 0) {
			reject(c, "secret found");
			c->secret = 1;
			say_findings(s, c->shown, &sc);
			log_findings(s, c->shown, &sc);
		}
	}
	for (i = 0; i < p->noptions && p->noptions != (size_t)-1; i++) {
		struct bb_err se = { 0 };
		char shown[REF_MAX];
		int n = gitgate_scan_name(&sc, "push option", p->options[i], shown, sizeof shown, &se);
		size_t k;

		if (n == 0)
			continue;
		if (n > 0) {
			say_findings(s, "a push option", &sc);
			log_findings(s, "(push option)", &sc);
		}
		for (k = 0; k < p->ncmds; k++)
			if (!p->cmds[k].rejected) {
				if (n > 0)
					reject(&p->cmds[k], "secret found in a push option");
				else
					reject(&p->cmds[k], "a push option could not be scanned: %s", se.msg);
				p->cmds[k].secret = n > 0;
			}
	}
	for (i = 0; i < p->ncmds; i++) {
		struct cmd *c = &p->cmds[i];
		struct bb_err se = { 0 };

		if (c->rejected || c->del)
			continue;
		if (gitgate_scan_ref(&sc, c->ref, c->create ? NULL : &c->old_id, &c->new_id, &se) < 0) {
			reject(c, "could not be scanned: %s", se.msg);
			continue;
		}
		if (sc.nfindings) {
			reject(c, "secret found");
			c->secret = 1;
			say_findings(s, c->shown, &sc);
			log_findings(s, c->shown, &sc);
		}
	}
	{
		char commits[24], lines[24], bytes[24], ms[24];

		clock_gettime(CLOCK_MONOTONIC, &t1);
		snprintf(commits, sizeof commits, "%zu", sc.stats.commits);
		snprintf(lines, sizeof lines, "%zu", sc.stats.lines);
		snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)sc.stats.bytes);
		snprintf(ms, sizeof ms, "%lld",
			 (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
		gitgate_log(s, "push-scanned", "commits", commits, "added_lines", lines, "added_bytes", bytes, "ms", ms,
			    (char *)NULL);
	}
	gitgate_scan_free(&sc);
	return 0;
}

/* Upstream's own messages (its hooks', its errors), passed on to the client marked as upstream's. */
static void relay_upstream(void *arg, const char *text, size_t n)
{
	struct gitgate_session *s = arg;

	while (n) {
		const char *nl = memchr(text, '\n', n);
		size_t k = nl ? (size_t)(nl - text) + 1 : n;
		size_t shown = k - (nl ? 1 : 0);

		if (shown && !(shown == 1 && text[0] == '\r'))
			gitgate_io_say(s->io, NULL, "upstream: %.*s", (int)shown, text);
		text += k;
		n -= k;
	}
}

/*
 * The client's pack, forwarded as it is: only when every ref passed and the
 * pack holds nothing else than what those refs reach (or the gate already
 * has). 1 when upstream answered (refs[] say what it did), 0 to rebuild the
 * pack with libgit2 instead.
 */
static int forward_raw(struct gitgate_session *s, git_repository *staged, struct push *p,
		       struct gitssh_push_ref *refs, size_t n)
{
	struct gitssh_auth auth;
	struct bb_err e = { 0 };
	git_odb *qodb = NULL;
	git_oid *tips = NULL;
	char objects[PATH_MAX + 16];
	size_t i, ntips = 0;
	int covered = 0, rc;

	for (i = 0; i < p->ncmds; i++)
		if (p->cmds[i].rejected)
			return 0;
	if (p->pack_objects && p->raw_fd < 0)
		return 0;
	tips = calloc(p->ncmds ? p->ncmds : 1, sizeof *tips);
	if (!tips)
		return 0;
	for (i = 0; i < p->ncmds; i++)
		if (!p->cmds[i].del)
			git_oid_cpy(&tips[ntips++], &p->cmds[i].new_id);
	snprintf(objects, sizeof objects, "%s/objects", p->qdir);
	rc = git_odb_open(&qodb, objects);
	if (rc == 0)
		rc = gitgate_pack_covered(staged, s->mirror, qodb, tips, ntips, &covered, &e);
	git_odb_free(qodb);
	free(tips);
	if (rc < 0 || !covered) {
		gitgate_log(s, "push-pack-rebuilt", "reason", rc < 0 ? e.msg : "the pack holds objects no accepted ref reaches",
			    (char *)NULL);
		return 0;
	}
	if (p->raw_fd >= 0 && lseek(p->raw_fd, 0, SEEK_SET) < 0)
		return 0;
	gitgate_repo_auth(s->repo, &auth);
	rc = gitssh_push_pack(s->repo->url, &auth, &s->srv->upstream, refs, n, (const char *const *)p->options,
			      p->noptions, p->raw_fd, relay_upstream, s, &e);
	if (rc < 0 && e.code == BB_ENOTIMPL) {
		gitgate_log(s, "push-pack-rebuilt", "reason", e.msg, (char *)NULL);
		return 0;
	}
	if (rc < 0)
		gitgate_log(s, "upstream-push-failed", "error", e.msg, (char *)NULL);
	return 1;
}

/* Forward the commands still in the running upstream; marks what upstream accepted. */
static void forward(struct gitgate_session *s, git_repository *staged, struct push *p)
{
	struct gitssh_push_ref *refs;
	struct gitssh_auth auth;
	struct bb_err e = { 0 };
	struct timespec t0, t1;
	const char *how = "raw";
	char ms[24];
	size_t i, n = 0;
	int rc = 0;

	refs = calloc(p->ncmds ? p->ncmds : 1, sizeof *refs);
	if (!refs) {
		for (i = 0; i < p->ncmds; i++)
			reject(&p->cmds[i], "out of memory");
		return;
	}
	for (i = 0; i < p->ncmds; i++) {
		struct cmd *c = &p->cmds[i];

		if (c->rejected)
			continue;
		refs[n].dst = c->ref;
		refs[n].new_hex = c->del ? NULL : c->new_hex;
		if (!c->del) {
			git_reference *tmp = NULL;

			snprintf(c->src, sizeof c->src, "refs/bb-push/%zu", i);
			if (git_reference_create(&tmp, staged, c->src, &c->new_id, 1, NULL) < 0) {
				reject(c, "could not stage the ref for upstream");
				continue;
			}
			git_reference_free(tmp);
			refs[n].src = c->src;
		}
		/* A lease: upstream must still be where the gate's copy (just checked equal to old) is. */
		refs[n].expect_old = c->old_hex;
		refs[n].force = !c->create && !c->del && !is_fast_forward(staged, c);
		c->forwarded = 1;
		n++;
	}
	if (n == 0) {
		free(refs);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!forward_raw(s, staged, p, refs, n)) {
		how = "rebuilt";
		gitgate_repo_auth(s->repo, &auth);
		rc = gitssh_push(staged, s->repo->url, &auth, &s->srv->upstream, refs, n, (const char *const *)p->options,
				 p->noptions, &e);
		if (rc < 0)
			gitgate_log(s, "upstream-push-failed", "error", e.msg, (char *)NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(ms, sizeof ms, "%lld", (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	gitgate_log(s, "upstream-push", "pack", how, "ms", ms, (char *)NULL);
	for (i = 0, n = 0; i < p->ncmds; i++) {
		struct cmd *c = &p->cmds[i];

		if (!c->forwarded)
			continue;
		if (refs[n].ok)
			c->accepted = 1;
		else
			reject(c, "upstream: %s", refs[n].status);
		n++;
	}
	free(refs);
}

/* Bring the mirror's refs to what upstream accepted. */
static void update_mirror(struct gitgate_session *s, struct push *p)
{
	struct bb_err e = { 0 };
	size_t i;
	int any_new = 0;

	for (i = 0; i < p->ncmds; i++)
		if (p->cmds[i].accepted && !p->cmds[i].del)
			any_new = 1;
	if (any_new && adopt_pack(s, p, &e) < 0) {
		gitgate_log(s, "mirror-update-failed", "error", e.msg, (char *)NULL);
		return;
	}
	for (i = 0; i < p->ncmds; i++) {
		struct cmd *c = &p->cmds[i];
		git_reference *ref = NULL;
		int rc;

		if (!c->accepted)
			continue;
		if (c->del)
			rc = git_reference_remove(s->mirror, c->ref);
		else
			rc = git_reference_create(&ref, s->mirror, c->ref, &c->new_id, 1, "bb git-gate: push accepted upstream");
		git_reference_free(ref);
		if (rc < 0 && !(c->del && rc == GIT_ENOTFOUND)) {
			/* Upstream has it; the next refresh brings the mirror there anyway. */
			gitssh_git_error(&e, rc, NULL, c->ref);
			gitgate_log(s, "mirror-update-failed", "error", e.msg, (char *)NULL);
		}
	}
}

static int send_report(struct gitgate_session *s, struct push *p, struct bb_err *e)
{
	struct buf r = BUF_INIT(4 * 1024 * 1024);
	size_t i;
	int rc = -1;

	if (!p->report_status)
		return gitgate_io_flush(s->io, e);
	if (p->unpack_err[0])
		rc = pkt_appendf(&r, e, "unpack %s\n", p->unpack_err);
	else
		rc = pkt_appendf(&r, e, "unpack ok\n");
	for (i = 0; rc == 0 && i < p->ncmds; i++) {
		const struct cmd *c = &p->cmds[i];

		if (c->accepted)
			rc = pkt_appendf(&r, e, "ok %s\n", c->ref);
		else
			rc = pkt_appendf(&r, e, "ng %s %s\n", c->ref, c->rejected ? c->why : "not forwarded");
	}
	if (rc == 0)
		rc = pkt_append_special(&r, PKT_FLUSH, e);
	if (rc == 0) {
		if (s->io->sideband) {
			rc = gitgate_io_band(s->io, PKT_BAND_DATA, r.p, r.len, e);
			if (rc == 0)
				rc = gitgate_io_flush_pkt(s->io, e);
		} else {
			rc = gitgate_io_write(s->io, r.p, r.len, e);
		}
	}
	if (rc == 0)
		rc = gitgate_io_flush(s->io, e);
	buf_free(&r);
	return rc;
}

static void log_results(struct gitgate_session *s, const struct push *p)
{
	size_t i;

	for (i = 0; i < p->ncmds; i++) {
		const struct cmd *c = &p->cmds[i];
		const char *kind = c->del ? "delete" : c->create ? "create" : "update";

		gitgate_log(s, c->accepted ? "push-accepted" : "push-rejected", "ref", c->shown, "change", kind, "old",
			    c->old_hex, "new", c->new_hex, "reason", c->accepted ? "" : c->why, (char *)NULL);
	}
}

int gitgate_receive_pack(struct gitgate_session *s, struct bb_err *e)
{
	struct push p;
	git_repository *staged = NULL;
	struct timespec t0;
	size_t i;
	int need_pack = 0, ret = -1;

	memset(&p, 0, sizeof p);
	p.raw_fd = -1;
	if (read_commands(s, &p, e) < 0) {
		gitgate_fail(s, e->msg, e);
		goto out;
	}
	if (p.ncmds == 0) {
		ret = 0; /* nothing to push: the client only looked */
		goto out;
	}
	if (p.noptions == (size_t)-1 && read_push_options(s, &p, e) < 0) {
		gitgate_fail(s, e->msg, e);
		goto out;
	}
	for (i = 0; i < p.ncmds; i++)
		if (!p.cmds[i].del)
			need_pack = 1;
	if (make_quarantine(s, &p, e) < 0) {
		gitgate_fail(s, e->msg, e);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (need_pack && receive_pack_data(s, &p, e) < 0)
		goto out;
	if (need_pack) {
		char bytes[24], objs[24], ms[24];
		struct timespec t1;

		clock_gettime(CLOCK_MONOTONIC, &t1);
		snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)p.pack_bytes);
		snprintf(objs, sizeof objs, "%u", p.pack_objects);
		snprintf(ms, sizeof ms, "%lld",
			 (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
		gitgate_log(s, "push-received", "bytes", bytes, "objects", objs, "ms", ms, (char *)NULL);
	}
	if (p.unpack_err[0]) {
		for (i = 0; i < p.ncmds; i++)
			reject(&p.cmds[i], "unpacker error");
		gitgate_log(s, "push-unpack-failed", "error", p.unpack_err, (char *)NULL);
		ret = send_report(s, &p, e);
		goto out;
	}
	staged = p.staged;
	if (p.pack_name[0]) {
		git_odb *odb = NULL;

		/* The indexer wrote the pack after the quarantine's odb was opened. */
		if (git_repository_odb(&odb, staged) == 0) {
			git_odb_refresh(odb);
			git_odb_free(odb);
		}
	}
	if (gitgate_lock(s, e) < 0) {
		gitgate_fail(s, e->msg, e);
		goto out;
	}
	for (i = 0; i < p.ncmds; i++)
		check_command(s, staged, &p.cmds[i]);
	if (scan_commands(s, staged, &p, e) < 0) {
		gitgate_fail(s, e->msg, e);
		goto out;
	}
	forward(s, staged, &p);
	update_mirror(s, &p);
	gitgate_unlock(s);
	log_results(s, &p);
	ret = send_report(s, &p, e);
out:
	gitgate_unlock(s);
	fd_close(p.raw_fd);
	git_repository_free(p.staged);
	if (p.have_qdir)
		remove_tree(p.qdir, 8);
	for (i = 0; i < p.noptions && p.noptions != (size_t)-1; i++)
		free(p.options[i]);
	free(p.options);
	free(p.cmds);
	return ret;
}
