/* scan_file.c - user rules and allowlists from a YAML file, checked with the rule id and what is wrong. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fd.h"
#include "scan.h"
#include "yml.h"

#define RULES_FILE_MAX (1024 * 1024)

/* The string value of key in map, NULL when absent; -1 (with e) when present but not a string. */
static int get_str(const struct ynode *map, const char *key, const char **out, const char *where, struct bb_err *e)
{
	const struct ynode *v = yml_get(map, key);

	*out = NULL;
	if (!v)
		return 0;
	if (v->type != Y_SCALAR)
		return bb_errf(e, BB_EINVAL, "%s line %u: %s must be a string", where, v->line, key);
	*out = v->str;
	return 0;
}

/* A list of strings joined with commas (keywords, stopwords) into buf. */
static int join_list(const struct ynode *v, const char *key, struct buf *b, const char *where, struct bb_err *e)
{
	size_t i;

	buf_reset(b);
	if (!v)
		return 0;
	if (v->type != Y_SEQ)
		return bb_errf(e, BB_EINVAL, "%s line %u: %s must be a list of strings", where, v->line, key);
	for (i = 0; i < v->n; i++) {
		const struct ynode *it = v->items[i];
		size_t k;

		if (it->type != Y_SCALAR || it->len == 0 || strchr(it->str, ','))
			return bb_errf(e, BB_EINVAL, "%s line %u: %s[%zu] must be a non-empty string without commas", where,
				       it->line, key, i);
		if ((i && buf_append_byte(b, ',', e) < 0) || buf_append(b, it->str, it->len, e) < 0)
			return -1;
		for (k = b->len - it->len; k < b->len; k++)
			if (b->p[k] >= 'A' && b->p[k] <= 'Z')
				b->p[k] = (char)(b->p[k] + 32);
	}
	return 0;
}

static int load_allowlist(struct scan_engine *eng, const struct ynode *al, const char *path, struct bb_err *e)
{
	static const char *const keys[] = { "regexes", "paths", NULL };
	size_t i, k;

	if (al->type != Y_MAP)
		return bb_errf(e, BB_EINVAL, "%s line %u: allowlist must be a mapping", path, al->line);
	for (i = 0; i < al->n; i++) {
		const struct ynode *key = al->items[2 * i], *v = al->items[2 * i + 1];
		int is_path;

		for (k = 0; keys[k] && strcmp(keys[k], key->str); k++)
			;
		if (!keys[k])
			return bb_errf(e, BB_EINVAL, "%s line %u: allowlist has unknown key '%s' (allowed: regexes, paths)", path,
				       key->line, key->str);
		is_path = k == 1;
		if (v->type != Y_SEQ)
			return bb_errf(e, BB_EINVAL, "%s line %u: allowlist.%s must be a list", path, v->line, key->str);
		for (k = 0; k < v->n; k++) {
			const struct ynode *it = v->items[k];
			int rc;

			if (it->type != Y_SCALAR)
				return bb_errf(e, BB_EINVAL, "%s line %u: allowlist.%s[%zu] must be a string", path, it->line,
					       key->str, k);
			rc = is_path ? scan_engine_allow_path(eng, it->str, e) : scan_engine_allow_regex(eng, it->str, e);
			if (rc < 0)
				return bb_err_wrap(e, "%s line %u: allowlist.%s[%zu]", path, it->line, key->str, k);
		}
	}
	return 0;
}

static int load_rule(struct scan_engine *eng, const struct ynode *r, const char *path, struct bb_err *e)
{
	static const char *const keys[] = { "id", "description", "regex", "secret_group", "entropy", "keywords",
					    "allowlist", NULL };
	struct buf kw = BUF_INIT(64 * 1024), stop = BUF_INIT(64 * 1024);
	struct scan_rule_def def;
	char where[512];
	const struct ynode *v;
	const char *allow_re = NULL, *allow_match = NULL;
	size_t i, k;
	int rc = -1;

	memset(&def, 0, sizeof def);
	if (r->type != Y_MAP)
		return bb_errf(e, BB_EINVAL, "%s line %u: each rule must be a mapping", path, r->line);
	if (get_str(r, "id", &def.id, path, e) < 0)
		return -1;
	if (!def.id)
		return bb_errf(e, BB_EINVAL, "%s line %u: rule without an id", path, r->line);
	snprintf(where, sizeof where, "%s: rule '%s'", path, def.id);
	for (i = 0; i < r->n; i++) {
		const struct ynode *key = r->items[2 * i];

		for (k = 0; keys[k] && strcmp(keys[k], key->str); k++)
			;
		if (!keys[k]) {
			bb_errf(e, BB_EINVAL, "%s line %u: unknown key '%s' (allowed: id, description, regex, secret_group, entropy, keywords, allowlist)",
				where, key->line, key->str);
			goto out;
		}
	}
	if (get_str(r, "description", &def.description, where, e) < 0 || get_str(r, "regex", &def.regex, where, e) < 0)
		goto out;
	if (!def.regex) {
		bb_errf(e, BB_EINVAL, "%s: regex is required", where);
		goto out;
	}
	if ((v = yml_get(r, "secret_group"))) {
		uint64_t g;

		if (v->type != Y_SCALAR || sv_to_u64(sv_of(v->str, v->len), 15, &g, NULL) < 0) {
			bb_errf(e, BB_EINVAL, "%s line %u: secret_group must be a number from 0 to 15", where, v->line);
			goto out;
		}
		def.secret_group = (unsigned)g;
	}
	if ((v = yml_get(r, "entropy"))) {
		char *end;

		def.entropy = v->type == Y_SCALAR ? strtod(v->str, &end) : -1;
		if (v->type != Y_SCALAR || *end || def.entropy < 0 || def.entropy > 8) {
			bb_errf(e, BB_EINVAL, "%s line %u: entropy must be a number from 0 to 8 (bits per byte)", where, v->line);
			goto out;
		}
	}
	if (join_list(yml_get(r, "keywords"), "keywords", &kw, where, e) < 0)
		goto out;
	def.keywords = kw.p;
	if ((v = yml_get(r, "allowlist"))) {
		const struct ynode *rx;

		if (v->type != Y_MAP) {
			bb_errf(e, BB_EINVAL, "%s line %u: allowlist must be a mapping", where, v->line);
			goto out;
		}
		for (i = 0; i < v->n; i++)
			if (strcmp(v->items[2 * i]->str, "regex") && strcmp(v->items[2 * i]->str, "stopwords") &&
			    strcmp(v->items[2 * i]->str, "match_regex")) {
				bb_errf(e, BB_EINVAL,
					"%s line %u: allowlist has unknown key '%s' (allowed: regex, match_regex, stopwords)", where,
					v->items[2 * i]->line, v->items[2 * i]->str);
				goto out;
			}
		if (get_str(v, "regex", &allow_re, where, e) < 0 || get_str(v, "match_regex", &allow_match, where, e) < 0)
			goto out;
		if ((rx = yml_get(v, "stopwords")) && join_list(rx, "allowlist.stopwords", &stop, where, e) < 0)
			goto out;
		def.allow_regex = allow_re;
		def.allow_match = allow_match;
		def.stopwords = stop.p;
	}
	rc = scan_engine_add_rule(eng, &def, e);
	if (rc < 0)
		bb_err_wrap(e, "%s", path);
out:
	buf_free(&kw);
	buf_free(&stop);
	return rc;
}

int scan_engine_load_rules(struct scan_engine *eng, const char *path, struct bb_err *e)
{
	struct buf text = BUF_INIT(RULES_FILE_MAX);
	struct ydoc doc;
	const struct ynode *root, *rules, *al;
	size_t i;
	int rc = -1;

	if (fd_read_file(path, RULES_FILE_MAX, &text, e) < 0)
		return -1;
	if (yml_parse(path, text.p ? text.p : "", text.len, 1, &doc, e) < 0) {
		buf_free(&text);
		return -1;
	}
	root = doc.root;
	if (!root || root->type != Y_MAP) {
		bb_errf(e, BB_EINVAL, "%s: expected a mapping with 'rules' and/or 'allowlist'", path);
		goto out;
	}
	for (i = 0; i < root->n; i++)
		if (strcmp(root->items[2 * i]->str, "rules") && strcmp(root->items[2 * i]->str, "allowlist")) {
			bb_errf(e, BB_EINVAL, "%s line %u: unknown key '%s' (allowed: rules, allowlist)", path,
				root->items[2 * i]->line, root->items[2 * i]->str);
			goto out;
		}
	if ((rules = yml_get(root, "rules"))) {
		if (rules->type != Y_SEQ) {
			bb_errf(e, BB_EINVAL, "%s line %u: rules must be a list", path, rules->line);
			goto out;
		}
		for (i = 0; i < rules->n; i++)
			if (load_rule(eng, rules->items[i], path, e) < 0)
				goto out;
	}
	if ((al = yml_get(root, "allowlist")) && load_allowlist(eng, al, path, e) < 0)
		goto out;
	rc = 0;
out:
	yml_free(&doc);
	buf_free(&text);
	return rc;
}
