/* gitgate_walk.c - what a fetch sends: shallow boundaries (deepen, deepen-since, deepen-not, unshallow), the commit walk, trees under a filter, tags. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gitgate_fetch.h"

#define OBJ_MAX (32u * 1024 * 1024) /* objects one fetch may touch: memory is about 80 bytes each */
#define READY_WANTS 64              /* "ready" is only worked out for this many wants... */
#define READY_WALK 4096             /* ...each walked back at most this many commits */

void gitgate_oids_index(struct gitgate_oids *l)
{
	l->indexed = 1;
	oidmap_init(&l->idx, l->max);
}

int gitgate_oids_add(struct gitgate_oids *l, const git_oid *id, struct bb_err *e)
{
	if (l->indexed) {
		int added;

		if (!oidmap_add(&l->idx, id->id, &added, e))
			return -1;
	}
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		git_oid *nv;

		if (l->n >= l->max)
			return bb_errf(e, BB_ETOOBIG, "more than %zu object names", l->max);
		nv = realloc(l->v, ncap * sizeof *nv);
		if (!nv)
			return bb_errno(e, ENOMEM, "object list");
		l->v = nv;
		l->cap = ncap;
	}
	git_oid_cpy(&l->v[l->n++], id);
	return 0;
}

int gitgate_oids_has(const struct gitgate_oids *l, const git_oid *id)
{
	size_t i;

	if (l->indexed)
		return oidmap_get(&l->idx, id->id) != NULL;
	for (i = 0; i < l->n; i++)
		if (git_oid_equal(&l->v[i], id))
			return 1;
	return 0;
}

void gitgate_oids_free(struct gitgate_oids *l)
{
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
	if (l->indexed)
		oidmap_free(&l->idx);
	l->indexed = 0;
}

void gitgate_fetch_init(struct gitgate_fetch *f)
{
	memset(f, 0, sizeof *f);
	f->wants.max = f->common.max = f->shallow.max = 100000;
	f->deepen_not.max = 1000;
	f->new_shallow.max = f->unshallow.max = f->edges.max = OBJ_MAX;
	gitgate_oids_index(&f->wants);
	gitgate_oids_index(&f->common);
	gitgate_oids_index(&f->shallow);
	oidmap_init(&f->grafts, OBJ_MAX);
}

void gitgate_fetch_free(struct gitgate_fetch *f)
{
	gitgate_oids_free(&f->wants);
	gitgate_oids_free(&f->common);
	gitgate_oids_free(&f->shallow);
	gitgate_oids_free(&f->deepen_not);
	gitgate_oids_free(&f->new_shallow);
	gitgate_oids_free(&f->unshallow);
	gitgate_oids_free(&f->edges);
	oidmap_free(&f->grafts);
}

int gitgate_fetch_deepens(const struct gitgate_fetch *f)
{
	return f->depth > 0 || f->deepen_since > 0 || f->deepen_not.n > 0;
}

int gitgate_fetch_is_shallow(const struct gitgate_fetch *f)
{
	return gitgate_fetch_deepens(f) || f->shallow.n > 0;
}

static const unsigned char *raw(const git_oid *id)
{
	return id->id;
}

/* The commit an object name leads to through any tags; 0, 1 when it is not a commit, -1 with e. */
static int peel_commit(git_repository *repo, const git_oid *id, git_oid *out, struct bb_err *e)
{
	git_object *obj = NULL, *peeled = NULL;
	int rc = git_object_lookup(&obj, repo, id, GIT_OBJECT_ANY);

	if (rc < 0)
		return gitssh_git_error(e, rc, NULL, "reading a wanted object");
	rc = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
	git_object_free(obj);
	if (rc < 0)
		return 1;
	git_oid_cpy(out, git_object_id(peeled));
	git_object_free(peeled);
	return 0;
}

int gitgate_fetch_deepen_not(git_repository *repo, struct gitgate_fetch *f, struct sv name, struct bb_err *e)
{
	static const char *const rules[][2] = { { "", "" },	       { "refs/", "" },		{ "refs/tags/", "" },
						{ "refs/heads/", "" }, { "refs/remotes/", "" }, { "refs/remotes/", "/HEAD" } };
	git_oid found, id;
	int matches = 0;
	size_t i;

	if (name.len == 0 || name.len > 1024)
		return bb_errf(e, BB_EINVAL, "deepen-not: bad ref name");
	for (i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		char full[1100];

		snprintf(full, sizeof full, "%s%.*s%s", rules[i][0], (int)name.len, name.p, rules[i][1]);
		if (git_reference_name_to_id(&id, repo, full) == 0) {
			if (matches++ == 0)
				git_oid_cpy(&found, &id);
		}
	}
	if (matches > 1)
		return bb_errf(e, BB_EINVAL, "git upload-pack: ambiguous deepen-not: %.*s", (int)name.len, name.p);
	if (matches == 0)
		return bb_errf(e, BB_EINVAL, "git upload-pack: deepen-not is not a ref: %.*s", (int)name.len, name.p);
	if (peel_commit(repo, &found, &id, e) != 0)
		return bb_errf(e, BB_EINVAL, "deepen-not: %.*s is not a commit", (int)name.len, name.p);
	return gitgate_oids_add(&f->deepen_not, &id, e);
}

/* A commit's parents into out (cleared first) and its time; -1 with e. */
static int commit_parents(git_repository *repo, const git_oid *id, struct gitgate_oids *out, int64_t *when,
			  struct bb_err *e)
{
	git_commit *c = NULL;
	unsigned i, n;
	int rc = git_commit_lookup(&c, repo, id);

	out->n = 0;
	if (rc < 0) {
		char hex[GIT_OID_HEXSZ + 1];

		git_oid_tostr(hex, sizeof hex, id);
		return bb_errf(e, BB_EINVAL, "the mirror cannot read commit %s", hex);
	}
	if (when)
		*when = (int64_t)git_commit_time(c);
	n = git_commit_parentcount(c);
	for (i = 0; i < n; i++)
		if (gitgate_oids_add(out, git_commit_parent_id(c, i), e) < 0) {
			git_commit_free(c);
			return -1;
		}
	git_commit_free(c);
	return 0;
}

#define SH_SHALLOW 1u
#define SH_NOT_SHALLOW 2u
#define SH_INCLUDED 4u
#define SH_EXCLUDED 8u

/* Breadth first from heads: depth 1 at the heads, a commit at depth >= limit is a boundary (not expanded). */
static int shallow_by_depth(git_repository *repo, const struct gitgate_oids *heads, unsigned limit, struct oidmap *m,
			    struct gitgate_oids *order, struct bb_err *e)
{
	struct gitgate_oids cur = GITGATE_OIDS(OBJ_MAX), next = GITGATE_OIDS(OBJ_MAX), parents = GITGATE_OIDS(100000);
	unsigned depth = 1;
	size_t i, j;
	int added, rc = -1;

	for (i = 0; i < heads->n; i++) {
		if (!oidmap_add(m, raw(&heads->v[i]), &added, e))
			goto out;
		if (added && gitgate_oids_add(&cur, &heads->v[i], e) < 0)
			goto out;
	}
	while (cur.n) {
		next.n = 0;
		for (i = 0; i < cur.n; i++) {
			struct oidmap_entry *me = oidmap_get(m, raw(&cur.v[i]));

			if (gitgate_oids_add(order, &cur.v[i], e) < 0)
				goto out;
			if (depth >= limit) {
				me->flags |= SH_SHALLOW;
				continue;
			}
			me->flags |= SH_NOT_SHALLOW;
			if (commit_parents(repo, &cur.v[i], &parents, NULL, e) < 0)
				goto out;
			for (j = 0; j < parents.n; j++) {
				if (!oidmap_add(m, raw(&parents.v[j]), &added, e))
					goto out;
				if (added && gitgate_oids_add(&next, &parents.v[j], e) < 0)
					goto out;
			}
		}
		{
			struct gitgate_oids t = cur;

			cur = next;
			next = t;
		}
		depth++;
	}
	rc = 0;
out:
	gitgate_oids_free(&cur);
	gitgate_oids_free(&next);
	gitgate_oids_free(&parents);
	return rc;
}

/* Mark every ancestor of the starts (themselves included) with flag, not past commits in stop (NULL: none). */
static int mark_ancestors(git_repository *repo, const git_oid *starts, size_t nstarts, struct oidmap *m, uint32_t flag,
			  const struct oidmap *stop, struct bb_err *e)
{
	struct gitgate_oids todo = GITGATE_OIDS(OBJ_MAX), parents = GITGATE_OIDS(100000);
	size_t i;
	int added, rc = -1;

	for (i = 0; i < nstarts; i++)
		if (gitgate_oids_add(&todo, &starts[i], e) < 0)
			goto out;
	while (todo.n) {
		git_oid id = todo.v[--todo.n];
		struct oidmap_entry *me = oidmap_add(m, raw(&id), &added, e);

		if (!me)
			goto out;
		if (me->flags & flag)
			continue;
		me->flags |= flag;
		if (stop && oidmap_get(stop, raw(&id)))
			continue;
		if (commit_parents(repo, &id, &parents, NULL, e) < 0)
			goto out;
		for (i = 0; i < parents.n; i++)
			if (gitgate_oids_add(&todo, &parents.v[i], e) < 0)
				goto out;
	}
	rc = 0;
out:
	gitgate_oids_free(&todo);
	gitgate_oids_free(&parents);
	return rc;
}

/* deepen-since / deepen-not: the commits newer than since and not reachable from deepen_not; the border is shallow. */
static int shallow_by_rev_list(git_repository *repo, const struct gitgate_fetch *f, const struct gitgate_oids *heads,
			       struct oidmap *m, struct gitgate_oids *order, struct bb_err *e)
{
	struct gitgate_oids todo = GITGATE_OIDS(OBJ_MAX), parents = GITGATE_OIDS(100000);
	size_t i, j;
	int added, rc = -1;

	if (f->deepen_not.n && mark_ancestors(repo, f->deepen_not.v, f->deepen_not.n, m, SH_EXCLUDED, NULL, e) < 0)
		goto out;
	for (i = 0; i < heads->n; i++)
		if (gitgate_oids_add(&todo, &heads->v[i], e) < 0)
			goto out;
	while (todo.n) {
		git_oid id = todo.v[--todo.n];
		struct oidmap_entry *me = oidmap_add(m, raw(&id), &added, e);
		int64_t when;

		if (!me)
			goto out;
		if (me->flags & (SH_INCLUDED | SH_EXCLUDED))
			continue;
		if (commit_parents(repo, &id, &parents, &when, e) < 0)
			goto out;
		me = oidmap_get(m, raw(&id));
		if (f->deepen_since && when < (int64_t)f->deepen_since) {
			me->flags |= SH_EXCLUDED; /* too old: neither shown nor walked through (rev-list --max-age) */
			continue;
		}
		me->flags |= SH_INCLUDED;
		if (gitgate_oids_add(order, &id, e) < 0)
			goto out;
		for (j = 0; j < parents.n; j++)
			if (gitgate_oids_add(&todo, &parents.v[j], e) < 0)
				goto out;
	}
	if (order->n == 0) {
		bb_errf(e, BB_EINVAL, "no commits selected for shallow requests");
		goto out;
	}
	/* The border: an included commit with a parent that is not. */
	for (i = 0; i < order->n; i++) {
		struct oidmap_entry *me;
		int border = 0;

		if (commit_parents(repo, &order->v[i], &parents, NULL, e) < 0)
			goto out;
		for (j = 0; j < parents.n && !border; j++) {
			struct oidmap_entry *pe = oidmap_get(m, raw(&parents.v[j]));

			border = !pe || !(pe->flags & SH_INCLUDED);
		}
		me = oidmap_get(m, raw(&order->v[i]));
		me->flags |= border ? SH_SHALLOW : SH_NOT_SHALLOW;
	}
	rc = 0;
out:
	gitgate_oids_free(&todo);
	gitgate_oids_free(&parents);
	return rc;
}

int gitgate_fetch_shallow(git_repository *repo, struct gitgate_fetch *f, struct bb_err *e)
{
	struct oidmap m;
	struct gitgate_oids heads = GITGATE_OIDS(100000), order = GITGATE_OIDS(OBJ_MAX), parents = GITGATE_OIDS(100000);
	size_t i, j;
	int added, rc = -1;

	oidmap_init(&m, OBJ_MAX);
	if (!gitgate_fetch_is_shallow(f))
		return 0;
	if (f->depth == GITGATE_INFINITE_DEPTH && !f->deepen_relative) {
		/* --unshallow: every shallow commit of the client gets its parents. */
		for (i = 0; i < f->shallow.n; i++)
			if (gitgate_oids_add(&f->unshallow, &f->shallow.v[i], e) < 0)
				goto out;
	} else if (gitgate_fetch_deepens(f)) {
		if (f->depth && f->deepen_relative) {
			/* From the client's boundary (git 2.39's upload-pack: its shallow commits, depth + 1). */
			for (i = 0; i < f->shallow.n; i++)
				if (gitgate_oids_add(&heads, &f->shallow.v[i], e) < 0)
					goto out;
		} else {
			for (i = 0; i < f->wants.n; i++) {
				git_oid c;
				int pr = peel_commit(repo, &f->wants.v[i], &c, e);

				if (pr < 0)
					goto out;
				if (pr == 0 && gitgate_oids_add(&heads, &c, e) < 0)
					goto out;
			}
		}
		if (f->depth) {
			unsigned limit = f->depth + (f->deepen_relative && f->depth < GITGATE_INFINITE_DEPTH ? 1 : 0);

			if (shallow_by_depth(repo, &heads, limit, &m, &order, e) < 0)
				goto out;
		} else if (shallow_by_rev_list(repo, f, &heads, &m, &order, e) < 0) {
			goto out;
		}
		for (i = 0; i < order.n; i++) {
			const struct oidmap_entry *me = oidmap_get(&m, raw(&order.v[i]));

			if ((me->flags & SH_SHALLOW) && !gitgate_oids_has(&f->shallow, &order.v[i]) &&
			    gitgate_oids_add(&f->new_shallow, &order.v[i], e) < 0)
				goto out;
		}
		for (i = 0; i < f->shallow.n; i++) {
			const struct oidmap_entry *me = oidmap_get(&m, raw(&f->shallow.v[i]));

			if (me && (me->flags & SH_NOT_SHALLOW) && gitgate_oids_add(&f->unshallow, &f->shallow.v[i], e) < 0)
				goto out;
		}
	}
	/* An unshallowed commit: the client has it; its parents are now wanted. */
	for (i = 0; i < f->unshallow.n; i++) {
		if (gitgate_oids_add(&f->edges, &f->unshallow.v[i], e) < 0 ||
		    commit_parents(repo, &f->unshallow.v[i], &parents, NULL, e) < 0)
			goto out;
		for (j = 0; j < parents.n; j++)
			if (!gitgate_oids_has(&f->wants, &parents.v[j]) && gitgate_oids_add(&f->wants, &parents.v[j], e) < 0)
				goto out;
	}
	/* The walk stops at every shallow commit, the client's (unshallowed ones too: their parents are wants) and the new. */
	for (i = 0; i < f->shallow.n; i++)
		if (!oidmap_add(&f->grafts, raw(&f->shallow.v[i]), &added, e))
			goto out;
	for (i = 0; i < f->new_shallow.n; i++)
		if (!oidmap_add(&f->grafts, raw(&f->new_shallow.v[i]), &added, e))
			goto out;
	rc = 0;
out:
	oidmap_free(&m);
	gitgate_oids_free(&heads);
	gitgate_oids_free(&order);
	gitgate_oids_free(&parents);
	return rc;
}

int gitgate_fetch_ready(git_repository *repo, const struct gitgate_fetch *f)
{
	struct gitgate_oids todo = GITGATE_OIDS(READY_WALK * 4), parents = GITGATE_OIDS(100000);
	struct oidmap seen, common;
	struct bb_err e = { 0 };
	size_t i, j;
	int added, ready = 0;

	if (f->common.n == 0 || f->wants.n > READY_WANTS)
		return 0;
	oidmap_init(&common, f->common.n);
	for (i = 0; i < f->common.n; i++)
		if (!oidmap_add(&common, raw(&f->common.v[i]), &added, &e))
			goto out;
	for (i = 0; i < f->wants.n; i++) {
		git_oid c;
		size_t walked = 0;
		int found = 0;

		if (peel_commit(repo, &f->wants.v[i], &c, &e) != 0)
			goto out;
		oidmap_init(&seen, READY_WALK * 4);
		todo.n = 0;
		if (gitgate_oids_add(&todo, &c, &e) < 0) {
			oidmap_free(&seen);
			goto out;
		}
		while (todo.n && !found && walked < READY_WALK) {
			git_oid id = todo.v[--todo.n];

			if (oidmap_get(&common, raw(&id))) {
				found = 1;
				break;
			}
			if (!oidmap_add(&seen, raw(&id), &added, &e) || !added)
				continue;
			walked++;
			if (commit_parents(repo, &id, &parents, NULL, &e) < 0)
				break;
			for (j = 0; j < parents.n; j++)
				if (gitgate_oids_add(&todo, &parents.v[j], &e) < 0)
					break;
		}
		oidmap_free(&seen);
		if (!found)
			goto out;
	}
	ready = 1;
out:
	oidmap_free(&common);
	gitgate_oids_free(&todo);
	gitgate_oids_free(&parents);
	return ready;
}

/* ---- objects ---- */

/* One filter's say about an object at a tree depth (the root tree is 0). */
struct verdict {
	int show, skip; /* skip: do not walk into this tree */
};

static struct verdict filter_say(const struct gitgate_filter *fl, git_object_t type, unsigned depth, size_t blob_size)
{
	struct verdict all = { 1, 1 };
	size_t i;

	if (fl->n == 0) {
		all.skip = 0;
		return all;
	}
	for (i = 0; i < fl->n; i++) {
		struct verdict v = { 1, 0 };

		switch (fl->f[i].kind) {
		case GITGATE_FILTER_BLOB_NONE:
			v.show = type != GIT_OBJECT_BLOB;
			break;
		case GITGATE_FILTER_BLOB_LIMIT:
			v.show = type != GIT_OBJECT_BLOB || blob_size < fl->f[i].value;
			break;
		case GITGATE_FILTER_TREE_DEPTH:
			if (type == GIT_OBJECT_TREE || type == GIT_OBJECT_BLOB) {
				v.show = depth < fl->f[i].value;
				v.skip = type == GIT_OBJECT_TREE && !v.show;
			}
			break;
		case GITGATE_FILTER_OBJECT_TYPE:
			v.show = (uint64_t)type == fl->f[i].value;
			break;
		}
		all.show &= v.show;
		all.skip &= v.skip;
	}
	return all;
}

static int filter_has(const struct gitgate_filter *fl, enum gitgate_filter_kind k)
{
	size_t i;

	for (i = 0; i < fl->n; i++)
		if (fl->f[i].kind == k)
			return 1;
	return 0;
}

#define WALKED 0x100u /* a commit the walk chose (sent or not, by the filter) */

struct walk {
	git_repository *repo;
	git_odb *odb;
	const struct gitgate_fetch *f;
	struct oidmap *objs;
	struct gitgate_oids *list;
	struct bb_err *e;
};

static int send_obj(struct walk *w, const git_oid *id)
{
	int added;
	struct oidmap_entry *me = oidmap_add(w->objs, raw(id), &added, w->e);

	if (!me)
		return -1;
	if (me->flags & (GITGATE_OBJ_SEND | GITGATE_OBJ_HAVE))
		return 0;
	me->flags |= GITGATE_OBJ_SEND;
	return gitgate_oids_add(w->list, id, w->e);
}

/* Everything under the tree root: the client has it (the tree of a commit it has). */
static int mark_have_tree(struct walk *w, const git_oid *root)
{
	struct gitgate_oids todo = GITGATE_OIDS(OBJ_MAX);
	int added, rc = -1;

	if (gitgate_oids_add(&todo, root, w->e) < 0)
		return -1;
	while (todo.n) {
		git_oid id = todo.v[--todo.n];
		struct oidmap_entry *me = oidmap_add(w->objs, raw(&id), &added, w->e);
		git_tree *t = NULL;
		size_t i, n;

		if (!me)
			goto out;
		if (me->flags & GITGATE_OBJ_HAVE)
			continue;
		me->flags |= GITGATE_OBJ_HAVE;
		if (git_tree_lookup(&t, w->repo, &id) < 0)
			continue; /* not a tree the mirror has: nothing under it to mark */
		n = git_tree_entrycount(t);
		for (i = 0; i < n; i++) {
			const git_tree_entry *te = git_tree_entry_byindex(t, i);

			if (git_tree_entry_type(te) == GIT_OBJECT_TREE) {
				if (gitgate_oids_add(&todo, git_tree_entry_id(te), w->e) < 0) {
					git_tree_free(t);
					goto out;
				}
			} else if (git_tree_entry_type(te) == GIT_OBJECT_BLOB) {
				me = oidmap_add(w->objs, raw(git_tree_entry_id(te)), &added, w->e);
				if (!me) {
					git_tree_free(t);
					goto out;
				}
				me->flags |= GITGATE_OBJ_HAVE;
			}
		}
		git_tree_free(t);
	}
	rc = 0;
out:
	gitgate_oids_free(&todo);
	return rc;
}

/* A tree and what it holds, under the filter; given: the tree itself was asked for by name (always sent). */
static int walk_tree(struct walk *w, const git_oid *root, int given)
{
	struct todo {
		git_oid id;
		unsigned depth;
	} *todo = NULL;
	size_t n = 0, cap = 0;
	const struct gitgate_filter *fl = &w->f->filter;
	int by_depth = filter_has(fl, GITGATE_FILTER_TREE_DEPTH), by_size = filter_has(fl, GITGATE_FILTER_BLOB_LIMIT);
	int added, rc = -1;

#define PUSH(oid, d)                                                                   \
	do {                                                                           \
		if (n == cap) {                                                        \
			size_t nc = cap ? cap * 2 : 256;                               \
			struct todo *nt = realloc(todo, nc * sizeof *nt);              \
			if (!nt) {                                                     \
				bb_errno(w->e, ENOMEM, "tree walk");                   \
				goto out;                                              \
			}                                                              \
			todo = nt;                                                     \
			cap = nc;                                                      \
		}                                                                      \
		git_oid_cpy(&todo[n].id, (oid));                                       \
		todo[n++].depth = (d);                                                 \
	} while (0)

	PUSH(root, 0);
	while (n) {
		struct todo cur = todo[--n];
		struct oidmap_entry *me = oidmap_add(w->objs, raw(&cur.id), &added, w->e);
		struct verdict v;
		git_tree *t = NULL;
		size_t i, cnt;

		if (!me)
			goto out;
		if (me->flags & GITGATE_OBJ_HAVE)
			continue;
		/* Walked already, here or higher up (tree:DEPTH keeps the smallest depth a tree is found at). */
		if (me->u32 && (!by_depth || me->u32 <= cur.depth + 1))
			continue;
		me->u32 = cur.depth + 1;
		v = filter_say(fl, GIT_OBJECT_TREE, cur.depth, 0);
		if ((v.show || (given && cur.depth == 0)) && send_obj(w, &cur.id) < 0)
			goto out;
		if (v.skip)
			continue;
		if (git_tree_lookup(&t, w->repo, &cur.id) < 0) {
			char hex[GIT_OID_HEXSZ + 1];

			git_oid_tostr(hex, sizeof hex, &cur.id);
			bb_errf(w->e, BB_EINVAL, "the mirror cannot read tree %s", hex);
			goto out;
		}
		cnt = git_tree_entrycount(t);
		for (i = 0; i < cnt; i++) {
			const git_tree_entry *te = git_tree_entry_byindex(t, i);
			const git_oid *eid = git_tree_entry_id(te);
			size_t size = 0;
			git_object_t type;

			if (git_tree_entry_type(te) == GIT_OBJECT_TREE) {
				PUSH(eid, cur.depth + 1);
				continue;
			}
			if (git_tree_entry_type(te) != GIT_OBJECT_BLOB)
				continue; /* a submodule's commit: not an object of this repository */
			me = oidmap_get(w->objs, raw(eid));
			if (me && (me->flags & (GITGATE_OBJ_SEND | GITGATE_OBJ_HAVE)))
				continue;
			if (by_size && git_odb_read_header(&size, &type, w->odb, eid) < 0) {
				git_tree_free(t);
				bb_errf(w->e, BB_EINVAL, "the mirror cannot read a blob's size");
				goto out;
			}
			v = filter_say(fl, GIT_OBJECT_BLOB, cur.depth + 1, size);
			if (v.show && send_obj(w, eid) < 0) {
				git_tree_free(t);
				goto out;
			}
		}
		git_tree_free(t);
	}
	rc = 0;
out:
#undef PUSH
	free(todo);
	return rc;
}

/* The commits to send, in walk order: from the wants, not past grafts, none the client has. */
static int walk_commits(struct walk *w, const struct gitgate_oids *want_commits, struct gitgate_oids *out)
{
	const struct gitgate_fetch *f = w->f;
	struct oidmap have;
	struct gitgate_oids todo = GITGATE_OIDS(OBJ_MAX), parents = GITGATE_OIDS(100000);
	size_t i;
	int added, rc = -1;

	if (want_commits->n == 0)
		return 0;
	if (f->grafts.n == 0) {
		/* No shallow boundary: libgit2's walk, which stops early on dates as git's does. */
		git_revwalk *rw = NULL;
		git_oid id;

		rc = git_revwalk_new(&rw, w->repo);
		for (i = 0; rc == 0 && i < want_commits->n; i++)
			rc = git_revwalk_push(rw, &want_commits->v[i]);
		for (i = 0; rc == 0 && i < f->common.n; i++)
			rc = git_revwalk_hide(rw, &f->common.v[i]);
		for (i = 0; rc == 0 && i < f->edges.n; i++)
			rc = git_revwalk_hide(rw, &f->edges.v[i]);
		while (rc == 0 && (rc = git_revwalk_next(&id, rw)) == 0)
			if (gitgate_oids_add(out, &id, w->e) < 0) {
				git_revwalk_free(rw);
				return -1;
			}
		git_revwalk_free(rw);
		if (rc != GIT_ITEROVER)
			return gitssh_git_error(w->e, rc, NULL, "walking the commits to send");
		return 0;
	}
	/* Shallow: the client's history is cut, so the part it has is small; mark it, then walk from the wants. */
	oidmap_init(&have, OBJ_MAX);
	if (mark_ancestors(w->repo, f->common.v, f->common.n, &have, 1, &f->grafts, w->e) < 0 ||
	    mark_ancestors(w->repo, f->edges.v, f->edges.n, &have, 1, &f->grafts, w->e) < 0)
		goto out;
	for (i = 0; i < want_commits->n; i++)
		if (gitgate_oids_add(&todo, &want_commits->v[i], w->e) < 0)
			goto out;
	while (todo.n) {
		git_oid id = todo.v[--todo.n];
		struct oidmap_entry *me = oidmap_add(&have, raw(&id), &added, w->e);

		if (!me)
			goto out;
		if (me->flags)
			continue;
		me->flags = 2;
		if (gitgate_oids_add(out, &id, w->e) < 0)
			goto out;
		if (oidmap_get(&f->grafts, raw(&id)))
			continue;
		if (commit_parents(w->repo, &id, &parents, NULL, w->e) < 0)
			goto out;
		for (i = 0; i < parents.n; i++)
			if (gitgate_oids_add(&todo, &parents.v[i], w->e) < 0)
				goto out;
	}
	rc = 0;
out:
	oidmap_free(&have);
	gitgate_oids_free(&todo);
	gitgate_oids_free(&parents);
	return rc;
}

/* With include-tag: every annotated tag (and the tags it goes through) whose object is being sent. */
static int include_tags(struct walk *w)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;
	int rc;

	if (git_reference_iterator_glob_new(&it, w->repo, "refs/tags/*") < 0)
		return 0;
	while ((rc = git_reference_next(&ref, it)) == 0) {
		git_oid chain[16], cur;
		size_t n = 0;
		git_object *obj = NULL;
		const struct oidmap_entry *me;

		if (git_reference_type(ref) != GIT_REFERENCE_DIRECT) {
			git_reference_free(ref);
			continue;
		}
		git_oid_cpy(&cur, git_reference_target(ref));
		git_reference_free(ref);
		while (n < 16 && git_object_lookup(&obj, w->repo, &cur, GIT_OBJECT_ANY) == 0 &&
		       git_object_type(obj) == GIT_OBJECT_TAG) {
			git_oid_cpy(&chain[n++], &cur);
			git_oid_cpy(&cur, git_tag_target_id((git_tag *)obj));
			git_object_free(obj);
			obj = NULL;
		}
		git_object_free(obj);
		me = oidmap_get(w->objs, raw(&cur));
		if (n && me && (me->flags & GITGATE_OBJ_SEND)) {
			size_t i;

			for (i = 0; i < n; i++)
				if (send_obj(w, &chain[i]) < 0) {
					git_reference_iterator_free(it);
					return -1;
				}
		}
	}
	git_reference_iterator_free(it);
	return 0;
}

int gitgate_fetch_objects(git_repository *repo, const struct gitgate_fetch *f, struct oidmap *objs,
			  struct gitgate_oids *list, struct bb_err *e)
{
	struct walk w = { repo, NULL, f, objs, list, e };
	struct gitgate_oids want_commits = GITGATE_OIDS(100000), sent = GITGATE_OIDS(OBJ_MAX),
			    parents = GITGATE_OIDS(100000);
	struct verdict commit_v = filter_say(&f->filter, GIT_OBJECT_COMMIT, 0, 0);
	size_t i, j;
	int rc = -1;

	if (objs->max == 0)
		oidmap_init(objs, OBJ_MAX);
	gitgate_oids_index(&want_commits);
	list->max = OBJ_MAX;
	if (git_repository_odb(&w.odb, repo) < 0)
		return bb_errf(e, BB_EINVAL, "the mirror's object database cannot be opened");
	/* Wanted objects by type: tags are sent and followed, commits walked, trees and blobs sent whatever the filter. */
	for (i = 0; i < f->wants.n; i++) {
		git_oid cur = f->wants.v[i];
		int depth = 0;

		for (;;) {
			git_object *obj = NULL;
			git_object_t type;

			if (git_object_lookup(&obj, repo, &cur, GIT_OBJECT_ANY) < 0) {
				char hex[GIT_OID_HEXSZ + 1];

				git_oid_tostr(hex, sizeof hex, &cur);
				bb_errf(e, BB_EINVAL, "upload-pack: not our ref %s", hex);
				goto out;
			}
			type = git_object_type(obj);
			if (type == GIT_OBJECT_TAG && ++depth <= 16) {
				if (send_obj(&w, &cur) < 0) {
					git_object_free(obj);
					goto out;
				}
				git_oid_cpy(&cur, git_tag_target_id((git_tag *)obj));
				git_object_free(obj);
				continue;
			}
			git_object_free(obj);
			if (type == GIT_OBJECT_COMMIT)
				rc = gitgate_oids_has(&want_commits, &cur) ? 0 : gitgate_oids_add(&want_commits, &cur, e);
			else if (type == GIT_OBJECT_TREE)
				rc = walk_tree(&w, &cur, 1);
			else
				rc = send_obj(&w, &cur);
			if (rc < 0)
				goto out;
			rc = -1;
			break;
		}
	}
	if (walk_commits(&w, &want_commits, &sent) < 0)
		goto out;
	/* What the client has: the trees of the commits on the border of what is sent, and of the common ones. */
	for (i = 0; i < sent.n; i++) {
		struct oidmap_entry *me;
		int added;

		me = oidmap_add(objs, raw(&sent.v[i]), &added, e);
		if (!me)
			goto out;
		me->flags |= WALKED;
	}
	{
		struct gitgate_oids border = GITGATE_OIDS(OBJ_MAX);
		int bad = 0;

		for (i = 0; i < f->common.n && !bad; i++)
			bad = gitgate_oids_add(&border, &f->common.v[i], e) < 0;
		for (i = 0; i < f->edges.n && !bad; i++)
			bad = gitgate_oids_add(&border, &f->edges.v[i], e) < 0;
		for (i = 0; i < sent.n && !bad; i++) {
			if (oidmap_get(&f->grafts, raw(&sent.v[i])))
				continue;
			if (commit_parents(repo, &sent.v[i], &parents, NULL, e) < 0) {
				bad = 1;
				break;
			}
			for (j = 0; j < parents.n && !bad; j++) {
				const struct oidmap_entry *pe = oidmap_get(objs, raw(&parents.v[j]));

				if (!pe || !(pe->flags & WALKED))
					bad = gitgate_oids_add(&border, &parents.v[j], e) < 0;
			}
		}
		for (i = 0; i < border.n && !bad; i++) {
			git_commit *c = NULL;
			int added;
			struct oidmap_entry *me = oidmap_add(objs, raw(&border.v[i]), &added, e);

			if (!me) {
				bad = 1;
				break;
			}
			if (me->flags & GITGATE_OBJ_HAVE)
				continue;
			me->flags |= GITGATE_OBJ_HAVE;
			if (git_commit_lookup(&c, repo, &border.v[i]) < 0)
				continue;
			bad = mark_have_tree(&w, git_commit_tree_id(c)) < 0;
			git_commit_free(c);
		}
		gitgate_oids_free(&border);
		if (bad)
			goto out;
	}
	for (i = 0; i < sent.n; i++) {
		git_commit *c = NULL;

		if (commit_v.show && send_obj(&w, &sent.v[i]) < 0)
			goto out;
		if (git_commit_lookup(&c, repo, &sent.v[i]) < 0) {
			bb_errf(e, BB_EINVAL, "the mirror cannot read a commit it walked");
			goto out;
		}
		rc = walk_tree(&w, git_commit_tree_id(c), 0);
		git_commit_free(c);
		if (rc < 0)
			goto out;
		rc = -1;
	}
	if (f->include_tag && include_tags(&w) < 0)
		goto out;
	rc = 0;
out:
	git_odb_free(w.odb);
	gitgate_oids_free(&want_commits);
	gitgate_oids_free(&sent);
	gitgate_oids_free(&parents);
	return rc;
}
