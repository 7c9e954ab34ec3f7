/* yml.c - frontmatter split and a bounded YAML tree built from libyaml's events. */
#include "yml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "json.h"

/* Is the line at p (up to n bytes) exactly `mark` followed by \n, \r\n or the end? Returns its length with EOL. */
static size_t marker_line(const char *p, size_t n, const char *mark)
{
	size_t m = strlen(mark);

	if (n < m || memcmp(p, mark, m) != 0)
		return 0;
	if (n == m)
		return m;
	if (p[m] == '\n')
		return m + 1;
	if (p[m] == '\r' && n > m + 1 && p[m + 1] == '\n')
		return m + 2;
	return 0;
}

int yml_split_frontmatter(const char *text, size_t n, struct sv *yaml, struct sv *body,
			  unsigned *yaml_line, struct bb_err *e)
{
	size_t start, off, k;
	unsigned line = 2;

	if (n >= 3 && (unsigned char)text[0] == 0xef && (unsigned char)text[1] == 0xbb &&
	    (unsigned char)text[2] == 0xbf)
		return bb_errf(e, BB_EINVAL, "line 1: byte-order mark before the frontmatter; save the file as UTF-8 without BOM");
	start = marker_line(text, n, "---");
	if (!start || start == 3)
		return bb_errf(e, BB_EINVAL, "line 1: no YAML frontmatter (the file must start with a line '---')");
	for (off = start; off < n; line++) {
		const char *nl;

		if ((k = marker_line(text + off, n - off, "---")) || (k = marker_line(text + off, n - off, "..."))) {
			*yaml = sv_of(text + start, off - start);
			*body = sv_of(text + off + k, n - off - k);
			*yaml_line = 2;
			return 0;
		}
		nl = memchr(text + off, '\n', n - off);
		if (!nl)
			break;
		off = (size_t)(nl - text) + 1;
	}
	return bb_errf(e, BB_EINVAL, "line %u: frontmatter is not closed (no line '---' after the opening one)", line);
}

struct anchor {
	char *name;
	struct ynode *node;
};

struct builder {
	const char *what;
	unsigned first_line;
	struct ydoc *doc;
	struct ynode *stack[YML_MAX_DEPTH];
	size_t used[YML_MAX_DEPTH]; /* items filled in each open container */
	size_t cap[YML_MAX_DEPTH];
	char *anchor[YML_MAX_DEPTH]; /* anchor of each open container, set when it closes */
	int depth;
	struct anchor *anchors;
	size_t nanchors;
	struct bb_err *e;
};

static int at(struct builder *b, yaml_mark_t m, const char *msg, const char *detail)
{
	return bb_errf(b->e, BB_EINVAL, "%s line %lu column %lu: %s%s", b->what,
		       (unsigned long)m.line + b->first_line, (unsigned long)m.column + 1, msg,
		       detail ? detail : "");
}

static struct ynode *new_node(struct builder *b, enum ynode_type t, yaml_mark_t m)
{
	struct ynode *nd = calloc(1, sizeof *nd);

	if (!nd) {
		bb_errno(b->e, ENOMEM, "%s", b->what);
		return NULL;
	}
	nd->type = t;
	nd->line = (unsigned)m.line + b->first_line;
	nd->col = (unsigned)m.column + 1;
	nd->weight_ = 1;
	nd->all_next_ = b->doc->all_;
	b->doc->all_ = nd;
	return nd;
}

static int add_anchor(struct builder *b, const char *name, struct ynode *nd)
{
	struct anchor *na;

	if (!name)
		return 0;
	na = realloc(b->anchors, (b->nanchors + 1) * sizeof *na);
	if (!na)
		return bb_errno(b->e, ENOMEM, "%s", b->what);
	b->anchors = na;
	na[b->nanchors].name = strdup(name);
	if (!na[b->nanchors].name)
		return bb_errno(b->e, ENOMEM, "%s", b->what);
	na[b->nanchors++].node = nd; /* a later anchor of the same name wins, as YAML says */
	return 0;
}

static struct ynode *find_anchor(struct builder *b, const char *name)
{
	size_t i;

	for (i = b->nanchors; i > 0; i--)
		if (strcmp(b->anchors[i - 1].name, name) == 0)
			return b->anchors[i - 1].node;
	return NULL;
}

/* Attach a finished node to the open container, or make it the root. */
static int attach(struct builder *b, struct ynode *nd, yaml_mark_t m)
{
	struct ynode *parent;
	size_t i, d;

	if (b->depth == 0) {
		if (b->doc->root)
			return at(b, m, "more than one document", NULL);
		b->doc->root = nd;
		return 0;
	}
	d = (size_t)b->depth - 1;
	parent = b->stack[d];
	if (parent->type == Y_MAP && b->used[d] % 2 == 0) {
		if (nd->type != Y_SCALAR)
			return at(b, m, "a mapping key must be a plain value, not a list or mapping", NULL);
		for (i = 0; i < b->used[d]; i += 2) {
			const struct ynode *k = parent->items[i];

			if (k->len == nd->len && memcmp(k->str, nd->str, k->len) == 0)
				return at(b, m, "duplicate key ", nd->str);
		}
	}
	if (b->used[d] == b->cap[d]) {
		size_t ncap = b->cap[d] ? b->cap[d] * 2 : 8;
		struct ynode **ni = realloc(parent->items, ncap * sizeof *ni);

		if (!ni)
			return bb_errno(b->e, ENOMEM, "%s", b->what);
		parent->items = ni;
		b->cap[d] = ncap;
	}
	parent->items[b->used[d]++] = nd;
	/* Saturating: weights only grow toward the cap. */
	parent->weight_ = parent->weight_ + nd->weight_ > YML_MAX_NODES ? YML_MAX_NODES + 1
									  : parent->weight_ + nd->weight_;
	if (parent->weight_ > YML_MAX_NODES)
		return at(b, m, "document too large once aliases are expanded (limit 100000 nodes)", NULL);
	return 0;
}

static int explicit_tag(const yaml_char_t *tag, int implicit)
{
	return tag && !implicit;
}

static int on_event(struct builder *b, yaml_event_t *ev)
{
	struct ynode *nd;
	const char *anchor = NULL;

	switch (ev->type) {
	case YAML_STREAM_START_EVENT:
	case YAML_STREAM_END_EVENT:
	case YAML_DOCUMENT_END_EVENT:
	case YAML_NO_EVENT:
		return 0;
	case YAML_DOCUMENT_START_EVENT:
		if (b->doc->root)
			return at(b, ev->start_mark, "more than one document", NULL);
		return 0;
	case YAML_ALIAS_EVENT:
		nd = find_anchor(b, (const char *)ev->data.alias.anchor);
		if (!nd)
			return at(b, ev->start_mark, "alias to an unknown (or still open) anchor *",
				  (const char *)ev->data.alias.anchor);
		return attach(b, nd, ev->start_mark);
	case YAML_SCALAR_EVENT:
		if (explicit_tag(ev->data.scalar.tag,
				 ev->data.scalar.plain_implicit || ev->data.scalar.quoted_implicit))
			return at(b, ev->start_mark, "explicit YAML tags are not allowed: ",
				  (const char *)ev->data.scalar.tag);
		nd = new_node(b, Y_SCALAR, ev->start_mark);
		if (!nd)
			return -1;
		nd->len = ev->data.scalar.length;
		nd->str = malloc(nd->len + 1);
		if (!nd->str)
			return bb_errno(b->e, ENOMEM, "%s", b->what);
		memcpy(nd->str, ev->data.scalar.value, nd->len);
		nd->str[nd->len] = 0;
		if (memchr(nd->str, 0, nd->len))
			return at(b, ev->start_mark, "NUL character in a value", NULL);
		nd->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (add_anchor(b, (const char *)ev->data.scalar.anchor, nd) < 0)
			return -1;
		return attach(b, nd, ev->start_mark);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		int is_map = ev->type == YAML_MAPPING_START_EVENT;
		const yaml_char_t *tag = is_map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag;
		int implicit = is_map ? ev->data.mapping_start.implicit : ev->data.sequence_start.implicit;

		anchor = (const char *)(is_map ? ev->data.mapping_start.anchor : ev->data.sequence_start.anchor);
		if (explicit_tag(tag, implicit))
			return at(b, ev->start_mark, "explicit YAML tags are not allowed: ", (const char *)tag);
		if (b->depth == YML_MAX_DEPTH)
			return at(b, ev->start_mark, "nesting too deep (limit 64)", NULL);
		nd = new_node(b, is_map ? Y_MAP : Y_SEQ, ev->start_mark);
		if (!nd)
			return -1;
		b->stack[b->depth] = nd;
		b->used[b->depth] = 0;
		b->cap[b->depth] = 0;
		b->anchor[b->depth] = NULL;
		if (anchor && !(b->anchor[b->depth] = strdup(anchor)))
			return bb_errno(b->e, ENOMEM, "%s", b->what);
		b->depth++;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		int rc;

		b->depth--;
		nd = b->stack[b->depth];
		nd->n = nd->type == Y_MAP ? b->used[b->depth] / 2 : b->used[b->depth];
		rc = add_anchor(b, b->anchor[b->depth], nd);
		free(b->anchor[b->depth]);
		b->anchor[b->depth] = NULL;
		if (rc < 0)
			return -1;
		return attach(b, nd, ev->start_mark);
	}
	}
	return 0;
}

int yml_parse(const char *what, const char *s, size_t n, unsigned first_line, struct ydoc *doc,
	      struct bb_err *e)
{
	struct builder b;
	yaml_parser_t p;
	yaml_event_t ev;
	const char *nul;
	int rc = 0, done = 0, i;
	size_t k;

	memset(doc, 0, sizeof *doc);
	memset(&b, 0, sizeof b);
	b.what = what;
	b.first_line = first_line;
	b.doc = doc;
	b.e = e;
	nul = memchr(s, 0, n);
	if (nul)
		return bb_errf(e, BB_EINVAL, "%s: NUL byte at offset %zu of the YAML", what, (size_t)(nul - s));
	if (!yaml_parser_initialize(&p))
		return bb_errno(e, ENOMEM, "%s", what);
	yaml_parser_set_input_string(&p, (const unsigned char *)s, n);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	while (!done) {
		if (!yaml_parser_parse(&p, &ev)) {
			rc = bb_errf(e, BB_EINVAL, "%s line %lu column %lu: %s%s%s", what,
				     (unsigned long)p.problem_mark.line + first_line,
				     (unsigned long)p.problem_mark.column + 1, p.problem ? p.problem : "YAML error",
				     p.context ? " " : "", p.context ? p.context : "");
			break;
		}
		done = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(&b, &ev);
		yaml_event_delete(&ev);
		if (rc < 0)
			break;
	}
	yaml_parser_delete(&p);
	for (i = 0; i < b.depth; i++)
		free(b.anchor[i]);
	for (k = 0; k < b.nanchors; k++)
		free(b.anchors[k].name);
	free(b.anchors);
	if (rc < 0) {
		/* Open containers' n was never set; free by the list, which is complete. */
		yml_free(doc);
		return -1;
	}
	return 0;
}

void yml_free(struct ydoc *doc)
{
	struct ynode *nd = doc->all_, *next;

	while (nd) {
		next = nd->all_next_;
		free(nd->str);
		free(nd->items);
		free(nd);
		nd = next;
	}
	doc->all_ = NULL;
	doc->root = NULL;
}

const struct ynode *yml_get(const struct ynode *map, const char *key)
{
	size_t i, klen = strlen(key);

	if (!map || map->type != Y_MAP)
		return NULL;
	for (i = 0; i < map->n; i++) {
		const struct ynode *k = map->items[2 * i];

		if (k->len == klen && memcmp(k->str, key, klen) == 0)
			return map->items[2 * i + 1];
	}
	return NULL;
}

/* A plain scalar YAML would read as a JSON literal: true/false/null or a decimal integer. */
static int json_literal(const struct ynode *nd)
{
	size_t i = 0;

	if (!nd->plain)
		return 0;
	if (strcmp(nd->str, "true") == 0 || strcmp(nd->str, "false") == 0 || strcmp(nd->str, "null") == 0)
		return 1;
	if (nd->len && nd->str[0] == '-')
		i = 1;
	if (i == nd->len || nd->len - i > 18 || (nd->str[i] == '0' && nd->len - i > 1))
		return 0;
	for (; i < nd->len; i++)
		if (nd->str[i] < '0' || nd->str[i] > '9')
			return 0;
	return 1;
}

int yml_to_json(const struct ynode *nd, struct buf *out, struct bb_err *e)
{
	size_t i;

	if (!nd)
		return buf_append_str(out, "null", e);
	switch (nd->type) {
	case Y_SCALAR:
		if (json_literal(nd))
			return buf_append(out, nd->str, nd->len, e);
		return json_escape(out, nd->str, nd->len, e);
	case Y_SEQ:
		if (buf_append_byte(out, '[', e) < 0)
			return -1;
		for (i = 0; i < nd->n; i++)
			if ((i && buf_append_byte(out, ',', e) < 0) || yml_to_json(nd->items[i], out, e) < 0)
				return -1;
		return buf_append_byte(out, ']', e);
	case Y_MAP:
		if (buf_append_byte(out, '{', e) < 0)
			return -1;
		for (i = 0; i < nd->n; i++)
			if ((i && buf_append_byte(out, ',', e) < 0) ||
			    json_escape(out, nd->items[2 * i]->str, nd->items[2 * i]->len, e) < 0 ||
			    buf_append_byte(out, ':', e) < 0 || yml_to_json(nd->items[2 * i + 1], out, e) < 0)
				return -1;
		return buf_append_byte(out, '}', e);
	}
	return 0;
}
