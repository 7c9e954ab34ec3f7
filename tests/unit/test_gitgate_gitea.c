/* test_gitgate_gitea.c - lib/gitgate_gitea: P-256 deploy keys, repo paths; with GITEA_FIXTURE_URL set, the API calls against a fixture server. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gitgate_gitea.h"
#include "gitssh.h"
#include "t.h"

static void keygen_makes_ssh_keys(void)
{
	struct gitgate_keypair a, b;
	struct gitssh_hostkey k;
	struct bb_err e = { 0 };

	T_CHECK(gitgate_keygen_p256(&a, "bb-gate-test", &e) == 0);
	T_CHECK(gitgate_keygen_p256(&b, NULL, &e) == 0);
	T_CHECK(strncmp(a.priv_pem, "-----BEGIN EC PRIVATE KEY-----\n", 31) == 0);
	T_CHECK(strstr(a.priv_pem, "-----END EC PRIVATE KEY-----") != NULL);
	T_CHECK(strlen(a.priv_pem) == a.priv_len);
	/* The public line is a valid OpenSSH key of the right type and shape (parsed by the pinning code). */
	T_CHECK(gitssh_hostkey_parse(sv_from(a.pub_line), &k, &e) == 0);
	T_STREQ(k.type, "ecdsa-sha2-nistp256");
	T_CHECK(k.len == 104);
	T_CHECK(strstr(a.pub_line, " bb-gate-test") != NULL);
	T_CHECK(strcmp(a.pub_line, b.pub_line) != 0 && strcmp(a.priv_pem, b.priv_pem) != 0);
}

static void writes_key_files(void)
{
	struct gitgate_keypair kp;
	struct bb_err e = { 0 };
	char dir[] = "/tmp/bb-test-gitea.XXXXXX", path[128], pub[140];
	struct stat st;

	T_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/app", dir);
	snprintf(pub, sizeof pub, "%s/app.pub", dir);
	T_CHECK(gitgate_keygen_p256(&kp, "x", &e) == 0);
	T_CHECK(gitgate_keypair_write(&kp, path, &e) == 0);
	T_CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600 && (size_t)st.st_size == kp.priv_len);
	T_CHECK(stat(pub, &st) == 0 && (st.st_mode & 0777) == 0644 && (size_t)st.st_size == strlen(kp.pub_line) + 1);
	unlink(path);
	unlink(pub);
	rmdir(dir);
}

static void repo_paths(void)
{
	char o[64], r[64];
	struct bb_err e = { 0 };

	T_CHECK(gitgate_gitea_repo("/org/app.git", o, sizeof o, r, sizeof r, &e) == 0);
	T_STREQ(o, "org");
	T_STREQ(r, "app");
	T_CHECK(gitgate_gitea_repo("org/tools", o, sizeof o, r, sizeof r, &e) == 0);
	T_STREQ(r, "tools");
	T_CHECK(gitgate_gitea_repo("/a/b/c.git", o, sizeof o, r, sizeof r, &e) == -1);
	T_CHECK(gitgate_gitea_repo("/app.git", o, sizeof o, r, sizeof r, &e) == -1);
	T_CHECK(gitgate_gitea_repo("/org/.git", o, sizeof o, r, sizeof r, &e) == -1);
}

/* Against the fixture server tests/sh/gitgate_gitea_fixture.sh starts (skipped without it). */
static void fixture_add_and_delete(void)
{
	const char *url = getenv("GITEA_FIXTURE_URL"), *ca = getenv("GITEA_FIXTURE_CA"), *out = getenv("GITEA_KEY_OUT");
	struct tls_trust trust;
	struct gitgate_gitea g;
	struct gitgate_keypair kp;
	struct bb_err e = { 0 };
	long long id = 0, id2 = 0;
	FILE *f;

	tls_trust_init(&trust);
	T_CHECK(tls_trust_add_file(&trust, ca, &e) >= 1); /* the number of anchors added */
	g.api_url = url;
	g.token = getenv("GITEA_FIXTURE_TOKEN");
	g.trust = &trust;
	g.timeout_ms = 10000;
	T_CHECK(gitgate_keygen_p256(&kp, "bb-gate-fixture", &e) == 0);
	T_CHECK(gitgate_gitea_add_key(&g, "org", "app", "bb git-gate test", kp.pub_line, &id, &e) == 0);
	if (e.msg[0])
		printf("#   %s\n", e.msg);
	T_CHECK(id > 0);
	T_CHECK(gitgate_gitea_add_key(&g, "org", "app", "second", kp.pub_line, &id2, &e) == 0 && id2 != id);
	T_CHECK(gitgate_gitea_delete_key(&g, "org", "app", id, &e) == 0);
	/* Already gone: still a success (teardown after a half-failed start). */
	T_CHECK(gitgate_gitea_delete_key(&g, "org", "app", id, &e) == 0);
	T_CHECK(gitgate_gitea_delete_key(&g, "org", "app", id2, &e) == 0);
	/* A wrong token: refused, with the forge's message, and the token is in no message. */
	g.token = "wrong-token-value";
	T_CHECK(gitgate_gitea_add_key(&g, "org", "app", "t", kp.pub_line, &id, &e) == -1);
	T_CHECK(strstr(e.msg, "401") != NULL && strstr(e.msg, "token is required") != NULL);
	T_CHECK(strstr(e.msg, "wrong-token-value") == NULL);
	/* An unknown repository: the forge's 404. */
	g.token = getenv("GITEA_FIXTURE_TOKEN");
	T_CHECK(gitgate_gitea_add_key(&g, "org", "nope", "t", kp.pub_line, &id, &e) == -1 && strstr(e.msg, "404") != NULL);
	/* The key made here, for the shell test to check with ssh-keygen and sshd. */
	if (out) {
		T_CHECK(gitgate_keypair_write(&kp, out, &e) == 0);
		f = fopen(out, "r");
		T_CHECK(f != NULL);
		if (f)
			fclose(f);
	}
	tls_trust_free(&trust);
}

int main(void)
{
	T_RUN(keygen_makes_ssh_keys);
	T_RUN(writes_key_files);
	T_RUN(repo_paths);
	if (getenv("GITEA_FIXTURE_URL") && getenv("GITEA_FIXTURE_CA") && getenv("GITEA_FIXTURE_TOKEN"))
		T_RUN(fixture_add_and_delete);
	else
		printf("skip - fixture_add_and_delete: run by tests/sh/gitgate_gitea_fixture.sh (needs its HTTPS fixture)\n");
	T_END();
}
