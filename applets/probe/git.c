/* git.c - `bb probe git-commit` and `bb probe git-ls-remote`: libgit2 end to end, locally and over SSH. */
#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <string.h>
#include <sys/stat.h>

#include "applet.h"
#include "err.h"
#include "gitssh.h"
#include "log.h"
#include "opt.h"
#include "probe.h"

#define PROBE_README "hello from bb\n"
#define PROBE_MESSAGE "bb probe commit\n"
#define PROBE_BRANCH "refs/heads/main"
#define PROBE_AUTHOR_NAME "bb probe"
#define PROBE_AUTHOR_EMAIL "probe@bb.invalid"

static const char commit_usage[] =
	"usage: bb probe git-commit DIR\n"
	"Creates a git repository in DIR (which must not exist or be empty), commits\n"
	"README (\"hello from bb\") on main as \"" PROBE_AUTHOR_NAME " <" PROBE_AUTHOR_EMAIL ">\",\n"
	"then reopens the repository and reads the commit back. Prints the commit id\n"
	"and the README line; exit 1 if anything read back differs.";

static const char ls_remote_usage[] =
	"usage: bb probe git-ls-remote URL --key FILE --pub FILE --host-key FILE\n"
	"Lists the refs of an ssh:// remote (ssh://USER@HOST[:PORT]/PATH) as\n"
	"\"OID<TAB>REFNAME\" lines, like git ls-remote.\n"
	"  -k, --key FILE       private key (ECDSA P-256 or RSA PEM; no passphrase)\n"
	"  -p, --pub FILE       its public key (.pub)\n"
	"  -H, --host-key FILE  the server's host key, OpenSSH format (a .pub file or a\n"
	"                       known_hosts line); any other host key is refused (no TOFU)\n"
	"Nothing is read from ~/.ssh. Exit 1 when the host key or authentication is refused.";

/* Why the last libgit2 call failed, into e; returns -1. */
static int git_fail(struct bb_err *e, int rc, const char *what)
{
	return gitssh_git_error(e, rc, NULL, what);
}

/* DIR must not exist, or be an empty directory. */
static int check_target_dir(const char *dir, struct bb_err *e)
{
	struct stat st;
	struct dirent *d;
	DIR *dp;

	if (stat(dir, &st) < 0)
		return errno == ENOENT ? 0 : bb_errno(e, errno, "%s", dir);
	if (!S_ISDIR(st.st_mode))
		return bb_errf(e, BB_EINVAL, "%s exists and is not a directory", dir);
	dp = opendir(dir);
	if (!dp)
		return bb_errno(e, errno, "%s", dir);
	while ((d = readdir(dp)) != NULL) {
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) {
			closedir(dp);
			return bb_errf(e, BB_EINVAL, "%s is not empty", dir);
		}
	}
	closedir(dp);
	return 0;
}

/* Create the repository and the commit; *commit_id gets the commit. */
static int write_commit(const char *dir, git_oid *commit_id, struct bb_err *e)
{
	git_repository_init_options init;
	git_repository *repo = NULL;
	git_treebuilder *tb = NULL;
	git_signature *sig = NULL;
	git_tree *tree = NULL;
	git_oid blob_id, tree_id;
	git_checkout_options co;
	int rc, ret = -1;

	rc = git_repository_init_options_init(&init, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	if (rc < 0)
		return git_fail(e, rc, "git_repository_init_options_init");
	init.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
	init.initial_head = "main";
	if ((rc = git_repository_init_ext(&repo, dir, &init)) < 0) {
		git_fail(e, rc, "creating the repository");
		goto out;
	}
	if ((rc = git_blob_create_from_buffer(&blob_id, repo, PROBE_README, strlen(PROBE_README))) < 0) {
		git_fail(e, rc, "writing the README blob");
		goto out;
	}
	if ((rc = git_treebuilder_new(&tb, repo, NULL)) < 0 ||
	    (rc = git_treebuilder_insert(NULL, tb, "README", &blob_id, GIT_FILEMODE_BLOB)) < 0 ||
	    (rc = git_treebuilder_write(&tree_id, tb)) < 0 || (rc = git_tree_lookup(&tree, repo, &tree_id)) < 0) {
		git_fail(e, rc, "writing the tree");
		goto out;
	}
	if ((rc = git_signature_now(&sig, PROBE_AUTHOR_NAME, PROBE_AUTHOR_EMAIL)) < 0) {
		git_fail(e, rc, "making the signature");
		goto out;
	}
	if ((rc = git_commit_create(commit_id, repo, PROBE_BRANCH, sig, sig, NULL, PROBE_MESSAGE, tree, 0,
				    NULL)) < 0) {
		git_fail(e, rc, "writing the commit");
		goto out;
	}
	/* Fill the index and the work tree, so the result looks like any clone to git. */
	if ((rc = git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION)) < 0) {
		git_fail(e, rc, "git_checkout_options_init");
		goto out;
	}
	co.checkout_strategy = GIT_CHECKOUT_FORCE;
	if ((rc = git_checkout_head(repo, &co)) < 0) {
		git_fail(e, rc, "checking out main");
		goto out;
	}
	ret = 0;
out:
	git_signature_free(sig);
	git_tree_free(tree);
	git_treebuilder_free(tb);
	git_repository_free(repo);
	return ret;
}

/*
 * Reopen the repository and follow main to the commit and its README.
 * Returns 0 when all agrees, 1 when something read back differs (why in e),
 * -1 when reading failed.
 */
static int read_back(const char *dir, const git_oid *want, char oid_hex[41], struct bb_err *e)
{
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_blob *blob = NULL;
	const git_tree_entry *entry;
	const git_oid *target;
	const char *msg;
	int rc, ret = -1;

	if ((rc = git_repository_open(&repo, dir)) < 0) {
		git_fail(e, rc, "reopening the repository");
		goto out;
	}
	if ((rc = git_reference_lookup(&ref, repo, PROBE_BRANCH)) < 0) {
		git_fail(e, rc, "looking up " PROBE_BRANCH);
		goto out;
	}
	target = git_reference_target(ref);
	if (!target) {
		bb_errf(e, BB_EINVAL, PROBE_BRANCH " is a symbolic reference");
		ret = 1;
		goto out;
	}
	git_oid_tostr(oid_hex, 41, target);
	if (!git_oid_equal(target, want)) {
		char want_hex[41];

		git_oid_tostr(want_hex, sizeof want_hex, want);
		bb_errf(e, BB_EINVAL, PROBE_BRANCH " points at %s, not the commit written (%s)", oid_hex, want_hex);
		ret = 1;
		goto out;
	}
	if ((rc = git_commit_lookup(&commit, repo, target)) < 0) {
		git_fail(e, rc, "reading the commit");
		goto out;
	}
	msg = git_commit_message_raw(commit);
	if (!msg || strcmp(msg, PROBE_MESSAGE) != 0) {
		bb_errf(e, BB_EINVAL, "commit message read back is '%s', not '%s'", msg ? msg : "(none)",
			PROBE_MESSAGE);
		ret = 1;
		goto out;
	}
	if ((rc = git_commit_tree(&tree, commit)) < 0) {
		git_fail(e, rc, "reading the commit's tree");
		goto out;
	}
	entry = git_tree_entry_byname(tree, "README");
	if (!entry) {
		bb_errf(e, BB_EINVAL, "the commit's tree has no README");
		ret = 1;
		goto out;
	}
	if ((rc = git_blob_lookup(&blob, repo, git_tree_entry_id(entry))) < 0) {
		git_fail(e, rc, "reading the README blob");
		goto out;
	}
	if ((size_t)git_blob_rawsize(blob) != strlen(PROBE_README) ||
	    memcmp(git_blob_rawcontent(blob), PROBE_README, strlen(PROBE_README)) != 0) {
		bb_errf(e, BB_EINVAL, "README read back (%lld bytes) differs from what was written",
			(long long)git_blob_rawsize(blob));
		ret = 1;
		goto out;
	}
	ret = 0;
out:
	git_blob_free(blob);
	git_tree_free(tree);
	git_commit_free(commit);
	git_reference_free(ref);
	git_repository_free(repo);
	return ret;
}

int probe_git_commit(int argc, char **argv)
{
	struct bb_err e = { 0 };
	char oid_hex[41] = "";
	const char *dir;
	git_oid id;
	struct opt o;
	int c, rc;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)", commit_usage, &rc)) != -1)
		if (c == APPLET_OPT_EXIT)
			return rc;
	if (argc - o.ind != 1) {
		err_printf("expected one DIR\n%s", commit_usage);
		return BB_EXIT_USAGE;
	}
	dir = argv[o.ind];
	if (check_target_dir(dir, &e) < 0) {
		err_printf("%s", e.msg);
		return e.code == BB_EINVAL ? BB_EXIT_FAIL : BB_EXIT_SYSTEM;
	}
	if (git_libgit2_init() < 0) {
		gitssh_git_error(&e, -1, NULL, "git_libgit2_init");
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	rc = write_commit(dir, &id, &e);
	if (rc == 0)
		rc = read_back(dir, &id, oid_hex, &e);
	git_libgit2_shutdown();
	if (rc != 0) {
		err_printf("%s: %s", dir, e.msg);
		return BB_EXIT_FAIL;
	}
	out_printf("commit %s\n", oid_hex);
	out_printf("README: %.*s\n", (int)strlen(PROBE_README) - 1, PROBE_README);
	return BB_EXIT_OK;
}

static int print_ref(const char *refname, const char oid_hex[41], void *arg)
{
	(void)arg;
	out_printf("%s\t%s\n", oid_hex, refname);
	return 0;
}

int probe_git_ls_remote(int argc, char **argv)
{
	const char *key = NULL, *pub = NULL, *host_key_path = NULL, *url;
	struct gitssh_hostkey host_key;
	struct gitssh_auth auth;
	struct bb_err e = { 0 };
	struct opt o;
	int c, rc;

	opt_init(&o);
	while ((c = applet_opt(&o, argc, argv, "h(help)k:(key)p:(pub)H:(host-key)", ls_remote_usage, &rc)) != -1) {
		switch (c) {
		case APPLET_OPT_EXIT:
			return rc;
		case 'k':
			key = o.arg;
			break;
		case 'p':
			pub = o.arg;
			break;
		case 'H':
			host_key_path = o.arg;
			break;
		}
	}
	if (argc - o.ind != 1) {
		err_printf("expected one URL\n%s", ls_remote_usage);
		return BB_EXIT_USAGE;
	}
	url = argv[o.ind];
	if (!key || !pub || !host_key_path) {
		err_printf("--key, --pub and --host-key are all required\n%s", ls_remote_usage);
		return BB_EXIT_USAGE;
	}
	if (gitssh_url_check(url, &e) < 0) {
		err_printf("%s\n%s", e.msg, ls_remote_usage);
		return BB_EXIT_USAGE;
	}
	if (gitssh_hostkey_load(host_key_path, &host_key, &e) < 0) {
		err_printf("host key: %s", e.msg);
		return e.code == BB_EINVAL ? BB_EXIT_FAIL : BB_EXIT_SYSTEM;
	}
	if (git_libgit2_init() < 0) {
		gitssh_git_error(&e, -1, NULL, "git_libgit2_init");
		err_printf("%s", e.msg);
		return BB_EXIT_SYSTEM;
	}
	auth.privkey_path = key;
	auth.pubkey_path = pub;
	auth.host_key = &host_key;
	rc = gitssh_ls_remote(url, &auth, print_ref, NULL, &e);
	git_libgit2_shutdown();
	if (rc != 0) {
		err_printf("%s", e.msg);
		return BB_EXIT_FAIL;
	}
	return BB_EXIT_OK;
}
