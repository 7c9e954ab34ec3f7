/* gitgate_scan.c - the push scan: the commits a ref update brings to the gate, the lines they add, through the shared rule engine. */
#include "gitgate_scan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "gitssh.h"

#define LINEMAP_MAX (64u * 1024 * 1024) /* lines of one file tracked for line numbers */

int gitgate_scan_init(struct gitgate_scan *s, git_repository *repo, git_repository *mirror,
		      const struct scan_engine *eng, struct bb_err *e)
{
	int rc;

	memset(s, 0, sizeof *s);
	s->repo = repo;
	s->mirror = mirror;
	s->eng = eng;
	rc = git_repository_odb(&s->known, mirror);
	if (rc < 0)
		return gitssh_git_error(e, rc, NULL, "the mirror's objects");
	rc = git_repository_odb(&s->odb, repo);
	if (rc < 0) {
		gitssh_git_error(e, rc, NULL, "the pushed objects");
		gitgate_scan_free(s);
		return -1;
	}
	if (scan_stream_new(&s->st, eng, SCAN_TOKEN_PATTERNS | SCAN_KNOWN_SECRETS | SCAN_DECODE, e) < 0) {
		gitgate_scan_free(s);
		return -1;
	}
	return 0;
}

void gitgate_scan_free(struct gitgate_scan *s)
{
	git_odb_free(s->known);
	git_odb_free(s->odb);
	s->known = NULL;
	s->odb = NULL;
	scan_stream_free(s->st);
	free(s->clean);
	free(s->linemap);
	s->st = NULL;
	s->clean = NULL;
	s->linemap = NULL;
}

static int on_finding(const struct scan_finding *f, void *arg)
{
	struct gitgate_scan *s = arg;
	struct gitgate_finding *g;

	if (s->nfindings == GITGATE_FINDINGS_MAX) {
		s->truncated = 1;
		return 1;
	}
	if (s->collect_spans && s->nspans < GITGATE_SPANS_MAX) {
		s->spans[s->nspans].off = f->offset;
		s->spans[s->nspans++].len = f->length;
	}
	g = &s->findings[s->nfindings++];
	snprintf(g->object, sizeof g->object, "%s", s->cur_object_hex);
	snprintf(g->path, sizeof g->path, "%s", s->cur_path);
	g->line = s->identity_lines ? f->line : f->line >= 1 && f->line <= s->nlines ? s->linemap[f->line - 1] : f->line;
	snprintf(g->rule, sizeof g->rule, "%s", f->id);
	snprintf(g->excerpt, sizeof g->excerpt, "%s", f->excerpt);
	return 0;
}

/* The scan cannot go on: why, in s->err; stops the scan (gitgate_scan_ref then fails with it). */
__attribute__((format(printf, 2, 3))) static int fail_scan(struct gitgate_scan *s, const char *fmt, ...)
{
	va_list ap;

	if (!s->failed) {
		va_start(ap, fmt);
		vsnprintf(s->err.msg, sizeof s->err.msg, fmt, ap);
		va_end(ap);
		s->err.code = BB_EINVAL;
	}
	s->failed = 1;
	return 1;
}

/* Finish the file being scanned: what the stream held back for context is scanned now; what it could not read fails the scan. */
static int end_file(struct gitgate_scan *s)
{
	int stop = 0;

	if (!s->cur_skip && s->cur_path[0]) {
		stop = scan_end(s->st, on_finding, s);
		if (!stop && scan_stream_incomplete(s->st))
			stop = fail_scan(s, "%s (%.12s): not scanned whole: %s", s->cur_path, s->cur_object_hex,
					 scan_stream_incomplete(s->st));
	}
	scan_stream_reset(s->st);
	s->cur_path[0] = 0;
	s->nlines = 0;
	s->identity_lines = 0;
	return stop;
}

static int scan_text(struct gitgate_scan *s, const char *hex, const char *label, const char *msg, size_t len);

/*
 * Scan a name (a path, a ref's or a tag's) as its own text, findings named
 * label; shown gets it with every secret found replaced by [REDACTED], as
 * it may be logged. 1 when the scan stopped (or failed), 0 done.
 */
static int scan_name(struct gitgate_scan *s, const char *hex, const char *label, const char *name, char *shown,
		     size_t cap)
{
	size_t n = strlen(name), i, o = 0, k, lines = s->stats.lines;
	uint64_t bytes = s->stats.bytes;
	int stop;

	s->collect_spans = 1;
	s->nspans = 0;
	stop = scan_text(s, hex, label, name, n);
	s->collect_spans = 0;
	s->stats.lines = lines; /* the stats count the files' added lines */
	s->stats.bytes = bytes;
	for (i = 0; i < n && o + 1 < cap;) {
		for (k = 0; k < s->nspans; k++)
			if (i >= s->spans[k].off && i < s->spans[k].off + s->spans[k].len)
				break;
		if (k == s->nspans) {
			shown[o++] = name[i++];
			continue;
		}
		o += (size_t)snprintf(shown + o, cap - o, "[REDACTED]");
		if (o >= cap)
			o = cap - 1;
		i = (size_t)(s->spans[k].off + s->spans[k].len);
	}
	if (cap)
		shown[o < cap ? o : cap - 1] = 0;
	return stop;
}

static int begin_file(struct gitgate_scan *s, const char *path)
{
	char shown[GITGATE_PATH_SHOW];

	if (end_file(s))
		return 1;
	if (scan_path_allowed(s->eng, path, strlen(path))) {
		snprintf(s->cur_path, sizeof s->cur_path, "%s", path);
		s->cur_skip = 1;
		return 0;
	}
	/* the path is text the agent chose too: scanned, and shown only redacted */
	if (scan_name(s, s->cur_object_hex, "path", path, shown, sizeof shown))
		return 1;
	snprintf(s->cur_path, sizeof s->cur_path, "%s", shown);
	s->cur_skip = 0;
	s->stats.files++;
	return 0;
}

/* Feed one line (its new line number for the map); nonzero to stop. */
static int feed_line(struct gitgate_scan *s, const char *p, size_t n, uint32_t lineno)
{
	int stop;

	if (s->nlines == s->lines_cap) {
		size_t ncap = s->lines_cap ? s->lines_cap * 2 : 1024;
		uint32_t *nm;

		if (ncap > LINEMAP_MAX)
			ncap = LINEMAP_MAX;
		if (ncap == s->lines_cap) {
			bb_errf(&s->err, BB_ETOOBIG, "%s: more than %u added lines in one file", s->cur_path, LINEMAP_MAX);
			s->failed = 1;
			return 1;
		}
		nm = realloc(s->linemap, ncap * sizeof *nm);
		if (!nm) {
			bb_errno(&s->err, ENOMEM, "line map");
			s->failed = 1;
			return 1;
		}
		s->linemap = nm;
		s->lines_cap = ncap;
	}
	s->linemap[s->nlines++] = lineno;
	s->stats.lines++;
	s->stats.bytes += n;
	stop = scan_feed(s->st, p, n, on_finding, s);
	if (!stop && (n == 0 || p[n - 1] != '\n'))
		stop = scan_feed(s->st, "\n", 1, on_finding, s);
	return stop;
}

/* In a merge, a file taken whole from another parent adds nothing new here. */
static int from_other_parent(git_tree **others, size_t nother, const git_diff_delta *delta)
{
	size_t i;

	for (i = 0; i < nother; i++) {
		git_tree_entry *te = NULL;
		int same;

		if (git_tree_entry_bypath(&te, others[i], delta->new_file.path) < 0)
			continue;
		same = git_oid_equal(git_tree_entry_id(te), &delta->new_file.id);
		git_tree_entry_free(te);
		if (same)
			return 1;
	}
	return 0;
}

static int lib_error(struct bb_err *e, int rc, const char *what)
{
	return gitssh_git_error(e, rc, NULL, what);
}

/* Whether a blob is within what the scan reads (else the scan fails, naming it). 1 when it is too big. */
static int blob_too_big(struct gitgate_scan *s, const git_oid *id)
{
	size_t size = 0;
	git_object_t type;

	if (git_odb_read_header(&size, &type, s->odb, id) < 0 || size <= GITGATE_BLOB_MAX)
		return 0; /* a missing object fails its lookup with the reason */
	return fail_scan(s, "%s (%.12s): %zu bytes, more than the %u MiB the gate scans in one file", s->cur_path,
			 s->cur_object_hex, size, GITGATE_BLOB_MAX >> 20);
}

/*
 * A file scanned whole (added, or binary): its blob is the stream, so
 * stream lines are file lines. A binary blob is scanned as bytes: the
 * rules run on whatever text it holds. 1 when stopped.
 */
static int scan_added_blob(struct gitgate_scan *s, const git_oid *id, struct bb_err *e)
{
	git_blob *blob = NULL;
	const char *p;
	size_t n, i;
	int rc, stop;

	if (blob_too_big(s, id))
		return 1;
	rc = git_blob_lookup(&blob, s->repo, id);
	if (rc < 0)
		return lib_error(e, rc, s->cur_path);
	p = git_blob_rawcontent(blob);
	n = (size_t)git_blob_rawsize(blob);
	for (i = 0; i < n; i++)
		if (p[i] == '\n')
			s->stats.lines++;
	s->stats.bytes += n;
	s->identity_lines = 1;
	stop = scan_feed(s->st, p, n, on_finding, s);
	git_blob_free(blob);
	return stop;
}

/*
 * The lines a modified file adds, from its patch; a binary one is scanned
 * whole. Added lines that are not next to each other in the file are kept
 * apart by an empty line, so no token is joined across a gap. 1 when stopped.
 */
static int scan_patch_additions(struct gitgate_scan *s, git_diff *diff, size_t idx, const git_oid *new_id,
				struct bb_err *e)
{
	git_patch *patch = NULL;
	size_t h, nh;
	int rc, stop = 0, prev = -1;

	if (blob_too_big(s, new_id))
		return 1;
	rc = git_patch_from_diff(&patch, diff, idx);
	if (rc < 0)
		return lib_error(e, rc, s->cur_path);
	if (!patch || (git_patch_get_delta(patch)->flags & GIT_DIFF_FLAG_BINARY)) {
		git_patch_free(patch);
		return scan_added_blob(s, new_id, e);
	}
	nh = git_patch_num_hunks(patch);
	for (h = 0; h < nh && !stop; h++) {
		int nl = git_patch_num_lines_in_hunk(patch, h), l;

		for (l = 0; l < nl && !stop; l++) {
			const git_diff_line *line = NULL;

			if (git_patch_get_line_in_hunk(&line, patch, h, (size_t)l) < 0 || line->origin != GIT_DIFF_LINE_ADDITION)
				continue;
			if (prev >= 0 && line->new_lineno != prev + 1)
				stop = feed_line(s, "\n", 1, 0);
			prev = line->new_lineno;
			if (!stop)
				stop = feed_line(s, line->content, line->content_len,
						 line->new_lineno > 0 ? (uint32_t)line->new_lineno : 0);
		}
	}
	git_patch_free(patch);
	return stop;
}

/* Every file of one commit's diff. 1 when stopped, 0 done, -1 error. */
static int scan_diff(struct gitgate_scan *s, git_diff *diff, git_tree **others, size_t nother, struct bb_err *e)
{
	size_t i, n = git_diff_num_deltas(diff);

	for (i = 0; i < n; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		int stop;

		if (d->status == GIT_DELTA_DELETED || d->status == GIT_DELTA_UNMODIFIED ||
		    d->new_file.mode == GIT_FILEMODE_COMMIT || d->new_file.mode == GIT_FILEMODE_TREE)
			continue;
		/* An exact rename adds nothing. */
		if ((d->status == GIT_DELTA_RENAMED || d->status == GIT_DELTA_COPIED) &&
		    git_oid_equal(&d->old_file.id, &d->new_file.id))
			continue;
		if (begin_file(s, d->new_file.path ? d->new_file.path : "(unknown)"))
			return 1;
		if (s->cur_skip || from_other_parent(others, nother, d)) {
			s->cur_skip = 1;
			continue;
		}
		if (d->status == GIT_DELTA_ADDED || git_oid_is_zero(&d->old_file.id))
			stop = scan_added_blob(s, &d->new_file.id, e);
		else
			stop = scan_patch_additions(s, diff, i, &d->new_file.id, e);
		if (stop < 0 || s->failed)
			return -1;
		if (stop)
			return 1;
	}
	return end_file(s);
}

static int scan_commit_message(struct gitgate_scan *s, const git_commit *c, const char *hex);

/* Scan the lines one commit adds, then its message. 1 when a callback stopped the scan, 0 done, -1 error. */
static int scan_commit(struct gitgate_scan *s, const git_oid *id, struct bb_err *e)
{
	git_commit *c = NULL, *parent = NULL;
	git_tree *tree = NULL, *ptree = NULL, *others[16];
	git_diff *diff = NULL;
	git_diff_options dopt;
	git_diff_find_options fopt;
	size_t nother = 0;
	char hex[GITGATE_OID_HEX + 1];
	unsigned np, i;
	int rc, ret = -1;

	git_oid_tostr(hex, sizeof hex, id);
	rc = git_commit_lookup(&c, s->repo, id);
	if (rc < 0)
		return lib_error(e, rc, hex);
	rc = git_commit_tree(&tree, c);
	if (rc < 0) {
		lib_error(e, rc, hex);
		goto out;
	}
	np = git_commit_parentcount(c);
	if (np > 0) {
		rc = git_commit_parent(&parent, c, 0);
		if (rc == 0)
			rc = git_commit_tree(&ptree, parent);
		if (rc < 0) {
			lib_error(e, rc, hex);
			goto out;
		}
	}
	for (i = 1; i < np && nother < sizeof others / sizeof others[0]; i++) {
		git_commit *pc = NULL;

		if (git_commit_parent(&pc, c, i) == 0) {
			if (git_commit_tree(&others[nother], pc) == 0)
				nother++;
			git_commit_free(pc);
		}
	}
	rc = git_diff_options_init(&dopt, GIT_DIFF_OPTIONS_VERSION);
	if (rc < 0) {
		lib_error(e, rc, "git_diff_options_init");
		goto out;
	}
	dopt.context_lines = 0;
	dopt.interhunk_lines = 0;
	rc = git_diff_tree_to_tree(&diff, s->repo, ptree, tree, &dopt);
	if (rc < 0) {
		lib_error(e, rc, hex);
		goto out;
	}
	rc = git_diff_find_options_init(&fopt, GIT_DIFF_FIND_OPTIONS_VERSION);
	if (rc == 0) {
		/* Exact renames only: cheap, and a moved file adds no line. */
		fopt.flags = GIT_DIFF_FIND_RENAMES | GIT_DIFF_FIND_EXACT_MATCH_ONLY;
		rc = git_diff_find_similar(diff, &fopt);
	}
	if (rc < 0) {
		lib_error(e, rc, hex);
		goto out;
	}
	s->cur_object_hex = hex;
	s->cur_path[0] = 0;
	rc = scan_diff(s, diff, others, nother, e);
	if (rc == 0 && !s->failed)
		rc = scan_commit_message(s, c, hex);
	if (s->failed) {
		bb_errf(e, s->err.code, "%s", s->err.msg);
		goto out;
	}
	if (rc < 0)
		goto out;
	ret = rc;
	s->stats.commits++;
out:
	s->cur_path[0] = 0;
	scan_stream_reset(s->st);
	for (i = 0; i < nother; i++)
		git_tree_free(others[i]);
	git_diff_free(diff);
	git_tree_free(ptree);
	git_tree_free(tree);
	git_commit_free(parent);
	git_commit_free(c);
	return ret;
}

/* Scan text that is not a file (a tag's or a commit's message) as its own stream, named label. 1 stop, 0 done. */
static int scan_text(struct gitgate_scan *s, const char *hex, const char *label, const char *msg, size_t len)
{
	size_t i = 0;
	uint32_t lineno = 1;

	if (end_file(s))
		return 1;
	s->cur_object_hex = hex;
	snprintf(s->cur_path, sizeof s->cur_path, "%s", label);
	s->cur_skip = 0; /* a message has no path for an allowlist to match */
	while (i < len) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t n = nl ? (size_t)(nl - (msg + i)) + 1 : len - i;

		if (feed_line(s, msg + i, n, lineno++))
			return 1;
		i += n;
	}
	return end_file(s);
}

/* An annotated tag's name, then its message. 1 stop, 0 done. */
static int scan_tag_message(struct gitgate_scan *s, git_tag *tag, const char *hex)
{
	const char *msg = git_tag_message(tag), *name = git_tag_name(tag);
	char label[GITGATE_PATH_SHOW], shown[GITGATE_PATH_SHOW - 8];

	s->stats.tags++;
	if (scan_name(s, hex, "tag name", name ? name : "", shown, sizeof shown))
		return 1;
	snprintf(label, sizeof label, "tag %s", shown);
	return scan_text(s, hex, label, msg ? msg : "", msg ? strlen(msg) : 0);
}

/*
 * A commit's message and its author and committer names and emails: text
 * the agent writes and upstream keeps as surely as a file. 1 stop, 0 done.
 */
static int scan_commit_message(struct gitgate_scan *s, const git_commit *c, const char *hex)
{
	const git_signature *au = git_commit_author(c), *co = git_commit_committer(c);
	const char *msg = git_commit_message_raw(c);
	struct buf text;
	int stop;

	/* The message first, so a finding's line number is the message's own line. */
	buf_init(&text, (size_t)1 << 26);
	if ((msg && buf_append(&text, msg, strlen(msg), &s->err) < 0) ||
	    buf_printf(&text, &s->err, "\nauthor %s <%s>\ncommitter %s <%s>\n", au && au->name ? au->name : "",
		       au && au->email ? au->email : "", co && co->name ? co->name : "",
		       co && co->email ? co->email : "") < 0) {
		buf_free(&text);
		s->failed = 1;
		return 1;
	}
	{
		size_t lines = s->stats.lines;
		uint64_t bytes = s->stats.bytes;

		stop = scan_text(s, hex, "commit message", text.p, text.len);
		s->stats.lines = lines; /* the stats count the files' added lines */
		s->stats.bytes = bytes;
	}
	buf_free(&text);
	return stop;
}

static int add_clean(struct gitgate_scan *s, const git_oid *id)
{
	if (s->nclean == s->clean_cap) {
		size_t ncap = s->clean_cap ? s->clean_cap * 2 : 16;
		git_oid *nc = realloc(s->clean, ncap * sizeof *nc);

		if (!nc)
			return -1;
		s->clean = nc;
		s->clean_cap = ncap;
	}
	git_oid_cpy(&s->clean[s->nclean++], id);
	return 0;
}

/* Hide the commit of every ref of repo (the mirror) from the walk: what the gate already has. */
static int hide_all_refs(git_repository *repo, git_revwalk *walk, struct bb_err *e)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	int rc = git_reference_iterator_new(&it, repo);

	if (rc < 0)
		return lib_error(e, rc, "listing refs");
	while ((rc = git_reference_next(&ref, it)) == 0) {
		git_object *peeled = NULL;

		if (git_reference_type(ref) == GIT_REFERENCE_DIRECT &&
		    git_reference_peel(&peeled, ref, GIT_OBJECT_COMMIT) == 0)
			git_revwalk_hide(walk, git_object_id(peeled));
		git_object_free(peeled);
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
	return 0;
}

int gitgate_scan_ref(struct gitgate_scan *s, const char *refname, const git_oid *old, const git_oid *new_oid,
		     struct bb_err *e)
{
	git_object *obj = NULL;
	git_revwalk *walk = NULL;
	git_oid cur, id;
	char hex[GITGATE_OID_HEX + 1];
	size_t i;
	int rc, ret = -1, depth = 0;

	s->nfindings = 0;
	s->truncated = 0;
	s->failed = 0;
	git_oid_cpy(&cur, new_oid);
	(void)refname; /* scanned by gitgate_scan_name, before anything shows it */
	/* Down the tag chain to the commit; new tag objects' messages are scanned on the way. */
	for (;;) {
		git_object_free(obj);
		obj = NULL;
		git_oid_tostr(hex, sizeof hex, &cur);
		rc = git_object_lookup(&obj, s->repo, &cur, GIT_OBJECT_ANY);
		if (rc < 0) {
			lib_error(e, rc, hex);
			goto out;
		}
		if (git_object_type(obj) != GIT_OBJECT_TAG)
			break;
		if (++depth > 16) {
			bb_errf(e, BB_EINVAL, "%s: tags nested more than 16 deep", refname);
			goto out;
		}
		if (!git_odb_exists(s->known, &cur) && scan_tag_message(s, (git_tag *)obj, hex)) {
			if (s->failed) {
				bb_errf(e, s->err.code, "%s", s->err.msg);
				goto out;
			}
			goto done;
		}
		git_oid_cpy(&cur, git_tag_target_id((git_tag *)obj));
	}
	if (git_object_type(obj) != GIT_OBJECT_COMMIT) {
		/* Something already on the gate may be named (a tag of a tree); nothing new can hide there. */
		if (git_odb_exists(s->known, &cur))
			goto done;
		bb_errf(e, BB_EINVAL, "%s points at a %s that is new to the gate; only commits (and tags of commits) are accepted",
			refname, git_object_type2string(git_object_type(obj)));
		goto out;
	}
	rc = git_revwalk_new(&walk, s->repo);
	if (rc == 0)
		rc = git_revwalk_push(walk, &cur);
	if (rc < 0) {
		lib_error(e, rc, refname);
		goto out;
	}
	if (old) {
		git_object *po = NULL;
		git_object *oo = NULL;

		/* old..new; an old that is not a commit (a tag of a tree) hides nothing. */
		if (git_object_lookup(&oo, s->repo, old, GIT_OBJECT_ANY) == 0 &&
		    git_object_peel(&po, oo, GIT_OBJECT_COMMIT) == 0)
			git_revwalk_hide(walk, git_object_id(po));
		git_object_free(po);
		git_object_free(oo);
	} else if (hide_all_refs(s->mirror, walk, e) < 0) {
		goto out;
	}
	for (i = 0; i < s->nclean; i++)
		git_revwalk_hide(walk, &s->clean[i]);
	while ((rc = git_revwalk_next(&id, walk)) == 0) {
		int r = scan_commit(s, &id, e);

		if (r < 0)
			goto out;
		if (r > 0)
			break;
	}
	if (rc < 0 && rc != GIT_ITEROVER) {
		lib_error(e, rc, refname);
		goto out;
	}
done:
	if (s->nfindings == 0 && add_clean(s, &cur) < 0) {
		bb_errno(e, ENOMEM, "scan");
		goto out;
	}
	ret = 0;
out:
	git_revwalk_free(walk);
	git_object_free(obj);
	return ret;
}

int gitgate_scan_name(struct gitgate_scan *s, const char *label, const char *name, char *shown, size_t cap,
		      struct bb_err *e)
{
	s->nfindings = 0;
	s->truncated = 0;
	s->failed = 0;
	scan_name(s, "", label, name, shown, cap);
	if (s->failed)
		return bb_errf(e, s->err.code, "%s", s->err.msg);
	return (int)s->nfindings;
}

int gitgate_scan_engine_build(const char *rules_path, const char *repo_rules_path, struct scan_engine **out,
			      struct bb_err *e)
{
	struct scan_engine *eng = NULL;

	*out = NULL;
	if (scan_engine_new(&eng, e) < 0)
		return -1;
	if (rules_path && *rules_path && scan_engine_load_rules(eng, rules_path, e) < 0)
		goto fail;
	if (repo_rules_path && *repo_rules_path && scan_engine_load_rules(eng, repo_rules_path, e) < 0)
		goto fail;
	if (scan_engine_finish(eng, e) < 0)
		goto fail;
	*out = eng;
	return 0;
fail:
	scan_engine_free(eng);
	return -1;
}

/* A set of object ids: open addressing, grown at half full. */
struct oidset {
	git_oid *slot;
	unsigned char *used;
	size_t cap, n;
};

static size_t oid_hash(const git_oid *id, size_t mask)
{
	const unsigned char *b = (const unsigned char *)id;

	return ((size_t)b[0] << 24 | (size_t)b[1] << 16 | (size_t)b[2] << 8 | b[3]) & mask;
}

static int oidset_has(const struct oidset *s, const git_oid *id)
{
	size_t i;

	if (!s->cap)
		return 0;
	for (i = oid_hash(id, s->cap - 1); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (git_oid_equal(&s->slot[i], id))
			return 1;
	return 0;
}

static int oidset_add(struct oidset *s, const git_oid *id)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct oidset g = { NULL, NULL, s->cap ? s->cap * 2 : 1024, 0 };

		g.slot = malloc(g.cap * sizeof *g.slot);
		g.used = calloc(g.cap, 1);
		if (!g.slot || !g.used) {
			free(g.slot);
			free(g.used);
			return -1;
		}
		for (i = 0; i < s->cap; i++)
			if (s->used[i])
				oidset_add(&g, &s->slot[i]);
		free(s->slot);
		free(s->used);
		*s = g;
	}
	for (i = oid_hash(id, s->cap - 1); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (git_oid_equal(&s->slot[i], id))
			return 0;
	s->used[i] = 1;
	git_oid_cpy(&s->slot[i], id);
	s->n++;
	return 0;
}

struct reach {
	struct oidset set;
	git_odb *known;
	int oom;
};

static int reach_tree_cb(const char *root, const git_tree_entry *te, void *payload)
{
	struct reach *r = payload;
	const git_oid *id = git_tree_entry_id(te);

	(void)root;
	if (git_tree_entry_type(te) == GIT_OBJECT_COMMIT)
		return 0; /* a submodule's commit is not in this repository */
	if (git_odb_exists(r->known, id))
		return git_tree_entry_type(te) == GIT_OBJECT_TREE ? 1 : 0; /* the gate has it, and so all below it */
	if (oidset_add(&r->set, id) < 0) {
		r->oom = 1;
		return -1;
	}
	return 0;
}

static int reach_commit(struct reach *r, git_repository *repo, const git_oid *id, struct bb_err *e)
{
	git_commit *c = NULL;
	git_tree *t = NULL;
	int rc;

	if (oidset_add(&r->set, id) < 0)
		return bb_errno(e, ENOMEM, "object set");
	rc = git_commit_lookup(&c, repo, id);
	if (rc == 0)
		rc = git_commit_tree(&t, c);
	if (rc == 0 && !git_odb_exists(r->known, git_tree_id(t))) {
		if (oidset_add(&r->set, git_tree_id(t)) < 0)
			rc = -1, r->oom = 1;
		else
			rc = git_tree_walk(t, GIT_TREEWALK_PRE, reach_tree_cb, r);
	}
	git_tree_free(t);
	git_commit_free(c);
	if (r->oom)
		return bb_errno(e, ENOMEM, "object set");
	return rc < 0 ? lib_error(e, rc, "walking a pushed tree") : 0;
}

struct cover_check {
	struct reach *r;
	int ok;
};

static int cover_cb(const git_oid *id, void *payload)
{
	struct cover_check *cc = payload;

	if (oidset_has(&cc->r->set, id) || git_odb_exists(cc->r->known, id))
		return 0;
	cc->ok = 0;
	return 1; /* one stray object is enough to decide */
}

int gitgate_pack_covered(git_repository *repo, git_repository *mirror, git_odb *qodb, const git_oid *tips, size_t ntips,
			 int *covered, struct bb_err *e)
{
	struct reach r;
	struct cover_check cc;
	git_revwalk *walk = NULL;
	git_oid id;
	size_t i;
	int rc, ret = -1;

	*covered = 0;
	memset(&r, 0, sizeof r);
	rc = git_repository_odb(&r.known, mirror);
	if (rc == 0)
		rc = git_revwalk_new(&walk, repo);
	if (rc < 0) {
		lib_error(e, rc, "checking the pack");
		goto out;
	}
	for (i = 0; i < ntips; i++) {
		git_object *obj = NULL;
		int depth = 0;

		git_oid_cpy(&id, &tips[i]);
		while ((rc = git_object_lookup(&obj, repo, &id, GIT_OBJECT_ANY)) == 0 &&
		       git_object_type(obj) == GIT_OBJECT_TAG && ++depth < 16) {
			if (oidset_add(&r.set, &id) < 0) {
				git_object_free(obj);
				bb_errno(e, ENOMEM, "object set");
				goto out;
			}
			git_oid_cpy(&id, git_tag_target_id((git_tag *)obj));
			git_object_free(obj);
			obj = NULL;
		}
		if (rc < 0) {
			lib_error(e, rc, "checking the pack");
			goto out;
		}
		if (git_object_type(obj) == GIT_OBJECT_COMMIT)
			rc = git_revwalk_push(walk, &id);
		else
			rc = oidset_add(&r.set, &id);
		git_object_free(obj);
		if (rc < 0) {
			lib_error(e, rc, "checking the pack");
			goto out;
		}
	}
	if (hide_all_refs(mirror, walk, e) < 0)
		goto out;
	while ((rc = git_revwalk_next(&id, walk)) == 0)
		if (reach_commit(&r, repo, &id, e) < 0)
			goto out;
	if (rc != GIT_ITEROVER) {
		lib_error(e, rc, "checking the pack");
		goto out;
	}
	cc.r = &r;
	cc.ok = 1;
	rc = git_odb_foreach(qodb, cover_cb, &cc);
	if (rc < 0 && rc != GIT_EUSER && rc != 1) {
		lib_error(e, rc, "listing the pushed objects");
		goto out;
	}
	*covered = cc.ok;
	ret = 0;
out:
	git_revwalk_free(walk);
	git_odb_free(r.known);
	free(r.set.slot);
	free(r.set.used);
	return ret;
}
