/* gitgate_upload.c - upload-pack, protocol v0/v1: wants with shallow, deepen and filter lines, have negotiation (multi_ack_detailed), then the pack; and what v2's fetch shares with it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitgate_fetch.h"

enum ack_mode { ACK_SINGLE, ACK_MULTI, ACK_DETAILED };

/* Whether the client may ask for id: any object the mirror has (all came from upstream or a scanned push). */
static int wantable(git_repository *repo, const git_oid *id)
{
	git_odb *odb = NULL;
	int ok = 0;

	if (git_repository_odb(&odb, repo) == 0)
		ok = git_odb_exists(odb, id);
	git_odb_free(odb);
	return ok;
}

int gitgate_fetch_want(struct gitgate_session *s, struct gitgate_fetch *f, const char *hex, struct bb_err *e)
{
	git_oid id;

	if (git_oid_fromstr(&id, hex) < 0 || !wantable(s->mirror, &id))
		return bb_errf(e, BB_EINVAL, "upload-pack: not our ref %s", hex);
	if (gitgate_oids_has(&f->wants, &id))
		return 0;
	return gitgate_oids_add(&f->wants, &id, e);
}

int gitgate_fetch_have(struct gitgate_session *s, struct gitgate_fetch *f, const char *hex, struct bb_err *e)
{
	git_commit *c = NULL;
	git_oid id;

	if (git_oid_fromstr(&id, hex) < 0 || gitgate_oids_has(&f->common, &id))
		return 0;
	/* Only commits the mirror has count as common ground for the walk. */
	if (git_commit_lookup(&c, s->mirror, &id) < 0)
		return 0;
	git_commit_free(c);
	if (gitgate_oids_add(&f->common, &id, e) < 0)
		return -1;
	return 1;
}

/* A decimal number 1..max (deepen, deepen-since); -1 when it is not one. */
static int number(struct sv s, uint64_t max, uint64_t *out)
{
	return sv_to_u64(s, max, out, NULL) < 0 || *out == 0 ? -1 : 0;
}

int gitgate_fetch_line(struct gitgate_session *s, struct gitgate_fetch *f, struct sv line, struct bb_err *e)
{
	char hex[GITGATE_OID_HEX + 1];
	struct sv rest;
	uint64_t v;

	if (sv_starts_with(line, SV_LIT("shallow "))) {
		git_object *obj = NULL;
		git_oid id;

		if (gitgate_oid_line_parse(line, "shallow", hex, &rest, e) < 0 || rest.len)
			return bb_errf(e, BB_EINVAL, "invalid shallow line: %.*s", (int)(line.len > 60 ? 60 : line.len), line.p);
		git_oid_fromstr(&id, hex);
		if (git_object_lookup(&obj, s->mirror, &id, GIT_OBJECT_ANY) < 0)
			return 1; /* a commit the gate does not have: nothing to cut there (as upload-pack) */
		if (git_object_type(obj) != GIT_OBJECT_COMMIT) {
			git_object_free(obj);
			return bb_errf(e, BB_EINVAL, "invalid shallow object %s", hex);
		}
		git_object_free(obj);
		if (!gitgate_oids_has(&f->shallow, &id) && gitgate_oids_add(&f->shallow, &id, e) < 0)
			return -1;
		return 1;
	}
	if (sv_starts_with(line, SV_LIT("deepen "))) {
		if (number(sv_of(line.p + 7, line.len - 7), GITGATE_INFINITE_DEPTH, &v) < 0)
			return bb_errf(e, BB_EINVAL, "Invalid deepen: %.*s", (int)(line.len > 60 ? 60 : line.len), line.p);
		f->depth = (unsigned)v;
		return 1;
	}
	if (sv_starts_with(line, SV_LIT("deepen-since "))) {
		if (number(sv_of(line.p + 13, line.len - 13), UINT64_MAX / 2, &v) < 0)
			return bb_errf(e, BB_EINVAL, "Invalid deepen-since: %.*s", (int)(line.len > 60 ? 60 : line.len), line.p);
		f->deepen_since = v;
		return 1;
	}
	if (sv_starts_with(line, SV_LIT("deepen-not ")))
		return gitgate_fetch_deepen_not(s->mirror, f, sv_of(line.p + 11, line.len - 11), e) < 0 ? -1 : 1;
	if (sv_starts_with(line, SV_LIT("filter "))) {
		if (f->filter.n)
			return bb_errf(e, BB_EINVAL, "multiple filter-specs cannot be combined");
		if (gitgate_filter_parse(sv_of(line.p + 7, line.len - 7), &f->filter, e) < 0)
			return -1;
		return 1;
	}
	return 0;
}

/* The checks upload-pack makes once the request is in. */
static int fetch_check(const struct gitgate_fetch *f, struct bb_err *e)
{
	if (f->depth && (f->deepen_since || f->deepen_not.n))
		return bb_errf(e, BB_EINVAL, "git upload-pack: deepen and deepen-since (or deepen-not) cannot be used together");
	return 0;
}

int gitgate_fetch_shallow_lines(struct gitgate_session *s, struct gitgate_fetch *f, struct bb_err *e)
{
	char hex[GITGATE_OID_HEX + 1];
	size_t i;

	if (fetch_check(f, e) < 0 || gitgate_fetch_shallow(s->mirror, f, e) < 0)
		return -1;
	for (i = 0; i < f->new_shallow.n; i++) {
		git_oid_tostr(hex, sizeof hex, &f->new_shallow.v[i]);
		if (gitgate_io_pktf(s->io, e, "shallow %s\n", hex) < 0)
			return -1;
	}
	for (i = 0; i < f->unshallow.n; i++) {
		git_oid_tostr(hex, sizeof hex, &f->unshallow.v[i]);
		if (gitgate_io_pktf(s->io, e, "unshallow %s\n", hex) < 0)
			return -1;
	}
	return 0;
}

static int pack_write(void *arg, const void *p, size_t n, struct bb_err *e)
{
	struct gitgate_session *s = arg;

	if (s->io->sideband)
		return gitgate_io_band(s->io, PKT_BAND_DATA, p, n, e);
	return gitgate_io_write(s->io, p, n, e);
}

int gitgate_fetch_send(struct gitgate_session *s, struct gitgate_fetch *f, const char *proto, struct bb_err *e)
{
	struct oidmap objs;
	struct gitgate_oids list = GITGATE_OIDS(0);
	struct gitgate_pack_stats st;
	struct timespec t0, t1;
	char objs_s[24], reused[24], deltas[24], whole[24], bytes[24], ms[24], depth[24], filter[8];
	int ret = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	oidmap_init(&objs, 0);
	if (gitgate_fetch_objects(s->mirror, f, &objs, &list, e) < 0) {
		gitgate_fail(s, e->msg, e);
		goto out;
	}
	if (gitgate_fetch_pack(s->mirror, s->mirror_path, f, &objs, &list, pack_write, s, &st, e) < 0) {
		gitgate_fail(s, e->msg, e);
		goto out;
	}
	if (s->io->sideband && gitgate_io_flush_pkt(s->io, e) < 0)
		goto out;
	if (gitgate_io_flush(s->io, e) < 0)
		goto out;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(objs_s, sizeof objs_s, "%zu", st.objects);
	snprintf(reused, sizeof reused, "%zu", st.reused);
	snprintf(deltas, sizeof deltas, "%zu", st.reused_deltas);
	snprintf(whole, sizeof whole, "%zu", st.inflated);
	snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)st.bytes);
	snprintf(ms, sizeof ms, "%lld", (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	snprintf(depth, sizeof depth, "%u", f->depth);
	snprintf(filter, sizeof filter, "%s", f->filter.n ? "yes" : "no");
	gitgate_log(s, "fetch", "protocol", proto, "objects", objs_s, "reused", reused, "reused_deltas", deltas, "compressed",
		    whole, "bytes", bytes, "ms", ms, "depth", depth, "shallow_client", f->shallow.n ? "yes" : "no", "filter",
		    filter, (char *)NULL);
	ret = 0;
out:
	oidmap_free(&objs);
	gitgate_oids_free(&list);
	return ret;
}

int gitgate_upload_pack(struct gitgate_session *s, struct bb_err *e)
{
	struct gitgate_fetch f;
	enum ack_mode mode = ACK_SINGLE;
	char hex[GITGATE_OID_HEX + 1], last[GITGATE_OID_HEX + 1] = "";
	struct pkt p;
	struct sv rest;
	int rc, ret = -1, filter_ok = 0, first = 1;

	gitgate_fetch_init(&f);
	/* Wants, and the shallow, deepen and filter lines, up to a flush. */
	for (;;) {
		struct sv t;

		rc = gitgate_io_read_pkt(s->io, &p, e);
		if (rc < 0)
			goto out;
		if (rc == 0 || p.kind == PKT_FLUSH)
			break;
		if (p.kind != PKT_DATA) {
			gitgate_fail(s, "upload-pack: unexpected packet in the want list", e);
			goto out;
		}
		t = pkt_text(&p);
		if (sv_starts_with(t, SV_LIT("filter ")) && !filter_ok) {
			gitgate_fail(s, "git upload-pack: filtering capability not negotiated", e);
			goto out;
		}
		rc = gitgate_fetch_line(s, &f, t, e);
		if (rc < 0) {
			gitgate_fail(s, e->msg, e);
			goto out;
		}
		if (rc > 0)
			continue;
		if (gitgate_oid_line_parse(t, "want", hex, &rest, e) < 0) {
			gitgate_fail(s, e->msg, e);
			goto out;
		}
		if (first) {
			first = 0;
			if (gitgate_caps_has(rest, "side-band-64k"))
				s->io->sideband = 2;
			else if (gitgate_caps_has(rest, "side-band"))
				s->io->sideband = 1;
			if (gitgate_caps_has(rest, "multi_ack_detailed"))
				mode = ACK_DETAILED;
			else if (gitgate_caps_has(rest, "multi_ack"))
				mode = ACK_MULTI;
			f.thin = gitgate_caps_has(rest, "thin-pack");
			f.ofs_delta = gitgate_caps_has(rest, "ofs-delta");
			f.include_tag = gitgate_caps_has(rest, "include-tag");
			f.deepen_relative = gitgate_caps_has(rest, "deepen-relative");
			filter_ok = gitgate_caps_has(rest, "filter");
		}
		if (gitgate_fetch_want(s, &f, hex, e) < 0) {
			gitgate_send_err(s->io, e->msg, NULL);
			goto out;
		}
	}
	if (f.wants.n == 0) {
		ret = 0; /* an ls-remote, or the client is up to date */
		goto out;
	}
	/* The shallow update: sent when the client deepens, its own shallow commits kept as boundaries either way. */
	if (gitgate_fetch_is_shallow(&f)) {
		if (gitgate_fetch_shallow_lines(s, &f, e) < 0) {
			gitgate_fail(s, e->msg, e);
			goto out;
		}
		if (gitgate_fetch_deepens(&f) && (gitgate_io_flush_pkt(s->io, e) < 0 || gitgate_io_flush(s->io, e) < 0))
			goto out;
	}
	/* Haves, in rounds ended by a flush, until "done". */
	for (;;) {
		rc = gitgate_io_read_pkt(s->io, &p, e);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			/* A stateless request may end after its haves (or its shallow list); a connection may not. */
			ret = s->stateless ? gitgate_io_flush(s->io, e) : bb_errf(e, BB_EINVAL, "the client hung up during negotiation");
			goto out;
		}
		if (p.kind == PKT_FLUSH) {
			if (f.common.n == 0 || mode != ACK_SINGLE)
				if (gitgate_io_pktf(s->io, e, "NAK\n") < 0)
					goto out;
			if (gitgate_io_flush(s->io, e) < 0)
				goto out;
			if (s->stateless) {
				ret = 0;
				goto out;
			}
			continue;
		}
		if (p.kind != PKT_DATA) {
			gitgate_fail(s, "upload-pack: unexpected packet in the have list", e);
			goto out;
		}
		if (sv_eq_str(pkt_text(&p), "done"))
			break;
		if (gitgate_oid_line_parse(pkt_text(&p), "have", hex, &rest, e) < 0) {
			gitgate_fail(s, e->msg, e);
			goto out;
		}
		rc = gitgate_fetch_have(s, &f, hex, e);
		if (rc < 0) {
			gitgate_fail(s, e->msg, e);
			goto out;
		}
		if (rc == 0)
			continue;
		memcpy(last, hex, sizeof last);
		if (mode == ACK_DETAILED)
			rc = gitgate_io_pktf(s->io, e, "ACK %s common\n", hex);
		else if (mode == ACK_MULTI)
			rc = gitgate_io_pktf(s->io, e, "ACK %s continue\n", hex);
		else if (f.common.n == 1)
			rc = gitgate_io_pktf(s->io, e, "ACK %s\n", hex);
		else
			rc = 0;
		if (rc < 0)
			goto out;
	}
	/* done: the final ACK (or NAK when nothing is common), then the pack. */
	if (f.common.n == 0)
		rc = gitgate_io_pktf(s->io, e, "NAK\n");
	else if (mode != ACK_SINGLE)
		rc = gitgate_io_pktf(s->io, e, "ACK %s\n", last);
	else
		rc = 0;
	if (rc < 0)
		goto out;
	ret = gitgate_fetch_send(s, &f, "v0", e);
out:
	gitgate_fetch_free(&f);
	return ret;
}
