/* gitgate_packout.c - a fetch's pack written from the mirror's own packs: entries copied as they are (deltas too), whole objects only where a delta cannot go. */
#include <bearssl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "gitgate_fetch.h"
#include "gitpack.h"

#define SOURCES_MAX 512 /* packs looked at; objects in others are read through libgit2 */

/* One of the mirror's packs, mapped, with its entries sorted by offset. */
struct source {
	unsigned char *pack, *idxmap;
	size_t pack_len, idx_len;
	struct gitpack_idx idx;
	uint64_t *offs;  /* every entry's offset, ascending */
	uint32_t *pos;   /* the index position of offs[i] */
};

struct rec {
	git_oid id;
	uint32_t src; /* sources index + 1; 0: in no pack we read */
	uint64_t off; /* in that pack */
	uint64_t out; /* where it starts in the pack being written; 0 until written */
};

struct out {
	gitgate_pack_write_fn write;
	void *arg;
	br_sha1_context sha;
	uint64_t pos;
	struct bb_err *e;
};

static int emit(struct out *o, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	br_sha1_update(&o->sha, p, n);
	o->pos += n;
	return o->write(o->arg, p, n, o->e);
}

static void *map_file(const char *path, size_t *len)
{
	struct stat st;
	void *p;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || (uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	*len = (size_t)st.st_size;
	return p;
}

static void source_free(struct source *s)
{
	if (s->pack)
		munmap(s->pack, s->pack_len);
	if (s->idxmap)
		munmap(s->idxmap, s->idx_len);
	free(s->offs);
	free(s->pos);
	memset(s, 0, sizeof *s);
}

static const struct source *sort_src;

static int by_offset(const void *a, const void *b)
{
	uint64_t x = sort_src->offs[*(const uint32_t *)a], y = sort_src->offs[*(const uint32_t *)b];

	return x < y ? -1 : x > y;
}

/* Map NAME.idx and NAME.pack under dir and check they belong together; 0, or -1 (the pack is then not used). */
static int source_open(const char *dir, const char *idx_name, struct source *s)
{
	char path[PATH_MAX];
	size_t n = strlen(idx_name);
	uint32_t i, *order = NULL;
	uint32_t count;
	struct bb_err ignore;

	memset(s, 0, sizeof *s);
	if (n < 5 || (size_t)snprintf(path, sizeof path, "%s/%s", dir, idx_name) >= sizeof path)
		return -1;
	s->idxmap = map_file(path, &s->idx_len);
	if (!s->idxmap || gitpack_idx_parse(s->idxmap, s->idx_len, &s->idx, &ignore) < 0)
		goto bad;
	if ((size_t)snprintf(path, sizeof path, "%s/%.*s.pack", dir, (int)(n - 4), idx_name) >= sizeof path)
		goto bad;
	s->pack = map_file(path, &s->pack_len);
	if (!s->pack || s->pack_len < 12 + GITPACK_RAW || memcmp(s->pack, "PACK", 4) != 0)
		goto bad;
	count = (uint32_t)s->pack[8] << 24 | (uint32_t)s->pack[9] << 16 | (uint32_t)s->pack[10] << 8 | s->pack[11];
	if (count != s->idx.n || memcmp(s->pack + s->pack_len - GITPACK_RAW, s->idx.pack_sum, GITPACK_RAW) != 0)
		goto bad;
	s->offs = malloc((s->idx.n ? s->idx.n : 1) * sizeof *s->offs);
	s->pos = malloc((s->idx.n ? s->idx.n : 1) * sizeof *s->pos);
	order = malloc((s->idx.n ? s->idx.n : 1) * sizeof *order);
	if (!s->offs || !s->pos || !order)
		goto bad;
	for (i = 0; i < s->idx.n; i++) {
		if (gitpack_idx_offset(&s->idx, i, &s->offs[i], &ignore) < 0 || s->offs[i] < 12 ||
		    s->offs[i] >= s->pack_len - GITPACK_RAW)
			goto bad;
		order[i] = i;
	}
	sort_src = s;
	qsort(order, s->idx.n, sizeof *order, by_offset);
	for (i = 0; i < s->idx.n; i++)
		s->pos[i] = order[i];
	{
		uint64_t *sorted = malloc((s->idx.n ? s->idx.n : 1) * sizeof *sorted);

		if (!sorted)
			goto bad;
		for (i = 0; i < s->idx.n; i++) {
			sorted[i] = s->offs[order[i]];
			if (i && sorted[i] == sorted[i - 1]) {
				free(sorted);
				goto bad; /* two names at one offset: not an index of this pack */
			}
		}
		free(s->offs);
		s->offs = sorted;
	}
	free(order);
	return 0;
bad:
	free(order);
	source_free(s);
	return -1;
}

/* The position in offs of an entry starting exactly at off, or -1. */
static long entry_at(const struct source *s, uint64_t off)
{
	size_t lo = 0, hi = s->idx.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->offs[mid] == off)
			return (long)mid;
		if (s->offs[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static int by_size_desc(const void *a, const void *b)
{
	const struct source *x = a, *y = b;

	return x->pack_len > y->pack_len ? -1 : x->pack_len < y->pack_len;
}

/* Every pack of the mirror that can be read, the biggest first (it holds most objects, with the best deltas). */
static size_t sources_open(const char *mirror_path, struct source *v)
{
	char dir[PATH_MAX];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(dir, sizeof dir, "%s/objects/pack", mirror_path);
	d = opendir(dir);
	if (!d)
		return 0;
	while (n < SOURCES_MAX && (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l > 4 && !strcmp(de->d_name + l - 4, ".idx") && de->d_name[0] != '.' && source_open(dir, de->d_name, &v[n]) == 0)
			n++;
	}
	closedir(d);
	qsort(v, n, sizeof *v, by_size_desc);
	return n;
}

static int by_location(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	uint32_t xs = x->src ? x->src : UINT32_MAX, ys = y->src ? y->src : UINT32_MAX;

	if (xs != ys)
		return xs < ys ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* The whole object, read through libgit2 and compressed. */
static int write_whole(struct out *o, git_odb *odb, const git_oid *id)
{
	git_odb_object *obj = NULL;
	unsigned char hdr[GITPACK_HDR_MAX], zout[65536];
	z_stream z;
	const unsigned char *data;
	size_t len;
	int rc, zr, ret = -1;
	enum gitpack_type type;

	rc = git_odb_read(&obj, odb, id);
	if (rc < 0) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof hex, id);
		return bb_errf(o->e, BB_EINVAL, "the mirror cannot read object %s", hex);
	}
	switch (git_odb_object_type(obj)) {
	case GIT_OBJECT_COMMIT: type = GITPACK_COMMIT; break;
	case GIT_OBJECT_TREE: type = GITPACK_TREE; break;
	case GIT_OBJECT_BLOB: type = GITPACK_BLOB; break;
	case GIT_OBJECT_TAG: type = GITPACK_TAG; break;
	default:
		git_odb_object_free(obj);
		return bb_errf(o->e, BB_EINVAL, "object of an unknown type in the mirror");
	}
	data = git_odb_object_data(obj);
	len = git_odb_object_size(obj);
	if (emit(o, hdr, gitpack_header_write(hdr, type, len)) < 0) {
		git_odb_object_free(obj);
		return -1;
	}
	memset(&z, 0, sizeof z);
	if (deflateInit(&z, Z_DEFAULT_COMPRESSION) != Z_OK) {
		git_odb_object_free(obj);
		return bb_errno(o->e, ENOMEM, "deflate");
	}
	z.next_in = (unsigned char *)data;
	z.avail_in = 0;
	do {
		if (z.avail_in == 0 && len) {
			size_t k = len > 0x40000000u ? 0x40000000u : len;

			z.avail_in = (uInt)k;
			len -= k;
		}
		z.next_out = zout;
		z.avail_out = sizeof zout;
		zr = deflate(&z, len || z.avail_in ? Z_NO_FLUSH : Z_FINISH);
		if (zr == Z_STREAM_ERROR) {
			bb_errf(o->e, BB_EINVAL, "deflate failed");
			goto out;
		}
		if (emit(o, zout, sizeof zout - z.avail_out) < 0)
			goto out;
	} while (zr != Z_STREAM_END);
	ret = 0;
out:
	deflateEnd(&z);
	git_odb_object_free(obj);
	return ret;
}

int gitgate_fetch_pack(git_repository *repo, const char *mirror_path, const struct gitgate_fetch *f,
		       struct oidmap *objs, const struct gitgate_oids *list, gitgate_pack_write_fn write, void *arg,
		       struct gitgate_pack_stats *st, struct bb_err *e)
{
	struct source *src = calloc(SOURCES_MAX, sizeof *src);
	struct rec *recs = calloc(list->n ? list->n : 1, sizeof *recs);
	struct out o;
	git_odb *odb = NULL;
	size_t nsrc = 0, i, j;
	unsigned char head[12] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 }, sum[20];
	int thin = f->thin && f->filter.n == 0, ret = -1;

	memset(st, 0, sizeof *st);
	memset(&o, 0, sizeof o);
	o.write = write;
	o.arg = arg;
	o.e = e;
	br_sha1_init(&o.sha);
	if (!src || !recs) {
		bb_errno(e, ENOMEM, "pack of %zu objects", list->n);
		goto out;
	}
	if (list->n > UINT32_MAX) {
		bb_errf(e, BB_ETOOBIG, "more objects than a pack holds");
		goto out;
	}
	if (git_repository_odb(&odb, repo) < 0) {
		bb_errf(e, BB_EINVAL, "the mirror's object database cannot be opened");
		goto out;
	}
	nsrc = sources_open(mirror_path, src);
	for (i = 0; i < list->n; i++) {
		git_oid_cpy(&recs[i].id, &list->v[i]);
		for (j = 0; j < nsrc; j++) {
			long p = gitpack_idx_find(&src[j].idx, list->v[i].id);
			uint64_t off;

			if (p >= 0 && gitpack_idx_offset(&src[j].idx, (uint32_t)p, &off, NULL) == 0) {
				recs[i].src = (uint32_t)j + 1;
				recs[i].off = off;
				break;
			}
		}
	}
	/* Each pack's entries in their own order: a delta's base (an OFS_DELTA's always) comes before it. */
	qsort(recs, list->n, sizeof *recs, by_location);
	for (i = 0; i < list->n; i++) {
		struct oidmap_entry *me = oidmap_get(objs, recs[i].id.id);

		if (me)
			me->u64 = i + 1;
	}
	head[8] = (unsigned char)(list->n >> 24);
	head[9] = (unsigned char)(list->n >> 16);
	head[10] = (unsigned char)(list->n >> 8);
	head[11] = (unsigned char)list->n;
	if (emit(&o, head, sizeof head) < 0)
		goto out;
	for (i = 0; i < list->n; i++) {
		struct rec *r = &recs[i];
		const struct source *s = r->src ? &src[r->src - 1] : NULL;
		struct gitpack_entry ent;
		long k;
		uint64_t end;
		const unsigned char *base_id = NULL;
		const struct rec *b = NULL;
		unsigned char hdr[GITPACK_HDR_MAX + GITPACK_OFS_MAX + GITPACK_RAW];
		size_t hl;

		r->out = o.pos;
		if (!s || (k = entry_at(s, r->off)) < 0 ||
		    gitpack_entry_parse(s->pack, s->pack_len - GITPACK_RAW, r->off, &ent, NULL) < 0)
			goto whole;
		end = (size_t)k + 1 < s->idx.n ? s->offs[k + 1] : s->pack_len - GITPACK_RAW;
		if (end <= r->off + ent.hdr_len ||
		    crc32(0, s->pack + r->off, (uInt)(end - r->off)) != gitpack_idx_crc(&s->idx, s->pos[k]))
			goto whole; /* not what the index says: let libgit2 read (and check) it */
		if (ent.type < GITPACK_OFS_DELTA) {
			if (emit(&o, s->pack + r->off, (size_t)(end - r->off)) < 0)
				goto out;
			st->reused++;
			continue;
		}
		if (ent.type == GITPACK_OFS_DELTA) {
			long bk = entry_at(s, ent.base_off);

			if (bk < 0)
				goto whole;
			base_id = gitpack_idx_name(&s->idx, s->pos[bk]);
		} else {
			base_id = ent.base_id;
		}
		{
			const struct oidmap_entry *be = oidmap_get(objs, base_id);

			if (be && (be->flags & GITGATE_OBJ_SEND) && be->u64)
				b = &recs[be->u64 - 1];
			if (b && b->out) {
				/* The base is in this pack already. */
				if (f->ofs_delta) {
					hl = gitpack_header_write(hdr, GITPACK_OFS_DELTA, ent.size);
					hl += gitpack_ofs_write(hdr + hl, r->out - b->out);
				} else {
					hl = gitpack_header_write(hdr, GITPACK_REF_DELTA, ent.size);
					memcpy(hdr + hl, base_id, GITPACK_RAW);
					hl += GITPACK_RAW;
				}
			} else if (b || (thin && be && (be->flags & GITGATE_OBJ_HAVE))) {
				/*
				 * The base comes later (only when its copy is a whole object, so no
				 * chain can loop), or the client has it (a thin pack).
				 */
				struct gitpack_entry bent;
				const struct source *bs = b && b->src ? &src[b->src - 1] : NULL;

				if (b && (!bs || gitpack_entry_parse(bs->pack, bs->pack_len - GITPACK_RAW, b->off, &bent, NULL) < 0 ||
					  bent.type >= GITPACK_OFS_DELTA))
					goto whole;
				hl = gitpack_header_write(hdr, GITPACK_REF_DELTA, ent.size);
				memcpy(hdr + hl, base_id, GITPACK_RAW);
				hl += GITPACK_RAW;
			} else {
				goto whole;
			}
		}
		if (emit(&o, hdr, hl) < 0 || emit(&o, s->pack + r->off + ent.hdr_len, (size_t)(end - r->off - ent.hdr_len)) < 0)
			goto out;
		st->reused++;
		st->reused_deltas++;
		continue;
whole:
		if (write_whole(&o, odb, &r->id) < 0)
			goto out;
		st->inflated++;
	}
	br_sha1_out(&o.sha, sum);
	if (o.write(o.arg, sum, sizeof sum, e) < 0)
		goto out;
	st->objects = list->n;
	st->bytes = o.pos + sizeof sum;
	ret = 0;
out:
	for (i = 0; i < nsrc; i++)
		source_free(&src[i]);
	free(src);
	free(recs);
	git_odb_free(odb);
	return ret;
}
