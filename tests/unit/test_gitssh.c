/* test_gitssh.c - unit tests of lib/gitssh's pure parts: pinned host-key lines, fingerprints, URL rules. */
#include <git2.h>

#include "gitssh.h"
#include "t.h"

/* An ECDSA P-256 key blob built from fixed bytes (a made-up point, not anyone's key). */
static const char key_b64[] =
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
	"Hh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=";

static void parse_pub_line(void)
{
	struct gitssh_hostkey k;
	struct bb_err e = { 0 };
	char line[512], fp[GITSSH_FINGERPRINT_MAX];

	snprintf(line, sizeof line, "ecdsa-sha2-nistp256 %s root@host\n", key_b64);
	T_CHECK(gitssh_hostkey_parse(sv_from(line), &k, &e) == 0);
	T_STREQ(k.type, "ecdsa-sha2-nistp256");
	T_CHECK(k.len == 104);
	T_CHECK(gitssh_fingerprint(k.blob, k.len, fp, sizeof fp, &e) == 0);
	/* Computed independently (sha256 + base64 in Python), as ssh-keygen -l prints it. */
	T_STREQ(fp, "SHA256:GIU4ybieeLjdOEuH/yYndvEe5hnX23ys7LuuE//Wdr0");
}

static void parse_known_hosts_line(void)
{
	struct gitssh_hostkey k;
	struct bb_err e = { 0 };
	char line[512];

	snprintf(line, sizeof line, "[git.example.com]:2222 ecdsa-sha2-nistp256 %s", key_b64);
	T_CHECK(gitssh_hostkey_parse(sv_from(line), &k, &e) == 0);
	T_CHECK(k.len == 104);
}

static void refusals(void)
{
	struct gitssh_hostkey k;
	struct bb_err e = { 0 };
	char line[512];

	/* Declared type differs from the type inside the blob. */
	snprintf(line, sizeof line, "ssh-rsa %s", key_b64);
	T_CHECK(gitssh_hostkey_parse(sv_from(line), &k, &e) == -1);
	T_CHECK(e.msg[0] != 0);
	/* Corrupted base64. */
	snprintf(line, sizeof line, "ecdsa-sha2-nistp256 %.20s*%s", key_b64, key_b64 + 21);
	T_CHECK(gitssh_hostkey_parse(sv_from(line), &k, &e) == -1);
	/* Truncated blob. */
	snprintf(line, sizeof line, "ecdsa-sha2-nistp256 %.40s", key_b64);
	T_CHECK(gitssh_hostkey_parse(sv_from(line), &k, &e) == -1);
	T_CHECK(gitssh_hostkey_parse(sv_from(""), &k, &e) == -1);
	T_CHECK(gitssh_hostkey_parse(sv_from("ecdsa-sha2-nistp256"), &k, &e) == -1);
}

static void url_rules(void)
{
	struct bb_err e = { 0 };

	T_CHECK(gitssh_url_check("ssh://git@git.example.com/org/repo.git", &e) == 0);
	T_CHECK(gitssh_url_check("ssh://git@git.example.com:2222/org/repo.git", &e) == 0);
	T_CHECK(gitssh_url_check("git@git.example.com:org/repo.git", &e) == -1);
	T_CHECK(gitssh_url_check("https://git.example.com/org/repo.git", &e) == -1);
	T_CHECK(gitssh_url_check("ssh://git.example.com/org/repo.git", &e) == -1); /* no user */
	T_CHECK(gitssh_url_check("ssh://git:pw@git.example.com/org/repo.git", &e) == -1);
	T_CHECK(gitssh_url_check("/srv/repo.git", &e) == -1);
}

int main(void)
{
	T_RUN(parse_pub_line);
	T_RUN(parse_known_hosts_line);
	T_RUN(refusals);
	T_RUN(url_rules);
	T_END();
}
