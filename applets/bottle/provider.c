/* provider.c - the provider templates (claude, codex, command): the agent's command, its placeholder environment, the files in its home. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agentprog.h"
#include "bottle.h"
#include "buf.h"
#include "fd.h"
#include "b64.h"
#include "json.h"

#define SKILL_MAX (64ull << 20) /* bytes per skill directory */

/*
 * The agent's home is the agent's to write, and it persists across resume:
 * anything there may be a link it planted. Every write goes through the
 * home's fd (c->home_fd), nothing below it followed (lib/fd.h).
 */

/* The directory rel under the agent's home and each one above it, owned by the agent; its fd, or -1. */
static int home_file_dir(const struct provider_ctx *c, const char *rel, struct bb_err *e)
{
	int fd = fd_mkdirs_beneath(c->home_fd, rel, 0700, c->uid, c->gid, e);
	if (fd < 0)
		return bb_err_wrap(e, "provision the agent's home (%s)", c->home);
	return fd;
}

/* A file in the agent's home (rel under home), owned by the agent, replacing whatever was there. */
static int home_file(const struct provider_ctx *c, const char *rel, const char *data, size_t n, struct bb_err *e)
{
	char dir[4200];
	const char *slash = strrchr(rel, '/');
	int dfd = c->home_fd, rc;

	if (slash) {
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - rel), rel);
		if ((dfd = home_file_dir(c, dir, e)) < 0)
			return -1;
	}
	rc = fd_write_file_at(dfd, slash ? slash + 1 : rel, data, n, 0600, c->uid, c->gid, 1, e);
	if (dfd != c->home_fd)
		close(dfd);
	if (rc < 0)
		return bb_err_wrap(e, "provision the agent's home (%s): %s", c->home, rel);
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

/* What the agent holds where egress injects the real credential: never a secret, the same everywhere. */
#define PLACEHOLDER "egress-placeholder"

/*
 * Claude Code trusts a project (no dialog) through ~/.claude.json;
 * onboarding and the bypass warning are done. With an API key, the
 * placeholder key is approved there too: Claude Code asks about a key it
 * has not seen (by its last 20 characters) before it uses it.
 */
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
	if (c->api_key_ref && *c->api_key_ref) {
		cJSON *keys = cJSON_AddObjectToObject(o, "customApiKeyResponses");
		const char *ph = PLACEHOLDER;
		size_t n = strlen(ph);

		cJSON_AddItemToArray(cJSON_AddArrayToObject(keys, "approved"), cJSON_CreateString(ph + (n > 20 ? n - 20 : 0)));
		cJSON_AddArrayToObject(keys, "rejected");
	}
	if (json_print(o, &b, e) == 0 && home_file(c, ".claude.json", b.p, b.len, e) == 0)
		rc = 0;
	cJSON_Delete(o);
	buf_free(&b);
	if (rc < 0)
		return -1;
	pc->env[pc->nenv++] = "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1";
	pc->env[pc->nenv++] = "DISABLE_ERROR_REPORTING=1";
	if (c->auth_token_ref && *c->auth_token_ref) /* egress swaps the real token in; the agent holds a placeholder */
		pc->env[pc->nenv++] = "CLAUDE_CODE_OAUTH_TOKEN=" PLACEHOLDER;
	else if (c->api_key_ref && *c->api_key_ref) /* sent as x-api-key, which egress replaces */
		pc->env[pc->nenv++] = "ANTHROPIC_API_KEY=" PLACEHOLDER;
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

/* ---- Codex host credentials: egress injects the host's access token; the agent holds a dummy auth.json ---- */

#define CODEX_AUTH_MAX (1u << 20)
#define JWT_PART_MAX 8192

/* $CODEX_HOME/auth.json, else ~/.codex/auth.json (the host user's, as codex itself reads it). */
static int codex_auth_path(char *out, size_t cap, struct bb_err *e)
{
	const char *ch = getenv("CODEX_HOME"), *home = getenv("HOME");
	if (ch && *ch)
		snprintf(out, cap, "%s/auth.json", ch);
	else if (home && *home)
		snprintf(out, cap, "%s/.codex/auth.json", home);
	else
		return bb_errf(e, BB_EINVAL, "codex host credentials: neither CODEX_HOME nor HOME is set");
	return 0;
}

/* The JSON object in a JWT's payload (the part between the dots), base64url without padding. NULL if it is none. */
static cJSON *jwt_payload(const char *jwt)
{
	const char *a = strchr(jwt, '.'), *b = a ? strchr(a + 1, '.') : NULL;
	char std[JWT_PART_MAX + 4];
	unsigned char raw[JWT_PART_MAX];
	size_t n, i, got;
	struct bb_err e = { 0 };

	if (!a || !b || (n = (size_t)(b - a - 1)) == 0 || n > JWT_PART_MAX)
		return NULL;
	for (i = 0; i < n; i++) /* base64url to the standard alphabet, padded */
		std[i] = a[1 + i] == '-' ? '+' : a[1 + i] == '_' ? '/' : a[1 + i];
	while (i % 4)
		std[i++] = '=';
	if (b64_decode(std, i, raw, sizeof raw, &got, NULL, &e) < 0)
		return NULL;
	return cJSON_ParseWithLength((const char *)raw, got);
}

/* {"alg":"none","typ":"JWT"}.{"exp":exp,"sub":"bb-placeholder"}.placeholder, base64url: nothing of the host's. */
static int dummy_jwt(long long exp, char *out, size_t cap, struct bb_err *e)
{
	char payload[128], enc[2][256];
	const char *parts[2] = { "{\"alg\":\"none\",\"typ\":\"JWT\"}", payload };
	size_t i, k, len;

	snprintf(payload, sizeof payload, "{\"exp\":%lld,\"sub\":\"bb-placeholder\"}", exp);
	for (k = 0; k < 2; k++) {
		if (b64_encode(parts[k], strlen(parts[k]), B64_NOPAD, enc[k], sizeof enc[k], &len, e) < 0)
			return -1;
		for (i = 0; i < len; i++)
			enc[k][i] = enc[k][i] == '+' ? '-' : enc[k][i] == '/' ? '_' : enc[k][i];
	}
	snprintf(out, cap, "%s.%s.placeholder", enc[0], enc[1]);
	return 0;
}

/* The host's auth.json, checked the way the reference checks it; *tokens points into *doc. */
static cJSON *codex_host_auth(char *path, size_t cap, const char **access, long long *exp, struct bb_err *e)
{
	struct buf b = BUF_INIT(CODEX_AUTH_MAX);
	cJSON *doc, *tok, *pl;
	const char *mode;

	if (codex_auth_path(path, cap, e) < 0)
		return NULL;
	if (fd_read_file(path, CODEX_AUTH_MAX, &b, e) < 0) {
		buf_free(&b);
		bb_errf(e, ENOENT, "codex host credentials: auth file missing at %s. Run `codex login --device-auth` on "
			"the host or disable agent_provider.forward_host_credentials.", path);
		return NULL;
	}
	doc = json_parse(path, b.p ? b.p : "", b.len, e);
	buf_free(&b);
	if (!doc)
		return NULL;
	mode = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "auth_mode"));
	tok = cJSON_GetObjectItem(doc, "tokens");
	*access = cJSON_GetStringValue(cJSON_GetObjectItem(tok, "access_token"));
	if (!cJSON_IsObject(doc) || !mode || !strcmp(mode, "api_key")) {
		bb_errf(e, BB_EINVAL, "codex host credentials: host Codex auth is not user/device auth. Run `codex login "
			"--device-auth` on the host.");
	} else if (!*access || !**access) {
		bb_errf(e, BB_EINVAL, "codex host credentials: %s is missing tokens.access_token. Run `codex login "
			"--device-auth` on the host.", path);
	} else if (!(pl = jwt_payload(*access)) || !cJSON_IsNumber(cJSON_GetObjectItem(pl, "exp"))) {
		cJSON_Delete(pl);
		bb_errf(e, BB_EINVAL, "codex host credentials: tokens.access_token is not a JWT with exp");
	} else {
		*exp = (long long)cJSON_GetObjectItem(pl, "exp")->valuedouble;
		cJSON_Delete(pl);
		if (*exp > (long long)time(NULL))
			return doc;
		bb_errf(e, BB_EINVAL, "codex host credentials: host Codex access token is expired. Run `codex login "
			"--device-auth` on the host and restart the bottle.");
	}
	cJSON_Delete(doc);
	return NULL;
}

int provider_codex_token(char **out, struct bb_err *e)
{
	char path[4200];
	const char *access;
	long long exp;
	cJSON *doc = codex_host_auth(path, sizeof path, &access, &exp, e);

	if (!doc)
		return -1;
	*out = strdup(access);
	cJSON_Delete(doc);
	return *out ? 0 : bb_errf(e, ENOMEM, "out of memory");
}

/* ~/.codex/auth.json for the agent: the host's auth mode and account, dummy tokens with the real expiry. */
static int codex_dummy_auth(const struct provider_ctx *c, struct bb_err *e)
{
	char path[4200], jwt[600], now[40];
	const char *access;
	long long exp;
	cJSON *host = codex_host_auth(path, sizeof path, &access, &exp, e), *o, *t;
	const char *account;
	struct buf b = BUF_INIT(64u << 10);
	time_t tnow = time(NULL);
	struct tm tm;
	int rc = -1;

	if (!host)
		return -1;
	account = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(host, "tokens"), "account_id"));
	gmtime_r(&tnow, &tm);
	strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "auth_mode", cJSON_GetStringValue(cJSON_GetObjectItem(host, "auth_mode")));
	cJSON_AddNullToObject(o, "OPENAI_API_KEY");
	cJSON_AddStringToObject(o, "last_refresh", now);
	t = cJSON_AddObjectToObject(o, "tokens");
	if (dummy_jwt(exp, jwt, sizeof jwt, e) == 0) {
		cJSON_AddStringToObject(t, "access_token", jwt);
		cJSON_AddStringToObject(t, "id_token", jwt);
		cJSON_AddStringToObject(t, "refresh_token", "egress-placeholder");
		if (account && *account) /* the selected account's id: not a secret, and codex needs it */
			cJSON_AddStringToObject(t, "account_id", account);
		if (json_print(o, &b, e) == 0 && home_file(c, ".codex/auth.json", b.p, b.len, e) == 0)
			rc = 0;
	}
	cJSON_Delete(o);
	cJSON_Delete(host);
	buf_free(&b);
	return rc;
}

/* ~/.codex/auth.json in API-key mode, holding the placeholder (what `codex login --with-api-key` writes). */
static int codex_placeholder_key(const struct provider_ctx *c, struct bb_err *e)
{
	static const char doc[] = "{\n  \"auth_mode\": \"apikey\",\n  \"OPENAI_API_KEY\": \"" PLACEHOLDER "\"\n}\n";

	return home_file(c, ".codex/auth.json", doc, sizeof doc - 1, e);
}

/*
 * Codex: the workspace trusted in config.toml, the bottle's CA bundle, and
 * its sign-in: a dummy of the host's (forward_host_credentials) or the
 * placeholder API key (api_key), whose real value egress injects.
 */
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
	if (rc < 0 || (c->codex_host_credentials && codex_dummy_auth(c, e) < 0) ||
	    (c->api_key_ref && *c->api_key_ref && codex_placeholder_key(c, e) < 0))
		return -1;
	snprintf(pc->codex_home, sizeof pc->codex_home, "CODEX_HOME=%s/.codex", c->agent_home);
	pc->env[pc->nenv++] = pc->codex_home;
	snprintf(pc->codex_ca, sizeof pc->codex_ca, "CODEX_CA_CERTIFICATE=%s", c->ca_bundle);
	pc->env[pc->nenv++] = pc->codex_ca;
	if (c->api_key_ref && *c->api_key_ref) /* egress injects the real key as the Bearer token */
		pc->env[pc->nenv++] = "OPENAI_API_KEY=" PLACEHOLDER;
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

int provider_program(const struct mf_bottle *b, struct agentprog *p, struct bb_err *e)
{
	const char *t = b->provider.template_;

	memset(p, 0, sizeof *p);
	if (strcmp(t, "claude") && strcmp(t, "codex"))
		return 0; /* the command template's program is the operator's to name */
	return agentprog_find(t, b->provider.program, getenv("PATH"), getenv("HOME"), p, e);
}

int provider_skills(const struct provider_ctx *c, const char *const *skills, size_t n, struct bb_err *e)
{
	const char *host_home = getenv("BB_HOME");
	char src[4200];
	size_t i;
	struct stat st;
	int dfd;

	if (!n)
		return 0;
	if (!host_home || !*host_home)
		host_home = getenv("HOME");
	if (!host_home || !*host_home)
		return bb_errf(e, BB_EINVAL, "skills: neither BB_HOME nor HOME is set");
	if ((dfd = home_file_dir(c, ".claude/skills", e)) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		/* Names are checked by the manifest (no '/', no leading '.'): a plain directory under skills/. */
		snprintf(src, sizeof src, "%s/.claude/skills/%s", host_home, skills[i]);
		if (stat(src, &st) < 0 || !S_ISDIR(st.st_mode)) {
			close(dfd);
			return bb_errf(e, ENOENT, "skill '%s': %s is not a directory", skills[i], src);
		}
		/* The host's current version, also on resume; the old copy (or a link planted there) goes, unfollowed. */
		fd_remove_tree_at(dfd, skills[i]);
		if (fd_copy_tree_at(src, dfd, skills[i], c->uid, c->gid, SKILL_MAX, e) < 0) {
			close(dfd);
			return bb_err_wrap(e, "skill '%s'", skills[i]);
		}
	}
	close(dfd);
	return 0;
}
