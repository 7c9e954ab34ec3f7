/* fuzz_manifest.c - fuzzer for the manifest schema: frontmatter, YAML tree, every bottle and agent check. */
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "manifest_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m;
	struct mf_ctx c;
	struct mf_leaf leaf;
	struct mf_agent agent;
	struct ydoc doc;
	struct sv yaml, body;
	unsigned line;

	memset(&m, 0, sizeof m);
	m.arena.max = 64u << 20;
	c.m = &m;
	c.file = "fuzz.md";
	if (yml_split_frontmatter((const char *)data, size, &yaml, &body, &line, NULL) < 0)
		return 0;
	if (yml_parse("fuzz.md", yaml.p, yaml.len, line, &doc, NULL) < 0)
		return 0;
	memset(&leaf, 0, sizeof leaf);
	leaf.raw = doc.root;
	mf_parse_bottle(&c, "fuzz", &leaf);
	memset(&agent, 0, sizeof agent);
	mf_parse_agent(&c, "fuzz", doc.root, body.p, body.len, &agent);
	yml_free(&doc);
	manifest_free(&m);
	return 0;
}
