/* manifest_schema.c - every bottle and agent key: its type, its allowed values, and bot-bottle's error texts. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gitssh.h"
#include "manifest_int.h"
#include "re.h"

/* ---- value helpers ------------------------------------------------------ */

int mf_is_null(const struct ynode *n)
{
	return !n || (n->type == Y_SCALAR && n->plain &&
		      (n->len == 0 || !strcmp(n->str, "null") || !strcmp(n->str, "Null") ||
		       !strcmp(n->str, "NULL") || !strcmp(n->str, "~")));
}

int mf_bool(const struct ynode *n)
{
	if (!n || n->type != Y_SCALAR || !n->plain)
		return -1;
	if (!strcmp(n->str, "true") || !strcmp(n->str, "True") || !strcmp(n->str, "TRUE"))
		return 1;
	if (!strcmp(n->str, "false") || !strcmp(n->str, "False") || !strcmp(n->str, "FALSE"))
		return 0;
	return -1;
}

static int all_digits(const char *s, size_t n)
{
	size_t i;

	if (!n)
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* YAML 1.2 core schema: which plain scalars are numbers. */
static int plain_int(const char *s, size_t n)
{
	if (n && (s[0] == '-' || s[0] == '+'))
		s++, n--;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
		return n > 2;
	return all_digits(s, n);
}

static int plain_float(const char *s, size_t n)
{
	size_t i = 0, digits = 0;

	if (!strcmp(s, ".inf") || !strcmp(s, "-.inf") || !strcmp(s, "+.inf") || !strcmp(s, ".nan") ||
	    !strcmp(s, ".NaN") || !strcmp(s, ".Inf") || !strcmp(s, "-.Inf"))
		return 1;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	}
	if (!digits)
		return 0;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		if (i == n)
			return 0;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	}
	return i == n && (memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n));
}

const char *mf_type(const struct ynode *n)
{
	if (mf_is_null(n))
		return "NoneType";
	if (n->type == Y_SEQ)
		return "list";
	if (n->type == Y_MAP)
		return "dict";
	if (!n->plain)
		return "str";
	if (mf_bool(n) >= 0)
		return "bool";
	if (plain_int(n->str, n->len))
		return "int";
	if (plain_float(n->str, n->len))
		return "float";
	return "str";
}

int mf_is_str(const struct ynode *n)
{
	return n && n->type == Y_SCALAR && strcmp(mf_type(n), "str") == 0;
}

const char *mf_repr(struct mf_ctx *c, const char *s)
{
	struct buf b = BUF_INIT(4096);
	char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
	const char *out;

	buf_append_byte(&b, q, NULL);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '\\' || ch == (unsigned char)q)
			buf_printf(&b, NULL, "\\%c", ch);
		else if (ch == '\n')
			buf_append_str(&b, "\\n", NULL);
		else if (ch == '\t')
			buf_append_str(&b, "\\t", NULL);
		else if (ch == '\r')
			buf_append_str(&b, "\\r", NULL);
		else if (ch < 0x20 || ch == 0x7f)
			buf_printf(&b, NULL, "\\x%02x", ch);
		else
			buf_append_byte(&b, (char)ch, NULL);
	}
	buf_append_byte(&b, q, NULL);
	out = arena_strndup(&c->m->arena, b.p ? b.p : "", b.len);
	buf_free(&b);
	return out ? out : "'?'";
}

static const char *dup(struct mf_ctx *c, const char *s)
{
	const char *p = arena_strdup(&c->m->arena, s);
	return p ? p : "";
}

__attribute__((format(printf, 2, 3))) static const char *fmt(struct mf_ctx *c, const char *f, ...)
{
	char tmp[1024];
	va_list ap;

	va_start(ap, f);
	vsnprintf(tmp, sizeof tmp, f, ap);
	va_end(ap);
	return dup(c, tmp);
}

/* "{label} must be a JSON object (was T)", bot-bottle's as_json_object. 0 when it is a mapping. */
static int need_map(struct mf_ctx *c, const struct ynode *n, const char *label)
{
	if (n && n->type == Y_MAP)
		return 0;
	return mf_error(c, n, "%s must be a JSON object (was %s)", label, mf_type(n));
}

static int need_list(struct mf_ctx *c, const struct ynode *n, const char *label)
{
	if (n && n->type == Y_SEQ)
		return 0;
	return mf_error(c, n, "%s must be an array (was %s)", label, mf_type(n));
}

#define KEY(map, i) ((map)->items[2 * (i)])
#define VAL(map, i) ((map)->items[2 * (i) + 1])

/* The key node of key in map (for the line of an error about the key itself). */
static const struct ynode *key_node(const struct ynode *map, const char *key)
{
	size_t i;

	for (i = 0; map && map->type == Y_MAP && i < map->n; i++)
		if (!strcmp(KEY(map, i)->str, key))
			return KEY(map, i);
	return NULL;
}

static int in_list(const char *k, const char *const *allowed)
{
	for (; *allowed; allowed++)
		if (!strcmp(k, *allowed))
			return 1;
	return 0;
}

/* An optional string: NULL/absent gives dflt; anything else but a string is an error. */
static int opt_str(struct mf_ctx *c, const struct ynode *n, const char *label, const char *dflt, const char **out)
{
	if (mf_is_null(n)) {
		*out = dflt;
		return 0;
	}
	if (!mf_is_str(n)) {
		*out = dflt;
		return mf_error(c, n, "%s must be a string (was %s)", label, mf_type(n));
	}
	*out = dup(c, n->str);
	return 0;
}

/* A required non-empty string; returns NULL (after the error) when missing. */
static const char *req_str(struct mf_ctx *c, const struct ynode *map, const char *key, const char *msg)
{
	const struct ynode *v = yml_get(map, key);

	if (!mf_is_str(v) || v->len == 0) {
		mf_error(c, v ? v : map, "%s", msg);
		return NULL;
	}
	return dup(c, v->str);
}

static int hostname_ok(const char *h)
{
	size_t len = strlen(h), lab = 0, i;

	if (len == 0 || len > 253)
		return 0;
	for (i = 0; i <= len; i++) {
		char ch = h[i];

		if (ch == '.' || ch == 0) {
			if (lab == 0 || lab > 63 || h[i - 1] == '-')
				return 0;
			lab = 0;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      (ch == '-' && lab > 0) || ch == '_'))
			return 0;
		lab++;
	}
	return 1;
}

static int env_name_ok(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return 0;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static void lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

static int regex_ok(struct mf_ctx *c, const struct ynode *n, const char *label)
{
	struct bb_err e = { 0 };
	struct re *re = NULL;

	if (re_compile(n->str, n->len, 0, &re, &e) < 0)
		return mf_error(c, n, "%s %s does not compile: %s", label, mf_repr(c, n->str), e.msg);
	re_free(re);
	return 0;
}

/* Append to an arena array; returns the new slot or NULL. */
#define PUSH(c, arr, n, cap) \
	((arr = arena_grow(&(c)->m->arena, (arr), (n), &(cap), sizeof *(arr))) ? &(arr)[(n)++] : NULL)

/* ---- env ---------------------------------------------------------------- */

static void parse_env(struct mf_ctx *c, const char *who, const struct ynode *n, struct mf_bottle *b)
{
	size_t i, cap = 0;
	const char *label = fmt(c, "%s env", who);

	if (mf_is_null(n))
		return;
	if (need_map(c, n, label) < 0)
		return;
	for (i = 0; i < n->n; i++) {
		const struct ynode *k = KEY(n, i), *v = VAL(n, i);
		struct mf_env *ev;

		if (!env_name_ok(k->str)) {
			mf_error(c, k, "%s key %s is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*)",
				 label, mf_repr(c, k->str));
			continue;
		}
		if (v->type != Y_SCALAR || mf_is_null(v)) {
			mf_error(c, v, "%s.%s must be a string (was %s)", label, k->str, mf_type(v));
			continue;
		}
		if (!(ev = PUSH(c, b->env, b->nenv, cap)))
			return;
		ev->name = dup(c, k->str);
		if (!strcmp(v->str, "?prompt")) {
			ev->source = MF_ENV_PROMPT;
			ev->value = "";
		} else if (v->len > 3 && !strncmp(v->str, "${", 2) && v->str[v->len - 1] == '}') {
			char var[256];

			snprintf(var, sizeof var, "%.*s", (int)(v->len - 3), v->str + 2);
			if (!env_name_ok(var))
				mf_error(c, v, "%s.%s refers to %s, which is not a valid host variable name", label,
					 k->str, mf_repr(c, var));
			ev->source = MF_ENV_HOST;
			ev->value = dup(c, var);
		} else {
			ev->source = MF_ENV_LITERAL;
			ev->value = dup(c, v->str);
		}
	}
}

/* ---- agent_provider ----------------------------------------------------- */

static const char **str_list(struct mf_ctx *c, const struct ynode *n, const char *label, size_t *count,
			     int (*check)(struct mf_ctx *, const struct ynode *, const char *, size_t));

static void parse_provider(struct mf_ctx *c, const char *name, const struct ynode *n, struct mf_provider *p)
{
	static const char *const keys[] = { "template", "dockerfile", "auth_token", "forward_host_credentials", "command",
					    "api_key", "program", NULL };
	const struct ynode *t, *d, *a, *f, *cmd, *k, *prog;
	size_t i;
	int fwd;

	p->template_ = "claude";
	p->dockerfile = p->auth_token = p->api_key = p->program = "";
	p->forward_host_credentials = 0;
	p->command = NULL;
	p->ncommand = 0;
	if (need_map(c, n, fmt(c, "bottle '%s' agent_provider", name)) < 0)
		return;
	for (i = 0; i < n->n; i++)
		if (!in_list(KEY(n, i)->str, keys))
			mf_error(c, KEY(n, i),
				 "bottle '%s' agent_provider has unknown key %s; allowed: template, dockerfile, auth_token, forward_host_credentials, command, api_key, program",
				 name, mf_repr(c, KEY(n, i)->str));
	t = yml_get(n, "template");
	if (t) {
		if (!mf_is_str(t) || t->len == 0)
			mf_error(c, t, "bottle '%s' agent_provider.template must be a non-empty string", name);
		else if (strcmp(t->str, "claude") && strcmp(t->str, "codex") && strcmp(t->str, "command"))
			mf_error(c, t, "bottle '%s' agent_provider.template %s is not one of claude, codex, command", name,
				 mf_repr(c, t->str));
		else
			p->template_ = dup(c, t->str);
	}
	cmd = yml_get(n, "command");
	if (!strcmp(p->template_, "command")) {
		if (!cmd)
			mf_error(c, n, "bottle '%s' agent_provider.template 'command' needs command: [PROGRAM, ARGS...]", name);
		else {
			p->command = str_list(c, cmd, fmt(c, "bottle '%s' agent_provider.command", name), &p->ncommand, NULL);
			if (p->command && !p->ncommand)
				mf_error(c, cmd, "bottle '%s' agent_provider.command must name a program", name);
		}
	} else if (cmd) {
		mf_error(c, cmd, "bottle '%s' agent_provider.command is only supported for template 'command'", name);
	}
	d = yml_get(n, "dockerfile");
	if (d && !mf_is_str(d))
		mf_error(c, d, "bottle '%s' agent_provider.dockerfile must be a string (was %s)", name, mf_type(d));
	else if (d)
		p->dockerfile = dup(c, d->str);
	a = yml_get(n, "auth_token");
	if (a && !mf_is_str(a)) {
		mf_error(c, a, "bottle '%s' agent_provider.auth_token must be a string (was %s)", name, mf_type(a));
	} else if (a && a->len) {
		if (strcmp(p->template_, "claude"))
			mf_error(c, a, "bottle '%s' agent_provider.auth_token is only supported for template 'claude'", name);
		else if (!env_name_ok(a->str))
			mf_error(c, a, "bottle '%s' agent_provider.auth_token %s must name a host environment variable",
				 name, mf_repr(c, a->str));
		p->auth_token = dup(c, a->str);
	}
	f = yml_get(n, "forward_host_credentials");
	if (f) {
		fwd = mf_bool(f);
		if (fwd < 0)
			mf_error(c, f, "bottle '%s' agent_provider.forward_host_credentials must be a boolean (was %s)",
				 name, mf_type(f));
		else if (fwd && strcmp(p->template_, "codex"))
			mf_error(c, f,
				 "bottle '%s' agent_provider.forward_host_credentials is currently only supported for template 'codex'",
				 name);
		else
			p->forward_host_credentials = fwd;
	}
	/* bb's additions: an API key egress injects (Anthropic's x-api-key, OpenAI's Bearer), and where the program is. */
	k = yml_get(n, "api_key");
	if (k && !mf_is_str(k)) {
		mf_error(c, k, "bottle '%s' agent_provider.api_key must be a string (was %s)", name, mf_type(k));
	} else if (k && k->len) {
		if (strcmp(p->template_, "claude") && strcmp(p->template_, "codex"))
			mf_error(c, k, "bottle '%s' agent_provider.api_key is only supported for templates 'claude' and 'codex'",
				 name);
		else if (!env_name_ok(k->str))
			mf_error(c, k, "bottle '%s' agent_provider.api_key %s must name a host environment variable", name,
				 mf_repr(c, k->str));
		else if (*p->auth_token)
			mf_error(c, k, "bottle '%s' agent_provider.api_key and auth_token both name a credential; keep one",
				 name);
		else if (p->forward_host_credentials)
			mf_error(c, k,
				 "bottle '%s' agent_provider.api_key and forward_host_credentials both name a credential; keep one",
				 name);
		p->api_key = dup(c, k->str);
	}
	prog = yml_get(n, "program");
	if (prog && !mf_is_str(prog)) {
		mf_error(c, prog, "bottle '%s' agent_provider.program must be a string (was %s)", name, mf_type(prog));
	} else if (prog && prog->len) {
		if (!strcmp(p->template_, "command"))
			mf_error(c, prog, "bottle '%s' agent_provider.program is for templates 'claude' and 'codex' (template "
				 "'command' names its program in command)", name);
		else if (prog->str[0] != '/' && strncmp(prog->str, "~/", 2))
			mf_error(c, prog, "bottle '%s' agent_provider.program %s must be an absolute path or start with ~/",
				 name, mf_repr(c, prog->str));
		p->program = dup(c, prog->str);
	}
}

/* ---- git-gate ----------------------------------------------------------- */

/* who: "bottle 'x'" or "agent 'x'". */
static int parse_user(struct mf_ctx *c, const char *who, const struct ynode *n, struct mf_user *u)
{
	static const char *const keys[] = { "name", "email", NULL };
	const struct ynode *v;
	size_t i;
	int bad = 0;

	u->name = u->email = "";
	if (mf_is_null(n))
		return 0;
	if (need_map(c, n, fmt(c, "%s git-gate.user", who)) < 0)
		return -1;
	for (i = 0; i < n->n; i++)
		if (!in_list(KEY(n, i)->str, keys))
			bad = mf_error(c, KEY(n, i), "%s git-gate.user has unknown key %s; allowed: name, email", who,
				       mf_repr(c, KEY(n, i)->str));
	v = yml_get(n, "name");
	bad |= opt_str(c, v, fmt(c, "%s git-gate.user.name", who), "", &u->name);
	v = yml_get(n, "email");
	bad |= opt_str(c, v, fmt(c, "%s git-gate.user.email", who), "", &u->email);
	if (!bad && !*u->name && !*u->email)
		return mf_error(c, n,
				"%s git-gate.user is set but neither name nor email is non-empty; remove the block or fill at least one field.",
				who);
	return bad ? -1 : 0;
}

/* bot-bottle's parse_git_upstream, with a port range and host syntax check added. */
static int parse_upstream(struct mf_ctx *c, const struct ynode *at, const char *label, const char *url,
			  struct mf_repo *r)
{
	const char *rest, *at_sign, *slash, *colon;
	const char *u = mf_repr(c, url);
	char host[256];
	size_t hl;

	if (strncmp(url, "ssh://", 6) != 0)
		return mf_error(c, at, "%s must be an ssh:// URL (was %s)", label, u);
	rest = url + 6;
	at_sign = strchr(rest, '@');
	if (!at_sign)
		return mf_error(c, at, "%s must include a user (e.g. ssh://git@host/path.git); was %s", label, u);
	if (at_sign == rest)
		return mf_error(c, at, "%s user is empty in %s", label, u);
	r->user = arena_strndup(&c->m->arena, rest, (size_t)(at_sign - rest));
	if (r->user && strchr(r->user, ':'))
		return mf_error(c, at, "%s must not carry a password in %s", label, u);
	slash = strchr(at_sign + 1, '/');
	if (!slash)
		return mf_error(c, at, "%s must include a path (e.g. ssh://git@host/path.git); was %s", label, u);
	if (!slash[1])
		return mf_error(c, at, "%s path is empty in %s", label, u);
	r->path = dup(c, slash + 1);
	hl = (size_t)(slash - at_sign - 1);
	if (hl >= sizeof host)
		return mf_error(c, at, "%s host is too long in %s", label, u);
	memcpy(host, at_sign + 1, hl);
	host[hl] = 0;
	r->port = 22;
	colon = strchr(host, ':');
	if (colon) {
		uint64_t port;

		if (!all_digits(colon + 1, strlen(colon + 1)))
			return mf_error(c, at, "%s port must be numeric in %s", label, u);
		if (sv_to_u64(sv_from(colon + 1), 65535, &port, NULL) < 0 || port == 0)
			return mf_error(c, at, "%s port must be 1 to 65535 in %s", label, u);
		r->port = (unsigned)port;
		host[colon - host] = 0;
	}
	if (!host[0])
		return mf_error(c, at, "%s host is empty in %s", label, u);
	if (!hostname_ok(host))
		return mf_error(c, at, "%s host %s is not a valid host name or IPv4 address in %s", label,
				mf_repr(c, host), u);
	lower(host);
	r->host = dup(c, host);
	return 0;
}

static int parse_key(struct mf_ctx *c, const char *label, const struct ynode *n, struct mf_repo *r)
{
	static const char *const gitea_keys[] = { "provider", "forge_token_env", "api_url", NULL };
	static const char *const static_keys[] = { "provider", "path", NULL };
	const char *kl = fmt(c, "%s.key", label), *prov;
	const struct ynode *p;
	size_t i;
	int bad = 0;

	if (need_map(c, n, kl) < 0)
		return -1;
	p = yml_get(n, "provider");
	if (!mf_is_str(p) || p->len == 0)
		return mf_error(c, p ? p : n, "%s missing required string field 'provider'", kl);
	prov = p->str;
	if (strcmp(prov, "static") && strcmp(prov, "gitea"))
		return mf_error(c, p, "%s provider %s is unknown; allowed: gitea, static", kl, mf_repr(c, prov));
	if (!strcmp(prov, "gitea")) {
		const struct ynode *api;

		r->provider = MF_KEY_GITEA;
		for (i = 0; i < n->n; i++)
			if (!in_list(KEY(n, i)->str, gitea_keys))
				bad = mf_error(c, KEY(n, i),
					       "%s has unknown key %s for provider 'gitea'; allowed: provider, forge_token_env, api_url",
					       kl, mf_repr(c, KEY(n, i)->str));
		if (bad)
			return -1;
		r->forge_token_env = req_str(c, n, "forge_token_env",
					     fmt(c, "%s missing required string field 'forge_token_env' for provider 'gitea'", kl));
		if (!r->forge_token_env)
			return -1;
		if (!env_name_ok(r->forge_token_env))
			return mf_error(c, yml_get(n, "forge_token_env"), "%s forge_token_env %s must name a host environment variable",
					kl, mf_repr(c, r->forge_token_env));
		api = yml_get(n, "api_url");
		r->api_url = "";
		if (api && !mf_is_null(api)) {
			if (!mf_is_str(api))
				return mf_error(c, api, "%s 'api_url' must be a string", kl);
			if (api->len && strncmp(api->str, "https://", 8) && strncmp(api->str, "http://", 7))
				return mf_error(c, api, "%s 'api_url' %s must be an http:// or https:// URL", kl,
						mf_repr(c, api->str));
			r->api_url = dup(c, api->str);
		}
		r->key_path = "";
		return 0;
	}
	r->provider = MF_KEY_STATIC;
	for (i = 0; i < n->n; i++)
		if (!in_list(KEY(n, i)->str, static_keys))
			bad = mf_error(c, KEY(n, i), "%s has unknown key %s for provider 'static'; allowed: provider, path", kl,
				       mf_repr(c, KEY(n, i)->str));
	if (bad)
		return -1;
	r->key_path = req_str(c, n, "path", fmt(c, "%s missing required string field 'path' for provider 'static'", kl));
	r->forge_token_env = r->api_url = "";
	return r->key_path ? 0 : -1;
}

static int repo_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '_' || *s == '-'))
			return 0;
	return 1;
}

static void parse_repo(struct mf_ctx *c, const char *name, const struct ynode *k, const struct ynode *n,
		       struct mf_repo *r)
{
	static const char *const keys[] = { "url", "key", "host_key", NULL };
	const char *label = fmt(c, "git-gate.repos[%s]", mf_repr(c, k->str));
	const char *bl = fmt(c, "bottle '%s' %s", name, label);
	const struct ynode *url, *key, *hk;
	size_t i;
	int bad = 0;

	memset(r, 0, sizeof *r);
	r->name = dup(c, k->str);
	r->line = k->line;
	r->host_key = "";
	if (need_map(c, n, bl) < 0)
		return;
	for (i = 0; i < n->n; i++)
		if (!in_list(KEY(n, i)->str, keys))
			bad = mf_error(c, KEY(n, i), "%s has unknown key %s; allowed: url, key, host_key", bl,
				       mf_repr(c, KEY(n, i)->str));
	url = yml_get(n, "url");
	if (!mf_is_str(url) || url->len == 0) {
		mf_error(c, url ? url : n, "%s missing required string field 'url'", bl);
		return;
	}
	key = yml_get(n, "key");
	if (!key) {
		mf_error(c, n, "%s missing required 'key' block", bl);
		return;
	}
	if (bad || parse_key(c, bl, key, r) < 0)
		return;
	hk = yml_get(n, "host_key");
	if (opt_str(c, hk, fmt(c, "%s host_key", bl), "", &r->host_key) == 0 && *r->host_key) {
		struct gitssh_hostkey parsed;
		struct bb_err e = { 0 };

		if (gitssh_hostkey_parse(sv_from(r->host_key), &parsed, &e) < 0)
			mf_error(c, hk, "%s host_key is not an OpenSSH public key line: %s", bl, e.msg);
		else if (strcmp(parsed.type, "ssh-ed25519") && strcmp(parsed.type, "ecdsa-sha2-nistp256") &&
			 strcmp(parsed.type, "ecdsa-sha2-nistp384") && strcmp(parsed.type, "ssh-rsa"))
			mf_error(c, hk,
				 "%s host_key type %s cannot be verified by bb's SSH stack; pin the server's ssh-ed25519, "
				 "ecdsa-sha2-nistp256 or ssh-rsa key",
				 bl, parsed.type);
	}
	r->url = dup(c, url->str);
	parse_upstream(c, url, fmt(c, "%s url", bl), url->str, r);
}

static void parse_git_gate(struct mf_ctx *c, const char *name, const struct ynode *n, struct mf_leaf *leaf)
{
	static const char *const keys[] = { "user", "repos", NULL };
	const char *who = fmt(c, "bottle '%s'", name);
	const struct ynode *u, *repos;
	size_t i, j, cap = 0;

	if (need_map(c, n, fmt(c, "bottle '%s' git-gate", name)) < 0)
		return;
	for (i = 0; i < n->n; i++)
		if (!in_list(KEY(n, i)->str, keys))
			mf_error(c, KEY(n, i), "bottle '%s' git-gate has unknown key %s; allowed: user, repos", name,
				 mf_repr(c, KEY(n, i)->str));
	u = yml_get(n, "user");
	if (u) {
		leaf->has_git_user = 1;
		parse_user(c, who, u, &leaf->b.git_user);
	}
	repos = yml_get(n, "repos");
	if (!repos)
		return;
	leaf->has_git_repos = 1;
	if (mf_is_null(repos) || need_map(c, repos, fmt(c, "bottle '%s' git-gate.repos", name)) < 0)
		return;
	for (i = 0; i < repos->n; i++) {
		const struct ynode *k = KEY(repos, i);
		struct mf_repo *r;

		if (k->len == 0) {
			mf_error(c, k, "bottle '%s' git-gate.repos has an empty key", name);
			continue;
		}
		if (!repo_name_ok(k->str)) {
			mf_error(c, k, "bottle '%s' git-gate.repos name %s is invalid; allowed characters: A-Z a-z 0-9 . _ -",
				 name, mf_repr(c, k->str));
			continue;
		}
		if (!(r = PUSH(c, leaf->b.repos, leaf->b.nrepos, cap)))
			return;
		parse_repo(c, name, k, VAL(repos, i), r);
		for (j = 0; j + 1 < leaf->b.nrepos; j++)
			if (!strcmp(leaf->b.repos[j].name, r->name))
				mf_error(c, k,
					 "bottle '%s' git-gate.repos has duplicate name '%s'; each entry maps to a distinct bare repo on the gate.",
					 name, r->name);
	}
}

/* ---- egress ------------------------------------------------------------- */

static const char **str_list(struct mf_ctx *c, const struct ynode *n, const char *label, size_t *count,
			     int (*check)(struct mf_ctx *, const struct ynode *, const char *, size_t))
{
	const char **out;
	size_t i;

	*count = 0;
	if (need_list(c, n, label) < 0)
		return NULL;
	out = arena_alloc(&c->m->arena, (n->n + 1) * sizeof *out);
	if (!out)
		return NULL;
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];

		if (!mf_is_str(it)) {
			mf_error(c, it, "%s[%zu] must be a string (was %s)", label, i, mf_type(it));
			continue;
		}
		if (check && check(c, it, label, i) < 0)
			continue;
		out[(*count)++] = dup(c, it->str);
	}
	return out;
}

static int check_abs_prefix(struct mf_ctx *c, const struct ynode *it, const char *label, size_t i)
{
	if (it->str[0] != '/')
		return mf_error(c, it, "%s[%zu] %s must be an absolute path prefix starting with '/'", label, i,
				mf_repr(c, it->str));
	return 0;
}

static int check_method(struct mf_ctx *c, const struct ynode *it, const char *label, size_t i)
{
	size_t k;

	for (k = 0; k < it->len; k++)
		if (it->str[k] < 'A' || it->str[k] > 'Z')
			break;
	if (it->len == 0 || k < it->len)
		return mf_error(c, it, "%s[%zu] %s must be an upper-case HTTP method such as GET or POST", label, i,
				mf_repr(c, it->str));
	return 0;
}

static int header_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr("!#$%&'*+-.^_`|~", *s) && !((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') ||
							 (*s >= 'A' && *s <= 'Z')))
			return 0;
	return 1;
}

static void parse_matches(struct mf_ctx *c, const char *label, const struct ynode *n, struct mf_route *r)
{
	static const char *const keys[] = { "paths", "methods", "headers", NULL };
	const char *ml = fmt(c, "%s matches", label);
	size_t i, j;

	if (need_list(c, n, ml) < 0)
		return;
	r->matches = arena_alloc(&c->m->arena, (n->n + 1) * sizeof *r->matches);
	if (!r->matches)
		return;
	for (i = 0; i < n->n; i++) {
		const struct ynode *e = n->items[i], *paths, *methods, *headers;
		const char *el = fmt(c, "%s matches[%zu]", label, i);
		struct mf_match *mt = &r->matches[r->nmatches];

		if (need_map(c, e, el) < 0)
			continue;
		for (j = 0; j < e->n; j++)
			if (!in_list(KEY(e, j)->str, keys))
				mf_error(c, KEY(e, j), "%s has unknown key %s; accepted keys are 'paths', 'methods', 'headers'",
					 el, mf_repr(c, KEY(e, j)->str));
		paths = yml_get(e, "paths");
		if (paths && need_list(c, paths, fmt(c, "%s.paths", el)) == 0) {
			mt->paths = arena_alloc(&c->m->arena, (paths->n + 1) * sizeof *mt->paths);
			for (j = 0; mt->paths && j < paths->n; j++) {
				const struct ynode *p = paths->items[j], *t, *v;
				const char *pl = fmt(c, "%s.paths[%zu]", el, j);
				struct mf_path_match pm = { MF_PREFIX, NULL };
				size_t k;

				if (need_map(c, p, pl) < 0)
					continue;
				for (k = 0; k < p->n; k++)
					if (strcmp(KEY(p, k)->str, "type") && strcmp(KEY(p, k)->str, "value"))
						mf_error(c, KEY(p, k), "%s has unknown key %s; accepted keys are 'type', 'value'",
							 pl, mf_repr(c, KEY(p, k)->str));
				t = yml_get(p, "type");
				if (t && !mf_is_null(t)) {
					if (!mf_is_str(t) || (strcmp(t->str, "prefix") && strcmp(t->str, "exact") &&
							      strcmp(t->str, "regex"))) {
						mf_error(c, t, "%s.type %s is not one of prefix, exact, regex", pl,
							 mf_is_str(t) ? mf_repr(c, t->str) : mf_type(t));
						continue;
					}
					pm.type = !strcmp(t->str, "exact") ? MF_EXACT : !strcmp(t->str, "regex") ? MF_REGEX : MF_PREFIX;
				}
				v = yml_get(p, "value");
				if (!mf_is_str(v) || v->len == 0) {
					mf_error(c, v ? v : p, "%s.value must be a non-empty string (was %s)", pl, mf_type(v));
					continue;
				}
				if (pm.type != MF_REGEX && v->str[0] != '/') {
					mf_error(c, v, "%s.value %s must start with '/'", pl, mf_repr(c, v->str));
					continue;
				}
				if (pm.type == MF_REGEX && regex_ok(c, v, fmt(c, "%s.value", pl)) < 0)
					continue;
				pm.value = dup(c, v->str);
				mt->paths[mt->npaths++] = pm;
			}
		}
		methods = yml_get(e, "methods");
		if (methods)
			mt->methods = str_list(c, methods, fmt(c, "%s.methods", el), &mt->nmethods, check_method);
		headers = yml_get(e, "headers");
		if (headers && need_list(c, headers, fmt(c, "%s.headers", el)) == 0) {
			mt->headers = arena_alloc(&c->m->arena, (headers->n + 1) * sizeof *mt->headers);
			for (j = 0; mt->headers && j < headers->n; j++) {
				const struct ynode *h = headers->items[j], *hn, *hv, *ht;
				const char *hl = fmt(c, "%s.headers[%zu]", el, j);
				struct mf_header_match hm = { NULL, NULL, MF_EXACT };
				size_t k;

				if (need_map(c, h, hl) < 0)
					continue;
				for (k = 0; k < h->n; k++)
					if (!in_list(KEY(h, k)->str, (const char *const[]){ "name", "value", "type", NULL }))
						mf_error(c, KEY(h, k), "%s has unknown key %s; accepted keys are 'name', 'value', 'type'",
							 hl, mf_repr(c, KEY(h, k)->str));
				hn = yml_get(h, "name");
				hv = yml_get(h, "value");
				ht = yml_get(h, "type");
				if (!mf_is_str(hn) || !header_name_ok(hn->str)) {
					mf_error(c, hn ? hn : h, "%s.name must be an HTTP header name (was %s)", hl,
						 mf_is_str(hn) ? mf_repr(c, hn->str) : mf_type(hn));
					continue;
				}
				if (!mf_is_str(hv)) {
					mf_error(c, hv ? hv : h, "%s.value must be a string (was %s)", hl, mf_type(hv));
					continue;
				}
				if (ht && !mf_is_null(ht)) {
					if (!mf_is_str(ht) || (strcmp(ht->str, "exact") && strcmp(ht->str, "regex"))) {
						mf_error(c, ht, "%s.type %s is not one of exact, regex", hl,
							 mf_is_str(ht) ? mf_repr(c, ht->str) : mf_type(ht));
						continue;
					}
					hm.type = !strcmp(ht->str, "regex") ? MF_REGEX : MF_EXACT;
				}
				if (hm.type == MF_REGEX && regex_ok(c, hv, fmt(c, "%s.value", hl)) < 0)
					continue;
				hm.name = dup(c, hn->str);
				hm.value = dup(c, hv->str);
				mt->headers[mt->nheaders++] = hm;
			}
		}
		r->nmatches++;
	}
}

static unsigned parse_detectors(struct mf_ctx *c, const char *label, const struct ynode *n, unsigned all,
				const char *const *names, const unsigned *bits, const char *allowed)
{
	unsigned out = 0;
	size_t i, k;
	int b = mf_bool(n);

	if (b == 0)
		return 0;
	if (b == 1)
		return all;
	if (!n || n->type != Y_SEQ) {
		mf_error(c, n, "%s must be false or an array of detector names (was %s)", label, mf_type(n));
		return all;
	}
	for (i = 0; i < n->n; i++) {
		const struct ynode *it = n->items[i];

		for (k = 0; names[k]; k++)
			if (mf_is_str(it) && !strcmp(it->str, names[k]))
				break;
		if (!names[k])
			mf_error(c, it, "%s[%zu] %s is not one of %s", label, i,
				 mf_is_str(it) ? mf_repr(c, it->str) : mf_type(it), allowed);
		else
			out |= bits[k];
	}
	return out;
}

static void parse_dlp(struct mf_ctx *c, const char *label, const struct ynode *n, struct mf_route *r)
{
	static const char *const out_names[] = { "token_patterns", "known_secrets", NULL };
	static const unsigned out_bits[] = { MF_DLP_TOKEN_PATTERNS, MF_DLP_KNOWN_SECRETS };
	static const char *const in_names[] = { "naive_injection_detection", NULL };
	static const unsigned in_bits[] = { MF_DLP_INJECTION };
	const char *dl = fmt(c, "%s dlp", label);
	const struct ynode *v;
	size_t i;

	if (need_map(c, n, dl) < 0)
		return;
	for (i = 0; i < n->n; i++)
		if (strcmp(KEY(n, i)->str, "outbound_detectors") && strcmp(KEY(n, i)->str, "inbound_detectors"))
			mf_error(c, KEY(n, i), "%s has unknown key %s; accepted keys are 'outbound_detectors', 'inbound_detectors'",
				 dl, mf_repr(c, KEY(n, i)->str));
	if ((v = yml_get(n, "outbound_detectors")))
		r->dlp_outbound = parse_detectors(c, fmt(c, "%s.outbound_detectors", dl), v, MF_DLP_OUTBOUND_ALL,
						  out_names, out_bits, "known_secrets, token_patterns");
	if ((v = yml_get(n, "inbound_detectors")))
		r->dlp_inbound = parse_detectors(c, fmt(c, "%s.inbound_detectors", dl), v, MF_DLP_INBOUND_ALL, in_names,
						 in_bits, "naive_injection_detection");
}

static void parse_pipelock(struct mf_ctx *c, const char *label, const struct ynode *n, struct mf_route *r)
{
	const char *pl = fmt(c, "%s pipelock", label);
	const struct ynode *t, *s;
	size_t i;

	if (need_map(c, n, pl) < 0)
		return;
	for (i = 0; i < n->n; i++)
		if (strcmp(KEY(n, i)->str, "tls_passthrough") && strcmp(KEY(n, i)->str, "ssrf_ip_allowlist"))
			mf_error(c, KEY(n, i), "%s has unknown key %s; only 'tls_passthrough' and 'ssrf_ip_allowlist' are accepted",
				 pl, mf_repr(c, KEY(n, i)->str));
	t = yml_get(n, "tls_passthrough");
	if (t) {
		int b = mf_bool(t);

		if (b < 0)
			mf_error(c, t, "%s.tls_passthrough must be a boolean (was %s)", pl, mf_type(t));
		else
			r->tls_passthrough = b;
	}
	s = yml_get(n, "ssrf_ip_allowlist");
	if (s && need_list(c, s, fmt(c, "%s.ssrf_ip_allowlist", pl)) == 0) {
		r->ssrf_ip_allowlist = arena_alloc(&c->m->arena, (s->n + 1) * sizeof *r->ssrf_ip_allowlist);
		for (i = 0; r->ssrf_ip_allowlist && i < s->n; i++) {
			const struct ynode *it = s->items[i];
			unsigned a[4], bits = 32;
			char tail;
			int k = 0;

			if (!mf_is_str(it) || it->len == 0) {
				mf_error(c, it, "%s.ssrf_ip_allowlist[%zu] must be a non-empty string (was %s)", pl, i, mf_type(it));
				continue;
			}
			k = sscanf(it->str, "%3u.%3u.%3u.%3u/%2u%c", &a[0], &a[1], &a[2], &a[3], &bits, &tail);
			if ((k != 4 && k != 5) || a[0] > 255 || a[1] > 255 || a[2] > 255 || a[3] > 255 || bits > 32 ||
			    strspn(it->str, "0123456789./") != it->len) {
				mf_error(c, it, "%s.ssrf_ip_allowlist[%zu] must be an IP address or CIDR (was %s)", pl, i,
					 mf_repr(c, it->str));
				continue;
			}
			r->ssrf_ip_allowlist[r->nssrf++] = dup(c, it->str);
		}
	}
}

static void parse_route(struct mf_ctx *c, const char *name, size_t idx, const struct ynode *n, struct mf_route *r)
{
	static const char *const keys[] = { "host", "path_allowlist", "auth", "role", "pipelock", "matches", "dlp", "git",
					    NULL };
	const char *label = fmt(c, "bottle '%s' egress.routes[%zu]", name, idx);
	const struct ynode *h, *v;
	size_t i;

	memset(r, 0, sizeof *r);
	r->dlp_outbound = MF_DLP_OUTBOUND_ALL;
	r->dlp_inbound = MF_DLP_INBOUND_ALL;
	r->line = n ? n->line : 0;
	if (need_map(c, n, label) < 0)
		return;
	h = yml_get(n, "host");
	if (!mf_is_str(h) || h->len == 0) {
		mf_error(c, h ? h : n, "%s missing required string field 'host'", label);
		return;
	}
	if (strstr(h->str, "://") || strchr(h->str, '/') || strchr(h->str, ':'))
		mf_error(c, h, "%s host %s must be a bare host name (no scheme, port or path)", label, mf_repr(c, h->str));
	else if (!hostname_ok(h->str))
		mf_error(c, h, "%s host %s is not a valid host name", label, mf_repr(c, h->str));
	r->host = dup(c, h->str);
	lower((char *)r->host);
	if ((v = yml_get(n, "path_allowlist")) && !mf_is_null(v))
		r->path_allowlist = str_list(c, v, fmt(c, "%s path_allowlist", label), &r->npath_allowlist, check_abs_prefix);
	if ((v = yml_get(n, "auth"))) {
		const struct ynode *s, *t;

		if (need_map(c, v, fmt(c, "%s auth", label)) == 0) {
			if (v->n == 0) {
				mf_error(c, v,
					 "%s auth is empty ({}); omit the 'auth' key entirely if this route is unauthenticated. Otherwise both 'scheme' and 'token_ref' are required.",
					 label);
			} else {
				s = yml_get(v, "scheme");
				t = yml_get(v, "token_ref");
				if (!mf_is_str(s) || s->len == 0)
					mf_error(c, s ? s : v, "%s auth.scheme is required when 'auth' is set (non-empty string)", label);
				else if (strcmp(s->str, "Bearer") && strcmp(s->str, "token") && strcmp(s->str, "x-api-key"))
					mf_error(c, s, "%s auth.scheme %s is not one of Bearer, token, x-api-key", label,
						 mf_repr(c, s->str));
				else
					r->auth_scheme = dup(c, s->str);
				if (!mf_is_str(t) || t->len == 0)
					mf_error(c, t ? t : v,
						 "%s auth.token_ref is required when 'auth' is set (name of the host env var holding the token value)",
						 label);
				else if (!env_name_ok(t->str))
					mf_error(c, t, "%s auth.token_ref %s must name a host environment variable", label,
						 mf_repr(c, t->str));
				else
					r->token_ref = dup(c, t->str);
				for (i = 0; i < v->n; i++)
					if (strcmp(KEY(v, i)->str, "scheme") && strcmp(KEY(v, i)->str, "token_ref"))
						mf_error(c, KEY(v, i), "%s auth has unknown key %s; only 'scheme' and 'token_ref' are accepted",
							 label, mf_repr(c, KEY(v, i)->str));
				if (!r->auth_scheme || !r->token_ref)
					r->auth_scheme = r->token_ref = NULL;
			}
		}
	}
	if ((v = yml_get(n, "role")) && !mf_is_null(v)) {
		/* bot-bottle reserved the field; its provider templates still write these two. */
		static const char *const known[] = { "claude_code_oauth", "codex_auth", NULL };
		const struct ynode *one[1] = { v };
		const struct ynode *const *items = v->type == Y_SEQ ? (const struct ynode *const *)v->items : one;
		size_t cnt = v->type == Y_SEQ ? v->n : 1;

		if (v->type == Y_MAP || (v->type == Y_SCALAR && !mf_is_str(v))) {
			mf_error(c, v, "%s role must be a string or a list of strings (was %s)", label, mf_type(v));
		} else {
			r->roles = arena_alloc(&c->m->arena, (cnt + 1) * sizeof *r->roles);
			for (i = 0; r->roles && i < cnt; i++) {
				if (!mf_is_str(items[i]))
					mf_error(c, items[i], "%s role items must be strings (got %s)", label, mf_type(items[i]));
				else if (!in_list(items[i]->str, known))
					mf_error(c, items[i], "%s role %s is not accepted; the 'role' field is reserved for future use",
						 label, mf_repr(c, items[i]->str));
				else
					r->roles[r->nroles++] = dup(c, items[i]->str);
			}
		}
	}
	if ((v = yml_get(n, "pipelock")) && !mf_is_null(v))
		parse_pipelock(c, label, v, r);
	if ((v = yml_get(n, "matches")) && !mf_is_null(v))
		parse_matches(c, label, v, r);
	if ((v = yml_get(n, "dlp")) && !mf_is_null(v))
		parse_dlp(c, label, v, r);
	if ((v = yml_get(n, "git")) && !mf_is_null(v) && need_map(c, v, fmt(c, "%s git", label)) == 0) {
		const struct ynode *f = yml_get(v, "fetch");

		for (i = 0; i < v->n; i++)
			if (strcmp(KEY(v, i)->str, "fetch"))
				mf_error(c, KEY(v, i), "%s git has unknown key %s; only 'fetch' is accepted", label,
					 mf_repr(c, KEY(v, i)->str));
		if (f && mf_bool(f) < 0)
			mf_error(c, f, "%s git.fetch must be a boolean (was %s)", label, mf_type(f));
		else if (f)
			r->git_fetch = mf_bool(f);
	}
	for (i = 0; i < n->n; i++)
		if (!in_list(KEY(n, i)->str, keys))
			mf_error(c, KEY(n, i),
				 "%s has unknown key %s; accepted keys are 'host', 'path_allowlist', 'auth', 'role', 'pipelock', 'matches', 'dlp', 'git'",
				 label, mf_repr(c, KEY(n, i)->str));
}

static void parse_egress(struct mf_ctx *c, const char *name, const struct ynode *n, struct mf_bottle *b)
{
	const struct ynode *routes;
	size_t i, j;

	if (need_map(c, n, fmt(c, "bottle '%s' egress", name)) < 0)
		return;
	routes = yml_get(n, "routes");
	if (routes && !mf_is_null(routes)) {
		if (routes->type != Y_SEQ) {
			mf_error(c, routes, "bottle '%s' egress.routes must be an array (was %s)", name, mf_type(routes));
		} else {
			b->routes = arena_alloc(&c->m->arena, (routes->n + 1) * sizeof *b->routes);
			for (i = 0; b->routes && i < routes->n; i++) {
				parse_route(c, name, i, routes->items[i], &b->routes[b->nroutes]);
				if (b->routes[b->nroutes].host)
					b->nroutes++;
			}
		}
	}
	for (i = 0; i < b->nroutes; i++)
		for (j = 0; j < i; j++)
			if (!strcmp(b->routes[i].host, b->routes[j].host)) {
				mf_error(c, routes->items[i],
					 "bottle '%s' egress.routes has duplicate host %s; each host must be unique on the proxy.", name,
					 mf_repr(c, b->routes[i].host));
				break;
			}
	for (i = 0; i < n->n; i++)
		if (strcmp(KEY(n, i)->str, "routes"))
			mf_error(c, KEY(n, i), "bottle '%s' egress has unknown key %s; only 'routes' is accepted", name,
				 mf_repr(c, KEY(n, i)->str));
}

/* ---- bottle and agent --------------------------------------------------- */

static const char PRD0047[] =
	"uses 'git' which has been replaced by 'git-gate' (PRD 0047). Move git.user → git-gate.user and git.remotes → git-gate.repos.";

/* Python's sorted(set) repr of the unknown keys: ['a', 'b']. */
static const char *unknown_keys(struct mf_ctx *c, const struct ynode *fm, const char *const *allowed)
{
	const char *names[64];
	size_t n = 0, i, j;
	struct buf b = BUF_INIT(4096);
	const char *out;

	for (i = 0; i < fm->n && n < 64; i++)
		if (!in_list(KEY(fm, i)->str, allowed))
			names[n++] = KEY(fm, i)->str;
	if (!n)
		return NULL;
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			const char *t = names[j];
			names[j] = names[j - 1];
			names[j - 1] = t;
		}
	buf_append_byte(&b, '[', NULL);
	for (i = 0; i < n; i++)
		buf_printf(&b, NULL, "%s%s", i ? ", " : "", mf_repr(c, names[i]));
	buf_append_byte(&b, ']', NULL);
	out = dup(c, b.p);
	buf_free(&b);
	return out;
}

void mf_parse_bottle(struct mf_ctx *c, const char *name, struct mf_leaf *leaf)
{
	const struct ynode *fm = leaf->raw, *v;
	const char *unk;
	size_t before = c->m->nerrors;

	leaf->b.name = dup(c, name);
	leaf->b.file = c->file;
	leaf->b.provider.template_ = "claude";
	leaf->b.provider.dockerfile = leaf->b.provider.auth_token = leaf->b.provider.api_key = leaf->b.provider.program = "";
	leaf->b.git_user.name = leaf->b.git_user.email = "";
	if (!fm || mf_is_null(fm))
		return; /* an empty bottle is valid */
	if (fm->type != Y_MAP) {
		mf_error(c, fm, "bottle '%s' frontmatter must be a mapping of keys (was %s)", name, mf_type(fm));
		leaf->bad = 1;
		return;
	}
	if ((v = key_node(fm, "git")))
		mf_error(c, v, "bottle '%s' %s", name, PRD0047);
	unk = unknown_keys(c, fm, (const char *const[]){ "agent_provider", "egress", "env", "extends", "git-gate",
							  "supervise", "git", NULL });
	if (unk)
		mf_error(c, fm, "bottle '%s': unknown frontmatter key(s) %s; allowed keys are agent_provider, egress, env, extends, git-gate, supervise.",
			 name, unk);
	if ((v = yml_get(fm, "env"))) {
		leaf->has_env = 1;
		parse_env(c, fmt(c, "bottle '%s'", name), v, &leaf->b);
	}
	if ((v = yml_get(fm, "agent_provider"))) {
		leaf->has_provider = 1;
		parse_provider(c, name, v, &leaf->b.provider);
	}
	if ((v = yml_get(fm, "git-gate")) && !mf_is_null(v))
		parse_git_gate(c, name, v, leaf);
	if ((v = yml_get(fm, "egress"))) {
		leaf->has_egress = 1;
		if (!mf_is_null(v))
			parse_egress(c, name, v, &leaf->b);
	}
	if ((v = yml_get(fm, "supervise"))) {
		int s = mf_bool(v);

		leaf->has_supervise = 1;
		if (s < 0)
			mf_error(c, v, "bottle '%s' supervise must be a boolean (was %s)", name, mf_type(v));
		else
			leaf->b.supervise = s;
	}
	if ((v = yml_get(fm, "extends")) && !mf_is_null(v)) {
		if (!mf_is_str(v))
			mf_error(c, v, "bottle '%s' extends must be a string (was %s)", name, mf_type(v));
		else
			leaf->b.extends = dup(c, v->str);
	}
	if (c->m->nerrors > before)
		leaf->bad = 1;
}

static int check_skill(struct mf_ctx *c, const struct ynode *it, const char *label, size_t i)
{
	size_t k;

	for (k = 0; k < it->len; k++)
		if (!((it->str[k] >= 'a' && it->str[k] <= 'z') || (it->str[k] >= 'A' && it->str[k] <= 'Z') ||
		      (it->str[k] >= '0' && it->str[k] <= '9') || strchr("._-", it->str[k])))
			break;
	if (it->len == 0 || k < it->len || it->str[0] == '.')
		return mf_error(c, it, "%s[%zu] %s must be a skill directory name (letters, digits, . _ -; not starting with '.')",
				label, i, mf_repr(c, it->str));
	return 0;
}

void mf_parse_agent(struct mf_ctx *c, const char *name, const struct ynode *fm, const char *body, size_t blen,
		    struct mf_agent *a)
{
	const struct ynode *v;
	const char *unk, *who = fmt(c, "agent '%s'", name);
	size_t before = c->m->nerrors, i;

	a->name = dup(c, name);
	a->file = c->file;
	a->git_user.name = a->git_user.email = "";
	while (blen && strchr(" \t\r\n", body[0]))
		body++, blen--;
	while (blen && strchr(" \t\r\n", body[blen - 1]))
		blen--;
	a->prompt = arena_strndup(&c->m->arena, body, blen);
	if (!fm || fm->type != Y_MAP) {
		mf_error(c, fm, "agent '%s' must declare a 'bottle' field naming a defined bottle", name);
		return;
	}
	if ((v = key_node(fm, "git")))
		mf_error(c, v, "agent '%s' %s", name, PRD0047);
	unk = unknown_keys(c, fm, (const char *const[]){ "bottle", "color", "description", "git-gate", "memory", "model",
							  "name", "skills", "git", NULL });
	if (unk)
		mf_error(c, fm, "agent '%s': unknown frontmatter key(s) %s; allowed keys are bottle, color, description, git-gate, memory, model, name, skills.",
			 name, unk);
	v = yml_get(fm, "bottle");
	if (!mf_is_str(v) || v->len == 0)
		mf_error(c, v ? v : fm, "agent '%s' must declare a 'bottle' field naming a defined bottle", name);
	else
		a->bottle = dup(c, v->str);
	if ((v = yml_get(fm, "skills")) && !mf_is_null(v)) {
		if (v->type != Y_SEQ)
			mf_error(c, v, "agent '%s' skills must be an array (was %s)", name, mf_type(v));
		else
			a->skills = str_list(c, v, fmt(c, "agent '%s' skills", name), &a->nskills, check_skill);
	}
	if ((v = yml_get(fm, "git-gate")) && !mf_is_null(v) && need_map(c, v, fmt(c, "agent '%s' git-gate", name)) == 0) {
		for (i = 0; i < v->n; i++)
			if (strcmp(KEY(v, i)->str, "user"))
				mf_error(c, KEY(v, i),
					 "agent '%s' git-gate.%s is not allowed at the agent level; only git-gate.user (name/email) may be set on an agent. git-gate.repos is bottle-only (it carries credentials and host trust).",
					 name, KEY(v, i)->str);
		if (yml_get(v, "user"))
			parse_user(c, who, yml_get(v, "user"), &a->git_user);
	}
	a->ok = c->m->nerrors == before;
}
