/* fuzz_yml.c - fuzzer for the frontmatter split and the bounded YAML tree (lib/yml). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "yml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sv yaml, body;
	struct ydoc doc;
	struct buf json = BUF_INIT(1 << 22);
	unsigned line;
	const char *text = (const char *)data;

	if (yml_split_frontmatter(text, size, &yaml, &body, &line, NULL) < 0) {
		/* Not a Markdown manifest: parse the bytes as plain YAML instead. */
		yaml = sv_of(text, size);
		line = 1;
	}
	if (yml_parse("fuzz", yaml.p, yaml.len, line, &doc, NULL) == 0) {
		yml_to_json(doc.root, &json, NULL);
		yml_free(&doc);
	}
	buf_free(&json);
	return 0;
}
