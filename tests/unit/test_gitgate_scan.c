/* test_gitgate_scan.c - unit tests of lib/gitgate_scan on repositories made here with libgit2: what a push adds, and only that. */
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "gitgate_scan.h"
#include "t.h"

static char root[256];
static git_repository *mirror, *staged;
static struct scan_engine *eng;
static git_signature *sig;
/* A made-up token of the github-pat shape, built at run time. */
static char secret[64];

static void make_secret(void)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned x = 12345;
	size_t i;

	memcpy(secret, "ghp_", 4);
	for (i = 4; i < 40; i++) {
		x = x * 1103515245u + 12345u;
		secret[i] = alnum[(x >> 16) % 62];
	}
	secret[40] = 0;
}

/* Files for a commit: "path" = "content"; one directory level at most ("dir/file"). */
struct file {
	const char *path, *content;
	size_t len; /* 0: strlen(content) */
};

static int insert_file(git_repository *repo, git_treebuilder *tb, const char *name, const struct file *f)
{
	git_oid blob;

	if (git_blob_create_from_buffer(&blob, repo, f->content, f->len ? f->len : strlen(f->content)) < 0)
		return -1;
	return git_treebuilder_insert(NULL, tb, name, &blob, GIT_FILEMODE_BLOB);
}

/* A tree of files (written into repo's own object database). */
static int make_tree(git_repository *repo, const struct file *files, size_t n, git_oid *out)
{
	git_treebuilder *tb = NULL;
	size_t i, j;
	int rc = git_treebuilder_new(&tb, repo, NULL);

	for (i = 0; rc == 0 && i < n; i++) {
		const char *slash = strchr(files[i].path, '/');
		char dir[64];
		git_treebuilder *sub = NULL;
		git_oid subid;

		if (!slash) {
			rc = insert_file(repo, tb, files[i].path, &files[i]);
			continue;
		}
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - files[i].path), files[i].path);
		if (git_treebuilder_get(tb, dir))
			continue; /* done with the first file of this directory */
		rc = git_treebuilder_new(&sub, repo, NULL);
		for (j = i; rc == 0 && j < n; j++)
			if (!strncmp(files[j].path, dir, strlen(dir)) && files[j].path[strlen(dir)] == '/')
				rc = insert_file(repo, sub, files[j].path + strlen(dir) + 1, &files[j]);
		if (rc == 0)
			rc = git_treebuilder_write(&subid, sub);
		if (rc == 0)
			rc = git_treebuilder_insert(NULL, tb, dir, &subid, GIT_FILEMODE_TREE);
		git_treebuilder_free(sub);
	}
	if (rc == 0)
		rc = git_treebuilder_write(out, tb);
	git_treebuilder_free(tb);
	return rc;
}

static git_oid commit(git_repository *repo, const git_oid *p1, const git_oid *p2, const struct file *files, size_t n)
{
	git_oid tree_id, id;
	git_tree *tree = NULL;
	git_commit *parents[2] = { NULL, NULL };
	size_t np = 0;

	memset(&id, 0, sizeof id);
	if (make_tree(repo, files, n, &tree_id) < 0 || git_tree_lookup(&tree, repo, &tree_id) < 0)
		return id;
	if (p1 && git_commit_lookup(&parents[np], repo, p1) == 0)
		np++;
	if (p2 && git_commit_lookup(&parents[np], repo, p2) == 0)
		np++;
	git_commit_create(&id, repo, NULL, sig, sig, NULL, "test", tree, np, (const git_commit **)parents);
	git_commit_free(parents[0]);
	git_commit_free(parents[1]);
	git_tree_free(tree);
	return id;
}

static void set_ref(git_repository *repo, const char *name, const git_oid *id)
{
	git_reference *r = NULL;

	git_reference_create(&r, repo, name, id, 1, NULL);
	git_reference_free(r);
}

/* Scan one ref; returns the number of findings (-1 on error). */
static int scan(const char *ref, const git_oid *old, const git_oid *new_id, struct gitgate_scan *sc)
{
	struct bb_err e = { 0 };

	if (gitgate_scan_ref(sc, ref, old, new_id, &e) < 0) {
		printf("#   scan error: %s\n", e.msg);
		return -1;
	}
	return (int)sc->nfindings;
}

static char content[512];
static const char *with_secret(const char *before)
{
	snprintf(content, sizeof content, "%sapi_token = \"%s\"\n", before, secret);
	return content;
}

/* The gate already has: main = base (which holds an old secret in legacy.conf). */
static git_oid base, base2;

static void setup(void)
{
	struct bb_err e = { 0 };
	char path[300];
	git_odb *odb = NULL;
	struct file f1[] = { { "README", "hello\n", 0 }, { "legacy.conf", NULL, 0 } };
	char legacy[200];

	make_secret();
	snprintf(root, sizeof root, "/tmp/bb-test-gitgate-scan.XXXXXX");
	if (!mkdtemp(root))
		return;
	git_libgit2_init();
	git_signature_new(&sig, "t", "t@bb.invalid", 1700000000, 0);
	snprintf(path, sizeof path, "%s/mirror.git", root);
	git_repository_init(&mirror, path, 1);
	snprintf(path, sizeof path, "%s/staged.git", root);
	git_repository_init(&staged, path, 1);
	snprintf(path, sizeof path, "%s/mirror.git/objects", root);
	git_repository_odb(&odb, staged);
	git_odb_add_disk_alternate(odb, path);
	git_odb_free(odb);
	snprintf(legacy, sizeof legacy, "old = \"%s\"\n", secret);
	f1[1].content = legacy;
	base = commit(mirror, NULL, NULL, f1, 2);
	{
		struct file f2[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", legacy, 0 } };

		base2 = commit(mirror, &base, NULL, f2, 2);
	}
	set_ref(mirror, "refs/heads/main", &base2);
	if (gitgate_scan_engine_build(NULL, NULL, &eng, &e) < 0)
		printf("# engine: %s\n", e.msg);
}

static void teardown(void)
{
	char cmd[400];

	git_repository_free(staged);
	git_repository_free(mirror);
	git_signature_free(sig);
	scan_engine_free(eng);
	git_libgit2_shutdown();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", root);
}

static void finds_secret_in_new_commit(void)
{
	struct gitgate_scan sc;
	struct bb_err e = { 0 };
	struct file f[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", "", 0 }, { "app/deploy.env", NULL, 0 } };
	git_oid c;
	char hex[41];

	f[1].content = "x\n";
	f[2].content = with_secret("# one\n# two\n");
	c = commit(staged, &base2, NULL, f, 3);
	T_CHECK(gitgate_scan_init(&sc, staged, mirror, eng, &e) == 0);
	T_CHECK(scan("refs/heads/main", &base2, &c, &sc) >= 1);
	git_oid_tostr(hex, sizeof hex, &c);
	T_STREQ(sc.findings[0].object, hex);
	T_STREQ(sc.findings[0].path, "app/deploy.env");
	T_CHECK(sc.findings[0].line == 3);
	T_STREQ(sc.findings[0].rule, "github-pat");
	T_CHECK(strstr(sc.findings[0].excerpt, secret) == NULL);
	T_CHECK(strstr(sc.findings[0].excerpt, "REDACTED") != NULL);
	T_CHECK(sc.stats.commits == 1);
	gitgate_scan_free(&sc);
}

static void old_history_is_not_rescanned(void)
{
	struct gitgate_scan sc;
	struct bb_err e = { 0 };
	char legacy[200];
	git_oid c;

	snprintf(legacy, sizeof legacy, "old = \"%s\"\n", secret);
	{
		struct file f[] = { { "README", "hello\nworld\nagain\n", 0 }, { "legacy.conf", legacy, 0 } };

		c = commit(staged, &base2, NULL, f, 2);
	}
	T_CHECK(gitgate_scan_init(&sc, staged, mirror, eng, &e) == 0);
	/* An update: old..new. */
	T_CHECK(scan("refs/heads/main", &base2, &c, &sc) == 0);
	T_CHECK(sc.stats.commits == 1);
	/* A new branch from it: new --not (every ref the gate has). */
	T_CHECK(scan("refs/heads/topic", NULL, &c, &sc) == 0);
	gitgate_scan_free(&sc);
}

static void added_then_removed_is_found(void)
{
	struct gitgate_scan sc;
	struct bb_err e = { 0 };
	char legacy[200];
	git_oid c1, c2;

	snprintf(legacy, sizeof legacy, "old = \"%s\"\n", secret);
	{
		struct file f1[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", legacy, 0 }, { "tmp", NULL, 0 } };
		struct file f2[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", legacy, 0 } };

		f1[2].content = with_secret("");
		c1 = commit(staged, &base2, NULL, f1, 3);
		c2 = commit(staged, &c1, NULL, f2, 2);
	}
	T_CHECK(gitgate_scan_init(&sc, staged, mirror, eng, &e) == 0);
	T_CHECK(scan("refs/heads/main", &base2, &c2, &sc) >= 1);
	T_STREQ(sc.findings[0].path, "tmp");
	T_CHECK(sc.stats.commits == 2);
	gitgate_scan_free(&sc);
}

static void modified_file_reports_its_line(void)
{
	struct gitgate_scan sc;
	struct bb_err e = { 0 };
	char legacy[200], readme[300];
	git_oid c;

	snprintf(legacy, sizeof legacy, "old = \"%s\"\n", secret);
	/* README was "hello\nworld\n": a line is changed, two are added after it; the secret is on line 4. */
	snprintf(readme, sizeof readme, "hello\nWORLD\nmore\napi_token = \"%s\"\n", secret);
	{
		struct file f[] = { { "README", readme, 0 }, { "legacy.conf", legacy, 0 } };

		c = commit(staged, &base2, NULL, f, 2);
	}
	T_CHECK(gitgate_scan_init(&sc, staged, mirror, eng, &e) == 0);
	T_CHECK(scan("refs/heads/main", &base2, &c, &sc) >= 1);
	T_STREQ(sc.findings[0].path, "README");
	T_CHECK(sc.findings[0].line == 4);
	/* Only the added lines were fed: WORLD, more and the token line. */
	T_CHECK(sc.stats.lines == 3);
	gitgate_scan_free(&sc);
}

static void binary_scanned_rename_and_allowlist_skipped(void)
{
	struct gitgate_scan sc;
	struct bb_err e = { 0 };
	struct scan_engine *allow = NULL;
	char legacy[200], bin[200];
	size_t bl, i;
	git_oid c;

	snprintf(legacy, sizeof legacy, "old = \"%s\"\n", secret);
	/* Binary: a NUL byte before the secret. It is scanned as bytes. */
	bl = (size_t)snprintf(bin, sizeof bin, "X%ctoken = \"%s\"\n", 0, secret);
	{
		/* legacy.conf renamed (exactly), a binary file, and a secret under testdata/. */
		struct file f[] = { { "README", "hello\nworld\n", 0 },
				    { "moved.conf", legacy, 0 },
				    { "blob.bin", bin, bl },
				    { "testdata/x.env", NULL, 0 } };

		f[3].content = with_secret("");
		c = commit(staged, &base2, NULL, f, 4);
	}
	T_CHECK(gitgate_scan_init(&sc, staged, mirror, eng, &e) == 0);
	/* Without a path allowlist: the binary file and testdata/x.env; the exact rename adds nothing. */
	T_CHECK(scan("refs/heads/main", &base2, &c, &sc) >= 2);
	T_STREQ(sc.findings[0].path, "blob.bin");
	T_STREQ(sc.findings[sc.nfindings - 1].path, "testdata/x.env");
	for (i = 0; i < sc.nfindings; i++)
		T_CHECK(strcmp(sc.findings[i].path, "moved.conf") != 0);
	gitgate_scan_free(&sc);
	/* With one, only the binary file. */
	T_CHECK(scan_engine_new(&allow, &e) == 0);
	T_CHECK(scan_engine_allow_path(allow, "(^|/)testdata/", &e) == 0);
	T_CHECK(scan_engine_finish(allow, &e) == 0);
	T_CHECK(gitgate_scan_init(&sc, staged, mirror, allow, &e) == 0);
	T_CHECK(scan("refs/heads/main", &base2, &c, &sc) >= 1);
	for (i = 0; i < sc.nfindings; i++)
		T_STREQ(sc.findings[i].path, "blob.bin");
	gitgate_scan_free(&sc);
	scan_engine_free(allow);
}

/* A binary file changed to hold a secret is scanned whole (there is no line diff of it). */
static void binary_change_scanned_whole(void)
{
	struct gitgate_scan sc;
	struct bb_err e = { 0 };
	char legacy[200], bin1[200], bin2[300];
	size_t l1, l2;
	git_oid a, b;

	snprintf(legacy, sizeof legacy, "old = \"%s\"\n", secret);
	l1 = (size_t)snprintf(bin1, sizeof bin1, "BIN%c%cclean payload\n", 0, 1);
	l2 = (size_t)snprintf(bin2, sizeof bin2, "BIN%c%cclean payload\ntoken = \"%s\"\n", 0, 1, secret);
	{
		struct file fa[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", legacy, 0 }, { "app.bin", bin1, l1 } };
		struct file fb[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", legacy, 0 }, { "app.bin", bin2, l2 } };

		a = commit(staged, &base2, NULL, fa, 3);
		b = commit(staged, &a, NULL, fb, 3);
	}
	T_CHECK(gitgate_scan_init(&sc, staged, mirror, eng, &e) == 0);
	T_CHECK(scan("refs/heads/main", &a, &b, &sc) >= 1);
	T_STREQ(sc.findings[0].path, "app.bin");
	T_CHECK(sc.findings[0].line == 2);
	gitgate_scan_free(&sc);
}

/* Names the agent chooses are scanned and shown only redacted: a ref's, a path's, a tag's. */
static void names_scanned_and_redacted(void)
{
	struct gitgate_scan sc;
	struct bb_err e = { 0 };
	char ref[200], shown[200], path[120], legacy[200], tagname[100], label[160];
	git_object *target = NULL;
	git_oid c, tag;
	size_t i;

	T_CHECK(gitgate_scan_init(&sc, staged, mirror, eng, &e) == 0);
	snprintf(ref, sizeof ref, "refs/heads/x-%s", secret);
	T_CHECK(gitgate_scan_name(&sc, "ref name", ref, shown, sizeof shown, &e) >= 1);
	T_STREQ(sc.findings[0].path, "ref name");
	T_STREQ(shown, "refs/heads/x-[REDACTED]");
	T_CHECK(gitgate_scan_name(&sc, "ref name", "refs/heads/feature-42", shown, sizeof shown, &e) == 0);
	T_STREQ(shown, "refs/heads/feature-42");
	/* a path holding a secret: found, and every finding shows the path redacted */
	snprintf(legacy, sizeof legacy, "old = \"%s\"\n", secret);
	snprintf(path, sizeof path, "keys/%s.txt", secret);
	{
		struct file f[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", legacy, 0 }, { path, NULL, 0 } };

		f[2].content = with_secret("");
		c = commit(staged, &base2, NULL, f, 3);
	}
	T_CHECK(scan("refs/heads/p", &base2, &c, &sc) >= 2);
	T_STREQ(sc.findings[0].path, "path");
	for (i = 0; i < sc.nfindings; i++)
		T_CHECK(strstr(sc.findings[i].path, secret) == NULL && strstr(sc.findings[i].excerpt, secret) == NULL);
	T_STREQ(sc.findings[sc.nfindings - 1].path, "keys/[REDACTED].txt");
	/* a tag object's own name */
	snprintf(tagname, sizeof tagname, "v-%s", secret);
	git_object_lookup(&target, staged, &base2, GIT_OBJECT_COMMIT);
	git_tag_create(&tag, staged, tagname, target, sig, "release\n", 0);
	git_object_free(target);
	T_CHECK(scan("refs/tags/v1", NULL, &tag, &sc) >= 1);
	T_STREQ(sc.findings[0].path, "tag name");
	snprintf(label, sizeof label, "tag v-%s", secret);
	for (i = 0; i < sc.nfindings; i++)
		T_CHECK(strcmp(sc.findings[i].path, label) != 0);
	gitgate_scan_free(&sc);
}

/* What the decoders add to a push: encoded secrets, split lines; and what they cannot read fails the scan. */
static void decoded_in_pushes(void)
{
	struct gitgate_scan sc;
	struct bb_err e = { 0 };
	char legacy[200], b64[2100], line[200], nested[2048], tmp[2048], split[300], apart[300];
	size_t n, k, d;
	git_oid c1, c2, c3, c4;

	snprintf(legacy, sizeof legacy, "old = \"%s\"\n", secret);
	n = (size_t)snprintf(line, sizeof line, "api_token = \"%s\"", secret);
	b64_encode(line, n, B64_PAD, tmp, sizeof tmp, &k, NULL);
	snprintf(b64, sizeof b64, "data: %s\n", tmp);
	/* split across two added lines; and the same halves in two hunks apart (not joined) */
	snprintf(split, sizeof split, "hello\nworld\nkey = \"%.20s\" +\n  \"%s\"\n", secret, secret + 20);
	snprintf(apart, sizeof apart, "%.20s\nworld\n%s\n", secret, secret + 20);
	{
		struct file f1[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", legacy, 0 }, { "enc.yaml", b64, 0 } };
		struct file f2[] = { { "README", split, 0 }, { "legacy.conf", legacy, 0 } };
		struct file f3[] = { { "README", apart, 0 }, { "legacy.conf", legacy, 0 } };

		c1 = commit(staged, &base2, NULL, f1, 3);
		c2 = commit(staged, &base2, NULL, f2, 2);
		c3 = commit(staged, &base2, NULL, f3, 2);
	}
	T_CHECK(gitgate_scan_init(&sc, staged, mirror, eng, &e) == 0);
	T_CHECK(scan("refs/heads/b64", &base2, &c1, &sc) >= 1);
	T_STREQ(sc.findings[0].path, "enc.yaml");
	T_CHECK(scan("refs/heads/split", &base2, &c2, &sc) >= 1);
	T_STREQ(sc.findings[0].path, "README");
	T_CHECK(sc.findings[0].line == 3);
	T_CHECK(scan("refs/heads/apart", &base2, &c3, &sc) == 0);
	/* base64 four deep: not read, and the ref is refused for it */
	memcpy(nested, line, n + 1);
	for (d = 0; d < 4; d++) {
		b64_encode(nested, n, B64_PAD, tmp, sizeof tmp, &n, NULL);
		memcpy(nested, tmp, n + 1);
	}
	{
		struct file f4[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", legacy, 0 }, { "deep.txt", nested, 0 } };

		c4 = commit(staged, &base2, NULL, f4, 3);
	}
	T_CHECK(gitgate_scan_ref(&sc, "refs/heads/deep", &base2, &c4, &e) == -1);
	T_CHECK(strstr(e.msg, "deep.txt") && strstr(e.msg, "not scanned whole"));
	gitgate_scan_free(&sc);
}

static void merges_skip_what_the_other_side_brought(void)
{
	struct gitgate_scan sc;
	struct bb_err e = { 0 };
	char legacy[200];
	git_oid side, merge, evil;

	snprintf(legacy, sizeof legacy, "old = \"%s\"\n", secret);
	/* A branch from base (before README got "world"), merged with main (base2). */
	{
		struct file fs[] = { { "README", "hello\n", 0 }, { "legacy.conf", legacy, 0 }, { "side.txt", "side\n", 0 } };
		struct file fm[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", legacy, 0 }, { "side.txt", "side\n", 0 } };
		struct file fe[] = { { "README", "hello\nworld\n", 0 },
				     { "legacy.conf", legacy, 0 },
				     { "side.txt", "side\n", 0 },
				     { "evil.txt", NULL, 0 } };

		side = commit(staged, &base, NULL, fs, 3);
		merge = commit(staged, &side, &base2, fm, 3);
		fe[3].content = with_secret("");
		evil = commit(staged, &side, &base2, fe, 4);
	}
	T_CHECK(gitgate_scan_init(&sc, staged, mirror, eng, &e) == 0);
	/* README's new line came whole from main: not scanned again; side.txt is clean. */
	T_CHECK(scan("refs/heads/side", NULL, &merge, &sc) == 0);
	T_CHECK(sc.stats.commits == 2);
	/* A file that exists in neither parent is the merge's own. */
	T_CHECK(scan("refs/heads/evil", NULL, &evil, &sc) >= 1);
	T_STREQ(sc.findings[0].path, "evil.txt");
	gitgate_scan_free(&sc);
}

static void tags_messages_and_refusals(void)
{
	struct gitgate_scan sc;
	struct bb_err e = { 0 };
	git_object *target = NULL;
	git_oid tag_bad, tag_ok, blob;
	char msg[200];

	snprintf(msg, sizeof msg, "release\n\nkey %s\n", secret);
	git_object_lookup(&target, staged, &base2, GIT_OBJECT_COMMIT);
	git_tag_create(&tag_bad, staged, "v9", target, sig, msg, 0);
	git_tag_create(&tag_ok, staged, "v8", target, sig, "fine\n", 0);
	git_object_free(target);
	T_CHECK(gitgate_scan_init(&sc, staged, mirror, eng, &e) == 0);
	T_CHECK(scan("refs/tags/v9", NULL, &tag_bad, &sc) == 1);
	T_STREQ(sc.findings[0].path, "tag v9");
	T_CHECK(sc.findings[0].line == 3);
	T_CHECK(scan("refs/tags/v8", NULL, &tag_ok, &sc) == 0);
	T_CHECK(sc.stats.tags == 2);
	/* A ref to a blob the gate never had is refused (only commits and tags of commits). */
	git_blob_create_from_buffer(&blob, staged, "x", 1);
	T_CHECK(gitgate_scan_ref(&sc, "refs/heads/blob", NULL, &blob, &e) == -1);
	T_CHECK(strstr(e.msg, "blob") != NULL);
	gitgate_scan_free(&sc);
}

static void clean_tips_are_not_scanned_twice(void)
{
	struct gitgate_scan sc;
	struct bb_err e = { 0 };
	char legacy[200];
	git_oid a, b;

	snprintf(legacy, sizeof legacy, "old = \"%s\"\n", secret);
	{
		struct file fa[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", legacy, 0 }, { "a", "a\n", 0 } };
		struct file fb[] = { { "README", "hello\nworld\n", 0 }, { "legacy.conf", legacy, 0 }, { "a", "a\n", 0 },
				     { "b", "b\n", 0 } };

		a = commit(staged, &base2, NULL, fa, 3);
		b = commit(staged, &a, NULL, fb, 4);
	}
	T_CHECK(gitgate_scan_init(&sc, staged, mirror, eng, &e) == 0);
	T_CHECK(scan("refs/heads/one", NULL, &a, &sc) == 0);
	T_CHECK(sc.stats.commits == 1);
	T_CHECK(scan("refs/heads/two", NULL, &b, &sc) == 0);
	T_CHECK(sc.stats.commits == 2); /* only b: a was found clean for "one" */
	gitgate_scan_free(&sc);
}

int main(void)
{
	setup();
	if (!mirror || !staged || !eng) {
		printf("not ok - setup: could not make the test repositories\n");
		return 1;
	}
	T_RUN(finds_secret_in_new_commit);
	T_RUN(old_history_is_not_rescanned);
	T_RUN(added_then_removed_is_found);
	T_RUN(modified_file_reports_its_line);
	T_RUN(binary_scanned_rename_and_allowlist_skipped);
	T_RUN(binary_change_scanned_whole);
	T_RUN(names_scanned_and_redacted);
	T_RUN(decoded_in_pushes);
	T_RUN(merges_skip_what_the_other_side_brought);
	T_RUN(tags_messages_and_refusals);
	T_RUN(clean_tips_are_not_scanned_twice);
	teardown();
	T_END();
}
