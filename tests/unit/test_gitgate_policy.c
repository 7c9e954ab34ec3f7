/* test_gitgate_policy.c - unit tests of lib/gitgate_policy: the plan's git_gate part, key paths, refusals, repo lookup. */
#include <stdio.h>
#include <string.h>

#include "gitgate_policy.h"
#include "t.h"

#define HOST_KEY                                                                                                 \
	"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd" \
	"Hh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A="

static const char plan[] =
	"{\"schema\":\"bb.plan/1\",\"git_gate\":{\"user\":{\"name\":\"\",\"email\":\"\"},\"repos\":["
	"{\"name\":\"app\",\"url\":\"ssh://git@git.example.com:2222/org/app.git\",\"key\":{\"provider\":\"static\","
	"\"path\":\"~/.ssh/app_deploy\"},\"host_key\":\"" HOST_KEY "\"},"
	"{\"name\":\"tools.git\",\"url\":\"ssh://git@git.example.com/org/tools.git\",\"key\":{\"provider\":\"gitea\","
	"\"forge_token_env\":\"T\",\"api_url\":\"\"},\"host_key\":\"" HOST_KEY "\"},"
	"{\"name\":\"nopin\",\"url\":\"ssh://git@git.example.com/org/x.git\",\"key\":{\"provider\":\"static\","
	"\"path\":\"/keys/x\"},\"host_key\":\"\"}]}}";

static void parses_repos_and_keys(void)
{
	struct gitgate_policy p;
	struct bb_err e = { 0 };

	T_CHECK(gitgate_policy_parse(plan, sizeof plan - 1, NULL, "/home/ada", &p, &e) == 0);
	T_CHECK(p.nrepos == 3);
	T_STREQ(p.repos[0].name, "app");
	T_STREQ(p.repos[0].url, "ssh://git@git.example.com:2222/org/app.git");
	T_STREQ(p.repos[0].key_path, "/home/ada/.ssh/app_deploy");
	T_STREQ(p.repos[0].pub_path, "/home/ada/.ssh/app_deploy.pub");
	T_STREQ(p.repos[0].host_key.type, "ecdsa-sha2-nistp256");
	T_CHECK(p.repos[0].unusable[0] == 0);
	/* gitea keys are staged by bottle start: without --keys the repo is unusable, with a reason. */
	T_CHECK(strstr(p.repos[1].unusable, "gitea") != NULL);
	/* No pinned host key: unusable, and the message says what to add. */
	T_CHECK(strstr(p.repos[2].unusable, "host_key") != NULL);
	gitgate_policy_free(&p);
	T_CHECK(p.nrepos == 0 && p.repos == NULL);
}

static void keys_dir_wins(void)
{
	struct gitgate_policy p;
	struct bb_err e = { 0 };

	T_CHECK(gitgate_policy_parse(plan, sizeof plan - 1, "/run/keys", NULL, &p, &e) == 0);
	T_STREQ(p.repos[0].key_path, "/run/keys/app");
	T_STREQ(p.repos[1].key_path, "/run/keys/tools.git");
	T_STREQ(p.repos[1].pub_path, "/run/keys/tools.git.pub");
	T_CHECK(p.repos[1].unusable[0] == 0);
	gitgate_policy_free(&p);
}

static void finds_repos_by_url_path(void)
{
	struct gitgate_policy p;
	struct bb_err e = { 0 };

	T_CHECK(gitgate_policy_parse(plan, sizeof plan - 1, "/k", NULL, &p, &e) == 0);
	T_CHECK(gitgate_policy_find(&p, sv_from("/app.git")) == &p.repos[0]);
	T_CHECK(gitgate_policy_find(&p, sv_from("/app")) == &p.repos[0]);
	T_CHECK(gitgate_policy_find(&p, sv_from("/app.git/")) == &p.repos[0]);
	T_CHECK(gitgate_policy_find(&p, sv_from("/tools.git")) == &p.repos[1]);
	T_CHECK(gitgate_policy_find(&p, sv_from("/tools.git.git")) == &p.repos[1]);
	T_CHECK(gitgate_policy_find(&p, sv_from("/apps.git")) == NULL);
	T_CHECK(gitgate_policy_find(&p, sv_from("/org/app.git")) == NULL);
	T_CHECK(gitgate_policy_find(&p, sv_from("/")) == NULL);
	gitgate_policy_free(&p);
}

static void refusals(void)
{
	static const char *const bad[] = {
		"{\"schema\":\"bb.plan/2\",\"git_gate\":{\"repos\":[]}}",
		"{\"schema\":\"bb.plan/1\"}",
		"{\"schema\":\"bb.plan/1\",\"git_gate\":{\"repos\":[{\"url\":\"ssh://g@h/p\"}]}}",
		"{\"schema\":\"bb.plan/1\",\"git_gate\":{\"repos\":[{\"name\":\"a/b\",\"url\":\"ssh://g@h/p\"}]}}",
		"{\"schema\":\"bb.plan/1\",\"git_gate\":{\"repos\":[{\"name\":\"..\",\"url\":\"ssh://g@h/p\"}]}}",
		"{\"schema\":\"bb.plan/1\",\"git_gate\":{\"repos\":[{\"name\":\"a\",\"url\":\"https://h/p\"}]}}",
		"{\"schema\":\"bb.plan/1\",\"git_gate\":{\"repos\":[{\"name\":\"a\",\"url\":\"ssh://g@h/p\",\"host_key\":\"ssh-rsa AAAA\"}]}}",
		("{\"schema\":\"bb.plan/1\",\"git_gate\":{\"repos\":[{\"name\":\"a\",\"url\":\"ssh://g@h/p\"},"
		 "{\"name\":\"a\",\"url\":\"ssh://g@h/q\"}]}}"),
		"not json",
	};
	struct gitgate_policy p;
	struct bb_err e = { 0 };
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc;

		e.msg[0] = 0;
		rc = gitgate_policy_parse(bad[i], strlen(bad[i]), "/k", NULL, &p, &e);
		if (rc != -1 || !e.msg[0])
			printf("#   accepted: %s\n", bad[i]);
		T_CHECK(rc == -1 && e.msg[0]);
		T_CHECK(p.nrepos == 0);
	}
	T_CHECK(gitgate_policy_parse(bad[7], strlen(bad[7]), "/k", NULL, &p, &e) == -1 && strstr(e.msg, "two repos") != NULL);
}

int main(void)
{
	T_RUN(parses_repos_and_keys);
	T_RUN(keys_dir_wins);
	T_RUN(finds_repos_by_url_path);
	T_RUN(refusals);
	T_END();
}
