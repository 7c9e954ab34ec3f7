/* test_agentprog.c - finding the agent program: PATH, the manifest's path, npm launchers, env shebangs, errors. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentprog.h"
#include "fd.h"
#include "t.h"

static char root[PATH_MAX]; /* canonical temp dir */

static void put(const char *rel, const char *text, int mode)
{
	char p[PATH_MAX + 64], d[PATH_MAX + 64], *s;
	snprintf(p, sizeof p, "%s/%s", root, rel);
	snprintf(d, sizeof d, "%s", p);
	for (s = d + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
		*s = 0;
		mkdir(d, 0755);
		*s = '/';
	}
	FILE *f = fopen(p, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
	chmod(p, (mode_t)mode);
}

static void link_at(const char *target, const char *rel)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof p, "%s/%s", root, rel);
	if (symlink(target, p) < 0)
		printf("#   symlink %s: %s\n", p, strerror(errno));
}

static const char *at(const char *rel)
{
	static char bufs[4][PATH_MAX + 64];
	static int i;
	i = (i + 1) % 4;
	snprintf(bufs[i], sizeof bufs[i], "%s/%s", root, rel);
	return bufs[i];
}

/* An npm global prefix: bin/claude -> ../lib/node_modules/pkg/bin/claude.exe, a native executable. */
static void native_in_an_npm_prefix(void)
{
	struct agentprog p;
	struct bb_err e = { 0 };
	char path[PATH_MAX * 2];

	put("npm/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe", "\177ELF native", 0755);
	mkdir(at("npm/bin"), 0755);
	link_at("../lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe", "npm/bin/claude");
	snprintf(path, sizeof path, "relative:%s:%s", at("empty"), at("npm/bin"));
	mkdir(at("empty"), 0755);
	T_CHECK(agentprog_find("claude", "", path, NULL, &p, &e) == 0);
	T_STREQ(p.name, "claude");
	T_STREQ(p.found, at("npm/bin/claude"));
	T_STREQ(p.real, at("npm/lib/node_modules/@anthropic-ai/claude-code/bin/claude.exe"));
	T_STREQ(p.interp, "");
	T_CHECK(p.nneed == 1); /* the file alone: not its whole node_modules */
	T_STREQ(p.need[0], p.real);
}

/* codex's launcher: a node script that finds its platform binary beside itself in node_modules. */
static void env_script_needs_its_tree_and_interpreter(void)
{
	struct agentprog p;
	struct bb_err e = { 0 };
	char path[PATH_MAX * 2];

	put("pfx/node_modules/@openai/codex/bin/codex.js", "#!/usr/bin/env -S node --no-warnings\nrequire('x')\n", 0755);
	put("pfx/node_modules/@openai/codex-linux-x64/vendor/codex", "\177ELF", 0755);
	put("nvm/v22/bin/node", "\177ELF node", 0755);
	mkdir(at("pfx/bin"), 0755);
	link_at("../node_modules/@openai/codex/bin/codex.js", "pfx/bin/codex");
	snprintf(path, sizeof path, "%s:%s", at("pfx/bin"), at("nvm/v22/bin"));
	T_CHECK(agentprog_find("codex", NULL, path, NULL, &p, &e) == 0);
	T_STREQ(p.real, at("pfx/node_modules/@openai/codex/bin/codex.js"));
	T_STREQ(p.interp_name, "node");
	T_STREQ(p.interp, at("nvm/v22/bin/node"));
	T_CHECK(p.nneed == 2);
	T_STREQ(p.need[0], at("pfx/node_modules"));
	T_STREQ(p.need[1], at("nvm/v22/bin/node"));
}

static void manifest_path_with_home(void)
{
	struct agentprog p;
	struct bb_err e = { 0 };
	char want[PATH_MAX];

	put("home/.local/share/claude/versions/2.1.337", "\177ELF", 0755);
	mkdir(at("home/.local/bin"), 0755);
	link_at("../share/claude/versions/2.1.337", "home/.local/bin/claude");
	T_CHECK(agentprog_find("claude", "~/.local/bin/claude", "/nowhere", at("home"), &p, &e) == 0);
	T_STREQ(p.name, "claude"); /* linked by the provider's name, whatever the file is called */
	T_STREQ(p.real, at("home/.local/share/claude/versions/2.1.337"));
	T_CHECK(p.nneed == 1);
	put("opt/x/claude", "#!/bin/sh\necho hi\n", 0755);
	T_CHECK(agentprog_find("claude", at("opt/x/claude"), "", NULL, &p, &e) == 0);
	T_CHECK(realpath("/bin/sh", want) != NULL);
	T_STREQ(p.interp, want); /* "#!/bin/sh": the path itself, canonical */
	T_CHECK(p.nneed == 2 && !strcmp(p.need[0], at("opt/x/claude"))); /* a script outside node_modules: itself */
}

static void missing_names_what_and_where(void)
{
	struct agentprog p;
	struct bb_err e = { 0 };
	char path[PATH_MAX * 2];

	snprintf(path, sizeof path, "%s:.:%s", at("empty"), at("npm/bin"));
	T_CHECK(agentprog_find("codex", "", path, NULL, &p, &e) == -1);
	T_CHECK(strstr(e.msg, "the agent program 'codex' is not on PATH (looked in ") != NULL);
	T_CHECK(strstr(e.msg, at("empty")) && strstr(e.msg, at("npm/bin")) && strstr(e.msg, "agent_provider.program"));
	T_CHECK(strstr(e.msg, ", ., ") == NULL); /* "." is not searched */
	T_CHECK(agentprog_find("codex", "/no/such/codex", path, NULL, &p, &e) == -1);
	T_CHECK(strstr(e.msg, "agent_provider.program /no/such/codex: No such file or directory") != NULL);
	put("noexec/codex", "x", 0644);
	T_CHECK(agentprog_find("codex", at("noexec/codex"), path, NULL, &p, &e) == -1);
	T_CHECK(strstr(e.msg, "Permission denied") != NULL);
	T_CHECK(agentprog_find("codex", "~/x", path, NULL, &p, &e) == -1 && strstr(e.msg, "HOME is not set"));
	/* A script whose interpreter is nowhere on PATH. */
	put("lone/bin/tool", "#!/usr/bin/env bb-no-such-interpreter\n", 0755);
	T_CHECK(agentprog_find("tool", at("lone/bin/tool"), path, NULL, &p, &e) == -1);
	T_CHECK(strstr(e.msg, "is a script for 'bb-no-such-interpreter', which is not on PATH") != NULL);
}

int main(void)
{
	char tmpl[] = "/tmp/bb-agentprog.XXXXXX";
	if (!mkdtemp(tmpl) || !realpath(tmpl, root))
		return 1;
	T_RUN(native_in_an_npm_prefix);
	T_RUN(env_script_needs_its_tree_and_interpreter);
	T_RUN(manifest_path_with_home);
	T_RUN(missing_names_what_and_where);
	fd_remove_tree(root);
	T_END();
}
