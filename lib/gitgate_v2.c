/* gitgate_v2.c - upload-pack in git's protocol v2: the capability advertisement, then ls-refs and fetch commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitgate_fetch.h"

#define PREFIXES_MAX 256 /* more ref-prefix lines than this: all refs are listed (git does the same past its own limit) */

int gitgate_v2_advertise(struct gitgate_session *s, struct bb_err *e)
{
	const char *agent = s->srv->agent ? s->srv->agent : "bb";

	if (gitgate_io_pktf(s->io, e, "version 2\n") < 0 || gitgate_io_pktf(s->io, e, "agent=%s\n", agent) < 0 ||
	    gitgate_io_pktf(s->io, e, "ls-refs=unborn\n") < 0 ||
	    gitgate_io_pktf(s->io, e, "fetch=shallow wait-for-done filter\n") < 0 ||
	    gitgate_io_pktf(s->io, e, "server-option\n") < 0 || gitgate_io_pktf(s->io, e, "object-format=sha1\n") < 0 ||
	    gitgate_io_flush_pkt(s->io, e) < 0)
		return -1;
	return gitgate_io_flush(s->io, e);
}

/* An error the client prints as "remote error": an ERR packet (v2 has no side-band before the packfile). */
static int v2_fail(struct gitgate_session *s, struct bb_err *e)
{
	gitgate_send_err(s->io, e->msg, NULL);
	return -1;
}

static int prefix_match(char **prefixes, size_t n, const char *name)
{
	size_t i;

	if (n == 0)
		return 1;
	for (i = 0; i < n; i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			return 1;
	return 0;
}

/* A command's arguments: the packets up to a flush (none when the request had no delimiter); 1, 0 at the end, -1. */
static int next_arg(struct gitgate_session *s, int no_args, struct pkt *p, struct sv *t, struct bb_err *e)
{
	int rc;

	if (no_args)
		return 0;
	rc = gitgate_io_read_pkt(s->io, p, e);
	if (rc == 0)
		return bb_errf(e, BB_EINVAL, "the client hung up inside a request");
	if (rc < 0)
		return -1;
	if (p->kind == PKT_FLUSH)
		return 0;
	if (p->kind != PKT_DATA) {
		bb_errf(e, BB_EINVAL, "expected flush after the command's arguments");
		return v2_fail(s, e);
	}
	*t = pkt_text(p);
	return 1;
}

static int ls_refs(struct gitgate_session *s, int no_args, struct bb_err *e)
{
	char *prefixes[PREFIXES_MAX];
	size_t np = 0, i, n = 0;
	int symrefs = 0, peel = 0, unborn = 0, too_many = 0, rc = -1;
	struct gitgate_ref *v = NULL;
	git_reference *head = NULL;
	struct pkt p;
	char hex[GITGATE_OID_HEX + 1], peeled[GITGATE_OID_HEX + 1];

	for (;;) {
		struct sv t;

		rc = next_arg(s, no_args, &p, &t, e);
		if (rc < 0)
			goto out;
		if (rc == 0)
			break;
		rc = -1;
		if (sv_eq_str(t, "symrefs")) {
			symrefs = 1;
		} else if (sv_eq_str(t, "peel")) {
			peel = 1;
		} else if (sv_eq_str(t, "unborn")) {
			unborn = 1;
		} else if (sv_starts_with(t, SV_LIT("ref-prefix "))) {
			if (np == PREFIXES_MAX) {
				too_many = 1;
				continue;
			}
			prefixes[np] = strndup(t.p + 11, t.len - 11);
			if (!prefixes[np]) {
				bb_errf(e, BB_EINVAL, "out of memory");
				goto out;
			}
			np++;
		} else {
			bb_errf(e, BB_EINVAL, "unexpected line: '%.*s'", (int)(t.len > 60 ? 60 : t.len), t.p);
			v2_fail(s, e);
			goto out;
		}
	}
	if (too_many) {
		for (i = 0; i < np; i++)
			free(prefixes[i]);
		np = 0;
	}
	if (gitgate_refs_list(s->mirror, &v, &n, e) < 0) {
		v2_fail(s, e);
		goto out;
	}
	/* HEAD first: its target, or "unborn" when it names a branch that does not exist yet (an empty upstream). */
	if (prefix_match(prefixes, np, "HEAD") && git_reference_lookup(&head, s->mirror, "HEAD") == 0) {
		git_oid id;
		int born = git_reference_name_to_id(&id, s->mirror, "HEAD") == 0;
		int sym = git_reference_type(head) == GIT_REFERENCE_SYMBOLIC;
		char target[300] = "";

		if (sym && symrefs)
			snprintf(target, sizeof target, " symref-target:%s", git_reference_symbolic_target(head));
		if (born) {
			git_object *obj = NULL, *pe = NULL;

			git_oid_tostr(hex, sizeof hex, &id);
			peeled[0] = 0;
			if (peel && git_object_lookup(&obj, s->mirror, &id, GIT_OBJECT_ANY) == 0 &&
			    git_object_type(obj) == GIT_OBJECT_TAG && git_object_peel(&pe, obj, GIT_OBJECT_COMMIT) == 0)
				git_oid_tostr(peeled, sizeof peeled, git_object_id(pe));
			git_object_free(pe);
			git_object_free(obj);
			if (gitgate_io_pktf(s->io, e, "%s HEAD%s%s%s\n", hex, target, peeled[0] ? " peeled:" : "", peeled) < 0)
				goto out;
		} else if (unborn && symrefs && sym) {
			if (gitgate_io_pktf(s->io, e, "unborn HEAD%s\n", target) < 0)
				goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (!prefix_match(prefixes, np, v[i].name))
			continue;
		git_oid_tostr(hex, sizeof hex, &v[i].oid);
		if (peel && v[i].has_peeled) {
			git_oid_tostr(peeled, sizeof peeled, &v[i].peeled);
			rc = gitgate_io_pktf(s->io, e, "%s %s peeled:%s\n", hex, v[i].name, peeled);
		} else {
			rc = gitgate_io_pktf(s->io, e, "%s %s\n", hex, v[i].name);
		}
		if (rc < 0)
			goto out;
		rc = -1;
	}
	if (gitgate_io_flush_pkt(s->io, e) < 0 || gitgate_io_flush(s->io, e) < 0)
		goto out;
	rc = 0;
out:
	for (i = 0; i < np; i++)
		free(prefixes[i]);
	gitgate_refs_free(v, n);
	git_reference_free(head);
	return rc;
}

static int fetch(struct gitgate_session *s, int no_args, struct bb_err *e)
{
	struct gitgate_fetch f;
	char hex[GITGATE_OID_HEX + 1];
	struct pkt p;
	struct sv rest;
	size_t i;
	int done = 0, wait_for_done = 0, seen_haves = 0, rc, ret = -1;

	gitgate_fetch_init(&f);
	for (;;) {
		struct sv t;

		rc = next_arg(s, no_args, &p, &t, e);
		if (rc < 0)
			goto out;
		if (rc == 0)
			break;
		rc = gitgate_fetch_line(s, &f, t, e);
		if (rc < 0) {
			v2_fail(s, e);
			goto out;
		}
		if (rc > 0)
			continue;
		if (sv_starts_with(t, SV_LIT("want "))) {
			if (gitgate_oid_line_parse(t, "want", hex, &rest, e) < 0 || rest.len) {
				bb_errf(e, BB_EINVAL, "git upload-pack: protocol error, expected to get oid, not '%.*s'",
					(int)(t.len > 60 ? 60 : t.len), t.p);
				v2_fail(s, e);
				goto out;
			}
			if (gitgate_fetch_want(s, &f, hex, e) < 0) {
				v2_fail(s, e);
				goto out;
			}
		} else if (sv_starts_with(t, SV_LIT("have "))) {
			if (gitgate_oid_line_parse(t, "have", hex, &rest, e) < 0 || rest.len) {
				bb_errf(e, BB_EINVAL, "invalid have line: %.*s", (int)(t.len > 60 ? 60 : t.len), t.p);
				v2_fail(s, e);
				goto out;
			}
			seen_haves = 1;
			rc = gitgate_fetch_have(s, &f, hex, e);
			if (rc < 0) {
				v2_fail(s, e);
				goto out;
			}
		} else if (sv_eq_str(t, "thin-pack")) {
			f.thin = 1;
		} else if (sv_eq_str(t, "ofs-delta")) {
			f.ofs_delta = 1;
		} else if (sv_eq_str(t, "include-tag")) {
			f.include_tag = 1;
		} else if (sv_eq_str(t, "no-progress")) {
			/* nothing is said on the progress band anyway */
		} else if (sv_eq_str(t, "done")) {
			done = 1;
		} else if (sv_eq_str(t, "wait-for-done")) {
			wait_for_done = 1;
		} else if (sv_eq_str(t, "deepen-relative")) {
			f.deepen_relative = 1;
		} else {
			bb_errf(e, BB_EINVAL, "unexpected line: '%.*s'", (int)(t.len > 60 ? 60 : t.len), t.p);
			v2_fail(s, e);
			goto out;
		}
	}
	if (f.wants.n == 0 && !wait_for_done) {
		ret = 0; /* nothing wanted: nothing to answer (as upload-pack) */
		goto out;
	}
	if (seen_haves && !done) {
		int ready = !wait_for_done && f.wants.n && gitgate_fetch_ready(s->mirror, &f);

		if (gitgate_io_pktf(s->io, e, "acknowledgments\n") < 0)
			goto out;
		if (f.common.n == 0 && gitgate_io_pktf(s->io, e, "NAK\n") < 0)
			goto out;
		for (i = 0; i < f.common.n; i++) {
			git_oid_tostr(hex, sizeof hex, &f.common.v[i]);
			if (gitgate_io_pktf(s->io, e, "ACK %s\n", hex) < 0)
				goto out;
		}
		if (!ready) {
			ret = gitgate_io_flush_pkt(s->io, e) < 0 || gitgate_io_flush(s->io, e) < 0 ? -1 : 0;
			goto out;
		}
		if (gitgate_io_pktf(s->io, e, "ready\n") < 0 || gitgate_io_delim_pkt(s->io, e) < 0)
			goto out;
	}
	if (f.wants.n == 0) {
		ret = gitgate_io_flush_pkt(s->io, e) < 0 || gitgate_io_flush(s->io, e) < 0 ? -1 : 0;
		goto out;
	}
	if (gitgate_fetch_is_shallow(&f)) {
		if (gitgate_io_pktf(s->io, e, "shallow-info\n") < 0)
			goto out;
		if (gitgate_fetch_shallow_lines(s, &f, e) < 0) {
			v2_fail(s, e);
			goto out;
		}
		if (gitgate_io_delim_pkt(s->io, e) < 0)
			goto out;
	}
	if (gitgate_io_pktf(s->io, e, "packfile\n") < 0)
		goto out;
	s->io->sideband = 2;
	ret = gitgate_fetch_send(s, &f, "v2", e);
	s->io->sideband = 0;
out:
	gitgate_fetch_free(&f);
	return ret;
}

int gitgate_serve_v2(struct gitgate_session *s, struct bb_err *e)
{
	for (;;) {
		struct pkt p;
		char command[16] = "";
		int rc, seen = 0, no_args = 0;

		/* The command and capability lines, to a delimiter (arguments follow) or a flush (none). */
		for (;;) {
			struct sv t;

			rc = gitgate_io_read_pkt(s->io, &p, e);
			if (rc < 0)
				return -1;
			if (rc == 0) {
				if (seen)
					return bb_errf(e, BB_EINVAL, "the client hung up inside a request");
				return gitgate_io_flush(s->io, e); /* the client is done */
			}
			if (p.kind == PKT_DELIM)
				break;
			if (p.kind == PKT_FLUSH) {
				if (!seen)
					return gitgate_io_flush(s->io, e); /* an empty request: the end */
				no_args = 1; /* no delimiter: the request has no arguments */
				break;
			}
			if (p.kind != PKT_DATA) {
				bb_errf(e, BB_EINVAL, "unexpected packet in a request");
				return v2_fail(s, e);
			}
			t = pkt_text(&p);
			seen = 1;
			if (sv_starts_with(t, SV_LIT("command="))) {
				if (command[0] || sv_copy(sv_of(t.p + 8, t.len - 8), command, sizeof command) < 0) {
					bb_errf(e, BB_EINVAL, "command '%.*s' requested after already requesting command '%s'",
						(int)(t.len > 40 ? 40 : t.len), t.p, command);
					return v2_fail(s, e);
				}
			} else if (sv_starts_with(t, SV_LIT("object-format="))) {
				if (!sv_eq_str(sv_of(t.p + 14, t.len - 14), "sha1")) {
					bb_errf(e, BB_EINVAL, "mismatched object format: server sha1; client %.*s",
						(int)(t.len > 40 ? 40 : t.len - 14), t.p + 14);
					return v2_fail(s, e);
				}
			} else if (!sv_starts_with(t, SV_LIT("agent=")) && !sv_starts_with(t, SV_LIT("server-option=")) &&
				   !sv_starts_with(t, SV_LIT("session-id="))) {
				bb_errf(e, BB_EINVAL, "unknown capability '%.*s'", (int)(t.len > 60 ? 60 : t.len), t.p);
				return v2_fail(s, e);
			}
		}
		if (!strcmp(command, "ls-refs"))
			rc = ls_refs(s, no_args, e);
		else if (!strcmp(command, "fetch"))
			rc = fetch(s, no_args, e);
		else if (!command[0])
			rc = bb_errf(e, BB_EINVAL, "no command requested"), v2_fail(s, e);
		else
			rc = bb_errf(e, BB_EINVAL, "invalid command '%s'", command), v2_fail(s, e);
		if (rc < 0)
			return -1;
		gitgate_log(s, "v2-command", "command", command, (char *)NULL);
		if (s->stateless)
			return 0;
	}
}
