/* test_gitpack.c - unit tests of lib/gitpack (pack index lookup, entry headers) against packs libgit2 writes and hand-made bytes, and of lib/oidmap. */
#include <dirent.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "gitpack.h"
#include "oidmap.h"
#include "t.h"

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void headers_round_trip(void)
{
	static const uint64_t sizes[] = { 0, 1, 15, 16, 127, 2048, 1u << 20, 1ULL << 40, UINT64_MAX };
	static const enum gitpack_type types[] = { GITPACK_COMMIT, GITPACK_TREE, GITPACK_BLOB, GITPACK_TAG };
	unsigned char pack[64];
	struct gitpack_entry ent;
	struct bb_err e = { 0 };
	size_t i, j, n;

	memset(pack, 0, sizeof pack);
	for (i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		for (j = 0; j < 4; j++) {
			n = gitpack_header_write(pack + 12, types[j], sizes[i]);
			T_CHECK(n >= 1 && n <= GITPACK_HDR_MAX);
			T_CHECK(gitpack_entry_parse(pack, sizeof pack, 12, &ent, &e) == 0);
			T_CHECK(ent.type == types[j] && ent.size == sizes[i] && ent.hdr_len == n);
		}
	/* A REF_DELTA: the base's name follows the header. */
	n = gitpack_header_write(pack + 12, GITPACK_REF_DELTA, 300);
	memset(pack + 12 + n, 0xab, GITPACK_RAW);
	T_CHECK(gitpack_entry_parse(pack, 12 + n + GITPACK_RAW, 12, &ent, &e) == 0);
	T_CHECK(ent.type == GITPACK_REF_DELTA && ent.size == 300 && ent.hdr_len == n + GITPACK_RAW && ent.base_id == pack + 12 + n);
	T_CHECK(gitpack_entry_parse(pack, 12 + n + GITPACK_RAW - 1, 12, &ent, &e) == -1);
}

static void ofs_distances(void)
{
	static const uint64_t dists[] = { 1, 2, 127, 128, 129, 16383, 16511, 16512, 16513, 100000, 2097279, 2097280, 3000000 };
	size_t len = 3200000, i;
	unsigned char *pack = calloc(1, len);
	struct gitpack_entry ent;
	struct bb_err e = { 0 };

	if (!pack) {
		T_CHECK(pack != NULL);
		return;
	}
	for (i = 0; i < sizeof dists / sizeof dists[0]; i++) {
		uint64_t off = 12 + dists[i];
		size_t n = gitpack_header_write(pack + off, GITPACK_OFS_DELTA, 77);
		size_t m = gitpack_ofs_write(pack + off + n, dists[i]);

		T_CHECK(m >= 1 && m <= GITPACK_OFS_MAX);
		T_CHECK(gitpack_entry_parse(pack, len, off, &ent, &e) == 0);
		T_CHECK(ent.type == GITPACK_OFS_DELTA && ent.base_off == 12 && ent.size == 77 && ent.hdr_len == n + m);
	}
	/* A distance reaching before the 12-byte pack header. */
	gitpack_ofs_write(pack + 100 + gitpack_header_write(pack + 100, GITPACK_OFS_DELTA, 1), 89);
	T_CHECK(gitpack_entry_parse(pack, len, 100, &ent, &e) == -1);
	free(pack);
}

static void entry_refusals(void)
{
	unsigned char pack[64];
	struct gitpack_entry ent;
	struct bb_err e = { 0 };

	memset(pack, 0, sizeof pack);
	pack[12] = 0x00; /* type 0 */
	T_CHECK(gitpack_entry_parse(pack, sizeof pack, 12, &ent, &e) == -1);
	pack[12] = 0x50; /* type 5 */
	T_CHECK(gitpack_entry_parse(pack, sizeof pack, 12, &ent, &e) == -1);
	/* A size varint that never ends. */
	memset(pack + 12, 0xb0, sizeof pack - 12);
	T_CHECK(gitpack_entry_parse(pack, sizeof pack, 12, &ent, &e) == -1);
	T_CHECK(gitpack_entry_parse(pack, 14, 12, &ent, &e) == -1);
	/* Offsets outside the pack. */
	pack[12] = 0x31;
	T_CHECK(gitpack_entry_parse(pack, sizeof pack, 11, &ent, &e) == -1);
	T_CHECK(gitpack_entry_parse(pack, sizeof pack, sizeof pack, &ent, &e) == -1);
	/* An OFS_DELTA whose distance bytes run out. */
	pack[12] = 0x61;
	pack[13] = 0x80;
	T_CHECK(gitpack_entry_parse(pack, 14, 12, &ent, &e) == -1);
	T_CHECK(gitpack_entry_parse(pack, 13, 12, &ent, &e) == -1);
}

/* An index with one object at a 64-bit offset: the layout rules. */
static void index_layout(void)
{
	size_t len = 8 + 1024 + 20 + 4 + 4 + 8 + 40, i;
	unsigned char *idx = calloc(1, len + 8);
	struct gitpack_idx x;
	struct bb_err e = { 0 };
	unsigned char name[20];
	uint64_t off;

	memcpy(idx, "\377tOc", 4);
	put32(idx + 4, 2);
	for (i = 0x42; i < 256; i++)
		put32(idx + 8 + 4 * i, 1);
	memset(name, 0, sizeof name);
	name[0] = 0x42;
	name[19] = 7;
	memcpy(idx + 8 + 1024, name, 20);
	put32(idx + 8 + 1024 + 20, 0xdeadbeef);
	put32(idx + 8 + 1024 + 24, 0x80000000u);
	put32(idx + 8 + 1024 + 28, 1);
	put32(idx + 8 + 1024 + 32, 5);
	T_CHECK(gitpack_idx_parse(idx, len, &x, &e) == 0);
	T_CHECK(x.n == 1 && x.nbig == 1);
	T_CHECK(gitpack_idx_find(&x, name) == 0);
	T_CHECK(gitpack_idx_crc(&x, 0) == 0xdeadbeef);
	T_CHECK(gitpack_idx_offset(&x, 0, &off, &e) == 0 && off == ((1ULL << 32) | 5));
	name[19] = 8;
	T_CHECK(gitpack_idx_find(&x, name) == -1);
	name[0] = 0x41;
	name[19] = 7;
	T_CHECK(gitpack_idx_find(&x, name) == -1);
	/* The same index without its 64-bit table: the offset names a slot it does not have. */
	memmove(idx + 8 + 1024 + 28, idx + 8 + 1024 + 36, 40);
	T_CHECK(gitpack_idx_parse(idx, len - 8, &x, &e) == 0 && x.nbig == 0);
	T_CHECK(gitpack_idx_offset(&x, 0, &off, &e) == -1);
	/* Lengths that are not the tables. */
	T_CHECK(gitpack_idx_parse(idx, len - 9, &x, &e) == -1);
	T_CHECK(gitpack_idx_parse(idx, len - 8 + 3, &x, &e) == -1);
	T_CHECK(gitpack_idx_parse(idx, 100, &x, &e) == -1);
	/* More 64-bit offsets than objects. */
	T_CHECK(gitpack_idx_parse(idx, len + 8, &x, &e) == -1);
	/* A fan-out that goes down. */
	put32(idx + 8 + 4 * 0x10, 2);
	T_CHECK(gitpack_idx_parse(idx, len - 8, &x, &e) == -1);
	put32(idx + 8 + 4 * 0x10, 0);
	/* Version 1, and another magic. */
	put32(idx + 4, 1);
	T_CHECK(gitpack_idx_parse(idx, len - 8, &x, &e) == -1);
	put32(idx + 4, 2);
	idx[0] = 'x';
	T_CHECK(gitpack_idx_parse(idx, len - 8, &x, &e) == -1);
	free(idx);
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 && (p = malloc((size_t)n)) &&
	    fread(p, 1, (size_t)n, f) != (size_t)n) {
		free(p);
		p = NULL;
	}
	if (p)
		*len = (size_t)n;
	fclose(f);
	return p;
}

struct each {
	const struct gitpack_idx *idx;
	const unsigned char *pack;
	size_t pack_len;
	uint64_t *offs;
	size_t n, deltas, bad;
};

static int by_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A pack libgit2 writes (blobs that differ a little: deltas): every object found, every entry parsed, CRCs right. */
static void real_pack(void)
{
	char dir[] = "/tmp/bb-test-gitpack.XXXXXX", packdir[600], path[800];
	git_repository *repo = NULL;
	git_packbuilder *pb = NULL;
	git_odb *odb = NULL;
	git_oid ids[40];
	DIR *d;
	struct dirent *de;
	unsigned char *idxb = NULL, *pack = NULL;
	size_t idx_len = 0, pack_len = 0, i, deltas = 0;
	struct gitpack_idx x;
	struct bb_err e = { 0 };
	uint64_t *offs = NULL;
	char base[4096];

	git_libgit2_init();
	T_CHECK(mkdtemp(dir) != NULL);
	T_CHECK(git_repository_init(&repo, dir, 1) == 0);
	T_CHECK(git_repository_odb(&odb, repo) == 0);
	for (i = 0; i < sizeof base; i++)
		base[i] = (char)('a' + (i * 7 + i / 13) % 26);
	for (i = 0; i < 40; i++) {
		base[(i * 97) % sizeof base] = (char)('A' + i % 26);
		T_CHECK(git_odb_write(&ids[i], odb, base, sizeof base, GIT_OBJECT_BLOB) == 0);
	}
	snprintf(packdir, sizeof packdir, "%s/objects/pack", dir);
	T_CHECK(git_packbuilder_new(&pb, repo) == 0);
	for (i = 0; i < 40; i++)
		T_CHECK(git_packbuilder_insert(pb, &ids[i], NULL) == 0);
	T_CHECK(git_packbuilder_write(pb, packdir, 0, NULL, NULL) == 0);
	d = opendir(packdir);
	while (d && (de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l > 4 && !strcmp(de->d_name + l - 4, ".idx")) {
			snprintf(path, sizeof path, "%s/%s", packdir, de->d_name);
			idxb = slurp(path, &idx_len);
			snprintf(path, sizeof path, "%s/%.*s.pack", packdir, (int)(l - 4), de->d_name);
			pack = slurp(path, &pack_len);
		}
	}
	if (d)
		closedir(d);
	T_CHECK(idxb && pack);
	if (idxb && pack && gitpack_idx_parse(idxb, idx_len, &x, &e) == 0) {
		T_CHECK(x.n == 40);
		T_CHECK(memcmp(x.pack_sum, pack + pack_len - 20, 20) == 0);
		offs = calloc(x.n, sizeof *offs);
		for (i = 0; i < x.n; i++)
			T_CHECK(gitpack_idx_offset(&x, (uint32_t)i, &offs[i], &e) == 0);
		qsort(offs, x.n, sizeof *offs, by_u64);
		for (i = 0; i < 40; i++) {
			long pos = gitpack_idx_find(&x, ids[i].id);
			uint64_t off, end;
			struct gitpack_entry ent;
			size_t k;

			T_CHECK(pos >= 0);
			if (pos < 0)
				continue;
			T_CHECK(memcmp(gitpack_idx_name(&x, (uint32_t)pos), ids[i].id, 20) == 0);
			T_CHECK(gitpack_idx_offset(&x, (uint32_t)pos, &off, &e) == 0);
			T_CHECK(gitpack_entry_parse(pack, pack_len - 20, off, &ent, &e) == 0);
			for (k = 0; k < x.n && offs[k] != off; k++)
				;
			end = k + 1 < x.n ? offs[k + 1] : pack_len - 20;
			T_CHECK(crc32(0, pack + off, (uInt)(end - off)) == gitpack_idx_crc(&x, (uint32_t)pos));
			if (ent.type == GITPACK_OFS_DELTA || ent.type == GITPACK_REF_DELTA) {
				deltas++;
				if (ent.type == GITPACK_OFS_DELTA) {
					for (k = 0; k < x.n && offs[k] != ent.base_off; k++)
						;
					T_CHECK(k < x.n); /* the base is an entry of this pack */
				}
			} else {
				T_CHECK(ent.type == GITPACK_BLOB && ent.size == sizeof base);
			}
		}
		T_CHECK(deltas > 0);
	} else {
		T_CHECK(0);
	}
	free(offs);
	free(idxb);
	free(pack);
	git_packbuilder_free(pb);
	git_odb_free(odb);
	git_repository_free(repo);
	git_libgit2_shutdown();
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	T_CHECK(system(path) == 0);
}

static void oidmap_basics(void)
{
	struct oidmap m;
	struct bb_err e = { 0 };
	unsigned char id[20], zero[20];
	size_t i, pos = 0, seen = 0;
	int added;

	oidmap_init(&m, 5000);
	memset(zero, 0, sizeof zero);
	for (i = 0; i < 5000; i++) {
		struct oidmap_entry *me;

		memset(id, 0, sizeof id);
		/* Names that share their first eight bytes in groups: the seeded hash still spreads them. */
		put32(id + 8, (uint32_t)i);
		id[0] = (unsigned char)(i % 3);
		id[19] = 1;
		me = oidmap_add(&m, id, &added, &e);
		T_CHECK(me && added);
		if (me)
			me->u64 = i;
	}
	T_CHECK(m.n == 5000);
	for (i = 0; i < 5000; i += 7) {
		struct oidmap_entry *me;

		memset(id, 0, sizeof id);
		put32(id + 8, (uint32_t)i);
		id[0] = (unsigned char)(i % 3);
		id[19] = 1;
		me = oidmap_get(&m, id);
		T_CHECK(me && me->u64 == i);
		T_CHECK(oidmap_add(&m, id, &added, &e) == me && !added);
	}
	/* Over the cap, and the null name. */
	memset(id, 0xff, sizeof id);
	T_CHECK(oidmap_add(&m, id, &added, &e) == NULL && e.code == BB_ETOOBIG);
	T_CHECK(oidmap_get(&m, id) == NULL);
	T_CHECK(oidmap_add(&m, zero, &added, &e) == NULL);
	T_CHECK(oidmap_get(&m, zero) == NULL);
	while (oidmap_next(&m, &pos))
		seen++;
	T_CHECK(seen == 5000);
	oidmap_free(&m);
	T_CHECK(oidmap_get(&m, id) == NULL);
}

int main(void)
{
	T_RUN(headers_round_trip);
	T_RUN(ofs_distances);
	T_RUN(entry_refusals);
	T_RUN(index_layout);
	T_RUN(real_pack);
	T_RUN(oidmap_basics);
	T_END();
}
