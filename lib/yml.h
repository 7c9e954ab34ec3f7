/* yml.h - YAML frontmatter: split a Markdown file, parse its YAML with libyaml into a bounded tree. */
#ifndef BB_YML_H
#define BB_YML_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define YML_MAX_DEPTH 64
/* Nodes counted as if every alias were expanded: stops billion-laughs documents. */
#define YML_MAX_NODES 100000

enum ynode_type { Y_SCALAR, Y_SEQ, Y_MAP };

struct ynode {
	enum ynode_type type;
	unsigned line, col; /* 1-based position in the whole file */
	/* Y_SCALAR: the value (NUL-terminated; len excludes the NUL) */
	char *str;
	size_t len;
	int plain; /* unquoted scalar: only these can mean true/false/null/numbers */
	/* Y_SEQ: items[0..n); Y_MAP: items[2i] is key i (a scalar), items[2i+1] its value */
	struct ynode **items;
	size_t n;
	/* private */
	size_t weight_;
	struct ynode *all_next_;
};

struct ydoc {
	struct ynode *root; /* NULL for an empty document */
	struct ynode *all_; /* every node, for freeing (aliases share nodes) */
};

/*
 * Split Markdown text into its YAML frontmatter and body. The text must
 * start with a line "---"; the frontmatter ends at the next line that is
 * "---" or "...". *yaml_line is the file line on which the YAML starts.
 */
int yml_split_frontmatter(const char *text, size_t n, struct sv *yaml, struct sv *body,
			  unsigned *yaml_line, struct bb_err *e);

/*
 * Parse one YAML document into *doc. `what` names the source in errors
 * ("FILE line L column C: ..."); first_line is added to libyaml's line
 * numbers. Refused, with the position: NUL bytes, invalid UTF-8, more than
 * one document, explicit tags, non-scalar mapping keys, duplicate keys,
 * nesting deeper than YML_MAX_DEPTH, unknown anchors, and documents that
 * would expand past YML_MAX_NODES nodes.
 */
int yml_parse(const char *what, const char *s, size_t n, unsigned first_line, struct ydoc *doc,
	      struct bb_err *e);
void yml_free(struct ydoc *doc);

/* The value of key in a mapping, or NULL. */
const struct ynode *yml_get(const struct ynode *map, const char *key);

/* Append the tree as JSON (scalars as strings; plain true/false/null/integers as JSON values). */
int yml_to_json(const struct ynode *node, struct buf *out, struct bb_err *e);

#endif
