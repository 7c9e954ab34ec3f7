/* gitgate_upload.c - upload-pack on libgit2: wants, have negotiation (multi_ack_detailed), a pack from git_packbuilder on side-band-64k. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gitgate_int.h"

#define WANTS_MAX 100000
#define HAVES_MAX 100000 /* common commits remembered; the client stops sending after a few hundred in vain */

enum ack_mode { ACK_SINGLE, ACK_MULTI, ACK_DETAILED };

struct oid_list {
	git_oid *v;
	size_t n, cap, max;
};

static int oid_list_add(struct oid_list *l, const git_oid *id, struct bb_err *e)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		git_oid *nv;

		if (l->n >= l->max)
			return bb_errf(e, BB_ETOOBIG, "more than %zu object names", l->max);
		nv = realloc(l->v, ncap * sizeof *nv);
		if (!nv)
			return bb_errno(e, ENOMEM, "object list");
		l->v = nv;
		l->cap = ncap;
	}
	git_oid_cpy(&l->v[l->n++], id);
	return 0;
}

static int oid_list_has(const struct oid_list *l, const git_oid *id)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (git_oid_equal(&l->v[i], id))
			return 1;
	return 0;
}

struct pack_out {
	struct gitgate_session *s;
	struct bb_err *e;
	uint64_t bytes;
	int failed;
};

static int pack_chunk(void *buf, size_t size, void *payload)
{
	struct pack_out *po = payload;
	int rc;

	if (po->s->io->sideband)
		rc = gitgate_io_band(po->s->io, PKT_BAND_DATA, buf, size, po->e);
	else
		rc = gitgate_io_write(po->s->io, buf, size, po->e);
	if (rc < 0) {
		po->failed = 1;
		return -1;
	}
	po->bytes += size;
	return 0;
}

/*
 * A first clone of a mirror that is one pack and nothing else (as the
 * first refresh from upstream leaves it): that pack, sent as it is, has
 * every object the client can want, with upstream's deltas. libgit2 would
 * search for deltas again, which is most of a clone's time. The path of
 * the pack into out; 1 when it applies.
 */
static int single_pack(const char *mirror_path, char *out, size_t cap)
{
	char dir[PATH_MAX + 16];
	DIR *d;
	struct dirent *de;
	int packs = 0, loose = 0;

	snprintf(dir, sizeof dir, "%s/objects", mirror_path);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strlen(de->d_name) == 2 && isxdigit((unsigned char)de->d_name[0]) &&
		    isxdigit((unsigned char)de->d_name[1])) {
			char sub[PATH_MAX + 32];
			DIR *sd;
			struct dirent *se;

			snprintf(sub, sizeof sub, "%s/%s", dir, de->d_name);
			sd = opendir(sub);
			while (sd && (se = readdir(sd)) != NULL)
				if (se->d_name[0] != '.')
					loose = 1;
			if (sd)
				closedir(sd);
		}
	closedir(d);
	if (loose)
		return 0;
	snprintf(dir, sizeof dir, "%s/objects/pack", mirror_path);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (n > 5 && !strcmp(de->d_name + n - 5, ".pack") && packs++ == 0)
			snprintf(out, cap, "%s/%s", dir, de->d_name);
	}
	closedir(d);
	return packs == 1;
}

/* Send the file at path as the pack; its object count into *nobj; 0 or -1. */
static int send_pack_file(const char *path, struct pack_out *po, size_t *nobj, struct bb_err *e)
{
	char *chunk = malloc(65536);
	unsigned char hdr[12];
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc = -1;

	if (!chunk || fd < 0) {
		bb_errno(e, chunk ? errno : ENOMEM, "%s", path);
		goto out;
	}
	if (pread(fd, hdr, sizeof hdr, 0) == (ssize_t)sizeof hdr)
		*nobj = (size_t)hdr[8] << 24 | (size_t)hdr[9] << 16 | (size_t)hdr[10] << 8 | hdr[11];
	for (;;) {
		ssize_t r = read(fd, chunk, 65536);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			bb_errno(e, errno, "%s", path);
			goto out;
		}
		if (r == 0)
			break;
		if (pack_chunk(chunk, (size_t)r, po) < 0)
			goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	free(chunk);
	return rc;
}

/* Put what the wants name, minus what the common haves reach, into a pack and send it. */
static int send_pack(struct gitgate_session *s, const struct oid_list *wants, const struct oid_list *common,
		     struct bb_err *e)
{
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;
	struct pack_out po = { s, e, 0, 0 };
	struct timespec t0, t1;
	size_t i, nobj;
	int rc, ret = -1;
	char objs[24], bytes[24], ms[24], path[PATH_MAX + 300];
	const char *how = "built";

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (common->n == 0 && single_pack(s->mirror_path, path, sizeof path)) {
		nobj = 0;
		if (send_pack_file(path, &po, &nobj, e) < 0)
			goto out;
		how = "reused";
		goto sent;
	}
	rc = git_packbuilder_new(&pb, s->mirror);
	if (rc == 0) {
		/* Delta search on every core (libgit2 computes deltas, it cannot reuse the mirror's). */
		git_packbuilder_set_threads(pb, 0);
		rc = git_revwalk_new(&walk, s->mirror);
	}
	if (rc < 0) {
		gitssh_git_error(e, rc, NULL, "starting a pack");
		goto out;
	}
	for (i = 0; i < wants->n; i++) {
		git_object *obj = NULL;
		git_oid cur;
		int depth = 0;

		git_oid_cpy(&cur, &wants->v[i]);
		for (;;) {
			rc = git_object_lookup(&obj, s->mirror, &cur, GIT_OBJECT_ANY);
			if (rc < 0 || git_object_type(obj) != GIT_OBJECT_TAG || ++depth > 16)
				break;
			rc = git_packbuilder_insert(pb, &cur, NULL);
			git_oid_cpy(&cur, git_tag_target_id((git_tag *)obj));
			git_object_free(obj);
			obj = NULL;
			if (rc < 0)
				break;
		}
		if (rc == 0) {
			switch (git_object_type(obj)) {
			case GIT_OBJECT_COMMIT:
				rc = git_revwalk_push(walk, &cur);
				break;
			case GIT_OBJECT_TREE:
				rc = git_packbuilder_insert_tree(pb, &cur);
				break;
			default:
				rc = git_packbuilder_insert(pb, &cur, NULL);
				break;
			}
		}
		git_object_free(obj);
		if (rc < 0) {
			gitssh_git_error(e, rc, NULL, "collecting objects");
			goto out;
		}
	}
	for (i = 0; i < common->n; i++)
		git_revwalk_hide(walk, &common->v[i]);
	rc = git_packbuilder_insert_walk(pb, walk);
	if (rc < 0) {
		gitssh_git_error(e, rc, NULL, "collecting objects");
		goto out;
	}
	nobj = git_packbuilder_object_count(pb);
	rc = git_packbuilder_foreach(pb, pack_chunk, &po);
	if (rc < 0 || po.failed) {
		if (!po.failed)
			gitssh_git_error(e, rc, NULL, "writing the pack");
		goto out;
	}
sent:
	if (s->io->sideband && gitgate_io_flush_pkt(s->io, e) < 0)
		goto out;
	if (gitgate_io_flush(s->io, e) < 0)
		goto out;
	snprintf(objs, sizeof objs, "%zu", nobj);
	snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)po.bytes);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	snprintf(ms, sizeof ms, "%lld", (long long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	gitgate_log(s, "fetch", "pack", how, "objects", objs, "bytes", bytes, "ms", ms, (char *)NULL);
	ret = 0;
out:
	git_revwalk_free(walk);
	git_packbuilder_free(pb);
	return ret;
}

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

int gitgate_upload_pack(struct gitgate_session *s, struct bb_err *e)
{
	struct oid_list wants = { NULL, 0, 0, WANTS_MAX }, common = { NULL, 0, 0, HAVES_MAX };
	enum ack_mode mode = ACK_SINGLE;
	char hex[GITGATE_OID_HEX + 1], last[GITGATE_OID_HEX + 1] = "";
	struct pkt p;
	struct sv rest;
	git_oid id;
	int rc, ret = -1;

	/* Wants, up to a flush. */
	for (;;) {
		rc = gitgate_io_read_pkt(s->io, &p, e);
		if (rc < 0)
			goto out;
		if (rc == 0 || p.kind == PKT_FLUSH)
			break;
		if (p.kind != PKT_DATA) {
			gitgate_fail(s, "upload-pack: unexpected packet in the want list", e);
			goto out;
		}
		if (gitgate_oid_line_parse(pkt_text(&p), "want", hex, &rest, e) < 0) {
			struct sv t = pkt_text(&p);

			if (sv_starts_with(t, SV_LIT("shallow ")) || sv_starts_with(t, SV_LIT("deepen")))
				gitgate_fail(s, "shallow clones and fetches are not supported by this gate; fetch without --depth", e);
			else if (sv_starts_with(t, SV_LIT("filter ")))
				gitgate_fail(s, "partial clone filters are not supported by this gate", e);
			else
				gitgate_fail(s, e->msg, e);
			goto out;
		}
		if (wants.n == 0) {
			if (gitgate_caps_has(rest, "side-band-64k"))
				s->io->sideband = 2;
			else if (gitgate_caps_has(rest, "side-band"))
				s->io->sideband = 1;
			if (gitgate_caps_has(rest, "multi_ack_detailed"))
				mode = ACK_DETAILED;
			else if (gitgate_caps_has(rest, "multi_ack"))
				mode = ACK_MULTI;
		}
		git_oid_fromstr(&id, hex);
		if (!wantable(s->mirror, &id)) {
			char msg[128];

			snprintf(msg, sizeof msg, "upload-pack: not our ref %s", hex);
			gitgate_send_err(s->io, msg, NULL);
			bb_errf(e, BB_EINVAL, "%s", msg);
			goto out;
		}
		if (oid_list_add(&wants, &id, e) < 0) {
			gitgate_fail(s, e->msg, e);
			goto out;
		}
	}
	if (wants.n == 0) {
		ret = 0; /* an ls-remote, or the client is up to date */
		goto out;
	}
	/* Haves, in rounds ended by a flush, until "done". */
	for (;;) {
		rc = gitgate_io_read_pkt(s->io, &p, e);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			/* A stateless request may end after its haves; a connection may not. */
			ret = s->stateless ? gitgate_io_flush(s->io, e) : bb_errf(e, BB_EINVAL, "the client hung up during negotiation");
			goto out;
		}
		if (p.kind == PKT_FLUSH) {
			if (common.n == 0 || mode != ACK_SINGLE)
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
		git_oid_fromstr(&id, hex);
		if (!wantable(s->mirror, &id) || oid_list_has(&common, &id))
			continue;
		{
			git_commit *c = NULL;

			/* Only commits count as common ground for the walk. */
			if (git_commit_lookup(&c, s->mirror, &id) < 0)
				continue;
			git_commit_free(c);
		}
		if (oid_list_add(&common, &id, e) < 0) {
			gitgate_fail(s, e->msg, e);
			goto out;
		}
		memcpy(last, hex, sizeof last);
		if (mode == ACK_DETAILED)
			rc = gitgate_io_pktf(s->io, e, "ACK %s common\n", hex);
		else if (mode == ACK_MULTI)
			rc = gitgate_io_pktf(s->io, e, "ACK %s continue\n", hex);
		else if (common.n == 1)
			rc = gitgate_io_pktf(s->io, e, "ACK %s\n", hex);
		else
			rc = 0;
		if (rc < 0)
			goto out;
	}
	/* done: the final ACK (or NAK when nothing is common), then the pack. */
	if (common.n == 0)
		rc = gitgate_io_pktf(s->io, e, "NAK\n");
	else if (mode != ACK_SINGLE)
		rc = gitgate_io_pktf(s->io, e, "ACK %s\n", last);
	else
		rc = 0;
	if (rc < 0)
		goto out;
	ret = send_pack(s, &wants, &common, e);
out:
	free(wants.v);
	free(common.v);
	return ret;
}
