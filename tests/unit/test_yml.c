/* test_yml.c - unit tests of lib/yml: frontmatter split, tree, positions, and every refusal. */
#include "t.h"
#include "yml.h"

static int parse(const char *y, struct ydoc *d, struct bb_err *e)
{
	return yml_parse("f.md", y, strlen(y), 2, d, e);
}

static void split(void)
{
	static const char md[] = "---\nname: web\n---\n# Prompt\nbody\n";
	struct sv y, b;
	unsigned line;
	struct bb_err e = { 0 };

	T_CHECK(yml_split_frontmatter(md, sizeof md - 1, &y, &b, &line, &e) == 0);
	T_CHECK(sv_eq_str(y, "name: web\n") && sv_eq_str(b, "# Prompt\nbody\n") && line == 2);
	T_CHECK(yml_split_frontmatter("---\r\na: 1\r\n...\r\nx", 17, &y, &b, &line, &e) == 0);
	T_CHECK(sv_eq_str(y, "a: 1\r\n") && sv_eq_str(b, "x"));
	T_CHECK(yml_split_frontmatter("---\n---\n", 8, &y, &b, &line, &e) == 0 && y.len == 0);
	T_CHECK(yml_split_frontmatter("# no fm\n", 8, &y, &b, &line, &e) == -1);
	T_CHECK(strstr(e.msg, "must start with a line '---'") != NULL);
	T_CHECK(yml_split_frontmatter("---\na: 1\n", 9, &y, &b, &line, &e) == -1);
	T_CHECK(strstr(e.msg, "not closed") != NULL);
	T_CHECK(yml_split_frontmatter("----\n---\n", 9, &y, &b, &line, &e) == -1);
	T_CHECK(yml_split_frontmatter("\xef\xbb\xbf---\n---\n", 11, &y, &b, &line, &e) == -1);
}

static void tree(void)
{
	struct ydoc d;
	const struct ynode *env, *routes;
	struct buf j = BUF_INIT(4096);

	T_CHECK(parse("env:\n  A: \"1\"\n  B: x\nroutes:\n  - host: a.com\n  - host: b.com\nsupervise: true\n", &d, NULL) == 0);
	T_CHECK(d.root && d.root->type == Y_MAP && d.root->n == 3);
	env = yml_get(d.root, "env");
	T_CHECK(env && env->type == Y_MAP && env->n == 2);
	T_STREQ(yml_get(env, "A")->str, "1");
	T_CHECK(!yml_get(env, "A")->plain && yml_get(env, "B")->plain);
	routes = yml_get(d.root, "routes");
	T_CHECK(routes && routes->type == Y_SEQ && routes->n == 2);
	T_CHECK(routes->items[1]->line == 7); /* 1-based file line: YAML starts on line 2 */
	T_CHECK(yml_get(d.root, "nope") == NULL);
	T_CHECK(yml_to_json(d.root, &j, NULL) == 0);
	T_STREQ(j.p, "{\"env\":{\"A\":\"1\",\"B\":\"x\"},\"routes\":[{\"host\":\"a.com\"},{\"host\":\"b.com\"}],\"supervise\":true}");
	yml_free(&d);
	buf_free(&j);
	T_CHECK(parse("", &d, NULL) == 0 && d.root == NULL);
	yml_free(&d);
}

static void refusals(void)
{
	struct ydoc d;
	struct bb_err e = { 0 };

	T_CHECK(parse("a: 1\nb: 2\na: 3\n", &d, &e) == -1);
	T_STREQ(e.msg, "f.md line 4 column 1: duplicate key a");
	T_CHECK(parse("a: !!python/object x\n", &d, &e) == -1);
	T_CHECK(strstr(e.msg, "tags are not allowed") != NULL);
	T_CHECK(parse("a: b\n---\nc: d\n", &d, &e) == -1);
	T_CHECK(strstr(e.msg, "more than one document") != NULL);
	T_CHECK(parse("? [a]\n: b\n", &d, &e) == -1);
	T_CHECK(strstr(e.msg, "mapping key") != NULL);
	T_CHECK(parse("a: *nope\n", &d, &e) == -1);
	T_CHECK(strstr(e.msg, "unknown") != NULL);
	T_CHECK(parse("a: [1, 2\n", &d, &e) == -1);
	T_CHECK(strstr(e.msg, "f.md line") == e.msg);
	T_CHECK(yml_parse("f.md", "a: \"x\0\"", 7, 2, &d, &e) == -1);
	T_CHECK(strstr(e.msg, "NUL") != NULL);
	T_CHECK(parse("a: \"\xff\"\n", &d, &e) == -1);
	T_CHECK(parse("a: &x [ *x ]\n", &d, &e) == -1); /* recursive alias */
}

static void depth_limit(void)
{
	char y[300];
	struct ydoc d;
	struct bb_err e = { 0 };
	int i;

	for (i = 0; i < 65; i++)
		y[i] = '[';
	for (i = 0; i < 65; i++)
		y[65 + i] = ']';
	y[130] = 0;
	T_CHECK(parse(y, &d, &e) == -1);
	T_CHECK(strstr(e.msg, "nesting too deep") != NULL);
	for (i = 0; i < 64; i++)
		y[i] = '[';
	for (i = 0; i < 64; i++)
		y[64 + i] = ']';
	y[128] = 0;
	T_CHECK(parse(y, &d, &e) == 0);
	yml_free(&d);
}

static void billion_laughs(void)
{
	static const char bomb[] =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
		"f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
		"g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\n";
	struct ydoc d;
	struct bb_err e = { 0 };

	T_CHECK(parse(bomb, &d, &e) == -1);
	T_CHECK(strstr(e.msg, "aliases are expanded") != NULL);
	/* Modest aliasing is fine. */
	T_CHECK(parse("base: &b {x: 1}\nother: *b\n", &d, &e) == 0);
	T_STREQ(yml_get(yml_get(d.root, "other"), "x")->str, "1");
	yml_free(&d);
}

int main(void)
{
	T_RUN(split);
	T_RUN(tree);
	T_RUN(refusals);
	T_RUN(depth_limit);
	T_RUN(billion_laughs);
	T_END();
}
