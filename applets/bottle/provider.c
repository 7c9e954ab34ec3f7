/* provider.c - the provider templates (claude, codex, command): the agent's command, its placeholder environment, the files in its home. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bottle.h"
#include "buf.h"
#include "fd.h"
#include "json.h"

#define SKILL_MAX (64ull << 20) /* bytes per skill directory */

/* The directory rel under the agent's home and each one above it, owned by the agent. */
static int home_file_dir(const struct provider_ctx *c, const char *rel, struct bb_err *e)
{
	char path[4200];
	size_t i, base = strlen(c->home);

	snprintf(path, sizeof path, "%s/%s", c->home, rel);
	for (i = base + 1; ; i++) {
		char ch = path[i];
		if (ch != '/' && ch != 0)
			continue;
		path[i] = 0;
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return bb_errno(e, errno, "provision: create %s", path);
		if (chown(path, c->uid, c->gid) < 0)
			return bb_errno(e, errno, "provision: chown %s", path);
		if (!ch)
			return 0;
		path[i] = ch;
	}
}

/* A file in the agent's home (rel under home), owned by the agent. */
static int home_file(const struct provider_ctx *c, const char *rel, const char *data, size_t n, struct bb_err *e)
{
	char path[4200], dir[4200], *slash;

	snprintf(path, sizeof path, "%s/%s", c->home, rel);
	snprintf(dir, sizeof dir, "%s", rel);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		if (home_file_dir(c, dir, e) < 0)
			return -1;
	}
	if (fd_write_file_atomic(path, data, n, 0600, e) < 0)
		return -1;
	if (chown(path, c->uid, c->gid) < 0)
		return bb_errno(e, errno, "provision: chown %s", path);
	return 0;
}

static int add_arg(struct provider_cmd *pc, const char *a)
{
	if (pc->argc + 1 >= sizeof pc->argv / sizeof pc->argv[0])
		return -1;
	pc->argv[pc->argc++] = (char *)a;
	pc->argv[pc->argc] = NULL;
	return 0;
}

/* Claude Code trusts a project (no dialog) through ~/.claude.json; onboarding and the bypass warning are done. */
static int claude(const struct provider_ctx *c, struct provider_cmd *pc, struct bb_err *e)
{
	cJSON *o = cJSON_CreateObject(), *projects, *p;
	struct buf b = BUF_INIT(64u << 10);
	int rc = -1;

	if (!o)
		return bb_errf(e, ENOMEM, "out of memory");
	cJSON_AddBoolToObject(o, "hasCompletedOnboarding", 1);
	cJSON_AddStringToObject(o, "theme", "dark");
	cJSON_AddBoolToObject(o, "bypassPermissionsModeAccepted", 1);
	projects = cJSON_AddObjectToObject(o, "projects");
	p = cJSON_AddObjectToObject(projects, c->agent_home);
	cJSON_AddBoolToObject(p, "hasTrustDialogAccepted", 1);
	p = cJSON_AddObjectToObject(projects, c->workspace);
	cJSON_AddBoolToObject(p, "hasTrustDialogAccepted", 1);
	if (json_print(o, &b, e) == 0 && home_file(c, ".claude.json", b.p, b.len, e) == 0)
		rc = 0;
	cJSON_Delete(o);
	buf_free(&b);
	if (rc < 0)
		return -1;
	pc->env[pc->nenv++] = "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1";
	pc->env[pc->nenv++] = "DISABLE_ERROR_REPORTING=1";
	if (c->auth_token_ref && *c->auth_token_ref) /* egress swaps the real token in; the agent holds a placeholder */
		pc->env[pc->nenv++] = "CLAUDE_CODE_OAUTH_TOKEN=egress-placeholder";
	add_arg(pc, "claude");
	add_arg(pc, "--dangerously-skip-permissions");
	if (c->resume)
		add_arg(pc, "--continue");
	else if (c->prompt && *c->prompt) {
		if (home_file(c, ".bb/prompt.md", c->prompt, strlen(c->prompt), e) < 0)
			return -1;
		snprintf(pc->prompt_path, sizeof pc->prompt_path, "%s/.bb/prompt.md", c->agent_home);
		add_arg(pc, "--append-system-prompt-file");
		add_arg(pc, pc->prompt_path);
	}
	return 0;
}

/* Codex: the workspace trusted in config.toml, the bottle's CA bundle, a placeholder API key. */
static int codex(const struct provider_ctx *c, struct provider_cmd *pc, struct bb_err *e)
{
	struct buf b = BUF_INIT(16u << 10);
	const char *s;
	int rc;

	/* TOML basic string: escape backslash and quote (a workspace path is a plain path otherwise). */
	rc = buf_append_str(&b, "[projects.\"", e);
	for (s = c->workspace; rc == 0 && *s; s++)
		rc = (*s == '"' || *s == '\\') ? buf_append_byte(&b, '\\', e) || buf_append_byte(&b, *s, e)
						: buf_append_byte(&b, *s, e);
	if (rc == 0)
		rc = buf_append_str(&b, "\"]\ntrust_level = \"trusted\"\n", e);
	if (rc == 0)
		rc = home_file(c, ".codex/config.toml", b.p, b.len, e);
	buf_free(&b);
	if (rc < 0)
		return -1;
	snprintf(pc->codex_home, sizeof pc->codex_home, "CODEX_HOME=%s/.codex", c->agent_home);
	pc->env[pc->nenv++] = pc->codex_home;
	snprintf(pc->codex_ca, sizeof pc->codex_ca, "CODEX_CA_CERTIFICATE=%s", c->ca_bundle);
	pc->env[pc->nenv++] = pc->codex_ca;
	pc->env[pc->nenv++] = "OPENAI_API_KEY=egress-placeholder";
	add_arg(pc, "codex");
	add_arg(pc, "--dangerously-bypass-approvals-and-sandbox");
	if (c->resume) {
		add_arg(pc, "resume");
		add_arg(pc, "--last");
	} else if (c->prompt && *c->prompt) {
		add_arg(pc, c->prompt); /* codex takes its first instruction as an argument */
	}
	return 0;
}

int provider_prepare(const struct provider_ctx *c, struct provider_cmd *pc, struct bb_err *e)
{
	memset(pc, 0, sizeof *pc);
	if (!strcmp(c->template_, "claude"))
		return claude(c, pc, e);
	if (!strcmp(c->template_, "codex"))
		return codex(c, pc, e);
	if (!strcmp(c->template_, "command") && c->ncommand) {
		size_t i;
		for (i = 0; i < c->ncommand; i++)
			if (add_arg(pc, c->command[i]) < 0)
				return bb_errf(e, BB_ETOOBIG, "agent_provider.command has more than %zu words",
					       sizeof pc->argv / sizeof pc->argv[0] - 1);
		return 0;
	}
	return bb_errf(e, BB_EINVAL, "provider template '%s' has no agent program; use 'bb bottle run %s -- CMD'",
		       c->template_, c->template_);
}

int provider_skills(const struct provider_ctx *c, const char *const *skills, size_t n, struct bb_err *e)
{
	const char *host_home = getenv("BB_HOME");
	char src[4200], dst[4200];
	size_t i;
	struct stat st;

	if (!host_home || !*host_home)
		host_home = getenv("HOME");
	if (n && (!host_home || !*host_home))
		return bb_errf(e, BB_EINVAL, "skills: neither BB_HOME nor HOME is set");
	for (i = 0; i < n; i++) {
		/* Names are checked by the manifest (no '/', no leading '.'): a plain directory under skills/. */
		snprintf(src, sizeof src, "%s/.claude/skills/%s", host_home, skills[i]);
		snprintf(dst, sizeof dst, "%s/.claude/skills/%s", c->home, skills[i]);
		if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode))
			return bb_errf(e, ENOENT, "skill '%s': %s is not a directory", skills[i], src);
		if (home_file_dir(c, ".claude/skills", e) < 0)
			return -1;
		fd_remove_tree(dst); /* the host's current version, also on resume */
		if (fd_copy_tree(src, dst, c->uid, c->gid, SKILL_MAX, e) < 0)
			return bb_err_wrap(e, "skill '%s'", skills[i]);
	}
	return 0;
}
