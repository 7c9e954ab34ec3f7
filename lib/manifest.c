/* manifest.c - finding manifest files, reading them safely, resolving extends, and collecting diagnostics. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fd.h"
#include "manifest_int.h"
#include "utf8.h"

static void vdiag(struct mf_ctx *c, const struct ynode *at, int warning, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static void vdiag(struct mf_ctx *c, const struct ynode *at, int warning, const char *fmt, va_list ap)
{
	struct manifest *m = c->m;
	struct mf_diag *d;
	char msg[2048];

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (!warning)
		m->nerrors++;
	if (m->ndiags >= MF_DIAG_MAX) {
		m->dropped++;
		return;
	}
	d = arena_grow(&m->arena, m->diags, m->ndiags, &m->diag_cap, sizeof *m->diags);
	if (!d)
		return;
	m->diags = d;
	d = &m->diags[m->ndiags++];
	d->file = c->file;
	d->line = at ? at->line : 0;
	d->warning = warning;
	d->msg = arena_strdup(&m->arena, msg);
	if (!d->msg)
		d->msg = "(out of memory)";
}

int mf_error(struct mf_ctx *c, const struct ynode *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(c, at, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int mf_warn(struct mf_ctx *c, const struct ynode *at, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vdiag(c, at, 1, fmt, ap);
	va_end(ap);
	return -1;
}

int manifest_name_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || s[0] < 'a' || s[0] > 'z')
		return 0;
	for (i = 1; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return 0;
	return 1;
}

/* ---- discovery ---------------------------------------------------------- */

enum { BOTTLE, AGENT };

struct found {
	int kind;
	const char *root; /* the home or cwd directory it came from */
	char name[NAME_MAX + 1];
	char path[PATH_MAX];
	int legacy; /* from a .bot-bottle tree */
};

struct found_list {
	struct found *v;
	size_t n, cap;
};

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Add the *.md files of dir to the list (an entity replaces an earlier one of the same kind and name). */
static int scan_dir(struct manifest *m, struct found_list *fl, const char *root, const char *dir, int kind,
		    int legacy, struct bb_err *e)
{
	struct mf_ctx c = { m, NULL };
	char *names[4096];
	size_t n = 0, i, k;
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return 0; /* a missing directory holds no manifests */
	while ((de = readdir(d)) != NULL && n < sizeof names / sizeof names[0]) {
		size_t len = strlen(de->d_name);

		if (len < 3 || strcmp(de->d_name + len - 3, ".md") != 0)
			continue;
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			closedir(d);
			goto oom;
		}
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof names[0], by_name);
	for (i = 0; i < n; i++) {
		size_t len = strlen(names[i]) - 3;
		struct found *f = NULL;
		char path[PATH_MAX];

		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		if (!manifest_name_ok(names[i], len)) {
			c.file = arena_strdup(&m->arena, path);
			mf_warn(&c, NULL, "skipping %s: filename must match [a-z][a-z0-9-]*.md (got '%s')", path, names[i]);
			continue;
		}
		for (k = 0; k < fl->n; k++)
			if (fl->v[k].kind == kind && strlen(fl->v[k].name) == len &&
			    !strncmp(fl->v[k].name, names[i], len))
				break;
		if (k < fl->n) {
			f = &fl->v[k];
			/* bb's tree over bot-bottle's in the same place is worth a word; $CWD over home is the design. */
			if (f->root == root) {
				c.file = arena_strdup(&m->arena, path);
				mf_warn(&c, NULL, "%s '%.*s': %s takes precedence over %s", kind == BOTTLE ? "bottle" : "agent",
					(int)len, names[i], path, f->path);
			}
		} else {
			if (fl->n == fl->cap) {
				size_t ncap = fl->cap ? fl->cap * 2 : 16;
				struct found *nv = realloc(fl->v, ncap * sizeof *nv);

				if (!nv)
					goto oom;
				fl->v = nv;
				fl->cap = ncap;
			}
			f = &fl->v[fl->n++];
		}
		f->kind = kind;
		f->root = root;
		f->legacy = legacy;
		snprintf(f->name, sizeof f->name, "%.*s", (int)len, names[i]);
		snprintf(f->path, sizeof f->path, "%s", path);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	return 0;
oom:
	for (i = 0; i < n; i++)
		free(names[i]);
	return bb_errno(e, ENOMEM, "listing %s", dir);
}

static int same_dir(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* bot-bottle's check for the manifest format it had before per-file Markdown. */
static void stale_json(struct manifest *m, const char *dir, const char *label)
{
	char legacy[PATH_MAX], md[PATH_MAX];
	struct stat st;
	struct mf_ctx c = { m, NULL };

	snprintf(legacy, sizeof legacy, "%s/bot-bottle.json", dir);
	snprintf(md, sizeof md, "%s/.bot-bottle", dir);
	if (stat(legacy, &st) == 0 && S_ISREG(st.st_mode) && stat(md, &st) != 0) {
		c.file = arena_strdup(&m->arena, legacy);
		mf_warn(&c, NULL,
			"found %s but %s does not exist. The manifest format changed in PRD 0011 — rewrite the JSON content as per-file Markdown under %s/bottles/ and %s/agents/. See README.md for the schema. (%s)",
			legacy, md, md, md, label);
	}
}

static int discover(struct manifest *m, const struct mf_dirs *dirs, struct found_list *fl, struct bb_err *e)
{
	static const struct {
		const char *tree;
		int kind, legacy;
	} home_dirs[] = {
		{ ".bot-bottle/bottles", BOTTLE, 1 },
		{ ".bb/bottles", BOTTLE, 0 },
		{ ".bot-bottle/agents", AGENT, 1 },
		{ ".bb/agents", AGENT, 0 },
	};
	char dir[PATH_MAX];
	size_t i;

	stale_json(m, dirs->home, "home");
	for (i = 0; i < sizeof home_dirs / sizeof home_dirs[0]; i++) {
		snprintf(dir, sizeof dir, "%s/%s", dirs->home, home_dirs[i].tree);
		if (scan_dir(m, fl, dirs->home, dir, home_dirs[i].kind, home_dirs[i].legacy, e) < 0)
			return -1;
	}
	if (!dirs->cwd || same_dir(dirs->cwd, dirs->home))
		return 0;
	/* $CWD holds agents only: a project may name its agents, not its bottles' trust. */
	for (i = 2; i < sizeof home_dirs / sizeof home_dirs[0]; i++) {
		snprintf(dir, sizeof dir, "%s/%s", dirs->cwd, home_dirs[i].tree);
		if (scan_dir(m, fl, dirs->cwd, dir, AGENT, home_dirs[i].legacy, e) < 0)
			return -1;
	}
	return 0;
}

/* ---- reading one file --------------------------------------------------- */

/* Offset of the first byte that is not valid UTF-8 (or is NUL), or -1. */
static long bad_byte(const unsigned char *s, size_t n)
{
	size_t ok = utf8_valid_prefix(s, n);
	const unsigned char *nul = memchr(s, 0, ok);

	if (nul)
		return (long)(nul - s);
	return ok < n ? (long)ok : -1;
}

struct parsed {
	struct ydoc doc;
	struct buf text;
	struct sv body;
	int ok;
};

static void read_manifest(struct manifest *m, const char *path, struct parsed *p)
{
	struct mf_ctx c = { m, path };
	struct bb_err e = { 0 };
	struct sv yaml;
	unsigned line;
	long bad;

	memset(p, 0, sizeof *p);
	buf_init(&p->text, MF_FILE_MAX);
	if (fd_read_file(path, MF_FILE_MAX, &p->text, &e) < 0) {
		mf_error(&c, NULL, "could not read %s: %s", path,
			 e.code == BB_ETOOBIG ? "file is larger than 1 MiB" : strerror(e.code));
		return;
	}
	bad = bad_byte((const unsigned char *)p->text.p, p->text.len);
	if (bad >= 0) {
		mf_error(&c, NULL, "byte %ld (0x%02x) is %s: manifests must be UTF-8 text", bad,
			 (unsigned char)p->text.p[bad], p->text.p[bad] ? "not valid UTF-8" : "a NUL byte");
		return;
	}
	if (yml_split_frontmatter(p->text.p, p->text.len, &yaml, &p->body, &line, &e) < 0) {
		mf_error(&c, NULL, "%s", e.msg);
		return;
	}
	if (yml_parse(path, yaml.p, yaml.len, line, &p->doc, &e) < 0) {
		/* yml's message starts with the path already: keep only "line L column C: ..." */
		const char *msg = strncmp(e.msg, path, strlen(path)) == 0 ? e.msg + strlen(path) + 1 : e.msg;
		mf_error(&c, NULL, "%s", msg);
		return;
	}
	p->ok = 1;
}

/* ---- extends ------------------------------------------------------------ */

struct resolver {
	struct manifest *m;
	struct mf_leaf *leaves;
	size_t n;
	const char *names_avail;
};

static long leaf_index(struct resolver *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (!strcmp(r->leaves[i].b.name, name))
			return (long)i;
	return -1;
}

static void merge(struct resolver *r, struct mf_ctx *c, const struct mf_bottle *parent, struct mf_leaf *child,
		  struct mf_bottle *out)
{
	struct arena *a = &r->m->arena;
	const struct mf_bottle *cb = &child->b;
	size_t i, j, cap;

	*out = *parent;
	out->name = cb->name;
	out->file = cb->file;
	out->extends = cb->extends;
	/* env: merged by name, the child's value wins. */
	out->env = arena_alloc(a, (parent->nenv + cb->nenv + 1) * sizeof *out->env);
	out->nenv = 0;
	for (i = 0; out->env && i < parent->nenv; i++)
		out->env[out->nenv++] = parent->env[i];
	for (i = 0; out->env && i < cb->nenv; i++) {
		for (j = 0; j < out->nenv; j++)
			if (!strcmp(out->env[j].name, cb->env[i].name))
				break;
		out->env[j] = cb->env[i];
		if (j == out->nenv)
			out->nenv++;
	}
	/* git-gate.user: field by field, a non-empty child field wins. */
	if (*cb->git_user.name)
		out->git_user.name = cb->git_user.name;
	if (*cb->git_user.email)
		out->git_user.email = cb->git_user.email;
	/* git-gate.repos: an empty child map clears; else merged by upstream host. */
	if (child->has_git_repos) {
		if (cb->nrepos == 0) {
			out->repos = NULL;
			out->nrepos = 0;
		} else {
			cap = parent->nrepos + cb->nrepos + 1;
			out->repos = arena_alloc(a, cap * sizeof *out->repos);
			out->nrepos = 0;
			for (i = 0; out->repos && i < parent->nrepos; i++)
				out->repos[out->nrepos++] = parent->repos[i];
			for (i = 0; out->repos && i < cb->nrepos; i++) {
				for (j = 0; j < out->nrepos; j++)
					if (out->repos[j].host && cb->repos[i].host &&
					    !strcmp(out->repos[j].host, cb->repos[i].host))
						break;
				out->repos[j] = cb->repos[i];
				if (j == out->nrepos)
					out->nrepos++;
			}
			/* bot-bottle never re-checked names after merging; two bare repos cannot share one. */
			for (i = 0; out->repos && i < out->nrepos; i++)
				for (j = 0; j < i; j++)
					if (!strcmp(out->repos[i].name, out->repos[j].name))
						mf_error(c, NULL,
							 "bottle '%s' git-gate.repos has duplicate name '%s' after extends; each entry maps to a distinct bare repo on the gate.",
							 cb->name, out->repos[i].name);
		}
	}
	if (child->has_egress) {
		out->routes = cb->routes;
		out->nroutes = cb->nroutes;
	}
	if (child->has_provider)
		out->provider = cb->provider;
	if (child->has_supervise)
		out->supervise = cb->supervise;
}

/* Resolve leaves[i] into leaves[i].out; chain holds the names being resolved. Returns 0 if good. */
static int resolve_one(struct resolver *r, size_t i, const char **chain, size_t depth)
{
	struct mf_leaf *leaf = &r->leaves[i];
	struct mf_ctx c = { r->m, leaf->b.file };
	const struct ynode *ext_node = yml_get(leaf->raw, "extends");
	long p;
	size_t k;

	if (leaf->resolved)
		return leaf->out.ok ? 0 : -1;
	chain[depth] = leaf->b.name;
	if (leaf->resolving) {
		struct buf b = BUF_INIT(8192);

		for (k = 0; k <= depth; k++)
			buf_printf(&b, NULL, "%s%s", k ? " -> " : "", chain[k]);
		mf_error(&c, ext_node, "bottle '%s' is in an extends cycle: %s", leaf->b.name, b.p);
		buf_free(&b);
		/* Every member already fails for the cycle: no "extends an invalid bottle" on top. */
		for (k = 0; k < depth; k++)
			if (!strcmp(chain[k], leaf->b.name))
				break;
		for (; k <= depth; k++)
			r->leaves[leaf_index(r, chain[k])].in_cycle = 1;
		return -1;
	}
	if (depth >= MF_EXTENDS_MAX) {
		mf_error(&c, ext_node, "bottle '%s' extends chain is deeper than %d bottles", chain[0], MF_EXTENDS_MAX);
		return -1;
	}
	leaf->resolving = 1;
	if (!leaf->b.extends) {
		leaf->out = leaf->b;
	} else if (!strcmp(leaf->b.extends, leaf->b.name)) {
		mf_error(&c, ext_node, "bottle '%s' extends itself; remove the self-reference", leaf->b.name);
		leaf->bad = 1;
	} else if ((p = leaf_index(r, leaf->b.extends)) < 0) {
		mf_error(&c, ext_node, "bottle '%s' extends '%s' which is not defined. Available bottles: %s", leaf->b.name,
			 leaf->b.extends, r->names_avail);
		leaf->bad = 1;
	} else if (resolve_one(r, (size_t)p, chain, depth + 1) < 0) {
		/* The parent's own errors are reported against its file; say why this one fails too. */
		if (!leaf->in_cycle)
			mf_error(&c, ext_node, "bottle '%s' extends '%s', which is invalid (%s)", leaf->b.name,
				 leaf->b.extends, r->leaves[p].b.file);
		leaf->bad = 1;
	} else if (r->leaves[p].out.nchain >= MF_EXTENDS_MAX) {
		/* Parents resolved earlier (memoised) do not show in depth: count the chain itself. */
		mf_error(&c, ext_node, "bottle '%s' extends chain is deeper than %d bottles", leaf->b.name, MF_EXTENDS_MAX);
		leaf->bad = 1;
	} else {
		merge(r, &c, &r->leaves[p].out, leaf, &leaf->out);
	}
	leaf->resolving = 0;
	leaf->resolved = 1;
	leaf->out.name = leaf->b.name;
	leaf->out.file = leaf->b.file;
	leaf->out.ok = !leaf->bad;
	if (leaf->out.ok) {
		/* this bottle, then its ancestors */
		const struct mf_bottle *pb = leaf->b.extends ? &r->leaves[leaf_index(r, leaf->b.extends)].out : NULL;
		size_t n = 1 + (pb ? pb->nchain : 0);
		const char **ch = arena_alloc(&r->m->arena, n * sizeof *ch);

		if (ch) {
			ch[0] = leaf->b.name;
			for (k = 1; k < n; k++)
				ch[k] = pb->chain[k - 1];
			leaf->out.chain = ch;
			leaf->out.nchain = n;
		}
	}
	return leaf->out.ok ? 0 : -1;
}

/* ---- the whole load ----------------------------------------------------- */

static int add_file(struct manifest *m, const struct found *f)
{
	struct mf_file *nf = arena_grow(&m->arena, m->files, m->nfiles, &m->file_cap, sizeof *m->files);

	if (!nf)
		return -1;
	m->files = nf;
	nf = &m->files[m->nfiles++];
	nf->path = arena_strdup(&m->arena, f->path);
	nf->name = arena_strdup(&m->arena, f->name);
	nf->is_agent = f->kind == AGENT;
	return 0;
}

int manifest_load(struct manifest *m, const struct mf_dirs *dirs, struct bb_err *e)
{
	struct found_list fl = { 0 };
	struct parsed *parsed = NULL;
	struct mf_leaf *leaves = NULL;
	struct resolver r;
	struct buf avail = BUF_INIT(64 * 1024);
	const char *chain[MF_EXTENDS_MAX + 2];
	size_t i, nb = 0, na = 0;
	int rc = -1;

	memset(m, 0, sizeof *m);
	m->arena.max = 256u << 20;
	if (discover(m, dirs, &fl, e) < 0)
		goto out;
	parsed = calloc(fl.n + 1, sizeof *parsed);
	leaves = calloc(fl.n + 1, sizeof *leaves);
	if (!parsed || !leaves) {
		bb_errno(e, ENOMEM, "loading manifests");
		goto out;
	}
	for (i = 0; i < fl.n; i++) {
		if (add_file(m, &fl.v[i]) < 0 || !m->files[i].path) {
			bb_errno(e, ENOMEM, "loading manifests");
			goto out;
		}
		read_manifest(m, m->files[i].path, &parsed[i]);
	}
	/* Bottles first: agents are checked against them. */
	for (i = 0; i < fl.n; i++) {
		struct mf_ctx c = { m, m->files[i].path };
		struct mf_leaf *leaf;

		if (fl.v[i].kind != BOTTLE)
			continue;
		leaf = &leaves[nb++];
		leaf->raw = parsed[i].ok ? parsed[i].doc.root : NULL;
		leaf->bad = !parsed[i].ok;
		mf_parse_bottle(&c, fl.v[i].name, leaf);
		if (!parsed[i].ok)
			leaf->bad = 1;
		buf_printf(&avail, NULL, "%s%s", avail.len ? ", " : "", fl.v[i].name);
	}
	r.m = m;
	r.leaves = leaves;
	r.n = nb;
	r.names_avail = avail.len ? avail.p : "(none)";
	m->bottles = arena_alloc(&m->arena, (nb + 1) * sizeof *m->bottles);
	for (i = 0; i < nb; i++) {
		resolve_one(&r, i, chain, 0);
		if (m->bottles)
			m->bottles[m->nbottles++] = leaves[i].out;
	}
	m->agents = arena_alloc(&m->arena, (fl.n + 1) * sizeof *m->agents);
	for (i = 0; m->agents && i < fl.n; i++) {
		struct mf_ctx c = { m, m->files[i].path };
		struct mf_agent *a;
		const struct mf_bottle *b;

		if (fl.v[i].kind != AGENT)
			continue;
		a = &m->agents[na++];
		m->nagents = na;
		if (!parsed[i].ok) {
			a->name = arena_strdup(&m->arena, fl.v[i].name);
			a->file = m->files[i].path;
			a->git_user.name = a->git_user.email = "";
			continue;
		}
		mf_parse_agent(&c, fl.v[i].name, parsed[i].doc.root, parsed[i].body.p, parsed[i].body.len, a);
		if (a->bottle && !(b = manifest_bottle(m, a->bottle))) {
			mf_error(&c, yml_get(parsed[i].doc.root, "bottle"),
				 "agent '%s' references bottle '%s', which is not defined. Available: %s", a->name, a->bottle,
				 r.names_avail);
			a->ok = 0;
		} else if (a->bottle && !b->ok) {
			mf_error(&c, yml_get(parsed[i].doc.root, "bottle"), "agent '%s' uses bottle '%s', which is invalid (%s)",
				 a->name, a->bottle, b->file);
			a->ok = 0;
		}
	}
	if (m->arena.failed) {
		bb_errno(e, ENOMEM, "loading manifests");
		goto out;
	}
	rc = 0;
out:
	for (i = 0; parsed && i < fl.n; i++) {
		yml_free(&parsed[i].doc);
		buf_free(&parsed[i].text);
	}
	free(parsed);
	free(leaves);
	free(fl.v);
	buf_free(&avail);
	return rc;
}

void manifest_free(struct manifest *m)
{
	arena_free(&m->arena);
	memset(m, 0, sizeof *m);
}

const struct mf_bottle *manifest_bottle(const struct manifest *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nbottles; i++)
		if (!strcmp(m->bottles[i].name, name))
			return &m->bottles[i];
	return NULL;
}

const struct mf_agent *manifest_agent(const struct manifest *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nagents; i++)
		if (m->agents[i].name && !strcmp(m->agents[i].name, name))
			return &m->agents[i];
	return NULL;
}

struct mf_user manifest_agent_user(const struct manifest *m, const struct mf_agent *a)
{
	const struct mf_bottle *b = a->bottle ? manifest_bottle(m, a->bottle) : NULL;
	struct mf_user u = { "", "" };

	if (b)
		u = b->git_user;
	if (*a->git_user.name)
		u.name = a->git_user.name;
	if (*a->git_user.email)
		u.email = a->git_user.email;
	return u;
}
