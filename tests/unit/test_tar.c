/* test_tar.c - tar writer/reader round trips, every reader refusal, and safe layer application (lib/tar, lib/image). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "fd.h"
#include "image.h"
#include "sidecar.h"
#include "t.h"
#include "tar.h"

/* ---- helpers: archives built in memory ---- */

/* Everything written to a temp fd, read back into b. */
static int fd_to_buf(int fd, struct buf *b)
{
	struct bb_err e = { 0 };

	if (lseek(fd, 0, SEEK_SET) < 0)
		return -1;
	buf_reset(b);
	return fd_read_all(fd, b, &e);
}

static int tmpfd(void)
{
	char path[] = "/tmp/bb-test-tar.XXXXXX";
	int fd = mkstemp(path);

	if (fd >= 0)
		unlink(path);
	return fd;
}

/* A raw ustar header (for member types the writer does not make), with a correct checksum. */
static void raw_header(char *h, const char *name, char type, const char *link, unsigned long size)
{
	unsigned sum = 0;

	memset(h, 0, TAR_BLOCK);
	snprintf(h, 100, "%s", name);
	snprintf(h + 100, 8, "%07o", 0644);
	snprintf(h + 108, 8, "%07o", 0);
	snprintf(h + 116, 8, "%07o", 0);
	snprintf(h + 124, 12, "%011lo", size & 077777777777UL);
	snprintf(h + 136, 12, "%011o", 0);
	h[156] = type;
	if (link)
		snprintf(h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
}

/* An archive under construction: raw members appended to a buffer. */
static void add_raw(struct buf *b, const char *name, char type, const char *link, const char *data)
{
	char h[TAR_BLOCK], pad[TAR_BLOCK] = { 0 };
	size_t n = data ? strlen(data) : 0;

	raw_header(h, name, type, link, n);
	buf_append(b, h, sizeof h, NULL);
	if (n) {
		buf_append(b, data, n, NULL);
		buf_append(b, pad, (TAR_BLOCK - n % TAR_BLOCK) % TAR_BLOCK, NULL);
	}
}

static void end_raw(struct buf *b)
{
	char z[2 * TAR_BLOCK] = { 0 };

	buf_append(b, z, sizeof z, NULL);
}

/* Read every member of b; returns members seen, or -1 with e filled. */
static int read_all(const struct buf *b, struct bb_err *e, struct tar_entry *last, uint64_t max_entries)
{
	struct tar_mem m = { b->p, b->len, 0 };
	struct tar_reader r;
	struct tar_entry t;
	int n = 0, k;

	tar_reader_init(&r, tar_mem_read, &m);
	r.max_entries = max_entries;
	while ((k = tar_next(&r, &t, e)) == 1) {
		n++;
		if (last)
			*last = t;
	}
	return k < 0 ? -1 : n;
}

/* A fresh root directory under /tmp for layer tests. */
static char root_path[64];

static int new_root(void)
{
	snprintf(root_path, sizeof root_path, "/tmp/bb-test-root.XXXXXX");
	if (!mkdtemp(root_path))
		return -1;
	return open(root_path, O_RDONLY | O_DIRECTORY);
}

static void drop_root(int fd)
{
	close(fd);
	fd_remove_tree(root_path);
}

/* Apply the layer in b onto root_fd; 0 or -1 with e. */
static int apply(int root_fd, const struct buf *b, struct img_apply_stats *st, struct bb_err *e)
{
	struct tar_mem m = { b->p, b->len, 0 };
	struct tar_reader r;
	struct img_apply_opts o = { 0 };

	tar_reader_init(&r, tar_mem_read, &m);
	return img_apply_layer(root_fd, &r, &o, st, e);
}

static int exists_at(int root_fd, const char *path)
{
	struct stat st;

	return fstatat(root_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* ---- writer + reader ---- */

static void round_trip(void)
{
	struct tar_meta fm = { 0640, 1000, 1001, 1700000000 }, dm = { 0755, 0, 0, 1700000000 };
	struct bb_err e = { 0 };
	struct tar_writer w;
	struct buf b = BUF_INIT(1 << 20);
	char longname[300], longlink[200], got[64];
	struct tar_mem m;
	struct tar_reader r;
	struct tar_entry t;
	int fd = tmpfd();

	memset(longname, 'a', sizeof longname - 1);
	longname[150] = '/';
	longname[sizeof longname - 1] = '\0';
	memset(longlink, 'b', sizeof longlink - 1);
	longlink[sizeof longlink - 1] = '\0';
	tar_writer_init(&w, fd, NULL, NULL);
	T_CHECK(tar_add_dir(&w, "d", &dm, &e) == 0);
	T_CHECK(tar_add_file_mem(&w, "d/f", &fm, "hello", 5, &e) == 0);
	T_CHECK(tar_add_file_mem(&w, longname, &fm, "x", 1, &e) == 0);
	T_CHECK(tar_add_symlink(&w, "d/l", longlink, &dm, &e) == 0);
	T_CHECK(tar_add_file_mem(&w, "empty", &fm, "", 0, &e) == 0);
	T_CHECK(tar_finish(&w, &e) == 0);
	T_CHECK(w.written % TAR_BLOCK == 0);
	T_CHECK(fd_to_buf(fd, &b) == 0);
	T_CHECK(b.len == w.written);
	close(fd);

	m = (struct tar_mem){ b.p, b.len, 0 };
	tar_reader_init(&r, tar_mem_read, &m);
	T_CHECK(tar_next(&r, &t, &e) == 1);
	T_STREQ(t.path, "d/");
	T_CHECK(t.type == TAR_DIR && t.meta.mode == 0755);
	T_CHECK(tar_next(&r, &t, &e) == 1);
	T_STREQ(t.path, "d/f");
	T_CHECK(t.type == TAR_FILE && t.size == 5 && t.meta.mode == 0640 && t.meta.uid == 1000 && t.meta.gid == 1001 &&
		t.meta.mtime == 1700000000);
	T_CHECK(tar_read_data(&r, got, 3, &e) == 3 && !memcmp(got, "hel", 3));
	/* The rest of d/f is skipped by the next tar_next. */
	T_CHECK(tar_next(&r, &t, &e) == 1);
	T_STREQ(t.path, longname); /* pax path */
	T_CHECK(t.size == 1);
	T_CHECK(tar_next(&r, &t, &e) == 1);
	T_CHECK(t.type == TAR_SYMLINK);
	T_STREQ(t.link, longlink); /* pax linkpath */
	T_CHECK(tar_next(&r, &t, &e) == 1);
	T_CHECK(t.size == 0 && tar_read_data(&r, got, sizeof got, &e) == 0);
	T_CHECK(tar_next(&r, &t, &e) == 0);
	T_CHECK(tar_next(&r, &t, &e) == 0);
	buf_free(&b);
}

/* GNU tar's own output reads back (long names as 'L' members when --format=gnu). */
static void reads_gnu_tar(void)
{
	char dir[] = "/tmp/bb-test-gnu.XXXXXX", cmd[512], longname[220];
	struct bb_err e = { 0 };
	struct buf b = BUF_INIT(1 << 20);
	struct tar_entry t;
	int n;

	if (!mkdtemp(dir) || system("command -v tar >/dev/null") != 0) {
		printf("# no tar: skipped\n");
		return;
	}
	memset(longname, 'q', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	snprintf(cmd, sizeof cmd, "cd %s && mkdir s && echo hi > s/%s && tar --format=gnu -cf g.tar s", dir, longname);
	T_CHECK(system(cmd) == 0);
	snprintf(cmd, sizeof cmd, "%s/g.tar", dir);
	T_CHECK(fd_read_file(cmd, 1 << 20, &b, &e) == 0);
	n = read_all(&b, &e, &t, 0);
	T_CHECK(n == 2);
	snprintf(cmd, sizeof cmd, "s/%s", longname);
	T_STREQ(t.path, cmd);
	T_CHECK(t.size == 3);
	buf_free(&b);
	fd_remove_tree(dir);
}

static void refuses_bad_checksum(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct bb_err e = { 0 };

	add_raw(&b, "f", '0', NULL, "data");
	end_raw(&b);
	b.p[10] ^= 1;
	T_CHECK(read_all(&b, &e, NULL, 0) < 0 && strstr(e.msg, "checksum"));
	buf_free(&b);
}

static void refuses_truncation(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct bb_err e = { 0 };
	struct buf cut = BUF_INIT(1 << 20);

	add_raw(&b, "f", '0', NULL, "some data here");
	end_raw(&b);
	/* Cut inside the content, after the header, and where the end marker would be. */
	buf_append(&cut, b.p, 520, NULL);
	T_CHECK(read_all(&cut, &e, NULL, 0) < 0 && strstr(e.msg, "truncated"));
	buf_reset(&cut);
	buf_append(&cut, b.p, 1024, NULL);
	bb_err_clear(&e);
	T_CHECK(read_all(&cut, &e, NULL, 0) < 0 && strstr(e.msg, "truncated"));
	buf_reset(&cut);
	buf_append(&cut, b.p, 300, NULL);
	bb_err_clear(&e);
	T_CHECK(read_all(&cut, &e, NULL, 0) < 0 && strstr(e.msg, "truncated"));
	/* One zero block then EOF is an end (GNU tar accepts it). */
	buf_reset(&cut);
	buf_append(&cut, b.p, 1024 + 512, NULL);
	T_CHECK(read_all(&cut, &e, NULL, 0) == 1);
	buf_free(&b);
	buf_free(&cut);
}

static void refuses_unknown_type(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct bb_err e = { 0 };

	add_raw(&b, "weird", 'S', NULL, NULL);
	end_raw(&b);
	T_CHECK(read_all(&b, &e, NULL, 0) < 0 && strstr(e.msg, "'weird'") && strstr(e.msg, "unsupported member type"));
	buf_free(&b);
}

static void refuses_caps(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct bb_err e = { 0 };
	struct tar_mem m;
	struct tar_reader r;
	struct tar_entry t;
	char pax[TAR_PATH_MAX + 64], name[TAR_PATH_MAX + 2];

	for (int i = 0; i < 5; i++)
		add_raw(&b, "f", '0', NULL, "x");
	end_raw(&b);
	T_CHECK(read_all(&b, &e, NULL, 4) < 0 && strstr(e.msg, "entry count cap"));
	T_CHECK(read_all(&b, &e, NULL, 5) == 5);

	m = (struct tar_mem){ b.p, b.len, 0 };
	tar_reader_init(&r, tar_mem_read, &m);
	r.max_entry_size = 0;
	buf_reset(&b);
	add_raw(&b, "big", '0', NULL, "0123456789");
	end_raw(&b);
	m = (struct tar_mem){ b.p, b.len, 0 };
	tar_reader_init(&r, tar_mem_read, &m);
	r.max_entry_size = 9;
	bb_err_clear(&e);
	T_CHECK(tar_next(&r, &t, &e) < 0 && strstr(e.msg, "'big'") && strstr(e.msg, "cap"));

	/* A pax path one byte past TAR_PATH_MAX. */
	memset(name, 'n', TAR_PATH_MAX + 1);
	name[TAR_PATH_MAX + 1] = '\0';
	{
		size_t body = strlen(name) + strlen(" path=\n");
		size_t len = body + 4; /* 4 digits */

		snprintf(pax, sizeof pax, "%zu path=%s\n", len, name);
	}
	buf_reset(&b);
	add_raw(&b, "PaxHeaders/x", 'x', NULL, pax);
	add_raw(&b, "short", '0', NULL, NULL);
	end_raw(&b);
	bb_err_clear(&e);
	T_CHECK(read_all(&b, &e, NULL, 0) < 0 && strstr(e.msg, "path length cap"));
	buf_free(&b);
}

static void refuses_bad_pax(void)
{
	static const char *const bad[] = { "5 path\n", "99 path=x\n", "x path=y\n", "12 size=1a\n",
					   "23 GNU.sparse.major=1\n" };
	struct bb_err e = { 0 };

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct buf b = BUF_INIT(1 << 20);

		add_raw(&b, "PaxHeaders/f", 'x', NULL, bad[i]);
		add_raw(&b, "f", '0', NULL, NULL);
		end_raw(&b);
		bb_err_clear(&e);
		if (read_all(&b, &e, NULL, 0) >= 0) {
			printf("#   pax record accepted: %s", bad[i]);
			T_CHECK(0);
		}
		buf_free(&b);
	}
}

static void clean_path_rules(void)
{
	static const struct {
		const char *in, *out;
	} good[] = { { "./a/b", "a/b" }, { "/etc/passwd", "etc/passwd" }, { "a//b/./c/", "a/b/c" },
		     { "./", "" },       { "...", "..." },                { "a/..b", "a/..b" } };
	static const char *const bad[] = { "../x", "a/../b", "a/..", "/..", "./../../etc" };
	char out[TAR_PATH_MAX + 1], small[8];
	struct bb_err e = { 0 };

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		T_CHECK(tar_clean_path(good[i].in, out, sizeof out, &e) == 0);
		T_STREQ(out, good[i].out);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		bb_err_clear(&e);
		T_CHECK(tar_clean_path(bad[i], out, sizeof out, &e) < 0 && strstr(e.msg, "'..'"));
	}
	T_CHECK(tar_clean_path("abcdefghij", small, sizeof small, &e) < 0 && strstr(e.msg, "path length cap"));
}

static void symlink_inside_rules(void)
{
	T_CHECK(tar_symlink_inside("usr/lib/x", "../bin/y"));
	T_CHECK(tar_symlink_inside("usr/lib/x", "../../etc"));
	T_CHECK(!tar_symlink_inside("usr/lib/x", "../../../etc"));
	T_CHECK(tar_symlink_inside("bin", "/usr/bin"));
	T_CHECK(!tar_symlink_inside("x", "/../etc/passwd"));
	T_CHECK(!tar_symlink_inside("a/x", "b/../../../y"));
	T_CHECK(tar_symlink_inside("a/x", "b/../../y"));
	T_CHECK(!tar_symlink_inside("x", ".."));
	T_CHECK(tar_symlink_inside("x", "./."));
}

/* ---- layer application ---- */

static void apply_basic_and_replace(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct img_apply_stats st = { 0 };
	struct bb_err e = { 0 };
	char got[16] = { 0 };
	int root = new_root(), fd;

	add_raw(&b, "./", '5', NULL, NULL);
	add_raw(&b, "./etc/", '5', NULL, NULL);
	add_raw(&b, "./etc/hosts", '0', NULL, "v1");
	add_raw(&b, "./etc/hosts", '0', NULL, "v2"); /* later wins */
	add_raw(&b, "./etc/link", '1', "etc/hosts", NULL);
	add_raw(&b, "./bin", '2', "usr/bin", NULL);
	add_raw(&b, "./abs", '2', "/etc/hosts", NULL);
	add_raw(&b, "./deep/a/b/c", '0', NULL, "z"); /* parents made */
	end_raw(&b);
	T_CHECK(apply(root, &b, &st, &e) == 0);
	if (e.msg[0])
		printf("#   %s\n", e.msg);
	fd = openat(root, "etc/hosts", O_RDONLY);
	T_CHECK(fd >= 0 && read(fd, got, sizeof got) == 2 && !strcmp(got, "v2"));
	fd_close(fd);
	{
		struct stat a, l;

		T_CHECK(fstatat(root, "etc/hosts", &a, 0) == 0 && fstatat(root, "etc/link", &l, 0) == 0 && a.st_ino == l.st_ino);
	}
	T_CHECK(exists_at(root, "bin") && exists_at(root, "deep/a/b/c"));
	T_CHECK(st.entries == 8 && st.bytes == 5);
	drop_root(root);
	buf_free(&b);
}

/* Each hostile member is refused with a message naming it, and nothing lands outside the root. */
static void apply_refusals(void)
{
	static const struct {
		const char *why;
		const char *name, *link, *data, *pre_name, *pre_link;
		char type, pre_type;
		const char *expect;
	} cases[] = {
		{ "traversal", "../escape", NULL, "x", NULL, NULL, '0', 0, "'..'" },
		{ "traversal inside", "a/../../escape", NULL, "x", NULL, NULL, '0', 0, "'..'" },
		{ "relative symlink escape", "a/l", "../../../etc", NULL, NULL, NULL, '2', 0, "leaves the root" },
		{ "absolute symlink escape", "l", "/../../etc", NULL, NULL, NULL, '2', 0, "leaves the root" },
		{ "write through symlink", "ln/passwd", NULL, "owned", "ln", "/tmp", '0', '2', "through the symlink 'ln'" },
		{ "dir through symlink", "ln/sub/", NULL, NULL, "ln", "/tmp", '5', '2', "through the symlink 'ln'" },
		{ "hard link through symlink", "h", "ln/x", NULL, "ln", "/etc", '1', '2', "through the symlink 'ln'" },
		{ "hard link to nothing", "h", "nope", NULL, NULL, NULL, '1', 0, "does not exist" },
		{ "hard link traversal", "h", "../../etc/passwd", NULL, NULL, NULL, '1', 0, "'..'" },
		{ "write under a file", "f/x", NULL, "x", "f", NULL, '0', '0', "not a directory" },
		{ "malformed whiteout", "a/.wh.", NULL, NULL, NULL, NULL, '0', 0, "malformed whiteout" },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf b = BUF_INIT(1 << 20);
		struct img_apply_stats st = { 0 };
		struct bb_err e = { 0 };
		int root = new_root();

		if (cases[i].pre_name)
			add_raw(&b, cases[i].pre_name, cases[i].pre_type, cases[i].pre_link, cases[i].pre_link ? NULL : "f");
		add_raw(&b, cases[i].name, cases[i].type, cases[i].link, cases[i].data);
		end_raw(&b);
		if (apply(root, &b, &st, &e) == 0 || !strstr(e.msg, cases[i].expect) || !strstr(e.msg, cases[i].name)) {
			printf("#   %s: %s\n", cases[i].why, e.msg[0] ? e.msg : "accepted");
			T_CHECK(0);
		}
		drop_root(root);
		buf_free(&b);
	}
	{
		struct stat st;

		T_CHECK(stat("/tmp/passwd", &st) < 0 && stat("/tmp/sub", &st) < 0 && stat("/tmp/escape", &st) < 0);
	}
}

static void apply_skips_devices(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct img_apply_stats st = { 0 };
	struct bb_err e = { 0 };
	int root = new_root();

	add_raw(&b, "dev/null", '3', NULL, NULL);
	add_raw(&b, "dev/sda", '4', NULL, NULL);
	add_raw(&b, "pipe", '6', NULL, NULL);
	add_raw(&b, "ok", '0', NULL, "x");
	end_raw(&b);
	T_CHECK(apply(root, &b, &st, &e) == 0);
	T_CHECK(st.skipped == 3 && !exists_at(root, "dev/null") && !exists_at(root, "dev/sda") && !exists_at(root, "pipe") &&
		exists_at(root, "ok"));
	drop_root(root);
	buf_free(&b);
}

static void apply_whiteouts(void)
{
	struct buf l1 = BUF_INIT(1 << 20), l2 = BUF_INIT(1 << 20);
	struct img_apply_stats st = { 0 };
	struct bb_err e = { 0 };
	int root = new_root();

	add_raw(&l1, "keep", '0', NULL, "k");
	add_raw(&l1, "gone", '0', NULL, "g");
	add_raw(&l1, "gonedir/sub/f", '0', NULL, "g");
	add_raw(&l1, "opq/old", '0', NULL, "o");
	add_raw(&l1, "opq/olddir/x", '0', NULL, "o");
	end_raw(&l1);
	/* The same layer's new content in opq survives its opaque marker, wherever the marker comes. */
	add_raw(&l2, "opq/new", '0', NULL, "n");
	add_raw(&l2, ".wh.gone", '0', NULL, NULL);
	add_raw(&l2, ".wh.gonedir", '0', NULL, NULL);
	add_raw(&l2, "opq/.wh..wh..opq", '0', NULL, NULL);
	add_raw(&l2, "nothere/.wh.x", '0', NULL, NULL);
	end_raw(&l2);
	T_CHECK(apply(root, &l1, &st, &e) == 0);
	T_CHECK(apply(root, &l2, &st, &e) == 0);
	if (e.msg[0])
		printf("#   %s\n", e.msg);
	T_CHECK(exists_at(root, "keep") && !exists_at(root, "gone") && !exists_at(root, "gonedir"));
	T_CHECK(exists_at(root, "opq/new") && !exists_at(root, "opq/old") && !exists_at(root, "opq/olddir"));
	T_CHECK(!exists_at(root, ".wh.gone") && !exists_at(root, "opq/.wh..wh..opq"));
	T_CHECK(st.whiteouts == 4);
	drop_root(root);
	buf_free(&l1);
	buf_free(&l2);
}

static void apply_caps(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct bb_err e = { 0 };
	int root = new_root();
	struct tar_mem m;
	struct tar_reader r;
	struct img_apply_opts o = { 0 };
	struct img_apply_stats st = { 0 };

	add_raw(&b, "a", '0', NULL, "12345");
	add_raw(&b, "b", '0', NULL, "12345");
	end_raw(&b);
	m = (struct tar_mem){ b.p, b.len, 0 };
	tar_reader_init(&r, tar_mem_read, &m);
	o.max_bytes = 9;
	T_CHECK(img_apply_layer(root, &r, &o, &st, &e) < 0 && strstr(e.msg, "'b'") && strstr(e.msg, "size cap"));
	m = (struct tar_mem){ b.p, b.len, 0 };
	tar_reader_init(&r, tar_mem_read, &m);
	memset(&st, 0, sizeof st);
	o.max_bytes = 0;
	o.max_entries = 1;
	bb_err_clear(&e);
	T_CHECK(img_apply_layer(root, &r, &o, &st, &e) < 0 && strstr(e.msg, "'b'") && strstr(e.msg, "entry count cap"));
	drop_root(root);
	buf_free(&b);
}

/* The sidecar archive reads back: manifest.json, the config named by its digest, one layer with /bb. */
static void sidecar_archive_reads_back(void)
{
	struct bb_err e = { 0 };
	struct buf b = BUF_INIT(64 << 20);
	struct tar_entry t;
	char id[72];
	int fd = tmpfd(), n, saw_manifest = 0, saw_config = 0;
	struct tar_mem m;
	struct tar_reader r;

	T_CHECK(img_sidecar_archive("/proc/self/exe", fd, "unit", id, &e) == 0);
	T_CHECK(!strncmp(id, "sha256:", 7) && strlen(id) == 71);
	T_CHECK(fd_to_buf(fd, &b) == 0);
	close(fd);
	m = (struct tar_mem){ b.p, b.len, 0 };
	tar_reader_init(&r, tar_mem_read, &m);
	while ((n = tar_next(&r, &t, &e)) == 1) {
		if (!strcmp(t.path, "manifest.json")) {
			char body[512] = { 0 };

			saw_manifest = 1;
			T_CHECK(tar_read_data(&r, body, sizeof body - 1, &e) > 0);
			T_CHECK(strstr(body, "\"bb-sidecar:unit\"") != NULL);
		}
		if (!strncmp(t.path, id + 7, 64) && !strcmp(t.path + 64, ".json"))
			saw_config = 1;
	}
	T_CHECK(n == 0 && saw_manifest && saw_config);
	T_CHECK(img_sidecar_archive("/proc/self/exe", 1, "bad tag!", NULL, &e) < 0);
	buf_free(&b);
}

/* GNU base-256 numbers (sizes past 8 GiB, big uids) read back; negative ones are refused. */
static void reads_base256(void)
{
	struct buf b = BUF_INIT(1 << 20);
	struct bb_err e = { 0 };
	struct tar_entry t;
	char h[TAR_BLOCK], pad[TAR_BLOCK] = { 0 };
	unsigned sum = 0;

	raw_header(h, "b256", '0', NULL, 0);
	memset(h + 124, 0, 12);
	h[124] = (char)0x80;
	h[135] = 5; /* size 5 */
	memset(h + 108, 0, 8);
	h[108] = (char)0x80;
	h[113] = 0x01; /* uid 65536 */
	memset(h + 148, ' ', 8);
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)h[i];
	snprintf(h + 148, 8, "%06o", sum);
	buf_append(&b, h, sizeof h, NULL);
	buf_append(&b, "hello", 5, NULL);
	buf_append(&b, pad, TAR_BLOCK - 5, NULL);
	end_raw(&b);
	T_CHECK(read_all(&b, &e, &t, 0) == 1);
	T_CHECK(t.size == 5 && t.meta.uid == 65536);
	b.p[124] = (char)0xff; /* negative */
	sum = 0;
	memset(b.p + 148, ' ', 8);
	for (int i = 0; i < TAR_BLOCK; i++)
		sum += (unsigned char)b.p[i];
	snprintf(b.p + 148, 8, "%06o", sum);
	T_CHECK(read_all(&b, &e, NULL, 0) < 0 && strstr(e.msg, "bad size field"));
	buf_free(&b);
}

/* img_rootfs_path names the image when it is not imported, and refuses bad names. */
static void rootfs_path_errors(void)
{
	char out[4096], home[] = "/tmp/bb-test-home.XXXXXX";
	struct bb_err e = { 0 };

	T_CHECK(mkdtemp(home) != NULL);
	setenv("BB_HOME", home, 1);
	T_CHECK(img_rootfs_path("absent", out, sizeof out, &e) < 0 && strstr(e.msg, "image absent is not imported"));
	bb_err_clear(&e);
	T_CHECK(img_rootfs_path("../etc", out, sizeof out, &e) < 0 && strstr(e.msg, "must match"));
	snprintf(out, sizeof out, "%s/.bb/images/there/rootfs", home);
	{
		char cmd[4200];

		snprintf(cmd, sizeof cmd, "mkdir -p %s", out);
		T_CHECK(system(cmd) == 0);
	}
	T_CHECK(img_rootfs_path("there", out, sizeof out, &e) == 0 && strstr(out, "/.bb/images/there/rootfs"));
	unsetenv("BB_HOME");
	fd_remove_tree(home);
}

int main(void)
{
	T_RUN(round_trip);
	T_RUN(reads_gnu_tar);
	T_RUN(refuses_bad_checksum);
	T_RUN(refuses_truncation);
	T_RUN(refuses_unknown_type);
	T_RUN(refuses_caps);
	T_RUN(refuses_bad_pax);
	T_RUN(clean_path_rules);
	T_RUN(symlink_inside_rules);
	T_RUN(apply_basic_and_replace);
	T_RUN(apply_refusals);
	T_RUN(apply_skips_devices);
	T_RUN(apply_whiteouts);
	T_RUN(apply_caps);
	T_RUN(sidecar_archive_reads_back);
	T_RUN(reads_base256);
	T_RUN(rootfs_path_errors);
	T_END();
}
